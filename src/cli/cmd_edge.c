/* cmd_edge.c - `tailwart edge`: run the daemon, check a config, or quick mode. */
#include "util/tw.h"

#include <getopt.h>

#include "cli/cli.h"
#include "edge/config.h"
#include "edge/edge.h"

#define DEFAULT_CONFIG "/etc/tailwart/tailwart.yaml"

static const char usage[] =
        "usage: tailwart edge [-c FILE] [--check [--probe]]\n"
        "       tailwart edge --listen ADDR[,ADDR...] --to HOST:PORT [--proxy v1|v2]\n"
        "                     [--protocol PROTO] [--sni NAME=HOST:PORT ...]\n"
        "\n"
        "  -c, --config FILE   configuration file (default " DEFAULT_CONFIG ")\n"
        "      --check         validate the configuration and exit (0 valid, 2 invalid)\n"
        "      --probe         with --check: dial every backend server once\n"
        "                      (exit 1 if one is unreachable or misconfigured)\n"
        "      --listen ADDR   quick mode: listen here (\"127.0.0.1:2525\", \"[::]:443\")\n"
        "      --to HOST:PORT  quick mode: the backend (the default route with --sni)\n"
        "      --proxy v1|v2   quick mode: send a PROXY protocol header to backends\n"
        "      --protocol P    quick mode: smtp submission submissions imap imaps pop3\n"
        "                      pop3s sieve tls tcp (default tcp, or tls with --sni)\n"
        "      --sni NAME=HOST:PORT  quick mode: route TLS by server name (repeatable;\n"
        "                      \"*.example.com\" matches one label)\n"
        "      --no-splice     relay with read/write instead of splice(2)\n"
        "  -h, --help          this help\n"
        "\n"
        "Signals: SIGHUP reloads (so does a change of the file); SIGTERM drains and stops.\n"
        "See tailwart-edge(8) and docs/config.md.\n";

int tw_cmd_edge(int argc, char **argv)
{
	enum { O_CHECK = 256, O_PROBE, O_LISTEN, O_TO, O_PROXY, O_PROTO, O_SNI, O_NOSPLICE };
	static const struct option opts[] = {
	        {"config", required_argument, 0, 'c'},
	        {"check", no_argument, 0, O_CHECK},
	        {"probe", no_argument, 0, O_PROBE},
	        {"listen", required_argument, 0, O_LISTEN},
	        {"to", required_argument, 0, O_TO},
	        {"proxy", required_argument, 0, O_PROXY},
	        {"protocol", required_argument, 0, O_PROTO},
	        {"sni", required_argument, 0, O_SNI},
	        {"no-splice", no_argument, 0, O_NOSPLICE},
	        {"help", no_argument, 0, 'h'},
	        {0, 0, 0, 0},
	};
	const char *config = NULL, *listen = NULL, *to = NULL, *proxy = NULL, *proto = NULL;
	const char **sni = tw_xcalloc((size_t)argc + 1, sizeof(char *));
	size_t n_sni = 0;
	bool check = false, probe = false, no_splice = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case O_CHECK: check = true; break;
		case O_PROBE: probe = true; break;
		case O_LISTEN: listen = optarg; break;
		case O_TO: to = optarg; break;
		case O_PROXY: proxy = optarg; break;
		case O_PROTO: proto = optarg; break;
		case O_SNI: sni[n_sni++] = optarg; break;
		case O_NOSPLICE: no_splice = true; break;
		case 'h':
			fputs(usage, stdout);
			free(sni);
			return 0;
		default:
			fputs(usage, stderr);
			free(sni);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tailwart edge: unexpected argument \"%s\"\n", argv[optind]);
		free(sni);
		return 2;
	}
	if (probe && !check) {
		fprintf(stderr, "tailwart edge: --probe goes with --check\n");
		free(sni);
		return 2;
	}
	tw_config_t *quick = NULL;
	bool quick_mode = listen || to || proxy || proto || n_sni;
	if (quick_mode) {
		if (config) {
			fprintf(stderr, "tailwart edge: -c and quick mode (--listen/--to) exclude "
			                "each other\n");
			free(sni);
			return 2;
		}
		if (!listen || (!to && !n_sni)) {
			fprintf(stderr, "tailwart edge: quick mode needs --listen and --to\n");
			free(sni);
			return 2;
		}
		tw_diags_t d = {0};
		quick = tw_config_new_default();
		if (tw_config_quick(quick, listen, to, proxy, proto, sni, n_sni, &d) < 0) {
			tw_diags_print(&d, stderr);
			tw_diags_release(&d);
			tw_config_free(quick);
			free(sni);
			return 2;
		}
	} else if (!config) {
		config = DEFAULT_CONFIG;
	}
	free(sni);
	if (check)
		return tw_edge_check(config, quick, probe, check ? stdout : stderr);
	tw_edge_opts_t o = {.config_path = config, .quick = quick, .no_splice = no_splice};
	return tw_edge_run(&o);
}
