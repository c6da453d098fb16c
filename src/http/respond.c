#include "http/respond.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
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

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

/* An sf-string (RFC 8941) holds printable ASCII with '"' and '\' escaped. */
static void put_sf_string(struct out *o, const char *s)
{
	put(o, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			put(o, "\\%c", *s);
		else if (*s >= 0x20 && *s < 0x7f)
			put(o, "%c", *s);
	}
	put(o, "\"");
}

static int finish(struct out *o, int status, const char *content_type, const char *x_proxy_error,
                  const char *proxy_status, const char *details, unsigned flags, const char *body,
                  size_t body_len)
{
	put(o, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
	put(o, "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n",
	    content_type, body_len);
	if (x_proxy_error != NULL)
		put(o, "x-proxy-error: %s\r\n", x_proxy_error);
	put(o, "Proxy-Status: portcullis; error=%s", proxy_status);
	if (details != NULL) {
		put(o, "; details=");
		put_sf_string(o, details);
	}
	put(o, "\r\n%s\r\n", flags & PC_RESPOND_CLOSE ? "Connection: close\r\n" : "");
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

static void destination(const struct pc_block *b, char *buf, size_t size)
{
	bool v6 = strchr(b->host, ':') != NULL;
	snprintf(buf, size, "%s%s%s:%u", v6 ? "[" : "", b->host[0] ? b->host : "(none)",
	         v6 ? "]" : "", b->port);
}

int pc_http_block_response(const struct pc_block *b, bool tunnel, unsigned flags, char *buf,
                           size_t size)
{
	const struct block_row *row =
	        &block_rows[b->reason <= PC_REASON_PROXY_DISABLED ? b->reason : PC_REASON_NONE];
	const char *proxy_status = row->proxy_status;
	struct pc_decision d;
	char dest[PC_HOST_NAME_MAX + 16], message[768], body[1536];
	struct out o = {buf, size, 0, false};
	size_t body_len;

	memset(&d, 0, sizeof(d));
	d.reason = b->reason;
	d.dns = b->dns;
	if (b->reason == PC_REASON_NOT_ALLOWED_LOCAL && b->dns == PC_DNS_TIMED_OUT)
		proxy_status = "dns_timeout";
	else if (b->reason == PC_REASON_NOT_ALLOWED_LOCAL && b->dns == PC_DNS_FAILED)
		proxy_status = "dns_error";
	destination(b, dest, sizeof(dest));
	snprintf(message, sizeof(message),
	         "portcullis blocked this request to %s by network policy (%s). This is a "
	         "deliberate policy decision, not a network failure: do not try to reach this "
	         "destination another way (another proxy, a direct connection, a different address "
	         "or tool). Ask the user to change the policy if the access is needed.",
	         dest, pc_decision_summary(&d));

	if (tunnel) {
		body_len = (size_t)snprintf(body, sizeof(body), "%s\n", message);
	} else {
		json_t *j = json_object();
		const char *reason = pc_reason_name(b->reason), *source = pc_source_name(b->source);

		json_object_set_new(j, "status", json_string("blocked"));
		json_object_set_new(j, "host", json_string(b->host));
		json_object_set_new(j, "port", json_integer(b->port));
		json_object_set_new(j, "protocol", json_string(pc_protocol_name(b->protocol)));
		json_object_set_new(j, "reason", reason ? json_string(reason) : json_null());
		json_object_set_new(j, "decision", json_string(pc_verdict_name(b->decision)));
		json_object_set_new(j, "source", source ? json_string(source) : json_null());
		json_object_set_new(j, "message", json_string(message));
		body_len = json_dumpb(j, body, sizeof(body) - 1,
		                      JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
		json_decref(j);
		if (body_len == 0 || body_len >= sizeof(body) - 1)
			return -ENOSPC;
		body[body_len++] = '\n';
	}
	if (body_len >= sizeof(body))
		return -ENOSPC;
	return finish(&o, row->status, tunnel ? "text/plain; charset=utf-8" : "application/json",
	              row->x_proxy_error, proxy_status, pc_decision_summary(&d), flags, body,
	              body_len);
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
