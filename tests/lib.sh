# lib.sh: shared by the shell tests.  Source it, then use start_server,
# check, and finish.  Every server started here is stopped by PID on exit.

: "${EVECHO_BUILDDIR:=..}"
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/ready.sh"
SERVER_PID=
SERVER_PORT=
PASSED=0
FAILED=0
TMPDIR_T=$(mktemp -d "${TMPDIR:-/tmp}/evecho-test.XXXXXX")

cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$TMPDIR_T"
}
trap cleanup EXIT

# start_server ARGS...: run evecho-server on 127.0.0.1:0 and read its port.
start_server() {
	# Truncated here: the background child would do it too late for
	# wait_ready, which could read the last server's line.
	: >"$TMPDIR_T/ready"
	"$EVECHO_BUILDDIR/src/evecho-server" -q -l 127.0.0.1:0 "$@" \
	    >"$TMPDIR_T/ready" 2>"$TMPDIR_T/server.err" &
	SERVER_PID=$!
	SERVER_PORT=$(wait_ready "$TMPDIR_T/ready" "$SERVER_PID") && return 0
	echo "server did not become ready" >&2
	return 1
}

# start_server_under NAME WRAPPER...: run evecho-server on 127.0.0.1:0 under
# WRAPPER (strace, valgrind ...), slow to start, and read its port into
# SERVER_PORT (empty if not ready in 20 s); SERVER_PID is the wrapper's.
# SERVER_BIN, if set, is the server to run instead of src/evecho-server.
start_server_under() {
	name=$1
	shift
	: >"$TMPDIR_T/ready.$name"
	"$@" "${SERVER_BIN:-$EVECHO_BUILDDIR/src/evecho-server}" -q -l 127.0.0.1:0 \
	    >"$TMPDIR_T/ready.$name" 2>"$TMPDIR_T/server.$name.err" &
	SERVER_PID=$!
	SERVER_PORT=$(wait_ready "$TMPDIR_T/ready.$name" "$SERVER_PID" 20)
}

# check NAME COMMAND...: run a check, count it, say what failed.
check() {
	name=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		echo "ok: $name"
	else
		FAILED=$((FAILED + 1))
		echo "FAIL: $name"
	fi
}

# skip_unless TOOL: exit 77 (skip) when TOOL is not installed.
skip_unless() {
	command -v "$1" >/dev/null 2>&1 || { echo "skip: no $1"; exit 77; }
}

# finish: print the totals and exit non-zero on any failure.
finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
