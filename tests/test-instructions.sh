#!/bin/sh
# A guard that cannot drift with the machine's speed: user-space
# instructions per echoed message, counted by valgrind's callgrind from the
# readiness line on (the event loop: accepts and closes included) over a
# fixed exchange of 100 connections x 200 ping-pongs of 64 B.  The bound is
# 25% above what the echo path reaches; README's "Performance" says where
# the instructions go.  The same count for the server built without fault
# injection (tests/evecho-server-nofault) must be within 1% of it.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

VG=${VALGRIND:-valgrind}
skip_unless "$VG"
# ASan and valgrind cannot share a process.
[ "${EVECHO_SANITIZERS:-no}" = yes ] && { echo "skip: sanitizer build"; exit 77; }
T=$TMPDIR_T
BOUND=${EVECHO_INSTR_BOUND:-1190}
MSGS=20000

# measure NAME: instructions per message of $SERVER_BIN, into $per.
measure() {
	start_server_under "callgrind-$1" "$VG" --tool=callgrind \
	    --collect-atstart=no --toggle-collect=event_base_loop \
	    --callgrind-out-file="$T/callgrind.$1.out"
	port=$SERVER_PORT
	check "$1: server ready under callgrind" test -n "$port"
	check "$1: $MSGS messages echoed" timeout 300 \
	    "$EVECHO_BUILDDIR/src/evecho-benchmark" -q -c 100 -n $MSGS -s 64 \
	    "127.0.0.1:$port" >"$T/bench.$1.out"
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=
	check "$1: server exits 0 (status $rc)" test "$rc" -eq 0
	total=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' \
	    "$T/callgrind.$1.out" | head -n 1)
	per=$(awk -v t="${total:-0}" -v m=$MSGS 'BEGIN { printf "%.1f", t / m }')
	echo "$1: $total instructions from the readiness line on, $per per" \
	    "message"
}

SERVER_BIN= measure evecho-server
with=$per
echo "bound $BOUND"
check "$with instructions per message <= $BOUND" \
    awk -v p="$with" -v b="$BOUND" 'BEGIN { exit !(p > 0 && p <= b) }'
# The same server built without fault.c (issue: fault injection): --fault
# must cost a server with no fault configured nothing per message.
SERVER_BIN=$EVECHO_BUILDDIR/tests/evecho-server-nofault measure nofault
without=$per
check "with --fault compiled in, $with instructions per message; without, $without: within 1%" \
    awk -v a="$with" -v b="$without" \
    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b / 100) }'
finish
