/* Byte relay between two connected TCP streams: both ways for CONNECT tunnels, upgraded
 * connections and SOCKS tunnels; one way for a forwarded body of known length (or one that
 * ends at EOF), optionally ending early when the receiver answers (a request body). How bytes
 * move: docs/connection.md.
 *
 * Bulk moves socket to pipe to socket with splice(2), never through user space; where splice
 * or a pipe is unavailable, and for the first buffer's worth of a tunnel (stream mode, below),
 * through one pool buffer. At most one bounded amount
 * is in flight per direction (one pipe or one buffer): while the receiving side cannot take it,
 * the sending side is not read (backpressure), so a reader that never reads costs one pipe or
 * buffer, never more. Pipes and buffers are taken from the pool only while bytes flow and go
 * back as soon as a direction is drained, so an idle relay holds neither.
 *
 * A two-way relay starts in stream mode: libuv reads the handles and each read is written on at
 * once (uv_try_write), so a short exchange costs no poll, pipe or epoll change; once a direction
 * has carried more than one buffer, or a write is not taken at once, it switches to polling the
 * handles' descriptors itself (uv_poll_t) and splicing. One way (pc_relay_forward) polls from the
 * start. Between the start and the done callback (or pc_relay_stop) the caller must neither
 * read, write, shut down nor close the handles, and their data pointers belong to the relay
 * (they are the caller's again, unchanged, when it ends). The caller owns the handles and may use
 * them again afterwards. The done callback runs once and never from within the start function: a
 * failure there is its return value instead. splice(2) raises SIGPIPE on a reset peer: the process
 * must ignore SIGPIPE. */
#ifndef PC_NET_RELAY_H
#define PC_NET_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/bufpool.h"

#define PC_RELAY_UNTIL_EOF UINT64_MAX /* pc_relay_forward: no limit but the sender's EOF */

/* pc_relay_forward flags */
enum {
	/* Also end, with status 0 and answered set, once `to` has bytes to read or its EOF (a
	 * request body whose origin answers before it is all sent): nothing more is read from
	 * `from`, what `to` sent stays unread, and the bytes in flight that `to` does not take at
	 * once are handed back (unsent) instead of waiting on a receiver that may read no more. */
	PC_RELAY_UNTIL_ANSWER = 1u << 0,
};

struct pc_relay;
struct pc_relay_core; /* private: the poll handles and the per-direction state */

/* status: 0 when the relay completed (both ways: both directions ended; one way: the limit was
 * reached or EOF came, see eof[0]), -ETIMEDOUT after idle_ms without a byte moving, else the
 * first error (-errno). The callee may call pc_relay_stop (a no-op by then), close the handles
 * and free r. After a two-way relay completed, the side whose direction towards it ended last
 * has not been shut down: closing its handle sends that FIN, so the callee must close both
 * handles (it saves a shutdown(2) per tunnel). */
typedef void (*pc_relay_done_cb)(struct pc_relay *r, int status);

struct pc_relay {
	struct pc_relay_core *core; /* NULL when not running */
	pc_relay_done_cb done;
	void *data;        /* for the caller */
	uint64_t bytes[2]; /* bytes read from a (from) and from b (pending bytes included) */
	bool eof[2];       /* a (from) and b sent EOF */
	bool answered;     /* one way with PC_RELAY_UNTIL_ANSWER: it ended because `to` spoke */
	/* answered: the last of bytes[0], read from `from` but not written to `to` (at most
	 * PC_BUF_SIZE). Valid only during the done callback: the caller copies what it keeps. */
	const char *unsent;
	size_t unsent_len;
};

/* Relays both ways between a and b: connected TCP handles without a write queued (a write
 * whose callback is running counts as done). A handle the caller is reading is taken over as it
 * is: its read callbacks become the relay's, which costs no epoll change. EOF from one side is
 * passed on as shutdown(SHUT_WR) of the other (half-close). timer (initialised by the caller, not
 * active) enforces idle_ms; its data pointer belongs to the relay until the end. pending_a /
 * pending_b: bytes already read from a (b) that reach b (a) before anything else (copied, at
 * most PC_BUF_SIZE each). Returns 0, or a negative error (-EINVAL for oversized pending bytes,
 * -EBUSY for a handle with a write queued, -ENOMEM, the error of a first write): the relay is
 * then over and no callback will come. */
int pc_relay_start(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *a, uv_tcp_t *b,
                   uv_timer_t *timer, uint64_t idle_ms, const char *pending_a, size_t pending_a_len,
                   const char *pending_b, size_t pending_b_len, pc_relay_done_cb done, void *data);

/* Moves at most limit bytes (> 0; PC_RELAY_UNTIL_EOF: up to EOF) from `from` to `to`, never one
 * more: what follows in `from` stays unread. Handles and timer as for pc_relay_start; `to` is
 * not read and nothing is shut down, so both handles can carry on afterwards (keep-alive).
 * Completes with status 0 once limit bytes were written, `from` sent EOF (eof[0]; bytes[0]
 * says how many came before), or, with PC_RELAY_UNTIL_ANSWER in flags, `to` spoke (answered;
 * of bytes[0], all but the last unsent_len were written). Returns 0 or a negative error as
 * pc_relay_start. */
int pc_relay_forward(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *from, uv_tcp_t *to,
                     uint64_t limit, unsigned flags, uv_timer_t *timer, uint64_t idle_ms,
                     pc_relay_done_cb done, void *data);

/* Ends a running relay without its callback: stops polling and the timer and gives the pipes
 * and buffers back (bytes still in flight are dropped). Accepts a relay that is not running
 * (finished, failed to start, or zeroed). Nothing of the relay refers to r or the timer
 * afterwards (its poll handles are released by libuv later, on their own). */
void pc_relay_stop(struct pc_relay *r);

#endif
