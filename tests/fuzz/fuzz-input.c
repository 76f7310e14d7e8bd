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
