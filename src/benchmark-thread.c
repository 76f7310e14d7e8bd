/*
 * benchmark-thread.c: one worker thread: its event_base, the start of its
 * connections (a bounded number connecting at once), the tick that stops
 * it, releases it to send and times out silent connections, and its
 * counts.
 */
#include <sys/types.h>

#include <stdlib.h>

#include <event2/event.h>

#include "benchmark-conn.h"

static void	thread_tick_cb(evutil_socket_t, short, void *);

/* Count n messages completed at now, if now is inside the measured window. */
void
thread_count(struct bench_thread *thr, uint64_t n, uint64_t now)
{
	LIVE_ADD(thr->live.messages, n);
	thr->stats.messages_total += n;
	if (now < bench_clock.measure_ns || now >= bench_clock.end_ns)
		return;
	thr->stats.messages += n;
	thr->last_ns = now;
}

/*
 * Of k messages of c just completed, count the first as a mismatch if a
 * byte of it differed (c->msg_bad): it is neither a message nor a latency
 * sample.  Returns how many are left to count as messages.
 */
uint64_t
thread_count_bad(struct bench_conn *c, uint64_t k)
{
	if (k == 0 || !c->msg_bad)
		return (k);
	c->msg_bad = 0;
	c->thr->stats.mismatches++;
	LIVE_ADD(c->thr->live.mismatches, 1);
	return (k - 1);
}

/* Record one latency sample taken at now, inside the measured window. */
void
thread_sample(struct bench_thread *thr, uint64_t ns, uint64_t now)
{
	if (thr->ihist != NULL)
		hist_record(&thr->ihist[thr->icur], ns);	/* any phase */
	if (now < bench_clock.measure_ns || now >= bench_clock.end_ns)
		return;
	hist_record(&thr->stats.hist, ns);
}

/*
 * --json-stream: the control thread asks for this interval's latency by
 * raising bench_interval.  Start the next interval in the other histogram
 * (the one handed over last time, which it has read since) and say so.
 */
static void
thread_hand_interval(struct bench_thread *thr)
{
	uint64_t	e = __atomic_load_n(&bench_interval, __ATOMIC_ACQUIRE);

	if (thr->ihist == NULL || e == thr->iepoch)
		return;
	thr->icur ^= 1;
	hist_reset(&thr->ihist[thr->icur]);
	thr->iepoch = e;
	__atomic_store_n(&thr->live.interval_done, e, __ATOMIC_RELEASE);
}

/* A slot is finished for good; the last one ends the thread's loop. */
void
thread_slot_done(struct bench_thread *thr)
{
	if (--thr->active == 0)
		event_base_loopbreak(thr->base);
}

/*
 * Start never-started slots while few enough connects are in progress.  A
 * connect that fails at once comes back here through conn_close: the flag
 * keeps that from recursing once per slot.
 */
void
thread_start_pending(struct bench_thread *thr, uint64_t now)
{
	if (thr->starting)
		return;
	thr->starting = 1;
	while (thr->next_start < thr->nconns &&
	    thr->connecting < BENCH_MAX_CONNECTING &&
	    thread_ramp_at(&thr->conns[thr->next_start]) <= now)
		bench_config.mode->flow->begin(&thr->conns[thr->next_start++],
		    now);
	thr->starting = 0;
	/* Every slot has connected or failed: tell the control thread. */
	if (!thr->ready_told && thr->next_start == thr->nconns &&
	    thr->connecting == 0) {
		thr->ready_told = 1;
		LIVE_SET(thr->live.ready, 1);
	}
}

/*
 * --ramp: when slot c may first connect.  Connection k of N opens at
 * k / (N - 1) of the ramp, so the load rises linearly from one connection
 * to all; without --ramp, at once.
 */
uint64_t
thread_ramp_at(const struct bench_conn *c)
{
	if (bench_config.ramp_us == 0 || bench_config.conns < 2)
		return (0);
	return (bench_clock.begin_ns + (uint64_t)((double)c->index /
	    (double)(bench_config.conns - 1) *
	    (double)bench_config.ramp_us * 1000));
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
		if (c->state == CONN_OPEN)
			bench_config.mode->flow->send_first(c, now);
	}
}

/* Every tick: stop when told; now and then, time out silent flows. */
static void
thread_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_thread	*thr = arg;
	uint64_t		 now, i;

	if (LIVE_GET(bench_stop)) {
		event_base_loopbreak(thr->base);
		return;
	}
	if (!thr->go && __atomic_load_n(&bench_go, __ATOMIC_ACQUIRE))
		thread_begin_sending(thr, bench_now());
	thread_hand_interval(thr);
	if (bench_config.ramp_us != 0 && thr->next_start < thr->nconns)
		thread_start_pending(thr, bench_now());
	if (++thr->ticks % BENCH_SWEEP_TICKS != 0 ||
	    bench_config.mode->flow->sweep == NULL)
		return;
	now = bench_now();
	for (i = 0; i < thr->nconns; i++)
		bench_config.mode->flow->sweep(&thr->conns[i], now);
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
	if (bench_config.json_stream) {
		if ((thr->ihist = calloc(2, sizeof *thr->ihist)) == NULL)
			return (-1);
		hist_reset(&thr->ihist[0]);
		hist_reset(&thr->ihist[1]);
	}
	thr->nconns = nconns;
	thr->active = nconns;
	/*
	 * Connect and hold modes send as each connection opens, and so does
	 * a ramp, whose load is meant to rise.
	 */
	thr->go = !(bench_config.mode->flags & MODE_WAITS) ||
	    bench_config.ramp_us != 0;
	if (nconns == 0)
		LIVE_SET(thr->live.ready, 1);
	thr->unsettled = nconns;
	if ((thr->conns = calloc(nconns, sizeof *thr->conns)) == NULL &&
	    nconns != 0)
		return (-1);
	for (i = 0; i < nconns; i++) {
		c = &thr->conns[i];
		if (bench_config.mode->flow->setup(c, thr,
		    (uint64_t)thr->index +
		    i * (uint64_t)bench_config.threads) != 0)
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
	for (i = 0; i < thr->nconns; i++)
		bench_config.mode->flow->stop(&thr->conns[i]);
	LIVE_SET(thr->live.finished, 1);
}

/* Free what bench_thread_setup made. */
void
bench_thread_free(struct bench_thread *thr)
{
	uint64_t	i;

	for (i = 0; i < thr->nconns && thr->conns != NULL; i++)
		bench_config.mode->flow->free(&thr->conns[i]);
	free(thr->conns);
	free(thr->buf);
	free(thr->ihist);
	if (thr->tick_ev != NULL)
		event_free(thr->tick_ev);
	if (thr->base != NULL)
		event_base_free(thr->base);
}
