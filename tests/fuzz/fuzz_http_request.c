/* Request heads: whole versus in pieces, invariants of a success, and the request-target of
 * every accepted head through pc_http_target_parse. */
#include "http/target.h"
#include "http_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_head whole, pieces;

static void check_target(const struct pc_http_request *r)
{
	struct pc_http_target t;
	struct pc_http_error err;
	const char *s = r->target.p;
	size_t n = r->target.len;
	if (pc_http_target_parse(s, n, r->method_id, &t, &err) != 0) {
		CHECK(err.status == 400 && err.reason);
		return;
	}
	CHECK(memchr(s, '#', n) == NULL && memchr(s, '\\', n) == NULL);
	switch (t.form) {
	case PC_HTTP_TARGET_AUTHORITY:
		CHECK(r->method_id == PC_HTTP_METHOD_CONNECT && t.port != 0);
		CHECK(t.authority.p == s && t.authority.len == n);
		CHECK(memchr(s, '@', n) == NULL);
		break;
	case PC_HTTP_TARGET_ASTERISK:
		CHECK(r->method_id == PC_HTTP_METHOD_OPTIONS && n == 1);
		break;
	case PC_HTTP_TARGET_ABSOLUTE:
		CHECK(t.scheme != PC_HTTP_SCHEME_NONE && t.host.len > 0);
		CHECK(memchr(t.authority.p, '@', t.authority.len) == NULL);
		CHECK(t.host.p == t.authority.p && t.host.len <= t.authority.len);
		/* fall through */
	case PC_HTTP_TARGET_ORIGIN:
		CHECK(r->method_id != PC_HTTP_METHOD_CONNECT);
		CHECK(t.path.len > 0 && (t.path.p[0] == '/' || t.path.p[0] == '*'));
		if (t.query.p)
			CHECK(t.query.p[0] == '?' && t.query.p + t.query.len == s + n);
		break;
	default:
		CHECK(false);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fuzz_hash(data, size);
	memset(&whole, 0, sizeof whole);
	whole.limits = fuzz_limits(h);
	ssize_t rc = fuzz_both_ways(&whole, &pieces, data, size, h);
	if (rc == PC_EUNSUPPORTED) {
		CHECK(whole.req.head.error.status == 505);
		return 0;
	}
	if (rc < 0) {
		int st = whole.req.head.error.status;
		CHECK(rc == PC_AGAIN || st == 400 || st == 414 || st == 417 || st == 431 ||
		      st == 505);
		return 0;
	}
	const struct pc_http_request *r = &whole.req;
	size_t nhost = fuzz_count(&r->head, "host");
	CHECK(nhost <= 1 && (nhost == 1 || r->head.minor_version == 0));
	CHECK((r->host.p != NULL) == (nhost == 1));
	CHECK(r->method.len > 0 && r->target.len > 0);
	for (size_t i = 0; i < r->method.len; i++)
		CHECK(fuzz_is_tchar((unsigned char)r->method.p[i]));
	for (size_t i = 0; i < r->target.len; i++)
		CHECK(r->target.p[i] > 0x20 && r->target.p[i] < 0x7f);
	CHECK(r->head.body == PC_HTTP_BODY_NONE || r->head.body == PC_HTTP_BODY_LENGTH ||
	      r->head.body == PC_HTTP_BODY_CHUNKED);
	if (r->method_id == PC_HTTP_METHOD_CONNECT)
		CHECK(r->head.body == PC_HTTP_BODY_NONE || r->head.content_length == 0);
	check_target(r);
	return 0;
}
