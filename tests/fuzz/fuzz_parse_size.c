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
	return (fuzz_number(data, size, parse_size, expect_size));
}
