/* log.c: timestamped, leveled messages on standard error. */
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "parse.h"

static const char	*log_progname = "evecho";
static int		 log_level = LOG_LEVEL_INFO;
static FILE		*log_file;	/* --log-file, or NULL: stderr */
static const char	*log_file_path;
static int		 log_syslog;	/* --syslog */

static const char *const log_level_names[] = {
	"error", "warning", "info", "debug"
};

static void	log_vwrite(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

/* Write one line: "2026-11-24T17:40:00.123Z prog[pid] level: message". */
static void
log_vwrite(int level, const char *suffix, const char *fmt, va_list ap)
{
	struct timeval	 tv;
	struct tm	 tm;
	char		 stamp[32], msg[1024];

	static const int	 prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
				    LOG_DEBUG };

	if (level > log_level)
		return;
	if (log_syslog) {
		/* syslog stamps and names the line itself. */
		vsnprintf(msg, sizeof msg, fmt, ap);
		syslog(prio[level], "%s%s%s", msg, suffix != NULL ? ": " : "",
		    suffix != NULL ? suffix : "");
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(log_file != NULL ? log_file : stderr,
	    "%s.%03ldZ %s[%ld] %s: %s%s%s\n", stamp,
	    (long)tv.tv_usec / 1000, log_progname, (long)getpid(),
	    log_level_names[level], msg, suffix != NULL ? ": " : "",
	    suffix != NULL ? suffix : "");
}

/* Open path for appending, line-buffered; NULL with *cause on failure. */
static FILE *
log_open(const char *path, char **cause)
{
	FILE	*f;
	int	 fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1 || (f = fdopen(fd, "a")) == NULL) {
		cause_set(cause, "cannot open '%s': %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return (NULL);
	}
	setvbuf(f, NULL, _IOLBF, 0);
	return (f);
}

/* Log to the file at path from now on (--log-file).  0, or -1. */
int
log_to_file(const char *path, char **cause)
{
	if ((log_file = log_open(path, cause)) == NULL)
		return (-1);
	log_file_path = path;
	return (0);
}

/*
 * SIGHUP, after logrotate moved the file: open path anew and write there.
 * On failure the old file stays in use.  1 if there is no log file.
 */
int
log_reopen(char **cause)
{
	FILE	*f;

	if (log_file_path == NULL)
		return (1);
	if ((f = log_open(log_file_path, cause)) == NULL)
		return (-1);
	fclose(log_file);
	log_file = f;
	return (0);
}

/* Send the log to syslog (facility daemon) from now on (--syslog). */
void
log_to_syslog(void)
{
	openlog(log_progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = 1;
}

/* At exit: close the log file or the syslog connection. */
void
log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	log_file_path = NULL;
	if (log_syslog)
		closelog();
	log_syslog = 0;
}

/* Route libevent's own warnings into our log so they carry a timestamp. */
static void
log_libevent_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

/* Set the program name shown in each line and the initial level. */
void
log_init(const char *progname, int level)
{
	const char	*slash = strrchr(progname, '/');

	log_progname = slash != NULL ? slash + 1 : progname;
	log_set_level(level);
	event_set_log_callback(log_libevent_cb);
}

/* Clamp and set the level: lower numbers print less. */
void
log_set_level(int level)
{
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	log_level = level;
}

/* Return the current level. */
int
log_get_level(void)
{
	return (log_level);
}

/* An error with strerror(errno) appended: what ends the program. */
void
log_error(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* An error without errno, for a caller that exits with its own status. */
void
log_errorx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
}

/* A warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARN, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
}

/* An informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
}

/* A debugging message, shown with -v. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

/* Log with strerror(errno) and exit 1: for what cannot go on. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

static struct event_base	*log_limit_base;

/* Give rate-limited warnings the event loop whose timers they use. */
void
log_limit_setup(struct event_base *base)
{
	log_limit_base = base;
}

/* The end of a second: report what was counted, or go quiet. */
static void
log_limit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct log_limit	*l = arg;
	struct timeval		 tv = { 1, 0 };

	if (l->count == 0)
		return;	/* a quiet second: the next event reports at once */
	l->report(l->count, l->arg);
	l->count = 0;
	evtimer_add(l->ev, &tv);
}

/* Count one event; report it now if the last second was quiet. */
void
log_limit_hit(struct log_limit *l)
{
	l->count++;
	if (l->ev == NULL && log_limit_base != NULL)
		l->ev = evtimer_new(log_limit_base, log_limit_cb, l);
	if (l->ev == NULL) {
		/* No loop to wait on: every event is its own line. */
		l->report(l->count, l->arg);
		l->count = 0;
		return;
	}
	if (!evtimer_pending(l->ev, NULL))
		log_limit_cb(-1, 0, l);
}

/* Report what is still counted and free the timer, before the loop goes. */
void
log_limit_flush(struct log_limit *l)
{
	if (l->count != 0)
		l->report(l->count, l->arg);
	l->count = 0;
	if (l->ev != NULL) {
		event_free(l->ev);
		l->ev = NULL;
	}
}
