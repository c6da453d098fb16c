/* Response heads: whole versus in pieces, invariants of a success, and framing by status and
 * request method (RFC 9112 §6.3). */
#include "http_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_head whole, pieces;

static const enum pc_http_method methods[] = {PC_HTTP_METHOD_GET, PC_HTTP_METHOD_HEAD,
                                              PC_HTTP_METHOD_CONNECT, PC_HTTP_METHOD_POST};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = fuzz_hash(data, size);
	memset(&whole, 0, sizeof whole);
	whole.response = true;
	whole.method = methods[(h >> 40) % 4];
	whole.limits = fuzz_limits(h);
	ssize_t rc = fuzz_both_ways(&whole, &pieces, data, size, h);
	if (rc < 0) {
		CHECK(rc == PC_AGAIN || (rc == PC_EPARSE && whole.resp.head.error.status == 502));
		return 0;
	}
	const struct pc_http_response *r = &whole.resp;
	const struct pc_http_head *hd = &r->head;
	int st = r->status;
	CHECK(st >= 100 && st <= 599);
	CHECK(memcmp(data, "HTTP/1.", 7) == 0);
	size_t ncl = fuzz_count(hd, "content-length"), nte = fuzz_count(hd, "transfer-encoding");
	if ((st >= 100 && st < 200) || st == 204)
		CHECK(nte == 0 && (ncl == 0 || hd->content_length == 0));
	enum pc_http_body want;
	if (st == 101)
		want = PC_HTTP_BODY_TUNNEL;
	else if (whole.method == PC_HTTP_METHOD_HEAD || st < 200 || st == 204 || st == 304)
		want = PC_HTTP_BODY_NONE;
	else if (whole.method == PC_HTTP_METHOD_CONNECT && st < 300)
		want = PC_HTTP_BODY_TUNNEL;
	else if (nte)
		want = PC_HTTP_BODY_CHUNKED;
	else if (ncl)
		want = PC_HTTP_BODY_LENGTH;
	else
		want = PC_HTTP_BODY_CLOSE;
	CHECK(hd->body == want);
	if (want == PC_HTTP_BODY_CLOSE || want == PC_HTTP_BODY_TUNNEL)
		CHECK(!hd->keep_alive);
	if (hd->upgrade.p)
		CHECK(st == 101);
	return 0;
}
