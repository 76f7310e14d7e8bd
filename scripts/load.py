#!/usr/bin/env python3
"""load.py: the body of scripts/load.sh; every process it runs, it runs here.

Starts the build tree's server (or uses --target) and any --vs servers,
pins them to CPU 0 and the load to the other CPUs, waits until each
accepts, runs the matrix with evecho-benchmark (the UDP points with each
server started again in its UDP form: evecho-server -u, --vs-udp) while
it samples each server's /proc, stops every server it started by its pid,
and hands the runs to loadreport (the pure half: CSV, markdown, plots,
report.html).
--compare starts nothing: it only reports on two results folders.

Only the standard library is used; any python3 >= 3.7 will do.
"""

import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import loadreport  # noqa: E402  (after the line above, on purpose)

PROG = "load.sh"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

USAGE = """\
Usage: scripts/load.sh [OPTION]...
       scripts/load.sh --compare OLD NEW [--out DIR]
Measure evecho-server under load with evecho-benchmark; run it from the top
of the build tree.

  --target HOST:PORT  load a server that is already running instead of
                      starting ./src/evecho-server (its CPU and memory are
                      read only when its process is visible in /proc)
  --vs [NAME=]COMMAND also start COMMAND and run every point against it
                      too; {port} in COMMAND becomes a free port, otherwise
                      COMMAND must print "listening on HOST:PORT"; NAME
                      defaults to the command's base name; repeatable
  --vs-udp [NAME=]COMMAND
                      the UDP form of the --vs server NAME (without NAME,
                      the command's base name), started instead of it for
                      the UDP points; {port} as for --vs, otherwise
                      COMMAND must print "listening on udp HOST:PORT".
                      A NAME no --vs has is a server of the UDP points
                      only; a server without a UDP form (socat, a
                      --target) has none; repeatable
  --out DIR           results folder (default bench-results/DATE-TIME)
  --quick             the quick matrix, 1s points, 5 repeats (about three
                      minutes per server on two cores)
  --matrix NAME       full, quick, smoke or udp (default full, or quick with
                      --quick)
  --repeat N          runs per point, the median is reported (default 5;
                      quick 5; smoke 1)
  --duration D        measured time per run: 3s, 500ms (default 3s; quick
                      1s; smoke 0.3s)
  --warmup D          uncounted time before each run (default a third of
                      the duration, at most 1s)
  --server PATH       the server to start (default $EVECHO_SERVER or
                      ./src/evecho-server)
  --benchmark PATH    the load generator (default $EVECHO_BENCHMARK or
                      ./src/evecho-benchmark)
  --source ADDR       pass --source ADDR to the benchmark: bind its
                      connections to ADDR (e.g. 127.0.0.2); repeatable.
                      Only when ephemeral ports run short: explicitly bound
                      ports stay out of every connect's reach while in
                      TIME_WAIT, so connect runs slow down
  --per-process N     connections per benchmark process; more start more
                      processes (default the open-file limit less 100)
  --no-pin            do not pin server and load to separate CPUs
  --compare OLD NEW   start nothing: compare two results folders point by
                      point (old, new, change %) into --out (default
                      bench-results/compare-DATE-TIME): report.html,
                      compare.csv, compare.md and plots
  -h, --help          show this help and exit

Matrices (connections or UDP flows; 64 B and 4 KiB messages unless said):
  full   ping-pong 1 10 100 1000 10000; pipelined depth 16 at 10 100 1000
         (64 B) and 100 (4 KiB), depth 4 at 8 (16 KiB); stream 1 10 100
         (4 KiB) and 10 (64 B); connect 1 10 100; hold 1000 10000;
         udp 100 (64 B)
  quick  ping-pong 1 10 100 1000 10000; pipelined 100 (64 B, depth 16)
         and 8 (16 KiB, depth 4); stream 10 (4 KiB); connect 10; hold 10000;
         udp 100 (64 B)
  smoke  ping-pong 1 10 (64 B); pipelined 10 (depth 4); stream 1 (4 KiB);
         connect 1; hold 10; udp 10 (64 B)
  udp    udp alone: 10 and 100 flows (64 B), 100 flows (1 KiB)
  udp is ping-pong over UDP (evecho-benchmark --udp): one datagram in
  flight per flow, each flow a socket of its own.

Writes runs.jsonl, runs.csv, results.csv, summary.md, report.html (one
self-contained page: tables, plots, metadata) and gnuplot PNGs into --out;
without gnuplot the reports say the plots are unavailable.

Exit status: 0 when every run reported; 1 when a run gave no report, found
mismatched (over UDP, also duplicated) echoes or a server died (with
--compare: when a folder has no runs.jsonl); 64 for a bad command line.
"""


class Usage(Exception):
    """A bad command line: one line on stderr, exit 64."""


class Fatal(Exception):
    """Cannot go on: one line on stderr, exit 1."""


# ---------------------------------------------------------------- options

VALUE_OPTIONS = {"--target", "--vs", "--vs-udp", "--out", "--matrix",
                 "--repeat", "--duration", "--warmup", "--server",
                 "--benchmark", "--source", "--per-process"}
FLAG_OPTIONS = {"--quick", "--no-pin", "-h", "--help"}
# What --compare goes with: it starts nothing, so nothing about running.
COMPARE_OPTIONS = {"--compare", "--out"}
MATRIX_DEFAULTS = {"full": (5, "3s"), "quick": (5, "1s"), "smoke": (1, "0.3s"),
                   "udp": (5, "3s")}


def seconds(text):
    """Seconds in a duration (3, 3s, 0.3s, 500ms), or None."""
    m = re.match(r"^([0-9]+(\.[0-9]+)?)(ms|s)?$", text)
    if not m:
        return None
    v = float(m.group(1))
    return v / 1000 if m.group(3) == "ms" else v


def with_unit(text):
    """A duration as the benchmark takes it: 3 -> 3s."""
    return text if re.search(r"[a-z]$", text) else text + "s"


class Options:
    """The command line, parsed and checked."""

    def __init__(self):
        self.target = None
        self.vs = []
        self.vs_udp = []
        self.out = None
        self.matrix = None
        self.repeat = None
        self.duration = None
        self.warmup = None
        self.server = os.environ.get("EVECHO_SERVER") or "./src/evecho-server"
        self.benchmark = os.environ.get("EVECHO_BENCHMARK") or \
            "./src/evecho-benchmark"
        self.source = []
        self.per_process = None
        self.pin = True
        self.compare = None
        self.given = set()
        self.help = False


def words(argv):
    """(option, value) pairs: --opt=value and --opt value both, value None
    for a flag; the two folders of --compare come as one (old, new)."""
    i = 0
    while i < len(argv):
        opt, value = argv[i], None
        if opt.startswith("--") and "=" in opt:
            opt, value = opt.split("=", 1)
        i += 1
        if opt == "--compare":
            wanted = 1 if value is not None else 2
            if i + wanted > len(argv):
                raise Usage("--compare needs two results folders")
            value = (value,) + tuple(argv[i:i + wanted]) if value is not None \
                else tuple(argv[i:i + wanted])
            i += wanted
        elif opt in VALUE_OPTIONS:
            if value is None:
                if i >= len(argv):
                    raise Usage("%s needs a value" % opt)
                value = argv[i]
                i += 1
        elif opt in FLAG_OPTIONS:
            if value is not None:
                raise Usage("%s takes no value" % opt)
        else:
            raise Usage("unknown option %s" % opt)
        yield opt, value


def check(ok, message):
    """Raise Usage(message) unless ok."""
    if not ok:
        raise Usage(message)


def apply_option(o, opt, val):
    """Check one option's value and note it in o."""
    if opt == "--target":
        check(re.match(r"^(\[[0-9a-fA-F:]+\]|[^:]+):[0-9]+$", val),
              "--target wants HOST:PORT, not '%s'" % val)
        o.target = val
    elif opt == "--vs":
        check(val, "--vs wants a command")
        o.vs.append(val)
    elif opt == "--vs-udp":
        check(val, "--vs-udp wants a command")
        o.vs_udp.append(val)
    elif opt == "--out":
        o.out = val
    elif opt == "--quick":
        o.matrix = o.matrix or "quick"
    elif opt == "--matrix":
        check(val in MATRIX_DEFAULTS,
              "--matrix is full, quick, smoke or udp, not '%s'" % val)
        o.matrix = val
    elif opt == "--repeat":
        check(re.match(r"^[1-9][0-9]{0,2}$", val),
              "--repeat wants 1 to 999, not '%s'" % val)
        o.repeat = int(val)
    elif opt == "--duration":
        check(seconds(val), "--duration wants 3s, 0.5s or 500ms, not '%s'"
              % val)
        o.duration = val
    elif opt == "--warmup":
        check(seconds(val) is not None,
              "--warmup wants 1s, 0.5s or 500ms, not '%s'" % val)
        o.warmup = val
    elif opt == "--server":
        o.server = val
    elif opt == "--benchmark":
        o.benchmark = val
    elif opt == "--source":
        check(re.match(r"^[0-9a-fA-F.:]+$", val),
              "--source wants an address, not '%s'" % val)
        o.source.append(val)
    elif opt == "--per-process":
        check(re.match(r"^[1-9][0-9]{0,6}$", val),
              "--per-process wants a count of connections, not '%s'" % val)
        o.per_process = int(val)
    elif opt == "--no-pin":
        o.pin = False
    elif opt == "--compare":
        check(all(val), "--compare needs two results folders")
        o.compare = val
    o.given.add(opt)


def parse_options(argv):
    """Options from the command line; -h stops at once, as in the shell."""
    o = Options()
    for opt, val in words(argv):
        if opt in ("-h", "--help"):
            o.help = True
            return o
        apply_option(o, opt, val)
    if o.compare:
        extra = sorted(o.given - COMPARE_OPTIONS)
        check(not extra, "--compare runs nothing: %s does not go with it"
              % " ".join(extra))
        return o
    o.matrix = o.matrix or "full"
    repeat, duration = MATRIX_DEFAULTS[o.matrix]
    o.repeat = o.repeat or repeat
    o.duration = with_unit(o.duration or duration)
    if o.warmup is None:
        o.warmup = "%.0fms" % (min(seconds(o.duration) / 3, 1) * 1000)
    o.warmup = with_unit(o.warmup)
    return o


# ---------------------------------------------------------------- matrix

class Point:
    """One point of the matrix: a test run in a mode at a size and load;
    test "udp" is ping-pong over UDP, conns its flows."""

    def __init__(self, test, mode, size, conns, depth=1):
        self.test, self.mode = test, mode
        self.size, self.conns, self.depth = size, conns, depth
        self.udp = test == "udp"


def ping_pong_sweep():
    """Ping-pong at 1 to 10000 connections, 64 B and 4 KiB."""
    return [Point("pingpong", "pingpong", size, conns)
            for size in (64, 4096) for conns in (1, 10, 100, 1000, 10000)]


def matrix_points(matrix):
    """The points of a matrix, in the order they run: UDP last, so that
    each server starts again in its UDP form only once."""
    if matrix == "udp":
        return [Point("udp", "pingpong", 64, 10),
                Point("udp", "pingpong", 64, 100),
                Point("udp", "pingpong", 1024, 100)]
    if matrix == "full":
        return ping_pong_sweep() + \
            [Point("pipelined", "pingpong", 64, c, 16)
             for c in (10, 100, 1000)] + \
            [Point("pipelined", "pingpong", 4096, 100, 16),
             Point("pipelined", "pingpong", 16384, 8, 4),
             Point("stream", "stream", 64, 10)] + \
            [Point("stream", "stream", 4096, c) for c in (1, 10, 100)] + \
            [Point("connect", "connect", 64, c) for c in (1, 10, 100)] + \
            [Point("hold", "hold", 64, 1000), Point("hold", "hold", 64, 10000),
             Point("udp", "pingpong", 64, 100)]
    if matrix == "quick":
        return ping_pong_sweep() + [
            Point("pipelined", "pingpong", 64, 100, 16),
            Point("pipelined", "pingpong", 16384, 8, 4),
            Point("stream", "stream", 4096, 10),
            Point("connect", "connect", 64, 10),
            Point("hold", "hold", 64, 10000),
            Point("udp", "pingpong", 64, 100)]
    return [Point("pingpong", "pingpong", 64, 1),
            Point("pingpong", "pingpong", 64, 10),
            Point("pipelined", "pingpong", 64, 10, 4),
            Point("stream", "stream", 4096, 1),
            Point("connect", "connect", 64, 1),
            Point("hold", "hold", 64, 10),
            Point("udp", "pingpong", 64, 10)]


def size_arg(size):
    """The benchmark's size argument: 4096 -> 4k."""
    return "%dk" % (size // 1024) if size % 1024 == 0 else str(size)


def split_connections(conns, per_process):
    """Connections of each benchmark process: as even as can be."""
    procs = -(-conns // per_process)
    sizes, left = [], conns
    for k in range(procs):
        sizes.append(left // (procs - k))
        left -= sizes[-1]
    return sizes


def time_limit(duration, warmup, conns):
    """Seconds a benchmark may take before it is stopped: its time, and
    room to connect and close."""
    return int(duration + warmup + 20 + conns / 500 + 0.999)


# ---------------------------------------------------------------- CPUs

class Pinning:
    """Where servers and load run: taskset prefixes, threads, a description."""

    def __init__(self, server=(), load=(), load_cpus=(), threads=1,
                 text="", short=""):
        self.server, self.load = list(server), list(load)
        self.load_cpus, self.threads = set(load_cpus), threads
        self.text, self.short = text, short


def online_cpus():
    """CPUs online.

    Asked of getconf, as the shell version did, so that tests/test-load.sh
    can pose as a bigger machine with a getconf of its own on PATH.
    """
    try:
        out = subprocess.run(["getconf", "_NPROCESSORS_ONLN"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return int(out.stdout.decode().strip())
    except (OSError, ValueError):
        return os.cpu_count() or 1


def plan_pinning(pin, ncpu, have_taskset, target):
    """Servers on CPU 0 and the load on the others, when there are two."""
    if pin and ncpu >= 2 and have_taskset:
        cpus = "1" if ncpu == 2 else "1-%d" % (ncpu - 1)
        text = "servers on CPU 0, load on CPU %s (taskset), benchmark -T %d" \
            % (cpus, ncpu - 1)
        # A --target runs wherever it was started.
        if target:
            text = "servers started here on CPU 0 (not the --target, which " \
                "runs where it was started), load on CPU %s (taskset), " \
                "benchmark -T %d" % (cpus, ncpu - 1)
        return Pinning(["taskset", "-c", "0"], ["taskset", "-c", cpus],
                       range(1, ncpu), ncpu - 1, text,
                       "server CPU 0, load CPU %s" % cpus)
    if pin:
        return Pinning(text="none: %d CPU(s) or no taskset; server and load "
                       "share CPUs" % ncpu, short="unpinned, %d CPU(s)" % ncpu)
    return Pinning(text="none (--no-pin)", short="unpinned")


def pin_self(cpus):
    """Sample /proc from the load's CPUs, off the servers' one."""
    usable = cpus & os.sched_getaffinity(0) if cpus else set()
    if usable:
        os.sched_setaffinity(0, usable)


def raise_fd_limit():
    """Room for 10000 connections: the soft open-file limit to the hard one
    (inherited by the benchmark); returns the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    except (ValueError, OSError):
        pass
    return 1048576 if soft == resource.RLIM_INFINITY else soft


# ---------------------------------------------------------------- /proc

def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid):
    """True while pid exists and is not a zombie."""
    field = stat_fields(pid) if pid else None
    return bool(field) and field[0] != "Z"


def proc_sample(pid):
    """CPU seconds, bytes written, RSS bytes of pid; None where unreadable."""
    out = {"cpu": None, "wchar": None, "rss": None}
    try:
        field = stat_fields(pid)
        if field is None:
            return out
        # utime and stime are fields 14 and 15 of stat(5), in clock ticks.
        out["cpu"] = (int(field[11]) + int(field[12])) / CLK_TCK
        with open("/proc/%d/statm" % pid) as f:
            out["rss"] = int(f.read().split()[1]) * PAGE
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("wchar:"):
                    out["wchar"] = int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return out


def all_pids():
    """Every pid in /proc."""
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def tree_pids(pid):
    """pid and every live descendant of it (forks, pre-forked workers)."""
    parent = {}
    for p in all_pids():
        field = stat_fields(p)
        if field:
            parent[p] = int(field[1])
    tree, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p:
                tree.append(child)
                todo.append(child)
    return tree


def tree_sample(pid):
    """proc_sample() of each member of pid's process tree.

    Keyed by (pid, start time), so a reused pid is a new member.  The
    root's CPU includes what its reaped children used (cutime, cstime), so
    that the CPU of a forking server's children counts once they are gone.
    Threads are in their process's figures already.
    """
    out = {}
    if pid is None:
        return out
    for p in tree_pids(pid):
        field = stat_fields(p)
        rec = proc_sample(p)
        if field is None or rec["cpu"] is None:
            continue
        if p == pid:
            rec["cpu"] += (int(field[13]) + int(field[14])) / CLK_TCK
        out[(p, field[19])] = rec
    return out


def tree_cpu(before, after):
    """CPU seconds the tree used between two tree_sample() readings.

    Members alive at the end count their own; those that ended meanwhile
    are in the root's reaped-children time.
    """
    return sum(rec["cpu"] - before.get(k, {}).get("cpu", 0)
               for k, rec in after.items())


def tree_wchar(before, seen):
    """Bytes the tree wrote since before; seen: each member's last reading.

    A member that ended was last read at most one poll before: what it
    wrote after that is missed.
    """
    total = 0
    for k, rec in seen.items():
        if rec.get("wchar") is not None:
            total += rec["wchar"] - (before.get(k, {}).get("wchar") or 0)
    return total


def tree_rss(tree):
    """RSS bytes of a tree_sample(), all members."""
    return sum(rec["rss"] or 0 for rec in tree.values()) if tree else None


def count_fds(pid):
    """Descriptors pid has open, or None."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except (OSError, TypeError):
        return None


def settle(pid, limit=10.0):
    """Wait (at most limit seconds) until pid's tree used no CPU for 0.1 s."""
    if pid is None:
        return
    deadline = time.monotonic() + limit
    last = tree_cpu({}, tree_sample(pid))
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = tree_cpu({}, tree_sample(pid))
        if now == last:
            return
        last = now


def process_cpu():
    """CPU seconds of every process visible in /proc, by identity.

    The key is (pid, start time), so a reused pid is a new process.  A
    process that starts and ends between two readings is missed: counting
    reaped children instead would book a child's whole life at once.
    """
    out = {}
    for p in all_pids():
        field = stat_fields(p)
        if field:
            # utime and stime are fields 14 and 15, starttime 22.
            out[(p, field[19])] = (int(field[11]) + int(field[12])) / CLK_TCK
    return out


def others_cpu(before, after, exclude):
    """CPU seconds used between two process_cpu() readings, except pids."""
    return sum(cpu - before.get(key, 0.0) for key, cpu in after.items()
               if key[0] not in exclude)


def children_cpu():
    """CPU seconds used by every child (and grandchild) reaped so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def listen_inodes(port, udp=False):
    """Socket inodes listening on port, from /proc/net/tcp and tcp6 (with
    udp, the unconnected sockets bound to it, from /proc/net/udp and udp6)."""
    found = set()
    proto, state = ("udp", "07") if udp else ("tcp", "0A")
    for table in ("/proc/net/" + proto, "/proc/net/%s6" % proto):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    field = line.split()
                    if field[3] == state and \
                            int(field[1].rsplit(":", 1)[1], 16) == port:
                        found.add(field[9])
        except OSError:
            pass
    return found


def port_pid(port, udp=False):
    """The pid holding a socket that listens on port (same user), or None."""
    wanted = {"socket:[%s]" % i for i in listen_inodes(port, udp)}
    if not wanted:
        return None
    for pid in sorted(all_pids(), reverse=True):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in wanted:
                    return pid
        except OSError:
            continue
    return None


# ---------------------------------------------------------------- servers

def free_port(udp=False):
    """A TCP (or UDP) port that was free a moment ago on 127.0.0.1."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(host, port):
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_text(path):
    """A file's text, '' when unreadable."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def unique_name(name, taken):
    """name, or name-2, name-3... when taken."""
    n, candidate = 2, name
    while candidate in taken:
        candidate = "%s-%d" % (name, n)
        n += 1
    return candidate


class Server:
    """A server under load: evecho (started here), vs (a --vs command
    started here) or target (already running somewhere).  cmd serves TCP
    and udp_cmd UDP; either may be None, when it does not serve that."""

    def __init__(self, name, kind, cmd, udp_cmd=None):
        self.name, self.kind, self.cmd = name, kind, cmd
        self.udp_cmd = udp_cmd
        self.udp = False      # started in its UDP form
        self.proc = None      # the process we started
        self.mpid = None      # the process we measure
        self.host, self.port = "127.0.0.1", None
        self.starts = 0

    def serves(self, point):
        """True when it has a form for the point's transport."""
        return bool(self.udp_cmd if point.udp else self.cmd)

    def where(self):
        """HOST:PORT, after "udp " in its UDP form."""
        return "%s%s:%d" % ("udp " if self.udp else "", self.host, self.port)

    def start(self, out, pinning, server_bin, udp=None):
        """Start it (again; in its UDP form if udp, in the form it had if
        None) and wait until it accepts, or over UDP until it is bound."""
        self.starts += 1
        if udp is not None:
            self.udp = udp
        if self.kind == "target":
            host, port = self.cmd.rsplit(":", 1)
            self.host, self.port = host.strip("[]"), int(port)
            self.mpid = port_pid(self.port)
            return
        log = os.path.join(out, "logs", "%s.%d.log" % (self.name, self.starts))
        port = None
        if self.kind == "evecho":
            argv = [server_bin, "-q", "-u" if self.udp else "-l",
                    "127.0.0.1:0"]
        else:
            cmd = self.udp_cmd if self.udp else self.cmd
            if "{port}" in cmd:
                port = free_port(self.udp)
                cmd = cmd.replace("{port}", str(port))
            argv = ["bash", "-c", "exec " + cmd]
        with open(log, "wb") as f:
            # Its own session: a ^C reaches load.sh, which stops it by pid.
            self.proc = subprocess.Popen(pinning.server + argv, stdout=f,
                                         stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.port = self.wait_ready(log, port)
        # A wrapper may have started the real server: measure the listener.
        self.mpid = port_pid(self.port, self.udp) or self.proc.pid

    def wait_ready(self, log, port, timeout=10.0):
        """The port once the server accepts on it, or over UDP has a socket
        bound to it (a probe would be a datagram more for it to count); read
        from its "listening on [udp ]" line when not chosen here."""
        ready = "listening on udp " if self.udp else "listening on "
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fatal("%s did not start: %s" % (self.name, " ".join(
                    read_text(log).strip().splitlines()[-3:])))
            if port is None:
                m = re.search(re.escape(ready) + r"(\S+):(\d+)",
                              read_text(log))
                port = int(m.group(2)) if m else None
            if port is not None and (listen_inodes(port, True) if self.udp
                                     else accepts("127.0.0.1", port)):
                return port
            time.sleep(0.05)
        raise Fatal("%s did not %s within %gs; see %s"
                    % (self.name, "bind a UDP socket" if self.udp else
                       "accept", timeout, log))

    def running(self):
        """True while the process we started runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by pid, SIGKILL after 2.5 s; the listener, then ours."""
        if self.kind == "target" or self.proc is None:
            return
        if self.mpid != self.proc.pid and alive(self.mpid):
            stop_pid(self.mpid)
        stop_child(self.proc)
        status = self.proc.returncode
        if self.kind == "evecho" and status != 0:
            warn("%s exited with status %d after SIGTERM"
                 % (self.name, 128 - status if status < 0 else status))
        self.proc = self.mpid = None


def stop_pid(pid, grace=2.5):
    """SIGTERM pid (not our child), then SIGKILL once grace is over."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def stop_child(proc, grace=2.5):
    """SIGTERM a child of ours, SIGKILL once grace is over; reaps it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def vs_name(v):
    """(NAME, COMMAND) of a --vs or --vs-udp value: NAME defaults to the
    command's base name."""
    m = re.match(r"^([A-Za-z0-9_.-]+)=(.+)$", v)
    return (m.group(1), m.group(2)) if m else \
        (os.path.basename(v.split(" ", 1)[0]), v)


def make_servers(o):
    """The servers, in report order: the first is the ratios' baseline.

    A --vs-udp is the UDP form of the --vs server of its name, when that
    has none yet, so that the report pairs their TCP and UDP points;
    otherwise a server of its own, for the UDP points only.
    """
    servers = []
    if o.target:
        servers.append(Server("target", "target", o.target))
    else:
        servers.append(Server("evecho", "evecho",
                              "%s -q -l 127.0.0.1:0" % o.server,
                              "%s -q -u 127.0.0.1:0" % o.server))
    for v in o.vs:
        name, cmd = vs_name(v)
        servers.append(Server(unique_name(name, {s.name for s in servers}),
                              "vs", cmd))
    for v in o.vs_udp:
        name, cmd = vs_name(v)
        pair = [s for s in servers if s.kind == "vs" and s.cmd and
                not s.udp_cmd and s.name == name]
        if pair:
            pair[0].udp_cmd = cmd
        else:
            servers.append(Server(unique_name(name, {s.name for s in
                                                     servers}),
                                  "vs", None, cmd))
    return servers


# ---------------------------------------------------------------- measure

def benchmark_commands(o, pinning, point, server, per_process):
    """The benchmark command of each process that makes a point's load."""
    # Connect runs count from the start, so that server CPU and the
    # connections counted span the same time; hold has no warm-up.
    warm = {"connect": ["-w", "0s"], "hold": []}.get(point.mode,
                                                     ["-w", o.warmup])
    deep = ["-d", str(point.depth)] if point.mode == "pingpong" else []
    sources = [w for s in o.source for w in ("--source", s)]
    host = "[%s]" % server.host if ":" in server.host else server.host
    cmds = []
    for n in split_connections(point.conns, per_process):
        # The benchmark refuses more threads than connections.
        threads = min(pinning.threads, n)
        cmds.append(pinning.load + [
            o.benchmark, "-q", "--json"] + (["--udp"] if point.udp else []) +
            ["--mode", point.mode, "-c", str(n),
            "-s", size_arg(point.size)] + deep + ["-t", o.duration] + warm +
            ["-T", str(threads)] + sources +
            ["%s:%d" % (host, server.port)])
    return cmds


def merge(reports, bench):
    """One report from the reports of several benchmark processes.

    evecho-benchmark --merge adds them up: counts and rates summed, and
    percentiles from the histograms added bucket by bucket, not the worst
    of the processes' or their average.
    """
    if len(reports) == 1:
        return dict(reports[0])
    files = []
    try:
        for r in reports:
            fd, path = tempfile.mkstemp(suffix=".json")
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(r) + "\n")
            files.append(path)
        p = subprocess.run([bench, "--merge", "--json"] + files,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        for path in files:
            os.unlink(path)
    if p.returncode not in (0, 1):
        raise Fatal("%s --merge: %s" % (bench, p.stderr.decode(
            errors="replace").strip()))
    return json.loads(p.stdout.decode())


class Sampler:
    """What a server's process tree did over one run, from /proc."""

    def __init__(self, pid, hold):
        self.pid, self.hold = pid, hold
        self.before = tree_sample(pid)
        self.seen = dict(self.before)
        self.members = len(self.before)
        self.fds_before = count_fds(pid) if hold else None
        self.fds_max, self.rss_held = self.fds_before, None
        self.rss_peak = tree_rss(self.before)

    def poll(self):
        """One reading while the load runs."""
        if self.pid is None:
            return
        now = tree_sample(self.pid)
        self.seen.update(now)
        self.members = max(self.members, len(now))
        rss = tree_rss(now)
        if rss is not None and (self.rss_peak is None or rss > self.rss_peak):
            self.rss_peak = rss
        # Holding: the RSS at the last sample with the most descriptors
        # open, i.e. every connection up and settled, before teardown
        # (closing briefly allocates a buffer per connection).
        fds = count_fds(self.pid) if self.hold else None
        if fds is not None and self.fds_max is not None and \
                fds >= self.fds_max:
            self.fds_max, self.rss_held = fds, rss

    def read(self):
        """A reading, kept as the latest of each member."""
        now = tree_sample(self.pid)
        self.seen.update(now)
        return now


def run_benchmarks(cmds, limit, sampler):
    """Run the commands at once, sampling until all end; stop any still
    running after limit seconds.  Returns (procs, stdout files, stderr
    files, wall seconds)."""
    outs = [tempfile.TemporaryFile() for _ in cmds]
    errs = [tempfile.TemporaryFile() for _ in cmds]
    procs = []
    t0 = time.monotonic()
    try:
        for c, out, err in zip(cmds, outs, errs):
            procs.append(subprocess.Popen(c, stdout=out, stderr=err,
                                          stdin=subprocess.DEVNULL))
        while any(p.poll() is None for p in procs):
            if time.monotonic() - t0 > limit:
                for p in procs:
                    stop_child(p, 5)
                errs[0].write(b"load.sh: stopped after %ds\n" % limit)
                break
            sampler.poll()
            time.sleep(0.05)
    finally:
        for p in procs:
            stop_child(p, 5)
    return procs, outs, errs, time.monotonic() - t0


def json_reports(out):
    """The JSON reports in a benchmark's stdout."""
    out.seek(0)
    reports = []
    for line in out.read().decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                reports.append(json.loads(line))
            except ValueError:
                pass
    return reports


def keep_stderr(errs, path):
    """Append the benchmarks' complaints to path; return the last line."""
    last = ""
    for e in errs:
        e.seek(0)
        text = e.read()
        if text:
            with open(path, "ab") as f:
                f.write(text)
        lines = text.decode(errors="replace").strip().splitlines()
        if lines:
            last = lines[-1]
    return last


def server_figures(rec, labels, sampler, after, at_exit, wall):
    """The server's CPU, messages and memory over a run, into rec."""
    before, hold = sampler.before, sampler.hold
    # The whole process tree: a forking server's children do the work.
    rec["server_procs"] = sampler.members
    cpu = tree_cpu(before, after)
    rec["server_cpu_s"] = cpu
    if wall:
        rec["server_cpu_pct"] = 100.0 * tree_cpu(before, at_exit) / wall
    size = int(labels.get("size", 0)) or None
    b = rec.get("bench") or {}
    if b.get("messages_total") is not None:
        # Every message echoed over the run, warm-up included: the span of
        # the server's CPU time.  Counting the bytes the server wrote
        # instead overcounts a server that pipes through a child (socat
        # EXEC:cat writes each byte three times).
        msgs = b["messages_total"]
    elif size:
        msgs = tree_wchar(before, sampler.seen) / size
    else:
        msgs = 0
    rec["server_msgs"] = msgs
    if msgs >= 1:
        rec["server_us_per_msg"] = 1e6 * cpu / msgs
    if b and labels.get("mode") == "connect":
        conns = (b.get("conns_per_sec") or 0) * (b.get("seconds") or 0)
        if conns >= 1:
            rec["server_us_per_conn"] = 1e6 * cpu / conns
    rec["rss_before"] = tree_rss(before)
    rec["rss_peak"] = sampler.rss_peak
    # A server not started fresh (--target) has its heap grown already;
    # one of several processes holds its connections in children, where
    # the root's descriptors do not count them.
    fresh = labels.get("kind") != "target"
    if hold and fresh and sampler.members == 1 and \
            sampler.rss_held is not None and \
            sampler.fds_max > sampler.fds_before:
        held = sampler.fds_max - sampler.fds_before
        rec["rss_held"] = sampler.rss_held
        rec["server_held"] = held
        rec["mem_per_conn"] = (sampler.rss_held - rec["rss_before"]) / held


def measure(cmds, pid, labels, limit, stderr_path, bench):
    """Run one point's benchmark processes and record what happened."""
    pid = pid if pid and alive(pid) else None
    settle(pid)
    sampler = Sampler(pid, labels.get("mode") == "hold")
    load0 = children_cpu()
    others0 = process_cpu()
    procs, outs, errs, wall = run_benchmarks(cmds, limit, sampler)
    # Everyone else's CPU meanwhile; the benchmark's is in our children's.
    at_exit = sampler.read()
    other = others_cpu(others0, process_cpu(),
                       {os.getpid()} | {k[0] for k in sampler.seen})
    # Closing thousands of connections takes the server a while: count it
    # here, not in the next run.
    settle(pid)
    after = sampler.read()
    load_cpu = children_cpu() - load0
    last_err = keep_stderr(errs, stderr_path)
    reports = [r for out in outs for r in json_reports(out)]
    for f in outs + errs:
        f.close()

    rec = dict(labels)
    rec.update({"rc": [p.returncode for p in procs], "wall": wall,
                "procs": len(cmds),
                "load_cpu_pct": 100.0 * load_cpu / wall if wall else None,
                "ok": len(reports) == len(cmds)})
    if reports:
        rec["bench"] = merge(reports, bench)
    if pid is not None and sampler.before and after:
        server_figures(rec, labels, sampler, after, at_exit, wall)
    # What else ran meanwhile: other users of a shared machine show here.
    rec["other_cpu_pct"] = max(0.0, 100.0 * other / wall) if wall else None
    rec["server_alive"] = pid is None or alive(pid)
    if last_err:
        rec["stderr"] = last_err[:300]
    return rec


def failed(rec):
    """True when a run gave no report or found mismatched echoes, or over
    UDP duplicated ones (lost datagrams are reported, not failed: UDP may
    lose them)."""
    b = rec.get("bench") or {}
    return not rec["ok"] or bool(b.get("mismatches") or b.get("duplicated"))


# ---------------------------------------------------------------- the run

def warn(message):
    """One line on stderr."""
    print("%s: %s" % (PROG, message), file=sys.stderr, flush=True)


def say(message):
    """One line on stdout, at once."""
    print(message, flush=True)


def cpu_model():
    """The CPU's model name, from /proc/cpuinfo, or ''."""
    m = re.search(r"^model name\s*: (.*)$", read_text("/proc/cpuinfo"), re.M)
    return m.group(1) if m else ""


def run_meta(o, servers, pinning, ncpu, fd_limit, per_process, npoints):
    """How the run was made, for the reports."""
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "host": "%s %s, %d CPU(s) (%s), open-file limit %d" % (
            platform.system(), platform.release(), ncpu, cpu_model(),
            fd_limit),
        "pinning": pinning.text, "pinning_short": pinning.short,
        "benchmark": "`%s`, one process per %d connections%s" % (
            o.benchmark, per_process,
            ", sources " + " ".join(o.source) if o.source else ""),
        "matrix": "%s (%d points)" % (o.matrix, npoints),
        "timing": "%s measured after %s warm-up (none for connect and "
                  "hold), %d run(s) per point, servers interleaved"
                  % (o.duration, o.warmup, o.repeat),
        "repeats": str(o.repeat),
    }
    for s in servers:
        if s.cmd:
            meta["server." + s.name] = s.cmd
        if s.udp_cmd:
            meta["udp." + s.name] = s.udp_cmd
        if s.kind != "target":
            continue
        if s.mpid:
            meta["note." + s.name] = (
                "already running (pid %d), neither started nor pinned here: "
                "its CPU and bytes are read from /proc, but it was not fresh "
                "for the hold point, so no memory per connection" % s.mpid)
        else:
            meta["note." + s.name] = ("already running, its process not "
                                      "visible here: no CPU or memory figures")
    return meta


def check_programs(o):
    """The benchmark, and the server unless --target, must be there."""
    if not os.access(o.benchmark, os.X_OK):
        raise Fatal("no benchmark at %s: build it, or set EVECHO_BENCHMARK "
                    "or --benchmark" % o.benchmark)
    if not o.target and not os.access(o.server, os.X_OK):
        raise Fatal("no server at %s: run from the top of the build tree, or "
                    "use --server or --target" % o.server)


def run_point(o, pinning, point, rep, server, per_process, runs_path, out):
    """One run of a point against a server; True when it reported."""
    labels = {"server": server.name, "kind": server.kind, "test": point.test,
              "mode": point.mode, "size": str(point.size),
              "conns": str(point.conns), "depth": str(point.depth),
              "rep": str(rep)}
    cmds = benchmark_commands(o, pinning, point, server, per_process)
    limit = time_limit(seconds(o.duration), seconds(o.warmup), point.conns)
    rec = measure(cmds, server.mpid, labels, limit,
                  os.path.join(out, "benchmark.stderr"), o.benchmark)
    with open(runs_path, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    return rec


def run_matrix(o, servers, pinning, per_process, out):
    """Every point, repeat and server, servers taking turns; the number of
    runs that failed."""
    points = matrix_points(o.matrix)
    runs_path = os.path.join(out, "runs.jsonl")
    total = o.repeat * sum(s.serves(p) for p in points for s in servers)
    failures = done = 0
    for point in points:
        for rep in range(1, o.repeat + 1):
            for s in servers:
                if not s.serves(point):
                    continue
                done += 1
                if s.udp != point.udp:
                    s.stop()
                    s.start(out, pinning, o.server, point.udp)
                    say("%s: %s, pid %s" % (s.name, s.where(),
                                            s.mpid or "unknown"))
                # Memory per connection is measured on a fresh process.
                elif point.mode == "hold" and s.kind != "target":
                    s.stop()
                    s.start(out, pinning, o.server)
                print("[%d/%d] %s %s %dB x %d %s (depth %d, run %d): " % (
                    done, total, s.name, point.test, point.size, point.conns,
                    "flows" if point.udp else "conns", point.depth, rep),
                    end="", flush=True)
                rec = run_point(o, pinning, point, rep, s, per_process,
                                runs_path, out)
                say(loadreport.progress_line(rec))
                failures += failed(rec)
                if s.proc is not None and not s.running():
                    warn("%s died; see %s/logs; restarting it" % (s.name, out))
                    failures += 1
                    s.stop()
                    s.start(out, pinning, o.server)
    return failures


def stamp():
    """DATE-TIME, for default folder names."""
    return time.strftime("%Y%m%d-%H%M%S")


def run(o):
    """Measure; the exit status."""
    check_programs(o)
    out = o.out or os.path.join("bench-results", stamp())
    try:
        os.makedirs(os.path.join(out, "logs"), exist_ok=True)
        for name in ("runs.jsonl", "benchmark.stderr"):
            open(os.path.join(out, name), "w").close()
    except OSError as e:
        raise Fatal("cannot create %s: %s" % (out, e.strerror))
    fd_limit = raise_fd_limit()
    # One benchmark process holds at most the open-file limit less a reserve.
    per_process = o.per_process or fd_limit - 100
    ncpu = online_cpus()
    pinning = plan_pinning(o.pin, ncpu, bool(shutil.which("taskset")),
                           o.target)
    pin_self(pinning.load_cpus)
    servers = make_servers(o)
    try:
        for s in servers:
            # A server of the UDP points only starts in its UDP form.
            s.start(out, pinning, o.server, not s.cmd)
            say("%s: %s, pid %s" % (s.name, s.where(), s.mpid or "unknown"))
        say("%s matrix: %d points x %d repeats x %d server(s), %s each "
            "(+%s warm-up); %s" % (o.matrix, len(matrix_points(o.matrix)),
                                   o.repeat, len(servers), o.duration,
                                   o.warmup, pinning.text))
        say("results in %s" % out)
        failures = run_matrix(o, servers, pinning, per_process, out)
    finally:
        # Every server we started goes, however the run ends.
        for s in servers:
            s.stop()
    meta = run_meta(o, servers, pinning, ncpu, fd_limit, per_process,
                    len(matrix_points(o.matrix)))
    order = ",".join(s.name for s in servers)
    made = loadreport.write_report(out, meta, order, shutil.which("gnuplot"),
                                   warn)
    say("wrote %s (%s)" % (out, ", ".join(made)))
    if failures:
        warn("%d run(s) failed; see %s/summary.md and %s/benchmark.stderr"
             % (failures, out, out))
        return 1
    return 0


def compare(o):
    """Report on two results folders; starts nothing."""
    old, new = o.compare
    out = o.out or os.path.join("bench-results", "compare-" + stamp())
    made = loadreport.write_compare(old, new, out, shutil.which("gnuplot"),
                                    warn)
    say("wrote %s (%s)" % (out, ", ".join(made)))
    return 0


def exit_on_sigterm(signum, frame):
    """SIGTERM unwinds like ^C, so that the servers are stopped."""
    sys.exit(128 + signum)


def main(argv):
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        o = parse_options(argv)
        if o.help:
            sys.stdout.write(USAGE)
            return 0
        return compare(o) if o.compare else run(o)
    except Usage as e:
        print("%s: %s (see --help)" % (PROG, e), file=sys.stderr)
        return 64
    except (Fatal, loadreport.ReportError) as e:
        warn(str(e))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
