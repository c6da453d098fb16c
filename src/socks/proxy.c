#include "socks/proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/error.h"
#include "core/log.h"
#include "net/dial.h"
#include "net/relay.h"
#include "net/stream.h"
#include "policy/decide.h"
#include "proxy/server.h"
#include "socks/wire.h"

/* Decisions an association remembers, and for how long. */
#define UDP_CACHE    32
#define UDP_CACHE_MS 60000
/* Destinations an association has sent to: replies are accepted from these only. */
#define UDP_PEERS 64
/* Blocked datagrams logged per association: a burst, then one a second. */
#define UDP_AUDIT_BURST  10
#define UDP_AUDIT_PER_MS 1000

enum state {
	S_GREETING,
	S_AUTH,
	S_REQUEST,
	S_DECIDE,
	S_DIAL,
	S_REPLY, /* writing a reply; then the next state */
	S_TUNNEL,
	S_UDP,
	S_CLOSING,
};

struct udp_assoc;

struct conn {
	struct pc_conn_link link;
	struct pc_server *srv;
	uv_tcp_t client;
	uv_timer_t timer;
	union pc_sockaddr peer;
	enum state state;
	enum state after_reply; /* where a reply leads; S_CLOSING closes */
	int handles;
	bool closing;
	bool reading;
	bool eof;        /* the client has ended its side */
	bool quick_acks; /* the client's bytes are acknowledged at once (pc_stream_ack_now) */
	uint8_t in[PC_SOCKS_AUTH_MAX + PC_SOCKS_REQUEST_MAX];
	size_t in_len;
	uint8_t out[PC_SOCKS_REPLY_MAX];
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;

	struct pc_policy *policy;
	struct pc_request preq;
	struct pc_decision decision;
	struct pc_decide_req *pending;
	struct pc_dial *dial;
	bool refused_denied, refused_loop;
	uv_tcp_t *up;
	struct pc_relay relay;
	struct udp_assoc *udp;
};

static void conn_close(struct conn *c);
static void start_reading(struct conn *c);
static void handle_input(struct conn *c);

static const struct pc_settings *settings(const struct conn *c)
{
	return pc_policy_settings(c->policy != NULL ? c->policy : pc_server_policy(c->srv));
}

/* ---- closing ---- */

static void conn_unref(struct conn *c)
{
	if (--c->handles > 0)
		return;
	pc_policy_unref(c->policy);
	pc_server_conn_remove(c->srv, &c->link);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	conn_unref(h->data);
}

static void on_up_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	free(h);
	conn_unref(c);
}

static void udp_close(struct udp_assoc *u);

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->state == S_TUNNEL)
		pc_relay_stop(&c->relay);
	pc_decide_cancel(c->pending);
	c->pending = NULL;
	pc_dial_cancel(c->dial);
	c->dial = NULL;
	if (c->udp != NULL)
		udp_close(c->udp);
	c->client.data = c;
	c->timer.data = c;
	uv_close((uv_handle_t *)&c->client, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	if (c->up != NULL) {
		c->handles++;
		c->up->data = c;
		uv_close((uv_handle_t *)c->up, on_up_closed);
		c->up = NULL;
	}
}

static void refused(struct conn *c, const char *what);

/* The head deadline: the whole negotiation must be over by then. */
static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	refused(c, "negotiation timed out");
	conn_close(c);
}

/* ---- replies ---- */

static void after_reply(struct conn *c);

static void on_written(uv_write_t *req, int status)
{
	struct conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	after_reply(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	conn_close(req->data);
}

/* Sends len bytes of c->out, then goes to next (S_CLOSING: shut down and close). */
static void reply(struct conn *c, size_t len, enum state next)
{
	uv_buf_t b = uv_buf_init((char *)c->out, (unsigned)len);
	int rc;

	c->state = S_REPLY;
	c->after_reply = next;
	rc = uv_try_write((uv_stream_t *)&c->client, &b, 1);
	if (rc == (int)len) {
		after_reply(c);
		return;
	}
	if (rc == UV_EAGAIN)
		rc = 0;
	if (rc < 0) {
		conn_close(c);
		return;
	}
	b.base += rc;
	b.len -= (size_t)rc;
	c->write_req.data = c;
	if (uv_write(&c->write_req, (uv_stream_t *)&c->client, &b, 1, on_written) < 0)
		conn_close(c);
}

static void reply_code(struct conn *c, uint8_t rep, const union pc_sockaddr *bnd, enum state next)
{
	int n = pc_socks_reply_build(c->out, sizeof(c->out), rep, bnd);

	if (n < 0) {
		conn_close(c);
		return;
	}
	reply(c, (size_t)n, next);
}

static void start_tunnel(struct conn *c);
static void udp_start(struct conn *c);

static void after_reply(struct conn *c)
{
	switch (c->after_reply) {
	case S_CLOSING:
		c->state = S_CLOSING;
		uv_read_stop((uv_stream_t *)&c->client);
		c->shutdown_req.data = c;
		if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->client, on_shutdown) < 0)
			conn_close(c);
		return;
	case S_TUNNEL:
		start_tunnel(c);
		return;
	case S_UDP:
		/* the association runs until the control connection ends */
		c->state = S_UDP;
		start_reading(c);
		return;
	default:
		c->state = c->after_reply;
		handle_input(c);
		return;
	}
}

/* A policy block: recorded, answered 0x02, closed. */
static void block(struct conn *c)
{
	struct pc_block b;

	if (c->decision.verdict == PC_VERDICT_ASK)
		c->decision.verdict = PC_VERDICT_DENY; /* nobody to ask yet */
	pc_block_fill(&b, &c->preq, NULL, 0, &c->decision, &c->peer.sa, settings(c)->mode);
	pc_server_record_block(c->srv, &b);
	reply_code(c, PC_SOCKS_REP_NOT_ALLOWED, NULL, S_CLOSING);
}

/* A block decided here rather than by the policy. */
static void block_as(struct conn *c, enum pc_reason reason, enum pc_source source)
{
	c->decision.verdict = PC_VERDICT_DENY;
	c->decision.reason = reason;
	c->decision.source = source;
	block(c);
}

/* ---- the request ---- */

static void on_dialed(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                      const union pc_sockaddr *local);

static bool dial_check(void *data, const struct sockaddr *sa)
{
	struct conn *c = data;

	if (pc_policy_addr_denied(c->policy, sa, c->preq.port)) {
		c->refused_denied = true;
		return false;
	}
	if (pc_server_is_self(c->srv, sa)) {
		c->refused_loop = true;
		return false;
	}
	return true;
}

static void decided_tcp(struct conn *c)
{
	const struct pc_settings *s = settings(c);
	uint32_t timeout = (uint32_t)s->connect_timeout_s * 1000;
	int rc;

	if (c->decision.verdict != PC_VERDICT_ALLOW) {
		block(c);
		return;
	}
	for (unsigned i = 0; i < c->decision.addrs.n; i++) {
		if (pc_server_is_self(c->srv, &c->decision.addrs.addrs[i].sa)) {
			reply_code(c, PC_SOCKS_REP_HOST_UNREACHABLE, NULL, S_CLOSING);
			return;
		}
	}
	c->state = S_DIAL;
	if (c->decision.resolve_at_dial)
		rc = pc_dial_start_name(c->client.loop, pc_server_resolver(c->srv),
		                        c->preq.host.name, c->preq.port, timeout, sizeof(*c->up),
		                        dial_check, on_dialed, c, &c->dial);
	else
		rc = pc_dial_start(c->client.loop, &c->decision.addrs, timeout, sizeof(*c->up),
		                   on_dialed, c, &c->dial);
	if (rc < 0) {
		c->dial = NULL;
		reply_code(c, pc_socks_reply_for_error(rc), NULL, S_CLOSING);
	}
}

static void on_decided(void *data, const struct pc_decision *d)
{
	struct conn *c = data;

	c->pending = NULL;
	c->decision = *d;
	decided_tcp(c);
}

static void on_dialed(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                      const union pc_sockaddr *local)
{
	struct conn *c = data;
	(void)peer;

	c->dial = NULL;
	if (status < 0) {
		if (c->refused_denied) {
			block_as(c, PC_REASON_DENIED, PC_SOURCE_BASELINE_POLICY);
		} else {
			reply_code(c,
			           c->refused_loop ? PC_SOCKS_REP_HOST_UNREACHABLE
			                           : pc_socks_reply_for_error(status),
			           NULL, S_CLOSING);
		}
		return;
	}
	/* closed by conn_close, freed in on_up_closed */
	c->up = tcp;
	/* the bound address in the reply is the real one the origin sees (the dial asked) */
	reply_code(c, PC_SOCKS_REP_SUCCEEDED, local, S_TUNNEL);
}

static void on_tunnel_done(struct pc_relay *r, int status)
{
	struct conn *c = r->data;
	(void)status;

	c->client.data = c;
	c->timer.data = c;
	conn_close(c);
}

static void start_tunnel(struct conn *c)
{
	const struct pc_settings *s = settings(c);
	int rc;

	c->state = S_TUNNEL;
	c->reading = false; /* the relay takes over the reading as it is */
	rc = pc_relay_start(&c->relay, pc_server_pool(c->srv), &c->client, c->up, &c->timer,
	                    (uint64_t)s->tunnel_idle_timeout_s * 1000, (const char *)c->in,
	                    c->in_len, NULL, 0, on_tunnel_done, c);
	c->in_len = 0;
	if (rc < 0) {
		c->client.data = c;
		c->timer.data = c;
		conn_close(c);
	}
}

static void handle_request(struct conn *c, const struct pc_socks_request *r)
{
	const struct pc_settings *s;
	int rc;

	c->policy = pc_policy_ref(pc_server_policy(c->srv));
	s = pc_policy_settings(c->policy);
	uv_timer_stop(&c->timer);
	memset(&c->preq, 0, sizeof(c->preq));
	c->preq.host_ok = true;
	c->preq.host = r->host;
	c->preq.port = r->port;
	if (r->cmd == PC_SOCKS_CMD_UDP_ASSOCIATE) {
		c->preq.protocol = PC_PROTO_SOCKS5_UDP;
		if (!s->enable_socks5_udp) {
			reply_code(c, PC_SOCKS_REP_COMMAND_NOT_SUPPORTED, NULL, S_CLOSING);
			return;
		}
		/* The association itself is a request: a disabled proxy refuses it like any other,
		 * and limited mode refuses UDP, which is never read-only. */
		if (!s->enabled)
			block_as(c, PC_REASON_PROXY_DISABLED, PC_SOURCE_PROXY_STATE);
		else if (s->mode == PC_MODE_LIMITED)
			block_as(c, PC_REASON_METHOD_NOT_ALLOWED, PC_SOURCE_MODE_GUARD);
		else
			udp_start(c);
		return;
	}
	c->preq.protocol = PC_PROTO_SOCKS5_TCP;
	c->state = S_DECIDE;
	rc = pc_decide(c->policy, pc_server_resolver(c->srv), &c->preq, &c->decision, on_decided, c,
	               &c->pending);
	if (rc == PC_POLICY_DECIDED) {
		decided_tcp(c);
	} else if (rc < 0) {
		c->pending = NULL;
		reply_code(c, PC_SOCKS_REP_GENERAL_FAILURE, NULL, S_CLOSING);
	}
}

/* Consumes n bytes at the front of the input. */
static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* One log line for each client whose negotiation is refused. */
static void refused(struct conn *c, const char *what)
{
	char peer[PC_ADDR_STRLEN];

	if (pc_addr_format(&c->peer.sa, peer, sizeof(peer)) < 0)
		peer[0] = '\0';
	pc_log_info("SOCKS client %s: %s", peer, what);
}

/* The client ended its side in the middle of a message: the answer RFC 1928 and RFC 1929 give
 * a malformed one (general failure), where they give one. A client that ends between messages
 * has nothing wrong with it. */
static void truncated(struct conn *c)
{
	int n;

	if (c->in_len == 0) {
		conn_close(c);
		return;
	}
	switch (c->state) {
	case S_AUTH:
		refused(c, "truncated username/password request");
		n = pc_socks_auth_reply_build(c->out, sizeof(c->out), PC_SOCKS_AUTH_FAILURE);
		reply(c, (size_t)n, S_CLOSING);
		return;
	case S_REQUEST:
		refused(c, "truncated request");
		reply_code(c, PC_SOCKS_REP_GENERAL_FAILURE, NULL, S_CLOSING);
		return;
	default:
		refused(c, "truncated greeting");
		conn_close(c);
		return;
	}
}

static void handle_input(struct conn *c)
{
	int n;

	switch (c->state) {
	case S_GREETING: {
		struct pc_socks_greeting g;
		uint8_t method;

		n = pc_socks_greeting_parse(c->in, c->in_len, &g);
		if (n == PC_AGAIN)
			break;
		if (n < 0) {
			/* SOCKS4/4a, another version, no methods: nothing to answer in their
			 * protocol */
			refused(c, n == PC_EUNSUPPORTED ? "SOCKS4 is not supported"
			                                : "malformed greeting");
			conn_close(c);
			return;
		}
		consume(c, (size_t)n);
		/* credentials are accepted without meaning for now */
		method = pc_socks_choose_method(g.methods, PC_SOCKS_METHODS_NO_AUTH |
		                                                   PC_SOCKS_METHODS_USERPASS);
		n = pc_socks_method_build(c->out, sizeof(c->out), method);
		if (method == PC_SOCKS_METHOD_NONE_ACCEPTABLE) {
			refused(c, "no acceptable authentication method");
			reply(c, (size_t)n, S_CLOSING);
		} else {
			reply(c, (size_t)n,
			      method == PC_SOCKS_METHOD_USERPASS ? S_AUTH : S_REQUEST);
		}
		return;
	}
	case S_AUTH: {
		struct pc_socks_auth a;

		n = pc_socks_auth_parse(c->in, c->in_len, &a);
		if (n == PC_AGAIN)
			break;
		if (n < 0) {
			refused(c, "malformed username/password request");
			n = pc_socks_auth_reply_build(c->out, sizeof(c->out),
			                              PC_SOCKS_AUTH_FAILURE);
			reply(c, (size_t)n, S_CLOSING);
			return;
		}
		consume(c, (size_t)n);
		n = pc_socks_auth_reply_build(c->out, sizeof(c->out), PC_SOCKS_AUTH_SUCCESS);
		reply(c, (size_t)n, S_REQUEST);
		return;
	}
	case S_REQUEST: {
		struct pc_socks_request r;
		uint8_t rep = PC_SOCKS_REP_GENERAL_FAILURE;

		n = pc_socks_request_parse(c->in, c->in_len, &r, &rep);
		if (n == PC_AGAIN)
			break;
		if (n < 0) {
			refused(c, pc_socks_reply_name(rep));
			reply_code(c, rep, NULL, S_CLOSING);
			return;
		}
		/* Bytes behind the request are the first of the tunnel. Reading goes on while the
		 * request is decided and dialled: what comes waits in c->in (reading stops when it
		 * is full), and the tunnel takes the reading over without an epoll change. */
		consume(c, (size_t)n);
		handle_request(c, &r);
		return;
	}
	default:
		return;
	}
	if (c->eof) {
		truncated(c);
		return;
	}
	if (c->in_len == sizeof(c->in)) {
		conn_close(c);
		return;
	}
	if (c->in_len > 0) /* a message in pieces: the client may wait for an ACK */
		pc_stream_ack_now(&c->client, &c->quick_acks);
	start_reading(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	(void)suggested;

	*buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	(void)buf;

	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS) {
		/* c->in is full of early tunnel bytes: the rest waits in the kernel */
		uv_read_stop(s);
		c->reading = false;
		return;
	}
	if (nread == UV_EOF && c->state != S_UDP) {
		/* libuv reads no more; a message cut short is answered once it is looked at */
		c->reading = false;
		c->eof = true;
		handle_input(c);
		return;
	}
	if (nread < 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)nread;
	if (c->state == S_UDP) {
		/* the control connection carries nothing after the reply */
		c->in_len = 0;
		return;
	}
	handle_input(c);
}

static void start_reading(struct conn *c)
{
	if (c->reading || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->client, on_alloc, on_read) < 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

/* ---- UDP ASSOCIATE ---- */

struct udp_entry {
	bool used;
	bool pending; /* a lookup is under way */
	uint64_t expires;
	struct pc_host host;
	uint16_t port;
	struct pc_decision decision;
	struct pc_decide_req *lookup;     /* the policy's lookup (step 5) */
	struct pc_resolve_req *resolving; /* with allow_local_binding: ours */
	struct pc_request req;
	uint8_t *held; /* the datagram that started the lookup */
	size_t held_len;
	struct udp_assoc *assoc;
};

struct udp_assoc {
	struct conn *conn;
	uv_udp_t relay;  /* faces the client */
	uv_udp_t out[2]; /* to destinations: IPv4, IPv6 */
	bool out_open[2];
	uv_timer_t idle;
	int handles;
	bool closing;
	union pc_sockaddr client; /* where datagrams may come from; port 0 until learned */
	uint64_t last_activity;
	struct udp_entry cache[UDP_CACHE];
	union pc_sockaddr peers[UDP_PEERS];
	unsigned n_peers, next_peer;
	unsigned audit_tokens;
	uint64_t audit_refill;
	uint64_t dropped;
	uint8_t buf[PC_SOCKS_UDP_MAX + PC_SOCKS_UDP_HEADER_MAX];
};

static void udp_unref(struct udp_assoc *u)
{
	if (--u->handles > 0)
		return;
	free(u);
}

static void on_udp_closed(uv_handle_t *h)
{
	udp_unref(h->data);
}

/* Forgets every decision, abandoning lookups under way and the datagrams they hold. */
static void udp_forget(struct udp_assoc *u)
{
	for (unsigned i = 0; i < UDP_CACHE; i++) {
		struct udp_entry *e = &u->cache[i];

		pc_decide_cancel(e->lookup);
		pc_resolve_cancel(e->resolving);
		free(e->held);
		memset(e, 0, sizeof(*e));
	}
}

static void udp_close(struct udp_assoc *u)
{
	if (u->closing)
		return;
	u->closing = true;
	u->conn->udp = NULL;
	udp_forget(u);
	uv_close((uv_handle_t *)&u->relay, on_udp_closed);
	uv_close((uv_handle_t *)&u->idle, on_udp_closed);
	for (int i = 0; i < 2; i++)
		if (u->out_open[i])
			uv_close((uv_handle_t *)&u->out[i], on_udp_closed);
}

static bool same_addr(const union pc_sockaddr *a, const struct sockaddr *b, bool with_port)
{
	if (a->sa.sa_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)b;
		return a->in.sin_addr.s_addr == in->sin_addr.s_addr &&
		       (!with_port || a->in.sin_port == in->sin_port);
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)b;
		return memcmp(&a->in6.sin6_addr, &in6->sin6_addr, 16) == 0 &&
		       (!with_port || a->in6.sin6_port == in6->sin6_port);
	}
	return false;
}

static void udp_audit(struct udp_assoc *u, const struct pc_request *req,
                      const struct pc_decision *d)
{
	struct conn *c = u->conn;
	uint64_t now = uv_now(c->client.loop);
	struct pc_decision dd = *d;
	struct pc_block b;

	/* A flood of blocked datagrams must not flood the log: a token bucket, refilled one
	 * token a period from the time it was last full, however long the flood lasts. */
	uint64_t due = (now - u->audit_refill) / UDP_AUDIT_PER_MS;

	if (due >= UDP_AUDIT_BURST - u->audit_tokens) {
		u->audit_tokens = UDP_AUDIT_BURST;
		u->audit_refill = now;
	} else {
		u->audit_tokens += (unsigned)due;
		u->audit_refill += due * UDP_AUDIT_PER_MS;
	}
	if (u->audit_tokens == 0) {
		u->dropped++;
		return;
	}
	u->audit_tokens--;
	if (dd.verdict == PC_VERDICT_ASK)
		dd.verdict = PC_VERDICT_DENY;
	pc_block_fill(&b, req, NULL, 0, &dd, &c->peer.sa, settings(c)->mode);
	pc_server_record_block(c->srv, &b);
}

static void on_out_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags);
static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static int udp_out_open(struct udp_assoc *u, int family)
{
	int i = family == AF_INET ? 0 : 1;
	int rc;

	if (u->out_open[i])
		return 0;
	rc = uv_udp_init_ex(u->conn->client.loop, &u->out[i], (unsigned)family);
	if (rc < 0)
		return rc;
	u->out[i].data = u;
	u->out_open[i] = true;
	u->handles++;
	return 0;
}

static void udp_remember_peer(struct udp_assoc *u, const union pc_sockaddr *a)
{
	for (unsigned i = 0; i < u->n_peers; i++)
		if (same_addr(&u->peers[i], &a->sa, true))
			return;
	u->peers[u->next_peer] = *a;
	u->next_peer = (u->next_peer + 1) % UDP_PEERS;
	if (u->n_peers < UDP_PEERS)
		u->n_peers++;
}

static void udp_send(struct udp_assoc *u, const struct udp_entry *e, const uint8_t *data,
                     size_t len)
{
	const union pc_sockaddr *to;
	int i, rc;
	uv_buf_t b;

	if (e->decision.addrs.n == 0)
		return;
	to = &e->decision.addrs.addrs[0];
	i = to->sa.sa_family == AF_INET ? 0 : 1;
	if (pc_server_is_self(u->conn->srv, &to->sa) || udp_out_open(u, to->sa.sa_family) < 0)
		return;
	if (!uv_is_active((uv_handle_t *)&u->out[i])) {
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = (sa_family_t)to->sa.sa_family;
		if (uv_udp_bind(&u->out[i], (struct sockaddr *)&any, 0) < 0 ||
		    uv_udp_recv_start(&u->out[i], on_udp_alloc, on_out_recv) < 0)
			return;
	}
	udp_remember_peer(u, to);
	b = uv_buf_init((char *)data, (unsigned)len);
	rc = uv_udp_try_send(&u->out[i], &b, 1, &to->sa);
	if (rc < 0 && rc != UV_EAGAIN)
		pc_log_debug("UDP send failed: %s", uv_strerror(rc));
}

/* Acts on a new decision for e: the datagram that asked (data, len) goes out if allowed. */
static void udp_decided(struct udp_entry *e, const uint8_t *data, size_t len)
{
	struct udp_assoc *u = e->assoc;

	e->pending = false;
	e->expires = uv_now(u->conn->client.loop) + UDP_CACHE_MS;
	if (e->decision.verdict != PC_VERDICT_ALLOW)
		udp_audit(u, &e->req, &e->decision);
	else if (data != NULL)
		udp_send(u, e, data, len);
}

/* Acts on the decision for e with the datagram held while it was made. */
static void udp_decided_held(struct udp_entry *e)
{
	udp_decided(e, e->held, e->held_len);
	free(e->held);
	e->held = NULL;
}

static void on_udp_decided(void *data, const struct pc_decision *d)
{
	struct udp_entry *e = data;

	e->lookup = NULL;
	e->decision = *d;
	udp_decided_held(e);
}

/* With allow_local_binding an allowed name is resolved where it is used (SPEC §3 step 5), as
 * the dialer does for TCP: each answer is checked against the denylist's addresses, and the
 * datagrams go to the first that passes. */
static void on_udp_resolved(void *data, int status, const struct pc_addr_list *addrs)
{
	struct udp_entry *e = data;
	struct udp_assoc *u = e->assoc;
	struct pc_decision *d = &e->decision;
	bool denied = false;

	e->resolving = NULL;
	d->resolve_at_dial = false;
	d->addrs.n = 0;
	for (unsigned i = 0; status == 0 && i < addrs->n; i++) {
		union pc_sockaddr a = addrs->addrs[i];

		pc_addr_set_port(&a, e->port);
		if (pc_policy_addr_denied(u->conn->policy, &a.sa, e->port))
			denied = true;
		else
			d->addrs.addrs[d->addrs.n++] = a;
	}
	if (d->addrs.n == 0 && !denied) {
		/* no address is no policy block: the datagram is lost, the next one asks again */
		pc_log_debug("SOCKS UDP: %s: %s", e->host.name, pc_strerror(status));
		u->dropped++;
		free(e->held);
		e->held = NULL;
		e->pending = false;
		e->used = false;
		return;
	}
	if (d->addrs.n == 0) {
		d->verdict = PC_VERDICT_DENY;
		d->reason = PC_REASON_DENIED;
		d->source = PC_SOURCE_BASELINE_POLICY;
	}
	udp_decided_held(e);
}

/* The remembered decision for host:port (*hit), or the entry to reuse for a new one (NULL when
 * every entry waits for a lookup). */
static struct udp_entry *udp_find(struct udp_assoc *u, const struct pc_host *h, uint16_t port,
                                  bool *hit)
{
	uint64_t now = uv_now(u->conn->client.loop);
	struct udp_entry *victim = NULL;

	*hit = false;
	for (unsigned i = 0; i < UDP_CACHE; i++) {
		struct udp_entry *e = &u->cache[i];
		if (e->used && e->port == port && e->host.len == h->len &&
		    memcmp(e->host.name, h->name, h->len) == 0 &&
		    (e->pending || e->expires > now)) {
			*hit = true;
			return e;
		}
		if (!e->pending && (victim == NULL || !e->used || e->expires < victim->expires))
			victim = e;
	}
	return victim;
}

/* Each datagram is a request of its own, judged by the policy generation current when it
 * arrives: after a reload, what was decided before is forgotten, and replies are accepted again
 * only from destinations contacted since. */
static void udp_follow_policy(struct udp_assoc *u)
{
	struct conn *c = u->conn;
	struct pc_policy *current = pc_server_policy(c->srv);

	if (current == c->policy)
		return;
	udp_forget(u);
	u->n_peers = u->next_peer = 0;
	pc_policy_unref(c->policy);
	c->policy = pc_policy_ref(current);
}

static void udp_datagram(struct udp_assoc *u, const uint8_t *dgram, size_t len)
{
	struct conn *c = u->conn;
	struct pc_socks_udp d;
	struct udp_entry *e;
	bool hit;
	int n = pc_socks_udp_parse(dgram, len, &d);

	if (n < 0 || d.frag != 0) {
		u->dropped++;
		return;
	}
	udp_follow_policy(u);
	e = udp_find(u, &d.host, d.port, &hit);
	if (e == NULL || (hit && e->pending)) {
		u->dropped++; /* one datagram waits per lookup */
		return;
	}
	if (hit) {
		if (e->decision.verdict == PC_VERDICT_ALLOW)
			udp_send(u, e, d.data.p, d.data.len);
		else
			udp_audit(u, &e->req, &e->decision);
		return;
	}
	/* a new destination: decide it */
	free(e->held);
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->assoc = u;
	e->host = d.host;
	e->port = d.port;
	e->req.protocol = PC_PROTO_SOCKS5_UDP;
	e->req.host_ok = true;
	e->req.host = d.host;
	e->req.port = d.port;
	n = pc_decide(c->policy, pc_server_resolver(c->srv), &e->req, &e->decision, on_udp_decided,
	              e, &e->lookup);
	if (n == PC_POLICY_DECIDED && e->decision.verdict == PC_VERDICT_ALLOW &&
	    e->decision.resolve_at_dial) {
		n = pc_resolve_start(pc_server_resolver(c->srv), e->host.name,
		                     PC_POLICY_DNS_TIMEOUT_MS, on_udp_resolved, e, &e->resolving);
		if (n == 0)
			n = PC_POLICY_NEEDS_DNS;
	}
	if (n == PC_POLICY_NEEDS_DNS) {
		e->pending = true;
		e->held = malloc(d.data.len ? d.data.len : 1);
		if (e->held != NULL) {
			memcpy(e->held, d.data.p, d.data.len);
			e->held_len = d.data.len;
		}
		return;
	}
	if (n < 0) {
		e->used = false;
		return;
	}
	udp_decided(e, d.data.p, d.data.len);
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct udp_assoc *u = h->data;
	(void)suggested;

	/* replies are received behind room for the header they get */
	*buf = uv_buf_init((char *)u->buf + PC_SOCKS_UDP_HEADER_MAX, PC_SOCKS_UDP_MAX);
}

static void on_relay_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *from, unsigned flags)
{
	struct udp_assoc *u = h->data;
	bool port_known;

	if (nread <= 0 || from == NULL || u->closing)
		return;
	if (flags & UV_UDP_PARTIAL) {
		u->dropped++;
		return;
	}
	/* datagrams are accepted only from the client's own address */
	port_known = pc_addr_port(&u->client) != 0;
	if (!same_addr(&u->client, from, port_known)) {
		u->dropped++;
		return;
	}
	if (!port_known)
		memcpy(&u->client, from,
		       from->sa_family == AF_INET ? sizeof(struct sockaddr_in)
		                                  : sizeof(struct sockaddr_in6));
	u->last_activity = uv_now(h->loop);
	udp_datagram(u, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_out_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *from, unsigned flags)
{
	struct udp_assoc *u = h->data;
	union pc_sockaddr src;
	bool known = false;
	uv_buf_t b;
	int n;

	if (nread < 0 || from == NULL || u->closing || (flags & UV_UDP_PARTIAL))
		return;
	/* only destinations the client sent to may answer */
	for (unsigned i = 0; i < u->n_peers && !known; i++)
		known = same_addr(&u->peers[i], from, true);
	if (!known || pc_addr_port(&u->client) == 0) {
		u->dropped++;
		return;
	}
	memset(&src, 0, sizeof(src));
	memcpy(&src, from,
	       from->sa_family == AF_INET ? sizeof(struct sockaddr_in)
	                                  : sizeof(struct sockaddr_in6));
	n = pc_socks_udp_header_len(&src);
	if (n < 0)
		return;
	n = pc_socks_udp_build(u->buf + PC_SOCKS_UDP_HEADER_MAX - (size_t)n,
	                       (size_t)n + (size_t)nread, &src, buf->base, (size_t)nread);
	if (n < 0)
		return;
	u->last_activity = uv_now(h->loop);
	b = uv_buf_init((char *)u->buf + PC_SOCKS_UDP_HEADER_MAX - pc_socks_udp_header_len(&src),
	                (unsigned)n);
	uv_udp_try_send(&u->relay, &b, 1, &u->client.sa);
}

static void on_udp_idle(uv_timer_t *t)
{
	struct udp_assoc *u = t->data;
	uint64_t idle = (uint64_t)settings(u->conn)->udp_idle_timeout_s * 1000;
	uint64_t quiet = uv_now(t->loop) - u->last_activity;

	if (quiet >= idle) {
		/* the association ends, and with it the control connection */
		conn_close(u->conn);
		return;
	}
	uv_timer_start(t, on_udp_idle, idle - quiet, 0);
}

static void udp_start(struct conn *c)
{
	struct udp_assoc *u;
	union pc_sockaddr local, bnd;
	int len = sizeof(local), fd, rc;

	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		reply_code(c, PC_SOCKS_REP_GENERAL_FAILURE, NULL, S_CLOSING);
		return;
	}
	u->conn = c;
	/* The relay socket faces the client: it sits on the address the client reached us at
	 * (and, under run --isolate, in the client's network namespace). */
	if (uv_tcp_getsockname(&c->client, &local.sa, &len) < 0 ||
	    (fd = pc_server_udp_socket(c->srv, &local)) < 0) {
		free(u);
		reply_code(c, PC_SOCKS_REP_GENERAL_FAILURE, NULL, S_CLOSING);
		return;
	}
	uv_udp_init(c->client.loop, &u->relay);
	u->relay.data = u;
	u->handles = 2;
	uv_timer_init(c->client.loop, &u->idle);
	u->idle.data = u;
	c->udp = u;
	rc = uv_udp_open(&u->relay, fd);
	if (rc < 0) {
		close(fd);
	} else {
		len = sizeof(bnd);
		rc = uv_udp_getsockname(&u->relay, &bnd.sa, &len);
	}
	if (rc == 0)
		rc = uv_udp_recv_start(&u->relay, on_udp_alloc, on_relay_recv);
	if (rc < 0) {
		udp_close(u);
		reply_code(c, PC_SOCKS_REP_GENERAL_FAILURE, NULL, S_CLOSING);
		return;
	}
	/* The client's address is its TCP peer's; a port given in the request narrows it (0:
	 * learnt from the first datagram). */
	u->client = c->peer;
	pc_addr_set_port(&u->client, c->preq.port);
	u->audit_tokens = UDP_AUDIT_BURST;
	u->audit_refill = u->last_activity = uv_now(c->client.loop);
	uv_timer_start(&u->idle, on_udp_idle, (uint64_t)settings(c)->udp_idle_timeout_s * 1000, 0);
	reply_code(c, PC_SOCKS_REP_SUCCEEDED, &bnd, S_UDP);
}

/* ---- accepting ---- */

static void conn_drain(struct pc_conn_link *l)
{
	struct conn *c = (struct conn *)((char *)l - offsetof(struct conn, link));

	if (c->state == S_GREETING || c->state == S_AUTH || c->state == S_REQUEST ||
	    c->state == S_UDP)
		conn_close(c);
}

static void conn_abort(struct pc_conn_link *l)
{
	conn_close((struct conn *)((char *)l - offsetof(struct conn, link)));
}

void pc_socks_accept(struct pc_server *srv, int fd, const union pc_sockaddr *peer)
{
	uv_loop_t *loop = pc_server_loop(srv);
	struct conn *c;

	if (pc_server_draining(srv) || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->peer = *peer;
	c->link.drain = conn_drain;
	c->link.abort = conn_abort;
	if (uv_tcp_init(loop, &c->client) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->client.data = c;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	pc_server_conn_add(srv, &c->link);
	if (uv_tcp_open(&c->client, fd) < 0) {
		close(fd);
		conn_close(c);
		return;
	}
	c->state = S_GREETING;
	/* the whole negotiation must finish within the head deadline */
	uv_timer_start(&c->timer, on_timer, (uint64_t)settings(c)->head_timeout_s * 1000, 0);
	start_reading(c);
}
