#!/bin/sh
# test-load-browser.sh: scripts/load.sh's report.html in a real browser.
# Headless Chromium, network off, opens the report of the run checked in at
# tests/report/run-a, that of the UDP point's (run-u) and the comparison of
# run-a with run-b; the page's
# own script records how wide each plot decoded, and
# tests/report/check_report_dom.py checks the dumped DOM: every plot
# decoded in full, and the tables' figures are results.csv's (compare.csv's).  Then
# it breaks one figure and one plot in a copy and wants the check to fail.
# Skips (77) without python3 or chromium.
srcdir=${EVECHO_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export PYTHON3=${PYTHON3:-python3}
export PYTHONDONTWRITEBYTECODE=1
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}

if ! command -v "$PYTHON3" >/dev/null 2>&1; then
	echo "SKIP: no python3"
	exit 77
fi
if [ -z "$chromium" ]; then
	echo "SKIP: no chromium (scripts/install-deps installs it)"
	exit 77
fi

# lib.sh: check, finish, and a temporary folder removed at exit.
. "$srcdir/tests/lib.sh"
tmp=$TMPDIR_T

# Open page $1 in the browser and check it; the rest are the checker's.
browse() {
	page=$1
	shift
	timeout 90 "$PYTHON3" "$srcdir/tests/report/check_report_dom.py" \
	    "$chromium" "$page" --timeout 60 "$@" >"$page.check" 2>&1
	status=$?
	sed 's/^/# /' "$page.check"
	return $status
}

# With gnuplot the reports carry three plots; without, they say why not.
plots=0
command -v gnuplot >/dev/null 2>&1 && plots=3

# A report of the checked-in run, made where it may write (make distcheck's
# source tree is read-only).
mkdir "$tmp/run"
cp "$srcdir/tests/report/run-a/runs.jsonl" "$srcdir/tests/report/run-a/meta.json" "$tmp/run/"
check "report made" "$PYTHON3" "$srcdir/scripts/loadreport.py" report "$tmp/run"
check "report in the browser" browse "$tmp/run/report.html" \
    --results "$tmp/run/results.csv" --plots $plots

# The UDP point's run: its table and ratio cells are results.csv's too; it
# has no ping-pong over TCP, so no plots.
mkdir "$tmp/udp"
cp "$srcdir/tests/report/run-u/runs.jsonl" \
    "$srcdir/tests/report/run-u/meta.json" "$tmp/udp/"
check "UDP report made" "$PYTHON3" "$srcdir/scripts/loadreport.py" report \
    "$tmp/udp"
check "UDP report in the browser" browse "$tmp/udp/report.html" \
    --results "$tmp/udp/results.csv" --plots 0

check "comparison made" sh "$srcdir/scripts/load.sh" --compare \
    "$srcdir/tests/report/run-a" "$srcdir/tests/report/run-b" --out "$tmp/cmp"
check "comparison in the browser" browse "$tmp/cmp/report.html" \
    --compare "$tmp/cmp/compare.csv" --plots $plots

# The check must see a wrong figure and a plot that does not decode: in a
# copy, evecho's 64 B x 10 msgs/s (75087) becomes 75088 and, with plots,
# the middle of the first PNG turns to zeros.
"$PYTHON3" - "$tmp/run/report.html" "$tmp/bad.html" <<'PY'
import re, sys
page = open(sys.argv[1]).read()
page, n = re.subn(r'(data-key="evecho,pingpong,pingpong,64,10,1".*?'
                  r'data-col="msgs_per_sec">)75087<', r"\g<1>75088<", page,
                  count=1, flags=re.S)
assert n == 1, "no such figure"
m = re.search(r'base64,([^"]+)"', page)
if m:
    mid = m.start(1) + len(m.group(1)) // 2
    page = page[:mid] + "A" * 2000 + page[mid + 2000:]
open(sys.argv[2], "w").write(page)
PY
browse "$tmp/bad.html" --results "$tmp/run/results.csv" --plots $plots
check "a broken report fails the check" [ $? -eq 1 ]
check "the wrong figure is named" grep -q \
    "FAIL - evecho,pingpong,pingpong,64,10,1 msgs_per_sec: page '75088'" \
    "$tmp/bad.html.check"
if [ $plots -gt 0 ]; then
	check "the broken plot is named" grep -q \
	    "FAIL - throughput plot decoded, 1000 px wide, [0-9.]*% drawn" \
	    "$tmp/bad.html.check"
fi

finish
