/*
 * cmd_dns.c - `tailwart dns check | pull | plan | diff | apply | restore | lint`:
 * a mail domain's zone as a file the user owns, and the live zone changed
 * to match it safely (src/dns/plan.h for the order of calls, apply.h for
 * what apply guarantees).
 *
 * Exit codes (docs/design.md): 0 success, 1 a check found problems, 2 usage
 * or input error, 3 a dependency (the provider's API, DNS, disk) failed.
 */
#include "util/tw.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dns/apply.h"
#include "dns/lint.h"
#include "dns/plan.h"
#include "dns/provider.h"
#include "dns/query.h"
#include "edge/config.h"
#include "util/duration.h"

static const char usage[] =
        "usage: tailwart dns check   --provider P DOMAIN\n"
        "       tailwart dns pull    --provider P DOMAIN > zone.db\n"
        "       tailwart dns plan    --provider P ZONEFILE [-o PLANFILE] [--json]\n"
        "       tailwart dns diff    --provider P ZONEFILE\n"
        "       tailwart dns apply   --provider P (ZONEFILE | PLANFILE) [--yes] [--purge]\n"
        "       tailwart dns restore --provider P SNAPSHOT [--yes]\n"
        "       tailwart dns lint    ZONEFILE [--offline] [-c FILE]\n"
        "\n"
        "tailwart dns SUBCOMMAND --help shows each one's options.\n"
        "Exit: 0 success, 1 a check found problems (diff: the zones differ),\n"
        "2 usage or input error, 3 the provider or DNS failed.\n";

static const char provider_help[] =
        "Providers:\n"
        "  --provider spaceship  the Spaceship API. Credentials: SPACESHIP_API_KEY and\n"
        "                        SPACESHIP_API_SECRET (or SPACESHIP_KEY / SPACESHIP_SECRET) from\n"
        "                        the environment, or --credentials FILE of NAME=VALUE lines\n"
        "                        (refused if group or others can read it). SPACESHIP_API_URL\n"
        "                        sets the API root (default https://spaceship.dev/api/v1).\n"
        "  --provider rfc2136    RFC 2136 dynamic update; listing by AXFR.\n"
        "    --server HOST[:PORT]   the primary server to update (port 53 by default)\n"
        "    --tsig-file FILE       TSIG key in BIND syntax: key \"name\" { algorithm ...;\n"
        "                           secret \"...\"; }; (refused if group or others can read it)\n"
        "    --tsig NAME:ALG:SECRET the same inline; NOTE: the secret is then visible to\n"
        "                           every user in `ps`: prefer --tsig-file\n"
        "Common options:\n"
        "  --domain DOMAIN       the zone's origin when the file has no $ORIGIN\n"
        "  --ignore NAME[:TYPE]  leave matching records alone (glob, relative to the origin,\n"
        "                        repeatable); _acme-challenge*:TXT is always ignored\n"
        "  -c FILE               tailwart config; its dns: section adds ignore patterns,\n"
        "                        caa_accounturi and the snapshot directory\n"
        "  --verbose             print each provider request (never the credentials)\n";

static const char *const sub_usage[] = {
        "check",
        "usage: tailwart dns check --provider P [provider options] DOMAIN [--resolver ADDR]\n"
        "                          [--json]\n"
        "Proves the credentials with a read-only call (write access can't be proven\n"
        "without writing) and checks that the parent zone delegates DOMAIN to the\n"
        "provider's nameservers (else writes would succeed with no effect).\n"
        "Exit: 0 fine, 1 credentials refused or wrong delegation, 3 provider unreachable.\n",
        "pull",
        "usage: tailwart dns pull --provider P [provider options] DOMAIN > zone.db\n"
        "Writes the live zone as an RFC 1035 zone file. What a zone file can't manage\n"
        "(provider-owned records, SOA, apex NS, ALIAS) and ignored records are written\n"
        "as comments marked unmanaged or ignored.\n",
        "plan",
        "usage: tailwart dns plan --provider P [provider options] ZONEFILE [-o PLANFILE]\n"
        "                         [--json] [--purge] [--domain D] [--ignore NAME[:TYPE]]\n"
        "Shows each RRSet to add, change or delete and the provider calls, in order.\n"
        "-o saves the plan; `apply PLANFILE` applies it only if the live zone is still\n"
        "what it was planned against. Records not in the file are left alone unless\n"
        "--purge.\n",
        "diff",
        "usage: tailwart dns diff --provider P [provider options] ZONEFILE\n"
        "Exit 0 when the live zone matches the file, 1 when it differs.\n",
        "apply",
        "usage: tailwart dns apply --provider P [provider options] (ZONEFILE | PLANFILE)\n"
        "            [--yes] [--purge] [--snapshots DIR] [--verify-timeout DURATION]\n"
        "            [--resolver ADDR[:PORT]] [--nameserver ADDR[:PORT]]... [--no-verify]\n"
        "Shows the plan and asks before writing (no terminal: --yes is required). Locks\n"
        "the zone, re-reads it, snapshots it (DIR/DOMAIN-UTC-before.zone, mode 0600;\n"
        "default " TW_DNS_SNAPSHOT_DIR "), makes the calls, reads the zone back,\n"
        "snapshots again and asks each authoritative nameserver directly until all\n"
        "serve the new data or --verify-timeout (default 2m) passes. On any failure it\n"
        "stops and prints what was and wasn't applied.\n"
        "Exit: 0 applied and verified, 1 stale plan or a nameserver lagging, 2 input\n"
        "refused, 3 provider or DNS failure.\n",
        "restore",
        "usage: tailwart dns restore --provider P [provider options] SNAPSHOT [--yes]\n"
        "Makes the managed records equal the snapshot (records not in it are deleted,\n"
        "ignored and provider-owned ones are left alone). Same safety as apply.\n",
        "lint",
        "usage: tailwart dns lint ZONEFILE [--domain D] [--offline] [--resolver ADDR]\n"
        "                         [-c FILE] [--json]\n"
        "Mail-domain rules: one SPF record per name, at most 10 SPF DNS lookups (includes\n"
        "outside the zone are resolved unless --offline), TXT strings split at 255 bytes,\n"
        "no CNAME beside other data, MX not at a CNAME or an address, DMARC and DKIM\n"
        "syntax; with -c, mail hosts with AAAA while the edge has no IPv6 listener, and\n"
        "CAA without dns.caa_accounturi.\n"
        "Exit: 0 clean (warnings allowed), 1 errors found, 2 the file can't be read.\n",
};

typedef struct dns_args {
	const char *sub;
	const char *provider, *credentials, *server, *tsig_file, *tsig;
	const char *domain, *config, *out, *snapshots, *resolver;
	const char **ignore;
	size_t nignore;
	const char **nameservers;
	size_t nnameservers;
	bool json, purge, yes, offline, verify, verbose;
	uint64_t verify_timeout_ms;
	const char *arg; /* DOMAIN, ZONEFILE, PLANFILE or SNAPSHOT */
	tw_config_t *cfg;
} dns_args_t;

static void trace_stderr(void *ctx, const char *line)
{
	TW_UNUSED(ctx);
	fprintf(stderr, "tailwart dns: %s\n", line);
}

static void print_diags(const char *what, const tw_diags_t *d)
{
	char b[1200];
	for (size_t i = 0; i < d->n; i++) {
		tw_diag_format(&d->v[i], b, sizeof(b));
		fprintf(stderr, "tailwart dns %s: %s\n", what, b);
	}
}

static void print_err(const char *sub, const tw_dns_err_t *e)
{
	fprintf(stderr, "tailwart dns %s: %s", sub, e->msg);
	if (e->code[0])
		fprintf(stderr, " [%s]", e->code);
	if (e->op_id[0])
		fprintf(stderr, " (operation id %s)", e->op_id);
	fputc('\n', stderr);
}

/* Builds the provider; returns an exit code (0 ok). */
static int make_provider(const dns_args_t *a, const char *origin, tw_dns_provider_t **out)
{
	tw_dns_err_t e = {0};
	tw_diags_t d = {0};
	int rc;
	*out = NULL;
	if (!a->provider) {
		fprintf(stderr, "tailwart dns %s: --provider spaceship|rfc2136 is required\n",
		        a->sub);
		return 2;
	}
	if (strcmp(a->provider, "spaceship") == 0) {
		char *key = NULL, *secret = NULL;
		if (tw_dns_creds_load(a->credentials, &key, &secret, &d) < 0) {
			print_diags(a->sub, &d);
			tw_diags_release(&d);
			return 2;
		}
		tw_dns_spaceship_opts_t o = {.key = key, .secret = secret};
		rc = tw_dns_spaceship_new(origin, &o, out, &e);
		explicit_bzero(key, strlen(key));
		explicit_bzero(secret, strlen(secret));
		free(key);
		free(secret);
	} else if (strcmp(a->provider, "rfc2136") == 0) {
		tw_dns_tsig_t k;
		bool have_key = false;
		if (!a->server) {
			fprintf(stderr,
			        "tailwart dns %s: --provider rfc2136 needs --server HOST[:PORT]\n",
			        a->sub);
			return 2;
		}
		if (a->tsig_file && a->tsig) {
			fprintf(stderr, "tailwart dns %s: give --tsig-file or --tsig, not both\n",
			        a->sub);
			return 2;
		}
		if (a->tsig_file || a->tsig) {
			rc = a->tsig_file ? tw_dns_tsig_load(a->tsig_file, &k, &d)
			                  : tw_dns_tsig_parse_opt(a->tsig, &k, &d);
			if (rc < 0) {
				print_diags(a->sub, &d);
				tw_diags_release(&d);
				explicit_bzero(&k, sizeof(k));
				return 2;
			}
			have_key = true;
		}
		/* A key file may parse with warnings (hmac-md5): say them. */
		print_diags(a->sub, &d);
		tw_diags_release(&d);
		tw_dns_rfc2136_opts_t o = {.server = a->server, .key = have_key ? &k : NULL};
		rc = tw_dns_rfc2136_new(origin, &o, out, &e);
		explicit_bzero(&k, sizeof(k));
	} else {
		fprintf(stderr, "tailwart dns %s: unknown provider \"%s\" (spaceship, rfc2136)\n",
		        a->sub, a->provider);
		return 2;
	}
	tw_diags_release(&d);
	if (rc < 0) {
		print_err(a->sub, &e);
		return e.exit_code ? e.exit_code : 2;
	}
	if (a->verbose) {
		(*out)->trace = trace_stderr;
		(*out)->trace_ctx = NULL;
	}
	return 0;
}

static int list_live(const dns_args_t *a, tw_dns_provider_t *p, const char *origin,
                     tw_dns_zone_t *z)
{
	tw_dns_err_t e = {0};
	tw_dns_zone_init(z, origin);
	if (p->ops->list(p, z, &e) < 0) {
		print_err(a->sub, &e);
		tw_dns_zone_release(z);
		memset(z, 0, sizeof(*z));
		return e.exit_code ? e.exit_code : 3;
	}
	return 0;
}

static void plan_opts(const dns_args_t *a, tw_dns_plan_opts_t *o, const char **store)
{
	size_t n = 0;
	for (size_t i = 0; i < a->nignore; i++)
		store[n++] = a->ignore[i];
	for (size_t i = 0; a->cfg && i < a->cfg->dns.n_ignore; i++)
		store[n++] = a->cfg->dns.ignore[i];
	memset(o, 0, sizeof(*o));
	o->purge = a->purge;
	o->ignore = store;
	o->nignore = n;
}

static size_t nignore_all(const dns_args_t *a)
{
	return a->nignore + (a->cfg ? a->cfg->dns.n_ignore : 0) + 1;
}

/* A plan file is JSON; a zone file never starts with '{'. */
static bool looks_like_planfile(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	int c;
	while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r'))
		;
	fclose(f);
	return c == '{';
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	char tmp[8192];
	size_t r;
	while (m && (r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		fwrite(tmp, 1, r, m);
	bool bad = ferror(f) || !m;
	fclose(f);
	if (m)
		fclose(m);
	if (bad) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static int load_desired(const dns_args_t *a, tw_dns_zone_t *z)
{
	tw_diags_t d = {0};
	if (tw_dns_zone_load(z, a->arg, a->domain, &d) < 0) {
		print_diags(a->sub, &d);
		tw_diags_release(&d);
		tw_dns_zone_release(z);
		return 2;
	}
	tw_diags_release(&d);
	return 0;
}

static json_t *names_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The names the parent must delegate to: the provider's, or the zone's apex NS. */
static char **wanted_ns(const tw_dns_provider_t *p, const tw_dns_zone_t *live, size_t *n)
{
	char **want = tw_xcalloc(live->n + 8, sizeof(*want));
	*n = 0;
	if (p->ops->nameservers) {
		for (const char *const *s = p->ops->nameservers; *s && *n < 7; s++)
			want[(*n)++] = tw_xstrdup(*s);
		return want;
	}
	for (size_t i = 0; i < live->n; i++)
		if (live->v[i].type == LDNS_RR_TYPE_NS &&
		    strcmp(live->v[i].owner, live->origin) == 0 && live->v[i].rr) {
			char *s = ldns_rdf2str(ldns_rr_rdf(live->v[i].rr, 0));
			for (char *c = s; c && *c; c++)
				*c = (char)tolower((unsigned char)*c);
			if (s)
				want[(*n)++] = s;
		}
	return want;
}

static int cmd_check(dns_args_t *a)
{
	tw_dns_provider_t *p;
	tw_dns_zone_t live;
	int rc = make_provider(a, a->arg, &p);
	if (rc)
		return rc;
	tw_dns_err_t e = {0};
	json_t *j = json_object(), *cred = json_object(), *del = json_object();
	json_object_set_new(j, "domain", json_string(p->origin));
	json_object_set_new(j, "provider", json_string(p->ops->name));
	json_object_set_new(j, "credentials", cred);
	tw_dns_zone_init(&live, p->origin);
	if (p->ops->list(p, &live, &e) < 0) {
		rc = e.exit_code ? e.exit_code : 3;
		json_object_set_new(cred, "ok", json_false());
		json_object_set_new(cred, "error", json_string(e.msg));
		json_object_set_new(cred, "code", json_string(e.code));
		if (!a->json)
			printf("credentials: FAILED: %s%s%s%s\n", e.msg, e.code[0] ? " [" : "",
			       e.code, e.code[0] ? "]" : "");
		json_decref(del); /* not checked: no delegation object */
		goto out;
	}
	json_object_set_new(cred, "ok", json_true());
	json_object_set_new(cred, "records", json_integer((json_int_t)live.n));
	json_object_set_new(cred, "write_proven", json_false());
	if (!a->json)
		printf("credentials: ok: read access proven, %zu records listed for %s at %s "
		       "(write access can't be proven without writing)\n",
		       live.n, live.origin, p->ops->name);
	json_object_set_new(j, "delegation", del);
	size_t nwant = 0, ngot = 0;
	char **want = wanted_ns(p, &live, &nwant), **got = NULL;
	json_object_set_new(del, "provider_ns", names_json(want, nwant));
	memset(&e, 0, sizeof(e));
	const char *verdict;
	char detail[1024] = "";
	if (tw_dns_parent_ns(live.origin, a->resolver, &got, &ngot, &e) < 0) {
		verdict = "unknown";
		snprintf(detail, sizeof(detail), "not checked: %s", e.msg);
	} else {
		size_t hit = 0;
		json_object_set_new(del, "parent_ns", names_json(got, ngot));
		if (!a->json) {
			printf("delegation: the parent zone delegates %s to:", live.origin);
			for (size_t i = 0; i < ngot; i++)
				printf(" %s", got[i]);
			printf("\n");
		}
		for (size_t i = 0; i < nwant; i++)
			for (size_t k = 0; k < ngot; k++)
				hit += strcasecmp(want[i], got[k]) == 0;
		if (nwant == 0) {
			verdict = "unknown";
			snprintf(detail, sizeof(detail), "%s publishes no apex NS to compare with",
			         p->ops->name);
		} else if (hit == 0) {
			size_t o = 0;
			verdict = "wrong";
			rc = 1;
			o += (size_t)snprintf(detail, sizeof(detail), "none of %s's nameservers (",
			                      p->ops->name);
			for (size_t i = 0; i < nwant && o < sizeof(detail); i++)
				o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s%s",
				                      i ? ", " : "", want[i]);
			if (o < sizeof(detail))
				snprintf(detail + o, sizeof(detail) - o,
				         ") is in the parent's NS set: writes through %s would "
				         "succeed "
				         "but change nothing anyone sees. Change the nameservers "
				         "at the "
				         "registrar.",
				         p->ops->name);
		} else if (hit < nwant || hit < ngot) {
			verdict = "partial";
			snprintf(detail, sizeof(detail),
			         "the parent's NS set and %s's nameservers only partly agree (%zu "
			         "in "
			         "common): some resolvers would ask servers %s doesn't update",
			         p->ops->name, hit, p->ops->name);
		} else {
			verdict = "ok";
		}
	}
	json_object_set_new(del, "verdict", json_string(verdict));
	json_object_set_new(del, "detail", json_string(detail));
	if (!a->json) {
		if (strcmp(verdict, "ok") == 0)
			printf("delegation: ok\n");
		else
			printf("delegation: %s: %s\n",
			       strcmp(verdict, "wrong") == 0 ? "WRONG" : "WARNING", detail);
	}
	tw_dns_names_free(got, ngot);
	for (size_t i = 0; i < nwant; i++)
		free(want[i]);
	free(want);
out:
	if (a->json) {
		json_object_set_new(j, "exit", json_integer(rc));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	}
	json_decref(j);
	tw_dns_zone_release(&live);
	tw_dns_provider_destroy(p);
	return rc;
}

static int cmd_pull(dns_args_t *a)
{
	tw_dns_provider_t *p;
	tw_dns_zone_t live;
	int rc = make_provider(a, a->arg, &p);
	if (rc || (rc = list_live(a, p, p->origin, &live)) != 0) {
		tw_dns_provider_destroy(p);
		return rc;
	}
	const char **store = tw_xcalloc(nignore_all(a), sizeof(*store));
	tw_dns_plan_opts_t o;
	plan_opts(a, &o, store);
	for (size_t i = 0; i < live.n; i++) {
		tw_dns_rr_t *r = &live.v[i];
		if (r->flags & TW_DNS_RR_UNMANAGED)
			continue;
		bool ig = tw_dns_ignore_match(&live, r, TW_DNS_IGNORE_DEFAULT);
		for (size_t j = 0; j < o.nignore && !ig; j++)
			ig = tw_dns_ignore_match(&live, r, o.ignore[j]);
		if (ig) {
			r->flags |= TW_DNS_RR_UNMANAGED | TW_DNS_RR_IGNORED;
			r->note = "ignored: matches an ignore pattern";
		}
	}
	char header[512], iso[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(header, sizeof(header),
	         "%s as %s serves it, pulled by tailwart dns at %s\n"
	         "Records marked unmanaged or ignored are not changed by plan/apply.",
	         live.origin, p->ops->name, iso);
	tw_dns_zone_sort(&live);
	rc = tw_dns_zone_write(&live, stdout, header) < 0 || fflush(stdout) != 0 ? 3 : 0;
	if (rc)
		fprintf(stderr, "tailwart dns pull: cannot write the zone file: %s\n",
		        strerror(errno));
	free(store);
	tw_dns_zone_release(&live);
	tw_dns_provider_destroy(p);
	return rc;
}

static int write_planfile(const char *path, json_t *j)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	int rc = json_dumpf(j, f, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 && fputc('\n', f) != EOF &&
	                         fflush(f) == 0 && fsync(fd) == 0
	                 ? 0
	                 : -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* What plan, diff, apply and restore share: the zones, the provider, the plan. */
typedef struct dns_session {
	tw_dns_zone_t desired, live;
	tw_dns_provider_t *p;
	const char **store; /* the ignore patterns of o */
	tw_dns_plan_opts_t o;
	tw_dns_plan_t plan;
	tw_diags_t errs;
} dns_session_t;

/* With s->desired loaded: the provider, the live zone and the plan. Returns an exit code. */
static int session_plan(dns_args_t *a, dns_session_t *s)
{
	int rc;
	if ((rc = make_provider(a, s->desired.origin, &s->p)) != 0 ||
	    (rc = list_live(a, s->p, s->desired.origin, &s->live)) != 0)
		return rc;
	s->store = tw_xcalloc(nignore_all(a), sizeof(*s->store));
	plan_opts(a, &s->o, s->store);
	if (tw_dns_plan_make(&s->plan, &s->desired, &s->live, s->p->ops, &s->o, &s->errs) < 0) {
		print_diags(a->sub, &s->errs);
		return 2;
	}
	return 0;
}

static void session_close(dns_session_t *s)
{
	tw_diags_release(&s->errs);
	tw_dns_plan_release(&s->plan);
	free(s->store);
	tw_dns_zone_release(&s->live);
	tw_dns_zone_release(&s->desired);
	tw_dns_provider_destroy(s->p);
}

/* plan and diff. */
static int cmd_plan(dns_args_t *a, bool diff_only)
{
	dns_session_t s = {0};
	int rc = load_desired(a, &s.desired);
	if (rc == 0)
		rc = session_plan(a, &s);
	if (rc) {
		session_close(&s);
		return rc;
	}
	if (diff_only) {
		tw_dns_plan_print(&s.plan, stdout);
		rc = s.plan.nchanges ? 1 : 0;
	} else {
		json_t *j = tw_dns_plan_json(&s.plan, &s.o);
		if (a->json) {
			json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			fputc('\n', stdout);
		} else {
			tw_dns_plan_print(&s.plan, stdout);
		}
		if (a->out) {
			int w = write_planfile(a->out, j);
			if (w < 0) {
				fprintf(stderr, "tailwart dns plan: cannot write %s: %s\n", a->out,
				        strerror(-w));
				rc = 3;
			} else if (!a->json) {
				printf("\nPlan saved to %s; apply it with: tailwart dns apply "
				       "--provider %s %s\n",
				       a->out, s.p->ops->name, a->out);
			}
		}
		json_decref(j);
	}
	session_close(&s);
	return rc;
}

static bool confirm(const char *origin, const char *provider, size_t ncalls)
{
	char line[64];
	fprintf(stderr, "\nApply these %zu call%s to %s at %s? Type yes to go on: ", ncalls,
	        ncalls == 1 ? "" : "s", origin, provider);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "yes") == 0 || strcmp(line, "y") == 0;
}

/* apply and restore. */
static int cmd_apply(dns_args_t *a, bool restore)
{
	dns_session_t s = {0};
	tw_dns_planfile_t pf = {0};
	bool from_plan = !restore && looks_like_planfile(a->arg);
	int rc;
	if (!a->yes && !isatty(STDIN_FILENO)) {
		fprintf(stderr,
		        "tailwart dns %s: standard input is not a terminal, so I can't ask before "
		        "writing: pass --yes to %s without asking\n",
		        a->sub, a->sub);
		return 2;
	}
	if (from_plan) {
		tw_diags_t d = {0};
		size_t len = 0;
		char *buf = slurp(a->arg, &len);
		if (!buf) {
			fprintf(stderr, "tailwart dns apply: cannot read %s: %s\n", a->arg,
			        strerror(errno));
			return 2;
		}
		rc = tw_dns_planfile_parse(a->arg, buf, len, &s.desired, &pf, &d);
		free(buf);
		print_diags(a->sub, &d);
		tw_diags_release(&d);
		if (rc < 0)
			return 2;
		if (a->provider && strcmp(a->provider, pf.provider) != 0) {
			fprintf(stderr,
			        "tailwart dns apply: %s was planned for provider %s, not %s\n",
			        a->arg, pf.provider, a->provider);
			rc = 2;
			goto out;
		}
		/* The plan's own options, so the same plan is made again. */
		a->purge = pf.purge;
		a->ignore = (const char **)pf.ignore;
		a->nignore = pf.nignore;
	} else if ((rc = load_desired(a, &s.desired)) != 0) {
		goto out;
	}
	if (restore)
		a->purge = true; /* within the managed set: ignore patterns still hold */
	if ((rc = session_plan(a, &s)) != 0)
		goto out;
	tw_dns_plan_print(&s.plan, stdout);
	fflush(stdout);
	if (from_plan && strcmp(pf.live_digest, s.plan.live_digest) != 0) {
		printf("\nThe live zone changed since %s was made; nothing was written. Plan again "
		       "and review the new plan.\n",
		       a->arg);
		rc = 1;
		goto out;
	}
	if (s.plan.ncalls == 0) {
		rc = 0;
		goto out;
	}
	if (!a->yes && !confirm(s.desired.origin, s.p->ops->name, s.plan.ncalls)) {
		printf("Not applied.\n");
		rc = 1;
		goto out;
	}
	printf("\n");
	tw_dns_apply_opts_t ao = {
	        .plan = &s.o,
	        .snapshots = a->snapshots,
	        .expect_digest = s.plan.live_digest, /* what was shown, or the plan file's */
	        .from_planfile = from_plan,
	        .verify = a->verify,
	        .resolver = a->resolver,
	        .nameservers = a->nameservers,
	        .nnameservers = a->nnameservers,
	        .verify_timeout_ms = (long)a->verify_timeout_ms,
	        .verify_interval_ms = 500,
	        .out = stdout,
	};
	rc = tw_dns_apply(s.p, &s.desired, &ao);
out:
	session_close(&s);
	if (from_plan) {
		a->ignore = NULL;
		a->nignore = 0;
	}
	tw_dns_planfile_release(&pf);
	return rc;
}

/* [{"file":..,"line":..,"field":..,"message":..}] (json_string refuses non-UTF-8: escaped then). */
static json_t *diags_json(const tw_diags_t *d)
{
	json_t *a = json_array();
	for (size_t i = 0; i < d->n; i++) {
		const tw_diag_t *g = &d->v[i];
		char esc[sizeof(g->msg) * 4];
		json_t *o = json_object(), *m = json_string(g->msg);
		if (!m)
			m = json_string(tw_escape(esc, sizeof(esc), g->msg, strlen(g->msg)));
		json_t *f = json_string(g->file), *fl = json_string(g->field);
		json_object_set_new(o, "file", f ? f : json_string(""));
		json_object_set_new(o, "line", json_integer(g->line));
		json_object_set_new(o, "field", fl ? fl : json_string(""));
		json_object_set_new(o, "message", m);
		json_array_append_new(a, o);
	}
	return a;
}

static int cmd_lint(dns_args_t *a)
{
	tw_dns_zone_t z;
	int rc = load_desired(a, &z);
	if (rc)
		return rc;
	tw_dns_lint_opts_t o = {
	        .offline = a->offline,
	        .resolver = a->resolver,
	        .edge = a->cfg,
	        .caa_accounturi = a->cfg ? a->cfg->dns.caa_accounturi : NULL,
	};
	tw_diags_t errors = {0}, warnings = {0};
	rc = tw_dns_lint(&z, &o, &errors, &warnings);
	if (a->json) {
		json_t *j = json_object();
		json_object_set_new(j, "file", json_string(a->arg));
		json_object_set_new(j, "errors", diags_json(&errors));
		json_object_set_new(j, "warnings", diags_json(&warnings));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		char b[1200];
		for (size_t i = 0; i < errors.n; i++) {
			tw_diag_format(&errors.v[i], b, sizeof(b));
			printf("error: %s\n", b);
		}
		for (size_t i = 0; i < warnings.n; i++) {
			tw_diag_format(&warnings.v[i], b, sizeof(b));
			printf("warning: %s\n", b);
		}
		printf("%s: %zu error%s, %zu warning%s\n", a->arg, errors.n,
		       errors.n == 1 ? "" : "s", warnings.n, warnings.n == 1 ? "" : "s");
	}
	size_t nerr = errors.n;
	tw_diags_release(&errors);
	tw_diags_release(&warnings);
	tw_dns_zone_release(&z);
	return rc < 0 ? 3 : nerr ? 1 : 0;
}

static void sub_help(const char *sub, FILE *f)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(sub_usage); i += 2)
		if (strcmp(sub_usage[i], sub) == 0) {
			fputs(sub_usage[i + 1], f);
			if (strcmp(sub, "lint") != 0)
				fprintf(f, "\n%s", provider_help);
			return;
		}
	fputs(usage, f);
}

int tw_cmd_dns(int argc, char **argv)
{
	enum {
		O_PROVIDER = 256,
		O_CREDS,
		O_SERVER,
		O_TSIGFILE,
		O_TSIG,
		O_DOMAIN,
		O_IGNORE,
		O_JSON,
		O_PURGE,
		O_YES,
		O_OFFLINE,
		O_SNAP,
		O_VTIMEOUT,
		O_RESOLVER,
		O_NS,
		O_NOVERIFY,
		O_VERBOSE,
	};
	static const struct option opts[] = {{"provider", required_argument, 0, O_PROVIDER},
	                                     {"credentials", required_argument, 0, O_CREDS},
	                                     {"server", required_argument, 0, O_SERVER},
	                                     {"tsig-file", required_argument, 0, O_TSIGFILE},
	                                     {"tsig", required_argument, 0, O_TSIG},
	                                     {"domain", required_argument, 0, O_DOMAIN},
	                                     {"ignore", required_argument, 0, O_IGNORE},
	                                     {"config", required_argument, 0, 'c'},
	                                     {"output", required_argument, 0, 'o'},
	                                     {"json", no_argument, 0, O_JSON},
	                                     {"purge", no_argument, 0, O_PURGE},
	                                     {"yes", no_argument, 0, O_YES},
	                                     {"offline", no_argument, 0, O_OFFLINE},
	                                     {"snapshots", required_argument, 0, O_SNAP},
	                                     {"verify-timeout", required_argument, 0, O_VTIMEOUT},
	                                     {"resolver", required_argument, 0, O_RESOLVER},
	                                     {"nameserver", required_argument, 0, O_NS},
	                                     {"no-verify", no_argument, 0, O_NOVERIFY},
	                                     {"verbose", no_argument, 0, O_VERBOSE},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	static const char *const subs[] = {"check", "pull",    "plan", "diff",
	                                   "apply", "restore", "lint"};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	dns_args_t a = {.sub = argv[1], .verify = true, .verify_timeout_ms = 120000};
	bool known = false;
	for (size_t i = 0; i < TW_ARRAY_LEN(subs); i++)
		known |= strcmp(subs[i], a.sub) == 0;
	if (!known) {
		fprintf(stderr, "tailwart dns: unknown subcommand \"%s\"\n", a.sub);
		fputs(usage, stderr);
		return 2;
	}
	a.ignore = tw_xcalloc((size_t)argc, sizeof(*a.ignore));
	a.nameservers = tw_xcalloc((size_t)argc, sizeof(*a.nameservers));
	const char **ignore_store = a.ignore;
	int rc = 2, ch;
	char err[256];
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "c:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case O_PROVIDER: a.provider = optarg; break;
		case O_CREDS: a.credentials = optarg; break;
		case O_SERVER: a.server = optarg; break;
		case O_TSIGFILE: a.tsig_file = optarg; break;
		case O_TSIG: a.tsig = optarg; break;
		case O_DOMAIN: a.domain = optarg; break;
		case O_IGNORE: a.ignore[a.nignore++] = optarg; break;
		case 'c': a.config = optarg; break;
		case 'o': a.out = optarg; break;
		case O_JSON: a.json = true; break;
		case O_PURGE: a.purge = true; break;
		case O_YES: a.yes = true; break;
		case O_OFFLINE: a.offline = true; break;
		case O_SNAP: a.snapshots = optarg; break;
		case O_VTIMEOUT:
			if (tw_duration_parse(optarg, strlen(optarg), &a.verify_timeout_ms, err,
			                      sizeof(err)) < 0) {
				fprintf(stderr, "tailwart dns %s: --verify-timeout: %s\n", a.sub,
				        err);
				goto out;
			}
			break;
		case O_RESOLVER: a.resolver = optarg; break;
		case O_NS: a.nameservers[a.nnameservers++] = optarg; break;
		case O_NOVERIFY: a.verify = false; break;
		case O_VERBOSE: a.verbose = true; break;
		case 'h':
			sub_help(a.sub, stdout);
			rc = 0;
			goto out;
		default: sub_help(a.sub, stderr); goto out;
		}
	}
	if (argc - 1 - optind != 1) {
		fprintf(stderr, "tailwart dns %s: expected one %s argument\n", a.sub,
		        strcmp(a.sub, "check") == 0 || strcmp(a.sub, "pull") == 0 ? "DOMAIN"
		        : strcmp(a.sub, "restore") == 0                           ? "SNAPSHOT"
		                                                                  : "ZONEFILE");
		sub_help(a.sub, stderr);
		goto out;
	}
	a.arg = argv[1 + optind];
	for (size_t i = 0; i < a.nnameservers; i++) {
		tw_dns_server_t s;
		if (tw_dns_server_parse(a.nameservers[i], &s) < 0) {
			fprintf(stderr, "tailwart dns %s: --nameserver %s: expected ADDR[:PORT]\n",
			        a.sub, a.nameservers[i]);
			goto out;
		}
	}
	for (size_t i = 0; i < a.nignore; i++)
		if (!a.ignore[i][0] || a.ignore[i][0] == ':') {
			fprintf(stderr, "tailwart dns %s: --ignore \"%s\": expected NAME[:TYPE]\n",
			        a.sub, a.ignore[i]);
			goto out;
		}
	if (a.config) {
		tw_diags_t d = {0};
		a.cfg = tw_config_load(a.config, &d);
		if (!a.cfg) {
			print_diags(a.sub, &d);
			tw_diags_release(&d);
			goto out;
		}
		tw_diags_release(&d);
	}
	if (!a.snapshots)
		a.snapshots =
		        a.cfg && a.cfg->dns.snapshots ? a.cfg->dns.snapshots : TW_DNS_SNAPSHOT_DIR;
	if (strcmp(a.sub, "check") == 0)
		rc = cmd_check(&a);
	else if (strcmp(a.sub, "pull") == 0)
		rc = cmd_pull(&a);
	else if (strcmp(a.sub, "plan") == 0)
		rc = cmd_plan(&a, false);
	else if (strcmp(a.sub, "diff") == 0)
		rc = cmd_plan(&a, true);
	else if (strcmp(a.sub, "apply") == 0)
		rc = cmd_apply(&a, false);
	else if (strcmp(a.sub, "restore") == 0)
		rc = cmd_apply(&a, true);
	else
		rc = cmd_lint(&a);
out:
	tw_config_free(a.cfg);
	free(ignore_store);
	free(a.nameservers);
	return rc;
}
