/* sock.c: non-blocking TCP connects, for the client and the benchmark. */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "parse.h"
#include "sock.h"

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

/* After a connect completes: 0, or -1 with errno set to why it failed. */
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
