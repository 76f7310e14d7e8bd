#!/bin/sh
# test-status-browser.sh: the status page (evecho-server --metrics, GET /)
# in a real browser.  A server under load from evecho-benchmark; headless
# Chromium, driven over the DevTools protocol on a pipe (no extra Python
# module), opens the page and reads every figure from its element's id and
# data-value.  Checks: / is text/html and names no external URL; the page
# refreshes (<body data-updated>) without a script error; each counter it
# shows lies between /metrics fetched just before and just after, version,
# PID, host and listening addresses are exactly the server's; the figures
# and the chart grow a couple of seconds later; the browser asked for
# nothing but the page and stats.json; a copy of the page with one id
# renamed fails the comparison; and once the server is killed the page
# says "server unreachable since HH:MM:SS" and keeps trying.
# Skips (77) without python3, chromium or --metrics.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
export PYTHONDONTWRITEBYTECODE=1
PYTHON3=${PYTHON3:-python3}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
skip_unless "$PYTHON3"
[ -n "$chromium" ] || { echo "skip: no chromium (scripts/install-deps installs it)"; exit 77; }

T=$TMPDIR_T
BENCH_PID=
DRIVER_PID=
# At exit: the browser's driver (which stops the browser), the load, and
# (lib.sh's cleanup) the server, each by its PID.
stop_all() {
	for pid in $DRIVER_PID $BENCH_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	cleanup
}
trap stop_all EXIT
trap 'exit 130' INT HUP
trap 'exit 143' TERM

# The DevTools driver: prints "ok - NAME" / "FAIL - NAME" lines, exits 2
# if the browser did not run.
cat >"$T/status_dom.py" <<'PY'
import base64, ctypes, fcntl, json, os, re, signal, shutil, subprocess, sys
import tempfile, time, urllib.request

# The browser's helpers, orphaned when it is killed, are ours to reap (in
# a container, process 1 may never reap them).
try:
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)     # PR_SET_CHILD_SUBREAPER
except (OSError, AttributeError):
    pass

chromium, url, server_pid, listening, hostname = sys.argv[1:6]
listening = listening.split()
origin = url.rstrip("/")
failed = 0


def check(ok, name):
    global failed
    print("%s - %s" % ("ok" if ok else "FAIL", name))
    failed += not ok
    return ok


def metrics():
    """/metrics as {name or name{labels}: float}."""
    out = {}
    with urllib.request.urlopen(origin + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
    return out


class Browser:
    """Chromium headless over --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="evecho-status-chromium.")
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)

        def fds():
            os.dup2(a, 3)
            os.dup2(b, 4)
        # Root cannot have the sandbox, and containers often cannot
        # either; the page is our own and nothing but loopback is reached.
        argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--disable-default-apps",
                "--disable-quic", "--proxy-server=127.0.0.1:9",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1200,900", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "about:blank"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.devnull, "w"),
                                     pass_fds=(3, 4), preexec_fn=fds,
                                     start_new_session=True)
        for fd in (to_r, from_w, a, b):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.session = None
        self.events = []
        self.on_event = None
        self.waiting = "events"

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    time.sleep(0.05)
            except ChildProcessError:
                break
        shutil.rmtree(self.profile, ignore_errors=True)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no answer from the browser (%s)" % self.waiting)
            r, _, _ = select.select([self.from_r], [], [], left)
            if r:
                chunk = os.read(self.from_r, 65536)
                if not chunk:
                    raise EOFError("the browser closed its pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        msg = json.loads(msg)
        if "method" in msg:
            self.events.append(msg)
            if self.on_event:
                self.on_event(msg)
        return msg

    def call(self, method, params=None, session=True, timeout=20):
        want = self.send(method, params, session)
        self.waiting = method
        deadline = time.time() + timeout
        while True:
            msg = self.read(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})

    def pump(self, seconds):
        self.waiting = "events"
        deadline = time.time() + seconds
        try:
            while True:
                self.read(deadline)
        except TimeoutError:
            pass

    def attach(self):
        # A loaded machine can take seconds to start the browser.
        for _ in range(50):
            pages = [t for t in self.call("Target.getTargets", session=False,
                                          timeout=30)["targetInfos"]
                     if t["type"] == "page"]
            if pages:
                break
            time.sleep(0.1)
        r = self.call("Target.attachToTarget", {"targetId": pages[0]["targetId"],
                                                "flatten": True}, session=False)
        self.session = r["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")

    def js(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def page(self):
        return json.loads(self.js(READ))

    def wait(self, cond, seconds, what):
        """The page's figures once cond(page) holds; None after seconds."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            p = self.page()
            if cond(p):
                return p
            self.pump(0.1)
        print("# timed out waiting for %s" % what)
        return None


# Every element with an id and a data-value, at one moment.
READ = r"""(function () {
  var st = document.getElementById("status");
  if (!document.body || !st)
    return JSON.stringify({updated: 0, failed: 0, state: null, status: "",
      values: {}, listening: [], samples: [], paths: 0});
  return JSON.stringify({
  updated: +document.body.getAttribute("data-updated"),
  failed: +document.body.getAttribute("data-failed"),
  state: document.body.getAttribute("data-state"),
  status: st.textContent,
  values: Object.fromEntries(Array.from(document.querySelectorAll("[id][data-value]"))
    .map(function (e) { return [e.id, [e.getAttribute("data-value"), e.textContent]]; })),
  listening: Array.from(document.querySelectorAll("#listening > span"))
    .map(function (e) { return e.getAttribute("data-value"); }),
  samples: Array.from(document.querySelectorAll("svg[data-samples]"))
    .map(function (e) { return +e.getAttribute("data-samples"); }),
  paths: document.querySelectorAll("svg path[data-points]").length
}); })()"""

REASONS = {
    "rejected": ["max_conns", "per_source", "draining", "error"],
    "closed": ["client", "idle_timeout", "reset", "error", "drained",
               "drain_cutoff"],
}
# Counters that only grow (and the peak, and uptime): page id -> metric.
GROWING = {
    "conn-accepted": "evecho_connections_accepted_total",
    "conn-peak": "evecho_connections_peak",
    "conn-pauses": "evecho_connection_pauses_total",
    "bytes-received": "evecho_received_bytes_total",
    "bytes-sent": "evecho_sent_bytes_total",
    "bytes-dropped": "evecho_dropped_bytes_total",
    "accept-errors": "evecho_accept_errors_total",
    "accept-pauses": "evecho_accept_pauses_total",
    "uptime": "evecho_uptime_seconds",
}
for kind, reasons in REASONS.items():
    for r in reasons:
        GROWING["%s-%s" % (kind, r)] = \
            'evecho_connections_%s_total{reason="%s"}' % (kind, r)


def version_of(m):
    for k in m:
        g = re.match(r'evecho_build_info\{version="([^"]*)"\}$', k)
        if g:
            return g.group(1)
    return None


def compare(before, page, after):
    """Failures (a list of strings) of the page's figures against /metrics."""
    bad = []
    v = page["values"]

    def num(i):
        try:
            return float(v[i][0])
        except (KeyError, ValueError):
            bad.append("%s: no figure on the page" % i)
            return None
    for i, name in GROWING.items():
        x = num(i)
        if x is None:
            continue
        if name not in before or name not in after:
            bad.append("%s: no %s in /metrics" % (i, name))
        elif not before[name] <= x <= after[name]:
            bad.append("%s: page %r not within /metrics %r..%r"
                       % (i, x, before[name], after[name]))
    for kind, reasons in REASONS.items():
        x, parts = num(kind + "-total"), [num("%s-%s" % (kind, r)) for r in reasons]
        if x is not None and None not in parts and x != sum(parts):
            bad.append("%s-total: %r, its reasons add up to %r" % (kind, x, sum(parts)))
    x = num("conn-open")
    if x is not None and not 0 <= x <= after.get("evecho_connections_peak", -1):
        bad.append("conn-open: %r, not within 0..peak" % x)
    for i, name in (("conn-max", "evecho_connections_max"),
                    ("bytes-max-memory", "evecho_memory_limit_bytes")):
        x = num(i)
        if name in after and x != after[name]:
            bad.append("%s: page %r, /metrics %r" % (i, x, after[name]))
    want = version_of(after)
    if v.get("version", [None])[0] != want:
        bad.append("version: page %r, /metrics %r" % (v.get("version"), want))
    if v.get("pid", [None])[0] != server_pid:
        bad.append("pid: page %r, server %s" % (v.get("pid"), server_pid))
    if v.get("hostname", [None])[0] != hostname:
        bad.append("hostname: page %r, host %r" % (v.get("hostname"), hostname))
    if page["listening"] != listening:
        bad.append("listening: page %r, server %r" % (page["listening"], listening))
    return list(dict.fromkeys(bad))


def human(page):
    """Failures of the texts people read: units, uptime, clock."""
    bad = []
    v = page["values"]
    forms = {"bytes-received": r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)",
             "bytes-sent": r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)",
             "rate-received": r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)/s",
             "rate-sent": r"\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)/s",
             "uptime": r"(\d+d )?\d\d:\d\d:\d\d",
             "conn-accepted": r"\d{1,3}(,\d{3})*"}
    for i, form in forms.items():
        text = v.get(i, ["", ""])[1]
        if not re.fullmatch(form, text):
            bad.append("%s reads %r" % (i, text))
    return bad


def snapshot(b):
    """/metrics, the page, /metrics: the page's figures from a stats.json
    asked for after the first /metrics, as the second refresh after it
    began once the first had ended.  The page is None after 8 s."""
    before = metrics()
    n = b.page()["updated"]
    page = b.wait(lambda p: p["updated"] >= n + 2, 8, "two refreshes")
    return before, page, metrics()


def main():
    b = Browser()
    errors = []

    def on_event(msg):
        m, p = msg["method"], msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            errors.append(("exception", json.dumps(p)[:300]))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            errors.append(("console", json.dumps(p)[:300]))
        elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            e = p["entry"]
            errors.append((e.get("source"), "%s %s" % (e.get("text"), e.get("url", ""))))
        elif m == "Network.requestWillBeSent":
            requests.append(p["request"]["url"])
        elif m == "Fetch.requestPaused" and broken is not None:
            b.send("Fetch.fulfillRequest", {
                "requestId": p["requestId"], "responseCode": 200,
                "responseHeaders": [{"name": "Content-Type",
                                     "value": "text/html; charset=utf-8"}],
                "body": base64.b64encode(broken.encode()).decode()})
    requests = []
    broken = None
    try:
        b.on_event = on_event
        b.attach()
        b.call("Page.navigate", {"url": url})
        p0 = b.wait(lambda p: p["updated"] >= 1, 15, "the first refresh")
        if not check(p0 is not None, "the page refreshed from stats.json"):
            print("# at %s: %s" % (b.js("location.href"), b.js("document.title")))
            for e in errors:
                print("# console: %s: %s" % e)
            return
        before, p1, after = snapshot(b)
        if not check(p1 is not None, "it refreshes once a second"):
            return
        bad = compare(before, p1, after)
        for x in bad:
            print("# " + x)
        check(not bad, "%d figures between /metrics before and after, "
              "version %s, pid, host, %s exact"
              % (len(GROWING), p1["values"].get("version", ["?"])[0],
                 " ".join(p1["listening"])))
        bad = human(p1)
        for x in bad:
            print("# " + x)
        check(not bad, "bytes, rates, uptime and counts in human units "
              "(%s, %s, %s)" % (p1["values"]["bytes-received"][1],
                                p1["values"]["rate-received"][1],
                                p1["values"]["uptime"][1]))
        check(p1["state"] == "ok" and p1["status"].startswith("up"),
              "the status says up (%r)" % p1["status"])
        # The same figures, with one counter's metric made lower after: a
        # wrong figure must be seen.
        lower = dict(after)
        lower["evecho_received_bytes_total"] = float(p1["values"]["bytes-received"][0]) - 1
        check(any(x.startswith("bytes-received:") for x in compare(before, p1, lower)),
              "the comparison sees a figure above /metrics")

        # A couple of seconds later: more bytes (or connections), more
        # chart, and no request but to the server.
        m = b.page()["updated"]
        p2 = b.wait(lambda p: p["updated"] >= m + 2, 8, "two more refreshes")
        if check(p2 is not None, "it went on refreshing"):
            grew = [i for i in ("conn-accepted", "bytes-received", "bytes-sent")
                    if float(p2["values"][i][0]) > float(p1["values"][i][0])]
            check(grew, "figures grew under load: %s" % " ".join(grew))
            check(float(p2["values"]["uptime"][0]) > float(p1["values"]["uptime"][0]),
                  "uptime grew")
            check(p2["paths"] >= 3 and min(p2["samples"]) > min(p1["samples"]) >= 1,
                  "the charts have lines and more samples (%s, then %s)"
                  % (p1["samples"], p2["samples"]))
        outside = [u for u in requests
                   if u not in (origin + "/", origin + "/stats.json")]
        check(requests and not outside, "requests only for / and stats.json"
              "%s" % (": " + " ".join(outside[:3]) if outside else ""))
        for e in errors:
            print("# console: %s: %s" % e)
        check(not errors, "no error or warning in the console")

        # The page with one id renamed must fail the comparison.
        page_html = urllib.request.urlopen(url, timeout=5).read().decode()
        broken = page_html.replace('id="conn-accepted"', 'id="conn-accepted-x"', 1)
        b.call("Fetch.enable", {"patterns": [{"urlPattern": origin + "/",
                                              "requestStage": "Request"}]})
        b.call("Page.navigate", {"url": url})
        pb = b.wait(lambda p: p["updated"] >= 1 and "conn-accepted-x" in p["values"],
                    10, "the broken copy")
        b.call("Fetch.disable")
        broken = None
        if check(pb is not None, "a copy with conn-accepted renamed loaded"):
            bad = compare(*snapshot(b))
            print("# the copy: " + "; ".join(bad))
            check(bad == ["conn-accepted: no figure on the page"],
                  "the copy fails the comparison on conn-accepted alone")

        # The real page again, then the server gone.
        b.call("Page.navigate", {"url": url})
        pa = b.wait(lambda p: p["updated"] >= 1 and "conn-accepted" in p["values"],
                    10, "the page again")
        if not check(pa is not None, "the page loaded again"):
            return
        if p2 is not None:
            check(float(pa["values"]["bytes-received"][0])
                  > float(p2["values"]["bytes-received"][0]),
                  "and shows more bytes received than the first load")
        del errors[:]
        os.kill(int(server_pid), signal.SIGKILL)
        killed = time.time()
        pd = b.wait(lambda p: p["state"] == "down", 8, "the unreachable state")
        if check(pd is not None, "the page sees the server gone"):
            print("# status: %s" % pd["status"])
            g = re.match(r"server unreachable since (\d\d):(\d\d):(\d\d)", pd["status"])
            check(g, "it says \"%s\"" % pd["status"][:33])
            k = time.localtime(int(killed))
            late = g and (int(g.group(1)) * 3600 + int(g.group(2)) * 60 + int(g.group(3))
                          - (k.tm_hour * 3600 + k.tm_min * 60 + k.tm_sec)) % 86400
            check(g and late < 30, "since the kill (%s) or just after"
                  % time.strftime("%H:%M:%S", k))
            k = pd["failed"]
            pk = b.wait(lambda p: p["failed"] >= k + 2, 6, "more attempts")
            check(pk is not None and pk["status"] == pd["status"]
                  and pk["updated"] == pd["updated"],
                  "it keeps trying, the text unchanged (%s failures)"
                  % (pk["failed"] if pk else "?"))
            check(pk is not None and pk["values"]["bytes-received"] == pd["values"]["bytes-received"],
                  "the last figures stay shown")
        bad = [e for e in errors if e[0] != "network"]
        for e in bad:
            print("# console: %s: %s" % e)
        check(not bad, "no script error once unreachable (%d network line(s))"
              % (len(errors) - len(bad)))
    except (OSError, EOFError, TimeoutError, RuntimeError, KeyError) as e:
        check(False, "the browser session: %s: %s" % (type(e).__name__, e))
        if b.proc.poll() is not None or isinstance(e, EOFError):
            sys.exit(2)
    finally:
        b.close()


signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
main()
sys.exit(1 if failed else 0)
PY

SERVER="$EVECHO_BUILDDIR/src/evecho-server"
if ! "$SERVER" --help | grep -q -e --metrics; then
	echo "skip: evecho-server has no --metrics"
	exit 77
fi

check "server starts with --metrics" start_server --metrics 127.0.0.1:0
url=
for _ in $(seq 1 100); do
	url=$(sed -n 's|^metrics on \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$T/ready")
	[ -n "$url" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.05
done
check "it says \"metrics on $url\"" test -n "$url"
[ -n "$url" ] || { cat "$T/server.err"; finish; exit 1; }
listening=$(sed -n 's/^listening on //p' "$T/ready" | tr '\n' ' ')

# Load for the whole test: 20 pingpong connections, 2000 messages/s in
# all (so that the browser still has the CPU), bounded in time.
timeout 60 "$EVECHO_BUILDDIR/src/evecho-benchmark" -q -c 20 --rate 2000 -t 50s -w 0 \
    "127.0.0.1:$SERVER_PORT" >"$T/bench.out" 2>&1 &
BENCH_PID=$!

# GET / itself: its type, and no URL outside the page.
timeout 20 "$PYTHON3" - "$url" "$T/page.html" "$T/page.type" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    open(sys.argv[2], "wb").write(r.read())
    open(sys.argv[3], "w").write(r.headers.get("Content-Type", "") + "\n")
PY
check "GET / is text/html ($(cat "$T/page.type" 2>/dev/null))" \
    grep -q '^text/html' "$T/page.type"
check "GET / is the page" grep -q 'id="conn-accepted"' "$T/page.html"
# no_match ERE: the page has no line matching ERE.
no_match() { ! grep -Eiq "$1" "$T/page.html"; }
check "no src=, href= or action= to another host" \
    no_match '(src|href|action)[[:space:]]*=[[:space:]]*["'\'']?[[:space:]]*([a-z]+:)?//'
check "no url(), @import or fetch of an absolute URL" \
    no_match 'url\(|@import|(fetch|open)\([[:space:]]*["'\''][a-z]*:?//'

# In the background, so that a signal reaches the trap at once.
timeout 60 "$PYTHON3" "$T/status_dom.py" "$chromium" "$url" "$SERVER_PID" \
    "$listening" "$(hostname)" >"$T/dom.out" 2>&1 &
DRIVER_PID=$!
wait "$DRIVER_PID"
rc=$?
DRIVER_PID=
while IFS= read -r line; do
	case $line in
	"ok - "*) check "${line#ok - }" true ;;
	"FAIL - "*) check "${line#FAIL - }" false ;;
	*) echo "$line" ;;
	esac
done <"$T/dom.out"
check "the browser ran (driver exit $rc)" test "$rc" -le 1
finish
