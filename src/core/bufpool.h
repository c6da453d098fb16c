/* Fixed-size I/O buffers shared by every connection of one event loop.
 *
 * A connection takes a buffer only while bytes are in flight and gives it back when they are
 * drained, so an idle connection holds none. Freed buffers are kept for reuse up to a bound,
 * beyond which they go back to the allocator. Not thread-safe: one pool per loop. */
#ifndef PC_CORE_BUFPOOL_H
#define PC_CORE_BUFPOOL_H

#include <stddef.h>

#define PC_BUF_SIZE (64 * 1024)

struct pc_bufpool {
	void *free_list; /* buffers kept for reuse, linked through their first bytes */
	size_t n_free;
	size_t max_free; /* kept at most */
	size_t n_out;    /* taken and not yet returned */
};

void pc_bufpool_init(struct pc_bufpool *pool, size_t max_free);
/* Frees the kept buffers. Buffers still out must be returned before, or leak. */
void pc_bufpool_destroy(struct pc_bufpool *pool);

/* A PC_BUF_SIZE buffer, or NULL when memory is exhausted. */
char *pc_buf_get(struct pc_bufpool *pool);
/* Returns a buffer from pc_buf_get. Accepts NULL. */
void pc_buf_put(struct pc_bufpool *pool, char *buf);

#endif
