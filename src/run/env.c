#include "run/env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SPEC §7: the HTTP proxy URL. */
static const char *const http_vars[] = {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "WS_PROXY",
        "WSS_PROXY",
        "ws_proxy",
        "wss_proxy",
        "YARN_HTTP_PROXY",
        "YARN_HTTPS_PROXY",
        "npm_config_http_proxy",
        "npm_config_https_proxy",
        "npm_config_proxy",
        "NPM_CONFIG_HTTP_PROXY",
        "NPM_CONFIG_HTTPS_PROXY",
        "NPM_CONFIG_PROXY",
        "BUNDLE_HTTP_PROXY",
        "BUNDLE_HTTPS_PROXY",
        "PIP_PROXY",
        "DOCKER_HTTP_PROXY",
        "DOCKER_HTTPS_PROXY",
};
/* The SOCKS URL when SOCKS is on, else the HTTP one. */
static const char *const all_vars[] = {"ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy"};
/* Empty: local names go through the proxy too. */
static const char *const no_proxy_vars[] = {"NO_PROXY", "no_proxy", "npm_config_noproxy",
                                            "NPM_CONFIG_NOPROXY", "BUNDLE_NO_PROXY"};
static const char *const fixed_vars[] = {"NODE_USE_ENV_PROXY=1", "ELECTRON_GET_USE_PROXY=true",
                                         "PORTCULLIS_PROXY_ACTIVE=1"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char *pair(const char *key, const char *value)
{
	size_t n = strlen(key) + strlen(value) + 2;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s=%s", key, value);
	return s;
}

void pc_env_free(char **vars, size_t n)
{
	if (vars == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(vars[i]);
	free(vars);
}

char **pc_env_vars(const struct pc_env_spec *spec, size_t *n)
{
	size_t total =
	        COUNT(http_vars) + COUNT(all_vars) + COUNT(no_proxy_vars) + COUNT(fixed_vars);
	const char *no_proxy =
	        spec->allow_local && !spec->isolated ? "localhost,127.0.0.1,::1" : "";
	const char *all = spec->socks_url != NULL ? spec->socks_url : spec->http_url;
	char **v = calloc(total, sizeof(*v));
	size_t k = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < COUNT(http_vars); i++)
		v[k++] = pair(http_vars[i], spec->http_url);
	for (size_t i = 0; i < COUNT(all_vars); i++)
		v[k++] = pair(all_vars[i], all);
	for (size_t i = 0; i < COUNT(no_proxy_vars); i++)
		v[k++] = pair(no_proxy_vars[i], no_proxy);
	for (size_t i = 0; i < COUNT(fixed_vars); i++)
		v[k++] = strdup(fixed_vars[i]);
	for (size_t i = 0; i < k; i++) {
		if (v[i] == NULL) {
			pc_env_free(v, k);
			return NULL;
		}
	}
	*n = k;
	return v;
}

/* Length of the name part of "NAME=VALUE" (the whole string when there is no '='). */
static size_t name_len(const char *s)
{
	const char *eq = strchr(s, '=');
	return eq != NULL ? (size_t)(eq - s) : strlen(s);
}

char **pc_env_merge(char *const *base, char *const *vars, size_t n)
{
	size_t nbase = 0, k = 0;
	char **out;

	while (base != NULL && base[nbase] != NULL)
		nbase++;
	out = calloc(nbase + n + 1, sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < nbase; i++) {
		size_t len = name_len(base[i]);
		bool replaced = false;
		for (size_t j = 0; j < n && !replaced; j++)
			replaced = name_len(vars[j]) == len && strncmp(base[i], vars[j], len) == 0;
		if (!replaced)
			out[k++] = base[i];
	}
	for (size_t j = 0; j < n; j++)
		out[k++] = vars[j];
	out[k] = NULL;
	return out;
}
