#!/usr/bin/env bash
# test-load.sh: scripts/load.sh in its smoke matrix, against the build
# tree's server and a second copy of it started through --vs (and
# --vs-udp for the UDP point), and the yardstick's UDP form as a server of
# the UDP point only.  Checks the CSV, the markdown, the PNGs and
# report.html, and that no server outlives the script; and the yardstick's
# UDP echo on its own.  (tests/test-load-report.sh tests the reports in detail on
# checked-in runs, tests/test-load-browser.sh report.html in a browser.)
# Skips (77) when evecho-benchmark has not been built.
set -uo pipefail

builddir=${EVECHO_BUILDDIR:-$(pwd)}
srcdir=${EVECHO_SRCDIR:-$builddir}
bench=${EVECHO_BENCHMARK:-$builddir/src/evecho-benchmark}
server=$builddir/src/evecho-server
yardstick=$builddir/bench/evecho-yardstick
export PYTHON3=${PYTHON3:-python3}

if [ ! -x "$bench" ]; then
	echo "SKIP: no benchmark at $bench"
	exit 77
fi
if ! command -v "$PYTHON3" >/dev/null 2>&1; then
	echo "SKIP: no python3"
	exit 77
fi

passed=0 failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-load.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Record one check: a name, then the command that must succeed.
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "FAIL - $name"
		failed=$((failed + 1))
	fi
}

# True when results.csv has a row for server,test,mode,size,conns,depth
# with one run whose named column is above zero.
row_has() {
	awk -F, -v key="$1" -v col="$2" '
	    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	    ($1 "," $2 "," $3 "," $4 "," $5 "," $6) == key &&
	        $(c["runs"]) == 1 && $(c[col]) + 0 > 0 &&
	        $(c["mismatches"]) == 0 { found = 1 }
	    END { exit !found }' "$tmp/out/results.csv"
}

# True when the row for server,test,mode,size,conns,depth has column = value.
col_is() {
	awk -F, -v key="$1" -v col="$2" -v want="$3" '
	    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	    ($1 "," $2 "," $3 "," $4 "," $5 "," $6) == key &&
	        $(c[col]) == want { found = 1 }
	    END { exit !found }' "$tmp/out/results.csv"
}

cd "$builddir" || exit 1

# A bad option is one line and status 64.
"$srcdir/scripts/load.sh" --no-such-option >"$tmp/usage.out" 2>&1
status=$?
check "bad usage exits 64" [ $status -eq 64 ]
check "bad usage says one line" [ "$(wc -l <"$tmp/usage.out")" -eq 1 ]

# The yardstick's UDP form on its own: the line once bound, every datagram
# back whole, and status 0 after SIGTERM.  64 small datagrams in flight
# fill its batches; the largest go two at a time, since the kernel's
# default receive buffer holds only a few of them and drops the rest.
if [ -x "$yardstick" ]; then
	"$yardstick" -u 127.0.0.1:0 >"$tmp/yard.out" 2>&1 &
	ypid=$!
	for _ in $(seq 50); do
		grep -q . "$tmp/yard.out" && break
		sleep 0.1
	done
	check "yardstick -u says where it listens" \
	    grep -Eq '^listening on udp 127\.0\.0\.1:[0-9]+$' "$tmp/yard.out"
	yport=$(sed -n 's/^listening on udp 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$tmp/yard.out")
	for load in "24 -c 8 -d 8" "65507 -c 2 -d 1"; do
		set -- $load
		timeout 20 "$bench" -q --udp -s "$@" -n 2000 --json \
		    "127.0.0.1:${yport:-9}" >"$tmp/yard.json" 2>&1
		status=$?
		check "yardstick -u echoes $1 B datagrams (exit $status)" \
		    eval "[ $status -eq 0 ] &&
		    grep -q '\"received\":2000,' '$tmp/yard.json' &&
		    grep -q '\"lost\":0,' '$tmp/yard.json'"
	done
	kill "$ypid"
	wait "$ypid"
	check "yardstick -u exits 0 after SIGTERM" [ $? -eq 0 ]
	yard=(--vs-udp "yard=$yardstick -u 127.0.0.1:0")
else
	echo "# no yardstick at $yardstick: its checks are skipped"
	yard=()
fi

# The smoke matrix against the server and a --vs copy of it; at most 6
# connections (or flows) per benchmark process, so 10 take two.  The copy
# has a --vs-udp form on a port chosen here, and the yardstick serves the
# UDP point only, on one it says.  With socat, a forking server too (a
# child per connection, and cat under it): its CPU is its whole process
# tree's; it has no UDP form.
fork=()
if command -v socat >/dev/null 2>&1; then
	fork=(--vs "fork=socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr EXEC:cat")
fi
timeout 120 "$srcdir/scripts/load.sh" --matrix smoke --repeat 1 \
    --duration 0.3s --out "$tmp/out" --benchmark "$bench" --per-process 6 \
    --vs "again=$server -q -l 127.0.0.1:{port}" "${fork[@]}" \
    --vs-udp "again=$server -q -u 127.0.0.1:{port}" "${yard[@]}" \
    >"$tmp/run.out" 2>&1
status=$?
sed 's/^/# /' "$tmp/run.out"
check "smoke run exits 0" [ $status -eq 0 ]
check "results.csv written" [ -s "$tmp/out/results.csv" ]
check "runs.csv written" [ -s "$tmp/out/runs.csv" ]
for server_name in evecho again; do
	check "$server_name ping-pong 64 B x 1" \
	    row_has "$server_name,pingpong,pingpong,64,1,1" msgs_per_sec
	check "$server_name ping-pong 64 B x 10" \
	    row_has "$server_name,pingpong,pingpong,64,10,1" msgs_per_sec
	check "$server_name server CPU per message" \
	    row_has "$server_name,pingpong,pingpong,64,10,1" server_us_per_msg
	check "$server_name pipelined" \
	    row_has "$server_name,pipelined,pingpong,64,10,4" msgs_per_sec
	check "$server_name stream" \
	    row_has "$server_name,stream,stream,4096,1,1" mb_per_sec
	check "$server_name connect" \
	    row_has "$server_name,connect,connect,64,1,1" conns_per_sec
	check "$server_name hold" row_has "$server_name,hold,hold,64,10,1" held
	check "$server_name hold: memory per connection" \
	    row_has "$server_name,hold,hold,64,10,1" mem_bytes_per_conn
	check "$server_name 10 connections over two processes" \
	    col_is "$server_name,pingpong,pingpong,64,10,1" procs 2
	check "$server_name two processes held 10 connections" \
	    col_is "$server_name,hold,hold,64,10,1" held 10
done
# The UDP point: each server started again with -u, its datagrams/s and
# CPU per datagram, the benchmark's counts all 0, and the ratio.
udp_servers="evecho again"
[ ${#yard[@]} -gt 0 ] && udp_servers="$udp_servers yard"
for server_name in $udp_servers; do
	key=$server_name,udp,pingpong,64,10,1
	check "$server_name UDP 64 B x 10 flows" row_has "$key" msgs_per_sec
	check "$server_name UDP: server CPU per datagram" \
	    row_has "$key" server_us_per_msg
	check "$server_name UDP: datagrams sent counted" row_has "$key" sent
	for count in lost duplicated corrupted; do
		check "$server_name UDP: $count 0" col_is "$key" $count 0
	done
	check "$server_name UDP: 10 flows over two processes" \
	    col_is "$key" procs 2
done
check "evecho started again with -u, once" \
    [ "$(grep -c '^evecho: udp 127\.0\.0\.1:' "$tmp/run.out")" -eq 1 ]
if [ ${#yard[@]} -gt 0 ]; then
	check "a server of the UDP point only has no other" \
	    [ "$(grep -c '^yard,' "$tmp/out/results.csv")" -eq 1 ]
fi
check "no UDP point for a server without a UDP form" \
    eval "! grep -q '^fork,udp,' '$tmp/out/results.csv'"
# Column col of the row for server,test,mode,size,conns,depth, or nothing.
col_of() {
	awk -F, -v key="$1" -v col="$2" '
	    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
	    ($1 "," $2 "," $3 "," $4 "," $5 "," $6) == key { print $(c[col]) }
	    ' "$tmp/out/results.csv"
}
if [ ${#fork[@]} -gt 0 ]; then
	# Its parent only accepts and forks: counting it alone gave 0.00
	# us/msg, and counting the bytes it wrote (to cat as well) a third.
	# A child per connection and a cat behind it cost more than evecho.
	ev=$(col_of evecho,pingpong,pingpong,64,10,1 server_us_per_msg)
	fk=$(col_of fork,pingpong,pingpong,64,10,1 server_us_per_msg)
	echo "# CPU us/msg at 10 connections: evecho $ev, forking socat $fk"
	check "forking server: CPU of its process tree" \
	    awk -v e="$ev" -v f="$fk" 'BEGIN { exit !(e > 0 && f >= e) }'
	check "forking server: no memory per connection claimed" \
	    [ -z "$(col_of fork,hold,hold,64,10,1 mem_bytes_per_conn)" ]
else
	echo "# no socat: the forking-server checks are skipped"
fi
# A server whose CPU is not visible (a --target running elsewhere) has
# no line in cpu.png, and no legend entry for a line that is not there.
mkdir -p "$tmp/nocpu"
"$PYTHON3" -c '
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        r = json.loads(line)
        if r["server"] == "again":
            for k in ("server_cpu_s", "server_us_per_msg", "server_cpu_pct"):
                r.pop(k, None)
        out.write(json.dumps(r) + "\n")
' "$tmp/out/runs.jsonl" "$tmp/nocpu/runs.jsonl"
PYTHONDONTWRITEBYTECODE=1 "$PYTHON3" "$srcdir/scripts/loadreport.py" \
    report "$tmp/nocpu" --gnuplot /bin/true >"$tmp/nocpu.out" 2>&1
check "no CPU figures: throughput still plots it" \
    grep -q "title 'again, 64 B'" "$tmp/nocpu/throughput.gp"
check "no CPU figures: cpu.png has no entry for it" \
    eval "grep -q \"title 'evecho, 64 B'\" '$tmp/nocpu/cpu.gp' &&
    ! grep -q \"title 'again, \" '$tmp/nocpu/cpu.gp'"
check "summary.md written" [ -s "$tmp/out/summary.md" ]
for heading in "## Ping-pong" "## Pipelined" "## Stream" "## Connect" \
    "## Hold" "## UDP"; do
	check "summary has $heading" grep -q "^$heading" "$tmp/out/summary.md"
done
check "summary has the ratio column" \
    grep -q "evecho/again msgs/s" "$tmp/out/summary.md"
check "summary has the 10-connection row" \
    grep -q "^| 64 B | 10 |" "$tmp/out/summary.md"
check "summary has the UDP ratio column" \
    grep -q "evecho/again dgrams/s | evecho/again CPU/dgram" \
    "$tmp/out/summary.md"
if command -v gnuplot >/dev/null 2>&1; then
	for png in throughput latency cpu; do
		check "$png.png is a PNG" eval \
		    "head -c 8 '$tmp/out/$png.png' | od -An -c | grep -q 'P   N   G'"
	done
	inline=$(grep -c '<img alt="[a-z]* plot" src="data:image/png;base64,' \
	    "$tmp/out/report.html")
	check "report.html has the three plots inline" [ "$inline" -eq 3 ]
else
	echo "# no gnuplot: PNG checks skipped"
	check "report.html says the plots are unavailable" \
	    grep -q "Plots unavailable" "$tmp/out/report.html"
fi
check "report.html has the ratio tables" \
    grep -q 'data-base="evecho,pingpong,pingpong,64,10,1" data-other="again,' \
    "$tmp/out/report.html"
check "report.html has the UDP ratio table" \
    grep -q 'data-base="evecho,udp,pingpong,64,10,1" data-other="again,udp,' \
    "$tmp/out/report.html"
check "report.html fetches nothing" \
    eval "! grep -Eiq '(src|href)=\"(https?:|//)' '$tmp/out/report.html'"

# Every server the script started is gone.
pids=$(sed -n \
    's/^[a-z]*: \(udp \)\{0,1\}127\.0\.0\.1:[0-9]*, pid \([0-9]*\)$/\2/p' \
    "$tmp/run.out")
check "server pids were reported" [ -n "$pids" ]
for pid in $pids; do
	check "server $pid stopped" eval "! kill -0 $pid 2>/dev/null"
done

# The same matrix as a 4-CPU machine runs it: getconf and nproc say 4, so
# load.sh pins servers to CPU 0 and the load to CPUs 1-3 and gives the
# benchmark 3 threads, and must still give a 1-connection point only one
# (it refuses more threads than connections).  This box may lack CPUs 2
# and 3, so the taskset shim records the CPU list it was asked for and runs
# the command unpinned rather than hand the kernel CPUs that do not exist.
shim=$tmp/shim
mkdir -p "$shim"
cat >"$shim/getconf" <<'EOF'
#!/bin/sh
[ "$1" = _NPROCESSORS_ONLN ] && { echo 4; exit 0; }
PATH=$SHIM_PATH exec getconf "$@"
EOF
printf '#!/bin/sh\necho 4\n' >"$shim/nproc"
cat >"$shim/taskset" <<'EOF'
#!/bin/sh
[ "$1" = -c ] || exit 2
echo "$*" >>"$TASKSET_LOG"
shift 2
exec "$@"
EOF
chmod +x "$shim/getconf" "$shim/nproc" "$shim/taskset"
SHIM_PATH=$PATH TASKSET_LOG=$tmp/taskset.log PATH=$shim:$PATH timeout 60 \
    "$srcdir/scripts/load.sh" --matrix smoke --repeat 1 --duration 0.2s \
    --out "$tmp/out4" --benchmark "$bench" >"$tmp/run4.out" 2>&1
status=$?
sed 's/^/# 4 CPUs: /' "$tmp/run4.out"
check "4 CPUs: smoke run exits 0" [ $status -eq 0 ]
check "4 CPUs: load.sh saw 4 CPUs" \
    grep -q 'load on CPU 1-3 (taskset), benchmark -T 3' "$tmp/run4.out"
check "4 CPUs: servers pinned to CPU 0" \
    grep -q '^-c 0 [^ ]*/evecho-server ' "$tmp/taskset.log"
check "4 CPUs: no CPU list but 0 and 1-3" \
    eval "! grep -v -e '^-c 0 ' -e '^-c 1-3 ' '$tmp/taskset.log'"
# Every benchmark process: -T at most its -c, and 3 when it has 3 or more.
check "4 CPUs: threads are min(3, connections)" awk -v bench="$bench" '
    $3 == bench {
	for (i = 4; i < NF; i++) {
		if ($i == "-c") c = $(i + 1)
		if ($i == "-T") t = $(i + 1)
	}
	n++
	if (t != (c < 3 ? c : 3)) bad++
    }
    END { exit !(n >= 6 && bad == 0) }' "$tmp/taskset.log"
for key in pingpong,pingpong,64,1,1 pingpong,pingpong,64,10,1 \
    stream,stream,4096,1,1 connect,connect,64,1,1 udp,pingpong,64,10,1; do
	check "4 CPUs: evecho $key" awk -F, -v key="evecho,$key" '
	    NR > 1 && ($1 "," $2 "," $3 "," $4 "," $5 "," $6) == key { f = 1 }
	    END { exit !f }' "$tmp/out4/results.csv"
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
