/*
 * parse.c: strict parsers for command-line values.
 *
 * Each returns 0 and stores the value, or returns -1 and sets *cause to an
 * allocated message that names the bad value; the caller decides whether
 * that is a usage error.  Nothing here accepts trailing garbage, a sign, or
 * silently wraps around.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

/* Store an allocated, formatted message in *cause (if cause is not NULL). */
void
cause_set(char **cause, const char *fmt, ...)
{
	va_list	ap;
	char	*msg;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	*cause = msg;
}

/* Print "prog: message" and exit with the usage status. */
void
usage_error(const char *progname, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '%s --help')\n", progname);
	exit(EXIT_USAGE);
}

/*
 * Read the leading decimal digits of s into *out; return the number of
 * digits, or -1 on overflow.  Our own loop, because strtoull accepts
 * signs and leading spaces.
 */
static int
parse_digits(const char *s, uint64_t *out)
{
	uint64_t	v = 0;
	int		n = 0;

	while (isdigit((unsigned char)s[n])) {
		unsigned d = (unsigned)(s[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return (-1);
		v = v * 10 + d;
		n++;
	}
	*out = v;
	return (n);
}

/* A plain decimal integer in [min, max]. */
int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    char **cause)
{
	uint64_t	v;
	int		n;

	n = parse_digits(s, &v);
	if (n > 0 && s[n] != '\0')
		n = 0;	/* not s[n] when n is -1: overflow, tested next */
	if (n == 0) {
		cause_set(cause, "'%s' is not a whole number", s);
		return (-1);
	}
	if (n < 0 || v < min || v > max) {
		cause_set(cause, "'%s' is out of range (%llu to %llu)", s,
		    (unsigned long long)min, (unsigned long long)max);
		return (-1);
	}
	*out = v;
	return (0);
}

/*
 * A byte count with an optional binary suffix: 512, 64k, 1m, 2G, 1MiB,
 * 10kb.  Range-checked after scaling.
 */
int
parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    char **cause)
{
	uint64_t	 v, mult = 1;
	const char	*u;
	int		 n;

	n = parse_digits(s, &v);
	if (n == 0)
		goto bad;
	/* On overflow (n is -1) the suffix still follows every digit. */
	u = s + (n < 0 ? strspn(s, "0123456789") : (size_t)n);
	switch (tolower((unsigned char)*u)) {
	case '\0':
		break;
	case 'b':
		u++;
		break;
	case 'k':
		mult = 1ULL << 10;
		break;
	case 'm':
		mult = 1ULL << 20;
		break;
	case 'g':
		mult = 1ULL << 30;
		break;
	default:
		goto bad;
	}
	if (mult != 1) {
		u++;
		if (strcasecmp(u, "ib") == 0 || strcasecmp(u, "b") == 0)
			u += strlen(u);
	}
	if (*u != '\0')
		goto bad;
	if (n < 0 || v > UINT64_MAX / mult || v * mult < min || v * mult > max) {
		cause_set(cause, "size '%s' is out of range (%llu to %llu bytes)",
		    s, (unsigned long long)min, (unsigned long long)max);
		return (-1);
	}
	*out = v * mult;
	return (0);

bad:
	cause_set(cause, "'%s' is not a size (use a number with an optional "
	    "k, m or g suffix)", s);
	return (-1);
}

/*
 * A duration in seconds, fractions allowed, or with a unit: 10, 0.5, 250ms,
 * 30s, 2m, 1h, 100us.  Stored in microseconds.
 */
int
parse_duration(const char *s, uint64_t min_us, uint64_t max_us,
    uint64_t *out_us, char **cause)
{
	uint64_t	 whole, frac = 0, frac_scale = 1, unit = 1000000, us;
	const char	*p = s;
	int		 n;

	n = parse_digits(p, &whole);
	if (n < 0)
		goto range;
	p += n;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		/* Keep at most 9 fractional digits: finer than we can use. */
		while (isdigit((unsigned char)*p)) {
			if (frac_scale < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_scale *= 10;
			}
			p++;
		}
	} else if (n == 0)
		goto bad;

	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = 1000000;
	else if (strcmp(p, "ms") == 0)
		unit = 1000;
	else if (strcmp(p, "us") == 0)
		unit = 1;
	else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
		unit = 60000000ULL;
	else if (strcmp(p, "h") == 0)
		unit = 3600000000ULL;
	else
		goto bad;

	if (whole > UINT64_MAX / unit)
		goto range;
	us = whole * unit + frac * unit / frac_scale;
	if (us < min_us || us > max_us)
		goto range;
	*out_us = us;
	return (0);

range:
	cause_set(cause, "duration '%s' is out of range (%.6g to %.6g seconds)",
	    s, (double)min_us / 1e6, (double)max_us / 1e6);
	return (-1);
bad:
	cause_set(cause, "'%s' is not a duration (seconds, or a number with "
	    "us, ms, s, m or h)", s);
	return (-1);
}
