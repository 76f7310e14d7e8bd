#!/bin/sh
# check_server with every server it starts under valgrind's memcheck:
# each end-to-end test then also fails on any memory error or leak (the
# harness wraps the server; see harness_under_valgrind).  Tests whose
# bounds cannot hold under valgrind skip themselves and say why.
VG=${VALGRIND:-valgrind}
command -v "$VG" >/dev/null 2>&1 || { echo "skip: no valgrind"; exit 77; }
# ASan and valgrind cannot share a process.
[ "${EVECHO_SANITIZERS:-no}" = yes ] && { echo "skip: sanitizer build"; exit 77; }

EVECHO_VALGRIND_SERVER=$(command -v "$VG")
# Check's own per-test timer; the harness stretches its deadlines itself.
CK_TIMEOUT_MULTIPLIER=5
export EVECHO_VALGRIND_SERVER CK_TIMEOUT_MULTIPLIER
exec "${EVECHO_BUILDDIR:-..}/tests/check_server"
