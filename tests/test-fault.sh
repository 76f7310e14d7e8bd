#!/bin/sh
# test-fault.sh: evecho-server --fault (tests/test-fault.py): every fault
# seen from the client's side, exactly; seeds that repeat; UDP faults as
# evecho-benchmark --udp counts them; a clean listener beside a faulty
# one.  Skips (77) without python3.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
PYTHONDONTWRITEBYTECODE=1 EVECHO_BUILDDIR=$EVECHO_BUILDDIR \
    timeout 240 "$python" "${EVECHO_SRCDIR:-..}/tests/test-fault.py" \
    "$TMPDIR_T"
