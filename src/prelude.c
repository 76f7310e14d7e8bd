/*
 * prelude.c: on a --proxy-protocol listener, what happens between accept
 * and echo: the balancer's PROXY header is read (proxy.c says what it
 * means), never echoed, and the connection then goes to listener_admit()
 * under the client's own address.  The header is read exactly -- the
 * parser says how much more it needs, and a v1 line is read up to its
 * end after a look with MSG_PEEK -- so the client's first bytes stay in
 * the kernel for the echo path.  The plain path never comes here.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "server.h"

/* What a header may take to arrive: "a few seconds". */
#define PRELUDE_TIMEOUT_US	(3 * 1000000ULL)
/* The buffer a header starts in: v1's longest, and v2 for TCP with room. */
#define PRELUDE_BUF		128

_Static_assert(PRELUDE_BUF > PROXY_V1_MAX, "a v1 line fits the buffer");

struct prelude {
	struct prelude		*next, *prev;
	struct event		*ev;
	int			 fd;
	int			 faulty;	/* a --fault listener's */
	struct sockaddr_storage	 peer;		/* the balancer */
	socklen_t		 peerlen;
	uint64_t		 deadline_us;
	size_t			 have;
	size_t			 cap;
	unsigned char		*buf;
	unsigned char		 small[PRELUDE_BUF];
};

static struct prelude	*prelude_list;
static size_t		 prelude_n;
static char		 prelude_last_why[160];

static void	prelude_report(uint64_t, void *);
static struct log_limit	prelude_log = LOG_LIMIT_INITIALIZER(prelude_report,
			    NULL);

/* Say how many headers were wanting, and the last one's fault. */
static void
prelude_report(uint64_t n, void *arg)
{
	log_warnx("closed %llu connections without a valid PROXY header "
	    "(last: %s)", (unsigned long long)n, prelude_last_why);
}

/* Return how many connections wait for their header. */
size_t
prelude_count(void)
{
	return (prelude_n);
}

/* Forget p; its descriptor is closed unless keep_fd. */
static void
prelude_free(struct prelude *p, int keep_fd)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		prelude_list = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	prelude_n--;
	event_free(p->ev);
	if (!keep_fd)
		close(p->fd);
	if (p->buf != p->small)
		free(p->buf);
	free(p);
}

/* Close p for want of a header, counted under reason. */
static void
prelude_fail(struct prelude *p, enum reject_reason reason, const char *why)
{
	char	name[ADDR_STRLEN];

	snprintf(prelude_last_why, sizeof prelude_last_why, "%s from %s", why,
	    addr_format((struct sockaddr *)&p->peer, name, sizeof name));
	if (log_debug_enabled())
		log_debug("PROXY: closed %s", prelude_last_why);
	server_stats->rejected[reason]++;
	if (reason == REJECT_PROXY_HEADER)
		log_limit_hit(&prelude_log);
	prelude_free(p, 0);
	server_conn_closed();
}

/* Make room for need bytes in all; 0, or -1 without memory. */
static int
prelude_room(struct prelude *p, size_t need)
{
	unsigned char	*b;

	if (need <= p->cap)
		return (0);
	if ((b = malloc(need)) == NULL)
		return (-1);
	memcpy(b, p->buf, p->have);
	if (p->buf != p->small)
		free(p->buf);
	p->buf = b;
	p->cap = need;
	return (0);
}

/*
 * Read what the header still needs, no more: 1 when some was read, 0 when
 * the socket has nothing yet, -1 (and *why) when it never will.
 */
static int
prelude_read(struct prelude *p, const struct proxy_result *r,
    const char **why)
{
	unsigned char	*nl;
	size_t		 want;
	ssize_t		 n;

	if (r->need_line) {
		/* Look first: only the line itself is the header's. */
		want = PROXY_V1_MAX - p->have;
		n = recv(p->fd, p->buf + p->have, want, MSG_PEEK);
		if (n > 0) {
			nl = memchr(p->buf + p->have, '\n', (size_t)n);
			if (nl != NULL)
				n = nl - (p->buf + p->have) + 1;
			n = read(p->fd, p->buf + p->have, (size_t)n);
		}
	} else {
		if (prelude_room(p, r->need) != 0) {
			*why = "out of memory";
			return (-1);
		}
		n = read(p->fd, p->buf + p->have, r->need - p->have);
	}
	if (n > 0) {
		p->have += (size_t)n;
		return (1);
	}
	if (n == 0) {
		*why = "closed before its PROXY header ended";
		return (-1);
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (0);
	*why = strerror(errno);
	return (-1);
}

/*
 * The socket is readable, or the time is up: read on, parse, and hand the
 * connection on once its header is whole.
 */
static void
prelude_cb(evutil_socket_t fd, short what, void *arg)
{
	struct prelude		*p = arg;
	struct proxy_result	 r;
	struct sockaddr_storage	 client;
	socklen_t		 len;
	const char		*why = NULL;
	char			 a[ADDR_STRLEN], b[ADDR_STRLEN];
	int			 rc, faulty;

	for (;;) {
		switch (proxy_parse(p->buf, p->have, &r, &why)) {
		case PROXY_OK:
			goto done;
		case PROXY_BAD:
			prelude_fail(p, REJECT_PROXY_HEADER, why);
			return;
		case PROXY_NEED:
			break;
		}
		if ((rc = prelude_read(p, &r, &why)) < 0) {
			prelude_fail(p, REJECT_PROXY_HEADER, why);
			return;
		}
		if (rc == 0)
			break;
	}
	/*
	 * The event's timeout restarts at each wake-up, so a header sent a
	 * byte at a time is held to the deadline here.
	 */
	if ((what & EV_TIMEOUT) || clock_now_us() >= p->deadline_us)
		prelude_fail(p, REJECT_PROXY_HEADER, "no PROXY header in 3 s");
	return;

done:
	if (r.local) {
		client = p->peer;
		len = p->peerlen;
	} else {
		client = r.src;
		len = r.srclen;
	}
	if (log_debug_enabled())
		log_debug("PROXY v%d from %s: client %s", r.version,
		    addr_format((struct sockaddr *)&p->peer, a, sizeof a),
		    r.local ? "its own (LOCAL or UNKNOWN)" :
		    addr_format((struct sockaddr *)&client, b, sizeof b));
	fd = p->fd;
	faulty = p->faulty;
	prelude_free(p, 1);
	listener_admit(fd, (struct sockaddr *)&client, len, faulty);
}

/*
 * A connection accepted on a PROXY listener from a trusted peer: wait for
 * its header.  The descriptor is ours from here on, closed on failure.
 */
void
prelude_start(int fd, const struct sockaddr *sa, socklen_t len, int faulty)
{
	struct timeval	 tv = clock_timeval(PRELUDE_TIMEOUT_US);
	struct prelude	*p;

	if ((p = calloc(1, sizeof *p)) == NULL) {
		close(fd);
		server_stats->rejected[REJECT_ERROR]++;
		return;
	}
	p->fd = fd;
	p->faulty = faulty;
	if (len > sizeof p->peer)
		len = sizeof p->peer;
	memcpy(&p->peer, sa, len);
	p->peerlen = len;
	p->buf = p->small;
	p->cap = sizeof p->small;
	p->deadline_us = clock_now_us() + PRELUDE_TIMEOUT_US;
	p->ev = event_new(server_base, fd, EV_READ | EV_PERSIST, prelude_cb, p);
	if (p->ev == NULL || event_add(p->ev, &tv) != 0) {
		if (p->ev != NULL)
			event_free(p->ev);
		free(p);
		close(fd);
		server_stats->rejected[REJECT_ERROR]++;
		return;
	}
	p->next = prelude_list;
	if (prelude_list != NULL)
		prelude_list->prev = p;
	prelude_list = p;
	prelude_n++;
}

/* At exit: close every connection still without its header. */
void
prelude_close_all(void)
{
	while (prelude_list != NULL) {
		server_stats->rejected[REJECT_DRAINING]++;
		prelude_free(prelude_list, 0);
	}
	log_limit_flush(&prelude_log);
}
