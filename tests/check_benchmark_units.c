/*
 * check_benchmark_units.c: the benchmark's histogram and byte pattern,
 * without a network.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hist.h"
#include "pattern.h"

static struct hist	h, h2, h3;

/* Assert got is within 1% of want. */
static void
near(uint64_t got, uint64_t want, const char *what)
{
	double	err = fabs((double)got - (double)want) / (double)want;

	ck_assert_msg(err <= 0.01, "%s: got %llu, want %llu (%.2f%% off)",
	    what, (unsigned long long)got, (unsigned long long)want,
	    err * 100);
}

/* Every percentile of a constant is the constant, exactly. */
START_TEST(test_hist_constant)
{
	int	i;

	hist_reset(&h);
	for (i = 0; i < 1000; i++)
		hist_record(&h, 123456);
	ck_assert_uint_eq(h.count, 1000);
	ck_assert_uint_eq(h.min, 123456);
	ck_assert_uint_eq(h.max, 123456);
	ck_assert_uint_eq(hist_percentile(&h, 50), 123456);
	ck_assert_uint_eq(hist_percentile(&h, 99.9), 123456);
	ck_assert(hist_mean(&h) == 123456.0);
}
END_TEST

/* A uniform spread from 1 us to 10 ms: percentiles within 1%. */
START_TEST(test_hist_uniform)
{
	static const double	ps[] = { 1, 10, 25, 50, 75, 90, 99, 99.9 };
	uint64_t		i, n = 100000, want;
	size_t			j;

	hist_reset(&h);
	/* Record out of order: the histogram must not care. */
	for (i = 0; i < n; i++)
		hist_record(&h, 1000 + ((i * 7919) % n) * 100);
	ck_assert_uint_eq(h.min, 1000);
	ck_assert_uint_eq(h.max, 1000 + (n - 1) * 100);
	for (j = 0; j < sizeof ps / sizeof ps[0]; j++) {
		/* The value of rank ceil(p% of n) in the sorted list. */
		want = 1000 + ((uint64_t)ceil(ps[j] / 100 * (double)n) - 1) *
		    100;
		near(hist_percentile(&h, ps[j]), want, "uniform percentile");
	}
	near((uint64_t)hist_mean(&h), 1000 + (n - 1) * 50, "uniform mean");
}
END_TEST

/* Two points: 90% at 10 us, 10% at 1 s. */
START_TEST(test_hist_two_point)
{
	int	i;

	hist_reset(&h);
	for (i = 0; i < 900; i++)
		hist_record(&h, 10000);
	for (i = 0; i < 100; i++)
		hist_record(&h, 1000000000);
	near(hist_percentile(&h, 50), 10000, "p50");
	near(hist_percentile(&h, 90), 10000, "p90");
	near(hist_percentile(&h, 90.1), 1000000000, "p90.1");
	near(hist_percentile(&h, 99), 1000000000, "p99");
	ck_assert_uint_eq(hist_percentile(&h, 100), 1000000000);
	ck_assert_uint_eq(hist_percentile(&h, 0), 10000);
	near((uint64_t)hist_mean(&h), 100009000, "mean");
}
END_TEST

/*
 * Bucket precision over the whole range: with min and max far away, the
 * median is a bucket's middle, which must be within 1% of the value.
 */
START_TEST(test_hist_precision)
{
	double	v;

	for (v = 1000; v <= 60e9; v *= 1.0137) {
		hist_reset(&h);
		hist_record(&h, 1);
		hist_record(&h, (uint64_t)v);
		hist_record(&h, (uint64_t)v);
		hist_record(&h, (uint64_t)v);
		hist_record(&h, 100000000000ULL);
		near(hist_percentile(&h, 50), (uint64_t)v, "precision");
	}
}
END_TEST

/* Merging two histograms equals recording everything in one. */
START_TEST(test_hist_merge)
{
	uint64_t	i, v;

	hist_reset(&h);
	hist_reset(&h2);
	hist_reset(&h3);
	for (i = 0; i < 20000; i++) {
		v = 500 + (i * i) % 5000000;
		hist_record(i % 3 == 0 ? &h : &h2, v);
		hist_record(&h3, v);
	}
	hist_merge(&h, &h2);
	ck_assert_uint_eq(h.count, h3.count);
	ck_assert_uint_eq(h.sum, h3.sum);
	ck_assert_uint_eq(h.min, h3.min);
	ck_assert_uint_eq(h.max, h3.max);
	ck_assert_int_eq(memcmp(h.buckets, h3.buckets, sizeof h.buckets), 0);
	ck_assert_uint_eq(hist_percentile(&h, 99), hist_percentile(&h3, 99));

	/* An empty histogram merges as nothing; an empty one reports 0. */
	hist_reset(&h2);
	hist_merge(&h, &h2);
	ck_assert_uint_eq(h.min, h3.min);
	ck_assert_uint_eq(hist_percentile(&h2, 50), 0);
	ck_assert(hist_mean(&h2) == 0.0);
}
END_TEST

/* Values past the top bucket still count and set max. */
START_TEST(test_hist_overflow)
{
	hist_reset(&h);
	hist_record(&h, 500ULL * 1000000000);
	hist_record(&h, 0);
	ck_assert_uint_eq(h.count, 2);
	ck_assert_uint_eq(h.max, 500ULL * 1000000000);
	ck_assert_uint_eq(hist_percentile(&h, 100), 500ULL * 1000000000);
	ck_assert_uint_eq(hist_percentile(&h, 10), 0);
}
END_TEST

/* Fill buf with connection conn's bytes from offset off, one at a time. */
static void
fill(unsigned char *buf, uint64_t conn, uint64_t off, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(conn, off + i);
}

/* The right bytes pass; one flipped byte is found, at its offset. */
/*
 * The .hgrm text: HdrHistogram's header, then value, percentile, count and
 * 1/(1-p) lines rising to the last value at 1.0, then the summary lines.
 */
START_TEST(test_hist_hgrm)
{
	char		*text = NULL, *line, *save;
	size_t		 len = 0;
	FILE		*f;
	double		 value, pct, inv, last_value = -1, last_pct = -1;
	unsigned long long count, last_count = 0;
	int		 rows = 0, n;
	uint64_t	 v;

	hist_reset(&h);
	for (v = 1; v <= 1000; v++)
		hist_record(&h, v * 1000);	/* 1 us to 1 ms */
	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	hist_write_hgrm(&h, f, 1e6);
	fclose(f);
	line = strtok_r(text, "\n", &save);
	ck_assert_msg(line != NULL && strstr(line, "Value") != NULL &&
	    strstr(line, "Percentile") != NULL &&
	    strstr(line, "TotalCount") != NULL, "header: %s", line);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && line[0] != '#') {
		n = sscanf(line, "%lf %lf %llu %lf", &value, &pct, &count, &inv);
		ck_assert_msg(n == 4 || n == 3, "line: %s", line);
		ck_assert(value >= last_value && pct > last_pct &&
		    count > last_count);
		if (n == 4)
			ck_assert(fabs(inv - 1 / (1 - pct)) < 0.01 * inv + 0.01);
		last_value = value;
		last_pct = pct;
		last_count = count;
		rows++;
	}
	/* Every value counted, the last at 1 ms and 100%. */
	ck_assert_uint_eq(last_count, 1000);
	ck_assert(fabs(last_pct - 1.0) < 1e-12);
	ck_assert(fabs(last_value - 1.0) < 1e-9);
	/* Five per halving: about 5 * log2(1000) lines, not one per bucket. */
	ck_assert_msg(rows >= 20 && rows <= 80, "%d rows", rows);
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strncmp(line, "#[Mean    =        0.500", 24) == 0,
	    "%s", line);
	line = strtok_r(NULL, "\n", &save);
	ck_assert_msg(line != NULL && strstr(line, "#[Max     =        1.000, "
	    "Total count    =         1000]") != NULL, "%s", line);
	free(text);
}
END_TEST

START_TEST(test_pattern_flip)
{
	static unsigned char	buf[100000];
	size_t			first = 0;

	fill(buf, 7, 70000, sizeof buf);
	ck_assert_uint_eq(pattern_check(7, 70000, buf, sizeof buf, &first), 0);
	buf[1234] ^= 0x01;
	ck_assert_uint_eq(pattern_check(7, 70000, buf, sizeof buf, &first), 1);
	ck_assert_uint_eq(first, 1234);
	buf[99999] ^= 0x80;
	ck_assert_uint_eq(pattern_check(7, 70000, buf, sizeof buf, &first), 2);
	ck_assert_uint_eq(first, 1234);
	/* Shifted by one byte, as if one was lost: nearly all differ. */
	ck_assert_uint_gt(pattern_check(7, 70001, buf, 1000, &first), 900);
}
END_TEST

/* Across the period's end and far offsets the bytes still line up. */
START_TEST(test_pattern_wrap)
{
	unsigned char		 buf[600];
	const unsigned char	*p;
	size_t			 run, i, first = 0;
	uint64_t		 offs[] = { 0, PATTERN_PERIOD - 300,
				     3 * (uint64_t)PATTERN_PERIOD - 1,
				     (1ULL << 40) + 12345 };

	for (i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		/* pattern_at's contiguous run is the same bytes. */
		p = pattern_at(42, offs[i], &run);
		ck_assert_uint_ge(run, PATTERN_RUN);
		fill(buf, 42, offs[i], sizeof buf);
		ck_assert_int_eq(memcmp(p, buf, sizeof buf), 0);
		ck_assert_uint_eq(pattern_check(42, offs[i], buf, sizeof buf,
		    &first), 0);
		/* The stream repeats with the period. */
		ck_assert_uint_eq(pattern_check(42, offs[i] + PATTERN_PERIOD,
		    buf, sizeof buf, &first), 0);
		buf[299] ^= 0x10;
		ck_assert_uint_eq(pattern_check(42, offs[i], buf, sizeof buf,
		    &first), 1);
		ck_assert_uint_eq(first, 299);
	}
	/* A check longer than one run wraps within pattern_check. */
	{
		static unsigned char	big[3 * PATTERN_RUN];

		fill(big, 5, PATTERN_PERIOD - 10, sizeof big);
		ck_assert_uint_eq(pattern_check(5, PATTERN_PERIOD - 10, big,
		    sizeof big, &first), 0);
		big[2 * PATTERN_RUN + 7] ^= 0xff;
		ck_assert_uint_eq(pattern_check(5, PATTERN_PERIOD - 10, big,
		    sizeof big, &first), 1);
		ck_assert_uint_eq(first, 2 * PATTERN_RUN + 7);
	}
}
END_TEST

/* Different connections send different bytes at the same offset. */
START_TEST(test_pattern_connections)
{
	unsigned char	a[64];
	size_t		first;
	uint64_t	c, d;

	for (c = 0; c < 300; c++) {
		fill(a, c, 0, sizeof a);
		for (d = 0; d < 300; d++) {
			if (d == c)
				continue;
			ck_assert_msg(pattern_check(d, 0, a, sizeof a,
			    &first) > 32, "connections %llu and %llu send "
			    "alike", (unsigned long long)c,
			    (unsigned long long)d);
		}
	}
	/* Connect mode's later ids (index + gen * -c) as well. */
	fill(a, 100003, 1000, sizeof a);
	ck_assert_uint_gt(pattern_check(3, 1000, a, sizeof a, &first), 32);
}
END_TEST

static Suite *
units_suite(void)
{
	Suite	*s = suite_create("benchmark units");
	TCase	*tc;

	tc = tcase_create("hist");
	tcase_add_test(tc, test_hist_constant);
	tcase_add_test(tc, test_hist_hgrm);
	tcase_add_test(tc, test_hist_uniform);
	tcase_add_test(tc, test_hist_two_point);
	tcase_add_test(tc, test_hist_precision);
	tcase_add_test(tc, test_hist_merge);
	tcase_add_test(tc, test_hist_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("pattern");
	tcase_add_test(tc, test_pattern_flip);
	tcase_add_test(tc, test_pattern_wrap);
	tcase_add_test(tc, test_pattern_connections);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	pattern_init();
	return (harness_run_suite(units_suite()));
}
