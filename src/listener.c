/*
 * listener.c: listening sockets, the accept limit and accept errors.
 * UDP sockets are bound, held for workers and passed on here too, and
 * served by udp.c.
 *
 * libevent's evconnlistener only reports accept errors; what to do is ours.
 * Out of descriptors (EMFILE/ENFILE) the listening socket stays readable, so
 * a level-triggered loop would spin at 100% CPU and log without end.  We
 * disable every listener for a short back-off instead and warn at most once
 * a second.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "addr.h"
#include "log.h"
#include "parse.h"
#include "server.h"

#define LISTENER_MAX		SUPERVISOR_MAX_LISTEN
#define LISTENER_BACKOFF_MS	250

struct listener {
	struct evconnlistener	*evl;	/* NULL: held for workers, or UDP */
	struct sockaddr_storage	 addr;	/* as bound, with the real port */
	int			 shared; /* systemd's: one for all workers */
	int			 proxy;	/* --proxy-protocol: a header first */
	int			 udp;	/* -u: udp.c serves it */
	int			 faulty; /* --fault applies to it */
};

static struct listener	 listeners[LISTENER_MAX];
static size_t		 nlisteners;

/*
 * With --workers, the supervisor holds a socket per address for each
 * worker (SO_REUSEPORT), held[slot * LISTENER_MAX + i], accepting on none:
 * a worker that dies is replaced on the same sockets, so that what waits
 * in their backlogs is not lost.
 */
static size_t		 listener_nslots;
static int		*listener_held;
static int		 listener_backlog;
/* Whether the sockets opened next take PROXY headers, or are UDP. */
static int		 listener_proxy_next;
static int		 listener_udp_next;
static int		 listener_fault_next;
static struct event	*listener_resume_ev;
static int		 listener_last_error;

static void	listener_report_errors(uint64_t, void *);
static int	listener_socket(struct sockaddr *, socklen_t, int, int, int,
		    char **);
static void	listener_report_refused(uint64_t, void *);

static struct log_limit	 listener_error_log =
    LOG_LIMIT_INITIALIZER(listener_report_errors, NULL);
static struct log_limit	 listener_refused_log =
    LOG_LIMIT_INITIALIZER(listener_report_refused, NULL);
static void	listener_report_untrusted(uint64_t, void *);
static struct log_limit	 listener_untrusted_log =
    LOG_LIMIT_INITIALIZER(listener_report_untrusted, NULL);

/* Say how many peers tried a PROXY listener without being trusted. */
static void
listener_report_untrusted(uint64_t n, void *arg)
{
	log_warnx("refused %llu connections on PROXY listeners from peers "
	    "not --proxy-trusted", (unsigned long long)n);
}

/* Say how many accepts failed, and why the last did. */
static void
listener_report_errors(uint64_t n, void *arg)
{
	log_warnx("accept failed %llu times: %s; accepting pauses for %d ms "
	    "each time", (unsigned long long)n, strerror(listener_last_error),
	    LISTENER_BACKOFF_MS);
}

/* Say how many connections --max-conns refused. */
static void
listener_report_refused(uint64_t n, void *arg)
{
	log_warnx("refused %llu connections over --max-conns %llu",
	    (unsigned long long)n, (unsigned long long)server_config.max_conns);
}

/*
 * Serve a connection from sa -- the client's own address, from a PROXY
 * header if its listener takes one -- under --max-conns-per-source.
 */
void
listener_admit(int fd, const struct sockaddr *sa, socklen_t len, int faulty)
{
	if (source_admit(sa) != 0) {
		close(fd);
		server_conn_closed();
		return;
	}
	/* Chosen here, once: a connection no fault hit is conn.c's alone. */
	if (faulty && fault_accept(fd, sa, len))
		return;
	if (conn_accept(fd, sa, len) == NULL)
		source_release(sa);	/* conn_accept closed fd */
}

/* Return 1 if --proxy-trusted lets sa send a PROXY header. */
static int
listener_trusted(const struct sockaddr *sa)
{
	size_t	i;

	if (server_config.nproxy_trusted == 0)
		return (1);
	for (i = 0; i < server_config.nproxy_trusted; i++) {
		if (cidr_match(&server_config.proxy_trusted[i], sa))
			return (1);
	}
	return (0);
}

/*
 * A connection arrived on l: take it, or close it at once over
 * --max-conns or, on a PROXY listener, from a peer not trusted to send a
 * header.
 */
static void
listener_take(struct listener *l, int fd, struct sockaddr *sa, socklen_t len)
{
	char		name[ADDR_STRLEN];

	if (conn_count() + prelude_count() < server_config.max_conns) {
		if (!l->proxy) {
			listener_admit(fd, sa, len, l->faulty);
			return;
		}
		if (listener_trusted(sa)) {
			prelude_start(fd, sa, len, l->faulty);
			return;
		}
		close(fd);
		server_stats->rejected[REJECT_PROXY_UNTRUSTED]++;
		if (log_debug_enabled())
			log_debug("refused %s: not --proxy-trusted", addr_format(
			    sa, name, sizeof name));
		log_limit_hit(&listener_untrusted_log);
		return;
	}
	close(fd);
	server_stats->rejected[REJECT_MAX_CONNS]++;
	if (log_debug_enabled())
		log_debug("refused %s: %zu connections open, --max-conns %llu",
		    addr_format(sa, name, sizeof name), conn_count(),
		    (unsigned long long)server_config.max_conns);
	log_limit_hit(&listener_refused_log);
}

/* libevent accepted a connection. */
static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	listener_take(arg, fd, sa, (socklen_t)len);
}

/*
 * At shutdown, before the listeners close: take every connection that
 * completed its handshake and waits in a backlog, so that closing the
 * listener does not reset it.  They are drained like the others.
 */
void
listener_accept_backlog(void)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	size_t			i;
	int			fd;

	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].evl == NULL)
			continue;
		for (;;) {
			len = sizeof ss;
			fd = accept4(evconnlistener_get_fd(listeners[i].evl),
			    (struct sockaddr *)&ss, &len,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd == -1)
				break;	/* empty, or out of descriptors */
			listener_take(&listeners[i], fd,
			    (struct sockaddr *)&ss, len);
		}
	}
}

/* The back-off is over: accept again. */
static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t	i;

	if (server_is_draining())
		return;
	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].evl != NULL)
			evconnlistener_enable(listeners[i].evl);
	}
}

/* accept() failed for a reason other than a retry: pause, warn rarely. */
static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct timeval	tv = { 0, LISTENER_BACKOFF_MS * 1000 };
	size_t		i;

	server_stats->accept_errors++;
	listener_last_error = EVUTIL_SOCKET_ERROR();
	log_limit_hit(&listener_error_log);
	if (evtimer_pending(listener_resume_ev, NULL))
		return;	/* another listener's report in the same loop round */
	server_stats->accept_pauses++;
	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].evl != NULL)
			evconnlistener_disable(listeners[i].evl);
	}
	evtimer_add(listener_resume_ev, &tv);
}

/* Set the port of an IPv4 or IPv6 address. */
static void
listener_set_port(struct sockaddr *sa, int port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* Return 1 if addr is already bound by one of ours of the kind opened now. */
static int
listener_bound(const struct sockaddr *sa, socklen_t len)
{
	size_t	i;

	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].udp == listener_udp_next &&
		    memcmp(&listeners[i].addr, sa, len) == 0)
			return (1);
	}
	return (0);
}

/* The accept back-off's timer, once. */
static int
listener_setup(char **cause)
{
	if (listener_resume_ev != NULL)
		return (0);
	listener_resume_ev = evtimer_new(server_base, listener_resume_cb, NULL);
	if (listener_resume_ev == NULL) {
		cause_set(cause, "cannot create a timer");
		return (-1);
	}
	return (0);
}

/*
 * For the supervisor: fd is the first worker's socket for l; bind the
 * others to the same address and port (the kernel's choice, with port 0).
 */
static int
listener_hold(struct listener *l, int fd, socklen_t len, char **cause)
{
	size_t	slot, i = (size_t)(l - listeners);
	int	other;

	listener_held[i] = fd;
	for (slot = 1; slot < listener_nslots; slot++) {
		other = l->shared ? fd : listener_socket((struct sockaddr *)
		    &l->addr, len, l->udp ? SOCK_DGRAM : SOCK_STREAM,
		    listener_backlog, 1, cause);
		if (other == -1) {
			while (--slot > 0)
				close(listener_held[slot * LISTENER_MAX + i]);
			close(fd);
			return (-1);
		}
		listener_held[slot * LISTENER_MAX + i] = other;
	}
	nlisteners++;
	return (0);
}

/*
 * Serve the listening socket fd; -1 with *cause (fd closed) on failure.
 * name is for that message.
 */
static int
listener_add(int fd, const char *name, char **cause)
{
	struct listener	*l;
	socklen_t	 alen;

	if (nlisteners == LISTENER_MAX) {
		cause_set(cause, "too many listening addresses (at most %d)",
		    LISTENER_MAX);
		close(fd);
		return (-1);
	}
	l = &listeners[nlisteners];
	alen = sizeof l->addr;
	if (getsockname(fd, (struct sockaddr *)&l->addr, &alen) != 0)
		goto fail;
	l->proxy = listener_proxy_next;
	l->udp = listener_udp_next;
	l->faulty = listener_fault_next;
	if (listener_nslots != 0)
		return (listener_hold(l, fd, alen, cause));
	if (l->udp) {
		if (udp_add(fd, l->faulty, cause) != 0)
			return (-1);
		nlisteners++;
		return (0);
	}
	/* Backlog 0: the socket is already listening with ours. */
	l->evl = evconnlistener_new(server_base, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l->evl == NULL)
		goto fail;
	evconnlistener_set_error_cb(l->evl, listener_error_cb);
	nlisteners++;
	return (0);

fail:
	cause_set(cause, "cannot listen on %s: %s", name, strerror(errno));
	close(fd);
	return (-1);
}

/*
 * A socket of type (SOCK_STREAM or SOCK_DGRAM) bound to sa, and listening
 * if a stream; -1 with *cause on failure.
 */
static int
listener_socket(struct sockaddr *sa, socklen_t len, int type, int backlog,
    int reuse_port, char **cause)
{
	int		 fd, one = 1, saved;
	char		 name[ADDR_STRLEN];

	fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* Each family gets its own socket, so [::] never takes 0.0.0.0. */
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if ((reuse_port &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
	    bind(fd, sa, len) != 0 ||
	    (type == SOCK_STREAM && listen(fd, backlog) != 0))
		goto fail;
	return (fd);

fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	cause_set(cause, "cannot listen on %s%s: %s",
	    type == SOCK_DGRAM ? "udp " : "",
	    addr_format(sa, name, sizeof name), strerror(saved));
	return (-1);
}

/*
 * Bind and listen on every address spec (the syntax of -l, with
 * default_port where it names none) resolves to, with sockets of type,
 * skipping those seen() says are taken, and hand each socket to add().
 * With port 0 the kernel picks a port for the first address; the others
 * reuse it, so "localhost:0" gives one port on 127.0.0.1 and ::1.  -1
 * with *cause if one cannot be bound, LISTENER_BAD_ADDRESS if the spec is
 * malformed or unresolvable.
 */
int
listener_bind(const char *spec, const char *default_port, int type,
    int backlog, int reuse_port,
    int (*seen)(const struct sockaddr *, socklen_t),
    int (*add)(int, const char *, void *, char **), void *arg, char **cause)
{
	struct addrinfo		*res, *ai;
	struct sockaddr_storage	 ss;
	char			*host, *port, name[ADDR_STRLEN];
	int			 chosen = 0, fd, rc;

	if (addr_parse(spec, ADDR_DEFAULT_HOST, default_port, &host, &port,
	    cause) != 0)
		return (LISTENER_BAD_ADDRESS);
	rc = addr_resolve(host, port, AF_UNSPEC, 1, &res, cause);
	free(host);
	free(port);
	if (rc != 0)
		return (LISTENER_BAD_ADDRESS);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof ss)
			continue;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		if (chosen != 0)
			listener_set_port((struct sockaddr *)&ss, chosen);
		if (seen != NULL && seen((struct sockaddr *)&ss, ai->ai_addrlen))
			continue;
		fd = listener_socket((struct sockaddr *)&ss, ai->ai_addrlen,
		    type, backlog, reuse_port, cause);
		if (fd == -1)
			break;
		chosen = addr_local_port(fd);
		addr_format((struct sockaddr *)&ss, name, sizeof name);
		if (add(fd, name, arg, cause) != 0)
			break;	/* fd closed */
	}
	freeaddrinfo(res);
	return (ai == NULL ? 0 : -1);
}

/*
 * Serve the sockets systemd passed (socket activation): each must be a
 * listening TCP socket.  Return how many, or -1 with *cause.  They keep
 * systemd's bind and backlog; --reuse-port and --backlog do not apply.
 */
int
listener_adopt_activated(char **cause)
{
	char	name[32];
	int	n, first, fd;

	if ((n = systemd_listen_fds(&first, cause)) <= 0)
		return (n);
	for (fd = first; fd < first + n; fd++) {
		snprintf(name, sizeof name, "descriptor %d", fd);
		if (!systemd_is_listening_stream(fd)) {
			cause_set(cause, "socket activation: %s is not a "
			    "listening TCP socket", name);
			return (-1);
		}
		if (evutil_make_socket_nonblocking(fd) != 0 ||
		    evutil_make_socket_closeonexec(fd) != 0) {
			cause_set(cause, "socket activation: %s: %s", name,
			    strerror(errno));
			return (-1);
		}
		/* One socket: with workers, they all accept from it. */
		listeners[nlisteners].shared = 1;
		listener_proxy_next = server_config.proxy_all;
		listener_udp_next = 0;
		listener_fault_next = server_config.nfaults != 0 &&
		    server_config.nfault_listen == 0;
		if (listener_add(fd, name, cause) != 0)
			return (-1);
	}
	return (n);
}

/*
 * The supervisor's mode: every socket opened from now on is held, one
 * for each of nslots workers; call before opening any.
 */
int
listener_hold_for(size_t nslots, int backlog, char **cause)
{
	listener_held = calloc(nslots * LISTENER_MAX, sizeof (int));
	if (listener_held == NULL) {
		cause_set(cause, "out of memory");
		return (-1);
	}
	listener_nslots = nslots;
	listener_backlog = backlog;
	return (0);
}

/* The sockets held for worker slot (0-based), listener_count() of them. */
const int *
listener_slot_fds(size_t slot)
{
	return (&listener_held[slot * LISTENER_MAX]);
}

/*
 * A worker: serve the sockets the supervisor passed, fds[0..n-1], each
 * of the enum listener_kind in kinds[i].  -1 with *cause on failure.
 */
int
listener_adopt(const int *fds, const int *kinds, size_t n, char **cause)
{
	char	name[32];
	size_t	i;

	if (listener_setup(cause) != 0)
		return (-1);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "descriptor %d", fds[i]);
		listener_proxy_next = (kinds[i] & LISTENER_PROXY) != 0;
		listener_udp_next = (kinds[i] & LISTENER_UDP) != 0;
		listener_fault_next = (kinds[i] & LISTENER_FAULT) != 0;
		if (evutil_make_socket_closeonexec(fds[i]) != 0 ||
		    listener_add(fds[i], name, cause) != 0)
			return (-1);
	}
	return (0);
}

/* Return 1 if the listeners of -l spec take PROXY headers. */
static int
listener_spec_proxy(const char *spec)
{
	size_t	i;

	if (server_config.proxy_all)
		return (1);
	for (i = 0; i < server_config.nproxy_specs; i++) {
		if (strcmp(server_config.proxy_specs[i], spec) == 0)
			return (1);
	}
	return (0);
}

/*
 * Does --fault apply to the sockets of spec: all of them without
 * --fault-listen, else the ones it names (as -l or -u has them).
 */
static int
listener_spec_faulty(const char *spec)
{
	size_t	i;

	if (server_config.nfaults == 0)
		return (0);
	if (server_config.nfault_listen == 0)
		return (1);
	for (i = 0; i < server_config.nfault_listen; i++) {
		if (strcmp(server_config.fault_listen[i], spec) == 0)
			return (1);
	}
	return (0);
}

/* listener_bind()'s add(): an echo listener. */
static int
listener_add_echo(int fd, const char *name, void *arg, char **cause)
{
	return (listener_add(fd, name, cause));
}

/*
 * Open an echo listener for every address each spec resolves to; as
 * listener_bind() fails, so does this.
 */
int
listener_open_all(const char **specs, size_t n, int backlog, int reuse_port,
    char **cause)
{
	size_t	i;
	int	rc;

	if (listener_setup(cause) != 0)
		return (-1);
	listener_udp_next = 0;
	for (i = 0; i < n; i++) {
		listener_proxy_next = listener_spec_proxy(specs[i]);
		listener_fault_next = listener_spec_faulty(specs[i]);
		rc = listener_bind(specs[i], ADDR_DEFAULT_PORT, SOCK_STREAM,
		    backlog, reuse_port, listener_bound,
		    listener_add_echo, NULL, cause);
		if (rc != 0)
			return (rc);
	}
	return (0);
}

/* The same for the UDP echo of every -u spec. */
int
listener_open_udp(const char **specs, size_t n, int reuse_port, char **cause)
{
	size_t	i;
	int	rc = 0;

	listener_proxy_next = 0;
	listener_udp_next = 1;
	for (i = 0; i < n; i++) {
		listener_fault_next = listener_spec_faulty(specs[i]);
		rc = listener_bind(specs[i], ADDR_DEFAULT_PORT, SOCK_DGRAM, 0,
		    reuse_port, listener_bound, listener_add_echo, NULL,
		    cause);
		if (rc != 0)
			break;
	}
	listener_udp_next = 0;
	return (rc);
}

/* Return 1 if listening socket i takes PROXY headers. */
int
listener_is_proxy(size_t i)
{
	return (listeners[i].proxy);
}

/* What socket i serves: enum listener_kind's bits. */
int
listener_kind(size_t i)
{
	return ((listeners[i].udp ? LISTENER_UDP : 0) |
	    (listeners[i].proxy ? LISTENER_PROXY : 0) |
	    (listeners[i].faulty ? LISTENER_FAULT : 0));
}

/* The address listening socket i is bound to, i < listener_count(). */
const struct sockaddr *
listener_address(size_t i)
{
	return ((const struct sockaddr *)&listeners[i].addr);
}

/* Return how many sockets are listening. */
size_t
listener_count(void)
{
	return (nlisteners);
}

/* Tell scripts we are ready: one flushed line per listening socket. */
void
listener_print_ready(void)
{
	char	name[ADDR_STRLEN];
	size_t	i;

	for (i = 0; i < nlisteners; i++) {
		printf("listening on %s%s\n", listeners[i].udp ? "udp " : "",
		    addr_format((struct sockaddr *)&listeners[i].addr, name,
		    sizeof name));
	}
	fflush(stdout);
}

/* Stop accepting for good: close every listening socket. */
void
listener_close_all(void)
{
	size_t	i, slot;


	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].evl != NULL)
			evconnlistener_free(listeners[i].evl);
		for (slot = 0; slot < listener_nslots; slot++) {
			if (slot == 0 || !listeners[i].shared)
				close(listener_held[slot * LISTENER_MAX + i]);
		}
	}
	/* Without workers, udp.c owns its sockets. */
	if (listener_nslots == 0)
		udp_close_all();
	nlisteners = 0;
	free(listener_held);
	listener_held = NULL;
	listener_nslots = 0;
	log_limit_flush(&listener_error_log);
	log_limit_flush(&listener_refused_log);
	log_limit_flush(&listener_untrusted_log);
	if (listener_resume_ev != NULL) {
		event_free(listener_resume_ev);
		listener_resume_ev = NULL;
	}
}
