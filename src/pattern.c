/*
 * pattern.c: the byte stream every benchmark connection sends.
 *
 * Byte o of connection c is table[(o + c's phase) mod PATTERN_PERIOD], where
 * the table holds pseudo-random bytes and a connection's phase is its id
 * times a stride, modulo the period: distinct for PATTERN_PERIOD ids in a
 * row.  So neither side stores what was sent: the
 * sender writes straight from the table and the receiver compares against
 * it with memcmp.  The table is PATTERN_RUN bytes longer than the period so
 * any offset has that many bytes ahead of it without wrapping.  Because the
 * period is prime and phases differ, one connection's bytes do not match
 * another's at the same offset, and bytes that arrive shifted (lost,
 * duplicated or reordered) do not match either.
 */
#include <stdint.h>
#include <string.h>

#include "pattern.h"

static unsigned char	pattern_table[PATTERN_PERIOD + PATTERN_RUN];

/* Fill the table; call once before any other pattern function. */
void
pattern_init(void)
{
	uint64_t	x = 0x9E3779B97F4A7C15ULL;
	size_t		i;

	for (i = 0; i < PATTERN_PERIOD; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		pattern_table[i] = (unsigned char)((x * 0x2545F4914F6CDD1DULL)
		    >> 56);
	}
	/* The run is longer than the period: copy forward, byte by byte. */
	for (; i < sizeof pattern_table; i++)
		pattern_table[i] = pattern_table[i - PATTERN_PERIOD];
}

/* Where in the table connection conn's byte at offset off lives. */
static size_t
pattern_index(uint64_t conn, uint64_t off)
{
	uint64_t	phase;

	/* A stride near the golden ratio of the period spreads neighbours. */
	phase = (conn % PATTERN_PERIOD) * 40503 % PATTERN_PERIOD;
	return ((size_t)((off % PATTERN_PERIOD + phase) % PATTERN_PERIOD));
}

/* The byte at offset off of connection conn's stream. */
unsigned char
pattern_byte(uint64_t conn, uint64_t off)
{
	return (pattern_table[pattern_index(conn, off)]);
}

/*
 * The bytes of connection conn's stream from offset off; *len is set to how
 * many may be read there (at least PATTERN_RUN).
 */
const unsigned char *
pattern_at(uint64_t conn, uint64_t off, size_t *len)
{
	size_t	i = pattern_index(conn, off);

	*len = sizeof pattern_table - i;
	return (pattern_table + i);
}

/*
 * Compare buf (len bytes received at stream offset off) with the pattern.
 * Returns how many bytes differ; when some do, *first is set to the index
 * in buf of the first.
 */
uint64_t
pattern_check(uint64_t conn, uint64_t off, const void *buf, size_t len,
    size_t *first)
{
	const unsigned char	*b = buf, *p;
	size_t			 done = 0, run, n, i;
	uint64_t		 bad = 0;

	while (done < len) {
		p = pattern_at(conn, off + done, &run);
		n = len - done < run ? len - done : run;
		if (memcmp(b + done, p, n) != 0) {
			for (i = 0; i < n; i++) {
				if (b[done + i] == p[i])
					continue;
				if (bad++ == 0)
					*first = done + i;
			}
		}
		done += n;
	}
	return (bad);
}
