#!/bin/sh
# test-fuzz-regress.sh: replay every saved input through its libFuzzer
# target, no fuzzing: the regression inputs (crashes once found, under
# tests/fuzz/regress/TARGET/) and the seed corpus.  Any crash or failed
# invariant fails the test.
builddir=${EVECHO_BUILDDIR:-.}
srcdir=${EVECHO_SRCDIR:-.}
passed=0 failed=0
for bin in "$builddir"/tests/fuzz/fuzz_*; do
	name=$(basename "$bin")
	# In a build in the source tree the targets' sources match too.
	case $name in *.*) continue ;; esac
	[ -x "$bin" ] || continue
	set --
	for f in "$srcdir/tests/fuzz/regress/$name"/* \
	    "$srcdir/tests/fuzz/corpus/$name"/*; do
		[ -f "$f" ] && set -- "$@" "$f"
	done
	if [ $# -eq 0 ]; then
		echo "FAIL: $name: no inputs"
		failed=$((failed + 1))
	elif "$bin" "$@" >"$builddir/tests/fuzz/$name.replay" 2>&1; then
		echo "ok: $name: $# inputs"
		passed=$((passed + 1))
	else
		sed 's/^/# /' "$builddir/tests/fuzz/$name.replay" | tail -30
		echo "FAIL: $name"
		failed=$((failed + 1))
	fi
done
[ $((passed + failed)) -gt 0 ] || { echo "FAIL: no fuzz targets built"; exit 1; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
