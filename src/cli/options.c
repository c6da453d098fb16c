#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int pc_cli_init(struct pc_cli *c, int argc, char **argv)
{
	memset(c, 0, sizeof(*c));
	c->argc = argc;
	c->argv = argv;
	c->ov.allow = calloc((size_t)argc + 1, sizeof(*c->ov.allow));
	c->ov.deny = calloc((size_t)argc + 1, sizeof(*c->ov.deny));
	if (c->ov.allow == NULL || c->ov.deny == NULL) {
		pc_cli_free(c);
		return -ENOMEM;
	}
	return 0;
}

void pc_cli_free(struct pc_cli *c)
{
	free((void *)c->ov.allow);
	free((void *)c->ov.deny);
	c->ov.allow = c->ov.deny = NULL;
}

int pc_cli_shared_option(struct pc_cli *c, int opt, const char *arg)
{
	switch (opt) {
	case PC_OPT_CONFIG:
		c->ov.config_path = arg;
		return 1;
	case PC_OPT_ALLOW:
		c->ov.allow[c->ov.n_allow++] = arg;
		return 1;
	case PC_OPT_DENY:
		c->ov.deny[c->ov.n_deny++] = arg;
		return 1;
	case PC_OPT_ALLOW_LOCAL:
		c->ov.allow_local = true;
		return 1;
	case PC_OPT_LIMITED:
		c->ov.limited = true;
		return 1;
	case PC_OPT_HELP:
		c->help = true;
		return 1;
	}
	return 0;
}

void pc_cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("portcullis: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int pc_cli_load_policy(const struct pc_cli *c, struct pc_policy **out)
{
	struct pc_config_error err;
	struct pc_settings *s;
	int rc;

	rc = pc_settings_load(&c->ov, &s, &err);
	if (rc == 0)
		rc = pc_policy_new(s, out, &err);
	if (rc < 0)
		pc_cli_error("%s", err.text);
	return rc;
}

void pc_cli_bad_option(const char *cmd, char **argv)
{
	if (optopt > 0 && optopt < 128)
		pc_cli_error("%s: unknown or incomplete option '-%c' (try --help)", cmd, optopt);
	else
		pc_cli_error("%s: unknown or incomplete option '%s' (try --help)", cmd,
		             argv[optind - 1]);
}
