/*
 * check_cli.c: evecho-cli end to end.  Each test runs the real client
 * against the real server (started on 127.0.0.1:0 by harness.c) or against
 * a tiny misbehaving server forked here, drives it through pipes, files or
 * a pseudo-terminal, and stops every process it started by PID.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "addr.h"
#include "harness.h"

#define T_MS		10000	/* the deadline for any single run */
#define BIG_MS		60000	/* for the 50 MiB transfer */
#define OUT_MAX		65536

/* What a finished client run left behind. */
struct cli_result {
	int	status;
	char	out[OUT_MAX];
	ssize_t	outlen;
	char	err[8192];
};

static struct harness_proc	srv;
static char			srv_addr[80];

/*
 * What the client may hold resident while 16 MiB wait behind a blocked
 * stdout: a few MiB normally (the broken case holds all 16).  ASan maps
 * shadow memory and keeps freed blocks in quarantine, so it gets more.
 */
#if defined(__SANITIZE_ADDRESS__)
#define CLI_ASAN		1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLI_ASAN		1
#endif
#endif
#ifdef CLI_ASAN
#define CLI_RSS_LIMIT_KB	(48 * 1024)
#else
#define CLI_RSS_LIMIT_KB	(12 * 1024)
#endif

/* Start the real server (extra args may be NULL) and note its address. */
static void
server_start(const char *const extra[])
{
	ck_assert_msg(harness_server_start(&srv, extra) == 0,
	    "evecho-server did not become ready");
	snprintf(srv_addr, sizeof srv_addr, "%s", srv.addrs[0]);
}

/* Stop the real server. */
static void
server_stop(void)
{
	harness_stop(&srv, SIGTERM, T_MS);
}

/*
 * Fork and exec evecho-cli with args, standard input from in_fd (-1:
 * /dev/null) and standard output to out_fd (-1: a pipe, p->out_fd).
 */
static void
cli_spawn(struct harness_proc *p, const char *const args[], int in_fd,
    int out_fd)
{
	const char	*argv[HARNESS_MAX_ARGS + 2];
	int		 i = 0;

	argv[i++] = harness_program("evecho-cli");
	for (; args != NULL && *args != NULL && i < HARNESS_MAX_ARGS; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	ck_assert_int_eq(harness_spawn_io(p, argv, in_fd, out_fd), 0);
}

/* Read fd until EOF within timeout_ms; keep up to size bytes.  -1 on timeout. */
static ssize_t
read_to_eof(int fd, char *buf, size_t size, int timeout_ms)
{
	int64_t		deadline = harness_now_ms() + timeout_ms;
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	char		scratch[65536];
	size_t		total = 0, keep;
	ssize_t		n;

	for (;;) {
		int64_t left = deadline - harness_now_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return (-1);
		n = read(fd, scratch, sizeof scratch);
		if (n == 0)
			return ((ssize_t)total);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return (errno == EIO ? (ssize_t)total : -1);
		}
		keep = total < size ? size - total : 0;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(buf + total, scratch, keep);
		total += (size_t)n;
	}
}

/* Wait for the client to exit; fail the test (after killing it) if late. */
static int
cli_wait(struct harness_proc *p, int timeout_ms)
{
	int	rc = harness_wait(p, timeout_ms);

	if (rc == -2) {
		harness_stop(p, SIGKILL, 1000);
		ck_abort_msg("evecho-cli did not exit within %d ms", timeout_ms);
	}
	return (rc);
}

/* Run evecho-cli to completion (closing in_fd), collecting what it left. */
static void
cli_run(struct cli_result *r, const char *const args[], int in_fd)
{
	struct harness_proc	p;

	cli_spawn(&p, args, in_fd, -1);
	if (in_fd != -1)
		close(in_fd);
	r->outlen = read_to_eof(p.out_fd, r->out, sizeof r->out - 1, T_MS);
	r->out[r->outlen > 0 ? r->outlen : 0] = '\0';
	snprintf(r->err, sizeof r->err, "%s", harness_stderr(&p, T_MS));
	r->status = cli_wait(&p, T_MS);
	harness_stop(&p, SIGKILL, 1000);	/* closes the pipes */
	ck_assert_msg(r->outlen >= 0, "stdout did not end in time");
}

/* A pipe holding len bytes of s, closed for writing; returns the read end. */
static int
pipe_bytes(const char *s, size_t len)
{
	int	fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	ck_assert_int_eq(write(fds[1], s, len), (ssize_t)len);
	close(fds[1]);
	return (fds[0]);
}

/* A pipe holding the string s. */
static int
pipe_of(const char *s)
{
	return (pipe_bytes(s, strlen(s)));
}

/* An unlinked temporary file of len pseudo-random bytes, at offset 0. */
static int
random_file(size_t len, uint64_t seed)
{
	char	 path[] = "/tmp/check_cli.XXXXXX", *buf;
	size_t	 chunk = 1 << 20, off, n;
	int	 fd;

	fd = mkostemp(path, O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	buf = malloc(chunk);
	ck_assert_ptr_nonnull(buf);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		/* Seed per megabyte so the whole file need not be in memory. */
		harness_fill_random(buf, n, seed + off / chunk);
		ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	}
	free(buf);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return (fd);
}

/* ---- a misbehaving server: tests/bad-echo ---- */

/* Start bad-echo going wrong in mode from byte n; its address in addr. */
static void
fake_start(struct harness_proc *p, const char *mode, uint64_t n, char *addr,
    size_t size)
{
	ck_assert_msg(harness_bad_echo_start(p, mode, n) == 0,
	    "bad-echo did not start: %s", harness_stderr(p, 0));
	snprintf(addr, size, "%s", p->addrs[0]);
}

/* ---- the pseudo-terminal ---- */

/* Start evecho-cli on a new pty with echo off; returns the master fd. */
static int
pty_spawn(struct harness_proc *p, const char *const args[])
{
	const char	*argv[HARNESS_MAX_ARGS + 2];
	struct termios	 tio;
	pid_t		 parent = getpid();
	int		 master, i = 0;

	argv[i++] = harness_program("evecho-cli");
	for (; args != NULL && *args != NULL && i < HARNESS_MAX_ARGS; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	memset(p, 0, sizeof *p);
	p->out_fd = p->err_fd = -1;
	p->pid = forkpty(&master, NULL, NULL, NULL);
	ck_assert_int_ne(p->pid, -1);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* No terminal echo: what we read is what the client wrote. */
		if (tcgetattr(0, &tio) == 0) {
			tio.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(0, TCSANOW, &tio);
		}
		union { const char *const *c; char *const *v; } u = { argv };
		execv(argv[0], u.v);
		_exit(127);
	}
	return (master);
}

/*
 * Read from the pty master, appending to buf (holding *len bytes), until
 * needle appears after offset from; -1 on timeout or end.
 */
static int
pty_expect(int fd, char *buf, size_t size, size_t *len, size_t from,
    const char *needle)
{
	int64_t		deadline = harness_now_ms() + T_MS;
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	ssize_t		n;

	for (;;) {
		buf[*len] = '\0';
		if (strstr(buf + from, needle) != NULL)
			return (0);
		if (*len >= size - 1)
			return (-1);
		int64_t left = deadline - harness_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return (-1);
		n = read(fd, buf + *len, size - 1 - *len);
		if (n <= 0)
			return (-1);	/* EIO: the client is gone */
		*len += (size_t)n;
	}
}


/* ---- the tests ---- */

/* Each bad command line exits 64 with one line on standard error. */
START_TEST(test_bad_args)
{
	static const char *const cases[][6] = {
		{ "--bogus", NULL },
		{ "-x", NULL },
		{ "--timeout", NULL },
		{ "--timeout", "soon", NULL },
		{ "--timeout=-1", NULL },
		{ "-m", "x", "-i", NULL },
		{ "-n", NULL },
		{ "127.0.0.1:1", "extra", NULL },
		{ "localhost:99999", NULL },
		{ "[::1", NULL },
		{ "-u", NULL },				/* stream mode */
		{ "-u", "--retries", "0", "-m", "x", NULL },
		{ "-u", "--retries=1001", "-m", "x", NULL },
		{ "-u", "--retries", "-m", "x", NULL },
		{ "--retries", "2", "-m", "x", NULL },	/* without -u */
		{ "-u", "-n", "-m", "x", NULL },
		{ "-u", "--timeout", "0", "-m", "x", NULL },
	};
	struct cli_result	r;
	size_t			i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cli_run(&r, cases[i], -1);
		ck_assert_msg(r.status == 64, "case %zu (%s): status %d", i,
		    cases[i][0], r.status);
		ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
		    "case %zu: not one line: '%s'", i, r.err);
		ck_assert_msg(strncmp(r.err, "evecho-cli: ", 12) == 0,
		    "case %zu: '%s'", i, r.err);
	}
}
END_TEST

/* --help names every option and the exit codes; -V the version. */
START_TEST(test_help_version)
{
	static const char *const opts[] = {
		"-4", "-6", "--interactive", "--message", "--no-newline",
		"--time", "--verify", "--timeout", "--verbose", "--quiet",
		"--help", "--version", "--udp", "--retries", "default",
		"Exit status", "64",
	};
	const char *const	 help[] = { "--help", NULL };
	const char *const	 version[] = { "-V", NULL };
	struct cli_result	 r;
	size_t			 i;

	cli_run(&r, help, -1);
	ck_assert_int_eq(r.status, 0);
	for (i = 0; i < sizeof opts / sizeof opts[0]; i++)
		ck_assert_msg(strstr(r.out, opts[i]) != NULL,
		    "--help lacks '%s'", opts[i]);
	cli_run(&r, version, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(strncmp(r.out, "evecho-cli ", 11), 0);
}
END_TEST

/* A port nobody listens on: exit 2, "Connection refused". */
START_TEST(test_refused)
{
	struct sockaddr_in	sin;
	struct cli_result	r;
	char			addr[80];
	int			fd;

	/* Borrow a free port from the kernel, then give it back. */
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", addr_local_port(fd));
	close(fd);

	const char *const args[] = { "-m", "x", addr, NULL };
	cli_run(&r, args, -1);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "Connection refused") != NULL, "%s", r.err);
	ck_assert_str_eq(r.out, "");
}
END_TEST

/*
 * A name that cannot resolve: exit 2.  A literal that -4 or -6 rules out
 * is a mistake on the command line: exit 64, naming the option.
 */
START_TEST(test_unknown_host)
{
	const char *const	 bad[] = { "-m", "x", "nosuch.invalid", NULL };
	const char *const	 fam4[] = { "-4", "-m", "x", "::1", NULL };
	const char *const	 fam6[] = { "-6", "-m", "x", "127.0.0.1:7",
	    NULL };
	struct cli_result	 r;

	cli_run(&r, bad, -1);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "cannot resolve 'nosuch.invalid'") != NULL,
	    "%s", r.err);
	cli_run(&r, fam4, -1);
	ck_assert_int_eq(r.status, 64);
	ck_assert_msg(strncmp(r.err, "evecho-cli: -4: '::1'", 21) == 0, "%s",
	    r.err);
	cli_run(&r, fam6, -1);
	ck_assert_int_eq(r.status, 64);
	ck_assert_msg(strncmp(r.err, "evecho-cli: -6: '127.0.0.1'", 27) == 0,
	    "%s", r.err);
}
END_TEST

/*
 * A server whose accept queue is full never answers: the connect times
 * out on time, and exit 2 as for a refused one (3 is for silence after).
 */
START_TEST(test_connect_timeout)
{
	struct sockaddr_in	sin;
	struct cli_result	r;
	char			addr[80];
	int			lfd, c[3], i;
	int64_t			t0;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(lfd, 0), 0);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", addr_local_port(lfd));
	/* Fill the queue (never accepted), so further SYNs are dropped. */
	sin.sin_port = htons((uint16_t)addr_local_port(lfd));
	for (i = 0; i < 3; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		connect(c[i], (struct sockaddr *)&sin, sizeof sin);
	}
	usleep(100000);

	const char *const args[] = { "--timeout", "300ms", "-m", "x", addr,
	    NULL };
	t0 = harness_now_ms();
	cli_run(&r, args, -1);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "timed out") != NULL, "%s", r.err);
	ck_assert_int_lt(harness_now_ms() - t0, 5000);
	for (i = 0; i < 3; i++)
		close(c[i]);
	close(lfd);
}
END_TEST

/* A server that echoes twice as much fails -m, with --verify or without. */
START_TEST(test_double_echo)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[64];
	int			verify;

	for (verify = 0; verify < 2; verify++) {
		fake_start(&fake, "double", 0, addr, sizeof addr);
		const char *const plain[] = { "-m", "twice", addr, NULL };
		const char *const checked[] = { "--verify", "-m", "twice", addr,
		    NULL };
		cli_run(&r, verify ? checked : plain, -1);
		harness_stop(&fake, SIGKILL, 1000);
		ck_assert_int_eq(r.status, 1);
		ck_assert_msg(strstr(r.err, "server sent more than it was sent")
		    != NULL, "%s", r.err);
	}
}
END_TEST

/* -m against the real server, with and without the newline; also IPv6. */
START_TEST(test_oneshot)
{
	struct cli_result	r;

	server_start(NULL);
	const char *const a1[] = { "-m", "hello, echo", srv_addr, NULL };
	cli_run(&r, a1, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "hello, echo\n");

	const char *const a2[] = { "-n", "-t", "-m", "raw", srv_addr, NULL };
	cli_run(&r, a2, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "raw");
	/* One message: its round trip, not a rate. */
	ck_assert_msg(strncmp(r.err, "round trip ", 11) == 0 &&
	    strstr(r.err, " ms, 3 bytes\n") != NULL, "%s", r.err);

	const char *const av[] = { "-t", "--verify", "-m", "sure", srv_addr,
	    NULL };
	cli_run(&r, av, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.err, " ms, 5 bytes, verified\n") != NULL, "%s",
	    r.err);
	server_stop();

	/* IPv6 with -6 and the [::1]:PORT syntax. */
	const char *const v6[] = { "-l", "[::1]:0", NULL };
	char addr6[80];
	ck_assert_int_eq(harness_server_start_args(&srv, v6), 0);
	snprintf(addr6, sizeof addr6, "[::1]:%d", srv.ports[0]);
	const char *const a3[] = { "-6", "-m", "six", addr6, NULL };
	cli_run(&r, a3, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "six\n");
	server_stop();
}
END_TEST

/* -m against a server that echoes in pieces: the whole echo is printed. */
START_TEST(test_oneshot_pieces)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[80];

	fake_start(&fake, "pieces", 0, addr, sizeof addr);
	const char *const args[] = { "-m", "in pieces", addr, NULL };
	cli_run(&r, args, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "in pieces\n");
	harness_stop(&fake, SIGKILL, T_MS);
}
END_TEST

/* -i on a pipe: lines echoed (in pieces) one by one, 'exit' stops. */
START_TEST(test_line_piped)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[80], c;
	double			rtt[2];

	fake_start(&fake, "pieces", 0, addr, sizeof addr);
	const char *const args[] = { "-i", "-t", "--verify", addr, NULL };
	cli_run(&r, args, pipe_of("one\ntwo words\nexit\nthree\n"));
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "one\ntwo words\n");
	/*
	 * One rtt line per line, each timing the whole line (the pieces are
	 * 100 ms apart); no prompt, as stdin is no terminal.
	 */
	ck_assert_msg(sscanf(r.err, "rtt %lf ms\nrtt %lf ms\n%c", &rtt[0],
	    &rtt[1], &c) == 2, "%s", r.err);
	ck_assert_msg(rtt[0] >= 90 && rtt[1] >= 90, "%s", r.err);
	harness_stop(&fake, SIGKILL, T_MS);

	/* End of input without 'exit', last line without a newline. */
	server_start(NULL);
	const char *const a2[] = { "-i", srv_addr, NULL };
	cli_run(&r, a2, pipe_of("alpha\nbeta"));
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "alpha\nbeta\n");
	server_stop();
}
END_TEST

/*
 * On a terminal: a greeting, the prompt, the echo (which the server sends
 * in two pieces) printed whole before the next prompt, 'exit' exits 0.
 */
START_TEST(test_pty_interactive)
{
	struct harness_proc	cli, fake;
	char			buf[8192], addr[80];
	size_t			len = 0, mark;
	int			master;

	fake_start(&fake, "pieces", 0, addr, sizeof addr);
	const char *const args[] = { addr, NULL };
	master = pty_spawn(&cli, args);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, 0,
	    "evecho> ") == 0, "no prompt: '%s'", buf);
	ck_assert_ptr_nonnull(strstr(buf, "connected to"));
	mark = len;
	ck_assert_int_eq(write(master, "hello there\n", 12), 12);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, mark,
	    "hello there\r\nevecho> ") == 0, "no echo: '%s'", buf + mark);
	mark = len;
	ck_assert_int_eq(write(master, "exit\n", 5), 5);
	ck_assert_int_eq(cli_wait(&cli, T_MS), 0);
	close(master);
	harness_stop(&fake, SIGKILL, T_MS);
}
END_TEST

/* On a terminal: Ctrl-D at the prompt exits 0. */
START_TEST(test_pty_eof)
{
	struct harness_proc	cli;
	char			buf[8192];
	size_t			len = 0, mark;
	int			master;

	server_start(NULL);
	const char *const args[] = { "-q", "-t", srv_addr, NULL };
	master = pty_spawn(&cli, args);
	ck_assert(pty_expect(master, buf, sizeof buf, &len, 0, "evecho> ")
	    == 0);
	ck_assert_ptr_null(strstr(buf, "connected to"));	/* -q */
	mark = len;
	ck_assert_int_eq(write(master, "x\n", 2), 2);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, mark,
	    "rtt ") == 0, "no rtt: '%s'", buf + mark);
	ck_assert(pty_expect(master, buf, sizeof buf, &len, mark, "evecho> ")
	    == 0);
	ck_assert_int_eq(write(master, "\004", 1), 1);
	ck_assert_int_eq(cli_wait(&cli, T_MS), 0);
	close(master);
	server_stop();
}
END_TEST

/* On a terminal: the server goes away; the client says so, exits 1. */
START_TEST(test_pty_server_gone)
{
	const char *const	 extra[] = { "--idle-timeout", "300ms", NULL };
	struct harness_proc	 cli;
	char			 buf[8192];
	size_t			 len = 0;
	int			 master;

	server_start(extra);
	const char *const args[] = { srv_addr, NULL };
	master = pty_spawn(&cli, args);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, 0,
	    "closed the connection") == 0, "no message: '%s'", buf);
	ck_assert_int_eq(cli_wait(&cli, T_MS), 1);
	close(master);
	server_stop();
}
END_TEST

/* Stream mode: binary bytes through pipes, full duplex, exit 0. */
START_TEST(test_stream_pipe)
{
	struct harness_proc	 cli;
	size_t			 len = 16 << 20, got = 0;
	char			*want, *have;
	int			 in;

	want = malloc(len);
	have = malloc(len + 1);
	ck_assert(want != NULL && have != NULL);
	in = random_file(len, 7);
	ck_assert_int_eq(read(in, want, len), (ssize_t)len);
	lseek(in, 0, SEEK_SET);

	server_start(NULL);
	const char *const args[] = { srv_addr, NULL };
	cli_spawn(&cli, args, in, -1);
	/*
	 * Leave standard output unread for a while: the client must stop
	 * reading the socket rather than buffer the whole echo.
	 */
	usleep(500000);
	long rss = harness_rss_kb(cli.pid);
	got = (size_t)read_to_eof(cli.out_fd, have, len + 1, T_MS);
	ck_assert_int_eq(cli_wait(&cli, T_MS), 0);
	ck_assert_int_eq(got, len);
	ck_assert_msg(memcmp(want, have, len) == 0, "echo differs");
	printf("stream 16 MiB, stdout blocked: client rss %ld KiB\n", rss);
	ck_assert_msg(rss > 0 && rss < CLI_RSS_LIMIT_KB, "client rss %ld KiB",
	    rss);
	harness_stop(&cli, SIGKILL, 1000);
	close(in);
	free(want);
	free(have);
	server_stop();
}
END_TEST

/*
 * A server that echoes only after our end of input: the client must shut
 * down its sending side, then wait for the echo.
 */
START_TEST(test_stream_half_close)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[80];

	fake_start(&fake, "batch", 0, addr, sizeof addr);
	const char *const args[] = { addr, NULL };
	cli_run(&r, args, pipe_bytes("held\0until\nthe end", 18));
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.outlen, 18);
	ck_assert_int_eq(memcmp(r.out, "held\0until\nthe end", 18), 0);
	harness_stop(&fake, SIGKILL, T_MS);
}
END_TEST

/* Empty input: nothing sent, nothing back, exit 0. */
START_TEST(test_stream_empty)
{
	struct cli_result	r;

	server_start(NULL);
	const char *const args[] = { srv_addr, NULL };
	cli_run(&r, args, -1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.outlen, 0);
	server_stop();
}
END_TEST

/* 50 MiB of random bytes through --verify against the real server. */
START_TEST(test_stream_verify_50mib)
{
	struct harness_proc	cli;
	struct rusage		ru;
	char			err[4096];
	int64_t			t0, deadline;
	int			in, status;
	pid_t			r;

	in = random_file(50 << 20, 50);
	server_start(NULL);
	const char *const args[] = { "--verify", "-t", srv_addr, NULL };
	t0 = harness_now_ms();
	cli_spawn(&cli, args, in, -1);
	deadline = t0 + BIG_MS;
	while ((r = wait4(cli.pid, &status, WNOHANG, &ru)) == 0 &&
	    harness_now_ms() < deadline)
		usleep(10000);
	if (r != cli.pid) {
		harness_stop(&cli, SIGKILL, 1000);
		ck_abort_msg("50 MiB --verify did not finish in %d ms", BIG_MS);
	}
	cli.pid = 0;
	snprintf(err, sizeof err, "%s", harness_stderr(&cli, 1000));
	printf("50 MiB --verify: %lld ms, client max rss %ld KiB: %s",
	    (long long)(harness_now_ms() - t0), ru.ru_maxrss, err);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d: %s", status, err);
	ck_assert_msg(strstr(err, "52428800 bytes echoed") != NULL, "%s", err);
	/* Reading stdin must pause: the file may not pile up in memory. */
	ck_assert_msg(ru.ru_maxrss < CLI_RSS_LIMIT_KB, "client max rss %ld KiB",
	    ru.ru_maxrss);
	harness_stop(&cli, SIGKILL, 1000);
	close(in);
	server_stop();
}
END_TEST

/* --verify against a server that flips one byte: exit 1 naming it. */
START_TEST(test_verify_mismatch)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[80];
	int			in;

	fake_start(&fake, "flip", 123456, addr, sizeof addr);
	const char *const args[] = { "--verify", addr, NULL };
	in = random_file(1 << 20, 3);
	cli_run(&r, args, in);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "differs at offset 123456:") != NULL, "%s",
	    r.err);
	ck_assert_int_eq(r.outlen, 0);	/* --verify writes no echo */
	harness_stop(&fake, SIGKILL, T_MS);
}
END_TEST

/*
 * A server that closes early: gracefully after 5 bytes of a message, and
 * (with our data unread, so by reset) after 1000 bytes of 1 MiB.  Exit 1,
 * with what did come back on standard output.
 */
START_TEST(test_server_closes_early)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[80];
	int			in;

	fake_start(&fake, "close", 5, addr, sizeof addr);
	const char *const a1[] = { "-m", "hello world", addr, NULL };
	cli_run(&r, a1, -1);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "closed the connection early: 5 of 12 "
	    "bytes echoed") != NULL, "%s", r.err);
	ck_assert_str_eq(r.out, "hello");
	harness_stop(&fake, SIGKILL, T_MS);

	fake_start(&fake, "close", 1000, addr, sizeof addr);
	const char *const a2[] = { addr, NULL };
	in = random_file(1 << 20, 4);
	cli_run(&r, a2, in);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "closed the connection early: 1000 of") !=
	    NULL || strstr(r.err, "lost after 1000 of") != NULL, "%s", r.err);
	ck_assert_int_eq(r.outlen, 1000);
	harness_stop(&fake, SIGKILL, T_MS);
}
END_TEST

/* A server that never echoes: --timeout ends the wait with exit 3. */
START_TEST(test_silence_timeout)
{
	struct harness_proc	fake;
	struct cli_result	r;
	char			addr[80];
	int64_t			t0 = harness_now_ms();

	fake_start(&fake, "mute", 0, addr, sizeof addr);
	const char *const args[] = { "--timeout", "0.3", "-m", "anyone?", addr,
	    NULL };
	cli_run(&r, args, -1);
	ck_assert_int_eq(r.status, 3);
	ck_assert_msg(strstr(r.err, "timed out: no data from") != NULL, "%s",
	    r.err);
	ck_assert_int_lt(harness_now_ms() - t0, 5000);
	harness_stop(&fake, SIGKILL, T_MS);
}
END_TEST

/* A UDP socket on 127.0.0.1 that never answers; its address in addr. */
static int
udp_silent(char *addr, size_t size)
{
	struct sockaddr_in	sin;
	int			fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	snprintf(addr, size, "127.0.0.1:%d", addr_local_port(fd));
	return (fd);
}

/*
 * -u on a terminal, against evecho-server -u: the greeting names UDP, a
 * line's echo comes back before the next prompt, Ctrl-D exits 0.
 */
START_TEST(test_udp_pty)
{
	const char *const	 extra[] = { "-u", "127.0.0.1:0", NULL };
	struct harness_proc	 cli;
	char			 buf[8192];
	size_t			 len = 0, mark;
	int			 master;

	server_start(extra);
	ck_assert_msg(srv.nports == 2 && strncmp(srv.addrs[1], "udp ", 4) == 0,
	    "no udp listener: '%s'", srv.addrs[1]);
	const char *const args[] = { "-u", "-t", srv.addrs[1] + 4, NULL };
	master = pty_spawn(&cli, args);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, 0,
	    "evecho> ") == 0, "no prompt: '%s'", buf);
	ck_assert_msg(strstr(buf, "sending to udp 127.0.0.1:") != NULL, "%s",
	    buf);
	mark = len;
	ck_assert_int_eq(write(master, "over udp\n", 9), 9);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, mark,
	    "over udp\r\nrtt ") == 0, "no echo: '%s'", buf + mark);
	ck_assert(pty_expect(master, buf, sizeof buf, &len, mark, "evecho> ")
	    == 0);
	ck_assert_int_eq(write(master, "\004", 1), 1);
	ck_assert_int_eq(cli_wait(&cli, T_MS), 0);
	close(master);
	server_stop();
}
END_TEST

/*
 * -u on a terminal, a peer that never answers: the line is reported, the
 * prompt comes back for the next, and the end exits 3.
 */
START_TEST(test_udp_pty_unanswered)
{
	struct harness_proc	cli;
	char			buf[8192], addr[80];
	size_t			len = 0, mark;
	int			master, peer;

	peer = udp_silent(addr, sizeof addr);
	const char *const args[] = { "-u", "-q", "--timeout", "100ms",
	    "--retries", "2", addr, NULL };
	master = pty_spawn(&cli, args);
	ck_assert(pty_expect(master, buf, sizeof buf, &len, 0, "evecho> ")
	    == 0);
	mark = len;
	ck_assert_int_eq(write(master, "anyone\n", 7), 7);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, mark,
	    "line 1: no echo from udp ") == 0, "no report: '%s'", buf + mark);
	ck_assert_msg(pty_expect(master, buf, sizeof buf, &len, mark,
	    "after 2 tries of 0.1 s\r\nevecho> ") == 0, "'%s'", buf + mark);
	ck_assert_int_eq(write(master, "\004", 1), 1);
	ck_assert_int_eq(cli_wait(&cli, T_MS), 3);
	close(master);
	close(peer);
}
END_TEST

static Suite *
cli_suite(void)
{
	Suite	*s = suite_create("cli");
	TCase	*args = tcase_create("args");
	TCase	*line = tcase_create("line");
	TCase	*stream = tcase_create("stream");
	TCase	*udp = tcase_create("udp");

	tcase_add_test(args, test_bad_args);
	tcase_add_test(args, test_help_version);
	tcase_add_test(args, test_refused);
	tcase_add_test(args, test_unknown_host);
	tcase_add_test(args, test_connect_timeout);
	tcase_add_test(line, test_oneshot);
	tcase_add_test(line, test_double_echo);
	tcase_add_test(line, test_oneshot_pieces);
	tcase_add_test(line, test_line_piped);
	tcase_add_test(line, test_pty_interactive);
	tcase_add_test(line, test_pty_eof);
	tcase_add_test(line, test_pty_server_gone);
	tcase_add_test(line, test_silence_timeout);
	tcase_add_test(stream, test_stream_empty);
	tcase_add_test(stream, test_stream_pipe);
	tcase_add_test(stream, test_stream_half_close);
	tcase_add_test(stream, test_stream_verify_50mib);
	tcase_add_test(stream, test_verify_mismatch);
	tcase_add_test(stream, test_server_closes_early);
	tcase_set_timeout(args, 60);
	tcase_set_timeout(line, 60);
	tcase_add_test(udp, test_udp_pty);
	tcase_add_test(udp, test_udp_pty_unanswered);
	tcase_set_timeout(stream, 120);
	tcase_set_timeout(udp, 60);
	suite_add_tcase(s, args);
	suite_add_tcase(s, line);
	suite_add_tcase(s, stream);
	suite_add_tcase(s, udp);
	return (s);
}

int
main(void)
{
#ifdef CLI_ASAN
	{
		/* A small quarantine, or freed buffers count as RSS. */
		const char	*o = getenv("ASAN_OPTIONS");
		char		 opts[1024];

		snprintf(opts, sizeof opts, "%s%squarantine_size_mb=1",
		    o != NULL ? o : "", o != NULL && *o != '\0' ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
#endif
	return (harness_run_suite(cli_suite()));
}
