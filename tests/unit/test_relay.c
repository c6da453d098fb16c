/* The relay against real loopback TCP connections on a real uv loop.
 *
 * Each test has two connections: client <-> a and b <-> origin. The relay runs between the
 * uv_tcp_t handles on a and b; the test drives the client and origin ends as plain sockets,
 * from helper threads with blocking I/O where bytes flow both ways at once, or interleaved
 * with turns of the loop. Every stream is a numbered pattern checked byte by byte, every loop
 * is bounded, and every test ends with the pool holding no pipe or buffer out and the loop
 * closing with no handle left. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/bufpool.h"
#include "net/relay.h"
#include "support/tcpinfo.h"

#define BULK      (6u * 1024 * 1024) /* bytes each way in the bulk tests */
#define LONG_MS   60000              /* an idle timeout no test reaches */
#define MAX_TURNS 20000              /* turns of the loop any wait may take */

/* ---- streams ----------------------------------------------------------------------------- */

/* Byte k of stream `seed`: no period a misplaced or repeated block would hide in. */
static unsigned char pattern(unsigned seed, uint64_t k)
{
	uint64_t x = (k + 1) * 0x9e3779b97f4a7c15ull ^ seed;
	return (unsigned char)(x >> 29);
}

static void fill_pattern(unsigned seed, uint64_t from, char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)pattern(seed, from + i);
}

/* SO_RCVBUF the next pair's test end gets before it connects (0: the default), so that its
 * window is small from the start. */
static int peer_rcvbuf;

/* A connected pair over 127.0.0.1: *peer is the test's end, *mine the relay's. */
static void tcp_pair(int *peer, int *mine)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	*peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*peer >= 0);
	if (peer_rcvbuf > 0)
		assert_int_equal(
		        setsockopt(*peer, SOL_SOCKET, SO_RCVBUF, &peer_rcvbuf, sizeof(peer_rcvbuf)),
		        0);
	assert_int_equal(connect(*peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*mine = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*mine >= 0);
	close(l);
}

/* ---- fixture ----------------------------------------------------------------------------- */

struct fixture {
	uv_loop_t loop;
	struct pc_bufpool pool;
	uv_tcp_t a, b;
	uv_timer_t timer;
	int client, origin; /* the test's ends */
	int a_fd, b_fd;     /* the relay's ends, as the handles hold them */
	struct pc_relay r;
	bool done;
	int status;
	bool close_on_done;
	char unsent[PC_BUF_SIZE]; /* r.unsent, copied in the callback */
	size_t unsent_len;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	pc_bufpool_init(&f->pool, 8);
	tcp_pair(&f->client, &f->a_fd);
	tcp_pair(&f->origin, &f->b_fd);
	assert_int_equal(uv_tcp_init(&f->loop, &f->a), 0);
	assert_int_equal(uv_tcp_open(&f->a, f->a_fd), 0);
	assert_int_equal(uv_tcp_init(&f->loop, &f->b), 0);
	assert_int_equal(uv_tcp_open(&f->b, f->b_fd), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->timer), 0);
	f->close_on_done = true;
	*state = f;
	return 0;
}

/* The fixture with a client whose receive window is a few KiB. */
static int fixture_setup_small_client(void **state)
{
	int rc;

	peer_rcvbuf = 4096;
	rc = fixture_setup(state);
	peer_rcvbuf = 0;
	return rc;
}

static void close_handles(struct fixture *f)
{
	uv_close((uv_handle_t *)&f->a, NULL);
	uv_close((uv_handle_t *)&f->b, NULL);
	uv_close((uv_handle_t *)&f->timer, NULL);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	pc_relay_stop(&f->r);
	if (!uv_is_closing((uv_handle_t *)&f->a))
		close_handles(f);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	/* nothing of any relay is still out of the pool */
	assert_int_equal(f->pool.n_out, 0);
	assert_int_equal(f->pool.pipes_out, 0);
	pc_bufpool_destroy(&f->pool);
	close(f->client);
	close(f->origin);
	free(f);
	return 0;
}

static void on_done(struct pc_relay *r, int status)
{
	struct fixture *f = r->data;

	assert_false(f->done);
	f->done = true;
	f->status = status;
	assert_true(r->unsent_len <= sizeof(f->unsent));
	assert_true(r->unsent_len == 0 || r->answered);
	if (r->unsent_len > 0)
		memcpy(f->unsent, r->unsent, r->unsent_len);
	f->unsent_len = r->unsent_len;
	if (f->close_on_done)
		close_handles(f);
}

static int start(struct fixture *f, const char *pa, size_t la, const char *pb, size_t lb,
                 uint64_t idle_ms)
{
	return pc_relay_start(&f->r, &f->pool, &f->a, &f->b, &f->timer, idle_ms, pa, la, pb, lb,
	                      on_done, f);
}

/* One turn of the loop, waiting a little for something to happen. */
static void turn(struct fixture *f)
{
	struct pollfd p = {.fd = uv_backend_fd(&f->loop), .events = POLLIN};

	uv_run(&f->loop, UV_RUN_NOWAIT);
	(void)poll(&p, 1, 2);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void run_until_done(struct fixture *f)
{
	for (int i = 0; i < MAX_TURNS && !f->done; i++)
		turn(f);
	assert_true(f->done);
}

static void set_nonblocking(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* For the test's own blocking I/O on a relay end once the relay is done with it. */
static void set_blocking(int fd)
{
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
}

/* Bytes in fd's receive (SIOCINQ) or send (SIOCOUTQ) queue. */
static int queued(int fd, unsigned long req)
{
	int n = 0;

	assert_int_equal(ioctl(fd, req, &n), 0);
	return n;
}

/* ---- peers on threads -------------------------------------------------------------------- */

struct flow {
	int fd;
	unsigned seed;
	uint64_t len;    /* bytes to write, or expected */
	uint64_t got;    /* bytes read before EOF */
	bool ok;         /* every byte read matched */
	bool shut;       /* writer: shut down after the last byte */
	int wait_for_fd; /* writer: first read this fd to EOF (half-close order), -1: no */
	struct flow *wait_flow;
	pthread_t thread;
	uint64_t from; /* writer: the stream's first byte index (what came before went otherwise) */
};

static void *flow_read(void *arg)
{
	struct flow *fl = arg;
	char buf[65536];
	ssize_t n;

	fl->ok = true;
	while ((n = read(fl->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] != pattern(fl->seed, fl->got + (uint64_t)i))
				fl->ok = false;
		fl->got += (uint64_t)n;
	}
	return NULL;
}

static void *flow_write(void *arg)
{
	struct flow *fl = arg;
	char buf[65536];
	uint64_t sent = fl->from;

	if (fl->wait_flow != NULL)
		flow_read(fl->wait_flow);
	while (sent < fl->len) {
		size_t n = fl->len - sent < sizeof(buf) ? (size_t)(fl->len - sent) : sizeof(buf);
		ssize_t w;

		fill_pattern(fl->seed, sent, buf, n);
		w = write(fl->fd, buf, n);
		if (w <= 0)
			break;
		sent += (uint64_t)w;
	}
	if (fl->shut)
		shutdown(fl->fd, SHUT_WR);
	return NULL;
}

/* Runs the writers up and down and the readers up_in and down_in on threads while the loop
 * relays until the end; both streams must arrive whole, and the relay must count `len` bytes
 * each way. */
static void run_flows(struct fixture *f, struct flow *up, struct flow *down, struct flow *up_in,
                      struct flow *down_in, uint64_t len)
{
	pthread_create(&up->thread, NULL, flow_write, up);
	pthread_create(&down->thread, NULL, flow_write, down);
	pthread_create(&up_in->thread, NULL, flow_read, up_in);
	pthread_create(&down_in->thread, NULL, flow_read, down_in);
	run_until_done(f);
	pthread_join(up->thread, NULL);
	pthread_join(down->thread, NULL);
	pthread_join(up_in->thread, NULL);
	pthread_join(down_in->thread, NULL);
	assert_int_equal(f->status, 0);
	assert_int_equal(up_in->got, len);
	assert_int_equal(down_in->got, len);
	assert_true(up_in->ok);
	assert_true(down_in->ok);
	assert_int_equal(f->r.bytes[0], len);
	assert_int_equal(f->r.bytes[1], len);
}

/* Client and origin each write `len` bytes and read what the other wrote, at once; the
 * relay must carry both streams and both EOFs. */
static void bulk(struct fixture *f, uint64_t len)
{
	struct flow up = {f->client, 1, len, 0, false, true, -1, NULL, 0, 0};
	struct flow down = {f->origin, 2, len, 0, false, true, -1, NULL, 0, 0};
	struct flow up_in = {f->origin, 1, len, 0, false, false, -1, NULL, 0, 0};
	struct flow down_in = {f->client, 2, len, 0, false, false, -1, NULL, 0, 0};

	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	run_flows(f, &up, &down, &up_in, &down_in, len);
	assert_true(f->r.eof[0] && f->r.eof[1]);
}

static void test_bulk_spliced(void **state)
{
	struct fixture *f = *state;

	bulk(f, BULK);
	/* the pipes came back empty and are kept for the next relay */
	assert_true(f->pool.n_pipes >= 1);
}

/* With no pipe to be had (the pool's limit: as when descriptors run out), buffers. */
static void test_bulk_buffer_fallback(void **state)
{
	struct fixture *f = *state;

	f->pool.max_pipes_out = 0;
	bulk(f, BULK);
	assert_int_equal(f->pool.n_pipes, 0);
	assert_true(f->pool.n_free >= 1);
}

/* ---- pending bytes, half-close ----------------------------------------------------------- */

/* Bytes read before the relay (behind a CONNECT head) reach the other side before any byte
 * the relay reads itself. */
static void test_pending_bytes_first(void **state)
{
	struct fixture *f = *state;
	char head_a[3000], head_b[100];
	struct flow up_in = {f->origin, 3, 0, 0, false, false, -1, NULL, 0, 0};
	struct flow down_in = {f->client, 4, 0, 0, false, false, -1, NULL, 0, 0};
	char first[sizeof(head_a)];

	/* the pending bytes are the stream's start; the peers write the rest */
	fill_pattern(3, 0, head_a, sizeof(head_a));
	fill_pattern(4, 0, head_b, sizeof(head_b));
	/* the client writes its part of the stream before the relay starts: it must queue
	 * behind the pending bytes */
	fill_pattern(3, sizeof(head_a), first, sizeof(first));
	assert_int_equal(write(f->client, first, sizeof(first)), (ssize_t)sizeof(first));
	assert_int_equal(start(f, head_a, sizeof(head_a), head_b, sizeof(head_b), LONG_MS), 0);
	/* the test goes on writing where the pending bytes and the early write end */
	pthread_create(&up_in.thread, NULL, flow_read, &up_in);
	pthread_create(&down_in.thread, NULL, flow_read, &down_in);
	{
		char buf[4096];
		uint64_t at = sizeof(head_a) + sizeof(first);
		uint64_t bt = sizeof(head_b);

		for (int i = 0; i < 20; i++) {
			fill_pattern(3, at, buf, sizeof(buf));
			assert_int_equal(write(f->client, buf, sizeof(buf)), (ssize_t)sizeof(buf));
			at += sizeof(buf);
			fill_pattern(4, bt, buf, sizeof(buf));
			assert_int_equal(write(f->origin, buf, sizeof(buf)), (ssize_t)sizeof(buf));
			bt += sizeof(buf);
			turn(f);
		}
		shutdown(f->client, SHUT_WR);
		shutdown(f->origin, SHUT_WR);
		run_until_done(f);
		pthread_join(up_in.thread, NULL);
		pthread_join(down_in.thread, NULL);
		assert_int_equal(f->status, 0);
		assert_int_equal(up_in.got, at);
		assert_int_equal(down_in.got, bt);
		assert_true(up_in.ok);
		assert_true(down_in.ok);
		assert_int_equal(f->r.bytes[0], at);
		assert_int_equal(f->r.bytes[1], bt);
	}
}

/* One side ends its stream first; the other keeps sending after it saw that EOF, and every
 * byte still arrives: EOF is a half-close, never a close. */
static void half_close(struct fixture *f, int first, int second, unsigned s1, unsigned s2)
{
	struct flow early = {first, s1, 200000, 0, false, true, -1, NULL, 0, 0};
	struct flow early_in = {second, s1, 0, 0, false, false, -1, NULL, 0, 0};
	struct flow late = {second, s2, 300000, 0, false, true, -1, &early_in, 0, 0};
	struct flow late_in = {first, s2, 0, 0, false, false, -1, NULL, 0, 0};

	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	pthread_create(&early.thread, NULL, flow_write, &early);
	pthread_create(&late.thread, NULL, flow_write, &late);
	pthread_create(&late_in.thread, NULL, flow_read, &late_in);
	run_until_done(f);
	pthread_join(early.thread, NULL);
	pthread_join(late.thread, NULL);
	pthread_join(late_in.thread, NULL);
	assert_int_equal(f->status, 0);
	assert_int_equal(early_in.got, 200000);
	assert_true(early_in.ok);
	assert_int_equal(late_in.got, 300000);
	assert_true(late_in.ok);
}

static void test_half_close_client_first(void **state)
{
	struct fixture *f = *state;

	half_close(f, f->client, f->origin, 5, 6);
}

static void test_half_close_origin_first(void **state)
{
	struct fixture *f = *state;

	half_close(f, f->origin, f->client, 7, 8);
}

/* ---- idle, backpressure, errors ---------------------------------------------------------- */

static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(start(f, NULL, 0, NULL, 0, 30), 0);
	run_until_done(f);
	assert_int_equal(f->status, -ETIMEDOUT);
}

/* After a burst (more than stream mode carries: splice takes over), an idle relay holds
 * neither pipe nor buffer: they are back in the pool. */
static void test_idle_relay_holds_nothing(void **state)
{
	struct fixture *f = *state;
	static char buf[300000], got[sizeof(buf)];
	size_t n = 0;

	fill_pattern(9, 0, buf, sizeof(buf));
	set_nonblocking(f->origin);
	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	assert_int_equal(write(f->client, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	for (int i = 0; i < MAX_TURNS && n < sizeof(got); i++) {
		ssize_t k = read(f->origin, got + n, sizeof(got) - n);
		if (k > 0)
			n += (size_t)k;
		turn(f);
	}
	assert_int_equal(n, sizeof(buf));
	assert_memory_equal(buf, got, sizeof(buf));
	assert_false(f->done);
	assert_int_equal(f->pool.pipes_out, 0);
	assert_int_equal(f->pool.n_out, 0);
	assert_int_equal(f->pool.n_pipes, 1);
}

/* Reads exactly n bytes of stream seed (from index at) on the non-blocking fd, turning the loop. */
static void expect_stream(struct fixture *f, int fd, unsigned seed, uint64_t at, size_t n)
{
	char want[4096], got[sizeof(want)];
	size_t have = 0;

	assert_true(n <= sizeof(want));
	fill_pattern(seed, at, want, n);
	for (int i = 0; i < MAX_TURNS && have < n; i++) {
		ssize_t k = read(fd, got + have, n - have);
		if (k > 0)
			have += (size_t)k;
		turn(f);
	}
	assert_int_equal(have, n);
	assert_memory_equal(want, got, n);
}

static void send_stream(int fd, unsigned seed, uint64_t at, size_t n)
{
	char buf[4096];

	assert_true(n <= sizeof(buf));
	fill_pattern(seed, at, buf, n);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

/* A short exchange (a request, a response, both ends closing) goes through libuv's reads of the
 * handles (stream mode): no pipe is ever taken, nothing is left out of the pool, and the
 * handles' data pointers are theirs again at the end. */
static void short_exchange(struct fixture *f)
{
	f->a.data = &f->a;
	f->b.data = &f->b;
	set_nonblocking(f->client);
	set_nonblocking(f->origin);
	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	send_stream(f->client, 11, 0, 100);
	expect_stream(f, f->origin, 11, 0, 100);
	send_stream(f->origin, 12, 0, 1300);
	expect_stream(f, f->client, 12, 0, 1300);
	shutdown(f->origin, SHUT_WR);
	shutdown(f->client, SHUT_WR);
	run_until_done(f);
	assert_int_equal(f->status, 0);
	assert_true(f->r.eof[0] && f->r.eof[1]);
	assert_int_equal(f->r.bytes[0], 100);
	assert_int_equal(f->r.bytes[1], 1300);
	assert_int_equal(f->pool.n_pipes, 0);
	assert_int_equal(f->pool.pipes_out, 0);
	assert_int_equal(f->pool.n_out, 0);
	assert_ptr_equal(f->a.data, &f->a);
	assert_ptr_equal(f->b.data, &f->b);
}

static void test_short_exchange_takes_no_pipe(void **state)
{
	short_exchange(*state);
}

/* Turns the loop until a non-blocking fd reads EOF; nothing else may come first. */
static void expect_eof(struct fixture *f, int fd)
{
	char c;
	ssize_t n = -1;

	for (int i = 0; i < MAX_TURNS && n != 0; i++) {
		n = read(fd, &c, 1);
		assert_true(n == 0 || (n < 0 && errno == EAGAIN));
		if (n != 0)
			turn(f);
	}
	assert_int_equal(n, 0);
}

/* An origin that sends its last bytes and its FIN together (a response, then close) reaches
 * the client the same way: one segment, not the bytes and then a FIN of its own. */
static void test_last_bytes_carry_the_fin(void **state)
{
	struct fixture *f = *state;
	char buf[1300];
	uint32_t before;

	set_nonblocking(f->client);
	set_nonblocking(f->origin);
	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	send_stream(f->client, 15, 0, 100);
	expect_stream(f, f->origin, 15, 0, 100);
	for (int i = 0; i < 5; i++)
		turn(f);
	before = pc_test_segs_in(f->client);
	fill_pattern(16, 0, buf, sizeof(buf));
	assert_int_equal(send(f->origin, buf, sizeof(buf), MSG_MORE), (ssize_t)sizeof(buf));
	assert_int_equal(shutdown(f->origin, SHUT_WR), 0);
	expect_stream(f, f->client, 16, 0, sizeof(buf));
	expect_eof(f, f->client);
	assert_int_equal(pc_test_segs_in(f->client) - before, 1);
	assert_false(f->done);
	/* the other direction still works after the early end of this one */
	send_stream(f->client, 15, 100, 200);
	expect_stream(f, f->origin, 15, 100, 200);
	shutdown(f->client, SHUT_WR);
	run_until_done(f);
	assert_int_equal(f->status, 0);
	assert_true(f->r.eof[0] && f->r.eof[1]);
	assert_int_equal(f->r.bytes[0], 300);
	assert_int_equal(f->r.bytes[1], sizeof(buf));
}

/* Last bytes and FIN together, more than the client can take at once: what send() does not
 * take waits in the relay, then goes out by the polls, and the FIN follows it. */
static void test_last_bytes_to_a_full_client(void **state)
{
	struct fixture *f = *state;
	static char buf[40000];
	int small = 4096;

	assert_int_equal(setsockopt(f->a_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	set_nonblocking(f->client);
	set_nonblocking(f->origin);
	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	send_stream(f->client, 19, 0, 100);
	expect_stream(f, f->origin, 19, 0, 100);
	fill_pattern(20, 0, buf, sizeof(buf));
	assert_int_equal(send(f->origin, buf, sizeof(buf), MSG_MORE), (ssize_t)sizeof(buf));
	assert_int_equal(shutdown(f->origin, SHUT_WR), 0);
	for (int i = 0; i < 50; i++)
		turn(f);
	/* the client has read nothing yet: the relay holds the rest */
	assert_true(queued(f->client, SIOCINQ) < (int)sizeof(buf));
	for (size_t at = 0; at < sizeof(buf); at += 4000)
		expect_stream(f, f->client, 20, at, 4000);
	expect_eof(f, f->client);
	shutdown(f->client, SHUT_WR);
	run_until_done(f);
	assert_int_equal(f->status, 0);
	assert_true(f->r.eof[0] && f->r.eof[1]);
	assert_int_equal(f->r.bytes[1], sizeof(buf));
}

static int caller_reads;

static void on_caller_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char b[64];
	(void)h;
	(void)suggested;

	caller_reads++;
	*buf = uv_buf_init(b, sizeof(b));
}

static void on_caller_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)s;
	(void)nread;
	(void)buf;
	caller_reads++;
}

/* A handle the caller was reading is taken over as it is: every byte goes through the relay,
 * none to the caller's callbacks, and the handle's data pointer is the caller's at the end. */
static void test_reading_handle_taken_over(void **state)
{
	struct fixture *f = *state;

	caller_reads = 0;
	assert_int_equal(uv_read_start((uv_stream_t *)&f->a, on_caller_alloc, on_caller_read), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)&f->b, on_caller_alloc, on_caller_read), 0);
	short_exchange(f);
	assert_int_equal(caller_reads, 0);
}

/* A short exchange, then bulk both ways: the relay switches from stream mode to splice in the
 * middle of both streams without losing, repeating or reordering a byte. */
static void switch_over(struct fixture *f, bool spliced)
{
	struct flow up = {f->client, 13, BULK, 0, false, true, -1, NULL, 0, 200};
	struct flow down = {f->origin, 14, BULK, 0, false, true, -1, NULL, 0, 2000};
	struct flow up_in = {f->origin, 13, 0, 200, false, false, -1, NULL, 0, 0};
	struct flow down_in = {f->client, 14, 0, 2000, false, false, -1, NULL, 0, 0};

	f->a.data = &f->a;
	set_nonblocking(f->client);
	set_nonblocking(f->origin);
	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	send_stream(f->client, 13, 0, 200);
	expect_stream(f, f->origin, 13, 0, 200);
	send_stream(f->origin, 14, 0, 2000);
	expect_stream(f, f->client, 14, 0, 2000);
	assert_int_equal(f->pool.n_pipes, 0);
	set_blocking(f->client);
	set_blocking(f->origin);
	run_flows(f, &up, &down, &up_in, &down_in, BULK);
	assert_int_equal(f->pool.n_pipes > 0, spliced);
	assert_ptr_equal(f->a.data, &f->a);
}

static void test_switch_to_splice_mid_stream(void **state)
{
	switch_over(*state, true);
}

static void test_switch_to_buffer_mid_stream(void **state)
{
	struct fixture *f = *state;

	f->pool.max_pipes_out = 0; /* no pipes: the buffer fallback after the switch */
	switch_over(f, false);
}

/* An origin that never reads: the client gets blocked, and the relay holds at most one
 * fill (a pipe, or a buffer without pipes) however long the client keeps trying. */
static void never_reads(struct fixture *f, size_t bound)
{
	char buf[65536];
	int still = 0;

	memset(buf, 'x', sizeof(buf));
	set_nonblocking(f->client);
	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	for (int i = 0; i < MAX_TURNS && still < 20; i++) {
		uint64_t before = f->r.bytes[0];
		bool wrote = write(f->client, buf, sizeof(buf)) > 0;

		turn(f);
		still = wrote || f->r.bytes[0] != before ? 0 : still + 1;
	}
	assert_int_equal(still, 20);
	assert_false(f->done);
	/* what the relay read is in the kernel's queues towards the origin, or in its one fill */
	{
		uint64_t queued_out = (uint64_t)queued(f->b_fd, SIOCOUTQ);
		uint64_t queued_in = (uint64_t)queued(f->origin, SIOCINQ);

		assert_true(f->r.bytes[0] >= queued_out + queued_in);
		assert_true(f->r.bytes[0] - queued_out - queued_in <= bound);
	}
	assert_true(f->pool.pipes_out + f->pool.n_out <= 1);
}

static void test_reader_never_reads_spliced(void **state)
{
	struct fixture *f = *state;

	never_reads(f, PC_PIPE_SIZE);
	assert_int_equal(f->pool.n_out, 0);
}

static void test_reader_never_reads_buffered(void **state)
{
	struct fixture *f = *state;

	f->pool.max_pipes_out = 0;
	never_reads(f, PC_BUF_SIZE);
	assert_int_equal(f->pool.pipes_out, 0);
}

/* A reset from one side ends the relay with an error, not as a clean close. */
static void test_reset_ends_with_error(void **state)
{
	struct fixture *f = *state;
	struct linger lg = {1, 0};

	assert_int_equal(start(f, NULL, 0, NULL, 0, LONG_MS), 0);
	assert_int_equal(write(f->client, "x", 1), 1);
	turn(f);
	assert_int_equal(setsockopt(f->origin, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(f->origin);
	f->origin = -1;
	run_until_done(f);
	assert_true(f->status < 0);
	assert_int_not_equal(f->status, -ETIMEDOUT);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	static char big[PC_BUF_SIZE + 1];

	assert_int_equal(start(f, big, sizeof(big), NULL, 0, LONG_MS), -EINVAL);
	assert_null(f->r.core);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->b, &f->a, 0, 0, &f->timer, LONG_MS,
	                                  on_done, f),
	                 -EINVAL);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->b, &f->a, 10, 1u << 7, &f->timer,
	                                  LONG_MS, on_done, f),
	                 -EINVAL);
	assert_null(f->r.core);
	assert_false(f->done);
}

/* ---- starting from a write callback ------------------------------------------------------ */

static uv_write_t write_req;
static char *write_buf;

static void on_written_start(uv_write_t *req, int status)
{
	struct fixture *f = req->data;

	assert_int_equal(status, 0);
	free(write_buf);
	/* the handle's watcher still holds the descriptor while this runs */
	assert_int_equal(start(f, "p", 1, NULL, 0, LONG_MS), 0);
}

/* A relay started from the callback of a write that had to wait for the socket (as after a
 * CONNECT's 200 that did not go out at once) works like any other. */
static void test_start_from_waiting_write(void **state)
{
	struct fixture *f = *state;
	const size_t len = 4u * 1024 * 1024;
	uv_buf_t b;
	char got[2];

	write_buf = malloc(len);
	assert_non_null(write_buf);
	fill_pattern(10, 0, write_buf, len);
	b = uv_buf_init(write_buf, (unsigned)len);
	write_req.data = f;
	assert_int_equal(uv_write(&write_req, (uv_stream_t *)&f->a, &b, 1, on_written_start), 0);
	assert_true(uv_stream_get_write_queue_size((uv_stream_t *)&f->a) > 0);
	/* the client reads exactly the written bytes, concurrently */
	{
		char *p = malloc(len);
		size_t n = 0;

		assert_non_null(p);
		set_nonblocking(f->client);
		for (int i = 0; i < MAX_TURNS && n < len; i++) {
			ssize_t k = read(f->client, p + n, len - n);
			if (k > 0)
				n += (size_t)k;
			turn(f);
		}
		assert_int_equal(n, len);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)p[i] != pattern(10, i))
				fail();
		free(p);
	}
	assert_non_null(f->r.core);
	/* the pending byte and then relayed bytes reach the origin */
	assert_int_equal(write(f->client, "q", 1), 1);
	set_nonblocking(f->origin);
	{
		size_t n = 0;
		for (int i = 0; i < MAX_TURNS && n < 2; i++) {
			ssize_t k = read(f->origin, got + n, 2 - n);
			if (k > 0)
				n += (size_t)k;
			turn(f);
		}
		assert_int_equal(n, 2);
	}
	assert_memory_equal(got, "pq", 2);
	assert_false(f->done);
}

/* ---- one way: a forwarded body ----------------------------------------------------------- */

/* Exactly limit bytes move; what the origin sent behind them (the next response) stays
 * unread in its socket, and both handles are usable afterwards. */
static void forward_exact(struct fixture *f, uint64_t limit)
{
	struct flow body = {f->origin, 11, limit, 0, false, false, -1, NULL, 0, 0};
	struct flow body_in = {f->client, 11, 0, 0, false, false, -1, NULL, 0, 0};
	char next[6] = {0};

	f->close_on_done = false;
	pthread_create(&body.thread, NULL, flow_write, &body);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->b, &f->a, limit, 0, &f->timer,
	                                  LONG_MS, on_done, f),
	                 0);
	run_until_done(f);
	pthread_join(body.thread, NULL);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->r.bytes[0], limit);
	assert_false(f->r.eof[0]);
	/* the next response, sent now, is the first thing the relay's end still holds */
	assert_int_equal(write(f->origin, "NEXT!", 5), 5);
	set_blocking(f->b_fd);
	assert_int_equal(recv(f->b_fd, next, 5, MSG_WAITALL), 5);
	assert_string_equal(next, "NEXT!");
	/* the client got the body and nothing more */
	shutdown(f->a_fd, SHUT_WR);
	pthread_create(&body_in.thread, NULL, flow_read, &body_in);
	pthread_join(body_in.thread, NULL);
	assert_int_equal(body_in.got, limit);
	assert_true(body_in.ok);
	assert_null(f->r.core);
}

static void test_forward_exact_length_spliced(void **state)
{
	forward_exact(*state, 3u * 1024 * 1024 + 17);
}

static void test_forward_exact_length_buffered(void **state)
{
	struct fixture *f = *state;

	f->pool.max_pipes_out = 0;
	forward_exact(f, 1024 * 1024 + 5);
}

static void test_forward_small_length(void **state)
{
	forward_exact(*state, 1);
}

/* Until EOF: all bytes, then status 0 with eof set; an early EOF shows in the count. */
static void test_forward_until_eof(void **state)
{
	struct fixture *f = *state;
	struct flow body = {f->origin, 12, 700000, 0, false, true, -1, NULL, 0, 0};
	struct flow body_in = {f->client, 12, 0, 0, false, false, -1, NULL, 0, 0};

	f->close_on_done = false;
	pthread_create(&body.thread, NULL, flow_write, &body);
	pthread_create(&body_in.thread, NULL, flow_read, &body_in);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->b, &f->a, PC_RELAY_UNTIL_EOF, 0,
	                                  &f->timer, LONG_MS, on_done, f),
	                 0);
	run_until_done(f);
	pthread_join(body.thread, NULL);
	assert_int_equal(f->status, 0);
	assert_true(f->r.eof[0]);
	assert_int_equal(f->r.bytes[0], 700000);
	/* nothing was shut down towards the client: the caller decides */
	shutdown(f->a_fd, SHUT_WR);
	pthread_join(body_in.thread, NULL);
	assert_int_equal(body_in.got, 700000);
	assert_true(body_in.ok);
}

static void test_forward_early_eof(void **state)
{
	struct fixture *f = *state;
	char buf[1000];

	f->close_on_done = false;
	fill_pattern(13, 0, buf, sizeof(buf));
	assert_int_equal(write(f->origin, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	shutdown(f->origin, SHUT_WR);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->b, &f->a, 5000, 0, &f->timer,
	                                  LONG_MS, on_done, f),
	                 0);
	run_until_done(f);
	assert_int_equal(f->status, 0);
	assert_true(f->r.eof[0]);
	assert_int_equal(f->r.bytes[0], sizeof(buf));
}

/* Reads what the origin end has now (it is non-blocking), checking it as stream `seed`. */
static void origin_take(struct fixture *f, unsigned seed, uint64_t *got)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(f->origin, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			assert_int_equal((unsigned char)buf[i], pattern(seed, *got + (uint64_t)i));
		*got += (uint64_t)n;
	}
}

/* A body its receiver answers part way (an origin refusing an upload): the relay reads no
 * more of the sender and ends with answered. Of the bytes it counts, the receiver gets all but
 * the unsent ones, which are the next in the stream; the answer stays unread for the caller,
 * and the sender's next byte is the first one not counted. reading: the receiver goes on
 * reading until the answer (else it reads nothing before, and the relay stalls on it). */
static void forward_answered(struct fixture *f, bool reading)
{
	const uint64_t len = 8u * 1024 * 1024;
	struct flow body = {f->client, 21, len, 0, false, true, -1, NULL, 0, 0};
	struct flow rest = {f->a_fd, 21, 0, 0, false, false, -1, NULL, 0, 0};
	char answer[7] = {0};
	uint64_t got = 0;

	f->close_on_done = false;
	set_nonblocking(f->origin);
	pthread_create(&body.thread, NULL, flow_write, &body);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->a, &f->b, len, PC_RELAY_UNTIL_ANSWER,
	                                  &f->timer, LONG_MS, on_done, f),
	                 0);
	if (reading) {
		for (int i = 0; i < MAX_TURNS && got < 300000; i++) {
			turn(f);
			origin_take(f, 21, &got);
		}
	} else {
		/* until the relay has filled the receiver's window and holds bytes it cannot write
		 */
		for (int i = 0; i < MAX_TURNS && queued(f->b_fd, SIOCOUTQ) == 0; i++)
			turn(f);
		for (int i = 0; i < 50; i++)
			turn(f);
	}
	assert_false(f->done);
	assert_int_equal(write(f->origin, "ANSWER", 6), 6);
	for (int i = 0; i < MAX_TURNS && !f->done; i++) {
		turn(f);
		if (reading)
			origin_take(f, 21, &got);
	}
	assert_true(f->done);
	assert_int_equal(f->status, 0);
	assert_true(f->r.answered);
	assert_false(f->r.eof[0]);
	assert_true(f->r.bytes[0] < len);
	if (!reading)
		assert_true(f->unsent_len > 0);
	/* the bytes written arrive, then nothing: the unsent ones are the next of the stream */
	for (int i = 0; i < MAX_TURNS && got < f->r.bytes[0] - f->unsent_len; i++) {
		struct pollfd p = {.fd = f->origin, .events = POLLIN};
		(void)poll(&p, 1, 2);
		origin_take(f, 21, &got);
	}
	assert_int_equal(got, f->r.bytes[0] - f->unsent_len);
	assert_null(f->r.core);
	assert_int_equal(queued(f->origin, SIOCINQ), 0);
	for (size_t k = 0; k < f->unsent_len; k++)
		assert_int_equal((unsigned char)f->unsent[k], pattern(21, got + k));
	/* the answer waits for the caller */
	set_blocking(f->b_fd);
	assert_int_equal(recv(f->b_fd, answer, 6, MSG_WAITALL), 6);
	assert_string_equal(answer, "ANSWER");
	/* the sender's bytes from the first one not relayed on */
	set_blocking(f->a_fd);
	rest.got = f->r.bytes[0];
	flow_read(&rest);
	pthread_join(body.thread, NULL);
	assert_true(rest.ok);
	assert_int_equal(rest.got, len);
}

static void test_forward_answered_spliced(void **state)
{
	forward_answered(*state, true);
}

static void test_forward_answered_buffered(void **state)
{
	struct fixture *f = *state;

	f->pool.max_pipes_out = 0;
	forward_answered(f, true);
}

static void test_forward_answered_by_a_stalled_receiver_spliced(void **state)
{
	forward_answered(*state, false);
}

static void test_forward_answered_by_a_stalled_receiver_buffered(void **state)
{
	struct fixture *f = *state;

	f->pool.max_pipes_out = 0;
	forward_answered(f, false);
}

/* An answer there from the start (a 100 Continue the caller has not read yet) ends the relay at
 * once; so does the receiver's EOF. */
static void forward_answer_first(struct fixture *f, bool eof)
{
	f->close_on_done = false;
	assert_int_equal(write(f->client, "BODY", 4), 4);
	if (eof)
		shutdown(f->origin, SHUT_WR);
	else
		assert_int_equal(write(f->origin, "100", 3), 3);
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->a, &f->b, 1000,
	                                  PC_RELAY_UNTIL_ANSWER, &f->timer, LONG_MS, on_done, f),
	                 0);
	run_until_done(f);
	assert_int_equal(f->status, 0);
	assert_true(f->r.answered);
	/* the sender's bytes may have been taken in the same turn, before the answer: then they
	 * are all at the receiver, else all still at the sender */
	assert_true(f->r.bytes[0] == 0 || f->r.bytes[0] == 4);
	assert_int_equal(queued(f->a_fd, SIOCINQ), 4 - (int)f->r.bytes[0]);
	assert_int_equal(queued(f->origin, SIOCINQ), (int)f->r.bytes[0]);
	assert_int_equal(queued(f->b_fd, SIOCINQ), eof ? 0 : 3);
}

static void test_forward_answer_first(void **state)
{
	forward_answer_first(*state, false);
}

static void test_forward_answer_is_eof(void **state)
{
	forward_answer_first(*state, true);
}

/* Without the flag the receiver's bytes change nothing: the whole body moves. */
static void test_forward_answer_ignored(void **state)
{
	struct fixture *f = *state;
	char buf[5000];

	f->close_on_done = false;
	fill_pattern(22, 0, buf, sizeof(buf));
	assert_int_equal(write(f->origin, "100", 3), 3);
	assert_int_equal(write(f->client, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(pc_relay_forward(&f->r, &f->pool, &f->a, &f->b, sizeof(buf), 0, &f->timer,
	                                  LONG_MS, on_done, f),
	                 0);
	run_until_done(f);
	assert_int_equal(f->status, 0);
	assert_false(f->r.answered);
	assert_int_equal(f->r.bytes[0], sizeof(buf));
	assert_int_equal(queued(f->origin, SIOCINQ), (int)sizeof(buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
	        T(test_bulk_spliced),
	        T(test_bulk_buffer_fallback),
	        T(test_pending_bytes_first),
	        T(test_half_close_client_first),
	        T(test_half_close_origin_first),
	        T(test_idle_timeout),
	        T(test_idle_relay_holds_nothing),
	        T(test_short_exchange_takes_no_pipe),
	        T(test_last_bytes_carry_the_fin),
	        T(test_reading_handle_taken_over),
	        cmocka_unit_test_setup_teardown(test_last_bytes_to_a_full_client,
	                                        fixture_setup_small_client, fixture_teardown),
	        T(test_switch_to_splice_mid_stream),
	        T(test_switch_to_buffer_mid_stream),
	        T(test_reader_never_reads_spliced),
	        T(test_reader_never_reads_buffered),
	        T(test_reset_ends_with_error),
	        T(test_bad_arguments),
	        T(test_start_from_waiting_write),
	        T(test_forward_exact_length_spliced),
	        T(test_forward_exact_length_buffered),
	        T(test_forward_small_length),
	        T(test_forward_until_eof),
	        T(test_forward_early_eof),
	        T(test_forward_answered_spliced),
	        T(test_forward_answered_buffered),
	        cmocka_unit_test_setup_teardown(test_forward_answered_by_a_stalled_receiver_spliced,
	                                        fixture_setup_small_client, fixture_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_forward_answered_by_a_stalled_receiver_buffered,
	                fixture_setup_small_client, fixture_teardown),
	        T(test_forward_answer_first),
	        T(test_forward_answer_is_eof),
	        T(test_forward_answer_ignored),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
