/*
 * check_fault.c: the fault suite.  Each test starts a real server on
 * 127.0.0.1:0, counts its descriptors, runs one bounded attack, and then
 * asserts that the server still echoes byte-exact for a fresh client, that
 * its descriptors are back to the count before the attack (polled, within
 * a settle time), and that no byte it echoed during the attack was wrong.
 * Each prints what it measured, for the log.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "harness.h"

#define T_MS		10000	/* the deadline for one exchange */
#define SETTLE_MS	10000	/* for descriptors to come back */

static struct harness_proc	srv;
static int			baseline;
static int64_t			t_start;

/* Start a server with extra args, note its descriptors and the time. */
static void
start(const char *const extra[])
{
	ck_assert_msg(harness_server_start(&srv, extra) == 0,
	    "evecho-server did not become ready");
	baseline = fault_fd_count(srv.pid);
	ck_assert_int_gt(baseline, 0);
	t_start = harness_now_ms();
}

/*
 * After the attack: the descriptors settle back to the baseline, a fresh
 * client is echoed exactly, and SIGTERM gives exit 0.  Prints the figures.
 */
static void
finish(const char *name)
{
	int64_t	t_attack = harness_now_ms() - t_start, t0;
	long	rss = harness_rss_kb(srv.pid);
	int	fds;

	t0 = harness_now_ms();
	fds = fault_fd_settle(srv.pid, baseline, SETTLE_MS);
	printf("%s: attack %lld ms; fds %d before, %d after (settled in "
	    "%lld ms); RSS %ld KiB\n", name, (long long)t_attack, baseline,
	    fds, (long long)(harness_now_ms() - t0), rss);
	ck_assert_msg(fds == baseline, "%s: %d descriptors, %d before", name,
	    fds, baseline);
	ck_assert_msg(fault_echo_ok(srv.ports[0], 77) == 0,
	    "%s: a fresh client was not echoed exactly", name);
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, 30000), 0);
	printf("%s: accepted %lld, rejected %lld, refused per source %lld, "
	    "bytes dropped %lld\n", name,
	    fault_counter(srv.err, "exit", "accepted"),
	    fault_counter(srv.err, "exit", "rejected"),
	    fault_counter(srv.err, "exit", "refused"),
	    fault_counter(srv.err, "exit", "dropped"));
	fflush(stdout);
}

/*
 * 2,000 connections each send 64 KiB, check the first 4 KiB of their
 * echo, and reset (SO_LINGER 0) with the rest in flight.
 */
START_TEST(test_reset_storm)
{
	enum { N = 2000, BATCH = 100, LEN = 64 << 10, CHECK = 4096 };
	static char	buf[LEN + N], back[CHECK];
	int		fds[BATCH], i, j;

	harness_fill_random(buf, sizeof buf, 2000);
	start(NULL);
	for (i = 0; i < N; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			fds[j] = harness_connect("127.0.0.1", srv.ports[0],
			    T_MS);
			ck_assert_msg(fds[j] >= 0, "connect %d: %s", i + j,
			    strerror(errno));
			ck_assert_int_eq(harness_send_all(fds[j], buf + i + j,
			    LEN, T_MS), 0);
		}
		for (j = 0; j < BATCH; j++) {
			ck_assert_int_eq(harness_recv_exact(fds[j], back,
			    CHECK, T_MS), 0);
			ck_assert_msg(memcmp(back, buf + i + j, CHECK) == 0,
			    "conn %d: wrong bytes echoed", i + j);
			fault_reset(fds[j]);
		}
	}
	finish("reset storm");
	ck_assert_int_ge(fault_counter(srv.err, "exit", "accepted"), N + 1);
}
END_TEST

/*
 * 10,000 connects from 127.0.0.5 (its own ports and TIME_WAITs), closed
 * at once in batches of 250: odd ones silent, even ones after sending
 * 100 bytes they never read back.
 */
START_TEST(test_connect_close_storm)
{
	enum { N = 10000, BATCH = 250 };
	char	msg[100];
	int	fds[BATCH], i, j;

	memset(msg, 'c', sizeof msg);
	start(NULL);
	for (i = 0; i < N; i += BATCH) {
		for (j = 0; j < BATCH; j++) {
			fds[j] = fault_connect_from("127.0.0.5", srv.ports[0],
			    T_MS);
			ck_assert_msg(fds[j] >= 0, "connect %d: %s", i + j,
			    strerror(errno));
			if ((j & 1) == 0)
				ck_assert_int_eq(harness_send_all(fds[j], msg,
				    sizeof msg, T_MS), 0);
		}
		for (j = 0; j < BATCH; j++)
			close(fds[j]);
	}
	finish("connect/close storm");
	ck_assert_int_ge(fault_counter(srv.err, "exit", "accepted"), N + 1);
}
END_TEST

/* Connect n clients from src; the first over a limit are closed at once. */
static void
dial_many(int *fds, int n, const char *src)
{
	int	i;

	for (i = 0; i < n; i++) {
		fds[i] = fault_connect_from(src, srv.ports[0], T_MS);
		ck_assert_msg(fds[i] >= 0, "connect from %s: %s", src,
		    strerror(errno));
	}
}

/*
 * Poll fds[0..n) for up to timeout_ms, marking those the server closed
 * (EOF or reset) in closed[], until want are closed and then quiet_ms
 * more pass without another.  Returns how many are closed.
 */
static int
reap_closed(const int *fds, int n, char *closed, int want, int timeout_ms,
    int quiet_ms)
{
	struct pollfd	*pfd = calloc((size_t)n, sizeof *pfd);
	int64_t		 deadline, quiet = 0;
	int		 i, count = 0;
	char		 c;

	ck_assert_ptr_nonnull(pfd);
	deadline = harness_now_ms() + timeout_ms;
	for (i = 0; i < n; i++)
		count += closed[i] != 0;
	while (harness_now_ms() < deadline) {
		if (count >= want && quiet == 0)
			quiet = harness_now_ms() + quiet_ms;
		if (quiet != 0 && harness_now_ms() >= quiet)
			break;
		for (i = 0; i < n; i++) {
			pfd[i].fd = closed[i] ? -1 : fds[i];
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0) {
				closed[i] = 1;
				count++;
				quiet = 0;
			}
		}
	}
	free(pfd);
	return (count);
}

/*
 * One round of the slow drip: every open client sends one byte and must
 * get exactly it back within timeout_ms; none may be closed.
 */
static void
drip_round(const int *fds, int n, int round, int timeout_ms)
{
	struct pollfd	*pfd = calloc((size_t)n, sizeof *pfd);
	char		*done = calloc((size_t)n, 1);
	int64_t		 deadline = harness_now_ms() + timeout_ms;
	int		 i, left = n;
	unsigned char	 b;
	ssize_t		 r;

	ck_assert(pfd != NULL && done != NULL);
	for (i = 0; i < n; i++) {
		b = (unsigned char)(i * 7 + round);
		ck_assert_msg(send(fds[i], &b, 1, MSG_NOSIGNAL) == 1,
		    "round %d: client %d: send: %s", round, i, strerror(errno));
	}
	while (left > 0) {
		ck_assert_msg(harness_now_ms() < deadline,
		    "round %d: %d echoes missing", round, left);
		for (i = 0; i < n; i++) {
			pfd[i].fd = done[i] ? -1 : fds[i];
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = recv(fds[i], &b, 1, MSG_DONTWAIT);
			ck_assert_msg(r == 1, "round %d: client %d closed "
			    "(%s)", round, i, r == 0 ? "EOF" : strerror(errno));
			ck_assert_msg(b == (unsigned char)(i * 7 + round),
			    "round %d: client %d: wrong byte", round, i);
			done[i] = 1;
			left--;
		}
	}
	free(pfd);
	free(done);
}

/* The sum of the counts in the per-source refusal warnings. */
static long long
warned_sum(const char *text)
{
	const char	*p = text;
	long long	 sum = 0;

	/* Per-source lines only: --max-conns refusals have their own. */
	while ((p = strstr(p, "warning: refused ")) != NULL) {
		const char *eol = strchr(p, '\n'), *cap;

		p += strlen("warning: refused ");
		cap = strstr(p, "--max-conns-per-source");
		if (cap != NULL && (eol == NULL || cap < eol))
			sum += strtoll(p, NULL, 10);
	}
	return (sum);
}

/*
 * Slowloris: 2,700 clients from four loopback sources, each admitted one
 * sending a byte a second.  --max-conns-per-source 800 turns 400 of
 * 127.0.0.2's 1,200 away at once; 127.0.0.3 and 127.0.0.4 still get in;
 * --max-conns then turns all 300 from 127.0.0.5 away.  The 2,000 slow
 * clients outlive several --idle-timeouts, while a silent one does not.
 * "At once" is within AT_ONCE_MS, well inside the idle timeout, so a
 * refusal cannot be confused with an idle close.
 */
START_TEST(test_slowloris)
{
	enum { N2 = 1200, N3 = 800, N4 = 400, N5 = 300, CAP = 800,
	    NIN = CAP + N3 + N4, ROUNDS = 10, AT_ONCE_MS = 2000 };
	static int	fds2[N2], fds3[N3], fds4[N4], fds5[N5], in[NIN];
	static char	closed2[N2], closed3[N3], closed5[N5];
	int		silent, i, nin = 0, round, got, fd, tries;
	long long	sum;
	int64_t		t0, t_round;
	char		c, quiet[1] = { 0 };

	start((const char *const[]){ "--idle-timeout", "3",
	    "--max-conns", "2001", "--max-conns-per-source", "800", NULL });
	silent = harness_connect("127.0.0.1", srv.ports[0], T_MS);
	ck_assert_int_ge(silent, 0);

	t0 = harness_now_ms();
	dial_many(fds2, N2, "127.0.0.2");
	got = reap_closed(fds2, N2, closed2, N2 - CAP, AT_ONCE_MS, 500);
	printf("slowloris: 127.0.0.2: %d of %d closed at once over the "
	    "per-source cap (%lld ms)\n", got, N2,
	    (long long)(harness_now_ms() - t0));
	ck_assert_int_eq(got, N2 - CAP);
	for (i = 0; i < N2; i++) {
		if (closed2[i])
			close(fds2[i]);
		else
			in[nin++] = fds2[i];
	}
	/* Other sources are not held back by the first one's cap. */
	dial_many(fds3, N3, "127.0.0.3");
	dial_many(fds4, N4, "127.0.0.4");
	memcpy(in + nin, fds3, sizeof fds3);
	memcpy(in + nin + N3, fds4, sizeof fds4);
	nin += N3 + N4;
	ck_assert_int_eq(nin, NIN);
	drip_round(in, nin, 0, T_MS);
	ck_assert_int_eq(reap_closed(fds3, N3, closed3, 0, 100, 100), 0);

	/* Every slot is taken: --max-conns turns the next ones away. */
	t0 = harness_now_ms();
	dial_many(fds5, N5, "127.0.0.5");
	got = reap_closed(fds5, N5, closed5, N5, AT_ONCE_MS, 300);
	printf("slowloris: 127.0.0.5: %d of %d closed at once over "
	    "--max-conns (%lld ms)\n", got, N5,
	    (long long)(harness_now_ms() - t0));
	ck_assert_int_eq(got, N5);
	for (i = 0; i < N5; i++)
		close(fds5[i]);

	/* A byte a second for 10 s: three idle timeouts, nobody idle. */
	t0 = harness_now_ms();
	for (round = 1; round <= ROUNDS; round++) {
		t_round = harness_now_ms();
		drip_round(in, nin, round, T_MS);
		while (harness_now_ms() - t_round < 1000)
			usleep(20000);
	}
	printf("slowloris: %d clients, %d one-byte rounds over %lld ms with "
	    "--idle-timeout 3: none closed\n", nin, ROUNDS,
	    (long long)(harness_now_ms() - t0));
	/* The timeout is live: the silent client was closed. */
	ck_assert_int_eq(reap_closed(&silent, 1, quiet, 1, 100, 0), 1);
	close(silent);

	/* Closing some of 127.0.0.2's gives it room again. */
	for (i = 0; i < 100; i++)
		close(in[i]);
	for (tries = 0; tries < 50; tries++) {
		fd = fault_connect_from("127.0.0.2", srv.ports[0], T_MS);
		ck_assert_int_ge(fd, 0);
		if (harness_send_all(fd, "r", 1, T_MS) == 0 &&
		    harness_recv_exact(fd, &c, 1, 500) == 0 && c == 'r') {
			close(fd);
			break;
		}
		close(fd);
		usleep(50000);
	}
	ck_assert_int_lt(tries, 50);
	for (i = 100; i < nin; i++)
		close(in[i]);

	finish("slowloris");
	ck_assert_int_ge(fault_counter(srv.err, "exit", "refused"), N2 - CAP);
	ck_assert_int_ge(fault_counter(srv.err, "exit", "rejected"), N5);
	/* Refusals are logged with their count, at most once a second. */
	got = harness_count_lines(srv.err, "over --max-conns-per-source");
	sum = warned_sum(srv.err);
	printf("slowloris: %d per-source warnings in %lld s, counting %lld "
	    "refusals\n", got, (long long)((harness_now_ms() - t_start) / 1000),
	    sum);
	ck_assert_int_ge(got, 1);
	ck_assert_int_le(got, 1 + (harness_now_ms() - t_start) / 1000);
	ck_assert_int_eq(sum, fault_counter(srv.err, "exit", "refused"));
}
END_TEST

struct signaller {
	pid_t		 pid;
	int		 err_fd;
	int		 count;		/* signals to send */
	volatile int	 sent;		/* all signals are out */
	volatile int	 stop;
	char		*log;	/* what the server wrote meanwhile */
	size_t		 len, size;
};

/* Read what stderr holds into s->log (or discard it once full). */
static void
signaller_drain(struct signaller *s)
{
	char	scratch[65536];
	ssize_t	n;

	while ((n = read(s->err_fd, scratch, sizeof scratch)) > 0) {
		if (s->len + (size_t)n < s->size) {
			memcpy(s->log + s->len, scratch, (size_t)n);
			s->len += (size_t)n;
		}
	}
}

/*
 * Send SIGUSR1 in a tight loop (100 us apart, so most are delivered and
 * not merged by the kernel), then keep stderr drained until told.
 */
static void *
signaller_main(void *arg)
{
	struct signaller	*s = arg;
	int			 i;

	for (i = 0; i < s->count; i++) {
		kill(s->pid, SIGUSR1);
		if (i % 16 == 0)
			signaller_drain(s);
		usleep(100);
	}
	s->sent = 1;
	while (!s->stop) {
		signaller_drain(s);
		usleep(5000);
	}
	signaller_drain(s);
	s->log[s->len] = '\0';
	return (NULL);
}

/*
 * SIGUSR1 3,000 times during a full-duplex transfer of at least 64 MiB in
 * 8 MiB rounds, going on until the last signal is out: the transfer stays
 * byte-exact, the server alive, and SIGTERM gives exit 0.  A thread keeps
 * the server's stderr drained: each signal handled logs a line.
 */
START_TEST(test_sigusr1_loop)
{
	size_t			 len = 8 << 20, total = 0;
	size_t			 min;
	char			*buf = malloc(len);
	struct signaller	 s;
	pthread_t		 thr;
	int			 fd, lines, round = 0;
	int64_t			 t0;

	ck_assert_ptr_nonnull(buf);
	min = (size_t)(harness_sanitized() ? 32 : 64) << 20;
	start(NULL);
	memset(&s, 0, sizeof s);
	s.pid = srv.pid;
	s.err_fd = srv.err_fd;
	s.count = 3000;
	s.size = 4 << 20;
	s.log = malloc(s.size + 1);
	ck_assert_ptr_nonnull(s.log);
	fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);
	ck_assert_int_ge(fd, 0);
	t0 = harness_now_ms();
	ck_assert_int_eq(pthread_create(&thr, NULL, signaller_main, &s), 0);
	while (total < min || !s.sent) {
		harness_fill_random(buf, len, (uint64_t)round++);
		ck_assert_msg(harness_echo_check(fd, buf, len, 0, 30000) == 0,
		    "round %d under SIGUSR1 was not byte-exact", round);
		total += len;
		ck_assert_int_lt(harness_now_ms() - t0, 120000);
	}
	close(fd);
	s.stop = 1;
	ck_assert_int_eq(pthread_join(thr, NULL), 0);
	lines = harness_count_lines(s.log, "info: stats: ");
	printf("SIGUSR1 loop: %d signals sent, %d stats lines logged during "
	    "%zu MiB echoed in %lld ms\n", s.count, lines, total >> 20,
	    (long long)(harness_now_ms() - t0));
	ck_assert_int_ge(lines, 10);
	free(s.log);
	free(buf);
	finish("SIGUSR1 loop");
}
END_TEST

static Suite *
fault_suite(void)
{
	Suite	*s = suite_create("fault");
	TCase	*tc = tcase_create("fault");

	/* ASan's build is slower; every wait inside is bounded anyway. */
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_reset_storm);
	tcase_add_test(tc, test_connect_close_storm);
	tcase_add_test(tc, test_slowloris);
	tcase_add_test(tc, test_sigusr1_loop);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (harness_run_suite(fault_suite()));
}
