/*
 * yardstick.c: the floor evecho's echo path is measured against.
 *
 * A raw epoll echo server with none of a service's duties: no limits,
 * timeouts, logging or counters, one thread, level-triggered epoll.  Each
 * readable connection is read into one shared buffer and written back at
 * once, so a small message costs one read and one write and nothing else;
 * what the kernel does not take waits in a per-connection buffer, reading
 * stops until it has gone (so a client that does not read costs at most one
 * read's worth), and EPOLLOUT is asked for only then.  `make bench` runs it
 * beside evecho-server; it is not installed.
 *
 * Usage: evecho-yardstick [-u] [HOST:]PORT   (default 127.0.0.1:0)
 * Once listening it prints "listening on HOST:PORT" ("listening on udp
 * HOST:PORT" with -u); SIGINT or SIGTERM ends it with status 0.
 *
 * -u: the UDP floor instead, one socket and level-triggered epoll: each
 * wakeup takes what is queued, YARDSTICK_BATCH datagrams a recvmmsg, and
 * answers each batch with one sendmmsg to the senders; what the send
 * buffer does not take is dropped, never queued.  No guard, no counters.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4, recvmmsg, sendmmsg */
#endif
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define YARDSTICK_BUF		(256 * 1024)	/* one read at most */
#define YARDSTICK_EVENTS	256		/* per epoll_wait */
#define YARDSTICK_BATCH		64		/* datagrams per recvmmsg */
#define YARDSTICK_DGRAM		65536		/* the largest, and then some */
#define YARDSTICK_BUDGET	16		/* batches per wakeup */

/* What the kernel did not take yet; NULL when everything was sent. */
struct pending {
	char	*data;
	size_t	 off, len;
};

static struct pending	 *pending;	/* indexed by descriptor */
static size_t		  npending;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "evecho-yardstick: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Parse [HOST:]PORT (IPv4 or [IPv6]) into ss; 0 on success. */
static int
parse_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[64] = "127.0.0.1", *end;
	const char		*colon = strrchr(arg, ':'), *port = arg;
	unsigned long		 p;

	if (colon != NULL) {
		size_t	n = (size_t)(colon - arg);

		if (n >= 2 && arg[0] == '[' && arg[n - 1] == ']') {
			arg++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof host)
			return (-1);
		memcpy(host, arg, n);
		host[n] = '\0';
		port = colon + 1;
	}
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno != 0 || p > 65535)
		return (-1);
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof *sin;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof *sin6;
	} else
		return (-1);
	return (0);
}

static void
conn_close(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if ((size_t)fd < npending) {
		free(pending[fd].data);
		memset(&pending[fd], 0, sizeof pending[fd]);
	}
}

/* Keep what a write left over, and wait to write instead of reading. */
static int
conn_keep(int ep, int fd, const char *data, size_t len)
{
	struct epoll_event	 ev = { .events = EPOLLOUT, .data.fd = fd };
	struct pending		*p;

	if ((size_t)fd >= npending) {
		size_t	n = (size_t)fd * 2 + 64;

		if ((p = realloc(pending, n * sizeof *p)) == NULL)
			return (-1);
		memset(p + npending, 0, (n - npending) * sizeof *p);
		pending = p;
		npending = n;
	}
	p = &pending[fd];
	if ((p->data = malloc(len)) == NULL)
		return (-1);
	memcpy(p->data, data, len);
	p->off = 0;
	p->len = len;
	return (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev));
}

/* Writable again: send what waits, then go back to reading. */
static int
conn_flush(int ep, int fd)
{
	struct epoll_event	 ev = { .events = EPOLLIN, .data.fd = fd };
	struct pending		*p = &pending[fd];
	ssize_t			 n;

	n = write(fd, p->data + p->off, p->len - p->off);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR ? 0 : -1);
	p->off += (size_t)n;
	if (p->off < p->len)
		return (0);
	free(p->data);
	memset(p, 0, sizeof *p);
	return (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev));
}

/* Readable: echo one read's worth; -1 to close. */
static int
conn_echo(int ep, int fd, char *buf)
{
	ssize_t	n, w;

	n = read(fd, buf, YARDSTICK_BUF);
	if (n <= 0)
		return (n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1);
	w = write(fd, buf, (size_t)n);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return (-1);
		w = 0;
	}
	if (w < n)
		return (conn_keep(ep, fd, buf + w, (size_t)(n - w)));
	return (0);
}

/* -u: echo datagrams on the bound socket fd until told to stop. */
static void
udp_serve(int fd)
{
	static struct mmsghdr		 msgs[YARDSTICK_BATCH];
	static struct iovec		 iov[YARDSTICK_BATCH];
	static struct sockaddr_storage	 from[YARDSTICK_BATCH];
	struct epoll_event		 ev = { .events = EPOLLIN };
	char				*bufs;
	int				 ep, i, n, sent, r, batches;

	if ((bufs = malloc((size_t)YARDSTICK_BATCH * YARDSTICK_DGRAM)) == NULL)
		die("malloc");
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl");
	while (!stop) {
		if (epoll_wait(ep, &ev, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (batches = 0;;) {
			for (i = 0; i < YARDSTICK_BATCH; i++) {
				iov[i].iov_base = bufs +
				    (size_t)i * YARDSTICK_DGRAM;
				iov[i].iov_len = YARDSTICK_DGRAM;
				memset(&msgs[i].msg_hdr, 0,
				    sizeof msgs[i].msg_hdr);
				msgs[i].msg_hdr.msg_name = &from[i];
				msgs[i].msg_hdr.msg_namelen = sizeof from[i];
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			n = recvmmsg(fd, msgs, YARDSTICK_BATCH, MSG_DONTWAIT,
			    NULL);
			if (n <= 0)
				break;	/* EAGAIN: all taken */
			for (i = 0; i < n; i++)
				iov[i].iov_len = msgs[i].msg_len;
			/* Past a full send buffer, the rest of the batch goes. */
			for (sent = 0; sent < n; sent += r) {
				r = sendmmsg(fd, msgs + sent,
				    (unsigned)(n - sent), MSG_DONTWAIT);
				if (r <= 0) {
					if (errno == EAGAIN || errno == ENOBUFS)
						break;
					r = 1;	/* refused: skip that one */
				}
			}
			/* A budget, so that SIGTERM is seen under a flood. */
			if (n < YARDSTICK_BATCH || ++batches == YARDSTICK_BUDGET)
				break;
		}
	}
	free(bufs);
	close(ep);
}

int
main(int argc, char **argv)
{
	struct epoll_event	 ev, evs[YARDSTICK_EVENTS];
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct sigaction	 sa;
	char			*buf, host[INET6_ADDRSTRLEN];
	int			 ep, lfd, fd, one = 1, i, n, udp = 0;

	if (argc >= 2 && strcmp(argv[1], "-u") == 0) {
		udp = 1;
		argc--;
		argv++;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: evecho-yardstick [-u] [HOST:]PORT\n");
		return (64);
	}
	if (parse_addr(argc == 2 ? argv[1] : "127.0.0.1:0", &ss, &len) != 0) {
		fprintf(stderr, "evecho-yardstick: bad address '%s'\n", argv[1]);
		return (64);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((buf = malloc(YARDSTICK_BUF)) == NULL)
		die("malloc");

	lfd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&ss, len) != 0)
		die("bind");
	if (!udp && listen(lfd, 4096) != 0)
		die("listen");
	len = sizeof ss;
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		printf("listening on %s%s:%u\n", udp ? "udp " : "", host,
		    ntohs(sin->sin_port));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		printf("listening on %s[%s]:%u\n", udp ? "udp " : "", host,
		    ntohs(sin6->sin6_port));
	}
	fflush(stdout);
	if (udp) {
		udp_serve(lfd);
		close(lfd);
		free(buf);
		return (0);
	}

	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		die("epoll_ctl");

	while (!stop) {
		if ((n = epoll_wait(ep, evs, YARDSTICK_EVENTS, -1)) < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				/* Take the whole backlog. */
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof one);
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd,
					    &ev) != 0)
						close(fd);
				}
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (conn_flush(ep, fd) != 0)
					conn_close(ep, fd);
			} else if (conn_echo(ep, fd, buf) != 0)
				conn_close(ep, fd);
		}
	}
	return (0);
}
