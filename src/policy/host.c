/* Host normalisation (SPEC §3 "Hosts"); the design is described in docs/hosts.md.
 *
 * Paths, chosen by the trimmed input: a bracketed or ':'-holding host is an IPv6 literal, read
 * by one strict parser and written by our own RFC 5952 formatter; a plain dotted quad is its own
 * canonical text; any other all-ASCII host is checked, lowercased, measured and classified in
 * one pass over its bytes (the hot path: no allocation, no libidn2 unless a label claims to be
 * an A-label); a host with other bytes goes through libidn2 once and its ASCII output is then
 * put through the very same ASCII pass, so a Unicode spelling can never reach a result the
 * ASCII rules would refuse (fullwidth digits still become an IPv4 address, a fullwidth ':' or
 * '*' is still refused).
 *
 * Every request goes through here, so the common spellings take short paths that give up at the
 * first surprise; the general code behind them then decides as if they did not exist. The fuzz
 * harness holds the previous, simpler implementation and requires identical results. */
#include "policy/host.h"

#include <idn2.h>
#include <net/if.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/error.h"

#define LABEL_MAX 63
#define ZONE_MAX  (sizeof(((struct pc_host *)0)->zone) - 1)
/* Longest IPv6 address text without zone: eight groups of four hex digits with seven colons,
 * or six groups with an embedded dotted quad (45 bytes). */
#define IPV6_TEXT_MAX 45

/* The hot paths are written as small functions; these keep them from costing calls. */
#define HOT_INLINE inline __attribute__((always_inline))
#define COLD       __attribute__((noinline, cold))

/* Internal flag for the ASCII pass: its input is libidn2's output (no second IDNA round, and
 * A-labels need no check: libidn2 has just made them). */
#define FROM_IDNA (1u << 8)

/* Internal results of the ASCII pass besides 0 and PC_EHOST. */
enum { NEEDS_IDNA = 1 };

/* Byte classes, kept in the high byte of byte_info. */
enum {
	C_DIGIT = 1u << 0, /* '0'..'9' */
	C_HEX = 1u << 1,   /* hex digit, either case */
	C_GLOB = 1u << 2,  /* '*', '?' */
	C_SPACE = 1u << 3, /* ASCII whitespace trimmed around a host */
	C_ZONE = 1u << 4,  /* RFC 3986 unreserved: allowed in a zone id */
};

/* One table for the whole module: the low byte is the lowercase form of a byte a DNS label may
 * hold (letter, digit, '-', '_') and 0 for any other byte, so the ASCII pass validates and
 * lowercases with one load; the high byte holds the classes above. */
#define INFO(lower, cls) ((uint16_t)((lower) | (cls) << 8))
#define DIGIT(c)         [c] = INFO(c, C_DIGIT | C_HEX | C_ZONE)
#define LETTER(lower, upper, cls)                                                                  \
	[lower] = INFO(lower, (cls) | C_ZONE), [upper] = INFO(lower, (cls) | C_ZONE)

/* clang-format off */
static const uint16_t byte_info[256] = {
	['\t'] = INFO(0, C_SPACE), ['\n'] = INFO(0, C_SPACE), ['\v'] = INFO(0, C_SPACE),
	['\f'] = INFO(0, C_SPACE), ['\r'] = INFO(0, C_SPACE), [' '] = INFO(0, C_SPACE),
	['-'] = INFO('-', C_ZONE), ['_'] = INFO('_', C_ZONE),
	['.'] = INFO(0, C_ZONE), ['~'] = INFO(0, C_ZONE),
	['*'] = INFO(0, C_GLOB), ['?'] = INFO(0, C_GLOB),
	DIGIT('0'), DIGIT('1'), DIGIT('2'), DIGIT('3'), DIGIT('4'),
	DIGIT('5'), DIGIT('6'), DIGIT('7'), DIGIT('8'), DIGIT('9'),
	LETTER('a', 'A', C_HEX), LETTER('b', 'B', C_HEX), LETTER('c', 'C', C_HEX),
	LETTER('d', 'D', C_HEX), LETTER('e', 'E', C_HEX), LETTER('f', 'F', C_HEX),
	LETTER('g', 'G', 0), LETTER('h', 'H', 0), LETTER('i', 'I', 0), LETTER('j', 'J', 0),
	LETTER('k', 'K', 0), LETTER('l', 'L', 0), LETTER('m', 'M', 0), LETTER('n', 'N', 0),
	LETTER('o', 'O', 0), LETTER('p', 'P', 0), LETTER('q', 'Q', 0), LETTER('r', 'R', 0),
	LETTER('s', 'S', 0), LETTER('t', 'T', 0), LETTER('u', 'U', 0), LETTER('v', 'V', 0),
	LETTER('w', 'W', 0), LETTER('x', 'X', 0), LETTER('y', 'Y', 0), LETTER('z', 'Z', 0),
};
/* clang-format on */

/* The lowercase form of c if a DNS label may hold it, else 0. */
static unsigned name_byte(unsigned char c)
{
	return byte_info[c] & 0xffu;
}

static bool is_class(unsigned char c, unsigned cls)
{
	return ((unsigned)byte_info[c] >> 8 & cls) != 0;
}

/* A byte a label may hold under flags (a glob character only with PC_HOST_GLOB). */
static bool is_label_byte(unsigned char c, unsigned flags)
{
	return name_byte(c) != 0 || ((flags & PC_HOST_GLOB) && is_class(c, C_GLOB));
}

/* c is a hex digit of either case: its low nibble, plus 9 for a letter. */
static unsigned hex_value(unsigned char c)
{
	return (c & 0xfu) + 9 * (c >> 6 & 1u);
}

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t plen)
{
	return n >= plen && memcmp(s, prefix, plen) == 0;
}

/* Trims ASCII whitespace around [*s, *s + *n). */
static HOT_INLINE void trim(const char **s, size_t *n)
{
	const char *p = *s;
	size_t len = *n;
	if (len == 0 || !(is_class((unsigned char)p[0], C_SPACE) ||
	                  is_class((unsigned char)p[len - 1], C_SPACE)))
		return;
	while (len > 0 && is_class((unsigned char)p[0], C_SPACE)) {
		p++;
		len--;
	}
	while (len > 0 && is_class((unsigned char)p[len - 1], C_SPACE))
		len--;
	*s = p;
	*n = len;
}

/* Decimal text of v, NUL-terminated; returns its length. */
static size_t format_decimal(uint32_t v, char *buf)
{
	char tmp[10];
	size_t n = 0, len;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (len = 0; len < n; len++)
		buf[len] = tmp[n - 1 - len];
	buf[len] = '\0';
	return len;
}

/* --- IPv4 ------------------------------------------------------------------------------- */

/* A lowercase label is numeric when it is all decimal digits, or "0x" followed by hex digits
 * ("0x" alone counts: it is 0). Such a last label makes the whole host an IPv4 address or
 * nothing. */
static bool label_is_numeric(const char *s, size_t n)
{
	unsigned cls = C_DIGIT;
	if (n == 0)
		return false;
	if (has_prefix(s, n, "0x", 2)) {
		s += 2;
		n -= 2;
		cls = C_HEX;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_class((unsigned char)s[i], cls))
			return false;
	return true;
}

/* Parses one part of an inet_aton-style address: "0x" + hex (possibly no digits), "0" + octal,
 * or decimal. Fails on an empty part, a digit outside its base, or a value above 2^32 - 1. */
static bool parse_ipv4_part(const char *s, size_t n, uint32_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	if (n == 0)
		return false;
	if (has_prefix(s, n, "0x", 2)) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n > 1 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned d;
		if (base == 16 ? !is_class(c, C_HEX) : !is_class(c, C_DIGIT))
			return false;
		d = hex_value(c);
		if (d >= base)
			return false;
		v = v * base + d;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Parses lowercase s (no trailing dot) as 1 to 4 parts; the last part fills the remaining
 * bytes, every other part is one byte. */
static bool parse_ipv4(const char *s, size_t n, uint8_t a[4])
{
	uint32_t parts[4];
	unsigned np = 0;
	size_t start = 0;
	uint64_t limit;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (np == 4 || !parse_ipv4_part(s + start, i - start, &parts[np]))
			return false;
		np++;
		start = i + 1;
	}
	for (unsigned i = 0; i + 1 < np; i++)
		if (parts[i] > 255)
			return false;
	limit = (UINT64_C(1) << (8 * (5 - np))) - 1;
	if (parts[np - 1] > limit)
		return false;
	uint32_t v = parts[np - 1];
	for (unsigned i = 0; i + 1 < np; i++)
		v |= parts[i] << (8 * (3 - i));
	a[0] = (uint8_t)(v >> 24);
	a[1] = (uint8_t)(v >> 16);
	a[2] = (uint8_t)(v >> 8);
	a[3] = (uint8_t)v;
	return true;
}

/* Copies s[0, min(n, 16)) to b[0, 16), zero-padded, with fixed-size moves: a block the fast
 * paths may then read whole without looking at n. */
static HOT_INLINE void copy_block(char *b, const char *s, size_t n)
{
	if (n >= 16) {
		memcpy(b, s, 16);
		return;
	}
	memset(b, 0, 16);
	if (n >= 8) {
		memcpy(b, s, 8);
		memcpy(b + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(b, s, 4);
		memcpy(b + n - 4, s + n - 4, 4);
	} else {
		for (size_t k = 0; k < n; k++)
			b[k] = s[k];
	}
}

/* The common spelling, read without the general parser: a dotted quad of decimal parts of
 * 0..255 without leading zeros (RFC 3986 dec-octet), at the start of s and ending at its end or
 * at the byte term. The first 16 bytes of s are copied to o (zero-padded), where the parser reads
 * them and where the quad then is its own canonical text. Returns the length of the quad, or 0 when
 * s does not start with one. The same syntax is the dotted tail of an IPv6 literal. */
static HOT_INLINE size_t dotted_quad(const char *s, size_t n, unsigned char term, char o[16],
                                     uint8_t a[4])
{
	const unsigned char *q = (const unsigned char *)o;
	size_t i = 0;
	if (n < 7)
		return 0;
	copy_block(o, s, n);
	/* A part (1..3 bytes) and its '.' lie within q[4k, 4k + 4), so every read is in o. */
#pragma GCC unroll 4
	for (unsigned k = 0; k < 4; k++) {
		unsigned v = q[i] - (unsigned)'0', d;
		if (v > 9)
			return 0;
		if ((d = q[i + 1] - (unsigned)'0') > 9) {
			i += 1;
		} else if (v == 0) {
			return 0; /* a leading zero */
		} else if (v = v * 10 + d, (d = q[i + 2] - (unsigned)'0') > 9) {
			i += 2;
		} else if ((v = v * 10 + d) > 255) {
			return 0;
		} else {
			i += 3;
		}
		a[k] = (uint8_t)v;
		if (k < 3 && q[i++] != '.')
			return 0;
	}
	/* The padding stops the parse at n, so i < n means a byte of s follows. */
	return i == n || q[i] == term ? i : 0;
}

/* Dotted quad, written by hand: glibc's inet_ntop goes through sprintf and would dominate the
 * cost of an IPv4 host. Returns the length; the text is NUL-terminated. */
static size_t format_ipv4(const uint8_t a[4], char *buf)
{
	size_t n = 0;
	for (unsigned i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (i > 0)
			buf[n++] = '.';
		if (v >= 100)
			buf[n++] = (char)('0' + v / 100);
		if (v >= 10)
			buf[n++] = (char)('0' + v / 10 % 10);
		buf[n++] = (char)('0' + v % 10);
	}
	buf[n] = '\0';
	return n;
}

/* Sets out to the IPv4 address a, whose canonical text of len bytes is already in out->name
 * (len 0: write it). */
static HOT_INLINE int set_ipv4(struct pc_host *out, const uint8_t a[4], size_t len)
{
	struct sockaddr_in *sin = &out->addr.in;
	memset(&out->addr, 0, sizeof(out->addr));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, a, 4);
	out->zone[0] = '\0';
	if (len == 0)
		len = format_ipv4(a, out->name);
	out->name[len] = '\0';
	out->len = len;
	out->kind = PC_HOST_IPV4;
	return 0;
}

/* --- IPv6 ------------------------------------------------------------------------------- */

/* Hex digit values plus one; 0 for any other byte. */
/* clang-format off */
static const uint8_t hex_digit[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};
/* clang-format on */

/* Longest literal text: the address and "%25" with a 15-byte zone. */
#define IPV6_LITERAL_MAX (IPV6_TEXT_MAX + 3 + ZONE_MAX)

/* RFC 4291 §2.2 text into eight groups: 1..4 hex digits per group, at most one "::" standing
 * for at least one zero group, an optional dotted quad (dec-octets) in place of the last two
 * groups, nothing else. The address is q[0, n) or ends at a '%' before n; q[n] must be readable
 * and neither a hex digit, ':' nor '.', so that every read below stops there at the latest.
 * The groups go to w[0, 8); w must have room for 16 and be zeroed. Returns the length of the
 * address text, or 0 when it is not one. This is the only IPv6 parser; the fuzz harness holds
 * it to inet_pton. */
static size_t parse_ipv6(const unsigned char *q, size_t n, uint16_t w[16])
{
	unsigned ng = 0, at = 0; /* groups read; where the next one goes */
	int gap = -1;            /* group index of "::" */
	size_t i = 0;
	if (q[0] == ':') {
		if (q[1] != ':')
			return 0;
		gap = 0;
		i = 2;
		at = 8;
	}
	/* Groups after "::" go to w[8, 16) and are moved up to end at w[7] when all are read.
	 * A leading "::" may be all there is. */
	for (bool more = gap < 0 || hex_digit[q[i]] != 0; more;) {
		size_t start = i;
		unsigned v, d;
		if ((d = hex_digit[q[i]]) == 0)
			return 0;
		v = d - 1;
		if ((d = hex_digit[q[++i]]) != 0) {
			v = v << 4 | (d - 1);
			if ((d = hex_digit[q[++i]]) != 0) {
				v = v << 4 | (d - 1);
				if ((d = hex_digit[q[++i]]) != 0) {
					v = v << 4 | (d - 1);
					i++;
				}
			}
		}
		if (q[i] == '.') {
			char text[16];
			uint8_t a[4];
			size_t len;
			if (ng > 6 || (len = dotted_quad((const char *)q + start, n - start, '%',
			                                 text, a)) == 0)
				return 0;
			w[at] = (uint16_t)(a[0] << 8 | a[1]);
			w[at + 1] = (uint16_t)(a[2] << 8 | a[3]);
			ng += 2;
			i = start + len;
			break;
		}
		if (ng == 8)
			return 0;
		w[at++] = (uint16_t)v;
		ng++;
		if (q[i] != ':')
			break;
		if (q[++i] == ':') {
			if (gap >= 0)
				return 0;
			gap = (int)ng;
			at = 8;
			if (hex_digit[q[++i]] == 0)
				break;
		}
	}
	if (i != n && q[i] != '%')
		return 0;
	if (gap < 0 ? ng != 8 : ng == 8) /* "::" stands for at least one group */
		return 0;
	if (gap >= 0)
		memmove(w + 8 - (ng - (unsigned)gap), w + 8, 8 * sizeof(*w));
	return i;
}

/* The address bytes of the groups w[0, 8) into a; returns a mask of the groups that are 0. */
static unsigned group_bytes(const uint16_t w[8], uint8_t a[16])
{
#if defined(__SSE2__)
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)w);
	_mm_storeu_si128((__m128i *)(void *)a,
	                 _mm_or_si128(_mm_slli_epi16(x, 8), _mm_srli_epi16(x, 8)));
	x = _mm_cmpeq_epi16(x, _mm_setzero_si128());
	return (unsigned)_mm_movemask_epi8(_mm_packs_epi16(x, x)) & 0xffu;
#else
	unsigned zero = 0;
	for (unsigned k = 0; k < 8; k++) {
		a[2 * k] = (uint8_t)(w[k] >> 8);
		a[2 * k + 1] = (uint8_t)w[k];
		zero |= (unsigned)(w[k] == 0) << k;
	}
	return zero;
#endif
}

static char *put_hex(char *p, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	if (v >= 0x1000)
		*p++ = digits[v >> 12];
	if (v >= 0x100)
		*p++ = digits[v >> 8 & 0xf];
	if (v >= 0x10)
		*p++ = digits[v >> 4 & 0xf];
	*p++ = digits[v & 0xf];
	return p;
}

/* RFC 5952 text as glibc's inet_ntop writes it (the canonical text is what it always was):
 * lowercase hex without leading zeros, the first longest run of two or more zero groups as
 * "::", and a dotted tail for ::/96 with a nonzero seventh group and for ::ffff:0:0/96. The
 * fuzz harness holds it to inet_ntop. Returns the length; the text is NUL-terminated. */
static size_t format_ipv6(const uint16_t w[8], unsigned zero, const uint8_t a[16], char *buf)
{
	unsigned best = 8, best_len = 0, end = 8, k = 0;
	bool colon = false; /* a ':' is due before the next group */
	char *p = buf;
	/* Bit k of run is set while a run of best_len + 1 zero groups starts at k: the lowest
	 * bit of the last nonzero one is the first longest run. */
	for (unsigned run = zero & zero >> 1, len = 2; run != 0; run &= run >> 1, len++) {
		best = (unsigned)__builtin_ctz(run);
		best_len = len;
	}
	if (best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
		end = 6; /* the last 32 bits as a dotted quad */
	for (k = 0; k < end;) {
		if (k == best) {
			*p++ = ':';
			*p++ = ':';
			k += best_len;
			colon = false;
			continue;
		}
		if (colon)
			*p++ = ':';
		p = put_hex(p, w[k++]);
		colon = true;
	}
	if (end == 6) {
		if (colon)
			*p++ = ':';
		return (size_t)(p - buf) + format_ipv4(a + 12, p);
	}
	*p = '\0';
	return (size_t)(p - buf);
}

/* Zone text (already percent-decoded): 1..15 unreserved bytes. A numeric zone is the
 * interface index itself and is stored in canonical decimal; a named one is looked up, and an
 * unknown interface leaves scope id 0 (the literal stays valid). */
static bool parse_zone(const char *s, size_t n, struct pc_host *out)
{
	bool numeric = true;
	uint64_t v = 0;
	if (n == 0 || n > ZONE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_class(c, C_ZONE))
			return false;
		if (!is_class(c, C_DIGIT))
			numeric = false;
		else if (numeric && (v = v * 10 + (c - '0')) > UINT32_MAX)
			return false;
	}
	if (numeric) {
		/* Index 0 is "no interface": a zone that names none is refused. */
		if (v == 0)
			return false;
		out->addr.in6.sin6_scope_id = (uint32_t)v;
		format_decimal((uint32_t)v, out->zone);
		return true;
	}
	memcpy(out->zone, s, n);
	out->zone[n] = '\0';
	out->addr.in6.sin6_scope_id = if_nametoindex(out->zone);
	return true;
}

/* s: the literal without brackets, "addr" or "addr%25zone" (RFC 6874). s[n] must be readable
 * and no hex digit, ':' or '.' (the closing bracket; host_ipv6_copy adds a NUL). */
static int host_ipv6(const char *s, size_t n, struct pc_host *out)
{
	struct sockaddr_in6 *sin6 = &out->addr.in6;
	uint8_t *a = sin6->sin6_addr.s6_addr;
	uint16_t w[16] = {0};
	unsigned zero;
	size_t alen, len;
	if ((alen = parse_ipv6((const unsigned char *)s, n, w)) == 0)
		return PC_EHOST;
	memset(&out->addr, 0, sizeof(out->addr));
	sin6->sin6_family = AF_INET6;
	zero = group_bytes(w, a);
	out->zone[0] = '\0';
	if (alen < n) {
		/* Only a link-local unicast address has a zone to name; "%" must be the URL
		 * escape "%25", never a bare '%' (RFC 6874). */
		bool link_local = (w[0] & 0xffc0) == 0xfe80;
		if (!link_local || n - alen < 3 || memcmp(s + alen, "%25", 3) != 0)
			return PC_EHOST;
		if (!parse_zone(s + alen + 3, n - alen - 3, out))
			return PC_EHOST;
	}
	len = format_ipv6(w, zero, a, out->name);
	if (out->zone[0] != '\0') {
		size_t zlen = strlen(out->zone);
		out->name[len++] = '%';
		memcpy(out->name + len, out->zone, zlen + 1);
		len += zlen;
	}
	out->kind = PC_HOST_IPV6;
	out->len = len;
	return 0;
}

/* host_ipv6 on a literal that is not followed by a closing bracket. */
static int host_ipv6_copy(const char *s, size_t n, struct pc_host *out)
{
	char text[IPV6_LITERAL_MAX + 1];
	/* Longer text has an address or a zone too long to be one. */
	if (n > IPV6_LITERAL_MAX)
		return PC_EHOST;
	memcpy(text, s, n);
	text[n] = '\0';
	return host_ipv6(text, n, out);
}

/* --- names -------------------------------------------------------------------------------- */

/* What the ASCII pass found besides bytes and label lengths. */
enum {
	MARK_GLOB = 1u << 0,   /* a glob character */
	MARK_ALABEL = 1u << 1, /* a label starting with "xn--" */
};

/* The result of the ASCII pass over one host. */
struct name_scan {
	size_t len;     /* bytes of the name in out->name, trailing dots excluded */
	size_t last;    /* start of its last label */
	size_t stop;    /* where the pass stopped: at a ':', or at the end of its input */
	unsigned marks; /* MARK_* */
};

/* A label holding a glob character; rules below apply to it. */
static bool label_has_glob(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_class((unsigned char)s[i], C_GLOB))
			return true;
	return false;
}

/* A label that can only be part of an address spelling: numeric, or made of digits and glob
 * characters, or "0x" followed by hex digits and glob characters. */
static bool label_is_address_like(const char *s, size_t n)
{
	unsigned cls = C_DIGIT | C_GLOB;
	if (label_is_numeric(s, n))
		return true;
	if (has_prefix(s, n, "0x", 2)) {
		s += 2;
		n -= 2;
		cls = C_HEX | C_GLOB;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_class((unsigned char)s[i], cls))
			return false;
	return n > 0;
}

/* A pattern holding a glob is a name pattern; it must not spell an address range ("10.*",
 * "169.254.*": address ranges are CIDR), nor end in a numeric label (no name can), nor put a
 * glob inside an A-label (it would match encoded Unicode loosely). */
static bool glob_name_ok(const char *s, size_t n)
{
	bool all_address_like = true, digit = false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n) {
			if (is_class((unsigned char)s[i], C_DIGIT))
				digit = true;
			if (s[i] != '.')
				continue;
		}
		if (has_prefix(s + start, i - start, "xn--", 4) &&
		    label_has_glob(s + start, i - start))
			return false;
		if (!label_is_address_like(s + start, i - start))
			all_address_like = false;
		if (i == n && label_is_numeric(s + start, i - start))
			return false;
		start = i + 1;
	}
	return !(all_address_like && digit);
}

/* Runs libidn2 (UTS #46 non-transitional, then transitional) on a NUL-terminated name.
 * Returns the malloc'd ASCII result, or NULL. */
static char *idna_lookup(const char *name)
{
	uint8_t *res = NULL;
	if (idn2_lookup_u8((const uint8_t *)name, &res, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) ==
	    IDN2_OK)
		return (char *)res;
	res = NULL;
	if (idn2_lookup_u8((const uint8_t *)name, &res, IDN2_NFC_INPUT | IDN2_TRANSITIONAL) ==
	    IDN2_OK)
		return (char *)res;
	return NULL;
}

/* An ASCII name with "xn--" labels is valid only if libidn2 accepts it and gives it back
 * unchanged: libidn2 decodes every A-label and re-encodes it (the A-label round trip), which
 * refuses invalid punycode, disallowed code points and non-canonical encodings. */
static bool alabels_ok(const char *name)
{
	char *res = idna_lookup(name);
	bool ok = res && strcmp(res, name) == 0;
	idn2_free(res);
	return ok;
}

/* Closes the label name[start, end): 1..63 bytes, marked when it is an A-label. */
static bool close_label(const char *name, size_t start, size_t end, unsigned *marks)
{
	size_t len = end - start;
	if (len - 1 >= LABEL_MAX) /* 0, or more than 63 */
		return false;
	if (name[start] == 'x' && len >= 4 && memcmp(name + start, "xn--", 4) == 0)
		*marks |= MARK_ALABEL;
	return true;
}

static HOT_INLINE int set_name(struct pc_host *out, size_t n)
{
	out->name[n] = '\0';
	memset(&out->addr, 0, sizeof(out->addr));
	out->zone[0] = '\0';
	out->kind = PC_HOST_NAME;
	out->len = n;
	return 0;
}

/* Finishes a name the ASCII pass accepted (lowercased into out->name): glob rules, the
 * numeric-last-label rule (which makes it an IPv4 address or nothing), and the A-label check. */
static int classify_name(struct pc_host *out, const struct name_scan *r, unsigned flags)
{
	char *name = out->name;
	size_t n = r->len;
	name[n] = '\0';
	if (r->marks & MARK_GLOB) {
		if (!glob_name_ok(name, n))
			return PC_EHOST;
	} else if (label_is_numeric(name + r->last, n - r->last)) {
		uint8_t a[4];
		if (!parse_ipv4(name, n, a))
			return PC_EHOST;
		return set_ipv4(out, a, 0);
	}
	if ((r->marks & MARK_ALABEL) && !(flags & FROM_IDNA) && !alabels_ok(name))
		return PC_EHOST;
	return set_name(out, n);
}

/* classify_name, with the answer for the common name (no glob, no A-label, a last label that
 * does not start with a digit) given at once. */
static HOT_INLINE int finish_name(struct pc_host *out, const struct name_scan *r, unsigned flags)
{
	if (r->marks == 0 && !is_class((unsigned char)out->name[r->last], C_DIGIT))
		return set_name(out, r->len);
	return classify_name(out, r, flags);
}

/* The ASCII pass over a whole host s[0, n) (no ':' expected: it is refused here): validates,
 * lowercases into out->name, measures labels and classifies. Returns NEEDS_IDNA at the first
 * non-ASCII byte (unless the input already is libidn2's output) if no refusal came first. */
static int name_ascii(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	struct name_scan r = {0, 0, 0, 0};
	size_t label = 0;
	while (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return PC_EHOST;
	if (n > PC_HOST_NAME_MAX) {
		/* Too long as ASCII; IDNA could still shorten a Unicode name. */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] >= 0x80 && !(flags & FROM_IDNA))
				return NEEDS_IDNA;
		return PC_EHOST;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned m = name_byte(c);
		if (c == '.') {
			if (!close_label(out->name, label, i, &r.marks))
				return PC_EHOST;
			label = i + 1;
			m = c;
		} else if (m == 0) {
			if (!(flags & PC_HOST_GLOB) || !is_class(c, C_GLOB))
				return c >= 0x80 && !(flags & FROM_IDNA) ? NEEDS_IDNA : PC_EHOST;
			r.marks |= MARK_GLOB;
			m = c;
		}
		out->name[i] = (char)m;
	}
	if (!close_label(out->name, label, n, &r.marks))
		return PC_EHOST;
	r.len = n;
	r.last = label;
	return classify_name(out, &r, flags);
}

#if defined(__SSE2__)
/* The 16 bytes x: lowercased into o[0, 16); returns the mask of label bytes (letters, digits,
 * '-', '_') and dots, with the dots in *dots (bit k for byte k). */
static HOT_INLINE unsigned classify16(__m128i x, char *o, unsigned *dots)
{
	/* x | 0x20 is a lowercase letter exactly when x is a letter. A range is one signed
	 * compare once its low end is moved to -128 (bytes >= 0x80 wrap to above it). */
	__m128i lx = _mm_or_si128(x, _mm_set1_epi8(0x20));
	__m128i letter = _mm_cmplt_epi8(_mm_add_epi8(lx, _mm_set1_epi8((char)(0x80 - 'a'))),
	                                _mm_set1_epi8((char)(0x80 + 26)));
	__m128i digit = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8((char)(0x80 - '0'))),
	                               _mm_set1_epi8((char)(0x80 + 10)));
	__m128i dash = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')),
	                            _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
	__m128i dot = _mm_cmpeq_epi8(x, _mm_set1_epi8('.'));
	_mm_storeu_si128((__m128i *)(void *)o,
	                 _mm_or_si128(x, _mm_and_si128(letter, _mm_set1_epi8(0x20))));
	*dots = (unsigned)_mm_movemask_epi8(dot);
	return (unsigned)_mm_movemask_epi8(
	        _mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(dash, dot)));
}

static HOT_INLINE __m128i load16(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}
#endif

/* Lowercases into o the label bytes (letters, digits, '-', '_') and dots at p[i, n) up to the
 * first other byte, looking at 32 bytes at most; returns how many there were, with the dots
 * among them marked in *dots (bit k for p[i + k]). With SSE2 (every x86-64) 16 bytes at a time
 * are classified at once: this is the innermost loop of the module. The vector version stores
 * whole blocks of 16 bytes, the last one ending at max(n, 16), so o must have room for
 * max(n, 16) bytes. */
static HOT_INLINE unsigned scan_window(const unsigned char *p, char *o, size_t i, size_t n,
                                       unsigned *dots)
{
#if defined(__SSE2__)
	unsigned valid, d, more, count;
	if (n - i >= 16) {
		valid = classify16(load16(p + i), o + i, &d);
		if (n - i >= 32) {
			valid |= classify16(load16(p + i + 16), o + i + 16, &more) << 16;
			d |= more << 16;
		} else if (n - i > 16) {
			/* The last bytes: the 16 that end at n, some of them seen already. */
			unsigned seen = (unsigned)(i + 32 - n);
			valid |= classify16(load16(p + n - 16), o + n - 16, &more) >> seen << 16;
			d |= more >> seen << 16;
		}
	} else if (n >= 16) {
		unsigned seen = (unsigned)(i + 16 - n);
		valid = classify16(load16(p + n - 16), o + n - 16, &d) >> seen;
		d >>= seen;
	} else {
		char buf[16];
		copy_block(buf, (const char *)p, n); /* i is 0; the padding is no label byte */
		valid = classify16(load16(buf), o, &d);
	}
	count = (unsigned)__builtin_ctzll(~(unsigned long long)valid); /* at most n - i */
	*dots = d & (unsigned)((1ull << count) - 1);
	return count;
#else
	size_t len = n - i < 32 ? n - i : 32;
	unsigned count = 0, d = 0;
	for (; count < len; count++) {
		unsigned char c = p[i + count];
		unsigned m = name_byte(c);
		if (m == 0) {
			if (c != '.')
				break;
			d |= 1u << count;
			m = c;
		}
		o[i + count] = (char)m;
	}
	*dots = d;
	return count;
#endif
}

/* The hot path for names: s[0, n) (n <= PC_HOST_NAME_MAX) holds labels of 1..63 label bytes
 * separated by single dots, maybe one trailing dot, up to its end or a ':'. Lowercases into o
 * (room for PC_HOST_NAME_MAX + 1 bytes) and fills *r in one pass. Returns false, having decided
 * nothing, at anything else (an empty or long label, a glob, another byte): name_ascii then
 * decides. */
static HOT_INLINE bool fast_name(const char *s, size_t n, char *o, struct name_scan *r)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, label = 0;
	unsigned marks = 0;
	for (;;) {
		unsigned dots, count = scan_window(p, o, i, n, &dots);
		for (; dots != 0; dots &= dots - 1) {
			size_t at = i + (unsigned)__builtin_ctz(dots);
			if (!close_label(o, label, at, &marks))
				return false;
			label = at + 1;
		}
		i += count;
		if (count < 32 || i == n)
			break;
	}
	if (i < n && p[i] != ':')
		return false;
	r->stop = i;
	if (i == label && i > 0) {
		/* One trailing dot: the name ends before it; its last label ends there too. */
		r->len = --label;
		while (label > 0 && o[label - 1] != '.')
			label--;
	} else {
		if (!close_label(o, label, i, &marks))
			return false;
		r->len = i;
	}
	r->last = label;
	r->marks = marks;
	return true;
}

/* A label holding a glob must be ASCII (the glob could not survive IDNA meaningfully). Labels
 * are split at ASCII dots only, so a Unicode dot makes its neighbours one label here: stricter,
 * never looser. */
static bool glob_labels_ascii(const char *s, size_t n)
{
	bool glob = false, unicode = false;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (glob && unicode)
				return false;
			glob = unicode = false;
		}
		glob |= is_class(c, C_GLOB);
		unicode |= c >= 0x80;
	}
	return true;
}

/* The Unicode path: every ASCII byte must already be one a name may hold; the whole name goes
 * through libidn2 once, and its output through the ASCII pass. */
static int name_idna(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	char buf[PC_HOST_INPUT_MAX + 1];
	char *res;
	int rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && c != '.' && !is_label_byte(c, flags))
			return PC_EHOST;
	}
	if ((flags & PC_HOST_GLOB) && !glob_labels_ascii(s, n))
		return PC_EHOST;
	memcpy(buf, s, n);
	buf[n] = '\0';
	res = idna_lookup(buf);
	if (!res)
		return PC_EHOST;
	rc = name_ascii(res, strlen(res), flags | FROM_IDNA, out);
	idn2_free(res);
	return rc;
}

/* The hot path of both entry points: a dotted quad, or a name fast_name takes, at the start of
 * s[0, n) (trimmed, not bracketed) and ending at n or at a ':'. Returns 0 with *stop where it
 * ended and the host in *out (unless a ':' follows and port is false: the host is then an IPv6
 * literal or nothing). Anything else, including a refusal (the ':' may yet make the whole an
 * IPv6 literal), returns PC_EHOST having decided nothing. */
static HOT_INLINE int fast_host(const char *s, size_t n, bool port, struct pc_host *out,
                                size_t *stop)
{
	struct name_scan r;
	uint8_t a[4];
	if (is_class((unsigned char)s[0], C_DIGIT) &&
	    (*stop = dotted_quad(s, n, ':', out->name, a)) != 0)
		return set_ipv4(out, a, *stop);
	if (!fast_name(s, n < PC_HOST_NAME_MAX ? n : PC_HOST_NAME_MAX, out->name, &r) ||
	    (r.stop < n && s[r.stop] != ':'))
		return PC_EHOST;
	*stop = r.stop;
	if (r.stop < n && !port)
		return 0;
	return finish_name(out, &r, 0);
}

/* The arguments are checked: s and out are not NULL, n <= PC_HOST_INPUT_MAX, flags are known. */
static HOT_INLINE int normalize(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	size_t stop;
	int rc;
	trim(&s, &n);
	if (n == 0)
		return PC_EHOST;
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return PC_EHOST;
		return host_ipv6(s + 1, n - 2, out);
	}
	/* A ':' makes the host an IPv6 literal or nothing. */
	if (fast_host(s, n, false, out, &stop) == 0)
		return stop == n ? 0 : host_ipv6_copy(s, n, out);
	if (memchr(s, ':', n))
		return host_ipv6_copy(s, n, out);
	rc = name_ascii(s, n, flags, out);
	if (rc == NEEDS_IDNA)
		rc = name_idna(s, n, flags, out);
	return rc;
}

/* A refused host leaves no half-written result behind: kind 0, empty text, no address. */
static int refuse(struct pc_host *out)
{
	if (out) {
		out->kind = 0;
		out->len = 0;
		out->name[0] = '\0';
		out->zone[0] = '\0';
		memset(&out->addr, 0, sizeof(out->addr));
	}
	return PC_EHOST;
}

/* The fast paths write out->name before they have decided, so input that lies in *out (as when
 * a host is normalised in place) is copied away first: the result is as if it did not. */
static bool overlaps(const char *in, size_t len, const struct pc_host *out)
{
	uintptr_t a = (uintptr_t)in, b = (uintptr_t)out;
	return a < b + sizeof(*out) && b < a + len;
}

static COLD int normalize_copy(const char *in, size_t len, unsigned flags, struct pc_host *out)
{
	char copy[PC_HOST_INPUT_MAX];
	memcpy(copy, in, len);
	return pc_host_normalize(copy, len, flags, out);
}

int pc_host_normalize(const char *in, size_t len, unsigned flags, struct pc_host *out)
{
	if (!in || !out || len > PC_HOST_INPUT_MAX || (flags & ~(unsigned)PC_HOST_GLOB))
		return refuse(out);
	if (overlaps(in, len, out))
		return normalize_copy(in, len, flags, out);
	return normalize(in, len, flags, out) == 0 ? 0 : refuse(out);
}

/* --- authority ---------------------------------------------------------------------------- */

/* Decimal digits only (leading zeros accepted, as curl and browsers do), 1..65535. */
static HOT_INLINE bool parse_port(const char *s, size_t n, uint16_t *port)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t v = 0;
	unsigned d;
	/* Past its leading zeros, a valid port has 1..5 digits: no overflow below. */
	while (n > 5 && *p == '0') {
		p++;
		n--;
	}
	if (n - 1 > 4)
		return false; /* empty, or too long */
#pragma GCC unroll 5
	for (size_t k = 0; k < n; k++) {
		if ((d = p[k] - (unsigned)'0') > 9)
			return false;
		v = v * 10 + d;
	}
	if (v - 1 > 65534) /* 0, or more than 65535 */
		return false;
	*port = (uint16_t)v;
	return true;
}

/* The arguments are checked: none is NULL, n <= PC_HOST_INPUT_MAX; *port is 0. */
static HOT_INLINE int authority(const char *s, size_t n, struct pc_host *host, uint16_t *port)
{
	size_t hlen;
	const char *colon;
	trim(&s, &n);
	if (n == 0)
		return PC_EHOST;
	if (s[0] == '[') {
		/* Every byte up to ']' is an IPv6 or zone byte and every byte after it a port
		 * byte, so '@' and whitespace need no separate look. */
		const char *close = memchr(s, ']', n);
		if (!close)
			return PC_EHOST;
		hlen = (size_t)(close - s) + 1;
		if (hlen < n && (s[hlen] != ':' || !parse_port(s + hlen + 1, n - hlen - 1, port)))
			return PC_EHOST;
		return host_ipv6(s + 1, hlen - 2, host);
	}
	if (fast_host(s, n, true, host, &hlen) == 0 &&
	    (hlen == n || parse_port(s + hlen + 1, n - hlen - 1, port)))
		return 0;
	/* The general path, which decides as if the fast path did not exist. */
	for (size_t i = 0; i < n; i++)
		if (s[i] == '@' || is_class((unsigned char)s[i], C_SPACE))
			return PC_EHOST;
	colon = memchr(s, ':', n);
	if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
		return pc_host_normalize(s, n, 0, host); /* IPv6 without port, or nothing */
	hlen = colon ? (size_t)(colon - s) : n;
	if (hlen == 0)
		return PC_EHOST;
	if (hlen < n && !parse_port(s + hlen + 1, n - hlen - 1, port))
		return PC_EHOST;
	return pc_host_normalize(s, hlen, 0, host);
}

static COLD int authority_copy(const char *in, size_t len, struct pc_host *host, uint16_t *port)
{
	char copy[PC_HOST_INPUT_MAX];
	memcpy(copy, in, len);
	return pc_authority_parse(copy, len, host, port);
}

int pc_authority_parse(const char *in, size_t len, struct pc_host *host, uint16_t *port)
{
	if (!in || !host || !port || len > PC_HOST_INPUT_MAX) {
		if (port)
			*port = 0;
		return refuse(host);
	}
	*port = 0;
	if (overlaps(in, len, host))
		return authority_copy(in, len, host, port);
	if (authority(in, len, host, port) == 0)
		return 0;
	*port = 0;
	return refuse(host);
}

bool pc_host_is_localhost(const struct pc_host *h)
{
	static const char suffix[] = ".localhost";
	const size_t slen = sizeof(suffix) - 1;
	if (!h || h->kind != PC_HOST_NAME)
		return false;
	if (h->len == slen - 1)
		return memcmp(h->name, suffix + 1, slen - 1) == 0;
	return h->len > slen && memcmp(h->name + h->len - slen, suffix, slen) == 0;
}
