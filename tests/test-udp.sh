#!/bin/sh
# test-udp.sh: evecho-server -u, the UDP echo (tests/test-udp.py): every
# size UDP carries, byte-exact, over IPv4 and IPv6; 100 flows at once; the
# loop guard, --udp-rate, and a receive-buffer overflow counted to the
# datagram.  Skips (77) without python3.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
python=${PYTHON3:-python3}
skip_unless "$python"
PYTHONDONTWRITEBYTECODE=1 EVECHO_BUILDDIR=$EVECHO_BUILDDIR \
    timeout 120 "$python" "${EVECHO_SRCDIR:-..}/tests/test-udp.py" \
    "$TMPDIR_T"
