#include "http/parse.h"

#include <string.h>

#include "core/error.h"
#include "http/chars.h"
#include "http/target.h"

/* Generated from the definitions in chars.h; one row per 16 bytes. */
const uint8_t pc_http__ctype[256] = {
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x22, 0x6b, 0x02, 0x23, 0x6b, 0x23, 0x6b, 0x6b, 0x6a, 0x6a, 0x6b, 0xeb, 0x6a,
        0xe7, 0xe7, 0x62, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0x62, 0x6a,
        0x22, 0x6a, 0x22, 0x22, 0x62, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xe7, 0xe7, 0xe7, 0xe7,
        0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7,
        0xe7, 0x22, 0x02, 0x22, 0x23, 0x67, 0x23, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xf7, 0xe7, 0xe7,
        0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7, 0xe7,
        0xe7, 0xe7, 0xe7, 0x22, 0x23, 0x22, 0x67, 0x00, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22,
};

const struct pc_http_limits pc_http_default_limits = {
        .max_request_line = 8192,
        .max_header_bytes = 65536,
        .max_header_fields = 100,
};

#define NAME(lit, id)                                                                              \
	{                                                                                          \
		lit, sizeof(lit) - 1, id                                                           \
	}
static const struct {
	const char *name;
	size_t len;
	enum pc_http_field_id id;
} known_fields[] = {
        NAME("host", PC_HTTP_FIELD_HOST),
        NAME("content-length", PC_HTTP_FIELD_CONTENT_LENGTH),
        NAME("transfer-encoding", PC_HTTP_FIELD_TRANSFER_ENCODING),
        NAME("connection", PC_HTTP_FIELD_CONNECTION),
        NAME("proxy-connection", PC_HTTP_FIELD_PROXY_CONNECTION),
        NAME("keep-alive", PC_HTTP_FIELD_KEEP_ALIVE),
        NAME("te", PC_HTTP_FIELD_TE),
        NAME("trailer", PC_HTTP_FIELD_TRAILER),
        NAME("upgrade", PC_HTTP_FIELD_UPGRADE),
        NAME("expect", PC_HTTP_FIELD_EXPECT),
        NAME("proxy-authorization", PC_HTTP_FIELD_PROXY_AUTHORIZATION),
        NAME("proxy-authenticate", PC_HTTP_FIELD_PROXY_AUTHENTICATE),
};
#undef NAME

enum pc_http_field_id pc_http__field_id(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof known_fields / sizeof known_fields[0]; i++)
		if (pc_http__ieq(name, len, known_fields[i].name, known_fields[i].len))
			return known_fields[i].id;
	return PC_HTTP_FIELD_OTHER;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t pc_http_head_max(const struct pc_http_limits *limits)
{
	if (!limits)
		limits = &pc_http_default_limits;
	size_t n = add_sat(limits->max_request_line, 2 + 2 * PC_HTTP_LEADING_EMPTY_LINES_MAX);
	return add_sat(add_sat(n, limits->max_header_bytes), 2);
}

static ssize_t fail(struct pc_http_head *h, int status, const char *reason)
{
	h->error.status = status;
	h->error.reason = reason;
	return PC_EPARSE;
}

/* Phase one, resumable: finds the end of the head, enforcing CRLF line ends and the limits as
 * bytes arrive, and checks the start line as soon as it is complete (so an HTTP/0.9 request or
 * an HTTP/2 preface is answered without waiting for more). Returns the head's length,
 * PC_AGAIN, or an error. Each byte is examined once over all calls, plus one pending CR per
 * call. */
typedef ssize_t start_line_fn(void *msg, const char *line, size_t len);

static ssize_t scan_head(struct pc_http_head *h, const char *buf, size_t len, bool request,
                         start_line_fn *start_line, void *msg)
{
	struct pc_http_scan *s = &h->scan;
	size_t field_cap = min_size(h->limits.max_header_fields, h->nslots);

	while (s->pos < len) {
		size_t room; /* content bytes the current line may hold */
		int status = 431;
		const char *why;
		if (s->start_end == 0) {
			room = h->limits.max_request_line;
			status = request ? 414 : 502;
			why = request ? "request line too long" : "status line too long";
		} else if (s->nfields >= field_cap) {
			room = 0;
			why = "too many header fields";
		} else {
			size_t used = s->field_bytes + 2;
			room = used <= h->limits.max_header_bytes
			               ? h->limits.max_header_bytes - used
			               : 0;
			why = "header section too large";
		}
		size_t avail = len - s->line_start;
		size_t end = s->line_start + (room < avail ? room + 1 : avail);
		size_t i = s->pos;
		while (i < end && buf[i] != '\r' && buf[i] != '\n')
			i++;
		s->examined += i - s->pos + 1;
		if (i == end) {
			s->pos = i;
			if (i - s->line_start > room)
				return fail(h, status, why);
			return PC_AGAIN;
		}
		if (buf[i] == '\n')
			return fail(h, 400, "bare LF");
		if (i + 1 == len) {
			s->pos = i; /* the CR is examined again with the byte after it */
			return PC_AGAIN;
		}
		if (buf[i + 1] != '\n')
			return fail(h, 400, "bare CR");
		size_t line = s->line_start;
		s->pos = s->line_start = i + 2;
		if (s->start_end != 0) {
			if (i == line)
				return (ssize_t)s->pos;
			s->nfields++;
			s->field_bytes += i - line + 2;
		} else if (i == line) {
			if (!request || ++s->empty_lines > PC_HTTP_LEADING_EMPTY_LINES_MAX)
				return fail(h, 400, "empty line before the start line");
		} else {
			s->start_line = line;
			s->start_end = i;
			s->examined += i - line;
			ssize_t rc = start_line(msg, buf + line, i - line);
			if (rc < 0)
				return rc;
		}
	}
	return PC_AGAIN;
}

/* "HTTP/" DIGIT "." DIGIT; true when the syntax holds, whatever the digits. */
static bool parse_version(const char *p, size_t n, unsigned *major, unsigned *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.')
		return false;
	unsigned char a = (unsigned char)p[5], b = (unsigned char)p[7];
	if (a < '0' || a > '9' || b < '0' || b > '9')
		return false;
	*major = a - '0';
	*minor = b - '0';
	return true;
}

static bool all_of(const char *p, size_t n, unsigned cls)
{
	for (size_t i = 0; i < n; i++)
		if (!pc_http__is((unsigned char)p[i], cls))
			return false;
	return true;
}

static const struct {
	const char *name;
	size_t len;
	enum pc_http_method id;
} methods[] = {
        {"GET", 3, PC_HTTP_METHOD_GET},         {"HEAD", 4, PC_HTTP_METHOD_HEAD},
        {"POST", 4, PC_HTTP_METHOD_POST},       {"PUT", 3, PC_HTTP_METHOD_PUT},
        {"DELETE", 6, PC_HTTP_METHOD_DELETE},   {"CONNECT", 7, PC_HTTP_METHOD_CONNECT},
        {"OPTIONS", 7, PC_HTTP_METHOD_OPTIONS}, {"TRACE", 5, PC_HTTP_METHOD_TRACE},
        {"PATCH", 5, PC_HTTP_METHOD_PATCH},
};

static enum pc_http_method method_id(const char *p, size_t n)
{
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (methods[i].len == n && memcmp(methods[i].name, p, n) == 0)
			return methods[i].id;
	return PC_HTTP_METHOD_OTHER;
}

/* request-line = method SP request-target SP HTTP-version, single spaces only. */
static ssize_t request_line(void *msg, const char *p, size_t n)
{
	struct pc_http_request *r = msg;
	struct pc_http_head *h = &r->head;
	const char *sp1 = memchr(p, ' ', n);
	if (!sp1)
		return fail(h, 400, "malformed request line");
	size_t mlen = (size_t)(sp1 - p);
	if (mlen == 0 || !all_of(p, mlen, PC_HTTP__TCHAR))
		return fail(h, 400, "invalid method");
	const char *t = sp1 + 1;
	size_t rest = n - mlen - 1;
	const char *sp2 = memchr(t, ' ', rest);
	if (!sp2)
		return fail(h, 400, "HTTP/0.9 requests are not supported");
	size_t tlen = (size_t)(sp2 - t);
	if (tlen == 0)
		return fail(h, 400, "malformed request line");
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return fail(h, 400, "invalid character in request-target");
	const char *v = sp2 + 1;
	size_t vlen = rest - tlen - 1;
	unsigned major, minor;
	if (!parse_version(v, vlen, &major, &minor))
		return fail(h, 400, "invalid HTTP version");
	if (major == 2 && minor == 0 && mlen == 3 && memcmp(p, "PRI", 3) == 0 && tlen == 1 &&
	    t[0] == '*') {
		fail(h, 505, "HTTP/2 prior knowledge is not supported");
		return PC_EUNSUPPORTED;
	}
	if (major != 1 || minor > 1)
		return fail(h, 505, "HTTP version not supported");
	r->method = (struct pc_http_slice){p, mlen};
	r->method_id = method_id(p, mlen);
	r->target = (struct pc_http_slice){t, tlen};
	h->minor_version = minor;
	return 0;
}

/* status-line = HTTP-version SP 3DIGIT SP [reason-phrase]; "HTTP/1.1 200" without the second
 * SP is accepted too, as it reads only one way. */
static ssize_t status_line(void *msg, const char *p, size_t n)
{
	struct pc_http_response *r = msg;
	struct pc_http_head *h = &r->head;
	unsigned major, minor;
	if (n < 8 || !parse_version(p, 8, &major, &minor))
		return fail(h, 502, "invalid status line");
	if (major != 1 || minor > 1)
		return fail(h, 502, "HTTP version not supported");
	if (n < 12 || p[8] != ' ')
		return fail(h, 502, "invalid status line");
	int status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(h, 502, "invalid status code");
		status = status * 10 + (p[i] - '0');
	}
	if (status < 100 || status > 599)
		return fail(h, 502, "invalid status code");
	if (n > 12 && p[12] != ' ')
		return fail(h, 502, "invalid status code");
	const char *reason = p + (n > 12 ? 13 : 12);
	size_t rlen = n > 12 ? n - 13 : 0;
	if (!all_of(reason, rlen, PC_HTTP__VALUE))
		return fail(h, 502, "invalid character in reason phrase");
	r->status = status;
	r->reason = (struct pc_http_slice){reason, rlen};
	h->minor_version = minor;
	return 0;
}

/* Phase two: the field lines in [from, to), each ending in CRLF (phase one saw to that, and
 * that every CR is followed by LF), into the slots. */
static ssize_t parse_fields(struct pc_http_head *h, const char *buf, size_t from, size_t to)
{
	h->nfields = 0;
	size_t a = from;
	while (a < to) {
		const char *line = buf + a;
		const char *cr = memchr(line, '\r', to - a);
		size_t n = (size_t)(cr - line);
		a += n + 2;
		if (pc_http__is_ows((unsigned char)line[0]))
			return fail(h, 400, "obs-fold or whitespace before a field line");
		size_t i = 0;
		while (i < n && pc_http__is((unsigned char)line[i], PC_HTTP__TCHAR))
			i++;
		if (i == n || line[i] != ':') {
			if (i < n && pc_http__is_ows((unsigned char)line[i]))
				return fail(h, 400, "whitespace before a colon");
			return fail(h, 400, "invalid field name");
		}
		if (i == 0)
			return fail(h, 400, "empty field name");
		size_t v = i + 1, e = n;
		while (v < e && pc_http__is_ows((unsigned char)line[v]))
			v++;
		while (e > v && pc_http__is_ows((unsigned char)line[e - 1]))
			e--;
		if (!all_of(line + v, e - v, PC_HTTP__VALUE))
			return fail(h, 400, "invalid character in field value");
		struct pc_http_field *f = &h->fields[h->nfields++];
		f->name = line;
		f->name_len = i;
		f->value = line + v;
		f->value_len = e - v;
		f->id = pc_http__field_id(line, i);
		f->flags = pc_http__is_hop_by_hop(f->id) ? PC_HTTP_FIELD_HOP : 0;
	}
	return 0;
}

/* Content-Length = 1*DIGIT, at most PC_HTTP_LENGTH_MAX: no sign, no list, no spaces. */
static bool parse_length(const char *p, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		unsigned d = (unsigned)(p[i] - '0');
		if (x > (PC_HTTP_LENGTH_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

/* Connection = #connection-option (RFC 9110 §7.6.1): tokens separated by commas with optional
 * whitespace; empty elements are allowed. */
static ssize_t parse_connection(struct pc_http_head *h, const char *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && pc_http__is_ows((unsigned char)v[i]))
			i++;
		size_t t = i;
		while (i < n && pc_http__is((unsigned char)v[i], PC_HTTP__TCHAR))
			i++;
		size_t tlen = i - t;
		while (i < n && pc_http__is_ows((unsigned char)v[i]))
			i++;
		if (i < n && v[i] != ',')
			return fail(h, 400, "invalid Connection header");
		i++;
		if (tlen == 0)
			continue;
		if (PC_HTTP__IEQ(v + t, tlen, "close")) {
			h->connection |= PC_HTTP_CONN_CLOSE;
		} else if (PC_HTTP__IEQ(v + t, tlen, "keep-alive")) {
			h->connection |= PC_HTTP_CONN_KEEP_ALIVE;
		} else if (PC_HTTP__IEQ(v + t, tlen, "upgrade")) {
			h->connection |= PC_HTTP_CONN_UPGRADE;
		} else {
			/* A proxy removes what Connection names: naming a framing field would make
			 * it forward a body with the field that frames it removed. */
			enum pc_http_field_id id = pc_http__field_id(v + t, tlen);
			if (id == PC_HTTP_FIELD_CONTENT_LENGTH || id == PC_HTTP_FIELD_HOST ||
			    id == PC_HTTP_FIELD_TRANSFER_ENCODING)
				return fail(h, 400, "Connection names a framing field");
			if (h->nconnection_names == PC_HTTP_CONNECTION_NAMES_MAX)
				return fail(h, 400, "too many Connection options");
			h->connection_names[h->nconnection_names++] =
			        (struct pc_http_slice){v + t, tlen};
		}
	}
	return 0;
}

bool pc_http_connection_names(const struct pc_http_head *h, const char *name, size_t len)
{
	for (size_t i = 0; i < h->nconnection_names; i++) {
		const struct pc_http_slice *s = &h->connection_names[i];
		if (s->len != len)
			continue;
		size_t j = 0;
		while (j < len && pc_http__lower((unsigned char)s->p[j]) ==
		                          pc_http__lower((unsigned char)name[j]))
			j++;
		if (j == len)
			return true;
	}
	return false;
}

/* The fields that decide framing, found once by the rules both directions share. */
struct framing {
	const struct pc_http_field *length;
	const struct pc_http_field *chunked;
	const struct pc_http_field *host;
	const struct pc_http_field *upgrade;
	size_t nhost;
	size_t nexpect;
	bool expect_other;
};

static ssize_t scan_framing(struct pc_http_head *h, struct framing *fr)
{
	memset(fr, 0, sizeof *fr);
	h->connection = 0;
	h->nconnection_names = 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct pc_http_field *f = &h->fields[i];
		ssize_t rc = 0;
		switch (f->id) {
		case PC_HTTP_FIELD_CONTENT_LENGTH:
			if (fr->length)
				return fail(h, 400, "more than one Content-Length");
			if (!parse_length(f->value, f->value_len, &h->content_length))
				return fail(h, 400, "invalid Content-Length");
			fr->length = f;
			break;
		case PC_HTTP_FIELD_TRANSFER_ENCODING:
			if (fr->chunked)
				return fail(h, 400, "more than one Transfer-Encoding");
			if (!PC_HTTP__IEQ(f->value, f->value_len, "chunked"))
				return fail(h, 400, "Transfer-Encoding other than chunked");
			fr->chunked = f;
			break;
		case PC_HTTP_FIELD_CONNECTION:
			rc = parse_connection(h, f->value, f->value_len);
			break;
		case PC_HTTP_FIELD_UPGRADE:
			if (fr->upgrade)
				return fail(h, 400, "more than one Upgrade");
			fr->upgrade = f;
			break;
		case PC_HTTP_FIELD_HOST:
			if (fr->nhost++ == 0)
				fr->host = f;
			break;
		case PC_HTTP_FIELD_EXPECT:
			fr->nexpect++;
			if (!PC_HTTP__IEQ(f->value, f->value_len, "100-continue"))
				fr->expect_other = true;
			break;
		default:
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (fr->chunked && fr->length)
		return fail(h, 400, "Transfer-Encoding with Content-Length");
	if (fr->chunked && h->minor_version == 0)
		return fail(h, 400, "Transfer-Encoding in HTTP/1.0");
	if (h->nconnection_names > 0)
		for (size_t i = 0; i < h->nfields; i++) {
			struct pc_http_field *f = &h->fields[i];
			if (pc_http_connection_names(h, f->name, f->name_len))
				f->flags |= PC_HTTP_FIELD_HOP;
		}
	bool close = (h->connection & PC_HTTP_CONN_CLOSE) != 0;
	if (h->minor_version == 1)
		h->keep_alive = !close;
	else
		h->keep_alive = !close && (h->connection & PC_HTTP_CONN_KEEP_ALIVE);
	if (fr->upgrade && h->minor_version == 1 && (h->connection & PC_HTTP_CONN_UPGRADE))
		h->upgrade = (struct pc_http_slice){fr->upgrade->value, fr->upgrade->value_len};
	else
		h->upgrade = (struct pc_http_slice){NULL, 0};
	if (fr->chunked)
		h->body = PC_HTTP_BODY_CHUNKED;
	else if (fr->length)
		h->body = PC_HTTP_BODY_LENGTH;
	else
		h->body = PC_HTTP_BODY_NONE;
	if (!fr->length)
		h->content_length = 0;
	return 0;
}

static void head_init(struct pc_http_head *h, struct pc_http_field *slots, size_t nslots,
                      const struct pc_http_limits *limits)
{
	h->fields = slots;
	h->nslots = slots ? nslots : 0;
	h->limits = limits ? *limits : pc_http_default_limits;
	h->error = (struct pc_http_error){0, "no error"};
}

/* Runs both phases; finish() checks what is particular to requests or responses. */
static ssize_t parse_head(struct pc_http_head *h, const char *buf, size_t len, bool request,
                          start_line_fn *start_line, void *msg,
                          ssize_t (*finish)(void *msg, struct framing *))
{
	struct pc_http_scan *s = &h->scan;
	if (s->failed)
		return s->failed;
	if (len < s->pos) {
		/* Fewer bytes than before: start again rather than trust stale offsets. */
		size_t examined = s->examined;
		memset(s, 0, sizeof *s);
		s->examined = examined;
	}
	ssize_t n = scan_head(h, buf, len, request, start_line, msg);
	if (n == PC_AGAIN)
		return n;
	if (n >= 0) {
		/* The buffer may have moved since the start line was checked: take the slices
		 * again from this one. */
		size_t head = (size_t)n;
		s->examined += head;
		ssize_t rc = start_line(msg, buf + s->start_line, s->start_end - s->start_line);
		struct framing fr;
		if (rc == 0)
			rc = parse_fields(h, buf, s->start_end + 2, head - 2);
		if (rc == 0)
			rc = scan_framing(h, &fr);
		if (rc == 0)
			rc = finish(msg, &fr);
		s->pos = 0; /* the next call, if any, repeats this one */
		s->line_start = 0;
		s->start_end = 0;
		s->field_bytes = 0;
		s->nfields = 0;
		s->empty_lines = 0;
		if (rc == 0)
			return n;
		n = rc;
	}
	s->failed = (int)n; /* every later call fails the same way */
	return n;
}

static ssize_t finish_request(void *msg, struct framing *fr)
{
	struct pc_http_request *r = msg;
	struct pc_http_head *h = &r->head;
	if (fr->nhost > 1)
		return fail(h, 400, "more than one Host");
	if (fr->nhost == 0 && h->minor_version == 1)
		return fail(h, 400, "missing Host");
	r->host = (struct pc_http_slice){NULL, 0};
	if (fr->host) {
		if (pc_http_authority_split(fr->host->value, fr->host->value_len,
		                            PC_HTTP_AUTHORITY_EMPTY_OK, &(struct pc_http_slice){0},
		                            &(uint16_t){0}, NULL) != 0)
			return fail(h, 400, "invalid Host");
		r->host = (struct pc_http_slice){fr->host->value, fr->host->value_len};
	}
	/* CONNECT has no content: bytes after its head belong to the tunnel. */
	if (r->method_id == PC_HTTP_METHOD_CONNECT &&
	    (fr->chunked || (fr->length && h->content_length != 0)))
		return fail(h, 400, "CONNECT with a body");
	if (fr->expect_other)
		return fail(h, 417, "unsupported expectation");
	r->expect_continue = fr->nexpect > 0 && h->minor_version == 1;
	return 0;
}

void pc_http_request_init(struct pc_http_request *r, struct pc_http_field *slots, size_t nslots,
                          const struct pc_http_limits *limits)
{
	memset(r, 0, sizeof *r);
	head_init(&r->head, slots, nslots, limits);
}

ssize_t pc_http_request_parse(struct pc_http_request *r, const char *buf, size_t len)
{
	return parse_head(&r->head, buf, len, true, request_line, r, finish_request);
}

static ssize_t finish_response(void *msg, struct framing *fr)
{
	struct pc_http_response *r = msg;
	struct pc_http_head *h = &r->head;
	int st = r->status;
	bool informational = st >= 100 && st < 200;
	if ((informational || st == 204) && (fr->chunked || (fr->length && h->content_length != 0)))
		return fail(h, 502, "framing fields in a 1xx or 204 response");
	if (st == 101) {
		h->body = PC_HTTP_BODY_TUNNEL;
	} else if (r->request_method == PC_HTTP_METHOD_HEAD || informational || st == 204 ||
	           st == 304) {
		h->body = PC_HTTP_BODY_NONE;
	} else if (r->request_method == PC_HTTP_METHOD_CONNECT && st >= 200 && st < 300) {
		h->body = PC_HTTP_BODY_TUNNEL;
	} else if (h->body == PC_HTTP_BODY_NONE) {
		h->body = PC_HTTP_BODY_CLOSE;
	}
	if (st != 101)
		h->upgrade = (struct pc_http_slice){NULL, 0};
	if (h->body == PC_HTTP_BODY_CLOSE || h->body == PC_HTTP_BODY_TUNNEL)
		h->keep_alive = false;
	return 0;
}

void pc_http_response_init(struct pc_http_response *r, struct pc_http_field *slots, size_t nslots,
                           const struct pc_http_limits *limits, enum pc_http_method request_method)
{
	memset(r, 0, sizeof *r);
	head_init(&r->head, slots, nslots, limits);
	r->request_method = request_method;
}

ssize_t pc_http_response_parse(struct pc_http_response *r, const char *buf, size_t len)
{
	ssize_t n = parse_head(&r->head, buf, len, false, status_line, r, finish_response);
	if (n == PC_EPARSE)
		r->head.error.status = 502;
	return n;
}
