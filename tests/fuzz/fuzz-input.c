/* fuzz-input.c: the input helpers every fuzz target shares. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Ranges the programs ask for: ports, counts, sizes, durations in us. */
static const uint64_t fuzz_ranges[][2] = {
	{ 0, UINT64_MAX },
	{ 0, 65535 },
	{ 1, 1000000 },
	{ 1, 1ULL << 30 },
	{ 0, 3600000000ULL },
	{ 1, 60000000ULL },
	{ 1000, 10000000ULL },
	{ UINT64_MAX - 1, UINT64_MAX },
};

/* Print which invariant failed and why, then abort. */
void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s:%d: invariant '%s' failed: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* Copy the input and NUL-terminate it. */
char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char	*s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

/* A range from the selector byte: a table entry, or raw bytes after it. */
size_t
fuzz_range(const uint8_t *data, size_t size, uint64_t *min, uint64_t *max)
{
	size_t	n = sizeof fuzz_ranges / sizeof fuzz_ranges[0];

	*min = fuzz_ranges[0][0];
	*max = fuzz_ranges[0][1];
	if (size == 0)
		return (0);
	if ((data[0] & 0x80) == 0 || size < 17) {
		*min = fuzz_ranges[data[0] % n][0];
		*max = fuzz_ranges[data[0] % n][1];
		return (1);
	}
	memcpy(min, data + 1, sizeof *min);
	memcpy(max, data + 9, sizeof *max);
	return (17);
}

/* Check a number parser against its definition on one input. */
int
fuzz_number(const uint8_t *data, size_t size,
    int (*parse)(const char *, uint64_t, uint64_t, uint64_t *, char **),
    int (*expect)(const char *, uint64_t, uint64_t, uint64_t *))
{
	uint64_t	 min, max, v = 7, want = 0;
	size_t		 used = fuzz_range(data, size, &min, &max);
	char		*s = fuzz_cstr(data + used, size - used), *cause = NULL;
	int		 rc, ok;

	rc = parse(s, min, max, &v, &cause);
	ok = expect(s, min, max, &want);
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
	FUZZ_CHECK(parse(s, min, max, &v, NULL) == rc, "'%s'", s);
	free(s);
	return (0);
}
