#!/bin/sh
# test-prometheus.sh: a real Prometheus scrapes evecho-server's --metrics.
# The server runs with --max-conns 4 --max-conns-per-source 2; a fixed
# amount of echo traffic (CONNS clean connections of BYTES each, one
# refused per source, one over --max-conns) goes through it; once
# Prometheus has scraped twice after the traffic, what its query API says
# must equal the server's own /metrics, the known traffic, and the
# server's exit line after SIGTERM.  Skips (77) without prometheus
# (scripts/install-deps installs it) or python3.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
skip_unless prometheus
PY=${PYTHON3:-python3}
command -v "$PY" >/dev/null 2>&1 || { echo "skip: no python3"; exit 77; }

T=$TMPDIR_T
SERVER="$EVECHO_BUILDDIR/src/evecho-server"
Q="${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/prom-query.py"
CONNS=10
BYTES=123457
TOTAL=$((CONNS * BYTES))
T0=$(date +%s.%N)
PROM_PID=

# alive PID: true while PID runs (a zombie has exited).
alive() {
	[ -r "/proc/$1/stat" ] &&
	    [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# stop_pid PID SECS: SIGTERM, at most SECS for it to exit, then SIGKILL;
# its exit status in STOP_RC.
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	_sp_left=$(($2 * 20))
	while [ "$_sp_left" -gt 0 ] && alive "$1"; do
		sleep 0.05
		_sp_left=$((_sp_left - 1))
	done
	alive "$1" && kill -KILL "$1" 2>/dev/null
	STOP_RC=0
	wait "$1" 2>/dev/null || STOP_RC=$?
}

# lib.sh's cleanup stops only the server; Prometheus first, then that.
prom_cleanup() {
	[ -n "$PROM_PID" ] && stop_pid "$PROM_PID" 5
	PROM_PID=
	cleanup
}
trap prom_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# bail MESSAGE FILE...: the test cannot go on; say why and show FILEs.
bail() {
	echo "FAIL: $1"
	shift
	for f in "$@"; do
		echo "--- $f"
		cat "$f"
	done
	FAILED=$((FAILED + 1))
	finish
	exit 1
}

# same WHAT GOT WANT: a check that says both.
same() {
	check "$1: $2 (want $3)" test "$2" = "$3"
}

# The server, not -q: its exit line is on standard error.
: >"$T/ready"	# truncated here: the child does it too late
"$SERVER" -l 127.0.0.1:0 --metrics 127.0.0.1:0 --max-conns 4 \
    --max-conns-per-source 2 >"$T/ready" 2>"$T/server.err" &
SERVER_PID=$!
PORT=$(wait_ready "$T/ready" "$SERVER_PID") ||
    bail "the server did not become ready" "$T/ready" "$T/server.err"
MPORT=
for _ in $(seq 1 100); do
	MPORT=$(sed -n 's|^metrics on http://127\.0\.0\.1:\([0-9][0-9]*\)/$|\1|p' \
	    "$T/ready")
	[ -n "$MPORT" ] && break
	sleep 0.05
done
[ -n "$MPORT" ] || bail "no 'metrics on' line" "$T/ready" "$T/server.err"
echo "evecho on 127.0.0.1:$PORT, metrics on 127.0.0.1:$MPORT"

cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: evecho
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
check "promtool accepts the config" \
    sh -c "promtool check config '$T/prometheus.yml' >'$T/promtool.out' 2>&1"

# start_prometheus: on a port the kernel picked; PROM set once /-/ready
# answers.  Fails at once if it exits, or after 20 s.
start_prometheus() {
	PPORT=$("$PY" "$Q" port) || return 1
	prometheus --config.file="$T/prometheus.yml" \
	    --storage.tsdb.path="$T/tsdb" --storage.tsdb.retention.time=1h \
	    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn \
	    >"$T/prometheus.log" 2>&1 &
	PROM_PID=$!
	if "$PY" "$Q" wait-ok "http://127.0.0.1:$PPORT/-/ready" "$PROM_PID" 20 \
	    2>>"$T/prometheus.log"; then
		PROM="http://127.0.0.1:$PPORT"
		return 0
	fi
	stop_pid "$PROM_PID" 5
	PROM_PID=
	return 1
}
# The port was free when read, but another test may take it first: once.
if ! start_prometheus; then
	grep -q "address already in use" "$T/prometheus.log" ||
	    bail "prometheus did not become ready" "$T/prometheus.log"
	echo "prometheus: port $PPORT taken meanwhile; once more"
	start_prometheus ||
	    bail "prometheus did not become ready" "$T/prometheus.log"
fi
echo "prometheus on $PROM (pid $PROM_PID)"
check "prometheus is ready" test -n "$PROM"

# The traffic, all done when it prints the time.
STOPPED=$(timeout 30 "$PY" "$Q" traffic "$PORT" "$CONNS" "$BYTES") ||
    bail "the echo traffic failed" "$T/server.err"
check "$CONNS echoes of $BYTES bytes, one refused per source, one over --max-conns" \
    test -n "$STOPPED"

# Two scrapes stamped after the traffic: both saw the final counters.
n=$("$PY" "$Q" wait-scrapes "$PROM" 'up{job="evecho"}' "$STOPPED" 2 20)
check "prometheus scraped twice after the traffic ($n)" test "${n:-0}" -ge 2
"$PY" "$Q" get "http://127.0.0.1:$MPORT/metrics" >"$T/direct.txt" ||
    bail "GET /metrics failed"
check "promtool check metrics" \
    sh -c "promtool check metrics <'$T/direct.txt' >'$T/check.out' 2>&1"

same "the target" "$("$PY" "$Q" targets "$PROM" evecho)" "up http://127.0.0.1:$MPORT/metrics -"
same "up" "$("$PY" "$Q" query "$PROM" 'up{job="evecho"}')" 1
same "samples per scrape, as the server sends" \
    "$("$PY" "$Q" query "$PROM" 'scrape_samples_scraped{job="evecho"}')" \
    "$(grep -cv '^#' "$T/direct.txt")"

# both_are A B WANT: A and B are WANT.
both_are() {
	[ "$1" = "$3" ] && [ "$2" = "$3" ]
}

# series NAME WANT [LABEL VALUE]: Prometheus's value, the server's own,
# and WANT must agree; Prometheus's is kept for pval.
series() {
	if [ $# -eq 4 ]; then
		sel="$1{job=\"evecho\",$3=\"$4\"}"
		exposed="$1{$3=\"$4\"}"
	else
		sel="$1{job=\"evecho\"}"
		exposed=$1
	fi
	p=$("$PY" "$Q" query "$PROM" "$sel")
	d=$(awk -v k="$exposed" '$1 == k { print $2 }' "$T/direct.txt")
	printf '%s %s\n' "$exposed" "$p" >>"$T/prom.txt"
	check "$exposed: prometheus $p, /metrics $d, want $2" \
	    both_are "$p" "$d" "$2"
}
# pval SERIES...: what Prometheus said of SERIES (as /metrics names it),
# summed; empty if it said nothing of one of them.
pval() {
	awk -v want="$*" 'BEGIN { n = split(want, w, " ") }
	    { for (i = 1; i <= n; i++) if ($1 == w[i] && $2 != "") { s += $2; c++ } }
	    END { if (c == n) print s }' "$T/prom.txt"
}
: >"$T/prom.txt"
series evecho_connections_accepted_total "$CONNS"
series evecho_received_bytes_total "$TOTAL"
series evecho_sent_bytes_total "$TOTAL"
series evecho_dropped_bytes_total 0
series evecho_connections_closed_total "$CONNS" reason client
series evecho_connections_rejected_total 1 reason per_source
series evecho_connections_rejected_total 1 reason max_conns
series evecho_connections_rejected_total 0 reason draining
series evecho_connections_rejected_total 0 reason error
series evecho_connections_open 0
series evecho_connections_peak 4
series evecho_connections_max 4
series evecho_accept_errors_total 0
same "every accepted connection closed, by some reason" \
    "$("$PY" "$Q" query "$PROM" 'sum(evecho_connections_closed_total{job="evecho"})')" \
    "$CONNS"

version=$("$SERVER" --version | sed -n '1s/^evecho-server //p')
same "build_info's version, through prometheus" \
    "$("$PY" "$Q" query "$PROM" 'evecho_build_info{job="evecho"}' version)" \
    "$version"
same "build_info's version, in /metrics" \
    "$(sed -n 's/^evecho_build_info{version="\(.*\)"} 1$/\1/p' "$T/direct.txt")" \
    "$version"
# Start time plus uptime is the wall clock of the scrape.
skew=$("$PY" "$Q" query "$PROM" 'abs(evecho_start_time_seconds{job="evecho"} + evecho_uptime_seconds{job="evecho"} - timestamp(evecho_uptime_seconds{job="evecho"}))')
check "start time + uptime = the scrape's time (off by $skew s)" \
    awk -v s="$skew" 'BEGIN { exit !(s != "" && s + 0 < 1) }'

# SIGTERM: the exit line's counters are the same.
stop_pid "$SERVER_PID" 15
SERVER_PID=
check "the server exits 0 after SIGTERM ($STOP_RC)" test "$STOP_RC" -eq 0
line=$(grep 'exit: connections' "$T/server.err")
check "the exit line is logged" test -n "$line"
echo "$line"
# exit_num WORDS: the number before WORDS in the exit line.
exit_num() {
	printf '%s\n' "$line" | sed -n "s/.* \([0-9][0-9]*\) $1[,;].*/\1/p"
}
same "exit line: accepted" "$(exit_num accepted)" \
    "$(pval evecho_connections_accepted_total)"
same "exit line: bytes in" "$(exit_num in)" \
    "$(pval evecho_received_bytes_total)"
same "exit line: bytes out" "$(exit_num out)" \
    "$(pval evecho_sent_bytes_total)"
same "exit line: dropped" "$(exit_num dropped)" \
    "$(pval evecho_dropped_bytes_total)"
same "exit line: refused per source" "$(exit_num 'refused per source')" \
    "$(pval 'evecho_connections_rejected_total{reason="per_source"}')"
same "exit line: rejected (max_conns, draining, error)" \
    "$(exit_num rejected)" \
    "$(pval 'evecho_connections_rejected_total{reason="max_conns"}' \
    'evecho_connections_rejected_total{reason="draining"}' \
    'evecho_connections_rejected_total{reason="error"}')"
same "exit line: open" "$(exit_num open)" "$(pval evecho_connections_open)"
same "exit line: peak" "$(exit_num peak)" "$(pval evecho_connections_peak)"
same "exit line: accept errors" "$(exit_num 'accept errors')" \
    "$(pval evecho_accept_errors_total)"

stop_pid "$PROM_PID" 10
PROM_PID=
check "prometheus exits 0 after SIGTERM ($STOP_RC)" test "$STOP_RC" -eq 0
awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "took %.1f s\n", b - a }'
finish
