#!/usr/bin/env python3
"""tests/test-prometheus.sh's hands: HTTP, Prometheus queries, echo traffic.

Standard library only.  Every network call has a timeout, every wait a
bound.  Usage:

  prom-query.py port
      print a port the kernel picks on 127.0.0.1 (bound, read, closed)
  prom-query.py get URL
      print the body of a 200 answer; exit 1 otherwise
  prom-query.py wait-ok URL PID SECS
      until URL answers 200; exit 1 after SECS or as soon as PID is gone
  prom-query.py traffic PORT CONNS BYTES
      CONNS clean echo connections of BYTES each, one refused per source
      and one over --max-conns (the server runs with --max-conns 4
      --max-conns-per-source 2); print the wall clock when all is done
  prom-query.py wait-scrapes PROMURL SELECTOR SINCE COUNT SECS
      until SELECTOR has COUNT raw samples stamped after SINCE (epoch s);
      print how many it has
  prom-query.py query PROMURL EXPR [LABEL]
      an instant query that must give exactly one series: print its value,
      or its LABEL's value
  prom-query.py targets PROMURL JOB
      print the job's one active target as "health scrapeUrl lastError"
"""
import http.client
import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 5


def die(msg):
    sys.exit("prom-query: " + msg)


def http_get(url, timeout=TIMEOUT):
    """(status, body) of a GET; status 0 when the request failed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (OSError, ValueError, http.client.HTTPException) as e:
        return 0, str(e)


def api(prom, path, **params):
    """The data of a Prometheus API answer with status success."""
    url = prom.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    status, body = http_get(url)
    if status != 200:
        die("%s: HTTP %s: %s" % (url, status, body.strip()[:300]))
    doc = json.loads(body)
    if doc.get("status") != "success":
        die("%s: %s" % (url, body.strip()[:300]))
    return doc["data"]


def cmd_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_get(url):
    status, body = http_get(url)
    if status != 200:
        die("%s: HTTP %s: %s" % (url, status, body.strip()[:300]))
    sys.stdout.write(body)


def alive(pid):
    """False once pid has exited (a zombie counts as exited)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_wait_ok(url, pid, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not alive(pid):
            die("process %d exited before %s answered" % (pid, url))
        if http_get(url, timeout=1)[0] == 200:
            return
        time.sleep(0.1)
    die("%s: no 200 in %g s" % (url, secs))


# Echo traffic.  The sources are loopback addresses of their own, so the
# per-source cap counts each group apart.
def connect(port, src):
    s = socket.socket()
    s.settimeout(TIMEOUT)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def echo(s, data):
    s.sendall(data)
    got = bytearray()
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            die("connection closed after %d of %d bytes" % (len(got),
                                                            len(data)))
        got += chunk
    if bytes(got) != data:
        die("the echo differs from what was sent")


def close_clean(s):
    """Half-close, and the server's FIN must follow with nothing else."""
    s.shutdown(socket.SHUT_WR)
    if s.recv(1) != b"":
        die("bytes after the echo")
    s.close()


def expect_refused(port, src, why):
    """A connection the server closes at accept, unread and unanswered."""
    s = connect(port, src)
    try:
        if s.recv(1) != b"":
            die("a connection over %s was served" % why)
    except ConnectionResetError:
        pass
    except socket.timeout:
        die("a connection over %s stayed open" % why)
    s.close()


def payload(i, n):
    return bytes((i * 7 + j) % 251 for j in range(n))


def cmd_traffic(port, conns, nbytes):
    if conns < 4:
        die("traffic needs at least 4 connections")
    # 127.0.0.1 twice: at the per-source cap of 2, a third is refused.
    held = [connect(port, "127.0.0.1") for _ in range(2)]
    for i, s in enumerate(held):
        echo(s, payload(i, nbytes))
    expect_refused(port, "127.0.0.1", "--max-conns-per-source")
    # Two more from 127.0.0.2: at --max-conns 4, a fifth is refused.
    more = [connect(port, "127.0.0.2") for _ in range(2)]
    for i, s in enumerate(more):
        echo(s, payload(2 + i, nbytes))
    held += more
    expect_refused(port, "127.0.0.3", "--max-conns")
    for s in held:
        close_clean(s)
    # The rest one at a time: each closed (the server's FIN read) before
    # the next, so no cap is near.
    for i in range(4, conns):
        s = connect(port, "127.0.0.%d" % (4 + i))
        echo(s, payload(i, nbytes))
        close_clean(s)
    print("%.3f" % time.time())


def cmd_wait_scrapes(prom, selector, since, count, secs):
    end = time.monotonic() + secs
    n = 0
    while True:
        data = api(prom, "/api/v1/query", query="%s[1m]" % selector)
        n = sum(1 for series in data["result"]
                for ts, _ in series["values"] if float(ts) > since)
        if n >= count or time.monotonic() >= end:
            break
        time.sleep(0.2)
    print(n)
    if n < count:
        sys.exit(1)


def cmd_query(prom, expr, label=None):
    data = api(prom, "/api/v1/query", query=expr)
    result = data["result"]
    if data["resultType"] != "vector" or len(result) != 1:
        die("%s: %d series, not 1: %s" % (expr, len(result),
                                          json.dumps(result)[:300]))
    if label is None:
        print(result[0]["value"][1])
    else:
        print(result[0]["metric"].get(label, ""))


def cmd_targets(prom, job):
    data = api(prom, "/api/v1/targets", state="active")
    mine = [t for t in data["activeTargets"] if t["labels"].get("job") == job]
    if len(mine) != 1:
        die("%d active targets for job %s, not 1" % (len(mine), job))
    t = mine[0]
    print(t["health"], t["scrapeUrl"], t["lastError"] or "-")


def main(argv):
    if not argv:
        die("no command; see the docstring")
    cmd, args = argv[0], argv[1:]
    try:
        if cmd == "port" and not args:
            cmd_port()
        elif cmd == "get" and len(args) == 1:
            cmd_get(args[0])
        elif cmd == "wait-ok" and len(args) == 3:
            cmd_wait_ok(args[0], int(args[1]), float(args[2]))
        elif cmd == "traffic" and len(args) == 3:
            cmd_traffic(int(args[0]), int(args[1]), int(args[2]))
        elif cmd == "wait-scrapes" and len(args) == 5:
            cmd_wait_scrapes(args[0], args[1], float(args[2]), int(args[3]),
                             float(args[4]))
        elif cmd == "query" and len(args) in (2, 3):
            cmd_query(*args)
        elif cmd == "targets" and len(args) == 2:
            cmd_targets(*args)
        else:
            die("bad usage: %s" % " ".join(argv))
    except OSError as e:
        die("%s: %s" % (cmd, e))


if __name__ == "__main__":
    main(sys.argv[1:])
