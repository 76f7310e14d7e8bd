/* pattern.h: the bytes the benchmark sends, a function of (connection, offset). */
#ifndef EVECHO_PATTERN_H
#define EVECHO_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* The pattern repeats every PATTERN_PERIOD bytes of a stream (a prime). */
#define PATTERN_PERIOD	65521
/* pattern_at always offers at least this many contiguous bytes. */
#define PATTERN_RUN	65536

void		 pattern_init(void);
unsigned char	 pattern_byte(uint64_t, uint64_t);
const unsigned char *pattern_at(uint64_t, uint64_t, size_t *);
uint64_t	 pattern_check(uint64_t, uint64_t, const void *, size_t,
		     size_t *);

#endif
