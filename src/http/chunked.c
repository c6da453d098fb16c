#include "http/chunked.h"

#include <string.h>

#include "core/error.h"
#include "http/chars.h"

/* chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string
 * last-chunk = 1*"0" [ chunk-ext ] CRLF, then trailer field lines, then CRLF. */
enum state {
	ST_SIZE_FIRST = 0,
	ST_SIZE,
	/* chunk extensions, up to the CR of the size line */
	ST_EXT_WS,      /* whitespace after the size or a value: more, or ';' */
	ST_EXT_SEMI,    /* after ';': whitespace or a name */
	ST_EXT_NAME,    /* in a name */
	ST_EXT_NAME_WS, /* whitespace after a name: more, '=' or ';' */
	ST_EXT_EQ,      /* after '=': whitespace, a token or a quoted-string */
	ST_EXT_VALUE,   /* in a token value */
	ST_EXT_QUOTED,  /* in a quoted-string */
	ST_EXT_QUOTED_PAIR,
	ST_EXT_END, /* after a quoted-string: whitespace, ';' or CR */
	ST_SIZE_LF,
	ST_DATA,
	ST_DATA_CR,
	ST_DATA_LF,
	/* trailer section */
	ST_TRAILER_START, /* at the start of a line */
	ST_TRAILER_NAME,
	ST_TRAILER_VALUE,
	ST_TRAILER_LF,
	ST_FINAL_LF,
	ST_DONE,
	ST_FAILED,
};

void pc_http_chunked_init(struct pc_http_chunked *d, const struct pc_http_limits *limits)
{
	if (!limits)
		limits = &pc_http_default_limits;
	memset(d, 0, sizeof *d);
	d->max_trailer_bytes = limits->max_header_bytes;
	d->max_trailer_fields = limits->max_header_fields;
	d->error = (struct pc_http_error){0, "no error"};
}

bool pc_http_chunked_done(const struct pc_http_chunked *d)
{
	return d->state == ST_DONE;
}

/* After the size, an extension name or a value, or whitespace after one of them: more
 * whitespace, '=' (after a name), ';' or, unless whitespace came last, the CR. */
static const char *ext_after(struct pc_http_chunked *d, unsigned char c, bool after_ws,
                             bool after_name)
{
	if (after_name && c == '=')
		d->state = ST_EXT_EQ;
	else if (pc_http__is_ows(c))
		d->state = after_name ? ST_EXT_NAME_WS : ST_EXT_WS;
	else if (c == ';')
		d->state = ST_EXT_SEMI;
	else if (c == '\r' && !after_ws)
		d->state = ST_SIZE_LF;
	else if (c == '\n')
		return "bare LF in chunked framing";
	else
		return after_ws ? "whitespace not followed by a chunk extension"
		                : "invalid chunk extension";
	return NULL;
}

static const char *size_digit(struct pc_http_chunked *d, unsigned char c)
{
	unsigned v = pc_http__hex_value(c);
	if (++d->digits > PC_HTTP_CHUNK_SIZE_DIGITS_MAX)
		return "chunk size too long";
	if (d->size > (PC_HTTP_LENGTH_MAX - v) / 16)
		return "chunk size too large";
	d->size = d->size * 16 + v;
	d->state = ST_SIZE;
	return NULL;
}

static const char *size_line_end(struct pc_http_chunked *d, unsigned char c)
{
	if (c != '\n')
		return "bare CR in chunked framing";
	d->remaining = d->size;
	d->state = d->size ? ST_DATA : ST_TRAILER_START;
	d->size = 0;
	d->digits = 0;
	d->ext_len = 0;
	return NULL;
}

/* The size line: size digits, then extensions checked for syntax and length. */
static const char *size_line(struct pc_http_chunked *d, unsigned char c)
{
	bool hex = pc_http__is(c, PC_HTTP__HEX);
	if (d->state == ST_SIZE_FIRST)
		return hex ? size_digit(d, c) : "invalid chunk size";
	if (d->state == ST_SIZE && hex)
		return size_digit(d, c);
	if (c != '\r' && ++d->ext_len > PC_HTTP_CHUNK_EXT_MAX)
		return "chunk extension too long";
	bool tchar = pc_http__is(c, PC_HTTP__TCHAR), ws = pc_http__is_ows(c);
	switch (d->state) {
	case ST_EXT_VALUE:
		if (tchar)
			return NULL;
		/* fall through */
	case ST_SIZE:
	case ST_EXT_END:
		return ext_after(d, c, false, false);
	case ST_EXT_WS:
		return ext_after(d, c, true, false);
	case ST_EXT_NAME:
		return tchar ? NULL : ext_after(d, c, false, true);
	case ST_EXT_NAME_WS:
		return ext_after(d, c, true, true);
	case ST_EXT_SEMI:
		if (ws)
			return NULL;
		d->state = ST_EXT_NAME;
		return tchar ? NULL : "invalid chunk extension name";
	case ST_EXT_EQ:
		if (ws)
			return NULL;
		if (c == '"')
			d->state = ST_EXT_QUOTED;
		else if (tchar)
			d->state = ST_EXT_VALUE;
		else
			return "invalid chunk extension value";
		return NULL;
	case ST_EXT_QUOTED:
		if (c == '"')
			d->state = ST_EXT_END;
		else if (c == '\\')
			d->state = ST_EXT_QUOTED_PAIR;
		else if (!pc_http__is(c, PC_HTTP__QDTEXT))
			return "invalid character in chunk extension";
		return NULL;
	case ST_EXT_QUOTED_PAIR:
		d->state = ST_EXT_QUOTED;
		return pc_http__is(c, PC_HTTP__VALUE) ? NULL
		                                      : "invalid character in chunk extension";
	default:
		return "invalid chunk extension";
	}
}

/* Trailer field names that would frame or route the message if a recipient honoured them. */
static bool trailer_forbidden(const struct pc_http_chunked *d)
{
	if (d->name_len > sizeof d->name)
		return false;
	enum pc_http_field_id id = pc_http__field_id(d->name, d->name_len);
	return id == PC_HTTP_FIELD_CONTENT_LENGTH || id == PC_HTTP_FIELD_HOST ||
	       pc_http__is_hop_by_hop(id);
}

/* The trailer section: field lines under the rules of heads, then CRLF. */
static const char *trailer(struct pc_http_chunked *d, unsigned char c)
{
	switch (d->state) {
	case ST_TRAILER_START:
		if (c == '\r') {
			d->state = ST_FINAL_LF;
			return NULL;
		}
		if (pc_http__is_ows(c))
			return "obs-fold in trailer section";
		if (!pc_http__is(c, PC_HTTP__TCHAR))
			return c == '\n' ? "bare LF in trailer section"
			                 : "invalid trailer field name";
		if (++d->trailer_fields > d->max_trailer_fields)
			return "too many trailer fields";
		d->name_len = 0;
		d->state = ST_TRAILER_NAME;
		/* fall through */
	case ST_TRAILER_NAME:
		if (pc_http__is(c, PC_HTTP__TCHAR)) {
			if (d->name_len < sizeof d->name)
				d->name[d->name_len] = (char)c;
			if (d->name_len <= sizeof d->name)
				d->name_len++;
			return NULL;
		}
		if (c != ':')
			return pc_http__is_ows(c) ? "whitespace before a colon"
			                          : "invalid trailer field name";
		if (trailer_forbidden(d))
			return "framing or hop-by-hop field in trailer section";
		d->state = ST_TRAILER_VALUE;
		return NULL;
	case ST_TRAILER_VALUE:
		if (c == '\r')
			d->state = ST_TRAILER_LF;
		else if (!pc_http__is(c, PC_HTTP__VALUE))
			return c == '\n' ? "bare LF in trailer section"
			                 : "invalid character in trailer value";
		return NULL;
	case ST_TRAILER_LF:
		d->state = ST_TRAILER_START;
		return c == '\n' ? NULL : "bare CR in trailer section";
	default: /* ST_FINAL_LF */
		d->state = ST_DONE;
		return c == '\n' ? NULL : "bare CR in trailer section";
	}
}

static const char *step(struct pc_http_chunked *d, unsigned char c)
{
	switch (d->state) {
	case ST_SIZE_LF:
		return size_line_end(d, c);
	case ST_DATA_CR:
		d->state = ST_DATA_LF;
		return c == '\r' ? NULL : "chunk data not followed by CRLF";
	case ST_DATA_LF:
		d->state = ST_SIZE_FIRST;
		return c == '\n' ? NULL : "chunk data not followed by CRLF";
	default:
		if (d->state >= ST_TRAILER_START)
			return trailer(d, c);
		return size_line(d, c);
	}
}

static bool in_trailer_line(unsigned state)
{
	return state >= ST_TRAILER_START && state <= ST_TRAILER_LF;
}

ssize_t pc_http_chunked_decode(struct pc_http_chunked *d, const char *buf, size_t len,
                               struct pc_http_chunk *out)
{
	*out = (struct pc_http_chunk){PC_HTTP_CHUNK_NONE, NULL, 0};
	if (d->state == ST_FAILED)
		return PC_EPARSE;
	if (d->state == ST_DONE) {
		out->kind = PC_HTTP_CHUNK_END;
		return 0;
	}
	size_t i = 0, trailer_from = SIZE_MAX;
	while (i < len) {
		if (d->state == ST_DATA) {
			size_t n = len - i;
			if (d->remaining < n)
				n = (size_t)d->remaining;
			d->remaining -= n;
			if (d->remaining == 0)
				d->state = ST_DATA_CR;
			*out = (struct pc_http_chunk){PC_HTTP_CHUNK_DATA, buf + i, n};
			return (ssize_t)(i + n);
		}
		unsigned char c = (unsigned char)buf[i];
		const char *why = NULL;
		if (in_trailer_line(d->state) && !(d->state == ST_TRAILER_START && c == '\r')) {
			if (trailer_from == SIZE_MAX)
				trailer_from = i;
			if (++d->trailer_bytes > d->max_trailer_bytes)
				why = "trailer section too large";
		} else if (trailer_from != SIZE_MAX) {
			break; /* the final CRLF: report the trailer lines first */
		}
		if (!why)
			why = step(d, c);
		if (why) {
			d->state = ST_FAILED;
			d->error = (struct pc_http_error){400, why};
			return PC_EPARSE;
		}
		i++;
		if (d->state == ST_DONE) {
			out->kind = PC_HTTP_CHUNK_END;
			return (ssize_t)i;
		}
	}
	if (trailer_from != SIZE_MAX)
		*out = (struct pc_http_chunk){PC_HTTP_CHUNK_TRAILER, buf + trailer_from,
		                              i - trailer_from};
	return (ssize_t)i;
}
