/*
 * conn.h: a connection's slot, for conn.c, which echoes, and fault.c,
 * which echoes the connections a --fault was drawn for through callbacks
 * of its own and ends them through conn.c's accounting.
 */
#ifndef EVECHO_CONN_H
#define EVECHO_CONN_H

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#include "server.h"

struct bufferevent;

/*
 * One connection, 64 bytes, in a table indexed by its descriptor: no
 * allocation of its own, no list, no copy of the descriptor.  At 10,000 idle
 * connections that is 1,086 bytes of RSS each, against 1,166 with a
 * calloc()ed 128-byte struct on a list; libevent's bufferevent and event map
 * take the other 1,022.  Sizes are 32 bits where --max-pending bounds them.
 */
struct conn {
	struct bufferevent	*bev;		/* NULL: the slot is free */
	struct sockaddr_in6	 peer;		/* large enough for IPv4 too */
	uint8_t			 flags;
#define CONN_READ_EOF	0x01	/* the client shut down its sending side */
#define CONN_PAUSED	0x02	/* reading stopped: a memory bound is held */
#define CONN_DRAINING	0x04	/* server shutdown: close once quiet */
#define CONN_LINGER	0x08	/* our FIN is sent: discard until the client's */
#define CONN_MOVING	0x10	/* the last silence check saw bytes in transit */
#define CONN_QUEUED	0x20	/* output may hold bytes: look before writing */
#define CONN_FAULT	0x40	/* fault.c's callbacks echo it (--fault) */
	uint8_t			 read_more_skip;	/* full reads to take as is */
	uint8_t			 why;		/* while lingering: conn_whys[] */
	uint8_t			 uses;		/* callbacks so far, up to 255 */
	uint16_t		 echoed;	/* sent, still at the input's front */
	uint8_t			 kept;		/* listed in conn_kept[] */
	uint32_t		 id;		/* for the log; wraps */
	uint32_t		 held;		/* input length after last cb */
	uint32_t		 counted;	/* our share of conn_mem */
	uint32_t		 seen_acked;	/* at the last silence check, mod 2^32 */
	uint32_t		 seen_ms;	/* when that check was (conn_now_ms) */
};

_Static_assert(sizeof (struct conn) == 64, "struct conn is 64 bytes");

/* Why a lingering close happened, in c->why. */
#define CONN_WHY_IDLE		0
#define CONN_WHY_SHUTDOWN	1
#define CONN_WHY_FAULT		2

/* conn.c, for fault.c */
int	conn_descriptor(const struct conn *c);
void	conn_held(struct conn *c, size_t held);
void	conn_account(struct conn *c, size_t held);
void	conn_end(struct conn *c, const char *why, enum close_reason reason,
	    int unsent_too);
void	conn_end_error(struct conn *c, const char *what, int err);
void	conn_end_gently(struct conn *c);
void	conn_read_ended(struct conn *c);
void	conn_events(struct bufferevent *bev, short what, void *arg);

/* fault.c, for conn.c */
#ifndef EVECHO_NO_FAULT
void	fault_conn_closed(struct conn *c);
#else
static inline void fault_conn_closed(struct conn *c) { (void)c; }
#endif

#endif
