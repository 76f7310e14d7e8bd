#!/bin/sh
# test-no-check.sh: ./configure on a machine without Check (a pkg-config
# that has never heard of it) builds the three programs, says that make
# check needs Check, and make check then fails saying the same: it never
# passes without its tests.  A build of its own, from a clean copy of
# the distribution (make distdir), so an in-tree build does not get in the
# way.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
skip_unless pkg-config
T=$TMPDIR_T
srcdir=$T/src
make -s -C "$EVECHO_BUILDDIR" distdir distdir="$srcdir" >"$T/dist.out" 2>&1 ||
    { cat "$T/dist.out"; echo "FAIL: make distdir"; exit 1; }

cat >"$T/pkg-config" <<'PC'
#!/bin/sh
for a in "$@"; do case $a in check|check\ *) exit 1;; esac; done
exec pkg-config "$@"
PC
chmod +x "$T/pkg-config"
mkdir "$T/build"
cd "$T/build" || exit 99

check "configure succeeds without Check" sh -c \
    "PKG_CONFIG='$T/pkg-config' '$srcdir/configure' -q >'$T/conf.out' 2>&1"
check "configure says make check needs Check" \
    grep -q "make check needs Check" "$T/conf.out"
check "the programs build" sh -c "make -j2 >'$T/make.out' 2>&1"
for p in evecho-server evecho-cli evecho-benchmark; do
	check "$p runs" sh -c "./src/$p --version >/dev/null"
done
make -j2 check >"$T/check.out" 2>&1
rc=$?
check "make check fails ($rc)" test "$rc" -ne 0
check "saying that it needs Check" grep -q "make check needs Check" "$T/check.out"
check "before running any test" sh -c "! grep -q '^PASS:' '$T/check.out'"
[ "$FAILED" -eq 0 ] || tail -20 "$T/conf.out" "$T/make.out" "$T/check.out"
finish
