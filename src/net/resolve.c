/* Asynchronous name resolution: c-ares driven by the libuv loop (see docs/resolve.md).
 *
 * Lifetimes. A request is freed only when both c-ares has called back (it always does: with
 * an answer, an error, or ARES_EDESTRUCTION from ares_destroy) and its deadline timer has been
 * closed; whichever comes second frees it. The user callback is delivered at most once, by
 * whichever comes first of the answer and the deadline, and never after a cancel.
 *
 * Sockets. c-ares reports each socket it opens through sock_state_cb; each socket gets its own
 * heap-allocated poll handle, found by fd only among live (not closing) handles. When c-ares
 * says it is closing a socket, the handle leaves the live list at once and is closed; c-ares
 * then closes the fd and may open a new socket with the same number before libuv has run the
 * old handle's close callback. The new socket gets a new handle: a closing handle is never
 * reused or looked up again, so its late close callback only frees itself. */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "core/error.h"
#include "net/resolve.h"

/* c-ares retransmits after 500 ms, then 1 s, then 2 s (it doubles per round): three tries
 * reach past the 2 s policy deadline, which is what ends a request, so a lost UDP packet is
 * retried twice within the budget. */
#define RESOLVE_TRY_TIMEOUT_MS 500
#define RESOLVE_TRIES          3
/* More servers than this is a configuration mistake, not a resolver setup. */
#define RESOLVE_SERVERS_MAX 16

struct pc_resolve_sock {
	uv_poll_t poll;
	ares_socket_t fd;
	int events; /* what c-ares last asked to watch */
	struct pc_resolver *r;
	struct pc_resolve_sock *next; /* in r->live_socks or r->closing_socks */
};

struct pc_resolve_req {
	struct pc_resolver *r;
	uv_timer_t deadline;
	pc_resolve_cb cb; /* NULL once delivered, cancelled or abandoned */
	void *data;
	bool starting;        /* inside ares_getaddrinfo: results are delivered later */
	bool ares_done;       /* c-ares has called back; it holds no pointer to us any more */
	bool deadline_closed; /* the timer's close callback has run */
	int result;           /* a result that arrived while starting */
	struct pc_addr_list addrs;
	struct pc_resolve_req *prev, *next; /* in r->reqs */
};

struct pc_resolver {
	uv_loop_t *loop;
	ares_channel channel; /* NULL once destroyed */
	uv_timer_t timer;     /* c-ares retransmissions, from ares_timeout() */
	struct pc_resolve_sock *live_socks;
	struct pc_resolve_sock *closing_socks;
	struct pc_resolve_req *reqs;
	unsigned live;  /* open or closing handles plus unreleased requests; 0 frees r */
	unsigned depth; /* nesting of calls into c-ares that may call back */
	bool freeing;
	struct pc_resolver_stats stats;
};

static void resolver_release(struct pc_resolver *r)
{
	if (--r->live == 0) {
		ares_library_cleanup();
		free(r);
	}
}

/* ---- sockets ------------------------------------------------------------------------------ */

static void reschedule(struct pc_resolver *r);
static void destroy_channel(struct pc_resolver *r);
static void on_deadline(uv_timer_t *t);

/* Every call into c-ares that may run callbacks goes through here: a callback may free the
 * resolver, and ares_destroy must not run inside c-ares, so that is finished on the way out. */
static void ares_enter(struct pc_resolver *r)
{
	r->depth++;
}

static void ares_leave(struct pc_resolver *r)
{
	if (--r->depth == 0) {
		if (r->freeing)
			destroy_channel(r);
		else
			reschedule(r);
	}
}

static void on_sock_close(uv_handle_t *h)
{
	struct pc_resolve_sock *s = h->data;
	struct pc_resolver *r = s->r;
	struct pc_resolve_sock **p;

	for (p = &r->closing_socks; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	r->stats.sockets--;
	free(s);
	resolver_release(r);
}

/* Takes s off the live list and closes its handle; the memory goes in on_sock_close. */
static void sock_close(struct pc_resolve_sock *s)
{
	struct pc_resolver *r = s->r;
	struct pc_resolve_sock **p;

	for (p = &r->live_socks; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	s->next = r->closing_socks;
	r->closing_socks = s;
	uv_close((uv_handle_t *)&s->poll, on_sock_close);
}

static void on_sock_event(uv_poll_t *h, int status, int events)
{
	struct pc_resolve_sock *s = h->data;
	struct pc_resolver *r = s->r;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	/* On a poll error, let c-ares find the socket error itself by reading and writing. */
	if (status < 0 || (events & UV_READABLE))
		rfd = s->fd;
	if (status < 0 || (events & UV_WRITABLE))
		wfd = s->fd;
	/* s may be closed during this call, but is freed only by its close callback, later. */
	ares_enter(r);
	ares_process_fd(r->channel, rfd, wfd);
	/* libuv stops a handle on a poll error; if c-ares kept the socket, watch it again. */
	if (status < 0 && !uv_is_closing((uv_handle_t *)h) && !uv_is_active((uv_handle_t *)h))
		uv_poll_start(h, s->events, on_sock_event);
	ares_leave(r);
}

static struct pc_resolve_sock *sock_find(struct pc_resolve_sock *list, ares_socket_t fd)
{
	for (; list; list = list->next)
		if (list->fd == fd)
			return list;
	return NULL;
}

static struct pc_resolve_sock *sock_open(struct pc_resolver *r, ares_socket_t fd)
{
	struct pc_resolve_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (uv_poll_init_socket(r->loop, &s->poll, fd) != 0) {
		free(s);
		return NULL;
	}
	s->fd = fd;
	s->r = r;
	s->poll.data = s;
	s->next = r->live_socks;
	r->live_socks = s;
	r->live++;
	r->stats.sockets++;
	r->stats.sockets_opened++;
	if (sock_find(r->closing_socks, fd))
		r->stats.sockets_reused_early++;
	return s;
}

/* c-ares's ARES_OPT_SOCK_STATE_CB: what to watch on fd; neither means it is about to close. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct pc_resolver *r = data;
	struct pc_resolve_sock *s = sock_find(r->live_socks, fd);
	int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

	if (!events) {
		if (s)
			sock_close(s);
		return;
	}
	if (!s)
		s = sock_open(r, fd);
	/* Without a handle the socket is never read: its queries end at c-ares's own timeout or
	 * at our deadline, whichever is first. */
	if (s) {
		s->events = events;
		uv_poll_start(&s->poll, events, on_sock_event);
	}
}

/* ---- c-ares timeouts ---------------------------------------------------------------------- */

static void on_ares_timer(uv_timer_t *t)
{
	struct pc_resolver *r = t->data;

	ares_enter(r);
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	ares_leave(r);
}

static void reschedule(struct pc_resolver *r)
{
	struct timeval tv;
	uint64_t ms;

	if (!ares_timeout(r->channel, NULL, &tv)) {
		uv_timer_stop(&r->timer);
		return;
	}
	ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
	uv_timer_start(&r->timer, on_ares_timer, ms, 0);
}

/* ---- results ------------------------------------------------------------------------------ */

static bool addr_equal(const union pc_sockaddr *a, const union pc_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) == 0 &&
	       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
}

static void addr_add_unique(union pc_sockaddr *list, unsigned *n, const union pc_sockaddr *a)
{
	for (unsigned i = 0; i < *n; i++)
		if (addr_equal(&list[i], a))
			return;
	if (*n < PC_ADDRS_MAX)
		list[(*n)++] = *a;
}

/* Copies the address of one c-ares node with port 0; false for anything but IPv4/IPv6. */
static bool addr_from_node(const struct ares_addrinfo_node *node, union pc_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (!node->ai_addr)
		return false;
	if (node->ai_family == AF_INET && node->ai_addrlen >= sizeof(struct sockaddr_in)) {
		out->in.sin_family = AF_INET;
		memcpy(&out->in.sin_addr, &((const struct sockaddr_in *)node->ai_addr)->sin_addr,
		       sizeof(out->in.sin_addr));
		return true;
	}
	if (node->ai_family == AF_INET6 && node->ai_addrlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)node->ai_addr;

		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_addr = in6->sin6_addr;
		out->in6.sin6_scope_id = in6->sin6_scope_id;
		return true;
	}
	return false;
}

/* Fills out with the distinct addresses of ai, alternating IPv6 and IPv4 (starting with the
 * family of the first answer, the rest of the longer list last), at most PC_ADDRS_MAX.
 * Returns 0, or PC_EDNS when there is no address. */
static int addrs_from_ares(const struct ares_addrinfo *ai, struct pc_addr_list *out)
{
	union pc_sockaddr v4[PC_ADDRS_MAX], v6[PC_ADDRS_MAX], a;
	unsigned n4 = 0, n6 = 0, i4 = 0, i6 = 0;
	bool v6_first = false, any = false;

	for (const struct ares_addrinfo_node *node = ai ? ai->nodes : NULL; node;
	     node = node->ai_next) {
		if (!addr_from_node(node, &a))
			continue;
		if (!any)
			v6_first = a.sa.sa_family == AF_INET6;
		any = true;
		if (a.sa.sa_family == AF_INET)
			addr_add_unique(v4, &n4, &a);
		else
			addr_add_unique(v6, &n6, &a);
		if (n4 == PC_ADDRS_MAX && n6 == PC_ADDRS_MAX)
			break;
	}
	out->n = 0;
	for (bool six = v6_first; out->n < PC_ADDRS_MAX && (i4 < n4 || i6 < n6); six = !six) {
		if (six && i6 < n6)
			out->addrs[out->n++] = v6[i6++];
		else if (!six && i4 < n4)
			out->addrs[out->n++] = v4[i4++];
	}
	return out->n ? 0 : PC_EDNS;
}

static int status_from_ares(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ETIMEOUT:
		return PC_EDNS_TIMEOUT;
	default:
		/* ENOTFOUND, ENODATA, ESERVFAIL, EREFUSED, EBADRESP, ECONNREFUSED, ENOMEM...: the
		 * name did not resolve, and policy fails closed on all of them alike. */
		return PC_EDNS;
	}
}

/* ---- requests ----------------------------------------------------------------------------- */

static void req_release(struct pc_resolve_req *req)
{
	struct pc_resolver *r = req->r;

	if (!req->ares_done || !req->deadline_closed)
		return;
	if (req->prev)
		req->prev->next = req->next;
	else
		r->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
	r->stats.requests--;
	free(req);
	resolver_release(r);
}

static void on_deadline_close(uv_handle_t *h)
{
	struct pc_resolve_req *req = h->data;

	req->deadline_closed = true;
	req_release(req);
}

/* Ends the user-visible life of req: no callback from here on. */
static void req_finish(struct pc_resolve_req *req)
{
	req->cb = NULL;
	if (!uv_is_closing((uv_handle_t *)&req->deadline))
		uv_close((uv_handle_t *)&req->deadline, on_deadline_close);
}

static void deliver(struct pc_resolve_req *req, int status, const struct pc_addr_list *addrs)
{
	pc_resolve_cb cb = req->cb;
	void *data = req->data;

	req_finish(req);
	/* req stays allocated during the call: its timer's close callback has not run yet. */
	cb(data, status, addrs);
}

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct pc_resolve_req *req = arg;
	struct pc_addr_list addrs = {.n = 0};
	int result;

	(void)timeouts;
	req->ares_done = true;
	if (req->cb) {
		result = status_from_ares(status);
		if (result == 0)
			result = addrs_from_ares(ai, &addrs);
		if (req->starting) {
			/* Known before pc_resolve_start returned: hand it over from the timer. */
			req->result = result;
			if (result == 0)
				req->addrs = addrs;
			uv_timer_start(&req->deadline, on_deadline, 0, 0);
		} else {
			deliver(req, result, result == 0 ? &addrs : NULL);
		}
	}
	if (ai)
		ares_freeaddrinfo(ai);
	req_release(req);
}

static void on_deadline(uv_timer_t *t)
{
	struct pc_resolve_req *req = t->data;

	if (!req->cb)
		return;
	if (req->ares_done)
		deliver(req, req->result, req->result == 0 ? &req->addrs : NULL);
	else
		deliver(req, PC_EDNS_TIMEOUT, NULL); /* abandoned: c-ares frees it later */
}

void pc_resolve_cancel(struct pc_resolve_req *req)
{
	if (req && req->cb)
		req_finish(req);
}

/* "localhost" or a name ending in ".localhost", any case (SPEC: never sent to DNS). */
static bool is_localhost(const char *name, size_t len)
{
	static const char lh[] = "localhost";
	size_t n = sizeof(lh) - 1;

	if (len < n || strncasecmp(name + len - n, lh, n) != 0)
		return false;
	return len == n || name[len - n - 1] == '.';
}

/* True for a label an IPv4 parser would read as a number: decimal (octal with a leading 0)
 * or "0x" and hex digits (inet_aton accepts a bare "0x"). */
static bool label_is_numeric(const char *s, size_t len)
{
	size_t i = 0;
	bool hex = len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');

	for (i = hex ? 2 : 0; i < len; i++) {
		char c = s[i];
		bool digit = c >= '0' && c <= '9';

		if (!digit && !(hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))))
			return false;
	}
	return true;
}

/* The only names c-ares is asked about: labels of 1..63 letters, digits, '-' or '_', at most
 * 253 bytes in all, a last label that is not a number (an IPv4 spelling), not localhost. */
static bool name_is_askable(const char *name)
{
	size_t len = strnlen(name, 254), start = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			if (i == start || i - start > 63)
				return false;
			if (c == '.')
				start = i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return !label_is_numeric(name + start, len - start) && !is_localhost(name, len);
}

int pc_resolve_start(struct pc_resolver *r, const char *name, uint32_t timeout_ms, pc_resolve_cb cb,
                     void *data, struct pc_resolve_req **out)
{
	static const struct ares_addrinfo_hints hints = {
	        .ai_flags = ARES_AI_NOSORT,
	        .ai_family = AF_UNSPEC,
	};
	struct pc_resolve_req *req;

	if (!cb || !name)
		return -EINVAL;
	if (r->freeing)
		return PC_ECANCELED;
	if (!name_is_askable(name))
		return PC_EHOST;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->r = r;
	req->cb = cb;
	req->data = data;
	uv_timer_init(r->loop, &req->deadline);
	req->deadline.data = req;
	uv_timer_start(&req->deadline, on_deadline, timeout_ms, 0);
	req->next = r->reqs;
	if (r->reqs)
		r->reqs->prev = req;
	r->reqs = req;
	r->live++;
	r->stats.requests++;
	if (out)
		*out = req;

	req->starting = true;
	ares_enter(r);
	ares_getaddrinfo(r->channel, name, NULL, &hints, on_addrinfo, req);
	/* Still allocated even if c-ares already called back: its timer is open. */
	req->starting = false;
	ares_leave(r);
	return 0;
}

/* ---- resolver ----------------------------------------------------------------------------- */

static void on_resolver_timer_close(uv_handle_t *h)
{
	resolver_release(h->data);
}

/* Runs outside any c-ares call: ares_destroy calls every outstanding query back with
 * ARES_EDESTRUCTION (all requests are abandoned by now, so nobody hears of it) and reports
 * every socket closed. */
static void destroy_channel(struct pc_resolver *r)
{
	if (!r->channel)
		return;
	ares_destroy(r->channel);
	r->channel = NULL;
	while (r->live_socks)
		sock_close(r->live_socks);
	uv_close((uv_handle_t *)&r->timer, on_resolver_timer_close);
}

void pc_resolver_free(struct pc_resolver *r)
{
	if (!r || r->freeing)
		return;
	r->freeing = true;
	for (struct pc_resolve_req *req = r->reqs; req; req = req->next)
		pc_resolve_cancel(req);
	if (r->depth == 0)
		destroy_channel(r);
}

void pc_resolver_stats(const struct pc_resolver *r, struct pc_resolver_stats *out)
{
	*out = r->stats;
}

/* Parses one server entry of len bytes: "ip", "ip:port", "[ipv6]" or "[ipv6]:port" (an
 * unbracketed IPv6 address never has a port), port 1..65535 in decimal. Strict on purpose:
 * c-ares 1.18's own list parser turns "1.2.3" into 1.2.3.255 and wraps port 99999. */
static bool server_parse(const char *s, size_t len, struct ares_addr_port_node *node)
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL, *end = s + len;
	size_t hlen = len;
	unsigned long p = 53;
	bool bracketed = len > 0 && s[0] == '[';

	memset(node, 0, sizeof(*node));
	if (bracketed) {
		const char *close = memchr(s, ']', len);

		if (!close)
			return false;
		hlen = (size_t)(close - s - 1);
		s++;
		if (close + 1 != end) {
			if (close[1] != ':')
				return false;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		if (colon && !memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port) {
		if (port == end || end - port > 5)
			return false;
		p = 0;
		for (const char *c = port; c < end; c++) {
			if (*c < '0' || *c > '9')
				return false;
			p = p * 10 + (unsigned long)(*c - '0');
		}
		if (p == 0 || p > 65535)
			return false;
	}
	if (!bracketed && inet_pton(AF_INET, host, &node->addr.addr4) == 1)
		node->family = AF_INET;
	else if ((bracketed || !port) && inet_pton(AF_INET6, host, &node->addr.addr6) == 1)
		node->family = AF_INET6;
	else
		return false;
	node->udp_port = (int)p;
	node->tcp_port = (int)p;
	return true;
}

/* Sets the channel's servers from a comma-separated list (blanks around entries ignored). */
static int servers_set(ares_channel channel, const char *list)
{
	struct ares_addr_port_node nodes[RESOLVE_SERVERS_MAX];
	unsigned n = 0;
	const char *s = list;

	for (;;) {
		const char *comma = strchr(s, ',');
		const char *end = comma ? comma : s + strlen(s);

		while (s < end && (*s == ' ' || *s == '\t'))
			s++;
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (n == RESOLVE_SERVERS_MAX || !server_parse(s, (size_t)(end - s), &nodes[n]))
			return PC_ECONFIG;
		if (n > 0)
			nodes[n - 1].next = &nodes[n];
		n++;
		if (!comma)
			break;
		s = comma + 1;
	}
	return ares_set_servers_ports(channel, nodes) == ARES_SUCCESS ? 0 : PC_ECONFIG;
}

int pc_resolver_new(uv_loop_t *loop, const char *servers, struct pc_resolver **out)
{
	/* Names go out exactly as given: no search domains (LOCALDOMAIN, resolv.conf "search"),
	 * no HOSTALIASES, ndots/timeout/attempts/rotate fixed here so RES_OPTIONS cannot change
	 * them. The hosts file is consulted first, as the system resolver would. */
	static char lookups[] = "fb";
	struct ares_options opts = {
	        .flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES,
	        .timeout = RESOLVE_TRY_TIMEOUT_MS,
	        .tries = RESOLVE_TRIES,
	        .ndots = 1,
	        .domains = NULL,
	        .ndomains = 0,
	        .lookups = lookups,
	        .sock_state_cb = on_sock_state,
	};
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS |
	           ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_NOROTATE;
	struct pc_resolver *r;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		free(r);
		return -ENOMEM;
	}
	r->loop = loop;
	r->live = 1; /* the timer */
	opts.sock_state_cb_data = r;
	err = ares_init_options(&r->channel, &opts, mask);
	if (err != ARES_SUCCESS) {
		ares_library_cleanup();
		free(r);
		return err == ARES_ENOMEM ? -ENOMEM : PC_ECONFIG;
	}
	if (servers && *servers && (err = servers_set(r->channel, servers)) != 0) {
		ares_destroy(r->channel);
		ares_library_cleanup();
		free(r);
		return err;
	}
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	*out = r;
	return 0;
}
