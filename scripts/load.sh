#!/usr/bin/env bash
# load.sh: measure evecho-server under load with evecho-benchmark.
#
# Starts the build tree's server (or uses --target), and any --vs servers
# side by side, pins servers to CPU 0 and the load to the other CPUs, runs a
# matrix of ping-pong, pipelined, stream, connect and hold points, repeats
# each and keeps the median.  Next to each throughput goes the server's CPU
# time per echoed message, read from /proc: on a small machine the load
# generator is often the bottleneck, and only the server's own cost per
# message shows how efficient it is.  Writes runs.jsonl, runs.csv,
# results.csv, summary.md and gnuplot PNGs into --out.
#
# Run it from the top of the build tree (VPATH builds included), or with
# `make bench BENCH_ARGS='--quick'`.

# make runs this with $(SHELL), which may be a plain sh: move to bash.
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
set -euo pipefail

prog=load.sh
here=$(cd "$(dirname "$0")" && pwd)
helper=$here/load-report.py
python=${PYTHON3:-python3}

usage() {
	cat <<EOF
Usage: scripts/load.sh [OPTION]...
Measure evecho-server under load with evecho-benchmark; run it from the top
of the build tree.

  --target HOST:PORT  load a server that is already running instead of
                      starting ./src/evecho-server (its CPU and memory are
                      read only when its process is visible in /proc)
  --vs [NAME=]COMMAND also start COMMAND and run every point against it
                      too; {port} in COMMAND becomes a free port, otherwise
                      COMMAND must print "listening on HOST:PORT"; NAME
                      defaults to the command's base name; repeatable
  --out DIR           results folder (default bench-results/DATE-TIME)
  --quick             the quick matrix, 1s points, 5 repeats (about three
                      minutes per server on two cores)
  --matrix NAME       full, quick or smoke (default full, or quick with
                      --quick)
  --repeat N          runs per point, the median is reported (default 5;
                      quick 5; smoke 1)
  --duration D        measured time per run: 3s, 500ms (default 3s; quick
                      1s; smoke 0.3s)
  --warmup D          uncounted time before each run (default a third of
                      the duration, at most 1s)
  --server PATH       the server to start (default \$EVECHO_SERVER or
                      ./src/evecho-server)
  --benchmark PATH    the load generator (default \$EVECHO_BENCHMARK or
                      ./src/evecho-benchmark)
  --source ADDR       pass --source ADDR to the benchmark: bind its
                      connections to ADDR (e.g. 127.0.0.2); repeatable.
                      Only when ephemeral ports run short: explicitly bound
                      ports stay out of every connect's reach while in
                      TIME_WAIT, so connect runs slow down
  --per-process N     connections per benchmark process; more start more
                      processes (default the open-file limit less 100)
  --no-pin            do not pin server and load to separate CPUs
  -h, --help          show this help and exit

Matrices (connections; 64 B and 4 KiB messages unless said):
  full   ping-pong 1 10 100 1000 10000; pipelined depth 16 at 10 100 1000
         (64 B) and 100 (4 KiB), depth 4 at 8 (16 KiB); stream 1 10 100
         (4 KiB) and 10 (64 B); connect 1 10 100; hold 1000 10000
  quick  ping-pong 1 10 100 1000 10000; pipelined 100 (64 B, depth 16)
         and 8 (16 KiB, depth 4); stream 10 (4 KiB); connect 10; hold 10000
  smoke  ping-pong 1 10 (64 B); pipelined 10 (depth 4); stream 1 (4 KiB);
         connect 1; hold 10

Exit status: 0 when every run reported; 1 when a run gave no report, found
mismatched echoes or a server died; 64 for a bad command line.
EOF
}

# One line on stderr, exit 64.
bad_usage() {
	echo "$prog: $1 (see --help)" >&2
	exit 64
}

# One line on stderr, exit 1.
die() {
	echo "$prog: $1" >&2
	exit 1
}

# Seconds in a duration (3, 3s, 0.3s, 500ms), or fail.
seconds() {
	[[ $1 =~ ^([0-9]+(\.[0-9]+)?)(ms|s)?$ ]] || return 1
	if [ "${BASH_REMATCH[3]}" = ms ]; then
		awk -v v="${BASH_REMATCH[1]}" 'BEGIN { print v / 1000 }'
	else
		echo "${BASH_REMATCH[1]}"
	fi
}

target="" out="" matrix="" repeat="" duration="" warmup="" pin=1 per_proc=""
server_bin=${EVECHO_SERVER:-./src/evecho-server}
bench_bin=${EVECHO_BENCHMARK:-./src/evecho-benchmark}
vs=() source=()
while [ $# -gt 0 ]; do
	opt=$1 val="" has_val=0
	case $opt in
	--*=*) val=${opt#*=} opt=${opt%%=*} has_val=1 ;;
	esac
	case $opt in
	--target | --vs | --out | --matrix | --repeat | --duration | --warmup | \
	    --server | --benchmark | --source | --per-process)
		if [ $has_val -eq 0 ]; then
			[ $# -ge 2 ] || bad_usage "$opt needs a value"
			val=$2
			shift
		fi
		;;
	--quick | --no-pin | -h | --help)
		[ $has_val -eq 0 ] || bad_usage "$opt takes no value"
		;;
	*) bad_usage "unknown option $opt" ;;
	esac
	shift
	case $opt in
	--target)
		[[ $val =~ ^(\[[0-9a-fA-F:]+\]|[^:]+):[0-9]+$ ]] ||
			bad_usage "--target wants HOST:PORT, not '$val'"
		target=$val
		;;
	--vs)
		[ -n "$val" ] || bad_usage "--vs wants a command"
		vs+=("$val")
		;;
	--out) out=$val ;;
	--quick) matrix=${matrix:-quick} ;;
	--matrix)
		case $val in
		full | quick | smoke) matrix=$val ;;
		*) bad_usage "--matrix is full, quick or smoke, not '$val'" ;;
		esac
		;;
	--repeat)
		[[ $val =~ ^[1-9][0-9]{0,2}$ ]] ||
			bad_usage "--repeat wants 1 to 999, not '$val'"
		repeat=$val
		;;
	--duration)
		if ! seconds "$val" >/dev/null || [ "$(seconds "$val")" = 0 ]; then
			bad_usage "--duration wants 3s, 0.5s or 500ms, not '$val'"
		fi
		duration=$val
		;;
	--warmup)
		seconds "$val" >/dev/null ||
			bad_usage "--warmup wants 1s, 0.5s or 500ms, not '$val'"
		warmup=$val
		;;
	--server) server_bin=$val ;;
	--source)
		[[ $val =~ ^[0-9a-fA-F.:]+$ ]] ||
			bad_usage "--source wants an address, not '$val'"
		source+=("$val")
		;;
	--benchmark) bench_bin=$val ;;
	--per-process)
		[[ $val =~ ^[1-9][0-9]{0,6}$ ]] ||
			bad_usage "--per-process wants a count of connections, not '$val'"
		per_proc=$val
		;;
	--no-pin) pin=0 ;;
	-h | --help)
		usage
		exit 0
		;;
	esac
done

matrix=${matrix:-full}
case $matrix in
full) : "${repeat:=5}" "${duration:=3s}" ;;
quick) : "${repeat:=5}" "${duration:=1s}" ;;
smoke) : "${repeat:=1}" "${duration:=0.3s}" ;;
esac
[[ $duration =~ [a-z]$ ]] || duration=${duration}s
dur_s=$(seconds "$duration")
if [ -z "$warmup" ]; then
	warmup=$(awk -v d="$dur_s" 'BEGIN { w = d / 3; if (w > 1) w = 1;
	    printf "%.0fms", w * 1000 }')
fi
[[ $warmup =~ [a-z]$ ]] || warmup=${warmup}s
warm_s=$(seconds "$warmup")

# The points: test mode size connections depth.
matrix_points() {
	local size conns
	case $matrix in
	full)
		for size in 64 4096; do
			for conns in 1 10 100 1000 10000; do
				echo "pingpong pingpong $size $conns 1"
			done
		done
		for conns in 10 100 1000; do
			echo "pipelined pingpong 64 $conns 16"
		done
		echo "pipelined pingpong 4096 100 16"
		echo "pipelined pingpong 16384 8 4"
		echo "stream stream 64 10 1"
		for conns in 1 10 100; do
			echo "stream stream 4096 $conns 1"
		done
		for conns in 1 10 100; do
			echo "connect connect 64 $conns 1"
		done
		echo "hold hold 64 1000 1"
		echo "hold hold 64 10000 1"
		;;
	quick)
		for size in 64 4096; do
			for conns in 1 10 100 1000 10000; do
				echo "pingpong pingpong $size $conns 1"
			done
		done
		echo "pipelined pingpong 64 100 16"
		echo "pipelined pingpong 16384 8 4"
		echo "stream stream 4096 10 1"
		echo "connect connect 64 10 1"
		echo "hold hold 64 10000 1"
		;;
	smoke)
		echo "pingpong pingpong 64 1 1"
		echo "pingpong pingpong 64 10 1"
		echo "pipelined pingpong 64 10 4"
		echo "stream stream 4096 1 1"
		echo "connect connect 64 1 1"
		echo "hold hold 64 10 1"
		;;
	esac
}

# Preconditions: the binaries, python, a results folder.
command -v "$python" >/dev/null 2>&1 || die "python3 not found (set PYTHON3)"
[ -f "$helper" ] || die "missing $helper"
[ -x "$bench_bin" ] || die "no benchmark at $bench_bin: build it, or set EVECHO_BENCHMARK or --benchmark"
if [ -z "$target" ] && [ ! -x "$server_bin" ]; then
	die "no server at $server_bin: run from the top of the build tree, or use --server or --target"
fi
out=${out:-bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out/logs" || die "cannot create $out"
runs=$out/runs.jsonl
: >"$runs"
: >"$out/benchmark.stderr"

# Room for 10000 connections: raise the soft open-file limit if allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
[ "$fd_limit" = unlimited ] && fd_limit=1048576
# One benchmark process holds at most the open-file limit less a reserve.
per_proc=${per_proc:-$((fd_limit - 100))}

# Servers on CPU 0, the load on the others, when there are two or more.
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
server_pin=() load_pin=() threads=1
if [ $pin -eq 1 ] && [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
	load_cpus=1
	[ "$ncpu" -eq 2 ] || load_cpus=1-$((ncpu - 1))
	server_pin=(taskset -c 0)
	load_pin=(taskset -c "$load_cpus")
	threads=$((ncpu - 1))
	pinning="servers on CPU 0, load on CPU $load_cpus (taskset), benchmark -T $threads"
	# A --target runs wherever it was started.
	[ -z "$target" ] || pinning="servers started here on CPU 0 (not the --target, which runs where it was started), load on CPU $load_cpus (taskset), benchmark -T $threads"
	pinning_short="server CPU 0, load CPU $load_cpus"
elif [ $pin -eq 1 ]; then
	pinning="none: $ncpu CPU(s) or no taskset; server and load share CPUs"
	pinning_short="unpinned, $ncpu CPU(s)"
else
	pinning="none (--no-pin)"
	pinning_short="unpinned"
fi

# The servers: name, kind (evecho, vs, target), command, and once started
# the pid we started (spid), the pid we measure (mpid), host and port.
names=() kinds=() cmds=() spid=() mpid=() hosts=() ports=() starts=()
add_server() {
	local name=$1 n=2
	while printf '%s\n' "${names[@]}" | grep -qxF -- "$name"; do
		name=$1-$n
		n=$((n + 1))
	done
	names+=("$name")
	kinds+=("$2")
	cmds+=("$3")
	spid+=("")
	mpid+=("")
	hosts+=("127.0.0.1")
	ports+=("")
	starts+=(0)
}
if [ -n "$target" ]; then
	add_server target target "$target"
else
	add_server evecho evecho "$server_bin -q -l 127.0.0.1:0"
fi
for v in "${vs[@]}"; do
	if [[ $v =~ ^([A-Za-z0-9_.-]+)=(.+)$ ]]; then
		add_server "${BASH_REMATCH[1]}" vs "${BASH_REMATCH[2]}"
	else
		first=${v%% *}
		add_server "$(basename -- "$first")" vs "$v"
	fi
done

# Start server $1 (again, when it ran before) and wait until it accepts.
start_server() {
	local i=$1 log port="" cmd pid
	starts[i]=$((starts[i] + 1))
	log=$out/logs/${names[i]}.${starts[i]}.log
	case ${kinds[i]} in
	target)
		hosts[i]=${cmds[i]%:*}
		hosts[i]=${hosts[i]#[}
		hosts[i]=${hosts[i]%]}
		ports[i]=${cmds[i]##*:}
		mpid[i]=$("$python" "$helper" port-pid "${ports[i]}" || true)
		return 0
		;;
	evecho)
		"${server_pin[@]}" "$server_bin" -q -l 127.0.0.1:0 >"$log" 2>&1 &
		;;
	vs)
		cmd=${cmds[i]}
		if [[ $cmd == *"{port}"* ]]; then
			port=$("$python" "$helper" freeport)
			cmd=${cmd//"{port}"/$port}
		fi
		"${server_pin[@]}" bash -c "exec $cmd" >"$log" 2>&1 &
		;;
	esac
	spid[i]=$!
	port=$("$python" "$helper" wait-server "$log" "${spid[i]}" ${port:+"$port"}) ||
		die "${names[i]} did not start: $(tail -3 "$log" | tr '\n' ' ')"
	ports[i]=$port
	# A wrapper may have started the real server: measure the listener.
	pid=$("$python" "$helper" port-pid "$port" || true)
	mpid[i]=${pid:-${spid[i]}}
}

# True while process $1 runs (exists and is not a zombie).
running() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Stop server $1 by pid: SIGTERM, then SIGKILL after 2.5 s.
stop_server() {
	local i=$1 p n status=0
	[ "${kinds[i]}" != target ] || return 0
	for p in "${mpid[i]}" "${spid[i]}"; do
		if [ -z "$p" ] || ! running "$p"; then
			continue
		fi
		kill -TERM "$p" 2>/dev/null || continue
		for ((n = 0; n < 50; n++)); do
			running "$p" || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -n "${spid[i]}" ]; then
		wait "${spid[i]}" 2>/dev/null || status=$?
		if [ "${kinds[i]}" = evecho ] && [ $status -ne 0 ]; then
			echo "$prog: warning: ${names[i]} exited with status $status after SIGTERM" >&2
		fi
	fi
	spid[i]="" mpid[i]=""
}

# Every server we started goes when the script ends, however it ends.
cleanup() {
	local i
	for i in "${!names[@]}"; do
		stop_server "$i"
	done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for i in "${!names[@]}"; do
	start_server "$i"
	echo "${names[i]}: ${hosts[i]}:${ports[i]}, pid ${mpid[i]:-unknown}"
done

# The benchmark's size argument: 4096 -> 4k.
size_arg() {
	if [ $(($1 % 1024)) -eq 0 ]; then echo "$(($1 / 1024))k"; else echo "$1"; fi
}

# Run one point against server $1; the rest are labels.
run_point() {
	local i=$1 test=$2 mode=$3 size=$4 conns=$5 depth=$6 rep=$7
	local procs left n nthr k limit host=${hosts[i]}
	local -a argv=() sources=() warm=(-w "$warmup") deep=()
	# Connect runs count from the start, so that server CPU and the
	# connections counted span the same time; hold has no warm-up.
	case $mode in
	connect) warm=(-w 0s) ;;
	hold) warm=() ;;
	esac
	[ "$mode" != pingpong ] || deep=(-d "$depth")
	for k in "${source[@]}"; do
		sources+=(--source "$k")
	done
	procs=$(((conns + per_proc - 1) / per_proc))
	limit=$(awk -v d="$dur_s" -v w="$warm_s" -v c="$conns" \
	    'BEGIN { printf "%d", d + w + 20 + c / 500 + 0.999 }')
	[[ $host == *:* ]] && host="[$host]"
	left=$conns
	for ((k = 0; k < procs; k++)); do
		n=$((left / (procs - k)))
		left=$((left - n))
		# The benchmark refuses more threads than connections.
		nthr=$((threads < n ? threads : n))
		[ $k -eq 0 ] || argv+=(";;")
		argv+=(timeout -k 5 "$limit" "${load_pin[@]}" "$bench_bin" -q --json
		    --mode "$mode" -c "$n" -s "$(size_arg "$size")" "${deep[@]}"
		    -t "$duration" "${warm[@]}" -T "$nthr" "${sources[@]}"
		    "$host:${ports[i]}")
	done
	"${load_pin[@]}" "$python" "$helper" measure --runs "$runs" --pid "${mpid[i]:-0}" \
	    --stderr "$out/benchmark.stderr" --merge-with "$bench_bin" \
	    --label "server=${names[i]}" --label "kind=${kinds[i]}" --label "test=$test" \
	    --label "mode=$mode" --label "size=$size" --label "conns=$conns" \
	    --label "depth=$depth" --label "rep=$rep" -- "${argv[@]}"
}

mapfile -t points < <(matrix_points)
total=$((${#points[@]} * repeat * ${#names[@]}))
echo "$matrix matrix: ${#points[@]} points x $repeat repeats x ${#names[@]} server(s), $duration each (+$warmup warm-up); $pinning"
echo "results in $out"
failures=0 done_runs=0
for point in "${points[@]}"; do
	read -r test mode size conns depth <<<"$point"
	for ((rep = 1; rep <= repeat; rep++)); do
		for i in "${!names[@]}"; do
			done_runs=$((done_runs + 1))
			# Memory per connection is measured on a fresh process.
			if [ "$mode" = hold ] && [ "${kinds[i]}" != target ]; then
				stop_server "$i"
				start_server "$i"
			fi
			printf '[%d/%d] %s %s %sB x %s conns (depth %s, run %d): ' \
			    "$done_runs" "$total" "${names[i]}" "$test" "$size" \
			    "$conns" "$depth" "$rep"
			run_point "$i" "$test" "$mode" "$size" "$conns" "$depth" \
			    "$rep" || failures=$((failures + 1))
			if [ -n "${spid[i]}" ] && ! running "${spid[i]}"; then
				echo "$prog: ${names[i]} died; see $out/logs; restarting it" >&2
				failures=$((failures + 1))
				stop_server "$i"
				start_server "$i"
			fi
		done
	done
done

meta=(--meta "date=$(date '+%Y-%m-%d %H:%M')"
    --meta "host=$(uname -sr), $ncpu CPU(s) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), open-file limit $fd_limit"
    --meta "pinning=$pinning" --meta "pinning_short=$pinning_short"
    --meta "benchmark=\`$bench_bin\`, one process per $per_proc connections${source[*]:+, sources ${source[*]}}"
    --meta "matrix=$matrix (${#points[@]} points)"
    --meta "timing=$duration measured after $warmup warm-up (none for connect and hold), $repeat run(s) per point, servers interleaved"
    --meta "repeats=$repeat")
for i in "${!names[@]}"; do
	meta+=(--meta "server.${names[i]}=${cmds[i]}")
	if [ "${kinds[i]}" != target ]; then
		continue
	elif [ -n "${mpid[i]}" ]; then
		meta+=(--meta "note.${names[i]}=already running (pid ${mpid[i]}), neither started nor pinned here: its CPU and bytes are read from /proc, but it was not fresh for the hold point, so no memory per connection")
	else
		meta+=(--meta "note.${names[i]}=already running, its process not visible here: no CPU or memory figures")
	fi
done
"$python" "$helper" report "$out" --servers "$(
	IFS=,
	echo "${names[*]}"
)" "${meta[@]}"
if [ $failures -gt 0 ]; then
	echo "$prog: $failures run(s) failed; see $out/summary.md and $out/benchmark.stderr" >&2
	exit 1
fi
