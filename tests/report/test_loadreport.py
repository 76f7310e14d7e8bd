"""Unit tests of scripts/loadreport.py on checked-in runs.

run-a and run-b are real `scripts/load.sh --matrix smoke --repeat 3 --vs
yardstick=...` folders (runs.jsonl with the latency histograms cut out,
which no report reads, and meta.json); run-u is a real run of the UDP
point alone, 64 B x 100 flows, 3 repeats, evecho-server -u beside
evecho-yardstick -u (--vs-udp), cut the same way.  The expected figures
below were worked out by hand from those files; each test says from
which records.
Run by tests/test-load-report.sh, or from the top of the source tree:

  PYTHONPATH=scripts python3 -m unittest discover -s tests/report -v
"""

import base64
import contextlib
import csv
import io
import json
import os
import re
import shutil
import struct
import tempfile
import unittest

import loadreport

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_A = os.path.join(HERE, "run-a")
RUN_B = os.path.join(HERE, "run-b")
RUN_U = os.path.join(HERE, "run-u")
GNUPLOT = shutil.which("gnuplot")


def runs_of(folder):
    return loadreport.load_runs(os.path.join(folder, "runs.jsonl"))


def csv_rows(text):
    """{server,test,mode,size,conns,depth: row} of a results.csv text."""
    return {loadreport.point_key(r): r
            for r in csv.DictReader(io.StringIO(text))}


def png_size(data):
    """(width, height) from a PNG's IHDR chunk, or None if not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


class Folder(unittest.TestCase):
    """A scratch copy of a checked-in run, since reports write into it."""

    def copy(self, src):
        tmp = tempfile.mkdtemp(prefix="loadreport-test.")
        self.addCleanup(shutil.rmtree, tmp)
        dst = os.path.join(tmp, os.path.basename(src))
        os.mkdir(dst)
        # File by file: make distcheck's source tree is read-only, and
        # copytree would copy that too.
        for name in os.listdir(src):
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
        return dst


class Medians(unittest.TestCase):
    def setUp(self):
        self.runs = runs_of(RUN_A)
        self.rows = {loadreport.point_key(r): r
                     for r in loadreport.summarize(self.runs)}

    def test_every_run_is_read(self):
        # 6 points x 3 repeats x 2 servers.
        self.assertEqual(len(self.runs), 36)
        self.assertEqual(loadreport.server_order(self.runs),
                         ["evecho", "yardstick"])
        self.assertEqual(len(self.rows), 12)

    def test_server_order_puts_the_named_first(self):
        self.assertEqual(loadreport.server_order(self.runs, "yardstick"),
                         ["yardstick", "evecho"])

    def test_median_of_three_repeats(self):
        # evecho ping-pong 64 B x 10, reps 1-3: msgs/s 24260.0, 102286.667,
        # 75086.667; CPU us/msg 13.362, 6.91949, 6.81756; p50 94.464,
        # 53.888, 61.824.  Each figure is its own median, from any rep.
        row = self.rows["evecho,pingpong,pingpong,64,10,1"]
        self.assertEqual(row["runs"], 3)
        self.assertEqual(row["failed_runs"], 0)
        self.assertAlmostEqual(row["msgs_per_sec"], 75086.667)
        self.assertAlmostEqual(row["server_us_per_msg"], 6.9194884042766915)
        self.assertAlmostEqual(row["lat_p50_us"], 61.824)

    def test_median_of_two_is_their_mean(self):
        # Reps 1 and 2 only: (24260.0 + 102286.667) / 2.
        two = [r for r in self.runs if r["rep"] != "3"]
        rows = {loadreport.point_key(r): r
                for r in loadreport.summarize(two)}
        self.assertAlmostEqual(
            rows["evecho,pingpong,pingpong,64,10,1"]["msgs_per_sec"],
            63273.3335)

    def test_connect_and_hold_figures(self):
        # evecho connect x 1: conns/s 3460.0, 6960.0, 7126.667; CPU
        # us/conn 86.705, 57.471, 70.159.  hold x 10: 1228.8 B/conn each
        # time, ten held.
        connect = self.rows["evecho,connect,connect,64,1,1"]
        self.assertAlmostEqual(connect["conns_per_sec"], 6960.0)
        self.assertAlmostEqual(connect["server_us_per_conn"],
                               70.1590238466312)
        hold = self.rows["evecho,hold,hold,64,10,1"]
        self.assertAlmostEqual(hold["mem_bytes_per_conn"], 1228.8)
        self.assertEqual(hold["held"], 10)

    def test_a_run_without_a_report_is_a_failed_run(self):
        runs = [dict(r) for r in self.runs]
        for r in runs:
            if r["server"] == "evecho" and r["test"] == "stream" and \
                    r["rep"] == "2":
                del r["bench"]
                r["ok"] = False
        rows = {loadreport.point_key(r): r
                for r in loadreport.summarize(runs)}
        row = rows["evecho,stream,stream,4096,1,1"]
        self.assertEqual((row["runs"], row["failed_runs"]), (2, 1))
        self.assertIn("evecho stream 4 KiB × 1 conns: 1 run(s) without a "
                      "report", "\n".join(loadreport.trouble_lines(
                          list(rows.values()))))

    def test_ratio(self):
        # evecho ÷ yardstick at 64 B x 10: 75086.667 / 58696.667 msgs/s
        # = 1.279; 6.91949 / 6.47618 CPU us/msg = 1.068.
        a = self.rows["evecho,pingpong,pingpong,64,10,1"]
        b = self.rows["yardstick,pingpong,pingpong,64,10,1"]
        self.assertEqual(loadreport.md_ratio_cells("pingpong", a, b)[:2],
                         ["1.28×", "1.07×"])
        self.assertIsNone(loadreport.ratio(1.0, 0))


class Formats(unittest.TestCase):
    def test_plain(self):
        self.assertEqual(loadreport.plain(75086.667), "75087")
        self.assertEqual(loadreport.plain(6.9194884), "6.919")
        self.assertEqual(loadreport.plain(None), "")
        self.assertEqual(loadreport.plain(10), 10)

    def test_people(self):
        self.assertEqual(loadreport.si(75086.667), "75.1k")
        self.assertEqual(loadreport.si(1912345), "1.91M")
        self.assertEqual(loadreport.num(6.9194884), "6.92")
        self.assertEqual(loadreport.size_text(4096), "4 KiB")
        self.assertEqual(loadreport.size_text(64), "64 B")
        self.assertEqual(loadreport.change_text(20.434), "+20.4%")


class Files(Folder):
    def test_results_csv(self):
        folder = self.copy(RUN_A)
        loadreport.write_report(folder)
        with open(os.path.join(folder, "results.csv")) as f:
            text = f.read()
        self.assertEqual(text.splitlines()[0].split(","),
                         loadreport.RESULTS_FIELDS)
        rows = csv_rows(text)
        self.assertEqual(len(rows), 12)
        row = rows["evecho,pingpong,pingpong,64,10,1"]
        self.assertEqual((row["runs"], row["msgs_per_sec"],
                          row["server_us_per_msg"], row["lat_p50_us"]),
                         ("3", "75087", "6.919", "61.82"))
        self.assertEqual(rows["evecho,hold,hold,64,10,1"]
                         ["mem_bytes_per_conn"], "1229")
        # A figure a mode has not is empty, not 0.
        self.assertEqual(row["server_us_per_conn"], "")
        with open(os.path.join(folder, "runs.csv")) as f:
            self.assertEqual(len(f.read().splitlines()), 37)

    def test_summary_md(self):
        folder = self.copy(RUN_A)
        loadreport.write_report(folder)
        with open(os.path.join(folder, "summary.md")) as f:
            md = f.read()
        for heading in ("Ping-pong", "Pipelined", "Stream", "Connect",
                        "Hold"):
            self.assertRegex(md, "(?m)^## " + heading)
        self.assertIn("| 64 B | 10 | 75.1k | 61.8 / 2499 | 6.92 | "
                      "45 / 45 / 20 | 58.7k |", md)
        self.assertIn("| 1.28× | 1.07× |", md)

    def test_meta_is_kept_and_extended(self):
        folder = self.copy(RUN_A)
        loadreport.write_report(folder, {"note.evecho": "a note"},
                                "yardstick")
        with open(os.path.join(folder, "meta.json")) as f:
            meta = json.load(f)
        self.assertEqual(meta["matrix"], "smoke (6 points)")
        self.assertEqual(meta["servers"], "yardstick")
        with open(os.path.join(folder, "summary.md")) as f:
            md = f.read()
        self.assertIn("a note", md)
        # The baseline is now the yardstick: 58696.667 / 75086.667.
        self.assertIn("yardstick/evecho msgs/s", md)
        self.assertIn("| 0.78× |", md)

    def test_plot_data(self):
        folder = self.copy(RUN_A)
        loadreport.write_report(folder)
        with open(os.path.join(folder, "pingpong-evecho-64.dat")) as f:
            lines = f.read().splitlines()
        # conns, msgs/s, p50, p99, p999, CPU us/msg: the medians.
        self.assertEqual(len(lines), 3)
        self.assertTrue(lines[2].startswith("10 75086.667 61.824 2498.56 "))
        with open(os.path.join(folder, "cpu.gp")) as f:
            gp = f.read()
        self.assertIn("title 'evecho, 64 B'", gp)
        self.assertIn("title 'yardstick, 64 B'", gp)

    def test_without_gnuplot_the_report_says_so(self):
        folder = self.copy(RUN_A)
        made = loadreport.write_report(folder, gnuplot=None)
        self.assertNotIn("throughput.png", made)
        self.assertFalse(os.path.exists(os.path.join(folder,
                                                     "throughput.png")))
        with open(os.path.join(folder, "report.html")) as f:
            page = f.read()
        self.assertIn("Plots unavailable: gnuplot was not found", page)
        self.assertNotIn("<img", page)

    def test_a_failing_gnuplot_is_reported(self):
        folder = self.copy(RUN_A)
        made = loadreport.write_report(folder, gnuplot="/bin/false")
        self.assertEqual(made[-1], "report.html")
        with open(os.path.join(folder, "report.html")) as f:
            page = f.read()
        self.assertIn("Plot unavailable: gnuplot throughput.gp failed "
                      "(exit 1)", page)

    @unittest.skipUnless(GNUPLOT, "no gnuplot")
    def test_plots_are_inline_pngs(self):
        folder = self.copy(RUN_A)
        made = loadreport.write_report(folder, gnuplot=GNUPLOT)
        self.assertEqual(made[-3:], ["throughput.png", "latency.png",
                                     "cpu.png"])
        with open(os.path.join(folder, "report.html")) as f:
            page = f.read()
        inline = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
        self.assertEqual(len(inline), 3)
        for name, data in zip(("throughput", "latency", "cpu"), inline):
            png = base64.b64decode(data)
            self.assertEqual(png_size(png), (1000, 600))
            with open(os.path.join(folder, name + ".png"), "rb") as f:
                self.assertEqual(f.read(), png)


class Html(Folder):
    def setUp(self):
        self.folder = self.copy(RUN_A)
        loadreport.write_report(self.folder, gnuplot=None)
        with open(os.path.join(self.folder, "report.html")) as f:
            self.page = f.read()
        with open(os.path.join(self.folder, "results.csv")) as f:
            self.results = csv_rows(f.read())

    def test_self_contained(self):
        # Nothing to fetch: no links, no scripts or styles from elsewhere.
        self.assertNotRegex(self.page, r'(?i)(src|href)="(?!data:|#)')
        self.assertIn('<a href="#hold">Hold</a>', self.page)
        self.assertIn('<h2 id="hold">', self.page)
        self.assertNotRegex(self.page, r"(?i)<link|@import|url\(")
        self.assertTrue(self.page.startswith("<!DOCTYPE html>"))

    def test_metadata(self):
        self.assertIn("<title>evecho load run 2026-12-02 14:04</title>",
                      self.page)
        self.assertIn("Pinning: servers on CPU 0, load on CPU 1 (taskset)",
                      self.page)
        self.assertIn("Server <code>yardstick</code>", self.page)

    def test_cells_are_results_csv(self):
        cells = re.findall(r'<tr[^>]*data-key="([^"]+)"[^>]*>(.*?)</tr>',
                           self.page)
        self.assertEqual(len(cells), 12)
        checked = 0
        for key, tr in cells:
            for col, text in re.findall(r'data-col="([^"]+)">([^<]*)<', tr):
                want = self.results[key][col] or "–"
                self.assertEqual(text, want, "%s %s" % (key, col))
                checked += 1
        self.assertGreater(checked, 60)

    def test_ratios(self):
        row = re.search(r'<tr data-base="evecho,pingpong,pingpong,64,10,1" '
                        r'data-other="yardstick,pingpong,pingpong,64,10,1">'
                        r'(.*?)</tr>', self.page).group(1)
        self.assertIn('data-ratio="msgs_per_sec">1.28×<', row)
        self.assertIn('data-ratio="server_us_per_msg">1.07×<', row)

    def test_one_run_has_no_ratio_tables(self):
        runs = [r for r in runs_of(RUN_A) if r["server"] == "evecho"]
        rows = loadreport.summarize(runs)
        page = loadreport.html_report(rows, ["evecho"], {}, [], [])
        self.assertNotIn("data-ratio", page)
        self.assertIn('data-key="evecho,hold,hold,64,10,1"', page)


class Udp(Folder):
    """The UDP point: datagrams/s, CPU per datagram, the benchmark's UDP
    counts and the ratio to the yardstick."""

    EVECHO = "evecho,udp,pingpong,64,100,1"
    YARD = "yardstick,udp,pingpong,64,100,1"

    def setUp(self):
        self.runs = runs_of(RUN_U)
        self.rows = {loadreport.point_key(r): r
                     for r in loadreport.summarize(self.runs)}

    def test_medians(self):
        # evecho reps 1-3: datagrams/s 410199.0, 400307.0, 403532.0; CPU
        # us/dgram 2.02608, 2.12424, 2.12465; sent 542920, 503710, 536560;
        # nothing lost, duplicated, reordered or corrupted.
        row = self.rows[self.EVECHO]
        self.assertEqual(row["runs"], 3)
        self.assertAlmostEqual(row["msgs_per_sec"], 403532.0)
        self.assertAlmostEqual(row["server_us_per_msg"], 2.1242381529054413)
        self.assertEqual(row["sent"], 536560)
        self.assertEqual([row[k] for k in loadreport.UDP_COUNTS],
                         [0, 0, 0, 0])

    def test_ratio(self):
        # 403532.0 / 409444.0 datagrams/s = 0.986; 2.12424 / 2.00844 CPU
        # us/dgram = 1.058.
        self.assertEqual(loadreport.md_ratio_cells(
            "udp", self.rows[self.EVECHO], self.rows[self.YARD])[:2],
            ["0.99×", "1.06×"])

    def test_tcp_rows_have_no_udp_counts(self):
        for row in loadreport.summarize(runs_of(RUN_A)):
            self.assertEqual([row[k] for k in ["sent"] +
                              loadreport.UDP_COUNTS], [None] * 5)

    def test_a_benchmark_without_the_counts(self):
        # Read defensively: a report without them has none, not a crash.
        runs = [dict(r, bench={k: v for k, v in r["bench"].items()
                               if k not in ["sent"] + loadreport.UDP_COUNTS})
                for r in self.runs]
        row = {loadreport.point_key(r): r
               for r in loadreport.summarize(runs)}[self.EVECHO]
        self.assertIsNone(row["lost"])
        self.assertAlmostEqual(row["msgs_per_sec"], 403532.0)
        self.assertEqual(loadreport.md_cells("udp", row)[-1],
                         "– / – / – / –")

    def test_progress_line(self):
        self.assertEqual(loadreport.progress_line(self.runs[0]),
                         "410k dgrams/s, p99 437 us, server 2.03 us/dgram")
        rec = dict(self.runs[0], bench=dict(self.runs[0]["bench"], lost=3,
                                            duplicated=1))
        self.assertTrue(loadreport.progress_line(rec).endswith(
            ", lost 3, duplicated 1"))

    def test_problems(self):
        # Lost in two of evecho's three runs (5 and 7): the median is 5.
        runs = [dict(r) for r in self.runs]
        for r, lost in zip([r for r in runs if r["server"] == "evecho"],
                           (5, 7, 0)):
            r["bench"] = dict(r["bench"], lost=lost)
        self.assertEqual(loadreport.trouble_lines(loadreport.summarize(runs)),
                         ["evecho udp 64 B × 100 flows: lost 5"])

    def test_summary_md(self):
        folder = self.copy(RUN_U)
        loadreport.write_report(folder)
        with open(os.path.join(folder, "summary.md")) as f:
            md = f.read()
        self.assertRegex(md, "(?m)^## UDP ping-pong")
        self.assertIn("| size | flows | evecho datagrams/s | evecho p50/p99 "
                      "µs | evecho CPU µs/dgram |", md)
        self.assertIn("| 64 B | 100 | 404k | 238 / 437 | 2.12 |", md)
        self.assertIn("| 0 / 0 / 0 / 0 | 409k |", md)
        self.assertIn("evecho/yardstick dgrams/s | evecho/yardstick "
                      "CPU/dgram", md)
        self.assertIn("| 0.99× | 1.06× |", md)
        self.assertIn("- Server `evecho`: `./src/evecho-server -q -l "
                      "127.0.0.1:0`; UDP `./src/evecho-server -q -u "
                      "127.0.0.1:0`", md)
        self.assertNotIn("## Problems", md)

    def test_report_html(self):
        folder = self.copy(RUN_U)
        loadreport.write_report(folder)
        with open(os.path.join(folder, "report.html")) as f:
            page = f.read()
        with open(os.path.join(folder, "results.csv")) as f:
            results = csv_rows(f.read())
        self.assertIn('<h2 id="udp">UDP ping-pong', page)
        # The plots draw TCP ping-pong only: the page says so.
        self.assertIn('<p class="unavailable">No plots: they draw the TCP '
                      'ping-pong points', page)
        self.assertIn('<a href="#udp">UDP ping-pong</a>', page)
        self.assertIn("<th>flows</th><th>runs</th><th>datagrams/s</th>",
                      page)
        self.assertIn("<th>CPU µs/dgram</th>", page)
        self.assertIn("<th>lost</th><th>dup</th><th>reord</th>"
                      "<th>corrupt</th>", page)
        cells = re.findall(r'<tr[^>]*data-key="([^"]+)"[^>]*>(.*?)</tr>',
                           page)
        self.assertEqual([k for k, _ in cells], [self.EVECHO, self.YARD])
        for key, tr in cells:
            got = dict(re.findall(r'data-col="([^"]+)">([^<]*)<', tr))
            for col in ["msgs_per_sec", "server_us_per_msg"] + \
                    loadreport.UDP_COUNTS:
                self.assertEqual(got[col], results[key][col], (key, col))
        row = re.search(r'<tr data-base="%s" data-other="%s">(.*?)</tr>'
                        % (self.EVECHO, self.YARD), page).group(1)
        self.assertIn('data-ratio="msgs_per_sec">0.99×<', row)
        self.assertIn('data-ratio="server_us_per_msg">1.06×<', row)

    def test_compare(self):
        tmp = tempfile.mkdtemp(prefix="loadreport-test.")
        self.addCleanup(shutil.rmtree, tmp)
        out = os.path.join(tmp, "cmp")
        loadreport.write_compare(RUN_U, RUN_U, out, None)
        with open(os.path.join(out, "compare.md")) as f:
            md = f.read()
        self.assertRegex(md, "(?m)^## UDP ping-pong")
        self.assertIn("| evecho | 64 B | 100 | datagrams/s | 404k | 404k | "
                      "+0.0% |", md)
        self.assertIn("- UDP server `yardstick`: "
                      "`/work/wt-yard/bench/evecho-yardstick -u "
                      "127.0.0.1:{port}`", md)


class Compare(Folder):
    def setUp(self):
        tmp = tempfile.mkdtemp(prefix="loadreport-test.")
        self.addCleanup(shutil.rmtree, tmp)
        self.out = os.path.join(tmp, "cmp")
        self.made = loadreport.write_compare(RUN_A, RUN_B, self.out, None)
        with open(os.path.join(self.out, "compare.csv")) as f:
            self.rows = list(csv.DictReader(f))

    def row(self, key, figure):
        found = [r for r in self.rows
                 if loadreport.point_key(r) == key and r["figure"] == figure]
        self.assertEqual(len(found), 1, (key, figure))
        return found[0]

    def test_files(self):
        self.assertEqual(self.made, ["compare.csv", "compare.md",
                                     "report.html"])
        # Ping-pong and pipelined 4 figures, stream and connect 2, hold 1:
        # (4 + 4 + 4 + 2 + 2 + 1) per server.
        self.assertEqual(len(self.rows), 2 * 17)

    def test_change(self):
        # evecho ping-pong 64 B x 10: msgs/s median 75086.667 in run-a,
        # 90430.0 in run-b (90430.0, 86136.667, 112946.667): +20.4%.
        # CPU us/msg 6.91949 then 9.37138: +35.4%, which is worse.
        r = self.row("evecho,pingpong,pingpong,64,10,1", "msgs_per_sec")
        self.assertEqual((r["old"], r["new"], r["change_pct"], r["better"]),
                         ("75087", "90430", "20.4", "higher"))
        r = self.row("evecho,pingpong,pingpong,64,10,1", "server_us_per_msg")
        self.assertEqual((r["old"], r["new"], r["change_pct"], r["better"]),
                         ("6.919", "9.371", "35.4", "lower"))

    def test_old_and_new_are_each_runs_results(self):
        for folder, side in ((RUN_A, "old"), (RUN_B, "new")):
            rows = {loadreport.point_key(r): r
                    for r in loadreport.summarize(runs_of(folder))}
            for r in self.rows:
                self.assertEqual(r[side], str(loadreport.plain(
                    rows[loadreport.point_key(r)][r["figure"]])))

    def test_markdown(self):
        with open(os.path.join(self.out, "compare.md")) as f:
            md = f.read()
        self.assertIn("| evecho | 64 B | 10 | msgs/s | 75.1k | 90.4k | "
                      "+20.4% (better) |", md)
        self.assertIn("| evecho | 64 B | 10 | CPU µs/msg | 6.92 | 9.37 | "
                      "+35.4% (worse) |", md)
        self.assertIn("- Matrix: smoke (6 points)", md)
        self.assertIn("- Old: `%s`, 2026-12-02 14:04" % RUN_A, md)

    def test_html_cells_are_compare_csv(self):
        with open(os.path.join(self.out, "report.html")) as f:
            page = f.read()
        trs = re.findall(r'<tr[^>]*data-key="([^"]+)" data-figure="([^"]+)"'
                         r'>(.*?)</tr>', page)
        self.assertEqual(len(trs), len(self.rows))
        for key, figure, tr in trs:
            r = self.row(key, figure)
            cells = dict(re.findall(r'data-cell="([^"]+)">([^<]*)<', tr))
            self.assertEqual(cells["old"], r["old"])
            self.assertEqual(cells["new"], r["new"])
            self.assertEqual(cells["change_pct"], "%+.1f%%" % float(
                r["change_pct"]) if r["change_pct"] else "–")
        self.assertIn("Plots unavailable", page)

    def test_a_point_in_one_run_only(self):
        old = loadreport.summarize(runs_of(RUN_A))
        new = [r for r in loadreport.summarize(runs_of(RUN_B))
               if r["test"] != "hold"]
        rows = loadreport.compare_rows(old, new)
        hold = [r for r in rows if r["test"] == "hold"]
        self.assertEqual([(r["server"], r["only"], r["new"]) for r in hold],
                         [("evecho", "old", None), ("yardstick", "old", None)])
        self.assertIn("only in old", loadreport.compare_markdown(rows, []))

    def test_a_run_against_itself_changes_nothing(self):
        rows = loadreport.summarize(runs_of(RUN_A))
        changes = {r["change_pct"]
                   for r in loadreport.compare_rows(rows, rows)}
        # The yardstick's 0 B/conn has no change in percent.
        self.assertEqual(changes, {0.0, None})

    def test_missing_runs(self):
        with self.assertRaises(loadreport.ReportError):
            loadreport.write_compare(RUN_A, HERE, self.out + "2")

    @unittest.skipUnless(GNUPLOT, "no gnuplot")
    def test_plots_draw_both_runs(self):
        out = self.out + "-plots"
        made = loadreport.write_compare(RUN_A, RUN_B, out, GNUPLOT)
        self.assertEqual(made[3:], ["throughput.png", "latency.png",
                                    "cpu.png"])
        with open(os.path.join(out, "throughput.gp")) as f:
            gp = f.read()
        for title in ("evecho old", "evecho new", "yardstick old",
                      "yardstick new"):
            self.assertIn("title '%s, 64 B'" % title, gp)


class Command(Folder):
    def test_report_command(self):
        folder = self.copy(RUN_A)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = loadreport.main(["report", folder, "--gnuplot",
                                      "/bin/false"])
        self.assertEqual(status, 0)
        self.assertIn("report.html", out.getvalue())
        self.assertIn("loadreport: Plot unavailable: gnuplot cpu.gp failed",
                      err.getvalue())

    def test_no_runs(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = loadreport.main(["report", HERE])
        self.assertEqual(status, 1)
        self.assertIn("no runs.jsonl in", err.getvalue())


if __name__ == "__main__":
    unittest.main()
