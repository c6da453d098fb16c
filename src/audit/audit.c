#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* Distinct destinations counted for the summary; beyond this, blocks are still logged and
 * counted in total, and the summary says how many destinations it left out. */
#define SUMMARY_MAX 1024

struct summary_entry {
	char host[PC_HOST_NAME_MAX + 1];
	uint16_t port;
	enum pc_reason reason;
	enum pc_dns_outcome dns;
	uint64_t count;
};

struct pc_audit {
	int fd;       /* -1: no log */
	bool owns_fd; /* a file we opened (not stderr) */
	bool failed;  /* a write failed; reported once */
	uint64_t total;
	struct pc_block ring[PC_AUDIT_RING];
	size_t ring_next, ring_len;
	struct summary_entry *summary;
	size_t n_summary;
	uint64_t summary_dropped;
};

/* Creates every missing directory above path (mode 0700). */
static int make_parents(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int pc_audit_new(const char *path, struct pc_audit **out)
{
	struct pc_audit *a = calloc(1, sizeof(*a));
	int rc;

	*out = NULL;
	if (a == NULL)
		return -ENOMEM;
	a->fd = -1;
	if (path == NULL) {
		a->fd = STDERR_FILENO;
	} else if (strcmp(path, "off") != 0) {
		rc = make_parents(path);
		if (rc == 0) {
			a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
			             0600);
			rc = a->fd < 0 ? -errno : 0;
		}
		if (rc < 0) {
			free(a);
			return rc;
		}
		a->owns_fd = true;
	}
	*out = a;
	return 0;
}

void pc_audit_free(struct pc_audit *a)
{
	if (a == NULL)
		return;
	if (a->owns_fd)
		close(a->fd);
	free(a->summary);
	free(a);
}

/* Copies the string src into dst of size bytes, cut to fit (snprintf "%s" without the
 * formatting machinery: this runs for every block). Returns the length copied. */
static size_t copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

static void format_client(const struct sockaddr *sa, char *buf, size_t size)
{
	char addr[PC_ADDR_STRLEN], port[8];
	size_t n = 0, p = sizeof(port);
	unsigned v;
	bool v6;

	buf[0] = '\0';
	if (sa == NULL || pc_addr_format(sa, addr, sizeof(addr)) < 0)
		return;
	v6 = sa->sa_family == AF_INET6;
	v = ntohs(v6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
	             : ((const struct sockaddr_in *)sa)->sin_port);
	port[--p] = '\0';
	do {
		port[--p] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	port[--p] = ':';
	if (v6)
		n += copy_cut(buf + n, size - n, "[");
	n += copy_cut(buf + n, size - n, addr);
	if (v6)
		n += copy_cut(buf + n, size - n, "]");
	copy_cut(buf + n, size - n, port + p);
}

void pc_block_fill(struct pc_block *b, const struct pc_request *req, const char *raw_host,
                   size_t raw_len, const struct pc_decision *d, const struct sockaddr *client,
                   enum pc_mode mode)
{
	memset(b, 0, sizeof(*b));
	if (req->host_ok) {
		copy_cut(b->host, sizeof(b->host), req->host.name);
	} else if (raw_host != NULL) {
		/* Client bytes that failed normalisation: keep them printable ASCII so no log line
		 * or terminal summary can carry control sequences. */
		size_t i;
		for (i = 0; i < raw_len && i + 1 < sizeof(b->host); i++)
			b->host[i] = raw_host[i] > 0x20 && raw_host[i] < 0x7f ? raw_host[i] : '?';
		b->host[i] = '\0';
	}
	b->port = req->port;
	b->protocol = req->protocol;
	b->decision = d->verdict;
	b->reason = d->reason;
	b->source = d->source;
	b->dns = d->dns;
	if (req->method != NULL)
		copy_cut(b->method, sizeof(b->method), req->method);
	format_client(client, b->client, sizeof(b->client));
	b->mode = mode;
}

static json_t *string_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

int pc_audit_format(const struct pc_block *b, char *buf, size_t size)
{
	json_t *o = json_object();
	char ts[64];
	struct tm tm;
	time_t secs = (time_t)(b->ts_ms / 1000);
	size_t n;

	gmtime_r(&secs, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(b->ts_ms % 1000));
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "host", string_or_null(b->host));
	json_object_set_new(o, "port", json_integer(b->port));
	json_object_set_new(o, "protocol", json_string(pc_protocol_name(b->protocol)));
	json_object_set_new(o, "reason", string_or_null(pc_reason_name(b->reason)));
	json_object_set_new(o, "decision", json_string(pc_verdict_name(b->decision)));
	json_object_set_new(o, "source", string_or_null(pc_source_name(b->source)));
	json_object_set_new(o, "method", string_or_null(b->method));
	json_object_set_new(o, "client", string_or_null(b->client));
	json_object_set_new(o, "mode",
	                    json_string(b->mode == PC_MODE_LIMITED ? "limited" : "full"));
	n = json_dumpb(o, buf, size, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (n == 0 || n + 1 >= size)
		return -ENOSPC;
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return (int)n + 1;
}

static void count_destination(struct pc_audit *a, const struct pc_block *b)
{
	struct summary_entry *e;

	for (size_t i = 0; i < a->n_summary; i++) {
		e = &a->summary[i];
		if (e->port == b->port && e->reason == b->reason && e->dns == b->dns &&
		    strcmp(e->host, b->host) == 0) {
			e->count++;
			return;
		}
	}
	if (a->n_summary == SUMMARY_MAX) {
		a->summary_dropped++;
		return;
	}
	if (a->summary == NULL) {
		a->summary = calloc(SUMMARY_MAX, sizeof(*a->summary));
		if (a->summary == NULL) {
			a->summary_dropped++;
			return;
		}
	}
	e = &a->summary[a->n_summary++];
	memcpy(e->host, b->host, sizeof(e->host));
	e->port = b->port;
	e->reason = b->reason;
	e->dns = b->dns;
	e->count = 1;
}

static void write_line(struct pc_audit *a, const char *line, size_t len)
{
	ssize_t n;

	if (a->fd < 0)
		return;
	do
		n = write(a->fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len || a->failed)
		return;
	a->failed = true;
	if (n < 0)
		pc_log_warn("audit log write failed; further failures are not reported");
	else
		pc_log_warnx("audit log write was short; further failures are not reported");
}

void pc_audit_record(struct pc_audit *a, const struct pc_block *b)
{
	struct pc_block *slot = &a->ring[a->ring_next];
	char line[1024];
	int len;

	*slot = *b;
	if (slot->ts_ms == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		slot->ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	a->ring_next = (a->ring_next + 1) % PC_AUDIT_RING;
	if (a->ring_len < PC_AUDIT_RING)
		a->ring_len++;
	a->total++;
	count_destination(a, slot);
	if (a->fd < 0)
		return; /* "off": the ring and the counts are all there is to keep */
	len = pc_audit_format(slot, line, sizeof(line));
	if (len > 0)
		write_line(a, line, (size_t)len);
}

size_t pc_audit_recent(const struct pc_audit *a, struct pc_block *out, size_t max)
{
	size_t n = a->ring_len < max ? a->ring_len : max;
	size_t first = (a->ring_next + PC_AUDIT_RING - a->ring_len) % PC_AUDIT_RING;

	/* the newest n, oldest first */
	first = (first + a->ring_len - n) % PC_AUDIT_RING;
	for (size_t i = 0; i < n; i++)
		out[i] = a->ring[(first + i) % PC_AUDIT_RING];
	return n;
}

uint64_t pc_audit_count(const struct pc_audit *a)
{
	return a->total;
}

void pc_audit_write_summary(const struct pc_audit *a, FILE *f)
{
	for (size_t i = 0; i < a->n_summary; i++) {
		const struct summary_entry *e = &a->summary[i];
		struct pc_decision d;
		bool v6 = strchr(e->host, ':') != NULL;

		memset(&d, 0, sizeof(d));
		d.reason = e->reason;
		d.dns = e->dns;
		fprintf(f, "blocked: %s%s%s:%u x%llu (%s)\n", v6 ? "[" : "", e->host, v6 ? "]" : "",
		        e->port, (unsigned long long)e->count, pc_decision_summary(&d));
	}
	if (a->summary_dropped > 0)
		fprintf(f, "blocked: %llu more blocks to other destinations\n",
		        (unsigned long long)a->summary_dropped);
}
