/* faultspec.h: --fault SPEC, parsed without I/O (faultspec.c). */
#ifndef EVECHO_FAULTSPEC_H
#define EVECHO_FAULTSPEC_H

#include <stdint.h>

enum fault_kind {
	FAULT_DELAY,		/* every echo DUR (~JITTER) after its read */
	FAULT_RATE,		/* the echo at most SIZE bytes a second */
	FAULT_CHUNK,		/* the echo in writes of at most SIZE */
	FAULT_RESET_AFTER,	/* RST after SIZE echoed, or DUR */
	FAULT_CLOSE_AFTER,	/* FIN after SIZE echoed, or DUR */
	FAULT_STALL_AFTER,	/* neither read nor write after SIZE, or DUR */
	FAULT_REFUSE,		/* closed at accept */
	FAULT_CORRUPT,		/* one byte of each echoed chunk flipped */
	FAULT_DROP,		/* UDP: the datagram not answered */
	FAULT_DUPLICATE,	/* UDP: answered twice */
	FAULT_REORDER,		/* UDP: answered DUR late, overtaken */
	FAULT_KINDS
};

#define FAULT_ALWAYS	1000000U	/* probability, in parts per million */
#define FAULT_SPEC_MAX	200		/* longest SPEC taken */

struct fault_spec {
	enum fault_kind	kind;
	uint64_t	arg;		/* bytes, bytes a second, or us */
	uint64_t	jitter_us;	/* delay: the ~JITTER */
	int		after_time;	/* *-after: arg is us, not bytes */
	uint32_t	ppm;		/* per connection (TCP) or datagram */
};

/* What a kind applies to. */
#define FAULT_TCP	0x1
#define FAULT_UDP	0x2

int		 faultspec_parse(const char *s, struct fault_spec *f,
		    char **cause);
const char	*faultspec_name(enum fault_kind kind);
int		 faultspec_applies(enum fault_kind kind);
int		 faultspec_format(const struct fault_spec *f, char *buf,
		    unsigned long len);

#endif
