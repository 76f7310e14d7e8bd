/*
 * check_server.c: evecho-server end to end.  Each test starts its own
 * server on 127.0.0.1:0 (or ::1), reads the port from the readiness line,
 * and stops it by PID; a server outlives no test (see harness.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define T_MS	10000	/* the deadline for any single exchange */

static struct harness_proc	srv;

/* Start a server with extra args or fail the test. */
static void
start(const char *const extra[])
{
	ck_assert_msg(harness_server_start(&srv, extra) == 0,
	    "evecho-server did not become ready");
}

/* Stop the server with SIGTERM; it must exit 0. */
static void
stop_clean(void)
{
	ck_assert_int_eq(harness_stop(&srv, SIGTERM, T_MS), 0);
}

/* Connect to the server's first listener. */
static int
dial(void)
{
	int	fd = harness_connect("127.0.0.1", srv.ports[0], T_MS);

	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return (fd);
}

/* Send buf and expect exactly it back. */
static void
roundtrip(int fd, const void *buf, size_t len)
{
	char	*back = malloc(len);

	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(harness_send_all(fd, buf, len, T_MS), 0);
	ck_assert_int_eq(harness_recv_exact(fd, back, len, T_MS), 0);
	ck_assert_int_eq(memcmp(buf, back, len), 0);
	free(back);
}

/* One line in, the same line out; readiness names 127.0.0.1. */
START_TEST(test_simple_echo)
{
	int	fd;

	start(NULL);
	ck_assert_int_eq(srv.nports, 1);
	ck_assert_int_gt(srv.ports[0], 0);
	ck_assert_int_eq(strncmp(srv.addrs[0], "127.0.0.1:", 10), 0);
	fd = dial();
	roundtrip(fd, "hello, echo\n", 12);
	roundtrip(fd, "\0\377binary\r\n\0", 11);
	close(fd);
	stop_clean();
}
END_TEST

static Suite *
server_suite(void)
{
	Suite	*s = suite_create("server");
	TCase	*tc = tcase_create("echo");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_simple_echo);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(server_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}
