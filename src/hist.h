/* hist.h: a latency histogram with about 1% precision, mergeable. */
#ifndef EVECHO_HIST_H
#define EVECHO_HIST_H

#include <stdint.h>
#include <stdio.h>

/*
 * Log-linear buckets over nanoseconds: values below 2^HIST_SUB_BITS are
 * exact, and every power of two above is cut into 2^HIST_SUB_BITS equal
 * buckets, so a bucket is at most 1/128 (0.78%) of its values wide.  The
 * top octave reaches 2^HIST_MAX_BITS ns (about 68.7 s); larger values are
 * counted in the last bucket and still set max.
 */
#define HIST_SUB_BITS	7
#define HIST_SUB_COUNT	(1 << HIST_SUB_BITS)
#define HIST_MAX_BITS	36
#define HIST_BUCKETS	\
	(HIST_SUB_COUNT + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB_COUNT)

struct hist {
	uint64_t	count;
	uint64_t	sum;		/* of every value, for the mean */
	uint64_t	min;
	uint64_t	max;
	uint64_t	buckets[HIST_BUCKETS];
};

void		hist_reset(struct hist *);
void		hist_record(struct hist *, uint64_t);
void		hist_merge(struct hist *, const struct hist *);
uint64_t	hist_percentile(const struct hist *, double);
double		hist_mean(const struct hist *);
void		hist_write_hgrm(const struct hist *, FILE *, double);

#endif
