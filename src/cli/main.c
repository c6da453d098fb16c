#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

static const char usage_text[] =
        "usage: portcullis COMMAND [OPTIONS]\n"
        "\n"
        "commands:\n"
        "  run -- CMD     run CMD with its network going through a private proxy\n"
        "  serve          run the proxy (HTTP 127.0.0.1:3128, SOCKS5 :8081) until SIGTERM\n"
        "  env            print the proxy variables a command gets\n"
        "  check TARGET   decide one destination without traffic (URL, host:port or host)\n"
        "\n"
        "Run 'portcullis COMMAND --help' for a command's options.\n";

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
        {"run", pc_cmd_run},
        {"serve", pc_cmd_serve},
        {"env", pc_cmd_env},
        {"check", pc_cmd_check},
};

int main(int argc, char **argv)
{
	pc_log_init("portcullis", PC_LOG_INFO);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	pc_cli_error("unknown command '%s' (try --help)", argv[1]);
	return 2;
}
