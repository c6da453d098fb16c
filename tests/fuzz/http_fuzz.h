/* Shared by fuzz_http_request.c and fuzz_http_response.c: a head is parsed whole and again in
 * pseudo-random pieces (each call on an exact-size copy, so a read past the bytes given is an
 * ASan report), the two results must be identical, and a success must satisfy invariants that
 * are checked here by code independent of the parser. Any violation aborts. */
#ifndef PC_FUZZ_HTTP_FUZZ_H
#define PC_FUZZ_HTTP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "http/parse.h"
#include "fuzz_check.h"

#define FUZZ_SLOTS 64

struct fuzz_head {
	bool response;
	enum pc_http_method method;
	struct pc_http_limits limits;
	struct pc_http_field slots[FUZZ_SLOTS];
	struct pc_http_request req;
	struct pc_http_response resp;
	const char *base;
	ssize_t rc;
};

static uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

static uint64_t fuzz_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct pc_http_head *fuzz_head_of(struct fuzz_head *m)
{
	return m->response ? &m->resp.head : &m->req.head;
}

static void fuzz_init(struct fuzz_head *m)
{
	if (m->response)
		pc_http_response_init(&m->resp, m->slots, FUZZ_SLOTS, &m->limits, m->method);
	else
		pc_http_request_init(&m->req, m->slots, FUZZ_SLOTS, &m->limits);
}

static ssize_t fuzz_parse(struct fuzz_head *m, const char *buf, size_t len)
{
	m->base = buf;
	m->rc = m->response ? pc_http_response_parse(&m->resp, buf, len)
	                    : pc_http_request_parse(&m->req, buf, len);
	return m->rc;
}

static ptrdiff_t fuzz_off(const struct fuzz_head *m, const char *p)
{
	return p ? p - m->base : -1;
}

static void fuzz_same_slice(const struct fuzz_head *a, struct pc_http_slice x,
                            const struct fuzz_head *b, struct pc_http_slice y)
{
	CHECK(fuzz_off(a, x.p) == fuzz_off(b, y.p) && x.len == y.len);
}

static void fuzz_same(struct fuzz_head *a, struct fuzz_head *b)
{
	CHECK(a->rc == b->rc);
	struct pc_http_head *ha = fuzz_head_of(a), *hb = fuzz_head_of(b);
	if (a->rc == PC_AGAIN)
		return;
	if (a->rc < 0) {
		CHECK(ha->error.status == hb->error.status);
		CHECK(strcmp(ha->error.reason, hb->error.reason) == 0);
		return;
	}
	CHECK(ha->nfields == hb->nfields);
	for (size_t i = 0; i < ha->nfields; i++) {
		const struct pc_http_field *x = &ha->fields[i], *y = &hb->fields[i];
		CHECK(fuzz_off(a, x->name) == fuzz_off(b, y->name) && x->name_len == y->name_len);
		CHECK(fuzz_off(a, x->value) == fuzz_off(b, y->value));
		CHECK(x->value_len == y->value_len && x->id == y->id && x->flags == y->flags);
	}
	CHECK(ha->body == hb->body && ha->content_length == hb->content_length);
	CHECK(ha->connection == hb->connection && ha->keep_alive == hb->keep_alive);
	CHECK(ha->minor_version == hb->minor_version);
	CHECK(ha->nconnection_names == hb->nconnection_names);
	fuzz_same_slice(a, ha->upgrade, b, hb->upgrade);
	if (a->response) {
		CHECK(a->resp.status == b->resp.status);
		fuzz_same_slice(a, a->resp.reason, b, b->resp.reason);
	} else {
		fuzz_same_slice(a, a->req.method, b, b->req.method);
		fuzz_same_slice(a, a->req.target, b, b->req.target);
		fuzz_same_slice(a, a->req.host, b, b->req.host);
		CHECK(a->req.method_id == b->req.method_id);
		CHECK(a->req.expect_continue == b->req.expect_continue);
	}
}

static bool fuzz_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t fuzz_count(const struct pc_http_head *h, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < h->nfields; i++)
		if (h->fields[i].name_len == strlen(name) &&
		    strncasecmp(h->fields[i].name, name, strlen(name)) == 0)
			n++;
	return n;
}

/* What a successful parse of buf[0..n) promises, checked independently of the parser. */
static void fuzz_invariants(struct fuzz_head *m, const char *buf, size_t n)
{
	struct pc_http_head *h = fuzz_head_of(m);
	CHECK(m->rc >= 4 && (size_t)m->rc <= n);
	size_t len = (size_t)m->rc;
	CHECK(memcmp(buf + len - 4, "\r\n\r\n", 4) == 0);
	/* CR and LF come only as CRLF; no NUL; no line starts with whitespace. */
	for (size_t i = 0; i < len; i++) {
		CHECK(buf[i] != 0);
		if (buf[i] == '\r')
			CHECK(i + 1 < len && buf[i + 1] == '\n');
		if (buf[i] == '\n') {
			CHECK(i > 0 && buf[i - 1] == '\r');
			CHECK(i + 1 == len || (buf[i + 1] != ' ' && buf[i + 1] != '\t'));
		}
	}
	CHECK(h->minor_version <= 1);
	CHECK(h->nfields <= m->limits.max_header_fields && h->nfields <= FUZZ_SLOTS);
	size_t bytes = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct pc_http_field *f = &h->fields[i];
		CHECK(f->name >= buf && f->value + f->value_len <= buf + len);
		CHECK(f->name_len > 0 && f->name[f->name_len] == ':');
		for (size_t k = 0; k < f->name_len; k++)
			CHECK(fuzz_is_tchar((unsigned char)f->name[k]));
		for (size_t k = 0; k < f->value_len; k++) {
			unsigned char c = (unsigned char)f->value[k];
			CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (f->value_len > 0) {
			CHECK(f->value[0] != ' ' && f->value[0] != '\t');
			CHECK(f->value[f->value_len - 1] != ' ' &&
			      f->value[f->value_len - 1] != '\t');
		}
		bytes += (size_t)(f->value + f->value_len - f->name);
	}
	CHECK(bytes <= m->limits.max_header_bytes);
	/* Framing has one reading. */
	size_t ncl = fuzz_count(h, "content-length"), nte = fuzz_count(h, "transfer-encoding");
	CHECK(ncl <= 1 && nte <= 1 && !(ncl && nte));
	CHECK(!(nte && h->minor_version == 0));
	CHECK(h->content_length <= (UINT64_C(1) << 62));
	if (h->body == PC_HTTP_BODY_CHUNKED)
		CHECK(nte == 1);
	if (h->body == PC_HTTP_BODY_LENGTH)
		CHECK(ncl == 1);
	CHECK(fuzz_count(h, "upgrade") <= 1);
	for (size_t i = 0; i < h->nconnection_names; i++) {
		struct pc_http_slice s = h->connection_names[i];
		CHECK(!(s.len == 14 && strncasecmp(s.p, "content-length", 14) == 0));
		CHECK(!(s.len == 17 && strncasecmp(s.p, "transfer-encoding", 17) == 0));
		CHECK(!(s.len == 4 && strncasecmp(s.p, "host", 4) == 0));
		CHECK(pc_http_connection_names(h, s.p, s.len));
	}
	for (size_t i = 0; i < h->nfields; i++)
		if (pc_http_connection_names(h, h->fields[i].name, h->fields[i].name_len))
			CHECK(h->fields[i].flags & PC_HTTP_FIELD_HOP);
	if (h->keep_alive)
		CHECK(!(h->connection & PC_HTTP_CONN_CLOSE));
}

/* Parses data whole into a and in pieces into b; returns a's result. */
static ssize_t fuzz_both_ways(struct fuzz_head *a, struct fuzz_head *b, const uint8_t *data,
                              size_t size, uint64_t seed)
{
	fuzz_init(a);
	fuzz_parse(a, (const char *)data, size);

	*b = *a;
	fuzz_init(b);
	char *prev = NULL;
	size_t k = 0, calls = 0;
	uint64_t rng = seed | 1;
	b->rc = PC_AGAIN;
	while (b->rc == PC_AGAIN && k < size) {
		uint64_t r = fuzz_next(&rng);
		k += (r & 3) == 0 ? 1 + (r >> 8) % 64 : 1 + (r >> 8) % 4;
		if (k > size)
			k = size;
		char *copy = malloc(k);
		CHECK(copy);
		memcpy(copy, data, k);
		free(prev);
		prev = copy;
		fuzz_parse(b, copy, k);
		calls++;
	}
	if (size > 0)
		fuzz_same(a, b);
	free(prev);
	/* However the head was cut, each byte is examined a bounded number of times. */
	CHECK(fuzz_head_of(b)->scan.examined <= 4 * size + 2 * calls);
	if (a->rc >= 0)
		fuzz_invariants(a, (const char *)data, size);
	return a->rc;
}

/* Limits from the hash: mostly the defaults, sometimes small ones that the input can reach. */
static struct pc_http_limits fuzz_limits(uint64_t h)
{
	if ((h & 3) != 0)
		return pc_http_default_limits;
	return (struct pc_http_limits){(h >> 8) % 128, (h >> 16) % 512, (h >> 32) % 12};
}

#endif
