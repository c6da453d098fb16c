/* Host normalisation (SPEC §3 "Hosts"); the design is described in docs/hosts.md.
 *
 * Three paths, chosen by the trimmed input: a bracketed or ':'-holding host is an IPv6 literal;
 * an all-ASCII host is checked, lowercased and classified in one pass over its bytes (the hot
 * path: no allocation, no libidn2 unless a label claims to be an A-label); any other host goes
 * through libidn2 once and its ASCII output is then put through the very same ASCII pass, so a
 * Unicode spelling can never reach a result the ASCII rules would refuse (fullwidth digits
 * still become an IPv4 address, a fullwidth ':' or '*' is still refused). */
#include "policy/host.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define LABEL_MAX 63
#define ZONE_MAX  (sizeof(((struct pc_host *)0)->zone) - 1)
/* Longest IPv6 address text without zone: eight groups of four hex digits with seven colons,
 * or six groups with an embedded dotted quad (45 bytes). */
#define IPV6_TEXT_MAX 45

/* Internal flag for the ASCII pass: its input is libidn2's output (no second IDNA round, and
 * A-labels need no check: libidn2 has just made them). */
#define FROM_IDNA (1u << 8)

/* Internal results of the ASCII pass besides 0 and PC_EHOST. */
enum { NEEDS_IDNA = 1 };

/* Byte classes. */
enum {
	C_NAME = 1u << 0,  /* letter, digit, '-', '_': allowed in a label */
	C_UPPER = 1u << 1, /* 'A'..'Z' */
	C_DIGIT = 1u << 2, /* '0'..'9' */
	C_HEX = 1u << 3,   /* hex digit, either case */
	C_GLOB = 1u << 4,  /* '*', '?' */
	C_SPACE = 1u << 5, /* ASCII whitespace trimmed around a host */
	C_ZONE = 1u << 6,  /* RFC 3986 unreserved: allowed in a zone id */
	C_V6 = 1u << 7,    /* hex digit, ':' or '.': allowed in IPv6 address text */
};

#define NAME_LOWER (C_NAME | C_ZONE)
#define NAME_UPPER (C_NAME | C_UPPER | C_ZONE)
#define HEX_LOWER  (C_NAME | C_HEX | C_ZONE | C_V6)
#define HEX_UPPER  (C_NAME | C_UPPER | C_HEX | C_ZONE | C_V6)
#define DEC        (C_NAME | C_DIGIT | C_HEX | C_ZONE | C_V6)

/* clang-format off */
static const uint8_t byte_class[256] = {
	['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE, ['\r'] = C_SPACE,
	[' '] = C_SPACE,
	['-'] = C_NAME | C_ZONE, ['_'] = C_NAME | C_ZONE, ['.'] = C_ZONE | C_V6, ['~'] = C_ZONE,
	[':'] = C_V6, ['*'] = C_GLOB, ['?'] = C_GLOB,
	['0'] = DEC, ['1'] = DEC, ['2'] = DEC, ['3'] = DEC, ['4'] = DEC,
	['5'] = DEC, ['6'] = DEC, ['7'] = DEC, ['8'] = DEC, ['9'] = DEC,
	['a'] = HEX_LOWER, ['b'] = HEX_LOWER, ['c'] = HEX_LOWER,
	['d'] = HEX_LOWER, ['e'] = HEX_LOWER, ['f'] = HEX_LOWER,
	['A'] = HEX_UPPER, ['B'] = HEX_UPPER, ['C'] = HEX_UPPER,
	['D'] = HEX_UPPER, ['E'] = HEX_UPPER, ['F'] = HEX_UPPER,
	['g'] = NAME_LOWER, ['h'] = NAME_LOWER, ['i'] = NAME_LOWER, ['j'] = NAME_LOWER,
	['k'] = NAME_LOWER, ['l'] = NAME_LOWER, ['m'] = NAME_LOWER, ['n'] = NAME_LOWER,
	['o'] = NAME_LOWER, ['p'] = NAME_LOWER, ['q'] = NAME_LOWER, ['r'] = NAME_LOWER,
	['s'] = NAME_LOWER, ['t'] = NAME_LOWER, ['u'] = NAME_LOWER, ['v'] = NAME_LOWER,
	['w'] = NAME_LOWER, ['x'] = NAME_LOWER, ['y'] = NAME_LOWER, ['z'] = NAME_LOWER,
	['G'] = NAME_UPPER, ['H'] = NAME_UPPER, ['I'] = NAME_UPPER, ['J'] = NAME_UPPER,
	['K'] = NAME_UPPER, ['L'] = NAME_UPPER, ['M'] = NAME_UPPER, ['N'] = NAME_UPPER,
	['O'] = NAME_UPPER, ['P'] = NAME_UPPER, ['Q'] = NAME_UPPER, ['R'] = NAME_UPPER,
	['S'] = NAME_UPPER, ['T'] = NAME_UPPER, ['U'] = NAME_UPPER, ['V'] = NAME_UPPER,
	['W'] = NAME_UPPER, ['X'] = NAME_UPPER, ['Y'] = NAME_UPPER, ['Z'] = NAME_UPPER,
};
/* clang-format on */

static bool is_class(unsigned char c, unsigned cls)
{
	return (byte_class[c] & cls) != 0;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t plen)
{
	return n >= plen && memcmp(s, prefix, plen) == 0;
}

/* Trims ASCII whitespace around [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	const char *p = *s;
	size_t len = *n;
	while (len > 0 && is_class((unsigned char)p[0], C_SPACE)) {
		p++;
		len--;
	}
	while (len > 0 && is_class((unsigned char)p[len - 1], C_SPACE))
		len--;
	*s = p;
	*n = len;
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
		d = (unsigned)hex_value(c);
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

/* Dotted quad, written by hand: glibc's inet_ntop goes through sprintf and would dominate the
 * cost of an IPv4 host. */
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

static int set_ipv4(struct pc_host *out, const uint8_t a[4])
{
	struct sockaddr_in *sin = &out->addr.in;
	memset(&out->addr, 0, sizeof(out->addr));
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, a, 4);
	out->zone[0] = '\0';
	out->len = format_ipv4(a, out->name);
	out->kind = PC_HOST_IPV4;
	return 0;
}

/* --- IPv6 ------------------------------------------------------------------------------- */

/* The dotted quad that may end an IPv6 literal: exactly four decimal parts of 0..255 without
 * leading zeros (RFC 3986 dec-octet; no inet_aton spellings in here). */
static bool parse_ipv6_tail(const char *s, size_t n, uint8_t out[4])
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
		if (!is_class((unsigned char)s[i], C_DIGIT) || (digits == 1 && v == 0))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (++digits > 3 || v > 255)
			return false;
	}
	return np == 4;
}

/* RFC 4291 §2.2 text: 1..4 hex digits per group, at most one "::" standing for at least one
 * zero group, an optional dotted quad in place of the last two groups. */
static bool parse_ipv6_text(const char *s, size_t n, uint8_t out[16])
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
		while (j < n && j - i < 5 && is_class((unsigned char)s[j], C_HEX))
			v = (v << 4) | (unsigned)hex_value((unsigned char)s[j++]);
		if (j < n && s[j] == '.') {
			if (nb > 12 || !parse_ipv6_tail(s + i, n - i, b + nb))
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
static bool parse_ipv6(const char *s, size_t n, uint8_t out[16])
{
	char text[IPV6_TEXT_MAX + 1];
	uint8_t check[16];
	if (n < 2 || n > IPV6_TEXT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_class((unsigned char)s[i], C_V6))
			return false;
	if (!parse_ipv6_text(s, n, out))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, check) == 1 && memcmp(check, out, 16) == 0;
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
		snprintf(out->zone, sizeof(out->zone), "%u", (unsigned)v);
		return true;
	}
	memcpy(out->zone, s, n);
	out->zone[n] = '\0';
	out->addr.in6.sin6_scope_id = if_nametoindex(out->zone);
	return true;
}

/* s: the literal without brackets, "addr" or "addr%25zone" (RFC 6874). */
static int host_ipv6(const char *s, size_t n, struct pc_host *out)
{
	struct sockaddr_in6 *sin6 = &out->addr.in6;
	const char *pct = memchr(s, '%', n);
	size_t alen = pct ? (size_t)(pct - s) : n;
	uint8_t a[16];
	size_t len;
	if (!parse_ipv6(s, alen, a))
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
		if (!parse_zone(pct + 3, n - alen - 3, out))
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
 * "169.254.*": address ranges are CIDR), nor end in a numeric label (no name can). */
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

/* Finishes an ASCII name already lowercased into out->name[0..n): glob rules, A-labels, and
 * the numeric-last-label rule. */
static int classify_name(struct pc_host *out, size_t n, size_t last_label, bool glob,
                         unsigned flags)
{
	char *name = out->name;
	bool alabel = false;
	name[n] = '\0';
	for (size_t i = 0; i < n;) {
		const char *dot = memchr(name + i, '.', n - i);
		size_t end = dot ? (size_t)(dot - name) : n;
		if (has_prefix(name + i, end - i, "xn--", 4)) {
			/* A glob inside an A-label would match encoded Unicode loosely. */
			if (glob &&
			    (memchr(name + i, '*', end - i) || memchr(name + i, '?', end - i)))
				return PC_EHOST;
			alabel = true;
		}
		i = end + 1;
	}
	if (glob) {
		if (!glob_name_ok(name, n))
			return PC_EHOST;
	} else if (label_is_numeric(name + last_label, n - last_label)) {
		uint8_t a[4];
		if (!parse_ipv4(name, n, a))
			return PC_EHOST;
		return set_ipv4(out, a);
	}
	if (alabel && !(flags & FROM_IDNA) && !alabels_ok(name))
		return PC_EHOST;
	memset(&out->addr, 0, sizeof(out->addr));
	out->zone[0] = '\0';
	out->kind = PC_HOST_NAME;
	out->len = n;
	return 0;
}

/* The ASCII pass: validates, lowercases into out->name and classifies. Returns NEEDS_IDNA at
 * the first non-ASCII byte (unless the input already is libidn2's output). */
static int name_ascii(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	unsigned allowed = C_NAME | ((flags & PC_HOST_GLOB) ? C_GLOB : 0);
	size_t label = 0;
	bool glob = false;
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
		unsigned cls = byte_class[c];
		if (c == '.') {
			if (i == label || i - label > LABEL_MAX)
				return PC_EHOST;
			label = i + 1;
		} else if (!(cls & allowed)) {
			return c >= 0x80 && !(flags & FROM_IDNA) ? NEEDS_IDNA : PC_EHOST;
		}
		glob |= (cls & C_GLOB) != 0;
		out->name[i] = (char)((cls & C_UPPER) ? c | 0x20 : c);
	}
	if (n - label > LABEL_MAX)
		return PC_EHOST;
	return classify_name(out, n, label, glob, flags);
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
	unsigned allowed = C_NAME | ((flags & PC_HOST_GLOB) ? C_GLOB : 0);
	char buf[PC_HOST_INPUT_MAX + 1];
	char *res;
	int rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80 && c != '.' && !is_class(c, allowed))
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

static int normalize(const char *s, size_t n, unsigned flags, struct pc_host *out)
{
	int rc;
	if (!s || !out || n > PC_HOST_INPUT_MAX || (flags & ~(unsigned)PC_HOST_GLOB))
		return PC_EHOST;
	trim(&s, &n);
	if (n == 0)
		return PC_EHOST;
	if (s[0] == '[') {
		if (n < 2 || s[n - 1] != ']')
			return PC_EHOST;
		return host_ipv6(s + 1, n - 2, out);
	}
	if (memchr(s, ':', n))
		return host_ipv6(s, n, out);
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

int pc_host_normalize(const char *in, size_t len, unsigned flags, struct pc_host *out)
{
	return normalize(in, len, flags, out) == 0 ? 0 : refuse(out);
}

/* --- authority ---------------------------------------------------------------------------- */

/* Decimal digits only (leading zeros accepted, as curl and browsers do), 1..65535. */
static bool parse_port(const char *s, size_t n, uint16_t *port)
{
	uint32_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_class((unsigned char)s[i], C_DIGIT))
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

static int authority(const char *s, size_t n, struct pc_host *host, uint16_t *port)
{
	size_t hlen;
	const char *colon;
	if (!s || !host || !port || n > PC_HOST_INPUT_MAX)
		return PC_EHOST;
	trim(&s, &n);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '@' || is_class((unsigned char)s[i], C_SPACE))
			return PC_EHOST;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return PC_EHOST;
		hlen = (size_t)(close - s) + 1;
	} else {
		colon = memchr(s, ':', n);
		if (colon && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
			return pc_host_normalize(s, n, 0, host); /* IPv6 without port, or nothing */
		hlen = colon ? (size_t)(colon - s) : n;
	}
	if (hlen == 0)
		return PC_EHOST;
	if (hlen < n && (s[hlen] != ':' || !parse_port(s + hlen + 1, n - hlen - 1, port)))
		return PC_EHOST;
	return pc_host_normalize(s, hlen, 0, host);
}

int pc_authority_parse(const char *in, size_t len, struct pc_host *host, uint16_t *port)
{
	if (port)
		*port = 0;
	if (authority(in, len, host, port) == 0)
		return 0;
	if (port)
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
