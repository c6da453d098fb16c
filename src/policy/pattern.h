/* Compiled host patterns (SPEC §3, "Patterns").
 *
 * A pattern set is built once from a list of pattern strings and is immutable afterwards, so
 * any number of requests may match against it while a reload builds the next one.
 *
 *   example.com          the name exactly
 *   *.example.com        names under example.com at any depth, not the apex
 *   **.example.com       example.com and every name under it
 *   *                    everything (not allowed in a denylist)
 *   region*.example.com  '*' (any run) and '?' (one byte) inside labels
 *   10.0.0.1  [::1]      an IP literal (any spelling the host normaliser accepts)
 *   10.1.0.0/16 fd00::/8 a CIDR block (host bits must be zero)
 *   PATTERN:443          any of the above restricted to one port ("[::1]:443",
 *                        "10.0.0.0/8:22", "*:443")
 *
 * Matching cost does not grow with the number of patterns: exact, suffix and IP patterns are
 * hash lookups (one per label of the host, one per distinct CIDR prefix length), and glob
 * patterns are bucketed by their literal suffix so only globs that share the host's suffix
 * are tried. */
#ifndef PC_POLICY_PATTERN_H
#define PC_POLICY_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/host.h"

enum pc_match {
	PC_MATCH_NONE = 0,
	PC_MATCH_WILDCARD = 1, /* a suffix, glob, CIDR or '*' pattern matched */
	PC_MATCH_EXACT = 2,    /* an exact name or IP literal pattern names the host */
};

enum {
	/* '*' alone is refused (a denylist). */
	PC_PATTERN_NO_GLOBAL = 1u << 0,
	/* An IPv6 target that embeds an IPv4 address (mapped, compatible, NAT64, 6to4) also
	 * matches the IPv4 patterns for that address (a denylist: fail closed). */
	PC_PATTERN_EMBEDDED_V4 = 1u << 1,
};

struct pc_pattern_set;

struct pc_pattern_error {
	size_t index;  /* which pattern of the input */
	char msg[200]; /* "invalid pattern 'x': why", no position */
};

/* Compiles n patterns. On success returns 0 and *out (free with pc_pattern_set_free). On an
 * invalid pattern returns PC_EPATTERN with err->index naming it; -ENOMEM when out of memory. */
int pc_pattern_set_build(const char *const *patterns, size_t n, unsigned flags,
                         struct pc_pattern_set **out, struct pc_pattern_error *err);

void pc_pattern_set_free(struct pc_pattern_set *set);

/* The hashes of a name's suffixes (one per label boundary), computed once per request and used
 * with every pattern set it is matched against. */
#define PC_HOST_LABELS_MAX 128
struct pc_host_key {
	const struct pc_host *host;
	unsigned n; /* suffixes, shortest first; the last one is the whole name */
	struct {
		uint32_t off; /* where the suffix starts in host->name */
		uint64_t hash;
	} suffix[PC_HOST_LABELS_MAX];
};

/* Prepares k for host (which must outlive k). */
void pc_host_key_init(struct pc_host_key *k, const struct pc_host *host);

/* How the best pattern matches host on port (a normalised host; port 1..65535). */
enum pc_match pc_pattern_set_match(const struct pc_pattern_set *set, const struct pc_host *host,
                                   uint16_t port);
/* The same with the suffix hashes already computed. */
enum pc_match pc_pattern_set_match_key(const struct pc_pattern_set *set,
                                       const struct pc_host_key *k, uint16_t port);

/* How the IP patterns (literals, CIDR blocks and '*') match an address, e.g. one a name
 * resolved to. */
enum pc_match pc_pattern_set_match_addr(const struct pc_pattern_set *set, const struct sockaddr *sa,
                                        uint16_t port);

/* Number of patterns compiled. */
size_t pc_pattern_set_size(const struct pc_pattern_set *set);

#endif
