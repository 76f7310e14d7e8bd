/*
 * fuzz_parse_uint.c: parse_uint against its definition: a non-empty run
 * of decimal digits that fits in 64 bits and lies in [min, max], nothing
 * else; a cause on every refusal.
 */
#include <ctype.h>
#include <stdlib.h>

#include "fuzz.h"
#include "parse.h"

/* The expected answer, from the definition: 1 accepted, 0 refused. */
static int
expect_uint(const char *s, uint64_t min, uint64_t max, uint64_t *want)
{
	uint64_t	v = 0;
	const char	*p;

	if (*s == '\0')
		return (0);
	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return (0);
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return (0);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*want = v;
	return (v >= min && v <= max);
}

/* One input: a range, then the text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return (fuzz_number(data, size, parse_uint, expect_uint));
}
