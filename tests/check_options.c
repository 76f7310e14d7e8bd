/*
 * check_options.c: every option of the three programs, given what it must
 * refuse.  The option tables are read from the programs' own sources, so
 * an option added later is covered without a new row here: each value an
 * option takes is tried empty, negative, overflowing, with a wrong unit,
 * as bytes that are not UTF-8 and with a newline inside; each option is
 * tried with its value missing at the end; each option that takes no
 * value is given one; unknown options are tried alone and in clusters.
 * Every case must exit 64 within T_MS, with exactly one line on standard
 * error that names the option.
 */
#include <sys/types.h>

#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define T_MS		10000	/* the bound on any single case */
#define MAX_OPTS	64

/* One entry of a program's struct option table. */
struct opt {
	char	name[32];
	int	takes_value;
	int	optional;	/* a value only with '=' */
	int	letter;		/* its short form, or 0 */
};

/* A program, where its table lives, and what every case starts with. */
struct prog {
	const char		*name;
	const char		*source;
	const char		*table;
	const char *const	*base;	/* harmless arguments, run first */
	struct opt		 opts[MAX_OPTS];
	int			 nopts;
	char			 optstring[64];
};

/* A target nobody serves, so a case that is wrongly accepted ends fast. */
static const char *const server_base[] = { "-l", "127.0.0.1:0", NULL };
static const char *const cli_base[] = { "-m", "x", "127.0.0.1:1", NULL };
static const char *const bench_base[] = { "-q", "127.0.0.1:1", NULL };

static struct prog	progs[] = {
	{ .name = "evecho-server", .source = "src/server.c",
	    .table = "server_options", .base = server_base },
	{ .name = "evecho-cli", .source = "src/cli.c",
	    .table = "cli_options", .base = cli_base },
	{ .name = "evecho-benchmark", .source = "src/benchmark.c",
	    .table = "bench_options", .base = bench_base },
};

/* What every value-taking option must refuse. */
static const char *const bad_values[] = {
	"",				/* empty */
	"-1",				/* negative */
	"99999999999999999999999",	/* past uint64_t */
	"18446744073709.999999",	/* wraps in microseconds */
	"0.0000001",			/* under the finest step */
	"5q",				/* a unit nobody has */
	"1ns",				/* a unit too fine */
	"\xff\xfe",			/* not UTF-8 */
	"1\n2",				/* a newline inside */
};

/* Values an option may take after all, and why; NULL value: any. */
static const struct {
	const char	*prog;
	const char	*opt;
	const char	*value;
} accepted[] = {
	/* A message is any text. */
	{ "evecho-cli", "message", NULL },
	/* A file name is any text, and trying one would create the file. */
	{ "evecho-benchmark", "hgrm", NULL },
	{ "evecho-server", "pidfile", NULL },
	{ "evecho-server", "log-file", NULL },
	/* A greeting is any line of UTF-8 text, numbers and units too. */
	{ "evecho-server", "greeting", "-1" },
	{ "evecho-server", "greeting", "99999999999999999999999" },
	{ "evecho-server", "greeting", "18446744073709.999999" },
	{ "evecho-server", "greeting", "0.0000001" },
	{ "evecho-server", "greeting", "5q" },
	{ "evecho-server", "greeting", "1ns" },
	/* A numeric host (0.0.0.1): refused by bind, exit 1, not parsing. */
	{ "evecho-server", "listen", "0.0000001" },
	{ "evecho-server", "metrics", "0.0000001" },
	{ "evecho-server", "udp", "0.0000001" },
};

/* Read a whole file into an allocated string. */
static char *
slurp(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	*buf;
	long	 len;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return (buf);
}


/* Fill p's option table and optstring from its source file. */
static void
load_prog(struct prog *p)
{
	const char	*dir = getenv("EVECHO_SRCDIR");
	char		 path[4096], pat[128], *src, *at, *end, *q;
	struct opt	*o;
	char		 kind[32], val[32];

	snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "..",
	    p->source);
	src = slurp(path);

	/* The optstring is the first literal passed to parse_getopt. */
	at = strstr(src, "parse_getopt(");
	ck_assert_msg(at != NULL, "%s: no parse_getopt call", p->source);
	at = strchr(at, '"');
	end = at != NULL ? strchr(at + 1, '"') : NULL;
	ck_assert_msg(end != NULL && end - at < (long)sizeof p->optstring,
	    "%s: no optstring", p->source);
	memcpy(p->optstring, at + 1, (size_t)(end - at - 1));
	p->optstring[end - at - 1] = '\0';
	ck_assert_msg(p->optstring[0] == ':', "%s: optstring '%s'",
	    p->source, p->optstring);

	snprintf(pat, sizeof pat, "struct option %s[] = {", p->table);
	at = strstr(src, pat);
	ck_assert_msg(at != NULL, "%s: no %s", p->source, p->table);
	end = strstr(at, "{ NULL");
	ck_assert_ptr_nonnull(end);
	p->nopts = 0;
	for (at = strchr(at + strlen(pat), '{'); at != NULL && at < end;
	    at = strchr(at + 1, '{')) {
		ck_assert_int_lt(p->nopts, MAX_OPTS);
		o = &p->opts[p->nopts];
		memset(o, 0, sizeof *o);
		ck_assert_msg(sscanf(at, "{ \"%31[^\"]\", %31[a-z_], NULL, "
		    "%31[^ }]", o->name, kind, val) == 3,
		    "%s: cannot read the entry at '%.40s'", p->source, at);
		/* An optional value is tried as a flag alone. */
		ck_assert_msg(strcmp(kind, "required_argument") == 0 ||
		    strcmp(kind, "no_argument") == 0 ||
		    strcmp(kind, "optional_argument") == 0, "%s: --%s is %s",
		    p->source, o->name, kind);
		o->takes_value = strcmp(kind, "required_argument") == 0;
		o->optional = strcmp(kind, "optional_argument") == 0;
		if (val[0] == '\'' && val[2] == '\'' &&
		    (q = strchr(p->optstring + 1, val[1])) != NULL)
			o->letter = val[1];
		p->nopts++;
	}
	ck_assert_int_gt(p->nopts, 0);
	free(src);
}

/* Return 1 if text names --name (whole) or -letter (whole). */
static int
names_option(const char *text, const char *name, int letter)
{
	const char	*s;
	size_t		 len = strlen(name);

	for (s = text; (s = strstr(s, "--")) != NULL; s += 2) {
		if (strncmp(s + 2, name, len) == 0 &&
		    !isalnum((unsigned char)s[2 + len]) && s[2 + len] != '-')
			return (1);
	}
	for (s = text; letter != 0 && (s = strchr(s, '-')) != NULL; s++) {
		if (s > text && (s[-1] == ' ' || s[-1] == '\'') &&
		    s[1] == letter && !isalnum((unsigned char)s[2]))
			return (1);
	}
	return (0);
}

/* Return 1 if p takes value for --name after all. */
static int
is_accepted(const struct prog *p, const char *name, const char *value)
{
	size_t	i;

	for (i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		if (strcmp(accepted[i].prog, p->name) == 0 &&
		    strcmp(accepted[i].opt, name) == 0 &&
		    (accepted[i].value == NULL ||
		    (value != NULL && strcmp(accepted[i].value, value) == 0)))
			return (1);
	}
	return (0);
}

/* Show a case's arguments in a failure message, escaped. */
static const char *
describe(const char *const args[])
{
	static char	buf[512];
	size_t		n = 0;
	const char	*s;

	buf[0] = '\0';
	for (; *args != NULL && n < sizeof buf - 8; args++) {
		buf[n++] = '[';
		for (s = *args; *s != '\0' && n < sizeof buf - 8; s++) {
			if (isprint((unsigned char)*s))
				buf[n++] = *s;
			else
				n += (size_t)snprintf(buf + n, sizeof buf - n,
				    "\\x%02x", (unsigned char)*s);
		}
		buf[n++] = ']';
	}
	buf[n] = '\0';
	return (buf);
}

/*
 * Run p with its base arguments and then args; it must exit 64 in time,
 * not by a signal, with one line on standard error that starts with the
 * program's name, names option name (or its letter) if name is given,
 * and contains quoted if that is given.
 */
static void
expect_usage(const struct prog *p, const char *const args[],
    const char *name, int letter, const char *quoted)
{
	const char		*argv[HARNESS_MAX_ARGS + 1], *err, *nl;
	struct harness_proc	 h;
	int			 i = 0, j, rc;

	argv[i++] = harness_program(p->name);
	for (j = 0; p->base[j] != NULL; j++)
		argv[i++] = p->base[j];
	for (j = 0; args[j] != NULL && i < HARNESS_MAX_ARGS; j++)
		argv[i++] = args[j];
	argv[i] = NULL;
	ck_assert_int_eq(harness_spawn(&h, argv), 0);
	rc = harness_wait(&h, T_MS);
	if (rc == -2) {
		harness_stop(&h, SIGKILL, 1000);
		ck_abort_msg("%s %s: still running after %d ms", p->name,
		    describe(args), T_MS);
	}
	err = harness_stderr(&h, 1000);
	harness_stop(&h, SIGKILL, 1000);
	ck_assert_msg(rc < 128, "%s %s: killed by signal %d: %s", p->name,
	    describe(args), rc - 128, err);
	ck_assert_msg(rc == 64, "%s %s: exit %d, not 64: %s", p->name,
	    describe(args), rc, err);
	nl = strchr(err, '\n');
	ck_assert_msg(nl != NULL && nl[1] == '\0', "%s %s: not one line: %s",
	    p->name, describe(args), err);
	ck_assert_msg(strncmp(err, p->name, strlen(p->name)) == 0 &&
	    strncmp(err + strlen(p->name), ": ", 2) == 0, "%s %s: %s",
	    p->name, describe(args), err);
	if (name != NULL)
		ck_assert_msg(names_option(err, name, letter),
		    "%s %s: does not name --%s: %s", p->name, describe(args),
		    name, err);
	if (quoted != NULL)
		ck_assert_msg(strstr(err, quoted) != NULL,
		    "%s %s: does not say %s: %s", p->name, describe(args),
		    quoted, err);
}

/* Every value-taking option of p, given every bad value, in each form. */
static void
check_values(struct prog *p)
{
	const struct opt	*o;
	char			 eq[256], dash[64];
	size_t			 v;
	int			 i, n = 0;

	for (i = 0; i < p->nopts; i++) {
		o = &p->opts[i];
		if (!o->takes_value)
			continue;
		for (v = 0; v < sizeof bad_values / sizeof bad_values[0]; v++) {
			if (is_accepted(p, o->name, bad_values[v]))
				continue;
			snprintf(eq, sizeof eq, "--%s=%s", o->name,
			    bad_values[v]);
			snprintf(dash, sizeof dash, "--%s", o->name);
			expect_usage(p, (const char *const[]){ eq, NULL },
			    o->name, o->letter, NULL);
			/* The separate form: --name VALUE, and -l VALUE. */
			expect_usage(p, (const char *const[]){ dash,
			    bad_values[v], NULL }, o->name, o->letter, NULL);
			if (o->letter != 0) {
				snprintf(dash, sizeof dash, "-%c", o->letter);
				expect_usage(p, (const char *const[]){ dash,
				    bad_values[v], NULL }, o->name, o->letter,
				    NULL);
			}
			n++;
		}
	}
	ck_assert_msg(n > 0 || p->nopts == 0, "%s: no value checked",
	    p->name);
}

/*
 * An option of p that takes no value and has a letter, other than -h and
 * -V (which exit at once): the harmless half of a cluster.
 */
static const struct opt *
pick_flag(const struct prog *p)
{
	int	i;

	for (i = 0; i < p->nopts; i++) {
		if (!p->opts[i].takes_value && p->opts[i].letter != 0 &&
		    p->opts[i].letter != 'h' && p->opts[i].letter != 'V')
			return (&p->opts[i]);
	}
	ck_abort_msg("%s: no option to cluster with", p->name);
	return (NULL);
}

/* Every value-taking option with its value missing at the very end. */
static void
check_missing(struct prog *p)
{
	const struct opt	*o;
	char			 arg[64], quoted[64];
	int			 i, flag = pick_flag(p)->letter;

	for (i = 0; i < p->nopts; i++) {
		o = &p->opts[i];
		if (!o->takes_value)
			continue;
		snprintf(arg, sizeof arg, "--%s", o->name);
		snprintf(quoted, sizeof quoted, "'--%s' needs a value",
		    o->name);
		expect_usage(p, (const char *const[]){ arg, NULL }, o->name,
		    0, quoted);
		if (o->letter == 0)
			continue;
		snprintf(quoted, sizeof quoted, "'-%c' needs a value",
		    o->letter);
		snprintf(arg, sizeof arg, "-%c", o->letter);
		expect_usage(p, (const char *const[]){ arg, NULL }, NULL, 0,
		    quoted);
		snprintf(arg, sizeof arg, "-%c%c", flag, o->letter);
		expect_usage(p, (const char *const[]){ arg, NULL }, NULL, 0,
		    quoted);
	}
}

/*
 * Every option that takes no value, given one with '='; one whose value
 * is optional must refuse 1 as its value, saying why.
 */
static void
check_no_value(struct prog *p)
{
	const struct opt	*o;
	char			 arg[64], quoted[64];
	int			 i;

	for (i = 0; i < p->nopts; i++) {
		o = &p->opts[i];
		if (o->takes_value)
			continue;
		snprintf(arg, sizeof arg, "--%s=1", o->name);
		snprintf(quoted, sizeof quoted, "'--%s' takes no value",
		    o->name);
		expect_usage(p, (const char *const[]){ arg, NULL }, o->name,
		    0, o->optional ? NULL : quoted);
	}
}

/* Unknown options: alone, first and last in a cluster, after others. */
static void
check_unknown(struct prog *p)
{
	const struct opt	*o = pick_flag(p);
	const char		*s;
	char			 bad = 0, flag = (char)o->letter, quoted[32];
	char			 a[8], b[8], longflag[64];

	for (s = "xyzXYZ"; *s != '\0' && bad == 0; s++) {
		if (strchr(p->optstring, *s) == NULL)
			bad = *s;
	}
	ck_assert_msg(bad != 0, "%s: optstring '%s'", p->name, p->optstring);
	snprintf(quoted, sizeof quoted, "unknown option '-%c'", bad);
	snprintf(a, sizeof a, "-%c%c", bad, flag);
	snprintf(b, sizeof b, "-%c%c", flag, bad);
	expect_usage(p, (const char *const[]){ a, NULL }, NULL, 0, quoted);
	expect_usage(p, (const char *const[]){ b, NULL }, NULL, 0, quoted);
	snprintf(a, sizeof a, "-%c", bad);
	expect_usage(p, (const char *const[]){ a, NULL }, NULL, 0, quoted);
	/* After a long option, the stale argv[optind - 1] is that option. */
	snprintf(longflag, sizeof longflag, "--%s", o->name);
	snprintf(a, sizeof a, "-%c%c", bad, flag);
	expect_usage(p, (const char *const[]){ longflag, a, NULL }, NULL, 0,
	    quoted);
	expect_usage(p, (const char *const[]){ "--bogus", NULL }, NULL, 0,
	    "unknown option '--bogus'");
	expect_usage(p, (const char *const[]){ "--bogus=1", NULL }, NULL, 0,
	    "unknown option '--bogus'");
	expect_usage(p, (const char *const[]){ "--no\nsuch", NULL }, NULL, 0,
	    "unknown option '--no\\x0asuch'");
}

/* One test per program and kind of case, so each has its own timeout. */
#define PROG_TEST(fn, idx)						\
START_TEST(test_##fn##_##idx)						\
{									\
	load_prog(&progs[idx]);						\
	fn(&progs[idx]);						\
}									\
END_TEST

PROG_TEST(check_values, 0)
PROG_TEST(check_values, 1)
PROG_TEST(check_values, 2)
PROG_TEST(check_missing, 0)
PROG_TEST(check_missing, 1)
PROG_TEST(check_missing, 2)
PROG_TEST(check_no_value, 0)
PROG_TEST(check_no_value, 1)
PROG_TEST(check_no_value, 2)
PROG_TEST(check_unknown, 0)
PROG_TEST(check_unknown, 1)
PROG_TEST(check_unknown, 2)

/* The tables read from the sources hold what we know they must. */
START_TEST(test_tables)
{
	size_t	i;
	int	j, found;

	for (i = 0; i < sizeof progs / sizeof progs[0]; i++) {
		load_prog(&progs[i]);
		found = 0;
		for (j = 0; j < progs[i].nopts; j++) {
			if (strcmp(progs[i].opts[j].name, "help") == 0 &&
			    progs[i].opts[j].letter == 'h')
				found++;
			if (strcmp(progs[i].opts[j].name, "version") == 0 &&
			    progs[i].opts[j].letter == 'V')
				found++;
		}
		ck_assert_msg(found == 2, "%s: table not read", progs[i].name);
	}
	ck_assert(names_option("x: --timeout: bad", "timeout", 0));
	ck_assert(!names_option("x: --timeout: bad", "time", 0));
	ck_assert(names_option("x: -c: bad", "connections", 'c'));
	ck_assert(!names_option("x: --max-conns: bad", "max", 'c'));
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("options");
	TCase	*tc = tcase_create("refusals");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_tables);
	tcase_add_test(tc, test_check_values_0);
	tcase_add_test(tc, test_check_values_1);
	tcase_add_test(tc, test_check_values_2);
	tcase_add_test(tc, test_check_missing_0);
	tcase_add_test(tc, test_check_missing_1);
	tcase_add_test(tc, test_check_missing_2);
	tcase_add_test(tc, test_check_no_value_0);
	tcase_add_test(tc, test_check_no_value_1);
	tcase_add_test(tc, test_check_no_value_2);
	tcase_add_test(tc, test_check_unknown_0);
	tcase_add_test(tc, test_check_unknown_1);
	tcase_add_test(tc, test_check_unknown_2);
	suite_add_tcase(s, tc);
	return (harness_run_suite(s));
}
