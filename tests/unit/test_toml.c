/* Tests for the strict TOML reader: tables of valid documents checked against a canonical
 * rendering of their trees, tables of invalid documents with the position and message expected,
 * generated cases for every byte class in every context, bounds, positions and allocation
 * failures. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/toml.h"
#include "core/error.h"

/* ---- canonical rendering ----
 * table {k=v,...} in document order, array [v,...], string "..." (escapes for '"', '\\' and
 * control characters, other UTF-8 as is), integer in decimal, float in the shortest form that
 * reads back exactly (with ".0" when it would look like an integer; inf, -inf, nan, -nan),
 * booleans as true/false. Keys are bare when they can be, else quoted like strings. */

static void render_string(FILE *o, const char *s, size_t n)
{
	static const char named[] = "\"\\\b\t\n\f\r", letter[] = "\"\\btnfr";
	fputc('"', o);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = c ? strchr(named, c) : NULL;
		if (e)
			fprintf(o, "\\%c", letter[e - named]);
		else if (c < 0x20 || c == 0x7f)
			fprintf(o, "\\u%04X", c);
		else
			fputc(c, o);
	}
	fputc('"', o);
}

static void render_key(FILE *o, const char *k, size_t n)
{
	static const char bare[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	if (n > 0 && strspn(k, bare) == n)
		fwrite(k, 1, n, o);
	else
		render_string(o, k, n);
}

static void render_float(FILE *o, double d)
{
	char buf[64];
	if (isnan(d)) {
		fputs(signbit(d) ? "-nan" : "nan", o);
		return;
	}
	if (isinf(d)) {
		fputs(d < 0 ? "-inf" : "inf", o);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	fputs(buf, o);
	if (!strpbrk(buf, ".en"))
		fputs(".0", o);
}

static void render(FILE *o, const struct pc_toml_value *v)
{
	switch (v->type) {
	case PC_TOML_TABLE:
		fputc('{', o);
		for (size_t i = 0; i < v->u.table.len; i++) {
			const struct pc_toml_kv *kv = &v->u.table.items[i];
			if (i)
				fputc(',', o);
			assert_int_equal(strlen(kv->key), kv->key_len);
			render_key(o, kv->key, kv->key_len);
			fputc('=', o);
			assert_non_null(kv->value);
			render(o, kv->value);
		}
		fputc('}', o);
		break;
	case PC_TOML_ARRAY:
		fputc('[', o);
		for (size_t i = 0; i < v->u.array.len; i++) {
			if (i)
				fputc(',', o);
			render(o, v->u.array.items[i]);
		}
		fputc(']', o);
		break;
	case PC_TOML_STRING:
		assert_int_equal(strlen(v->u.str.ptr), v->u.str.len);
		render_string(o, v->u.str.ptr, v->u.str.len);
		break;
	case PC_TOML_INTEGER:
		fprintf(o, "%lld", (long long)v->u.integer);
		break;
	case PC_TOML_FLOAT:
		render_float(o, v->u.flt);
		break;
	case PC_TOML_BOOLEAN:
		fputs(v->u.boolean ? "true" : "false", o);
		break;
	default:
		fail_msg("bad type %d", (int)v->type);
	}
}

/* The canonical rendering of a tree. Caller frees. */
static char *canonical(const struct pc_toml_value *root)
{
	char *text = NULL;
	size_t len;
	FILE *o = open_memstream(&text, &len);
	assert_non_null(o);
	render(o, root);
	assert_int_equal(fclose(o), 0);
	return text;
}

/* Parses and renders; on a parse error returns "ERROR line:col: message". Caller frees. */
static char *parse_render(const char *in, size_t len)
{
	struct pc_toml_value *root = (struct pc_toml_value *)1;
	struct pc_toml_error err;
	char *text;
	int rc = pc_toml_parse(in, len, &root, &err);

	if (rc != 0) {
		assert_null(root);
		assert_int_not_equal(asprintf(&text, "ERROR %u:%u: %s", err.line, err.col, err.msg),
		                     -1);
		return text;
	}
	assert_non_null(root);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, "");
	text = canonical(root);
	pc_toml_free(root);
	return text;
}

/* ---- valid documents ---- */

struct good {
	const char *in;
	size_t len;
	const char *want;
};

#define G(in, want)                                                                                \
	{                                                                                          \
		in, sizeof(in) - 1, want                                                           \
	}

static const struct good good_docs[] = {
        /* empty and blank documents */
        G("", "{}"),
        G("\n\n", "{}"),
        G("   \t \n\t\n", "{}"),
        G("# only a comment", "{}"),
        G("# a\n# b\n", "{}"),
        G("\r\n\r\n", "{}"),
        /* key/value basics */
        G("a = 1", "{a=1}"),
        G("a=1", "{a=1}"),
        G("a = 1\nb = 2", "{a=1,b=2}"),
        G("  a\t=\t1  # comment\n", "{a=1}"),
        G("a = 1 #comment", "{a=1}"),
        G("a = 1#comment", "{a=1}"),
        G("a = 1\n\n\n b = 2 \n", "{a=1,b=2}"),
        G("b = 1\na = 2\nc = 3", "{b=1,a=2,c=3}"),
        /* bare keys */
        G("A-b_9 = 1", "{A-b_9=1}"),
        G("1234 = 1", "{1234=1}"),
        G("- = 1", "{-=1}"),
        G("_ = 1", "{_=1}"),
        G("true = 1\nfalse = 2", "{true=1,false=2}"),
        G("inf = 1\nnan = 2", "{inf=1,nan=2}"),
        G("0x10 = 1", "{0x10=1}"),
        /* quoted keys */
        G("\"a b\" = 1", "{\"a b\"=1}"),
        G("'c d' = 1", "{\"c d\"=1}"),
        G("\"\" = 1", "{\"\"=1}"),
        G("'' = 1", "{\"\"=1}"),
        G("\"a.b\" = 1", "{\"a.b\"=1}"),
        G("\"\\u00e9\" = 1", "{\"\xc3\xa9\"=1}"),
        G("'\\n' = 1", "{\"\\\\n\"=1}"),
        G("\"\\n\" = 1", "{\"\\n\"=1}"),
        G("\"#\" = 1", "{\"#\"=1}"),
        G("\"=\" = 1", "{\"=\"=1}"),
        G("\"a\" = 1\n\"b\" = 2", "{a=1,b=2}"),
        G("\"\\u0001\" = 1", "{\"\\u0001\"=1}"),
        /* dotted keys */
        G("a.b.c = 1", "{a={b={c=1}}}"),
        G("a . b = 1", "{a={b=1}}"),
        G("a\t.\tb = 1", "{a={b=1}}"),
        G("\"a\".'b'.c = 1", "{a={b={c=1}}}"),
        G("1.2 = 3", "{1={2=3}}"),
        G("\"\".a = 1", "{\"\"={a=1}}"),
        G("a.b = 1\na.c = 2", "{a={b=1,c=2}}"),
        G("a.b.c = 1\na.b.d = 2\na.e = 3", "{a={b={c=1,d=2},e=3}}"),
        G("a.\"b.c\" = 1", "{a={\"b.c\"=1}}"),
        G("site.\"google.com\" = true", "{site={\"google.com\"=true}}"),
        /* tables */
        G("[a]", "{a={}}"),
        G("[a]\nx = 1\n[b]\ny = 2", "{a={x=1},b={y=2}}"),
        G("[ a ]", "{a={}}"),
        G("[\ta\t.\tb\t]", "{a={b={}}}"),
        G("[ \"a\" . 'b' ]", "{a={b={}}}"),
        G("[\"a b\".c]", "{\"a b\"={c={}}}"),
        G("[a.b.c]\nx = 1\n[a]\ny = 2", "{a={b={c={x=1}},y=2}}"),
        G("[a.b.c]\n[a.b]\nx = 1", "{a={b={c={},x=1}}}"),
        G("[a.b]\n[a]\n[a.c]", "{a={b={},c={}}}"),
        G("[b]\n[a]", "{b={},a={}}"),
        G("x = 1\n[a]\nx = 2", "{x=1,a={x=2}}"),
        G("[a] # comment\nb = 1", "{a={b=1}}"),
        G("[a]#comment", "{a={}}"),
        G("[a]\n\n\nb = 1\n", "{a={b=1}}"),
        /* tables and dotted keys */
        G("[a]\nb.c = 1\n[a.b.d]\ne = 2", "{a={b={c=1,d={e=2}}}}"),
        G("a.b = 1\n[a.c]\nx = 2", "{a={b=1,c={x=2}}}"),
        G("[fruit]\napple.color = 'red'\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth "
          "= true",
          "{fruit={apple={color=\"red\",taste={sweet=true},texture={smooth=true}}}}"),
        G("[a.b.c]\n[a]\nb.d = 1", "{a={b={c={},d=1}}}"),
        G("[a]\nb.c.d = 1\nb.c.e = 2", "{a={b={c={d=1,e=2}}}}"),
        G("[fruit]\napple.color = 1\n[[fruit.apple.seeds]]\nsize = 2",
          "{fruit={apple={color=1,seeds=[{size=2}]}}}"),
        G("[true]\n[false]\n[inf]\n[nan]\n[1.2]", "{true={},false={},inf={},nan={},1={2={}}}"),
        G("[tbl]\na.b.c = {d.e = 1}\n[tbl.x]\na.b.c = {d.e = 1}",
          "{tbl={a={b={c={d={e=1}}}},x={a={b={c={d={e=1}}}}}}}"),
        /* arrays of tables */
        G("[[a]]", "{a=[{}]}"),
        G("[[a]]\n[[a]]", "{a=[{},{}]}"),
        G("[[a]]\nx = 1\n[[a]]\nx = 2", "{a=[{x=1},{x=2}]}"),
        G("[[ a ]]", "{a=[{}]}"),
        G("[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2", "{a=[{b={x=1}},{b={x=2}}]}"),
        G("[[a.b]]\nx = 1\n[a]\ny = 2", "{a={b=[{x=1}],y=2}}"),
        G("[[a]]\n[[a.b]]\nx = 1\n[[a.b]]\nx = 2", "{a=[{b=[{x=1},{x=2}]}]}"),
        G("[a]\n[[a.b]]\n[[a.b]]", "{a={b=[{},{}]}}"),
        G("[[a]] # comment\n[[a]]#c", "{a=[{},{}]}"),
        G("[[a]]\nb.c = 1\n[[a]]\nb.c = 2", "{a=[{b={c=1}},{b={c=2}}]}"),
        G("[[a]]\n[a.b.c]\n[[a]]\n[a.b.c]", "{a=[{b={c={}}},{b={c={}}}]}"),
        G("[[products]]\nname = \"Hammer\"\nsku = 738594937\n\n[[products]]  # empty\n\n"
          "[[products]]\nname = \"Nail\"\nsku = 284758393\ncolor = \"gray\"",
          "{products=[{name=\"Hammer\",sku=738594937},{},{name=\"Nail\",sku=284758393,color="
          "\"gray\"}]}"),
        /* basic strings and every escape */
        G("s = \"\"", "{s=\"\"}"),
        G("s = \"abc\"", "{s=\"abc\"}"),
        G("s = \"\\b\\t\\n\\f\\r\\\"\\\\\"", "{s=\"\\b\\t\\n\\f\\r\\\"\\\\\"}"),
        G("s = \"\\u0041\\u00e9\\u20AC\\U0001F600\\U0010FFFF\"",
          "{s=\"A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}"),
        G("s = \"\\u00E9\\u00e9\"", "{s=\"\xc3\xa9\xc3\xa9\"}"),
        G("s = \"\\U000000e9\"", "{s=\"\xc3\xa9\"}"),
        G("s = \"\\uFFFF\\uD7FF\\uE000\\u0080\\u07FF\\u0800\"",
          "{s=\"\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\xdf\xbf\xe0\xa0\x80\"}"),
        G("s = \"\\U00010000\"", "{s=\"\xf0\x90\x80\x80\"}"),
        G("s = \"\\u0001\\u001F\\u007F\"", "{s=\"\\u0001\\u001F\\u007F\"}"),
        G("s = \"tab\there\"", "{s=\"tab\\there\"}"),
        G("s = \"\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbb\xbf\"",
          "{s=\"\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbb\xbf\"}"),
        G("s = \"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\"",
          "{s=\"\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\xc2\x80\"}"),
        G("s = \"a'b\"", "{s=\"a'b\"}"),
        G("s = \"# not a comment\"", "{s=\"# not a comment\"}"),
        G("s = \"\\\\u0041\"", "{s=\"\\\\u0041\"}"),
        /* literal strings */
        G("s = ''", "{s=\"\"}"),
        G("s = 'C:\\path\\n'", "{s=\"C:\\\\path\\\\n\"}"),
        G("s = 'a\"b'", "{s=\"a\\\"b\"}"),
        G("s = 'tab\there'", "{s=\"tab\\there\"}"),
        G("s = '\xc3\xa9'", "{s=\"\xc3\xa9\"}"),
        /* multi-line basic strings */
        G("s = \"\"\"\"\"\"", "{s=\"\"}"),
        G("s = \"\"\"\nabc\"\"\"", "{s=\"abc\"}"),
        G("s = \"\"\"\r\nabc\"\"\"", "{s=\"abc\"}"),
        G("s = \"\"\"abc\ndef\"\"\"", "{s=\"abc\\ndef\"}"),
        G("s = \"\"\"\n\nabc\"\"\"", "{s=\"\\nabc\"}"),
        G("s = \"\"\"\r\n\r\nabc\r\n\"\"\"", "{s=\"\\nabc\\n\"}"),
        G("s = \"\"\"a\r\nb\"\"\"", "{s=\"a\\nb\"}"),
        G("s = \"\"\"a \\\n   b\"\"\"", "{s=\"a b\"}"),
        G("s = \"\"\"a\\   \n\n  \t b\"\"\"", "{s=\"ab\"}"),
        G("s = \"\"\"a\\\t\n b\"\"\"", "{s=\"ab\"}"),
        G("s = \"\"\"\\\n\"\"\"", "{s=\"\"}"),
        G("s = \"\"\"\\\n   \n  \"\"\"", "{s=\"\"}"),
        G("s = \"\"\"a\\\r\n  b\"\"\"", "{s=\"ab\"}"),
        G("s = \"\"\"\nThe quick \\\n\n  brown \\\n  fox\"\"\"", "{s=\"The quick brown fox\"}"),
        G("s = \"\"\"a\\\\\nb\"\"\"", "{s=\"a\\\\\\nb\"}"),
        G("s = \"\"\"a\"b\"\"c\"\"\"", "{s=\"a\\\"b\\\"\\\"c\"}"),
        G("s = \"\"\"\"\"\"\"", "{s=\"\\\"\"}"),
        G("s = \"\"\"\"\"\"\"\"", "{s=\"\\\"\\\"\"}"),
        G("s = \"\"\"x\"\"\"\"\"", "{s=\"x\\\"\\\"\"}"),
        G("s = \"\"\"x\"\"\"\"", "{s=\"x\\\"\"}"),
        G("s = \"\"\"\"x\"\"\"", "{s=\"\\\"x\"}"),
        G("s = \"\"\"\"\"x\"\"\"", "{s=\"\\\"\\\"x\"}"),
        G("s = \"\"\"a\\\"\"\"b\"\"\"", "{s=\"a\\\"\\\"\\\"b\"}"),
        G("s = \"\"\"a\\tb\\u00e9\"\"\"", "{s=\"a\\tb\xc3\xa9\"}"),
        G("s = \"\"\"tab\there\"\"\"", "{s=\"tab\\there\"}"),
        G("s = \"\"\"a # b\n[c]\"\"\"", "{s=\"a # b\\n[c]\"}"),
        G("s = \"\"\"'''\"\"\"", "{s=\"'''\"}"),
        /* multi-line literal strings */
        G("s = ''''''", "{s=\"\"}"),
        G("s = '''\nabc'''", "{s=\"abc\"}"),
        G("s = '''\r\nabc'''", "{s=\"abc\"}"),
        G("s = '''a\\nb\\'''", "{s=\"a\\\\nb\\\\\"}"),
        G("s = '''a\\\nb'''", "{s=\"a\\\\\\nb\"}"),
        G("s = '''a''b'''", "{s=\"a''b\"}"),
        G("s = ''''a'''''", "{s=\"'a''\"}"),
        G("s = '''''''", "{s=\"'\"}"),
        G("s = ''''''''", "{s=\"''\"}"),
        G("s = '''a\r\nb\r\n'''", "{s=\"a\\nb\\n\"}"),
        G("s = '''\n\n'''", "{s=\"\\n\"}"),
        G("s = '''\"\"\"'''", "{s=\"\\\"\\\"\\\"\"}"),
        G("s = '''tab\there \xc3\xa9'''", "{s=\"tab\\there \xc3\xa9\"}"),
        /* integers */
        G("i = 0", "{i=0}"),
        G("i = +0", "{i=0}"),
        G("i = -0", "{i=0}"),
        G("i = +99", "{i=99}"),
        G("i = -17", "{i=-17}"),
        G("i = 42", "{i=42}"),
        G("i = 1_000", "{i=1000}"),
        G("i = 5_349_221", "{i=5349221}"),
        G("i = 1_2_3_4_5", "{i=12345}"),
        G("i = -1_0", "{i=-10}"),
        G("i = 0xDEADBEEF", "{i=3735928559}"),
        G("i = 0xdeadbeef", "{i=3735928559}"),
        G("i = 0xdead_beef", "{i=3735928559}"),
        G("i = 0x00ff", "{i=255}"),
        G("i = 0x0", "{i=0}"),
        G("i = 0o01234567", "{i=342391}"),
        G("i = 0o755", "{i=493}"),
        G("i = 0o7_5_5", "{i=493}"),
        G("i = 0b11010110", "{i=214}"),
        G("i = 0b0001", "{i=1}"),
        G("i = 0b1_0", "{i=2}"),
        G("i = 9223372036854775807", "{i=9223372036854775807}"),
        G("i = -9223372036854775808", "{i=-9223372036854775808}"),
        G("i = +9_223_372_036_854_775_807", "{i=9223372036854775807}"),
        G("i = 0x7FFFFFFFFFFFFFFF", "{i=9223372036854775807}"),
        G("i = 0x00000000007FFFFFFFFFFFFFFF", "{i=9223372036854775807}"),
        G("i = 0o777777777777777777777", "{i=9223372036854775807}"),
        G("i = 0b111111111111111111111111111111111111111111111111111111111111111",
          "{i=9223372036854775807}"),
        /* floats */
        G("f = +1.0", "{f=1.0}"),
        G("f = 3.1415", "{f=3.1415}"),
        G("f = -0.01", "{f=-0.01}"),
        G("f = 5e+22", "{f=5e+22}"),
        G("f = 1e06", "{f=1e+06}"),
        G("f = -2E-2", "{f=-0.02}"),
        G("f = 6.626e-34", "{f=6.626e-34}"),
        G("f = 224_617.445_991_228", "{f=224617.445991228}"),
        G("f = 0.0", "{f=0.0}"),
        G("f = +0.0", "{f=0.0}"),
        G("f = -0.0", "{f=-0.0}"),
        G("f = 0e0", "{f=0.0}"),
        G("f = 0E+0", "{f=0.0}"),
        G("f = 1e1_0", "{f=1e+10}"),
        G("f = 1_0.0_1e0_1", "{f=100.1}"),
        G("f = 0.1", "{f=0.1}"),
        G("f = 1.7976931348623157e308", "{f=1.7976931348623157e+308}"),
        G("f = 1e-400", "{f=0.0}"),
        G("f = 4.9e-324", "{f=5e-324}"),
        G("f = 0.000000000000000000000000000000000000000000000000000001", "{f=1e-54}"),
        G("f = inf", "{f=inf}"),
        G("f = +inf", "{f=inf}"),
        G("f = -inf", "{f=-inf}"),
        G("f = nan", "{f=nan}"),
        G("f = +nan", "{f=nan}"),
        G("f = -nan", "{f=-nan}"),
        /* booleans */
        G("t = true\nf = false", "{t=true,f=false}"),
        /* arrays */
        G("a = []", "{a=[]}"),
        G("a = [ ]", "{a=[]}"),
        G("a = [\n]", "{a=[]}"),
        G("a = [1,2,3]", "{a=[1,2,3]}"),
        G("a = [ 1 , 2 , 3 ]", "{a=[1,2,3]}"),
        G("a = [1,]", "{a=[1]}"),
        G("a = [1 , ]", "{a=[1]}"),
        G("a = [\n1,\n2,\n]", "{a=[1,2]}"),
        G("a = [ # c\n 1 # d\n , # e\n 2 # f\n ] # g", "{a=[1,2]}"),
        G("a = [\n# only a comment\n]", "{a=[]}"),
        G("a = [1, 'x', 2.5, true, [], {}]", "{a=[1,\"x\",2.5,true,[],{}]}"),
        G("a = [[1,2],[3]]", "{a=[[1,2],[3]]}"),
        G("a = [[[[]]]]", "{a=[[[[]]]]}"),
        G("a = [{x=1},{x=2}]", "{a=[{x=1},{x=2}]}"),
        G("a = [\r\n1,\r\n2\r\n]", "{a=[1,2]}"),
        G("a = [\"]\", ']', \"\"\"]\"\"\", ''']''']", "{a=[\"]\",\"]\",\"]\",\"]\"]}"),
        G("a = [\n\t1,\n\t2,\n]\nb = 1", "{a=[1,2],b=1}"),
        G("a = [ \"\"\"\nx\ny\"\"\", '''\nz''' ]", "{a=[\"x\\ny\",\"z\"]}"),
        /* inline tables */
        G("a = {}", "{a={}}"),
        G("a = { }", "{a={}}"),
        G("a = {x = 1}", "{a={x=1}}"),
        G("a = {x=1, y=\"s\"}", "{a={x=1,y=\"s\"}}"),
        G("a = { x = 1 , y = 2 }", "{a={x=1,y=2}}"),
        G("a = {x.y = 1, x.z = 2}", "{a={x={y=1,z=2}}}"),
        G("a = {b = {c = 1}}", "{a={b={c=1}}}"),
        G("a = {x = [1,\n2]}", "{a={x=[1,2]}}"),
        G("a = {x = [ # c\n]}", "{a={x=[]}}"),
        G("a = {x = \"\"\"\nq\nr\"\"\"}", "{a={x=\"q\\nr\"}}"),
        G("a = {\"b c\" = 1, 'd' = 2}", "{a={\"b c\"=1,d=2}}"),
        G("a = {b = {}, c = []}", "{a={b={},c=[]}}"),
        G("[t]\na = {b = 1}\nc.d = 2", "{t={a={b=1},c={d=2}}}"),
        G("a.b = {c = 1}", "{a={b={c=1}}}"),
        G("a = [{b = [{c = {}}]}]", "{a=[{b=[{c={}}]}]}"),
        /* CRLF and BOM */
        G("a = 1\r\nb = 2\r\n[t]\r\nc = 3\r\n", "{a=1,b=2,t={c=3}}"),
        G("# c\r\na = 1 # d\r\n", "{a=1}"),
        G("a = 1\nb = 2\r\n", "{a=1,b=2}"),
        G("\xef\xbb\xbf", "{}"),
        G("\xef\xbb\xbf"
          "a = 1",
          "{a=1}"),
        G("\xef\xbb\xbf# c\n", "{}"),
        /* comments hold any text */
        G("a = 1 # \xc3\xa9\tx \xf0\x9f\x98\x80 \"\"\" ''' [a] = \\q", "{a=1}"),
        G("#\n#\t\n# \xef\xbb\xbf", "{}"),
        /* values next to delimiters */
        G("a = \"#x\"", "{a=\"#x\"}"),
        G("a = 'x' # c", "{a=\"x\"}"),
        G("a=[1]#c", "{a=[1]}"),
        G("a={b=1}#c", "{a={b=1}}"),
        G("a = -1\nb = +1.5\nc = -inf", "{a=-1,b=1.5,c=-inf}"),
        /* the shipped default configuration's shapes */
        G("[network]\nenabled = true\nproxy_url = \"http://127.0.0.1:3128\"\nmode = \"full\"\n"
          "allowed_domains = []\ndenied_domains = [\"*.evil.example\", \"10.0.0.0/8\"]\n"
          "[network.mitm]\nenabled = false\n[profiles.npm]\nallowed_domains = "
          "[\"registry.npmjs.org\"]\n",
          "{network={enabled=true,proxy_url=\"http://127.0.0.1:3128\",mode=\"full\",allowed_"
          "domains=[],denied_domains=[\"*.evil.example\",\"10.0.0.0/8\"],mitm={enabled=false}},"
          "profiles={npm={allowed_domains=[\"registry.npmjs.org\"]}}}"),
};

static void valid_documents_render_as_expected(void **state)
{
	int failures = 0;
	(void)state;
	for (size_t i = 0; i < sizeof good_docs / sizeof good_docs[0]; i++) {
		const struct good *g = &good_docs[i];
		char *got = parse_render(g->in, g->len);
		if (strcmp(got, g->want) != 0) {
			print_error("good[%zu] %s\n   want %s\n   got  %s\n", i, g->in, g->want,
			            got);
			failures++;
		}
		free(got);
	}
	assert_int_equal(failures, 0);
}

/* ---- invalid documents ---- */

struct bad {
	const char *in;
	size_t len;
	uint32_t line, col;
	const char *msg; /* a fragment of the message */
};

#define B(in, line, col, msg)                                                                      \
	{                                                                                          \
		in, sizeof(in) - 1, line, col, msg                                                 \
	}

static const struct bad bad_docs[] = {
        /* keys */
        B("a", 1, 2, "expected '=' after key, found end of input"),
        B("a\n", 1, 2, "expected '=' after key, found end of line"),
        B("a\r\n", 1, 2, "expected '=' after key, found end of line"),
        B("a = 1\nb", 2, 2, "expected '=' after key"),
        B("a b = 1", 1, 3, "expected '=' after key, found 'b'"),
        B("a.b.c", 1, 6, "expected '=' after key"),
        B("a\n= 1", 1, 2, "expected '=' after key"),
        B("= 1", 1, 1, "expected a key, found '='"),
        B("a. = 1", 1, 4, "expected a key after '.', found '='"),
        B(".a = 1", 1, 1, "expected a key, found '.'"),
        B("a..b = 1", 1, 3, "expected a key after '.'"),
        B("a.\nb = 1", 1, 3, "expected a key after '.', found end of line"),
        B("\xc3\xa9 = 1", 1, 1, "expected a key, found '\xc3\xa9'"),
        B("a$ = 1", 1, 2, "expected '=' after key, found '$'"),
        B("\"\"\"a\"\"\" = 1", 1, 1, "a multi-line string cannot be a key"),
        B("'''a''' = 1", 1, 1, "a multi-line string cannot be a key"),
        B("\"a = 1", 1, 1, "unterminated string"),
        B("'a = 1", 1, 1, "unterminated string"),
        B("\"a\nb\" = 1", 1, 1, "unterminated string"),
        B("\"a\"b = 1", 1, 4, "expected '=' after key, found 'b'"),
        B("\"\\q\" = 1", 1, 2, "invalid escape '\\q' in string"),
        B("a = 1 = 2", 1, 7, "expected end of line after the value, found '='"),
        /* duplicate keys */
        B("a = 1\na = 2", 2, 1, "duplicate key 'a'"),
        B("a = 1\n\"a\" = 2", 2, 1, "duplicate key 'a'"),
        B("a = 1\n'a' = 2", 2, 1, "duplicate key 'a'"),
        B("\"\\u0061\" = 1\na = 2", 2, 1, "duplicate key 'a'"),
        B("a = 1\n\"\\u0061\" = 2", 2, 1, "duplicate key 'a'"),
        B("\"\" = 1\n'' = 2", 2, 1, "duplicate key '\"\"'"),
        B("a.b = 1\na.b = 2", 2, 3, "duplicate key 'a.b'"),
        B("[t]\na = 1\n  a = 2", 3, 3, "duplicate key 'a'"),
        B("mode = \"full\"\nmode = \"limited\"", 2, 1, "duplicate key 'mode'"),
        B("\"a b\" = 1\n'a b' = 2", 2, 1, "duplicate key '\"a b\"'"),
        B("a = {b = 1, b = 2}", 1, 13, "duplicate key 'b'"),
        B("a = {b.c = 1, b.c = 2}", 1, 17, "duplicate key 'b.c'"),
        B("[[t]]\na = 1\na = 2", 3, 1, "duplicate key 'a'"),
        /* keys that collide with values */
        B("a = 1\na.b = 2", 2, 1, "'a' is already an integer, not a table"),
        B("a = \"x\"\n[a]", 2, 2, "'a' is already a string, not a table"),
        B("a = 1.5\n[a.b]", 2, 2, "'a' is already a float, not a table"),
        B("a = true\n[[a]]", 2, 3, "'a' is already a boolean, not an array of tables"),
        B("a = [1]\na.b = 2", 2, 1, "array 'a' was defined as a value and cannot be extended"),
        B("a = []\n[[a]]", 2, 3, "array 'a' was defined as a value and cannot be extended"),
        B("a = [{}]\n[a.b]", 2, 2, "array 'a' was defined as a value and cannot be extended"),
        B("a = [{}]\n[[a.b]]", 2, 3, "array 'a' was defined as a value"),
        B("a = {b = 1, b.c = 2}", 1, 13, "'b' is already an integer, not a table"),
        B("[a]\nb = 1\n[a.b]", 3, 4, "'a.b' is already an integer, not a table"),
        B("[a]\nb = 1\n[a.b.c]", 3, 4, "'a.b' is already an integer, not a table"),
        B("a.b = 1\na.b.c = 2", 2, 3, "'a.b' is already an integer, not a table"),
        /* tables defined twice */
        B("[a]\n[a]", 2, 2, "table 'a' is already defined"),
        B("[a]\nx = 1\n[b]\n[a]", 4, 2, "table 'a' is already defined"),
        B("[a.b]\n[a.b]", 2, 4, "table 'a.b' is already defined"),
        B("[a]\n[a.b]\n[a]", 3, 2, "table 'a' is already defined"),
        B("[a.b]\n[a]\n[a]", 3, 2, "table 'a' is already defined"),
        B("[ a ]\n[\"a\"]", 2, 2, "table 'a' is already defined"),
        B("a.b = 1\n[a]", 2, 2, "table 'a' is already defined by dotted keys"),
        B("[x]\na.b = 1\n[x.a]", 3, 4, "table 'x.a' is already defined by dotted keys"),
        B("[fruit]\napple.color = 1\n[fruit.apple]", 3, 8,
          "table 'fruit.apple' is already defined by dotted keys"),
        B("[a.b.c]\n[a]\nb.d = 1\n[a.b]", 4, 4, "table 'a.b' is already defined by dotted keys"),
        B("[[a]]\n[a]", 2, 2, "'a' is already an array of tables, not a table"),
        B("[[a.b]]\n[a.b]", 2, 4, "'a.b' is already an array of tables, not a table"),
        B("[a]\n[[a]]", 2, 3, "'a' is already a table, not an array of tables"),
        B("[a.b]\n[[a]]", 2, 3, "'a' is already a table, not an array of tables"),
        B("a.b = 1\n[[a]]", 2, 3, "'a' is already a table, not an array of tables"),
        B("[[a]]\n[a.b]\n[a.b]", 3, 4, "table 'a.b' is already defined"),
        /* dotted keys cannot reach into tables that headers defined */
        B("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, 3,
          "table 'b.c' was defined by a [header] and cannot be extended with dotted keys"),
        B("[a.b.c.d]\nz = 9\n[a]\nb.c.d.k.t = 1", 4, 5, "table 'b.c.d' was defined by a [header]"),
        B("[[a.b]]\n[a]\nb.c = 1", 3, 1, "'b' is already an array of tables, not a table"),
        B("[[albums.songs]]\n[[albums]]", 2, 3, "'albums' is already a table, not an array of"),
        B("a = 1\n[[a.b]]", 2, 3, "'a' is already an integer, not a table"),
        B("[a]\n[a.b]\n[a]", 3, 2, "table 'a' is already defined"),
        /* inline tables are closed */
        B("a = {}\n[a]", 2, 2, "inline table 'a' cannot be extended"),
        B("a = {}\n[a.b]", 2, 2, "inline table 'a' cannot be extended"),
        B("a = {}\n[[a]]", 2, 3, "inline table 'a' cannot be extended"),
        B("a = {b = 1}\na.c = 2", 2, 1, "inline table 'a' cannot be extended"),
        B("a = {b = {c = 1}}\na.b.d = 2", 2, 1, "inline table 'a' cannot be extended"),
        B("a = {b = {}, b.c = 1}", 1, 14, "inline table 'b' cannot be extended"),
        B("a = {b.c = 1}\n[a.b]", 2, 2, "inline table 'a' cannot be extended"),
        B("[t]\na = {}\n[t.a.b]", 3, 4, "inline table 't.a' cannot be extended"),
        B("a = [{b = 1}]\n[[a]]", 2, 3, "array 'a' was defined as a value"),
        /* table headers */
        B("[]", 1, 2, "expected a key, found ']'"),
        B("[a", 1, 3, "expected ']' after the table name, found end of input"),
        B("[a\n]", 1, 3, "expected ']' after the table name, found end of line"),
        B("[a.]", 1, 4, "expected a key after '.', found ']'"),
        B("[.a]", 1, 2, "expected a key, found '.'"),
        B("[a]]", 1, 4, "expected end of line after the table header, found ']'"),
        B("[a] b = 1", 1, 5, "expected end of line after the table header, found 'b'"),
        B("[a b]", 1, 4, "expected ']' after the table name, found 'b'"),
        B("[[a]", 1, 5, "expected ']]' after the array-of-tables name, found end of input"),
        B("[[a] ]", 1, 5, "expected ']]' after the array-of-tables name"),
        B("[[a]]]", 1, 6, "expected end of line after the table header"),
        B("[ [a]]", 1, 3, "expected a key, found '['"),
        B("[[]]", 1, 3, "expected a key, found ']'"),
        B("[\"a\nb\"]", 1, 2, "unterminated string"),
        B("[\"\"\"a\"\"\"]", 1, 2, "a multi-line string cannot be a key"),
        B("[a] = 1", 1, 5, "expected end of line after the table header, found '='"),
        B("[a.b\n.c]", 1, 5, "expected ']' after the table name, found end of line"),
        /* values */
        B("a =", 1, 4, "expected a value, found end of input"),
        B("a = \n", 1, 5, "expected a value, found end of line"),
        B("a = # c", 1, 5, "expected a value, found '#'"),
        B("a = @", 1, 5, "expected a value, found '@'"),
        B("a = b", 1, 5, "invalid value 'b' (strings must be quoted)"),
        B("a = full", 1, 5, "invalid value 'full'"),
        B("a = True", 1, 5, "invalid value 'True'"),
        B("a = truex", 1, 5, "invalid value 'truex'"),
        B("a = true1", 1, 5, "invalid value 'true1'"),
        B("a = 1 2", 1, 7, "expected end of line after the value, found '2'"),
        B("a = \"x\" y", 1, 9, "expected end of line after the value, found 'y'"),
        B("a = \"x\"\"", 1, 8, "expected end of line after the value, found '\"'"),
        B("a = 1,2", 1, 6, "expected end of line after the value, found ','"),
        B("a = [1] x", 1, 9, "expected end of line after the value, found 'x'"),
        B("a = {} x", 1, 8, "expected end of line after the value"),
        B("a = 1 b = 2", 1, 7, "expected end of line after the value, found 'b'"),
        B("a = 1\r", 1, 6, "found a carriage return without line feed"),
        B("a = 1\rb = 2", 1, 6, "found a carriage return without line feed"),
        B("a = 1 \x01", 1, 7, "found control character U+0001"),
        B("a = 1 \x7f", 1, 7, "found control character U+007F"),
        B("a = 1 \xef\xbb\xbf", 1, 7, "found '\xef\xbb\xbf'"),
        B("a = 1\n\xef\xbb\xbf", 2, 1, "expected a key, found '\xef\xbb\xbf'"),
        B("\xef\xbb\xbf\xef\xbb\xbf", 1, 1, "expected a key"),
        /* strings */
        B("a = \"abc", 1, 5, "unterminated string"),
        B("a = \"abc\nd\"", 1, 5, "unterminated string"),
        B("a = \"abc\r\nd\"", 1, 5, "unterminated string"),
        B("a = 'abc", 1, 5, "unterminated string"),
        B("a = 'a\nb'", 1, 5, "unterminated string"),
        B("a = \"\"\"abc", 1, 5, "unterminated string"),
        B("a = \"\"\"abc\"\"", 1, 5, "unterminated string"),
        B("a = \"\"\"abc\n\n", 1, 5, "unterminated string"),
        B("a = '''abc''", 1, 5, "unterminated string"),
        B("a = '''", 1, 5, "unterminated string"),
        B("a = \"\\\"", 1, 5, "unterminated string"),
        B("a = \"\\", 1, 5, "unterminated string"),
        B("a = \"\"\"\\", 1, 5, "unterminated string"),
        B("a = \"\"\"a\\   ", 1, 5, "unterminated string"),
        B("a = \"\\q\"", 1, 6, "invalid escape '\\q' in string"),
        B("a = \"\\x41\"", 1, 6, "invalid escape '\\x' in string"),
        B("a = \"\\e\"", 1, 6, "invalid escape '\\e' in string"),
        B("a = \"\\a\"", 1, 6, "invalid escape '\\a' in string"),
        B("a = \"\\v\"", 1, 6, "invalid escape '\\v' in string"),
        B("a = \"\\0\"", 1, 6, "invalid escape '\\0' in string"),
        B("a = \"\\'\"", 1, 6, "invalid escape '\\'' in string"),
        B("a = \"\\/\"", 1, 6, "invalid escape '\\/' in string"),
        B("a = \"\\N\"", 1, 6, "invalid escape '\\N' in string"),
        B("a = \"\\ \"", 1, 6, "invalid escape: '\\' followed by ' ' in string"),
        B("a = \"\\\tx\"", 1, 6, "invalid escape: '\\' followed by a tab in string"),
        B("a = \"a\\\nb\"", 1, 7, "invalid escape: '\\' followed by end of line in string"),
        B("a = \"\\\xc3\xa9\"", 1, 6, "invalid escape: '\\' followed by '\xc3\xa9' in string"),
        B("a = \"\\\x01\"", 1, 6, "invalid escape: '\\' followed by control character U+0001"),
        B("a = \"\"\"\\q\"\"\"", 1, 8, "invalid escape '\\q' in string"),
        B("a = \"\\u12\"", 1, 6, "'\\u' must be followed by 4 hexadecimal digits"),
        B("a = \"\\u12G4\"", 1, 6, "'\\u' must be followed by 4 hexadecimal digits"),
        B("a = \"\\u\"", 1, 6, "'\\u' must be followed by 4 hexadecimal digits"),
        B("a = \"\\u+123\"", 1, 6, "'\\u' must be followed by 4 hexadecimal digits"),
        B("a = \"\\u123", 1, 6, "'\\u' must be followed by 4 hexadecimal digits"),
        B("a = \"\\U0000004\"", 1, 6, "'\\U' must be followed by 8 hexadecimal digits"),
        B("a = \"\\U0000_041\"", 1, 6, "'\\U' must be followed by 8 hexadecimal digits"),
        B("a = \"\\uD800\"", 1, 6, "'\\uD800' is a surrogate, not a Unicode character"),
        B("a = \"\\udfff\"", 1, 6, "'\\udfff' is a surrogate"),
        B("a = \"\\uDBFF\\uDFFF\"", 1, 6, "'\\uDBFF' is a surrogate"),
        B("a = \"\\U0000D800\"", 1, 6, "'\\U0000D800' is a surrogate"),
        B("a = \"\\U00110000\"", 1, 6, "'\\U00110000' is beyond U+10FFFF"),
        B("a = \"\\UFFFFFFFF\"", 1, 6, "'\\UFFFFFFFF' is beyond U+10FFFF"),
        B("a = \"\\u0000\"", 1, 6, "'\\u0000' is a NUL character, which strings cannot hold"),
        B("a = \"\\U00000000\"", 1, 6, "'\\U00000000' is a NUL character"),
        B("\"\\u0000\" = 1", 1, 2, "'\\u0000' is a NUL character"),
        B("a = \"\"\"x\\u0000\"\"\"", 1, 9, "'\\u0000' is a NUL character"),
        B("a = \"a\x01"
          "b\"",
          1, 7, "control character U+0001 in string"),
        B("a = \"a\x7f"
          "b\"",
          1, 7, "control character U+007F in string"),
        B("a = \"a\x1b"
          "b\"",
          1, 7, "control character U+001B in string"),
        B("a = \"a\x00"
          "b\"",
          1, 7, "NUL byte in string"),
        B("a = 'a\x00"
          "b'",
          1, 7, "NUL byte in string"),
        B("a = \"a\rb\"", 1, 7, "carriage return without line feed in string"),
        B("a = 'a\rb'", 1, 7, "carriage return without line feed in string"),
        B("a = \"\"\"a\rb\"\"\"", 1, 9, "carriage return without line feed in string"),
        B("a = '''a\rb'''", 1, 9, "carriage return without line feed in string"),
        B("a = \"\"\"\r\"\"\"", 1, 8, "carriage return without line feed in string"),
        B("a = '''a\x01'''", 1, 9, "control character U+0001 in string"),
        B("a = '''a\x00'''", 1, 9, "NUL byte in string"),
        B("a = \"\"\"a\x7f\"\"\"", 1, 9, "control character U+007F in string"),
        B("a = \"\"\"a\x0b\"\"\"", 1, 9, "control character U+000B in string"),
        /* multi-line string corners */
        B("a = \"\"\"a\nb\r\nc\"\"\"", 2, 2, "mixed LF and CRLF line endings"),
        B("a = \"\"\"\r\na\nb\"\"\"", 2, 2, "mixed LF and CRLF line endings"),
        B("a = \"\"\"\na\r\n\"\"\"", 2, 2, "mixed LF and CRLF line endings"),
        B("a = '''a\r\nb\nc'''", 2, 2, "mixed LF and CRLF line endings"),
        B("a = \"\"\"a\\\r\n\n b\"\"\"", 2, 1, "mixed LF and CRLF line endings"),
        B("a = \"\"\"a \\ b\"\"\"", 1, 10,
          "a '\\' followed by whitespace must be the last character of its line"),
        B("a = \"\"\"a\\  b\"\"\"", 1, 9, "a '\\' followed by whitespace must be the last"),
        B("a = \"\"\"a\\\rb\"\"\"", 1, 10, "carriage return without line feed in string"),
        B("a = \"\"\"a\\ \rb\"\"\"", 1, 11, "carriage return without line feed in string"),
        B("a = \"\"\"\"\"\"\"\"\"", 1, 13, "expected end of line after the value, found '\"'"),
        B("a = '''''''''", 1, 13, "expected end of line after the value, found '''"),
        B("a = \"\"\"x\"\"\"\"\"\"", 1, 14, "expected end of line after the value, found '\"'"),
        B("a = '''x''''''", 1, 14, "expected end of line after the value, found '''"),
        B("a = \"\"\"\"\"\"x", 1, 11, "expected end of line after the value, found 'x'"),
        /* invalid UTF-8: overlong forms, surrogates, beyond U+10FFFF, stray and truncated bytes */
        B("a = \"\xc0\x80\"", 1, 6, "invalid UTF-8 (byte 0xC0)"),
        B("a = \"\xc1\xbf\"", 1, 6, "invalid UTF-8 (byte 0xC1)"),
        B("a = \"\xe0\x80\x80\"", 1, 6, "invalid UTF-8 (byte 0xE0)"),
        B("a = \"\xe0\x9f\xbf\"", 1, 6, "invalid UTF-8 (byte 0xE0)"),
        B("a = \"\xf0\x80\x80\x80\"", 1, 6, "invalid UTF-8 (byte 0xF0)"),
        B("a = \"\xf0\x8f\xbf\xbf\"", 1, 6, "invalid UTF-8 (byte 0xF0)"),
        B("a = \"\xed\xa0\x80\"", 1, 6, "invalid UTF-8 (byte 0xED)"),
        B("a = \"\xed\xbf\xbf\"", 1, 6, "invalid UTF-8 (byte 0xED)"),
        B("a = \"\xf4\x90\x80\x80\"", 1, 6, "invalid UTF-8 (byte 0xF4)"),
        B("a = \"\xf5\x80\x80\x80\"", 1, 6, "invalid UTF-8 (byte 0xF5)"),
        B("a = \"\xf8\x88\x80\x80\x80\"", 1, 6, "invalid UTF-8 (byte 0xF8)"),
        B("a = \"\xfe\"", 1, 6, "invalid UTF-8 (byte 0xFE)"),
        B("a = \"\xff\"", 1, 6, "invalid UTF-8 (byte 0xFF)"),
        B("a = \"\x80\"", 1, 6, "invalid UTF-8 (byte 0x80)"),
        B("a = \"\xbf\"", 1, 6, "invalid UTF-8 (byte 0xBF)"),
        B("a = \"x\xc3\"", 1, 7, "invalid UTF-8 (byte 0xC3)"),
        B("a = \"\xc3(\"", 1, 6, "invalid UTF-8 (byte 0xC3)"),
        B("a = \"\xe2\x82\"", 1, 6, "invalid UTF-8 (byte 0xE2)"),
        B("a = \"\xe2\x82(\"", 1, 6, "invalid UTF-8 (byte 0xE2)"),
        B("a = \"\xf0\x9f\x98\"", 1, 6, "invalid UTF-8 (byte 0xF0)"),
        B("a = \"\xf0\x9f\x98", 1, 6, "invalid UTF-8 (byte 0xF0)"),
        B("a = \"\xc3", 1, 6, "invalid UTF-8 (byte 0xC3)"),
        B("a = \"\xc3\xa9\xa9\"", 1, 8, "invalid UTF-8 (byte 0xA9)"),
        B("# \xff", 1, 3, "invalid UTF-8 (byte 0xFF)"),
        B("a = 1 # \xc0\x80", 1, 9, "invalid UTF-8 (byte 0xC0)"),
        B("# ok\n# \xed\xa0\x80", 2, 3, "invalid UTF-8 (byte 0xED)"),
        B("a = '\xff'", 1, 6, "invalid UTF-8"),
        B("a = '''\xff'''", 1, 8, "invalid UTF-8"),
        B("a = \"\"\"\n\xff\"\"\"", 2, 1, "invalid UTF-8"),
        B("\xff = 1", 1, 1, "invalid UTF-8 (byte 0xFF)"),
        B("\"\xff\" = 1", 1, 2, "invalid UTF-8"),
        B("'\xff' = 1", 1, 2, "invalid UTF-8"),
        B("a\xff = 1", 1, 2, "invalid UTF-8"),
        B("a = \xff", 1, 5, "invalid UTF-8"),
        B("a = 1\xff", 1, 6, "invalid UTF-8"),
        B("a = 1 \xff", 1, 7, "invalid UTF-8"),
        B("[\xff]", 1, 2, "invalid UTF-8"),
        B("[a\xff]", 1, 3, "invalid UTF-8"),
        B("a = [1, \xff]", 1, 9, "invalid UTF-8"),
        B("a = [1 \xff]", 1, 8, "invalid UTF-8"),
        B("a = {\xff}", 1, 6, "invalid UTF-8"),
        B("a = \"\\\xff\"", 1, 7, "invalid UTF-8"),
        B("\xef\xbb", 1, 1, "invalid UTF-8"),
        /* comments */
        B("# a\x01"
          "b",
          1, 4, "control character U+0001 in comment"),
        B("# a\x7f", 1, 4, "control character U+007F in comment"),
        B("# a\x1f", 1, 4, "control character U+001F in comment"),
        B("# a\rb", 1, 4, "carriage return without line feed in comment"),
        B("# a\r", 1, 4, "carriage return without line feed in comment"),
        B("# a\x00", 1, 4, "NUL byte in comment"),
        B("a = 1 # x\x0b", 1, 10, "control character U+000B in comment"),
        B("[a] # \x08", 1, 7, "control character U+0008 in comment"),
        B("a = [ # \x01\n]", 1, 9, "control character U+0001 in comment"),
        B("a = [1 # \x01\n]", 1, 10, "control character U+0001 in comment"),
        B("a = [1, # \x7f\n]", 1, 11, "control character U+007F in comment"),
        /* NUL anywhere */
        B("\x00", 1, 1, "expected a key, found a NUL byte"),
        B("a = 1\x00", 1, 6, "found a NUL byte"),
        B("a\x00 = 1", 1, 2, "found a NUL byte"),
        B("a = \x00", 1, 5, "expected a value, found a NUL byte"),
        B("a = 1\n\x00", 2, 1, "found a NUL byte"),
        B("[a\x00]", 1, 3, "found a NUL byte"),
        /* control characters outside strings */
        B("\x01", 1, 1, "expected a key, found control character U+0001"),
        B("a =\x0c"
          "1",
          1, 4, "expected a value, found control character U+000C"),
        B("\x0b"
          "a = 1",
          1, 1, "found control character U+000B"),
        /* integers */
        B("a = 01", 1, 5, "leading zeros are not allowed"),
        B("a = 00", 1, 5, "leading zeros are not allowed"),
        B("a = -01", 1, 6, "leading zeros are not allowed"),
        B("a = +01", 1, 6, "leading zeros are not allowed"),
        B("a = 0_1", 1, 5, "leading zeros are not allowed"),
        B("a = 007", 1, 5, "leading zeros are not allowed"),
        B("a = 1__2", 1, 6, "an underscore in a number must stand between two digits"),
        B("a = 1_", 1, 6, "an underscore in a number must stand between two digits"),
        B("a = 1_000_", 1, 10, "an underscore in a number must stand between two digits"),
        B("a = _1", 1, 5, "invalid value '_1'"),
        B("a = -_1", 1, 5, "invalid value '-_1'"),
        B("a = 0x", 1, 7, "expected a base-16 digit after '0x'"),
        B("a = 0x_1", 1, 7, "expected a base-16 digit after '0x'"),
        B("a = 0x1_", 1, 8, "an underscore in a number must stand between two digits"),
        B("a = 0x1__2", 1, 8, "an underscore in a number"),
        B("a = 0xG", 1, 7, "expected a base-16 digit after '0x'"),
        B("a = 0x1G", 1, 8, "invalid character 'G' in a base-16 integer"),
        B("a = 0X1", 1, 6, "invalid character 'X' in a number"),
        B("a = 0O7", 1, 6, "invalid character 'O' in a number"),
        B("a = 0B1", 1, 6, "invalid character 'B' in a number"),
        B("a = 0o8", 1, 7, "expected a base-8 digit after '0o'"),
        B("a = 0o78", 1, 8, "invalid character '8' in a base-8 integer"),
        B("a = 0b2", 1, 7, "expected a base-2 digit after '0b'"),
        B("a = 0b12", 1, 8, "invalid character '2' in a base-2 integer"),
        B("a = 0b", 1, 7, "expected a base-2 digit after '0b'"),
        B("a = +0x1", 1, 5, "a sign is not allowed on a hexadecimal, octal or binary integer"),
        B("a = -0o1", 1, 5, "a sign is not allowed"),
        B("a = +0b1", 1, 5, "a sign is not allowed"),
        B("a = 0x1.5", 1, 8, "invalid character '.' in a base-16 integer"),
        B("a = 0xffe-1", 1, 10, "invalid character '-' in a base-16 integer"),
        B("a = 1-2", 1, 6, "invalid character '-' in a number"),
        B("a = 1+2", 1, 6, "invalid character '+' in a number"),
        B("a = 12a", 1, 7, "invalid character 'a' in a number"),
        B("a = 1:2", 1, 6, "invalid character ':' in a number"),
        B("a = ++1", 1, 5, "invalid value '++1'"),
        B("a = -", 1, 5, "invalid value '-'"),
        B("a = +", 1, 5, "invalid value '+'"),
        B("a = 9223372036854775808", 1, 5, "integer out of range"),
        B("a = -9223372036854775809", 1, 5, "integer out of range"),
        B("a = 99999999999999999999999", 1, 5, "integer out of range"),
        B("a = 18446744073709551616", 1, 5, "integer out of range"),
        B("a = 0x8000000000000000", 1, 5, "integer out of range"),
        B("a = 0xFFFFFFFFFFFFFFFF", 1, 5, "integer out of range"),
        B("a = 0x10000000000000000", 1, 5, "integer out of range"),
        B("a = 0o1000000000000000000000", 1, 5, "integer out of range"),
        B("a = 0b1000000000000000000000000000000000000000000000000000000000000000", 1, 5,
          "integer out of range"),
        B("a = [1, 9223372036854775808]", 1, 9, "integer out of range"),
        /* floats */
        B("a = 1.", 1, 7, "expected a digit after the decimal point"),
        B("a = 1.e5", 1, 7, "expected a digit after the decimal point"),
        B("a = 1._5", 1, 7, "expected a digit after the decimal point"),
        B("a = .5", 1, 5, "a float needs a digit before the decimal point"),
        B("a = -.5", 1, 6, "a float needs a digit before the decimal point"),
        B("a = 1e", 1, 7, "expected a digit in the exponent"),
        B("a = 1e+", 1, 8, "expected a digit in the exponent"),
        B("a = 1e_5", 1, 7, "expected a digit in the exponent"),
        B("a = 1e+_5", 1, 8, "expected a digit in the exponent"),
        B("a = 1_.5", 1, 6, "an underscore in a number must stand between two digits"),
        B("a = 1.5_", 1, 8, "an underscore in a number must stand between two digits"),
        B("a = 1_e5", 1, 6, "an underscore in a number must stand between two digits"),
        B("a = 1e5_", 1, 8, "an underscore in a number must stand between two digits"),
        B("a = 1.5.3", 1, 8, "invalid character '.' in a number"),
        B("a = 1e5e3", 1, 8, "invalid character 'e' in a number"),
        B("a = 1e5.3", 1, 8, "invalid character '.' in a number"),
        B("a = 01.5", 1, 5, "leading zeros are not allowed"),
        B("a = 00.5", 1, 5, "leading zeros are not allowed"),
        B("a = -01.5", 1, 6, "leading zeros are not allowed"),
        B("a = 0x1p3", 1, 8, "invalid character 'p' in a base-16 integer"),
        B("a = 1e400", 1, 5, "float out of range"),
        B("a = -1e400", 1, 5, "float out of range"),
        B("a = 1.8e308", 1, 5, "float out of range"),
        B("a = infinity", 1, 5, "invalid value 'infinity'"),
        B("a = Inf", 1, 5, "invalid value 'Inf'"),
        B("a = NaN", 1, 5, "invalid value 'NaN'"),
        B("a = inf_", 1, 5, "invalid value 'inf_'"),
        B("a = nan1", 1, 5, "invalid value 'nan1'"),
        B("a = +-1", 1, 5, "invalid value '+-1'"),
        /* date-times are refused */
        B("a = 1979-05-27", 1, 5, "date-time values are not supported"),
        B("a = 1979-05-27T07:32:00Z", 1, 5, "date-time values are not supported"),
        B("a = 1979-05-27T00:32:00.999999-07:00", 1, 5, "date-time values are not supported"),
        B("a = 1979-05-27 07:32:00", 1, 5, "date-time values are not supported"),
        B("a = 07:32:00", 1, 5, "date-time values are not supported"),
        B("a = 00:32:00.999999", 1, 5, "date-time values are not supported"),
        B("a = [1979-05-27]", 1, 6, "date-time values are not supported"),
        B("a = {d = 2000-13-45}", 1, 10, "date-time values are not supported"),
        /* arrays */
        B("a = [", 1, 5, "unterminated array"),
        B("a = [1", 1, 5, "unterminated array"),
        B("a = [1,", 1, 5, "unterminated array"),
        B("a = [1,\n2", 1, 5, "unterminated array"),
        B("a = [\"x\" # c\n", 1, 5, "unterminated array"),
        B("a = [[]", 1, 5, "unterminated array"),
        B("a = [1 2]", 1, 8, "expected ',' or ']' after an array element, found '2'"),
        B("a = [1\n2]", 2, 1, "expected ',' or ']' after an array element, found '2'"),
        B("a = [,]", 1, 6, "expected a value, found ','"),
        B("a = [1,,2]", 1, 8, "expected a value, found ','"),
        B("a = [1,2,,]", 1, 10, "expected a value, found ','"),
        B("a = [1}", 1, 7, "expected ',' or ']' after an array element, found '}'"),
        B("a = [1]]", 1, 8, "expected end of line after the value, found ']'"),
        B("a = [1 # c ]", 1, 5, "unterminated array"),
        B("a = [a]", 1, 6, "invalid value 'a'"),
        B("a = [\r]", 1, 6, "expected a value, found a carriage return without line feed"),
        /* inline tables */
        B("a = {", 1, 5, "unterminated inline table"),
        B("a = {b = 1", 1, 5, "unterminated inline table"),
        B("a = {b = 1,", 1, 5, "unterminated inline table"),
        B("a = {b = 1,}", 1, 11, "a trailing comma is not allowed in an inline table"),
        B("a = {b = 1, }", 1, 11, "a trailing comma is not allowed in an inline table"),
        B("a = {,}", 1, 6, "expected a key, found ','"),
        B("a = {b = 1\n}", 1, 11, "an inline table must be on one line"),
        B("a = {\nb = 1}", 1, 6, "an inline table must be on one line"),
        B("a = {b = 1,\nc = 2}", 1, 12, "an inline table must be on one line"),
        B("a = {\r\n}", 1, 6, "an inline table must be on one line"),
        B("a = {b\n= 1}", 1, 7, "expected '=' after key, found end of line"),
        B("a = {b = 1 c = 2}", 1, 12, "expected ',' or '}' in an inline table, found 'c'"),
        B("a = {b = 1;}", 1, 11, "expected ',' or '}' in an inline table, found ';'"),
        B("a = {b = }", 1, 10, "expected a value, found '}'"),
        B("a = {b}", 1, 7, "expected '=' after key, found '}'"),
        B("a = {b = 1} x", 1, 13, "expected end of line after the value"),
        B("a = {b = 1 # c\n}", 1, 12, "expected ',' or '}' in an inline table, found '#'"),
        B("a = {b = 1]", 1, 11, "expected ',' or '}' in an inline table, found ']'"),
        B("a = {[b] = 1}", 1, 6, "expected a key, found '['"),
        /* positions across CRLF lines, multi-line values, tabs, UTF-8 and a BOM */
        B("a = 1\r\nb = 2\r\nc", 3, 2, "expected '=' after key"),
        B("a = 1\r\n\r\n  x", 3, 4, "expected '=' after key"),
        B("a = \"\"\"\nx\ny\"\"\"\nb = @", 4, 5, "expected a value, found '@'"),
        B("a = \"\"\"\r\nx\r\ny\"\"\"\r\nb = @", 4, 5, "expected a value, found '@'"),
        B("a = '''\nx\n'''\n[a]", 4, 2, "'a' is already a string, not a table"),
        B("a = [\n1,\n2,\n@]", 4, 1, "expected a value, found '@'"),
        B("a = [ # c\r\n 1 # d\r\n , @ ]", 3, 4, "expected a value, found '@'"),
        B("\xef\xbb\xbf"
          "a = @",
          1, 5, "expected a value, found '@'"),
        B("\xef\xbb\xbf"
          "a = 1\nb = @",
          2, 5, "expected a value, found '@'"),
        B("\ta = @", 1, 6, "expected a value, found '@'"),
        B("a = \"\xc3\xa9\" x", 1, 10, "expected end of line after the value, found 'x'"),
        B("# \xf0\x9f\x98\x80\n\xf0\x9f\x98\x80 = 1", 2, 1,
          "expected a key, found '\xf0\x9f\x98\x80'"),
        B("a = \"\"\"\nline two\nline three \\q\"\"\"", 3, 12, "invalid escape '\\q'"),
        B("a = 1\n\n\n\n\n\n\n\n\n\nb = 2\nb = 3", 12, 1, "duplicate key 'b'"),
        B("x = [\n  {a = 1},\n  {a = 2, a = 3},\n]", 3, 11, "duplicate key 'a'"),
};

static void invalid_documents_fail_where_expected(void **state)
{
	int failures = 0;
	(void)state;
	for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
		const struct bad *b = &bad_docs[i];
		struct pc_toml_value *root = (struct pc_toml_value *)1;
		struct pc_toml_error err;
		int rc = pc_toml_parse(b->in, b->len, &root, &err);
		if (rc != PC_EPARSE || root != NULL || err.line != b->line || err.col != b->col ||
		    !strstr(err.msg, b->msg)) {
			print_error("bad[%zu] %s\n   want %d %u:%u: %s\n   got  %d %u:%u: %s\n", i,
			            b->in, PC_EPARSE, b->line, b->col, b->msg, rc, err.line,
			            err.col, err.msg);
			failures++;
		}
		pc_toml_free(root);
	}
	assert_int_equal(failures, 0);
}

/* ---- generated cases ---- */

#define LIT(s) s, sizeof(s) - 1

static void expect_error(const char *in, size_t len, int want_rc, uint32_t line, uint32_t col,
                         const char *fragment)
{
	struct pc_toml_value *root = NULL;
	struct pc_toml_error err;
	int rc = pc_toml_parse(in, len, &root, &err);
	if (rc != want_rc || err.line != line || err.col != col || !strstr(err.msg, fragment))
		fail_msg("input %.60s...: want %d %u:%u: %s, got %d %u:%u: %s", in, want_rc, line,
		         col, fragment, rc, err.line, err.col, err.msg);
	assert_null(root);
}

static struct pc_toml_value *expect_ok(const char *in, size_t len)
{
	struct pc_toml_value *root = NULL;
	struct pc_toml_error err;
	int rc = pc_toml_parse(in, len, &root, &err);
	if (rc != 0)
		fail_msg("input %.60s...: %d %u:%u: %s", in, rc, err.line, err.col, err.msg);
	return root;
}

/* Where a byte may stand in a document: before and after the byte. */
struct context {
	const char *before, *after;
	const char *where; /* "string", "comment" or NULL (outside both) */
};

static const struct context contexts[] = {
        {"a = \"", "\"", "string"},
        {"a = '", "'", "string"},
        {"a = \"\"\"", "\"\"\"", "string"},
        {"a = '''", "'''", "string"},
        {"a = \"\"\"\nx", "\"\"\"", "string"},
        {"\"", "\" = 1", "string"},
        {"'", "' = 1", "string"},
        {"[\"", "\"]", "string"},
        {"a = [\"", "\"]", "string"},
        {"a = {b = '", "'}", "string"},
        {"# ", "", "comment"},
        {"a = 1 # ", "\nb = 2", "comment"},
        {"[a] #", "", "comment"},
        {"a = [ #", "\n]", "comment"},
        {"", " = 1", NULL},
        {"a = ", "", NULL},
        {"a = 1", "", NULL},
        {"[", "]", NULL},
        {"a = [1, ", "]", NULL},
};

static void build(char *buf, size_t size, const struct context *c, const char *mid, size_t midlen,
                  size_t *len)
{
	size_t b = strlen(c->before), a = strlen(c->after);
	assert_true(b + midlen + a < size);
	memcpy(buf, c->before, b);
	memcpy(buf + b, mid, midlen);
	memcpy(buf + b + midlen, c->after, a);
	*len = b + midlen + a;
	buf[*len] = 0;
}

/* The column of the first byte after c->before. */
static void mid_position(const struct context *c, uint32_t *line, uint32_t *col)
{
	const char *nl = strrchr(c->before, '\n');
	*line = 1;
	for (const char *p = c->before; *p; p++)
		*line += *p == '\n';
	*col = (uint32_t)(nl ? strlen(nl + 1) : strlen(c->before)) + 1;
}

static void invalid_utf8_is_refused_in_every_context(void **state)
{
	static const char *const seqs[] = {
	        "\xc0\xaf",
	        "\xc1\x81",
	        "\xe0\x80\xaf",
	        "\xe0\x9f\xbf",
	        "\xf0\x80\x80\xaf",
	        "\xf0\x8f\xbf\xbf",
	        "\xed\xa0\x80",
	        "\xed\xaf\xbf",
	        "\xed\xb0\x80",
	        "\xed\xbf\xbf",
	        "\xf4\x90\x80\x80",
	        "\xf7\xbf\xbf\xbf",
	        "\xf8\x88\x80\x80",
	        "\xfc\x84\x80\x80",
	        "\xfe",
	        "\xff",
	        "\x80",
	        "\xbf",
	        "\xc3",
	        "\xe2\x82",
	        "\xf0\x9f\x98",
	        "\xc3\x28",
	        "\xe2\x28\xa1",
	        "\xe2\x82\x28",
	        "\xf0\x28\x8c\xbc",
	        "\xf0\x90\x28\xbc",
	        "\xf0\x9f\x98\x28",
	};
	char buf[64], frag[48];
	(void)state;
	for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
		for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
			uint32_t line, col;
			size_t len;
			build(buf, sizeof buf, &contexts[c], seqs[s], strlen(seqs[s]), &len);
			mid_position(&contexts[c], &line, &col);
			snprintf(frag, sizeof frag, "invalid UTF-8 (byte 0x%02X)",
			         (unsigned char)seqs[s][0]);
			expect_error(buf, len, PC_EPARSE, line, col, frag);
		}
	}
}

static void valid_utf8_is_kept_in_strings_and_comments(void **state)
{
	static const char *const seqs[] = {
	        "\xc2\x80",     "\xdf\xbf",     "\xe0\xa0\x80",     "\xed\x9f\xbf",
	        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
	        "\xef\xbb\xbf", "\xc3\xa9",
	};
	char buf[64];
	(void)state;
	for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
		if (!contexts[c].where)
			continue;
		for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
			size_t len;
			build(buf, sizeof buf, &contexts[c], seqs[s], strlen(seqs[s]), &len);
			pc_toml_free(expect_ok(buf, len));
		}
	}
}

/* Every C0 control but tab and newline, and DEL, is refused in strings and comments; a tab is
 * kept. Outside strings and comments they are unexpected characters. */
static void control_characters_are_refused_in_every_context(void **state)
{
	char buf[64], frag[64];
	(void)state;
	for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
		for (int ch = 0; ch < 0x80; ch++) {
			const struct context *cx = &contexts[c];
			char b = (char)ch;
			uint32_t line, col;
			size_t len;
			if (ch == '\n' || (ch >= 0x20 && ch < 0x7f))
				continue;
			build(buf, sizeof buf, cx, &b, 1, &len);
			if (ch == '\t' || (ch == '\r' && cx->after[0] == '\n')) {
				if (cx->where)
					pc_toml_free(expect_ok(buf, len));
				continue;
			}
			mid_position(cx, &line, &col);
			if (!cx->where)
				snprintf(frag, sizeof frag, "found ");
			else if (ch == 0)
				snprintf(frag, sizeof frag, "NUL byte in %s", cx->where);
			else if (ch == '\r')
				snprintf(frag, sizeof frag,
				         "carriage return without line feed in %s", cx->where);
			else
				snprintf(frag, sizeof frag, "control character U+%04X in %s", ch,
				         cx->where);
			expect_error(buf, len, PC_EPARSE, line, col, frag);
		}
	}
}

static void every_escape_decodes(void **state)
{
	static const struct {
		const char *esc, *want;
	} escapes[] = {
	        {"\\b", "\b"},
	        {"\\t", "\t"},
	        {"\\n", "\n"},
	        {"\\f", "\f"},
	        {"\\r", "\r"},
	        {"\\\"", "\""},
	        {"\\\\", "\\"},
	        {"\\u0001", "\x01"},
	        {"\\u007f", "\x7f"},
	        {"\\u0080", "\xc2\x80"},
	        {"\\u07FF", "\xdf\xbf"},
	        {"\\u0800", "\xe0\xa0\x80"},
	        {"\\uD7FF", "\xed\x9f\xbf"},
	        {"\\uE000", "\xee\x80\x80"},
	        {"\\uFFFD", "\xef\xbf\xbd"},
	        {"\\U00000041", "A"},
	        {"\\U0000FFFF", "\xef\xbf\xbf"},
	        {"\\U00010000", "\xf0\x90\x80\x80"},
	        {"\\U0001f600", "\xf0\x9f\x98\x80"},
	        {"\\U0010FFFF", "\xf4\x8f\xbf\xbf"},
	};
	static const char *const wrappers[][2] = {{"s = \"", "\""}, {"s = \"\"\"", "\"\"\""}};
	char buf[64];
	(void)state;
	for (size_t w = 0; w < 2; w++) {
		for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
			struct pc_toml_value *root;
			const struct pc_toml_value *s;
			snprintf(buf, sizeof buf, "%s%s%s", wrappers[w][0], escapes[i].esc,
			         wrappers[w][1]);
			root = expect_ok(buf, strlen(buf));
			s = pc_toml_get(root, "s");
			assert_non_null(s);
			assert_int_equal(s->type, PC_TOML_STRING);
			assert_int_equal(s->u.str.len, strlen(escapes[i].want));
			assert_memory_equal(s->u.str.ptr, escapes[i].want, s->u.str.len);
			pc_toml_free(root);
		}
	}
}

/* Small tables are scanned and larger ones indexed: a duplicate is found on both sides of the
 * switch, in tables from headers, inline tables and dotted keys. */
static void duplicates_are_found_at_every_table_size(void **state)
{
	char doc[2048];
	(void)state;
	for (int n = 1; n <= 24; n++) {
		struct pc_toml_value *root;
		size_t len = 0, inl = 0, dot = 0;
		char inline_doc[1024], dotted[1024];
		inl += (size_t)snprintf(inline_doc, sizeof inline_doc, "t = {");
		for (int i = 0; i < n; i++) {
			len += (size_t)snprintf(doc + len, sizeof doc - len, "k%d = %d\n", i, i);
			inl += (size_t)snprintf(inline_doc + inl, sizeof inline_doc - inl,
			                        "k%d = %d, ", i, i);
			dot += (size_t)snprintf(dotted + dot, sizeof dotted - dot, "t.k%d = %d\n",
			                        i, i);
		}
		root = expect_ok(doc, len);
		assert_int_equal(root->u.table.len, n);
		pc_toml_free(root);
		for (int dup = 0; dup < n; dup++) {
			char extra[1100];
			size_t m = (size_t)snprintf(extra, sizeof extra, "%.*sk%d = 0\n", (int)len,
			                            doc, dup);
			expect_error(extra, m, PC_EPARSE, (uint32_t)n + 1, 1, "duplicate key");
			m = (size_t)snprintf(extra, sizeof extra, "%.*sk%d = 0}", (int)inl,
			                     inline_doc, dup);
			expect_error(extra, m, PC_EPARSE, 1, (uint32_t)inl + 1, "duplicate key");
			m = (size_t)snprintf(extra, sizeof extra, "%.*st.k%d = 0\n", (int)dot,
			                     dotted, dup);
			expect_error(extra, m, PC_EPARSE, (uint32_t)n + 1, 3, "duplicate key 't.k");
		}
	}
}

/* ---- security lessons ---- */

/* Values become C strings: an escaped NUL would cut "evil.example\0.good.example" short. */
static void nul_escape_cannot_truncate_a_c_string(void **state)
{
	static const char doc[] = "allowed = \"evil.example\\u0000.good.example\"";
	(void)state;
	expect_error(doc, sizeof doc - 1, PC_EPARSE, 1, 24, "NUL character");
	expect_error(LIT("k = \"a\0b\""), PC_EPARSE, 1, 7, "NUL byte in string");
}

/* One key spelled bare, quoted and escaped is still one key: no spelling gets a second value
 * past the duplicate check. */
static void one_key_in_three_spellings_is_a_duplicate(void **state)
{
	struct pc_toml_value *root;
	(void)state;
	expect_error(LIT("[network]\nmode = \"full\"\n\"mode\" = \"limited\""), PC_EPARSE, 3, 1,
	             "duplicate key 'mode'");
	expect_error(LIT("[network]\nmode = \"full\"\n'mode' = \"limited\""), PC_EPARSE, 3, 1,
	             "duplicate key 'mode'");
	expect_error(LIT("[network]\nmode = \"full\"\n\"mo\\u0064e\" = 2"), PC_EPARSE, 3, 1,
	             "duplicate key 'mode'");
	expect_error(LIT("network.mode = 1\n[network]"), PC_EPARSE, 2, 2,
	             "table 'network' is already defined by dotted keys");
	/* A literal backslash is not an escape: 'mo\de' is another key. */
	root = expect_ok(LIT("mode = 1\n'mo\\de' = 2"));
	assert_int_equal(root->u.table.len, 2);
	assert_string_equal(root->u.table.items[1].key, "mo\\de");
	pc_toml_free(root);
}

/* A later header must not reopen a table to change what an earlier one set. */
static void tables_cannot_be_reopened(void **state)
{
	static const char doc[] = "[network]\nallowed_domains = []\n[other]\n[network]\n"
	                          "allowed_domains = [\"*\"]\n";
	(void)state;
	expect_error(doc, sizeof doc - 1, PC_EPARSE, 4, 2, "table 'network' is already defined");
}

static void inline_table_cannot_be_extended_later(void **state)
{
	static const char doc[] = "network = { mode = \"limited\" }\n[network.mitm]\n";
	static const char doc2[] = "network = { mode = \"limited\" }\nnetwork.enabled = false\n";
	(void)state;
	expect_error(doc, sizeof doc - 1, PC_EPARSE, 2, 2,
	             "inline table 'network' cannot be extended");
	expect_error(doc2, sizeof doc2 - 1, PC_EPARSE, 2, 1,
	             "inline table 'network' cannot be extended");
}

/* Both endings decode to "\n"; mixing them inside one value is refused, not normalised. */
static void crlf_and_lf_in_one_string_are_refused(void **state)
{
	static const char doc[] = "a = \"\"\"x\r\ny\nz\"\"\"";
	struct pc_toml_value *root;
	(void)state;
	expect_error(doc, sizeof doc - 1, PC_EPARSE, 2, 2, "mixed LF and CRLF");
	root = expect_ok(LIT("a = \"\"\"x\r\ny\r\n\"\"\"\nb = '''p\nq'''\r\n"));
	assert_string_equal(pc_toml_get(root, "a")->u.str.ptr, "x\ny\n");
	assert_string_equal(pc_toml_get(root, "b")->u.str.ptr, "p\nq");
	pc_toml_free(root);
}

/* ---- bounds ---- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
	size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
	char *s = malloc(h + u * n + t + 1);
	assert_non_null(s);
	memcpy(s, head, h);
	for (size_t i = 0; i < n; i++)
		memcpy(s + h + u * i, unit, u);
	memcpy(s + h + u * n, tail, t + 1);
	*len = h + u * n + t;
	return s;
}

static void nesting_is_bounded(void **state)
{
	char *s, *inner;
	size_t len, ilen;
	(void)state;

	/* a = [...]: the outermost array is at depth 1, so 64 brackets fit and 65 do not. */
	inner = repeat("", "[", PC_TOML_MAX_DEPTH, "", &ilen);
	s = repeat(inner, "]", PC_TOML_MAX_DEPTH, "", &len);
	free(inner);
	inner = repeat("a = ", "", 0, s, &ilen);
	pc_toml_free(expect_ok(inner, ilen));
	free(inner);
	free(s);
	inner = repeat("a = ", "[", PC_TOML_MAX_DEPTH + 1, "", &ilen);
	s = repeat(inner, "]", PC_TOML_MAX_DEPTH + 1, "", &len);
	expect_error(s, len, PC_ELIMIT, 1, 4 + PC_TOML_MAX_DEPTH + 1, "nesting deeper than 64");
	free(inner);
	free(s);
	/* An element inside the 64th array is one level too deep. */
	inner = repeat("a = ", "[", PC_TOML_MAX_DEPTH, "1", &ilen);
	s = repeat(inner, "]", PC_TOML_MAX_DEPTH, "", &len);
	expect_error(s, len, PC_ELIMIT, 1, 5 + PC_TOML_MAX_DEPTH, "nesting deeper");
	free(inner);
	free(s);

	/* Inline tables count the same way. */
	inner = repeat("a = ", "{b = ", PC_TOML_MAX_DEPTH - 1, "{}", &ilen);
	s = repeat(inner, "}", PC_TOML_MAX_DEPTH - 1, "", &len);
	pc_toml_free(expect_ok(s, len));
	free(inner);
	free(s);
	inner = repeat("a = ", "{b = ", PC_TOML_MAX_DEPTH, "{}", &ilen);
	s = repeat(inner, "}", PC_TOML_MAX_DEPTH, "", &len);
	expect_error(s, len, PC_ELIMIT, 1, (uint32_t)ilen - 1, "nesting deeper");
	free(inner);
	free(s);

	/* Arrays of inline tables of arrays ... */
	inner = repeat("a = ", "[{b = ", 40, "1", &ilen);
	s = repeat(inner, "}]", 40, "", &len);
	expect_error(s, len, PC_ELIMIT, 1, 5 + 6 * 32, "nesting deeper");
	free(inner);
	free(s);

	/* Dotted keys: 64 parts put the value at depth 64; 65 parts are refused. */
	inner = repeat("", "k.", PC_TOML_MAX_DEPTH - 1, "k = 1", &ilen);
	pc_toml_free(expect_ok(inner, ilen));
	free(inner);
	inner = repeat("", "k.", PC_TOML_MAX_DEPTH, "k = 1", &ilen);
	expect_error(inner, ilen, PC_ELIMIT, 1, 2 * PC_TOML_MAX_DEPTH + 1,
	             "key has more than 64 parts");
	free(inner);
	/* Headers: [64 parts] defines a table at depth 64, which can hold nothing. */
	inner = repeat("[", "k.", PC_TOML_MAX_DEPTH - 1, "k]", &ilen);
	pc_toml_free(expect_ok(inner, ilen));
	s = repeat(inner, "", 0, "\nx = 1", &len);
	expect_error(s, len, PC_ELIMIT, 2, 5, "nesting deeper");
	free(inner);
	free(s);
	inner = repeat("[", "k.", PC_TOML_MAX_DEPTH, "k]", &ilen);
	expect_error(inner, ilen, PC_ELIMIT, 1, 2 * PC_TOML_MAX_DEPTH + 2, "key has more than");
	free(inner);
	/* A dotted key in a deep section counts from the root. */
	inner = repeat("[", "k.", 59, "k]\na.b.c.d = 1\na.b.c.e.f = 2", &ilen);
	expect_error(inner, ilen, PC_ELIMIT, 3, 13, "nesting deeper");
	free(inner);
	/* [[a]] puts the array at depth 1 and its tables at depth 2. */
	inner = repeat("[[", "k.", 62, "k]]\nx = 1", &ilen);
	expect_error(inner, ilen, PC_ELIMIT, 2, 5, "nesting deeper");
	free(inner);
}

static void input_size_is_bounded(void **state)
{
	size_t len = PC_TOML_MAX_INPUT + 1;
	char *s = malloc(len);
	(void)state;
	assert_non_null(s);
	/* Exactly the limit is fine (a comment line of that size). */
	memset(s, ' ', len);
	s[0] = '#';
	pc_toml_free(expect_ok(s, PC_TOML_MAX_INPUT));
	/* One byte more is refused where the excess starts, before any other check. */
	memcpy(s + 100, "\n\n", 2);
	s[PC_TOML_MAX_INPUT] = '\xff';
	expect_error(s, len, PC_ELIMIT, 3, (uint32_t)(PC_TOML_MAX_INPUT - 102 + 1),
	             "larger than 4194304 bytes");
	free(s);
}

/* 200k keys in one table within 4 MiB: duplicate detection must stay linear. No timing is
 * asserted; a quadratic check would make this test time out. */
static void many_keys_in_one_table_parse_in_linear_time(void **state)
{
	const size_t n = 200000;
	size_t cap = PC_TOML_MAX_INPUT, len = 0;
	char *s = malloc(cap);
	struct pc_toml_value *root;
	const struct pc_toml_value *v;
	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "key_%06zu=%zu\n", i, i * 7);
	assert_true(len <= PC_TOML_MAX_INPUT);
	root = expect_ok(s, len);
	assert_int_equal(root->u.table.len, n);
	v = pc_toml_get(root, "key_123456");
	assert_non_null(v);
	assert_int_equal(v->u.integer, 123456 * 7);
	assert_int_equal(root->u.table.items[n - 1].line, n);
	pc_toml_free(root);
	/* The same keys with the last one repeated: the duplicate is found at the end. */
	len = 0;
	for (size_t i = 0; i + 1 < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "key_%06zu=1\n", i);
	len += (size_t)snprintf(s + len, cap - len, "key_%06zu=1\n", (size_t)4242);
	expect_error(s, len, PC_EPARSE, (uint32_t)n, 1, "duplicate key 'key_004242'");
	/* Many small tables, each with the same keys. */
	len = 0;
	for (size_t i = 0; len + 64 < cap && i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "[[t]]\na=1\nb=2\n");
	pc_toml_free(expect_ok(s, len));
	/* Many tables by header, and one long array. */
	len = 0;
	for (size_t i = 0; len + 64 < cap; i++)
		len += (size_t)snprintf(s + len, cap - len, "[t%zu.x]\n", i);
	pc_toml_free(expect_ok(s, len));
	memset(s, ' ', cap);
	memcpy(s, "a = [", 5);
	for (size_t i = 5; i + 3 < cap; i += 2)
		memcpy(s + i, "1,", 2);
	s[cap - 1] = ']';
	pc_toml_free(expect_ok(s, cap));
	free(s);
}

static void long_values_parse(void **state)
{
	size_t len;
	char *s;
	struct pc_toml_value *root;
	(void)state;
	s = repeat("s = \"", "x\\n", 1000000, "\"", &len);
	root = expect_ok(s, len);
	assert_int_equal(pc_toml_get(root, "s")->u.str.len, 2000000);
	pc_toml_free(root);
	free(s);
	s = repeat("f = 0.", "0", 4000000, "1", &len);
	root = expect_ok(s, len);
	assert_true(pc_toml_get(root, "f")->u.flt == 0.0);
	pc_toml_free(root);
	free(s);
	s = repeat("i = ", "0", 4000000, "", &len);
	expect_error(s, len, PC_EPARSE, 1, 5, "leading zeros");
	free(s);
	s = repeat("k", "k", 4000000, " = 1", &len);
	root = expect_ok(s, len);
	assert_int_equal(root->u.table.items[0].key_len, 4000001);
	pc_toml_free(root);
	s[len - 1] = '@';
	expect_error(s, len, PC_EPARSE, 1, 4000005, "expected a value");
	free(s);
}

/* ---- positions ---- */

static void keys_and_values_carry_their_positions(void **state)
{
	static const char doc[] = "top = 1\r\n"       /* line 1 */
	                          "[server]  # c\r\n" /* line 2 */
	                          "  port = 8080\r\n" /* line 3 */
	                          "  a.b = \"x\"\r\n" /* line 4 */
	                          "[[list]]\r\n"      /* line 5 */
	                          "\tv = [1,\r\n"     /* line 6 */
	                          "    {k = 2}]\r\n"  /* line 7 */
	                          "[x.y.z]\r\n"       /* line 8 */
	                          "[x]\r\n";          /* line 9 */
	struct pc_toml_value *root = expect_ok(doc, sizeof doc - 1);
	const struct pc_toml_kv *kv;
	const struct pc_toml_value *v, *list;
	(void)state;

	assert_int_equal(root->line, 1);
	assert_int_equal(root->col, 1);
	kv = pc_toml_get_kv(root, "top");
	assert_int_equal(kv->line, 1);
	assert_int_equal(kv->col, 1);
	assert_int_equal(kv->value->line, 1);
	assert_int_equal(kv->value->col, 7);
	kv = pc_toml_get_kv(root, "server");
	assert_int_equal(kv->line, 2);
	assert_int_equal(kv->col, 2);
	assert_int_equal(kv->value->line, 2);
	assert_int_equal(kv->value->col, 1);
	kv = pc_toml_get_kv(kv->value, "port");
	assert_int_equal(kv->line, 3);
	assert_int_equal(kv->col, 3);
	assert_int_equal(kv->value->col, 10);
	v = pc_toml_get(pc_toml_get(root, "server"), "a");
	kv = pc_toml_get_kv(pc_toml_get(root, "server"), "a");
	assert_int_equal(kv->line, 4);
	assert_int_equal(kv->col, 3);
	kv = pc_toml_get_kv(v, "b");
	assert_int_equal(kv->line, 4);
	assert_int_equal(kv->col, 5);
	assert_int_equal(kv->value->col, 9);
	list = pc_toml_get(root, "list");
	assert_int_equal(list->line, 5);
	assert_int_equal(list->col, 1);
	assert_int_equal(list->u.array.items[0]->line, 5);
	v = pc_toml_get(list->u.array.items[0], "v");
	assert_int_equal(v->line, 6);
	assert_int_equal(v->col, 6);
	assert_int_equal(v->u.array.items[1]->line, 7);
	assert_int_equal(v->u.array.items[1]->col, 5);
	kv = pc_toml_get_kv(v->u.array.items[1], "k");
	assert_int_equal(kv->line, 7);
	assert_int_equal(kv->col, 6);
	/* x was created by [x.y.z] and defined later by [x]: the key is where it was first
	 * written, the table where its header is. */
	kv = pc_toml_get_kv(root, "x");
	assert_int_equal(kv->line, 8);
	assert_int_equal(kv->col, 2);
	assert_int_equal(kv->value->line, 9);
	assert_int_equal(kv->value->col, 1);
	pc_toml_free(root);
}

/* ---- API ---- */

static void api_contract(void **state)
{
	struct pc_toml_value *root = (struct pc_toml_value *)1;
	struct pc_toml_error err;
	const struct pc_toml_value *v;
	(void)state;

	assert_int_equal(pc_toml_parse("a = 1", 5, NULL, &err), -EINVAL);
	assert_int_equal(pc_toml_parse("a = 1", 5, &root, NULL), -EINVAL);
	assert_int_equal(pc_toml_parse(NULL, 1, &root, &err), -EINVAL);
	assert_null(root);
	assert_int_equal(pc_toml_parse(NULL, 0, &root, &err), 0);
	assert_int_equal(root->type, PC_TOML_TABLE);
	assert_int_equal(root->u.table.len, 0);
	pc_toml_free(root);
	pc_toml_free(NULL);

	/* Not NUL-terminated: only len bytes are read. */
	assert_int_equal(pc_toml_parse("a = 12345", 5, &root, &err), 0);
	assert_int_equal(pc_toml_get(root, "a")->u.integer, 1);
	pc_toml_free(root);

	/* A failed parse after a successful one, and the error is cleared by success. */
	assert_int_equal(pc_toml_parse("a = ", 4, &root, &err), PC_EPARSE);
	assert_int_equal(pc_toml_parse("a = 1", 5, &root, &err), 0);
	assert_int_equal(err.line, 0);
	assert_int_equal(err.col, 0);
	assert_string_equal(err.msg, "");

	assert_null(pc_toml_get(root, "b"));
	assert_null(pc_toml_get(root, NULL));
	assert_null(pc_toml_get(NULL, "a"));
	assert_null(pc_toml_get_kv(root, "b"));
	v = pc_toml_get(root, "a");
	assert_null(pc_toml_get(v, "a"));
	assert_string_equal(pc_toml_get_kv(root, "a")->key, "a");
	pc_toml_free(root);

	/* Keys that differ only after an embedded prefix are told apart. */
	root = expect_ok(LIT("ab = 1\na = 2\nabc = 3"));
	assert_int_equal(pc_toml_get(root, "a")->u.integer, 2);
	assert_int_equal(pc_toml_get(root, "ab")->u.integer, 1);
	assert_int_equal(pc_toml_get(root, "abc")->u.integer, 3);
	assert_null(pc_toml_get(root, ""));
	pc_toml_free(root);

	assert_string_equal(pc_toml_type_name(PC_TOML_TABLE), "table");
	assert_string_equal(pc_toml_type_name(PC_TOML_ARRAY), "array");
	assert_string_equal(pc_toml_type_name(PC_TOML_STRING), "string");
	assert_string_equal(pc_toml_type_name(PC_TOML_INTEGER), "integer");
	assert_string_equal(pc_toml_type_name(PC_TOML_FLOAT), "float");
	assert_string_equal(pc_toml_type_name(PC_TOML_BOOLEAN), "boolean");
	assert_string_equal(pc_toml_type_name((enum pc_toml_type)99), "unknown");
}

static void messages_quote_keys_safely(void **state)
{
	(void)state;
	expect_error(LIT("\"a\\nb\" = 1\n\"a\\nb\" = 2"), PC_EPARSE, 2, 1,
	             "duplicate key '\"a\\u000Ab\"'");
	expect_error(LIT("\"q\\\"\" = 1\n'q\"' = 2"), PC_EPARSE, 2, 1, "duplicate key '\"q\\\"\"'");
	expect_error(LIT("'a.b'.c = 1\n\"a.b\".c = 2"), PC_EPARSE, 2, 7,
	             "duplicate key '\"a.b\".c'");
	expect_error(LIT("x123456789x123456789x123456789x123456789x123456789 = 1\n"
	                 "x123456789x123456789x123456789x123456789x123456789 = 2"),
	             PC_EPARSE, 2, 1,
	             "duplicate key 'x123456789x123456789x123456789x123456789...'");
	/* Long paths are cut, within the message buffer. */
	{
		size_t len;
		char *one = repeat("", "abcdefghijklmnopqrstuvwxyz.", 10, "z = 1\n", &len);
		char *two = repeat(one, "abcdefghijklmnopqrstuvwxyz.", 10, "z = 1\n", &len);
		struct pc_toml_value *root;
		struct pc_toml_error err;
		assert_int_equal(pc_toml_parse(two, len, &root, &err), PC_EPARSE);
		assert_non_null(strstr(err.msg, "duplicate key 'abcdefghijklmnopqrstuvwxyz."));
		assert_non_null(strstr(err.msg, "...'"));
		assert_true(strlen(err.msg) < sizeof err.msg);
		free(one);
		free(two);
	}
	/* A cut never splits a UTF-8 character. */
	{
		size_t len;
		char *key = repeat("\"", "\xc3\xa9", 30, "\"", &len);
		char *doc = repeat(key, "", 0, " = 1\n", &len);
		char *twice = repeat(doc, "", 0, doc, &len);
		struct pc_toml_value *root;
		struct pc_toml_error err;
		assert_int_equal(pc_toml_parse(twice, len, &root, &err), PC_EPARSE);
		assert_non_null(strstr(err.msg, "\xc3\xa9..."));
		free(key);
		free(doc);
		free(twice);
	}
}

/* ---- allocation failures ---- */

static void every_allocation_failure_is_handled(void **state)
{
	static const char doc[] =
	        "# every kind of node\n"
	        "a = 1\nb = 'x'\nc = \"\"\"multi\nline\"\"\"\nd = 1.5\ne = [1, [2, {f = 3}]]\n"
	        "g.h.i = true\n[t.u]\nv = {w = {x = 'y'}}\n[[arr]]\nk = 1\n[[arr]]\nk = 2\n"
	        "[arr.sub]\nz = "
	        "-inf\n[big]\nk1=1\nk2=2\nk3=3\nk4=4\nk5=5\nk6=6\nk7=7\nk8=8\nk9=9\n";
	int saw_oom = 0;
	(void)state;
	for (unsigned long n = 1; n < 10000; n++) {
		struct pc_toml_value *root = (struct pc_toml_value *)1;
		struct pc_toml_error err;
		int rc;
		pc_toml__fail_alloc_at = n;
		rc = pc_toml_parse(doc, sizeof doc - 1, &root, &err);
		pc_toml__fail_alloc_at = 0;
		if (rc == 0) {
			char *want = parse_render(doc, sizeof doc - 1);
			char *got = canonical(root);
			assert_string_equal(got, want);
			free(got);
			free(want);
			pc_toml_free(root);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_null(root);
		assert_string_equal(err.msg, "out of memory");
		saw_oom++;
	}
	print_message("allocations failed in turn: %d\n", saw_oom);
	assert_true(saw_oom >= 5);

	/* A large document crosses arena blocks and index growth. */
	{
		size_t cap = 192 << 10, len = 0;
		char *s = malloc(cap);
		assert_non_null(s);
		for (size_t i = 0; len + 80 < cap; i++)
			len += (size_t)snprintf(s + len, cap - len,
			                        "k%zu = [\"%zu\", {x = %zu.5}]\n", i, i, i);
		for (unsigned long n = 1;; n++) {
			struct pc_toml_value *root;
			struct pc_toml_error err;
			int rc;
			pc_toml__fail_alloc_at = n;
			rc = pc_toml_parse(s, len, &root, &err);
			pc_toml__fail_alloc_at = 0;
			if (rc == 0) {
				pc_toml_free(root);
				break;
			}
			assert_int_equal(rc, -ENOMEM);
			assert_true(n < 100000);
			saw_oom++;
		}
		/* Index growth, arena blocks and string scratch all failed at least once. */
		assert_true(saw_oom >= 40);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(valid_documents_render_as_expected),
	        cmocka_unit_test(invalid_documents_fail_where_expected),
	        cmocka_unit_test(invalid_utf8_is_refused_in_every_context),
	        cmocka_unit_test(valid_utf8_is_kept_in_strings_and_comments),
	        cmocka_unit_test(control_characters_are_refused_in_every_context),
	        cmocka_unit_test(every_escape_decodes),
	        cmocka_unit_test(duplicates_are_found_at_every_table_size),
	        cmocka_unit_test(nul_escape_cannot_truncate_a_c_string),
	        cmocka_unit_test(one_key_in_three_spellings_is_a_duplicate),
	        cmocka_unit_test(tables_cannot_be_reopened),
	        cmocka_unit_test(inline_table_cannot_be_extended_later),
	        cmocka_unit_test(crlf_and_lf_in_one_string_are_refused),
	        cmocka_unit_test(nesting_is_bounded),
	        cmocka_unit_test(input_size_is_bounded),
	        cmocka_unit_test(many_keys_in_one_table_parse_in_linear_time),
	        cmocka_unit_test(long_values_parse),
	        cmocka_unit_test(keys_and_values_carry_their_positions),
	        cmocka_unit_test(api_contract),
	        cmocka_unit_test(messages_quote_keys_safely),
	        cmocka_unit_test(every_allocation_failure_is_handled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
