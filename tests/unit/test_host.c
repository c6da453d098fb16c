/* Host normalisation and authority parsing (src/policy/host.h). Tables of good and bad inputs;
 * tests named after a security lesson say which bypass they keep closed. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/host.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct good {
	const char *in;
	enum pc_host_kind kind;
	const char *canon;
};

static void expect_good(const char *in, size_t len, unsigned flags, enum pc_host_kind kind,
                        const char *canon)
{
	struct pc_host h;
	int rc = pc_host_normalize(in, len, flags, &h);
	if (rc != 0)
		fail_msg("normalize(\"%.*s\", flags %u) = %d, want \"%s\"", (int)len, in, flags, rc,
		         canon);
	if (h.kind != kind || strcmp(h.name, canon) != 0 || h.len != strlen(canon))
		fail_msg("normalize(\"%.*s\") = kind %d \"%s\" (len %zu), want kind %d \"%s\"",
		         (int)len, in, h.kind, h.name, h.len, kind, canon);
	switch (kind) {
	case PC_HOST_NAME:
		assert_int_equal(h.addr.sa.sa_family, AF_UNSPEC);
		assert_string_equal(h.zone, "");
		break;
	case PC_HOST_IPV4:
		assert_int_equal(h.addr.sa.sa_family, AF_INET);
		assert_int_equal(h.addr.in.sin_port, 0);
		assert_string_equal(h.zone, "");
		break;
	case PC_HOST_IPV6:
		assert_int_equal(h.addr.sa.sa_family, AF_INET6);
		assert_int_equal(h.addr.in6.sin6_port, 0);
		break;
	}
}

static void expect_bad(const char *in, size_t len, unsigned flags)
{
	struct pc_host h;
	int rc = pc_host_normalize(in, len, flags, &h);
	if (rc != PC_EHOST)
		fail_msg("normalize(\"%.*s\", flags %u) = %d \"%s\", want PC_EHOST", (int)len, in,
		         flags, rc, h.name);
	/* A refusal leaves nothing that could be used by mistake. */
	assert_int_equal(h.kind, 0);
	assert_string_equal(h.name, "");
	assert_int_equal(h.addr.sa.sa_family, AF_UNSPEC);
}

static void run_good(const struct good *t, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		expect_good(t[i].in, strlen(t[i].in), flags, t[i].kind, t[i].canon);
}

static void run_bad(const char *const *t, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++)
		expect_bad(t[i], strlen(t[i]), flags);
}

/* Hosts without glob characters must come out the same whether or not PC_HOST_GLOB is set. */
static void run_good_any_flags(const struct good *t, size_t n)
{
	run_good(t, n, 0);
	run_good(t, n, PC_HOST_GLOB);
}

static void run_bad_any_flags(const char *const *t, size_t n)
{
	run_bad(t, n, 0);
	run_bad(t, n, PC_HOST_GLOB);
}

static const struct good good_names[] = {
        {"example.com", PC_HOST_NAME, "example.com"},
        {"EXAMPLE.COM", PC_HOST_NAME, "example.com"},
        {"ExAmPlE.CoM", PC_HOST_NAME, "example.com"},
        {"example.com.", PC_HOST_NAME, "example.com"},
        {"example.com...", PC_HOST_NAME, "example.com"},
        {"  example.com\t", PC_HOST_NAME, "example.com"},
        {"\r\n\v\fexample.com \r\n", PC_HOST_NAME, "example.com"},
        {"localhost", PC_HOST_NAME, "localhost"},
        {"a", PC_HOST_NAME, "a"},
        {"a-b_c.d", PC_HOST_NAME, "a-b_c.d"},
        {"_dmarc.example.com", PC_HOST_NAME, "_dmarc.example.com"},
        {"-leading.example", PC_HOST_NAME, "-leading.example"},
        {"r3---sn-abc.googlevideo.com", PC_HOST_NAME, "r3---sn-abc.googlevideo.com"},
        {"1.2.3.com", PC_HOST_NAME, "1.2.3.com"},
        {"123.example", PC_HOST_NAME, "123.example"},
        {"0x7f.example", PC_HOST_NAME, "0x7f.example"},
        {"1.2.3.0xg", PC_HOST_NAME, "1.2.3.0xg"},
        {"1.2.3.4a", PC_HOST_NAME, "1.2.3.4a"},
        {"1.2.3.4_", PC_HOST_NAME, "1.2.3.4_"},
        /* "-4" is not a number, so this is a (strange) name; no resolver reads it as an
         * address. */
        {"1.2.3.-4", PC_HOST_NAME, "1.2.3.-4"},
        {"a..", PC_HOST_NAME, "a"},
        {"0xx1", PC_HOST_NAME, "0xx1"},
        {"0x0x1", PC_HOST_NAME, "0x0x1"},
        {"xn--bcher-kva.example", PC_HOST_NAME, "xn--bcher-kva.example"},
        {"XN--BCHER-KVA.EXAMPLE", PC_HOST_NAME, "xn--bcher-kva.example"},
        {"xn--mgbh0fb.xn--kgbechtv", PC_HOST_NAME, "xn--mgbh0fb.xn--kgbechtv"},
        {"xn--fa-hia.de", PC_HOST_NAME, "xn--fa-hia.de"},
};

static void names_are_lowercased_and_trimmed(void **state)
{
	(void)state;
	run_good_any_flags(good_names, ARRAY_LEN(good_names));
}

static void name_length_limits(void **state)
{
	char buf[PC_HOST_INPUT_MAX + 8];
	(void)state;
	/* 63-byte label ok, 64 refused. */
	memset(buf, 'a', 63);
	memcpy(buf + 63, ".com", 5);
	expect_good(buf, strlen(buf), 0, PC_HOST_NAME, buf);
	memset(buf, 'a', 64);
	memcpy(buf + 64, ".com", 5);
	expect_bad(buf, strlen(buf), 0);
	memset(buf, 'a', 64);
	expect_bad(buf, 64, 0);
	/* 253-byte name ok (with or without the trailing dot), 254 refused. */
	for (int i = 0; i < 253; i++)
		buf[i] = (i % 2) ? '.' : 'a';
	buf[253] = '\0';
	expect_good(buf, 253, 0, PC_HOST_NAME, buf);
	buf[253] = '.';
	buf[254] = '\0';
	{
		char want[254];
		memcpy(want, buf, 253);
		want[253] = '\0';
		expect_good(buf, 254, 0, PC_HOST_NAME, want);
	}
	buf[253] = 'b';
	buf[252] = 'a';
	expect_bad(buf, 254, 0);
	/* A 254-byte name of long labels, too. */
	memset(buf, 'a', 254);
	buf[63] = buf[127] = buf[191] = '.';
	expect_bad(buf, 254, 0);
	/* Input beyond PC_HOST_INPUT_MAX is refused even if trimming would shorten it. */
	memset(buf, ' ', PC_HOST_INPUT_MAX + 1);
	memcpy(buf + 10, "example.com", 11);
	expect_bad(buf, PC_HOST_INPUT_MAX + 1, 0);
	expect_good(buf, PC_HOST_INPUT_MAX, 0, PC_HOST_NAME, "example.com");
}

static const char *const bad_names[] = {
        "",
        " ",
        ".",
        "...",
        " . ",
        ".example.com",
        "example..com",
        "..a",
        "exa mple.com",
        "example.com/",
        "example.com/path",
        "example.com?q",
        "example.com#f",
        "user@example.com",
        "example.com:80",
        "exa%6dple.com",
        "%65xample.com",
        "example.com%00",
        "example%2ecom",
        "*.example.com",
        "ex?mple.com",
        "[example.com]",
        "example.com]",
        "[example.com",
        "exa\\mple.com",
        "exa\"mple.com",
        "exa'mple.com",
        "exa,mple.com",
        "exa;mple.com",
        "exa+mple.com",
        "exa=mple.com",
        "exa!mple.com",
        "exa$mple.com",
        "exa&mple.com",
        "exa(mple.com",
        "exa<mple.com",
        "exa|mple.com",
        "exa~mple.com",
        "exa`mple.com",
        "exa{mple.com",
        "exa\x7fmple.com",
        "exa\x01mple.com",
        "exa\tmple.com",
        "example.com\x1b",
        "xn--zz.example",
        "xn--.example",
        "xn--x.example",
        "xn--a.example",
        "xn--abc-.example",
        "xn--99999999999999999999.example",
        "xn--ss-.de",
        "example.xn--zz",
        "xn--bcher-kva.-foo",
};

static void bad_names_are_refused(void **state)
{
	(void)state;
	run_bad(bad_names, ARRAY_LEN(bad_names), 0);
}

/* A NUL inside the host must refuse it, never cut it short: "allowed.com\0.evil" is not
 * "allowed.com". */
static void nul_byte_refused_not_truncated(void **state)
{
	static const char in[] = "allowed.com\0.evil.com";
	static const char in2[] = "b\xc3\xbc"
	                          "cher.example\0.evil";
	static const char in3[] = "127.0.0.1\0";
	(void)state;
	expect_bad(in, sizeof(in) - 1, 0);
	expect_bad(in2, sizeof(in2) - 1, 0);
	expect_bad(in3, sizeof(in3) - 1, 0);
	expect_bad("\0", 1, 0);
	/* The length given is what counts: a NUL-free prefix is fine. */
	expect_good(in, 11, 0, PC_HOST_NAME, "allowed.com");
}

static const struct good good_ipv4[] = {
        /* Every spelling of loopback. */
        {"127.0.0.1", PC_HOST_IPV4, "127.0.0.1"},
        {"127.1", PC_HOST_IPV4, "127.0.0.1"},
        {"127.0.1", PC_HOST_IPV4, "127.0.0.1"},
        {"0x7f.1", PC_HOST_IPV4, "127.0.0.1"},
        {"0X7F.1", PC_HOST_IPV4, "127.0.0.1"},
        {"0x7F.0.0.1", PC_HOST_IPV4, "127.0.0.1"},
        {"0177.0.0.1", PC_HOST_IPV4, "127.0.0.1"},
        {"0177.1", PC_HOST_IPV4, "127.0.0.1"},
        {"00000177.0.0.1", PC_HOST_IPV4, "127.0.0.1"},
        {"2130706433", PC_HOST_IPV4, "127.0.0.1"},
        {"0x7f000001", PC_HOST_IPV4, "127.0.0.1"},
        {"0X7F000001", PC_HOST_IPV4, "127.0.0.1"},
        {"017700000001", PC_HOST_IPV4, "127.0.0.1"},
        {"127.000.000.001", PC_HOST_IPV4, "127.0.0.1"},
        {"127.0.0.010", PC_HOST_IPV4, "127.0.0.8"},
        {"127.0.0x0.0x1", PC_HOST_IPV4, "127.0.0.1"},
        {"0x7f.0x0.0x0.0x1", PC_HOST_IPV4, "127.0.0.1"},
        {"0x7f.0x000001", PC_HOST_IPV4, "127.0.0.1"},
        {"127.0x1", PC_HOST_IPV4, "127.0.0.1"},
        {"127.65535", PC_HOST_IPV4, "127.0.255.255"},
        {"127.16777215", PC_HOST_IPV4, "127.255.255.255"},
        {"127.0.65535", PC_HOST_IPV4, "127.0.255.255"},
        /* Trailing dots, case, whitespace. */
        {"1.2.3.4", PC_HOST_IPV4, "1.2.3.4"},
        {"1.2.3.4.", PC_HOST_IPV4, "1.2.3.4"},
        {"1.2.3.4...", PC_HOST_IPV4, "1.2.3.4"},
        {" 1.2.3.4 ", PC_HOST_IPV4, "1.2.3.4"},
        {"0", PC_HOST_IPV4, "0.0.0.0"},
        {"0.0.0.0", PC_HOST_IPV4, "0.0.0.0"},
        {"0x", PC_HOST_IPV4, "0.0.0.0"},
        {"0x.0x.0x.0x", PC_HOST_IPV4, "0.0.0.0"},
        {"1.0x", PC_HOST_IPV4, "1.0.0.0"},
        {"00", PC_HOST_IPV4, "0.0.0.0"},
        {"4294967295", PC_HOST_IPV4, "255.255.255.255"},
        {"0xffffffff", PC_HOST_IPV4, "255.255.255.255"},
        {"037777777777", PC_HOST_IPV4, "255.255.255.255"},
        {"255.255.255.255", PC_HOST_IPV4, "255.255.255.255"},
        {"0xff.0xff.0xff.0xff", PC_HOST_IPV4, "255.255.255.255"},
        {"0377.0377.0377.0377", PC_HOST_IPV4, "255.255.255.255"},
        {"8.8.8.8", PC_HOST_IPV4, "8.8.8.8"},
        {"134744072", PC_HOST_IPV4, "8.8.8.8"},
        {"10.0.0.1", PC_HOST_IPV4, "10.0.0.1"},
        {"10.1", PC_HOST_IPV4, "10.0.0.1"},
        {"169.254.169.254", PC_HOST_IPV4, "169.254.169.254"},
        {"0xa9fea9fe", PC_HOST_IPV4, "169.254.169.254"},
        {"0xa9.0xfe.0xa9.0xfe", PC_HOST_IPV4, "169.254.169.254"},
        /* Leading zeros are not limited, labels are (63 bytes). */
        {"0x0000000000000000000000000000000000000000000000000000000000001", PC_HOST_IPV4,
         "0.0.0.1"},
        {"000000000000000000000000000000000000000000000000000000000000001", PC_HOST_IPV4,
         "0.0.0.1"},
        {"0x00000000000000000000000000000000000000000000000000000000000ff.0377", PC_HOST_IPV4,
         "255.0.0.255"},
};

static void ipv4_spellings_canonicalise(void **state)
{
	(void)state;
	run_good(good_ipv4, ARRAY_LEN(good_ipv4), 0);
}

static const char *const bad_ipv4[] = {
        "1.2.3.09",
        "1.2.3.08",
        "09",
        "0128.0.0.1",
        "256.1.1.1",
        "1.256.1.1",
        "1.1.256.1",
        "1.1.1.256",
        "1.2.3.4.5",
        "1.2.3.4.5.",
        "0x100000000",
        "4294967296",
        "99999999999999999999999999",
        "040000000000",
        "0x1.0x100.1.1",
        "1.16777216",
        "1.1.65536",
        "0x100.1",
        "example.123",
        "example.0x1",
        "example.0",
        "a.1.2.3",
        "1.a.3",
        "1.2.3.+4",
        "-1.2.3.4",
        "1.2.3.4 junk",
        "1.2.3.4\tjunk",
        "1..2",
        "1.2..3.4",
        ".1.2.3.4",
        "1.2.3.0x1g.4",
        "1e2.3.4.5",
        "0xfg.1",
        "1_2.3",
        "0x00000000000000000000000000000000000000000000000000000000000001",
        "0000000000000000000000000000000000000000000000000000000000000001",
};

/* The numeric-last-label rule: a host ending in a number is an IPv4 address or nothing, so it
 * can never be sent to DNS (where a resolver would read it as an address after all). */
static void numeric_last_label_is_address_or_refused(void **state)
{
	(void)state;
	run_bad_any_flags(bad_ipv4, ARRAY_LEN(bad_ipv4));
}

/* True if one of the dot-separated parts of s is exactly "0x" (glibc's inet_aton refuses it,
 * we read it as 0: a safe difference, since we then never send it to DNS). */
static bool has_bare_0x_part(const char *s)
{
	for (const char *p = s; (p = strstr(p, "0x")) != NULL; p += 2)
		if ((p == s || p[-1] == '.') && (p[2] == '\0' || p[2] == '.'))
			return true;
	return false;
}

/* What we call an address must be the address a resolver reads: every accepted IPv4 spelling
 * agrees with inet_aton (which is not used by the parser), and no name we accept is one
 * inet_aton would read as an address. */
static void ipv4_agrees_with_resolver_reading(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good_ipv4); i++) {
		const char *in = good_ipv4[i].in;
		char text[128];
		struct in_addr a;
		struct pc_host h;
		size_t n;
		/* inet_aton knows no surrounding space nor trailing dot. */
		in += strspn(in, " ");
		n = strlen(in);
		while (n > 0 && (in[n - 1] == '.' || in[n - 1] == ' '))
			n--;
		snprintf(text, sizeof(text), "%.*s", (int)n, in);
		assert_int_equal(pc_host_normalize(text, n, 0, &h), 0);
		if (inet_aton(text, &a) != 1) {
			if (!has_bare_0x_part(text))
				fail_msg("inet_aton refuses \"%s\"", text);
			continue;
		}
		assert_memory_equal(&a, &h.addr.in.sin_addr, 4);
	}
	for (size_t i = 0; i < ARRAY_LEN(good_names); i++) {
		struct in_addr a;
		assert_int_equal(inet_aton(good_names[i].canon, &a), 0);
	}
}

static const struct good good_ipv6[] = {
        {"[::1]", PC_HOST_IPV6, "::1"},
        {"::1", PC_HOST_IPV6, "::1"},
        {" [::1] ", PC_HOST_IPV6, "::1"},
        {"[0:0:0:0:0:0:0:1]", PC_HOST_IPV6, "::1"},
        {"[0000:0000:0000:0000:0000:0000:0000:0001]", PC_HOST_IPV6, "::1"},
        {"[::]", PC_HOST_IPV6, "::"},
        {"::", PC_HOST_IPV6, "::"},
        {"[::ffff:127.0.0.1]", PC_HOST_IPV6, "::ffff:127.0.0.1"},
        {"[::ffff:7f00:1]", PC_HOST_IPV6, "::ffff:127.0.0.1"},
        {"[::FFFF:7F00:0001]", PC_HOST_IPV6, "::ffff:127.0.0.1"},
        {"[0:0:0:0:0:ffff:127.0.0.1]", PC_HOST_IPV6, "::ffff:127.0.0.1"},
        {"[::127.0.0.1]", PC_HOST_IPV6, "::127.0.0.1"},
        {"[64:ff9b::a00:1]", PC_HOST_IPV6, "64:ff9b::a00:1"},
        {"[64:ff9b::10.0.0.1]", PC_HOST_IPV6, "64:ff9b::a00:1"},
        {"[2002:a00:1::]", PC_HOST_IPV6, "2002:a00:1::"},
        {"[2002:808:808::]", PC_HOST_IPV6, "2002:808:808::"},
        {"[2001:DB8::1]", PC_HOST_IPV6, "2001:db8::1"},
        {"[2001:db8:0:0:1:0:0:1]", PC_HOST_IPV6, "2001:db8::1:0:0:1"},
        {"[2001:0db8:0000:0000:0000:0000:0002:0001]", PC_HOST_IPV6, "2001:db8::2:1"},
        {"[2001:db8::0:1]", PC_HOST_IPV6, "2001:db8::1"},
        {"[1:2:3:4:5:6:7:8]", PC_HOST_IPV6, "1:2:3:4:5:6:7:8"},
        {"[1:2:3:4:5:6:7::]", PC_HOST_IPV6, "1:2:3:4:5:6:7:0"},
        {"[::2:3:4:5:6:7:8]", PC_HOST_IPV6, "0:2:3:4:5:6:7:8"},
        {"[1::8]", PC_HOST_IPV6, "1::8"},
        {"[1:0:0:4::8]", PC_HOST_IPV6, "1:0:0:4::8"},
        {"[1:2:3:4:5:6:1.2.3.4]", PC_HOST_IPV6, "1:2:3:4:5:6:102:304"},
        {"[1::1.2.3.4]", PC_HOST_IPV6, "1::102:304"},
        {"[ff02::1]", PC_HOST_IPV6, "ff02::1"},
        {"[fe80::1]", PC_HOST_IPV6, "fe80::1"},
        {"[fe80::1%25eth0]", PC_HOST_IPV6, "fe80::1%eth0"},
        {"fe80::1%25eth0", PC_HOST_IPV6, "fe80::1%eth0"},
        {"[FE80::1%25Eth0]", PC_HOST_IPV6, "fe80::1%Eth0"},
        {"[fe80::1%25lo]", PC_HOST_IPV6, "fe80::1%lo"},
        {"[fe80::1%253]", PC_HOST_IPV6, "fe80::1%3"},
        {"[fe80::1%25003]", PC_HOST_IPV6, "fe80::1%3"},
        {"[fe80::1%25no-such-if.0]", PC_HOST_IPV6, "fe80::1%no-such-if.0"},
        {"[fe80::1%25a~b_c.d-e]", PC_HOST_IPV6, "fe80::1%a~b_c.d-e"},
        {"[fe80::1%25abcdefghijklmno]", PC_HOST_IPV6, "fe80::1%abcdefghijklmno"},
        {"[fe80::1%2525]", PC_HOST_IPV6, "fe80::1%25"},
        {"[febf:ffff::1%25x]", PC_HOST_IPV6, "febf:ffff::1%x"},
};

static void ipv6_literals_canonicalise(void **state)
{
	(void)state;
	run_good_any_flags(good_ipv6, ARRAY_LEN(good_ipv6));
}

static void ipv6_addresses_and_zones(void **state)
{
	struct pc_host a, b;
	(void)state;
	/* [::ffff:127.0.0.1] and [::ffff:7f00:1] are one address, kept as IPv6. */
	assert_int_equal(pc_host_normalize("[::ffff:127.0.0.1]", 18, 0, &a), 0);
	assert_int_equal(pc_host_normalize("[::ffff:7f00:1]", 15, 0, &b), 0);
	assert_int_equal(a.kind, PC_HOST_IPV6);
	assert_memory_equal(&a.addr.in6.sin6_addr, &b.addr.in6.sin6_addr, 16);
	assert_string_equal(a.name, b.name);
	/* A zone names an interface: numeric zones are the index, unknown names give 0. */
	assert_int_equal(pc_host_normalize("[fe80::1%2542]", 14, 0, &a), 0);
	assert_int_equal(a.addr.in6.sin6_scope_id, 42);
	assert_string_equal(a.zone, "42");
	assert_int_equal(pc_host_normalize("[fe80::1%25no-such-if0]", 23, 0, &a), 0);
	assert_int_equal(a.addr.in6.sin6_scope_id, 0);
	assert_string_equal(a.zone, "no-such-if0");
	assert_int_equal(pc_host_normalize("[fe80::1%25lo]", 14, 0, &a), 0);
	assert_string_equal(a.zone, "lo");
	assert_int_equal(pc_host_normalize("[fe80::1]", 9, 0, &a), 0);
	assert_string_equal(a.zone, "");
	assert_int_equal(a.addr.in6.sin6_scope_id, 0);
}

static const char *const bad_ipv6[] = {
        "[]",
        "[",
        "]",
        "[:]",
        "[:::]",
        "[::1",
        "::1]",
        "[[::1]]",
        "[::1]]",
        "[::1].",
        "::1.",
        "[::1.]",
        "[ ::1]",
        "[::1 ]",
        "[::1]x",
        "[1::2::3]",
        "[:1::]",
        "[1:]",
        "[:1]",
        "[1:2:3:4:5:6:7:8:9]",
        "[1:2:3:4:5:6:7:8::]",
        "[::1:2:3:4:5:6:7:8]",
        "[1:2:3:4:5:6:7]",
        "[12345::]",
        "[::00001]",
        "[::g]",
        "[::1.2.3]",
        "[::1.2.3.4.5]",
        "[::1.2.3.04]",
        "[::ffff:127.0.0.01]",
        "[::ffff:256.0.0.1]",
        "[::ffff:0x7f.0.0.1]",
        "[::ffff:127.1]",
        "[1:2:3:4:5:6:7:1.2.3.4]",
        "[1.2.3.4::]",
        "[::1.2.3.4:1]",
        "[127.0.0.1]",
        "[1.2.3.4]",
        "[example.com]",
        "[localhost]",
        "[v1.fe80::1]",
        "[::1]:80",
        "1:2",
        "a:b:c",
        "::1:80:x",
        "[::1%25eth0]",
        "[::1%eth0]",
        "[2001:db8::1%25eth0]",
        "[ff02::1%25eth0]",
        "[fe80::1%eth0]",
        "fe80::1%eth0",
        "[fe80::1%]",
        "[fe80::1%2]",
        "[fe80::1%25]",
        "[fe80::1%25%25]",
        "[fe80::1%25eth%30]",
        "[fe80::1%25eth0%]",
        "[fe80::1%25eth 0]",
        "[fe80::1%25eth0/]",
        "[fe80::1%25eth0:]",
        "[fe80::1%25abcdefghijklmnop]",
        "[fe80::1%250]",
        "[fe80::1%2500]",
        "[fe80::1%254294967296]",
        "[fe80::1%25\xc3\xa9]",
        "[fe80::%25eth0:1]",
        "[fec0::1%25eth0]",
        "[fe80::1%25eth0%25eth1]",
        "[::ffff:1.2.3.4%25eth0]",
};

static void bad_ipv6_refused(void **state)
{
	(void)state;
	run_bad_any_flags(bad_ipv6, ARRAY_LEN(bad_ipv6));
}

/* A zone only makes sense on a link-local address; on a global one it could smuggle an
 * interface choice past the policy. */
static void zone_on_non_link_local_refused(void **state)
{
	(void)state;
	expect_bad("[2001:db8::1%25eth0]", 20, 0);
	expect_bad("[::1%25lo]", 10, 0);
	expect_good("[fe80::1%25lo]", 14, 0, PC_HOST_IPV6, "fe80::1%lo");
}

static const struct good good_idn[] = {
        {"b\xc3\xbc"
         "cher.example",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        {"B\xc3\x9c"
         "CHER.EXAMPLE",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        {"b\xc3\xbc"
         "cher.example.",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        {" b\xc3\xbc"
         "cher.example ",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        /* Fullwidth dot U+FF0E and ideographic full stop U+3002 are label separators (UTS #46). */
        {"b\xc3\xbc"
         "cher\xef\xbc\x8e"
         "example",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        {"b\xc3\xbc"
         "cher\xe3\x80\x82"
         "example",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        {"b\xc3\xbc"
         "cher\xef\xbd\xa1"
         "example",
         PC_HOST_NAME, "xn--bcher-kva.example"},
        /* Nontransitional: sharp s stays. */
        {"fa\xc3\x9f.de", PC_HOST_NAME, "xn--fa-hia.de"},
        /* Arabic (bidi) example. */
        {"\xd9\x85\xd8\xab\xd8\xa7\xd9\x84.\xd8\xa5\xd8\xae\xd8\xaa\xd8\xa8\xd8\xa7\xd8\xb1",
         PC_HOST_NAME, "xn--mgbh0fb.xn--kgbechtv"},
        /* Fullwidth letters map to ASCII. */
        {"\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x85.com",
         PC_HOST_NAME, "example.com"},
        /* Emoji: refused by IDNA 2008 nontransitional, accepted by the transitional fallback. */
        {"\xf0\x9f\x92\xa9.la", PC_HOST_NAME, "xn--ls8h.la"},
        {"xn--ls8h.la", PC_HOST_NAME, "xn--ls8h.la"},
        {"\xc3\xbc", PC_HOST_NAME, "xn--tda"},
        {"a.\xc3\xbc.b", PC_HOST_NAME, "a.xn--tda.b"},
};

static void idn_becomes_alabels(void **state)
{
	(void)state;
	run_good_any_flags(good_idn, ARRAY_LEN(good_idn));
}

/* Unicode spellings of digits are still digits: "１２７.０.０.１" is 127.0.0.1, not a name
 * that would go to DNS. */
static void fullwidth_digits_become_ipv4(void **state)
{
	static const char fw_loopback[] = "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.\xef\xbc\x90."
	                                  "\xef\xbc\x90.\xef\xbc\x91";
	static const char fw_octal[] = "\xef\xbc\x90\xef\xbc\x91\xef\xbc\x97\xef\xbc\x97.1";
	static const char fw_ip_dots[] = "127\xef\xbc\x8e"
	                                 "0\xe3\x80\x82"
	                                 "0\xef\xbd\xa1"
	                                 "1";
	static const char fw_bad[] = "example.\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93";
	static const char fw_256[] = "\xef\xbc\x92\xef\xbc\x95\xef\xbc\x96.1.1.1";
	(void)state;
	expect_good(fw_loopback, strlen(fw_loopback), 0, PC_HOST_IPV4, "127.0.0.1");
	expect_good(fw_octal, strlen(fw_octal), 0, PC_HOST_IPV4, "127.0.0.1");
	expect_good(fw_ip_dots, strlen(fw_ip_dots), 0, PC_HOST_IPV4, "127.0.0.1");
	expect_bad(fw_bad, strlen(fw_bad), 0);
	expect_bad(fw_256, strlen(fw_256), 0);
}

static const char *const bad_idn[] = {
        /* Not UTF-8. */
        "\xff\xfe.de",
        "b\xfc"
        "cher.de",
        "\xc3",
        "\xc3\xbc\x80",
        "\xed\xa0\x80.de", /* surrogate */
        "\xc0\xae.de",     /* overlong '.' */
        /* ASCII bytes that are never allowed, next to Unicode. */
        "b\xc3\xbc"
        "cher.example/",
        "b\xc3\xbc"
        "cher.example:80",
        "b\xc3\xbc"
        "cher%2eexample",
        "b\xc3\xbc"
        "cher example",
        "us@b\xc3\xbc"
        "cher.example",
        /* Unicode that maps onto characters a host may not hold (UTS #46). */
        "\xef\xbc\x9a\xef\xbc\x9a\xef\xbc\x91", /* fullwidth "::1" */
        "a\xe3\x80\x80"
        "b.\xc3\xbc",              /* ideographic space */
        "exa\xef\xbc\x85mple.com", /* fullwidth '%' */
        "example.com\xef\xbc\x8f", /* fullwidth '/' */
        "\xe2\x92\x88.example",    /* U+2488 "1." */
        "127.0.0\xe2\x92\x88",     /* U+2488 "1." */
        /* Empty labels after mapping. */
        "\xc3\xbc..x",
        ".\xc3\xbc",
        "\xe3\x80\x82",
        "\xc3\xbc\xe3\x80\x82\xe3\x80\x82x",
        /* IDNA rules on the other labels of an IDN. */
        "-foo.b\xc3\xbc",
        "ab--cd.b\xc3\xbc",
        "b\xc3\xbc.xn--zz",
};

static void bad_idn_refused(void **state)
{
	static const char *const need_glob[] = {
	        "*.b\xc3\xbc"
	        "cher.example",
	        "\xef\xbc\x8a.example.com", /* fullwidth '*' (UTS #46 maps it to '*') */
	};
	(void)state;
	run_bad(bad_idn, ARRAY_LEN(bad_idn), 0);
	run_bad(need_glob, ARRAY_LEN(need_glob), 0);
	expect_good(need_glob[0], strlen(need_glob[0]), PC_HOST_GLOB, PC_HOST_NAME,
	            "*.xn--bcher-kva.example");
	expect_good(need_glob[1], strlen(need_glob[1]), PC_HOST_GLOB, PC_HOST_NAME,
	            "*.example.com");
}

/* An "xn--" label must be real punycode of a valid U-label: otherwise the pattern
 * "xn--zz.example" and the host would mean nothing anyone could agree on. */
static void invalid_punycode_refused(void **state)
{
	static const char *const bad[] = {"xn--zz.example",        "xn--.example",
	                                  "xn--a.example",         "xn--abc-.example",
	                                  "XN--ZZ.EXAMPLE",        "a.b.xn--x",
	                                  "xn--bcher-kvb.example", /* decodes to U+01C8, mapped */
	                                  "xn--bcher-kva-.example"};
	(void)state;
	run_bad_any_flags(bad, ARRAY_LEN(bad));
	expect_good("xn--bcher-kva.example", 21, 0, PC_HOST_NAME, "xn--bcher-kva.example");
}

static const struct good good_globs[] = {
        {"*", PC_HOST_NAME, "*"},
        {"*.example.com", PC_HOST_NAME, "*.example.com"},
        {"**.example.com", PC_HOST_NAME, "**.example.com"},
        {"*.EXAMPLE.COM.", PC_HOST_NAME, "*.example.com"},
        {"region*.example.com", PC_HOST_NAME, "region*.example.com"},
        {"api-?.example.com", PC_HOST_NAME, "api-?.example.com"},
        {"*.*", PC_HOST_NAME, "*.*"},
        {"*.localhost", PC_HOST_NAME, "*.localhost"},
        {"*.10.example.com", PC_HOST_NAME, "*.10.example.com"},
        {"example.*", PC_HOST_NAME, "example.*"},
        {"*.b\xc3\xbc"
         "cher.example",
         PC_HOST_NAME, "*.xn--bcher-kva.example"},
        {"?.b\xc3\xbc"
         "cher.example",
         PC_HOST_NAME, "?.xn--bcher-kva.example"},
        {"*.xn--bcher-kva.example", PC_HOST_NAME, "*.xn--bcher-kva.example"},
        {"xn--bcher-kva.*", PC_HOST_NAME, "xn--bcher-kva.*"},
        {"b\xc3\xbc"
         "cher.*",
         PC_HOST_NAME, "xn--bcher-kva.*"},
        {"10.0.0.1", PC_HOST_IPV4, "10.0.0.1"},
        {"[::1]", PC_HOST_IPV6, "::1"},
};

static void glob_patterns_are_names(void **state)
{
	(void)state;
	run_good(good_globs, ARRAY_LEN(good_globs), PC_HOST_GLOB);
	/* Without the flag every one holding a glob is refused. */
	for (size_t i = 0; i < ARRAY_LEN(good_globs); i++)
		if (strpbrk(good_globs[i].in, "*?"))
			expect_bad(good_globs[i].in, strlen(good_globs[i].in), 0);
}

/* "10.*" must not become an address (nor a name matching "10.0.0.1"): address ranges are
 * written as CIDR. */
static void glob_cannot_spell_an_address_range(void **state)
{
	static const char *const bad[] = {
	        "10.*",     "169.254.*", "127.*",       "*.1",        "*.0x1",      "1*",
	        "1?.0.0.1", "1.2.3.*",   "*.*.*.1",     "0x7f.*",     "0x*.1",      "192.168.?.1",
	        "1*.2*",    "a*.123",    "*.example.1", "127.0.0.1*", "*127.0.0.1", "0x7f*",
	};
	(void)state;
	run_bad(bad, ARRAY_LEN(bad), PC_HOST_GLOB);
}

static void glob_rules(void **state)
{
	static const char *const bad[] = {
	        "b\xc3\xbc*.example", /* glob in a Unicode label */
	        "*b\xc3\xbc.example",
	        "x\xe3\x80\x82*\xc3\xbc.example",
	        "xn--*.example", /* glob in an A-label */
	        "xn--bcher-kva*.example",
	        "xn--b*-kva.example",
	        "*..example",
	        "*.example.com/",
	        "*:443",
	        "[*::1]",
	        "%2a.example.com",
	        "*.exa mple.com",
	        "\xef\xbc\x91\xef\xbc\x90.*", /* fullwidth "10" */
	};
	(void)state;
	run_bad(bad, ARRAY_LEN(bad), PC_HOST_GLOB);
}

struct authority_case {
	const char *in;
	const char *host;
	uint16_t port;
};

static const struct authority_case good_authorities[] = {
        {"example.com", "example.com", 0},
        {"example.com:80", "example.com", 80},
        {"EXAMPLE.com.:443", "example.com", 443},
        {"example.com:1", "example.com", 1},
        {"example.com:65535", "example.com", 65535},
        {"example.com:0080", "example.com", 80},
        {"example.com:00000000000000000443", "example.com", 443},
        {" example.com:443 ", "example.com", 443},
        {"127.1:8080", "127.0.0.1", 8080},
        {"0x7f.1:22", "127.0.0.1", 22},
        {"[::1]", "::1", 0},
        {"[::1]:443", "::1", 443},
        {"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80},
        {"[fe80::1%25eth0]:80", "fe80::1%eth0", 80},
        {"::1", "::1", 0},
        {"2001:db8::1", "2001:db8::1", 0},
        {"::1:80", "::0.1.0.128", 0}, /* inet_ntop writes ::/96 as IPv4-compatible */
        {"fe80::1%25eth0", "fe80::1%eth0", 0},
        {"b\xc3\xbc"
         "cher.example:443",
         "xn--bcher-kva.example", 443},
        {"localhost:3128", "localhost", 3128},
        /* The dotted quad and the port have fast paths of their own. */
        {"1.2.3.4", "1.2.3.4", 0},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"255.255.255.255:65535", "255.255.255.255", 65535},
        {"100.200.250.199:8080", "100.200.250.199", 8080},
        {"1.2.3.4.", "1.2.3.4", 0},
        {"1.2.3.4.:81", "1.2.3.4", 81},
        {"01.2.3.4:80", "1.2.3.4", 80},
        {"1.2.3.010", "1.2.3.8", 0},
        {"1.2.3.4:00080", "1.2.3.4", 80},
        {"1.2.3.4:0000000000000000000080", "1.2.3.4", 80},
        {"1.2.3.4:065535", "1.2.3.4", 65535},
        {"1.2.3.4:00001", "1.2.3.4", 1},
        {"example.com:9", "example.com", 9},
        {"example.com:99", "example.com", 99},
        {"example.com:999", "example.com", 999},
        {"example.com:9999", "example.com", 9999},
        {"example.com:10000", "example.com", 10000},
        {"[::1]:65535", "::1", 65535},
};

static const char *const bad_authorities[] = {
        "1.2.3.4:",
        "1.2.3.4:0",
        "1.2.3.4:00000",
        "1.2.3.4:000000",
        "1.2.3.4:65536",
        "1.2.3.4:99999",
        "1.2.3.4:100000",
        "1.2.3.4:0100000",
        "1.2.3.4:1a",
        "1.2.3.4:a1",
        "1.2.3.4:-1",
        "1.2.3.4:+1",
        "1.2.3.256",
        "1.2.3.4.5",
        "1.2.3.4 :80",
        "1234.1.1.1",
        "[1.2.3.4]",
        "",
        " ",
        ":",
        ":80",
        "[::1",
        "[::1:80",
        "::1]:80",
        "[::1]:",
        "[::1]80",
        "[::1]:80:80",
        "[::1]]:80",
        "[[::1]]:80",
        "[::1] :80",
        "[::1]: 80",
        "[]:80",
        "[127.0.0.1]",
        "[127.0.0.1]:80",
        "[example.com]:80",
        "host:",
        "host:0",
        "host:00",
        "host:65536",
        "host:99999",
        "host:999999999999999999999",
        "host:-1",
        "host:+80",
        "host: 80",
        "host :80",
        "host:80 x",
        "host:8 0",
        "host:0x50",
        "host:80a",
        "host:80.",
        "host:\xef\xbc\x98\xef\xbc\x90",
        "host:80:80",
        "a@b",
        "a@b:80",
        "user:pass@host:80",
        "@host",
        "host@",
        "[::1]@host",
        "ho st:80",
        "host\t:80",
        "2001:db8::1:80:",
        "2001:db8::1]:80",
        "1.2.3.4:80:80",
        "fe80::1%eth0",
        "[fe80::1%eth0]:80",
        "example.123:80",
        "1.2.3.09:80",
        "*.example.com:80",
        "host:80/",
        "host/:80",
        "host:80#",
};

static void authority_parsing(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good_authorities); i++) {
		const struct authority_case *t = &good_authorities[i];
		struct pc_host h;
		uint16_t port = 12345;
		int rc = pc_authority_parse(t->in, strlen(t->in), &h, &port);
		if (rc != 0 || strcmp(h.name, t->host) != 0 || port != t->port)
			fail_msg("authority(\"%s\") = %d \"%s\" %u, want \"%s\" %u", t->in, rc,
			         h.name, port, t->host, t->port);
		assert_int_equal(h.addr.in.sin_port, 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad_authorities); i++) {
		const char *in = bad_authorities[i];
		struct pc_host h;
		uint16_t port = 12345;
		int rc = pc_authority_parse(in, strlen(in), &h, &port);
		if (rc != PC_EHOST)
			fail_msg("authority(\"%s\") = %d \"%s\" %u, want PC_EHOST", in, rc, h.name,
			         port);
		assert_int_equal(port, 0);
		assert_int_equal(h.kind, 0);
		assert_string_equal(h.name, "");
	}
}

/* An IPv6 literal and a port can only be told apart with brackets: "2001:db8::1:80" is the
 * address 2001:db8::1:80, never 2001:db8::1 port 80. */
static void unbracketed_ipv6_never_takes_a_port(void **state)
{
	struct pc_host h;
	uint16_t port;
	(void)state;
	assert_int_equal(pc_authority_parse("2001:db8::1:80", 14, &h, &port), 0);
	assert_string_equal(h.name, "2001:db8::1:80");
	assert_int_equal(h.kind, PC_HOST_IPV6);
	assert_int_equal(port, 0);
	assert_int_equal(pc_authority_parse("example.com:80:", 15, &h, &port), PC_EHOST);
	assert_int_equal(pc_authority_parse("a:b:80", 6, &h, &port), PC_EHOST);
}

/* Userinfo would let "allowed.com@evil.com" read as either host depending on the reader. */
static void userinfo_refused(void **state)
{
	struct pc_host h;
	uint16_t port;
	(void)state;
	assert_int_equal(pc_authority_parse("allowed.com@evil.com", 20, &h, &port), PC_EHOST);
	assert_int_equal(pc_authority_parse("evil.com:80@allowed.com", 23, &h, &port), PC_EHOST);
	expect_bad("allowed.com@evil.com", 20, 0);
}

static void authority_limits(void **state)
{
	char buf[PC_HOST_INPUT_MAX + 16];
	struct pc_host h;
	uint16_t port;
	(void)state;
	memset(buf, '0', sizeof(buf));
	memcpy(buf, "a:", 2);
	buf[PC_HOST_INPUT_MAX - 1] = '1';
	assert_int_equal(pc_authority_parse(buf, PC_HOST_INPUT_MAX, &h, &port), 0);
	assert_int_equal(port, 1);
	assert_int_equal(pc_authority_parse(buf, PC_HOST_INPUT_MAX + 1, &h, &port), PC_EHOST);
	assert_int_equal(pc_authority_parse(NULL, 0, &h, &port), PC_EHOST);
	assert_int_equal(pc_authority_parse("a", 1, NULL, &port), PC_EHOST);
	assert_int_equal(pc_authority_parse("a", 1, &h, NULL), PC_EHOST);
	assert_int_equal(pc_host_normalize(NULL, 0, 0, &h), PC_EHOST);
	assert_int_equal(pc_host_normalize("a", 1, 0, NULL), PC_EHOST);
	assert_int_equal(pc_host_normalize("a", 1, 1u << 8, &h), PC_EHOST);
}

static void localhost_names(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		bool want;
	} t[] = {
	        {"localhost", 0, true},
	        {"LOCALHOST.", 0, true},
	        {"a.localhost", 0, true},
	        {"a.b.localhost", 0, true},
	        {"*.localhost", PC_HOST_GLOB, true},
	        {"localhost.com", 0, false},
	        {"mylocalhost", 0, false},
	        {"localhostx", 0, false},
	        {"xlocalhost", 0, false},
	        {"a-localhost", 0, false},
	        {"localhos", 0, false},
	        {"127.0.0.1", 0, false},
	        {"[::1]", 0, false},
	        {"l\xef\xbd\x8f"
	         "calhost",
	         0, true}, /* fullwidth 'o' */
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct pc_host h;
		assert_int_equal(pc_host_normalize(t[i].in, strlen(t[i].in), t[i].flags, &h), 0);
		if (pc_host_is_localhost(&h) != t[i].want)
			fail_msg("is_localhost(\"%s\") != %d", t[i].in, t[i].want);
	}
	assert_false(pc_host_is_localhost(NULL));
}

/* Normalising a canonical result again gives the same result (the pattern compiler and the
 * request path normalise independently and must meet). */
static void canonical_text_is_a_fixed_point(void **state)
{
	static const struct good *const tables[] = {good_names, good_ipv4, good_ipv6, good_idn,
	                                            good_globs};
	static const size_t lens[] = {ARRAY_LEN(good_names), ARRAY_LEN(good_ipv4),
	                              ARRAY_LEN(good_ipv6), ARRAY_LEN(good_idn),
	                              ARRAY_LEN(good_globs)};
	(void)state;
	for (size_t t = 0; t < ARRAY_LEN(tables); t++) {
		for (size_t i = 0; i < lens[t]; i++) {
			struct pc_host a, b;
			char text[PC_HOST_NAME_MAX + 8];
			const char *pct;
			assert_int_equal(pc_host_normalize(tables[t][i].in, strlen(tables[t][i].in),
			                                   PC_HOST_GLOB, &a),
			                 0);
			/* A zone is written "%25" in host syntax. */
			pct = strchr(a.name, '%');
			if (pct)
				snprintf(text, sizeof(text), "%.*s%%25%s", (int)(pct - a.name),
				         a.name, pct + 1);
			else
				snprintf(text, sizeof(text), "%s", a.name);
			assert_int_equal(pc_host_normalize(text, strlen(text), PC_HOST_GLOB, &b),
			                 0);
			assert_int_equal(a.kind, b.kind);
			assert_string_equal(a.name, b.name);
			assert_memory_equal(&a.addr, &b.addr, sizeof(a.addr));
		}
	}
}

/* The fast name path reads 16 bytes at a time: every name length up to the limit, with and
 * without a port and a trailing dot, must come out as the general rules say. */
static void names_of_every_length(void **state)
{
	static const char alphabet[] = "xYz0-1Q_a9BcD";
	(void)state;
	for (size_t len = 1; len <= PC_HOST_NAME_MAX + 2; len++) {
		char in[PC_HOST_NAME_MAX + 16], want[PC_HOST_NAME_MAX + 16];
		struct pc_host h;
		uint16_t port;
		int n;
		/* Labels of six bytes; the last byte a letter, so the last label is no number. */
		for (size_t j = 0; j < len; j++)
			in[j] = (j % 7 == 6 && j != len - 1) ? '.' : alphabet[j % 13];
		in[len - 1] = 'Z';
		for (size_t j = 0; j < len; j++)
			want[j] = (char)((in[j] >= 'A' && in[j] <= 'Z') ? in[j] | 0x20 : in[j]);
		want[len] = '\0';
		if (len > PC_HOST_NAME_MAX) {
			expect_bad(in, len, 0);
			n = snprintf(in + len, 8, ":80");
			assert_int_equal(pc_authority_parse(in, len + (size_t)n, &h, &port),
			                 PC_EHOST);
			continue;
		}
		expect_good(in, len, 0, PC_HOST_NAME, want);
		in[len] = '.';
		expect_good(in, len + 1, 0, PC_HOST_NAME, want);
		n = snprintf(in + len, 8, ":8080");
		assert_int_equal(pc_authority_parse(in, len + (size_t)n, &h, &port), 0);
		assert_string_equal(h.name, want);
		assert_int_equal(port, 8080);
		assert_int_equal(pc_authority_parse(in, len, &h, &port), 0);
		assert_string_equal(h.name, want);
		assert_int_equal(port, 0);
	}
}

/* A label of 64 bytes is refused wherever it starts and ends relative to the 16-byte blocks;
 * one of 63 is accepted. */
static void label_limits_at_every_offset(void **state)
{
	(void)state;
	for (size_t off = 1; off <= 40; off++) {
		for (size_t label = 63; label <= 64; label++) {
			char in[160], want[160];
			struct pc_host h;
			uint16_t port;
			size_t n = 0;
			memset(in, 'q', off);
			n = off;
			in[n++] = '.';
			memset(in + n, 'A', label);
			n += label;
			memcpy(want, in, n);
			for (size_t j = 0; j < n; j++)
				want[j] = (char)(want[j] == 'A' ? 'a' : want[j]);
			want[n] = '\0';
			/* As the last label, then followed by another one, then with a port. */
			if (label == 63)
				expect_good(in, n, 0, PC_HOST_NAME, want);
			else
				expect_bad(in, n, 0);
			memcpy(in + n, ".com:443", 8);
			assert_int_equal(pc_host_normalize(in, n + 4, 0, &h),
			                 label == 63 ? 0 : PC_EHOST);
			assert_int_equal(pc_authority_parse(in, n + 8, &h, &port),
			                 label == 63 ? 0 : PC_EHOST);
		}
	}
}

/* An empty label is refused wherever it falls; trailing dots (any number) are not labels. */
static void empty_labels_at_every_offset(void **state)
{
	(void)state;
	for (size_t off = 1; off <= 40; off++) {
		char in[64], want[64];
		struct pc_host h;
		uint16_t port;
		memset(in, 'e', off);
		memcpy(want, in, off);
		want[off] = '\0';
		memcpy(in + off, "..com", 5);
		expect_bad(in, off + 5, 0);
		expect_good(in, off + 2, 0, PC_HOST_NAME, want);
		expect_good(in, off + 1, 0, PC_HOST_NAME, want);
		memcpy(in + off, "..:80", 5);
		assert_int_equal(pc_authority_parse(in, off + 5, &h, &port), 0);
		assert_string_equal(h.name, want);
		assert_int_equal(port, 80);
		memcpy(in + off, ".:80", 4);
		assert_int_equal(pc_authority_parse(in, off + 4, &h, &port), 0);
		assert_string_equal(h.name, want);
		memmove(in + 1, in, off);
		in[0] = '.';
		expect_bad(in, off + 1, 0);
	}
}

/* Our IPv6 text is what inet_ntop writes, for every shape of zero runs (each group zero or
 * not), including the dotted tails of ::/96 and ::ffff:0:0/96. */
static void ipv6_text_is_what_inet_ntop_writes(void **state)
{
	(void)state;
	for (unsigned zeros = 0; zeros < 256; zeros++) {
		for (unsigned fill = 0; fill < 3; fill++) {
			char text[64], want[INET6_ADDRSTRLEN];
			uint8_t a[16];
			struct pc_host h;
			int n = 0;
			for (unsigned k = 0; k < 8; k++) {
				unsigned w = (zeros >> k & 1) ? 0
				             : fill == 0      ? k + 1
				             : fill == 1      ? 0xabc0u + k
				                              : (k == 5 ? 0xffffu : 0x100u * k + 1);
				a[2 * k] = (uint8_t)(w >> 8);
				a[2 * k + 1] = (uint8_t)w;
				n += snprintf(text + n, sizeof(text) - (size_t)n, k ? ":%x" : "%x",
				              w);
			}
			assert_non_null(inet_ntop(AF_INET6, a, want, sizeof(want)));
			expect_good(text, (size_t)n, 0, PC_HOST_IPV6, want);
			assert_int_equal(pc_host_normalize(text, (size_t)n, 0, &h), 0);
			assert_memory_equal(&h.addr.in6.sin6_addr, a, 16);
			assert_int_equal(pc_host_normalize(want, strlen(want), 0, &h), 0);
			assert_memory_equal(&h.addr.in6.sin6_addr, a, 16);
		}
	}
}

/* One IPv6 parser decides; it must agree with inet_pton on every text, valid or not. */
static void ipv6_parser_agrees_with_inet_pton(void **state)
{
	static const char *const texts[] = {
	        "::",
	        "::1",
	        "1::",
	        "1::2",
	        "1:2:3:4:5:6:7:8",
	        "1:2:3:4:5:6:7::",
	        "::2:3:4:5:6:7:8",
	        "1:2:3:4:5:6:7:8::",
	        "::1:2:3:4:5:6:7:8",
	        "1:2:3:4::5:6:7:8",
	        "1:2:3:4:5:6:7",
	        ":::",
	        "1:::2",
	        "1::2::3",
	        ":1::",
	        "1:",
	        ":1",
	        "1::2:",
	        "12345::",
	        "::12345",
	        "01234::",
	        "0000:0000:0000:0000:0000:0000:0000:0000",
	        "fFfF:FFFF::",
	        "::1.2.3.4",
	        "::ffff:1.2.3.4",
	        "::ffff:0.0.0.0",
	        "1:2:3:4:5:6:1.2.3.4",
	        "1:2:3:4:5:6:7:1.2.3.4",
	        "1:2:3:4:5::1.2.3.4",
	        "1::1.2.3.4",
	        "::1.2.3",
	        "::1.2.3.4.5",
	        "::01.2.3.4",
	        "::1.2.3.04",
	        "::256.1.1.1",
	        "::1.2.3.4:5",
	        "1.2.3.4::",
	        "::a.2.3.4",
	        "::1234.2.3.4",
	        "::.1.2.3",
	        "::1..2.3",
	        "::1.2.3.",
	        "1:2:3:4:5:6:7:8:9",
	        "::ffff:1.2.3.4.",
	        "g::1",
	        "::g",
	        "1:2:3:4:5:6:7:8:",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		uint8_t a[16];
		struct pc_host h;
		int pton = inet_pton(AF_INET6, texts[i], a);
		int rc = pc_host_normalize(texts[i], strlen(texts[i]), 0, &h);
		if ((rc == 0) != (pton == 1))
			fail_msg("\"%s\": normalize %d, inet_pton %d", texts[i], rc, pton);
		if (rc == 0)
			assert_memory_equal(&h.addr.in6.sin6_addr, a, 16);
	}
}

/* A host normalised in place (its text already in the struct the result goes to) comes out as
 * if it were not: the fast paths write the result before they have decided. */
static void normalised_in_place(void **state)
{
	static const char *const hosts[] = {
	        "EXAMPLE.com",   "203.0.113.7",           "127.1", "FE80::1%25ETH0",
	        "[2001:DB8::1]", "b\303\274cher.example", "a..b",  "XN--BCHER-KVA.example",
	};
	static const char *const authorities[] = {"EXAMPLE.com:8080", "1.2.3.4:1", "[::1]:2",
	                                          "2001:db8::1:80", "a:0"};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(hosts); i++) {
		for (size_t at = 0; at < 3; at++) {
			struct pc_host want, h;
			size_t n = strlen(hosts[i]);
			int rc = pc_host_normalize(hosts[i], n, 0, &want);
			memcpy(h.name + at, hosts[i], n);
			assert_int_equal(pc_host_normalize(h.name + at, n, 0, &h), rc);
			assert_int_equal(h.kind, want.kind);
			assert_string_equal(h.name, want.name);
			assert_string_equal(h.zone, want.zone);
			assert_memory_equal(&h.addr, &want.addr, sizeof(h.addr));
		}
	}
	for (size_t i = 0; i < ARRAY_LEN(authorities); i++) {
		struct pc_host want, h;
		uint16_t want_port, port;
		size_t n = strlen(authorities[i]);
		int rc = pc_authority_parse(authorities[i], n, &want, &want_port);
		memcpy(h.name, authorities[i], n);
		assert_int_equal(pc_authority_parse(h.name, n, &h, &port), rc);
		assert_string_equal(h.name, want.name);
		assert_memory_equal(&h.addr, &want.addr, sizeof(h.addr));
		assert_int_equal(port, want_port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(names_are_lowercased_and_trimmed),
	        cmocka_unit_test(name_length_limits),
	        cmocka_unit_test(bad_names_are_refused),
	        cmocka_unit_test(nul_byte_refused_not_truncated),
	        cmocka_unit_test(ipv4_spellings_canonicalise),
	        cmocka_unit_test(numeric_last_label_is_address_or_refused),
	        cmocka_unit_test(ipv4_agrees_with_resolver_reading),
	        cmocka_unit_test(ipv6_literals_canonicalise),
	        cmocka_unit_test(ipv6_addresses_and_zones),
	        cmocka_unit_test(bad_ipv6_refused),
	        cmocka_unit_test(zone_on_non_link_local_refused),
	        cmocka_unit_test(idn_becomes_alabels),
	        cmocka_unit_test(fullwidth_digits_become_ipv4),
	        cmocka_unit_test(bad_idn_refused),
	        cmocka_unit_test(invalid_punycode_refused),
	        cmocka_unit_test(glob_patterns_are_names),
	        cmocka_unit_test(glob_cannot_spell_an_address_range),
	        cmocka_unit_test(glob_rules),
	        cmocka_unit_test(authority_parsing),
	        cmocka_unit_test(unbracketed_ipv6_never_takes_a_port),
	        cmocka_unit_test(userinfo_refused),
	        cmocka_unit_test(authority_limits),
	        cmocka_unit_test(localhost_names),
	        cmocka_unit_test(canonical_text_is_a_fixed_point),
	        cmocka_unit_test(names_of_every_length),
	        cmocka_unit_test(label_limits_at_every_offset),
	        cmocka_unit_test(empty_labels_at_every_offset),
	        cmocka_unit_test(ipv6_text_is_what_inet_ntop_writes),
	        cmocka_unit_test(ipv6_parser_agrees_with_inet_pton),
	        cmocka_unit_test(normalised_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
