/* Chunked bodies, a differential check twice over: the incremental decoder fed in
 * pseudo-random pieces (each on an exact-size copy) must agree with the same decoder fed all
 * at once, and both must agree with reference_decode below, a plain one-pass reading of the
 * RFC 9112 §7.1 grammar written independently of src/http/chunked.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "http/chunked.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX 65536

struct outcome {
	int rc; /* 0: complete, PC_AGAIN: ran out of input, PC_EPARSE */
	const char *reason;
	size_t end;
	size_t ndata, ntrailer;
	uint8_t data[OUT_MAX], trailer[OUT_MAX];
};

static struct outcome whole, pieces, ref;

static void add(uint8_t *dst, size_t *n, const void *p, size_t len)
{
	CHECK(*n + len <= OUT_MAX);
	memcpy(dst + *n, p, len);
	*n += len;
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Feeds data in pieces (seed 0: all at once), each call on an exact-size copy of what the
 * caller holds: the unconsumed rest plus the new piece. */
static void run_decoder(const struct pc_http_limits *lim, const uint8_t *data, size_t size,
                        uint64_t seed, struct outcome *o)
{
	struct pc_http_chunked d;
	pc_http_chunked_init(&d, lim);
	memset(o, 0, offsetof(struct outcome, data));
	o->rc = PC_AGAIN;
	size_t pos = 0, avail = 0;
	while (o->rc == PC_AGAIN && avail < size) {
		uint64_t r = seed ? next(&seed) : 0;
		size_t piece = !seed ? size : (r & 7) == 0 ? 1 + (r >> 8) % 256 : 1 + (r >> 8) % 5;
		avail = piece > size - avail ? size : avail + piece;
		while (o->rc == PC_AGAIN && pos < avail) {
			size_t n = avail - pos;
			uint8_t *copy = malloc(n);
			CHECK(copy);
			memcpy(copy, data + pos, n);
			struct pc_http_chunk c;
			ssize_t rc = pc_http_chunked_decode(&d, (const char *)copy, n, &c);
			if (rc < 0) {
				CHECK(rc == PC_EPARSE && d.error.status == 400 && d.error.reason);
				o->rc = PC_EPARSE;
				o->reason = d.error.reason;
			} else {
				CHECK((size_t)rc <= n);
				CHECK(rc > 0 || c.kind == PC_HTTP_CHUNK_END);
				if (c.kind == PC_HTTP_CHUNK_DATA || c.kind == PC_HTTP_CHUNK_TRAILER)
					CHECK(c.len > 0 && (const uint8_t *)c.p >= copy &&
					      (const uint8_t *)c.p + c.len <= copy + rc);
				if (c.kind == PC_HTTP_CHUNK_DATA)
					add(o->data, &o->ndata, c.p, c.len);
				else if (c.kind == PC_HTTP_CHUNK_TRAILER)
					add(o->trailer, &o->ntrailer, c.p, c.len);
				else if (c.kind == PC_HTTP_CHUNK_NONE)
					CHECK((size_t)rc == n);
				if (c.kind == PC_HTTP_CHUNK_END) {
					CHECK(pc_http_chunked_done(&d));
					o->rc = 0;
					o->end = pos + (size_t)rc;
				}
				pos += (size_t)rc;
			}
			free(copy);
		}
	}
}

/* ---- the reference: one pass over the whole input, first bad byte wins ---- */

struct cursor {
	const uint8_t *p;
	size_t n, i;
	size_t ext_start; /* SIZE_MAX outside a chunk extension */
	size_t counted;   /* trailer bytes so far */
	bool in_trailer;
	const struct pc_http_limits *lim;
};

enum { OK = 0, MORE = 1, BAD = 2 };

static bool tchar(int c)
{
	return c > 0 && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	                 (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c));
}

static bool hexdig(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool ws(int c)
{
	return c == ' ' || c == '\t';
}

static bool vchar_or_ws(int c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* Looks at the next byte: MORE when there is none, BAD when taking it would break a bound. */
static int peek(struct cursor *k, int *c)
{
	if (k->i >= k->n)
		return MORE;
	*c = k->p[k->i];
	if (k->ext_start != SIZE_MAX && *c != '\r' && k->i - k->ext_start >= PC_HTTP_CHUNK_EXT_MAX)
		return BAD;
	if (k->in_trailer && k->counted >= k->lim->max_header_bytes)
		return BAD;
	return OK;
}

static int take(struct cursor *k, int *c)
{
	int rc = peek(k, c);
	if (rc == OK) {
		k->i++;
		k->counted += k->in_trailer;
	}
	return rc;
}

#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		if (rc_ != OK)                                                                     \
			return rc_;                                                                \
	} while (0)

static int skip_ws(struct cursor *k, bool *any)
{
	int c;
	*any = false;
	for (;;) {
		TRY(peek(k, &c));
		if (!ws(c))
			return OK;
		k->i++;
		*any = true;
	}
}

static int ext_value(struct cursor *k)
{
	int c;
	TRY(take(k, &c));
	if (tchar(c)) {
		for (;;) {
			TRY(peek(k, &c));
			if (!tchar(c))
				return OK;
			k->i++;
		}
	}
	if (c != '"')
		return BAD;
	for (;;) {
		TRY(take(k, &c));
		if (c == '"')
			return OK;
		if (c == '\\') {
			TRY(take(k, &c));
			if (!vchar_or_ws(c))
				return BAD;
		} else if (!(vchar_or_ws(c) && c != '"' && c != '\\')) {
			return BAD;
		}
	}
}

/* *( BWS ";" BWS name [ BWS "=" BWS value ] ), then the CR. */
static int extensions(struct cursor *k)
{
	bool after_name = false, any;
	int c;
	k->ext_start = k->i;
	for (;;) {
		TRY(skip_ws(k, &any));
		TRY(peek(k, &c));
		if (c == '\r' && !any)
			break;
		if (c == '=' && after_name) {
			k->i++;
			TRY(skip_ws(k, &any));
			TRY(ext_value(k));
			after_name = false;
			continue;
		}
		if (c != ';')
			return BAD;
		k->i++;
		TRY(skip_ws(k, &any));
		TRY(take(k, &c));
		if (!tchar(c))
			return BAD;
		for (;;) {
			TRY(peek(k, &c));
			if (!tchar(c))
				break;
			k->i++;
		}
		after_name = true;
	}
	k->ext_start = SIZE_MAX;
	return OK;
}

static int crlf(struct cursor *k)
{
	int c;
	TRY(take(k, &c));
	if (c != '\r')
		return BAD;
	TRY(take(k, &c));
	return c == '\n' ? OK : BAD;
}

static bool forbidden_trailer(const uint8_t *name, size_t len)
{
	static const char *const names[] = {
	        "content-length",   "transfer-encoding", "host", "connection",
	        "proxy-connection", "keep-alive",        "te",   "upgrade"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == len && strncasecmp((const char *)name, names[i], len) == 0)
			return true;
	return false;
}

static int trailers(struct cursor *k, struct outcome *o)
{
	size_t fields = 0;
	int c;
	for (;;) {
		k->in_trailer = false;
		TRY(peek(k, &c));
		if (c == '\r')
			return crlf(k);
		k->in_trailer = true;
		size_t line = k->i;
		TRY(take(k, &c));
		if (!tchar(c) || ++fields > k->lim->max_header_fields)
			return BAD;
		for (;;) {
			TRY(take(k, &c));
			if (c == ':')
				break;
			if (!tchar(c))
				return BAD;
		}
		if (forbidden_trailer(k->p + line, k->i - 1 - line))
			return BAD;
		for (;;) {
			TRY(take(k, &c));
			if (c == '\r')
				break;
			if (!vchar_or_ws(c))
				return BAD;
		}
		TRY(take(k, &c));
		if (c != '\n')
			return BAD;
		add(o->trailer, &o->ntrailer, k->p + line, k->i - line);
	}
}

static int chunks(struct cursor *k, struct outcome *o)
{
	int c;
	for (;;) {
		uint64_t size = 0;
		unsigned digits = 0;
		for (;;) {
			TRY(peek(k, &c));
			if (!hexdig(c))
				break;
			unsigned v =
			        c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
			if (++digits > 16 || size > ((UINT64_C(1) << 62) - v) / 16)
				return BAD;
			size = size * 16 + v;
			k->i++;
		}
		if (digits == 0)
			return BAD;
		TRY(extensions(k));
		TRY(crlf(k));
		if (size == 0)
			return trailers(k, o);
		size_t have = k->n - k->i;
		size_t n = size < have ? (size_t)size : have;
		add(o->data, &o->ndata, k->p + k->i, n);
		k->i += n;
		if (n < size)
			return MORE;
		TRY(crlf(k));
	}
}

static void reference_decode(const struct pc_http_limits *lim, const uint8_t *data, size_t size,
                             struct outcome *o)
{
	struct cursor k = {data, size, 0, SIZE_MAX, 0, false, lim};
	memset(o, 0, offsetof(struct outcome, data));
	int rc = chunks(&k, o);
	o->rc = rc == OK ? 0 : rc == MORE ? PC_AGAIN : PC_EPARSE;
	o->end = rc == OK ? k.i : 0;
}

static void same(const struct outcome *a, const struct outcome *b, bool reasons)
{
	CHECK(a->rc == b->rc && a->end == b->end);
	if (reasons && a->rc == PC_EPARSE)
		CHECK(strcmp(a->reason, b->reason) == 0);
	CHECK(a->ndata == b->ndata && memcmp(a->data, b->data, a->ndata) == 0);
	/* Trailer lines are complete only at the end; after an error, how many were reported
	 * depends on the pieces. */
	if (a->rc == 0 || (reasons && a->rc == PC_AGAIN))
		CHECK(a->ntrailer == b->ntrailer &&
		      memcmp(a->trailer, b->trailer, a->ntrailer) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	struct pc_http_limits lim = pc_http_default_limits;
	if ((h & 3) == 0) {
		lim.max_header_bytes = (h >> 8) % 64;
		lim.max_header_fields = (h >> 16) % 5;
	}
	run_decoder(&lim, data, size, 0, &whole);
	run_decoder(&lim, data, size, h | 1, &pieces);
	same(&whole, &pieces, true);
	reference_decode(&lim, data, size, &ref);
	same(&whole, &ref, false);
	return 0;
}
