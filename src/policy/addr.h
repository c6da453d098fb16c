/* IP addresses as the policy checks them and the dialer connects to them.
 *
 * The same union pc_sockaddr value travels from the place text became an address (host.c, or
 * the resolver) through the policy check to connect(): nothing re-parses or re-resolves it. */
#ifndef PC_POLICY_ADDR_H
#define PC_POLICY_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PC_ADDRS_MAX 16
/* Enough for "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%" + an interface name + NUL. */
#define PC_ADDR_STRLEN 64

union pc_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* The addresses a decision checked, in the order the dialer should try them. */
struct pc_addr_list {
	unsigned n;
	union pc_sockaddr addrs[PC_ADDRS_MAX];
};

/* True when a is globally routable: false for every range SPEC §3 lists as non-public
 * (loopback, private, CGNAT, link-local, documentation, benchmarking, multicast, reserved,
 * broadcast, ::, ::1, fc00::/7, fe80::/10, ff00::/8). IPv4-mapped (::ffff:0:0/96),
 * IPv4-compatible (::/96, which holds :: and ::1), IPv4-translated (::ffff:0:0:0/96), NAT64
 * (64:ff9b::/96 and the local-use 64:ff9b:1::/96) and 6to4 (2002::/16, IPv4 in bits 16..47)
 * addresses are judged by the IPv4 address they embed. The rest of 64:ff9b::/32 (reserved, or
 * local-use NAT64 prefixes of other lengths, whose IPv4 bits cannot be located) is not
 * public: fail closed. */
bool pc_addr4_is_public(const uint8_t a[4]);
bool pc_addr6_is_public(const uint8_t a[16]);
/* The same for a sockaddr (AF_INET or AF_INET6; any other family is not public). */
bool pc_addr_is_public(const struct sockaddr *sa);
/* If a (IPv6) embeds an IPv4 address by one of the forms above (mapped, compatible, NAT64,
 * 6to4), stores it in v4 and returns true. */
bool pc_addr6_embedded_v4(const uint8_t a[16], uint8_t v4[4]);
/* True for 127/8, ::1, and IPv4-mapped/compatible loopback. */
bool pc_addr_is_loopback(const struct sockaddr *sa);

/* Formats the address (without port) into buf: dotted quad, or RFC 5952 IPv6 text with a
 * "%N" suffix (N the numeric scope_id) when scope_id is set. Returns the length (without the
 * NUL), -ENOSPC if it does not fit, -EAFNOSUPPORT for another family, -EINVAL for NULL. */
int pc_addr_format(const struct sockaddr *sa, char *buf, size_t size);

/* The port (host byte order) of an AF_INET/AF_INET6 address; 0 for another family. */
uint16_t pc_addr_port(const union pc_sockaddr *a);
/* Sets the port (host byte order) of an AF_INET/AF_INET6 address; other families: no-op. */
void pc_addr_set_port(union pc_sockaddr *a, uint16_t port);
/* Size to pass to connect()/bind() for a (0 for a family other than AF_INET/AF_INET6). */
socklen_t pc_addr_len(const union pc_sockaddr *a);

#endif
