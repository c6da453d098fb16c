#include "http/forward.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct out {
	char *p;
	size_t size, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n == 0)
		return; /* s may be NULL (an absent slice) */
	if (o->overflow || n > o->size - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
	put(o, digits, (size_t)n);
}

/* Fields that never cross this proxy in either direction (besides those flagged hop-by-hop by
 * the parser): framing is regenerated, proxy credentials concern one hop. */
static bool dropped(const struct pc_http_field *f, bool request)
{
	if (f->flags & PC_HTTP_FIELD_HOP)
		return true;
	switch (f->id) {
	case PC_HTTP_FIELD_CONTENT_LENGTH:
	case PC_HTTP_FIELD_TRANSFER_ENCODING:
	case PC_HTTP_FIELD_CONNECTION:
	case PC_HTTP_FIELD_PROXY_CONNECTION:
	case PC_HTTP_FIELD_KEEP_ALIVE:
	case PC_HTTP_FIELD_TE:
	case PC_HTTP_FIELD_TRAILER:
	case PC_HTTP_FIELD_UPGRADE:
	case PC_HTTP_FIELD_PROXY_AUTHORIZATION:
	case PC_HTTP_FIELD_PROXY_AUTHENTICATE:
		return true;
	case PC_HTTP_FIELD_HOST:
		return request;
	default:
		return false;
	}
}

static void put_fields(struct out *o, const struct pc_http_head *h, bool request, bool keep_length)
{
	for (size_t i = 0; i < h->nfields; i++) {
		const struct pc_http_field *f = &h->fields[i];

		if (dropped(f, request) && !(keep_length && f->id == PC_HTTP_FIELD_CONTENT_LENGTH))
			continue;
		put(o, f->name, f->name_len);
		put(o, ": ", 2);
		put(o, f->value, f->value_len);
		put(o, "\r\n", 2);
	}
}

static void put_framing(struct out *o, enum pc_http_framing framing, uint64_t length)
{
	if (framing == PC_FRAME_LENGTH) {
		puts_(o, "Content-Length: ");
		put_u64(o, length);
		put(o, "\r\n", 2);
	} else if (framing == PC_FRAME_CHUNKED) {
		puts_(o, "Transfer-Encoding: chunked\r\n");
	}
}

static int finish(struct out *o)
{
	put(o, "\r\n", 2);
	return o->overflow ? -ENOSPC : (int)o->len;
}

int pc_http_write_request_head(const struct pc_http_request *r, const struct pc_http_target *t,
                               const struct pc_host *host, uint16_t port, uint16_t default_port,
                               enum pc_http_framing framing, uint64_t length, bool upgrade,
                               char *buf, size_t size)
{
	struct out o = {buf, size, 0, false};

	put(&o, r->method.p, r->method.len);
	put(&o, " ", 1);
	put(&o, t->path.p, t->path.len);
	put(&o, t->query.p, t->query.len);
	puts_(&o, " HTTP/1.1\r\nHost: ");
	if (host->kind == PC_HOST_IPV6) {
		/* RFC 6874: a zone id inside a URI is written %25 */
		const char *pct = strchr(host->name, '%');
		put(&o, "[", 1);
		put(&o, host->name, pct ? (size_t)(pct - host->name) : host->len);
		if (pct != NULL) {
			puts_(&o, "%25");
			puts_(&o, pct + 1);
		}
		put(&o, "]", 1);
	} else {
		put(&o, host->name, host->len);
	}
	if (port != default_port) {
		put(&o, ":", 1);
		put_u64(&o, port);
	}
	put(&o, "\r\n", 2);
	put_fields(&o, &r->head, true, false);
	put_framing(&o, framing, length);
	if (upgrade) {
		puts_(&o, "Connection: upgrade\r\nUpgrade: ");
		put(&o, r->head.upgrade.p, r->head.upgrade.len);
		put(&o, "\r\n", 2);
	}
	return finish(&o);
}

int pc_http_write_response_head(const struct pc_http_response *r, enum pc_http_framing framing,
                                uint64_t length, bool keep_alive, unsigned client_minor, char *buf,
                                size_t size)
{
	struct out o = {buf, size, 0, false};
	char status[16];
	bool keep_length = r->request_method == PC_HTTP_METHOD_HEAD || r->status == 304;
	int n = snprintf(status, sizeof(status), "HTTP/1.1 %03d ", r->status);

	put(&o, status, (size_t)n);
	put(&o, r->reason.p, r->reason.len);
	put(&o, "\r\n", 2);
	put_fields(&o, &r->head, false, keep_length);
	put_framing(&o, framing, length);
	if (r->status == 101) {
		puts_(&o, "Connection: upgrade\r\nUpgrade: ");
		put(&o, r->head.upgrade.p, r->head.upgrade.len);
		put(&o, "\r\n", 2);
	} else if (!keep_alive && r->status >= 200) {
		puts_(&o, "Connection: close\r\n");
	} else if (keep_alive && client_minor == 0 && r->status >= 200) {
		puts_(&o, "Connection: keep-alive\r\n");
	}
	return finish(&o);
}

size_t pc_http_forward_head_size(size_t head_len)
{
	/* Host (at most 253 + brackets + port), framing, Connection and Upgrade lines are the only
	 * additions; a regenerated field is never longer than the original. */
	return head_len + 512;
}
