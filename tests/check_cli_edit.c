/*
 * check_cli_edit.c: evecho-cli's line mode on a terminal: line editing and
 * history (when built with libedit), and data the server sends unprompted,
 * shown above the prompt.  The client runs on a pseudo-terminal (forkpty)
 * against the real evecho-server or against a server played here on a
 * loopback socket, so the test decides when "unprompted" bytes arrive.
 * Every wait is bounded and every process is stopped by PID.
 *
 * Built without libedit (HAVE_LIBEDIT undefined), the editing tests assert
 * the plain behaviour instead: the arrow keys' escape bytes go to the server
 * as typed and come back in the echo.
 */
#include <sys/types.h>
#include <sys/prctl.h>
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

#include "harness.h"

#define T_MS		5000	/* the deadline for any single wait */
#define BUF_MAX		16384

#define KEY_LEFT	"\033[D"
#define KEY_UP		"\033[A"
#define KEY_ENTER	"\r"	/* what a terminal sends for Enter */

/*
 * What comes just before an echoed line: libedit draws the typed line and
 * ends it; without it the terminal's echo is off, so the echo follows the
 * prompt (which expect() has just gone past).
 */
#ifdef HAVE_LIBEDIT
#define ECHO_AT		"\n"
#else
#define ECHO_AT		""
#endif

/* A client on a pty and what it wrote there so far. */
struct pty_cli {
	struct harness_proc	proc;
	int			master;
	char			buf[BUF_MAX];
	size_t			len;
	size_t			mark;	/* expect() looks after this */
};

/* Start evecho-cli with args on a new pty (echo off, as check_cli does). */
static void
pty_start(struct pty_cli *c, const char *const args[])
{
	const char	*argv[HARNESS_MAX_ARGS + 2];
	struct termios	 tio;
	pid_t		 parent = getpid();
	int		 i = 0;

	memset(c, 0, sizeof *c);
	argv[i++] = harness_program("evecho-cli");
	for (; args != NULL && *args != NULL && i < HARNESS_MAX_ARGS; args++)
		argv[i++] = *args;
	argv[i] = NULL;
	c->proc.out_fd = c->proc.err_fd = -1;
	c->proc.pid = forkpty(&c->master, NULL, NULL, NULL);
	ck_assert_int_ne(c->proc.pid, -1);
	if (c->proc.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* No terminal echo: what we read is what the client wrote. */
		if (tcgetattr(0, &tio) == 0) {
			tio.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(0, TCSANOW, &tio);
		}
		/* A known terminal (its sequences are expected below), no
		 * user's ~/.editrc. */
		setenv("TERM", "xterm", 1);
		setenv("EDITRC", "/dev/null", 1);
		union { const char *const *cc; char *const *v; } u = { argv };
		execv(argv[0], u.v);
		_exit(127);
	}
}

/*
 * Read the pty until needle appears after c->mark, then move the mark
 * past it.  Fails the test (showing what came) after T_MS.
 */
static void
expect(struct pty_cli *c, const char *needle)
{
	int64_t		 deadline = harness_now_ms() + T_MS;
	struct pollfd	 pfd = { .fd = c->master, .events = POLLIN };
	const char	*at;
	ssize_t		 n;

	for (;;) {
		c->buf[c->len] = '\0';
		if ((at = strstr(c->buf + c->mark, needle)) != NULL) {
			c->mark = (size_t)(at - c->buf) + strlen(needle);
			return;
		}
		int64_t left = deadline - harness_now_ms();
		if (c->len >= sizeof c->buf - 1 || left <= 0 ||
		    poll(&pfd, 1, (int)left) <= 0 ||
		    (n = read(c->master, c->buf + c->len,
		    sizeof c->buf - 1 - c->len)) <= 0)
			break;
		c->len += (size_t)n;
	}
	ck_abort_msg("no '%s' on the terminal; after the mark it shows '%s'",
	    needle, c->buf + c->mark);
}

/* Type s at the terminal. */
static void
type(struct pty_cli *c, const char *s)
{
	ck_assert_int_eq(write(c->master, s, strlen(s)), (ssize_t)strlen(s));
}

/* Wait for the client's exit status; kill it if it is late. */
static int
pty_wait(struct pty_cli *c)
{
	int	rc = harness_wait(&c->proc, T_MS);

	if (rc == -2) {
		harness_stop(&c->proc, SIGKILL, 1000);
		ck_abort_msg("evecho-cli did not exit within %d ms", T_MS);
	}
	return (rc);
}

/* Type 'exit', expect exit status 0, close the pty. */
static void
pty_exit(struct pty_cli *c)
{
	type(c, "exit" KEY_ENTER);
	ck_assert_int_eq(pty_wait(c), 0);
	close(c->master);
}

/* ---- a server played by the test: one connection, bytes on demand ---- */

struct fake {
	int	lfd;		/* listening on 127.0.0.1:port */
	int	fd;		/* the client's connection */
	char	addr[40];
};

static void
fake_listen(struct fake *f)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		slen = sizeof sin;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = -1;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
	ck_assert_int_eq(getsockname(f->lfd, (struct sockaddr *)&sin, &slen),
	    0);
	snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", ntohs(sin.sin_port));
}

static void
fake_accept(struct fake *f)
{
	struct pollfd	pfd = { .fd = f->lfd, .events = POLLIN };

	ck_assert_msg(poll(&pfd, 1, T_MS) == 1, "the client never connected");
	f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(f->fd, 0);
}

/* Read exactly what the client should have sent, and echo it back. */
static void
fake_echo(struct fake *f, const char *want)
{
	char	got[256];
	size_t	n = strlen(want);

	ck_assert_uint_lt(n, sizeof got);
	ck_assert_msg(harness_recv_exact(f->fd, got, n, T_MS) == 0,
	    "the client did not send %zu bytes", n);
	got[n] = '\0';
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(harness_send_all(f->fd, got, n, T_MS), 0);
}

static void
fake_close(struct fake *f)
{
	if (f->fd != -1)
		close(f->fd);
	close(f->lfd);
}

/* ---- the tests ---- */

/* A real server, and evecho-cli on a pty showing its first prompt. */
static void
edit_start(struct harness_proc *srv, struct pty_cli *c)
{
	ck_assert_msg(harness_server_start(srv, NULL) == 0,
	    "evecho-server did not become ready");
	const char *const args[] = { "-q", srv->addrs[0], NULL };
	pty_start(c, args);
	expect(c, "evecho> ");
}

/* abc, Left, Left, Z, Enter: libedit sends aZbc; plain mode the escapes. */
START_TEST(test_edit_arrows)
{
	struct harness_proc	srv;
	struct pty_cli		c;

	edit_start(&srv, &c);
	type(&c, "abc" KEY_LEFT KEY_LEFT "Z" KEY_ENTER);
#ifdef HAVE_LIBEDIT
	/* The echo, on its own line, then the next prompt. */
	expect(&c, ECHO_AT "aZbc\r\nevecho> ");
#else
	fprintf(stderr, "check_cli_edit: built without libedit: checking "
	    "that line mode sends the arrow keys' bytes as typed\n");
	expect(&c, ECHO_AT "abc" KEY_LEFT KEY_LEFT "Z\r\nevecho> ");
#endif
	pty_exit(&c);
	harness_stop(&srv, SIGTERM, T_MS);
}
END_TEST

/* Up recalls the previous line: Up, Enter sends it again. */
START_TEST(test_edit_history)
{
	struct harness_proc	srv;
	struct pty_cli		c;

	edit_start(&srv, &c);
	type(&c, "first line" KEY_ENTER);
	expect(&c, ECHO_AT "first line\r\nevecho> ");
	type(&c, KEY_UP KEY_ENTER);
#ifdef HAVE_LIBEDIT
	expect(&c, "\nfirst line\r\nevecho> ");
#else
	fprintf(stderr, "check_cli_edit: built without libedit: checking "
	    "that Up is sent as typed, no history\n");
	expect(&c, ECHO_AT KEY_UP "\r\nevecho> ");
#endif
	pty_exit(&c);
	harness_stop(&srv, SIGTERM, T_MS);
}
END_TEST

/*
 * A greeting on accept (evecho-server --greeting) is shown after the first
 * prompt, on its own line, and the prompt comes back; typing a line still
 * echoes.  With --verify: a greeting before any line is no failure.
 */
START_TEST(test_greeting)
{
	const char *const	 extra[] = { "--greeting", "hello from %h",
	    NULL };
	struct harness_proc	 srv;
	struct pty_cli		 c;

	ck_assert_msg(harness_server_start(&srv, extra) == 0,
	    "evecho-server did not become ready");
	const char *const args[] = { "-q", "--verify", srv.addrs[0], NULL };
	pty_start(&c, args);
	expect(&c, "evecho> ");
#ifdef HAVE_LIBEDIT
	/* The first prompt wiped, the greeting in its place. */
	expect(&c, "\033[Jhello from ");
#else
	/* Below the first prompt, on a line of its own. */
	expect(&c, "\nhello from ");
#endif
	/* The rest of the greeting line, then the prompt again. */
	expect(&c, "\r\nevecho> ");
	ck_assert_msg(strstr(c.buf, "hello from ") > strstr(c.buf, "evecho> "),
	    "the greeting came before the first prompt");
	type(&c, "after the greeting" KEY_ENTER);
	expect(&c, ECHO_AT "after the greeting\r\nevecho> ");
	pty_exit(&c);
	harness_stop(&srv, SIGTERM, T_MS);
}
END_TEST

/*
 * Data that arrives while a line is half typed is printed above the
 * prompt; the prompt comes back and the half-typed line is kept (with
 * libedit, drawn again too), so finishing it sends the whole line.
 */
START_TEST(test_unprompted_redraw)
{
	struct pty_cli	c;
	struct fake	f;

	fake_listen(&f);
	const char *const args[] = { "-q", f.addr, NULL };
	pty_start(&c, args);
	fake_accept(&f);
	expect(&c, "evecho> ");
	type(&c, "half");
#ifdef HAVE_LIBEDIT
	expect(&c, "half");		/* libedit draws what is typed */
#else
	usleep(200 * 1000);		/* the terminal holds it, unseen */
#endif
	ck_assert_int_eq(harness_send_all(f.fd, "news\n", 5, T_MS), 0);
#ifdef HAVE_LIBEDIT
	/* The line wiped, the news, the prompt and "half" drawn again. */
	expect(&c, "\033[J");
	expect(&c, "news\r\nevecho> half");
#else
	expect(&c, "\nnews\r\nevecho> ");
#endif
	/* Bytes without a newline still leave the prompt on a line of its own. */
	ck_assert_int_eq(harness_send_all(f.fd, "tick", 4, T_MS), 0);
#ifdef HAVE_LIBEDIT
	expect(&c, "tick\r\nevecho> half");
#else
	expect(&c, "tick\r\nevecho> ");
#endif
	type(&c, " done" KEY_ENTER);
	fake_echo(&f, "half done\n");
	expect(&c, "half done\r\nevecho> ");
	pty_exit(&c);
	fake_close(&f);
}
END_TEST

/*
 * After the first line, bytes no line accounts for are still an error with
 * --verify (exit 1), as without a terminal.
 */
START_TEST(test_unprompted_verify)
{
	struct pty_cli	c;
	struct fake	f;

	fake_listen(&f);
	const char *const args[] = { "-q", "--verify", f.addr, NULL };
	pty_start(&c, args);
	fake_accept(&f);
	expect(&c, "evecho> ");
	type(&c, "one" KEY_ENTER);
	fake_echo(&f, "one\n");
	expect(&c, "one\r\nevecho> ");
	ck_assert_int_eq(harness_send_all(f.fd, "extra\n", 6, T_MS), 0);
	expect(&c, "never sent");
	ck_assert_int_eq(pty_wait(&c), 1);
	close(c.master);
	fake_close(&f);
}
END_TEST

static Suite *
cli_edit_suite(void)
{
	Suite	*s = suite_create("cli_edit");
	TCase	*edit = tcase_create("edit");
	TCase	*unprompted = tcase_create("unprompted");

	tcase_add_test(edit, test_edit_arrows);
	tcase_add_test(edit, test_edit_history);
	tcase_add_test(unprompted, test_greeting);
	tcase_add_test(unprompted, test_unprompted_redraw);
	tcase_add_test(unprompted, test_unprompted_verify);
	tcase_set_timeout(edit, 30);
	tcase_set_timeout(unprompted, 30);
	suite_add_tcase(s, edit);
	suite_add_tcase(s, unprompted);
	return (s);
}

int
main(void)
{
	return (harness_run_suite(cli_edit_suite()));
}
