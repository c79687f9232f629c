/*
 * cmd_health.c - `tailwart health` and `tailwart server drain|ready`.
 *
 * Both ask the running edge (its admin plane, as configured in -c FILE).
 * health exits 0 ready, 1 running but not ready (with the reason), 2 bad
 * configuration, 3 the edge can't be reached.
 */
#include "util/tw.h"

#include <getopt.h>

#include "cli/admin_client.h"
#include "cli/cli.h"
#include "edge/config.h"

#define DEFAULT_CONFIG "/etc/tailwart/tailwart.yaml"

static tw_config_t *load(const char *path)
{
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load(path, &d);
	if (!c)
		tw_diags_print(&d, stderr);
	tw_diags_release(&d);
	return c;
}

static const char *config_arg(int argc, char **argv, int *rest, bool *help, bool *bad)
{
	static const struct option opts[] = {
	        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *config = DEFAULT_CONFIG;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch == 'h')
			*help = true;
		else
			*bad = true;
	}
	*rest = optind;
	return config;
}

int tw_cmd_health(int argc, char **argv)
{
	static const char usage[] =
	        "usage: tailwart health [-c FILE]\n"
	        "Asks the running edge whether it is ready: every required backend and\n"
	        "dependency has a healthy server.\n"
	        "Exit: 0 ready, 1 running but not ready (the reason is printed),\n"
	        "2 bad configuration, 3 the edge can't be reached.\n";
	int rest;
	bool help = false, bad = false;
	const char *config = config_arg(argc, argv, &rest, &help, &bad);
	if (help) {
		fputs(usage, stdout);
		return 0;
	}
	if (bad || rest != argc) {
		fputs(usage, stderr);
		return 2;
	}
	tw_config_t *cfg = load(config);
	if (!cfg)
		return 2;
	char *body = NULL, err[512];
	int st = tw_admin_call(cfg, "GET", "/readyz", NULL, &body, err, sizeof(err));
	tw_config_free(cfg);
	if (st < 0) {
		fprintf(stderr, "tailwart health: %s\n", err);
		return 3;
	}
	fputs(body ? body : "", st == 200 ? stdout : stderr);
	free(body);
	if (st == 200)
		return 0;
	if (st == 503)
		return 1;
	fprintf(stderr, "tailwart health: unexpected answer %d from the admin plane\n", st);
	return 3;
}

int tw_cmd_server(int argc, char **argv)
{
	static const char usage[] =
	        "usage: tailwart server drain|ready BACKEND/SERVER [-c FILE]\n"
	        "drain: no new connections to that server, existing ones finish.\n"
	        "ready: take connections again.\n";
	int rest;
	bool help = false, bad = false;
	/* Allow the options after the operands too. */
	const char *verb = argc > 1 ? argv[1] : NULL, *target = argc > 2 ? argv[2] : NULL;
	if (!verb || !target || (strcmp(verb, "drain") != 0 && strcmp(verb, "ready") != 0)) {
		if (verb && (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0)) {
			fputs(usage, stdout);
			return 0;
		}
		fputs(usage, stderr);
		return 2;
	}
	const char *config = config_arg(argc - 2, argv + 2, &rest, &help, &bad);
	if (help) {
		fputs(usage, stdout);
		return 0;
	}
	if (bad || rest != argc - 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *slash = strchr(target, '/');
	if (!slash || slash == target || !slash[1]) {
		fprintf(stderr, "tailwart server: expected BACKEND/SERVER, got \"%s\"\n", target);
		return 2;
	}
	tw_config_t *cfg = load(config);
	if (!cfg)
		return 2;
	char path[600], *body = NULL, err[512];
	/* Server names may hold ':' and '[' but never '/'; encode '%' and
	 * friends anyway by passing them through unchanged: names are checked
	 * by the loader to [A-Za-z0-9._:@[]-]. */
	snprintf(path, sizeof(path), "/api/v1/backends/%.*s/servers/%s/%s", (int)(slash - target),
	         target, slash + 1, verb);
	int st = tw_admin_call(cfg, "POST", path, NULL, &body, err, sizeof(err));
	tw_config_free(cfg);
	if (st < 0) {
		fprintf(stderr, "tailwart server: %s\n", err);
		free(body);
		return 3;
	}
	fputs(body ? body : "", st == 200 ? stdout : stderr);
	free(body);
	return st == 200 ? 0 : st == 404 ? 2 : 3;
}
