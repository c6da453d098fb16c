/* Request-targets (RFC 9112 §3.2) and authorities (RFC 3986 §3.2), split strictly.
 *
 * Nothing here allocates or decodes: the results are slices of the caller's text. The host text
 * is only split and checked for its character set; pc_authority_parse (policy/host.h) is what
 * turns it into a host. */
#ifndef PC_HTTP_TARGET_H
#define PC_HTTP_TARGET_H

#include <stdint.h>

#include "http/parse.h"

enum pc_http_target_form {
	PC_HTTP_TARGET_ORIGIN = 1, /* "/path?query" */
	PC_HTTP_TARGET_ABSOLUTE,   /* "http://authority/path?query" */
	PC_HTTP_TARGET_AUTHORITY,  /* "host:port", CONNECT only */
	PC_HTTP_TARGET_ASTERISK,   /* "*", OPTIONS only */
};

enum pc_http_scheme {
	PC_HTTP_SCHEME_NONE = 0, /* origin, authority and asterisk forms */
	PC_HTTP_SCHEME_HTTP,
	PC_HTTP_SCHEME_HTTPS,
	PC_HTTP_SCHEME_WS,
	PC_HTTP_SCHEME_WSS,
};

struct pc_http_target {
	enum pc_http_target_form form;
	enum pc_http_scheme scheme;
	/* Absolute and authority forms: the whole authority, its host (an IPv6 literal keeps its
	 * brackets) and its port (0 when the authority has none). Absent for the other forms. */
	struct pc_http_slice authority;
	struct pc_http_slice host;
	uint16_t port;
	/* Origin and absolute forms: the path, never empty ("/" as static text when the absolute
	 * URI has none; "*" for OPTIONS to an absolute URI without path or query, RFC 9112 §3.2.4),
	 * and the query including its "?" (absent when there is none). The origin-form to send
	 * upstream is path followed by query. Asterisk form: path is "*". */
	struct pc_http_slice path;
	struct pc_http_slice query;
};

/* Parses a request-target of len bytes for a request with the given method: authority-form
 * for CONNECT (and only there), asterisk-form for OPTIONS (only there), else origin-form or
 * absolute-form with scheme http, https, ws or wss (any case). Refused with 400: other schemes,
 * userinfo, fragments, an empty host, an empty, zero or out-of-range port, a missing port in
 * authority-form, '%' in the authority except a "%25" zone id inside brackets, bad
 * percent-encoding, backslashes and any byte outside RFC 3986 path and query characters.
 * Returns 0, or PC_EPARSE with *err set (err may be NULL). */
int pc_http_target_parse(const char *s, size_t len, enum pc_http_method method,
                         struct pc_http_target *out, struct pc_http_error *err);

/* Flags for pc_http_authority_split. */
enum {
	PC_HTTP_AUTHORITY_PORT_REQUIRED = 1u << 0, /* "host:port" only */
	PC_HTTP_AUTHORITY_EMPTY_OK = 1u << 1,      /* "" is accepted (a Host field may be empty) */
};

/* Splits an authority "host", "host:port", "[v6]" or "[v6]:port" (no userinfo) into its host
 * (brackets kept) and port (0 when none). The host is a reg-name of RFC 3986 unreserved and
 * sub-delims characters (no '%'), or an IPv6 literal of hex digits, ':' and '.', optionally
 * with an RFC 6874 zone "%25zone"; IPvFuture is refused. Returns 0, or PC_EPARSE with *reason
 * set to a static string (reason may be NULL). */
int pc_http_authority_split(const char *s, size_t len, unsigned flags, struct pc_http_slice *host,
                            uint16_t *port, const char **reason);

#endif
