/*
 * conn.c: one echo connection, from accept to close.
 *
 * The echo path follows libevent-hotpath.md.  The bufferevent reads; its
 * read callback first reads on while the socket has more (libevent stops at
 * 4 KiB a call), then, if nothing is queued for output, writes the input
 * straight to the socket and queues only what the kernel did not take.  That
 * saves two epoll_ctl calls and a loop iteration per message, while partial
 * writes, EV_WRITE and errors stay with the bufferevent.
 *
 * Memory is bounded by --max-pending: once input plus output hold that much,
 * reading stops until the output has drained.  While output is non-empty new
 * data waits in the input buffer, whose chains fill up, rather than being
 * moved chain by half-empty chain into the output.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "addr.h"
#include "log.h"
#include "server.h"

/* What libevent 2.1 reads per call (EVBUFFER_MAX_READ); more may wait. */
#define CONN_LIBEVENT_READ	4096
/* Read-more step and the most one callback reads, for fairness. */
#define CONN_READ_STEP		16384
#define CONN_READ_CAP		(256 * 1024)
/*
 * A full 4 KiB read may be the whole message (4 KiB ping-pong) or a piece
 * of a larger one.  When trying to read on found nothing, take this many
 * full reads as they come before trying again: messages of exactly 4 KiB
 * then waste one read in nine instead of one in one, and a switch to
 * larger messages costs at most this many extra loop iterations.
 */
#define CONN_READ_MORE_BACKOFF	8

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct bufferevent	*bev;
	int			 fd;
	int			 flags;
	int			 read_more_skip;	/* full reads to take as is */
#define CONN_READ_EOF	0x1	/* the client shut down its sending side */
#define CONN_PAUSED	0x2	/* reading stopped: max_pending is held */
#define CONN_DRAINING	0x4	/* server shutdown: read quota, then close */
	uint64_t		 id;
	size_t			 held;		/* input length after last cb */
	size_t			 drain_quota;	/* bytes still to read */
	struct sockaddr_in6	 peer;		/* large enough for IPv4 too */
};

static TAILQ_HEAD(, conn)	 conn_list = TAILQ_HEAD_INITIALIZER(conn_list);
static size_t			 conn_open;
static uint64_t			 conn_next_id = 1;
static const struct timeval	*conn_idle_tv;

static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_write_cb(struct bufferevent *, void *);
static void	conn_event_cb(struct bufferevent *, short, void *);

/* Prepare shared state: the common timeout used by every connection. */
int
conn_setup(void)
{
	struct timeval	tv;

	if (server_config.idle_timeout_us == 0)
		return (0);
	tv.tv_sec = (time_t)(server_config.idle_timeout_us / 1000000);
	tv.tv_usec = (suseconds_t)(server_config.idle_timeout_us % 1000000);
	/* One queue for every connection's identical timeout: O(1) re-arm. */
	conn_idle_tv = event_base_init_common_timeout(server_base, &tv);
	return (conn_idle_tv == NULL ? -1 : 0);
}

/* Return the number of open connections. */
size_t
conn_count(void)
{
	return (conn_open);
}

/* The one way a connection ends: log why, account, free. */
static void
conn_close(struct conn *c, const char *why)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 unsent = evbuffer_get_length(out);
	size_t		 unread = evbuffer_get_length(in);
	char		 peer[ADDR_STRLEN];

	if (log_debug_enabled()) {
		log_debug("conn %llu %s closed: %s (%zu bytes not echoed)",
		    (unsigned long long)c->id,
		    addr_format((struct sockaddr *)&c->peer, peer, sizeof peer),
		    why, unsent + unread);
	}
	/* Output was counted as sent when queued; take back what was not. */
	server_stats.bytes_out -= unsent;
	server_stats.bytes_dropped += unsent + unread;

	source_release((struct sockaddr *)&c->peer);
	TAILQ_REMOVE(&conn_list, c, entry);
	bufferevent_free(c->bev);
	free(c);
	conn_open--;
	server_stats.open = conn_open;
	server_conn_closed();
}

/* Close once nothing more will be read and everything read has been sent. */
static int
conn_maybe_finish(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (evbuffer_get_length(in) != 0 || evbuffer_get_length(out) != 0)
		return (0);
	if (c->flags & CONN_READ_EOF) {
		conn_close(c, "client closed");
		return (1);
	}
	if ((c->flags & CONN_DRAINING) && c->drain_quota == 0) {
		conn_close(c, "server shutting down");
		return (1);
	}
	return (0);
}

/*
 * Read on past libevent's 4 KiB while the socket has more, up to budget
 * bytes.  Errors and EOF are left for the bufferevent's next read, which
 * reports them through the event callback.
 */
static size_t
conn_read_more(struct conn *c, struct evbuffer *in, size_t budget)
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
		n = readv(c->fd, (struct iovec *)vec, nvec);
		if (n <= 0) {
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
 * Send what the input holds (in_len bytes).  With nothing queued, write it
 * to the socket now and queue the rest; otherwise leave it in the input
 * until the queue drains, so bytes stay in order.  Records what stays in
 * the input and returns the bytes now held (input plus output), or -1 if
 * the connection was closed.
 */
static ssize_t
conn_echo(struct conn *c, size_t in_len)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 out_len = evbuffer_get_length(out);
	int		 n;

	if (in_len == 0 || out_len != 0) {
		c->held = in_len;
		return ((ssize_t)(in_len + out_len));
	}
	n = evbuffer_write(in, c->fd);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			char why[128];

			snprintf(why, sizeof why, "write failed: %s",
			    strerror(errno));
			conn_close(c, why);
			return (-1);
		}
		n = 0;
	}
	server_stats.bytes_out += in_len;	/* the rest is queued below */
	if ((size_t)n < in_len)
		evbuffer_add_buffer(out, in);
	c->held = 0;
	return ((ssize_t)(in_len - (size_t)n));
}

/* Stop reading once max_pending bytes are held; resume below it. */
static void
conn_apply_limit(struct conn *c, size_t held)
{
	/* Past EOF, or a spent drain quota, reading stays off for good. */
	if ((c->flags & CONN_READ_EOF) ||
	    ((c->flags & CONN_DRAINING) && c->drain_quota == 0))
		return;
	if (held >= server_config.max_pending) {
		if (!(c->flags & CONN_PAUSED)) {
			c->flags |= CONN_PAUSED;
			bufferevent_disable(c->bev, EV_READ);
		}
	} else if (c->flags & CONN_PAUSED) {
		c->flags &= ~CONN_PAUSED;
		bufferevent_enable(c->bev, EV_READ);
	}
}

/*
 * Echo what the input holds, then close if the connection is finished or
 * apply the memory bound.  Shared by the read and write callbacks.
 */
static void
conn_after_io(struct conn *c, size_t in_len)
{
	ssize_t	held;

	if ((held = conn_echo(c, in_len)) == -1)
		return;
	if ((c->flags & (CONN_READ_EOF | CONN_DRAINING)) && conn_maybe_finish(c))
		return;
	conn_apply_limit(c, (size_t)held);
}

/* Data arrived: read the rest that waits, echo it, apply the bound. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 in_len, fresh, held;

	in_len = evbuffer_get_length(in);
	fresh = in_len - c->held;
	if (fresh >= CONN_LIBEVENT_READ && c->read_more_skip > 0)
		c->read_more_skip--;
	else if (fresh >= CONN_LIBEVENT_READ) {
		held = in_len +
		    evbuffer_get_length(bufferevent_get_output(bev));
		if (held < server_config.max_pending) {
			size_t budget = server_config.max_pending - held, more;

			if (budget > CONN_READ_CAP)
				budget = CONN_READ_CAP;
			more = conn_read_more(c, in, budget);
			if (more == 0)
				c->read_more_skip = CONN_READ_MORE_BACKOFF;
			fresh += more;
			in_len += more;
		}
	}
	server_stats.bytes_in += fresh;

	if (c->flags & CONN_DRAINING) {
		c->drain_quota = fresh >= c->drain_quota ? 0 :
		    c->drain_quota - fresh;
		if (c->drain_quota == 0)
			bufferevent_disable(bev, EV_READ);
	}
	conn_after_io(c, in_len);
}

/* The output queue drained: send what waited in the input, maybe resume. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	conn_after_io(arg, evbuffer_get_length(bufferevent_get_input(bev)));
}

/* EOF, errors and timeouts. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[128];

	if (what & BEV_EVENT_EOF) {
		/* Half-close: echo everything already received, then close. */
		c->flags |= CONN_READ_EOF;
		c->flags &= ~CONN_PAUSED;
		bufferevent_disable(bev, EV_READ);
		conn_after_io(c,
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		snprintf(why, sizeof why, "%s error: %s",
		    (what & BEV_EVENT_READING) ? "read" : "write",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_close(c, why);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* A read timeout while our output still flows is not idleness. */
		if ((what & BEV_EVENT_READING) &&
		    evbuffer_get_length(bufferevent_get_output(bev)) != 0) {
			bufferevent_enable(bev, EV_READ);
			return;
		}
		conn_close(c, (what & BEV_EVENT_READING) ?
		    "idle timeout" : "idle timeout (client not reading)");
	}
}

/* Take over an accepted socket. */
void
conn_accept(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct conn	*c;
	int		 one = 1;
	char		 peer[ADDR_STRLEN];

	/* Echo replies are small and latency matters: no Nagle delay. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_warn("accept: out of memory");
		close(fd);
		server_stats.rejected++;
		return;
	}
	c->bev = bufferevent_socket_new(server_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("accept: cannot create a bufferevent");
		close(fd);
		free(c);
		server_stats.rejected++;
		return;
	}
	c->fd = fd;
	c->id = conn_next_id++;
	if (len > sizeof c->peer)
		len = sizeof c->peer;
	memcpy(&c->peer, sa, len);

	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	if (conn_idle_tv != NULL)
		bufferevent_set_timeouts(c->bev, conn_idle_tv, conn_idle_tv);
	/* A new bufferevent already writes; enabling EV_WRITE costs syscalls. */
	bufferevent_enable(c->bev, EV_READ);

	TAILQ_INSERT_TAIL(&conn_list, c, entry);
	conn_open++;
	server_stats.accepted++;
	server_stats.open = conn_open;
	if (conn_open > server_stats.peak)
		server_stats.peak = conn_open;
	if (log_debug_enabled()) {
		log_debug("conn %llu %s accepted", (unsigned long long)c->id,
		    addr_format(sa, peer, sizeof peer));
	}
}

/*
 * Shutdown: each connection may read what its client had already sent (the
 * bytes waiting in the kernel now), echoes it, and closes once flushed.
 */
void
conn_drain_all(void)
{
	struct conn	*c, *next;
	int		 waiting;

	for (c = TAILQ_FIRST(&conn_list); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		c->flags |= CONN_DRAINING;
		if ((c->flags & CONN_READ_EOF) ||
		    ioctl(c->fd, FIONREAD, &waiting) != 0 || waiting < 0)
			waiting = 0;
		c->drain_quota = (size_t)waiting;
		if (c->drain_quota == 0)
			bufferevent_disable(c->bev, EV_READ);
		conn_maybe_finish(c);
	}
}

/* Close every connection at once, for a forced exit. */
void
conn_close_all(const char *why)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&conn_list)) != NULL)
		conn_close(c, why);
}
