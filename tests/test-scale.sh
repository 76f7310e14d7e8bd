#!/bin/sh
# test-scale.sh: scripts/scale.sh --quick, the make-check size of the
# 100,000-connection run: 20,000 connections to a server of 2 workers from
# 2 evecho-benchmark processes in hold mode, each from a source address of
# its own.  Passes only when every connection opened and echoed once (each
# benchmark's own check: its exit status and JSON), all were held at the
# server through a ping-pong run, the table was printed, and no process the
# script started outlives it.  Then it is broken on purpose: more
# connections than the workers' --max-conns allow must fail.
# Skips (77) when this machine cannot: no python3, no benchmark built, or an
# open-file limit too low for 2 workers and 2 benchmark processes.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
builddir=$(cd "$EVECHO_BUILDDIR" && pwd) || exit 1
srcdir=${EVECHO_SRCDIR:-$builddir}
server=$builddir/src/evecho-server
bench=$builddir/src/evecho-benchmark
[ -x "$bench" ] || { echo "skip: no benchmark at $bench"; exit 77; }

# 20,000 connections in 2 workers (planned at 95% of --max-conns, the
# limit less ~30) and 2 benchmark processes (-c + 20 each) need ~10,600
# descriptors per process; scale.sh raises the soft limit to the hard one.
need=10600
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	echo "skip: open-file hard limit $hard < $need for 20,000 connections"
	exit 77
fi

out=$TMPDIR_T/quick.out
start=$(date +%s)
timeout 60 "$srcdir/scripts/scale.sh" --quick --timeout 50 \
    --server "$server" --benchmark "$bench" --json "$TMPDIR_T/quick.json" \
    >"$out" 2>&1
status=$?
took=$(( $(date +%s) - start ))
sed 's/^/# /' "$out"
if [ "$status" -eq 77 ]; then
	echo "skip: $(grep 'cannot run here' "$out" | head -1)"
	exit 77
fi
echo "# scale.sh --quick: status $status in ${took} s"
check "quick run exits 0" [ "$status" -eq 0 ]
check "20,000 held at the server" \
    grep -q '^connections held  *20,000 of 20,000 at the server' "$out"
check "benchmarks held 20,000, one echo each" \
    grep -q 'benchmarks report 20,000 held' "$out"
for row in "time to open them all" "server RSS (workers)" \
    "kernel TCP sockets" "kernel TCP buffer memory" "kernel slab" \
    "ping-pong while held  *p99 " "workers used  *2 " "accept backlog"; do
	check "table row: $row" grep -q "^$row" "$out"
done
check "says it changed nothing system-wide" \
    grep -q 'system-wide: nothing changed' "$out"
check "JSON figures" "$python" -c '
import json, sys
f = json.load(open(sys.argv[1]))
ok = (f["held"] == 20000 and f["benchmark_held"] == 20000 and
      f["workers"] == 2 and f["pingpong"]["p99_us"] > 0 and
      f["server_rss_per_conn"] > 0 and f["time_to_echo_s"] > 0)
sys.exit(0 if ok else 1)' "$TMPDIR_T/quick.json"

# Every process it started is gone: the server, its workers, the
# benchmarks.
pids=$(sed -n -e 's/^scale.sh: server pid \([0-9]*\) (supervisor), workers \([0-9 ]*\), port.*/\1 \2/p' \
    -e 's/^scale.sh: [0-9]* benchmark process(es) started, pids \([0-9 ]*\)$/\1/p' "$out")
check "pids reported" [ "$(echo $pids | wc -w)" -ge 5 ]
for pid in $pids; do
	check "pid $pid stopped" eval "! kill -0 $pid 2>/dev/null ||
	    grep -q '^State:.*Z' /proc/$pid/status"
done

# Broken on purpose: 4,000 connections to 2 workers of --max-conns 1,000
# each: the server closes about half at once, the benchmark says so, and
# the run must fail -- with the table, the refusals in it.
timeout 40 "$srcdir/scripts/scale.sh" --conns 4000 --workers 2 \
    --max-conns 1000 --hold 3 --pingpong 2,0.5 --timeout 30 \
    --server "$server" --benchmark "$bench" >"$TMPDIR_T/broken.out" 2>&1
status=$?
sed 's/^/# broken: /' "$TMPDIR_T/broken.out"
check "too few --max-conns: exits 1" [ "$status" -eq 1 ]
check "too few --max-conns: says FAIL" \
    grep -q '^scale.sh: FAIL: .* connection(s) failed' "$TMPDIR_T/broken.out"
check "too few --max-conns: refusals in the table" \
    grep -q 'refused by the server: .*max_conns [1-9]' "$TMPDIR_T/broken.out"
pids=$(sed -n -e 's/^scale.sh: server pid \([0-9]*\) (supervisor), workers \([0-9 ]*\), port.*/\1 \2/p' \
    -e 's/^scale.sh: [0-9]* benchmark process(es) started, pids \([0-9 ]*\)$/\1/p' \
    "$TMPDIR_T/broken.out")
for pid in $pids; do
	check "broken run: pid $pid stopped" eval "! kill -0 $pid 2>/dev/null ||
	    grep -q '^State:.*Z' /proc/$pid/status"
done

finish
