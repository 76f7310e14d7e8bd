#!/usr/bin/env python3
"""test-cli-udp.py: evecho-cli -u, the UDP client (RFC 862).

Against the real evecho-server -u: -m byte-exact over 127.0.0.1 and ::1
(zero-length, 8192 bytes, the largest datagram of each family, one byte
too many refused), and line mode with several lines.  Against a stub in
this process: tries and --timeout (a peer that ignores the first K
datagrams), a late echo or a stray datagram never taken for the echo, a
line with no echo reported and passed over; a closed port refused at
once; and the client under valgrind's memcheck through all of it.  Run by tests/test-cli-udp.sh; every server is stopped by PID,
every client run and every wait bounded.
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from evtest import BUILD, check, stop_all, summary
import evtest

TMP = sys.argv[1] if len(sys.argv) > 1 else "."
CLI = os.path.join(BUILD, "src", "evecho-cli")


def cli(args, stdin=b"", secs=30):
    """Run evecho-cli ARGS: (status, stdout, stderr, seconds taken)."""
    t = time.monotonic()
    r = subprocess.run([CLI] + list(args), input=stdin, capture_output=True,
                       timeout=secs)
    return r.returncode, r.stdout, r.stderr, time.monotonic() - t


def one_line(err):
    """stderr is exactly one line, from evecho-cli."""
    return err.count(b"\n") == 1 and err.startswith(b"evecho-cli: ")


class Stub:
    """A UDP peer on loopback, answering each datagram as answer() says.

    answer(n, data) gives the replies to the nth datagram (from 1): a
    list of (delay in seconds, bytes).  What came, and from where, is in
    got.  A thread of this process: stop() ends it.
    """

    def __init__(self, answer, host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.05)
        self.addr = ("[%s]:%d" if ":" in host else "%s:%d") % (
            host, self.sock.getsockname()[1])
        self.answer = answer
        self.got = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        due = []
        while not self.done.is_set():
            now = time.monotonic()
            for d in [d for d in due if d[0] <= now]:
                due.remove(d)
                try:
                    self.sock.sendto(d[1], d[2])
                except OSError:
                    pass
            try:
                data, frm = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            self.got.append((data, frm))
            for delay, reply in self.answer(len(self.got), data):
                due.append((time.monotonic() + delay, reply, frm))

    def stop(self):
        self.done.set()
        self.thread.join(5)
        self.sock.close()


def echo_from(k):
    """Ignore the first k datagrams, echo the rest."""
    return lambda n, data: [] if n <= k else [(0, data)]


def test_real_server():
    srv = evtest.Server(TMP, ["-q", "-u", "127.0.0.1:0", "-u", "[::1]:0"])
    ports = dict(srv.udp_ports)
    check("evecho-server -u is ready on 127.0.0.1 and ::1",
          "127.0.0.1" in ports and "::1" in ports, repr(srv.ready))
    if not ("127.0.0.1" in ports and "::1" in ports):
        return
    v4 = "127.0.0.1:%d" % ports["127.0.0.1"]
    v6 = "[::1]:%d" % ports["::1"]
    text = "h\u00e9llo,\tdatagram \u2713".encode() + b"\xff\x01"
    big = bytes(0x21 + (i * 7) % 94 for i in range(8192))
    for name, addr in (("127.0.0.1", v4), ("::1", v6)):
        for what, msg in (("text", text), ("zero-length", b""),
                          ("8192 bytes", big)):
            rc, out, err, _ = cli(["-u", "-m", msg, addr])
            check("-m %s over %s: the echo, byte-exact, and a newline"
                  % (what, name), rc == 0 and out == msg + b"\n" and
                  err == b"", "rc %d, %d bytes out, err %r" %
                  (rc, len(out), err[:200]))

    # The largest datagram of each family goes; one byte more is refused.
    for name, addr, most in (("127.0.0.1", v4, 65507), ("::1", v6, 65527)):
        msg = b"x" * most
        rc, out, err, _ = cli(["-u", "-m", msg, addr])
        check("-m of %d bytes, the most over %s, comes back" % (most, name),
              rc == 0 and out == msg + b"\n", "rc %d, err %r" % (rc, err))
        rc, out, err, _ = cli(["-u", "-m", msg + b"x", addr])
        check("-m of %d bytes over %s: exit 64, one line naming the limit"
              % (most + 1, name), rc == 64 and out == b"" and
              one_line(err) and str(most).encode() in err,
              "rc %d, err %r" % (rc, err))
    rc, out, err, _ = cli(["-u", "-i", v4], b"short\n" + b"y" * 65508 + b"\n")
    check("line mode: a line too long for a datagram is exit 1, one line",
          rc == 1 and out == b"short\n" and one_line(err) and
          b"65507" in err, "rc %d, out %r, err %r" % (rc, out[:50], err))

    lines = [b"first line", b"", b"the third, longer " * 20, b"4"]
    for name, addr in (("127.0.0.1", v4), ("::1", v6)):
        rc, out, err, _ = cli(["-u", "-i", addr], b"\n".join(lines) + b"\n")
        check("line mode over %s: every line echoed, in order" % name,
              rc == 0 and out == b"\n".join(lines) + b"\n" and err == b"",
              "rc %d, out %r, err %r" % (rc, out[:100], err))
    rc, out, err, _ = cli(["-u", "-i", v4], b"one\nexit\nnever sent\n")
    check("line mode: 'exit' ends it", rc == 0 and out == b"one\n",
          "rc %d, out %r" % (rc, out))
    rc, out, err, _ = cli(["-u", "-t", "-m", "ping", v4])
    check("-t -m: the round trip on stderr", rc == 0 and out == b"ping\n"
          and err.startswith(b"round trip ") and b"4 bytes" in err,
          repr(err))
    srv.stop()


def test_tries():
    # Ignores the first 2: a third try is answered, a second is not.
    st = Stub(echo_from(2))
    rc, out, err, secs = cli(["-u", "--timeout", "200ms", "--retries", "3",
                              "-m", "third time", st.addr])
    ports = {frm[1] for _, frm in st.got}
    check("--retries 3 past a peer that ignores 2: echoed on the third",
          rc == 0 and out == b"third time\n" and len(st.got) == 3,
          "rc %d, out %r, %d sent, err %r" % (rc, out, len(st.got), err))
    check("each try came from a port of its own", len(ports) == 3,
          repr(st.got))
    check("... after the two tries' timeouts", 0.35 <= secs < 5,
          "%.3f s" % secs)
    st.stop()

    st = Stub(echo_from(2))
    rc, out, err, secs = cli(["-u", "--timeout", "200ms", "--retries", "2",
                              "-m", "never", st.addr])
    check("--retries 2 past a peer that ignores 2: exit 3, one line",
          rc == 3 and out == b"" and one_line(err) and
          b"no echo" in err and b"2 tries" in err,
          "rc %d, out %r, err %r" % (rc, out, err))
    check("... after about 2 x --timeout", 0.35 <= secs < 5, "%.3f s" % secs)
    check("... having sent it twice, exactly", len(st.got) == 2 and
          all(d == b"never" for d, _ in st.got), repr(st.got))
    st.stop()

    st = Stub(echo_from(1))
    rc, out, err, secs = cli(["-u", "--retries", "1", "--timeout", "300ms",
                              "-m", "once", st.addr])
    check("--retries 1: one try only, exit 3", rc == 3 and
          len(st.got) == 1 and 0.25 <= secs < 5,
          "rc %d, %d sent, %.3f s" % (rc, len(st.got), secs))
    st.stop()

    # No --timeout: 1 s a try, 3 tries.
    st = Stub(echo_from(1))
    rc, out, err, secs = cli(["-u", "-m", "default", st.addr])
    check("by default a second try after 1 s is answered",
          rc == 0 and out == b"default\n" and len(st.got) == 2 and
          0.9 <= secs < 2.5, "rc %d, %d sent, %.3f s" %
          (rc, len(st.got), secs))
    st.stop()


def test_not_the_echo():
    # Before the echo: the same length reversed, one byte more, one fewer.
    def strays(n, data):
        return [(0, data[::-1]), (0, data + b"!"), (0, data[:-1]),
                (0.05, data)]
    st = Stub(strays)
    rc, out, err, _ = cli(["-u", "-v", "--retries", "1", "-m", "the one",
                           st.addr])
    check("strays before the echo are ignored; the echo is printed",
          rc == 0 and out == b"the one\n", "rc %d, out %r" % (rc, out))
    check("... each counted with -v", err.count(b"ignored a datagram") == 3
          and b"3 datagrams ignored" in err, repr(err))
    st.stop()

    # Only wrong answers: no echo at all.
    st = Stub(lambda n, data: [(0, data[:1] + b"X" + data[2:])])
    rc, out, err, _ = cli(["-u", "--timeout", "150ms", "--retries", "2",
                           "-m", "flipped", st.addr])
    check("an echo with a byte flipped is no echo: exit 3", rc == 3 and
          out == b"" and b"no echo" in err, "rc %d, err %r" % (rc, err))
    st.stop()

    # The first try's echo comes back late, during the second try.
    st = Stub(lambda n, data: [(0.3, data)] if n == 1 else [])
    rc, out, err, _ = cli(["-u", "-v", "--timeout", "200ms", "--retries",
                           "2", "-m", "late", st.addr])
    check("a late echo of the first try is not the second's: exit 3",
          rc == 3 and out == b"", "rc %d, out %r, err %r" % (rc, out, err))
    st.stop()

    # Two equal lines: the first's late echo must not answer the second.
    st = Stub(lambda n, data: [(0.3, data)] if n == 1 else [])
    rc, out, err, _ = cli(["-u", "-i", "--timeout", "200ms", "--retries",
                           "1", st.addr], b"same\nsame\n")
    check("a late echo of line 1 is not line 2's echo", rc == 3 and
          out == b"" and b"line 1: no echo" in err and
          b"line 2: no echo" in err, "rc %d, out %r, err %r" %
          (rc, out, err))
    st.stop()


def test_lines_unanswered():
    # The second line's datagram is never answered; the rest are.
    st = Stub(lambda n, data: [] if n == 2 else [(0, data)])
    rc, out, err, _ = cli(["-u", "-i", "--timeout", "200ms", "--retries",
                           "1", st.addr], b"one\ntwo\nthree\n")
    check("line mode: a line with no echo is one line on stderr, and "
          "the next goes", rc == 3 and out == b"one\nthree\n" and
          one_line(err) and b"line 2: no echo from udp" in err,
          "rc %d, out %r, err %r" % (rc, out, err))
    st.stop()

    st = Stub(lambda n, data: [(0, data)])
    rc, out, err, _ = cli(["-u", "-i", st.addr], b"a\n\nb")
    check("line mode: an empty line is a zero-length datagram; the last "
          "line needs no newline", rc == 0 and out == b"a\n\nb\n" and
          [d for d, _ in st.got] == [b"a", b"", b"b"], repr(st.got))
    st.stop()


def test_refused():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    addr = "127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    rc, out, err, secs = cli(["-u", "--timeout", "5s", "-m", "anyone?",
                              addr])
    check("a closed port: exit 2, one line, Connection refused",
          rc == 2 and out == b"" and one_line(err) and
          b"Connection refused" in err, "rc %d, err %r" % (rc, err))
    check("... at once, not after --timeout", secs < 3, "%.3f s" % secs)
    rc, out, err, secs = cli(["-u", "-i", addr], b"x\ny\n")
    check("line mode, a closed port: exit 2, one line", rc == 2 and
          out == b"" and one_line(err), "rc %d, err %r" % (rc, err))


def test_refusals():
    for args, stdin, word in (
            (["-u"], b"x\n", b"stream mode"),
            (["-u", "--retries", "0", "-m", "x"], b"", b"--retries"),
            (["-u", "--retries", "1001", "-m", "x"], b"", b"--retries"),
            (["-u", "--retries", "three", "-m", "x"], b"", b"--retries"),
            (["--retries", "2", "-m", "x"], b"", b"only -u"),
            (["-u", "--timeout", "0", "-m", "x"], b"", b"--timeout")):
        rc, out, err, _ = cli(args + ["127.0.0.1:9"], stdin)
        check("%s: exit 64, one line that says why" % " ".join(args),
              rc == 64 and one_line(err) and word in err,
              "rc %d, err %r" % (rc, err))


def test_valgrind():
    vg = shutil.which(os.environ.get("VALGRIND") or "valgrind")
    if os.environ.get("EVECHO_SANITIZERS") == "yes" or vg is None:
        print("skip: the client under valgrind (no valgrind, or ASan)")
        return
    memcheck = [vg, "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect", CLI]

    def vg_cli(args, stdin=b""):
        r = subprocess.run(memcheck + args, input=stdin, capture_output=True,
                           timeout=60)
        return r.returncode, r.stdout, r.stderr

    # Line 2 unanswered, a stray before each echo, then a refused port.
    def answer(n, data):
        return [] if data == b"two" else [(0, data[::-1] + b"?"), (0, data)]
    st = Stub(answer)
    rc, out, err = vg_cli(["-u", "-v", "-i", "--timeout", "200ms",
                           "--retries", "2", st.addr], b"one\ntwo\nthree\n")
    check("under memcheck: line mode, strays and a line unanswered, exit 3",
          rc == 3 and out == b"one\nthree\n", "rc %d, err %r" %
          (rc, err[-2000:]))
    rc, out, err = vg_cli(["-u", "-t", "-m", "x" * 8192, st.addr])
    check("under memcheck: -m, exit 0", rc == 0 and out == b"x" * 8192 +
          b"\n", "rc %d, err %r" % (rc, err[-2000:]))
    st.stop()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    addr = "127.0.0.1:%d" % s.getsockname()[1]
    s.close()
    rc, out, err = vg_cli(["-u", "-i", addr], b"x\n")
    check("under memcheck: a closed port, exit 2", rc == 2,
          "rc %d, err %r" % (rc, err[-2000:]))


def main():
    try:
        test_refusals()
        test_real_server()
        test_tries()
        test_not_the_echo()
        test_lines_unanswered()
        test_refused()
        test_valgrind()
    finally:
        stop_all()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
