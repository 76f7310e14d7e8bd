/* sock.c: non-blocking TCP connects and connected UDP sockets. */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "parse.h"
#include "sock.h"

/*
 * Bytes a socket's queue holds, by ioctl request: SIOCOUTQ (sent, not
 * acknowledged), SIOCOUTQNSD (not sent), FIONREAD (not read); 0 on error.
 */
size_t
sock_queued(int fd, unsigned long request)
{
	int	n = 0;

	if (ioctl(fd, request, &n) != 0 || n < 0)
		return (0);
	return ((size_t)n);
}

/*
 * A TCP socket's tcp_info into ti, size bytes of it: 0, or -1 (zeroed).
 * The caller's size, because glibc's struct tcp_info is shorter than
 * <linux/tcp.h>'s, which has tcpi_bytes_acked.
 */
int
sock_tcp_info(int fd, void *ti, size_t size)
{
	socklen_t	len = (socklen_t)size;

	memset(ti, 0, size);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) != 0) {
		memset(ti, 0, size);
		return (-1);
	}
	return (0);
}

/* Turn off Nagle: echo traffic is small messages that want no delay. */
int
sock_set_nodelay(int fd)
{
	int	one = 1;

	return (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
}

/*
 * Open a non-blocking socket, bind it to src if given (for spreading
 * connections over source addresses), and start connecting to dst.  Returns
 * the socket, whose connect may still be in progress (poll for writability,
 * then sock_connect_result), or -1 with *cause.
 */
int
sock_connect_start(const struct sockaddr *dst, socklen_t dstlen,
    const struct sockaddr *src, socklen_t srclen, char **cause)
{
	char	name[ADDR_STRLEN];
	int	fd, saved, one = 1;

	fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	sock_set_nodelay(fd);
	/*
	 * Let connect() pick the source port: a port chosen at bind() time
	 * must be unique on its own, which wastes the port range and runs
	 * dry against TIME_WAIT; at connect() only the 4-tuple must be.
	 */
	if (src != NULL)
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof one);
	if (src != NULL && bind(fd, src, srclen) != 0) {
		saved = errno;
		close(fd);
		cause_set(cause, "cannot bind to %s: %s",
		    addr_format(src, name, sizeof name), strerror(saved));
		return (-1);
	}
	if (connect(fd, dst, dstlen) != 0 && errno != EINPROGRESS) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	return (fd);

fail:
	cause_set(cause, "cannot connect to %s: %s",
	    addr_format(dst, name, sizeof name), strerror(errno));
	return (-1);
}

/*
 * A non-blocking UDP socket connected to dst, bound to src first if given:
 * only dst's datagrams reach it, and an ICMP port unreachable comes back
 * as ECONNREFUSED.  The fd, or -1 with *cause.
 */
int
sock_udp_connect(const struct sockaddr *dst, socklen_t dstlen,
    const struct sockaddr *src, socklen_t srclen, char **cause)
{
	char	name[ADDR_STRLEN];
	int	fd, saved;

	fd = socket(dst->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		cause_set(cause, "socket: %s", strerror(errno));
		return (-1);
	}
	if (src != NULL && bind(fd, src, srclen) != 0) {
		saved = errno;
		close(fd);
		cause_set(cause, "cannot bind to %s: %s",
		    addr_format(src, name, sizeof name), strerror(saved));
		errno = saved;
		return (-1);
	}
	if (connect(fd, dst, dstlen) != 0) {
		saved = errno;
		close(fd);
		cause_set(cause, "cannot connect to udp %s: %s",
		    addr_format(dst, name, sizeof name), strerror(saved));
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* The largest datagram a UDP socket of family can send. */
size_t
sock_udp_max(int family)
{
	return (family == AF_INET6 ? SOCK_UDP_MAX_V6 : SOCK_UDP_MAX_V4);
}

/* After a connect completes: 0, or -1 with errno set to why it failed. */
/* Wait until a connect started by sock_connect_start ends: 0 or an errno. */
static int
sock_connect_wait(int fd, int64_t timeout_us)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLOUT };
	int		n;

	do {
		n = poll(&pfd, 1, timeout_us > 0 ? (int)(timeout_us / 1000) : -1);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (errno);
	if (n == 0)
		return (ETIMEDOUT);
	return (sock_connect_result(fd) == 0 ? 0 : errno);
}

/*
 * Connect to the first address of res that accepts, waiting at most
 * timeout_us for each (0: as long as the kernel tries), from src when
 * given, skipping addresses not of family unless it is AF_UNSPEC.  A name
 * with several addresses (localhost may be ::1 and 127.0.0.1) so reaches
 * the one a server listens on.  Each failed address is passed to failed as
 * one line; returns the connected non-blocking socket and its address in
 * *chosen, or -1.
 */
int
sock_connect_first(const struct addrinfo *res, int family,
    const struct sockaddr *src, socklen_t srclen, int64_t timeout_us,
    void (*failed)(const char *cause, void *arg), void *arg,
    const struct addrinfo **chosen)
{
	const struct addrinfo	*ai;
	char			 name[ADDR_STRLEN], *cause = NULL;
	int			 fd, error;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (family != AF_UNSPEC && ai->ai_family != family)
			continue;
		fd = sock_connect_start(ai->ai_addr, ai->ai_addrlen, src, srclen,
		    &cause);
		if (fd != -1 && (error = sock_connect_wait(fd, timeout_us)) == 0) {
			*chosen = ai;
			return (fd);
		}
		if (fd != -1) {
			close(fd);
			addr_format(ai->ai_addr, name, sizeof name);
			if (error == ETIMEDOUT)
				cause_set(&cause, "cannot connect to %s: timed "
				    "out after %.3g s", name,
				    (double)timeout_us / 1e6);
			else
				cause_set(&cause, "cannot connect to %s: %s",
				    name, strerror(error));
		}
		if (failed != NULL)
			failed(cause, arg);
		free(cause);
		cause = NULL;
	}
	return (-1);
}

int
sock_connect_result(int fd)
{
	int		err = 0;
	socklen_t	len = sizeof err;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return (-1);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/*
 * Raise the open-file limit to its hard maximum and return it: every
 * connection is a descriptor, and the soft default (often 1024) is far
 * below what an echo server or a load generator wants.
 */
uint64_t
sock_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return (1024);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (rl.rlim_cur == RLIM_INFINITY ? 1048576 : (uint64_t)rl.rlim_cur);
}

/* Count this process's open descriptors (/proc/self/fd), or -1. */
int
sock_count_open(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return (n - 1);	/* the directory's own descriptor */
}
