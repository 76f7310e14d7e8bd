/*
 * addr.c: parse, resolve and print socket addresses.
 *
 * The syntax, for servers and clients alike:
 *   HOST:PORT   example.org:7, 127.0.0.1:0
 *   [IPV6]:PORT [::1]:65432
 *   PORT        all digits: the default host
 *   HOST        no colon, or an IPv6 literal without brackets: the default port
 *   :PORT, *:PORT   no host (a server takes every local address)
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "parse.h"

/* "[", an IPv6 literal, "%", a scope (name or number), "]:65535", NUL. */
_Static_assert(ADDR_STRLEN >= 1 + INET6_ADDRSTRLEN + 1 + IF_NAMESIZE + 7 + 1,
    "ADDR_STRLEN too small for a scoped IPv6 address");

/* Check that s is a decimal port number no larger than 65535. */
static int
addr_valid_port(const char *s)
{
	uint64_t	v;

	return (parse_uint(s, 0, 65535, &v, NULL) == 0);
}

/* Return 1 if s is non-empty and all digits. */
static int
addr_all_digits(const char *s)
{
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return (0);
	}
	return (1);
}

/*
 * Split spec into an allocated host (NULL when the spec names none, as in
 * ":7" or "*:7") and an allocated port, filling in the defaults.
 */
int
addr_parse(const char *spec, const char *default_host,
    const char *default_port, char **host, char **port, char **cause)
{
	const char	*colon, *close;
	char		*h = NULL, *p = NULL;

	if (spec == NULL || *spec == '\0') {
		cause_set(cause, "empty address");
		return (-1);
	}
	if (spec[0] == '[') {
		close = strchr(spec, ']');
		if (close == NULL || close == spec + 1) {
			cause_set(cause, "bad address '%s': expected [IPV6]:PORT",
			    spec);
			return (-1);
		}
		h = strndup(spec + 1, (size_t)(close - spec - 1));
		if (close[1] == '\0')
			p = strdup(default_port);
		else if (close[1] == ':')
			p = strdup(close + 2);
		else {
			free(h);
			cause_set(cause, "bad address '%s': unexpected text "
			    "after ']'", spec);
			return (-1);
		}
	} else if (addr_all_digits(spec)) {
		h = default_host != NULL ? strdup(default_host) : NULL;
		p = strdup(spec);
	} else if ((colon = strchr(spec, ':')) == NULL) {
		h = strdup(spec);
		p = strdup(default_port);
	} else if (strchr(colon + 1, ':') != NULL) {
		/* Two or more colons: a bare IPv6 literal such as ::1. */
		h = strdup(spec);
		p = strdup(default_port);
	} else {
		if (colon != spec && !(colon == spec + 1 && spec[0] == '*'))
			h = strndup(spec, (size_t)(colon - spec));
		p = strdup(colon + 1);
	}

	if (!addr_valid_port(p)) {
		cause_set(cause, "bad port '%s' in address '%s' (0 to 65535)",
		    p, spec);
		free(h);
		free(p);
		return (-1);
	}
	*host = h;
	*port = p;
	return (0);
}

/*
 * Resolve host and port into a list of stream addresses.  family is
 * AF_UNSPEC, AF_INET or AF_INET6; passive asks for addresses to bind, where
 * a NULL host means every local address.
 */
int
addr_resolve(const char *host, const char *port, int family, int passive,
    struct addrinfo **res, char **cause)
{
	struct addrinfo	hints;
	int		error;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	error = getaddrinfo(host, port, &hints, res);
	if (error != 0) {
		cause_set(cause, "cannot resolve '%s': %s",
		    host != NULL ? host : "*", gai_strerror(error));
		return (-1);
	}
	return (0);
}

/* Parse spec with the default host and port, then resolve it. */
int
addr_lookup(const char *spec, int family, int passive,
    struct addrinfo **res, char **cause)
{
	char	*host, *port;
	int	 rc;

	if (addr_parse(spec, ADDR_DEFAULT_HOST, ADDR_DEFAULT_PORT, &host,
	    &port, cause) != 0)
		return (-1);
	rc = addr_resolve(host, port, family, passive, res, cause);
	free(host);
	free(port);
	return (rc);
}

/*
 * Print sa as "1.2.3.4:5", "[::1]:5" or, with a scope, "[fe80::1%eth0]:5"
 * (the interface's number if it has no name) into buf; return buf.
 */
char *
addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char	host[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 1];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		scope[0] = '\0';
		if (sin6->sin6_scope_id != 0 &&
		    if_indextoname(sin6->sin6_scope_id, scope + 1) != NULL)
			scope[0] = '%';
		else if (sin6->sin6_scope_id != 0)
			snprintf(scope, sizeof scope, "%%%u",
			    (unsigned int)sin6->sin6_scope_id);
		snprintf(buf, size, "[%s%s]:%u", host, scope,
		    ntohs(sin6->sin6_port));
	} else
		snprintf(buf, size, "(family %d)", sa->sa_family);
	return (buf);
}

/*
 * The family of a numeric address ("127.0.0.1", "::1", "fe80::1%eth0"):
 * AF_INET, AF_INET6, or AF_UNSPEC for a name.
 */
int
addr_literal_family(const char *host)
{
	struct in6_addr	 in6;
	char		 buf[INET6_ADDRSTRLEN];
	size_t		 len = strcspn(host, "%");

	if (inet_pton(AF_INET, host, &in6) == 1)
		return (AF_INET);
	if (len >= sizeof buf)
		return (AF_UNSPEC);
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &in6) == 1)
		return (AF_INET6);
	return (AF_UNSPEC);
}

/* Return the local port a socket is bound to, or -1. */
int
addr_local_port(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return (-1);
	if (ss.ss_family == AF_INET)
		return (ntohs(((struct sockaddr_in *)&ss)->sin_port));
	if (ss.ss_family == AF_INET6)
		return (ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	return (-1);
}
