/*
 * benchmark-greeting.c: --expect-greeting's tally.  A server started with
 * --greeting (evecho-server, or any that sends one line on accept) names
 * itself in that line; counting each distinct line shows how a balancer
 * spreads the connections over the servers behind it.
 *
 * A small fixed table: a balancer has a handful of backends, not
 * thousands, and lines beyond the table are counted as "other", so memory
 * stays bounded whatever the target sends.
 */
#include <string.h>

#include "benchmark.h"
#include "parse.h"

/*
 * Copy the len bytes of line into text (size bytes), each control byte and
 * each byte that is not UTF-8 as '?': any server may send anything, and
 * the line goes into JSON and onto a terminal.  Returns the length.
 */
static size_t
greet_clean(char *text, size_t size, const char *line, size_t len)
{
	const unsigned char	*p = (const unsigned char *)line;
	size_t			 at = 0, n, i = 0;

	while (i < len) {
		n = parse_utf8_char(p + i, len - i);
		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)))
			n = 0;
		if (at + (n == 0 ? 1 : n) >= size)
			break;
		if (n == 0) {
			text[at++] = '?';
			i++;
			continue;
		}
		memcpy(text + at, p + i, n);
		at += n;
		i += n;
	}
	text[at] = '\0';
	return (at);
}

/* Count n more connections greeted with the len bytes of line. */
void
greet_tally_add(struct greet_tally *t, const char *line, size_t len,
    uint64_t n)
{
	char	text[sizeof t->lines[0].text];
	size_t	i;

	if (len > 0 && line[len - 1] == '\r')
		len--;			/* "\r\n" ends the line as "\n" does */
	len = greet_clean(text, sizeof text, line, len);
	line = text;
	for (i = 0; i < t->n; i++) {
		if (strlen(t->lines[i].text) == len &&
		    memcmp(t->lines[i].text, line, len) == 0) {
			t->lines[i].count += n;
			return;
		}
	}
	if (t->n == BENCH_GREETINGS_MAX) {
		t->other += n;
		return;
	}
	memcpy(t->lines[t->n].text, line, len);
	t->lines[t->n].text[len] = '\0';
	t->lines[t->n].count = n;
	t->n++;
}

/* Add the tally src into dst. */
void
greet_tally_merge(struct greet_tally *dst, const struct greet_tally *src)
{
	size_t	i;

	for (i = 0; i < src->n; i++)
		greet_tally_add(dst, src->lines[i].text,
		    strlen(src->lines[i].text), src->lines[i].count);
	dst->other += src->other;
}

/* Every connection greeted. */
uint64_t
greet_tally_total(const struct greet_tally *t)
{
	uint64_t	sum = t->other;
	size_t		i;

	for (i = 0; i < t->n; i++)
		sum += t->lines[i].count;
	return (sum);
}
