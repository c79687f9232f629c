/*
 * apply.c - a plan carried out with nothing lost and every outcome said
 * (see apply.h): lock, re-read, snapshot, calls, read-back, snapshot,
 * verification at the authoritative nameservers.
 */
#include "dns/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdir_p(const char *dir, mode_t mode)
{
	char p[4096];
	if (!tw_strlcpy(p, dir, sizeof(p)))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int tw_dns_snapshot_write(const char *dir, const tw_dns_zone_t *z, const char *provider,
                          const char *when, char *path, size_t path_size, tw_dns_err_t *err)
{
	char stamp[32], iso[32], dom[256], tmp[4200], header[512];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	tw_strlcpy(dom, z->origin, sizeof(dom));
	size_t dl = strlen(dom);
	if (dl > 1 && dom[dl - 1] == '.')
		dom[dl - 1] = '\0';
	int rc = mkdir_p(dir, 0700);
	if (rc < 0)
		return tw_dns_err_set(err, 3, "cannot create snapshot directory %s: %s", dir,
		                      strerror(-rc));
	/* The snapshot text, in memory first, so what we read back can be compared. */
	char *text = NULL;
	size_t tlen = 0;
	FILE *m = open_memstream(&text, &tlen);
	if (!m)
		return tw_dns_err_set(err, 3, "out of memory");
	snprintf(header, sizeof(header),
	         "tailwart dns snapshot of %s at %s, %s apply, %s\n"
	         "restore with: tailwart dns restore --provider %s THIS-FILE",
	         z->origin, provider, when, iso, provider);
	tw_dns_zone_write(z, m, header);
	if (fclose(m) != 0) {
		free(text);
		return tw_dns_err_set(err, 3, "out of memory");
	}
	int fd = -1;
	for (int i = 1; i < 100 && fd < 0; i++) {
		if (i == 1)
			snprintf(path, path_size, "%s/%s-%s-%s.zone", dir, dom, stamp, when);
		else
			snprintf(path, path_size, "%s/%s-%s-%s-%d.zone", dir, dom, stamp, when, i);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		if (access(path, F_OK) == 0)
			continue;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			rc = -errno;
			free(text);
			return tw_dns_err_set(err, 3, "cannot write snapshot %s: %s", tmp,
			                      strerror(-rc));
		}
	}
	if (fd < 0) {
		free(text);
		return tw_dns_err_set(err, 3, "cannot find a free snapshot name in %s", dir);
	}
	size_t off = 0;
	while (off < tlen) {
		ssize_t w = write(fd, text + off, tlen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir(dir);
	if (rc < 0) {
		unlink(tmp);
		free(text);
		return tw_dns_err_set(err, 3, "cannot write snapshot %s: %s", path, strerror(-rc));
	}
	/* Reported as written only once it reads back the same. */
	size_t blen = 0;
	char *back = read_all(path, &blen);
	bool same = back && blen == tlen && memcmp(back, text, tlen) == 0;
	free(back);
	free(text);
	if (!same)
		return tw_dns_err_set(err, 3, "snapshot %s does not read back as written", path);
	return 0;
}

int tw_dns_lock(const char *dir, const char *origin, int *fd, tw_dns_err_t *err)
{
	char path[4200];
	int rc = mkdir_p(dir, 0700);
	if (rc < 0)
		return tw_dns_err_set(err, 3, "cannot create %s: %s", dir, strerror(-rc));
	snprintf(path, sizeof(path), "%s/.%slock", dir, origin);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return tw_dns_err_set(err, 3, "cannot open lock %s: %s", path, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(*fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(*fd);
		*fd = -1;
		return tw_dns_err_set(err, 3,
		                      "another tailwart dns apply%s%s%s holds the lock on %s (%s): "
		                      "wait for it to finish",
		                      pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", origin, path);
	}
	char pid[32];
	int l = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) < 0 || pwrite(*fd, pid, (size_t)l, 0) != l) {
		/* The pid is only for the message above; the lock is held. */
	}
	return 0;
}

size_t tw_dns_find_duplicates(const tw_dns_zone_t *z, tw_diags_t *out)
{
	size_t found = 0;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *a = &z->v[i];
		if (!tw_dns_rr_unique_kind(z, a))
			continue;
		bool first = true;
		size_t count = 1;
		for (size_t j = 0; j < z->n; j++) {
			const tw_dns_rr_t *b = &z->v[j];
			if (j == i || strcmp(a->owner, b->owner) != 0)
				continue;
			bool clash;
			if (a->type == LDNS_RR_TYPE_CNAME)
				clash = true; /* anything beside a CNAME */
			else
				clash = b->type == a->type && tw_dns_rr_unique_kind(z, b) &&
				        (a->txt_len >= 6 && b->txt_len >= 6 &&
				         strncasecmp(a->txt, b->txt, 6) == 0);
			if (!clash)
				continue;
			if (j < i && a->type != LDNS_RR_TYPE_CNAME)
				first = false; /* reported with the earlier one */
			count++;
		}
		if (count > 1 && first) {
			char tn[32];
			found++;
			tw_diag_add(
			        out, "", 0, a->owner,
			        a->type == LDNS_RR_TYPE_CNAME
			                ? "a CNAME with %zu other records beside it"
			                : "%zu records that must be unique (%s): receivers treat "
			                  "this "
			                  "as an error",
			        count - 1 + (a->type != LDNS_RR_TYPE_CNAME),
			        a->type == LDNS_RR_TYPE_CNAME
			                ? ""
			                : (strncasecmp(a->txt, "v=spf1", 6) == 0
			                           ? "SPF"
			                           : tw_dns_type_name(a->type, tn, sizeof(tn))));
		}
	}
	return found;
}

int tw_dns_server_parse(const char *s, tw_dns_server_t *out)
{
	memset(out, 0, sizeof(*out));
	tw_strlcpy(out->name, s, sizeof(out->name));
	out->port = 53;
	const char *host = s, *port = NULL;
	size_t hl;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return TW_EINVAL;
		host = s + 1;
		hl = (size_t)(e - host);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			return TW_EINVAL;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':'))
			c = NULL; /* a bare IPv6 address */
		hl = c ? (size_t)(c - s) : strlen(s);
		port = c ? c + 1 : NULL;
	}
	if (hl == 0 || hl >= sizeof(out->addr))
		return TW_EINVAL;
	memcpy(out->addr, host, hl);
	out->addr[hl] = '\0';
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (!*port || *end || p < 1 || p > 65535)
			return TW_EINVAL;
		out->port = (uint16_t)p;
	}
	return 0;
}

typedef enum { CALL_NOT_RUN, CALL_DONE, CALL_FAILED, CALL_MAYBE } call_state_t;

static bool present(const tw_dns_provider_ops_t *ops, const tw_dns_zone_t *z, const tw_dns_rr_t *r,
                    bool with_ttl)
{
	for (size_t i = 0; i < z->n; i++)
		if (tw_dns_same_data_as(ops, &z->v[i], r) && (!with_ttl || z->v[i].ttl == r->ttl))
			return true;
	return false;
}

/*
 * What the read-back says of one record of a failed call: has its change
 * taken effect (added one present with its TTL, deleted one gone)?
 */
static bool took_effect(const tw_dns_provider_ops_t *ops, const tw_dns_zone_t *back,
                        const tw_dns_call_t *c, const tw_dns_rr_t *r, bool is_del)
{
	TW_UNUSED(c);
	return is_del ? !present(ops, back, r, false) : present(ops, back, r, true);
}

static void report_calls(const tw_dns_plan_t *p, const call_state_t *st, const tw_dns_zone_t *back,
                         FILE *out)
{
	static const char *const names[] = {"not attempted", "applied", "FAILED: not applied",
	                                    "FAILED: outcome unknown from the answer"};
	char b[1200];
	for (size_t i = 0; i < p->ncalls; i++) {
		const tw_dns_call_t *c = &p->calls[i];
		size_t total = c->n + c->ndels, eff = 0;
		bool judge = back && (st[i] == CALL_FAILED || st[i] == CALL_MAYBE);
		for (size_t j = 0; judge && j < c->ndels; j++)
			eff += took_effect(p->ops, back, c, c->dels[j], true);
		for (size_t j = 0; judge && j < c->n; j++)
			eff += took_effect(p->ops, back, c, c->rrs[j],
			                   c->kind == TW_DNS_CALL_DELETE);
		fprintf(out, "  %zu. %s %zu record%s: %s", i + 1,
		        c->kind == TW_DNS_CALL_DELETE ? "DELETE"
		        : c->kind == TW_DNS_CALL_PUT  ? "PUT"
		                                      : "UPDATE",
		        total, total == 1 ? "" : "s", names[st[i]]);
		if (judge)
			fprintf(out, "; the read-back shows %s",
			        eff == 0       ? "it NOT applied"
			        : eff == total ? "it APPLIED"
			                       : "it PARTLY applied (see each record)");
		fputc('\n', out);
		if (!judge) {
			tw_dns_call_print(p, c, out, "       ");
			continue;
		}
		for (size_t j = 0; j < c->ndels; j++)
			fprintf(out, "       - %s  [%s]\n",
			        tw_dns_rr_format(c->dels[j], b, sizeof(b)),
			        took_effect(p->ops, back, c, c->dels[j], true) ? "gone"
			                                                       : "still there");
		for (size_t j = 0; j < c->n; j++) {
			bool del = c->kind == TW_DNS_CALL_DELETE;
			bool e = took_effect(p->ops, back, c, c->rrs[j], del);
			fprintf(out, "       %s %s  [%s]\n", del ? "-" : "+",
			        tw_dns_rr_format(c->rrs[j], b, sizeof(b)),
			        del ? (e ? "gone" : "still there") : (e ? "present" : "absent"));
		}
	}
}

/* The current records of every RRSet the plan touches, for the failure report. */
static void report_touched(const tw_dns_plan_t *p, const tw_dns_zone_t *now, FILE *out)
{
	char b[1200], rel[300], tn[32];
	for (size_t i = 0; i < p->nchanges; i++) {
		const tw_dns_change_t *ch = &p->changes[i];
		size_t shown = 0;
		fprintf(out, "  %s %s:\n", tw_dns_rel_name(now, ch->owner, rel, sizeof(rel)),
		        tw_dns_type_name(ch->type, tn, sizeof(tn)));
		for (size_t j = 0; j < now->n; j++) {
			const tw_dns_rr_t *r = &now->v[j];
			if (strcmp(r->owner, ch->owner) == 0 && r->type == ch->type) {
				fprintf(out, "       %s\n", tw_dns_rr_format(r, b, sizeof(b)));
				shown++;
			}
		}
		if (!shown)
			fprintf(out, "       (none)\n");
	}
}

static void print_err(FILE *out, const char *what, const tw_dns_err_t *e)
{
	fprintf(out, "%s: %s", what, e->msg);
	if (e->code[0])
		fprintf(out, " [%s]", e->code);
	if (e->op_id[0])
		fprintf(out, " (operation id %s)", e->op_id);
	fputc('\n', out);
}

static int list_live(tw_dns_provider_t *prov, const char *origin, tw_dns_zone_t *z, tw_dns_err_t *e)
{
	memset(e, 0, sizeof(*e));
	if (tw_dns_zone_init(z, origin) < 0)
		return tw_dns_err_set(e, 2, "bad origin %s", origin);
	int rc = prov->ops->list(prov, z, e);
	if (rc < 0) {
		if (!e->exit_code)
			e->exit_code = 3;
		tw_dns_zone_release(z);
		memset(z, 0, sizeof(*z));
	}
	return rc;
}

static int verify(const tw_dns_plan_t *p, const tw_dns_zone_t *desired,
                  const tw_dns_apply_opts_t *o)
{
	FILE *out = o->out;
	tw_dns_servers_t servers = {0};
	tw_dns_err_t e = {0};
	if (o->nnameservers) {
		servers.v = tw_xcalloc(o->nnameservers, sizeof(*servers.v));
		for (size_t i = 0; i < o->nnameservers; i++)
			if (tw_dns_server_parse(o->nameservers[i], &servers.v[servers.n]) == 0)
				servers.n++;
	} else if (tw_dns_auth_servers(desired->origin, o->resolver, &servers, &e) < 0) {
		print_err(out, "cannot verify: the authoritative nameservers can't be found", &e);
		fprintf(out,
		        "The changes were written and read back from %s; check DNS later, "
		        "or pass --nameserver ADDR to ask a server directly.\n",
		        p->ops->name);
		return 3;
	}
	tw_dns_rrset_key_t *sets = tw_xcalloc(p->nchanges + 1, sizeof(*sets));
	for (size_t i = 0; i < p->nchanges; i++)
		sets[i] = (tw_dns_rrset_key_t){p->changes[i].owner, p->changes[i].type};
	/* Expected: the desired records the plan manages, nothing else. Live
	 * progress lines only on a terminal; the summary below names every server. */
	tw_dns_zone_t expected;
	tw_diags_t ign = {0};
	tw_dns_zone_init(&expected, desired->origin);
	for (size_t i = 0; i < p->nchanges; i++)
		for (size_t j = 0; j < p->changes[i].nwant; j++) {
			const tw_dns_rr_t *r = p->changes[i].want[j];
			if (r->rr)
				tw_dns_zone_add_rr(&expected, ldns_rr_clone(r->rr), NULL, 0, 0,
				                   &ign);
		}
	tw_diags_release(&ign);
	tw_dns_verify_result_t *res = tw_xcalloc(servers.n + 1, sizeof(*res));
	fprintf(out, "Verifying at %zu authoritative nameserver%s (up to %.0f s):\n", servers.n,
	        servers.n == 1 ? "" : "s", (double)o->verify_timeout_ms / 1000.0);
	fflush(out);
	int vr = tw_dns_verify(&servers, &expected, sets, p->nchanges, o->verify_timeout_ms,
	                       o->verify_interval_ms, isatty(fileno(out)) ? out : NULL, res);
	size_t bad = 0;
	for (size_t i = 0; i < servers.n; i++) {
		const tw_dns_server_t *s = res[i].server ? res[i].server : &servers.v[i];
		/* No IPv6 route from this host says nothing about the server: if
		 * the same nameserver was verified over another address, the
		 * IPv6 one is reported but not held against the apply. */
		bool v6_unreach = !res[i].ok && strchr(s->addr, ':') &&
		                  (strstr(res[i].detail, "network is unreachable") ||
		                   strstr(res[i].detail, "no route to host"));
		bool same_ok = false;
		for (size_t j = 0; v6_unreach && j < servers.n; j++) {
			const tw_dns_server_t *t = res[j].server ? res[j].server : &servers.v[j];
			same_ok |= j != i && res[j].ok && strcmp(t->name, s->name) == 0;
		}
		if (v6_unreach && same_ok) {
			fprintf(out, "  skipped %s (%s): no IPv6 route from this host (%s)\n",
			        s->name, s->addr, res[i].detail);
			continue;
		}
		if (res[i].ok) {
			fprintf(out, "  ok      %s (%s): serves the new data after %.1f s\n",
			        s->name, s->addr, (double)res[i].ms / 1000.0);
		} else {
			bad++;
			fprintf(out, "  LAGGING %s (%s): %s\n", s->name, s->addr, res[i].detail);
		}
	}
	if (bad)
		fprintf(out,
		        "Not verified: %zu of %zu nameservers did not serve the new data within "
		        "--verify-timeout. The provider holds the new zone (read back); the "
		        "nameservers named above have not caught up.\n",
		        bad, servers.n);
	else
		fprintf(out, "Verified: every authoritative nameserver serves the new data.\n");
	free(res);
	free(sets);
	tw_dns_zone_release(&expected);
	tw_dns_servers_release(&servers);
	TW_UNUSED(vr); /* judged per server above */
	return bad ? 1 : 0;
}

int tw_dns_apply(tw_dns_provider_t *prov, const tw_dns_zone_t *desired,
                 const tw_dns_apply_opts_t *o)
{
	FILE *out = o->out;
	tw_dns_err_t e;
	tw_dns_zone_t live = {0}, back = {0};
	tw_dns_plan_t plan = {0}, check = {0};
	tw_diags_t errs = {0};
	char before[4200] = "", after[4200] = "";
	int lock = -1, rc = 3;
	call_state_t *st = NULL;

	memset(&e, 0, sizeof(e));
	if (tw_dns_lock(o->snapshots, desired->origin, &lock, &e) < 0) {
		print_err(out, "cannot apply", &e);
		return e.exit_code ? e.exit_code : 3;
	}
	/* Re-read just before writing: the API has no version to compare. */
	if (list_live(prov, desired->origin, &live, &e) < 0) {
		print_err(out, "cannot read the live zone; nothing was written", &e);
		rc = e.exit_code;
		goto out;
	}
	if (tw_dns_plan_make(&plan, desired, &live, prov->ops, o->plan, &errs) < 0) {
		tw_diags_print(&errs, out);
		rc = 2;
		goto out;
	}
	if (o->expect_digest && strcmp(o->expect_digest, plan.live_digest) != 0) {
		fprintf(out,
		        "The live zone changed since %s was made; nothing was written. "
		        "Plan again and review the new plan.\n",
		        o->from_planfile ? "the plan file" : "the plan shown");
		rc = 1;
		goto out;
	}
	if (plan.ncalls == 0) {
		fprintf(out, "Nothing to apply: the live zone already matches.\n");
		rc = 0;
		goto out;
	}
	if (tw_dns_snapshot_write(o->snapshots, &live, prov->ops->name, "before", before,
	                          sizeof(before), &e) < 0) {
		print_err(out, "cannot snapshot the live zone; nothing was written", &e);
		rc = 3;
		goto out;
	}
	fprintf(out, "Snapshot before: %s\n", before);
	st = tw_xcalloc(plan.ncalls, sizeof(*st));
	size_t failed = plan.ncalls;
	for (size_t i = 0; i < plan.ncalls; i++) {
		memset(&e, 0, sizeof(e));
		fprintf(out, "Call %zu of %zu: %s ... ", i + 1, plan.ncalls, plan.calls[i].why);
		fflush(out);
		if (prov->ops->call(prov, &live, &plan.calls[i], &e) < 0) {
			st[i] = e.maybe_applied ? CALL_MAYBE : CALL_FAILED;
			fprintf(out, "failed\n");
			failed = i;
			break;
		}
		st[i] = CALL_DONE;
		fprintf(out, "done\n");
	}
	if (failed < plan.ncalls) {
		fprintf(out, "\nAPPLY STOPPED at call %zu of %zu.\n", failed + 1, plan.ncalls);
		print_err(out, "error", &e);
		tw_dns_err_t e2;
		bool have_back = list_live(prov, desired->origin, &back, &e2) == 0;
		fprintf(out, "What was and wasn't applied%s:\n",
		        have_back ? " (failed call judged by reading the zone back)" : "");
		report_calls(&plan, st, have_back ? &back : NULL, out);
		if (have_back) {
			tw_diags_t dup = {0};
			fprintf(out, "The zone now, read back, at the RRSets this plan touches:\n");
			report_touched(&plan, &back, out);
			if (tw_dns_find_duplicates(&back, &dup)) {
				fprintf(out,
				        "WARNING: the live zone has records that must be unique "
				        "but aren't:\n");
				tw_diags_print(&dup, out);
			}
			tw_diags_release(&dup);
			if (tw_dns_snapshot_write(o->snapshots, &back, prov->ops->name, "after",
			                          after, sizeof(after), &e2) == 0)
				fprintf(out, "Snapshot after: %s\n", after);
		} else {
			print_err(out, "and the zone could not be read back", &e2);
		}
		fprintf(out,
		        "Snapshot before: %s\n"
		        "Run the same apply again to converge (it plans from the live zone), or "
		        "restore with: tailwart dns restore --provider %s %s\n",
		        before, prov->ops->name, before);
		rc = e.exit_code ? e.exit_code : 3;
		goto out;
	}
	/* Read back and compare: the plan against what is there now must be empty. */
	if (list_live(prov, desired->origin, &back, &e) < 0) {
		print_err(out, "written, but the zone could not be read back", &e);
		fprintf(out, "Snapshot before: %s\n", before);
		rc = 3;
		goto out;
	}
	if (tw_dns_snapshot_write(o->snapshots, &back, prov->ops->name, "after", after,
	                          sizeof(after), &e) < 0)
		print_err(out, "warning: cannot write the after snapshot", &e);
	else
		fprintf(out, "Snapshot after: %s\n", after);
	tw_diags_release(&errs);
	if (tw_dns_plan_make(&check, desired, &back, prov->ops, o->plan, &errs) < 0 ||
	    check.nchanges) {
		fprintf(out,
		        "READ-BACK DIFFERS: %s accepted every call, but the zone now is not "
		        "what the file says:\n",
		        prov->ops->name);
		tw_dns_plan_print(&check, out);
		rc = 3;
		goto out;
	}
	tw_diags_t dup = {0};
	if (tw_dns_find_duplicates(&back, &dup)) {
		fprintf(out, "WARNING: records that must be unique aren't:\n");
		tw_diags_print(&dup, out);
	}
	tw_diags_release(&dup);
	fprintf(out, "Applied %zu call%s; read back: the live zone matches the file.\n",
	        plan.ncalls, plan.ncalls == 1 ? "" : "s");
	rc = o->verify ? verify(&plan, desired, o) : 0;
	if (!o->verify)
		fprintf(out, "Not verified at the nameservers (--no-verify).\n");
out:
	free(st);
	tw_diags_release(&errs);
	tw_dns_plan_release(&check);
	tw_dns_plan_release(&plan);
	if (back.origin)
		tw_dns_zone_release(&back);
	if (live.origin)
		tw_dns_zone_release(&live);
	if (lock >= 0)
		close(lock);
	return rc;
}
