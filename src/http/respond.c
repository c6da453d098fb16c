#include "http/respond.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

struct block_row {
	int status;
	const char *x_proxy_error;
	const char *proxy_status; /* RFC 9209 error type */
};

/* SPEC §7, indexed by enum pc_reason. */
static const struct block_row block_rows[] = {
        [PC_REASON_NONE] = {403, "blocked-by-policy", "http_request_denied"},
        [PC_REASON_NOT_ALLOWED] = {403, "blocked-by-allowlist", "http_request_denied"},
        [PC_REASON_NOT_ALLOWED_LOCAL] = {403, "blocked-by-allowlist", "destination_ip_prohibited"},
        [PC_REASON_DENIED] = {403, "blocked-by-denylist", "http_request_denied"},
        [PC_REASON_METHOD_NOT_ALLOWED] = {403, "blocked-by-method-policy", "http_request_denied"},
        [PC_REASON_MITM_REQUIRED] = {403, "blocked-by-mitm-required", "http_request_denied"},
        [PC_REASON_PROXY_DISABLED] = {503, "blocked-by-policy", "proxy_internal_response"},
};

struct failure_row {
	int status;
	const char *proxy_status;
	const char *what;
};

static const struct failure_row failure_rows[] = {
        [PC_FAIL_BAD_REQUEST] = {400, "http_request_error", "malformed request"},
        [PC_FAIL_URI_TOO_LONG] = {414, "http_request_error", "request line too long"},
        [PC_FAIL_HEADERS_TOO_LARGE] = {431, "http_request_error", "request header too large"},
        [PC_FAIL_EXPECTATION] = {417, "http_request_error", "unsupported expectation"},
        [PC_FAIL_VERSION] = {505, "http_request_error", "unsupported HTTP version"},
        [PC_FAIL_REFUSED] = {502, "connection_refused", "connection refused"},
        [PC_FAIL_UNREACHABLE] = {502, "destination_unavailable", "destination unreachable"},
        [PC_FAIL_TIMEOUT] = {504, "connection_timeout", "connection timed out"},
        [PC_FAIL_DNS] = {502, "dns_error", "name resolution failed"},
        [PC_FAIL_LOOP] = {508, "proxy_loop_detected", "request addressed to the proxy itself"},
        [PC_FAIL_BAD_GATEWAY] = {502, "http_protocol_error", "invalid response from the origin"},
        [PC_FAIL_HEAD_TIMEOUT] = {408, "http_request_error", "request head not received in time"},
        [PC_FAIL_TERMINATED] = {502, "connection_terminated", "the origin closed the connection"},
        [PC_FAIL_INCOMPLETE] = {502, "http_response_incomplete",
                                "incomplete response from the origin"},
};

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 408:
		return "Request Timeout";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	case 508:
		return "Loop Detected";
	}
	return "Error";
}

/* Appends to a bounded buffer; the first overflow sticks. */
struct out {
	char *buf;
	size_t size, len;
	bool overflow;
};

/* Appends n bytes (put's bound: room for a terminating NUL must remain). No formatting on the
 * path every refused request takes. */
static void put_mem(struct out *o, const char *p, size_t n)
{
	if (o->overflow)
		return;
	if (n >= o->size - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put_mem(o, s, strlen(s));
}

static void put_uint(struct out *o, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put_mem(o, tmp + i, sizeof(tmp) - i);
}

/* An sf-string (RFC 8941) holds printable ASCII with '"' and '\' escaped. */
static void put_sf_string(struct out *o, const char *s)
{
	put_mem(o, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			put_mem(o, "\\", 1);
			put_mem(o, s, 1);
		} else if (*s >= 0x20 && *s < 0x7f) {
			put_mem(o, s, 1);
		}
	}
	put_mem(o, "\"", 1);
}

/* A JSON string as jansson writes it with JSON_ENSURE_ASCII, for ASCII text: returns false
 * (nothing appended) for a byte above 0x7f, which takes the jansson path instead. */
static bool put_json_string(struct out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return false;
	put_mem(o, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

		switch (ch) {
		case '"':
		case '\\':
			esc[1] = (char)ch;
			put_mem(o, esc, 2);
			break;
		case '\b':
			put_mem(o, "\\b", 2);
			break;
		case '\f':
			put_mem(o, "\\f", 2);
			break;
		case '\n':
			put_mem(o, "\\n", 2);
			break;
		case '\r':
			put_mem(o, "\\r", 2);
			break;
		case '\t':
			put_mem(o, "\\t", 2);
			break;
		default:
			if (ch < 0x20)
				put_mem(o, esc, 6);
			else
				put_mem(o, s, 1);
		}
	}
	put_mem(o, "\"", 1);
	return true;
}

static int finish(struct out *o, int status, const char *content_type, const char *x_proxy_error,
                  const char *proxy_status, const char *details, unsigned flags, const char *body,
                  size_t body_len)
{
	put_str(o, "HTTP/1.1 ");
	put_uint(o, (unsigned)status);
	put_str(o, " ");
	put_str(o, reason_phrase(status));
	put_str(o, "\r\nContent-Type: ");
	put_str(o, content_type);
	put_str(o, "\r\nContent-Length: ");
	put_uint(o, body_len);
	put_str(o, "\r\nCache-Control: no-store\r\n");
	if (x_proxy_error != NULL) {
		put_str(o, "x-proxy-error: ");
		put_str(o, x_proxy_error);
		put_str(o, "\r\n");
	}
	put_str(o, "Proxy-Status: portcullis; error=");
	put_str(o, proxy_status);
	if (details != NULL) {
		put_str(o, "; details=");
		put_sf_string(o, details);
	}
	put_str(o, "\r\n");
	if (flags & PC_RESPOND_CLOSE)
		put_str(o, "Connection: close\r\n");
	put_str(o, "\r\n");
	if (flags & PC_RESPOND_HEAD)
		body_len = 0; /* a response to HEAD never has a body */
	if (!o->overflow && body_len < o->size - o->len) {
		memcpy(o->buf + o->len, body, body_len);
		o->len += body_len;
	} else {
		o->overflow = true;
	}
	return o->overflow ? -ENOSPC : (int)o->len;
}

/* The message every block response carries, "dest" and "summary" filled in. */
static void put_message(struct out *o, const struct pc_block *b, const char *summary)
{
	bool v6 = strchr(b->host, ':') != NULL;

	put_str(o, "portcullis blocked this request to ");
	if (v6)
		put_str(o, "[");
	put_str(o, b->host[0] ? b->host : "(none)");
	if (v6)
		put_str(o, "]");
	put_str(o, ":");
	put_uint(o, b->port);
	put_str(o, " by network policy (");
	put_str(o, summary);
	put_str(o, "). This is a deliberate policy decision, not a network failure: do not try to "
	           "reach this destination another way (another proxy, a direct connection, a "
	           "different address or tool). Ask the user to change the policy if the access is "
	           "needed.");
}

/* The JSON body through jansson: the general path, for text that is not all ASCII. */
static size_t json_body_jansson(const struct pc_block *b, const char *message, char *body,
                                size_t size)
{
	json_t *j = json_object();
	const char *reason = pc_reason_name(b->reason), *source = pc_source_name(b->source);
	size_t n;

	json_object_set_new(j, "status", json_string("blocked"));
	json_object_set_new(j, "host", json_string(b->host));
	json_object_set_new(j, "port", json_integer(b->port));
	json_object_set_new(j, "protocol", json_string(pc_protocol_name(b->protocol)));
	json_object_set_new(j, "reason", reason ? json_string(reason) : json_null());
	json_object_set_new(j, "decision", json_string(pc_verdict_name(b->decision)));
	json_object_set_new(j, "source", source ? json_string(source) : json_null());
	json_object_set_new(j, "message", json_string(message));
	n = json_dumpb(j, body, size, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	return n;
}

/* Appends a string member ("name":"value", or null when value is NULL); false when value is
 * not ASCII. */
static bool put_json_member(struct out *o, const char *name, const char *value, bool first)
{
	put_str(o, first ? "{\"" : ",\"");
	put_str(o, name);
	put_str(o, "\":");
	if (value == NULL) {
		put_str(o, "null");
		return true;
	}
	return put_json_string(o, value);
}

/* The same bytes as json_body_jansson for ASCII text, without building a jansson object.
 * Returns the length, or 0 to take the jansson path. */
static size_t json_body_fast(const struct pc_block *b, const char *message, char *body, size_t size)
{
	struct out o = {body, size, 0, false};
	const char *protocol = pc_protocol_name(b->protocol),
	           *verdict = pc_verdict_name(b->decision);

	if (protocol == NULL || verdict == NULL)
		return 0; /* jansson would leave the member out */
	if (!put_json_member(&o, "status", "blocked", true) ||
	    !put_json_member(&o, "host", b->host, false))
		return 0;
	put_str(&o, ",\"port\":");
	put_uint(&o, b->port);
	if (!put_json_member(&o, "protocol", protocol, false) ||
	    !put_json_member(&o, "reason", pc_reason_name(b->reason), false) ||
	    !put_json_member(&o, "decision", verdict, false) ||
	    !put_json_member(&o, "source", pc_source_name(b->source), false) ||
	    !put_json_member(&o, "message", message, false))
		return 0;
	put_str(&o, "}");
	return o.overflow ? 0 : o.len;
}

int pc_http_block_response(const struct pc_block *b, bool tunnel, unsigned flags, char *buf,
                           size_t size)
{
	const struct block_row *row =
	        &block_rows[b->reason <= PC_REASON_PROXY_DISABLED ? b->reason : PC_REASON_NONE];
	const char *proxy_status = row->proxy_status, *summary;
	struct pc_decision d;
	char message[768], body[1536];
	struct out o = {buf, size, 0, false}, m = {message, sizeof(message), 0, false};
	size_t body_len;

	memset(&d, 0, sizeof(d));
	d.reason = b->reason;
	d.dns = b->dns;
	if (b->reason == PC_REASON_NOT_ALLOWED_LOCAL && b->dns == PC_DNS_TIMED_OUT)
		proxy_status = "dns_timeout";
	else if (b->reason == PC_REASON_NOT_ALLOWED_LOCAL && b->dns == PC_DNS_FAILED)
		proxy_status = "dns_error";
	summary = pc_decision_summary(&d);
	put_message(&m, b, summary);
	/* the message always fits; a cut one reads as snprintf's did */
	message[m.overflow ? sizeof(message) - 1 : m.len] = '\0';

	if (tunnel) {
		body_len = strlen(message);
		memcpy(body, message, body_len);
		body[body_len++] = '\n';
	} else {
		body_len = json_body_fast(b, message, body, sizeof(body) - 1);
		if (body_len == 0)
			body_len = json_body_jansson(b, message, body, sizeof(body) - 1);
		if (body_len == 0 || body_len >= sizeof(body) - 1)
			return -ENOSPC;
		body[body_len++] = '\n';
	}
	if (body_len >= sizeof(body))
		return -ENOSPC;
	return finish(&o, row->status, tunnel ? "text/plain; charset=utf-8" : "application/json",
	              row->x_proxy_error, proxy_status, summary, flags, body, body_len);
}

int pc_http_failure_status(enum pc_http_failure f)
{
	return failure_rows[f].status;
}

int pc_http_failure_response(enum pc_http_failure f, const char *details, unsigned flags, char *buf,
                             size_t size)
{
	const struct failure_row *row = &failure_rows[f];
	struct out o = {buf, size, 0, false};
	char body[640];
	int n;

	n = snprintf(body, sizeof(body), "portcullis: %s%s%.500s\n", row->what,
	             details != NULL ? ": " : "", details != NULL ? details : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	return finish(&o, row->status, "text/plain; charset=utf-8", NULL, row->proxy_status,
	              details, flags, body, (size_t)n);
}

enum pc_http_failure pc_http_failure_from_dial(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
		return PC_FAIL_REFUSED;
	case -ETIMEDOUT:
		return PC_FAIL_TIMEOUT;
	case PC_EDNS:
	case PC_EDNS_TIMEOUT:
		return PC_FAIL_DNS;
	default:
		return PC_FAIL_UNREACHABLE;
	}
}
