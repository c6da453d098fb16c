/* The SOCKS5 front end (RFC 1928, RFC 1929; SPEC §2, §3, §7): CONNECT tunnels and UDP
 * ASSOCIATE relays under the same policy as HTTP.
 *
 * A domain in a request is normalised and decided like an HTTP host; the proxy resolves it,
 * checks every address, and dials only a checked one. Every policy block is answered 0x02 and
 * recorded. UDP datagrams are decided one destination at a time (decisions are remembered until
 * a reload), accepted only from the client's own address, and relayed back only from
 * destinations the client sent to. See docs/socks.md. */
#ifndef PC_SOCKS_PROXY_H
#define PC_SOCKS_PROXY_H

#include "policy/addr.h"

struct pc_server;

/* Takes a connected client socket fd from a SOCKS listener of srv. */
void pc_socks_accept(struct pc_server *srv, int fd, const union pc_sockaddr *peer);

#endif
