#!/bin/sh
# Real clients from Debian against evecho-server: nc, socat, and the Python
# socket client of every tutorial.  Each exchange is bounded by timeout(1).
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

start_server || exit 1
T=$TMPDIR_T
head -c 1048576 /dev/urandom >"$T/in.bin"

# nc: send a line, read the echo; -N shuts down the sending side at EOF.
if command -v nc >/dev/null 2>&1; then
	check "nc line" sh -c "printf 'hello\n' | timeout 10 nc -N 127.0.0.1 $SERVER_PORT | grep -qx hello"
	check "nc 1 MiB binary" sh -c "timeout 20 nc -N 127.0.0.1 $SERVER_PORT <'$T/in.bin' >'$T/nc.out' && cmp -s '$T/in.bin' '$T/nc.out'"
else
	echo "skip: no nc"
fi

# socat: half-closes at EOF and waits for the rest of the echo.
if command -v socat >/dev/null 2>&1; then
	check "socat line" sh -c "printf 'over socat\n' | timeout 10 socat - TCP:127.0.0.1:$SERVER_PORT | grep -qx 'over socat'"
	check "socat 1 MiB binary" sh -c "timeout 20 socat -t 5 - TCP:127.0.0.1:$SERVER_PORT <'$T/in.bin' >'$T/socat.out' && cmp -s '$T/in.bin' '$T/socat.out'"
else
	echo "skip: no socat"
fi

# The tutorial client, with whatever python3 configure found.
PY=${PYTHON3:-python3}
if command -v "$PY" >/dev/null 2>&1; then
	check "python tutorial client" timeout 20 "$PY" \
	    "${EVECHO_SRCDIR:-..}/tests/tutorial_client.py" "$SERVER_PORT"
else
	echo "skip: no python3"
fi

[ $((PASSED + FAILED)) -gt 0 ] || exit 77
finish
