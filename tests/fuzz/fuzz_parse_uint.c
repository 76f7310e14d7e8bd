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
	uint64_t	 min, max, v = 7, want = 0;
	size_t		 used = fuzz_range(data, size, &min, &max);
	char		*s = fuzz_cstr(data + used, size - used), *cause = NULL;
	int		 rc, ok;

	rc = parse_uint(s, min, max, &v, &cause);
	ok = expect_uint(s, min, max, &want);
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
	/* Without a cause pointer, the same answer. */
	FUZZ_CHECK(parse_uint(s, min, max, &v, NULL) == rc, "'%s'", s);
	free(s);
	return (0);
}
