"""evtest.py: what the Python end-to-end tests share.

check() counts and reports, summary() ends a run; Server starts
evecho-server with --metrics on a kernel-chosen port, reads its readiness
lines, and talks to its HTTP side; every Server started is stopped by
stop_all().  Imported from the tests' own directory.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

BUILD = os.environ.get("EVECHO_BUILDDIR", "..")
SERVER = os.path.join(BUILD, "src", "evecho-server")
PROCS = []
_counts = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    """Count one check and say how it went."""
    if ok:
        _counts["passed"] += 1
        print("ok: " + name)
    else:
        _counts["failed"] += 1
        print("FAIL: %s%s" % (name, ": " + detail if detail else ""))


def summary():
    """Print the totals; the exit status they make."""
    print("%d passed, %d failed" % (_counts["passed"], _counts["failed"]))
    return 1 if _counts["failed"] else 0


def wait_for(pred, secs=5.0):
    """Poll pred until true or secs pass; its last value."""
    deadline = time.monotonic() + secs
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.05)
    return pred()


def read_exactly(s, n):
    """Up to n bytes from socket s: fewer if it closes or fails first."""
    got = b""
    while len(got) < n:
        try:
            b = s.recv(n - len(got))
        except OSError:
            break
        if not b:
            break
        got += b
    return got


def closed_by_server(s, secs=3.0):
    """True if the server closes socket s (EOF or reset) within secs."""
    s.settimeout(secs)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def alive(pid):
    """True while pid runs (a zombie has exited)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    """The running PIDs whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    out.append(int(d))
            except (OSError, IndexError):
                pass
    return sorted(out)


class Server:
    """evecho-server ARGS --metrics METRICS, its stderr in tmp."""

    def __init__(self, tmp, args, metrics="127.0.0.1:0", wrapper=(),
                 preexec=None, ready_secs=10):
        self.errpath = os.path.join(tmp, "server%d.err" % len(PROCS))
        self.err = open(self.errpath, "w+")
        self.proc = subprocess.Popen(
            list(wrapper) + [SERVER] + list(args) + ["--metrics", metrics],
            stdout=subprocess.PIPE, stderr=self.err, text=True,
            preexec_fn=preexec)
        PROCS.append(self.proc)
        self.ready = []
        self.ports = []       # TCP: (host, port) for each line
        self.udp_ports = []   # -u: the same
        deadline = time.monotonic() + ready_secs
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.ready.append(line.strip())
            m = re.match(r"listening on (udp )?(.*):(\d+)$", line.strip())
            if m:
                (self.udp_ports if m.group(1) else self.ports).append(
                    (m.group(2).strip("[]"), int(m.group(3))))
            if line.startswith("metrics on "):
                break
        self.port = self.ports[0][1] if self.ports else None
        m = re.match(r"metrics on (http://(.*):(\d+)/)$",
                     self.ready[-1] if self.ready else "")
        self.url = m.group(1) if m else None
        self.mhost = m.group(2).strip("[]") if m else None
        self.mport = int(m.group(3)) if m else None

    def get(self, path, method="GET", headers=None):
        """One HTTP request: (status, headers dict, body bytes)."""
        c = http.client.HTTPConnection(self.mhost, self.mport, timeout=5)
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, dict(r.getheaders()), body

    def metrics_text(self):
        with urllib.request.urlopen(self.url + "metrics", timeout=5) as r:
            return r.read().decode()

    def metrics(self):
        """/metrics as {series with labels: value}."""
        out = {}
        for line in self.metrics_text().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def metric(self, name):
        return self.metrics().get(name)

    def wait_metric(self, name, pred, secs=5.0):
        """Poll /metrics until pred(value of name); return the last value."""
        deadline = time.monotonic() + secs
        while True:
            v = self.metric(name)
            if (v is not None and pred(v)) or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def stats(self):
        with urllib.request.urlopen(self.url + "stats.json", timeout=5) as r:
            return json.load(r)

    def log(self):
        self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def wait_log(self, pattern, secs=5.0):
        """The first match of pattern in the log within secs, or None."""
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            time.sleep(0.05)
        return None

    def stop(self, secs=20):
        """SIGTERM, then SIGKILL after secs; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(secs)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def run(*tests):
    """Run each test function, stop every server, return the exit status."""
    try:
        for t in tests:
            t()
    finally:
        stop_all()
    return summary()


def stop_all():
    """Kill every server still running, and any worker of it."""
    for p in PROCS:
        if p.poll() is None:
            for c in children(p.pid):
                try:
                    os.kill(c, signal.SIGKILL)
                except OSError:
                    pass
            p.kill()
            p.wait()
