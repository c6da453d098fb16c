#include "core/bufpool.h"

#include <stdlib.h>

void pc_bufpool_init(struct pc_bufpool *pool, size_t max_free)
{
	pool->free_list = NULL;
	pool->n_free = 0;
	pool->max_free = max_free;
	pool->n_out = 0;
}

void pc_bufpool_destroy(struct pc_bufpool *pool)
{
	while (pool->free_list != NULL) {
		void *next = *(void **)pool->free_list;
		free(pool->free_list);
		pool->free_list = next;
	}
	pool->n_free = 0;
}

char *pc_buf_get(struct pc_bufpool *pool)
{
	char *buf = pool->free_list;

	if (buf != NULL) {
		pool->free_list = *(void **)buf;
		pool->n_free--;
	} else {
		buf = malloc(PC_BUF_SIZE);
		if (buf == NULL)
			return NULL;
	}
	pool->n_out++;
	return buf;
}

void pc_buf_put(struct pc_bufpool *pool, char *buf)
{
	if (buf == NULL)
		return;
	pool->n_out--;
	if (pool->n_free >= pool->max_free) {
		free(buf);
		return;
	}
	*(void **)buf = pool->free_list;
	pool->free_list = buf;
	pool->n_free++;
}
