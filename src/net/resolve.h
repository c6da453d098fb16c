/* Asynchronous name resolution: c-ares driven by the libuv loop, with our own deadline.
 *
 * c-ares 1.18 has no overall deadline per query, so each request carries its own uv timer; when
 * it fires the request completes with PC_EDNS_TIMEOUT and is abandoned: the c-ares callback that
 * may still come later finds an abandoned (but still valid) request and frees it. Nothing here
 * uses uv_getaddrinfo or the system resolver library. localhost names are never passed here
 * (the policy knows they are loopback). */
#ifndef PC_NET_RESOLVE_H
#define PC_NET_RESOLVE_H

#include <stdint.h>
#include <uv.h>

#include "policy/addr.h"

struct pc_resolver;
struct pc_resolve_req;

/* Called exactly once per started request unless it was cancelled first.
 * status: 0 with addrs->n >= 1 (IPv6 and IPv4 answers, interleaved starting with the first
 * family the server answered), PC_EDNS (no such name, no address, server failure, refused),
 * or PC_EDNS_TIMEOUT. addrs is valid only during the call; ports are 0. */
typedef void (*pc_resolve_cb)(void *data, int status, const struct pc_addr_list *addrs);

/* Creates a resolver on loop. servers: NULL or empty for the system's configuration
 * (/etc/resolv.conf), else a comma-separated list of at most 16 "ip", "ip:port", "[ipv6]" or
 * "[ipv6]:port" entries (blanks around an entry ignored; port 1..65535 in decimal, default
 * 53; an unbracketed IPv6 address has no port). The list is parsed strictly here, not by
 * c-ares, whose parser accepts "1.2.3" and wraps ports. Returns 0, PC_ECONFIG for a bad server
 * list, or -ENOMEM. */
int pc_resolver_new(uv_loop_t *loop, const char *servers, struct pc_resolver **out);

/* Cancels every pending request (their callbacks are not called) and closes the handles; the
 * memory is released once libuv has closed them, so the loop must run afterwards. May be
 * called from a resolve callback. Request handles are invalid afterwards. Accepts NULL. */
void pc_resolver_free(struct pc_resolver *r);

/* Starts resolving name (a normalised DNS name, not an IP literal) for A and AAAA with a
 * deadline of timeout_ms. On success returns 0 and, if out is not NULL, a handle usable with
 * pc_resolve_cancel until the callback runs. The callback never runs inside this call (a
 * result known at once, e.g. from the hosts file, is delivered on the next loop iteration).
 * Only name itself is asked (no search domains, no HOSTALIASES). Errors: PC_EHOST for
 * "localhost", "*.localhost", an IP literal (last label numeric) or anything but labels of
 * 1..63 letters, digits, '-' or '_', at most 253 bytes in all; -EINVAL for a NULL cb;
 * PC_ECANCELED once pc_resolver_free was called (from a callback); -ENOMEM. */
int pc_resolve_start(struct pc_resolver *r, const char *name, uint32_t timeout_ms, pc_resolve_cb cb,
                     void *data, struct pc_resolve_req **out);

/* Abandons a request whose callback has not run: cb will never be called for it. The query
 * itself may still be in flight; its memory is released when c-ares is done with it. Must not
 * be called after pc_resolver_free. */
void pc_resolve_cancel(struct pc_resolve_req *req);

/* Counters for tests and diagnostics. */
struct pc_resolver_stats {
	uint64_t sockets_opened;       /* c-ares sockets given a poll handle so far */
	uint64_t sockets_reused_early; /* ...whose fd was still held by a closing poll handle */
	unsigned requests;             /* requests not yet released (includes abandoned ones) */
	unsigned sockets;              /* poll handles open or closing */
};
void pc_resolver_stats(const struct pc_resolver *r, struct pc_resolver_stats *out);

#endif
