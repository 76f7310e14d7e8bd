/*
 * benchmark-run.c: start the workers, keep time, stop them, merge results.
 *
 * The control thread runs its own event_base for signals and a tick; the
 * workers (benchmark-conn.c) each run one.  libevent_core has no locking,
 * so the threads share nothing but counters: workers publish theirs with
 * relaxed atomic stores for the progress line, and learn of the end by
 * polling bench_stop from their own tick.  Final counts are read after
 * pthread_join.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "benchmark.h"
#include "log.h"

#define RUN_TICK_MS	50
/* Counts an interval line reports: run_live_counts() says which. */
#define RUN_NCOUNTS	8
/* --udp: how long after -t and --timeout the tail may still take. */
#define RUN_DRAIN_SLACK_NS	1000000000ULL

struct bench_clock	 bench_clock;
int			 bench_stop;
int			 bench_go;
uint64_t		 bench_interval;

struct run_state {
	struct event_base	*base;
	struct bench_thread	*threads;
	uint64_t		 begin_ns;	/* the run began: connects start */
	int			 signal;	/* SIGINT or SIGTERM stopped it */
	int			 clock_set;	/* warm-up and measurement timed */
	uint64_t		 open_at_start;	/* pingpong, stream: at bench_go */
	uint64_t		 stop_ns;
	uint64_t		 hold_ns;	/* hold: when all were checked */
	uint64_t		 next_progress_ns;
	/* --json-stream: the interval being handed over, and its figures. */
	uint64_t		 next_interval_ns;
	uint64_t		 interval_epoch;	/* 0: none asked for */
	uint64_t		 interval_start_ns, interval_end_ns;
	uint64_t		 interval_counts[RUN_NCOUNTS];
	uint64_t		 interval_last[RUN_NCOUNTS];
	uint64_t		 interval_open;
	uint64_t		 last_messages;
	uint64_t		 last_ns;
};

static void	run_begin_sending(struct run_state *, uint64_t);
static const char *run_phase(struct run_state *, uint64_t);

/* A worker thread's body. */
static void *
run_worker(void *arg)
{
	bench_thread_run(arg);
	return (NULL);
}

/* End the run: tell the workers and leave the control loop. */
static void
run_stop(struct run_state *rs, uint64_t now)
{
	if (rs->stop_ns == 0)
		rs->stop_ns = now;
	LIVE_SET(bench_stop, 1);
	event_base_loopbreak(rs->base);
}

/* SIGINT or SIGTERM: stop early; the results so far are still reported. */
static void
run_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run_state	*rs = arg;

	if (rs->signal == 0)
		rs->signal = (int)sig;
	run_stop(rs, bench_now());
}

/*
 * Did the run end before its time, or its count, without a signal?  Says
 * why in st->ended_early: every connection failed or closed first.
 */
static void
run_ended_early(struct run_state *rs, struct bench_stats *st)
{
	const struct bench_config	*cf = &bench_config;
	double				 at;

	if (rs->signal != 0)
		return;
	at = (double)(rs->stop_ns - rs->begin_ns) / 1e9;
	if ((cf->mode->flags & MODE_SETTLES) && (rs->hold_ns == 0 ||
	    rs->stop_ns - rs->hold_ns < cf->duration_us * 1000)) {
		snprintf(st->ended_early, sizeof st->ended_early, "%s %.3f s "
		    "into the run, %llu of %llu connections held",
		    rs->hold_ns == 0 ? "every connection failed or was checked "
		    "before the hold began," : "every connection was lost",
		    at, (unsigned long long)st->held,
		    (unsigned long long)cf->conns);
	} else if (cf->mode->flags & MODE_SETTLES)
		return;
	else if (cf->count != 0 && st->messages + st->mismatches +
	    st->udp.lost < cf->count) {
		snprintf(st->ended_early, sizeof st->ended_early, "every "
		    "connection failed %.3f s into the run, after %llu of "
		    "%llu messages", at, (unsigned long long)st->messages,
		    (unsigned long long)cf->count);
	} else if (cf->count == 0 && rs->stop_ns < bench_clock.end_ns) {
		snprintf(st->ended_early, sizeof st->ended_early, "every "
		    "connection failed %.3f s into the run%s", at,
		    rs->stop_ns <= bench_clock.measure_ns ?
		    ", before the measured time began" : "");
	}
}

/* The workers' live counters, summed into sum. */
static void
run_live_sum(struct run_state *rs, struct bench_live *sum)
{
	struct bench_live	*l;
	int			 i;

	memset(sum, 0, sizeof *sum);
	for (i = 0; i < bench_config.threads; i++) {
		l = &rs->threads[i].live;
		sum->messages += LIVE_GET(l->messages);
		sum->errors += LIVE_GET(l->errors);
		sum->mismatches += LIVE_GET(l->mismatches);
		sum->open += LIVE_GET(l->open);
		sum->held += LIVE_GET(l->held);
		sum->connecting += LIVE_GET(l->connecting);
		sum->sent += LIVE_GET(l->sent);
		sum->lost += LIVE_GET(l->lost);
		sum->late += LIVE_GET(l->late);
		sum->duplicated += LIVE_GET(l->duplicated);
		sum->reordered += LIVE_GET(l->reordered);
	}
}

/* Sum the workers' live counters and print one progress line. */
static void
run_progress(struct run_state *rs, uint64_t now)
{
	struct bench_live	 sum;
	const char		*phase = NULL;
	char			 phasebuf[64];
	double			 rate;

	run_live_sum(rs, &sum);
	rate = (double)(sum.messages - rs->last_messages) * 1e9 /
	    (double)(now - rs->last_ns);
	rs->last_messages = sum.messages;
	rs->last_ns = now;
	if (!rs->clock_set ||
	    ((bench_config.mode->flags & MODE_SETTLES) && rs->hold_ns == 0)) {
		snprintf(phasebuf, sizeof phasebuf, "%s %llu/%llu",
		    run_phase(rs, now), (unsigned long long)sum.open,
		    (unsigned long long)bench_config.conns);
		phase = phasebuf;
	} else if (bench_config.mode->flags & MODE_RECYCLES) {
		/* Connecting never ends here: show the connects under way
		 * among the -c slots, and the warm-up. */
		snprintf(phasebuf, sizeof phasebuf, "connecting %llu/%llu%s",
		    (unsigned long long)sum.connecting,
		    (unsigned long long)bench_config.conns,
		    now < bench_clock.measure_ns ? ", warm-up" : "");
		phase = phasebuf;
	} else if (now < bench_clock.measure_ns)
		phase = "warm-up";
	else if (now >= bench_clock.end_ns)
		phase = "tail";		/* --udp: waiting for the last */
	report_progress((double)(now - rs->begin_ns) / 1e9, rate, &sum,
	    phase);
}

/*
 * The counts an interval line reports, so far, every thread's: messages,
 * errors, mismatches, then --udp's sent, lost, late, duplicated and
 * reordered.
 */
static void
run_live_counts(struct run_state *rs, uint64_t counts[RUN_NCOUNTS])
{
	struct bench_live	sum;

	run_live_sum(rs, &sum);
	counts[0] = sum.messages;
	counts[1] = sum.errors;
	counts[2] = sum.mismatches;
	counts[3] = sum.sent;
	counts[4] = sum.lost;
	counts[5] = sum.late;
	counts[6] = sum.duplicated;
	counts[7] = sum.reordered;
}

/* The phase the run is in, as the interval stream names it. */
static const char *
run_phase(struct run_state *rs, uint64_t now)
{
	if (!rs->clock_set)
		return (bench_config.ramp_us != 0 ? "ramp" : "connecting");
	if ((bench_config.mode->flags & MODE_SETTLES) && rs->hold_ns == 0)
		return ("connecting");
	if (now < bench_clock.measure_ns)
		return ("warm-up");
	if (now >= bench_clock.end_ns)
		return ("tail");
	return ("measuring");
}

/*
 * --json-stream: each --interval, ask every worker for its interval's
 * histogram (bench_interval), and once all have handed theirs over (a
 * tick or two later), print one line with the interval's counts and
 * latency.  Workers that have finished have nothing more to give.
 */
static void
run_interval(struct run_state *rs, uint64_t now)
{
	struct bench_thread	*thr;
	struct hist		*h;
	double			 secs;
	uint64_t		 size = bench_config.size;
	int			 i;

	if (rs->interval_epoch == 0) {
		if (now < rs->next_interval_ns)
			return;
		rs->interval_epoch = bench_interval + 1;
		__atomic_store_n(&bench_interval, rs->interval_epoch,
		    __ATOMIC_RELEASE);
		rs->interval_end_ns = now;
		run_live_counts(rs, rs->interval_counts);
		rs->interval_open = 0;
		for (i = 0; i < bench_config.threads; i++)
			rs->interval_open += LIVE_GET(rs->threads[i].live.open);
		return;
	}
	for (i = 0; i < bench_config.threads; i++) {
		thr = &rs->threads[i];
		if (!LIVE_GET(thr->live.finished) && __atomic_load_n(
		    &thr->live.interval_done, __ATOMIC_ACQUIRE) !=
		    rs->interval_epoch)
			return;
	}
	if ((h = malloc(sizeof *h)) == NULL)
		fatal("malloc");
	hist_reset(h);
	for (i = 0; i < bench_config.threads; i++) {
		thr = &rs->threads[i];
		if (thr->live.interval_done == rs->interval_epoch)
			hist_merge(h, &thr->ihist[thr->icur ^ 1]);
	}
	secs = (double)(rs->interval_end_ns - rs->interval_start_ns) / 1e9;
	for (i = 0; i < RUN_NCOUNTS; i++)
		rs->interval_last[i] = rs->interval_counts[i] -
		    rs->interval_last[i];
	printf("{\"type\":\"interval\",\"t\":%.3f,\"seconds\":%.3f,"
	    "\"phase\":\"%s\",\"messages\":%llu,\"bytes\":%llu,"
	    "\"msgs_per_sec\":%.1f,\"mb_per_sec\":%.6f,\"errors\":%llu,"
	    "\"mismatches\":%llu,\"open\":%llu,",
	    (double)(rs->interval_end_ns - rs->begin_ns) / 1e9, secs,
	    run_phase(rs, rs->interval_end_ns),
	    (unsigned long long)rs->interval_last[0],
	    (unsigned long long)(rs->interval_last[0] * size),
	    secs > 0 ? (double)rs->interval_last[0] / secs : 0.0,
	    secs > 0 ? (double)(rs->interval_last[0] * size) / secs / 1e6 : 0.0,
	    (unsigned long long)rs->interval_last[1],
	    (unsigned long long)rs->interval_last[2],
	    (unsigned long long)rs->interval_open);
	if (bench_config.mode->flags & MODE_DATAGRAM) {
		printf("\"sent\":%llu,\"received\":%llu,\"lost\":%llu,"
		    "\"late\":%llu,\"duplicated\":%llu,\"reordered\":%llu,"
		    "\"corrupted\":%llu,",
		    (unsigned long long)rs->interval_last[3],
		    (unsigned long long)rs->interval_last[0],
		    (unsigned long long)rs->interval_last[4],
		    (unsigned long long)rs->interval_last[5],
		    (unsigned long long)rs->interval_last[6],
		    (unsigned long long)rs->interval_last[7],
		    (unsigned long long)rs->interval_last[2]);
	}
	report_json_latency("latency_us", h);
	printf("}\n");
	fflush(stdout);
	free(h);
	memcpy(rs->interval_last, rs->interval_counts,
	    sizeof rs->interval_last);
	rs->interval_start_ns = rs->interval_end_ns;
	rs->interval_epoch = 0;
	rs->next_interval_ns += bench_config.interval_us * 1000;
	if (rs->next_interval_ns <= now)
		rs->next_interval_ns = now + bench_config.interval_us * 1000;
}

/* The control tick: progress each second; decide when the run is over. */
static void
run_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run_state	*rs = arg;
	uint64_t		 now = bench_now();
	int			 i, finished = 0, settled = 0, ready = 0;

	for (i = 0; i < bench_config.threads; i++) {
		finished += LIVE_GET(rs->threads[i].live.finished);
		settled += LIVE_GET(rs->threads[i].live.settled);
	}
	if (bench_config.json_stream)
		run_interval(rs, now);
	if (!bench_config.quiet && now >= rs->next_progress_ns) {
		run_progress(rs, now);
		rs->next_progress_ns += 1000000000ULL;
	}
	if (finished == bench_config.threads) {
		run_stop(rs, now);
		return;
	}
	if (!rs->clock_set) {
		for (i = 0; i < bench_config.threads; i++)
			ready += LIVE_GET(rs->threads[i].live.ready);
		if (ready == bench_config.threads)
			run_begin_sending(rs, now);
		return;
	}
	if ((bench_config.mode->flags & MODE_SETTLES)) {
		if (rs->hold_ns == 0 && settled == bench_config.threads)
			rs->hold_ns = now;
		if (rs->hold_ns != 0 &&
		    now - rs->hold_ns >= bench_config.duration_us * 1000)
			run_stop(rs, now);
	} else if (!(bench_config.mode->flags & MODE_DRAINS)) {
		if (now >= bench_clock.end_ns)
			run_stop(rs, now);
	} else if (bench_clock.end_ns != UINT64_MAX && now >= bench_clock.end_ns &&
	    now - bench_clock.end_ns >= bench_config.timeout_us * 1000 +
	    RUN_DRAIN_SLACK_NS) {
		/* The flows end on their own once the tail is in: a bound. */
		run_stop(rs, now);
	}
}

/* Seconds the reported counts cover. */
static double
run_seconds(struct run_state *rs)
{
	uint64_t	last = 0, end;
	int		i;

	if ((bench_config.mode->flags & MODE_SETTLES)) {
		if (rs->hold_ns == 0)
			return (0);
		return ((double)(rs->stop_ns - rs->hold_ns) / 1e9);
	}
	if (bench_config.count != 0) {
		/* From the start to the last message counted. */
		for (i = 0; i < bench_config.threads; i++) {
			if (rs->threads[i].last_ns > last)
				last = rs->threads[i].last_ns;
		}
		return (last > bench_clock.start_ns ?
		    (double)(last - bench_clock.start_ns) / 1e9 : 0);
	}
	end = rs->stop_ns < bench_clock.end_ns ? rs->stop_ns :
	    bench_clock.end_ns;
	if (end <= bench_clock.measure_ns)
		return (0);
	return ((double)(end - bench_clock.measure_ns) / 1e9);
}

/* Split the connections and the -n budget over the threads; set them up. */
static int
run_setup(struct run_state *rs)
{
	struct bench_thread	*thr;
	uint64_t		 n, T = (uint64_t)bench_config.threads;
	int			 i;

	rs->threads = calloc(T, sizeof *rs->threads);
	if (rs->threads == NULL)
		return (-1);
	for (i = 0; i < bench_config.threads; i++) {
		thr = &rs->threads[i];
		thr->index = i;
		hist_reset(&thr->stats.hist);
		hist_reset(&thr->stats.connect_hist);
		if (bench_config.count == 0)
			thr->budget = UINT64_MAX;
		else {
			thr->budget = bench_config.count / T +
			    ((uint64_t)i < bench_config.count % T);
		}
		n = bench_config.conns / T + ((uint64_t)i < bench_config.conns % T);
		if (bench_thread_setup(thr, n) != 0) {
			log_errorx("cannot set up thread %d", i);
			return (-1);
		}
	}
	return (0);
}

/* CPU seconds this process has used, every thread's. */
static double
run_cpu_seconds(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return (0);
	return ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

/* Fix the run's clock at now: warm-up, then the measured window. */
static void
run_set_clock(uint64_t now)
{
	bench_clock.start_ns = now;
	if (bench_config.count != 0 || (bench_config.mode->flags & MODE_SETTLES)) {
		bench_clock.measure_ns = now;
		bench_clock.end_ns = UINT64_MAX;
	} else {
		bench_clock.measure_ns = now + bench_config.warmup_us * 1000;
		bench_clock.end_ns = bench_clock.measure_ns +
		    bench_config.duration_us * 1000;
	}
}

/*
 * Every connection has opened or failed: start the clock, so that warm-up
 * and measurement see the whole load (10,000 connections take about 2 s to
 * open here), and let the workers send.
 */
static void
run_begin_sending(struct run_state *rs, uint64_t now)
{
	int	i;

	for (i = 0; i < bench_config.threads; i++)
		rs->open_at_start += LIVE_GET(rs->threads[i].live.open);
	if (rs->open_at_start < bench_config.conns)
		log_warnx("only %llu of %llu connections opened",
		    (unsigned long long)rs->open_at_start,
		    (unsigned long long)bench_config.conns);
	run_set_clock(now);
	rs->clock_set = 1;
	__atomic_store_n(&bench_go, 1, __ATOMIC_RELEASE);
}

/*
 * Run the benchmark: workers in threads, this thread keeping time.  Fills
 * *stats with the merged counts and *seconds with the time they cover.
 * 0, or -1 if the run could not start.
 */
int
bench_run(struct bench_stats *stats, double *seconds)
{
	struct run_state	 rs;
	struct event		*sigs[2] = { NULL, NULL }, *tick = NULL;
	struct timeval		 tv = { 0, RUN_TICK_MS * 1000 };
	sigset_t		 block, saved;
	int			 i, started = 0, rc = -1;

	/* Each run starts afresh: --slo runs one per step. */
	bench_stop = bench_go = 0;
	bench_interval = 0;
	memset(&bench_clock, 0, sizeof bench_clock);
	memset(&rs, 0, sizeof rs);
	memset(stats, 0, sizeof *stats);
	hist_reset(&stats->hist);
	hist_reset(&stats->connect_hist);
	if ((rs.base = event_base_new()) == NULL || run_setup(&rs) != 0)
		goto out;
	sigs[0] = evsignal_new(rs.base, SIGINT, run_signal_cb, &rs);
	sigs[1] = evsignal_new(rs.base, SIGTERM, run_signal_cb, &rs);
	tick = event_new(rs.base, -1, EV_PERSIST, run_tick_cb, &rs);
	if (sigs[0] == NULL || sigs[1] == NULL || tick == NULL ||
	    evsignal_add(sigs[0], NULL) != 0 ||
	    evsignal_add(sigs[1], NULL) != 0 || event_add(tick, &tv) != 0)
		fatalx("cannot set up the control loop");

	stats->cpu_seconds = run_cpu_seconds();
	rs.begin_ns = rs.last_ns = bench_now();
	bench_clock.begin_ns = rs.begin_ns;
	rs.next_progress_ns = rs.begin_ns + 1000000000ULL;
	rs.interval_start_ns = rs.begin_ns;
	rs.next_interval_ns = rs.begin_ns + bench_config.interval_us * 1000;
	if (!(bench_config.mode->flags & MODE_WAITS)) {
		run_set_clock(rs.begin_ns);
		rs.clock_set = 1;
		bench_go = 1;
		rs.open_at_start = bench_config.conns;
	} else {
		/* Nothing is counted before run_begin_sending(). */
		bench_clock.start_ns = rs.begin_ns;
		bench_clock.measure_ns = bench_clock.end_ns = UINT64_MAX;
	}
	/* Signals belong to this thread: the workers block them. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	for (i = 0; i < bench_config.threads; i++) {
		if (pthread_create(&rs.threads[i].tid, NULL, run_worker,
		    &rs.threads[i]) != 0) {
			log_errorx("cannot start thread %d", i);
			break;
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (started == bench_config.threads)
		event_base_dispatch(rs.base);
	run_stop(&rs, bench_now());
	for (i = 0; i < started; i++)
		pthread_join(rs.threads[i].tid, NULL);
	stats->cpu_seconds = run_cpu_seconds() - stats->cpu_seconds;
	stats->wall_seconds = (double)(bench_now() - rs.begin_ns) / 1e9;
	stats->open_at_start = rs.open_at_start;
	if (!bench_config.quiet)
		report_progress_end();
	if (started != bench_config.threads)
		goto out;

	for (i = 0; i < bench_config.threads; i++) {
		struct bench_stats	*ts = &rs.threads[i].stats;

		stats->messages += ts->messages;
		stats->connect_errors += ts->connect_errors;
		stats->messages_total += ts->messages_total;
		stats->closed += ts->closed;
		stats->resets += ts->resets;
		stats->mismatched_bytes += ts->mismatched_bytes;
		stats->reconnects += ts->reconnects;
		stats->timeouts += ts->timeouts;
		stats->other_errors += ts->other_errors;
		stats->mismatches += ts->mismatches;
		stats->held += ts->held;
		stats->udp.sent += ts->udp.sent;
		stats->udp.received += ts->udp.received;
		stats->udp.lost += ts->udp.lost;
		stats->udp.late += ts->udp.late;
		stats->udp.duplicated += ts->udp.duplicated;
		stats->udp.reordered += ts->udp.reordered;
		stats->udp.lost_measured += ts->udp.lost_measured;
		if (ts->first_bad_ns != 0 && (stats->first_bad_ns == 0 ||
		    ts->first_bad_ns < stats->first_bad_ns)) {
			stats->first_bad_ns = ts->first_bad_ns;
			stats->first_bad_conn = ts->first_bad_conn;
			stats->first_bad_offset = ts->first_bad_offset;
		}
		hist_merge(&stats->hist, &ts->hist);
		hist_merge(&stats->connect_hist, &ts->connect_hist);
		greet_tally_merge(&stats->greets, &ts->greets);
	}
	*seconds = run_seconds(&rs);
	stats->signal = rs.signal;
	run_ended_early(&rs, stats);
	if (stats->ended_early[0] != '\0')
		log_warnx("ended early: %s", stats->ended_early);
	rc = 0;

out:
	for (i = 0; i < 2; i++) {
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	}
	if (tick != NULL)
		event_free(tick);
	for (i = 0; rs.threads != NULL && i < bench_config.threads; i++)
		bench_thread_free(&rs.threads[i]);
	free(rs.threads);
	if (rs.base != NULL)
		event_base_free(rs.base);
	return (rc);
}
