#!/usr/bin/env python3
"""Start evecho-server the way systemd does, and watch what it tells systemd.

Usage: sd-activate.py [OPTION]... -- SERVER [ARG]...

The test's own stand-in for systemd (tests/test-systemd.sh): it creates the
sockets, passes them as descriptors 3, 4, ... with LISTEN_FDS and LISTEN_PID
(socket activation, sd_listen_fds(3)), and with --notify points
NOTIFY_SOCKET at a datagram socket of its own (sd_notify(3)).  Then it runs
one scenario against the server and logs what happened, one event a line,
for the shell test to check:

  passed ADDR             a socket passed, as bound (127.0.0.1:PORT, [::1]:PORT)
  server-pid PID          (also in --pidfile, removed once it has exited)
  notify pid=PID A=1|B=2  one datagram: the sender's PID, its lines joined by |
  held-lines N            (--hold-ready) "listening on" lines printed, and
  held-listens ADDR...    listening sockets held, when it sent its first
                          notification
  held-first A=1|B=2      that notification
  held-probe ADDR ok N    a connection made then, echoed once it went on
  ready-lines N           "listening on" lines printed when READY=1 arrived
  probe ADDR ok N         N random bytes sent there came back byte-exact
  probe ADDR FAIL WHY
  quiet ADDR ok           (--expect-quiet) connected, nothing echoed in 0.5 s
  listens ADDR...         the server's listening TCP sockets (/proc), sorted
  sigterm
  echo-after-stopping ok  (drain) the open connection still echoes after
                          STOPPING=1 arrived
  refused-after-stopping ADDR ok|FAIL   (drain) no new connection accepted
  status-periodic TEXT    (drain) the first timed STATUS= line, the
                          connection still streaming, so being drained
  drain-client ok N       (drain) all N bytes streamed came back, then EOF
  exit RC                 the server's exit status (-SIG if killed)
  skip WHY                the scenario could not run here
  error WHY               this script's own trouble (a timeout, ...)

Scenarios (--scenario): "exit": wait for the server to exit by itself (bad
environments).  "probe": wait until ready (READY=1 with --notify; else, or
with --ready-by-lines, a complete line on stdout), probe every address it
listens on, list its sockets, SIGTERM, wait for the exit.  "drain": as
probe, then hold one connection streaming, SIGTERM, check it is drained
(not cut) after STOPPING=1, and keep it streaming until the first timed
STATUS= (5 s after READY=1), then half-close it.

--hold-ready fills the notification queue before the server starts, so
that its first sd_notify() blocks until this script reads: what it has
done by then, it had done when it sent READY=1 -- a check no timing can
fool.  Every wait is bounded; at the end, on any error or on SIGTERM, the
server is killed by its PID if it still runs.
"""
import argparse
import errno
import os
import random
import select
import signal
import socket
import struct
import sys
import time

FILLER = b"(sd-activate.py: queue filler)"
LOG = sys.stdout
SERVER_PID = 0
SERVER_RC = None
PIDFILE = None


def log(*words):
    LOG.write(" ".join(str(w) for w in words) + "\n")
    LOG.flush()


def fmt(sa, family):
    if family == socket.AF_INET6:
        return "[%s]:%d" % (sa[0], sa[1])
    return "%s:%d" % (sa[0], sa[1])


def parse_addr(s):
    """'127.0.0.1:0' or '[::1]:0' -> (family, (host, port))."""
    host, _, port = s.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def connect_addr(s):
    """A listening line's address, as a client reaches it."""
    fam, (host, port) = parse_addr(s)
    host = {"::": "::1", "0.0.0.0": "127.0.0.1"}.get(host, host)
    return fam, (host, port)


def listening_socket(spec, dual_stack=False):
    fam, sa = parse_addr(spec)
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                     0 if dual_stack else 1)
    s.bind(sa)
    s.listen(64)
    return s


def other_descriptor(kind, tmpdir):
    """Something that is not a listening TCP socket."""
    if kind == "pipe":
        r, w = os.pipe()
        os.close(w)
        return r
    if kind == "file":
        return os.open(os.devnull, os.O_RDONLY)
    if kind == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        return s.detach()
    if kind == "tcp-unlistening":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        return s.detach()
    if kind == "unix-listening":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(os.path.join(tmpdir, "unix-%d.sock" % os.getpid()))
        s.listen(4)
        return s.detach()
    raise SystemExit("sd-activate.py: unknown --pass %s" % kind)


def reap(block=False):
    """Collect the server's exit status once; True once it has exited."""
    global SERVER_RC
    if SERVER_RC is not None:
        return True
    try:
        pid, st = os.waitpid(SERVER_PID, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return True
    if pid == 0:
        return False
    SERVER_RC = os.waitstatus_to_exitcode(st)
    log("exit", SERVER_RC)
    if PIDFILE:
        # Gone, and its PID free for another: nobody is to kill it now.
        os.unlink(PIDFILE)
    return True


class Notify:
    """The NOTIFY_SOCKET end: every datagram, with its sender's PID."""

    def __init__(self):
        self.name = "evecho-test-%d-%08x" % (os.getpid(),
                                             random.getrandbits(32))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.messages = []	# lists of lines

    def env(self):
        return "@" + self.name

    def fill(self):
        """Queue datagrams until the queue is full, so that the server's
        first sd_notify() blocks until we read.  Every socket sends until
        its own buffer is full; the queue is full once a fresh one cannot
        send at all.  False if it never fills (500 sockets)."""
        self.fillers = []
        for _ in range(500):
            f = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            f.setblocking(False)
            self.fillers.append(f)
            n = 0
            try:
                while True:
                    f.sendto(FILLER, "\0" + self.name)
                    n += 1
            except BlockingIOError:
                pass
            if n == 0:
                return True
        return False

    def poll(self, timeout):
        """Take what arrives within timeout seconds (at least one check)."""
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        while r:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            pid = "?"
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and \
                        kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", cdata[:12])[0]
            if data == FILLER:
                r, _, _ = select.select([self.sock], [], [], 0)
                continue
            lines = data.decode("utf-8", "replace").split("\n")
            lines = [l for l in lines if l]
            self.messages.append(lines)
            log("notify", "pid=%s" % pid, "|".join(lines))
            yield lines
            r, _, _ = select.select([self.sock], [], [], 0)


def wait_for(notify, pred, timeout, tick=None):
    """Up to timeout seconds for a datagram pred accepts; None if not."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        if notify is not None:
            for lines in notify.poll(min(left, 0.02)):
                if pred(lines):
                    return lines
        else:
            time.sleep(min(left, 0.02))
        if tick is not None:
            tick()
        if reap():
            # Whatever it sent before exiting is still queued.
            if notify is not None:
                for lines in notify.poll(0):
                    if pred(lines):
                        return lines
            return None


def listening_lines(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    return [l[len("listening on "):] for l in text.splitlines(True)
            if l.startswith("listening on ") and l.endswith("\n")]


def probe(addr, nbytes=65536, timeout=3.0):
    """Connect, send nbytes, half-close, read to EOF: byte-exact?"""
    fam, sa = connect_addr(addr)
    data = random.randbytes(nbytes)
    got = bytearray()
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sa)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
    except OSError as e:
        return "FAIL %s after %d bytes" % (
            errno.errorcode.get(e.errno, e.__class__.__name__), len(got))
    if bytes(got) != data:
        return "FAIL %d bytes back, %s" % (
            len(got), "a prefix" if data.startswith(got) else "different")
    return "ok %d" % nbytes


def quiet(addr):
    """A socket the server does not serve: connected, nothing echoed."""
    fam, sa = connect_addr(addr)
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(sa)
            s.sendall(b"anyone there?\n")
            s.settimeout(0.5)
            try:
                got = s.recv(100)
            except socket.timeout:
                return "ok"
            return "FAIL %r came back" % got
    except OSError as e:
        return "FAIL %s" % errno.errorcode.get(e.errno, str(e))


def server_listens(pid):
    """The addresses of pid's listening TCP sockets, from /proc."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return ["?"]
    found = []
    for name, fam in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            col = row.split()
            if col[3] != "0A" or col[9] not in inodes:
                continue
            hexaddr, hexport = col[1].split(":")
            raw = bytes.fromhex(hexaddr)
            # /proc prints each 32-bit word in host order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append(fmt((socket.inet_ntop(fam, raw), int(hexport, 16)),
                             fam))
    return sorted(found)


def server_notifying(pid):
    """True while pid holds a Unix datagram socket: inside sd_notify()."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        with open("/proc/%d/net/unix" % pid) as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return False
    return any(len(c) >= 7 and c[4] == "0002" and c[6] in inodes
               for c in (row.split() for row in rows))


def exe_is(pid, exe):
    try:
        return os.readlink("/proc/%d/exe" % pid) == exe
    except OSError:
        return False


def hold_at_ready(a, notify):
    """The server's first notification is held up (the queue is full):
    what has it done by then?  Its lines, its sockets, and connections
    made then, before READY=1 is even read, are echoed."""
    end = time.monotonic() + a.ready_timeout
    exe = os.path.realpath(a.server[0])
    # Not before its exec: until then the child holds our fillers.
    while not (exe_is(SERVER_PID, exe) and server_notifying(SERVER_PID)):
        if reap() or time.monotonic() > end:
            log("error", "no sd_notify() in %g s" % a.ready_timeout)
            return
        time.sleep(0.002)
    lines = listening_lines(a.stdout)
    log("held-lines", len(lines))
    log("held-listens", *server_listens(SERVER_PID))
    early = []
    for addr in lines:
        addr = addr.strip()
        fam, sa = connect_addr(addr)
        data = random.randbytes(16384)
        try:
            c = socket.create_connection(sa, timeout=2)
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            early.append((addr, c, data))
        except OSError as e:
            log("held-probe", addr, "FAIL",
                errno.errorcode.get(e.errno, str(e)))
    # Let it go: it was blocked on the first of these.
    for f in notify.fillers:
        f.close()
    first = wait_for(notify, lambda l: True, 2)
    log("held-first", "|".join(first) if first else "(none)")
    for addr, c, data in early:
        got = bytearray()
        try:
            c.settimeout(3)
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError as e:
            log("held-probe", addr, "FAIL",
                errno.errorcode.get(e.errno, str(e)))
            continue
        finally:
            c.close()
        log("held-probe", addr, "ok %d" % len(data) if bytes(got) == data
            else "FAIL %d bytes back" % len(got))


class Streamer:
    """One connection kept busy: 1 KiB every tick, echoes read as they come."""

    def __init__(self, addr):
        fam, sa = connect_addr(addr)
        self.s = socket.create_connection(sa, timeout=2)
        self.s.setblocking(False)
        self.sent = bytearray()
        self.got = bytearray()
        self.error = None

    def tick(self):
        if self.error is not None:
            return
        try:
            chunk = random.randbytes(1024)
            n = self.s.send(chunk)
            self.sent += chunk[:n]
            self.drain()
        except OSError as e:
            self.error = errno.errorcode.get(e.errno, str(e))

    def drain(self):
        while True:
            try:
                chunk = self.s.recv(65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            self.got += chunk

    def caught_up(self, timeout):
        """Up to timeout seconds for every byte sent to be echoed."""
        end = time.monotonic() + timeout
        while len(self.got) < len(self.sent) and time.monotonic() < end:
            select.select([self.s], [], [], 0.02)
            try:
                if not self.drain():
                    break
            except OSError:
                break
        return bytes(self.got) == bytes(self.sent)

    def finish(self, timeout):
        """Half-close, read to EOF: everything back, in order?"""
        if self.error is not None:
            return "FAIL %s" % self.error
        try:
            self.s.shutdown(socket.SHUT_WR)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                select.select([self.s], [], [], 0.05)
                if not self.drain():
                    break
            else:
                return "FAIL no EOF in %g s" % timeout
        except OSError as e:
            return "FAIL %s" % errno.errorcode.get(e.errno, str(e))
        finally:
            self.s.close()
        if bytes(self.got) != bytes(self.sent):
            return "FAIL %d of %d bytes back" % (len(self.got), len(self.sent))
        return "ok %d" % len(self.sent)


def refused(addr):
    fam, sa = connect_addr(addr)
    try:
        with socket.create_connection(sa, timeout=1):
            return "FAIL accepted"
    except ConnectionRefusedError:
        return "ok"
    except OSError as e:
        return "FAIL %s" % errno.errorcode.get(e.errno, str(e))


def has(lines, item):
    return item in lines


def main():
    global LOG, SERVER_PID, PIDFILE
    p = argparse.ArgumentParser()
    p.add_argument("--listen", action="append", default=[],
                   help="pass a listening TCP socket bound to ADDR")
    p.add_argument("--dual-stack", action="append", default=[],
                   help="pass an IPv6 listening socket with V6ONLY off")
    p.add_argument("--pass", dest="passes", action="append", default=[],
                   help="then pass a descriptor that is not a listening "
                   "TCP socket: pipe, file, udp, tcp-unlistening, "
                   "unix-listening")
    p.add_argument("--listen-fds", help="LISTEN_FDS as given (default: "
                   "how many are passed)")
    p.add_argument("--listen-pid", choices=["self", "other"], default="self")
    p.add_argument("--notify", action="store_true")
    p.add_argument("--hold-ready", action="store_true",
                   help="with --notify: hold the server up in its first "
                   "sd_notify() and look at it then")
    p.add_argument("--need-free-port", type=int,
                   help="log 'skip' unless PORT is free on 127.0.0.1 and ::1")
    p.add_argument("--expect-quiet", action="store_true",
                   help="probe the passed sockets expecting no echo")
    p.add_argument("--scenario", choices=["exit", "probe", "drain"],
                   default="probe")
    p.add_argument("--ready-by-lines", action="store_true",
                   help="ready once stdout has its lines, even with --notify")
    p.add_argument("--ready-timeout", type=float, default=5)
    p.add_argument("--log", required=True)
    p.add_argument("--stdout", required=True)
    p.add_argument("--stderr", required=True)
    p.add_argument("--pidfile")
    p.add_argument("server", nargs="+")
    a = p.parse_args()
    LOG = open(a.log, "w")
    tmpdir = os.path.dirname(os.path.abspath(a.log))

    if a.need_free_port is not None:
        for fam, host in ((socket.AF_INET, "127.0.0.1"),
                          (socket.AF_INET6, "::1")):
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, a.need_free_port))
                except OSError as e:
                    log("skip", "%s port %d: %s" % (host, a.need_free_port,
                                                   e.strerror))
                    return 0

    socks = []
    for spec in a.listen:
        socks.append(listening_socket(spec))
    for spec in a.dual_stack:
        socks.append(listening_socket(spec, dual_stack=True))
    for s in socks:
        log("passed", fmt(s.getsockname(), s.family))
    fds = [s.fileno() for s in socks]
    fds += [other_descriptor(k, tmpdir) for k in a.passes]
    notify = Notify() if a.notify else None
    if a.hold_ready and not notify.fill():
        log("error", "the notification queue would not fill")
        a.hold_ready = False

    out = os.open(a.stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(a.stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            # Out of the way first, so that no dup2 below lands on one
            # not yet moved.
            high = [os.dup2(fd, 100 + i) for i, fd in enumerate(fds)]
            os.dup2(out, 1)
            os.dup2(err, 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)	# inheritable, as dup2 makes it
            os.closerange(3 + len(fds), 4096)
            env = dict(os.environ)
            for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                      "NOTIFY_SOCKET"):
                env.pop(k, None)
            env["LISTEN_FDS"] = a.listen_fds or str(len(fds))
            env["LISTEN_PID"] = str(os.getpid() if a.listen_pid == "self"
                                    else parent)
            if notify is not None:
                env["NOTIFY_SOCKET"] = notify.env()
            os.execve(a.server[0], a.server, env)
        finally:
            os._exit(127)
    SERVER_PID = pid
    # Ours go, so that the server's closing them really closes them.
    for s in socks:
        s.close()
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    os.close(out)
    os.close(err)
    log("server-pid", pid)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % pid)
        PIDFILE = a.pidfile
    # Stopped by the test (SIGTERM): the server goes too, below.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(1))
    try:
        return run(a, notify)
    finally:
        if not reap():
            os.kill(SERVER_PID, signal.SIGKILL)
            log("error", "server still running at the end: killed")
            reap(block=True)
        if PIDFILE and os.path.exists(PIDFILE):
            os.unlink(PIDFILE)


def run(a, notify):
    passed = [l.split()[1] for l in open(a.log) if l.startswith("passed ")]
    if a.scenario == "exit":
        end = time.monotonic() + a.ready_timeout
        while not reap() and time.monotonic() < end:
            if notify is not None:
                list(notify.poll(0.02))
            else:
                time.sleep(0.02)
        if notify is not None:
            list(notify.poll(0))
        if SERVER_RC is None:
            log("error", "no exit in %g s" % a.ready_timeout)
        return 0

    if a.hold_ready:
        hold_at_ready(a, notify)
    # Ready: READY=1 if notifications were asked for, else its lines.
    if notify is not None and not a.ready_by_lines:
        ready = notify.messages[0] if notify.messages and \
            has(notify.messages[0], "READY=1") else \
            wait_for(notify, lambda l: has(l, "READY=1"), a.ready_timeout)
        if ready is None:
            log("error", "no READY=1 in %g s" % a.ready_timeout)
            return 0
    else:
        end = time.monotonic() + a.ready_timeout
        while not listening_lines(a.stdout):
            if notify is not None:
                list(notify.poll(0))
            if reap() or time.monotonic() > end:
                log("error", "not listening in %g s" % a.ready_timeout)
                return 0
            time.sleep(0.02)
    # Taken at once: the lines come before READY=1, in one flushed write.
    addrs = listening_lines(a.stdout)
    log("ready-lines", len(addrs))
    for addr in addrs:
        addr = addr.strip()
        log("probe", addr, probe(addr))
    for spec in a.dual_stack:
        # The IPv4 side of a dual-stack socket.
        port = [x for x in passed if x.startswith("[")][-1].rsplit(":", 1)[1]
        addr = "127.0.0.1:" + port
        log("probe", addr, probe(addr))
    if a.expect_quiet:
        for addr in passed:
            log("quiet", addr, quiet(addr))
    log("listens", *server_listens(SERVER_PID))

    streamer = None
    if a.scenario == "drain" and not addrs:
        log("error", "nothing to drain: not listening")
    elif a.scenario == "drain":
        streamer = Streamer(addrs[0].strip())
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            streamer.tick()
            time.sleep(0.02)
        if not streamer.caught_up(2):
            log("error", "echo not caught up before SIGTERM")

    os.kill(SERVER_PID, signal.SIGTERM)
    log("sigterm")
    if streamer is not None:
        st = wait_for(notify, lambda l: has(l, "STOPPING=1"), 3,
                      streamer.tick)
        if st is None:
            log("error", "no STOPPING=1 in 3 s")
        else:
            # Still being drained: what it sends now comes back.
            streamer.tick()
            if streamer.caught_up(1):
                log("echo-after-stopping", "ok")
            else:
                log("echo-after-stopping", "FAIL",
                    "%d of %d bytes back" % (len(streamer.got),
                                             len(streamer.sent)))
            for addr in addrs:
                log("refused-after-stopping", addr.strip(),
                    refused(addr.strip()))
        # Kept busy, so still draining when the timed STATUS= comes, 5 s
        # after READY=1.
        st = wait_for(notify, lambda l: any("connections open" in x
                                            for x in l), 7, streamer.tick)
        if st is None:
            log("error", "no timed STATUS= in 7 s")
        else:
            log("status-periodic", "|".join(st))
        log("drain-client", streamer.finish(3))
    end = time.monotonic() + 5
    while not reap() and time.monotonic() < end:
        if notify is not None:
            list(notify.poll(0.02))
        else:
            time.sleep(0.02)
    if notify is not None:
        list(notify.poll(0))
    if SERVER_RC is None:
        log("error", "no exit in 5 s after SIGTERM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
