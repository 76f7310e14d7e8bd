/* log.h: leveled logging to standard error, shared by every program. */
#ifndef EVECHO_LOG_H
#define EVECHO_LOG_H

#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

#define PRINTFLIKE(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *progname, int level);
void	log_set_level(int level);
int	log_to_file(const char *path, char **cause);
int	log_reopen(char **cause);
void	log_to_syslog(void);
void	log_close(void);
int	log_get_level(void);
void	log_error(const char *fmt, ...) PRINTFLIKE(1, 2);
void	log_errorx(const char *fmt, ...) PRINTFLIKE(1, 2);
void	log_warn(const char *fmt, ...) PRINTFLIKE(1, 2);
void	log_warnx(const char *fmt, ...) PRINTFLIKE(1, 2);
void	log_info(const char *fmt, ...) PRINTFLIKE(1, 2);
void	log_debug(const char *fmt, ...) PRINTFLIKE(1, 2);
void	fatal(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));
void	fatalx(const char *fmt, ...) PRINTFLIKE(1, 2) __attribute__((noreturn));

/*
 * A warning about something that may happen thousands of times a second
 * (refused connections, accept errors): the first after a quiet second is
 * reported at once, the rest are counted and reported together at the end
 * of each second, so a flood costs a line a second and every event is in
 * some line's count.  report formats the line for n events.
 */
struct event;
struct event_base;
struct log_limit {
	void		(*report)(uint64_t n, void *arg);
	void		 *arg;
	uint64_t	  count;	/* events not yet reported */
	struct event	 *ev;		/* the end of the current second */
};
#define LOG_LIMIT_INITIALIZER(report, arg)	{ (report), (arg), 0, NULL }
void	log_limit_setup(struct event_base *);
void	log_limit_hit(struct log_limit *);
void	log_limit_flush(struct log_limit *);

/* Cheap test for the hot path: skip formatting when debug is off. */
#define log_debug_enabled()	(log_get_level() >= LOG_LEVEL_DEBUG)

#endif
