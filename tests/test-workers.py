#!/usr/bin/env python3
"""test-workers.py: evecho-server --workers from the outside.

Four workers on one kernel-chosen port: the readiness lines come once, when
all listen; connections land on more than one worker; a worker killed with
SIGKILL loses its own connections only, comes back, and the port serves
throughout; SIGTERM drains every worker; the supervisor's exit line adds
the workers' up.  Run by tests/test-workers.sh; every process is stopped
by PID, every wait bounded.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from evtest import (SERVER, alive, check, children, stop_all, summary,
                    wait_for)
import evtest


class Server(evtest.Server):
    """evecho-server --workers N on 127.0.0.1:0, --metrics on another."""

    def __init__(self, workers, *args):
        super().__init__(TMP, ["--workers", str(workers), "-l",
                               "127.0.0.1:0"] + list(args))


def dial(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def echo_once(s, data):
    """Send data on s and read it back: True if byte-exact."""
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            return False
        got += b
    return got == data


def dom(url):
    """The status page at url as headless Chromium renders it, or None."""
    exe = shutil.which("chromium")
    if exe is None:
        return None
    profile = tempfile.mkdtemp(prefix="evecho-workers-chromium.", dir=TMP)
    try:
        p = subprocess.run([exe, "--headless=new", "--no-sandbox",
                            "--disable-gpu", "--user-data-dir=" + profile,
                            "--virtual-time-budget=3000", "--dump-dom", url],
                           capture_output=True, text=True, timeout=60,
                           start_new_session=True)
        return p.stdout
    except subprocess.TimeoutExpired:
        return ""
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def worker_of(srv, conns):
    """Which worker serves each of conns: by the PID owning its socket."""
    owner = {}
    for w in srv.stats()["workers"]:
        fddir = "/proc/%d/fd" % w["pid"]
        for fd in os.listdir(fddir):
            try:
                link = os.readlink(os.path.join(fddir, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                owner[int(link[8:-1])] = w["worker"]
    result = []
    for s in conns:
        # The server's end of this connection: the inode of the socket
        # whose local port is our remote port, from /proc/net/tcp.
        result.append(owner.get(server_inode(s.getsockname()[1],
                                             s.getpeername()[1])))
    return result


def server_inode(client_port, server_port):
    """The inode of the server's socket of the connection from client_port."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            local, remote = p[1], p[2]
            if (int(local.split(":")[1], 16) == server_port and
                    int(remote.split(":")[1], 16) == client_port):
                return int(p[9])
    return None


def scenario_spread_kill_drain():
    srv = Server(4)
    check("one listening line and one metrics line",
          len(srv.ready) == 2 and srv.port is not None, repr(srv.ready))
    if srv.port is None:
        return
    st = srv.stats()
    pids = [w["pid"] for w in st["workers"]]
    check("at readiness, all four workers run and have started once",
          len(pids) == 4 and all(pids) and
          all(w["starts"] == 1 for w in st["workers"]) and
          sorted(pids) == children(srv.proc.pid), repr(st["workers"]))
    log = srv.log()
    check("each worker said it listens before the supervisor's readiness",
          all(re.search(r"info: worker %d: 1 listening sockets" % i, log)
              for i in range(1, 5)) and "4 workers serving" in log, log)
    check("the supervisor listens on nothing it accepts from",
          srv.proc.pid not in [w["pid"] for w in st["workers"]])

    # Spread: 200 short echoes.
    ok = all(echo_once(dial(srv.port), b"spread %d\n" % i)
             for i in range(200))
    check("200 echoes through four workers", ok)
    time.sleep(0.2)
    st = srv.stats()
    per = [w["accepted"] for w in st["workers"]]
    check("connections land on more than one worker",
          sum(1 for n in per if n > 0) >= 2, repr(per))
    check("the total is the workers' sum",
          st["connections"]["accepted"] == sum(per) == 200, repr(per))
    text = srv.metrics_text()
    check("/metrics has a worker label per series and the total",
          'evecho_connections_accepted_total{worker="1"}' in text and
          re.search(r"^evecho_connections_accepted_total 200$", text, re.M),
          text[:400])
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    check("promtool accepts the workers' metrics",
          p.returncode == 0, (p.stdout + p.stderr).decode())

    # Kill one: only its connections go; the port serves throughout.
    held = [dial(srv.port) for _ in range(40)]
    for i, s in enumerate(held):
        echo_once(s, b"held %d\n" % i)
    owners = worker_of(srv, held)
    victim = max(set(o for o in owners if o), key=owners.count)
    victim_pid = srv.stats()["workers"][victim - 1]["pid"]
    failures = []
    done = threading.Event()

    def hammer():
        n = 0
        while not done.is_set():
            try:
                s = dial(srv.port)
                if not echo_once(s, b"during %d\n" % n):
                    failures.append(n)
                s.close()
            except OSError as e:
                failures.append("%d: %s" % (n, e))
            n += 1
            time.sleep(0.002)   # a steady trickle, not a flood
        hammer.count = n
    t = threading.Thread(target=hammer)
    t.start()
    time.sleep(0.3)
    os.kill(victim_pid, signal.SIGKILL)
    back = srv.wait_log(r"worker %d serves again" % victim, 5)
    time.sleep(0.5)
    done.set()
    t.join(10)
    check("the killed worker comes back", back is not None, srv.log()[-800:])
    check("new connections echo throughout the kill and restart "
          "(%d tried)" % getattr(hammer, "count", 0), not failures,
          repr(failures[:5]))
    st = srv.stats()
    w = st["workers"][victim - 1]
    check("it has a new PID and has started twice",
          w["pid"] != victim_pid and w["starts"] == 2, repr(w))
    page = dom(srv.url)
    if page is None:
        print("skip: the status page's workers table (no chromium)")
    else:
        shown = dict(re.findall(r'id="worker-(\d+)-pid" data-value="(\d+)"',
                                page))
        check("the status page's workers table shows each pid and the "
              "restart", shown == {str(x["worker"]): str(x["pid"])
                                   for x in st["workers"]} and
              'id="worker-%d-starts" data-value="2"' % victim in page,
              repr(shown))
    lost = kept = 0
    for s, o in zip(held, owners):
        try:
            alive = echo_once(s, b"after\n")
        except OSError:
            alive = False
        if o == victim:
            lost += not alive
        else:
            kept += alive
    check("its %d connections are gone" % owners.count(victim),
          lost == owners.count(victim), "%d lost" % lost)
    check("every other connection still echoes",
          kept == len(held) - owners.count(victim),
          "%d of %d" % (kept, len(held) - owners.count(victim)))
    check("the log names the worker, the signal and the back-off",
          re.search(r"worker %d \(pid %d\) killed by signal 9.*restarting "
                    r"in 0\.1 s" % (victim, victim_pid), srv.log()),
          srv.log()[-800:])
    for s in held:
        s.close()

    # Drain: streams in flight when SIGTERM comes get all their echo.
    streams = [dial(srv.port) for _ in range(8)]
    results = [None] * len(streams)

    def stream(i):
        s = streams[i]
        data = os.urandom(2 << 20)
        got = bytearray()
        s.settimeout(10)

        def reader():
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                got.extend(b)
        r = threading.Thread(target=reader)
        r.start()
        for off in range(0, len(data), 65536):
            s.sendall(data[off:off + 65536])
            time.sleep(0.005)
        s.shutdown(socket.SHUT_WR)
        r.join(15)
        results[i] = bytes(got) == data
    ts = [threading.Thread(target=stream, args=(i,))
          for i in range(len(streams))]
    for t in ts:
        t.start()
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    for t in ts:
        t.join(20)
    try:
        rc = srv.proc.wait(20)
    except subprocess.TimeoutExpired:
        rc = None
    check("SIGTERM: every stream in flight gets all its 2 MiB back",
          all(results), repr(results))
    check("SIGTERM: the supervisor exits 0 once all workers drained",
          rc == 0, "%r %s" % (rc, srv.log()[-800:]))
    log = srv.log()
    check("each worker logged its own drain",
          all(re.search(r"worker %d stopped:" % i, log) for i in range(1, 5)))
    total = re.search(r"\] info: exit: connections \d+ open, \d+ peak, "
                      r"(\d+) accepted", log)
    workers = [int(m) for m in re.findall(
        r"worker \d stopped: connections \d+ open, \d+ peak, (\d+) accepted",
        log)]
    check("the exit line adds up the workers' last lines",
          total is not None and int(total.group(1)) == sum(workers),
          "%r vs %r" % (total and total.group(1), workers))
    check("no worker is left", not children(srv.proc.pid))


def scenario_greeting_usr1():
    srv = Server(2, "--greeting", "worker %w")
    if srv.port is None:
        check("greeting: ready", False, repr(srv.ready))
        return
    seen = set()
    for _ in range(60):
        s = dial(srv.port)
        line = b""
        while not line.endswith(b"\n"):
            b = s.recv(100)
            if not b:
                break
            line += b
        seen.add(line.strip().decode())
        s.close()
    check("--greeting %w names the worker that answered",
          seen <= {"worker 1", "worker 2"} and len(seen) == 2, repr(seen))
    srv.proc.send_signal(signal.SIGUSR1)
    m = srv.wait_log(r"stats, all workers: connections", 3)
    wait_for(lambda: len(re.findall(r"info: stats: connections",
                                    srv.log())) >= 2, 3)
    check("SIGUSR1: the sum, and each worker's line",
          m is not None and len(re.findall(r"info: stats: connections",
                                           srv.log())) == 2, srv.log()[-600:])
    # The supervisor killed: its workers do not outlive it.
    pids = [w["pid"] for w in srv.stats()["workers"]]
    srv.proc.kill()
    srv.proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    check("the supervisor killed: its workers exit",
          not any(alive(p) for p in pids), repr(pids))
    try:
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    check("and the port is closed", refused)


def scenario_command_line():
    for bad in ("0", "129", "many", "-1", ""):
        p = subprocess.run([SERVER, "--workers", bad], capture_output=True,
                           text=True, timeout=10)
        check("--workers '%s': exit 64, one line" % bad,
              p.returncode == 64 and len(p.stderr.strip().splitlines()) == 1,
              "%d %r" % (p.returncode, p.stderr))
    srv = Server("auto")
    n = len(os.sched_getaffinity(0))
    check("--workers auto: one per CPU this process may use (%d)" % n,
          srv.port is not None and len(srv.stats()["workers"]) == n)
    check("--workers auto: exit 0", srv.stop() == 0)


def main():
    global TMP
    TMP = sys.argv[1]
    try:
        for scenario in (scenario_spread_kill_drain, scenario_greeting_usr1,
                         scenario_command_line):
            scenario()
    finally:
        stop_all()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
