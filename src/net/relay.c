#include "net/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "net/stream.h"

/* Fills of one direction per wakeup before the loop serves other connections. */
#define PUMP_ROUNDS 16

/* Bytes a direction of a two-way relay carries through libuv's own reads (stream mode) before
 * the relay switches to splice: a short exchange costs no poll handle, pipe or epoll change. */
#define STREAM_MAX PC_BUF_SIZE

/* Bytes on their way from one side to the other: in the pipe or in the buffer, never in both,
 * and at most one fill of either (the bound a reader that never reads can cost). */
struct relay_dir {
	int pipe[2];    /* -1 while nothing is in flight or splice is not used */
	size_t in_pipe; /* bytes in the pipe */
	char *buf;      /* pending bytes, or the fill when not splicing */
	size_t off, len;
	uint64_t left;     /* bytes this direction may still read */
	uint64_t streamed; /* bytes read in stream mode */
	bool no_splice;    /* splice refused these descriptors: always the buffer */
	bool eof;          /* the source has sent EOF (or the direction is not used) */
	bool shut;         /* ... and it was passed on: this direction has ended */
};

struct relay_side {
	uv_poll_t poll;
	int fd;
	bool open;  /* poll initialised, not yet closed */
	int events; /* what poll is started for; -1 after libuv stopped it on an error */
};

/* On the heap, not in struct pc_relay: libuv releases poll handles only after a loop iteration,
 * possibly after the caller has freed the memory that held its struct pc_relay. */
struct pc_relay_core {
	struct relay_side side[2];
	struct relay_dir dir[2]; /* dir[i] carries bytes from side i to side 1 - i */
	uv_tcp_t *tcp[2];
	void *tcp_data[2];  /* the handles' own data pointers, theirs again after stream mode */
	struct pc_relay *r; /* NULL once the relay has ended */
	struct pc_bufpool *pool;
	uv_timer_t *timer;
	uint64_t idle_ms;
	uint64_t last_activity;
	int handles;       /* poll handles whose close callback is still due */
	bool one_way;      /* dir[0] only, ending at its limit or EOF: nothing is shut down */
	bool until_answer; /* one way: side 1 is polled for readable too, and ends it */
	bool streaming;    /* stream mode: libuv reads both handles, no poll is open */
};

static size_t in_flight(const struct relay_dir *d)
{
	return d->in_pipe + (d->len - d->off);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct pc_relay_core *c = h->data;

	if (--c->handles == 0)
		free(c);
}

/* Gives the pipe and buffer of d back; a pipe that still holds bytes is closed. */
static void release(struct pc_relay_core *c, struct relay_dir *d)
{
	pc_pipe_put(c->pool, d->pipe, d->in_pipe == 0);
	d->in_pipe = 0;
	pc_buf_put(c->pool, d->buf);
	d->buf = NULL;
	d->off = d->len = 0;
}

/* Ends everything the relay holds; the core frees itself once libuv lets go of the polls. */
static void stream_stop(struct pc_relay_core *c);

static void core_stop(struct pc_relay_core *c)
{
	stream_stop(c);
	uv_timer_stop(c->timer);
	for (int i = 0; i < 2; i++)
		release(c, &c->dir[i]);
	c->r->core = NULL;
	c->r = NULL;
	for (int i = 0; i < 2; i++) {
		/* closing stops the poll at once (epoll forgets the descriptor), so the handle's
		 * own watcher can take the descriptor again right away */
		if (c->side[i].open) {
			c->side[i].open = false;
			uv_close((uv_handle_t *)&c->side[i].poll, on_poll_closed);
		}
	}
	if (c->handles == 0)
		free(c);
}

static void finish(struct pc_relay_core *c, int status)
{
	struct pc_relay *r = c->r;
	struct pc_bufpool *pool = c->pool;
	struct relay_dir *d = &c->dir[0];
	char *unsent = NULL;

	if (r == NULL)
		return;
	/* an answer's unsent bytes are in the buffer (see answer); it outlives the callback */
	if (status == 0 && r->answered && d->len > d->off) {
		unsent = d->buf;
		r->unsent = d->buf + d->off;
		r->unsent_len = d->len - d->off;
		d->buf = NULL;
		d->off = d->len = 0;
	}
	core_stop(c);
	r->done(r, status); /* r may be gone after this */
	pc_buf_put(pool, unsent);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Polls each side for what its directions wait for: readable when the direction from it is
 * empty and open, writable when the direction towards it holds bytes. */
static void update_polls(struct pc_relay_core *c)
{
	for (int i = 0; i < 2; i++) {
		struct relay_side *s = &c->side[i];
		const struct relay_dir *from = &c->dir[i];
		int ev = 0;

		if (!from->eof && from->left > 0 && in_flight(from) == 0)
			ev |= UV_READABLE;
		if (i == 1 && c->until_answer && !c->r->answered)
			ev |= UV_READABLE;
		if (in_flight(&c->dir[1 - i]) > 0)
			ev |= UV_WRITABLE;
		/* every change costs epoll_ctl calls (libuv removes and re-adds the descriptor) */
		if (ev != s->events) {
			int rc = uv_poll_start(&s->poll, ev, on_poll);
			if (rc < 0) {
				finish(c, rc);
				return;
			}
			s->events = ev;
		}
	}
}

static bool transient(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* Reads what side i has into its direction, which is empty, never more than the direction's
 * limit. Returns the bytes read, 0 at EOF, PC_AGAIN when nothing is there, or -errno. */
static ssize_t fill(struct pc_relay_core *c, int i)
{
	struct relay_dir *d = &c->dir[i];
	int fd = c->side[i].fd;
	size_t want;
	ssize_t n;

	/* no pipe (fds exhausted, the pool's limit): this fill goes through the buffer */
	if (!d->no_splice && d->pipe[0] < 0 && d->buf == NULL)
		(void)pc_pipe_get(c->pool, d->pipe);
	if (d->pipe[0] >= 0) {
		/* what an answer leaves unsent must fit the buffer it is handed back in */
		size_t cap = c->until_answer ? PC_BUF_SIZE : PC_PIPE_SIZE;

		want = d->left < cap ? (size_t)d->left : cap;
		n = splice(fd, NULL, d->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->in_pipe = (size_t)n;
		if (n >= 0)
			return n;
		if (transient(errno))
			return PC_AGAIN;
		if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		/* nothing was moved: the buffer does the same job */
		d->no_splice = true;
		pc_pipe_put(c->pool, d->pipe, true);
	}
	if (d->buf == NULL && (d->buf = pc_buf_get(c->pool)) == NULL)
		return -ENOMEM;
	want = d->left < PC_BUF_SIZE ? (size_t)d->left : PC_BUF_SIZE;
	n = recv(fd, d->buf, want, 0);
	if (n > 0) {
		d->off = 0;
		d->len = (size_t)n;
	}
	if (n >= 0)
		return n;
	return transient(errno) ? PC_AGAIN : -errno;
}

/* Writes the bytes in flight in direction i to the other side. Returns 1 when all are out, 0
 * when that side takes no more for now, or -errno. */
static int drain(struct pc_relay_core *c, int i)
{
	struct relay_dir *d = &c->dir[i];
	int fd = c->side[1 - i].fd;
	ssize_t n;

	if (d->in_pipe > 0)
		n = splice(d->pipe[0], NULL, fd, NULL, d->in_pipe,
		           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	else
		n = send(fd, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
	if (n < 0)
		return transient(errno) ? 0 : -errno;
	if (n == 0)
		return -EIO; /* cannot happen with bytes to write; waiting would spin */
	c->last_activity = uv_now(c->timer->loop);
	if (d->in_pipe > 0)
		d->in_pipe -= (size_t)n;
	else
		d->off += (size_t)n;
	/* a short write means the socket buffer is full: the next try would fail */
	return in_flight(d) == 0;
}

/* Direction i has delivered everything up to its end (EOF, or its limit one way). */
static void dir_ended(struct pc_relay_core *c, int i)
{
	struct relay_dir *d = &c->dir[i];

	release(c, d);
	if (c->one_way) {
		finish(c, 0);
		return;
	}
	/* When the other direction has ended too, the caller's close sends this FIN (see
	 * pc_relay_done_cb): one syscall less per tunnel. Nothing is left unread on that side, so
	 * the close cannot turn into a reset. ENOTCONN: the other side is gone already; its own
	 * direction reports that. */
	if (!d->shut) {
		d->shut = true;
		if (!c->dir[1 - i].shut && shutdown(c->side[1 - i].fd, SHUT_WR) < 0 &&
		    errno != ENOTCONN) {
			finish(c, -errno);
			return;
		}
	}
	if (c->dir[1 - i].shut)
		finish(c, 0);
}

/* Moves bytes in direction i until the source is empty, the destination full, the direction
 * ended, or its share of this wakeup is used up. */
static void pump(struct pc_relay_core *c, int i)
{
	struct relay_dir *d = &c->dir[i];
	ssize_t n;
	int rc;

	for (int round = 0;; round++) {
		if (in_flight(d) > 0) {
			rc = drain(c, i);
			if (rc < 0) {
				finish(c, rc);
				return;
			}
			if (rc == 0)
				return;
		}
		if (d->eof || d->left == 0) {
			if (!d->shut)
				dir_ended(c, i);
			return;
		}
		if (round == PUMP_ROUNDS)
			break;
		n = fill(c, i);
		if (n == PC_AGAIN)
			break;
		if (n < 0) {
			finish(c, (int)n);
			return;
		}
		if (n == 0) {
			d->eof = true;
			c->r->eof[i] = true;
			continue;
		}
		d->left -= (uint64_t)n;
		c->r->bytes[i] += (uint64_t)n;
		c->last_activity = uv_now(c->timer->loop);
	}
	/* drained: an idle direction holds neither pipe nor buffer */
	release(c, d);
}

/* One way with PC_RELAY_UNTIL_ANSWER, `to` has spoken: the relay ends now. The bytes in flight
 * go out if `to` takes them at once; the rest is handed back (finish), since a receiver that
 * answered may read nothing more, and waiting for it would hold the answer up. */
static void answer(struct pc_relay_core *c)
{
	struct relay_dir *d = &c->dir[0];
	int rc = in_flight(d) > 0 ? drain(c, 0) : 1;

	c->r->answered = true;
	if (rc < 0) {
		finish(c, rc);
		return;
	}
	if (d->in_pipe > 0) {
		/* out of the pipe into the buffer: at most one fill, which the buffer holds */
		ssize_t n;

		if (d->buf == NULL && (d->buf = pc_buf_get(c->pool)) == NULL) {
			finish(c, -ENOMEM);
			return;
		}
		n = read(d->pipe[0], d->buf, d->in_pipe);
		if (n < 0 || (size_t)n != d->in_pipe) {
			finish(c, n < 0 ? -errno : -EIO);
			return;
		}
		d->in_pipe = 0;
		d->off = 0;
		d->len = (size_t)n;
	}
	finish(c, 0);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct pc_relay_core *c = h->data;
	int i = h == &c->side[0].poll ? 0 : 1;

	if (c->r == NULL)
		return;
	if (status < 0) {
		/* POLLERR: libuv has stopped this poll. The socket's error ends the relay; without
		 * one (another step already took it), the directions find out by themselves. */
		int err = 0;
		socklen_t len = sizeof(err);

		c->side[i].events = -1;
		if (getsockopt(c->side[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
			finish(c, -err);
			return;
		}
		events = UV_READABLE | UV_WRITABLE;
	}
	if (i == 1 && c->until_answer && (events & UV_READABLE)) {
		answer(c);
		return;
	}
	/* the direction towards side i first: draining it may let the other one move */
	if (events & UV_WRITABLE)
		pump(c, 1 - i);
	if (c->r != NULL && (events & UV_READABLE))
		pump(c, i);
	if (c->r != NULL)
		update_polls(c);
}

static void on_idle(uv_timer_t *t)
{
	struct pc_relay_core *c = t->data;
	uint64_t now = uv_now(t->loop), quiet = now - c->last_activity;

	if (quiet >= c->idle_ms) {
		finish(c, -ETIMEDOUT);
		return;
	}
	/* Activity restarts nothing per byte: the timer wakes at the old deadline and sleeps on. */
	uv_timer_start(t, on_idle, c->idle_ms - quiet, 0);
}

/* Polls side i through the handle's own descriptor. Returns 0, UV_EEXIST while the handle's
 * watcher still holds the descriptor, or another negative error. */
static int side_open(struct pc_relay_core *c, int i)
{
	struct relay_side *s = &c->side[i];
	int rc;

	if (s->open)
		return 0;
	rc = uv_poll_init(c->timer->loop, &s->poll, s->fd);
	if (rc < 0)
		return rc;
	s->poll.data = c;
	s->open = true;
	s->events = 0;
	c->handles++;
	return 0;
}

/* Opens both polls and starts moving. Returns 0, UV_EEXIST, or another negative error. */
static int core_run(struct pc_relay_core *c)
{
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++)
		rc = side_open(c, i);
	if (rc < 0)
		return rc;
	uv_timer_start(c->timer, on_idle, c->idle_ms, 0);
	update_polls(c);
	return 0;
}

static void on_deferred(uv_timer_t *t)
{
	struct pc_relay_core *c = t->data;
	int rc = core_run(c);

	if (rc < 0)
		finish(c, rc == UV_EEXIST ? -EBUSY : rc);
}

/* Starts polling now, or, while a handle's watcher still holds its descriptor (the callback of
 * a write that had to wait for the socket is running: libuv lets go of the descriptor when it
 * returns), at the next turn of the loop. Returns 0 or a negative error. */
static int core_go(struct pc_relay_core *c)
{
	int rc = core_run(c);

	if (rc == UV_EEXIST)
		rc = uv_timer_start(c->timer, on_deferred, 0, 0);
	return rc;
}

/* ---- stream mode ----
 * A two-way relay first lets libuv read both handles (they were read until just now, so this
 * costs no epoll change) and writes what comes with uv_try_write. As soon as a direction has
 * carried more than STREAM_MAX bytes, or the other side does not take a read at once, both
 * handles stop reading and the relay goes on with polls and splice, the unwritten bytes pending
 * in the buffer. So a stream-mode direction never holds bytes between callbacks, and the
 * backpressure bound is that of the poll mode. */

/* Leaves stream mode: the handles stop reading and get their data pointers back. */
static void stream_stop(struct pc_relay_core *c)
{
	if (!c->streaming)
		return;
	c->streaming = false;
	for (int i = 0; i < 2; i++) {
		uv_read_stop((uv_stream_t *)c->tcp[i]);
		c->tcp[i]->data = c->tcp_data[i];
	}
}

static int stream_side(const struct pc_relay_core *c, const uv_handle_t *h)
{
	return h == (const uv_handle_t *)c->tcp[0] ? 0 : 1;
}

static void on_stream_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct pc_relay_core *c = h->data;
	struct relay_dir *d = &c->dir[stream_side(c, h)];
	(void)hint;

	if (d->buf == NULL)
		d->buf = pc_buf_get(c->pool);
	/* no buffer: libuv reports UV_ENOBUFS to the read callback */
	*buf = uv_buf_init(d->buf, d->buf != NULL ? PC_BUF_SIZE : 0);
}

/* Switches from stream mode to polls and splice. */
static void stream_to_splice(struct pc_relay_core *c)
{
	int rc;

	stream_stop(c);
	rc = core_go(c);
	if (rc < 0)
		finish(c, rc);
}

/* Whether side i's EOF is already queued behind the bytes just read. A read that did not fill
 * the buffer took all there was, so a peer that sent its last bytes and its FIN together (an
 * origin answering a one-request tunnel) shows the EOF to a one-byte peek at once. */
static bool eof_queued(const struct pc_relay_core *c, int i)
{
	char byte;

	return recv(c->side[i].fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Writes the bytes just read from side i on, knowing they are its last: MSG_MORE holds them in
 * the socket until the shutdown (or close) that passes the EOF on, which then leaves as one
 * segment with them instead of a FIN of its own. Returns the bytes written or -errno. */
static ssize_t send_last(struct pc_relay_core *c, int i, const char *bytes, size_t len)
{
	ssize_t n = send(c->side[1 - i].fd, bytes, len, MSG_NOSIGNAL | MSG_MORE);

	if (n >= 0)
		return n;
	return transient(errno) ? 0 : -errno;
}

static void on_stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pc_relay_core *c = s->data;
	int i = stream_side(c, (uv_handle_t *)s);
	struct relay_dir *d = &c->dir[i];
	bool last = false;
	uv_buf_t out;
	int rc;
	(void)buf;

	if (nread == UV_EOF) {
		d->eof = true;
		c->r->eof[i] = true;
		dir_ended(c, i);
		return;
	}
	if (nread < 0) {
		finish(c, nread == UV_ENOBUFS ? -ENOMEM : (int)nread);
		return;
	}
	if (nread > 0) {
		d->off = 0;
		d->len = (size_t)nread;
		d->streamed += (uint64_t)nread;
		d->left -= (uint64_t)nread;
		c->r->bytes[i] += (uint64_t)nread;
		c->last_activity = uv_now(c->timer->loop);
		/* Only a side that answers ends that way: a first request is not worth a peek. */
		last = (size_t)nread < PC_BUF_SIZE && c->r->bytes[1 - i] > 0 && eof_queued(c, i);
		if (last) {
			rc = (int)send_last(c, i, d->buf, (size_t)nread);
		} else {
			out = uv_buf_init(d->buf, (unsigned)nread);
			rc = uv_try_write((uv_stream_t *)c->tcp[1 - i], &out, 1);
			if (rc == UV_EAGAIN)
				rc = 0;
		}
		if (rc < 0) {
			finish(c, rc);
			return;
		}
		d->off = (size_t)rc;
	}
	if (last) {
		/* libuv need not read the EOF itself: this side is done sending */
		uv_read_stop(s);
		d->eof = true;
		c->r->eof[i] = true;
		if (in_flight(d) == 0) {
			dir_ended(c, i);
			return;
		}
	}
	/* all written (or nothing read): an idle direction holds no buffer */
	if (in_flight(d) == 0)
		release(c, d);
	if (in_flight(d) > 0 || d->streamed > STREAM_MAX)
		stream_to_splice(c);
}

/* Starts stream mode: 0, or a negative error when libuv will not read a handle (the relay then
 * polls instead). */
static int stream_start(struct pc_relay_core *c)
{
	int rc = 0;

	for (int i = 0; i < 2; i++) {
		c->tcp_data[i] = c->tcp[i]->data;
		c->tcp[i]->data = c;
	}
	c->streaming = true;
	/* a handle the caller was reading goes on reading with our callbacks */
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = pc_stream_read((uv_stream_t *)c->tcp[i], on_stream_alloc, on_stream_read);
	if (rc < 0) {
		stream_stop(c);
		return rc;
	}
	uv_timer_start(c->timer, on_idle, c->idle_ms, 0);
	return 0;
}

/* Sends bytes already read from side i on; what the other side does not take at once waits in
 * a buffer. */
static int push_pending(struct pc_relay_core *c, int i, const char *data, size_t len)
{
	struct relay_dir *d = &c->dir[i];
	ssize_t n;

	if (len == 0)
		return 0;
	c->r->bytes[i] += len;
	n = send(c->side[1 - i].fd, data, len, MSG_NOSIGNAL);
	if (n < 0 && !transient(errno))
		return -errno;
	if (n < 0)
		n = 0;
	if ((size_t)n == len)
		return 0;
	d->buf = pc_buf_get(c->pool);
	if (d->buf == NULL)
		return -ENOMEM;
	d->len = len - (size_t)n;
	memcpy(d->buf, data + n, d->len);
	return 0;
}

/* The core of a relay between the descriptors of a and b, not yet polling. */
static int core_new(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *a, uv_tcp_t *b,
                    uv_timer_t *timer, uint64_t idle_ms, pc_relay_done_cb done, void *data)
{
	uv_tcp_t *tcp[2] = {a, b};
	struct pc_relay_core *c;

	memset(r, 0, sizeof(*r));
	r->done = done;
	r->data = data;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->r = r;
	c->pool = pool;
	c->timer = timer;
	c->idle_ms = idle_ms;
	c->last_activity = uv_now(timer->loop);
	r->core = c;
	timer->data = c;
	for (int i = 0; i < 2; i++) {
		uv_os_fd_t fd;
		int rc = uv_fileno((uv_handle_t *)tcp[i], &fd);

		c->dir[i].pipe[0] = c->dir[i].pipe[1] = -1;
		c->dir[i].left = UINT64_MAX;
		if (rc == 0 && uv_stream_get_write_queue_size((uv_stream_t *)tcp[i]) > 0)
			rc = -EBUSY;
		if (rc < 0) {
			core_stop(c);
			return rc;
		}
		c->side[i].fd = fd;
		c->tcp[i] = tcp[i];
	}
	return 0;
}

/* Starts polling; a failure ends the core without a callback. */
static int core_start(struct pc_relay_core *c)
{
	int rc = core_go(c);

	if (rc < 0)
		core_stop(c);
	return rc;
}

int pc_relay_start(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *a, uv_tcp_t *b,
                   uv_timer_t *timer, uint64_t idle_ms, const char *pending_a, size_t pending_a_len,
                   const char *pending_b, size_t pending_b_len, pc_relay_done_cb done, void *data)
{
	const char *pending[2] = {pending_a, pending_b};
	size_t pending_len[2] = {pending_a_len, pending_b_len};
	int rc;

	if (pending_a_len > PC_BUF_SIZE || pending_b_len > PC_BUF_SIZE) {
		memset(r, 0, sizeof(*r));
		return -EINVAL;
	}
	rc = core_new(r, pool, a, b, timer, idle_ms, done, data);
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = push_pending(r->core, i, pending[i], pending_len[i]);
	if (rc < 0) {
		pc_relay_stop(r);
		return rc;
	}
	/* pending bytes the other side did not take at once: the polls wait for it */
	if (in_flight(&r->core->dir[0]) == 0 && in_flight(&r->core->dir[1]) == 0 &&
	    stream_start(r->core) == 0)
		return 0;
	/* a poll can have a descriptor only while its handle is not being read */
	for (int i = 0; i < 2; i++)
		uv_read_stop((uv_stream_t *)r->core->tcp[i]);
	return core_start(r->core);
}

int pc_relay_forward(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *from, uv_tcp_t *to,
                     uint64_t limit, unsigned flags, uv_timer_t *timer, uint64_t idle_ms,
                     pc_relay_done_cb done, void *data)
{
	struct pc_relay_core *c;
	int rc;

	if (limit == 0 || (flags & ~(unsigned)PC_RELAY_UNTIL_ANSWER) != 0) {
		memset(r, 0, sizeof(*r));
		return -EINVAL;
	}
	rc = core_new(r, pool, from, to, timer, idle_ms, done, data);
	if (rc < 0)
		return rc;
	c = r->core;
	c->one_way = true;
	c->until_answer = (flags & PC_RELAY_UNTIL_ANSWER) != 0;
	c->dir[0].left = limit;
	c->dir[1].eof = c->dir[1].shut = true;
	return core_start(c);
}

void pc_relay_stop(struct pc_relay *r)
{
	if (r->core != NULL)
		core_stop(r->core);
}
