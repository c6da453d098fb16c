/* Happy-eyeballs dialing over a fixed address list; see dial.h and docs/dialing.md. */
#include "net/dial.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct attempt {
	uv_tcp_t *tcp; /* the start of a block of pc_dial.size bytes; NULL when not open */
	uv_connect_t req;
	struct pc_dial *d;
	union pc_sockaddr local; /* of the winner */
};

struct pc_dial {
	uv_loop_t *loop;
	uv_timer_t delay;    /* starts the next attempt; defers a result known while starting */
	uv_timer_t deadline; /* the overall timeout */
	int open_handles;    /* freed when done and every handle has closed */
	bool done;           /* reported or cancelled: no callback from here on */
	bool starting;       /* inside pc_dial_start: results must be deferred */
	pc_dial_cb cb;
	void *data;
	size_t size;               /* of each attempt's block, its uv_tcp_t first */
	struct pc_addr_list addrs; /* in dialing order */
	unsigned next;             /* index of the next address to try */
	unsigned in_flight;        /* attempts connecting */
	int error;                 /* most telling attempt error so far */
	struct pc_dial_stats stats;
	/* pc_dial_start_name */
	struct pc_resolve_req *req;
	bool (*check)(void *data, const struct sockaddr *sa);
	uint16_t port;
	struct attempt attempts[PC_ADDRS_MAX]; /* attempts[i] dials addrs.addrs[i] */
};

void pc_dial_order(struct pc_addr_list *list)
{
	union pc_sockaddr same[PC_ADDRS_MAX], other[PC_ADDRS_MAX];
	unsigned n_same = 0, n_other = 0, k = 0;
	sa_family_t first;

	if (!list || list->n == 0 || list->n > PC_ADDRS_MAX)
		return;
	first = list->addrs[0].sa.sa_family;
	for (unsigned i = 0; i < list->n; i++) {
		if (list->addrs[i].sa.sa_family == first)
			same[n_same++] = list->addrs[i];
		else
			other[n_other++] = list->addrs[i];
	}
	for (unsigned i = 0; i < n_same || i < n_other; i++) {
		if (i < n_same)
			list->addrs[k++] = same[i];
		if (i < n_other)
			list->addrs[k++] = other[i];
	}
}

/* How much an attempt error says about the destination. A refusal means the host answered;
 * unreachable errors say where the path ends; errors meaning this machine cannot use that
 * family at all say least. */
static int error_rank(int err)
{
	switch (-err) {
	case 0:
		return 0;
	case ECONNREFUSED:
		return 6;
	case ETIMEDOUT:
	case ECONNRESET:
		return 5;
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case EACCES:
	case EPERM:
		return 4;
	case ENETUNREACH:
	case ENETDOWN:
		return 3;
	case EAFNOSUPPORT:
	case EADDRNOTAVAIL:
	case EPROTONOSUPPORT:
		return 1;
	default:
		return 2;
	}
}

static void note_error(struct pc_dial *d, int err)
{
	d->stats.failed++;
	if (error_rank(err) > error_rank(d->error))
		d->error = err;
}

static void handle_closed(struct pc_dial *d)
{
	if (--d->open_handles == 0 && d->done)
		free(d);
}

static void on_timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void on_attempt_closed(uv_handle_t *h)
{
	struct pc_dial *d = h->data;

	free(h);
	handle_closed(d);
}

/* Closes the attempt's handle (and so its socket, which leaves epoll at once) unless it is the
 * winner, which is handed over. A pending connect request completes with UV_ECANCELED. */
static void attempt_close(struct attempt *a, bool keep)
{
	if (a->tcp == NULL)
		return;
	if (!keep) {
		a->d->open_handles++;
		a->tcp->data = a->d;
		uv_close((uv_handle_t *)a->tcp, on_attempt_closed);
	}
	a->tcp = NULL;
	a->d->in_flight--;
}

/* Ends the dial: no callback after this, every handle closing. Returns the winner's handle (or
 * NULL), which the caller passes on. */
static uv_tcp_t *dial_end(struct pc_dial *d, struct attempt *winner)
{
	uv_tcp_t *tcp = winner ? winner->tcp : NULL;

	d->done = true;
	d->cb = NULL;
	if (d->req) {
		pc_resolve_cancel(d->req);
		d->req = NULL;
	}
	for (unsigned i = 0; i < d->next; i++)
		attempt_close(&d->attempts[i], &d->attempts[i] == winner);
	uv_close((uv_handle_t *)&d->delay, on_timer_closed);
	uv_close((uv_handle_t *)&d->deadline, on_timer_closed);
	return tcp;
}

/* Reports and ends; d stays allocated during the callback (its handles are closing). */
static void finish(struct pc_dial *d, int status, struct attempt *winner)
{
	pc_dial_cb cb = d->cb;
	void *data = d->data;
	union pc_sockaddr peer, local;
	uv_tcp_t *tcp;

	if (winner) {
		peer = d->addrs.addrs[winner - d->attempts];
		local = winner->local;
	}
	tcp = dial_end(d, winner);
	if (tcp != NULL)
		tcp->data = NULL;
	cb(data, status, tcp, winner ? &peer : NULL, winner ? &local : NULL);
}

static void on_deferred_failure(uv_timer_t *t)
{
	struct pc_dial *d = t->data;

	finish(d, d->error, NULL);
}

static void fail(struct pc_dial *d)
{
	/* Only attempts failing inside pc_dial_start get here synchronously; the delay timer is
	 * idle then (no attempt is in flight). */
	if (d->starting)
		uv_timer_start(&d->delay, on_deferred_failure, 0, 0);
	else
		finish(d, d->error, NULL);
}

static void on_attempt(uv_connect_t *req, int status);

/* An attempt reads from the start, with a buffer of nothing. When its connect completes,
 * libuv then only drops EPOLLOUT from the descriptor's registration (one EPOLL_CTL_MOD); a
 * handle that was not reading would lose the registration and need it made again when its
 * taker starts reading (an ADD that fails with EEXIST, then a MOD). Bytes or an EOF that come
 * before the taker reads stay in the kernel: the empty buffer makes libuv report UV_ENOBUFS
 * without reading, and reading stops. */
static void park_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(NULL, 0);
}

static void park_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)nread;
	(void)buf;
	uv_read_stop(s);
}

/* Opens a socket and starts a non-blocking connect to addrs[i]. Returns 0 or a negative error
 * (the attempt is then closed). */
static int attempt_start(struct pc_dial *d, unsigned i)
{
	struct attempt *a = &d->attempts[i];
	const union pc_sockaddr *addr = &d->addrs.addrs[i];
	uv_tcp_t *tcp = calloc(1, d->size);
	int rc;

	if (tcp == NULL)
		return -ENOMEM;
	/* the socket is made at once (socket() errors such as EMFILE are this attempt's) */
	rc = uv_tcp_init_ex(d->loop, tcp, addr->sa.sa_family);
	if (rc < 0) {
		free(tcp);
		return rc;
	}
	a->tcp = tcp;
	d->in_flight++;
	a->req.data = a;
	rc = uv_tcp_nodelay(tcp, 1);
	/* a refusal known at once is reported by the request like any other */
	if (rc == 0)
		rc = uv_tcp_connect(&a->req, tcp, &addr->sa, on_attempt);
	if (rc == 0)
		rc = uv_read_start((uv_stream_t *)tcp, park_alloc, park_read);
	if (rc < 0)
		attempt_close(a, false);
	return rc;
}

static void on_delay(uv_timer_t *t);

/* Starts the next attempt that can be started; reports failure when none is left and none is
 * in flight. */
static void try_next(struct pc_dial *d)
{
	while (d->next < d->addrs.n) {
		int rc = attempt_start(d, d->next++);

		d->stats.attempts++;
		if (rc == 0) {
			if (d->next < d->addrs.n)
				uv_timer_start(&d->delay, on_delay, PC_DIAL_ATTEMPT_DELAY_MS, 0);
			return;
		}
		note_error(d, rc);
	}
	if (d->in_flight == 0)
		fail(d);
}

static void on_delay(uv_timer_t *t)
{
	struct pc_dial *d = t->data;

	d->stats.delayed++;
	try_next(d);
}

/* TCP simultaneous open lets a socket connect to itself when the kernel picks the destination
 * port as its local port on the same address (dialing a local port nobody listens on). The
 * peer of a connected socket is the address it was asked to connect to, so only the local end
 * needs asking; it is kept for the callback. */
static bool connected_to_itself(struct attempt *a, const union pc_sockaddr *dest)
{
	union pc_sockaddr *local = &a->local;
	int llen = (int)sizeof(*local);

	if (uv_tcp_getsockname(a->tcp, &local->sa, &llen) != 0) {
		memset(local, 0, sizeof(*local));
		return false;
	}
	if (local->sa.sa_family != dest->sa.sa_family)
		return false;
	if (local->sa.sa_family == AF_INET)
		return local->in.sin_port == dest->in.sin_port &&
		       local->in.sin_addr.s_addr == dest->in.sin_addr.s_addr;
	return local->in6.sin6_port == dest->in6.sin6_port &&
	       memcmp(&local->in6.sin6_addr, &dest->in6.sin6_addr, sizeof(struct in6_addr)) == 0;
}

static void on_attempt(uv_connect_t *req, int status)
{
	struct attempt *a = req->data;
	struct pc_dial *d = a->d;

	if (a->tcp == NULL)
		return; /* closed: the dial ended, or the attempt failed to start */
	if (status == 0) {
		if (!connected_to_itself(a, &d->addrs.addrs[a - d->attempts])) {
			finish(d, 0, a);
			return;
		}
		status = -ECONNREFUSED; /* nobody listened there */
	}
	note_error(d, status);
	attempt_close(a, false);
	/* The newest attempt failing starts the next one now instead of after the delay. */
	if (a == &d->attempts[d->next - 1] || d->in_flight == 0) {
		uv_timer_stop(&d->delay);
		try_next(d);
	}
}

static void on_deadline(uv_timer_t *t)
{
	finish(t->data, -ETIMEDOUT, NULL);
}

static struct pc_dial *dial_new(uv_loop_t *loop, size_t size, pc_dial_cb cb, void *data)
{
	struct pc_dial *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->loop = loop;
	d->size = size;
	d->cb = cb;
	d->data = data;
	for (unsigned i = 0; i < PC_ADDRS_MAX; i++)
		d->attempts[i].d = d;
	return d;
}

/* Initialises the timers and starts the overall timeout. */
static void dial_arm(struct pc_dial *d, uint32_t timeout_ms)
{
	uv_timer_init(d->loop, &d->delay);
	uv_timer_init(d->loop, &d->deadline);
	d->delay.data = d;
	d->deadline.data = d;
	d->open_handles = 2;
	uv_timer_start(&d->deadline, on_deadline, timeout_ms, 0);
}

int pc_dial_start(uv_loop_t *loop, const struct pc_addr_list *addrs, uint32_t timeout_ms,
                  size_t size, pc_dial_cb cb, void *data, struct pc_dial **out)
{
	struct pc_dial *d;

	if (!loop || !addrs || !cb || timeout_ms == 0 || addrs->n == 0 || addrs->n > PC_ADDRS_MAX ||
	    size < sizeof(uv_tcp_t))
		return -EINVAL;
	for (unsigned i = 0; i < addrs->n; i++)
		if (pc_addr_port(&addrs->addrs[i]) == 0) /* no port, or not AF_INET/AF_INET6 */
			return -EINVAL;
	d = dial_new(loop, size, cb, data);
	if (!d)
		return -ENOMEM;
	d->addrs = *addrs;
	pc_dial_order(&d->addrs);
	dial_arm(d, timeout_ms);
	d->starting = true;
	try_next(d);
	d->starting = false;
	if (out)
		*out = d;
	return 0;
}

static void on_resolved(void *data, int status, const struct pc_addr_list *addrs)
{
	struct pc_dial *d = data;

	d->req = NULL;
	if (status != 0) {
		finish(d, status, NULL);
		return;
	}
	for (unsigned i = 0; i < addrs->n; i++) {
		union pc_sockaddr a = addrs->addrs[i];

		pc_addr_set_port(&a, d->port);
		if (pc_addr_port(&a) != 0 && d->check(d->data, &a.sa))
			d->addrs.addrs[d->addrs.n++] = a;
		if (d->done)
			return; /* check() cancelled the dial */
	}
	if (d->addrs.n == 0) {
		finish(d, -EACCES, NULL);
		return;
	}
	pc_dial_order(&d->addrs);
	try_next(d);
}

int pc_dial_start_name(uv_loop_t *loop, struct pc_resolver *r, const char *name, uint16_t port,
                       uint32_t timeout_ms, size_t size,
                       bool (*check)(void *data, const struct sockaddr *sa), pc_dial_cb cb,
                       void *data, struct pc_dial **out)
{
	struct pc_dial *d;
	int rc;

	if (!loop || !r || !name || port == 0 || timeout_ms == 0 || !check || !cb ||
	    size < sizeof(uv_tcp_t))
		return -EINVAL;
	d = dial_new(loop, size, cb, data);
	if (!d)
		return -ENOMEM;
	d->check = check;
	d->port = port;
	/* The resolver's deadline timer is started first, so at equal expiry times it fires
	 * first and a lookup that used up the whole timeout reads as PC_EDNS_TIMEOUT. */
	rc = pc_resolve_start(r, name, timeout_ms, on_resolved, d, &d->req);
	if (rc != 0) {
		free(d);
		return rc;
	}
	dial_arm(d, timeout_ms);
	if (out)
		*out = d;
	return 0;
}

void pc_dial_cancel(struct pc_dial *d)
{
	if (d && !d->done)
		dial_end(d, NULL);
}

void pc_dial_stats(const struct pc_dial *d, struct pc_dial_stats *out)
{
	*out = d->stats;
}
