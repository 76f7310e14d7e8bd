/*
 * cli-udp.c: -u, datagrams (RFC 862) instead of a connection.
 *
 * A datagram is sent and its echo awaited for --timeout, then sent again,
 * up to --retries tries in all, before it counts as unanswered.  Each try
 * goes from a socket of its own, connected to the server: only the
 * server's datagrams reach it, an ICMP port unreachable comes back as
 * ECONNREFUSED, and an echo that comes back after its try gave up finds
 * its port closed.  So a late echo is never taken for a later try's or a
 * later line's, which by their bytes alone could not be told apart.  A
 * datagram is the answer only with the very length and bytes sent;
 * anything else that arrives is counted, logged with -v, and ignored.
 *
 * Of several addresses (localhost may be ::1 and 127.0.0.1), the next is
 * tried when one refuses before it has answered anything, as a TCP client
 * goes on to the next address when one refuses the connection.
 *
 * -m sends its one datagram from here; line mode (cli-line.c) sends one
 * per line through udp_line_ops.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "cli.h"
#include "clock.h"
#include "exitcode.h"
#include "log.h"
#include "sock.h"

/* Room for any datagram, so that recv(MSG_TRUNC) sees each whole. */
#define UDP_BUF		65536

/* The datagram owed and its tries. */
struct udp_state {
	const struct addrinfo	*ai;		/* the address tried now */
	int			 settled;	/* ai has answered: keep it */
	int			 fd;		/* this try's socket, or -1 */
	struct event		*read_ev;
	struct event		*retry_ev;	/* this try's --timeout */
	const char		*sent;		/* the datagram owed */
	size_t			 len;
	int			 owed;
	uint64_t		 try;		/* of the datagram owed, from 1 */
	int64_t			 sent_us;	/* when this try went */
	uint64_t		 ignored;	/* datagrams that were no echo */
	void			(*answered)(const void *, size_t, int64_t);
	void			(*unanswered)(const char *);
	unsigned char		 buf[UDP_BUF];
};

static struct udp_state	udp = { .fd = -1 };

static void	udp_try(void);
static void	udp_read_cb(evutil_socket_t, short, void *);

/* Close this try's socket: an echo still on its way finds the port shut. */
static void
udp_close(void)
{
	if (udp.read_ev != NULL)
		event_free(udp.read_ev);
	udp.read_ev = NULL;
	if (udp.fd != -1)
		close(udp.fd);
	udp.fd = -1;
	if (udp.retry_ev != NULL)
		evtimer_del(udp.retry_ev);
}

/* Does err say that nothing at the address can be reached? */
static int
udp_unreachable(int err)
{
	return (err == ECONNREFUSED || err == EHOSTUNREACH ||
	    err == ENETUNREACH);
}

/*
 * The address refused (an ICMP error came back): on to the next one, with
 * the owed datagram, while none has answered; otherwise the end, with the
 * status of a TCP client that cannot connect.
 */
static void
udp_refused(int err)
{
	cli_error("cannot reach udp %s: %s", cli_peer, strerror(err));
	udp_close();
	if (!udp.settled && udp.ai->ai_next != NULL) {
		udp.ai = udp.ai->ai_next;
		addr_format(udp.ai->ai_addr, cli_peer, ADDR_STRLEN);
		log_info("trying udp %s", cli_peer);
		udp.try = 0;
		udp_try();
		return;
	}
	cli_finish(EXIT_UNREACHABLE);
}

/* A failure no retry can mend: say so and end with status. */
static void
udp_fail(int status, const char *what, int err)
{
	cli_error("%s udp %s: %s", what, cli_peer, strerror(err));
	udp_close();
	cli_finish(status);
}

/* Send the owed datagram again, from a new socket, and wait --timeout. */
static void
udp_try(void)
{
	struct timeval	 tv = clock_timeval(cli_config.timeout_us);
	size_t		 max = sock_udp_max(udp.ai->ai_family);
	char		*cause;
	int		 err;

	udp_close();
	if (udp.len > max) {
		cli_error("%zu bytes do not fit in a UDP datagram to %s (at "
		    "most %zu over %s)", udp.len, cli_peer, max,
		    udp.ai->ai_family == AF_INET6 ? "IPv6" : "IPv4");
		cli_finish(cli_config.message != NULL ? EXIT_USAGE :
		    EXIT_ECHO_FAILED);
		return;
	}
	udp.fd = sock_udp_connect(udp.ai->ai_addr, udp.ai->ai_addrlen, NULL,
	    0, &cause);
	if (udp.fd == -1) {
		err = errno;
		if (udp_unreachable(err)) {
			free(cause);
			udp_refused(err);
			return;
		}
		cli_error("%s", cause);
		free(cause);
		cli_finish(EXIT_ECHO_FAILED);
		return;
	}
	udp.read_ev = event_new(cli_base, udp.fd, EV_READ | EV_PERSIST,
	    udp_read_cb, NULL);
	if (udp.read_ev == NULL || event_add(udp.read_ev, NULL) != 0)
		fatalx("cannot watch the socket");

	udp.try++;
	udp.sent_us = cli_now_us();
	log_debug("try %llu of %llu: %zu bytes to udp %s",
	    (unsigned long long)udp.try,
	    (unsigned long long)cli_config.retries, udp.len, cli_peer);
	if (send(udp.fd, udp.sent, udp.len, 0) == -1) {
		err = errno;
		if (udp_unreachable(err)) {
			udp_refused(err);
			return;
		}
		if (err != EAGAIN && err != ENOBUFS) {
			udp_fail(EXIT_ECHO_FAILED, "cannot send to", err);
			return;
		}
		/* The kernel dropped it: as lost as on the wire. */
		log_debug("try %llu not sent: %s",
		    (unsigned long long)udp.try, strerror(err));
	}
	if (evtimer_add(udp.retry_ev, &tv) != 0)
		fatalx("cannot set a timer");
}

/* Datagrams on this try's socket: the echo, or something to ignore. */
static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	ssize_t	n;
	int64_t	rtt;

	for (;;) {
		/* MSG_TRUNC: the length it had, not what fitted. */
		n = recv(fd, udp.buf, sizeof udp.buf, MSG_TRUNC);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1 && udp_unreachable(errno)) {
			udp_refused(errno);
			return;
		}
		if (n == -1) {
			udp_fail(EXIT_ECHO_FAILED, "cannot receive from", errno);
			return;
		}
		if (udp.owed && (size_t)n == udp.len &&
		    memcmp(udp.buf, udp.sent, udp.len) == 0)
			break;
		udp.ignored++;
		log_info("ignored a datagram of %zd bytes from udp %s: not "
		    "the echo of the %zu bytes sent", n, cli_peer, udp.len);
	}
	rtt = cli_now_us() - udp.sent_us;
	log_debug("echoed on try %llu", (unsigned long long)udp.try);
	udp_close();
	udp.owed = 0;
	udp.settled = 1;
	udp.answered(udp.buf, udp.len, rtt);
}

/* This try's --timeout passed with no echo: send again, or give up. */
static void
udp_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	char	why[ADDR_STRLEN + 80];

	if (udp.try < cli_config.retries) {
		log_info("no echo from udp %s in %.3g s; try %llu of %llu",
		    cli_peer, (double)cli_config.timeout_us / 1e6,
		    (unsigned long long)udp.try + 1,
		    (unsigned long long)cli_config.retries);
		udp_try();
		return;
	}
	udp_close();
	udp.owed = 0;
	snprintf(why, sizeof why, "no echo from udp %s after %llu %s of "
	    "%.3g s", cli_peer, (unsigned long long)udp.try,
	    udp.try == 1 ? "try" : "tries",
	    (double)cli_config.timeout_us / 1e6);
	udp.unanswered(why);
}

/* Send s (len bytes, kept by the caller until answered) as a datagram. */
static void
udp_send(const char *s, size_t len)
{
	udp.sent = s;
	udp.len = len;
	udp.owed = 1;
	udp.try = 0;
	udp_try();
}

/*
 * Take over the resolved addresses (freed by the caller after the event
 * loop); no socket yet, each try opens its own.
 */
void
udp_open(struct addrinfo *res)
{
	udp.ai = res;
	udp.fd = -1;
	addr_format(res->ai_addr, cli_peer, ADDR_STRLEN);
	if ((udp.retry_ev = evtimer_new(cli_base, udp_retry_cb, NULL)) == NULL)
		fatalx("cannot create a timer");
}

/* -m: the echo, as a line of its own unless --verify. */
static void
udp_message_answered(const void *echo, size_t len, int64_t rtt_us)
{
	if (!cli_config.verify) {
		fwrite(echo, 1, len, stdout);
		fputc('\n', stdout);
		if (fflush(stdout) != 0) {
			cli_error("cannot write to standard output: %s",
			    strerror(errno));
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
	}
	if (cli_config.rtt) {
		fprintf(stderr, "round trip %.3f ms, %zu bytes%s\n",
		    (double)rtt_us / 1e3, len,
		    cli_config.verify ? ", verified" : "");
	}
	cli_finish(EXIT_ECHOED);
}

/* -m: no echo after every try. */
static void
udp_message_unanswered(const char *why)
{
	cli_error("%s", why);
	cli_finish(EXIT_TIMEOUT);
}

/* -m's datagram goes from inside the loop, where cli_finish() works. */
static void
udp_message_send_cb(evutil_socket_t fd, short what, void *arg)
{
	udp_send(cli_config.message, strlen(cli_config.message));
}

/* Start -m: one datagram, its echo printed. */
int
udp_message_start(void)
{
	struct timeval	now = { 0, 0 };

	udp.answered = udp_message_answered;
	udp.unanswered = udp_message_unanswered;
	if (event_base_once(cli_base, -1, EV_TIMEOUT, udp_message_send_cb,
	    NULL, &now) != 0)
		fatalx("cannot set a timer");
	return (0);
}

/* Line mode: each answer goes back to cli-line.c. */
static int
udp_line_start(int fd)
{
	(void)fd;
	udp.answered = line_answered;
	udp.unanswered = line_unanswered;
	return (0);
}

/* Close the socket, free the timer; the ignored, with -v. */
void
udp_free(void)
{
	udp_close();
	if (udp.retry_ev != NULL)
		event_free(udp.retry_ev);
	if (udp.ignored > 0)
		log_info("%llu datagrams ignored: not the echo of what was "
		    "sent", (unsigned long long)udp.ignored);
	memset(&udp, 0, sizeof udp);
	udp.fd = -1;
}

const struct line_ops udp_line_ops = {
	"sending to udp", udp_line_start, udp_send, udp_free
};
