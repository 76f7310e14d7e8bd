/*
 * check_proxy.c: unit tests for the PROXY protocol header parser
 * (proxy.c) and address blocks (cidr.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "harness.h"
#include "proxy.h"

#define V2_SIG	"\r\n\r\n\0\r\nQUIT\n"

/* A v2 header: the fixed part, then len bytes of body; its length. */
static size_t
v2_build(unsigned char *buf, unsigned char vercmd, unsigned char fam,
    const void *body, size_t len)
{
	memcpy(buf, V2_SIG, 12);
	buf[12] = vercmd;
	buf[13] = fam;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	if (len > 0)
		memcpy(buf + 16, body, len);
	return (16 + len);
}

/*
 * Check that every proper prefix of the n-byte header at buf asks for
 * more, never for more than the header holds, then that the whole of it
 * is OK and consumed exactly, with or without client data after it.
 */
static void
check_header(const void *hdr, size_t n, struct proxy_result *r)
{
	unsigned char		 buf[PROXY_V2_MAX + 64], *prefix;
	static const char	 data[] = "GET / HTTP/1.1\r\n\r\n";
	struct proxy_result	 r2;
	const char		*why;
	size_t			 k;

	ck_assert_uint_le(n + sizeof data, sizeof buf);
	memcpy(buf, hdr, n);
	for (k = 0; k < n; k++) {
		/* A copy of just k bytes, for the sanitizers to guard. */
		ck_assert_ptr_nonnull(prefix = malloc(k > 0 ? k : 1));
		memcpy(prefix, hdr, k);
		ck_assert_msg(proxy_parse(prefix, k, &r2, &why) == PROXY_NEED,
		    "prefix %zu of %zu: %s", k, n, why ? why : "OK");
		free(prefix);
		ck_assert_uint_gt(r2.need, k);
		ck_assert_uint_le(r2.need, n);
		if (r2.need_line)
			ck_assert_int_eq(r2.version, 1);
	}
	why = "unset";
	ck_assert_msg(proxy_parse(buf, n, r, &why) == PROXY_OK, "%zu bytes: %s",
	    n, why ? why : "?");
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(r->consumed, n);

	memcpy(buf + n, data, sizeof data - 1);
	for (k = 1; k < sizeof data; k++) {
		ck_assert_int_eq(proxy_parse(buf, n + k, &r2, NULL), PROXY_OK);
		ck_assert_uint_eq(r2.consumed, n);
		ck_assert_int_eq(r2.local, r->local);
		ck_assert_int_eq(r2.version, r->version);
		ck_assert_int_eq(r2.srclen, r->srclen);
		ck_assert_int_eq(memcmp(&r2.src, &r->src, sizeof r->src), 0);
		ck_assert_int_eq(memcmp(&r2.dst, &r->dst, sizeof r->dst), 0);
	}
}

/* check_header on a string. */
static void
check_line(const char *line, struct proxy_result *r)
{
	check_header(line, strlen(line), r);
	ck_assert_int_eq(r->version, 1);
}

/* Check that the n bytes at buf are refused, with a reason. */
static void
check_bad(const void *buf, size_t n)
{
	struct proxy_result	 r;
	const char		*why = NULL;

	ck_assert_msg(proxy_parse(buf, n, &r, &why) == PROXY_BAD,
	    "accepted: '%.*s'", (int)n, (const char *)buf);
	ck_assert_ptr_nonnull(why);
}

/* check_bad on a string. */
static void
check_bad_line(const char *line)
{
	check_bad(line, strlen(line));
}

/* Check that sa is the IPv4 address text with port. */
static void
check_inet(const struct sockaddr_storage *ss, socklen_t len,
    const char *text, unsigned port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	struct in_addr			 want;

	ck_assert_int_eq(ss->ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof *sin);
	ck_assert_int_eq(inet_pton(AF_INET, text, &want), 1);
	ck_assert_int_eq(memcmp(&sin->sin_addr, &want, sizeof want), 0);
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
}

/* Check that sa is the IPv6 address text with port. */
static void
check_inet6(const struct sockaddr_storage *ss, socklen_t len,
    const char *text, unsigned port)
{
	const struct sockaddr_in6	*sin6 =
	    (const struct sockaddr_in6 *)ss;
	struct in6_addr			 want;

	ck_assert_int_eq(ss->ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof *sin6);
	ck_assert_int_eq(inet_pton(AF_INET6, text, &want), 1);
	ck_assert_int_eq(memcmp(&sin6->sin6_addr, &want, sizeof want), 0);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
}

/* v1 TCP4 and TCP6: the spec's example and its longest lines. */
START_TEST(test_v1_tcp)
{
	struct proxy_result	 r;
	static const char	 v6max[] = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	check_line("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", &r);
	ck_assert_int_eq(r.local, 0);
	check_inet(&r.src, r.srclen, "192.168.0.1", 56324);
	check_inet(&r.dst, r.dstlen, "192.168.0.11", 443);

	check_line("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
	    &r);
	ck_assert_uint_eq(r.consumed, 56);
	check_inet(&r.src, r.srclen, "255.255.255.255", 65535);

	check_line("PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", &r);
	check_inet(&r.src, r.srclen, "0.0.0.0", 0);
	check_inet(&r.dst, r.dstlen, "10.0.0.1", 0);

	ck_assert_uint_eq(strlen(v6max), 104);
	check_line(v6max, &r);
	ck_assert_int_eq(r.local, 0);
	check_inet6(&r.src, r.srclen, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    65535);

	check_line("PROXY TCP6 2001:db8::1 ::1 1 7\r\n", &r);
	check_inet6(&r.src, r.srclen, "2001:db8::1", 1);
	check_inet6(&r.dst, r.dstlen, "::1", 7);
	/* Upper case hex, and the mapped form inet_ntop writes. */
	check_line("PROXY TCP6 2001:DB8::A ::ffff:192.0.2.1 443 8443\r\n", &r);
	check_inet6(&r.src, r.srclen, "2001:db8::a", 443);
	check_inet6(&r.dst, r.dstlen, "::ffff:192.0.2.1", 8443);
}
END_TEST

/* v1 UNKNOWN: the short form, the longest line, anything before CRLF. */
START_TEST(test_v1_unknown)
{
	struct proxy_result	 r;
	char			 line[200];
	static const char	 longest[] = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";

	check_line("PROXY UNKNOWN\r\n", &r);
	ck_assert_int_eq(r.local, 1);
	ck_assert_uint_eq(r.consumed, PROXY_MIN);
	ck_assert_uint_eq(r.srclen, 0);

	ck_assert_uint_eq(strlen(longest), PROXY_V1_MAX);
	check_line(longest, &r);
	ck_assert_int_eq(r.local, 1);

	check_line("PROXY UNKNOWN anything at all, \x01\xff\t\r\n", &r);
	ck_assert_int_eq(r.local, 1);
	check_line("PROXY UNKNOWN \r\n", &r);

	/* One more byte before the CRLF is too long, as is no CRLF. */
	snprintf(line, sizeof line, "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n");
	ck_assert_uint_eq(strlen(line), PROXY_V1_MAX + 1);
	check_bad_line(line);
	memset(line, 'x', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	check_bad(line, 108);
	check_bad(line, PROXY_V1_MAX);
	line[PROXY_V1_MAX - 1] = '\r';
	check_bad(line, PROXY_V1_MAX);
	check_bad(line, PROXY_V1_MAX + 1);
}
END_TEST

/* v1 lines that break the spec's grammar. */
START_TEST(test_v1_bad)
{
	static const char *const bad[] = {
		"proxy TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY unknown\r\n",
		"PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324  443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n",
		" PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY\tTCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1\t192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11\r\n",
		"PROXY TCP4\r\n",
		"PROXY TCP4 \r\n",
		"PROXY \r\n",
		"PROXY\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 65536\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 99999 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 123456 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 0443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 00 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 +1 443\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 0x50 443\r\n",
		"PROXY TCP4 192.168.000.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1 010.0.0.1 56324 443\r\n",
		"PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1.5 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168..1 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 192.168.0.1. 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 3232235521 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 localhost 192.168.0.11 56324 443\r\n",
		"PROXY TCP4 ::1 ::1 56324 443\r\n",
		"PROXY TCP4 ::ffff:192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP6 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY TCP6 ::1 192.168.0.11 56324 443\r\n",
		"PROXY TCP6 fe80::1%eth0 ::1 56324 443\r\n",
		"PROXY TCP6 [::1] ::1 56324 443\r\n",
		"PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 56324 443\r\n",
		"PROXY TCP6 1::2::3 ::1 56324 443\r\n",
		"PROXY TCP6 ::1 ::1 56324 65536\r\n",
		"PROXY TCP5 ::1 ::1 56324 443\r\n",
		"PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY UNKNOWN\n",
		"PROXY UNKNOWN\rX\r\n",
		"PROXY UNKNOWN\n\r\n",
		"PROXY UNKNOWN \r\r\n",
		"PROXY UNKNOWN a\nb\r\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n\r",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rGET",
		"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n",
		"PROXYTCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
		"GET / HTTP/1.1\r\n",
		"SSH-2.0-OpenSSH_9.6\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"P\r\n",
	};
	static const char nul[] = "PROXY TCP6 ::1\0 ::1 1 2\r\n";
	size_t	i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_bad_line(bad[i]);
	check_bad(nul, sizeof nul - 1);
	check_bad("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33);
	/* A refusal comes as soon as the bytes allow. */
	check_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31);
	check_bad("PROXY X", 7);
	check_bad("PROXY TCP7", 10);
	check_bad("PROXX", 5);
	check_bad("Q", 1);
	check_bad("PROXY \n", 7);
}
END_TEST

/* The reason names what is wrong. */
START_TEST(test_why)
{
	struct proxy_result	 r;
	const char		*why;

	ck_assert_int_eq(proxy_parse((const unsigned char *)"GET / HTTP/1.0",
	    14, &r, &why), PROXY_BAD);
	ck_assert_str_eq(why, "not a PROXY protocol header");
	ck_assert_int_eq(proxy_parse((const unsigned char *)
	    "PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n", 36, &r, &why),
	    PROXY_BAD);
	ck_assert_ptr_nonnull(strstr(why, "source port"));
	ck_assert_int_eq(proxy_parse((const unsigned char *)
	    "PROXY TCP6 1.2.3.4 ::1 1 1\r\n", 28, &r, &why), PROXY_BAD);
	ck_assert_ptr_nonnull(strstr(why, "source address"));
	/* No reason is needed. */
	ck_assert_int_eq(proxy_parse((const unsigned char *)"Q", 1, &r, NULL),
	    PROXY_BAD);
}
END_TEST

/* What the parser asks for before it can decide. */
START_TEST(test_need)
{
	struct proxy_result	 r;
	char			 line[PROXY_V1_MAX + 1];

	ck_assert_int_eq(proxy_parse((const unsigned char *)"", 0, &r, NULL),
	    PROXY_NEED);
	ck_assert_uint_eq(r.need, PROXY_MIN);
	ck_assert_int_eq(r.need_line, 0);

	ck_assert_int_eq(proxy_parse((const unsigned char *)"PRO", 3, &r,
	    NULL), PROXY_NEED);
	ck_assert_uint_eq(r.need, PROXY_MIN);
	ck_assert_int_eq(r.need_line, 1);
	ck_assert_int_eq(r.version, 1);

	ck_assert_int_eq(proxy_parse((const unsigned char *)"\r\n\r", 3, &r,
	    NULL), PROXY_NEED);
	ck_assert_uint_eq(r.need, 16);
	ck_assert_int_eq(r.need_line, 0);
	ck_assert_int_eq(r.version, 2);

	/* A CR at the end may yet be followed by its LF. */
	ck_assert_int_eq(proxy_parse((const unsigned char *)
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31, &r, NULL), PROXY_NEED);
	ck_assert_uint_eq(r.need, 32);
	ck_assert_int_eq(r.need_line, 1);

	/* 106 bytes without CRLF may end at 107; 107 may not. */
	memset(line, 'x', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	ck_assert_int_eq(proxy_parse((const unsigned char *)line,
	    PROXY_V1_MAX - 1, &r, NULL), PROXY_NEED);
	ck_assert_uint_eq(r.need, PROXY_V1_MAX);
	line[PROXY_V1_MAX - 2] = '\r';
	line[PROXY_V1_MAX - 1] = '\n';
	ck_assert_int_eq(proxy_parse((const unsigned char *)line,
	    PROXY_V1_MAX, &r, NULL), PROXY_OK);
	ck_assert_uint_eq(r.consumed, PROXY_V1_MAX);
}
END_TEST

/* v2 LOCAL, PROXY over TCP4 and TCP6, with and without TLVs. */
START_TEST(test_v2)
{
	unsigned char		 buf[PROXY_V2_MAX], body[PROXY_V2_MAX];
	struct proxy_result	 r;
	size_t			 n;
	static const unsigned char v4[12] = {
		192, 0, 2, 1,  198, 51, 100, 7,  0xdc, 0x04,  0x01, 0xbb
	};
	static const unsigned char tlvs[] = {
		0x04, 0x00, 0x00,			/* NOOP, empty */
		0x01, 0x00, 0x02, 'h', '2',		/* ALPN */
		0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
		'c', 'o', 'm',				/* AUTHORITY */
		0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0,	/* SSL, no sub-TLVs */
	};

	/* LOCAL: a health check; whatever follows is skipped. */
	n = v2_build(buf, 0x20, 0x00, NULL, 0);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.version, 2);
	ck_assert_int_eq(r.local, 1);
	ck_assert_uint_eq(r.srclen, 0);
	n = v2_build(buf, 0x20, 0x11, v4, sizeof v4);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	ck_assert_uint_eq(r.consumed, 28);
	/* LOCAL ignores the family, even one that is no family at all. */
	n = v2_build(buf, 0x20, 0xff, "\x01\x02\x03", 3);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);

	n = v2_build(buf, 0x21, 0x11, v4, sizeof v4);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 0);
	check_inet(&r.src, r.srclen, "192.0.2.1", 56324);
	check_inet(&r.dst, r.dstlen, "198.51.100.7", 443);

	memcpy(body, v4, sizeof v4);
	memcpy(body + sizeof v4, tlvs, sizeof tlvs);
	n = v2_build(buf, 0x21, 0x11, body, sizeof v4 + sizeof tlvs);
	check_header(buf, n, &r);
	check_inet(&r.src, r.srclen, "192.0.2.1", 56324);

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", body), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::2", body + 16), 1);
	memcpy(body + 32, "\x00\x00\xff\xff", 4);
	n = v2_build(buf, 0x21, 0x21, body, 36);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 0);
	check_inet6(&r.src, r.srclen, "2001:db8::1", 0);
	check_inet6(&r.dst, r.dstlen, "2001:db8::2", 65535);
	memcpy(body + 36, tlvs, sizeof tlvs);
	n = v2_build(buf, 0x21, 0x21, body, 36 + sizeof tlvs);
	check_header(buf, n, &r);
	check_inet6(&r.src, r.srclen, "2001:db8::1", 0);

	/* The longest accepted: one NOOP TLV filling it to PROXY_V2_MAX. */
	memcpy(body, v4, sizeof v4);
	memset(body + 12, 0, sizeof body - 12);
	body[12] = 0x04;
	body[13] = (PROXY_V2_MAX - 16 - 12 - 3) >> 8;
	body[14] = (PROXY_V2_MAX - 16 - 12 - 3) & 0xff;
	n = v2_build(buf, 0x21, 0x11, body, PROXY_V2_MAX - 16);
	ck_assert_uint_eq(n, PROXY_V2_MAX);
	check_header(buf, n, &r);
	check_inet(&r.src, r.srclen, "192.0.2.1", 56324);
}
END_TEST

/* v2 families that name no TCP client: the real peer stands. */
START_TEST(test_v2_families)
{
	unsigned char		 buf[PROXY_V2_MAX], body[300];
	struct proxy_result	 r;
	size_t			 n;

	memset(body, 0x5a, sizeof body);
	/* UNSPEC: address information, if any, is skipped unread. */
	n = v2_build(buf, 0x21, 0x00, NULL, 0);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	n = v2_build(buf, 0x21, 0x00, body, 7);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	ck_assert_uint_eq(r.consumed, 23);

	/* UDP and UNIX: local, but the address block must be whole. */
	memset(body, 0, sizeof body);
	n = v2_build(buf, 0x21, 0x12, body, 12);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	ck_assert_uint_eq(r.srclen, 0);
	n = v2_build(buf, 0x21, 0x22, body, 36);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	n = v2_build(buf, 0x21, 0x31, body, 216);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	n = v2_build(buf, 0x21, 0x32, body, 216 + 3);
	check_header(buf, n, &r);
	ck_assert_int_eq(r.local, 1);
	n = v2_build(buf, 0x21, 0x12, body, 11);
	check_bad(buf, n);
	n = v2_build(buf, 0x21, 0x22, body, 35);
	check_bad(buf, n);
	n = v2_build(buf, 0x21, 0x31, body, 215);
	check_bad(buf, n);
	/* ... and TLVs after it whole too. */
	n = v2_build(buf, 0x21, 0x12, "\0\0\0\0\0\0\0\0\0\0\0\0\x04\0\x01",
	    15);
	check_bad(buf, n);
}
END_TEST

/* v2 headers to refuse. */
START_TEST(test_v2_bad)
{
	unsigned char		 buf[PROXY_V2_MAX + 16], body[300];
	struct proxy_result	 r;
	const char		*why;
	size_t			 n;
	static const unsigned char fams[] = {
		0x01, 0x02, 0x03, 0x10, 0x13, 0x20, 0x23, 0x30, 0x33, 0x41,
		0x44, 0xf1, 0x1f, 0xff,
	};
	static const unsigned char vers[] = {
		0x01, 0x11, 0x31, 0xf1, 0x00, 0x10,
	};

	memset(body, 0, sizeof body);
	for (n = 0; n < sizeof vers; n++) {
		v2_build(buf, vers[n], 0x11, body, 12);
		check_bad(buf, 28);
		/* Known to be bad with the 13th byte. */
		check_bad(buf, 13);
	}
	v2_build(buf, 0x22, 0x11, body, 12);
	check_bad(buf, 28);
	check_bad(buf, 13);
	v2_build(buf, 0x2f, 0x11, body, 12);
	check_bad(buf, 28);
	for (n = 0; n < sizeof fams; n++) {
		v2_build(buf, 0x21, fams[n], body, 216);
		check_bad(buf, 16 + 216);
		check_bad(buf, 14);
	}

	/* Too short for the family. */
	n = v2_build(buf, 0x21, 0x11, body, 11);
	check_bad(buf, n);
	check_bad(buf, 16);
	n = v2_build(buf, 0x21, 0x21, body, 35);
	check_bad(buf, n);
	n = v2_build(buf, 0x21, 0x21, body, 12);
	check_bad(buf, n);
	n = v2_build(buf, 0x21, 0x11, body, 0);
	check_bad(buf, n);

	/* Longer than PROXY_V2_MAX: refused from the fixed part alone. */
	v2_build(buf, 0x21, 0x11, body, 12);
	buf[14] = (PROXY_V2_MAX - 16 + 1) >> 8;
	buf[15] = (PROXY_V2_MAX - 16 + 1) & 0xff;
	check_bad(buf, 16);
	check_bad(buf, 28);
	buf[14] = buf[15] = 0xff;
	check_bad(buf, 16);
	v2_build(buf, 0x20, 0x00, NULL, 0);
	buf[14] = buf[15] = 0xff;
	ck_assert_int_eq(proxy_parse(buf, 16, &r, &why), PROXY_BAD);
	ck_assert_ptr_nonnull(strstr(why, "too long"));

	/* TLVs: one running past the end, one cut short, a stray byte. */
	memset(body, 0, sizeof body);
	memcpy(body + 12, "\x01\x00\x05h2", 5);
	n = v2_build(buf, 0x21, 0x11, body, 17);
	ck_assert_int_eq(proxy_parse(buf, n, &r, &why), PROXY_BAD);
	ck_assert_ptr_nonnull(strstr(why, "TLV"));
	/* ...however many bytes of client data follow. */
	memset(buf + n, 'x', 16);
	check_bad(buf, n + 16);
	memcpy(body + 12, "\x04\x00\x00\x01\x00", 5);
	n = v2_build(buf, 0x21, 0x11, body, 17);
	check_bad(buf, n);
	memcpy(body + 12, "\x04\x00\x00\x01", 4);
	n = v2_build(buf, 0x21, 0x11, body, 16);
	check_bad(buf, n);
	memcpy(body + 36, "\x04\xff\xff", 3);
	n = v2_build(buf, 0x21, 0x21, body, 39);
	check_bad(buf, n);

	/* Not the signature. */
	n = v2_build(buf, 0x21, 0x11, body, 12);
	buf[4] = 'x';
	check_bad(buf, n);
	check_bad(buf, 5);
	check_bad("\r\n\r\n\0\r\nQUIT\r", 12);
	check_bad("\r\r", 2);
}
END_TEST

/* A sockaddr from text: IPv4 or IPv6. */
static const struct sockaddr *
sa_of(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
	}
	return ((const struct sockaddr *)ss);
}

/* Return 1 if block (which must parse) holds the address text. */
static int
in_block(const char *block, const char *text)
{
	struct cidr		c;
	struct sockaddr_storage	ss;
	char			*cause = NULL;

	ck_assert_msg(cidr_parse(block, &c, &cause) == 0, "%s: %s", block,
	    cause);
	return (cidr_match(&c, sa_of(&ss, text)));
}

/* cidr_parse: blocks, bare addresses, and what it refuses. */
START_TEST(test_cidr_parse)
{
	struct cidr	 c;
	char		*cause = NULL;
	size_t		 i;
	static const char *const bad[] = {
		"", "/24", "192.0.2.0/", "192.0.2.0/33", "192.0.2.0/+24",
		"192.0.2.0/ 24", "192.0.2.0/-1", "192.0.2.0/24 ",
		" 192.0.2.0/24", "192.0.2.0/024", "192.0.2.0/2x",
		"192.0.2.0/24/24", "192.0.2.0/99999999999999999999999",
		"2001:db8::/129", "::/1280", "example.org", "192.0.2",
		"192.0.2.0.0/24", "[::1]", "[::1]/128", "fe80::1%eth0",
		"fe80::%1/64", "fe80::1%eth0/128", "0x7f000001",
		"2001:db8:::/48",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/0",
	};

	ck_assert_int_eq(cidr_parse("192.0.2.0/24", &c, NULL), 0);
	ck_assert_int_eq(c.family, AF_INET);
	ck_assert_uint_eq(c.prefix, 24);
	ck_assert_int_eq(memcmp(c.addr, "\xc0\x00\x02\x00", 4), 0);

	ck_assert_int_eq(cidr_parse("2001:db8::/32", &c, NULL), 0);
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(memcmp(c.addr, "\x20\x01\x0d\xb8", 4), 0);

	ck_assert_int_eq(cidr_parse("192.0.2.1", &c, NULL), 0);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(cidr_parse("192.0.2.1/32", &c, NULL), 0);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(cidr_parse("::1", &c, NULL), 0);
	ck_assert_int_eq(c.family, AF_INET6);
	ck_assert_uint_eq(c.prefix, 128);
	ck_assert_int_eq(cidr_parse("2001:db8::1/128", &c, NULL), 0);
	ck_assert_uint_eq(c.prefix, 128);
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c, NULL), 0);
	ck_assert_uint_eq(c.prefix, 0);
	ck_assert_int_eq(cidr_parse("::/0", &c, NULL), 0);
	ck_assert_uint_eq(c.prefix, 0);
	ck_assert_int_eq(cidr_parse("::ffff:192.0.2.0/120", &c, NULL), 0);
	ck_assert_int_eq(c.family, AF_INET6);

	/* Host bits: the message names the network probably meant. */
	ck_assert_int_eq(cidr_parse("192.0.2.1/24", &c, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "192.0.2.0/24"));
	ck_assert_ptr_nonnull(strstr(cause, "'192.0.2.1/24'"));
	free(cause);
	ck_assert_int_eq(cidr_parse("2001:db8::1/32", &c, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "2001:db8::/32"));
	free(cause);
	ck_assert_int_eq(cidr_parse("10.1.2.3/0", &c, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "0.0.0.0/0"));
	free(cause);
	ck_assert_int_eq(cidr_parse("192.0.2.129/25", &c, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "192.0.2.128/25"));
	free(cause);

	ck_assert_int_eq(cidr_parse("fe80::1%eth0", &c, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "zone"));
	free(cause);
	ck_assert_int_eq(cidr_parse("192.0.2.0/33", &c, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "0 to 32"));
	free(cause);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		memset(&c, 0x55, sizeof c);
		ck_assert_msg(cidr_parse(bad[i], &c, &cause) == -1,
		    "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(cause);
		ck_assert_int_eq(c.family, 0x55555555);
		free(cause);
		ck_assert_int_eq(cidr_parse(bad[i], &c, NULL), -1);
	}
}
END_TEST

/* cidr_match: inside, outside, /0, whole addresses, mapped IPv4. */
START_TEST(test_cidr_match)
{
	struct cidr		c;
	struct sockaddr_un	sun;

	ck_assert_int_eq(in_block("192.0.2.0/24", "192.0.2.0"), 1);
	ck_assert_int_eq(in_block("192.0.2.0/24", "192.0.2.255"), 1);
	ck_assert_int_eq(in_block("192.0.2.0/24", "192.0.3.0"), 0);
	ck_assert_int_eq(in_block("192.0.2.0/24", "192.0.1.255"), 0);
	ck_assert_int_eq(in_block("192.0.2.0/24", "::ffff:192.0.2.1"), 1);
	ck_assert_int_eq(in_block("192.0.2.0/24", "::ffff:192.0.3.1"), 0);
	ck_assert_int_eq(in_block("192.0.2.0/24", "::192.0.2.1"), 0);
	ck_assert_int_eq(in_block("192.0.2.0/24", "2001:db8::1"), 0);
	ck_assert_int_eq(in_block("192.0.2.128/25", "192.0.2.200"), 1);
	ck_assert_int_eq(in_block("192.0.2.128/25", "192.0.2.127"), 0);
	ck_assert_int_eq(in_block("192.0.2.1", "192.0.2.1"), 1);
	ck_assert_int_eq(in_block("192.0.2.1/32", "192.0.2.2"), 0);
	ck_assert_int_eq(in_block("192.0.2.1/32", "::ffff:192.0.2.1"), 1);
	ck_assert_int_eq(in_block("0.0.0.0/0", "203.0.113.9"), 1);
	ck_assert_int_eq(in_block("0.0.0.0/0", "::ffff:203.0.113.9"), 1);
	ck_assert_int_eq(in_block("0.0.0.0/0", "2001:db8::1"), 0);
	ck_assert_int_eq(in_block("128.0.0.0/1", "127.255.255.255"), 0);
	ck_assert_int_eq(in_block("128.0.0.0/1", "128.0.0.0"), 1);

	ck_assert_int_eq(in_block("2001:db8::/32", "2001:db8:ffff::1"), 1);
	ck_assert_int_eq(in_block("2001:db8::/32", "2001:db9::"), 0);
	ck_assert_int_eq(in_block("2001:db8::/33", "2001:db8:8000::"), 0);
	ck_assert_int_eq(in_block("2001:db8::/33", "2001:db8:7fff::"), 1);
	ck_assert_int_eq(in_block("2001:db8::1/128", "2001:db8::1"), 1);
	ck_assert_int_eq(in_block("2001:db8::1", "2001:db8::2"), 0);
	ck_assert_int_eq(in_block("::1", "::1"), 1);
	ck_assert_int_eq(in_block("::/0", "2001:db8::1"), 1);
	/* An IPv4 peer is its mapped address, inside an IPv6 block too. */
	ck_assert_int_eq(in_block("::ffff:192.0.2.0/120", "192.0.2.9"), 1);
	ck_assert_int_eq(in_block("::ffff:192.0.2.0/120", "192.0.3.9"), 0);
	ck_assert_int_eq(in_block("2001:db8::/32", "192.0.2.9"), 0);

	/* Not an internet address: never in a block. */
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c, NULL), 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&sun), 0);
	ck_assert_int_eq(cidr_parse("::/0", &c, NULL), 0);
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&sun), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*tc = tcase_create("proxy");

	tcase_add_test(tc, test_v1_tcp);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_test(tc, test_v1_bad);
	tcase_add_test(tc, test_why);
	tcase_add_test(tc, test_need);
	tcase_add_test(tc, test_v2);
	tcase_add_test(tc, test_v2_families);
	tcase_add_test(tc, test_v2_bad);
	tcase_add_test(tc, test_cidr_parse);
	tcase_add_test(tc, test_cidr_match);
	suite_add_tcase(s, tc);
	return (harness_run_suite(s));
}
