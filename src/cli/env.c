/* portcullis env: the environment a child would get (SPEC §7), one KEY=VALUE a line. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "net/listen.h"
#include "run/run.h"

enum {
	OPT_HTTP = PC_OPT_LOCAL,
	OPT_SOCKS,
	OPT_NO_SOCKS,
	OPT_ISOLATE,
};

static const char env_help[] =
        "usage: portcullis env [OPTIONS]\n"
        "\n"
        "Prints the proxy variables a command gets, one KEY=VALUE a line, for the listeners of\n"
        "portcullis serve (proxy_url / socks_url), e.g.  eval \"$(portcullis env | sed "
        "'s/^/export /')\"\n"
        "\n"
        "options:\n"
        "  --http ADDR       the HTTP listener to name (default: proxy_url)\n"
        "  --socks ADDR      the SOCKS5 listener to name (default: socks_url)\n"
        "  --no-socks        as if SOCKS5 were off\n"
        "  --isolate         as run --isolate would set them\n" PC_CLI_SHARED_HELP;

static int port_of(const char *text, uint16_t *port)
{
	union pc_sockaddr a;

	if (pc_listen_addr_parse(text, &a) < 0)
		return -1;
	*port = pc_addr_port(&a);
	return 0;
}

int pc_cmd_env(int argc, char **argv)
{
	static const struct option options[] = {
	        {"http", required_argument, NULL, OPT_HTTP},
	        {"socks", required_argument, NULL, OPT_SOCKS},
	        {"no-socks", no_argument, NULL, OPT_NO_SOCKS},
	        {"isolate", no_argument, NULL, OPT_ISOLATE},
	        PC_CLI_SHARED_OPTIONS,
	        {NULL, 0, NULL, 0},
	};
	struct pc_cli cli;
	struct pc_policy *policy = NULL;
	const struct pc_settings *s;
	const char *http = NULL, *socks = NULL;
	bool no_socks = false, isolate = false;
	uint16_t http_port = 0, socks_port = 0;
	int opt, status = 2;

	if (pc_cli_init(&cli, argc, argv) < 0)
		return 2;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (pc_cli_shared_option(&cli, opt, optarg))
			continue;
		switch (opt) {
		case OPT_HTTP:
			http = optarg;
			break;
		case OPT_SOCKS:
			socks = optarg;
			break;
		case OPT_NO_SOCKS:
			no_socks = true;
			break;
		case OPT_ISOLATE:
			isolate = true;
			break;
		default:
			pc_cli_bad_option("env", argv);
			goto out;
		}
	}
	if (cli.help) {
		fputs(env_help, stdout);
		status = 0;
		goto out;
	}
	if (optind != argc) {
		pc_cli_error("env: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (pc_cli_load_policy(&cli, &policy) < 0)
		goto out;
	s = pc_policy_settings(policy);
	if (isolate) {
		/* the listeners run --isolate makes inside the namespace */
		http = "127.0.0.1:3128";
		socks = "127.0.0.1:8081";
	}
	if (port_of(http != NULL ? http : s->proxy_url, &http_port) < 0 ||
	    (!no_socks && s->enable_socks5 &&
	     port_of(socks != NULL ? socks : s->socks_url, &socks_port) < 0)) {
		pc_cli_error("env: invalid listener address");
		goto out;
	}
	pc_run_print_env(stdout, http_port, no_socks || !s->enable_socks5 ? 0 : socks_port,
	                 s->allow_local_binding, isolate);
	status = 0;
out:
	pc_policy_unref(policy);
	pc_cli_free(&cli);
	return status;
}
