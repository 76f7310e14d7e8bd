/*
 * check_drain.c: what the server promises about losing nothing -- the
 * graceful stop, --idle-timeout against slow readers, --max-memory, urgent
 * data -- end to end against the real server on 127.0.0.1:0.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

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

/* Connect to the server's first listener. */
static int
dial(void)
{
	int	fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);

	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return (fd);
}

/*
 * Wait for the server's end of fd: 0 for a clean EOF (FIN), 1 for a reset,
 * -1 for data or nothing within timeout_ms.
 */
static int
wait_close(int fd, int timeout_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	char		c;
	ssize_t		n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return (-1);
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 0)
		return (0);
	if (n < 0 && errno == ECONNRESET)
		return (1);
	return (-1);
}

/*
 * Wait until the server has closed fd (FIN or reset) without reading what
 * it holds: 0, or -1 if not within timeout_ms.
 */
static int
wait_gone(int fd, int timeout_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLRDHUP };
	int64_t		end = harness_now_ms() + timeout_ms;

	while (harness_now_ms() < end) {
		if (poll(&pfd, 1, 100) > 0 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return (0);
	}
	return (-1);
}

/* One streaming client of test_drain_streaming. */
struct streamer {
	int	fd;
	size_t	sent, got;
	int	shut;	/* our sending side is shut down */
	int	eof;	/* the server's FIN came after the whole echo */
};

/*
 * Drive every streamer one step: send the next piece while at most window
 * bytes are unechoed, read and check the echo, shut down after the last
 * byte.  Returns how many have finished (whole echo, then EOF).
 */
static int
stream_step(struct streamer *s, int n, struct pollfd *pfds, const char *data,
    size_t len, size_t piece, size_t window)
{
	char	buf[65536];
	int	i, done = 0;
	ssize_t	r;

	for (i = 0; i < n; i++) {
		pfds[i].fd = s[i].eof ? -1 : s[i].fd;
		pfds[i].events = POLLIN;
		if (!s[i].shut && s[i].sent - s[i].got < window)
			pfds[i].events |= POLLOUT;
	}
	ck_assert_int_ge(poll(pfds, (nfds_t)n, 1000), 0);
	for (i = 0; i < n; i++) {
		if (s[i].eof) {
			done++;
			continue;
		}
		if (pfds[i].revents & POLLOUT) {
			size_t want = len - s[i].sent;

			if (want > piece)
				want = piece;
			r = send(s[i].fd, data + s[i].sent, want,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			ck_assert_msg(r > 0 || errno == EAGAIN,
			    "client %d: send after %zu bytes: %s", i,
			    s[i].sent, strerror(errno));
			if (r > 0)
				s[i].sent += (size_t)r;
			if (s[i].sent == len) {
				ck_assert_int_eq(shutdown(s[i].fd, SHUT_WR), 0);
				s[i].shut = 1;
			}
		}
		if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv(s[i].fd, buf, sizeof buf, MSG_DONTWAIT);
			ck_assert_msg(r >= 0 || errno == EAGAIN,
			    "client %d: recv after %zu of %zu echoed: %s", i,
			    s[i].got, len, strerror(errno));
			if (r == 0) {
				ck_assert_msg(s[i].got == len, "client %d: "
				    "EOF after %zu of %zu bytes", i, s[i].got,
				    len);
				s[i].eof = 1;
				done++;
			} else if (r > 0) {
				ck_assert_uint_le(s[i].got + (size_t)r, len);
				ck_assert_msg(memcmp(buf, data + s[i].got,
				    (size_t)r) == 0, "client %d: wrong bytes "
				    "at %zu", i, s[i].got);
				s[i].got += (size_t)r;
			}
		}
	}
	return (done);
}

/*
 * The measurement of issue 8: clients each stream 2 MiB in 64 KiB pieces
 * while reading their echo, and SIGTERM lands mid-stream.  Every client
 * gets every byte back and a clean EOF, and the server exits 0.
 */
START_TEST(test_drain_streaming)
{
	const size_t	 len = 2 << 20, piece = 65536, window = 256 << 10;
	int		 n = harness_sanitized() ? 50 : 200, i, done = 0, signalled = 0;
	struct streamer	*s = calloc((size_t)n, sizeof *s);
	struct pollfd	*pfds = calloc((size_t)n, sizeof *pfds);
	char		*data = malloc(len);
	size_t		 total;
	int64_t		 deadline;

	ck_assert(s != NULL && pfds != NULL && data != NULL);
	harness_fill_random(data, len, 8);
	start((const char *const[]){ "--drain-timeout", "60", NULL });
	for (i = 0; i < n; i++)
		s[i].fd = dial();
	deadline = harness_now_ms() + 120000;
	while (done < n && harness_now_ms() < deadline) {
		done = stream_step(s, n, pfds, data, len, piece, window);
		if (!signalled) {
			/* A quarter of everything sent: mid-stream for all. */
			for (total = 0, i = 0; i < n; i++)
				total += s[i].sent;
			if (total >= (size_t)n * len / 4) {
				ck_assert_int_eq(kill(srv.pid, SIGTERM), 0);
				signalled = 1;
			}
		}
	}
	ck_assert(signalled);
	ck_assert_msg(done == n, "%d of %d clients got all their bytes back",
	    done, n);
	ck_assert_int_eq(harness_wait(&srv, T_MS), 0);
	ck_assert_msg(strstr(srv.err, " 0 dropped") != NULL, "%s", srv.err);
	for (i = 0; i < n; i++)
		close(s[i].fd);
	free(s);
	free(pfds);
	free(data);
}
END_TEST

/*
 * At SIGTERM, connections with nothing moving close with FIN at once (within
 * the grace period), one that is mid-exchange is not cut off, and the
 * server exits 0 as soon as the last one closes.
 */
START_TEST(test_drain_idle_and_busy)
{
	enum { N = 500 };
	static int	 idle[N];
	char		 buf[4096], back[4096];
	int		 busy, i, clean = 0;
	int64_t		 t0;

	start(NULL);
	for (i = 0; i < N; i++) {
		idle[i] = dial();
		ck_assert_int_eq(harness_send_all(idle[i], "i", 1, T_MS), 0);
		ck_assert_int_eq(harness_recv_exact(idle[i], buf, 1, T_MS), 0);
	}
	busy = dial();
	harness_fill_random(buf, sizeof buf, 9);
	t0 = harness_now_ms();
	ck_assert_int_eq(kill(srv.pid, SIGTERM), 0);
	/* The busy client goes on talking: each message comes back. */
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(harness_send_all(busy, buf, sizeof buf, T_MS),
		    0);
		ck_assert_int_eq(harness_recv_exact(busy, back, sizeof back,
		    T_MS), 0);
		ck_assert_int_eq(memcmp(buf, back, sizeof buf), 0);
		usleep(20000);
	}
	for (i = 0; i < N; i++) {
		if (wait_close(idle[i], 1000) == 0)
			clean++;
		close(idle[i]);
	}
	ck_assert_msg(clean == N, "%d of %d idle clients saw a clean EOF",
	    clean, N);
	ck_assert_int_lt(harness_now_ms() - t0, 2000);
	ck_assert_int_eq(shutdown(busy, SHUT_WR), 0);
	ck_assert_int_eq(wait_close(busy, T_MS), 0);
	close(busy);
	ck_assert_int_eq(harness_wait(&srv, T_MS), 0);
}
END_TEST

/*
 * A client that goes on sending after the server's FIN (it had not seen it
 * yet) is not reset: what it sends is discarded and counted as dropped
 * until it shuts down too, and its reads see a clean EOF.  A plain close
 * would answer the first of those bytes with RST, failing the second send,
 * and a RST throws away whatever echo the kernel still held.
 */
START_TEST(test_close_is_fin)
{
	static char	 big[1 << 20], back[4096];
	int		 fd;

	harness_fill_random(big, sizeof big, 11);
	start((const char *const[]){ "--idle-timeout", "0.3", NULL });
	fd = dial();
	ck_assert_int_eq(harness_echo_check(fd, big, sizeof big, 0, T_MS), 0);
	/* Idle now: the server's FIN arrives after the timeout. */
	ck_assert_int_eq(wait_close(fd, 3000), 0);
	ck_assert_int_eq(harness_send_all(fd, big, 4096, T_MS), 0);
	usleep(100000);	/* a reset would be back by now */
	ck_assert_msg(send(fd, big, 4096, MSG_NOSIGNAL) == 4096,
	    "second send after the server's FIN: %s", strerror(errno));
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(harness_recv_until_eof(fd, back, sizeof back, 2000),
	    0);
	close(fd);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_msg(strstr(srv.err, " 8192 dropped") != NULL, "%s", srv.err);
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

/* Urgent data is part of the stream: abc, urgent X, def is abcXdef. */
START_TEST(test_urgent_inline)
{
	char	back[8];
	int	fd;

	start(NULL);
	fd = dial();
	ck_assert_int_eq(harness_send_all(fd, "abc", 3, T_MS), 0);
	usleep(50000);
	ck_assert_int_eq(send(fd, "X", 1, MSG_OOB), 1);
	usleep(50000);
	ck_assert_int_eq(harness_send_all(fd, "def", 3, T_MS), 0);
	ck_assert_int_eq(harness_recv_exact(fd, back, 7, T_MS), 0);
	ck_assert_int_eq(memcmp(back, "abcXdef", 7), 0);
	close(fd);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
}
END_TEST

/*
 * A slow reader of a large echo is not idle: it sends len bytes at once
 * (a small receive buffer keeps the echo queued at the server), reads it
 * in pieces of step bytes every gap_ms, then asks once more; only after
 * that does silence close it, a FIN after about one timeout.
 */
static void
slow_reader(const char *timeout, size_t len, size_t step, int gap_ms)
{
	char	*data = malloc(len), *back = malloc(len);
	size_t	 got = 0, want;
	int	 fd;
	int64_t	 t0;

	ck_assert(data != NULL && back != NULL);
	harness_fill_random(data, len, len);
	start((const char *const[]){ "--idle-timeout", timeout,
	    "--max-pending", "4m", NULL });
	fd = harness_connect_rcvbuf("127.0.0.1", srv.ports[0], 16384, T_MS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(harness_send_all(fd, data, len, 30000), 0);
	while (got < len) {
		want = len - got < step ? len - got : step;
		ck_assert_msg(harness_recv_exact(fd, back + got, want, T_MS) ==
		    0, "closed after %zu of %zu bytes (timeout %s)", got, len,
		    timeout);
		got += want;
		usleep((useconds_t)gap_ms * 1000);
	}
	ck_assert_int_eq(memcmp(data, back, len), 0);
	/* Still open: a next request is echoed. */
	ck_assert_int_eq(harness_send_all(fd, "next", 4, T_MS), 0);
	ck_assert_int_eq(harness_recv_exact(fd, back, 4, T_MS), 0);
	t0 = harness_now_ms();
	ck_assert_int_eq(wait_close(fd, 10000), 0);
	ck_assert_int_ge(harness_now_ms() - t0, (int64_t)(atof(timeout) *
	    1000) - 50);
	close(fd);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_msg(strstr(srv.err, " 0 dropped") != NULL, "%s", srv.err);
	free(data);
	free(back);
}

START_TEST(test_idle_slow_reader_fast)
{
	/* 1 MiB at 640 KiB/s, timeout 0.3 s: 1.6 s of reading. */
	slow_reader("0.3", 1 << 20, 16384, 25);
}
END_TEST

START_TEST(test_idle_slow_reader_slow)
{
	/* 2 MiB at 160 KiB/s, timeout 1 s: far less than 1 timeout's worth. */
	slow_reader("1", 2 << 20, 16384, 100);
}
END_TEST

START_TEST(test_idle_slow_reader_tiny)
{
	/* 256 KiB in 4 KiB pieces every 60 ms, timeout 0.5 s. */
	slow_reader("0.5", 256 << 10, 4096, 60);
}
END_TEST

/* A client that never reads is closed once nothing moved for a timeout. */
START_TEST(test_idle_stalled_reader)
{
	int	 hog;
	int64_t	 t0;

	start((const char *const[]){ "--idle-timeout", "0.5",
	    "--max-pending", "64k", "-v", NULL });
	hog = dial_stuck();
	t0 = harness_now_ms();
	ck_assert_int_eq(wait_gone(hog, 5000), 0);
	ck_assert_int_lt(harness_now_ms() - t0, 3000);
	close(hog);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_msg(strstr(srv.err, "idle timeout (client not reading)") !=
	    NULL, "%s", srv.err);
}
END_TEST

/*
 * --max-memory: 2,000 clients that send and never read hold the server to
 * the bound (plus what each connection costs anyway), and a client that
 * reads its echo is still served, 1 MiB within a second.  Run by
 * test-max-memory.sh in a network namespace whose kernel send buffers are
 * small: on this machine's loopback the kernel would otherwise take 4 MiB
 * per connection, 8 GB in all, before the server held anything.
 */
START_TEST(test_max_memory)
{
	enum { N = 2000, OFFER = 512 << 10 };
	static int	 fds[N];
	static size_t	 sent[N];
	static char	 chunk[65536], big[1 << 20];
	long		 rss_idle, rss_full, bound_kb = 64 << 10, limit;
	int		 i, fd, progress, rounds, idle_rounds, sndbuf = 4096;
	int64_t		 t0;
	ssize_t		 r;

	if (harness_sanitized())
		setenv("ASAN_OPTIONS", "quarantine_size_mb=1", 1);
	memset(chunk, 'n', sizeof chunk);
	harness_fill_random(big, sizeof big, 12);
	start((const char *const[]){ "--max-memory", "64m", NULL });
	for (i = 0; i < N; i++) {
		fds[i] = harness_connect_rcvbuf("127.0.0.1", srv.ports[0],
		    4096, T_MS);
		ck_assert_int_ge(fds[i], 0);
		/* Keep what waits on our side small: the server holds it. */
		setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof sndbuf);
	}
	usleep(200000);
	rss_idle = harness_rss_kb(srv.pid);
	/* Offer OFFER bytes on each (256 MiB in all) until none moves. */
	for (rounds = 0, idle_rounds = 0; idle_rounds < 3 && rounds < 2000;
	    rounds++) {
		progress = 0;
		for (i = 0; i < N; i++) {
			size_t want = OFFER - sent[i];

			if (want > sizeof chunk)
				want = sizeof chunk;
			if (want == 0)
				continue;
			r = send(fds[i], chunk, want, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
			if (r > 0) {
				sent[i] += (size_t)r;
				progress = 1;
			} else
				ck_assert_msg(errno == EAGAIN, "send: %s",
				    strerror(errno));
		}
		idle_rounds = progress ? 0 : idle_rounds + 1;
		if (!progress)
			usleep(200000);	/* let the server catch up */
	}
	rss_full = harness_rss_kb(srv.pid);
	kill(srv.pid, SIGUSR1);
	limit = (long)((double)(rss_idle + bound_kb) * 1.3);
	if (harness_sanitized())
		limit *= 2;	/* shadow memory and redzones */
	printf("max-memory: server RSS %ld KiB with 2,000 connections idle, "
	    "%ld KiB holding what they pushed; limit %ld KiB\n", rss_idle,
	    rss_full, limit);
	fflush(stdout);
	ck_assert_msg(rss_full <= limit, "server RSS %ld KiB, bound %ld KiB "
	    "(idle %ld KiB + 64 MiB, 30%% slack)", rss_full, limit, rss_idle);

	fd = dial();
	t0 = harness_now_ms();
	ck_assert_int_eq(harness_echo_check(fd, big, sizeof big, 0, T_MS), 0);
	ck_assert_int_lt(harness_now_ms() - t0, harness_sanitized() ? 3000 : 1000);
	close(fd);
	for (i = 0; i < N; i++)
		close(fds[i]);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
	ck_assert_msg(strstr(srv.err, "--max-memory reached") != NULL, "%s",
	    srv.err);
	ck_assert_msg(harness_count_lines(srv.err, "--max-memory reached") <=
	    20, "warning flood");
}
END_TEST

static Suite *
drain_suite(void)
{
	Suite	*s = suite_create("drain");
	TCase	*tc = tcase_create("drain");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_drain_streaming);
	tcase_add_test(tc, test_drain_idle_and_busy);
	tcase_add_test(tc, test_close_is_fin);
	tcase_add_test(tc, test_urgent_inline);
	tcase_add_test(tc, test_idle_slow_reader_fast);
	tcase_add_test(tc, test_idle_slow_reader_slow);
	tcase_add_test(tc, test_idle_slow_reader_tiny);
	tcase_add_test(tc, test_idle_stalled_reader);
	suite_add_tcase(s, tc);
	if (getenv("EVECHO_MEMORY_NETNS") != NULL) {
		tc = tcase_create("memory");
		tcase_set_timeout(tc, 180);
		tcase_add_test(tc, test_max_memory);
		suite_add_tcase(s, tc);
	}
	return (s);
}

int
main(void)
{
	return (harness_run_suite(drain_suite()));
}
