#!/bin/sh
# test-load-report.sh: the unit tests of scripts/loadreport.py (medians,
# results.csv, summary.md, plots, report.html, compare) on the runs checked
# in under tests/report/, and of scripts/load.py's parts that start nothing.
# Skips (77) without python3.
srcdir=${EVECHO_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
python=${PYTHON3:-python3}

if ! command -v "$python" >/dev/null 2>&1; then
	echo "SKIP: no python3"
	exit 77
fi
# No __pycache__ in the source tree (read-only under make distcheck).
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$srcdir/scripts \
    exec timeout 120 "$python" -m unittest discover -v \
    -s "$srcdir/tests/report" -p 'test_*.py'
