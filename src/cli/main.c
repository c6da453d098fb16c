#include <stdio.h>
#include <string.h>

#include "core/log.h"

static void usage(FILE *f)
{
	fputs("usage: portcullis COMMAND [OPTIONS]\n"
	      "commands:\n"
	      "  check TARGET   decide one destination without traffic\n",
	      f);
}

int main(int argc, char **argv)
{
	pc_log_init("portcullis", PC_LOG_INFO);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	pc_log_warnx("unknown command: %s", argv[1]);
	return 2;
}
