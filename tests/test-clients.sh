#!/bin/sh
# test-clients.sh: evecho-cli as a script sees it: in pipelines with
# ordinary tools, in $(...), with a reader that quits early; and its --help
# and man page agreeing.  One evecho-server on 127.0.0.1:0 for them all,
# stopped by PID; every client run is bounded by timeout(1).

builddir=${EVECHO_BUILDDIR:-..}
srcdir=${EVECHO_SRCDIR:-..}
cli=$builddir/src/evecho-cli
server=$builddir/src/evecho-server
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-clients.XXXXXX") || exit 1
passed=0
failed=0
srv_pid=

cleanup() {
	if [ -n "$srv_pid" ]; then
		kill "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	passed=$((passed + 1))
	echo "PASS: $1"
}

not_ok() {
	failed=$((failed + 1))
	echo "FAIL: $1${2:+: $2}"
}

# Run the client with a deadline.
run_cli() {
	timeout 30 "$cli" "$@"
}

# Start the server and read its address from the readiness line.
"$server" -q -l 127.0.0.1:0 >"$tmp/ready" 2>"$tmp/server.err" &
srv_pid=$!
i=0
while ! grep -q '^listening on ' "$tmp/ready" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$srv_pid" 2>/dev/null; then
		echo "evecho-server did not become ready" >&2
		cat "$tmp/server.err" >&2
		exit 1
	fi
	sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$tmp/ready" | head -n 1)

# 1. -m in command substitution: exactly the text back.
out=$(run_cli -m 'hello, script' "$addr")
if [ $? -eq 0 ] && [ "$out" = "hello, script" ]; then
	ok "-m in \$(...)"
else
	not_ok "-m in \$(...)" "got '$out'"
fi

# 2. A pipeline of ordinary tools: random bytes in, the same bytes out.
head -c 3000000 /dev/urandom >"$tmp/in"
if cat "$tmp/in" | run_cli "$addr" | cmp -s - "$tmp/in"; then
	ok "pipeline, 3 MB binary"
else
	not_ok "pipeline, 3 MB binary"
fi

# 3. The same through --verify, from a regular file.
if run_cli --verify "$addr" <"$tmp/in" >"$tmp/out" && [ ! -s "$tmp/out" ]
then
	ok "--verify from a file, nothing on stdout"
else
	not_ok "--verify from a file, nothing on stdout"
fi

# 4. A reader that quits early: exit 1, one clear line, no hang.
{ run_cli "$addr" <"$tmp/in" 2>"$tmp/err"; echo $? >"$tmp/status"; } |
    head -c 10 >/dev/null
status=$(cat "$tmp/status")
if [ "$status" = 1 ] && grep -q 'cannot write to standard output' \
    "$tmp/err"; then
	ok "stdout closed early"
else
	not_ok "stdout closed early" "status $status: $(cat "$tmp/err")"
fi

# 5. -i with a here-document: line by line, stopping at 'exit'.
out=$(run_cli -i "$addr" <<EOF
first line
second line
exit
never sent
EOF
)
expect=$(printf 'first line\nsecond line')
if [ "$out" = "$expect" ]; then
	ok "-i with a here-document"
else
	not_ok "-i with a here-document" "got '$out'"
fi

# 6. Every long option in --help is in the man page, and the reverse.
"$cli" --help | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/help-opts"
opts_list='/^The options are as follows/,/^\.El/'
sed -n "${opts_list}s/.*Fl -\\([a-z][a-z-]*\\).*/--\\1/p" \
    "$srcdir/man/evecho-cli.1" | sort -u >"$tmp/man-opts"
if [ -s "$tmp/help-opts" ] && cmp -s "$tmp/help-opts" "$tmp/man-opts"; then
	ok "--help and the man page list the same options"
else
	not_ok "--help and the man page list the same options" \
	    "$(diff "$tmp/help-opts" "$tmp/man-opts" | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
