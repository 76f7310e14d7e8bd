#!/bin/sh
# evecho-cli as a script sees it: in pipelines with ordinary tools, in
# $(...), with a reader that quits early; and its --help and man page
# agreeing.  One evecho-server for them all (tests/lib.sh stops it by PID);
# every client run is bounded by timeout(1).
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

srcdir=${EVECHO_SRCDIR:-..}
cli=$EVECHO_BUILDDIR/src/evecho-cli
tmp=$TMPDIR_T

# Run the client with a deadline.
run_cli() {
	timeout 30 "$cli" "$@"
}

start_server || exit 1
addr=127.0.0.1:$SERVER_PORT

# -m in command substitution: exactly the text back.
check "-m in \$(...)" sh -c "[ \"\$(timeout 30 '$cli' -m 'hello, script' $addr)\" = 'hello, script' ]"

# A pipeline of ordinary tools: random bytes in, the same bytes out.
head -c 3000000 /dev/urandom >"$tmp/in"
check "pipeline, 3 MB binary" sh -c "cat '$tmp/in' | timeout 30 '$cli' $addr | cmp -s - '$tmp/in'"

# The same through --verify, from a regular file; nothing on stdout.
check "--verify from a file" sh -c "timeout 30 '$cli' --verify $addr <'$tmp/in' >'$tmp/out' && [ ! -s '$tmp/out' ]"

# A reader that quits early: exit 1, one clear line, no hang.
{ run_cli "$addr" <"$tmp/in" 2>"$tmp/err"; echo $? >"$tmp/status"; } |
    head -c 10 >/dev/null
check "stdout closed early" sh -c "[ \"\$(cat '$tmp/status')\" = 1 ] && grep -q 'cannot write to standard output' '$tmp/err'"

# -i with a here-document: line by line, stopping at 'exit'.
run_cli -i "$addr" >"$tmp/lines" <<EOF
first line
second line
exit
never sent
EOF
printf 'first line\nsecond line\n' >"$tmp/expect"
check "-i with a here-document" cmp -s "$tmp/lines" "$tmp/expect"

# Every long option in --help is in the man page, and the reverse.
"$cli" --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/help-opts"
opts_list='/^The options are as follows/,/^\.El/'
sed -n "${opts_list}s/.*Fl -\\([a-z][a-z-]*\\).*/--\\1/p" \
    "$srcdir/man/evecho-cli.1" | sort -u >"$tmp/man-opts"
check "--help and the man page list the same options" sh -c \
    "[ -s '$tmp/help-opts' ] && cmp -s '$tmp/help-opts' '$tmp/man-opts'"

finish
