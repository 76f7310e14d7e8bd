#!/bin/sh
# test-haproxy.sh: evecho-server behind a real HAProxy, PROXY protocol v2.
#
# Four network namespaces: a client (198.51.100.2 to .4), a balancer
# (198.51.100.1 to the client; 192.0.2.1 and 192.0.2.5 to the backends)
# and two backends, evecho-a (192.0.2.2) and evecho-b (192.0.2.6), each on
# a veth pair of its own; the client has no route to the backends.  HAProxy
# runs in the balancer's namespace on contrib/haproxy/evecho.cfg itself,
# changed by sed only where a test must (log to stdout, the stats socket,
# a short check interval): send-proxy-v2 and the echo health check are the
# file's.  Each backend runs evecho-server --proxy-protocol, trusting the
# balancer's address alone, with a greeting naming it and --metrics.
#
# Checked: both health checks pass (stats socket) and evecho rejects none
# of HAProxy's check connections; byte-exact echoes through the frontend
# (evecho-benchmark pingpong, stream, connect); both backends serve; the
# backends log the client's address, not HAProxy's, and count per source
# by it; after SIGKILL of one backend HAProxy marks it DOWN within fall x
# inter (+ margin), new connections all greet from the survivor, and
# streams open on the survivor through the kill echo byte-exact to their
# end; the client cannot reach a backend, and once routed there on
# purpose, a forged PROXY header from it is refused (proxy_untrusted).
#
# Needs root, ip, haproxy, python3 and socat: otherwise it says why and
# skips (exit 77).  EVECHO_HAPROXY_CFG names another config to derive
# from (to see the test fail on a broken one).

. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
SRCDIR=${EVECHO_SRCDIR:-$(dirname "$0")/..}
SERVER="$EVECHO_BUILDDIR/src/evecho-server"
BENCH="$EVECHO_BUILDDIR/src/evecho-benchmark"
PY=${PYTHON3:-python3}
CLIENT="$SRCDIR/tests/haproxy-client.py"
CFG_SRC=${EVECHO_HAPROXY_CFG:-$SRCDIR/contrib/haproxy/evecho.cfg}
T=$TMPDIR_T
NS_C="evecho-hx-cli-$$"
NS_L="evecho-hx-lb-$$"
NS_A="evecho-hx-a-$$"
NS_B="evecho-hx-b-$$"
V="hx$$"		# veth names: at most 15 bytes ("hx" + PID + 2)
PORT=65432		# every namespace is new: fixed ports cannot collide
MPORT=65433
INTER=250		# ms between health checks; fall 2
FALL=2
FRONT=198.51.100.1:7
HX_PID=
A_PID=
B_PID=
STREAMS_PID=

# gone PID SECS: until PID has exited (a zombie, not yet reaped, counts),
# at most SECS; 1 if it is still running.
gone() {
	_n=$(($2 * 20))
	while [ "$_n" -gt 0 ] && [ -r "/proc/$1/stat" ] &&
	    [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; do
		sleep 0.05
		_n=$((_n - 1))
	done
	[ "$_n" -gt 0 ]
}

# stop PID: SIGTERM, at most 3 s to go, then SIGKILL; reaped either way.
stop() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	gone "$1" 3 || kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup_haproxy() {
	[ -n "$T" ] && [ -d "$T" ] && touch "$T/stop"
	stop "$STREAMS_PID"
	stop "$HX_PID"
	stop "$A_PID"
	stop "$B_PID"
	for ns in "$NS_C" "$NS_L" "$NS_A" "$NS_B"; do
		ip netns del "$ns" 2>/dev/null
	done
	# A pair not yet moved into its namespace (a failure on the way).
	for v in c a b; do
		ip link del "$V$v" 2>/dev/null
	done
	cleanup
}
trap cleanup_haproxy EXIT
trap 'exit 1' INT TERM HUP PIPE

skip() { echo "skip: $*"; exit 77; }
fail() {
	echo "FAIL: $*"
	for f in haproxy.log a.err b.err; do
		[ -s "$T/$f" ] && { echo "--- $f"; tail -8 "$T/$f"; }
	done
	exit 1
}

[ "$(id -u)" -eq 0 ] || skip "not root: network namespaces need it"
command -v ip >/dev/null 2>&1 || skip "no ip (iproute2)"
command -v haproxy >/dev/null 2>&1 || skip "no haproxy"
command -v socat >/dev/null 2>&1 || skip "no socat (for HAProxy's stats socket)"
command -v "$PY" >/dev/null 2>&1 || skip "no python3"
command -v timeout >/dev/null 2>&1 || skip "no timeout (coreutils)"
[ -x "$BENCH" ] || skip "evecho-benchmark is not built"
"$SERVER" --help 2>&1 | grep -q -- --proxy-protocol ||
	skip "evecho-server has no --proxy-protocol"

# --- The topology.  Client and balancer share 198.51.100.0/24; each
# backend has a /30 of its own with the balancer.  No forwarding, no
# default routes: the client reaches the balancer and nothing else.
ip netns add "$NS_C" 2>"$T/err" || skip "cannot create a network namespace: $(cat "$T/err")"
for ns in "$NS_L" "$NS_A" "$NS_B"; do
	ip netns add "$ns" || fail "cannot create namespace $ns"
done
ip link add "${V}c" type veth peer name "${V}l" 2>"$T/err" ||
	skip "cannot create a veth pair: $(cat "$T/err")"
ip link add "${V}a" type veth peer name "${V}la" &&
ip link add "${V}b" type veth peer name "${V}lb" &&
ip link set "${V}c" netns "$NS_C" && ip link set "${V}l" netns "$NS_L" &&
ip link set "${V}la" netns "$NS_L" && ip link set "${V}lb" netns "$NS_L" &&
ip link set "${V}a" netns "$NS_A" && ip link set "${V}b" netns "$NS_B" &&
ip -n "$NS_C" addr add 198.51.100.2/24 dev "${V}c" &&
ip -n "$NS_C" addr add 198.51.100.3/24 dev "${V}c" &&
ip -n "$NS_C" addr add 198.51.100.4/24 dev "${V}c" &&
ip -n "$NS_L" addr add 198.51.100.1/24 dev "${V}l" &&
ip -n "$NS_L" addr add 192.0.2.1/30 dev "${V}la" &&
ip -n "$NS_L" addr add 192.0.2.5/30 dev "${V}lb" &&
ip -n "$NS_A" addr add 192.0.2.2/30 dev "${V}a" &&
ip -n "$NS_B" addr add 192.0.2.6/30 dev "${V}b" ||
	fail "cannot configure the veth pairs"
for ns in "$NS_C" "$NS_L" "$NS_A" "$NS_B"; do
	ip -n "$ns" link set lo up || fail "lo in $ns"
done
for l in "$NS_C ${V}c" "$NS_L ${V}l" "$NS_L ${V}la" "$NS_L ${V}lb" \
    "$NS_A ${V}a" "$NS_B ${V}b"; do
	# shellcheck disable=SC2086
	set -- $l
	ip -n "$1" link set "$2" up || fail "cannot bring $2 up"
done
ip netns exec "$NS_L" sysctl -qw net.ipv4.ip_forward=0

# --- The backends.  ip netns exec execs, so $! is evecho-server itself.
# start_backend NAME ADDR TRUSTED
start_backend() {
	: >"$T/$1.out"
	ip netns exec "evecho-hx-$1-$$" "$SERVER" -l "$2:$PORT" \
	    --proxy-protocol --proxy-trusted "$3/32" \
	    --max-conns-per-source 12 --drain-timeout 2 -v \
	    --greeting "backend $(echo "$1" | tr a-z A-Z)" \
	    --metrics "127.0.0.1:$MPORT" >"$T/$1.out" 2>"$T/$1.err" &
}
start_backend a 192.0.2.2 192.0.2.1
A_PID=$!
start_backend b 192.0.2.6 192.0.2.5
B_PID=$!
wait_ready "$T/a.out" "$A_PID" >/dev/null || fail "evecho-a did not start"
wait_ready "$T/b.out" "$B_PID" >/dev/null || fail "evecho-b did not start"
for x in a b; do
	n=0
	until grep -q '^metrics on ' "$T/$x.out"; do
		[ $n -lt 100 ] || fail "evecho-$x serves no metrics"
		sleep 0.05
		n=$((n + 1))
	done
done

# metric BACKEND NAME [LABELS]: one sample from the backend's /metrics.
metric() {
	ip netns exec "evecho-hx-$1-$$" "$PY" "$CLIENT" metric \
	    "http://127.0.0.1:$MPORT/metrics" "$2" "$3"
}

# --- HAProxy, on the contrib file.  Each sed must hit: if the file
# changes shape the test says so rather than test something else.
sed -e 's|^\([[:space:]]*log\) /dev/log local0|\1 stdout format raw local0|' \
    -e "s|stats socket /run/haproxy/evecho.sock|stats socket $T/haproxy.sock|" \
    -e "s|inter 2s fastinter 1s downinter 2s|inter ${INTER}ms fastinter ${INTER}ms downinter ${INTER}ms|" \
    -e "s|^\([[:space:]]*server evecho-a\) [^[:space:]]*|\1 192.0.2.2:$PORT|" \
    -e "s|^\([[:space:]]*server evecho-b\) [^[:space:]]*|\1 192.0.2.6:$PORT|" \
    "$CFG_SRC" >"$T/haproxy.cfg" || fail "cannot read $CFG_SRC"
for want in 'log stdout format raw' "stats socket $T/haproxy.sock" \
    "inter ${INTER}ms fastinter ${INTER}ms downinter ${INTER}ms" \
    "fall $FALL " 'send-proxy-v2' 'bind :7$' 'option tcp-check' \
    'tcp-check connect default linger' 'tcp-check expect string' \
    "server evecho-a 192.0.2.2:$PORT" "server evecho-b 192.0.2.6:$PORT"; do
	grep -q "$want" "$T/haproxy.cfg" ||
		fail "the HAProxy config derived from $CFG_SRC lacks '$want'"
done
haproxy -c -q -f "$T/haproxy.cfg" >"$T/err" 2>&1 ||
	fail "haproxy -c rejects the config: $(cat "$T/err")"
ip netns exec "$NS_L" haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
HX_PID=$!

# srv_field SERVER FIELD: a column of `show stat` for backend evecho.
srv_field() {
	echo "show stat" | timeout 3 socat -t 2 stdio "UNIX-CONNECT:$T/haproxy.sock" 2>/dev/null |
	    awk -F, -v s="$1" -v f="$2" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == "evecho" && $2 == s { print $(col[f]) }'
}
# wait_state SERVER STATUS CHECK_STATUS MS: until both match; 1 after MS.
wait_state() {
	_left=$(($4 / 50))
	while [ "$_left" -gt 0 ]; do
		kill -0 "$HX_PID" 2>/dev/null || return 1
		st=$(srv_field "$1" status)
		ck=$(srv_field "$1" check_status)
		case "$st" in "$2"*) [ -z "$3" ] || [ "$ck" = "$3" ] && return 0 ;; esac
		sleep 0.05
		_left=$((_left - 1))
	done
	return 1
}

up_a() { wait_state evecho-a UP L7OK 5000; }
up_b() { wait_state evecho-b UP L7OK 5000; }
check "health check passes on evecho-a (UP, L7OK)" up_a
check "health check passes on evecho-b (UP, L7OK)" up_b
kill -0 "$HX_PID" 2>/dev/null || fail "HAProxy has exited"
echo "  evecho-a: $(srv_field evecho-a status) $(srv_field evecho-a check_status) ($(srv_field evecho-a last_chk)); evecho-b: $(srv_field evecho-b status) $(srv_field evecho-b check_status)"
sleep 0.6	# two more rounds of checks, to count
for x in a b; do
	acc=$(metric "$x" evecho_connections_accepted_total)
	bad=$(metric "$x" evecho_connections_rejected_total 'reason="proxy_header"')
	unt=$(metric "$x" evecho_connections_rejected_total 'reason="proxy_untrusted"')
	rst=$(metric "$x" evecho_connections_closed_total 'reason="reset"')
	cln=$(metric "$x" evecho_connections_closed_total 'reason="client"')
	echo "  evecho-$x after the checks: accepted $acc, rejected proxy_header $bad, proxy_untrusted $unt; closed client $cln, reset $rst"
	check "evecho-$x accepts HAProxy's check connections (PROXY v2 LOCAL)" \
	    test "${acc:-0}" -ge 2
	check "evecho-$x rejects none of them (proxy_header 0, proxy_untrusted 0)" \
	    test "${bad:-x}" = 0 -a "${unt:-x}" = 0
	check "evecho-$x: the checks close cleanly (linger: FIN, no reset)" \
	    test "${rst:-x}" = 0 -a "${cln:-0}" -ge 1
done
check "evecho logs the checks' LOCAL header under the balancer's address" \
    grep -q 'PROXY v2 from 192\.0\.2\.1:[0-9]*: client its own' "$T/a.err"

# --- Traffic through the frontend, every byte checked by the benchmark.
# bench NAME ARGS...: run it in the client's namespace, JSON to $T/NAME.json
bench() {
	_name=$1
	shift
	timeout -k 5 30 ip netns exec "$NS_C" "$BENCH" -q --json --timeout 5s \
	    "$@" "$FRONT" >"$T/$_name.json" 2>"$T/$_name.err"
	_rc=$?
	[ $_rc -eq 0 ] || { echo "  $_name: exit $_rc: $(tail -3 "$T/$_name.err")"; return 1; }
	grep -q '"mismatches":0,' "$T/$_name.json"
}
# json FILE EXPR: a value from a result, EXPR in Python over r.
json() {
	"$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
	    "$T/$1.json" "$2" 2>/dev/null || echo "(no result)"
}

check "pingpong through HAProxy: 8 connections, 4000 x 1 KiB, byte-exact" \
    bench pingpong --mode pingpong -c 8 -n 4000 -s 1k --expect-greeting
echo "  pingpong greetings: $(json pingpong 'r["greetings"]')"
check "pingpong: both backends answered" \
    test "$(json pingpong 'sorted(r["greetings"]) == ["backend A", "backend B"]')" = True
check "stream through HAProxy: 4 connections, 32 MiB, byte-exact" \
    bench stream --mode stream -c 4 -n 512 -s 64k --expect-greeting
check "stream: 32 MiB echoed" test "$(json stream 'r["bytes"]')" = 33554432
check "connect through HAProxy: 200 connections, each greeted and echoed" \
    bench connect --mode connect -c 4 -n 200 --expect-greeting
echo "  connect greetings: $(json connect 'r["greetings"]')"
na=$(json connect 'r["greetings"].get("backend A", 0)')
nb=$(json connect 'r["greetings"].get("backend B", 0)')
check "connect: leastconn spread them over both (A $na, B $nb)" \
    test "${na:-0}" -ge 20 -a "${nb:-0}" -ge 20

# Each client connection was one backend connection, logged under the
# client's address from the header, never the balancer's (the balancer's
# own connections are the checks, LOCAL).  At least 8 + 4 + 200.
na=$(grep -c 'debug: conn [0-9]* 198\.51\.100\.2:[0-9]* accepted' "$T/a.err")
nb=$(grep -c 'debug: conn [0-9]* 198\.51\.100\.2:[0-9]* accepted' "$T/b.err")
echo "  accepted from 198.51.100.2 (the client): evecho-a $na, evecho-b $nb"
check "the backends log the client's address, 198.51.100.2, for every connection" \
    test $((na + nb)) -ge 212
check "the PROXY line names the balancer and the client" \
    grep -q 'PROXY v2 from 192\.0\.2\.1:[0-9]*: client 198\.51\.100\.2:[0-9]*' "$T/a.err"
nl=$(cat "$T/a.err" "$T/b.err" | grep -c 'debug: conn [0-9]* 192\.0\.2\.[15]:[0-9]* accepted')
acc=$(( $(metric a evecho_connections_accepted_total) + $(metric b evecho_connections_accepted_total) ))
echo "  accepted in all $acc, of which under the balancer's address $nl (checks)"

# --max-conns-per-source 12 counts the header's client: 36 held from
# three client addresses (12 each) are all accepted however HAProxy
# spreads them, though one backend at least sees 18 from the balancer's
# address; 30 from one address (15 on one backend at least) are not.
check "--max-conns-per-source counts the header's client, not the balancer" \
    bench hold --mode hold -c 36 -t 500ms --expect-greeting \
    --source 198.51.100.2 --source 198.51.100.3 --source 198.51.100.4
ps0=$(( $(metric a evecho_connections_rejected_total 'reason="per_source"') +
    $(metric b evecho_connections_rejected_total 'reason="per_source"') ))
timeout -k 5 30 ip netns exec "$NS_C" "$BENCH" -q --json --timeout 5s \
    --mode hold -c 30 -t 500ms --expect-greeting --source 198.51.100.2 "$FRONT" \
    >"$T/hold1.json" 2>"$T/hold1.err"
rc=$?
ps1=$(( $(metric a evecho_connections_rejected_total 'reason="per_source"') +
    $(metric b evecho_connections_rejected_total 'reason="per_source"') ))
echo "  30 held from 198.51.100.2: benchmark exit $rc, per_source rejections $ps0 -> $ps1"
check "... and caps one client behind the balancer (per_source rejections)" \
    test "$rc" -ne 0 -a "$ps1" -gt "$ps0"

# --- Failover.  Six streams, 4 KiB ping-pong each, stay open through the
# kill of evecho-a.
ip netns exec "$NS_C" "$PY" "$CLIENT" streams 198.51.100.1 7 6 "$T" \
    >"$T/streams.log" 2>&1 &
STREAMS_PID=$!
n=0
until [ -f "$T/streams.open" ]; do
	[ $n -lt 200 ] && kill -0 "$STREAMS_PID" 2>/dev/null ||
		fail "the streams did not open: $(cat "$T/streams.log")"
	sleep 0.05
	n=$((n + 1))
done
on_b=$(grep -c ' backend_B$' "$T/streams.open")
on_a=$(grep -c ' backend_A$' "$T/streams.open")
echo "  streams open: $on_a on evecho-a, $on_b on evecho-b"
check "streams on both backends before the kill" test "$on_a" -ge 1 -a "$on_b" -ge 1
sleep 0.5
t0=$(date +%s%N)
kill -KILL "$A_PID"
gone "$A_PID" 5
wait "$A_PID" 2>/dev/null
A_PID=
touch "$T/killed"
bound=$((FALL * INTER + 1500))
wait_state evecho-a DOWN "" "$((bound + 2000))"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "  evecho-a: $(srv_field evecho-a status) ($(srv_field evecho-a check_status)) $ms ms after SIGKILL"
check "HAProxy marks evecho-a DOWN within fall x inter + 1.5 s ($bound ms)" \
    test "$(srv_field evecho-a status)" = DOWN -a "$ms" -le "$bound"
check "evecho-b still UP" test "$(srv_field evecho-b status)" = UP
check "new connections after the kill: 100, all echoed" \
    bench after --mode connect -c 4 -n 100 --expect-greeting
echo "  greetings after the kill: $(json after 'r["greetings"]'), other $(json after 'r["greetings_other"]')"
check "new connections all greet from the survivor" \
    test "$(json after 'r["greetings"] == {"backend B": 100} and r["greetings_other"] == 0')" = True
sleep 0.5
touch "$T/stop"
n=0
until [ -f "$T/streams.out" ]; do
	[ $n -lt 300 ] || fail "the streams did not end: $(cat "$T/streams.log")"
	sleep 0.05
	n=$((n + 1))
done
gone "$STREAMS_PID" 5
wait "$STREAMS_PID"
STREAMS_PID=
sed 's/^/  stream /' "$T/streams.out"
check "every stream on the survivor echoed byte-exact to its end, and after the kill" \
    awk '$2 == "backend_B" { n++; if ($3 != "ok" || $5 <= 0) bad++ }
	END { exit !(n >= 1 && bad == 0) }' "$T/streams.out"
check "the streams on the killed backend ended (none echoed on by magic)" \
    awk '$2 == "backend_A" && $3 == "ok" { bad++ } END { exit bad > 0 }' "$T/streams.out"

bad=$(metric b evecho_connections_rejected_total 'reason="proxy_header"')
check "after all that traffic evecho-b has refused no header HAProxy sent" \
    test "${bad:-x}" = 0

# --- Past the balancer.  No route from the client to a backend ...
check "the client has no route to a backend" \
    ip netns exec "$NS_C" "$PY" "$CLIENT" noroute 192.0.2.6 "$PORT"
# ... and given one on purpose, a forged header from it is refused.
ip netns exec "$NS_L" sysctl -qw net.ipv4.ip_forward=1 &&
ip -n "$NS_C" route add 192.0.2.4/30 via 198.51.100.1 &&
ip -n "$NS_B" route add 198.51.100.0/24 via 192.0.2.5 ||
	fail "cannot route the client to evecho-b"
unt0=$(metric b evecho_connections_rejected_total 'reason="proxy_untrusted"')
check "routed there, a forged PROXY header (claiming 203.0.113.7) gets no byte back" \
    ip netns exec "$NS_C" "$PY" "$CLIENT" forge 192.0.2.6 "$PORT" 203.0.113.7
unt1=$(metric b evecho_connections_rejected_total 'reason="proxy_untrusted"')
echo "  evecho-b proxy_untrusted: $unt0 -> $unt1"
check "evecho-b counts it as proxy_untrusted" test "$unt1" -eq $((unt0 + 1))
check "evecho-b never logs the forged address as a client" \
    sh -c "! grep -q '203\.0\.113\.7' '$T/b.err'"

stop "$HX_PID"
HX_PID=
kill -TERM "$B_PID"
gone "$B_PID" 5 || fail "evecho-b still runs 5 s after SIGTERM"
rc=0
wait "$B_PID" || rc=$?
B_PID=
check "evecho-b exits 0 on SIGTERM" test "$rc" -eq 0
finish
