/*
 * benchmark-slo.c: --slo 'p99<=1ms' with --rate R: find the highest
 * open-loop rate, up to R, whose latency meets the target.  Each step is a
 * short run of its own (-t after -w): from R, halve until a step passes,
 * then bisect between the best that passed and the least that failed.  A
 * step passes when it reached 95% of its rate, with no error or mismatch
 * (--udp: nor a duplicate, nor loss beyond --max-loss), and its percentile
 * is within the target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchmark.h"
#include "exitcode.h"
#include "log.h"
#include "parse.h"

/* Bisection stops within this share of the rate, or after this many. */
#define SLO_PRECISION	0.05
#define SLO_MAX_STEPS	16
/* The lowest rate tried: below it the target is out of reach. */
#define SLO_MIN_RATE	10

/*
 * Parse 'pNN<=DURATION' (p99<=1ms, p99.9<=500us) into the percentile and
 * the bound in nanoseconds; exit 64 on anything else.
 */
void
bench_slo_parse(const char *spec)
{
	char		*end, *cause = NULL;
	uint64_t	 us;
	double		 p;
	const char	*le;

	if (spec[0] != 'p' || (le = strstr(spec, "<=")) == NULL)
		usage_error(bench_progname, "--slo: '%s' is not like "
		    "'p99<=1ms'", spec);
	p = strtod(spec + 1, &end);
	if (end != le || end == spec + 1 || !(p > 0 && p < 100))
		usage_error(bench_progname, "--slo: '%s': the percentile is "
		    "above 0 and below 100", spec);
	if (parse_duration(le + 2, 1, 3600ULL * 1000000, &us, &cause) != 0)
		usage_error(bench_progname, "--slo: %s", cause);
	bench_config.slo_pct = p;
	bench_config.slo_ns = us * 1000;
}

/* One step at rate: run it, say how it went; 1 if it met the target. */
static int
slo_step(int n, uint64_t rate, struct bench_stats *st, double *seconds)
{
	double	reached, got;
	int	ok;

	bench_config.rate = rate;
	if (bench_run(st, seconds) != 0)
		exit(EXIT_ECHO_FAILED);
	reached = report_rate_reached(st, *seconds);
	if (reached < 0)
		reached = 0;
	got = (double)hist_percentile(&st->hist, bench_config.slo_pct);
	ok = st->signal == 0 && st->ended_early[0] == '\0' &&
	    st->mismatches == 0 && st->connect_errors + st->closed +
	    st->resets + st->timeouts + st->other_errors == 0 &&
	    !report_udp_failed(st) &&
	    reached >= 0.95 && st->hist.count > 0 &&
	    got <= (double)bench_config.slo_ns;
	if (bench_config.json) {
		printf("{\"type\":\"slo_step\",\"step\":%d,\"rate\":%llu,"
		    "\"rate_reached\":%.4f,\"percentile\":%g,\"value_us\":%.3f,"
		    "\"target_us\":%.3f,\"errors\":%llu,\"mismatches\":%llu,"
		    "\"met\":%s}\n", n, (unsigned long long)rate, reached,
		    bench_config.slo_pct, got / 1000,
		    (double)bench_config.slo_ns / 1000,
		    (unsigned long long)(st->connect_errors + st->closed +
		    st->resets + st->timeouts + st->other_errors),
		    (unsigned long long)st->mismatches, ok ? "true" : "false");
	} else {
		printf("step %2d: %llu msg/s: reached %.1f%%, p%g %.1f us "
		    "(target %.1f us): %s\n", n, (unsigned long long)rate,
		    reached * 100, bench_config.slo_pct, got / 1000,
		    (double)bench_config.slo_ns / 1000, ok ? "met" :
		    "missed");
	}
	fflush(stdout);
	return (ok);
}

/*
 * The search; prints each step and the answer.  Returns the exit status:
 * 0 when a rate met the target, 1 when none did (or a step failed), 128+N
 * after a signal.
 */
int
bench_slo_search(void)
{
	struct bench_stats	 st;
	double			 seconds;
	uint64_t		 top = bench_config.rate, pass = 0, fail = 0;
	uint64_t		 rate = top;
	int			 n = 0;

	while (n < SLO_MAX_STEPS) {
		if (slo_step(++n, rate, &st, &seconds))
			pass = rate;
		else
			fail = rate;
		if (st.signal != 0)
			return (128 + st.signal);
		if (pass == top)
			break;			/* the top itself meets it */
		if (pass == 0) {
			if (rate / 2 < SLO_MIN_RATE)
				break;
			rate /= 2;		/* look for one that passes */
			continue;
		}
		if ((double)(fail - pass) <= SLO_PRECISION * (double)fail)
			break;
		rate = pass + (fail - pass) / 2;
	}
	if (bench_config.json) {
		printf("{\"type\":\"slo\",\"percentile\":%g,\"target_us\":%.3f,"
		    "\"rate\":%llu,\"failed_rate\":%llu,\"steps\":%d,"
		    "\"top\":%s}\n", bench_config.slo_pct,
		    (double)bench_config.slo_ns / 1000,
		    (unsigned long long)pass, (unsigned long long)fail, n,
		    pass == top ? "true" : "false");
	} else if (pass == 0) {
		printf("slo: no rate from %llu down to %llu msg/s met p%g <= "
		    "%.1f us\n", (unsigned long long)top,
		    (unsigned long long)rate, bench_config.slo_pct,
		    (double)bench_config.slo_ns / 1000);
	} else {
		printf("slo: %llu msg/s is the highest rate found that meets "
		    "p%g <= %.1f us%s\n", (unsigned long long)pass,
		    bench_config.slo_pct, (double)bench_config.slo_ns / 1000,
		    pass == top ? " (the --rate given: try a higher one)" :
		    "");
	}
	return (pass != 0 ? EXIT_ECHOED : EXIT_ECHO_FAILED);
}
