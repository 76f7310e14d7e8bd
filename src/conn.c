/*
 * conn.c: one echo connection, from accept to close.
 *
 * The echo path follows libevent-hotpath.md.  The bufferevent reads; its
 * read callback first reads on while the socket has more (libevent stops at
 * 4 KiB a call), then, if nothing is queued for output, writes the input
 * straight to the socket and queues only what the kernel did not take.  That
 * saves two epoll_ctl calls and a loop iteration per message, while partial
 * writes, EV_WRITE and errors stay with the bufferevent.  With nothing
 * queued, what it reads on lands in one static buffer and leaves in the same
 * writev as the input, so large messages take no chain unless they wait.
 *
 * Memory is bounded twice.  --max-pending: once input plus output hold that
 * much, reading stops until the output has drained.  --max-memory: while
 * all connections together hold that much, a connection that holds anything
 * reads no more, while one that holds nothing (a client reading its echo) is
 * still served.  While output is non-empty new data waits in the input
 * buffer, whose chains fill up, rather than being moved chain by half-empty
 * chain into the output.
 *
 * Silence is judged by the timers of the bufferevent (nothing read, or no
 * writable wake-up, for the timeout) and then checked against the kernel:
 * bytes still in its send queue (SIOCOUTQ) or readable (FIONREAD) mean the
 * connection is not idle, and a send queue that shrank since the last check
 * means the client is reading.
 *
 * A connection the server ends while the client may still send (idle
 * timeout, shutdown) is closed gently: shut down our sending side, discard
 * what still arrives until the client's FIN or a short bound, then close.
 * Closing with unread input would make the kernel send RST and throw away
 * the echo still in its send queue.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>	/* tcp_info with tcpi_bytes_acked */

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
#include "log.h"
#include "conn.h"
#include "server.h"
#include "sock.h"

/* What libevent 2.1 reads per call (EVBUFFER_MAX_READ); more may wait. */
#define CONN_LIBEVENT_READ	4096
/*
 * Read-more step and the most one callback reads, for fairness.  The step
 * leaves room for libevent's chain header (under 64 bytes), so each chain
 * is one 16 KiB allocation rather than 16 KiB of data in a 32 KiB one.
 */
#define CONN_READ_STEP		(16384 - 64)
#define CONN_READ_CAP		(256 * 1024)
/*
 * A full 4 KiB read may be the whole message (4 KiB ping-pong) or a piece
 * of a larger one.  When trying to read on found nothing, take this many
 * full reads as they come before trying again: messages of exactly 4 KiB
 * then waste one read in nine instead of one in one, and a switch to
 * larger messages costs at most this many extra loop iterations.
 */
#define CONN_READ_MORE_BACKOFF	8
/* Chains one direct write takes; more stay queued (256 KiB is 17). */
#define CONN_WRITE_IOV		32
/* During shutdown: how long quiet means finished. */
#define CONN_DRAIN_GRACE_US	250000
/* After our FIN: how long to wait for the client's. */
#define CONN_LINGER_US		1000000
/*
 * Keeping the input's chain (see conn_read_cb): for messages up to
 * CONN_KEEP_MAX bytes, on connections past their first message, at most
 * CONN_KEPT_MAX of them at once, each for at most CONN_KEEP_US.  That bounds
 * what it holds to a few hundred KiB, and never touches idle connections.
 */
#define CONN_KEEP_MAX		256
#define CONN_KEPT_MAX		256
#define CONN_KEEP_US		200000
/* Slots in the connection table at most: 4 Mi descriptors, 256 MiB. */
#define CONN_TABLE_MAX		(4 * 1024 * 1024)
/* --max-memory: reading resumes below this share of the bound. */
#define CONN_MEM_RESUME_PCT	90
/*
 * --max-memory counts what the buffers cost, not only the bytes in them:
 * libevent allocates chains in powers of two (a 4 KiB read takes an 8 KiB
 * chain) and partial writes leave their heads unused.  2,000 stalled
 * clients held 74 MB of bytes in 102 MB of heap, 1.38 times; count each
 * byte held as 1.5.
 */
#define CONN_MEM_COST(held)	((held) + (held) / 2)


/* Why a lingering close happened, by c->why (conn.h's CONN_WHY_*). */
static const char *const	 conn_whys[] = { "idle timeout",
				    "server shutting down", "fault close-after" };
static const enum close_reason	 conn_why_reasons[] = { CLOSE_IDLE_TIMEOUT,
				    CLOSE_DRAINED, CLOSE_FAULT };

/*
 * Connections whose input keeps its chain (c->echoed), to be drained by
 * conn_keep_sweep() at the latest CONN_KEEP_US later.  Stale entries (the
 * slot since settled, or reused) are skipped there.
 */
static int			 conn_kept[CONN_KEPT_MAX];
static size_t			 conn_nkept;
static struct event		*conn_keep_ev;

static struct conn		*conn_table;	/* by descriptor */
static size_t			 conn_table_len;
static size_t			 conn_table_hi;	/* above every slot used */
static size_t			 conn_open;
static uint64_t			 conn_next_id = 1;
static const struct timeval	*conn_idle_tv;
static const struct timeval	*conn_grace_tv;
static const struct timeval	*conn_linger_tv;
static uint64_t			 conn_silence_us; /* the timeout in use */

/* --max-memory: bytes held by all connections, and the bound's state. */
static size_t			 conn_mem;
static size_t			 conn_mem_limit;	/* the bound, less a reserve */
static size_t			 conn_mem_resume;
static int			 conn_mem_full;
static int64_t			 conn_mem_full_since;

static void	conn_mem_report(uint64_t, void *);
static struct log_limit		 conn_mem_log =
    LOG_LIMIT_INITIALIZER(conn_mem_report, NULL);

/* Read-on with nothing queued lands here (conn_send_through). */
static unsigned char		 conn_scratch[CONN_READ_CAP];

static void	conn_keep_sweep(evutil_socket_t, short, void *);
static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_out_cb(struct evbuffer *, const struct evbuffer_cb_info *,
		    void *);
static void	conn_event_cb(struct bufferevent *, short, void *);
static void	conn_linger_read_cb(struct bufferevent *, void *);
static void	conn_mem_set_limit(void);
static void	conn_drain(struct conn *);

/* The descriptor of c: its place in the table. */
static inline int
conn_fd(const struct conn *c)
{
	return ((int)(c - conn_table));
}

/* Monotonic microseconds. */
static int64_t
conn_now_us(void)
{
	return ((int64_t)clock_now_us());
}

/* Monotonic milliseconds, modulo 2^32: compare only differences. */
static uint32_t
conn_now_ms(void)
{
	return ((uint32_t)(conn_now_us() / 1000));
}

/* A common timeout of us microseconds: one queue, O(1) re-arm. */
static const struct timeval *
conn_common_timeout(uint64_t us)
{
	struct timeval	tv = clock_timeval(us);

	return (event_base_init_common_timeout(server_base, &tv));
}

/* Prepare shared state: the timeouts every connection uses. */
int
conn_setup(void)
{
	struct rlimit	rl;

	/*
	 * Descriptors stay below the open-file limit, so that many slots
	 * cover every connection.  The mapping is touched only where used.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > CONN_TABLE_MAX)
		rl.rlim_cur = CONN_TABLE_MAX;
	conn_table_len = (size_t)rl.rlim_cur;
	conn_table = mmap(NULL, conn_table_len * sizeof *conn_table,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (conn_table == MAP_FAILED) {
		conn_table = NULL;
		return (-1);
	}
	if (server_config.idle_timeout_us != 0 &&
	    (conn_idle_tv = conn_common_timeout(
	    server_config.idle_timeout_us)) == NULL)
		return (-1);
	conn_silence_us = server_config.idle_timeout_us;
	conn_grace_tv = conn_common_timeout(CONN_DRAIN_GRACE_US);
	conn_linger_tv = conn_common_timeout(CONN_LINGER_US);
	if (conn_grace_tv == NULL || conn_linger_tv == NULL)
		return (-1);
	conn_mem_set_limit();
	if ((conn_keep_ev = evtimer_new(server_base, conn_keep_sweep,
	    NULL)) == NULL)
		return (-1);
	return (0);
}

/* Report what is left to say and free the timers, before the loop goes. */
void
conn_cleanup(void)
{
	log_limit_flush(&conn_mem_log);
	if (conn_keep_ev != NULL) {
		event_free(conn_keep_ev);
		conn_keep_ev = NULL;
	}
}

/* Drain what c already sent from the front of its input. */
static inline void
conn_settle(struct conn *c, struct evbuffer *in)
{
	if (c->echoed != 0) {
		evbuffer_drain(in, c->echoed);
		c->echoed = 0;
	}
}

/* Time is up for the kept chains: drain them, so their chains are freed. */
static void
conn_keep_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c;
	size_t		 i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < conn_nkept; i++) {
		c = &conn_table[conn_kept[i]];
		if (c->bev == NULL || !c->kept)
			continue;
		c->kept = 0;
		conn_settle(c, bufferevent_get_input(c->bev));
	}
	conn_nkept = 0;
}

/* May c keep its chain?  Lists it, and arms the sweep, on first asking. */
static inline int
conn_keep(struct conn *c)
{
	if (c->kept)
		return (1);
	if (c->uses < 2 || conn_nkept == CONN_KEPT_MAX)
		return (0);
	if (conn_nkept == 0) {
		struct timeval	tv = { 0, CONN_KEEP_US };

		evtimer_add(conn_keep_ev, &tv);
	}
	conn_kept[conn_nkept++] = conn_fd(c);
	c->kept = 1;
	return (1);
}

/* Return the number of open connections. */
size_t
conn_count(void)
{
	return (conn_open);
}

/* Return what all connections' buffers cost together (CONN_MEM_COST). */
size_t
conn_memory(void)
{
	return (conn_mem);
}

/* Bytes in the kernel's send queue (not yet acknowledged), or 0. */
static size_t
conn_kernel_unsent(int fd)
{
	return (sock_queued(fd, SIOCOUTQ));
}

/* Bytes the client sent that the server has not read yet, or 0. */
static size_t
conn_kernel_unread(int fd)
{
	return (sock_queued(fd, FIONREAD));
}

/* Bytes the client has acknowledged, modulo 2^32 (TCP_INFO), or 0. */
static uint32_t
conn_kernel_acked(int fd)
{
	struct tcp_info	ti;

	sock_tcp_info(fd, &ti, sizeof ti);
	return ((uint32_t)ti.tcpi_bytes_acked);
}

/*
 * Where --max-memory starts to bite.  A connection that holds nothing may
 * still be read, and libevent reads 4 KiB before we can decline: keep that
 * much for every open connection out of the bound, so that the total stays
 * within it even when every one of them takes its read at once.
 */
static void
conn_mem_set_limit(void)
{
	size_t	reserve = conn_open * CONN_MEM_COST(CONN_LIBEVENT_READ);

	conn_mem_limit = server_config.max_memory > reserve ?
	    (size_t)server_config.max_memory - reserve : 0;
	conn_mem_resume = conn_mem_limit / 100 * CONN_MEM_RESUME_PCT;
}

/* Say how often the bound on all connections was reached. */
static void
conn_mem_report(uint64_t n, void *arg)
{
	log_warnx("--max-memory reached %llu times: %zu bytes held by %zu "
	    "connections; those holding data read no more until it falls "
	    "below %zu", (unsigned long long)n, conn_mem, conn_open,
	    conn_mem_resume);
}

/* The bound on all connections was reached: count it, say so rarely. */
static void
conn_mem_enter(void)
{
	conn_mem_full = 1;
	conn_mem_full_since = conn_now_us();
	server_stats->mem_full_events++;
	log_limit_hit(&conn_mem_log);
}

/* Below the resume mark again: add the time spent at the bound. */
static void
conn_mem_leave(void)
{
	conn_mem_full = 0;
	server_stats->mem_full_us +=
	    (uint64_t)(conn_now_us() - conn_mem_full_since);
}

/* Record that c now holds held bytes, and follow the bound's state. */
static inline void
conn_count_held(struct conn *c, size_t held)
{
	size_t	cost = CONN_MEM_COST(held);

	conn_mem += cost - c->counted;
	c->counted = (uint32_t)cost;
	server_stats->mem_held = conn_mem;
	if (!conn_mem_full) {
		if (conn_mem >= conn_mem_limit)
			conn_mem_enter();
	} else if (conn_mem < conn_mem_resume)
		conn_mem_leave();
}

/* Return the microseconds spent at --max-memory so far. */
uint64_t
conn_mem_full_us(void)
{
	return (server_stats->mem_full_us + (conn_mem_full ?
	    (uint64_t)(conn_now_us() - conn_mem_full_since) : 0));
}

/*
 * The one way a connection ends: log why, account, free.  What the
 * evbuffers still hold was not echoed; with unsent_too, neither was what
 * the kernel still holds for the client (the close was forced).
 */
static void
conn_close_counted(struct conn *c, const char *why, enum close_reason reason,
    int unsent_too)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 unsent, lost;
	char		 peer[ADDR_STRLEN];

	conn_settle(c, in);
	unsent = evbuffer_get_length(out);
	lost = unsent + evbuffer_get_length(in);

	if (unsent_too)
		lost += conn_kernel_unsent(conn_fd(c)) +
		    conn_kernel_unread(conn_fd(c));
	if (log_debug_enabled()) {
		log_debug("conn %llu %s closed: %s (%zu bytes not echoed)",
		    (unsigned long long)c->id,
		    addr_format((struct sockaddr *)&c->peer, peer, sizeof peer),
		    why, lost);
	}
	/* What was queued counts as sent only as it leaves (conn_out_cb). */
	server_stats->bytes_dropped += lost;
	if (unsent_too && (c->flags & CONN_DRAINING))
		server_stats->bytes_lost_stopping += lost;
	conn_count_held(c, 0);
	server_stats->closed[reason]++;
	if (c->flags & CONN_PAUSED)
		server_stats->paused--;
	if (c->flags & CONN_FAULT)
		fault_conn_closed(c);

	source_release((struct sockaddr *)&c->peer);
	bufferevent_free(c->bev);
	memset(c, 0, sizeof *c);
	conn_open--;
	conn_mem_set_limit();
	server_stats->open = conn_open;
	server_conn_closed();
}

/* Close: the socket failed, or the client is done and has its echo. */
static void
conn_close(struct conn *c, const char *why, enum close_reason reason)
{
	conn_close_counted(c, why, reason, 0);
}

/* A socket error's close reason: the peer's reset, or anything else. */
static enum close_reason
conn_error_reason(int err)
{
	return (err == ECONNRESET || err == EPIPE ? CLOSE_RESET : CLOSE_ERROR);
}

/* Stop reading from c: a memory bound holds. */
static void
conn_pause(struct conn *c)
{
	c->flags |= CONN_PAUSED;
	server_stats->paused++;
	server_stats->paused_total++;
}

/* Reading from c may go on, or has ended for another reason. */
static void
conn_unpause(struct conn *c)
{
	if (c->flags & CONN_PAUSED) {
		c->flags &= ~CONN_PAUSED;
		server_stats->paused--;
	}
}

/*
 * End a connection that has nothing pending, though its client may still
 * send: FIN now, then discard until the client's FIN or CONN_LINGER_US.
 */
static void
conn_finish(struct conn *c, int why)
{
	if (c->flags & CONN_READ_EOF) {
		/* Nothing more can arrive. */
		conn_close(c, conn_whys[why], conn_why_reasons[why]);
		return;
	}
	if (shutdown(conn_fd(c), SHUT_WR) != 0) {
		conn_close(c, conn_whys[why], conn_why_reasons[why]);
		return;
	}
	conn_unpause(c);
	c->flags |= CONN_LINGER;
	c->why = (uint8_t)why;
	bufferevent_setcb(c->bev, conn_linger_read_cb, NULL, conn_event_cb, c);
	bufferevent_set_timeouts(c->bev, conn_linger_tv, conn_linger_tv);
	bufferevent_enable(c->bev, EV_READ);
}

/* Close once the client has shut down and everything read has been sent. */
static int
conn_maybe_finish(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (!(c->flags & CONN_READ_EOF) || evbuffer_get_length(in) != 0 ||
	    evbuffer_get_length(out) != 0)
		return (0);
	conn_close(c, "client closed", CLOSE_CLIENT);
	return (1);
}

/*
 * Read on past libevent's 4 KiB while the socket has more, up to budget
 * bytes.  EOF is left for the bufferevent's next read, which reports it
 * through the event callback; an error is returned in *err, since the
 * kernel reports it only once.
 */
static size_t
conn_read_more(struct conn *c, struct evbuffer *in, size_t budget, int *err)
{
	struct evbuffer_iovec	vec[2];
	size_t			total = 0, want, asked, left;
	ssize_t			n;
	int			nvec, i;

	evbuffer_unfreeze(in, 0);
	while (total < budget) {
		want = budget - total;
		if (want > CONN_READ_STEP)
			want = CONN_READ_STEP;
		nvec = evbuffer_reserve_space(in, (ev_ssize_t)want, vec, 2);
		if (nvec <= 0)
			break;
		/* Never read more than asked, whatever space was handed out. */
		asked = 0;
		for (i = 0; i < nvec; i++) {
			if (vec[i].iov_len > want - asked)
				vec[i].iov_len = want - asked;
			asked += vec[i].iov_len;
		}
		n = readv(conn_fd(c), (struct iovec *)vec, nvec);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				*err = errno;
			evbuffer_commit_space(in, vec, 0);
			break;
		}
		left = (size_t)n;
		for (i = 0; i < nvec; i++) {
			if (vec[i].iov_len > left)
				vec[i].iov_len = left;
			left -= vec[i].iov_len;
		}
		evbuffer_commit_space(in, vec, nvec);
		total += (size_t)n;
		if ((size_t)n < asked)
			break;	/* a short read: the socket is drained */
	}
	evbuffer_freeze(in, 0);
	return (total);
}

/*
 * Write the input's in_len bytes straight to the socket and drain what the
 * kernel took; returns that, or -1 with errno set.  evbuffer_write() does
 * the same through evbuffer_write_atmost(), whose freeze checks and
 * 128-entry iovec setup cost 110 instructions for a one-chain message;
 * asking for the first chain, the common case, costs about 35.
 */
static ssize_t
conn_write_now(struct conn *c, struct evbuffer *in, size_t in_len)
{
	struct evbuffer_iovec	vec[CONN_WRITE_IOV];
	ssize_t			n;
	int			nvec;

	if (evbuffer_get_contiguous_space(in) == in_len) {
		/* One chain: pullup only returns its start. */
		n = write(conn_fd(c), evbuffer_pullup(in, (ev_ssize_t)in_len),
		    in_len);
	} else {
		nvec = evbuffer_peek(in, -1, NULL, vec, CONN_WRITE_IOV);
		if (nvec > CONN_WRITE_IOV)
			nvec = CONN_WRITE_IOV;	/* the rest is queued */
		n = writev(conn_fd(c), (struct iovec *)vec, nvec);
	}
	if (n > 0)
		evbuffer_drain(in, (size_t)n);
	return (n);
}

/*
 * Account for a direct write that took n of the in_len bytes in the input
 * and tail_len after them (-1: an error in errno), the input already
 * drained of what it took, and queue the rest; returns the bytes now held,
 * or -1 if the connection was closed.
 */
static ssize_t
conn_sent(struct conn *c, struct evbuffer *in, size_t in_len,
    const unsigned char *tail, size_t tail_len, ssize_t n)
{
	struct evbuffer	*out;
	size_t		 total = in_len + tail_len, skip, step;

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			char why[128];

			snprintf(why, sizeof why, "write failed: %s",
			    strerror(errno));
			conn_close(c, why, conn_error_reason(errno));
			return (-1);
		}
		n = 0;
	}
	server_stats->bytes_out += (size_t)n;	/* the rest is queued below */
	c->held = 0;
	if ((size_t)n == total)
		return (0);
	out = bufferevent_get_output(c->bev);
	/* Only ever called with the output empty: see conn_echo(). */
	evbuffer_add_cb(out, conn_out_cb, NULL);
	evbuffer_add_buffer(out, in);
	/*
	 * The tail's rest is copied in chains of one 16 KiB allocation each,
	 * as conn_read_more() reads, so that what a slow reader holds stays
	 * dense and --max-memory's cost per byte holds.
	 */
	skip = (size_t)n > in_len ? (size_t)n - in_len : 0;
	for (; skip < tail_len; skip += step) {
		step = tail_len - skip;
		if (step > CONN_READ_STEP)
			step = CONN_READ_STEP;
		if (evbuffer_add(out, tail + skip, step) != 0) {
			conn_close(c, "out of memory", CLOSE_ERROR);
			return (-1);
		}
	}
	c->flags |= CONN_QUEUED;
	return ((ssize_t)(total - (size_t)n));
}

/*
 * With nothing queued, read on into one static buffer rather than into the
 * input, and send the input and it in one writev; only what the kernel does
 * not take is copied into the output.  With 16 KiB messages four deep, the
 * 60 KiB behind libevent's 4 KiB took four 16 KiB reads into fresh chains
 * and a short one, now one read and no chain: 2.1 system calls per message
 * become 1.2.  Returns the bytes now held, or -1 if the connection closed.
 */
static ssize_t
conn_send_through(struct conn *c, struct evbuffer *in, size_t in_len,
    size_t more)
{
	struct evbuffer_iovec	vec[CONN_WRITE_IOV + 1];
	size_t			seen = 0;
	ssize_t			n = 0;
	int			nvec, i;

	nvec = in_len == 0 ? 0 :
	    evbuffer_peek(in, (ev_ssize_t)in_len, NULL, vec, CONN_WRITE_IOV);
	/* More chains than that cannot be with nothing queued; if so, queue. */
	if (nvec <= CONN_WRITE_IOV) {
		for (i = 0; i < nvec; i++) {	/* the input holds in_len */
			if (vec[i].iov_len > in_len - seen)
				vec[i].iov_len = in_len - seen;
			seen += vec[i].iov_len;
		}
		vec[nvec].iov_base = conn_scratch;
		vec[nvec].iov_len = more;
		n = writev(conn_fd(c), (struct iovec *)vec, nvec + 1);
	}
	if (n > 0)
		evbuffer_drain(in, (size_t)n < in_len ? (size_t)n : in_len);
	return (conn_sent(c, in, in_len, conn_scratch, more, n));
}

/*
 * Send what the input holds (in_len bytes).  With nothing queued, write it
 * to the socket now and queue the rest; otherwise leave it in the input
 * until the queue drains, so bytes stay in order.  Records what stays in
 * the input and returns the bytes now held (input plus output), or -1 if
 * the connection was closed.  CONN_QUEUED says the output may hold bytes,
 * so that the common case need not ask.
 */
static ssize_t
conn_echo(struct conn *c, struct evbuffer *in, size_t in_len)
{
	size_t	out_len;

	if (c->flags & CONN_QUEUED) {
		out_len = evbuffer_get_length(bufferevent_get_output(c->bev));
		if (out_len != 0) {
			c->held = (uint32_t)in_len;	/* < --max-pending */
			return ((ssize_t)(in_len + out_len));
		}
		c->flags &= ~CONN_QUEUED;
	}
	if (in_len == 0) {
		c->held = 0;
		return (0);
	}
	return (conn_sent(c, in, in_len, NULL, 0,
	    conn_write_now(c, in, in_len)));
}

/*
 * Stop reading once max_pending bytes are held, or anything while all
 * connections together hold max_memory; resume below both.
 */
static void
conn_apply_limit(struct conn *c, size_t held)
{
	/* Past EOF reading stays off for good. */
	if (c->flags & CONN_READ_EOF)
		return;
	if (held >= server_config.max_pending || (held != 0 && conn_mem_full)) {
		if (!(c->flags & CONN_PAUSED)) {
			conn_pause(c);
			bufferevent_disable(c->bev, EV_READ);
		}
	} else if (c->flags & CONN_PAUSED) {
		conn_unpause(c);
		bufferevent_enable(c->bev, EV_READ);
	}
}

/* c now holds held bytes: close if finished, or apply the bounds. */
static void
conn_after_echo(struct conn *c, size_t held)
{
	/* All sent, nothing was held, nothing to resume: the common case. */
	if (held == 0 && c->counted == 0 &&
	    !(c->flags & (CONN_READ_EOF | CONN_PAUSED)))
		return;
	conn_count_held(c, held);
	if ((c->flags & CONN_READ_EOF) && conn_maybe_finish(c))
		return;
	conn_apply_limit(c, held);
}

/*
 * Echo what the input holds, then close if the connection is finished or
 * apply the memory bounds.  Shared by the read and write callbacks.
 */
static void
conn_after_io(struct conn *c, struct evbuffer *in, size_t in_len)
{
	ssize_t	held;

	if ((held = conn_echo(c, in, in_len)) != -1)
		conn_after_echo(c, (size_t)held);
}


/* How much more one callback may read: both bounds, and fairness. */
static size_t
conn_read_budget(size_t held)
{
	size_t	budget;

	if (held >= server_config.max_pending)
		return (0);
	budget = server_config.max_pending - held;
	if (budget > CONN_READ_CAP)
		budget = CONN_READ_CAP;
	if (conn_mem + CONN_MEM_COST(budget) > conn_mem_limit) {
		budget = conn_mem < conn_mem_limit ?
		    (conn_mem_limit - conn_mem) / 3 * 2 : 0;
	}
	return (budget);
}

/* Does c's output hold nothing?  Clears CONN_QUEUED if so. */
static int
conn_output_empty(struct conn *c, struct bufferevent *bev)
{
	if (c->flags & CONN_QUEUED) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
			return (0);
		c->flags &= ~CONN_QUEUED;
	}
	return (1);
}

/*
 * Read on into conn_scratch, up to budget bytes, in one call: what it gets
 * goes out at once (conn_send_through).  An error is returned in *err.
 */
static size_t
conn_read_scratch(struct conn *c, size_t budget, int *err)
{
	ssize_t	n;

	if (budget > sizeof conn_scratch)
		budget = sizeof conn_scratch;
	n = read(conn_fd(c), conn_scratch, budget);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		*err = errno;
	return (n > 0 ? (size_t)n : 0);
}

/*
 * Data arrived, and perhaps more waits: read on (libevent stops at 4 KiB),
 * echo, apply the bounds.  Kept out of conn_read_cb's common case, whose
 * register saves would otherwise pay for it.
 */
static void __attribute__((noinline))
conn_read_more_cb(struct conn *c, struct bufferevent *bev, struct evbuffer *in,
    size_t in_len)
{
	size_t		 fresh, budget, more = 0, through = 0;
	ssize_t		 held;
	int		 err = 0;

	fresh = in_len - c->held;
	if (fresh >= CONN_LIBEVENT_READ && c->read_more_skip > 0)
		c->read_more_skip--;
	else if (fresh >= CONN_LIBEVENT_READ) {
		budget = conn_read_budget(in_len +
		    evbuffer_get_length(bufferevent_get_output(bev)));
		if (budget != 0 && conn_output_empty(c, bev)) {
			through = conn_read_scratch(c, budget, &err);
			more = through;
		} else if (budget != 0) {
			more = conn_read_more(c, in, budget, &err);
			in_len += more;
		}
		if (budget != 0 && more == 0)
			c->read_more_skip = CONN_READ_MORE_BACKOFF;
		fresh += more;
	}
	server_stats->bytes_in += fresh;
	if (err != 0) {
		char	why[128];

		snprintf(why, sizeof why, "read error: %s", strerror(err));
		conn_close(c, why, conn_error_reason(err));
		return;
	}
	if (through == 0) {
		conn_after_io(c, in, in_len);
		return;
	}
	if ((held = conn_send_through(c, in, in_len, through)) != -1)
		conn_after_echo(c, (size_t)held);
}

/*
 * Data arrived.  The common case is under 4 KiB (so in one chain) on a
 * connection with nothing queued, held or paused: write it and be done.
 * Deciding nothing else saves 60 instructions a message.
 *
 * Once written, a small message stays at the front of the input until the
 * next read has landed behind it (conn_settle drains it then): the input
 * is never empty, so libevent reads into the same chain again instead of
 * freeing it after every message and allocating a new one for the next,
 * which saves 90 instructions a message.  conn_keep() bounds how many
 * connections do so, and for how long.
 */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 in_len = evbuffer_get_length(in) - c->echoed;
	ssize_t		 n;

	conn_settle(c, in);
	if (c->flags != 0 || in_len >= CONN_LIBEVENT_READ) {
		conn_read_more_cb(c, bev, in, in_len);
		return;
	}
	server_stats->bytes_in += in_len;
	/* Mostly one chain: pullup returns its start and copies nothing. */
	n = write(conn_fd(c), evbuffer_pullup(in, -1), in_len);
	if ((size_t)n == in_len) {
		server_stats->bytes_out += in_len;
		if (in_len <= CONN_KEEP_MAX && conn_keep(c))
			c->echoed = (uint16_t)in_len;
		else
			evbuffer_drain(in, in_len);
		if (c->uses < 2)
			c->uses++;
		return;
	}
	if (n > 0)
		evbuffer_drain(in, (size_t)n);
	if ((n = conn_sent(c, in, in_len, NULL, 0, n)) != -1) {
		conn_count_held(c, (size_t)n);
		conn_apply_limit(c, (size_t)n);
	}
}

/*
 * Bytes of a queued echo left for the kernel: only now are they sent, so
 * that the sent counter never has to take back what a close discards.
 * Installed while a queue lasts, not per message.
 */
static void
conn_out_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	server_stats->bytes_out += info->n_deleted;
}

/* The output queue drained: send what waited in the input, maybe resume. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	/* Before anything is queued again, which installs it anew. */
	evbuffer_remove_cb(bufferevent_get_output(bev), conn_out_cb, NULL);

	conn_settle(arg, in);
	conn_after_io(arg, in, evbuffer_get_length(in));
}

/* After our FIN: what the client still sends cannot be echoed. */
static void
conn_linger_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n = evbuffer_get_length(in);

	server_stats->bytes_in += n;
	server_stats->bytes_dropped += n;
	if (c->flags & CONN_DRAINING)
		server_stats->bytes_lost_stopping += n;
	evbuffer_drain(in, n);
}

/*
 * A timer of the bufferevent fired: nothing was read, or no writable
 * wake-up came, for conn_silence_us.  Ask the kernel whether bytes are
 * still on their way; close an idle connection gently and a stalled one
 * (bytes queued, none delivered for the whole timeout) at once.
 */
static void
conn_silence(struct conn *c, short what)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 out_len = evbuffer_get_length(out), pending;
	uint32_t	 acked, now = conn_now_ms();

	pending = out_len + evbuffer_get_length(in) +
	    conn_kernel_unsent(conn_fd(c)) + conn_kernel_unread(conn_fd(c));
	acked = conn_kernel_acked(conn_fd(c));

	if (pending == 0 && !(c->flags & CONN_MOVING)) {
		conn_finish(c, (c->flags & CONN_DRAINING) ?
		    CONN_WHY_SHUTDOWN : CONN_WHY_IDLE);
		return;
	}
	if (pending != 0 && (c->flags & CONN_MOVING) &&
	    acked == c->seen_acked &&
	    now - c->seen_ms >= conn_silence_us / 1000 &&
	    !(c->flags & CONN_DRAINING)) {
		/* The drain timeout, not this, cuts off a stalled client. */
		conn_close_counted(c, "idle timeout (client not reading)",
		    CLOSE_IDLE_TIMEOUT, 1);
		return;
	}
	/* Bytes moved, or this is the first look: look again later. */
	if (acked != c->seen_acked || !(c->flags & CONN_MOVING)) {
		c->seen_acked = acked;
		c->seen_ms = now;
	}
	if (pending != 0)
		c->flags |= CONN_MOVING;
	else
		c->flags &= ~CONN_MOVING;
	/* libevent disabled the direction that timed out; arm it again. */
	if ((what & BEV_EVENT_READING) && !(c->flags & CONN_PAUSED))
		bufferevent_enable(c->bev, EV_READ);
	if (what & BEV_EVENT_WRITING)
		bufferevent_enable(c->bev, EV_WRITE);
}

/* EOF, errors and timeouts. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in;
	char		 why[128];
	int		 err;

	conn_settle(c, bufferevent_get_input(bev));
	if (c->flags & CONN_LINGER) {
		/* The client's FIN, a reset or the bound: done either way. */
		conn_close_counted(c, conn_whys[c->why],
		    conn_why_reasons[c->why], !(what & BEV_EVENT_EOF));
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Half-close: echo everything already received, then close. */
		c->flags |= CONN_READ_EOF;
		conn_unpause(c);
		bufferevent_disable(bev, EV_READ);
		in = bufferevent_get_input(bev);
		conn_after_io(c, in, evbuffer_get_length(in));
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		err = EVUTIL_SOCKET_ERROR();
		snprintf(why, sizeof why, "%s error: %s",
		    (what & BEV_EVENT_READING) ? "read" : "write",
		    evutil_socket_error_to_string(err));
		conn_close(c, why, conn_error_reason(err));
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn_silence(c, what);
}

/*
 * --greeting: the line goes out before any echo.  A new socket's send
 * buffer takes it whole; whatever it does not take waits in the output,
 * where CONN_QUEUED keeps every echo behind it.  An error shows at the
 * first read.
 */
static void
conn_greet(struct conn *c)
{
	size_t	len = server_config.greeting_len;
	ssize_t	n;

	n = write(conn_fd(c), server_config.greeting, len);
	if (n < 0)
		n = 0;
	if ((size_t)n < len) {
		evbuffer_add(bufferevent_get_output(c->bev),
		    server_config.greeting + n, len - (size_t)n);
		c->flags |= CONN_QUEUED;
	}
	server_stats->greetings++;
}

/* Take over an accepted socket: its connection, or NULL (fd closed). */
struct conn *
conn_accept(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct conn	*c;
	int		 one = 1;
	char		 peer[ADDR_STRLEN];

	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		/* Echo replies are small and latency matters: no Nagle. */
		sock_set_nodelay(fd);
		/* Urgent bytes are part of the stream and echoed in place. */
		setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
	}

	if (fd < 0 || (size_t)fd >= conn_table_len) {
		/* Only if the open-file limit was raised after start. */
		log_warnx("accept: descriptor %d beyond the %zu the server "
		    "started with", fd, conn_table_len);
		close(fd);
		server_stats->rejected[REJECT_ERROR]++;
		return (NULL);
	}
	c = &conn_table[fd];
	c->bev = bufferevent_socket_new(server_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("accept: cannot create a bufferevent");
		close(fd);
		server_stats->rejected[REJECT_ERROR]++;
		return (NULL);
	}
	if ((size_t)fd >= conn_table_hi)
		conn_table_hi = (size_t)fd + 1;
	c->id = (uint32_t)conn_next_id++;
	if (len > sizeof c->peer)
		len = sizeof c->peer;
	memcpy(&c->peer, sa, len);

	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	/* No accepts while draining: the backlog is taken first. */
	if (conn_idle_tv != NULL)
		bufferevent_set_timeouts(c->bev, conn_idle_tv, conn_idle_tv);
	/* A new bufferevent already writes; enabling EV_WRITE costs syscalls. */
	bufferevent_enable(c->bev, EV_READ);
	/* Chosen here, once: the echo path never asks. */
	if (server_config.greeting_len != 0)
		conn_greet(c);
	/* Its PROXY header came after shutdown began. */
	if (server_is_draining())
		conn_drain(c);

	conn_open++;
	conn_mem_set_limit();
	server_stats->accepted++;
	server_stats->open = conn_open;
	if (conn_open > server_stats->peak)
		server_stats->peak = conn_open;
	if (log_debug_enabled()) {
		log_debug("conn %llu %s accepted", (unsigned long long)c->id,
		    addr_format(sa, peer, sizeof peer));
	}
	return (c);
}

/* Shutdown has begun: c closes once quiet for CONN_DRAIN_GRACE_US. */
static void
conn_drain(struct conn *c)
{
	c->flags |= CONN_DRAINING;
	c->flags &= ~CONN_MOVING;
	bufferevent_set_timeouts(c->bev, conn_grace_tv, conn_grace_tv);
}

/*
 * Shutdown: every connection goes on echoing as before, bounds and all,
 * and is closed once its client has shut down and has its echo, or once it
 * has been quiet both ways for CONN_DRAIN_GRACE_US.
 */
void
conn_drain_all(void)
{
	struct conn	*c;

	conn_silence_us = CONN_DRAIN_GRACE_US;
	for (c = conn_table; c < conn_table + conn_table_hi; c++) {
		if (c->bev != NULL && !(c->flags & CONN_LINGER))
			conn_drain(c);
	}
}

/*
 * Close every connection at once, for a forced exit; return how many were
 * cut off with bytes not yet echoed, and add those bytes to *lost.
 */
size_t
conn_close_all(const char *why, uint64_t *lost)
{
	struct conn	*c;
	uint64_t	 before;
	size_t		 cut = 0;

	for (c = conn_table; c < conn_table + conn_table_hi; c++) {
		if (c->bev == NULL)
			continue;
		before = server_stats->bytes_dropped;
		conn_close_counted(c, why, CLOSE_DRAIN_CUTOFF, 1);
		if (server_stats->bytes_dropped != before) {
			cut++;
			*lost += server_stats->bytes_dropped - before;
		}
	}
	return (cut);
}

/*
 * For fault.c, whose connections echo through callbacks of its own: the
 * same accounting, bounds and endings, behind calls that leave the echo
 * path's own functions as they were (static, inlined where they are).
 */

int
conn_descriptor(const struct conn *c)
{
	return (conn_fd(c));
}

/* c holds held bytes (input plus output): finish, or apply the bounds. */
void
conn_held(struct conn *c, size_t held)
{
	conn_after_echo(c, held);
}

/* c holds held bytes; count them toward --max-memory, nothing more. */
void
conn_account(struct conn *c, size_t held)
{
	conn_count_held(c, held);
}

/* End c now; with unsent_too the kernel's unsent bytes count as lost. */
void
conn_end(struct conn *c, const char *why, enum close_reason reason,
    int unsent_too)
{
	conn_close_counted(c, why, reason, unsent_too);
}

/* End c for a socket error err. */
void
conn_end_error(struct conn *c, const char *what, int err)
{
	char	why[128];

	snprintf(why, sizeof why, "%s: %s", what, strerror(err));
	conn_close(c, why, conn_error_reason(err));
}

/* FIN now, then discard until the client's: a fault's gentle close. */
void
conn_end_gently(struct conn *c)
{
	conn_finish(c, CONN_WHY_FAULT);
}

/* The client shut down: no more reading, no pause. */
void
conn_read_ended(struct conn *c)
{
	c->flags |= CONN_READ_EOF;
	conn_unpause(c);
	bufferevent_disable(c->bev, EV_READ);
}

/* libevent's other events for c: errors, timeouts, a lingering close. */
void
conn_events(struct bufferevent *bev, short what, void *arg)
{
	conn_event_cb(bev, what, arg);
}
