/*
 * fuzz_proxy.c: proxy_parse on any bytes, checked against proxy.h's
 * promises.  Each parse sees a copy exactly as long as it is told, so
 * ASan catches a read past the end.  A verdict never changes as bytes
 * are added: a prefix of an accepted header asks for more, and never for
 * more than the header's length; a refused prefix stays refused.  What
 * is accepted agrees with the header's own bytes, and a v1 line written
 * back from the addresses parses to the same ones (for TCP4, it is the
 * same line: its numbers have one spelling only).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxy.h"

static const unsigned char v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Parse the first len bytes of data from a copy of just that length. */
static enum proxy_status
parse(const uint8_t *data, size_t len, struct proxy_result *r,
    const char **why)
{
	unsigned char		*copy = malloc(len > 0 ? len : 1);
	struct proxy_result	 again;
	enum proxy_status	 st;

	if (copy == NULL)
		abort();
	memcpy(copy, data, len);
	/* What r held before must not matter. */
	memset(r, 0xa5, sizeof *r);
	*why = "unset";
	st = proxy_parse(copy, len, r, why);
	memset(&again, 0, sizeof again);
	FUZZ_CHECK(proxy_parse(copy, len, &again, NULL) == st &&
	    memcmp(&again, r, sizeof again) == 0,
	    "%zu bytes: another parse differs", len);
	free(copy);
	return (st);
}

/* Two results agree on everything an accepted header says. */
static int
same(const struct proxy_result *a, const struct proxy_result *b)
{
	return (a->version == b->version && a->local == b->local &&
	    a->consumed == b->consumed && a->srclen == b->srclen &&
	    a->dstlen == b->dstlen &&
	    memcmp(&a->src, &b->src, sizeof a->src) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof a->dst) == 0);
}

/* Return 1 if the n bytes at p are all zero. */
static int
zero(const void *p, size_t n)
{
	const unsigned char	*c = p;

	while (n-- > 0) {
		if (*c++ != 0)
			return (0);
	}
	return (1);
}

/* Check one sockaddr of an accepted header against its family. */
static void
check_addr(const struct sockaddr_storage *ss, socklen_t len, int family)
{
	FUZZ_CHECK(ss->ss_family == family, "family %d, not %d",
	    ss->ss_family, family);
	if (family == AF_INET)
		FUZZ_CHECK(len == sizeof(struct sockaddr_in), "len %u",
		    (unsigned)len);
	else
		FUZZ_CHECK(len == sizeof(struct sockaddr_in6), "len %u",
		    (unsigned)len);
}

/* The address bytes and port of a sockaddr the parser filled. */
static const void *
addr_of(const struct sockaddr_storage *ss, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		*port = ntohs(sin->sin_port);
		return (&sin->sin_addr);
	}
	*port = ntohs(((const struct sockaddr_in6 *)(const void *)ss)->
	    sin6_port);
	return (&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
}

/* A v1 header: write the line back from r and parse that. */
static void
check_v1(const uint8_t *data, const struct proxy_result *r)
{
	struct proxy_result	 r2;
	const char		*why;
	char			 src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char			 line[PROXY_V1_MAX + 64];
	const void		*sa, *da;
	uint16_t		 sp, dp;
	int			 v6, n;

	FUZZ_CHECK(r->consumed >= PROXY_MIN && r->consumed <= PROXY_V1_MAX,
	    "v1 of %zu bytes", r->consumed);
	FUZZ_CHECK(memchr(data, '\n', r->consumed - 1) == NULL &&
	    memchr(data, '\r', r->consumed - 2) == NULL &&
	    data[r->consumed - 2] == '\r' && data[r->consumed - 1] == '\n',
	    "v1 line not ended by its first CRLF");
	FUZZ_CHECK(memcmp(data, "PROXY ", 6) == 0, "no 'PROXY '");
	if (r->local) {
		FUZZ_CHECK(memcmp(data + 6, "UNKNOWN", 7) == 0 &&
		    (data[13] == ' ' || data[13] == '\r'), "local, not UNKNOWN");
		return;
	}
	v6 = memcmp(data + 6, "TCP6 ", 5) == 0;
	FUZZ_CHECK(v6 || memcmp(data + 6, "TCP4 ", 5) == 0, "not TCP4/6");
	check_addr(&r->src, r->srclen, v6 ? AF_INET6 : AF_INET);
	check_addr(&r->dst, r->dstlen, v6 ? AF_INET6 : AF_INET);
	sa = addr_of(&r->src, &sp);
	da = addr_of(&r->dst, &dp);
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, sa, src, sizeof src) == NULL ||
	    inet_ntop(v6 ? AF_INET6 : AF_INET, da, dst, sizeof dst) == NULL)
		abort();
	n = snprintf(line, sizeof line, "PROXY TCP%c %s %s %u %u\r\n",
	    v6 ? '6' : '4', src, dst, sp, dp);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof line, "line too long");
	if (!v6)
		FUZZ_CHECK((size_t)n == r->consumed &&
		    memcmp(line, data, (size_t)n) == 0,
		    "TCP4 '%.*s' written back as '%s'", (int)r->consumed,
		    (const char *)data, line);
	/* Write-back may be longer than 107 ("::ffff:a.b.c.d" twice). */
	if ((size_t)n > PROXY_V1_MAX)
		return;
	FUZZ_CHECK(parse((const uint8_t *)line, (size_t)n, &r2, &why) ==
	    PROXY_OK, "'%s' refused: %s", line, why);
	r2.consumed = r->consumed;
	FUZZ_CHECK(same(r, &r2), "'%s' parses differently", line);
}

/* A v2 header: its length field, and the addresses at their places. */
static void
check_v2(const uint8_t *data, const struct proxy_result *r)
{
	const void	*a;
	uint16_t	 port;
	size_t		 alen;

	FUZZ_CHECK(memcmp(data, v2sig, 12) == 0, "v2 without signature");
	FUZZ_CHECK(data[12] == 0x20 || data[12] == 0x21, "ver/cmd %#x",
	    data[12]);
	FUZZ_CHECK(r->consumed == 16 + ((size_t)data[14] << 8 | data[15]) &&
	    r->consumed <= PROXY_V2_MAX, "v2 of %zu bytes", r->consumed);
	if (r->local) {
		FUZZ_CHECK(data[12] == 0x20 || (data[13] != 0x11 &&
		    data[13] != 0x21), "PROXY TCP taken as local");
		return;
	}
	FUZZ_CHECK(data[12] == 0x21 && (data[13] == 0x11 || data[13] == 0x21),
	    "addresses from ver/cmd %#x family %#x", data[12], data[13]);
	alen = data[13] == 0x11 ? 4 : 16;
	check_addr(&r->src, r->srclen, alen == 4 ? AF_INET : AF_INET6);
	check_addr(&r->dst, r->dstlen, alen == 4 ? AF_INET : AF_INET6);
	a = addr_of(&r->src, &port);
	FUZZ_CHECK(memcmp(a, data + 16, alen) == 0 &&
	    port == (data[16 + 2 * alen] << 8 | data[17 + 2 * alen]),
	    "v2 source differs");
	a = addr_of(&r->dst, &port);
	FUZZ_CHECK(memcmp(a, data + 16 + alen, alen) == 0 &&
	    port == (data[18 + 2 * alen] << 8 | data[19 + 2 * alen]),
	    "v2 destination differs");
}

/* Check one result on its own. */
static void
check_one(const uint8_t *data, size_t len, enum proxy_status st,
    const struct proxy_result *r, const char *why)
{
	switch (st) {
	case PROXY_OK:
		FUZZ_CHECK(why == NULL, "OK with a reason: %s", why);
		FUZZ_CHECK(r->consumed <= len, "consumed %zu of %zu",
		    r->consumed, len);
		FUZZ_CHECK(r->local == 0 || r->local == 1, "local %d",
		    r->local);
		if (r->local)
			FUZZ_CHECK(r->srclen == 0 && r->dstlen == 0 &&
			    zero(&r->src, sizeof r->src) &&
			    zero(&r->dst, sizeof r->dst),
			    "local with addresses");
		if (r->version == 1)
			check_v1(data, r);
		else {
			FUZZ_CHECK(r->version == 2, "version %d", r->version);
			check_v2(data, r);
		}
		break;
	case PROXY_NEED:
		FUZZ_CHECK(why == NULL, "NEED with a reason: %s", why);
		FUZZ_CHECK(r->need > len, "%zu bytes, need %zu", len,
		    r->need);
		FUZZ_CHECK(r->need >= PROXY_MIN, "need %zu", r->need);
		FUZZ_CHECK(r->consumed == 0, "NEED consumed %zu",
		    r->consumed);
		if (r->need_line)
			FUZZ_CHECK(r->version == 1 &&
			    r->need <= PROXY_V1_MAX, "need %zu line, v%d",
			    r->need, r->version);
		else
			FUZZ_CHECK(r->need <= PROXY_V2_MAX, "need %zu",
			    r->need);
		FUZZ_CHECK(r->version == (len == 0 ? 0 :
		    data[0] == 'P' ? 1 : 2), "version %d", r->version);
		break;
	case PROXY_BAD:
		FUZZ_CHECK(why != NULL && *why != '\0', "BAD without reason");
		break;
	default:
		FUZZ_CHECK(0, "status %d", (int)st);
	}
}

/*
 * Check the prefix of k bytes against the whole input's verdict: NEED
 * asks for no more than an accepted header holds, and never more than
 * the whole asked for; OK and BAD stand as bytes are added.
 */
static void
check_prefix(const uint8_t *data, size_t size, size_t k,
    enum proxy_status st, const struct proxy_result *r)
{
	struct proxy_result	 rk;
	const char		*why;
	enum proxy_status	 sk;

	sk = parse(data, k, &rk, &why);
	check_one(data, k, sk, &rk, why);
	if (sk == PROXY_OK)
		FUZZ_CHECK(st == PROXY_OK && same(&rk, r),
		    "%zu of %zu bytes OK, the whole %d", k, size, (int)st);
	if (sk == PROXY_BAD)
		FUZZ_CHECK(st == PROXY_BAD, "%zu of %zu bytes BAD (%s), "
		    "the whole %d", k, size, why, (int)st);
	if (sk == PROXY_NEED && st == PROXY_OK)
		FUZZ_CHECK(rk.need <= r->consumed, "%zu bytes need %zu of a "
		    "%zu-byte header", k, rk.need, r->consumed);
	if (sk == PROXY_NEED && st == PROXY_NEED)
		FUZZ_CHECK(rk.need <= r->need, "%zu bytes need %zu, %zu "
		    "need %zu", k, rk.need, size, r->need);
	if (st == PROXY_OK)
		FUZZ_CHECK((k < r->consumed) == (sk == PROXY_NEED),
		    "%zu bytes of a %zu-byte header: %d", k, r->consumed,
		    (int)sk);
}

/* One input: the first bytes of a connection. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_result	 r;
	const char		*why;
	enum proxy_status	 st;
	size_t			 k;

	st = parse(data, size, &r, &why);
	check_one(data, size, st, &r, why);
	/*
	 * Every prefix up to past the longest v1 line and the v2 fixed
	 * part; beyond, where only a v2 body can be, those around the
	 * header's end and a sample in between.
	 */
	for (k = 0; k < size; k++) {
		if (k > PROXY_V1_MAX + 2 && k % 97 != 0 &&
		    (st != PROXY_OK || k + 2 < r.consumed || k > r.consumed + 2))
			continue;
		check_prefix(data, size, k, st, &r);
	}
	return (0);
}
