/* Listener addresses, listening sockets and the accept loop, on real loopback sockets and a
 * real uv loop.
 *
 * Every loop test ends by closing the listener and requiring the loop to close with no handle
 * left; LeakSanitizer (asan tree) checks that the listener freed itself. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "net/listen.h"
#include "policy/host.h"
#include "support/loop.h"

#define GUARD_MS 15000 /* no test waits longer than this for anything */
#define BURST    500
#define QUEUED   20

/* ---- helpers ---------------------------------------------------------------------------- */

/* "ADDR:PORT" / "[ADDR]:PORT" of a, for comparisons. */
static const char *addr_text(const union pc_sockaddr *a, char *buf, size_t size)
{
	char host[PC_ADDR_STRLEN];
	uint16_t port =
	        a->sa.sa_family == AF_INET ? ntohs(a->in.sin_port) : ntohs(a->in6.sin6_port);

	assert_true(pc_addr_format(&a->sa, host, sizeof(host)) > 0);
	snprintf(buf, size, a->sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
	return buf;
}

static void assert_addr_text(const union pc_sockaddr *a, const char *want)
{
	char buf[PC_ADDR_STRLEN + 16];

	assert_string_equal(addr_text(a, buf, sizeof(buf)), want);
}

static union pc_sockaddr parsed(const char *text)
{
	union pc_sockaddr a;

	assert_int_equal(pc_listen_addr_parse(text, &a), 0);
	return a;
}

/* A non-blocking client connecting to a that sends nothing; the handshake completes in the
 * kernel. */
static int client_connect_silent(const union pc_sockaddr *a)
{
	int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(connect(fd, &a->sa, pc_addr_len(a)) == 0 || errno == EINPROGRESS);
	return fd;
}

/* Sends one byte once fd is connected: a listener hands a connection over only when its
 * client has spoken (TCP_DEFER_ACCEPT). */
static void client_speak(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	assert_int_equal(poll(&p, 1, GUARD_MS), 1);
	assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), 1);
}

/* A client connecting to a that speaks first, as HTTP and SOCKS5 clients do. */
static int client_connect(const union pc_sockaddr *a)
{
	int fd = client_connect_silent(a);

	client_speak(fd);
	return fd;
}

static uint16_t local_port(int fd)
{
	union pc_sockaddr a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, &a.sa, &len), 0);
	return ntohs(a.sa.sa_family == AF_INET ? a.in.sin_port : a.in6.sin6_port);
}

/* Connections waiting in a listening socket's accept queue (Linux TCP_INFO on a listener). */
static unsigned accept_queue_len(int lfd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	assert_int_equal(getsockopt(lfd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_unacked;
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static bool ipv6_loopback_works(void)
{
	union pc_sockaddr a = parsed("[::1]:0");
	int fd = pc_listen_socket(&a, 1);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- address tables --------------------------------------------------------------------- */

static void test_addr_parse_good(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"127.0.0.1:3128", "127.0.0.1:3128"},
	        {"http://127.0.0.1:3128", "127.0.0.1:3128"},
	        {"socks5://127.0.0.1:8081", "127.0.0.1:8081"},
	        {"socks5h://127.0.0.1:8081", "127.0.0.1:8081"},
	        {"HTTP://127.0.0.1:1", "127.0.0.1:1"},
	        {"SOCKS5H://[::1]:2", "[::1]:2"},
	        {"localhost:80", "127.0.0.1:80"},
	        {"LocalHost.:80", "127.0.0.1:80"},
	        {"http://localhost:0", "127.0.0.1:0"},
	        {"127.0.0.1:0", "127.0.0.1:0"},
	        {"127.0.0.1:65535", "127.0.0.1:65535"},
	        {"127.0.0.1:00080", "127.0.0.1:80"},
	        {"127.1:80", "127.0.0.1:80"},
	        {"0x7f.1:80", "127.0.0.1:80"},
	        {"2130706433:80", "127.0.0.1:80"},
	        {"0.0.0.0:3128", "0.0.0.0:3128"},
	        {"10.1.2.3:9", "10.1.2.3:9"},
	        {"[::1]:8080", "[::1]:8080"},
	        {"[::]:0", "[::]:0"},
	        {"[0:0::1]:1", "[::1]:1"},
	        {"[2001:DB8::1]:443", "[2001:db8::1]:443"},
	        {"[::ffff:127.0.0.1]:5", "[::ffff:127.0.0.1]:5"},
	        {"[fe80::1%251]:7", "[fe80::1%1]:7"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		union pc_sockaddr a = parsed(cases[i].in);

		assert_addr_text(&a, cases[i].want);
	}
}

static void test_addr_parse_bad(void **state)
{
	static const char *const cases[] = {
	        "",
	        "127.0.0.1",
	        "127.0.0.1:",
	        ":80",
	        "http://:80",
	        "http://",
	        "127.0.0.1:65536",
	        "127.0.0.1:99999",
	        "127.0.0.1:000080",
	        "127.0.0.1:-1",
	        "127.0.0.1:+80",
	        "127.0.0.1:0x50",
	        "127.0.0.1:8o",
	        "127.0.0.1:80:81",
	        "::1:80",
	        "::1",
	        "[::1]",
	        "[::1]80",
	        "[::1]:80:90",
	        "[::1]]:80",
	        "[[::1]:80",
	        "[127.0.0.1]:80",
	        "[::1%25lo]:80", /* a zone on a non-link-local address */
	        "example.com:80",
	        "foo.localhost:80",
	        "localhost.localdomain:80",
	        "1.2.3.09:80",
	        "256.1.1.1:80",
	        "1.2.3.4.5:80",
	        "ftp://127.0.0.1:21",
	        "https://127.0.0.1:443",
	        "socks4://127.0.0.1:1080",
	        "http:/127.0.0.1:1",
	        "http://http://127.0.0.1:1",
	        "http://127.0.0.1:3128/",
	        "http://127.0.0.1:3128/x",
	        "127.0.0.1:80?x",
	        "127.0.0.1:80#f",
	        "http://user@127.0.0.1:1",
	        "@127.0.0.1:1",
	        " 127.0.0.1:80",
	        "127.0.0.1 :80",
	        "127.0.0.1: 80",
	        "127.0.0.1:80 ",
	        "127.0.0.1:80\n",
	        "127.0.0.1\t:80",
	        "http:// 127.0.0.1:1",
	        "127.0.0.1:8\x80",
	        "l\303\266calhost:80",
	        "127.0.0.1%2580:1",
	};
	union pc_sockaddr a;
	char long_text[PC_HOST_INPUT_MAX + 16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&a, 0xa5, sizeof(a));
		if (pc_listen_addr_parse(cases[i], &a) != PC_ECONFIG)
			fail_msg("accepted \"%s\"", cases[i]);
		assert_int_equal(a.sa.sa_family, 0);
	}
	assert_int_equal(pc_listen_addr_parse(NULL, &a), PC_ECONFIG);
	assert_int_equal(pc_listen_addr_parse("127.0.0.1:1", NULL), PC_ECONFIG);
	/* Too long to be anything, whatever it would parse as. */
	memset(long_text, '0', sizeof(long_text));
	memcpy(long_text + sizeof(long_text) - 12, "127.0.0.1:1", 12);
	assert_int_equal(pc_listen_addr_parse(long_text, &a), PC_ECONFIG);
}

static void test_addr_loopback_and_clamp(void **state)
{
	static const struct {
		const char *in;
		bool allow, loopback;
		int changed;
		const char *want;
	} cases[] = {
	        {"127.0.0.1:1", false, true, 0, "127.0.0.1:1"},
	        {"127.5.6.7:2", false, true, 0, "127.5.6.7:2"},
	        {"127.255.255.255:3", false, true, 0, "127.255.255.255:3"},
	        {"[::1]:4", false, true, 0, "[::1]:4"},
	        {"0.0.0.0:3128", false, false, 1, "127.0.0.1:3128"},
	        {"0.0.0.0:3128", true, false, 0, "0.0.0.0:3128"},
	        {"10.0.0.1:80", false, false, 1, "127.0.0.1:80"},
	        {"128.0.0.1:0", false, false, 1, "127.0.0.1:0"},
	        {"126.255.255.255:5", false, false, 1, "127.0.0.1:5"},
	        {"[::]:81", false, false, 1, "[::1]:81"},
	        {"[::]:81", true, false, 0, "[::]:81"},
	        {"[2001:db8::1]:9", false, false, 1, "[::1]:9"},
	        {"[::2]:9", false, false, 1, "[::1]:9"},
	        {"[::ffff:127.0.0.1]:9", false, false, 1, "[::1]:9"},
	        {"[::127.0.0.1]:9", false, false, 1, "[::1]:9"},
	        {"[fe80::1%251]:7", false, false, 1, "[::1]:7"},
	};
	union pc_sockaddr other;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		union pc_sockaddr a = parsed(cases[i].in);

		assert_int_equal(pc_listen_addr_is_loopback(&a), cases[i].loopback);
		assert_int_equal(pc_listen_clamp(&a, cases[i].allow), cases[i].changed);
		assert_addr_text(&a, cases[i].want);
		if (a.sa.sa_family == AF_INET6 && cases[i].changed) {
			assert_int_equal(a.in6.sin6_scope_id, 0);
			assert_int_equal(a.in6.sin6_flowinfo, 0);
		}
		/* Clamping is idempotent, and its result is loopback. */
		if (!cases[i].allow) {
			assert_true(pc_listen_addr_is_loopback(&a));
			assert_int_equal(pc_listen_clamp(&a, false), 0);
		}
	}
	memset(&other, 0, sizeof(other));
	other.sa.sa_family = AF_UNIX;
	assert_false(pc_listen_addr_is_loopback(&other));
	assert_false(pc_listen_addr_is_loopback(NULL));
	assert_int_equal(pc_listen_clamp(&other, false), -EAFNOSUPPORT);
	assert_int_equal(pc_listen_clamp(NULL, true), -EAFNOSUPPORT);
}

/* ---- listening sockets ------------------------------------------------------------------ */

static int sockopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

static void assert_listening_socket(int fd, int family)
{
	union pc_sockaddr a;
	socklen_t len = sizeof(a);

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	assert_int_equal(sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR), 1);
	assert_int_equal(getsockname(fd, &a.sa, &len), 0);
	assert_int_equal(a.sa.sa_family, family);
	assert_int_not_equal(local_port(fd), 0);
	if (family == AF_INET6)
		assert_int_equal(sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
}

static void test_listen_socket_v4(void **state)
{
	union pc_sockaddr a = parsed("127.0.0.1:0");
	int fd = pc_listen_socket(&a, 16), again;

	(void)state;
	assert_listening_socket(fd, AF_INET);
	/* The port is taken while fd listens. */
	pc_addr_set_port(&a, local_port(fd));
	again = pc_listen_socket(&a, 16);
	assert_int_equal(again, -EADDRINUSE);
	close(fd);
	/* ...and free again at once after close (nothing was connected). */
	again = pc_listen_socket(&a, 16);
	assert_listening_socket(again, AF_INET);
	close(again);
}

static void test_listen_socket_v6(void **state)
{
	union pc_sockaddr a = parsed("[::1]:0");
	int fd;

	(void)state;
	if (!ipv6_loopback_works())
		skip(); /* no IPv6 loopback in this kernel or namespace */
	fd = pc_listen_socket(&a, 16);
	assert_listening_socket(fd, AF_INET6);
	close(fd);
}

static void test_listen_socket_errors(void **state)
{
	union pc_sockaddr a;
	int before = open_fds();

	(void)state;
	memset(&a, 0, sizeof(a));
	a.sa.sa_family = AF_UNIX;
	assert_int_equal(pc_listen_socket(&a, 1), -EAFNOSUPPORT);
	assert_int_equal(pc_listen_socket(NULL, 1), -EAFNOSUPPORT);
	/* An address this machine does not have (TEST-NET-1: bind fails before any packet). */
	a = parsed("192.0.2.1:0");
	assert_int_equal(pc_listen_socket(&a, 1), -EADDRNOTAVAIL);
	assert_int_equal(open_fds(), before);
}

/* ---- the accept loop -------------------------------------------------------------------- */

struct fixture {
	struct pc_test_loop t;
	struct pc_listener *l;
	union pc_sockaddr addr; /* where the listener listens */
	/* accept callback state */
	int calls;
	int pause_every;    /* pause after every Nth call (0: never) */
	bool close_on_call; /* close the listener from the callback */
	bool keep_fds;      /* keep accepted fds in fds[] instead of closing them */
	int fds[BURST];
	int nfds;
	union pc_sockaddr peers[BURST];
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || pc_test_loop_init(&f->t, GUARD_MS) != 0)
		return -1;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	pc_listener_close(f->l);
	for (int i = 0; i < f->nfds; i++)
		close(f->fds[i]);
	pc_test_loop_close(&f->t);
	free(f);
	return 0;
}

static void on_accept(void *data, int fd, const union pc_sockaddr *peer)
{
	struct fixture *f = data;

	assert_true(fd >= 0);
	assert_non_null(peer);
	if (f->calls < BURST)
		f->peers[f->calls] = *peer;
	f->calls++;
	if (f->keep_fds && f->nfds < BURST)
		f->fds[f->nfds++] = fd;
	else
		close(fd);
	if (f->pause_every && f->calls % f->pause_every == 0)
		pc_listener_pause(f->l);
	if (f->close_on_call) {
		pc_listener_close(f->l);
		f->l = NULL;
	}
}

/* A listener on 127.0.0.1 (kernel-chosen port) with the given backlog. */
static void listener_start(struct fixture *f, int backlog)
{
	union pc_sockaddr a = parsed("127.0.0.1:0");
	int fd = pc_listen_socket(&a, backlog);

	assert_true(fd >= 0);
	assert_int_equal(pc_listener_start(&f->t.loop, fd, on_accept, f, &f->l), 0);
	assert_int_equal(pc_listener_fd(f->l), fd);
	assert_int_equal(pc_listener_address(f->l, &f->addr), 0);
	assert_int_equal(ntohs(f->addr.in.sin_port), local_port(fd));
}

static void run_until(struct fixture *f, const int *counter, int target)
{
	while (*counter < target && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_false(f->t.expired);
}

static struct pc_listener_stats stats_of(const struct fixture *f)
{
	struct pc_listener_stats st;

	pc_listener_stats(f->l, &st);
	return st;
}

static void connect_clients(struct fixture *f, int *fds, int n)
{
	for (int i = 0; i < n; i++)
		fds[i] = client_connect(&f->addr);
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static void test_accept_burst(void **state)
{
	struct fixture *f = *state;
	static int clients[BURST];
	static uint16_t ports[BURST];
	static bool seen[BURST];
	struct pc_listener_stats st;

	listener_start(f, 1024);
	f->keep_fds = true;
	connect_clients(f, clients, BURST);
	for (int i = 0; i < BURST; i++)
		ports[i] = local_port(clients[i]);
	run_until(f, &f->calls, BURST);
	st = stats_of(f);
	assert_int_equal(st.accepted, BURST);
	/* At most 64 per readable event: the batch is bounded. */
	assert_true(st.readable >= (BURST + 63) / 64);
	assert_int_equal(st.shortages, 0);
	/* Every peer is one of our clients, each exactly once. */
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < BURST; i++) {
		int match = -1;

		assert_int_equal(f->peers[i].sa.sa_family, AF_INET);
		assert_int_equal(ntohl(f->peers[i].in.sin_addr.s_addr), INADDR_LOOPBACK);
		for (int j = 0; j < BURST && match < 0; j++)
			if (ports[j] == ntohs(f->peers[i].in.sin_port))
				match = j;
		assert_true(match >= 0);
		assert_false(seen[match]);
		seen[match] = true;
	}
	/* Accepted fds: non-blocking, close-on-exec, TCP_NODELAY. */
	for (int i = 0; i < f->nfds; i++) {
		assert_true(fcntl(f->fds[i], F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(f->fds[i], F_GETFD) & FD_CLOEXEC);
		assert_int_equal(sockopt_int(f->fds[i], IPPROTO_TCP, TCP_NODELAY), 1);
	}
	close_all(clients, BURST);
}

static void test_pause_queues_and_resume_drains(void **state)
{
	struct fixture *f = *state;
	int clients[QUEUED];

	listener_start(f, 64);
	pc_listener_pause(f->l);
	pc_listener_pause(f->l); /* idempotent */
	connect_clients(f, clients, QUEUED);
	pc_test_loop_run_for(&f->t, 50);
	assert_int_equal(f->calls, 0);
	assert_int_equal(stats_of(f).readable, 0);
	assert_true(stats_of(f).paused);
	/* The connections wait in the kernel's backlog meanwhile. */
	assert_int_equal(accept_queue_len(pc_listener_fd(f->l)), QUEUED);

	pc_listener_resume(f->l);
	pc_listener_resume(f->l); /* idempotent */
	run_until(f, &f->calls, QUEUED);
	assert_int_equal(accept_queue_len(pc_listener_fd(f->l)), 0);
	assert_false(stats_of(f).paused);
	close_all(clients, QUEUED);
}

/* The server pauses at its connection cap from inside the callback: not one more connection
 * may arrive, even from the batch being accepted. */
static void test_pause_inside_batch(void **state)
{
	struct fixture *f = *state;
	int clients[QUEUED];

	listener_start(f, 64);
	f->pause_every = 5;
	connect_clients(f, clients, QUEUED);
	for (int round = 1; round <= QUEUED / 5; round++) {
		run_until(f, &f->calls, 5 * round);
		pc_test_loop_run_for(&f->t, 20);
		assert_int_equal(f->calls, 5 * round);
		assert_int_equal(accept_queue_len(pc_listener_fd(f->l)), QUEUED - 5 * round);
		pc_listener_resume(f->l);
	}
	close_all(clients, QUEUED);
}

/* A client that has not sent anything is not handed over (the kernel keeps it, with no
 * descriptor); its first byte makes it one. */
static void test_silent_client_waits_for_its_first_byte(void **state)
{
	struct fixture *f = *state;
	int fd;

	listener_start(f, 8);
	fd = client_connect_silent(&f->addr);
	pc_test_loop_run_for(&f->t, 200);
	assert_int_equal(f->calls, 0);
	assert_int_equal(accept_queue_len(pc_listener_fd(f->l)), 0);
	client_speak(fd);
	run_until(f, &f->calls, 1);
	assert_int_equal(f->calls, 1);
	close(fd);
}

static void test_close_inside_callback(void **state)
{
	struct fixture *f = *state;
	int clients[QUEUED];

	listener_start(f, 64);
	f->close_on_call = true;
	connect_clients(f, clients, QUEUED);
	run_until(f, &f->calls, 1);
	pc_test_loop_run_for(&f->t, 20);
	assert_int_equal(f->calls, 1);
	close_all(clients, QUEUED);
}

static void test_close_frees_port_and_calls_nothing(void **state)
{
	struct fixture *f = *state;
	int clients[3], fd;

	listener_start(f, 8);
	connect_clients(f, clients, 3);
	pc_listener_close(f->l);
	f->l = NULL;
	pc_test_loop_run_for(&f->t, 20);
	assert_int_equal(f->calls, 0);
	close_all(clients, 3);
	fd = pc_listen_socket(&f->addr, 8);
	assert_true(fd >= 0);
	close(fd);
}

/* The accepted fd is ready for the front ends' uv_tcp_open on the same loop. */
struct echo {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	char buf[16];
	size_t len;
	int done;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct echo *e = h->data;

	(void)suggested;
	*buf = uv_buf_init(e->buf + e->len, (unsigned)(sizeof(e->buf) - e->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct echo *e = s->data;

	(void)buf;
	if (n > 0)
		e->len += (size_t)n;
	if (n < 0 || e->len >= 5) {
		uv_read_stop(s);
		e->done = 1;
	}
}

static void on_accept_open(void *data, int fd, const union pc_sockaddr *peer)
{
	struct echo *e = data;

	(void)peer;
	assert_int_equal(uv_tcp_init(e->loop, &e->tcp), 0);
	e->tcp.data = e;
	assert_int_equal(uv_tcp_open(&e->tcp, fd), 0);
	assert_int_equal(uv_read_start((uv_stream_t *)&e->tcp, on_alloc, on_read), 0);
}

static void test_accepted_fd_works_with_uv_tcp_open(void **state)
{
	struct fixture *f = *state;
	struct echo e = {.loop = &f->t.loop};
	union pc_sockaddr a = parsed("127.0.0.1:0");
	int fd = pc_listen_socket(&a, 8), client;

	assert_int_equal(pc_listener_start(&f->t.loop, fd, on_accept_open, &e, &f->l), 0);
	assert_int_equal(pc_listener_address(f->l, &f->addr), 0);
	client = client_connect_silent(&f->addr);
	assert_int_equal(poll(&(struct pollfd){.fd = client, .events = POLLOUT}, 1, 5000), 1);
	assert_int_equal(write(client, "hello", 5), 5);
	run_until(f, &e.done, 1);
	assert_int_equal(e.len, 5);
	assert_memory_equal(e.buf, "hello", 5);
	uv_close((uv_handle_t *)&e.tcp, NULL);
	uv_run(&f->t.loop, UV_RUN_NOWAIT);
	close(client);
}

static void test_start_errors(void **state)
{
	struct fixture *f = *state;
	struct pc_listener *l = NULL;
	int before = open_fds();
	union pc_sockaddr a = parsed("127.0.0.1:0");
	int fd = pc_listen_socket(&a, 1);

	/* Ownership passes even on failure: the fd is closed. */
	assert_int_equal(pc_listener_start(&f->t.loop, fd, NULL, f, &l), -EINVAL);
	assert_null(l);
	assert_int_equal(open_fds(), before);
	assert_int_equal(pc_listener_start(&f->t.loop, -1, on_accept, f, &l), -EINVAL);
	pc_listener_close(NULL);
}

/* ---- EMFILE ----------------------------------------------------------------------------- */

/* Out of file descriptors, the listener must neither spin on the readable backlog nor accept
 * and close: it stops polling, retries on a timer, and recovers when fds are free again. */
static void test_emfile_pauses_without_spinning(void **state)
{
	struct fixture *f = *state;
	struct rlimit saved, low;
	struct pc_listener_stats st;
	int clients[3], spare[2], lowest;
	uint64_t retries;

	listener_start(f, 8);
	f->keep_fds = true;
	connect_clients(f, clients, 3);
	/* Every fd below the new limit is in use except the two spares we will free. */
	spare[0] = dup(0);
	spare[1] = dup(0);
	lowest = dup(0);
	assert_true(spare[0] >= 0 && spare[1] >= 0 && lowest >= 0);
	close(lowest);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_true(dup(0) < 0 && errno == EMFILE); /* the test's premise */

	/* Several shortages in a row, each costing one readable event, not thousands. */
	while (stats_of(f).shortages < 4 && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	st = stats_of(f);
	assert_false(f->t.expired);
	assert_int_equal(f->calls, 0);
	assert_int_equal(st.last_error, -EMFILE);
	assert_true(st.readable <= st.shortages + 1);
	assert_true(st.retries + 1 >= st.shortages);
	assert_true(st.waiting);
	assert_int_equal(accept_queue_len(pc_listener_fd(f->l)), 3); /* nothing was shed */

	/* Two fds free: the retry timer brings two connections in, the third waits again. */
	close(spare[0]);
	close(spare[1]);
	run_until(f, &f->calls, 2);
	while (!stats_of(f).waiting && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_int_equal(f->calls, 2);

	/* resume() retries at once instead of waiting for the timer. */
	close(f->fds[--f->nfds]);
	retries = stats_of(f).retries;
	pc_listener_resume(f->l);
	assert_false(stats_of(f).waiting);
	run_until(f, &f->calls, 3);
	assert_int_equal(stats_of(f).retries, retries);

	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	close_all(clients, 3);
}

/* The burst holds 2 * BURST fds at once: make sure the soft limit allows it. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < 4096 && r.rlim_max > r.rlim_cur) {
		r.rlim_cur = r.rlim_max < 4096 ? r.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_addr_parse_good),
	        cmocka_unit_test(test_addr_parse_bad),
	        cmocka_unit_test(test_addr_loopback_and_clamp),
	        cmocka_unit_test(test_listen_socket_v4),
	        cmocka_unit_test(test_listen_socket_v6),
	        cmocka_unit_test(test_listen_socket_errors),
	        cmocka_unit_test_setup_teardown(test_accept_burst, fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_pause_queues_and_resume_drains, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_pause_inside_batch, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_silent_client_waits_for_its_first_byte,
	                                        fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_close_inside_callback, fixture_setup,
	                                        fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_close_frees_port_and_calls_nothing,
	                                        fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_accepted_fd_works_with_uv_tcp_open,
	                                        fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_start_errors, fixture_setup, fixture_teardown),
	        cmocka_unit_test_setup_teardown(test_emfile_pauses_without_spinning, fixture_setup,
	                                        fixture_teardown),
	};

	raise_fd_limit();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
