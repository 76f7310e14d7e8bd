#!/usr/bin/env python3
"""load-report.py: the measuring and reporting half of scripts/load.sh.

Subcommands (load.sh calls them; each prints what it found on stdout):

  freeport                    a port that was free a moment ago on 127.0.0.1
  wait-server LOG PID [PORT]  wait until the server accepts; print its port
                              (read from a "listening on" line when no PORT)
  port-pid PORT               the process listening on PORT (same user only)
  measure ...                 run one benchmark point, sample the server's
                              /proc before, during and after, append a JSON
                              record to the runs file
  report DIR                  medians -> results.csv, summary.md, gnuplot
                              scripts and PNGs (run it again to redo them)

Only the standard library is used, so any python3 >= 3.5 will do.
"""

import argparse
import csv
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def fail(msg, status=1):
    """Print one line to stderr and exit."""
    print("load-report: " + msg, file=sys.stderr)
    sys.exit(status)


# ---------------------------------------------------------------- servers

def cmd_freeport(args):
    """Bind port 0, note the port, release it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def accepts(host, port):
    """True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_wait_server(args):
    """Wait for a started server to accept connections; print its port."""
    deadline = time.monotonic() + args.timeout
    port = args.port
    while time.monotonic() < deadline:
        if not alive(args.pid):
            fail("server (pid %d) exited before it accepted; see %s"
                 % (args.pid, args.log))
        if port is None:
            try:
                with open(args.log, errors="replace") as f:
                    m = re.search(r"listening on (\S+):(\d+)", f.read())
                if m:
                    port = int(m.group(2))
            except OSError:
                pass
        if port is not None and accepts("127.0.0.1", port):
            print(port)
            return
        time.sleep(0.05)
    fail("server (pid %d) did not accept within %gs; see %s"
         % (args.pid, args.timeout, args.log))


def listen_inodes(port):
    """Socket inodes listening on port, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    field = line.split()
                    if field[3] == "0A" and \
                            int(field[1].rsplit(":", 1)[1], 16) == port:
                        found.add(field[9])
        except OSError:
            pass
    return found


def port_pid(port):
    """The pid holding a socket that listens on port, or None."""
    inodes = listen_inodes(port)
    if not inodes:
        return None
    wanted = {"socket:[%s]" % i for i in inodes}
    for pid in sorted((int(p) for p in os.listdir("/proc") if p.isdigit()),
                      reverse=True):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in wanted:
                    return pid
        except OSError:
            continue
    return None


def cmd_port_pid(args):
    """Print the pid listening on a port; exit 1 when none is visible."""
    pid = port_pid(args.port)
    if pid is None:
        sys.exit(1)
    print(pid)


# ---------------------------------------------------------------- measure

def proc_sample(pid):
    """CPU seconds, bytes written, RSS bytes of pid; None where unreadable."""
    out = {"cpu": None, "wchar": None, "rss": None}
    if pid is None:
        return out
    try:
        with open("/proc/%d/stat" % pid) as f:
            field = f.read().rsplit(")", 1)[1].split()
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


def tree_pids(pid):
    """pid and every live descendant of it (forks, pre-forked workers)."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
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
        try:
            with open("/proc/%d/stat" % p) as f:
                field = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        rec = proc_sample(p)
        if rec["cpu"] is None:
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
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                field = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # utime and stime are fields 14 and 15, starttime 22.
        out[(int(name), field[19])] = (int(field[11]) + int(field[12])) / \
            CLK_TCK
    return out


def others_cpu(before, after, exclude):
    """CPU seconds used between two process_cpu() readings, except pids."""
    total = 0.0
    for key, cpu in after.items():
        if key[0] not in exclude:
            total += cpu - before.get(key, 0.0)
    return total


def children_cpu():
    """CPU seconds used by every child (and grandchild) reaped so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def merge(reports, bench):
    """One report from the reports of several benchmark processes.

    evecho-benchmark --merge adds them up: counts and rates summed, and
    percentiles from the histograms added bucket by bucket, not the worst
    of the processes' or their average.
    """
    if len(reports) == 1:
        return dict(reports[0])
    if not bench:
        fail("measure: several benchmark processes need --merge-with")
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
        fail("measure: %s --merge: %s" % (bench, p.stderr.decode(
            errors="replace").strip()))
    return json.loads(p.stdout.decode())


def cmd_measure(args):
    """Run the benchmark command(s) of one point and record what happened."""
    labels = dict(kv.split("=", 1) for kv in args.label)
    cmds = [[]]
    for word in args.cmd:
        if word == ";;":
            cmds.append([])
        else:
            cmds[-1].append(word)
    cmds = [c for c in cmds if c]
    if not cmds:
        fail("measure: no command")
    pid = args.pid if args.pid and alive(args.pid) else None

    hold = labels.get("mode") == "hold"
    settle(pid)
    before = tree_sample(pid)
    seen = dict(before)
    members = len(before)
    fds_before = count_fds(pid) if hold else None
    load0 = children_cpu()
    others0 = process_cpu()
    t0 = time.monotonic()
    errs = [tempfile.TemporaryFile() for _ in cmds]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=e)
             for c, e in zip(cmds, errs)]
    rss_peak = tree_rss(before)
    fds_max, rss_held = fds_before, None
    while any(p.poll() is None for p in procs):
        if pid is not None:
            now = tree_sample(pid)
            seen.update(now)
            members = max(members, len(now))
            rss = tree_rss(now)
            if rss is not None and (rss_peak is None or rss > rss_peak):
                rss_peak = rss
            # Holding: the RSS at the last sample with the most descriptors
            # open, i.e. every connection up and settled, before teardown
            # (closing briefly allocates a buffer per connection).
            fds = count_fds(pid) if hold else None
            if fds is not None and fds_max is not None and fds >= fds_max:
                fds_max, rss_held = fds, rss
        time.sleep(0.05)
    wall = time.monotonic() - t0
    # Everyone else's CPU meanwhile; the benchmark's is in our children's.
    at_exit = tree_sample(pid)
    seen.update(at_exit)
    other = others_cpu(others0, process_cpu(),
                       {os.getpid()} | {k[0] for k in seen})
    # Closing thousands of connections takes the server a while: count it
    # here, not in the next run.
    settle(pid)
    after = tree_sample(pid)
    seen.update(after)
    load_cpu = children_cpu() - load0
    # Keep the benchmark's complaints, and the last one for the progress.
    last_err = ""
    for e in errs:
        e.seek(0)
        text = e.read()
        e.close()
        if text and args.stderr:
            with open(args.stderr, "ab") as f:
                f.write(text)
        lines = text.decode(errors="replace").strip().splitlines()
        if lines:
            last_err = lines[-1]

    reports, rcs = [], []
    for p in procs:
        rcs.append(p.returncode)
        for line in p.stdout.read().decode(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    reports.append(json.loads(line))
                except ValueError:
                    pass
        p.stdout.close()

    rec = dict(labels)
    rec.update({"rc": rcs, "wall": wall, "procs": len(cmds),
                "load_cpu_pct": 100.0 * load_cpu / wall if wall else None,
                "ok": len(reports) == len(cmds)})
    if reports:
        rec["bench"] = merge(reports, args.merge_with)
    if pid is not None and before and after:
        # The whole process tree: a forking server's children do the work.
        rec["server_procs"] = members
        cpu = tree_cpu(before, after)
        rec["server_cpu_s"] = cpu
        if wall:
            rec["server_cpu_pct"] = 100.0 * tree_cpu(before, at_exit) / wall
        size = int(labels.get("size", 0)) or None
        b = rec.get("bench") or {}
        if b.get("messages_total") is not None:
            # Every message echoed over the run, warm-up included: the span
            # of the server's CPU time.  Counting the bytes the server wrote
            # instead overcounts a server that pipes through a child
            # (socat EXEC:cat writes each byte three times).
            msgs = b["messages_total"]
        elif size:
            msgs = tree_wchar(before, seen) / size
        else:
            msgs = 0
        rec["server_msgs"] = msgs
        if msgs >= 1:
            rec["server_us_per_msg"] = 1e6 * cpu / msgs
        b = rec.get("bench")
        if b and labels.get("mode") == "connect":
            conns = (b.get("conns_per_sec") or 0) * (b.get("seconds") or 0)
            if conns >= 1:
                rec["server_us_per_conn"] = 1e6 * cpu / conns
        rec["rss_before"] = tree_rss(before)
        rec["rss_peak"] = rss_peak
        # A server not started fresh (--target) has its heap grown already;
        # one of several processes holds its connections in children, where
        # the root's descriptors do not count them.
        fresh = labels.get("kind") != "target"
        if hold and fresh and members == 1 and rss_held is not None and \
                fds_max > fds_before:
            rec["rss_held"] = rss_held
            rec["server_held"] = fds_max - fds_before
            rec["mem_per_conn"] = (rss_held - rec["rss_before"]) / \
                (fds_max - fds_before)
    # What else ran meanwhile: other users of a shared machine show here.
    rec["other_cpu_pct"] = max(0.0, 100.0 * other / wall) if wall else None
    rec["server_alive"] = pid is None or alive(pid)
    if last_err:
        rec["stderr"] = last_err[:300]

    with open(args.runs, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    print(one_line(rec))
    bad = not rec["ok"] or (rec.get("bench") or {}).get("mismatches")
    sys.exit(1 if bad else 0)


def one_line(rec):
    """A progress line for one run."""
    b = rec.get("bench")
    if not b:
        return "no report (exit %s)%s" % (
            " ".join(str(c) for c in rec["rc"]),
            ": " + rec["stderr"] if rec.get("stderr") else "")
    mode = rec.get("mode")
    if mode == "hold":
        s = "held %d" % b.get("held", 0)
        if rec.get("mem_per_conn") is not None:
            s += ", %.0f B/conn" % rec["mem_per_conn"]
    elif mode == "connect":
        s = "%s conns/s" % si(b.get("conns_per_sec"))
        if rec.get("server_us_per_conn") is not None:
            s += ", server %.1f us/conn" % rec["server_us_per_conn"]
    elif mode == "stream":
        s = "%s MB/s" % num(b.get("mb_per_sec"))
        if rec.get("server_us_per_msg") is not None:
            s += ", server %.2f us/msg" % rec["server_us_per_msg"]
    else:
        s = "%s msgs/s, p99 %s us" % (si(b.get("msgs_per_sec")),
                                      num(b["latency_us"].get("p99")))
        if rec.get("server_us_per_msg") is not None:
            s += ", server %.2f us/msg" % rec["server_us_per_msg"]
    if rec.get("procs", 1) > 1:
        s += " [%d benchmark processes]" % rec["procs"]
    if (rec.get("other_cpu_pct") or 0) >= 20:
        s += " (other work used %.0f%% CPU)" % rec["other_cpu_pct"]
    errs = problems(b)
    if errs:
        s += ", " + errs
    return s


def problems(b):
    """The benchmark's non-zero error counters, as text."""
    return ", ".join("%s %d" % (k, b[k]) for k in
                     ("errors", "connect_errors", "closed", "resets",
                      "timeouts", "mismatches") if b.get(k))


# ---------------------------------------------------------------- report

COLUMNS = [
    # (CSV column, how to get it from a run record)
    ("msgs_per_sec", lambda r: r["bench"].get("msgs_per_sec")),
    ("mb_per_sec", lambda r: r["bench"].get("mb_per_sec")),
    ("conns_per_sec", lambda r: r["bench"].get("conns_per_sec")),
    ("held", lambda r: r["bench"].get("held")),
    ("lat_p50_us", lambda r: r["bench"]["latency_us"].get("p50")),
    ("lat_p90_us", lambda r: r["bench"]["latency_us"].get("p90")),
    ("lat_p99_us", lambda r: r["bench"]["latency_us"].get("p99")),
    ("lat_p999_us", lambda r: r["bench"]["latency_us"].get("p999")),
    ("lat_max_us", lambda r: r["bench"]["latency_us"].get("max")),
    ("server_us_per_msg", lambda r: r.get("server_us_per_msg")),
    ("server_us_per_conn", lambda r: r.get("server_us_per_conn")),
    ("server_cpu_pct", lambda r: r.get("server_cpu_pct")),
    ("load_cpu_pct", lambda r: r.get("load_cpu_pct")),
    ("other_cpu_pct", lambda r: r.get("other_cpu_pct")),
    ("mem_bytes_per_conn", lambda r: r.get("mem_per_conn")),
    ("server_held", lambda r: r.get("server_held")),
    ("server_rss_held", lambda r: r.get("rss_held")),
    ("server_rss_peak", lambda r: r.get("rss_peak")),
    ("errors", lambda r: r["bench"].get("errors")),
    ("connect_errors", lambda r: r["bench"].get("connect_errors")),
    ("closed", lambda r: r["bench"].get("closed")),
    ("resets", lambda r: r["bench"].get("resets")),
    ("timeouts", lambda r: r["bench"].get("timeouts")),
    ("mismatches", lambda r: r["bench"].get("mismatches")),
]
KEYS = ["server", "test", "mode", "size", "conns", "depth"]
TESTS = [("pingpong", "Ping-pong (one message in flight per connection)"),
         ("pipelined", "Pipelined ping-pong"),
         ("stream", "Stream (send and receive at once)"),
         ("connect", "Connect (connect, one echo, close)"),
         ("hold", "Hold (idle connections: server memory)")]


def load_runs(path):
    """Every run record of a results folder."""
    runs = []
    with open(path) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    return runs


def median(values):
    """Median of the values that are not None, or None."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    """One row per point: each column the median over its repeats."""
    groups = {}
    order = []
    for r in runs:
        key = tuple(str(r.get(k, "")) for k in KEYS)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    rows = []
    for key in order:
        group = groups[key]
        good = [r for r in group if r.get("bench")]
        row = dict(zip(KEYS, key))
        row["runs"] = len(good)
        row["failed_runs"] = len(group) - len(good) + \
            sum(1 for r in group if not r.get("server_alive", True))
        row["procs"] = max(r.get("procs", 1) for r in group)
        for name, get in COLUMNS:
            vals = []
            for r in good:
                try:
                    vals.append(get(r))
                except (KeyError, TypeError):
                    vals.append(None)
            row[name] = median(vals)
        rows.append(row)
    return rows


def write_csv(path, rows, fields):
    """rows as CSV, numbers plainly formatted."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore",
                           lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: plain(row.get(k)) for k in fields})


def plain(v):
    """A CSV cell: floats to 4 significant places, None empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return "%.4g" % v if abs(v) < 1e4 else "%.0f" % v
    return v


def si(v):
    """182345 -> 182k, for tables read by people."""
    if v is None:
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            x = v / div
            return ("%.0f" if x >= 100 else "%.1f" if x >= 10 else "%.2f") \
                % x + suffix
    return "%.0f" % v if abs(v) >= 10 else "%.2g" % v


def num(v, unit=""):
    """A measurement to about three significant figures."""
    if v is None:
        return "–"
    if abs(v) >= 100:
        return "%.0f%s" % (v, unit)
    if abs(v) >= 10:
        return "%.1f%s" % (v, unit)
    return "%.2f%s" % (v, unit)


def pct(v):
    """A percentage, whole."""
    return "–" if v is None else "%.0f" % v


def size_text(size):
    """64 -> 64 B, 4096 -> 4 KiB."""
    size = int(size)
    return "%d KiB" % (size // 1024) if size >= 1024 and size % 1024 == 0 \
        else "%d B" % size


def ratio(a, b):
    """a/b as '0.88×', or '–'."""
    if a is None or b is None or b == 0:
        return "–"
    return "%.2f×" % (a / b)


def cells(test, row):
    """The per-server cells of one table row, by test."""
    if row is None:
        return ["–"] * len(heads(test))
    if row["runs"] == 0:
        return ["failed"] + ["–"] * (len(heads(test)) - 1)
    cpu = "%s / %s / %s" % tuple(pct(row.get(k)) for k in (
        "server_cpu_pct", "load_cpu_pct", "other_cpu_pct"))
    lat = "%s / %s" % (num(row.get("lat_p50_us")), num(row.get("lat_p99_us")))
    if test == "stream":
        return [num(row.get("mb_per_sec")), num(row.get("server_us_per_msg")),
                cpu]
    if test == "connect":
        return [si(row.get("conns_per_sec")), lat,
                num(row.get("server_us_per_conn")), cpu]
    if test == "hold":
        rss = row.get("server_rss_held")
        return [si(row.get("held")), num(row.get("mem_bytes_per_conn")),
                num(rss / 1048576.0) if rss is not None else "–"]
    return [si(row.get("msgs_per_sec")), lat,
            num(row.get("server_us_per_msg")), cpu]


def heads(test):
    """Column titles of the per-server cells, by test."""
    if test == "stream":
        return ["MB/s", "CPU µs/msg", "CPU % srv/load/other"]
    if test == "connect":
        return ["conns/s", "p50/p99 µs", "CPU µs/conn", "CPU % srv/load/other"]
    if test == "hold":
        return ["held", "B/conn", "RSS MiB"]
    return ["msgs/s", "p50/p99 µs", "CPU µs/msg", "CPU % srv/load/other"]


def ratio_cells(test, base, other):
    """Baseline ÷ other for the figures that compare servers."""
    if test == "hold":
        pairs = [("mem_bytes_per_conn", "B/conn")]
    elif test == "stream":
        pairs = [("mb_per_sec", "MB/s"), ("server_us_per_msg", "CPU/msg")]
    elif test == "connect":
        pairs = [("conns_per_sec", "conns/s"),
                 ("server_us_per_conn", "CPU/conn")]
    else:
        pairs = [("msgs_per_sec", "msgs/s"), ("server_us_per_msg", "CPU/msg"),
                 ("lat_p50_us", "p50"), ("lat_p99_us", "p99")]
    return pairs, [ratio((base or {}).get(k), (other or {}).get(k))
                   for k, _ in pairs]


def markdown(rows, servers, meta):
    """The summary: a header saying how it was measured, a table per test."""
    base = servers[0]
    out = ["# evecho load run %s" % meta.get("date", ""), ""]
    for key, title in (("host", "Host"), ("pinning", "Pinning"),
                       ("benchmark", "Benchmark"), ("matrix", "Matrix"),
                       ("timing", "Timing")):
        if meta.get(key):
            out.append("- %s: %s" % (title, meta[key]))
    for s in servers:
        note = meta.get("note." + s)
        out.append("- Server `%s`: `%s`%s" % (s, meta.get("server." + s, "?"),
                                             ", " + note if note else ""))
    out += [
        "",
        "Each figure is the median over the repeats of that figure.  "
        "*CPU µs/msg* is the utime+stime (/proc/PID/stat) of the server's "
        "whole process tree (threads, and children, live or reaped) from "
        "idle before a run until idle again after it (connects, warm-up "
        "and closes included), divided by the messages echoed in that "
        "span (the benchmark's messages_total): unlike "
        "msgs/s it does not depend on the load generator keeping up.  "
        "*CPU µs/conn* (connect) divides the same CPU time by the "
        "connections made; both include the kernel's TCP work done in the "
        "server's context.  *CPU % srv/load/other* is the CPU time of the "
        "server, of the benchmark and of every other process in /proc "
        "(short-lived ones missed) over the benchmark's wall time (100 = one "
        "core busy): a load near 100 "
        "means the benchmark, not the server, set the pace, and a large "
        "*other* means someone else's work shared the CPUs, so that row's "
        "rates and latencies are not to be trusted (its CPU µs/msg is "
        "much less affected).  *B/conn* is the server's VmRSS with every connection open "
        "less its RSS before, ÷ the connections it held (its descriptor "
        "count), on a freshly started server; *RSS MiB* is that RSS.",
    ]
    split = sorted({int(r["conns"]) for r in rows if r["procs"] > 1})
    if split:
        out += ["", "At %s connections the load came from several benchmark "
                "processes: their rates add up, and the latency percentiles "
                "come from their histograms added up "
                "(evecho-benchmark --merge)." %
                ", ".join(str(c) for c in split)]
    if len(servers) > 1:
        out += ["", "Ratios are `%s` ÷ the other server: above 1× means "
                "more throughput, or more CPU or memory, for `%s`." %
                (base, base)]
    by_key = {}
    for row in rows:
        by_key[(row["server"], row["test"], row["size"], row["conns"],
                row["depth"])] = row
    for test, title in TESTS:
        points = []
        for row in rows:
            p = (row["size"], row["conns"], row["depth"])
            if row["test"] == test and p not in points:
                points.append(p)
        if not points:
            continue
        points.sort(key=lambda p: (int(p[0]), int(p[1]), int(p[2])))
        head = ["size", "conns"]
        if test == "pipelined":
            head.append("depth")
        for s in servers:
            head += ["%s %s" % (s, h) for h in heads(test)]
        for s in servers[1:]:
            pairs, _ = ratio_cells(test, None, None)
            head += ["%s/%s %s" % (base, s, label) for _, label in pairs]
        out += ["", "## " + title, "",
                "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head)]
        for size, conns, depth in points:
            line = [size_text(size), conns]
            if test == "pipelined":
                line.append(depth)
            got = [by_key.get((s, test, size, conns, depth)) for s in servers]
            for row in got:
                line += cells(test, row)
            for row in got[1:]:
                line += ratio_cells(test, got[0], row)[1]
            out.append("| " + " | ".join(str(c) for c in line) + " |")
    trouble = []
    for row in rows:
        counters = ["%s %s" % (k, num(row[k])) for k in
                    ("errors", "connect_errors", "closed", "resets",
                     "timeouts", "mismatches") if row.get(k)]
        if row["failed_runs"]:
            counters.append("%d run(s) without a report or with the server "
                            "gone" % row["failed_runs"])
        if counters:
            trouble.append("- %s %s %s × %s conns: %s" % (
                row["server"], row["test"], size_text(row["size"]),
                row["conns"], ", ".join(counters)))
    if trouble:
        out += ["", "## Problems (medians of the benchmark's counters)", ""]
        out += trouble
    if meta.get("plots"):
        out += ["", "## Plots", ""]
        for png in meta["plots"].split():
            out.append("![%s](%s)" % (png, png))
    return "\n".join(out) + "\n"


def gnuplot_scripts(rows, servers, outdir, meta):
    """Data and gnuplot scripts for the ping-pong sweep; returns PNG names."""
    series = []
    for s in servers:
        for size in sorted({int(r["size"]) for r in rows
                            if r["test"] == "pingpong"}):
            pts = sorted((int(r["conns"]), r) for r in rows
                         if r["server"] == s and r["test"] == "pingpong"
                         and int(r["size"]) == size and r["runs"])
            if not pts:
                continue
            name = "pingpong-%s-%d.dat" % (re.sub(r"[^A-Za-z0-9_.-]", "_", s),
                                           size)
            with open(os.path.join(outdir, name), "w") as f:
                f.write("# conns msgs_per_sec p50_us p99_us p999_us "
                        "server_us_per_msg\n")
                for conns, r in pts:
                    f.write("%d %s %s %s %s %s\n" % (conns, *(
                        "NaN" if r.get(k) is None else repr(r[k]) for k in
                        ("msgs_per_sec", "lat_p50_us", "lat_p99_us",
                         "lat_p999_us", "server_us_per_msg"))))
            # A server whose CPU was not visible (a --target elsewhere)
            # has no line in cpu.png, and so no legend entry there.
            has_cpu = any(r.get("server_us_per_msg") is not None
                          for _, r in pts)
            series.append((s, size, name, has_cpu))
    if not series:
        return []
    subtitle = "median of %s; %s" % (meta.get("repeats", "?") + " runs",
                                     meta.get("pinning_short", ""))
    common = [
        "set terminal pngcairo size 1000,600 font 'sans,10'",
        "set logscale x 10",
        "set xrange [0.7:%d]" % (max(int(r["conns"]) for r in rows) * 1.5),
        "set xlabel 'concurrent connections (log scale)'",
        "set grid xtics ytics mxtics",
        "set key outside right top",
        "set format x '%g'",
    ]
    # A hue per server, dark for the smallest message size, light after.
    colors = [("#1f4e99", "#6fa8f0"), ("#b2182b", "#f4897b"),
              ("#1b7837", "#7fcf8f"), ("#6a3d9a", "#b49bd6"),
              ("#b35806", "#f6b26b")]
    sizes = sorted({size for _, size, _, _ in series})

    def style(s, size, dash=1):
        pair = colors[servers.index(s) % len(colors)]
        k = min(sizes.index(size), 1)
        return "lc rgb '%s' pt %d dt %d lw 2" % (pair[k], (7, 5)[k], dash)

    plots = []
    # Throughput.
    gp = common + [
        "set output 'throughput.png'",
        "set title \"Ping-pong throughput vs connections\\n{/*0.8 %s}\""
        % subtitle,
        "set ylabel 'messages per second (echoed)'",
        "set yrange [0:*]",
        "set format y '%.0s%c'",
        "plot " + ", \\\n     ".join(
            "'%s' using 1:2 with linespoints %s title '%s, %s'"
            % (name, style(s, size), s, size_text(size))
            for s, size, name, _ in series),
    ]
    plots.append(("throughput", gp))
    # Latency percentiles.
    gp = common + [
        "set output 'latency.png'",
        "set title \"Ping-pong round-trip latency vs connections "
        "(solid p99, dashed p50)\\n{/*0.8 %s}\"" % subtitle,
        "set ylabel 'round-trip latency (log scale)'",
        "set logscale y 10",
        "set ytics ('1 µs' 1, '10 µs' 10, '100 µs' 100, '1 ms' 1000, "
        "'10 ms' 10000, '100 ms' 100000, '1 s' 1000000, '10 s' 10000000)",
        "plot " + ", \\\n     ".join(
            ["'%s' using 1:4 with linespoints %s title '%s, %s p99'"
             % (name, style(s, size), s, size_text(size))
             for s, size, name, _ in series] +
            ["'%s' using 1:3 with linespoints %s title '%s, %s p50'"
             % (name, style(s, size, 2), s, size_text(size))
             for s, size, name, _ in series]),
    ]
    plots.append(("latency", gp))
    # Server CPU per message, for the servers whose CPU was measured.
    cpu_series = [x for x in series if x[3]]
    if not cpu_series:
        return write_plots(outdir, plots)
    gp = common + [
        "set output 'cpu.png'",
        "set title \"Server CPU time per echoed message vs connections\\n"
        "{/*0.8 %s; lower is better}\"" % subtitle,
        # Log scale: one connection costs several times what many do, and
        # would flatten the differences that matter on a linear axis.
        "set ylabel 'server CPU µs per message (log scale)'",
        "set logscale y 10",
        "set ytics (0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, "
        "100, 200)",
        "plot " + ", \\\n     ".join(
            "'%s' using 1:6 with linespoints %s title '%s, %s'"
            % (name, style(s, size), s, size_text(size))
            for s, size, name, _ in cpu_series),
    ]
    plots.append(("cpu", gp))
    return write_plots(outdir, plots)


def write_plots(outdir, plots):
    """Write each (name, gnuplot lines) as name.gp; returns the names."""
    names = []
    for name, lines in plots:
        with open(os.path.join(outdir, name + ".gp"), "w") as f:
            f.write("\n".join(lines) + "\n")
        names.append(name)
    return names


def cmd_report(args):
    """Medians, CSV, markdown and plots from a results folder."""
    runs_path = os.path.join(args.dir, "runs.jsonl")
    if not os.path.exists(runs_path):
        fail("no runs in %s" % args.dir)
    runs = load_runs(runs_path)
    # The run's description is kept, so the report can be made again.
    meta_path = os.path.join(args.dir, "meta.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    meta.update(kv.split("=", 1) for kv in args.meta)
    if args.servers:
        meta["servers"] = args.servers
    args.servers = meta.get("servers")
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    servers = []
    for r in runs:
        if r["server"] not in servers:
            servers.append(r["server"])
    if args.servers:
        servers = [s for s in args.servers.split(",") if s in servers] + \
            [s for s in servers if s not in args.servers.split(",")]

    raw = []
    for r in runs:
        row = {k: r.get(k) for k in KEYS + ["rep", "procs", "wall"]}
        row["rc"] = " ".join(str(c) for c in r.get("rc", []))
        row["server_alive"] = int(bool(r.get("server_alive", True)))
        for name, get in COLUMNS:
            try:
                row[name] = get(r) if r.get("bench") else None
            except (KeyError, TypeError):
                row[name] = None
        raw.append(row)
    write_csv(os.path.join(args.dir, "runs.csv"), raw,
              KEYS + ["rep", "procs", "rc", "server_alive", "wall"] +
              [c for c, _ in COLUMNS])

    rows = summarize(runs)
    write_csv(os.path.join(args.dir, "results.csv"), rows,
              KEYS + ["runs", "failed_runs", "procs"] + [c for c, _ in COLUMNS])

    names = gnuplot_scripts(rows, servers, args.dir, meta)
    made = []
    gnuplot = args.gnuplot or shutil.which("gnuplot")
    if names and gnuplot:
        for name in names:
            r = subprocess.run([gnuplot, name + ".gp"], cwd=args.dir,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode == 0 and \
                    os.path.exists(os.path.join(args.dir, name + ".png")):
                made.append(name + ".png")
            else:
                print("load-report: gnuplot %s.gp failed:\n%s"
                      % (name, r.stdout.decode(errors="replace")),
                      file=sys.stderr)
    meta["plots"] = " ".join(made)
    with open(os.path.join(args.dir, "summary.md"), "w") as f:
        f.write(markdown(rows, servers, meta))
    print("wrote %s (%s)" % (args.dir, ", ".join(
        ["results.csv", "runs.csv", "summary.md"] + made)))


def main():
    p = argparse.ArgumentParser(prog="load-report.py")
    sub = p.add_subparsers(dest="command")
    sub.required = True

    s = sub.add_parser("freeport")
    s.set_defaults(func=cmd_freeport)

    s = sub.add_parser("wait-server")
    s.add_argument("log")
    s.add_argument("pid", type=int)
    s.add_argument("port", type=int, nargs="?")
    s.add_argument("--timeout", type=float, default=10)
    s.set_defaults(func=cmd_wait_server)

    s = sub.add_parser("port-pid")
    s.add_argument("port", type=int)
    s.set_defaults(func=cmd_port_pid)

    s = sub.add_parser("measure")
    s.add_argument("--pid", type=int, default=0)
    s.add_argument("--runs", required=True)
    s.add_argument("--stderr")
    s.add_argument("--label", action="append", default=[])
    s.add_argument("--merge-with", help="the evecho-benchmark that adds "
                   "up the results of several processes (--merge)")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_measure)

    s = sub.add_parser("report")
    s.add_argument("dir")
    s.add_argument("--meta", action="append", default=[])
    s.add_argument("--servers", help="comma-separated order; first is the "
                   "baseline of the ratios")
    s.add_argument("--gnuplot")
    s.set_defaults(func=cmd_report)

    args = p.parse_args()
    if getattr(args, "cmd", None) and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    args.func(args)


if __name__ == "__main__":
    main()
