/*
 * corrupt-echo.c: an echo server that goes wrong on purpose, for testing
 * that evecho-benchmark notices.
 *
 *   corrupt-echo [-m flip|flipall|close|reset|mute|double] PORT N
 *
 * Listens on 127.0.0.1:PORT (0: the kernel chooses) and prints
 * "listening on 127.0.0.1:PORT".  Each connection echoes faithfully up to
 * its byte N; then, by -m: flip (the default) inverts byte N and goes on
 * echoing; flipall inverts every byte from N on; close closes the
 * connection (FIN); reset closes it with RST; mute reads on but echoes
 * nothing; double echoes everything from byte N on twice.
 * Blocking writes keep it short: the benchmark's clients always read.
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

#define CE_MAX_CONNS	256

enum ce_mode {
	CE_FLIP,
	CE_FLIPALL,
	CE_CLOSE,
	CE_RESET,
	CE_MUTE,
	CE_DOUBLE,
};

static const char *const ce_modes[] = {
	"flip", "flipall", "close", "reset", "mute", "double", NULL
};

struct ce_conn {
	uint64_t	offset;		/* bytes read so far */
};

/* Print how to use the program and exit 64. */
static void
ce_usage(void)
{
	fprintf(stderr, "usage: corrupt-echo "
	    "[-m flip|flipall|close|reset|mute|double] PORT N\n");
	exit(64);
}

/* Open the listening socket on 127.0.0.1:port; print the port chosen. */
static int
ce_listen(int port)
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
ce_write_all(int fd, const unsigned char *buf, size_t len)
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

/*
 * Echo what fd has for us, going wrong at byte n as mode says.  -1 when the
 * connection should close.
 */
static int
ce_serve(int fd, struct ce_conn *c, enum ce_mode mode, uint64_t n)
{
	struct linger	l = { 1, 0 };
	unsigned char	buf[16384];
	ssize_t		got;
	size_t		len, keep, i;

	got = recv(fd, buf, sizeof buf, 0);
	if (got <= 0)
		return (got == -1 && errno == EINTR ? 0 : -1);
	len = (size_t)got;
	/* Bytes of this read before byte n: all, some or none. */
	keep = c->offset >= n ? 0 : (size_t)(n - c->offset < len ?
	    n - c->offset : len);
	c->offset += (uint64_t)got;
	if (keep == len)
		return (ce_write_all(fd, buf, len));
	switch (mode) {
	case CE_FLIP:
		if (c->offset - len <= n)
			buf[keep] ^= 0xff;
		break;
	case CE_FLIPALL:
		for (i = keep; i < len; i++)
			buf[i] ^= 0xff;
		break;
	case CE_CLOSE:
	case CE_RESET:
		ce_write_all(fd, buf, keep);
		if (mode == CE_RESET)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		return (-1);
	case CE_MUTE:
		len = keep;
		break;
	case CE_DOUBLE:
		if (ce_write_all(fd, buf, len) != 0)
			return (-1);
		return (ce_write_all(fd, buf + keep, len - keep));
	}
	return (ce_write_all(fd, buf, len));
}

int
main(int argc, char **argv)
{
	struct pollfd	pfd[CE_MAX_CONNS + 1];
	struct ce_conn	conns[CE_MAX_CONNS + 1];
	enum ce_mode	mode = CE_FLIP;
	uint64_t	n;
	nfds_t		nfds = 1, i;
	int		ch, fd;

	while ((ch = getopt(argc, argv, "m:")) != -1) {
		if (ch != 'm')
			ce_usage();
		for (i = 0; ce_modes[i] != NULL; i++) {
			if (strcmp(optarg, ce_modes[i]) == 0)
				break;
		}
		if (ce_modes[i] == NULL)
			ce_usage();
		mode = (enum ce_mode)i;
	}
	if (argc - optind != 2)
		ce_usage();
	n = strtoull(argv[optind + 1], NULL, 10);
	if ((pfd[0].fd = ce_listen(atoi(argv[optind]))) == -1) {
		perror("corrupt-echo: listen");
		return (1);
	}
	pfd[0].events = POLLIN;
	for (;;) {
		if (poll(pfd, nfds, -1) == -1) {
			if (errno == EINTR)
				continue;
			perror("corrupt-echo: poll");
			return (1);
		}
		for (i = 1; i < nfds; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (ce_serve(pfd[i].fd, &conns[i], mode, n) == 0)
				continue;
			close(pfd[i].fd);
			pfd[i] = pfd[nfds - 1];
			conns[i] = conns[nfds - 1];
			nfds--;
			i--;
		}
		if ((pfd[0].revents & POLLIN) &&
		    (fd = accept(pfd[0].fd, NULL, NULL)) != -1) {
			if (nfds == CE_MAX_CONNS + 1) {
				close(fd);
				continue;
			}
			pfd[nfds].fd = fd;
			pfd[nfds].events = POLLIN;
			pfd[nfds].revents = 0;
			conns[nfds].offset = 0;
			nfds++;
		}
	}
}
