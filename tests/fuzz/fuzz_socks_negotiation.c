/* libFuzzer harness for the SOCKS5 negotiation parsers (src/socks/wire.h): the greeting, the
 * username/password request and the request, all fed the same input.
 *
 * Beyond "no crash", for each parser: the answer is one the contract allows (with the reply
 * codes the request parser may give), a success consumes exactly one message within the size
 * bound and describes the bytes it consumed, and every split gives the answer of one piece:
 * each prefix, parsed from its own exactly-sized heap copy (so ASan sees any read beyond it),
 * answers PC_AGAIN or the whole input's answer, and once it has answered it never changes its
 * mind. A request's host is canonical: re-encoded as a request it parses to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "socks/wire.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum parser { GREETING, AUTH, REQUEST, PARSERS };

static const size_t max_len[PARSERS] = {PC_SOCKS_GREETING_MAX, PC_SOCKS_AUTH_MAX,
                                        PC_SOCKS_REQUEST_MAX};

/* One answer, with what it describes made independent of where the bytes were. */
struct result {
	int rc;
	uint8_t rep;
	unsigned methods;
	size_t user_off, user_len, pass_off, pass_len;
	struct pc_socks_request req;
};

static void parse(enum parser which, const uint8_t *buf, size_t len, struct result *r)
{
	struct pc_socks_greeting g;
	struct pc_socks_auth a;
	memset(r, 0, sizeof(*r));
	switch (which) {
	case GREETING:
		r->rc = pc_socks_greeting_parse(buf, len, &g);
		r->methods = g.methods;
		break;
	case AUTH:
		r->rc = pc_socks_auth_parse(buf, len, &a);
		if (r->rc > 0) {
			CHECK(a.user.p >= buf && a.user.p + a.user.len <= buf + r->rc);
			CHECK(a.pass.p >= buf && a.pass.p + a.pass.len <= buf + r->rc);
			r->user_off = (size_t)(a.user.p - buf);
			r->user_len = a.user.len;
			r->pass_off = (size_t)(a.pass.p - buf);
			r->pass_len = a.pass.len;
		}
		break;
	default:
		r->rc = pc_socks_request_parse(buf, len, &r->req, &r->rep);
		break;
	}
}

static void parse_copy(enum parser which, const uint8_t *data, size_t len, struct result *r)
{
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy);
	if (len)
		memcpy(copy, data, len);
	parse(which, copy, len, r);
	free(copy);
}

static bool same_host(const struct pc_host *a, const struct pc_host *b)
{
	return a->kind == b->kind && a->len == b->len && strcmp(a->name, b->name) == 0 &&
	       memcmp(&a->addr, &b->addr, sizeof(a->addr)) == 0 && strcmp(a->zone, b->zone) == 0;
}

static bool same_result(const struct result *a, const struct result *b)
{
	if (a->rc != b->rc || a->rep != b->rep || a->methods != b->methods ||
	    a->user_off != b->user_off || a->user_len != b->user_len ||
	    a->pass_off != b->pass_off || a->pass_len != b->pass_len)
		return false;
	if (a->rc <= 0)
		return true;
	return a->req.cmd == b->req.cmd && a->req.atyp == b->req.atyp &&
	       a->req.port == b->req.port && same_host(&a->req.host, &b->req.host);
}

/* The request encoding of a parsed request: its host as a name or an address. */
static size_t encode_request(const struct pc_socks_request *q, uint8_t *buf)
{
	size_t n = 4;
	buf[0] = PC_SOCKS_VERSION;
	buf[1] = (uint8_t)q->cmd;
	buf[2] = 0;
	switch (q->host.kind) {
	case PC_HOST_IPV4:
		buf[3] = PC_SOCKS_ATYP_IPV4;
		memcpy(buf + n, &q->host.addr.in.sin_addr, 4);
		n += 4;
		break;
	case PC_HOST_IPV6:
		if (q->host.zone[0] == '\0') {
			buf[3] = PC_SOCKS_ATYP_IPV6;
			memcpy(buf + n, &q->host.addr.in6.sin6_addr, 16);
			n += 16;
			break;
		}
		/* A zone exists only in text: "fe80::1%eth0" in host syntax is "fe80::1%25eth0". */
		buf[3] = PC_SOCKS_ATYP_DOMAIN;
		buf[n] = (uint8_t)snprintf((char *)buf + n + 1, PC_SOCKS_REQUEST_MAX - n - 3,
		                           "%.*s%%25%s", (int)strcspn(q->host.name, "%"),
		                           q->host.name, q->host.zone);
		n += 1 + buf[n];
		break;
	default:
		buf[3] = PC_SOCKS_ATYP_DOMAIN;
		buf[n++] = (uint8_t)q->host.len;
		memcpy(buf + n, q->host.name, q->host.len);
		n += q->host.len;
		break;
	}
	buf[n++] = (uint8_t)(q->port >> 8);
	buf[n++] = (uint8_t)q->port;
	return n;
}

static void check_request(const uint8_t *data, const struct result *r)
{
	const struct pc_socks_request *q = &r->req;
	uint8_t again[PC_SOCKS_REQUEST_MAX];
	struct result r2;
	size_t n;
	CHECK(r->rep == PC_SOCKS_REP_SUCCEEDED);
	CHECK(data[0] == 5 && data[2] == 0 && q->atyp == data[3]);
	CHECK(q->cmd == PC_SOCKS_CMD_CONNECT || q->cmd == PC_SOCKS_CMD_UDP_ASSOCIATE);
	CHECK(q->port != 0 || q->cmd == PC_SOCKS_CMD_UDP_ASSOCIATE);
	CHECK(q->host.len >= 1 && q->host.len <= PC_HOST_NAME_MAX);
	CHECK(strlen(q->host.name) == q->host.len);
	switch (q->atyp) {
	case PC_SOCKS_ATYP_IPV4:
		CHECK(r->rc == 10 && q->host.kind == PC_HOST_IPV4);
		CHECK(memcmp(&q->host.addr.in.sin_addr, data + 4, 4) == 0);
		break;
	case PC_SOCKS_ATYP_IPV6:
		CHECK(r->rc == 22 && q->host.kind == PC_HOST_IPV6);
		CHECK(memcmp(&q->host.addr.in6.sin6_addr, data + 4, 16) == 0);
		break;
	case PC_SOCKS_ATYP_DOMAIN:
		CHECK(r->rc == 7 + data[4]);
		break;
	default:
		CHECK(!"unknown address type accepted");
	}
	CHECK(q->port == (uint16_t)(data[r->rc - 2] << 8 | data[r->rc - 1]));
	/* Canonical: the host re-encoded parses to the same host. */
	n = encode_request(q, again);
	parse_copy(REQUEST, again, n, &r2);
	CHECK(r2.rc == (int)n);
	CHECK(same_host(&r2.req.host, &q->host));
	CHECK(r2.req.port == q->port && r2.req.cmd == q->cmd);
}

static void check_answer(enum parser which, const uint8_t *data, size_t size,
                         const struct result *r)
{
	if (r->rc > 0) {
		CHECK((size_t)r->rc <= size && (size_t)r->rc <= max_len[which]);
		if (which == GREETING) {
			CHECK(data[0] == 5 && data[1] >= 1 && r->rc == 2 + data[1]);
			CHECK((r->methods & PC_SOCKS_METHODS_NO_AUTH) ==
			      (memchr(data + 2, 0x00, data[1]) ? PC_SOCKS_METHODS_NO_AUTH : 0u));
			CHECK((r->methods & PC_SOCKS_METHODS_USERPASS) ==
			      (memchr(data + 2, 0x02, data[1]) ? PC_SOCKS_METHODS_USERPASS : 0u));
		} else if (which == AUTH) {
			CHECK(data[0] == 1 && r->user_off == 2 && r->user_len == data[1]);
			CHECK(r->user_len >= 1 && r->pass_off == 3 + r->user_len);
			CHECK(r->rc == (int)(3 + r->user_len + r->pass_len));
		} else {
			check_request(data, r);
		}
		return;
	}
	CHECK(r->rc == PC_AGAIN || r->rc == PC_EPARSE ||
	      (which == GREETING && r->rc == PC_EUNSUPPORTED && data[0] == 4));
	/* A message is complete within its bound: more input never leaves it waiting. */
	CHECK(r->rc != PC_AGAIN || size < max_len[which]);
	if (which == REQUEST) {
		if (r->rc == PC_AGAIN)
			CHECK(r->rep == PC_SOCKS_REP_SUCCEEDED);
		else
			CHECK(r->rep == PC_SOCKS_REP_GENERAL_FAILURE ||
			      r->rep == PC_SOCKS_REP_COMMAND_NOT_SUPPORTED ||
			      r->rep == PC_SOCKS_REP_ADDRESS_TYPE_NOT_SUPPORTED);
	}
}

/* Every prefix answers PC_AGAIN or the whole input's answer, and keeps it once given. */
static void check_splits(enum parser which, const uint8_t *data, size_t size,
                         const struct result *whole)
{
	size_t last = size < max_len[which] + 2 ? size : max_len[which] + 2;
	bool answered = false;
	for (size_t k = 0; k <= last; k++) {
		struct result r;
		parse_copy(which, data, k, &r);
		if (r.rc == PC_AGAIN) {
			CHECK(!answered);
			continue;
		}
		answered = true;
		CHECK(same_result(&r, whole));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int which = 0; which < PARSERS; which++) {
		struct result whole;
		parse_copy(which, data, size, &whole);
		check_answer(which, data, size, &whole);
		check_splits(which, data, size, &whole);
	}
	return 0;
}
