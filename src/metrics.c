/*
 * metrics.c: --metrics ADDR, an HTTP server on the echo loop (libevent's
 * evhttp): GET /metrics in Prometheus's text format, GET /stats.json for
 * the status page, and GET / the page itself (src/status.html, compiled
 * in).  It reads the counters the echo path keeps as plain
 * integers anyway, so serving them costs the echo path nothing.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <stddef.h>
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
static const struct server_stats *metrics_slots;	/* one per worker */
static size_t			 metrics_nslots;
static uint64_t			 metrics_peak;	/* of the sums */

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

/*
 * Every slot's counters added up.  The peak is also the largest sum seen
 * here: with workers, their peaks came at different times.
 */
static void
metrics_total(struct server_stats *total)
{
	stats_sum(total, metrics_slots, metrics_nslots);
	if (total->open > metrics_peak)
		metrics_peak = total->open;
	if (metrics_peak > total->peak)
		total->peak = metrics_peak;
	else
		metrics_peak = total->peak;
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

	struct server_stats	 total;

	metrics_total(&total);
	s->t = metrics_wall_now();
	s->open = total.open;
	s->received = total.bytes_in;
	s->sent = total.bytes_out;
	s->accepted = total.accepted;
	metrics_ring_next = (metrics_ring_next + 1) % (METRICS_HISTORY + 1);
	if (metrics_ring_len < METRICS_HISTORY + 1)
		metrics_ring_len++;
}

/* One counter or gauge of struct server_stats, or an array of them. */
struct metrics_series {
	const char		 *name;
	const char		 *type;
	const char		 *help;
	size_t			  offset;	/* of the first uint64_t */
	const char *const	 *reasons;	/* NULL: one value */
	size_t			  nreasons;
	const char		 *label;	/* of reasons; NULL: reason */
};

#define METRICS_AT(field)	offsetof(struct server_stats, field)

static const struct metrics_series metrics_series[] = {
	{ "evecho_connections_open", "gauge", "Connections open now.",
	  METRICS_AT(open), NULL, 0, NULL },
	{ "evecho_connections_peak", "gauge",
	  "Most connections open at once since start.", METRICS_AT(peak),
	  NULL, 0, NULL },
	{ "evecho_connections_max", "gauge",
	  "Connections the server accepts at once (--max-conns).",
	  METRICS_AT(max_conns), NULL, 0, NULL },
	{ "evecho_connections_accepted_total", "counter",
	  "Connections accepted and served.", METRICS_AT(accepted), NULL, 0, NULL },
	{ "evecho_connections_rejected_total", "counter",
	  "Connections closed at accept, by reason.", METRICS_AT(rejected),
	  stats_reject_names, REJECT_REASONS, NULL },
	{ "evecho_connections_closed_total", "counter",
	  "Accepted connections that ended, by reason.", METRICS_AT(closed),
	  stats_close_names, CLOSE_REASONS, NULL },
	{ "evecho_received_bytes_total", "counter", "Bytes read from clients.",
	  METRICS_AT(bytes_in), NULL, 0, NULL },
	{ "evecho_sent_bytes_total", "counter", "Bytes echoed to clients.",
	  METRICS_AT(bytes_out), NULL, 0, NULL },
	{ "evecho_dropped_bytes_total", "counter",
	  "Bytes received and never echoed (connection closed first).",
	  METRICS_AT(bytes_dropped), NULL, 0, NULL },
	{ "evecho_greetings_total", "counter", "--greeting lines sent.",
	  METRICS_AT(greetings), NULL, 0, NULL },
	{ "evecho_connections_paused", "gauge",
	  "Connections not read now: --max-pending or --max-memory holds.",
	  METRICS_AT(paused), NULL, 0, NULL },
	{ "evecho_connection_pauses_total", "counter",
	  "Times reading from a connection paused for a memory bound.",
	  METRICS_AT(paused_total), NULL, 0, NULL },
	{ "evecho_memory_held_bytes", "gauge",
	  "Bytes held for connections, as --max-memory counts them.",
	  METRICS_AT(mem_held), NULL, 0, NULL },
	{ "evecho_memory_limit_bytes", "gauge", "The --max-memory bound.",
	  METRICS_AT(max_memory), NULL, 0, NULL },
	{ "evecho_memory_full_total", "counter",
	  "Times --max-memory was reached.", METRICS_AT(mem_full_events),
	  NULL, 0, NULL },
	{ "evecho_accept_errors_total", "counter",
	  "accept() failures (out of descriptors, mostly).",
	  METRICS_AT(accept_errors), NULL, 0, NULL },
	{ "evecho_accept_pauses_total", "counter",
	  "Times accepting paused after an accept error.",
	  METRICS_AT(accept_pauses), NULL, 0, NULL },
	{ "evecho_udp_received_datagrams_total", "counter",
	  "UDP datagrams received.", METRICS_AT(udp_in), NULL, 0, NULL },
	{ "evecho_udp_received_bytes_total", "counter",
	  "Bytes in UDP datagrams received.", METRICS_AT(udp_in_bytes),
	  NULL, 0, NULL },
	{ "evecho_udp_sent_datagrams_total", "counter",
	  "UDP datagrams echoed.", METRICS_AT(udp_out), NULL, 0, NULL },
	{ "evecho_udp_sent_bytes_total", "counter",
	  "Bytes in UDP datagrams echoed.", METRICS_AT(udp_out_bytes),
	  NULL, 0, NULL },
	{ "evecho_udp_dropped_datagrams_total", "counter",
	  "UDP datagrams not echoed, by reason (overflow: by the kernel).",
	  METRICS_AT(udp_dropped), stats_udp_drop_names, UDP_DROP_REASONS, NULL },
	{ "evecho_faults_total", "counter",
	  "--fault applied, by kind (per connection, per datagram, or per "
	  "chunk for corrupt and chunk).", METRICS_AT(faults), stats_fault_names,
	  FAULT_KINDS, "kind" },
	{ "evecho_worker_starts_total", "counter",
	  "Processes started to serve (1, and one more each restart).",
	  METRICS_AT(starts), NULL, 0, NULL },
};

/* The value at offset in s, plus i counters. */
static uint64_t
metrics_value(const struct server_stats *s, size_t offset, size_t i)
{
	const uint64_t	*v = (const uint64_t *)(const void *)
	    ((const char *)s + offset);

	return (v[i]);
}

/*
 * One sample of a series: its reason label if it has one, its worker
 * label (1-based) if worker is not 0.
 */
static void
metrics_sample(struct evbuffer *b, const struct metrics_series *m,
    const struct server_stats *s, size_t i, size_t worker)
{
	char	labels[96] = "", w[40] = "";

	if (worker != 0)
		snprintf(w, sizeof w, "worker=\"%zu\"", worker);
	if (m->reasons != NULL)
		snprintf(labels, sizeof labels, "{%s=\"%s\"%s%s}",
		    m->label != NULL ? m->label : "reason", m->reasons[i],
		    worker != 0 ? "," : "", w);
	else if (worker != 0)
		snprintf(labels, sizeof labels, "{%s}", w);
	evbuffer_add_printf(b, "%s%s %llu\n", m->name, labels,
	    (unsigned long long)metrics_value(s, m->offset, i));
}

/*
 * GET /metrics: every counter, in Prometheus's text format 0.0.4.  With
 * workers, each series has its total without a worker label -- so that
 * what watches one process watches several unchanged -- and then each
 * worker's value with one.
 */
static void
metrics_prometheus(struct evbuffer *b)
{
	const struct metrics_series	*m;
	struct server_stats		 total;
	size_t				 i, k, n;

	metrics_total(&total);
	for (m = metrics_series; m < metrics_series + sizeof metrics_series /
	    sizeof metrics_series[0]; m++) {
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    m->name, m->help, m->name, m->type);
		n = m->reasons != NULL ? m->nreasons : 1;
		for (i = 0; i < n; i++)
			metrics_sample(b, m, &total, i, 0);
		if (metrics_nslots < 2)
			continue;
		for (k = 0; k < metrics_nslots; k++) {
			for (i = 0; i < n; i++)
				metrics_sample(b, m, &metrics_slots[k], i,
				    k + 1);
		}
	}
	evbuffer_add_printf(b, "# HELP evecho_uptime_seconds Seconds since the "
	    "server started.\n# TYPE evecho_uptime_seconds gauge\n"
	    "evecho_uptime_seconds %.3f\n", metrics_uptime());
	evbuffer_add_printf(b, "# HELP evecho_start_time_seconds When the "
	    "server started, in seconds since the epoch.\n"
	    "# TYPE evecho_start_time_seconds gauge\n"
	    "evecho_start_time_seconds %.3f\n", metrics_start_wall);
	evbuffer_add_printf(b, "# HELP evecho_build_info The server's "
	    "version; always 1.\n# TYPE evecho_build_info gauge\n"
	    "evecho_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
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
	struct server_stats		 total, *s = &total;
	const struct server_stats	*w;
	char				 host[256], name[ADDR_STRLEN];
	size_t				 i;

	metrics_total(&total);

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
		evbuffer_add_printf(b, "%s\"%s%s\"", i ? ", " : "",
		    (listener_kind(i) & LISTENER_UDP) ? "udp " : "",
		    addr_format(listener_address(i), name, sizeof name));
	evbuffer_add_printf(b, "],\n\"connections\": {\"open\": %llu, "
	    "\"peak\": %llu, \"accepted\": %llu, \"max\": %llu,\n "
	    "\"rejected\": ", (unsigned long long)s->open,
	    (unsigned long long)s->peak, (unsigned long long)s->accepted,
	    (unsigned long long)s->max_conns);
	metrics_json_reasons(b, stats_reject_names, s->rejected,
	    REJECT_REASONS);
	evbuffer_add_printf(b, ",\n \"closed\": ");
	metrics_json_reasons(b, stats_close_names, s->closed, CLOSE_REASONS);
	evbuffer_add_printf(b, ",\n \"paused\": %llu, \"pauses\": %llu},\n"
	    "\"bytes\": {\"received\": %llu, \"sent\": %llu, \"dropped\": "
	    "%llu, \"held\": %llu, \"max_memory\": %llu},\n\"accept\": "
	    "{\"errors\": %llu, \"pauses\": %llu},\n\"udp\": {\"sockets\": "
	    "%llu, \"received\": %llu, \"received_bytes\": %llu, \"sent\": "
	    "%llu, \"sent_bytes\": %llu, \"dropped\": ",
	    (unsigned long long)s->paused, (unsigned long long)s->paused_total,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    (unsigned long long)s->bytes_dropped,
	    (unsigned long long)s->mem_held,
	    (unsigned long long)s->max_memory,
	    (unsigned long long)s->accept_errors,
	    (unsigned long long)s->accept_pauses,
	    (unsigned long long)s->udp_sockets,
	    (unsigned long long)s->udp_in,
	    (unsigned long long)s->udp_in_bytes,
	    (unsigned long long)s->udp_out,
	    (unsigned long long)s->udp_out_bytes);
	metrics_json_reasons(b, stats_udp_drop_names, s->udp_dropped,
	    UDP_DROP_REASONS);
	evbuffer_add_printf(b, "},\n\"workers\": [");
	for (i = 0; i < metrics_nslots; i++) {
		w = &metrics_slots[i];
		evbuffer_add_printf(b, "%s\n {\"worker\": %zu, \"pid\": %llu, "
		    "\"starts\": %llu, \"open\": %llu, \"accepted\": %llu, "
		    "\"received\": %llu, \"sent\": %llu}", i ? "," : "", i + 1,
		    (unsigned long long)w->pid, (unsigned long long)w->starts,
		    (unsigned long long)w->open,
		    (unsigned long long)w->accepted,
		    (unsigned long long)w->bytes_in,
		    (unsigned long long)w->bytes_out);
	}
	evbuffer_add_printf(b, "],\n");
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
metrics_start(const char *spec, const struct server_stats *slots, size_t n,
    char **cause)
{
	struct timeval	tv = { 1, 0 };
	int		rc;

	metrics_slots = slots;
	metrics_nslots = n;
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
	rc = listener_bind(spec, METRICS_DEFAULT_PORT, SOCK_STREAM, 64, 0, NULL,
	    metrics_add, NULL, cause);
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
