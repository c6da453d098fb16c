/* What an HTTP client sees when portcullis refuses or fails a request (SPEC §7): status,
 * x-proxy-error, Proxy-Status (RFC 9209) and body, from one table, so every front end answers
 * alike. Responses are complete (Content-Length framed) and written into a caller's buffer. */
#ifndef PC_HTTP_RESPOND_H
#define PC_HTTP_RESPOND_H

#include <stdbool.h>
#include <stddef.h>

#include "audit/audit.h"

/* Failures that are not policy decisions. */
enum pc_http_failure {
	PC_FAIL_BAD_REQUEST = 0,   /* 400 http_request_error */
	PC_FAIL_URI_TOO_LONG,      /* 414 */
	PC_FAIL_HEADERS_TOO_LARGE, /* 431 */
	PC_FAIL_EXPECTATION,       /* 417 */
	PC_FAIL_VERSION,           /* 505 */
	PC_FAIL_REFUSED,           /* 502 connection_refused */
	PC_FAIL_UNREACHABLE,       /* 502 destination_unavailable */
	PC_FAIL_TIMEOUT,           /* 504 connection_timeout */
	PC_FAIL_DNS,               /* 502 dns_error */
	PC_FAIL_LOOP,              /* 508 proxy_loop_detected */
	PC_FAIL_BAD_GATEWAY,       /* 502 http_protocol_error: the origin's response was refused */
	PC_FAIL_HEAD_TIMEOUT,      /* 408 */
	PC_FAIL_TERMINATED,        /* 502 connection_terminated: the origin closed or reset before
	                            * sending a response */
	PC_FAIL_INCOMPLETE,        /* 502 http_response_incomplete: it ended mid-response */
};

/* Flags of the responses below. */
enum {
	PC_RESPOND_CLOSE = 1u << 0, /* add "Connection: close": the connection ends after it */
	PC_RESPOND_HEAD = 1u << 1,  /* the request was HEAD: the head only (Content-Length still
	                             * gives the length the body would have) */
};

/* The response for a blocked request described by b. tunnel: the request was CONNECT (a
 * text body instead of JSON). flags: PC_RESPOND_*. Returns the length, or -ENOSPC if size is
 * too small (4 KiB always suffices). */
int pc_http_block_response(const struct pc_block *b, bool tunnel, unsigned flags, char *buf,
                           size_t size);

/* The response for a failure. details: a short plain-text explanation (may be NULL), printed in
 * the body and in Proxy-Status. flags and result as for pc_http_block_response. */
int pc_http_failure_response(enum pc_http_failure f, const char *details, unsigned flags, char *buf,
                             size_t size);

/* The status code a failure answers with. */
int pc_http_failure_status(enum pc_http_failure f);

/* The failure for a dial error (-ECONNREFUSED, -ETIMEDOUT, PC_EDNS, ...). */
enum pc_http_failure pc_http_failure_from_dial(int err);

#endif
