#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"

static struct pc_block block(const char *host, uint16_t port, enum pc_reason reason)
{
	struct pc_block b;

	memset(&b, 0, sizeof(b));
	snprintf(b.host, sizeof(b.host), "%s", host);
	b.port = port;
	b.protocol = PC_PROTO_HTTPS_CONNECT;
	b.decision = PC_VERDICT_DENY;
	b.reason = reason;
	b.source = PC_SOURCE_BASELINE_POLICY;
	b.ts_ms = 1795000000123LL;
	snprintf(b.client, sizeof(b.client), "127.0.0.1:5555");
	return b;
}

static void json_line_has_every_field_in_order(void **state)
{
	struct pc_block b = block("api.example.com", 443, PC_REASON_NOT_ALLOWED);
	char line[1024];
	(void)state;

	assert_true(pc_audit_format(&b, line, sizeof(line)) > 0);
	assert_string_equal(
	        line, "{\"ts\":\"2026-11-18T11:06:40.123Z\",\"host\":\"api.example.com\","
	              "\"port\":443,\"protocol\":\"https_connect\",\"reason\":\"not_allowed\","
	              "\"decision\":\"deny\",\"source\":\"baseline_policy\",\"method\":null,"
	              "\"client\":\"127.0.0.1:5555\",\"mode\":\"full\"}\n");
	assert_int_equal(pc_audit_format(&b, line, 40), -ENOSPC);
}

static void raw_hosts_are_kept_printable(void **state)
{
	struct pc_request req;
	struct pc_decision d;
	struct pc_block b;
	static const char raw[] = "evil\x1b[2J\n\xff.example";
	(void)state;

	memset(&req, 0, sizeof(req));
	memset(&d, 0, sizeof(d));
	req.protocol = PC_PROTO_HTTP;
	req.port = 80;
	req.method = "GET";
	d.verdict = PC_VERDICT_DENY;
	d.reason = PC_REASON_NOT_ALLOWED;
	pc_block_fill(&b, &req, raw, sizeof(raw) - 1, &d, NULL, PC_MODE_LIMITED);
	assert_string_equal(b.host, "evil?[2J??.example");
	assert_string_equal(b.method, "GET");
	assert_string_equal(b.client, "");
	assert_int_equal(b.mode, PC_MODE_LIMITED);
}

/* The client address as "ip:port" or "[ip]:port", ports from 0 to 65535; names and methods cut
 * to their fields rather than overflowing them. */
static void client_and_names_are_formatted(void **state)
{
	static const struct {
		const char *addr;
		uint16_t port;
		const char *want;
	} rows[] = {
	        {"127.0.0.1", 5555, "127.0.0.1:5555"},
	        {"10.0.0.1", 0, "10.0.0.1:0"},
	        {"255.255.255.255", 65535, "255.255.255.255:65535"},
	        {"::1", 8080, "[::1]:8080"},
	        {"2001:db8::1", 9, "[2001:db8::1]:9"},
	        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	         "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
	};
	struct pc_request req;
	struct pc_decision d;
	struct pc_block b;
	char long_method[64];
	(void)state;

	memset(&req, 0, sizeof(req));
	memset(&d, 0, sizeof(d));
	memset(long_method, 'M', sizeof(long_method) - 1);
	long_method[sizeof(long_method) - 1] = '\0';
	req.host_ok = true;
	snprintf(req.host.name, sizeof(req.host.name), "h.example");
	req.method = long_method;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		union pc_sockaddr sa;
		memset(&sa, 0, sizeof(sa));
		if (strchr(rows[i].addr, ':') != NULL) {
			sa.in6.sin6_family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, rows[i].addr, &sa.in6.sin6_addr), 1);
			sa.in6.sin6_port = htons(rows[i].port);
		} else {
			sa.in.sin_family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, rows[i].addr, &sa.in.sin_addr), 1);
			sa.in.sin_port = htons(rows[i].port);
		}
		pc_block_fill(&b, &req, NULL, 0, &d, &sa.sa, PC_MODE_FULL);
		assert_string_equal(b.client, rows[i].want);
		assert_string_equal(b.host, "h.example");
		assert_int_equal(strlen(b.method), sizeof(b.method) - 1);
	}
}

static void ring_keeps_the_newest_200(void **state)
{
	struct pc_audit *a;
	static struct pc_block out[PC_AUDIT_RING + 10];
	char host[64];
	size_t n;
	(void)state;

	assert_int_equal(pc_audit_new("off", &a), 0);
	for (int i = 0; i < 250; i++) {
		struct pc_block b;
		snprintf(host, sizeof(host), "h%d.example", i);
		b = block(host, 443, PC_REASON_DENIED);
		pc_audit_record(a, &b);
	}
	assert_int_equal(pc_audit_count(a), 250);
	n = pc_audit_recent(a, out, sizeof(out) / sizeof(out[0]));
	assert_int_equal(n, PC_AUDIT_RING);
	assert_string_equal(out[0].host, "h50.example");
	assert_string_equal(out[n - 1].host, "h249.example");
	n = pc_audit_recent(a, out, 3);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].host, "h247.example");
	assert_string_equal(out[2].host, "h249.example");
	pc_audit_free(a);
}

static void summary_counts_destinations_in_order(void **state)
{
	struct pc_audit *a;
	struct pc_block b;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;

	assert_int_equal(pc_audit_new("off", &a), 0);
	for (int i = 0; i < 3; i++) {
		b = block("api.example.com", 443, PC_REASON_NOT_ALLOWED);
		pc_audit_record(a, &b);
	}
	b = block("::1", 8080, PC_REASON_NOT_ALLOWED_LOCAL);
	pc_audit_record(a, &b);
	b = block("slow.example.com", 443, PC_REASON_NOT_ALLOWED_LOCAL);
	b.dns = PC_DNS_TIMED_OUT;
	pc_audit_record(a, &b);
	b = block("evil.example", 80, PC_REASON_DENIED);
	pc_audit_record(a, &b);
	f = open_memstream(&text, &len);
	pc_audit_write_summary(a, f);
	fclose(f);
	assert_string_equal(text, "blocked: api.example.com:443 x3 (not in allowlist)\n"
	                          "blocked: [::1]:8080 x1 (local or private address)\n"
	                          "blocked: slow.example.com:443 x1 (name resolution timed out)\n"
	                          "blocked: evil.example:80 x1 (in denylist)\n");
	free(text);
	pc_audit_free(a);
}

static void file_log_appends_whole_lines(void **state)
{
	char dir[] = "/tmp/pc-audit-XXXXXX", path[256], buf[4096];
	struct pc_audit *a;
	struct pc_block b = block("api.example.com", 443, PC_REASON_NOT_ALLOWED);
	struct stat st;
	ssize_t n;
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* missing directories are made, private to the user */
	snprintf(path, sizeof(path), "%s/state/portcullis/audit.jsonl", dir);
	assert_int_equal(pc_audit_new(path, &a), 0);
	pc_audit_record(a, &b);
	pc_audit_record(a, &b);
	pc_audit_free(a);
	assert_int_equal(pc_audit_new(path, &a), 0);
	pc_audit_record(a, &b);
	pc_audit_free(a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(n % (ssize_t)(strchr(buf, '\n') - buf + 1), 0);
	assert_int_equal(n / (strchr(buf, '\n') - buf + 1), 3);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state/portcullis", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/state", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(json_line_has_every_field_in_order),
	        cmocka_unit_test(raw_hosts_are_kept_printable),
	        cmocka_unit_test(client_and_names_are_formatted),
	        cmocka_unit_test(ring_keeps_the_newest_200),
	        cmocka_unit_test(summary_counts_destinations_in_order),
	        cmocka_unit_test(file_log_appends_whole_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
