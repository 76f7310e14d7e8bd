/*
 * greeting.c: evecho-server's --greeting FORMAT, the one line a server
 * sends on accept so that a person (evecho-cli) or the benchmark
 * (--expect-greeting) can tell which backend behind a balancer answered.
 *
 * Pure: no I/O and no globals, so the unit tests and a fuzzer can call it.
 * The line is expanded once at start (and once per worker), never per
 * connection: everything it can name is fixed for the process.
 */
#include <stdio.h>
#include <string.h>

#include "greeting.h"
#include "parse.h"

/* Append len bytes of s to out at *at; -1 when GREETING_MAX is passed. */
static int
greeting_put(char *out, size_t size, size_t *at, const char *s, size_t len)
{
	if (len >= size - *at)
		return (-1);
	memcpy(out + *at, s, len);
	*at += len;
	return (0);
}

/* The text one %-escape stands for, in buf; NULL if c names nothing. */
static const char *
greeting_var(char c, const struct greeting_vars *vars, char *buf,
    size_t size)
{
	switch (c) {
	case 'h':
		return (vars->host);
	case 'w':
		snprintf(buf, size, "%u", vars->worker);
		return (buf);
	case 'p':
		snprintf(buf, size, "%ld", vars->pid);
		return (buf);
	case '%':
		return ("%");
	}
	return (NULL);
}

/* The byte a backslash escape stands for, or -1. */
static int
greeting_escape(char c)
{
	switch (c) {
	case 'n':
		return ('\n');
	case 'r':
		return ('\r');
	case 't':
		return ('\t');
	case '\\':
		return ('\\');
	}
	return (-1);
}

/*
 * Expand fmt: %h the host name, %w the worker number, %p the process ID,
 * %% a percent sign; \n, \r, \t and \\ as in C.  The result is one line:
 * it ends in exactly one "\n" (added if fmt has none) and has no other.
 * Returns its length, or -1 with *cause naming the bad part.
 */
int
greeting_expand(const char *fmt, const struct greeting_vars *vars, char *out,
    size_t size, char **cause)
{
	char		 num[32], one;
	const char	*s;
	size_t		 at = 0, n;
	int		 b;

	if (size > GREETING_MAX)
		size = GREETING_MAX;
	if (*fmt == '\0') {
		cause_set(cause, "empty");
		return (-1);
	}
	for (; *fmt != '\0'; fmt++) {
		if (at > 0 && out[at - 1] == '\n') {
			cause_set(cause, "a greeting is one line: '\\n' only "
			    "at its end");
			return (-1);
		}
		if (*fmt == '%') {
			s = greeting_var(fmt[1], vars, num, sizeof num);
			if (s == NULL) {
				cause_set(cause, "unknown '%%%.1s' (use %%h, %%w, "
				    "%%p or %%%%)", fmt[1] != '\0' ? fmt + 1 :
				    "");
				return (-1);
			}
			fmt++;
		} else if (*fmt == '\\') {
			if ((b = greeting_escape(fmt[1])) == -1) {
				cause_set(cause, "unknown '\\%.1s' (use \\n, \\r, "
				    "\\t or \\\\)", fmt[1] != '\0' ? fmt + 1 : "");
				return (-1);
			}
			one = (char)b;
			s = &one;
			fmt++;
		} else if (*fmt == '\n' || *fmt == '\t') {
			one = *fmt;	/* typed as such, not escaped */
			s = &one;
		} else if ((unsigned char)*fmt < 0x20 || *fmt == 0x7f) {
			cause_set(cause, "control character 0x%02x", *fmt);
			return (-1);
		} else if ((n = parse_utf8_char((const unsigned char *)fmt,
		    strlen(fmt))) == 0) {
			cause_set(cause, "not UTF-8 text");
			return (-1);
		} else {
			s = fmt;
			if (greeting_put(out, size, &at, s, n) != 0)
				goto toolong;
			fmt += n - 1;
			continue;
		}
		if (greeting_put(out, size, &at, s, s == &one ? 1 : strlen(s))
		    != 0)
			goto toolong;
	}
	if ((at == 0 || out[at - 1] != '\n') &&
	    greeting_put(out, size, &at, "\n", 1) != 0)
		goto toolong;
	out[at] = '\0';
	return ((int)at);

toolong:
	cause_set(cause, "longer than %d bytes", GREETING_MAX - 1);
	return (-1);
}
