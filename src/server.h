/* server.h: the echo server's private interfaces, one banner per file. */
#ifndef EVECHO_SERVER_H
#define EVECHO_SERVER_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* What the command line sets; fixed once the server runs. */
#include "cidr.h"
#include "faultspec.h"
#include "greeting.h"

struct server_config {
	const char	**listen;	/* address specs, -l */
	size_t		  nlisten;
	uint64_t	  max_pending;	/* bytes held per connection */
	uint64_t	  max_memory;	/* bytes held by all connections */
	uint64_t	  max_conns;
	uint64_t	  max_conns_per_source;	/* 0: no cap */
	uint64_t	  idle_timeout_us;	/* 0: never */
	uint64_t	  drain_timeout_us;
	int		  backlog;
	int		  reuse_port;
	const char	 *greeting_fmt;	/* --greeting, or NULL */
	const char	 *pidfile;	/* --pidfile, or NULL */
	const char	 *log_file;	/* --log-file, or NULL */
	int		  syslog;	/* --syslog */
	const char	 *user;		/* --user, or NULL */
	const char	 *metrics;	/* --metrics address, or NULL */
	unsigned	  workers;	/* --workers; 1: no supervisor */
	int		  proxy_all;	/* --proxy-protocol: on every listener */
	const char	**proxy_specs;	/* --proxy-protocol=ADDR: on these -l */
	size_t		  nproxy_specs;
	struct cidr	 *proxy_trusted; /* --proxy-trusted; none: all */
	size_t		  nproxy_trusted;
	const char	**udp;		/* UDP address specs, -u */
	size_t		  nudp;
	uint64_t	  udp_rate;	/* datagrams/s per source; 0: no cap */
	uint64_t	  udp_sources;	/* --udp-sources: rate table entries */
	int		  udp_allow_low_ports;
	struct fault_spec *faults;	/* --fault, in the order given */
	size_t		  nfaults;
	uint64_t	  fault_seed;
	int		  fault_seed_set;
	const char	**fault_listen;	/* --fault-listen: these -l/-u only */
	size_t		  nfault_listen;
	char		  greeting[GREETING_MAX]; /* expanded: one line */
	size_t		  greeting_len;	/* 0: no greeting */
};

/* Why a connection was closed at accept: the metrics' reason label. */
enum reject_reason {
	REJECT_MAX_CONNS,	/* --max-conns open already */
	REJECT_PER_SOURCE,	/* --max-conns-per-source from its address */
	REJECT_DRAINING,	/* arrived after shutdown began */
	REJECT_ERROR,		/* no memory or no slot for it */
	REJECT_PROXY_UNTRUSTED,	/* a PROXY listener's peer not trusted */
	REJECT_PROXY_HEADER,	/* no valid PROXY header in time */
	REJECT_FAULT,		/* --fault refuse */
	REJECT_REASONS
};

/* Why an accepted connection ended. */
enum close_reason {
	CLOSE_CLIENT,		/* the client shut down and had its echo */
	CLOSE_IDLE_TIMEOUT,	/* --idle-timeout, quiet or not reading */
	CLOSE_RESET,		/* the peer reset it (ECONNRESET, EPIPE) */
	CLOSE_ERROR,		/* any other socket error, or no memory */
	CLOSE_DRAINED,		/* shutdown: quiet, closed gently */
	CLOSE_DRAIN_CUTOFF,	/* shutdown: cut off by the drain timeout */
	CLOSE_FAULT,		/* --fault reset-, close- or stall-after */
	CLOSE_REASONS
};

/* Why a datagram received was not echoed. */
enum udp_drop_reason {
	UDP_DROP_LOOP,		/* from port 0, a small service or ours, or
				   a broadcast or multicast address */
	UDP_DROP_LOW_PORT,	/* from a port below 1024 */
	UDP_DROP_RATE,		/* its source over --udp-rate */
	UDP_DROP_SEND_ERROR,	/* the send buffer full, or refused */
	UDP_DROP_OVERFLOW,	/* the kernel's: our receive buffer was full */
	UDP_DROP_REASONS
};

/*
 * Counters for SIGUSR1, the exit summary and --metrics: plain integers,
 * written by this process's one thread alone.
 */
struct server_stats {
	uint64_t	accepted;
	uint64_t	rejected[REJECT_REASONS];
	uint64_t	closed[CLOSE_REASONS];
	uint64_t	accept_errors;
	uint64_t	accept_pauses;	/* listeners paused after an error */
	uint64_t	paused;		/* connections not read: a bound held */
	uint64_t	paused_total;	/* times a connection was paused */
	uint64_t	open;
	uint64_t	peak;
	uint64_t	bytes_in;
	uint64_t	bytes_out;
	uint64_t	greetings;	/* --greeting lines sent */
	uint64_t	bytes_dropped;	/* received but never echoed */
	uint64_t	bytes_lost_stopping; /* of those: closed by our shutdown */
	uint64_t	mem_full_events; /* times --max-memory was reached */
	uint64_t	mem_full_us;	/* time spent there, until the last exit */
	uint64_t	mem_held;	/* bytes held now, as --max-memory counts */
	uint64_t	udp_in;		/* datagrams received */
	uint64_t	udp_in_bytes;
	uint64_t	udp_out;	/* datagrams echoed */
	uint64_t	udp_out_bytes;
	uint64_t	udp_dropped[UDP_DROP_REASONS];
	uint64_t	faults[FAULT_KINDS];	/* applied, by kind */
	/* Set once at start, for sums and the status page. */
	uint64_t	max_conns;
	uint64_t	max_memory;
	uint64_t	pid;
	uint64_t	starts;		/* processes that served this slot */
	uint64_t	udp_sockets;	/* UDP sockets served, 0: no UDP */
	uint64_t	fault_specs;	/* --fault given: 0 none */
};

/* server.c */
extern struct event_base	*server_base;
extern struct server_config	 server_config;
extern struct server_stats	*server_stats;
void	server_conn_closed(void);
int	server_is_draining(void);

/* service.c */
int	service_pidfile_write(const char *path, char **cause);
void	service_pidfile_remove(void);
int	service_user_check(const char *name, char **cause);
int	service_drop_privileges(const char *name, char **cause);

/* sd.c */
int	systemd_listen_fds(int *first, char **cause);
int	systemd_is_listening_stream(int fd);
void	systemd_notify_ready(void);
void	systemd_notify_stopping(void);
void	systemd_cleanup(void);
void	systemd_stats_from(const struct server_stats *slots, size_t n);

/* prelude.c */
size_t	prelude_count(void);
void	prelude_start(int fd, const struct sockaddr *sa, socklen_t len,
	    int faulty);
void	prelude_close_all(void);

/* listener.c */
#define LISTENER_BAD_ADDRESS	(-2)
/* What a socket serves, as a supervisor passes it on to its workers. */
enum listener_kind {
	LISTENER_ECHO = 0,	/* TCP */
	LISTENER_PROXY = 1,	/* TCP, a PROXY header first */
	LISTENER_UDP = 2,
	LISTENER_FAULT = 4	/* or'ed in: --fault applies */
};
void	listener_admit(int fd, const struct sockaddr *sa, socklen_t len,
	    int faulty);
int	listener_adopt_activated(char **cause);
int	listener_hold_for(size_t nslots, int backlog, char **cause);
const int *listener_slot_fds(size_t slot);
int	listener_adopt(const int *fds, const int *kinds, size_t n,
	    char **cause);
int	listener_is_proxy(size_t i);
int	listener_kind(size_t i);
int	listener_bind(const char *spec, const char *default_port, int type,
	    int backlog, int reuse_port,
	    int (*seen)(const struct sockaddr *, socklen_t),
	    int (*add)(int, const char *, void *, char **), void *arg,
	    char **cause);
int	listener_open_all(const char **specs, size_t n, int backlog, int reuse_port,
	    char **cause);
int	listener_open_udp(const char **specs, size_t n, int reuse_port,
	    char **cause);
size_t	listener_count(void);
const struct sockaddr *listener_address(size_t i);
void	listener_print_ready(void);
void	listener_accept_backlog(void);
void	listener_close_all(void);

/* conn.c */
int	conn_setup(void);
void	conn_cleanup(void);
struct conn;
struct conn *conn_accept(int fd, const struct sockaddr *sa, socklen_t len);
void	conn_drain_all(void);
size_t	conn_close_all(const char *why, uint64_t *lost);
size_t	conn_count(void);
size_t	conn_memory(void);
uint64_t conn_mem_full_us(void);

/*
 * fault.c.  tests/evecho-server-nofault is built without it, so that
 * test-instructions.sh can show what --fault costs a server that has no
 * fault configured: the same instructions per message.
 */
#ifndef EVECHO_NO_FAULT
int	fault_setup(unsigned worker, char **cause);
void	fault_cleanup(void);
int	fault_accept(int fd, const struct sockaddr *sa, socklen_t len);
void	fault_drain_all(void);
int	fault_wanted_udp(void);
void	fault_datagram(unsigned char *buf, size_t len,
	    const struct sockaddr *from, int *copies, uint64_t *hold_us);
#else
static inline int fault_setup(unsigned w, char **c) { (void)w; (void)c;
	return (0); }
static inline void fault_cleanup(void) { }
static inline int fault_accept(int fd, const struct sockaddr *sa,
	socklen_t len) { (void)fd; (void)sa; (void)len; return (0); }
static inline void fault_drain_all(void) { }
static inline int fault_wanted_udp(void) { return (0); }
static inline void fault_datagram(unsigned char *b, size_t l,
	const struct sockaddr *f, int *c, uint64_t *h) { (void)b; (void)l;
	(void)f; *c = 1; *h = 0; }
#endif

/* udp.c */
int	udp_add(int fd, int faulty, char **cause);
void	udp_close_all(void);

/* udp-rate.c */
int	udp_rate_setup(uint64_t rate, uint64_t entries, char **cause);
int	udp_rate_admit(const struct sockaddr *sa, uint64_t now_ns);
void	udp_rate_free(void);

/* source.c */
#define SOURCE_MAX_ENTRIES	65536
struct in6_addr;
int	source_key(const struct sockaddr *sa, struct in6_addr *key);
uint32_t source_hash(const struct in6_addr *key, uint64_t seed,
	    uint32_t nbuckets);
uint64_t source_seed_new(const void *salt);
int	source_setup(uint64_t cap, uint64_t max_conns, char **cause);
void	source_free(void);
int	source_admit(const struct sockaddr *sa);
void	source_release(const struct sockaddr *sa);
uint64_t source_open(const struct sockaddr *sa);
size_t	source_count(void);

/* supervisor.c */
#define SUPERVISOR_MAX_WORKERS	128
#define SUPERVISOR_MAX_LISTEN	64	/* listener.c's LISTENER_MAX */
int	supervisor_parse(const char *s, unsigned *n, char **cause);
struct server_stats *supervisor_slots(size_t n, char **cause);
int	supervisor_worker_env(unsigned *worker, struct server_stats **stats,
	    int *fds, int *kinds, size_t *nfds, char **cause);
void	supervisor_worker_ready(unsigned worker);
int	supervisor_run(char **argv);

/* metrics.c */
int	metrics_start(const char *spec, const struct server_stats *slots,
	    size_t n, char **cause);
void	metrics_print_ready(void);
void	metrics_stop(void);

/* stats.c */
extern const char *const stats_reject_names[REJECT_REASONS];
extern const char *const stats_close_names[CLOSE_REASONS];
extern const char *const stats_udp_drop_names[UDP_DROP_REASONS];
extern const char *const stats_fault_names[FAULT_KINDS];
void	stats_sum(struct server_stats *sum, const struct server_stats *slots,
	    size_t n);
void	stats_log(const char *label, const struct server_stats *s,
	    uint64_t mem_full_us);

#endif
