/*
 * parse.c: strict parsers for command-line values.
 *
 * Each returns 0 and stores the value, or returns -1 and sets *cause to an
 * allocated message that names the bad value; the caller decides whether
 * that is a usage error.  Nothing here accepts trailing garbage, a sign, or
 * silently wraps around.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exitcode.h"
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

/*
 * Print "prog: message" on one line and exit with the usage status.  The
 * message quotes what the user typed, so control characters in it (a
 * newline inside an argument) are shown as \xNN rather than breaking the
 * line or driving the terminal.
 */
void
usage_error(const char *progname, const char *fmt, ...)
{
	va_list		 ap;
	char		*msg;
	const char	*p;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	fprintf(stderr, "%s: ", progname);
	for (p = msg != NULL ? msg : "bad command line"; *p != '\0'; p++) {
		if (iscntrl((unsigned char)*p))
			fprintf(stderr, "\\x%02x", (unsigned char)*p);
		else
			fputc(*p, stderr);
	}
	fprintf(stderr, " (try '%s --help')\n", progname);
	free(msg);
	exit(EXIT_USAGE);
}

/*
 * Exit 64 naming the option getopt_long refused: ch is '?' or ':', arg
 * the argument it was reading when it failed (NULL if still inside a
 * cluster of short options, where optopt is the letter).
 */
static void
usage_bad_option(const char *progname, int ch, const char *arg,
    const struct option *longopts)
{
	const struct option	*o;
	size_t			 len;
	int			 matches = 0;

	if (arg == NULL || strncmp(arg, "--", 2) != 0) {
		if (ch == ':')
			usage_error(progname, "option '-%c' needs a value",
			    optopt);
		usage_error(progname, "unknown option '-%c'", optopt);
	}
	/* A long option: its name as typed, without any "=value". */
	arg += 2;
	len = strcspn(arg, "=");
	if (ch == ':')
		usage_error(progname, "option '--%.*s' needs a value",
		    (int)len, arg);
	if (optopt != 0) {
		/* A known option that takes no value was given one. */
		usage_error(progname, "option '--%.*s' takes no value",
		    (int)len, arg);
	}
	for (o = longopts; o->name != NULL; o++) {
		if (strncmp(o->name, arg, len) == 0)
			matches++;
	}
	if (matches > 1)
		usage_error(progname, "ambiguous option '--%.*s'", (int)len,
		    arg);
	usage_error(progname, "unknown option '--%.*s'", (int)len, arg);
}

/*
 * getopt_long with evecho's error handling: an unknown option, a missing
 * value or a value given to an option that takes none exits 64 with one
 * line naming the option, so callers only see options they know.
 * optstring must begin with ':'.
 */
int
parse_getopt(const char *progname, int argc, char *const argv[],
    const char *optstring, const struct option *longopts)
{
	int	before = optind, ch;

	opterr = 0;
	ch = getopt_long(argc, argv, optstring, longopts, NULL);
	if (ch != '?' && ch != ':')
		return (ch);
	/*
	 * An error that finished an argument (a long option, a missing
	 * value, the last letter of a cluster) leaves optind past it.  One
	 * in the middle of a cluster such as -xv leaves optind on the
	 * cluster, and argv[optind - 1] is whatever came before it, so
	 * only optopt can be trusted then.  Skipped operands moved optind
	 * too, but they never begin with "--".
	 */
	usage_bad_option(progname, ch, optind > before ? argv[optind - 1] :
	    NULL, longopts);
	return (-1);
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
	if (n == 0 || (n > 0 && s[n] != '\0')) {
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
 * A number with an optional k, m or g suffix, scaled by unit (1000 or
 * 1024) to its power; range-checked after scaling.  Counts (unit 1000)
 * may have a fraction that comes out whole (1.5m); sizes (1024) may spell
 * the suffix kib or kb, and a bare b.
 */
static int
parse_scaled(const char *s, uint64_t unit, uint64_t min, uint64_t max,
    uint64_t *out, char **cause)
{
	uint64_t	 v, frac = 0, fdiv = 1, mult = 1;
	const char	*u;
	int		 n;

	n = parse_digits(s, &v);
	if (n == 0)
		goto bad;
	if (n < 0)
		goto range;
	u = s + n;
	if (*u == '.' && unit == 1000) {
		for (u++; isdigit((unsigned char)*u) && fdiv < 1000000000;
		    u++) {
			frac = frac * 10 + (uint64_t)(*u - '0');
			fdiv *= 10;
		}
		if (fdiv == 1)
			goto bad;
	}
	switch (tolower((unsigned char)*u)) {
	case '\0':
		break;
	case 'b':
		if (unit != 1024)
			goto bad;
		u++;
		break;
	case 'g':
		mult *= unit;
		/* FALLTHROUGH */
	case 'm':
		mult *= unit;
		/* FALLTHROUGH */
	case 'k':
		mult *= unit;
		break;
	default:
		goto bad;
	}
	if (mult != 1) {
		u++;
		if (unit == 1024 && (strcasecmp(u, "ib") == 0 ||
		    strcasecmp(u, "b") == 0))
			u += strlen(u);
	}
	if (*u != '\0' || (fdiv != 1 && (mult == 1 || frac * mult % fdiv != 0)))
		goto bad;
	if (v > UINT64_MAX / mult || v * mult > UINT64_MAX - frac * mult / fdiv)
		goto range;
	v = v * mult + frac * mult / fdiv;
	if (v < min || v > max)
		goto range;
	*out = v;
	return (0);
bad:
	if (unit == 1000)
		cause_set(cause, "'%s' is not a count (like 500, 100k, 1.5m)", s);
	else
		cause_set(cause, "'%s' is not a size (use a number with an "
		    "optional k, m or g suffix)", s);
	return (-1);
range:
	cause_set(cause, "%s'%s' is out of range (%llu to %llu%s)",
	    unit == 1000 ? "" : "size ", s, (unsigned long long)min,
	    (unsigned long long)max, unit == 1000 ? "" : " bytes");
	return (-1);
}

/* A count with an optional decimal suffix: 250, 100k, 1.5m, 2g. */
int
parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    char **cause)
{
	return (parse_scaled(s, 1000, min, max, out, cause));
}

/* A byte count with an optional binary suffix: 512, 64k, 1m, 2G, 1MiB. */
int
parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    char **cause)
{
	return (parse_scaled(s, 1024, min, max, out, cause));
}

/*
 * A duration in seconds, fractions allowed, or with a unit: 10, 0.5, 250ms,
 * 30s, 2m, 1h, 100us.  Stored in microseconds, the finer part dropped; a
 * value that is not zero but rounds down to zero is refused, because 0
 * means "never" or "at once" to the options that take one.
 */
int
parse_duration(const char *s, uint64_t min_us, uint64_t max_us,
    uint64_t *out_us, char **cause)
{
	uint64_t	 whole, frac = 0, frac_scale = 1, unit = 1000000, us;
	uint64_t	 frac_us;
	const char	*p = s;
	int		 n, nonzero;

	n = parse_digits(p, &whole);
	if (n < 0)
		goto range;
	p += n;
	nonzero = n > 0 && whole != 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		/* Keep at most 9 fractional digits: finer than we can use. */
		while (isdigit((unsigned char)*p)) {
			if (*p != '0')
				nonzero = 1;
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

	/* frac < 10^9 and unit <= 3.6 * 10^9, so frac * unit fits. */
	frac_us = frac * unit / frac_scale;
	if (whole > UINT64_MAX / unit || whole * unit > UINT64_MAX - frac_us)
		goto range;
	us = whole * unit + frac_us;
	if (us == 0 && nonzero) {
		cause_set(cause, "duration '%s' is shorter than 1 us, the "
		    "finest step", s);
		return (-1);
	}
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

/*
 * The length of the UTF-8 character at s (at most n bytes there), or 0 if
 * it is not one: a stray continuation byte, an overlong form, a surrogate,
 * past U+10FFFF, or cut short.  ASCII is 1.
 */
size_t
parse_utf8_char(const unsigned char *s, size_t n)
{
	uint32_t	cp;
	size_t		len, i;

	if (n == 0)
		return (0);
	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return (0);
	if (len > n)
		return (0);
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return (0);
	return (len);
}
