/* cli.h: evecho-cli's private interfaces, one banner per file. */
#ifndef EVECHO_CLI_H
#define EVECHO_CLI_H

#include <stddef.h>
#include <stdint.h>

struct addrinfo;
struct event_base;

/* Stream mode bounds: what one buffer holds before its reader pauses. */
#define CLI_HIGH_WATER		(256 * 1024)
#define CLI_LOW_WATER		(64 * 1024)
/* The most sent-but-not-echoed bytes --verify remembers. */
#define CLI_WINDOW_MAX		(4 * 1024 * 1024)
/* The longest line line mode sends. */
#define CLI_LINE_MAX		(1024 * 1024)

/* What the command line sets; fixed once the client runs. */
struct cli_config {
	const char	*target;	/* HOST[:PORT] */
	int		 family;	/* AF_UNSPEC, or AF_INET/AF_INET6 */
	int		 interactive;	/* -i, or standard input is a terminal */
	const char	*message;	/* -m TEXT, or NULL */
	int		 no_newline;	/* -n: send TEXT without a newline */
	int		 rtt;		/* -t */
	int		 verify;	/* --verify */
	int		 quiet;		/* -q */
	int		 udp;		/* -u: datagrams, not a connection */
	uint64_t	 retries;	/* -u: tries per datagram, at least 1 */
	uint64_t	 timeout_us;	/* 0: wait as long as the kernel;
					   -u: each try's wait */
};

/*
 * What line mode sends its lines over: a TCP connection (cli-line.c's
 * own) or datagrams (cli-udp.c).  send is given each line without its
 * newline; the answer comes back through line_answered() or
 * line_unanswered(), or, over TCP, through line mode's own reader.
 */
struct line_ops {
	const char	*greeting;	/* "connected to" */
	int		(*start)(int fd);
	void		(*send)(const char *, size_t);
	void		(*free)(void);
};

/* cli.c */
extern struct event_base	*cli_base;
extern struct cli_config	 cli_config;
extern char			 cli_peer[];
void	cli_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	cli_finish(int status);
size_t	cli_first_diff(const void *, const void *, size_t);
int64_t	cli_now_us(void);
void	cli_activity(void);
void	cli_watch_start(int (*waiting)(void));
void	cli_watch_stop(void);

/* cli-connect.c */
int	cli_connect(struct addrinfo *res, int *status);

/* cli-line.c */
int	line_start(int fd);
void	line_answered(const void *, size_t, int64_t);
void	line_unanswered(const char *);
void	line_free(void);

/* cli-stream.c */
int	stream_start(int fd);
void	stream_free(void);

/* cli-udp.c */
extern const struct line_ops	udp_line_ops;
void	udp_open(struct addrinfo *);
int	udp_message_start(void);
void	udp_free(void);

#endif
