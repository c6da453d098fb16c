/* A strict TOML 1.0 reader producing a document tree.
 *
 * Supports tables, arrays of tables, dotted keys, bare/quoted keys, basic and literal strings
 * (single and multi-line, every escape), integers (decimal, 0x, 0o, 0b, underscores), floats,
 * booleans, arrays and inline tables, and comments. Offset/local date-times are refused with a
 * clear error (no portcullis setting takes one). Everything TOML calls invalid is an error:
 * redefined keys or tables, extending an inline table, control characters, invalid UTF-8,
 * out-of-range integers and floats, NUL anywhere (also as \u0000). Stricter than TOML: a
 * multi-line string that mixes LF and CRLF line endings is refused (both decode to "\n").
 * A UTF-8 byte order mark at the start is skipped.
 *
 * Bounds: input at most PC_TOML_MAX_INPUT bytes, nesting at most PC_TOML_MAX_DEPTH (arrays,
 * inline tables and tables, counted from the root table), keys of at most PC_TOML_MAX_DEPTH
 * parts. Duplicate detection costs O(1) per key whatever the input (see docs/toml.md).
 * Errors carry a 1-based line and column (columns count bytes from the start of the line; on the
 * first line, from after a byte order mark) and a message without a position prefix; callers
 * print "FILE:LINE:COL: message". */
#ifndef PC_CONFIG_TOML_H
#define PC_CONFIG_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_TOML_MAX_INPUT (4u << 20)
#define PC_TOML_MAX_DEPTH 64

enum pc_toml_type {
	PC_TOML_TABLE = 1,
	PC_TOML_ARRAY,
	PC_TOML_STRING,
	PC_TOML_INTEGER,
	PC_TOML_FLOAT,
	PC_TOML_BOOLEAN,
};

struct pc_toml_value;

struct pc_toml_kv {
	char *key; /* NUL-terminated, decoded; never contains NUL */
	size_t key_len;
	uint32_t line, col; /* where the key was written (for "unknown key" errors) */
	struct pc_toml_value *value;
};

struct pc_toml_value {
	enum pc_toml_type type;
	uint32_t line, col; /* where the value starts (a table: its header or first key) */
	union {
		struct {
			char *ptr; /* NUL-terminated, decoded UTF-8; never contains NUL */
			size_t len;
		} str;
		int64_t integer;
		double flt;
		bool boolean;
		struct {
			struct pc_toml_value **items;
			size_t len;
		} array;
		struct {
			struct pc_toml_kv *items; /* in document order */
			size_t len;
		} table;
	} u;
};

struct pc_toml_error {
	uint32_t line, col;
	char msg[192];
};

/* Parses len bytes of text (need not be NUL-terminated; text may be NULL when len is 0). On
 * success returns 0, stores the root table in *root (owned by the caller, release with
 * pc_toml_free) and clears *err. On failure returns PC_EPARSE (malformed or unsupported input),
 * PC_ELIMIT (input beyond the bounds) or -ENOMEM and fills *err; *root is set to NULL and
 * nothing stays allocated. -EINVAL when root or err is NULL. Thread-safe (no shared state but
 * the test hook below). */
int pc_toml_parse(const char *text, size_t len, struct pc_toml_value **root,
                  struct pc_toml_error *err);

/* Frees a tree returned by pc_toml_parse: the whole document at once, so only the root may be
 * passed (every node, key and string lives in memory the root owns). Accepts NULL. */
void pc_toml_free(struct pc_toml_value *root);

/* The value of key in table (NULL when absent or when table is not a table). A linear scan:
 * for reading known keys; walk u.table.items to visit every key. */
const struct pc_toml_value *pc_toml_get(const struct pc_toml_value *table, const char *key);
/* The key/value entry of key in table (NULL when absent), to report the key's position. */
const struct pc_toml_kv *pc_toml_get_kv(const struct pc_toml_value *table, const char *key);

/* "table", "array", "string", ... for error messages. */
const char *pc_toml_type_name(enum pc_toml_type type);

/* Testing only: when nonzero, the Nth allocation (1-based) of each later parse fails, so tests
 * can check that every -ENOMEM path frees everything. Never set it outside tests. */
extern unsigned long pc_toml__fail_alloc_at;

#endif
