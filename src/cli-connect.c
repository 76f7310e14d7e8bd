/*
 * cli-connect.c: connect to the first resolved address that answers.
 *
 * Each address gets a non-blocking connect and, with --timeout, at most
 * that long; the event loop runs just for the attempt.  Every failure is
 * reported on its own line; refused or timed out, the exit status is 2.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "clock.h"
#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "sock.h"

/* One connect attempt in flight. */
struct connect_attempt {
	int	fd;
	int	done;
	int	timed_out;
	int	error;		/* errno of a failed connect, or 0 */
};

/* The socket became writable, or the timeout passed. */
static void
connect_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct connect_attempt	*a = arg;

	a->done = 1;
	if (what & EV_TIMEOUT)
		a->timed_out = 1;
	else if (sock_connect_result(a->fd) != 0)
		a->error = errno;
	event_base_loopbreak(cli_base);
}

/* Run one attempt to completion; return 0 when connected. */
static int
connect_wait(struct connect_attempt *a)
{
	struct event	*ev;
	struct timeval	 tv, *tvp = NULL;

	ev = event_new(cli_base, a->fd, EV_WRITE, connect_ready_cb, a);
	if (ev == NULL)
		fatalx("cannot create the connect event");
	if (cli_config.timeout_us != 0) {
		tv = clock_timeval(cli_config.timeout_us);
		tvp = &tv;
	}
	if (event_add(ev, tvp) != 0)
		fatalx("cannot add the connect event");
	while (!a->done) {
		if (event_base_loop(cli_base, EVLOOP_ONCE) == -1)
			fatalx("event loop failed");
	}
	event_free(ev);
	return (a->timed_out || a->error != 0 ? -1 : 0);
}

/*
 * Try each address of res in turn.  Returns the connected socket, with its
 * address in cli_peer; or -1 with *status set to EXIT_UNREACHABLE: a
 * connect that timed out is as unreachable as one refused.
 */
int
cli_connect(struct addrinfo *res, int *status)
{
	struct connect_attempt	 a;
	struct addrinfo		*ai;
	char			*cause;

	*status = EXIT_UNREACHABLE;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		addr_format(ai->ai_addr, cli_peer, ADDR_STRLEN);
		log_info("connecting to %s", cli_peer);
		memset(&a, 0, sizeof a);
		a.fd = sock_connect_start(ai->ai_addr, ai->ai_addrlen, NULL, 0,
		    &cause);
		if (a.fd == -1) {
			cli_error("%s", cause);
			free(cause);
			*status = EXIT_UNREACHABLE;
			continue;
		}
		if (connect_wait(&a) == 0) {
			log_info("connected to %s", cli_peer);
			return (a.fd);
		}
		close(a.fd);
		if (a.timed_out) {
			cli_error("cannot connect to %s: timed out after %.3g s",
			    cli_peer, (double)cli_config.timeout_us / 1e6);
			*status = EXIT_UNREACHABLE;
		} else {
			cli_error("cannot connect to %s: %s", cli_peer,
			    strerror(a.error));
			*status = EXIT_UNREACHABLE;
		}
	}
	return (-1);
}
