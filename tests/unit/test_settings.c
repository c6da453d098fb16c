#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/settings.h"
#include "core/error.h"
#include "policy/policy.h"

static struct pc_settings *parse_ok(const char *text)
{
	struct pc_settings *s = NULL;
	struct pc_config_error err;

	if (pc_settings_parse(text, strlen(text), "test.toml", &s, &err) != 0)
		fail_msg("unexpected error: %s", err.text);
	return s;
}

static void expect_error(const char *text, const char *want)
{
	struct pc_settings *s = NULL;
	struct pc_config_error err;
	int rc = pc_settings_parse(text, strlen(text), "test.toml", &s, &err);

	if (rc == 0) {
		/* Pattern errors surface when the policy compiles the settings. */
		struct pc_policy *p = NULL;
		rc = pc_policy_new(s, &p, &err);
		pc_policy_unref(p);
	}
	if (rc == 0)
		fail_msg("accepted: %s", text);
	if (strstr(err.text, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err.text, want);
}

static void defaults(void **state)
{
	struct pc_settings *s = parse_ok("");
	(void)state;

	assert_true(s->enabled);
	assert_string_equal(s->proxy_url, "http://127.0.0.1:3128");
	assert_string_equal(s->socks_url, "http://127.0.0.1:8081");
	assert_true(s->enable_socks5);
	assert_true(s->enable_socks5_udp);
	assert_int_equal(s->mode, PC_MODE_FULL);
	assert_int_equal(s->allowed_domains.len, 0);
	assert_int_equal(s->denied_domains.len, 0);
	assert_false(s->allow_local_binding);
	assert_false(s->dangerously_allow_all_unix_sockets);
	assert_true(s->allow_upstream_proxy);
	assert_false(s->dangerously_allow_non_loopback_proxy);
	assert_null(s->audit_log);
	assert_false(s->has_rules_files);
	assert_int_equal(s->approval_policy, PC_APPROVAL_ON_REQUEST);
	assert_int_equal(s->approval_timeout_s, 120);
	assert_int_equal(s->approvals_reviewer, PC_REVIEWER_USER);
	assert_int_equal(s->reviewer_timeout_s, 90);
	assert_int_equal(s->reviewer_threshold, 80);
	assert_int_equal(s->max_connections, 4096);
	assert_int_equal(s->head_timeout_s, 30);
	assert_int_equal(s->idle_timeout_s, 60);
	assert_int_equal(s->tunnel_idle_timeout_s, 900);
	assert_int_equal(s->connect_timeout_s, 10);
	assert_int_equal(s->max_request_line, 8192);
	assert_int_equal(s->max_header_bytes, 65536);
	assert_int_equal(s->max_header_fields, 100);
	assert_int_equal(s->udp_idle_timeout_s, 120);
	assert_false(s->mitm.enabled);
	assert_int_equal(s->mitm.leaf_cache_size, 1024);
	assert_int_equal(s->n_profiles, 0);
	pc_settings_free(s);
}

static void every_key(void **state)
{
	struct pc_settings *s =
	        parse_ok("[network]\n"
	                 "enabled = false\n"
	                 "proxy_url = \"http://127.0.0.1:13128\"\n"
	                 "socks_url = \"socks5h://127.0.0.1:18081\"\n"
	                 "enable_socks5 = false\n"
	                 "enable_socks5_udp = false\n"
	                 "mode = \"limited\"\n"
	                 "allowed_domains = [\"*.example.com\", \"api.example.org:443\"]\n"
	                 "denied_domains = [\"evil.example.com\"]\n"
	                 "allow_local_binding = true\n"
	                 "allow_unix_sockets = [\"/run/docker.sock\"]\n"
	                 "dangerously_allow_all_unix_sockets = true\n"
	                 "allow_upstream_proxy = false\n"
	                 "dangerously_allow_non_loopback_proxy = true\n"
	                 "dns_servers = [\"127.0.0.1:5353\"]\n"
	                 "audit_log = \"off\"\n"
	                 "rules_files = [\"/tmp/a.rules\", \"/tmp/b.rules\"]\n"
	                 "approval_policy = \"never\"\n"
	                 "approval_timeout_s = 5\n"
	                 "approvals_reviewer = \"command\"\n"
	                 "reviewer_command = [\"/bin/reviewer\", \"--json\"]\n"
	                 "reviewer_timeout_s = 7\n"
	                 "reviewer_threshold = 50\n"
	                 "max_connections = 100\n"
	                 "head_timeout_s = 3\n"
	                 "idle_timeout_s = 4\n"
	                 "tunnel_idle_timeout_s = 5\n"
	                 "connect_timeout_s = 6\n"
	                 "max_request_line = 1000\n"
	                 "max_header_bytes = 2000\n"
	                 "max_header_fields = 20\n"
	                 "udp_idle_timeout_s = 9\n"
	                 "[network.mitm]\n"
	                 "enabled = true\n"
	                 "ca_cert_path = \"/x/ca.pem\"\n"
	                 "ca_key_path = \"/x/ca.key\"\n"
	                 "leaf_cache_size = 10\n"
	                 "[profiles.docs]\n"
	                 "allowed_domains = [\"docs.example.com\"]\n");
	(void)state;

	assert_false(s->enabled);
	assert_string_equal(s->proxy_url, "http://127.0.0.1:13128");
	assert_string_equal(s->socks_url, "socks5h://127.0.0.1:18081");
	assert_false(s->enable_socks5);
	assert_false(s->enable_socks5_udp);
	assert_int_equal(s->mode, PC_MODE_LIMITED);
	assert_int_equal(s->allowed_domains.len, 2);
	assert_string_equal(s->allowed_domains.items[1], "api.example.org:443");
	assert_int_equal(s->allowed_domains.pos[1].line, 8);
	assert_int_equal(s->allowed_domains.pos[1].col, 37);
	assert_string_equal(s->denied_domains.items[0], "evil.example.com");
	assert_true(s->allow_local_binding);
	assert_string_equal(s->allow_unix_sockets.items[0], "/run/docker.sock");
	assert_true(s->dangerously_allow_all_unix_sockets);
	assert_false(s->allow_upstream_proxy);
	assert_true(s->dangerously_allow_non_loopback_proxy);
	assert_string_equal(s->dns_servers.items[0], "127.0.0.1:5353");
	assert_string_equal(s->audit_log, "off");
	assert_true(s->has_rules_files);
	assert_int_equal(s->rules_files.len, 2);
	assert_int_equal(s->approval_policy, PC_APPROVAL_NEVER);
	assert_int_equal(s->approval_timeout_s, 5);
	assert_int_equal(s->approvals_reviewer, PC_REVIEWER_COMMAND);
	assert_string_equal(s->reviewer_command.items[1], "--json");
	assert_int_equal(s->reviewer_timeout_s, 7);
	assert_int_equal(s->reviewer_threshold, 50);
	assert_int_equal(s->max_connections, 100);
	assert_int_equal(s->head_timeout_s, 3);
	assert_int_equal(s->idle_timeout_s, 4);
	assert_int_equal(s->tunnel_idle_timeout_s, 5);
	assert_int_equal(s->connect_timeout_s, 6);
	assert_int_equal(s->max_request_line, 1000);
	assert_int_equal(s->max_header_bytes, 2000);
	assert_int_equal(s->max_header_fields, 20);
	assert_int_equal(s->udp_idle_timeout_s, 9);
	assert_true(s->mitm.enabled);
	assert_string_equal(s->mitm.ca_cert_path, "/x/ca.pem");
	assert_string_equal(s->mitm.ca_key_path, "/x/ca.key");
	assert_int_equal(s->mitm.leaf_cache_size, 10);
	assert_int_equal(s->n_profiles, 1);
	assert_string_equal(s->profiles[0].name, "docs");
	assert_true(s->profiles[0].has_allowed);
	assert_false(s->profiles[0].has_denied);
	assert_string_equal(s->profiles[0].allowed_domains.items[0], "docs.example.com");
	pc_settings_free(s);
}

static void errors_name_position_and_key(void **state)
{
	(void)state;
	expect_error("[network]\nmode = \"fast\"\n", "test.toml:2:8: 'mode' must be \"full\" or "
	                                             "\"limited\", not \"fast\"");
	expect_error("[network]\nbogus = 1\n", "test.toml:2:1: unknown key 'bogus' in [network]");
	expect_error("[network]\n  enabled = 1\n",
	             "test.toml:2:13: 'enabled' must be true or false");
	expect_error("top = 1\n", "test.toml:1:1: unknown key 'top'");
	expect_error("[network.mitm]\nenable = true\n",
	             "test.toml:2:1: unknown key 'enable' in [network.mitm]");
	expect_error("[profiles.x]\nallowed = []\n",
	             "test.toml:2:1: unknown key 'allowed' in [profiles.x]");
	expect_error("[network]\nmax_connections = 0\n",
	             "test.toml:2:19: 'max_connections' must be between 1 and 1048576");
	expect_error("[network]\nallowed_domains = \"a.com\"\n",
	             "'allowed_domains' must be an array of strings, not string");
	expect_error("[network]\nallowed_domains = [\"a.com\", 3]\n",
	             "test.toml:2:29: 'allowed_domains' must be an array of strings");
	expect_error("[network]\ndenied_domains = [\"*\"]\n",
	             "test.toml:2:19: '*' in denied_domains would deny everything");
	expect_error("[network]\nallowed_domains = [\n  \"ok.com\",\n  \"bad..com\",\n]\n",
	             "test.toml:4:3: invalid pattern 'bad..com'");
	expect_error("[network]\ndenied_domains = [\"10.0.0.1/8\"]\n",
	             "test.toml:2:19: invalid pattern '10.0.0.1/8'");
	expect_error("[network]\nallow_unix_sockets = [\"rel.sock\"]\n", "absolute paths");
	expect_error("[network]\napprovals_reviewer = \"command\"\n", "needs reviewer_command");
	expect_error("[network]\nproxy_url = \"http://127.0.0.1\"\n", "'proxy_url' must look like");
	expect_error("[network]\nproxy_url = \"ftp://127.0.0.1:21\"\n",
	             "'proxy_url' must look like");
	expect_error("[network]\nmax_request_line = 70000\n", "must not exceed max_header_bytes");
	expect_error("[network]\nmode = \"full\"\nmode = \"limited\"\n", "test.toml:3:");
	expect_error("[network\n", "test.toml:1:");
	expect_error("network = 1\n", "'network' must be a table");
}

static void overrides_layer_over_the_file(void **state)
{
	struct pc_settings *s = parse_ok("[network]\nallowed_domains = [\"a.example\"]\n");
	const char *allow[] = {"b.example"};
	const char *deny[] = {"c.example"};
	struct pc_overrides ov = {NULL, allow, 1, deny, 1, true, true};
	struct pc_config_error err;
	(void)state;

	assert_int_equal(pc_settings_apply_overrides(s, &ov, &err), 0);
	assert_int_equal(s->allowed_domains.len, 2);
	assert_string_equal(s->allowed_domains.items[1], "b.example");
	assert_string_equal(s->allowed_domains.pos[1].origin, "--allow");
	assert_string_equal(s->denied_domains.items[0], "c.example");
	assert_true(s->allow_local_binding);
	assert_int_equal(s->mode, PC_MODE_LIMITED);
	pc_settings_free(s);
}

static void bad_override_pattern_names_the_flag(void **state)
{
	struct pc_settings *s = parse_ok("");
	const char *allow[] = {"bad host"};
	struct pc_overrides ov = {NULL, allow, 1, NULL, 0, false, false};
	struct pc_config_error err;
	struct pc_policy *p;
	(void)state;

	assert_int_equal(pc_settings_apply_overrides(s, &ov, &err), 0);
	assert_int_equal(pc_policy_new(s, &p, &err), PC_ECONFIG);
	assert_string_equal(err.text,
	                    "--allow: invalid pattern 'bad host': not a host name, IP "
	                    "address or CIDR block (globs are '*.', '**.', and '*' or '?' "
	                    "inside a label)");
}

static void embedded_default_is_valid(void **state)
{
	struct pc_settings *s = NULL;
	struct pc_config_error err;
	(void)state;

	assert_int_equal(pc_settings_default(&s, &err), 0);
	assert_string_equal(s->source, "<embedded default>");
	assert_int_equal(s->allowed_domains.len, 0);
	pc_settings_free(s);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void lookup_order(void **state)
{
	char dir[] = "/tmp/pc-settings-XXXXXX";
	char xdg[256], xdg_file[300], explicit_file[300], env_file[300];
	struct pc_overrides ov = {0};
	struct pc_settings *s;
	struct pc_config_error err;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	snprintf(xdg_file, sizeof(xdg_file), "%s/portcullis", xdg);
	assert_int_equal(mkdir(xdg, 0700), 0);
	assert_int_equal(mkdir(xdg_file, 0700), 0);
	snprintf(xdg_file, sizeof(xdg_file), "%s/portcullis/config.toml", xdg);
	snprintf(explicit_file, sizeof(explicit_file), "%s/explicit.toml", dir);
	snprintf(env_file, sizeof(env_file), "%s/env.toml", dir);
	write_file(xdg_file, "[network]\nidle_timeout_s = 1\n");
	write_file(explicit_file, "[network]\nidle_timeout_s = 2\n");
	write_file(env_file, "[network]\nidle_timeout_s = 3\n");

	setenv("XDG_CONFIG_HOME", xdg, 1);
	unsetenv("PORTCULLIS_CONFIG");
	assert_int_equal(pc_settings_load(&ov, &s, &err), 0);
	assert_int_equal(s->idle_timeout_s, 1);
	pc_settings_free(s);

	setenv("PORTCULLIS_CONFIG", env_file, 1);
	assert_int_equal(pc_settings_load(&ov, &s, &err), 0);
	assert_int_equal(s->idle_timeout_s, 3);
	pc_settings_free(s);

	ov.config_path = explicit_file;
	assert_int_equal(pc_settings_load(&ov, &s, &err), 0);
	assert_int_equal(s->idle_timeout_s, 2);
	pc_settings_free(s);

	/* an explicitly named file that does not exist is an error, never a silent default */
	ov.config_path = "/nonexistent/portcullis.toml";
	assert_int_equal(pc_settings_load(&ov, &s, &err), PC_ECONFIG);
	assert_non_null(strstr(err.text, "/nonexistent/portcullis.toml: cannot read"));
	ov.config_path = NULL;
	setenv("PORTCULLIS_CONFIG", "/nonexistent/env.toml", 1);
	assert_int_equal(pc_settings_load(&ov, &s, &err), PC_ECONFIG);

	/* neither explicit nor XDG: /etc or the embedded default */
	unsetenv("PORTCULLIS_CONFIG");
	setenv("XDG_CONFIG_HOME", dir, 1);
	assert_int_equal(pc_settings_load(&ov, &s, &err), 0);
	if (access("/etc/portcullis/config.toml", F_OK) != 0)
		assert_string_equal(s->source, "<embedded default>");
	pc_settings_free(s);

	unlink(xdg_file);
	unlink(explicit_file);
	unlink(env_file);
	snprintf(xdg_file, sizeof(xdg_file), "%s/portcullis", xdg);
	rmdir(xdg_file);
	rmdir(xdg);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(defaults),
	        cmocka_unit_test(every_key),
	        cmocka_unit_test(errors_name_position_and_key),
	        cmocka_unit_test(overrides_layer_over_the_file),
	        cmocka_unit_test(bad_override_pattern_names_the_flag),
	        cmocka_unit_test(embedded_default_is_valid),
	        cmocka_unit_test(lookup_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
