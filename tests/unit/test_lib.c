/* libportcullis through a real client: curl talks to a proxy the library started, which
 * forwards to an origin the test serves on loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "portcullis.h"

struct origin {
	int fd;
	uint16_t port;
	pthread_t thread;
	int served;
};

/* Answers every connection with one 200 until the listening socket is shut down. */
static void *origin_main(void *arg)
{
	struct origin *o = arg;
	static const char reply[] =
	        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

	for (;;) {
		char buf[4096];
		size_t len = 0;
		int c = accept(o->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		while (len < sizeof(buf) - 1) {
			ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, "\r\n\r\n") != NULL)
				break;
		}
		if (write(c, reply, sizeof(reply) - 1) > 0)
			o->served++;
		close(c);
	}
}

static void origin_start(struct origin *o)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	o->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(o->fd >= 0);
	assert_int_equal(bind(o->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(o->fd, 16), 0);
	assert_int_equal(getsockname(o->fd, (struct sockaddr *)&a, &len), 0);
	o->port = ntohs(a.sin_port);
	o->served = 0;
	assert_int_equal(pthread_create(&o->thread, NULL, origin_main, o), 0);
}

static void origin_stop(struct origin *o)
{
	shutdown(o->fd, SHUT_RDWR);
	pthread_join(o->thread, NULL);
	close(o->fd);
}

/* curl's status code for url through proxy (0 when curl could not run). */
static int curl(const char *proxy, const char *url)
{
	char cmd[512], out[16] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null -w '%%{http_code}' -x http://%s '%s'",
	         proxy, url);
	f = popen(cmd, "r");
	if (f == NULL)
		return 0;
	if (fgets(out, sizeof(out), f) == NULL)
		out[0] = '\0';
	pclose(f);
	return atoi(out);
}

struct seen {
	int n;
	char host[256];
	char reason[32];
	char protocol[32];
};

static void record(void *data, const struct portcullis_block *b)
{
	struct seen *s = data;

	s->n++;
	snprintf(s->host, sizeof(s->host), "%s", b->host);
	snprintf(s->reason, sizeof(s->reason), "%s", b->reason);
	snprintf(s->protocol, sizeof(s->protocol), "%s", b->protocol);
}

static void proxies_and_blocks(void **state)
{
	static const char *const allow[] = {"127.0.0.1"};
	struct portcullis_options o = {.allow = allow, .n_allow = 1, .audit_log = "off"};
	struct portcullis *p = NULL;
	struct origin origin;
	struct seen seen = {0};
	char http[64], socks[64], url[128], err[256];
	(void)state;

	origin_start(&origin);
	assert_int_equal(portcullis_new(&o, &p, err, sizeof(err)), 0);
	/* the ports are fixed before anything starts */
	assert_int_equal(portcullis_http_address(p, http, sizeof(http)), 0);
	assert_int_equal(strncmp(http, "127.0.0.1:", 10), 0);
	assert_int_equal(portcullis_socks_address(p, socks, sizeof(socks)), 0);
	assert_int_equal(portcullis_on_block(p, record, &seen), 0);
	assert_int_equal(portcullis_start(p), 0);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", origin.port);
	assert_int_equal(curl(http, url), 200);
	assert_int_equal(origin.served, 1);
	snprintf(url, sizeof(url), "http://127.0.0.2:%u/", origin.port);
	assert_int_equal(curl(http, url), 403);
	assert_int_equal(portcullis_stop(p, 1000), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.host, "127.0.0.2");
	assert_string_equal(seen.reason, "not_allowed_local");
	assert_string_equal(seen.protocol, "http");
	assert_int_equal(portcullis_blocked_count(p), 1);
	portcullis_free(p);
	origin_stop(&origin);
}

static void configuration_errors_are_reported(void **state)
{
	static const char *const allow[] = {"bad pattern"};
	struct portcullis_options o = {.allow = allow, .n_allow = 1, .no_socks = 1};
	struct portcullis *p = NULL;
	char err[256] = "";
	(void)state;

	assert_true(portcullis_new(&o, &p, err, sizeof(err)) < 0);
	assert_null(p);
	assert_non_null(strstr(err, "--allow: invalid pattern 'bad pattern'"));
}

static void never_started(void **state)
{
	struct portcullis_options o = {.no_socks = 1, .audit_log = "off"};
	struct portcullis *p = NULL;
	char buf[64];
	(void)state;

	assert_int_equal(portcullis_new(&o, &p, NULL, 0), 0);
	assert_int_equal(portcullis_socks_address(p, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(portcullis_stop(p, 0), -EINVAL);
	portcullis_free(p);
	portcullis_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(proxies_and_blocks),
	        cmocka_unit_test(configuration_errors_are_reported),
	        cmocka_unit_test(never_started),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
