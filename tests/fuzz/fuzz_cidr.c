/*
 * fuzz_cidr.c: cidr_parse on any text, then cidr_match against the
 * block's own addresses.  What is accepted has a prefix within its
 * family's bits and no host bits, and writes back ("ADDR/PREFIX") to the
 * same block; an address differing from the network in one bit lies in
 * the block exactly when that bit is past the prefix, as an IPv4 address
 * or its mapped IPv6 form alike.  What is refused has a cause and leaves
 * the block alone.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "fuzz.h"

/* The bit-th bit of addr, from the most significant. */
static int
bit_of(const uint8_t *addr, unsigned bit)
{
	return ((addr[bit / 8] >> (7 - bit % 8)) & 1);
}

/* Check the block against each address one bit away from its network. */
static void
check_match(const char *s, const struct cidr *c)
{
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	unsigned		bits = c->family == AF_INET ? 32 : 128, b;
	uint8_t			addr[16];
	int			want;

	for (b = 0; b <= bits; b++) {
		/* b == bits: the network address itself. */
		memcpy(addr, c->addr, bits / 8);
		if (b < bits)
			addr[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		want = b >= c->prefix;
		memset(&sin6, 0, sizeof sin6);
		sin6.sin6_family = AF_INET6;
		if (c->family == AF_INET) {
			memset(&sin, 0, sizeof sin);
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, addr, 4);
			FUZZ_CHECK(cidr_match(c, (struct sockaddr *)&sin) ==
			    want, "'%s': bit %u", s, b);
			sin6.sin6_addr.s6_addr[10] = 0xff;
			sin6.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sin6.sin6_addr.s6_addr[12], addr, 4);
			FUZZ_CHECK(cidr_match(c, (struct sockaddr *)&sin6) ==
			    want, "'%s': mapped, bit %u", s, b);
			/* Not mapped: not an IPv4 address at all. */
			sin6.sin6_addr.s6_addr[10] = 0xfe;
			FUZZ_CHECK(cidr_match(c, (struct sockaddr *)&sin6) == 0,
			    "'%s': IPv6 in an IPv4 block", s);
		} else {
			memcpy(&sin6.sin6_addr, addr, 16);
			FUZZ_CHECK(cidr_match(c, (struct sockaddr *)&sin6) ==
			    want, "'%s': bit %u", s, b);
			if (memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)
			    != 0)
				continue;
			/* A mapped address is its IPv4 address too. */
			memset(&sin, 0, sizeof sin);
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, addr + 12, 4);
			FUZZ_CHECK(cidr_match(c, (struct sockaddr *)&sin) ==
			    want, "'%s': IPv4 form, bit %u", s, b);
		}
	}
}

/* One input: the text of a block. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr	 c, c2, sentinel;
	char		*s = fuzz_cstr(data, size), *cause = NULL;
	char		 text[INET6_ADDRSTRLEN + 8];
	char		 host[INET6_ADDRSTRLEN];
	unsigned	 bits, b;
	int		 rc;

	memset(&sentinel, 0x5a, sizeof sentinel);
	c = sentinel;
	rc = cidr_parse(s, &c, &cause);
	FUZZ_CHECK(cidr_parse(s, &c2, NULL) == rc, "'%s': cause changes rc",
	    s);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1, "'%s': rc %d", s, rc);
		FUZZ_CHECK(cause != NULL, "'%s': no cause", s);
		FUZZ_CHECK(memcmp(&c, &sentinel, sizeof c) == 0,
		    "'%s': block written on failure", s);
		free(cause);
		free(s);
		return (0);
	}
	FUZZ_CHECK(cause == NULL, "'%s': cause on success: %s", s, cause);
	FUZZ_CHECK(c.family == AF_INET || c.family == AF_INET6, "'%s': %d", s,
	    c.family);
	bits = c.family == AF_INET ? 32 : 128;
	FUZZ_CHECK(c.prefix <= bits, "'%s': prefix %u", s, c.prefix);
	for (b = c.prefix; b < bits; b++)
		FUZZ_CHECK(bit_of(c.addr, b) == 0, "'%s': host bit %u", s, b);
	FUZZ_CHECK(strchr(s, '%') == NULL, "'%s': zone accepted", s);
	/* Without "/", the block is one address. */
	if (strchr(s, '/') == NULL)
		FUZZ_CHECK(c.prefix == bits, "'%s': bare, prefix %u", s,
		    c.prefix);

	if (inet_ntop(c.family, c.addr, host, sizeof host) == NULL)
		abort();
	snprintf(text, sizeof text, "%s/%u", host, c.prefix);
	FUZZ_CHECK(cidr_parse(text, &c2, &cause) == 0, "'%s' -> '%s': %s", s,
	    text, cause);
	FUZZ_CHECK(c2.family == c.family && c2.prefix == c.prefix &&
	    memcmp(c2.addr, c.addr, bits / 8) == 0, "'%s' -> '%s' differs",
	    s, text);
	check_match(s, &c);
	free(s);
	return (0);
}
