/*
 * check_benchmark.c: evecho-benchmark end to end, against the real
 * evecho-server and against bad-echo, a server that goes wrong on
 * purpose (over TCP, and over UDP with -u).  Every run is short (well under a second of load, -c small),
 * every wait has a deadline and every process is stopped by PID.  These
 * tests check counts and exit statuses, never speed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define T_MS	15000	/* the most one benchmark run may take */

static struct harness_proc	srv;
static char			target[80];

/* Start evecho-server on 127.0.0.1:0 and remember its address. */
static void
start_server(void)
{
	ck_assert_msg(harness_server_start(&srv, NULL) == 0,
	    "evecho-server did not become ready");
	snprintf(target, sizeof target, "%s", srv.addrs[0]);
}

/* Start bad-echo going wrong in mode at byte n; its address in target. */
static void
start_corrupt(const char *mode, uint64_t n)
{
	ck_assert_msg(harness_bad_echo_start(&srv, mode, n) == 0,
	    "bad-echo did not start: %s", harness_stderr(&srv, 0));
	snprintf(target, sizeof target, "%s", srv.addrs[0]);
}

/* Stop whichever server the test started. */
static void
stop_server(void)
{
	harness_stop(&srv, SIGTERM, T_MS);
}

/*
 * Start evecho-benchmark with args (NULL-terminated; the target is added
 * last unless notarget) as p.
 */
static void
spawn_bench(struct harness_proc *p, int notarget, const char *const args[])
{
	const char	*argv[HARNESS_MAX_ARGS + 3];
	int		 i = 0;

	argv[i++] = harness_program("evecho-benchmark");
	for (; *args != NULL && i < HARNESS_MAX_ARGS; args++)
		argv[i++] = *args;
	if (!notarget)
		argv[i++] = target;
	argv[i] = NULL;
	ck_assert_int_eq(harness_spawn(p, argv), 0);
}

/*
 * Collect the standard output of the benchmark p in out, wait for it
 * until started_ms + T_MS and return its exit status.
 */
static int
collect_bench(struct harness_proc *p, int64_t started_ms, char *out,
    size_t size)
{
	struct pollfd	 pfd;
	int64_t		 deadline = started_ms + T_MS;
	size_t		 have = 0;
	ssize_t		 n;
	int		 rc;
	char		 err[4096];

	pfd.fd = p->out_fd;
	pfd.events = POLLIN;
	for (;;) {
		int left = (int)(deadline - harness_now_ms());

		if (left <= 0 || poll(&pfd, 1, left) != 1)
			break;
		n = read(p->out_fd, out + have, size - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		if (have == size - 1)
			break;
	}
	out[have] = '\0';
	rc = harness_wait(p, (int)(deadline - harness_now_ms() > 0 ?
	    deadline - harness_now_ms() : 1));
	snprintf(err, sizeof err, "%s", harness_stderr(p, 100));
	if (rc == -2)
		rc = harness_stop(p, SIGKILL, 1000);
	else
		harness_stop(p, SIGKILL, 1000);	/* closes the pipes */
	/* Shown when a test fails: what the benchmark said. */
	fprintf(stderr, "benchmark exit %d\nstdout: %sstderr: %s\n", rc, out,
	    err);
	return (rc);
}

/* Run evecho-benchmark to its end (see spawn_bench); its exit status. */
static int
run_bench(char *out, size_t size, int notarget, const char *const args[])
{
	struct harness_proc	p;
	int64_t			started = harness_now_ms();

	spawn_bench(&p, notarget, args);
	return (collect_bench(&p, started, out, size));
}

/* The number after "key": in a JSON line; fails the test if absent. */
static double
json_num(const char *json, const char *key)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(json, pat);
	ck_assert_msg(p != NULL, "no %s in %s", key, json);
	return (strtod(p + strlen(pat), NULL));
}

/* The number after "key": inside the object "obj":{...} of a JSON line. */
static double
json_sub_num(const char *json, const char *obj, const char *key)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":{", obj);
	p = strstr(json, pat);
	ck_assert_msg(p != NULL, "no %s in %s", obj, json);
	return (json_num(p + strlen(pat) - 1, key));
}

/* A clean result: exit 0, no errors, no mismatches, some messages. */
static void
assert_clean(int rc, const char *out)
{
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "\"mismatches\":0,"));
	ck_assert_ptr_nonnull(strstr(out, "\"errors\":0,"));
	ck_assert(json_num(out, "messages") > 0);
	ck_assert(json_num(out, "seconds") > 0);
	ck_assert(json_num(out, "msgs_per_sec") > 0);
	/* One line. */
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
}

START_TEST(test_pingpong)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "4", "-t", "0.5",
			    "-w", "0.1", NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	assert_clean(rc, out);
	ck_assert_ptr_nonnull(strstr(out, "\"mode\":\"pingpong\""));
	ck_assert(json_num(out, "connections") == 4);
	ck_assert(json_num(out, "bytes") == json_num(out, "messages") * 64);
	ck_assert(json_num(out, "p50") > 0);
	ck_assert(json_num(out, "p99") >= json_num(out, "p50"));
	ck_assert(json_num(out, "max") >= json_num(out, "p999"));
	ck_assert(json_num(out, "conns_per_sec") == 0);
	ck_assert(json_num(out, "held") == 0);
}
END_TEST

/* -n gives exactly n messages, over depth, threads and odd sizes. */
START_TEST(test_count)
{
	static char	out[65536];
	const char	*a1[] = { "-q", "--json", "-c", "3", "-d", "4",
			    "-n", "1001", NULL };
	const char	*a2[] = { "-q", "--json", "-c", "5", "-T", "2",
			    "-s", "70000", "-n", "37", NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, a1);
	assert_clean(rc, out);
	ck_assert(json_num(out, "messages") == 1001);
	ck_assert(json_num(out, "depth") == 4);
	rc = run_bench(out, sizeof out, 0, a2);
	stop_server();
	assert_clean(rc, out);
	ck_assert(json_num(out, "messages") == 37);
	ck_assert(json_num(out, "bytes") == 37 * 70000.0);
	ck_assert(json_num(out, "threads") == 2);
	ck_assert(json_num(out, "samples") == 37);
}
END_TEST

START_TEST(test_stream)
{
	static char	out[65536];
	const char	*a1[] = { "-q", "--json", "--mode", "stream", "-c", "2",
			    "-s", "1k", "--window", "64k", "-t", "0.5", "-w",
			    "0.1", NULL };
	const char	*a2[] = { "-q", "--json", "--mode", "stream", "-c", "3",
			    "-n", "5000", NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, a1);
	assert_clean(rc, out);
	ck_assert_ptr_nonnull(strstr(out, "\"mode\":\"stream\""));
	ck_assert(json_num(out, "window") == 65536);
	ck_assert(json_num(out, "mb_per_sec") > 0);
	rc = run_bench(out, sizeof out, 0, a2);
	stop_server();
	assert_clean(rc, out);
	ck_assert(json_num(out, "messages") == 5000);
}
END_TEST

START_TEST(test_connect)
{
	static char	out[65536];
	const char	*a1[] = { "-q", "--json", "--mode", "connect", "-c", "2",
			    "-t", "0.5", "-w", "0.1", NULL };
	const char	*a2[] = { "-q", "--json", "--mode", "connect", "-c", "3",
			    "-n", "50", NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, a1);
	assert_clean(rc, out);
	ck_assert(json_num(out, "conns_per_sec") > 0);
	ck_assert(json_num(out, "conns_per_sec") ==
	    json_num(out, "msgs_per_sec"));
	/* Every connect's handshake, warm-up included. */
	ck_assert(json_sub_num(out, "connect_latency_us", "samples") >=
	    json_num(out, "messages"));
	ck_assert(json_sub_num(out, "connect_latency_us", "p50") > 0);
	rc = run_bench(out, sizeof out, 0, a2);
	stop_server();
	assert_clean(rc, out);
	ck_assert(json_num(out, "messages") == 50);
	ck_assert(json_sub_num(out, "connect_latency_us", "samples") == 50);
}
END_TEST

START_TEST(test_hold)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "--mode", "hold", "-c", "40",
			    "-T", "2", "-t", "0.5", NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	assert_clean(rc, out);
	ck_assert(json_num(out, "held") == 40);
	ck_assert(json_num(out, "messages") == 40);
	ck_assert(json_sub_num(out, "connect_latency_us", "samples") == 40);
	ck_assert(json_num(out, "seconds") >= 0.5);
}
END_TEST

/* Open loop: never more than the schedule allows. */
START_TEST(test_rate)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "2", "--rate", "2000",
			    "-t", "0.5", "-w", "0.1", NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	assert_clean(rc, out);
	ck_assert(json_num(out, "rate") == 2000);
	/*
	 * 1,000 were due in the measured 0.5 s; those due in the 0.1 s
	 * warm-up but echoed late (a loaded CI machine stalls the server for
	 * tens of milliseconds) are counted too.  A closed loop would reach
	 * tens of thousands.
	 */
	ck_assert(json_num(out, "messages") <= 1200 + 2);
	/* Computed, and near 1; a loaded machine may stall the end. */
	ck_assert(json_num(out, "rate_reached") >= 0.5);
}
END_TEST

/* A rate out of reach is said so, on stderr and in the JSON; 2k is 2000. */
START_TEST(test_rate_unreached)
{
	static char		 out[65536];
	const char		*args[] = { "-q", "--json", "-c", "1", "--rate",
				    "10m", "-t", "0.3", "-w", "0", NULL };
	/* A warm-up makes up for what is late at the end. */
	const char		*slow[] = { "-q", "--json", "-c", "1", "--rate",
				    "0.2k", "-t", "1", "-w", "0.3", NULL };
	struct harness_proc	 p;
	int64_t			 started = harness_now_ms();
	int			 rc;

	start_server();
	spawn_bench(&p, 0, args);
	rc = collect_bench(&p, started, out, sizeof out);
	ck_assert_int_eq(rc, 0);		/* slow is not wrong */
	ck_assert(json_num(out, "rate") == 10000000);
	ck_assert(json_num(out, "rate_reached") < 0.95);
	ck_assert_ptr_nonnull(strstr(p.err, "--rate 10000000 not reached: "));
	/* Reached: no warning. */
	started = harness_now_ms();
	spawn_bench(&p, 0, slow);
	rc = collect_bench(&p, started, out, sizeof out);
	stop_server();
	ck_assert_int_eq(rc, 0);
	ck_assert(json_num(out, "rate") == 200);
	ck_assert_ptr_null(strstr(p.err, "not reached"));
}
END_TEST

/*
 * Sending waits for every connection.  The test is the server: it listens
 * with a backlog of 1, so the kernel completes two handshakes and drops
 * the other two SYNs, which the client's kernel resends after a second.
 * Until then the two open connections must stay silent; then all four are
 * echoed, and the run is clean.
 */
START_TEST(test_connect_phase)
{
	static char		 out[65536];
	static unsigned char	 buf[65536];
	const char		*args[] = { "-q", "--json", "-c", "4", "-n", "40",
				    NULL };
	struct harness_proc	 p;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	struct pollfd		 pfd[4];
	int64_t			 started, deadline;
	int			 lfd, fd, fds[4], nfd = 0, open = 0, i, rc;
	ssize_t			 n;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	snprintf(target, sizeof target, "127.0.0.1:%d", ntohs(sin.sin_port));

	started = harness_now_ms();
	spawn_bench(&p, 0, args);
	usleep(300000);
	/*
	 * What the kernel queued: the benchmark's probe connection (it
	 * closes at once) and the one handshake after it.  The rest wait.
	 */
	ck_assert_int_eq(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	while (nfd < 4 && (fd = accept(lfd, NULL, NULL)) != -1) {
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		if (poll(pfd, 1, 500) == 1) {
			n = read(fd, buf, sizeof buf);
			ck_assert_msg(n == 0, "the benchmark sent before every "
			    "connection was open");
			close(fd);		/* the probe */
			continue;
		}
		fds[nfd++] = fd;
	}
	ck_assert_msg(nfd > 0 && nfd < 4, "%d connections were queued at "
	    "once: the kernel did not hold the others back", nfd);
	ck_assert_int_eq(fcntl(lfd, F_SETFL, 0), 0);
	for (; nfd < 4; nfd++) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		ck_assert_int_eq(poll(pfd, 1, T_MS), 1);
		ck_assert_int_ge(fds[nfd] = accept(lfd, NULL, NULL), 0);
	}
	/* Echo all four until each closes. */
	open = 4;
	deadline = started + T_MS;
	while (open > 0 && harness_now_ms() < deadline) {
		for (i = 0; i < 4; i++) {
			pfd[i].fd = fds[i];
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, 4, 1000) <= 0)
			continue;
		for (i = 0; i < 4; i++) {
			if (fds[i] == -1 || !(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(fds[i], buf, sizeof buf);
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open--;
				continue;
			}
			ck_assert_int_eq(harness_send_all(fds[i], buf, (size_t)n,
			    T_MS), 0);
		}
	}
	for (i = 0; i < 4; i++) {
		if (fds[i] != -1)
			close(fds[i]);
	}
	close(lfd);
	rc = collect_bench(&p, started, out, sizeof out);
	assert_clean(rc, out);
	ck_assert(json_num(out, "connections_open") == 4);
	ck_assert(json_num(out, "messages") == 40);
}
END_TEST

/* --source binds connections to other loopback addresses. */
START_TEST(test_source)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "4", "-n", "400",
			    "--source", "127.0.0.2", "--source", "127.0.0.3",
			    NULL };
	int		rc;

	start_server();
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	assert_clean(rc, out);
	ck_assert(json_num(out, "messages") == 400);
}
END_TEST

/* A flipped byte is caught at its offset, and the run fails. */
START_TEST(test_corrupt_flip)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "2", "-s", "100",
			    "-t", "0.3", "-w", "0", NULL };
	int		rc;

	start_corrupt("flip", 1000);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert(json_num(out, "mismatches") == 2);	/* one per conn */
	ck_assert(json_num(out, "offset") == 1000);
	ck_assert_ptr_nonnull(strstr(out, "\"errors\":0,"));
}
END_TEST

/* Without --json too: the mismatch is reported and the status is 1. */
START_TEST(test_corrupt_human)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--mode", "stream", "-c", "1",
			    "-t", "0.3", "-w", "0", NULL };
	int		rc;

	start_corrupt("flip", 100000);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(out, "mismatches  1 messages, 1 bytes, "
	    "first on connection 0 at offset 100000"));
}
END_TEST

/* A server that closes mid-run (FIN): counted as closed; exit 1. */
START_TEST(test_closed)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "3", "-t", "0.3",
			    "-w", "0", NULL };
	int		rc;

	start_corrupt("close", 640);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert(json_num(out, "closed") == 3);
	ck_assert(json_num(out, "resets") == 0);
	ck_assert(json_num(out, "errors") == 3);
	ck_assert(json_num(out, "mismatches") == 0);
	/* Ten 64-byte messages each, then the close. */
	ck_assert(json_num(out, "messages") == 30);
}
END_TEST

/* A server that resets mid-run: counted as resets, apart from closes. */
START_TEST(test_reset)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "3", "-t", "0.3",
			    "-w", "0", NULL };
	int		rc;

	start_corrupt("reset", 640);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert(json_num(out, "resets") == 3);
	ck_assert(json_num(out, "closed") == 0);
	ck_assert(json_num(out, "errors") == 3);
}
END_TEST

/* --reconnect: each slot opens again after the close and goes on. */
START_TEST(test_reconnect)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "3", "-t", "0.5",
			    "-w", "0", "--reconnect", NULL };
	int		rc;

	start_corrupt("close", 640);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);		/* the closes are failures */
	ck_assert(json_num(out, "closed") >= 6);
	ck_assert(json_num(out, "reconnects") == json_num(out, "closed"));
	ck_assert(json_num(out, "messages") >= 60);
	ck_assert(json_num(out, "mismatches") == 0);
}
END_TEST

/*
 * Every byte from 1,000 on comes back wrong: the ten right messages per
 * connection are the messages, every later one a mismatch, and progress,
 * the result and the JSON agree that no connection failed.
 */
START_TEST(test_corrupt_counts)
{
	static char		 out[65536];
	const char		*args[] = { "--json", "-c", "2", "-s", "100",
				    "-t", "1.2", "-w", "0", NULL };
	struct harness_proc	 p;
	int64_t			 started = harness_now_ms();
	const char		*err, *last;
	int			 rc;

	start_corrupt("flipall", 1000);
	spawn_bench(&p, 0, args);
	rc = collect_bench(&p, started, out, sizeof out);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert(json_num(out, "messages") == 20);
	ck_assert(json_num(out, "samples") == 20);
	ck_assert(json_num(out, "errors") == 0);
	ck_assert(json_num(out, "mismatches") > 100);
	ck_assert(json_num(out, "mismatched_bytes") ==
	    100 * json_num(out, "mismatches"));
	err = p.err;
	ck_assert_msg((last = strstr(err, ", 0 errors, ")) != NULL,
	    "progress: %s", err);
	ck_assert_ptr_null(strstr(err, "errors, 0 mismatches"));
}
END_TEST

/* SIGTERM mid-run: the figures so far, marked interrupted; 128 + 15. */
START_TEST(test_interrupted)
{
	static char		 out[65536];
	const char		*args[] = { "-q", "--json", "-c", "2", "-t", "10",
				    "-w", "0", NULL };
	struct harness_proc	 p;
	int64_t			 started = harness_now_ms();
	int			 rc;

	start_server();
	spawn_bench(&p, 0, args);
	usleep(500000);
	kill(p.pid, SIGTERM);
	rc = collect_bench(&p, started, out, sizeof out);
	stop_server();
	ck_assert_int_eq(rc, 128 + SIGTERM);
	ck_assert_ptr_nonnull(strstr(out, "\"interrupted\":\"SIGTERM\","));
	ck_assert_ptr_nonnull(strstr(out, "\"ended_early\":null,"));
	ck_assert(json_num(out, "messages") > 0);
}
END_TEST

/* A target that resets every connection: the run that did not happen. */
START_TEST(test_ended_early)
{
	static char	out[65536];
	const char	*args[] = { "-q", "-c", "2", "-t", "5", NULL };
	const char	*count[] = { "-q", "--json", "-c", "2", "-n", "1000",
			    NULL };
	int		rc;

	start_corrupt("reset", 0);
	rc = run_bench(out, sizeof out, 0, args);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(strstr(out, "ended early: every connection failed ") !=
	    NULL && strstr(out, "before the measured time began") != NULL,
	    "%s", out);
	stop_server();

	/* With -n: it says how many of the count came back. */
	start_corrupt("close", 640);
	rc = run_bench(out, sizeof out, 0, count);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(out, "after 20 of 1000 messages\""));
	ck_assert(json_num(out, "messages") == 20);
}
END_TEST

/* Write text to a new temporary file; its path is in path. */
static void
write_temp(char *path, size_t size, const char *text)
{
	int	fd;

	snprintf(path, size, "/tmp/check_benchmark.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/*
 * --merge adds results up: counts summed, percentiles from the added
 * histograms (one file merged alone gives its own figures back), and a
 * file that is not a result, or of another mode, is a usage error.
 */
/*
 * --expect-greeting: each connection's first line is tallied (every
 * connection, in pingpong and connect mode), --merge adds tallies from
 * two servers, and a server that sends none times out as "no greeting".
 */
START_TEST(test_expect_greeting)
{
	static char		 a[65536], b[65536], m[65536];
	char			 pa[64], pb[64];
	const char		*ga[] = { "--greeting", "backend A", NULL };
	const char		*gb[] = { "--greeting", "backend \\\\B", NULL };
	const char		*ra[] = { "-q", "--json", "--expect-greeting",
				    "-c", "6", "-n", "600", NULL };
	const char		*rc[] = { "-q", "--json", "--expect-greeting",
				    "--mode", "connect", "-c", "3", "-n", "40",
				    NULL };
	const char		*two[] = { "--json", "--merge", pa, pb, NULL };
	const char		*none[] = { "-q", "--expect-greeting", "-c", "2",
				    "-n", "10", "--timeout", "0.5s", NULL };
	struct harness_proc	 other, p;
	int64_t			 started;

	ck_assert(harness_server_start(&srv, ga) == 0);
	snprintf(target, sizeof target, "%s", srv.addrs[0]);
	ck_assert_int_eq(run_bench(a, sizeof a, 0, ra), 0);
	ck_assert_msg(strstr(a, "\"greetings\":{\"backend A\":6},"
	    "\"greetings_other\":0") != NULL, "%s", a);
	ck_assert(json_num(a, "messages") == 600);
	ck_assert_int_eq(run_bench(m, sizeof m, 0, rc), 0);
	ck_assert_msg(strstr(m, "\"greetings\":{\"backend A\":40}") != NULL,
	    "%s", m);
	stop_server();

	ck_assert(harness_server_start(&other, gb) == 0);
	snprintf(target, sizeof target, "%s", other.addrs[0]);
	ck_assert_int_eq(run_bench(b, sizeof b, 0, ra), 0);
	ck_assert_msg(strstr(b, "\"greetings\":{\"backend \\\\B\":6}") !=
	    NULL, "%s", b);
	harness_stop(&other, SIGTERM, T_MS);
	write_temp(pa, sizeof pa, a);
	write_temp(pb, sizeof pb, b);
	ck_assert_int_eq(run_bench(m, sizeof m, 1, two), 0);
	ck_assert_msg(strstr(m, "\"greetings\":{\"backend A\":6,"
	    "\"backend \\\\B\":6}") != NULL, "%s", m);
	unlink(pa);
	unlink(pb);

	start_server();
	started = harness_now_ms();
	spawn_bench(&p, 0, none);
	ck_assert_int_ne(collect_bench(&p, started, m, sizeof m), 0);
	stop_server();
	ck_assert_msg(strstr(p.err, "no greeting") != NULL, "%s", p.err);
}
END_TEST

START_TEST(test_merge)
{
	static char	 a[65536], b[65536], m[65536], s[65536];
	char		 pa[64], pb[64], ps[64], pbad[64];
	const char	*ra[] = { "-q", "--json", "-c", "2", "-t", "0.3", "-w",
			    "0", NULL };
	const char	*rb[] = { "-q", "--json", "-c", "3", "-n", "3000", NULL };
	const char	*rs[] = { "-q", "--json", "--mode", "stream", "-c", "1",
			    "-t", "0.2", "-w", "0", NULL };
	const char	*two[] = { "--json", "--merge", pa, pb, NULL };
	const char	*one[] = { "--json", "--merge", pa, NULL };
	const char	*bad[] = { "--json", "--merge", pa, pbad, NULL };
	const char	*mixed[] = { "--json", "--merge", pa, ps, NULL };
	const char	*extra[] = { "--merge", "-c", "2", pa, NULL };
	const char	*keys[] = { "samples", "p50", "p90", "p99", "p999",
			    "min", "max", "mean", NULL };
	int		 i;

	start_server();
	ck_assert_int_eq(run_bench(a, sizeof a, 0, ra), 0);
	ck_assert_int_eq(run_bench(b, sizeof b, 0, rb), 0);
	ck_assert_int_eq(run_bench(s, sizeof s, 0, rs), 0);
	stop_server();
	write_temp(pa, sizeof pa, a);
	write_temp(pb, sizeof pb, b);
	write_temp(ps, sizeof ps, s);
	write_temp(pbad, sizeof pbad, "{\"mode\":\"pingpong\"}\nnot json\n");

	ck_assert_int_eq(run_bench(m, sizeof m, 1, two), 0);
	ck_assert(json_num(m, "connections") == 5);
	ck_assert(json_num(m, "messages") ==
	    json_num(a, "messages") + json_num(b, "messages"));
	ck_assert(json_num(m, "samples") ==
	    json_num(a, "samples") + json_num(b, "samples"));
	ck_assert(json_num(m, "errors") == 0);
	ck_assert(json_num(m, "p99") >= json_num(a, "p50"));
	ck_assert(json_sub_num(m, "connect_latency_us", "samples") == 5);

	ck_assert_int_eq(run_bench(m, sizeof m, 1, one), 0);
	for (i = 0; keys[i] != NULL; i++)
		ck_assert_msg(json_num(m, keys[i]) == json_num(a, keys[i]),
		    "%s: merged %f, alone %f", keys[i], json_num(m, keys[i]),
		    json_num(a, keys[i]));

	ck_assert_int_eq(run_bench(m, sizeof m, 1, bad), 64);
	ck_assert_int_eq(run_bench(m, sizeof m, 1, mixed), 64);
	ck_assert_int_eq(run_bench(m, sizeof m, 1, extra), 64);
	/* An --hgrm that cannot be written fails before any run. */
	ck_assert_int_eq(run_bench(m, sizeof m, 1, (const char *const[]){
	    "--hgrm", "/nonexistent/x.hgrm", "127.0.0.1:1", NULL }), 64);
	unlink(pa);
	unlink(pb);
	unlink(ps);
	unlink(pbad);
}
END_TEST

/*
 * --json-stream: a line per interval (of about --interval, in order, with
 * latency), then the result, whose messages_total the intervals account
 * for but the last part.
 */
START_TEST(test_json_stream)
{
	static char	 out[65536];
	const char	*args[] = { "-q", "--json-stream", "--interval", "200ms",
			    "-c", "2", "-t", "1", "-w", "0.5", NULL };
	char		*line, *save, *last = NULL;
	double		 t = 0, sum = 0, total;
	int		 rc, n = 0, warm = 0;

	start_server();
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 0);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		last = line;
		if (strncmp(line, "{\"type\":\"interval\",", 19) != 0)
			break;
		n++;
		ck_assert_msg(json_num(line, "t") > t, "%s", line);
		t = json_num(line, "t");
		ck_assert_msg(json_num(line, "seconds") > 0.1 &&
		    json_num(line, "seconds") < 0.5, "%s", line);
		ck_assert(json_num(line, "errors") == 0);
		ck_assert(json_num(line, "samples") > 0);
		ck_assert(json_num(line, "p99") >= json_num(line, "p50"));
		warm += strstr(line, "\"phase\":\"warm-up\"") != NULL;
		sum += json_num(line, "messages");
	}
	ck_assert_msg(n >= 4, "%d intervals", n);
	ck_assert_int_ge(warm, 1);
	ck_assert_ptr_nonnull(last);
	ck_assert_msg(strncmp(last, "{\"type\":\"result\",", 17) == 0, "%s",
	    last);
	ck_assert_ptr_null(strtok_r(NULL, "\n", &save));	/* the end */
	total = json_num(last, "messages_total");
	ck_assert_msg(sum <= total && sum >= total * 0.5, "intervals %.0f, "
	    "total %.0f", sum, total);
}
END_TEST

/*
 * --ramp: the connections open one by one, so the intervals of the ramp
 * show the load rising; then warm-up and measurement with all of them.
 */
/*
 * Connect mode never finishes connecting: each progress line names the
 * connects under way among the -c slots.
 */
START_TEST(test_connect_progress)
{
	static char		 out[65536];
	const char		*args[] = { "--mode", "connect", "-c", "20", "-t",
				    "1.3", "-w", "0", NULL };
	struct harness_proc	 p;
	int64_t			 started = harness_now_ms();
	const char		*at;
	unsigned		 n, m;

	start_server();
	spawn_bench(&p, 0, args);
	ck_assert_int_eq(collect_bench(&p, started, out, sizeof out), 0);
	stop_server();
	at = strstr(p.err, "(connecting ");
	ck_assert_msg(at != NULL, "%s", p.err);
	ck_assert_msg(sscanf(at, "(connecting %u/%u)", &n, &m) == 2 &&
	    n <= 20 && m == 20, "%s", p.err);
}
END_TEST

START_TEST(test_ramp)
{
	static char	 out[65536];
	const char	*args[] = { "-q", "--json-stream", "--interval", "200ms",
			    "--ramp", "1.2s", "-c", "20", "-t", "0.3", "-w", "0",
			    NULL };
	char		*line, *save, *last = NULL;
	double		 first = -1, final = 0, open = 0;
	int		 rc, ramp = 0;

	start_server();
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 0);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		last = line;
		if (strstr(line, "\"phase\":\"ramp\"") == NULL)
			continue;
		ramp++;
		/* Connections open at the interval's end rise one by one. */
		ck_assert_msg(json_num(line, "open") >= open, "%s", line);
		open = json_num(line, "open");
		if (first < 0)
			first = open;
		final = open;
	}
	ck_assert_msg(ramp >= 4, "%d ramp intervals", ramp);
	ck_assert_msg(first <= 8 && final >= 14, "open: first %.0f, last %.0f",
	    first, final);
	ck_assert_ptr_nonnull(last);
	ck_assert(json_num(last, "connections_open") == 20);
	ck_assert(json_num(last, "seconds") >= 0.29);
	ck_assert(json_num(last, "errors") == 0);
}
END_TEST

/*
 * --slo: a target any rate meets stops at --rate at once; one no rate
 * meets halves down to the floor and fails; a bad spec is a usage error.
 */
START_TEST(test_slo)
{
	static char	 out[65536];
	/* A warm-up, so that messages late at the end are made up for. */
	const char	*easy[] = { "-q", "--json", "--slo", "p99<=10s", "--rate",
			    "2000", "-c", "2", "-t", "0.5", "-w", "0.2", NULL };
	const char	*hard[] = { "-q", "--json", "--slo", "p50<=1us", "--rate",
			    "400", "-c", "2", "-t", "0.2", "-w", "0", NULL };
	const char	*bad[] = { "--slo", "p100<=1ms", "--rate", "10",
			    "127.0.0.1:1", NULL };
	const char	*norate[] = { "--slo", "p99<=1ms", "127.0.0.1:1", NULL };
	char		*line, *save, *last = NULL;
	int		 rc, steps = 0;

	start_server();
	rc = run_bench(out, sizeof out, 0, easy);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "{\"type\":\"slo_step\",\"step\":1,"
	    "\"rate\":2000,"));
	ck_assert_ptr_nonnull(strstr(out, "\"met\":true}"));
	ck_assert_ptr_nonnull(strstr(out, "{\"type\":\"slo\","));
	ck_assert(json_num(strstr(out, "{\"type\":\"slo\","), "rate") == 2000);

	rc = run_bench(out, sizeof out, 0, hard);
	stop_server();
	ck_assert_int_eq(rc, 1);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		last = line;
		if (strstr(line, "\"type\":\"slo_step\"") != NULL) {
			steps++;
			ck_assert_ptr_nonnull(strstr(line, "\"met\":false}"));
		}
	}
	/* 400, 200, 100, 50, 25, 12: below 10 it gives up. */
	ck_assert_int_eq(steps, 6);
	ck_assert_ptr_nonnull(last);
	ck_assert(json_num(last, "rate") == 0);
	ck_assert(json_num(last, "failed_rate") == 12);

	ck_assert_int_eq(run_bench(out, sizeof out, 1, bad), 64);
	ck_assert_int_eq(run_bench(out, sizeof out, 1, norate), 64);
}
END_TEST

/* A server that echoes more than was sent fails the run. */
START_TEST(test_double)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "2", "-t", "0.3",
			    "-w", "0", NULL };
	int		rc;

	start_corrupt("double", 640);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	/*
	 * The first copy of message 11 is right; its second copy is taken
	 * as message 12 (wrong), unless it came in the same read, as bytes
	 * beyond what was sent.
	 */
	ck_assert(json_num(out, "mismatches") >= 2);
	ck_assert(json_num(out, "messages") >= 20);
	ck_assert(json_num(out, "messages") <= 22);
}
END_TEST

/* A server that stops echoing: counted as timeouts; exit 1. */
START_TEST(test_timeout)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-c", "2", "-t", "1",
			    "-w", "0", "--timeout", "0.3", NULL };
	int		rc;

	start_corrupt("mute", 6400);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	ck_assert(json_num(out, "timeouts") == 2);
	ck_assert(json_num(out, "errors") == 2);
}
END_TEST

/* Nobody listening: a clear message and exit 2 (as evecho-cli), no report. */
START_TEST(test_unreachable)
{
	static char	out[65536];
	const char	*args[] = { "-q", "--json", "-t", "1", NULL };
	const char	*unknown[] = { "-q", "-t", "1", "nosuch.invalid:7",
	    NULL };
	int		port;

	/* A port that was just free. */
	start_server();
	port = srv.ports[0];
	stop_server();
	snprintf(target, sizeof target, "127.0.0.1:%d", port);
	ck_assert_int_eq(run_bench(out, sizeof out, 0, args), 2);
	ck_assert_str_eq(out, "");
	/* A name that does not resolve is 2 as well, not a usage error. */
	ck_assert_int_eq(run_bench(out, sizeof out, 1, unknown), 2);
	ck_assert_str_eq(out, "");
}
END_TEST

/* Bad command lines exit 64 with one line naming the bad value. */
/*
 * evecho-benchmark with args (at most n of them, NULL-ended if fewer)
 * must exit 64 in time with one line that starts with its name; that
 * line in err.
 */
static void
expect_refused(const char *const *args, size_t n, char *err, size_t len)
{
	struct harness_proc	p;
	const char		*argv[8];
	size_t			j;
	int			rc;

	argv[0] = harness_program("evecho-benchmark");
	for (j = 0; j < n && j < 6 && args[j] != NULL; j++)
		argv[j + 1] = args[j];
	argv[j + 1] = NULL;
	ck_assert_int_eq(harness_spawn(&p, argv), 0);
	rc = harness_wait(&p, T_MS);
	snprintf(err, len, "%s", harness_stderr(&p, 1000));
	harness_stop(&p, SIGKILL, 1000);
	ck_assert_msg(rc == 64, "%s %s: exit %d, said %s", args[0],
	    args[1] != NULL ? args[1] : "", rc, err);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1,
	    "%s: not one line: %s", args[0], err);
	ck_assert_msg(strncmp(err, "evecho-benchmark: ", 18) == 0, "%s: %s",
	    args[0], err);
}

START_TEST(test_usage)
{
	static const char *const bad[][6] = {
		{ "-c", "0" },
		{ "-c", "abc" },
		{ "-c", "99999999999999999999" },
		{ "-s", "99999999999999999999k" },
		{ "-s", "0" },
		{ "-s", "12q" },
		{ "-t", "soon" },
		{ "-d", "0" },
		{ "-T", "0" },
		{ "--mode", "sideways" },
		{ "--rate", "-5" },
		{ "--timeout", "0" },
		{ "-n", "5", "-t", "1" },
		{ "--rate", "10", "--mode", "stream" },
		{ "--mode", "hold", "-n", "3" },
		{ "--window", "1k", "--mode", "stream", "-s", "2k" },
		{ "-c", "30000" },
		{ "-c", "2", "-T", "3" },
		{ "--source", "no.such.host.invalid" },
		{ "--source", "127.0.0.2", "[::1]:7" },
		{ "--source", "127.0.0.2", "--source", "::1" },
		{ "--source", "192.0.2.1", "127.0.0.1:7" },
		{ "127.0.0.1:99999" },
		{ "127.0.0.1:1", "extra" },
		{ "--bogus" },
		{ "-c" },
	};
	char	err[4096];
	size_t	i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		expect_refused(bad[i], 6, err, sizeof err);
		/* A --source found wrong only later still names --source. */
		ck_assert_msg(strcmp(bad[i][0], "--source") != 0 ||
		    strstr(err, "--source") != NULL, "%s", err);
	}
}
END_TEST

/*
 * --udp: start tests/bad-echo -u (-6: on ::1) going wrong in mode on
 * every nth datagram; its address in target.
 */
static void
start_udp_bad(const char *mode, uint64_t n, int v6)
{
	static char	 path[4096];
	const char	*dir = getenv("EVECHO_BUILDDIR");
	char		 nbuf[32];
	const char	*argv[] = { path, "-u", "-m", mode, "0", nbuf, NULL,
			    NULL };

	snprintf(path, sizeof path, "%s/tests/bad-echo",
	    dir != NULL ? dir : "..");
	snprintf(nbuf, sizeof nbuf, "%llu", (unsigned long long)n);
	if (v6) {
		memmove(argv + 2, argv + 1, 5 * sizeof argv[0]);
		argv[1] = "-6";
	}
	ck_assert_int_eq(harness_spawn(&srv, argv), 0);
	ck_assert_msg(harness_read_ready(&srv) == 0, "bad-echo -u did not "
	    "start: %s", harness_stderr(&srv, 0));
	ck_assert_msg(strncmp(srv.addrs[0], "udp ", 4) == 0, "%s",
	    srv.addrs[0]);
	snprintf(target, sizeof target, "%.70s", srv.addrs[0] + 4);
}

/* A --udp result's counts, each checked; -1 for one not to check. */
struct udp_want {
	double	sent, received, lost, duplicated, reordered, corrupted;
};

/* Check the counts of a --udp JSON result against want. */
static void
assert_udp(const char *out, const struct udp_want *w)
{
	const char	*keys[] = { "sent", "received", "lost", "duplicated",
			    "reordered", "corrupted" };
	const double	 want[] = { w->sent, w->received, w->lost,
			    w->duplicated, w->reordered, w->corrupted };
	size_t		 i;

	ck_assert_ptr_nonnull(strstr(out, "\"transport\":\"udp\","));
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (want[i] < 0)
			continue;
		ck_assert_msg(json_num(out, keys[i]) == want[i], "%s: %.0f, "
		    "want %.0f", keys[i], json_num(out, keys[i]), want[i]);
	}
	/* Every datagram is accounted for; corruption is the mismatches. */
	ck_assert(json_num(out, "corrupted") == json_num(out, "mismatches"));
	/* Messages and latency: the received, inside the measured time. */
	ck_assert(json_num(out, "received") >= json_num(out, "messages"));
	ck_assert(json_num(out, "samples") == json_num(out, "messages"));
}

/*
 * Exact counts against a server that goes wrong on every 10th datagram
 * it gets: of 1005, 100 dropped, duplicated, flipped or held back behind
 * the next of its flow.  Loss, duplicates and corruption fail the run;
 * reordering alone does not.
 */
START_TEST(test_udp_faults)
{
	static char		 out[65536];
	static const struct {
		const char	*mode;
		const char	*flows, *depth;
		struct udp_want	 want;
		int		 rc;
	} cases[] = {
		{ "drop", "3", "4", { 1005, 905, 100, 0, -1, 0 }, 1 },
		{ "duplicate", "3", "4", { 1005, 1005, 0, 100, -1, 0 }, 1 },
		{ "flip", "3", "4", { 1005, 905, 0, 0, -1, 100 }, 1 },
		/* One flow, two in flight: the next always follows. */
		{ "reorder", "1", "2", { 1005, 1005, 0, 0, 100, 0 }, 0 },
	};
	const char	*args[] = { "-q", "--json", "--udp", "--timeout",
			    "200ms", "-n", "1005", "-T", "1", "-c", NULL, "-d",
			    NULL, NULL };
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		start_udp_bad(cases[i].mode, 10, 0);
		args[8] = strcmp(cases[i].flows, "1") == 0 ? "1" : "2";
		args[10] = cases[i].flows;
		args[12] = cases[i].depth;
		rc = run_bench(out, sizeof out, 0, args);
		stop_server();
		ck_assert_msg(rc == cases[i].rc, "%s: exit %d", cases[i].mode,
		    rc);
		assert_udp(out, &cases[i].want);
		ck_assert(json_num(out, "late") == 0);
		ck_assert_ptr_nonnull(strstr(out, "\"errors\":0,"));
	}
}
END_TEST

/*
 * Echoed after 500 ms, past a 200 ms --timeout: lost, then late (those
 * back before the run's end); --max-loss lets a lossy run pass.
 */
START_TEST(test_udp_late)
{
	static char	 out[65536];
	const char	*args[] = { "-q", "--json", "--udp", "--timeout",
			    "200ms", "-c", "1", "-n", "105", NULL };
	const char	*budget[] = { "-q", "--json", "--udp", "--timeout",
			    "200ms", "-c", "1", "-n", "105", "--max-loss",
			    "10%", NULL };
	const struct udp_want	want = { 105, 95, 10, 0, 0, 0 };
	int		 rc;

	start_udp_bad("late", 10, 0);
	rc = run_bench(out, sizeof out, 0, args);
	stop_server();
	ck_assert_int_eq(rc, 1);
	assert_udp(out, &want);
	ck_assert(json_num(out, "late") >= 1 && json_num(out, "late") <= 10);
	start_udp_bad("late", 10, 0);	/* counting from 1 again */
	rc = run_bench(out, sizeof out, 0, budget);
	stop_server();
	ck_assert_int_eq(rc, 0);	/* 10 of 105 is within 10% */
	assert_udp(out, &want);
	ck_assert(json_num(out, "max_loss_percent") == 10);
}
END_TEST

/*
 * A faithful UDP echo: pingpong over threads (with progress), --rate on
 * its schedule, -n exactly, and ::1 with the largest IPv6 datagram.
 */
START_TEST(test_udp_faithful)
{
	static char		 out[65536];
	const char		*pp[] = { "--json", "--udp", "-c", "4", "-d",
				    "4", "-T", "2", "-t", "1.1", "-w", "0.1",
				    NULL };
	const char		*rate[] = { "-q", "--json", "--udp", "-c", "2",
				    "--rate", "2000", "-t", "0.5", "-w", "0.1",
				    NULL };
	const char		*count[] = { "-q", "--json", "--udp", "-c", "3",
				    "-d", "3", "-n", "1000", NULL };
	const char		*big[] = { "-q", "--json", "--udp", "-c", "2",
				    "-s", "65527", "-n", "200", NULL };
	const struct udp_want	 none = { -1, -1, 0, 0, 0, 0 };
	struct harness_proc	 p;
	int64_t			 started = harness_now_ms();

	start_udp_bad("echo", 0, 0);
	spawn_bench(&p, 0, pp);
	assert_clean(collect_bench(&p, started, out, sizeof out), out);
	assert_udp(out, &none);
	ck_assert(json_num(out, "sent") == json_num(out, "received"));
	ck_assert(json_num(out, "messages") < json_num(out, "received"));
	ck_assert_ptr_nonnull(strstr(out, "\"mode\":\"pingpong\""));
	ck_assert(json_num(out, "depth") == 4);
	ck_assert_msg(strstr(p.err, " sent, 0 lost, 0 late, 0 duplicated, "
	    "0 reordered") != NULL, "progress: %s", p.err);

	assert_clean(run_bench(out, sizeof out, 0, rate), out);
	assert_udp(out, &none);
	ck_assert(json_num(out, "sent") == json_num(out, "received"));
	/* 1,000 due in the measured 0.5 s, as test_rate. */
	ck_assert(json_num(out, "messages") <= 1200 + 2);
	ck_assert(json_num(out, "sent") <= 1200 + 2);
	ck_assert(json_num(out, "rate_reached") >= 0.5);

	assert_clean(run_bench(out, sizeof out, 0, count), out);
	assert_udp(out, &(struct udp_want){ 1000, 1000, 0, 0, 0, 0 });
	stop_server();

	start_udp_bad("echo", 0, 1);
	assert_clean(run_bench(out, sizeof out, 0, big), out);
	stop_server();
	assert_udp(out, &(struct udp_want){ 200, 200, 0, 0, 0, 0 });
	ck_assert_ptr_nonnull(strstr(out, "\"target\":\"[::1]:"));
}
END_TEST

/* evecho-server -u, on 127.0.0.1 and ::1: nothing lost, nothing wrong. */
START_TEST(test_udp_server)
{
	static char		 out[65536];
	const char		*extra[] = { "-u", "127.0.0.1:0", "-u", "[::1]:0",
				    NULL };
	const char		*pp[] = { "-q", "--json", "--udp", "-c", "4",
				    "-d", "4", "-T", "2", "-n", "20000", NULL };
	const char		*timed[] = { "-q", "--json", "--udp", "-c", "2",
				    "-s", "1400", "--rate", "4000", "-t", "0.4",
				    "-w", "0.1", NULL };
	const struct udp_want	 none = { -1, -1, 0, 0, 0, 0 };
	char			 v4[80] = "", v6[80] = "";
	int			 i;

	ck_assert(harness_server_start(&srv, extra) == 0);
	for (i = 0; i < srv.nports; i++) {
		if (strncmp(srv.addrs[i], "udp 127.", 8) == 0)
			snprintf(v4, sizeof v4, "%.70s", srv.addrs[i] + 4);
		else if (strncmp(srv.addrs[i], "udp [", 5) == 0)
			snprintf(v6, sizeof v6, "%.70s", srv.addrs[i] + 4);
	}
	ck_assert_msg(v4[0] != '\0' && v6[0] != '\0', "no udp listeners");
	snprintf(target, sizeof target, "%s", v4);
	assert_clean(run_bench(out, sizeof out, 0, pp), out);
	assert_udp(out, &(struct udp_want){ 20000, 20000, 0, 0, 0, 0 });
	snprintf(target, sizeof target, "%s", v6);
	assert_clean(run_bench(out, sizeof out, 0, timed), out);
	stop_server();
	assert_udp(out, &none);
	ck_assert(json_num(out, "sent") == json_num(out, "received"));
}
END_TEST

/*
 * --udp results merge with the counts added up, and not with a TCP
 * result; --json-stream intervals carry the counts.
 */
START_TEST(test_udp_json)
{
	static char	 a[65536], b[65536], m[65536], t[65536];
	char		 pa[64], pb[64], pt[64];
	const char	*ra[] = { "-q", "--json", "--udp", "--timeout", "200ms",
			    "-c", "2", "-d", "2", "-n", "500", NULL };
	const char	*rb[] = { "-q", "--json", "--udp", "--timeout", "200ms",
			    "-c", "3", "-n", "300", NULL };
	const char	*rs[] = { "-q", "--json-stream", "--interval", "200ms",
			    "--udp", "--timeout", "200ms", "-c", "2", "-t",
			    "0.6", "-w", "0", NULL };
	const char	*two[] = { "--json", "--merge", pa, pb, NULL };
	const char	*budget[] = { "--json", "--max-loss", "10", "--merge",
			    pa, pb, NULL };
	const char	*mixed[] = { "--json", "--merge", pa, pt, NULL };
	const char	*keys[] = { "sent", "received", "lost", "late",
			    "duplicated", "reordered", "corrupted",
			    "lost_measured", "messages", NULL };
	char		*line, *save;
	int		 i, n = 0;

	start_udp_bad("drop", 50, 0);
	ck_assert_int_eq(run_bench(a, sizeof a, 0, ra), 1);
	ck_assert_int_eq(run_bench(b, sizeof b, 0, rb), 1);
	assert_udp(a, &(struct udp_want){ 500, 490, 10, 0, -1, 0 });
	assert_udp(b, &(struct udp_want){ 300, 294, 6, 0, -1, 0 });
	ck_assert_int_eq(run_bench(t, sizeof t, 0, rs), 1);
	stop_server();
	for (line = strtok_r(t, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "{\"type\":\"interval\",", 19) != 0)
			continue;
		n++;
		for (i = 0; i < 7; i++)	/* sent to corrupted */
			(void)json_num(line, keys[i]);
		ck_assert(json_num(line, "corrupted") == 0);
	}
	ck_assert_msg(n >= 2, "%d intervals", n);

	start_server();
	ck_assert_int_eq(run_bench(t, sizeof t, 0, (const char *const[]){
	    "-q", "--json", "-c", "1", "-n", "10", NULL }), 0);
	stop_server();
	ck_assert_ptr_null(strstr(t, "\"transport\""));	/* TCP: unchanged */
	ck_assert_ptr_null(strstr(t, "\"sent\""));
	write_temp(pa, sizeof pa, a);
	write_temp(pb, sizeof pb, b);
	write_temp(pt, sizeof pt, t);
	ck_assert_int_eq(run_bench(m, sizeof m, 1, two), 1);
	for (i = 0; keys[i] != NULL; i++)
		ck_assert_msg(json_num(m, keys[i]) == json_num(a, keys[i]) +
		    json_num(b, keys[i]), "%s: merged %.0f", keys[i],
		    json_num(m, keys[i]));
	ck_assert(json_num(m, "connections") == 5);
	ck_assert_ptr_nonnull(strstr(m, "\"transport\":\"udp\","));
	ck_assert_int_eq(run_bench(m, sizeof m, 1, budget), 0);
	ck_assert_int_eq(run_bench(m, sizeof m, 1, mixed), 64);
	unlink(pa);
	unlink(pb);
	unlink(pt);
}
END_TEST

/* What --udp cannot do is refused with one line and 64; no name is 2. */
START_TEST(test_udp_usage)
{
	/* The arguments, then what the line must say. */
	static const char *const bad[][6] = {
		{ "--udp", "--reconnect", "127.0.0.1:7", NULL, "UDP flow" },
		{ "--udp", "--expect-greeting", "127.0.0.1:7", NULL,
		    "sends nothing first" },
		{ "--udp", "--mode", "stream", "127.0.0.1:7", "not stream" },
		{ "--udp", "--mode", "connect", "127.0.0.1:7", "not connect" },
		{ "--mode", "hold", "--udp", "127.0.0.1:7", "not hold" },
		{ "--udp", "--window", "1k", "127.0.0.1:7", "--window" },
		{ "--max-loss", "1", "127.0.0.1:7", NULL, "only --udp" },
		{ "--udp", "--max-loss", "101", "127.0.0.1:7", "percentage" },
		{ "--udp", "--max-loss", "-1", "127.0.0.1:7", "percentage" },
		{ "--udp", "-s", "23", "127.0.0.1:7", "24 to 65507" },
		{ "--udp", "-s", "65508", "127.0.0.1:7", "24 to 65507" },
		{ "--udp", "-s", "65528", "[::1]:7", "24 to 65527" },
		{ "--udp", "--source", "::1", "127.0.0.1:7", "no IPv6" },
	};
	static char		 out[4096];
	const char		*unknown[] = { "-q", "--udp", "-n", "1",
				    "nosuch.invalid:7", NULL };
	char			 err[4096];
	size_t			 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		expect_refused(bad[i], 4, err, sizeof err);
		ck_assert_msg(strstr(err, bad[i][4]) != NULL, "%s %s: said %s",
		    bad[i][1], bad[i][2], err);
	}
	ck_assert_int_eq(run_bench(out, sizeof out, 1, unknown), 2);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *
benchmark_suite(void)
{
	Suite	*s = suite_create("benchmark");
	TCase	*tc;

	tc = tcase_create("modes");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pingpong);
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_connect);
	tcase_add_test(tc, test_hold);
	tcase_add_test(tc, test_rate);
	tcase_add_test(tc, test_rate_unreached);
	tcase_add_test(tc, test_source);
	tcase_add_test(tc, test_connect_phase);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_json_stream);
	tcase_add_test(tc, test_ramp);
	tcase_add_test(tc, test_connect_progress);
	tcase_add_test(tc, test_expect_greeting);
	tcase_add_test(tc, test_slo);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_corrupt_flip);
	tcase_add_test(tc, test_corrupt_human);
	tcase_add_test(tc, test_closed);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_reconnect);
	tcase_add_test(tc, test_corrupt_counts);
	tcase_add_test(tc, test_double);
	tcase_add_test(tc, test_interrupted);
	tcase_add_test(tc, test_ended_early);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_usage);
	suite_add_tcase(s, tc);

	tc = tcase_create("udp");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_udp_faults);
	tcase_add_test(tc, test_udp_late);
	tcase_add_test(tc, test_udp_faithful);
	tcase_add_test(tc, test_udp_server);
	tcase_add_test(tc, test_udp_json);
	tcase_add_test(tc, test_udp_usage);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (harness_run_suite(benchmark_suite()));
}
