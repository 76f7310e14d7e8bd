/* addr.h: the address syntax shared by every evecho program. */
#ifndef EVECHO_ADDR_H
#define EVECHO_ADDR_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>

#define ADDR_DEFAULT_HOST	"localhost"
#define ADDR_DEFAULT_PORT	"65432"

/* Room for "[ipv6%scope]:65535" and a NUL. */
#define ADDR_STRLEN		80

int	 addr_parse(const char *spec, const char *default_host,
	     const char *default_port, char **host, char **port, char **cause);
int	 addr_resolve(const char *host, const char *port, int family,
	     int passive, struct addrinfo **res, char **cause);
int	 addr_lookup(const char *spec, int family, int passive,
	     struct addrinfo **res, char **cause);
char	*addr_format(const struct sockaddr *sa, char *buf, size_t size);
int	 addr_literal_family(const char *host);
int	 addr_local_port(int fd);

#endif
