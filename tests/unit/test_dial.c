/* The dialer against real loopback sockets on a real uv loop, and pc_dial_start_name against
 * tests/support/dnsserver.py.
 *
 * Destinations: a listening socket (connects), a bound socket that does not listen (refuses),
 * and a blackhole: a listening socket with backlog 0 whose accept queue is already full, so
 * the kernel drops further SYNs and a connect stays in progress until the kernel gives up
 * (minutes). No packet leaves the machine. Every test ends with the loop closing with no
 * handle left and, where it matters, with the same number of open fds as before. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "net/dial.h"
#include "net/listen.h"
#include "net/stream.h"
#include "support/loop.h"

extern char **environ;

#define GUARD_MS 15000 /* no test waits longer than this for anything */
#define LONG_MS  10000 /* a dial timeout no test reaches */

/* ---- destinations ----------------------------------------------------------------------- */

static union pc_sockaddr loopback(int family)
{
	union pc_sockaddr a;

	assert_int_equal(pc_listen_addr_parse(family == AF_INET6 ? "[::1]:0" : "127.0.0.1:0", &a),
	                 0);
	return a;
}

static union pc_sockaddr bound_address(int fd)
{
	union pc_sockaddr a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, &a.sa, &len), 0);
	return a;
}

static bool have_ipv6(void)
{
	union pc_sockaddr a = loopback(AF_INET6);
	int fd = pc_listen_socket(&a, 1);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

struct dest {
	int fd;         /* the destination's own socket */
	int fillers[4]; /* blackhole: connections filling the accept queue */
	int nfillers;
	union pc_sockaddr addr; /* where to dial */
};

static void dest_listening(struct dest *d, int family)
{
	union pc_sockaddr a = loopback(family);

	memset(d, 0, sizeof(*d));
	d->fd = pc_listen_socket(&a, 16);
	assert_true(d->fd >= 0);
	d->addr = bound_address(d->fd);
}

/* Bound, not listening: the port stays ours and every SYN to it gets a RST. */
static void dest_refusing(struct dest *d, int family)
{
	union pc_sockaddr a = loopback(family);

	memset(d, 0, sizeof(*d));
	d->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(d->fd >= 0);
	assert_int_equal(bind(d->fd, &a.sa, pc_addr_len(&a)), 0);
	d->addr = bound_address(d->fd);
}

static bool accept_queue_full(int lfd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	assert_int_equal(getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_unacked > ti.tcpi_sacked; /* queue length > backlog (listener) */
}

static void dest_blackhole(struct dest *d, int family)
{
	union pc_sockaddr a = loopback(family);

	memset(d, 0, sizeof(*d));
	d->fd = pc_listen_socket(&a, 0);
	assert_true(d->fd >= 0);
	d->addr = bound_address(d->fd);
	while (!accept_queue_full(d->fd) && d->nfillers < 4) {
		int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		assert_true(fd >= 0);
		d->fillers[d->nfillers++] = fd;
		assert_true(connect(fd, &d->addr.sa, pc_addr_len(&d->addr)) == 0 ||
		            errno == EINPROGRESS);
		assert_int_equal(poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, 5000), 1);
		/* The server side queues it on the last ACK of the handshake: wait for that. */
		for (int i = 0; i < 500 && !accept_queue_full(d->fd); i++)
			usleep(1000);
	}
	assert_true(accept_queue_full(d->fd));
}

static void dest_close(struct dest *d)
{
	for (int i = 0; i < d->nfillers; i++)
		close(d->fillers[i]);
	close(d->fd);
}

/* Connections waiting to be accepted by a listening destination. */
static int dest_accept_all(struct dest *d)
{
	int n = 0, fd;

	while ((fd = accept4(d->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
		n++;
	}
	assert_int_equal(errno, EAGAIN);
	return n;
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void assert_same_addr(const union pc_sockaddr *a, const union pc_sockaddr *b)
{
	assert_int_equal(a->sa.sa_family, b->sa.sa_family);
	assert_int_equal(pc_addr_len(a), pc_addr_len(b));
	if (a->sa.sa_family == AF_INET) {
		assert_int_equal(a->in.sin_port, b->in.sin_port);
		assert_memory_equal(&a->in.sin_addr, &b->in.sin_addr, 4);
	} else {
		assert_int_equal(a->in6.sin6_port, b->in6.sin6_port);
		assert_memory_equal(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
	}
}

static struct pc_addr_list list_of(struct dest *const *dests, unsigned n)
{
	struct pc_addr_list l = {.n = n};

	for (unsigned i = 0; i < n; i++)
		l.addrs[i] = dests[i]->addr;
	return l;
}

/* ---- loop fixture ----------------------------------------------------------------------- */

struct fixture {
	struct pc_test_loop t;
	int fds_before;
	struct pc_resolver *r;
	/* the dial outcome */
	struct pc_dial *d;
	struct pc_dial_stats st; /* as the callback saw them */
	int calls;
	int status;
	uv_tcp_t *tcp; /* the dialed connection, until conn_close */
	int fd;        /* its descriptor */
	union pc_sockaddr peer, local;
	uint64_t started_ms, done_ms;
	/* check() */
	int checks;
	const char *refuse; /* check() refuses this address text ("*": all) */
	bool cancel_in_check;
	uint16_t checked_port;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || pc_test_loop_init(&f->t, GUARD_MS) != 0)
		return -1;
	f->fd = -1;
	{
		/* libuv keeps one fd per loop from its first stream on (for its EMFILE trick) */
		uv_tcp_t first;

		uv_tcp_init(&f->t.loop, &first);
		uv_close((uv_handle_t *)&first, NULL);
		uv_run(&f->t.loop, UV_RUN_NOWAIT);
	}
	f->fds_before = open_fds();
	*state = f;
	return 0;
}

static void on_conn_closed(uv_handle_t *h)
{
	free(h);
}

/* Closes the dialed connection as its owner must: uv_close, then free. */
static void conn_close(struct fixture *f)
{
	if (f->tcp != NULL)
		uv_close((uv_handle_t *)f->tcp, on_conn_closed);
	f->tcp = NULL;
	f->fd = -1;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	pc_resolver_free(f->r);
	conn_close(f);
	pc_test_loop_close(&f->t);
	free(f);
	return 0;
}

static void on_dial(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                    const union pc_sockaddr *local)
{
	struct fixture *f = data;

	f->calls++;
	pc_dial_stats(f->d, &f->st);
	f->status = status;
	f->tcp = tcp;
	f->fd = -1;
	f->done_ms = uv_now(&f->t.loop);
	if (status == 0) {
		uv_os_fd_t fd;

		assert_non_null(tcp);
		assert_null(tcp->data);
		assert_int_equal(uv_fileno((uv_handle_t *)tcp, &fd), 0);
		f->fd = fd;
		assert_non_null(peer);
		assert_non_null(local);
		f->peer = *peer;
		f->local = *local;
	} else {
		assert_null(tcp);
		assert_null(peer);
		assert_null(local);
	}
}

static void on_forbidden(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                         const union pc_sockaddr *local)
{
	(void)data;
	(void)status;
	(void)tcp;
	(void)peer;
	(void)local;
	fail_msg("a callback ran that must not");
}

static void run_until_called(struct fixture *f)
{
	while (f->calls == 0 && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_false(f->t.expired);
	assert_int_equal(f->calls, 1);
}

/* Dials list, requires the callback not to run inside pc_dial_start, runs to the outcome. */
static void dial(struct fixture *f, const struct pc_addr_list *list, uint32_t timeout_ms)
{
	f->started_ms = uv_now(&f->t.loop);
	assert_int_equal(
	        pc_dial_start(&f->t.loop, list, timeout_ms, sizeof(uv_tcp_t), on_dial, f, &f->d),
	        0);
	assert_int_equal(f->calls, 0);
	run_until_called(f);
}

static void dial_dests(struct fixture *f, struct dest *const *dests, unsigned n,
                       uint32_t timeout_ms)
{
	struct pc_addr_list l = list_of(dests, n);

	f->calls = 0;
	dial(f, &l, timeout_ms);
}

static void dests_close(struct dest *const *dests, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		dest_close(dests[i]);
}

static int sockopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* The outcome is a connection to want: a usable fd, connected there. */
static void assert_connected_to(struct fixture *f, const union pc_sockaddr *want)
{
	union pc_sockaddr peer;
	socklen_t len = sizeof(peer);

	assert_int_equal(f->status, 0);
	assert_same_addr(&f->peer, want);
	assert_int_equal(getpeername(f->fd, &peer.sa, &len), 0);
	assert_same_addr(&peer, want);
	assert_true(fcntl(f->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(f->fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(sockopt_int(f->fd, IPPROTO_TCP, TCP_NODELAY), 1);
	assert_int_equal(sockopt_int(f->fd, SOL_SOCKET, SO_ERROR), 0);
	len = sizeof(peer);
	assert_int_equal(getsockname(f->fd, &peer.sa, &len), 0);
	assert_same_addr(&f->local, &peer);
}

/* Once the loop has closed everything, the process holds exactly the fds it held before
 * the test plus the destinations' (closed by the caller first) and the dialled fd. */
static void assert_no_fd_leak(struct fixture *f)
{
	pc_resolver_free(f->r);
	f->r = NULL;
	conn_close(f);
	for (int i = 0; i < 100 && uv_loop_alive(&f->t.loop); i++)
		uv_run(&f->t.loop, UV_RUN_NOWAIT);
	assert_int_equal(open_fds(), f->fds_before);
}

static void assert_stats(const struct fixture *f, unsigned attempts, unsigned delayed,
                         unsigned failed)
{
	assert_int_equal(f->st.attempts, attempts);
	assert_int_equal(f->st.delayed, delayed);
	assert_int_equal(f->st.failed, failed);
}

/* ---- ordering --------------------------------------------------------------------------- */

static struct pc_addr_list list_from_text(const char *const *texts)
{
	struct pc_addr_list l = {.n = 0};

	for (; *texts; texts++)
		assert_int_equal(pc_listen_addr_parse(*texts, &l.addrs[l.n++]), 0);
	return l;
}

static void test_order(void **state)
{
	/* clang-format off */
	static const char *const cases[][2][PC_ADDRS_MAX + 1] = {
		{{"1.0.0.1:1", NULL}, {"1.0.0.1:1", NULL}},
		{{"1.0.0.1:1", "1.0.0.2:1", NULL}, {"1.0.0.1:1", "1.0.0.2:1", NULL}},
		{{"1.0.0.1:1", "1.0.0.2:1", "[::1]:1", NULL},
		 {"1.0.0.1:1", "[::1]:1", "1.0.0.2:1", NULL}},
		{{"[::1]:1", "[::2]:1", "[::3]:1", "1.0.0.1:1", NULL},
		 {"[::1]:1", "1.0.0.1:1", "[::2]:1", "[::3]:1", NULL}},
		{{"[::1]:1", "1.0.0.1:1", "[::2]:1", "1.0.0.2:1", NULL},
		 {"[::1]:1", "1.0.0.1:1", "[::2]:1", "1.0.0.2:1", NULL}},
		{{"1.0.0.1:1", "1.0.0.2:1", "1.0.0.3:1", "[::1]:1", "[::2]:1", "[::3]:1", NULL},
		 {"1.0.0.1:1", "[::1]:1", "1.0.0.2:1", "[::2]:1", "1.0.0.3:1", "[::3]:1", NULL}},
		{{"1.0.0.9:9", "[::1]:2", "[::1]:1", "1.0.0.8:9", NULL},
		 {"1.0.0.9:9", "[::1]:2", "1.0.0.8:9", "[::1]:1", NULL}},
	};
	/* clang-format on */

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pc_addr_list in = list_from_text(cases[i][0]);
		struct pc_addr_list want = list_from_text(cases[i][1]);

		pc_dial_order(&in);
		assert_int_equal(in.n, want.n);
		for (unsigned k = 0; k < in.n; k++)
			assert_same_addr(&in.addrs[k], &want.addrs[k]);
	}
	pc_dial_order(NULL);
}

/* ---- dialing ---------------------------------------------------------------------------- */

static void connects(struct fixture *f, int family)
{
	struct dest ok;
	struct dest *list[] = {&ok};

	dest_listening(&ok, family);
	dial_dests(f, list, 1, LONG_MS);
	assert_connected_to(f, &ok.addr);
	assert_stats(f, 1, 0, 0);
	assert_int_equal(dest_accept_all(&ok), 1);
	dest_close(&ok);
	assert_no_fd_leak(f);
}

static void test_connects(void **state)
{
	connects(*state, AF_INET);
}

static void test_connects_ipv6(void **state)
{
	if (!have_ipv6())
		skip();
	connects(*state, AF_INET6);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct dest no1, no2;
	struct dest *list[] = {&no1, &no2};

	dest_refusing(&no1, AF_INET);
	dest_refusing(&no2, AF_INET);
	dial_dests(f, list, 1, LONG_MS);
	assert_int_equal(f->status, -ECONNREFUSED);
	dial_dests(f, list, 2, LONG_MS);
	assert_int_equal(f->status, -ECONNREFUSED);
	dests_close(list, 2);
	assert_no_fd_leak(f);
}

/* A refusal starts the next attempt at once, not after the attempt delay. */
static void test_refused_then_second_connects(void **state)
{
	struct fixture *f = *state;
	struct dest no, ok;
	struct dest *list[] = {&no, &ok};

	dest_refusing(&no, AF_INET);
	dest_listening(&ok, AF_INET);
	dial_dests(f, list, 2, LONG_MS);
	assert_connected_to(f, &ok.addr);
	assert_stats(f, 2, 0, 1); /* the second attempt did not wait for the delay */
	assert_int_equal(dest_accept_all(&ok), 1);
	dests_close(list, 2);
	assert_no_fd_leak(f);
}

/* The first address never answers: the second attempt starts after the attempt delay and
 * wins; the first attempt is closed. */
static void happy_eyeballs(struct fixture *f, int hole_family, int ok_family)
{
	struct dest hole, ok;
	struct dest *list[] = {&hole, &ok};

	dest_blackhole(&hole, hole_family);
	dest_listening(&ok, ok_family);
	dial_dests(f, list, 2, LONG_MS);
	assert_connected_to(f, &ok.addr);
	/* A lower bound only: timers never fire early. */
	assert_true(f->done_ms - f->started_ms >= PC_DIAL_ATTEMPT_DELAY_MS);
	assert_stats(f, 2, 1, 0); /* the first is still pending when the second wins */
	assert_int_equal(dest_accept_all(&ok), 1);
	dests_close(list, 2);
	assert_no_fd_leak(f);
}

static void test_happy_eyeballs_delay(void **state)
{
	happy_eyeballs(*state, AF_INET, AF_INET);
}

static void test_happy_eyeballs_delay_v6_to_v4(void **state)
{
	if (!have_ipv6())
		skip();
	happy_eyeballs(*state, AF_INET6, AF_INET);
}

/* While the first attempt hangs, the second is refused: the third starts at once rather than
 * a delay later, and wins. */
static void test_failure_of_newest_attempt_skips_delay(void **state)
{
	struct fixture *f = *state;
	struct dest hole, no, ok;
	struct dest *list[] = {&hole, &no, &ok};

	dest_blackhole(&hole, AF_INET);
	dest_refusing(&no, AF_INET);
	dest_listening(&ok, AF_INET);
	dial_dests(f, list, 3, LONG_MS);
	assert_connected_to(f, &ok.addr);
	assert_stats(f, 3, 1, 1);
	dests_close(list, 3);
	assert_no_fd_leak(f);
}

static void test_overall_timeout(void **state)
{
	struct fixture *f = *state;
	struct dest hole1, hole2;
	struct dest *list[] = {&hole1, &hole2};

	dest_blackhole(&hole1, AF_INET);
	dest_blackhole(&hole2, AF_INET);
	dial_dests(f, list, 1, 100);
	assert_int_equal(f->status, -ETIMEDOUT);
	assert_true(f->done_ms - f->started_ms >= 100);
	/* Both attempts in flight when the deadline comes. */
	dial_dests(f, list, 2, PC_DIAL_ATTEMPT_DELAY_MS + 100);
	assert_int_equal(f->status, -ETIMEDOUT);
	assert_stats(f, 2, 1, 0);
	dests_close(list, 2);
	assert_no_fd_leak(f);
}

/* A refusal says more than a timeout: once the deadline passes, it is still -ETIMEDOUT. */
static void test_timeout_wins_over_earlier_refusal(void **state)
{
	struct fixture *f = *state;
	struct dest no, hole;
	struct dest *list[] = {&hole, &no};

	dest_refusing(&no, AF_INET);
	dest_blackhole(&hole, AF_INET);
	dial_dests(f, list, 2, PC_DIAL_ATTEMPT_DELAY_MS + 100);
	assert_int_equal(f->status, -ETIMEDOUT);
	assert_stats(f, 2, 1, 1);
	dests_close(list, 2);
	assert_no_fd_leak(f);
}

static void test_cancel_leaks_nothing(void **state)
{
	struct fixture *f = *state;
	struct dest holes[3];
	struct dest *list[] = {&holes[0], &holes[1], &holes[2]};
	struct pc_addr_list l;
	struct pc_dial *d = NULL;
	int with_dests;

	for (int i = 0; i < 3; i++)
		dest_blackhole(&holes[i], AF_INET);
	with_dests = open_fds();
	l = list_of(list, 3);
	/* Cancelled with two attempts in flight... */
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d), 0);
	pc_test_loop_run_for(&f->t, PC_DIAL_ATTEMPT_DELAY_MS + 50);
	pc_dial_stats(d, &f->st);
	assert_stats(f, 2, 1, 0);
	assert_int_equal(open_fds(), with_dests + 2);
	pc_dial_cancel(d);
	assert_int_equal(open_fds(), with_dests); /* closed at once */
	pc_test_loop_run_for(&f->t, 2 * PC_DIAL_ATTEMPT_DELAY_MS);
	/* ...and at once, before the loop ran. */
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d), 0);
	pc_dial_cancel(d);
	pc_dial_cancel(NULL);
	pc_test_loop_run_for(&f->t, 20);
	dests_close(list, 3);
	assert_no_fd_leak(f);
}

/* Alternation, seen from which listener gets the connection: a refused first address moves
 * on to the next address of the other family, not to the next one in the list. */
static void test_alternates_families(void **state)
{
	struct fixture *f = *state;
	struct dest no6, ok6, ok4, no4, ok4b, ok6b;
	struct dest *v6_first[] = {&no6, &ok6, &ok4};
	struct dest *v4_first[] = {&no4, &ok4b, &ok6b};

	if (!have_ipv6())
		skip();
	dest_refusing(&no6, AF_INET6);
	dest_listening(&ok6, AF_INET6);
	dest_listening(&ok4, AF_INET);
	dial_dests(f, v6_first, 3, LONG_MS);
	assert_connected_to(f, &ok4.addr);
	assert_stats(f, 2, 0, 1);
	assert_int_equal(dest_accept_all(&ok4), 1);
	assert_int_equal(dest_accept_all(&ok6), 0);
	conn_close(f);

	f->calls = 0;
	dest_refusing(&no4, AF_INET);
	dest_listening(&ok4b, AF_INET);
	dest_listening(&ok6b, AF_INET6);
	dial_dests(f, v4_first, 3, LONG_MS);
	assert_connected_to(f, &ok6b.addr);
	assert_stats(f, 2, 0, 1);
	assert_int_equal(dest_accept_all(&ok6b), 1);
	assert_int_equal(dest_accept_all(&ok4b), 0);

	dests_close(v6_first, 3);
	dests_close(v4_first, 3);
	assert_no_fd_leak(f);
}

/* Every attempt failing inside pc_dial_start (here socket() itself, for lack of fds): the
 * outcome still comes from the loop, never from inside the call. */
static void test_synchronous_failure_is_deferred(void **state)
{
	struct fixture *f = *state;
	struct dest ok;
	struct dest *list[] = {&ok};
	struct pc_addr_list l;
	struct rlimit saved, low;
	int lowest;

	dest_listening(&ok, AF_INET);
	l = list_of(list, 1);
	lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	dial(f, &l, LONG_MS);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(f->status, -EMFILE);
	assert_stats(f, 1, 0, 1);
	assert_int_equal(dest_accept_all(&ok), 0);
	dest_close(&ok);
	assert_no_fd_leak(f);
}

/* The handle the callback gets is the caller's to use at once, from inside the callback, and
 * it starts a zeroed block of the size asked for (a caller's struct with the handle first). */
struct upstream_like {
	uv_tcp_t tcp;
	char tail[200];
};

struct opener {
	struct fixture *f;
	uv_write_t req;
	bool written;
};

static void on_written(uv_write_t *req, int status)
{
	struct opener *o = req->data;

	assert_int_equal(status, 0);
	o->written = true;
	conn_close(o->f);
}

static void on_dial_open(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                         const union pc_sockaddr *local)
{
	static const char zero[sizeof(((struct upstream_like *)0)->tail)];
	struct opener *o = data;
	uv_buf_t buf = uv_buf_init("ping", 4);

	on_dial(o->f, status, tcp, peer, local);
	assert_int_equal(status, 0);
	assert_memory_equal(((struct upstream_like *)tcp)->tail, zero, sizeof(zero));
	o->req.data = o;
	assert_int_equal(uv_write(&o->req, (uv_stream_t *)tcp, &buf, 1, on_written), 0);
}

static void test_handle_writes_from_callback(void **state)
{
	struct fixture *f = *state;
	struct opener o = {.f = f};
	struct dest ok;
	struct dest *list[] = {&ok};
	struct pc_addr_list l;
	char got[8];
	int server;

	dest_listening(&ok, AF_INET);
	l = list_of(list, 1);
	assert_int_equal(pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(struct upstream_like),
	                               on_dial_open, &o, &f->d),
	                 0);
	while (!o.written && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	uv_run(&f->t.loop, UV_RUN_NOWAIT); /* the close callback */
	assert_true(o.written);
	server = accept4(ok.fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(server >= 0);
	assert_int_equal(recv(server, got, sizeof(got), MSG_WAITALL), 4);
	assert_memory_equal(got, "ping", 4);
	close(server);
	dest_close(&ok);
	assert_no_fd_leak(f);
}

/* ---- the winner's reading -------------------------------------------------------------- */

struct taker {
	struct fixture *f;
	bool read_in_callback; /* takes the reading over inside the dial callback */
	char got[64];
	size_t len;
	bool eof;
};

static void taker_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct taker *t = h->data;
	(void)suggested;

	*buf = uv_buf_init(t->got + t->len, (unsigned)(sizeof(t->got) - t->len));
}

static void taker_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct taker *t = s->data;
	(void)buf;

	if (nread == UV_EOF)
		t->eof = true;
	else
		assert_true(nread >= 0);
	if (nread > 0)
		t->len += (size_t)nread;
}

static void take(struct taker *t, uv_tcp_t *tcp)
{
	tcp->data = t;
	assert_int_equal(pc_stream_read((uv_stream_t *)tcp, taker_alloc, taker_read), 0);
}

static void on_dial_take(void *data, int status, uv_tcp_t *tcp, const union pc_sockaddr *peer,
                         const union pc_sockaddr *local)
{
	struct taker *t = data;

	on_dial(t->f, status, tcp, peer, local);
	assert_int_equal(status, 0);
	if (t->read_in_callback)
		take(t, tcp);
}

/* Whatever the peer sends before the winner's taker reads (a server that speaks first) waits
 * in the kernel, EOF included, and reaches the taker whole: when the bytes came before the
 * taker and when they came after it took the reading over. */
static void peer_speaks_first(struct fixture *f, bool read_in_callback)
{
	static const char banner[] = "220 early bytes";
	struct taker t = {.f = f, .read_in_callback = read_in_callback};
	struct dest ok;
	struct dest *list[] = {&ok};
	struct pc_addr_list l;
	struct pollfd p;
	int server, queued = -1;

	dest_listening(&ok, AF_INET);
	l = list_of(list, 1);
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_dial_take, &t, &f->d),
	        0);
	/* the connect has been made: the destination accepts and speaks, then closes its side */
	p = (struct pollfd){.fd = ok.fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, GUARD_MS), 1);
	server = accept4(ok.fd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(server >= 0);
	assert_int_equal(send(server, banner, strlen(banner), 0), (ssize_t)strlen(banner));
	assert_int_equal(shutdown(server, SHUT_WR), 0);
	run_until_called(f);
	pc_test_loop_run_for(&f->t, 50);
	if (!read_in_callback) {
		/* nothing was read for nobody: it is all still in the kernel */
		assert_int_equal(t.len, 0);
		assert_int_equal(ioctl(f->fd, FIONREAD, &queued), 0);
		assert_int_equal(queued, (int)strlen(banner));
		take(&t, f->tcp);
	}
	while (!t.eof && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_true(t.eof);
	assert_int_equal(t.len, strlen(banner));
	assert_memory_equal(t.got, banner, strlen(banner));
	close(server);
	dest_close(&ok);
	assert_no_fd_leak(f);
}

static void test_peer_bytes_wait_for_the_taker(void **state)
{
	peer_speaks_first(*state, false);
}

static void test_taker_reads_from_the_callback(void **state)
{
	peer_speaks_first(*state, true);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct pc_addr_list l = {.n = 1};
	struct pc_dial *d = NULL;

	l.addrs[0] = loopback(AF_INET);
	/* port 0 */
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d),
	        -EINVAL);
	pc_addr_set_port(&l.addrs[0], 9);
	assert_int_equal(pc_dial_start(&f->t.loop, &l, 0, sizeof(uv_tcp_t), on_forbidden, f, &d),
	                 -EINVAL);
	assert_int_equal(pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), NULL, f, &d),
	                 -EINVAL);
	assert_int_equal(
	        pc_dial_start(&f->t.loop, NULL, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d),
	        -EINVAL);
	l.n = 0;
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d),
	        -EINVAL);
	l.n = PC_ADDRS_MAX + 1;
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d),
	        -EINVAL);
	/* a block too small for the handle */
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t) - 1, on_forbidden, f, &d),
	        -EINVAL);
	l.n = 2;
	l.addrs[1].sa.sa_family = AF_UNIX;
	assert_int_equal(
	        pc_dial_start(&f->t.loop, &l, LONG_MS, sizeof(uv_tcp_t), on_forbidden, f, &d),
	        -EINVAL);
	assert_null(d);
	pc_test_loop_run_for(&f->t, 20);
	assert_no_fd_leak(f);
}

/* ---- resolve at dial time --------------------------------------------------------------- */

static struct {
	pid_t pid;
	char dir[256];
	char ready[320];
	char log[320];
	char servers[64];
} dns;

static int dns_start(void **state)
{
	const char *src = getenv("PC_SOURCE_DIR"), *tmp = getenv("TMPDIR");
	char script[512], buf[16];
	unsigned port = 0;

	(void)state;
	if (!src)
		return -1;
	snprintf(script, sizeof(script), "%s/tests/support/dnsserver.py", src);
	snprintf(dns.dir, sizeof(dns.dir), "%s/pc-dial.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dns.dir))
		return -1;
	snprintf(dns.ready, sizeof(dns.ready), "%s/ready", dns.dir);
	snprintf(dns.log, sizeof(dns.log), "%s/log", dns.dir);
	/* clang-format off */
	char *argv[] = {
		"python3", script, "--port", "0", "--ready-file", dns.ready, "--log", dns.log,
		"--exit-with-parent",
		"--record", "one.test", "A", "127.0.0.1",
		"--record", "two.test", "A", "127.0.0.2",
		"--record", "two.test", "A", "127.0.0.1",
		"--record", "txt.test", "TXT", "no addresses",
		"--blackhole", "hole.test",
		NULL,
	};
	/* clang-format on */
	if (posix_spawnp(&dns.pid, "python3", NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 1000 && port == 0; i++) { /* 10 s at most */
		FILE *fp = fopen(dns.ready, "r");

		if (fp) {
			if (fgets(buf, sizeof(buf), fp))
				port = (unsigned)atoi(buf);
			fclose(fp);
		} else if (waitpid(dns.pid, NULL, WNOHANG) == dns.pid) {
			dns.pid = 0;
			return -1;
		} else {
			usleep(10000);
		}
	}
	snprintf(dns.servers, sizeof(dns.servers), "127.0.0.1:%u", port);
	return port ? 0 : -1;
}

static int dns_stop(void **state)
{
	(void)state;
	if (dns.pid > 0) {
		kill(dns.pid, SIGTERM);
		waitpid(dns.pid, NULL, 0);
	}
	unlink(dns.ready);
	unlink(dns.log);
	rmdir(dns.dir);
	return 0;
}

static bool check(void *data, const struct sockaddr *sa)
{
	struct fixture *f = data;
	char text[PC_ADDR_STRLEN];

	f->checks++;
	if (f->cancel_in_check)
		pc_dial_cancel(f->d);
	assert_true(pc_addr_format(sa, text, sizeof(text)) > 0);
	f->checked_port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	return !f->refuse || (strcmp(f->refuse, "*") != 0 && strcmp(f->refuse, text) != 0);
}

static void dial_name(struct fixture *f, const char *name, uint16_t port, uint32_t timeout_ms)
{
	if (!f->r)
		assert_int_equal(pc_resolver_new(&f->t.loop, dns.servers, &f->r), 0);
	f->calls = 0;
	f->checks = 0;
	f->started_ms = uv_now(&f->t.loop);
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, name, port, timeout_ms,
	                                    sizeof(uv_tcp_t), check, on_dial, f, &f->d),
	                 0);
	assert_int_equal(f->calls, 0);
	run_until_called(f);
}

static void test_name_connects(void **state)
{
	struct fixture *f = *state;
	struct dest ok;

	dest_listening(&ok, AF_INET);
	dial_name(f, "one.test", ntohs(ok.addr.in.sin_port), LONG_MS);
	assert_connected_to(f, &ok.addr);
	assert_int_equal(f->checks, 1);
	assert_int_equal(f->checked_port, ntohs(ok.addr.in.sin_port));
	assert_int_equal(dest_accept_all(&ok), 1);
	dest_close(&ok);
	assert_no_fd_leak(f);
}

/* check() is the policy: an address it refuses is never connected to. */
static void test_name_check_refuses(void **state)
{
	struct fixture *f = *state;
	struct dest ok;
	uint16_t port;

	dest_listening(&ok, AF_INET); /* on 127.0.0.1 */
	port = ntohs(ok.addr.in.sin_port);
	f->refuse = "*";
	dial_name(f, "one.test", port, LONG_MS);
	assert_int_equal(f->status, -EACCES);
	assert_int_equal(f->checks, 1);
	assert_stats(f, 0, 0, 0);
	/* Of 127.0.0.2 and 127.0.0.1, only 127.0.0.2 (where nobody listens) is dialled. */
	f->refuse = "127.0.0.1";
	dial_name(f, "two.test", port, LONG_MS);
	assert_int_equal(f->status, -ECONNREFUSED);
	assert_int_equal(f->checks, 2);
	assert_stats(f, 1, 0, 1);
	assert_int_equal(dest_accept_all(&ok), 0);
	dest_close(&ok);
	assert_no_fd_leak(f);
}

static void test_name_dns_errors(void **state)
{
	struct fixture *f = *state;
	struct dest hole;

	dial_name(f, "nx.test", 9, LONG_MS);
	assert_int_equal(f->status, PC_EDNS);
	dial_name(f, "txt.test", 9, LONG_MS);
	assert_int_equal(f->status, PC_EDNS);
	assert_int_equal(f->checks, 0);
	/* The resolver has the whole timeout: a lookup that uses it up is a DNS timeout. */
	dial_name(f, "hole.test", 9, 200);
	assert_int_equal(f->status, PC_EDNS_TIMEOUT);
	/* Resolution and connecting share one deadline. */
	dest_blackhole(&hole, AF_INET);
	dial_name(f, "one.test", ntohs(hole.addr.in.sin_port), 200);
	assert_int_equal(f->status, -ETIMEDOUT);
	assert_int_equal(f->checks, 1);
	dest_close(&hole);
	assert_no_fd_leak(f);
}

static void test_name_bad_arguments_and_cancel(void **state)
{
	struct fixture *f = *state;
	struct pc_dial *d = NULL;

	assert_int_equal(pc_resolver_new(&f->t.loop, dns.servers, &f->r), 0);
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, "localhost", 80, LONG_MS,
	                                    sizeof(uv_tcp_t), check, on_forbidden, f, &d),
	                 PC_EHOST);
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, "127.0.0.1", 80, LONG_MS,
	                                    sizeof(uv_tcp_t), check, on_forbidden, f, &d),
	                 PC_EHOST);
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, "one.test", 0, LONG_MS,
	                                    sizeof(uv_tcp_t), check, on_forbidden, f, &d),
	                 -EINVAL);
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, "one.test", 80, LONG_MS,
	                                    sizeof(uv_tcp_t), NULL, on_forbidden, f, &d),
	                 -EINVAL);
	assert_null(d);
	/* Cancelled while resolving. */
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, "hole.test", 80, LONG_MS,
	                                    sizeof(uv_tcp_t), check, on_forbidden, f, &d),
	                 0);
	pc_test_loop_run_for(&f->t, 50);
	pc_dial_cancel(d);
	pc_test_loop_run_for(&f->t, 50);
	assert_int_equal(f->checks, 0);
	/* Cancelled from inside check(). */
	f->cancel_in_check = true;
	assert_int_equal(pc_dial_start_name(&f->t.loop, f->r, "two.test", 80, LONG_MS,
	                                    sizeof(uv_tcp_t), check, on_forbidden, f, &f->d),
	                 0);
	while (f->checks == 0 && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	pc_test_loop_run_for(&f->t, 50);
	assert_int_equal(f->checks, 1);
	assert_no_fd_leak(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_order),
	        cmocka_unit_test_setup_teardown(test_connects, fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_connects_ipv6, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_refused, fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_refused_then_second_connects, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_happy_eyeballs_delay, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_happy_eyeballs_delay_v6_to_v4, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_failure_of_newest_attempt_skips_delay,
	                                        fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_overall_timeout, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_timeout_wins_over_earlier_refusal,
	                                        fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_cancel_leaks_nothing, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_alternates_families, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_synchronous_failure_is_deferred, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_handle_writes_from_callback, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_peer_bytes_wait_for_the_taker, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_taker_reads_from_the_callback, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_bad_arguments, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_name_connects, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_name_check_refuses, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_name_dns_errors, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_name_bad_arguments_and_cancel, fixture_setup,
	                                        fixture_teardown),
	};

	return cmocka_run_group_tests(tests, dns_start, dns_stop);
}
