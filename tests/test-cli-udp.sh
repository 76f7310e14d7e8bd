#!/bin/sh
# test-cli-udp.sh: evecho-cli -u (tests/test-cli-udp.py): -m and line mode
# against evecho-server -u over 127.0.0.1 and ::1, tries and --timeout
# against a stub that ignores the first datagrams, late and stray
# datagrams never taken for the echo, a closed port refused at once.
# Skips (77) without python3.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
PYTHONDONTWRITEBYTECODE=1 EVECHO_BUILDDIR=$EVECHO_BUILDDIR \
    timeout 120 "$python" "${EVECHO_SRCDIR:-..}/tests/test-cli-udp.py" \
    "$TMPDIR_T"
