/*
 * cli-stream.c: stream mode and -m, for scripts.
 *
 * Standard input (or the -m message) goes to the server and the echo to
 * standard output, both ways at once, any bytes.  Every buffer is bounded,
 * so a file of any size passes in constant memory:
 *
 *   stdin --> socket output: reading stdin pauses past CLI_HIGH_WATER,
 *             and resumes when the socket's low-watermark write callback
 *             says it drained;
 *   socket input --> stdout output: reading the socket pauses past
 *             CLI_HIGH_WATER, and resumes when stdout drains.
 *
 * With --verify the echo is compared with a copy of what was sent instead
 * of being written out; that copy (sent, not yet echoed) is capped at
 * CLI_WINDOW_MAX, which pauses stdin too.  At end of input, once the socket
 * output is flushed, the sending side is shut down; the client is done when
 * as many bytes came back as were sent and stdout is flushed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
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

/* What one verify step copies or compares. */
#define STREAM_CHUNK	16384
/*
 * Once all was echoed, how long to wait for the server's close, in case
 * more comes (a server that doubles sends its second copy at once).
 */
#define STREAM_EXTRA_GRACE_US	200000

/* Stream mode's state. */
struct stream_state {
	struct bufferevent	*sock;
	struct bufferevent	*in;		/* NULL with -m */
	struct bufferevent	*out;		/* NULL with --verify */
	struct evbuffer		*window;	/* --verify: sent, not echoed */
	int			 fd;
	uint64_t		 sent;
	uint64_t		 echoed;
	int64_t			 start_us;
	int			 in_eof;	/* everything to send is queued */
	int			 in_paused;
	int			 sock_paused;	/* stdout is backed up */
	int			 shut;		/* SHUT_WR done */
	int			 sock_eof;	/* the server closed */
	int			 grace_over;	/* no more came after the echo */
	struct event		*grace_ev;
	int64_t			 done_us;	/* when the last byte came back */
	int			 saved_fl[2];	/* fd flags to restore, or -1 */
};

static struct stream_state	stream;

static void	stream_check_done(void);

/*
 * Make a pipe or socket on fd non-blocking, remembering its flags to
 * restore at exit (the file description may be shared with our parent).
 * Regular files never block, and a terminal is left as it is.
 */
static void
stream_set_nonblock(int fd)
{
	struct stat	st;
	int		fl;

	stream.saved_fl[fd] = -1;
	if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode)))
		return;
	if ((fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_NONBLOCK))
		return;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		stream.saved_fl[fd] = fl;
}

/* Give standard input and output back their blocking mode. */
static void
stream_restore_fds(void)
{
	int	fd;

	for (fd = 0; fd < 2; fd++) {
		if (stream.saved_fl[fd] != -1)
			fcntl(fd, F_SETFL, stream.saved_fl[fd]);
		stream.saved_fl[fd] = -1;
	}
}

/* Does the server owe us bytes it is free to send?  For the timeout. */
static int
stream_waiting(void)
{
	return (stream.sent > stream.echoed && !stream.sock_paused);
}

/* Queue data for the server, keeping a copy in the window if verifying. */
static void
stream_queue(const void *data, size_t len)
{
	if (stream.sent == stream.echoed)
		cli_activity();		/* a wait for the echo begins */
	if (evbuffer_add(bufferevent_get_output(stream.sock), data, len) != 0 ||
	    (stream.window != NULL && evbuffer_add(stream.window, data, len)
	    != 0))
		fatalx("out of memory");
	stream.sent += len;
}

/* Is there room to read more standard input? */
static int
stream_room(void)
{
	if (evbuffer_get_length(bufferevent_get_output(stream.sock)) >=
	    CLI_HIGH_WATER)
		return (0);
	if (stream.window != NULL &&
	    evbuffer_get_length(stream.window) >= CLI_WINDOW_MAX)
		return (0);
	return (1);
}

/* Pause or resume reading standard input as the buffers fill and drain. */
static void
stream_pace_input(void)
{
	if (stream.in == NULL || stream.in_eof)
		return;
	if (!stream.in_paused && !stream_room()) {
		bufferevent_disable(stream.in, EV_READ);
		stream.in_paused = 1;
	} else if (stream.in_paused && stream_room()) {
		bufferevent_enable(stream.in, EV_READ);
		stream.in_paused = 0;
	}
}

/* Standard input has data: move it to the socket. */
static void
stream_in_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		 buf[STREAM_CHUNK];
	size_t		 len;
	int		 n;

	if (stream.window == NULL) {
		len = evbuffer_get_length(in);
		if (len == 0)
			return;
		if (stream.sent == stream.echoed)
			cli_activity();
		/* Moves the chains, copies nothing. */
		evbuffer_add_buffer(bufferevent_get_output(stream.sock), in);
		stream.sent += len;
	} else {
		while ((n = evbuffer_remove(in, buf, sizeof buf)) > 0)
			stream_queue(buf, (size_t)n);
	}
	stream_pace_input();
}

/* Shut down our sending side once all input is queued and flushed. */
static void
stream_maybe_shutdown(void)
{
	if (!stream.in_eof || stream.shut ||
	    evbuffer_get_length(bufferevent_get_output(stream.sock)) != 0)
		return;
	stream.shut = 1;
	log_debug("all %llu bytes sent; shutting down the sending side",
	    (unsigned long long)stream.sent);
	if (shutdown(stream.fd, SHUT_WR) != 0 && errno != ENOTCONN)
		log_warn("shutdown");
}

/* End of standard input, or an error reading it. */
static void
stream_in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_EOF) {
		stream.in_eof = 1;
		bufferevent_disable(bev, EV_READ);
		/* Now the write callback must say when the output is empty. */
		bufferevent_setwatermark(stream.sock, EV_WRITE, 0, 0);
		stream_maybe_shutdown();
		stream_check_done();
		return;
	}
	cli_error("cannot read standard input: %s", strerror(errno));
	cli_finish(EXIT_ECHO_FAILED);
}

/* The socket's output fell below its low watermark (or emptied). */
static void
stream_sock_write_cb(struct bufferevent *bev, void *arg)
{
	stream_pace_input();
	stream_maybe_shutdown();
}

/* Compare echoed bytes with the window; -1 at the first difference. */
static int
stream_verify(struct evbuffer *in)
{
	unsigned char	echo[STREAM_CHUNK], sent[STREAM_CHUNK];
	size_t		n, want, i;

	while ((n = evbuffer_get_length(in)) > 0) {
		want = evbuffer_get_length(stream.window);
		if (want == 0) {
			cli_error("server sent more than it was sent: %zu extra "
			    "bytes at offset %llu", n,
			    (unsigned long long)stream.echoed);
			return (-1);
		}
		if (n > want)
			n = want;
		if (n > sizeof echo)
			n = sizeof echo;
		evbuffer_remove(in, echo, n);
		evbuffer_remove(stream.window, sent, n);
		if ((i = cli_first_diff(echo, sent, n)) < n) {
			cli_error("echo differs at offset %llu: sent 0x%02x, "
			    "received 0x%02x",
			    (unsigned long long)(stream.echoed + i), sent[i],
			    echo[i]);
			return (-1);
		}
		stream.echoed += n;
	}
	return (0);
}

/* Bytes from the server: check them, or pass them to standard output. */
static void
stream_sock_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out;

	cli_activity();
	if (stream.window != NULL) {
		if (stream_verify(in) != 0) {
			cli_finish(EXIT_ECHO_FAILED);
			return;
		}
		stream_pace_input();
	} else {
		out = bufferevent_get_output(stream.out);
		stream.echoed += evbuffer_get_length(in);
		evbuffer_add_buffer(out, in);
		if (evbuffer_get_length(out) >= CLI_HIGH_WATER) {
			bufferevent_disable(bev, EV_READ);
			stream.sock_paused = 1;
		}
	}
	stream_check_done();
}

/* Standard output drained below its low watermark: read the socket again. */
static void
stream_out_write_cb(struct bufferevent *bev, void *arg)
{
	if (stream.sock_paused) {
		stream.sock_paused = 0;
		cli_activity();
		bufferevent_enable(stream.sock, EV_READ);
	}
	stream_check_done();
}

/* Standard output failed: a closed pipe, a full disk. */
static void
stream_out_event_cb(struct bufferevent *bev, short what, void *arg)
{
	cli_error("cannot write to standard output: %s",
	    (what & BEV_EVENT_ERROR) ? strerror(errno) : "end of file");
	cli_finish(EXIT_ECHO_FAILED);
}

/*
 * Before leaving on a server error, write out the echo that came back:
 * what the input buffer holds, then what the kernel still has (a write
 * error can be reported before the last bytes were read), blocking.
 */
static void
stream_flush_out(void)
{
	struct evbuffer	*in = bufferevent_get_input(stream.sock);
	struct evbuffer	*out;
	int		 n;

	if (stream.out == NULL)
		return;
	out = bufferevent_get_output(stream.out);
	/* The bufferevents keep these ends frozen between their callbacks. */
	evbuffer_unfreeze(in, 0);
	evbuffer_unfreeze(out, 1);
	stream_restore_fds();
	do {
		stream.echoed += evbuffer_get_length(in);
		evbuffer_add_buffer(out, in);
		while (evbuffer_get_length(out) > 0) {
			if (evbuffer_write(out, STDOUT_FILENO) <= 0 &&
			    errno != EINTR)
				return;
		}
		n = evbuffer_read(in, stream.fd, STREAM_CHUNK);
	} while (n > 0);
}

/* The server closed or reset the connection before echoing everything. */
static void
stream_sock_event_cb(struct bufferevent *bev, short what, void *arg)
{
	int	error = EVUTIL_SOCKET_ERROR();

	if ((what & BEV_EVENT_EOF) && stream.in_eof &&
	    stream.echoed >= stream.sent) {
		stream.sock_eof = 1;
		stream_check_done();	/* only stdout to flush */
		return;
	}
	stream_flush_out();
	if (what & BEV_EVENT_EOF) {
		cli_error("server %s closed the connection early: %llu of "
		    "%llu bytes echoed%s", cli_peer,
		    (unsigned long long)stream.echoed,
		    (unsigned long long)stream.sent,
		    stream.in_eof ? "" : ", input not finished");
	} else {
		cli_error("connection to %s lost after %llu of %llu bytes "
		    "echoed: %s", cli_peer, (unsigned long long)stream.echoed,
		    (unsigned long long)stream.sent, strerror(error));
	}
	cli_finish(EXIT_ECHO_FAILED);
}

/* The grace after the echo is over, and nothing more came. */
static void
stream_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	stream.grace_over = 1;
	stream_check_done();
}

/*
 * Finish once everything sent came back, exactly (more is a failure, with
 * or without --verify), and reached standard output.  Unless the server
 * has closed, wait a moment for bytes beyond what was sent.
 */
static void
stream_check_done(void)
{
	struct timeval	tv = { 0, STREAM_EXTRA_GRACE_US };
	double		ms, mb;

	if (!stream.in_eof || stream.echoed < stream.sent)
		return;
	if (stream.echoed > stream.sent) {
		cli_error("server sent more than it was sent: %llu extra bytes "
		    "after %llu", (unsigned long long)(stream.echoed -
		    stream.sent), (unsigned long long)stream.sent);
		cli_finish(EXIT_ECHO_FAILED);
		return;
	}
	if (stream.done_us == 0)
		stream.done_us = cli_now_us();
	if (stream.out != NULL &&
	    evbuffer_get_length(bufferevent_get_output(stream.out)) != 0)
		return;
	if (!stream.sock_eof && !stream.grace_over) {
		if (stream.grace_ev == NULL &&
		    ((stream.grace_ev = evtimer_new(cli_base, stream_grace_cb,
		    NULL)) == NULL || evtimer_add(stream.grace_ev, &tv) != 0))
			fatalx("cannot set a timer");
		return;
	}
	ms = (double)(stream.done_us - stream.start_us) / 1e3;
	log_info("%llu bytes echoed in %.3f ms",
	    (unsigned long long)stream.echoed, ms);
	if (cli_config.rtt && cli_config.message != NULL) {
		/* One message: its round trip is the figure. */
		fprintf(stderr, "round trip %.3f ms, %llu bytes%s\n", ms,
		    (unsigned long long)stream.echoed,
		    cli_config.verify ? ", verified" : "");
	} else if (cli_config.rtt) {
		mb = ms > 0 ? (double)stream.echoed / 1e6 / (ms / 1e3) : 0.0;
		fprintf(stderr, "%llu bytes echoed in %.3f ms (%.3f MB/s, MB = "
		    "1000000 bytes)%s\n", (unsigned long long)stream.echoed, ms,
		    mb, cli_config.verify ? ", verified" : "");
	}
	cli_finish(EXIT_ECHOED);
}

/* Start stream mode (or -m) on the connected socket fd. */
int
stream_start(int fd)
{
	const char	*m = cli_config.message;

	stream.fd = fd;
	stream.saved_fl[0] = stream.saved_fl[1] = -1;
	stream.start_us = cli_now_us();
	stream.sock = bufferevent_socket_new(cli_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (stream.sock == NULL)
		fatalx("cannot create a bufferevent");
	bufferevent_setcb(stream.sock, stream_sock_read_cb,
	    stream_sock_write_cb, stream_sock_event_cb, NULL);
	bufferevent_setwatermark(stream.sock, EV_WRITE, CLI_LOW_WATER, 0);
	if (cli_config.verify) {
		if ((stream.window = evbuffer_new()) == NULL)
			fatalx("out of memory");
	} else {
		stream_set_nonblock(STDOUT_FILENO);
		stream.out = bufferevent_socket_new(cli_base, STDOUT_FILENO, 0);
		if (stream.out == NULL)
			fatalx("cannot create a bufferevent");
		bufferevent_setcb(stream.out, NULL, stream_out_write_cb,
		    stream_out_event_cb, NULL);
		bufferevent_setwatermark(stream.out, EV_WRITE, CLI_LOW_WATER,
		    0);
		bufferevent_enable(stream.out, EV_WRITE);
	}

	if (m != NULL) {
		stream_queue(m, strlen(m));
		if (!cli_config.no_newline)
			stream_queue("\n", 1);
		stream.in_eof = 1;
		bufferevent_setwatermark(stream.sock, EV_WRITE, 0, 0);
	} else {
		stream_set_nonblock(STDIN_FILENO);
		stream.in = bufferevent_socket_new(cli_base, STDIN_FILENO, 0);
		if (stream.in == NULL)
			fatalx("cannot create a bufferevent");
		bufferevent_setcb(stream.in, stream_in_read_cb, NULL,
		    stream_in_event_cb, NULL);
		bufferevent_enable(stream.in, EV_READ);
	}
	if (bufferevent_enable(stream.sock, EV_READ | EV_WRITE) != 0)
		fatalx("cannot enable the socket");
	cli_watch_start(stream_waiting);
	/* Nothing to send at all (-n -m ''): done before we start. */
	stream_maybe_shutdown();
	if (stream.in_eof && stream.sent == 0) {
		stream_check_done();
		return (-1);
	}
	return (0);
}

/* Free stream mode's state and restore standard input and output. */
void
stream_free(void)
{
	if (stream.sock != NULL)
		bufferevent_free(stream.sock);
	if (stream.in != NULL)
		bufferevent_free(stream.in);
	if (stream.out != NULL)
		bufferevent_free(stream.out);
	if (stream.window != NULL)
		evbuffer_free(stream.window);
	if (stream.grace_ev != NULL)
		event_free(stream.grace_ev);
	stream_restore_fds();
	memset(&stream, 0, sizeof stream);
}
