/*
 * cli.c: evecho-cli's command line, lifetime and silence timeout.
 *
 * One event_base, one thread.  cli-connect.c tries each resolved address
 * in turn; then either line mode (cli-line.c: a prompt, one line at a time)
 * or stream mode (cli-stream.c: standard input to the server and the echo
 * to standard output, or one -m message) runs until it calls cli_finish()
 * with the exit status.  With -u there is no connection: cli-udp.c sends
 * datagrams, -m's one or line mode's, and there is no stream mode.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "clock.h"
#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "parse.h"

struct event_base	*cli_base;
struct cli_config	 cli_config;
char			 cli_peer[ADDR_STRLEN];

static const char	*cli_progname = "evecho-cli";
static int		 cli_status = EXIT_ECHO_FAILED;
static int		 cli_finished;
static struct event	*cli_watch_ev;
static int		(*cli_watch_waiting)(void);
static int64_t		 cli_last_activity;

static const struct option cli_options[] = {
	{ "interactive",	no_argument,		NULL, 'i' },
	{ "message",		required_argument,	NULL, 'm' },
	{ "no-newline",		no_argument,		NULL, 'n' },
	{ "time",		no_argument,		NULL, 't' },
	{ "verify",		no_argument,		NULL, 'c' },
	{ "timeout",		required_argument,	NULL, 'w' },
	{ "udp",		no_argument,		NULL, 'u' },
	{ "retries",		required_argument,	NULL, 'r' },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* -u: each try's wait when --timeout is not given; tries per datagram. */
#define CLI_UDP_TIMEOUT_US	1000000
#define CLI_UDP_RETRIES		3
#define CLI_UDP_RETRIES_MAX	1000

/* Print --help. */
static void
cli_usage(void)
{
	printf("Usage: %s [OPTION]... [HOST[:PORT]]\n"
"Talk to a TCP echo server: interactively, one message, or a whole stream;\n"
"or to a UDP one (-u), a datagram per message or line.\n"
"\n"
"HOST[:PORT] is HOST:PORT, [IPV6]:PORT, HOST, PORT or an IPv6 literal\n"
"(default localhost:65432); every address HOST resolves to is tried in turn.\n"
"\n"
"  -4                       use IPv4 addresses only\n"
"  -6                       use IPv6 addresses only\n"
"  -i, --interactive        line mode even when standard input is not a\n"
"                           terminal (default: line mode only on a terminal)\n"
"  -m, --message=TEXT       send TEXT and a newline, print the echo, exit\n"
"  -n, --no-newline         with -m, send TEXT without the newline\n"
"  -t, --time               report round-trip times on standard error: per\n"
"                           line in line mode, a summary otherwise (default\n"
"                           off)\n"
"      --verify             compare the echo with what was sent; exit 1 at\n"
"                           the first difference, naming its offset; in\n"
"                           stream mode and with -m the echo is then not\n"
"                           written to standard output (default off; -u\n"
"                           compares every echo anyway)\n"
"      --timeout=SECS       give up on a connect attempt, or on a server that\n"
"                           owes an echo and sends nothing, after SECS; ms,\n"
"                           s, m suffixes (default 0: no timeout); with -u,\n"
"                           each try's wait for its echo (default 1s)\n"
"  -u, --udp                UDP echo (RFC 862): -m sends TEXT as one datagram,\n"
"                           without a newline; line mode sends each line as\n"
"                           one; an echo counts only with the same bytes;\n"
"                           there is no stream mode (default TCP)\n"
"      --retries=N          with -u, send each datagram up to N times in all\n"
"                           (1 to 1000), --timeout apart, before it counts as\n"
"                           unanswered (default 3)\n"
"  -v, --verbose            log more (twice: debugging)\n"
"  -q, --quiet              no greeting in line mode; only errors\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and exit\n"
"\n"
"Modes: line mode (a terminal, or -i) sends each line typed and prints its\n"
"echo; 'exit' or end of input quits.  With -m, one message.  Otherwise\n"
"stream mode copies standard input to the server and the echo to standard\n"
"output, binary-safe, then shuts down the sending side and waits for the\n"
"rest of the echo.  With -u, -m or line mode; each echo is printed with a\n"
"newline of its own.\n"
"\n"
"Exit status (the table evecho-benchmark shares):\n"
"  0    everything sent came back\n"
"  1    the echo failed: a --verify mismatch, a server that closed or reset\n"
"       the connection early, an I/O error\n"
"  2    the host cannot be resolved, or no address accepts the connection\n"
"       (refused, or no answer within --timeout); -u: the port is closed\n"
"       (ICMP port unreachable) at every address\n"
"  3    connected, but the server owed an echo and sent nothing for --timeout;\n"
"       -u: a datagram (-m's, or any line's) had no echo after --retries\n"
"  64   a bad command line, also -4 or -6 with an address of the other\n"
"       family\n"
"  128+N  after signal N\n",
	    cli_progname);
}

/* What -u takes and what it refuses, once the rest is parsed. */
static void
cli_check_udp(int set_timeout)
{
	if (!cli_config.interactive && cli_config.message == NULL)
		usage_error(cli_progname, "-u: no stream mode over UDP; give "
		    "-m TEXT, or -i to send each line as a datagram");
	if (cli_config.no_newline)
		usage_error(cli_progname, "-n: with -u, -m's TEXT is the "
		    "datagram; no newline is added to leave out");
	if (set_timeout && cli_config.timeout_us == 0)
		usage_error(cli_progname, "--timeout: with -u each try needs "
		    "a wait; 0 would wait forever");
	if (!set_timeout)
		cli_config.timeout_us = CLI_UDP_TIMEOUT_US;
}

/* Parse the command line into cli_config; exit 64 on a bad one. */
static void
cli_parse_args(int argc, char **argv, int *verbosity)
{
	char	*cause;
	int	 ch, set_timeout = 0, set_retries = 0;

	cli_config.family = AF_UNSPEC;
	cli_config.interactive = isatty(STDIN_FILENO);
	cli_config.retries = CLI_UDP_RETRIES;

	while ((ch = parse_getopt(cli_progname, argc, argv, ":46im:ntuvqhV",
	    cli_options)) != -1) {
		switch (ch) {
		case '4':
			cli_config.family = AF_INET;
			break;
		case '6':
			cli_config.family = AF_INET6;
			break;
		case 'i':
			cli_config.interactive = 2;	/* asked for */
			break;
		case 'm':
			cli_config.message = optarg;
			break;
		case 'n':
			cli_config.no_newline = 1;
			break;
		case 't':
			cli_config.rtt = 1;
			break;
		case 'c':
			cli_config.verify = 1;
			break;
		case 'w':
			if (parse_duration(optarg, 0, 86400ULL * 1000000,
			    &cli_config.timeout_us, &cause) != 0)
				usage_error(cli_progname, "--timeout: %s",
				    cause);
			set_timeout = 1;
			break;
		case 'u':
			cli_config.udp = 1;
			break;
		case 'r':
			if (parse_uint(optarg, 1, CLI_UDP_RETRIES_MAX,
			    &cli_config.retries, &cause) != 0)
				usage_error(cli_progname, "--retries: %s",
				    cause);
			set_retries = 1;
			break;
		case 'v':
			(*verbosity)++;
			break;
		case 'q':
			cli_config.quiet = 1;
			(*verbosity)--;
			break;
		case 'h':
			cli_usage();
			exit(0);
		case 'V':
			printf("evecho-cli %s\n", PACKAGE_VERSION);
			exit(0);
		}
	}
	if (optind < argc)
		cli_config.target = argv[optind++];
	if (optind < argc)
		usage_error(cli_progname, "unexpected argument '%s'",
		    argv[optind]);
	if (cli_config.message != NULL && cli_config.interactive == 2)
		usage_error(cli_progname, "-m and -i cannot be combined");
	if (cli_config.no_newline && cli_config.message == NULL)
		usage_error(cli_progname, "-n needs -m");
	if (cli_config.message != NULL)
		cli_config.interactive = 0;
	if (cli_config.udp)
		cli_check_udp(set_timeout);
	else if (set_retries)
		usage_error(cli_progname, "--retries: only -u retries; a TCP "
		    "connection loses no byte");
	if (cli_config.target == NULL)
		cli_config.target = ADDR_DEFAULT_HOST ":" ADDR_DEFAULT_PORT;
}

/* One line on standard error: "evecho-cli: message". */
void
cli_error(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* End the event loop with status; the first status set wins. */
void
cli_finish(int status)
{
	if (!cli_finished) {
		cli_finished = 1;
		cli_status = status;
	}
	event_base_loopbreak(cli_base);
}

/* The offset of the first byte where a and b differ; n if none does. */
size_t
cli_first_diff(const void *a, const void *b, size_t n)
{
	const unsigned char	*p = a, *q = b;
	size_t			 i;

	if (memcmp(a, b, n) == 0)
		return (n);
	for (i = 0; p[i] == q[i]; i++)
		/* nothing */;
	return (i);
}

/* Monotonic microseconds. */
int64_t
cli_now_us(void)
{
	return ((int64_t)clock_now_us());
}

/* The server was heard from (or a wait began): restart the silence clock. */
void
cli_activity(void)
{
	cli_last_activity = cli_now_us();
}

/* Arm the silence timer to fire in us microseconds. */
static void
cli_watch_arm(int64_t us)
{
	struct timeval	tv = clock_timeval((uint64_t)us);

	evtimer_add(cli_watch_ev, &tv);
}

/*
 * The silence timer.  Rather than re-arm a timer on every read, it wakes
 * once per period and compares the clock with the last activity; a server
 * that owes nothing (or a paused reader) is never silent.
 */
static void
cli_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t	idle = cli_now_us() - cli_last_activity;
	int64_t	limit = (int64_t)cli_config.timeout_us;

	if (!cli_watch_waiting()) {
		cli_activity();
		cli_watch_arm(limit);
		return;
	}
	if (idle >= limit) {
		cli_error("timed out: no data from %s for %.3g s", cli_peer,
		    (double)limit / 1e6);
		cli_finish(EXIT_TIMEOUT);
		return;
	}
	cli_watch_arm(limit - idle);
}

/* Start the silence timeout (if --timeout set); waiting() says if owed. */
void
cli_watch_start(int (*waiting)(void))
{
	if (cli_config.timeout_us == 0)
		return;
	cli_watch_waiting = waiting;
	cli_watch_ev = evtimer_new(cli_base, cli_watch_cb, NULL);
	if (cli_watch_ev == NULL)
		fatalx("cannot create the timeout timer");
	cli_activity();
	cli_watch_arm((int64_t)cli_config.timeout_us);
}

/* Stop and free the silence timer. */
void
cli_watch_stop(void)
{
	if (cli_watch_ev != NULL)
		event_free(cli_watch_ev);
	cli_watch_ev = NULL;
}

/* SIGINT, SIGTERM: leave at once, restoring the terminal and pipes. */
static void
cli_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	cli_finish(128 + (int)sig);
}

/*
 * Parse and resolve the target; exit 64 for a bad address (or a literal
 * that -4 or -6 rules out), 2 with a message if it does not resolve.
 */
static struct addrinfo *
cli_resolve(void)
{
	struct addrinfo	*res;
	char		*host, *port, *cause;
	int		 family;

	if (addr_parse(cli_config.target, ADDR_DEFAULT_HOST, ADDR_DEFAULT_PORT,
	    &host, &port, &cause) != 0)
		usage_error(cli_progname, "%s", cause);
	family = host != NULL ? addr_literal_family(host) : AF_UNSPEC;
	if (cli_config.family != AF_UNSPEC && family != AF_UNSPEC &&
	    family != cli_config.family) {
		usage_error(cli_progname, "%s: '%s' is an %s address",
		    cli_config.family == AF_INET ? "-4" : "-6", host,
		    family == AF_INET ? "IPv4" : "IPv6");
	}
	if (addr_resolve(host, port, cli_config.family, 0, &res, &cause)
	    != 0) {
		cli_error("%s%s", cause, cli_config.family == AF_INET ?
		    " (with -4)" : cli_config.family == AF_INET6 ?
		    " (with -6)" : "");
		exit(EXIT_UNREACHABLE);
	}
	free(host);
	free(port);
	return (res);
}

int
main(int argc, char **argv)
{
	struct event_config	*cfg;
	struct event		*sigs[2];
	struct addrinfo		*res;
	int			 verbosity = LOG_LEVEL_WARN, fd, status, i;

	cli_parse_args(argc, argv, &verbosity);
	log_init(cli_progname, verbosity);
	/* A server that resets mid-write must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);

	res = cli_resolve();
	/*
	 * epoll refuses regular files and /dev/null, which standard input
	 * and output may well be; poll takes them, and we watch three fds.
	 */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_avoid_method(cfg, "epoll") != 0 ||
	    (cli_base = event_base_new_with_config(cfg)) == NULL)
		fatalx("cannot create an event base");
	event_config_free(cfg);
	log_debug("event backend %s", event_base_get_method(cli_base));

	if (cli_config.udp) {
		udp_open(res);		/* no socket yet: one per try */
		fd = -1;
	} else if ((fd = cli_connect(res, &status)) == -1) {
		freeaddrinfo(res);
		event_base_free(cli_base);
		return (status);
	}

	sigs[0] = evsignal_new(cli_base, SIGINT, cli_signal_cb, NULL);
	sigs[1] = evsignal_new(cli_base, SIGTERM, cli_signal_cb, NULL);
	for (i = 0; i < 2; i++) {
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
			fatalx("cannot install signal handlers");
	}

	if (cli_config.interactive)
		status = line_start(fd);
	else if (cli_config.udp)
		status = udp_message_start();
	else
		status = stream_start(fd);
	if (status == 0 && event_base_dispatch(cli_base) == -1)
		fatalx("event loop failed");

	if (cli_config.interactive)
		line_free();
	else if (cli_config.udp)
		udp_free();
	else
		stream_free();
	freeaddrinfo(res);
	cli_watch_stop();
	for (i = 0; i < 2; i++)
		event_free(sigs[i]);
	event_base_free(cli_base);
	libevent_global_shutdown();
	fflush(stdout);
	return (cli_status);
}
