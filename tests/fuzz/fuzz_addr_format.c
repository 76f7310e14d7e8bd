/*
 * fuzz_addr_format.c: addr_format on arbitrary sockaddr_in and
 * sockaddr_in6 bytes.  The text always ends within the buffer, a short
 * buffer holds a prefix of the full text, and the full text parses back
 * (addr_parse, then inet_pton) to the same address and port.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "parse.h"

/* Parse text back and compare with the address it came from. */
static void
parse_back(const char *text, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;
	unsigned char			 bytes[16];
	char				*host, *port, *cause = NULL;
	uint64_t			 v;

	FUZZ_CHECK(addr_parse(text, NULL, ADDR_DEFAULT_PORT, &host, &port,
	    &cause) == 0, "'%s' does not parse: %s", text, cause);
	FUZZ_CHECK(host != NULL, "'%s': no host", text);
	/* A scope ("%eth0", "%3") is not part of the address bytes. */
	host[strcspn(host, "%")] = '\0';
	FUZZ_CHECK(parse_uint(port, 0, 65535, &v, NULL) == 0, "'%s'", text);
	if (ss->ss_family == AF_INET) {
		FUZZ_CHECK(inet_pton(AF_INET, host, bytes) == 1 &&
		    memcmp(bytes, &sin->sin_addr, 4) == 0, "'%s'", text);
		FUZZ_CHECK(v == ntohs(sin->sin_port), "'%s'", text);
	} else {
		FUZZ_CHECK(inet_pton(AF_INET6, host, bytes) == 1 &&
		    memcmp(bytes, &sin6->sin6_addr, 16) == 0, "'%s'", text);
		FUZZ_CHECK(v == ntohs(sin6->sin6_port), "'%s'", text);
	}
	free(host);
	free(port);
}

/* One input: family and buffer size bytes, then the sockaddr's bytes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 ss;
	char			 full[ADDR_STRLEN], *small;
	size_t			 len, n;

	if (size < 2)
		return (0);
	memset(&ss, 0, sizeof ss);
	n = size - 2 < sizeof ss ? size - 2 : sizeof ss;
	memcpy(&ss, data + 2, n);
	/* Mostly the two families it prints; now and then any other. */
	if (data[0] < 0xf0)
		ss.ss_family = data[0] & 1 ? AF_INET6 : AF_INET;
	len = 1 + data[1] % ADDR_STRLEN;

	memset(full, 'x', sizeof full);
	FUZZ_CHECK(addr_format((struct sockaddr *)&ss, full, sizeof full) ==
	    full, "not its buffer");
	FUZZ_CHECK(memchr(full, '\0', sizeof full) != NULL, "no NUL");
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
		parse_back(full, &ss);

	/* A short buffer: the same text cut off, NUL within len bytes. */
	if ((small = malloc(len)) == NULL)
		abort();
	FUZZ_CHECK(addr_format((struct sockaddr *)&ss, small, len) == small,
	    "not its buffer");
	FUZZ_CHECK(memchr(small, '\0', len) != NULL, "no NUL in %zu", len);
	FUZZ_CHECK(strncmp(small, full, len - 1) == 0 &&
	    strlen(small) == (strlen(full) < len ? strlen(full) : len - 1),
	    "'%s' is not a prefix of '%s'", small, full);
	free(small);
	return (0);
}
