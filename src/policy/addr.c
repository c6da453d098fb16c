/* Address classification (SPEC §3 "Non-public"); see docs/hosts.md for the choices made where
 * the spec leaves room (IPv4-translated, NAT64 outside the well-known /96). */
#include "policy/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

struct range4 {
	uint32_t net;
	unsigned bits;
};

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))

/* SPEC §3, in its order. */
static const struct range4 non_public4[] = {
        {V4(0, 0, 0, 0), 8},     {V4(10, 0, 0, 0), 8},      {V4(100, 64, 0, 0), 10},
        {V4(127, 0, 0, 0), 8},   {V4(169, 254, 0, 0), 16},  {V4(172, 16, 0, 0), 12},
        {V4(192, 0, 0, 0), 24},  {V4(192, 0, 2, 0), 24},    {V4(192, 168, 0, 0), 16},
        {V4(198, 18, 0, 0), 15}, {V4(198, 51, 100, 0), 24}, {V4(203, 0, 113, 0), 24},
        {V4(224, 0, 0, 0), 4},   {V4(240, 0, 0, 0), 4},     {V4(255, 255, 255, 255), 32},
};

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

bool pc_addr4_is_public(const uint8_t a[4])
{
	uint32_t v = V4(a[0], a[1], a[2], (uint32_t)a[3]);
	for (size_t i = 0; i < sizeof(non_public4) / sizeof(non_public4[0]); i++) {
		uint32_t mask = UINT32_MAX << (32 - non_public4[i].bits);
		if ((v & mask) == non_public4[i].net)
			return false;
	}
	return true;
}

/* Returns the IPv4 address embedded in a, or NULL when a embeds none. *opaque is set when a
 * lies in a translation prefix whose IPv4 position cannot be known (judged non-public). */
static const uint8_t *embedded_ipv4(const uint8_t a[16], bool *opaque)
{
	static const uint8_t nat64[4] = {0x00, 0x64, 0xff, 0x9b};
	*opaque = false;
	/* ::/96, IPv4-compatible (also holds :: and ::1, which embed 0/8). */
	if (all_zero(a, 12))
		return a + 12;
	/* ::ffff:0:0/96, IPv4-mapped. */
	if (all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
		return a + 12;
	/* ::ffff:0:0:0/96, IPv4-translated (RFC 2765). */
	if (all_zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
		return a + 12;
	/* 2002::/16, 6to4: the IPv4 address is bits 16..47. */
	if (a[0] == 0x20 && a[1] == 0x02)
		return a + 2;
	if (memcmp(a, nat64, 4) == 0) {
		/* 64:ff9b::/96 (RFC 6052) and, in the same /96 layout, the local-use
		 * 64:ff9b:1::/96 (RFC 8215). Anything else under 64:ff9b::/32 is either reserved
		 * or a local-use NAT64 prefix of another length, whose IPv4 bits sit elsewhere:
		 * fail closed. */
		bool wkp = a[4] == 0 && a[5] == 0;
		bool local_use = a[4] == 0 && a[5] == 1;
		if ((wkp || local_use) && all_zero(a + 6, 6))
			return a + 12;
		*opaque = true;
	}
	return NULL;
}

bool pc_addr6_is_public(const uint8_t a[16])
{
	bool opaque;
	const uint8_t *v4 = embedded_ipv4(a, &opaque);
	if (v4)
		return pc_addr4_is_public(v4);
	if (opaque)
		return false;
	if ((a[0] & 0xfe) == 0xfc) /* fc00::/7, unique local */
		return false;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10, link-local */
		return false;
	if (a[0] == 0xff) /* ff00::/8, multicast */
		return false;
	return true;
}

bool pc_addr_is_public(const struct sockaddr *sa)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return pc_addr4_is_public(
		        (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return pc_addr6_is_public(
		        ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
	return false;
}

bool pc_addr_is_loopback(const struct sockaddr *sa)
{
	const uint8_t *a;
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return ((const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)
		                ->sin_addr)[0] == 127;
	if (sa->sa_family != AF_INET6)
		return false;
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (all_zero(a, 15) && a[15] == 1)
		return true;
	/* IPv4-compatible or IPv4-mapped 127/8. */
	return all_zero(a, 10) &&
	       ((a[10] == 0 && a[11] == 0) || (a[10] == 0xff && a[11] == 0xff)) && a[12] == 127;
}

int pc_addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char text[PC_ADDR_STRLEN];
	size_t len;
	if (!sa || !buf)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		if (!inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		               text, sizeof(text)))
			return -errno;
		len = strlen(text);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (!inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text)))
			return -errno;
		len = strlen(text);
		if (sin6->sin6_scope_id != 0)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%%%u",
			                        (unsigned)sin6->sin6_scope_id);
	} else {
		return -EAFNOSUPPORT;
	}
	if (len + 1 > size)
		return -ENOSPC;
	memcpy(buf, text, len + 1);
	return (int)len;
}

uint16_t pc_addr_port(const union pc_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return ntohs(a->in.sin_port);
	if (a->sa.sa_family == AF_INET6)
		return ntohs(a->in6.sin6_port);
	return 0;
}

void pc_addr_set_port(union pc_sockaddr *a, uint16_t port)
{
	if (!a)
		return;
	if (a->sa.sa_family == AF_INET)
		a->in.sin_port = htons(port);
	else if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
}

socklen_t pc_addr_len(const union pc_sockaddr *a)
{
	if (a && a->sa.sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (a && a->sa.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

bool pc_addr6_embedded_v4(const uint8_t a[16], uint8_t v4[4])
{
	bool opaque;
	const uint8_t *p = embedded_ipv4(a, &opaque);

	if (p == NULL)
		return false;
	memcpy(v4, p, 4);
	return true;
}
