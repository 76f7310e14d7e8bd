#!/usr/bin/env python3
"""tests/test-haproxy.sh's clients: long echo streams, a forged PROXY
header, a connect that must fail, one metric.

Standard library only.  Every socket call has a timeout, every loop a
bound.  Usage:

  haproxy-client.py streams HOST PORT N DIR
      open N connections, read each one's greeting line, write
      DIR/streams.open ("I GREETING" a line) once all are open, then on
      each connection send 4 KiB at a time and check the echo byte for
      byte, until DIR/stop exists (or 60 s); then half-close and expect
      EOF with no byte more.  From when DIR/killed exists each counts
      what it checks after.  Writes DIR/streams.out: "I GREETING STATUS
      BYTES AFTER" a line (STATUS ok, or what broke it).  Exit 0 once
      written, whatever the streams did: the test judges.
  haproxy-client.py forge HOST PORT CLAIMED
      connect, send a PROXY v2 header claiming to relay CLAIMED (an IPv4
      address) and a line; exit 0 if the server closes the connection
      without a byte (no greeting, no echo), 1 if anything comes back, 2
      if the connect fails
  haproxy-client.py noroute HOST PORT
      exit 0 if a connect fails (printing why), 1 if it succeeds
  haproxy-client.py metric URL NAME [LABELS]
      print the value of sample NAME{LABELS} of the Prometheus text at
      URL; exit 1 if it is absent
"""
import errno
import os
import random
import socket
import struct
import sys
import threading
import time
import urllib.request

TIMEOUT = 5
CHUNK = 4096


def die(msg, code=1):
    print("haproxy-client: " + msg, file=sys.stderr)
    sys.exit(code)


def connect(host, port, timeout=TIMEOUT):
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_line(sock, limit=1024):
    """The greeting line, byte by byte (nothing after it is consumed)."""
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise EOFError("closed before the greeting line ended")
        line += b
        if len(line) > limit:
            raise ValueError("greeting line too long")
    return line.decode("utf-8", "replace").rstrip("\r\n")


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return bytes(buf)


class Stream(threading.Thread):
    def __init__(self, index, sock, greeting, d):
        super().__init__(daemon=True)
        self.index, self.sock, self.greeting, self.dir = index, sock, greeting, d
        self.status, self.bytes, self.at_kill = "ok", 0, None
        self.rng = random.Random(index * 7919 + 1)

    def run(self):
        deadline = time.monotonic() + 60
        stop = os.path.join(self.dir, "stop")
        killed = os.path.join(self.dir, "killed")
        try:
            while not os.path.exists(stop) and time.monotonic() < deadline:
                if self.at_kill is None and os.path.exists(killed):
                    self.at_kill = self.bytes
                data = self.rng.randbytes(CHUNK)
                self.sock.sendall(data)
                back = recv_exact(self.sock, len(data))
                if back != data:
                    i = next(k for k in range(len(data)) if data[k] != back[k])
                    raise ValueError("byte %d differs" % (self.bytes + i))
                self.bytes += len(data)
                time.sleep(0.005)
            if self.at_kill is None:
                self.at_kill = self.bytes
            self.sock.shutdown(socket.SHUT_WR)
            rest = self.sock.recv(1)
            if rest:
                raise ValueError("bytes after the last echo")
        except (OSError, EOFError, ValueError) as e:
            self.status = "broken:" + (type(e).__name__ if isinstance(
                e, OSError) else "") + str(e).replace(" ", "_")
        finally:
            self.sock.close()


def streams(host, port, n, d):
    ss = []
    for i in range(int(n)):
        s = connect(host, port)
        ss.append(Stream(i, s, read_line(s), d))
    tmp = os.path.join(d, "streams.open.tmp")
    with open(tmp, "w") as f:
        for s in ss:
            f.write("%d %s\n" % (s.index, s.greeting.replace(" ", "_")))
    os.rename(tmp, os.path.join(d, "streams.open"))
    for s in ss:
        s.start()
    for s in ss:
        s.join(70)
    tmp = os.path.join(d, "streams.out.tmp")
    with open(tmp, "w") as f:
        for s in ss:
            after = s.bytes - (s.at_kill if s.at_kill is not None else s.bytes)
            f.write("%d %s %s %d %d\n" % (s.index, s.greeting.replace(
                " ", "_"), "broken:hung" if s.is_alive() else s.status,
                s.bytes, after))
    os.rename(tmp, os.path.join(d, "streams.out"))


def forge(host, port, claimed):
    try:
        s = connect(host, port, 3)
    except OSError as e:
        print("  connect failed: %s" % e)
        sys.exit(2)
    src = socket.inet_aton(claimed)
    dst = socket.inet_aton("192.0.2.2")
    body = src + dst + struct.pack("!HH", 40000, 65432)
    hdr = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + \
        struct.pack("!H", len(body)) + body
    got = b""
    try:
        s.sendall(hdr + b"forged\n")
        s.settimeout(3)
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except ConnectionResetError:
        pass
    except OSError as e:
        print("  while reading, after %r: %s" % (got, e))
        sys.exit(1)
    finally:
        s.close()
    if got:
        print("  the server answered a forged header: %r" % got)
        sys.exit(1)
    print("  closed without a byte")


def noroute(host, port):
    try:
        s = connect(host, port, 2)
    except OSError as e:
        print("  connect failed: %s" % (errno.errorcode.get(e.errno, e)
                                      if e.errno else e))
        return
    s.close()
    print("  connected to %s:%s" % (host, port))
    sys.exit(1)


def metric(url, name, labels=""):
    with urllib.request.urlopen(url, timeout=TIMEOUT) as r:
        text = r.read().decode()
    want = name + ("{%s}" % labels if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            print(line.split()[-1])
            return
    die("no sample %s at %s" % (want, url))


def main(argv):
    cmds = {"streams": (streams, 4), "forge": (forge, 3),
            "noroute": (noroute, 2),
            "metric": (metric, 2)}
    if len(argv) < 2 or argv[1] not in cmds:
        die(__doc__.strip(), 64)
    fn, n = cmds[argv[1]]
    if len(argv) - 2 < n:
        die("%s needs %d arguments" % (argv[1], n), 64)
    fn(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
