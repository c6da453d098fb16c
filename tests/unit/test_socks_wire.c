/* SOCKS5 wire format (src/socks/wire.h): tables of good and bad messages for each parser with
 * the reply the wire needs, every truncation of every good message, trailing bytes, builders
 * and UDP round trips. Tests named after a security lesson say which hole they keep closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "socks/wire.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A byte string literal as (pointer, length), NUL bytes included. */
#define BYTES(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* --- generic checks over any parser --------------------------------------------------------- */

union any_out {
	struct pc_socks_greeting greeting;
	struct pc_socks_auth auth;
	struct pc_socks_request request;
	struct pc_socks_udp udp;
};

typedef int (*parse_fn)(const uint8_t *buf, size_t len, union any_out *out, uint8_t *rep);

static int greeting(const uint8_t *buf, size_t len, union any_out *out, uint8_t *rep)
{
	*rep = 0;
	return pc_socks_greeting_parse(buf, len, &out->greeting);
}

static int auth(const uint8_t *buf, size_t len, union any_out *out, uint8_t *rep)
{
	*rep = 0;
	return pc_socks_auth_parse(buf, len, &out->auth);
}

static int request(const uint8_t *buf, size_t len, union any_out *out, uint8_t *rep)
{
	return pc_socks_request_parse(buf, len, &out->request, rep);
}

/* Parses a heap copy of exactly len bytes, so that ASan sees any read beyond them. */
static int parse_copy(parse_fn fn, const uint8_t *msg, size_t len, union any_out *out, uint8_t *rep)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;
	assert_non_null(copy);
	if (len)
		memcpy(copy, msg, len);
	rc = fn(copy, len, out, rep);
	free(copy);
	return rc;
}

/* A good message of len bytes: every proper prefix needs more, the whole is consumed exactly,
 * and bytes after it (a pipelined next message) are left alone. */
static void expect_complete(parse_fn fn, const uint8_t *msg, size_t len)
{
	uint8_t more[PC_SOCKS_AUTH_MAX + 16];
	union any_out out;
	uint8_t rep;
	for (size_t k = 0; k < len; k++) {
		int rc = parse_copy(fn, msg, k, &out, &rep);
		if (rc != PC_AGAIN)
			fail_msg("prefix %zu of %zu bytes: %d, want PC_AGAIN", k, len, rc);
		assert_int_equal(rep, 0);
	}
	assert_int_equal(fn(msg, len, &out, &rep), (int)len);
	assert_true(len + 3 <= sizeof(more));
	memcpy(more, msg, len);
	memcpy(more + len, "\x05\x01\x00", 3);
	assert_int_equal(fn(more, len + 3, &out, &rep), (int)len);
	assert_int_equal(rep, 0);
}

/* A bad message: refused with err and reply rep, and no longer input changes the answer. */
static void expect_refused(parse_fn fn, const uint8_t *msg, size_t len, int err, uint8_t want)
{
	uint8_t more[PC_SOCKS_AUTH_MAX + 16];
	union any_out out;
	uint8_t rep = 0xee;
	int rc = parse_copy(fn, msg, len, &out, &rep);
	if (rc != err || rep != want)
		fail_msg("%zu-byte message: %d rep 0x%02x, want %d rep 0x%02x", len, rc, rep, err,
		         want);
	assert_true(len + 8 <= sizeof(more));
	memcpy(more, msg, len);
	memset(more + len, 0x00, 8);
	assert_int_equal(fn(more, len + 8, &out, &rep), err);
	assert_int_equal(rep, want);
}

/* --- greeting -------------------------------------------------------------------------------- */

static void greeting_good(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
		unsigned methods;
	} t[] = {
	        {BYTES("\x05\x01\x00"), PC_SOCKS_METHODS_NO_AUTH},
	        {BYTES("\x05\x01\x02"), PC_SOCKS_METHODS_USERPASS},
	        {BYTES("\x05\x02\x00\x02"), PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS},
	        {BYTES("\x05\x02\x02\x00"), PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS},
	        {BYTES("\x05\x03\x00\x01\x02"),
	         PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS},
	        {BYTES("\x05\x02\x00\x00"), PC_SOCKS_METHODS_NO_AUTH},
	        /* Only methods we do not know: parsed, and no method will be acceptable. */
	        {BYTES("\x05\x01\x01"), 0},
	        {BYTES("\x05\x03\x01\x80\xff"), 0},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct pc_socks_greeting g;
		expect_complete(greeting, t[i].msg, t[i].len);
		assert_int_equal(pc_socks_greeting_parse(t[i].msg, t[i].len, &g), (int)t[i].len);
		assert_int_equal(g.methods, t[i].methods);
	}
}

static void greeting_longest(void **state)
{
	uint8_t msg[PC_SOCKS_GREETING_MAX];
	struct pc_socks_greeting g;
	(void)state;
	msg[0] = 5;
	msg[1] = 255;
	for (size_t i = 0; i < 255; i++)
		msg[2 + i] = (uint8_t)(254 - i);
	expect_complete(greeting, msg, sizeof(msg));
	assert_int_equal(pc_socks_greeting_parse(msg, sizeof(msg), &g), PC_SOCKS_GREETING_MAX);
	assert_int_equal(g.methods, PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS);
}

static void greeting_bad(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
		int err;
	} t[] = {
	        {BYTES("\x05\x00"), PC_EPARSE},
	        {BYTES("\x00"), PC_EPARSE},
	        {BYTES("\x01"), PC_EPARSE},
	        {BYTES("\x06\x01\x00"), PC_EPARSE},
	        {BYTES("\xff"), PC_EPARSE},
	        {BYTES("GET / HTTP/1.1\r\n"), PC_EPARSE},
	        {BYTES("CONNECT example.com:443 HTTP/1.1\r\n"), PC_EPARSE},
	        {BYTES("\x16\x03\x01"), PC_EPARSE},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		expect_refused(greeting, t[i].msg, t[i].len, t[i].err, 0);
}

/* A SOCKS4 or 4a client is told apart from garbage at its first byte, whatever follows. */
static void greeting_socks4_detected(void **state)
{
	(void)state;
	expect_refused(greeting, BYTES("\x04"), PC_EUNSUPPORTED, 0);
	/* SOCKS4 CONNECT 93.184.216.34:80, user "u". */
	expect_refused(greeting, BYTES("\x04\x01\x00\x50\x5d\xb8\xd8\x22u\x00"), PC_EUNSUPPORTED,
	               0);
	/* SOCKS4a: 0.0.0.1 then the name. */
	expect_refused(greeting, BYTES("\x04\x01\x01\xbb\x00\x00\x00\x01\x00example.com\x00"),
	               PC_EUNSUPPORTED, 0);
}

static void choose_method(void **state)
{
	const unsigned none = PC_SOCKS_METHODS_NO_AUTH, up = PC_SOCKS_METHODS_USERPASS;
	static const struct {
		unsigned offered, accepted;
		uint8_t want;
	} t[] = {
	        {PC_SOCKS_METHODS_NO_AUTH, PC_SOCKS_METHODS_NO_AUTH, PC_SOCKS_METHOD_NO_AUTH},
	        {PC_SOCKS_METHODS_USERPASS, PC_SOCKS_METHODS_NO_AUTH,
	         PC_SOCKS_METHOD_NONE_ACCEPTABLE},
	        {PC_SOCKS_METHODS_NO_AUTH, PC_SOCKS_METHODS_USERPASS,
	         PC_SOCKS_METHOD_NONE_ACCEPTABLE},
	        {0, PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS,
	         PC_SOCKS_METHOD_NONE_ACCEPTABLE},
	        {PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS, 0,
	         PC_SOCKS_METHOD_NONE_ACCEPTABLE},
	        {PC_SOCKS_METHODS_USERPASS, PC_SOCKS_METHODS_USERPASS, PC_SOCKS_METHOD_USERPASS},
	        {PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS, PC_SOCKS_METHODS_NO_AUTH,
	         PC_SOCKS_METHOD_NO_AUTH},
	        {PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS, PC_SOCKS_METHODS_USERPASS,
	         PC_SOCKS_METHOD_USERPASS},
	        {PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS,
	         PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS, PC_SOCKS_METHOD_USERPASS},
	        {PC_SOCKS_METHODS_NO_AUTH, PC_SOCKS_METHODS_NO_AUTH | PC_SOCKS_METHODS_USERPASS,
	         PC_SOCKS_METHOD_NO_AUTH},
	};
	uint8_t buf[2];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		assert_int_equal(pc_socks_choose_method(t[i].offered, t[i].accepted), t[i].want);
	/* Bits beyond the known methods change nothing. */
	assert_int_equal(pc_socks_choose_method(~0u & ~up, ~0u), PC_SOCKS_METHOD_NO_AUTH);
	assert_int_equal(pc_socks_choose_method(~0u & ~(none | up), ~0u),
	                 PC_SOCKS_METHOD_NONE_ACCEPTABLE);
	assert_int_equal(pc_socks_method_build(buf, sizeof(buf), PC_SOCKS_METHOD_NONE_ACCEPTABLE),
	                 2);
	assert_memory_equal(buf, "\x05\xff", 2);
	assert_int_equal(pc_socks_method_build(buf, 1, PC_SOCKS_METHOD_NO_AUTH), -ENOSPC);
}

/* --- username/password ----------------------------------------------------------------------- */

static void auth_good(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
		const char *user, *pass;
		size_t ulen, plen;
	} t[] = {
	        {BYTES("\x01\x04user\x04pass"), "user", "pass", 4, 4},
	        {BYTES("\x01\x01u\x01p"), "u", "p", 1, 1},
	        /* PLEN 0: an empty password (curl sends it for a user without a password). */
	        {BYTES("\x01\x04user\x00"), "user", "", 4, 0},
	        /* Any bytes, NUL included: credentials are compared, never interpreted. */
	        {BYTES("\x01\x03\x00\xff\x01\x02\x00\x0a"), "\x00\xff\x01", "\x00\x0a", 3, 2},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		struct pc_socks_auth a;
		expect_complete(auth, t[i].msg, t[i].len);
		assert_int_equal(pc_socks_auth_parse(t[i].msg, t[i].len, &a), (int)t[i].len);
		assert_ptr_equal(a.user.p, t[i].msg + 2);
		assert_int_equal(a.user.len, t[i].ulen);
		assert_memory_equal(a.user.p, t[i].user, t[i].ulen);
		assert_ptr_equal(a.pass.p, t[i].msg + 3 + t[i].ulen);
		assert_int_equal(a.pass.len, t[i].plen);
		if (t[i].plen)
			assert_memory_equal(a.pass.p, t[i].pass, t[i].plen);
	}
}

static void auth_longest(void **state)
{
	uint8_t msg[PC_SOCKS_AUTH_MAX];
	struct pc_socks_auth a;
	(void)state;
	msg[0] = 1;
	msg[1] = 255;
	memset(msg + 2, 'u', 255);
	msg[257] = 255;
	memset(msg + 258, 'p', 255);
	expect_complete(auth, msg, sizeof(msg));
	assert_int_equal(pc_socks_auth_parse(msg, sizeof(msg), &a), PC_SOCKS_AUTH_MAX);
	assert_int_equal(a.user.len, 255);
	assert_int_equal(a.pass.len, 255);
	assert_int_equal(a.pass.p[254], 'p');
}

static void auth_bad(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
	} t[] = {
	        {BYTES("\x00")},
	        {BYTES("\x02\x01u\x01p")},
	        /* The SOCKS version where the sub-negotiation version belongs. */
	        {BYTES("\x05\x01u\x01p")},
	        /* ULEN 0 (RFC 1929: 1..255). */
	        {BYTES("\x01\x00\x01p")},
	        {BYTES("\x01\x00")},
	};
	uint8_t buf[2];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		expect_refused(auth, t[i].msg, t[i].len, PC_EPARSE, 0);
	assert_int_equal(pc_socks_auth_reply_build(buf, sizeof(buf), PC_SOCKS_AUTH_SUCCESS), 2);
	assert_memory_equal(buf, "\x01\x00", 2);
	assert_int_equal(pc_socks_auth_reply_build(buf, sizeof(buf), PC_SOCKS_AUTH_FAILURE), 2);
	assert_memory_equal(buf, "\x01\x01", 2);
	assert_int_equal(pc_socks_auth_reply_build(buf, 0, PC_SOCKS_AUTH_FAILURE), -ENOSPC);
}

/* --- requests -------------------------------------------------------------------------------- */

/* Three bytes (VER CMD RSV in a request, RSV RSV FRAG in a datagram), then ATYP 3, LEN, NAME,
 * PORT: how both carry a domain. Returns the length. */
static size_t domain_message(uint8_t *buf, const char head[3], const char *name, size_t nlen,
                             uint16_t port)
{
	memcpy(buf, head, 3);
	buf[3] = PC_SOCKS_ATYP_DOMAIN;
	buf[4] = (uint8_t)nlen;
	memcpy(buf + 5, name, nlen);
	buf[5 + nlen] = (uint8_t)(port >> 8);
	buf[6 + nlen] = (uint8_t)port;
	return 7 + nlen;
}

static size_t domain_request(uint8_t *buf, uint8_t cmd, const char *name, size_t nlen,
                             uint16_t port)
{
	const char head[3] = {PC_SOCKS_VERSION, (char)cmd, 0};
	return domain_message(buf, head, name, nlen, port);
}

static void expect_request(const uint8_t *msg, size_t len, enum pc_socks_cmd cmd,
                           enum pc_host_kind kind, const char *canon, uint16_t port)
{
	struct pc_socks_request r;
	uint8_t rep = 0xee;
	int rc;
	expect_complete(request, msg, len);
	rc = pc_socks_request_parse(msg, len, &r, &rep);
	if (rc != (int)len)
		fail_msg("request for \"%s\": %d rep 0x%02x", canon, rc, rep);
	assert_int_equal(rep, PC_SOCKS_REP_SUCCEEDED);
	assert_int_equal(r.cmd, cmd);
	assert_int_equal(r.atyp, msg[3]);
	assert_int_equal(r.host.kind, kind);
	assert_string_equal(r.host.name, canon);
	assert_int_equal(r.host.len, strlen(canon));
	assert_int_equal(r.port, port);
	if (kind == PC_HOST_IPV4)
		assert_int_equal(r.host.addr.sa.sa_family, AF_INET);
	else if (kind == PC_HOST_IPV6)
		assert_int_equal(r.host.addr.sa.sa_family, AF_INET6);
	else
		assert_int_equal(r.host.addr.sa.sa_family, AF_UNSPEC);
}

static void request_addresses(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
		enum pc_socks_cmd cmd;
		enum pc_host_kind kind;
		const char *canon;
		uint16_t port;
	} t[] = {
	        {BYTES("\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"), PC_SOCKS_CMD_CONNECT,
	         PC_HOST_IPV4, "127.0.0.1", 80},
	        {BYTES("\x05\x01\x00\x01\x5d\xb8\xd8\x22\xff\xff"), PC_SOCKS_CMD_CONNECT,
	         PC_HOST_IPV4, "93.184.216.34", 65535},
	        {BYTES("\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	               "\x00\x01\x01\xbb"),
	         PC_SOCKS_CMD_CONNECT, PC_HOST_IPV6, "::1", 443},
	        {BYTES("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	               "\x00\x01\x00\x01"),
	         PC_SOCKS_CMD_CONNECT, PC_HOST_IPV6, "2001:db8::1", 1},
	        /* IPv4-mapped stays IPv6; the policy judges it by the embedded IPv4. */
	        {BYTES("\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x7f\x00"
	               "\x00\x01\x00\x50"),
	         PC_SOCKS_CMD_CONNECT, PC_HOST_IPV6, "::ffff:127.0.0.1", 80},
	        {BYTES("\x05\x01\x00\x03\x0b"
	               "example.com\x01\xbb"),
	         PC_SOCKS_CMD_CONNECT, PC_HOST_NAME, "example.com", 443},
	        /* UDP ASSOCIATE: all zeros when the client does not know its address yet. */
	        {BYTES("\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00"), PC_SOCKS_CMD_UDP_ASSOCIATE,
	         PC_HOST_IPV4, "0.0.0.0", 0},
	        {BYTES("\x05\x03\x00\x01\x7f\x00\x00\x01\x9c\x40"), PC_SOCKS_CMD_UDP_ASSOCIATE,
	         PC_HOST_IPV4, "127.0.0.1", 40000},
	        {BYTES("\x05\x03\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	               "\x00\x00\x00\x00"),
	         PC_SOCKS_CMD_UDP_ASSOCIATE, PC_HOST_IPV6, "::", 0},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		expect_request(t[i].msg, t[i].len, t[i].cmd, t[i].kind, t[i].canon, t[i].port);
}

struct domain_case {
	const char *name;
	size_t len; /* 0: strlen(name) */
	enum pc_host_kind kind;
	const char *canon;
};

static size_t domain_len(const struct domain_case *c)
{
	return c->len ? c->len : strlen(c->name);
}

static const struct domain_case good_domains[] = {
        {"example.com", 0, PC_HOST_NAME, "example.com"},
        {"EXAMPLE.COM", 0, PC_HOST_NAME, "example.com"},
        {"Api.Example.Com", 0, PC_HOST_NAME, "api.example.com"},
        {"example.com.", 0, PC_HOST_NAME, "example.com"},
        {"localhost", 0, PC_HOST_NAME, "localhost"},
        {"a", 0, PC_HOST_NAME, "a"},
        {"b\xc3\xbc"
         "cher.example",
         0, PC_HOST_NAME, "xn--bcher-kva.example"},
        {"B\xc3\x9c"
         "CHER.example",
         0, PC_HOST_NAME, "xn--bcher-kva.example"},
        {"xn--bcher-kva.example", 0, PC_HOST_NAME, "xn--bcher-kva.example"},
        /* Names that are addresses are addresses, in every spelling resolvers accept. */
        {"127.1", 0, PC_HOST_IPV4, "127.0.0.1"},
        {"127.0.0.1", 0, PC_HOST_IPV4, "127.0.0.1"},
        {"0x7f.1", 0, PC_HOST_IPV4, "127.0.0.1"},
        {"0177.0.0.1", 0, PC_HOST_IPV4, "127.0.0.1"},
        {"2130706433", 0, PC_HOST_IPV4, "127.0.0.1"},
        {"127.0.0.010", 0, PC_HOST_IPV4, "127.0.0.8"},
        {"1.2.3.4.", 0, PC_HOST_IPV4, "1.2.3.4"},
        {"\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1", 0, PC_HOST_IPV4, "127.0.0.1"},
        {"::1", 0, PC_HOST_IPV6, "::1"},
        {"[::1]", 0, PC_HOST_IPV6, "::1"},
        {"2001:DB8:0:0::1", 0, PC_HOST_IPV6, "2001:db8::1"},
};

static void request_domains(void **state)
{
	uint8_t msg[PC_SOCKS_REQUEST_MAX];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good_domains); i++) {
		const struct domain_case *c = &good_domains[i];
		size_t len =
		        domain_request(msg, PC_SOCKS_CMD_CONNECT, c->name, domain_len(c), 8080);
		expect_request(msg, len, PC_SOCKS_CMD_CONNECT, c->kind, c->canon, 8080);
		len = domain_request(msg, PC_SOCKS_CMD_UDP_ASSOCIATE, c->name, domain_len(c), 0);
		expect_request(msg, len, PC_SOCKS_CMD_UDP_ASSOCIATE, c->kind, c->canon, 0);
	}
}

static const struct domain_case bad_domains[] = {
        {"", 0, 0, NULL},
        {"1.2.3.09", 0, 0, NULL},
        {"256.1.1.1", 0, 0, NULL},
        {"1.2.3.4.5", 0, 0, NULL},
        {"example.123", 0, 0, NULL},
        {"exa\0mple.com", 12, 0, NULL},
        {"example.com\0", 12, 0, NULL},
        {"\0example.com", 12, 0, NULL},
        {"example..com", 0, 0, NULL},
        {".", 0, 0, NULL},
        {"exa mple.com", 0, 0, NULL},
        {"example.com:443", 0, 0, NULL},
        {"[example.com]", 0, 0, NULL},
        {"example.com/", 0, 0, NULL},
        {"user@example.com", 0, 0, NULL},
        {"%65xample.com", 0, 0, NULL},
        {"*.example.com", 0, 0, NULL},
        {"xn--zz.example", 0, 0, NULL},
        {"\xff\xfe", 0, 0, NULL},
        {"b\xc3", 0, 0, NULL},
        {"fe80::1%25nosuchzone!", 0, 0, NULL},
};

/* The domain is handed to pc_host_normalize as the raw bytes with their length: a NUL ends
 * nothing, and whatever host normalisation refuses is refused here with 0x01 (SPEC §3). */
static void request_domain_refused_as_host_is(void **state)
{
	uint8_t msg[PC_SOCKS_REQUEST_MAX];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad_domains); i++) {
		const struct domain_case *c = &bad_domains[i];
		size_t len = domain_request(msg, PC_SOCKS_CMD_CONNECT, c->name, domain_len(c), 443);
		expect_refused(request, msg, len, PC_EPARSE, PC_SOCKS_REP_GENERAL_FAILURE);
	}
}

/* 1.2.3.09 is refused, never a name sent to DNS nor an address read loosely. */
static void request_numeric_last_label_refused(void **state)
{
	uint8_t msg[PC_SOCKS_REQUEST_MAX];
	size_t len = domain_request(msg, PC_SOCKS_CMD_CONNECT, "1.2.3.09", 8, 80);
	(void)state;
	expect_refused(request, msg, len, PC_EPARSE, PC_SOCKS_REP_GENERAL_FAILURE);
}

/* A NUL inside the name must not cut it short into "exa" for one reader and a longer name for
 * another. */
static void request_nul_in_domain_refused(void **state)
{
	uint8_t msg[PC_SOCKS_REQUEST_MAX];
	size_t len = domain_request(msg, PC_SOCKS_CMD_CONNECT, "allowed.com\0.evil", 17, 80);
	(void)state;
	expect_refused(request, msg, len, PC_EPARSE, PC_SOCKS_REP_GENERAL_FAILURE);
}

static void request_domain_length_limits(void **state)
{
	char name[256];
	uint8_t msg[PC_SOCKS_REQUEST_MAX];
	size_t len;
	(void)state;
	/* 253 bytes of labels (a.a.a...), then two trailing dots: 255 bytes on the wire. */
	for (size_t i = 0; i < 253; i++)
		name[i] = (i % 2) ? '.' : 'a';
	name[253] = '.';
	name[254] = '.';
	len = domain_request(msg, PC_SOCKS_CMD_CONNECT, name, 255, 443);
	assert_int_equal(len, PC_SOCKS_REQUEST_MAX);
	name[253] = '\0';
	expect_request(msg, len, PC_SOCKS_CMD_CONNECT, PC_HOST_NAME, name, 443);
	/* 255 bytes of name without a trailing dot: longer than a DNS name may be. */
	memset(name, 'a', 255);
	name[63] = name[127] = name[191] = '.';
	len = domain_request(msg, PC_SOCKS_CMD_CONNECT, name, 255, 443);
	expect_refused(request, msg, len, PC_EPARSE, PC_SOCKS_REP_GENERAL_FAILURE);
	/* Length 0 is refused as soon as the length byte arrives. */
	expect_refused(request, BYTES("\x05\x01\x00\x03\x00"), PC_EPARSE,
	               PC_SOCKS_REP_GENERAL_FAILURE);
	expect_refused(request, BYTES("\x05\x01\x00\x03\x00\x00\x50"), PC_EPARSE,
	               PC_SOCKS_REP_GENERAL_FAILURE);
}

static void request_bad(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
		uint8_t rep;
	} t[] = {
	        /* Version. */
	        {BYTES("\x04"), PC_SOCKS_REP_GENERAL_FAILURE},
	        {BYTES("\x00\x01\x00\x01\x7f\x00\x00\x01\x00\x50"), PC_SOCKS_REP_GENERAL_FAILURE},
	        {BYTES("\x06\x01\x00\x01\x7f\x00\x00\x01\x00\x50"), PC_SOCKS_REP_GENERAL_FAILURE},
	        /* Commands: BIND and unknown ones (SPEC §7). */
	        {BYTES("\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50"),
	         PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        {BYTES("\x05\x02"), PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        {BYTES("\x05\x00"), PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        {BYTES("\x05\x04\x00\x01\x7f\x00\x00\x01\x00\x50"),
	         PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        {BYTES("\x05\xf0"), PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        {BYTES("\x05\xff"), PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        /* Reserved byte. */
	        {BYTES("\x05\x01\x01\x01\x7f\x00\x00\x01\x00\x50"), PC_SOCKS_REP_GENERAL_FAILURE},
	        {BYTES("\x05\x01\x80"), PC_SOCKS_REP_GENERAL_FAILURE},
	        {BYTES("\x05\x03\xff"), PC_SOCKS_REP_GENERAL_FAILURE},
	        /* Address types. */
	        {BYTES("\x05\x01\x00\x05\x7f\x00\x00\x01\x00\x50"),
	         PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED},
	        {BYTES("\x05\x01\x00\x00"), PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED},
	        {BYTES("\x05\x01\x00\x02"), PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED},
	        {BYTES("\x05\x03\x00\xff"), PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED},
	        /* CONNECT to port 0. */
	        {BYTES("\x05\x01\x00\x01\x5d\xb8\xd8\x22\x00\x00"), PC_SOCKS_REP_GENERAL_FAILURE},
	        {BYTES("\x05\x01\x00\x03\x0b"
	               "example.com\x00\x00"),
	         PC_SOCKS_REP_GENERAL_FAILURE},
	        /* The first refusal in wire order decides. */
	        {BYTES("\x05\x02\x01\x05"), PC_SOCKS_REP_COMMAND_NOT_SUPPORTED},
	        {BYTES("\x05\x01\x01\x05"), PC_SOCKS_REP_GENERAL_FAILURE},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		expect_refused(request, t[i].msg, t[i].len, PC_EPARSE, t[i].rep);
}

static void request_atyp_5_is_address_type_not_supported(void **state)
{
	(void)state;
	expect_refused(request, BYTES("\x05\x01\x00\x05"), PC_EPARSE,
	               PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED);
}

static void request_bind_is_command_not_supported(void **state)
{
	uint8_t msg[PC_SOCKS_REQUEST_MAX];
	size_t len = domain_request(msg, PC_SOCKS_CMD_BIND, "example.com", 11, 443);
	(void)state;
	expect_refused(request, msg, len, PC_EPARSE, PC_SOCKS_REP_COMMAND_NOT_SUPPORTED);
}

static void null_arguments(void **state)
{
	struct pc_socks_greeting g;
	struct pc_socks_auth a;
	struct pc_socks_request r;
	struct pc_socks_udp u;
	uint8_t rep = 0;
	(void)state;
	assert_int_equal(pc_socks_greeting_parse(NULL, 1, &g), -EINVAL);
	assert_int_equal(pc_socks_greeting_parse(NULL, 0, &g), PC_AGAIN);
	assert_int_equal(pc_socks_greeting_parse((const uint8_t *)"\x05", 1, NULL), -EINVAL);
	assert_int_equal(pc_socks_auth_parse(NULL, 1, &a), -EINVAL);
	assert_int_equal(pc_socks_request_parse(NULL, 1, &r, &rep), -EINVAL);
	assert_int_equal(rep, PC_SOCKS_REP_GENERAL_FAILURE);
	assert_int_equal(pc_socks_request_parse((const uint8_t *)"\x05", 1, &r, NULL), PC_AGAIN);
	assert_int_equal(pc_socks_udp_parse(NULL, 10, &u), -EINVAL);
	assert_int_equal(pc_socks_reply_build(NULL, 22, 0, NULL), -EINVAL);
}

/* --- replies --------------------------------------------------------------------------------- */

static void reply_build(void **state)
{
	union pc_sockaddr a;
	uint8_t buf[PC_SOCKS_REPLY_MAX];
	(void)state;
	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_port = htons(1080);
	inet_pton(AF_INET, "127.0.0.1", &a.in.sin_addr);
	assert_int_equal(pc_socks_reply_build(buf, sizeof(buf), PC_SOCKS_REP_SUCCEEDED, &a), 10);
	assert_memory_equal(buf, "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38", 10);
	assert_int_equal(pc_socks_reply_build(buf, 10, PC_SOCKS_REP_SUCCEEDED, &a), 10);
	assert_int_equal(pc_socks_reply_build(buf, 9, PC_SOCKS_REP_SUCCEEDED, &a), -ENOSPC);

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::2", &a.in6.sin6_addr);
	assert_int_equal(pc_socks_reply_build(buf, sizeof(buf), PC_SOCKS_REP_SUCCEEDED, &a), 22);
	assert_memory_equal(buf,
	                    "\x05\x00\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	                    "\x00\x00\x02\x01\xbb",
	                    22);
	assert_int_equal(pc_socks_reply_build(buf, 21, PC_SOCKS_REP_SUCCEEDED, &a), -ENOSPC);

	/* No address (a refusal): 0.0.0.0 port 0. */
	assert_int_equal(pc_socks_reply_build(buf, sizeof(buf), PC_SOCKS_REP_NOT_ALLOWED, NULL),
	                 10);
	assert_memory_equal(buf, "\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	memset(&a, 0, sizeof(a));
	assert_int_equal(pc_socks_reply_build(buf, sizeof(buf), PC_SOCKS_REP_TTL_EXPIRED, &a), 10);
	assert_memory_equal(buf, "\x05\x06\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	a.sa.sa_family = AF_UNIX;
	assert_int_equal(pc_socks_reply_build(buf, sizeof(buf), PC_SOCKS_REP_GENERAL_FAILURE, &a),
	                 10);
	assert_memory_equal(buf, "\x05\x01\x00\x01\x00\x00\x00\x00\x00\x00", 10);
}

static void reply_names(void **state)
{
	static const struct {
		uint8_t rep;
		const char *name;
	} t[] = {
	        {PC_SOCKS_REP_SUCCEEDED, "succeeded"},
	        {PC_SOCKS_REP_GENERAL_FAILURE, "general SOCKS server failure"},
	        {PC_SOCKS_REP_NOT_ALLOWED, "connection not allowed by ruleset"},
	        {PC_SOCKS_REP_NETWORK_UNREACHABLE, "network unreachable"},
	        {PC_SOCKS_REP_HOST_UNREACHABLE, "host unreachable"},
	        {PC_SOCKS_REP_CONNECTION_REFUSED, "connection refused"},
	        {PC_SOCKS_REP_TTL_EXPIRED, "TTL expired"},
	        {PC_SOCKS_REP_COMMAND_NOT_SUPPORTED, "command not supported"},
	        {PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED, "address type not supported"},
	        {0x09, "unassigned"},
	        {0xff, "unassigned"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		assert_string_equal(pc_socks_reply_name(t[i].rep), t[i].name);
	/* The codes are RFC 1928's. */
	assert_int_equal(PC_SOCKS_REP_NOT_ALLOWED, 0x02);
	assert_int_equal(PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED, 0x08);
}

/* SPEC §7: refused 0x05, unreachable 0x04 (network unreachable: RFC 1928's 0x03), timeout
 * 0x06, DNS 0x04; anything else is a general failure. */
static void reply_for_dial_errors(void **state)
{
	static const struct {
		int err;
		uint8_t rep;
	} t[] = {
	        {-ECONNREFUSED, PC_SOCKS_REP_CONNECTION_REFUSED},
	        {-ETIMEDOUT, PC_SOCKS_REP_TTL_EXPIRED},
	        {-ENETUNREACH, PC_SOCKS_REP_HOST_UNREACHABLE},
	        {-EHOSTUNREACH, PC_SOCKS_REP_HOST_UNREACHABLE},
	        {PC_EDNS, PC_SOCKS_REP_HOST_UNREACHABLE},
	        {PC_EDNS_TIMEOUT, PC_SOCKS_REP_HOST_UNREACHABLE},
	        {-ECONNRESET, PC_SOCKS_REP_GENERAL_FAILURE},
	        {-EADDRNOTAVAIL, PC_SOCKS_REP_GENERAL_FAILURE},
	        {-EMFILE, PC_SOCKS_REP_GENERAL_FAILURE},
	        {PC_ECANCELED, PC_SOCKS_REP_GENERAL_FAILURE},
	        {PC_EPARSE, PC_SOCKS_REP_GENERAL_FAILURE},
	        {0, PC_SOCKS_REP_GENERAL_FAILURE},
	        {ECONNREFUSED, PC_SOCKS_REP_GENERAL_FAILURE},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++)
		assert_int_equal(pc_socks_reply_for_error(t[i].err), t[i].rep);
}

/* --- UDP ------------------------------------------------------------------------------------- */

static void set_sockaddr(union pc_sockaddr *a, const char *text, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (strchr(text, ':')) {
		a->in6.sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &a->in6.sin6_addr), 1);
	} else {
		a->in.sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &a->in.sin_addr), 1);
	}
	pc_addr_set_port(a, port);
}

static void expect_udp(const uint8_t *dgram, size_t len, int hlen, enum pc_host_kind kind,
                       const char *canon, uint16_t port, const void *data, size_t dlen)
{
	struct pc_socks_udp u;
	uint8_t *copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, dgram, len);
	assert_int_equal(pc_socks_udp_parse(copy, len, &u), hlen);
	assert_int_equal(u.frag, 0);
	assert_int_equal(u.host.kind, kind);
	assert_string_equal(u.host.name, canon);
	assert_int_equal(u.port, port);
	assert_ptr_equal(u.data.p, copy + hlen);
	assert_int_equal(u.data.len, dlen);
	if (dlen)
		assert_memory_equal(u.data.p, data, dlen);
	free(copy);
}

static void udp_round_trip(void **state)
{
	static const struct {
		const char *addr;
		uint16_t port;
		int hlen;
	} t[] = {
	        {"93.184.216.34", 53, 10},
	        {"127.0.0.1", 65535, 10},
	        {"2001:db8::53", 5353, 22},
	        {"::ffff:10.0.0.1", 1, 22},
	};
	uint8_t buf[256];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		union pc_sockaddr a;
		set_sockaddr(&a, t[i].addr, t[i].port);
		assert_int_equal(pc_socks_udp_header_len(&a), t[i].hlen);
		assert_int_equal(pc_socks_udp_build(buf, sizeof(buf), &a, "query", 5),
		                 t[i].hlen + 5);
		assert_memory_equal(buf, "\x00\x00\x00", 3);
		expect_udp(buf, (size_t)t[i].hlen + 5, t[i].hlen,
		           a.sa.sa_family == AF_INET ? PC_HOST_IPV4 : PC_HOST_IPV6, t[i].addr,
		           t[i].port, "query", 5);
		/* An empty payload is a datagram too. */
		assert_int_equal(pc_socks_udp_build(buf, sizeof(buf), &a, NULL, 0), t[i].hlen);
		expect_udp(buf, (size_t)t[i].hlen, t[i].hlen,
		           a.sa.sa_family == AF_INET ? PC_HOST_IPV4 : PC_HOST_IPV6, t[i].addr,
		           t[i].port, NULL, 0);
	}
}

static void udp_round_trip_domain(void **state)
{
	struct pc_host h;
	uint8_t buf[PC_SOCKS_UDP_HEADER_MAX + 8];
	char name[254];
	(void)state;
	assert_int_equal(pc_host_normalize("DNS.Example.com.", 16, 0, &h), 0);
	assert_int_equal(pc_socks_udp_build_host(buf, sizeof(buf), &h, 53, "\x12\x34", 2), 24);
	assert_memory_equal(buf,
	                    "\x00\x00\x00\x03\x0f"
	                    "dns.example.com\x00\x35\x12\x34",
	                    24);
	expect_udp(buf, 24, 22, PC_HOST_NAME, "dns.example.com", 53, "\x12\x34", 2);
	/* The longest name a host can hold. */
	for (size_t i = 0; i < 253; i++)
		name[i] = (i % 2) ? '.' : 'z';
	name[253] = '\0';
	assert_int_equal(pc_host_normalize(name, 253, 0, &h), 0);
	assert_int_equal(pc_socks_udp_build_host(buf, sizeof(buf), &h, 9, "x", 1),
	                 3 + 1 + 1 + 253 + 2 + 1);
	expect_udp(buf, 261, 260, PC_HOST_NAME, name, 9, "x", 1);
	/* An IP host is written as its address. */
	assert_int_equal(pc_host_normalize("127.1", 5, 0, &h), 0);
	assert_int_equal(pc_socks_udp_build_host(buf, sizeof(buf), &h, 7, "x", 1), 11);
	assert_memory_equal(buf, "\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x07x", 11);
	assert_int_equal(pc_host_normalize("::1", 3, 0, &h), 0);
	assert_int_equal(pc_socks_udp_build_host(buf, sizeof(buf), &h, 7, "x", 1), 23);
	expect_udp(buf, 23, 22, PC_HOST_IPV6, "::1", 7, "x", 1);
	/* A host of no kind is a caller's mistake. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(pc_socks_udp_build_host(buf, sizeof(buf), &h, 7, "x", 1), -EINVAL);
	assert_int_equal(pc_socks_udp_build_host(buf, sizeof(buf), NULL, 7, "x", 1), -EINVAL);
}

/* Domains in datagrams go through pc_host_normalize like those in requests. */
static void udp_domains(void **state)
{
	uint8_t buf[PC_SOCKS_UDP_HEADER_MAX + 8];
	struct pc_socks_udp u;
	size_t n;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(good_domains); i++) {
		const struct domain_case *c = &good_domains[i];
		n = domain_message(buf, "\0\0\0", c->name, domain_len(c), 53);
		memcpy(buf + n, "data", 4);
		expect_udp(buf, n + 4, (int)n, c->kind, c->canon, 53, "data", 4);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad_domains); i++) {
		const struct domain_case *c = &bad_domains[i];
		n = domain_message(buf, "\0\0\0", c->name, domain_len(c), 53);
		memcpy(buf + n, "data", 4);
		assert_int_equal(pc_socks_udp_parse(buf, n + 4, &u), PC_EPARSE);
	}
}

/* FRAG is reported, with the rest parsed, so the caller can drop and count it. */
static void udp_frag_reported(void **state)
{
	static const uint8_t d[] = "\x00\x00\x01\x01\x7f\x00\x00\x01\x00\x35payload";
	static const uint8_t last[] = "\x00\x00\x81\x01\x7f\x00\x00\x01\x00\x35payload";
	struct pc_socks_udp u;
	(void)state;
	assert_int_equal(pc_socks_udp_parse(d, sizeof(d) - 1, &u), 10);
	assert_int_equal(u.frag, 1);
	assert_int_equal(u.data.len, 7);
	assert_int_equal(pc_socks_udp_parse(last, sizeof(last) - 1, &u), 10);
	assert_int_equal(u.frag, 0x81);
}

static void udp_bad(void **state)
{
	static const struct {
		const uint8_t *d;
		size_t len;
	} t[] = {
	        /* RSV not zero: dropped. */
	        {BYTES("\x00\x01\x00\x01\x7f\x00\x00\x01\x00\x35x")},
	        {BYTES("\x01\x00\x00\x01\x7f\x00\x00\x01\x00\x35x")},
	        {BYTES("\xff\xff\x00\x01\x7f\x00\x00\x01\x00\x35x")},
	        /* Unknown address types. */
	        {BYTES("\x00\x00\x00\x05\x7f\x00\x00\x01\x00\x35x")},
	        {BYTES("\x00\x00\x00\x00\x7f\x00\x00\x01\x00\x35x")},
	        {BYTES("\x00\x00\x00\x02\x7f\x00\x00\x01\x00\x35x")},
	        /* Port 0. */
	        {BYTES("\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x00x")},
	        /* Domain length 0, or longer than the datagram. */
	        {BYTES("\x00\x00\x00\x03\x00\x00\x35x")},
	        {BYTES("\x00\x00\x00\x03\x0b"
	               "example.co\x00")},
	        /* Something else sent to the UDP port. */
	        {BYTES("GET / HTTP/1.1\r\n\r\n")},
	        {BYTES("")},
	};
	struct pc_socks_udp u;
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		uint8_t *copy = malloc(t[i].len + 1);
		assert_non_null(copy);
		memcpy(copy, t[i].d, t[i].len);
		if (pc_socks_udp_parse(copy, t[i].len, &u) != PC_EPARSE)
			fail_msg("datagram %zu accepted", i);
		free(copy);
	}
}

/* A datagram is whole: every truncation of a header is malformed, never "need more". */
static void udp_truncated_header_refused(void **state)
{
	uint8_t buf[PC_SOCKS_UDP_HEADER_MAX];
	union pc_sockaddr a;
	struct pc_host h;
	struct pc_socks_udp u;
	int n;
	(void)state;
	set_sockaddr(&a, "2001:db8::1", 53);
	n = pc_socks_udp_build(buf, sizeof(buf), &a, NULL, 0);
	assert_int_equal(n, 22);
	for (int k = 0; k < n; k++) {
		uint8_t *copy = malloc((size_t)k + 1);
		assert_non_null(copy);
		memcpy(copy, buf, (size_t)k);
		assert_int_equal(pc_socks_udp_parse(copy, (size_t)k, &u), PC_EPARSE);
		free(copy);
	}
	assert_int_equal(pc_host_normalize("example.com", 11, 0, &h), 0);
	n = pc_socks_udp_build_host(buf, sizeof(buf), &h, 53, NULL, 0);
	assert_int_equal(n, 18);
	for (int k = 0; k < n; k++)
		assert_int_equal(pc_socks_udp_parse(buf, (size_t)k, &u), PC_EPARSE);
	assert_int_equal(pc_socks_udp_parse(buf, (size_t)n, &u), n);
}

static void udp_build_bounds(void **state)
{
	union pc_sockaddr a;
	uint8_t small[16];
	uint8_t *big = malloc(PC_SOCKS_UDP_MAX + 64);
	(void)state;
	assert_non_null(big);
	set_sockaddr(&a, "10.0.0.1", 53);
	assert_int_equal(pc_socks_udp_build(small, 10, &a, NULL, 0), 10);
	assert_int_equal(pc_socks_udp_build(small, 9, &a, NULL, 0), -ENOSPC);
	assert_int_equal(pc_socks_udp_build(small, sizeof(small), &a, "1234567", 7), -ENOSPC);
	assert_int_equal(pc_socks_udp_build(small, sizeof(small), &a, "123456", 6), 16);
	/* The largest datagram fits; one byte more does not, however big the buffer. */
	memset(big, 'x', PC_SOCKS_UDP_MAX + 64);
	assert_int_equal(
	        pc_socks_udp_build(big, PC_SOCKS_UDP_MAX + 64, &a, big + 10, PC_SOCKS_UDP_MAX - 10),
	        PC_SOCKS_UDP_MAX);
	assert_int_equal(
	        pc_socks_udp_build(big, PC_SOCKS_UDP_MAX + 64, &a, big + 10, PC_SOCKS_UDP_MAX - 9),
	        -ENOSPC);
	assert_int_equal(pc_socks_udp_build(big, PC_SOCKS_UDP_MAX + 64, &a, big, SIZE_MAX),
	                 -ENOSPC);
	free(big);
	/* Families without an ATYP. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(pc_socks_udp_build(small, sizeof(small), &a, NULL, 0), -EAFNOSUPPORT);
	assert_int_equal(pc_socks_udp_build(small, sizeof(small), NULL, NULL, 0), -EAFNOSUPPORT);
	assert_int_equal(pc_socks_udp_header_len(&a), -EAFNOSUPPORT);
	set_sockaddr(&a, "10.0.0.1", 53);
	assert_int_equal(pc_socks_udp_build(small, sizeof(small), &a, NULL, 3), -EINVAL);
}

/* The payload may already sit in the buffer, where it was received: wrapped in place. */
static void udp_build_in_place(void **state)
{
	uint8_t buf[64];
	union pc_sockaddr a;
	int hlen;
	(void)state;
	set_sockaddr(&a, "2001:db8::9", 4242);
	hlen = pc_socks_udp_header_len(&a);
	memcpy(buf + hlen, "in place", 8);
	assert_int_equal(pc_socks_udp_build(buf, sizeof(buf), &a, buf + hlen, 8), hlen + 8);
	expect_udp(buf, (size_t)hlen + 8, hlen, PC_HOST_IPV6, "2001:db8::9", 4242, "in place", 8);
	/* Received at the start of the buffer: moved behind the header. */
	memcpy(buf, "at start", 8);
	assert_int_equal(pc_socks_udp_build(buf, sizeof(buf), &a, buf, 8), hlen + 8);
	expect_udp(buf, (size_t)hlen + 8, hlen, PC_HOST_IPV6, "2001:db8::9", 4242, "at start", 8);
	/* Received a few bytes in: overlapping both ways. */
	memcpy(buf + 5, "overlaps", 8);
	assert_int_equal(pc_socks_udp_build(buf, sizeof(buf), &a, buf + 5, 8), hlen + 8);
	expect_udp(buf, (size_t)hlen + 8, hlen, PC_HOST_IPV6, "2001:db8::9", 4242, "overlaps", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(greeting_good),
	        cmocka_unit_test(greeting_longest),
	        cmocka_unit_test(greeting_bad),
	        cmocka_unit_test(greeting_socks4_detected),
	        cmocka_unit_test(choose_method),
	        cmocka_unit_test(auth_good),
	        cmocka_unit_test(auth_longest),
	        cmocka_unit_test(auth_bad),
	        cmocka_unit_test(request_addresses),
	        cmocka_unit_test(request_domains),
	        cmocka_unit_test(request_domain_refused_as_host_is),
	        cmocka_unit_test(request_numeric_last_label_refused),
	        cmocka_unit_test(request_nul_in_domain_refused),
	        cmocka_unit_test(request_domain_length_limits),
	        cmocka_unit_test(request_bad),
	        cmocka_unit_test(request_atyp_5_is_address_type_not_supported),
	        cmocka_unit_test(request_bind_is_command_not_supported),
	        cmocka_unit_test(null_arguments),
	        cmocka_unit_test(reply_build),
	        cmocka_unit_test(reply_names),
	        cmocka_unit_test(reply_for_dial_errors),
	        cmocka_unit_test(udp_round_trip),
	        cmocka_unit_test(udp_round_trip_domain),
	        cmocka_unit_test(udp_domains),
	        cmocka_unit_test(udp_frag_reported),
	        cmocka_unit_test(udp_bad),
	        cmocka_unit_test(udp_truncated_header_refused),
	        cmocka_unit_test(udp_build_bounds),
	        cmocka_unit_test(udp_build_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
