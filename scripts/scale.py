#!/usr/bin/env python3
"""scale.py: the body of scripts/scale.sh; every process it runs, it runs here.

Opens --conns concurrent connections (default 100000) to one evecho-server
with --workers worker processes, from several evecho-benchmark processes in
hold mode, each bound to source addresses of its own (127.0.0.2 and up) so
that the ephemeral ports suffice.  Each benchmark checks that every one of
its connections echoed once and holds them; while all are held, a short
ping-pong run measures latency.  Then one table: connections held, time to
open them, server RSS per connection, the kernel's socket memory, the
ping-pong p99 and the workers used.

Nothing system-wide is changed: the kernel settings that matter are read
and reported, and where they would not do the plan changes (more source
addresses, not a wider port range).  The only limit raised is this
process's own soft open-file limit, to its hard limit, which the server and
the benchmarks inherit.  Every process started here is stopped by its pid
however the script ends, and every wait is bounded, the whole run by
--timeout.

Only the standard library is used; any python3 >= 3.7 will do.
"""

import json
import math
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
from load import alive, read_text  # noqa: E402  (load.sh's /proc readers)

PROG = "scale.sh"
PAGE = os.sysconf("SC_PAGE_SIZE")

# A worker or benchmark process is planned at no more than this many
# connections, whatever its open-file limit: the figure the project's
# machines (20,000 descriptors per process) give, with room to spare.
PER_PROCESS_MAX = 19000
# A worker is planned at 95% of its --max-conns: SO_REUSEPORT spreads
# connections by a hash of the 4-tuple, not evenly, and one worker that
# gets more than its --max-conns closes the rest.
WORKER_FILL = 0.95
# A source address is planned at 45% of the ephemeral port range: connect()
# picks its port among one parity (odd) first, leaving the other to bind(),
# so once half the range is in use from one source address each further
# connect walks that whole half before it tries the other.  Measured here
# (100,000 connections, 6 processes of 16,667 from one address each): 85,000
# opened in 3 s, then ~1,000/s to the end, 20 s in all, both CPUs in the
# kernel; at 8,333 per address the same run opens them all in a few s.
PORT_FILL = 0.45
# The benchmark needs -c plus this many descriptors (it says so).
BENCH_SPARE_FDS = 20
# Memory a held connection costs, both ends, for the pre-flight check
# (measured here: server ~1.1 KB, benchmark ~0.8 KB, kernel slab ~5 KB for
# its two sockets); planned with a margin.
EST_BYTES_PER_CONN = 16 * 1024

USAGE = """\
Usage: scripts/scale.sh [OPTION]...
Open many concurrent connections to evecho-server (workers) from several
evecho-benchmark processes in hold mode, check that each echoed once, hold
them, measure a short ping-pong run meanwhile, and print one table.  Run it
from the top of the build tree.

  --conns N           connections to open and hold (default 100000; k, m
                      suffixes: 100k)
  --quick             20000 connections, a shorter hold (make check)
  --workers N         server workers (default: enough for N at 95% of each
                      worker's --max-conns, at least 2)
  --max-conns N       pass --max-conns N to the server (per worker); the
                      plan then uses N as a worker's capacity
  --per-process N     connections per benchmark process (default 19000, or
                      the open-file limit less 20 if lower)
  --threads N         -T of each benchmark process (default 1)
  --hold SECS         how long each benchmark holds its connections once
                      all of them echoed (default 15; quick 5); the
                      ping-pong run must fit while all are held
  --pingpong C,SECS   the ping-pong run while held (default 10,3; quick
                      10,2), after 1 s of warm-up (0.5 s when SECS is
                      2 or less)
  --connect-timeout D the benchmarks' --timeout (default 10s)
  --timeout SECS      give up after SECS in all (default from the plan)
  --json FILE         also write the figures to FILE as JSON
  --server PATH       the server (default $EVECHO_SERVER or
                      ./src/evecho-server)
  --benchmark PATH    the load generator (default $EVECHO_BENCHMARK or
                      ./src/evecho-benchmark)
  -h, --help          show this help and exit

Changes nothing system-wide: kernel settings are read and reported only.

Exit status: 0 when every connection opened, echoed once and was held
through the ping-pong run; 1 when not, or on a runtime error or the
--timeout; 64 for a bad command line; 77 when this machine cannot make the
run (too few descriptors per process or too little memory).
"""


class Usage(Exception):
    """A bad command line: one line on stderr, exit 64."""


class Fatal(Exception):
    """Cannot go on: one line on stderr, exit 1."""


class Cannot(Exception):
    """This machine cannot make the run: one line, exit 77."""


class Timeout(Exception):
    """The --timeout for the whole run went off."""


def warn(message):
    """One line on stderr."""
    print("%s: %s" % (PROG, message), file=sys.stderr, flush=True)


def say(message):
    """One line on stdout, at once."""
    print(message, flush=True)


def n(value):
    """A count with thousands separators: 100,000."""
    return "{:,}".format(int(round(value)))


# ---------------------------------------------------------------- options

class Options:
    """The command line, parsed and checked."""

    def __init__(self):
        self.conns = None
        self.quick = False
        self.workers = None
        self.max_conns = None
        self.per_process = None
        self.threads = 1
        self.hold = None
        self.pp_conns = None
        self.pp_secs = None
        self.connect_timeout = "10s"
        self.timeout = None
        self.json = None
        self.server = os.environ.get("EVECHO_SERVER") or "./src/evecho-server"
        self.benchmark = os.environ.get("EVECHO_BENCHMARK") or \
            "./src/evecho-benchmark"
        self.help = False


VALUE_OPTIONS = {"--conns", "--workers", "--max-conns", "--per-process",
                 "--threads", "--hold", "--pingpong", "--connect-timeout",
                 "--timeout", "--json", "--server", "--benchmark"}
FLAG_OPTIONS = {"--quick", "-h", "--help"}


def count(text, opt, low=1):
    """A count: 100000, 100k, 1.5m (powers of 1000, as the benchmark)."""
    m = re.match(r"^([0-9]+(\.[0-9]+)?)([kKmM]?)$", text)
    if not m:
        raise Usage("%s wants a count, not '%s'" % (opt, text))
    v = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(3).lower()]
    if v != int(v) or v < low:
        raise Usage("%s wants a whole count of at least %d, not '%s'"
                    % (opt, low, text))
    return int(v)


def secs(text, opt):
    """Seconds: 15, 2.5."""
    if not re.match(r"^[0-9]+(\.[0-9]+)?$", text) or float(text) <= 0:
        raise Usage("%s wants seconds (e.g. 15 or 2.5), not '%s'"
                    % (opt, text))
    return float(text)


def parse_options(argv):
    """Options from the command line; -h stops at once."""
    o = Options()
    i = 0
    while i < len(argv):
        opt, val = argv[i], None
        if opt.startswith("--") and "=" in opt:
            opt, val = opt.split("=", 1)
        i += 1
        if opt in FLAG_OPTIONS:
            if val is not None:
                raise Usage("%s takes no value" % opt)
        elif opt in VALUE_OPTIONS:
            if val is None:
                if i >= len(argv):
                    raise Usage("%s needs a value" % opt)
                val = argv[i]
                i += 1
        else:
            raise Usage("unknown option %s" % opt)
        if opt in ("-h", "--help"):
            o.help = True
            return o
        if opt == "--conns":
            o.conns = count(val, opt)
        elif opt == "--quick":
            o.quick = True
        elif opt == "--workers":
            o.workers = count(val, opt)
        elif opt == "--max-conns":
            o.max_conns = count(val, opt)
        elif opt == "--per-process":
            o.per_process = count(val, opt)
        elif opt == "--threads":
            o.threads = count(val, opt)
        elif opt == "--hold":
            o.hold = secs(val, opt)
        elif opt == "--pingpong":
            m = re.match(r"^([0-9]+),([0-9]+(\.[0-9]+)?)$", val)
            if not m or int(m.group(1)) < 1 or float(m.group(2)) <= 0:
                raise Usage("--pingpong wants CONNS,SECS (e.g. 10,3), not "
                            "'%s'" % val)
            o.pp_conns, o.pp_secs = int(m.group(1)), float(m.group(2))
        elif opt == "--connect-timeout":
            if not re.match(r"^[0-9]+(\.[0-9]+)?(ms|s|m)?$", val):
                raise Usage("--connect-timeout wants a duration (10s), not "
                            "'%s'" % val)
            o.connect_timeout = val
        elif opt == "--timeout":
            o.timeout = secs(val, opt)
        elif opt == "--json":
            o.json = val
        elif opt == "--server":
            o.server = val
        elif opt == "--benchmark":
            o.benchmark = val
    if o.conns is None:
        o.conns = 20000 if o.quick else 100000
    if o.hold is None:
        o.hold = 5.0 if o.quick else 15.0
    if o.pp_conns is None:
        o.pp_conns, o.pp_secs = (10, 2.0) if o.quick else (10, 3.0)
    o.pp_warmup = 0.5 if o.quick or o.pp_secs <= 2 else 1.0
    # The ping-pong run, its connects and its exit, and the samples taken
    # around it, must fit in the hold.
    if o.hold < o.pp_warmup + o.pp_secs + 2:
        raise Usage("--hold %g is too short for the ping-pong run: at least "
                    "%g" % (o.hold, o.pp_warmup + o.pp_secs + 2))
    return o


# ---------------------------------------------------------------- /proc

def sysctl(name):
    """A /proc/sys value as a list of ints (or [] when unreadable)."""
    text = read_text("/proc/sys/" + name.replace(".", "/"))
    try:
        return [int(w) for w in text.split()]
    except ValueError:
        return []


def vm_rss(pid):
    """VmRSS of pid in bytes, or None."""
    m = re.search(r"^VmRSS:\s+([0-9]+) kB", read_text("/proc/%d/status" % pid),
                  re.M)
    return int(m.group(1)) * 1024 if m else None


def sockstat():
    """/proc/net/sockstat's TCP line: inuse, orphan, tw, alloc, mem."""
    m = re.search(r"^TCP: (.*)$", read_text("/proc/net/sockstat"), re.M)
    out = {}
    if m:
        words = m.group(1).split()
        for k, v in zip(words[0::2], words[1::2]):
            out[k] = int(v)
    return out


def slab_bytes():
    """The kernel's slab (Slab in /proc/meminfo), bytes."""
    m = re.search(r"^Slab:\s+([0-9]+) kB", read_text("/proc/meminfo"), re.M)
    return int(m.group(1)) * 1024 if m else None


def slab_caches():
    """{cache: bytes in its active objects} from /proc/slabinfo (root
    only), or {} when unreadable."""
    out = {}
    for line in read_text("/proc/slabinfo").splitlines()[2:]:
        w = line.split()
        try:
            out[w[0]] = int(w[1]) * int(w[3])
        except (IndexError, ValueError):
            continue
    return out


# Left out of the per-cache figures: something on this machine (not evecho)
# reads /proc/PID/fd of every process within a second or so, which costs a
# proc inode per descriptor read (and a dentry, which stays in).
NOT_SOCKET_CACHES = ("proc_inode_cache",)


def slab_top(before, held, conns, k=6):
    """The k caches that grew most, as (name, bytes per connection)."""
    grew = [(name, (v - before.get(name, 0)) / conns)
            for name, v in held.items() if name not in NOT_SOCKET_CACHES]
    return [(name, per) for name, per in sorted(grew, key=lambda x: -x[1])
            if per >= 8][:k]


def mem_available():
    """MemAvailable in bytes, or None."""
    m = re.search(r"^MemAvailable:\s+([0-9]+) kB", read_text("/proc/meminfo"),
                  re.M)
    return int(m.group(1)) * 1024 if m else None


NETSTAT_KEYS = ("ListenOverflows", "ListenDrops", "TCPSynRetrans",
                "TCPReqQFullDoCookies", "TCPReqQFullDrop")


def netstat():
    """The TcpExt counters of /proc/net/netstat that tell of a full listen
    queue (this network namespace's, so other tests' too)."""
    lines = [ln.split() for ln in read_text("/proc/net/netstat").splitlines()]
    out = {}
    for head, vals in zip(lines[0::2], lines[1::2]):
        if head and head[0] == "TcpExt:":
            for k, v in zip(head[1:], vals[1:]):
                if k in NETSTAT_KEYS:
                    out[k] = int(v)
    return out


def listeners(port):
    """(backlog, accept queue now) of each TCP socket listening on port,
    asked of the kernel (inet_diag over netlink, as ss does); None when
    that fails.

    Not ss itself: ss walks /proc/*/fd, and with 200,000 sockets open that
    fills the proc inode and dentry caches by ~1 KB per connection, which
    the slab figures would then count.
    """
    try:
        sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    except (OSError, AttributeError):
        return None
    try:
        sk.settimeout(2)
        # inet_diag_req_v2: family, protocol, ext, pad, states (LISTEN is
        # state 10), a zeroed inet_diag_sockid (48 bytes).
        req = struct.pack("=BBBBI48x", socket.AF_INET, socket.IPPROTO_TCP,
                          0, 0, 1 << 10)
        # nlmsghdr: SOCK_DIAG_BY_FAMILY (20), NLM_F_REQUEST | NLM_F_DUMP.
        sk.send(struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0) + req)
        out, done = [], False
        while not done:
            data = sk.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, off)
                if length < 16 or kind in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
                    done = True
                    break
                # inet_diag_msg: 4 bytes, the sockid (sport first, network
                # order), then expires, rqueue, wqueue, uid, inode.
                sport = struct.unpack_from("!H", data, off + 20)[0]
                rq, wq = struct.unpack_from("=II", data, off + 16 + 56)
                if sport == port:
                    out.append((wq, rq))
                off += (length + 3) & ~3
        return out
    except (OSError, struct.error):
        return None
    finally:
        sk.close()


# ---------------------------------------------------------------- plan

class Plan:
    """How many of everything, and why, from the limits of this machine."""

    def __init__(self, o, fd_limit):
        N = o.conns
        self.conns = N
        self.fd_limit = fd_limit
        # The server's default --max-conns is the open-file limit less the
        # descriptors it holds (a few) and 16 spare; 30 in all is close.
        self.worker_cap = o.max_conns or max(fd_limit - 30, 1)
        self.worker_plan = int(min(PER_PROCESS_MAX,
                                   self.worker_cap * WORKER_FILL))
        self.workers_auto = max(2, -(-N // max(self.worker_plan, 1)))
        self.workers = o.workers or self.workers_auto
        # A benchmark process needs -c + 20 descriptors.
        self.per_process = o.per_process or \
            min(PER_PROCESS_MAX, fd_limit - BENCH_SPARE_FDS)
        if self.per_process + BENCH_SPARE_FDS > fd_limit:
            raise Usage("--per-process %d needs %d descriptors; the limit is "
                        "%d" % (self.per_process, self.per_process +
                                BENCH_SPARE_FDS, fd_limit))
        self.procs = -(-N // self.per_process)
        self.sizes = [N // self.procs + (1 if k < N % self.procs else 0)
                      for k in range(self.procs)]
        self.threads = [min(o.threads, s) for s in self.sizes]
        # Ephemeral ports: one per connection to the one server address
        # and port, per source address (the 4-tuple differs only in the
        # source port), so each source address gives the range's ports.
        lo_hi = sysctl("net.ipv4.ip_local_port_range") or [32768, 60999]
        self.port_lo, self.port_hi = lo_hi[0], lo_hi[-1]
        self.ports = self.port_hi - self.port_lo + 1
        self.port_plan = max(int(self.ports * PORT_FILL), 1)
        # Each process gets at least one address of its own, and as many
        # as its share needs at 90% of the ports each.
        self.addrs_per_proc = max(-(-s // self.port_plan) for s in self.sizes)
        self.naddrs = self.procs * self.addrs_per_proc
        if self.naddrs > 250 * 256:
            raise Usage("%d source addresses is too many: widen "
                        "net.ipv4.ip_local_port_range" % self.naddrs)
        self.sources = [[addr(k * self.addrs_per_proc + j)
                         for j in range(self.addrs_per_proc)]
                        for k in range(self.procs)]
        self.somaxconn = (sysctl("net.core.somaxconn") or [0])[0]
        self.backlog = min(4096, self.somaxconn) if self.somaxconn else 4096

    def describe(self, o):
        """The plan and its arithmetic, one line each."""
        N = self.conns
        lines = []
        lines.append("%s connections; open-file limit %s per process (the "
                     "soft limit raised to the hard one for this script "
                     "and its children only)" % (n(N), n(self.fd_limit)))
        cap = ("--max-conns %s" % n(self.worker_cap) if o.max_conns else
               "--max-conns ~%s (the limit less the server's own "
               "descriptors and 16 spare)" % n(self.worker_cap))
        if o.workers:
            lines.append("workers: %d (--workers): %s each if spread "
                         "evenly; each holds %s" % (
                             self.workers, n(-(-N // self.workers)), cap))
            if -(-N // self.workers) > self.worker_plan:
                lines.append("warning: that is more than %d%% of what a "
                             "worker holds (%s): some may be refused; the "
                             "default would be %d workers" % (
                                 WORKER_FILL * 100, n(self.worker_plan),
                                 self.workers_auto))
        else:
            lines.append("workers: %d = max(2, ceil(%s / %s)): each worker "
                         "holds %s, planned at %d%% of it (at most %s), since "
                         "SO_REUSEPORT spreads connections by a hash, not "
                         "evenly" % (self.workers, n(N), n(self.worker_plan),
                                     cap, WORKER_FILL * 100,
                                     n(self.worker_plan)))
        lines.append("benchmark: %d process(es) = ceil(%s / %s), each "
                     "needing -c + %d descriptors of its %s: %s connections, "
                     "-T %s" % (self.procs, n(N), n(self.per_process),
                                BENCH_SPARE_FDS, n(self.fd_limit),
                                " ".join(n(s) for s in sorted(set(
                                    self.sizes), reverse=True)),
                                " ".join(str(t) for t in sorted(set(
                                    self.threads), reverse=True))))
        lines.append("source addresses: %d (%s-%s), %d per process: "
                     "ephemeral ports %d-%d give %s per source address "
                     "towards one server address and port; %s used per "
                     "address (%.0f%%), planned at most %d%%" % (
                         self.naddrs, self.sources[0][0],
                         self.sources[-1][-1], self.addrs_per_proc,
                         self.port_lo, self.port_hi, n(self.ports),
                         n(-(-max(self.sizes) // self.addrs_per_proc)),
                         100.0 * max(self.sizes) / self.addrs_per_proc /
                         self.ports, PORT_FILL * 100))
        return lines


def addr(k):
    """Source address number k: 127.0.0.2, 127.0.0.3 ... 127.0.1.0 ..."""
    v = 2 + k
    return "127.0.%d.%d" % (v // 256, v % 256) if v < 65536 else \
        "127.%d.%d.%d" % (v // 65536, (v // 256) % 256, v % 256)


def system_report(plan):
    """The kernel settings that bear on the run, read only; warnings for
    those that may not do."""
    lines, warnings = [], []
    syn = (sysctl("net.ipv4.tcp_max_syn_backlog") or [0])[0]
    cookies = (sysctl("net.ipv4.tcp_syncookies") or [0])[0]
    lines.append("listen backlog: --backlog 4096 (the server's default) "
                 "capped by net.core.somaxconn %d = %d per worker socket, "
                 "%d sockets: %s in all; at most 256 connects in flight "
                 "per benchmark thread x %d thread(s) = %s "
                 "(tcp_max_syn_backlog %d, syncookies %d)" % (
                     plan.somaxconn, plan.backlog, plan.workers,
                     n(plan.backlog * plan.workers), sum(plan.threads),
                     n(256 * sum(plan.threads)), syn, cookies))
    if 256 * max(plan.threads) > plan.backlog:
        warnings.append("one benchmark thread may have 256 connects in "
                        "flight, more than the backlog of %d" % plan.backlog)
    orphans = (sysctl("net.ipv4.tcp_max_orphans") or [0])[0]
    tw = (sysctl("net.ipv4.tcp_max_tw_buckets") or [0])[0]
    tw_reuse = (sysctl("net.ipv4.tcp_tw_reuse") or [0])[0]
    file_max = (sysctl("fs.file-max") or [0])[0]
    tcp_mem = sysctl("net.ipv4.tcp_mem")
    lines.append("read, not changed: tcp_max_orphans %s, tcp_max_tw_buckets "
                 "%s, tcp_tw_reuse %d, fs.file-max %s, tcp_mem %s pages" % (
                     n(orphans), n(tw), tw_reuse,
                     "unlimited" if file_max >= 2 ** 62 else n(file_max),
                     "/".join(n(v) for v in tcp_mem)))
    if tw and tw < plan.conns:
        warnings.append("the %s connections closed at the end leave more "
                        "TIME_WAIT sockets than tcp_max_tw_buckets %s: the "
                        "kernel drops the rest early (and may log 'time "
                        "wait bucket table overflow'); harmless here"
                        % (n(plan.conns), n(tw)))
    if file_max and file_max < 2 * plan.conns + 10000:
        raise Cannot("fs.file-max %s is below the %s descriptors this run "
                     "needs (both ends)" % (n(file_max),
                                            n(2 * plan.conns + 10000)))
    return lines, warnings


# ---------------------------------------------------------------- processes

class Started:
    """Every process started here, to stop by pid at exit."""

    def __init__(self):
        self.procs = []     # (name, Popen)
        self.pids = []      # (name, pid): not our children (workers)

    def popen(self, name, argv, **kw):
        """Start argv in a process group of its own, so that a ^C reaches
        us only (and we stop it), but in our session.

        Not a session of its own: with autogroup scheduling
        (kernel.sched_autogroup_enabled, on by default), each session is
        one scheduling group, and six benchmarks in six sessions got six
        sevenths of the CPU against the server's six workers' seventh;
        their accept queues filled to the backlog (4,051 of 4,096) and
        SYNs were dropped (ListenOverflows), where in one session the
        queues stayed under 100.
        """
        if sys.version_info >= (3, 11):
            kw["process_group"] = 0
        else:
            kw["preexec_fn"] = os.setpgrp
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        self.procs.append((name, p))
        return p

    def stop_all(self, grace=5.0):
        """SIGTERM each by pid, SIGKILL after grace; reap ours."""
        for name, p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + grace
        for name, p in self.procs:
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                warn("%s (pid %d) ignored SIGTERM; SIGKILL" % (name, p.pid))
                p.kill()
                p.wait()
        # The server's workers die with their supervisor (PDEATHSIG), but
        # make sure, by pid.
        for name, pid in self.pids:
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):
                warn("%s (pid %d) outlived its supervisor; SIGKILL"
                     % (name, pid))
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


class Bench:
    """One benchmark process in hold mode and what its JSON lines say."""

    def __init__(self, index, conns, sources):
        self.index, self.conns, self.sources = index, conns, sources
        self.proc = None
        self.echoed = 0       # messages in its intervals: connections echoed
        self.errors = 0
        self.mismatches = 0
        self.result = None
        self.settled_at = None
        self.bad_lines = 0
        self.lock = threading.Lock()

    def read(self, stream):
        """The reader thread: --json-stream lines until EOF."""
        for raw in stream:
            try:
                rec = json.loads(raw.decode(errors="replace"))
            except ValueError:
                with self.lock:
                    self.bad_lines += 1
                continue
            with self.lock:
                if rec.get("type") == "interval":
                    self.echoed += rec.get("messages", 0)
                    self.errors += rec.get("errors", 0)
                    self.mismatches += rec.get("mismatches", 0)
                    if self.settled_at is None and \
                            self.echoed + self.errors >= self.conns:
                        self.settled_at = time.monotonic()
                elif rec.get("type") == "result":
                    self.result = rec

    def snapshot(self):
        """(echoed, errors, result) now."""
        with self.lock:
            return self.echoed, self.errors, self.result


def stats_json(mport):
    """The server's /stats.json, or None."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/stats.json" % mport,
                                    timeout=2) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return None


def worker_open(stats):
    """Connections open in all workers, from /stats.json."""
    return sum(w.get("open", 0) for w in stats.get("workers", []))


def start_server(o, plan, started, tmp, deadline):
    """The server with plan.workers workers and metrics; (Popen, port,
    metrics port, worker pids)."""
    argv = [o.server, "-q", "-l", "127.0.0.1:0", "--workers",
            str(plan.workers), "--metrics", "127.0.0.1:0"]
    if o.max_conns:
        argv += ["--max-conns", str(o.max_conns)]
    out_path = os.path.join(tmp, "server.out")
    err_path = os.path.join(tmp, "server.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = started.popen("evecho-server", argv, stdout=out, stderr=err)
    port = mport = None
    limit = min(deadline, time.monotonic() + 20)
    while time.monotonic() < limit:
        text = read_text(out_path)
        m = re.search(r"^listening on 127\.0\.0\.1:([0-9]+)$", text, re.M)
        port = int(m.group(1)) if m else None
        m = re.search(r"^metrics on http://127\.0\.0\.1:([0-9]+)/?$", text,
                      re.M)
        mport = int(m.group(1)) if m else None
        if port and mport:
            break
        if proc.poll() is not None:
            raise Fatal("the server exited (%d) before it listened: %s" % (
                proc.returncode, " ".join(read_text(err_path).strip()
                                         .splitlines()[-3:])))
        time.sleep(0.05)
    else:
        raise Fatal("the server did not listen within 20 s")
    # Every worker, with its pid.
    while time.monotonic() < limit:
        st = stats_json(mport)
        pids = [w.get("pid", 0) for w in (st or {}).get("workers", [])]
        if len(pids) == plan.workers and all(pids) and all(map(alive, pids)):
            for k, pid in enumerate(pids):
                started.pids.append(("worker %d" % (k + 1), pid))
            return proc, port, mport, pids
        time.sleep(0.05)
    raise Fatal("the server's /stats.json did not list %d workers within "
                "20 s" % plan.workers)


def bench_argv(o, b, hold, port):
    """A hold-mode benchmark's command."""
    argv = [o.benchmark, "-q", "--mode", "hold", "-c", str(b.conns),
            "-T", str(min(o.threads, b.conns)), "-t", "%gs" % hold,
            "--timeout", o.connect_timeout, "--json-stream",
            "--interval", "200ms"]
    for s in b.sources:
        argv += ["--source", s]
    return argv + ["127.0.0.1:%d" % port]


def tail(path, lines=3):
    """The last lines of a file, joined."""
    return " | ".join(read_text(path).strip().splitlines()[-lines:])


# ---------------------------------------------------------------- the run

def mb(v):
    """Bytes as MB (10^6), one decimal."""
    return "%.1f MB" % (v / 1e6)


def run(o, started, tmp):
    """The run; the exit status."""
    for path, what in ((o.server, "server"), (o.benchmark, "benchmark")):
        if not os.access(path, os.X_OK):
            raise Fatal("no %s at %s: run from the top of the build tree, or "
                        "use --%s" % (what, path, what))
    t_begin = time.monotonic()
    # Our own soft limit to the hard one: the children inherit it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    except (ValueError, OSError):
        pass
    fd_limit = 1048576 if soft == resource.RLIM_INFINITY else soft
    plan = Plan(o, fd_limit)
    if plan.per_process < 1000:
        raise Cannot("the open-file limit %s per process leaves fewer than "
                     "1,000 connections per benchmark process"
                     % n(fd_limit))
    # The whole run: start, open (at 2,000/s at worst), hold, close, stop.
    total = o.timeout or (30 + plan.conns / 2000.0 + o.hold + 20)
    deadline = t_begin + total

    def on_alarm(signum, frame):
        raise Timeout()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(math.ceil(total)))

    for line in plan.describe(o):
        say("%s: %s" % (PROG, line))
    sys_lines, sys_warnings = system_report(plan)
    for line in sys_lines:
        say("%s: %s" % (PROG, line))
    for w in sys_warnings:
        warn("note: " + w)
    say("%s: system-wide: nothing changed, nothing to restore" % PROG)
    avail = mem_available()
    need = plan.conns * EST_BYTES_PER_CONN
    if avail is not None:
        say("%s: memory: %s connections x ~%d KB (server, benchmark and two "
            "kernel sockets, with margin) = %s of %s available" % (
                PROG, n(plan.conns), EST_BYTES_PER_CONN // 1024, mb(need),
                mb(avail)))
        if need > avail / 2:
            raise Cannot("%s connections want ~%s, more than half the %s "
                         "available" % (n(plan.conns), mb(need), mb(avail)))
    others = [p for p in os.listdir("/proc") if p.isdigit() and
              "evecho" in read_text("/proc/%s/comm" % p)]
    say("%s: %d other evecho process(es) running now; the kernel figures "
        "are system-wide" % (PROG, len(others)))
    say("%s: total timeout %.0f s" % (PROG, total))

    before = {"sockstat": sockstat(), "slab": slab_bytes(),
              "caches": slab_caches(), "netstat": netstat()}
    proc, port, mport, wpids = start_server(o, plan, started, tmp, deadline)
    time.sleep(0.3)
    before["rss"] = sum(vm_rss(p) or 0 for p in wpids)
    before["supervisor_rss"] = vm_rss(proc.pid) or 0
    lst = listeners(port)
    if lst is not None:
        say("%s: server pid %d (supervisor), workers %s, port %d; kernel: %d "
            "listening socket(s), backlog %s" % (
                PROG, proc.pid, " ".join(map(str, wpids)), port, len(lst),
                "/".join(sorted({str(b) for b, q in lst}))))
    else:
        say("%s: server pid %d (supervisor), workers %s, port %d (inet_diag "
            "failed: backlog not read back)" % (PROG, proc.pid,
                                        " ".join(map(str, wpids)), port))

    benches = [Bench(k, s, plan.sources[k]) for k, s in enumerate(plan.sizes)]
    t0 = time.monotonic()
    for b in benches:
        err = open(os.path.join(tmp, "bench.%d.err" % b.index), "wb")
        b.proc = started.popen("evecho-benchmark %d" % (b.index + 1),
                               bench_argv(o, b, o.hold, port),
                               stdout=subprocess.PIPE, stderr=err)
        err.close()
        threading.Thread(target=b.read, args=(b.proc.stdout,),
                         daemon=True).start()
    say("%s: %d benchmark process(es) started, pids %s" % (
        PROG, len(benches), " ".join(str(b.proc.pid) for b in benches)))

    # Opening: until every benchmark has settled (echoed or failed all).
    t_open = t_echoed = None
    peak_queue = 0
    next_say = t0 + 1
    failure = None
    last_st = {}
    open_limit = min(deadline, t0 + 20 + plan.conns / 2000.0)
    while True:
        now = time.monotonic()
        snaps = [b.snapshot() for b in benches]
        echoed = sum(s[0] for s in snaps)
        errors = sum(s[1] for s in snaps)
        st = stats_json(mport)
        opened = worker_open(st) if st else 0
        last_st = st or last_st
        if t_open is None and opened >= plan.conns:
            t_open = now - t0
        lst = listeners(port) if now - t0 < 60 else None
        if lst:
            peak_queue = max([peak_queue] + [q for b, q in lst])
        if echoed >= plan.conns:
            t_echoed = now - t0
            if t_open is None:
                t_open = t_echoed
            break
        if errors:
            failure = "%s connection(s) failed while opening" % n(errors)
            break
        ended = [b for b, s in zip(benches, snaps) if b.proc.poll() is not None]
        if ended:
            failure = "benchmark %d (pid %d) ended (status %d) before all " \
                "connections were echoed: %s" % (
                    ended[0].index + 1, ended[0].proc.pid,
                    ended[0].proc.returncode,
                    tail(os.path.join(tmp, "bench.%d.err" % ended[0].index)))
            break
        if now > open_limit:
            failure = "not every connection echoed within %.0f s: %s of %s" \
                % (open_limit - t0, n(echoed), n(plan.conns))
            break
        if now >= next_say:
            say("%s: opening: %s open at the server, %s echoed, %.1f s" % (
                PROG, n(opened), n(echoed), now - t0))
            next_say += 1
        time.sleep(0.1)

    held = {}
    pp = None
    if failure is None:
        say("%s: all %s echoed in %.2f s; holding" % (PROG, n(plan.conns),
                                                      t_echoed))
        time.sleep(0.5)
        st = stats_json(mport) or {}
        held["per_worker"] = [w.get("open", 0) for w in st.get("workers", [])]
        held["server_open"] = sum(held["per_worker"])
        held["rss"] = sum(vm_rss(p) or 0 for p in wpids)
        held["supervisor_rss"] = vm_rss(proc.pid) or 0
        held["bench_rss"] = sum(vm_rss(b.proc.pid) or 0 for b in benches)
        held["sockstat"] = sockstat()
        held["slab"] = slab_bytes()
        held["caches"] = slab_caches()
        # The ping-pong run, from 127.0.0.1, while all are held.
        pp_argv = [o.benchmark, "-q", "--json", "-c", str(o.pp_conns),
                   "-t", "%gs" % o.pp_secs, "-w", "%gs" % o.pp_warmup,
                   "127.0.0.1:%d" % port]
        pp_proc = started.popen("evecho-benchmark ping-pong", pp_argv,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            pp_out, pp_err = pp_proc.communicate(
                timeout=o.pp_secs + o.pp_warmup + 15)
        except subprocess.TimeoutExpired:
            pp_proc.kill()
            pp_out, pp_err = pp_proc.communicate()
        try:
            pp = json.loads(pp_out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            pp = None
        if pp_proc.returncode != 0 or pp is None:
            failure = "the ping-pong run failed (status %d): %s" % (
                pp_proc.returncode, pp_err.decode(errors="replace").strip())
        st = stats_json(mport) or {}
        still = worker_open(st)
        running = [b for b in benches if b.proc.poll() is None and
                   b.snapshot()[2] is None]
        held["after_pingpong_open"] = still
        if failure is None and (len(running) < len(benches) or
                                still < plan.conns):
            failure = "not all connections were held through the ping-pong " \
                "run (%s open at the server, %d of %d benchmarks holding): " \
                "raise --hold" % (n(still), len(running), len(benches))

    if failure is not None and "server_open" not in held:
        # What the server had open when the opening failed.
        held["per_worker"] = [w.get("open", 0)
                              for w in last_st.get("workers", [])]
        held["server_open"] = sum(held["per_worker"])
    if failure is not None:
        # Stop the holding benchmarks now: their figures so far still come.
        for b in benches:
            if b.proc.poll() is None:
                b.proc.send_signal(signal.SIGTERM)
    # Every benchmark ends by itself at its hold; bounded.
    end_limit = min(deadline, time.monotonic() + o.hold + 30)
    for b in benches:
        try:
            b.proc.wait(max(end_limit - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            b.proc.kill()
            b.proc.wait()
            failure = failure or "benchmark %d did not end" % (b.index + 1)
    # The reader threads have the result lines once the pipes close.
    t_wait = time.monotonic() + 5
    while time.monotonic() < t_wait and \
            any(b.snapshot()[2] is None for b in benches):
        time.sleep(0.05)
    t_closed = time.monotonic()
    after_netstat = netstat()

    # Each benchmark's own verdict: exit 0, held all, one echo each.
    verdicts = []
    for b in benches:
        r = b.snapshot()[2] or {}
        ok = (b.proc.returncode == 0 and r.get("held") == b.conns and
              r.get("messages_total", r.get("messages")) == b.conns and
              r.get("errors") == 0 and r.get("mismatches") == 0)
        verdicts.append(ok)
        if not ok:
            warn("benchmark %d (pid %d, %s connections from %s): status %s, "
                 "held %s, messages %s, errors %s (connect %s, closed %s, "
                 "resets %s, timeouts %s), mismatches %s%s" % (
                     b.index + 1, b.proc.pid, n(b.conns), ",".join(b.sources),
                     b.proc.returncode, r.get("held"),
                     r.get("messages_total"), r.get("errors"),
                     r.get("connect_errors"), r.get("closed"),
                     r.get("resets"), r.get("timeouts"), r.get("mismatches"),
                     "; " + tail(os.path.join(tmp, "bench.%d.err" % b.index))
                     if read_text(os.path.join(tmp, "bench.%d.err"
                                               % b.index)).strip() else ""))
    # The server: SIGTERM drains (nothing is left open), status 0.
    st = stats_json(mport) or {}
    rejected = (st.get("connections") or {}).get("rejected") or {}
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(max(min(deadline - time.monotonic(), 15), 0.1))
    except subprocess.TimeoutExpired:
        failure = failure or "the server did not exit within 15 s of SIGTERM"
    if proc.returncode not in (0, None):
        failure = failure or "the server exited with status %d: %s" % (
            proc.returncode, tail(os.path.join(tmp, "server.err")))
    if failure is None and not all(verdicts):
        failure = "%d of %d benchmark(s) did not hold every connection with " \
            "one echo each" % (verdicts.count(False), len(verdicts))

    figures = make_figures(o, plan, before, held, after_netstat, t_open,
                           t_echoed, pp, peak_queue, rejected, benches,
                           t_closed - t0)
    print_table(figures)
    if o.json:
        with open(o.json, "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)
            f.write("\n")
    if failure is not None:
        warn("FAIL: " + failure)
        return 1
    say("%s: ok: %s connections opened, echoed once and held, in %.0f s"
        % (PROG, n(plan.conns), time.monotonic() - t_begin))
    return 0


def make_figures(o, plan, before, held, after_netstat, t_open, t_echoed, pp,
                 peak_queue, rejected, benches, t_run):
    """What the table and --json show."""
    N = plan.conns
    f = {"conns": N, "workers": plan.workers, "benchmark_processes":
         plan.procs, "source_addresses": plan.naddrs,
         "open_file_limit": plan.fd_limit, "somaxconn": plan.somaxconn,
         "backlog": plan.backlog, "hold_s": o.hold,
         "time_to_open_s": t_open, "time_to_echo_s": t_echoed,
         "run_s": t_run, "peak_accept_queue": peak_queue,
         "rejected": rejected}
    f["held"] = held.get("server_open")
    f["held_per_worker"] = held.get("per_worker")
    f["benchmark_held"] = sum((b.snapshot()[2] or {}).get("held") or 0
                              for b in benches)
    f["server_rss_before"] = before.get("rss")
    f["server_rss_held"] = held.get("rss")
    f["supervisor_rss"] = held.get("supervisor_rss")
    f["benchmark_rss_held"] = held.get("bench_rss")
    ss0, ss1 = before.get("sockstat", {}), held.get("sockstat", {})
    f["tcp_inuse_before"], f["tcp_inuse_held"] = ss0.get("inuse"), \
        ss1.get("inuse")
    f["tcp_mem_bytes_before"] = ss0.get("mem", 0) * PAGE if ss0 else None
    f["tcp_mem_bytes_held"] = ss1.get("mem", 0) * PAGE if ss1 else None
    f["slab_bytes_before"], f["slab_bytes_held"] = before.get("slab"), \
        held.get("slab")
    f["listen"] = {k: after_netstat.get(k, 0) -
                   before.get("netstat", {}).get(k, 0)
                   for k in NETSTAT_KEYS}
    if held.get("rss") is not None and N:
        f["server_rss_per_conn"] = (held["rss"] - before["rss"]) / N
        f["benchmark_rss_per_conn"] = held["bench_rss"] / N
        f["tcp_mem_per_conn"] = (f["tcp_mem_bytes_held"] -
                                 f["tcp_mem_bytes_before"]) / N
        f["slab_per_conn"] = (held["slab"] - before["slab"]) / N
        f["slab_caches_per_conn"] = slab_top(before["caches"],
                                             held["caches"], N)
    if pp:
        lat = pp.get("latency_us") or {}
        f["pingpong"] = {"conns": o.pp_conns, "seconds": o.pp_secs,
                         "msgs_per_sec": pp.get("msgs_per_sec"),
                         "p50_us": lat.get("p50"), "p99_us": lat.get("p99"),
                         "p999_us": lat.get("p999"), "max_us": lat.get("max")}
    return f


def print_table(f):
    """The one table."""
    N = f["conns"]
    rows = []
    held = f.get("held")
    rows.append(("connections held", "%s of %s at the server (per worker: "
                 "%s); benchmarks report %s held" % (
                     n(held) if held is not None else "-", n(N),
                     " ".join(n(v) for v in f.get("held_per_worker") or []) or
                     "-", n(f["benchmark_held"]))))
    if f.get("time_to_echo_s"):
        rows.append(("time to open them all", "%.2f s open at the server, "
                     "%.2f s all echoed (%s/s)" % (
                         f["time_to_open_s"], f["time_to_echo_s"],
                         n(N / f["time_to_echo_s"]))))
    else:
        rows.append(("time to open them all", "- (not all opened)"))
    if "server_rss_per_conn" in f:
        rows.append(("server RSS (workers)", "%s before, %s held: %s B per "
                     "connection (supervisor %s)" % (
                         mb(f["server_rss_before"]), mb(f["server_rss_held"]),
                         n(f["server_rss_per_conn"]),
                         mb(f["supervisor_rss"]))))
        rows.append(("benchmark RSS (client)", "%s held: %s B per connection"
                     % (mb(f["benchmark_rss_held"]),
                        n(f["benchmark_rss_per_conn"]))))
        rows.append(("kernel TCP sockets", "inuse %s before, %s held "
                     "(/proc/net/sockstat; both ends count)" % (
                         n(f["tcp_inuse_before"]), n(f["tcp_inuse_held"]))))
        per = f["tcp_mem_per_conn"]
        rows.append(("kernel TCP buffer memory", "%s before, %s held "
                     "(sockstat mem x %d B pages): %s" % (
                         mb(f["tcp_mem_bytes_before"]),
                         mb(f["tcp_mem_bytes_held"]), PAGE,
                         "%s B per connection, both ends" % n(per)
                         if per >= 64 else "none per connection (an idle "
                         "socket keeps no buffers; the total moves with "
                         "per-CPU reserves)")))
        rows.append(("kernel slab", "%s before, %s held (Slab in "
                     "/proc/meminfo, system-wide): %s B per connection, both "
                     "ends" % (mb(f["slab_bytes_before"]),
                               mb(f["slab_bytes_held"]),
                               n(f["slab_per_conn"]))))
        if f["slab_caches_per_conn"]:
            rows.append(("  of which (slabinfo)", "%s B per connection, "
                         "both ends: %s (objects; proc_inode_cache left out, "
                         "and dentry counts /proc/PID/fd entries of "
                         "whatever reads them)" % (
                             n(sum(per for name, per in
                                   f["slab_caches_per_conn"])), ", ".join(
                                 "%s %s" % (name, n(per)) for name, per in
                                 f["slab_caches_per_conn"]))))
    pp = f.get("pingpong")
    if pp:
        rows.append(("ping-pong while held", "p99 %.0f us (p50 %.0f, p99.9 "
                     "%.0f, max %.0f), %d connections, %g s, %s msg/s" % (
                         pp["p99_us"], pp["p50_us"], pp["p999_us"],
                         pp["max_us"], pp["conns"], pp["seconds"],
                         n(pp["msgs_per_sec"]))))
    else:
        rows.append(("ping-pong while held", "- (not run)"))
    rows.append(("workers used", "%d (open-file limit %s each); %d benchmark "
                 "process(es), %d source address(es)" % (
                     f["workers"], n(f["open_file_limit"]),
                     f["benchmark_processes"], f["source_addresses"])))
    ls = f["listen"]
    rej = f.get("rejected") or {}
    rows.append(("accept backlog", "%s per worker (somaxconn %s); peak "
                 "accept queue seen %s; ListenOverflows +%s, ListenDrops +%s, "
                 "SYN retransmits +%s; refused by the server: %s" % (
                     n(f["backlog"]), n(f["somaxconn"]),
                     n(f["peak_accept_queue"]), n(ls["ListenOverflows"]),
                     n(ls["ListenDrops"]), n(ls["TCPSynRetrans"]),
                     ", ".join("%s %s" % (k, n(v)) for k, v in
                               sorted(rej.items())) or "-")))
    width = max(len(r[0]) for r in rows)
    say("")
    say("%-*s  %s" % (width, "figure", "value"))
    say("%s  %s" % ("-" * width, "-" * 5))
    for k, v in rows:
        say("%-*s  %s" % (width, k, v))
    say("")


def main(argv):
    started = Started()

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    tmp = None
    try:
        o = parse_options(argv)
        if o.help:
            sys.stdout.write(USAGE)
            return 0
        tmp = tempfile.mkdtemp(prefix="evecho-scale.")
        return run(o, started, tmp)
    except Usage as e:
        print("%s: %s (see --help)" % (PROG, e), file=sys.stderr)
        return 64
    except Cannot as e:
        warn("cannot run here: %s" % e)
        return 77
    except Fatal as e:
        warn(str(e))
        return 1
    except Timeout:
        warn("FAIL: the total timeout went off; stopping everything")
        return 1
    except KeyboardInterrupt:
        warn("interrupted; stopping everything")
        return 130
    finally:
        signal.alarm(0)
        # Every process started here goes, however the run ends.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        started.stop_all()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
