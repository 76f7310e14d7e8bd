/*
 * benchmark-udp.c: the life of one UDP flow (--udp): a socket of its own
 * (its own source port) connected to the target, datagrams sent with a
 * header and the pattern, each echo checked and classified, and the lost
 * ones found by a timer.
 *
 * A datagram is -s bytes: a header (magic, the slot it was sent from, the
 * flow, the sequence, all big-endian), then the flow's pattern from offset
 * sequence * -s + the header, so the bytes of no two datagrams agree.  It
 * goes out in one sendmsg, straight from the pattern table.
 *
 * Each flow keeps -d slots; a datagram in flight holds one.  In pingpong a
 * slot is refilled as soon as it is free; with --rate, when the schedule
 * says (as a TCP connection's messages, mode_rate_due).  What comes back
 * is, exactly, one of:
 *   corrupted   shorter than the header, another magic or flow, a sequence
 *               or slot never sent, another length, or a byte that differs
 *               from the pattern.  If its header still names a datagram in
 *               flight, that one is answered (not lost later).
 *   duplicated  a sequence that had come back already (right, or
 *               corrupted with a good header).
 *   late        a sequence counted lost already: back after --timeout, or
 *               more than the history behind the newest sent.
 *   received    the first copy, right, within --timeout of being sent;
 *               also counted reordered if a later sequence of the flow
 *               had been received before it.
 * A datagram in flight for --timeout is lost; its slot is free again.
 * After -t a flow sends no more and waits, up to --timeout, until each of
 * its datagrams is received or lost, so for a whole run
 * sent = received + lost + the corrupted that answered a datagram.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "benchmark-conn.h"
#include "exitcode.h"
#include "log.h"
#include "parse.h"
#include "pattern.h"
#include "sock.h"

#define UDP_MAGIC	0x45565531U	/* "EVU1" */
#define UDP_HDR		24
/* Datagrams read per wake-up, so one busy flow does not starve the rest. */
#define UDP_BATCH	64
/* Sequences remembered per flow, at least, to tell a duplicate from late. */
#define UDP_HISTORY	4096

struct udp_slot {
	TAILQ_ENTRY(udp_slot)	 entry;		/* in flight, oldest first */
	uint64_t		 seq;
	uint64_t		 sent_ns;	/* handed to the kernel */
	uint64_t		 due_ns;	/* latency from here (--rate) */
	int			 busy;
};

struct udp_flow {
	struct udp_slot		*slots;		/* -d */
	uint32_t		*free;		/* stack of free slot numbers */
	uint32_t		 nfree;
	TAILQ_HEAD(, udp_slot)	 inflight;
	struct event		*expire_ev;	/* the oldest's --timeout */
	uint64_t		 next_seq;
	uint64_t		 newest;	/* highest received + 1; 0: none */
	unsigned char		*back;		/* answered, by seq % nhist */
	uint64_t		 nhist;		/* a power of two */
	int			 done;		/* nothing more to send or wait */
};

static void	udp_issue(struct bench_conn *, uint64_t);
static void	udp_read_cb(evutil_socket_t, short, void *);

/* The header of a datagram: slot, flow and sequence. */
static void
udp_header(unsigned char *h, uint32_t slot, uint64_t flow, uint64_t seq)
{
	uint32_t	m = htobe32(UDP_MAGIC), s = htobe32(slot);
	uint64_t	f = htobe64(flow), q = htobe64(seq);

	memcpy(h, &m, 4);
	memcpy(h + 4, &s, 4);
	memcpy(h + 8, &f, 8);
	memcpy(h + 16, &q, 8);
}

/*
 * Does anything echo at ai?  One datagram of flow UINT64_MAX (no flow of
 * the run's) and --timeout for its echo: 0, or -1 with *cause set.
 */
static int
udp_probe(const struct addrinfo *ai, char **cause)
{
	const struct bench_source	*src = bench_config.sources;
	unsigned char			 h[UDP_HDR], buf[UDP_HDR];
	char				 name[ADDR_STRLEN];
	struct pollfd			 pfd;
	int				 fd, rc = -1;

	fd = sock_udp_connect(ai->ai_addr, ai->ai_addrlen, src != NULL ?
	    (const struct sockaddr *)&src->ss : NULL,
	    src != NULL ? src->len : 0, cause);
	if (fd == -1)
		return (-1);
	addr_format(ai->ai_addr, name, sizeof name);
	udp_header(h, UINT32_MAX, UINT64_MAX, 0);
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (send(fd, h, sizeof h, 0) == -1)
		cause_set(cause, "udp %s: %s", name, strerror(errno));
	else if (poll(&pfd, 1, (int)(bench_config.timeout_us / 1000)) != 1)
		cause_set(cause, "udp %s: no echo within --timeout", name);
	else if (recv(fd, buf, sizeof buf, 0) == -1)
		cause_set(cause, "udp %s: %s", name, strerror(errno));
	else
		rc = 0;
	close(fd);
	return (rc);
}

/*
 * Settle on the target: its only address (of --source's family), or of
 * several the first that echoes a probe, so a name such as localhost
 * (::1 and 127.0.0.1) reaches the one the server listens on.  A single
 * address gets no probe: a server that counts datagrams sees only the
 * run's.  Then -s must fit a datagram of that family.
 */
static void
udp_pick_target(void)
{
	struct bench_config		*cf = &bench_config;
	const struct addrinfo		*ai, *chosen = NULL;
	struct addrinfo			*res;
	char				*host, *port, *cause = NULL;
	int				 family = AF_UNSPEC, n = 0, max;

	if (addr_parse(cf->target_spec, ADDR_DEFAULT_HOST, ADDR_DEFAULT_PORT,
	    &host, &port, &cause) != 0)
		usage_error(bench_progname, "%s", cause);
	if (cf->nsources > 0)
		family = cf->sources[0].ss.ss_family;
	if (addr_resolve(host, port, family, 0, &res, &cause) != 0) {
		if (family != AF_UNSPEC &&
		    addr_resolve(host, port, AF_UNSPEC, 0, &res, NULL) == 0) {
			freeaddrinfo(res);
			usage_error(bench_progname, "--source: the target '%s' "
			    "has no %s address", host, family == AF_INET ?
			    "IPv4" : "IPv6");
		}
		log_errorx("%s", cause);
		exit(EXIT_UNREACHABLE);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	for (ai = res; ai != NULL && chosen == NULL; ai = ai->ai_next) {
		if (n == 1 || udp_probe(ai, &cause) == 0)
			chosen = ai;
	}
	free(host);
	free(port);
	if (chosen == NULL) {
		log_errorx("%s", cause);
		exit(EXIT_UNREACHABLE);
	}
	free(cause);
	max = (int)sock_udp_max(chosen->ai_family);
	if (cf->size < UDP_HDR || cf->size > (uint64_t)max)
		usage_error(bench_progname, "-s %llu: a UDP datagram to %s is "
		    "%d to %d bytes (its header is %d)",
		    (unsigned long long)cf->size, chosen->ai_family == AF_INET6 ?
		    "IPv6" : "IPv4", UDP_HDR, max, UDP_HDR);
	memcpy(&cf->target, chosen->ai_addr, chosen->ai_addrlen);
	cf->target_len = chosen->ai_addrlen;
	addr_format(chosen->ai_addr, cf->target_name,
	    sizeof cf->target_name);
	freeaddrinfo(res);
}

/* Whether sequence seq of f has come back; seq is within the history. */
static int
udp_answered(const struct udp_flow *f, uint64_t seq)
{
	uint64_t	i = seq & (f->nhist - 1);

	return ((f->back[i / 8] >> (i % 8)) & 1);
}

/* Mark seq answered (1) or not (0). */
static void
udp_mark(struct udp_flow *f, uint64_t seq, int on)
{
	uint64_t	i = seq & (f->nhist - 1);

	if (on)
		f->back[i / 8] |= 1U << (i % 8);
	else
		f->back[i / 8] &= ~(1U << (i % 8));
}

/* Free sl: it came back, or is lost. */
static void
udp_settle(struct udp_flow *f, struct udp_slot *sl)
{
	sl->busy = 0;
	TAILQ_REMOVE(&f->inflight, sl, entry);
	f->free[f->nfree++] = (uint32_t)(sl - f->slots);
}

/* Arm the expiry for the oldest datagram in flight, if it is not armed. */
static void
udp_arm_expiry(struct udp_flow *f, uint64_t now)
{
	struct udp_slot	*sl = TAILQ_FIRST(&f->inflight);
	uint64_t	 at;

	if (sl == NULL || event_pending(f->expire_ev, EV_TIMEOUT, NULL))
		return;
	at = sl->sent_ns + bench_config.timeout_us * 1000;
	conn_arm(f->expire_ev, at > now ? (at - now + 999) / 1000 : 0);
}

/* Count sl lost (its --timeout ran out) and free it. */
static void
udp_lose(struct bench_conn *c, struct udp_slot *sl, uint64_t now)
{
	struct bench_thread	*thr = c->thr;

	thr->stats.udp.lost++;
	LIVE_ADD(thr->live.lost, 1);
	if (now >= bench_clock.measure_ns && now < bench_clock.end_ns)
		thr->stats.udp.lost_measured++;
	udp_settle(c->udp, sl);
}

/* Whether c may send more, now or later: -n not spent, -t not over. */
static int
udp_may_send(struct bench_conn *c, uint64_t now)
{
	return (c->thr->budget != 0 && !LIVE_GET(bench_stop) &&
	    now < bench_clock.end_ns);
}

/* Once c has nothing in flight and nothing more to send, it is done. */
static void
udp_check_done(struct bench_conn *c, uint64_t now)
{
	struct udp_flow	*f = c->udp;

	if (f->done || !TAILQ_EMPTY(&f->inflight) || udp_may_send(c, now))
		return;
	f->done = 1;
	thread_slot_done(c->thr);
}

/*
 * Send one datagram from a free slot, due at due: 0, or -1 if the socket
 * cannot take it now (the write event or the retry timer will call
 * udp_issue again).
 */
static int
udp_send(struct bench_conn *c, uint64_t due, uint64_t now)
{
	struct udp_flow		*f = c->udp;
	struct bench_thread	*thr = c->thr;
	struct udp_slot		*sl;
	unsigned char		 h[UDP_HDR];
	struct iovec		 iov[2];
	struct msghdr		 msg;
	uint32_t		 k = f->free[f->nfree - 1];
	size_t			 run;
	int			 tries = 0, saved;

	udp_header(h, k, c->id, f->next_seq);
	iov[0].iov_base = h;
	iov[0].iov_len = UDP_HDR;
	/* sendmsg only reads it: the iovec has no const. */
	iov[1].iov_base = (void *)(uintptr_t)pattern_at(c->id,
	    f->next_seq * bench_config.size + UDP_HDR, &run);
	iov[1].iov_len = bench_config.size - UDP_HDR;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	while (sendmsg(c->fd, &msg, 0) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS) {
			event_add(c->wev, NULL);
			return (-1);
		}
		/*
		 * An ICMP error from an earlier datagram is reported once,
		 * on this send, which did not go: count it, try again once.
		 */
		saved = errno;
		conn_count_error(c, WHY_ERROR, saved == ECONNREFUSED ?
		    "refused: port unreachable, nothing listens there" :
		    strerror(saved));
		if (saved != ECONNREFUSED || tries++ > 0) {
			conn_arm(c->timer_ev, BENCH_RETRY_US);
			return (-1);
		}
	}
	f->nfree--;
	sl = &f->slots[k];
	sl->busy = 1;
	sl->seq = f->next_seq++;
	sl->sent_ns = now;
	sl->due_ns = due;
	TAILQ_INSERT_TAIL(&f->inflight, sl, entry);
	udp_mark(f, sl->seq, 0);
	udp_arm_expiry(f, now);
	thr->stats.udp.sent++;
	LIVE_ADD(thr->live.sent, 1);
	return (0);
}

/* Fill c's free slots; with --rate, none before it is due. */
static void
udp_issue(struct bench_conn *c, uint64_t now)
{
	struct bench_thread	*thr = c->thr;
	uint64_t		 due;

	while (c->udp->nfree > 0 && udp_may_send(c, now)) {
		due = now;
		if (bench_config.rate != 0) {
			/* None is due before the end: wait for the end. */
			due = mode_rate_due(c, c->scheduled);
			if (due > now) {
				if (due > bench_clock.end_ns)
					due = bench_clock.end_ns;
				if (!event_pending(c->timer_ev, EV_TIMEOUT,
				    NULL))
					conn_arm(c->timer_ev,
					    (due - now + 999) / 1000);
				break;
			}
		}
		if (udp_send(c, due, now) != 0)
			break;
		c->scheduled++;
		thr->budget--;
	}
	udp_check_done(c, now);
}

/*
 * A wrong datagram: count it (the first is logged, where it went wrong),
 * bad bytes of it; off is its first bad byte's place in the flow's
 * sequence of datagrams (seq * -s + the byte's).
 */
static void
udp_corrupt(struct bench_conn *c, uint64_t off, uint64_t bad,
    const char *what, uint64_t now)
{
	struct bench_stats	*st = &c->thr->stats;

	if (st->first_bad_ns == 0) {
		st->first_bad_ns = now;
		st->first_bad_conn = c->id;
		st->first_bad_offset = off;
		log_warnx("flow %llu: corrupted datagram: %s",
		    (unsigned long long)c->id, what);
	}
	st->mismatches++;
	st->mismatched_bytes += bad;
	LIVE_ADD(c->thr->live.mismatches, 1);
}

/* Classify one datagram of len bytes that came back on c. */
static void
udp_received(struct bench_conn *c, const unsigned char *buf, size_t len,
    uint64_t now)
{
	struct udp_flow		*f = c->udp;
	struct bench_thread	*thr = c->thr;
	struct udp_slot		*sl;
	uint64_t		 size = bench_config.size, flow, seq, bad;
	uint32_t		 magic, k;
	size_t			 first = 0;
	char			 what[128];
	int			 pending;

	if (len < UDP_HDR) {
		snprintf(what, sizeof what, "%zu bytes, shorter than the "
		    "header", len);
		udp_corrupt(c, 0, len, what, now);
		return;
	}
	memcpy(&magic, buf, 4);
	memcpy(&k, buf + 4, 4);
	memcpy(&flow, buf + 8, 8);
	memcpy(&seq, buf + 16, 8);
	magic = be32toh(magic);
	k = be32toh(k);
	flow = be64toh(flow);
	seq = be64toh(seq);
	if (magic != UDP_MAGIC || flow != c->id || seq >= f->next_seq ||
	    k >= bench_config.depth) {
		snprintf(what, sizeof what, "a bad header (magic 0x%08x, flow "
		    "%llu, sequence %llu, slot %u)", magic,
		    (unsigned long long)flow, (unsigned long long)seq, k);
		udp_corrupt(c, 0, len, what, now);
		return;
	}
	sl = &f->slots[k];
	pending = sl->busy && sl->seq == seq;
	bad = 0;
	if (len != size) {
		snprintf(what, sizeof what, "sequence %llu is %zu bytes, sent "
		    "%llu", (unsigned long long)seq, len,
		    (unsigned long long)size);
		bad = len;
	} else if ((bad = pattern_check(c->id, seq * size + UDP_HDR,
	    buf + UDP_HDR, len - UDP_HDR, &first)) != 0) {
		first += UDP_HDR;
		snprintf(what, sizeof what, "sequence %llu, byte %zu is 0x%02x, "
		    "sent 0x%02x", (unsigned long long)seq, first, buf[first],
		    pattern_byte(c->id, seq * size + first));
	}
	if (bad != 0) {
		udp_corrupt(c, seq * size + first, bad, what, now);
		if (pending) {
			udp_mark(f, seq, 1);
			udp_settle(f, sl);
		}
		return;
	}
	if (f->next_seq - seq > f->nhist || !pending) {
		if (f->next_seq - seq <= f->nhist && udp_answered(f, seq)) {
			thr->stats.udp.duplicated++;
			LIVE_ADD(thr->live.duplicated, 1);
		} else {
			thr->stats.udp.late++;
			LIVE_ADD(thr->live.late, 1);
		}
		return;
	}
	if (now - sl->sent_ns >= bench_config.timeout_us * 1000) {
		/* Its expiry had not run yet: lost all the same. */
		udp_lose(c, sl, now);
		thr->stats.udp.late++;
		LIVE_ADD(thr->live.late, 1);
		return;
	}
	udp_mark(f, seq, 1);
	udp_settle(f, sl);
	thr->stats.udp.received++;
	if (seq + 1 < f->newest) {
		thr->stats.udp.reordered++;
		LIVE_ADD(thr->live.reordered, 1);
	} else
		f->newest = seq + 1;
	thread_sample(thr, now - sl->due_ns, now);
	thread_count(thr, 1, now);
}

/*
 * Read what c has (up to a batch); a socket error, such as the ICMP port
 * unreachable of a datagram sent, is counted and reading goes on.  0, or
 * -1 when nothing is left to read.
 */
static int
udp_read(struct bench_conn *c, uint64_t now)
{
	ssize_t	n;
	int	i, saved;

	for (i = 0; i < UDP_BATCH; i++) {
		n = recv(c->fd, c->thr->buf, BENCH_READ_BUF, MSG_TRUNC);
		if (n >= 0) {
			udp_received(c, c->thr->buf, (size_t)n, now);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (-1);
		saved = errno;
		conn_count_error(c, WHY_ERROR, saved == ECONNREFUSED ?
		    "refused: port unreachable, nothing listens there" :
		    strerror(saved));
		if (saved != ECONNREFUSED)
			return (-1);
	}
	return (0);
}

/* Datagrams came back on c: classify them, then refill the slots. */
static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	uint64_t		 now = bench_now();

	udp_read(c, now);
	if (!c->udp->done)
		udp_issue(c, now);
}

/* c's socket has room again, or its retry or --rate timer fired. */
static void
udp_send_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;

	if (!c->udp->done)
		udp_issue(c, bench_now());
}

/* The oldest datagrams in flight ran out of --timeout: lost; refill. */
static void
udp_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench_conn	*c = arg;
	struct udp_flow		*f = c->udp;
	struct udp_slot		*sl;
	uint64_t		 now = bench_now();

	while ((sl = TAILQ_FIRST(&f->inflight)) != NULL &&
	    now - sl->sent_ns >= bench_config.timeout_us * 1000)
		udp_lose(c, sl, now);
	udp_arm_expiry(f, now);
	if (!f->done)
		udp_issue(c, now);
}

/* Open c's flow: a socket of its own, connected (nothing goes out). */
static void
udp_begin(struct bench_conn *c, uint64_t now)
{
	struct bench_thread		*thr = c->thr;
	char				*cause = NULL;

	c->id = c->index;
	c->started_ns = c->last_ns = now;
	c->fd = conn_socket(c, sock_udp_connect, &cause);
	if (c->fd == -1) {
		conn_count_error(c, WHY_CONNECT, cause);
		free(cause);
		c->udp->done = 1;
		thread_slot_done(thr);
		return;
	}
	c->state = CONN_OPEN;
	LIVE_ADD(thr->live.open, 1);
	event_assign(c->rev, thr->base, c->fd, EV_READ | EV_PERSIST,
	    udp_read_cb, c);
	event_assign(c->wev, thr->base, c->fd, EV_WRITE, udp_send_cb, c);
	event_add(c->rev, NULL);
	if (thr->go)
		udp_issue(c, now);
}

/* Every flow is open: send the first datagrams. */
static void
udp_send_first(struct bench_conn *c, uint64_t now)
{
	udp_issue(c, now);
}

/*
 * The run is over: read what is queued still (a duplicate behind the last
 * echo counts), then close.  Datagrams in flight now, after a signal, are
 * neither received nor lost.
 */
static void
udp_stop(struct bench_conn *c)
{
	uint64_t	now = bench_now();

	if (c->fd == -1)
		return;
	while (udp_read(c, now) == 0)
		;
	event_del(c->rev);
	event_del(c->wev);
	event_del(c->timer_ev);
	event_del(c->udp->expire_ev);
	close(c->fd);
	c->fd = -1;
	c->state = CONN_IDLE;
	LIVE_ADD(c->thr->live.open, -1);
}

/* Set up slot c of thr, flow number index: its events and slots. */
static int
udp_setup(struct bench_conn *c, struct bench_thread *thr, uint64_t index)
{
	struct udp_flow	*f;
	uint64_t	 i, depth = bench_config.depth;

	c->thr = thr;
	c->fd = -1;
	c->index = index;
	if ((c->udp = f = calloc(1, sizeof *f)) == NULL)
		return (-1);
	TAILQ_INIT(&f->inflight);
	f->nhist = UDP_HISTORY;
	while (f->nhist < 4 * depth)
		f->nhist *= 2;
	f->slots = calloc(depth, sizeof *f->slots);
	f->free = calloc(depth, sizeof *f->free);
	f->back = calloc(f->nhist / 8, 1);
	c->rev = event_new(thr->base, -1, 0, udp_read_cb, c);
	c->wev = event_new(thr->base, -1, 0, udp_send_cb, c);
	c->timer_ev = evtimer_new(thr->base, udp_send_cb, c);
	f->expire_ev = evtimer_new(thr->base, udp_expire_cb, c);
	if (f->slots == NULL || f->free == NULL || f->back == NULL ||
	    c->rev == NULL || c->wev == NULL || c->timer_ev == NULL ||
	    f->expire_ev == NULL)
		return (-1);
	/* Slot 0 is used first, then 1, and so on. */
	for (i = 0; i < depth; i++)
		f->free[i] = (uint32_t)(depth - 1 - i);
	f->nfree = (uint32_t)depth;
	return (0);
}

/* Free what udp_setup made. */
static void
udp_free(struct bench_conn *c)
{
	struct udp_flow	*f = c->udp;

	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->timer_ev != NULL)
		event_free(c->timer_ev);
	if (f == NULL)
		return;
	if (f->expire_ev != NULL)
		event_free(f->expire_ev);
	free(f->slots);
	free(f->free);
	free(f->back);
	free(f);
	c->udp = NULL;
}

const struct bench_flow_ops udp_flow = {
	udp_pick_target, udp_setup, udp_free, udp_begin, udp_send_first,
	NULL, udp_stop
};
