/* Host normalisation: the one place where host text from a client, a pattern or a rule becomes
 * a canonical host (SPEC §3, "Hosts").
 *
 * A host is either a DNS name (lowercase A-labels, no trailing dot), an IPv4 address (dotted
 * quad, from any spelling resolvers accept: 127.1, 0x7f.1, 0177.0.0.1, 2130706433) or an IPv6
 * address (inet_ntop text: RFC 5952, except that glibc writes ::/96 with a dotted tail, as in
 * "::0.1.0.128"; "%zone" appended when a zone id was given). Anything that cannot be
 * normalised is refused with PC_EHOST; nothing is ever matched loosely. These functions never
 * block. An all-ASCII name without "xn--" labels, and every IP literal, is handled without
 * allocating or calling libidn2; Unicode names and A-labels go through libidn2, whose
 * temporary allocations are freed before returning. A zoned literal may look up its interface
 * (if_nametoindex). Design notes: docs/hosts.md. */
#ifndef PC_POLICY_HOST_H
#define PC_POLICY_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/addr.h"

#define PC_HOST_NAME_MAX 253
/* Longest host text accepted as input, before normalisation (IDNA input can be longer than its
 * output; anything beyond this is refused, not truncated). */
#define PC_HOST_INPUT_MAX 1024

enum pc_host_kind {
	PC_HOST_NAME = 1,
	PC_HOST_IPV4 = 2,
	PC_HOST_IPV6 = 3,
};

struct pc_host {
	enum pc_host_kind kind;
	size_t len;                      /* strlen(name) */
	char name[PC_HOST_NAME_MAX + 1]; /* canonical text, NUL-terminated */
	union pc_sockaddr addr;          /* for IPV4/IPV6: the address, port 0 */
	char zone[16];                   /* IPV6 only: zone id text ("" when none); a numeric
	                                  * zone is in canonical decimal */
};

/* Flags for pc_host_normalize. */
enum {
	/* '*' and '?' are accepted as characters of a DNS label (patterns only). A host that
	 * contains one is always a PC_HOST_NAME; a label holding a glob must be ASCII. */
	PC_HOST_GLOB = 1u << 0,
};

/* Normalises one host (no port) of len bytes, which need not be NUL-terminated: trims ASCII
 * whitespace, strips one pair of surrounding brackets (required for nothing, accepted for an
 * IPv6 literal only), lowercases, strips trailing dots, decodes a "%25" zone id of an IPv6
 * literal, turns Unicode labels into A-labels (IDNA 2008 with UTS #46 mapping, via libidn2),
 * and applies the numeric-last-label rule: if the last label is a number (decimal, 0x-hex or
 * 0-octal) the whole host must be an IPv4 address in a spelling resolvers accept, else it is
 * refused (1.2.3.09, 256.1.1.1, 1.2.3.4.5). Names must be at most 253 bytes with labels of
 * 1..63 bytes of letters, digits, '-' and '_'. Input longer than PC_HOST_INPUT_MAX, any byte
 * that is not allowed (including NUL, '%' outside a zone id, whitespace inside), empty labels
 * and invalid A-labels are refused. With PC_HOST_GLOB, a host whose labels are all digits or
 * globs ("10.*") is refused (address ranges are CIDR), as is one whose last label is numeric;
 * name patterns are meant to be matched against PC_HOST_NAME hosts only.
 * A zone id is only accepted as "%25" + 1..15 unreserved bytes on a link-local (fe80::/10)
 * address; it is decoded, so the canonical text "fe80::1%eth0" is not itself URL syntax
 * (write "[fe80::1%25eth0]" to re-parse it). addr.in6.sin6_scope_id is the interface index
 * (0 when no such interface exists here).
 * Returns 0, or PC_EHOST with *out emptied (kind 0, name "", no address). */
int pc_host_normalize(const char *in, size_t len, unsigned flags, struct pc_host *out);

/* Parses an authority "host", "host:port", "[v6]" or "[v6]:port" (as in a URL, a Host header
 * or a CONNECT target): the host is normalised as by pc_host_normalize(flags 0); an IPv6
 * literal with a port must be bracketed (an unbracketed host with two or more ':' is accepted
 * only if all of it is an IPv6 literal). Surrounding ASCII whitespace is trimmed; whitespace
 * inside and userinfo ('@') are refused; len is limited to PC_HOST_INPUT_MAX. *port is set to
 * the port (1..65535) or 0 when none was given; the port is decimal digits only, leading zeros
 * accepted (as curl and browsers do); an empty, zero, signed or out-of-range port is refused.
 * Returns 0, or PC_EHOST with *host emptied as by pc_host_normalize and *port 0. */
int pc_authority_parse(const char *in, size_t len, struct pc_host *host, uint16_t *port);

/* True for "localhost" and any name under ".localhost" (a PC_HOST_NAME; also a glob pattern
 * such as "*.localhost"): loopback by definition, never resolved through DNS. */
bool pc_host_is_localhost(const struct pc_host *h);

#endif
