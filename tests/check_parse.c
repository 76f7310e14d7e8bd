/* check_parse.c: unit tests for the shared parsers (parse.c, addr.c). */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "harness.h"
#include "greeting.h"
#include "parse.h"

/* parse_uint: plain numbers, ranges, junk. */
START_TEST(test_uint)
{
	uint64_t	 v;
	char		*cause = NULL;

	ck_assert_int_eq(parse_uint("0", 0, 10, &v, NULL), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(parse_uint("4096", 1, 65535, &v, NULL), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(parse_uint("18446744073709551615", 0, UINT64_MAX,
	    &v, NULL), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(parse_uint("18446744073709551616", 0, UINT64_MAX,
	    &v, NULL), -1);
	ck_assert_int_eq(parse_uint("11", 0, 10, &v, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "'11'"));
	ck_assert_ptr_nonnull(strstr(cause, "out of range"));
	free(cause);
	ck_assert_int_eq(parse_uint("12x", 0, 100, &v, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "'12x'"));
	free(cause);
	ck_assert_int_eq(parse_uint("", 0, 100, &v, NULL), -1);
	ck_assert_int_eq(parse_uint("-1", 0, 100, &v, NULL), -1);
	ck_assert_int_eq(parse_uint("+1", 0, 100, &v, NULL), -1);
	ck_assert_int_eq(parse_uint(" 1", 0, 100, &v, NULL), -1);
	ck_assert_int_eq(parse_uint("1 ", 0, 100, &v, NULL), -1);
}
END_TEST

/* greeting_expand: --greeting's escapes, one line, and what it refuses. */
START_TEST(test_greeting)
{
	const struct greeting_vars	 vars = { "box", 3, 4242 };
	char				 out[GREETING_MAX], big[700];
	char				*cause = NULL;
	size_t				 i;
	static const char *const	 bad[] = {
		"", "%x", "50%", "a\\qb", "one\\ntwo", "one\ntwo",
		"bell\a", "\xff\xfe", "\xc0\xaf", "\xed\xa0\x80",
	};

	ck_assert_int_eq(greeting_expand("evecho %h worker %w pid %p", &vars,
	    out, sizeof out, NULL), 29);
	ck_assert_str_eq(out, "evecho box worker 3 pid 4242\n");
	/* An escaped or a typed newline at the end is not doubled. */
	ck_assert_int_eq(greeting_expand("100%% %h\\r\\n", &vars, out,
	    sizeof out, NULL), 10);
	ck_assert_str_eq(out, "100% box\r\n");
	ck_assert_int_eq(greeting_expand("a\\tb\\\\\n", &vars, out,
	    sizeof out, NULL), 5);
	ck_assert_str_eq(out, "a\tb\\\n");
	ck_assert_int_eq(greeting_expand("caf\xc3\xa9", &vars, out,
	    sizeof out, NULL), 6);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(greeting_expand(bad[i], &vars, out, sizeof out,
		    &cause) == -1, "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(cause);
		free(cause);
		cause = NULL;
	}
	/* 511 bytes and the newline fit; one more does not. */
	memset(big, 'x', sizeof big);
	big[GREETING_MAX - 1] = '\0';
	ck_assert_int_eq(greeting_expand(big, &vars, out, sizeof out, NULL),
	    -1);
	big[GREETING_MAX - 2] = '\0';
	ck_assert_int_eq(greeting_expand(big, &vars, out, sizeof out, NULL),
	    GREETING_MAX - 1);
}
END_TEST

/* parse_count: decimal suffixes, fractions that come out whole, junk. */
START_TEST(test_count)
{
	uint64_t	 v;
	char		*cause = NULL;

	ck_assert_int_eq(parse_count("250", 1, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 250);
	ck_assert_int_eq(parse_count("100k", 1, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 100000);
	ck_assert_int_eq(parse_count("100K", 1, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 100000);
	ck_assert_int_eq(parse_count("1.5m", 1, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 1500000);
	ck_assert_int_eq(parse_count("2g", 1, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 2000000000);
	ck_assert_int_eq(parse_count("0.5k", 1, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 500);
	/* Not whole, no suffix for the fraction, junk, binary spellings. */
	ck_assert_int_eq(parse_count("1.0001k", 1, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_count("1.5", 1, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_count("1.k", 1, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_count("10kb", 1, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_count("k", 1, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_count("", 1, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_count("-1k", 1, UINT64_MAX, &v, NULL), -1);
	/* Range after scaling, and overflow. */
	ck_assert_int_eq(parse_count("2k", 1, 1000, &v, &cause), -1);
	ck_assert_str_eq(cause, "'2k' is out of range (1 to 1000)");
	free(cause);
	cause = NULL;
	ck_assert_int_eq(parse_count("0", 1, 1000, &v, NULL), -1);
	ck_assert_int_eq(parse_count("99999999999999999999", 1, UINT64_MAX,
	    &v, NULL), -1);
	ck_assert_int_eq(parse_count("18446744073709552g", 1, UINT64_MAX,
	    &v, NULL), -1);
	ck_assert_int_eq(parse_count("x", 1, 10, &v, &cause), -1);
	ck_assert_str_eq(cause, "'x' is not a count (like 500, 100k, 1.5m)");
	free(cause);
}
END_TEST

/* parse_size: suffixes and their spellings, overflow, junk. */
START_TEST(test_size)
{
	uint64_t	 v;
	char		*cause = NULL;

	ck_assert_int_eq(parse_size("512", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(parse_size("512b", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(parse_size("64k", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(parse_size("1m", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 1048576);
	ck_assert_int_eq(parse_size("1M", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 1048576);
	ck_assert_int_eq(parse_size("2MiB", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 2097152);
	ck_assert_int_eq(parse_size("3G", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 3ULL << 30);
	ck_assert_int_eq(parse_size("10kb", 0, UINT64_MAX, &v, NULL), 0);
	ck_assert_uint_eq(v, 10240);

	ck_assert_int_eq(parse_size("1t", 0, UINT64_MAX, &v, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "'1t'"));
	free(cause);
	ck_assert_int_eq(parse_size("k", 0, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_size("", 0, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_size("1.5m", 0, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_size("1mm", 0, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_size("-1k", 0, UINT64_MAX, &v, NULL), -1);
	ck_assert_int_eq(parse_size("17179869184g", 0, UINT64_MAX, &v,
	    NULL), -1);
	/* Regression: digits that overflow made the suffix read s[-1]. */
	ck_assert_int_eq(parse_size("99999999999999999999k", 0, UINT64_MAX,
	    &v, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "out of range"));
	free(cause);
	ck_assert_int_eq(parse_size("0", 1, 100, &v, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "out of range"));
	free(cause);
	ck_assert_int_eq(parse_size("1k", 1, 1000, &v, NULL), -1);
}
END_TEST

/* parse_duration: seconds, fractions, units, limits. */
START_TEST(test_duration)
{
	uint64_t	 us;
	char		*cause = NULL;

	ck_assert_int_eq(parse_duration("10", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 10000000);
	ck_assert_int_eq(parse_duration("0", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 0);
	ck_assert_int_eq(parse_duration("0.5", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 500000);
	ck_assert_int_eq(parse_duration(".25", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 250000);
	ck_assert_int_eq(parse_duration("250ms", 0, UINT64_MAX, &us, NULL),
	    0);
	ck_assert_uint_eq(us, 250000);
	ck_assert_int_eq(parse_duration("1.5ms", 0, UINT64_MAX, &us, NULL),
	    0);
	ck_assert_uint_eq(us, 1500);
	ck_assert_int_eq(parse_duration("100us", 0, UINT64_MAX, &us, NULL),
	    0);
	ck_assert_uint_eq(us, 100);
	ck_assert_int_eq(parse_duration("2m", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 120000000);
	ck_assert_int_eq(parse_duration("1h", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 3600000000ULL);
	ck_assert_int_eq(parse_duration("3s", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 3000000);

	ck_assert_int_eq(parse_duration("abc", 0, UINT64_MAX, &us, &cause),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, "'abc'"));
	free(cause);
	ck_assert_int_eq(parse_duration("", 0, UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration(".", 0, UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("1.", 0, UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("-1", 0, UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("5d", 0, UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("99999999999999999999", 0,
	    UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("11", 0, 10000000, &us, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "out of range"));
	free(cause);
}
END_TEST

/* parse_duration: the edges of uint64_t microseconds, and below 1 us. */
START_TEST(test_duration_edges)
{
	uint64_t	 us;
	char		*cause = NULL;

	/* The largest whole-second value and its fraction still fit. */
	ck_assert_int_eq(parse_duration("18446744073709.551615", 0,
	    UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, UINT64_MAX);
	/* Regression: the fraction was added after the check and wrapped. */
	ck_assert_int_eq(parse_duration("18446744073709.999999", 0,
	    UINT64_MAX, &us, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "out of range"));
	free(cause);
	ck_assert_int_eq(parse_duration("18446744073709.551616", 0,
	    UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("5124095576.04h", 0,
	    UINT64_MAX, &us, NULL), -1);
	ck_assert_int_eq(parse_duration("18446744073709551.616ms", 0,
	    UINT64_MAX, &us, NULL), -1);

	/* Regression: a value under 1 us became 0 ("never", "at once"). */
	ck_assert_int_eq(parse_duration("0.0000001", 0, UINT64_MAX, &us,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "shorter than 1 us"));
	free(cause);
	ck_assert_int_eq(parse_duration("0.0000000000001", 0, UINT64_MAX,
	    &us, NULL), -1);
	ck_assert_int_eq(parse_duration("0.5us", 0, UINT64_MAX, &us, NULL),
	    -1);
	ck_assert_int_eq(parse_duration(".0000009s", 0, UINT64_MAX, &us,
	    NULL), -1);
	ck_assert_int_eq(parse_duration("1ns", 0, UINT64_MAX, &us, NULL), -1);
	/* Zero however spelled is still zero; 1 us is the finest step. */
	ck_assert_int_eq(parse_duration("0.000", 0, UINT64_MAX, &us, NULL),
	    0);
	ck_assert_uint_eq(us, 0);
	ck_assert_int_eq(parse_duration("0ms", 0, UINT64_MAX, &us, NULL), 0);
	ck_assert_uint_eq(us, 0);
	ck_assert_int_eq(parse_duration("0.000001", 0, UINT64_MAX, &us,
	    NULL), 0);
	ck_assert_uint_eq(us, 1);
	ck_assert_int_eq(parse_duration("1.5us", 0, UINT64_MAX, &us, NULL),
	    0);
	ck_assert_uint_eq(us, 1);
}
END_TEST

/* parse_uint and parse_size at the edges of uint64_t. */
START_TEST(test_number_edges)
{
	uint64_t	v;

	ck_assert_int_eq(parse_uint("99999999999999999999", 0, UINT64_MAX,
	    &v, NULL), -1);
	ck_assert_int_eq(parse_uint("184467440737095516150", 0, UINT64_MAX,
	    &v, NULL), -1);
	ck_assert_int_eq(parse_size("18446744073709551615", 0, UINT64_MAX,
	    &v, NULL), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(parse_size("18446744073709551616", 0, UINT64_MAX,
	    &v, NULL), -1);
	ck_assert_int_eq(parse_size("17179869183g", 0, UINT64_MAX, &v, NULL),
	    0);
	ck_assert_uint_eq(v, 17179869183ULL << 30);
	ck_assert_int_eq(parse_size("17592186044416m", 0, UINT64_MAX, &v,
	    NULL), -1);
	ck_assert_int_eq(parse_size("18014398509481984k", 0, UINT64_MAX, &v,
	    NULL), -1);
	/* A wrapped product must not slip under a small maximum. */
	ck_assert_int_eq(parse_size("16777216t", 0, 1 << 20, &v, NULL), -1);
	ck_assert_int_eq(parse_size("17179869184g", 0, 1 << 20, &v, NULL),
	    -1);
}
END_TEST

/* Check one addr_parse outcome; a NULL want_host means "no host". */
static void
expect_addr(const char *spec, const char *want_host, const char *want_port)
{
	char	*host = NULL, *port = NULL, *cause = NULL;

	ck_assert_msg(addr_parse(spec, "dflt", "65432", &host, &port,
	    &cause) == 0, "'%s' rejected: %s", spec, cause);
	if (want_host == NULL)
		ck_assert_msg(host == NULL, "'%s' gave host %s", spec, host);
	else
		ck_assert_str_eq(host, want_host);
	ck_assert_str_eq(port, want_port);
	free(host);
	free(port);
}

/* Check that addr_parse refuses spec with a message naming it. */
static void
expect_bad_addr(const char *spec)
{
	char	*host = NULL, *port = NULL, *cause = NULL;

	ck_assert_msg(addr_parse(spec, "dflt", "65432", &host, &port,
	    &cause) == -1, "'%s' accepted", spec);
	ck_assert_ptr_nonnull(cause);
	free(cause);
}

/* addr_parse: every form of the syntax, and what it refuses. */
START_TEST(test_addr_parse)
{
	expect_addr("127.0.0.1:80", "127.0.0.1", "80");
	expect_addr("example.org:7", "example.org", "7");
	expect_addr("[::1]:41235", "::1", "41235");
	expect_addr("[fe80::1%lo]:1", "fe80::1%lo", "1");
	expect_addr("[::1]", "::1", "65432");
	expect_addr("::1", "::1", "65432");
	expect_addr("8080", "dflt", "8080");
	expect_addr("0", "dflt", "0");
	expect_addr("localhost", "localhost", "65432");
	expect_addr(":7", NULL, "7");
	expect_addr("*:7", NULL, "7");
	expect_addr("host:65535", "host", "65535");

	expect_bad_addr("");
	expect_bad_addr("host:");
	expect_bad_addr("host:65536");
	expect_bad_addr("host:http");
	expect_bad_addr("host:-1");
	expect_bad_addr("[::1");
	expect_bad_addr("[]:80");
	expect_bad_addr("[::1]80");
	expect_bad_addr("[::1]:");
	expect_bad_addr("[::1]:x");
	expect_bad_addr("99999");
}
END_TEST

/* The message for a bad port names the port and the address. */
START_TEST(test_addr_message)
{
	char	*host, *port, *cause = NULL;

	ck_assert_int_eq(addr_parse("box:99999", NULL, "1", &host, &port,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "'99999'"));
	ck_assert_ptr_nonnull(strstr(cause, "'box:99999'"));
	free(cause);
}
END_TEST

/* addr_lookup and addr_format round-trip loopback addresses. */
START_TEST(test_addr_resolve_format)
{
	struct addrinfo	*res;
	char		 buf[ADDR_STRLEN], *cause = NULL;

	ck_assert_int_eq(addr_lookup("127.0.0.1:4000", AF_UNSPEC, 0, &res,
	    &cause), 0);
	ck_assert_int_eq(res->ai_family, AF_INET);
	ck_assert_str_eq(addr_format(res->ai_addr, buf, sizeof buf),
	    "127.0.0.1:4000");
	freeaddrinfo(res);

	ck_assert_int_eq(addr_lookup("[::1]:4001", AF_UNSPEC, 0, &res,
	    &cause), 0);
	ck_assert_int_eq(res->ai_family, AF_INET6);
	ck_assert_str_eq(addr_format(res->ai_addr, buf, sizeof buf),
	    "[::1]:4001");
	freeaddrinfo(res);

	/* Forcing a family that the literal is not of fails cleanly. */
	ck_assert_int_eq(addr_lookup("127.0.0.1:1", AF_INET6, 0, &res,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "127.0.0.1"));
	free(cause);

	ck_assert_int_eq(addr_lookup("no-such-host.invalid:1", AF_UNSPEC, 0,
	    &res, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "no-such-host.invalid"));
	free(cause);

	/* A passive lookup without a host gives wildcard addresses. */
	ck_assert_int_eq(addr_lookup(":0", AF_INET, 1, &res, &cause), 0);
	ck_assert_str_eq(addr_format(res->ai_addr, buf, sizeof buf),
	    "0.0.0.0:0");
	freeaddrinfo(res);
}
END_TEST

/* addr_format keeps an IPv6 scope: the interface name, else its number. */
START_TEST(test_addr_format_scope)
{
	struct sockaddr_in6	 sin6;
	struct addrinfo		*res;
	char			 buf[ADDR_STRLEN], want[ADDR_STRLEN];
	char			 name[IF_NAMESIZE], *cause = NULL;
	unsigned int		 lo, unused;

	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(7);
	ck_assert_int_eq(inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr), 1);

	/* An index no interface has: the number. */
	for (unused = 4242; if_indextoname(unused, name) != NULL; unused++)
		continue;
	sin6.sin6_scope_id = unused;
	snprintf(want, sizeof want, "[fe80::1%%%u]:7", unused);
	ck_assert_str_eq(addr_format((struct sockaddr *)&sin6, buf,
	    sizeof buf), want);

	/* The loopback interface: its name. */
	lo = if_nametoindex("lo");
	if (lo != 0) {
		sin6.sin6_scope_id = lo;
		ck_assert_str_eq(addr_format((struct sockaddr *)&sin6, buf,
		    sizeof buf), "[fe80::1%lo]:7");
		/* And what the parser resolves prints back the same. */
		ck_assert_int_eq(addr_lookup("[fe80::1%lo]:7", AF_INET6, 0,
		    &res, &cause), 0);
		ck_assert_str_eq(addr_format(res->ai_addr, buf, sizeof buf),
		    "[fe80::1%lo]:7");
		freeaddrinfo(res);
	}

	/* No scope, no '%'; the widest scoped form fits in ADDR_STRLEN. */
	sin6.sin6_scope_id = 0;
	ck_assert_str_eq(addr_format((struct sockaddr *)&sin6, buf,
	    sizeof buf), "[fe80::1]:7");
	ck_assert_int_eq(inet_pton(AF_INET6,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &sin6.sin6_addr), 1);
	sin6.sin6_scope_id = 4294967295U;
	sin6.sin6_port = htons(65535);
	ck_assert_str_eq(addr_format((struct sockaddr *)&sin6, buf,
	    sizeof buf),
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("parse");
	TCase	*tc = tcase_create("parsers");

	tcase_add_test(tc, test_uint);
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_duration_edges);
	tcase_add_test(tc, test_number_edges);
	tcase_add_test(tc, test_addr_parse);
	tcase_add_test(tc, test_addr_message);
	tcase_add_test(tc, test_addr_resolve_format);
	tcase_add_test(tc, test_addr_format_scope);
	tcase_add_test(tc, test_greeting);
	suite_add_tcase(s, tc);
	return (harness_run_suite(s));
}
