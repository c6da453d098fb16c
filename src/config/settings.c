#include "config/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/toml.h"
#include "core/error.h"

extern const char pc_default_config[];
extern const size_t pc_default_config_len;

#define EMBEDDED_SOURCE "<embedded default>"

/* The largest configuration file read; the TOML reader has its own, equal bound. */
#define SETTINGS_MAX_FILE PC_TOML_MAX_INPUT

void pc_config_error_set(struct pc_config_error *err, const struct pc_pos *pos, const char *fmt,
                         ...)
{
	va_list ap;
	int n = 0;

	if (err == NULL)
		return;
	if (pos != NULL && pos->origin != NULL) {
		if (pos->line > 0)
			n = snprintf(err->text, sizeof(err->text), "%s:%u:%u: ", pos->origin,
			             pos->line, pos->col);
		else
			n = snprintf(err->text, sizeof(err->text), "%s: ", pos->origin);
		if (n < 0 || (size_t)n >= sizeof(err->text))
			n = 0;
	}
	va_start(ap, fmt);
	vsnprintf(err->text + n, sizeof(err->text) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- the schema ---- */

enum field_type {
	F_BOOL,
	F_INT,
	F_STRING,
	F_LIST,
	F_MODE,
	F_APPROVAL,
	F_REVIEWER,
	F_RULES_FILES, /* a list whose presence is recorded */
};

struct field {
	const char *name;
	enum field_type type;
	size_t offset;
	long long min, max; /* F_INT bounds */
};

#define FIELD(name, type)                                                                          \
	{                                                                                          \
#name, type, offsetof(struct pc_settings, name), 0, 0                              \
	}
#define INT_FIELD(name, lo, hi)                                                                    \
	{                                                                                          \
#name, F_INT, offsetof(struct pc_settings, name), lo, hi                           \
	}

static const struct field network_fields[] = {
        FIELD(enabled, F_BOOL),
        FIELD(proxy_url, F_STRING),
        FIELD(socks_url, F_STRING),
        FIELD(enable_socks5, F_BOOL),
        FIELD(enable_socks5_udp, F_BOOL),
        FIELD(mode, F_MODE),
        FIELD(allowed_domains, F_LIST),
        FIELD(denied_domains, F_LIST),
        FIELD(allow_local_binding, F_BOOL),
        FIELD(allow_unix_sockets, F_LIST),
        FIELD(dangerously_allow_all_unix_sockets, F_BOOL),
        FIELD(allow_upstream_proxy, F_BOOL),
        FIELD(dangerously_allow_non_loopback_proxy, F_BOOL),
        FIELD(dns_servers, F_LIST),
        FIELD(audit_log, F_STRING),
        FIELD(rules_files, F_RULES_FILES),
        FIELD(approval_policy, F_APPROVAL),
        INT_FIELD(approval_timeout_s, 1, 86400),
        FIELD(approvals_reviewer, F_REVIEWER),
        FIELD(reviewer_command, F_LIST),
        INT_FIELD(reviewer_timeout_s, 1, 86400),
        INT_FIELD(reviewer_threshold, 0, 100),
        INT_FIELD(max_connections, 1, 1048576),
        INT_FIELD(head_timeout_s, 1, 3600),
        INT_FIELD(idle_timeout_s, 1, 86400),
        INT_FIELD(tunnel_idle_timeout_s, 1, 604800),
        INT_FIELD(connect_timeout_s, 1, 600),
        INT_FIELD(max_request_line, 64, 1048576),
        INT_FIELD(max_header_bytes, 256, 16777216),
        INT_FIELD(max_header_fields, 1, 10000),
        INT_FIELD(udp_idle_timeout_s, 1, 86400),
};

static const struct field mitm_fields[] = {
        {"enabled", F_BOOL, offsetof(struct pc_settings, mitm.enabled), 0, 0},
        {"ca_cert_path", F_STRING, offsetof(struct pc_settings, mitm.ca_cert_path), 0, 0},
        {"ca_key_path", F_STRING, offsetof(struct pc_settings, mitm.ca_key_path), 0, 0},
        {"leaf_cache_size", F_INT, offsetof(struct pc_settings, mitm.leaf_cache_size), 1, 1000000},
};

static void set_defaults(struct pc_settings *s)
{
	s->enabled = true;
	s->enable_socks5 = true;
	s->enable_socks5_udp = true;
	s->mode = PC_MODE_FULL;
	s->allow_upstream_proxy = true;
	s->approval_policy = PC_APPROVAL_ON_REQUEST;
	s->approval_timeout_s = 120;
	s->approvals_reviewer = PC_REVIEWER_USER;
	s->reviewer_timeout_s = 90;
	s->reviewer_threshold = 80;
	s->max_connections = 4096;
	s->head_timeout_s = 30;
	s->idle_timeout_s = 60;
	s->tunnel_idle_timeout_s = 900;
	s->connect_timeout_s = 10;
	s->max_request_line = 8192;
	s->max_header_bytes = 65536;
	s->max_header_fields = 100;
	s->udp_idle_timeout_s = 120;
	s->mitm.leaf_cache_size = 1024;
}

/* Defaults that are strings are set after parsing, only where the file left them unset, so
 * that every string in pc_settings is owned the same way. */
static int set_string_defaults(struct pc_settings *s)
{
	if (s->proxy_url == NULL && (s->proxy_url = strdup("http://127.0.0.1:3128")) == NULL)
		return -ENOMEM;
	if (s->socks_url == NULL && (s->socks_url = strdup("http://127.0.0.1:8081")) == NULL)
		return -ENOMEM;
	return 0;
}

static void list_free(struct pc_setting_list *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	free(l->pos);
	memset(l, 0, sizeof(*l));
}

static int list_append(struct pc_setting_list *l, const char *text, size_t len,
                       const struct pc_pos *pos)
{
	char **items;
	struct pc_pos *poss;
	char *copy;

	items = realloc(l->items, (l->len + 1) * sizeof(*items));
	if (items == NULL)
		return -ENOMEM;
	l->items = items;
	poss = realloc(l->pos, (l->len + 1) * sizeof(*poss));
	if (poss == NULL)
		return -ENOMEM;
	l->pos = poss;
	copy = strndup(text, len);
	if (copy == NULL)
		return -ENOMEM;
	l->items[l->len] = copy;
	l->pos[l->len] = *pos;
	l->len++;
	return 0;
}

void pc_settings_free(struct pc_settings *s)
{
	if (s == NULL)
		return;
	free(s->source);
	free(s->proxy_url);
	free(s->socks_url);
	list_free(&s->allowed_domains);
	list_free(&s->denied_domains);
	list_free(&s->allow_unix_sockets);
	list_free(&s->dns_servers);
	free(s->audit_log);
	list_free(&s->rules_files);
	list_free(&s->reviewer_command);
	free(s->mitm.ca_cert_path);
	free(s->mitm.ca_key_path);
	for (size_t i = 0; i < s->n_profiles; i++) {
		free(s->profiles[i].name);
		list_free(&s->profiles[i].allowed_domains);
		list_free(&s->profiles[i].denied_domains);
	}
	free(s->profiles);
	free(s);
}

/* ---- reading values ---- */

struct loader {
	struct pc_settings *s;
	struct pc_config_error *err;
};

static struct pc_pos value_pos(const struct loader *ld, const struct pc_toml_value *v)
{
	struct pc_pos pos = {v->line, v->col, ld->s->source};
	return pos;
}

static int type_error(struct loader *ld, const char *key, const struct pc_toml_value *v,
                      const char *want)
{
	struct pc_pos pos = value_pos(ld, v);
	pc_config_error_set(ld->err, &pos, "'%s' must be %s, not %s", key, want,
	                    pc_toml_type_name(v->type));
	return PC_ECONFIG;
}

static int read_string_list(struct loader *ld, const char *key, const struct pc_toml_value *v,
                            struct pc_setting_list *out)
{
	if (v->type != PC_TOML_ARRAY)
		return type_error(ld, key, v, "an array of strings");
	list_free(out);
	for (size_t i = 0; i < v->u.array.len; i++) {
		const struct pc_toml_value *item = v->u.array.items[i];
		struct pc_pos pos = value_pos(ld, item);
		int rc;

		if (item->type != PC_TOML_STRING)
			return type_error(ld, key, item, "an array of strings");
		rc = list_append(out, item->u.str.ptr, item->u.str.len, &pos);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct enum_spec {
	const char *const *names; /* index = enum value */
	const char *expect;       /* for the error message */
};

static const char *const mode_names[] = {"full", "limited", NULL};
static const char *const approval_names[] = {"on-request", "never", NULL};
static const char *const reviewer_names[] = {"user", "command", NULL};
static const struct enum_spec mode_spec = {mode_names, "\"full\" or \"limited\""};
static const struct enum_spec approval_spec = {approval_names, "\"on-request\" or \"never\""};
static const struct enum_spec reviewer_spec = {reviewer_names, "\"user\" or \"command\""};

static int read_enum(struct loader *ld, const char *key, const struct pc_toml_value *v,
                     const struct enum_spec *spec, int *out)
{
	struct pc_pos pos = value_pos(ld, v);

	if (v->type != PC_TOML_STRING)
		return type_error(ld, key, v, "a string");
	for (int i = 0; spec->names[i] != NULL; i++) {
		if (strcmp(v->u.str.ptr, spec->names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	pc_config_error_set(ld->err, &pos, "'%s' must be %s, not \"%s\"", key, spec->expect,
	                    v->u.str.ptr);
	return PC_ECONFIG;
}

static int read_field(struct loader *ld, const struct field *f, const struct pc_toml_value *v)
{
	void *slot = (char *)ld->s + f->offset;
	struct pc_pos pos = value_pos(ld, v);
	int e;

	switch (f->type) {
	case F_BOOL:
		if (v->type != PC_TOML_BOOLEAN)
			return type_error(ld, f->name, v, "true or false");
		*(bool *)slot = v->u.boolean;
		return 0;
	case F_INT:
		if (v->type != PC_TOML_INTEGER)
			return type_error(ld, f->name, v, "an integer");
		if (v->u.integer < f->min || v->u.integer > f->max) {
			pc_config_error_set(ld->err, &pos, "'%s' must be between %lld and %lld",
			                    f->name, f->min, f->max);
			return PC_ECONFIG;
		}
		*(int *)slot = (int)v->u.integer;
		return 0;
	case F_STRING:
		if (v->type != PC_TOML_STRING)
			return type_error(ld, f->name, v, "a string");
		if (v->u.str.len == 0) {
			pc_config_error_set(ld->err, &pos, "'%s' must not be empty", f->name);
			return PC_ECONFIG;
		}
		free(*(char **)slot);
		*(char **)slot = strdup(v->u.str.ptr);
		return *(char **)slot == NULL ? -ENOMEM : 0;
	case F_RULES_FILES:
		ld->s->has_rules_files = true;
		/* fallthrough */
	case F_LIST:
		return read_string_list(ld, f->name, v, slot);
	case F_MODE:
		e = 0;
		if (read_enum(ld, f->name, v, &mode_spec, &e) < 0)
			return PC_ECONFIG;
		*(enum pc_mode *)slot = (enum pc_mode)e;
		return 0;
	case F_APPROVAL:
		e = 0;
		if (read_enum(ld, f->name, v, &approval_spec, &e) < 0)
			return PC_ECONFIG;
		*(enum pc_approval_policy *)slot = (enum pc_approval_policy)e;
		return 0;
	case F_REVIEWER:
		e = 0;
		if (read_enum(ld, f->name, v, &reviewer_spec, &e) < 0)
			return PC_ECONFIG;
		*(enum pc_reviewer_kind *)slot = (enum pc_reviewer_kind)e;
		return 0;
	}
	return PC_ECONFIG;
}

static int unknown_key(struct loader *ld, const char *table, const struct pc_toml_kv *kv)
{
	struct pc_pos pos = {kv->line, kv->col, ld->s->source};

	if (table != NULL)
		pc_config_error_set(ld->err, &pos, "unknown key '%s' in [%s]", kv->key, table);
	else
		pc_config_error_set(ld->err, &pos, "unknown key '%s'", kv->key);
	return PC_ECONFIG;
}

static int read_table(struct loader *ld, const char *table_name, const struct pc_toml_value *t,
                      const struct field *fields, size_t n_fields, const char *subtable,
                      const struct pc_toml_value **sub)
{
	for (size_t i = 0; i < t->u.table.len; i++) {
		const struct pc_toml_kv *kv = &t->u.table.items[i];
		const struct field *f = NULL;
		int rc;

		if (subtable != NULL && strcmp(kv->key, subtable) == 0) {
			if (kv->value->type != PC_TOML_TABLE)
				return type_error(ld, kv->key, kv->value, "a table");
			*sub = kv->value;
			continue;
		}
		for (size_t j = 0; j < n_fields; j++) {
			if (strcmp(kv->key, fields[j].name) == 0) {
				f = &fields[j];
				break;
			}
		}
		if (f == NULL)
			return unknown_key(ld, table_name, kv);
		rc = read_field(ld, f, kv->value);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_profiles(struct loader *ld, const struct pc_toml_value *t)
{
	if (t->type != PC_TOML_TABLE)
		return type_error(ld, "profiles", t, "a table");
	ld->s->profiles = calloc(t->u.table.len ? t->u.table.len : 1, sizeof(struct pc_profile));
	if (ld->s->profiles == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->u.table.len; i++) {
		const struct pc_toml_kv *kv = &t->u.table.items[i];
		struct pc_profile *p = &ld->s->profiles[ld->s->n_profiles];
		const struct pc_toml_value *pt = kv->value;

		if (pt->type != PC_TOML_TABLE)
			return type_error(ld, kv->key, pt, "a table");
		p->name = strdup(kv->key);
		if (p->name == NULL)
			return -ENOMEM;
		ld->s->n_profiles++;
		for (size_t j = 0; j < pt->u.table.len; j++) {
			const struct pc_toml_kv *pkv = &pt->u.table.items[j];
			int rc;

			if (strcmp(pkv->key, "allowed_domains") == 0) {
				p->has_allowed = true;
				rc = read_string_list(ld, pkv->key, pkv->value,
				                      &p->allowed_domains);
			} else if (strcmp(pkv->key, "denied_domains") == 0) {
				p->has_denied = true;
				rc = read_string_list(ld, pkv->key, pkv->value, &p->denied_domains);
			} else {
				char name[128];
				snprintf(name, sizeof(name), "profiles.%s", kv->key);
				return unknown_key(ld, name, pkv);
			}
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* A listener URL: "http://HOST:PORT", "socks5://HOST:PORT", "socks5h://HOST:PORT" or
 * "HOST:PORT". Only its shape is checked here; the listener parses the address. */
static int check_listener_url(struct loader *ld, const char *key, const char *url,
                              const struct pc_toml_value *v)
{
	static const char *const schemes[] = {"http://", "socks5://", "socks5h://"};
	const char *rest = url;
	const char *colon;
	struct pc_pos pos = value_pos(ld, v);

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(url, schemes[i], n) == 0) {
			rest = url + n;
			break;
		}
	}
	colon = strrchr(rest, ':');
	if (strstr(rest, "://") != NULL || colon == NULL || colon == rest || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5 ||
	    atoi(colon + 1) > 65535 || strchr(rest, '/') != NULL) {
		pc_config_error_set(ld->err, &pos,
		                    "'%s' must look like \"http://127.0.0.1:3128\", not \"%s\"",
		                    key, url);
		return PC_ECONFIG;
	}
	return 0;
}

static int validate(struct loader *ld, const struct pc_toml_value *network)
{
	struct pc_settings *s = ld->s;
	const struct pc_toml_value *v;
	int rc;

	if (network != NULL) {
		v = pc_toml_get(network, "proxy_url");
		if (v != NULL && (rc = check_listener_url(ld, "proxy_url", s->proxy_url, v)) < 0)
			return rc;
		v = pc_toml_get(network, "socks_url");
		if (v != NULL && (rc = check_listener_url(ld, "socks_url", s->socks_url, v)) < 0)
			return rc;
	}
	for (size_t i = 0; i < s->denied_domains.len; i++) {
		if (strcmp(s->denied_domains.items[i], "*") == 0) {
			pc_config_error_set(ld->err, &s->denied_domains.pos[i],
			                    "'*' in denied_domains would deny everything; remove "
			                    "allowed_domains entries instead");
			return PC_ECONFIG;
		}
	}
	for (size_t i = 0; i < s->allow_unix_sockets.len; i++) {
		if (s->allow_unix_sockets.items[i][0] != '/') {
			pc_config_error_set(
			        ld->err, &s->allow_unix_sockets.pos[i],
			        "allow_unix_sockets entries must be absolute paths, not "
			        "\"%s\"",
			        s->allow_unix_sockets.items[i]);
			return PC_ECONFIG;
		}
	}
	if (s->approvals_reviewer == PC_REVIEWER_COMMAND && s->reviewer_command.len == 0) {
		struct pc_pos pos = {0, 0, s->source};
		v = network != NULL ? pc_toml_get(network, "approvals_reviewer") : NULL;
		if (v != NULL)
			pos = value_pos(ld, v);
		pc_config_error_set(ld->err, &pos,
		                    "approvals_reviewer = \"command\" needs reviewer_command");
		return PC_ECONFIG;
	}
	if (s->max_request_line > s->max_header_bytes) {
		struct pc_pos pos = {0, 0, s->source};
		pc_config_error_set(ld->err, &pos,
		                    "max_request_line (%d) must not exceed max_header_bytes (%d)",
		                    s->max_request_line, s->max_header_bytes);
		return PC_ECONFIG;
	}
	return 0;
}

int pc_settings_parse(const char *text, size_t len, const char *source, struct pc_settings **out,
                      struct pc_config_error *err)
{
	struct pc_toml_value *root = NULL;
	struct pc_toml_error terr;
	const struct pc_toml_value *network = NULL, *mitm = NULL;
	struct loader ld;
	int rc;

	*out = NULL;
	ld.err = err;
	ld.s = calloc(1, sizeof(*ld.s));
	if (ld.s == NULL)
		return -ENOMEM;
	set_defaults(ld.s);
	ld.s->source = strdup(source);
	if (ld.s->source == NULL) {
		rc = -ENOMEM;
		goto fail;
	}

	rc = pc_toml_parse(text, len, &root, &terr);
	if (rc < 0) {
		struct pc_pos pos = {terr.line, terr.col, ld.s->source};
		if (rc == -ENOMEM)
			goto fail;
		pc_config_error_set(err, &pos, "%s", terr.msg);
		rc = PC_ECONFIG;
		goto fail;
	}
	for (size_t i = 0; i < root->u.table.len; i++) {
		const struct pc_toml_kv *kv = &root->u.table.items[i];

		if (strcmp(kv->key, "network") == 0) {
			if (kv->value->type != PC_TOML_TABLE) {
				rc = type_error(&ld, kv->key, kv->value, "a table");
				goto fail;
			}
			network = kv->value;
			rc = read_table(&ld, "network", network, network_fields,
			                sizeof(network_fields) / sizeof(network_fields[0]), "mitm",
			                &mitm);
		} else if (strcmp(kv->key, "profiles") == 0) {
			rc = read_profiles(&ld, kv->value);
		} else {
			rc = unknown_key(&ld, NULL, kv);
		}
		if (rc < 0)
			goto fail;
	}
	if (mitm != NULL) {
		rc = read_table(&ld, "network.mitm", mitm, mitm_fields,
		                sizeof(mitm_fields) / sizeof(mitm_fields[0]), NULL, NULL);
		if (rc < 0)
			goto fail;
	}
	rc = set_string_defaults(ld.s);
	if (rc < 0)
		goto fail;
	rc = validate(&ld, network);
	if (rc < 0)
		goto fail;
	pc_toml_free(root);
	*out = ld.s;
	return 0;
fail:
	if (rc == -ENOMEM)
		pc_config_error_set(err, NULL, "%s: out of memory", source);
	pc_toml_free(root);
	pc_settings_free(ld.s);
	return rc;
}

int pc_settings_default(struct pc_settings **out, struct pc_config_error *err)
{
	return pc_settings_parse(pc_default_config, pc_default_config_len, EMBEDDED_SOURCE, out,
	                         err);
}

/* Reads a whole regular file of at most SETTINGS_MAX_FILE bytes into a new buffer. */
static int read_file(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > (off_t)SETTINGS_MAX_FILE) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	/* The file may change size while read: read to EOF within the bound. */
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			free(buf);
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

static int load_file(const char *path, struct pc_settings **out, struct pc_config_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, &text, &len);

	if (rc < 0) {
		struct pc_pos pos = {0, 0, path};
		pc_config_error_set(err, &pos, "cannot read configuration: %s",
		                    rc == -EINVAL  ? "not a regular file"
		                    : rc == -EFBIG ? "file too large"
		                                   : pc_strerror(rc));
		return PC_ECONFIG;
	}
	rc = pc_settings_parse(text, len, path, out, err);
	free(text);
	return rc;
}

int pc_settings_apply_overrides(struct pc_settings *s, const struct pc_overrides *ov,
                                struct pc_config_error *err)
{
	static const struct pc_pos allow_pos = {0, 0, "--allow"};
	static const struct pc_pos deny_pos = {0, 0, "--deny"};
	int rc;

	(void)err;
	for (size_t i = 0; i < ov->n_allow; i++) {
		rc = list_append(&s->allowed_domains, ov->allow[i], strlen(ov->allow[i]),
		                 &allow_pos);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < ov->n_deny; i++) {
		if (strcmp(ov->deny[i], "*") == 0) {
			pc_config_error_set(err, &deny_pos, "'*' would deny everything");
			return PC_ECONFIG;
		}
		rc = list_append(&s->denied_domains, ov->deny[i], strlen(ov->deny[i]), &deny_pos);
		if (rc < 0)
			return rc;
	}
	if (ov->allow_local)
		s->allow_local_binding = true;
	if (ov->limited)
		s->mode = PC_MODE_LIMITED;
	return 0;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 || errno != ENOENT;
}

int pc_settings_load(const struct pc_overrides *ov, struct pc_settings **out,
                     struct pc_config_error *err)
{
	char path[4096];
	const char *env;
	int rc;

	*out = NULL;
	if (ov->config_path != NULL) {
		rc = load_file(ov->config_path, out, err);
	} else if ((env = getenv("PORTCULLIS_CONFIG")) != NULL && env[0] != '\0') {
		rc = load_file(env, out, err);
	} else {
		const char *xdg = getenv("XDG_CONFIG_HOME");
		const char *home = getenv("HOME");

		path[0] = '\0';
		if (xdg != NULL && xdg[0] == '/')
			snprintf(path, sizeof(path), "%s/portcullis/config.toml", xdg);
		else if (home != NULL && home[0] == '/')
			snprintf(path, sizeof(path), "%s/.config/portcullis/config.toml", home);
		if (path[0] != '\0' && file_exists(path))
			rc = load_file(path, out, err);
		else if (file_exists("/etc/portcullis/config.toml"))
			rc = load_file("/etc/portcullis/config.toml", out, err);
		else
			rc = pc_settings_default(out, err);
	}
	if (rc < 0)
		return rc;
	rc = pc_settings_apply_overrides(*out, ov, err);
	if (rc < 0) {
		pc_settings_free(*out);
		*out = NULL;
	}
	return rc;
}
