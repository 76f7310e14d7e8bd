/*
 * fuzz.h: what the libFuzzer targets share: the input as a C string, and
 * ranges for the parsers taken from the input's first bytes.
 */
#ifndef EVECHO_FUZZ_H
#define EVECHO_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Abort with a message when an invariant fails: libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);	\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void	fuzz_fail(const char *file, int line, const char *cond,
	    const char *fmt, ...)
	    __attribute__((format(printf, 4, 5), noreturn));
/* An allocated, NUL-terminated copy of the input; NULs inside stay. */
char	*fuzz_cstr(const uint8_t *data, size_t size);
/* Take [min, max] from the front of the input: one selector byte picks a
 * range the programs use, or 16 raw bytes follow.  Returns bytes used. */
size_t	fuzz_range(const uint8_t *data, size_t size, uint64_t *min,
	    uint64_t *max);
/*
 * One input for a number parser (parse_uint, parse_size): a range, then
 * the text.  The parser must agree with expect, an independent reading of
 * its definition: the same verdict, the same value within the range, a
 * cause on failure only, and nothing written on failure.
 */
int	fuzz_number(const uint8_t *data, size_t size,
	    int (*parse)(const char *, uint64_t, uint64_t, uint64_t *, char **),
	    int (*expect)(const char *, uint64_t, uint64_t, uint64_t *));

#endif
