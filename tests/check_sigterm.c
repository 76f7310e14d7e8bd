/*
 * check_sigterm.c: SIGTERM under load.  2,000 clients stream 256 KiB each in
 * 16 KiB pieces while reading their echo, and 5,000 sit idle.  On SIGTERM
 * the server must stop accepting; each streaming client must get all of
 * its bytes back and then a clean EOF (FIN, not RST) after it shuts down
 * its sending side; each idle client must see a clean EOF within a second;
 * and the server must exit 0.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "harness.h"

#define T_MS		10000
#define NSTREAM		2000
#define NIDLE		5000
#define LEN		(256 << 10)
#define PIECE		(16 << 10)
#define BEFORE_TERM	(64 << 10)	/* each has sent this much first */

struct streamer {
	int	fd;
	size_t	sent, got;
	int	shut, eof, failed;
};

struct idler {
	int	fd;
	int	eof, failed;
	int64_t	at;		/* when it closed */
};

static struct harness_proc	srv;
static struct streamer		st[NSTREAM];
static struct idler		id[NIDLE];
static struct pollfd		pfd[NSTREAM + NIDLE];
static char			buf[LEN + NSTREAM];

/* Send the next part of this streamer's current 16 KiB piece. */
static void
stream_send(struct streamer *s, int i)
{
	size_t	piece_end = (s->sent / PIECE + 1) * PIECE;
	ssize_t	n;

	if (piece_end > LEN)
		piece_end = LEN;
	n = send(s->fd, buf + i + s->sent, piece_end - s->sent,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		s->sent += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		s->failed = errno;
	if (s->sent == LEN && !s->shut && !s->failed) {
		if (shutdown(s->fd, SHUT_WR) != 0)
			s->failed = errno;
		s->shut = 1;
	}
}

/* Read this streamer's echo and check it; EOF counts only after all. */
static void
stream_recv(struct streamer *s, int i)
{
	char	chunk[65536];
	ssize_t	n;

	n = recv(s->fd, chunk, sizeof chunk, MSG_DONTWAIT);
	if (n > 0) {
		if (s->got + (size_t)n > LEN ||
		    memcmp(chunk, buf + i + s->got, (size_t)n) != 0)
			s->failed = -1;
		s->got += (size_t)n;
	} else if (n == 0) {
		s->eof = 1;
		if (s->got != LEN || !s->shut)
			s->failed = -2;
	} else if (errno != EAGAIN && errno != EINTR)
		s->failed = errno;
}

/* A streamer is done once it failed or saw EOF after all its bytes. */
static int
stream_done(const struct streamer *s)
{
	return (s->failed != 0 || s->eof);
}

/* One poll over everyone still running; returns how many are done. */
static int
step(int with_idle)
{
	int	i, n = 0, done = 0;
	ssize_t	r;
	char	c;

	for (i = 0; i < NSTREAM; i++) {
		pfd[n].fd = stream_done(&st[i]) ? -1 : st[i].fd;
		pfd[n].events = POLLIN | (st[i].sent < LEN ? POLLOUT : 0);
		n++;
	}
	for (i = 0; i < NIDLE; i++) {
		pfd[n].fd = with_idle && !id[i].eof && !id[i].failed ?
		    id[i].fd : -1;
		pfd[n].events = POLLIN;
		n++;
	}
	if (poll(pfd, (nfds_t)n, 100) > 0) {
		for (i = 0; i < NSTREAM; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (pfd[i].revents & POLLOUT)
				stream_send(&st[i], i);
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				stream_recv(&st[i], i);
		}
		for (i = 0; i < NIDLE; i++) {
			if (pfd[NSTREAM + i].fd < 0 ||
			    pfd[NSTREAM + i].revents == 0)
				continue;
			r = recv(id[i].fd, &c, 1, MSG_DONTWAIT);
			if (r == 0) {
				id[i].eof = 1;
				id[i].at = harness_now_ms();
			} else if (r > 0 || (errno != EAGAIN && errno != EINTR))
				id[i].failed = r > 0 ? -1 : errno;
		}
	}
	for (i = 0; i < NSTREAM; i++)
		done += stream_done(&st[i]);
	return (done);
}

/* Whether every streamer has sent at least min bytes (or failed). */
static int
all_sent(size_t min)
{
	int	i;

	for (i = 0; i < NSTREAM; i++) {
		if (st[i].sent < min && !st[i].failed)
			return (0);
	}
	return (1);
}

START_TEST(test_sigterm_under_load)
{
	int64_t	t_term, deadline;
	int	i, fd, ok = 0, reset = 0, short_ = 0, wrong = 0;
	int	idle_ok = 0, idle_late = 0, idle_bad = 0, rc;
	int	refused_new;
	/* ASan's server takes rounds of 2,000 streams several times slower. */
	int	idle_ms = harness_sanitized() ? 3000 : 1000;

	harness_fill_random(buf, sizeof buf, 8);
	ck_assert_int_eq(harness_server_start(&srv, (const char *const[]){
	    "--drain-timeout", "30", NULL }), 0);
	for (i = 0; i < NIDLE; i++) {
		id[i].fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);
		ck_assert_msg(id[i].fd >= 0, "idle %d: %s", i, strerror(errno));
	}
	for (i = 0; i < NSTREAM; i++) {
		st[i].fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);
		ck_assert_msg(st[i].fd >= 0, "streamer %d: %s", i,
		    strerror(errno));
	}
	/* Mid-transfer: everyone has sent a quarter and is still sending. */
	deadline = harness_now_ms() + 60000;
	while (!all_sent(BEFORE_TERM) && harness_now_ms() < deadline)
		step(0);
	ck_assert_msg(all_sent(BEFORE_TERM), "the transfer did not start");
	kill(srv.pid, SIGTERM);
	t_term = harness_now_ms();

	deadline = t_term + 60000;
	refused_new = -1;
	while (step(1) < NSTREAM && harness_now_ms() < deadline) {
		/* Half a second on, a new connect finds nobody listening. */
		if (refused_new == -1 && harness_now_ms() - t_term > 500) {
			fd = harness_connect("127.0.0.1", srv.ports[0], 2000);
			refused_new = fd < 0;
			if (fd >= 0)
				close(fd);
		}
	}
	/* The idle ones that have not closed yet get a last moment. */
	while (harness_now_ms() < t_term + idle_ms + 500)
		step(1);
	if (refused_new == -1) {
		fd = harness_connect("127.0.0.1", srv.ports[0], 2000);
		refused_new = fd < 0;
		if (fd >= 0)
			close(fd);
	}

	for (i = 0; i < NSTREAM; i++) {
		if (st[i].eof && !st[i].failed)
			ok++;
		else if (st[i].failed == ECONNRESET || st[i].failed == EPIPE)
			reset++;
		else if (st[i].failed == -1)
			wrong++;
		else
			short_++;
		close(st[i].fd);
	}
	for (i = 0; i < NIDLE; i++) {
		if (id[i].eof && id[i].at - t_term <= idle_ms)
			idle_ok++;
		else if (id[i].eof)
			idle_late++;
		else
			idle_bad++;
		close(id[i].fd);
	}
	rc = harness_wait(&srv, 30000);
	harness_stop(&srv, SIGKILL, 1000);
	printf("SIGTERM under load: streamers %d complete + clean EOF, %d "
	    "reset, %d short, %d wrong bytes; idle %d EOF within %d ms, %d "
	    "later, %d reset or open; new connect refused: %d; exit %d\n",
	    ok, reset, short_, wrong, idle_ok, idle_ms, idle_late, idle_bad,
	    refused_new, rc);
	fflush(stdout);
	ck_assert_int_eq(wrong, 0);
	ck_assert_int_eq(refused_new, 1);
	ck_assert_int_eq(ok, NSTREAM);
	ck_assert_int_eq(idle_ok, NIDLE);
	ck_assert_int_eq(rc, 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("drain");
	TCase	*tc = tcase_create("sigterm");

	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_sigterm_under_load);
	suite_add_tcase(s, tc);
	return (harness_run_suite(s));
}
