/* The resolver against tests/support/dnsserver.py on 127.0.0.1, driven by a real uv loop.
 *
 * Every test ends by freeing its resolver and checking that the loop then has no handle left
 * (uv_loop_close succeeds) and that no callback ran after the free; LeakSanitizer (asan tree)
 * checks that every request and socket record was released. */
#include <arpa/inet.h>
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "net/resolve.h"
#include "support/loop.h"

extern char **environ;

#define GUARD_MS        15000 /* no test waits longer than this for anything */
#define CONCURRENT      200
#define SEQUENTIAL      40
#define POLICY_DEADLINE 2000

/* ---- the DNS server --------------------------------------------------------------------- */

static struct {
	pid_t pid;
	uint16_t port;
	char dir[256];
	char log[320];
	char ready[320];
	char zone[320];
	char aliases[320];
	char servers[64]; /* "127.0.0.1:PORT" */
} srv;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void write_zone(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("# written by test_resolve.c\n"
	      "v4.test A 192.0.2.1\n"
	      "v6.test AAAA 2001:db8::1\n"
	      "both.test A 192.0.2.10\n"
	      "both.test A 192.0.2.11\n"
	      "both.test A 192.0.2.10\n" /* a duplicate the resolver must drop */
	      "both.test AAAA 2001:db8::10\n"
	      "both.test AAAA 2001:db8::11\n"
	      "both.test AAAA 2001:db8::12\n"
	      "v6first.test A 192.0.2.20\n"
	      "v6first.test AAAA 2001:db8::20\n"
	      "v4first.test A 192.0.2.21\n"
	      "v4first.test AAAA 2001:db8::21\n"
	      "alias.test CNAME v4.test\n"
	      "nodata.test TXT no addresses here\n"
	      "slow.test A 192.0.2.30\n"
	      "logged.test A 192.0.2.40\n"
	      "seq.test A 192.0.2.50\n"
	      "reset.test A 192.0.2.60\n",
	      f);
	/* Enough records that the UDP answer is truncated and c-ares retries over TCP. */
	for (int i = 0; i < 40; i++)
		fprintf(f, "many.test A 198.51.100.%d\nmany.test AAAA 2001:db8:1::%x\n", i + 1,
		        i + 1);
	for (int i = 0; i < CONCURRENT; i++)
		fprintf(f, "c%d.test A 10.%d.%d.%d\n", i, i / 65536, (i / 256) % 256, i % 256);
	assert_int_equal(fclose(f), 0);
}

static int server_start(void **state)
{
	const char *src = getenv("PC_SOURCE_DIR");
	const char *tmp = getenv("TMPDIR");
	char script[512], buf[16];
	int n;

	(void)state;
	if (!src) {
		fprintf(stderr, "PC_SOURCE_DIR is not set (CTest sets it)\n");
		return -1;
	}
	snprintf(script, sizeof(script), "%s/tests/support/dnsserver.py", src);
	snprintf(srv.dir, sizeof(srv.dir), "%s/pc-resolve.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(srv.dir))
		return -1;
	snprintf(srv.log, sizeof(srv.log), "%s/queries.log", srv.dir);
	snprintf(srv.ready, sizeof(srv.ready), "%s/ready", srv.dir);
	snprintf(srv.zone, sizeof(srv.zone), "%s/zone", srv.dir);
	snprintf(srv.aliases, sizeof(srv.aliases), "%s/hostaliases", srv.dir);
	write_zone(srv.zone);

	/* clang-format off */
	char *argv[] = {
		"python3", script, "--port", "0", "--ready-file", srv.ready, "--log", srv.log,
		"--zone", srv.zone, "--exit-with-parent",
		"--blackhole", "hole.test", "--blackhole", "hole2.test",
		"--servfail", "servfail.test",
		"--delay-ms", "slow.test", "2500",
		"--delay-type-ms", "v6first.test", "A", "300",
		"--delay-type-ms", "v4first.test", "AAAA", "300",
		"--truncate", "reset.test", "--tcp-close", "reset.test",
		NULL,
	};
	/* clang-format on */
	if (posix_spawnp(&srv.pid, "python3", NULL, NULL, argv, environ) != 0)
		return -1;
	/* Bounded wait for the ready file (10 s): the server renames it into place whole. */
	for (n = 0; n < 1000; n++) {
		FILE *f = fopen(srv.ready, "r");

		if (f) {
			bool ok = fgets(buf, sizeof(buf), f) != NULL;

			fclose(f);
			srv.port = ok ? (uint16_t)atoi(buf) : 0;
			break;
		}
		if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) {
			srv.pid = 0;
			return -1;
		}
		usleep(10000);
	}
	if (srv.port == 0)
		return -1;
	snprintf(srv.servers, sizeof(srv.servers), "127.0.0.1:%u", srv.port);
	return 0;
}

static int server_stop(void **state)
{
	(void)state;
	if (srv.pid > 0) {
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
	}
	unlink(srv.log);
	unlink(srv.ready);
	unlink(srv.zone);
	unlink(srv.aliases);
	rmdir(srv.dir);
	return 0;
}

/* Lines of the query log equal to line ("NAME TYPE"). */
static int log_count(const char *line)
{
	char buf[512];
	int n = 0;
	FILE *f = fopen(srv.log, "r");

	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		n += strcmp(buf, line) == 0;
	}
	fclose(f);
	return n;
}

/* Lines of the query log containing needle anywhere. */
static int log_count_containing(const char *needle)
{
	char buf[512];
	int n = 0;
	FILE *f = fopen(srv.log, "r");

	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f))
		n += strstr(buf, needle) != NULL;
	fclose(f);
	return n;
}

/* ---- loop fixture --------------------------------------------------------------------------- */

struct fixture {
	struct pc_test_loop t;
	bool open; /* loop not yet closed */
	struct pc_resolver *r;
};

struct result {
	int calls;
	int status;
	struct pc_addr_list addrs;
	uint64_t at_ms;
	struct fixture *f;
};

/* A fresh loop with a guard timer and a resolver for the test server. */
static int fixture_init(struct fixture *f)
{
	if (pc_test_loop_init(&f->t, GUARD_MS) != 0)
		return -1;
	f->open = true;
	return pc_resolver_new(&f->t.loop, srv.servers, &f->r) == 0 ? 0 : -1;
}

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || fixture_init(f) != 0)
		return -1;
	*state = f;
	return 0;
}

/* Frees the resolver (unless the test did) and requires the loop to wind down to nothing,
 * without callbacks. */
static void fixture_finish(struct fixture *f)
{
	pc_resolver_free(f->r);
	f->r = NULL;
	f->open = false;
	pc_test_loop_close(&f->t);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	if (f->open)
		fixture_finish(f);
	free(f);
	return 0;
}

/* Runs the loop until *counter reaches target; the guard timer bounds the wait. */
static void run_until(struct fixture *f, const int *counter, int target)
{
	while (*counter < target && !f->t.expired)
		uv_run(&f->t.loop, UV_RUN_ONCE);
	assert_false(f->t.expired);
}

/* Runs the loop until c-ares has released every request, abandoned ones included. */
static void run_until_released(struct fixture *f)
{
	struct pc_resolver_stats st;

	for (;;) {
		pc_resolver_stats(f->r, &st);
		if (st.requests == 0 || f->t.expired)
			break;
		uv_run(&f->t.loop, UV_RUN_ONCE);
	}
	assert_false(f->t.expired);
}

static void on_result(void *data, int status, const struct pc_addr_list *addrs)
{
	struct result *res = data;

	res->calls++;
	res->status = status;
	res->at_ms = uv_now(&res->f->t.loop);
	if (status == 0) {
		assert_non_null(addrs);
		res->addrs = *addrs;
	} else {
		assert_null(addrs);
	}
}

static void on_forbidden(void *data, int status, const struct pc_addr_list *addrs)
{
	(void)data;
	(void)status;
	(void)addrs;
	fail_msg("a callback ran that must not");
}

/* For requests whose outcome the test does not look at. */
static void on_ignored(void *data, int status, const struct pc_addr_list *addrs)
{
	(void)data;
	(void)status;
	(void)addrs;
}

static void resolve(struct fixture *f, const char *name, uint32_t timeout_ms, struct result *res)
{
	memset(res, 0, sizeof(*res));
	res->f = f;
	assert_int_equal(pc_resolve_start(f->r, name, timeout_ms, on_result, res, NULL), 0);
	run_until(f, &res->calls, 1);
	assert_int_equal(res->calls, 1);
}

static void assert_addr(const union pc_sockaddr *a, const char *text)
{
	char buf[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET) {
		assert_int_equal(a->in.sin_port, 0);
		inet_ntop(AF_INET, &a->in.sin_addr, buf, sizeof(buf));
	} else {
		assert_int_equal(a->sa.sa_family, AF_INET6);
		assert_int_equal(a->in6.sin6_port, 0);
		assert_int_equal(a->in6.sin6_scope_id, 0);
		inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, sizeof(buf));
	}
	assert_string_equal(buf, text);
}

/* Families alternate until one runs out; the rest are all of the other family. */
static void assert_interleaved(const struct pc_addr_list *l)
{
	unsigned n4 = 0, n6 = 0, pairs;

	for (unsigned i = 0; i < l->n; i++)
		l->addrs[i].sa.sa_family == AF_INET ? n4++ : n6++;
	pairs = n4 < n6 ? n4 : n6;
	for (unsigned i = 1; i < l->n; i++) {
		if (i < 2 * pairs)
			assert_int_not_equal(l->addrs[i].sa.sa_family,
			                     l->addrs[i - 1].sa.sa_family);
		else
			assert_int_equal(l->addrs[i].sa.sa_family, l->addrs[i - 1].sa.sa_family);
	}
}

/* ---- answers ------------------------------------------------------------------------------ */

/* Resolves name and requires exactly the addresses want, in that order. */
#define ASSERT_RESOLVES_TO(f, name, ...)                                                           \
	do {                                                                                       \
		const char *want_[] = {__VA_ARGS__};                                               \
		assert_resolves_to(f, name, want_, sizeof(want_) / sizeof(want_[0]));              \
	} while (0)

static void assert_resolves_to(struct fixture *f, const char *name, const char **want, unsigned n)
{
	struct result res;

	resolve(f, name, POLICY_DEADLINE, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.addrs.n, n);
	for (unsigned i = 0; i < n; i++)
		assert_addr(&res.addrs.addrs[i], want[i]);
}

static void a_only(void **state)
{
	ASSERT_RESOLVES_TO(*state, "v4.test", "192.0.2.1");
}

static void aaaa_only(void **state)
{
	ASSERT_RESOLVES_TO(*state, "v6.test", "2001:db8::1");
}

static void both_families_interleaved_and_deduplicated(void **state)
{
	struct fixture *f = *state;
	struct result res;
	const char *v4[] = {"192.0.2.10", "192.0.2.11"};
	const char *v6[] = {"2001:db8::10", "2001:db8::11", "2001:db8::12"};
	unsigned i4 = 0, i6 = 0;

	resolve(f, "both.test", POLICY_DEADLINE, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.addrs.n, 5);
	assert_interleaved(&res.addrs);
	/* Each family keeps the server's order. */
	for (unsigned i = 0; i < res.addrs.n; i++) {
		if (res.addrs.addrs[i].sa.sa_family == AF_INET)
			assert_addr(&res.addrs.addrs[i], v4[i4++]);
		else
			assert_addr(&res.addrs.addrs[i], v6[i6++]);
	}
}

static void first_answered_family_comes_first(void **state)
{
	/* The server holds back the A answer of v6first.test and the AAAA of v4first.test. */
	ASSERT_RESOLVES_TO(*state, "v6first.test", "2001:db8::20", "192.0.2.20");
	ASSERT_RESOLVES_TO(*state, "v4first.test", "192.0.2.21", "2001:db8::21");
}

static void cname_is_followed(void **state)
{
	ASSERT_RESOLVES_TO(*state, "alias.test", "192.0.2.1");
}

static void truncated_answer_is_retried_over_tcp_and_capped(void **state)
{
	struct fixture *f = *state;
	struct result res;

	resolve(f, "many.test", POLICY_DEADLINE, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.addrs.n, PC_ADDRS_MAX);
	assert_interleaved(&res.addrs);
	/* Once over UDP (truncated), once over TCP. */
	assert_true(log_count("many.test A") >= 2);
	assert_true(log_count("many.test AAAA") >= 2);
}

static void failures_are_edns(void **state)
{
	struct fixture *f = *state;
	struct result res;
	const char *names[] = {"nxdomain.test", "servfail.test", "nodata.test"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		resolve(f, names[i], POLICY_DEADLINE, &res);
		assert_int_equal(res.status, PC_EDNS);
	}
}

/* ---- deadlines ---------------------------------------------------------------------------- */

static void blackholed_name_times_out_at_the_deadline(void **state)
{
	struct fixture *f = *state;
	struct result ours = {.f = f}, theirs = {.f = f};
	uint64_t start;

	uv_update_time(&f->t.loop);
	start = uv_now(&f->t.loop);
	assert_int_equal(
	        pc_resolve_start(f->r, "hole.test", POLICY_DEADLINE, on_result, &ours, NULL), 0);
	/* A deadline beyond c-ares's own retry budget (0.5 + 1 + 2 s): c-ares gives up first. */
	assert_int_equal(pc_resolve_start(f->r, "hole2.test", 60000, on_result, &theirs, NULL), 0);
	run_until(f, &ours.calls, 1);
	assert_int_equal(ours.status, PC_EDNS_TIMEOUT);
	/* A functional bound on our timer (loop clock), not a performance assertion. */
	assert_true(ours.at_ms - start >= POLICY_DEADLINE);
	assert_true(ours.at_ms - start < 3500);
	run_until(f, &theirs.calls, 1);
	assert_int_equal(theirs.status, PC_EDNS_TIMEOUT);
	run_until_released(f);
	assert_int_equal(ours.calls, 1);
	assert_true(log_count("hole.test A") >= 1);
	assert_true(log_count("hole.test AAAA") >= 1);
}

static void late_answer_after_our_timeout_is_released(void **state)
{
	struct fixture *f = *state;
	struct result res = {.f = f};
	struct pc_resolver_stats st;

	assert_int_equal(pc_resolve_start(f->r, "slow.test", 300, on_result, &res, NULL), 0);
	run_until(f, &res.calls, 1);
	assert_int_equal(res.status, PC_EDNS_TIMEOUT);
	pc_resolver_stats(f->r, &st);
	assert_int_equal(st.requests, 1); /* abandoned, still known to c-ares */
	/* The answer arrives 2.5 s after the question; c-ares hands it to the abandoned request,
	 * which must be valid (ASan checks) and is then freed. */
	run_until_released(f);
	assert_int_equal(res.calls, 1);
}

static void cancelled_request_never_calls_back(void **state)
{
	struct fixture *f = *state;
	struct pc_resolve_req *fast = NULL, *slow = NULL;
	struct result after;

	assert_int_equal(
	        pc_resolve_start(f->r, "v4.test", POLICY_DEADLINE, on_forbidden, NULL, &fast), 0);
	assert_int_equal(
	        pc_resolve_start(f->r, "slow.test", POLICY_DEADLINE, on_forbidden, NULL, &slow), 0);
	assert_non_null(fast);
	assert_non_null(slow);
	pc_resolve_cancel(fast);
	pc_resolve_cancel(slow);
	pc_resolve_cancel(slow); /* a second cancel is harmless */
	/* A later query for the same name is answered after the cancelled one. */
	resolve(f, "v4.test", POLICY_DEADLINE, &after);
	assert_int_equal(after.status, 0);
	run_until_released(f); /* both answers (slow.test's after 2.5 s) reached c-ares */
}

/* ---- freeing with requests in flight -------------------------------------------------------- */

static void free_with_requests_in_flight_calls_nothing(void **state)
{
	struct fixture *f = *state;
	struct result timed_out = {.f = f};
	struct pc_resolver_stats st;

	assert_int_equal(pc_resolve_start(f->r, "hole.test", 100, on_result, &timed_out, NULL), 0);
	assert_int_equal(pc_resolve_start(f->r, "hole.test", 60000, on_forbidden, NULL, NULL), 0);
	assert_int_equal(pc_resolve_start(f->r, "slow.test", 60000, on_forbidden, NULL, NULL), 0);
	run_until(f, &timed_out.calls, 1);
	assert_int_equal(timed_out.status, PC_EDNS_TIMEOUT);
	/* Asked, but the loop will not run again before the free to read the answer. */
	assert_int_equal(pc_resolve_start(f->r, "v4.test", 60000, on_forbidden, NULL, NULL), 0);
	pc_resolver_stats(f->r, &st);
	assert_int_equal(st.requests, 4);
	fixture_finish(f); /* uv_loop_close fails if a handle was left open */
	assert_int_equal(timed_out.calls, 1);
}

struct free_in_callback {
	struct fixture *f;
	int calls;
	int start_after_free;
};

static void on_free_resolver(void *data, int status, const struct pc_addr_list *addrs)
{
	struct free_in_callback *c = data;

	(void)status;
	(void)addrs;
	c->calls++;
	pc_resolver_free(c->f->r);
	c->start_after_free = pc_resolve_start(c->f->r, "v4.test", 1000, on_forbidden, NULL, NULL);
}

static void free_from_inside_callbacks(void **state)
{
	struct fixture *f = *state;
	struct free_in_callback c = {.f = f};
	struct pc_resolver *r = f->r;

	/* From an answer, i.e. inside ares_process_fd: the channel is destroyed on the way out. */
	assert_int_equal(pc_resolve_start(r, "hole.test", 60000, on_forbidden, NULL, NULL), 0);
	assert_int_equal(pc_resolve_start(r, "v4.test", 60000, on_free_resolver, &c, NULL), 0);
	run_until(f, &c.calls, 1);
	assert_int_equal(c.start_after_free, PC_ECANCELED);
	f->r = NULL; /* already freed */
	fixture_finish(f);

	/* From a deadline. */
	assert_int_equal(fixture_init(f), 0);
	c.calls = 0;
	assert_int_equal(pc_resolve_start(f->r, "slow.test", 60000, on_forbidden, NULL, NULL), 0);
	assert_int_equal(pc_resolve_start(f->r, "hole.test", 50, on_free_resolver, &c, NULL), 0);
	run_until(f, &c.calls, 1);
	assert_int_equal(c.start_after_free, PC_ECANCELED);
	f->r = NULL;
	fixture_finish(f);
}

/* ---- load and socket turnover ------------------------------------------------------------- */

static void concurrent_queries(void **state)
{
	struct fixture *f = *state;
	static struct result res[CONCURRENT];
	int done = 0;
	char name[32], want[32];

	for (int i = 0; i < CONCURRENT; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		res[i].f = f;
		snprintf(name, sizeof(name), "c%d.test", i);
		assert_int_equal(pc_resolve_start(f->r, name, 10000, on_result, &res[i], NULL), 0);
	}
	for (int i = 0; i < CONCURRENT; i++) {
		run_until(f, &res[i].calls, 1);
		done += res[i].calls;
	}
	assert_int_equal(done, CONCURRENT);
	for (int i = 0; i < CONCURRENT; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].status, 0);
		assert_int_equal(res[i].addrs.n, 1);
		snprintf(want, sizeof(want), "10.%d.%d.%d", i / 65536, (i / 256) % 256, i % 256);
		assert_addr(&res[i].addrs.addrs[0], want);
	}
}

struct sequence {
	struct fixture *f;
	uv_check_t check;
	const char *name;
	int count, expect;
	bool start_from_check;
	int started, done, unexpected;
};

static void on_sequence_result(void *data, int status, const struct pc_addr_list *addrs);

static void sequence_next(struct sequence *s)
{
	s->started++;
	assert_int_equal(pc_resolve_start(s->f->r, s->name, 10000, on_sequence_result, s, NULL), 0);
}

static void on_sequence_check(uv_check_t *c)
{
	struct sequence *s = c->data;

	if (s->start_from_check) {
		s->start_from_check = false;
		sequence_next(s);
	}
}

/* Every other query starts from the callback (c-ares keeps its sockets), the rest from a check
 * handle in the same loop iteration, after c-ares closed its idle sockets but before libuv ran
 * the close callbacks of their poll handles: the new socket usually has the same fd. */
static void on_sequence_result(void *data, int status, const struct pc_addr_list *addrs)
{
	struct sequence *s = data;

	(void)addrs;
	s->done++;
	if (status != s->expect)
		s->unexpected++;
	if (s->started == s->count)
		return;
	if (s->done % 2)
		sequence_next(s);
	else
		s->start_from_check = true;
}

/* Runs count queries for name one after another on a new resolver for servers, each expected
 * to end with status; returns the resolver's counters. */
static struct pc_resolver_stats run_sequence(struct fixture *f, const char *servers,
                                             const char *name, int count, int status)
{
	/* Static: if the test fails half-way, teardown still finds the check handle valid. */
	static struct sequence s;
	struct pc_resolver_stats st;

	memset(&s, 0, sizeof(s));
	s.f = f;
	s.name = name;
	s.count = count;
	s.expect = status;
	pc_resolver_free(f->r);
	assert_int_equal(pc_resolver_new(&f->t.loop, servers, &f->r), 0);
	uv_check_init(&f->t.loop, &s.check);
	s.check.data = &s;
	uv_check_start(&s.check, on_sequence_check);
	sequence_next(&s);
	run_until(f, &s.done, count);
	uv_close((uv_handle_t *)&s.check, NULL);
	assert_int_equal(s.unexpected, 0);
	pc_resolver_stats(f->r, &st);
	return st;
}

static void sequential_queries_across_socket_reopen(void **state)
{
	struct pc_resolver_stats st = run_sequence(*state, srv.servers, "seq.test", SEQUENTIAL, 0);

	assert_true(st.sockets_opened >= SEQUENTIAL / 2);
	/* The situation this test exists for did happen, and was survived. */
	assert_true(st.sockets_reused_early > 0);
}

static void connection_reset_reopens_sockets_inside_processing(void **state)
{
	/* UDP answers are truncated and the TCP connection is closed on each query: c-ares
	 * closes the server's sockets and reconnects within one ares_process_fd, per try. */
	struct pc_resolver_stats st =
	        run_sequence(*state, srv.servers, "reset.test", SEQUENTIAL / 4, PC_EDNS);

	assert_true(st.sockets_opened >= SEQUENTIAL / 4 * 3);
	assert_true(st.sockets_reused_early > 0);
	assert_true(log_count("reset.test A") >= SEQUENTIAL / 4 * 3);
}

static void refused_first_server_falls_back_to_the_next(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char servers[96];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	/* A port nobody listens on: each query is refused there and c-ares moves on to the real
	 * server (for a query already sent there, only after its 500 ms try timeout). */
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u,%s", ntohs(sin.sin_port), srv.servers);
	run_sequence(*state, servers, "seq.test", 4, 0);
}

/* ---- what leaves the machine ---------------------------------------------------------------- */

static void query_log_shows_the_names_asked(void **state)
{
	struct fixture *f = *state;
	struct result res;

	assert_int_equal(log_count("logged.test A"), 0);
	resolve(f, "logged.test", POLICY_DEADLINE, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(log_count("logged.test A"), 1);
	assert_int_equal(log_count("logged.test AAAA"), 1);
}

static void localhost_is_never_sent_to_a_server(void **state)
{
	struct fixture *f = *state;
	struct result res;
	char line[64];
	const char *names[] = {"localhost",     "LOCALHOST",     "LocalHost",
	                       "foo.localhost", "a.b.localhost", "x.LOCALHOST"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(pc_resolve_start(f->r, names[i], 1000, on_forbidden, NULL, NULL),
		                 PC_EHOST);
	/* Not refused: names that merely contain the word. */
	assert_int_equal(pc_resolve_start(f->r, "localhost.test", 1000, on_ignored, NULL, NULL), 0);
	/* The server handles queries in order: once this is answered, it has seen the rest. */
	resolve(f, "v4.test", POLICY_DEADLINE, &res);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(line, sizeof(line), "%s A", names[i]);
		assert_int_equal(log_count(line), 0);
		snprintf(line, sizeof(line), "%s AAAA", names[i]);
		assert_int_equal(log_count(line), 0);
	}
	assert_true(log_count("localhost.test A") >= 1);
}

static void search_domains_and_aliases_are_never_applied(void **state)
{
	struct fixture *f = *state;
	struct result res;

	/* Everything c-ares would read from the environment to rewrite a name. */
	write_file(srv.aliases, "nxname v4.test\n");
	setenv("LOCALDOMAIN", "corp.example", 1);
	setenv("RES_OPTIONS", "ndots:5 attempts:1 timeout:30 rotate", 1);
	setenv("HOSTALIASES", srv.aliases, 1);
	pc_resolver_free(f->r);
	assert_int_equal(pc_resolver_new(&f->t.loop, srv.servers, &f->r), 0);
	unsetenv("LOCALDOMAIN");
	unsetenv("RES_OPTIONS");
	unsetenv("HOSTALIASES");

	resolve(f, "nxname", POLICY_DEADLINE, &res);
	assert_int_equal(res.status, PC_EDNS); /* not v4.test's address */
	resolve(f, "nx.single", POLICY_DEADLINE, &res);
	assert_int_equal(res.status, PC_EDNS);
	assert_int_equal(log_count("nxname A"), 1);
	assert_int_equal(log_count("nxname AAAA"), 1);
	assert_int_equal(log_count("nx.single A"), 1);
	assert_int_equal(log_count_containing("corp.example"), 0);
}

static void onion_names_fail_without_a_query(void **state)
{
	struct fixture *f = *state;
	struct result res = {.f = f};
	struct pc_resolve_req *req;

	/* c-ares refuses .onion at once; the answer still comes from the loop, not from inside
	 * pc_resolve_start. */
	assert_int_equal(pc_resolve_start(f->r, "abcdef.onion", 1000, on_result, &res, NULL), 0);
	assert_int_equal(res.calls, 0);
	run_until(f, &res.calls, 1);
	assert_int_equal(res.status, PC_EDNS);
	/* Cancelled between the immediate answer and its delivery: nothing. */
	assert_int_equal(pc_resolve_start(f->r, "other.onion", 1000, on_forbidden, NULL, &req), 0);
	pc_resolve_cancel(req);
	run_until_released(f);
	assert_int_equal(log_count_containing(".onion"), 0);
}

/* ---- input tables ------------------------------------------------------------------------- */

static void names_refused_before_any_query(void **state)
{
	struct fixture *f = *state;
	char label64[80], long_name[300];
	const char *bad[] = {
	        "",        ".",          "..",           "a..b",
	        ".a",      "a.",         "example.com.", "127.0.0.1",
	        "1.2.3.4", "2130706433", "a.123",        "a.0x7f",
	        "a.0X1",   "a.0x",       "a.0xAb",       "a.017",
	        "::1",     "[::1]",      "2001:db8::1",  "a b",
	        "a/b",     "a\tb",       "a\x01",        "b\xc3\xa9.test",
	        "a:80",    "*.example",  "a%b",          label64,
	        long_name,
	};
	const char *good[] = {"a",
	                      "a.test",
	                      "xn--bcher-kva.example",
	                      "_srv._tcp.example",
	                      "a-b.test",
	                      "0a.test",
	                      "a.0a",
	                      "a.0xg",
	                      "a.x0",
	                      "123.example"};

	memset(label64, 'a', 64);
	label64[64] = '\0';
	/* 254 bytes: 126 labels "a." and "bb". */
	for (int i = 0; i < 126; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	memcpy(long_name + 252, "bb", 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pc_resolve_start(f->r, bad[i], 1000, on_forbidden, NULL, NULL) != PC_EHOST)
			fail_msg("accepted bad name \"%s\"", bad[i]);
	}
	assert_int_equal(pc_resolve_start(f->r, NULL, 1000, on_forbidden, NULL, NULL), -EINVAL);
	assert_int_equal(pc_resolve_start(f->r, "a.test", 1000, NULL, NULL, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (pc_resolve_start(f->r, good[i], 60000, on_forbidden, NULL, NULL) != 0)
			fail_msg("refused good name \"%s\"", good[i]);
	}
	long_name[252] = 'b';
	long_name[253] = '\0'; /* 253 bytes: the longest name */
	assert_int_equal(pc_resolve_start(f->r, long_name, 60000, on_forbidden, NULL, NULL), 0);
	label64[63] = '\0';
	assert_int_equal(pc_resolve_start(f->r, label64, 60000, on_forbidden, NULL, NULL), 0);
	fixture_finish(f);
}

static void server_lists(void **state)
{
	struct fixture *f = *state;
	struct pc_resolver *r;
	char many[512] = "";
	const char *good[] = {
	        NULL,
	        "",
	        "127.0.0.1",
	        "127.0.0.1:53",
	        "[::1]:5353",
	        "::1",
	        "[::1]",
	        "::1:53",
	        "1.2.3.4,5.6.7.8",
	        " 1.2.3.4 ,\t5.6.7.8 ",
	        "1.2.3.4:65535",
	        "1.2.3.4:1",
	        "[2001:db8::1]:53,192.0.2.1:5353",
	};
	const char *bad[] = {
	        "1.2.3",
	        "1.2.3.4:99999",
	        "1.2.3.4:65536",
	        "1.2.3.4:0",
	        "1.2.3.4:",
	        "host.example",
	        "[::1",
	        "[::1]53",
	        "[::1]:",
	        "[1.2.3.4]",
	        "[1.2.3.4]:53",
	        ",",
	        " ",
	        "1.2.3.4,",
	        ",1.2.3.4",
	        "1.2.3.4,,5.6.7.8",
	        "256.1.1.1",
	        "1.2.3.4:53x",
	        "1.2.3.4:-1",
	        "1.2.3.4:+53",
	        "1.2.3.4:123456",
	        "fe80::1%eth0",
	        "[fe80::1%lo]:53",
	        "01.2.3.4",
	        "1.2.3.4 5.6.7.8",
	        "1.2.3.4;5.6.7.8",
	        "[]",
	        "[]:53",
	        ":53",
	        many,
	};

	(void)f;
	for (int i = 0; i < 17; i++)
		strcat(many, i ? ",127.0.0.1" : "127.0.0.1");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (pc_resolver_new(&f->t.loop, good[i], &r) != 0)
			fail_msg("refused server list \"%s\"", good[i] ? good[i] : "(null)");
		pc_resolver_free(r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = (struct pc_resolver *)&r;
		if (pc_resolver_new(&f->t.loop, bad[i], &r) != PC_ECONFIG)
			fail_msg("accepted server list \"%s\"", bad[i]);
		assert_null(r);
	}
	many[strlen(many) - strlen(",127.0.0.1")] = '\0'; /* 16 servers: the most allowed */
	assert_int_equal(pc_resolver_new(&f->t.loop, many, &r), 0);
	pc_resolver_free(r);
	pc_resolver_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	        T(a_only),
	        T(aaaa_only),
	        T(both_families_interleaved_and_deduplicated),
	        T(first_answered_family_comes_first),
	        T(cname_is_followed),
	        T(truncated_answer_is_retried_over_tcp_and_capped),
	        T(failures_are_edns),
	        T(blackholed_name_times_out_at_the_deadline),
	        T(late_answer_after_our_timeout_is_released),
	        T(cancelled_request_never_calls_back),
	        T(free_with_requests_in_flight_calls_nothing),
	        T(free_from_inside_callbacks),
	        T(concurrent_queries),
	        T(sequential_queries_across_socket_reopen),
	        T(connection_reset_reopens_sockets_inside_processing),
	        T(refused_first_server_falls_back_to_the_next),
	        T(query_log_shows_the_names_asked),
	        T(localhost_is_never_sent_to_a_server),
	        T(search_domains_and_aliases_are_never_applied),
	        T(onion_names_fail_without_a_query),
	        T(names_refused_before_any_query),
	        T(server_lists),
	};
	/* PC_TEST_FILTER=name_glob runs a subset while debugging. */
	if (getenv("PC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("PC_TEST_FILTER"));
	return cmocka_run_group_tests(tests, server_start, server_stop);
}
