/* libFuzzer harness for pc_host_normalize (both flag values) and pc_authority_parse.
 *
 * Three oracles decide, beyond "no crash":
 * - The previous implementation of both functions is kept below, renamed and static, as a
 *   reference: for every input both must return the same code and the same result (kind,
 *   length, text, address bytes with family and scope id, zone, port). It is the simple,
 *   reviewed code the fast paths of src/policy/host.c replaced; it cross-checked its IPv6
 *   parser with inet_pton and wrote IPv6 text with inet_ntop.
 * - The C library reads and writes address text: inet_pton must read every IPv6 literal we
 *   accept as the same address and every text it reads we must accept; inet_ntop must write
 *   our canonical IPv6 text for any address (including ones built from the input so that
 *   every zero-run shape occurs); inet_aton never reads a name we accept as an address, and
 *   reads an IPv4 spelling we accept as the same address; inet_pton(AF_INET) text is its own
 *   canonical form.
 * - Invariants the policy relies on: the canonical text normalises to itself (idempotence, so
 *   patterns and requests meet), it respects the length limits and the character set of its
 *   kind, the kind agrees with the address family; a host normalised in place (the input
 *   inside the output struct) comes out as if it were not. */
#include <arpa/inet.h>
#include <idn2.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "policy/host.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- reference: the previous implementation, verbatim but for the ref_/REF_ names ----------- */

#define REF_LABEL_MAX 63
#define REF_ZONE_MAX  (sizeof(((struct pc_host *)0)->zone) - 1)
/* Longest IPv6 address text without zone: eight groups of four hex digits with seven colons,
 * or six groups with an embedded dotted quad (45 bytes). */
#define REF_IPV6_TEXT_MAX 45

/* Internal flag for the ASCII pass: its input is libidn2's output (no second IDNA round, and
 * A-labels need no check: libidn2 has just made them). */
#define REF_FROM_IDNA (1u << 8)

/* Internal results of the ASCII pass besides 0 and PC_EHOST. */
enum { REF_NEEDS_IDNA = 1 };

/* Byte classes. */
enum {
	REF_C_NAME = 1u << 0,  /* letter, digit, '-', '_': allowed in a label */
	REF_C_UPPER = 1u << 1, /* 'A'..'Z' */
	REF_C_DIGIT = 1u << 2, /* '0'..'9' */
	REF_C_HEX = 1u << 3,   /* hex digit, either case */
	REF_C_GLOB = 1u << 4,  /* '*', '?' */
	REF_C_SPACE = 1u << 5, /* ASCII whitespace trimmed around a host */
	REF_C_ZONE = 1u << 6,  /* RFC 3986 unreserved: allowed in a zone id */
	REF_C_V6 = 1u << 7,    /* hex digit, ':' or '.': allowed in IPv6 address text */
};

#define REF_NAME_LOWER (REF_C_NAME | REF_C_ZONE)
#define REF_NAME_UPPER (REF_C_NAME | REF_C_UPPER | REF_C_ZONE)
#define REF_HEX_LOWER  (REF_C_NAME | REF_C_HEX | REF_C_ZONE | REF_C_V6)
#define REF_HEX_UPPER  (REF_C_NAME | REF_C_UPPER | REF_C_HEX | REF_C_ZONE | REF_C_V6)
#define REF_DEC        (REF_C_NAME | REF_C_DIGIT | REF_C_HEX | REF_C_ZONE | REF_C_V6)

/* clang-format off */
static const uint8_t ref_byte_class[256] = {
	['\t'] = REF_C_SPACE, ['\n'] = REF_C_SPACE, ['\v'] = REF_C_SPACE, ['\f'] = REF_C_SPACE, ['\r'] = REF_C_SPACE,
	[' '] = REF_C_SPACE,
	['-'] = REF_C_NAME | REF_C_ZONE, ['_'] = REF_C_NAME | REF_C_ZONE, ['.'] = REF_C_ZONE | REF_C_V6, ['~'] = REF_C_ZONE,
	[':'] = REF_C_V6, ['*'] = REF_C_GLOB, ['?'] = REF_C_GLOB,
	['0'] = REF_DEC, ['1'] = REF_DEC, ['2'] = REF_DEC, ['3'] = REF_DEC, ['4'] = REF_DEC,
	['5'] = REF_DEC, ['6'] = REF_DEC, ['7'] = REF_DEC, ['8'] = REF_DEC, ['9'] = REF_DEC,
	['a'] = REF_HEX_LOWER, ['b'] = REF_HEX_LOWER, ['c'] = REF_HEX_LOWER,
	['d'] = REF_HEX_LOWER, ['e'] = REF_HEX_LOWER, ['f'] = REF_HEX_LOWER,
	['A'] = REF_HEX_UPPER, ['B'] = REF_HEX_UPPER, ['C'] = REF_HEX_UPPER,
	['D'] = REF_HEX_UPPER, ['E'] = REF_HEX_UPPER, ['F'] = REF_HEX_UPPER,
	['g'] = REF_NAME_LOWER, ['h'] = REF_NAME_LOWER, ['i'] = REF_NAME_LOWER, ['j'] = REF_NAME_LOWER,
	['k'] = REF_NAME_LOWER, ['l'] = REF_NAME_LOWER, ['m'] = REF_NAME_LOWER, ['n'] = REF_NAME_LOWER,
	['o'] = REF_NAME_LOWER, ['p'] = REF_NAME_LOWER, ['q'] = REF_NAME_LOWER, ['r'] = REF_NAME_LOWER,
	['s'] = REF_NAME_LOWER, ['t'] = REF_NAME_LOWER, ['u'] = REF_NAME_LOWER, ['v'] = REF_NAME_LOWER,
	['w'] = REF_NAME_LOWER, ['x'] = REF_NAME_LOWER, ['y'] = REF_NAME_LOWER, ['z'] = REF_NAME_LOWER,
	['G'] = REF_NAME_UPPER, ['H'] = REF_NAME_UPPER, ['I'] = REF_NAME_UPPER, ['J'] = REF_NAME_UPPER,
	['K'] = REF_NAME_UPPER, ['L'] = REF_NAME_UPPER, ['M'] = REF_NAME_UPPER, ['N'] = REF_NAME_UPPER,
	['O'] = REF_NAME_UPPER, ['P'] = REF_NAME_UPPER, ['Q'] = REF_NAME_UPPER, ['R'] = REF_NAME_UPPER,
	['S'] = REF_NAME_UPPER, ['T'] = REF_NAME_UPPER, ['U'] = REF_NAME_UPPER, ['V'] = REF_NAME_UPPER,
	['W'] = REF_NAME_UPPER, ['X'] = REF_NAME_UPPER, ['Y'] = REF_NAME_UPPER, ['Z'] = REF_NAME_UPPER,
};
/* clang-format on */

static bool ref_is_class(unsigned char c, unsigned cls)
{
	return (ref_byte_class[c] & cls) != 0;
}

static int ref_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

static bool ref_has_prefix(const char *s, size_t n, const char *prefix, size_t plen)
{
	return n >= plen && memcmp(s, prefix, plen) == 0;
}

/* Trims ASCII whitespace around [*s, *s + *n). */
static void ref_trim(const char **s, size_t *n)
{
	const char *p = *s;
	size_t len = *n;
	while (len > 0 && ref_is_class((unsigned char)p[0], REF_C_SPACE)) {
		p++;
		len--;
	}
	while (len > 0 && ref_is_class((unsigned char)p[len - 1], REF_C_SPACE))
		len--;
	*s = p;
	*n = len;
}

/* --- IPv4 ------------------------------------------------------------------------------- */

/* A lowercase label is numeric when it is all decimal digits, or "0x" followed by hex digits
 * ("0x" alone counts: it is 0). Such a last label makes the whole host an IPv4 address or
 * nothing. */
static bool ref_label_is_numeric(const char *s, size_t n)
{
	unsigned cls = REF_C_DIGIT;
	if (n == 0)
		return false;
	if (ref_has_prefix(s, n, "0x", 2)) {
		s += 2;
		n -= 2;
		cls = REF_C_HEX;
	}
	for (size_t i = 0; i < n; i++)
		if (!ref_is_class((unsigned char)s[i], cls))
			return false;
	return true;
}

/* Parses one part of an inet_aton-style address: "0x" + hex (possibly no digits), "0" + octal,
 * or decimal. Fails on an empty part, a digit outside its base, or a value above 2^32 - 1. */
static bool ref_parse_ipv4_part(const char *s, size_t n, uint32_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	if (n == 0)
		return false;
	if (ref_has_prefix(s, n, "0x", 2)) {
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
		if (base == 16 ? !ref_is_class(c, REF_C_HEX) : !ref_is_class(c, REF_C_DIGIT))
			return false;
		d = (unsigned)ref_hex_value(c);
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
static bool ref_parse_ipv4(const char *s, size_t n, uint8_t a[4])
{
	uint32_t parts[4];
	unsigned np = 0;
	size_t start = 0;
	uint64_t limit;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (np == 4 || !ref_parse_ipv4_part(s + start, i - start, &parts[np]))
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

/* Dotted quad, written by hand: glibc's inet_ntop goes through sprintf and would dominate the
 * cost of an IPv4 host. */
static size_t ref_format_ipv4(const uint8_t a[4], char *buf)
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

static int ref_set_ipv4(struct pc_host *out, const uint8_t a[4])
{
	struct sockaddr_in *sin = &out->addr.in;
	memset(&out->addr, 0, sizeof(out->addr));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, a, 4);
	out->zone[0] = '\0';
	out->len = ref_format_ipv4(a, out->name);
	out->kind = PC_HOST_IPV4;
	return 0;
}

/* --- IPv6 ------------------------------------------------------------------------------- */

/* The dotted quad that may end an IPv6 literal: exactly four decimal parts of 0..255 without
 * leading zeros (RFC 3986 dec-octet; no inet_aton spellings in here). */
static bool ref_parse_ipv6_tail(const char *s, size_t n, uint8_t out[4])
{
	unsigned np = 0, digits = 0, v = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (digits == 0 || np == 4)
				return false;
			out[np++] = (uint8_t)v;
			digits = 0;
			v = 0;
			continue;
		}
		if (!ref_is_class((unsigned char)s[i], REF_C_DIGIT) || (digits == 1 && v == 0))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (++digits > 3 || v > 255)
			return false;
	}
	return np == 4;
}

/* RFC 4291 §2.2 text: 1..4 hex digits per group, at most one "::" standing for at least one
 * zero group, an optional dotted quad in place of the last two groups. */
static bool ref_parse_ipv6_text(const char *s, size_t n, uint8_t out[16])
{
	uint8_t b[16];
	unsigned nb = 0; /* bytes filled */
	int gap = -1;    /* byte index of "::" */
	size_t i = 0;
	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		gap = 0;
		i = 2;
	}
	while (i < n) {
		size_t j = i;
		unsigned v = 0;
		while (j < n && j - i < 5 && ref_is_class((unsigned char)s[j], REF_C_HEX))
			v = (v << 4) | (unsigned)ref_hex_value((unsigned char)s[j++]);
		if (j < n && s[j] == '.') {
			if (nb > 12 || !ref_parse_ipv6_tail(s + i, n - i, b + nb))
				return false;
			nb += 4;
			break;
		}
		if (j == i || j - i > 4 || nb == 16)
			return false;
		b[nb++] = (uint8_t)(v >> 8);
		b[nb++] = (uint8_t)v;
		if (j == n)
			break;
		if (s[j] != ':' || j + 1 == n)
			return false;
		i = j + 1;
		if (s[i] == ':') {
			if (gap >= 0)
				return false;
			gap = (int)nb;
			i++;
		}
	}
	if (gap < 0) {
		if (nb != 16)
			return false;
		memcpy(out, b, 16);
		return true;
	}
	if (nb > 14)
		return false;
	memset(out, 0, 16);
	memcpy(out, b, (size_t)gap);
	memcpy(out + 16 - (nb - (unsigned)gap), b + gap, nb - (unsigned)gap);
	return true;
}

/* Parses the address part with our own parser and again with inet_pton: both must accept and
 * agree, so neither parser's quirks alone decide what an address is. */
static bool ref_parse_ipv6(const char *s, size_t n, uint8_t out[16])
{
	char text[REF_IPV6_TEXT_MAX + 1];
	uint8_t check[16];
	if (n < 2 || n > REF_IPV6_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ref_is_class((unsigned char)s[i], REF_C_V6))
			return false;
	if (!ref_parse_ipv6_text(s, n, out))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, check) == 1 && memcmp(check, out, 16) == 0;
}

/* Zone text (already percent-decoded): 1..15 unreserved bytes. A numeric zone is the
 * interface index itself and is stored in canonical decimal; a named one is looked up, and an
 * unknown interface leaves scope id 0 (the literal stays valid). */
static bool ref_parse_zone(const char *s, size_t n, struct pc_host *out)
{
	bool numeric = true;
	uint64_t v = 0;
	if (n == 0 || n > REF_ZONE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!ref_is_class(c, REF_C_ZONE))
			return false;
		if (!ref_is_class(c, REF_C_DIGIT))
			numeric = false;
		else if (numeric && (v = v * 10 + (c - '0')) > UINT32_MAX)
			return false;
	}
	if (numeric) {
		/* Index 0 is "no interface": a zone that names none is refused. */
		if (v == 0)
			return false;
		out->addr.in6.sin6_scope_id = (uint32_t)v;
		snprintf(out->zone, sizeof(out->zone), "%u", (unsigned)v);
		return true;
	}
	memcpy(out->zone, s, n);
	out->zone[n] = '\0';
	out->addr.in6.sin6_scope_id = if_nametoindex(out->zone);
	return true;
}

/* s: the literal without brackets, "addr" or "addr%25zone" (RFC 6874). */
static int ref_host_ipv6(const char *s, size_t n, struct pc_host *out)
{
	struct sockaddr_in6 *sin6 = &out->addr.in6;
	const char *pct = memchr(s, '%', n);
	size_t alen = pct ? (size_t)(pct - s) : n;
	uint8_t a[16];
	size_t len;
	if (!ref_parse_ipv6(s, alen, a))
		return PC_EHOST;
	memset(&out->addr, 0, sizeof(out->addr));
	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, a, 16);
	out->zone[0] = '\0';
	if (pct) {
		/* Only a link-local unicast address has a zone to name; "%" must be the URL
		 * escape "%25", never a bare '%' (RFC 6874). */
		bool link_local = a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
		if (!link_local || n - alen < 3 || memcmp(pct, "%25", 3) != 0)
			return PC_EHOST;
		if (!ref_parse_zone(pct + 3, n - alen - 3, out))
			return PC_EHOST;
	}
	if (!inet_ntop(AF_INET6, a, out->name, sizeof(out->name)))
		return PC_EHOST;
	len = strlen(out->name);
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

/* --- names -------------------------------------------------------------------------------- */

/* A label that can only be part of an address spelling: numeric, or made of digits and glob
 * characters, or "0x" followed by hex digits and glob characters. */
static bool ref_label_is_address_like(const char *s, size_t n)
{
	unsigned cls = REF_C_DIGIT | REF_C_GLOB;
	if (ref_label_is_numeric(s, n))
		return true;
	if (ref_has_prefix(s, n, "0x", 2)) {
		s += 2;
		n -= 2;
		cls = REF_C_HEX | REF_C_GLOB;
	}
	for (size_t i = 0; i < n; i++)
		if (!ref_is_class((unsigned char)s[i], cls))
			return false;
	return n > 0;
}

/* A pattern holding a glob is a name pattern; it must not spell an address range ("10.*",
 * "169.254.*": address ranges are CIDR), nor end in a numeric label (no name can). */
static bool ref_glob_name_ok(const char *s, size_t n)
{
	bool all_address_like = true, digit = false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n) {
			if (ref_is_class((unsigned char)s[i], REF_C_DIGIT))
				digit = true;
			if (s[i] != '.')
				continue;
		}
		if (!ref_label_is_address_like(s + start, i - start))
			all_address_like = false;
		if (i == n && ref_label_is_numeric(s + start, i - start))
			return false;
		start = i + 1;
	}
	return !(all_address_like && digit);
}

/* Runs libidn2 (UTS #46 non-transitional, then transitional) on a NUL-terminated name.
 * Returns the malloc'd ASCII result, or NULL. */
static char *ref_idna_lookup(const char *name)
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
static bool ref_alabels_ok(const char *name)
{
	char *res = ref_idna_lookup(name);
	bool ok = res && strcmp(res, name) == 0;
	idn2_free(res);
	return ok;
}

/* Finishes an ASCII name already lowercased into out->name[0..n): glob rules, A-labels, and
 * the numeric-last-label rule. */
static int ref_classify_name(struct pc_host *out, size_t n, size_t last_label, bool glob,
                             unsigned flags)
{
	char *name = out->name;
	bool alabel = false;
	name[n] = '\0';
	for (size_t i = 0; i < n;) {
		const char *dot = memchr(name + i, '.', n - i);
		size_t end = dot ? (size_t)(dot - name) : n;
		if (ref_has_prefix(name + i, end - i, "xn--", 4)) {
			/* A glob inside an A-label would match encoded Unicode loosely. */
			if (glob &&
			    (memchr(name + i, '*', end - i) || memchr(name + i, '?', end - i)))
				return PC_EHOST;
			alabel = true;
		}
		i = end + 1;
	}
	if (glob) {
		if (!ref_glob_name_ok(name, n))
			return PC_EHOST;
	} else if (ref_label_is_numeric(name + last_label, n - last_label)) {
		uint8_t a[4];
		if (!ref_parse_ipv4(name, n, a))
			return PC_EHOST;
		return ref_set_ipv4(out, a);
	}
	if (alabel && !(flags & REF_FROM_IDNA) && !ref_alabels_ok(name))
		return PC_EHOST;
	memset(&out->addr, 0, sizeof(out->addr));
	out->zone[0] = '\0';
	out->kind = PC_HOST_NAME;
	out->len = n;
	return 0;
}

/* The ASCII pass: validates, lowercases into out->name and classifies. Returns REF_NEEDS_IDNA at
 * the first non-ASCII byte (unless the input already is libidn2's output). */
static int ref_name_ascii(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	unsigned allowed = REF_C_NAME | ((flags & PC_HOST_GLOB) ? REF_C_GLOB : 0);
	size_t label = 0;
	bool glob = false;
	while (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return PC_EHOST;
	if (n > PC_HOST_NAME_MAX) {
		/* Too long as ASCII; IDNA could still shorten a Unicode name. */
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] >= 0x80 && !(flags & REF_FROM_IDNA))
				return REF_NEEDS_IDNA;
		return PC_EHOST;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned cls = ref_byte_class[c];
		if (c == '.') {
			if (i == label || i - label > REF_LABEL_MAX)
				return PC_EHOST;
			label = i + 1;
		} else if (!(cls & allowed)) {
			return c >= 0x80 && !(flags & REF_FROM_IDNA) ? REF_NEEDS_IDNA : PC_EHOST;
		}
		glob |= (cls & REF_C_GLOB) != 0;
		out->name[i] = (char)((cls & REF_C_UPPER) ? c | 0x20 : c);
	}
	if (n - label > REF_LABEL_MAX)
		return PC_EHOST;
	return ref_classify_name(out, n, label, glob, flags);
}

/* A label holding a glob must be ASCII (the glob could not survive IDNA meaningfully). Labels
 * are split at ASCII dots only, so a Unicode dot makes its neighbours one label here: stricter,
 * never looser. */
static bool ref_glob_labels_ascii(const char *s, size_t n)
{
	bool glob = false, unicode = false;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (glob && unicode)
				return false;
			glob = unicode = false;
		}
		glob |= ref_is_class(c, REF_C_GLOB);
		unicode |= c >= 0x80;
	}
	return true;
}

/* The Unicode path: every ASCII byte must already be one a name may hold; the whole name goes
 * through libidn2 once, and its output through the ASCII pass. */
static int ref_name_idna(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	unsigned allowed = REF_C_NAME | ((flags & PC_HOST_GLOB) ? REF_C_GLOB : 0);
	char buf[PC_HOST_INPUT_MAX + 1];
	char *res;
	int rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && c != '.' && !ref_is_class(c, allowed))
			return PC_EHOST;
	}
	if ((flags & PC_HOST_GLOB) && !ref_glob_labels_ascii(s, n))
		return PC_EHOST;
	memcpy(buf, s, n);
	buf[n] = '\0';
	res = ref_idna_lookup(buf);
	if (!res)
		return PC_EHOST;
	rc = ref_name_ascii(res, strlen(res), flags | REF_FROM_IDNA, out);
	idn2_free(res);
	return rc;
}

static int ref_normalize(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	int rc;
	if (!s || !out || n > PC_HOST_INPUT_MAX || (flags & ~(unsigned)PC_HOST_GLOB))
		return PC_EHOST;
	ref_trim(&s, &n);
	if (n == 0)
		return PC_EHOST;
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return PC_EHOST;
		return ref_host_ipv6(s + 1, n - 2, out);
	}
	if (memchr(s, ':', n))
		return ref_host_ipv6(s, n, out);
	rc = ref_name_ascii(s, n, flags, out);
	if (rc == REF_NEEDS_IDNA)
		rc = ref_name_idna(s, n, flags, out);
	return rc;
}

/* A refused host leaves no half-written result behind: kind 0, empty text, no address. */
static int ref_refuse(struct pc_host *out)
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

static int ref_host_normalize(const char *in, size_t len, unsigned flags, struct pc_host *out)
{
	return ref_normalize(in, len, flags, out) == 0 ? 0 : ref_refuse(out);
}

/* --- ref_authority ---------------------------------------------------------------------------- */

/* Decimal digits only (leading zeros accepted, as curl and browsers do), 1..65535. */
static bool ref_parse_port(const char *s, size_t n, uint16_t *port)
{
	uint32_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!ref_is_class((unsigned char)s[i], REF_C_DIGIT))
			return false;
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > 65535)
			return false;
	}
	if (v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

static int ref_authority(const char *s, size_t n, struct pc_host *host, uint16_t *port)
{
	size_t hlen;
	const char *colon;
	if (!s || !host || !port || n > PC_HOST_INPUT_MAX)
		return PC_EHOST;
	ref_trim(&s, &n);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '@' || ref_is_class((unsigned char)s[i], REF_C_SPACE))
			return PC_EHOST;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return PC_EHOST;
		hlen = (size_t)(close - s) + 1;
	} else {
		colon = memchr(s, ':', n);
		if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
			return ref_host_normalize(s, n, 0,
			                          host); /* IPv6 without port, or nothing */
		hlen = colon ? (size_t)(colon - s) : n;
	}
	if (hlen == 0)
		return PC_EHOST;
	if (hlen < n && (s[hlen] != ':' || !ref_parse_port(s + hlen + 1, n - hlen - 1, port)))
		return PC_EHOST;
	return ref_host_normalize(s, hlen, 0, host);
}

static int ref_authority_parse(const char *in, size_t len, struct pc_host *host, uint16_t *port)
{
	if (port)
		*port = 0;
	if (ref_authority(in, len, host, port) == 0)
		return 0;
	if (port)
		*port = 0;
	return ref_refuse(host);
}

/* --- checks ----------------------------------------------------------------------------------- */

/* The same code and the same result, field by field. */
static void check_same(int rc, const struct pc_host *h, int ref_rc, const struct pc_host *ref)
{
	CHECK(rc == ref_rc);
	CHECK(h->kind == ref->kind);
	CHECK(h->len == ref->len);
	CHECK(strcmp(h->name, ref->name) == 0);
	CHECK(memcmp(&h->addr, &ref->addr, sizeof(h->addr)) == 0);
	CHECK(strcmp(h->zone, ref->zone) == 0);
}

/* Output structs start out filled with a pattern, different for each call, so that no result
 * can depend on what was there before. */
static void scribble(struct pc_host *h, int pattern)
{
	memset(h, pattern, sizeof(*h));
}

static bool name_byte_ok(unsigned char c, unsigned flags)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
		return true;
	return (flags & PC_HOST_GLOB) && (c == '*' || c == '?');
}

static void check_name(const struct pc_host *h, unsigned flags)
{
	size_t label = 0;
	struct in_addr a;
	CHECK(h->addr.sa.sa_family == AF_UNSPEC);
	CHECK(h->zone[0] == '\0');
	CHECK(h->len <= PC_HOST_NAME_MAX);
	for (size_t i = 0; i <= h->len; i++) {
		if (i == h->len || h->name[i] == '.') {
			CHECK(i > label && i - label <= 63);
			label = i + 1;
			continue;
		}
		CHECK(name_byte_ok((unsigned char)h->name[i], flags));
	}
	/* A resolver must never read one of our names as an address. */
	CHECK(inet_aton(h->name, &a) == 0);
}

static void check_ipv4(const struct pc_host *h)
{
	char text[INET_ADDRSTRLEN];
	CHECK(h->addr.sa.sa_family == AF_INET);
	CHECK(h->addr.in.sin_port == 0);
	CHECK(h->zone[0] == '\0');
	CHECK(inet_ntop(AF_INET, &h->addr.in.sin_addr, text, sizeof(text)));
	CHECK(strcmp(text, h->name) == 0);
}

static void check_ipv6(const struct pc_host *h)
{
	char text[PC_HOST_NAME_MAX + 1];
	const uint8_t *a = h->addr.in6.sin6_addr.s6_addr;
	CHECK(h->addr.sa.sa_family == AF_INET6);
	CHECK(h->addr.in6.sin6_port == 0);
	CHECK(inet_ntop(AF_INET6, a, text, sizeof(text)));
	if (h->zone[0] != '\0') {
		size_t n = strlen(text);
		CHECK(a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
		CHECK(strlen(h->zone) <= 15);
		snprintf(text + n, sizeof(text) - n, "%%%s", h->zone);
	} else {
		CHECK(h->addr.in6.sin6_scope_id == 0);
	}
	CHECK(strcmp(text, h->name) == 0);
}

/* The canonical text in host syntax: a zone is written "%25". */
static void host_syntax(const struct pc_host *h, char *buf, size_t size)
{
	const char *pct = strchr(h->name, '%');
	if (pct)
		snprintf(buf, size, "%.*s%%25%s", (int)(pct - h->name), h->name, pct + 1);
	else
		snprintf(buf, size, "%s", h->name);
}

static void check_host(const struct pc_host *h, unsigned flags)
{
	char text[PC_HOST_NAME_MAX + 8];
	struct pc_host again;
	CHECK(h->len >= 1 && h->len <= PC_HOST_NAME_MAX);
	CHECK(strlen(h->name) == h->len);
	switch (h->kind) {
	case PC_HOST_NAME:
		check_name(h, flags);
		break;
	case PC_HOST_IPV4:
		check_ipv4(h);
		break;
	case PC_HOST_IPV6:
		check_ipv6(h);
		break;
	default:
		CHECK(!"unknown kind");
	}
	/* Idempotence, including the address bytes. */
	host_syntax(h, text, sizeof(text));
	CHECK(pc_host_normalize(text, strlen(text), flags, &again) == 0);
	CHECK(again.kind == h->kind);
	CHECK(strcmp(again.name, h->name) == 0);
	CHECK(memcmp(&again.addr, &h->addr, sizeof(h->addr)) == 0);
	CHECK(strcmp(again.zone, h->zone) == 0);
}

/* For a plain ASCII input we read as IPv4, inet_aton must read the same address (it may
 * refuse a bare "0x" part, which we read as 0). */
static void check_resolver_reading(const uint8_t *data, size_t size, const struct pc_host *h)
{
	char text[PC_HOST_INPUT_MAX + 1];
	struct in_addr a;
	size_t start = 0, end = size;
	if (h->kind != PC_HOST_IPV4)
		return;
	while (start < end && strchr(" \t\r\n\v\f", data[start]) && data[start] != '\0')
		start++;
	while (end > start && strchr(" \t\r\n\v\f.", data[end - 1]) && data[end - 1] != '\0')
		end--;
	for (size_t i = start; i < end; i++)
		if (data[i] >= 0x80 || data[i] == '\0')
			return;
	memcpy(text, data + start, end - start);
	text[end - start] = '\0';
	if (inet_aton(text, &a) == 1)
		CHECK(memcmp(&a, &h->addr.in.sin_addr, 4) == 0);
}

static bool all_in(const uint8_t *data, size_t size, const char *set)
{
	for (size_t i = 0; i < size; i++)
		if (data[i] == '\0' || !strchr(set, data[i]))
			return false;
	return true;
}

/* Completeness: plain address text the C library reads as an address must be read by us as
 * the same address (IPv6: any inet_pton text; IPv4: any inet_aton text within the label
 * limits, which we apply to every host). */
static void check_library_readings(const uint8_t *data, size_t size)
{
	char text[64];
	struct pc_host h;
	if (size == 0 || size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (all_in(data, size, "0123456789abcdefABCDEF:.")) {
		uint8_t a6[16];
		if (inet_pton(AF_INET6, text, a6) == 1) {
			CHECK(pc_host_normalize(text, size, 0, &h) == 0);
			CHECK(h.kind == PC_HOST_IPV6);
			CHECK(memcmp(&h.addr.in6.sin6_addr, a6, 16) == 0);
		}
	}
	if (all_in(data, size, "0123456789abcdefABCDEFxX.")) {
		struct in_addr a4;
		if (inet_aton(text, &a4) == 1) {
			CHECK(pc_host_normalize(text, size, 0, &h) == 0);
			CHECK(h.kind == PC_HOST_IPV4);
			CHECK(memcmp(&h.addr.in.sin_addr, &a4, 4) == 0);
		}
		/* A dotted quad inet_pton reads is already canonical, also with a port. */
		if (inet_pton(AF_INET, text, &a4) == 1) {
			char authority[sizeof(text) + 8];
			uint16_t port;
			CHECK(pc_host_normalize(text, size, 0, &h) == 0);
			CHECK(h.kind == PC_HOST_IPV4 && strcmp(h.name, text) == 0);
			CHECK(memcmp(&h.addr.in.sin_addr, &a4, 4) == 0);
			snprintf(authority, sizeof(authority), "%s:%zu", text, size);
			CHECK(pc_authority_parse(authority, strlen(authority), &h, &port) == 0);
			CHECK(h.kind == PC_HOST_IPV4 && strcmp(h.name, text) == 0 && port == size);
		}
	}
}

/* Every IPv6 literal we accept from host text is read by inet_pton as the same address: our
 * parser alone decides, so the C library's must agree. */
static void check_pton(const uint8_t *data, size_t size, const struct pc_host *h)
{
	char text[PC_HOST_INPUT_MAX + 1];
	uint8_t a6[16];
	size_t start = 0, end = size;
	char *pct;
	if (h->kind != PC_HOST_IPV6)
		return;
	while (start < end && data[start] != '\0' && strchr(" \t\r\n\v\f", data[start]))
		start++;
	while (end > start && data[end - 1] != '\0' && strchr(" \t\r\n\v\f", data[end - 1]))
		end--;
	if (end - start >= 2 && data[start] == '[') {
		start++;
		end--;
	}
	memcpy(text, data + start, end - start);
	text[end - start] = '\0';
	CHECK(strlen(text) == end - start);
	if ((pct = strchr(text, '%')) != NULL)
		*pct = '\0';
	CHECK(inet_pton(AF_INET6, text, a6) == 1);
	CHECK(memcmp(a6, &h->addr.in6.sin6_addr, 16) == 0);
}

/* An address built from the input (bytes 1..16; bit k of byte 0 zeroes group k, so that every
 * zero-run shape occurs) and written out in full: we must read it and write what inet_ntop
 * writes. */
static void check_ntop(const uint8_t *data, size_t size)
{
	char text[64], want[INET6_ADDRSTRLEN];
	uint8_t a6[16];
	struct pc_host h;
	size_t n = 0;
	if (size < 17)
		return;
	for (unsigned k = 0; k < 8; k++) {
		bool zero = data[0] >> k & 1;
		a6[2 * k] = zero ? 0 : data[1 + 2 * k];
		a6[2 * k + 1] = zero ? 0 : data[2 + 2 * k];
		n += (size_t)snprintf(text + n, sizeof(text) - n, k ? ":%x" : "%x",
		                      (unsigned)(a6[2 * k] << 8 | a6[2 * k + 1]));
	}
	CHECK(inet_ntop(AF_INET6, a6, want, sizeof(want)));
	CHECK(pc_host_normalize(text, n, 0, &h) == 0);
	CHECK(h.kind == PC_HOST_IPV6);
	CHECK(memcmp(&h.addr.in6.sin6_addr, a6, 16) == 0);
	CHECK(strcmp(h.name, want) == 0);
}

/* The input normalised in place: first where the text starts in the name field, then one byte
 * further in (a partial overlap). */
static void check_in_place(const uint8_t *data, size_t size, unsigned flags, int rc,
                           const struct pc_host *h)
{
	for (size_t at = 0; at < 2; at++) {
		struct pc_host same;
		if (size + at > sizeof(same.name))
			return;
		scribble(&same, 0x3c);
		memcpy(same.name + at, data, size);
		check_same(pc_host_normalize(same.name + at, size, flags, &same), &same, rc, h);
	}
}

static void check_authority_in_place(const uint8_t *data, size_t size, int rc,
                                     const struct pc_host *h, uint16_t port)
{
	struct pc_host same;
	uint16_t same_port = 7;
	if (size > sizeof(same.name))
		return;
	scribble(&same, 0x3c);
	memcpy(same.name, data, size);
	check_same(pc_authority_parse(same.name, size, &same, &same_port), &same, rc, h);
	CHECK(same_port == port);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned flag_values[] = {0, PC_HOST_GLOB};
	struct pc_host h, ref;
	uint16_t port = 1, ref_port = 2;
	int rc, ref_rc;
	for (size_t i = 0; i < 2; i++) {
		scribble(&h, 0xa5);
		scribble(&ref, 0x5a);
		rc = pc_host_normalize((const char *)data, size, flag_values[i], &h);
		ref_rc = ref_host_normalize((const char *)data, size, flag_values[i], &ref);
		check_same(rc, &h, ref_rc, &ref);
		CHECK(rc == 0 || rc == PC_EHOST);
		check_in_place(data, size, flag_values[i], rc, &h);
		if (rc == 0) {
			check_host(&h, flag_values[i]);
			check_resolver_reading(data, size, &h);
			check_pton(data, size, &h);
		} else {
			CHECK(h.kind == 0 && h.len == 0 && h.name[0] == '\0');
		}
	}
	check_library_readings(data, size);
	check_ntop(data, size);
	scribble(&h, 0xa5);
	scribble(&ref, 0x5a);
	rc = pc_authority_parse((const char *)data, size, &h, &port);
	ref_rc = ref_authority_parse((const char *)data, size, &ref, &ref_port);
	check_same(rc, &h, ref_rc, &ref);
	CHECK(port == ref_port);
	check_authority_in_place(data, size, rc, &h, port);
	if (rc == 0) {
		char text[PC_HOST_NAME_MAX + 16], host[PC_HOST_NAME_MAX + 8];
		struct pc_host again;
		uint16_t port2;
		check_host(&h, 0);
		/* The authority rebuilt from the result parses to the same host and port. */
		host_syntax(&h, host, sizeof(host));
		if (h.kind == PC_HOST_IPV6)
			snprintf(text, sizeof(text), "[%s]", host);
		else
			snprintf(text, sizeof(text), "%s", host);
		if (port != 0) {
			size_t n = strlen(text);
			snprintf(text + n, sizeof(text) - n, ":%u", port);
		}
		CHECK(pc_authority_parse(text, strlen(text), &again, &port2) == 0);
		CHECK(port2 == port);
		CHECK(strcmp(again.name, h.name) == 0);
		CHECK(memcmp(&again.addr, &h.addr, sizeof(h.addr)) == 0);
	} else {
		CHECK(port == 0 && h.kind == 0);
	}
	return 0;
}
