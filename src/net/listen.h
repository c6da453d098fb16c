/* Listening sockets, and accepting from them on a libuv loop as raw connected fds.
 *
 * The front ends get each client connection as a connected, non-blocking, close-on-exec fd
 * with TCP_NODELAY set, in delayed-ACK mode (see pc_stream_ack_now), and uv_tcp_open() it
 * themselves, once the client has sent its first bytes or has been silent for a second
 * (TCP_DEFER_ACCEPT: the protocols served are ones where the client speaks first). Accepting is
 * ours so that it can stop: at the server's connection cap (pc_listener_pause) and when the
 * process runs out of file descriptors (EMFILE and friends), where it waits ~100 ms and retries
 * instead of spinning or accepting and closing. Design notes: docs/dialing.md. */
#ifndef PC_NET_LISTEN_H
#define PC_NET_LISTEN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "policy/addr.h"

/* Parses a listener address: "HOST:PORT", "[V6]:PORT", or a URL "http://HOST:PORT",
 * "socks5://HOST:PORT" or "socks5h://HOST:PORT" (the forms of proxy_url / socks_url; the
 * scheme is matched without regard to case and says nothing about the protocol served). HOST
 * is an IP literal (normalised by pc_authority_parse, so "127.1" is 127.0.0.1 and a zone id
 * needs "%25") or "localhost" (127.0.0.1; no other name). The port is required, decimal,
 * 0..65535 (0: the kernel picks), at most 5 digits. No path, query, userinfo or whitespace.
 * Returns 0 with *out set, or PC_ECONFIG with *out zeroed. */
int pc_listen_addr_parse(const char *text, union pc_sockaddr *out);

/* True for 127.0.0.0/8 and ::1: the addresses a listener may bind without
 * dangerously_allow_non_loopback_proxy. An IPv4-mapped or -compatible form is not loopback
 * here (a v6-only socket cannot bind it). */
bool pc_listen_addr_is_loopback(const union pc_sockaddr *a);

/* The loopback clamp (SPEC §2): unless allow_non_loopback, a non-loopback address becomes
 * 127.0.0.1 (IPv4) or ::1 (IPv6, scope and flow label cleared), keeping its port. Returns 1
 * when *a was changed (the caller logs a warning), 0 otherwise, -EAFNOSUPPORT for another
 * family. */
int pc_listen_clamp(union pc_sockaddr *a, bool allow_non_loopback);

/* A listening TCP socket on addr: non-blocking, close-on-exec, SO_REUSEADDR, IPV6_V6ONLY for
 * IPv6, bound, listening with backlog (the kernel caps it at somaxconn). Returns the fd
 * (owned by the caller) or -errno (-EAFNOSUPPORT for a family other than IPv4/IPv6). */
int pc_listen_socket(const union pc_sockaddr *addr, int backlog);

struct pc_listener;

/* A new connection: fd is connected, non-blocking, close-on-exec, TCP_NODELAY set; the
 * callee owns it. peer is valid during the call. The callee may pause or close the listener
 * (no further call follows, not even for connections already waiting). */
typedef void (*pc_accept_cb)(void *data, int fd, const union pc_sockaddr *peer);

/* Starts accepting on the listening fd (e.g. from pc_listen_socket, or received from another
 * process). Takes ownership of fd in every case: on failure it is closed. Accepts in batches
 * of at most 64 per readable event. Returns 0 with *out set, -EINVAL (NULL argument),
 * -ENOMEM, or the error of uv_poll_init. */
int pc_listener_start(uv_loop_t *loop, int fd, pc_accept_cb cb, void *data,
                      struct pc_listener **out);

/* Stops accepting at once (connections wait in the kernel's backlog) / starts again, with an
 * immediate retry if accepting was waiting out a file-descriptor shortage. Both idempotent. */
void pc_listener_pause(struct pc_listener *l);
void pc_listener_resume(struct pc_listener *l);

/* Stops accepting, closes the listening fd at once and frees l once libuv has closed its
 * handles (the loop must run afterwards). No callback runs after this call; l is invalid. May
 * be called from the accept callback. Accepts NULL. */
void pc_listener_close(struct pc_listener *l);

/* The bound address (getsockname), e.g. to learn the port the kernel picked. Returns 0 or
 * -errno. */
int pc_listener_address(const struct pc_listener *l, union pc_sockaddr *out);
/* The listening fd (still owned by the listener). */
int pc_listener_fd(const struct pc_listener *l);

/* Counters for tests and diagnostics. */
struct pc_listener_stats {
	uint64_t readable;  /* poll callbacks (readable events) */
	uint64_t accepted;  /* connections handed to the callback */
	uint64_t shortages; /* accept4 failures for lack of fds or memory: each one waits */
	uint64_t retries;   /* retry timer expiries after a shortage */
	int last_error;     /* last accept4 error (-errno), 0 if none */
	bool paused;        /* by pc_listener_pause */
	bool waiting;       /* after a shortage, until the retry */
};
void pc_listener_stats(const struct pc_listener *l, struct pc_listener_stats *out);

#endif
