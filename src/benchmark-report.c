/*
 * benchmark-report.c: the progress line, the final report (human or one
 * line of JSON) and the exit status that follows from it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "benchmark.h"
#include "exitcode.h"
#include "log.h"

static int	report_progress_shown;

/*
 * One progress line on standard error, from the workers' live counts
 * summed: rewritten in place on a terminal.
 */
void
report_progress(double t, double rate, const struct bench_live *l,
    const char *phase)
{
	int	tty = isatty(STDERR_FILENO);
	char	heldbuf[48] = "", ratebuf[48], udpbuf[160] = "";

	if ((bench_config.mode->flags & MODE_SETTLES))
		snprintf(heldbuf, sizeof heldbuf, ", %llu held",
		    (unsigned long long)l->held);
	/* Stream "messages" are only the unit of -s: bytes say more. */
	if (bench_config.mode->flags & MODE_WINDOW)
		snprintf(ratebuf, sizeof ratebuf, "%.1f MB/s",
		    rate * (double)bench_config.size / 1e6);
	else
		snprintf(ratebuf, sizeof ratebuf, "%.0f msg/s", rate);
	if (bench_config.mode->flags & MODE_DATAGRAM)
		snprintf(udpbuf, sizeof udpbuf, ", %llu sent, %llu lost, "
		    "%llu late, %llu duplicated, %llu reordered",
		    (unsigned long long)l->sent, (unsigned long long)l->lost,
		    (unsigned long long)l->late,
		    (unsigned long long)l->duplicated,
		    (unsigned long long)l->reordered);
	fprintf(stderr, "%s%6.1f s: %s, %llu open%s, %llu errors, "
	    "%llu mismatches%s%s%s%s", tty ? "\r" : "", t, ratebuf,
	    (unsigned long long)l->open, heldbuf, (unsigned long long)l->errors,
	    (unsigned long long)l->mismatches, udpbuf, phase != NULL ? " (" : "",
	    phase != NULL ? phase : "", phase != NULL ? ")" : "");
	fputs(tty ? "\033[K" : "\n", stderr);
	fflush(stderr);
	report_progress_shown = tty;
}

/* End the progress line before the report. */
void
report_progress_end(void)
{
	if (report_progress_shown)
		fputc('\n', stderr);
	report_progress_shown = 0;
}

static void	report_human_greetings(const struct greet_tally *);
static void	report_json_string(const char *);

/* Connections that failed, however; wrong echoes are mismatches. */
static uint64_t
report_errors(const struct bench_stats *st)
{
	return (st->connect_errors + st->closed + st->resets + st->timeouts +
	    st->other_errors);
}

/* Rate of n per second over seconds, 0 over no time. */
static double
report_rate(uint64_t n, double seconds)
{
	return (seconds > 0 ? (double)n / seconds : 0);
}

/* A histogram value in microseconds. */
static double
report_us(uint64_t ns)
{
	return ((double)ns / 1000.0);
}

/* The benchmark's own CPU use over the run, in percent of one core. */
static double
report_cpu_percent(const struct bench_stats *st)
{
	return (st->wall_seconds > 0 ? st->cpu_seconds * 100 /
	    st->wall_seconds : 0);
}

/*
 * With --rate: the share of it reached, 0 to 1 (and more), or -1 without
 * --rate or measured time.  A datagram lost was sent all the same.
 */
double
report_rate_reached(const struct bench_stats *st, double seconds)
{
	if (bench_config.rate == 0 || seconds <= 0)
		return (-1);
	return (report_rate(st->messages + st->mismatches +
	    st->udp.lost_measured, seconds) / (double)bench_config.rate);
}

/* --udp: the lost, in percent of the sent. */
static double
report_loss_percent(const struct bench_stats *st)
{
	return (st->udp.sent > 0 ? (double)st->udp.lost * 100 /
	    (double)st->udp.sent : 0);
}

/*
 * Say on standard error when --rate was not reached (under 95%): the
 * target or this machine could not keep up, and latency then counts the
 * queue from when each message was due.
 */
void
report_rate_warning(const struct bench_stats *st, double seconds)
{
	double	reached = report_rate_reached(st, seconds);

	if (reached < 0 || reached >= 0.95)
		return;
	log_warnx("--rate %llu not reached: %.0f msg/s, %.1f%% of it; the "
	    "target or this load generator could not keep up, and latency "
	    "counts from when each message was due",
	    (unsigned long long)bench_config.rate,
	    reached * (double)bench_config.rate, reached * 100);
}

/* One line of h's percentiles in microseconds, if it has any. */
static void
report_human_latency(const char *title, const struct hist *h,
    const char *what)
{
	if (h->count == 0)
		return;
	printf("  %s min %.1f, mean %.1f, p50 %.1f, p90 %.1f, p99 %.1f, "
	    "p99.9 %.1f, max %.1f (%llu %s)\n", title, report_us(h->min),
	    hist_mean(h) / 1000.0, report_us(hist_percentile(h, 50)),
	    report_us(hist_percentile(h, 90)),
	    report_us(hist_percentile(h, 99)),
	    report_us(hist_percentile(h, 99.9)), report_us(h->max),
	    (unsigned long long)h->count, what);
}

/* The report for a person. */
void
report_human(const struct bench_stats *st, double seconds)
{
	const struct bench_config	*cf = &bench_config;
	const struct hist		*h = &st->hist;
	double				 mps = report_rate(st->messages, seconds);
	const char			*unit = "connections";

	if (cf->mode->flags & MODE_DATAGRAM) {
		unit = "flows";
		printf("udp ");
	}
	printf("%s to %s: %llu %s", cf->mode->name, cf->target_name,
	    (unsigned long long)cf->conns, unit);
	if (st->open_at_start < cf->conns)
		printf(" (%llu open when sending began)",
		    (unsigned long long)st->open_at_start);
	printf(", %llu-byte %s", (unsigned long long)cf->size,
	    (cf->mode->flags & MODE_DATAGRAM) ? "datagrams" : "messages");
	if ((cf->mode->flags & MODE_DEPTH))
		printf(", depth %llu", (unsigned long long)cf->depth);
	if ((cf->mode->flags & MODE_WINDOW))
		printf(", window %llu", (unsigned long long)cf->window);
	if (cf->rate != 0)
		printf(", %llu msg/s scheduled", (unsigned long long)cf->rate);
	printf(", %d thread%s\n", cf->threads, cf->threads == 1 ? "" : "s");

	if (st->signal != 0)
		printf("  interrupted by SIG%s: the figures cover the run so far\n",
		    sigabbrev_np(st->signal));
	if (st->ended_early[0] != '\0')
		printf("  ended early: %s\n", st->ended_early);
	printf("  time        %.3f s", seconds);
	if (cf->count == 0 && !(cf->mode->flags & MODE_SETTLES) && cf->warmup_us != 0)
		printf(" after %.3g s warm-up", (double)cf->warmup_us / 1e6);
	printf("\n");
	if ((cf->mode->flags & MODE_SETTLES)) {
		printf("  held        %llu of %llu connections\n",
		    (unsigned long long)st->held, (unsigned long long)cf->conns);
	} else {
		printf("  messages    %llu, %.1f/s",
		    (unsigned long long)st->messages, mps);
		if (report_rate_reached(st, seconds) >= 0)
			printf(" (%.1f%% of --rate %llu)",
			    report_rate_reached(st, seconds) * 100,
			    (unsigned long long)cf->rate);
		printf("\n");
		printf("  throughput  %.3f MB/s echoed (MB = 1000000 bytes)\n",
		    mps * (double)cf->size / 1e6);
	}
	if ((cf->mode->flags & MODE_RECYCLES))
		printf("  connections %.1f/s\n", mps);
	if (cf->mode->flags & MODE_DATAGRAM) {
		printf("  datagrams   %llu sent, %llu received, %llu lost "
		    "(%.3f%%), %llu late, %llu duplicated, %llu reordered, "
		    "%llu corrupted\n", (unsigned long long)st->udp.sent,
		    (unsigned long long)st->udp.received,
		    (unsigned long long)st->udp.lost, report_loss_percent(st),
		    (unsigned long long)st->udp.late,
		    (unsigned long long)st->udp.duplicated,
		    (unsigned long long)st->udp.reordered,
		    (unsigned long long)st->mismatches);
	}
	report_human_latency("latency us ", h, "samples");
	report_human_latency("connect us ", &st->connect_hist, "connects");
	printf("  errors      %llu: %llu connect, %llu closed, %llu resets, "
	    "%llu timeouts, %llu other\n", (unsigned long long)report_errors(st),
	    (unsigned long long)st->connect_errors,
	    (unsigned long long)st->closed, (unsigned long long)st->resets,
	    (unsigned long long)st->timeouts,
	    (unsigned long long)st->other_errors);
	if (cf->reconnect)
		printf("  reconnects  %llu\n",
		    (unsigned long long)st->reconnects);
	if (cf->expect_greeting)
		report_human_greetings(&st->greets);
	printf("  client CPU  %.2f s in %.2f s (%.0f%% of one core), warm-up "
	    "and connects included\n", st->cpu_seconds, st->wall_seconds,
	    report_cpu_percent(st));
	printf("  mismatches  %llu messages, %llu bytes",
	    (unsigned long long)st->mismatches,
	    (unsigned long long)st->mismatched_bytes);
	if (st->mismatches != 0) {
		printf(", first on connection %llu at offset %llu",
		    (unsigned long long)st->first_bad_conn,
		    (unsigned long long)st->first_bad_offset);
	}
	printf("\n");
}

/* --expect-greeting: connections per server, most first as they came. */
static void
report_human_greetings(const struct greet_tally *t)
{
	uint64_t	total = greet_tally_total(t);
	size_t		i;

	printf("  greetings   %llu connections, %zu distinct%s\n",
	    (unsigned long long)total, t->n, t->n == 1 ? " line" : " lines");
	for (i = 0; i < t->n; i++)
		printf("    %10llu  %5.1f%%  %s\n",
		    (unsigned long long)t->lines[i].count,
		    100.0 * (double)t->lines[i].count / (double)total,
		    t->lines[i].text);
	if (t->other != 0)
		printf("    %10llu  %5.1f%%  (other lines, beyond %d)\n",
		    (unsigned long long)t->other,
		    100.0 * (double)t->other / (double)total,
		    BENCH_GREETINGS_MAX);
}

/* --expect-greeting's tally as JSON members, then a comma. */
static void
report_json_greetings(const struct greet_tally *t)
{
	size_t	i;

	printf("\"greetings\":{");
	for (i = 0; i < t->n; i++) {
		report_json_string(t->lines[i].text);
		printf(":%llu%s", (unsigned long long)t->lines[i].count,
		    i + 1 < t->n ? "," : "");
	}
	printf("},\"greetings_other\":%llu,", (unsigned long long)t->other);
}

/* s as a JSON string, quotes and escapes included. */
static void
report_json_string(const char *s)
{
	const unsigned char	*p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/*
 * The histogram itself, so that runs can be added up (--merge): its layout
 * and the non-empty buckets as [index, count] pairs.
 */
static void
report_json_hist(const char *key, const struct hist *h)
{
	unsigned int	i;
	int		first = 1;

	printf("\"%s\":{\"unit\":\"ns\",\"sub_bits\":%d,"
	    "\"max_bits\":%d,\"count\":%llu,\"sum\":%llu,\"min\":%llu,"
	    "\"max\":%llu,\"buckets\":[", key, HIST_SUB_BITS, HIST_MAX_BITS,
	    (unsigned long long)h->count, (unsigned long long)h->sum,
	    (unsigned long long)(h->count > 0 ? h->min : 0),
	    (unsigned long long)h->max);
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		printf("%s[%u,%llu]", first ? "" : ",", i,
		    (unsigned long long)h->buckets[i]);
		first = 0;
	}
	printf("]}");
}

/* "key":{samples, min, ...} of h, for the result and each interval. */
void
report_json_latency(const char *key, const struct hist *h)
{
	printf("\"%s\":{\"samples\":%llu,\"min\":%.3f,\"mean\":%.3f,"
	    "\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
	    "\"max\":%.3f}", key,
	    (unsigned long long)h->count,
	    h->count > 0 ? report_us(h->min) : 0.0, hist_mean(h) / 1000.0,
	    report_us(hist_percentile(h, 50)),
	    report_us(hist_percentile(h, 90)),
	    report_us(hist_percentile(h, 99)),
	    report_us(hist_percentile(h, 99.9)),
	    report_us(h->max));
}

/* The report as one line of JSON. */
void
report_json(const struct bench_stats *st, double seconds)
{
	const struct bench_config	*cf = &bench_config;
	const struct hist		*h = &st->hist;
	double				 mps = report_rate(st->messages, seconds);

	printf("{\"type\":\"result\",\"mode\":\"%s\",%s\"target\":",
	    cf->mode->name, (cf->mode->flags & MODE_DATAGRAM) ?
	    "\"transport\":\"udp\"," : "");
	report_json_string(cf->target_name);
	printf(",\"connections\":%llu,"
	    "\"size\":%llu,\"depth\":%llu,\"threads\":%d,\"rate\":%llu,"
	    "\"window\":%llu,\"connections_open\":%llu,",
	    (unsigned long long)cf->conns, (unsigned long long)cf->size,
	    (unsigned long long)cf->depth, cf->threads,
	    (unsigned long long)cf->rate,
	    (unsigned long long)((cf->mode->flags & MODE_WINDOW) ? cf->window : 0),
	    (unsigned long long)st->open_at_start);
	printf("\"messages_total\":%llu,",
	    (unsigned long long)st->messages_total);
	printf("\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.6f,"
	    "\"msgs_per_sec\":%.3f,\"mb_per_sec\":%.6f,\"conns_per_sec\":%.3f,"
	    "\"held\":%llu,",
	    (unsigned long long)st->messages,
	    (unsigned long long)(st->messages * cf->size), seconds, mps,
	    mps * (double)cf->size / 1e6,
	    (cf->mode->flags & MODE_RECYCLES) ? mps : 0.0,
	    (unsigned long long)((cf->mode->flags & MODE_SETTLES) ? st->held : 0));
	printf("\"cpu_percent\":%.1f,\"cpu_seconds\":%.6f,"
	    "\"wall_seconds\":%.6f,", report_cpu_percent(st), st->cpu_seconds,
	    st->wall_seconds);
	if (report_rate_reached(st, seconds) >= 0)
		printf("\"rate_reached\":%.4f,", report_rate_reached(st, seconds));
	else
		printf("\"rate_reached\":null,");
	if (st->signal != 0)
		printf("\"interrupted\":\"SIG%s\",", sigabbrev_np(st->signal));
	else
		printf("\"interrupted\":null,");
	if (st->ended_early[0] != '\0') {
		printf("\"ended_early\":");
		report_json_string(st->ended_early);
		printf(",");
	} else
		printf("\"ended_early\":null,");
	printf("\"errors\":%llu,\"connect_errors\":%llu,\"closed\":%llu,"
	    "\"resets\":%llu,\"timeouts\":%llu,\"other_errors\":%llu,"
	    "\"reconnects\":%llu,\"mismatches\":%llu,"
	    "\"mismatched_bytes\":%llu,",
	    (unsigned long long)report_errors(st),
	    (unsigned long long)st->connect_errors,
	    (unsigned long long)st->closed, (unsigned long long)st->resets,
	    (unsigned long long)st->timeouts,
	    (unsigned long long)st->other_errors,
	    (unsigned long long)st->reconnects,
	    (unsigned long long)st->mismatches,
	    (unsigned long long)st->mismatched_bytes);
	if (st->mismatches != 0) {
		printf("\"first_mismatch\":{\"connection\":%llu,"
		    "\"offset\":%llu},", (unsigned long long)st->first_bad_conn,
		    (unsigned long long)st->first_bad_offset);
	} else
		printf("\"first_mismatch\":null,");
	if (cf->expect_greeting)
		report_json_greetings(&st->greets);
	if (cf->mode->flags & MODE_DATAGRAM) {
		printf("\"sent\":%llu,\"received\":%llu,\"lost\":%llu,"
		    "\"late\":%llu,\"duplicated\":%llu,\"reordered\":%llu,"
		    "\"corrupted\":%llu,\"lost_measured\":%llu,"
		    "\"loss_percent\":%.6f,\"max_loss_percent\":%g,",
		    (unsigned long long)st->udp.sent,
		    (unsigned long long)st->udp.received,
		    (unsigned long long)st->udp.lost,
		    (unsigned long long)st->udp.late,
		    (unsigned long long)st->udp.duplicated,
		    (unsigned long long)st->udp.reordered,
		    (unsigned long long)st->mismatches,
		    (unsigned long long)st->udp.lost_measured,
		    report_loss_percent(st), cf->max_loss * 100);
	}
	report_json_latency("latency_us", h);
	printf(",");
	report_json_latency("connect_latency_us", &st->connect_hist);
	printf(",");
	report_json_hist("histogram", h);
	printf(",");
	report_json_hist("connect_histogram", &st->connect_hist);
	printf("}\n");
	fflush(stdout);
}

/*
 * --hgrm: the latency distribution in HdrHistogram's text format, in
 * milliseconds as wrk2 prints it, to f, which it closes.  0, or -1 with
 * errno set.
 */
int
report_hgrm(const struct hist *h, FILE *f)
{
	hist_write_hgrm(h, f, 1e6);
	if (ferror(f) != 0) {
		fclose(f);
		return (-1);
	}
	return (fclose(f));
}

/*
 * --udp: 1 if datagrams came back twice, or more were lost than
 * --max-loss allows (none by default: exit 0 means nothing was lost).
 * Reordered and late ones alone came back whole: UDP promises no order.
 */
int
report_udp_failed(const struct bench_stats *st)
{
	return (st->udp.duplicated != 0 || (double)st->udp.lost >
	    bench_config.max_loss * (double)st->udp.sent);
}

/*
 * 0 if every byte came back right and nothing failed, else 1: during the
 * run a timeout is one more failed echo, not a status of its own.  A run
 * cut short is never 0: 128+N after signal N (as evecho-cli), 1 when every
 * connection ended before its time.
 */
int
report_exit_status(const struct bench_stats *st)
{
	if (st->signal != 0)
		return (128 + st->signal);
	if (st->ended_early[0] != '\0')
		return (EXIT_ECHO_FAILED);
	return (st->mismatches != 0 || st->mismatched_bytes != 0 ||
	    report_errors(st) != 0 || report_udp_failed(st) ?
	    EXIT_ECHO_FAILED : EXIT_ECHOED);
}
