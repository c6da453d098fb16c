#include "policy/pattern.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* How a pattern relates to the key it is filed under. */
enum role {
	ROLE_EXACT, /* the name or address itself */
	ROLE_SUB,   /* names strictly under the key ("*.key") */
	ROLE_APEX,  /* the key and names under it ("**.key") */
	ROLE_CIDR,  /* addresses inside the block the key describes */
	ROLE_COUNT,
};

/* The ports a role applies to. Empty (not any, n == 0) means the role is absent. Ports are
 * appended while building and sorted once, so lookups are a binary search. */
struct portset {
	bool any;
	uint32_t n, cap;
	uint16_t *ports;
};

enum prefix {
	PREFIX_NONE,
	PREFIX_SUB,
	PREFIX_APEX,
};

/* A pattern with '*' or '?' inside a label, filed under its literal suffix: the labels right
 * of the last label holding a glob ("region*.example.com" is filed under "example.com"). */
struct glob {
	uint32_t next; /* index + 1 of the next glob in the same bucket, 0 at the end */
	uint8_t nlabels;
	uint8_t prefix; /* enum prefix */
	uint16_t len;
	char *labels; /* the globbed labels, "region*" */
	struct portset ports;
};

struct entry {
	uint64_t hash; /* 0: the slot is empty */
	char *key;
	uint32_t key_len;
	uint32_t glob_head; /* index + 1 of the first glob filed under key, 0 for none */
	struct portset roles[ROLE_COUNT];
};

struct table {
	struct entry *slots;
	size_t cap; /* a power of two */
	size_t used;
};

/* The compiled form that lookups use: open addressing over 8-byte slots (a 32-bit tag of the
 * hash and the entry's arena offset), entries packed in one arena with their key right behind
 * their header. A lookup touches one slot line and, only when the tag matches, usually one
 * entry line; the build-time tables above are freed once this is made. */
struct fslot {
	uint32_t tag;
	uint32_t off; /* arena offset + 1; 0: the slot is empty */
};

struct fentry {
	uint16_t key_len;
	uint8_t any;                /* bit r: role r applies on every port */
	uint8_t listed;             /* bit r: role r applies on the ports listed at ports[r] */
	uint32_t glob_head;         /* index + 1 of the first glob filed under key, 0 for none */
	uint32_t ports[ROLE_COUNT]; /* offset in ftable.ports of a count and sorted ports */
	char key[];
};

struct ftable {
	struct fslot *slots;
	uint32_t mask;
	char *arena;
	uint16_t *ports;
};

/* IP literals and CIDR blocks, compiled: the key (family, prefix length, masked address as two
 * words) sits in the slot itself with the port flags, so a lookup usually touches one line. */
struct aslot {
	uint64_t hi, lo; /* the masked address: IPv6 bytes 0-7 and 8-15; IPv4 in lo */
	uint8_t used;
	uint8_t family; /* 4 or 6 */
	uint8_t plen;
	uint8_t any;       /* bit 0: the literal on every port; bit 1: the block on every port */
	uint8_t listed;    /* the same, for the ports listed at ports[0] / ports[1] */
	uint32_t ports[2]; /* offsets in atable.ports of a count and sorted ports */
};

struct atable {
	struct aslot *slots;
	uint32_t mask;
	uint16_t *ports;
};

struct pc_pattern_set {
	size_t n_patterns;
	unsigned flags;
	struct table names; /* while building; key: name text */
	struct table addrs; /* while building; key: family, prefix length, masked address */
	struct ftable fnames;
	struct atable faddrs;
	uint64_t v4_lens;    /* bit L: some IPv4 key has prefix length L (0..32) */
	uint64_t v6_lens[3]; /* bit L: some IPv6 key has prefix length L (0..128) */
	struct portset any;  /* "*" */
	uint32_t root_globs; /* globs with no literal suffix ("api-*"), index + 1 */
	struct glob *globs;
	size_t n_globs, cap_globs;
};

/* ---- hashing ---- */

#define FNV_INIT  0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t fnv_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * FNV_PRIME;
}

/* Name keys are hashed from their last byte to their first, so one right-to-left pass over a
 * host yields the hash of every one of its suffixes. */
static uint64_t hash_name(const char *s, size_t len)
{
	uint64_t h = FNV_INIT;
	while (len > 0)
		h = fnv_step(h, (unsigned char)s[--len]);
	return h;
}

static uint64_t hash_bytes(const unsigned char *s, size_t len)
{
	uint64_t h = FNV_INIT;
	for (size_t i = 0; i < len; i++)
		h = fnv_step(h, s[i]);
	return h;
}

/* FNV's low bits are weak; the table index comes from a mixed hash. 0 marks an empty slot. */
static inline uint64_t finish_hash(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h == 0 ? 1 : h;
}

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* An address as two words, masked to plen bits. */
static inline void addr_words(int family, const uint8_t *addr, unsigned plen, uint64_t *hi,
                              uint64_t *lo)
{
	if (family == 4) {
		uint64_t v = (uint64_t)addr[0] << 24 | (uint64_t)addr[1] << 16 |
		             (uint64_t)addr[2] << 8 | addr[3];
		*hi = 0;
		*lo = plen == 0 ? 0 : v & (0xffffffffULL << (32 - plen)) & 0xffffffffULL;
		return;
	}
	*hi = load_be64(addr);
	*lo = load_be64(addr + 8);
	if (plen <= 64) {
		*hi = plen == 0 ? 0 : *hi & (~0ULL << (64 - plen));
		*lo = 0;
	} else if (plen < 128) {
		*lo &= ~0ULL << (128 - plen);
	}
}

static inline uint64_t addr_hash(int family, unsigned plen, uint64_t hi, uint64_t lo)
{
	uint64_t h = hi * 0x9e3779b97f4a7c15ULL;
	h ^= (lo + ((uint64_t)plen << 8 | (uint64_t)family)) * 0xc2b2ae3d27d4eb4fULL;
	return finish_hash(h);
}

/* ---- tables ---- */

static int table_grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	struct entry *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct entry *e = &t->slots[i];
		size_t j;
		if (e->hash == 0)
			continue;
		for (j = e->hash & (cap - 1); slots[j].hash != 0; j = (j + 1) & (cap - 1))
			;
		slots[j] = *e;
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* Finds or adds the entry for key. The pointer is valid until the next insertion. */
static int table_upsert(struct table *t, uint64_t hash, const void *key, size_t len,
                        struct entry **out)
{
	size_t mask, i;

	/* Load factor at most 1/2 keeps probe sequences short. */
	if ((t->used + 1) * 2 > t->cap && table_grow(t) < 0)
		return -ENOMEM;
	mask = t->cap - 1;
	for (i = hash & mask;; i = (i + 1) & mask) {
		struct entry *e = &t->slots[i];
		if (e->hash == 0)
			break;
		if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0) {
			*out = e;
			return 0;
		}
	}
	t->slots[i].key = malloc(len ? len : 1);
	if (t->slots[i].key == NULL)
		return -ENOMEM;
	memcpy(t->slots[i].key, key, len);
	t->slots[i].key_len = (uint32_t)len;
	t->slots[i].hash = hash;
	t->used++;
	*out = &t->slots[i];
	return 0;
}

static void portset_free(struct portset *ps)
{
	free(ps->ports);
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct entry *e = &t->slots[i];
		if (e->hash == 0)
			continue;
		free(e->key);
		for (int r = 0; r < ROLE_COUNT; r++)
			portset_free(&e->roles[r]);
	}
	free(t->slots);
}

/* ---- port sets ---- */

static int portset_add(struct portset *ps, uint16_t port)
{
	if (port == 0) {
		ps->any = true;
		return 0;
	}
	if (ps->n == ps->cap) {
		uint32_t cap = ps->cap ? ps->cap * 2 : 2;
		uint16_t *p = realloc(ps->ports, cap * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		ps->ports = p;
		ps->cap = cap;
	}
	ps->ports[ps->n++] = port;
	return 0;
}

static int cmp_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void portset_finish(struct portset *ps)
{
	uint32_t out = 0;

	if (ps->any || ps->n == 0) {
		ps->n = 0;
		return;
	}
	qsort(ps->ports, ps->n, sizeof(*ps->ports), cmp_port);
	for (uint32_t i = 0; i < ps->n; i++)
		if (out == 0 || ps->ports[out - 1] != ps->ports[i])
			ps->ports[out++] = ps->ports[i];
	ps->n = out;
}

static inline bool portset_has(const struct portset *ps, uint16_t port)
{
	uint32_t lo = 0, hi;

	if (ps->any)
		return true;
	hi = ps->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (ps->ports[mid] == port)
			return true;
		if (ps->ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- parsing one pattern ---- */

struct parsed {
	enum {
		P_ANY,
		P_NAME, /* prefix + base name, possibly globbed */
		P_ADDR, /* literal or CIDR */
	} kind;
	enum prefix prefix;
	bool cidr;
	uint8_t prefix_len;
	uint16_t port;
	struct pc_host host;
};

static int fail(struct pc_pattern_error *err, const char *text, size_t len, const char *why)
{
	snprintf(err->msg, sizeof(err->msg), "invalid pattern '%.*s': %s",
	         (int)(len > 120 ? 120 : len), text, why);
	return PC_EPATTERN;
}

/* A decimal number of 1..maxdigits digits, no sign, at most max. */
static bool parse_decimal(const char *s, size_t len, size_t maxdigits, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > maxdigits)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned v;

	if (!parse_decimal(s, len, 5, 65535, &v) || v == 0)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool host_bits_zero(const struct pc_host *h, unsigned len)
{
	const uint8_t *b = h->kind == PC_HOST_IPV4 ? (const uint8_t *)&h->addr.in.sin_addr
	                                           : h->addr.in6.sin6_addr.s6_addr;
	unsigned bits = h->kind == PC_HOST_IPV4 ? 32 : 128;

	for (unsigned i = len; i < bits; i++)
		if (b[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

static int parse_cidr(const char *t, size_t len, const char *slash, struct parsed *p,
                      struct pc_pattern_error *err)
{
	const char *rest = slash + 1;
	size_t rest_len = len - (size_t)(rest - t);
	const char *colon = memchr(rest, ':', rest_len);
	size_t len_digits = colon ? (size_t)(colon - rest) : rest_len;
	unsigned plen;

	if (pc_host_normalize(t, (size_t)(slash - t), 0, &p->host) < 0 ||
	    p->host.kind == PC_HOST_NAME)
		return fail(err, t, len,
		            "only CIDR blocks (an IP address, '/', a prefix length) contain '/'");
	if (p->host.zone[0] != '\0')
		return fail(err, t, len, "a CIDR block cannot carry a zone id");
	if (!parse_decimal(rest, len_digits, 3, p->host.kind == PC_HOST_IPV4 ? 32 : 128, &plen))
		return fail(err, t, len, "the prefix length must be 0-32 (IPv4) or 0-128 (IPv6)");
	if (colon != NULL && !parse_port(colon + 1, rest_len - len_digits - 1, &p->port))
		return fail(err, t, len, "the port must be 1-65535");
	if (!host_bits_zero(&p->host, plen))
		return fail(err, t, len, "the address has bits set beyond the prefix length");
	p->kind = P_ADDR;
	p->cidr = true;
	p->prefix_len = (uint8_t)plen;
	return 0;
}

static int parse_pattern(const char *text, size_t len, unsigned flags, struct parsed *p,
                         struct pc_pattern_error *err)
{
	const char *t = text, *host, *slash, *colon;
	size_t host_len;

	memset(p, 0, sizeof(*p));
	while (len > 0 && (t[0] == ' ' || t[0] == '\t')) {
		t++;
		len--;
	}
	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
		len--;
	if (len == 0)
		return fail(err, text, 0, "empty");

	if (t[0] == '*' && (len == 1 || t[1] == ':')) {
		if (len > 1 && !parse_port(t + 2, len - 2, &p->port))
			return fail(err, t, len, "the port must be 1-65535");
		if ((flags & PC_PATTERN_NO_GLOBAL) && p->port == 0)
			return fail(err, t, len, "'*' would deny everything");
		p->kind = P_ANY;
		return 0;
	}
	if (memmem(t, len, "://", 3) != NULL)
		return fail(err, t, len, "a pattern is a host, not a URL: drop the scheme");
	slash = memchr(t, '/', len);
	if (slash != NULL)
		return parse_cidr(t, len, slash, p, err);

	/* Split off the port: "[v6]:port", "host:port"; a bare IPv6 literal has no port. */
	host = t;
	host_len = len;
	if (t[0] == '[') {
		const char *close = memchr(t, ']', len);
		if (close == NULL)
			return fail(err, t, len, "unbalanced '['");
		host_len = (size_t)(close - t) + 1;
		if (host_len < len) {
			if (close[1] != ':' || !parse_port(close + 2, len - host_len - 1, &p->port))
				return fail(err, t, len, "expected ':PORT' after ']'");
		}
	} else if ((colon = memchr(t, ':', len)) != NULL &&
	           memchr(colon + 1, ':', len - (size_t)(colon - t) - 1) == NULL) {
		host_len = (size_t)(colon - t);
		if (!parse_port(colon + 1, len - host_len - 1, &p->port))
			return fail(err, t, len, "the port must be 1-65535");
	}

	if (host_len > 3 && memcmp(host, "**.", 3) == 0) {
		p->prefix = PREFIX_APEX;
		host += 3;
		host_len -= 3;
	} else if (host_len > 2 && memcmp(host, "*.", 2) == 0) {
		p->prefix = PREFIX_SUB;
		host += 2;
		host_len -= 2;
	}
	if (pc_host_normalize(host, host_len, PC_HOST_GLOB, &p->host) < 0)
		return fail(err, t, len,
		            "not a host name, IP address or CIDR block (globs are '*.', '**.', "
		            "and '*' or '?' inside a label)");
	if (p->host.kind != PC_HOST_NAME) {
		if (p->prefix != PREFIX_NONE)
			return fail(err, t, len,
			            "wildcards apply to names; use a CIDR block for addresses");
		p->kind = P_ADDR;
		return 0;
	}
	if (memmem(p->host.name, p->host.len, "**", 2) != NULL)
		return fail(err, t, len, "'**' is only allowed as the first label ('**.')");
	p->kind = P_NAME;
	return 0;
}

/* ---- building ---- */

static size_t addr_key(int family, unsigned prefix_len, const uint8_t *addr, unsigned char key[18])
{
	size_t n = family == 4 ? 4 : 16;

	if (prefix_len > n * 8)
		prefix_len = (unsigned)n * 8;
	key[0] = (unsigned char)family;
	key[1] = (unsigned char)prefix_len;
	memset(key + 2, 0, 16);
	for (unsigned i = 0; i < prefix_len; i += 8) {
		unsigned bits = prefix_len - i >= 8 ? 8 : prefix_len - i;
		key[2 + i / 8] = (unsigned char)(addr[i / 8] & (0xffu << (8 - bits)));
	}
	return 2 + n;
}

static int add_addr(struct pc_pattern_set *set, const struct parsed *p)
{
	unsigned char key[18];
	int family = p->host.kind == PC_HOST_IPV4 ? 4 : 6;
	unsigned plen = p->cidr ? p->prefix_len : (family == 4 ? 32 : 128);
	const uint8_t *addr = family == 4 ? (const uint8_t *)&p->host.addr.in.sin_addr
	                                  : p->host.addr.in6.sin6_addr.s6_addr;
	size_t klen = addr_key(family, plen, addr, key);
	struct entry *e;
	int rc = table_upsert(&set->addrs, finish_hash(hash_bytes(key, klen)), key, klen, &e);

	if (rc < 0)
		return rc;
	if (family == 4)
		set->v4_lens |= 1ULL << plen;
	else
		set->v6_lens[plen / 64] |= 1ULL << (plen % 64);
	return portset_add(&e->roles[p->cidr ? ROLE_CIDR : ROLE_EXACT], p->port);
}

static bool has_glob(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '*' || s[i] == '?')
			return true;
	return false;
}

static int add_glob(struct pc_pattern_set *set, const struct parsed *p)
{
	const char *name = p->host.name;
	size_t len = p->host.len, split = 0, nlabels = 1;
	struct glob *g;
	uint32_t *head;
	int rc;

	/* The literal suffix starts after the last label holding a glob. */
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '*' || name[i] == '?') {
			const char *dot = memchr(name + i, '.', len - i);
			split = dot ? (size_t)(dot - name) : len;
		}
	}
	for (size_t i = 0; i < split; i++)
		nlabels += name[i] == '.';
	if (nlabels > 127)
		return PC_EPATTERN;

	if (set->n_globs == set->cap_globs) {
		size_t cap = set->cap_globs ? set->cap_globs * 2 : 16;
		struct glob *globs = realloc(set->globs, cap * sizeof(*globs));
		if (globs == NULL)
			return -ENOMEM;
		set->globs = globs;
		set->cap_globs = cap;
	}
	if (split < len) {
		struct entry *e;
		const char *suffix = name + split + 1;
		size_t slen = len - split - 1;
		rc = table_upsert(&set->names, finish_hash(hash_name(suffix, slen)), suffix, slen,
		                  &e);
		if (rc < 0)
			return rc;
		head = &e->glob_head;
	} else {
		head = &set->root_globs;
	}
	g = &set->globs[set->n_globs];
	memset(g, 0, sizeof(*g));
	g->labels = strndup(name, split);
	if (g->labels == NULL)
		return -ENOMEM;
	g->len = (uint16_t)split;
	g->nlabels = (uint8_t)nlabels;
	g->prefix = (uint8_t)p->prefix;
	rc = portset_add(&g->ports, p->port);
	if (rc < 0) {
		free(g->labels);
		return rc;
	}
	g->next = *head;
	set->n_globs++;
	*head = (uint32_t)set->n_globs;
	return 0;
}

static int add_name(struct pc_pattern_set *set, const struct parsed *p)
{
	static const enum role roles[] = {ROLE_EXACT, ROLE_SUB, ROLE_APEX};
	struct entry *e;
	int rc;

	if (has_glob(p->host.name, p->host.len))
		return add_glob(set, p);
	rc = table_upsert(&set->names, finish_hash(hash_name(p->host.name, p->host.len)),
	                  p->host.name, p->host.len, &e);
	if (rc < 0)
		return rc;
	return portset_add(&e->roles[roles[p->prefix]], p->port);
}

static void table_finish(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		for (int r = 0; r < ROLE_COUNT; r++)
			portset_finish(&t->slots[i].roles[r]);
}

static size_t fentry_size(size_t key_len)
{
	return (sizeof(struct fentry) + key_len + 3) & ~(size_t)3;
}

/* Builds the compiled table from a finished build-time table. */
static int freeze(const struct table *t, struct ftable *f)
{
	size_t n = 0, arena_len = 0, nports = 1, cap = 2, off = 0, poff = 1;

	for (size_t i = 0; i < t->cap; i++) {
		const struct entry *e = &t->slots[i];
		if (e->hash == 0)
			continue;
		n++;
		arena_len += fentry_size(e->key_len);
		for (int r = 0; r < ROLE_COUNT; r++)
			if (!e->roles[r].any && e->roles[r].n > 0)
				nports += 1 + e->roles[r].n;
	}
	while (cap < 2 * n)
		cap *= 2;
	if (cap > UINT32_MAX || arena_len >= UINT32_MAX || nports >= UINT32_MAX)
		return -ENOMEM;
	f->slots = calloc(cap, sizeof(*f->slots));
	f->arena = malloc(arena_len ? arena_len : 1);
	f->ports = malloc(nports * sizeof(*f->ports));
	if (f->slots == NULL || f->arena == NULL || f->ports == NULL)
		return -ENOMEM;
	f->mask = (uint32_t)(cap - 1);
	f->ports[0] = 0;
	for (size_t i = 0; i < t->cap; i++) {
		const struct entry *e = &t->slots[i];
		struct fentry *fe;
		uint32_t j;

		if (e->hash == 0)
			continue;
		fe = (struct fentry *)(f->arena + off);
		memset(fe, 0, sizeof(*fe));
		fe->key_len = (uint16_t)e->key_len;
		fe->glob_head = e->glob_head;
		memcpy(fe->key, e->key, e->key_len);
		for (int r = 0; r < ROLE_COUNT; r++) {
			const struct portset *ps = &e->roles[r];
			if (ps->any) {
				fe->any |= (uint8_t)(1u << r);
			} else if (ps->n > 0) {
				fe->listed |= (uint8_t)(1u << r);
				fe->ports[r] = (uint32_t)poff;
				f->ports[poff++] = (uint16_t)ps->n;
				memcpy(f->ports + poff, ps->ports, ps->n * sizeof(*ps->ports));
				poff += ps->n;
			}
		}
		for (j = (uint32_t)e->hash & f->mask; f->slots[j].off != 0; j = (j + 1) & f->mask)
			;
		f->slots[j].tag = (uint32_t)(e->hash >> 32);
		f->slots[j].off = (uint32_t)off + 1;
		off += fentry_size(e->key_len);
	}
	return 0;
}

/* Builds the compiled address table from a finished build-time table keyed by addr_key. */
static int freeze_addrs(const struct table *t, struct atable *a)
{
	size_t n = 0, nports = 1, cap = 2, poff = 1;

	for (size_t i = 0; i < t->cap; i++) {
		const struct entry *e = &t->slots[i];
		if (e->hash == 0)
			continue;
		n++;
		for (int r = 0; r < ROLE_COUNT; r++)
			if (!e->roles[r].any && e->roles[r].n > 0)
				nports += 1 + e->roles[r].n;
	}
	while (cap < 2 * n)
		cap *= 2;
	if (cap > UINT32_MAX || nports >= UINT32_MAX)
		return -ENOMEM;
	a->slots = calloc(cap, sizeof(*a->slots));
	a->ports = malloc(nports * sizeof(*a->ports));
	if (a->slots == NULL || a->ports == NULL)
		return -ENOMEM;
	a->mask = (uint32_t)(cap - 1);
	a->ports[0] = 0;
	for (size_t i = 0; i < t->cap; i++) {
		const struct entry *e = &t->slots[i];
		const unsigned char *k = (const unsigned char *)e->key;
		static const enum role roles[2] = {ROLE_EXACT, ROLE_CIDR};
		struct aslot *sl;
		uint64_t hi, lo;
		uint32_t j;

		if (e->hash == 0)
			continue;
		addr_words(k[0], k + 2, k[1], &hi, &lo);
		for (j = (uint32_t)addr_hash(k[0], k[1], hi, lo) & a->mask; a->slots[j].used;
		     j = (j + 1) & a->mask)
			;
		sl = &a->slots[j];
		sl->used = 1;
		sl->family = k[0];
		sl->plen = k[1];
		sl->hi = hi;
		sl->lo = lo;
		for (int r = 0; r < 2; r++) {
			const struct portset *ps = &e->roles[roles[r]];
			if (ps->any) {
				sl->any |= (uint8_t)(1u << r);
			} else if (ps->n > 0) {
				sl->listed |= (uint8_t)(1u << r);
				sl->ports[r] = (uint32_t)poff;
				a->ports[poff++] = (uint16_t)ps->n;
				memcpy(a->ports + poff, ps->ports, ps->n * sizeof(*ps->ports));
				poff += ps->n;
			}
		}
	}
	return 0;
}

static void atable_free(struct atable *a)
{
	free(a->slots);
	free(a->ports);
}

static void ftable_free(struct ftable *f)
{
	free(f->slots);
	free(f->arena);
	free(f->ports);
}

void pc_pattern_set_free(struct pc_pattern_set *set)
{
	if (set == NULL)
		return;
	table_free(&set->names);
	table_free(&set->addrs);
	ftable_free(&set->fnames);
	atable_free(&set->faddrs);
	portset_free(&set->any);
	for (size_t i = 0; i < set->n_globs; i++) {
		free(set->globs[i].labels);
		portset_free(&set->globs[i].ports);
	}
	free(set->globs);
	free(set);
}

int pc_pattern_set_build(const char *const *patterns, size_t n, unsigned flags,
                         struct pc_pattern_set **out, struct pc_pattern_error *err)
{
	struct pc_pattern_set *set = calloc(1, sizeof(*set));
	int rc = 0;

	*out = NULL;
	if (set == NULL)
		return -ENOMEM;
	set->flags = flags;
	for (size_t i = 0; i < n; i++) {
		struct parsed p;

		err->index = i;
		rc = parse_pattern(patterns[i], strlen(patterns[i]), flags, &p, err);
		if (rc < 0)
			goto fail;
		switch (p.kind) {
		case P_ANY:
			rc = portset_add(&set->any, p.port);
			break;
		case P_ADDR:
			rc = add_addr(set, &p);
			break;
		case P_NAME:
			rc = add_name(set, &p);
			if (rc == PC_EPATTERN)
				fail(err, patterns[i], strlen(patterns[i]), "too many labels");
			break;
		}
		if (rc < 0)
			goto fail;
	}
	table_finish(&set->names);
	table_finish(&set->addrs);
	portset_finish(&set->any);
	for (size_t i = 0; i < set->n_globs; i++)
		portset_finish(&set->globs[i].ports);
	rc = freeze(&set->names, &set->fnames);
	if (rc == 0)
		rc = freeze_addrs(&set->addrs, &set->faddrs);
	if (rc < 0)
		goto fail;
	table_free(&set->names);
	table_free(&set->addrs);
	memset(&set->names, 0, sizeof(set->names));
	memset(&set->addrs, 0, sizeof(set->addrs));
	set->n_patterns = n;
	*out = set;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	pc_pattern_set_free(set);
	return rc;
}

size_t pc_pattern_set_size(const struct pc_pattern_set *set)
{
	return set->n_patterns;
}

/* ---- matching ---- */

static inline const struct fentry *ftable_find(const struct ftable *f, uint64_t hash,
                                               const void *key, size_t len)
{
	uint32_t tag = (uint32_t)(hash >> 32);

	for (uint32_t i = (uint32_t)hash & f->mask;; i = (i + 1) & f->mask) {
		const struct fslot *s = &f->slots[i];
		const struct fentry *e;

		if (s->off == 0)
			return NULL;
		if (s->tag != tag)
			continue;
		e = (const struct fentry *)(f->arena + s->off - 1);
		if (e->key_len == len && memcmp(e->key, key, len) == 0)
			return e;
	}
}

static inline bool ports_has(const uint16_t *list, uint16_t port)
{
	uint32_t lo = 0, hi = list[0];

	list++;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (list[mid] == port)
			return true;
		if (list[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static inline bool fentry_has(const struct ftable *f, const struct fentry *e, enum role r,
                              uint16_t port)
{
	if (e->any & (1u << r))
		return true;
	return (e->listed & (1u << r)) && ports_has(f->ports + e->ports[r], port);
}

/* '*' matches any run of bytes and '?' exactly one, within one label (labels hold no dots). */
static bool label_match(const char *pat, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && (pat[pi] == '?' || pat[pi] == s[si])) {
			pi++;
			si++;
		} else if (pi < pn && pat[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pn && pat[pi] == '*')
		pi++;
	return pi == pn;
}

/* Does glob g match the host part h (the labels left of g's literal suffix)? */
static bool glob_match(const struct glob *g, const char *h, size_t hlen, uint16_t port)
{
	size_t pend = g->len, hend = hlen;

	for (unsigned i = 0; i < g->nlabels; i++) {
		size_t pstart = pend, hstart = hend;

		if (hend == SIZE_MAX)
			return false; /* the host has fewer labels */
		while (pstart > 0 && g->labels[pstart - 1] != '.')
			pstart--;
		while (hstart > 0 && h[hstart - 1] != '.')
			hstart--;
		if (!label_match(g->labels + pstart, pend - pstart, h + hstart, hend - hstart))
			return false;
		pend = pstart ? pstart - 1 : 0;
		hend = hstart ? hstart - 1 : SIZE_MAX;
	}
	/* hend == SIZE_MAX: every host label was consumed; otherwise labels remain on the left. */
	switch (g->prefix) {
	case PREFIX_NONE:
		if (hend != SIZE_MAX)
			return false;
		break;
	case PREFIX_SUB:
		if (hend == SIZE_MAX)
			return false;
		break;
	default:
		break;
	}
	return portset_has(&g->ports, port);
}

static bool globs_match(const struct pc_pattern_set *set, uint32_t head, const char *h, size_t hlen,
                        uint16_t port)
{
	for (uint32_t i = head; i != 0; i = set->globs[i - 1].next)
		if (glob_match(&set->globs[i - 1], h, hlen, port))
			return true;
	return false;
}

void pc_host_key_init(struct pc_host_key *k, const struct pc_host *host)
{
	const char *s = host->name;
	uint64_t h = FNV_INIT;

	k->host = host;
	k->n = 0;
	if (host->kind != PC_HOST_NAME)
		return;
	for (size_t i = host->len; i > 0 && k->n < PC_HOST_LABELS_MAX; i--) {
		h = fnv_step(h, (unsigned char)s[i - 1]);
		if (i - 1 == 0 || s[i - 2] == '.') {
			k->suffix[k->n].off = (uint32_t)(i - 1);
			k->suffix[k->n].hash = finish_hash(h);
			k->n++;
		}
	}
}

static enum pc_match match_name(const struct pc_pattern_set *set, const struct pc_host_key *k,
                                uint16_t port)
{
	const struct ftable *f = &set->fnames;
	const char *s = k->host->name;
	size_t len = k->host->len;
	bool wildcard = false;

	for (unsigned j = 0; j < k->n; j++) {
		size_t off = k->suffix[j].off;
		const struct fentry *e = ftable_find(f, k->suffix[j].hash, s + off, len - off);

		if (e == NULL)
			continue;
		if (off == 0) {
			/* the whole name */
			if (fentry_has(f, e, ROLE_EXACT, port))
				return PC_MATCH_EXACT;
			if (fentry_has(f, e, ROLE_APEX, port))
				wildcard = true;
		} else if (!wildcard) {
			/* a proper suffix: the host is under e->key */
			if (fentry_has(f, e, ROLE_SUB, port) || fentry_has(f, e, ROLE_APEX, port) ||
			    globs_match(set, e->glob_head, s, off - 1, port))
				wildcard = true;
		}
	}
	if (!wildcard && globs_match(set, set->root_globs, s, len, port))
		wildcard = true;
	return wildcard ? PC_MATCH_WILDCARD : PC_MATCH_NONE;
}

static inline const struct aslot *atable_find(const struct atable *a, int family, unsigned plen,
                                              uint64_t hi, uint64_t lo)
{
	for (uint32_t i = (uint32_t)addr_hash(family, plen, hi, lo) & a->mask;;
	     i = (i + 1) & a->mask) {
		const struct aslot *s = &a->slots[i];
		if (!s->used)
			return NULL;
		if (s->lo == lo && s->hi == hi && s->plen == plen && s->family == family)
			return s;
	}
}

/* bit r of the slot: 0 the literal, 1 the block */
static inline bool aslot_has(const struct atable *a, const struct aslot *s, int r, uint16_t port)
{
	if (s->any & (1u << r))
		return true;
	return (s->listed & (1u << r)) && ports_has(a->ports + s->ports[r], port);
}

static enum pc_match match_ip(const struct pc_pattern_set *set, int family, const uint8_t *addr,
                              uint16_t port)
{
	const struct atable *a = &set->faddrs;
	unsigned max = family == 4 ? 32 : 128;
	enum pc_match best = PC_MATCH_NONE;

	for (unsigned w = 0; w < (family == 4 ? 1u : 3u); w++) {
		uint64_t bits = family == 4 ? set->v4_lens : set->v6_lens[w];

		while (bits != 0) {
			unsigned plen = w * 64 + (unsigned)__builtin_ctzll(bits);
			const struct aslot *s;
			uint64_t hi, lo;

			bits &= bits - 1;
			addr_words(family, addr, plen, &hi, &lo);
			s = atable_find(a, family, plen, hi, lo);
			if (s == NULL)
				continue;
			if (plen == max && aslot_has(a, s, 0, port))
				return PC_MATCH_EXACT;
			if (aslot_has(a, s, 1, port))
				best = PC_MATCH_WILDCARD;
		}
	}
	return best;
}

static enum pc_match match_sockaddr(const struct pc_pattern_set *set, const struct sockaddr *sa,
                                    uint16_t port)
{
	enum pc_match m = PC_MATCH_NONE, m4;
	uint8_t v4[4];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		m = match_ip(set, 4, (const uint8_t *)&in->sin_addr, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		m = match_ip(set, 6, in6->sin6_addr.s6_addr, port);
		if (m == PC_MATCH_NONE && (set->flags & PC_PATTERN_EMBEDDED_V4) &&
		    pc_addr6_embedded_v4(in6->sin6_addr.s6_addr, v4)) {
			m4 = match_ip(set, 4, v4, port);
			if (m4 != PC_MATCH_NONE)
				m = m4;
		}
	}
	if (m == PC_MATCH_NONE && portset_has(&set->any, port))
		m = PC_MATCH_WILDCARD;
	return m;
}

enum pc_match pc_pattern_set_match_addr(const struct pc_pattern_set *set, const struct sockaddr *sa,
                                        uint16_t port)
{
	return match_sockaddr(set, sa, port);
}

enum pc_match pc_pattern_set_match_key(const struct pc_pattern_set *set,
                                       const struct pc_host_key *k, uint16_t port)
{
	enum pc_match m;

	if (k->host->kind != PC_HOST_NAME)
		return match_sockaddr(set, &k->host->addr.sa, port);
	m = match_name(set, k, port);
	if (m == PC_MATCH_NONE && portset_has(&set->any, port))
		m = PC_MATCH_WILDCARD;
	return m;
}

enum pc_match pc_pattern_set_match(const struct pc_pattern_set *set, const struct pc_host *host,
                                   uint16_t port)
{
	struct pc_host_key k;

	pc_host_key_init(&k, host);
	return pc_pattern_set_match_key(set, &k, port);
}
