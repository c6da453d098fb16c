/* portcullis run: a command under the network policy (SPEC §1, §7, §8, §10).
 *
 * The proxy listens on loopback ports reserved before anything else starts (inside the
 * command's network namespace with --isolate); the command runs with the proxy environment,
 * keeps the terminal and its streams, and receives the signals other processes send to run.
 * run waits for that one child, prints a summary of blocked destinations to stderr, and exits
 * with the child's status (128+N for death by signal N). It never writes to stdout. */
#ifndef PC_RUN_RUN_H
#define PC_RUN_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/settings.h"

struct pc_run_options {
	struct pc_overrides ov;
	bool isolate;
	bool no_socks;
	bool quiet;
	bool verbose;
	char **argv; /* the command, NULL-terminated, at least one word */
};

/* Exit statuses of run itself (the command's own status otherwise). */
enum {
	PC_RUN_EXIT_USAGE = 2,     /* usage or configuration error: nothing started */
	PC_RUN_EXIT_ISOLATE = 125, /* --isolate could not be set up: the command did not run */
	PC_RUN_EXIT_EXEC = 127,    /* the command could not be executed */
};

/* Runs the command; returns the status to exit with. */
int pc_run(const struct pc_run_options *o);

/* The child environment's variables for ports http_port / socks_port (0: SOCKS off), one
 * "KEY=VALUE" per line on f (portcullis env). */
void pc_run_print_env(FILE *f, uint16_t http_port, uint16_t socks_port, bool allow_local,
                      bool isolated);

#endif
