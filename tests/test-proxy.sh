#!/bin/sh
# test-proxy.sh: evecho-server --proxy-protocol and --proxy-trusted
# (tests/test-proxy.py): headers of both versions, whole and in pieces,
# never echoed; the header's address in the log and per source; bad,
# missing and untrusted headers closed and counted.  Skips (77) without
# python3.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
PYTHONDONTWRITEBYTECODE=1 EVECHO_BUILDDIR=$EVECHO_BUILDDIR \
    timeout 120 "$python" "${EVECHO_SRCDIR:-..}/tests/test-proxy.py" \
    "$TMPDIR_T"
