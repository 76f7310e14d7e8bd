/*
 * faultspec.c: one --fault SPEC, KIND[=ARG][@PROBABILITY], into a struct
 * fault_spec.  No I/O, no libevent: the unit tests and the fuzz target
 * link it alone.
 *
 * A *-after value is a size or a duration; a unit decides which.  Sizes
 * keep --max-pending's suffixes (k, m, g: 1m is a mebibyte), so a duration
 * needs a unit of its own that no size has: us, ms, s, min or h (1min).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultspec.h"
#include "parse.h"

#define FAULT_MAX_DELAY_US	(3600ULL * 1000000)	/* an hour */
#define FAULT_MAX_AFTER_US	(86400ULL * 1000000)	/* a day */
#define FAULT_MAX_SIZE		(1ULL << 50)
#define FAULT_MAX_RATE		(1ULL << 30)		/* bytes a second */

/* What each kind takes, by enum fault_kind. */
static const struct {
	const char	*name;
	int		 arg;		/* 0: none, 1: required */
	int		 applies;	/* FAULT_TCP, FAULT_UDP */
} fault_kinds[FAULT_KINDS] = {
	{ "delay",	 1, FAULT_TCP | FAULT_UDP },
	{ "rate",	 1, FAULT_TCP },
	{ "chunk",	 1, FAULT_TCP },
	{ "reset-after", 1, FAULT_TCP },
	{ "close-after", 1, FAULT_TCP },
	{ "stall-after", 1, FAULT_TCP },
	{ "refuse",	 0, FAULT_TCP },
	{ "corrupt",	 0, FAULT_TCP | FAULT_UDP },
	{ "drop",	 0, FAULT_UDP },
	{ "duplicate",	 0, FAULT_UDP },
	{ "reorder",	 1, FAULT_UDP },
};

const char *
faultspec_name(enum fault_kind kind)
{
	return (kind < FAULT_KINDS ? fault_kinds[kind].name : "?");
}

/* FAULT_TCP, FAULT_UDP or both. */
int
faultspec_applies(enum fault_kind kind)
{
	return (kind < FAULT_KINDS ? fault_kinds[kind].applies : 0);
}

/* Return 1 if s ends in a unit only durations have. */
static int
fault_is_duration(const char *s)
{
	size_t	n = strlen(s);

	return ((n >= 2 && (strcmp(s + n - 2, "us") == 0 ||
	    strcmp(s + n - 2, "ms") == 0)) ||
	    (n >= 3 && strcmp(s + n - 3, "min") == 0) ||
	    (n >= 1 && (s[n - 1] == 's' || s[n - 1] == 'h') &&
	    (n < 2 || isdigit((unsigned char)s[n - 2]) || s[n - 2] == '.')));
}

/*
 * A probability: a percentage with at most four decimals, more than 0
 * and at most 100, as parts per million.
 */
static int
fault_parse_probability(const char *s, uint32_t *ppm, char **cause)
{
	uint64_t	 whole = 0, frac = 0;
	int		 digits = 0, decimals = 0;
	const char	*p = s;

	for (; isdigit((unsigned char)*p) && digits < 4; p++, digits++)
		whole = whole * 10 + (uint64_t)(*p - '0');
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p) && decimals < 4;
		    p++, decimals++)
			frac = frac * 10 + (uint64_t)(*p - '0');
		if (decimals == 0)
			goto bad;
	}
	if (digits == 0 || *p != '%' || p[1] != '\0')
		goto bad;
	for (; decimals < 4; decimals++)
		frac *= 10;
	whole = whole * 10000 + frac;	/* in millionths */
	if (whole == 0 || whole > FAULT_ALWAYS) {
		cause_set(cause, "probability '%s' is out of range (more than "
		    "0%% and at most 100%%)", s);
		return (-1);
	}
	*ppm = (uint32_t)whole;
	return (0);
bad:
	cause_set(cause, "probability '%s' is not a percentage (like 10%% or "
	    "0.5%%)", s);
	return (-1);
}

/* A delay's DUR[~JITTER]; the jitter at most the delay. */
static int
fault_parse_delay(const char *s, struct fault_spec *f, char **cause)
{
	char	*copy, *tilde;
	int	 rc = -1;

	if ((copy = strdup(s)) == NULL) {
		cause_set(cause, "out of memory");
		return (-1);
	}
	if ((tilde = strchr(copy, '~')) != NULL)
		*tilde++ = '\0';
	if (parse_duration(copy, 0, FAULT_MAX_DELAY_US, &f->arg, cause) != 0 ||
	    (tilde != NULL && parse_duration(tilde, 0, FAULT_MAX_DELAY_US,
	    &f->jitter_us, cause) != 0))
		goto out;
	if (f->jitter_us > f->arg) {
		cause_set(cause, "jitter '%s' is more than the delay '%s'",
		    tilde, copy);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return (rc);
}

/* The value of KIND=VALUE, by kind. */
static int
fault_parse_arg(const char *v, struct fault_spec *f, char **cause)
{
	switch (f->kind) {
	case FAULT_DELAY:
		return (fault_parse_delay(v, f, cause));
	case FAULT_RATE:
		return (parse_size(v, 1, FAULT_MAX_RATE, &f->arg, cause));
	case FAULT_CHUNK:
		return (parse_size(v, 1, FAULT_MAX_SIZE, &f->arg, cause));
	case FAULT_RESET_AFTER:
	case FAULT_CLOSE_AFTER:
	case FAULT_STALL_AFTER:
		f->after_time = fault_is_duration(v);
		if (f->after_time)
			return (parse_duration(v, 0, FAULT_MAX_AFTER_US,
			    &f->arg, cause));
		return (parse_size(v, 0, FAULT_MAX_SIZE, &f->arg, cause));
	case FAULT_REORDER:
		return (parse_duration(v, 1, FAULT_MAX_DELAY_US, &f->arg,
		    cause));
	default:
		return (0);
	}
}

/*
 * Parse SPEC into *f; -1 with *cause naming the bad part.  The cause of
 * a part's parser is kept and prefixed by the kind.
 */
int
faultspec_parse(const char *s, struct fault_spec *f, char **cause)
{
	char		 buf[FAULT_SPEC_MAX + 1], *at, *eq, *inner = NULL;
	const char	*kinds = "delay, rate, chunk, reset-after, close-after, "
			    "stall-after, refuse, corrupt, drop, duplicate, "
			    "reorder";
	size_t		 i;

	memset(f, 0, sizeof *f);
	f->ppm = FAULT_ALWAYS;
	if (strlen(s) > FAULT_SPEC_MAX) {
		cause_set(cause, "longer than %d bytes", FAULT_SPEC_MAX);
		return (-1);
	}
	memcpy(buf, s, strlen(s) + 1);
	if ((at = strrchr(buf, '@')) != NULL) {
		*at++ = '\0';
		if (fault_parse_probability(at, &f->ppm, cause) != 0)
			return (-1);
	}
	if ((eq = strchr(buf, '=')) != NULL)
		*eq++ = '\0';
	for (i = 0; i < FAULT_KINDS; i++) {
		if (strcmp(buf, fault_kinds[i].name) == 0)
			break;
	}
	if (i == FAULT_KINDS) {
		/* Not echoed raw: it may be any bytes. */
		cause_set(cause, "unknown kind (one of %s)", kinds);
		return (-1);
	}
	f->kind = (enum fault_kind)i;
	if (fault_kinds[i].arg && (eq == NULL || *eq == '\0')) {
		cause_set(cause, "%s needs a value (%s=...)", buf, buf);
		return (-1);
	}
	if (!fault_kinds[i].arg && eq != NULL) {
		cause_set(cause, "%s takes no value", buf);
		return (-1);
	}
	if (eq != NULL && fault_parse_arg(eq, f, &inner) != 0) {
		cause_set(cause, "%s: %s", buf, inner);
		free(inner);
		return (-1);
	}
	return (0);
}

/* Write f back as a SPEC, for the log; what snprintf returns. */
int
faultspec_format(const struct fault_spec *f, char *buf, unsigned long len)
{
	char	arg[64] = "", prob[16];

	switch (f->kind) {
	case FAULT_DELAY:
		if (f->jitter_us != 0)
			snprintf(arg, sizeof arg, "=%lluus~%lluus",
			    (unsigned long long)f->arg,
			    (unsigned long long)f->jitter_us);
		else
			snprintf(arg, sizeof arg, "=%lluus",
			    (unsigned long long)f->arg);
		break;
	case FAULT_REORDER:
		snprintf(arg, sizeof arg, "=%lluus",
		    (unsigned long long)f->arg);
		break;
	case FAULT_RATE:
	case FAULT_CHUNK:
		snprintf(arg, sizeof arg, "=%llu", (unsigned long long)f->arg);
		break;
	case FAULT_RESET_AFTER:
	case FAULT_CLOSE_AFTER:
	case FAULT_STALL_AFTER:
		snprintf(arg, sizeof arg, "=%llu%s",
		    (unsigned long long)f->arg, f->after_time ? "us" : "");
		break;
	default:
		break;
	}
	snprintf(prob, sizeof prob, "%u.%04u%%", f->ppm / 10000,
	    f->ppm % 10000);
	return (snprintf(buf, (size_t)len, "%s%s@%s", faultspec_name(f->kind),
	    arg, prob));
}
