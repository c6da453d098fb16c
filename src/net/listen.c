/* Listening sockets and the accept loop; see listen.h and docs/dialing.md. */
#include "net/listen.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "policy/host.h"

#define ACCEPT_BATCH     64  /* accepts per readable event, so other handles get their turn */
#define SHORTAGE_WAIT_MS 100 /* how long accepting rests after EMFILE and friends */
#define PORT_DIGITS_MAX  5
#define LISTEN_TEXT_MAX  PC_HOST_INPUT_MAX

/* ---- addresses ------------------------------------------------------------------------------ */

/* Skips a "scheme://" prefix of one of the listener URL schemes; NULL for another scheme. */
static const char *skip_scheme(const char *text)
{
	static const char *const schemes[] = {"http://", "socks5://", "socks5h://"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);

		if (strncasecmp(text, schemes[i], n) == 0)
			return text + n;
	}
	return strstr(text, "://") ? NULL : text;
}

/* Decimal port of len bytes: 1..5 digits, at most 65535. */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned v = 0;

	if (len == 0 || len > PORT_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > UINT16_MAX)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int addr_parse(const char *text, union pc_sockaddr *out)
{
	const char *rest, *colon;
	size_t len = strnlen(text, LISTEN_TEXT_MAX + 1), host_len;
	struct pc_host host;
	uint16_t port, no_port;

	if (len == 0 || len > LISTEN_TEXT_MAX)
		return -1;
	/* Printable ASCII only: no whitespace for pc_authority_parse to trim, no NUL games. */
	for (size_t i = 0; i < len; i++)
		if (text[i] <= ' ' || text[i] >= 0x7f)
			return -1;
	rest = skip_scheme(text);
	if (!rest || strpbrk(rest, "/?#@"))
		return -1;
	/* The port follows the last ':'; a host with a ':' of its own must be bracketed, so
	 * "::1:80" is refused rather than read as [::1]:80 or as the address ::1:80. */
	colon = strrchr(rest, ':');
	if (!colon)
		return -1;
	host_len = (size_t)(colon - rest);
	if (memchr(rest, ':', host_len) && (rest[0] != '[' || rest[host_len - 1] != ']'))
		return -1;
	if (parse_port(colon + 1, strlen(colon + 1), &port) != 0)
		return -1;
	if (pc_authority_parse(rest, host_len, &host, &no_port) != 0 || no_port != 0)
		return -1;
	if (host.kind == PC_HOST_NAME) {
		if (strcmp(host.name, "localhost") != 0)
			return -1;
		memset(&host.addr, 0, sizeof(host.addr));
		host.addr.in.sin_family = AF_INET;
		host.addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	*out = host.addr;
	pc_addr_set_port(out, port);
	return 0;
}

int pc_listen_addr_parse(const char *text, union pc_sockaddr *out)
{
	if (!out)
		return PC_ECONFIG;
	memset(out, 0, sizeof(*out));
	if (!text || addr_parse(text, out) != 0) {
		memset(out, 0, sizeof(*out));
		return PC_ECONFIG;
	}
	return 0;
}

bool pc_listen_addr_is_loopback(const union pc_sockaddr *a)
{
	if (!a)
		return false;
	if (a->sa.sa_family == AF_INET)
		return (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
	return a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
}

int pc_listen_clamp(union pc_sockaddr *a, bool allow_non_loopback)
{
	uint16_t port;

	if (!a || (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6))
		return -EAFNOSUPPORT;
	if (allow_non_loopback || pc_listen_addr_is_loopback(a))
		return 0;
	if (a->sa.sa_family == AF_INET) {
		port = a->in.sin_port;
		memset(a, 0, sizeof(*a));
		a->in.sin_family = AF_INET;
		a->in.sin_port = port;
		a->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		port = a->in6.sin6_port;
		memset(a, 0, sizeof(*a));
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = port;
		a->in6.sin6_addr = in6addr_loopback;
	}
	return 1;
}

int pc_listen_socket(const union pc_sockaddr *addr, int backlog)
{
	static const int on = 1;
	socklen_t len = addr ? pc_addr_len(addr) : 0;
	int fd, err;

	if (len == 0)
		return -EAFNOSUPPORT;
	fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (addr->sa.sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, &addr->sa, len) != 0 || listen(fd, backlog) != 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* ---- the accept loop ------------------------------------------------------------------------ */

struct pc_listener {
	uv_poll_t poll;
	uv_timer_t retry;
	int fd;
	int open_handles; /* freed when both handles have closed */
	pc_accept_cb cb;
	void *data;
	bool polling;
	bool closing;
	/* Linux hands accepted sockets the listener's TCP_NODELAY: once the first accepted
	 * socket shows it, the setsockopt per connection is skipped. */
	bool nodelay_checked;
	bool nodelay_inherited;
	struct pc_listener_stats stats;
};

static bool accepting(const struct pc_listener *l)
{
	return !l->stats.paused && !l->stats.waiting && !l->closing;
}

static void on_readable(uv_poll_t *h, int status, int events);
static void wait_for_resources(struct pc_listener *l, int err);

/* Polls exactly while accepting is wanted. */
static void update(struct pc_listener *l)
{
	int rc;

	if (accepting(l) && !l->polling) {
		rc = uv_poll_start(&l->poll, UV_READABLE, on_readable);
		l->polling = rc == 0;
		if (rc != 0)
			wait_for_resources(l, rc);
	} else if (!accepting(l) && l->polling) {
		uv_poll_stop(&l->poll);
		l->polling = false;
	}
}

static void on_retry(uv_timer_t *t)
{
	struct pc_listener *l = t->data;

	l->stats.retries++;
	l->stats.waiting = false;
	update(l);
}

/* Out of fds (or memory, or the socket is in a state polling cannot fix): stop polling, as the
 * pending connection would make a level-triggered poll fire at once forever, and look again
 * later. Accepting and closing to shed load would tell the client nothing useful. */
static void wait_for_resources(struct pc_listener *l, int err)
{
	l->stats.shortages++;
	l->stats.last_error = err;
	l->stats.waiting = true;
	update(l);
	uv_timer_start(&l->retry, on_retry, SHORTAGE_WAIT_MS, 0);
}

/* Errors about one pending connection, not about the listener: Linux reports network errors
 * of the new connection through accept (accept(2), "Error handling"); the next may be fine. */
static bool error_is_per_connection(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM: /* a firewall rule */
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENONET:
	case ENOPROTOOPT:
	case EOPNOTSUPP:
		return true;
	default:
		return false;
	}
}

/* TCP_NODELAY on an accepted socket, by inheritance when the kernel provides it. Setting it
 * fails only for a non-TCP socket, where there is nothing to disable. */
static void set_nodelay(struct pc_listener *l, int fd)
{
	static const int on = 1;
	int v = 0;
	socklen_t len = sizeof(v);

	if (l->nodelay_inherited)
		return;
	if (!l->nodelay_checked) {
		l->nodelay_checked = true;
		if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0) {
			l->nodelay_inherited = true;
			return;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void accept_batch(struct pc_listener *l)
{
	/* accepting() is checked before each accept: the callback may pause or close. */
	for (int i = 0; i < ACCEPT_BATCH && accepting(l); i++) {
		union pc_sockaddr peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = errno;

			if (err == EAGAIN || err == EWOULDBLOCK)
				return;
			if (error_is_per_connection(err)) {
				l->stats.last_error = -err;
				continue;
			}
			wait_for_resources(l, -err);
			return;
		}
		if (len > sizeof(peer))
			memset(&peer, 0, sizeof(peer)); /* not IP: nothing meaningful to show */
		set_nodelay(l, fd);
		l->stats.accepted++;
		l->cb(l->data, fd, &peer);
	}
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct pc_listener *l = h->data;

	(void)events;
	l->stats.readable++;
	if (status < 0) {
		/* libuv has stopped the handle (POLLERR); never spin on it. */
		l->polling = false;
		wait_for_resources(l, status);
		return;
	}
	accept_batch(l);
}

int pc_listener_start(uv_loop_t *loop, int fd, pc_accept_cb cb, void *data,
                      struct pc_listener **out)
{
	static const int on = 1, off = 0;
	struct pc_listener *l;
	int rc;

	if (!loop || fd < 0 || !cb || !out) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	rc = uv_poll_init(loop, &l->poll, fd);
	if (rc != 0) {
		close(fd);
		free(l);
		return rc;
	}
	uv_timer_init(loop, &l->retry);
	l->poll.data = l;
	l->retry.data = l;
	l->open_handles = 2;
	l->fd = fd;
	l->cb = cb;
	l->data = data;
	/* for the accepted sockets to inherit (see set_nodelay); harmless where they do not */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	/* A connection is accepted once its client has spoken (HTTP and SOCKS5 clients speak
	 * first): its first read needs no wake-up of its own, and a client that never speaks
	 * holds no descriptor. After a second the kernel hands a silent one over anyway (on the
	 * ACK of its first SYN-ACK retransmission), and the head timeout takes it from there. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &on, sizeof(on));
	/* Accepted sockets inherit delayed ACKs from the start: the ACK of a client's first
	 * request rides on the answer, where quick-ACK mode (a new connection's default) sends it
	 * alone, a segment the client's CPU pays for. A front end that must wait for more of the
	 * client's bytes turns quick ACKs back on (pc_stream_ack_now). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof(off));
	update(l);
	*out = l;
	return 0;
}

void pc_listener_pause(struct pc_listener *l)
{
	l->stats.paused = true;
	update(l);
}

void pc_listener_resume(struct pc_listener *l)
{
	l->stats.paused = false;
	if (l->stats.waiting) {
		uv_timer_stop(&l->retry);
		l->stats.waiting = false;
	}
	update(l);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct pc_listener *l = h->data;

	if (--l->open_handles == 0)
		free(l);
}

void pc_listener_close(struct pc_listener *l)
{
	if (!l || l->closing)
		return;
	l->closing = true;
	l->cb = NULL;
	/* Closing the poll handle takes the fd out of epoll right away (uv_poll docs), so the
	 * fd can be closed now and the port is free when this returns. */
	uv_close((uv_handle_t *)&l->poll, on_handle_closed);
	uv_close((uv_handle_t *)&l->retry, on_handle_closed);
	close(l->fd);
	l->fd = -1;
}

int pc_listener_address(const struct pc_listener *l, union pc_sockaddr *out)
{
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	if (getsockname(l->fd, &out->sa, &len) != 0)
		return -errno;
	return 0;
}

int pc_listener_fd(const struct pc_listener *l)
{
	return l->fd;
}

void pc_listener_stats(const struct pc_listener *l, struct pc_listener_stats *out)
{
	*out = l->stats;
}
