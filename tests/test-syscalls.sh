#!/bin/sh
# A guard that cannot drift with the machine's speed: system calls per
# echoed message over a fixed exchange (10 connections, 10,000 ping-pong
# messages, at 64 B, 4 KiB and 16 KiB), counted with strace -c -f from the
# server's start to its exit, so accepts, closes and start-up are in too.
# The bounds sit just above what the echo path reaches; see README's
# "Performance" for what each call is.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

skip_unless strace
# A sanitized server makes thousands of calls of its own at start.
[ "${EVECHO_SANITIZERS:-no}" = yes ] && { echo "skip: sanitizer build"; exit 77; }
T=$TMPDIR_T
# Calls per message allowed, by message size.  Reached: 3.13 at 64 B
# (libevent's ioctl(FIONREAD) and readv, one write, 0.1 epoll_wait with
# ten connections), 3.24 at 4 KiB (a read-on that finds nothing one
# message in nine), 4.12 at 16 KiB (libevent's 4 KiB, then the rest).
BOUND_64=${EVECHO_SYSCALL_BOUND_64:-3.25}
BOUND_4K=${EVECHO_SYSCALL_BOUND_4K:-3.40}
BOUND_16K=${EVECHO_SYSCALL_BOUND_16K:-4.30}
MSGS=10000

# count SIZE BOUND: one exchange under strace; checks calls/msg <= BOUND.
count() {
	size=$1 bound=$2
	start_server_under "$size" strace -f -c -o "$T/strace.$size"
	port=$SERVER_PORT
	check "$size B: server ready under strace" test -n "$port"
	check "$size B: $MSGS messages echoed" timeout 120 \
	    "$EVECHO_BUILDDIR/src/evecho-benchmark" -q -c 10 -n $MSGS \
	    -s "$size" "127.0.0.1:$port" >"$T/bench.$size"
	# SERVER_PID is strace's; the server is its child.
	kill -TERM "$(pgrep -P "$SERVER_PID")"
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=
	check "$size B: server exits 0 (strace's status $rc)" test "$rc" -eq 0
	calls=$(awk '$NF == "total" { print $4 }' "$T/strace.$size")
	per=$(awk -v c="${calls:-0}" -v m=$MSGS 'BEGIN { printf "%.3f", c / m }')
	echo "$size B: $calls system calls, $per per message (bound $bound)"
	awk 'NR > 2 && $4 + 0 > 100 && $NF != "total" { printf "  %s %d", $NF, $4 }
	    END { print "" }' "$T/strace.$size"
	check "$size B: $per calls per message <= $bound" \
	    awk -v p="$per" -v b="$bound" 'BEGIN { exit !(p > 0 && p <= b) }'
}

count 64 "$BOUND_64"
count 4096 "$BOUND_4K"
count 16384 "$BOUND_16K"
finish
