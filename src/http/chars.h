/* Character classes shared by the HTTP parsers (internal to src/http/, not for callers). One table
 * lookup per byte; the table lives in parse.c. */
#ifndef PC_HTTP_CHARS_H
#define PC_HTTP_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"

enum {
	PC_HTTP__TCHAR = 1u << 0,      /* token (RFC 9110 §5.6.2) */
	PC_HTTP__VALUE = 1u << 1,      /* field-vchar, SP, HTAB: field content (RFC 9110 §5.5) */
	PC_HTTP__UNRESERVED = 1u << 2, /* RFC 3986 unreserved */
	PC_HTTP__SUBDELIM = 1u << 3,   /* RFC 3986 sub-delims */
	PC_HTTP__HEX = 1u << 4,
	PC_HTTP__QDTEXT = 1u << 5, /* quoted-string text (RFC 9110 §5.6.4) */
	PC_HTTP__PATH = 1u << 6, /* pchar or "/", without "%" (checked apart: it needs 2 HEXDIG) */
	PC_HTTP__SCHEME = 1u << 7, /* after the first letter of a scheme */
};

extern const uint8_t pc_http__ctype[256];

static inline bool pc_http__is(unsigned char c, unsigned cls)
{
	return (pc_http__ctype[c] & cls) != 0;
}

static inline bool pc_http__is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline unsigned char pc_http__lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static inline unsigned pc_http__hex_value(unsigned char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(pc_http__lower(c) - 'a' + 10);
}

/* True when a (len bytes) equals the lowercase literal b, ignoring ASCII case. */
static inline bool pc_http__ieq(const char *a, size_t len, const char *b, size_t blen)
{
	if (len != blen)
		return false;
	for (size_t i = 0; i < len; i++)
		if (pc_http__lower((unsigned char)a[i]) != (unsigned char)b[i])
			return false;
	return true;
}

#define PC_HTTP__IEQ(a, len, lit) pc_http__ieq((a), (len), lit, sizeof(lit) - 1)

/* The id of a field name (defined in parse.c). */
enum pc_http_field_id pc_http__field_id(const char *name, size_t len);

/* Hop-by-hop by definition (RFC 9110 §7.6.1), whatever Connection says. */
static inline bool pc_http__is_hop_by_hop(enum pc_http_field_id id)
{
	switch (id) {
	case PC_HTTP_FIELD_CONNECTION:
	case PC_HTTP_FIELD_PROXY_CONNECTION:
	case PC_HTTP_FIELD_KEEP_ALIVE:
	case PC_HTTP_FIELD_TE:
	case PC_HTTP_FIELD_TRANSFER_ENCODING:
	case PC_HTTP_FIELD_UPGRADE:
		return true;
	default:
		return false;
	}
}

#endif
