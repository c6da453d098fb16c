/* Bidirectional byte relay between two connected TCP streams: CONNECT tunnels, upgraded
 * connections and SOCKS tunnels.
 *
 * At most one buffer is in flight per direction: when the receiving side cannot take bytes at
 * once, reading from the sending side stops until the write completes (backpressure), so a
 * reader that never reads costs one buffer, never more. EOF from one side is passed on as a
 * shutdown of the other (half-close); the relay finishes when both directions have ended, on the
 * first error, or after idle_ms without a byte either way.
 *
 * While relaying, the handles' data pointers belong to the relay; the caller owns the handles
 * and closes them after the done callback, which runs once and never from within
 * pc_relay_start: a failure there is its return value instead. */
#ifndef PC_NET_RELAY_H
#define PC_NET_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/bufpool.h"

struct pc_relay;

/* status: 0 when both directions ended cleanly, -ETIMEDOUT when idle, else the first error. */
typedef void (*pc_relay_done_cb)(struct pc_relay *r, int status);

struct pc_relay_side {
	struct pc_relay *relay;
	uv_tcp_t *tcp;
	char *buf; /* bytes read from this side, not yet written to the other */
	size_t off, len;
	bool eof;  /* this side has sent EOF */
	bool shut; /* writing towards this side has been shut down */
	bool shutting;
	bool writing; /* a write towards this side is in flight */
	uv_write_t write_req;
	uv_shutdown_t shutdown_req;
	uint64_t bytes_in; /* bytes read from this side */
};

struct pc_relay {
	struct pc_relay_side side[2];
	struct pc_bufpool *pool;
	uv_timer_t *timer;
	uint64_t idle_ms;
	uint64_t last_activity;
	pc_relay_done_cb done;
	void *data; /* for the caller */
	bool finished;
	bool running;
	bool starting;
	int start_status;
};

/* Starts relaying between a and b. timer (initialised by the caller, not active) enforces
 * idle_ms. pending_a / pending_b: bytes already read from a (b) that must reach b (a) first
 * (copied, at most PC_BUF_SIZE each). Returns 0, or a negative error: the relay is over (no
 * callback will come) and the caller closes the handles. */
int pc_relay_start(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *a, uv_tcp_t *b,
                   uv_timer_t *timer, uint64_t idle_ms, const char *pending_a, size_t pending_a_len,
                   const char *pending_b, size_t pending_b_len, pc_relay_done_cb done, void *data);

/* Stops reading and the timer and returns the buffers; the done callback will not run. Writes
 * in flight complete or fail when the caller closes the handles. */
void pc_relay_stop(struct pc_relay *r);

#endif
