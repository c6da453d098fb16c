/* Chunked transfer coding (RFC 9112 §7.1), decoded incrementally without copying.
 *
 * The decoder is a byte-at-a-time state machine: the caller feeds whatever bytes it has, in
 * pieces of any size, and gets back payload spans pointing into its own buffer. Any split of
 * the input gives the same payload, trailers and end (the fuzzer checks this). Nothing is
 * allocated and the state is a few words; every line is bounded. */
#ifndef PC_HTTP_CHUNKED_H
#define PC_HTTP_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/parse.h"

/* Bytes of chunk extensions (everything between the size and the CR) allowed per chunk line. */
#define PC_HTTP_CHUNK_EXT_MAX 4096
/* Hex digits allowed in a chunk size (leading zeros included). */
#define PC_HTTP_CHUNK_SIZE_DIGITS_MAX 16

enum pc_http_chunk_kind {
	PC_HTTP_CHUNK_NONE = 0, /* only framing was consumed: feed more */
	PC_HTTP_CHUNK_DATA,     /* span is payload */
	PC_HTTP_CHUNK_TRAILER,  /* span is part of the trailer field lines (with their CRLFs) */
	PC_HTTP_CHUNK_END,      /* the message is complete; span is empty */
};

struct pc_http_chunk {
	enum pc_http_chunk_kind kind;
	const char *p; /* inside the buffer passed to the call, or NULL */
	size_t len;
};

/* Decoder state; zeroed by pc_http_chunked_init, private but for error. */
struct pc_http_chunked {
	uint64_t remaining; /* payload bytes left in the current chunk */
	uint64_t size;      /* the chunk size being read */
	size_t ext_len;
	size_t trailer_bytes;
	size_t trailer_fields;
	size_t max_trailer_bytes;
	size_t max_trailer_fields;
	unsigned state;
	unsigned digits;
	unsigned name_len; /* trailer field name being read (its first bytes in name) */
	char name[20];
	struct pc_http_error error; /* set when decoding fails (status 400) */
};

/* Prepares d for one chunked body. Trailers are bounded by limits->max_header_bytes and
 * max_header_fields (NULL: the defaults). */
void pc_http_chunked_init(struct pc_http_chunked *d, const struct pc_http_limits *limits);

/* Consumes bytes from buf[0..len) and reports at most one span in *out. Returns the number of
 * bytes consumed (the caller passes the rest, with more, on the next call), or PC_EPARSE with
 * d->error set; a failed decoder keeps failing. On PC_HTTP_CHUNK_END the bytes after the
 * returned count belong to the next message; later calls return 0 and END again. A call with
 * len > 0 consumes at least one byte unless the body has already ended. Trailer spans are
 * valid field lines only once END is reported: a caller that forwards trailers holds them
 * (at most max_header_bytes) until then. Refused: a size that is not 1..16 hex digits or
 * exceeds PC_HTTP_LENGTH_MAX, malformed or over-long extensions (chunk-ext of RFC 9112 §7.1.1),
 * anything but CRLF after the size line and after the data, bare CR or LF, trailers that break
 * the field rules of heads or exceed the limits, and trailers that frame or route the message
 * (Content-Length, Transfer-Encoding, Host, and the hop-by-hop fields). */
ssize_t pc_http_chunked_decode(struct pc_http_chunked *d, const char *buf, size_t len,
                               struct pc_http_chunk *out);

/* True once the final CRLF has been consumed. */
bool pc_http_chunked_done(const struct pc_http_chunked *d);

#endif
