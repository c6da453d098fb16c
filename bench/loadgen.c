/* bench_loadgen: the connection-heavy client of bench/run.sh, one thread on one epoll set.
 *
 * A Python client tops out near 10k new connections per second on one core, below what a fast
 * proxy answers denied requests at; this one does one socket, connect, a write or two, a read
 * or two and a close per exchange, so the client is not what a rate row measures.
 *
 *   bench_loadgen rate      --kind K --to IP:PORT --target HOST:PORT [options]
 *       A new connection per exchange, C in flight, until the duration or the count is reached.
 *       K = direct        GET PATH straight to the origin (origin-form), then close
 *           get           absolute-form GET through an HTTP proxy, Connection: close
 *           connect       CONNECT, then GET PATH inside the tunnel
 *           socks         SOCKS5 (no auth, name in the request), then GET PATH inside
 *           deny-connect  CONNECT that must be refused (4xx/5xx); a 2xx is a leak
 *           deny-get      absolute-form GET that must be refused; a 2xx is a leak
 *           deny-socks    SOCKS5 CONNECT that must be refused (REP != 0); REP 0 is a leak
 *   bench_loadgen keepalive --kind direct|get --to IP:PORT --target HOST:PORT [options]
 *       C keep-alive connections, all opened first and left idle (at most 256 connects at a
 *       time), then each sends its next GET as soon as its previous response is complete; a
 *       connection the server closes is counted and reopened. --warmup seconds (default 1) run
 *       unmeasured before the duration; latencies are of GETs sent within the duration.
 *   bench_loadgen tunnels   --kind direct|connect|socks --to IP:PORT --target HOST:PORT -n N
 *       Opens N tunnels (plain connections for direct) and prints one JSON line; holds them
 *       until a line or EOF on stdin or --hold seconds, then prints how many are still open.
 *
 * Options: -c C (concurrency, default 16), -d SECONDS (default 2), -n MAX (count cap; default
 * 10,000,000), --path P (default /small), --timeout MS (per exchange, default 5000),
 * --setup SECONDS (tunnels and keepalive connection phase, default 30), --hold SECONDS
 * (default 60), --warmup SECONDS (keepalive, default 1). Every wait is bounded by these. Output:
 * one JSON object per line on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX     4096
#define OUT_MAX      1024
#define SAMPLES_MAX  (8u << 20)
#define SWEEP_NS     (50 * 1000000ull)
#define CONNECTS_MAX 256

enum mode { M_RATE, M_KEEPALIVE, M_TUNNELS };
enum kind { K_DIRECT, K_GET, K_CONNECT, K_SOCKS, K_DENY_CONNECT, K_DENY_GET, K_DENY_SOCKS };

/* What a connection waits for next. */
enum step {
	S_IDLE,      /* slot free */
	S_CONNECT,   /* TCP connect in progress */
	S_PROXY,     /* the CONNECT response head */
	S_SOCKS_SEL, /* the SOCKS5 method selection (2 bytes) */
	S_SOCKS_REP, /* the SOCKS5 reply */
	S_RESPONSE,  /* an HTTP response (head, then body) */
	S_OPEN,      /* tunnel established, idle */
};

enum err {
	E_CONNECT,
	E_TIMEOUT,
	E_EOF,
	E_RESET,
	E_STATUS,
	E_SOCKS_REP,
	E_PROTOCOL,
	E_LEAK,
	E_COUNT,
};
static const char *const err_names[E_COUNT] = {
        "connect", "timeout", "eof", "reset", "status", "socks_rep", "protocol", "leak",
};

struct conn {
	int fd;
	enum step step;
	uint64_t t0;       /* start of the exchange (rate, tunnels) or of the request (keepalive) */
	uint64_t deadline; /* the exchange fails after this */
	bool setting_up;   /* counted in n_connecting */
	size_t out_len, out_off;
	size_t in_len;
	long long body_left; /* -1: until EOF */
	char out[OUT_MAX];
	char in[HEAD_MAX];
};

struct opts {
	enum mode mode;
	enum kind kind;
	struct sockaddr_in to;
	char host[256];
	unsigned port;
	const char *path;
	unsigned conc;
	double duration;
	unsigned long long max;
	unsigned timeout_ms;
	double setup;
	double hold;
	double warmup;
};

static struct opts o = {
        .path = "/small",
        .conc = 16,
        .duration = 2,
        .max = 10000000ull,
        .timeout_ms = 5000,
        .setup = 30,
        .hold = 60,
        .warmup = 1,
};

static int ep = -1;
static struct conn *conns;
static unsigned long long n_ok, n_fail, n_started, n_closed;
static unsigned long long errs[E_COUNT];
static uint32_t *samples;
static uint64_t measure_from; /* latencies of exchanges started earlier are not recorded */
static size_t n_samples;
/* Connections being set up: until the TCP handshake completes, or in tunnels mode until the
 * tunnel is open. Counting the whole tunnel setup keeps the client from piling connections
 * into the proxy's accept queue faster than the proxy takes them, which would measure the
 * queue overflowing (and the SYN retransmits after it) instead of the proxy. */
static unsigned n_connecting;
static bool holding;         /* keepalive setup: connections stay idle once open */
static unsigned *free_slots; /* a stack of the indexes of idle slots */
static unsigned n_free;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_loadgen: %s\n", what);
	exit(2);
}

static void record(uint64_t t0, uint64_t t1)
{
	uint64_t us = (t1 - t0) / 1000;
	if (n_samples < SAMPLES_MAX && t0 >= measure_from)
		samples[n_samples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The request this kind sends first (or inside the tunnel, after the handshake). */
static size_t format_get(char *buf, bool absolute, bool close_after)
{
	int n;
	if (absolute)
		n = snprintf(buf, OUT_MAX, "GET http://%s:%u%s HTTP/1.1\r\nHost: %s:%u\r\n%s\r\n",
		             o.host, o.port, o.path, o.host, o.port,
		             close_after ? "Connection: close\r\n" : "");
	else
		n = snprintf(buf, OUT_MAX, "GET %s HTTP/1.1\r\nHost: %s:%u\r\n%s\r\n", o.path,
		             o.host, o.port, close_after ? "Connection: close\r\n" : "");
	if (n < 0 || n >= OUT_MAX)
		die("request too long");
	return (size_t)n;
}

static size_t format_connect(char *buf)
{
	int n = snprintf(buf, OUT_MAX, "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n", o.host,
	                 o.port, o.host, o.port);
	if (n < 0 || n >= OUT_MAX)
		die("request too long");
	return (size_t)n;
}

/* SOCKS5 CONNECT with the destination as a name (ATYP 3) or an IPv4 literal (ATYP 1). */
static size_t format_socks_request(char *buf)
{
	struct in_addr a;
	size_t n = 0;
	buf[n++] = 5;
	buf[n++] = 1;
	buf[n++] = 0;
	if (inet_pton(AF_INET, o.host, &a) == 1) {
		buf[n++] = 1;
		memcpy(buf + n, &a, 4);
		n += 4;
	} else {
		size_t len = strlen(o.host);
		buf[n++] = 3;
		buf[n++] = (char)len;
		memcpy(buf + n, o.host, len);
		n += len;
	}
	buf[n++] = (char)(o.port >> 8);
	buf[n++] = (char)(o.port & 0xff);
	return n;
}

static bool is_deny(void)
{
	return o.kind == K_DENY_CONNECT || o.kind == K_DENY_GET || o.kind == K_DENY_SOCKS;
}

static void release(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->setting_up)
		n_connecting--;
	c->setting_up = false;
	c->fd = -1;
	c->step = S_IDLE;
	free_slots[n_free++] = (unsigned)(c - conns);
}

static void fail(struct conn *c, enum err e)
{
	errs[e]++;
	n_fail++;
	release(c);
}

static void succeed(struct conn *c, uint64_t t)
{
	n_ok++;
	record(c->t0, t);
	release(c);
}

/* Writes what is pending; returns false when the connection failed. */
static bool flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (size_t)w;
	}
	return true;
}

static bool queue(struct conn *c, size_t len)
{
	c->out_len = len;
	c->out_off = 0;
	c->in_len = 0;
	return flush_out(c);
}

static int open_conn(struct conn *c, uint64_t t)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&o.to, sizeof o.to) < 0 && errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                         .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	c->fd = fd;
	c->step = S_CONNECT;
	c->t0 = t;
	c->deadline = t + (uint64_t)o.timeout_ms * 1000000ull;
	c->in_len = 0;
	c->out_len = c->out_off = 0;
	n_connecting++;
	c->setting_up = true;
	return 0;
}

/* The tunnel is open: idle (tunnels), or the GET inside it. */
static bool on_tunnel(struct conn *c, uint64_t t)
{
	if (o.mode == M_TUNNELS) {
		n_connecting--;
		c->setting_up = false;
		c->step = S_OPEN;
		n_ok++;
		record(c->t0, t);
		return true;
	}
	c->step = S_RESPONSE;
	return queue(c, format_get(c->out, false, true));
}

/* Keepalive: the next GET on c, timed from now. */
static bool send_get(struct conn *c, uint64_t t)
{
	c->step = S_RESPONSE;
	c->t0 = t;
	c->deadline = t + (uint64_t)o.timeout_ms * 1000000ull;
	return queue(c, format_get(c->out, o.kind == K_GET, false));
}

/* The connection is up: send what this kind sends first. */
static bool on_connected(struct conn *c, uint64_t t)
{
	if (o.mode != M_TUNNELS) {
		n_connecting--;
		c->setting_up = false;
	}
	if (o.mode == M_KEEPALIVE) {
		if (!holding)
			return send_get(c, t);
		c->step = S_OPEN;
		return true;
	}
	switch (o.kind) {
	case K_DIRECT:
		if (o.mode == M_TUNNELS)
			return on_tunnel(c, t);
		c->step = S_RESPONSE;
		return queue(c, format_get(c->out, false, true));
	case K_GET:
	case K_DENY_GET:
		c->step = S_RESPONSE;
		return queue(c, format_get(c->out, true, true));
	case K_CONNECT:
	case K_DENY_CONNECT:
		c->step = S_PROXY;
		return queue(c, format_connect(c->out));
	case K_SOCKS:
	case K_DENY_SOCKS:
		c->step = S_SOCKS_SEL;
		memcpy(c->out, "\x05\x01\x00", 3);
		return queue(c, 3);
	}
	return false;
}

/* Finds the end of an HTTP head in c->in; 0 when incomplete. */
static size_t head_end(const struct conn *c)
{
	const char *p = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	return p ? (size_t)(p - c->in) + 4 : 0;
}

static int status_of(const struct conn *c)
{
	if (c->in_len < 12 || memcmp(c->in, "HTTP/1.", 7) != 0 || c->in[8] != ' ')
		return -1;
	int s = 0;
	for (int i = 9; i < 12; i++) {
		if (c->in[i] < '0' || c->in[i] > '9')
			return -1;
		s = s * 10 + (c->in[i] - '0');
	}
	return s;
}

/* Content-Length of the head in c->in[0..end), -1 when absent (body runs to EOF). */
static long long content_length(const struct conn *c, size_t end)
{
	static const char name[] = "\r\ncontent-length:";
	size_t nl = sizeof name - 1;
	for (size_t i = 0; i + nl <= end; i++) {
		if (strncasecmp(c->in + i, name, nl) != 0)
			continue;
		size_t j = i + nl;
		while (j < end && c->in[j] == ' ')
			j++;
		long long v = 0;
		while (j < end && c->in[j] >= '0' && c->in[j] <= '9' && v < (1ll << 50))
			v = v * 10 + (c->in[j++] - '0');
		return v;
	}
	return -1;
}

static void response_done(struct conn *c, uint64_t t)
{
	if (o.mode == M_KEEPALIVE) {
		n_ok++;
		record(c->t0, t);
		if (!send_get(c, t)) {
			n_closed++; /* the server closed after the response: reopened by the loop */
			release(c);
		}
		return;
	}
	succeed(c, t);
}

/* A head is complete in c->in[0..end): judge it. Returns false when c was released. */
static bool on_head(struct conn *c, size_t end, uint64_t t)
{
	int status = status_of(c);
	if (status < 0) {
		fail(c, E_PROTOCOL);
		return false;
	}
	if (is_deny()) {
		if (status >= 200 && status < 300)
			fail(c, E_LEAK);
		else if (status >= 400)
			succeed(c, t);
		else
			fail(c, E_STATUS);
		return false;
	}
	if (c->step == S_PROXY) {
		if (status != 200) {
			fail(c, E_STATUS);
			return false;
		}
		if (c->in_len > end) {
			fail(c, E_PROTOCOL); /* bytes after the head before we sent anything */
			return false;
		}
		if (!on_tunnel(c, t)) {
			fail(c, E_RESET);
			return false;
		}
		return true;
	}
	if (status != 200) {
		fail(c, E_STATUS);
		return false;
	}
	c->body_left = content_length(c, end);
	if (c->body_left >= 0) {
		c->body_left -= (long long)(c->in_len - end);
		if (c->body_left < 0) {
			fail(c, E_PROTOCOL);
			return false;
		}
		if (c->body_left == 0) {
			response_done(c, t);
			return c->step != S_IDLE;
		}
	} else if (o.mode == M_KEEPALIVE) {
		fail(c, E_PROTOCOL); /* no length on a keep-alive response: cannot delimit it */
		return false;
	}
	c->in_len = HEAD_MAX; /* marks the head as consumed: what follows is body */
	return true;
}

/* SOCKS5 bytes in c->in. Returns false when c was released. */
static bool on_socks(struct conn *c, uint64_t t)
{
	if (c->step == S_SOCKS_SEL) {
		if (c->in_len < 2)
			return true;
		if (c->in[0] != 5 || c->in[1] != 0 || c->in_len > 2) {
			fail(c, E_PROTOCOL);
			return false;
		}
		c->step = S_SOCKS_REP;
		if (!queue(c, format_socks_request(c->out))) {
			fail(c, E_RESET);
			return false;
		}
		return true;
	}
	if (c->in_len < 5)
		return true;
	size_t need;
	switch (c->in[3]) {
	case 1:
		need = 10;
		break;
	case 4:
		need = 22;
		break;
	case 3:
		need = 7 + (unsigned char)c->in[4];
		break;
	default:
		fail(c, E_PROTOCOL);
		return false;
	}
	if (c->in[0] != 5) {
		fail(c, E_PROTOCOL);
		return false;
	}
	if (is_deny()) {
		if (c->in[1] == 0)
			fail(c, E_LEAK);
		else
			succeed(c, t);
		return false;
	}
	if (c->in[1] != 0) {
		fail(c, E_SOCKS_REP);
		return false;
	}
	if (c->in_len < need)
		return true;
	if (c->in_len > need) {
		fail(c, E_PROTOCOL);
		return false;
	}
	if (!on_tunnel(c, t)) {
		fail(c, E_RESET);
		return false;
	}
	return true;
}

/* Body bytes of the response being read. Returns false when c was released. */
static bool on_body(struct conn *c, size_t n, uint64_t t)
{
	if (c->body_left < 0)
		return true; /* until EOF */
	if ((long long)n > c->body_left) {
		fail(c, E_PROTOCOL);
		return false;
	}
	c->body_left -= (long long)n;
	if (c->body_left > 0)
		return true;
	response_done(c, t);
	return c->step != S_IDLE;
}

/* Input on c. Returns false when c was released. */
static bool on_bytes(struct conn *c, const char *p, size_t n, uint64_t t)
{
	if (c->step == S_RESPONSE && c->in_len == HEAD_MAX)
		return on_body(c, n, t);
	if (c->step == S_OPEN || c->step == S_CONNECT) {
		fail(c, E_PROTOCOL); /* nobody should talk on an idle tunnel */
		return false;
	}
	size_t room = HEAD_MAX - 1 - c->in_len;
	size_t take = n < room ? n : room;
	memcpy(c->in + c->in_len, p, take);
	c->in_len += take;
	if (c->step == S_SOCKS_SEL || c->step == S_SOCKS_REP) {
		if (take < n) {
			fail(c, E_PROTOCOL);
			return false;
		}
		return on_socks(c, t);
	}
	size_t end = head_end(c);
	if (end == 0) {
		if (take == room) {
			fail(c, E_PROTOCOL); /* a head longer than HEAD_MAX */
			return false;
		}
		return true;
	}
	if (!on_head(c, end, t))
		return false;
	if (take == n)
		return true;
	/* The rest of a read that ran past the buffer: body of the same response, nothing else. */
	if (c->step == S_RESPONSE && c->in_len == HEAD_MAX)
		return on_body(c, n - take, t);
	fail(c, E_PROTOCOL);
	return false;
}

static void on_eof(struct conn *c, uint64_t t)
{
	if (c->step == S_RESPONSE && c->in_len == HEAD_MAX && c->body_left < 0) {
		succeed(c, t); /* a body delimited by the close */
		return;
	}
	if (o.mode == M_KEEPALIVE && c->step == S_RESPONSE && c->in_len == 0) {
		n_closed++; /* closed between responses: reopened by the loop */
		release(c);
		return;
	}
	fail(c, E_EOF);
}

static char scratch[1 << 16];

static void on_event(struct conn *c, uint32_t events, uint64_t t)
{
	if (c->step == S_IDLE)
		return;
	if (c->step == S_CONNECT) {
		if (events & (EPOLLERR | EPOLLHUP)) {
			fail(c, E_CONNECT);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (!on_connected(c, t)) {
			fail(c, E_RESET);
			return;
		}
	} else if ((events & EPOLLOUT) && !flush_out(c)) {
		fail(c, E_RESET);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	/* Edge-triggered: read until the socket is drained (a short read means it was). */
	for (int i = 0; i < 1024; i++) {
		ssize_t r = recv(c->fd, scratch, sizeof scratch, 0);
		if (r > 0) {
			if (!on_bytes(c, scratch, (size_t)r, t))
				return;
			if ((size_t)r < sizeof scratch && !(events & (EPOLLRDHUP | EPOLLHUP)))
				return;
			continue;
		}
		if (r == 0) {
			on_eof(c, t);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			fail(c, errno == ECONNREFUSED ? E_CONNECT : E_RESET);
		return;
	}
}

static void sweep(uint64_t t, unsigned slots)
{
	for (unsigned i = 0; i < slots; i++) {
		struct conn *c = &conns[i];
		if (c->step == S_IDLE || c->step == S_OPEN || t < c->deadline)
			continue;
		fail(c, E_TIMEOUT);
	}
}

static unsigned active(unsigned slots)
{
	return slots - n_free;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double percentile_ms(double q)
{
	if (n_samples == 0)
		return -1;
	size_t i = (size_t)(q * (double)(n_samples - 1) + 0.5);
	return samples[i] / 1000.0;
}

static void print_errors(void)
{
	printf("\"errors\": {");
	const char *sep = "";
	for (int e = 0; e < E_COUNT; e++) {
		if (errs[e] == 0)
			continue;
		printf("%s\"%s\": %llu", sep, err_names[e], errs[e]);
		sep = ", ";
	}
	printf("}");
}

static void report(const char *mode, double secs, unsigned connections)
{
	qsort(samples, n_samples, sizeof *samples, cmp_u32);
	printf("{\"mode\": \"%s\", \"connections\": %u, \"ok\": %llu, \"fail\": %llu, \"leaks\": "
	       "%llu, \"closed\": %llu, "
	       "\"inflight\": %u, \"seconds\": %.4f, \"rate\": %.1f, \"p50_ms\": %.3f, "
	       "\"p99_ms\": %.3f, ",
	       mode, connections, n_ok, n_fail, errs[E_LEAK], n_closed, active(o.conc), secs,
	       secs > 0 ? n_ok / secs : 0, percentile_ms(0.50), percentile_ms(0.99));
	print_errors();
	printf("}\n");
	fflush(stdout);
}

static void wait_events(uint64_t t, uint64_t until)
{
	struct epoll_event evs[512];
	int ms = until > t ? (int)((until - t) / 1000000ull) : 0;
	int n = epoll_wait(ep, evs, 512, ms > 50 ? 50 : ms);
	if (n < 0 && errno != EINTR)
		die("epoll_wait failed");
	uint64_t t1 = now_ns();
	for (int i = 0; i < n; i++)
		on_event(evs[i].data.ptr, evs[i].events, t1);
}

/* Opens connections in free slots, at most `limit` connects in flight. */
static void fill(unsigned limit, uint64_t t)
{
	while (n_free > 0 && n_started < o.max && n_connecting < limit) {
		struct conn *c = &conns[free_slots[--n_free]];
		n_started++;
		int e = open_conn(c, t);
		if (e < 0) {
			errs[E_CONNECT]++;
			n_fail++;
			free_slots[n_free++] = (unsigned)(c - conns);
			if (e == -EMFILE || e == -ENFILE || e == -EADDRNOTAVAIL)
				break;
		}
	}
}

/* One turn of the event loop at time t: opens connections (at most `limit` connects in
 * flight), handles events until `until` at the latest, and sweeps timed-out exchanges every
 * SWEEP_NS. */
static void turn(unsigned limit, uint64_t t, uint64_t until, uint64_t *last_sweep)
{
	fill(limit, t);
	wait_events(t, until);
	if (t - *last_sweep > SWEEP_NS) {
		sweep(t, o.conc);
		*last_sweep = t;
	}
}

static void run_rate(void)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(o.duration * 1e9), last_sweep = t0;
	for (uint64_t t = t0; t < end; t = now_ns()) {
		if (n_started >= o.max && active(o.conc) == 0)
			break;
		turn(o.conc, t, end, &last_sweep);
	}
	report("rate", (double)(now_ns() - t0) / 1e9, o.conc);
}

/* Runs the event loop until `until`, reopening closed connections (keepalive). */
static void drive(uint64_t until, uint64_t *last_sweep)
{
	for (uint64_t t = now_ns(); t < until && n_ok < o.max; t = now_ns())
		turn(CONNECTS_MAX, t, until, last_sweep);
}

static void reset_counts(void)
{
	n_ok = n_fail = n_closed = 0;
	n_samples = 0;
	memset(errs, 0, sizeof errs);
}

static void run_keepalive(void)
{
	/* Open every connection first and leave it idle (bounded by --setup), so that the
	 * connection storm is not measured; then every connection sends its first GET, the
	 * loop runs --warmup seconds unmeasured to reach a steady state, and is measured for
	 * the duration. */
	uint64_t t = now_ns(), setup_end = t + (uint64_t)(o.setup * 1e9), last_sweep = t;
	unsigned long long cap = o.max;
	o.max = o.conc;
	holding = true;
	for (; t < setup_end && (n_started < o.conc || n_connecting > 0); t = now_ns())
		turn(CONNECTS_MAX, t, setup_end, &last_sweep);
	holding = false;
	unsigned open = 0;
	t = now_ns();
	for (unsigned i = 0; i < o.conc; i++) {
		struct conn *c = &conns[i];
		if (c->step != S_OPEN)
			continue;
		open++;
		if (!send_get(c, t)) {
			n_closed++;
			release(c);
		}
	}
	o.max = cap;
	n_started = 0;
	drive(now_ns() + (uint64_t)(o.warmup * 1e9), &last_sweep);
	reset_counts();
	printf("{\"measuring\": %u}\n", open); /* the harness starts its CPU count here */
	fflush(stdout);
	uint64_t t0 = now_ns();
	measure_from = t0; /* a GET still waiting from the warm-up would skew the tail */
	drive(t0 + (uint64_t)(o.duration * 1e9), &last_sweep);
	report("keepalive", (double)(now_ns() - t0) / 1e9, open);
}

static bool stdin_ready(void)
{
	struct pollfd p = {.fd = 0, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

static void run_tunnels(void)
{
	uint64_t t = now_ns(), setup_end = t + (uint64_t)(o.setup * 1e9), last_sweep = t;
	o.conc = (unsigned)o.max;
	for (; t < setup_end && n_ok + n_fail < o.max; t = now_ns())
		turn(CONNECTS_MAX, t, setup_end, &last_sweep);
	unsigned long long established = n_ok;
	qsort(samples, n_samples, sizeof *samples, cmp_u32);
	printf("{\"mode\": \"tunnels\", \"established\": %llu, \"failed\": %llu, "
	       "\"setup_p99_ms\": %.3f, ",
	       established, o.max - established, percentile_ms(0.99));
	print_errors();
	printf("}\n");
	fflush(stdout);
	/* Hold: anything arriving on an idle tunnel (a close, stray bytes) releases it. */
	uint64_t hold_end = now_ns() + (uint64_t)(o.hold * 1e9);
	for (t = now_ns(); t < hold_end && !stdin_ready(); t = now_ns())
		wait_events(t, hold_end);
	unsigned alive = 0;
	for (unsigned i = 0; i < o.conc; i++)
		alive += conns[i].step == S_OPEN;
	printf("{\"alive\": %u}\n", alive);
	fflush(stdout);
}

static void parse_to(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		die("--to wants IPv4:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	o.to.sin_family = AF_INET;
	o.to.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &o.to.sin_addr) != 1)
		die("--to wants IPv4:PORT");
}

static void parse_target(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof o.host || colon == s)
		die("--target wants HOST:PORT");
	memcpy(o.host, s, (size_t)(colon - s));
	o.host[colon - s] = 0;
	o.port = (unsigned)atoi(colon + 1);
	if (o.port == 0 || o.port > 65535)
		die("--target wants HOST:PORT");
}

static const struct {
	const char *name;
	enum kind kind;
} kinds[] = {
        {"direct", K_DIRECT},
        {"get", K_GET},
        {"connect", K_CONNECT},
        {"socks", K_SOCKS},
        {"deny-connect", K_DENY_CONNECT},
        {"deny-get", K_DENY_GET},
        {"deny-socks", K_DENY_SOCKS},
};

static void parse_args(int argc, char **argv)
{
	if (argc < 2)
		die("usage: bench_loadgen rate|keepalive|tunnels --kind K --to IP:PORT --target "
		    "H:P");
	if (strcmp(argv[1], "rate") == 0)
		o.mode = M_RATE;
	else if (strcmp(argv[1], "keepalive") == 0)
		o.mode = M_KEEPALIVE;
	else if (strcmp(argv[1], "tunnels") == 0)
		o.mode = M_TUNNELS;
	else
		die("unknown mode");
	bool have_kind = false, have_to = false, have_target = false;
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			die("option without a value");
		if (strcmp(k, "--kind") == 0) {
			for (size_t j = 0; j < sizeof kinds / sizeof kinds[0]; j++)
				if (strcmp(v, kinds[j].name) == 0) {
					o.kind = kinds[j].kind;
					have_kind = true;
				}
		} else if (strcmp(k, "--to") == 0) {
			parse_to(v);
			have_to = true;
		} else if (strcmp(k, "--target") == 0) {
			parse_target(v);
			have_target = true;
		} else if (strcmp(k, "--path") == 0) {
			o.path = v;
		} else if (strcmp(k, "-c") == 0) {
			o.conc = (unsigned)strtoul(v, NULL, 10);
		} else if (strcmp(k, "-d") == 0) {
			o.duration = strtod(v, NULL);
		} else if (strcmp(k, "-n") == 0) {
			o.max = strtoull(v, NULL, 10);
		} else if (strcmp(k, "--timeout") == 0) {
			o.timeout_ms = (unsigned)strtoul(v, NULL, 10);
		} else if (strcmp(k, "--setup") == 0) {
			o.setup = strtod(v, NULL);
		} else if (strcmp(k, "--hold") == 0) {
			o.hold = strtod(v, NULL);
		} else if (strcmp(k, "--warmup") == 0) {
			o.warmup = strtod(v, NULL);
		} else {
			die("unknown option");
		}
	}
	if (!have_kind || !have_to || !have_target)
		die("--kind, --to and --target are required");
	if (o.conc == 0 || o.conc > 1000000 || o.max == 0 || o.timeout_ms == 0 ||
	    !(o.duration > 0 && o.duration < 86400) || !(o.setup > 0 && o.setup < 86400) ||
	    !(o.hold >= 0 && o.hold < 86400) || !(o.warmup >= 0 && o.warmup < 86400))
		die("option out of range");
	if (o.mode == M_KEEPALIVE && o.kind != K_DIRECT && o.kind != K_GET)
		die("keepalive takes --kind direct or get");
	if (o.mode == M_TUNNELS && o.kind != K_DIRECT && o.kind != K_CONNECT && o.kind != K_SOCKS)
		die("tunnels takes --kind direct, connect or socks");
	if (o.mode == M_TUNNELS && o.max > 1000000)
		die("tunnels: -n at most 1,000,000");
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	unsigned slots = o.mode == M_TUNNELS ? (unsigned)o.max : o.conc;
	conns = calloc(slots, sizeof *conns);
	samples = malloc(SAMPLES_MAX * sizeof *samples);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !samples || ep < 0)
		die("out of memory");
	free_slots = calloc(slots, sizeof *free_slots);
	if (!free_slots)
		die("out of memory");
	for (unsigned i = 0; i < slots; i++) {
		conns[i].fd = -1;
		free_slots[n_free++] = slots - 1 - i;
	}
	if (o.mode == M_RATE)
		run_rate();
	else if (o.mode == M_KEEPALIVE)
		run_keepalive();
	else
		run_tunnels();
	return 0;
}
