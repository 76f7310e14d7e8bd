/*
 * supervisor.c: --workers N.  The parent binds a socket per address for
 * each worker (SO_REUSEPORT: the kernel spreads connections over them),
 * starts the workers -- this same program, executed anew, each one the
 * single-threaded server of the rest of src/ -- and then only watches: it
 * restarts a worker that dies, forwards signals, adds up the counters
 * and serves --metrics.  It never touches a connection.
 *
 * Counters live in one shared anonymous mapping (a memfd, so that it
 * survives exec), a slot per worker, written by that worker alone.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "parse.h"
#include "server.h"

/* Where a worker finds what its supervisor passes, once executed. */
#define SUPERVISOR_ENV		"EVECHO_WORKER"
#define SUPERVISOR_STATS_FD	3
#define SUPERVISOR_READY_FD	4
#define SUPERVISOR_FIRST_FD	5
/* Restart back-off: from the first, doubling while workers die young. */
#define SUPERVISOR_BACKOFF_US	(100 * 1000ULL)
#define SUPERVISOR_BACKOFF_MAX	(10 * 1000000ULL)
#define SUPERVISOR_YOUNG_US	(10 * 1000000ULL)

struct worker {
	pid_t		 pid;		/* 0: not running */
	int		 ready;		/* has said it listens */
	int		 status;	/* of its last exit, for the final one */
	uint64_t	 started_us;
	uint64_t	 backoff_us;
	struct event	*restart_ev;
};

static struct worker		*workers;
static size_t			 nworkers;
static struct server_stats	*slots;
static int			 stats_fd = -1;
static int			 ready_pipe[2] = { -1, -1 };
static struct event		*ready_ev;
static char			**worker_argv;
static int			 stopping;
static int			 all_ready;
static int			 exit_status;

/* --workers: N, or auto for the CPUs this process may run on. */
int
supervisor_parse(const char *s, unsigned *n, char **cause)
{
	cpu_set_t	set;
	uint64_t	v;

	if (strcmp(s, "auto") == 0) {
		if (sched_getaffinity(0, sizeof set, &set) != 0 ||
		    CPU_COUNT(&set) < 1)
			*n = 1;
		else
			*n = (unsigned)CPU_COUNT(&set);
		if (*n > SUPERVISOR_MAX_WORKERS)
			*n = SUPERVISOR_MAX_WORKERS;
		return (0);
	}
	if (parse_uint(s, 1, SUPERVISOR_MAX_WORKERS, &v, cause) != 0)
		return (-1);
	*n = (unsigned)v;
	return (0);
}

/*
 * The shared counters: one zeroed slot per worker, in a memfd that the
 * workers map after exec.
 */
struct server_stats *
supervisor_slots(size_t n, char **cause)
{
	size_t	len = n * sizeof (struct server_stats);
	void	*p;

	stats_fd = memfd_create("evecho-stats", MFD_CLOEXEC);
	if (stats_fd == -1 || ftruncate(stats_fd, (off_t)len) != 0) {
		cause_set(cause, "cannot create the shared counters: %s",
		    strerror(errno));
		return (NULL);
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, stats_fd, 0);
	if (p == MAP_FAILED) {
		cause_set(cause, "cannot map the shared counters: %s",
		    strerror(errno));
		return (NULL);
	}
	slots = p;
	nworkers = n;
	return (slots);
}

/*
 * In a worker: where the supervisor put things.  Returns 0 and fills the
 * worker number (1-based), its counters and its listening sockets when
 * this process is a worker, 1 when it is not, -1 with *cause when the
 * environment is bad.
 */
int
supervisor_worker_env(unsigned *worker, struct server_stats **stats,
    int *fds, int *kinds, size_t *nfds, char **cause)
{
	const char	*env = getenv(SUPERVISOR_ENV);
	unsigned	 w, n, k;
	size_t		 i, len;
	void		*p;
	char		 flags[SUPERVISOR_MAX_LISTEN + 1], c;

	if (env == NULL)
		return (1);
	if (sscanf(env, "%u/%u/%u/%64[0-7]%c", &w, &n, &k, flags, &c) != 4 ||
	    w < 1 || w > n || n > SUPERVISOR_MAX_WORKERS || k > *nfds ||
	    strlen(flags) != k) {
		cause_set(cause, "%s=%s: not from a supervisor", SUPERVISOR_ENV,
		    env);
		return (-1);
	}
	unsetenv(SUPERVISOR_ENV);
	len = (size_t)n * sizeof (struct server_stats);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    SUPERVISOR_STATS_FD, 0);
	if (p == MAP_FAILED) {
		cause_set(cause, "cannot map the shared counters: %s",
		    strerror(errno));
		return (-1);
	}
	close(SUPERVISOR_STATS_FD);
	*worker = w;
	*stats = (struct server_stats *)p + (w - 1);
	for (i = 0; i < k; i++) {
		fds[i] = SUPERVISOR_FIRST_FD + (int)i;
		kinds[i] = flags[i] - '0';
	}
	*nfds = k;
	return (0);
}

/* In a worker: tell the supervisor this worker listens. */
void
supervisor_worker_ready(unsigned worker)
{
	unsigned char	b = (unsigned char)worker;

	if (write(SUPERVISOR_READY_FD, &b, 1) != 1)
		log_warnx("cannot tell the supervisor this worker is ready");
	close(SUPERVISOR_READY_FD);
}

/* Move fd to target in a child about to exec; exits on failure. */
static void
supervisor_place(int fd, int target)
{
	if (fd == target) {
		if (fcntl(fd, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(fd, target) == -1)
		_exit(127);
}

/*
 * The child side of a worker's start: its descriptors in place, the
 * environment that says what they are, then this program anew.
 */
static void
supervisor_exec(size_t i)
{
	const int	*held = listener_slot_fds(i);
	size_t		 k, n = listener_count();
	int		 tmp[2 + SUPERVISOR_MAX_LISTEN], top;
	char		 env[64 + SUPERVISOR_MAX_LISTEN];
	char		 flags[SUPERVISOR_MAX_LISTEN + 1];

	/* The supervisor gone, the worker drains and goes too. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Out of the way of the targets first: dup above them all. */
	top = SUPERVISOR_FIRST_FD + (int)n;
	if ((tmp[0] = fcntl(stats_fd, F_DUPFD_CLOEXEC, top)) == -1 ||
	    (tmp[1] = fcntl(ready_pipe[1], F_DUPFD_CLOEXEC, top)) == -1)
		_exit(127);
	for (k = 0; k < n; k++) {
		if ((tmp[2 + k] = fcntl(held[k], F_DUPFD_CLOEXEC, top)) == -1)
			_exit(127);
	}
	supervisor_place(tmp[0], SUPERVISOR_STATS_FD);
	supervisor_place(tmp[1], SUPERVISOR_READY_FD);
	for (k = 0; k < n; k++)
		supervisor_place(tmp[2 + k], SUPERVISOR_FIRST_FD + (int)k);
	for (k = 0; k < n; k++)
		flags[k] = (char)('0' + listener_kind(k));
	flags[n] = '\0';
	/*
	 * Sockets, and what they serve, a digit each of enum listener_kind's
	 * bits: "/012" for TCP, PROXY and UDP.
	 */
	snprintf(env, sizeof env, "%zu/%zu/%zu/%s", i + 1, nworkers, n, flags);
	if (setenv(SUPERVISOR_ENV, env, 1) != 0)
		_exit(127);
	/* Readiness is the supervisor's to tell, once for all. */
	unsetenv("NOTIFY_SOCKET");
	execv("/proc/self/exe", worker_argv);
	_exit(127);
}

/* Start worker i; 0, or -1 if it cannot be forked. */
static int
supervisor_start(size_t i)
{
	struct worker	*w = &workers[i];
	pid_t		 pid;

	if ((pid = fork()) == -1) {
		log_warn("worker %zu: fork", i + 1);
		return (-1);
	}
	if (pid == 0)
		supervisor_exec(i);
	w->pid = pid;
	w->ready = 0;
	w->started_us = clock_now_us();
	log_debug("worker %zu: started, pid %ld", i + 1, (long)pid);
	return (0);
}

/* How many workers run. */
static size_t
supervisor_running(void)
{
	size_t	i, n = 0;

	for (i = 0; i < nworkers; i++)
		n += workers[i].pid != 0;
	return (n);
}

/* Send sig to every worker that runs. */
static void
supervisor_forward(int sig)
{
	size_t	i;

	for (i = 0; i < nworkers; i++) {
		if (workers[i].pid != 0)
			kill(workers[i].pid, sig);
	}
}

/* A restart's back-off is over. */
static void
supervisor_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct timeval	 tv;

	if (stopping)
		return;
	if (supervisor_start((size_t)(w - workers)) != 0) {
		tv = clock_timeval(w->backoff_us);
		evtimer_add(w->restart_ev, &tv);
	}
}

/* Say how a worker ended, as one phrase. */
static void
supervisor_describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status %#x)", status);
}

/* Shut down: every worker drains; the supervisor's copies close. */
static void
supervisor_stop(const char *why)
{
	size_t	i;

	stopping = 1;
	for (i = 0; i < nworkers; i++)
		evtimer_del(workers[i].restart_ev);
	/* Else the held sockets would queue connections nobody takes. */
	listener_close_all();
	systemd_notify_stopping();
	supervisor_forward(SIGTERM);
	log_info("%s: %zu workers draining", why, supervisor_running());
	if (supervisor_running() == 0)
		event_base_loopexit(server_base, NULL);
}

/*
 * A worker died: its connections are gone, so are its gauges.  While
 * serving, start it again after a back-off that doubles while workers die
 * young; while stopping, keep its status for the exit.
 */
static void
supervisor_reaped(struct worker *w, int status)
{
	struct server_stats	*s = &slots[w - workers];
	struct timeval		 tv;
	uint64_t		 lived = clock_now_us() - w->started_us;
	char			 how[96];
	size_t			 i = (size_t)(w - workers);
	pid_t			 pid = w->pid;
	int			 code;

	w->pid = 0;
	s->open = s->paused = s->mem_held = 0;
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	supervisor_describe(status, how, sizeof how);
	if (stopping) {
		if (code > exit_status)
			exit_status = code;
		if (code != 0)
			log_warnx("worker %zu %s", i + 1, how);
		if (supervisor_running() == 0)
			event_base_loopexit(server_base, NULL);
		return;
	}
	if (!all_ready) {
		/* One that cannot start will not start by trying again. */
		log_errorx("worker %zu %s before it listened", i + 1, how);
		exit_status = 1;
		supervisor_stop("a worker failed to start");
		return;
	}
	if (lived >= SUPERVISOR_YOUNG_US || w->backoff_us == 0)
		w->backoff_us = SUPERVISOR_BACKOFF_US;
	else if ((w->backoff_us *= 2) > SUPERVISOR_BACKOFF_MAX)
		w->backoff_us = SUPERVISOR_BACKOFF_MAX;
	log_warnx("worker %zu (pid %ld) %s after %.1f s; its connections are "
	    "lost; restarting in %.1f s", i + 1, (long)pid, how,
	    (double)lived / 1e6,
	    (double)w->backoff_us / 1e6);
	tv = clock_timeval(w->backoff_us);
	evtimer_add(w->restart_ev, &tv);
}

/* SIGCHLD: reap every worker that has ended. */
static void
supervisor_child_cb(evutil_socket_t sig, short what, void *arg)
{
	pid_t	pid;
	size_t	i;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < nworkers; i++) {
			if (workers[i].pid == pid) {
				supervisor_reaped(&workers[i], status);
				break;
			}
		}
	}
}

/* A worker listens; once all do, the readiness lines, once. */
static void
supervisor_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned char	buf[64];
	ssize_t		n, k;
	size_t		i;

	if ((n = read(fd, buf, sizeof buf)) <= 0)
		return;
	for (k = 0; k < n; k++) {
		if (buf[k] >= 1 && buf[k] <= nworkers) {
			workers[buf[k] - 1].ready = 1;
			if (all_ready)
				log_info("worker %u serves again", buf[k]);
		}
	}
	if (all_ready || stopping)
		return;
	for (i = 0; i < nworkers; i++) {
		if (!workers[i].ready)
			return;
	}
	all_ready = 1;
	log_info("%zu workers serving", nworkers);
	listener_print_ready();
	metrics_print_ready();
	systemd_notify_ready();
}

/* SIGINT/SIGTERM: drain every worker; a second one cuts them off. */
static void
supervisor_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	if (stopping) {
		log_warnx("%s again: the workers exit now",
		    sig == SIGINT ? "SIGINT" : "SIGTERM");
		supervisor_forward((int)sig);
		return;
	}
	supervisor_stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* SIGUSR1: each worker logs its line; this, the sum. */
static void
supervisor_stats_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server_stats	total;

	supervisor_forward(SIGUSR1);
	stats_sum(&total, slots, nworkers);
	stats_log("stats, all workers", &total, total.mem_full_us);
}

/* SIGHUP: this log, and each worker's. */
static void
supervisor_reopen_cb(evutil_socket_t sig, short what, void *arg)
{
	char	*cause = NULL;

	if (log_reopen(&cause) < 0) {
		log_warnx("SIGHUP: %s; still writing to the old file", cause);
		free(cause);
	}
	supervisor_forward(SIGHUP);
}

/*
 * Run the supervisor: start every worker, watch them until they have all
 * drained after SIGTERM, and return the exit status, the worst of the
 * workers' last.  The listening sockets are held already
 * (listener_hold_for()), the counters mapped (supervisor_slots()).
 */
int
supervisor_run(char **argv)
{
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGUSR1, SIGHUP,
				    SIGCHLD };
	static const event_callback_fn cbs[] = { supervisor_stop_cb,
				    supervisor_stop_cb, supervisor_stats_cb,
				    supervisor_reopen_cb, supervisor_child_cb };
	struct event		*ev[5];
	struct server_stats	 total;
	size_t			 i;

	worker_argv = argv;
	if ((workers = calloc(nworkers, sizeof *workers)) == NULL)
		fatal("calloc");
	if (pipe2(ready_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	ready_ev = event_new(server_base, ready_pipe[0], EV_READ | EV_PERSIST,
	    supervisor_ready_cb, NULL);
	if (ready_ev == NULL || event_add(ready_ev, NULL) != 0)
		fatalx("cannot watch the workers' readiness");
	for (i = 0; i < 5; i++) {
		ev[i] = evsignal_new(server_base, sigs[i], cbs[i], NULL);
		if (ev[i] == NULL || event_priority_set(ev[i], 0) != 0 ||
		    evsignal_add(ev[i], NULL) != 0)
			fatalx("cannot install signal handlers");
	}
	for (i = 0; i < nworkers; i++) {
		workers[i].restart_ev = evtimer_new(server_base,
		    supervisor_restart_cb, &workers[i]);
		if (workers[i].restart_ev == NULL)
			fatalx("cannot create a timer");
		if (supervisor_start(i) != 0) {
			exit_status = 1;
			supervisor_stop("cannot start the workers");
			break;
		}
	}
	log_info("evecho-server %s: %zu workers, %zu listening sockets each",
	    PACKAGE_VERSION, nworkers, listener_count());

	if (event_base_dispatch(server_base) == -1)
		fatalx("event loop failed");

	stats_sum(&total, slots, nworkers);
	stats_log("exit", &total, total.mem_full_us);
	for (i = 0; i < 5; i++)
		event_free(ev[i]);
	for (i = 0; i < nworkers; i++)
		event_free(workers[i].restart_ev);
	event_free(ready_ev);
	close(ready_pipe[0]);
	close(ready_pipe[1]);
	free(workers);
	munmap(slots, nworkers * sizeof *slots);
	close(stats_fd);
	return (exit_status);
}
