#!/bin/sh
# run-fuzz.sh SECONDS TARGET...: fuzz each target for SECONDS on a copy of
# its seed corpus (tests/fuzz/corpus/TARGET; new inputs stay in the build
# tree's tests/fuzz/work/TARGET).  A crash is saved under
# tests/fuzz/crash/TARGET/ and named at the end: copy it to
# tests/fuzz/regress/TARGET/ so that make check replays it.  Exits 1 when
# any target crashed.
set -u
secs=$1
shift
srcdir=${EVECHO_SRCDIR:-.}
failed=""
for t in "$@"; do
	name=$(basename "$t")
	work=tests/fuzz/work/$name
	crash=tests/fuzz/crash/$name
	mkdir -p "$work" "$crash" || exit 1
	cp "$srcdir/tests/fuzz/corpus/$name"/* "$work/" 2>/dev/null
	chmod u+w "$work"/* 2>/dev/null
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -print_final_stats=0 \
	    -artifact_prefix="$crash/" "$work" >"$crash.log" 2>&1; then
		tail -30 "$crash.log"
		failed="$failed $name"
	fi
	grep -E '^#[0-9]+.*DONE' "$crash.log" | tail -1
done
if [ -n "$failed" ]; then
	echo "fuzz: crashes in:$failed; inputs:"
	for name in $failed; do
		ls tests/fuzz/crash/"$name"/* 2>/dev/null | sed 's/^/  /'
	done
	exit 1
fi
echo "fuzz: no crashes"
