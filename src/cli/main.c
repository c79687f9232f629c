/*
 * main.c - `tailwart SUBCOMMAND ...`: dispatch and the top-level help.
 * Exit codes: 0 success, 1 a check found problems, 2 usage or input error,
 * 3 a dependency (network, API, database) failed.
 */
#include "util/tw.h"

#include "cli/cli.h"

static const char usage[] = "usage: tailwart COMMAND [ARGS]\n"
                            "\n"
                            "  edge      the layer-4 mail edge daemon (tailwart edge --help)\n"
                            "  health    backend health as the running edge sees it\n"
                            "  server    drain | ready: take a backend server out or back\n"
                            "  ban       list | add | del: the shared ban list\n"
                            "  dns       a mail domain's DNS as code: check, pull, plan, diff,\n"
                            "            apply, restore, lint (tailwart dns --help)\n"
                            "  version   print the version\n"
                            "\n"
                            "Exit codes: 0 ok, 1 a check found problems, 2 usage or input error,\n"
                            "3 a dependency (network, API, database) failed. See tailwart(1).\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "edge") == 0)
		return tw_cmd_edge(argc - 1, argv + 1);
	if (strcmp(cmd, "health") == 0)
		return tw_cmd_health(argc - 1, argv + 1);
	if (strcmp(cmd, "server") == 0)
		return tw_cmd_server(argc - 1, argv + 1);
	if (strcmp(cmd, "ban") == 0)
		return tw_cmd_ban(argc - 1, argv + 1);
	if (strcmp(cmd, "dns") == 0)
		return tw_cmd_dns(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("tailwart %s\n", TW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "tailwart: unknown command \"%s\"\n\n%s", cmd, usage);
	return 2;
}
