/* sock.h: small socket and descriptor helpers shared by the programs. */
#ifndef EVECHO_SOCK_H
#define EVECHO_SOCK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* The largest UDP payload: 65535 less IPv4's and UDP's headers, or UDP's. */
#define SOCK_UDP_MAX_V4		65507
#define SOCK_UDP_MAX_V6		65527

int	sock_connect_start(const struct sockaddr *dst, socklen_t dstlen,
	    const struct sockaddr *src, socklen_t srclen, char **cause);
int	sock_connect_result(int fd);
struct addrinfo;
int	sock_connect_first(const struct addrinfo *res, int family,
	    const struct sockaddr *src, socklen_t srclen, int64_t timeout_us,
	    void (*failed)(const char *cause, void *arg), void *arg,
	    const struct addrinfo **chosen);
int	sock_udp_connect(const struct sockaddr *dst, socklen_t dstlen,
	    const struct sockaddr *src, socklen_t srclen, char **cause);
size_t	sock_udp_max(int family);
int	sock_set_nodelay(int fd);
size_t	sock_queued(int fd, unsigned long request);
int	sock_tcp_info(int fd, void *ti, size_t size);
uint64_t sock_raise_nofile(void);
int	sock_count_open(void);

#endif
