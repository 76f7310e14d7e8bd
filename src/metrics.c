/*
 * metrics.c: --metrics ADDR, an HTTP server on the echo loop (libevent's
 * evhttp): GET /metrics in Prometheus's text format, GET /stats.json for
 * the status page, and GET / the page itself (src/status.html, compiled
 * in).  It reads server_stats, the counters the echo path keeps as plain
 * integers anyway, so serving them costs the echo path nothing.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "parse.h"
#include "server.h"
#include "status-html.h"

/* Next to the echo's 65432: Prometheus's exporter range is all taken. */
#define METRICS_DEFAULT_PORT	"65433"
/* Sockets the metrics server may listen on (every address of a name). */
#define METRICS_MAX_SOCKETS	8
/* Requests are small: a request line and a few headers, no body. */
#define METRICS_MAX_HEADERS	8192
/* A client that sends nothing is closed after this many seconds. */
#define METRICS_TIMEOUT_SECS	10
/* The status page's chart: one sample a second, for five minutes. */
#define METRICS_HISTORY		300

/* The counters one history sample keeps, cumulative. */
struct metrics_sample {
	double		t;		/* wall clock, seconds */
	uint64_t	open;
	uint64_t	received;
	uint64_t	sent;
	uint64_t	accepted;
};

static struct evhttp		*metrics_http;
static struct sockaddr_storage	 metrics_addrs[METRICS_MAX_SOCKETS];
static size_t			 metrics_naddrs;
static struct event		*metrics_tick_ev;
static uint64_t			 metrics_start_us;	/* monotonic */
static double			 metrics_start_wall;

/* A ring of METRICS_HISTORY + 1 samples: n intervals need n + 1 ends. */
static struct metrics_sample	 metrics_ring[METRICS_HISTORY + 1];
static size_t			 metrics_ring_next;
static size_t			 metrics_ring_len;

/* Seconds since the epoch, with microseconds. */
static double
metrics_wall_now(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return ((double)tv.tv_sec + (double)tv.tv_usec / 1e6);
}

/* Seconds since the server started. */
static double
metrics_uptime(void)
{
	return ((double)(clock_now_us() - metrics_start_us) / 1e6);
}

/* The i-th oldest sample of the ring. */
static const struct metrics_sample *
metrics_sample_at(size_t i)
{
	size_t	first;

	first = (metrics_ring_next + (METRICS_HISTORY + 1) - metrics_ring_len) %
	    (METRICS_HISTORY + 1);
	return (&metrics_ring[(first + i) % (METRICS_HISTORY + 1)]);
}

/* Once a second: the counters, for the chart and the rates. */
static void
metrics_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_sample	*s = &metrics_ring[metrics_ring_next];

	s->t = metrics_wall_now();
	s->open = server_stats.open;
	s->received = server_stats.bytes_in;
	s->sent = server_stats.bytes_out;
	s->accepted = server_stats.accepted;
	metrics_ring_next = (metrics_ring_next + 1) % (METRICS_HISTORY + 1);
	if (metrics_ring_len < METRICS_HISTORY + 1)
		metrics_ring_len++;
}

/* One series' HELP and TYPE lines. */
static void
metrics_head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A series with no labels. */
static void
metrics_one(struct evbuffer *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	metrics_head(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

/* A series with a reason label, one sample per reason. */
static void
metrics_reasons(struct evbuffer *b, const char *name, const char *help,
    const char *const *names, const uint64_t *v, size_t n)
{
	size_t	i;

	metrics_head(b, name, "counter", help);
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "%s{reason=\"%s\"} %llu\n", name,
		    names[i], (unsigned long long)v[i]);
}

/* GET /metrics: every counter, in Prometheus's text format 0.0.4. */
static void
metrics_prometheus(struct evbuffer *b)
{
	const struct server_stats	*s = &server_stats;

	metrics_one(b, "evecho_connections_open", "gauge",
	    "Connections open now.", s->open);
	metrics_one(b, "evecho_connections_peak", "gauge",
	    "Most connections open at once since start.", s->peak);
	metrics_one(b, "evecho_connections_max", "gauge",
	    "Connections the server accepts at once (--max-conns).",
	    server_config.max_conns);
	metrics_one(b, "evecho_connections_accepted_total", "counter",
	    "Connections accepted and served.", s->accepted);
	metrics_reasons(b, "evecho_connections_rejected_total",
	    "Connections closed at accept, by reason.", stats_reject_names,
	    s->rejected, REJECT_REASONS);
	metrics_reasons(b, "evecho_connections_closed_total",
	    "Accepted connections that ended, by reason.", stats_close_names,
	    s->closed, CLOSE_REASONS);
	metrics_one(b, "evecho_received_bytes_total", "counter",
	    "Bytes read from clients.", s->bytes_in);
	metrics_one(b, "evecho_sent_bytes_total", "counter",
	    "Bytes echoed to clients.", s->bytes_out);
	metrics_one(b, "evecho_dropped_bytes_total", "counter",
	    "Bytes received and never echoed (connection closed first).",
	    s->bytes_dropped);
	metrics_one(b, "evecho_greetings_total", "counter",
	    "--greeting lines sent.", s->greetings);
	metrics_one(b, "evecho_connections_paused", "gauge",
	    "Connections not read now: --max-pending or --max-memory holds.",
	    s->paused);
	metrics_one(b, "evecho_connection_pauses_total", "counter",
	    "Times reading from a connection paused for a memory bound.",
	    s->paused_total);
	metrics_one(b, "evecho_memory_held_bytes", "gauge",
	    "Bytes held for connections, as --max-memory counts them.",
	    conn_memory());
	metrics_one(b, "evecho_memory_limit_bytes", "gauge",
	    "The --max-memory bound.", server_config.max_memory);
	metrics_one(b, "evecho_memory_full_total", "counter",
	    "Times --max-memory was reached.", s->mem_full_events);
	metrics_one(b, "evecho_accept_errors_total", "counter",
	    "accept() failures (out of descriptors, mostly).",
	    s->accept_errors);
	metrics_one(b, "evecho_accept_pauses_total", "counter",
	    "Times accepting paused after an accept error.", s->accept_pauses);
	metrics_head(b, "evecho_uptime_seconds", "gauge",
	    "Seconds since the server started.");
	evbuffer_add_printf(b, "evecho_uptime_seconds %.3f\n",
	    metrics_uptime());
	metrics_head(b, "evecho_start_time_seconds", "gauge",
	    "When the server started, in seconds since the epoch.");
	evbuffer_add_printf(b, "evecho_start_time_seconds %.3f\n",
	    metrics_start_wall);
	metrics_head(b, "evecho_build_info", "gauge",
	    "The server's version; always 1.");
	evbuffer_add_printf(b, "evecho_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
}

/* A JSON object of reason counters. */
static void
metrics_json_reasons(struct evbuffer *b, const char *const *names,
    const uint64_t *v, size_t n)
{
	size_t	i;

	evbuffer_add(b, "{", 1);
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "%s\"%s\": %llu", i ? ", " : "",
		    names[i], (unsigned long long)v[i]);
	evbuffer_add(b, "}", 1);
}

/* Per second between two samples; 0 without an interval. */
static double
metrics_rate(uint64_t from, uint64_t to, double secs)
{
	return (secs > 0 && to >= from ? (double)(to - from) / secs : 0.0);
}

/* The history and the last second's rates. */
static void
metrics_json_history(struct evbuffer *b)
{
	const struct metrics_sample	*p, *q;
	double				 dt = 0;
	size_t				 i;

	p = q = NULL;
	if (metrics_ring_len >= 2) {
		p = metrics_sample_at(metrics_ring_len - 2);
		q = metrics_sample_at(metrics_ring_len - 1);
		dt = q->t - p->t;
	}
	evbuffer_add_printf(b, "\"rates\": {\"received_bytes_per_second\": "
	    "%.1f, \"sent_bytes_per_second\": %.1f, \"accepted_per_second\": "
	    "%.1f},\n", p ? metrics_rate(p->received, q->received, dt) : 0.0,
	    p ? metrics_rate(p->sent, q->sent, dt) : 0.0,
	    p ? metrics_rate(p->accepted, q->accepted, dt) : 0.0);
	evbuffer_add_printf(b, "\"history\": {\"interval_seconds\": 1, "
	    "\"samples\": [");
	for (i = 1; i < metrics_ring_len; i++) {
		p = metrics_sample_at(i - 1);
		q = metrics_sample_at(i);
		evbuffer_add_printf(b, "%s\n {\"t\": %.3f, \"open\": %llu, "
		    "\"received\": %llu, \"sent\": %llu, \"accepted\": %llu}",
		    i > 1 ? "," : "", q->t, (unsigned long long)q->open,
		    (unsigned long long)(q->received - p->received),
		    (unsigned long long)(q->sent - p->sent),
		    (unsigned long long)(q->accepted - p->accepted));
	}
	evbuffer_add_printf(b, "]}\n");
}

/*
 * GET /stats.json: the counters for the status page.  Hand-written: every
 * value is a number or an address or host name, quoted after a check.
 */
static void
metrics_json(struct evbuffer *b)
{
	const struct server_stats	*s = &server_stats;
	char				 host[256], name[ADDR_STRLEN];
	size_t				 i;

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++) {
		if (host[i] == '"' || host[i] == '\\' ||
		    (unsigned char)host[i] < 0x20)
			host[i] = '?';
	}
	evbuffer_add_printf(b, "{\"version\": \"%s\", \"pid\": %ld, "
	    "\"hostname\": \"%s\",\n\"start_time\": %.3f, \"uptime_seconds\": "
	    "%.3f,\n\"listening\": [", PACKAGE_VERSION, (long)getpid(), host,
	    metrics_start_wall, metrics_uptime());
	for (i = 0; i < listener_count(); i++)
		evbuffer_add_printf(b, "%s\"%s\"", i ? ", " : "", addr_format(
		    listener_address(i), name, sizeof name));
	evbuffer_add_printf(b, "],\n\"connections\": {\"open\": %llu, "
	    "\"peak\": %llu, \"accepted\": %llu, \"max\": %llu,\n "
	    "\"rejected\": ", (unsigned long long)s->open,
	    (unsigned long long)s->peak, (unsigned long long)s->accepted,
	    (unsigned long long)server_config.max_conns);
	metrics_json_reasons(b, stats_reject_names, s->rejected,
	    REJECT_REASONS);
	evbuffer_add_printf(b, ",\n \"closed\": ");
	metrics_json_reasons(b, stats_close_names, s->closed, CLOSE_REASONS);
	evbuffer_add_printf(b, ",\n \"paused\": %llu, \"pauses\": %llu},\n"
	    "\"bytes\": {\"received\": %llu, \"sent\": %llu, \"dropped\": "
	    "%llu, \"held\": %zu, \"max_memory\": %llu},\n\"accept\": "
	    "{\"errors\": %llu, \"pauses\": %llu},\n",
	    (unsigned long long)s->paused, (unsigned long long)s->paused_total,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    (unsigned long long)s->bytes_dropped, conn_memory(),
	    (unsigned long long)server_config.max_memory,
	    (unsigned long long)s->accept_errors,
	    (unsigned long long)s->accept_pauses);
	metrics_json_history(b);
	evbuffer_add_printf(b, "}\n");
}

/* Send body with its content type; HEAD gets the headers alone. */
static void
metrics_reply(struct evhttp_request *req, const char *type,
    struct evbuffer *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	/* Numbers of the moment: never from a cache. */
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
}

/* Route a request; evhttp has checked the method already. */
static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	const char	*path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(
	    req));
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0) {
		metrics_prometheus(b);
		metrics_reply(req, "text/plain; version=0.0.4; charset=utf-8",
		    b);
	} else if (path != NULL && strcmp(path, "/stats.json") == 0) {
		metrics_json(b);
		metrics_reply(req, "application/json", b);
	} else if (path != NULL && (strcmp(path, "/") == 0 ||
	    strcmp(path, "/index.html") == 0)) {
		evbuffer_add_reference(b, status_html, sizeof status_html - 1,
		    NULL, NULL);
		metrics_reply(req, "text/html; charset=utf-8", b);
	} else
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
	evbuffer_free(b);
}

/* listener_bind()'s add(): evhttp serves the socket. */
static int
metrics_add(int fd, const char *name, void *arg, char **cause)
{
	socklen_t	len;

	if (metrics_naddrs == METRICS_MAX_SOCKETS) {
		cause_set(cause, "--metrics: more than %d addresses",
		    METRICS_MAX_SOCKETS);
		close(fd);
		return (-1);
	}
	len = sizeof metrics_addrs[0];
	if (getsockname(fd, (struct sockaddr *)&metrics_addrs[metrics_naddrs],
	    &len) != 0 || evhttp_accept_socket(metrics_http, fd) != 0) {
		cause_set(cause, "--metrics: cannot serve %s", name);
		close(fd);
		return (-1);
	}
	metrics_naddrs++;
	return (0);
}

/*
 * Listen for HTTP on every address spec resolves to.  Returns as
 * listener_bind() does.
 */
int
metrics_start(const char *spec, char **cause)
{
	struct timeval	tv = { 1, 0 };
	int		rc;

	metrics_start_us = clock_now_us();
	metrics_start_wall = metrics_wall_now();
	if ((metrics_http = evhttp_new(server_base)) == NULL) {
		cause_set(cause, "--metrics: cannot create an HTTP server");
		return (-1);
	}
	evhttp_set_allowed_methods(metrics_http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(metrics_http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(metrics_http, 0);
	evhttp_set_timeout(metrics_http, METRICS_TIMEOUT_SECS);
	evhttp_set_gencb(metrics_http, metrics_request_cb, NULL);
	rc = listener_bind(spec, METRICS_DEFAULT_PORT, 64, 0, NULL, metrics_add,
	    NULL, cause);
	if (rc != 0)
		return (rc);
	metrics_tick_ev = event_new(server_base, -1, EV_PERSIST,
	    metrics_tick_cb, NULL);
	if (metrics_tick_ev == NULL || event_add(metrics_tick_ev, &tv) != 0) {
		cause_set(cause, "--metrics: cannot arm the sampling timer");
		return (-1);
	}
	metrics_tick_cb(-1, 0, NULL);
	return (0);
}

/* After the listeners' lines: where the metrics are, one line each. */
void
metrics_print_ready(void)
{
	char	name[ADDR_STRLEN];
	size_t	i;

	for (i = 0; i < metrics_naddrs; i++) {
		printf("metrics on http://%s/\n", addr_format(
		    (struct sockaddr *)&metrics_addrs[i], name, sizeof name));
	}
	fflush(stdout);
}

/* At exit: close the HTTP server and its timer. */
void
metrics_stop(void)
{
	if (metrics_tick_ev != NULL) {
		event_free(metrics_tick_ev);
		metrics_tick_ev = NULL;
	}
	if (metrics_http != NULL) {
		evhttp_free(metrics_http);
		metrics_http = NULL;
	}
}
