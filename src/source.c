/*
 * source.c: open connections per client address, for --max-conns-per-source.
 *
 * One table, allocated once at start-up and never grown: a hash of chains
 * over a fixed array of entries, keyed by the client's address without its
 * port.  IPv4 addresses are stored as IPv4-mapped IPv6 addresses, so a
 * client counts the same whether it reached an IPv4 or a dual-stack socket.
 * An entry whose count falls to 0 goes back on the free list at once.
 *
 * The table has as many entries as --max-conns allows connections (at most
 * SOURCE_MAX_ENTRIES), so it fills only when that many distinct sources are
 * open at once.  A full table admits the newcomer uncounted and warns:
 * refusing instead would let anyone who owns enough addresses (an IPv6
 * /64 is plenty) lock every new source out, while --max-conns still bounds
 * the total either way.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "addr.h"
#include "log.h"
#include "parse.h"
#include "server.h"

struct source {
	struct in6_addr	addr;
	uint32_t	count;
	uint32_t	next;		/* in a chain or the free list */
};

#define SOURCE_NONE	UINT32_MAX

static struct source	*source_entries;
static uint32_t		*source_buckets;
static uint32_t		 source_nbuckets;	/* a power of two */
static uint32_t		 source_free_head = SOURCE_NONE;
static size_t		 source_used;
static uint64_t		 source_cap;	/* 0: no cap, no table */
static uint64_t		 source_seed;
static char		 source_last_name[ADDR_STRLEN];
static uint64_t		 source_uncounted;	/* table was full */

static void	source_report_refused(uint64_t, void *);
static void	source_report_full(uint64_t, void *);

static struct log_limit	 source_refused_log =
    LOG_LIMIT_INITIALIZER(source_report_refused, NULL);
static struct log_limit	 source_full_log =
    LOG_LIMIT_INITIALIZER(source_report_full, NULL);

/* Allocate the table for a cap of cap connections (0: none). */
int
source_setup(uint64_t cap, uint64_t max_conns, char **cause)
{
	uint64_t	n = max_conns < SOURCE_MAX_ENTRIES ? max_conns :
			    SOURCE_MAX_ENTRIES;
	uint32_t	i;

	source_cap = cap;
	if (cap == 0)
		return (0);
	if (n == 0)
		n = 1;
	for (source_nbuckets = 1; source_nbuckets < n * 2;)
		source_nbuckets <<= 1;
	source_entries = calloc((size_t)n, sizeof *source_entries);
	source_buckets = malloc(source_nbuckets * sizeof *source_buckets);
	if (source_entries == NULL || source_buckets == NULL) {
		source_free();
		cause_set(cause, "cannot allocate %llu source entries",
		    (unsigned long long)n);
		return (-1);
	}
	for (i = 0; i < source_nbuckets; i++)
		source_buckets[i] = SOURCE_NONE;
	for (i = 0; i < n; i++)
		source_entries[i].next = i + 1 < n ? i + 1 : SOURCE_NONE;
	source_free_head = 0;
	source_used = 0;
	source_seed = source_seed_new(source_entries);
	return (0);
}

/*
 * A seed per process and table (salt: its address), so that chains
 * cannot be made long from outside.
 */
uint64_t
source_seed_new(const void *salt)
{
	return (((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
	    (uint64_t)(uintptr_t)salt);
}

/* Free the table and the timer; the cap is off afterwards. */
void
source_free(void)
{
	log_limit_flush(&source_refused_log);
	log_limit_flush(&source_full_log);
	free(source_entries);
	free(source_buckets);
	source_entries = NULL;
	source_buckets = NULL;
	source_cap = 0;
	source_used = 0;
	source_free_head = SOURCE_NONE;
}

/*
 * The key of an address: IPv6, or IPv4 mapped into IPv6; -1 otherwise.
 * Every per-source table keys on it (this one, udp-rate.c's).
 */
int
source_key(const struct sockaddr *sa, struct in6_addr *key)
{
	const struct sockaddr_in	*sin;

	if (sa->sa_family == AF_INET6) {
		*key = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		return (0);
	}
	if (sa->sa_family != AF_INET)
		return (-1);
	sin = (const struct sockaddr_in *)sa;
	memset(key, 0, sizeof *key);
	key->s6_addr[10] = 0xff;
	key->s6_addr[11] = 0xff;
	memcpy(&key->s6_addr[12], &sin->sin_addr, 4);
	return (0);
}

/*
 * The bucket of a key among nbuckets (a power of two): 64-bit
 * multiply-xorshift mixing of both halves with the table's seed.
 */
uint32_t
source_hash(const struct in6_addr *key, uint64_t seed, uint32_t nbuckets)
{
	uint64_t	a, b, h;

	memcpy(&a, &key->s6_addr[0], 8);
	memcpy(&b, &key->s6_addr[8], 8);
	h = (a ^ seed) * 0x9E3779B97F4A7C15ULL;
	h ^= h >> 29;
	h = (h ^ b) * 0xBF58476D1CE4E5B9ULL;
	h ^= h >> 32;
	return ((uint32_t)h & (nbuckets - 1));
}

/* Find the entry for key; *prev gets its predecessor in the chain. */
static uint32_t
source_find(const struct in6_addr *key, uint32_t bucket, uint32_t *prev)
{
	uint32_t	i;

	*prev = SOURCE_NONE;
	for (i = source_buckets[bucket]; i != SOURCE_NONE;
	    i = source_entries[i].next) {
		if (memcmp(&source_entries[i].addr, key, sizeof *key) == 0)
			return (i);
		*prev = i;
	}
	return (SOURCE_NONE);
}

/* Say how many connections the cap refused, and the latest source. */
static void
source_report_refused(uint64_t n, void *arg)
{
	log_warnx("refused %llu connections over --max-conns-per-source %llu "
	    "(latest from %s)", (unsigned long long)n,
	    (unsigned long long)source_cap, source_last_name);
}

/* Say that the table is full and how many were admitted uncounted. */
static void
source_report_full(uint64_t n, void *arg)
{
	log_warnx("source table full (%zu addresses): %llu connections "
	    "admitted uncounted, %llu so far", source_used,
	    (unsigned long long)n, (unsigned long long)source_uncounted);
}

/* Count a refusal over the cap, for the log and the counters. */
static void
source_refuse(const struct sockaddr *sa)
{
	server_stats->rejected[REJECT_PER_SOURCE]++;
	addr_format(sa, source_last_name, sizeof source_last_name);
	log_limit_hit(&source_refused_log);
}

/* Count a new connection from sa: 0 to admit it, -1 if over the cap. */
int
source_admit(const struct sockaddr *sa)
{
	struct in6_addr	key;
	uint32_t	bucket, i, prev;

	if (source_cap == 0 || source_key(sa, &key) != 0)
		return (0);
	bucket = source_hash(&key, source_seed, source_nbuckets);
	if ((i = source_find(&key, bucket, &prev)) != SOURCE_NONE) {
		if (source_entries[i].count >= source_cap) {
			source_refuse(sa);
			return (-1);
		}
		source_entries[i].count++;
		return (0);
	}
	if ((i = source_free_head) == SOURCE_NONE) {
		source_uncounted++;
		log_limit_hit(&source_full_log);
		return (0);
	}
	source_free_head = source_entries[i].next;
	source_entries[i].addr = key;
	source_entries[i].count = 1;
	source_entries[i].next = source_buckets[bucket];
	source_buckets[bucket] = i;
	source_used++;
	return (0);
}

/*
 * A connection from sa closed.  One admitted uncounted (table full) may
 * take back another's count of the same address: that errs on admitting.
 */
void
source_release(const struct sockaddr *sa)
{
	struct in6_addr	key;
	uint32_t	bucket, i, prev;

	if (source_cap == 0 || source_key(sa, &key) != 0)
		return;
	bucket = source_hash(&key, source_seed, source_nbuckets);
	if ((i = source_find(&key, bucket, &prev)) == SOURCE_NONE)
		return;
	if (--source_entries[i].count > 0)
		return;
	if (prev == SOURCE_NONE)
		source_buckets[bucket] = source_entries[i].next;
	else
		source_entries[prev].next = source_entries[i].next;
	source_entries[i].next = source_free_head;
	source_free_head = i;
	source_used--;
}

/* Return the open connections counted for sa. */
uint64_t
source_open(const struct sockaddr *sa)
{
	struct in6_addr	key;
	uint32_t	i, prev;

	if (source_cap == 0 || source_key(sa, &key) != 0)
		return (0);
	i = source_find(&key, source_hash(&key, source_seed, source_nbuckets),
	    &prev);
	return (i == SOURCE_NONE ? 0 : source_entries[i].count);
}

/* Return how many addresses the table holds. */
size_t
source_count(void)
{
	return (source_used);
}
