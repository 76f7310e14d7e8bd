#!/usr/bin/env python3
"""test-fault.py: evecho-server --fault, each fault seen from the client.

A reset after exactly N bytes echoed, a FIN after N, a stall that keeps
the connection open and silent, every delayed echo no sooner than asked,
a rate cap, chunks that leave in segments of their own (seen on the wire
with a packet socket on lo), corruption, refusal; with a seed, @30% over
1,000 connections within the binomial bounds and the same connections
twice; UDP drop, duplicate and reorder as evecho-benchmark --udp counts
them; a clean listener beside a faulty one stays clean; counters by kind.
Run by tests/test-fault.sh; every server is stopped by PID, every wait
bounded.
"""
import json
import math
import os
import socket
import struct
import subprocess
import sys
import threading
import time

from evtest import BUILD, check, stop_all, summary
import evtest

TMP = sys.argv[1] if len(sys.argv) > 1 else "."
BENCH = os.path.join(BUILD, "src", "evecho-benchmark")


class Server(evtest.Server):
    def __init__(self, *args):
        super().__init__(TMP, args)

    def faults(self, kind):
        return self.metric('evecho_faults_total{kind="%s"}' % kind)


def tcp(port, timeout=5.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_until_end(s, limit=1 << 24):
    """Everything until EOF or an error: (bytes, 'eof' or the error)."""
    got = b""
    while len(got) < limit:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return got, "timeout"
        except OSError as e:
            return got, e.__class__.__name__
        if not b:
            return got, "eof"
        got += b
    return got, "limit"


def pattern(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))


def test_endings():
    n = 10000
    srv = Server("-l", "127.0.0.1:0", "--fault", "reset-after=%d" % n)
    s = tcp(srv.port)
    data = pattern(3 * n)
    s.sendall(data)
    got, end = read_until_end(s)
    check("reset-after=%d: the client reads exactly %d bytes, then "
          "ECONNRESET" % (n, n), got == data[:n] and
          end == "ConnectionResetError", "%d bytes, then %s" % (len(got), end))
    srv.stop()

    srv = Server("-l", "127.0.0.1:0", "--fault", "close-after=%d" % n)
    s = tcp(srv.port)
    s.sendall(data)
    got, end = read_until_end(s)
    check("close-after=%d: exactly %d bytes, then EOF" % (n, n),
          got == data[:n] and end == "eof", "%d bytes, then %s" % (len(got),
                                                                    end))
    # Before any byte: 0.
    s = tcp(srv.port)
    s.close()
    srv2 = Server("-l", "127.0.0.1:0", "--fault", "reset-after=0")
    s = tcp(srv2.port)
    s.sendall(b"anything")
    got, end = read_until_end(s)
    check("reset-after=0: reset before any echo",
          got == b"" and end == "ConnectionResetError", "%r %s" % (got, end))
    m = srv.metrics()
    check("close-after counted by kind, and as close reason fault",
          m.get('evecho_faults_total{kind="close-after"}') == 1 and
          m.get('evecho_connections_closed_total{reason="fault"}') >= 1,
          repr({k: v for k, v in m.items() if "fault" in k}))
    srv.stop()
    srv2.stop()

    srv = Server("-l", "127.0.0.1:0", "--fault", "close-after=300ms")
    s = tcp(srv.port)
    t0 = time.monotonic()
    s.sendall(b"before")
    first = s.recv(100)
    got, end = read_until_end(s)
    took = time.monotonic() - t0
    check("close-after=300ms: echoes, then FIN at 300 ms",
          first == b"before" and end == "eof" and 0.28 <= took <= 1.0,
          "%r %s after %.3f s" % (first, end, took))
    srv.stop()


def test_stall():
    srv = Server("-l", "127.0.0.1:0", "--fault", "stall-after=1000",
                 "--idle-timeout", "1.5")
    s = tcp(srv.port, timeout=1.0)
    s.sendall(pattern(5000))
    got = b""
    while len(got) < 1000:
        got += s.recv(65536)
    s.settimeout(0.8)
    got2, end = read_until_end(s)
    check("stall-after=1000: 1000 bytes, then silence on an open "
          "connection", got == pattern(1000) and got2 == b"" and
          end == "timeout", "%d then %d, %s" % (len(got), len(got2), end))
    # Still open: the client can still write into it.
    try:
        s.sendall(b"x")
        still = True
    except OSError:
        still = False
    check("stalled: still open for the client", still)
    s.settimeout(3.0)
    t0 = time.monotonic()
    got3, end = read_until_end(s)
    check("stalled: --idle-timeout ends it", got3 == b"" and
          end in ("eof", "ConnectionResetError") and
          time.monotonic() - t0 < 2.5, "%s after %.2f s" % (
              end, time.monotonic() - t0))
    # A client that gives up is noticed, and shutdown does not wait.
    s = tcp(srv.port)
    s.sendall(pattern(2000))
    time.sleep(0.2)
    check("stall counted", srv.faults("stall-after") == 2)
    s.close()
    check("a stalled connection whose client left is closed",
          srv.wait_metric("evecho_connections_open", lambda v: v == 0, 3)
          == 0)
    s = tcp(srv.port)
    s.sendall(pattern(2000))
    time.sleep(0.2)
    t0 = time.monotonic()
    rc = srv.stop()
    check("SIGTERM ends a stalled connection at once, exit 0",
          rc == 0 and time.monotonic() - t0 < 2, "rc %r after %.2f s" % (
              rc, time.monotonic() - t0))


def test_delay():
    dur, jit = 0.040, 0.010
    srv = Server("-l", "127.0.0.1:0", "--fault", "delay=40ms~10ms")
    s = tcp(srv.port)
    times = []
    for i in range(40):
        t0 = time.monotonic()
        s.sendall(b"ping %d" % i)
        got = s.recv(100)
        times.append(time.monotonic() - t0)
        if got != b"ping %d" % i:
            break
    times.sort()
    median = times[len(times) // 2]
    check("delay=40ms~10ms: no echo sooner than 30 ms",
          len(times) == 40 and times[0] >= dur - jit,
          "min %.1f ms" % (times[0] * 1000))
    check("delay: the median within 40 ms + 10 ms",
          dur - jit <= median <= dur + 0.010, "median %.1f ms" % (
              median * 1000))
    # Order and every byte kept with many reads in flight.
    data = pattern(200000)
    got = bytearray()

    def reader():
        while len(got) < len(data):
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)
    t = threading.Thread(target=reader)
    t.start()
    for i in range(0, len(data), 1000):
        s.sendall(data[i:i + 1000])
    t.join(10)
    check("delay with jitter keeps order and every byte", bytes(got) == data,
          "%d of %d" % (len(got), len(data)))
    s.close()
    srv.stop()


def test_rate():
    rate, secs = 40000, 5.0
    srv = Server("-l", "127.0.0.1:0", "--fault", "rate=%d" % rate)
    s = tcp(srv.port)
    data = pattern(int(rate * (secs + 2)))
    w = threading.Thread(target=s.sendall, args=(data,))
    w.start()
    s.recv(1)
    t0 = time.monotonic()
    n = 0
    s.settimeout(1.0)
    while time.monotonic() - t0 < secs:
        n += len(s.recv(65536))
    got = n / (time.monotonic() - t0)
    check("rate=%d: within 10%% of %d B/s over 5 s" % (rate, rate),
          0.9 * rate <= got <= 1.1 * rate, "%.0f B/s" % got)
    s.close()
    w.join(5)
    srv.stop()


def capture(port, stop, sizes):
    """TCP payload sizes from port on lo, until stop is set."""
    try:
        p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(0x0003))
        p.bind(("lo", 0))
    except OSError:
        sizes.append(None)
        return
    p.settimeout(0.1)
    while not stop.is_set():
        try:
            frame = p.recv(70000)
        except socket.timeout:
            continue
        ip = frame[14:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        tcph = ip[ihl:]
        sport = struct.unpack("!H", tcph[0:2])[0]
        if sport != port:
            continue
        payload = total - ihl - (tcph[12] >> 4) * 4
        if payload > 0:
            sizes.append(payload)
    p.close()


def test_chunk():
    size = 1000
    srv = Server("-l", "127.0.0.1:0", "--fault", "chunk=%d" % size)
    stop = threading.Event()
    sizes = []
    cap = threading.Thread(target=capture, args=(srv.port, stop, sizes))
    cap.start()
    time.sleep(0.2)
    s = tcp(srv.port)
    data = pattern(100000)
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    time.sleep(0.1)
    stop.set()
    cap.join(2)
    check("chunk=%d: every byte, in order" % size, got == data)
    if sizes[:1] == [None]:
        print("skip: no packet socket (not root): chunk segments unchecked")
    else:
        # Each loopback echo is seen twice (out and in): every one counts.
        check("chunk=%d: every segment of the echo carries at most %d "
              "bytes" % (size, size), sizes and max(sizes) <= size and
              sum(sizes) >= len(data), "%d segments, largest %d, %d bytes" % (
                  len(sizes), max(sizes or [0]), sum(sizes)))
    check("chunks counted", srv.faults("chunk") >= len(data) // size,
          repr(srv.faults("chunk")))
    s.close()
    srv.stop()


def test_corrupt_refuse():
    srv = Server("-l", "127.0.0.1:0", "--fault", "corrupt")
    s = tcp(srv.port)
    data = pattern(20000)
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        got += s.recv(65536)
    diff = [i for i in range(len(data)) if got[i] != data[i]]
    check("corrupt: the echo has inverted bytes, one per chunk, nothing "
          "else changed", 0 < len(diff) == srv.faults("corrupt") and
          all(got[i] == data[i] ^ 0xFF for i in diff) and
          len(got) == len(data), "%d differ, %r counted" % (
              len(diff), srv.faults("corrupt")))
    s.close()
    srv.stop()

    srv = Server("-l", "127.0.0.1:0", "--fault", "refuse")
    s = tcp(srv.port)
    got, end = read_until_end(s)
    check("refuse: closed at accept, nothing echoed", got == b"" and
          end in ("eof", "ConnectionResetError"), end)
    check("refuse counted as a rejection and a fault",
          srv.metric('evecho_connections_rejected_total{reason="fault"}') == 1
          and srv.faults("refuse") == 1)
    srv.stop()


def faulted_set(seed, n=1000):
    """Which of n connections a refuse@30% server with seed refused."""
    srv = Server("-l", "127.0.0.1:0", "--fault", "refuse@30%",
                 "--fault-seed", str(seed))
    hit = []
    for i in range(n):
        s = tcp(srv.port)
        s.sendall(b"?")
        got, _ = read_until_end(s, 1)
        if got != b"?":
            hit.append(i)
        s.close()
    log_seed = srv.wait_log(r"fault: seed %d" % seed)
    srv.stop()
    return hit, log_seed is not None


def test_seed():
    n, p = 1000, 0.3
    a, logged = faulted_set(42, n)
    b, _ = faulted_set(42, n)
    c, _ = faulted_set(43, n)
    half = 3.2905 * math.sqrt(n * p * (1 - p))   # 99.9%, two-sided
    check("@30%% over %d connections: within the binomial 99.9%% bounds" % n,
          n * p - half <= len(a) <= n * p + half,
          "%d faulted, bounds %.0f..%.0f" % (len(a), n * p - half,
                                              n * p + half))
    check("the same seed faults the same connections", a == b,
          "%d vs %d, %d in common" % (len(a), len(b), len(set(a) & set(b))))
    check("another seed, other connections", a != c)
    check("the seed is logged", logged)
    srv = Server("-l", "127.0.0.1:0", "--fault", "delay=1ms")
    m = srv.wait_log(r"fault: seed (\d+) \(--fault-seed repeats this run\)")
    check("without --fault-seed, the random seed chosen is logged",
          m is not None)
    srv.stop()


def bench_udp(port, *extra):
    p = subprocess.run([BENCH, "--udp", "-q", "--json", "-c", "10", "-d", "4",
                        "-n", "4000", "--timeout", "0.5", "--max-loss", "100",
                        "127.0.0.1:%d" % port] + list(extra),
                       capture_output=True, text=True, timeout=60)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": p.stdout + p.stderr}


def test_udp():
    for spec, field, kind in (("drop@10%", "lost", "drop"),
                              ("duplicate@10%", "duplicated", "duplicate"),
                              ("reorder=20ms@5%", "reordered", "reorder")):
        srv = Server("-u", "127.0.0.1:0", "--fault", spec,
                     "--fault-seed", "7")
        r = bench_udp(srv.udp_ports[0][1])
        applied = srv.faults(kind)
        # A datagram held back at the very end of a flow has nothing
        # after it to overtake it: at most a window (-c x -d) of those.
        want = (lambda v: applied - 40 <= v <= applied) \
            if kind == "reorder" else (lambda v: v == applied)
        check("udp %s: the benchmark counts each one as %s" % (spec, field),
              applied and r.get(field) is not None and want(r[field]) and
              r.get("corrupted") == 0 and
              (field == "lost" or r.get("lost") == 0),
              "%s %r, server applied %r" % (field, r.get(field), applied))
        srv.stop()


def test_listen():
    srv = Server("-l", "127.0.0.1:0", "-l", "[::1]:0", "--fault-listen",
                 "127.0.0.1:0", "--fault", "corrupt", "-v")
    v4 = [p for h, p in srv.ports if h == "127.0.0.1"][0]
    v6 = [p for h, p in srv.ports if h == "::1"][0]
    data = pattern(50000)
    s = socket.create_connection(("::1", v6), timeout=5)
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        got += s.recv(65536)
    check("--fault-listen: the clean listener beside a faulty one stays "
          "clean", got == data)
    s = tcp(v4)
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        got += s.recv(65536)
    check("--fault-listen: the faulty one is faulty", got != data)
    check("each fault logged at debug with its connection",
          srv.wait_log(r"conn \d+ 127\.0\.0\.1:\d+: fault corrupt")
          is not None)
    srv.stop()
    rc = subprocess.run([evtest.SERVER, "--fault", "delay=1ms~2ms"],
                        capture_output=True, text=True, timeout=10)
    check("a bad spec: exit 64, one line naming the bad part",
          rc.returncode == 64 and rc.stderr.count("\n") == 1 and
          "jitter '2ms'" in rc.stderr, rc.stderr)


def main():
    try:
        for t in (test_endings, test_stall, test_delay, test_rate,
                  test_chunk, test_corrupt_refuse, test_seed, test_udp,
                  test_listen):
            t()
    finally:
        stop_all()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
