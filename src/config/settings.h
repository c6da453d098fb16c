/* The configuration schema (SPEC §2): every key, its type, default and bounds.
 *
 * A pc_settings value is built from TOML text (or the embedded default), validated completely,
 * then layered with command-line overrides. Nothing starts on a half-valid configuration: every
 * loader either returns a complete, valid value or an error, formatted
 * "FILE:LINE:COL: message" (or "--allow: message" for command-line input).
 * Patterns are checked for syntax here only as far as their type goes; the policy compiler
 * (policy.h) validates them and reports errors at the positions kept in pc_setting_list. */
#ifndef PC_CONFIG_SETTINGS_H
#define PC_CONFIG_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PC_CONFIG_ERROR_MAX 512

struct pc_config_error {
	char text[PC_CONFIG_ERROR_MAX]; /* "FILE:LINE:COL: message", one line */
};

/* Where a configuration value was written: "FILE:LINE:COL", or the flag it came from. */
struct pc_pos {
	uint32_t line, col; /* 0 when the value came from the command line */
	const char *origin; /* the file name (owned by pc_settings) or a flag name (static) */
};

struct pc_setting_list {
	size_t len;
	char **items;
	struct pc_pos *pos;
};

enum pc_mode {
	PC_MODE_FULL = 0,
	PC_MODE_LIMITED = 1,
};

enum pc_approval_policy {
	PC_APPROVAL_ON_REQUEST = 0,
	PC_APPROVAL_NEVER = 1,
};

enum pc_reviewer_kind {
	PC_REVIEWER_USER = 0,
	PC_REVIEWER_COMMAND = 1,
};

struct pc_profile {
	char *name;
	bool has_allowed, has_denied; /* a present list replaces the base list (SPEC §9) */
	struct pc_setting_list allowed_domains, denied_domains;
};

struct pc_settings {
	char *source; /* the file read, or "<embedded default>" */

	bool enabled;
	char *proxy_url;
	char *socks_url;
	bool enable_socks5;
	bool enable_socks5_udp;
	enum pc_mode mode;
	struct pc_setting_list allowed_domains;
	struct pc_setting_list denied_domains;
	bool allow_local_binding;
	struct pc_setting_list allow_unix_sockets;
	bool dangerously_allow_all_unix_sockets;
	bool allow_upstream_proxy;
	bool dangerously_allow_non_loopback_proxy;
	struct pc_setting_list dns_servers;
	char *audit_log;      /* NULL: the command's default (serve: stderr; run: state file) */
	bool has_rules_files; /* false: the default rules file */
	struct pc_setting_list rules_files;
	enum pc_approval_policy approval_policy;
	int approval_timeout_s;
	enum pc_reviewer_kind approvals_reviewer;
	struct pc_setting_list reviewer_command;
	int reviewer_timeout_s;
	int reviewer_threshold;
	int max_connections;
	int head_timeout_s;
	int idle_timeout_s;
	int tunnel_idle_timeout_s;
	int connect_timeout_s;
	int max_request_line;
	int max_header_bytes;
	int max_header_fields;
	int udp_idle_timeout_s;

	struct {
		bool enabled;
		char *ca_cert_path; /* NULL: $XDG_CONFIG_HOME/portcullis/ca.pem */
		char *ca_key_path;  /* NULL: $XDG_CONFIG_HOME/portcullis/ca.key */
		int leaf_cache_size;
	} mitm;

	size_t n_profiles;
	struct pc_profile *profiles;
};

/* Command-line layers over the file (SPEC §1 shared flags). */
struct pc_overrides {
	const char *config_path; /* --config, or NULL */
	const char **allow;      /* --allow patterns, n_allow of them */
	size_t n_allow;
	const char **deny;
	size_t n_deny;
	bool allow_local; /* --allow-local */
	bool limited;     /* --limited */
};

/* Parses and validates TOML text. source names it in errors. On success returns 0 and a new
 * value in *out (free with pc_settings_free); otherwise PC_ECONFIG (or -ENOMEM) and err. */
int pc_settings_parse(const char *text, size_t len, const char *source, struct pc_settings **out,
                      struct pc_config_error *err);

/* The embedded default configuration (config/default.toml), parsed. */
int pc_settings_default(struct pc_settings **out, struct pc_config_error *err);

/* Finds the configuration file by SPEC §1's order (--config, $PORTCULLIS_CONFIG,
 * $XDG_CONFIG_HOME/portcullis/config.toml with XDG_CONFIG_HOME defaulting to ~/.config,
 * /etc/portcullis/config.toml, else the embedded default), reads and parses it, and applies
 * the overrides. An explicitly named file (flag or environment) that cannot be read is an
 * error; the implicit locations are skipped only when they do not exist. */
int pc_settings_load(const struct pc_overrides *ov, struct pc_settings **out,
                     struct pc_config_error *err);

/* Applies command-line overrides to s (appending patterns, setting flags). */
int pc_settings_apply_overrides(struct pc_settings *s, const struct pc_overrides *ov,
                                struct pc_config_error *err);

/* Frees s and everything it owns. Accepts NULL. */
void pc_settings_free(struct pc_settings *s);

/* Formats err as "ORIGIN:LINE:COL: " + message (or "ORIGIN: message" for flags). */
void pc_config_error_set(struct pc_config_error *err, const struct pc_pos *pos, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

#endif
