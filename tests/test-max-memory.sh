#!/bin/sh
# --max-memory against 2,000 clients that never read, in a network
# namespace of its own whose kernel send buffers are capped at 64 KiB, so
# that what the clients push lands in the server's buffers rather than in
# the kernel's (4 MiB a socket on loopback by default).  Runs check_drain's
# "memory" case there; needs root and ip(8), else skips.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

skip_unless ip
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root for a network namespace"; exit 77; }
ns=evecho-mem-$$
ip netns add "$ns" 2>"$TMPDIR_T/ns.err" ||
    { echo "skip: cannot make a network namespace: $(cat "$TMPDIR_T/ns.err")"; exit 77; }
trap 'ip netns del "$ns" 2>/dev/null; cleanup' EXIT
check "loopback up in $ns" ip -n "$ns" link set lo up
check "send buffers capped in $ns" ip netns exec "$ns" \
    sysctl -q -w net.ipv4.tcp_wmem="4096 16384 65536"
check "2,000 stalled clients held to --max-memory" ip netns exec "$ns" \
    env EVECHO_MEMORY_NETNS=1 CK_RUN_CASE=memory \
    "$EVECHO_BUILDDIR/tests/check_drain"
finish
