#include "core/bufpool.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/error.h"

/* Pipes may take at most this share of the fd limit (two fds each): the rest is for sockets,
 * which a connection cannot do without, while a relay without a pipe falls back to a buffer. */
#define PIPE_FD_SHARE 8

void pc_bufpool_init(struct pc_bufpool *pool, size_t max_free)
{
	struct rlimit rl;

	pool->free_list = NULL;
	pool->n_free = 0;
	pool->max_free = max_free;
	pool->n_out = 0;
	pool->n_pipes = 0;
	pool->pipes_out = 0;
	pool->max_pipes_out = PC_PIPES_LIMIT;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 / PIPE_FD_SHARE < pool->max_pipes_out)
		pool->max_pipes_out = rl.rlim_cur / 2 / PIPE_FD_SHARE;
}

static void pipe_close(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
	fds[0] = fds[1] = -1;
}

void pc_bufpool_destroy(struct pc_bufpool *pool)
{
	while (pool->free_list != NULL) {
		void *next = *(void **)pool->free_list;
		munmap(pool->free_list, PC_BUF_SIZE);
		pool->free_list = next;
	}
	pool->n_free = 0;
	while (pool->n_pipes > 0)
		pipe_close(pool->pipes[--pool->n_pipes]);
}

char *pc_buf_get(struct pc_bufpool *pool)
{
	char *buf = pool->free_list;

	if (buf != NULL) {
		pool->free_list = *(void **)buf;
		pool->n_free--;
	} else {
		/* A mapping of its own rather than the heap: the pages a connection never touched
		 * (most of a buffer that carried one small request) never become resident, and
		 * giving a buffer back returns its pages. Buffers from malloc, churned among
		 * thousands of connections, fragment the heap until nearly all of it is resident.
		 */
		buf = mmap(NULL, PC_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		           -1, 0);
		if (buf == MAP_FAILED)
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
		munmap(buf, PC_BUF_SIZE);
		return;
	}
	*(void **)buf = pool->free_list;
	pool->free_list = buf;
	pool->n_free++;
}

int pc_pipe_get(struct pc_bufpool *pool, int fds[2])
{
	if (pool->pipes_out >= pool->max_pipes_out)
		return PC_ELIMIT;
	if (pool->n_pipes > 0) {
		pool->n_pipes--;
		fds[0] = pool->pipes[pool->n_pipes][0];
		fds[1] = pool->pipes[pool->n_pipes][1];
	} else {
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
			fds[0] = fds[1] = -1;
			return -errno;
		}
		/* Larger pipes move more per splice. Refused beyond fs.pipe-max-size or the user's
		 * pipe-user-pages-soft budget: the default size (64 KiB, or less) works too. */
		(void)fcntl(fds[1], F_SETPIPE_SZ, PC_PIPE_SIZE);
	}
	pool->pipes_out++;
	return 0;
}

void pc_pipe_put(struct pc_bufpool *pool, int fds[2], bool empty)
{
	if (fds[0] < 0)
		return;
	pool->pipes_out--;
	if (!empty || pool->n_pipes >= PC_PIPES_KEEP) {
		pipe_close(fds);
		return;
	}
	pool->pipes[pool->n_pipes][0] = fds[0];
	pool->pipes[pool->n_pipes][1] = fds[1];
	pool->n_pipes++;
	fds[0] = fds[1] = -1;
}
