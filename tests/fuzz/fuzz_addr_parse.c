/*
 * fuzz_addr_parse.c: addr_parse on any text, no resolution.  What it
 * accepts has a port of 0 to 65535 and writes back into a spec that
 * parses to the same host and port; what it refuses has a cause and
 * leaves host and port alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"
#include "parse.h"

/* Same string, or both NULL. */
static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* Write host and port back as a spec and parse it again. */
static void
round_trip(const char *spec, const char *dhost, const char *host,
    const char *port)
{
	char	*h2 = NULL, *p2 = NULL, *cause = NULL, *again;
	int	 n;

	/* "*" alone is a host; "*:PORT" means none.  Brackets nest badly. */
	if (host != NULL && (strcmp(host, "*") == 0 ||
	    strpbrk(host, "[]") != NULL))
		return;
	if (host == NULL)
		n = asprintf(&again, ":%s", port);
	else if (strchr(host, ':') != NULL)
		n = asprintf(&again, "[%s]:%s", host, port);
	else
		n = asprintf(&again, "%s:%s", host, port);
	if (n == -1)
		abort();
	FUZZ_CHECK(addr_parse(again, dhost, ADDR_DEFAULT_PORT, &h2, &p2,
	    &cause) == 0, "'%s' -> '%s' refused: %s", spec, again, cause);
	FUZZ_CHECK(same(h2, host) && same(p2, port),
	    "'%s' -> host '%s' port '%s' -> '%s' -> host '%s' port '%s'",
	    spec, host ? host : "(none)", port, again, h2 ? h2 : "(none)", p2);
	free(h2);
	free(p2);
	free(again);
}

/* One input: a byte choosing the default host, then the spec. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 sentinel[] = "untouched";
	char		*spec, *host = sentinel, *port = sentinel, *cause = NULL;
	const char	*dhost = NULL;
	uint64_t	 v;

	if (size > 0) {
		dhost = data[0] & 1 ? ADDR_DEFAULT_HOST : NULL;
		data++;
		size--;
	}
	spec = fuzz_cstr(data, size);
	if (addr_parse(spec, dhost, ADDR_DEFAULT_PORT, &host, &port,
	    &cause) == 0) {
		FUZZ_CHECK(port != NULL && port != sentinel, "'%s'", spec);
		FUZZ_CHECK(host != sentinel, "'%s': host not set", spec);
		FUZZ_CHECK(parse_uint(port, 0, 65535, &v, NULL) == 0,
		    "'%s': port '%s'", spec, port);
		FUZZ_CHECK(host == NULL || *host != '\0',
		    "'%s': empty host", spec);
		FUZZ_CHECK(cause == NULL, "cause set on success: %s", cause);
		round_trip(spec, dhost, host, port);
		free(host);
		free(port);
	} else {
		FUZZ_CHECK(cause != NULL, "'%s': no cause", spec);
		FUZZ_CHECK(host == sentinel && port == sentinel,
		    "'%s': host or port written on failure", spec);
	}
	free(cause);
	free(spec);
	return (0);
}
