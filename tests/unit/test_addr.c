/* Address classification and helpers (src/policy/addr.h). Every non-public range of SPEC §3
 * is tested at its edges: first and last address inside, first address outside on each side. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "policy/addr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct case_ {
	const char *addr;
	bool is_public;
};

static const struct case_ v4_cases[] = {
        /* 0.0.0.0/8 */
        {"0.0.0.0", false},
        {"0.255.255.255", false},
        {"1.0.0.0", true},
        /* 10.0.0.0/8 */
        {"9.255.255.255", true},
        {"10.0.0.0", false},
        {"10.255.255.255", false},
        {"11.0.0.0", true},
        /* 100.64.0.0/10 */
        {"100.63.255.255", true},
        {"100.64.0.0", false},
        {"100.127.255.255", false},
        {"100.128.0.0", true},
        /* 127.0.0.0/8 */
        {"126.255.255.255", true},
        {"127.0.0.0", false},
        {"127.0.0.1", false},
        {"127.255.255.255", false},
        {"128.0.0.0", true},
        /* 169.254.0.0/16 */
        {"169.253.255.255", true},
        {"169.254.0.0", false},
        {"169.254.169.254", false},
        {"169.254.255.255", false},
        {"169.255.0.0", true},
        /* 172.16.0.0/12 */
        {"172.15.255.255", true},
        {"172.16.0.0", false},
        {"172.31.255.255", false},
        {"172.32.0.0", true},
        /* 192.0.0.0/24 */
        {"191.255.255.255", true},
        {"192.0.0.0", false},
        {"192.0.0.255", false},
        {"192.0.1.0", true},
        /* 192.0.2.0/24 */
        {"192.0.1.255", true},
        {"192.0.2.0", false},
        {"192.0.2.255", false},
        {"192.0.3.0", true},
        /* 192.168.0.0/16 */
        {"192.167.255.255", true},
        {"192.168.0.0", false},
        {"192.168.255.255", false},
        {"192.169.0.0", true},
        /* 198.18.0.0/15 */
        {"198.17.255.255", true},
        {"198.18.0.0", false},
        {"198.19.255.255", false},
        {"198.20.0.0", true},
        /* 198.51.100.0/24 */
        {"198.51.99.255", true},
        {"198.51.100.0", false},
        {"198.51.100.255", false},
        {"198.51.101.0", true},
        /* 203.0.113.0/24 */
        {"203.0.112.255", true},
        {"203.0.113.0", false},
        {"203.0.113.255", false},
        {"203.0.114.0", true},
        /* 224.0.0.0/4 and 240.0.0.0/4 (adjacent), 255.255.255.255 */
        {"223.255.255.255", true},
        {"224.0.0.0", false},
        {"239.255.255.255", false},
        {"240.0.0.0", false},
        {"255.255.255.254", false},
        {"255.255.255.255", false},
        /* Ordinary public addresses. */
        {"8.8.8.8", true},
        {"1.1.1.1", true},
        {"93.184.216.34", true},
        {"172.217.0.0", true},
        {"100.0.0.1", true},
};

static const struct case_ v6_cases[] = {
        {"::", false},
        {"::1", false},
        /* IPv4-compatible ::/96, judged by the embedded address. */
        {"::2", false},
        {"::0.255.255.255", false},
        {"::1.0.0.0", true},
        {"::8.8.8.8", true},
        {"::10.0.0.1", false},
        {"::127.0.0.1", false},
        {"::255.255.255.255", false},
        {"::1:0:0", true}, /* just above ::/96, outside every listed range */
        /* IPv4-mapped ::ffff:0:0/96. */
        {"::fffe:ffff:ffff", true},
        {"::ffff:0.0.0.0", false},
        {"::ffff:127.0.0.1", false},
        {"::ffff:7f00:1", false},
        {"::ffff:10.0.0.1", false},
        {"::ffff:169.254.169.254", false},
        {"::ffff:8.8.8.8", true},
        {"::ffff:255.255.255.255", false},
        {"::1:0:0:0", true},
        /* IPv4-translated ::ffff:0:0:0/96 (RFC 2765), judged by the embedded address. */
        {"::ffff:0:0.0.0.0", false},
        {"::ffff:0:10.0.0.1", false},
        {"::ffff:0:127.0.0.1", false},
        {"::ffff:0:8.8.8.8", true},
        {"::ffff:1:8.8.8.8", true},
        /* NAT64 64:ff9b::/96. */
        {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"64:ff9b::", false},
        {"64:ff9b::a00:1", false},
        {"64:ff9b::10.0.0.1", false},
        {"64:ff9b::127.0.0.1", false},
        {"64:ff9b::8.8.8.8", true},
        {"64:ff9b::808:808", true},
        {"64:ff9b::255.255.255.255", false},
        /* The rest of 64:ff9b::/32 has no known IPv4 position: fail closed. */
        {"64:ff9b::1:0:0", false},
        {"64:ff9b:0:0:1::808:808", false},
        {"64:ff9b:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"64:ff9c::", true},
        /* Local-use NAT64 64:ff9b:1::/48 (RFC 8215): /96 layout judged, others closed. */
        {"64:ff9b:1::8.8.8.8", true},
        {"64:ff9b:1::10.0.0.1", false},
        {"64:ff9b:1::", false},
        {"64:ff9b:1:0a00:0:100::", false}, /* 10.0.0.1 in the /48 layout */
        {"64:ff9b:1:808:8:800::", false},  /* 8.8.8.8 in the /48 layout: unknown, closed */
        {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", false},
        /* 6to4 2002::/16: IPv4 in bits 16..47. */
        {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"2002::", false},
        {"2002:a00:1::", false},
        {"2002:a00:1::8.8.8.8", false},
        {"2002:7f00:1::", false},
        {"2002:c000:201::", false},
        {"2002:808:808::", true},
        {"2002:808:808:ffff:ffff:ffff:ffff:ffff", true},
        {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"2003::", true},
        /* fc00::/7 */
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"fc00::", false},
        {"fd00::1", false},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fe00::", true},
        /* fe80::/10 */
        {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"fe80::", false},
        {"fe80::1", false},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        {"fec0::", true}, /* deprecated site-local: not in SPEC §3 */
        /* ff00::/8 */
        {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
        {"ff00::", false},
        {"ff02::1", false},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
        /* Ordinary public addresses; 2001:db8::/32 is not in SPEC §3's list. */
        {"2001:4860:4860::8888", true},
        {"2606:4700::1111", true},
        {"2001:db8::1", true},
        {"::ffff:0:0:0:0", true}, /* 0:0:0:ffff::, outside every listed range */
};

static void sa4(const char *text, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
		fail_msg("bad test address %s", text);
}

static void sa6(const char *text, struct sockaddr_in6 *sin6)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
		fail_msg("bad test address %s", text);
}

static void ipv4_range_edges(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(v4_cases); i++) {
		struct sockaddr_in sin;
		sa4(v4_cases[i].addr, &sin);
		if (pc_addr4_is_public((const uint8_t *)&sin.sin_addr) != v4_cases[i].is_public)
			fail_msg("%s: public should be %d", v4_cases[i].addr,
			         v4_cases[i].is_public);
		assert_true(pc_addr_is_public((struct sockaddr *)&sin) == v4_cases[i].is_public);
	}
}

static void ipv6_range_edges(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(v6_cases); i++) {
		struct sockaddr_in6 sin6;
		sa6(v6_cases[i].addr, &sin6);
		if (pc_addr6_is_public(sin6.sin6_addr.s6_addr) != v6_cases[i].is_public)
			fail_msg("%s: public should be %d", v6_cases[i].addr,
			         v6_cases[i].is_public);
		assert_true(pc_addr_is_public((struct sockaddr *)&sin6) == v6_cases[i].is_public);
	}
}

/* An IPv4 address wrapped in IPv6 (mapped, compatible, translated, NAT64, 6to4) is exactly as
 * public as the address itself: no wrapper launders 127.0.0.1 or 169.254.169.254. */
static void embedded_ipv4_cannot_launder_an_address(void **state)
{
	static const uint8_t prefixes[][16] = {
	        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, /* ::ffff:0:0/96 */
	        {0},                                        /* ::/96 */
	        {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}, /* ::ffff:0:0:0/96 */
	        {0x00, 0x64, 0xff, 0x9b},                   /* 64:ff9b::/96 */
	        {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01},       /* 64:ff9b:1::/96 */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(v4_cases); i++) {
		struct sockaddr_in sin;
		uint8_t a[16];
		sa4(v4_cases[i].addr, &sin);
		for (size_t p = 0; p < ARRAY_LEN(prefixes); p++) {
			memcpy(a, prefixes[p], 12);
			memcpy(a + 12, &sin.sin_addr, 4);
			if (pc_addr6_is_public(a) != v4_cases[i].is_public)
				fail_msg("%s in prefix %zu", v4_cases[i].addr, p);
		}
		/* 6to4: 2002:AABB:CCDD::/48 with any subnet and interface id. */
		memset(a, 0xff, 16);
		a[0] = 0x20;
		a[1] = 0x02;
		memcpy(a + 2, &sin.sin_addr, 4);
		if (pc_addr6_is_public(a) != v4_cases[i].is_public)
			fail_msg("%s in 6to4", v4_cases[i].addr);
	}
}

static void other_families_are_not_public(void **state)
{
	struct sockaddr_un un;
	(void)state;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_false(pc_addr_is_public((struct sockaddr *)&un));
	assert_false(pc_addr_is_public(NULL));
	assert_false(pc_addr_is_loopback((struct sockaddr *)&un));
	assert_false(pc_addr_is_loopback(NULL));
}

static void loopback(void **state)
{
	static const struct case_ t4[] = {
	        {"127.0.0.1", true},        {"127.0.0.0", true},  {"127.255.255.255", true},
	        {"126.255.255.255", false}, {"128.0.0.0", false}, {"0.0.0.0", false},
	        {"10.0.0.1", false},
	};
	static const struct case_ t6[] = {
	        {"::1", true},
	        {"::ffff:127.0.0.1", true},
	        {"::ffff:127.255.255.255", true},
	        {"::127.0.0.1", true},
	        {"::", false},
	        {"::2", false},
	        {"::ffff:128.0.0.1", false},
	        {"::ffff:126.255.255.255", false},
	        {"64:ff9b::127.0.0.1", false}, /* goes to the NAT64 gateway, not here */
	        {"::ffff:0:127.0.0.1", false},
	        {"fe80::1", false},
	        {"1::1", false},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t4); i++) {
		struct sockaddr_in sin;
		sa4(t4[i].addr, &sin);
		if (pc_addr_is_loopback((struct sockaddr *)&sin) != t4[i].is_public)
			fail_msg("loopback(%s) should be %d", t4[i].addr, t4[i].is_public);
	}
	for (size_t i = 0; i < ARRAY_LEN(t6); i++) {
		struct sockaddr_in6 sin6;
		sa6(t6[i].addr, &sin6);
		if (pc_addr_is_loopback((struct sockaddr *)&sin6) != t6[i].is_public)
			fail_msg("loopback(%s) should be %d", t6[i].addr, t6[i].is_public);
	}
}

static void format(void **state)
{
	union pc_sockaddr a;
	char buf[PC_ADDR_STRLEN];
	(void)state;
	sa4("192.0.2.1", &a.in);
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "192.0.2.1");
	/* Exactly fitting, and one byte short. */
	assert_int_equal(pc_addr_format(&a.sa, buf, 10), 9);
	assert_int_equal(pc_addr_format(&a.sa, buf, 9), -ENOSPC);
	assert_int_equal(pc_addr_format(&a.sa, buf, 0), -ENOSPC);

	sa6("2001:DB8:0:0:0:0:0:1", &a.in6);
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "2001:db8::1");
	sa6("::ffff:7f00:1", &a.in6);
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), 16);
	assert_string_equal(buf, "::ffff:127.0.0.1");
	sa6("fe80::1", &a.in6);
	a.in6.sin6_scope_id = 4294967295u;
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), 18);
	assert_string_equal(buf, "fe80::1%4294967295");
	assert_int_equal(pc_addr_format(&a.sa, buf, 18), -ENOSPC);
	/* The longest text fits PC_ADDR_STRLEN. */
	sa6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &a.in6);
	a.in6.sin6_scope_id = 4294967295u;
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), 39 + 11);
	sa6("::ffff:255.255.255.255", &a.in6);
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), 22);

	memset(&a, 0, sizeof(a));
	a.sa.sa_family = AF_UNIX;
	assert_int_equal(pc_addr_format(&a.sa, buf, sizeof(buf)), -EAFNOSUPPORT);
	assert_int_equal(pc_addr_format(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(pc_addr_format(&a.sa, NULL, 0), -EINVAL);
}

static void port_and_length(void **state)
{
	union pc_sockaddr a;
	(void)state;
	sa4("192.0.2.1", &a.in);
	pc_addr_set_port(&a, 443);
	assert_int_equal(ntohs(a.in.sin_port), 443);
	assert_int_equal(pc_addr_port(&a), 443);
	assert_int_equal(pc_addr_len(&a), sizeof(struct sockaddr_in));
	sa6("2001:db8::1", &a.in6);
	pc_addr_set_port(&a, 65535);
	assert_int_equal(ntohs(a.in6.sin6_port), 65535);
	assert_int_equal(pc_addr_port(&a), 65535);
	assert_int_equal(pc_addr_len(&a), sizeof(struct sockaddr_in6));
	/* Setting a port keeps the address and the scope. */
	a.in6.sin6_scope_id = 7;
	pc_addr_set_port(&a, 80);
	assert_int_equal(a.in6.sin6_scope_id, 7);
	assert_int_equal(a.in6.sin6_addr.s6_addr[0], 0x20);
	memset(&a, 0, sizeof(a));
	pc_addr_set_port(&a, 80);
	assert_int_equal(pc_addr_len(&a), 0);
	assert_int_equal(pc_addr_port(&a), 0);
	assert_int_equal(pc_addr_len(NULL), 0);
	pc_addr_set_port(NULL, 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(ipv4_range_edges),
	        cmocka_unit_test(ipv6_range_edges),
	        cmocka_unit_test(embedded_ipv4_cannot_launder_an_address),
	        cmocka_unit_test(other_families_are_not_public),
	        cmocka_unit_test(loopback),
	        cmocka_unit_test(format),
	        cmocka_unit_test(port_and_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
