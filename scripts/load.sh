#!/bin/sh
# load.sh: measure evecho-server under load with evecho-benchmark.
#
# The command users run (and `make bench`); scripts/load.py does the work:
# it starts the build tree's server (or uses --target) and any --vs servers,
# pins them and the load to separate CPUs, runs the matrix, reads each
# server's CPU and memory from /proc, stops what it started by pid, and
# has scripts/loadreport.py write runs.csv, results.csv, summary.md, the
# gnuplot PNGs and report.html.  --compare OLD NEW starts nothing and
# compares two results folders.  See --help.
#
# Run it from the top of the build tree (VPATH builds included), or with
# `make bench BENCH_ARGS='--quick'`.  Plain sh, since make runs it with
# $(SHELL).
python=${PYTHON3:-python3}
here=$(cd "$(dirname "$0")" && pwd) || exit 1
if ! command -v "$python" >/dev/null 2>&1; then
	echo "load.sh: python3 not found (set PYTHON3)" >&2
	exit 1
fi
exec "$python" "$here/load.py" "$@"
