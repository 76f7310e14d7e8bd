#!/usr/bin/env python3
"""test-proxy.py: evecho-server --proxy-protocol and --proxy-trusted.

A header's bytes are never echoed, the data after it always is, even in
the same segment; logs and --max-conns-per-source see the address the
header names; a connection without a valid header in 3 s, or from a peer
not trusted to send one, is closed and counted.  Run by
tests/test-proxy.sh; every server is stopped by PID, every wait bounded.
"""
import ipaddress
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

from evtest import (SERVER, check, closed_by_server, read_exactly,
                    stop_all, summary, wait_for)
import evtest

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


class Server(evtest.Server):
    def __init__(self, *args):
        super().__init__(TMP, args)


def v1(src, dst="192.0.2.1", sport=40000, dport=7):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src=None, dst=None, sport=40000, dport=7, local=False, tlv=b""):
    if local:
        return SIG + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    a = ipaddress.ip_address(src)
    if a.version == 4:
        body = (a.packed + ipaddress.ip_address(dst or "192.0.2.1").packed +
                struct.pack("!HH", sport, dport))
        fam = 0x11
    else:
        body = (a.packed + ipaddress.ip_address(dst or "2001:db8::1").packed +
                struct.pack("!HH", sport, dport))
        fam = 0x21
    body += tlv
    return SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def dial(addr):
    host, port = addr
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.settimeout(5)
    s.connect((host, port))
    return s


def scenario_headers():
    srv = Server("-l", "127.0.0.1:0", "--proxy-protocol", "--proxy-trusted",
                 "127.0.0.0/8", "--max-conns-per-source", "1", "-v")
    a = srv.ports[0]

    s = dial(a)
    s.sendall(v1("198.51.100.7") + b"after a v1 header\n")
    check("v1: the header is not echoed, the data in its segment is",
          read_exactly(s, 18) == b"after a v1 header\n")
    check("v1: the log names the client of the header",
          wait_for(lambda: "198.51.100.7" in srv.log()), srv.log()[-500:])

    # --max-conns-per-source counts the header's address, not ours.
    t = dial(a)
    t.sendall(v1("198.51.100.7") + b"x")
    check("a second connection claiming 198.51.100.7 is refused per source",
          closed_by_server(t))
    u = dial(a)
    u.sendall(v1("198.51.100.8") + b"y")
    check("one claiming another address is served",
          read_exactly(u, 1) == b"y")
    for c in (s, t, u):
        c.close()
    check("rejected{per_source} counts it",
          wait_for(lambda: srv.metric(
              'evecho_connections_rejected_total{reason="per_source"}') == 1))

    s = dial(a)
    s.sendall(v2("2001:db8::42", tlv=b"\x04\x00\x02hi") + b"after v2")
    check("v2 TCP6 with a TLV: only the data is echoed",
          read_exactly(s, 8) == b"after v2")
    check("v2: the log names 2001:db8::42",
          wait_for(lambda: "2001:db8::42" in srv.log()))
    s.close()

    s = dial(a)
    s.sendall(v2(local=True) + b"health")
    check("v2 LOCAL (a balancer's health check) is echoed",
          read_exactly(s, 6) == b"health")
    s.close()

    # A header in pieces, a byte at a time, then data.
    s = dial(a)
    for b in v2("203.0.113.9"):
        s.sendall(bytes([b]))
        time.sleep(0.002)
    s.sendall(b"pieces")
    check("a v2 header sent a byte at a time", read_exactly(s, 6) == b"pieces")
    s.close()
    s = dial(a)
    h = v1("203.0.113.10")
    s.sendall(h[:7])
    time.sleep(0.1)
    s.sendall(h[7:20])
    time.sleep(0.1)
    s.sendall(h[20:] + b"line")
    check("a v1 header in three segments", read_exactly(s, 4) == b"line")
    s.close()

    before = srv.metric(
        'evecho_connections_rejected_total{reason="proxy_header"}')
    s = dial(a)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    check("no PROXY header: closed at once, nothing echoed",
          closed_by_server(s, 2))
    s = dial(a)
    s.sendall(b"PROXY TCP4 198.51.100.1 192.0.2.1 70000 7\r\nzzz")
    check("a bad v1 header (port 70000): closed, nothing echoed",
          closed_by_server(s, 2))
    t0 = time.monotonic()
    s = dial(a)
    s.sendall(b"PROXY TCP4 ")
    ok = closed_by_server(s, 6)
    took = time.monotonic() - t0
    check("a header that never ends: closed after about 3 s (%.1f s)" % took,
          ok and 2.5 < took < 5)
    s = dial(a)
    ok = closed_by_server(s, 6)
    check("a client that sends nothing: closed after about 3 s", ok)
    check("rejected{proxy_header} counts the four",
          wait_for(lambda: srv.metric(
              'evecho_connections_rejected_total{reason="proxy_header"}') ==
              before + 4))
    check("the server still echoes", echo_after_header(a, b"still"))
    check("no --proxy-trusted warning when given",
          "without --proxy-trusted" not in srv.log())
    rc = srv.stop()
    check("exit 0", rc == 0, srv.log()[-500:])


def echo_after_header(addr, data):
    s = dial(addr)
    s.sendall(v1("192.0.2.200") + data)
    ok = read_exactly(s, len(data)) == data
    s.close()
    return ok


def scenario_trust_and_selection():
    srv = Server("-l", "127.0.0.1:0", "--proxy-protocol", "--proxy-trusted",
                 "192.0.2.0/24")
    s = dial(srv.ports[0])
    check("a peer outside --proxy-trusted is closed at once", closed_by_server(s, 2))
    check("rejected{proxy_untrusted} counts it",
          wait_for(lambda: srv.metric(
              'evecho_connections_rejected_total{reason="proxy_untrusted"}')
              == 1))
    srv.stop()

    srv = Server("-l", "127.0.0.1:0", "-l", "[::1]:0",
                 "--proxy-protocol=[::1]:0")
    v4 = [p for p in srv.ports if ":" not in p[0]][0]
    v6 = [p for p in srv.ports if ":" in p[0]][0]
    line = v1("198.51.100.1")
    s = dial(v4)
    s.sendall(line)
    check("a listener not named by --proxy-protocol=ADDR echoes a PROXY "
          "line as data", read_exactly(s, len(line)) == line)
    s.close()
    check("the one named takes the header", echo_after_header(v6, b"six"))
    check("without --proxy-trusted, one warning at start",
          srv.log().count("without --proxy-trusted") == 1, srv.log())
    srv.stop()


def scenario_workers_greeting():
    srv = Server("--workers", "2", "-l", "127.0.0.1:0", "--proxy-protocol",
                 "--greeting", "w%w")
    ok = True
    seen = set()
    for i in range(30):
        s = dial(srv.ports[0])
        s.sendall(v1("198.51.100.%d" % (i + 1)))
        g = read_exactly(s, 3)
        seen.add(g)
        s.sendall(b"data")
        ok = ok and read_exactly(s, 4) == b"data"
        s.close()
    check("workers take PROXY headers; greeting after the header",
          ok and seen <= {b"w1\n", b"w2\n"} and len(seen) == 2, repr(seen))
    check("workers: exit 0", srv.stop() == 0)


def scenario_command_line():
    for args, what in (
            (["-l", "127.0.0.1:0", "--proxy-protocol=127.0.0.1:1"],
             "--proxy-protocol=ADDR not among -l"),
            (["-l", "127.0.0.1:0", "--proxy-protocol", "--proxy-trusted",
              "192.0.2.1/24"], "--proxy-trusted with host bits"),
            (["-l", "127.0.0.1:0", "--proxy-protocol", "--proxy-trusted",
              "example.org"], "--proxy-trusted not an address"),
            (["-l", "127.0.0.1:0", "--proxy-trusted", "192.0.2.0/24"],
             "--proxy-trusted without --proxy-protocol")):
        p = subprocess.run([SERVER] + args, capture_output=True, text=True,
                           timeout=10)
        check("%s: exit 64, one line" % what,
              p.returncode == 64 and len(p.stderr.strip().splitlines()) == 1,
              "%d %r" % (p.returncode, p.stderr))


def main():
    global TMP
    TMP = sys.argv[1]
    try:
        for scenario in (scenario_headers, scenario_trust_and_selection,
                         scenario_workers_greeting, scenario_command_line):
            scenario()
    finally:
        stop_all()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
