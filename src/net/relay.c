#include "net/relay.h"

#include <errno.h>
#include <string.h>

static void relay_finish(struct pc_relay *r, int status)
{
	if (r->finished)
		return;
	pc_relay_stop(r);
	r->finished = true;
	if (r->starting) {
		/* pc_relay_start returns it; the caller never waits for a callback */
		r->start_status = status < 0 ? status : -EPIPE;
		return;
	}
	r->done(r, status);
}

static struct pc_relay_side *other(struct pc_relay_side *s)
{
	return s == &s->relay->side[0] ? &s->relay->side[1] : &s->relay->side[0];
}

static void maybe_done(struct pc_relay *r)
{
	if (r->side[0].shut && r->side[1].shut && !r->side[0].shutting && !r->side[1].shutting)
		relay_finish(r, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct pc_relay_side *to = req->data;
	struct pc_relay *r = to->relay;

	to->shutting = false;
	if (r->finished)
		return;
	if (status < 0 && status != UV_ENOTCONN) {
		relay_finish(r, status);
		return;
	}
	maybe_done(r);
}

/* The sending side `from` has ended and everything it sent was written: pass the EOF on. */
static void pass_eof(struct pc_relay_side *from)
{
	struct pc_relay_side *to = other(from);
	int rc;

	if (to->shut)
		return;
	to->shut = true;
	to->shutting = true;
	to->shutdown_req.data = to;
	rc = uv_shutdown(&to->shutdown_req, (uv_stream_t *)to->tcp, on_shutdown);
	if (rc < 0) {
		to->shutting = false;
		if (rc != UV_ENOTCONN) {
			relay_finish(from->relay, rc);
			return;
		}
	}
	maybe_done(from->relay);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct pc_relay_side *s = h->data;
	(void)suggested;

	s->buf = pc_buf_get(s->relay->pool);
	buf->base = s->buf;
	buf->len = s->buf != NULL ? PC_BUF_SIZE : 0;
}

static void start_reading(struct pc_relay_side *s);
static void flush(struct pc_relay_side *from);

static void on_write(uv_write_t *req, int status)
{
	struct pc_relay_side *from = req->data;
	struct pc_relay *r = from->relay;

	other(from)->writing = false;
	if (r->finished || !r->running) {
		pc_buf_put(r->pool, from->buf);
		from->buf = NULL;
		return;
	}
	if (status < 0) {
		relay_finish(r, status);
		return;
	}
	from->off = from->len;
	flush(from);
}

/* Writes from's pending bytes to the other side; returns the buffer and reads on when done. */
static void flush(struct pc_relay_side *from)
{
	struct pc_relay_side *to = other(from);
	uv_buf_t b;
	int n;

	if (from->off < from->len) {
		b = uv_buf_init(from->buf + from->off, (unsigned)(from->len - from->off));
		n = uv_try_write((uv_stream_t *)to->tcp, &b, 1);
		if (n > 0)
			from->off += (size_t)n;
		else if (n < 0 && n != UV_EAGAIN) {
			relay_finish(from->relay, n);
			return;
		}
	}
	if (from->off < from->len) {
		b = uv_buf_init(from->buf + from->off, (unsigned)(from->len - from->off));
		to->writing = true;
		from->write_req.data = from;
		n = uv_write(&from->write_req, (uv_stream_t *)to->tcp, &b, 1, on_write);
		if (n < 0) {
			to->writing = false;
			relay_finish(from->relay, n);
		}
		return;
	}
	pc_buf_put(from->relay->pool, from->buf);
	from->buf = NULL;
	from->off = from->len = 0;
	if (from->eof)
		pass_eof(from);
	else
		start_reading(from);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct pc_relay_side *s = stream->data;
	struct pc_relay *r = s->relay;
	(void)buf;

	if (nread > 0) {
		s->bytes_in += (uint64_t)nread;
		r->last_activity = uv_now(stream->loop);
		s->off = 0;
		s->len = (size_t)nread;
		uv_read_stop(stream);
		flush(s);
		return;
	}
	pc_buf_put(r->pool, s->buf);
	s->buf = NULL;
	if (nread == 0)
		return;
	if (buf->base == NULL && nread == UV_ENOBUFS) {
		relay_finish(r, -ENOMEM);
		return;
	}
	uv_read_stop(stream);
	if (nread == UV_EOF) {
		s->eof = true;
		pass_eof(s);
		return;
	}
	relay_finish(r, (int)nread);
}

static void start_reading(struct pc_relay_side *s)
{
	int rc = uv_read_start((uv_stream_t *)s->tcp, on_alloc, on_read);

	if (rc < 0)
		relay_finish(s->relay, rc);
}

static void on_idle(uv_timer_t *t)
{
	struct pc_relay *r = t->data;
	uint64_t now = uv_now(t->loop), quiet = now - r->last_activity;

	if (quiet >= r->idle_ms) {
		relay_finish(r, -ETIMEDOUT);
		return;
	}
	/* Activity restarts nothing per byte: the timer wakes at the old deadline and sleeps on. */
	uv_timer_start(t, on_idle, r->idle_ms - quiet, 0);
}

/* Copies bytes already read from side s into its buffer and sends them on. */
static void push_pending(struct pc_relay_side *s, const char *data, size_t len)
{
	struct pc_relay *r = s->relay;

	if (len > PC_BUF_SIZE) {
		relay_finish(r, -EINVAL);
		return;
	}
	s->buf = pc_buf_get(r->pool);
	if (s->buf == NULL) {
		relay_finish(r, -ENOMEM);
		return;
	}
	memcpy(s->buf, data, len);
	s->len = len;
	s->bytes_in = len;
	flush(s);
}

int pc_relay_start(struct pc_relay *r, struct pc_bufpool *pool, uv_tcp_t *a, uv_tcp_t *b,
                   uv_timer_t *timer, uint64_t idle_ms, const char *pending_a, size_t pending_a_len,
                   const char *pending_b, size_t pending_b_len, pc_relay_done_cb done, void *data)
{
	const char *pending[2] = {pending_a, pending_b};
	size_t pending_len[2] = {pending_a_len, pending_b_len};

	memset(r, 0, sizeof(*r));
	r->pool = pool;
	r->timer = timer;
	r->idle_ms = idle_ms;
	r->done = done;
	r->data = data;
	r->running = true;
	r->starting = true;
	r->last_activity = uv_now(a->loop);
	for (int i = 0; i < 2; i++) {
		r->side[i].relay = r;
		r->side[i].tcp = i == 0 ? a : b;
		r->side[i].tcp->data = &r->side[i];
	}
	timer->data = r;
	uv_timer_start(timer, on_idle, idle_ms, 0);
	for (int i = 0; i < 2 && !r->finished; i++) {
		if (pending_len[i] > 0)
			push_pending(&r->side[i], pending[i], pending_len[i]);
		else
			start_reading(&r->side[i]);
	}
	r->starting = false;
	return r->finished ? r->start_status : 0;
}

void pc_relay_stop(struct pc_relay *r)
{
	if (!r->running)
		return;
	r->running = false;
	uv_timer_stop(r->timer);
	for (int i = 0; i < 2; i++) {
		struct pc_relay_side *s = &r->side[i];
		uv_read_stop((uv_stream_t *)s->tcp);
		/* A buffer with a write in flight is still referenced by libuv until the write
		 * completes or is cancelled by closing the handle; the pool gets it back only when
		 * no write holds it. */
		if (!other(s)->writing) {
			pc_buf_put(r->pool, s->buf);
			s->buf = NULL;
		}
	}
}
