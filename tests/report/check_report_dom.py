#!/usr/bin/env python3
"""check_report_dom.py: open a report.html in headless Chromium, network
off, and check what the browser made of it.

  check_report_dom.py CHROMIUM report.html --results results.csv --plots N
  check_report_dom.py CHROMIUM report.html --compare compare.csv --plots N

The page's own small script writes each <img>'s naturalWidth into the DOM
once it has loaded; Chromium's --dump-dom prints that DOM.  Checks: the
script ran, there are N plots and every one decoded (naturalWidth > 0,
and every pixel drawn),
nothing points outside the page, and each table cell named after a CSV
column holds that CSV's figure (each ratio, the ratio of two).  Prints a
line per check and exits 1 if any failed, 2 if the browser did not run.
"""

import argparse
import csv
import html.parser
import os
import shutil
import signal
import subprocess
import sys
import tempfile

KEYS = ["server", "test", "mode", "size", "conns", "depth"]
NONE = "–"  # how the report shows a figure it has not


def browser_argv(chromium, profile, url):
    """Chromium, headless, with nothing to reach but the file."""
    return [
        chromium, "--headless",
        # Root cannot have the sandbox, and containers often cannot either;
        # the page is our own and the network is off.
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-default-apps",
        "--disable-quic", "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--user-data-dir=" + profile, "--virtual-time-budget=5000",
        "--dump-dom", url,
    ]


def dump_dom(chromium, page, timeout):
    """The DOM of page after its scripts ran, from a fresh profile.

    Chromium runs in a session of its own, so that it and every helper
    process it forks are stopped by its pid's group, however it ends.
    """
    profile = tempfile.mkdtemp(prefix="check-report-chromium.")
    url = "file://" + os.path.abspath(page)
    proc = subprocess.Popen(browser_argv(chromium, profile, url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = b"", b"timed out after %ds" % timeout
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    if "<html" not in out.decode(errors="replace"):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
        return None
    return out.decode(errors="replace")


class Dom(html.parser.HTMLParser):
    """What the checks need from a dumped DOM."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = {}
        self.images = []     # attributes of each <img>
        self.links = []      # every src and href
        self.rows = []       # (tr attributes, [(td attributes, text)])
        self.td = None
        self.has_unavailable = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("src", "href"):
            if name in a:
                self.links.append(a[name])
        if tag == "html":
            self.root = a
        elif tag == "img":
            self.images.append(a)
        elif tag == "tr":
            self.rows.append((a, []))
        elif tag == "td" and self.rows:
            self.td = (a, [])
        elif tag == "p" and "unavailable" in a.get("class", ""):
            self.has_unavailable = True

    def handle_data(self, data):
        if self.td is not None:
            self.td[1].append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self.td is not None:
            self.rows[-1][1].append((self.td[0], "".join(self.td[1])))
            self.td = None


class Checks:
    """ok/FAIL lines, counted."""

    def __init__(self):
        self.failed = 0

    def __call__(self, ok, name):
        print("%s - %s" % ("ok" if ok else "FAIL", name))
        self.failed += not ok
        return ok


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def key_of(row):
    return ",".join(row[k] for k in KEYS)


def same_figure(text, want):
    """A cell's text against a CSV cell: equal, or both empty."""
    return text == (want if want != "" else NONE)


def check_plots(dom, plots, check):
    """The script ran, N plots, each decoded; nothing outside the page."""
    check(dom.root.get("data-checked") == str(len(dom.images)),
          "the page's script recorded %s image(s)" %
          dom.root.get("data-checked"))
    check(len(dom.images) == plots, "%d plot(s), %d wanted" %
          (len(dom.images), plots))
    for img in dom.images:
        width = img.get("data-natural-width", "0")
        # A damaged PNG decodes in part, its other pixels transparent;
        # gnuplot's are opaque throughout.
        drawn = float(img.get("data-opaque", "0"))
        check(img.get("src", "").startswith("data:image/png;base64,") and
              width.isdigit() and int(width) > 0 and drawn == 1,
              "%s decoded, %s px wide, %.2f%% drawn"
              % (img.get("alt"), width, 100 * drawn))
    if plots == 0:
        check(dom.has_unavailable, "the page says the plots are unavailable")
    outside = [u for u in dom.links
               if not u.startswith("data:") and not u.startswith("#")]
    check(not outside, "nothing outside the page%s" %
          (": " + " ".join(outside[:3]) if outside else ""))


def check_results(dom, results, check):
    """Each data-col cell is results.csv's figure; ratios divide two."""
    by_key = {key_of(r): r for r in results}
    cells = wrong = 0
    seen = set()
    for tr, tds in dom.rows:
        key = tr.get("data-key")
        if key is None:
            continue
        seen.add(key)
        for td, text in tds:
            col = td.get("data-col")
            if col is None:
                continue
            cells += 1
            want = by_key.get(key, {}).get(col)
            if want is None or not same_figure(text, want):
                wrong += 1
                check(False, "%s %s: page %r, results.csv %r" %
                      (key, col, text, want))
    check(cells > 0 and wrong == 0,
          "%d table cells equal results.csv" % (cells - wrong))
    check(seen == set(by_key), "every results.csv row is on the page "
          "(%d of %d)" % (len(seen & set(by_key)), len(by_key)))
    check_ratios(dom, by_key, check)


def check_ratios(dom, by_key, check):
    """Each data-ratio cell is base ÷ other of results.csv, to 2 places
    (the CSV's own rounding to 4 figures allowed for)."""
    count = wrong = 0
    for tr, tds in dom.rows:
        base, other = tr.get("data-base"), tr.get("data-other")
        if base is None:
            continue
        for td, text in tds:
            col = td.get("data-ratio")
            if col is None:
                continue
            count += 1
            a = by_key.get(base, {}).get(col, "")
            b = by_key.get(other, {}).get(col, "")
            if a == "" or b == "" or float(b) == 0:
                ok = text == NONE
            else:
                want = float(a) / float(b)
                ok = text.endswith("×") and \
                    abs(float(text[:-1]) - want) <= 0.005 + 0.002 * want
            if not ok:
                wrong += 1
                check(False, "%s ÷ %s %s: page %r, results.csv %s / %s" %
                      (base, other, col, text, a, b))
    check(wrong == 0, "%d ratio cells agree with results.csv" % count)


def change_text(csv_value):
    """How the page shows a compare.csv change."""
    return NONE if csv_value == "" else "%+.1f%%" % float(csv_value)


def check_compare(dom, rows, check):
    """Each old, new and change cell is compare.csv's."""
    by_key = {(key_of(r), r["figure"]): r for r in rows}
    cells = wrong = 0
    seen = set()
    for tr, tds in dom.rows:
        key = (tr.get("data-key"), tr.get("data-figure"))
        if key[1] is None:
            continue
        seen.add(key)
        want = by_key.get(key, {})
        for td, text in tds:
            side = td.get("data-cell")
            if side is None:
                continue
            cells += 1
            if side == "change_pct":
                ok = text == change_text(want.get(side, "")) or \
                    (text.startswith("only in ") and want.get(side) == "")
            else:
                ok = side in want and same_figure(text, want[side])
            if not ok:
                wrong += 1
                check(False, "%s %s %s: page %r, compare.csv %r" %
                      (key[0], key[1], side, text, want.get(side)))
    check(cells > 0 and wrong == 0,
          "%d table cells equal compare.csv" % (cells - wrong))
    check(seen == set(by_key), "every compare.csv row is on the page "
          "(%d of %d)" % (len(seen & set(by_key)), len(by_key)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("chromium")
    p.add_argument("page")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--results")
    which.add_argument("--compare")
    p.add_argument("--plots", type=int, required=True)
    p.add_argument("--timeout", type=int, default=60)
    args = p.parse_args()

    text = dump_dom(args.chromium, args.page, args.timeout)
    if text is None:
        print("FAIL - %s gave no DOM for %s" % (args.chromium, args.page))
        return 2
    dom = Dom()
    dom.feed(text)
    check = Checks()
    check_plots(dom, args.plots, check)
    if args.results:
        check_results(dom, read_csv(args.results), check)
    else:
        check_compare(dom, read_csv(args.compare), check)
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
