#!/bin/sh
# evecho-server under valgrind's memcheck: echo, half-close, a client cut
# off by SIGTERM, then a clean exit with no errors and no leaks.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

VG=${VALGRIND:-valgrind}
skip_unless "$VG"
skip_unless socat
# ASan and valgrind cannot share a process.
[ "${EVECHO_SANITIZERS:-no}" = yes ] && { echo "skip: sanitizer build"; exit 77; }

T=$TMPDIR_T
"$VG" -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    "$EVECHO_BUILDDIR/src/evecho-server" -q -l 127.0.0.1:0 --idle-timeout 30 \
    >"$T/ready" 2>"$T/vg.err" &
SERVER_PID=$!
SERVER_PORT=$(wait_ready "$T/ready" "$SERVER_PID" 20)
check "ready under valgrind" test -n "$SERVER_PORT"

head -c 300000 /dev/urandom >"$T/in.bin"
check "echo under valgrind" sh -c "timeout 30 socat -t 10 - TCP:127.0.0.1:$SERVER_PORT <'$T/in.bin' >'$T/out.bin' && cmp -s '$T/in.bin' '$T/out.bin'"
# A client still connected when the server is told to stop.
(sleep 3 | socat - "TCP:127.0.0.1:$SERVER_PORT" >/dev/null 2>&1) &
idle=$!
sleep 0.5
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
kill "$idle" 2>/dev/null
check "clean exit, no memcheck errors (status $rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || cat "$T/vg.err"
finish
