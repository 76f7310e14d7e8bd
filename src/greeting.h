/* greeting.h: expand evecho-server's --greeting FORMAT (pure, no I/O). */
#ifndef EVECHO_GREETING_H
#define EVECHO_GREETING_H

#include <stddef.h>

/* The longest greeting, newline included. */
#define GREETING_MAX	512

struct greeting_vars {
	const char	*host;		/* %h */
	unsigned	 worker;	/* %w: 1 to N */
	long		 pid;		/* %p */
};

int	greeting_expand(const char *fmt, const struct greeting_vars *vars,
	    char *out, size_t size, char **cause);

#endif
