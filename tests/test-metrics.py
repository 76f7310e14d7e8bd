#!/usr/bin/env python3
"""test-metrics.py: evecho-server --metrics from the outside.

Each counter of /metrics is provoked on purpose and read back: through
/metrics (which promtool must accept), through /stats.json, and against
the server's own exit line.  Run by tests/test-metrics.sh; every server is
started here and stopped by PID, every wait is bounded.
"""
import http.client
import json
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

from evtest import SERVER, check, closed_by_server, stop_all, summary
import evtest


class Server(evtest.Server):
    """An evecho-server on 127.0.0.1:0 with --metrics on a port of its own."""

    def __init__(self, *args, **kw):
        super().__init__(TMP, ["-l", "127.0.0.1:0"] + list(args), **kw)

    def stop(self, secs=15):
        """SIGTERM; return (exit status, stderr)."""
        rc = super().stop(secs)
        return rc, self.log()


def dial(port, source="127.0.0.1"):
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def echo(port, n, source="127.0.0.1"):
    """Send n bytes, read them back, close: True if byte-exact."""
    s = dial(port, source)
    data = os.urandom(n)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got == data


def promtool(body):
    """promtool check metrics on body: (ok, output)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=body,
                       capture_output=True, timeout=30)
    return p.returncode == 0, (p.stdout + p.stderr).decode()


def exit_counts(log):
    """The numbers of the server's exit line."""
    m = re.search(r"exit: connections (\d+) open, (\d+) peak, (\d+) accepted, "
                  r"(\d+) rejected, (\d+) refused per source, (\d+) accept "
                  r"errors.*bytes (\d+) in, (\d+) out, (\d+) dropped", log)
    if not m:
        return None
    keys = ("open", "peak", "accepted", "rejected", "per_source",
            "accept_errors", "in", "out", "dropped")
    return dict(zip(keys, map(int, m.groups())))


def scenario_counters():
    """Every labelled counter, provoked and read three ways."""
    srv = Server("--max-conns", "3", "--max-conns-per-source", "2",
                 "--idle-timeout", "0.5", "--max-pending", "64k")
    check("ready: a listening line and a metrics line",
          srv.port is not None and srv.mport is not None, repr(srv.ready))
    if srv.mport is None:
        return
    status, hdrs, body = srv.get("/metrics")
    check("/metrics answers 200 as Prometheus text 0.0.4",
          status == 200 and hdrs.get("Content-Type", "").startswith(
              "text/plain; version=0.0.4"), "%d %r" % (status, hdrs))
    ok, out = promtool(body)
    check("promtool accepts a fresh server's metrics", ok, out)
    text = body.decode()
    names = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
    for name in names:
        check("%s has HELP and TYPE" % name,
              ("# HELP %s " % name) in text and ("# TYPE %s " % name) in text)
    check("every series is under evecho_",
          names and all(n.startswith("evecho_") for n in names), repr(names))
    version = subprocess.run([SERVER, "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    check("build_info names the version",
          ('evecho_build_info{version="%s"} 1' % version) in text)

    # Five clean echoes of 1000 bytes.
    check("five echoes are byte-exact",
          all(echo(srv.port, 1000) for _ in range(5)))
    m = srv.metrics()
    check("accepted counts them", m["evecho_connections_accepted_total"] == 5,
          repr(m.get("evecho_connections_accepted_total")))
    check("received and sent bytes count them",
          m["evecho_received_bytes_total"] == 5000 and
          m["evecho_sent_bytes_total"] == 5000)
    check("closed{client} counts them",
          srv.wait_metric('evecho_connections_closed_total{reason="client"}',
                          lambda v: v == 5) == 5)

    # Per source, then --max-conns.
    held = [dial(srv.port), dial(srv.port)]
    extra = dial(srv.port)
    check("a third from one address is closed", closed_by_server(extra))
    extra.close()
    other = dial(srv.port, "127.0.0.2")
    refused = dial(srv.port, "127.0.0.3")
    check("a fourth beyond --max-conns 3 is closed", closed_by_server(refused))
    refused.close()
    m = srv.metrics()
    check("rejected{per_source} is 1",
          m['evecho_connections_rejected_total{reason="per_source"}'] == 1)
    check("rejected{max_conns} is 1",
          m['evecho_connections_rejected_total{reason="max_conns"}'] == 1)
    check("open is 3 and peak 3", m["evecho_connections_open"] == 3 and
          m["evecho_connections_peak"] == 3)
    for s in held + [other]:
        s.close()
    srv.wait_metric("evecho_connections_open", lambda v: v == 0)

    # A reset: bytes sent, then RST.
    s = dial(srv.port)
    s.sendall(b"x" * 100)
    time.sleep(0.1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    check("closed{reset} counts a client's RST",
          srv.wait_metric('evecho_connections_closed_total{reason="reset"}',
                          lambda v: v == 1) == 1)

    # Idle: silent for --idle-timeout.
    s = dial(srv.port)
    check("an idle connection is closed", closed_by_server(s, 3))
    s.close()
    check("closed{idle_timeout} counts it",
          srv.wait_metric(
              'evecho_connections_closed_total{reason="idle_timeout"}',
              lambda v: v == 1) == 1)

    # Paused: a client that sends and never reads.
    s = dial(srv.port)
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            sent += s.send(b"p" * 65536)
        except BlockingIOError:
            if srv.metrics()["evecho_connections_paused"] == 1:
                break
            time.sleep(0.02)
    m = srv.metrics()
    check("a client not reading is paused now",
          m["evecho_connections_paused"] == 1, repr(m))
    check("and pauses_total counts it",
          m["evecho_connection_pauses_total"] >= 1)
    check("memory held shows its bytes", m["evecho_memory_held_bytes"] > 0)
    s.setblocking(True)
    s.settimeout(5)
    s.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        got += len(b)
    s.close()
    check("all %d bytes come back once it reads" % sent, got == sent,
          "%d of %d" % (got, sent))
    check("paused is 0 again",
          srv.wait_metric("evecho_connections_paused", lambda v: v == 0) == 0)

    # A reset with an echo queued: what was never sent is dropped, and the
    # sent counter, counted as bytes leave, never goes back.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.setblocking(False)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            s.send(b"q" * 65536)
        except BlockingIOError:
            if srv.metrics()["evecho_connections_paused"] == 1:
                break
            time.sleep(0.02)
    before = srv.metrics()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    srv.wait_metric('evecho_connections_closed_total{reason="reset"}',
                    lambda v: v == 2)
    after = srv.metrics()
    check("a reset with an echo queued: sent never goes down",
          after["evecho_sent_bytes_total"] >=
          before["evecho_sent_bytes_total"],
          "%d then %d" % (before["evecho_sent_bytes_total"],
                          after["evecho_sent_bytes_total"]))
    check("and received = sent + dropped",
          after["evecho_received_bytes_total"] ==
          after["evecho_sent_bytes_total"] +
          after["evecho_dropped_bytes_total"],
          repr({k: after[k] for k in after if "bytes_total" in k}))

    status, _, body = srv.get("/metrics")
    ok, out = promtool(body)
    check("promtool accepts the metrics after all that", ok, out)

    # The same numbers in /stats.json, with two seconds of history.
    up = srv.metrics()["evecho_uptime_seconds"]
    time.sleep(max(0.0, 2.3 - up))
    m = srv.metrics()
    status, hdrs, body = srv.get("/stats.json")
    try:
        j = json.loads(body)
    except ValueError as e:
        j = None
        check("/stats.json is JSON", False, str(e))
    if j is not None:
        c = j["connections"]
        check("/stats.json: accepted, open, peak as /metrics",
              c["accepted"] == m["evecho_connections_accepted_total"] and
              c["open"] == m["evecho_connections_open"] and
              c["peak"] == m["evecho_connections_peak"])
        check("/stats.json: each reason as /metrics",
              all(c["rejected"][r] == m[
                  'evecho_connections_rejected_total{reason="%s"}' % r]
                  for r in c["rejected"]) and
              all(c["closed"][r] == m[
                  'evecho_connections_closed_total{reason="%s"}' % r]
                  for r in c["closed"]))
        check("/stats.json: bytes as /metrics",
              j["bytes"]["received"] == m["evecho_received_bytes_total"] and
              j["bytes"]["sent"] == m["evecho_sent_bytes_total"])
        check("/stats.json: the listening address",
              j["listening"] == ["127.0.0.1:%d" % srv.port], j["listening"])
        h = j["history"]["samples"]
        check("/stats.json: history has samples, a second apart",
              len(h) >= 2 and 0.5 < h[-1]["t"] - h[-2]["t"] < 1.5, repr(h))
        check("/stats.json: history's bytes add up to at most the total",
              sum(x["received"] for x in h) <= j["bytes"]["received"])
        check("/stats.json: version", j["version"] == version)

    # HTTP that is not a scrape.
    status, _, _ = srv.get("/nope")
    check("an unknown path is 404", status == 404, str(status))
    status, hdrs, body = srv.get("/metrics", method="HEAD")
    check("HEAD /metrics: 200, no body", status == 200 and body == b"")
    status, _, _ = srv.get("/metrics", method="POST")
    check("POST is refused", status >= 400, str(status))
    status, hdrs, body = srv.get("/")
    check("/ is the status page, HTML",
          status == 200 and hdrs.get("Content-Type", "").startswith(
              "text/html") and b"<html" in body.lower())
    try:
        status, _, _ = srv.get("/metrics", headers={"X-Big": "a" * 20000})
    except (http.client.HTTPException, ConnectionError):
        status = 0
    check("a 20 KB header is refused", status != 200, str(status))
    check("the echo still works after bad HTTP", echo(srv.port, 100))

    last = srv.metrics()
    rc, log = srv.stop()
    check("SIGTERM: exit 0", rc == 0, log[-500:])
    e = exit_counts(log)
    check("the exit line is there", e is not None, log[-500:])
    if e:
        check("exit line: accepted as /metrics",
              e["accepted"] == last["evecho_connections_accepted_total"])
        check("exit line: bytes as /metrics",
              e["in"] == last["evecho_received_bytes_total"] and
              e["out"] == last["evecho_sent_bytes_total"] and
              e["dropped"] == last["evecho_dropped_bytes_total"])
        check("exit line: refused per source as /metrics",
              e["per_source"] == last[
                  'evecho_connections_rejected_total{reason="per_source"}'])
        check("exit line: rejected as /metrics' other reasons",
              e["rejected"] == sum(last[
                  'evecho_connections_rejected_total{reason="%s"}' % r]
                  for r in ("max_conns", "draining", "error",
                            "proxy_untrusted", "proxy_header")))


def scenario_drain():
    """Shutdown: a quiet connection closes as drained while another sends."""
    srv = Server("--drain-timeout", "10")
    if srv.mport is None:
        check("drain: server ready", False, repr(srv.ready))
        return
    quiet = dial(srv.port)
    busy = dial(srv.port)
    time.sleep(0.1)
    srv.proc.send_signal(signal.SIGTERM)
    v = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        busy.sendall(b"b" * 10)
        busy.recv(100)
        v = srv.metrics().get(
            'evecho_connections_closed_total{reason="drained"}')
        if v == 1:
            break
        time.sleep(0.05)
    check("drain: the quiet one is closed{drained}, metrics still served",
          v == 1, repr(v))
    check("drain: its client sees the close", closed_by_server(quiet, 2))
    busy.shutdown(socket.SHUT_WR)
    busy.recv(100)
    busy.close()
    quiet.close()
    try:
        rc = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    check("drain: the server exits 0 once the busy one is done", rc == 0,
          repr(rc))


def scenario_accept_errors():
    """Out of descriptors: accept errors and pauses are counted."""
    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
    srv = Server("--max-conns", "1000", "-q", preexec=low_nofile)
    if srv.mport is None:
        check("EMFILE: server ready", False, repr(srv.ready))
        return
    conns = []
    for _ in range(50):
        try:
            conns.append(dial(srv.port))
        except OSError:
            break
    time.sleep(0.5)
    for s in conns:
        s.close()
    errors = srv.wait_metric("evecho_accept_errors_total", lambda v: v > 0)
    m = srv.metrics()
    check("EMFILE: accept errors counted", errors is not None and errors > 0,
          repr(errors))
    check("EMFILE: accept pauses counted, at most one per error",
          0 < m["evecho_accept_pauses_total"] <= m[
              "evecho_accept_errors_total"], repr(m))
    rc, _ = srv.stop()
    check("EMFILE: exit 0", rc == 0, str(rc))


def scenario_addresses():
    """IPv6, a bad address, an address in use."""
    srv = Server(metrics="[::1]:0")
    check("--metrics [::1]:0 says http://[::1]:PORT/",
          srv.ready and re.match(r"metrics on http://\[::1\]:\d+/$",
                                 srv.ready[-1]), repr(srv.ready))
    if srv.mport:
        status, _, _ = srv.get("/metrics")
        check("and serves there", status == 200)
        taken = srv.mport
        p = subprocess.run([SERVER, "-l", "127.0.0.1:0", "--metrics",
                            "[::1]:%d" % taken], capture_output=True,
                           text=True, timeout=10)
        lines = [x for x in p.stderr.splitlines() if "error" in x]
        check("an address in use: exit 1, one error line",
              p.returncode == 1 and len(lines) == 1, p.stderr)
    srv.stop()
    p = subprocess.run([SERVER, "-l", "127.0.0.1:0", "--metrics",
                        "127.0.0.1:http:x"], capture_output=True, text=True,
                       timeout=10)
    check("a malformed address: exit 64, one line",
          p.returncode == 64 and len(p.stderr.strip().splitlines()) == 1,
          "%d %r" % (p.returncode, p.stderr))


def scenario_valgrind():
    """Every HTTP path, good and bad, under memcheck: no error, no leak."""
    vg = os.environ.get("VALGRIND") or ""
    if not vg or os.environ.get("EVECHO_SANITIZERS") == "yes":
        print("skip: valgrind scenario (%s)" % (
            "no valgrind" if not vg else "sanitizer build"))
        return
    srv = Server("-q", wrapper=(vg, "-q", "--leak-check=full",
                                "--show-leak-kinds=all",
                                "--errors-for-leak-kinds=all",
                                "--error-exitcode=99"), ready_secs=30)
    if srv.mport is None:
        check("valgrind: server ready", False, repr(srv.ready))
        return
    ok = echo(srv.port, 5000)
    for path, method in (("/metrics", "GET"), ("/stats.json", "GET"),
                         ("/", "GET"), ("/metrics", "HEAD"),
                         ("/nope", "GET"), ("/metrics", "POST")):
        srv.get(path, method)
    try:
        srv.get("/", headers={"X-Big": "a" * 20000})
    except (http.client.HTTPException, ConnectionError):
        pass
    half = socket.create_connection((srv.mhost, srv.mport))
    half.sendall(b"GET /metr")
    rc, log = srv.stop(60)
    half.close()
    check("valgrind: echo under memcheck", ok)
    check("valgrind: no memory error or leak after every HTTP path, and a "
          "request left half-sent", rc == 0, "exit %s: %s" % (rc, log[-2000:]))


def main():
    global TMP
    TMP = sys.argv[1]
    try:
        for scenario in (scenario_counters, scenario_drain,
                         scenario_accept_errors, scenario_addresses,
                         scenario_valgrind):
            scenario()
    finally:
        stop_all()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
