/*
 * cmd_ban.c - `tailwart ban list | add ADDR[/LEN] [--for D] [--reason T] |
 * del ADDR[/LEN] [-c FILE]`.
 *
 * Works on the state store named in the configuration, whether or not the
 * edge runs; a running edge sees the change within about a second. Run as
 * root, it keeps the database files owned by the edge's `user:`.
 */
#include "util/tw.h"

#include <getopt.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "edge/config.h"
#include "store/store.h"
#include "util/addr.h"
#include "util/cidr_trie.h"
#include "util/duration.h"

#define DEFAULT_CONFIG "/etc/tailwart/tailwart.yaml"

static const char usage[] =
        "usage: tailwart ban list [--json] [-c FILE]\n"
        "       tailwart ban add ADDR[/LEN] [--for DURATION] [--reason TEXT] [-c FILE]\n"
        "       tailwart ban del ADDR[/LEN] [-c FILE]\n"
        "\n"
        "A manual ban is exact (/32, /128) unless a prefix is given; without --for it\n"
        "lasts until deleted. The edge enforces changes within about a second, on\n"
        "every listener. Addresses in the config's allow: list are never banned.\n"
        "Exit: 0 done, 2 bad input, 3 the state store failed.\n";

static void actor(char *buf, size_t size)
{
	struct passwd *pw = getpwuid(getuid());
	snprintf(buf, size, "cli:%s", pw ? pw->pw_name : "?");
}

int tw_cmd_ban(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, 0, 'c'}, {"for", required_argument, 0, 'f'},
	        {"reason", required_argument, 0, 'r'}, {"json", no_argument, 0, 'j'},
	        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
	const char *config = DEFAULT_CONFIG, *dur = NULL, *reason = NULL;
	bool as_json = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'f': dur = optarg; break;
		case 'r': reason = optarg; break;
		case 'j': as_json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	int nargs = argc - optind;
	const char *verb = nargs > 0 ? argv[optind] : NULL;
	const char *target = nargs > 1 ? argv[optind + 1] : NULL;
	bool list = verb && strcmp(verb, "list") == 0;
	if (!verb || (list && nargs != 1) ||
	    (!list && (nargs != 2 || (strcmp(verb, "add") != 0 && strcmp(verb, "del") != 0)))) {
		fputs(usage, stderr);
		return 2;
	}
	char err[384];
	uint64_t ms = 0;
	if (dur && tw_duration_parse(dur, strlen(dur), &ms, err, sizeof(err)) < 0) {
		fprintf(stderr, "tailwart ban: --for: %s\n", err);
		return 2;
	}
	tw_cidr_t net;
	char nettext[64] = "";
	if (target) {
		if (tw_cidr_parse(target, &net, err, sizeof(err)) < 0) {
			fprintf(stderr, "tailwart ban: %s\n", err);
			return 2;
		}
		tw_cidr_format(&net, nettext, sizeof(nettext));
	}
	tw_diags_t d = {0};
	tw_config_t *cfg = tw_config_load(config, &d);
	if (!cfg) {
		tw_diags_print(&d, stderr);
		tw_diags_release(&d);
		return 2;
	}
	if (target && strcmp(verb, "add") == 0)
		for (size_t i = 0; i < cfg->n_allow; i++) {
			struct sockaddr_storage ss = {0};
			ss.ss_family = (sa_family_t)net.family;
			if (net.family == AF_INET)
				memcpy(&((struct sockaddr_in *)&ss)->sin_addr, net.addr, 4);
			else
				memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, net.addr, 16);
			if (tw_cidr_match(&cfg->allow[i], (struct sockaddr *)&ss)) {
				char a[64];
				tw_cidr_format(&cfg->allow[i], a, sizeof(a));
				fprintf(stderr,
				        "tailwart ban: %s is in the allow list (%s): the edge "
				        "never "
				        "bans it; remove it from allow: first\n",
				        nettext, a);
				tw_config_free(cfg);
				return 2;
			}
		}
	tw_store_t *st;
	if (tw_store_open(cfg->state, cfg->user, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "tailwart ban: %s\n", err);
		tw_config_free(cfg);
		return 3;
	}
	tw_config_free(cfg);
	int rc = 0;
	char who[96];
	actor(who, sizeof(who));
	int64_t now = (int64_t)time(NULL);
	if (list) {
		tw_store_ban_t *v = NULL;
		size_t n = 0;
		if (tw_store_ban_list(st, now, &v, &n) < 0) {
			fprintf(stderr, "tailwart ban: %s\n", tw_store_error(st));
			rc = 3;
		} else {
			if (as_json)
				printf("[");
			for (size_t i = 0; i < n; i++) {
				char until[32] = "forever";
				if (v[i].until) {
					time_t t = (time_t)v[i].until;
					struct tm tm;
					gmtime_r(&t, &tm);
					strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
				}
				if (as_json)
					printf("%s{\"net\":\"%s\",\"until\":%" PRId64
					       ",\"repeat\":%d,\"source\":\"%s\"}",
					       i ? "," : "", v[i].net, v[i].until, v[i].repeat,
					       v[i].source);
				else
					printf("%-24s until %-21s %-12s repeat %-3d %s\n", v[i].net,
					       until, v[i].source, v[i].repeat, v[i].reason);
			}
			if (as_json)
				printf("]\n");
			else if (n == 0)
				printf("no bans in force\n");
		}
		free(v);
	} else if (strcmp(verb, "add") == 0) {
		tw_store_ban_t b = {0}, old;
		tw_strlcpy(b.net, nettext, sizeof(b.net));
		b.created = now;
		b.until = ms ? now + (int64_t)((ms + 999) / 1000) : 0;
		b.repeat = tw_store_ban_get(st, nettext, &old) == 0 ? old.repeat + 1 : 1;
		tw_strlcpy(b.source, "manual", sizeof(b.source));
		tw_strlcpy(b.reason, reason ? reason : "manual", sizeof(b.reason));
		if (tw_store_ban_put(st, &b) < 0) {
			fprintf(stderr, "tailwart ban: %s\n", tw_store_error(st));
			rc = 3;
		} else {
			char detail[400];
			snprintf(detail, sizeof(detail), "net=%s until=%" PRId64 " reason=%s",
			         b.net, b.until, b.reason);
			tw_store_audit_add(st, who, "ban.add", detail);
			printf("banned %s%s%s\n", b.net, ms ? " for " : "", ms ? dur : "");
		}
	} else {
		int r = tw_store_ban_del(st, nettext);
		if (r == TW_ENOTFOUND) {
			fprintf(stderr, "tailwart ban: no ban for %s\n", nettext);
			rc = 2;
		} else if (r < 0) {
			fprintf(stderr, "tailwart ban: %s\n", tw_store_error(st));
			rc = 3;
		} else {
			tw_store_audit_add(st, who, "ban.del", nettext);
			printf("unbanned %s\n", nettext);
		}
	}
	tw_store_close(st);
	return rc;
}
