/* The heads portcullis sends on: generated from the parsed head, never copied. Every
 * hop-by-hop and framing field is dropped and the framing portcullis uses is written instead;
 * the Host of a forwarded request comes from the checked target, never from the client. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/forward.h"
#include "http/parse.h"
#include "http/target.h"
#include "policy/host.h"

#define NSLOTS 64

struct parsed_request {
	struct pc_http_field slots[NSLOTS];
	struct pc_http_request r;
	struct pc_http_target t;
	struct pc_host host;
	uint16_t port, default_port;
	size_t head_len;
};

static void parse_request(const char *text, struct parsed_request *p)
{
	struct pc_http_error err;
	ssize_t n;

	memset(p, 0, sizeof(*p));
	pc_http_request_init(&p->r, p->slots, NSLOTS, NULL);
	n = pc_http_request_parse(&p->r, text, strlen(text));
	if (n < 0)
		fail_msg("parse failed (%zd): %s", n, p->r.head.error.reason);
	p->head_len = (size_t)n;
	assert_int_equal(
	        pc_http_target_parse(p->r.target.p, p->r.target.len, p->r.method_id, &p->t, &err),
	        0);
	assert_int_equal(
	        pc_authority_parse(p->t.authority.p, p->t.authority.len, &p->host, &p->port), 0);
	p->default_port = p->t.form == PC_HTTP_TARGET_AUTHORITY ? 443 : 80;
	if (p->port == 0)
		p->port = p->default_port;
}

/* The request head written for text, as a NUL-terminated string in out. */
static void request_head(const char *text, enum pc_http_framing framing, uint64_t length,
                         bool upgrade, char *out, size_t size)
{
	struct parsed_request p;
	int n;

	parse_request(text, &p);
	n = pc_http_write_request_head(&p.r, &p.t, &p.host, p.port, p.default_port, framing, length,
	                               upgrade, out, size - 1);
	if (n < 0)
		fail_msg("write failed: %d", n);
	out[n] = '\0';
}

struct request_case {
	const char *in;
	enum pc_http_framing framing;
	uint64_t length;
	bool upgrade;
	const char *out;
};

static const struct request_case requests[] = {
        /* origin-form from the target; Host from the target, not the client */
        {"GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
         PC_FRAME_NONE, 0, false,
         "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"},
        {"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", PC_FRAME_NONE, 0, false,
         "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
        {"GET http://example.com?q HTTP/1.1\r\nHost: example.com\r\n\r\n", PC_FRAME_NONE, 0, false,
         "GET /?q HTTP/1.1\r\nHost: example.com\r\n\r\n"},
        {"OPTIONS http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", PC_FRAME_NONE, 0,
         false, "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n"},
        /* the normalised host: case, trailing dot, default port */
        {"GET http://EXAMPLE.Com.:80/ HTTP/1.1\r\nHost: example.com\r\n\r\n", PC_FRAME_NONE, 0,
         false, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
        {"GET http://example.com:8080/ HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", PC_FRAME_NONE,
         0, false, "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"},
        {"GET http://127.1/ HTTP/1.1\r\nHost: 127.1\r\n\r\n", PC_FRAME_NONE, 0, false,
         "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
        {"GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", PC_FRAME_NONE, 0, false,
         "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
        {"GET http://[0:0::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n", PC_FRAME_NONE, 0, false,
         "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n"},
        {"GET http://[fe80::1%25eth0]/ HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", PC_FRAME_NONE,
         0, false, "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n"},
        /* hop-by-hop fields, those Connection names, and proxy credentials are dropped */
        {"GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Private, x-other\r\n"
         "X-Private: 1\r\nX-Other: 2\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
         "Proxy-Authorization: Basic eDp5\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
         "X-Kept: 3\r\n\r\n",
         PC_FRAME_NONE, 0, false, "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: 3\r\n\r\n"},
        /* framing is regenerated: the client's Content-Length or Transfer-Encoding never */
        {"POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: y\r\n\r\n", PC_FRAME_LENGTH,
         5, false, "POST / HTTP/1.1\r\nHost: a\r\nX: y\r\nContent-Length: 5\r\n\r\n"},
        {"POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
         PC_FRAME_CHUNKED, 0, false,
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {"POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", PC_FRAME_LENGTH, 0,
         false, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"},
        {"PUT http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551\r\n\r\n",
         PC_FRAME_LENGTH, UINT64_C(18446744073709551), false,
         "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551\r\n\r\n"},
        /* an upgrade offered by the client is passed on only when asked to */
        {"GET ws://a/chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: k\r\n\r\n",
         PC_FRAME_NONE, 0, true,
         "GET /chat HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\n"
         "Upgrade: websocket\r\n\r\n"},
        {"GET ws://a/chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: k\r\n\r\n",
         PC_FRAME_NONE, 0, false, "GET /chat HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\n\r\n"},
        /* HTTP/1.0 in, HTTP/1.1 out */
        {"GET http://a/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", PC_FRAME_NONE, 0, false,
         "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
        /* field order and values are kept byte for byte */
        {"GET http://a/ HTTP/1.1\r\nB: 2\r\nHost: a\r\nA:  spaced  value \r\nb: 3\r\n\r\n",
         PC_FRAME_NONE, 0, false,
         "GET / HTTP/1.1\r\nHost: a\r\nB: 2\r\nA: spaced  value\r\nb: 3\r\n\r\n"},
};

static void test_request_heads(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		char out[4096];

		request_head(requests[i].in, requests[i].framing, requests[i].length,
		             requests[i].upgrade, out, sizeof(out));
		if (strcmp(out, requests[i].out) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, out, requests[i].out);
	}
}

/* Security lesson: a client's Host never reaches the origin, so a request cannot be judged
 * for one host and delivered to another. */
static void test_host_generated_from_target(void **state)
{
	char out[1024];
	(void)state;

	request_head("GET http://allowed.example/ HTTP/1.1\r\nHost: allowed.example\r\n\r\n",
	             PC_FRAME_NONE, 0, false, out, sizeof(out));
	assert_non_null(strstr(out, "\r\nHost: allowed.example\r\n"));
	assert_int_equal(strstr(strstr(out, "Host:") + 1, "Host:") == NULL, 1);
}

/* Security lesson (tinyproxy): a field named by Connection is removed whatever its case, and
 * the removal never touches fields it does not name. */
static void test_connection_listed_fields_never_forwarded(void **state)
{
	char out[1024];
	(void)state;

	request_head("GET http://a/ HTTP/1.1\r\nHost: a\r\nx-SECRET: 1\r\nConnection: X-Secret\r\n"
	             "X-Secrets: kept\r\nX-SECRET: 2\r\n\r\n",
	             PC_FRAME_NONE, 0, false, out, sizeof(out));
	assert_string_equal(out, "GET / HTTP/1.1\r\nHost: a\r\nX-Secrets: kept\r\n\r\n");
}

/* Security lesson: framing fields are never copied, so no field of the client can give the
 * origin a second reading of where the body ends. */
static void test_framing_fields_regenerated_never_copied(void **state)
{
	char out[1024];
	(void)state;

	request_head("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	             PC_FRAME_CHUNKED, 0, false, out, sizeof(out));
	assert_null(strstr(out, "Content-Length"));
	request_head("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
	             PC_FRAME_LENGTH, 3, false, out, sizeof(out));
	assert_null(strstr(out, "Transfer-Encoding"));
	assert_non_null(strstr(out, "Content-Length: 3\r\n"));
}

/* pc_http_forward_head_size always suffices, and anything smaller fails cleanly without
 * writing past the size given. */
static void test_request_head_space(void **state)
{
	static char text[16384];
	struct parsed_request p;
	char host[254];
	char out[20000];
	int full;
	(void)state;

	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (int i = 63; i < 253; i += 64)
		host[i] = '.';
	snprintf(text, sizeof(text),
	         "POST ws://%s:65535/ HTTP/1.1\r\nHost: %s:65535\r\nUpgrade: %s\r\n"
	         "Connection: upgrade\r\nTransfer-Encoding: chunked\r\n\r\n",
	         host, host, "websocket/13, h2c, a-very-long-protocol-name/1.0");
	parse_request(text, &p);
	full = pc_http_write_request_head(&p.r, &p.t, &p.host, p.port, p.default_port,
	                                  PC_FRAME_LENGTH, UINT64_MAX, true, out,
	                                  pc_http_forward_head_size(p.head_len));
	assert_true(full > 0);
	for (size_t size = 0; size < (size_t)full; size++) {
		memset(out, 0x5a, sizeof(out));
		assert_int_equal(pc_http_write_request_head(&p.r, &p.t, &p.host, p.port,
		                                            p.default_port, PC_FRAME_LENGTH,
		                                            UINT64_MAX, true, out, size),
		                 -ENOSPC);
		for (size_t i = size; i < sizeof(out); i++)
			if (out[i] != 0x5a)
				fail_msg("size %zu: byte %zu written", size, i);
	}
}

/* ---- responses ---- */

static void response_head(const char *text, enum pc_http_method method,
                          enum pc_http_framing framing, uint64_t length, bool keep_alive,
                          unsigned client_minor, char *out, size_t size)
{
	struct pc_http_field slots[NSLOTS];
	struct pc_http_response r;
	ssize_t n;
	int w;

	pc_http_response_init(&r, slots, NSLOTS, NULL, method);
	n = pc_http_response_parse(&r, text, strlen(text));
	if (n < 0)
		fail_msg("parse failed (%zd): %s", n, r.head.error.reason);
	w = pc_http_write_response_head(&r, framing, length, keep_alive, client_minor, out,
	                                size - 1);
	if (w < 0)
		fail_msg("write failed: %d", w);
	out[w] = '\0';
}

struct response_case {
	const char *in;
	enum pc_http_method method;
	enum pc_http_framing framing;
	uint64_t length;
	bool keep_alive;
	unsigned client_minor;
	const char *out;
};

#define GET  PC_HTTP_METHOD_GET
#define HEAD PC_HTTP_METHOD_HEAD

static const struct response_case responses[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: y\r\n\r\n", GET, PC_FRAME_LENGTH, 3, true, 1,
         "HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 3\r\n\r\n"},
        /* chunked and close-delimited bodies are re-chunked for HTTP/1.1 clients */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n", GET,
         PC_FRAME_CHUNKED, 0, true, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {"HTTP/1.0 200 OK\r\nX: y\r\n\r\n", GET, PC_FRAME_CHUNKED, 0, true, 1,
         "HTTP/1.1 200 OK\r\nX: y\r\nTransfer-Encoding: chunked\r\n\r\n"},
        /* ... and sent until the close to HTTP/1.0 clients */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", GET, PC_FRAME_CLOSE, 0, false, 0,
         "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", GET, PC_FRAME_LENGTH, 3, true, 0,
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", GET, PC_FRAME_LENGTH,
         3, false, 1, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"},
        /* HEAD and 304: Content-Length describes the representation and is kept */
        {"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n", HEAD, PC_FRAME_NONE, 0, true, 1,
         "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"},
        {"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n", GET,
         PC_FRAME_NONE, 0, true, 1,
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n"},
        {"HTTP/1.1 204 No Content\r\n\r\n", GET, PC_FRAME_NONE, 0, true, 1,
         "HTTP/1.1 204 No Content\r\n\r\n"},
        /* interim responses carry no Connection field */
        {"HTTP/1.1 100 Continue\r\n\r\n", GET, PC_FRAME_NONE, 0, false, 1,
         "HTTP/1.1 100 Continue\r\n\r\n"},
        {"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", GET, PC_FRAME_NONE, 0, true, 1,
         "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"},
        /* an agreed upgrade */
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: a\r\n\r\n",
         GET, PC_FRAME_NONE, 0, false, 1,
         "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: a\r\nConnection: upgrade\r\n"
         "Upgrade: websocket\r\n\r\n"},
        /* hop-by-hop fields of the origin, and Proxy-Authenticate, stay behind */
        {"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
         "Connection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n",
         GET, PC_FRAME_LENGTH, 0, true, 1,
         "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"},
        {"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", GET, PC_FRAME_LENGTH, 0, true, 1,
         "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"},
};

static void test_response_heads(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		const struct response_case *c = &responses[i];
		char out[4096];

		response_head(c->in, c->method, c->framing, c->length, c->keep_alive,
		              c->client_minor, out, sizeof(out));
		if (strcmp(out, c->out) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, out, c->out);
	}
}

static void test_response_head_space(void **state)
{
	static const char text[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                           "Connection: upgrade\r\nX: y\r\n\r\n";
	struct pc_http_field slots[NSLOTS];
	struct pc_http_response r;
	char out[2048];
	ssize_t n;
	int full;
	(void)state;

	pc_http_response_init(&r, slots, NSLOTS, NULL, GET);
	n = pc_http_response_parse(&r, text, strlen(text));
	assert_true(n > 0);
	full = pc_http_write_response_head(&r, PC_FRAME_LENGTH, UINT64_MAX, false, 0, out,
	                                   pc_http_forward_head_size((size_t)n));
	assert_true(full > 0);
	for (size_t size = 0; size < (size_t)full; size++) {
		memset(out, 0x5a, sizeof(out));
		assert_int_equal(pc_http_write_response_head(&r, PC_FRAME_LENGTH, UINT64_MAX, false,
		                                             0, out, size),
		                 -ENOSPC);
		for (size_t i = size; i < sizeof(out); i++)
			if (out[i] != 0x5a)
				fail_msg("size %zu: byte %zu written", size, i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_heads),
	        cmocka_unit_test(test_host_generated_from_target),
	        cmocka_unit_test(test_connection_listed_fields_never_forwarded),
	        cmocka_unit_test(test_framing_fields_regenerated_never_copied),
	        cmocka_unit_test(test_request_head_space),
	        cmocka_unit_test(test_response_heads),
	        cmocka_unit_test(test_response_head_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
