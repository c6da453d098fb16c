/* What a client sees when portcullis refuses or fails a request: the SPEC §7 table row by row
 * (status, x-proxy-error, Proxy-Status, body), complete and self-framed responses, HEAD without
 * a body, and bounded output. */
#include <errno.h>
#include <jansson.h>
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
#include "http/respond.h"

#define NSLOTS 32

/* A response as a client reads it, parsed with the project's own strict parser. */
struct reply {
	char text[8192];
	int len;
	struct pc_http_field slots[NSLOTS];
	struct pc_http_response r;
	size_t head_len;
	const char *body;
	size_t body_len;
};

static void parse_reply(struct reply *rp, int len, enum pc_http_method method)
{
	ssize_t n;

	assert_true(len > 0);
	rp->len = len;
	rp->text[len] = '\0';
	pc_http_response_init(&rp->r, rp->slots, NSLOTS, NULL, method);
	n = pc_http_response_parse(&rp->r, rp->text, (size_t)len);
	if (n < 0)
		fail_msg("our own response does not parse: %s\n%s", rp->r.head.error.reason,
		         rp->text);
	rp->head_len = (size_t)n;
	rp->body = rp->text + n;
	rp->body_len = (size_t)len - (size_t)n;
	if (method != PC_HTTP_METHOD_HEAD) {
		/* self-framed: exactly Content-Length bytes follow the head */
		assert_int_equal(rp->r.head.body, PC_HTTP_BODY_LENGTH);
		assert_int_equal(rp->r.head.content_length, rp->body_len);
	}
}

/* The value of field name, "" when absent. */
static const char *field(const struct reply *rp, const char *name, char *buf, size_t size)
{
	for (size_t i = 0; i < rp->r.head.nfields; i++) {
		const struct pc_http_field *f = &rp->r.head.fields[i];
		if (f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0) {
			snprintf(buf, size, "%.*s", (int)f->value_len, f->value);
			return buf;
		}
	}
	buf[0] = '\0';
	return buf;
}

static void block_of(struct pc_block *b, const char *host, uint16_t port, enum pc_protocol proto,
                     enum pc_reason reason, enum pc_source source)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->host, sizeof(b->host), "%s", host);
	b->port = port;
	b->protocol = proto;
	b->decision = PC_VERDICT_DENY;
	b->reason = reason;
	b->source = source;
	snprintf(b->method, sizeof(b->method), "GET");
}

struct block_row {
	enum pc_reason reason;
	enum pc_dns_outcome dns;
	int status;
	const char *x_proxy_error;
	const char *proxy_status_error;
	const char *reason_name;
};

/* SPEC §7 */
static const struct block_row rows[] = {
        {PC_REASON_NOT_ALLOWED, PC_DNS_NONE, 403, "blocked-by-allowlist", "http_request_denied",
         "not_allowed"},
        {PC_REASON_NOT_ALLOWED_LOCAL, PC_DNS_NONE, 403, "blocked-by-allowlist",
         "destination_ip_prohibited", "not_allowed_local"},
        {PC_REASON_NOT_ALLOWED_LOCAL, PC_DNS_FAILED, 403, "blocked-by-allowlist", "dns_error",
         "not_allowed_local"},
        {PC_REASON_NOT_ALLOWED_LOCAL, PC_DNS_TIMED_OUT, 403, "blocked-by-allowlist", "dns_timeout",
         "not_allowed_local"},
        {PC_REASON_DENIED, PC_DNS_NONE, 403, "blocked-by-denylist", "http_request_denied",
         "denied"},
        {PC_REASON_METHOD_NOT_ALLOWED, PC_DNS_NONE, 403, "blocked-by-method-policy",
         "http_request_denied", "method_not_allowed"},
        {PC_REASON_MITM_REQUIRED, PC_DNS_NONE, 403, "blocked-by-mitm-required",
         "http_request_denied", "mitm_required"},
        {PC_REASON_PROXY_DISABLED, PC_DNS_NONE, 503, "blocked-by-policy", "proxy_internal_response",
         "proxy_disabled"},
};

static void test_block_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct block_row *row = &rows[i];
		struct reply rp;
		struct pc_block b;
		char v[512], want[128];
		json_error_t jerr;
		json_t *j;

		block_of(&b, "api.example.com", 8443, PC_PROTO_HTTP, row->reason,
		         PC_SOURCE_BASELINE_POLICY);
		b.dns = row->dns;
		parse_reply(&rp, pc_http_block_response(&b, false, 0, rp.text, sizeof(rp.text) - 1),
		            PC_HTTP_METHOD_GET);
		assert_int_equal(rp.r.status, row->status);
		assert_string_equal(field(&rp, "x-proxy-error", v, sizeof(v)), row->x_proxy_error);
		assert_string_equal(field(&rp, "Content-Type", v, sizeof(v)), "application/json");
		assert_string_equal(field(&rp, "Connection", v, sizeof(v)), "");
		snprintf(want, sizeof(want), "portcullis; error=%s; details=\"",
		         row->proxy_status_error);
		field(&rp, "Proxy-Status", v, sizeof(v));
		if (strncmp(v, want, strlen(want)) != 0)
			fail_msg("row %zu: Proxy-Status %s", i, v);

		j = json_loadb(rp.body, rp.body_len, 0, &jerr);
		if (j == NULL)
			fail_msg("row %zu: body is not JSON: %s", i, jerr.text);
		assert_string_equal(json_string_value(json_object_get(j, "status")), "blocked");
		assert_string_equal(json_string_value(json_object_get(j, "host")),
		                    "api.example.com");
		assert_int_equal(json_integer_value(json_object_get(j, "port")), 8443);
		assert_string_equal(json_string_value(json_object_get(j, "protocol")), "http");
		assert_string_equal(json_string_value(json_object_get(j, "reason")),
		                    row->reason_name);
		assert_string_equal(json_string_value(json_object_get(j, "decision")), "deny");
		assert_string_equal(json_string_value(json_object_get(j, "source")),
		                    "baseline_policy");
		assert_non_null(strstr(json_string_value(json_object_get(j, "message")),
		                       "api.example.com:8443"));
		assert_int_equal(json_object_size(j), 8);
		json_decref(j);
	}
}

/* The body's keys come in the SPEC's order. */
static void test_block_body_key_order(void **state)
{
	static const char *keys[] = {"status", "host",     "port",   "protocol",
	                             "reason", "decision", "source", "message"};
	struct reply rp;
	struct pc_block b;
	const char *p;
	(void)state;

	block_of(&b, "h.example", 80, PC_PROTO_HTTP, PC_REASON_DENIED, PC_SOURCE_BASELINE_POLICY);
	parse_reply(&rp, pc_http_block_response(&b, false, 0, rp.text, sizeof(rp.text) - 1),
	            PC_HTTP_METHOD_GET);
	p = rp.body;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char quoted[32];
		snprintf(quoted, sizeof(quoted), "\"%s\":", keys[i]);
		p = strstr(p, quoted);
		if (p == NULL)
			fail_msg("key %s missing or out of order: %s", keys[i], rp.body);
	}
	assert_int_equal(rp.body[rp.body_len - 1], '\n');
}

/* The block body is written without jansson on the hot path; it must be byte for byte what
 * jansson writes (JSON_COMPACT | JSON_ENSURE_ASCII, members in order), for every ASCII byte a
 * host can carry (sanitised hosts are printable; control bytes are covered too) and for every
 * reason, source, protocol and port shape. */
static void expect_jansson_body(const struct pc_block *b)
{
	struct reply rp;
	json_t *j, *parsed;
	json_error_t err;
	const char *message, *reason = pc_reason_name(b->reason),
	                     *source = pc_source_name(b->source);
	char *want;

	parse_reply(&rp, pc_http_block_response(b, false, 0, rp.text, sizeof(rp.text) - 1),
	            PC_HTTP_METHOD_GET);
	parsed = json_loadb(rp.body, rp.body_len, 0, &err);
	if (parsed == NULL)
		fail_msg("body is not JSON (%s): %.*s", err.text, (int)rp.body_len, rp.body);
	message = json_string_value(json_object_get(parsed, "message"));
	assert_non_null(message);
	j = json_object();
	json_object_set_new(j, "status", json_string("blocked"));
	json_object_set_new(j, "host", json_string(b->host));
	json_object_set_new(j, "port", json_integer(b->port));
	json_object_set_new(j, "protocol", json_string(pc_protocol_name(b->protocol)));
	json_object_set_new(j, "reason", reason ? json_string(reason) : json_null());
	json_object_set_new(j, "decision", json_string(pc_verdict_name(b->decision)));
	json_object_set_new(j, "source", source ? json_string(source) : json_null());
	json_object_set_new(j, "message", json_string(message));
	want = json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
	assert_non_null(want);
	if (rp.body_len != strlen(want) + 1 || memcmp(rp.body, want, strlen(want)) != 0)
		fail_msg("body differs from jansson's\n got: %.*s\nwant: %s", (int)rp.body_len,
		         rp.body, want);
	free(want);
	json_decref(j);
	json_decref(parsed);
}

static void test_block_body_is_what_jansson_writes(void **state)
{
	static const uint16_t ports[] = {0, 1, 9, 10, 80, 443, 8080, 65535};
	struct pc_block b;
	(void)state;

	for (int ch = 1; ch < 0x80; ch++) {
		char host[16];
		snprintf(host, sizeof(host), "a%cb.example", ch);
		block_of(&b, host, 80, PC_PROTO_HTTP, PC_REASON_NOT_ALLOWED,
		         PC_SOURCE_BASELINE_POLICY);
		expect_jansson_body(&b);
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int src = PC_SOURCE_NONE; src <= PC_SOURCE_DECIDER; src++) {
			block_of(&b, "h.example", ports[(i + (size_t)src) % 8], PC_PROTO_HTTP,
			         rows[i].reason, (enum pc_source)src);
			b.dns = rows[i].dns;
			expect_jansson_body(&b);
		}
	}
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		block_of(&b, "2001:db8::1", ports[i], PC_PROTO_HTTP, PC_REASON_DENIED,
		         PC_SOURCE_BASELINE_POLICY);
		expect_jansson_body(&b);
	}
	/* empty host, and UTF-8 beyond ASCII (the jansson path) */
	block_of(&b, "", 80, PC_PROTO_HTTP, PC_REASON_NOT_ALLOWED, PC_SOURCE_BASELINE_POLICY);
	expect_jansson_body(&b);
	block_of(&b, "caf\xc3\xa9.example", 80, PC_PROTO_HTTP, PC_REASON_NOT_ALLOWED,
	         PC_SOURCE_BASELINE_POLICY);
	expect_jansson_body(&b);
}

static void test_tunnel_block_is_text(void **state)
{
	struct reply rp;
	struct pc_block b;
	char v[256];
	(void)state;

	block_of(&b, "2001:db8::1", 443, PC_PROTO_HTTPS_CONNECT, PC_REASON_NOT_ALLOWED,
	         PC_SOURCE_BASELINE_POLICY);
	parse_reply(&rp, pc_http_block_response(&b, true, 0, rp.text, sizeof(rp.text) - 1),
	            PC_HTTP_METHOD_GET);
	assert_int_equal(rp.r.status, 403);
	assert_string_equal(field(&rp, "Content-Type", v, sizeof(v)), "text/plain; charset=utf-8");
	assert_string_equal(field(&rp, "x-proxy-error", v, sizeof(v)), "blocked-by-allowlist");
	assert_non_null(memmem(rp.body, rp.body_len, "[2001:db8::1]:443", 17));
	assert_null(memchr(rp.body, '{', rp.body_len));
}

static void test_flags(void **state)
{
	struct reply rp, head;
	struct pc_block b;
	char v[64];
	(void)state;

	block_of(&b, "h.example", 80, PC_PROTO_HTTP, PC_REASON_NOT_ALLOWED,
	         PC_SOURCE_BASELINE_POLICY);
	parse_reply(
	        &rp,
	        pc_http_block_response(&b, false, PC_RESPOND_CLOSE, rp.text, sizeof(rp.text) - 1),
	        PC_HTTP_METHOD_GET);
	assert_string_equal(field(&rp, "Connection", v, sizeof(v)), "close");
	assert_false(rp.r.head.keep_alive);

	/* HEAD: the same head, no body; Content-Length still says how long it would be */
	parse_reply(&head,
	            pc_http_block_response(&b, false, PC_RESPOND_HEAD, head.text,
	                                   sizeof(head.text) - 1),
	            PC_HTTP_METHOD_HEAD);
	parse_reply(&rp, pc_http_block_response(&b, false, 0, rp.text, sizeof(rp.text) - 1),
	            PC_HTTP_METHOD_GET);
	assert_int_equal(head.body_len, 0);
	assert_int_equal((size_t)head.len, rp.head_len);
	assert_memory_equal(head.text, rp.text, rp.head_len);
	assert_true(head.r.head.keep_alive);

	parse_reply(&head,
	            pc_http_failure_response(PC_FAIL_REFUSED, "x",
	                                     PC_RESPOND_HEAD | PC_RESPOND_CLOSE, head.text,
	                                     sizeof(head.text) - 1),
	            PC_HTTP_METHOD_HEAD);
	assert_int_equal(head.body_len, 0);
	assert_string_equal(field(&head, "Connection", v, sizeof(v)), "close");
	assert_true(head.r.head.content_length > 0);
}

struct failure_row {
	enum pc_http_failure f;
	int status;
	const char *proxy_status_error;
};

static const struct failure_row failures[] = {
        {PC_FAIL_BAD_REQUEST, 400, "http_request_error"},
        {PC_FAIL_URI_TOO_LONG, 414, "http_request_error"},
        {PC_FAIL_HEADERS_TOO_LARGE, 431, "http_request_error"},
        {PC_FAIL_EXPECTATION, 417, "http_request_error"},
        {PC_FAIL_VERSION, 505, "http_request_error"},
        {PC_FAIL_REFUSED, 502, "connection_refused"},
        {PC_FAIL_UNREACHABLE, 502, "destination_unavailable"},
        {PC_FAIL_TIMEOUT, 504, "connection_timeout"},
        {PC_FAIL_DNS, 502, "dns_error"},
        {PC_FAIL_LOOP, 508, "proxy_loop_detected"},
        {PC_FAIL_BAD_GATEWAY, 502, "http_protocol_error"},
        {PC_FAIL_HEAD_TIMEOUT, 408, "http_request_error"},
        {PC_FAIL_TERMINATED, 502, "connection_terminated"},
        {PC_FAIL_INCOMPLETE, 502, "http_response_incomplete"},
};

static void test_failure_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
		const struct failure_row *row = &failures[i];
		struct reply rp;
		char v[512], want[128];

		assert_int_equal(pc_http_failure_status(row->f), row->status);
		parse_reply(&rp,
		            pc_http_failure_response(row->f, NULL, 0, rp.text, sizeof(rp.text) - 1),
		            PC_HTTP_METHOD_GET);
		assert_int_equal(rp.r.status, row->status);
		/* not a policy block: no x-proxy-error */
		assert_string_equal(field(&rp, "x-proxy-error", v, sizeof(v)), "");
		snprintf(want, sizeof(want), "portcullis; error=%s", row->proxy_status_error);
		assert_string_equal(field(&rp, "Proxy-Status", v, sizeof(v)), want);
		assert_string_equal(field(&rp, "Content-Type", v, sizeof(v)),
		                    "text/plain; charset=utf-8");
		assert_true(rp.body_len > 0);
	}
}

/* details land in an RFC 8941 sf-string: quotes and backslashes escaped, controls dropped, so
 * text from a peer can never end the field or the head. */
static void test_details_escaped(void **state)
{
	struct reply rp;
	char v[512];
	(void)state;

	parse_reply(&rp,
	            pc_http_failure_response(PC_FAIL_BAD_REQUEST, "a \"q\" \\ b\r\nX-Evil: 1\x01",
	                                     0, rp.text, sizeof(rp.text) - 1),
	            PC_HTTP_METHOD_GET);
	assert_string_equal(
	        field(&rp, "Proxy-Status", v, sizeof(v)),
	        "portcullis; error=http_request_error; details=\"a \\\"q\\\" \\\\ bX-Evil: 1\"");
	assert_string_equal(field(&rp, "X-Evil", v, sizeof(v)), "");
}

/* Every size below what is needed fails with -ENOSPC and writes nothing past the size. */
static void test_bounded_output(void **state)
{
	static char out[8192];
	struct pc_block b;
	int full_block, full_failure;
	char details[700];
	(void)state;

	memset(details, 'd', sizeof(details) - 1);
	details[sizeof(details) - 1] = '\0';
	block_of(&b, "", 80, PC_PROTO_HTTP, PC_REASON_NOT_ALLOWED, PC_SOURCE_BASELINE_POLICY);
	memset(b.host, 'h', 253);
	b.host[253] = '\0';
	full_block = pc_http_block_response(&b, false, PC_RESPOND_CLOSE, out, 4096);
	full_failure = pc_http_failure_response(PC_FAIL_DNS, details, PC_RESPOND_CLOSE, out, 4096);
	assert_true(full_block > 0);
	assert_true(full_failure > 0);
	for (size_t size = 0; size < (size_t)full_block || size < (size_t)full_failure; size++) {
		memset(out, 0x5a, sizeof(out));
		if (size < (size_t)full_block)
			assert_int_equal(
			        pc_http_block_response(&b, false, PC_RESPOND_CLOSE, out, size),
			        -ENOSPC);
		if (size < (size_t)full_failure)
			assert_int_equal(pc_http_failure_response(PC_FAIL_DNS, details,
			                                          PC_RESPOND_CLOSE, out, size),
			                 -ENOSPC);
		for (size_t i = size; i < sizeof(out); i++)
			if (out[i] != 0x5a)
				fail_msg("size %zu: byte %zu written", size, i);
	}
}

static void test_failure_from_dial(void **state)
{
	(void)state;
	assert_int_equal(pc_http_failure_from_dial(-ECONNREFUSED), PC_FAIL_REFUSED);
	assert_int_equal(pc_http_failure_from_dial(-ETIMEDOUT), PC_FAIL_TIMEOUT);
	assert_int_equal(pc_http_failure_from_dial(PC_EDNS), PC_FAIL_DNS);
	assert_int_equal(pc_http_failure_from_dial(PC_EDNS_TIMEOUT), PC_FAIL_DNS);
	assert_int_equal(pc_http_failure_from_dial(-EHOSTUNREACH), PC_FAIL_UNREACHABLE);
	assert_int_equal(pc_http_failure_from_dial(-ENETUNREACH), PC_FAIL_UNREACHABLE);
	assert_int_equal(pc_http_failure_from_dial(-EMFILE), PC_FAIL_UNREACHABLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_block_table),
	        cmocka_unit_test(test_block_body_key_order),
	        cmocka_unit_test(test_block_body_is_what_jansson_writes),
	        cmocka_unit_test(test_tunnel_block_is_text),
	        cmocka_unit_test(test_flags),
	        cmocka_unit_test(test_failure_table),
	        cmocka_unit_test(test_details_escaped),
	        cmocka_unit_test(test_bounded_output),
	        cmocka_unit_test(test_failure_from_dial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
