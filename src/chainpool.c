/*
 * chainpool.c: a free list for libevent's buffer chains.
 *
 * Every read into an empty evbuffer allocates a chain and every write that
 * empties it frees the chain: one malloc() and one free() per echoed
 * message.  Chains are powers of two from 1 KiB (MIN_BUFFER_SIZE in
 * libevent 2.1), just past what glibc's per-thread cache takes, so each
 * free took glibc's slow path: 145 instructions per 64-byte echo.
 * Handed to event_set_mem_functions(), this file serves chain-sized
 * requests from one LIFO list per size, for about 25.
 *
 * The blocks live in one mapping made at start, a fixed slice per size, so
 * free() tells a pool block from glibc's by its address alone (asking glibc
 * for the size, malloc_usable_size(), cost 40 more).  The mapping is
 * bounded and its pages are touched only when used; once a slice is used
 * up, requests of that size go to glibc, as everything else always does.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "chainpool.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define CHAINPOOL_POISON(p, n)		ASAN_POISON_MEMORY_REGION(p, n)
#define CHAINPOOL_UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CHAINPOOL_POISON(p, n)		((void)(p), (void)(n))
#define CHAINPOOL_UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define CHAINPOOL_MIN_SHIFT	10	/* 1 KiB, libevent's smallest chain */
#define CHAINPOOL_CLASSES	5	/* 1, 2, 4, 8 and 16 KiB */
/* Address space per size; 10 MiB in all, resident only once touched. */
#define CHAINPOOL_SLICE		(2 * 1024 * 1024)

struct chainpool_block {
	struct chainpool_block	*next;
};

struct chainpool_class {
	struct chainpool_block	*free;	/* blocks given back, newest first */
	char			*fresh;	/* the slice's never used part */
	char			*end;
};

static char			*chainpool_base;	/* NULL: not installed */
static struct chainpool_class	 chainpool[CHAINPOOL_CLASSES];

/* Is p one of the pool's blocks? */
static inline int
chainpool_owns(const void *p)
{
	return ((uintptr_t)p - (uintptr_t)chainpool_base <
	    (uintptr_t)CHAINPOOL_CLASSES * CHAINPOOL_SLICE);
}

/* The size of the pool block p. */
static inline size_t
chainpool_block_size(const void *p)
{
	size_t	k = ((uintptr_t)p - (uintptr_t)chainpool_base) /
	    CHAINPOOL_SLICE;

	return ((size_t)1 << (k + CHAINPOOL_MIN_SHIFT));
}

static void *
chainpool_malloc(size_t size)
{
	struct chainpool_class	*pc;
	struct chainpool_block	*b;
	int			 k;

	/* libevent asks for exact powers of two; nothing else is a chain. */
	if ((size & (size - 1)) != 0 || size < (1U << CHAINPOOL_MIN_SHIFT) ||
	    (k = __builtin_ctzl(size) - CHAINPOOL_MIN_SHIFT) >= CHAINPOOL_CLASSES)
		return (malloc(size));
	pc = &chainpool[k];
	if ((b = pc->free) != NULL) {
		CHAINPOOL_UNPOISON(b, size);
		pc->free = b->next;
		return (b);
	}
	if (pc->fresh == pc->end)
		return (malloc(size));	/* the slice is used up */
	b = (struct chainpool_block *)pc->fresh;
	pc->fresh += size;
	return (b);
}

static void
chainpool_free(void *p)
{
	struct chainpool_class	*pc;
	struct chainpool_block	*b = p;
	size_t			 k;

	if (!chainpool_owns(p)) {
		free(p);
		return;
	}
	k = ((uintptr_t)p - (uintptr_t)chainpool_base) / CHAINPOOL_SLICE;
	pc = &chainpool[k];
	b->next = pc->free;
	pc->free = b;
	CHAINPOOL_POISON((char *)b + sizeof *b,
	    chainpool_block_size(b) - sizeof *b);
}

static void *
chainpool_realloc(void *p, size_t size)
{
	size_t	 old;
	void	*q;

	if (!chainpool_owns(p))
		return (realloc(p, size));
	if ((q = malloc(size)) == NULL)
		return (NULL);
	old = chainpool_block_size(p);
	memcpy(q, p, old < size ? old : size);
	chainpool_free(p);
	return (q);
}

/*
 * Hand libevent the pool; call before anything else of libevent's.  Without
 * the mapping libevent keeps glibc's functions, and works as before.
 */
void
chainpool_install(void)
{
	void	*base;
	int	 k;

	base = mmap(NULL, (size_t)CHAINPOOL_CLASSES * CHAINPOOL_SLICE,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (base == MAP_FAILED)
		return;
	chainpool_base = base;
	for (k = 0; k < CHAINPOOL_CLASSES; k++) {
		chainpool[k].fresh = chainpool_base + (size_t)k * CHAINPOOL_SLICE;
		chainpool[k].end = chainpool[k].fresh + CHAINPOOL_SLICE;
		chainpool[k].free = NULL;
	}
	event_set_mem_functions(chainpool_malloc, chainpool_realloc,
	    chainpool_free);
}
