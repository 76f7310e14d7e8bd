/*
 * cidr.h: address blocks, "192.0.2.0/24", "2001:db8::/32", or a single
 * address (a /32 or /128), as --proxy-trusted takes them.  Pure.
 */
#ifndef EVECHO_CIDR_H
#define EVECHO_CIDR_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];	/* network order; 4 used for IPv4 */
	unsigned	prefix;		/* bits, 0 to 32 or 128 */
};

/*
 * Parse s; 0, or -1 with *cause allocated (parse.h's cause_set).  Host
 * bits set beyond the prefix are refused ("192.0.2.1/24": did you mean
 * 192.0.2.0/24?), as is anything but a numeric address.
 */
int	cidr_parse(const char *s, struct cidr *c, char **cause);
/*
 * Return 1 if sa lies in c.  An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * matches an IPv4 block, as a dual-stack socket reports IPv4 peers.
 */
int	cidr_match(const struct cidr *c, const struct sockaddr *sa);

#endif
