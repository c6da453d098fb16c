/* A connected libuv stream: taking its reading over as it is, and acknowledging its peer's
 * bytes at once. */
#ifndef PC_NET_STREAM_H
#define PC_NET_STREAM_H

#include <stdbool.h>
#include <uv.h>

/* Starts reading s with alloc_cb and read_cb. If s is already reading, its reading goes on
 * with these callbacks instead: libuv forgets a descriptor's epoll registration once nothing
 * is polled on it, so a stop and a start would cost two epoll_ctl calls. Returns 0 or the error
 * of uv_read_start. */
int pc_stream_read(uv_stream_t *s, uv_alloc_cb alloc_cb, uv_read_cb read_cb);

/* Sends the ACK the kernel is holding for what the peer sent, and puts the connection back in
 * quick-ACK mode (TCP_QUICKACK). Accepted connections start with delayed ACKs (the listener's
 * setting, see pc_listener_start), so that the first request's ACK rides on the answer; a front
 * end that has to wait for more of the peer's bytes before it can answer calls this, because a
 * peer may hold its next write until the last one is acknowledged (Nagle's algorithm), which
 * would otherwise wait out the delayed-ACK timer. Once per connection is enough (the kernel's
 * own heuristics take over): *done, the connection's flag, is set by the first call, and later
 * calls do nothing. A failure leaves the delayed ACKs, which the kernel's timer still sends. */
void pc_stream_ack_now(uv_tcp_t *tcp, bool *done);

#endif
