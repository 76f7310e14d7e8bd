/*
 * benchmark-conn.c: one worker thread's connections, in every mode.
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

#include "benchmark.h"
#include "log.h"
#include "pattern.h"
#include "sock.h"

/* Connects one thread keeps in progress at once, so SYNs do not pile up. */
#define BENCH_MAX_CONNECTING	256
/* Errors a thread logs before it only counts them. */
#define BENCH_ERRORS_LOGGED	3
/* Connect mode: the pause before a slot retries after an error. */
#define BENCH_RETRY_US		10000

enum conn_state {
	CONN_IDLE,		/* not started, or closed */
	CONN_CONNECTING,
	CONN_OPEN,
	CONN_HELD,		/* hold mode: checked, now idle */
};

enum conn_why {
	WHY_DONE,		/* nothing left to send */
	WHY_STOP,		/* the run is over */
	WHY_CONNECT,		/* connect failed */
	WHY_RESET,		/* EOF or ECONNRESET mid-run */
	WHY_TIMEOUT,		/* connect or silence timeout */
	WHY_ERROR,		/* any other failure */
	WHY_EXTRA,		/* more bytes came back than were sent */
};

struct bench_conn {
	struct bench_thread	*thr;
	uint64_t		 index;		/* among all connections */
	uint64_t		 id;		/* pattern id: index + gen * -c */
	uint64_t		 gen;		/* connect mode: cycles begun */
	int			 fd;
	enum conn_state		 state;
	int			 wev_pending;
	int			 marked;	/* stream: a sample in flight */
	struct event		*rev;
	struct event		*wev;
	struct event		*timer_ev;	/* --rate schedule; retries */
	uint64_t		 sent;
	uint64_t		 target;
	uint64_t		 recvd;
	uint64_t		 issued;	/* messages */
	uint64_t		 done;
	uint64_t		 started_ns;	/* connect began */
	uint64_t		 last_ns;	/* last sign of life */
	uint64_t		 mark_off;	/* stream: sampled byte */
	uint64_t		 mark_ns;
	uint64_t		*ring;		/* start times of -d in flight */
};

static void	conn_start(struct bench_conn *, uint64_t);
static void	conn_close(struct bench_conn *, enum conn_why, const char *);
static void	conn_flush(struct bench_conn *, uint64_t);
static void	conn_issue(struct bench_conn *, uint64_t);
static void	conn_read_cb(evutil_socket_t, short, void *);
static void	conn_write_cb(evutil_socket_t, short, void *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
static void	thread_tick_cb(evutil_socket_t, short, void *);
static void	thread_start_pending(struct bench_thread *, uint64_t);

/* Arm ev to fire after us microseconds. */
static void
conn_arm(struct event *ev, uint64_t us)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	event_add(ev, &tv);
}

/* Count n messages completed at now, if now is inside the measured window. */
static void
thread_count(struct bench_thread *thr, uint64_t n, uint64_t now)
{
	LIVE_ADD(thr->live.messages, n);
	if (now < bench_clock.measure_ns || now >= bench_clock.end_ns)
		return;
	thr->stats.messages += n;
	thr->last_ns = now;
}

/* Record one latency sample taken at now, inside the measured window. */
static void
thread_sample(struct bench_thread *thr, uint64_t ns, uint64_t now)
{
	if (now < bench_clock.measure_ns || now >= bench_clock.end_ns)
		return;
	hist_record(&thr->stats.hist, ns);
}

/* A slot is finished for good; the last one ends the thread's loop. */
static void
thread_slot_done(struct bench_thread *thr)
{
	if (--thr->active == 0)
		event_base_loopbreak(thr->base);
}

/*
 * Start slot c's next connection, unless the run is over or, in connect
 * mode with -n, the budget is spent (each connection is one message there).
 */
static void
conn_begin(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;

	if (LIVE_GET(bench_stop)) {
		thread_slot_done(thr);
		return;
	}
	if (bench_config.mode == BENCH_CONNECT) {
		if (thr->budget == 0) {
			thread_slot_done(thr);
			return;
		}
		thr->budget--;
	}
	conn_start(c, now);
}

/*
 * Start never-started slots while few enough connects are in progress.  A
 * connect that fails at once comes back here through conn_close: the flag
 * keeps that from recursing once per slot.
 */
static void
thread_start_pending(struct bench_thread *thr, uint64_t now)
{
	if (thr->starting)
		return;
	thr->starting = 1;
	while (thr->next_start < thr->nconns &&
	    thr->connecting < BENCH_MAX_CONNECTING)
		conn_begin(&thr->conns[thr->next_start++], now);
	thr->starting = 0;
	/* Every slot has connected or failed: tell the control thread. */
	if (!thr->go && thr->next_start == thr->nconns && thr->connecting == 0)
		LIVE_SET(thr->live.ready, 1);
}

/*
 * Every connection of the run is open (bench_go): send the first messages
 * on each of this thread's.
 */
static void
thread_begin_sending(struct bench_thread *thr, uint64_t now)
{
	struct bench_conn	*c;
	uint64_t		 i;

	thr->go = 1;
	for (i = 0; i < thr->nconns; i++) {
		c = &thr->conns[i];
		if (c->state != CONN_OPEN)
			continue;
		conn_issue(c, now);
		if (c->target == 0 && thr->budget == 0)
			conn_close(c, WHY_DONE, NULL);
		else
			conn_flush(c, now);
	}
}

/* Note bad bytes echoed at stream offset off of c. */
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
	st->mismatches += bad;
	LIVE_ADD(c->thr->live.errors, bad);
}

/* Begin a connection in slot c. */
static void
conn_start(struct bench_conn *c, uint64_t now)
{
	struct bench_thread		*thr = c->thr;
	const struct bench_source	*src = NULL;
	char				*cause = NULL;

	if (bench_config.nsources > 0)
		src = &bench_config.sources[c->index % bench_config.nsources];
	c->id = c->index + c->gen * bench_config.conns;
	c->gen++;
	c->sent = c->target = c->recvd = 0;
	c->issued = c->done = 0;
	c->marked = 0;
	c->started_ns = c->last_ns = now;
	c->state = CONN_CONNECTING;
	thr->connecting++;
	c->fd = sock_connect_start((struct sockaddr *)&bench_config.target,
	    bench_config.target_len, src != NULL ?
	    (const struct sockaddr *)&src->ss : NULL,
	    src != NULL ? src->len : 0, &cause);
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
	thr->connecting--;
	LIVE_ADD(thr->live.open, 1);
	event_add(c->rev, NULL);
	c->last_ns = now;
	if (!thr->go) {
		/* Sending waits until every connection is open. */
		thread_start_pending(thr, now);
		return;
	}
	conn_issue(c, now);
	if (c->target == 0 && thr->budget == 0) {
		conn_close(c, WHY_DONE, NULL);
		return;
	}
	conn_flush(c, now);
	thread_start_pending(thr, now);
}

/* The time --rate meant message k of c to go out. */
static uint64_t
conn_scheduled(const struct bench_conn *c, uint64_t k)
{
	double	slot = (double)(c->index + k * bench_config.conns);

	return (bench_clock.start_ns +
	    (uint64_t)(slot * 1e9 / (double)bench_config.rate));
}

/* Add as many messages to c's target as the mode and budget allow. */
static void
conn_issue(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 size = bench_config.size, k, room, t;

	if (LIVE_GET(bench_stop))
		return;
	switch (bench_config.mode) {
	case BENCH_PINGPONG:
		while (c->issued - c->done < bench_config.depth &&
		    thr->budget > 0) {
			t = now;
			if (bench_config.rate != 0) {
				t = conn_scheduled(c, c->issued);
				if (t > now) {
					if (!event_pending(c->timer_ev,
					    EV_TIMEOUT, NULL))
						conn_arm(c->timer_ev,
						    (t - now + 999) / 1000);
					break;
				}
			}
			if (c->recvd == c->target)
				c->last_ns = now;
			c->ring[c->issued % bench_config.depth] = t;
			c->issued++;
			c->target += size;
			thr->budget--;
		}
		break;
	case BENCH_STREAM:
		room = bench_config.window - (c->target - c->recvd);
		k = room / size;
		if (k > thr->budget)
			k = thr->budget;
		if (k > 0 && c->recvd == c->target)
			c->last_ns = now;
		c->issued += k;
		c->target += k * size;
		thr->budget -= k;
		break;
	case BENCH_CONNECT:
	case BENCH_HOLD:
		/* One message per connection; connect mode paid at start. */
		if (c->issued == 0) {
			c->issued = 1;
			c->target = size;
		}
		break;
	}
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
	if (bench_config.mode == BENCH_STREAM && !c->marked &&
	    c->sent > c->recvd) {
		c->marked = 1;
		c->mark_off = c->sent - 1;
		c->mark_ns = now;
	}
	if (blocked && !c->wev_pending) {
		event_add(c->wev, NULL);
		c->wev_pending = 1;
	}
}

/* Count the messages c's newly echoed bytes complete, then send more. */
static void
conn_complete(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 size = bench_config.size, k;

	switch (bench_config.mode) {
	case BENCH_PINGPONG:
		k = 0;
		while (c->done < c->issued && c->recvd >= (c->done + 1) * size) {
			thread_sample(thr, now -
			    c->ring[c->done % bench_config.depth], now);
			c->done++;
			k++;
		}
		if (k > 0)
			thread_count(thr, k, now);
		break;
	case BENCH_STREAM:
		k = c->recvd / size - c->done;
		if (k > 0) {
			c->done += k;
			thread_count(thr, k, now);
		}
		if (c->marked && c->recvd > c->mark_off) {
			thread_sample(thr, now - c->mark_ns, now);
			c->marked = 0;
		}
		break;
	case BENCH_CONNECT:
	case BENCH_HOLD:
		if (c->recvd < size || c->done == 1)
			return;
		c->done = 1;
		thread_sample(thr, now - c->started_ns, now);
		thread_count(thr, 1, now);
		if (bench_config.mode == BENCH_CONNECT) {
			conn_close(c, WHY_DONE, NULL);
			return;
		}
		c->state = CONN_HELD;
		thr->stats.held++;
		LIVE_ADD(thr->live.held, 1);
		if (--thr->unsettled == 0)
			LIVE_SET(thr->live.settled, 1);
		return;
	}
	conn_issue(c, now);
	if (c->recvd == c->target && thr->budget == 0) {
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
	bad = pattern_check(c->id, c->recvd, buf, valid, &first);
	if (bad != 0)
		conn_mismatch(c, c->recvd + first, bad, buf + first, now);
	if (extra != 0) {
		conn_mismatch(c, c->sent, extra, NULL, now);
		conn_close(c, WHY_EXTRA, NULL);
		return;
	}
	c->recvd += n;
	c->last_ns = now;
	conn_complete(c, now);
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
		conn_close(c, WHY_RESET, "closed by the server");
		return;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return;
	conn_close(c, errno == ECONNRESET ? WHY_RESET : WHY_ERROR,
	    strerror(errno));
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
	conn_issue(c, now);
	conn_flush(c, now);
}

/* Count an error once, and log the first few a thread sees. */
static void
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
static void
conn_close(struct bench_conn *c, enum conn_why why, const char *cause)
{
	struct bench_thread	*thr = c->thr;
	enum conn_state		 was = c->state;
	uint64_t		 now;

	if (c->fd != -1) {
		event_del(c->rev);
		event_del(c->wev);
		if (bench_config.mode == BENCH_CONNECT)
			conn_abort(c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (c->timer_ev != NULL)
		event_del(c->timer_ev);
	c->wev_pending = 0;
	c->state = CONN_IDLE;
	if (was == CONN_CONNECTING)
		thr->connecting--;
	else
		LIVE_ADD(thr->live.open, -1);
	if (was == CONN_HELD && why != WHY_STOP) {
		thr->stats.held--;
		LIVE_ADD(thr->live.held, -1);
	} else if (bench_config.mode == BENCH_HOLD && why != WHY_STOP) {
		if (--thr->unsettled == 0)
			LIVE_SET(thr->live.settled, 1);
	}
	/* The end of the run closes what is open: no error, nothing next. */
	if (why == WHY_STOP)
		return;
	conn_count_error(c, why, cause);

	now = bench_now();
	if (bench_config.mode != BENCH_CONNECT)
		thread_slot_done(thr);
	else if (why == WHY_DONE)
		conn_begin(c, now);
	else
		conn_arm(c->timer_ev, BENCH_RETRY_US);	/* no busy loop */
	thread_start_pending(thr, now);
}

/* Every tick: stop when told; now and then, time out silent connections. */
static void
thread_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_thread	*thr = arg;
	struct bench_conn	*c;
	uint64_t		 now, limit, i;

	if (LIVE_GET(bench_stop)) {
		event_base_loopbreak(thr->base);
		return;
	}
	if (!thr->go && __atomic_load_n(&bench_go, __ATOMIC_ACQUIRE))
		thread_begin_sending(thr, bench_now());
	if (++thr->ticks % BENCH_SWEEP_TICKS != 0)
		return;
	now = bench_now();
	limit = bench_config.timeout_us * 1000;
	for (i = 0; i < thr->nconns; i++) {
		c = &thr->conns[i];
		if (c->state == CONN_CONNECTING && now - c->started_ns > limit)
			conn_close(c, WHY_TIMEOUT, "no connection");
		else if ((c->state == CONN_OPEN || c->state == CONN_HELD) &&
		    c->recvd < c->target && now - c->last_ns > limit)
			conn_close(c, WHY_TIMEOUT, "no echo");
	}
}

/*
 * Prepare thr for nconns connections, numbered thr->index, thr->index + T,
 * thr->index + 2T and so on: its base, events and scratch buffer.  0, or
 * -1 on failure.
 */
int
bench_thread_setup(struct bench_thread *thr, uint64_t nconns)
{
	struct event_config	*cfg;
	struct bench_conn	*c;
	struct timeval		 tv = { 0, BENCH_TICK_MS * 1000 };
	uint64_t		 i;

	if ((cfg = event_config_new()) == NULL)
		return (-1);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	/* Scheduled sends want microseconds, not epoll's milliseconds. */
	if (bench_config.rate != 0)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	thr->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (thr->base == NULL)
		return (-1);
	if ((thr->buf = malloc(BENCH_READ_BUF)) == NULL)
		return (-1);
	thr->nconns = nconns;
	thr->active = nconns;
	/* Connect and hold modes send as each connection opens. */
	thr->go = bench_config.mode == BENCH_CONNECT ||
	    bench_config.mode == BENCH_HOLD;
	if (nconns == 0)
		LIVE_SET(thr->live.ready, 1);
	thr->unsettled = nconns;
	if ((thr->conns = calloc(nconns, sizeof *thr->conns)) == NULL &&
	    nconns != 0)
		return (-1);
	for (i = 0; i < nconns; i++) {
		c = &thr->conns[i];
		c->thr = thr;
		c->fd = -1;
		c->index = (uint64_t)thr->index + i * (uint64_t)bench_config.threads;
		c->rev = event_new(thr->base, -1, 0, conn_read_cb, c);
		c->wev = event_new(thr->base, -1, 0, conn_write_cb, c);
		if (c->rev == NULL || c->wev == NULL)
			return (-1);
		if (bench_config.rate != 0 ||
		    bench_config.mode == BENCH_CONNECT) {
			c->timer_ev = evtimer_new(thr->base, conn_timer_cb, c);
			if (c->timer_ev == NULL)
				return (-1);
		}
		if (bench_config.mode == BENCH_PINGPONG &&
		    (c->ring = calloc(bench_config.depth,
		    sizeof *c->ring)) == NULL)
			return (-1);
	}
	thr->tick_ev = event_new(thr->base, -1, EV_PERSIST, thread_tick_cb,
	    thr);
	if (thr->tick_ev == NULL || event_add(thr->tick_ev, &tv) != 0)
		return (-1);
	return (0);
}

/* The worker: connect, run until told to stop or out of work, close. */
void
bench_thread_run(struct bench_thread *thr)
{
	uint64_t	i;

	if (thr->nconns > 0) {
		thread_start_pending(thr, bench_now());
		if (thr->active > 0)
			event_base_dispatch(thr->base);
	}
	for (i = 0; i < thr->nconns; i++) {
		if (thr->conns[i].state != CONN_IDLE)
			conn_close(&thr->conns[i], WHY_STOP, NULL);
	}
	LIVE_SET(thr->live.finished, 1);
}

/* Free what bench_thread_setup made. */
void
bench_thread_free(struct bench_thread *thr)
{
	uint64_t	i;

	for (i = 0; i < thr->nconns && thr->conns != NULL; i++) {
		if (thr->conns[i].rev != NULL)
			event_free(thr->conns[i].rev);
		if (thr->conns[i].wev != NULL)
			event_free(thr->conns[i].wev);
		if (thr->conns[i].timer_ev != NULL)
			event_free(thr->conns[i].timer_ev);
		free(thr->conns[i].ring);
	}
	free(thr->conns);
	free(thr->buf);
	if (thr->tick_ev != NULL)
		event_free(thr->tick_ev);
	if (thr->base != NULL)
		event_base_free(thr->base);
}
