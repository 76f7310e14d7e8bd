#!/usr/bin/env python3
"""loadreport: scripts/load.sh's results, from the runs to the reports.

The pure half of load.sh: it reads a results folder's runs.jsonl (and
meta.json) and writes runs.csv, results.csv, summary.md, gnuplot scripts,
their PNGs and report.html; or it compares two folders point by point into
compare.csv, compare.md and report.html.  It starts no server and reads no
/proc (scripts/load.py does that), so tests/report/ tests it on checked-in
runs.  The one program it runs is gnuplot, to draw.

Run it again on a folder to redo its reports:

  python3 scripts/loadreport.py report DIR [--meta KEY=VALUE]...
          [--servers A,B] [--gnuplot PATH]
  python3 scripts/loadreport.py compare OLD NEW --out DIR [--gnuplot PATH]

Only the standard library is used; any python3 >= 3.7 will do.
"""

import argparse
import base64
import csv
import html
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys


class ReportError(Exception):
    """A results folder that cannot be reported on."""


# ---------------------------------------------------------------- figures

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
    # UDP only (evecho-benchmark --udp), over the whole run.
    ("sent", lambda r: r["bench"].get("sent")),
    ("lost", lambda r: r["bench"].get("lost")),
    ("late", lambda r: r["bench"].get("late")),
    ("duplicated", lambda r: r["bench"].get("duplicated")),
    ("reordered", lambda r: r["bench"].get("reordered")),
    ("corrupted", lambda r: r["bench"].get("corrupted")),
]
KEYS = ["server", "test", "mode", "size", "conns", "depth"]
RUNS_FIELDS = KEYS + ["rep", "procs", "rc", "server_alive", "wall"] + \
    [c for c, _ in COLUMNS]
RESULTS_FIELDS = KEYS + ["runs", "failed_runs", "procs"] + \
    [c for c, _ in COLUMNS]
TESTS = [("pingpong", "Ping-pong (one message in flight per connection)"),
         ("pipelined", "Pipelined ping-pong"),
         ("stream", "Stream (send and receive at once)"),
         ("connect", "Connect (connect, one echo, close)"),
         ("hold", "Hold (idle connections: server memory)"),
         ("udp", "UDP ping-pong (a datagram in flight per flow, RFC 862)")]
# Corrupted datagrams are counted with the mismatches too.
COUNTERS = ("errors", "connect_errors", "closed", "resets", "timeouts",
            "mismatches", "lost", "duplicated")
UDP_COUNTS = ["lost", "duplicated", "reordered", "corrupted"]
CPU_SHARES = ["server_cpu_pct", "load_cpu_pct", "other_cpu_pct"]

# The figures report.html shows per point and server, by test.
TABLE_COLUMNS = {
    "pingpong": ["runs", "msgs_per_sec", "lat_p50_us", "lat_p99_us",
                 "server_us_per_msg"] + CPU_SHARES,
    "stream": ["runs", "mb_per_sec", "server_us_per_msg"] + CPU_SHARES,
    "connect": ["runs", "conns_per_sec", "lat_p50_us", "lat_p99_us",
                "server_us_per_conn"] + CPU_SHARES,
    "hold": ["runs", "held", "mem_bytes_per_conn", "server_rss_held"],
}
TABLE_COLUMNS["pipelined"] = TABLE_COLUMNS["pingpong"]
TABLE_COLUMNS["udp"] = TABLE_COLUMNS["pingpong"] + UDP_COUNTS
TITLES = {
    "runs": "runs", "msgs_per_sec": "msgs/s", "mb_per_sec": "MB/s",
    "conns_per_sec": "conns/s", "held": "held", "lat_p50_us": "p50 µs",
    "lat_p99_us": "p99 µs", "server_us_per_msg": "CPU µs/msg",
    "server_us_per_conn": "CPU µs/conn", "server_cpu_pct": "CPU % srv",
    "load_cpu_pct": "CPU % load", "other_cpu_pct": "CPU % other",
    "mem_bytes_per_conn": "B/conn", "server_rss_held": "RSS held (B)",
    "lost": "lost", "duplicated": "dup", "reordered": "reord",
    "corrupted": "corrupt",
}
# Over UDP a message is a datagram.
UDP_TITLES = {"msgs_per_sec": "datagrams/s", "server_us_per_msg":
              "CPU µs/dgram"}
# More is better for these; less for the CPU, latency and memory figures.
HIGHER_IS_BETTER = {"msgs_per_sec", "mb_per_sec", "conns_per_sec", "held"}

EXPLANATION = (
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
    "much less affected).  *B/conn* is the server's VmRSS with every "
    "connection open "
    "less its RSS before, ÷ the connections it held (its descriptor "
    "count), on a freshly started server; *RSS* is that RSS.  Over UDP "
    "(evecho-benchmark --udp) a message is a datagram and a connection a "
    "flow, and *lost*, *dup*, *reord* and *corrupt* are the benchmark's "
    "counts of datagrams lost, duplicated, reordered and corrupted over "
    "the whole run (medians, as every figure).")
META_TITLES = (("host", "Host"), ("pinning", "Pinning"),
               ("benchmark", "Benchmark"), ("matrix", "Matrix"),
               ("timing", "Timing"))


def column_title(test, column):
    """A column's title in a test's tables."""
    return UDP_TITLES.get(column, TITLES[column]) if test == "udp" \
        else TITLES[column]


def key_figures(test):
    """(column, label) of the figures that compare servers or runs."""
    if test == "udp":
        return [("msgs_per_sec", "dgrams/s"),
                ("server_us_per_msg", "CPU/dgram"),
                ("lat_p50_us", "p50"), ("lat_p99_us", "p99")]
    if test == "hold":
        return [("mem_bytes_per_conn", "B/conn")]
    if test == "stream":
        return [("mb_per_sec", "MB/s"), ("server_us_per_msg", "CPU/msg")]
    if test == "connect":
        return [("conns_per_sec", "conns/s"),
                ("server_us_per_conn", "CPU/conn")]
    return [("msgs_per_sec", "msgs/s"), ("server_us_per_msg", "CPU/msg"),
            ("lat_p50_us", "p50"), ("lat_p99_us", "p99")]


# ---------------------------------------------------------------- reading

def load_runs(path):
    """Every run record of a runs.jsonl."""
    runs = []
    with open(path) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    return runs


def load_folder(folder):
    """(runs, meta) of a results folder; meta is {} without meta.json."""
    runs_path = os.path.join(folder, "runs.jsonl")
    if not os.path.exists(runs_path):
        raise ReportError("no runs.jsonl in %s" % folder)
    meta_path = os.path.join(folder, "meta.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    return load_runs(runs_path), meta


def server_order(runs, wanted=None):
    """The servers of the runs, those named in wanted (A,B) first."""
    servers = []
    for r in runs:
        if r["server"] not in servers:
            servers.append(r["server"])
    if not wanted:
        return servers
    first = [s for s in wanted.split(",") if s in servers]
    return first + [s for s in servers if s not in first]


def point_key(row):
    """server,test,mode,size,conns,depth: how rows and cells are named."""
    return ",".join(str(row[k]) for k in KEYS)


# ---------------------------------------------------------------- medians

def figure(get, run):
    """One figure of a run record, None where the record lacks it."""
    try:
        return get(run) if run.get("bench") else None
    except (KeyError, TypeError):
        return None


def run_rows(runs):
    """One runs.csv row per run record."""
    rows = []
    for r in runs:
        row = {k: r.get(k) for k in KEYS + ["rep", "procs", "wall"]}
        row["rc"] = " ".join(str(c) for c in r.get("rc", []))
        row["server_alive"] = int(bool(r.get("server_alive", True)))
        for name, get in COLUMNS:
            row[name] = figure(get, r)
        rows.append(row)
    return rows


def median(values):
    """Median of the values that are not None, or None."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs):
    """One row per point: each column the median over its repeats."""
    groups = {}
    for r in runs:
        key = tuple(str(r.get(k, "")) for k in KEYS)
        groups.setdefault(key, []).append(r)
    rows = []
    for key, group in groups.items():
        good = [r for r in group if r.get("bench")]
        row = dict(zip(KEYS, key))
        row["runs"] = len(good)
        row["failed_runs"] = len(group) - len(good) + \
            sum(1 for r in group if not r.get("server_alive", True))
        row["procs"] = max(r.get("procs", 1) for r in group)
        for name, get in COLUMNS:
            row[name] = median(figure(get, r) for r in good)
        rows.append(row)
    return rows


def ratio(a, b):
    """a / b, or None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def change_pct(old, new):
    """How much new differs from old, in percent of old; None if unknown."""
    if old is None or new is None or old == 0:
        return None
    return 100.0 * (new - old) / old


# ---------------------------------------------------------------- text

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


def human(column, v):
    """A figure for people: rates and counts with k and M, others num()."""
    return si(v) if column in HIGHER_IS_BETTER else num(v)


def pct(v):
    """A percentage, whole."""
    return "–" if v is None else "%.0f" % v


def ratio_text(v):
    """A ratio as '0.88×', or '–'."""
    return "–" if v is None else "%.2f×" % v


def change_text(v):
    """A change as '+12.3%', or '–'."""
    return "–" if v is None else "%+.1f%%" % v


def size_text(size):
    """64 -> 64 B, 4096 -> 4 KiB."""
    size = int(size)
    return "%d KiB" % (size // 1024) if size >= 1024 and size % 1024 == 0 \
        else "%d B" % size


def csv_text(rows, fields):
    """rows as CSV, numbers plainly formatted."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore",
                       lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: plain(row.get(k)) for k in fields})
    return out.getvalue()


def problems(bench):
    """The benchmark's non-zero error counters, as text."""
    return ", ".join("%s %d" % (k, bench[k]) for k in COUNTERS
                     if bench.get(k))


def progress_line(rec):
    """What one run did, in a line (load.py prints it as it goes)."""
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
        what = "dgram" if rec.get("test") == "udp" else "msg"
        s = "%s %ss/s, p99 %s us" % (si(b.get("msgs_per_sec")), what,
                                     num(b["latency_us"].get("p99")))
        if rec.get("server_us_per_msg") is not None:
            s += ", server %.2f us/%s" % (rec["server_us_per_msg"], what)
    if rec.get("procs", 1) > 1:
        s += " [%d benchmark processes]" % rec["procs"]
    if (rec.get("other_cpu_pct") or 0) >= 20:
        s += " (other work used %.0f%% CPU)" % rec["other_cpu_pct"]
    errs = problems(b)
    if errs:
        s += ", " + errs
    return s


def trouble_lines(rows):
    """A line per point whose runs saw errors or failed."""
    lines = []
    for row in rows:
        counters = ["%s %s" % (k, si(row[k])) for k in COUNTERS
                    if row.get(k)]
        if row["failed_runs"]:
            counters.append("%d run(s) without a report or with the server "
                            "gone" % row["failed_runs"])
        if counters:
            lines.append("%s %s %s × %s %s: %s" % (
                row["server"], row["test"], size_text(row["size"]),
                row["conns"], point_heads(row["test"])[1],
                ", ".join(counters)))
    return lines


def split_note(rows):
    """Where several benchmark processes made the load, or None."""
    split = sorted({int(r["conns"]) for r in rows if r["procs"] > 1})
    if not split:
        return None
    return ("At %s connections the load came from several benchmark "
            "processes: their rates add up, and the latency percentiles "
            "come from their histograms added up "
            "(evecho-benchmark --merge)." %
            ", ".join(str(c) for c in split))


def ratio_note(servers):
    """What the ratio columns mean."""
    return ("Ratios are `%s` ÷ the other server: above 1× means "
            "more throughput, or more CPU or memory, for `%s`." %
            (servers[0], servers[0]))


def server_lines(servers, meta):
    """A line per server: its commands (TCP, UDP), and any note on how it
    ran."""
    lines = []
    for s in servers:
        note = meta.get("note." + s)
        cmds = ["`%s`" % meta["server." + s]] if meta.get("server." + s) \
            else []
        if meta.get("udp." + s):
            cmds.append("UDP `%s`" % meta["udp." + s])
        lines.append("Server `%s`: %s%s" % (
            s, "; ".join(cmds) or "?", ", " + note if note else ""))
    return lines


def meta_lines(servers, meta):
    """How the run was made, a line a fact."""
    return ["%s: %s" % (title, meta[key]) for key, title in META_TITLES
            if meta.get(key)] + server_lines(servers, meta)


def tests_present(rows):
    """(test, title, points) for each test with rows, points in order."""
    found = []
    for test, title in TESTS:
        points = []
        for row in rows:
            p = (row["size"], row["conns"], row["depth"])
            if row["test"] == test and p not in points:
                points.append(p)
        if points:
            points.sort(key=lambda p: tuple(int(x) for x in p))
            found.append((test, title, points))
    return found


def rows_by_key(rows):
    """{(server, test, size, conns, depth): row}."""
    return {(r["server"], r["test"], r["size"], r["conns"], r["depth"]): r
            for r in rows}


# ---------------------------------------------------------------- markdown

def md_cells(test, row):
    """The per-server cells of one summary.md row, by test."""
    if row is None:
        return ["–"] * len(md_heads(test))
    if row["runs"] == 0:
        return ["failed"] + ["–"] * (len(md_heads(test)) - 1)
    cpu = "%s / %s / %s" % tuple(pct(row.get(k)) for k in CPU_SHARES)
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
    cells = [si(row.get("msgs_per_sec")), lat,
             num(row.get("server_us_per_msg")), cpu]
    if test == "udp":
        cells.append(" / ".join(si(row.get(k)) for k in UDP_COUNTS))
    return cells


def md_heads(test):
    """Column titles of the per-server cells of summary.md, by test."""
    if test == "stream":
        return ["MB/s", "CPU µs/msg", "CPU % srv/load/other"]
    if test == "connect":
        return ["conns/s", "p50/p99 µs", "CPU µs/conn", "CPU % srv/load/other"]
    if test == "hold":
        return ["held", "B/conn", "RSS MiB"]
    if test == "udp":
        return ["datagrams/s", "p50/p99 µs", "CPU µs/dgram",
                "CPU % srv/load/other", "lost/dup/reord/corrupt"]
    return ["msgs/s", "p50/p99 µs", "CPU µs/msg", "CPU % srv/load/other"]


def md_ratio_cells(test, base, other):
    """Baseline ÷ other for each key figure, as text."""
    return [ratio_text(ratio((base or {}).get(k), (other or {}).get(k)))
            for k, _ in key_figures(test)]


def md_table(head, lines):
    """A markdown table."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
        ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]


def markdown(rows, servers, meta):
    """summary.md: a header saying how it was measured, a table per test."""
    base = servers[0]
    out = ["# evecho load run %s" % meta.get("date", ""), ""]
    out += ["- " + line for line in meta_lines(servers, meta)]
    out += ["", EXPLANATION]
    if split_note(rows):
        out += ["", split_note(rows)]
    if len(servers) > 1:
        out += ["", ratio_note(servers)]
    by_key = rows_by_key(rows)
    for test, title, points in tests_present(rows):
        head = point_heads(test)
        for s in servers:
            head += ["%s %s" % (s, h) for h in md_heads(test)]
        for s in servers[1:]:
            head += ["%s/%s %s" % (base, s, label)
                     for _, label in key_figures(test)]
        lines = []
        for size, conns, depth in points:
            line = [size_text(size), conns]
            if test == "pipelined":
                line.append(depth)
            got = [by_key.get((s, test, size, conns, depth)) for s in servers]
            for row in got:
                line += md_cells(test, row)
            for row in got[1:]:
                line += md_ratio_cells(test, got[0], row)
            lines.append(line)
        out += ["", "## " + title, ""] + md_table(head, lines)
    trouble = trouble_lines(rows)
    if trouble:
        out += ["", "## Problems (medians of the benchmark's counters)", ""]
        out += ["- " + line for line in trouble]
    if meta.get("plots"):
        out += ["", "## Plots", ""]
        for png in meta["plots"].split():
            out.append("![%s](%s)" % (png, png))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- plots

def safe_name(name):
    """A server name fit for a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def plot_series(rows, servers):
    """(server, size, data file, its text, has_cpu) per ping-pong line."""
    series = []
    sizes = sorted({int(r["size"]) for r in rows if r["test"] == "pingpong"})
    for s in servers:
        for size in sizes:
            pts = sorted((int(r["conns"]), r) for r in rows
                         if r["server"] == s and r["test"] == "pingpong"
                         and int(r["size"]) == size and r["runs"])
            if not pts:
                continue
            text = ["# conns msgs_per_sec p50_us p99_us p999_us "
                    "server_us_per_msg"]
            for conns, r in pts:
                text.append("%d %s" % (conns, " ".join(
                    "NaN" if r.get(k) is None else repr(r[k]) for k in
                    ("msgs_per_sec", "lat_p50_us", "lat_p99_us",
                     "lat_p999_us", "server_us_per_msg"))))
            # A server whose CPU was not visible (a --target elsewhere)
            # has no line in cpu.png, and so no legend entry there.
            has_cpu = any(r.get("server_us_per_msg") is not None
                          for _, r in pts)
            name = "pingpong-%s-%d.dat" % (safe_name(s), size)
            series.append((s, size, name, "\n".join(text) + "\n", has_cpu))
    return series


def plot_scripts(rows, servers, meta):
    """The ping-pong plots: ({data file: text}, [(name, gnuplot lines)])."""
    series = plot_series(rows, servers)
    if not series:
        return {}, []
    data = {name: text for _, _, name, text, _ in series}
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
    sizes = sorted({size for _, size, _, _, _ in series})

    def style(s, size, dash=1):
        pair = colors[servers.index(s) % len(colors)]
        k = min(sizes.index(size), 1)
        return "lc rgb '%s' pt %d dt %d lw 2" % (pair[k], (7, 5)[k], dash)

    def lines(column, what, chosen=series, dash=1):
        return ["'%s' using 1:%d with linespoints %s title '%s, %s%s'"
                % (name, column, style(s, size, dash), s, size_text(size),
                   what)
                for s, size, name, _, _ in chosen]

    def plot(items):
        return "plot " + ", \\\n     ".join(items)

    plots = [("throughput", common + [
        "set output 'throughput.png'",
        "set title \"Ping-pong throughput vs connections\\n{/*0.8 %s}\""
        % subtitle,
        "set ylabel 'messages per second (echoed)'",
        "set yrange [0:*]",
        "set format y '%.0s%c'",
        plot(lines(2, "")),
    ]), ("latency", common + [
        "set output 'latency.png'",
        "set title \"Ping-pong round-trip latency vs connections "
        "(solid p99, dashed p50)\\n{/*0.8 %s}\"" % subtitle,
        "set ylabel 'round-trip latency (log scale)'",
        "set logscale y 10",
        "set ytics ('1 µs' 1, '10 µs' 10, '100 µs' 100, '1 ms' 1000, "
        "'10 ms' 10000, '100 ms' 100000, '1 s' 1000000, '10 s' 10000000)",
        plot(lines(4, " p99") + lines(3, " p50", dash=2)),
    ])]
    # Server CPU per message, for the servers whose CPU was measured.
    cpu_series = [x for x in series if x[4]]
    if cpu_series:
        plots.append(("cpu", common + [
            "set output 'cpu.png'",
            "set title \"Server CPU time per echoed message vs connections\\n"
            "{/*0.8 %s; lower is better}\"" % subtitle,
            # Log scale: one connection costs several times what many do,
            # and would flatten the differences that matter on a linear axis.
            "set ylabel 'server CPU µs per message (log scale)'",
            "set logscale y 10",
            "set ytics (0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, "
            "50, 100, 200)",
            plot(lines(6, "", cpu_series)),
        ]))
    return data, plots


def draw(gnuplot, folder, name):
    """Run gnuplot on folder/name.gp; (PNG bytes, None) or (None, why)."""
    r = subprocess.run([gnuplot, name + ".gp"], cwd=folder,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    png = os.path.join(folder, name + ".png")
    if r.returncode != 0 or not os.path.exists(png):
        said = r.stdout.decode(errors="replace").strip()
        return None, "gnuplot %s.gp failed (exit %d)%s" % (
            name, r.returncode, ": " + said if said else "")
    with open(png, "rb") as f:
        return f.read(), None


def make_plots(rows, servers, meta, folder, gnuplot):
    """Write the plots' data and scripts, draw them with gnuplot if given.

    Returns ([(name, PNG bytes)], [why a plot is missing]).
    """
    data, plots = plot_scripts(rows, servers, meta)
    for name, text in data.items():
        write_file(folder, name, text)
    for name, lines in plots:
        write_file(folder, name + ".gp", "\n".join(lines) + "\n")
    if not plots:
        return [], ["No plots: they draw the TCP ping-pong points, and "
                    "these runs have none."]
    if not gnuplot:
        return [], ["Plots unavailable: gnuplot was not found (install "
                    "gnuplot, e.g. Debian's gnuplot-nox, and run "
                    "loadreport.py again); the tables have every figure."]
    images, missing = [], []
    for name, _ in plots:
        png, why = draw(gnuplot, folder, name)
        if png is None:
            missing.append("Plot unavailable: " + why)
        else:
            images.append((name, png))
    return images, missing


# ---------------------------------------------------------------- HTML

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto;
       max-width: 1180px; padding: 0 1em; color: #1a1a1a; }
h1 { font-size: 1.5em; margin-bottom: .3em; }
h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
ul.meta { padding-left: 1.2em; margin: .3em 0; }
p.note { max-width: 60em; color: #333; font-size: .92em; }
p.unavailable { background: #fff4d6; border: 1px solid #e0c060;
                padding: .5em .8em; }
.plots figure { margin: 0 0 1em; }
.plots img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .2em .55em; }
th { background: #f0f3f7; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.first td { border-top: 2px solid #999; }
td.better { color: #1b7837; } td.worse { color: #b2182b; }
code { font-size: .92em; }
p.contents a { color: #1f4e99; }
"""

# The page needs no script: this one only records, for the browser test
# (tests/test-load-browser.sh), how wide each plot decoded and how much of
# it was drawn: Chromium draws what it can of a damaged PNG, and leaves the
# rest transparent, where gnuplot's plots are opaque throughout.
CHECK_SCRIPT = """
addEventListener('load', function () {
  var imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    var img = imgs[i], c = document.createElement('canvas'), opaque = 0;
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    if (c.width && c.height) {
      var g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      var px = g.getImageData(0, 0, c.width, c.height).data;
      for (var k = 3; k < px.length; k += 4)
        opaque += px[k] == 255;
      opaque /= px.length / 4;
    }
    img.setAttribute('data-natural-width', img.naturalWidth);
    img.setAttribute('data-opaque', opaque.toFixed(4));
  }
  document.documentElement.setAttribute('data-checked', imgs.length);
});
"""


def inline_html(text):
    """Markdown's *emphasis* and `code` in one line, as escaped HTML."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]*)`", r"<code>\1</code>", text)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)


def attrs(**values):
    """HTML attributes, escaped; data_x becomes data-x, class_ class; None
    is left out."""
    return "".join(' %s="%s"' % (k.rstrip("_").replace("_", "-"),
                                 html.escape(str(v)))
                   for k, v in values.items() if v is not None)


def cell(text, numeric=True, css=None, **values):
    """One <td>: numbers to the right; css another class."""
    classes = " ".join(c for c in ("n" if numeric else None, css) if c)
    return "<td%s%s>%s</td>" % (attrs(class_=classes or None),
                                attrs(**values), html.escape(str(text)))


def figure_text(v):
    """A figure as results.csv has it, '–' for none."""
    return "–" if v is None else str(plain(v))


def html_table(head, body_rows):
    """A table: head a list of titles, body_rows a list of '<tr ...>...'."""
    return ["<table>", "<thead><tr>" +
            "".join("<th>%s</th>" % html.escape(h) for h in head) +
            "</tr></thead>", "<tbody>"] + body_rows + ["</tbody></table>"]


def html_plots(images, missing):
    """The plots inline as PNG data: URIs, and why any is missing."""
    out = ['<h2 id="plots">Plots</h2>']
    out += ['<p class="unavailable">%s</p>' % html.escape(m)
            for m in missing]
    if images:
        out.append('<div class="plots">')
        for name, png in images:
            out.append('<figure><img alt="%s plot" src="data:image/png;'
                       'base64,%s"><figcaption>%s.png</figcaption></figure>'
                       % (name, base64.b64encode(png).decode("ascii"), name))
        out.append("</div>")
    return out


def point_cells(test, size, conns, depth):
    """The cells that name a point: size, connections, depth if pipelined."""
    out = [cell(size_text(size), False), cell(conns)]
    if test == "pipelined":
        out.append(cell(depth))
    return out


def point_heads(test):
    """Titles of point_cells()."""
    return ["size", "flows" if test == "udp" else "conns"] + \
        (["depth"] if test == "pipelined" else [])


def html_figures(test, points, servers, by_key):
    """A point's figures, a row per server, each cell as in results.csv."""
    columns = TABLE_COLUMNS[test]
    body = []
    for size, conns, depth in points:
        first = True
        for s in servers:
            row = by_key.get((s, test, size, conns, depth))
            if row is None:
                continue
            cls = ' class="first"' if first else ""
            first = False
            body.append("<tr%s%s>" % (cls, attrs(data_key=point_key(row))) +
                        cell(s, False) +
                        "".join(point_cells(test, size, conns, depth)) +
                        "".join(cell(figure_text(row.get(c)), data_col=c)
                                for c in columns) + "</tr>")
    head = ["server"] + point_heads(test) + \
        [column_title(test, c) for c in columns]
    return html_table(head, body)


def html_ratios(test, points, servers, by_key):
    """Baseline ÷ each other server, a row per point and other server."""
    base = servers[0]
    body = []
    for size, conns, depth in points:
        b = by_key.get((base, test, size, conns, depth))
        for s in servers[1:]:
            o = by_key.get((s, test, size, conns, depth))
            if b is None or o is None:
                continue
            body.append("<tr%s>" % attrs(data_base=point_key(b),
                                         data_other=point_key(o)) +
                        cell("%s ÷ %s" % (base, s), False) +
                        "".join(point_cells(test, size, conns, depth)) +
                        "".join(cell(ratio_text(ratio(b.get(c), o.get(c))),
                                     data_ratio=c)
                                for c, _ in key_figures(test)) + "</tr>")
    head = ["servers"] + point_heads(test) + \
        [label for _, label in key_figures(test)]
    return html_table(head, body) if body else []


def html_contents(tests):
    """A line of links to the plots and each test's section."""
    short = {test: title.split(" (")[0] for test, title in TESTS}
    links = ['<a href="#plots">Plots</a>'] + \
        ['<a href="#%s">%s</a>' % (t, short[t]) for t in tests]
    return '<p class="contents">%s</p>' % " · ".join(links)


def html_page(title, body):
    """A whole self-contained page around body (a list of lines)."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s</title>" % html.escape(title),
        "<style>%s</style>" % STYLE,
        "</head>",
        "<body>",
        "<h1>%s</h1>" % html.escape(title),
    ] + body + ["<script>%s</script>" % CHECK_SCRIPT, "</body>", "</html>",
                ""])


def html_list(lines):
    """A bulleted list of markdown-ish lines."""
    return ['<ul class="meta">'] + \
        ["<li>%s</li>" % inline_html(line) for line in lines] + ["</ul>"]


def html_report(rows, servers, meta, images, missing):
    """report.html of one run: how it ran, the plots, a table per test."""
    body = html_list(meta_lines(servers, meta))
    body.append(html_contents([t for t, _, _ in tests_present(rows)]))
    body += html_plots(images, missing)
    body.append('<p class="note">%s</p>' % inline_html(EXPLANATION))
    for note in (split_note(rows),
                 ratio_note(servers) if len(servers) > 1 else None):
        if note:
            body.append('<p class="note">%s</p>' % inline_html(note))
    by_key = rows_by_key(rows)
    for test, title, points in tests_present(rows):
        body.append('<h2 id="%s">%s</h2>' % (test, html.escape(title)))
        body += html_figures(test, points, servers, by_key)
        body += html_ratios(test, points, servers, by_key)
    trouble = trouble_lines(rows)
    if trouble:
        body.append("<h2>Problems (medians of the benchmark's counters)</h2>")
        body += html_list(trouble)
    return html_page("evecho load run %s" % meta.get("date", ""), body)


# ---------------------------------------------------------------- compare

COMPARE_FIELDS = KEYS + ["figure", "better", "old", "new", "change_pct"]


def compare_rows(old_rows, new_rows):
    """A row per point and key figure in either run: old, new, change %.

    Points are matched by server, test, mode, size, connections and depth;
    one missing from a run has that side empty.
    """
    old = {point_key(r): r for r in old_rows}
    new = {point_key(r): r for r in new_rows}
    keys = list(old) + [k for k in new if k not in old]
    out = []
    for key in keys:
        o, n = old.get(key), new.get(key)
        point = dict(zip(KEYS, key.split(",")))
        for column, _ in key_figures(point["test"]):
            a = o.get(column) if o else None
            b = n.get(column) if n else None
            if a is None and b is None and o and n:
                continue
            row = dict(point)
            row.update({"figure": column, "old": a, "new": b,
                        "better": "higher" if column in HIGHER_IS_BETTER
                        else "lower",
                        "change_pct": change_pct(a, b),
                        "only": None if o and n else "old" if o else "new"})
            out.append(row)
    return out


def compare_csv(rows):
    """compare.csv: figures as in results.csv, the change to 0.1%."""
    out = []
    for r in rows:
        r = dict(r)
        if r["change_pct"] is not None:
            r["change_pct"] = "%.1f" % r["change_pct"]
        out.append(r)
    return csv_text(out, COMPARE_FIELDS)


def verdict(row):
    """'better', 'worse' or None: which way the change went."""
    c = row["change_pct"]
    if c is None or c == 0:
        return None
    return "better" if (c > 0) == (row["better"] == "higher") else "worse"


def change_words(row):
    """The change of a compare row, or the run its point is only in."""
    if row["only"]:
        return "only in " + row["only"]
    return change_text(row["change_pct"])


def compare_meta_lines(old_meta, new_meta, old_dir, new_dir):
    """How each run was made: a line a fact, both sides when they differ."""
    lines = ["Old: `%s`%s" % (old_dir, ", " + old_meta["date"]
                              if old_meta.get("date") else ""),
             "New: `%s`%s" % (new_dir, ", " + new_meta["date"]
                              if new_meta.get("date") else "")]
    keys = [k for k, _ in META_TITLES]
    keys += sorted({k for m in (old_meta, new_meta) for k in m
                    if k.startswith(("server.", "udp."))})
    for key in keys:
        a, b = old_meta.get(key), new_meta.get(key)
        if a is None and b is None:
            continue
        title = dict(META_TITLES).get(key)
        if title is None:
            kind, name = key.split(".", 1)
            title = "%s `%s`" % ("Server" if kind == "server" else
                                 "UDP server", name)
            a, b = ("`%s`" % v if v else None for v in (a, b))
        if a == b:
            lines.append("%s: %s" % (title, a))
        else:
            lines.append("%s: old %s; new %s" % (title, a or "–", b or "–"))
    return lines


COMPARE_NOTE = (
    "Each figure is the median of its run's repeats, as in each run's "
    "results.csv; *change* is new − old in percent of old.  Rates (msgs/s, "
    "MB/s, conns/s) are better higher; CPU per message or connection, "
    "latency and memory per connection are better lower.  Runs on a shared "
    "machine move by 10-30%, CPU per message by about 10%: trust a change "
    "beyond that, or one that repeats.")


def compare_markdown(rows, lines):
    """compare.md: how the runs were made, a table per test."""
    out = ["# evecho load runs compared", ""]
    out += ["- " + line for line in lines] + ["", COMPARE_NOTE]
    for test, title in TESTS:
        mine = [r for r in rows if r["test"] == test]
        if not mine:
            continue
        table = []
        for r in mine:
            change = change_words(r)
            if verdict(r):
                change += " (%s)" % verdict(r)
            table.append([r["server"], size_text(r["size"]), r["conns"]] +
                         ([r["depth"]] if test == "pipelined" else []) +
                         [column_title(test, r["figure"]),
                          human(r["figure"], r["old"]),
                          human(r["figure"], r["new"]), change])
        out += ["", "## " + title, ""] + md_table(
            ["server"] + point_heads(test) +
            ["figure", "old", "new", "change"], table)
    return "\n".join(out) + "\n"


def compare_tr(test, r, first):
    """One figure of one point, old, new and the change, as a <tr>."""
    return ("<tr%s%s>" % (' class="first"' if first else "",
                          attrs(data_key=point_key(r),
                                data_figure=r["figure"])) +
            cell(r["server"], False) +
            "".join(point_cells(test, r["size"], r["conns"], r["depth"])) +
            cell(column_title(test, r["figure"]), False) +
            cell(figure_text(r["old"]), data_cell="old") +
            cell(figure_text(r["new"]), data_cell="new") +
            cell(change_words(r), css=verdict(r), data_cell="change_pct") +
            "</tr>")


def compare_html(rows, lines, images, missing):
    """report.html of a comparison: each figure old, new and changed."""
    body = html_list(lines)
    body.append(html_contents([t for t, _ in TESTS
                               if any(r["test"] == t for r in rows)]))
    body += html_plots(images, missing)
    body.append('<p class="note">%s</p>' % inline_html(COMPARE_NOTE))
    for test, title in TESTS:
        mine = [r for r in rows if r["test"] == test]
        if not mine:
            continue
        body.append('<h2 id="%s">%s</h2>' % (test, html.escape(title)))
        # A thicker line above each point's first figure.
        firsts = [i == 0 or point_key(r) != point_key(mine[i - 1])
                  for i, r in enumerate(mine)]
        body += html_table(["server"] + point_heads(test) +
                           ["figure", "old", "new", "change"],
                           [compare_tr(test, r, first)
                            for r, first in zip(mine, firsts)])
    return html_page("evecho load runs compared", body)


def compare_plot_rows(old_rows, new_rows, servers):
    """Both runs' rows as one, each server's named 'NAME old' and 'NAME new',
    so that the plots draw the two runs side by side; and those names."""
    rows, names = [], []
    for s in servers:
        for side, side_rows in (("old", old_rows), ("new", new_rows)):
            mine = [dict(r, server="%s %s" % (s, side))
                    for r in side_rows if r["server"] == s]
            if mine:
                rows += mine
                names.append("%s %s" % (s, side))
    return rows, names


def same_or_both(old_meta, new_meta, key):
    """A meta value of both runs: once when equal, 'old / new' when not."""
    a, b = old_meta.get(key, "?"), new_meta.get(key, "?")
    return a if a == b else "%s / %s" % (a, b)


# ---------------------------------------------------------------- files

def write_file(folder, name, text):
    """Write text to folder/name."""
    with open(os.path.join(folder, name), "w") as f:
        f.write(text)


def report_missing(missing, log):
    """Tell log why each missing plot is missing."""
    if log:
        for why in missing:
            log(why)


def write_report(folder, meta_updates=None, servers=None, gnuplot=None,
                 log=None):
    """Every report of a results folder, from its runs.jsonl.

    meta_updates adds to meta.json (kept, so the report can be made again);
    servers (A,B) orders them, the first the baseline of the ratios;
    gnuplot is the program that draws, or None; log(line) hears why a plot
    is missing.  Returns the files made.
    """
    runs, meta = load_folder(folder)
    meta.update(meta_updates or {})
    if servers:
        meta["servers"] = servers
    write_file(folder, "meta.json",
               json.dumps(meta, indent=1, sort_keys=True))
    order = server_order(runs, meta.get("servers"))
    write_file(folder, "runs.csv", csv_text(run_rows(runs), RUNS_FIELDS))
    rows = summarize(runs)
    write_file(folder, "results.csv", csv_text(rows, RESULTS_FIELDS))
    images, missing = make_plots(rows, order, meta, folder, gnuplot)
    report_missing(missing, log)
    pngs = [name + ".png" for name, _ in images]
    meta["plots"] = " ".join(pngs)
    write_file(folder, "summary.md", markdown(rows, order, meta))
    write_file(folder, "report.html",
               html_report(rows, order, meta, images, missing))
    return ["results.csv", "runs.csv", "summary.md", "report.html"] + pngs


def write_compare(old_dir, new_dir, out, gnuplot=None, log=None):
    """compare.csv, compare.md and report.html of two results folders;
    gnuplot and log as for write_report()."""
    old_runs, old_meta = load_folder(old_dir)
    new_runs, new_meta = load_folder(new_dir)
    os.makedirs(out, exist_ok=True)
    old_rows, new_rows = summarize(old_runs), summarize(new_runs)
    rows = compare_rows(old_rows, new_rows)
    write_file(out, "compare.csv", compare_csv(rows))
    lines = compare_meta_lines(old_meta, new_meta, old_dir, new_dir)
    write_file(out, "compare.md", compare_markdown(rows, lines))
    servers = server_order(old_runs + new_runs, old_meta.get("servers"))
    plot_rows, names = compare_plot_rows(old_rows, new_rows, servers)
    meta = {k: same_or_both(old_meta, new_meta, k)
            for k in ("repeats", "pinning_short")}
    images, missing = make_plots(plot_rows, names, meta, out, gnuplot)
    report_missing(missing, log)
    write_file(out, "report.html", compare_html(rows, lines, images, missing))
    return ["compare.csv", "compare.md", "report.html"] + \
        [name + ".png" for name, _ in images]


# ---------------------------------------------------------------- command

def main(argv=None):
    p = argparse.ArgumentParser(
        prog="loadreport.py",
        description="Redo load.sh's reports from a results folder.")
    sub = p.add_subparsers(dest="command")
    sub.required = True
    s = sub.add_parser("report", help="results.csv, summary.md, plots, "
                       "report.html of DIR")
    s.add_argument("dir")
    s.add_argument("--meta", action="append", default=[],
                   metavar="KEY=VALUE")
    s.add_argument("--servers", help="comma-separated order; first is the "
                   "baseline of the ratios")
    s.add_argument("--gnuplot", help="the gnuplot to draw with (default "
                   "gnuplot on PATH)")
    s = sub.add_parser("compare", help="compare two results folders")
    s.add_argument("old")
    s.add_argument("new")
    s.add_argument("--out", required=True)
    s.add_argument("--gnuplot")
    args = p.parse_args(argv)
    gnuplot = args.gnuplot or shutil.which("gnuplot")

    def log(line):
        print("loadreport: " + line, file=sys.stderr)

    try:
        if args.command == "report":
            made = write_report(args.dir, dict(kv.split("=", 1)
                                               for kv in args.meta),
                                args.servers, gnuplot, log)
            where = args.dir
        else:
            made = write_compare(args.old, args.new, args.out, gnuplot, log)
            where = args.out
    except (ReportError, OSError, ValueError) as e:
        print("loadreport: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s (%s)" % (where, ", ".join(made)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
