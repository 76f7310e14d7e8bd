/*
 * proxy.h: the PROXY protocol's header, versions 1 and 2 (HAProxy's
 * doc/proxy-protocol.txt), parsed strictly.  Pure: no I/O, no globals,
 * no allocation; the server reads, this says what it has read.
 */
#ifndef EVECHO_PROXY_H
#define EVECHO_PROXY_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#define PROXY_V1_MAX	107		/* the longest v1 line, CRLF included */
#define PROXY_V2_MAX	(16 + 2048)	/* the most of v2 accepted: 16 fixed */
#define PROXY_MIN	15		/* "PROXY UNKNOWN\r\n": none is shorter */

enum proxy_status {
	PROXY_OK,	/* a whole, valid header: r->consumed bytes */
	PROXY_NEED,	/* valid so far; more bytes are needed (r->need...) */
	PROXY_BAD	/* not a valid header: *why says what is wrong */
};

struct proxy_result {
	int			 version;	/* 1 or 2, once known */
	/*
	 * 1: the header names no client to use -- v2's LOCAL command (a
	 * balancer's own health check), v1's UNKNOWN, or a v2 family other
	 * than TCP over IPv4/IPv6 -- so the connection's own peer stands.
	 */
	int			 local;
	struct sockaddr_storage	 src;		/* the client, unless local */
	socklen_t		 srclen;
	struct sockaddr_storage	 dst;		/* where it connected to */
	socklen_t		 dstlen;
	size_t			 consumed;	/* PROXY_OK: the header's length */
	/*
	 * PROXY_NEED: the buffer must hold at least need bytes in all
	 * before the parser can say more; reading exactly that many never
	 * reads past the header.  With need_line (v1), the header ends at
	 * the first "\r\n" instead, which is at most PROXY_V1_MAX bytes in.
	 */
	size_t			 need;
	int			 need_line;
};

/*
 * Parse the len bytes at buf, the first of a connection.  The header must
 * start at buf[0]; bytes after it (r->consumed on) are the client's data
 * and are not looked at.  On PROXY_BAD, *why is a static phrase.
 */
enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
	    struct proxy_result *r, const char **why);

#endif
