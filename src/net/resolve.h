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
 * (/etc/resolv.conf), else a comma-separated list of "ip", "ip:port", "[ipv6]:port" entries as
 * accepted by ares_set_servers_ports_csv. Returns 0 or a negative error (PC_ECONFIG for a bad
 * server list). */
int pc_resolver_new(uv_loop_t *loop, const char *servers, struct pc_resolver **out);

/* Cancels every pending request (their callbacks are not called) and closes the handles; the
 * memory is released once libuv has closed them, so the loop must run afterwards. Accepts
 * NULL. */
void pc_resolver_free(struct pc_resolver *r);

/* Starts resolving name (a normalised DNS name, not an IP literal) for A and AAAA with a
 * deadline of timeout_ms. On success returns 0 and, if out is not NULL, a handle usable with
 * pc_resolve_cancel until the callback runs. */
int pc_resolve_start(struct pc_resolver *r, const char *name, uint32_t timeout_ms,
		     pc_resolve_cb cb, void *data, struct pc_resolve_req **out);

/* Abandons a request whose callback has not run: cb will never be called for it. */
void pc_resolve_cancel(struct pc_resolve_req *req);

#endif
