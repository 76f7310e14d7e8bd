#!/usr/bin/env python3
"""test-udp.py: evecho-server -u, the UDP echo (RFC 862).

Datagrams of every size UDP carries come back byte-exact, from the address
they were sent to; 100 flows at once each get their own; the loop guard
answers nothing from port 7, our own port or below 1024 (unless
--udp-allow-low-ports); --udp-rate holds a fast sender to about the rate
and leaves a second source alone; a burst that overflows the receive
buffer is counted, to the datagram, and the server answers after it.
Run by tests/test-udp.sh; every server is stopped by PID, every wait
bounded.
"""
import os
import select
import signal
import socket
import sys
import time

from evtest import check
import evtest

TMP = sys.argv[1] if len(sys.argv) > 1 else "."


class Server(evtest.Server):
    def __init__(self, *args):
        super().__init__(TMP, args)

    def udp(self, host):
        """The UDP (host, port) the server named for host."""
        return next((h, p) for h, p in self.udp_ports if h == host)

    def dropped(self, reason):
        return self.metric('evecho_udp_dropped_datagrams_total{reason="%s"}'
                           % reason)


def udp_socket(family=socket.AF_INET, bind=None, timeout=2.0):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    if bind is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(bind)
    s.settimeout(timeout)
    return s


def pattern(n, salt=0):
    return bytes((i * 7 + salt) & 0xFF for i in range(n))


def echo(s, addr, data):
    """Send data to addr; (what came back, from where), or (None, None)."""
    s.sendto(data, addr)
    try:
        return s.recvfrom(70000)
    except socket.timeout:
        return None, None


def silent(s, addr, data, secs=0.5):
    """1 if nothing comes back to data within secs."""
    s.settimeout(secs)
    got, _ = echo(s, addr, data)
    return got is None


def test_sizes():
    srv = Server("-u", "127.0.0.1:0", "-u", "[::1]:0", "-u", "0.0.0.0:0")
    check("-u alone: ready lines name udp, no TCP listener",
          len(srv.udp_ports) == 3 and srv.ports == [] and
          all(l.startswith("listening on udp ") for l in srv.ready[:3]),
          repr(srv.ready))
    v4 = srv.udp("127.0.0.1")
    s = udp_socket()
    for n in (0, 1, 1472, 8192, 65507):
        data = pattern(n, n)
        got, frm = echo(s, v4, data)
        check("%d bytes over 127.0.0.1: byte-exact, from its address" % n,
              got == data and frm == v4,
              "%r from %r" % (None if got is None else len(got), frm))
    s6 = udp_socket(socket.AF_INET6)
    v6 = srv.udp("::1")
    data = pattern(65527, 3)
    got, frm = echo(s6, v6, data)
    check("65527 bytes over ::1: byte-exact", got == data and frm[:2] == v6,
          "%r" % (None if got is None else len(got)))
    # A wildcard socket answers from the address it was sent to.
    wild = ("127.0.0.2", srv.udp("0.0.0.0")[1])
    got, frm = echo(s, wild, b"which address?")
    check("a wildcard socket answers from the address sent to",
          got == b"which address?" and frm == wild, repr(frm))
    m = srv.metrics()
    total = 6 + 1
    check("/metrics counts every datagram in and out",
          m.get("evecho_udp_received_datagrams_total") == total and
          m.get("evecho_udp_sent_datagrams_total") == total and
          m.get("evecho_udp_received_bytes_total") ==
          m.get("evecho_udp_sent_bytes_total") ==
          1 + 1472 + 8192 + 65507 + 65527 + len(b"which address?"), repr(
              {k: v for k, v in m.items() if "udp" in k}))
    srv.proc.send_signal(signal.SIGUSR1)
    check("SIGUSR1 logs the UDP counters",
          srv.wait_log(r"stats: .*udp datagrams 7 in .*7 out") is not None,
          srv.log()[-400:])
    rc = srv.stop()
    check("SIGTERM: exit 0, the exit line has the UDP counters",
          rc == 0 and srv.wait_log(r"exit: .*udp datagrams 7 in \(%d bytes\), "
                                   r"7 out" % (1 + 1472 + 8192 + 65507 + 65527
                                               + 14)) is not None,
          "rc %r: %s" % (rc, srv.log()[-400:]))


def test_flows():
    srv = Server("-u", "127.0.0.1:0", "-l", "127.0.0.1:0")
    check("-l and -u together: one TCP and one UDP socket",
          len(srv.ports) == 1 and len(srv.udp_ports) == 1, repr(srv.ready))
    addr = srv.udp("127.0.0.1")
    flows = [udp_socket(timeout=0) for _ in range(100)]
    for s in flows:
        s.setblocking(False)
    per_flow = 20
    want = {}
    got = {}
    for seq in range(per_flow):
        for i, s in enumerate(flows):
            d = b"flow %03d seq %03d " % (i, seq) + pattern(100, i + seq)
            want.setdefault(i, []).append(d)
            s.sendto(d, addr)
        time.sleep(0.002)
    deadline = time.monotonic() + 5
    fds = {s.fileno(): i for i, s in enumerate(flows)}
    while sum(len(v) for v in got.values()) < 100 * per_flow and \
            time.monotonic() < deadline:
        r, _, _ = select.select(list(fds), [], [], 0.2)
        for fd in r:
            i = fds[fd]
            try:
                while True:
                    got.setdefault(i, []).append(flows[i].recv(70000))
            except BlockingIOError:
                pass
    check("100 flows at once: each gets its own datagrams, in order",
          all(got.get(i) == want[i] for i in range(100)),
          "%d of %d flows whole" % (sum(got.get(i) == want[i]
                                        for i in range(100)), 100))
    # The TCP side is there too.
    t = socket.create_connection(srv.ports[0], timeout=2)
    t.sendall(b"tcp too")
    check("the TCP listener beside it echoes", t.recv(100) == b"tcp too")
    t.close()
    check("stopped: exit 0", srv.stop() == 0)


def test_guard():
    srv = Server("-u", "127.0.0.1:0")
    addr = srv.udp("127.0.0.1")
    try:
        seven = udp_socket(bind=("127.0.0.1", 7))
    except OSError as e:
        seven = None
        check("a socket on port 7 (root)", False, str(e))
    if seven is not None:
        check("from port 7: never answered", silent(seven, addr, b"loop?"))
        seven.close()
    low = udp_socket(bind=("127.0.0.1", 1000))
    check("from port 1000: not answered", silent(low, addr, b"low?"))
    # Our own port, from another address: two echo servers would ping-pong.
    ours = udp_socket(bind=("127.0.0.2", addr[1]))
    check("from the server's own port: not answered",
          silent(ours, addr, b"ours?"))
    ok = udp_socket()
    got, _ = echo(ok, addr, b"plain")
    check("from an ephemeral port: answered", got == b"plain")
    check("counted: loop 2, low_port 1",
          srv.dropped("loop") == (2 if seven else 1) and
          srv.dropped("low_port") == 1,
          "loop %r low_port %r" % (srv.dropped("loop"),
                                   srv.dropped("low_port")))
    u = srv.stats().get("udp", {})
    check("/stats.json has them too (for the status page)",
          u.get("sockets") == 1 and u.get("dropped", {}).get("low_port") == 1
          and u.get("received") == u.get("sent") + u["dropped"]["loop"] + 1,
          repr(u))
    check("drops logged, with the source",
          srv.wait_log(r"udp: \d+ datagrams not echoed \([^)]*1 low_port"
                       r"[^)]*\), the latest from 127\.0\.0\.[12]:\d+")
          is not None,
          srv.log()[-500:])
    srv.stop()

    srv = Server("-u", "127.0.0.1:0", "--udp-allow-low-ports")
    addr = srv.udp("127.0.0.1")
    got, _ = echo(low, addr, b"low!")
    check("--udp-allow-low-ports: port 1000 answered", got == b"low!")
    if seven is not None:
        seven = udp_socket(bind=("127.0.0.1", 7))
        check("--udp-allow-low-ports: port 7 still not",
              silent(seven, addr, b"loop?"))
        seven.close()
    low.close()
    srv.stop()


def pump(sender, addr, rate, secs, got):
    """Send to addr at about rate datagrams/s for secs; count echoes."""
    sent = 0
    start = time.monotonic()
    while True:
        now = time.monotonic() - start
        if now >= secs:
            break
        for s, r in zip(sender, rate):
            due = int(now * r) - s[1]
            for _ in range(max(due, 0)):
                s[0].sendto(b"x" * 32, addr)
                s[1] += 1
        collect(sender, got)
        time.sleep(0.002)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        collect(sender, got)
        time.sleep(0.01)
    return sent


def collect(sender, got):
    """Count the echoes waiting on each sender's socket into got."""
    for i, (s, _) in enumerate(sender):
        try:
            while True:
                s.recv(100)
                got[i] += 1
        except BlockingIOError:
            pass


def test_rate():
    rate, secs = 200, 3.0
    srv = Server("-u", "0.0.0.0:0", "--udp-rate", str(rate))
    port = srv.udp("0.0.0.0")[1]
    fast = udp_socket(bind=("127.0.0.1", 0))
    slow = udp_socket(bind=("127.0.0.3", 0))
    fast.setblocking(False)
    slow.setblocking(False)
    sender = [[fast, 0], [slow, 0]]
    got = [0, 0]
    # Both to 127.0.0.1: the rate is per source address.
    pump(sender, ("127.0.0.1", port), (10 * rate, rate / 2), secs, got)
    # One second's worth at first, then the rate.
    lo, hi = rate * secs * 0.8, (rate * secs + rate) * 1.15
    check("a sender at 10x --udp-rate gets about the rate",
          lo <= got[0] <= hi, "%d of %d echoed, wanted %d..%d" % (
              got[0], sender[0][1], lo, hi))
    check("a second source at half the rate is not touched",
          got[1] == sender[1][1], "%d of %d" % (got[1], sender[1][1]))
    check("the rest counted as rate",
          srv.dropped("rate") == sender[0][1] - got[0],
          "%r, %d" % (srv.dropped("rate"), sender[0][1] - got[0]))
    srv.stop()


def test_overflow():
    srv = Server("-u", "127.0.0.1:0")
    addr = srv.udp("127.0.0.1")
    s = udp_socket()
    got, _ = echo(s, addr, b"before")
    n = 3000
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        for i in range(n):
            s.sendto(pattern(1000, i), addr)
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    s.settimeout(0.5)
    echoed = 0
    try:
        while True:
            s.recv(70000)
            echoed += 1
    except socket.timeout:
        pass
    # The kernel's count comes with the first datagram queued after it.
    got, _ = echo(s, addr, b"after")
    check("after a burst that overflowed its buffer, the server answers",
          got == b"after")
    m = srv.metrics()
    received = m.get("evecho_udp_received_datagrams_total")
    overflow = srv.dropped("overflow")
    check("the burst: every datagram either echoed or counted as overflow",
          overflow > 0 and received - 2 == echoed and
          received - 2 + overflow == n,
          "%r received, %d echoed, %r overflow, of %d" % (
              received, echoed, overflow, n))
    check("the overflow is logged",
          srv.wait_log(r"udp: %d datagrams not echoed \(%d overflow\)"
                       % (overflow, overflow)) is not None, srv.log()[-300:])
    srv.stop()


def test_workers():
    srv = Server("--workers", "2", "-u", "127.0.0.1:0")
    addr = srv.udp("127.0.0.1")
    flows = [udp_socket() for _ in range(16)]
    ok = sum(echo(s, addr, b"w%d" % i)[0] == b"w%d" % i
             for i, s in enumerate(flows))
    check("--workers 2: every flow answered", ok == 16, "%d of 16" % ok)
    m = srv.metrics()
    per = [m.get('evecho_udp_received_datagrams_total{worker="%d"}' % w)
           for w in (1, 2)]
    check("each worker counts its own, the total is their sum",
          m.get("evecho_udp_received_datagrams_total") == 16 and
          sum(per) == 16, repr(per))
    check("workers stopped: exit 0", srv.stop() == 0)


def test_valgrind():
    """Echo, guard, rate and overflow paths under memcheck."""
    vg = os.environ.get("VALGRIND") or ""
    if not vg or os.environ.get("EVECHO_SANITIZERS") == "yes":
        print("skip: valgrind scenario (%s)" % (
            "no valgrind" if not vg else "sanitizer build"))
        return
    srv = evtest.Server(TMP, ("-q", "-u", "127.0.0.1:0", "-u", "[::]:0",
                              "--udp-rate", "50", "--udp-sources", "2"),
                        wrapper=(vg, "-q", "--leak-check=full",
                                 "--show-leak-kinds=all",
                                 "--errors-for-leak-kinds=all",
                                 "--error-exitcode=99"), ready_secs=30)
    if len(srv.udp_ports) != 2:
        check("valgrind: server ready", False, repr(srv.ready))
        return
    addr = (srv.udp_ports[0][0], srv.udp_ports[0][1])
    s = udp_socket(timeout=5)
    ok = all(echo(s, addr, pattern(n, n))[0] == pattern(n, n)
             for n in (0, 1, 65507))
    # Three sources through a table of two: one is forgotten.
    for host in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        o = udp_socket(bind=(host, 0), timeout=5)
        ok = ok and echo(o, addr, b"rate")[0] == b"rate"
        o.close()
    low = udp_socket(bind=("127.0.0.1", 1001))
    low.sendto(b"low", addr)
    s6 = udp_socket(socket.AF_INET6, timeout=5)
    ok = ok and echo(s6, ("::1", srv.udp_ports[1][1]), b"v6")[0] == b"v6"
    for i in range(200):
        s.sendto(b"burst", addr)
    rc = srv.stop(60)
    check("valgrind: echo, guard and rate under memcheck", ok)
    check("valgrind: no memory error or leak", rc == 0,
          "exit %s: %s" % (rc, srv.log()[-2000:]))


if __name__ == "__main__":
    sys.exit(evtest.run(test_sizes, test_flows, test_guard, test_rate,
                        test_overflow, test_workers, test_valgrind))
