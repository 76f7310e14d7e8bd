/*
 * fuzz_parse_size.c: parse_size against its definition: digits, then
 * nothing, "b", or k/m/g optionally followed by "b" or "ib" (any case);
 * the scaled value fits in 64 bits and lies in [min, max].
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "parse.h"

/* The expected answer, from the definition: 1 accepted, 0 refused. */
static int
expect_size(const char *s, uint64_t min, uint64_t max, uint64_t *want)
{
	uint64_t	 v = 0, mult = 1;
	const char	*p = s;

	if (!isdigit((unsigned char)*p))
		return (0);
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return (0);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (tolower((unsigned char)*p)) {
	case '\0':
		break;
	case 'b':
		if (p[1] != '\0')
			return (0);
		break;
	case 'k':
	case 'm':
	case 'g':
		mult = tolower((unsigned char)*p) == 'k' ? 1ULL << 10 :
		    tolower((unsigned char)*p) == 'm' ? 1ULL << 20 : 1ULL << 30;
		if (p[1] != '\0' && strcasecmp(p + 1, "b") != 0 &&
		    strcasecmp(p + 1, "ib") != 0)
			return (0);
		break;
	default:
		return (0);
	}
	if (v > UINT64_MAX / mult)
		return (0);
	*want = v * mult;
	return (*want >= min && *want <= max);
}

/* One input: a range, then the text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t	 min, max, v = 7, want = 0;
	size_t		 used = fuzz_range(data, size, &min, &max);
	char		*s = fuzz_cstr(data + used, size - used), *cause = NULL;
	int		 rc, ok;

	rc = parse_size(s, min, max, &v, &cause);
	ok = expect_size(s, min, max, &want);
	FUZZ_CHECK(rc == (ok ? 0 : -1), "'%s' in [%llu, %llu]: rc %d", s,
	    (unsigned long long)min, (unsigned long long)max, rc);
	if (rc == 0) {
		FUZZ_CHECK(v == want && v >= min && v <= max, "'%s' -> %llu",
		    s, (unsigned long long)v);
		FUZZ_CHECK(cause == NULL, "cause set on success: %s", cause);
	} else {
		FUZZ_CHECK(v == 7, "'%s': value written on failure", s);
		FUZZ_CHECK(cause != NULL, "'%s': no cause", s);
	}
	free(cause);
	FUZZ_CHECK(parse_size(s, min, max, &v, NULL) == rc, "'%s'", s);
	free(s);
	return (0);
}
