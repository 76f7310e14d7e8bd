/*
 * hist.c: a log-linear latency histogram (the HDR histogram's layout).
 *
 * Recording is a count-leading-zeros, a shift and an increment, so the
 * benchmark can afford one per message.  Histograms kept per thread are
 * merged by adding their buckets.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hist.h"

/* Empty the histogram. */
void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

/* The bucket a value falls in. */
static unsigned int
hist_index(uint64_t v)
{
	unsigned int	e;

	if (v < HIST_SUB_COUNT)
		return ((unsigned int)v);
	e = 63 - (unsigned int)__builtin_clzll(v);	/* v >= 2^e */
	if (e >= HIST_MAX_BITS)
		return (HIST_BUCKETS - 1);
	return (HIST_SUB_COUNT * (e - HIST_SUB_BITS + 1) +
	    (unsigned int)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB_COUNT - 1)));
}

/* The lowest value of bucket i, and in *width how many values it spans. */
static uint64_t
hist_bucket_low(unsigned int i, uint64_t *width)
{
	unsigned int	e;

	if (i < HIST_SUB_COUNT) {
		*width = 1;
		return (i);
	}
	e = i / HIST_SUB_COUNT + HIST_SUB_BITS - 1;
	*width = 1ULL << (e - HIST_SUB_BITS);
	return ((1ULL << e) + (uint64_t)(i % HIST_SUB_COUNT) * *width);
}

/* Count one value. */
void
hist_record(struct hist *h, uint64_t v)
{
	h->buckets[hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* Add src's counts into dst. */
void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int	i;

	if (src->count == 0)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/*
 * The value at percentile p (0 to 100): the middle of the first bucket at
 * which the running count reaches p% of all values, kept within [min, max].
 * 0 for an empty histogram.
 */
uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t	rank, seen = 0, low, width, v;
	unsigned int	i;

	if (h->count == 0)
		return (0);
	if (p <= 0)
		return (h->min);
	if (p >= 100)
		return (h->max);
	rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return (h->max);
	low = hist_bucket_low(i, &width);
	v = low + width / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return (v);
}

/* The exact mean of every value counted; 0 when empty. */
double
hist_mean(const struct hist *h)
{
	return (h->count == 0 ? 0.0 : (double)h->sum / (double)h->count);
}

/*
 * Write h as HdrHistogram's percentile distribution text (the .hgrm that
 * wrk2 prints and HdrHistogram's plotters read), values divided by unit
 * (1e6: milliseconds).  Percentiles are reported five times per halving of
 * the distance to 100%, as HdrHistogram does; each line gives the value,
 * the share of values at or below it, their count and 1/(1 - share).
 */
void
hist_write_hgrm(const struct hist *h, FILE *f, double unit)
{
	uint64_t	seen = 0, low, width, v;
	double		p = 0, share, var = 0, mean = hist_mean(h), mid, half;
	unsigned int	i = 0, used = 0;

	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile",
	    "TotalCount", "1/(1-Percentile)");
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		used++;
		low = hist_bucket_low(i, &width);
		mid = (double)low + (double)width / 2 - mean;
		var += mid * mid * (double)h->buckets[i];
	}
	for (i = 0; h->count > 0 && i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (h->buckets[i] == 0 || (double)seen * 100 <
		    p * (double)h->count)
			continue;
		low = hist_bucket_low(i, &width);
		v = low + width - 1;		/* the bucket's highest value */
		if (v > h->max || seen == h->count)
			v = h->max;
		share = (double)seen / (double)h->count;
		if (seen == h->count) {
			fprintf(f, "%12.3f %14.12f %10llu\n", (double)v / unit,
			    1.0, (unsigned long long)seen);
			break;
		}
		fprintf(f, "%12.3f %14.12f %10llu %14.2f\n", (double)v / unit,
		    share, (unsigned long long)seen, 1 / (1 - share));
		/* The next percentile to report: past this one. */
		while (p <= share * 100) {
			half = pow(2, floor(log2(100 / (100 - p))) + 1);
			p += 100 / (5 * half);
		}
	}
	fprintf(f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n",
	    mean / unit, h->count > 0 ? sqrt(var / (double)h->count) / unit :
	    0.0);
	fprintf(f, "#[Max     = %12.3f, Total count    = %12llu]\n",
	    (double)h->max / unit, (unsigned long long)h->count);
	fprintf(f, "#[Buckets = %12u, SubBuckets     = %12d]\n", used,
	    HIST_SUB_COUNT);
}
