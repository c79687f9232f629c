/*
 * plan.c - the diff of a desired zone against the live one, by RRSet, and
 * the provider calls that carry it out (order and reasons in plan.h).
 */
#include "dns/plan.h"

#include <ctype.h>
#include <fnmatch.h>
#include <openssl/evp.h>

/* Records are referenced, never copied: the zones outlive the plan. */
typedef struct rr_vec {
	const tw_dns_rr_t **v;
	size_t n, cap;
} rr_vec_t;

static void vec_push(rr_vec_t *a, const tw_dns_rr_t *r)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		const tw_dns_rr_t **nv = realloc(a->v, a->cap * sizeof(*nv));
		if (!nv)
			abort(); /* CLI code: out of memory ends the run */
		a->v = nv;
	}
	a->v[a->n++] = r;
}

static bool is_txt(uint16_t t)
{
	return t == LDNS_RR_TYPE_TXT || t == LDNS_RR_TYPE_SPF;
}

bool tw_dns_same_data_as(const tw_dns_provider_ops_t *ops, const tw_dns_rr_t *a,
                         const tw_dns_rr_t *b)
{
	if (a->type != b->type || strcmp(a->owner, b->owner) != 0)
		return false;
	if (is_txt(a->type) || !ops->sem.data_nocase)
		return strcmp(a->rdata, b->rdata) == 0;
	return strcasecmp(a->rdata, b->rdata) == 0;
}

bool tw_dns_ignore_match(const tw_dns_zone_t *z, const tw_dns_rr_t *r, const char *pattern)
{
	char name[300], type[32], rel[300];
	const char *colon = strrchr(pattern, ':');
	size_t nl = colon ? (size_t)(colon - pattern) : strlen(pattern);
	if (nl >= sizeof(name))
		return false;
	memcpy(name, pattern, nl);
	name[nl] = '\0';
	if (colon) {
		char tn[32];
		if (!tw_strlcpy(type, colon + 1, sizeof(type)))
			return false;
		if (strcasecmp(type, tw_dns_type_name(r->type, tn, sizeof(tn))) != 0)
			return false;
	}
	/* A pattern may be written with the origin ("x.example.com.") too. */
	size_t ol = strlen(z->origin);
	if (nl > 0 && name[nl - 1] == '.') {
		if (nl >= ol && strcasecmp(name + nl - ol, z->origin) == 0) {
			if (nl == ol)
				tw_strlcpy(name, "@", sizeof(name));
			else
				name[nl - ol - 1] = '\0';
		} else {
			return false;
		}
	}
	tw_dns_rel_name(z, r->owner, rel, sizeof(rel));
	return fnmatch(name, rel, FNM_CASEFOLD) == 0;
}

static const char *ignored_by(const tw_dns_zone_t *z, const tw_dns_rr_t *r,
                              const tw_dns_plan_opts_t *o)
{
	for (size_t i = 0; o && i < o->nignore; i++)
		if (tw_dns_ignore_match(z, r, o->ignore[i]))
			return o->ignore[i];
	if ((!o || !o->no_default_ignore) && tw_dns_ignore_match(z, r, TW_DNS_IGNORE_DEFAULT))
		return TW_DNS_IGNORE_DEFAULT;
	return NULL;
}

static bool has_prefix_nocase(const char *s, size_t len, const char *p)
{
	size_t pl = strlen(p);
	return len >= pl && strncasecmp(s, p, pl) == 0 &&
	       (len == pl || s[pl] == ' ' || s[pl] == ';');
}

bool tw_dns_rr_unique_kind(const tw_dns_zone_t *z, const tw_dns_rr_t *r)
{
	TW_UNUSED(z);
	if (r->type == LDNS_RR_TYPE_CNAME)
		return true; /* RFC 1034 3.6.2: a CNAME has no other data beside it */
	if (!is_txt(r->type) || !r->txt)
		return false;
	/* RFC 7208 4.5: two "v=spf1" records are a permerror. */
	if (has_prefix_nocase(r->txt, r->txt_len, "v=spf1"))
		return true;
	/* RFC 7489 6.6.3: more than one DMARC record and DMARC is not applied. */
	return strncasecmp(r->owner, "_dmarc.", 7) == 0 &&
	       has_prefix_nocase(r->txt, r->txt_len, "v=DMARC1");
}

static bool is_apex_ns(const tw_dns_zone_t *z, const tw_dns_rr_t *r)
{
	return r->type == LDNS_RR_TYPE_NS && strcmp(r->owner, z->origin) == 0;
}

/* One (owner, type) group while planning. */
typedef struct side {
	const tw_dns_rr_t *r;
	int live; /* 0 desired, 1 live */
} side_t;

static int side_cmp(const void *a, const void *b)
{
	const side_t *x = a, *y = b;
	int c = strcmp(x->r->owner, y->r->owner);
	if (c)
		return c;
	if (x->r->type != y->r->type)
		return x->r->type < y->r->type ? -1 : 1;
	if (x->live != y->live)
		return x->live - y->live;
	return strcmp(x->r->rdata, y->r->rdata);
}

static const tw_dns_rr_t **vec_take(rr_vec_t *a, size_t *n)
{
	*n = a->n;
	const tw_dns_rr_t **v = a->v;
	a->v = NULL;
	a->n = a->cap = 0;
	return v;
}

static void add_call(tw_dns_plan_t *p, size_t *cap, tw_dns_call_kind_t kind, rr_vec_t *recs,
                     const char *why)
{
	if (recs->n == 0)
		return;
	if (p->ncalls == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		tw_dns_call_t *nc = realloc(p->calls, *cap * sizeof(*nc));
		if (!nc)
			abort();
		p->calls = nc;
	}
	tw_dns_call_t *c = &p->calls[p->ncalls++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->rrs = vec_take(recs, &c->n);
	tw_strlcpy(c->why, why, sizeof(c->why));
}

#define WHY_DEL_UNIQUE "delete old values that must be unique at their name (SPF, DMARC, CNAME)"
#define WHY_PUT        "add new records and set changed TTLs"
#define WHY_DEL_OTHER  "delete old values now that their replacements are in place"

/* Append-by-value: three calls per batch of changes (plan.h). */
static void make_calls_append(tw_dns_plan_t *p)
{
	size_t cap = 0, max = p->ops->sem.max_batch ? p->ops->sem.max_batch : SIZE_MAX;
	rr_vec_t du = {0}, put = {0}, dother = {0};
	for (size_t i = 0; i < p->nchanges; i++) {
		const tw_dns_change_t *ch = &p->changes[i];
		size_t nu = 0;
		for (size_t j = 0; j < ch->ndel; j++)
			nu += tw_dns_rr_unique_kind(p->live, ch->del[j]);
		/* A batch boundary falls between RRSets, never inside one. */
		if (du.n + nu > max || put.n + ch->nadd > max || dother.n + ch->ndel - nu > max) {
			add_call(p, &cap, TW_DNS_CALL_DELETE, &du, WHY_DEL_UNIQUE);
			add_call(p, &cap, TW_DNS_CALL_PUT, &put, WHY_PUT);
			add_call(p, &cap, TW_DNS_CALL_DELETE, &dother, WHY_DEL_OTHER);
		}
		for (size_t j = 0; j < ch->ndel; j++)
			vec_push(tw_dns_rr_unique_kind(p->live, ch->del[j]) ? &du : &dother,
			         ch->del[j]);
		for (size_t j = 0; j < ch->nadd; j++)
			vec_push(&put, ch->add[j]);
	}
	add_call(p, &cap, TW_DNS_CALL_DELETE, &du, WHY_DEL_UNIQUE);
	add_call(p, &cap, TW_DNS_CALL_PUT, &put, WHY_PUT);
	add_call(p, &cap, TW_DNS_CALL_DELETE, &dother, WHY_DEL_OTHER);
}

/* One atomic UPDATE: each touched set's live records are its prerequisite. */
static void make_calls_update(tw_dns_plan_t *p)
{
	if (p->nchanges == 0)
		return;
	rr_vec_t pre = {0}, dels = {0}, adds = {0};
	tw_dns_rrset_key_t *absent = tw_xcalloc(p->nchanges, sizeof(*absent));
	size_t nabsent = 0;
	for (size_t i = 0; i < p->nchanges; i++) {
		const tw_dns_change_t *ch = &p->changes[i];
		if (ch->nold == 0) {
			absent[nabsent].owner = ch->owner;
			absent[nabsent++].type = ch->type;
		}
		for (size_t j = 0; j < ch->nold; j++)
			vec_push(&pre, ch->old[j]);
		for (size_t j = 0; j < ch->ndel; j++)
			vec_push(&dels, ch->del[j]);
		for (size_t j = 0; j < ch->nadd; j++)
			vec_push(&adds, ch->add[j]);
	}
	p->calls = tw_xcalloc(1, sizeof(*p->calls));
	p->ncalls = 1;
	tw_dns_call_t *c = &p->calls[0];
	c->kind = TW_DNS_CALL_UPDATE;
	c->rrs = vec_take(&adds, &c->n);
	c->dels = vec_take(&dels, &c->ndels);
	c->pre = vec_take(&pre, &c->npre);
	c->absent = absent;
	c->nabsent = nabsent;
	tw_strlcpy(c->why, "one atomic update; fails whole if a touched RRSet changed meanwhile",
	           sizeof(c->why));
}

static bool desired_usable(const tw_dns_plan_t *p, const tw_dns_rr_t *r,
                           const tw_dns_plan_opts_t *o, tw_diags_t *errs)
{
	char f[300], tn[32], why[256];
	const tw_dns_sem_t *sem = &p->ops->sem;
	const char *file = r->file ? r->file : "";
	snprintf(f, sizeof(f), "%s %s", r->owner, tw_dns_type_name(r->type, tn, sizeof(tn)));
	if (r->flags & TW_DNS_RR_UNMANAGED)
		return false;
	if (r->type == LDNS_RR_TYPE_SOA) {
		tw_diag_add((tw_diags_t *)&p->notes, file, r->line, f,
		            "not managed: the %s side keeps the SOA", p->ops->name);
		return false;
	}
	if (is_apex_ns(p->desired, r)) {
		tw_diag_add(
		        (tw_diags_t *)&p->notes, file, r->line, f,
		        "not managed: the apex NS set is the delegation, changed at the registrar");
		return false;
	}
	const char *ig = ignored_by(p->desired, r, o);
	if (ig) {
		tw_diag_add((tw_diags_t *)&p->notes, file, r->line, f,
		            "not managed: matches ignore pattern %s", ig);
		return false;
	}
	if (sem->can_write && !sem->can_write(r, p->desired->origin, why, sizeof(why))) {
		tw_diag_add(errs, file, r->line, f, "%s can't write this record: %s", p->ops->name,
		            why);
		return false;
	}
	if ((sem->ttl_min && r->ttl < sem->ttl_min) || (sem->ttl_max && r->ttl > sem->ttl_max)) {
		tw_diag_add(errs, file, r->line, f,
		            "TTL %" PRIu32 " is outside %s's range %" PRIu32 "..%" PRIu32
		            ": set a TTL in that range",
		            r->ttl, p->ops->name, sem->ttl_min, sem->ttl_max);
		return false;
	}
	return true;
}

int tw_dns_plan_make(tw_dns_plan_t *p, const tw_dns_zone_t *desired, const tw_dns_zone_t *live,
                     const tw_dns_provider_ops_t *ops, const tw_dns_plan_opts_t *o,
                     tw_diags_t *errs)
{
	memset(p, 0, sizeof(*p));
	p->desired = desired;
	p->live = live;
	p->ops = ops;
	size_t nerr0 = errs->n;
	if (strcmp(desired->origin, live->origin) != 0)
		return tw_diag_add(errs, "", 0, "", "the file is for %s but the live zone is %s",
		                   desired->origin, live->origin);
	tw_dns_zone_digest(live, o, p->live_digest);

	side_t *all = tw_xcalloc(desired->n + live->n + 1, sizeof(*all));
	size_t n = 0;
	for (size_t i = 0; i < desired->n; i++)
		if (desired_usable(p, &desired->v[i], o, errs))
			all[n++] = (side_t){&desired->v[i], 0};
	for (size_t i = 0; i < live->n; i++) {
		const tw_dns_rr_t *r = &live->v[i];
		if (r->flags & TW_DNS_RR_UNMANAGED)
			p->n_unmanaged++;
		else if (ignored_by(live, r, o))
			p->n_ignored++;
		else
			all[n++] = (side_t){r, 1};
	}
	qsort(all, n, sizeof(*all), side_cmp);

	size_t cap = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && tw_dns_rr_same_set(all[i].r, all[j].r))
			j++;
		rr_vec_t want = {0}, old = {0}, del = {0}, add = {0};
		size_t nttl = 0;
		for (size_t k = i; k < j; k++)
			vec_push(all[k].live ? &old : &want, all[k].r);
		/* Two desired records the provider would merge into one. */
		for (size_t a = 0; a < want.n; a++)
			for (size_t b = a + 1; b < want.n; b++)
				if (tw_dns_same_data_as(ops, want.v[a], want.v[b])) {
					/* Reported at the later line, naming the earlier. */
					const tw_dns_rr_t *x = want.v[a], *y = want.v[b];
					if (x->line > y->line) {
						x = want.v[b];
						y = want.v[a];
					}
					char f[300], tn[32];
					snprintf(f, sizeof(f), "%s %s", y->owner,
					         tw_dns_type_name(y->type, tn, sizeof(tn)));
					tw_diag_add(errs, y->file ? y->file : "", y->line, f,
					            "%s matches data case-insensitively, so this "
					            "is the "
					            "same record as line %d",
					            ops->name, x->line);
				}
		if (want.n == 0 && !(o && o->purge)) {
			p->n_left_alone += old.n;
		} else {
			for (size_t a = 0; a < old.n; a++) {
				bool keep = false;
				for (size_t b = 0; b < want.n && !keep; b++)
					keep = tw_dns_same_data_as(ops, old.v[a], want.v[b]) &&
					       (ops->sem.append_by_value ||
					        old.v[a]->ttl == want.v[b]->ttl);
				if (!keep)
					vec_push(&del, old.v[a]);
			}
			for (size_t b = 0; b < want.n; b++) {
				const tw_dns_rr_t *match = NULL;
				for (size_t a = 0; a < old.n && !match; a++)
					if (tw_dns_same_data_as(ops, old.v[a], want.v[b]))
						match = old.v[a];
				if (!match) {
					vec_push(&add, want.v[b]);
				} else if (match->ttl != want.v[b]->ttl) {
					/* Append-by-value: a PUT of the same data sets the TTL.
					 * Otherwise the old record was deleted above. */
					vec_push(&add, want.v[b]);
					nttl++;
				}
			}
		}
		if (del.n || add.n) {
			if (p->nchanges == cap) {
				cap = cap ? cap * 2 : 16;
				tw_dns_change_t *nc = realloc(p->changes, cap * sizeof(*nc));
				if (!nc)
					abort();
				p->changes = nc;
			}
			tw_dns_change_t *ch = &p->changes[p->nchanges++];
			memset(ch, 0, sizeof(*ch));
			ch->owner = all[i].r->owner;
			ch->type = all[i].r->type;
			ch->op = old.n == 0    ? TW_DNS_ADD
			         : want.n == 0 ? TW_DNS_DELETE
			                       : TW_DNS_CHANGE;
			ch->nttl = nttl;
			ch->old = vec_take(&old, &ch->nold);
			ch->want = vec_take(&want, &ch->nwant);
			ch->del = vec_take(&del, &ch->ndel);
			ch->add = vec_take(&add, &ch->nadd);
		}
		free(old.v);
		free(want.v);
		free(del.v);
		free(add.v);
		i = j;
	}
	free(all);
	if (errs->n > nerr0) {
		/* Nothing half-made is handed back: the caller gets an empty plan. */
		tw_dns_plan_release(p);
		return TW_EINVAL;
	}
	if (ops->sem.one_update)
		make_calls_update(p);
	else
		make_calls_append(p);
	return 0;
}

void tw_dns_plan_release(tw_dns_plan_t *p)
{
	for (size_t i = 0; i < p->nchanges; i++) {
		free(p->changes[i].old);
		free(p->changes[i].want);
		free(p->changes[i].del);
		free(p->changes[i].add);
	}
	free(p->changes);
	for (size_t i = 0; i < p->ncalls; i++) {
		free(p->calls[i].rrs);
		free(p->calls[i].dels);
		free(p->calls[i].pre);
		free(p->calls[i].absent);
	}
	free(p->calls);
	tw_diags_release(&p->notes);
	memset(p, 0, sizeof(*p));
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void tw_dns_zone_digest(const tw_dns_zone_t *z, const tw_dns_plan_opts_t *o, char out[65])
{
	char **lines = tw_xcalloc(z->n + 1, sizeof(*lines));
	size_t n = 0;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if ((r->flags & TW_DNS_RR_UNMANAGED) || ignored_by(z, r, o))
			continue;
		size_t len = strlen(r->owner) + strlen(r->rdata) + 32;
		lines[n] = tw_xmalloc(len);
		snprintf(lines[n++], len, "%s %u %" PRIu32 " %s", r->owner, r->type, r->ttl,
		         r->rdata);
	}
	qsort(lines, n, sizeof(*lines), str_cmp);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		abort();
	for (size_t i = 0; i < n; i++) {
		EVP_DigestUpdate(md, lines[i], strlen(lines[i]) + 1);
		free(lines[i]);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	free(lines);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* "www 300 TXT "v=spf1 -all"" with the owner relative to the origin. */
static const char *rr_short(const tw_dns_zone_t *z, const tw_dns_rr_t *r, char *buf, size_t size)
{
	char rel[300], tn[32];
	tw_dns_rel_name(z, r->owner, rel, sizeof(rel));
	snprintf(buf, size, "%s %" PRIu32 " %s %s", rel, r->ttl,
	         tw_dns_type_name(r->type, tn, sizeof(tn)), r->rdata);
	if (strlen(buf) >= size - 1 && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

static const char *op_name(tw_dns_op_t op)
{
	return op == TW_DNS_ADD ? "add" : op == TW_DNS_DELETE ? "delete" : "change";
}

static const char *call_name(tw_dns_call_kind_t k)
{
	return k == TW_DNS_CALL_DELETE ? "DELETE" : k == TW_DNS_CALL_PUT ? "PUT" : "UPDATE";
}

void tw_dns_call_print(const tw_dns_plan_t *p, const tw_dns_call_t *c, FILE *out,
                       const char *indent)
{
	char b[1200];
	for (size_t i = 0; i < c->npre; i++)
		fprintf(out, "%srequire %s\n", indent, rr_short(p->live, c->pre[i], b, sizeof(b)));
	for (size_t i = 0; i < c->nabsent; i++) {
		char rel[300], tn[32];
		tw_dns_rel_name(p->live, c->absent[i].owner, rel, sizeof(rel));
		fprintf(out, "%srequire no %s %s\n", indent, rel,
		        tw_dns_type_name(c->absent[i].type, tn, sizeof(tn)));
	}
	for (size_t i = 0; i < c->ndels; i++)
		fprintf(out, "%s- %s\n", indent, rr_short(p->live, c->dels[i], b, sizeof(b)));
	for (size_t i = 0; i < c->n; i++)
		fprintf(out, "%s%s %s\n", indent, c->kind == TW_DNS_CALL_DELETE ? "-" : "+",
		        rr_short(p->live, c->rrs[i], b, sizeof(b)));
}

void tw_dns_plan_print(const tw_dns_plan_t *p, FILE *out)
{
	size_t nadd = 0, nchg = 0, ndel = 0;
	char b[1200], rel[300], tn[32];
	for (size_t i = 0; i < p->nchanges; i++) {
		tw_dns_op_t op = p->changes[i].op;
		nadd += op == TW_DNS_ADD;
		nchg += op == TW_DNS_CHANGE;
		ndel += op == TW_DNS_DELETE;
	}
	fprintf(out,
	        "%s at %s: %zu RRSet%s to add, %zu to change, %zu to delete "
	        "(left alone: %zu not in the file, %zu ignored, %zu owned by the provider)\n",
	        p->live->origin, p->ops->name, nadd, nadd == 1 ? "" : "s", nchg, ndel,
	        p->n_left_alone, p->n_ignored, p->n_unmanaged);
	for (size_t i = 0; i < p->notes.n; i++) {
		tw_diag_format(&p->notes.v[i], b, sizeof(b));
		fprintf(out, "  note: %s\n", b);
	}
	for (size_t i = 0; i < p->nchanges; i++) {
		const tw_dns_change_t *ch = &p->changes[i];
		fprintf(out, "\n%c %s %s (%s%s)\n",
		        ch->op == TW_DNS_ADD      ? '+'
		        : ch->op == TW_DNS_DELETE ? '-'
		                                  : '~',
		        tw_dns_rel_name(p->live, ch->owner, rel, sizeof(rel)),
		        tw_dns_type_name(ch->type, tn, sizeof(tn)), op_name(ch->op),
		        ch->nttl && ch->nttl == ch->nadd && ch->ndel == 0 ? ", TTL only" : "");
		for (size_t j = 0; j < ch->ndel; j++)
			fprintf(out, "    - %s\n", rr_short(p->live, ch->del[j], b, sizeof(b)));
		for (size_t j = 0; j < ch->nadd; j++)
			fprintf(out, "    + %s\n", rr_short(p->live, ch->add[j], b, sizeof(b)));
	}
	if (p->ncalls == 0) {
		fprintf(out, "\nNo changes: the live zone matches the file.\n");
		return;
	}
	fprintf(out, "\n%s calls, in order:\n", p->ops->name);
	for (size_t i = 0; i < p->ncalls; i++) {
		const tw_dns_call_t *c = &p->calls[i];
		fprintf(out, "  %zu. %s %zu record%s: %s\n", i + 1, call_name(c->kind),
		        c->n + c->ndels, c->n + c->ndels == 1 ? "" : "s", c->why);
		tw_dns_call_print(p, c, out, "       ");
	}
}

static json_t *rr_json_line(const tw_dns_rr_t *r)
{
	/* ldns's own text keeps TXT split into <= 255-byte strings, so the
	 * line parses back; the canonical rdata may not. */
	char *s = r->rr ? ldns_rr2str(r->rr) : NULL;
	if (!s)
		return json_string(r->rdata);
	size_t l = strlen(s);
	while (l && (s[l - 1] == '\n' || s[l - 1] == ' ' || s[l - 1] == '\t'))
		s[--l] = '\0';
	json_t *j = json_stringn(s, l);
	free(s);
	return j ? j : json_string("");
}

static json_t *rr_list_json(const tw_dns_rr_t **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, rr_json_line(v[i]));
	return a;
}

json_t *tw_dns_plan_json(const tw_dns_plan_t *p, const tw_dns_plan_opts_t *o)
{
	char tn[32];
	json_t *j = json_object(), *ign = json_array(), *des = json_array(), *chs = json_array(),
	       *calls = json_array();
	json_object_set_new(j, "version", json_integer(1));
	json_object_set_new(j, "origin", json_string(p->live->origin));
	json_object_set_new(j, "provider", json_string(p->ops->name));
	json_object_set_new(j, "purge", json_boolean(o && o->purge));
	for (size_t i = 0; o && i < o->nignore; i++)
		json_array_append_new(ign, json_string(o->ignore[i]));
	json_object_set_new(j, "ignore", ign);
	json_object_set_new(j, "live_digest", json_string(p->live_digest));
	for (size_t i = 0; i < p->desired->n; i++)
		if (!(p->desired->v[i].flags & TW_DNS_RR_UNMANAGED))
			json_array_append_new(des, rr_json_line(&p->desired->v[i]));
	json_object_set_new(j, "desired", des);
	for (size_t i = 0; i < p->nchanges; i++) {
		const tw_dns_change_t *ch = &p->changes[i];
		json_t *c = json_object();
		json_object_set_new(c, "op", json_string(op_name(ch->op)));
		json_object_set_new(c, "owner", json_string(ch->owner));
		json_object_set_new(c, "type",
		                    json_string(tw_dns_type_name(ch->type, tn, sizeof(tn))));
		json_object_set_new(c, "delete", rr_list_json(ch->del, ch->ndel));
		json_object_set_new(c, "add", rr_list_json(ch->add, ch->nadd));
		json_object_set_new(c, "ttl_only", json_integer((json_int_t)ch->nttl));
		json_array_append_new(chs, c);
	}
	json_object_set_new(j, "changes", chs);
	for (size_t i = 0; i < p->ncalls; i++) {
		const tw_dns_call_t *c = &p->calls[i];
		json_t *cj = json_object();
		json_object_set_new(cj, "kind", json_string(call_name(c->kind)));
		json_object_set_new(cj, "why", json_string(c->why));
		json_object_set_new(cj, "records", rr_list_json(c->rrs, c->n));
		if (c->kind == TW_DNS_CALL_UPDATE) {
			json_object_set_new(cj, "delete", rr_list_json(c->dels, c->ndels));
			json_object_set_new(cj, "prerequisites", rr_list_json(c->pre, c->npre));
		}
		json_array_append_new(calls, cj);
	}
	json_object_set_new(j, "calls", calls);
	json_t *left = json_object();
	json_object_set_new(left, "not_in_file", json_integer((json_int_t)p->n_left_alone));
	json_object_set_new(left, "ignored", json_integer((json_int_t)p->n_ignored));
	json_object_set_new(left, "provider_owned", json_integer((json_int_t)p->n_unmanaged));
	json_object_set_new(j, "left_alone", left);
	return j;
}

void tw_dns_planfile_release(tw_dns_planfile_t *pf)
{
	for (size_t i = 0; i < pf->nignore; i++)
		free(pf->ignore[i]);
	free(pf->ignore);
	memset(pf, 0, sizeof(*pf));
}

int tw_dns_planfile_parse(const char *name, const char *buf, size_t len, tw_dns_zone_t *z,
                          tw_dns_planfile_t *pf, tw_diags_t *d)
{
	json_error_t je;
	memset(pf, 0, sizeof(*pf));
	memset(z, 0, sizeof(*z));
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return tw_diag_add(d, name, je.line > 0 ? je.line : 0, "",
		                   "not a plan file: invalid JSON: %s", je.text);
	int rc = TW_EINVAL;
	const char *origin = json_string_value(json_object_get(j, "origin"));
	const char *prov = json_string_value(json_object_get(j, "provider"));
	const char *dig = json_string_value(json_object_get(j, "live_digest"));
	json_t *ver = json_object_get(j, "version"), *purge = json_object_get(j, "purge"),
	       *ign = json_object_get(j, "ignore"), *des = json_object_get(j, "desired");
	if (!json_is_object(j)) {
		tw_diag_add(d, name, 0, "", "not a plan file: expected a JSON object");
		goto out;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		tw_diag_add(d, name, 0, "version", "expected 1 (a plan from this tailwart)");
		goto out;
	}
	if (!origin || !prov || strlen(prov) >= sizeof(pf->provider)) {
		tw_diag_add(d, name, 0, !origin ? "origin" : "provider", "missing or not a string");
		goto out;
	}
	if (!dig || strlen(dig) != 64 || strspn(dig, "0123456789abcdef") != 64) {
		tw_diag_add(d, name, 0, "live_digest", "expected 64 lower-case hex digits");
		goto out;
	}
	if (!json_is_boolean(purge) || !json_is_array(ign) || !json_is_array(des)) {
		tw_diag_add(d, name, 0,
		            !json_is_boolean(purge) ? "purge"
		            : !json_is_array(ign)   ? "ignore"
		                                    : "desired",
		            "missing or of the wrong type");
		goto out;
	}
	if (tw_dns_zone_init(z, origin) < 0) {
		tw_diag_add(d, name, 0, "origin", "not a domain name");
		goto out;
	}
	tw_strlcpy(pf->provider, prov, sizeof(pf->provider));
	tw_strlcpy(pf->live_digest, dig, sizeof(pf->live_digest));
	pf->purge = json_is_true(purge);
	pf->ignore = tw_xcalloc(json_array_size(ign) + 1, sizeof(char *));
	for (size_t i = 0; i < json_array_size(ign); i++) {
		const char *s = json_string_value(json_array_get(ign, i));
		if (!s) {
			tw_diag_add(d, name, 0, "ignore", "item %zu is not a string", i);
			goto out;
		}
		pf->ignore[pf->nignore++] = tw_xstrdup(s);
	}
	size_t before = d->n;
	for (size_t i = 0; i < json_array_size(des); i++) {
		const char *s = json_string_value(json_array_get(des, i));
		char f[48];
		snprintf(f, sizeof(f), "desired[%zu]", i);
		if (!s)
			tw_diag_add(d, name, 0, f, "expected a record as a string");
		else
			tw_dns_zone_add_text(z, s, name, 0, 0, d);
	}
	rc = d->n > before ? TW_EINVAL : 0;
out:
	json_decref(j);
	if (rc < 0) {
		tw_dns_planfile_release(pf);
		if (z->origin)
			tw_dns_zone_release(z);
		memset(z, 0, sizeof(*z));
	}
	return rc;
}
