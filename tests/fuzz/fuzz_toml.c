/* libFuzzer harness for the TOML reader. Parses the input; on failure checks the error (a code
 * from the contract, a message, a position inside the input); on success walks the whole tree
 * checking its invariants (valid UTF-8 without NUL everywhere, lengths, unique keys, bounded
 * depth), then writes the tree back as TOML, parses that and requires the same tree: decoding
 * and the checks agree with each other. Any violation aborts. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"
#include "core/error.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes every character to its code point and checks the range: an implementation of UTF-8
 * validity independent of the parser's. */
static bool valid_utf8_no_nul(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp, min;
		size_t len;
		if (s[i] == 0)
			return false;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2, cp = s[i] & 0x1fu, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3, cp = s[i] & 0x0fu, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4, cp = s[i] & 0x07u, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* A TOML basic string holding exactly s. */
static void emit_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void emit_value(FILE *f, const struct pc_toml_value *v);

static void emit_pairs(FILE *f, const struct pc_toml_value *t, const char *sep)
{
	for (size_t i = 0; i < t->u.table.len; i++) {
		if (i)
			fputs(sep, f);
		emit_string(f, t->u.table.items[i].key, t->u.table.items[i].key_len);
		fputs(" = ", f);
		emit_value(f, t->u.table.items[i].value);
	}
}

static void emit_value(FILE *f, const struct pc_toml_value *v)
{
	char num[40];
	switch (v->type) {
	case PC_TOML_TABLE:
		fputc('{', f);
		emit_pairs(f, v, ", ");
		fputc('}', f);
		return;
	case PC_TOML_ARRAY:
		fputc('[', f);
		for (size_t i = 0; i < v->u.array.len; i++) {
			if (i)
				fputs(", ", f);
			emit_value(f, v->u.array.items[i]);
		}
		fputc(']', f);
		return;
	case PC_TOML_STRING:
		emit_string(f, v->u.str.ptr, v->u.str.len);
		return;
	case PC_TOML_INTEGER:
		fprintf(f, "%lld", (long long)v->u.integer);
		return;
	case PC_TOML_FLOAT:
		if (isnan(v->u.flt))
			snprintf(num, sizeof num, "%snan", signbit(v->u.flt) ? "-" : "");
		else if (isinf(v->u.flt))
			snprintf(num, sizeof num, "%sinf", v->u.flt < 0 ? "-" : "");
		else
			snprintf(num, sizeof num, "%.17g", v->u.flt);
		fprintf(f, "%s%s", num, strpbrk(num, ".ena") ? "" : ".0");
		return;
	case PC_TOML_BOOLEAN:
		fputs(v->u.boolean ? "true" : "false", f);
		return;
	}
	CHECK(!"unknown type");
}

/* The tree written back as TOML: root keys one a line, tables inline. Caller frees. */
static char *emit_document(const struct pc_toml_value *root, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	CHECK(f);
	emit_pairs(f, root, "\n");
	fputc('\n', f);
	CHECK(fclose(f) == 0);
	return text;
}

static int compare_kv(const void *a, const void *b)
{
	const struct pc_toml_kv *x = *(const struct pc_toml_kv *const *)a;
	const struct pc_toml_kv *y = *(const struct pc_toml_kv *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static void check_tree(const struct pc_toml_value *v, unsigned depth, uint32_t lines)
{
	CHECK(depth <= PC_TOML_MAX_DEPTH);
	CHECK(v->line >= 1 && v->line <= lines && v->col >= 1);
	switch (v->type) {
	case PC_TOML_TABLE: {
		size_t n = v->u.table.len;
		const struct pc_toml_kv **sorted = malloc((n ? n : 1) * sizeof *sorted);
		CHECK(sorted);
		for (size_t i = 0; i < n; i++) {
			const struct pc_toml_kv *kv = &v->u.table.items[i];
			CHECK(kv->key && kv->key[kv->key_len] == 0 &&
			      strlen(kv->key) == kv->key_len);
			CHECK(valid_utf8_no_nul((const unsigned char *)kv->key, kv->key_len));
			CHECK(kv->line >= 1 && kv->line <= lines && kv->col >= 1);
			CHECK(kv->value);
			if (n <= 64)
				CHECK(pc_toml_get_kv(v, kv->key) == kv);
			check_tree(kv->value, depth + 1, lines);
			sorted[i] = kv;
		}
		qsort(sorted, n, sizeof *sorted, compare_kv);
		for (size_t i = 1; i < n; i++)
			CHECK(compare_kv(&sorted[i - 1], &sorted[i]) != 0);
		free(sorted);
		return;
	}
	case PC_TOML_ARRAY:
		for (size_t i = 0; i < v->u.array.len; i++) {
			CHECK(v->u.array.items[i]);
			check_tree(v->u.array.items[i], depth + 1, lines);
		}
		return;
	case PC_TOML_STRING:
		CHECK(v->u.str.ptr && v->u.str.ptr[v->u.str.len] == 0);
		CHECK(strlen(v->u.str.ptr) == v->u.str.len);
		CHECK(valid_utf8_no_nul((const unsigned char *)v->u.str.ptr, v->u.str.len));
		return;
	case PC_TOML_INTEGER:
	case PC_TOML_FLOAT:
		return;
	case PC_TOML_BOOLEAN:
		CHECK(v->u.boolean == true || v->u.boolean == false);
		return;
	}
	CHECK(!"unknown type");
}

/* The byte offset of line:col in the input (after a BOM), or SIZE_MAX when there is none. */
static size_t offset_of(const char *s, size_t n, uint32_t line, uint32_t col)
{
	size_t i = 0;
	for (uint32_t l = 1; l < line; l++) {
		const char *nl = memchr(s + i, '\n', n - i);
		if (!nl)
			return SIZE_MAX;
		i = (size_t)(nl - s) + 1;
	}
	return i + col - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *body = text;
	size_t body_len = size;
	struct pc_toml_value *root = NULL, *again = NULL;
	struct pc_toml_error err;
	char *first, *second;
	size_t first_len, second_len;
	uint32_t lines = 1;
	int rc;

	if (size >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		body += 3;
		body_len -= 3;
	}
	for (size_t i = 0; i < body_len; i++)
		lines += body[i] == '\n';

	rc = pc_toml_parse(text, size, &root, &err);
	if (rc != 0) {
		CHECK(rc == PC_EPARSE || rc == PC_ELIMIT);
		CHECK(root == NULL);
		CHECK(memchr(err.msg, 0, sizeof err.msg) && err.msg[0]);
		CHECK(err.line >= 1 && err.col >= 1);
		CHECK(offset_of(body, body_len, err.line, err.col) <= body_len);
		return 0;
	}
	CHECK(root && root->type == PC_TOML_TABLE);
	CHECK(err.msg[0] == 0);
	/* Whatever parses is valid UTF-8 without NUL: comments too, every byte was checked. */
	CHECK(valid_utf8_no_nul((const unsigned char *)body, body_len));
	check_tree(root, 0, lines);

	first = emit_document(root, &first_len);
	pc_toml_free(root);
	if (first_len <= PC_TOML_MAX_INPUT) {
		rc = pc_toml_parse(first, first_len, &again, &err);
		if (rc != 0)
			fprintf(stderr, "re-parse failed: %u:%u: %s\n%s\n", err.line, err.col,
			        err.msg, first);
		CHECK(rc == 0);
		second = emit_document(again, &second_len);
		CHECK(second_len == first_len && memcmp(first, second, first_len) == 0);
		pc_toml_free(again);
		free(second);
	}
	free(first);
	return 0;
}
