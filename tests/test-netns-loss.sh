#!/bin/sh
# test-netns-loss.sh: 100 MiB over 10 connections through a lossy link.
# The server and the client live in two network namespaces joined by a
# veth pair (192.0.2.0/24); nftables in the client's namespace drops 5% of
# the packets it receives at random (this kernel has no netem).  The echo
# must come back exactly (evecho-benchmark checks every byte), the rule
# must really have dropped packets, and the server must still echo and be
# back to its descriptors afterwards.  Needs root, ip and nft: otherwise,
# or without kernel support, it says why and skips (exit 77).

: "${EVECHO_BUILDDIR:=..}"
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/ready.sh"
SERVER="$EVECHO_BUILDDIR/src/evecho-server"
BENCH="$EVECHO_BUILDDIR/src/evecho-benchmark"
TAG="ev$$"
NS_S="evecho-loss-srv-$$"
NS_C="evecho-loss-cli-$$"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/evecho-netns.XXXXXX") || exit 99
SERVER_PID=

skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -s "$TMP/server.err" ] && tail -5 "$TMP/server.err"; exit 1; }

cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	ip netns del "$NS_S" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

[ "$(id -u)" -eq 0 ] || skip "not root: network namespaces need it"
command -v ip >/dev/null 2>&1 || skip "no ip (iproute2)"
command -v nft >/dev/null 2>&1 || skip "no nft (nftables)"
[ -x "$BENCH" ] || skip "evecho-benchmark is not built"
command -v timeout >/dev/null 2>&1 || skip "no timeout (coreutils)"

ip netns add "$NS_S" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip netns add "$NS_C" 2>"$TMP/err" || skip "cannot create a second network namespace: $(cat "$TMP/err")"
ip link add "${TAG}s" type veth peer name "${TAG}c" 2>"$TMP/err" ||
	skip "cannot create a veth pair: $(cat "$TMP/err")"
ip link set "${TAG}s" netns "$NS_S" && ip link set "${TAG}c" netns "$NS_C" ||
	fail "cannot move the veth ends into the namespaces"
ip -n "$NS_S" addr add 192.0.2.1/24 dev "${TAG}s" &&
ip -n "$NS_C" addr add 192.0.2.2/24 dev "${TAG}c" &&
# One packet per segment (no GSO super-packets), so 5% means 5% of segments.
ip -n "$NS_S" link set "${TAG}s" gso_max_segs 1 &&
ip -n "$NS_C" link set "${TAG}c" gso_max_segs 1 &&
ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
ip -n "$NS_S" link set "${TAG}s" up && ip -n "$NS_C" link set "${TAG}c" up ||
	fail "cannot configure the veth pair"
ip netns exec "$NS_C" nft -f - 2>"$TMP/err" <<'NFT' || skip "nftables cannot load the drop rule (kernel support?): $(cat "$TMP/err")"
table inet evecho_loss {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname != "lo" numgen random mod 100 < 5 counter drop
	}
}
NFT

# The server, alone in its namespace; ip netns exec execs it, so $! is it.
ip netns exec "$NS_S" "$SERVER" -l 192.0.2.1:0 >"$TMP/ready" 2>"$TMP/server.err" &
SERVER_PID=$!
PORT=$(wait_ready "$TMP/ready" "$SERVER_PID") ||
    fail "the server did not become ready"
TARGET="192.0.2.1:$PORT"
fds_before=$(ls "/proc/$SERVER_PID/fd" | wc -l)

# 100 MiB in 64 KiB messages over 10 connections, every byte checked.
t0=$(date +%s.%N)
timeout -k 5 240 ip netns exec "$NS_C" "$BENCH" --mode stream -c 10 -s 64k \
    -n 1600 --timeout 60s -q --json "$TARGET" >"$TMP/bench.json" 2>"$TMP/bench.err"
rc=$?
t1=$(date +%s.%N)
cat "$TMP/bench.json"
[ $rc -eq 0 ] || { cat "$TMP/bench.err"; fail "benchmark exit $rc under 5% loss"; }
grep -q '"bytes": *104857600' "$TMP/bench.json" ||
	fail "not 100 MiB echoed: $(cat "$TMP/bench.json")"
grep -q '"mismatches": *0,' "$TMP/bench.json" || fail "mismatched bytes"

dropped=$(ip netns exec "$NS_C" nft list table inet evecho_loss |
    sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
echo "dropped $dropped packets; 100 MiB in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
[ -n "$dropped" ] && [ "$dropped" -gt 0 ] ||
	fail "the drop rule dropped nothing: the test would prove nothing"

# Still echoing, and the descriptors come back.
timeout -k 5 60 ip netns exec "$NS_C" "$BENCH" -c 1 -n 100 -s 4k -q \
    "$TARGET" >/dev/null 2>"$TMP/bench.err" ||
	{ cat "$TMP/bench.err"; fail "the server no longer echoes"; }
fds_after=
for _ in $(seq 1 200); do
	fds_after=$(ls "/proc/$SERVER_PID/fd" | wc -l)
	[ "$fds_after" -le "$fds_before" ] && break
	sleep 0.05
done
echo "server fds: $fds_before before, $fds_after after; RSS $(sed -n 's/VmRSS:[[:space:]]*//p' "/proc/$SERVER_PID/status")"
[ "$fds_after" -eq "$fds_before" ] || fail "descriptors $fds_before -> $fds_after"

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
[ $rc -eq 0 ] || fail "server exit $rc after SIGTERM"
echo "ok: 100 MiB byte-exact through 5% loss"
