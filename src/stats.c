/* stats.c: the server's counters, as one log line. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server.h"

/* The metrics' label values, by enum reject_reason and close_reason. */
const char *const stats_reject_names[REJECT_REASONS] = {
	"max_conns", "per_source", "draining", "error", "proxy_untrusted",
	"proxy_header", "fault"
};
const char *const stats_close_names[CLOSE_REASONS] = {
	"client", "idle_timeout", "reset", "error", "drained", "drain_cutoff",
	"fault"
};
const char *const stats_fault_names[FAULT_KINDS] = {
	"delay", "rate", "chunk", "reset-after", "close-after", "stall-after",
	"refuse", "corrupt", "drop", "duplicate", "reorder"
};
const char *const stats_udp_drop_names[UDP_DROP_REASONS] = {
	"loop", "low_port", "rate", "send_error", "overflow"
};

/* stats_sum() adds the struct up as an array of counters. */
_Static_assert(sizeof (struct server_stats) % sizeof (uint64_t) == 0,
    "struct server_stats holds uint64_t alone");

/*
 * Add up n slots of counters into *sum.  Every field adds up but two: the
 * peak is the largest worker's (the supervisor raises it to the largest
 * sum it has seen), and the PID is 0.
 */
void
stats_sum(struct server_stats *sum, const struct server_stats *slots,
    size_t n)
{
	const uint64_t	*from;
	uint64_t	*to = (uint64_t *)sum;
	uint64_t	 peak = 0;
	size_t		 i, k;

	memset(sum, 0, sizeof *sum);
	for (i = 0; i < n; i++) {
		from = (const uint64_t *)&slots[i];
		for (k = 0; k < sizeof *sum / sizeof (uint64_t); k++)
			to[k] += from[k];
		if (slots[i].peak > peak)
			peak = slots[i].peak;
	}
	sum->peak = peak;
	sum->pid = 0;
}

/*
 * Log every counter of s on one line, prefixed by label; mem_full_us is
 * the time at --max-memory, the current stretch included.
 */
void
stats_log(const char *label, const struct server_stats *s,
    uint64_t mem_full_us)
{
	char		greeted[48] = "", udp[256] = "", faults[320] = "";
	uint64_t	rejected;
	size_t		i, off;
	int		n;

	rejected = s->rejected[REJECT_MAX_CONNS] +
	    s->rejected[REJECT_DRAINING] + s->rejected[REJECT_ERROR] +
	    s->rejected[REJECT_PROXY_UNTRUSTED] +
	    s->rejected[REJECT_PROXY_HEADER] + s->rejected[REJECT_FAULT];
	if (server_config.greeting_len != 0)
		snprintf(greeted, sizeof greeted, ", %llu greeted",
		    (unsigned long long)s->greetings);
	if (s->udp_sockets != 0)
		snprintf(udp, sizeof udp, "; udp datagrams %llu in (%llu "
		    "bytes), %llu out (%llu bytes), not echoed %llu loop, %llu "
		    "low_port, %llu rate, %llu send_error, %llu overflow",
		    (unsigned long long)s->udp_in,
		    (unsigned long long)s->udp_in_bytes,
		    (unsigned long long)s->udp_out,
		    (unsigned long long)s->udp_out_bytes,
		    (unsigned long long)s->udp_dropped[UDP_DROP_LOOP],
		    (unsigned long long)s->udp_dropped[UDP_DROP_LOW_PORT],
		    (unsigned long long)s->udp_dropped[UDP_DROP_RATE],
		    (unsigned long long)s->udp_dropped[UDP_DROP_SEND_ERROR],
		    (unsigned long long)s->udp_dropped[UDP_DROP_OVERFLOW]);
	if (s->fault_specs != 0) {
		off = (size_t)snprintf(faults, sizeof faults, "; faults");
		for (i = 0; i < FAULT_KINDS && off < sizeof faults; i++) {
			if (s->faults[i] == 0)
				continue;
			n = snprintf(faults + off, sizeof faults - off, " %s %llu",
			    stats_fault_names[i],
			    (unsigned long long)s->faults[i]);
			if (n > 0)
				off += (size_t)n;
		}
		if (off == strlen("; faults"))
			snprintf(faults, sizeof faults, "; faults none yet");
	}
	log_info("%s: connections %llu open, %llu peak, %llu accepted, "
	    "%llu rejected, %llu refused per source, %llu accept errors%s; "
	    "bytes %llu in, %llu out, %llu dropped; memory %llu held, at "
	    "--max-memory %llu times for %.3f s%s%s", label,
	    (unsigned long long)s->open, (unsigned long long)s->peak,
	    (unsigned long long)s->accepted, (unsigned long long)rejected,
	    (unsigned long long)s->rejected[REJECT_PER_SOURCE],
	    (unsigned long long)s->accept_errors, greeted,
	    (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_out,
	    (unsigned long long)s->bytes_dropped,
	    (unsigned long long)s->mem_held,
	    (unsigned long long)s->mem_full_events, (double)mem_full_us / 1e6,
	    udp, faults);
}
