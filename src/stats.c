/* stats.c: the server's counters, as one log line. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "server.h"

/* The metrics' label values, by enum reject_reason and close_reason. */
const char *const stats_reject_names[REJECT_REASONS] = {
	"max_conns", "per_source", "draining", "error"
};
const char *const stats_close_names[CLOSE_REASONS] = {
	"client", "idle_timeout", "reset", "error", "drained", "drain_cutoff"
};

/* Log every counter on one line, prefixed by label. */
void
stats_log(const char *label)
{
	const struct server_stats	*s = &server_stats;
	char				 greeted[48] = "";
	uint64_t			 rejected;

	rejected = s->rejected[REJECT_MAX_CONNS] +
	    s->rejected[REJECT_DRAINING] + s->rejected[REJECT_ERROR];

	if (server_config.greeting_len != 0)
		snprintf(greeted, sizeof greeted, ", %llu greeted",
		    (unsigned long long)s->greetings);
	log_info("%s: connections %llu open, %llu peak, %llu accepted, "
	    "%llu rejected, %llu refused per source, %llu accept errors%s; "
	    "bytes %llu in, %llu out, %llu dropped; memory %zu held, at "
	    "--max-memory %llu times for %.3f s", label,
	    (unsigned long long)s->open, (unsigned long long)s->peak,
	    (unsigned long long)s->accepted, (unsigned long long)rejected,
	    (unsigned long long)s->rejected[REJECT_PER_SOURCE],
	    (unsigned long long)s->accept_errors, greeted,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    (unsigned long long)s->bytes_dropped, conn_memory(),
	    (unsigned long long)s->mem_full_events,
	    (double)conn_mem_full_us() / 1e6);
}
