/*
 * check_server.c: evecho-server end to end.  Each test starts its own
 * server on 127.0.0.1:0 (or ::1), reads the port from the readiness line,
 * and stops it by PID; a server outlives no test (see harness.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define T_MS	10000	/* the deadline for any single exchange */

static struct harness_proc	srv;

/* Start a server with extra args or fail the test. */
static void
start(const char *const extra[])
{
	ck_assert_msg(harness_server_start(&srv, extra) == 0,
	    "evecho-server did not become ready");
}

/* Stop the server with SIGTERM; it must exit 0. */
static void
stop_clean(void)
{
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
}

/* Connect to the server's first listener. */
static int
dial(void)
{
	int	fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);

	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return (fd);
}

/* Send buf and expect exactly it back. */
static void
roundtrip(int fd, const void *buf, size_t len)
{
	char	*back = malloc(len);

	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(harness_send_all(fd, buf, len, T_MS), 0);
	ck_assert_int_eq(harness_recv_exact(fd, back, len, T_MS), 0);
	ck_assert_int_eq(memcmp(buf, back, len), 0);
	free(back);
}

/* One line in, the same line out; readiness names 127.0.0.1. */
START_TEST(test_simple_echo)
{
	int	fd;

	start(NULL);
	ck_assert_int_eq(srv.nports, 1);
	ck_assert_int_gt(srv.ports[0], 0);
	ck_assert_int_eq(strncmp(srv.addrs[0], "127.0.0.1:", 10), 0);
	fd = dial();
	roundtrip(fd, "hello, echo\n", 12);
	roundtrip(fd, "\0\377binary\r\n\0", 11);
	close(fd);
	stop_clean();
}
END_TEST

/*
 * --greeting: each connection gets the line first, even when the client
 * sends at once, and then a byte-exact echo; the line names the process.
 */
START_TEST(test_greeting)
{
	const char *const	 extra[] = { "--greeting",
				    "evecho pid %p worker %w\\t100%%", NULL };
	size_t			 big = 1 << 20;
	char			*buf = malloc(big), want[128], got[256];
	int			 fd, i, len;

	ck_assert_ptr_nonnull(buf);
	harness_fill_random(buf, big, 45);
	start(extra);
	len = snprintf(want, sizeof want, "evecho pid %d worker 1\t100%%\n",
	    (int)srv.pid);
	for (i = 0; i < 2; i++) {
		fd = dial();
		ck_assert_int_eq(harness_send_all(fd, "abc", 3, T_MS), 0);
		ck_assert_int_eq(harness_recv_exact(fd, got, (size_t)len + 3,
		    T_MS), 0);
		got[len + 3] = '\0';
		ck_assert_int_eq(memcmp(got, want, (size_t)len), 0);
		ck_assert_str_eq(got + len, "abc");
		ck_assert_int_eq(harness_echo_check(fd, buf, big, 0, T_MS), 0);
		close(fd);
	}
	free(buf);
	stop_clean();
}
END_TEST

/*
 * Message sizes that change under one connection: exact 4 KiB messages
 * (after which the server stops trying to read past libevent's 4 KiB for a
 * while), then a large block, then small ones again.
 */
START_TEST(test_size_switch)
{
	size_t	 big = 1 << 20;
	char	*buf = malloc(big);
	int	 fd, i;

	harness_fill_random(buf, big, 44);
	start(NULL);
	fd = dial();
	for (i = 0; i < 20; i++)
		roundtrip(fd, buf + i * 4096, 4096);
	ck_assert_int_eq(harness_echo_check(fd, buf, big, 0, T_MS), 0);
	for (i = 0; i < 20; i++)
		roundtrip(fd, buf + i * 100, 1 + (size_t)i * 811);
	close(fd);
	free(buf);
	stop_clean();
}
END_TEST

/*
 * Small messages leave their bytes at the front of the input until the next
 * read lands behind them (the kept chain).  Sizes around the 256-byte limit
 * and around chain boundaries, a large block between, a pause long enough
 * for the sweep to drain the chain, and a half-close right after a small
 * message: every byte back in order, then FIN.
 */
START_TEST(test_kept_chain)
{
	size_t	 big = 100 << 10;
	char	*buf = malloc(big), back[64];
	int	 fd, i;

	ck_assert_ptr_nonnull(buf);
	harness_fill_random(buf, big, 45);
	start(NULL);
	fd = dial();
	for (i = 0; i < 600; i++)
		roundtrip(fd, buf + i, 1 + (size_t)(i * 7) % 300);
	ck_assert_int_eq(harness_echo_check(fd, buf, big, 0, T_MS), 0);
	for (i = 0; i < 20; i++)
		roundtrip(fd, buf + i, 64);
	usleep(300 * 1000);	/* past the sweep */
	for (i = 0; i < 20; i++)
		roundtrip(fd, buf + 3 * i, 10);
	ck_assert_int_eq(harness_send_all(fd, "last", 4, T_MS), 0);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(harness_recv_until_eof(fd, back, sizeof back, T_MS), 4);
	ck_assert_int_eq(memcmp(back, "last", 4), 0);
	close(fd);
	free(buf);
	stop_clean();
}
END_TEST

/* 10 MiB through one connection, full duplex, byte-exact. */
START_TEST(test_ten_mib)
{
	size_t	 len = 10 << 20;
	char	*buf = malloc(len);
	int	 fd;

	ck_assert_ptr_nonnull(buf);
	harness_fill_random(buf, len, 10);
	start(NULL);
	fd = dial();
	ck_assert_int_eq(harness_echo_check(fd, buf, len, 0, 30000), 0);
	close(fd);
	free(buf);
	stop_clean();
}
END_TEST

/* 1000 connections open at once, each with its own random payload. */
START_TEST(test_thousand_conns)
{
	enum { N = 1000 };
	static int	 fds[N];
	static size_t	 lens[N], got[N];
	char		*bufs[N], tmp[8192];
	struct pollfd	*pfds = calloc(N, sizeof *pfds);
	int64_t		 deadline;
	int		 i, done = 0;

	start(NULL);
	for (i = 0; i < N; i++) {
		lens[i] = 1 + (size_t)(i * 7919) % 4096;
		bufs[i] = malloc(lens[i]);
		harness_fill_random(bufs[i], lens[i], 1000 + (uint64_t)i);
		fds[i] = dial();
		got[i] = 0;
	}
	/* Everyone talks before anyone listens: all 1000 are live at once. */
	for (i = 0; i < N; i++)
		ck_assert_int_eq(harness_send_all(fds[i], bufs[i], lens[i],
		    T_MS), 0);
	deadline = harness_now_ms() + 20000;
	while (done < N && harness_now_ms() < deadline) {
		for (i = 0; i < N; i++) {
			pfds[i].fd = got[i] < lens[i] ? fds[i] : -1;
			pfds[i].events = POLLIN;
		}
		ck_assert_int_gt(poll(pfds, N, 1000), -1);
		for (i = 0; i < N; i++) {
			ssize_t n;

			if (pfds[i].fd < 0 || !(pfds[i].revents & POLLIN))
				continue;
			n = recv(fds[i], tmp, sizeof tmp, 0);
			ck_assert_msg(n > 0, "conn %d closed early", i);
			ck_assert_uint_le(got[i] + (size_t)n, lens[i]);
			ck_assert_msg(memcmp(tmp, bufs[i] + got[i],
			    (size_t)n) == 0, "conn %d got another's bytes", i);
			got[i] += (size_t)n;
			if (got[i] == lens[i])
				done++;
		}
	}
	ck_assert_int_eq(done, N);
	for (i = 0; i < N; i++) {
		close(fds[i]);
		free(bufs[i]);
	}
	free(pfds);
	stop_clean();
}
END_TEST

/* The client shuts down its sending side: all is echoed, then EOF. */
START_TEST(test_half_close)
{
	size_t	 len = 6 << 20;
	char	*buf = malloc(len), *back = malloc(len);
	int	 fd;

	harness_fill_random(buf, len, 7);
	start((const char *const[]){ "--max-pending", "8m", NULL });
	fd = dial();
	ck_assert_int_eq(harness_echo_check(fd, buf, len, 1, 20000), 0);
	close(fd);
	/*
	 * Half-close while the echo is still queued in the server: more than
	 * the kernel's send buffer (4 MiB at most) waits in its output.
	 */
	fd = harness_connect_rcvbuf("127.0.0.1", srv.ports[0], 4096, T_MS);
	ck_assert_int_eq(harness_send_all(fd, buf, 6 << 20, T_MS), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	usleep(200000);
	ck_assert_int_eq(harness_recv_until_eof(fd, back, 6 << 20, T_MS),
	    6 << 20);
	ck_assert_int_eq(memcmp(back, buf, 6 << 20), 0);
	close(fd);
	/* A tiny half-closed message too: the common nc/socat case. */
	fd = dial();
	ck_assert_int_eq(harness_echo_check(fd, "ping\n", 5, 1, T_MS), 0);
	close(fd);
	free(buf);
	free(back);
	stop_clean();
}
END_TEST

/*
 * A client that sends without reading: the server stops reading from it
 * once --max-pending is held, so its memory stays near that bound, and
 * another client is still answered at once.
 */
START_TEST(test_slow_reader)
{
	char	 chunk[65536], small = 'x', back;
	size_t	 sent = 0;
	long	 rss0, rss1;
	int64_t	 t0, blocked_since = 0;
	int	 hog, other;
	ssize_t	 n;
	int	 sanitized = harness_sanitized();
	long	 rss_limit_kb = 4096;

	/*
	 * Skipped under memcheck: valgrind's own heap, shadow memory and
	 * redzones fill the RSS this test bounds to a few MiB.
	 */
	if (harness_under_valgrind())
		return;
	harness_fill_random(chunk, sizeof chunk, 3);
	/* ASan keeps freed memory in quarantine and adds shadow pages. */
	if (sanitized) {
		setenv("ASAN_OPTIONS", "quarantine_size_mb=1", 1);
		rss_limit_kb = 16384;
	}
	start((const char *const[]){ "--max-pending", "256k", NULL });
	rss0 = harness_rss_kb(srv.pid);
	hog = harness_connect_rcvbuf("127.0.0.1", srv.ports[0], 4096, T_MS);
	ck_assert_int_ge(hog, 0);
	/* Push until the socket stays full for 1 s, or 256 MiB went out. */
	while (sent < (256u << 20)) {
		n = send(hog, chunk, sizeof chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			sent += (size_t)n;
			blocked_since = 0;
			continue;
		}
		ck_assert_msg(errno == EAGAIN, "send: %s", strerror(errno));
		if (blocked_since == 0)
			blocked_since = harness_now_ms();
		else if (harness_now_ms() - blocked_since > 1000)
			break;
		usleep(10000);
	}
	ck_assert_msg(sent < (256u << 20), "the server read without bound");
	rss1 = harness_rss_kb(srv.pid);
	ck_assert_msg(rss1 - rss0 < rss_limit_kb, "server RSS grew %ld KiB holding "
	    "a 256 KiB bound (sent %zu bytes)", rss1 - rss0, sent);

	other = dial();
	t0 = harness_now_ms();
	ck_assert_int_eq(harness_send_all(other, &small, 1, T_MS), 0);
	ck_assert_int_eq(harness_recv_exact(other, &back, 1, 2000), 0);
	ck_assert_int_lt(harness_now_ms() - t0, 1000);
	ck_assert_int_eq(back, small);
	close(other);
	close(hog);
	stop_clean();
}
END_TEST

/* Read from fd until EOF or error; 0 if the server closed it in time. */
static int
closed_by_server(int fd, int timeout_ms)
{
	char	buf[256];
	ssize_t	n;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return (-1);
		n = recv(fd, buf, sizeof buf, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return (0);
		if (n < 0 && errno != EAGAIN)
			return (-1);
	}
}

/* Beyond --max-conns a connection is closed at once and counted. */
START_TEST(test_max_conns)
{
	char	 buf[1];
	int	 a, b, c, d = -1, i;

	start((const char *const[]){ "--max-conns", "2", NULL });
	a = dial();
	b = dial();
	roundtrip(a, "a", 1);
	roundtrip(b, "b", 1);
	c = dial();
	ck_assert_int_eq(closed_by_server(c, T_MS), 0);
	close(c);
	roundtrip(a, "still", 5);
	/* A slot frees when one closes; the server notices within moments. */
	close(b);
	for (i = 0; i < 100; i++) {
		d = dial();
		if (harness_send_all(d, "d", 1, T_MS) == 0 &&
		    harness_recv_exact(d, buf, 1, 500) == 0)
			break;
		close(d);
		d = -1;
		usleep(20000);
	}
	ck_assert_int_ge(d, 0);
	close(d);
	close(a);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	/* The summary counts the refusal, and a warning said so. */
	ck_assert_msg(strstr(srv.err, "1 rejected") != NULL, "%s", srv.err);
	ck_assert_msg(strstr(srv.err, "warning: refused 1 connections over "
	    "--max-conns 2") != NULL, "%s", srv.err);
}
END_TEST

/*
 * The descriptor reserve follows what is open: with 100 descriptors and
 * 40 listeners, every connection the server admits is served, and the
 * ones beyond are refused at once and counted, none left in the backlog.
 */
START_TEST(test_fd_reserve)
{
	enum { NLISTEN = 40, EXTRA = 5 };
	const char	*args[2 * NLISTEN + 2];
	const char	*line;
	int		 fds[100], i, max, n;

	for (i = 0; i < NLISTEN; i++) {
		args[2 * i] = "-l";
		args[2 * i + 1] = "127.0.0.1:0";
	}
	args[2 * NLISTEN] = NULL;
	harness_child_nofile = 100;
	ck_assert_int_eq(harness_server_start_args(&srv, args), 0);
	harness_child_nofile = 0;
	line = strstr(harness_stderr(&srv, 200), " listening sockets, max ");
	ck_assert_msg(line != NULL, "%s", srv.err);
	max = atoi(line + strlen(" listening sockets, max "));
	ck_assert_int_gt(max, 0);
	ck_assert_int_le(max + EXTRA, 100);
	for (n = 0; n < max + EXTRA; n++) {
		fds[n] = dial();
		if (n < max)
			roundtrip(fds[n], "f", 1);
		else
			ck_assert_msg(closed_by_server(fds[n], 2000) == 0,
			    "connection %d of %d admitted: max %d", n + 1,
			    max + EXTRA, max);
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_msg(strstr(srv.err, " 5 rejected") != NULL, "%s", srv.err);
	ck_assert_msg(strstr(srv.err, "accept failed") == NULL, "%s", srv.err);
}
END_TEST

/* Idle connections close after --idle-timeout; busy ones stay. */
START_TEST(test_idle_timeout)
{
	int64_t	t0;
	int	idle, busy, i;

	start((const char *const[]){ "--idle-timeout", "0.4", NULL });
	idle = dial();
	busy = dial();
	roundtrip(idle, "x", 1);
	t0 = harness_now_ms();
	/* The busy client talks every 100 ms for 1.2 s: never idle. */
	for (i = 0; i < 12; i++) {
		roundtrip(busy, "tick", 4);
		usleep(100000);
	}
	ck_assert_int_eq(closed_by_server(idle, 100), 0);
	roundtrip(busy, "alive", 5);
	ck_assert_int_eq(closed_by_server(busy, 3000), 0);
	ck_assert_int_ge(harness_now_ms() - t0, 400);
	close(idle);
	close(busy);
	stop_clean();
}
END_TEST

/*
 * SIGTERM with data in flight: clients with small windows have sent more
 * than they have read, so the server still holds much of it; everything
 * already sent comes back before the server closes and exits 0.
 */
START_TEST(test_sigterm_drain)
{
	enum { N = 3, LEN = 6 << 20 };
	static char	 bufs[N][LEN], back[LEN];
	int		 fds[N], i;
	ssize_t		 n;

	/* More than the kernel's send buffer (4 MiB at most) stays with us. */
	start((const char *const[]){ "--max-pending", "8m", NULL });
	for (i = 0; i < N; i++) {
		harness_fill_random(bufs[i], LEN, 500 + (uint64_t)i);
		fds[i] = harness_connect_rcvbuf("127.0.0.1", srv.ports[0],
		    4096, T_MS);
		ck_assert_int_ge(fds[i], 0);
		ck_assert_int_eq(harness_send_all(fds[i], bufs[i], LEN, T_MS),
		    0);
	}
	usleep(50000);	/* let loopback deliver the last segments */
	kill(srv.pid, SIGTERM);
	for (i = 0; i < N; i++) {
		n = harness_recv_until_eof(fds[i], back, LEN, T_MS);
		ck_assert_int_eq(n, LEN);
		ck_assert_int_eq(memcmp(back, bufs[i], LEN), 0);
		close(fds[i]);
	}
	ck_assert_int_eq(harness_wait(&srv, T_MS), 0);
	harness_stop(&srv, SIGKILL, 100);
}
END_TEST

/* A client that never reads, or fail the test. */
static int
dial_stuck(void)
{
	int	fd = harness_connect_stuck("127.0.0.1", srv.ports[0], T_MS);

	ck_assert_msg(fd >= 0, "cannot make a stuck client");
	return (fd);
}

/*
 * A stuck client delays exit only until --drain-timeout: exit 1, and the
 * log names what was cut off, while a quiet client had closed cleanly.
 */
START_TEST(test_drain_timeout)
{
	int	 hog, quiet;
	int64_t	 t0;

	start((const char *const[]){ "--drain-timeout", "0.5",
	    "--max-pending", "64k", NULL });
	hog = dial_stuck();
	quiet = dial();
	roundtrip(quiet, "q", 1);
	t0 = harness_now_ms();
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 1);
	ck_assert_int_lt(harness_now_ms() - t0, 3000);
	ck_assert_msg(strstr(srv.err, "error: drain timeout: cut off 1 "
	    "connections, ") != NULL, "%s", srv.err);
	ck_assert_msg(strstr(srv.err, ", 0 bytes not echoed") == NULL, "%s",
	    srv.err);
	ck_assert_int_eq(closed_by_server(quiet, 1000), 0);
	close(quiet);
	close(hog);
}
END_TEST

/* A second signal during the drain exits at once. */
START_TEST(test_second_signal)
{
	int	hog;

	start((const char *const[]){ "--max-pending", "64k", NULL });
	hog = dial_stuck();
	kill(srv.pid, SIGTERM);
	usleep(200000);
	ck_assert_int_eq(harness_wait(&srv, 0), -2);	/* still draining */
	ck_assert_int_eq(harness_stop(&srv, SIGINT, 2000), 1);
	ck_assert_msg(strstr(srv.err, "error: second signal: cut off 1 ") !=
	    NULL, "%s", srv.err);
	close(hog);
}
END_TEST

/* IPv6 on ::1, and two listeners at once with their readiness lines. */
START_TEST(test_ipv6)
{
	int	fd;

	ck_assert_int_eq(harness_server_start_args(&srv, (const char *const[]){
	    "-l", "127.0.0.1:0", "-l", "[::1]:0", NULL }), 0);
	ck_assert_int_eq(srv.nports, 2);
	ck_assert_int_eq(strncmp(srv.addrs[1], "[::1]:", 6), 0);
	fd = harness_connect("::1", srv.ports[1], T_MS);
	ck_assert_int_ge(fd, 0);
	roundtrip(fd, "over six", 8);
	close(fd);
	fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);
	roundtrip(fd, "over four", 9);
	close(fd);
	stop_clean();
}
END_TEST

/* --reuse-port: a second server shares the first one's port. */
START_TEST(test_reuse_port)
{
	struct harness_proc	 first;
	char			 addr[64];
	int			 fd, i;

	start((const char *const[]){ "--reuse-port", NULL });
	first = srv;
	snprintf(addr, sizeof addr, "127.0.0.1:%d", first.ports[0]);
	ck_assert_int_eq(harness_server_start_args(&srv, (const char *const[]){
	    "-l", addr, "--reuse-port", NULL }), 0);
	ck_assert_int_eq(srv.ports[0], first.ports[0]);
	/* The kernel spreads connections; every one is served. */
	for (i = 0; i < 20; i++) {
		fd = dial();
		roundtrip(fd, "shared", 6);
		close(fd);
	}
	stop_clean();
	srv = first;
	stop_clean();
}
END_TEST

/* Run the server with args; expect exit status want and one stderr line
 * containing needle. */
static void
expect_refusal(const char *const args[], int want, const char *needle)
{
	int	rc;

	ck_assert_int_eq(harness_spawn(&srv, (const char *const[]){
	    harness_program("evecho-server"), args[0], args[1], args[2],
	    NULL }), 0);
	rc = harness_wait(&srv, T_MS);
	harness_stop(&srv, SIGKILL, 100);
	ck_assert_msg(rc == want, "%s %s: exit %d, want %d", args[0],
	    args[1] != NULL ? args[1] : "", rc, want);
	ck_assert_msg(strstr(srv.err, needle) != NULL, "no '%s' in: %s",
	    needle, srv.err);
	ck_assert_msg(harness_count_lines(srv.err, "") == 1,
	    "not one line: %s", srv.err);
}

/* Bad command lines exit 64 with one line naming the bad value. */
START_TEST(test_bad_args)
{
	expect_refusal((const char *const[]){ "--bogus", NULL, NULL }, 64,
	    "--bogus");
	expect_refusal((const char *const[]){ "-l", "host:99999", NULL }, 64,
	    "99999");
	expect_refusal((const char *const[]){ "-l", "[::1", NULL }, 64,
	    "[::1");
	expect_refusal((const char *const[]){ "-l", "no.such.host.invalid:1",
	    NULL }, 64, "no.such.host.invalid");
	expect_refusal((const char *const[]){ "--max-pending", "12q", NULL },
	    64, "12q");
	expect_refusal((const char *const[]){ "--max-pending", "0", NULL },
	    64, "'0'");
	/* Per-connection sizes are 32-bit: more than 1g is refused. */
	expect_refusal((const char *const[]){ "--max-pending", "2g", NULL },
	    64, "'2g'");
	expect_refusal((const char *const[]){ "--max-conns", "-5", NULL }, 64,
	    "-5");
	expect_refusal((const char *const[]){ "--max-conns-per-source", "x1",
	    NULL }, 64, "--max-conns-per-source: ");
	expect_refusal((const char *const[]){ "--idle-timeout", "soon", NULL },
	    64, "soon");
	expect_refusal((const char *const[]){ "--drain-timeout", "1x", NULL },
	    64, "1x");
	expect_refusal((const char *const[]){ "--backlog", "0", NULL }, 64,
	    "'0'");
	expect_refusal((const char *const[]){ "--max-conns", NULL, NULL }, 64,
	    "--max-conns");
	expect_refusal((const char *const[]){ "stray", NULL, NULL }, 64,
	    "stray");
}
END_TEST

/* An address in use: non-zero exit, and the message names the address. */
START_TEST(test_address_in_use)
{
	struct harness_proc	 first;
	char			 addr[64];

	start(NULL);
	first = srv;
	snprintf(addr, sizeof addr, "127.0.0.1:%d", first.ports[0]);
	expect_refusal((const char *const[]){ "-l", addr, NULL }, 1, addr);
	/* It ends the program: an error, not a warning. */
	ck_assert_msg(strstr(srv.err, "] error: cannot listen on ") != NULL,
	    "not logged as an error: %s", srv.err);
	srv = first;
	ck_assert_msg(strstr(addr, ":") != NULL, "%s", addr);
	stop_clean();
}
END_TEST

/* --help and --version exit 0 on stdout; --help names every option. */
START_TEST(test_help_version)
{
	char	out[8192];
	ssize_t	n;
	size_t	have = 0;
	const char *opts[] = { "--listen", "--max-pending", "--max-conns",
	    "--max-conns-per-source",
	    "--idle-timeout", "--drain-timeout", "--backlog", "--reuse-port",
	    "--verbose", "--quiet", "--help", "--version", NULL };
	int	i;

	ck_assert_int_eq(harness_spawn(&srv, (const char *const[]){
	    harness_program("evecho-server"), "--help", NULL }), 0);
	while (have < sizeof out - 1 &&
	    (n = read(srv.out_fd, out + have, sizeof out - 1 - have)) > 0)
		have += (size_t)n;
	out[have] = '\0';
	ck_assert_int_eq(harness_stop(&srv, 0, T_MS), 0);
	for (i = 0; opts[i] != NULL; i++)
		ck_assert_msg(strstr(out, opts[i]) != NULL, "%s", opts[i]);
	ck_assert_ptr_nonnull(strstr(out, "default 1m"));

	ck_assert_int_eq(harness_spawn(&srv, (const char *const[]){
	    harness_program("evecho-server"), "-V", NULL }), 0);
	n = read(srv.out_fd, out, sizeof out - 1);
	ck_assert_int_gt(n, 0);
	out[n] = '\0';
	ck_assert_ptr_nonnull(strstr(out, "evecho-server "));
	ck_assert_int_eq(harness_stop(&srv, 0, T_MS), 0);
}
END_TEST

/* SIGUSR1 logs one line of counters; exit logs the summary. */
START_TEST(test_stats_lines)
{
	const char	*err = srv.err;
	int		 fd;

	start(NULL);
	fd = dial();
	roundtrip(fd, "12345", 5);
	close(fd);
	usleep(50000);
	kill(srv.pid, SIGUSR1);
	usleep(100000);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_int_eq(harness_count_lines(err, "info: stats: "), 1);
	ck_assert_int_eq(harness_count_lines(err, "info: exit: "), 1);
	ck_assert_msg(strstr(err, "1 peak, 1 accepted") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "bytes 5 in, 5 out, 0 dropped") != NULL,
	    "%s", err);
}
END_TEST

/*
 * Out of descriptors: accept must pause rather than spin.  With 40
 * descriptors and many clients, the server stays nearly idle, warns at most
 * about once a second, and serves again once clients leave.
 */
START_TEST(test_emfile_backoff)
{
	enum { N = 80 };
	const char	*err = srv.err;
	int		 fds[N], i, served = 0;
	long	 cpu0, cpu1;

	harness_child_nofile = 40;
	start((const char *const[]){ "--max-conns", "1000", NULL });
	harness_child_nofile = 0;
	for (i = 0; i < N; i++)
		fds[i] = dial();	/* the kernel completes them all */
	usleep(200000);
	cpu0 = harness_cpu_ms(srv.pid);
	sleep(2);
	cpu1 = harness_cpu_ms(srv.pid);
	ck_assert_msg(cpu1 - cpu0 < 300, "server spun: %ld ms CPU in 2 s",
	    cpu1 - cpu0);
	for (i = 0; i < N; i++)
		close(fds[i]);
	/* Served again after the back-off. */
	for (i = 0; i < 50 && !served; i++) {
		int fd = dial();
		char c;

		if (harness_send_all(fd, "z", 1, T_MS) == 0 &&
		    harness_recv_exact(fd, &c, 1, 500) == 0)
			served = 1;
		close(fd);
	}
	ck_assert(served);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_int_ge(harness_count_lines(err, "accept failed"), 1);
	ck_assert_msg(harness_count_lines(err, "accept failed") <= 4,
	    "warning flood: %s", err);
}
END_TEST

static Suite *
server_suite(void)
{
	Suite	*s = suite_create("server");
	TCase	*tc = tcase_create("echo");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_simple_echo);
	tcase_add_test(tc, test_greeting);
	tcase_add_test(tc, test_size_switch);
	tcase_add_test(tc, test_kept_chain);
	tcase_add_test(tc, test_ten_mib);
	tcase_add_test(tc, test_thousand_conns);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_slow_reader);
	tcase_add_test(tc, test_max_conns);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_sigterm_drain);
	tcase_add_test(tc, test_drain_timeout);
	tcase_add_test(tc, test_second_signal);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_reuse_port);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_address_in_use);
	tcase_add_test(tc, test_help_version);
	tcase_add_test(tc, test_stats_lines);
	tcase_add_test(tc, test_emfile_backoff);
	tcase_add_test(tc, test_fd_reserve);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (harness_run_suite(server_suite()));
}
