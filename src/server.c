/*
 * server.c: evecho-server's command line, signals and lifetime.
 *
 * One event_base, one thread.  Listeners (listener.c) hand sockets to
 * connections (conn.c); this file starts them, and on SIGINT or SIGTERM
 * stops accepting and lets every connection finish echoing what its client
 * had already sent before the process exits.
 */
#include <sys/types.h>

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "clock.h"
#include "chainpool.h"
#include "log.h"
#include "parse.h"
#include "sock.h"
#include "server.h"

/*
 * Descriptors kept back from --max-conns beyond those open once the server
 * listens: one to accept and refuse a connection over the limit, and room
 * for libevent and the log.
 */
#define SERVER_FD_SPARE		16
/* --max-memory: at most this, and at most a quarter of physical memory. */
#define SERVER_MAX_MEMORY	(512ULL << 20)
/* Event priorities: 0 for signals, 1 (the default) for everything else. */
#define SERVER_PRIORITIES	2
/* Free heap kept at the top rather than returned to the kernel. */
#define SERVER_TRIM_THRESHOLD	(4 << 20)
#define SERVER_MAX_FAULTS	64	/* fault.c's rate limits */

struct event_base	*server_base;
struct server_config	 server_config;
static struct server_stats	 server_stats_own;
/* This process's counters: its own, or its slot of the shared mapping. */
struct server_stats	*server_stats = &server_stats_own;

static const char	*server_progname = "evecho-server";
static int		 server_draining;
static int		 server_exit_status;
static struct event	*server_drain_ev;
static uint64_t		 server_nofile;
static int		 server_max_conns_set;
static int		 server_udp_sources_set;
/* A worker of a supervisor (--workers): its number and its sockets. */
static unsigned		 server_worker;
static int		 server_worker_fds[SUPERVISOR_MAX_LISTEN];
static int		 server_worker_kinds[SUPERVISOR_MAX_LISTEN];
static size_t		 server_worker_nfds;

static const struct option server_options[] = {
	{ "listen",		required_argument,	NULL, 'l' },
	{ "max-pending",	required_argument,	NULL, 'p' },
	{ "max-memory",		required_argument,	NULL, 'M' },
	{ "max-conns",		required_argument,	NULL, 'c' },
	{ "max-conns-per-source", required_argument,	NULL, 's' },
	{ "idle-timeout",	required_argument,	NULL, 'i' },
	{ "drain-timeout",	required_argument,	NULL, 'd' },
	{ "backlog",		required_argument,	NULL, 'b' },
	{ "reuse-port",		no_argument,		NULL, 'r' },
	{ "greeting",		required_argument,	NULL, 'g' },
	{ "pidfile",		required_argument,	NULL, 'P' },
	{ "log-file",		required_argument,	NULL, 'L' },
	{ "syslog",		no_argument,		NULL, 'S' },
	{ "user",		required_argument,	NULL, 'U' },
	{ "udp",		required_argument,	NULL, 'u' },
	{ "udp-rate",		required_argument,	NULL, 'R' },
	{ "udp-sources",	required_argument,	NULL, 'e' },
	{ "udp-allow-low-ports", no_argument,		NULL, 'o' },
	{ "fault",		required_argument,	NULL, 'F' },
	{ "fault-seed",		required_argument,	NULL, 'G' },
	{ "fault-listen",	required_argument,	NULL, 'H' },
	{ "metrics",		required_argument,	NULL, 'm' },
	{ "workers",		required_argument,	NULL, 'w' },
	{ "proxy-protocol",	optional_argument,	NULL, 'x' },
	{ "proxy-trusted",	required_argument,	NULL, 't' },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Print --help. */
static void
server_usage(void)
{
	printf("Usage: %s [OPTION]...\n"
"An echo server (RFC 862): every byte each TCP client sends is sent back,\n"
"in order, and every UDP datagram is answered with the same datagram.\n"
"\n"
"  -l, --listen=ADDR        listen on ADDR: HOST:PORT, [IPV6]:PORT, PORT or\n"
"                           :PORT (every local address); repeatable; port 0\n"
"                           lets the kernel choose (default localhost:65432,\n"
"                           every address localhost resolves to)\n"
"  -u, --udp=ADDR           echo UDP datagrams on ADDR (the syntax of\n"
"                           --listen; repeatable); with -u alone, no TCP\n"
"                           listener is opened\n"
"      --udp-rate=N         echo at most N datagrams a second to one\n"
"                           address, per worker (default 0: no cap)\n"
"      --udp-sources=N      addresses --udp-rate remembers, the least\n"
"                           recently seen forgotten first (default 65536)\n"
"      --udp-allow-low-ports  answer UDP from ports below 1024 too (never\n"
"                           from 0, 7, 9, 13, 19, 37 or our own port)\n"
"      --max-pending=SIZE   bytes held for one connection before reading from\n"
"                           it pauses; k, m, g suffixes (default 1m, at\n"
"                           most 1g)\n"
"      --max-memory=SIZE    bytes held by all connections together, per\n"
"                           worker; at the bound, connections holding data\n"
"                           read no more (default 512m, or a quarter of\n"
"                           physical memory if that is less)\n"
"      --max-conns=N        close new connections beyond N open, per worker\n"
"                           (default: the open-file limit less the\n"
"                           descriptors the server holds and %d spare)\n"
"      --max-conns-per-source=N  close new connections from an address\n"
"                           that has N open, per worker (default 0: no cap)\n"
"      --workers=N|auto     N worker processes, each with its own sockets\n"
"                           (SO_REUSEPORT) and event loop, under a\n"
"                           supervisor that restarts them; auto: one per\n"
"                           CPU this process may use (default 1: one\n"
"                           process, no supervisor)\n"
"      --idle-timeout=SECS  close connections silent both ways for SECS\n"
"                           (default 0: never)\n"
"      --drain-timeout=SECS on SIGINT/SIGTERM, wait at most SECS for\n"
"                           connections to finish echoing (default 10)\n"
"      --backlog=N          listen backlog, capped by the kernel (default 4096)\n"
"      --reuse-port         set SO_REUSEPORT, so several servers can share a\n"
"                           port (one process each)\n"
"      --proxy-protocol[=ADDR]  read a PROXY protocol header (v1 or v2,\n"
"                           as HAProxy's send-proxy sends) before echoing,\n"
"                           on every listener, or on the -l ADDR named\n"
"                           (repeatable); logs and --max-conns-per-source\n"
"                           then see the client's address\n"
"      --proxy-trusted=CIDR peers allowed to send that header, e.g.\n"
"                           192.0.2.0/24 (repeatable; default: any)\n"
"      --greeting=FORMAT    send one line on accept, before any echo, so a\n"
"                           client can tell which server answered: %%h host\n"
"                           name, %%w worker, %%p PID, %%%% a percent sign;\n"
"                           e.g. 'evecho %%h worker %%w pid %%p' (default\n"
"                           none: pure echo)\n"
"      --user=NAME          once the sockets are bound, become NAME and its\n"
"                           group (root only), so port 7 needs no root\n"
"                           after start\n"
"      --pidfile=FILE       write the process ID to FILE; removed at exit\n"
"      --log-file=FILE      log to FILE instead of standard error; SIGHUP\n"
"                           reopens it (for logrotate)\n"
"      --syslog             log to syslog (facility daemon) instead\n"
"      --fault=SPEC         misbehave on purpose: KIND[=ARG][@PERCENT], drawn\n"
"                           per TCP connection at accept or per UDP\n"
"                           datagram; KIND: delay=DUR[~JITTER], rate=SIZE,\n"
"                           chunk=SIZE, reset-after=SIZE|DUR,\n"
"                           close-after=SIZE|DUR, stall-after=SIZE|DUR,\n"
"                           refuse, corrupt; UDP: drop, duplicate,\n"
"                           reorder=DUR (repeatable; e.g. --fault\n"
"                           reset-after=1m@10%%)\n"
"      --fault-seed=N       make every draw repeatable (default: random,\n"
"                           and logged)\n"
"      --fault-listen=ADDR  faults only on this -l or -u ADDR (repeatable;\n"
"                           default: every socket)\n"
"      --metrics=ADDR       serve HTTP on ADDR (the syntax of --listen,\n"
"                           port 65433 if none): Prometheus metrics at\n"
"                           /metrics, a status page at /, its numbers at\n"
"                           /stats.json (default: off)\n"
"  -v, --verbose            debug: log every connection and why it closed\n"
"  -q, --quiet              log only warnings and errors\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and exit\n"
"\n"
"Once every socket listens, one line per socket goes to standard output:\n"
"  listening on 127.0.0.1:65432\n"
"  listening on udp 127.0.0.1:65432\n"
"SIGUSR1 logs the counters; SIGHUP reopens --log-file; a second\n"
"SIGINT/SIGTERM exits at once.\n"
"\n"
"Exit status: 0 after a clean shutdown; 1 on a runtime error, an address\n"
"that cannot be bound, or connections cut off at exit; 64 for a bad\n"
"command line.\n", server_progname, SERVER_FD_SPARE);
}

/*
 * Expand --greeting for worker number worker (1 without workers): it names
 * only what is fixed for the process, so it is done once, not per accept.
 */
static int
server_greeting_set(unsigned worker, char **cause)
{
	struct greeting_vars	vars;
	char			host[256];
	int			n;

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	vars.host = host;
	vars.worker = worker;
	vars.pid = (long)getpid();
	n = greeting_expand(server_config.greeting_fmt, &vars,
	    server_config.greeting, sizeof server_config.greeting, cause);
	if (n < 0)
		return (-1);
	server_config.greeting_len = (size_t)n;
	return (0);
}

/* What server_parse_args() allocated, freed for valgrind's sake. */
static void
server_config_free(void)
{
	free((void *)server_config.listen);
	free((void *)server_config.udp);
	free((void *)server_config.proxy_specs);
	free(server_config.proxy_trusted);
	free(server_config.faults);
	free((void *)server_config.fault_listen);
}

/* Append s to the list *v of *n strings. */
static const char **
server_append(const char **v, size_t *n, const char *s)
{
	if ((v = realloc(v, (*n + 1) * sizeof *v)) == NULL)
		fatal("realloc");
	v[(*n)++] = s;
	return (v);
}

/* One --fault SPEC, or exit 64 naming the bad part. */
static void
server_add_fault(const char *spec)
{
	struct fault_spec	*f;
	char			*cause;

	if (server_config.nfaults == SERVER_MAX_FAULTS)
		usage_error(server_progname, "--fault: at most %d",
		    SERVER_MAX_FAULTS);
	f = realloc(server_config.faults, (server_config.nfaults + 1) *
	    sizeof *f);
	if (f == NULL)
		fatal("realloc");
	server_config.faults = f;
	if (faultspec_parse(spec, &f[server_config.nfaults], &cause) != 0)
		usage_error(server_progname, "--fault '%s': %s", spec, cause);
	server_config.nfaults++;
}

/*
 * --fault-listen names a -l or -u, and needs --fault; each --fault has
 * sockets of its kind to act on.
 */
static void
server_check_faults(void)
{
	const struct fault_spec	*f;
	size_t			 i, k;
	int			 tcp = server_config.nlisten != 0 ||
				    server_config.nudp == 0;

	if (server_config.nfault_listen != 0 && server_config.nfaults == 0)
		usage_error(server_progname, "--fault-listen without --fault");
	if (server_config.fault_seed_set && server_config.nfaults == 0)
		usage_error(server_progname, "--fault-seed without --fault");
	for (i = 0; i < server_config.nfault_listen; i++) {
		for (k = 0; k < server_config.nlisten; k++) {
			if (strcmp(server_config.fault_listen[i],
			    server_config.listen[k]) == 0)
				break;
		}
		if (k < server_config.nlisten)
			continue;
		for (k = 0; k < server_config.nudp; k++) {
			if (strcmp(server_config.fault_listen[i],
			    server_config.udp[k]) == 0)
				break;
		}
		if (k == server_config.nudp)
			usage_error(server_progname, "--fault-listen=%s: not a "
			    "--listen or --udp address (give it as they have "
			    "it)", server_config.fault_listen[i]);
	}
	for (i = 0; i < server_config.nfaults; i++) {
		f = &server_config.faults[i];
		if (!(faultspec_applies(f->kind) & FAULT_TCP) &&
		    server_config.nudp == 0)
			usage_error(server_progname, "--fault %s: for UDP only, "
			    "and there is no --udp", faultspec_name(f->kind));
		if (!(faultspec_applies(f->kind) & FAULT_UDP) && !tcp)
			usage_error(server_progname, "--fault %s: for TCP only, "
			    "and there is no --listen", faultspec_name(f->kind));
	}
}

/* --proxy-protocol=ADDR names one of the -l; --proxy-trusted needs it. */
static void
server_check_proxy(void)
{
	size_t	i, k;

	for (i = 0; i < server_config.nproxy_specs; i++) {
		for (k = 0; k < server_config.nlisten; k++) {
			if (strcmp(server_config.proxy_specs[i],
			    server_config.listen[k]) == 0)
				break;
		}
		if (k == server_config.nlisten)
			usage_error(server_progname, "--proxy-protocol=%s: not "
			    "a --listen address (give it as -l has it)",
			    server_config.proxy_specs[i]);
	}
	if (server_config.nproxy_trusted != 0 && !server_config.proxy_all &&
	    server_config.nproxy_specs == 0)
		usage_error(server_progname, "--proxy-trusted without "
		    "--proxy-protocol");
}

/* Parse the command line into server_config; exit 64 on a bad one. */
static void
server_parse_args(int argc, char **argv, int *verbosity)
{
	uint64_t	 v;
	char		*cause;
	int		 ch;
	long		 pages, pagesize;

	server_nofile = sock_raise_nofile();
	server_config.max_pending = 1 << 20;
	server_config.max_memory = SERVER_MAX_MEMORY;
	pages = sysconf(_SC_PHYS_PAGES);
	pagesize = sysconf(_SC_PAGESIZE);
	if (pages > 0 && pagesize > 0 &&
	    (uint64_t)pages * (uint64_t)pagesize / 4 < SERVER_MAX_MEMORY)
		server_config.max_memory = (uint64_t)pages * (uint64_t)pagesize / 4;
	server_config.drain_timeout_us = 10 * 1000000ULL;
	server_config.backlog = 4096;
	server_config.workers = 1;
	server_config.udp_sources = 65536;

#define BAD(opt) usage_error(server_progname, "--%s: %s", opt, cause)
	while ((ch = parse_getopt(server_progname, argc, argv, ":l:u:vqhV",
	    server_options)) != -1) {
		switch (ch) {
		case 'l':
			server_config.listen = server_append(
			    server_config.listen, &server_config.nlisten,
			    optarg);
			break;
		case 'p':
			/* At most 1g: per-connection sizes are 32-bit. */
			if (parse_size(optarg, 1, 1ULL << 30, &v, &cause) != 0)
				BAD("max-pending");
			server_config.max_pending = v;
			break;
		case 'M':
			if (parse_size(optarg, 64 << 10, 1ULL << 44, &v,
			    &cause) != 0)
				BAD("max-memory");
			server_config.max_memory = v;
			break;
		case 'c':
			if (parse_uint(optarg, 1, 100000000, &v, &cause) != 0)
				BAD("max-conns");
			server_config.max_conns = v;
			server_max_conns_set = 1;
			break;
		case 's':
			if (parse_uint(optarg, 0, 100000000, &v, &cause) != 0)
				BAD("max-conns-per-source");
			server_config.max_conns_per_source = v;
			break;
		case 'i':
			if (parse_duration(optarg, 0, 86400ULL * 365 * 1000000,
			    &server_config.idle_timeout_us, &cause) != 0)
				BAD("idle-timeout");
			break;
		case 'd':
			if (parse_duration(optarg, 0, 86400ULL * 1000000,
			    &server_config.drain_timeout_us, &cause) != 0)
				BAD("drain-timeout");
			break;
		case 'b':
			if (parse_uint(optarg, 1, 65535, &v, &cause) != 0)
				BAD("backlog");
			server_config.backlog = (int)v;
			break;
		case 'r':
			server_config.reuse_port = 1;
			break;
		case 'g':
			server_config.greeting_fmt = optarg;
			break;
		case 'P':
			if (*optarg == '\0')
				usage_error(server_progname, "--pidfile: empty");
			server_config.pidfile = optarg;
			break;
		case 'L':
			if (*optarg == '\0')
				usage_error(server_progname, "--log-file: empty");
			server_config.log_file = optarg;
			break;
		case 'S':
			server_config.syslog = 1;
			break;
		case 'm':
			server_config.metrics = optarg;
			break;
		case 'w':
			if (supervisor_parse(optarg, &server_config.workers,
			    &cause) != 0)
				BAD("workers");
			break;
		case 'x':
			if (optarg == NULL) {
				server_config.proxy_all = 1;
				break;
			}
			server_config.proxy_specs = server_append(
			    server_config.proxy_specs,
			    &server_config.nproxy_specs, optarg);
			break;
		case 't':
			server_config.proxy_trusted = realloc(
			    server_config.proxy_trusted,
			    (server_config.nproxy_trusted + 1) *
			    sizeof (struct cidr));
			if (server_config.proxy_trusted == NULL)
				fatal("realloc");
			if (cidr_parse(optarg, &server_config.proxy_trusted[
			    server_config.nproxy_trusted], &cause) != 0)
				BAD("proxy-trusted");
			server_config.nproxy_trusted++;
			break;
		case 'u':
			server_config.udp = server_append(server_config.udp,
			    &server_config.nudp, optarg);
			break;
		case 'R':
			if (parse_count(optarg, 0, 1000000000, &v, &cause) != 0)
				BAD("udp-rate");
			server_config.udp_rate = v;
			break;
		case 'e':
			if (parse_count(optarg, 1, 1 << 24, &v, &cause) != 0)
				BAD("udp-sources");
			server_config.udp_sources = v;
			server_udp_sources_set = 1;
			break;
		case 'o':
			server_config.udp_allow_low_ports = 1;
			break;
		case 'F':
			server_add_fault(optarg);
			break;
		case 'G':
			if (parse_uint(optarg, 0, UINT64_MAX, &v, &cause) != 0)
				BAD("fault-seed");
			server_config.fault_seed = v;
			server_config.fault_seed_set = 1;
			break;
		case 'H':
			server_config.fault_listen = server_append(
			    server_config.fault_listen,
			    &server_config.nfault_listen, optarg);
			break;
		case 'U':
			if (service_user_check(optarg, &cause) != 0)
				BAD("user");
			server_config.user = optarg;
			break;
		case 'v':
			(*verbosity)++;
			break;
		case 'q':
			(*verbosity)--;
			break;
		case 'h':
			server_usage();
			exit(0);
		case 'V':
			printf("evecho-server %s\n", PACKAGE_VERSION);
			exit(0);
		}
	}
	if (server_config.greeting_fmt != NULL &&
	    server_greeting_set(1, &cause) != 0)
		BAD("greeting");
#undef BAD
	if (server_config.syslog && server_config.log_file != NULL)
		usage_error(server_progname, "--syslog and --log-file: choose "
		    "one");
	if (server_config.nudp == 0 && (server_config.udp_rate != 0 ||
	    server_config.udp_allow_low_ports || server_udp_sources_set))
		usage_error(server_progname, "--udp-rate, --udp-sources and "
		    "--udp-allow-low-ports need --udp");
	if (optind < argc)
		usage_error(server_progname, "unexpected argument '%s'",
		    argv[optind]);
	server_check_proxy();
	server_check_faults();
}

/*
 * The sockets systemd passed, then every -l and -u; without any, the
 * default TCP address.  Exits on failure.
 */
static void
server_listen(void)
{
	static const char	*fallback[] = {
		ADDR_DEFAULT_HOST ":" ADDR_DEFAULT_PORT
	};
	const char		**specs = server_config.listen;
	size_t			  n = server_config.nlisten;
	char			 *cause;
	int			  adopted, reuse_port = server_config.reuse_port;

	if (server_config.workers > 1) {
		if (listener_hold_for(server_config.workers,
		    server_config.backlog, &cause) != 0)
			fatalx("%s", cause);
		reuse_port = 1;
	}
	if ((adopted = listener_adopt_activated(&cause)) < 0) {
		log_errorx("%s", cause);
		exit(1);
	}
	if (adopted == 0 && n == 0 && server_config.nudp == 0) {
		specs = fallback;
		n = 1;
	}
	switch (listener_open_all(specs, n, server_config.backlog, reuse_port,
	    &cause)) {
	case 0:
		break;
	case LISTENER_BAD_ADDRESS:
		usage_error(server_progname, "--listen: %s", cause);
	default:
		log_errorx("%s", cause);
		exit(1);
	}
	switch (listener_open_udp(server_config.udp, server_config.nudp,
	    reuse_port, &cause)) {
	case 0:
		break;
	case LISTENER_BAD_ADDRESS:
		usage_error(server_progname, "--udp: %s", cause);
	default:
		log_errorx("%s", cause);
		exit(1);
	}
}

/* Return 1 once shutdown has begun. */
int
server_is_draining(void)
{
	return (server_draining);
}

/* A connection closed: during shutdown, the last one ends the loop. */
void
server_conn_closed(void)
{
	if (server_draining && conn_count() == 0 && prelude_count() == 0)
		event_base_loopexit(server_base, NULL);
}

/* Cut off every connection left and say how many and how much. */
static void
server_cut_off(const char *why)
{
	uint64_t	lost = 0;
	size_t		cut;

	cut = conn_close_all(why, &lost);
	log_errorx("%s: cut off %zu connections, %llu bytes not echoed",
	    why, cut, (unsigned long long)lost);
	server_exit_status = 1;
}

/* The drain timeout passed: cut off whoever is left. */
static void
server_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	server_cut_off("drain timeout");
	event_base_loopexit(server_base, NULL);
}

/* The name of a signal we handle, for the log. */
static const char *
server_signame(int sig)
{
	return (sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" :
	    "signal");
}

/*
 * SIGINT/SIGTERM: the first stops accepting -- after taking the connections
 * already waiting in the backlog -- and lets every connection finish; the
 * second exits at once.
 */
static void
server_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	tv;

	if (server_draining) {
		log_warnx("%s again: exiting now", server_signame((int)sig));
		server_cut_off("second signal");
		event_base_loopbreak(server_base);
		return;
	}
	listener_accept_backlog();
	listener_close_all();
	server_draining = 1;
	systemd_notify_stopping();
	log_info("%s: no longer accepting; draining %zu connections "
	    "(at most %.3g s)", server_signame((int)sig), conn_count(),
	    (double)server_config.drain_timeout_us / 1e6);
	conn_drain_all();
	fault_drain_all();
	if (conn_count() == 0) {
		event_base_loopexit(server_base, NULL);
		return;
	}
	tv = clock_timeval(server_config.drain_timeout_us);
	server_drain_ev = evtimer_new(server_base, server_drain_timeout_cb,
	    NULL);
	if (server_drain_ev == NULL || evtimer_add(server_drain_ev, &tv) != 0)
		fatalx("cannot arm the drain timer");
}

/*
 * Once listening: the default --max-conns is what the open-file limit
 * leaves after the descriptors already open (listeners among them).  A
 * larger one given stands, with a warning: past the limit, accepting
 * pauses on EMFILE rather than refusing.
 */
static void
server_set_max_conns(void)
{
	int		open = sock_count_open();
	uint64_t	used, left;

	used = (open > 0 ? (uint64_t)open : 3 + listener_count()) +
	    SERVER_FD_SPARE;
	left = server_nofile > used ? server_nofile - used : 1;
	if (!server_max_conns_set)
		server_config.max_conns = left;
	else if (server_config.max_conns > left) {
		log_warnx("--max-conns %llu: the open-file limit of %llu "
		    "leaves descriptors for %llu; beyond that, accepting "
		    "pauses instead of refusing",
		    (unsigned long long)server_config.max_conns,
		    (unsigned long long)server_nofile,
		    (unsigned long long)left);
	}
}

/* SIGHUP: logrotate has moved the log file; write to a new one. */
static void
server_reopen_cb(evutil_socket_t sig, short what, void *arg)
{
	char	*cause = NULL;

	switch (log_reopen(&cause)) {
	case 0:
		log_info("SIGHUP: reopened %s", server_config.log_file);
		break;
	case 1:
		log_info("SIGHUP: no --log-file to reopen");
		break;
	default:
		log_warnx("SIGHUP: %s; still writing to the old file", cause);
		free(cause);
		break;
	}
}

/*
 * After the sockets are bound and before the first connection: the PID
 * file, then --user's drop of root (the PID file stays root's: removing
 * it at exit may then fail, which is logged).
 */
static void
server_become_service(void)
{
	char	*cause = NULL;

	if (server_config.pidfile != NULL &&
	    service_pidfile_write(server_config.pidfile, &cause) != 0)
		fatalx("%s", cause);
	if (server_config.user != NULL) {
		if (service_drop_privileges(server_config.user, &cause) != 0)
			fatalx("%s", cause);
	} else if (geteuid() == 0)
		log_warnx("running as root: --user NAME gives it up once the "
		    "sockets are bound");
}

/*
 * The event base.  libevent's timers run on CLOCK_MONOTONIC_COARSE, a
 * tick of 4 ms here, which would make --fault delay=5ms anything up to
 * 12; with faults the precise clock, which costs every loop iteration a
 * little, and so only then.
 */
static struct event_base *
server_new_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if (server_config.nfaults == 0)
		return (event_base_new());
	if ((cfg = event_config_new()) == NULL)
		return (NULL);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return (base);
}

/* SIGUSR1: one line of counters. */
static void
server_stats_cb(evutil_socket_t sig, short what, void *arg)
{
	stats_log("stats", server_stats, conn_mem_full_us());
}

/*
 * Once, at start: a PROXY header is a claim anyone can make; without
 * --proxy-trusted, anyone who reaches a PROXY listener can claim any
 * address, and so get past --max-conns-per-source.
 */
static void
server_warn_proxy(void)
{
	size_t	i, n = 0;

	for (i = 0; i < listener_count(); i++)
		n += listener_is_proxy(i);
	if (n == 0)
		return;
	log_info("%zu of %zu listening sockets take a PROXY header (v1 or "
	    "v2) first", n, listener_count());
	if (server_config.nproxy_trusted == 0)
		log_warnx("--proxy-protocol without --proxy-trusted: every "
		    "peer's PROXY header is believed, so any client can claim "
		    "any address");
}

/* --metrics, if asked for, over n slots of counters; exits on failure. */
static void
server_metrics(const struct server_stats *slots, size_t n)
{
	char	*cause;

	if (server_config.metrics == NULL)
		return;
	switch (metrics_start(server_config.metrics, slots, n, &cause)) {
	case 0:
		break;
	case LISTENER_BAD_ADDRESS:
		usage_error(server_progname, "--metrics: %s", cause);
	default:
		log_errorx("--metrics: %s", cause);
		exit(1);
	}
}

/*
 * --workers N: the sockets are held for every worker, the counters
 * shared; the supervisor runs them until they have all drained.
 */
static int
server_supervise(char **argv)
{
	struct server_stats	*slots;
	char			*cause;
	int			 status;

	if ((slots = supervisor_slots(server_config.workers, &cause)) == NULL)
		fatalx("%s", cause);
	systemd_stats_from(slots, server_config.workers);
	server_metrics(slots, server_config.workers);
	server_become_service();
	status = supervisor_run(argv);
	metrics_stop();
	systemd_cleanup();
	service_pidfile_remove();
	event_base_free(server_base);
	server_config_free();
	libevent_global_shutdown();
	log_close();
	return (status);
}

/*
 * Echo until shut down: one process on its own (fds NULL: its sockets are
 * open already), or a worker on the n sockets its supervisor passed.
 */
static int
server_serve(const int *fds, size_t n)
{
	struct event	*sigs[4];
	char		*cause, label[48];
	uint64_t	 lost_before;
	size_t		 i;

	if (conn_setup() != 0)
		fatalx("cannot set up the idle timeout");
	if (fds != NULL &&
	    listener_adopt(fds, server_worker_kinds, n, &cause) != 0)
		fatalx("%s", cause);
	server_set_max_conns();
	server_stats->max_conns = server_config.max_conns;
	server_stats->max_memory = server_config.max_memory;
	server_stats->pid = (uint64_t)getpid();
	server_stats->starts++;
	/* A worker's slot keeps what the processes before it counted. */
	lost_before = server_stats->bytes_lost_stopping;
	if (source_setup(server_config.max_conns_per_source,
	    server_config.max_conns, &cause) != 0 ||
	    udp_rate_setup(server_config.udp_rate, server_config.udp_sources,
	    &cause) != 0 || fault_setup(server_worker, &cause) != 0)
		fatalx("%s", cause);
	server_stats->fault_specs = server_config.nfaults;
	if (server_worker == 0)
		server_become_service();

	sigs[0] = evsignal_new(server_base, SIGINT, server_stop_cb, NULL);
	sigs[1] = evsignal_new(server_base, SIGTERM, server_stop_cb, NULL);
	sigs[2] = evsignal_new(server_base, SIGUSR1, server_stats_cb, NULL);
	sigs[3] = evsignal_new(server_base, SIGHUP, server_reopen_cb, NULL);
	for (i = 0; i < 4; i++) {
		if (sigs[i] == NULL || event_priority_set(sigs[i], 0) != 0 ||
		    evsignal_add(sigs[i], NULL) != 0)
			fatalx("cannot install signal handlers");
	}

	if (server_worker != 0)
		snprintf(label, sizeof label, "worker %u", server_worker);
	else
		snprintf(label, sizeof label, "evecho-server %s",
		    PACKAGE_VERSION);
	log_info("%s: %zu listening sockets, max %llu connections, %llu bytes "
	    "pending each, %llu in all, idle timeout %.3g s, backend %s",
	    label, listener_count(),
	    (unsigned long long)server_config.max_conns,
	    (unsigned long long)server_config.max_pending,
	    (unsigned long long)server_config.max_memory,
	    (double)server_config.idle_timeout_us / 1e6,
	    event_base_get_method(server_base));
	if (server_worker != 0)
		supervisor_worker_ready(server_worker);
	else {
		listener_print_ready();
		metrics_print_ready();
		systemd_notify_ready();
	}

	if (event_base_dispatch(server_base) == -1)
		fatalx("event loop failed");

	if (conn_count() != 0)
		server_cut_off("exit");
	if (server_exit_status == 0 &&
	    server_stats->bytes_lost_stopping != lost_before) {
		/* Sent by clients after our FIN: they missed it by a moment. */
		log_errorx("%llu bytes that arrived after the server had closed "
		    "its side were not echoed", (unsigned long long)
		    (server_stats->bytes_lost_stopping - lost_before));
		server_exit_status = 1;
	}
	/* Warnings still counted go out before the summary. */
	listener_close_all();
	prelude_close_all();
	conn_cleanup();
	source_free();
	udp_rate_free();
	fault_cleanup();
	systemd_cleanup();
	metrics_stop();
	if (server_worker != 0)
		snprintf(label, sizeof label, "worker %u stopped",
		    server_worker);
	else
		snprintf(label, sizeof label, "exit");
	stats_log(label, server_stats, conn_mem_full_us());
	service_pidfile_remove();
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	if (server_drain_ev != NULL)
		event_free(server_drain_ev);
	event_base_free(server_base);
	server_config_free();
	libevent_global_shutdown();
	log_close();
	return (server_exit_status);
}

int
main(int argc, char **argv)
{
	char		*cause;
	int		 verbosity = LOG_LEVEL_INFO;

	/* Before libevent allocates anything: chains come from the pool. */
	chainpool_install();
	server_parse_args(argc, argv, &verbosity);
	server_worker_nfds = SUPERVISOR_MAX_LISTEN;
	switch (supervisor_worker_env(&server_worker, &server_stats,
	    server_worker_fds, server_worker_kinds, &server_worker_nfds,
	    &cause)) {
	case 0:
		if (server_config.greeting_fmt != NULL &&
		    server_greeting_set(server_worker, &cause) != 0)
			fatalx("--greeting: %s", cause);
		break;
	case 1:
		break;
	default:
		fatalx("%s", cause);
	}
	log_init(server_progname, verbosity);
	if (server_config.log_file != NULL &&
	    log_to_file(server_config.log_file, &cause) != 0) {
		log_errorx("--log-file: %s", cause);
		exit(1);
	}
	if (server_config.syslog)
		log_to_syslog();
	/*
	 * Echo chains are freed as fast as they are allocated.  With glibc's
	 * 128 KiB trim threshold the heap top shrinks and regrows all the time:
	 * streaming 1.2 GB cost 147,664 page faults, against 70 with a few
	 * MiB kept.  What stays is bounded by this threshold.
	 */
	mallopt(M_TRIM_THRESHOLD, SERVER_TRIM_THRESHOLD);
	/* A client that resets mid-write must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Two priorities: signals first.  One loop iteration runs every ready
	 * connection's callback, which under heavy streaming can take longer
	 * than a user waits for SIGTERM to stop the listeners; a signal at
	 * priority 0 is handled before the next such round.
	 */
	if ((server_base = server_new_base()) == NULL ||
	    event_base_priority_init(server_base, SERVER_PRIORITIES) != 0)
		fatalx("cannot create an event base");
	log_limit_setup(server_base);
	if (server_worker != 0)
		return (server_serve(server_worker_fds, server_worker_nfds));
	server_listen();
	server_warn_proxy();
	if (server_config.workers > 1)
		return (server_supervise(argv));
	server_metrics(server_stats, 1);
	return (server_serve(NULL, 0));

}
