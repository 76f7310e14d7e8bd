/*
 * benchmark.c: evecho-benchmark's command line and main.
 *
 * A load generator for any TCP echo server, or UDP (--udp): benchmark-run.c
 * starts the worker threads and keeps time, benchmark-conn.c drives the
 * connections, benchmark-udp.c the UDP flows, benchmark-report.c prints
 * progress and results.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "benchmark.h"
#include "clock.h"
#include "exitcode.h"
#include "log.h"
#include "parse.h"
#include "pattern.h"
#include "sock.h"

/* Descriptors kept back from -c: stdio, epoll and signal fds per thread. */
#define BENCH_FD_RESERVE	16
#define BENCH_FD_PER_THREAD	4
#define BENCH_MAX_THREADS	256

struct bench_config	 bench_config;

const char		*bench_progname = "evecho-benchmark";

enum {
	OPT_MODE = 256,
	OPT_RATE,
	OPT_JSON,
	OPT_RECONNECT,
	OPT_EXPECT_GREETING,
	OPT_HGRM,
	OPT_JSON_STREAM,
	OPT_INTERVAL,
	OPT_RAMP,
	OPT_SLO,
	OPT_MERGE,
	OPT_SOURCE,
	OPT_TIMEOUT,
	OPT_WINDOW,
	OPT_UDP,
	OPT_MAX_LOSS,
};

static const struct option bench_options[] = {
	{ "connections",	required_argument,	NULL, 'c' },
	{ "size",		required_argument,	NULL, 's' },
	{ "time",		required_argument,	NULL, 't' },
	{ "warmup",		required_argument,	NULL, 'w' },
	{ "count",		required_argument,	NULL, 'n' },
	{ "depth",		required_argument,	NULL, 'd' },
	{ "threads",		required_argument,	NULL, 'T' },
	{ "mode",		required_argument,	NULL, OPT_MODE },
	{ "rate",		required_argument,	NULL, OPT_RATE },
	{ "window",		required_argument,	NULL, OPT_WINDOW },
	{ "json",		no_argument,		NULL, OPT_JSON },
	{ "reconnect",		no_argument,		NULL, OPT_RECONNECT },
	{ "expect-greeting",	no_argument,		NULL, OPT_EXPECT_GREETING },
	{ "hgrm",		required_argument,	NULL, OPT_HGRM },
	{ "json-stream",	no_argument,		NULL, OPT_JSON_STREAM },
	{ "interval",		required_argument,	NULL, OPT_INTERVAL },
	{ "ramp",		required_argument,	NULL, OPT_RAMP },
	{ "slo",		required_argument,	NULL, OPT_SLO },
	{ "merge",		no_argument,		NULL, OPT_MERGE },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "source",		required_argument,	NULL, OPT_SOURCE },
	{ "timeout",		required_argument,	NULL, OPT_TIMEOUT },
	{ "udp",		no_argument,		NULL, OPT_UDP },
	{ "max-loss",		required_argument,	NULL, OPT_MAX_LOSS },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};


/* Monotonic nanoseconds: the run's clock. */
uint64_t
bench_now(void)
{
	return (clock_now_ns());
}

/* Print --help. */
static void
bench_usage(void)
{
	printf("Usage: %s [OPTION]... [HOST:PORT]\n"
"Load any TCP echo server (default localhost:65432), or a UDP one (--udp),\n"
"and check every byte it echoes.\n"
"\n"
"      --mode=MODE          pingpong: each connection sends -d messages and\n"
"                           sends another as each comes back (default);\n"
"                           stream: send continuously, at most --window\n"
"                           bytes unechoed per connection; connect: connect,\n"
"                           echo one message, close, again; hold: open -c\n"
"                           connections, check each echoes once, keep them\n"
"                           open for -t\n"
"  -c, --connections=N      connections at once (default 10)\n"
"  -s, --size=SIZE          message size in bytes; k, m suffixes (default 64)\n"
"                           (counts -c, -n and --rate take k, m, g as\n"
"                           powers of 1000: 10k, 1.5m)\n"
"  -d, --depth=N            pingpong: messages in flight per connection\n"
"                           (--udp: datagrams per flow; default 1)\n"
"  -t, --time=DURATION      measure for DURATION: 10, 1.5s, 500ms, 2m\n"
"                           (default 10s)\n"
"  -w, --warmup=DURATION    run this long first without counting (default 1s)\n"
"  -n, --count=N            instead of -t: exactly N messages in all, then stop\n"
"      --rate=N             pingpong: open loop, N messages/s over all\n"
"                           connections; latency counts from when each message\n"
"                           was due, not when it could be sent; a warning\n"
"                           says when under 95%% of N was reached\n"
"      --window=SIZE        stream: unechoed bytes per connection (default 256k)\n"
"      --source=ADDR        bind connections to ADDR (e.g. 127.0.0.2) before\n"
"                           connecting; repeat to spread them round-robin\n"
"  -T, --threads=N          event loops (threads) to split connections over\n"
"                           (default 1)\n"
"      --timeout=DURATION   give up on a connect, or on an echo with nothing\n"
"                           heard, after DURATION (default 10s); --udp: a\n"
"                           datagram not back within it is lost (default 1s)\n"
"      --udp                UDP echo (RFC 862), pingpong mode only: each of\n"
"                           -c flows is a socket of its own with -d datagrams\n"
"                           in flight, or --rate datagrams/s over all; -s is\n"
"                           the datagram, its 24-byte header included (at\n"
"                           most 65507 bytes, 65527 over IPv6).  Counts sent,\n"
"                           received, lost, late, duplicated, reordered and\n"
"                           corrupted datagrams; after -t waits --timeout for\n"
"                           the tail.  No --reconnect or --expect-greeting\n"
"      --max-loss=PCT       --udp: up to PCT%% of the datagrams sent may be\n"
"                           lost and the run still pass (default 0)\n"
"      --ramp=DURATION      pingpong, stream: open the connections (and with\n"
"                           --rate, its share each) one by one over\n"
"                           DURATION, so the load rises linearly; warm-up\n"
"                           and measurement follow\n"
"      --slo='pNN<=DUR'     with --rate R: find, in steps of -t (after -w),\n"
"                           the highest rate up to R whose pNN latency is\n"
"                           at most DUR (halving from R, then bisecting)\n"
"      --reconnect          pingpong, stream: open a connection again after\n"
"                           it fails (10 ms, doubling to 1 s; a slot gives\n"
"                           up after --timeout without one open), so a\n"
"                           failover keeps its load; failures still count\n"
"      --expect-greeting    each connection first reads one line from the\n"
"                           server (evecho-server --greeting) and counts\n"
"                           the connections per distinct line: which\n"
"                           server behind a balancer answered\n"
"      --json               print the result as one line of JSON (with its\n"
"                           latency histogram)\n"
"      --json-stream        JSON lines: one per --interval while the run goes\n"
"                           on (its messages, errors and latency), then the\n"
"                           result\n"
"      --interval=DURATION  --json-stream: the interval (default 1s)\n"
"      --hgrm=FILE          also write the latency distribution to FILE in\n"
"                           HdrHistogram's .hgrm text format (milliseconds)\n"
"      --merge FILE...      instead of a run: add up the --json results in\n"
"                           FILEs (of several processes or machines) into\n"
"                           one; percentiles from the added histograms\n"
"  -q, --quiet              no progress line on standard error\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and exit\n"
"\n"
"Progress goes to standard error once a second, the result to standard\n"
"output.  Rates use MB = 1000000 bytes, counted once (the echo, not the\n"
"send as well); latency is in microseconds.\n"
"\n"
"Exit status (the table evecho-cli shares):\n"
"  0    every byte came back right and nothing failed\n"
"  1    the echo failed: a byte differed, or during the run a connect failed\n"
"       or a connection was reset, closed early or timed out; or every\n"
"       connection ended before the run's time or count (ended early);\n"
"       --udp: a datagram was corrupted or duplicated, a socket error, or\n"
"       more lost than --max-loss (reordered and late alone pass)\n"
"  2    the target cannot be resolved, or the first connect to it (made\n"
"       before the run) is refused or gets no answer within --timeout\n"
"  3    not used: a timeout during the run is a failure (1)\n"
"  64   a bad command line, also a --source address that cannot be bound or\n"
"       of a family the target has no address of\n"
"  128+N  stopped by signal N (SIGINT, SIGTERM): the figures so far are\n"
"       printed, marked interrupted\n",
	    bench_progname);
}

/* How many local ports the kernel hands out, or 0 if unknown. */
static uint64_t
bench_port_range(void)
{
	FILE		*f;
	unsigned int	 lo, hi;
	uint64_t	 n = 0;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) == NULL)
		return (0);
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && hi >= lo)
		n = hi - lo + 1;
	fclose(f);
	return (n);
}

/*
 * Add a --source address: a numeric IPv4 or IPv6 address, no port, of the
 * family of any given before, and one this host can bind to.
 */
static void
bench_add_source(const char *spec)
{
	struct bench_source	*src;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	int			 fd, one = 1, saved;

	bench_config.sources = reallocarray(bench_config.sources,
	    bench_config.nsources + 1, sizeof *bench_config.sources);
	if (bench_config.sources == NULL)
		fatal("reallocarray");
	src = &bench_config.sources[bench_config.nsources++];
	memset(src, 0, sizeof *src);
	sin = (struct sockaddr_in *)&src->ss;
	sin6 = (struct sockaddr_in6 *)&src->ss;
	if (inet_pton(AF_INET, spec, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		src->len = sizeof *sin;
	} else if (inet_pton(AF_INET6, spec, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		src->len = sizeof *sin6;
	} else {
		usage_error(bench_progname, "--source: '%s' is not an IPv4 "
		    "or IPv6 address", spec);
	}
	if (bench_config.nsources > 1 &&
	    src->ss.ss_family != bench_config.sources[0].ss.ss_family)
		usage_error(bench_progname, "--source: '%s' is not of the "
		    "family of the first --source", spec);
	/* Bind once now, so an address not on this host is a usage error. */
	fd = socket(src->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&src->ss, src->len) != 0) {
		saved = errno;
		close(fd);
		usage_error(bench_progname, "--source: cannot bind to '%s': %s",
		    spec, strerror(saved));
	}
	close(fd);
}

/* One address failed: keep its reason, for when none is left. */
static void
bench_probe_failed(const char *cause, void *arg)
{
	char	**last = arg;

	free(*last);
	*last = strdup(cause);
}

/*
 * Resolve the target and settle on the first address that accepts a
 * connection, so a name with several addresses (localhost: ::1 and
 * 127.0.0.1) reaches the one the server listens on; with --source, only
 * addresses of its family.  A bad address exits 64; one that does not
 * resolve, or where nothing accepts, exits 2.
 */
void
bench_pick_target(void)
{
	const struct bench_source	*src = bench_config.sources;
	const struct addrinfo		*ai = NULL;
	struct addrinfo			*res;
	char				*host, *port, *cause = NULL;
	int				 fd, family = AF_UNSPEC;

	if (addr_parse(bench_config.target_spec, ADDR_DEFAULT_HOST,
	    ADDR_DEFAULT_PORT, &host, &port, &cause) != 0)
		usage_error(bench_progname, "%s", cause);
	if (addr_resolve(host, port, AF_UNSPEC, 0, &res, &cause) != 0) {
		log_errorx("%s", cause);
		exit(EXIT_UNREACHABLE);
	}
	if (bench_config.nsources > 0)
		family = bench_config.sources[0].ss.ss_family;
	fd = sock_connect_first(res, family,
	    src != NULL ? (const struct sockaddr *)&src->ss : NULL,
	    src != NULL ? src->len : 0, bench_config.timeout_us,
	    bench_probe_failed, &cause, &ai);
	if (fd != -1)
		close(fd);
	if (fd == -1 && cause == NULL) {
		usage_error(bench_progname, "--source: the target '%s' has no "
		    "%s address", host != NULL ? host : bench_config.target_spec,
		    family == AF_INET ? "IPv4" : "IPv6");
	}
	free(host);
	free(port);
	if (fd == -1) {
		log_errorx("%s", cause != NULL ? cause : "out of memory");
		exit(EXIT_UNREACHABLE);
	}
	memcpy(&bench_config.target, ai->ai_addr, ai->ai_addrlen);
	bench_config.target_len = ai->ai_addrlen;
	addr_format(ai->ai_addr, bench_config.target_name,
	    sizeof bench_config.target_name);
	free(cause);
	freeaddrinfo(res);
}

/* Parse the command line into bench_config; exit 64 on a bad one. */
static void
bench_parse_args(int argc, char **argv)
{
	struct bench_config	*cf = &bench_config;
	uint64_t		 v, nofile, ports, need;
	char			*cause, *end;
	const char		*mode = NULL;
	int			 ch, set_t = 0, set_w = 0, set_d = 0, udp = 0;
	int			 set_window = 0, set_other = 0, set_interval = 0;
	int			 set_timeout = 0, set_loss = 0;

	cf->mode = bench_mode_default;
	cf->target_spec = ADDR_DEFAULT_HOST ":" ADDR_DEFAULT_PORT;
	cf->conns = 10;
	cf->size = 64;
	cf->depth = 1;
	cf->duration_us = 10 * 1000000ULL;
	cf->warmup_us = 1000000;
	cf->window = 256 * 1024;
	cf->interval_us = 1000000;
	cf->timeout_us = 10 * 1000000ULL;
	cf->threads = 1;

#define BAD(opt) usage_error(bench_progname, "%s: %s", opt, cause)
	while ((ch = parse_getopt(bench_progname, argc, argv,
	    ":c:s:t:w:n:d:T:qhV", bench_options)) != -1) {
		if (ch != OPT_JSON && ch != 'q' && ch != OPT_HGRM &&
		    ch != OPT_MERGE && ch != OPT_MAX_LOSS)
			set_other = 1;
		switch (ch) {
		case 'c':
			if (parse_count(optarg, 1, 10000000, &cf->conns,
			    &cause) != 0)
				BAD("-c");
			break;
		case 's':
			if (parse_size(optarg, 1, 1ULL << 30, &cf->size,
			    &cause) != 0)
				BAD("-s");
			break;
		case 't':
			if (parse_duration(optarg, 1000, 86400ULL * 1000000,
			    &cf->duration_us, &cause) != 0)
				BAD("-t");
			set_t = 1;
			break;
		case 'w':
			if (parse_duration(optarg, 0, 86400ULL * 1000000,
			    &cf->warmup_us, &cause) != 0)
				BAD("-w");
			set_w = 1;
			break;
		case 'n':
			if (parse_count(optarg, 1, UINT64_MAX / 2, &cf->count,
			    &cause) != 0)
				BAD("-n");
			break;
		case 'd':
			if (parse_uint(optarg, 1, 65536, &cf->depth,
			    &cause) != 0)
				BAD("-d");
			set_d = 1;
			break;
		case 'T':
			if (parse_uint(optarg, 1, BENCH_MAX_THREADS, &v,
			    &cause) != 0)
				BAD("-T");
			cf->threads = (int)v;
			break;
		case OPT_MODE:
			if (bench_mode_find(optarg, 0) == NULL)
				usage_error(bench_progname, "--mode: '%s' is not "
				    "pingpong, stream, connect or hold", optarg);
			mode = optarg;
			break;
		case OPT_UDP:
			udp = 1;
			break;
		case OPT_MAX_LOSS:
			cf->max_loss = strtod(optarg, &end);
			if (end == optarg || (*end != '\0' &&
			    strcmp(end, "%") != 0) || !(cf->max_loss >= 0 &&
			    cf->max_loss <= 100))
				usage_error(bench_progname, "--max-loss: '%s' is "
				    "not a percentage from 0 to 100", optarg);
			cf->max_loss /= 100;
			set_loss = 1;
			break;
		case OPT_RATE:
			if (parse_count(optarg, 1, 1000000000, &cf->rate,
			    &cause) != 0)
				BAD("--rate");
			break;
		case OPT_WINDOW:
			if (parse_size(optarg, 1, 1ULL << 32, &cf->window,
			    &cause) != 0)
				BAD("--window");
			set_window = 1;
			break;
		case OPT_SOURCE:
			bench_add_source(optarg);
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, 1000, 86400ULL * 1000000,
			    &cf->timeout_us, &cause) != 0)
				BAD("--timeout");
			set_timeout = 1;
			break;
		case OPT_JSON_STREAM:
			cf->json = cf->json_stream = 1;
			break;
		case OPT_SLO:
			bench_slo_parse(optarg);
			break;
		case OPT_RAMP:
			if (parse_duration(optarg, 1000, 86400ULL * 1000000,
			    &cf->ramp_us, &cause) != 0)
				BAD("--ramp");
			break;
		case OPT_INTERVAL:
			if (parse_duration(optarg, 10000, 3600ULL * 1000000,
			    &cf->interval_us, &cause) != 0)
				BAD("--interval");
			set_interval = 1;
			break;
		case OPT_HGRM:
			/* Opened now, so a bad path fails before the run. */
			if (*optarg == '\0')
				usage_error(bench_progname, "--hgrm: no file "
				    "name");
			if (cf->hgrm_file != NULL)
				fclose(cf->hgrm_file);
			if ((cf->hgrm_file = fopen(optarg, "w")) == NULL)
				usage_error(bench_progname, "--hgrm: cannot "
				    "write '%s': %s", optarg, strerror(errno));
			cf->hgrm = optarg;
			break;
		case OPT_MERGE:
			cf->merge = 1;
			break;
		case OPT_EXPECT_GREETING:
			cf->expect_greeting = 1;
			break;
		case OPT_RECONNECT:
			cf->reconnect = 1;
			break;
		case OPT_JSON:
			cf->json = 1;
			break;
		case 'q':
			cf->quiet = 1;
			break;
		case 'h':
			bench_usage();
			exit(0);
		case 'V':
			printf("evecho-benchmark %s\n", PACKAGE_VERSION);
			exit(0);
		}
	}
#undef BAD
	if (cf->merge) {
		/* The arguments are result files; nothing is run. */
		if (set_other)
			usage_error(bench_progname, "--merge takes only --json, "
			    "--hgrm, --max-loss, -q and result files");
		if (optind == argc)
			usage_error(bench_progname, "--merge: no result files");
		cf->merge_files = argv + optind;
		cf->nmerge = argc - optind;
		cf->warmup_us = 0;
		return;
	}
	if (optind < argc)
		cf->target_spec = argv[optind++];
	if (optind < argc)
		usage_error(bench_progname, "unexpected argument '%s'",
		    argv[optind]);

	/* --udp has its own entry of the mode table, and its own refusals. */
	if (mode == NULL)
		mode = bench_mode_default->name;
	if (udp && (cf->mode = bench_mode_find(mode, 1)) == NULL)
		usage_error(bench_progname, "--udp: only pingpong mode (-d, "
		    "--rate) sends datagrams, not %s", mode);
	if (!udp)
		cf->mode = bench_mode_find(mode, 0);
	if (udp && cf->reconnect)
		usage_error(bench_progname, "--reconnect: a UDP flow has no "
		    "connection to open again");
	if (udp && cf->expect_greeting)
		usage_error(bench_progname, "--expect-greeting: a UDP server "
		    "sends nothing first");
	if (udp && set_window)
		usage_error(bench_progname, "--window: only stream mode has "
		    "a window, and --udp has no stream mode");
	if (!udp && set_loss)
		usage_error(bench_progname, "--max-loss: only --udp loses "
		    "datagrams; TCP loses no byte");
	if (udp && !set_timeout)
		cf->timeout_us = 1000000;

	/* Options that do not go together. */
	if (cf->slo_ns != 0 && cf->rate == 0)
		usage_error(bench_progname, "--slo: give --rate, the highest "
		    "rate to try");
	if (cf->slo_ns != 0 && (cf->count != 0 || cf->json_stream ||
	    cf->hgrm_file != NULL))
		usage_error(bench_progname, "--slo runs timed steps: it takes "
		    "no -n, --json-stream or --hgrm");
	if (cf->ramp_us != 0 && !(cf->mode->flags & MODE_WAITS))
		usage_error(bench_progname, "--ramp: only pingpong and stream "
		    "modes ramp their connections up");
	if (set_interval && !cf->json_stream)
		usage_error(bench_progname, "--interval: only --json-stream "
		    "prints intervals");
	if (cf->count != 0 && (set_t || set_w))
		usage_error(bench_progname, "-n counts messages: it takes no "
		    "-t or -w");
	if (cf->count != 0 && (cf->mode->flags & MODE_SETTLES))
		usage_error(bench_progname, "-n: hold mode runs for -t");
	if ((cf->mode->flags & MODE_SETTLES) && set_w)
		usage_error(bench_progname, "-w: hold mode has no warm-up");
	if (cf->rate != 0 && !(cf->mode->flags & MODE_RATE))
		usage_error(bench_progname, "--rate: only pingpong mode "
		    "sends on a schedule");
	if (cf->reconnect && !(cf->mode->flags & MODE_RECONNECTS))
		usage_error(bench_progname, "--reconnect: only pingpong and "
		    "stream modes reopen connections (connect mode always "
		    "does)");
	if (set_d && !(cf->mode->flags & MODE_DEPTH))
		usage_error(bench_progname, "-d: only pingpong mode keeps "
		    "messages in flight (stream has --window)");
	if (set_window && !(cf->mode->flags & MODE_WINDOW))
		usage_error(bench_progname, "--window: only stream mode has "
		    "a window");
	if ((cf->mode->flags & MODE_WINDOW) && cf->window < cf->size)
		usage_error(bench_progname, "--window %llu is smaller than "
		    "-s %llu", (unsigned long long)cf->window,
		    (unsigned long long)cf->size);
	if ((uint64_t)cf->threads > cf->conns)
		usage_error(bench_progname, "-T %d: more threads than the %llu "
		    "connections", cf->threads, (unsigned long long)cf->conns);

	/* Refuse what cannot work rather than half-working. */
	nofile = sock_raise_nofile();
	need = cf->conns + BENCH_FD_RESERVE +
	    BENCH_FD_PER_THREAD * (uint64_t)cf->threads;
	if (need > nofile)
		usage_error(bench_progname, "-c %llu needs %llu open files; the "
		    "limit is %llu (raise ulimit -n, or run several processes)",
		    (unsigned long long)cf->conns, (unsigned long long)need,
		    (unsigned long long)nofile);
	ports = bench_port_range();
	if (ports != 0 && cf->conns > ports * (cf->nsources ? cf->nsources : 1))
		usage_error(bench_progname, "-c %llu exceeds the %llu local "
		    "ports per source address; add --source addresses",
		    (unsigned long long)cf->conns, (unsigned long long)ports);
}

int
main(int argc, char **argv)
{
	struct bench_stats	stats;
	double			seconds;
	int			status;

	bench_parse_args(argc, argv);
	log_init(bench_progname, LOG_LEVEL_INFO);
	if (bench_config.slo_ns != 0) {
		signal(SIGPIPE, SIG_IGN);
		pattern_init();
		bench_config.mode->flow->pick_target();
		status = bench_slo_search();
		libevent_global_shutdown();
		return (status);
	}
	if (bench_config.merge)
		bench_merge(bench_config.merge_files, bench_config.nmerge,
		    &stats, &seconds);
	else {
		signal(SIGPIPE, SIG_IGN);
		pattern_init();
		bench_config.mode->flow->pick_target();
		if (bench_run(&stats, &seconds) != 0)
			exit(EXIT_ECHO_FAILED);
		report_rate_warning(&stats, seconds);
	}
	if (bench_config.hgrm_file != NULL &&
	    report_hgrm(&stats.hist, bench_config.hgrm_file) != 0)
		log_warn("--hgrm: cannot write %s", bench_config.hgrm);
	if (bench_config.json)
		report_json(&stats, seconds);
	else
		report_human(&stats, seconds);
	status = report_exit_status(&stats);
	free(bench_config.sources);
	libevent_global_shutdown();
	return (status);
}
