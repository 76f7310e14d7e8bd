#!/bin/sh
# test-man.sh: every man page formats without a single warning from groff
# (man --warnings).  A page with a known fault is linted first, so a lint
# that has stopped reporting cannot pass the real pages vacuously.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
skip_unless man

# lint PAGE: groff's warnings about PAGE on standard output.
lint() {
	LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null
}

printf '.TH BAD 1\n.SH NAME\nbad \\- a page with a fault\n.nosuchmacro x\n' \
    >"$TMPDIR_T/bad.1"
check "the lint reports a fault" test -n "$(lint "$TMPDIR_T/bad.1")"

for page in "${EVECHO_SRCDIR:-..}"/man/*.[1-8]; do
	out=$(lint "$page")
	check "$(basename "$page") has no warnings" test -z "$out"
	[ -z "$out" ] || echo "$out"
done
finish
