/*
 * bad-echo.c: an echo server that goes wrong on purpose, for the tests of
 * the client and the benchmark (one such server for both).
 *
 *   bad-echo [-m MODE] PORT N
 *
 * Listens on 127.0.0.1:PORT (0: the kernel chooses) and prints
 * "listening on 127.0.0.1:PORT".  Each connection echoes faithfully up to
 * its byte N; from there, by MODE:
 *   flip     (the default) inverts byte N and goes on echoing
 *   flipall  inverts every byte from N on
 *   close    closes the connection (FIN, or RST if unread data is left)
 *   reset    closes it with RST
 *   mute     reads on but echoes nothing, and keeps the connection open
 *            after the client's FIN: silent, not gone
 *   double   echoes everything from byte N on twice
 *   pieces   echoes each read from byte N on in two halves, 100 ms apart
 *   batch    holds everything from byte N on until the client's FIN, then
 *            echoes it (at most 1 MiB per connection)
 * Blocking writes keep it short: the clients under test always read.
 *
 *   bad-echo -u [-6] [-m MODE] PORT N
 *
 * UDP instead (RFC 862): listens on udp 127.0.0.1:PORT (with -6, [::1])
 * and prints "listening on udp 127.0.0.1:PORT".  Datagrams are counted
 * from 1 as they arrive, from every peer; each Nth, by MODE:
 *   echo       (the default) is echoed like the rest: a faithful server
 *   drop       is not echoed
 *   duplicate  is echoed twice
 *   flip       is echoed with its last byte inverted
 *   reorder    is held until the next datagram from the same peer, and
 *              echoed after it (or after 100 ms, if none comes); an Nth
 *              that comes while its peer has one held is echoed in order
 *   late       is echoed 500 ms after it came
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BE_MAX_CONNS	256
#define BE_BATCH_MAX	(1024 * 1024)

enum be_mode {
	BE_FLIP,
	BE_FLIPALL,
	BE_CLOSE,
	BE_RESET,
	BE_MUTE,
	BE_DOUBLE,
	BE_PIECES,
	BE_BATCH,
};

static const char *const be_modes[] = {
	"flip", "flipall", "close", "reset", "mute", "double", "pieces",
	"batch", NULL
};

enum be_result {
	BE_GO_ON,
	BE_CLOSE_NOW,
	BE_HOLD,	/* the client is done; keep the socket, never answer */
};

struct be_conn {
	uint64_t	 offset;	/* bytes read so far */
	unsigned char	*held;		/* batch: what waits for the FIN */
	size_t		 nheld;
};

/* Print how to use the program and exit 64. */
static void
be_usage(void)
{
	fprintf(stderr, "usage: bad-echo [-m flip|flipall|close|reset|mute|"
	    "double|pieces|batch] PORT N\n"
	    "       bad-echo -u [-6] [-m echo|drop|duplicate|flip|reorder|"
	    "late] PORT N\n");
	exit(64);
}

enum be_udp_mode {
	BU_ECHO,
	BU_DROP,
	BU_DUPLICATE,
	BU_FLIP,
	BU_REORDER,
	BU_LATE,
};

static const char *const be_udp_modes[] = {
	"echo", "drop", "duplicate", "flip", "reorder", "late", NULL
};

#define BU_HELD_MAX	256
#define BU_REORDER_MS	100
#define BU_LATE_MS	500

/* A datagram held back, to be echoed to peer at release. */
struct be_held {
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	unsigned char		*data;
	size_t			 len;
	int64_t			 release_ms;
};

/* Monotonic milliseconds. */
static int64_t
be_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Open the UDP socket on loopback (v6: ::1); print the port chosen. */
static int
be_udp_listen(int port, int v6)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd, size = 4 * 1024 * 1024;

	memset(&ss, 0, sizeof ss);
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof *sin6;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *sin;
	}
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1)
		return (-1);
	/* Room for bursts, so loopback itself drops nothing. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return (-1);
	if (v6)
		printf("listening on udp [::1]:%u\n", ntohs(sin6->sin6_port));
	else
		printf("listening on udp 127.0.0.1:%u\n", ntohs(sin->sin_port));
	fflush(stdout);
	return (fd);
}

/* Echo what the held datagram h holds, and forget it. */
static void
be_udp_release(int fd, struct be_held *h)
{
	sendto(fd, h->data, h->len, 0, (struct sockaddr *)&h->peer,
	    h->peerlen);
	free(h->data);
	h->data = NULL;
}

/* Hold buf for peer until release_ms; 0, or -1 when the table is full. */
static int
be_udp_hold(struct be_held *held, const unsigned char *buf, size_t len,
    const struct sockaddr_storage *peer, socklen_t peerlen, int64_t release)
{
	int	i;

	for (i = 0; i < BU_HELD_MAX; i++) {
		if (held[i].data != NULL)
			continue;
		if ((held[i].data = malloc(len > 0 ? len : 1)) == NULL)
			return (-1);
		memcpy(held[i].data, buf, len);
		held[i].len = len;
		held[i].peer = *peer;
		held[i].peerlen = peerlen;
		held[i].release_ms = release;
		return (0);
	}
	return (-1);
}

/* The UDP server: echo, going wrong on every nth datagram as mode says. */
static int
be_udp(enum be_udp_mode mode, int port, uint64_t n, int v6)
{
	static unsigned char	 buf[65536];
	static struct be_held	 held[BU_HELD_MAX];
	struct sockaddr_storage	 peer;
	struct pollfd		 pfd;
	socklen_t		 peerlen;
	uint64_t		 count = 0;
	int64_t			 now, next;
	ssize_t			 got;
	size_t			 len;
	int			 fd, i, nth, mine;

	if ((fd = be_udp_listen(port, v6)) == -1) {
		perror("bad-echo: udp");
		return (1);
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		now = be_now_ms();
		next = -1;
		for (i = 0; i < BU_HELD_MAX; i++) {
			if (held[i].data == NULL)
				continue;
			if (held[i].release_ms <= now)
				be_udp_release(fd, &held[i]);
			else if (next == -1 || held[i].release_ms < next)
				next = held[i].release_ms;
		}
		if (poll(&pfd, 1, next == -1 ? -1 : (int)(next - now)) <= 0)
			continue;
		peerlen = sizeof peer;
		got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer,
		    &peerlen);
		if (got < 0)
			continue;
		len = (size_t)got;
		nth = n > 0 && ++count % n == 0;
		/* Reorder: the one this peer has held goes after this one. */
		mine = -1;
		for (i = 0; mode == BU_REORDER && i < BU_HELD_MAX; i++) {
			if (held[i].data != NULL && held[i].peerlen == peerlen &&
			    memcmp(&held[i].peer, &peer, peerlen) == 0)
				mine = i;
		}
		if (nth && mode == BU_DROP)
			continue;
		if (nth && mode == BU_FLIP && len > 0)
			buf[len - 1] ^= 0xff;
		if (nth && ((mode == BU_REORDER && mine == -1) ||
		    mode == BU_LATE) && be_udp_hold(held, buf, len, &peer,
		    peerlen, be_now_ms() + (mode == BU_LATE ? BU_LATE_MS :
		    BU_REORDER_MS)) == 0)
			continue;
		sendto(fd, buf, len, 0, (struct sockaddr *)&peer, peerlen);
		if (nth && mode == BU_DUPLICATE)
			sendto(fd, buf, len, 0, (struct sockaddr *)&peer,
			    peerlen);
		if (mine != -1)
			be_udp_release(fd, &held[mine]);
	}
}

/* Open the listening socket on 127.0.0.1:port; print the port chosen. */
static int
be_listen(int port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return (-1);
	printf("listening on 127.0.0.1:%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	return (fd);
}

/* Write all of buf, blocking; -1 on error. */
static int
be_write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Keep buf for the batch's FIN; -1 past the bound. */
static int
be_hold(struct be_conn *c, const unsigned char *buf, size_t len)
{
	if (c->held == NULL && (c->held = malloc(BE_BATCH_MAX)) == NULL)
		return (-1);
	if (len > BE_BATCH_MAX - c->nheld)
		return (-1);
	memcpy(c->held + c->nheld, buf, len);
	c->nheld += len;
	return (0);
}

/* The client sent its FIN: what each mode does then. */
static enum be_result
be_client_done(int fd, struct be_conn *c, enum be_mode mode)
{
	if (mode == BE_MUTE)
		return (BE_HOLD);
	if (mode == BE_BATCH)
		be_write_all(fd, c->held, c->nheld);
	return (BE_CLOSE_NOW);
}

/*
 * The bytes of one read from byte keep on, where the mode goes wrong.
 * Bytes before keep are already echoed.
 */
static enum be_result
be_misbehave(int fd, struct be_conn *c, enum be_mode mode,
    unsigned char *buf, size_t keep, size_t len, int first)
{
	struct linger	l = { 1, 0 };
	size_t		i, half;

	switch (mode) {
	case BE_FLIP:
		if (first)
			buf[keep] ^= 0xff;
		break;
	case BE_FLIPALL:
		for (i = keep; i < len; i++)
			buf[i] ^= 0xff;
		break;
	case BE_RESET:
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		/* FALLTHROUGH */
	case BE_CLOSE:
		return (BE_CLOSE_NOW);
	case BE_MUTE:
		return (BE_GO_ON);
	case BE_DOUBLE:
		if (be_write_all(fd, buf + keep, len - keep) != 0)
			return (BE_CLOSE_NOW);
		break;
	case BE_PIECES:
		half = (len - keep) / 2;
		if (be_write_all(fd, buf + keep, half) != 0)
			return (BE_CLOSE_NOW);
		usleep(100000);
		keep += half;
		break;
	case BE_BATCH:
		return (be_hold(c, buf + keep, len - keep) == 0 ? BE_GO_ON :
		    BE_CLOSE_NOW);
	}
	return (be_write_all(fd, buf + keep, len - keep) == 0 ? BE_GO_ON :
	    BE_CLOSE_NOW);
}

/* Echo what fd has for us, going wrong at byte n as mode says. */
static enum be_result
be_serve(int fd, struct be_conn *c, enum be_mode mode, uint64_t n)
{
	unsigned char	buf[16384];
	ssize_t		got;
	size_t		len, keep;
	int		first;

	got = recv(fd, buf, sizeof buf, 0);
	if (got == -1 && errno == EINTR)
		return (BE_GO_ON);
	if (got == 0)
		return (be_client_done(fd, c, mode));
	if (got < 0)
		return (BE_CLOSE_NOW);
	len = (size_t)got;
	/* Bytes of this read before byte n: all, some or none. */
	keep = c->offset >= n ? 0 : (size_t)(n - c->offset < len ?
	    n - c->offset : len);
	first = c->offset <= n;
	c->offset += (uint64_t)got;
	if (keep == len)
		return (be_write_all(fd, buf, len) == 0 ? BE_GO_ON :
		    BE_CLOSE_NOW);
	if (keep > 0 && be_write_all(fd, buf, keep) != 0)
		return (BE_CLOSE_NOW);
	return (be_misbehave(fd, c, mode, buf, keep, len, first));
}

int
main(int argc, char **argv)
{
	struct pollfd	pfd[BE_MAX_CONNS + 1];
	struct be_conn	conns[BE_MAX_CONNS + 1];
	enum be_mode	mode = BE_FLIP;
	enum be_result	r;
	uint64_t	n;
	nfds_t		nfds = 1, i;
	const char	*m = NULL;
	int		ch, fd, udp = 0, v6 = 0;

	while ((ch = getopt(argc, argv, "6m:u")) != -1) {
		if (ch == 'u')
			udp = 1;
		else if (ch == '6')
			v6 = 1;
		else if (ch == 'm')
			m = optarg;
		else
			be_usage();
	}
	if (argc - optind != 2 || (v6 && !udp))
		be_usage();
	n = strtoull(argv[optind + 1], NULL, 10);
	if (udp) {
		for (i = 0; m != NULL && be_udp_modes[i] != NULL; i++) {
			if (strcmp(m, be_udp_modes[i]) == 0)
				break;
		}
		if (m != NULL && be_udp_modes[i] == NULL)
			be_usage();
		return (be_udp(m != NULL ? (enum be_udp_mode)i : BU_ECHO,
		    atoi(argv[optind]), n, v6));
	}
	for (i = 0; m != NULL && be_modes[i] != NULL; i++) {
		if (strcmp(m, be_modes[i]) == 0)
			break;
	}
	if (m != NULL && be_modes[i] == NULL)
		be_usage();
	if (m != NULL)
		mode = (enum be_mode)i;
	if ((pfd[0].fd = be_listen(atoi(argv[optind]))) == -1) {
		perror("bad-echo: listen");
		return (1);
	}
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, nfds, -1) == -1) {
			if (errno == EINTR)
				continue;
			perror("bad-echo: poll");
			return (1);
		}
		for (i = 1; i < nfds; i++) {
			if (pfd[i].revents == 0)
				continue;
			r = be_serve(pfd[i].fd, &conns[i], mode, n);
			if (r == BE_GO_ON)
				continue;
			/* A held socket leaks on purpose, until we exit. */
			if (r == BE_CLOSE_NOW)
				close(pfd[i].fd);
			free(conns[i].held);
			pfd[i] = pfd[nfds - 1];
			conns[i] = conns[nfds - 1];
			nfds--;
			i--;
		}
		if ((pfd[0].revents & POLLIN) &&
		    (fd = accept(pfd[0].fd, NULL, NULL)) != -1) {
			if (nfds == BE_MAX_CONNS + 1) {
				close(fd);
				continue;
			}
			pfd[nfds].fd = fd;
			pfd[nfds].events = POLLIN;
			pfd[nfds].revents = 0;
			memset(&conns[nfds], 0, sizeof conns[nfds]);
			nfds++;
		}
	}
}
