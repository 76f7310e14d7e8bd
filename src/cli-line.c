/*
 * cli-line.c: line mode, for a person at a terminal (or -i).
 *
 * One line at a time: read a line from standard input, send it with its
 * newline, wait until as many bytes have come back (they may arrive in any
 * number of pieces), print them, prompt again.  Waiting for each echo keeps
 * the output in step with the input and makes -t measure one line's round
 * trip.  Standard input is read through a bufferevent whose high watermark
 * bounds what typed-ahead or piped lines we hold.  With -u each line goes
 * as one datagram instead (cli-udp.c, through struct line_ops), and one
 * that is never answered is reported and passed over.
 *
 * On a terminal, bytes the server sends that no line asked for (a greeting
 * on accept, or more than the line owed) are shown above the prompt, which
 * is then drawn again.  With libedit (configure --with-libedit) and both
 * standard input and standard error on a terminal, the line is edited and
 * recalled with libedit instead of the terminal's own line discipline; see
 * "Line editing" below.  Off a terminal nothing here changes.
 */
#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#ifdef HAVE_LIBEDIT
#include <histedit.h>
#endif

#include "cli.h"
#include "exitcode.h"
#include "log.h"

#define LINE_PROMPT	"evecho> "
#define LINE_HISTORY	500	/* lines the session's history keeps */

/* Line mode's state: one line owed at most. */
struct line_state {
	const struct line_ops	*ops;		/* TCP's or UDP's */
	struct bufferevent	*in;
	struct bufferevent	*sock;		/* TCP */
	char			*sent;		/* the line owed (TCP: with "\n") */
	size_t			 expect;	/* TCP: its length */
	int			 owed;		/* a line awaits its answer */
	uint64_t		 lines;		/* lines echoed */
	uint64_t		 unanswered;	/* UDP: lines given up on */
	uint64_t		 offset;	/* bytes echoed before this one */
	int64_t			 sent_us;
	int			 in_eof;	/* standard input ended */
	int			 prompt;	/* standard input is a terminal */
	int			 shown;		/* the prompt awaits a line */
	int			 out_tty;	/* standard output is one too */
	int			 sent_any;	/* a line has gone out */
#ifdef HAVE_LIBEDIT
	EditLine		*el;		/* editing; then in is NULL */
	History			*hist;
	struct event		*in_ev;		/* standard input readable */
	struct event		*winch_ev;	/* SIGWINCH */
#endif
};

static struct line_state	line;

static void	line_next(void);
static void	line_send(char *, size_t);
static void	line_quit(void);
static int	line_is_exit(const char *, size_t);

#ifdef HAVE_LIBEDIT
/*
 * Line editing, with libedit's native el_* interface rather than its
 * readline emulation.  rl_callback_read_char() draws the next prompt the
 * moment a line is entered (it turns EL_UNBUFFERED off and on around the
 * handler) where we draw it only once the echo is back; rl_initialize()
 * turns editing off when the terminal's ECHO flag is clear; and the
 * emulation hides its EditLine, which wiping and redrawing the line around
 * unprompted data needs.  So: el_init_fd() with standard error as the
 * output (standard output carries only what the server sent); EL_UNBUFFERED,
 * so that each el_gets() handles one key and returns the line so far,
 * driven by a libevent read event on standard input (left blocking: libedit
 * reads a key's escape sequence whole); our own History (H_ENTER for each
 * line sent, in memory only).  While a line is owed, standard input is not
 * read and the terminal stays in libedit's mode, so keys typed ahead wait
 * in the terminal, unechoed, and are edited once the prompt is back.
 * Signals stay with libevent (EL_SIGNAL off; SIGWINCH tells libedit the
 * new size).  el_end() restores the terminal, at exit() too.
 */

/* The prompt, for libedit (which wants it writable). */
static char *
edit_prompt_fn(EditLine *el)
{
	static char	prompt[] = LINE_PROMPT;

	return (prompt);
}

/*
 * A new, empty line after the prompt, and standard input read again.
 * Turning EL_UNBUFFERED off and on is libedit's way to finish a line and
 * start the next: the off puts the terminal back in its mode, the on sets
 * libedit's, empties the line and draws the prompt.
 */
static void
edit_prompt(void)
{
	el_set(line.el, EL_UNBUFFERED, 0);
	el_set(line.el, EL_UNBUFFERED, 1);
	line.shown = 1;
	if (event_add(line.in_ev, NULL) != 0)
		fatalx("cannot watch standard input");
}

/*
 * Wipe the prompt and what has been typed after it: back to the first
 * column of the prompt's first row (the line may have wrapped), then clear
 * to the end of the screen, with the terminal's own sequences (terminfo,
 * through libedit).  A terminal that cannot clear keeps them; the data
 * then goes below.
 */
static void
edit_clear(void)
{
	const LineInfo	*li = el_line(line.el);
	const char	*p, *cd = NULL, *up = NULL;
	size_t		 col = sizeof LINE_PROMPT - 1, rows;
	int		 cols = 0;

	for (p = li->buffer; p < li->cursor; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80)
			col++;		/* characters, not UTF-8 bytes */
	}
	if (el_get(line.el, EL_GETTC, "co", &cols) != 0 || cols <= 0)
		cols = 80;
	if (el_get(line.el, EL_GETTC, "cd", &cd) != 0)
		cd = NULL;
	if (el_get(line.el, EL_GETTC, "up", &up) != 0)
		up = NULL;
	rows = col / (size_t)cols;
	if (cd == NULL || *cd == '\0' ||
	    (rows > 0 && (up == NULL || *up == '\0'))) {
		fputc('\n', stderr);
		return;
	}
	fputc('\r', stderr);
	for (; rows > 0; rows--)
		el_set(line.el, EL_ECHOTC, "-s", "up", NULL);
	el_set(line.el, EL_ECHOTC, "-s", "cd", NULL);
}

/* Did the terminal hang up?  Then el_gets() reads nothing, forever. */
static int
edit_hung_up(void)
{
	struct pollfd	pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	return (poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0);
}

/* A key (or the end of a line, or Ctrl-D) from the terminal. */
static void
edit_read_cb(evutil_socket_t fd, short what, void *arg)
{
	HistEvent	 ev;
	const char	*s;
	char		*copy;
	size_t		 len;
	int		 n = 0;

	errno = 0;
	s = el_gets(line.el, &n);
	if (s == NULL || n <= 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		if (errno != 0 && errno != EIO) {
			event_del(line.in_ev);
			line.shown = 0;
			cli_error("cannot read standard input: %s",
			    strerror(errno));
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
		if (errno == 0 && !edit_hung_up())
			return;		/* a key that left the line empty */
		s = NULL;		/* the end of input */
	} else if (n == 1 && s[0] == '\004') {
		s = NULL;		/* Ctrl-D on an empty line */
	} else if (s[n - 1] != '\n') {
		if (!edit_hung_up())
			return;		/* a key: the line goes on */
		s = NULL;
	}
	/* Nothing more from the terminal until the echo is back. */
	event_del(line.in_ev);
	line.shown = 0;
	if (s == NULL) {
		line.in_eof = 1;
		line_next();
		return;
	}
	len = (size_t)n - 1;
	if (len >= CLI_LINE_MAX) {
		cli_error("line longer than %d bytes; use stream mode",
		    CLI_LINE_MAX);
		cli_finish(EXIT_ECHO_FAILED);
		return;
	}
	if ((copy = malloc(len + 1)) == NULL)
		fatal("malloc");
	memcpy(copy, s, len);
	copy[len] = '\0';
	if (len > 0)
		history(line.hist, &ev, H_ENTER, copy);
	if (line_is_exit(copy, len)) {
		free(copy);
		line_quit();
		return;
	}
	line_send(copy, len);
}

/* The terminal changed size. */
static void
edit_winch_cb(evutil_socket_t sig, short what, void *arg)
{
	el_resize(line.el);
}

/* Restore the terminal, free libedit's state; safe to call again. */
static void
edit_end(void)
{
	HistEvent	ev;

	if (line.in_ev != NULL) {
		event_free(line.in_ev);
		line.in_ev = NULL;
	}
	if (line.winch_ev != NULL) {
		event_free(line.winch_ev);
		line.winch_ev = NULL;
	}
	if (line.el != NULL) {
		el_end(line.el);	/* the terminal as it was */
		line.el = NULL;
	}
	if (line.hist != NULL) {
		history(line.hist, &ev, H_CLEAR);
		history_end(line.hist);
		line.hist = NULL;
	}
}

/* A fatal() mid-line must not leave the terminal in libedit's mode. */
static void
edit_atexit(void)
{
	if (line.el != NULL)
		el_end(line.el);
	line.el = NULL;
}

/* Start editing standard input; line_prompt() then draws the prompt. */
static void
edit_start(void)
{
	static int	registered;
	HistEvent	ev;

	line.hist = history_init();
	line.el = el_init_fd("evecho-cli", stdin, stderr, stderr,
	    STDIN_FILENO, STDERR_FILENO, STDERR_FILENO);
	if (line.hist == NULL || line.el == NULL)
		fatalx("cannot start line editing");
	if (!registered && atexit(edit_atexit) == 0)
		registered = 1;
	history(line.hist, &ev, H_SETSIZE, LINE_HISTORY);
	history(line.hist, &ev, H_SETUNIQUE, 1);
	el_set(line.el, EL_EDITOR, "emacs");
	el_set(line.el, EL_SIGNAL, 0);
	el_set(line.el, EL_PROMPT, edit_prompt_fn);
	el_set(line.el, EL_HIST, history, line.hist);
	el_source(line.el, NULL);	/* $EDITRC or ~/.editrc, if any */

	line.in_ev = event_new(cli_base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    edit_read_cb, NULL);
	line.winch_ev = evsignal_new(cli_base, SIGWINCH, edit_winch_cb, NULL);
	if (line.in_ev == NULL || line.winch_ev == NULL ||
	    evsignal_add(line.winch_ev, NULL) != 0)
		fatalx("cannot watch standard input");
}
#endif /* HAVE_LIBEDIT */

/* Show the prompt on standard error, keeping standard output exact. */
static void
line_prompt(void)
{
	if (!line.prompt)
		return;
#ifdef HAVE_LIBEDIT
	if (line.el != NULL) {
		edit_prompt();
		return;
	}
#endif
	fputs(LINE_PROMPT, stderr);
	fflush(stderr);
	line.shown = 1;
}

/*
 * Bytes no line asked for go to standard output as they are.  When they
 * would land on the prompt (standard output is the terminal and a prompt
 * awaits a line), they go above it.  With libedit the prompt and the line
 * being edited are wiped and, after the bytes, drawn again as they were;
 * without it the bytes start a line below the prompt and the prompt is
 * printed again (the terminal keeps what was typed: Enter sends it, and
 * its reprint key, usually Ctrl-R, shows it).  Bytes that do not end a
 * line get a newline on standard error, so the prompt starts a line.
 */
static void
line_show(const unsigned char *data, size_t len)
{
	int	around = line.shown && line.out_tty;

	if (len == 0)
		return;
	if (around) {
#ifdef HAVE_LIBEDIT
		if (line.el != NULL)
			edit_clear();
		else
#endif
			fputc('\n', stderr);
		fflush(stderr);
	}
	fwrite(data, 1, len, stdout);
	fflush(stdout);
	if (!around)
		return;
	if (data[len - 1] != '\n')
		fputc('\n', stderr);
#ifdef HAVE_LIBEDIT
	if (line.el != NULL) {
		/* Redraw from this first column: EL_REFRESH forgets what
		 * libedit believes is on the screen. */
		el_set(line.el, EL_REFRESH);
		return;
	}
#endif
	fputs(LINE_PROMPT, stderr);
	fflush(stderr);
}

/* Leave cleanly: everything owed has come back. */
static void
line_quit(void)
{
	if (line.prompt && line.in_eof)
		fputc('\n', stderr);	/* Ctrl-D left the cursor on a prompt */
	line.shown = 0;
	log_info("%llu lines echoed, %llu unanswered",
	    (unsigned long long)line.lines,
	    (unsigned long long)line.unanswered);
	cli_finish(line.unanswered > 0 ? EXIT_TIMEOUT : EXIT_ECHOED);
}

/* Is a line the exit command?  A trailing CR is forgiven. */
static int
line_is_exit(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '\r')
		len--;
	return (len == 4 && memcmp(s, "exit", 4) == 0);
}

/* Send one line (without its newline), taking ownership of s. */
static void
line_send(char *s, size_t len)
{
	line.sent = s;
	line.owed = 1;
	line.sent_us = cli_now_us();
	line.sent_any = 1;
	line.shown = 0;
	line.ops->send(s, len);
}

/* The owed line is over, echoed or given up on. */
static void
line_done(void)
{
	free(line.sent);
	line.sent = NULL;
	line.expect = 0;
	line.owed = 0;
}

/* After an answer: the prompt again, and the next line if one waits. */
static void
line_continue(void)
{
	if (!line.in_eof)
		line_prompt();
	line_next();
}

/* With -t, the round trip of the line just echoed. */
static void
line_rtt(int64_t us)
{
	if (cli_config.rtt)
		fprintf(stderr, "rtt %.3f ms\n", (double)us / 1e3);
}

/* The owed line came back as one datagram (cli-udp.c): print it. */
void
line_answered(const void *echo, size_t len, int64_t rtt_us)
{
	fwrite(echo, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	line_rtt(rtt_us);
	line.lines++;
	line_done();
	line_continue();
}

/* Nothing came back for the owed line (cli-udp.c says why): go on. */
void
line_unanswered(const char *why)
{
	cli_error("line %llu: %s", (unsigned long long)(line.lines +
	    line.unanswered + 1), why);
	line.unanswered++;
	line_done();
	line_continue();
}

/* Take the next whole line from standard input, if nothing is owed. */
static void
line_next(void)
{
	struct evbuffer	*in;
	char		*s;
	size_t		 len;

	if (line.owed)
		return;
	if (line.in == NULL) {		/* editing: edit_read_cb sends */
		if (line.in_eof)
			line_quit();
		return;
	}
	in = bufferevent_get_input(line.in);
	s = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (s == NULL && line.in_eof && evbuffer_get_length(in) > 0) {
		/* The last line had no newline: send it with one. */
		len = evbuffer_get_length(in);
		if ((s = malloc(len + 1)) == NULL)
			fatal("malloc");
		evbuffer_remove(in, s, len);
		s[len] = '\0';
	}
	if (s == NULL) {
		if (line.in_eof)
			line_quit();
		else if (evbuffer_get_length(in) >= CLI_LINE_MAX) {
			cli_error("line longer than %d bytes; use stream mode",
			    CLI_LINE_MAX);
			cli_finish(EXIT_ECHO_FAILED);
		}
		return;
	}
	if (line_is_exit(s, len)) {
		free(s);
		line_quit();
		return;
	}
	line_send(s, len);
}

/* Print the echo of the owed line, checking it with --verify. */
static int
line_print_echo(struct evbuffer *in)
{
	unsigned char	*echo;
	size_t		 i;

	echo = evbuffer_pullup(in, (ev_ssize_t)line.expect);
	if (echo == NULL)
		fatalx("out of memory");
	if (cli_config.verify &&
	    (i = cli_first_diff(echo, line.sent, line.expect)) < line.expect) {
		cli_error("echo differs at offset %llu (line %llu, byte %zu): "
		    "sent 0x%02x, received 0x%02x",
		    (unsigned long long)(line.offset + i),
		    (unsigned long long)line.lines + 1, i + 1,
		    (unsigned char)line.sent[i], echo[i]);
		return (-1);
	}
	fwrite(echo, 1, line.expect, stdout);
	fflush(stdout);
	line_rtt(cli_now_us() - line.sent_us);
	evbuffer_drain(in, line.expect);
	line.offset += line.expect;
	line.lines++;
	line_done();
	return (0);
}

/* Bytes from the server: print the owed line once all of it is back. */
static void
line_sock_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 len;

	cli_activity();
	if (line.owed) {
		if (evbuffer_get_length(in) < line.expect)
			return;		/* a piece; wait for the rest */
		if (line_print_echo(in) != 0) {
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
		if (!line.in_eof)
			line_prompt();
	}
	/*
	 * Anything more was never sent: show it (above the prompt).  On a
	 * terminal, what comes before the first line is sent is a greeting,
	 * which --verify lets pass; from a pipe the first line goes at once,
	 * so nothing there is known to be a greeting.
	 */
	if ((len = evbuffer_get_length(in)) > 0) {
		if (cli_config.verify && !(line.prompt && !line.sent_any)) {
			cli_error("server sent %zu bytes that were never sent "
			    "(at offset %llu)", len,
			    (unsigned long long)line.offset);
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
		line_show(evbuffer_pullup(in, -1), len);
		evbuffer_drain(in, len);
	}
	line_next();
}

/* The server closed or reset the connection. */
static void
line_sock_event_cb(struct bufferevent *bev, short what, void *arg)
{
	size_t	have = evbuffer_get_length(bufferevent_get_input(bev));

	if (line.prompt)
		fputc('\n', stderr);
	line.shown = 0;
	if (what & BEV_EVENT_EOF) {
		if (line.expect != 0) {
			cli_error("server %s closed the connection with %zu of "
			    "%zu bytes of the line echoed", cli_peer, have,
			    line.expect);
		} else
			cli_error("server %s closed the connection", cli_peer);
	} else {
		cli_error("connection to %s lost: %s", cli_peer,
		    strerror(EVUTIL_SOCKET_ERROR()));
	}
	cli_finish(EXIT_ECHO_FAILED);
}

/* Standard input has data: send the next line if none is owed. */
static void
line_in_read_cb(struct bufferevent *bev, void *arg)
{
	line_next();
}

/* End of standard input (Ctrl-D), or an error reading it. */
static void
line_in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_EOF) {
		line.in_eof = 1;
		line_next();
		return;
	}
	cli_error("cannot read standard input: %s", strerror(errno));
	cli_finish(EXIT_ECHO_FAILED);
}

/* Does the server owe us an echo?  For the silence timeout. */
static int
line_waiting(void)
{
	return (line.owed);
}

/* Over TCP: read the connected socket fd through a bufferevent. */
static int
line_tcp_start(int fd)
{
	line.sock = bufferevent_socket_new(cli_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (line.sock == NULL)
		fatalx("cannot create bufferevents");
	bufferevent_setcb(line.sock, line_sock_read_cb, NULL,
	    line_sock_event_cb, NULL);
	if (bufferevent_enable(line.sock, EV_READ) != 0)
		fatalx("cannot enable reading");
	cli_watch_start(line_waiting);
	return (0);
}

/* Over TCP the newline goes too: it is what ends a line in a stream. */
static void
line_tcp_send(const char *s, size_t len)
{
	if ((line.sent = realloc(line.sent, len + 1)) == NULL)
		fatal("realloc");
	line.sent[len] = '\n';
	line.expect = len + 1;
	cli_activity();
	if (evbuffer_add(bufferevent_get_output(line.sock), line.sent,
	    line.expect) != 0)
		fatalx("out of memory");
}

/* Closing the socket ends the connection. */
static void
line_tcp_free(void)
{
	if (line.sock != NULL)
		bufferevent_free(line.sock);
	line.sock = NULL;
}

static const struct line_ops line_tcp_ops = {
	"connected to", line_tcp_start, line_tcp_send, line_tcp_free
};

/* Start line mode on the connected socket fd (-u: -1, none yet). */
int
line_start(int fd)
{
	int	edit = 0;

	line.ops = cli_config.udp ? &udp_line_ops : &line_tcp_ops;
	line.prompt = isatty(STDIN_FILENO);
	line.out_tty = isatty(STDOUT_FILENO);
#ifdef HAVE_LIBEDIT
	/* libedit draws on standard error: it must be the terminal too. */
	edit = line.prompt && isatty(STDERR_FILENO);
#endif
	if (!edit) {
		line.in = bufferevent_socket_new(cli_base, STDIN_FILENO, 0);
		if (line.in == NULL)
			fatalx("cannot create bufferevents");
		bufferevent_setcb(line.in, line_in_read_cb, NULL,
		    line_in_event_cb, NULL);
		bufferevent_setwatermark(line.in, EV_READ, 0, CLI_LINE_MAX);
		if (bufferevent_enable(line.in, EV_READ) != 0)
			fatalx("cannot enable reading");
	}
	if (line.ops->start(fd) != 0)
		return (-1);

	if (line.prompt && !cli_config.quiet) {
		fprintf(stderr, "%s %s; type a line to send it, "
		    "'exit' or Ctrl-D to quit\n", line.ops->greeting, cli_peer);
	}
#ifdef HAVE_LIBEDIT
	if (edit)
		edit_start();
#endif
	line_prompt();
	return (0);
}

/* Free line mode's state, the socket's with it. */
void
line_free(void)
{
	if (line.ops != NULL)
		line.ops->free();
	if (line.in != NULL)
		bufferevent_free(line.in);
	if (line.prompt && line.shown)
		fputc('\n', stderr);	/* a signal left the cursor on a prompt */
#ifdef HAVE_LIBEDIT
	edit_end();
#endif
	free(line.sent);
	memset(&line, 0, sizeof line);
}
