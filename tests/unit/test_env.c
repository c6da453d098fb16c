/* run/env: the child environment of SPEC §7 and its layering over the caller's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run/env.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define HTTP  "http://127.0.0.1:41000"
#define SOCKS "socks5h://127.0.0.1:41001"
#define LOCAL "localhost,127.0.0.1,::1"

/* SPEC §7, in the order pc_env_vars returns them; "%H" is the HTTP URL, "%A" the ALL_PROXY
 * value, "%N" the NO_PROXY value. */
static const char *const spec_vars[] = {
        "HTTP_PROXY=%H",
        "HTTPS_PROXY=%H",
        "http_proxy=%H",
        "https_proxy=%H",
        "WS_PROXY=%H",
        "WSS_PROXY=%H",
        "ws_proxy=%H",
        "wss_proxy=%H",
        "YARN_HTTP_PROXY=%H",
        "YARN_HTTPS_PROXY=%H",
        "npm_config_http_proxy=%H",
        "npm_config_https_proxy=%H",
        "npm_config_proxy=%H",
        "NPM_CONFIG_HTTP_PROXY=%H",
        "NPM_CONFIG_HTTPS_PROXY=%H",
        "NPM_CONFIG_PROXY=%H",
        "BUNDLE_HTTP_PROXY=%H",
        "BUNDLE_HTTPS_PROXY=%H",
        "PIP_PROXY=%H",
        "DOCKER_HTTP_PROXY=%H",
        "DOCKER_HTTPS_PROXY=%H",
        "ALL_PROXY=%A",
        "all_proxy=%A",
        "FTP_PROXY=%A",
        "ftp_proxy=%A",
        "NO_PROXY=%N",
        "no_proxy=%N",
        "npm_config_noproxy=%N",
        "NPM_CONFIG_NOPROXY=%N",
        "BUNDLE_NO_PROXY=%N",
        "NODE_USE_ENV_PROXY=1",
        "ELECTRON_GET_USE_PROXY=true",
        "PORTCULLIS_PROXY_ACTIVE=1",
};

/* Expands one spec_vars template into buf. */
static const char *expand(const char *tmpl, const char *all, const char *no_proxy, char *buf,
                          size_t size)
{
	const char *pct = strchr(tmpl, '%');
	const char *value;

	if (pct == NULL)
		return tmpl;
	value = pct[1] == 'H' ? HTTP : pct[1] == 'A' ? all : no_proxy;
	snprintf(buf, size, "%.*s%s", (int)(pct - tmpl), tmpl, value);
	return buf;
}

static void assert_spec_vars(const struct pc_env_spec *spec, const char *all, const char *no_proxy)
{
	size_t n = 99;
	char **vars = pc_env_vars(spec, &n);
	char buf[128];

	assert_non_null(vars);
	assert_int_equal(n, COUNT(spec_vars));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(vars[i], expand(spec_vars[i], all, no_proxy, buf, sizeof(buf)));
	pc_env_free(vars, n);
}

static void every_spec_7_variable_in_order(void **state)
{
	struct pc_env_spec spec = {HTTP, SOCKS, false, false};
	(void)state;

	assert_spec_vars(&spec, SOCKS, "");
}

static void all_proxy_names_http_when_socks_is_off(void **state)
{
	struct pc_env_spec spec = {HTTP, NULL, false, false};
	(void)state;

	assert_spec_vars(&spec, HTTP, "");
}

/* Local names go through the proxy unless allow_local_binding lets them out directly, and
 * never under --isolate, where nothing local is reachable but the proxy. */
static void no_proxy_only_with_allow_local_and_without_isolate(void **state)
{
	static const struct {
		bool allow_local, isolated;
		const char *no_proxy;
	} table[] = {
	        {false, false, ""},
	        {true, false, LOCAL},
	        {false, true, ""},
	        {true, true, ""},
	};
	(void)state;

	for (size_t i = 0; i < COUNT(table); i++) {
		struct pc_env_spec spec = {HTTP, SOCKS, table[i].allow_local, table[i].isolated};
		assert_spec_vars(&spec, SOCKS, table[i].no_proxy);
	}
}

static size_t count(char **env)
{
	size_t n = 0;

	while (env[n] != NULL)
		n++;
	return n;
}

static bool contains(char **env, const char *s)
{
	for (size_t i = 0; env[i] != NULL; i++)
		if (strcmp(env[i], s) == 0)
			return true;
	return false;
}

/* The caller's variables survive unless run sets one of the same name, whatever its value
 * or case was; a longer or shorter name is another variable. */
static void merge_replaces_exactly_the_names_it_sets(void **state)
{
	char *base[] = {
	        "PATH=/usr/bin",
	        "HTTP_PROXY=http://evil.example:1",
	        "HTTP_PROXY_EXTRA=kept",
	        "HTTP=kept",
	        "no_proxy=*",
	        "NO_PROXY", /* no '=': still the name NO_PROXY */
	        "HTTP_PROXY=http://twice.example:2",
	        "Http_Proxy=kept (another name)",
	        "=odd",
	        NULL,
	};
	char *vars[] = {("HTTP_PROXY=" HTTP),
	                "no_proxy=", "NO_PROXY=", "PORTCULLIS_PROXY_ACTIVE=1"};
	char **env;
	(void)state;

	env = pc_env_merge(base, vars, COUNT(vars));
	assert_non_null(env);
	assert_int_equal(count(env), 5 + COUNT(vars));
	/* the caller's first, in their order, then run's */
	assert_ptr_equal(env[0], base[0]);
	assert_ptr_equal(env[1], base[2]);
	assert_ptr_equal(env[2], base[3]);
	assert_ptr_equal(env[3], base[7]);
	assert_ptr_equal(env[4], base[8]);
	for (size_t i = 0; i < COUNT(vars); i++)
		assert_ptr_equal(env[5 + i], vars[i]);
	assert_false(contains(env, "HTTP_PROXY=http://evil.example:1"));
	assert_false(contains(env, "HTTP_PROXY=http://twice.example:2"));
	assert_false(contains(env, "no_proxy=*"));
	assert_false(contains(env, "NO_PROXY"));
	free(env);
}

static void merge_with_no_caller_environment(void **state)
{
	char *empty[] = {NULL};
	char *vars[] = {"A=1", "B="};
	char **env;
	(void)state;

	env = pc_env_merge(NULL, vars, COUNT(vars));
	assert_non_null(env);
	assert_int_equal(count(env), 2);
	assert_string_equal(env[1], "B=");
	free(env);
	env = pc_env_merge(empty, vars, 0);
	assert_non_null(env);
	assert_null(env[0]);
	free(env);
}

static void merge_of_the_real_vars(void **state)
{
	struct pc_env_spec spec = {HTTP, SOCKS, true, false};
	char *base[] = {"HOME=/home/x", "ALL_PROXY=socks5://evil.example:3", NULL};
	size_t n;
	char **vars = pc_env_vars(&spec, &n);
	char **env;
	(void)state;

	assert_non_null(vars);
	env = pc_env_merge(base, vars, n);
	assert_non_null(env);
	assert_int_equal(count(env), 1 + n);
	assert_true(contains(env, "HOME=/home/x"));
	assert_true(contains(env, "ALL_PROXY=" SOCKS));
	assert_true(contains(env, "NO_PROXY=" LOCAL));
	free(env);
	pc_env_free(vars, n);
	pc_env_free(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(every_spec_7_variable_in_order),
	        cmocka_unit_test(all_proxy_names_http_when_socks_is_off),
	        cmocka_unit_test(no_proxy_only_with_allow_local_and_without_isolate),
	        cmocka_unit_test(merge_replaces_exactly_the_names_it_sets),
	        cmocka_unit_test(merge_with_no_caller_environment),
	        cmocka_unit_test(merge_of_the_real_vars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
