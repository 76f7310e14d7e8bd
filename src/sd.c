/*
 * sd.c: systemd's side of the server, through libsystemd: socket
 * activation (sd_listen_fds) and readiness (sd_notify: READY, STATUS,
 * STOPPING).  Built without libsystemd, it takes no sockets and tells
 * nobody; started by systemd then, the unit must be Type=simple.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "parse.h"
#include "server.h"

/* How often systemctl status's line is brought up to date. */
#define SD_STATUS_SECS	5

static struct event	*sd_status_ev;
static int		 sd_stopping;	/* STOPPING=1 sent: draining */
/* With --workers, the workers' counters (supervisor_slots()) to sum. */
static const struct server_stats *sd_slots;
static size_t		 sd_nslots;

#ifdef HAVE_LIBSYSTEMD
/*
 * The sockets systemd passed this process (LISTEN_FDS, LISTEN_PID): how
 * many, the first being SD_LISTEN_FDS_START; -1 with *cause on a bad
 * environment.  The variables are unset, so nothing started later takes
 * them for its own.
 */
int
systemd_listen_fds(int *first, char **cause)
{
	int	n;

	*first = SD_LISTEN_FDS_START;
	if ((n = sd_listen_fds(1)) < 0) {
		cause_set(cause, "socket activation: LISTEN_FDS: %s",
		    strerror(-n));
		return (-1);
	}
	return (n);
}

/*
 * Return 1 if fd is a listening TCP socket, IPv4 or IPv6.  Not any
 * listening stream: a Unix socket (ListenStream=/run/...) or SCTP would
 * be accepted from, but the server's addresses, per-source limits and
 * TCP options are TCP's.
 */
int
systemd_is_listening_stream(int fd)
{
	int		proto;
	socklen_t	len = sizeof proto;

	if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0)
		return (0);
	return (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	    proto == IPPROTO_TCP);
}

/* Send one notification, if the service manager asked for them. */
static void
sd_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
sd_send(const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	(void)sd_notify(0, msg);
}

/* Return 1 if NOTIFY_SOCKET names a service manager to tell. */
static int
sd_wanted(void)
{
	return (getenv("NOTIFY_SOCKET") != NULL);
}
#else
/*
 * Without libsystemd, no socket is taken; a warning if some were meant
 * for this process (LISTEN_PID is ours, sd_listen_fds(3)'s rule), as a
 * unit started this way, expecting them, gets none.
 */
int
systemd_listen_fds(int *first, char **cause)
{
	const char	*pid = getenv("LISTEN_PID");

	*first = 3;
	if (getenv("LISTEN_FDS") != NULL && pid != NULL &&
	    strtol(pid, NULL, 10) == (long)getpid())
		log_warnx("LISTEN_FDS is set, but this evecho-server was built "
		    "without libsystemd: the sockets passed are not used");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	return (0);
}

int
systemd_is_listening_stream(int fd)
{
	return (0);
}

static void
sd_send(const char *fmt, ...)
{
}

static int
sd_wanted(void)
{
	return (0);
}
#endif

/*
 * The supervisor of --workers tells where its workers count: the status
 * lines sum them, its own counters being none.
 */
void
systemd_stats_from(const struct server_stats *slots, size_t n)
{
	sd_slots = slots;
	sd_nslots = n;
}

/* The counters to report: this process's, or every worker's summed. */
static const struct server_stats *
sd_stats(struct server_stats *sum)
{
	if (sd_slots == NULL)
		return (server_stats);
	stats_sum(sum, sd_slots, sd_nslots);
	return (sum);
}

/* The one-line summary systemctl status shows. */
static void
sd_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server_stats		 sum;
	const struct server_stats	*s = sd_stats(&sum);

	sd_send("STATUS=%s%llu connections open (%llu peak), %llu accepted; "
	    "%llu bytes echoed", sd_stopping ? "draining: " : "",
	    (unsigned long long)s->open,
	    (unsigned long long)s->peak, (unsigned long long)s->accepted,
	    (unsigned long long)s->bytes_out);
}

/*
 * Every socket listens: READY=1, with a status line kept up to date
 * every SD_STATUS_SECS.
 */
void
systemd_notify_ready(void)
{
	struct timeval	tv = { SD_STATUS_SECS, 0 };

	if (!sd_wanted())
		return;
	sd_send("READY=1\nSTATUS=listening on %zu sockets",
	    listener_count());
	sd_status_ev = event_new(server_base, -1, EV_PERSIST, sd_status_cb,
	    NULL);
	if (sd_status_ev == NULL || event_add(sd_status_ev, &tv) != 0)
		log_warnx("systemd: cannot arm the status timer");
}

/*
 * Shutdown has begun: STOPPING=1, and how many connections drain.  The
 * status lines say "draining" from now on (in a --workers supervisor too,
 * which drains nothing itself).
 */
void
systemd_notify_stopping(void)
{
	struct server_stats	sum;

	sd_stopping = 1;
	if (!sd_wanted())
		return;
	sd_send("STOPPING=1\nSTATUS=draining %llu connections",
	    (unsigned long long)sd_stats(&sum)->open);
}

/* At exit: the status timer goes. */
void
systemd_cleanup(void)
{
	if (sd_status_ev != NULL) {
		event_free(sd_status_ev);
		sd_status_ev = NULL;
	}
}
