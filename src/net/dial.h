/* Outbound TCP connections to exactly the addresses the policy checked, as connected libuv
 * handles.
 *
 * Happy eyeballs (RFC 8305 flavour): the addresses are ordered by pc_dial_order, the first
 * attempt starts at once and each next one when the previous attempt fails or
 * PC_DIAL_ATTEMPT_DELAY_MS after it started, whichever comes first; earlier attempts stay in
 * flight; the first connection wins and every other attempt is closed. One overall timeout
 * covers everything (name resolution included for pc_dial_start_name). Nothing here resolves
 * a name except pc_dial_start_name, which asks the given resolver once and dials only the
 * answers its check() admits. Each attempt is its own uv_tcp_t (uv_tcp_connect), and the
 * winner is handed over as it is: no descriptor is re-wrapped or probed. Design notes:
 * docs/dialing.md. */
#ifndef PC_NET_DIAL_H
#define PC_NET_DIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "net/resolve.h"
#include "policy/addr.h"

#define PC_DIAL_ATTEMPT_DELAY_MS 250

struct pc_dial;

/* The outcome, exactly once per dial that was not cancelled, never from inside the start call.
 * status 0: tcp is a connected handle on the dial's loop (TCP_NODELAY set, data NULL, reading
 * with callbacks that read nothing: whatever the peer sends waits in the kernel until the
 * callee reads with pc_stream_read, which takes the reading over, or stops it) at the start of
 * a zeroed block of the `size` bytes given to the start call, allocated with malloc(3) and now
 * owned by the callee: it closes the handle with uv_close and frees the block with free(3) in
 * the close callback (so a caller's struct whose first member is the uv_tcp_t can be that
 * block). peer is the address it is connected to, local its local address (both valid during
 * the call). Otherwise tcp, peer and local are NULL and status is -ETIMEDOUT (the overall
 * timeout expired first), -ECONNREFUSED (an attempt was refused: the most telling answer), else
 * the most telling attempt error (-EHOSTUNREACH, -ENETUNREACH, -EMFILE, ...); for
 * pc_dial_start_name also PC_EDNS, PC_EDNS_TIMEOUT or -EACCES (check() refused every address).
 * The dial handle is invalid once the callback has returned. */
typedef void (*pc_dial_cb)(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                           const union pc_sockaddr *local);

/* Connects to one of addrs (copied; 1..PC_ADDRS_MAX IPv4/IPv6 addresses with non-zero ports)
 * within timeout_ms (> 0); size (>= sizeof(uv_tcp_t)) is that of the block the callback's
 * handle starts. Returns 0 and, if out is not NULL, a handle for pc_dial_cancel; or -EINVAL
 * (bad argument, empty list, other family, port 0, size too small) or -ENOMEM, and then no
 * callback will come. Failures of single attempts (even of socket(), e.g. EMFILE) are attempt
 * errors reported through the callback. */
int pc_dial_start(uv_loop_t *loop, const struct pc_addr_list *addrs, uint32_t timeout_ms,
                  size_t size, pc_dial_cb cb, void *data, struct pc_dial **out);

/* Resolves name with r (see pc_resolve_start: a DNS name, not an IP literal or localhost),
 * sets port (1..65535) on every answer, drops each address for which check(data, sa) returns
 * false (sa has the port set; it is the very address that would be connected), and dials the
 * rest as pc_dial_start does, all within timeout_ms (> 0). The resolver is given the whole
 * timeout, so a lookup that does not finish reports PC_EDNS_TIMEOUT. r must outlive the dial
 * (or the dial be cancelled before pc_resolver_free). Returns 0 and *out as pc_dial_start;
 * -EINVAL, -ENOMEM, or the error of pc_resolve_start (PC_EHOST for a name it does not ask
 * about), and then no callback will come. */
int pc_dial_start_name(uv_loop_t *loop, struct pc_resolver *r, const char *name, uint16_t port,
                       uint32_t timeout_ms, size_t size,
                       bool (*check)(void *data, const struct sockaddr *sa), pc_dial_cb cb,
                       void *data, struct pc_dial **out);

/* Abandons a dial whose callback has not run: the callback never comes, every attempt's
 * handle is closing (its socket closed) now, the memory is released once libuv has closed the
 * handles (the loop must run). Accepts NULL. */
void pc_dial_cancel(struct pc_dial *d);

/* Counters of one dial, for tests and diagnostics. Readable until the callback returns (also
 * from inside it) or until pc_dial_cancel. */
struct pc_dial_stats {
	unsigned attempts; /* addresses tried so far */
	unsigned delayed;  /* attempts started by the attempt delay (the previous one pending) */
	unsigned failed;   /* attempts that failed (refused, unreachable, socket() error...) */
};
void pc_dial_stats(const struct pc_dial *d, struct pc_dial_stats *out);

/* Reorders list in place for happy eyeballs: families alternate, starting with the family of
 * the first address; the order within each family is kept. */
void pc_dial_order(struct pc_addr_list *list);

#endif
