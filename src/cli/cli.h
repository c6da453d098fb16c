/* Command-line plumbing shared by the subcommands (SPEC §1). */
#ifndef PC_CLI_CLI_H
#define PC_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "config/settings.h"
#include "policy/policy.h"

/* getopt_long codes of the shared flags; subcommands number theirs from PC_OPT_LOCAL. */
enum {
	PC_OPT_CONFIG = 1000,
	PC_OPT_ALLOW,
	PC_OPT_DENY,
	PC_OPT_ALLOW_LOCAL,
	PC_OPT_LIMITED,
	PC_OPT_HELP,
	PC_OPT_LOCAL = 1100,
};

#define PC_CLI_SHARED_OPTIONS                                                                      \
	{"config", required_argument, NULL, PC_OPT_CONFIG},                                        \
	        {"allow", required_argument, NULL, PC_OPT_ALLOW},                                  \
	        {"deny", required_argument, NULL, PC_OPT_DENY},                                    \
	        {"allow-local", no_argument, NULL, PC_OPT_ALLOW_LOCAL},                            \
	        {"limited", no_argument, NULL, PC_OPT_LIMITED},                                    \
	{                                                                                          \
		"help", no_argument, NULL, PC_OPT_HELP                                             \
	}

#define PC_CLI_SHARED_HELP                                                                         \
	"  --config FILE     configuration file (else $PORTCULLIS_CONFIG,\n"                       \
	"                    $XDG_CONFIG_HOME/portcullis/config.toml,\n"                           \
	"                    /etc/portcullis/config.toml, the embedded default)\n"                 \
	"  --allow PATTERN   add to allowed_domains (repeatable)\n"                                \
	"  --deny PATTERN    add to denied_domains (repeatable)\n"                                 \
	"  --allow-local     allow_local_binding = true\n"                                         \
	"  --limited         mode = \"limited\" (GET, HEAD, OPTIONS only)\n"                       \
	"  --help            this text\n"

/* The shared flags collected while parsing. */
struct pc_cli {
	struct pc_overrides ov;
	bool help;
	int argc;
	char **argv;
};

/* Prepares c for argv (the arrays for --allow/--deny are sized by argc). Returns 0 or -ENOMEM. */
int pc_cli_init(struct pc_cli *c, int argc, char **argv);
void pc_cli_free(struct pc_cli *c);

/* Handles one getopt_long result if it is a shared flag: returns 1 if handled, 0 if not. */
int pc_cli_shared_option(struct pc_cli *c, int opt, const char *arg);

/* Loads settings with the overrides and compiles the policy. On failure prints the one-line
 * error to stderr and returns a negative code (exit status 2 for the caller). */
int pc_cli_load_policy(const struct pc_cli *c, struct pc_policy **out);

/* Reports the option getopt_long refused in command cmd: an unknown short option by its letter
 * (optind has not moved past "-xy" while letters remain), anything else by its word. */
void pc_cli_bad_option(const char *cmd, char **argv);

/* Prints "portcullis: " + message + newline to stderr. */
void pc_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int pc_cmd_check(int argc, char **argv);
int pc_cmd_serve(int argc, char **argv);
int pc_cmd_run(int argc, char **argv);
int pc_cmd_env(int argc, char **argv);

#endif
