/* libFuzzer harness for SOCKS5 UDP datagrams (src/socks/wire.h): pc_socks_udp_parse, then the
 * builders on what it parsed.
 *
 * Beyond "no crash": a parsed header describes the bytes it covers (RSV zero, FRAG, ATYP, the
 * address bytes for IPv4/IPv6, a non-zero port, the payload is exactly the rest), and the
 * reply datagram built for the parsed address and payload parses back to the same host, port
 * and payload with FRAG 0. For an address, the sockaddr builder and the host builder write the
 * same bytes, and wrapping the payload in place (received behind the header, or at the start
 * of the buffer) gives the same datagram as copying it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "socks/wire.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the reply header says is what was parsed; a zone id has no place in a header, so a
 * zoned IPv6 host comes back as its bare address. */
static void check_same_host(const struct pc_host *sent, const struct pc_host *back)
{
	CHECK(back->kind == sent->kind);
	CHECK(back->addr.sa.sa_family == sent->addr.sa.sa_family);
	if (sent->kind == PC_HOST_IPV4)
		CHECK(memcmp(&back->addr.in.sin_addr, &sent->addr.in.sin_addr, 4) == 0);
	if (sent->kind == PC_HOST_IPV6) {
		CHECK(memcmp(&back->addr.in6.sin6_addr, &sent->addr.in6.sin6_addr, 16) == 0);
		CHECK(back->zone[0] == '\0' && back->addr.in6.sin6_scope_id == 0);
		if (sent->zone[0] != '\0')
			return;
	}
	CHECK(back->len == sent->len && strcmp(back->name, sent->name) == 0);
}

static void check_header(const uint8_t *data, size_t size, int hlen, const struct pc_socks_udp *u)
{
	CHECK(hlen >= 8 && (size_t)hlen <= size && hlen <= PC_SOCKS_UDP_HEADER_MAX);
	CHECK(data[0] == 0 && data[1] == 0 && u->frag == data[2] && u->atyp == data[3]);
	CHECK(u->data.p == data + hlen && u->data.len == size - (size_t)hlen);
	CHECK(u->port != 0 && u->port == (uint16_t)(data[hlen - 2] << 8 | data[hlen - 1]));
	CHECK(u->host.len >= 1 && strlen(u->host.name) == u->host.len);
	switch (u->atyp) {
	case PC_SOCKS_ATYP_IPV4:
		CHECK(hlen == 10 && u->host.kind == PC_HOST_IPV4);
		CHECK(memcmp(&u->host.addr.in.sin_addr, data + 4, 4) == 0);
		break;
	case PC_SOCKS_ATYP_IPV6:
		CHECK(hlen == 22 && u->host.kind == PC_HOST_IPV6);
		CHECK(memcmp(&u->host.addr.in6.sin6_addr, data + 4, 16) == 0);
		break;
	case PC_SOCKS_ATYP_DOMAIN:
		CHECK(hlen == 7 + data[4]);
		break;
	default:
		CHECK(!"unknown address type accepted");
	}
}

/* Builds the reply datagram for u's address and payload into out; returns its length. For an
 * address, pc_socks_udp_build must write the same, copying the payload or wrapping it in
 * place. */
static int build_reply(const struct pc_socks_udp *u, uint8_t *out, size_t size)
{
	int n = pc_socks_udp_build_host(out, size, &u->host, u->port, u->data.p, u->data.len);
	union pc_sockaddr a = u->host.addr;
	uint8_t *again;
	int hlen, m;
	if (u->host.kind == PC_HOST_NAME)
		return n;
	again = malloc(size ? size : 1);
	CHECK(again);
	pc_addr_set_port(&a, u->port);
	hlen = pc_socks_udp_header_len(&a);
	CHECK(hlen == (u->host.kind == PC_HOST_IPV4 ? 10 : 22));
	m = pc_socks_udp_build(again, size, &a, u->data.p, u->data.len);
	CHECK(m == n && (m < 0 || memcmp(again, out, (size_t)m) == 0));
	if (m > 0) {
		/* Received behind the header. */
		memcpy(again + hlen, u->data.p, u->data.len);
		CHECK(pc_socks_udp_build(again, size, &a, again + hlen, u->data.len) == m);
		CHECK(memcmp(again, out, (size_t)m) == 0);
		/* Received at the start of the buffer, where the header goes. */
		memcpy(again, u->data.p, u->data.len);
		CHECK(pc_socks_udp_build(again, size, &a, again, u->data.len) == m);
		CHECK(memcmp(again, out, (size_t)m) == 0);
	}
	free(again);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pc_socks_udp u, back;
	uint8_t *out;
	size_t want;
	int hlen = pc_socks_udp_parse(data, size, &u), n;
	if (hlen < 0) {
		CHECK(hlen == PC_EPARSE);
		return 0;
	}
	check_header(data, size, hlen, &u);

	/* A name is written as its canonical text (which may be longer than what was sent, for
	 * an IDN), an address as its bytes (even when it was sent as a name). */
	want = u.data.len + (u.host.kind == PC_HOST_NAME   ? 7 + u.host.len
	                     : u.host.kind == PC_HOST_IPV4 ? 10
	                                                   : 22);
	out = malloc(want + 16);
	CHECK(out);
	n = build_reply(&u, out, want + 16);
	if (want > PC_SOCKS_UDP_MAX) {
		CHECK(n == -ENOSPC);
		free(out);
		return 0;
	}
	CHECK(n == (int)want);
	CHECK(pc_socks_udp_parse(out, (size_t)n, &back) == n - (int)u.data.len);
	CHECK(back.frag == 0 && back.port == u.port);
	check_same_host(&u.host, &back.host);
	CHECK(back.data.len == u.data.len &&
	      (u.data.len == 0 || memcmp(back.data.p, u.data.p, u.data.len) == 0));
	/* One byte short does not fit. */
	CHECK(build_reply(&u, out, (size_t)n - 1) == -ENOSPC);
	free(out);
	return 0;
}
