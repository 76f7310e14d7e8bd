"""Unit tests of scripts/load.py's parts that start nothing: the command
line, the matrices, how load is split over processes and CPUs; and that
load.sh --compare starts nothing.  (What a run starts, tests/test-load.sh
runs for real.)"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import load

HERE = os.path.dirname(os.path.abspath(__file__))
LOAD_SH = os.path.join(HERE, "..", "..", "scripts", "load.sh")


def parse(*argv):
    return load.parse_options(list(argv))


class CommandLine(unittest.TestCase):
    def assertUsage(self, argv, message):
        with self.assertRaises(load.Usage) as e:
            parse(*argv)
        self.assertEqual(str(e.exception), message)

    def test_matrix_defaults(self):
        o = parse()
        self.assertEqual((o.matrix, o.repeat, o.duration, o.warmup),
                         ("full", 5, "3s", "1000ms"))
        o = parse("--quick")
        self.assertEqual((o.matrix, o.repeat, o.duration, o.warmup),
                         ("quick", 5, "1s", "333ms"))
        o = parse("--matrix", "smoke")
        self.assertEqual((o.matrix, o.repeat, o.duration, o.warmup),
                         ("smoke", 1, "0.3s", "100ms"))

    def test_values_either_way(self):
        o = parse("--duration=500ms", "--repeat", "3", "--warmup", "0")
        self.assertEqual((o.duration, o.repeat, o.warmup),
                         ("500ms", 3, "0s"))
        self.assertEqual(parse("--duration", "2").warmup, "667ms")

    def test_quick_does_not_override_matrix(self):
        self.assertEqual(parse("--matrix", "smoke", "--quick").matrix,
                         "smoke")
        self.assertEqual(parse("--quick", "--matrix", "smoke").matrix,
                         "smoke")

    def test_repeatable(self):
        o = parse("--vs", "a=x {port}", "--vs", "a=y", "--source",
                  "127.0.0.2", "--source", "127.0.0.3")
        self.assertEqual(o.source, ["127.0.0.2", "127.0.0.3"])
        servers = load.make_servers(o)
        self.assertEqual([(s.name, s.kind, s.cmd) for s in servers],
                         [("evecho", "evecho",
                           "./src/evecho-server -q -l 127.0.0.1:0"),
                          ("a", "vs", "x {port}"), ("a-2", "vs", "y")])
        self.assertEqual(servers[0].udp_cmd,
                         "./src/evecho-server -q -u 127.0.0.1:0")
        o = parse("--vs", "/usr/bin/socat TCP-LISTEN:{port} EXEC:cat",
                  "--target", "[::1]:7")
        self.assertEqual([s.name for s in load.make_servers(o)],
                         ["target", "socat"])

    def test_vs_udp(self):
        # Paired by name (the command's base name without one); a name no
        # --vs has is a server of the UDP points only.
        o = parse("--vs", "/b/yard 127.0.0.1:{port}", "--vs", "s=socat",
                  "--vs-udp", "/b/yard -u 127.0.0.1:{port}",
                  "--vs-udp", "u=udp-only {port}")
        servers = load.make_servers(o)
        self.assertEqual([(s.name, s.cmd, s.udp_cmd) for s in servers], [
            ("evecho", "./src/evecho-server -q -l 127.0.0.1:0",
             "./src/evecho-server -q -u 127.0.0.1:0"),
            ("yard", "/b/yard 127.0.0.1:{port}",
             "/b/yard -u 127.0.0.1:{port}"),
            ("s", "socat", None), ("u", None, "udp-only {port}")])
        tcp, udp = load.matrix_points("smoke")[0], \
            load.matrix_points("smoke")[-1]
        self.assertEqual([(s.serves(tcp), s.serves(udp)) for s in servers],
                         [(True, True), (True, True), (True, False),
                          (False, True)])
        # A --target has no UDP form; a --vs-udp of its name is another.
        servers = load.make_servers(parse("--target", "127.0.0.1:7",
                                          "--vs-udp", "target=x"))
        self.assertEqual([(s.name, s.kind, s.udp_cmd) for s in servers],
                         [("target", "target", None),
                          ("target-2", "vs", "x")])
        self.assertUsage(["--vs-udp="], "--vs-udp wants a command")

    def test_bad_values(self):
        self.assertUsage(["--bogus"], "unknown option --bogus")
        self.assertUsage(["--repeat"], "--repeat needs a value")
        self.assertUsage(["--repeat", "0"], "--repeat wants 1 to 999, not '0'")
        self.assertUsage(["--no-pin=1"], "--no-pin takes no value")
        self.assertUsage(["--duration", "0s"],
                         "--duration wants 3s, 0.5s or 500ms, not '0s'")
        self.assertUsage(["--target", "localhost"],
                         "--target wants HOST:PORT, not 'localhost'")
        self.assertUsage(["--matrix", "big"],
                         "--matrix is full, quick, smoke or udp, not 'big'")
        self.assertUsage(["--per-process", "x"],
                         "--per-process wants a count of connections, "
                         "not 'x'")

    def test_help_stops_at_once(self):
        self.assertTrue(parse("--help", "--bogus").help)
        self.assertUsage(["--bogus", "-h"], "unknown option --bogus")

    def test_compare(self):
        o = parse("--compare", "old", "new", "--out", "cmp")
        self.assertEqual((o.compare, o.out), (("old", "new"), "cmp"))
        self.assertEqual(parse("--compare=old", "new").compare,
                         ("old", "new"))
        self.assertUsage(["--compare", "old"],
                         "--compare needs two results folders")
        self.assertUsage(["--compare", "a", "b", "--quick", "--vs", "x"],
                         "--compare runs nothing: --quick --vs does not go "
                         "with it")


class Matrix(unittest.TestCase):
    def test_sizes(self):
        # As --help lists them.
        self.assertEqual(len(load.matrix_points("full")), 25)
        self.assertEqual(len(load.matrix_points("quick")), 16)
        self.assertEqual([(p.test, p.size, p.conns, p.depth)
                          for p in load.matrix_points("smoke")],
                         [("pingpong", 64, 1, 1), ("pingpong", 64, 10, 1),
                          ("pipelined", 64, 10, 4), ("stream", 4096, 1, 1),
                          ("connect", 64, 1, 1), ("hold", 64, 10, 1),
                          ("udp", 64, 10, 1)])
        # The point, in the default matrix and the quick one, last
        # so that servers switch to UDP once.
        for matrix in ("full", "quick"):
            last = load.matrix_points(matrix)[-1]
            self.assertEqual((last.test, last.mode, last.size, last.conns,
                              last.depth, last.udp),
                             ("udp", "pingpong", 64, 100, 1, True))
            self.assertEqual(sum(p.udp for p in load.matrix_points(matrix)),
                             1)

    def test_split_connections(self):
        self.assertEqual(load.split_connections(10, 6), [5, 5])
        self.assertEqual(load.split_connections(7, 3), [2, 2, 3])
        self.assertEqual(load.split_connections(10000, 19900), [10000])

    def test_time_limit(self):
        # 0.3 + 0.1 + 20 + 10/500, rounded up.
        self.assertEqual(load.time_limit(0.3, 0.1, 10), 21)
        self.assertEqual(load.time_limit(3, 1, 10000), 44)

    def test_size_arg(self):
        self.assertEqual([load.size_arg(s) for s in (64, 4096, 16384, 1000)],
                         ["64", "4k", "16k", "1000"])


class Cpus(unittest.TestCase):
    def test_four_cpus(self):
        p = load.plan_pinning(True, 4, True, None)
        self.assertEqual((p.server, p.load, p.threads, p.load_cpus),
                         (["taskset", "-c", "0"], ["taskset", "-c", "1-3"], 3,
                          {1, 2, 3}))
        self.assertEqual(p.short, "server CPU 0, load CPU 1-3")

    def test_two_cpus(self):
        p = load.plan_pinning(True, 2, True, "127.0.0.1:7")
        self.assertEqual((p.load, p.threads), (["taskset", "-c", "1"], 1))
        self.assertIn("not the --target", p.text)

    def test_unpinned(self):
        for p, text in ((load.plan_pinning(True, 1, True, None),
                         "none: 1 CPU(s) or no taskset; server and load "
                         "share CPUs"),
                        (load.plan_pinning(True, 4, False, None),
                         "none: 4 CPU(s) or no taskset; server and load "
                         "share CPUs"),
                        (load.plan_pinning(False, 4, True, None),
                         "none (--no-pin)")):
            self.assertEqual((p.server, p.load, p.threads, p.text),
                             ([], [], 1, text))

    def test_benchmark_commands(self):
        o = parse("--matrix", "smoke", "--benchmark", "bench")
        p = load.plan_pinning(True, 4, True, None)
        server = load.Server("evecho", "evecho", "")
        server.port = 9
        one, ten, hold = (load.Point("pingpong", "pingpong", 64, 1),
                          load.Point("pingpong", "pingpong", 64, 10),
                          load.Point("hold", "hold", 64, 10))
        # The benchmark refuses more threads than connections.
        self.assertEqual(load.benchmark_commands(o, p, one, server, 6), [
            ["taskset", "-c", "1-3", "bench", "-q", "--json", "--mode",
             "pingpong", "-c", "1", "-s", "64", "-d", "1", "-t", "0.3s",
             "-w", "100ms", "-T", "1", "127.0.0.1:9"]])
        cmds = load.benchmark_commands(o, p, ten, server, 6)
        self.assertEqual([c[c.index("-c", 3) + 1] for c in cmds], ["5", "5"])
        self.assertEqual([c[c.index("-T") + 1] for c in cmds], ["3", "3"])
        # Hold has no warm-up, and no depth.
        cmd = load.benchmark_commands(o, p, hold, server, 100)[0]
        self.assertNotIn("-w", cmd)
        self.assertNotIn("-d", cmd)
        self.assertNotIn("--udp", cmd)
        # UDP: ping-pong with --udp, its flows split as connections are.
        udp = load.Point("udp", "pingpong", 64, 10)
        server.udp, server.port = True, 11
        cmds = load.benchmark_commands(o, p, udp, server, 6)
        self.assertEqual(cmds[0], [
            "taskset", "-c", "1-3", "bench", "-q", "--json", "--udp",
            "--mode", "pingpong", "-c", "5", "-s", "64", "-d", "1", "-t",
            "0.3s", "-w", "100ms", "-T", "3", "127.0.0.1:11"])
        self.assertEqual(len(cmds), 2)


class CompareStartsNothing(unittest.TestCase):
    """load.sh --compare with every program it could start replaced by one
    that leaves a mark."""

    def test_compare(self):
        tmp = tempfile.mkdtemp(prefix="load-test.")
        self.addCleanup(shutil.rmtree, tmp)
        bin_dir, mark = os.path.join(tmp, "bin"), os.path.join(tmp, "mark")
        os.mkdir(bin_dir)
        for name in ("evecho-server", "evecho-benchmark", "taskset",
                     "getconf", "socat"):
            path = os.path.join(bin_dir, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\necho \"$0 $*\" >>'%s'\n" % mark)
            os.chmod(path, 0o755)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"],
                   PYTHON3=sys.executable,
                   EVECHO_SERVER=os.path.join(bin_dir, "evecho-server"),
                   EVECHO_BENCHMARK=os.path.join(bin_dir, "evecho-benchmark"))
        out = os.path.join(tmp, "cmp")
        # sh, as make runs it.
        p = subprocess.run(["sh", LOAD_SH, "--compare",
                            os.path.join(HERE, "run-a"),
                            os.path.join(HERE, "run-b"), "--out", out],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertTrue(p.stdout.decode().startswith("wrote %s (" % out))
        for name in ("report.html", "compare.csv", "compare.md"):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        self.assertFalse(os.path.exists(mark), "started something")

    def test_missing_folder(self):
        p = subprocess.run(["sh", LOAD_SH, "--compare", HERE, HERE],
                           env=dict(os.environ, PYTHON3=sys.executable),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().strip(),
                         "load.sh: no runs.jsonl in %s" % HERE)


if __name__ == "__main__":
    unittest.main()
