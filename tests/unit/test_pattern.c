#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/pattern.h"

static struct pc_pattern_set *build(unsigned flags, const char *const *patterns, size_t n)
{
	struct pc_pattern_set *set = NULL;
	struct pc_pattern_error err;
	int rc = pc_pattern_set_build(patterns, n, flags, &set, &err);

	if (rc != 0)
		fail_msg("build failed: %s", err.msg);
	return set;
}

#define BUILD(flags, ...)                                                                          \
	({                                                                                         \
		static const char *const pats_[] = {__VA_ARGS__};                                  \
		build(flags, pats_, sizeof(pats_) / sizeof(pats_[0]));                             \
	})

static enum pc_match match(const struct pc_pattern_set *set, const char *host, uint16_t port)
{
	struct pc_host h;

	if (pc_host_normalize(host, strlen(host), 0, &h) != 0)
		fail_msg("host '%s' did not normalise", host);
	return pc_pattern_set_match(set, &h, port);
}

static void expect_invalid(unsigned flags, const char *pattern, const char *fragment)
{
	struct pc_pattern_set *set = NULL;
	struct pc_pattern_error err;
	const char *pats[] = {"ok.example", pattern};
	int rc = pc_pattern_set_build(pats, 2, flags, &set, &err);

	if (rc != PC_EPATTERN)
		fail_msg("pattern '%s' was accepted", pattern);
	assert_null(set);
	assert_int_equal(err.index, 1);
	if (strstr(err.msg, fragment) == NULL)
		fail_msg("pattern '%s': message '%s' lacks '%s'", pattern, err.msg, fragment);
}

static void exact_names(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "example.com", "API.Example.ORG.");
	(void)state;

	assert_int_equal(match(set, "example.com", 443), PC_MATCH_EXACT);
	assert_int_equal(match(set, "EXAMPLE.com.", 80), PC_MATCH_EXACT);
	assert_int_equal(match(set, "api.example.org", 80), PC_MATCH_EXACT);
	assert_int_equal(match(set, "www.example.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "example.co", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "xexample.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "example.com.evil", 443), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void subdomain_star_excludes_apex(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "*.example.com");
	(void)state;

	assert_int_equal(match(set, "example.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "a.example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "a.b.c.example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "aexample.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "example.com.evil.net", 443), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void double_star_includes_apex(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "**.example.com");
	(void)state;

	assert_int_equal(match(set, "example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "a.example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "x.y.example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "badexample.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "com", 443), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void global_star(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "*");
	(void)state;

	assert_int_equal(match(set, "anything.example", 1), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "10.0.0.1", 22), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "[::1]", 22), PC_MATCH_WILDCARD);
	pc_pattern_set_free(set);
	expect_invalid(PC_PATTERN_NO_GLOBAL, "*", "deny everything");
	set = BUILD(PC_PATTERN_NO_GLOBAL, "*:25");
	assert_int_equal(match(set, "mail.example", 25), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "mail.example", 587), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void in_label_globs(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "region*.example.com", "api-?.svc.example.net",
	                                   "*.cdn*.example.org", "build-*", "**.a*b.example.io");
	(void)state;

	assert_int_equal(match(set, "region1.example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "region.example.com", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "regio.example.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "x.region1.example.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "region1.evil.com", 443), PC_MATCH_NONE);
	/* '*' inside a label never crosses a dot */
	assert_int_equal(match(set, "region.x.example.com", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "api-1.svc.example.net", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "api-12.svc.example.net", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "api-.svc.example.net", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "x.cdn7.example.org", 443), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "cdn7.example.org", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "build-7", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "build-7.example", 80), PC_MATCH_NONE);
	assert_int_equal(match(set, "ab.example.io", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "x.axxb.example.io", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "x.axxc.example.io", 80), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void deny_wins_is_policy_but_sets_are_independent(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "*.example.com", "api.example.com");
	(void)state;

	/* The best match is reported: an exact entry beats a wildcard one. */
	assert_int_equal(match(set, "api.example.com", 443), PC_MATCH_EXACT);
	assert_int_equal(match(set, "www.example.com", 443), PC_MATCH_WILDCARD);
	pc_pattern_set_free(set);
}

static void ports(void **state)
{
	struct pc_pattern_set *set =
	        BUILD(0, "example.com:443", "example.com:8443", "*.git.example:22", "[::1]:8080",
	              "127.0.0.1:3000", "10.0.0.0/8:22", "fd00::/8:443");
	(void)state;

	assert_int_equal(match(set, "example.com", 443), PC_MATCH_EXACT);
	assert_int_equal(match(set, "example.com", 8443), PC_MATCH_EXACT);
	assert_int_equal(match(set, "example.com", 80), PC_MATCH_NONE);
	assert_int_equal(match(set, "a.git.example", 22), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "a.git.example", 443), PC_MATCH_NONE);
	assert_int_equal(match(set, "::1", 8080), PC_MATCH_EXACT);
	assert_int_equal(match(set, "::1", 8081), PC_MATCH_NONE);
	assert_int_equal(match(set, "127.0.0.1", 3000), PC_MATCH_EXACT);
	assert_int_equal(match(set, "127.1", 3000), PC_MATCH_EXACT);
	assert_int_equal(match(set, "127.0.0.1", 3001), PC_MATCH_NONE);
	assert_int_equal(match(set, "10.9.8.7", 22), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "10.9.8.7", 23), PC_MATCH_NONE);
	assert_int_equal(match(set, "fd12::1", 443), PC_MATCH_WILDCARD);
	pc_pattern_set_free(set);
}

static void many_ports_on_one_host(void **state)
{
	char **pats = calloc(2000, sizeof(*pats));
	struct pc_pattern_set *set;
	struct pc_pattern_error err;
	(void)state;

	for (int i = 0; i < 2000; i++) {
		pats[i] = malloc(32);
		snprintf(pats[i], 32, "h.example:%d", 60000 - i * 3);
	}
	assert_int_equal(pc_pattern_set_build((const char *const *)pats, 2000, 0, &set, &err), 0);
	assert_int_equal(match(set, "h.example", 60000), PC_MATCH_EXACT);
	assert_int_equal(match(set, "h.example", 60000 - 1999 * 3), PC_MATCH_EXACT);
	assert_int_equal(match(set, "h.example", 59999), PC_MATCH_NONE);
	pc_pattern_set_free(set);
	for (int i = 0; i < 2000; i++)
		free(pats[i]);
	free(pats);
}

static void ip_literals_and_cidr(void **state)
{
	struct pc_pattern_set *set =
	        BUILD(0, "192.168.1.10", "10.1.0.0/16", "[fe80::1]", "2001:db8::/32", "0.0.0.0/0");
	(void)state;

	assert_int_equal(match(set, "192.168.1.10", 80), PC_MATCH_EXACT);
	assert_int_equal(match(set, "0xc0a8010a", 80), PC_MATCH_EXACT);
	assert_int_equal(match(set, "10.1.255.255", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "10.2.0.0", 80), PC_MATCH_WILDCARD); /* 0.0.0.0/0 */
	assert_int_equal(match(set, "fe80::1", 80), PC_MATCH_EXACT);
	assert_int_equal(match(set, "2001:db8:1::5", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "2001:db9::5", 80), PC_MATCH_NONE);
	/* address patterns never match names, and names never match addresses */
	assert_int_equal(match(set, "example.com", 80), PC_MATCH_NONE);
	pc_pattern_set_free(set);

	set = BUILD(0, "localhost", "10.0.0.0/8");
	assert_int_equal(match(set, "127.0.0.1", 80), PC_MATCH_NONE);
	assert_int_equal(match(set, "[::ffff:10.0.0.1]", 80), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void denylist_sees_embedded_ipv4(void **state)
{
	struct pc_pattern_set *set =
	        BUILD(PC_PATTERN_NO_GLOBAL | PC_PATTERN_EMBEDDED_V4, "93.184.216.0/24", "1.2.3.4");
	(void)state;

	assert_int_equal(match(set, "93.184.216.34", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "[::ffff:93.184.216.34]", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "[::ffff:5db8:d822]", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "[64:ff9b::5db8:d822]", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "[2002:5db8:d822::1]", 80), PC_MATCH_WILDCARD);
	assert_int_equal(match(set, "[::ffff:1.2.3.4]", 80), PC_MATCH_EXACT);
	assert_int_equal(match(set, "[::ffff:1.2.3.5]", 80), PC_MATCH_NONE);
	pc_pattern_set_free(set);
}

static void idn_pattern_matches_punycode_host(void **state)
{
	struct pc_pattern_set *set = BUILD(0, "bücher.example", "*.xn--mnchen-3ya.example");
	(void)state;

	assert_int_equal(match(set, "xn--bcher-kva.example", 443), PC_MATCH_EXACT);
	assert_int_equal(match(set, "BÜCHER.example", 443), PC_MATCH_EXACT);
	assert_int_equal(match(set, "www.münchen.example", 443), PC_MATCH_WILDCARD);
	pc_pattern_set_free(set);
}

static void invalid_patterns(void **state)
{
	(void)state;
	expect_invalid(0, "", "empty");
	expect_invalid(0, "   ", "empty");
	expect_invalid(0, "exa mple.com", "not a host name");
	expect_invalid(0, "[abc].example", "after ']'");
	expect_invalid(0, "{a,b}.example", "not a host name");
	expect_invalid(0, "a.**.example", "'**'");
	expect_invalid(0, "a**b.example", "'**'");
	expect_invalid(0, "***.example", "'**'");
	expect_invalid(0, "*.10.0.0.1", "CIDR");
	expect_invalid(0, "**.[::1]", "CIDR");
	expect_invalid(0, "10.0.0.1/33", "prefix length");
	expect_invalid(0, "10.0.0.1/8", "bits set");
	expect_invalid(0, "10.0.0.0/", "prefix length");
	expect_invalid(0, "10.0.0.0/+8", "prefix length");
	expect_invalid(0, "example.com/8", "only CIDR blocks");
	expect_invalid(0, "fd00::/129", "prefix length");
	expect_invalid(0, "example.com:0", "port");
	expect_invalid(0, "example.com:65536", "port");
	expect_invalid(0, "example.com:", "port");
	expect_invalid(0, "example.com:http", "port");
	expect_invalid(0, "[::1", "unbalanced");
	expect_invalid(0, "[::1]x", "':PORT'");
	expect_invalid(0, "1.2.3.09", "not a host name");
	expect_invalid(0, "256.1.1.1", "not a host name");
	expect_invalid(0, "169.254.*", "not a host name");
	expect_invalid(0, "http://example.com", "not a URL");
	expect_invalid(0, "example.com/path", "only CIDR blocks");
	expect_invalid(0, "*:0", "port");
}

static void error_index_names_the_pattern(void **state)
{
	const char *pats[] = {"a.example", "b.example", "bad pattern", "c.example"};
	struct pc_pattern_set *set;
	struct pc_pattern_error err;
	(void)state;

	assert_int_equal(pc_pattern_set_build(pats, 4, 0, &set, &err), PC_EPATTERN);
	assert_int_equal(err.index, 2);
	assert_non_null(strstr(err.msg, "'bad pattern'"));
}

/* Matching cost must not depend on how many exact and suffix patterns exist: with 100k
 * patterns, a lookup still touches only one table slot chain per label. This checks results
 * (not time) at scale. */
static void large_sets_match_correctly(void **state)
{
	enum { N = 100000 };
	char **pats = calloc(N, sizeof(*pats));
	struct pc_pattern_set *set;
	struct pc_pattern_error err;
	char host[64];
	(void)state;

	for (int i = 0; i < N; i++) {
		pats[i] = malloc(48);
		switch (i % 4) {
		case 0:
			snprintf(pats[i], 48, "host%d.example.com", i);
			break;
		case 1:
			snprintf(pats[i], 48, "*.zone%d.example.net", i);
			break;
		case 2:
			snprintf(pats[i], 48, "**.apex%d.example.org", i);
			break;
		default:
			snprintf(pats[i], 48, "10.%d.%d.0/24", (i >> 8) & 255, i & 255);
			break;
		}
	}
	assert_int_equal(pc_pattern_set_build((const char *const *)pats, N, 0, &set, &err), 0);
	assert_int_equal(pc_pattern_set_size(set), N);
	for (int i = 0; i < N; i += 997) {
		int base = i - i % 4;
		snprintf(host, sizeof(host), "host%d.example.com", base);
		assert_int_equal(match(set, host, 443), PC_MATCH_EXACT);
		snprintf(host, sizeof(host), "host%d.example.com", base + 1);
		assert_int_equal(match(set, host, 443), PC_MATCH_NONE);
		snprintf(host, sizeof(host), "a.zone%d.example.net", base + 1);
		assert_int_equal(match(set, host, 443), PC_MATCH_WILDCARD);
		snprintf(host, sizeof(host), "zone%d.example.net", base + 1);
		assert_int_equal(match(set, host, 443), PC_MATCH_NONE);
		snprintf(host, sizeof(host), "apex%d.example.org", base + 2);
		assert_int_equal(match(set, host, 443), PC_MATCH_WILDCARD);
		snprintf(host, sizeof(host), "10.%d.%d.77", ((base + 3) >> 8) & 255,
		         (base + 3) & 255);
		assert_int_equal(match(set, host, 443), PC_MATCH_WILDCARD);
	}
	pc_pattern_set_free(set);
	for (int i = 0; i < N; i++)
		free(pats[i]);
	free(pats);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(exact_names),
	        cmocka_unit_test(subdomain_star_excludes_apex),
	        cmocka_unit_test(double_star_includes_apex),
	        cmocka_unit_test(global_star),
	        cmocka_unit_test(in_label_globs),
	        cmocka_unit_test(deny_wins_is_policy_but_sets_are_independent),
	        cmocka_unit_test(ports),
	        cmocka_unit_test(many_ports_on_one_host),
	        cmocka_unit_test(ip_literals_and_cidr),
	        cmocka_unit_test(denylist_sees_embedded_ipv4),
	        cmocka_unit_test(idn_pattern_matches_punycode_host),
	        cmocka_unit_test(invalid_patterns),
	        cmocka_unit_test(error_index_names_the_pattern),
	        cmocka_unit_test(large_sets_match_correctly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
