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
 * A message about something that may happen thousands of times a second
 * (refused connections, accept errors): counted, logged at most once a
 * second with the count.
 */
struct log_limit {
	int64_t		last;	/* monotonic second of the last message */
	uint64_t	count;	/* events since then */
};
uint64_t	log_limit_hit(struct log_limit *);

/* Cheap test for the hot path: skip formatting when debug is off. */
#define log_debug_enabled()	(log_get_level() >= LOG_LEVEL_DEBUG)

#endif
