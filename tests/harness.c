/* harness.c: start, talk to and stop evecho programs in tests. */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define nitems(a)	(sizeof (a) / sizeof (a)[0])

#define HARNESS_READY_MS	10000

/*
 * Under memcheck the server runs tens of times slower on CPU; every
 * deadline the harness keeps is stretched by this factor, here alone.
 */
#define HARNESS_VALGRIND_SLOWDOWN	5

/* What wraps the server under memcheck; errors and leaks exit 99. */
#define HARNESS_VALGRIND_STATUS		99
#define HARNESS_VALGRIND_ARGS		"-q", "--error-exitcode=99", \
	"--leak-check=full", "--errors-for-leak-kinds=definite,indirect", \
	"--show-leak-kinds=definite,indirect", "--track-fds=no", \
	"--num-callers=30"

long	harness_child_nofile;

/* Monotonic milliseconds. */
int64_t
harness_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The valgrind command EVECHO_VALGRIND_SERVER names, or NULL. */
static const char *
harness_valgrind(void)
{
	const char	*vg = getenv("EVECHO_VALGRIND_SERVER");

	return (vg != NULL && *vg != '\0' ? vg : NULL);
}

/* True when servers run under valgrind's memcheck. */
int
harness_under_valgrind(void)
{
	return (harness_valgrind() != NULL);
}

/* The deadline timeout_ms from now, stretched under valgrind. */
static int64_t
harness_deadline(int timeout_ms)
{
	int64_t	ms = timeout_ms;

	if (harness_under_valgrind())
		ms *= HARNESS_VALGRIND_SLOWDOWN;
	return (harness_now_ms() + ms);
}

/* Milliseconds left until deadline, never below 0. */
static int
harness_left(int64_t deadline)
{
	int64_t	left = deadline - harness_now_ms();

	return (left > 0 ? (int)left : 0);
}

/* Path of a built program: $EVECHO_BUILDDIR/src/NAME, or ../src/NAME. */
const char *
harness_program(const char *name)
{
	static char	path[4096];
	const char	*dir = getenv("EVECHO_BUILDDIR");

	snprintf(path, sizeof path, "%s/src/%s", dir != NULL ? dir : "..",
	    name);
	return (path);
}

/* Fork and exec argv: stdin from /dev/null, pipes on stdout and stderr. */
int
harness_spawn(struct harness_proc *p, const char *const argv[])
{
	return (harness_spawn_io(p, argv, -1, -1));
}

/* Fork and exec argv with stdin from in_fd and stdout to out_fd (or a pipe). */
int
harness_spawn_io(struct harness_proc *p, const char *const argv[], int in_fd,
    int out_fd)
{
	int	out[2] = { -1, -1 }, err[2];
	pid_t	parent = getpid();

	memset(p, 0, sizeof *p);
	p->out_fd = p->err_fd = -1;
	if (out_fd == -1 && pipe2(out, O_CLOEXEC) != 0)
		return (-1);
	if (pipe2(err, O_CLOEXEC) != 0) {
		if (out[0] != -1) {
			close(out[0]);
			close(out[1]);
		}
		return (-1);
	}
	p->pid = fork();
	if (p->pid == -1)
		return (-1);
	if (p->pid == 0) {
		/* If the test dies (a Check timeout kills it), so do we. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (harness_child_nofile > 0) {
			struct rlimit rl = { (rlim_t)harness_child_nofile,
			    (rlim_t)harness_child_nofile };

			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (in_fd == -1)
			in_fd = open("/dev/null", O_RDONLY);
		dup2(in_fd, 0);
		dup2(out_fd != -1 ? out_fd : out[1], 1);
		dup2(err[1], 2);
		/* execv's prototype predates const; it does not write. */
		union { const char *const *c; char *const *v; } u = { argv };
		execv(argv[0], u.v);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(err[1]);
	p->err_fd = err[0];
	fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
	if (out[1] != -1) {
		close(out[1]);
		p->out_fd = out[0];
	}
	return (0);
}

/* Read stdout lines until every listener has announced itself. */
int
harness_read_ready(struct harness_proc *p)
{
	char	buf[4096], *line, *nl, *colon;
	size_t	have = 0;
	ssize_t	n;
	int64_t	deadline = harness_deadline(HARNESS_READY_MS);
	struct pollfd pfd;

	pfd.fd = p->out_fd;
	pfd.events = POLLIN;
	for (;;) {
		if (poll(&pfd, 1, harness_left(deadline)) <= 0)
			return (-1);
		n = read(p->out_fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			return (-1);	/* exited before it was ready */
		have += (size_t)n;
		buf[have] = '\0';
		/* The server prints every line at once, then flushes. */
		if (buf[have - 1] == '\n')
			break;
		if (have == sizeof buf - 1)
			return (-1);
	}
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		if (strncmp(line, "listening on ", 13) != 0)
			continue;
		if (p->nports == HARNESS_MAX_PORTS)
			break;
		snprintf(p->addrs[p->nports], sizeof p->addrs[0], "%s",
		    line + 13);
		colon = strrchr(line, ':');
		if (colon == NULL)
			return (-1);
		p->ports[p->nports++] = atoi(colon + 1);
	}
	return (p->nports > 0 ? 0 : -1);
}

/* Start tests/bad-echo in mode from byte n on 127.0.0.1:0; see bad-echo.c. */
int
harness_bad_echo_start(struct harness_proc *p, const char *mode, uint64_t n)
{
	static char	 path[4096];
	const char	*dir = getenv("EVECHO_BUILDDIR");
	char		 nbuf[32];
	const char	*argv[] = { path, "-m", mode, "0", nbuf, NULL };

	snprintf(path, sizeof path, "%s/tests/bad-echo",
	    dir != NULL ? dir : "..");
	snprintf(nbuf, sizeof nbuf, "%llu", (unsigned long long)n);
	if (harness_spawn(p, argv) != 0)
		return (-1);
	if (harness_read_ready(p) != 0) {
		harness_stop(p, SIGKILL, 1000);
		return (-1);
	}
	return (0);
}

/* Start evecho-server with exactly args, then wait for readiness. */
int
harness_server_start_args(struct harness_proc *p, const char *const args[])
{
	const char	*vgargs[] = { HARNESS_VALGRIND_ARGS };
	const char	*argv[HARNESS_MAX_ARGS + 2 + nitems(vgargs) + 1];
	int		 i = 0, max = HARNESS_MAX_ARGS;
	size_t		 j;

	if (harness_under_valgrind()) {
		argv[i++] = harness_valgrind();
		for (j = 0; j < nitems(vgargs); j++)
			argv[i++] = vgargs[j];
		max += i;
	}
	argv[i++] = harness_program("evecho-server");
	for (; args != NULL && *args != NULL && i < max; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	if (harness_spawn(p, argv) != 0)
		return (-1);
	p->valgrind = harness_under_valgrind();
	if (harness_read_ready(p) != 0) {
		harness_stop(p, SIGKILL, 1000);
		return (-1);
	}
	return (0);
}

/* Start evecho-server on 127.0.0.1:0 with extra arguments. */
int
harness_server_start(struct harness_proc *p, const char *const extra[])
{
	const char	*args[HARNESS_MAX_ARGS];
	int		 i = 0;

	args[i++] = "-l";
	args[i++] = "127.0.0.1:0";
	for (; extra != NULL && *extra != NULL && i < HARNESS_MAX_ARGS - 1;
	    extra++)
		args[i++] = *extra;
	args[i] = NULL;
	return (harness_server_start_args(p, args));
}

/* Say loudly that memcheck failed p, with what it wrote. */
static void
harness_valgrind_report(const struct harness_proc *p)
{
	fprintf(stderr, "==== memcheck found errors or leaks in the server "
	    "(exit %d); its stderr:\n%s==== end of memcheck output\n",
	    HARNESS_VALGRIND_STATUS, p->err);
	fflush(stderr);
}

/* Wait for the process to exit within timeout_ms; -2 if it did not. */
int
harness_wait(struct harness_proc *p, int timeout_ms)
{
	int64_t	deadline = harness_deadline(timeout_ms);
	int	status;
	pid_t	r;

	if (p->pid <= 0)
		return (-1);
	for (;;) {
		r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		harness_stderr(p, 0);	/* keep its stderr pipe from filling */
		if (r == -1)
			return (-1);
		if (harness_left(deadline) == 0)
			return (-2);
		usleep(5000);
	}
	p->pid = 0;
	harness_stderr(p, 1000);	/* it exited: read to EOF */
	if (WIFEXITED(status)) {
		if (p->valgrind &&
		    WEXITSTATUS(status) == HARNESS_VALGRIND_STATUS)
			harness_valgrind_report(p);
		return (WEXITSTATUS(status));
	}
	return (128 + WTERMSIG(status));
}

/* Signal, wait, and SIGKILL if the wait runs out; close our pipes. */
int
harness_stop(struct harness_proc *p, int sig, int timeout_ms)
{
	int	rc = -1;

	if (p->pid > 0) {
		kill(p->pid, sig);
		rc = harness_wait(p, timeout_ms);
		if (rc == -2) {
			kill(p->pid, SIGKILL);
			harness_wait(p, 5000);
			rc = -1;
		}
	}
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->out_fd = p->err_fd = -1;
	return (rc);
}

/* Collect what stderr holds into p->err, waiting up to timeout_ms. */
const char *
harness_stderr(struct harness_proc *p, int timeout_ms)
{
	int64_t		deadline = harness_deadline(timeout_ms);
	struct pollfd	pfd = { .fd = p->err_fd, .events = POLLIN };
	ssize_t		n;

	while (p->err_fd >= 0 && p->errlen < sizeof p->err - 1) {
		n = read(p->err_fd, p->err + p->errlen,
		    sizeof p->err - 1 - p->errlen);
		if (n > 0) {
			p->errlen += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN ||
		    poll(&pfd, 1, harness_left(deadline)) <= 0)
			break;
	}
	p->err[p->errlen] = '\0';
	return (p->err);
}

/* VmRSS of pid in KiB from /proc, or -1. */
long
harness_rss_kb(pid_t pid)
{
	char	path[64], line[256];
	FILE	*f;
	long	kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return (kb);
}

/* utime + stime of pid from /proc/PID/stat, in milliseconds. */
long
harness_cpu_ms(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long		 ut, st;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces; fields resume after its ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return (-1);
	return ((long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK)));
}

/* Count the lines of text that contain needle. */
int
harness_count_lines(const char *text, const char *needle)
{
	const char	*line = text, *nl;
	int		 n = 0;
	size_t		 len;

	while (*line != '\0') {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (memmem(line, len, needle, strlen(needle)) != NULL)
			n++;
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return (n);
}

/* Wait until fd is ready for events or the deadline passes. */
static int
harness_poll(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = events };
	int		n;

	do {
		n = poll(&pfd, 1, harness_left(deadline));
	} while (n == -1 && errno == EINTR);
	return (n > 0 ? 0 : -1);
}

/* Connect to host (a numeric IPv4 or IPv6 address) within timeout_ms. */
int
harness_connect(const char *host, int port, int timeout_ms)
{
	return (harness_connect_rcvbuf(host, port, 0, timeout_ms));
}

/* Connect with SO_RCVBUF set first (0: the system's default). */
int
harness_connect_rcvbuf(const char *host, int port, int rcvbuf,
    int timeout_ms)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd, err = 0, one = 1;
	socklen_t		 elen = sizeof err;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof *sin;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof *sin6;
	} else
		return (-1);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return (-1);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		if (errno != EINPROGRESS ||
		    harness_poll(fd, POLLOUT, harness_deadline(timeout_ms)) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
		    err != 0) {
			close(fd);
			return (-1);
		}
	}
	return (fd);
}

/* Send all of buf before the deadline. */
int
harness_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char	*p = buf;
	int64_t		 deadline = harness_deadline(timeout_ms);
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (harness_poll(fd, POLLOUT, deadline) != 0)
				return (-1);
		} else
			return (-1);
	}
	return (0);
}

/* Receive exactly len bytes before the deadline. */
int
harness_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	char	*p = buf;
	int64_t	 deadline = harness_deadline(timeout_ms);
	ssize_t	 n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (harness_poll(fd, POLLIN, deadline) != 0)
				return (-1);
		} else
			return (-1);
	}
	return (0);
}

/* Read until EOF (or the deadline); keep up to size bytes. */
ssize_t
harness_recv_until_eof(int fd, void *buf, size_t size, int timeout_ms)
{
	char	 scratch[65536], *p = buf;
	int64_t	 deadline = harness_deadline(timeout_ms);
	size_t	 total = 0;
	ssize_t	 n;

	for (;;) {
		n = recv(fd, scratch, sizeof scratch, 0);
		if (n == 0)
			return ((ssize_t)total);
		if (n > 0) {
			size_t keep = total < size ? size - total : 0;

			if (keep > (size_t)n)
				keep = (size_t)n;
			if (keep > 0)
				memcpy(p + total, scratch, keep);
			total += (size_t)n;
		} else if (errno == EAGAIN || errno == EINTR) {
			if (harness_poll(fd, POLLIN, deadline) != 0)
				return (-1);
		} else
			return (-1);
	}
}

/* xorshift64*: reproducible bytes, different for every seed. */
void
harness_fill_random(void *buf, size_t len, uint64_t seed)
{
	unsigned char	*p = buf;
	uint64_t	 x = seed * 0x9E3779B97F4A7C15ULL + 1;
	size_t		 i;

	for (i = 0; i < len; i++) {
		if ((i & 7) == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
		}
		p[i] = (unsigned char)((x * 0x2545F4914F6CDD1DULL) >> (8 * (i & 7)));
	}
}

/* Send buf and read its echo at the same time; compare as it arrives. */
int
harness_echo_check(int fd, const void *buf, size_t len, int shut_wr,
    int timeout_ms)
{
	const char	*p = buf;
	char		 chunk[65536];
	size_t		 sent = 0, got = 0;
	int64_t		 deadline = harness_deadline(timeout_ms);
	struct pollfd	 pfd = { .fd = fd };
	ssize_t		 n;
	int		 shut = 0;

	for (;;) {
		if (sent == len && shut_wr && !shut) {
			if (shutdown(fd, SHUT_WR) != 0)
				return (-1);
			shut = 1;
		}
		if (got == len && !shut_wr)
			return (0);
		pfd.events = POLLIN | (sent < len ? POLLOUT : 0);
		if (poll(&pfd, 1, harness_left(deadline)) <= 0)
			return (-1);
		if (sent < len && (pfd.revents & POLLOUT)) {
			n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return (-1);
			if (n > 0)
				sent += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, chunk, sizeof chunk, 0);
			if (n == 0)
				return (got == len && shut ? 0 : -1);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				return (-1);
			}
			if (got + (size_t)n > len ||
			    memcmp(chunk, p + got, (size_t)n) != 0)
				return (-1);
			got += (size_t)n;
		}
	}
}

/*
 * Connect a client that never reads and fill every buffer on the way.  One
 * echo first, so the server has accepted it: the kernel takes a backlogged
 * connection's bytes too, and a slow server (valgrind) could otherwise
 * meet a signal with nothing to drain.
 */
int
harness_connect_stuck(const char *host, int port, int timeout_ms)
{
	char	chunk[65536], c;
	int	fd, i;

	if ((fd = harness_connect_rcvbuf(host, port, 4096, timeout_ms)) < 0)
		return (-1);
	if (harness_send_all(fd, "s", 1, timeout_ms) != 0 ||
	    harness_recv_exact(fd, &c, 1, timeout_ms) != 0) {
		close(fd);
		return (-1);
	}
	memset(chunk, 's', sizeof chunk);
	for (i = 0; i < 1024; i++) {
		if (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL |
		    MSG_DONTWAIT) > 0)
			continue;
		usleep(20000);
		if (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL |
		    MSG_DONTWAIT) <= 0)
			break;
	}
	if (i == 1024) {	/* 64 MiB taken: this client is not stuck */
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Run a Check suite; the exit status for main: 0 when every test passed. */
int
harness_run_suite(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? 0 : 1);
}

/* Return 1 in the ASan/UBSan build, which is several times slower. */
int
harness_sanitized(void)
{
	const char	*s = getenv("EVECHO_SANITIZERS");

	return (s != NULL && strcmp(s, "yes") == 0);
}
