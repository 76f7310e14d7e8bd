/*
 * proxy.c: the PROXY protocol header (HAProxy's doc/proxy-protocol.txt),
 * versions 1 and 2, read strictly from the first bytes of a connection.
 *
 * Where the spec leaves a receiver room, this one refuses:
 * - v1 numbers with leading zeros (the spec forbids them, lest they read as
 *   octal), fields not separated by exactly one space, a CR or LF that is
 *   not part of the CRLF ending the line, and UNKNOWN not followed by a
 *   space or the CRLF;
 * - v2 family bytes other than the seven the spec lists (it says receivers
 *   must reject other values), and an address block shorter than its
 *   family's, whether or not the addresses are used.
 * A parse is decided as soon as the bytes seen allow: a header refused
 * with a few bytes stays refused however many follow.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>

#include "proxy.h"

#define PROXY_V2_FIXED	16	/* signature, version, family, length */
#define PROXY_V2_LOCAL	0x0
#define PROXY_V2_PROXY	0x1

static const unsigned char proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* How every valid v1 line begins; the short UNKNOWN form is all of one. */
static const char *const proxy_v1_starts[] = {
	"PROXY TCP4 ", "PROXY TCP6 ", "PROXY UNKNOWN ", "PROXY UNKNOWN\r\n"
};

/*
 * The v2 family and protocol bytes the spec lists.  Only TCP over IPv4
 * and IPv6 name this connection's client.  UDP is not refused although
 * it cannot describe a TCP connection: the spec has a receiver fall back
 * to the real addresses (local) for any listed combination it does not
 * support, and refusing would drop a header it calls valid; its
 * addresses are not used.  After UNSPEC the spec lets a sender put
 * address information of its own, and LOCAL ignores the family byte, so
 * where TLVs would begin is unknown and the rest is skipped unread; after
 * the others' address blocks it must be whole TLVs, whose contents are
 * not looked at.
 */
static const struct proxy_v2_family {
	unsigned char	fam;
	size_t		addrlen;	/* the address block's size */
	int		family;		/* AF_INET, AF_INET6 if used, or 0 */
	int		tlvs;		/* 1 if TLVs start after the block */
} proxy_v2_families[] = {
	{ 0x00, 0, 0, 0 },		/* UNSPEC */
	{ 0x11, 12, AF_INET, 1 },	/* TCP over IPv4 */
	{ 0x12, 12, 0, 1 },		/* UDP over IPv4 */
	{ 0x21, 36, AF_INET6, 1 },	/* TCP over IPv6 */
	{ 0x22, 36, 0, 1 },		/* UDP over IPv6 */
	{ 0x31, 216, 0, 1 },		/* UNIX stream */
	{ 0x32, 216, 0, 1 },		/* UNIX datagram */
};

/* Say why the header is refused. */
static enum proxy_status
proxy_bad(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return (PROXY_BAD);
}

/* Return 1 if the len bytes at buf agree with s as far as both go. */
static int
proxy_prefix(const unsigned char *buf, size_t len, const void *s,
    size_t slen)
{
	return (memcmp(buf, s, len < slen ? len : slen) == 0);
}

/* Fill in an IPv4 address; addr and port are in network order already. */
static void
proxy_set_inet(struct sockaddr_storage *ss, socklen_t *sslen,
    const void *addr, const void *port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, addr, sizeof sin->sin_addr);
	memcpy(&sin->sin_port, port, sizeof sin->sin_port);
	*sslen = sizeof *sin;
}

/* Fill in an IPv6 address; addr and port are in network order already. */
static void
proxy_set_inet6(struct sockaddr_storage *ss, socklen_t *sslen,
    const void *addr, const void *port)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, addr, sizeof sin6->sin6_addr);
	memcpy(&sin6->sin6_port, port, sizeof sin6->sin6_port);
	*sslen = sizeof *sin6;
}

/*
 * Read n bytes as a dotted quad: four decimal numbers, 0 to 255, without
 * leading zeros.  Not inet_pton, as libcs differ on leading zeros.
 */
static int
proxy_v1_inet(const unsigned char *p, size_t n, uint8_t out[4])
{
	size_t		i = 0, part, digits;
	unsigned	v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i == n || p[i] != '.')
				return (-1);
			i++;
		}
		v = 0;
		for (digits = 0; i < n && p[i] >= '0' && p[i] <= '9';
		    digits++, i++) {
			if (digits == 3)
				return (-1);
			v = v * 10 + (unsigned)(p[i] - '0');
		}
		if (digits == 0 || v > 255 ||
		    (digits > 1 && p[i - digits] == '0'))
			return (-1);
		out[part] = (uint8_t)v;
	}
	return (i == n ? 0 : -1);
}

/*
 * Read n bytes as an IPv6 address: inet_pton takes what inet_ntop writes
 * ("2001:db8::1", "::ffff:192.0.2.1") and refuses an IPv4 address, a
 * zone or a name.  A NUL would end its string early, so none may pass.
 */
static int
proxy_v1_inet6(const unsigned char *p, size_t n, uint8_t out[16])
{
	char	s[INET6_ADDRSTRLEN];

	if (n >= sizeof s || memchr(p, '\0', n) != NULL)
		return (-1);
	memcpy(s, p, n);
	s[n] = '\0';
	return (inet_pton(AF_INET6, s, out) == 1 ? 0 : -1);
}

/* Read n bytes as a port, 0 to 65535 without leading zeros. */
static int
proxy_v1_port(const unsigned char *p, size_t n, uint16_t *port)
{
	uint32_t	v = 0;
	size_t		i;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return (-1);
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v > 65535)
		return (-1);
	*port = htons((uint16_t)v);
	return (0);
}

/*
 * Parse a whole v1 line, len bytes with its CRLF, known to begin as one
 * of proxy_v1_starts.
 */
static enum proxy_status
proxy_v1_line(const unsigned char *buf, size_t len, struct proxy_result *r,
    const char **why)
{
	const unsigned char	*p, *end = buf + len - 2, *f[4];
	size_t			 flen[4];
	uint8_t			 src[16], dst[16];
	uint16_t		 sport, dport;
	int			 i, v6;

	if (buf[6] == 'U') {
		/* UNKNOWN: the rest of the line is to be ignored. */
		r->local = 1;
		r->consumed = len;
		return (PROXY_OK);
	}
	v6 = buf[9] == '6';
	p = buf + strlen(proxy_v1_starts[0]);
	for (i = 0; i < 4; i++) {
		f[i] = p;
		while (p < end && *p != ' ')
			p++;
		flen[i] = (size_t)(p - f[i]);
		if (flen[i] == 0)
			return (proxy_bad(why, "v1: empty field"));
		if (i < 3) {
			if (p == end)
				return (proxy_bad(why, "v1: missing field"));
			p++;
		}
	}
	if (p != end)
		return (proxy_bad(why, "v1: extra field"));

	if ((v6 ? proxy_v1_inet6(f[0], flen[0], src) :
	    proxy_v1_inet(f[0], flen[0], src)) != 0)
		return (proxy_bad(why, "v1: bad source address"));
	if ((v6 ? proxy_v1_inet6(f[1], flen[1], dst) :
	    proxy_v1_inet(f[1], flen[1], dst)) != 0)
		return (proxy_bad(why, "v1: bad destination address"));
	if (proxy_v1_port(f[2], flen[2], &sport) != 0)
		return (proxy_bad(why, "v1: bad source port"));
	if (proxy_v1_port(f[3], flen[3], &dport) != 0)
		return (proxy_bad(why, "v1: bad destination port"));

	if (v6) {
		proxy_set_inet6(&r->src, &r->srclen, src, &sport);
		proxy_set_inet6(&r->dst, &r->dstlen, dst, &dport);
	} else {
		proxy_set_inet(&r->src, &r->srclen, src, &sport);
		proxy_set_inet(&r->dst, &r->dstlen, dst, &dport);
	}
	r->consumed = len;
	return (PROXY_OK);
}

/*
 * Version 1, a line: find its CRLF within PROXY_V1_MAX bytes, refusing a
 * lone CR or LF on the way, then parse it.
 */
static enum proxy_status
proxy_v1(const unsigned char *buf, size_t len, struct proxy_result *r,
    const char **why)
{
	size_t	n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX, i, line = 0;

	for (i = 0; i < n && line == 0; i++) {
		if (buf[i] == '\n')
			return (proxy_bad(why, "v1: LF without CR"));
		if (buf[i] != '\r' || i + 1 == len)
			continue;
		if (buf[i + 1] != '\n')
			return (proxy_bad(why, "v1: CR without LF"));
		if (i + 2 > PROXY_V1_MAX)
			return (proxy_bad(why, "v1: line too long"));
		line = i + 2;
	}

	/* The line so far, or all of it, must begin as a valid one does. */
	n = line != 0 ? line : len;
	for (i = 0; i < sizeof proxy_v1_starts / sizeof proxy_v1_starts[0];
	    i++) {
		if (proxy_prefix(buf, n, proxy_v1_starts[i],
		    strlen(proxy_v1_starts[i])))
			break;
	}
	if (i == sizeof proxy_v1_starts / sizeof proxy_v1_starts[0])
		return (proxy_bad(why, "v1: unknown protocol"));

	if (line != 0)
		return (proxy_v1_line(buf, line, r, why));
	if (len >= PROXY_V1_MAX)
		return (proxy_bad(why, "v1: line too long"));
	/*
	 * No CRLF yet: one more byte may end the line, and no line is
	 * shorter than PROXY_MIN, so asking for either is never too much.
	 */
	r->need = len + 1 > PROXY_MIN ? len + 1 : PROXY_MIN;
	r->need_line = 1;
	return (PROXY_NEED);
}

/*
 * Version 2, binary: check the fixed part as soon as each byte is there,
 * then the address block and TLVs once all 16 + length bytes are.
 */
static enum proxy_status
proxy_v2(const unsigned char *buf, size_t len, struct proxy_result *r,
    const char **why)
{
	const struct proxy_v2_family	*f = NULL;
	size_t				 total, i, vlen;
	int				 cmd;

	if (len > 12 && buf[12] >> 4 != 2)
		return (proxy_bad(why, "v2: version is not 2"));
	if (len > 12 && (buf[12] & 0x0f) > PROXY_V2_PROXY)
		return (proxy_bad(why, "v2: unknown command"));
	cmd = len > 12 ? buf[12] & 0x0f : PROXY_V2_LOCAL;
	/* LOCAL ignores the family byte, as the spec says. */
	if (len > 13 && cmd == PROXY_V2_PROXY) {
		for (i = 0; i < sizeof proxy_v2_families /
		    sizeof proxy_v2_families[0]; i++) {
			if (proxy_v2_families[i].fam == buf[13])
				f = &proxy_v2_families[i];
		}
		if (f == NULL)
			return (proxy_bad(why, "v2: unknown family"));
	}
	if (len < PROXY_V2_FIXED) {
		r->need = PROXY_V2_FIXED;
		return (PROXY_NEED);
	}

	total = PROXY_V2_FIXED + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PROXY_V2_MAX)
		return (proxy_bad(why, "v2: header too long"));
	if (f != NULL && total - PROXY_V2_FIXED < f->addrlen)
		return (proxy_bad(why, "v2: address block too short"));
	if (len < total) {
		r->need = total;
		return (PROXY_NEED);
	}

	if (f != NULL && f->tlvs) {
		/* Each TLV: a type, a 16-bit length, that many bytes. */
		for (i = PROXY_V2_FIXED + f->addrlen; i < total; i += 3 + vlen) {
			if (total - i < 3)
				return (proxy_bad(why, "v2: truncated TLV"));
			vlen = (size_t)buf[i + 1] << 8 | buf[i + 2];
			if (total - i - 3 < vlen)
				return (proxy_bad(why,
				    "v2: TLV runs past the header"));
		}
	}

	r->consumed = total;
	if (f == NULL || f->family == 0) {
		r->local = 1;
		return (PROXY_OK);
	}
	if (f->family == AF_INET) {
		proxy_set_inet(&r->src, &r->srclen, buf + 16, buf + 24);
		proxy_set_inet(&r->dst, &r->dstlen, buf + 20, buf + 26);
	} else {
		proxy_set_inet6(&r->src, &r->srclen, buf + 16, buf + 48);
		proxy_set_inet6(&r->dst, &r->dstlen, buf + 32, buf + 50);
	}
	return (PROXY_OK);
}

/* Parse the PROXY header at the start of buf, as proxy.h says. */
enum proxy_status
proxy_parse(const unsigned char *buf, size_t len, struct proxy_result *r,
    const char **why)
{
	memset(r, 0, sizeof *r);
	if (why != NULL)
		*why = NULL;
	if (len == 0) {
		/* Neither version's header is shorter. */
		r->need = PROXY_MIN;
		return (PROXY_NEED);
	}
	if (proxy_prefix(buf, len, proxy_v2_sig, sizeof proxy_v2_sig)) {
		r->version = 2;
		return (proxy_v2(buf, len, r, why));
	}
	if (proxy_prefix(buf, len, "PROXY ", 6)) {
		r->version = 1;
		return (proxy_v1(buf, len, r, why));
	}
	return (proxy_bad(why, "not a PROXY protocol header"));
}
