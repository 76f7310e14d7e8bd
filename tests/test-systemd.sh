#!/bin/sh
# test-systemd.sh: evecho-server under systemd, without systemd.
#
# The units (contrib/systemd): systemd-analyze verify finds nothing to say
# about them -- and does find a misspelled directive and a missing binary,
# so a silent verify means something -- and the service's exposure score
# stays low.  Socket activation and readiness: tests/sd-activate.py plays
# systemd, passing sockets it bound on 127.0.0.1 and ::1 (kernel-chosen
# ports) with LISTEN_FDS/LISTEN_PID and reading NOTIFY_SOCKET, and the
# checks here read what it logged.  Parts whose tool or build option is
# missing say "skip:", and the test then exits 77 unless something failed.
: "${EVECHO_SRCDIR:=$(dirname "$0")/..}"
. "$EVECHO_SRCDIR/tests/lib.sh"

T=$TMPDIR_T
BUILDDIR=$(cd "$EVECHO_BUILDDIR" && pwd)
SERVER="$BUILDDIR/src/evecho-server"
HELPER="$EVECHO_SRCDIR/tests/sd-activate.py"
UNITS="$EVECHO_SRCDIR/contrib/systemd"
SKIPPED=
HELPER_PIDS=

# Every helper still running is stopped by its PID, and stops its server;
# a server whose helper is gone is killed by the PID in its PID file
# (which the helper removes once the server has exited).
stop_helpers() {
	for p in $HELPER_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $HELPER_PIDS; do
		wait "$p" 2>/dev/null
	done
	for f in "$T"/*.pid; do
		[ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	cleanup
}
trap stop_helpers EXIT
trap 'exit 1' HUP INT TERM

# quietly COMMAND...: COMMAND, its output not wanted.
quietly() {
	"$@" >/dev/null 2>&1
}

# fails COMMAND...: COMMAND fails (its output is not wanted).
fails() {
	! "$@" >/dev/null 2>&1
}

# skipped WHY: a part could not run here.
skipped() {
	echo "skip: $*"
	SKIPPED=yes
}

# ---- The units -------------------------------------------------------------

# make_units DIR: the units as installed, but running the built binary.
make_units() {
	mkdir -p "$1"
	sed "s|@bindir@|$BUILDDIR/src|g" "$UNITS/evecho.service.in" \
	    >"$1/evecho.service"
	cp "$UNITS/evecho.socket" "$1/evecho.socket"
}

# verify DIR: systemd-analyze verify passes both units and says nothing
# about them (an unknown directive is only a warning, with status 0).
VERIFY_OPTS=--man=no
verify() {
	systemd-analyze verify $VERIFY_OPTS "$1/evecho.socket" \
	    "$1/evecho.service" >"$1/verify.out" 2>&1 || {
		sed 's/^/    /' "$1/verify.out"
		return 1
	}
	if grep -e evecho -e "$1" "$1/verify.out" >/dev/null; then
		sed 's/^/    /' "$1/verify.out"
		return 1
	fi
	return 0
}

# unit_value FILE KEY: the last value given to KEY.
unit_value() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# The service waits for the drain to finish before its SIGKILL.
stop_outlasts_drain() {
	drain=$(unit_value "$1" ExecStart |
	    sed -n 's/.*--drain-timeout[= ]\([0-9][0-9]*\).*/\1/p')
	stop=$(unit_value "$1" TimeoutStopSec | sed 's/s$//')
	[ -n "$stop" ] && [ "$stop" -gt "${drain:-10}" ]
}

# The service runs with no capability at all, and asks systemd for all
# of these.
hardened() {
	for kv in Type=notify NotifyAccess=main DynamicUser=yes \
	    CapabilityBoundingSet= AmbientCapabilities= NoNewPrivileges=yes \
	    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	    PrivateDevices=yes ProtectKernelTunables=yes \
	    ProtectKernelModules=yes ProtectKernelLogs=yes \
	    ProtectControlGroups=yes \
	    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
	    RestrictNamespaces=yes LockPersonality=yes \
	    MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
	    KillSignal=SIGTERM Restart=on-failure Requires=evecho.socket \
	    After=evecho.socket; do
		grep -qx "$kv" "$1" || { echo "    no $kv"; return 1; }
	done
	! grep -E '^(CapabilityBoundingSet|AmbientCapabilities)=.' "$1"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	skipped "systemd-analyze not installed: the units are not verified"
else
	systemd-analyze verify --help 2>&1 | grep -q recursive-errors &&
	    VERIFY_OPTS="$VERIFY_OPTS --recursive-errors=no"
	make_units "$T/units"
	check "systemd-analyze verify: both units, not a word about them" \
	    verify "$T/units"

	# The check itself: it fails on a misspelled directive (a warning,
	# status 0) ...
	make_units "$T/typo"
	sed -i 's/^BindIPv6Only=/BindIPv6Olny=/' "$T/typo/evecho.socket"
	check "verify fails a misspelled directive" fails verify "$T/typo"
	check "saying which" grep -q "Unknown key.*BindIPv6Olny" "$T/typo/verify.out"
	# ... and on an ExecStart naming no binary.
	make_units "$T/nobin"
	sed -i "s|^ExecStart=$BUILDDIR/src/|ExecStart=$T/nowhere/|" \
	    "$T/nobin/evecho.service"
	check "verify fails an ExecStart naming no binary" fails verify "$T/nobin"

	if systemd-analyze security --help 2>&1 | grep -q -- --offline; then
		score=$(systemd-analyze security --offline=true \
		    "$T/units/evecho.service" 2>&1 |
		    sed -n 's/.*Overall exposure level for evecho.service: \([0-9.]*\).*/\1/p')
		echo "systemd-analyze security: exposure $score"
		check "systemd-analyze security: exposure $score, at most 2.0" \
		    quietly systemd-analyze security --offline=true \
		    --threshold=20 "$T/units/evecho.service"
	else
		echo "skip: this systemd-analyze has no security --offline"
	fi
fi

S="$UNITS/evecho.service.in"
check "the service runs @bindir@/evecho-server" sh -c \
    "grep -q '^ExecStart=@bindir@/evecho-server' '$S'"
check "TimeoutStopSec outlasts --drain-timeout" stop_outlasts_drain "$S"
check "the service asks for no capability and for the hardening" hardened "$S"
check "no ExecReload (SIGHUP reloads nothing)" sh -c "! grep -q '^ExecReload' '$S'"
check "the socket is port 7, IPv4 and IPv6, in sockets.target" sh -c "
    grep -qx ListenStream=7 '$UNITS/evecho.socket' &&
    grep -qx BindIPv6Only=both '$UNITS/evecho.socket' &&
    grep -qx WantedBy=sockets.target '$UNITS/evecho.socket'"
if [ -f "$BUILDDIR/contrib/systemd/evecho.service" ]; then
	B="$BUILDDIR/contrib/systemd/evecho.service"
	check "the built service names an absolute binary, nothing left to substitute" \
	    sh -c "grep -Eq '^ExecStart=/[^ ]*/evecho-server( |\$)' '$B' &&
	    ! grep -q '@[a-z_]*@' '$B'"
fi

# ---- Activation and readiness --------------------------------------------

if ! "${PYTHON3:=python3}" -c 'import socket' 2>/dev/null; then
	skipped "no python3 ($PYTHON3): socket activation and readiness are" \
	    "not tested"
	finish || exit 1
	exit 77
fi
if "$PYTHON3" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
    2>/dev/null; then
	V6='[::1]:0'
else
	V6=
	echo "skip: no IPv6 here: the [::1] parts"
fi

# helper NAME ARGS...: start sd-activate.py in the background; its log,
# the server's output and PID are $T/NAME.{log,out,err,pid}.  With NETNS
# set, in a network namespace of its own (its loopback only).
NETNS=
helper() {
	name=$1
	shift
	: >"$T/$name.log"
	if [ -n "$NETNS" ]; then
		# unshare and sh exec: $! is the helper's PID all the same.
		unshare -n sh -c 'ip link set lo up || exit 99; exec "$@"' sh \
		    "$PYTHON3" "$HELPER" --log "$T/$name.log" \
		    --stdout "$T/$name.out" --stderr "$T/$name.err" \
		    --pidfile "$T/$name.pid" "$@" &
	else
		"$PYTHON3" "$HELPER" --log "$T/$name.log" \
		    --stdout "$T/$name.out" --stderr "$T/$name.err" \
		    --pidfile "$T/$name.pid" "$@" &
	fi
	HELPER_PIDS="$HELPER_PIDS $!"
	eval "PID_$name=\$!"
}

# await NAME: up to 20 s for helper NAME to finish (it bounds every wait
# itself; this is in case it does not).
await() {
	eval "_p=\$PID_$1"
	for _ in $(seq 1 400); do
		kill -0 "$_p" 2>/dev/null || { wait "$_p"; return 0; }
		sleep 0.05
	done
	echo "helper $1 still running after 20 s: killed"
	kill "$_p"
	wait "$_p"
	return 1
}

# run NAME ARGS...: helper, then await.
run() {
	helper "$@"
	await "$1"
}

# logged NAME LINE: the helper's log holds LINE (an extended regex, whole).
logged() {
	grep -Eqx -- "$2" "$T/$1.log" || {
		echo "    not in $1.log: $2"
		sed 's/^/    | /' "$T/$1.log"
		return 1
	}
}

# not_logged NAME LINE: it does not.
not_logged() {
	! grep -Eqx -- "$2" "$T/$1.log" || {
		echo "    in $1.log: $2"
		return 1
	}
}

# passed NAME FAMILY: the address of the socket of FAMILY (4 or 6) passed.
passed() {
	case $2 in
	4) sed -n 's/^passed \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$T/$1.log" ;;
	6) sed -n 's/^passed \(\[.*\]:[0-9]*\)$/\1/p' "$T/$1.log" ;;
	esac
}

# same FILE TEXT: FILE holds exactly TEXT (lines separated by \n).
same() {
	printf "$2" >"$1.want"
	cmp -s "$1" "$1.want" || {
		echo "    $1 differs:"
		diff "$1.want" "$1" | sed 's/^/    /'
		return 1
	}
}

# not_root_warning NAME: the name of a copy of the server's stderr
# without, as root, its warning about that.
not_root_warning() {
	if [ "$(id -u)" -eq 0 ]; then
		grep -v 'warning: running as root: ' "$T/$1.err" >"$T/$1.err2"
	else
		cp "$T/$1.err" "$T/$1.err2"
	fi
	echo "$T/$1.err2"
}

# clean_exit NAME: the server exited 0 and wrote nothing on stderr.
clean_exit() {
	logged "$1" "exit 0" || return 1
	[ ! -s "$(not_root_warning "$1")" ] || {
		sed 's/^/    stderr: /' "$T/$1.err"
		return 1
	}
}

# one_line FILE TEXT: FILE is one line, ending in TEXT.
one_line() {
	[ "$(wc -l <"$1")" -eq 1 ] && grep -qF -- "$2" "$1" &&
	    [ "$(sed 's/.*\(.\{'"${#2}"'\}\)$/\1/' "$1")" = "$2" ] || {
		sed 's/^/    /' "$1"
		return 1
	}
}

# from_server NAME: every notification came from the server's own PID.
from_server() {
	pid=$(sed -n 's/^server-pid //p' "$T/$1.log")
	grep -q '^notify ' "$T/$1.log" &&
	    ! grep '^notify ' "$T/$1.log" | grep -qv "^notify pid=$pid "
}

V6ARG=
[ -n "$V6" ] && V6ARG="--listen $V6"

if ! grep -q '^#define HAVE_LIBSYSTEMD 1' "$BUILDDIR/config.h"; then
	# Built --without-systemd: the sockets are refused, with a warning.
	run nosd --listen 127.0.0.1:0 --notify --ready-by-lines -- \
	    "$SERVER" -q -l 127.0.0.1:0
	check "without libsystemd: LISTEN_FDS is warned about, once" one_line \
	    "$(not_root_warning nosd)" \
	    "warning: LISTEN_FDS is set, but this evecho-server was built without libsystemd: the sockets passed are not used"
	check "without libsystemd: it serves its -l and only that" sh -c "
	    [ \$(grep -c '^listening on ' '$T/nosd.out') -eq 1 ] &&
	    ! grep -q 'listening on $(passed nosd 4)\$' '$T/nosd.out'"
	check "without libsystemd: no READY=1" not_logged nosd "notify .*"
	check "without libsystemd: exit 0 after SIGTERM" logged nosd "exit 0"
	# LISTEN_PID another's: not meant for it, so not worth a word.
	run nosdother --listen 127.0.0.1:0 --listen-pid other --ready-by-lines \
	    -- "$SERVER" -q -l 127.0.0.1:0
	check "without libsystemd: LISTEN_PID of another process: no warning" \
	    clean_exit nosdother
	skipped "built without libsystemd (configure --without-systemd or" \
	    "no libsystemd-dev): socket activation and readiness not tested"
	finish || exit 1
	exit 77
fi

# Started first, as it takes longest (a timed STATUS= comes every 5 s).
# Readiness and draining, with an -l besides the two passed sockets.
# The helper fills its notification queue first, so that the server's
# first sd_notify() blocks: what it has done by then is what it had done
# when it said READY=1.
helper drain --listen 127.0.0.1:0 $V6ARG --notify --hold-ready \
    --scenario drain -- "$SERVER" -q -l 127.0.0.1:0

# --workers: the supervisor takes the sockets and is the one to notify
# (NotifyAccess=main); its workers serve the passed sockets and drain.
WORKERS=
if "$SERVER" --help 2>&1 | grep -q -- --workers; then
	WORKERS=yes
	helper workers --listen 127.0.0.1:0 $V6ARG --notify --scenario drain \
	    -- "$SERVER" -q --workers 2
fi

# Socket activation: the two passed sockets, and nothing else.
run act --listen 127.0.0.1:0 $V6ARG --notify -- "$SERVER" -q
A4=$(passed act 4)
A6=$(passed act 6)
if [ -n "$V6" ]; then
	check "activation: 'listening on' both passed sockets, no other" \
	    same "$T/act.out" "listening on $A4\nlistening on $A6\n"
	check "activation: both echo byte-exact" sh -c "
	    grep -qx 'probe $A4 ok 65536' '$T/act.log' &&
	    grep -qx 'probe [[]::1[]]:${A6##*:} ok 65536' '$T/act.log'"
	check "activation: its listening sockets are those two" \
	    logged act "listens $A4 \\[::1\\]:${A6##*:}"
else
	check "activation: 'listening on' the passed socket, no other" \
	    same "$T/act.out" "listening on $A4\n"
	check "activation: it echoes byte-exact" logged act "probe $A4 ok 65536"
	check "activation: its listening socket is that one" \
	    logged act "listens $A4"
fi
check "activation: the default address is not opened" \
    not_logged act "listens .*:65432.*"
check "activation: READY=1" sh -c "grep -q '^notify .*READY=1' '$T/act.log'"
check "activation: every notification from the server's PID" from_server act
check "activation: exit 0 after SIGTERM, nothing on stderr" clean_exit act

# With an -l as well, the passed sockets and that one: see drain below.

# LISTEN_PID naming another process (the helper): not ours, so not
# taken; the server serves its -l.
run other --listen 127.0.0.1:0 $V6ARG --listen-pid other --notify \
    --expect-quiet -- "$SERVER" -q -l 127.0.0.1:0
O4=$(passed other 4)
check "LISTEN_PID of another process: only the -l listens" sh -c "
    [ \$(grep -c '^listening on ' '$T/other.out') -eq 1 ] &&
    grep -q '^listening on 127.0.0.1:[0-9]*\$' '$T/other.out' &&
    ! grep -q '^listening on $O4\$' '$T/other.out'"
check "LISTEN_PID of another process: the -l echoes" \
    logged other "probe 127\\.0\\.0\\.1:[0-9]+ ok 65536"
check "LISTEN_PID of another process: the passed sockets go unserved" sh -c "
    [ \$(grep -c '^quiet .* ok\$' '$T/other.log') -eq \$(grep -c '^passed ' '$T/other.log') ]"
check "LISTEN_PID of another process: exit 0 after SIGTERM" clean_exit other

# ... and without -l, the default address: a fixed port, so in a network
# namespace of its own, where it takes it from no one.
if unshare -n sh -c 'ip link set lo up' 2>/dev/null; then
	NETNS=yes
	run dflt --listen 127.0.0.1:0 --listen-pid other --notify \
	    --need-free-port 65432 -- "$SERVER" -q
	NETNS=
else
	echo "skip no private network namespace (root, unshare, ip)" >"$T/dflt.log"
fi
if grep -q '^skip ' "$T/dflt.log"; then
	echo "skip: the default address: $(sed -n 's/^skip //p' "$T/dflt.log")"
else
	check "LISTEN_PID of another process, no -l: the default address" sh -c "
	    grep -q '^listening on ' '$T/dflt.out' &&
	    ! grep -v ':65432\$' '$T/dflt.out'"
	check "LISTEN_PID of another process, no -l: it echoes there" \
	    logged dflt "probe .*:65432 ok 65536"
	check "LISTEN_PID of another process, no -l: exit 0" clean_exit dflt
fi

# A dual-stack socket, as evecho.socket's BindIPv6Only=both makes: one
# [::] socket, reached over IPv4 and IPv6.  [::1] alone takes no IPv4, so
# it is bound to every address: in a network namespace of its own if we
# may (its loopback is all it has), else here, on a kernel-chosen port for
# well under a second.
if [ -n "$V6" ]; then
	unshare -n sh -c 'ip link set lo up' 2>/dev/null && NETNS=yes
	run dual --dual-stack '[::]:0' --notify -- "$SERVER" -q
	NETNS=
	D=$(sed -n 's/^passed \[::\]:\([0-9]*\)$/\1/p' "$T/dual.log")
	check "dual-stack: 'listening on [::]:$D'" \
	    same "$T/dual.out" "listening on [::]:$D\n"
	check "dual-stack: echoes over IPv6" logged dual "probe \\[::\\]:$D ok 65536"
	check "dual-stack: echoes over IPv4" logged dual "probe 127\\.0\\.0\\.1:$D ok 65536"
	check "dual-stack: exit 0 after SIGTERM" clean_exit dual
fi

# Descriptors that are not listening TCP sockets: exit 1, one line naming
# the descriptor, nothing listened on, no READY=1 -- and not a fallback to
# the -l.
bad() {
	_b=$1
	_want=$2
	shift 2
	run "$_b" --notify --scenario exit "$@" -- "$SERVER" -q -l 127.0.0.1:0
	check "$_b: exit 1" logged "$_b" "exit 1"
	check "$_b: one line on stderr: $_want" one_line "$T/$_b.err" \
	    "error: $_want"
	check "$_b: nothing listened on, nobody told" sh -c "
	    [ ! -s '$T/$_b.out' ] && ! grep -q '^notify ' '$T/$_b.log'"
}
NOTLISTEN="socket activation: descriptor 3 is not a listening TCP socket"
bad pipe "$NOTLISTEN" --pass pipe
bad file "$NOTLISTEN" --pass file
bad udp "$NOTLISTEN" --pass udp
bad unlistening "$NOTLISTEN" --pass tcp-unlistening
bad unix "$NOTLISTEN" --pass unix-listening
bad second "socket activation: descriptor 4 is not a listening TCP socket" \
    --listen 127.0.0.1:0 --pass udp
bad missing "socket activation: descriptor 4 is not a listening TCP socket" \
    --listen 127.0.0.1:0 --listen-fds 2
bad garbage "socket activation: LISTEN_FDS: Invalid argument" \
    --listen 127.0.0.1:0 --listen-fds many

# Readiness and draining (started first, above).
await drain
D4=$(passed drain 4)
if [ -n "$V6" ]; then
	NLIS=3
	printf 'listening on %s\n' "$D4" "$(passed drain 6)" >"$T/drain.want12"
else
	NLIS=2
	printf 'listening on %s\n' "$D4" >"$T/drain.want12"
fi
check "activation with -l: the passed sockets first, in order" sh -c "
    head -n $((NLIS - 1)) '$T/drain.out' | cmp -s - '$T/drain.want12'"
check "activation with -l: then the -l, a port of its own" sh -c "
    [ \$(wc -l <'$T/drain.out') -eq $NLIS ] &&
    tail -n 1 '$T/drain.out' | grep -q '^listening on 127.0.0.1:[0-9]*\$' &&
    ! tail -n 1 '$T/drain.out' | grep -q '^listening on $D4\$'"
check "readiness: READY=1 once, with a STATUS" sh -c "
    [ \$(grep -c '^notify .*READY=1' '$T/drain.log') -eq 1 ] &&
    grep -q '^notify pid=[0-9]* READY=1|STATUS=listening on $NLIS sockets\$' '$T/drain.log'"
check "readiness: READY=1 is its first notification" \
    logged drain "held-first READY=1\\|STATUS=listening on $NLIS sockets"
check "readiness: sending it, it had printed every 'listening on'" \
    logged drain "held-lines $NLIS"
check "readiness: sending it, every socket listened, the -l too" sh -c "
    [ \$(sed -n 's/^held-listens //p' '$T/drain.log' | wc -w) -eq $NLIS ] &&
    grep -q '^held-listens .*$(tail -n 1 "$T/drain.out" | sed 's/^listening on //')' '$T/drain.log'"
check "readiness: connections made then are echoed once it goes on" sh -c "
    [ \$(grep -c '^held-probe .* ok 16384\$' '$T/drain.log') -eq $NLIS ]"
check "readiness: and every socket echoes right after READY=1" sh -c "
    [ \$(grep -c '^probe .* ok 65536\$' '$T/drain.log') -eq $NLIS ]"
# Accepted: the connections made while it was held, the probes, the one
# streaming; the first ones were open together.  It comes while that one
# is being drained.
check "readiness: a timed STATUS= with the counters, while draining" \
    logged drain "status-periodic STATUS=draining: 1 connections open \\($NLIS peak\\), $((2 * NLIS + 1)) accepted; [0-9]+ bytes echoed"
check "draining: STOPPING=1 after SIGTERM, one connection to drain" sh -c "
    sed -n '/^sigterm\$/,\$p' '$T/drain.log' |
    grep -q '^notify pid=[0-9]* STOPPING=1|STATUS=draining 1 connections\$'"
check "draining: STOPPING=1 only after SIGTERM" sh -c "
    ! sed -n '/^sigterm\$/q;p' '$T/drain.log' | grep -q STOPPING"
check "draining: the open connection still echoes after STOPPING=1" \
    logged drain "echo-after-stopping ok"
check "draining: no socket accepts any more" sh -c "
    [ \$(grep -c '^refused-after-stopping .* ok\$' '$T/drain.log') -eq $NLIS ]"
check "draining: the connection got every byte back, then EOF" \
    logged drain "drain-client ok [0-9]+"
check "draining: every notification from the server's PID" from_server drain
check "draining: no error in the helper" not_logged drain "error .*"
check "draining: exit 0, nothing on stderr" clean_exit drain

if [ -n "$WORKERS" ]; then
	await workers
	check "--workers 2: 'listening on' the passed sockets, once" sh -c "
	    sed 's/^listening on //' '$T/workers.out' | sort >'$T/workers.got'
	    sed -n 's/^passed //p' '$T/workers.log' | sort |
	    cmp -s - '$T/workers.got'"
	check "--workers 2: each echoes" sh -c "
	    [ \$(grep -c '^probe .* ok 65536\$' '$T/workers.log') -eq \$(grep -c '^passed ' '$T/workers.log') ]"
	check "--workers 2: READY=1 once, STOPPING=1" sh -c "
	    [ \$(grep -c '^notify .*READY=1' '$T/workers.log') -eq 1 ] &&
	    grep -q '^notify .*STOPPING=1' '$T/workers.log'"
	check "--workers 2: every notification from the supervisor" \
	    from_server workers
	check "--workers 2: the timed STATUS= says it is draining" \
	    logged workers "status-periodic STATUS=draining: .*"
	check "--workers 2: the connection is drained, not cut" sh -c "
	    grep -qx 'echo-after-stopping ok' '$T/workers.log' &&
	    grep -Eqx 'drain-client ok [0-9]+' '$T/workers.log'"
	check "--workers 2: exit 0 after SIGTERM" clean_exit workers
fi

finish || exit 1
[ -z "$SKIPPED" ] || exit 77
