/* benchmark.h: evecho-benchmark's shared declarations. */
#ifndef EVECHO_BENCHMARK_H
#define EVECHO_BENCHMARK_H

#include <sys/types.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "hist.h"

struct bench_conn;
struct bench_thread;

/*
 * How one slot's flow lives (its transport): a TCP connection
 * (benchmark-conn.c) or a UDP socket (benchmark-udp.c).  The worker thread
 * and main reach a slot only through these.
 */
struct bench_flow_ops {
	/* Before the run: settle on the target; exits 2 or 64 on failure. */
	void		(*pick_target)(void);
	/* Slot c of a thread, flow number index: 0, or -1 on failure. */
	int		(*setup)(struct bench_conn *, struct bench_thread *,
			    uint64_t);
	void		(*free)(struct bench_conn *);
	/* Open the slot's flow (or let it give up). */
	void		(*begin)(struct bench_conn *, uint64_t);
	/* Every flow is open (bench_go): send the first. */
	void		(*send_first)(struct bench_conn *, uint64_t);
	/* Every BENCH_SWEEP_TICKS ticks: time out silence; may be NULL. */
	void		(*sweep)(struct bench_conn *, uint64_t);
	/* The worker is ending: close what is open, counting nothing wrong. */
	void		(*stop)(struct bench_conn *);
};

/*
 * One mode's rules (benchmark-mode.c): what it sends, what a completed
 * message is, what it keeps.  Nothing else tells the modes apart: the rest
 * asks these flags.
 */
struct bench_mode_ops {
	const char	*name;
	int		 flags;
#define MODE_WAITS	0x01	/* sending starts once every conn is open */
#define MODE_RECYCLES	0x02	/* a connection is one message; then the next */
#define MODE_SETTLES	0x04	/* time runs once each has echoed once (hold) */
#define MODE_DEPTH	0x08	/* takes -d */
#define MODE_RATE	0x10	/* takes --rate */
#define MODE_WINDOW	0x20	/* takes --window */
#define MODE_RECONNECTS	0x40	/* takes --reconnect */
#define MODE_DATAGRAM	0x80	/* --udp: datagrams, not a byte stream */
#define MODE_DRAINS	0x100	/* after -t, waits --timeout for the tail */
	const struct bench_flow_ops *flow;
	/*
	 * The rest are the stream's rules, used by benchmark-conn.c only;
	 * NULL in a datagram mode, whose flow has its own.
	 */
	/* Once per slot, at set-up; may be NULL.  0, or -1 on failure. */
	int		(*setup)(struct bench_conn *);
	/* Add what may be sent now to c->target. */
	void		(*issue)(struct bench_conn *, uint64_t);
	/* After c sent what it could; may be NULL. */
	void		(*sent)(struct bench_conn *, uint64_t);
	/*
	 * Count what c's echoed bytes complete.  0: issue and send more;
	 * 1: c is closed or has nothing more to send.
	 */
	int		(*complete)(struct bench_conn *, uint64_t);
	/* c was closed (state it was in, why); may be NULL. */
	void		(*closed)(struct bench_conn *, int, int);
};

struct bench_source {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
};

/* The command line, fixed before any thread starts. */
struct bench_config {
	const struct bench_mode_ops *mode;
	const char		*target_spec;
	struct sockaddr_storage	 target;
	socklen_t		 target_len;
	char			 target_name[ADDR_STRLEN];
	struct bench_source	*sources;
	size_t			 nsources;
	uint64_t		 conns;
	uint64_t		 size;
	uint64_t		 depth;
	uint64_t		 count;		/* 0: timed run */
	uint64_t		 duration_us;
	uint64_t		 warmup_us;
	uint64_t		 rate;		/* 0: closed loop */
	uint64_t		 window;
	uint64_t		 timeout_us;
	double			 max_loss;	/* --max-loss, a share of sent */
	int			 reconnect;	/* reopen a slot after a failure */
	int			 expect_greeting;	/* a line first, tallied */
	const char		*hgrm;		/* --hgrm FILE, or NULL */
	FILE			*hgrm_file;
	int			 merge;		/* --merge: add up results */
	char *const		*merge_files;
	int			 nmerge;
	int			 threads;
	int			 json;
	int			 json_stream;	/* --json-stream: and intervals */
	uint64_t		 interval_us;
	uint64_t		 ramp_us;	/* --ramp: connections rise over it */
	double			 slo_pct;	/* --slo: this percentile ... */
	uint64_t		 slo_ns;	/* ... at most this; 0: no --slo */
	int			 quiet;
};

/* --expect-greeting: connections per distinct greeting line. */
#define BENCH_GREETINGS_MAX	64
struct greet_tally {
	struct {
		char		 text[256];	/* the line, without "\n" */
		uint64_t	 count;
	}			 lines[BENCH_GREETINGS_MAX];
	size_t			 n;
	uint64_t		 other;		/* lines beyond the table */
};
void	 greet_tally_add(struct greet_tally *, const char *, size_t, uint64_t);
void	 greet_tally_merge(struct greet_tally *, const struct greet_tally *);
uint64_t greet_tally_total(const struct greet_tally *);

/* --udp: what became of the datagrams; benchmark-udp.c defines each. */
struct bench_udp {
	uint64_t		 sent;
	uint64_t		 received;	/* first copy, right, in time */
	uint64_t		 lost;		/* not back within --timeout */
	uint64_t		 late;		/* copies of lost ones, after */
	uint64_t		 duplicated;
	uint64_t		 reordered;	/* of received */
	uint64_t		 lost_measured;	/* lost inside the window */
};

/* What a run counted; per thread, then merged. */
struct bench_stats {
	uint64_t		 messages;	/* echoed right, in the window */
	uint64_t		 messages_total;	/* warm-up and after too */
	/* The rest over the whole run, warm-up included. */
	uint64_t		 connect_errors;
	uint64_t		 closed;	/* by the server (FIN) */
	uint64_t		 resets;	/* RST, EPIPE */
	uint64_t		 timeouts;
	uint64_t		 other_errors;
	uint64_t		 mismatches;	/* messages that came back wrong */
	uint64_t		 mismatched_bytes;
	uint64_t		 reconnects;	/* --reconnect: slots reopened */
	uint64_t		 first_bad_conn;
	uint64_t		 first_bad_offset;
	uint64_t		 first_bad_ns;	/* when; 0 if none yet */
	uint64_t		 held;
	uint64_t		 open_at_start;	/* pingpong, stream: when sending began */
	struct hist		 hist;
	struct hist		 connect_hist;	/* connect to established */
	struct greet_tally	 greets;	/* --expect-greeting */
	struct bench_udp	 udp;		/* --udp; corrupted: mismatches */
	int			 signal;	/* the run was stopped by it */
	char			 ended_early[160];	/* why, or "" */
	double			 cpu_seconds;	/* the whole process's, */
	double			 wall_seconds;	/* over the whole run */
};

/*
 * Counters the control thread reads while workers run, for progress: each
 * is written by its worker only, with relaxed atomic stores.
 */
struct bench_live {
	uint64_t		 messages;	/* every completion, warm-up too */
	uint64_t		 errors;	/* as bench_stats, report_errors */
	uint64_t		 mismatches;
	uint64_t		 open;		/* connections open now */
	uint64_t		 connecting;	/* connects under way now */
	uint64_t		 held;
	uint64_t		 sent;		/* --udp, as bench_udp */
	uint64_t		 lost;
	uint64_t		 late;
	uint64_t		 duplicated;
	uint64_t		 reordered;
	int			 ready;		/* every slot connected or failed */
	int			 settled;	/* hold: every connection checked */
	uint64_t		 interval_done;	/* --json-stream: epoch handed over */
	int			 finished;	/* the worker's loop has ended */
};

/* One worker: an event_base, its connections and its counts. */
struct bench_thread {
	int			 index;
	pthread_t		 tid;
	struct event_base	*base;
	struct event		*tick_ev;
	unsigned int		 ticks;
	struct bench_conn	*conns;		/* array of nconns */
	uint64_t		 nconns;
	uint64_t		 next_start;	/* first never-started conn */
	uint64_t		 connecting;
	uint64_t		 active;	/* connecting or open */
	uint64_t		 unsettled;	/* hold: not yet checked */
	uint64_t		 budget;	/* messages left to issue */
	uint64_t		 last_ns;	/* last counted completion */
	int			 errors_logged;
	int			 starting;	/* in thread_start_pending */
	int			 go;		/* bench_go seen: sending may begin */
	int			 ready_told;	/* live.ready set */
	unsigned char		*buf;		/* read scratch */
	/*
	 * --json-stream: latency of the interval under way, and of the one
	 * before, handed to the control thread when it asks (bench_interval).
	 */
	struct hist		*ihist;		/* two, or NULL */
	int			 icur;
	uint64_t		 iepoch;
	struct bench_stats	 stats;
	struct bench_live	 live;
};

/*
 * The run's clock, set by the control thread: before the workers start in
 * connect and hold modes; in pingpong and stream modes once every
 * connection is open, before it sets bench_go (release; workers acquire).
 */
struct bench_clock {
	uint64_t		 begin_ns;	/* the run began; never moves */
	uint64_t		 start_ns;
	uint64_t		 measure_ns;	/* warm-up over */
	uint64_t		 end_ns;	/* UINT64_MAX for -n and hold */
};

#define BENCH_READ_BUF		65536
#define BENCH_TICK_MS		10
#define BENCH_SWEEP_TICKS	10

#define LIVE_ADD(field, n) \
	__atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define LIVE_SET(field, v) \
	__atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define LIVE_GET(field) \
	__atomic_load_n(&(field), __ATOMIC_RELAXED)

extern struct bench_config	 bench_config;
extern const char		*bench_progname;
extern struct bench_clock	 bench_clock;
extern int			 bench_stop;
extern int			 bench_go;	/* every connection is open */
extern uint64_t			 bench_interval;	/* --json-stream epoch */

/* benchmark.c */
uint64_t	 bench_now(void);
void		 bench_pick_target(void);

/* benchmark-merge.c */
void		 bench_merge(char *const [], int, struct bench_stats *,
		     double *);

/* benchmark-slo.c */
void		 bench_slo_parse(const char *);
int		 bench_slo_search(void);

/* benchmark-mode.c */
const struct bench_mode_ops *bench_mode_find(const char *, int);
extern const struct bench_mode_ops *const bench_mode_default;

/* benchmark-thread.c */
int		 bench_thread_setup(struct bench_thread *, uint64_t);
void		 bench_thread_run(struct bench_thread *);
void		 bench_thread_free(struct bench_thread *);

/* benchmark-run.c */
int		 bench_run(struct bench_stats *, double *);

/* benchmark-udp.c */
extern const struct bench_flow_ops udp_flow;

/* benchmark-report.c */
void		 report_progress(double, double, const struct bench_live *,
		     const char *);
void		 report_progress_end(void);
void		 report_human(const struct bench_stats *, double);
void		 report_rate_warning(const struct bench_stats *, double);
int		 report_hgrm(const struct hist *, FILE *);
void		 report_json_latency(const char *, const struct hist *);
void		 report_json(const struct bench_stats *, double);
double		 report_rate_reached(const struct bench_stats *, double);
int		 report_udp_failed(const struct bench_stats *);
int		 report_exit_status(const struct bench_stats *);

#endif
