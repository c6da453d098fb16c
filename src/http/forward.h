/* The heads portcullis sends on: a request head for the origin and a response head for the
 * client, generated from parsed heads rather than copied, so nothing the parser did not
 * understand is passed on.
 *
 * Dropped in both directions: every hop-by-hop field (Connection and the fields it names,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) and the framing
 * fields, which are regenerated for the framing portcullis itself uses; Proxy-Authorization
 * and Proxy-Authenticate (they concern this hop). Requests also lose Host, which is generated
 * from the checked target. */
#ifndef PC_HTTP_FORWARD_H
#define PC_HTTP_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"
#include "http/target.h"
#include "policy/host.h"

/* How a body is framed on the wire portcullis writes. */
enum pc_http_framing {
	PC_FRAME_NONE = 0, /* no body */
	PC_FRAME_LENGTH,   /* Content-Length */
	PC_FRAME_CHUNKED,  /* Transfer-Encoding: chunked */
	PC_FRAME_CLOSE,    /* until the connection closes (HTTP/1.0 clients only) */
};

/* Writes "METHOD path?query HTTP/1.1", Host (host and the port unless it is the scheme's
 * default), the end-to-end fields of r, the framing fields for framing/length, and, when
 * upgrade is set, "Connection: upgrade" with r's Upgrade value. Returns the length, or
 * -ENOSPC when size is too small (r's head length + 512 always suffices). */
int pc_http_write_request_head(const struct pc_http_request *r, const struct pc_http_target *t,
                               const struct pc_host *host, uint16_t port, uint16_t default_port,
                               enum pc_http_framing framing, uint64_t length, bool upgrade,
                               char *buf, size_t size);

/* Writes "HTTP/1.1 STATUS reason", the end-to-end fields of r, the framing fields, and
 * "Connection: close" when !keep_alive, "Connection: keep-alive" when keep_alive and the
 * client speaks HTTP/1.0 (client_minor 0), or "Connection: upgrade" and Upgrade for a 101.
 * For HEAD responses and 304, r's Content-Length is kept (it describes the representation,
 * not this message). Returns the length, or -ENOSPC. */
int pc_http_write_response_head(const struct pc_http_response *r, enum pc_http_framing framing,
                                uint64_t length, bool keep_alive, unsigned client_minor, char *buf,
                                size_t size);

/* The space pc_http_write_*_head needs for a head of head_len bytes. */
size_t pc_http_forward_head_size(size_t head_len);

#endif
