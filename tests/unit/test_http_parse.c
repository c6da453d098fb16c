/* HTTP heads: requests and responses. Every case is parsed every way it can arrive (whole, a
 * byte at a time in a buffer that moves between calls, and in two pieces at every split point)
 * and all ways must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http/parse.h"

#define SLOTS  128
#define L(lit) lit, sizeof(lit) - 1

struct msg {
	bool response;
	enum pc_http_method method; /* of the request a response answers */
	const struct pc_http_limits *limits;
	size_t nslots;
	struct pc_http_field slots[SLOTS];
	struct pc_http_request req;
	struct pc_http_response resp;
	const char *base; /* the buffer of the last call */
	ssize_t rc;
};

static void msg_init(struct msg *m)
{
	size_t nslots = m->nslots ? m->nslots : SLOTS;
	if (m->response)
		pc_http_response_init(&m->resp, m->slots, nslots, m->limits, m->method);
	else
		pc_http_request_init(&m->req, m->slots, nslots, m->limits);
}

static struct pc_http_head *msg_head(struct msg *m)
{
	return m->response ? &m->resp.head : &m->req.head;
}

static ssize_t msg_parse(struct msg *m, const char *buf, size_t len)
{
	m->base = buf;
	m->rc = m->response ? pc_http_response_parse(&m->resp, buf, len)
	                    : pc_http_request_parse(&m->req, buf, len);
	return m->rc;
}

/* Offset of p in m's buffer, -1 for NULL, -2 for static text. */
static ptrdiff_t off(const struct msg *m, size_t len, const char *p)
{
	if (!p)
		return -1;
	if (p < m->base || p > m->base + len)
		return -2;
	return p - m->base;
}

#define SAME_SLICE(a, b, alen, blen, sa, sb)                                                       \
	do {                                                                                       \
		assert_int_equal(off(a, alen, (sa).p), off(b, blen, (sb).p));                      \
		assert_int_equal((sa).len, (sb).len);                                              \
	} while (0)

/* a and b parsed the same bytes (of lengths alen and blen, maybe in other buffers). */
static void assert_same(struct msg *a, size_t alen, struct msg *b, size_t blen)
{
	assert_int_equal(a->rc, b->rc);
	struct pc_http_head *ha = msg_head(a), *hb = msg_head(b);
	if (a->rc == PC_AGAIN)
		return;
	if (a->rc < 0) {
		assert_int_equal(ha->error.status, hb->error.status);
		assert_string_equal(ha->error.reason, hb->error.reason);
		return;
	}
	assert_int_equal(ha->nfields, hb->nfields);
	for (size_t i = 0; i < ha->nfields; i++) {
		const struct pc_http_field *fa = &ha->fields[i], *fb = &hb->fields[i];
		assert_int_equal(off(a, alen, fa->name), off(b, blen, fb->name));
		assert_int_equal(fa->name_len, fb->name_len);
		assert_int_equal(off(a, alen, fa->value), off(b, blen, fb->value));
		assert_int_equal(fa->value_len, fb->value_len);
		assert_int_equal(fa->id, fb->id);
		assert_int_equal(fa->flags, fb->flags);
	}
	assert_int_equal(ha->minor_version, hb->minor_version);
	assert_int_equal(ha->body, hb->body);
	assert_int_equal(ha->content_length, hb->content_length);
	assert_int_equal(ha->connection, hb->connection);
	assert_int_equal(ha->keep_alive, hb->keep_alive);
	assert_int_equal(ha->nconnection_names, hb->nconnection_names);
	SAME_SLICE(a, b, alen, blen, ha->upgrade, hb->upgrade);
	if (a->response) {
		assert_int_equal(a->resp.status, b->resp.status);
		SAME_SLICE(a, b, alen, blen, a->resp.reason, b->resp.reason);
	} else {
		SAME_SLICE(a, b, alen, blen, a->req.method, b->req.method);
		assert_int_equal(a->req.method_id, b->req.method_id);
		SAME_SLICE(a, b, alen, blen, a->req.target, b->req.target);
		SAME_SLICE(a, b, alen, blen, a->req.host, b->req.host);
		assert_int_equal(a->req.expect_continue, b->req.expect_continue);
	}
}

static struct msg other;

/* Inputs up to this size are also fed in a moving buffer and cut at every point; longer ones
 * (the limit tests) a byte at a time in place and cut at some points, to keep tests quick. */
#define EXHAUSTIVE_MAX 2048

/* Parses s into ref in one call, then every other way, comparing each with ref. */
static ssize_t parse_all_ways(struct msg *ref, const char *s, size_t n)
{
	msg_init(ref);
	msg_parse(ref, s, n);

	/* A byte at a time, each call in a fresh copy so that the buffer moves. */
	bool exhaustive = n <= EXHAUSTIVE_MAX;
	other = *ref;
	msg_init(&other);
	char *prev = NULL;
	const char *cur = s;
	size_t k = 0;
	while (k < n) {
		k++;
		if (exhaustive) {
			char *copy = malloc(k);
			assert_non_null(copy);
			memcpy(copy, s, k);
			free(prev);
			cur = prev = copy;
		}
		if (msg_parse(&other, cur, k) != PC_AGAIN)
			break;
	}
	if (n > 0)
		assert_same(ref, n, &other, k);
	free(prev);

	/* Two pieces, at every split point (or every step-th). */
	size_t step = exhaustive ? 1 : n / 61 + 1;
	for (size_t cut = 0; cut < n; cut += step) {
		msg_init(&other);
		if (msg_parse(&other, s, cut) == PC_AGAIN)
			msg_parse(&other, s, n);
		assert_same(ref, n, &other, n);
	}
	return ref->rc;
}

static struct msg ref;

static ssize_t request(const char *s, size_t n)
{
	memset(&ref, 0, sizeof ref);
	return parse_all_ways(&ref, s, n);
}

static ssize_t response_to(enum pc_http_method method, const char *s, size_t n)
{
	memset(&ref, 0, sizeof ref);
	ref.response = true;
	ref.method = method;
	return parse_all_ways(&ref, s, n);
}

static ssize_t request_limited(const struct pc_http_limits *limits, const char *s, size_t n)
{
	memset(&ref, 0, sizeof ref);
	ref.limits = limits;
	return parse_all_ways(&ref, s, n);
}

/* The parse failed with status and the reason mentions what. */
static void assert_refused(ssize_t rc, int status, const char *what)
{
	assert_int_equal(rc, PC_EPARSE);
	assert_int_equal(msg_head(&ref)->error.status, status);
	if (what && !strstr(msg_head(&ref)->error.reason, what))
		fail_msg("reason \"%s\" does not mention \"%s\"", msg_head(&ref)->error.reason,
		         what);
}

static bool slice_is(struct pc_http_slice s, const char *text)
{
	return s.p && s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

/* ---- tables ---- */

struct head_case {
	const char *in;
	size_t len;
	ssize_t rc; /* 0: the whole input (minus tail) is the head */
	int status; /* errors: the status to answer; successes: unused */
	enum pc_http_body body;
	uint64_t length;
	bool keep_alive;
	size_t tail;                /* bytes after the head */
	enum pc_http_method method; /* responses: of the request */
};

#define GOOD(lit, b, n, ka)                                                                        \
	{                                                                                          \
		.in = lit, .len = sizeof(lit) - 1, .body = PC_HTTP_BODY_##b, .length = n,          \
		.keep_alive = ka                                                                   \
	}
#define BAD(lit, st)                                                                               \
	{                                                                                          \
		.in = lit, .len = sizeof(lit) - 1, .rc = PC_EPARSE, .status = st                   \
	}

static const struct head_case good_requests[] = {
        GOOD("GET / HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.0\r\n\r\n", NONE, 0, false),
        GOOD("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", NONE, 0, false),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", NONE, 0, false),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, CLOSE ,\r\n\r\n", NONE, 0, false),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nConnection:\r\n\r\n", NONE, 0, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", LENGTH, 5, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", LENGTH, 0, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", LENGTH, 7, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 12 \t\r\n\r\n", LENGTH, 12, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n", LENGTH,
             UINT64_C(1) << 62, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", CHUNKED, 0, true),
        GOOD("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\tChunKed \r\n\r\n", CHUNKED, 0,
             true),
        GOOD("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", NONE, 0, true),
        GOOD("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n", LENGTH, 0, true),
        GOOD("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("FOO-BAR /x HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("get / HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("GET /?a=b&c=%20 HTTP/1.1\r\nHost: a\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost:\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nX: \x80\xff obs-text\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nX: a \t b\r\nY:\r\nZ: \r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nX-!#$%&'*+-.^_`|~09az: v\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nKeep-Alive: 5\r\n\r\n", NONE, 0, true),
        GOOD("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", NONE,
             0, true),
        {.in = "GET / HTTP/1.1\r\nHost: a\r\n\r\nXYZ",
         .len = 30,
         .body = PC_HTTP_BODY_NONE,
         .keep_alive = true,
         .tail = 3},
        {.in = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
         .len = 50,
         .body = PC_HTTP_BODY_LENGTH,
         .length = 3,
         .keep_alive = true,
         .tail = 3},
};

static const struct head_case bad_requests[] = {
        /* line endings */
        BAD("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\n\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400),
        BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
        BAD("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        /* request line */
        BAD("GET /\r\n\r\n", 400),
        BAD("GET\r\n\r\n", 400),
        BAD("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
        BAD("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET / http/1.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        BAD("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
        BAD("PRI / HTTP/2.0\r\n\r\n", 505),
        BAD("PRI * HTTP/2.1\r\n\r\n", 505),
        /* field lines */
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nNocolon\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX(y: v\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX\x80: v\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: \x0b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400),
        /* Content-Length */
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387905\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
            400),
        /* Transfer-Encoding */
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            400),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400),
        BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        /* Host */
        BAD("GET / HTTP/1.1\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nX: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        BAD("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a%2eb\r\n\r\n", 400),
        /* Connection, Upgrade, Expect, CONNECT */
        BAD("GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nConnection: \"close\"\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nConnection: x, Transfer-Encoding\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nConnection: HOST\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: a\r\nUpgrade: b\r\n\r\n", 400),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n", 417),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", 417),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: x\r\n\r\n", 417),
        BAD("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\n", 400),
        BAD("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
};

static void check_head_cases(const struct head_case *cases, size_t n, bool response)
{
	for (size_t i = 0; i < n; i++) {
		const struct head_case *c = &cases[i];
		ssize_t rc =
		        response ? response_to(c->method, c->in, c->len) : request(c->in, c->len);
		struct pc_http_head *h = msg_head(&ref);
		ssize_t want = c->rc ? c->rc : (ssize_t)(c->len - c->tail);
		if (rc != want || (rc < 0 && h->error.status != c->status))
			fail_msg("case %zu \"%.*s\": rc %zd status %d (%s), want rc %zd status %d",
			         i, (int)c->len, c->in, rc, h->error.status, h->error.reason, want,
			         c->status);
		if (rc < 0)
			continue;
		if (h->body != c->body || h->content_length != c->length ||
		    h->keep_alive != c->keep_alive)
			fail_msg("case %zu \"%.*s\": body %d length %llu keep-alive %d", i,
			         (int)c->len, c->in, h->body, (unsigned long long)h->content_length,
			         h->keep_alive);
	}
}

#define RGOOD(m, lit, b, n, ka)                                                                    \
	{                                                                                          \
		.in = lit, .len = sizeof(lit) - 1, .body = PC_HTTP_BODY_##b, .length = n,          \
		.keep_alive = ka, .method = PC_HTTP_METHOD_##m                                     \
	}
#define RBAD(m, lit)                                                                               \
	{                                                                                          \
		.in = lit, .len = sizeof(lit) - 1, .rc = PC_EPARSE, .status = 502,                 \
		.method = PC_HTTP_METHOD_##m                                                       \
	}

static const struct head_case good_responses[] = {
        RGOOD(GET, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", LENGTH, 5, true),
        RGOOD(GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", CHUNKED, 0, true),
        RGOOD(GET, "HTTP/1.1 200 OK\r\n\r\n", CLOSE, 0, false),
        RGOOD(GET, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", LENGTH, 0, true),
        RGOOD(GET, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", LENGTH, 0, true),
        RGOOD(GET, "HTTP/1.1 404 Not \tFound \x80\r\nContent-Length: 0\r\n\r\n", LENGTH, 0, true),
        RGOOD(GET, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", LENGTH, 5,
              false),
        RGOOD(GET, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", LENGTH, 5, false),
        RGOOD(GET, "HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n", LENGTH,
              5, true),
        RGOOD(GET, "HTTP/1.0 200 OK\r\n\r\n", CLOSE, 0, false),
        RGOOD(HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", NONE, 5, true),
        RGOOD(HEAD, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", NONE, 0, true),
        RGOOD(HEAD, "HTTP/1.1 200 OK\r\n\r\n", NONE, 0, true),
        RGOOD(GET, "HTTP/1.1 100 Continue\r\n\r\n", NONE, 0, true),
        RGOOD(GET, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", NONE, 0, true),
        RGOOD(GET, "HTTP/1.1 204 No Content\r\n\r\n", NONE, 0, true),
        RGOOD(GET, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", NONE, 0, true),
        RGOOD(GET, "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", NONE, 1234, true),
        RGOOD(GET, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", NONE, 0,
              true),
        RGOOD(CONNECT, "HTTP/1.1 200 Connection established\r\n\r\n", TUNNEL, 0, false),
        RGOOD(CONNECT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", TUNNEL, 5, false),
        RGOOD(CONNECT, "HTTP/1.1 407 Auth\r\nContent-Length: 5\r\n\r\n", LENGTH, 5, true),
        RGOOD(GET,
              "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
              "Upgrade: websocket\r\n\r\n",
              TUNNEL, 0, false),
        RGOOD(GET, "HTTP/1.1 599 X\r\nContent-Length: 1\r\n\r\n", LENGTH, 1, true),
        RGOOD(GET,
              "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nExpect: x\r\nContent-Length: 1\r\n\r\n",
              LENGTH, 1, true),
};

static const struct head_case bad_responses[] = {
        RBAD(GET, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RBAD(HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        RBAD(GET, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n x\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\n"),
        RBAD(GET, "HTTP/1.1 200 OK\rContent-Length: 1\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nX: \0\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 O\x01K\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 O\x7fK\r\n\r\n"),
        RBAD(GET, "\r\nHTTP/1.1 200 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.2 200 OK\r\n\r\n"),
        RBAD(GET, "HTTP/2 200\r\n\r\n"),
        RBAD(GET, "HTTP/2.0 200 OK\r\n\r\n"),
        RBAD(GET, "http/1.1 200 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 20 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 2000 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 099 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 600 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 20x OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1  200 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1\t200 OK\r\n\r\n"),
        RBAD(GET, "ICY 200 OK\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 101 Switching\r\nContent-Length: 3\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 3\r\n\r\n"),
        RBAD(GET, "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"),
};

struct head_table {
	const struct head_case *cases;
	size_t n;
	bool response;
};

#define TABLE(t, resp)                                                                             \
	{                                                                                          \
		t, sizeof t / sizeof t[0], resp                                                    \
	}
static const struct head_table tables[] = {
        TABLE(good_requests, false),
        TABLE(bad_requests, false),
        TABLE(good_responses, true),
        TABLE(bad_responses, true),
};

static void test_head_table(void **state)
{
	const struct head_table *t = *state;
	check_head_cases(t->cases, t->n, t->response);
}

/* ---- one test per lesson ---- */

static void test_two_content_lengths_rejected(void **state)
{
	(void)state;
	/* Even equal values: a recipient that takes the other one must not exist. */
	assert_refused(request(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	                         "Content-Length: 3\r\n\r\nabc")),
	               400, "Content-Length");
	assert_refused(request(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n")),
	               400, "Content-Length");
}

static void test_te_and_cl_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	                         "Transfer-Encoding: chunked\r\n\r\n")),
	               400, "Content-Length");
	assert_refused(response_to(PC_HTTP_METHOD_GET, L("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	                                                 "chunked\r\nContent-Length: 3\r\n\r\n")),
	               502, "Content-Length");
}

static void test_te_chunked_case_insensitive(void **state)
{
	(void)state;
	static const char *const spellings[] = {"chunked",  "CHUNKED",   "Chunked",      "cHuNkEd",
	                                        " chunked", "chunked\t", "\t ChUnKeD \t"};
	char buf[128];
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		int n = snprintf(buf, sizeof buf,
		                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:%s\r\n\r\n",
		                 spellings[i]);
		assert_int_equal(request(buf, (size_t)n), n);
		assert_int_equal(ref.req.head.body, PC_HTTP_BODY_CHUNKED);
	}
}

static void test_te_gzip_chunked_rejected(void **state)
{
	(void)state;
	static const char *const codings[] = {"gzip, chunked", "chunked, chunked", "identity",
	                                      "gzip",          "chunked,gzip",     "x-chunked",
	                                      "chunked ;",     "chun ked",         ""};
	char buf[128];
	for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
		int n = snprintf(buf, sizeof buf,
		                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n",
		                 codings[i]);
		assert_refused(request(buf, (size_t)n), 400, "Transfer-Encoding");
	}
}

static void test_te_in_http10_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")), 400,
	               "HTTP/1.0");
}

static void test_obs_fold_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n")), 400,
	               "obs-fold");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tfolded\r\n\r\n")), 400,
	               "obs-fold");
	/* Whitespace before the first field line is the same danger (RFC 9112 §2.2). */
	assert_refused(request(L("GET / HTTP/1.1\r\n Host: a\r\n\r\n")), 400, "obs-fold");
}

static void test_bare_lf_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("GET / HTTP/1.1\nHost: a\n\n")), 400, "bare LF");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\n\r\n")), 400, "bare LF");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\n\n")), 400, "bare LF");
	/* Seen as soon as it arrives, not when the head is complete. */
	assert_refused(request(L("GET / HTTP/1.1\n")), 400, "bare LF");
}

static void test_bare_cr_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("GET / HTTP/1.1\rHost: a\r\n\r\n")), 400, "bare CR");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n")), 400, "bare CR");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n")), 400, "bare CR");
	/* A CR at the end of the input is not judged until the next byte. */
	assert_int_equal(request(L("GET / HTTP/1.1\r")), PC_AGAIN);
}

static void test_nul_in_value_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n")), 400,
	               "field value");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\0.evil\r\n\r\n")), 400, "field value");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n")), 400,
	               "field value");
}

static void test_space_before_colon_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc")),
	               400, "colon");
	assert_refused(
	        request(L("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n")),
	        400, "colon");
}

static void test_http09_rejected(void **state)
{
	(void)state;
	assert_refused(request(L("GET /\r\n")), 400, "HTTP/0.9");
	assert_refused(request(L("GET /index.html\r\n\r\n")), 400, "HTTP/0.9");
}

static void test_h2_preface_detected(void **state)
{
	(void)state;
	/* The whole preface, and only its first line: both are recognised at once. */
	assert_int_equal(request(L("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), PC_EUNSUPPORTED);
	assert_int_equal(ref.req.head.error.status, 505);
	assert_string_equal(ref.req.head.error.reason, "HTTP/2 prior knowledge is not supported");
	assert_int_equal(request(L("PRI * HTTP/2.0\r\n")), PC_EUNSUPPORTED);
	/* Other HTTP/2.0 request lines are plain version errors. */
	assert_refused(request(L("GET / HTTP/2.0\r\n\r\n")), 505, "version");
	assert_refused(request(L("pri * HTTP/2.0\r\n\r\n")), 505, "version");
}

static void test_connection_naming_framing_field_rejected(void **state)
{
	(void)state;
	/* A proxy removes what Connection names; removing Content-Length while forwarding the body
	 * would let the body be read upstream as the next request. */
	assert_refused(request(L("POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\n"
	                         "Content-Length: 3\r\n\r\nabc")),
	               400, "Connection");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, host\r\n\r\n")),
	               400, "Connection");
}

static void test_connect_with_body_rejected(void **state)
{
	(void)state;
	assert_refused(
	        request(L("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 4\r\n\r\n")),
	        400, "CONNECT");
}

static void test_host_required_once(void **state)
{
	(void)state;
	assert_refused(request(L("GET / HTTP/1.1\r\n\r\n")), 400, "Host");
	assert_refused(request(L("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")), 400, "Host");
	assert_refused(request(L("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n")), 400, "Host");
	assert_int_equal(request(L("GET / HTTP/1.0\r\n\r\n")), 18);
	assert_null(ref.req.host.p);
	assert_int_equal(request(L("GET / HTTP/1.1\r\nhOsT:  example.com:8080 \r\n\r\n")), 44);
	assert_true(slice_is(ref.req.host, "example.com:8080"));
}

static void test_expect(void **state)
{
	(void)state;
	assert_true(request(L("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n")) > 0);
	assert_true(ref.req.expect_continue);
	/* RFC 9110 §10.1.1: ignored in HTTP/1.0. */
	assert_true(request(L("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")) > 0);
	assert_false(ref.req.expect_continue);
	assert_refused(request(L("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n")), 417,
	               "expectation");
}

static void test_request_line_slices(void **state)
{
	(void)state;
	assert_true(request(L("\r\nPATCH http://h/x?y HTTP/1.0\r\n\r\n")) > 0);
	assert_true(slice_is(ref.req.method, "PATCH"));
	assert_int_equal(ref.req.method_id, PC_HTTP_METHOD_PATCH);
	assert_true(slice_is(ref.req.target, "http://h/x?y"));
	assert_int_equal(ref.req.head.minor_version, 0);
	static const struct {
		const char *name;
		enum pc_http_method id;
	} methods[] = {{"GET", PC_HTTP_METHOD_GET},         {"HEAD", PC_HTTP_METHOD_HEAD},
	               {"POST", PC_HTTP_METHOD_POST},       {"PUT", PC_HTTP_METHOD_PUT},
	               {"DELETE", PC_HTTP_METHOD_DELETE},   {"CONNECT", PC_HTTP_METHOD_CONNECT},
	               {"OPTIONS", PC_HTTP_METHOD_OPTIONS}, {"TRACE", PC_HTTP_METHOD_TRACE},
	               {"PATCH", PC_HTTP_METHOD_PATCH},     {"Get", PC_HTTP_METHOD_OTHER},
	               {"GETS", PC_HTTP_METHOD_OTHER},      {"PROPFIND", PC_HTTP_METHOD_OTHER}};
	char buf[64];
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		int n = snprintf(buf, sizeof buf, "%s x:1 HTTP/1.0\r\n\r\n", methods[i].name);
		assert_int_equal(request(buf, (size_t)n), n);
		assert_int_equal(ref.req.method_id, methods[i].id);
	}
}

static void test_fields_and_hop_by_hop(void **state)
{
	(void)state;
	static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret,"
	                         " upgrade, x-other\r\nX-SECRET: 1\r\nUpgrade: websocket\r\n"
	                         "Keep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: close\r\n"
	                         "X-Other:\r\nX-Kept:  v  w \t\r\n\r\n";
	assert_int_equal(request(L(in)), (ssize_t)sizeof in - 1);
	const struct pc_http_head *h = &ref.req.head;
	assert_int_equal(h->nfields, 9);
	assert_int_equal(h->connection, PC_HTTP_CONN_KEEP_ALIVE | PC_HTTP_CONN_UPGRADE);
	assert_int_equal(h->nconnection_names, 2);
	assert_true(pc_http_connection_names(h, L("x-secret")));
	assert_true(pc_http_connection_names(h, L("X-OTHER")));
	assert_false(pc_http_connection_names(h, L("x-kept")));
	assert_false(pc_http_connection_names(h, L("x-secre")));
	assert_true(slice_is(h->upgrade, "websocket"));
	static const struct {
		enum pc_http_field_id id;
		bool hop;
	} want[] = {{PC_HTTP_FIELD_HOST, false},
	            {PC_HTTP_FIELD_CONNECTION, true},
	            {PC_HTTP_FIELD_OTHER, true},
	            {PC_HTTP_FIELD_UPGRADE, true},
	            {PC_HTTP_FIELD_KEEP_ALIVE, true},
	            {PC_HTTP_FIELD_TE, true},
	            {PC_HTTP_FIELD_PROXY_CONNECTION, true},
	            {PC_HTTP_FIELD_OTHER, true},
	            {PC_HTTP_FIELD_OTHER, false}};
	for (size_t i = 0; i < h->nfields; i++) {
		assert_int_equal(h->fields[i].id, want[i].id);
		assert_int_equal((h->fields[i].flags & PC_HTTP_FIELD_HOP) != 0, want[i].hop);
	}
	assert_int_equal(h->fields[7].value_len, 0);
	assert_memory_equal(h->fields[8].value, "v  w", 4);
	assert_int_equal(h->fields[8].value_len, 4);
	/* Proxy-Connection does not decide persistence. */
	assert_true(h->keep_alive);
	/* Upgrade without Connection: upgrade, or in HTTP/1.0, offers nothing. */
	assert_true(request(L("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")) > 0);
	assert_null(ref.req.head.upgrade.p);
	assert_true(request(L("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n")) >
	            0);
	assert_null(ref.req.head.upgrade.p);
}

static void test_connection_names_bounded(void **state)
{
	(void)state;
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close");
	for (int i = 0; i < PC_HTTP_CONNECTION_NAMES_MAX; i++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, ", x%d", i);
	int head = n;
	n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n\r\n");
	assert_int_equal(request(buf, (size_t)n), n);
	assert_int_equal(ref.req.head.nconnection_names, PC_HTTP_CONNECTION_NAMES_MAX);
	n = head + snprintf(buf + head, sizeof buf - (size_t)head, ", one-more\r\n\r\n");
	assert_refused(request(buf, (size_t)n), 400, "Connection");
}

/* ---- limits ---- */

/* A request line of exactly line bytes (without CRLF). */
static size_t request_line_of(char *buf, size_t line)
{
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', line - 14);
	memcpy(buf + line - 9, " HTTP/1.0\r\n\r\n", 13);
	return line + 4;
}

static void test_request_line_limit_exact(void **state)
{
	(void)state;
	static const struct pc_http_limits lim = {64, 1024, 10};
	char buf[128];
	size_t n = request_line_of(buf, 64);
	assert_int_equal(request_limited(&lim, buf, n), (ssize_t)n);
	n = request_line_of(buf, 65);
	assert_refused(request_limited(&lim, buf, n), 414, "request line");
	/* Cut early: 65 bytes without a line end are enough to answer. */
	memset(buf, 'A', 65);
	assert_refused(request_limited(&lim, buf, 65), 414, NULL);
	assert_int_equal(request_limited(&lim, buf, 64), PC_AGAIN);
	/* The defaults: 8192. */
	static char big[8300];
	n = request_line_of(big, 8192);
	assert_int_equal(request(big, n), (ssize_t)n);
	n = request_line_of(big, 8193);
	assert_refused(request(big, n), 414, NULL);
}

/* A request with nfields field lines "X: v" of total field_bytes bytes (CRLFs included). */
static size_t fields_of(char *buf, size_t nfields, size_t field_bytes)
{
	size_t n = (size_t)sprintf(buf, "GET / HTTP/1.0\r\n");
	size_t each = field_bytes / nfields;
	for (size_t i = 0; i < nfields; i++) {
		size_t len = i + 1 < nfields ? each : field_bytes - each * (nfields - 1);
		buf[n] = 'X';
		buf[n + 1] = ':';
		memset(buf + n + 2, 'v', len - 4);
		memcpy(buf + n + len - 2, "\r\n", 2);
		n += len;
	}
	memcpy(buf + n, "\r\n", 2);
	return n + 2;
}

static void test_header_bytes_limit_exact(void **state)
{
	(void)state;
	static const struct pc_http_limits lim = {64, 100, 10};
	char buf[256];
	size_t n = fields_of(buf, 3, 100);
	assert_int_equal(request_limited(&lim, buf, n), (ssize_t)n);
	n = fields_of(buf, 3, 101);
	assert_refused(request_limited(&lim, buf, n), 431, "header section");
	/* Cut early, before the line ends: 16 + 99 bytes of one field line cannot fit any more. */
	n = fields_of(buf, 1, 120);
	assert_refused(request_limited(&lim, buf, 16 + 99), 431, "header section");
	assert_int_equal(request_limited(&lim, buf, 16 + 98), PC_AGAIN);
	/* The defaults: 65536. */
	static char big[70000];
	n = fields_of(big, 90, 65536);
	assert_int_equal(request(big, n), (ssize_t)n);
	n = fields_of(big, 90, 65537);
	assert_refused(request(big, n), 431, NULL);
}

static void test_header_fields_limit_exact(void **state)
{
	(void)state;
	static const struct pc_http_limits lim = {64, 1024, 3};
	char buf[256];
	size_t n = fields_of(buf, 3, 30);
	assert_int_equal(request_limited(&lim, buf, n), (ssize_t)n);
	n = fields_of(buf, 4, 40);
	assert_refused(request_limited(&lim, buf, n), 431, "too many");
	/* Refused when the first byte of the fourth field line arrives. */
	assert_refused(request_limited(&lim, buf, 16 + 30 + 1), 431, "too many");
	assert_int_equal(request_limited(&lim, buf, 16 + 30), PC_AGAIN);
	/* The defaults: 100; and fewer slots than the limit bound the fields too. */
	static char big[4096];
	n = fields_of(big, 100, 1000);
	assert_int_equal(request(big, n), (ssize_t)n);
	n = fields_of(big, 101, 1010);
	assert_refused(request(big, n), 431, "too many");
	memset(&ref, 0, sizeof ref);
	ref.nslots = 5;
	n = fields_of(big, 6, 60);
	assert_refused(parse_all_ways(&ref, big, n), 431, "too many");
	n = fields_of(big, 5, 50);
	assert_int_equal(parse_all_ways(&ref, big, n), (ssize_t)n);
}

static void test_status_line_limit(void **state)
{
	(void)state;
	static const struct pc_http_limits lim = {17, 1024, 3};
	memset(&ref, 0, sizeof ref);
	ref.response = true;
	ref.limits = &lim;
	assert_int_equal(parse_all_ways(&ref, L("HTTP/1.1 200 OKOK\r\n\r\n")), 21);
	assert_refused(parse_all_ways(&ref, L("HTTP/1.1 200 OKOKO\r\n\r\n")), 502, "status line");
}

static void test_head_max(void **state)
{
	(void)state;
	static const struct pc_http_limits lim = {64, 100, 3};
	assert_int_equal(pc_http_head_max(&lim),
	                 64 + 2 + 2 * PC_HTTP_LEADING_EMPTY_LINES_MAX + 100 + 2);
	assert_int_equal(pc_http_head_max(NULL),
	                 8192 + 65536 + 4 + 2 * PC_HTTP_LEADING_EMPTY_LINES_MAX);
}

/* ---- feeding in pieces stays linear ---- */

static void test_bytewise_feeding_is_linear(void **state)
{
	(void)state;
	static char big[70000];
	size_t n = fields_of(big, 64, 65536);
	struct pc_http_request r;
	static struct pc_http_field slots[100];
	pc_http_request_init(&r, slots, 100, NULL);
	ssize_t rc = PC_AGAIN;
	size_t k = 0;
	while (rc == PC_AGAIN && k < n)
		rc = pc_http_request_parse(&r, big, ++k);
	assert_int_equal(rc, (ssize_t)n);
	assert_int_equal(k, n);
	/* Each byte is looked at a bounded number of times (one scan, the start line again, the
	 * fields once more), plus one per call: a quadratic rescan would be ~n²/2. */
	assert_true(r.head.scan.examined <= 4 * n);

	pc_http_request_init(&r, slots, 100, NULL);
	static char line[8200];
	n = request_line_of(line, 8192);
	for (k = 1, rc = PC_AGAIN; rc == PC_AGAIN && k <= n; k++)
		rc = pc_http_request_parse(&r, line, k);
	assert_int_equal(rc, (ssize_t)n);
	assert_true(r.head.scan.examined <= 4 * n);
}

static void test_errors_are_sticky(void **state)
{
	(void)state;
	struct pc_http_request r;
	struct pc_http_field slots[4];
	pc_http_request_init(&r, slots, 4, NULL);
	assert_int_equal(pc_http_request_parse(&r, L("GET / HTTP/1.1\n")), PC_EPARSE);
	assert_int_equal(pc_http_request_parse(&r, L("GET / HTTP/1.1\r\nHost: a\r\n\r\n")),
	                 PC_EPARSE);
	/* Success repeats too (the caller may call again with the same bytes). */
	pc_http_request_init(&r, slots, 4, NULL);
	assert_int_equal(pc_http_request_parse(&r, L("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), 27);
	assert_int_equal(pc_http_request_parse(&r, L("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET")), 27);
	/* No slots at all: only heads without fields. */
	pc_http_request_init(&r, NULL, 0, NULL);
	assert_int_equal(pc_http_request_parse(&r, L("GET / HTTP/1.0\r\n\r\n")), 18);
	pc_http_request_init(&r, NULL, 0, NULL);
	assert_int_equal(pc_http_request_parse(&r, L("GET / HTTP/1.0\r\nX: 1\r\n\r\n")), PC_EPARSE);
	assert_int_equal(r.head.error.status, 431);
}

/* ---- responses ---- */

static void test_response_head_no_body(void **state)
{
	(void)state;
	assert_true(response_to(PC_HTTP_METHOD_HEAD,
	                        L("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_NONE);
	assert_int_equal(ref.resp.head.content_length, 100);
}

static void test_response_1xx_no_body(void **state)
{
	(void)state;
	assert_int_equal(response_to(PC_HTTP_METHOD_POST, L("HTTP/1.1 100 Continue\r\n\r\nHTTP")),
	                 25);
	assert_int_equal(ref.resp.status, 100);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_NONE);
	assert_true(slice_is(ref.resp.reason, "Continue"));
}

static void test_response_204_304_no_body(void **state)
{
	(void)state;
	assert_true(response_to(PC_HTTP_METHOD_GET, L("HTTP/1.1 204 No Content\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_NONE);
	assert_true(ref.resp.head.keep_alive);
	assert_true(response_to(PC_HTTP_METHOD_GET,
	                        L("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_NONE);
	assert_refused(response_to(PC_HTTP_METHOD_GET,
	                           L("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n")),
	               502, "204");
}

static void test_response_close_delimited(void **state)
{
	(void)state;
	assert_true(response_to(PC_HTTP_METHOD_GET, L("HTTP/1.1 200 OK\r\nX: y\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_CLOSE);
	assert_false(ref.resp.head.keep_alive);
}

static void test_response_connect_2xx_tunnel(void **state)
{
	(void)state;
	assert_true(response_to(PC_HTTP_METHOD_CONNECT, L("HTTP/1.1 200 OK\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_TUNNEL);
	assert_true(response_to(PC_HTTP_METHOD_CONNECT,
	                        L("HTTP/1.1 204 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) < 0);
	assert_true(response_to(PC_HTTP_METHOD_CONNECT, L("HTTP/1.1 403 No\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_CLOSE);
	/* A 2xx to anything else is an ordinary response. */
	assert_true(response_to(PC_HTTP_METHOD_GET, L("HTTP/1.1 200 OK\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_CLOSE);
}

static void test_response_101_upgrade(void **state)
{
	(void)state;
	assert_true(response_to(PC_HTTP_METHOD_GET,
	                        L("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                          "Connection: Upgrade\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_TUNNEL);
	assert_true(slice_is(ref.resp.head.upgrade, "websocket"));
	assert_false(ref.resp.head.keep_alive);
	/* Without Connection: upgrade, the 101 agrees to nothing the proxy could verify. */
	assert_true(
	        response_to(PC_HTTP_METHOD_GET,
	                    L("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")) >
	        0);
	assert_null(ref.resp.head.upgrade.p);
	/* Upgrade on an ordinary response is not an upgrade. */
	assert_true(response_to(PC_HTTP_METHOD_GET,
	                        L("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nConnection: upgrade\r\n"
	                          "Content-Length: 0\r\n\r\n")) > 0);
	assert_null(ref.resp.head.upgrade.p);
}

static void test_response_chunked(void **state)
{
	(void)state;
	assert_true(response_to(PC_HTTP_METHOD_GET, L("HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\n"
	                                              "Transfer-Encoding: chunked\r\n\r\n")) > 0);
	assert_int_equal(ref.resp.head.body, PC_HTTP_BODY_CHUNKED);
	assert_true(ref.resp.head.keep_alive);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        {"good_requests", test_head_table, NULL, NULL, (void *)&tables[0]},
	        {"bad_requests", test_head_table, NULL, NULL, (void *)&tables[1]},
	        {"good_responses", test_head_table, NULL, NULL, (void *)&tables[2]},
	        {"bad_responses", test_head_table, NULL, NULL, (void *)&tables[3]},
	        cmocka_unit_test(test_two_content_lengths_rejected),
	        cmocka_unit_test(test_te_and_cl_rejected),
	        cmocka_unit_test(test_te_chunked_case_insensitive),
	        cmocka_unit_test(test_te_gzip_chunked_rejected),
	        cmocka_unit_test(test_te_in_http10_rejected),
	        cmocka_unit_test(test_obs_fold_rejected),
	        cmocka_unit_test(test_bare_lf_rejected),
	        cmocka_unit_test(test_bare_cr_rejected),
	        cmocka_unit_test(test_nul_in_value_rejected),
	        cmocka_unit_test(test_space_before_colon_rejected),
	        cmocka_unit_test(test_http09_rejected),
	        cmocka_unit_test(test_h2_preface_detected),
	        cmocka_unit_test(test_connection_naming_framing_field_rejected),
	        cmocka_unit_test(test_connect_with_body_rejected),
	        cmocka_unit_test(test_host_required_once),
	        cmocka_unit_test(test_expect),
	        cmocka_unit_test(test_request_line_slices),
	        cmocka_unit_test(test_fields_and_hop_by_hop),
	        cmocka_unit_test(test_connection_names_bounded),
	        cmocka_unit_test(test_request_line_limit_exact),
	        cmocka_unit_test(test_header_bytes_limit_exact),
	        cmocka_unit_test(test_header_fields_limit_exact),
	        cmocka_unit_test(test_status_line_limit),
	        cmocka_unit_test(test_head_max),
	        cmocka_unit_test(test_bytewise_feeding_is_linear),
	        cmocka_unit_test(test_errors_are_sticky),
	        cmocka_unit_test(test_response_head_no_body),
	        cmocka_unit_test(test_response_1xx_no_body),
	        cmocka_unit_test(test_response_204_304_no_body),
	        cmocka_unit_test(test_response_close_delimited),
	        cmocka_unit_test(test_response_connect_2xx_tunnel),
	        cmocka_unit_test(test_response_101_upgrade),
	        cmocka_unit_test(test_response_chunked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
