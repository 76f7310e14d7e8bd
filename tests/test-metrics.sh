#!/bin/sh
# test-metrics.sh: evecho-server --metrics, each counter provoked and read
# back through /metrics (checked by promtool), /stats.json and the exit
# line (tests/test-metrics.py).  Skips (77) without python3 or promtool
# (Debian's prometheus package; scripts/install-deps installs it).
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
skip_unless promtool
PYTHONDONTWRITEBYTECODE=1 EVECHO_BUILDDIR=$EVECHO_BUILDDIR \
    timeout 120 "$python" "${EVECHO_SRCDIR:-..}/tests/test-metrics.py" \
    "$TMPDIR_T"
