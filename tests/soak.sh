#!/bin/sh
# soak.sh: `make soak`.  Mixed load on one server for SOAK_SECONDS
# (default 600): ping-pong, stream, connect and slow-reader clients, all of
# evecho-benchmark's byte-checking kind, at once.  The server's RSS is
# sampled each second from /proc.  Fails if any benchmark exits non-zero
# (a wrong byte, a reset, a timeout), if the server dies, or if its RSS
# grows by more than 2% between the end of the warm-up (the second minute;
# half the run when SOAK_SECONDS is 120 or less) and the end.
set -u

: "${EVECHO_BUILDDIR:=.}"
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/ready.sh"
: "${SOAK_SECONDS:=600}"
[ -n "$SOAK_SECONDS" ] || SOAK_SECONDS=600
SERVER="$EVECHO_BUILDDIR/src/evecho-server"
BENCH="$EVECHO_BUILDDIR/src/evecho-benchmark"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/evecho-soak.XXXXXX") || exit 1
SERVER_PID=
PIDS=

command -v "${PYTHON3:-python3}" >/dev/null 2>&1 || { echo "soak: needs python3 for the slow readers"; exit 1; }

cleanup() {
	for p in $PIDS $SERVER_PID; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS $SERVER_PID; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

WARMUP=120
# The load outlasts the sampling, so the last sample is taken under load.
LOAD_SECONDS=$((SOAK_SECONDS + 3))
[ "$SOAK_SECONDS" -le 120 ] && WARMUP=$((SOAK_SECONDS / 2))

"$SERVER" -q -l 127.0.0.1:0 --max-pending 256k >"$TMP/ready" 2>"$TMP/server.err" &
SERVER_PID=$!
PORT=$(wait_ready "$TMP/ready" "$SERVER_PID") ||
    { echo "soak: the server did not become ready"; exit 1; }
T="127.0.0.1:$PORT"

# name ARGS...: one benchmark for the whole run, in the background.
run() {
	name=$1
	shift
	"$BENCH" -q --json -w 0 -t "${LOAD_SECONDS}s" --timeout 30s "$@" "$T" \
	    >"$TMP/$name.out" 2>"$TMP/$name.err" &
	PIDS="$PIDS $!"
	echo "$! $name" >>"$TMP/pids"
}
run pingpong -c 200 -s 512 -d 2
run stream --mode stream -c 8 -s 16k --window 1m
run connect --mode connect -c 4 -s 1k --source 127.0.0.2
# Slow readers: clients with small receive buffers that send much more
# than they read, then take their echo 4 KiB at a time, so the server holds
# --max-pending for each; every byte is checked.
cat >"$TMP/slow.py" <<'PY'
import select, socket, sys, time
port, seconds, n = int(sys.argv[1]), float(sys.argv[2]), 16
def pat(i, off, k):
    return bytes((i * 31 + off + j) & 0xff for j in range(k))
socks, sent, got = [], [0] * n, [0] * n
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for i, s in enumerate(socks):
        if sent[i] - got[i] < 1 << 20:
            try:
                sent[i] += s.send(pat(i, sent[i], 65536))
            except BlockingIOError:
                pass
        r, _, _ = select.select([s], [], [], 0)
        if r:
            b = s.recv(4096)
            if not b or b != pat(i, got[i], len(b)):
                print("slow reader %d: %s at %d" % (i, "EOF" if not b else "wrong bytes", got[i]))
                sys.exit(1)
            got[i] += len(b)
    time.sleep(0.05)
print('{"slow_readers":%d,"bytes_read":%d,"mismatches":0}' % (n, sum(got)))
PY
"${PYTHON3:-python3}" "$TMP/slow.py" "$PORT" "$LOAD_SECONDS" >"$TMP/slow.out" 2>"$TMP/slow.err" &
PIDS="$PIDS $!"
echo "$! slow" >>"$TMP/pids"

echo "soak: $SOAK_SECONDS s against $T, warm-up $WARMUP s (server $SERVER_PID)"
rss_warm=
rss_end=
rss_max=0
i=0
while [ "$i" -lt "$SOAK_SECONDS" ]; do
	sleep 1
	i=$((i + 1))
	rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$SERVER_PID/status" 2>/dev/null)
	[ -n "$rss" ] || { echo "soak: the server died at ${i}s"; tail -5 "$TMP/server.err"; exit 1; }
	[ "$rss" != "${rss_end:-}" ] && echo "soak: ${i}s RSS ${rss} KiB (changed)"
	[ "$rss" -gt "$rss_max" ] && rss_max=$rss
	[ "$i" -eq "$WARMUP" ] && rss_warm=$rss
	rss_end=$rss
	[ $((i % 30)) -eq 0 ] && echo "soak: ${i}s RSS ${rss} KiB"
	[ -n "${SOAK_RSS_LOG:-}" ] && echo "$i $rss" >>"$SOAK_RSS_LOG"
done

status=0
while read -r pid name; do
	rc=0
	wait "$pid" || rc=$?
	printf 'soak: %-9s exit %d: %s\n' "$name" "$rc" "$(sed 's/,"latency_us.*//; s/.*"messages"/"messages"/' "$TMP/$name.out")"
	[ "$rc" -eq 0 ] || { status=1; tail -3 "$TMP/$name.err"; }
done <"$TMP/pids"
PIDS=

echo "soak: server RSS ${rss_warm} KiB at ${WARMUP}s, ${rss_end} KiB at the end, ${rss_max} KiB at most"
if [ $((rss_end * 100)) -gt $((rss_warm * 102)) ]; then
	echo "soak: FAIL: RSS grew more than 2% after the warm-up"
	status=1
fi
kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
tail -1 "$TMP/server.err"
[ "$rc" -eq 0 ] || { echo "soak: server exit $rc"; status=1; }
[ "$status" -eq 0 ] && echo "soak: ok" || echo "soak: FAIL"
exit $status
