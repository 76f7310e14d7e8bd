/*
 * benchmark-conn.h: what one worker's connections (benchmark-conn.c), the
 * modes' rules (benchmark-mode.c) and the worker thread
 * (benchmark-thread.c) share.
 */
#ifndef EVECHO_BENCHMARK_CONN_H
#define EVECHO_BENCHMARK_CONN_H

#include "benchmark.h"

/* The longest greeting line read, "\n" included, as evecho-server's. */
#define BENCH_GREETING_MAX	512
/* Connects one thread keeps in progress at once, so SYNs do not pile up. */
#define BENCH_MAX_CONNECTING	256
/* Errors a thread logs before it only counts them. */
#define BENCH_ERRORS_LOGGED	3
/* The pause before a slot starts again after an error. */
#define BENCH_RETRY_US		10000
#define BENCH_RETRY_MAX_US	1000000

enum conn_state {
	CONN_IDLE,		/* not started, or closed */
	CONN_CONNECTING,
	CONN_OPEN,
	CONN_HELD,		/* hold mode: checked, now idle */
};

enum conn_why {
	WHY_DONE,		/* nothing left to send */
	WHY_STOP,		/* the run is over */
	WHY_CONNECT,		/* connect failed */
	WHY_CLOSED,		/* EOF mid-run: the server closed */
	WHY_RESET,		/* ECONNRESET or EPIPE mid-run */
	WHY_TIMEOUT,		/* connect or silence timeout */
	WHY_ERROR,		/* any other failure */
	WHY_EXTRA,		/* more bytes came back than were sent */
};

struct bench_conn {
	struct bench_thread	*thr;
	uint64_t		 index;		/* among all connections */
	uint64_t		 id;		/* pattern id: index + gen * -c */
	uint64_t		 gen;		/* cycles begun */
	int			 fd;
	enum conn_state		 state;
	int			 wev_pending;
	int			 marked;	/* stream: a sample in flight */
	int			 msg_bad;	/* the message coming in differs */
	struct event		*rev;
	struct event		*wev;
	struct event		*timer_ev;	/* --rate schedule; retries */
	uint64_t		 sent;
	uint64_t		 target;
	uint64_t		 recvd;
	uint64_t		 issued;	/* messages */
	uint64_t		 scheduled;	/* --rate: issued, reconnects too */
	uint64_t		 retry_us;	/* --reconnect: the next pause */
	uint64_t		 down_ns;	/* --reconnect: failing since */
	uint64_t		 done;
	uint64_t		 started_ns;	/* connect began */
	uint64_t		 last_ns;	/* last sign of life */
	uint64_t		 mark_off;	/* stream: sampled byte */
	uint64_t		 mark_ns;
	uint64_t		*ring;		/* start times of -d in flight */
	char			*greet;		/* --expect-greeting: the line so
						 * far, while awaited; or NULL */
	size_t			 greet_len;
	struct udp_flow		*udp;		/* --udp: benchmark-udp.c's */
};

/* benchmark-conn.c */
extern const struct bench_flow_ops conn_flow;
void	 conn_begin(struct bench_conn *, uint64_t);
void	 conn_close(struct bench_conn *, enum conn_why, const char *);
void	 conn_count_error(struct bench_conn *, enum conn_why, const char *);
int	 conn_socket(const struct bench_conn *,
	    int (*)(const struct sockaddr *, socklen_t, const struct sockaddr *,
	    socklen_t, char **), char **);
void	 conn_arm(struct event *, uint64_t);

/* benchmark-mode.c */
uint64_t mode_rate_due(const struct bench_conn *, uint64_t);

/* benchmark-thread.c */
void	 thread_count(struct bench_thread *, uint64_t, uint64_t);
uint64_t thread_count_bad(struct bench_conn *, uint64_t);
void	 thread_sample(struct bench_thread *, uint64_t, uint64_t);
void	 thread_slot_done(struct bench_thread *);
void	 thread_start_pending(struct bench_thread *, uint64_t);
uint64_t thread_ramp_at(const struct bench_conn *);

#endif
