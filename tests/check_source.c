/*
 * check_source.c: the per-source table (src/source.c) without a server:
 * caps per address, IPv4 and IPv6 apart, ports ignored, entries reused,
 * and a full table admitting uncounted.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "harness.h"
#include "log.h"
#include "server.h"

/* source.c counts refusals here; its warnings' timers use this base. */
static struct server_stats	 stats_own;
struct server_stats	*server_stats = &stats_own;
struct event_base	*server_base;

/* An IPv4 or IPv6 socket address for a numeric host and port. */
static const struct sockaddr *
addr(const char *host, int port)
{
	static struct sockaddr_storage	 ss;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6		*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, host, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
	}
	return ((struct sockaddr *)&ss);
}

/* Set up a table or fail the test. */
static void
setup(uint64_t cap, uint64_t max_conns)
{
	char	*cause = NULL;

	memset(server_stats, 0, sizeof *server_stats);
	ck_assert_int_eq(source_setup(cap, max_conns, &cause), 0);
}

/* No cap: everything admitted, nothing stored. */
START_TEST(test_no_cap)
{
	int	i;

	setup(0, 100);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(source_admit(addr("127.0.0.1", i)), 0);
	ck_assert_uint_eq(source_count(), 0);
	source_release(addr("127.0.0.1", 1));
	source_free();
}
END_TEST

/* The cap holds per address, whatever the port; release frees a slot. */
START_TEST(test_cap_per_address)
{
	int	i;

	setup(3, 100);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(source_admit(addr("10.0.0.1", 1000 + i)), 0);
	ck_assert_int_eq(source_admit(addr("10.0.0.1", 2000)), -1);
	ck_assert_int_eq(source_admit(addr("10.0.0.1", 2001)), -1);
	ck_assert_uint_eq(server_stats->rejected[REJECT_PER_SOURCE], 2);
	ck_assert_uint_eq(source_open(addr("10.0.0.1", 0)), 3);
	/* Another address is not affected. */
	ck_assert_int_eq(source_admit(addr("10.0.0.2", 1000)), 0);
	ck_assert_uint_eq(source_count(), 2);
	source_release(addr("10.0.0.1", 1001));
	ck_assert_int_eq(source_admit(addr("10.0.0.1", 3000)), 0);
	ck_assert_int_eq(source_admit(addr("10.0.0.1", 3001)), -1);
	source_free();
}
END_TEST

/* IPv6 addresses are keys of their own; IPv4-mapped equals IPv4. */
START_TEST(test_ipv6)
{
	setup(1, 100);
	ck_assert_int_eq(source_admit(addr("2001:db8::1", 1)), 0);
	ck_assert_int_eq(source_admit(addr("2001:db8::1", 2)), -1);
	ck_assert_int_eq(source_admit(addr("2001:db8::2", 1)), 0);
	ck_assert_int_eq(source_admit(addr("::1", 1)), 0);
	ck_assert_int_eq(source_admit(addr("192.0.2.7", 1)), 0);
	ck_assert_int_eq(source_admit(addr("::ffff:192.0.2.7", 9)), -1);
	ck_assert_uint_eq(source_count(), 4);
	source_release(addr("::ffff:192.0.2.7", 5));
	ck_assert_uint_eq(source_count(), 3);
	ck_assert_int_eq(source_admit(addr("192.0.2.7", 1)), 0);
	source_free();
}
END_TEST

/* Entries that fall to 0 are reused: the table never grows. */
START_TEST(test_reuse)
{
	char	host[32];
	int	round, i;

	setup(2, 16);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < 16; i++) {
			snprintf(host, sizeof host, "10.%d.%d.1", round, i);
			ck_assert_int_eq(source_admit(addr(host, 1)), 0);
			ck_assert_int_eq(source_admit(addr(host, 2)), 0);
			ck_assert_int_eq(source_admit(addr(host, 3)), -1);
		}
		ck_assert_uint_eq(source_count(), 16);
		for (i = 15; i >= 0; i--) {
			snprintf(host, sizeof host, "10.%d.%d.1", round, i);
			source_release(addr(host, 1));
			source_release(addr(host, 2));
		}
		ck_assert_uint_eq(source_count(), 0);
	}
	/* Releasing an address never seen changes nothing. */
	source_release(addr("10.9.9.9", 1));
	ck_assert_uint_eq(source_count(), 0);
	source_free();
}
END_TEST

/* A full table admits newcomers uncounted; known sources stay capped. */
START_TEST(test_full_table)
{
	char	host[32];
	int	i;

	setup(1, 8);
	for (i = 0; i < 8; i++) {
		snprintf(host, sizeof host, "10.0.0.%d", i + 1);
		ck_assert_int_eq(source_admit(addr(host, 1)), 0);
	}
	ck_assert_uint_eq(source_count(), 8);
	/* Beyond eight addresses: admitted, not counted, not capped. */
	ck_assert_int_eq(source_admit(addr("10.0.1.1", 1)), 0);
	ck_assert_int_eq(source_admit(addr("10.0.1.1", 2)), 0);
	ck_assert_uint_eq(source_open(addr("10.0.1.1", 0)), 0);
	ck_assert_int_eq(source_admit(addr("10.0.0.1", 2)), -1);
	ck_assert_uint_eq(source_count(), 8);
	/* A freed entry is taken by the next newcomer. */
	source_release(addr("10.0.0.3", 1));
	ck_assert_int_eq(source_admit(addr("10.0.1.1", 3)), 0);
	ck_assert_uint_eq(source_open(addr("10.0.1.1", 0)), 1);
	source_free();
}
END_TEST

/* The table is sized by --max-conns, at most SOURCE_MAX_ENTRIES. */
START_TEST(test_size_bound)
{
	char	host[32];
	int	i;

	setup(1, 100000000);
	for (i = 0; i < SOURCE_MAX_ENTRIES + 10; i++) {
		snprintf(host, sizeof host, "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		ck_assert_int_eq(source_admit(addr(host, 1)), 0);
	}
	ck_assert_uint_eq(source_count(), SOURCE_MAX_ENTRIES);
	source_free();
}
END_TEST

static Suite *
source_suite(void)
{
	Suite	*s = suite_create("source");
	TCase	*tc = tcase_create("table");

	tcase_add_test(tc, test_no_cap);
	tcase_add_test(tc, test_cap_per_address);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_reuse);
	tcase_add_test(tc, test_full_table);
	tcase_add_test(tc, test_size_bound);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	log_init("check_source", LOG_LEVEL_ERROR);
	if ((server_base = event_base_new()) == NULL)
		return (1);
	log_limit_setup(server_base);
	return (harness_run_suite(source_suite()));
}
