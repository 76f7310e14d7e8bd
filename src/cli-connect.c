/*
 * cli-connect.c: connect to the first resolved address that answers.
 *
 * Each address gets at most --timeout; every failure is reported on its
 * own line, and refused or timed out alike, the exit status is 2.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netdb.h>

#include <string.h>

#include "addr.h"
#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "sock.h"

/* One address failed: say so, and which. */
static void
cli_connect_failed(const char *cause, void *arg)
{
	(void)arg;
	cli_error("%s", cause);
}

/*
 * Try each address of res in turn.  Returns the connected socket, with its
 * address in cli_peer; or -1 with *status set to EXIT_UNREACHABLE: a
 * connect that timed out is as unreachable as one refused.
 */
int
cli_connect(struct addrinfo *res, int *status)
{
	const struct addrinfo	*ai;
	int			 fd;

	*status = EXIT_UNREACHABLE;
	fd = sock_connect_first(res, AF_UNSPEC, NULL, 0, cli_config.timeout_us,
	    cli_connect_failed, NULL, &ai);
	if (fd == -1)
		return (-1);
	addr_format(ai->ai_addr, cli_peer, ADDR_STRLEN);
	log_info("connected to %s", cli_peer);
	return (fd);
}
