/* libportcullis: the portcullis network policy proxy as a C library.
 *
 * Build a proxy from options (the same configuration lookup and layering as the command line),
 * reserve its loopback listeners, start it on a thread of its own, receive an event for every
 * block, stop it. Ports are fixed when portcullis_new returns — before anything is started —
 * so a harness can put them into a child's environment first (the same mechanism as
 * `portcullis run`).
 *
 * All functions return 0 or a negative errno-style code; none prints. Strings passed in are
 * copied. Callbacks run on the proxy's thread and must not block.
 */
#ifndef PORTCULLIS_H
#define PORTCULLIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PORTCULLIS_VERSION "0.1.0"

struct portcullis;

struct portcullis_options {
	/* Configuration file; NULL: $PORTCULLIS_CONFIG, $XDG_CONFIG_HOME/portcullis/config.toml,
	 * /etc/portcullis/config.toml, then the embedded default (which allows nothing). */
	const char *config_path;
	const char *const *allow; /* patterns added to allowed_domains */
	size_t n_allow;
	const char *const *deny; /* patterns added to denied_domains */
	size_t n_deny;
	int allow_local; /* non-zero: allow_local_binding = true */
	int limited;     /* non-zero: mode = "limited" */
	int no_socks;    /* non-zero: no SOCKS5 listener even when enable_socks5 */
	/* The audit log: NULL keeps the configuration's audit_log (or "off" when it has none),
	 * else a file path or "off". */
	const char *audit_log;
};

/* One blocked request, as the audit log records it. Strings are valid during the callback;
 * method and client may be NULL. */
struct portcullis_block {
	const char *host;
	uint16_t port;
	const char *protocol; /* "http", "https_connect", "socks5_tcp", "socks5_udp", ... */
	const char *reason;   /* "not_allowed", "denied", ... */
	const char *decision; /* "deny" */
	const char *source;   /* "baseline_policy", "mode_guard", ... */
	const char *method;
	const char *client;
};

typedef void (*portcullis_block_fn)(void *data, const struct portcullis_block *block);

/* Loads the configuration, compiles the policy and binds the listeners on 127.0.0.1 with
 * kernel-chosen ports. On failure returns a negative code and, if err is not NULL, a one-line
 * reason ("FILE:LINE:COL: message" for configuration errors). */
int portcullis_new(const struct portcullis_options *options, struct portcullis **out, char *err,
                   size_t err_size);

/* The listeners as "127.0.0.1:PORT"; the SOCKS5 one is -ENOENT when there is none. */
int portcullis_http_address(const struct portcullis *p, char *buf, size_t size);
int portcullis_socks_address(const struct portcullis *p, char *buf, size_t size);

/* Calls fn for every block from now on (NULL stops). Set before portcullis_start. */
int portcullis_on_block(struct portcullis *p, portcullis_block_fn fn, void *data);

/* Starts serving on a thread of its own. */
int portcullis_start(struct portcullis *p);

/* Stops accepting, lets open exchanges finish for up to grace_ms, then closes the rest and
 * joins the thread. */
int portcullis_stop(struct portcullis *p, unsigned grace_ms);

/* Number of requests blocked so far. */
uint64_t portcullis_blocked_count(const struct portcullis *p);

/* Frees a proxy that was never started or has been stopped. Accepts NULL. */
void portcullis_free(struct portcullis *p);

#ifdef __cplusplus
}
#endif

#endif
