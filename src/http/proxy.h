/* The HTTP proxy front end (SPEC §1, §3, §7): absolute-form forwarding with keep-alive on both
 * sides, and CONNECT tunnels.
 *
 * Each request on a connection is parsed strictly, decided by itself under the policy
 * generation current when its head arrived, and either refused with the SPEC §7 response or
 * forwarded: the head is regenerated, the body re-framed and streamed with backpressure, and the
 * response parsed and re-framed the same way. Anything ambiguous ends the exchange (400 to a
 * client, 502 for an origin) instead of being passed on. See docs/connection.md. */
#ifndef PC_HTTP_PROXY_H
#define PC_HTTP_PROXY_H

#include "policy/addr.h"

struct pc_server;

/* Takes a connected client socket fd from a listener of srv. */
void pc_http_accept(struct pc_server *srv, int fd, const union pc_sockaddr *peer);

#endif
