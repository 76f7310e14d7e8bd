/*
 * benchmark-mode.c: each mode's rules, as one table of operations.  A mode
 * says what a connection may send now (issue), what its echoed bytes
 * complete (complete), and what it keeps when one closes; the connection
 * (benchmark-conn.c) does the sending, reading and checking for all of
 * them.  A new mode is one new entry here; one of another transport
 * (--udp) names its flow's operations instead (benchmark-udp.c).
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "benchmark-conn.h"

/*
 * The time --rate meant message k of c to go out: each connection has its
 * share of the rate, from when it may start (a --ramp spreads those, so
 * the rate rises with the connections).  UDP flows keep the same schedule.
 */
uint64_t
mode_rate_due(const struct bench_conn *c, uint64_t k)
{
	double	slot = (double)(c->index + k * bench_config.conns);

	return ((bench_config.ramp_us != 0 ? thread_ramp_at(c) :
	    bench_clock.start_ns) +
	    (uint64_t)(slot * 1e9 / (double)bench_config.rate));
}

/* Pingpong keeps the start time of each message in flight. */
static int
pingpong_setup(struct bench_conn *c)
{
	c->ring = calloc(bench_config.depth, sizeof *c->ring);
	return (c->ring == NULL ? -1 : 0);
}

/* Keep -d messages in flight; with --rate, none before it is due. */
static void
pingpong_issue(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 t;

	while (c->issued - c->done < bench_config.depth && thr->budget > 0) {
		t = now;
		if (bench_config.rate != 0) {
			t = mode_rate_due(c, c->scheduled);
			if (t > now) {
				if (!event_pending(c->timer_ev, EV_TIMEOUT,
				    NULL))
					conn_arm(c->timer_ev,
					    (t - now + 999) / 1000);
				break;
			}
		}
		if (c->recvd == c->target)
			c->last_ns = now;
		c->ring[c->issued % bench_config.depth] = t;
		c->issued++;
		c->scheduled++;
		c->target += bench_config.size;
		thr->budget--;
	}
}

/* A message is done when its last byte is back; latency from its send. */
static int
pingpong_complete(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 k = 0;

	while (c->done < c->issued &&
	    c->recvd >= (c->done + 1) * bench_config.size) {
		if (thread_count_bad(c, 1) == 1) {
			thread_sample(thr,
			    now - c->ring[c->done % bench_config.depth], now);
			k++;
		}
		c->done++;
	}
	if (k > 0)
		thread_count(thr, k, now);
	return (0);
}

/* Keep the window full, in whole messages. */
static void
stream_issue(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 k;

	k = (bench_config.window - (c->target - c->recvd)) / bench_config.size;
	if (k > thr->budget)
		k = thr->budget;
	if (k > 0 && c->recvd == c->target)
		c->last_ns = now;
	c->issued += k;
	c->target += k * bench_config.size;
	thr->budget -= k;
}

/* Sample one byte per round trip: the last one sent, if none is out. */
static void
stream_sent(struct bench_conn *c, uint64_t now)
{
	if (!c->marked && c->sent > c->recvd) {
		c->marked = 1;
		c->mark_off = c->sent - 1;
		c->mark_ns = now;
	}
}

/* Every -s bytes back is a message; the sampled byte gives latency. */
static int
stream_complete(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 k;

	k = c->recvd / bench_config.size - c->done;
	c->done += k;
	if ((k = thread_count_bad(c, k)) > 0)
		thread_count(thr, k, now);
	if (c->marked && c->recvd > c->mark_off) {
		thread_sample(thr, now - c->mark_ns, now);
		c->marked = 0;
	}
	return (0);
}

/* Connect and hold: one message per connection. */
static void
single_issue(struct bench_conn *c, uint64_t now)
{
	(void)now;
	if (c->issued == 0) {
		c->issued = 1;
		c->target = bench_config.size;
	}
}

/*
 * The one message is back, whole, for the first time: count it, with
 * latency from the start of the connect.  1 if it just was.
 */
static int
single_done(struct bench_conn *c, uint64_t now)
{
	if (c->recvd < bench_config.size || c->done == 1)
		return (0);
	c->done = 1;
	if (thread_count_bad(c, 1) == 1) {
		thread_sample(c->thr, now - c->started_ns, now);
		thread_count(c->thr, 1, now);
	}
	return (1);
}

/* Connect: once echoed, close; the slot starts its next connection. */
static int
connect_complete(struct bench_conn *c, uint64_t now)
{
	if (single_done(c, now))
		conn_close(c, WHY_DONE, NULL);
	return (1);
}

/* Hold: once echoed, keep the connection open and idle. */
static int
hold_complete(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;

	if (!single_done(c, now))
		return (1);
	c->state = CONN_HELD;
	thr->stats.held++;
	LIVE_ADD(thr->live.held, 1);
	if (--thr->unsettled == 0)
		LIVE_SET(thr->live.settled, 1);
	return (1);
}

/* Hold: a connection lost is one held less, or one settled (as failed). */
static void
hold_closed(struct bench_conn *c, int was, int why)
{
	struct bench_thread	*thr = c->thr;

	if (why == WHY_STOP)
		return;
	if (was == CONN_HELD) {
		thr->stats.held--;
		LIVE_ADD(thr->live.held, -1);
	} else if (--thr->unsettled == 0)
		LIVE_SET(thr->live.settled, 1);
}

/*
 * --udp has one mode: pingpong, -d datagrams in flight per flow, or
 * --rate; the flow (benchmark-udp.c) keeps its own rules.
 */
static const struct bench_mode_ops bench_modes[] = {
	{ "pingpong", MODE_WAITS | MODE_DEPTH | MODE_RATE | MODE_RECONNECTS,
	    &conn_flow, pingpong_setup,
	    pingpong_issue, NULL, pingpong_complete, NULL },
	{ "stream", MODE_WAITS | MODE_WINDOW | MODE_RECONNECTS, &conn_flow,
	    NULL, stream_issue, stream_sent, stream_complete, NULL },
	{ "connect", MODE_RECYCLES, &conn_flow, NULL, single_issue, NULL,
	    connect_complete, NULL },
	{ "hold", MODE_SETTLES, &conn_flow, NULL, single_issue, NULL,
	    hold_complete, hold_closed },
	{ "pingpong", MODE_WAITS | MODE_DEPTH | MODE_RATE | MODE_DATAGRAM |
	    MODE_DRAINS, &udp_flow, NULL, NULL, NULL, NULL, NULL },
};

const struct bench_mode_ops *const bench_mode_default = &bench_modes[0];

/* The mode called name, of datagrams (--udp) or not; or NULL. */
const struct bench_mode_ops *
bench_mode_find(const char *name, int datagram)
{
	size_t	i;

	for (i = 0; i < sizeof bench_modes / sizeof bench_modes[0]; i++) {
		if (strcmp(name, bench_modes[i].name) == 0 &&
		    !(bench_modes[i].flags & MODE_DATAGRAM) == !datagram)
			return (&bench_modes[i]);
	}
	return (NULL);
}
