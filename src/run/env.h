/* The environment a child gets under portcullis (SPEC §7): every variable tools read to find
 * a proxy, pointed at portcullis, layered over the caller's environment. */
#ifndef PC_RUN_ENV_H
#define PC_RUN_ENV_H

#include <stdbool.h>
#include <stddef.h>

struct pc_env_spec {
	const char *http_url;  /* "http://127.0.0.1:PORT" */
	const char *socks_url; /* "socks5h://127.0.0.1:PORT", or NULL when SOCKS is off */
	bool allow_local;      /* allow_local_binding */
	bool isolated;         /* run --isolate: NO_PROXY stays empty */
};

/* The portcullis variables as "KEY=VALUE" strings, in a stable order; *n receives the count.
 * The array and its strings are owned by the caller: free with pc_env_free. NULL on ENOMEM. */
char **pc_env_vars(const struct pc_env_spec *spec, size_t *n);

/* A NULL-terminated environment: base (NULL-terminated, e.g. environ) with every variable of
 * vars set (replacing a variable of the same name, whatever base had). The strings are
 * shared with base and vars, not copied: free only the array (free()). NULL on ENOMEM. */
char **pc_env_merge(char *const *base, char *const *vars, size_t n);

void pc_env_free(char **vars, size_t n);

#endif
