/* Request-targets and authorities: every form, and every way to smuggle a second reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http/target.h"

#define GET     PC_HTTP_METHOD_GET
#define CONNECT PC_HTTP_METHOD_CONNECT
#define OPTIONS PC_HTTP_METHOD_OPTIONS

struct target_case {
	enum pc_http_method method;
	const char *in;
	enum pc_http_target_form form; /* 0: refused */
	enum pc_http_scheme scheme;
	const char *host; /* NULL: absent */
	uint16_t port;
	const char *path; /* NULL: absent */
	const char *query;
};

static const struct target_case good[] = {
        {GET, "/", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/", NULL},
        {GET, "/a/b/c", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/a/b/c", NULL},
        {GET, "//a", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "//a", NULL},
        {GET, "/a?b=c&d", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/a", "?b=c&d"},
        {GET, "/a?", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/a", "?"},
        {GET, "/a?b?c/d", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/a", "?b?c/d"},
        {GET, "/%41%2f%ff", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/%41%2f%ff", NULL},
        {GET, "/-._~!$&'()*+,;=:@", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/-._~!$&'()*+,;=:@", NULL},
        {GET, "http://example.com", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "example.com", 0,
         "/", NULL},
        {GET, "http://example.com/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "example.com", 0,
         "/", NULL},
        {GET, "HTTP://Example.COM:8080/x?y", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP,
         "Example.COM", 8080, "/x", "?y"},
        {GET, "https://a:443/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTPS, "a", 443, "/", NULL},
        {GET, "ws://a/chat", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_WS, "a", 0, "/chat", NULL},
        {GET, "WsS://a/chat", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_WSS, "a", 0, "/chat", NULL},
        {GET, "http://a?q", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 0, "/", "?q"},
        {GET, "http://[::1]:8080/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "[::1]", 8080,
         "/", NULL},
        {GET, "http://[fe80::1%25eth0]/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP,
         "[fe80::1%25eth0]", 0, "/", NULL},
        {GET, "http://[fe80::1%25en%30]/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP,
         "[fe80::1%25en%30]", 0, "/", NULL},
        {GET, "http://[::ffff:1.2.3.4]/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP,
         "[::ffff:1.2.3.4]", 0, "/", NULL},
        {GET, "http://1.2.3.4:1/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "1.2.3.4", 1, "/",
         NULL},
        {GET, "http://a:65535", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 65535, "/",
         NULL},
        {GET, "http://a:00080/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 80, "/", NULL},
        {GET, "http://a_b-c.d~!$&'()*+,;=/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP,
         "a_b-c.d~!$&'()*+,;=", 0, "/", NULL},
        {CONNECT, "example.com:443", PC_HTTP_TARGET_AUTHORITY, 0, "example.com", 443, NULL, NULL},
        {CONNECT, "[2001:db8::1]:8443", PC_HTTP_TARGET_AUTHORITY, 0, "[2001:db8::1]", 8443, NULL,
         NULL},
        {CONNECT, "127.0.0.1:1", PC_HTTP_TARGET_AUTHORITY, 0, "127.0.0.1", 1, NULL, NULL},
        {OPTIONS, "*", PC_HTTP_TARGET_ASTERISK, 0, NULL, 0, "*", NULL},
        {OPTIONS, "/", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/", NULL},
        {OPTIONS, "http://a:8001", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 8001, "*",
         NULL},
        {OPTIONS, "http://a:8001?x", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 8001, "/",
         "?x"},
        {OPTIONS, "http://a/", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 0, "/", NULL},
        {GET, "http://a/@b", PC_HTTP_TARGET_ABSOLUTE, PC_HTTP_SCHEME_HTTP, "a", 0, "/@b", NULL},
        {PC_HTTP_METHOD_OTHER, "/x", PC_HTTP_TARGET_ORIGIN, 0, NULL, 0, "/x", NULL},
};

/* Refused, with a word the reason must contain. */
static const struct {
	enum pc_http_method method;
	const char *in;
	const char *why;
} bad[] = {
        {GET, "", "empty"},
        {GET, "*", "OPTIONS"},
        {CONNECT, "*", "port"},
        {GET, "a", "request-target"},
        {GET, "example.com:443", "scheme"},
        {GET, "1http://a/", "request-target"},
        {GET, "ftp://a/", "scheme"},
        {GET, "file:///etc/passwd", "scheme"},
        {GET, "httpx://a/", "scheme"},
        {GET, "http:/a/", "authority"},
        {GET, "http:a", "authority"},
        {GET, "http://", "empty"},
        {GET, "http:///x", "empty"},
        {GET, "http://?x", "empty"},
        {GET, "http://u@a/", "userinfo"},
        {GET, "http://u:p@a/", "userinfo"},
        {GET, "http://a@/", "userinfo"},
        {GET, "http://a/#f", "fragment"},
        {GET, "http://a#f", "fragment"},
        {GET, "/a#f", "fragment"},
        {GET, "/a?b#f", "fragment"},
        {GET, "/a\\b", "backslash"},
        {GET, "http://a\\b/", "host"},
        {GET, "http://a%2eb/", "percent"},
        {GET, "http://%61/", "percent"},
        {GET, "http://[::1%eth0]/", "IPv6"},
        {GET, "http://[::1%2]/", "IPv6"},
        {GET, "http://[::1%25]/", "IPv6"},
        {GET, "http://[::1%25a%2]/", "zone"},
        {GET, "http://[::1%25a b]/", "zone"},
        {GET, "http://[v1.x]/", "IPvFuture"},
        {GET, "http://[]/", "IPv6"},
        {GET, "http://[1.2.3.4]/", "IPv6"},
        {GET, "http://[::1/", "unterminated"},
        {GET, "http://[::1]x/", "after"},
        {GET, "http://[::g]/", "IPv6"},
        {GET, "http://::1/", "host"},
        {GET, "http://a:b/", "port"},
        {GET, "http://a:/", "empty port"},
        {GET, "http://a:0/", "port"},
        {GET, "http://a:65536/", "port"},
        {GET, "http://a:123456/", "port"},
        {GET, "http://a:1:2/", "port"},
        {GET, "http://a:-1/", "port"},
        {GET, "http://a b/", "host"},
        {GET, "http://a/\"", "character"},
        {GET, "/a<b>", "character"},
        {GET, "/{x}", "character"},
        {GET, "/a|b", "character"},
        {GET, "/a^b", "character"},
        {GET, "/a`b", "character"},
        {GET, "/a b", "character"},
        {GET, "/\x80", "character"},
        {GET, "/%", "percent"},
        {GET, "/%4", "percent"},
        {GET, "/%4g", "percent"},
        {GET, "/a?%zz", "percent"},
        {GET, "/a?[x]", "character"},
        {CONNECT, "example.com", "missing port"},
        {CONNECT, "example.com:", "empty port"},
        {CONNECT, "example.com:0", "port"},
        {CONNECT, "example.com:443/", "port"},
        {CONNECT, ":443", "empty host"},
        {CONNECT, "http://example.com:443", "port"},
        {CONNECT, "/", "host"},
        {CONNECT, "u@example.com:443", "userinfo"},
        {CONNECT, "[::1]", "missing port"},
        {CONNECT, "[::1]443", "after"},
        {OPTIONS, "**", "request-target"},
};

static bool slice_is(struct pc_http_slice s, const char *text)
{
	if (!text)
		return s.p == NULL && s.len == 0;
	return s.p && s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

static void test_good_targets(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		const struct target_case *c = &good[i];
		struct pc_http_target t;
		struct pc_http_error err = {0, NULL};
		int rc = pc_http_target_parse(c->in, strlen(c->in), c->method, &t, &err);
		if (rc != 0)
			fail_msg("\"%s\": %s", c->in, err.reason);
		if (t.form != c->form || t.scheme != c->scheme || !slice_is(t.host, c->host) ||
		    t.port != c->port || !slice_is(t.path, c->path) || !slice_is(t.query, c->query))
			fail_msg("\"%s\": form %d scheme %d host \"%.*s\" port %u path \"%.*s\" "
			         "query \"%.*s\"",
			         c->in, t.form, t.scheme, (int)t.host.len, t.host.p ? t.host.p : "",
			         t.port, (int)t.path.len, t.path.p ? t.path.p : "",
			         (int)t.query.len, t.query.p ? t.query.p : "");
		if (c->form == PC_HTTP_TARGET_ABSOLUTE || c->form == PC_HTTP_TARGET_AUTHORITY)
			assert_non_null(t.authority.p);
		else
			assert_null(t.authority.p);
	}
}

static void test_bad_targets(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pc_http_target t;
		struct pc_http_error err = {0, NULL};
		int rc =
		        pc_http_target_parse(bad[i].in, strlen(bad[i].in), bad[i].method, &t, &err);
		if (rc != PC_EPARSE)
			fail_msg("\"%s\" was accepted", bad[i].in);
		assert_int_equal(err.status, 400);
		assert_non_null(err.reason);
		if (bad[i].why && !strstr(err.reason, bad[i].why))
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].in, err.reason,
			         bad[i].why);
	}
}

static void test_userinfo_rejected(void **state)
{
	(void)state;
	/* "http://allowed.com@evil.com/" names evil.com; a checker that reads up to '@' would
	 * allow it. */
	struct pc_http_target t;
	assert_int_equal(pc_http_target_parse("http://allowed.com@evil.com/", 28,
	                                      PC_HTTP_METHOD_GET, &t, NULL),
	                 PC_EPARSE);
}

static void test_fragment_and_backslash_rejected(void **state)
{
	(void)state;
	/* "http://evil.com#@allowed.com/" and "http://evil.com\@allowed.com/" read differently in
	 * browsers and servers. */
	struct pc_http_target t;
	struct pc_http_error err;
	assert_int_equal(pc_http_target_parse("http://evil.com#@allowed.com/", 29,
	                                      PC_HTTP_METHOD_GET, &t, &err),
	                 PC_EPARSE);
	assert_int_equal(pc_http_target_parse("http://evil.com\\@allowed.com/", 29,
	                                      PC_HTTP_METHOD_GET, &t, &err),
	                 PC_EPARSE);
	assert_int_equal(pc_http_target_parse("http://evil.com\\.allowed.com/", 29,
	                                      PC_HTTP_METHOD_GET, &t, &err),
	                 PC_EPARSE);
}

static void test_authority_split(void **state)
{
	(void)state;
	struct pc_http_slice host;
	uint16_t port = 7;
	const char *why = NULL;
	assert_int_equal(
	        pc_http_authority_split("", 0, PC_HTTP_AUTHORITY_EMPTY_OK, &host, &port, &why), 0);
	assert_int_equal(host.len, 0);
	assert_int_equal(port, 0);
	assert_int_equal(pc_http_authority_split("", 0, 0, &host, &port, &why), PC_EPARSE);
	assert_string_equal(why, "empty authority");
	assert_int_equal(pc_http_authority_split("a.b:80", 6, 0, &host, &port, NULL), 0);
	assert_true(slice_is(host, "a.b"));
	assert_int_equal(port, 80);
	assert_int_equal(pc_http_authority_split("a.b", 3, PC_HTTP_AUTHORITY_PORT_REQUIRED, &host,
	                                         &port, &why),
	                 PC_EPARSE);
	assert_string_equal(why, "missing port");
	/* The length is honoured: nothing is read beyond it. */
	assert_int_equal(pc_http_authority_split("a:8080", 4, 0, &host, &port, NULL), 0);
	assert_int_equal(port, 80);
}

/* Every byte value at offset at of tmpl: accepted exactly when it is in allowed. */
static void sweep(const char *tmpl, size_t at, const char *allowed)
{
	for (int c = 0; c < 256; c++) {
		char in[32];
		size_t n = strlen(tmpl);
		memcpy(in, tmpl, n);
		in[at] = (char)c;
		struct pc_http_target t;
		int rc = pc_http_target_parse(in, n, PC_HTTP_METHOD_GET, &t, NULL);
		bool ok = c != 0 && strchr(allowed, c) != NULL;
		if (ok != (rc == 0))
			fail_msg("\"%s\" with byte 0x%02x: rc %d", tmpl, c, rc);
	}
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static void test_every_byte_in_host(void **state)
{
	(void)state;
	/* Only RFC 3986 unreserved and sub-delims make a reg-name; '/' and '?' end the authority
	 * ("a" is the host and the rest is a path). */
	sweep("http://aXb/", 8, ALNUM "-._~!$&'()*+,;=/?");
}

static void test_every_byte_in_path(void **state)
{
	(void)state;
	sweep("/aXb", 2, ALNUM "-._~!$&'()*+,;=:@/?");
	sweep("/a?aXb", 4, ALNUM "-._~!$&'()*+,;=:@/?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_good_targets),
	        cmocka_unit_test(test_bad_targets),
	        cmocka_unit_test(test_userinfo_rejected),
	        cmocka_unit_test(test_fragment_and_backslash_rejected),
	        cmocka_unit_test(test_authority_split),
	        cmocka_unit_test(test_every_byte_in_host),
	        cmocka_unit_test(test_every_byte_in_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
