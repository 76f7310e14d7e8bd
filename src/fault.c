/*
 * fault.c: --fault, an echo that misbehaves on purpose, exactly as asked.
 *
 * The faults of a TCP connection are drawn once, at accept, one draw per
 * --fault in the order given; a connection none of them hit is an ordinary
 * connection of conn.c and costs nothing more.  One that some hit gets this
 * file's callbacks instead of conn.c's: its input goes to its output as the
 * faults allow, and it is bounded, counted and ended through conn.c.  What
 * waits (delayed, or behind a chunk) stays in the input, so --max-pending
 * still bounds it and a client's FIN still waits for it.
 *
 * Draws come from one splitmix64 sequence seeded by --fault-seed (logged
 * when chosen at random), so the same seed faults the same connections, in
 * accept order, again; each worker adds its number to the seed.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "addr.h"
#include "clock.h"
#include "conn.h"
#include "faultspec.h"
#include "log.h"
#include "parse.h"
#include "server.h"
#include "sock.h"

#define FAULT_RECORDS		256	/* delayed reads kept apart, per conn */
#define FAULT_POLL_US		1000	/* waiting for the kernel's queue */
#define FAULT_RESET_WAIT_US	5000000	/* at most, before a reset anyway */
#define FAULT_STALL_CHECK_US	250000	/* a stalled client gone? */
#define FAULT_TICK_MS		100	/* rate=: the token bucket's tick */

/* One read's bytes, held until release (delay=). */
struct fault_record {
	uint64_t	at_us;
	size_t		len;
};

/* What a faulty connection carries beside its struct conn. */
struct fault_conn {
	struct conn			*c;
	const struct fault_spec		*spec[FAULT_KINDS]; /* NULL: not drawn */
	uint64_t			 echoed;	/* moved to the output */
	size_t				 seen;		/* input length, last look */
	struct event			*timer;	/* release, poll, stall */
	struct event			*after_ev;	/* *-after=DUR */
	struct fault_record		*records;	/* ring of FAULT_RECORDS */
	unsigned			 rhead, rlen;
	uint64_t			 last_at_us;	/* latest release given */
	uint64_t			 ending_since;
	int				 ending;	/* kind reached, or -1 */
	int				 stalled;
};

static struct fault_conn		**fault_conns;	/* by descriptor */
static size_t				  fault_nconns;
static struct ev_token_bucket_cfg	 *fault_rate_cfg[64];
static uint64_t				  fault_rng;
static int				  fault_tcp;

static void	fault_pump(struct fault_conn *);
static void	fault_arm(struct fault_conn *, uint64_t);

/* The next 64 random bits (splitmix64). */
static uint64_t
fault_random(void)
{
	uint64_t	z = (fault_rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return (z ^ (z >> 31));
}

/* Does a draw of ppm parts per million hit? */
static int
fault_hits(uint32_t ppm)
{
	return (ppm >= FAULT_ALWAYS ||
	    fault_random() % FAULT_ALWAYS < (uint64_t)ppm);
}

/*
 * Once, before serving: seed the draws, make the rate limits, log what
 * will happen.  worker is this process's number (0 without workers, or
 * the supervisor, which only chooses the seed and logs; its workers get
 * the seed with their command line, fault_seed_argument()).
 */
int
fault_setup(unsigned worker, char **cause)
{
	const struct fault_spec	*f;
	struct timeval		 tick = { 0, FAULT_TICK_MS * 1000 };
	char			 text[FAULT_SPEC_MAX + 32];
	size_t			 i, per_tick;
	uint64_t		 seed = server_config.fault_seed;

	if (server_config.nfaults == 0)
		return (0);
	if (!server_config.fault_seed_set && worker == 0) {
		if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed)
			seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
		seed %= 1000000000000ULL;	/* short enough to retype */
		server_config.fault_seed = seed;
		server_config.fault_seed_set = 1;
	}
	fault_rng = seed + worker;
	for (i = 0; i < server_config.nfaults; i++) {
		f = &server_config.faults[i];
		if (faultspec_applies(f->kind) & FAULT_TCP)
			fault_tcp = 1;
		if (f->kind == FAULT_RATE) {
			per_tick = (size_t)(f->arg * FAULT_TICK_MS / 1000);
			if (per_tick == 0)
				per_tick = 1;
			fault_rate_cfg[i] = ev_token_bucket_cfg_new(
			    EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, per_tick,
			    per_tick, &tick);
			if (fault_rate_cfg[i] == NULL) {
				cause_set(cause, "cannot make a rate limit");
				return (-1);
			}
		}
		faultspec_format(f, text, sizeof text);
		if (worker == 0)
			log_info("fault: %s", text);
	}
	if (worker == 0)
		log_info("fault: seed %llu (--fault-seed repeats this run)",
		    (unsigned long long)seed);
	return (0);
}

/*
 * For the supervisor: "--fault-seed=N" with the seed it chose or was
 * given, for its workers' command line, so that all of them draw from
 * one logged seed; NULL without faults.
 */
const char *
fault_seed_argument(void)
{
	static char	arg[48];

	if (server_config.nfaults == 0)
		return (NULL);
	snprintf(arg, sizeof arg, "--fault-seed=%llu",
	    (unsigned long long)server_config.fault_seed);
	return (arg);
}

/* At exit. */
void
fault_cleanup(void)
{
	size_t	i;

	for (i = 0; i < sizeof fault_rate_cfg / sizeof fault_rate_cfg[0];
	    i++) {
		if (fault_rate_cfg[i] != NULL)
			ev_token_bucket_cfg_free(fault_rate_cfg[i]);
		fault_rate_cfg[i] = NULL;
	}
	free(fault_conns);
	fault_conns = NULL;
	fault_nconns = 0;
}

/* Count a fault applied, and say so at debug level. */
static void
fault_applied(enum fault_kind kind, const struct conn *c)
{
	char	peer[ADDR_STRLEN];

	server_stats->faults[kind]++;
	if (log_debug_enabled())
		log_debug("conn %llu %s: fault %s",
		    (unsigned long long)(c != NULL ? c->id : 0),
		    c != NULL ? addr_format((const struct sockaddr *)&c->peer,
		    peer, sizeof peer) : "-", faultspec_name(kind));
}

/*
 * Bytes the kernel holds for fd: not yet acknowledged (SIOCOUTQ), or with
 * not_sent, not yet sent at all (SIOCOUTQNSD).
 */
static size_t
fault_unsent(int fd, int not_sent)
{
	return (sock_queued(fd, not_sent ? SIOCOUTQNSD : SIOCOUTQ));
}

/* The client gone while stalled: reset, or its FIN seen by the kernel. */
static int
fault_peer_gone(int fd)
{
	struct tcp_info	ti;

	if (sock_tcp_info(fd, &ti, sizeof ti) != 0)
		return (1);
	return (ti.tcpi_state == TCP_CLOSE_WAIT || ti.tcpi_state == TCP_CLOSE);
}

/* Arm the connection's timer for us from now (it has one purpose a time). */
static void
fault_arm(struct fault_conn *fc, uint64_t us)
{
	struct timeval	tv = clock_timeval(us);

	evtimer_add(fc->timer, &tv);
}

/* A delay's release time for bytes read now, never before the last. */
static uint64_t
fault_release_at(struct fault_conn *fc, uint64_t now)
{
	const struct fault_spec	*f = fc->spec[FAULT_DELAY];
	uint64_t		 at = now + f->arg;

	if (f->jitter_us != 0)
		at = at - f->jitter_us +
		    fault_random() % (2 * f->jitter_us + 1);
	if (at < fc->last_at_us)
		at = fc->last_at_us;
	fc->last_at_us = at;
	return (at);
}

/* Hold n bytes just read until their release time. */
static void
fault_hold(struct fault_conn *fc, size_t n, uint64_t now)
{
	struct fault_record	*r;
	uint64_t		 at = fault_release_at(fc, now);

	if (fc->rlen == FAULT_RECORDS) {
		/* Full: the newest record takes these too, later. */
		r = &fc->records[(fc->rhead + fc->rlen - 1) % FAULT_RECORDS];
		r->len += n;
		r->at_us = at;
		return;
	}
	r = &fc->records[(fc->rhead + fc->rlen++) % FAULT_RECORDS];
	r->at_us = at;
	r->len = n;
}

/* How many held bytes are due now; arms the timer for the next. */
static size_t
fault_due(struct fault_conn *fc, uint64_t now)
{
	size_t	 due = 0;
	unsigned i;

	for (i = 0; i < fc->rlen; i++) {
		const struct fault_record *r =
		    &fc->records[(fc->rhead + i) % FAULT_RECORDS];

		if (r->at_us > now) {
			fault_arm(fc, r->at_us - now);
			break;
		}
		due += r->len;
	}
	return (due);
}

/* n bytes left the input: take them off the front records. */
static void
fault_consume(struct fault_conn *fc, size_t n)
{
	struct fault_record	*r;

	while (n > 0 && fc->rlen > 0) {
		r = &fc->records[fc->rhead];
		if (r->len > n) {
			r->len -= n;
			return;
		}
		n -= r->len;
		fc->rhead = (fc->rhead + 1) % FAULT_RECORDS;
		fc->rlen--;
	}
}

/* corrupt: invert one byte, anywhere in the len bytes at out's offset. */
static void
fault_corrupt(struct fault_conn *fc, struct evbuffer *out, size_t offset,
    size_t len)
{
	struct evbuffer_ptr	p;
	struct evbuffer_iovec	v;

	if (len == 0 || evbuffer_ptr_set(out, &p, offset +
	    (size_t)(fault_random() % len), EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_peek(out, 1, &p, &v, 1) < 1)
		return;
	*(unsigned char *)v.iov_base ^= 0xff;
	fault_applied(FAULT_CORRUPT, fc->c);
}

/* The byte threshold of a size *-after fault drawn, or UINT64_MAX. */
static uint64_t
fault_limit(const struct fault_conn *fc)
{
	static const enum fault_kind	 afters[] = { FAULT_RESET_AFTER,
					    FAULT_CLOSE_AFTER,
					    FAULT_STALL_AFTER };
	uint64_t			 limit = UINT64_MAX;
	size_t				 i;

	for (i = 0; i < 3; i++) {
		const struct fault_spec *f = fc->spec[afters[i]];

		if (f != NULL && !f->after_time && f->arg < limit)
			limit = f->arg;
	}
	return (limit);
}

/* The *-after fault due at the threshold: the first drawn of the three. */
static int
fault_after_kind(const struct fault_conn *fc, int timed)
{
	static const enum fault_kind	 afters[] = { FAULT_RESET_AFTER,
					    FAULT_CLOSE_AFTER,
					    FAULT_STALL_AFTER };
	uint64_t			 best = UINT64_MAX;
	int				 kind = -1;
	size_t				 i;

	for (i = 0; i < 3; i++) {
		const struct fault_spec *f = fc->spec[afters[i]];

		if (f != NULL && f->after_time == timed && f->arg < best) {
			best = f->arg;
			kind = (int)afters[i];
		}
	}
	return (kind);
}

/* Stop reading: the connection ends (kind) once its echo is out. */
static void
fault_begin_ending(struct fault_conn *fc, int kind)
{
	if (fc->ending != -1)
		return;
	fc->ending = kind;
	fc->ending_since = clock_now_us();
	bufferevent_disable(fc->c->bev, EV_READ);
}

/*
 * Ending: once the output has drained (and for a reset, the kernel's
 * queue too, so the client has every byte before the RST), act.
 * Returns 1 if the connection is gone.
 */
static int
fault_try_end(struct fault_conn *fc)
{
	struct conn	*c = fc->c;
	struct linger	 lg = { 1, 0 };
	int		 fd = conn_descriptor(c);

	if (evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
		return (0);	/* the write callback comes back */
	switch (fc->ending) {
	case FAULT_RESET_AFTER:
		if (fault_unsent(fd, 0) != 0 &&
		    clock_now_us() - fc->ending_since < FAULT_RESET_WAIT_US) {
			fault_arm(fc, FAULT_POLL_US);
			return (0);
		}
		fault_applied(FAULT_RESET_AFTER, c);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		conn_end(c, "fault reset-after", CLOSE_FAULT, 0);
		return (1);
	case FAULT_CLOSE_AFTER:
		/* Lingering, or closed: either way no more echo. */
		fault_applied(FAULT_CLOSE_AFTER, c);
		conn_end_gently(c);
		return (1);
	case FAULT_STALL_AFTER:
		if (!fc->stalled) {
			fault_applied(FAULT_STALL_AFTER, c);
			fc->stalled = 1;
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
			fault_arm(fc, FAULT_STALL_CHECK_US);
		}
		return (0);
	}
	return (0);
}

/*
 * Move what the faults allow from the input to the output, and account.
 * Called after every read, drained write and timer.
 */
static void
fault_pump(struct fault_conn *fc)
{
	struct conn	*c = fc->c;
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 in_len = evbuffer_get_length(in), n, out_len;
	uint64_t	 now = clock_now_us(), limit;

	if (c->flags & CONN_LINGER)
		return;
	if (in_len > fc->seen) {
		server_stats->bytes_in += in_len - fc->seen;
		if (fc->spec[FAULT_DELAY] != NULL)
			fault_hold(fc, in_len - fc->seen, now);
	}
	if (fc->ending != -1) {
		/* No bounds to apply: reading is off for good. */
		fc->seen = in_len;
		if (!fault_try_end(fc))
			conn_account(c, in_len + evbuffer_get_length(out));
		return;
	}
	n = in_len;
	if (fc->spec[FAULT_DELAY] != NULL)
		n = fault_due(fc, now);
	if ((limit = fault_limit(fc)) != UINT64_MAX && n > limit - fc->echoed)
		n = (size_t)(limit - fc->echoed);
	out_len = evbuffer_get_length(out);
	if (fc->spec[FAULT_CHUNK] != NULL && n != 0) {
		/*
		 * One chunk at a time, the next once the kernel has sent the
		 * last: a write to a queue with unsent bytes would join them in
		 * one segment.
		 */
		if (out_len != 0)
			n = 0;
		else if (fault_unsent(conn_descriptor(c), 1) != 0) {
			fault_arm(fc, FAULT_POLL_US);
			n = 0;
		} else if (n > fc->spec[FAULT_CHUNK]->arg)
			n = (size_t)fc->spec[FAULT_CHUNK]->arg;
		if (n != 0)
			fault_applied(FAULT_CHUNK, c);
	}
	if (n != 0) {
		evbuffer_remove_buffer(in, out, n);
		if (fc->spec[FAULT_CORRUPT] != NULL)
			fault_corrupt(fc, out, out_len, n);
		if (fc->spec[FAULT_DELAY] != NULL)
			fault_consume(fc, n);
		fc->echoed += n;
		in_len -= n;
	}
	fc->seen = in_len;
	if (limit != UINT64_MAX && fc->echoed >= limit) {
		fault_begin_ending(fc, fault_after_kind(fc, 0));
		if (!fault_try_end(fc))
			conn_account(c, in_len + evbuffer_get_length(out));
		return;
	}
	conn_held(c, in_len + evbuffer_get_length(out));
}

/* Bytes of the echo left for the kernel: sent. */
static void
fault_out_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	server_stats->bytes_out += info->n_deleted;
}

static void
fault_read_cb(struct bufferevent *bev, void *arg)
{
	fault_pump(fault_conns[conn_descriptor(arg)]);
}

static void
fault_write_cb(struct bufferevent *bev, void *arg)
{
	fault_pump(fault_conns[conn_descriptor(arg)]);
}

/* EOF: echo what is held as the faults allow, then close; else conn.c. */
static void
fault_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if ((what & BEV_EVENT_EOF) && !(c->flags & CONN_LINGER)) {
		conn_read_ended(c);
		fault_pump(fault_conns[conn_descriptor(c)]);
		return;
	}
	conn_events(bev, what, arg);
}

/* The timer: a release due, the kernel's queue to look at, a stall. */
static void
fault_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fault_conn	*fc = arg;
	struct conn		*c = fc->c;

	if (fc->stalled) {
		if (fault_peer_gone(conn_descriptor(c))) {
			conn_end(c, "client gone while stalled", CLOSE_CLIENT,
			    0);
			return;
		}
		if (server_config.idle_timeout_us != 0 &&
		    clock_now_us() - fc->ending_since >=
		    server_config.idle_timeout_us) {
			conn_end(c, "idle timeout (stalled)",
			    CLOSE_IDLE_TIMEOUT, 0);
			return;
		}
		fault_arm(fc, FAULT_STALL_CHECK_US);
		return;
	}
	fault_pump(fc);
}

/* *-after=DUR: the time has come. */
static void
fault_after_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fault_conn	*fc = arg;
	int			 kind = fault_after_kind(fc, 1);

	if (kind == FAULT_RESET_AFTER) {
		/* At once: what is still queued is lost, as a reset loses it. */
		struct linger	lg = { 1, 0 };

		fault_applied(FAULT_RESET_AFTER, fc->c);
		setsockopt(conn_descriptor(fc->c), SOL_SOCKET, SO_LINGER, &lg,
		    sizeof lg);
		conn_end(fc->c, "fault reset-after", CLOSE_FAULT, 1);
		return;
	}
	fault_begin_ending(fc, kind);
	if (!fault_try_end(fc))
		fault_pump(fc);
}

/* Draw the TCP faults for one connection into spec[]; how many hit. */
static int
fault_draw(const struct fault_spec **spec)
{
	const struct fault_spec	*f;
	size_t			 i;
	int			 n = 0;

	memset(spec, 0, FAULT_KINDS * sizeof *spec);
	for (i = 0; i < server_config.nfaults; i++) {
		f = &server_config.faults[i];
		if (!(faultspec_applies(f->kind) & FAULT_TCP))
			continue;
		/* Every spec draws, hit or not, so draws stay in step. */
		if (fault_hits(f->ppm) && spec[f->kind] == NULL) {
			spec[f->kind] = f;
			n++;
		}
	}
	return (n);
}

/* The slot for descriptor fd in the side table, grown as needed. */
static struct fault_conn **
fault_slot(int fd)
{
	struct fault_conn	**p;
	size_t			  n;

	if ((size_t)fd >= fault_nconns) {
		n = fault_nconns == 0 ? 1024 : fault_nconns;
		while (n <= (size_t)fd)
			n *= 2;
		if ((p = realloc(fault_conns, n * sizeof *p)) == NULL)
			return (NULL);
		memset(p + fault_nconns, 0, (n - fault_nconns) * sizeof *p);
		fault_conns = p;
		fault_nconns = n;
	}
	return (&fault_conns[fd]);
}

/* Give c this file's callbacks and the faults drawn; -1 if no memory. */
static int
fault_attach(struct conn *c, const struct fault_spec **spec)
{
	struct fault_conn	*fc, **slot;
	const struct fault_spec	*f;
	struct timeval		 tv;
	size_t			 i;

	if ((slot = fault_slot(conn_descriptor(c))) == NULL ||
	    (fc = calloc(1, sizeof *fc)) == NULL)
		return (-1);
	memcpy(fc->spec, spec, sizeof fc->spec);
	fc->c = c;
	fc->ending = -1;
	fc->timer = evtimer_new(server_base, fault_timer_cb, fc);
	if (fc->timer == NULL || (spec[FAULT_DELAY] != NULL &&
	    (fc->records = calloc(FAULT_RECORDS, sizeof *fc->records)) ==
	    NULL)) {
		if (fc->timer != NULL)
			event_free(fc->timer);
		free(fc);
		return (-1);
	}
	*slot = fc;
	c->flags |= CONN_FAULT;
	evbuffer_add_cb(bufferevent_get_output(c->bev), fault_out_cb, NULL);
	bufferevent_setcb(c->bev, fault_read_cb, fault_write_cb,
	    fault_event_cb, c);
	for (i = 0; i < FAULT_KINDS; i++) {
		if (spec[i] == NULL)
			continue;
		switch (i) {
		case FAULT_DELAY:
			fault_applied(FAULT_DELAY, c);
			break;
		case FAULT_RATE:
			f = spec[i];
			fault_applied(FAULT_RATE, c);
			bufferevent_set_rate_limit(c->bev,
			    fault_rate_cfg[f - server_config.faults]);
			break;
		}
	}
	if (fault_after_kind(fc, 1) != -1) {
		f = spec[fault_after_kind(fc, 1)];
		fc->after_ev = evtimer_new(server_base, fault_after_cb, fc);
		if (fc->after_ev != NULL) {
			tv = clock_timeval(f->arg);
			evtimer_add(fc->after_ev, &tv);
		}
	}
	/* A size of 0: the ending starts before any echo. */
	if (fault_limit(fc) == 0) {
		fault_begin_ending(fc, fault_after_kind(fc, 0));
		fault_try_end(fc);
	}
	return (0);
}

/*
 * A connection accepted on a --fault listener, already admitted per
 * source: draw its faults.  Returns 0 to leave it to conn_accept() (none
 * hit), 1 when this took it (fd served or closed either way).
 */
int
fault_accept(int fd, const struct sockaddr *sa, socklen_t len)
{
	const struct fault_spec	*spec[FAULT_KINDS];
	struct conn		*c;

	if (!fault_tcp || fault_draw(spec) == 0)
		return (0);
	if (spec[FAULT_REFUSE] != NULL) {
		fault_applied(FAULT_REFUSE, NULL);
		server_stats->rejected[REJECT_FAULT]++;
		close(fd);
		source_release(sa);
		server_conn_closed();
		return (1);
	}
	if ((c = conn_accept(fd, sa, len)) == NULL) {
		source_release(sa);
		return (1);
	}
	if (fault_attach(c, spec) != 0) {
		conn_end(c, "out of memory for its faults", CLOSE_ERROR, 0);
		return (1);
	}
	return (1);
}

/* conn.c: c is closing; free what its faults held. */
void
fault_conn_closed(struct conn *c)
{
	struct fault_conn	*fc = fault_conns[conn_descriptor(c)];

	fault_conns[conn_descriptor(c)] = NULL;
	if (fc == NULL)
		return;
	event_free(fc->timer);
	if (fc->after_ev != NULL)
		event_free(fc->after_ev);
	free(fc->records);
	free(fc);
}

/* Shutdown: a stalled connection would never finish; end it now. */
void
fault_drain_all(void)
{
	size_t	i;

	for (i = 0; i < fault_nconns; i++) {
		if (fault_conns[i] != NULL && fault_conns[i]->stalled)
			conn_end(fault_conns[i]->c, "stalled, at shutdown",
			    CLOSE_FAULT, 0);
	}
}

/*
 * UDP: the faults one datagram of len bytes at buf, from from, draws,
 * every --fault of UDP's drawing in turn.  corrupt inverts a byte of buf
 * in place; the answer is sent *copies times (0: dropped, 2: duplicated),
 * after *hold_us (delay, reorder; 0: at once).
 */
void
fault_datagram(unsigned char *buf, size_t len, const struct sockaddr *from,
    int *copies, uint64_t *hold_us)
{
	const struct fault_spec	*f;
	size_t			 i;
	uint64_t		 jitter;
	char			 name[ADDR_STRLEN];

	*copies = 1;
	*hold_us = 0;
	for (i = 0; i < server_config.nfaults; i++) {
		f = &server_config.faults[i];
		if (!(faultspec_applies(f->kind) & FAULT_UDP) ||
		    !fault_hits(f->ppm))
			continue;
		server_stats->faults[f->kind]++;
		if (log_debug_enabled())
			log_debug("udp %s: fault %s", addr_format(from, name,
			    sizeof name), faultspec_name(f->kind));
		switch (f->kind) {
		case FAULT_DROP:
			*copies = 0;
			break;
		case FAULT_DUPLICATE:
			*copies = 2;
			break;
		case FAULT_CORRUPT:
			if (len != 0)
				buf[fault_random() % len] ^= 0xff;
			break;
		case FAULT_DELAY:
			jitter = f->jitter_us == 0 ? 0 :
			    fault_random() % (2 * f->jitter_us + 1);
			*hold_us += f->arg - f->jitter_us + jitter;
			break;
		case FAULT_REORDER:
			*hold_us += f->arg;
			break;
		default:
			break;
		}
	}
	/* A drop drawn beside others: dropped, the others not applied. */
	if (*copies == 0)
		*hold_us = 0;
}

/*
 * Is a UDP fault configured?  For udp.c, which chooses its callback as
 * the sockets open, before fault_setup().
 */
int
fault_wanted_udp(void)
{
	size_t	i;

	for (i = 0; i < server_config.nfaults; i++) {
		if (faultspec_applies(server_config.faults[i].kind) &
		    FAULT_UDP)
			return (1);
	}
	return (0);
}
