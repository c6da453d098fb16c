/* libFuzzer harness for pc_host_normalize (both flag values) and pc_authority_parse.
 *
 * Beyond "no crash", every accepted host is checked for the invariants the policy relies on:
 * the canonical text normalises to itself (idempotence, so patterns and requests meet), it
 * respects the length limits and the character set of its kind, the kind agrees with the
 * address family, and the resolver reading agrees: inet_aton never reads a name we accept as
 * an address, and reads an IPv4 spelling we accept as the same address; conversely every
 * plain address text inet_pton or inet_aton accepts, we accept as the same address. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "policy/host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static bool name_byte_ok(unsigned char c, unsigned flags)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
		return true;
	return (flags & PC_HOST_GLOB) && (c == '*' || c == '?');
}

static void check_name(const struct pc_host *h, unsigned flags)
{
	size_t label = 0;
	struct in_addr a;
	CHECK(h->addr.sa.sa_family == AF_UNSPEC);
	CHECK(h->zone[0] == '\0');
	CHECK(h->len <= PC_HOST_NAME_MAX);
	for (size_t i = 0; i <= h->len; i++) {
		if (i == h->len || h->name[i] == '.') {
			CHECK(i > label && i - label <= 63);
			label = i + 1;
			continue;
		}
		CHECK(name_byte_ok((unsigned char)h->name[i], flags));
	}
	/* A resolver must never read one of our names as an address. */
	CHECK(inet_aton(h->name, &a) == 0);
}

static void check_ipv4(const struct pc_host *h)
{
	char text[INET_ADDRSTRLEN];
	CHECK(h->addr.sa.sa_family == AF_INET);
	CHECK(h->addr.in.sin_port == 0);
	CHECK(h->zone[0] == '\0');
	CHECK(inet_ntop(AF_INET, &h->addr.in.sin_addr, text, sizeof(text)));
	CHECK(strcmp(text, h->name) == 0);
}

static void check_ipv6(const struct pc_host *h)
{
	char text[PC_HOST_NAME_MAX + 1];
	const uint8_t *a = h->addr.in6.sin6_addr.s6_addr;
	CHECK(h->addr.sa.sa_family == AF_INET6);
	CHECK(h->addr.in6.sin6_port == 0);
	CHECK(inet_ntop(AF_INET6, a, text, sizeof(text)));
	if (h->zone[0] != '\0') {
		size_t n = strlen(text);
		CHECK(a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
		CHECK(strlen(h->zone) <= 15);
		snprintf(text + n, sizeof(text) - n, "%%%s", h->zone);
	} else {
		CHECK(h->addr.in6.sin6_scope_id == 0);
	}
	CHECK(strcmp(text, h->name) == 0);
}

/* The canonical text in host syntax: a zone is written "%25". */
static void host_syntax(const struct pc_host *h, char *buf, size_t size)
{
	const char *pct = strchr(h->name, '%');
	if (pct)
		snprintf(buf, size, "%.*s%%25%s", (int)(pct - h->name), h->name, pct + 1);
	else
		snprintf(buf, size, "%s", h->name);
}

static void check_host(const struct pc_host *h, unsigned flags)
{
	char text[PC_HOST_NAME_MAX + 8];
	struct pc_host again;
	CHECK(h->len >= 1 && h->len <= PC_HOST_NAME_MAX);
	CHECK(strlen(h->name) == h->len);
	switch (h->kind) {
	case PC_HOST_NAME:
		check_name(h, flags);
		break;
	case PC_HOST_IPV4:
		check_ipv4(h);
		break;
	case PC_HOST_IPV6:
		check_ipv6(h);
		break;
	default:
		CHECK(!"unknown kind");
	}
	/* Idempotence, including the address bytes. */
	host_syntax(h, text, sizeof(text));
	CHECK(pc_host_normalize(text, strlen(text), flags, &again) == 0);
	CHECK(again.kind == h->kind);
	CHECK(strcmp(again.name, h->name) == 0);
	CHECK(memcmp(&again.addr, &h->addr, sizeof(h->addr)) == 0);
	CHECK(strcmp(again.zone, h->zone) == 0);
}

/* For a plain ASCII input we read as IPv4, inet_aton must read the same address (it may
 * refuse a bare "0x" part, which we read as 0). */
static void check_resolver_reading(const uint8_t *data, size_t size, const struct pc_host *h)
{
	char text[PC_HOST_INPUT_MAX + 1];
	struct in_addr a;
	size_t start = 0, end = size;
	if (h->kind != PC_HOST_IPV4)
		return;
	while (start < end && strchr(" \t\r\n\v\f", data[start]) && data[start] != '\0')
		start++;
	while (end > start && strchr(" \t\r\n\v\f.", data[end - 1]) && data[end - 1] != '\0')
		end--;
	for (size_t i = start; i < end; i++)
		if (data[i] >= 0x80 || data[i] == '\0')
			return;
	memcpy(text, data + start, end - start);
	text[end - start] = '\0';
	if (inet_aton(text, &a) == 1)
		CHECK(memcmp(&a, &h->addr.in.sin_addr, 4) == 0);
}

static bool all_in(const uint8_t *data, size_t size, const char *set)
{
	for (size_t i = 0; i < size; i++)
		if (data[i] == '\0' || !strchr(set, data[i]))
			return false;
	return true;
}

/* Completeness: plain address text the C library reads as an address must be read by us as
 * the same address (IPv6: any inet_pton text; IPv4: any inet_aton text within the label
 * limits, which we apply to every host). */
static void check_library_readings(const uint8_t *data, size_t size)
{
	char text[64];
	struct pc_host h;
	if (size == 0 || size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (all_in(data, size, "0123456789abcdefABCDEF:.")) {
		uint8_t a6[16];
		if (inet_pton(AF_INET6, text, a6) == 1) {
			CHECK(pc_host_normalize(text, size, 0, &h) == 0);
			CHECK(h.kind == PC_HOST_IPV6);
			CHECK(memcmp(&h.addr.in6.sin6_addr, a6, 16) == 0);
		}
	}
	if (all_in(data, size, "0123456789abcdefABCDEFxX.")) {
		struct in_addr a4;
		if (inet_aton(text, &a4) == 1) {
			CHECK(pc_host_normalize(text, size, 0, &h) == 0);
			CHECK(h.kind == PC_HOST_IPV4);
			CHECK(memcmp(&h.addr.in.sin_addr, &a4, 4) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned flag_values[] = {0, PC_HOST_GLOB};
	struct pc_host h;
	uint16_t port;
	for (size_t i = 0; i < 2; i++) {
		int rc = pc_host_normalize((const char *)data, size, flag_values[i], &h);
		CHECK(rc == 0 || rc == PC_EHOST);
		if (rc == 0) {
			check_host(&h, flag_values[i]);
			check_resolver_reading(data, size, &h);
		} else {
			CHECK(h.kind == 0 && h.len == 0 && h.name[0] == '\0');
		}
	}
	check_library_readings(data, size);
	if (pc_authority_parse((const char *)data, size, &h, &port) == 0) {
		char text[PC_HOST_NAME_MAX + 16], host[PC_HOST_NAME_MAX + 8];
		struct pc_host again;
		uint16_t port2;
		check_host(&h, 0);
		/* The authority rebuilt from the result parses to the same host and port. */
		host_syntax(&h, host, sizeof(host));
		if (h.kind == PC_HOST_IPV6)
			snprintf(text, sizeof(text), "[%s]", host);
		else
			snprintf(text, sizeof(text), "%s", host);
		if (port != 0) {
			size_t n = strlen(text);
			snprintf(text + n, sizeof(text) - n, ":%u", port);
		}
		CHECK(pc_authority_parse(text, strlen(text), &again, &port2) == 0);
		CHECK(port2 == port);
		CHECK(strcmp(again.name, h.name) == 0);
		CHECK(memcmp(&again.addr, &h.addr, sizeof(h.addr)) == 0);
	} else {
		CHECK(port == 0 && h.kind == 0);
	}
	return 0;
}
