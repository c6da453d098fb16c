/* Strict TOML 1.0 reader. The contract is in toml.h, the design in docs/toml.md.
 *
 * One pass over the bytes, no lookahead beyond the current token. The tree lives in an arena
 * owned by the root, so every error path frees everything with one call. Duplicate keys are found
 * through one hash index over (table, key) pairs, keyed with a per-parse random SipHash key so
 * that no input can make lookups degrade. Every loop advances through the input or is bounded by
 * a constant; recursion (arrays, inline tables) is bounded by PC_TOML_MAX_DEPTH. */
#include "config/toml.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/error.h"

unsigned long pc_toml__fail_alloc_at;

#define ARENA_ALIGN     8u
#define ARENA_BLOCK     (64u * 1024)
#define INDEX_MIN_SLOTS 64u
#define SMALL_TABLE     8u /* tables up to this many keys are scanned, not indexed */
#define NOT_FOUND       SIZE_MAX
#define SHOWN_PART_MAX  40u  /* bytes of one key part quoted in a message */
#define SHOWN_TOKEN_MAX 40   /* bytes of a bad value quoted in a message */
#define SHOWN_PATH_SIZE 100u /* buffer for a key path quoted in a message */

/* How a node came to be; decides what later headers and dotted keys may do with it. */
enum node_kind {
	KIND_SCALAR,
	KIND_ROOT,
	KIND_IMPLICIT,    /* parent created by a [a.b.c] header: may still be defined by [a.b] */
	KIND_HEADER,      /* defined by [header] or an [[array]] element: closed to dotted keys */
	KIND_DOTTED,      /* defined by dotted keys: closed to [header], open to sub-headers */
	KIND_INLINE,      /* { ... }: closed to everything */
	KIND_ARRAY,       /* [ ... ] value: closed to everything */
	KIND_TABLE_ARRAY, /* [[a]]: grows with each header */
};

struct node {
	struct pc_toml_value v; /* first member: the public tree points here */
	uint8_t kind;
	uint8_t depth; /* containers above this value, at most PC_TOML_MAX_DEPTH */
	uint32_t id;   /* tables: identity in the key index */
	size_t cap;    /* tables and arrays: allocated items */
};

struct block {
	struct block *next;
	size_t size, used;
	max_align_t data[];
};

struct doc {
	struct node root; /* first member: pc_toml_free receives &root.v */
	struct block *blocks;
};

struct key_part {
	const char *name; /* decoded; a bare key points into the input (not NUL-terminated) */
	char *owned;      /* name copied into the arena with a NUL, or NULL */
	size_t len;
	const char *at; /* where the part was written */
};

struct slot {
	struct node *table; /* NULL: empty slot */
	uint32_t index;     /* into table's items */
	uint32_t hash;
};

struct parser {
	const char *text, *p, *end; /* text: the input after a BOM */
	struct doc *doc;
	struct node *section; /* table receiving key/value lines */
	struct pc_toml_error *err;
	int rc;
	unsigned long allocs;

	struct slot *slots; /* the key index: open addressing, at most half full */
	size_t nslots, nused;
	uint64_t seed[2];
	uint32_t next_id;

	char *scratch; /* decoded string or number being built */
	size_t scratch_len, scratch_cap;
	locale_t c_locale;

	struct key_part parts[PC_TOML_MAX_DEPTH];
	size_t nparts;

	const char *loc_p, *loc_line_start; /* position cache: lines before loc_p are counted */
	uint32_t loc_line;
};

/* ---- errors and positions ---- */

/* Line and column of at. Positions are asked for in increasing order while parsing, so the scan
 * forward is linear over the whole parse; only an error may go back to an earlier line. */
static void locate(struct parser *ps, const char *at, uint32_t *line, uint32_t *col)
{
	if (at < ps->loc_line_start) {
		ps->loc_p = ps->loc_line_start = ps->text;
		ps->loc_line = 1;
	}
	if (at > ps->loc_p) {
		const char *q = ps->loc_p;
		const char *nl;
		while (q < at && (nl = memchr(q, '\n', (size_t)(at - q))) != NULL) {
			ps->loc_line++;
			ps->loc_line_start = nl + 1;
			q = nl + 1;
		}
		ps->loc_p = at;
	}
	*line = ps->loc_line;
	*col = (uint32_t)(at - ps->loc_line_start) + 1;
}

__attribute__((format(printf, 4, 0))) static int vfail(struct parser *ps, const char *at, int rc,
                                                       const char *fmt, va_list ap)
{
	if (ps->rc == 0) {
		ps->rc = rc;
		locate(ps, at, &ps->err->line, &ps->err->col);
		vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
	}
	return ps->rc;
}

__attribute__((format(printf, 4, 5))) static int fail(struct parser *ps, const char *at, int rc,
                                                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rc = vfail(ps, at, rc, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 3, 4))) static int syntax(struct parser *ps, const char *at,
                                                        const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vfail(ps, at, PC_EPARSE, fmt, ap);
	va_end(ap);
	return rc;
}

static int oom(struct parser *ps)
{
	return fail(ps, ps->p, -ENOMEM, "out of memory");
}

/* ---- characters ---- */

static bool is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_radix_digit(int c, int radix)
{
	int v = hex_value(c);
	return v >= 0 && v < radix;
}

/* The byte at p, or -1 at the end of the input. */
static int byte_at(const struct parser *ps, const char *p)
{
	return p < ps->end ? (unsigned char)*p : -1;
}

/* 1 for LF, 2 for CRLF, 0 for anything else. */
static size_t newline_len(const struct parser *ps, const char *p)
{
	if (byte_at(ps, p) == '\n')
		return 1;
	if (byte_at(ps, p) == '\r' && byte_at(ps, p + 1) == '\n')
		return 2;
	return 0;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing beyond U+10FFFF), or 0. */
static size_t utf8_len(const char *p, const char *end)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t avail = (size_t)(end - p), n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
	} else if (s[0] < 0xf0) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : 0x80;
		hi = s[0] == 0xed ? 0x9f : 0xbf;
	} else if (s[0] < 0xf5) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : 0x80;
		hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static int bad_utf8(struct parser *ps, const char *p)
{
	return syntax(ps, p, "invalid UTF-8 (byte 0x%02X)", (unsigned char)*p);
}

/* Names the character at p for a message. */
static const char *describe(const struct parser *ps, const char *p, char *buf, size_t size)
{
	int c = byte_at(ps, p);
	size_t n;

	if (c < 0)
		return "end of input";
	if (newline_len(ps, p))
		return "end of line";
	switch (c) {
	case '\r':
		return "a carriage return without line feed";
	case '\t':
		return "a tab";
	case 0:
		return "a NUL byte";
	}
	if (c < 0x20 || c == 0x7f) {
		snprintf(buf, size, "control character U+%04X", (unsigned)c);
		return buf;
	}
	n = utf8_len(p, ps->end);
	if (n == 0)
		snprintf(buf, size, "invalid UTF-8 (byte 0x%02X)", (unsigned)c);
	else
		snprintf(buf, size, "'%.*s'", (int)n, p);
	return buf;
}

/* "expected X, found Y"; an invalid UTF-8 sequence is reported as such. */
static int fail_expected(struct parser *ps, const char *p, const char *expected)
{
	char buf[48];
	if (byte_at(ps, p) >= 0x80 && utf8_len(p, ps->end) == 0)
		return bad_utf8(ps, p);
	return syntax(ps, p, "%s, found %s", expected, describe(ps, p, buf, sizeof buf));
}

/* Length of the character at p if it may stand in a comment or string: tab, printable ASCII or
 * well-formed non-ASCII UTF-8. Else an error saying what it is. Newlines are the caller's. */
static int text_char(struct parser *ps, const char *p, const char *where)
{
	unsigned char c = (unsigned char)*p;
	size_t n;

	if ((c >= 0x20 && c < 0x7f) || c == '\t')
		return 1;
	if (c >= 0x80) {
		n = utf8_len(p, ps->end);
		return n ? (int)n : bad_utf8(ps, p);
	}
	if (c == 0)
		return syntax(ps, p, "NUL byte in %s", where);
	if (c == '\r')
		return syntax(ps, p, "carriage return without line feed in %s", where);
	return syntax(ps, p, "control character U+%04X in %s", c, where);
}

/* ---- messages naming keys ---- */

struct shown {
	char buf[SHOWN_PATH_SIZE];
	size_t len;
	bool cut;
};

static void show_bytes(struct shown *s, const char *b, size_t n)
{
	if (s->cut)
		return;
	if (n >= sizeof s->buf - 4 - s->len) {
		s->cut = true;
		memcpy(s->buf + s->len, "...", 4);
		s->len += 3;
		return;
	}
	memcpy(s->buf + s->len, b, n);
	s->len += n;
	s->buf[s->len] = 0;
}

/* Appends a key part as it could be written in TOML: bare when it can be, else a basic string.
 * Long parts are shortened; characters are never split. */
static void show_part(struct shown *s, const char *key, size_t len)
{
	bool bare = len > 0;
	size_t n;

	for (size_t i = 0; i < len && bare; i++)
		bare = is_bare((unsigned char)key[i]);
	if (!bare)
		show_bytes(s, "\"", 1);
	for (size_t i = 0; i < len; i += n) {
		unsigned char c = (unsigned char)key[i];
		char esc[8];
		n = 1;
		if (i >= SHOWN_PART_MAX) {
			show_bytes(s, "...", 3);
			break;
		}
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			show_bytes(s, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04X", c);
			show_bytes(s, esc, 6);
		} else {
			n = c < 0x80 ? 1 : utf8_len(key + i, key + len); /* keys are valid UTF-8 */
			n = n ? n : 1;
			show_bytes(s, key + i, n);
		}
	}
	if (!bare)
		show_bytes(s, "\"", 1);
}

/* The first n parts of the key just parsed, joined with dots. */
static const char *show_path(const struct parser *ps, size_t n, struct shown *s)
{
	s->len = 0;
	s->cut = false;
	s->buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			show_bytes(s, ".", 1);
		show_part(s, ps->parts[i].name, ps->parts[i].len);
	}
	return s->buf;
}

/* ---- memory ---- */

static void *xmalloc(struct parser *ps, size_t size)
{
	if (++ps->allocs == pc_toml__fail_alloc_at)
		return NULL;
	return malloc(size);
}

static void *xrealloc(struct parser *ps, void *old, size_t size)
{
	if (++ps->allocs == pc_toml__fail_alloc_at)
		return NULL;
	return realloc(old, size);
}

/* size bytes from the document's arena, freed with the document. Large requests get a block of
 * their own, linked behind the current one so that it stays in use. */
static void *arena_alloc(struct parser *ps, size_t size)
{
	struct block *b = ps->doc->blocks, *nb;
	size_t bsize;

	if (size >
	    PC_TOML_MAX_INPUT * (size_t)64) /* far above any real request: no overflow below */
		return NULL;
	size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (b && b->size - b->used >= size) {
		void *r = (char *)b->data + b->used;
		b->used += size;
		return r;
	}
	bsize = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
	nb = xmalloc(ps, sizeof *nb + bsize);
	if (!nb)
		return NULL;
	nb->size = bsize;
	nb->used = size;
	if (bsize == size && b) {
		nb->next = b->next;
		b->next = nb;
	} else {
		nb->next = b;
		ps->doc->blocks = nb;
	}
	return nb->data;
}

/* A copy of the allocation old (old_size bytes) grown to new_size. The old space stays in the
 * arena until the end: growth by doubling wastes at most what the final size is. */
static void *arena_grow(struct parser *ps, const void *old, size_t old_size, size_t new_size)
{
	void *r = arena_alloc(ps, new_size);
	if (r && old_size)
		memcpy(r, old, old_size);
	return r;
}

static char *arena_strndup(struct parser *ps, const char *s, size_t len)
{
	char *r = arena_alloc(ps, len + 1);
	if (r) {
		memcpy(r, s, len);
		r[len] = 0;
	}
	return r;
}

/* Makes room for one more item in an array of *cap items of elem bytes holding len. */
static void *reserve(struct parser *ps, void *items, size_t len, size_t *cap, size_t elem)
{
	size_t ncap;
	void *r;

	if (len < *cap)
		return items;
	ncap = *cap ? *cap * 2 : 2;
	if (ncap > SIZE_MAX / elem)
		return NULL;
	r = arena_grow(ps, items, *cap * elem, ncap * elem);
	if (r)
		*cap = ncap;
	return r;
}

static int scratch_put(struct parser *ps, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (n > ps->scratch_cap - ps->scratch_len) {
		size_t cap = ps->scratch_cap ? ps->scratch_cap : 256;
		char *b;
		while (cap - ps->scratch_len < n)
			cap *= 2;
		b = xrealloc(ps, ps->scratch, cap);
		if (!b)
			return oom(ps);
		ps->scratch = b;
		ps->scratch_cap = cap;
	}
	memcpy(ps->scratch + ps->scratch_len, s, n);
	ps->scratch_len += n;
	return 0;
}

/* ---- the key index ---- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13) ^ v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17) ^ v[2];
	v[2] = rotl(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	v[0] ^= m;
}

/* SipHash-1-3 of the 8-byte table id followed by the key: a keyed hash, so that without the
 * per-parse key nobody can choose keys that collide. */
static uint64_t key_hash(const struct parser *ps, uint32_t id, const char *key, size_t len)
{
	const unsigned char *m = (const unsigned char *)key;
	uint64_t v[4] = {ps->seed[0] ^ 0x736f6d6570736575ull, ps->seed[1] ^ 0x646f72616e646f6dull,
	                 ps->seed[0] ^ 0x6c7967656e657261ull, ps->seed[1] ^ 0x7465646279746573ull};
	uint64_t last = (uint64_t)((len + 8) & 0xff) << 56;
	size_t i = 0;

	sip_absorb(v, id);
	for (; i + 8 <= len; i += 8) {
		uint64_t w = 0;
		for (int j = 7; j >= 0; j--)
			w = w << 8 | m[i + (size_t)j];
		sip_absorb(v, w);
	}
	for (size_t j = 0; i + j < len; j++)
		last |= (uint64_t)m[i + j] << (8 * j);
	sip_absorb(v, last);
	v[2] ^= 0xff;
	sip_round(v);
	sip_round(v);
	sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static struct node *child(const struct node *t, size_t i)
{
	return (struct node *)t->v.u.table.items[i].value;
}

static bool same_key(const struct pc_toml_kv *kv, const struct key_part *part)
{
	return kv->key_len == part->len && memcmp(kv->key, part->name, part->len) == 0;
}

/* Index of part in table t, or NOT_FOUND. A small table is scanned: its items are at hand in the
 * cache, where a lookup in the document-wide index costs cache misses. */
static size_t table_find(const struct parser *ps, const struct node *t, const struct key_part *part)
{
	const struct pc_toml_kv *items = t->v.u.table.items;
	size_t mask = ps->nslots - 1;
	uint32_t h;

	if (t->v.u.table.len <= SMALL_TABLE) {
		for (size_t i = 0; i < t->v.u.table.len; i++)
			if (same_key(&items[i], part))
				return i;
		return NOT_FOUND;
	}
	h = (uint32_t)key_hash(ps, t->id, part->name, part->len);
	for (size_t i = h & mask;; i = (i + 1) & mask) { /* ends: the index is at most half full */
		const struct slot *s = &ps->slots[i];
		if (!s->table)
			return NOT_FOUND;
		if (s->table == t && s->hash == h && same_key(&items[s->index], part))
			return s->index;
	}
}

static void index_put(struct slot *slots, size_t nslots, struct slot s)
{
	size_t i = s.hash & (nslots - 1);
	while (slots[i].table)
		i = (i + 1) & (nslots - 1);
	slots[i] = s;
}

/* Enters item index of table t into the index. */
static int index_add(struct parser *ps, struct node *t, size_t index)
{
	const struct pc_toml_kv *kv = &t->v.u.table.items[index];
	uint32_t h = (uint32_t)key_hash(ps, t->id, kv->key, kv->key_len);

	if (2 * (ps->nused + 1) > ps->nslots) {
		size_t n = ps->nslots ? ps->nslots * 2 : INDEX_MIN_SLOTS;
		struct slot *s;
		if (n > SIZE_MAX / sizeof *s)
			return oom(ps);
		s = xmalloc(ps, n * sizeof *s);
		if (!s)
			return oom(ps);
		memset(s, 0, n * sizeof *s);
		for (size_t i = 0; i < ps->nslots; i++)
			if (ps->slots[i].table)
				index_put(s, n, ps->slots[i]);
		free(ps->slots);
		ps->slots = s;
		ps->nslots = n;
	}
	index_put(ps->slots, ps->nslots, (struct slot){t, (uint32_t)index, h});
	ps->nused++;
	return 0;
}

/* ---- tree ---- */

static int new_node(struct parser *ps, enum pc_toml_type type, enum node_kind kind, size_t depth,
                    const char *at, struct node **out)
{
	struct node *n;

	if (depth > PC_TOML_MAX_DEPTH)
		return fail(ps, at, PC_ELIMIT, "nesting deeper than %d levels", PC_TOML_MAX_DEPTH);
	n = arena_alloc(ps, sizeof *n);
	if (!n)
		return oom(ps);
	memset(n, 0, sizeof *n);
	n->v.type = type;
	n->kind = (uint8_t)kind;
	n->depth = (uint8_t)depth;
	if (type == PC_TOML_TABLE)
		n->id = ++ps->next_id;
	locate(ps, at, &n->v.line, &n->v.col);
	*out = n;
	return 0;
}

/* Adds part to table t (known to be absent) with value (NULL: set by the caller later). */
static int table_add(struct parser *ps, struct node *t, struct key_part *part, struct node *value,
                     size_t *index)
{
	struct pc_toml_kv *items, *kv;
	size_t len = t->v.u.table.len;
	int rc;

	items = reserve(ps, t->v.u.table.items, len, &t->cap, sizeof *items);
	if (!items)
		return oom(ps);
	t->v.u.table.items = items;
	if (!part->owned && !(part->owned = arena_strndup(ps, part->name, part->len)))
		return oom(ps);
	part->name = part->owned;
	kv = &items[len];
	kv->key = part->owned;
	kv->key_len = part->len;
	locate(ps, part->at, &kv->line, &kv->col);
	kv->value = value ? &value->v : NULL;
	t->v.u.table.len++;
	rc = 0;
	if (len == SMALL_TABLE) /* the table outgrows the scan: all its keys enter the index */
		for (size_t i = 0; i <= len && rc == 0; i++)
			rc = index_add(ps, t, i);
	else if (len > SMALL_TABLE)
		rc = index_add(ps, t, len);
	if (rc < 0)
		return rc;
	if (index)
		*index = len;
	return 0;
}

static int add_table(struct parser *ps, struct node *parent, struct key_part *part,
                     enum node_kind kind, const char *at, struct node **out)
{
	int rc = new_node(ps, kind == KIND_TABLE_ARRAY ? PC_TOML_ARRAY : PC_TOML_TABLE, kind,
	                  parent->depth + 1u, at, out);
	return rc < 0 ? rc : table_add(ps, parent, part, *out, NULL);
}

static int array_push(struct parser *ps, struct node *a, struct node *item)
{
	struct pc_toml_value **items;

	items = reserve(ps, a->v.u.array.items, a->v.u.array.len, &a->cap, sizeof *items);
	if (!items)
		return oom(ps);
	a->v.u.array.items = items;
	items[a->v.u.array.len++] = &item->v;
	return 0;
}

static const char *kind_desc(const struct node *n)
{
	switch (n->kind) { /* inline tables and array values have messages of their own */
	case KIND_TABLE_ARRAY:
		return "an array of tables";
	case KIND_SCALAR:
		break;
	default:
		return "a table";
	}
	switch (n->v.type) {
	case PC_TOML_STRING:
		return "a string";
	case PC_TOML_INTEGER:
		return "an integer";
	case PC_TOML_FLOAT:
		return "a float";
	default:
		return "a boolean";
	}
}

/* Part i of the current key names existing, which cannot be what the key needs (wanted). */
static int conflict(struct parser *ps, size_t i, const struct node *existing, const char *wanted)
{
	struct shown s;
	const char *name = show_path(ps, i + 1, &s);

	switch (existing->kind) {
	case KIND_INLINE:
		return syntax(ps, ps->parts[i].at, "inline table '%s' cannot be extended", name);
	case KIND_ARRAY:
		return syntax(ps, ps->parts[i].at,
		              "array '%s' was defined as a value and cannot be extended", name);
	}
	return syntax(ps, ps->parts[i].at, "'%s' is already %s, not %s", name, kind_desc(existing),
	              wanted);
}

/* Moves *t to the table that part i of the current key names, creating it when absent. Headers
 * pass through every table but inline ones and into the last element of an array of tables;
 * dotted keys pass only through tables that no header has defined. */
static int descend(struct parser *ps, struct node **t, size_t i, bool dotted)
{
	struct key_part *part = &ps->parts[i];
	struct node *c;
	size_t at = table_find(ps, *t, part);
	struct shown s;

	if (at == NOT_FOUND)
		return add_table(ps, *t, part, dotted ? KIND_DOTTED : KIND_IMPLICIT, part->at, t);
	c = child(*t, at);
	switch (c->kind) {
	case KIND_IMPLICIT:
		if (dotted)
			c->kind = KIND_DOTTED;
		*t = c;
		return 0;
	case KIND_DOTTED:
		*t = c;
		return 0;
	case KIND_HEADER:
		if (dotted)
			return syntax(ps, part->at,
			              "table '%s' was defined by a [header] and cannot be extended "
			              "with dotted keys",
			              show_path(ps, i + 1, &s));
		*t = c;
		return 0;
	case KIND_TABLE_ARRAY:
		if (dotted)
			break;
		*t = (struct node *)c->v.u.array.items[c->v.u.array.len - 1];
		return 0;
	}
	return conflict(ps, i, c, "a table");
}

/* ---- strings ---- */

static int note_newline(struct parser *ps, const char *p, size_t n, int *kind)
{
	if (*kind && *kind != (int)n)
		return syntax(ps, p, "mixed LF and CRLF line endings in a multi-line string");
	*kind = (int)n;
	return 0;
}

static int put_utf8(struct parser *ps, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return scratch_put(ps, b, n);
}

/* \uXXXX or \UXXXXXXXX at *pp. Values become C strings, so U+0000 is refused with surrogates
 * and values beyond Unicode. */
static int scan_unicode(struct parser *ps, const char **pp, int digits)
{
	const char *bs = *pp;
	uint32_t cp = 0;

	for (int i = 0; i < digits; i++) {
		int v = hex_value(byte_at(ps, bs + 2 + i));
		if (v < 0)
			return syntax(ps, bs, "'\\%c' must be followed by %d hexadecimal digits",
			              bs[1], digits);
		cp = cp << 4 | (uint32_t)v;
	}
	if (cp == 0)
		return syntax(ps, bs, "'\\%.*s' is a NUL character, which strings cannot hold",
		              digits + 1, bs + 1);
	if (cp >= 0xd800 && cp <= 0xdfff)
		return syntax(ps, bs, "'\\%.*s' is a surrogate, not a Unicode character",
		              digits + 1, bs + 1);
	if (cp > 0x10ffff)
		return syntax(ps, bs, "'\\%.*s' is beyond U+10FFFF, the last Unicode character",
		              digits + 1, bs + 1);
	*pp = bs + 2 + digits;
	return put_utf8(ps, cp);
}

/* A backslash ending a line of a multi-line basic string: it and all whitespace and newlines
 * after it are dropped. */
static int skip_line_ending_backslash(struct parser *ps, const char *open, const char **pp,
                                      int *nl_kind)
{
	const char *bs = *pp, *q = bs + 1;
	size_t n;
	int rc;

	while (q < ps->end && (*q == ' ' || *q == '\t'))
		q++;
	if (q == ps->end)
		return syntax(ps, open, "unterminated string");
	if (!newline_len(ps, q)) {
		if (*q == '\r')
			return text_char(ps, q, "string");
		return syntax(
		        ps, bs,
		        "a '\\' followed by whitespace must be the last character of its line");
	}
	for (;;) { /* ends: q advances every turn */
		if ((n = newline_len(ps, q)) != 0) {
			if ((rc = note_newline(ps, q, n, nl_kind)) < 0)
				return rc;
			q += n;
		} else if (q < ps->end && (*q == ' ' || *q == '\t')) {
			q++;
		} else {
			break;
		}
	}
	*pp = q;
	return 0;
}

static int scan_escape(struct parser *ps, const char *open, const char **pp, bool ml, int *nl_kind)
{
	const char *bs = *pp;
	char out, buf[48];
	int c = byte_at(ps, bs + 1);

	switch (c) {
	case -1:
		return syntax(ps, open, "unterminated string");
	case 'b':
		out = '\b';
		break;
	case 't':
		out = '\t';
		break;
	case 'n':
		out = '\n';
		break;
	case 'f':
		out = '\f';
		break;
	case 'r':
		out = '\r';
		break;
	case '"':
	case '\\':
		out = (char)c;
		break;
	case 'u':
		return scan_unicode(ps, pp, 4);
	case 'U':
		return scan_unicode(ps, pp, 8);
	default:
		if (ml && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			return skip_line_ending_backslash(ps, open, pp, nl_kind);
		if (c > 0x20 && c < 0x7f)
			return syntax(ps, bs, "invalid escape '\\%c' in string", c);
		if (c >= 0x80 && utf8_len(bs + 1, ps->end) == 0)
			return bad_utf8(ps, bs + 1);
		return syntax(ps, bs, "invalid escape: '\\' followed by %s in string",
		              describe(ps, bs + 1, buf, sizeof buf));
	}
	*pp = bs + 2;
	return scratch_put(ps, &out, 1);
}

/* Decodes the string whose opening quote is at ps->p into the scratch buffer (not
 * NUL-terminated) and moves past its closing quote. */
static int scan_string(struct parser *ps, bool is_key)
{
	const char *open = ps->p, *p;
	const char q = *open;
	const bool ml = byte_at(ps, open + 1) == q && byte_at(ps, open + 2) == q;
	int nl_kind = 0, rc;
	size_t n;

	if (ml && is_key)
		return syntax(ps, open, "a multi-line string cannot be a key");
	ps->scratch_len = 0;
	p = open + (ml ? 3 : 1);
	if (ml && (n = newline_len(ps, p)) != 0) { /* a newline right after the quotes is dropped */
		nl_kind = (int)n;
		p += n;
	}
	for (;;) { /* ends: p advances every turn, or the end of input is an error */
		int c = byte_at(ps, p);
		if (c < 0)
			return syntax(ps, open, "unterminated string");
		if (c == q && !ml) {
			ps->p = p + 1;
			return 0;
		}
		if (c == q) {
			/* Up to two quotes may stand right before the closing three. */
			size_t run = 1, extra;
			while (run < 5 && byte_at(ps, p + run) == q)
				run++;
			if (run < 3) {
				rc = scratch_put(ps, p, run);
				p += run;
				if (rc < 0)
					return rc;
				continue;
			}
			extra = run - 3;
			ps->p = p + run;
			return scratch_put(ps, p, extra);
		}
		if (c == '\\' && q == '"') {
			if ((rc = scan_escape(ps, open, &p, ml, &nl_kind)) < 0)
				return rc;
			continue;
		}
		if ((n = newline_len(ps, p)) != 0) {
			if (!ml)
				return syntax(ps, open, "unterminated string");
			if ((rc = note_newline(ps, p, n, &nl_kind)) < 0 ||
			    (rc = scratch_put(ps, "\n", 1)) < 0)
				return rc;
			p += n;
			continue;
		}
		if ((rc = text_char(ps, p, "string")) < 0)
			return rc;
		n = (size_t)rc;
		if ((rc = scratch_put(ps, p, n)) < 0)
			return rc;
		p += n;
	}
}

/* ---- keys ---- */

static int parse_simple_key(struct parser *ps, struct key_part *part, const char *expected)
{
	const char *s = ps->p;
	int c = byte_at(ps, s), rc;

	part->at = s;
	part->owned = NULL;
	if (c == '"' || c == '\'') {
		if ((rc = scan_string(ps, true)) < 0)
			return rc;
		part->owned = arena_strndup(ps, ps->scratch ? ps->scratch : "", ps->scratch_len);
		if (!part->owned)
			return oom(ps);
		part->name = part->owned;
		part->len = ps->scratch_len;
		return 0;
	}
	if (c < 0 || !is_bare(c))
		return fail_expected(ps, s, expected);
	while (ps->p < ps->end && is_bare((unsigned char)*ps->p))
		ps->p++;
	part->name = s;
	part->len = (size_t)(ps->p - s);
	return 0;
}

/* A dotted key into ps->parts; leaves ps->p at the first non-blank after it. */
static int parse_key(struct parser *ps)
{
	int rc;

	ps->nparts = 0;
	for (;;) { /* ends: each part consumes input, and the part count is bounded */
		if (ps->nparts == PC_TOML_MAX_DEPTH)
			return fail(ps, ps->p, PC_ELIMIT, "key has more than %d parts",
			            PC_TOML_MAX_DEPTH);
		rc = parse_simple_key(ps, &ps->parts[ps->nparts],
		                      ps->nparts ? "expected a key after '.'" : "expected a key");
		if (rc < 0)
			return rc;
		ps->nparts++;
		skip_ws(ps);
		if (byte_at(ps, ps->p) != '.')
			return 0;
		ps->p++;
		skip_ws(ps);
	}
}

/* ---- values ---- */

static int parse_value(struct parser *ps, size_t depth, struct node **out);
static int parse_keyval(struct parser *ps, struct node *base);

/* Skips digit ('_'? digit)* at p (p is a digit); NULL when an underscore is misplaced. */
static const char *scan_digits(struct parser *ps, const char *p, const char *e, int radix)
{
	while (p < e) { /* ends: p advances every turn */
		if (is_radix_digit((unsigned char)*p, radix)) {
			p++;
		} else if (*p == '_') {
			if (p + 1 < e && is_radix_digit((unsigned char)p[1], radix)) {
				p += 2;
				continue;
			}
			syntax(ps, p, "an underscore in a number must stand between two digits");
			return NULL;
		} else {
			break;
		}
	}
	return p;
}

static int to_integer(struct parser *ps, const char *tok, const char *s, const char *e, int radix,
                      bool neg, struct node *n)
{
	uint64_t max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;

	for (; s < e; s++) {
		uint64_t d;
		if (*s == '_')
			continue;
		d = (uint64_t)hex_value((unsigned char)*s);
		if (v > (max - d) / (uint64_t)radix)
			return syntax(ps, tok, "integer out of range (64-bit signed)");
		v = v * (uint64_t)radix + d;
	}
	n->v.type = PC_TOML_INTEGER;
	n->v.u.integer = neg ? (v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return 0;
}

static int to_float(struct parser *ps, const char *s, const char *e, struct node *n)
{
	char *end;
	double d;
	int rc;

	ps->scratch_len = 0;
	for (const char *q = s; q < e; q++)
		if (*q != '_' && (rc = scratch_put(ps, q, 1)) < 0)
			return rc;
	if ((rc = scratch_put(ps, "", 1)) < 0)
		return rc;
	if (!ps->c_locale) {
		if (++ps->allocs != pc_toml__fail_alloc_at)
			ps->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
		if (!ps->c_locale)
			return oom(ps);
	}
	d = strtod_l(ps->scratch, &end, ps->c_locale);
	if (end != ps->scratch + ps->scratch_len - 1) /* the grammar was checked: never happens */
		return syntax(ps, s, "invalid float");
	if (isinf(d))
		return syntax(ps, s, "float out of range");
	n->v.type = PC_TOML_FLOAT;
	n->v.u.flt = d;
	return 0;
}

static bool looks_like_datetime(const char *s, const char *e)
{
	size_t len = (size_t)(e - s);
	if (len >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
	    s[4] == '-')
		return true;
	return len >= 3 && is_digit(s[0]) && is_digit(s[1]) && s[2] == ':';
}

static int parse_number(struct parser *ps, const char *s, const char *e, struct node *n)
{
	const char *q = s, *d;
	bool neg = false, is_float = false;
	int radix;

	if (*q == '+' || *q == '-')
		neg = *q++ == '-';
	if (e - q == 3 && (memcmp(q, "inf", 3) == 0 || memcmp(q, "nan", 3) == 0)) {
		n->v.type = PC_TOML_FLOAT;
		n->v.u.flt = copysign(*q == 'i' ? INFINITY : NAN, neg ? -1.0 : 1.0);
		return 0;
	}
	if (q < e && *q == '.')
		return syntax(ps, q, "a float needs a digit before the decimal point");
	if (q == e || !is_digit((unsigned char)*q))
		return syntax(ps, s, "invalid value '%.*s' (strings must be quoted)",
		              e - s > SHOWN_TOKEN_MAX ? SHOWN_TOKEN_MAX : (int)(e - s), s);
	if (*q == '0' && e - q > 1 && (q[1] == 'x' || q[1] == 'o' || q[1] == 'b')) {
		radix = q[1] == 'x' ? 16 : q[1] == 'o' ? 8 : 2;
		if (q != s)
			return syntax(ps, s,
			              "a sign is not allowed on a hexadecimal, octal or "
			              "binary integer");
		if (e - q < 3 || !is_radix_digit((unsigned char)q[2], radix))
			return syntax(ps, q + 2, "expected a base-%d digit after '0%c'", radix,
			              q[1]);
		if (!(d = scan_digits(ps, q + 2, e, radix)))
			return ps->rc;
		if (d != e)
			return syntax(ps, d, "invalid character '%c' in a base-%d integer", *d,
			              radix);
		return to_integer(ps, s, q + 2, e, radix, false, n);
	}
	if (!(d = scan_digits(ps, q, e, 10)))
		return ps->rc;
	if (*q == '0' && d - q > 1)
		return syntax(ps, q, "leading zeros are not allowed in numbers");
	if (d < e && *d == '.') {
		is_float = true;
		if (++d == e || !is_digit((unsigned char)*d))
			return syntax(ps, d, "expected a digit after the decimal point");
		if (!(d = scan_digits(ps, d, e, 10)))
			return ps->rc;
	}
	if (d < e && (*d == 'e' || *d == 'E')) {
		is_float = true;
		d++;
		if (d < e && (*d == '+' || *d == '-'))
			d++;
		if (d == e || !is_digit((unsigned char)*d))
			return syntax(ps, d, "expected a digit in the exponent");
		if (!(d = scan_digits(ps, d, e, 10)))
			return ps->rc;
	}
	if (d != e)
		return syntax(ps, d, "invalid character '%c' in a number", *d);
	return is_float ? to_float(ps, s, e, n) : to_integer(ps, s, q, e, 10, neg, n);
}

static bool is_token_char(int c)
{
	return is_bare(c) || c == '+' || c == '.' || c == ':';
}

/* A boolean or number: the longest run of characters that may make one up. */
static int parse_scalar(struct parser *ps, size_t depth, struct node **out)
{
	const char *s = ps->p, *e;
	size_t len;
	int rc;

	while (ps->p < ps->end && is_token_char((unsigned char)*ps->p))
		ps->p++;
	e = ps->p;
	len = (size_t)(e - s);
	if (len == 0)
		return fail_expected(ps, s, "expected a value");
	if (looks_like_datetime(s, e))
		return syntax(ps, s, "date-time values are not supported");
	if ((rc = new_node(ps, PC_TOML_BOOLEAN, KIND_SCALAR, depth, s, out)) < 0)
		return rc;
	if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 5 && memcmp(s, "false", 5) == 0)) {
		(*out)->v.u.boolean = len == 4;
		return 0;
	}
	return parse_number(ps, s, e, *out);
}

/* Whitespace, newlines and comments between array elements. */
static int skip_array_space(struct parser *ps);

static int parse_array(struct parser *ps, size_t depth, struct node **out)
{
	const char *open = ps->p;
	struct node *a, *item;
	int rc;

	if ((rc = new_node(ps, PC_TOML_ARRAY, KIND_ARRAY, depth, open, &a)) < 0)
		return rc;
	*out = a;
	ps->p++;
	for (;;) { /* ends: every turn consumes a value or the closing bracket */
		if ((rc = skip_array_space(ps)) < 0)
			return rc;
		if (byte_at(ps, ps->p) == ']')
			break;
		if (ps->p == ps->end)
			return syntax(ps, open, "unterminated array");
		if ((rc = parse_value(ps, depth + 1, &item)) < 0 ||
		    (rc = array_push(ps, a, item)) < 0)
			return rc;
		if ((rc = skip_array_space(ps)) < 0)
			return rc;
		if (byte_at(ps, ps->p) == ',') {
			ps->p++;
			continue;
		}
		if (byte_at(ps, ps->p) == ']')
			break;
		if (ps->p == ps->end)
			return syntax(ps, open, "unterminated array");
		return fail_expected(ps, ps->p, "expected ',' or ']' after an array element");
	}
	ps->p++;
	return 0;
}

/* Blanks inside an inline table, which must stay on one line. */
static int skip_inline_space(struct parser *ps, const char *open)
{
	skip_ws(ps);
	if (ps->p == ps->end)
		return syntax(ps, open, "unterminated inline table");
	if (newline_len(ps, ps->p))
		return syntax(ps, ps->p, "an inline table must be on one line");
	return 0;
}

static int parse_inline(struct parser *ps, size_t depth, struct node **out)
{
	const char *open = ps->p, *comma;
	struct node *t;
	int rc;

	if ((rc = new_node(ps, PC_TOML_TABLE, KIND_INLINE, depth, open, &t)) < 0)
		return rc;
	*out = t;
	ps->p++;
	if ((rc = skip_inline_space(ps, open)) < 0)
		return rc;
	if (*ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) { /* ends: every turn consumes a key/value pair */
		if ((rc = parse_keyval(ps, t)) < 0 || (rc = skip_inline_space(ps, open)) < 0)
			return rc;
		if (*ps->p == '}') {
			ps->p++;
			return 0;
		}
		if (*ps->p != ',')
			return fail_expected(ps, ps->p, "expected ',' or '}' in an inline table");
		comma = ps->p++;
		if ((rc = skip_inline_space(ps, open)) < 0)
			return rc;
		if (*ps->p == '}')
			return syntax(ps, comma,
			              "a trailing comma is not allowed in an inline table");
	}
}

static int parse_value(struct parser *ps, size_t depth, struct node **out)
{
	const char *s = ps->p;
	int c = byte_at(ps, s), rc;

	if (c == '[')
		return parse_array(ps, depth, out);
	if (c == '{')
		return parse_inline(ps, depth, out);
	if (c != '"' && c != '\'')
		return parse_scalar(ps, depth, out);
	if ((rc = scan_string(ps, false)) < 0 ||
	    (rc = new_node(ps, PC_TOML_STRING, KIND_SCALAR, depth, s, out)) < 0)
		return rc;
	(*out)->v.u.str.len = ps->scratch_len;
	(*out)->v.u.str.ptr = arena_strndup(ps, ps->scratch ? ps->scratch : "", ps->scratch_len);
	return (*out)->v.u.str.ptr ? 0 : oom(ps);
}

/* key = value, into base (the current section or an inline table). */
static int parse_keyval(struct parser *ps, struct node *base)
{
	struct node *t = base, *v;
	struct key_part last;
	struct shown s;
	size_t n, index;
	int rc;

	if ((rc = parse_key(ps)) < 0)
		return rc;
	if (byte_at(ps, ps->p) != '=')
		return fail_expected(ps, ps->p, "expected '=' after key");
	ps->p++;
	skip_ws(ps);
	n = ps->nparts;
	for (size_t i = 0; i + 1 < n; i++)
		if ((rc = descend(ps, &t, i, true)) < 0)
			return rc;
	last = ps->parts[n - 1];
	if (table_find(ps, t, &last) != NOT_FOUND)
		return syntax(ps, last.at, "duplicate key '%s'", show_path(ps, n, &s));
	/* The value may hold inline tables whose keys reuse ps->parts. */
	if ((rc = table_add(ps, t, &last, NULL, &index)) < 0 ||
	    (rc = parse_value(ps, t->depth + 1u, &v)) < 0)
		return rc;
	t->v.u.table.items[index].value = &v->v;
	return 0;
}

/* ---- lines ---- */

static int skip_comment(struct parser *ps)
{
	ps->p++;
	while (ps->p < ps->end && !newline_len(ps, ps->p)) { /* ends: p advances */
		int n = text_char(ps, ps->p, "comment");
		if (n < 0)
			return n;
		ps->p += n;
	}
	return 0;
}

static int skip_array_space(struct parser *ps)
{
	for (;;) { /* ends: every turn consumes input */
		size_t n;
		int rc;
		skip_ws(ps);
		if ((n = newline_len(ps, ps->p)) != 0)
			ps->p += n;
		else if (byte_at(ps, ps->p) == '#') {
			if ((rc = skip_comment(ps)) < 0)
				return rc;
		} else
			return 0;
	}
}

/* The rest of a line after a header or key/value: blanks, an optional comment, a newline. */
static int end_line(struct parser *ps, const char *expected)
{
	int rc;

	skip_ws(ps);
	if (byte_at(ps, ps->p) == '#' && (rc = skip_comment(ps)) < 0)
		return rc;
	if (ps->p == ps->end)
		return 0;
	if (newline_len(ps, ps->p)) {
		ps->p += newline_len(ps, ps->p);
		return 0;
	}
	return fail_expected(ps, ps->p, expected);
}

static int define_table(struct parser *ps, struct node *parent, const char *open)
{
	size_t i = ps->nparts - 1;
	struct key_part *part = &ps->parts[i];
	struct node *t;
	struct shown s;
	size_t at = table_find(ps, parent, part);

	if (at == NOT_FOUND)
		return add_table(ps, parent, part, KIND_HEADER, open, &ps->section);
	t = child(parent, at);
	switch (t->kind) {
	case KIND_IMPLICIT:
		t->kind = KIND_HEADER;
		locate(ps, open, &t->v.line, &t->v.col);
		ps->section = t;
		return 0;
	case KIND_HEADER:
		return syntax(ps, part->at, "table '%s' is already defined",
		              show_path(ps, i + 1, &s));
	case KIND_DOTTED:
		return syntax(ps, part->at, "table '%s' is already defined by dotted keys",
		              show_path(ps, i + 1, &s));
	}
	return conflict(ps, i, t, "a table");
}

static int define_table_array(struct parser *ps, struct node *parent, const char *open)
{
	size_t i = ps->nparts - 1;
	struct key_part *part = &ps->parts[i];
	struct node *a, *t;
	size_t at = table_find(ps, parent, part);
	int rc;

	if (at == NOT_FOUND) {
		if ((rc = add_table(ps, parent, part, KIND_TABLE_ARRAY, open, &a)) < 0)
			return rc;
	} else {
		a = child(parent, at);
		if (a->kind != KIND_TABLE_ARRAY)
			return conflict(ps, i, a, "an array of tables");
	}
	if ((rc = new_node(ps, PC_TOML_TABLE, KIND_HEADER, a->depth + 1u, open, &t)) < 0 ||
	    (rc = array_push(ps, a, t)) < 0)
		return rc;
	ps->section = t;
	return 0;
}

/* [a.b] or [[a.b]] */
static int parse_header(struct parser *ps)
{
	const char *open = ps->p;
	bool array = byte_at(ps, open + 1) == '[';
	struct node *t = &ps->doc->root;
	int rc;

	ps->p += array ? 2 : 1;
	skip_ws(ps);
	if ((rc = parse_key(ps)) < 0)
		return rc;
	if (array) {
		if (byte_at(ps, ps->p) != ']' || byte_at(ps, ps->p + 1) != ']')
			return fail_expected(ps, ps->p + (byte_at(ps, ps->p) == ']'),
			                     "expected ']]' after the array-of-tables name");
		ps->p += 2;
	} else {
		if (byte_at(ps, ps->p) != ']')
			return fail_expected(ps, ps->p, "expected ']' after the table name");
		ps->p++;
	}
	for (size_t i = 0; i + 1 < ps->nparts; i++)
		if ((rc = descend(ps, &t, i, false)) < 0)
			return rc;
	return array ? define_table_array(ps, t, open) : define_table(ps, t, open);
}

static int parse_document(struct parser *ps)
{
	int rc;

	for (;;) { /* ends: every turn consumes at least one byte */
		size_t n;
		skip_ws(ps);
		if (ps->p == ps->end)
			return 0;
		if ((n = newline_len(ps, ps->p)) != 0) {
			ps->p += n;
			continue;
		}
		if (*ps->p == '#')
			rc = end_line(ps, "expected end of line after a comment");
		else if (*ps->p == '[')
			rc = parse_header(ps) < 0
			             ? ps->rc
			             : end_line(ps, "expected end of line after the table header");
		else
			rc = parse_keyval(ps, ps->section) < 0
			             ? ps->rc
			             : end_line(ps, "expected end of line after the value");
		if (rc < 0)
			return rc;
	}
}

/* ---- API ---- */

void pc_toml_free(struct pc_toml_value *root)
{
	struct doc *doc = (struct doc *)root;
	struct block *b, *next;

	if (!root)
		return;
	for (b = doc->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(doc);
}

int pc_toml_parse(const char *text, size_t len, struct pc_toml_value **root,
                  struct pc_toml_error *err)
{
	struct parser ps;
	const char *base;
	int rc;

	if (!root || !err)
		return -EINVAL;
	*root = NULL;
	memset(err, 0, sizeof *err);
	if (!text && len)
		return -EINVAL;
	memset(&ps, 0, sizeof ps);
	base = text ? text : "";
	ps.text = base;
	ps.end = base + len;
	ps.err = err;
	if (len >= 3 && memcmp(ps.text, "\xef\xbb\xbf", 3) == 0)
		ps.text += 3;
	ps.p = ps.loc_p = ps.loc_line_start = ps.text;
	ps.loc_line = 1;
	if (len > PC_TOML_MAX_INPUT)
		return fail(&ps, base + PC_TOML_MAX_INPUT, PC_ELIMIT,
		            "input is larger than %u bytes", PC_TOML_MAX_INPUT);

	if (getrandom(ps.seed, sizeof ps.seed, GRND_NONBLOCK) != (ssize_t)sizeof ps.seed) {
		/* Without entropy the index still works; only collision resistance is lost. */
		ps.seed[0] = 0x0123456789abcdefull;
		ps.seed[1] = 0xfedcba9876543210ull;
	}
	ps.doc = xmalloc(&ps, sizeof *ps.doc);
	if (!ps.doc)
		return oom(&ps);
	memset(ps.doc, 0, sizeof *ps.doc);
	ps.doc->root.v.type = PC_TOML_TABLE;
	ps.doc->root.v.line = ps.doc->root.v.col = 1;
	ps.doc->root.kind = KIND_ROOT;
	ps.section = &ps.doc->root;

	rc = parse_document(&ps);
	free(ps.slots);
	free(ps.scratch);
	if (ps.c_locale)
		freelocale(ps.c_locale);
	if (rc < 0) {
		pc_toml_free(&ps.doc->root.v);
		return rc;
	}
	*root = &ps.doc->root.v;
	return 0;
}

const struct pc_toml_kv *pc_toml_get_kv(const struct pc_toml_value *table, const char *key)
{
	size_t len;

	if (!table || table->type != PC_TOML_TABLE || !key)
		return NULL;
	len = strlen(key);
	for (size_t i = 0; i < table->u.table.len; i++) {
		const struct pc_toml_kv *kv = &table->u.table.items[i];
		if (kv->key_len == len && memcmp(kv->key, key, len) == 0)
			return kv;
	}
	return NULL;
}

const struct pc_toml_value *pc_toml_get(const struct pc_toml_value *table, const char *key)
{
	const struct pc_toml_kv *kv = pc_toml_get_kv(table, key);
	return kv ? kv->value : NULL;
}

const char *pc_toml_type_name(enum pc_toml_type type)
{
	switch (type) {
	case PC_TOML_TABLE:
		return "table";
	case PC_TOML_ARRAY:
		return "array";
	case PC_TOML_STRING:
		return "string";
	case PC_TOML_INTEGER:
		return "integer";
	case PC_TOML_FLOAT:
		return "float";
	case PC_TOML_BOOLEAN:
		return "boolean";
	}
	return "unknown";
}
