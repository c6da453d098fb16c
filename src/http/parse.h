/* Strict HTTP/1.1 message heads (RFC 9110, RFC 9112) for a proxy that never forwards an ambiguity.
 *
 * The parsers neither allocate nor copy: the caller owns the bytes and an array of field slots,
 * and every slice returned points into the caller's buffer (or, where documented, at static
 * text). Framing (how long the body is, whether the connection persists) is derived here, once,
 * so that no caller re-implements it; anything that could be read two ways is refused.
 *
 * A head may arrive in pieces: call the parser again with the same bytes plus more (the buffer may
 * move between calls, the bytes already given must not change). It resumes where it stopped, so a
 * head costs O(its length) however it is split, and it fails as soon as a bound is exceeded.
 * See docs/http-parsing.md. Request-targets: http/target.h; chunked bodies: http/chunked.h. */
#ifndef PC_HTTP_PARSE_H
#define PC_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes of a buffer; p == NULL and len == 0 when absent. */
struct pc_http_slice {
	const char *p;
	size_t len;
};

/* Why parsing failed: the HTTP status to answer (400, 414, 417, 431, 505 for requests; 502 for
 * responses and bodies received from upstream) and a short static reason, never NULL. */
struct pc_http_error {
	int status;
	const char *reason;
};

/* Bounds on a head (SPEC §2). max_request_line: bytes of the request line (or status line)
 * without its CRLF, beyond → 414 (responses: 502). max_header_bytes: bytes of all field lines,
 * each with its CRLF (the start line and the final empty line not counted), beyond → 431.
 * max_header_fields: field lines, beyond → 431. Trailers of a chunked body obey the last two. */
struct pc_http_limits {
	size_t max_request_line;
	size_t max_header_bytes;
	size_t max_header_fields;
};

/* 8192 / 65536 / 100. */
extern const struct pc_http_limits pc_http_default_limits;

/* Empty lines (CRLF) tolerated before a request line (RFC 9112 §2.2); one more → 400. */
#define PC_HTTP_LEADING_EMPTY_LINES_MAX 4
/* Field names a Connection header may list beyond close / keep-alive / upgrade; more → 400. */
#define PC_HTTP_CONNECTION_NAMES_MAX 32
/* Largest Content-Length (and chunk size) accepted; larger → 400. */
#define PC_HTTP_LENGTH_MAX (UINT64_C(1) << 62)

enum pc_http_method {
	PC_HTTP_METHOD_OTHER = 0, /* any other token; methods are case-sensitive */
	PC_HTTP_METHOD_GET,
	PC_HTTP_METHOD_HEAD,
	PC_HTTP_METHOD_POST,
	PC_HTTP_METHOD_PUT,
	PC_HTTP_METHOD_DELETE,
	PC_HTTP_METHOD_CONNECT,
	PC_HTTP_METHOD_OPTIONS,
	PC_HTTP_METHOD_TRACE,
	PC_HTTP_METHOD_PATCH,
};

/* Field names the parser recognises (case-insensitively). */
enum pc_http_field_id {
	PC_HTTP_FIELD_OTHER = 0,
	PC_HTTP_FIELD_HOST,
	PC_HTTP_FIELD_CONTENT_LENGTH,
	PC_HTTP_FIELD_TRANSFER_ENCODING,
	PC_HTTP_FIELD_CONNECTION,
	PC_HTTP_FIELD_PROXY_CONNECTION,
	PC_HTTP_FIELD_KEEP_ALIVE,
	PC_HTTP_FIELD_TE,
	PC_HTTP_FIELD_TRAILER,
	PC_HTTP_FIELD_UPGRADE,
	PC_HTTP_FIELD_EXPECT,
	PC_HTTP_FIELD_PROXY_AUTHORIZATION,
	PC_HTTP_FIELD_PROXY_AUTHENTICATE,
};

/* pc_http_field.flags */
enum {
	/* Hop-by-hop: Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade, or
	 * a field named by a Connection header. A proxy does not forward these fields. */
	PC_HTTP_FIELD_HOP = 1u << 0,
};

/* One field line. value has surrounding whitespace removed and holds only SP, HTAB, VCHAR and
 * obs-text (never CR, LF, NUL or another control). */
struct pc_http_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	enum pc_http_field_id id;
	unsigned flags;
};

enum pc_http_body {
	PC_HTTP_BODY_NONE = 0, /* no body: the next message starts right after the head */
	PC_HTTP_BODY_LENGTH,   /* content_length bytes (possibly 0) */
	PC_HTTP_BODY_CHUNKED,  /* chunked transfer coding (http/chunked.h) */
	PC_HTTP_BODY_CLOSE,    /* responses only: the body runs until the server closes */
	PC_HTTP_BODY_TUNNEL,   /* responses only: 2xx to CONNECT or 101; bytes flow both ways */
};

/* pc_http_head.connection: tokens found in Connection headers. */
enum {
	PC_HTTP_CONN_CLOSE = 1u << 0,
	PC_HTTP_CONN_KEEP_ALIVE = 1u << 1,
	PC_HTTP_CONN_UPGRADE = 1u << 2,
};

/* Resume state of an incomplete head; private to the parser. */
struct pc_http_scan {
	size_t pos;        /* bytes examined and accepted so far */
	size_t line_start; /* offset of the line being examined */
	size_t start_line; /* offset of the start line (after tolerated empty lines) */
	size_t start_end;  /* offset of the CR ending the start line, 0 until seen */
	size_t field_bytes;
	size_t nfields;
	unsigned empty_lines;
	int failed; /* the error returned, returned again by any later call */
	/* Bytes examined over all calls: a diagnostic for tests, which check that feeding a head
	 * in pieces stays linear. */
	size_t examined;
};

/* What request and response heads share. All slices point into the buffer given to the call
 * that returned success; they are valid while those bytes are. */
struct pc_http_head {
	unsigned minor_version; /* HTTP/1.0 → 0, HTTP/1.1 → 1 */
	struct pc_http_field *fields;
	size_t nfields;
	enum pc_http_body body;
	/* The Content-Length value, 0 when absent. It is the body's length only when body is
	 * PC_HTTP_BODY_LENGTH (a response to HEAD, a 304 or a tunnel may carry one too). */
	uint64_t content_length;
	unsigned connection; /* PC_HTTP_CONN_* */
	/* Other names listed by Connection headers, as written (compare case-insensitively, or use
	 * pc_http_connection_names, or the PC_HTTP_FIELD_HOP flag of each field). */
	size_t nconnection_names;
	struct pc_http_slice connection_names[PC_HTTP_CONNECTION_NAMES_MAX];
	/* The Upgrade value when an upgrade is offered (request) or agreed (101 response):
	 * HTTP/1.1, an Upgrade field, and Connection: upgrade. Else absent. */
	struct pc_http_slice upgrade;
	/* The connection may carry another message after this one: HTTP/1.1 without
	 * Connection: close, HTTP/1.0 with Connection: keep-alive (and without close); never
	 * for close-delimited or tunnelled responses. */
	bool keep_alive;
	struct pc_http_error error; /* set when parsing fails */

	/* Set by the init functions; not to be changed while a head is being parsed. */
	struct pc_http_limits limits;
	size_t nslots;
	struct pc_http_scan scan;
};

struct pc_http_request {
	struct pc_http_head head;
	struct pc_http_slice method;
	enum pc_http_method method_id;
	struct pc_http_slice target; /* visible ASCII only; parse it with pc_http_target_parse */
	struct pc_http_slice host;   /* the Host value (may be empty), absent when none was sent */
	bool expect_continue;        /* HTTP/1.1 and Expect: 100-continue */
};

struct pc_http_response {
	struct pc_http_head head;
	enum pc_http_method request_method; /* from init: framing depends on it */
	int status;                         /* 100..599 */
	struct pc_http_slice reason;        /* may be empty */
};

/* Prepares r for one request head. slots (nslots of them, owned by the caller, which must
 * outlive r's use) receive the fields; a head with more fields than
 * min(nslots, limits->max_header_fields) is refused with 431. limits NULL means the defaults;
 * the values are copied. Call again before the next message on the same connection. */
void pc_http_request_init(struct pc_http_request *r, struct pc_http_field *slots, size_t nslots,
                          const struct pc_http_limits *limits);

/* Parses the request head at the start of buf[0..len). Returns the head's length in bytes
 * (the body or the next message starts there), PC_AGAIN when the head is incomplete and no
 * bound is exceeded yet (call again with more bytes), PC_EUNSUPPORTED for the HTTP/2
 * connection preface ("PRI * HTTP/2.0", r->head.error is 505 "HTTP/2 prior knowledge is not
 * supported"), or PC_EPARSE with r->head.error set. Refused: anything outside the RFC 9112
 * grammar (bare CR or LF, obs-fold, whitespace before a colon, controls in values, versions
 * other than HTTP/1.0 and 1.1, HTTP/0.9), ambiguous framing (two Content-Length fields, a
 * malformed one, Transfer-Encoding other than exactly one "chunked", Transfer-Encoding with
 * Content-Length or in HTTP/1.0, a body on CONNECT), zero or several Host fields in HTTP/1.1,
 * several Host fields in HTTP/1.0, an invalid Host value, an Expect other than 100-continue
 * (417), a Connection header naming Content-Length, Transfer-Encoding or Host. */
ssize_t pc_http_request_parse(struct pc_http_request *r, const char *buf, size_t len);

/* Prepares r for one response head to a request with method request_method; as
 * pc_http_request_init otherwise. A 1xx other than 101 is interim: parse the next head with a
 * fresh init. */
void pc_http_response_init(struct pc_http_response *r, struct pc_http_field *slots, size_t nslots,
                           const struct pc_http_limits *limits, enum pc_http_method request_method);

/* Parses a response head: "HTTP/1.x NNN reason" and fields under the same rules as requests;
 * every error is 502. Framing, in order: HEAD request, 1xx (101 aside), 204, 304 → none;
 * 2xx to CONNECT and 101 → tunnel; chunked; Content-Length; otherwise close-delimited. A 1xx or
 * 204 with Transfer-Encoding or a non-zero Content-Length is refused. Returns as
 * pc_http_request_parse (never PC_EUNSUPPORTED). */
ssize_t pc_http_response_parse(struct pc_http_response *r, const char *buf, size_t len);

/* True when a Connection header of h names the field name (len bytes, case-insensitive) as
 * one to remove before forwarding; "close", "keep-alive" and "upgrade" are in h->connection. */
bool pc_http_connection_names(const struct pc_http_head *h, const char *name, size_t len);

/* The longest head the limits admit (start line, leading empty lines, fields and CRLFs): a
 * buffer of this size always holds a head that can be parsed. */
size_t pc_http_head_max(const struct pc_http_limits *limits);

#endif
