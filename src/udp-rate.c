/*
 * udp-rate.c: --udp-rate, at most N datagrams a second from one address.
 *
 * UDP's source address is whatever the sender wrote, so an echo service
 * without a cap can be made to flood a third party: one spoofed stream in,
 * the same stream out at the victim.  Each source gets a token bucket of
 * one second's worth (N datagrams) refilled at N a second, kept as GCRA
 * keeps it: one "theoretical arrival time" per source, so admitting a
 * datagram is a compare and an add.
 *
 * The table is source.c's kind -- a fixed array of entries hashed on
 * source_key() -- but its entries never fall free: a source's bucket must
 * outlive its datagrams.  When every entry is taken, the least recently
 * seen source is forgotten (a doubly linked list, most recent first);
 * forgotten, it starts again with a full bucket, so --udp-sources should
 * exceed the sources seen within a second or so.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "server.h"

#define RATE_NONE	UINT32_MAX
#define RATE_SECOND_NS	1000000000ULL

struct rate_entry {
	struct in6_addr	addr;
	uint64_t	tat;		/* when the bucket is full again, ns */
	uint32_t	hnext;		/* in its hash chain */
	uint32_t	newer, older;	/* in the recency list */
};

static struct rate_entry	*rate_entries;
static uint32_t			*rate_buckets;
static uint32_t			 rate_nbuckets;	/* a power of two */
static uint32_t			 rate_nentries, rate_used;
static uint32_t			 rate_newest = RATE_NONE;
static uint32_t			 rate_oldest = RATE_NONE;
static uint64_t			 rate_seed;
static uint64_t			 rate_interval_ns;	/* 1 s / N */
static uint64_t			 rate_burst_ns;	/* 1 s less one interval */

/* Allocate the table: rate datagrams/s per source, entries sources. */
int
udp_rate_setup(uint64_t rate, uint64_t entries, char **cause)
{
	uint32_t	i;

	if (rate == 0)
		return (0);
	rate_interval_ns = RATE_SECOND_NS / rate;
	if (rate_interval_ns == 0)
		rate_interval_ns = 1;
	rate_burst_ns = RATE_SECOND_NS - rate_interval_ns;
	rate_nentries = (uint32_t)entries;
	for (rate_nbuckets = 1; rate_nbuckets < rate_nentries * 2;)
		rate_nbuckets <<= 1;
	rate_entries = calloc(rate_nentries, sizeof *rate_entries);
	rate_buckets = malloc(rate_nbuckets * sizeof *rate_buckets);
	if (rate_entries == NULL || rate_buckets == NULL) {
		udp_rate_free();
		cause_set(cause, "cannot allocate %llu --udp-sources entries",
		    (unsigned long long)entries);
		return (-1);
	}
	for (i = 0; i < rate_nbuckets; i++)
		rate_buckets[i] = RATE_NONE;
	rate_used = 0;
	rate_newest = rate_oldest = RATE_NONE;
	rate_seed = source_seed_new(rate_entries);
	return (0);
}

/* Free the table; the cap is off afterwards. */
void
udp_rate_free(void)
{
	free(rate_entries);
	free(rate_buckets);
	rate_entries = NULL;
	rate_buckets = NULL;
	rate_nentries = rate_used = 0;
}

/* Take entry i out of the recency list. */
static void
rate_unlink(uint32_t i)
{
	struct rate_entry	*e = &rate_entries[i];

	if (e->newer != RATE_NONE)
		rate_entries[e->newer].older = e->older;
	else
		rate_newest = e->older;
	if (e->older != RATE_NONE)
		rate_entries[e->older].newer = e->newer;
	else
		rate_oldest = e->newer;
}

/* Put entry i at the head of the recency list: seen just now. */
static void
rate_push(uint32_t i)
{
	struct rate_entry	*e = &rate_entries[i];

	e->newer = RATE_NONE;
	e->older = rate_newest;
	if (rate_newest != RATE_NONE)
		rate_entries[rate_newest].newer = i;
	rate_newest = i;
	if (rate_oldest == RATE_NONE)
		rate_oldest = i;
}

/* Forget the least recently seen source; return its entry, now free. */
static uint32_t
rate_evict(void)
{
	uint32_t	 i = rate_oldest, *p;

	rate_unlink(i);
	p = &rate_buckets[source_hash(&rate_entries[i].addr, rate_seed,
	    rate_nbuckets)];
	while (*p != i)
		p = &rate_entries[*p].hnext;
	*p = rate_entries[i].hnext;
	return (i);
}

/* The entry of key, a new one (full bucket) if it has none. */
static uint32_t
rate_lookup(const struct in6_addr *key, uint64_t now_ns)
{
	uint32_t	 bucket, i;

	bucket = source_hash(key, rate_seed, rate_nbuckets);
	for (i = rate_buckets[bucket]; i != RATE_NONE;
	    i = rate_entries[i].hnext) {
		if (memcmp(&rate_entries[i].addr, key, sizeof *key) == 0) {
			rate_unlink(i);
			rate_push(i);
			return (i);
		}
	}
	i = rate_used < rate_nentries ? rate_used++ : rate_evict();
	rate_entries[i].addr = *key;
	rate_entries[i].tat = now_ns;
	rate_entries[i].hnext = rate_buckets[bucket];
	rate_buckets[bucket] = i;
	rate_push(i);
	return (i);
}

/*
 * Charge one datagram from sa at now_ns: 0 to echo it, -1 if its source
 * is over --udp-rate.  Always 0 without a cap.
 */
int
udp_rate_admit(const struct sockaddr *sa, uint64_t now_ns)
{
	struct in6_addr		 key;
	struct rate_entry	*e;

	if (rate_entries == NULL || source_key(sa, &key) != 0)
		return (0);
	e = &rate_entries[rate_lookup(&key, now_ns)];
	if (e->tat < now_ns)
		e->tat = now_ns;
	if (e->tat - now_ns > rate_burst_ns)
		return (-1);
	e->tat += rate_interval_ns;
	return (0);
}
