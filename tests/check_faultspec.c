/* check_faultspec.c: unit tests for the --fault SPEC parser (faultspec.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultspec.h"
#include "harness.h"

/* Parse s, which must succeed; *f is what it gave. */
static void
good(const char *s, struct fault_spec *f)
{
	char	*cause = NULL;

	ck_assert_msg(faultspec_parse(s, f, &cause) == 0, "%s: %s", s,
	    cause ? cause : "?");
	free(cause);
}

/* Parse s, which must fail with a cause containing want. */
static void
bad(const char *s, const char *want)
{
	struct fault_spec	 f;
	char			*cause = NULL;

	ck_assert_msg(faultspec_parse(s, &f, &cause) == -1, "%s: accepted", s);
	ck_assert_msg(cause != NULL && strstr(cause, want) != NULL,
	    "%s: cause '%s' lacks '%s'", s, cause ? cause : "(none)", want);
	free(cause);
}

START_TEST(test_kinds)
{
	struct fault_spec	f;

	good("delay=20ms~5ms", &f);
	ck_assert_int_eq(f.kind, FAULT_DELAY);
	ck_assert_uint_eq(f.arg, 20000);
	ck_assert_uint_eq(f.jitter_us, 5000);
	ck_assert_uint_eq(f.ppm, FAULT_ALWAYS);
	good("delay=1.5s", &f);
	ck_assert_uint_eq(f.arg, 1500000);
	ck_assert_uint_eq(f.jitter_us, 0);
	good("rate=64k", &f);
	ck_assert_int_eq(f.kind, FAULT_RATE);
	ck_assert_uint_eq(f.arg, 65536);
	good("chunk=1", &f);
	ck_assert_int_eq(f.kind, FAULT_CHUNK);
	ck_assert_uint_eq(f.arg, 1);
	good("refuse", &f);
	ck_assert_int_eq(f.kind, FAULT_REFUSE);
	good("corrupt@1%", &f);
	ck_assert_int_eq(f.kind, FAULT_CORRUPT);
	ck_assert_uint_eq(f.ppm, 10000);
	good("drop@0.5%", &f);
	ck_assert_int_eq(f.kind, FAULT_DROP);
	ck_assert_uint_eq(f.ppm, 5000);
	good("duplicate@100%", &f);
	ck_assert_uint_eq(f.ppm, FAULT_ALWAYS);
	good("reorder=10ms@0.0001%", &f);
	ck_assert_int_eq(f.kind, FAULT_REORDER);
	ck_assert_uint_eq(f.arg, 10000);
	ck_assert_uint_eq(f.ppm, 1);
}
END_TEST

/* The issue's own example, and sizes against durations in *-after. */
START_TEST(test_after)
{
	struct fault_spec	f;

	good("reset-after=1m@10%", &f);
	ck_assert_int_eq(f.kind, FAULT_RESET_AFTER);
	ck_assert_int_eq(f.after_time, 0);
	ck_assert_uint_eq(f.arg, 1 << 20);
	ck_assert_uint_eq(f.ppm, 100000);
	good("close-after=1min", &f);
	ck_assert_int_eq(f.kind, FAULT_CLOSE_AFTER);
	ck_assert_int_eq(f.after_time, 1);
	ck_assert_uint_eq(f.arg, 60000000);
	good("stall-after=250ms", &f);
	ck_assert_int_eq(f.after_time, 1);
	ck_assert_uint_eq(f.arg, 250000);
	good("stall-after=2s", &f);
	ck_assert_int_eq(f.after_time, 1);
	good("reset-after=1000", &f);
	ck_assert_int_eq(f.after_time, 0);
	ck_assert_uint_eq(f.arg, 1000);
	good("reset-after=0", &f);
	ck_assert_uint_eq(f.arg, 0);
	good("close-after=1h", &f);
	ck_assert_uint_eq(f.arg, 3600000000ULL);
	good("close-after=4kib", &f);
	ck_assert_int_eq(f.after_time, 0);
	ck_assert_uint_eq(f.arg, 4096);
}
END_TEST

START_TEST(test_bad)
{
	bad("", "unknown kind");
	bad("dleay=20ms", "unknown kind");
	bad("delay", "needs a value");
	bad("delay=", "needs a value");
	bad("refuse=1", "takes no value");
	bad("drop=5", "takes no value");
	bad("delay=20q", "delay:");
	bad("delay=20ms~30ms", "jitter");
	bad("delay=20ms~", "delay:");
	bad("delay=2h", "out of range");
	bad("rate=0", "rate:");
	bad("chunk=0", "chunk:");
	bad("chunk=1q", "chunk:");
	bad("reset-after=1m@", "probability");
	bad("reset-after=1m@10", "percentage");
	bad("reset-after=1m@0%", "out of range");
	bad("reset-after=1m@100.01%", "out of range");
	bad("reset-after=1m@-1%", "percentage");
	bad("reset-after=1m@1.%", "percentage");
	bad("reset-after=1m@10%%", "percentage");
	bad("reset-after=-1", "reset-after:");
	bad("reorder=0", "reorder:");
	bad("corrupt@1%@2%", "unknown kind");
	bad("delay=20ms\n", "delay:");
	bad("\xff\xfe", "unknown kind");
}
END_TEST

/* A spec longer than the limit is refused, not truncated. */
START_TEST(test_long)
{
	char	s[FAULT_SPEC_MAX + 16];

	memset(s, '1', sizeof s - 1);
	s[sizeof s - 1] = '\0';
	memcpy(s, "chunk=", 6);
	bad(s, "longer than");
}
END_TEST

/* What the log shows parses back to the same fault. */
START_TEST(test_format)
{
	static const char *const specs[] = {
		"delay=20ms~5ms@30%", "rate=1m", "chunk=7", "reset-after=1m",
		"close-after=3s@50%", "stall-after=0", "refuse@0.0001%",
		"corrupt", "drop", "duplicate@12.5%", "reorder=1ms",
	};
	struct fault_spec	f, g;
	char			buf[128];
	size_t			i;

	for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		good(specs[i], &f);
		ck_assert_int_lt(faultspec_format(&f, buf, sizeof buf),
		    (int)sizeof buf);
		good(buf, &g);
		ck_assert_msg(memcmp(&f, &g, sizeof f) == 0, "%s -> %s",
		    specs[i], buf);
	}
	ck_assert_str_eq(faultspec_name(FAULT_STALL_AFTER), "stall-after");
	ck_assert_int_eq(faultspec_applies(FAULT_DROP), FAULT_UDP);
	ck_assert_int_eq(faultspec_applies(FAULT_REFUSE), FAULT_TCP);
	ck_assert_int_eq(faultspec_applies(FAULT_DELAY), FAULT_TCP | FAULT_UDP);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("faultspec");
	TCase	*tc = tcase_create("faultspec");

	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_after);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_long);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return (harness_run_suite(s));
}
