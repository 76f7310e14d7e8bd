#!/bin/sh
# A guard that cannot drift with the machine's speed: user-space
# instructions per echoed message, counted by valgrind's callgrind from the
# readiness line on (the event loop: accepts and closes included) over a
# fixed exchange of 100 connections x 200 ping-pongs of 64 B.  The bound is
# 25% above what the echo path reaches; README's "Performance" says where
# the instructions go.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

VG=${VALGRIND:-valgrind}
skip_unless "$VG"
# ASan and valgrind cannot share a process.
[ "${EVECHO_SANITIZERS:-no}" = yes ] && { echo "skip: sanitizer build"; exit 77; }
T=$TMPDIR_T
BOUND=${EVECHO_INSTR_BOUND:-1190}
MSGS=20000

start_server_under callgrind "$VG" --tool=callgrind --collect-atstart=no \
    --toggle-collect=event_base_loop --callgrind-out-file="$T/callgrind.out"
port=$SERVER_PORT
check "server ready under callgrind" test -n "$port"
check "$MSGS messages echoed" timeout 300 \
    "$EVECHO_BUILDDIR/src/evecho-benchmark" -q -c 100 -n $MSGS -s 64 \
    "127.0.0.1:$port" >"$T/bench.out"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
SERVER_PID=
check "server exits 0 (status $rc)" test "$rc" -eq 0
total=$(sed -n 's/^\(summary\|totals\): *\([0-9]*\).*/\2/p' "$T/callgrind.out" | head -n 1)
per=$(awk -v t="${total:-0}" -v m=$MSGS 'BEGIN { printf "%.1f", t / m }')
echo "$total instructions from the readiness line on, $per per message (bound $BOUND)"
check "$per instructions per message <= $BOUND" \
    awk -v p="$per" -v b="$BOUND" 'BEGIN { exit !(p > 0 && p <= b) }'
finish
