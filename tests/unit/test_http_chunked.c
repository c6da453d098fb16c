/* Chunked bodies: every case is decoded whole, a byte at a time, at every two-piece split and
 * in pseudo-random pieces (each piece in a buffer of its own size, so that a read past the
 * piece is caught by the sanitizers), and every way must give the same payload, trailers, end
 * and error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http/chunked.h"
#include "http/parse.h"

#define L(lit)  lit, sizeof(lit) - 1
#define OUT_MAX 20000

struct outcome {
	ssize_t rc; /* 0: END reached; PC_AGAIN: input ran out; PC_EPARSE */
	const char *reason;
	size_t end; /* bytes consumed when END was reported */
	size_t ndata, ntrailer;
	char data[OUT_MAX];
	char trailer[OUT_MAX];
};

static void append(char *dst, size_t *n, const char *p, size_t len)
{
	assert_true(*n + len <= OUT_MAX);
	memcpy(dst + *n, p, len);
	*n += len;
}

/* One call on a private copy of in[pos..avail); returns the bytes consumed or an error. */
static ssize_t feed(struct pc_http_chunked *d, const char *in, size_t pos, size_t avail,
                    struct outcome *o)
{
	size_t n = avail - pos;
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, in + pos, n);
	struct pc_http_chunk c;
	ssize_t rc = pc_http_chunked_decode(d, copy, n, &c);
	if (rc >= 0) {
		assert_true((size_t)rc <= n);
		if (c.kind == PC_HTTP_CHUNK_DATA || c.kind == PC_HTTP_CHUNK_TRAILER) {
			assert_true(c.len > 0);
			assert_true(c.p >= copy && c.p + c.len <= copy + rc);
		}
		if (c.kind == PC_HTTP_CHUNK_DATA) {
			assert_ptr_equal(c.p + c.len, copy + rc);
			append(o->data, &o->ndata, c.p, c.len);
		} else if (c.kind == PC_HTTP_CHUNK_TRAILER) {
			append(o->trailer, &o->ntrailer, c.p, c.len);
		} else if (c.kind == PC_HTTP_CHUNK_END) {
			o->rc = 0;
			o->end = pos + (size_t)rc;
			assert_true(pc_http_chunked_done(d));
		} else {
			/* Only framing consumed: then everything was. */
			assert_int_equal(rc, n);
		}
		if (n > 0 && c.kind != PC_HTTP_CHUNK_END)
			assert_true(rc > 0);
	}
	free(copy);
	return rc;
}

/* Decodes in, making the bytes available in pieces of the sizes in cuts (cycled; 0 means all
 * the rest). */
static void decode(const struct pc_http_limits *lim, const char *in, size_t len, const size_t *cuts,
                   size_t ncuts, struct outcome *o)
{
	struct pc_http_chunked d;
	pc_http_chunked_init(&d, lim);
	memset(o, 0, offsetof(struct outcome, data));
	o->rc = PC_AGAIN;
	size_t pos = 0, avail = 0;
	for (size_t k = 0; o->rc == PC_AGAIN && avail < len; k++) {
		size_t cut = cuts[k % ncuts];
		avail = cut == 0 || cut > len - avail ? len : avail + cut;
		while (o->rc == PC_AGAIN && pos < avail) {
			ssize_t rc = feed(&d, in, pos, avail, o);
			if (rc < 0) {
				o->rc = rc;
				o->reason = d.error.reason;
				assert_int_equal(d.error.status, 400);
				/* A failed decoder stays failed. */
				struct pc_http_chunk c;
				assert_int_equal(pc_http_chunked_decode(&d, "0\r\n\r\n", 5, &c),
				                 PC_EPARSE);
			} else {
				pos += (size_t)rc;
			}
		}
	}
	if (o->rc == 0) {
		struct pc_http_chunk c;
		assert_int_equal(pc_http_chunked_decode(&d, "x", 1, &c), 0);
		assert_int_equal(c.kind, PC_HTTP_CHUNK_END);
	}
}

static void assert_same_outcome(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->rc, b->rc);
	if (a->rc == PC_EPARSE)
		assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->end, b->end);
	assert_int_equal(a->ndata, b->ndata);
	assert_memory_equal(a->data, b->data, a->ndata);
	/* Trailer lines are reported as they arrive and are valid only once END is: after an
	 * error, how much of them was reported depends on the pieces. */
	if (a->rc == PC_EPARSE)
		return;
	assert_int_equal(a->ntrailer, b->ntrailer);
	assert_memory_equal(a->trailer, b->trailer, a->ntrailer);
}

static struct outcome whole, other;

/* Decodes every way and returns the (common) outcome in whole. */
static const struct outcome *decode_all_ways(const struct pc_http_limits *lim, const char *in,
                                             size_t len)
{
	static const size_t all[] = {0}, one[] = {1}, odd[] = {3, 1, 7, 2, 11, 5},
	                    big[] = {4096, 1, 100};
	decode(lim, in, len, all, 1, &whole);
	decode(lim, in, len, one, 1, &other);
	assert_same_outcome(&whole, &other);
	decode(lim, in, len, odd, 6, &other);
	assert_same_outcome(&whole, &other);
	decode(lim, in, len, big, 3, &other);
	assert_same_outcome(&whole, &other);
	for (size_t cut = 1; cut < len && len < 600; cut++) {
		size_t cuts[2] = {cut, 0};
		decode(lim, in, len, cuts, 2, &other);
		assert_same_outcome(&whole, &other);
	}
	return &whole;
}

/* ---- tables ---- */

static const struct {
	const char *in;
	size_t len;
	const char *data;
	const char *trailer;
	size_t tail; /* bytes after the end */
} good[] = {
        {L("0\r\n\r\n"), "", "", 0},
        {L("5\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world", "", 0},
        {L("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n"), "0123456789abcdefghij", "", 0},
        {L("005\r\nhe\r\nl\r\n0000\r\n\r\n"), "he\r\nl", "", 0},
        {L("1\r\n\0\r\n0\r\n\r\n"), "", "", 0}, /* the payload holds one NUL; checked apart */
        {L("5;a\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5;a=b\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5 ; a = b ; c\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5\t;\ta\t=\t\"q\"\t;b\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5;a=\"x y\\\"z\\\\\"\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5;a=\"\"\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5;a=\"\x80\xff\t\"\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("5;a;b;c=d;e=\"f\"\r\nhello\r\n0;last=1\r\n\r\n"), "hello", "", 0},
        {L("5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n"), "hello", "", 0},
        {L("0\r\nX-Sum: 1\r\n\r\n"), "", "X-Sum: 1\r\n", 0},
        {L("3\r\nabc\r\n0\r\nA: 1\r\nB:\r\nC: x \t y \x80\r\n\r\n"), "abc",
         "A: 1\r\nB:\r\nC: x \t y \x80\r\n", 0},
        {L("0\r\nTransfer-Encodingx: 1\r\nContent-Lengt: 2\r\n\r\n"), "",
         "Transfer-Encodingx: 1\r\nContent-Lengt: 2\r\n", 0},
        {L("0\r\n\r\nGET / HTTP/1.1\r\n"), "", "", 16},
        {L("2\r\nab\r\n0\r\nX: y\r\n\r\n\r\n"), "ab", "X: y\r\n", 2},
};

/* Refused: input and a word of the reason. */
static const struct {
	const char *in;
	size_t len;
	const char *why;
} bad[] = {
        {L("x\r\n"), "size"},
        {L("\r\n"), "size"},
        {L(";a\r\n"), "size"},
        {L(" 5\r\nhello\r\n0\r\n\r\n"), "size"},
        {L("-5\r\n"), "size"},
        {L("+5\r\n"), "size"},
        {L("0x5\r\n"), "extension"},
        {L("5 \r\nhello\r\n0\r\n\r\n"), "whitespace"},
        {L("5\t\r\nhello\r\n0\r\n\r\n"), "whitespace"},
        {L("5\nhello\r\n0\r\n\r\n"), "bare LF"},
        {L("5\rhello\r\n0\r\n\r\n"), "bare CR"},
        {L("5\r\nhello\n0\r\n\r\n"), "CRLF"},
        {L("5\r\nhelloX\r\n0\r\n\r\n"), "CRLF"},
        {L("5\r\nhello\r0\r\n\r\n"), "CRLF"},
        {L("5\r\nhello\r\n\r\n0\r\n\r\n"), "size"},
        {L("0\r\n\n"), "bare LF"},
        {L("0\n\r\n"), "bare LF"},
        {L("0\r\n\r\r\n"), "bare CR"},
        {L("5;\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;=b\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a =\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a \r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a b\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=b c\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=b \r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=\"x\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a\0\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5;a=b\nhello\r\n0\r\n\r\n"), "bare LF"},
        {L("5;a=(b)\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("5,a\r\nhello\r\n0\r\n\r\n"), "extension"},
        {L("0\r\nX : y\r\n\r\n"), "colon"},
        {L("0\r\n y\r\n\r\n"), "obs-fold"},
        {L("0\r\nX: a\r\n b\r\n\r\n"), "obs-fold"},
        {L("0\r\nX: \0\r\n\r\n"), "trailer value"},
        {L("0\r\nX: \x7f\r\n\r\n"), "trailer value"},
        {L("0\r\nX: y\n\r\n"), "bare LF"},
        {L("0\r\nX: y\r\n\n"), "bare LF"},
        {L("0\r\nX: y\rz\r\n\r\n"), "bare CR"},
        {L("0\r\nNoColon\r\n\r\n"), "name"},
        {L("0\r\n: v\r\n\r\n"), "name"},
        {L("0\r\nX(: v\r\n\r\n"), "name"},
        {L("0\r\nContent-Length: 5\r\n\r\n"), "trailer section"},
        {L("0\r\ncontent-length: 5\r\n\r\n"), "trailer section"},
        {L("0\r\nTransfer-Encoding: chunked\r\n\r\n"), "trailer section"},
        {L("0\r\nHOST: x\r\n\r\n"), "trailer section"},
        {L("0\r\nConnection: close\r\n\r\n"), "trailer section"},
        {L("0\r\nUpgrade: x\r\n\r\n"), "trailer section"},
        {L("0\r\nKeep-Alive: 1\r\n\r\n"), "trailer section"},
        {L("0\r\nTE: trailers\r\n\r\n"), "trailer section"},
        {L("0\r\nProxy-Connection: close\r\n\r\n"), "trailer section"},
};

static void test_good_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const struct outcome *o = decode_all_ways(NULL, good[i].in, good[i].len);
		if (o->rc != 0)
			fail_msg("case %zu: %s", i, o->reason ? o->reason : "incomplete");
		assert_int_equal(o->end, good[i].len - good[i].tail);
		if (i != 5) {
			assert_int_equal(o->ndata, strlen(good[i].data));
			assert_memory_equal(o->data, good[i].data, o->ndata);
		} else {
			assert_int_equal(o->ndata, 1);
			assert_int_equal(o->data[0], 0);
		}
		assert_int_equal(o->ntrailer, strlen(good[i].trailer));
		assert_memory_equal(o->trailer, good[i].trailer, o->ntrailer);
	}
}

static void test_bad_bodies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const struct outcome *o = decode_all_ways(NULL, bad[i].in, bad[i].len);
		if (o->rc != PC_EPARSE)
			fail_msg("case %zu \"%.*s\" accepted", i, (int)bad[i].len, bad[i].in);
		if (!strstr(o->reason, bad[i].why))
			fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, o->reason, bad[i].why);
	}
}

static void test_incomplete_bodies(void **state)
{
	(void)state;
	static const char *const prefixes[] = {"",
	                                       "5",
	                                       "5\r",
	                                       "5\r\nhel",
	                                       "5\r\nhello",
	                                       "5\r\nhello\r",
	                                       "5\r\nhello\r\n0",
	                                       "5\r\nhello\r\n0\r\n",
	                                       "0\r\nX: y",
	                                       "0\r\nX: y\r\n",
	                                       "0\r\n\r",
	                                       "5;a=\"x",
	                                       "5;a=\"\\"};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		const struct outcome *o = decode_all_ways(NULL, prefixes[i], strlen(prefixes[i]));
		assert_int_equal(o->rc, PC_AGAIN);
	}
}

/* ---- one test per lesson ---- */

static void test_chunk_size_overflow_rejected(void **state)
{
	(void)state;
	/* A size that wraps would make the decoder and the next hop disagree on where the chunk
	 * ends. */
	static const struct {
		const char *in;
		const char *why;
	} cases[] = {
	        {"10000000000000000\r\n", "too long"},  {"00000000000000000\r\n", "too long"},
	        {"FFFFFFFFFFFFFFFF\r\n", "too large"},  {"4000000000000001\r\n", "too large"},
	        {"ffffffffffffffff0\r\n", "too large"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct outcome *o = decode_all_ways(NULL, cases[i].in, strlen(cases[i].in));
		assert_int_equal(o->rc, PC_EPARSE);
		assert_non_null(strstr(o->reason, cases[i].why));
	}
	/* The largest size accepted: 2^62, and 16 digits with leading zeros. */
	struct pc_http_chunked d;
	struct pc_http_chunk c;
	pc_http_chunked_init(&d, NULL);
	assert_int_equal(pc_http_chunked_decode(&d, L("4000000000000000\r\nab"), &c), 20);
	assert_int_equal(c.kind, PC_HTTP_CHUNK_DATA);
	assert_int_equal(d.remaining, (UINT64_C(1) << 62) - 2);
	pc_http_chunked_init(&d, NULL);
	assert_int_equal(pc_http_chunked_decode(&d, L("0000000000000001\r\na"), &c), 19);
	assert_int_equal(c.len, 1);
}

static void test_chunk_extension_over_4k_rejected(void **state)
{
	(void)state;
	static char in[PC_HTTP_CHUNK_EXT_MAX + 64];
	/* ";" and 4095 name bytes: exactly 4096 bytes of extension. */
	size_t n = 0;
	in[n++] = '5';
	in[n++] = ';';
	memset(in + n, 'e', PC_HTTP_CHUNK_EXT_MAX - 1);
	n += PC_HTTP_CHUNK_EXT_MAX - 1;
	memcpy(in + n, "\r\nhello\r\n0\r\n\r\n", 14);
	const struct outcome *o = decode_all_ways(NULL, in, n + 14);
	assert_int_equal(o->rc, 0);
	/* One more byte: refused, as soon as it arrives. */
	memset(in + 2, 'e', PC_HTTP_CHUNK_EXT_MAX);
	o = decode_all_ways(NULL, in, PC_HTTP_CHUNK_EXT_MAX + 2);
	assert_int_equal(o->rc, PC_EPARSE);
	assert_non_null(strstr(o->reason, "too long"));
	/* Whitespace counts too, and the bound is per chunk line. */
	static char two[2 * PC_HTTP_CHUNK_EXT_MAX + 64];
	n = (size_t)sprintf(two, "1");
	memset(two + n, ' ', PC_HTTP_CHUNK_EXT_MAX - 2);
	n += PC_HTTP_CHUNK_EXT_MAX - 2;
	n += (size_t)sprintf(two + n, ";a\r\nx\r\n0");
	memset(two + n, ' ', PC_HTTP_CHUNK_EXT_MAX - 2);
	n += PC_HTTP_CHUNK_EXT_MAX - 2;
	n += (size_t)sprintf(two + n, ";b\r\n\r\n");
	o = decode_all_ways(NULL, two, n);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->ndata, 1);
}

static void test_bare_lf_in_chunked_rejected(void **state)
{
	(void)state;
	static const char *const cases[] = {"5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n",
	                                    "5\r\nhello\r\n0\n\r\n", "5\r\nhello\r\n0\r\n\n",
	                                    "0\r\nX: 1\n\r\n",       "5;x\n"};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(decode_all_ways(NULL, cases[i], strlen(cases[i]))->rc, PC_EPARSE);
}

static void test_chunk_data_without_crlf_rejected(void **state)
{
	(void)state;
	/* A decoder that skipped to the next line would read "0\r\n\r\n" inside the data. */
	const struct outcome *o = decode_all_ways(NULL, L("3\r\nabcd\r\n0\r\n\r\n"));
	assert_int_equal(o->rc, PC_EPARSE);
	assert_int_equal(o->ndata, 3);
}

static void test_framing_trailers_rejected(void **state)
{
	(void)state;
	const struct outcome *o =
	        decode_all_ways(NULL, L("0\r\nX: 1\r\nContent-Length: 10\r\n\r\n"));
	assert_int_equal(o->rc, PC_EPARSE);
	/* Names are matched whole: a longer name is an ordinary field. */
	o = decode_all_ways(NULL, L("0\r\nContent-Length-X: 10\r\nHostx: y\r\n\r\n"));
	assert_int_equal(o->rc, 0);
	o = decode_all_ways(NULL, L("0\r\nAn-Extremely-Long-Trailer-Name-Over-Twenty: 1\r\n\r\n"));
	assert_int_equal(o->rc, 0);
}

static void test_trailer_limits_exact(void **state)
{
	(void)state;
	static const struct pc_http_limits lim = {64, 20, 2};
	/* 2 fields, 20 bytes with their CRLFs. */
	const struct outcome *o = decode_all_ways(&lim, L("0\r\nA: 1234\r\nB: 123456\r\n\r\n"));
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->ntrailer, 20);
	o = decode_all_ways(&lim, L("0\r\nA: 1234\r\nB: 1234567\r\n\r\n"));
	assert_int_equal(o->rc, PC_EPARSE);
	assert_non_null(strstr(o->reason, "too large"));
	o = decode_all_ways(&lim, L("0\r\nA:\r\nB:\r\nC:\r\n\r\n"));
	assert_int_equal(o->rc, PC_EPARSE);
	assert_non_null(strstr(o->reason, "too many"));
	/* The bounds do not apply to the payload. */
	o = decode_all_ways(&lim, L("1e\r\n0123456789abcdefghijklmnopqrst\r\n0\r\n\r\n"));
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->ndata, 30);
}

static void test_chunked_any_split_same_result(void **state)
{
	(void)state;
	/* A longer message with every feature, cut at every pair of points. */
	static const char in[] = "3;x=\"a;b\"\r\nabc\r\n10 ; y\r\n0123456789abcdef\r\n1\r\n\n\r\n"
	                         "0;z\r\nT1: v\r\nT2: w w\r\n\r\nNEXT";
	size_t len = sizeof in - 1;
	const struct outcome *o = decode_all_ways(NULL, in, len);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->end, len - 4);
	assert_int_equal(o->ndata, 20);
	static struct outcome ref3;
	ref3 = *o;
	for (size_t a = 1; a < len; a++)
		for (size_t b = 1; a + b < len; b++) {
			size_t cuts[3] = {a, b, 0};
			decode(NULL, in, len, cuts, 3, &other);
			assert_same_outcome(&ref3, &other);
		}
}

static void test_response_chunked_with_trailers(void **state)
{
	(void)state;
	static const char msg[] = "HTTP/1.1 200 OK\r\nTrailer: X-Checksum\r\n"
	                          "Transfer-Encoding: chunked\r\n\r\n"
	                          "4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Checksum: 42\r\n\r\n";
	struct pc_http_response r;
	struct pc_http_field slots[8];
	pc_http_response_init(&r, slots, 8, NULL, PC_HTTP_METHOD_GET);
	ssize_t head = pc_http_response_parse(&r, L(msg));
	assert_true(head > 0);
	assert_int_equal(r.head.body, PC_HTTP_BODY_CHUNKED);
	const struct outcome *o = decode_all_ways(NULL, msg + head, sizeof msg - 1 - (size_t)head);
	assert_int_equal(o->rc, 0);
	assert_int_equal(o->end, sizeof msg - 1 - (size_t)head);
	assert_memory_equal(o->data, "Wikipedia", 9);
	assert_int_equal(o->ntrailer, 16);
	assert_memory_equal(o->trailer, "X-Checksum: 42\r\n", 16);
}

static void test_decoder_progress(void **state)
{
	(void)state;
	/* Each call reports one span; data spans end where the consumed bytes end. */
	struct pc_http_chunked d;
	struct pc_http_chunk c;
	pc_http_chunked_init(&d, NULL);
	const char *in = "2\r\nab\r\n3\r\ncde\r\n0\r\nT: 1\r\n\r\n";
	size_t len = strlen(in), pos = 0;
	enum pc_http_chunk_kind kinds[8];
	size_t nk = 0;
	while (pos < len && nk < 8) {
		ssize_t n = pc_http_chunked_decode(&d, in + pos, len - pos, &c);
		assert_true(n > 0);
		kinds[nk++] = c.kind;
		pos += (size_t)n;
		if (c.kind == PC_HTTP_CHUNK_END)
			break;
	}
	assert_int_equal(nk, 4);
	assert_int_equal(kinds[0], PC_HTTP_CHUNK_DATA);
	assert_int_equal(kinds[1], PC_HTTP_CHUNK_DATA);
	assert_int_equal(kinds[2], PC_HTTP_CHUNK_TRAILER);
	assert_int_equal(kinds[3], PC_HTTP_CHUNK_END);
	assert_int_equal(pos, len);
	/* Zero bytes: nothing happens. */
	pc_http_chunked_init(&d, NULL);
	assert_int_equal(pc_http_chunked_decode(&d, NULL, 0, &c), 0);
	assert_int_equal(c.kind, PC_HTTP_CHUNK_NONE);
	assert_false(pc_http_chunked_done(&d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_bodies),
	        cmocka_unit_test(test_bad_bodies),
	        cmocka_unit_test(test_incomplete_bodies),
	        cmocka_unit_test(test_chunk_size_overflow_rejected),
	        cmocka_unit_test(test_chunk_extension_over_4k_rejected),
	        cmocka_unit_test(test_bare_lf_in_chunked_rejected),
	        cmocka_unit_test(test_chunk_data_without_crlf_rejected),
	        cmocka_unit_test(test_framing_trailers_rejected),
	        cmocka_unit_test(test_trailer_limits_exact),
	        cmocka_unit_test(test_chunked_any_split_same_result),
	        cmocka_unit_test(test_response_chunked_with_trailers),
	        cmocka_unit_test(test_decoder_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
