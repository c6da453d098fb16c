/* The SOCKS5 wire format (RFC 1928, RFC 1929 username/password), strict and bounded.
 *
 * Pure functions over caller buffers: parsers neither allocate nor copy nor keep state, and
 * return slices of the caller's bytes. A message may arrive in pieces: call the parser again
 * with the same bytes plus more; it returns PC_AGAIN until the message is complete, then the
 * bytes it consumed (bytes after the message, which a client may pipeline, are left alone). A
 * malformed message is refused as soon as the offending byte has arrived, so every split of
 * the input gives the same answer as one piece. Errors that the wire answers carry the reply
 * code to send, decided here, so that the mapping lives in one place. A parser's output is
 * meaningful only when it returns success; a NULL output, or a NULL buffer with a length,
 * is -EINVAL.
 *
 * Host names in requests and UDP headers become a struct pc_host through pc_host_normalize
 * (flags 0) and nothing else; IPv4/IPv6 addresses become its union pc_sockaddr directly. (For
 * a non-ASCII name, pc_host_normalize uses libidn2, whose temporary allocations are freed
 * before it returns.) Design notes: docs/socks.md. */
#ifndef PC_SOCKS_WIRE_H
#define PC_SOCKS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/addr.h"
#include "policy/host.h"

#define PC_SOCKS_VERSION      0x05
#define PC_SOCKS_AUTH_VERSION 0x01 /* RFC 1929 sub-negotiation */

/* Longest messages: greeting 2 + 255, auth 3 + 255 + 255, request 4 + 1 + 255 + 2, reply
 * 4 + 16 + 2, UDP header 4 + 1 + 255 + 2. A datagram is at most PC_SOCKS_UDP_MAX bytes (the
 * largest UDP payload over IPv4). */
#define PC_SOCKS_GREETING_MAX   257
#define PC_SOCKS_AUTH_MAX       513
#define PC_SOCKS_REQUEST_MAX    262
#define PC_SOCKS_REPLY_MAX      22
#define PC_SOCKS_UDP_HEADER_MAX 262
#define PC_SOCKS_UDP_MAX        65507

/* Reply codes (RFC 1928 §6) with their names: X(NAME, code, text). */
#define PC_SOCKS_REPLIES(X)                                                                        \
	X(SUCCEEDED, 0x00, "succeeded")                                                            \
	X(GENERAL_FAILURE, 0x01, "general SOCKS server failure")                                   \
	X(NOT_ALLOWED, 0x02, "connection not allowed by ruleset")                                  \
	X(NETWORK_UNREACHABLE, 0x03, "network unreachable")                                        \
	X(HOST_UNREACHABLE, 0x04, "host unreachable")                                              \
	X(CONNECTION_REFUSED, 0x05, "connection refused")                                          \
	X(TTL_EXPIRED, 0x06, "TTL expired")                                                        \
	X(COMMAND_NOT_SUPPORTED, 0x07, "command not supported")                                    \
	X(ADDRESS_TYPE_NOT_SUPPORTED, 0x08, "address type not supported")

enum pc_socks_reply {
#define PC_SOCKS_REPLY_ENUM(name, code, text) PC_SOCKS_REP_##name = code,
	PC_SOCKS_REPLIES(PC_SOCKS_REPLY_ENUM)
#undef PC_SOCKS_REPLY_ENUM
};

/* Authentication methods (the METHOD byte) and sets of them (bit flags). */
enum pc_socks_method {
	PC_SOCKS_METHOD_NO_AUTH = 0x00,
	PC_SOCKS_METHOD_USERPASS = 0x02,
	PC_SOCKS_METHOD_NONE_ACCEPTABLE = 0xff,
};
enum {
	PC_SOCKS_METHODS_NO_AUTH = 1u << 0,
	PC_SOCKS_METHODS_USERPASS = 1u << 1,
};

enum pc_socks_cmd {
	PC_SOCKS_CMD_CONNECT = 0x01,
	PC_SOCKS_CMD_BIND = 0x02,
	PC_SOCKS_CMD_UDP_ASSOCIATE = 0x03,
};

enum pc_socks_atyp {
	PC_SOCKS_ATYP_IPV4 = 0x01,
	PC_SOCKS_ATYP_DOMAIN = 0x03,
	PC_SOCKS_ATYP_IPV6 = 0x04,
};

/* RFC 1929 reply status. */
enum {
	PC_SOCKS_AUTH_SUCCESS = 0x00,
	PC_SOCKS_AUTH_FAILURE = 0x01,
};

/* Bytes of the caller's buffer. */
struct pc_socks_slice {
	const uint8_t *p;
	size_t len;
};

struct pc_socks_greeting {
	unsigned methods; /* PC_SOCKS_METHODS_* the client offered; other methods are ignored */
};

struct pc_socks_auth {
	struct pc_socks_slice user; /* 1..255 bytes, any values (compare in constant time) */
	struct pc_socks_slice pass; /* 0..255 bytes: see docs/socks.md for why 0 is accepted */
};

struct pc_socks_request {
	enum pc_socks_cmd cmd;   /* CONNECT or UDP_ASSOCIATE: BIND is refused */
	enum pc_socks_atyp atyp; /* as sent: a DOMAIN may still give an IPV4/IPV6 host */
	struct pc_host host;     /* kind NAME for names; IPV4/IPV6 with addr (port 0) */
	uint16_t port;           /* host byte order; 1..65535, 0 only for UDP ASSOCIATE */
};

struct pc_socks_udp {
	uint8_t frag; /* 0 for a whole datagram; the caller drops any other */
	enum pc_socks_atyp atyp;
	struct pc_host host;
	uint16_t port;              /* host byte order, 1..65535 */
	struct pc_socks_slice data; /* the payload: the rest of the datagram, may be empty */
};

/* Method selection message, client → server: VER 5, NMETHODS 1..255, METHODS. Returns the
 * bytes consumed (2 + NMETHODS), PC_AGAIN, PC_EUNSUPPORTED when the first byte is 0x04 (a
 * SOCKS4/4a client: close at once, nothing to answer in its protocol), or PC_EPARSE for any
 * other version or NMETHODS 0 (close without a reply). */
int pc_socks_greeting_parse(const uint8_t *buf, size_t len, struct pc_socks_greeting *out);

/* The METHOD to answer, given the methods offered and those the server accepts (both
 * PC_SOCKS_METHODS_* sets): USERPASS when both sides have it (a client offers it only when it
 * holds credentials, and a server that accepts them may want them), else NO_AUTH when both
 * have it, else NONE_ACCEPTABLE (send it, then close). */
uint8_t pc_socks_choose_method(unsigned offered, unsigned accepted);

/* Writes the method selection reply (VER 5, METHOD) into buf. Returns 2, or -ENOSPC. */
int pc_socks_method_build(uint8_t *buf, size_t size, uint8_t method);

/* Username/password request (RFC 1929): VER 1, ULEN 1..255, UNAME, PLEN 0..255, PASSWD.
 * Returns bytes consumed, PC_AGAIN, or PC_EPARSE (answer PC_SOCKS_AUTH_FAILURE, close).
 * The slices point into buf. */
int pc_socks_auth_parse(const uint8_t *buf, size_t len, struct pc_socks_auth *out);

/* Writes the sub-negotiation reply (VER 1, STATUS) into buf. Returns 2, or -ENOSPC. */
int pc_socks_auth_reply_build(uint8_t *buf, size_t size, uint8_t status);

/* Request: VER 5, CMD, RSV 0, ATYP, DST.ADDR, DST.PORT. Returns bytes consumed, PC_AGAIN, or
 * PC_EPARSE with *rep set to the reply to send before closing (PC_SOCKS_REP_SUCCEEDED on
 * success and PC_AGAIN):
 *   GENERAL_FAILURE (0x01): VER not 5, RSV not 0, domain length 0, a name pc_host_normalize
 *     refuses (NUL bytes, "1.2.3.09", too long...), port 0 with CONNECT;
 *   COMMAND_NOT_SUPPORTED (0x07): BIND and any unknown command;
 *   ADDRESS_TYPE_NOT_SUPPORTED (0x08): ATYP other than 1, 3, 4.
 * *out is only meaningful on success. rep may be NULL. */
int pc_socks_request_parse(const uint8_t *buf, size_t len, struct pc_socks_request *out,
                           uint8_t *rep);

/* Writes a reply (VER 5, REP, RSV 0, ATYP, BND.ADDR, BND.PORT) into buf: the address and port
 * of bnd when it is AF_INET or AF_INET6, else (NULL too) 0.0.0.0 port 0. Returns the length
 * (10 or 22), or -ENOSPC. */
int pc_socks_reply_build(uint8_t *buf, size_t size, uint8_t rep, const union pc_sockaddr *bnd);

/* The name of a reply code ("connection refused"), "unassigned" for codes beyond 0x08. */
const char *pc_socks_reply_name(uint8_t rep);

/* The reply for a failed dial or lookup (SPEC §7): -ECONNREFUSED → 0x05, -ETIMEDOUT → 0x06,
 * -ENETUNREACH, -EHOSTUNREACH, PC_EDNS and PC_EDNS_TIMEOUT → 0x04, anything else →
 * 0x01. libuv's UV_E* codes are the same values on Linux. */
uint8_t pc_socks_reply_for_error(int err);

/* One UDP datagram from the client (RFC 1928 §7): RSV 0x0000, FRAG, ATYP, DST.ADDR,
 * DST.PORT, DATA. A datagram is whole, so a truncated header is malformed. Returns the header
 * length (the offset of the payload), or PC_EPARSE (drop the datagram): RSV not zero, unknown
 * ATYP, a name pc_host_normalize refuses, port 0. A FRAG other than 0 is returned in out->frag
 * with the rest parsed; the caller drops (and may count) it. */
int pc_socks_udp_parse(const uint8_t *buf, size_t len, struct pc_socks_udp *out);

/* Writes a datagram for the client: the header (RSV 0, FRAG 0, src's address and port, which
 * must be AF_INET or AF_INET6) followed by len bytes of data. data may overlap buf (it is
 * moved), so a payload can be received at buf + pc_socks_udp_header_len(src) and wrapped in
 * place. Returns the datagram length, -ENOSPC if it exceeds size or PC_SOCKS_UDP_MAX,
 * -EAFNOSUPPORT for another family. */
int pc_socks_udp_build(uint8_t *buf, size_t size, const union pc_sockaddr *src, const void *data,
                       size_t len);

/* The same with a host as the address: a NAME as ATYP 3 (its canonical text), IPV4/IPV6 as
 * their address (an IPv6 zone id has no encoding and is left out). Also -EINVAL for a host of
 * no kind. */
int pc_socks_udp_build_host(uint8_t *buf, size_t size, const struct pc_host *host, uint16_t port,
                            const void *data, size_t len);

/* The header length pc_socks_udp_build writes for src: 10 (IPv4), 22 (IPv6), or
 * -EAFNOSUPPORT. */
int pc_socks_udp_header_len(const union pc_sockaddr *src);

#endif
