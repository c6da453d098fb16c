/* Fixed-size I/O buffers, and pipes for splice(2), shared by every connection of one event loop.
 *
 * A connection takes a buffer or a pipe only while bytes are in flight and gives it back when
 * they are drained, so an idle connection holds none. Freed buffers and empty pipes are kept for
 * reuse up to a bound, beyond which they go back to the allocator (are closed). Not thread-safe:
 * one pool per loop. */
#ifndef PC_CORE_BUFPOOL_H
#define PC_CORE_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>

#define PC_BUF_SIZE    (64 * 1024)
#define PC_PIPE_SIZE   (256 * 1024) /* asked of F_SETPIPE_SZ; a pipe may end up smaller */
#define PC_PIPES_KEEP  16           /* empty pipes kept for reuse */
#define PC_PIPES_LIMIT 1024         /* pipes out at once, at most (also bounded by the fd limit) */

struct pc_bufpool {
	void *free_list; /* buffers kept for reuse, linked through their first bytes */
	size_t n_free;
	size_t max_free;             /* kept at most */
	size_t n_out;                /* taken and not yet returned */
	int pipes[PC_PIPES_KEEP][2]; /* empty pipes kept for reuse: read end, write end */
	size_t n_pipes;
	size_t pipes_out;     /* taken and not yet returned */
	size_t max_pipes_out; /* set by init from the fd limit; 0 turns splicing off */
};

void pc_bufpool_init(struct pc_bufpool *pool, size_t max_free);
/* Frees the kept buffers and closes the kept pipes. Buffers and pipes still out must be returned
 * before, or leak. */
void pc_bufpool_destroy(struct pc_bufpool *pool);

/* A PC_BUF_SIZE buffer (page-aligned, a mapping of its own: never free(3) it), or NULL when
 * memory is exhausted. */
char *pc_buf_get(struct pc_bufpool *pool);
/* Returns a buffer from pc_buf_get. Accepts NULL. */
void pc_buf_put(struct pc_bufpool *pool, char *buf);

/* An empty pipe, non-blocking and close-on-exec, in fds (read end, write end). Returns 0,
 * PC_ELIMIT when max_pipes_out are out, or -errno of pipe2 (-EMFILE, -ENFILE, ...): the caller
 * then does without. */
int pc_pipe_get(struct pc_bufpool *pool, int fds[2]);
/* Returns a pipe from pc_pipe_get and sets fds to -1. empty: nothing is left in it, so it may be
 * kept for reuse; a pipe with bytes in it is closed. Accepts fds of -1 (does nothing). */
void pc_pipe_put(struct pc_bufpool *pool, int fds[2], bool empty);

#endif
