#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/policy.h"

static struct pc_policy *policy(const char *toml)
{
	struct pc_settings *s;
	struct pc_policy *p = NULL;
	struct pc_config_error err;

	if (pc_settings_parse(toml, strlen(toml), "t.toml", &s, &err) != 0 ||
	    pc_policy_new(s, &p, &err) != 0)
		fail_msg("config: %s", err.text);
	return p;
}

static struct pc_request request(enum pc_protocol proto, const char *authority, const char *method)
{
	struct pc_request r;
	uint16_t port = 0;

	memset(&r, 0, sizeof(r));
	r.protocol = proto;
	r.method = method;
	r.host_ok = pc_authority_parse(authority, strlen(authority), &r.host, &port) == 0;
	r.port = port ? port : 443;
	return r;
}

/* Evaluates a request that needs no DNS and checks the outcome. */
static void expect(struct pc_policy *p, enum pc_protocol proto, const char *authority,
                   const char *method, enum pc_verdict verdict, enum pc_reason reason)
{
	struct pc_request r = request(proto, authority, method);
	struct pc_decision d;
	int rc = pc_policy_evaluate(p, &r, &d);

	if (rc != PC_POLICY_DECIDED)
		fail_msg("%s: wanted a decision without DNS", authority);
	if (d.verdict != verdict || d.reason != reason)
		fail_msg("%s: got %s/%s, wanted %s/%s", authority, pc_verdict_name(d.verdict),
		         pc_reason_name(d.reason) ? pc_reason_name(d.reason) : "null",
		         pc_verdict_name(verdict),
		         pc_reason_name(reason) ? pc_reason_name(reason) : "null");
}

#define HTTP    PC_PROTO_HTTP
#define CONNECT PC_PROTO_HTTPS_CONNECT
#define ALLOW   PC_VERDICT_ALLOW
#define DENY    PC_VERDICT_DENY
#define ASK     PC_VERDICT_ASK
#define NONE    PC_REASON_NONE

static void empty_allowlist_blocks_everything(void **state)
{
	struct pc_policy *p = policy("[network]\napproval_policy = \"never\"\n");
	(void)state;

	expect(p, HTTP, "example.com", "GET", DENY, PC_REASON_NOT_ALLOWED);
	expect(p, HTTP, "8.8.8.8", "GET", DENY, PC_REASON_NOT_ALLOWED);
	expect(p, HTTP, "127.0.0.1", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_policy_unref(p);
}

static void allowlist_miss_is_asked_about_when_approvals_are_on(void **state)
{
	struct pc_policy *p = policy("");
	(void)state;

	expect(p, HTTP, "example.com", "GET", ASK, PC_REASON_NOT_ALLOWED);
	/* explicit denies and local blocks are never asked about */
	pc_policy_unref(p);
	p = policy("[network]\ndenied_domains = [\"evil.example\"]\n");
	expect(p, HTTP, "evil.example", "GET", DENY, PC_REASON_DENIED);
	expect(p, HTTP, "10.0.0.1", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_policy_unref(p);
}

static void deny_wins_over_star(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"*\"]\ndenied_domains = "
	                             "[\"**.evil.example\", \"93.184.216.0/24\"]\n");
	(void)state;

	expect(p, HTTP, "evil.example", "GET", DENY, PC_REASON_DENIED);
	expect(p, HTTP, "a.evil.example", "GET", DENY, PC_REASON_DENIED);
	expect(p, HTTP, "93.184.216.34", "GET", DENY, PC_REASON_DENIED);
	expect(p, HTTP, "[::ffff:93.184.216.34]", "GET", DENY, PC_REASON_DENIED);
	expect(p, HTTP, "[64:ff9b::5db8:d822]", "GET", DENY, PC_REASON_DENIED);
	expect(p, HTTP, "8.8.8.8", "GET", ALLOW, NONE);
	pc_policy_unref(p);
}

static void star_does_not_admit_local(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"*\"]\n");
	static const char *const local[] = {
	        "127.0.0.1",
	        "127.1",
	        "0x7f.1",
	        "0177.0.0.1",
	        "2130706433",
	        "[::1]",
	        "[::ffff:127.0.0.1]",
	        "[::ffff:7f00:1]",
	        "[64:ff9b::a00:1]",
	        "[2002:a00:1::]",
	        "[fe80::1%25eth0]",
	        "10.0.0.1",
	        "192.168.1.1",
	        "169.254.169.254",
	        "100.64.0.1",
	        "0.0.0.0",
	        "localhost",
	        "api.localhost",
	        "LOCALHOST.",
	        "[fd00::1]",
	        "224.0.0.1",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		expect(p, HTTP, local[i], "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_policy_unref(p);
}

static void explicit_loopback_literal_passes(void **state)
{
	struct pc_policy *p =
	        policy("[network]\nallowed_domains = [\"127.0.0.1\", \"*.example.com\"]\n");
	struct pc_request r = request(HTTP, "127.0.0.1:8080", "GET");
	struct pc_decision d;
	char text[PC_ADDR_STRLEN];
	(void)state;

	assert_int_equal(pc_policy_evaluate(p, &r, &d), PC_POLICY_DECIDED);
	assert_int_equal(d.verdict, ALLOW);
	assert_int_equal(d.addrs.n, 1);
	pc_addr_format(&d.addrs.addrs[0].sa, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1");
	assert_int_equal(ntohs(d.addrs.addrs[0].in.sin_port), 8080);
	/* other spellings of the same address are the same literal */
	expect(p, HTTP, "127.1", "GET", ALLOW, NONE);
	/* but not other loopback addresses */
	expect(p, HTTP, "127.0.0.2", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	expect(p, HTTP, "[::1]", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_policy_unref(p);

	/* a CIDR block is not an exact entry */
	p = policy("[network]\nallowed_domains = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n");
	expect(p, HTTP, "127.0.0.1", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	expect(p, HTTP, "10.1.1.1", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_policy_unref(p);
}

static void localhost_passes_without_dns(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"localhost\"]\n");
	struct pc_request r = request(HTTP, "localhost:3000", "GET");
	struct pc_decision d;
	char a[PC_ADDR_STRLEN], b[PC_ADDR_STRLEN];
	(void)state;

	assert_int_equal(pc_policy_evaluate(p, &r, &d), PC_POLICY_DECIDED);
	assert_int_equal(d.verdict, ALLOW);
	assert_false(d.resolve_at_dial);
	assert_int_equal(d.addrs.n, 2);
	pc_addr_format(&d.addrs.addrs[0].sa, a, sizeof(a));
	pc_addr_format(&d.addrs.addrs[1].sa, b, sizeof(b));
	assert_string_equal(a, "127.0.0.1");
	assert_string_equal(b, "::1");
	/* localhost allows only itself, not other names under it */
	expect(p, HTTP, "app.localhost", "GET", DENY, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_policy_unref(p);
}

static void allow_local_binding(void **state)
{
	struct pc_policy *p = policy("[network]\nallow_local_binding = true\n"
	                             "allowed_domains = [\"*.corp.example\", \"10.0.0.0/8\", "
	                             "\"localhost\"]\ndenied_domains = [\"127.0.0.0/8\"]\n");
	struct pc_request r = request(HTTP, "git.corp.example", "GET");
	struct pc_decision d;
	(void)state;

	/* the dialer resolves; the decision needs no lookup */
	assert_int_equal(pc_policy_evaluate(p, &r, &d), PC_POLICY_DECIDED);
	assert_int_equal(d.verdict, ALLOW);
	assert_true(d.resolve_at_dial);
	assert_int_equal(d.addrs.n, 0);
	expect(p, HTTP, "10.1.2.3", "GET", ALLOW, NONE);
	expect(p, HTTP, "192.168.0.1", "GET", ASK, PC_REASON_NOT_ALLOWED);
	/* a loopback deny still covers what localhost means */
	expect(p, HTTP, "localhost", "GET", DENY, PC_REASON_DENIED);
	pc_policy_unref(p);
}

static void allowed_name_needs_dns_and_unlisted_does_not(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"**.example.com\"]\n");
	struct pc_request r = request(HTTP, "api.example.com", "GET");
	struct pc_decision d;
	struct pc_addr_list addrs;
	(void)state;

	assert_int_equal(pc_policy_evaluate(p, &r, &d), PC_POLICY_NEEDS_DNS);
	/* unlisted names are decided without a lookup */
	expect(p, HTTP, "example.org", "GET", ASK, PC_REASON_NOT_ALLOWED);

	memset(&addrs, 0, sizeof(addrs));
	addrs.n = 2;
	addrs.addrs[0].in.sin_family = AF_INET;
	inet_pton(AF_INET, "93.184.216.34", &addrs.addrs[0].in.sin_addr);
	addrs.addrs[1].in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2606:2800:220:1::1", &addrs.addrs[1].in6.sin6_addr);
	pc_policy_complete(p, &r, 0, &addrs, &d);
	assert_int_equal(d.verdict, ALLOW);
	assert_int_equal(d.addrs.n, 2);
	assert_int_equal(ntohs(d.addrs.addrs[0].in.sin_port), 443);
	assert_int_equal(ntohs(d.addrs.addrs[1].in6.sin6_port), 443);

	/* one private answer among public ones is enough to refuse (rebinding) */
	addrs.n = 3;
	addrs.addrs[2].in.sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", &addrs.addrs[2].in.sin_addr);
	pc_policy_complete(p, &r, 0, &addrs, &d);
	assert_int_equal(d.verdict, DENY);
	assert_int_equal(d.reason, PC_REASON_NOT_ALLOWED_LOCAL);
	assert_int_equal(d.dns, PC_DNS_NONE);
	assert_int_equal(d.addrs.n, 0);

	pc_policy_complete(p, &r, PC_EDNS_TIMEOUT, NULL, &d);
	assert_int_equal(d.reason, PC_REASON_NOT_ALLOWED_LOCAL);
	assert_int_equal(d.dns, PC_DNS_TIMED_OUT);
	assert_string_equal(pc_decision_summary(&d), "name resolution timed out");
	pc_policy_complete(p, &r, PC_EDNS, NULL, &d);
	assert_int_equal(d.dns, PC_DNS_FAILED);
	pc_policy_unref(p);
}

static void resolved_address_in_denied_block(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"*.example.com\"]\n"
	                             "denied_domains = [\"203.0.114.0/24\"]\n");
	struct pc_request r = request(HTTP, "a.example.com", "GET");
	struct pc_decision d;
	struct pc_addr_list addrs;
	(void)state;

	memset(&addrs, 0, sizeof(addrs));
	addrs.n = 1;
	addrs.addrs[0].in.sin_family = AF_INET;
	inet_pton(AF_INET, "203.0.114.9", &addrs.addrs[0].in.sin_addr);
	assert_int_equal(pc_policy_evaluate(p, &r, &d), PC_POLICY_NEEDS_DNS);
	pc_policy_complete(p, &r, 0, &addrs, &d);
	assert_int_equal(d.reason, PC_REASON_DENIED);
	pc_policy_unref(p);
}

static void unparsable_host_is_refused(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"*\"]\n");
	static const char *const bad[] = {"1.2.3.09",     "256.1.1.1", "1.2.3.4.5",
	                                  "exa mple.com", "a..b",      "",
	                                  "[::1",         "host:0",    "user@host"};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(p, HTTP, bad[i], "GET", DENY, PC_REASON_NOT_ALLOWED);
	pc_policy_unref(p);
}

static void limited_mode(void **state)
{
	struct pc_policy *p = policy("[network]\nmode = \"limited\"\n"
	                             "allowed_domains = [\"93.184.216.34\"]\n");
	struct pc_request r;
	struct pc_decision d;
	(void)state;

	expect(p, HTTP, "93.184.216.34", "GET", ALLOW, NONE);
	expect(p, HTTP, "93.184.216.34", "HEAD", ALLOW, NONE);
	expect(p, HTTP, "93.184.216.34", "OPTIONS", ALLOW, NONE);
	expect(p, HTTP, "93.184.216.34", "POST", DENY, PC_REASON_METHOD_NOT_ALLOWED);
	expect(p, HTTP, "93.184.216.34", "get", DENY, PC_REASON_METHOD_NOT_ALLOWED);
	expect(p, CONNECT, "93.184.216.34", NULL, DENY, PC_REASON_MITM_REQUIRED);
	expect(p, PC_PROTO_SOCKS5_TCP, "93.184.216.34:443", NULL, DENY, PC_REASON_MITM_REQUIRED);
	expect(p, PC_PROTO_SOCKS5_TCP, "93.184.216.34:22", NULL, DENY,
	       PC_REASON_METHOD_NOT_ALLOWED);
	expect(p, PC_PROTO_SOCKS5_UDP, "93.184.216.34:53", NULL, DENY,
	       PC_REASON_METHOD_NOT_ALLOWED);
	/* the mode guard comes before anyone is asked */
	expect(p, HTTP, "example.org", "POST", DENY, PC_REASON_METHOD_NOT_ALLOWED);
	expect(p, HTTP, "example.org", "GET", ASK, PC_REASON_NOT_ALLOWED);
	r = request(HTTP, "93.184.216.34", "DELETE");
	pc_policy_evaluate(p, &r, &d);
	assert_int_equal(d.source, PC_SOURCE_MODE_GUARD);
	pc_policy_unref(p);
}

static void disabled_proxy(void **state)
{
	struct pc_policy *p = policy("[network]\nenabled = false\nallowed_domains = [\"*\"]\n");
	struct pc_request r = request(HTTP, "8.8.8.8", "GET");
	struct pc_decision d;
	(void)state;

	pc_policy_evaluate(p, &r, &d);
	assert_int_equal(d.verdict, DENY);
	assert_int_equal(d.reason, PC_REASON_PROXY_DISABLED);
	assert_int_equal(d.source, PC_SOURCE_PROXY_STATE);
	pc_policy_unref(p);
}

static void vocabulary(void **state)
{
	(void)state;
	assert_string_equal(pc_protocol_name(PC_PROTO_HTTPS_CONNECT), "https_connect");
	assert_string_equal(pc_protocol_label(PC_PROTO_HTTPS_CONNECT), "https");
	assert_string_equal(pc_protocol_label(PC_PROTO_HTTPS), "https");
	assert_string_equal(pc_protocol_label(PC_PROTO_SOCKS5_UDP), "socks5_udp");
	assert_string_equal(pc_reason_name(PC_REASON_NOT_ALLOWED_LOCAL), "not_allowed_local");
	assert_null(pc_reason_name(PC_REASON_NONE));
	assert_string_equal(pc_source_name(PC_SOURCE_BASELINE_POLICY), "baseline_policy");
	assert_null(pc_source_name(PC_SOURCE_NONE));
	assert_string_equal(pc_verdict_name(PC_VERDICT_ASK), "ask");
}

static void ports_in_patterns(void **state)
{
	struct pc_policy *p = policy("[network]\nallowed_domains = [\"93.184.216.34:443\", "
	                             "\"8.8.0.0/16:53\"]\napproval_policy = \"never\"\n");
	(void)state;

	expect(p, CONNECT, "93.184.216.34:443", NULL, ALLOW, NONE);
	expect(p, CONNECT, "93.184.216.34:8443", NULL, DENY, PC_REASON_NOT_ALLOWED);
	expect(p, HTTP, "8.8.4.4:53", "GET", ALLOW, NONE);
	expect(p, HTTP, "8.8.4.4:80", "GET", DENY, PC_REASON_NOT_ALLOWED);
	pc_policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(empty_allowlist_blocks_everything),
	        cmocka_unit_test(allowlist_miss_is_asked_about_when_approvals_are_on),
	        cmocka_unit_test(deny_wins_over_star),
	        cmocka_unit_test(star_does_not_admit_local),
	        cmocka_unit_test(explicit_loopback_literal_passes),
	        cmocka_unit_test(localhost_passes_without_dns),
	        cmocka_unit_test(allow_local_binding),
	        cmocka_unit_test(allowed_name_needs_dns_and_unlisted_does_not),
	        cmocka_unit_test(resolved_address_in_denied_block),
	        cmocka_unit_test(unparsable_host_is_refused),
	        cmocka_unit_test(limited_mode),
	        cmocka_unit_test(disabled_proxy),
	        cmocka_unit_test(vocabulary),
	        cmocka_unit_test(ports_in_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
