/* parse.h: strict parsers for numbers, sizes and durations on command lines. */
#ifndef EVECHO_PARSE_H
#define EVECHO_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct option;

int	parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    char **cause);
int	parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    char **cause);
int	parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    char **cause);
int	parse_duration(const char *s, uint64_t min_us, uint64_t max_us,
	    uint64_t *out_us, char **cause);
size_t	parse_utf8_char(const unsigned char *s, size_t n);
void	cause_set(char **cause, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	usage_error(const char *progname, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
int	parse_getopt(const char *progname, int argc, char *const argv[],
	    const char *optstring, const struct option *longopts);

#endif
