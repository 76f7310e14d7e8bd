/*
 * benchmark-conn.c: the life of one benchmark connection, in every mode:
 * connect, send, read and check, close.  The mode's rules (what to send,
 * what a message is) come from bench_config.mode (benchmark-mode.c).
 *
 * Raw events rather than bufferevents: the bytes sent come straight from
 * the pattern table (pattern.c) and the bytes received are read into one
 * scratch buffer per thread and compared there, so a connection holds no
 * data at all, and a message costs one send and one recv.  A connection
 * keeps stream offsets instead: sent (handed to the kernel), target (what
 * the issued messages add up to) and recvd (echoed and checked).
 *
 * Every connection ends in conn_close(), with a reason that says what to
 * count; in connect mode the slot then starts its next connection.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "benchmark-conn.h"
#include "clock.h"
#include "log.h"
#include "pattern.h"
#include "sock.h"

static int	conn_setup(struct bench_conn *, struct bench_thread *,
		    uint64_t);
static void	conn_free(struct bench_conn *);
static void	conn_send_first(struct bench_conn *, uint64_t);
static void	conn_sweep(struct bench_conn *, uint64_t);
static void	conn_stop(struct bench_conn *);
static void	conn_start(struct bench_conn *, uint64_t);
static void	conn_flush(struct bench_conn *, uint64_t);
static void	conn_received_bad(struct bench_conn *, const unsigned char *,
		    size_t, uint64_t);
static void	conn_received(struct bench_conn *, const unsigned char *,
		    size_t);
static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_greet_read_cb(evutil_socket_t, short, void *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static int	conn_reconnect(struct bench_conn *, uint64_t);

const struct bench_flow_ops conn_flow = {
	bench_pick_target, conn_setup, conn_free, conn_begin,
	conn_send_first, conn_sweep, conn_stop
};

/* Arm ev to fire after us microseconds. */
void
conn_arm(struct event *ev, uint64_t us)
{
	struct timeval	tv = clock_timeval(us);

	event_add(ev, &tv);
}

/*
 * Start slot c's next connection, unless the run is over or, where each
 * connection is one message (connect mode) with -n, the budget is spent.
 */
void
conn_begin(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;

	if (LIVE_GET(bench_stop)) {
		thread_slot_done(thr);
		return;
	}
	if (bench_config.mode->flags & MODE_RECYCLES) {
		if (thr->budget == 0) {
			thread_slot_done(thr);
			return;
		}
		thr->budget--;
	}
	conn_start(c, now);
}

/* Note bad bytes echoed at stream offset off of c (the message's too). */
static void
conn_mismatch(struct bench_conn *c, uint64_t off, uint64_t bad,
    const unsigned char *got, uint64_t now)
{
	struct bench_stats	*st = &c->thr->stats;

	if (st->first_bad_ns == 0) {
		st->first_bad_ns = now;
		st->first_bad_conn = c->id;
		st->first_bad_offset = off;
		if (got != NULL) {
			log_warnx("connection %llu: echoed byte at offset %llu "
			    "is 0x%02x, sent 0x%02x", (unsigned long long)c->id,
			    (unsigned long long)off, *got,
			    pattern_byte(c->id, off));
		} else {
			log_warnx("connection %llu: %llu bytes echoed beyond "
			    "offset %llu, more than was sent",
			    (unsigned long long)c->id, (unsigned long long)bad,
			    (unsigned long long)off);
		}
	}
	st->mismatched_bytes += bad;
	c->msg_bad = 1;
}

/*
 * The socket slot c opens: a connection or a UDP flow, bound to the
 * --source of its turn (round-robin by slot) if there are any; -1 with
 * *cause set on failure.
 */
int
conn_socket(const struct bench_conn *c,
    int (*open)(const struct sockaddr *, socklen_t, const struct sockaddr *,
    socklen_t, char **), char **cause)
{
	const struct bench_source	*src = NULL;

	if (bench_config.nsources > 0)
		src = &bench_config.sources[c->index % bench_config.nsources];
	return (open((struct sockaddr *)&bench_config.target,
	    bench_config.target_len, src != NULL ?
	    (const struct sockaddr *)&src->ss : NULL,
	    src != NULL ? src->len : 0, cause));
}

/* Begin a connection in slot c. */
static void
conn_start(struct bench_conn *c, uint64_t now)
{
	struct bench_thread		*thr = c->thr;
	char				*cause = NULL;

	c->id = c->index + c->gen * bench_config.conns;
	c->gen++;
	c->sent = c->target = c->recvd = 0;
	c->issued = c->done = 0;
	c->marked = c->msg_bad = 0;
	c->started_ns = c->last_ns = now;
	c->state = CONN_CONNECTING;
	thr->connecting++;
	LIVE_ADD(thr->live.connecting, 1);
	c->fd = conn_socket(c, sock_connect_start, &cause);
	if (c->fd == -1) {
		conn_close(c, WHY_CONNECT, cause);
		free(cause);
		return;
	}
	event_assign(c->rev, thr->base, c->fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	event_assign(c->wev, thr->base, c->fd, EV_WRITE, conn_write_cb, c);
	event_add(c->wev, NULL);
	c->wev_pending = 1;
}

/* The connect finished: count it open and send its first messages. */
static void
conn_opened(struct bench_conn *c)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 now = bench_now();

	c->state = CONN_OPEN;
	c->retry_us = 0;		/* --reconnect: it worked */
	thr->connecting--;
	LIVE_ADD(thr->live.connecting, -1);
	LIVE_ADD(thr->live.open, 1);
	event_add(c->rev, NULL);
	c->last_ns = now;
	/* Unless sending waits until every connection is open. */
	if (thr->go)
		conn_send_first(c, now);
	thread_start_pending(thr, now);
}

/* Issue and send c's first messages; close it if there are none. */
static void
conn_send_first(struct bench_conn *c, uint64_t now)
{
	bench_config.mode->issue(c, now);
	if (c->target == 0 && c->thr->budget == 0) {
		conn_close(c, WHY_DONE, NULL);
		return;
	}
	conn_flush(c, now);
}

/* Send what c has issued and not yet sent, straight from the pattern. */
static void
conn_flush(struct bench_conn *c, uint64_t now)
{
	const unsigned char	*p;
	size_t			 run, want;
	ssize_t			 n;
	int			 blocked = 0;

	while (c->sent < c->target) {
		p = pattern_at(c->id, c->sent, &run);
		want = c->target - c->sent < run ? c->target - c->sent : run;
		n = send(c->fd, p, want, MSG_NOSIGNAL);
		if (n > 0) {
			c->sent += (uint64_t)n;
			if ((size_t)n < want) {
				blocked = 1;	/* the kernel is full: wait */
				break;
			}
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			blocked = 1;
			break;
		}
		conn_close(c, errno == EPIPE || errno == ECONNRESET ?
		    WHY_RESET : WHY_ERROR, strerror(errno));
		return;
	}
	if (bench_config.mode->sent != NULL)
		bench_config.mode->sent(c, now);
	if (blocked && !c->wev_pending) {
		event_add(c->wev, NULL);
		c->wev_pending = 1;
	}
}

/* Count the messages c's newly echoed bytes complete, then send more. */
static void
conn_complete(struct bench_conn *c, uint64_t now)
{
	if (bench_config.mode->complete(c, now))
		return;
	bench_config.mode->issue(c, now);
	if (c->recvd == c->target && c->thr->budget == 0) {
		/* Nothing in flight and nothing more to send: -n is met. */
		conn_close(c, WHY_DONE, NULL);
		return;
	}
	conn_flush(c, now);
}

/* Check n bytes echoed on c against the pattern and account for them. */
static void
conn_received(struct bench_conn *c, const unsigned char *buf, size_t n)
{
	uint64_t	now = bench_now(), bad, extra = 0;
	size_t		first = 0, valid = n;

	if (c->recvd + n > c->sent) {
		extra = c->recvd + n - c->sent;
		valid = n - (size_t)extra;
	}
	c->last_ns = now;
	bad = pattern_check(c->id, c->recvd, buf, valid, &first);
	if (extra != 0) {
		/* More came back than was sent: the echo is wrong, and over. */
		if (bad != 0)
			conn_mismatch(c, c->recvd + first, bad, buf + first,
			    now);
		conn_mismatch(c, c->sent, extra, NULL, now);
		c->msg_bad = 0;
		c->thr->stats.mismatches++;
		LIVE_ADD(c->thr->live.mismatches, 1);
		conn_close(c, WHY_EXTRA, NULL);
		return;
	}
	if (bad == 0) {
		c->recvd += valid;
		conn_complete(c, now);
	} else
		conn_received_bad(c, buf, valid, now);
}

/*
 * Some of the n bytes echoed on c differ: check and complete them one
 * message at a time, so that each wrong message is counted as a mismatch
 * and every right one as a message.
 */
static void
conn_received_bad(struct bench_conn *c, const unsigned char *buf, size_t n,
    uint64_t now)
{
	uint64_t	size = bench_config.size, gen = c->gen, bad, piece;
	size_t		first;

	while (n > 0 && c->fd != -1 && c->gen == gen) {
		piece = size - c->recvd % size;
		if (piece > n)
			piece = n;
		first = 0;
		bad = pattern_check(c->id, c->recvd, buf, (size_t)piece,
		    &first);
		if (bad != 0)
			conn_mismatch(c, c->recvd + first, bad, buf + first,
			    now);
		c->recvd += piece;
		buf += piece;
		n -= (size_t)piece;
		conn_complete(c, now);
	}
}

/* Bytes, EOF or an error arrived on c. */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	ssize_t			 n;

	n = recv(fd, c->thr->buf, BENCH_READ_BUF, 0);
	if (n > 0) {
		conn_received(c, c->thr->buf, (size_t)n);
		return;
	}
	if (n == 0) {
		conn_close(c, WHY_CLOSED, "closed by the server");
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	conn_close(c, errno == ECONNRESET ? WHY_RESET : WHY_ERROR,
	    strerror(errno));
}

/*
 * --expect-greeting: the connection counts as connecting until the
 * server's first line is in; only then is it open and sent to.
 */
static void
conn_greet_wait(struct bench_conn *c)
{
	if ((c->greet = malloc(BENCH_GREETING_MAX)) == NULL) {
		conn_close(c, WHY_ERROR, "out of memory");
		return;
	}
	c->greet_len = 0;
	event_assign(c->rev, c->thr->base, c->fd, EV_READ | EV_PERSIST,
	    conn_greet_read_cb, c);
	event_add(c->rev, NULL);
}

/*
 * Part of the greeting arrived: once its line is whole, tally it and open
 * the connection.  Bytes after the line, before anything was sent, are
 * more than was sent: conn_received counts them as a mismatch.
 */
static void
conn_greet_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	unsigned char		*rest = c->thr->buf;
	uint64_t		 gen = c->gen;
	size_t			 line, nrest;
	ssize_t			 n;
	char			*nl;

	n = recv(fd, c->greet + c->greet_len, BENCH_GREETING_MAX -
	    c->greet_len, 0);
	if (n == 0) {
		conn_close(c, WHY_CLOSED, "closed by the server before its "
		    "greeting");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_close(c, errno == ECONNRESET ? WHY_RESET :
			    WHY_ERROR, strerror(errno));
		return;
	}
	c->greet_len += (size_t)n;
	if ((nl = memchr(c->greet, '\n', c->greet_len)) == NULL) {
		if (c->greet_len == BENCH_GREETING_MAX)
			conn_close(c, WHY_ERROR, "no greeting: the first 512 "
			    "bytes hold no newline");
		return;
	}
	line = (size_t)(nl - c->greet);
	nrest = c->greet_len - line - 1;
	greet_tally_add(&c->thr->stats.greets, c->greet, line, 1);
	memcpy(rest, nl + 1, nrest);
	free(c->greet);
	c->greet = NULL;
	event_del(c->rev);
	event_assign(c->rev, c->thr->base, c->fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	conn_opened(c);
	if (nrest > 0 && c->fd != -1 && c->gen == gen)
		conn_received(c, rest, nrest);
}

/* c's socket became writable: the connect finished, or room to send. */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;

	c->wev_pending = 0;
	if (c->state == CONN_CONNECTING) {
		if (sock_connect_result(c->fd) != 0) {
			conn_close(c, WHY_CONNECT, strerror(errno));
			return;
		}
		/* From connect() to writable: the handshake, SYN to
		 * established. */
		hist_record(&c->thr->stats.connect_hist,
		    bench_now() - c->started_ns);
		if (bench_config.expect_greeting)
			conn_greet_wait(c);
		else
			conn_opened(c);
		return;
	}
	conn_flush(c, bench_now());
}

/* c's timer: the next --rate message is due, or a retry after an error. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	uint64_t		 now = bench_now();

	if (c->state == CONN_IDLE) {
		conn_begin(c, now);
		return;
	}
	bench_config.mode->issue(c, now);
	conn_flush(c, now);
}

/* Count an error once, and log the first few a thread sees. */
void
conn_count_error(struct bench_conn *c, enum conn_why why, const char *cause)
{
	struct bench_thread	*thr = c->thr;
	struct bench_stats	*st = &thr->stats;
	const char		*what = "error";

	switch (why) {
	case WHY_CONNECT:
		st->connect_errors++;
		what = "connect";
		break;
	case WHY_CLOSED:
		st->closed++;
		what = "closed";
		break;
	case WHY_RESET:
		st->resets++;
		what = "reset";
		break;
	case WHY_TIMEOUT:
		st->timeouts++;
		what = "timeout";
		break;
	case WHY_ERROR:
		st->other_errors++;
		break;
	default:
		return;
	}
	LIVE_ADD(thr->live.errors, 1);
	if (thr->errors_logged++ < BENCH_ERRORS_LOGGED) {
		log_warnx("connection %llu: %s: %s%s",
		    (unsigned long long)c->id, what,
		    cause != NULL ? cause : "no reason given",
		    thr->errors_logged == BENCH_ERRORS_LOGGED ?
		    " (further errors on this thread are only counted)" : "");
	}
}

/*
 * Make close send a reset instead of a FIN.  Connect mode closes first, so
 * a graceful close would leave every connection in TIME_WAIT here for a
 * minute, and the local ports run out after a few thousand connections.
 */
static void
conn_abort(int fd)
{
	struct linger	l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/* End c's connection for why; in connect mode, start the slot's next. */
void
conn_close(struct bench_conn *c, enum conn_why why, const char *cause)
{
	struct bench_thread	*thr = c->thr;
	enum conn_state		 was = c->state;
	uint64_t		 now;

	if (c->fd != -1) {
		event_del(c->rev);
		event_del(c->wev);
		if (bench_config.mode->flags & MODE_RECYCLES)
			conn_abort(c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (c->timer_ev != NULL)
		event_del(c->timer_ev);
	free(c->greet);		/* conn_start sets rev's callback anew */
	c->greet = NULL;
	c->wev_pending = 0;
	c->state = CONN_IDLE;
	if (was == CONN_CONNECTING) {
		thr->connecting--;
		LIVE_ADD(thr->live.connecting, -1);
	} else
		LIVE_ADD(thr->live.open, -1);
	if (bench_config.mode->closed != NULL)
		bench_config.mode->closed(c, was, why);
	/* The end of the run closes what is open: no error, nothing next. */
	if (why == WHY_STOP)
		return;
	conn_count_error(c, why, cause);

	now = bench_now();
	if (bench_config.mode->flags & MODE_RECYCLES) {
		if (why == WHY_DONE)
			conn_begin(c, now);
		else
			conn_arm(c->timer_ev, BENCH_RETRY_US);	/* no busy loop */
	} else if (!bench_config.reconnect || why == WHY_DONE ||
	    conn_reconnect(c, now) != 0)
		thread_slot_done(thr);
	thread_start_pending(thr, now);
}

/*
 * --reconnect: open c's slot again after a pause that doubles with each
 * failure in a row (10 ms to 1 s), so that a failover keeps its load
 * without a storm of connects.  Messages that were in flight are lost and
 * go back to the -n budget.  A slot that has not opened for --timeout
 * gives up: -1, so that a target gone for good ends a -n run.
 */
static int
conn_reconnect(struct bench_conn *c, uint64_t now)
{
	if (c->retry_us == 0) {
		c->retry_us = BENCH_RETRY_US;
		c->down_ns = now;
	} else if (now - c->down_ns > bench_config.timeout_us * 1000)
		return (-1);
	if (bench_config.count != 0)
		c->thr->budget += c->issued - c->done;
	c->thr->stats.reconnects++;
	conn_arm(c->timer_ev, c->retry_us);
	if (c->retry_us < BENCH_RETRY_MAX_US)
		c->retry_us *= 2;
	return (0);
}

/* Time c out if its connect, or the echo it waits for, is overdue. */
static void
conn_sweep(struct bench_conn *c, uint64_t now)
{
	uint64_t	limit = bench_config.timeout_us * 1000;

	if (c->state == CONN_CONNECTING && now - c->started_ns > limit)
		conn_close(c, WHY_TIMEOUT, c->greet != NULL ?
		    "no greeting" : "no connection");
	else if ((c->state == CONN_OPEN || c->state == CONN_HELD) &&
	    c->recvd < c->target && now - c->last_ns > limit)
		conn_close(c, WHY_TIMEOUT, "no echo");
}

/* The run is over: close c if it is open, as no failure. */
static void
conn_stop(struct bench_conn *c)
{
	if (c->state != CONN_IDLE)
		conn_close(c, WHY_STOP, NULL);
}

/* Set up slot c of thr, connection number index: its events.  0 or -1. */
static int
conn_setup(struct bench_conn *c, struct bench_thread *thr, uint64_t index)
{
	c->thr = thr;
	c->fd = -1;
	c->index = index;
	c->rev = event_new(thr->base, -1, 0, conn_read_cb, c);
	c->wev = event_new(thr->base, -1, 0, conn_write_cb, c);
	if (c->rev == NULL || c->wev == NULL)
		return (-1);
	if (bench_config.rate != 0 || bench_config.reconnect ||
	    (bench_config.mode->flags & MODE_RECYCLES)) {
		c->timer_ev = evtimer_new(thr->base, conn_timer_cb, c);
		if (c->timer_ev == NULL)
			return (-1);
	}
	if (bench_config.mode->setup != NULL)
		return (bench_config.mode->setup(c));
	return (0);
}

/* Free what conn_setup made. */
static void
conn_free(struct bench_conn *c)
{
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->timer_ev != NULL)
		event_free(c->timer_ev);
	free(c->ring);
	free(c->greet);
}
