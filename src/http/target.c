#include "http/target.h"

#include <string.h>

#include "core/error.h"
#include "http/chars.h"

static int refuse(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return PC_EPARSE;
}

/* port = 1*5DIGIT in 1..65535 (RFC 3986 allows an empty port; nothing here does). */
static bool parse_port(const char *p, size_t n, uint16_t *port)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool is_pct_encoded(const char *p, size_t n, size_t i)
{
	return i + 2 < n && p[i] == '%' && pc_http__is((unsigned char)p[i + 1], PC_HTTP__HEX) &&
	       pc_http__is((unsigned char)p[i + 2], PC_HTTP__HEX);
}

/* The inside of "[...]": IPv6address or IPv6addrz (RFC 6874) by character set; the address
 * itself is checked by pc_authority_parse. */
static const char *ip_literal_error(const char *p, size_t n)
{
	size_t i = 0;
	if (n > 0 && (p[0] == 'v' || p[0] == 'V'))
		return "IPvFuture is not supported";
	while (i < n &&
	       (pc_http__is((unsigned char)p[i], PC_HTTP__HEX) || p[i] == ':' || p[i] == '.'))
		i++;
	if (i == 0 || !memchr(p, ':', i))
		return "invalid IPv6 literal";
	if (i == n)
		return NULL;
	if (n - i < 4 || memcmp(p + i, "%25", 3) != 0)
		return "invalid IPv6 literal";
	for (i += 3; i < n; i++) {
		if (is_pct_encoded(p, n, i))
			i += 2;
		else if (!pc_http__is((unsigned char)p[i], PC_HTTP__UNRESERVED))
			return "invalid IPv6 zone id";
	}
	return NULL;
}

int pc_http_authority_split(const char *s, size_t len, unsigned flags, struct pc_http_slice *host,
                            uint16_t *port, const char **reason)
{
	size_t hend = 0;
	*host = (struct pc_http_slice){NULL, 0};
	*port = 0;
	if (len == 0) {
		if (!(flags & PC_HTTP_AUTHORITY_EMPTY_OK))
			return refuse(reason, "empty authority");
		host->p = s;
		return 0;
	}
	if (memchr(s, '@', len))
		return refuse(reason, "userinfo in authority");
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);
		if (!rb)
			return refuse(reason, "unterminated IPv6 literal");
		hend = (size_t)(rb - s) + 1;
		const char *why = ip_literal_error(s + 1, hend - 2);
		if (why)
			return refuse(reason, why);
		if (hend < len && s[hend] != ':')
			return refuse(reason, "invalid character after IPv6 literal");
	} else {
		for (; hend < len && s[hend] != ':'; hend++) {
			unsigned char c = (unsigned char)s[hend];
			if (c == '%')
				return refuse(reason, "percent-encoding in host");
			if (!pc_http__is(c, PC_HTTP__UNRESERVED | PC_HTTP__SUBDELIM))
				return refuse(reason, "invalid character in host");
		}
		if (hend == 0)
			return refuse(reason, "empty host");
	}
	if (hend < len) {
		if (!parse_port(s + hend + 1, len - hend - 1, port))
			return refuse(reason, hend + 1 == len ? "empty port" : "invalid port");
	} else if (flags & PC_HTTP_AUTHORITY_PORT_REQUIRED) {
		return refuse(reason, "missing port");
	}
	*host = (struct pc_http_slice){s, hend};
	return 0;
}

/* path-abempty / absolute-path [ "?" query ] with RFC 3986 characters only. */
static const char *split_path_query(const char *s, size_t len, struct pc_http_target *t)
{
	size_t q = len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (pc_http__is(c, PC_HTTP__PATH))
			continue;
		if (c == '?') {
			if (q == len)
				q = i;
		} else if (c == '%') {
			if (!is_pct_encoded(s, len, i))
				return "invalid percent-encoding in request-target";
			i += 2;
		} else if (c == '#') {
			return "fragment in request-target";
		} else if (c == '\\') {
			return "backslash in request-target";
		} else {
			return "invalid character in request-target";
		}
	}
	t->path = (struct pc_http_slice){s, q};
	if (q < len)
		t->query = (struct pc_http_slice){s + q, len - q};
	return NULL;
}

static const struct {
	const char *name;
	size_t len;
	enum pc_http_scheme scheme;
} schemes[] = {
        {"http", 4, PC_HTTP_SCHEME_HTTP},
        {"https", 5, PC_HTTP_SCHEME_HTTPS},
        {"ws", 2, PC_HTTP_SCHEME_WS},
        {"wss", 3, PC_HTTP_SCHEME_WSS},
};

static const char *parse_absolute(const char *s, size_t len, enum pc_http_method method,
                                  struct pc_http_target *t)
{
	size_t i = 0;
	unsigned char c0 = pc_http__lower((unsigned char)s[0]);
	if (c0 < 'a' || c0 > 'z')
		return "invalid request-target";
	while (i < len && pc_http__is((unsigned char)s[i], PC_HTTP__SCHEME))
		i++;
	if (i == len || s[i] != ':')
		return "invalid request-target";
	for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++)
		if (pc_http__ieq(s, i, schemes[k].name, schemes[k].len))
			t->scheme = schemes[k].scheme;
	if (t->scheme == PC_HTTP_SCHEME_NONE)
		return "unsupported scheme";
	if (len - i < 3 || s[i + 1] != '/' || s[i + 2] != '/')
		return "absolute-form without authority";
	size_t a = i + 3, e = a;
	while (e < len && s[e] != '/' && s[e] != '?' && s[e] != '#')
		e++;
	const char *why;
	if (pc_http_authority_split(s + a, e - a, 0, &t->host, &t->port, &why) != 0)
		return why;
	t->authority = (struct pc_http_slice){s + a, e - a};
	why = split_path_query(s + e, len - e, t);
	if (why)
		return why;
	if (t->path.len == 0) {
		/* RFC 9112 §3.2.1 and §3.2.4: an empty path is sent as "/", or as "*" for a
		 * server-wide OPTIONS. */
		bool star = method == PC_HTTP_METHOD_OPTIONS && t->query.p == NULL;
		t->path = (struct pc_http_slice){star ? "*" : "/", 1};
	}
	return NULL;
}

int pc_http_target_parse(const char *s, size_t len, enum pc_http_method method,
                         struct pc_http_target *out, struct pc_http_error *err)
{
	const char *why = NULL;
	memset(out, 0, sizeof *out);
	if (len == 0) {
		why = "empty request-target";
	} else if (method == PC_HTTP_METHOD_CONNECT) {
		out->form = PC_HTTP_TARGET_AUTHORITY;
		if (pc_http_authority_split(s, len, PC_HTTP_AUTHORITY_PORT_REQUIRED, &out->host,
		                            &out->port, &why) == 0)
			out->authority = (struct pc_http_slice){s, len};
	} else if (len == 1 && s[0] == '*') {
		out->form = PC_HTTP_TARGET_ASTERISK;
		out->path = (struct pc_http_slice){"*", 1};
		if (method != PC_HTTP_METHOD_OPTIONS)
			why = "asterisk-form is only for OPTIONS";
	} else if (s[0] == '/') {
		out->form = PC_HTTP_TARGET_ORIGIN;
		why = split_path_query(s, len, out);
	} else {
		out->form = PC_HTTP_TARGET_ABSOLUTE;
		why = parse_absolute(s, len, method, out);
	}
	if (!why)
		return 0;
	if (err)
		*err = (struct pc_http_error){400, why};
	return PC_EPARSE;
}
