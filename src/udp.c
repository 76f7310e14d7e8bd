/*
 * udp.c: UDP echo (RFC 862): each datagram back to its sender, as one
 * datagram of the same bytes, from the address it was sent to.
 *
 * One persistent read event per socket, on the same loop as TCP.  A wakeup
 * takes at most UDP_BUDGET datagrams, UDP_BATCH at a time with recvmmsg(),
 * and answers each batch with sendmmsg(): a small datagram costs a fraction
 * of a system call, and a UDP flood yields to the TCP connections after
 * each budget.  Nothing waits: an echo the socket does not take at once is
 * dropped and counted, so memory is this file's fixed buffers whatever
 * arrives.
 *
 * Before answering, the reflection and loop guard FreeBSD's inetd applies to
 * its built-in UDP services: nothing goes back to port 0, to the ports of
 * the classic small services (echo, discard, daytime, chargen, time) or our
 * own, which answer in turn and could ping-pong with us for ever, to a
 * broadcast or multicast address, or (without --udp-allow-low-ports) to
 * any port below 1024.  Then --udp-rate (udp-rate.c) per source.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* recvmmsg, sendmmsg, in6_pktinfo */
#endif
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "addr.h"
#include "clock.h"
#include "log.h"
#include "parse.h"
#include "server.h"

#define UDP_BATCH	32	/* datagrams per recvmmsg() */
#define UDP_BUDGET	256	/* datagrams per wakeup, then TCP's turn */
#define UDP_DATAGRAM	65536	/* more than UDP carries over IPv4 or IPv6 */
#define UDP_MAX_SOCKETS	SUPERVISOR_MAX_LISTEN
#define UDP_HELD_MAX	4096	/* answers --fault may hold back at once */

struct udp_socket {
	int		 fd;
	struct event	*ev;
	int		 family;
	uint16_t	 port;		/* ours, network order */
	int		 pktinfo;	/* wildcard: answer from the destination */
	uint32_t	 overflows;	/* the kernel's drop count, last seen */
	int		 faulty;	/* --fault applies to it */
};

/* One datagram's room: its sender, its bytes and where it was sent. */
struct udp_slot {
	struct sockaddr_storage	 from;
	struct iovec		 iov;
	union {
		char		 buf[CMSG_SPACE(sizeof (struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof (uint32_t))];
		struct cmsghdr	 align;
	} in_ctl, out_ctl;
};

static struct udp_socket	 udp_socks[UDP_MAX_SOCKETS];
static size_t			 udp_nsockets;
/* Room for every answer twice: --fault duplicate. */
static struct mmsghdr		 udp_in[UDP_BATCH], udp_out[2 * UDP_BATCH];
static struct udp_slot		 udp_slots[UDP_BATCH];
static char			*udp_buffers;	/* UDP_BATCH * UDP_DATAGRAM */
static unsigned			 udp_used;	/* slots the last batch filled */

/* For the once-a-second log of drops: the counts when last logged. */
static uint64_t			 udp_logged[UDP_DROP_REASONS];
static char			 udp_last_name[ADDR_STRLEN];

/* Answers held back by --fault delay or reorder, until at_us. */
struct udp_held {
	uint64_t		 at_us;
	int			 fd;
	int			 copies;
	struct sockaddr_storage	 to;
	socklen_t		 tolen;
	size_t			 ctllen;
	union {
		char		 buf[CMSG_SPACE(sizeof (struct in6_pktinfo))];
		struct cmsghdr	 align;
	} ctl;
	size_t			 len;
	unsigned char		 data[];
};

static struct udp_held		*udp_heap[UDP_HELD_MAX];
static size_t			 udp_nheld;
static struct event		*udp_held_ev;

static void	udp_report_drops(uint64_t, void *);

static struct log_limit	 udp_drop_log =
    LOG_LIMIT_INITIALIZER(udp_report_drops, NULL);

/* Say how many datagrams went unanswered in the last second, and why. */
static void
udp_report_drops(uint64_t n, void *arg)
{
	const uint64_t	*d = server_stats->udp_dropped;
	char		 why[160];
	uint64_t	 total = 0;
	size_t		 i, off = 0;
	int		 len;

	why[0] = '\0';
	for (i = 0; i < UDP_DROP_REASONS; i++) {
		if (d[i] == udp_logged[i])
			continue;
		len = snprintf(why + off, sizeof why - off, "%s%llu %s",
		    off != 0 ? ", " : "",
		    (unsigned long long)(d[i] - udp_logged[i]),
		    stats_udp_drop_names[i]);
		if (len > 0 && (size_t)len < sizeof why - off)
			off += (size_t)len;
		total += d[i] - udp_logged[i];
		udp_logged[i] = d[i];
	}
	if (total != 0)
		log_warnx("udp: %llu datagrams not echoed (%s)%s%s",
		    (unsigned long long)total, why, udp_last_name[0] != '\0' ?
		    ", the latest from " : "", udp_last_name);
}

/*
 * Count n datagrams not echoed for reason, the latest from sa (NULL: not
 * known), for the counters and the log.
 */
static void
udp_drop(const struct sockaddr *sa, int reason, uint64_t n)
{
	server_stats->udp_dropped[reason] += n;
	if (sa != NULL)
		addr_format(sa, udp_last_name, sizeof udp_last_name);
	log_limit_hit(&udp_drop_log);
}

/* Return 1 for a port the guard never answers: 0, a small service, ours. */
static int
udp_looping_port(uint16_t port, uint16_t ours)
{
	switch (ntohs(port)) {
	case 0:
	case 7:		/* echo */
	case 9:		/* discard */
	case 13:	/* daytime */
	case 19:	/* chargen */
	case 37:	/* time */
		return (1);
	}
	return (port == ours);
}

/* Return 1 for an IPv4 address (host order) nothing should answer. */
static int
udp_bad_ipv4(uint32_t a)
{
	return (a == INADDR_ANY || a == INADDR_BROADCAST || IN_MULTICAST(a));
}

/*
 * The guard: the reason a datagram from sa to socket u must not be
 * answered, or -1 to answer it.
 */
static int
udp_guard(const struct udp_socket *u, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	uint16_t			 port;
	uint32_t			 a;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		port = sin->sin_port;
		if (udp_bad_ipv4(ntohl(sin->sin_addr.s_addr)))
			return (UDP_DROP_LOOP);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		port = sin6->sin6_port;
		if (IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			return (UDP_DROP_LOOP);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(&a, &sin6->sin6_addr.s6_addr[12], 4);
			if (udp_bad_ipv4(ntohl(a)))
				return (UDP_DROP_LOOP);
		}
	} else
		return (UDP_DROP_LOOP);
	if (udp_looping_port(port, u->port))
		return (UDP_DROP_LOOP);
	if (ntohs(port) < 1024 && !server_config.udp_allow_low_ports)
		return (UDP_DROP_LOW_PORT);
	return (-1);
}

/*
 * The control message that makes the echo leave from the address the
 * datagram came to, from the one it arrived with; 0 if it has none.  On a
 * wildcard socket the kernel would choose by route, and a client of an
 * address it did not send to would discard the answer.
 */
static size_t
udp_reply_from(struct udp_slot *s, struct msghdr *in)
{
	struct cmsghdr		*c, *o = (struct cmsghdr *)s->out_ctl.buf;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;

	for (c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			/* spec_dst: our address, even for a broadcast. */
			memcpy(&pi, CMSG_DATA(c), sizeof pi);
			pi.ipi_ifindex = 0;
			pi.ipi_addr.s_addr = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof pi);
			memcpy(CMSG_DATA(o), &pi, sizeof pi);
			return (CMSG_SPACE(sizeof pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&pi6, CMSG_DATA(c), sizeof pi6);
			/* Sent to a group: let the kernel pick our address. */
			if (IN6_IS_ADDR_MULTICAST(&pi6.ipi6_addr))
				pi6.ipi6_addr = in6addr_any;
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof pi6);
			memcpy(CMSG_DATA(o), &pi6, sizeof pi6);
			return (CMSG_SPACE(sizeof pi6));
		}
	}
	return (0);
}

/* Make the receive batch ready: the slots used, empty and full size. */
static void
udp_prepare(void)
{
	struct msghdr	*m;
	size_t		 i;

	/* What recvmmsg() and udp_admit() change, in the slots they used. */
	for (i = 0; i < udp_used; i++) {
		m = &udp_in[i].msg_hdr;
		m->msg_namelen = sizeof udp_slots[i].from;
		udp_slots[i].iov.iov_len = UDP_DATAGRAM;
		m->msg_controllen = sizeof udp_slots[i].in_ctl;
		m->msg_flags = 0;
	}
	udp_used = 0;
}

/* Point every slot at its buffers, once; udp_prepare() keeps them. */
static void
udp_slots_init(void)
{
	struct msghdr	*m;
	size_t		 i;

	for (i = 0; i < UDP_BATCH; i++) {
		m = &udp_in[i].msg_hdr;
		m->msg_name = &udp_slots[i].from;
		udp_slots[i].iov.iov_base = udp_buffers + i * UDP_DATAGRAM;
		m->msg_iov = &udp_slots[i].iov;
		m->msg_iovlen = 1;
		m->msg_control = udp_slots[i].in_ctl.buf;
	}
	udp_used = UDP_BATCH;
	udp_prepare();
}

/*
 * Send the n echoes queued in udp_out, dropping what the socket does not
 * take: with the send buffer full the rest of the batch, otherwise only
 * the datagram refused (an unreachable or forbidden address).
 */
static void
udp_send(struct udp_socket *u, unsigned n)
{
	uint64_t	 bytes;
	unsigned	 i = 0, k;
	int		 r;

	while (i < n) {
		r = sendmmsg(u->fd, udp_out + i, n - i, MSG_DONTWAIT);
		if (r > 0) {
			for (bytes = 0, k = i; k < i + (unsigned)r; k++)
				bytes += udp_out[k].msg_hdr.msg_iov->iov_len;
			server_stats->udp_out += (unsigned)r;
			server_stats->udp_out_bytes += bytes;
			i += (unsigned)r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS) {
			for (; i < n; i++)
				udp_drop(udp_out[i].msg_hdr.msg_name,
				    UDP_DROP_SEND_ERROR, 1);
			return;
		}
		log_debug("udp: send: %s", strerror(errno));
		udp_drop(udp_out[i].msg_hdr.msg_name, UDP_DROP_SEND_ERROR, 1);
		i++;
	}
}

/*
 * Count what the kernel dropped for want of room in our receive buffer:
 * with SO_RXQ_OVFL each datagram queued after a drop carries the socket's
 * running total of them, so the batch's last one has the newest.
 */
static void
udp_overflows(struct udp_socket *u, struct msghdr *in)
{
	struct cmsghdr	*c;
	uint32_t	 total;

	for (c = CMSG_FIRSTHDR(in); c != NULL; c = CMSG_NXTHDR(in, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&total, CMSG_DATA(c), sizeof total);
		if (total == u->overflows)
			return;
		udp_drop(NULL, UDP_DROP_OVERFLOW,
		    (uint32_t)(total - u->overflows));
		u->overflows = total;
		return;
	}
}

/*
 * 1 if the guard and --udp-rate let datagram i be answered (now: the
 * clock for the rate), 0 if dropped and counted.
 */
static inline int
udp_admit(const struct udp_socket *u, unsigned i, uint64_t now)
{
	struct msghdr	*in = &udp_in[i].msg_hdr;
	int		 reason;

	if ((reason = udp_guard(u, in->msg_name)) != -1) {
		udp_drop(in->msg_name, reason, 1);
		return (0);
	}
	if (server_config.udp_rate != 0 &&
	    udp_rate_admit(in->msg_name, now) != 0) {
		udp_drop(in->msg_name, UDP_DROP_RATE, 1);
		return (0);
	}
	udp_slots[i].iov.iov_len = udp_in[i].msg_len;
	return (1);
}

/* Queue datagram i's answer as udp_out[k]. */
static inline void
udp_queue(const struct udp_socket *u, unsigned i, unsigned k)
{
	struct msghdr	*in = &udp_in[i].msg_hdr, *out = &udp_out[k].msg_hdr;

	out->msg_name = in->msg_name;
	out->msg_namelen = in->msg_namelen;
	out->msg_iov = &udp_slots[i].iov;
	out->msg_iovlen = 1;
	out->msg_controllen = u->pktinfo ?
	    udp_reply_from(&udp_slots[i], in) : 0;
	out->msg_control = out->msg_controllen != 0 ?
	    udp_slots[i].out_ctl.buf : NULL;
	out->msg_flags = 0;
}

/* Count the n datagrams just received in; the clock for --udp-rate. */
static inline uint64_t
udp_count_in(unsigned n)
{
	uint64_t	bytes = 0;
	unsigned	i;

	for (i = 0; i < n; i++)
		bytes += udp_in[i].msg_len;
	server_stats->udp_in += n;
	server_stats->udp_in_bytes += bytes;
	return (server_config.udp_rate != 0 ? clock_now_ns() : 0);
}

/* Guard, charge and queue the n datagrams just received; send them. */
static void
udp_answer(struct udp_socket *u, unsigned n)
{
	uint64_t	 now = udp_count_in(n);
	unsigned	 i, k = 0;

	for (i = 0; i < n; i++) {
		if (udp_admit(u, i, now))
			udp_queue(u, i, k++);
	}
	if (n != 0)
		udp_overflows(u, &udp_in[n - 1].msg_hdr);
	if (k != 0)
		udp_send(u, k);
}

/* Send the held answer h now (its copies), count it, free it. */
static void
udp_release(struct udp_held *h)
{
	struct msghdr	m;
	struct iovec	iov;
	int		i;

	memset(&m, 0, sizeof m);
	iov.iov_base = h->data;
	iov.iov_len = h->len;
	m.msg_name = &h->to;
	m.msg_namelen = h->tolen;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = h->ctllen != 0 ? h->ctl.buf : NULL;
	m.msg_controllen = h->ctllen;
	for (i = 0; i < h->copies; i++) {
		if (sendmsg(h->fd, &m, MSG_DONTWAIT) == -1) {
			udp_drop((struct sockaddr *)&h->to,
			    UDP_DROP_SEND_ERROR, 1);
			continue;
		}
		server_stats->udp_out++;
		server_stats->udp_out_bytes += h->len;
	}
	free(h);
}

/* The held answers, a binary heap on their release time. */
static void
udp_heap_push(struct udp_held *h)
{
	size_t	i = udp_nheld++, up;

	while (i > 0 && udp_heap[up = (i - 1) / 2]->at_us > h->at_us) {
		udp_heap[i] = udp_heap[up];
		i = up;
	}
	udp_heap[i] = h;
}

static struct udp_held *
udp_heap_pop(void)
{
	struct udp_held	*top = udp_heap[0], *last = udp_heap[--udp_nheld];
	size_t		 i = 0, child;

	while ((child = 2 * i + 1) < udp_nheld) {
		if (child + 1 < udp_nheld &&
		    udp_heap[child + 1]->at_us < udp_heap[child]->at_us)
			child++;
		if (udp_heap[child]->at_us >= last->at_us)
			break;
		udp_heap[i] = udp_heap[child];
		i = child;
	}
	if (udp_nheld != 0)
		udp_heap[i] = last;
	return (top);
}

/* Arm the release timer for the earliest held answer. */
static void
udp_held_arm(void)
{
	struct timeval	tv;
	uint64_t	now = clock_now_us();

	if (udp_nheld == 0)
		return;
	tv = clock_timeval(udp_heap[0]->at_us > now ?
	    udp_heap[0]->at_us - now : 0);
	evtimer_add(udp_held_ev, &tv);
}

/* Held answers are due. */
static void
udp_held_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	now = clock_now_us();

	while (udp_nheld != 0 && udp_heap[0]->at_us <= now)
		udp_release(udp_heap_pop());
	udp_held_arm();
}

/*
 * Hold datagram i's answer for us (delay, reorder), copies times: a copy
 * of it in the heap, bounded by UDP_HELD_MAX; past that it is dropped.
 */
static void
udp_hold(const struct udp_socket *u, unsigned i, int copies, uint64_t us)
{
	struct msghdr	*in = &udp_in[i].msg_hdr;
	struct udp_held	*h;
	size_t		 len = udp_in[i].msg_len;

	if (udp_nheld == UDP_HELD_MAX ||
	    (h = malloc(sizeof *h + len)) == NULL) {
		udp_drop(in->msg_name, UDP_DROP_SEND_ERROR, (uint64_t)copies);
		return;
	}
	h->at_us = clock_now_us() + us;
	h->fd = u->fd;
	h->copies = copies;
	h->len = len;
	memcpy(&h->to, in->msg_name, in->msg_namelen);
	h->tolen = in->msg_namelen;
	h->ctllen = u->pktinfo ? udp_reply_from(&udp_slots[i], in) : 0;
	memcpy(h->ctl.buf, udp_slots[i].out_ctl.buf, h->ctllen);
	memcpy(h->data, udp_slots[i].iov.iov_base, len);
	udp_heap_push(h);
	if (udp_heap[0] == h)
		udp_held_arm();
}

/* udp_answer() on a --fault socket: each datagram draws its faults. */
static void
udp_answer_faulty(struct udp_socket *u, unsigned n)
{
	uint64_t	 now = udp_count_in(n), hold;
	unsigned	 i, k = 0;
	int		 copies;

	for (i = 0; i < n; i++) {
		if (!udp_admit(u, i, now))
			continue;
		fault_datagram(udp_slots[i].iov.iov_base, udp_in[i].msg_len,
		    udp_in[i].msg_hdr.msg_name, &copies, &hold);
		if (hold != 0 && copies != 0)
			udp_hold(u, i, copies, hold);
		else
			while (copies-- > 0)
				udp_queue(u, i, k++);
	}
	if (n != 0)
		udp_overflows(u, &udp_in[n - 1].msg_hdr);
	if (k != 0)
		udp_send(u, k);
}

/*
 * A socket is readable: up to a budget of datagrams, then TCP's turn;
 * answer() answers each batch.
 */
static inline void
udp_receive(evutil_socket_t fd, struct udp_socket *u,
    void (*answer)(struct udp_socket *, unsigned))
{
	unsigned		 done = 0;
	int			 n;

	while (done < UDP_BUDGET) {
		udp_prepare();
		n = recvmmsg(fd, udp_in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("udp: receive");
			return;
		}
		udp_used = (unsigned)n;
		answer(u, (unsigned)n);
		done += (unsigned)n;
		if (n < UDP_BATCH)
			return;
	}
}

static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	udp_receive(fd, arg, udp_answer);
}

/* The same on a socket --fault applies to: chosen once, at start. */
static void
udp_fault_read_cb(evutil_socket_t fd, short what, void *arg)
{
	udp_receive(fd, arg, udp_answer_faulty);
}

/* Return 1 if sa is the wildcard address of its family. */
static int
udp_is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY));
	return (IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr));
}

/*
 * Echo on the bound UDP socket fd; -1 with *cause (fd closed) on
 * failure.  The batch buffers come with the first socket.
 */
int
udp_add(int fd, int faulty, char **cause)
{
	struct udp_socket	*u;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	int			 one = 1, rc;

	if (udp_nsockets == UDP_MAX_SOCKETS) {
		cause_set(cause, "too many UDP sockets (at most %d)",
		    UDP_MAX_SOCKETS);
		goto fail;
	}
	if (udp_buffers == NULL) {
		if ((udp_buffers = malloc(UDP_BATCH * UDP_DATAGRAM)) == NULL) {
			cause_set(cause, "udp: out of memory");
			goto fail;
		}
		udp_slots_init();
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
		cause_set(cause, "udp: descriptor %d: not an IP socket", fd);
		goto fail;
	}
	u = &udp_socks[udp_nsockets];
	u->fd = fd;
	u->family = ss.ss_family;
	u->port = ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port;
	u->pktinfo = udp_is_wildcard((struct sockaddr *)&ss);
	u->overflows = 0;
	u->faulty = faulty && fault_wanted_udp();
	/* Best effort: without it, overflows go uncounted, not unanswered. */
	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0)
		log_debug("udp: SO_RXQ_OVFL: %s", strerror(errno));
	if (u->pktinfo) {
		rc = ss.ss_family == AF_INET ?
		    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) :
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof one);
		if (rc != 0) {
			cause_set(cause, "udp: IP_PKTINFO: %s",
			    strerror(errno));
			goto fail;
		}
	}
	if (u->faulty && udp_held_ev == NULL &&
	    (udp_held_ev = evtimer_new(server_base, udp_held_cb, NULL)) ==
	    NULL) {
		cause_set(cause, "udp: cannot create a timer");
		goto fail;
	}
	u->ev = event_new(server_base, fd, EV_READ | EV_PERSIST,
	    u->faulty ? udp_fault_read_cb : udp_read_cb, u);
	if (u->ev == NULL || event_add(u->ev, NULL) != 0) {
		if (u->ev != NULL)
			event_free(u->ev);
		cause_set(cause, "udp: cannot add an event");
		goto fail;
	}
	udp_nsockets++;
	server_stats->udp_sockets = udp_nsockets;
	return (0);

fail:
	close(fd);
	return (-1);
}

/*
 * Stop echoing: what is queued already gets its answer (one budget per
 * socket), then every socket closes.
 */
void
udp_close_all(void)
{
	size_t	i;

	for (i = 0; i < udp_nsockets; i++)
		event_get_callback(udp_socks[i].ev)(udp_socks[i].fd, EV_READ,
		    &udp_socks[i]);
	/* What --fault held back goes now, its time or not. */
	while (udp_nheld != 0)
		udp_release(udp_heap_pop());
	if (udp_held_ev != NULL) {
		event_free(udp_held_ev);
		udp_held_ev = NULL;
	}
	for (i = 0; i < udp_nsockets; i++) {
		event_free(udp_socks[i].ev);
		close(udp_socks[i].fd);
	}
	udp_nsockets = 0;
	log_limit_flush(&udp_drop_log);
	free(udp_buffers);
	udp_buffers = NULL;
}
