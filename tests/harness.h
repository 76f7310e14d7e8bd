/*
 * harness.h: what integration tests share: start a real evecho program,
 * wait for its readiness line, talk to it over loopback with deadlines,
 * and stop it by PID.  Every wait is bounded.
 */
#ifndef EVECHO_HARNESS_H
#define EVECHO_HARNESS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define HARNESS_MAX_ARGS	96
#define HARNESS_MAX_PORTS	8

struct harness_proc {
	pid_t	pid;
	int	out_fd;		/* its stdout, for readiness lines; or -1 */
	int	err_fd;		/* its stderr, collected into err */
	char	err[65536];	/* what it wrote to stderr so far */
	size_t	errlen;
	int	nports;
	int	ports[HARNESS_MAX_PORTS];
	char	addrs[HARNESS_MAX_PORTS][80];	/* "127.0.0.1:41235" */
	int	valgrind;	/* runs under memcheck: exit 99 is its */
};

/* If > 0, children started by harness_spawn get this open-file limit. */
extern long	harness_child_nofile;

/* True when EVECHO_VALGRIND_SERVER names a valgrind that every server
 * started by harness_server_start(_args) runs under (memcheck, leak
 * checks, exit 99 on any error); the harness's deadlines stretch then. */
int	harness_under_valgrind(void);

/* Path of a built program, e.g. harness_program("evecho-server"). */
const char	*harness_program(const char *name);

/* Fork and exec argv (NULL-terminated): stdin from /dev/null, pipes on
 * stdout (p->out_fd) and stderr. */
int	harness_spawn(struct harness_proc *p, const char *const argv[]);
/* The same with stdin from in_fd and stdout to out_fd; -1 for each means
 * /dev/null and a pipe.  The caller keeps its copies of the fds. */
int	harness_spawn_io(struct harness_proc *p, const char *const argv[],
	    int in_fd, int out_fd);
/* Wait for the "listening on HOST:PORT" lines on p's stdout, filling
 * p->ports and p->addrs; -1 if it exits or is silent too long. */
int	harness_read_ready(struct harness_proc *p);
/* Start tests/bad-echo, a server that goes wrong in mode ("flip", "close",
 * "mute" ...; see bad-echo.c) from byte n, on 127.0.0.1:0, and wait until
 * it listens; its address is p->addrs[0]. */
int	harness_bad_echo_start(struct harness_proc *p, const char *mode,
	    uint64_t n);
/* Start evecho-server on 127.0.0.1:0 plus extra (NULL-terminated) args. */
int	harness_server_start(struct harness_proc *p, const char *const extra[]);
/* Same, but with exactly these arguments after the program name. */
int	harness_server_start_args(struct harness_proc *p,
	    const char *const args[]);
/* Signal the process and wait for it; SIGKILL after timeout_ms.  Returns
 * the exit status, 128+signal when killed, or -1. */
int	harness_stop(struct harness_proc *p, int sig, int timeout_ms);
/* Wait up to timeout_ms for exit without signalling; -2 if still running. */
int	harness_wait(struct harness_proc *p, int timeout_ms);
/* Collect stderr into p->err until it closes or timeout_ms pass; returns
 * p->err.  harness_stop and harness_wait collect it too. */
const char *harness_stderr(struct harness_proc *p, int timeout_ms);
/* Resident set size of a process in KiB, or -1. */
long	harness_rss_kb(pid_t pid);
/* User plus system CPU time of a process in milliseconds, or -1. */
long	harness_cpu_ms(pid_t pid);
/* Count the lines of text that contain needle. */
int	harness_count_lines(const char *text, const char *needle);

/* Blocking-with-deadline socket helpers; -1 on error or timeout. */
int	harness_connect(const char *host, int port, int timeout_ms);
/* The same with a receive buffer of rcvbuf bytes set before connecting,
 * so the window stays small: a client that "does not read". */
int	harness_connect_rcvbuf(const char *host, int port, int rcvbuf,
	    int timeout_ms);
/* A client that never reads: one echo first (so the server has accepted
 * it), then send until every buffer on the way is full.  -1 on error. */
int	harness_connect_stuck(const char *host, int port, int timeout_ms);
int	harness_send_all(int fd, const void *buf, size_t len, int timeout_ms);
int	harness_recv_exact(int fd, void *buf, size_t len, int timeout_ms);
/* Read until EOF; returns bytes read (or -1), storing up to size bytes. */
ssize_t	harness_recv_until_eof(int fd, void *buf, size_t size, int timeout_ms);
/* Send buf while reading its echo (full duplex, so any size works);
 * with shut_wr, shut down our sending side after the last byte and expect
 * EOF right after the echo.  0 when the echo matched byte for byte. */
int	harness_echo_check(int fd, const void *buf, size_t len, int shut_wr,
	    int timeout_ms);
/* Run a Check suite; the exit status for main: 0 when every test passed. */
struct Suite;
int	harness_run_suite(struct Suite *);
/* 1 in the ASan/UBSan build (EVECHO_SANITIZERS=yes), several times slower. */
int	harness_sanitized(void);
/* Monotonic milliseconds. */
int64_t	harness_now_ms(void);
/* Fill buf with reproducible pseudo-random bytes from seed. */
void	harness_fill_random(void *buf, size_t len, uint64_t seed);

#endif
