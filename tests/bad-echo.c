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
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
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
	    "double|pieces|batch] PORT N\n");
	exit(64);
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
	int		ch, fd;

	while ((ch = getopt(argc, argv, "m:")) != -1) {
		if (ch != 'm')
			be_usage();
		for (i = 0; be_modes[i] != NULL; i++) {
			if (strcmp(optarg, be_modes[i]) == 0)
				break;
		}
		if (be_modes[i] == NULL)
			be_usage();
		mode = (enum be_mode)i;
	}
	if (argc - optind != 2)
		be_usage();
	n = strtoull(argv[optind + 1], NULL, 10);
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
