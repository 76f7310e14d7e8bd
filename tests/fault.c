/* fault.c: descriptor counts, sourced connects and counters for fault tests. */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "harness.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

/* Count the entries of /proc/PID/fd. */
int
fault_fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return (n);
}

/* Poll the count every 20 ms until it is down to want, or time runs out. */
int
fault_fd_settle(pid_t pid, int want, int timeout_ms)
{
	int64_t	deadline = harness_now_ms() + timeout_ms;
	int	n;

	for (;;) {
		n = fault_fd_count(pid);
		if (n <= want || harness_now_ms() >= deadline)
			return (n);
		usleep(20000);
	}
}

/* Bind to src (the kernel picks the port at connect) and connect. */
int
fault_connect_from(const char *src, int port, int timeout_ms)
{
	struct sockaddr_in	sin;
	struct pollfd		pfd;
	int			fd, one = 1, err = 0;
	socklen_t		elen = sizeof err;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return (-1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	if (src != NULL) {
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof one);
		if (inet_pton(AF_INET, src, &sin.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
			goto fail;
	}
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
		return (fd);
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, timeout_ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)
		goto fail;
	return (fd);
fail:
	err = errno;
	close(fd);
	errno = err;
	return (-1);
}

/* SO_LINGER with a zero timeout makes close() send RST. */
void
fault_reset(int fd)
{
	struct linger	l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

/* Connect, echo 1 MiB of seeded bytes both ways at once, expect EOF. */
int
fault_echo_ok(int port, uint64_t seed)
{
	size_t	 len = 1 << 20;
	char	*buf = malloc(len);
	int	 fd, rc = -1;

	if (buf == NULL)
		return (-1);
	harness_fill_random(buf, len, seed);
	if ((fd = harness_connect("127.0.0.1", port, 10000)) >= 0) {
		rc = harness_echo_check(fd, buf, len, 1, 20000);
		close(fd);
	}
	free(buf);
	return (rc);
}

/* Find "label: " on its last line, then the number in front of " name". */
long long
fault_counter(const char *text, const char *label, const char *name)
{
	char		 key[64], pat[64];
	const char	*line = NULL, *p, *end, *q;

	snprintf(key, sizeof key, "%s: ", label);
	for (p = text; (p = strstr(p, key)) != NULL; p++)
		line = p;
	if (line == NULL)
		return (-1);
	if ((end = strchr(line, '\n')) == NULL)
		end = line + strlen(line);
	snprintf(pat, sizeof pat, " %s", name);
	for (p = line; (q = strstr(p, pat)) != NULL && q < end; p = q + 1) {
		/* Walk back over the digits before " name". */
		const char *d = q;

		while (d > line && d[-1] >= '0' && d[-1] <= '9')
			d--;
		if (d < q)
			return (strtoll(d, NULL, 10));
	}
	return (-1);
}
