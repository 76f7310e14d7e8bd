/*
 * cli-line.c: line mode, for a person at a terminal (or -i).
 *
 * One line at a time: read a line from standard input, send it with its
 * newline, wait until as many bytes have come back (they may arrive in any
 * number of pieces), print them, prompt again.  Waiting for each echo keeps
 * the output in step with the input and makes -t measure one line's round
 * trip.  Standard input is read through a bufferevent whose high watermark
 * bounds what typed-ahead or piped lines we hold.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cli.h"
#include "exitcode.h"
#include "log.h"

#define LINE_PROMPT	"evecho> "

/* Line mode's state: one line owed at most. */
struct line_state {
	struct bufferevent	*in;
	struct bufferevent	*sock;
	char			*sent;		/* the line owed, with "\n" */
	size_t			 expect;	/* its length; 0: none owed */
	uint64_t		 lines;		/* lines echoed */
	uint64_t		 offset;	/* bytes echoed before this one */
	int64_t			 sent_us;
	int			 in_eof;	/* standard input ended */
	int			 prompt;	/* standard input is a terminal */
};

static struct line_state	line;

static void	line_next(void);

/* Show the prompt on standard error, keeping standard output exact. */
static void
line_prompt(void)
{
	if (line.prompt) {
		fputs(LINE_PROMPT, stderr);
		fflush(stderr);
	}
}

/* Leave cleanly: everything owed has come back. */
static void
line_quit(void)
{
	if (line.prompt && line.in_eof)
		fputc('\n', stderr);	/* Ctrl-D left the cursor on a prompt */
	log_info("%llu lines echoed", (unsigned long long)line.lines);
	cli_finish(EXIT_ECHOED);
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
	struct evbuffer	*out = bufferevent_get_output(line.sock);

	line.sent = realloc(s, len + 1);
	if (line.sent == NULL)
		fatal("realloc");
	line.sent[len] = '\n';
	line.expect = len + 1;
	line.sent_us = cli_now_us();
	cli_activity();
	if (evbuffer_add(out, line.sent, line.expect) != 0)
		fatalx("out of memory");
}

/* Take the next whole line from standard input, if nothing is owed. */
static void
line_next(void)
{
	struct evbuffer	*in = bufferevent_get_input(line.in);
	char		*s;
	size_t		 len;

	if (line.expect != 0)
		return;
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
	if (cli_config.rtt) {
		fprintf(stderr, "rtt %.3f ms\n",
		    (double)(cli_now_us() - line.sent_us) / 1e3);
	}
	evbuffer_drain(in, line.expect);
	line.offset += line.expect;
	line.lines++;
	free(line.sent);
	line.sent = NULL;
	line.expect = 0;
	return (0);
}

/* Bytes from the server: print the owed line once all of it is back. */
static void
line_sock_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 len;

	cli_activity();
	if (line.expect != 0) {
		if (evbuffer_get_length(in) < line.expect)
			return;		/* a piece; wait for the rest */
		if (line_print_echo(in) != 0) {
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
		if (!line.in_eof)
			line_prompt();
	}
	/* Anything more was never sent: show it as it is. */
	if ((len = evbuffer_get_length(in)) > 0) {
		if (cli_config.verify) {
			cli_error("server sent %zu bytes that were never sent "
			    "(at offset %llu)", len,
			    (unsigned long long)line.offset);
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
		fwrite(evbuffer_pullup(in, -1), 1, len, stdout);
		fflush(stdout);
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
	return (line.expect != 0);
}

/* Start line mode on the connected socket fd. */
int
line_start(int fd)
{
	line.prompt = isatty(STDIN_FILENO);
	line.sock = bufferevent_socket_new(cli_base, fd, BEV_OPT_CLOSE_ON_FREE);
	line.in = bufferevent_socket_new(cli_base, STDIN_FILENO, 0);
	if (line.sock == NULL || line.in == NULL)
		fatalx("cannot create bufferevents");
	bufferevent_setcb(line.sock, line_sock_read_cb, NULL,
	    line_sock_event_cb, NULL);
	bufferevent_setcb(line.in, line_in_read_cb, NULL, line_in_event_cb,
	    NULL);
	bufferevent_setwatermark(line.in, EV_READ, 0, CLI_LINE_MAX);
	if (bufferevent_enable(line.sock, EV_READ) != 0 ||
	    bufferevent_enable(line.in, EV_READ) != 0)
		fatalx("cannot enable reading");
	cli_watch_start(line_waiting);

	if (line.prompt && !cli_config.quiet) {
		fprintf(stderr, "connected to %s; type a line to send it, "
		    "'exit' or Ctrl-D to quit\n", cli_peer);
	}
	line_prompt();
	return (0);
}

/* Free line mode's state; closing the socket ends the connection. */
void
line_free(void)
{
	if (line.sock != NULL)
		bufferevent_free(line.sock);
	if (line.in != NULL)
		bufferevent_free(line.in);
	free(line.sent);
	memset(&line, 0, sizeof line);
}
