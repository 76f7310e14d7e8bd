#!/bin/sh
# test-service.sh: evecho-server run the way other daemons are run.
# --pidfile (written, refused while its process lives, removed at exit),
# --log-file with SIGHUP after a logrotate-style move, --syslog into a
# /dev/log of the test's own (a private mount namespace, as root), and
# --user dropping root once the port is bound.  Parts that need root say
# "skip:" when not run as root.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
skip_unless socat

T=$TMPDIR_T
SERVER="$EVECHO_BUILDDIR/src/evecho-server"

# echo_ok PORT: one line echoed byte-exact.
echo_ok() {
	[ "$(printf 'ping\n' | timeout 5 socat -t 2 - "TCP:127.0.0.1:$1")" = ping ]
}

# wait_for FILE TEXT: up to 5 s for TEXT to appear in FILE.
wait_for() {
	for _ in $(seq 1 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# stop_server: SIGTERM and wait; its status in STOP_RC.
stop_server() {
	kill -TERM "$SERVER_PID"
	STOP_RC=0
	wait "$SERVER_PID" || STOP_RC=$?
	SERVER_PID=
}

# --pidfile and --log-file together.
"$SERVER" -l 127.0.0.1:0 --pidfile "$T/pid" --log-file "$T/log" \
    >"$T/ready" 2>"$T/err" &
SERVER_PID=$!
PORT=$(wait_ready "$T/ready" "$SERVER_PID")
check "ready with --pidfile and --log-file" test -n "$PORT"
check "the PID file holds the server's PID" \
    test "$(cat "$T/pid" 2>/dev/null)" = "$SERVER_PID"
check "the log goes to the file" grep -q "listening sockets" "$T/log"
check "and not to standard error" test ! -s "$T/err"
check "echo" echo_ok "$PORT"
"$SERVER" -l 127.0.0.1:0 --pidfile "$T/pid" >/dev/null 2>"$T/err2"
rc=$?
check "a second server with the same PID file exits 1 ($rc)" test "$rc" -eq 1
check "saying who runs" grep -q "process $SERVER_PID is running" "$T/err2"

# logrotate: move the file, SIGHUP, and the next lines go to a new one.
mv "$T/log" "$T/log.1"
kill -HUP "$SERVER_PID"
check "SIGHUP reopens the log file" wait_for "$T/log" "SIGHUP: reopened"
kill -USR1 "$SERVER_PID"
check "new lines go to the new file" wait_for "$T/log" "stats: "
check "none to the old one" sh -c "! grep -q 'stats: ' '$T/log.1'"
stop_server
check "exit 0 after SIGTERM ($STOP_RC)" test "$STOP_RC" -eq 0
check "the PID file is removed at exit" test ! -e "$T/pid"
check "the exit line is in the log" grep -q "exit: connections" "$T/log"

# A stale PID file (its process gone) is replaced.
echo 999999999 >"$T/pid"
: >"$T/ready"	# truncated here: the child does it too late
"$SERVER" -l 127.0.0.1:0 -q --pidfile "$T/pid" >"$T/ready" 2>"$T/err" &
SERVER_PID=$!
PORT=$(wait_ready "$T/ready" "$SERVER_PID")
check "a stale PID file is replaced" \
    test "$(cat "$T/pid" 2>/dev/null)" = "$SERVER_PID"
stop_server

"$SERVER" -l 127.0.0.1:0 --user no-such-user-here 2>"$T/err" </dev/null
rc=$?
check "an unknown --user exits 64 ($rc)" test "$rc" -eq 64
"$SERVER" -l 127.0.0.1:0 --syslog --log-file "$T/x" 2>"$T/err" </dev/null
rc=$?
check "--syslog with --log-file exits 64 ($rc)" test "$rc" -eq 64

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: --user, the root warning and --syslog need root"
	finish
	exit $?
fi

# As root without --user: it runs, and says so once.
: >"$T/ready"	# truncated here: the child does it too late
"$SERVER" -l 127.0.0.1:0 >"$T/ready" 2>"$T/err" &
SERVER_PID=$!
PORT=$(wait_ready "$T/ready" "$SERVER_PID")
check "root without --user is warned once" \
    test "$(grep -c 'running as root' "$T/err")" -eq 1
stop_server

# --user nobody: bound as root, then every ID is nobody's, and it echoes.
: >"$T/ready"	# truncated here: the child does it too late
"$SERVER" -l 127.0.0.1:0 --user nobody >"$T/ready" 2>"$T/err" &
SERVER_PID=$!
PORT=$(wait_ready "$T/ready" "$SERVER_PID")
uid=$(id -u nobody)
gid=$(id -g nobody)
check "--user nobody: every uid is $uid" sh -c \
    "grep -Eq '^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid\$' /proc/$SERVER_PID/status"
check "--user nobody: every gid is $gid" sh -c \
    "grep -Eq '^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid\$' /proc/$SERVER_PID/status"
check "--user nobody: no supplementary groups but its own" sh -c \
    "grep -Eq '^Groups:[[:space:]]*($gid)?[[:space:]]*\$' /proc/$SERVER_PID/status"
check "--user nobody: it echoes" echo_ok "$PORT"
check "--user nobody: no root warning" sh -c "! grep -q 'running as root' '$T/err'"
stop_server
check "--user nobody: exit 0 ($STOP_RC)" test "$STOP_RC" -eq 0

# --syslog, into a /dev/log of our own in a private mount namespace.
if ! unshare -m true 2>/dev/null; then
	echo "skip: --syslog: no mount namespace here"
	finish
	exit $?
fi
# The tmpfs hides the real /dev, so /dev/null is bound back in for sh.
mkdir "$T/olddev"
: >"$T/ready"	# truncated here: the child does it too late
unshare -m sh -c '
	mount --make-rprivate / 2>/dev/null
	mount --bind /dev "$4" && mount -t tmpfs evecho-test /dev &&
	    touch /dev/null && mount --bind "$4/null" /dev/null || exit 99
	socat -u UNIX-RECV:/dev/log OPEN:"$1",creat,append &
	echo $! >"$2"
	for _ in $(seq 1 100); do [ -S /dev/log ] && break; sleep 0.05; done
	exec "$3" -l 127.0.0.1:0 --syslog
' sh "$T/syslog" "$T/socat.pid" "$SERVER" "$T/olddev" >"$T/ready" 2>"$T/err" &
SERVER_PID=$!
PORT=$(wait_ready "$T/ready" "$SERVER_PID" 30)
check "--syslog: ready" test -n "$PORT"
check "--syslog: the start line reaches syslog" \
    wait_for "$T/syslog" "evecho-server\[$SERVER_PID\]: .*listening sockets"
check "--syslog: nothing on standard error" sh -c "! grep -q 'listening sockets' '$T/err'"
stop_server
check "--syslog: the exit line too" wait_for "$T/syslog" "exit: connections"
kill "$(cat "$T/socat.pid")" 2>/dev/null
check "--syslog: exit 0 ($STOP_RC)" test "$STOP_RC" -eq 0
finish
