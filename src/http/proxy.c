#include "http/proxy.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/error.h"
#include "core/log.h"
#include "http/chunked.h"
#include "http/forward.h"
#include "http/parse.h"
#include "http/respond.h"
#include "http/target.h"
#include "net/dial.h"
#include "net/relay.h"
#include "net/stream.h"
#include "policy/decide.h"
#include "proxy/server.h"

/* Space for a block or failure response (pc_http_block_response fits in 4 KiB). */
#define RESPONSE_MAX 4096

enum state {
	ST_HEAD,     /* waiting for or reading a request head */
	ST_DECIDE,   /* the policy is deciding (maybe a lookup) */
	ST_DIAL,     /* connecting to the origin */
	ST_EXCHANGE, /* request and response under way */
	ST_REPLY,    /* writing portcullis's own response (block, failure, 200 for CONNECT) */
	ST_PRELUDE,  /* a tunnel's first bytes (already read) are being written out */
	ST_TUNNEL,   /* CONNECT or upgrade: bytes relayed both ways */
	ST_CLOSING,  /* the last bytes are being flushed before the close */
	ST_LINGER,   /* our side is shut; the client's further bytes are read and dropped */
};

/* Lingering close. A client may still be sending when its connection ends on our side: the
 * body of a refused upload, a pipelined request. Closing a socket with unread bytes makes the
 * kernel send a reset, which can destroy the response at the client before it is read (a
 * client that writes its whole body before reading, such as Python's urllib, then sees a
 * broken pipe instead of the 403). So after the FIN the client's bytes are read and dropped
 * until it ends its side, it is quiet for LINGER_QUIET_MS, or LINGER_MAX_MS have passed. */
#define LINGER_QUIET_MS 5000
#define LINGER_MAX_MS   30000

/* Bytes read from one side and not yet handled: [off, len) of p. */
struct inbuf {
	char *p;
	size_t off, len, cap;
	bool pooled;
};

struct conn;

/* One direction's write: at most one in flight, so every buffer it references stays put. */
struct writer {
	uv_write_t req;
	struct conn *conn;
	bool busy;
	char *owned;          /* freed once written */
	struct inbuf *source; /* input the written bytes came from ... */
	size_t advance;       /* ... and how many of them are consumed once written */
	char hdr[24];         /* a chunk-size line */
};

struct upstream {
	uv_tcp_t tcp;      /* first: the block pc_dial hands over is the upstream (see on_dialed) */
	struct conn *conn; /* NULL once detached: it closes on its own */
	union pc_sockaddr peer;
	char host[PC_HOST_NAME_MAX + 1];
	uint16_t port;
	bool parked; /* idle between requests, watched for EOF */
};
_Static_assert(offsetof(struct upstream, tcp) == 0, "pc_dial's block starts with the handle");

enum refusal {
	REFUSED_NONE,
	REFUSED_DENIED,
	REFUSED_LOOP,
};

struct exchange {
	struct pc_policy *policy;
	struct pc_http_request req;
	struct pc_http_target target;
	struct pc_request preq;
	char method[24];
	struct pc_decision decision;
	struct pc_decide_req *pending;
	struct pc_dial *dial;
	enum refusal refusal;
	bool connect;
	bool upgrade;
	bool keep_alive; /* the client may send another request after this one */
	bool reused;     /* sent on a parked upstream connection */
	bool retried;
	bool head_sent;
	char *out_head;
	size_t out_head_len;

	/* request body, client to origin */
	enum pc_http_body req_body;
	uint64_t req_left;
	struct pc_http_chunked req_chunked;
	bool req_done;
	bool answer_unread; /* the origin spoke during a spliced body: read that before splicing */

	/* response, origin to client */
	struct pc_http_response resp;
	bool resp_head_done;
	bool resp_done;
	bool response_started; /* a byte of the final response was sent to the client */
	bool to_tunnel;        /* a 101 was written: relay once it is out */
	enum pc_http_body resp_body;
	enum pc_http_framing resp_out;
	uint64_t resp_left;
	struct pc_http_chunked resp_chunked;
	char *trailers;
	size_t trailers_len;

	size_t nslots;
	struct pc_http_field slots[]; /* the request's fields, then the response's */
};

struct conn {
	struct pc_conn_link link;
	struct pc_server *srv;
	uv_tcp_t client;
	uv_timer_t timer;
	union pc_sockaddr peer;
	enum state state;
	int handles; /* open handles whose close callbacks are still due */
	/* Reading is paused lazily: stop_reading only clears want_read and libuv keeps its
	 * watcher, so the usual stop-then-start around every exchange costs no epoll_ctl. When
	 * bytes arrive while paused, the alloc callback hands libuv no buffer and the read
	 * callback stops libuv for real: nothing is ever read while paused. */
	bool reading;      /* libuv reads the client */
	bool want_read;    /* ... and we want its bytes */
	bool up_reading;   /* libuv reads the origin */
	bool up_want;      /* ... and we want its bytes */
	bool up_eof;       /* the origin has ended its side */
	bool head_started; /* bytes of the next head have arrived: its deadline runs */
	bool quick_acks;   /* the client's bytes are acknowledged at once (pc_stream_ack_now) */
	bool closing;
	bool drain;       /* take no request after the current one */
	bool close_after; /* close once the current reply is written */
	uint64_t last_activity;
	uint64_t linger_start;
	uint64_t deadline; /* loop time the timer acts at; 0: none (see timer_arm) */
	struct inbuf cin;  /* from the client */
	struct inbuf uin;  /* from the origin */
	struct upstream *up;
	struct exchange *x;
	struct writer to_client, to_up;
	struct pc_relay relay;
	uv_shutdown_t shutdown_req;
};

static void conn_close(struct conn *c);
static void head_pump(struct conn *c);
static void request_pump(struct conn *c);
static void response_pump(struct conn *c);
static void start_reading(struct conn *c);
static void up_start_reading(struct conn *c);
static void upstream_failed(struct conn *c, const char *why);

static const struct pc_settings *settings(const struct conn *c)
{
	return pc_policy_settings(c->x != NULL && c->x->policy != NULL ? c->x->policy
	                                                               : pc_server_policy(c->srv));
}

/* The SPEC §2 bounds on heads under settings s. */
static struct pc_http_limits head_limits(const struct pc_settings *s)
{
	struct pc_http_limits l = {(size_t)s->max_request_line, (size_t)s->max_header_bytes,
	                           (size_t)s->max_header_fields};
	return l;
}

/* ---- input buffers ---- */

/* Free space to read into; grows a buffer up to max bytes (heads may exceed one pool
 * buffer). Returns false when no space can be had. Only called while no write references the
 * buffer, so moving its bytes is safe. */
static bool inbuf_space(struct pc_server *srv, struct inbuf *b, size_t max, uv_buf_t *out)
{
	if (b->p == NULL) {
		b->p = pc_buf_get(pc_server_pool(srv));
		if (b->p == NULL)
			return false;
		b->pooled = true;
		b->cap = PC_BUF_SIZE;
		b->off = b->len = 0;
	}
	if (b->off == b->len) {
		b->off = b->len = 0;
	} else if (b->len == b->cap && b->off > 0) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len == b->cap && b->cap < max) {
		char *p = malloc(max);
		if (p == NULL)
			return false;
		memcpy(p, b->p, b->len);
		if (b->pooled)
			pc_buf_put(pc_server_pool(srv), b->p);
		else
			free(b->p);
		b->p = p;
		b->cap = max;
		b->pooled = false;
	}
	if (b->len == b->cap)
		return false;
	*out = uv_buf_init(b->p + b->len, (unsigned)(b->cap - b->len));
	return true;
}

static void inbuf_release(struct pc_server *srv, struct inbuf *b)
{
	if (b->pooled)
		pc_buf_put(pc_server_pool(srv), b->p);
	else
		free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Gives the buffer back when it holds nothing, so an idle connection holds no buffer. */
static void inbuf_trim(struct pc_server *srv, struct inbuf *b)
{
	if (b->p != NULL && b->off == b->len)
		inbuf_release(srv, b);
}

/* Forgets the unhandled bytes, keeping the buffer for the next read. */
static void inbuf_drop(struct inbuf *b)
{
	b->off = b->len = 0;
}

static size_t inbuf_avail(const struct inbuf *b)
{
	return b->len - b->off;
}

/* The unhandled bytes (NULL when the buffer was given back). */
static char *inbuf_data(const struct inbuf *b)
{
	return b->p != NULL ? b->p + b->off : NULL;
}

/* ---- writing ---- */

static void writer_done(struct writer *w)
{
	free(w->owned);
	w->owned = NULL;
	if (w->source != NULL)
		w->source->off += w->advance;
	w->source = NULL;
	w->advance = 0;
}

static void on_client_written(uv_write_t *req, int status);
static void on_up_written(uv_write_t *req, int status);
static void stop_reading(struct conn *c);
static void up_stop_reading(struct conn *c);

/* Writes bufs: returns 1 when everything went out at once, 0 when a write is in flight (the
 * writer's callback continues), or a negative error. owned is freed and source->off advanced
 * by advance once the bytes are written. */
static int send_bufs(struct writer *w, uv_stream_t *s, uv_buf_t *bufs, unsigned n, char *owned,
                     struct inbuf *source, size_t advance)
{
	size_t total = 0;
	int rc;

	w->owned = owned;
	w->source = source;
	w->advance = advance;
	for (unsigned i = 0; i < n; i++)
		total += bufs[i].len;
	rc = uv_try_write(s, bufs, n);
	if (rc == UV_EAGAIN)
		rc = 0;
	if (rc < 0) {
		writer_done(w);
		return rc;
	}
	if ((size_t)rc == total) {
		writer_done(w);
		return 1;
	}
	/* skip what was written */
	while (n > 0 && (size_t)rc >= bufs[0].len) {
		rc -= (int)bufs[0].len;
		bufs++;
		n--;
	}
	bufs[0].base += rc;
	bufs[0].len -= (size_t)rc;
	w->busy = true;
	rc = uv_write(&w->req, s, bufs, n,
	              w == &w->conn->to_client ? on_client_written : on_up_written);
	if (rc < 0) {
		w->busy = false;
		writer_done(w);
		return rc;
	}
	/* Backpressure: the side that feeds this direction is not read while the write waits
	 * (a read could also move the very bytes being written); the pump that resumes once the
	 * write completes starts reading again when it needs more. */
	if (w == &w->conn->to_client)
		up_stop_reading(w->conn);
	else
		stop_reading(w->conn);
	return 0;
}

/* ---- closing ---- */

static void conn_unref(struct conn *c)
{
	if (--c->handles > 0)
		return;
	inbuf_release(c->srv, &c->cin);
	inbuf_release(c->srv, &c->uin);
	pc_server_conn_remove(c->srv, &c->link);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	conn_unref(h->data);
}

static void on_upstream_closed(uv_handle_t *h)
{
	struct upstream *up = h->data;
	struct conn *c = up->conn;

	free(up);
	if (c != NULL)
		conn_unref(c);
}

/* Closes the upstream connection. While the client connection is closing too, the upstream
 * counts among its handles (its cancelled writes reference the connection). */
static void upstream_close(struct conn *c)
{
	struct upstream *up = c->up;

	if (up == NULL)
		return;
	c->up = NULL;
	c->up_reading = false;
	c->up_want = false;
	/* Whatever the origin sent beyond the exchange goes with its connection: it is never read
	 * as the response to the next request. (Bytes a write to the client still references
	 * stay until the connection closes.) */
	if (!(c->to_client.busy && c->to_client.source == &c->uin))
		inbuf_release(c->srv, &c->uin);
	if (c->closing) {
		c->handles++;
	} else {
		up->conn = NULL;
		/* pending writes to it reference c; they must not continue an exchange */
	}
	up->tcp.data = up;
	uv_close((uv_handle_t *)&up->tcp, on_upstream_closed);
}

static void exchange_free(struct conn *c)
{
	struct exchange *x = c->x;

	if (x == NULL)
		return;
	pc_decide_cancel(x->pending);
	pc_dial_cancel(x->dial);
	pc_policy_unref(x->policy);
	free(x->out_head);
	free(x->trailers);
	free(x);
	c->x = NULL;
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	/* a tunnel, or a request or response body on its way by splice */
	pc_relay_stop(&c->relay);
	exchange_free(c);
	upstream_close(c);
	c->client.data = c;
	c->timer.data = c;
	uv_close((uv_handle_t *)&c->client, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void timer_arm(struct conn *c, uint64_t ms);

/* Whether the client has sent all it will: it asked to close, its request was read whole and
 * nothing follows it. Otherwise closing at once could reset the connection (see ST_LINGER). */
static bool client_done_sending(const struct conn *c)
{
	const struct exchange *x = c->x;

	return x != NULL && !x->connect && !x->req.head.keep_alive &&
	       (x->req_body == PC_HTTP_BODY_NONE || x->req_done) && inbuf_avail(&c->cin) == 0;
}

/* Closes after what was written has been sent: the FIN follows the bytes; then lingers when
 * the client may still be sending. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	if (status < 0 || c->closing || client_done_sending(c)) {
		conn_close(c);
		return;
	}
	c->state = ST_LINGER;
	c->linger_start = c->last_activity = uv_now(c->client.loop);
	inbuf_drop(&c->cin);
	timer_arm(c, LINGER_QUIET_MS);
	start_reading(c);
}

static void conn_finish(struct conn *c)
{
	int rc;

	if (c->closing)
		return;
	uv_read_stop((uv_stream_t *)&c->client);
	c->reading = false;
	c->want_read = false;
	/* a client that stops reading cannot hold the connection open forever */
	c->state = ST_CLOSING;
	timer_arm(c, (uint64_t)settings(c)->idle_timeout_s * 1000);
	c->shutdown_req.data = c;
	rc = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->client, on_shutdown);
	if (rc < 0)
		conn_close(c);
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t);

/* Sets the connection's one deadline to ms from now. The libuv timer moves only when the
 * deadline comes sooner than the timer is due; a timer that fires early re-arms for what is
 * left. A keep-alive request sets and clears its deadline several times (head, exchange, idle);
 * moving the timer each time costs a removal and an insertion in libuv's timer heap, which at
 * thousands of connections is a chain of cache misses per request. While a relay has the timer,
 * it is the relay's: the relay stops it when it ends, so it is never found running for someone
 * else here. */
static void timer_arm(struct conn *c, uint64_t ms)
{
	c->deadline = uv_now(c->client.loop) + ms;
	if (uv_is_active((uv_handle_t *)&c->timer) && uv_timer_get_due_in(&c->timer) <= ms)
		return;
	uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* No deadline: a timer still running finds none and stops. */
static void timer_disarm(struct conn *c)
{
	c->deadline = 0;
}

static void on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	const struct pc_settings *s = settings(c);
	uint64_t now = uv_now(t->loop);

	if (c->deadline == 0)
		return;
	if (now < c->deadline) {
		uv_timer_start(t, on_timer, c->deadline - now, 0);
		return;
	}
	c->deadline = 0;
	switch (c->state) {
	case ST_HEAD:
		if (inbuf_avail(&c->cin) > 0) {
			/* a partial head: say why before closing */
			char *buf = malloc(RESPONSE_MAX);
			int n = buf ? pc_http_failure_response(PC_FAIL_HEAD_TIMEOUT, NULL,
			                                       PC_RESPOND_CLOSE, buf, RESPONSE_MAX)
			            : -ENOMEM;
			if (n > 0) {
				uv_buf_t b = uv_buf_init(buf, (unsigned)n);
				uv_try_write((uv_stream_t *)&c->client, &b, 1);
			}
			free(buf);
		}
		conn_close(c);
		return;
	case ST_EXCHANGE: {
		uint64_t idle = (uint64_t)s->idle_timeout_s * 1000, quiet = now - c->last_activity;
		if (quiet >= idle) {
			conn_close(c);
			return;
		}
		timer_arm(c, idle - quiet);
		return;
	}
	case ST_LINGER: {
		uint64_t quiet = now - c->last_activity, spent = now - c->linger_start;
		if (quiet >= LINGER_QUIET_MS || spent >= LINGER_MAX_MS) {
			conn_close(c);
			return;
		}
		timer_arm(c, LINGER_QUIET_MS - quiet < LINGER_MAX_MS - spent
		                     ? LINGER_QUIET_MS - quiet
		                     : LINGER_MAX_MS - spent);
		return;
	}
	case ST_CLOSING:
	case ST_PRELUDE:
		conn_close(c);
		return;
	default:
		return;
	}
}

/* ---- replies of portcullis's own ---- */

/* The PC_RESPOND_* flags of a response of ours to the current request. */
static unsigned respond_flags(const struct conn *c, bool keep)
{
	const struct exchange *x = c->x;
	unsigned flags = keep ? 0 : PC_RESPOND_CLOSE;

	if (x != NULL && x->req.method_id == PC_HTTP_METHOD_HEAD)
		flags |= PC_RESPOND_HEAD;
	return flags;
}

static void reply_written(struct conn *c);

/* Writes a complete response of ours (owned), then continues at reply_written: the next
 * request when keep is set, else the end of the connection. */
static void reply(struct conn *c, char *owned, size_t len, bool keep)
{
	uv_buf_t b = uv_buf_init(owned, (unsigned)len);
	int rc;

	c->state = ST_REPLY;
	c->close_after = !keep;
	timer_disarm(c);
	rc = send_bufs(&c->to_client, (uv_stream_t *)&c->client, &b, 1, owned, NULL, 0);
	if (rc < 0)
		conn_close(c);
	else if (rc == 1)
		reply_written(c);
}

/* An exchange that failed on the origin's side (or before it began). The client's connection
 * is in step as long as its request was consumed whole and no byte of a response reached it:
 * then it gets a complete response of ours and may send the next request. Otherwise it is
 * closed after the response (or at once, when a response had started). */
static void fail(struct conn *c, enum pc_http_failure f, const char *details)
{
	struct exchange *x = c->x;
	bool keep;
	char *buf;
	int n;

	/* After an interim response (100 Continue) a final one of ours is still possible, once
	 * the interim one is written. */
	if (x != NULL && (x->response_started || c->to_client.busy)) {
		conn_close(c);
		return;
	}
	/* An origin that framed its response ambiguously ends both connections (issue: "a 502
	 * and both sides closed"), so nothing it sent can be read as a later response. After
	 * other failures a client whose request was fully read keeps its connection. */
	keep = f != PC_FAIL_BAD_GATEWAY && x != NULL && x->keep_alive && !c->drain && x->req_done &&
	       !x->connect && !c->to_up.busy && x->req.head.minor_version >= 1;
	upstream_close(c);
	buf = malloc(RESPONSE_MAX);
	n = buf ? pc_http_failure_response(f, details, respond_flags(c, keep), buf, RESPONSE_MAX)
	        : -ENOMEM;
	if (n < 0) {
		free(buf);
		conn_close(c);
		return;
	}
	reply(c, buf, (size_t)n, keep);
}

/* A request the policy refused: record it and answer with the SPEC §7 response. */
static void block(struct conn *c, const char *raw_host, size_t raw_len)
{
	struct exchange *x = c->x;
	const struct pc_settings *s =
	        pc_policy_settings(x->policy ? x->policy : pc_server_policy(c->srv));
	struct pc_block b;
	char *buf;
	bool keep;
	int n;

	if (x->decision.verdict == PC_VERDICT_ASK)
		/* nobody to ask yet: an unanswered question is a deny */
		x->decision.verdict = PC_VERDICT_DENY;
	pc_block_fill(&b, &x->preq, raw_host, raw_len, &x->decision, &c->peer.sa, s->mode);
	pc_server_record_block(c->srv, &b);
	/* The connection stays usable only when no request body is left unread (and the client
	 * speaks HTTP/1.1: our responses do not offer HTTP/1.0 keep-alive). */
	keep = x->keep_alive && !c->drain && x->req_body == PC_HTTP_BODY_NONE &&
	       x->req.head.minor_version >= 1;
	buf = malloc(RESPONSE_MAX);
	n = buf ? pc_http_block_response(&b, x->connect, respond_flags(c, keep), buf, RESPONSE_MAX)
	        : -ENOMEM;
	if (n < 0) {
		free(buf);
		conn_close(c);
		return;
	}
	reply(c, buf, (size_t)n, keep);
}

/* A malformed request: 400 (414, 431, 417, 505) and close; nothing is forwarded. */
static void reject(struct conn *c, int status, const char *why)
{
	enum pc_http_failure f;
	char *buf = malloc(RESPONSE_MAX);
	int n;

	switch (status) {
	case 414:
		f = PC_FAIL_URI_TOO_LONG;
		break;
	case 431:
		f = PC_FAIL_HEADERS_TOO_LARGE;
		break;
	case 417:
		f = PC_FAIL_EXPECTATION;
		break;
	case 505:
		f = PC_FAIL_VERSION;
		break;
	default:
		f = PC_FAIL_BAD_REQUEST;
		break;
	}
	/* a request found malformed mid-body leaves its origin connection mid-request */
	upstream_close(c);
	n = buf ? pc_http_failure_response(f, why, respond_flags(c, false), buf, RESPONSE_MAX)
	        : -ENOMEM;
	if (n < 0) {
		free(buf);
		conn_close(c);
		return;
	}
	pc_log_debug("rejected a request (%d): %s", status, why);
	reply(c, buf, (size_t)n, false);
}

/* ---- the next request ---- */

static void next_request(struct conn *c)
{
	const struct pc_settings *s;

	exchange_free(c);
	if (c->drain || pc_server_draining(c->srv)) {
		conn_finish(c);
		return;
	}
	c->state = ST_HEAD;
	s = settings(c);
	inbuf_trim(c->srv, &c->uin);
	if (inbuf_avail(&c->cin) > 0) {
		/* pipelined: the next head is already here */
		head_pump(c);
		return;
	}
	inbuf_trim(c->srv, &c->cin);
	timer_arm(c, (uint64_t)s->idle_timeout_s * 1000);
	start_reading(c);
}

static void tunnel_prelude(struct conn *c);

static void reply_written(struct conn *c)
{
	if (c->close_after) {
		conn_finish(c);
		return;
	}
	if (c->x != NULL && c->x->connect && c->up != NULL) {
		/* the 200 for CONNECT is out: relay */
		tunnel_prelude(c);
		return;
	}
	next_request(c);
}

static void on_client_written(uv_write_t *req, int status)
{
	struct writer *w = (struct writer *)req; /* req is its first member */
	struct conn *c = w->conn;

	w->busy = false;
	writer_done(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	c->last_activity = uv_now(c->client.loop);
	if (c->state == ST_REPLY)
		reply_written(c);
	else if (c->state == ST_EXCHANGE)
		response_pump(c);
	else if (c->state == ST_PRELUDE)
		tunnel_prelude(c);
}

static void on_up_written(uv_write_t *req, int status)
{
	struct writer *w = (struct writer *)req; /* req is its first member */
	struct conn *c = w->conn;

	w->busy = false;
	writer_done(w);
	if (c->closing || status == UV_ECANCELED)
		return;
	if (c->state == ST_PRELUDE) {
		if (status < 0)
			conn_close(c);
		else
			tunnel_prelude(c);
		return;
	}
	if (c->state != ST_EXCHANGE)
		return;
	if (status < 0) {
		upstream_failed(c, "the origin closed the connection");
		return;
	}
	c->last_activity = uv_now(c->client.loop);
	request_pump(c);
}

/* ---- reading from the client ---- */

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t max = PC_BUF_SIZE;
	(void)suggested;

	if (!c->want_read) {
		/* paused: no buffer, and on_client_read stops libuv */
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	if (c->state == ST_HEAD) {
		/* the exchange is made when the first byte of its head arrives */
		struct pc_http_limits l = head_limits(settings(c));
		max = pc_http_head_max(c->x != NULL ? &c->x->req.head.limits : &l);
	}

	if (!inbuf_space(c->srv, &c->cin, max, buf))
		*buf = uv_buf_init(NULL, 0);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	(void)buf;

	if (nread == 0)
		return;
	if (nread == UV_ENOBUFS && !c->want_read) {
		/* bytes arrived while paused: they wait in the kernel until reading resumes */
		uv_read_stop(s);
		c->reading = false;
		return;
	}
	if (nread < 0) {
		/* EOF or error: between requests or mid-head it simply ends; mid-body the
		 * request cannot be completed */
		uv_read_stop(s);
		c->reading = false;
		conn_close(c);
		return;
	}
	c->cin.len += (size_t)nread;
	c->last_activity = uv_now(s->loop);
	if (c->state == ST_LINGER)
		inbuf_drop(&c->cin);
	else if (c->state == ST_HEAD)
		head_pump(c);
	else if (c->state == ST_EXCHANGE)
		request_pump(c);
}

static struct exchange *exchange_new(struct conn *c)
{
	const struct pc_settings *s = pc_policy_settings(pc_server_policy(c->srv));
	size_t nslots = (size_t)s->max_header_fields;
	struct pc_http_limits limits = head_limits(s);
	/* The slots need no zeroing: the parser fills each one before it is read. */
	struct exchange *x = malloc(sizeof(*x) + nslots * sizeof(x->slots[0]));

	if (x == NULL)
		return NULL;
	memset(x, 0, sizeof(*x));
	x->nslots = nslots;
	pc_http_request_init(&x->req, x->slots, nslots, &limits);
	return x;
}

static void start_reading(struct conn *c)
{
	int rc;

	/* a relay (a body by splice, a tunnel) reads the client itself */
	if (c->closing || (c->state == ST_EXCHANGE && c->to_up.busy) || c->relay.core != NULL)
		return;
	c->want_read = true;
	if (c->reading)
		return;
	rc = uv_read_start((uv_stream_t *)&c->client, on_client_alloc, on_client_read);
	if (rc < 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

/* Pauses reading (see struct conn: lazily). */
static void stop_reading(struct conn *c)
{
	c->want_read = false;
}

/* Stops libuv reading both sides now, for handing the handles to the relay. */
static void stop_reading_now(struct conn *c)
{
	c->want_read = c->up_want = false;
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->client);
	c->reading = false;
	/* not only when up_reading: a fresh origin connection is still read by the dial's
	 * callbacks that read nothing (see pc_dial_cb) */
	if (c->up != NULL)
		uv_read_stop((uv_stream_t *)&c->up->tcp);
	c->up_reading = false;
}

/* ---- deciding ---- */

static void decided(struct conn *c);

static void on_decided(void *data, const struct pc_decision *d)
{
	struct conn *c = data;

	c->x->pending = NULL;
	c->x->decision = *d;
	decided(c);
}

static void handle_request(struct conn *c, size_t head_len);

static void head_pump(struct conn *c)
{
	struct exchange *x;
	ssize_t n;

	if (c->x == NULL) {
		c->x = exchange_new(c);
		if (c->x == NULL) {
			conn_close(c);
			return;
		}
	}
	x = c->x;
	if (!c->head_started && inbuf_avail(&c->cin) > 0) {
		/* the first byte of a head starts its deadline, which later bytes do not extend */
		c->head_started = true;
		timer_arm(c, (uint64_t)settings(c)->head_timeout_s * 1000);
	}
	n = pc_http_request_parse(&x->req, inbuf_data(&c->cin), inbuf_avail(&c->cin));
	if (n == PC_AGAIN) {
		if (inbuf_avail(&c->cin) > 0) /* a head in pieces: the client may wait for an ACK */
			pc_stream_ack_now(&c->client, &c->quick_acks);
		start_reading(c);
		return;
	}
	c->head_started = false;
	stop_reading(c);
	timer_disarm(c);
	if (n == PC_EUNSUPPORTED) {
		reject(c, 505, "HTTP/2 prior knowledge is not supported; use HTTP/1.1");
		return;
	}
	if (n < 0) {
		reject(c, x->req.head.error.status, x->req.head.error.reason);
		return;
	}
	handle_request(c, (size_t)n);
}

static bool same_host(const struct pc_host *a, uint16_t pa, const struct pc_host *b, uint16_t pb)
{
	return a->kind == b->kind && a->len == b->len && memcmp(a->name, b->name, a->len) == 0 &&
	       pa == pb;
}

static void handle_request(struct conn *c, size_t head_len)
{
	struct exchange *x = c->x;
	struct pc_http_request *r = &x->req;
	const struct pc_settings *s = pc_policy_settings(pc_server_policy(c->srv));
	struct pc_http_error err;
	uint16_t port = 0, default_port;
	enum pc_http_framing framing;
	size_t size;
	int n;

	if (r->method.len >= sizeof(x->method)) {
		reject(c, 400, "method too long");
		return;
	}
	memcpy(x->method, r->method.p, r->method.len);
	x->method[r->method.len] = '\0';
	if (pc_http_target_parse(r->target.p, r->target.len, r->method_id, &x->target, &err) < 0) {
		reject(c, err.status, err.reason);
		return;
	}
	if (x->target.form == PC_HTTP_TARGET_ORIGIN || x->target.form == PC_HTTP_TARGET_ASTERISK) {
		reject(c, 400,
		       "portcullis is a proxy: send the absolute URL (GET http://host/path) or "
		       "CONNECT host:port");
		return;
	}
	if (x->target.scheme == PC_HTTP_SCHEME_HTTPS || x->target.scheme == PC_HTTP_SCHEME_WSS) {
		reject(c, 400, "https:// and wss:// go through a CONNECT tunnel");
		return;
	}
	x->connect = x->target.form == PC_HTTP_TARGET_AUTHORITY;
	default_port = x->connect ? 443 : 80;
	x->preq.protocol = x->connect ? PC_PROTO_HTTPS_CONNECT : PC_PROTO_HTTP;
	/* policy/policy.h: no method for tunnels */
	x->preq.method = x->connect ? NULL : x->method;
	x->preq.host_ok = pc_authority_parse(x->target.authority.p, x->target.authority.len,
	                                     &x->preq.host, &port) == 0;
	/* the port as the target gave it, also when its host cannot be normalised */
	x->preq.port = x->target.port != 0 ? x->target.port : default_port;
	x->keep_alive = r->head.keep_alive && !c->drain;
	x->req_body = r->head.body;
	x->req_left = r->head.content_length;
	pc_http_chunked_init(&x->req_chunked, &r->head.limits);
	x->policy = pc_policy_ref(pc_server_policy(c->srv));

	if (!x->preq.host_ok) {
		/* SPEC §3: a host that cannot be normalised is refused, never matched loosely */
		x->decision.verdict = PC_VERDICT_DENY;
		x->decision.reason = PC_REASON_NOT_ALLOWED;
		x->decision.source = PC_SOURCE_BASELINE_POLICY;
		{
			/* recorded with the host as the client wrote it, without its port */
			struct pc_block b;
			pc_block_fill(&b, &x->preq, x->target.host.p, x->target.host.len,
			              &x->decision, &c->peer.sa, s->mode);
			pc_server_record_block(c->srv, &b);
		}
		reject(c, 400, "the host cannot be normalised");
		return;
	}
	if (r->host.p != NULL) {
		struct pc_host h;
		uint16_t hp = 0;

		/* The Host field must name the target: a mismatch is how requests get routed
		 * one way and judged another. */
		if (pc_authority_parse(r->host.p, r->host.len, &h, &hp) < 0 ||
		    !same_host(&x->preq.host, x->preq.port, &h, hp != 0 ? hp : default_port)) {
			reject(c, 400, "the Host header does not match the request target");
			return;
		}
	}
	x->upgrade = !x->connect && r->head.upgrade.len > 0 && s->mode == PC_MODE_FULL;
	if (!x->connect) {
		framing = x->req_body == PC_HTTP_BODY_LENGTH    ? PC_FRAME_LENGTH
		          : x->req_body == PC_HTTP_BODY_CHUNKED ? PC_FRAME_CHUNKED
		                                                : PC_FRAME_NONE;
		size = pc_http_forward_head_size(head_len);
		x->out_head = malloc(size);
		n = x->out_head == NULL
		            ? -ENOMEM
		            : pc_http_write_request_head(r, &x->target, &x->preq.host, x->preq.port,
		                                         default_port, framing, x->req_left,
		                                         x->upgrade, x->out_head, size);
		if (n < 0) {
			conn_close(c);
			return;
		}
		x->out_head_len = (size_t)n;
	}
	/* The head's slices are not used past this point: its bytes are consumed. */
	c->cin.off += head_len;
	if (x->req_body == PC_HTTP_BODY_NONE)
		x->req_done = true;
	else if (x->req_body == PC_HTTP_BODY_CHUNKED || x->req_left > inbuf_avail(&c->cin))
		pc_stream_ack_now(&c->client, &c->quick_acks); /* the body is still on its way */

	c->state = ST_DECIDE;
	n = pc_decide(x->policy, pc_server_resolver(c->srv), &x->preq, &x->decision, on_decided, c,
	              &x->pending);
	if (n == PC_POLICY_DECIDED) {
		decided(c);
	} else if (n < 0) {
		x->pending = NULL;
		fail(c, PC_FAIL_DNS, pc_strerror(n));
	}
}

/* ---- connecting ---- */

static void on_dialed(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                      const union pc_sockaddr *local);

static bool dial_check(void *data, const struct sockaddr *sa)
{
	struct conn *c = data;
	struct exchange *x = c->x;

	if (pc_policy_addr_denied(x->policy, sa, x->preq.port)) {
		x->refusal = REFUSED_DENIED;
		return false;
	}
	if (pc_server_is_self(c->srv, sa)) {
		x->refusal = REFUSED_LOOP;
		return false;
	}
	return true;
}

static bool can_reuse(const struct conn *c)
{
	const struct upstream *up = c->up;
	const struct exchange *x = c->x;

	if (up == NULL || !up->parked || x->connect || up->port != x->preq.port ||
	    strcmp(up->host, x->preq.host.name) != 0)
		return false;
	if (x->decision.resolve_at_dial)
		return true;
	/* the parked connection must go to one of the addresses this decision checked */
	for (unsigned i = 0; i < x->decision.addrs.n; i++) {
		const union pc_sockaddr *a = &x->decision.addrs.addrs[i];
		if (a->sa.sa_family != up->peer.sa.sa_family)
			continue;
		if (a->sa.sa_family == AF_INET
		            ? a->in.sin_addr.s_addr == up->peer.in.sin_addr.s_addr
		            : memcmp(&a->in6.sin6_addr, &up->peer.in6.sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

static void start_exchange(struct conn *c);
static void dial(struct conn *c);

/* The origin connection failed before a response began. A request sent on a parked
 * connection the origin had just closed is sent once more on a new one when that is safe
 * (no body: nothing was consumed that cannot be sent again). */
static void upstream_failed(struct conn *c, const char *why)
{
	struct exchange *x = c->x;

	if (x->reused && !x->retried && !x->response_started && inbuf_avail(&c->uin) == 0 &&
	    x->req_body == PC_HTTP_BODY_NONE && !c->to_up.busy) {
		x->retried = true;
		x->reused = false;
		dial(c);
		return;
	}
	fail(c,
	     x->resp_head_done || inbuf_avail(&c->uin) > 0 ? PC_FAIL_INCOMPLETE
	                                                   : PC_FAIL_TERMINATED,
	     why);
}

static void dial(struct conn *c)
{
	struct exchange *x = c->x;
	const struct pc_settings *s = pc_policy_settings(x->policy);
	uint32_t timeout = (uint32_t)s->connect_timeout_s * 1000;
	int rc;

	upstream_close(c);
	c->state = ST_DIAL;
	if (x->decision.resolve_at_dial)
		rc = pc_dial_start_name(
		        c->client.loop, pc_server_resolver(c->srv), x->preq.host.name, x->preq.port,
		        timeout, sizeof(struct upstream), dial_check, on_dialed, c, &x->dial);
	else
		rc = pc_dial_start(c->client.loop, &x->decision.addrs, timeout,
		                   sizeof(struct upstream), on_dialed, c, &x->dial);
	if (rc < 0) {
		x->dial = NULL;
		fail(c, PC_FAIL_UNREACHABLE, pc_strerror(rc));
	}
}

static void decided(struct conn *c)
{
	struct exchange *x = c->x;

	if (x->decision.verdict != PC_VERDICT_ALLOW) {
		block(c, NULL, 0);
		return;
	}
	for (unsigned i = 0; i < x->decision.addrs.n; i++) {
		if (pc_server_is_self(c->srv, &x->decision.addrs.addrs[i].sa)) {
			fail(c, PC_FAIL_LOOP, NULL);
			return;
		}
	}
	if (can_reuse(c)) {
		x->reused = true;
		start_exchange(c);
		return;
	}
	dial(c);
}

static void up_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void up_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void on_dialed(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                      const union pc_sockaddr *local)
{
	struct conn *c = data;
	struct exchange *x = c->x;
	struct upstream *up;
	char details[PC_HOST_NAME_MAX + 96];

	x->dial = NULL;
	if (status < 0) {
		if (x->refusal == REFUSED_DENIED) {
			x->decision.verdict = PC_VERDICT_DENY;
			x->decision.reason = PC_REASON_DENIED;
			x->decision.source = PC_SOURCE_BASELINE_POLICY;
			block(c, NULL, 0);
		} else if (x->refusal == REFUSED_LOOP) {
			fail(c, PC_FAIL_LOOP, NULL);
		} else {
			snprintf(details, sizeof(details), "%s%s%s:%u: %s",
			         x->preq.host.kind == PC_HOST_IPV6 ? "[" : "", x->preq.host.name,
			         x->preq.host.kind == PC_HOST_IPV6 ? "]" : "", x->preq.port,
			         pc_strerror(status));
			fail(c, pc_http_failure_from_dial(status), details);
		}
		return;
	}
	/* the dial's block is the upstream: its handle comes first, the rest zeroed */
	(void)local;
	up = (struct upstream *)tcp;
	up->conn = c;
	up->peer = *peer;
	up->port = x->preq.port;
	memcpy(up->host, x->preq.host.name, x->preq.host.len + 1);
	up->tcp.data = c;
	c->up = up;
	if (x->connect) {
		static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		char *buf = malloc(sizeof(established) - 1);

		if (buf == NULL) {
			conn_close(c);
			return;
		}
		memcpy(buf, established, sizeof(established) - 1);
		reply(c, buf, sizeof(established) - 1, true);
		return;
	}
	start_exchange(c);
}

/* ---- tunnels ---- */

static void on_tunnel_done(struct pc_relay *r, int status)
{
	struct conn *c = r->data;
	(void)status;

	c->client.data = c;
	if (c->up != NULL)
		c->up->tcp.data = c;
	c->timer.data = c;
	conn_close(c);
}

static void start_tunnel(struct conn *c)
{
	const struct pc_settings *s = settings(c);
	int rc;

	/* the relay takes over the reading as it is (see pc_relay_start), and the timer */
	c->want_read = c->up_want = false;
	c->reading = c->up_reading = false;
	uv_timer_stop(&c->timer);
	timer_disarm(c);
	c->state = ST_TUNNEL;
	exchange_free(c);
	rc = pc_relay_start(&c->relay, pc_server_pool(c->srv), &c->client, &c->up->tcp, &c->timer,
	                    (uint64_t)s->tunnel_idle_timeout_s * 1000, inbuf_data(&c->cin),
	                    inbuf_avail(&c->cin), inbuf_data(&c->uin), inbuf_avail(&c->uin),
	                    on_tunnel_done, c);
	/* the relay copied what it needed */
	inbuf_release(c->srv, &c->cin);
	inbuf_release(c->srv, &c->uin);
	if (rc < 0) {
		c->client.data = c;
		c->up->tcp.data = c;
		c->timer.data = c;
		conn_close(c);
	}
}

/* Writes the bytes read from side `from` beyond the head that opened the tunnel to the other
 * side, when they exceed what the relay takes with it (one pool buffer: a head may have been
 * read into a larger buffer). Returns 1 when nothing is left to do, 0 when a write is in flight,
 * or a negative error. */
static int prelude_flush(struct writer *w, uv_stream_t *to, struct inbuf *from)
{
	size_t n = inbuf_avail(from);
	uv_buf_t b;

	if (w->busy)
		return 0;
	if (n <= PC_BUF_SIZE)
		return 1;
	b = uv_buf_init(from->p + from->off, (unsigned)n);
	return send_bufs(w, to, &b, 1, NULL, from, n);
}

/* A tunnel starts once the bytes that came with its head are on their way; the writers'
 * callbacks come back here. */
static void tunnel_prelude(struct conn *c)
{
	int a, b;

	if (c->state != ST_PRELUDE) {
		/* neither side is read until the relay takes over */
		stop_reading(c);
		up_stop_reading(c);
		c->state = ST_PRELUDE;
		timer_arm(c, (uint64_t)settings(c)->tunnel_idle_timeout_s * 1000);
	}
	a = prelude_flush(&c->to_up, (uv_stream_t *)&c->up->tcp, &c->cin);
	b = prelude_flush(&c->to_client, (uv_stream_t *)&c->client, &c->uin);
	if (a < 0 || b < 0)
		conn_close(c);
	else if (a == 1 && b == 1)
		start_tunnel(c);
}

/* ---- the exchange: request to the origin ---- */

static void start_exchange(struct conn *c)
{
	struct exchange *x = c->x;
	const struct pc_settings *s = pc_policy_settings(x->policy);
	struct pc_http_limits limits = head_limits(s);

	c->state = ST_EXCHANGE;
	/* its EOF watch ends: reading (if libuv still does) now goes to the exchange */
	c->up->parked = false;
	c->up_want = false;
	c->up_eof = false;
	x->head_sent = false;
	x->resp_head_done = x->resp_done = false;
	pc_http_response_init(&x->resp, x->slots, x->nslots, &limits, x->req.method_id);
	c->last_activity = uv_now(c->client.loop);
	timer_arm(c, (uint64_t)s->idle_timeout_s * 1000);
	request_pump(c);
	if (c->state == ST_EXCHANGE)
		response_pump(c);
}

static int send_up(struct conn *c, uv_buf_t *bufs, unsigned n, char *owned, size_t advance)
{
	return send_bufs(&c->to_up, (uv_stream_t *)&c->up->tcp, bufs, n, owned,
	                 advance ? &c->cin : NULL, advance);
}

static void request_body_error(struct conn *c, const char *why)
{
	if (c->x->response_started || c->to_client.busy)
		conn_close(c);
	else
		reject(c, 400, why);
}

/* ---- bodies by splice ---- */

/* Hands the rest of a body to the relay, `from` to `to` (pc_relay_forward): it polls both
 * descriptors itself and takes the timer until done runs. Returns true when it took over;
 * else the buffered path goes on, with the timer back. */
static bool body_relay_start(struct conn *c, uv_tcp_t *from, uv_tcp_t *to, uint64_t limit,
                             unsigned flags, pc_relay_done_cb done)
{
	uint64_t idle = (uint64_t)settings(c)->idle_timeout_s * 1000;

	/* libuv must not be watching the descriptors */
	stop_reading_now(c);
	inbuf_trim(c->srv, &c->cin);
	inbuf_trim(c->srv, &c->uin);
	timer_disarm(c);
	if (pc_relay_forward(&c->relay, pc_server_pool(c->srv), from, to, limit, flags, &c->timer,
	                     idle, done, c) == 0)
		return true;
	c->timer.data = c;
	timer_arm(c, idle);
	return false;
}

/* What a body relay's done callback does first: takes the timer back. Returns false when
 * status ended the exchange (a timeout closes the connection, an error fails the exchange). */
static bool body_relay_ended(struct conn *c, int status)
{
	c->timer.data = c;
	c->last_activity = uv_now(c->client.loop);
	if (status == -ETIMEDOUT) {
		conn_close(c);
		return false;
	}
	if (status < 0) {
		upstream_failed(c, "the connection to the origin failed");
		return false;
	}
	timer_arm(c, (uint64_t)settings(c)->idle_timeout_s * 1000);
	return true;
}

static void on_request_body_done(struct pc_relay *r, int status)
{
	struct conn *c = r->data;
	struct exchange *x = c->x;

	if (!body_relay_ended(c, status))
		return;
	x->req_left -= r->bytes[0] - r->unsent_len;
	x->req_done = x->req_left == 0;
	if (!x->req_done && r->eof[0]) {
		/* as after an EOF read: the request cannot be completed */
		conn_close(c);
		return;
	}
	if (r->unsent_len > 0) {
		/* what the origin did not take when it answered goes first, as if just read */
		uv_buf_t space;

		if (!inbuf_space(c->srv, &c->cin, PC_BUF_SIZE, &space) ||
		    space.len < r->unsent_len) {
			conn_close(c);
			return;
		}
		memcpy(space.base, r->unsent, r->unsent_len);
		c->cin.len += r->unsent_len;
	}
	x->answer_unread = r->answered;
	request_pump(c);
	if (c->state == ST_EXCHANGE)
		response_pump(c);
}

/* Hands the rest of a Content-Length request body to the relay, client to origin by splice(2),
 * when a buffer's worth or more is left and nothing else needs either connection: nothing
 * buffered from either side, no write queued, no response begun. The relay gives the body back
 * as soon as the origin has bytes to read (an early refusal, a 100 Continue), so an answer never
 * waits behind the upload; it is spliced again once that answer is read, if it was an interim
 * one. Chunked bodies go through the decoder. Returns true when the relay took over. */
static bool request_splice(struct conn *c)
{
	struct exchange *x = c->x;

	if (x->req_body != PC_HTTP_BODY_LENGTH || x->req_left < PC_BUF_SIZE || c->up == NULL ||
	    c->up_eof || x->answer_unread || x->resp_head_done || inbuf_avail(&c->uin) > 0 ||
	    inbuf_avail(&c->cin) > 0 || c->to_up.busy || c->to_client.busy)
		return false;
	if (body_relay_start(c, &c->client, &c->up->tcp, x->req_left, PC_RELAY_UNTIL_ANSWER,
	                     on_request_body_done))
		return true;
	/* the buffered path does the same job; the origin's answer is read as before */
	up_start_reading(c);
	return false;
}

static void request_pump(struct conn *c)
{
	struct exchange *x = c->x;
	uv_buf_t bufs[3];
	int rc = 1;

	while (rc == 1 && !c->to_up.busy && c->state == ST_EXCHANGE) {
		size_t avail = inbuf_avail(&c->cin);

		if (!x->head_sent) {
			/* the head goes out with whatever body bytes are already here */
			size_t n = 0;
			x->head_sent = true;
			bufs[0] = uv_buf_init(x->out_head, (unsigned)x->out_head_len);
			if (x->req_body == PC_HTTP_BODY_LENGTH) {
				n = avail < x->req_left ? avail : (size_t)x->req_left;
				x->req_left -= n;
				if (x->req_left == 0)
					x->req_done = true;
			}
			bufs[1] = uv_buf_init(inbuf_data(&c->cin), (unsigned)n);
			/* kept until the exchange ends: a reused connection may need a resend */
			rc = send_up(c, bufs, n ? 2 : 1, NULL, n);
		} else if (x->req_done) {
			stop_reading(c);
			return;
		} else if (avail == 0) {
			if (!request_splice(c))
				start_reading(c);
			return;
		} else if (x->req_body == PC_HTTP_BODY_LENGTH) {
			size_t n = avail < x->req_left ? avail : (size_t)x->req_left;
			x->req_left -= n;
			if (x->req_left == 0)
				x->req_done = true;
			bufs[0] = uv_buf_init(inbuf_data(&c->cin), (unsigned)n);
			rc = send_up(c, bufs, 1, NULL, n);
		} else {
			struct pc_http_chunk chunk;
			ssize_t k = pc_http_chunked_decode(&x->req_chunked, inbuf_data(&c->cin),
			                                   avail, &chunk);
			if (k < 0) {
				request_body_error(c, x->req_chunked.error.reason);
				return;
			}
			if (chunk.kind == PC_HTTP_CHUNK_DATA) {
				int hl = snprintf(c->to_up.hdr, sizeof(c->to_up.hdr), "%zx\r\n",
				                  chunk.len);
				bufs[0] = uv_buf_init(c->to_up.hdr, (unsigned)hl);
				bufs[1] = uv_buf_init((char *)chunk.p, (unsigned)chunk.len);
				bufs[2] = uv_buf_init("\r\n", 2);
				rc = send_up(c, bufs, 3, NULL, (size_t)k);
			} else if (chunk.kind == PC_HTTP_CHUNK_END) {
				/* request trailers are not forwarded */
				x->req_done = true;
				bufs[0] = uv_buf_init("0\r\n\r\n", 5);
				rc = send_up(c, bufs, 1, NULL, (size_t)k);
			} else {
				c->cin.off += (size_t)k;
			}
		}
	}
	if (rc < 0)
		upstream_failed(c, "the origin closed the connection");
}

/* ---- the exchange: response to the client ---- */

static void on_parked_alloc(struct conn *c, uv_buf_t *buf);
static void on_parked_read(struct conn *c, ssize_t nread, const uv_buf_t *buf);

static void up_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t max = c->x != NULL && !c->x->resp_head_done
	                     ? pc_http_head_max(&c->x->resp.head.limits)
	                     : PC_BUF_SIZE;
	(void)suggested;

	if (!c->up_want) {
		/* paused: no buffer, and up_on_read stops libuv */
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	if (c->up->parked) {
		on_parked_alloc(c, buf);
		return;
	}
	if (!inbuf_space(c->srv, &c->uin, max, buf))
		*buf = uv_buf_init(NULL, 0);
}

static void parked_closed(struct conn *c)
{
	/* an idle origin connection ended or spoke out of turn: it cannot be reused */
	upstream_close(c);
	inbuf_trim(c->srv, &c->uin);
}

static void up_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (nread == UV_ENOBUFS && !c->up_want) {
		/* bytes arrived while paused: they wait in the kernel until reading resumes */
		uv_read_stop(s);
		c->up_reading = false;
		return;
	}
	if (c->up->parked) {
		on_parked_read(c, nread, buf);
		return;
	}
	if (nread == 0)
		return;
	if (nread < 0) {
		uv_read_stop(s);
		c->up_reading = false;
		if (nread != UV_EOF) {
			/* a reset (or no memory) is not the end of a close-delimited body: a
			 * response cut short must not reach the client as complete */
			upstream_failed(c, "the connection to the origin failed");
			return;
		}
		c->up_eof = true;
		response_pump(c);
		/* if the pump could not finish with the EOF, the exchange is broken */
		if (!c->closing && c->state == ST_EXCHANGE && c->up != NULL && !c->x->resp_done)
			upstream_failed(c, "the origin closed the connection early");
		return;
	}
	c->uin.len += (size_t)nread;
	c->last_activity = uv_now(s->loop);
	c->x->answer_unread = false;
	response_pump(c);
}

static void up_start_reading(struct conn *c)
{
	/* while a request body is being spliced, the relay watches the origin */
	if (c->up == NULL || c->up_eof || c->to_client.busy || c->relay.core != NULL)
		return;
	c->up_want = true;
	if (c->up_reading)
		return;
	/* the dial hands the origin over reading nothing (see pc_dial_cb) */
	if (pc_stream_read((uv_stream_t *)&c->up->tcp, up_on_alloc, up_on_read) < 0) {
		fail(c, PC_FAIL_BAD_GATEWAY, "cannot read from the origin");
		return;
	}
	c->up_reading = true;
}

/* Pauses reading the origin (see struct conn: lazily). */
static void up_stop_reading(struct conn *c)
{
	c->up_want = false;
}

static int send_client(struct conn *c, uv_buf_t *bufs, unsigned n, char *owned, size_t advance)
{
	return send_bufs(&c->to_client, (uv_stream_t *)&c->client, bufs, n, owned,
	                 advance ? &c->uin : NULL, advance);
}

static void finish_exchange(struct conn *c);

/* Writes a response head regenerated from x->resp and the body bytes that follow it in the
 * input (body of them, already counted off by the caller) in one write; consumes head_len +
 * body input bytes. */
static int send_response_head(struct conn *c, size_t head_len, enum pc_http_framing framing,
                              uint64_t length, size_t body)
{
	struct exchange *x = c->x;
	size_t size = pc_http_forward_head_size(head_len);
	char *buf = malloc(size);
	uv_buf_t b[2];
	int n;

	if (buf == NULL)
		return -ENOMEM;
	n = pc_http_write_response_head(&x->resp, framing, length, x->keep_alive,
	                                x->req.head.minor_version, buf, size);
	if (n < 0) {
		free(buf);
		return n;
	}
	b[0] = uv_buf_init(buf, (unsigned)n);
	b[1] = uv_buf_init(inbuf_data(&c->uin) + head_len, (unsigned)body);
	if (x->resp.status >= 200 || x->resp.status == 101)
		x->response_started = true;
	return send_client(c, b, body > 0 ? 2 : 1, buf, head_len + body);
}

/* How much of a Content-Length body already read goes out with the head: the same bytes
 * response_body would send next, counted off the same way. */
static size_t body_with_head(struct conn *c, size_t head_len)
{
	struct exchange *x = c->x;
	size_t avail = inbuf_avail(&c->uin) - head_len;
	size_t n;

	if (x->resp_body != PC_HTTP_BODY_LENGTH || x->resp_out != PC_FRAME_LENGTH)
		return 0;
	n = avail < x->resp_left ? avail : (size_t)x->resp_left;
	x->resp_left -= n;
	if (x->resp_left == 0)
		x->resp_done = true;
	return n;
}

static int response_head(struct conn *c)
{
	struct exchange *x = c->x;
	const struct pc_settings *s = pc_policy_settings(x->policy);
	struct pc_http_limits limits = head_limits(s);
	ssize_t n = pc_http_response_parse(&x->resp, inbuf_data(&c->uin), inbuf_avail(&c->uin));
	bool client11 = x->req.head.minor_version >= 1;

	if (n == PC_AGAIN)
		return 0;
	if (n < 0) {
		pc_log_debug("refused a response from %s: %s", x->preq.host.name,
		             x->resp.head.error.reason);
		return -1;
	}
	if (x->resp.status == 101) {
		if (!x->upgrade)
			return -1;
		x->to_tunnel = true;
		x->keep_alive = false;
		return send_response_head(c, (size_t)n, PC_FRAME_NONE, 0, 0) < 0 ? -2 : 1;
	}
	if (x->resp.status < 200) {
		/* interim (100 Continue, 103 Early Hints): pass on, then the next head; an
		 * HTTP/1.0 client must not see one */
		int rc = client11 ? send_response_head(c, (size_t)n, PC_FRAME_NONE, 0, 0) : 1;
		if (!client11)
			c->uin.off += (size_t)n;
		pc_http_response_init(&x->resp, x->slots, x->nslots, &limits, x->req.method_id);
		return rc < 0 ? -2 : 1;
	}
	x->resp_head_done = true;
	/* A final response before the whole request body (an origin refusing an upload, a 417 to
	 * Expect) leaves the client mid-request: this response is the connection's last. */
	if (!x->req_done || c->to_up.busy)
		x->keep_alive = false;
	/* shutting down: this response is the connection's last, and says so */
	if (c->drain)
		x->keep_alive = false;
	x->resp_body = x->resp.head.body;
	x->resp_left = x->resp.head.content_length;
	switch (x->resp_body) {
	case PC_HTTP_BODY_NONE:
		x->resp_out = PC_FRAME_NONE;
		x->resp_done = true;
		break;
	case PC_HTTP_BODY_LENGTH:
		x->resp_out = PC_FRAME_LENGTH;
		x->resp_done = x->resp_left == 0;
		break;
	case PC_HTTP_BODY_CHUNKED:
	case PC_HTTP_BODY_CLOSE:
		/* an HTTP/1.1 client gets chunked and keeps its connection; HTTP/1.0 cannot */
		x->resp_out = client11 ? PC_FRAME_CHUNKED : PC_FRAME_CLOSE;
		if (!client11)
			x->keep_alive = false;
		pc_http_chunked_init(&x->resp_chunked, &limits);
		break;
	case PC_HTTP_BODY_TUNNEL:
		/* a 2xx to anything but CONNECT never reaches here */
		return -1;
	}
	{
		/* the framing takes the length before the body sent with the head counts off */
		uint64_t length = x->resp_left;
		return send_response_head(c, (size_t)n, x->resp_out, length,
		                          body_with_head(c, (size_t)n)) < 0
		               ? -2
		               : 1;
	}
}

/* Sends a span of response payload in the client's framing. */
static int send_payload(struct conn *c, const char *p, size_t len, size_t advance)
{
	uv_buf_t bufs[3];

	c->x->response_started = true;
	if (c->x->resp_out == PC_FRAME_CHUNKED) {
		int hl = snprintf(c->to_client.hdr, sizeof(c->to_client.hdr), "%zx\r\n", len);
		bufs[0] = uv_buf_init(c->to_client.hdr, (unsigned)hl);
		bufs[1] = uv_buf_init((char *)p, (unsigned)len);
		bufs[2] = uv_buf_init("\r\n", 2);
		return send_client(c, bufs, 3, NULL, advance);
	}
	bufs[0] = uv_buf_init((char *)p, (unsigned)len);
	return send_client(c, bufs, 1, NULL, advance);
}

/* The end of a chunked response for the client: last chunk, trailers, CRLF. */
static int send_last_chunk(struct conn *c, size_t advance)
{
	struct exchange *x = c->x;
	char *buf;
	uv_buf_t b;

	if (x->resp_out != PC_FRAME_CHUNKED) {
		c->uin.off += advance;
		return 1;
	}
	buf = malloc(x->trailers_len + 8);
	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, "0\r\n", 3);
	if (x->trailers_len > 0)
		memcpy(buf + 3, x->trailers, x->trailers_len);
	memcpy(buf + 3 + x->trailers_len, "\r\n", 2);
	b = uv_buf_init(buf, (unsigned)(x->trailers_len + 5));
	return send_client(c, &b, 1, buf, advance);
}

static int response_body(struct conn *c)
{
	struct exchange *x = c->x;
	size_t avail = inbuf_avail(&c->uin);
	const char *p = inbuf_data(&c->uin);

	switch (x->resp_body) {
	case PC_HTTP_BODY_LENGTH: {
		size_t n = avail < x->resp_left ? avail : (size_t)x->resp_left;
		if (n == 0)
			return 0;
		x->resp_left -= n;
		if (x->resp_left == 0)
			x->resp_done = true;
		return send_payload(c, p, n, n);
	}
	case PC_HTTP_BODY_CHUNKED: {
		struct pc_http_chunk chunk;
		ssize_t k;

		if (avail == 0)
			return 0;
		k = pc_http_chunked_decode(&x->resp_chunked, p, avail, &chunk);
		if (k < 0)
			return -1;
		switch (chunk.kind) {
		case PC_HTTP_CHUNK_DATA:
			return send_payload(c, chunk.p, chunk.len, (size_t)k);
		case PC_HTTP_CHUNK_TRAILER: {
			/* held until the end: trailers are valid only once complete */
			char *t = realloc(x->trailers, x->trailers_len + chunk.len);
			if (t == NULL)
				return -2;
			memcpy(t + x->trailers_len, chunk.p, chunk.len);
			x->trailers = t;
			x->trailers_len += chunk.len;
			c->uin.off += (size_t)k;
			return 1;
		}
		case PC_HTTP_CHUNK_END:
			x->resp_done = true;
			return send_last_chunk(c, (size_t)k);
		default:
			c->uin.off += (size_t)k;
			return 1;
		}
	}
	case PC_HTTP_BODY_CLOSE:
		if (avail > 0)
			return send_payload(c, p, avail, avail);
		if (c->up_eof) {
			x->resp_done = true;
			return send_last_chunk(c, 0);
		}
		return 0;
	default:
		x->resp_done = true;
		return 1;
	}
}

/* ---- response bodies by splice (see body_relay_start) ---- */

static void on_response_body_done(struct pc_relay *r, int status)
{
	struct conn *c = r->data;
	struct exchange *x = c->x;

	if (!body_relay_ended(c, status))
		return;
	if (x->resp_body == PC_HTTP_BODY_LENGTH) {
		x->resp_left -= r->bytes[0];
		x->resp_done = x->resp_left == 0;
	}
	c->up_eof = r->eof[0];
	response_pump(c);
	/* as after an EOF read: a body the EOF left incomplete breaks the exchange */
	if (!c->closing && c->state == ST_EXCHANGE && c->up != NULL && c->up_eof && !x->resp_done)
		upstream_failed(c, "the origin closed the connection early");
}

/* Hands the rest of a response body to the relay when it can move it by itself, origin to
 * client by splice(2): exactly the bytes left of a Content-Length body, or a close-delimited
 * one up to EOF for a client that takes it as is. Chunked bodies (and close-delimited ones
 * re-framed as chunked) go through the parser; a remainder under one buffer is not worth the
 * polls. Only once nothing else touches either connection: the request fully sent, no write
 * queued, the client's bytes not wanted (reading both sides stops here). Returns true when the
 * relay took over. */
static bool response_splice(struct conn *c)
{
	struct exchange *x = c->x;
	uint64_t limit;

	if (inbuf_avail(&c->uin) > 0 || c->up == NULL || c->up_eof || c->want_read ||
	    c->to_up.busy || !x->req_done)
		return false;
	if (x->resp_body == PC_HTTP_BODY_LENGTH && x->resp_left >= PC_BUF_SIZE)
		limit = x->resp_left;
	else if (x->resp_body == PC_HTTP_BODY_CLOSE && x->resp_out == PC_FRAME_CLOSE)
		limit = PC_RELAY_UNTIL_EOF;
	else
		return false;
	/* else the buffered path does the same job */
	return body_relay_start(c, &c->up->tcp, &c->client, limit, 0, on_response_body_done);
}

static void response_pump(struct conn *c)
{
	int rc = 1;

	while (c->state == ST_EXCHANGE && !c->to_client.busy) {
		struct exchange *x = c->x;

		if (x->to_tunnel) {
			/* the 101 is out: both sides now speak the upgraded protocol */
			tunnel_prelude(c);
			return;
		}
		if (x->resp_done) {
			finish_exchange(c);
			return;
		}
		if (x->resp_head_done && response_splice(c))
			return;
		rc = x->resp_head_done ? response_body(c) : response_head(c);
		if (rc == 0) {
			/* more input needed, or a write is in flight and its callback continues */
			up_start_reading(c);
			return;
		}
		if (rc < 0)
			break;
	}
	if (rc == -1)
		fail(c, PC_FAIL_BAD_GATEWAY, "the origin's response was malformed or ambiguous");
	else if (rc < 0)
		conn_close(c);
}

static void on_parked_read(struct conn *c, ssize_t nread, const uv_buf_t *buf)
{
	if (buf != NULL && buf->base != NULL)
		pc_buf_put(pc_server_pool(c->srv), buf->base);
	if (nread == 0)
		return;
	parked_closed(c);
}

static void on_parked_alloc(struct conn *c, uv_buf_t *buf)
{
	char *p = pc_buf_get(pc_server_pool(c->srv));

	*buf = uv_buf_init(p, p != NULL ? PC_BUF_SIZE : 0);
}

static void finish_exchange(struct conn *c)
{
	struct exchange *x = c->x;
	/* The request is sent once its last bytes are written, not just handed over: until then
	 * the client's buffer still holds them. */
	bool sent = x->req_done && !c->to_up.busy;
	bool reusable = x->resp.head.keep_alive && sent && inbuf_avail(&c->uin) == 0;

	/* A response that ended before its request body did leaves the client mid-request:
	 * the connection cannot be resynchronised. */
	if (!sent)
		x->keep_alive = false;
	if (c->up != NULL) {
		if (reusable && x->keep_alive) {
			/* park it, watching for the origin closing it meanwhile (up_on_read
			 * passes what it reads to on_parked_read) */
			c->up->parked = true;
			inbuf_release(c->srv, &c->uin);
			c->up_want = true;
			if (!c->up_reading) {
				if (uv_read_start((uv_stream_t *)&c->up->tcp, up_on_alloc,
				                  up_on_read) < 0)
					upstream_close(c);
				else
					c->up_reading = true;
			}
		} else {
			upstream_close(c);
		}
	}
	if (!x->keep_alive) {
		exchange_free(c);
		conn_finish(c);
		return;
	}
	next_request(c);
}

/* ---- accepting ---- */

static void conn_drain(struct pc_conn_link *l)
{
	struct conn *c = (struct conn *)((char *)l - offsetof(struct conn, link));

	c->drain = true;
	if (c->state == ST_HEAD && inbuf_avail(&c->cin) == 0)
		conn_close(c);
}

static void conn_abort(struct pc_conn_link *l)
{
	conn_close((struct conn *)((char *)l - offsetof(struct conn, link)));
}

void pc_http_accept(struct pc_server *srv, int fd, const union pc_sockaddr *peer)
{
	struct conn *c;
	uv_loop_t *loop = pc_server_loop(srv);

	if (pc_server_draining(srv) || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->peer = *peer;
	c->link.drain = conn_drain;
	c->link.abort = conn_abort;
	c->to_client.conn = c;
	c->to_up.conn = c;
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
	c->state = ST_HEAD;
	timer_arm(c, (uint64_t)pc_policy_settings(pc_server_policy(srv))->head_timeout_s * 1000);
	start_reading(c);
}
