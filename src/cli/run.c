/* portcullis run [options] -- CMD ARGS... (SPEC §1). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "run/run.h"

enum {
	OPT_ISOLATE = PC_OPT_LOCAL,
	OPT_NO_SOCKS,
	OPT_QUIET,
	OPT_VERBOSE,
};

static const char run_help[] =
        "usage: portcullis run [OPTIONS] -- CMD [ARGS...]\n"
        "\n"
        "Runs CMD with every outbound connection going through a private portcullis proxy on\n"
        "loopback ports reserved for it. Blocked destinations are summarised on stderr at exit;\n"
        "the exit status is CMD's (128+N when a signal N killed it).\n"
        "\n"
        "options:\n"
        "  --isolate         run CMD in its own user, network and mount namespaces, where the\n"
        "                    proxy is its only way out (Linux); fails rather than run unisolated\n"
        "  --no-socks        no SOCKS5 listener (ALL_PROXY then names the HTTP proxy)\n"
        "  --quiet           no summary of blocked destinations at exit\n"
        "  --verbose         log what the proxy does\n" PC_CLI_SHARED_HELP "\n"
        "exit status: CMD's; 2 usage or configuration error; 125 isolation unavailable;\n"
        "127 CMD cannot be executed.\n";

int pc_cmd_run(int argc, char **argv)
{
	static const struct option options[] = {
	        {"isolate", no_argument, NULL, OPT_ISOLATE},
	        {"no-socks", no_argument, NULL, OPT_NO_SOCKS},
	        {"quiet", no_argument, NULL, OPT_QUIET},
	        {"verbose", no_argument, NULL, OPT_VERBOSE},
	        PC_CLI_SHARED_OPTIONS,
	        {NULL, 0, NULL, 0},
	};
	struct pc_run_options ro;
	struct pc_cli cli;
	int opt, status = PC_RUN_EXIT_USAGE;

	memset(&ro, 0, sizeof(ro));
	if (pc_cli_init(&cli, argc, argv) < 0) {
		pc_cli_error("out of memory");
		return PC_RUN_EXIT_USAGE;
	}
	opterr = 0;
	optind = 1;
	/* "+": options end at the first word that is not one (or at "--") */
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (pc_cli_shared_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_ISOLATE:
			ro.isolate = true;
			break;
		case OPT_NO_SOCKS:
			ro.no_socks = true;
			break;
		case OPT_QUIET:
			ro.quiet = true;
			break;
		case OPT_VERBOSE:
			ro.verbose = true;
			break;
		default:
			pc_cli_bad_option("run", argv);
			goto out;
		}
	}
	if (cli.help) {
		fputs(run_help, stdout);
		status = 0;
		goto out;
	}
	if (optind >= argc) {
		pc_cli_error("run: missing command (usage: portcullis run [OPTIONS] -- CMD ...)");
		goto out;
	}
	ro.ov = cli.ov;
	ro.argv = argv + optind;
	status = pc_run(&ro);
out:
	pc_cli_free(&cli);
	return status;
}
