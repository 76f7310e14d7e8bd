#!/bin/sh
# test-workers.sh: evecho-server --workers (tests/test-workers.py): four
# workers on one port, connections spread, a worker killed and restarted
# while the port serves, a drain of every worker.  Skips (77) without
# python3 or promtool (scripts/install-deps installs both).
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
skip_unless promtool
PYTHONDONTWRITEBYTECODE=1 EVECHO_BUILDDIR=$EVECHO_BUILDDIR \
    timeout 150 "$python" "${EVECHO_SRCDIR:-..}/tests/test-workers.py" \
    "$TMPDIR_T"
