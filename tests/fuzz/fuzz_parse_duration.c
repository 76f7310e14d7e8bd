/*
 * fuzz_parse_duration.c: parse_duration against its definition: digits
 * with an optional fraction (or a fraction alone), then no unit, s, ms,
 * us, m, min or h.  A value it accepts lies in [min, max] and is the
 * input's exact value in microseconds give or take the truncated
 * fraction; it never wraps around, and a duration above zero is never 0.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "parse.h"

/* Microseconds per unit; 0 for an unknown unit. */
static uint64_t
unit_us(const char *u)
{
	if (*u == '\0' || strcmp(u, "s") == 0)
		return (1000000);
	if (strcmp(u, "ms") == 0)
		return (1000);
	if (strcmp(u, "us") == 0)
		return (1);
	if (strcmp(u, "m") == 0 || strcmp(u, "min") == 0)
		return (60000000ULL);
	if (strcmp(u, "h") == 0)
		return (3600000000ULL);
	return (0);
}

/* The exact value of s in microseconds, and its unit; -1 if not one. */
static long double
exact_us(const char *s, uint64_t *unit)
{
	const char	*p = s;
	size_t		 whole, frac = 0;

	whole = strspn(p, "0123456789");
	p += whole;
	if (*p == '.') {
		frac = strspn(p + 1, "0123456789");
		if (frac == 0)
			return (-1);
		p += 1 + frac;
	} else if (whole == 0)
		return (-1);
	if ((*unit = unit_us(p)) == 0)
		return (-1);
	/* Only the number goes to strtold: it would take far more. */
	return (strtold(s, NULL) * (long double)*unit);
}

/* One input: a range, then the text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	 min, max, v = 7, unit = 0;
	size_t		 used = fuzz_range(data, size, &min, &max);
	char		*s = fuzz_cstr(data + used, size - used), *cause = NULL;
	long double	 exact, tol;
	int		 rc;

	rc = parse_duration(s, min, max, &v, &cause);
	exact = exact_us(s, &unit);
	/* Nine fractional digits are kept: the rest may be cut off. */
	tol = 1 + (long double)unit / 1e9L + fabsl(exact) * 1e-15L;
	if (rc == 0) {
		FUZZ_CHECK(exact >= 0, "'%s' accepted, not a duration", s);
		FUZZ_CHECK(v >= min && v <= max, "'%s' -> %llu outside "
		    "[%llu, %llu]", s, (unsigned long long)v,
		    (unsigned long long)min, (unsigned long long)max);
		FUZZ_CHECK(fabsl((long double)v - exact) <= tol,
		    "'%s' -> %llu us, but it is %.1Lf us", s,
		    (unsigned long long)v, exact);
		FUZZ_CHECK(v > 0 || exact == 0,
		    "'%s' is above zero but parsed as 0", s);
		FUZZ_CHECK(cause == NULL, "cause set on success: %s", cause);
	} else {
		FUZZ_CHECK(v == 7, "'%s': value written on failure", s);
		FUZZ_CHECK(cause != NULL, "'%s': no cause", s);
		/* Refused though well inside the range and representable. */
		FUZZ_CHECK(exact < 0 || exact - tol < (long double)min ||
		    exact + tol > (long double)max ||
		    exact + tol > (long double)UINT64_MAX,
		    "'%s' (%.1Lf us) refused in [%llu, %llu]", s, exact,
		    (unsigned long long)min, (unsigned long long)max);
	}
	free(cause);
	FUZZ_CHECK(parse_duration(s, min, max, &v, NULL) == rc, "'%s'", s);
	free(s);
	return (0);
}
