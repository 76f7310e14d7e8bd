/*
 * cidr.c: address blocks ("192.0.2.0/24", "2001:db8::/32", "::1").
 *
 * Matching works on IPv6 addresses only, an IPv4 block or peer taken in
 * its IPv4-mapped form (::ffff:192.0.2.0/120), so that a peer is judged
 * the same whether its socket reports it as IPv4 or as mapped IPv6.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>

#include "cidr.h"
#include "parse.h"

/* Clear the bits of the len bytes at addr past the first prefix. */
static void
cidr_mask(uint8_t *addr, size_t len, unsigned prefix)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff << (8 - prefix));
		prefix = 0;
	}
}

/* Store the IPv4 address at in as ::ffff:a.b.c.d in out. */
static void
cidr_map(const uint8_t *in, uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, in, 4);
}

/* Parse "ADDRESS" or "ADDRESS/PREFIX", as cidr.h says. */
int
cidr_parse(const char *s, struct cidr *c, char **cause)
{
	struct cidr	 n;
	uint8_t		 net[16];
	char		 host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN];
	const char	*slash, *p;
	size_t		 hlen, alen;
	uint64_t	 prefix;
	unsigned	 bits;

	if (s == NULL || *s == '\0') {
		cause_set(cause, "empty address block");
		return (-1);
	}
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (memchr(s, '%', hlen) != NULL) {
		/* A zone names an interface of this host: no block has one. */
		cause_set(cause, "bad address block '%s': no zone (%%...) "
		    "allowed", s);
		return (-1);
	}
	memset(&n, 0, sizeof n);
	if (hlen < sizeof host) {
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	if (hlen < sizeof host && inet_pton(AF_INET, host, n.addr) == 1) {
		n.family = AF_INET;
		alen = 4;
	} else if (hlen < sizeof host &&
	    inet_pton(AF_INET6, host, n.addr) == 1) {
		n.family = AF_INET6;
		alen = 16;
	} else {
		cause_set(cause, "bad address block '%s': not a numeric IPv4 "
		    "or IPv6 address", s);
		return (-1);
	}
	bits = (unsigned)alen * 8;
	n.prefix = bits;

	if (slash != NULL) {
		/* Decimal digits only; parse_uint refuses signs, spaces. */
		p = slash + 1;
		if ((p[0] == '0' && p[1] != '\0') ||
		    parse_uint(p, 0, bits, &prefix, NULL) != 0) {
			cause_set(cause, "bad prefix length in '%s' (0 to %u)",
			    s, bits);
			return (-1);
		}
		n.prefix = (unsigned)prefix;
	}

	memcpy(net, n.addr, alen);
	cidr_mask(net, alen, n.prefix);
	if (memcmp(net, n.addr, alen) != 0) {
		if (inet_ntop(n.family, net, text, sizeof text) == NULL)
			text[0] = '\0';
		cause_set(cause, "bad address block '%s': host bits set "
		    "(did you mean %s/%u?)", s, text, n.prefix);
		return (-1);
	}
	*c = n;
	return (0);
}

/* Return 1 if sa lies in c, IPv4 and IPv4-mapped IPv6 alike. */
int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	uint8_t		have[16], want[16];
	unsigned	prefix;

	if (sa == NULL)
		return (0);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		cidr_map((const uint8_t *)&sin->sin_addr, have);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(have, &sin6->sin6_addr, sizeof have);
	} else
		return (0);

	if (c->family == AF_INET && c->prefix <= 32) {
		cidr_map(c->addr, want);
		prefix = 96 + c->prefix;
	} else if (c->family == AF_INET6 && c->prefix <= 128) {
		memcpy(want, c->addr, sizeof want);
		prefix = c->prefix;
	} else
		return (0);
	cidr_mask(have, sizeof have, prefix);
	cidr_mask(want, sizeof want, prefix);
	return (memcmp(have, want, sizeof have) == 0);
}
