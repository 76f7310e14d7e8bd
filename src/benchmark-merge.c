/*
 * benchmark-merge.c: --merge, one result from the JSON results of several
 * benchmark processes or machines.  Counts add up; percentiles come from
 * the histograms added bucket by bucket, never from averaged percentiles.
 * The merged result is printed by the ordinary report, so it has the same
 * format as each input and can be merged again.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "benchmark.h"
#include "log.h"
#include "parse.h"

/* A bad input file: one line naming it, and the usage status. */
#define MERGE_BAD(file, ...) do {					\
	char	*why_ = NULL;						\
	cause_set(&why_, __VA_ARGS__);					\
	usage_error(bench_progname, "--merge: %s: %s", (file), why_);	\
} while (0)

/*
 * The result in path: the last line of it that is a JSON object with a
 * histogram (a --json-stream file ends with its result).  The caller
 * frees it.
 */
static json_t *
merge_load(const char *path)
{
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	json_t		*obj, *last = NULL;
	json_error_t	 err;
	int		 lineno = 0, bad = 0;

	if ((f = fopen(path, "r")) == NULL)
		MERGE_BAD(path, "%s", strerror(errno));
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (n <= 1)
			continue;
		if ((obj = json_loads(line, 0, &err)) == NULL) {
			bad = lineno;
			continue;
		}
		if (json_is_object(obj) &&
		    json_object_get(obj, "histogram") != NULL) {
			json_decref(last);
			last = obj;
		} else
			json_decref(obj);
	}
	free(line);
	fclose(f);
	if (last == NULL && bad != 0)
		MERGE_BAD(path, "line %d is not JSON", bad);
	if (last == NULL)
		MERGE_BAD(path, "no evecho-benchmark --json result in it");
	return (last);
}

/* obj's member key as a whole number >= 0; the file is bad otherwise. */
static uint64_t
merge_uint(const char *path, json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		MERGE_BAD(path, "'%s' is not a count", key);
	return ((uint64_t)json_integer_value(v));
}

/* obj's member key as a number; the file is bad otherwise. */
static double
merge_real(const char *path, json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (!json_is_number(v))
		MERGE_BAD(path, "'%s' is not a number", key);
	return (json_number_value(v));
}

/* Add obj's histogram called key into h, checking layout and indexes. */
static void
merge_hist(const char *path, json_t *obj, const char *key, struct hist *h)
{
	json_t		*hj = json_object_get(obj, key), *b, *pair;
	struct hist	 one;
	uint64_t	 i, c, total = 0;
	size_t		 k;

	if (!json_is_object(hj) || merge_uint(path, hj, "sub_bits") !=
	    HIST_SUB_BITS || merge_uint(path, hj, "max_bits") != HIST_MAX_BITS)
		MERGE_BAD(path, "its histogram has another layout");
	hist_reset(&one);
	one.count = merge_uint(path, hj, "count");
	one.sum = merge_uint(path, hj, "sum");
	one.min = merge_uint(path, hj, "min");
	one.max = merge_uint(path, hj, "max");
	if (!json_is_array(b = json_object_get(hj, "buckets")))
		MERGE_BAD(path, "its histogram has no buckets");
	json_array_foreach(b, k, pair) {
		if (!json_is_array(pair) || json_array_size(pair) != 2 ||
		    !json_is_integer(json_array_get(pair, 0)) ||
		    !json_is_integer(json_array_get(pair, 1)))
			MERGE_BAD(path, "bucket %zu is not [index, count]", k);
		i = (uint64_t)json_integer_value(json_array_get(pair, 0));
		c = (uint64_t)json_integer_value(json_array_get(pair, 1));
		if (json_integer_value(json_array_get(pair, 0)) < 0 ||
		    i >= HIST_BUCKETS || json_integer_value(json_array_get(pair,
		    1)) < 0)
			MERGE_BAD(path, "bucket %zu is out of range", k);
		one.buckets[i] += c;
		total += c;
	}
	if (total != one.count)
		MERGE_BAD(path, "its buckets hold %llu values, its count says "
		    "%llu", (unsigned long long)total,
		    (unsigned long long)one.count);
	if (one.count == 0)
		one.min = UINT64_MAX;
	hist_merge(h, &one);
}

/* The number of the signal called name ("SIGTERM"), or 0. */
static int
merge_signal(const char *name)
{
	int	sig;

	for (sig = 1; sig < NSIG; sig++) {
		if (sigabbrev_np(sig) != NULL && strncmp(name, "SIG", 3) == 0 &&
		    strcmp(name + 3, sigabbrev_np(sig)) == 0)
			return (sig);
	}
	return (0);
}

/*
 * The result being merged.  A bad one exits through usage_error() from
 * deep in the checks: merge_free(), at exit, frees it then.
 */
static json_t		*merge_obj;

/* At exit: free the result that was being merged, if any. */
static void
merge_free(void)
{
	json_decref(merge_obj);
	merge_obj = NULL;
}

/* Add a result's --expect-greeting tally, if it has one, into t. */
static void
merge_greetings(const char *path, json_t *obj, struct greet_tally *t)
{
	json_t		*g, *v;
	const char	*line;

	g = json_object_get(obj, "greetings");
	if (g == NULL)
		return;
	if (!json_is_object(g))
		MERGE_BAD(path, "'greetings' is not an object");
	bench_config.expect_greeting = 1;
	json_object_foreach(g, line, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			MERGE_BAD(path, "greeting '%s' has no count", line);
		greet_tally_add(t, line, strlen(line),
		    (uint64_t)json_integer_value(v));
	}
	t->other += merge_uint(path, obj, "greetings_other");
}

/* The counts that add up, by their JSON key. */
static const struct {
	const char	*key;
	size_t		 offset;
} merge_sums[] = {
	{ "connections_open", offsetof(struct bench_stats, open_at_start) },
	{ "messages", offsetof(struct bench_stats, messages) },
	{ "messages_total", offsetof(struct bench_stats, messages_total) },
	{ "held", offsetof(struct bench_stats, held) },
	{ "connect_errors", offsetof(struct bench_stats, connect_errors) },
	{ "closed", offsetof(struct bench_stats, closed) },
	{ "resets", offsetof(struct bench_stats, resets) },
	{ "timeouts", offsetof(struct bench_stats, timeouts) },
	{ "other_errors", offsetof(struct bench_stats, other_errors) },
	{ "reconnects", offsetof(struct bench_stats, reconnects) },
	{ "mismatches", offsetof(struct bench_stats, mismatches) },
	{ "mismatched_bytes", offsetof(struct bench_stats, mismatched_bytes) },
};

/* --udp's counts, in its results only ("corrupted" is "mismatches"). */
static const struct {
	const char	*key;
	size_t		 offset;
} merge_udp_sums[] = {
	{ "sent", offsetof(struct bench_udp, sent) },
	{ "received", offsetof(struct bench_udp, received) },
	{ "lost", offsetof(struct bench_udp, lost) },
	{ "late", offsetof(struct bench_udp, late) },
	{ "duplicated", offsetof(struct bench_udp, duplicated) },
	{ "reordered", offsetof(struct bench_udp, reordered) },
	{ "lost_measured", offsetof(struct bench_udp, lost_measured) },
};

/* 1 if obj is a --udp result (its "transport" says so), else 0. */
static int
merge_is_udp(const char *path, json_t *obj)
{
	json_t	*v = json_object_get(obj, "transport");

	if (v == NULL)
		return (0);
	if (!json_is_string(v) || (strcmp(json_string_value(v), "udp") != 0 &&
	    strcmp(json_string_value(v), "tcp") != 0))
		MERGE_BAD(path, "'transport' is not \"tcp\" or \"udp\"");
	return (strcmp(json_string_value(v), "udp") == 0);
}

/*
 * Merge the n results in files into bench_config and *st (the settings of
 * the first, counts added), and *seconds (the longest).  A file that is
 * not a result, or of another mode or message size, exits 64.
 */
void
bench_merge(char *const files[], int n, struct bench_stats *st,
    double *seconds)
{
	struct bench_config	*cf = &bench_config;
	json_t			*obj, *v, *fm;
	const char		*path;
	double			 secs;
	size_t			 k;
	int			 i, udp = 0;

	atexit(merge_free);
	memset(st, 0, sizeof *st);
	hist_reset(&st->hist);
	hist_reset(&st->connect_hist);
	*seconds = 0;
	cf->conns = 0;
	cf->threads = 0;
	cf->rate = 0;
	for (i = 0; i < n; i++) {
		path = files[i];
		obj = merge_obj = merge_load(path);
		v = json_object_get(obj, "mode");
		if (!json_is_string(v))
			MERGE_BAD(path, "'mode' is not a string");
		if (i == 0) {
			udp = merge_is_udp(path, obj);
			if ((cf->mode = bench_mode_find(json_string_value(v),
			    udp)) == NULL)
				MERGE_BAD(path, "mode '%s' is not one of ours",
				    json_string_value(v));
			cf->size = merge_uint(path, obj, "size");
			cf->depth = merge_uint(path, obj, "depth");
			cf->window = merge_uint(path, obj, "window");
			v = json_object_get(obj, "target");
			snprintf(cf->target_name, sizeof cf->target_name, "%s",
			    json_is_string(v) ? json_string_value(v) : "?");
		} else if (strcmp(json_string_value(v), cf->mode->name) != 0 ||
		    merge_uint(path, obj, "size") != cf->size) {
			MERGE_BAD(path, "it is %s with %llu-byte messages, the "
			    "first is %s with %llu", json_string_value(v),
			    (unsigned long long)merge_uint(path, obj, "size"),
			    cf->mode->name, (unsigned long long)cf->size);
		} else if (merge_is_udp(path, obj) != udp) {
			MERGE_BAD(path, "it is a %s result, the first is %s",
			    udp ? "TCP" : "UDP", udp ? "UDP" : "TCP");
		} else if (!json_is_string(v = json_object_get(obj, "target")) ||
		    strcmp(json_string_value(v), cf->target_name) != 0)
			snprintf(cf->target_name, sizeof cf->target_name,
			    "several targets");
		cf->conns += merge_uint(path, obj, "connections");
		cf->threads += (int)merge_uint(path, obj, "threads");
		cf->rate += merge_uint(path, obj, "rate");
		for (k = 0; k < sizeof merge_sums / sizeof merge_sums[0]; k++)
			*(uint64_t *)((char *)st + merge_sums[k].offset) +=
			    merge_uint(path, obj, merge_sums[k].key);
		for (k = 0; udp && k < sizeof merge_udp_sums /
		    sizeof merge_udp_sums[0]; k++)
			*(uint64_t *)((char *)&st->udp +
			    merge_udp_sums[k].offset) += merge_uint(path, obj,
			    merge_udp_sums[k].key);
		st->cpu_seconds += merge_real(path, obj, "cpu_seconds");
		if ((secs = merge_real(path, obj, "wall_seconds")) >
		    st->wall_seconds)
			st->wall_seconds = secs;
		if ((secs = merge_real(path, obj, "seconds")) > *seconds)
			*seconds = secs;
		fm = json_object_get(obj, "first_mismatch");
		if (st->first_bad_ns == 0 && json_is_object(fm)) {
			st->first_bad_ns = 1;
			st->first_bad_conn = merge_uint(path, fm, "connection");
			st->first_bad_offset = merge_uint(path, fm, "offset");
		}
		v = json_object_get(obj, "interrupted");
		if (st->signal == 0 && json_is_string(v))
			st->signal = merge_signal(json_string_value(v));
		v = json_object_get(obj, "ended_early");
		if (st->ended_early[0] == '\0' && json_is_string(v))
			snprintf(st->ended_early, sizeof st->ended_early,
			    "%s: %s", path, json_string_value(v));
		merge_hist(path, obj, "histogram", &st->hist);
		merge_hist(path, obj, "connect_histogram", &st->connect_hist);
		merge_greetings(path, obj, &st->greets);
		merge_free();
	}
	cf->reconnect = st->reconnects != 0;
}
