/*
 * lint.c - `tailwart dns lint`: the checks of a zone's records.
 *
 * Rules (errors unless said):
 *   - more than one v=spf1 TXT at a name (RFC 7208 4.5: permerror; field
 *     lesson 14: a provider PUT that appends instead of replacing);
 *   - SPF syntax (mail/spf.h; RFC 7208 4.6, 5, 6, 7.1); its warnings;
 *     SPF strings joined with no space; an SPF-type (99) record (warning,
 *     RFC 7208 3.1); a record over 450 bytes (warning, RFC 7208 3.4);
 *   - SPF over 10 DNS-querying terms (RFC 7208 4.6.4), following include
 *     and redirect into the zone itself and, unless offline, outside it
 *     through DNS; an include whose target has no SPF record (5.2) or an
 *     include loop; more than 2 void lookups (warning, 4.6.4);
 *   - a TXT character-string over 255 bytes (RFC 1035 3.3.14). ldns 1.8.3
 *     refuses such a string when parsing a zone file line
 *     (ldns_rr_new_frm_str: "Syntax error, could not parse the RR's
 *     rdata"), so the zone loader reports it; this check only fires for
 *     records built from rdfs, e.g. a provider pull;
 *   - a CNAME beside other data, or two CNAMEs (RFC 1034 3.6.2, RFC 2181
 *     10.1);
 *   - MX: exchange is a CNAME in the zone (RFC 2181 10.3), an IP address
 *     literal (RFC 5321 5.1), a name in the zone without A/AAAA (RFC 5321
 *     5.1), null MX "0 ." beside other MX (RFC 7505 3.3);
 *   - with an edge config: an in-zone MX exchange with AAAA while no SMTP
 *     listener binds IPv6 (warning; field lesson 13);
 *   - DMARC at _dmarc.<name> (mail/dmarc.h; RFC 7489), two records, p=
 *     missing (error at the apex, warning below it);
 *   - DKIM keys at <selector>._domainkey.<name> (mail/dkim_rec.h; RFC 6376
 *     3.6.1, RFC 8463, RFC 8301), more than one record;
 *   - CAA issue/issuewild for the CA of caa_accounturi without
 *     accounturi=<it> (warning, RFC 8657 3); CAA naming other CAs only is
 *     left alone.
 */
#include "util/tw.h"

#include "dns/lint.h"
#include "edge/config.h"
#include "mail/dkim_rec.h"
#include "mail/dmarc.h"
#include "mail/spf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#define SPF_LIMIT      10 /* RFC 7208 4.6.4 */
#define SPF_VOID_LIMIT 2  /* RFC 7208 4.6.4 */
#define SPF_MAX_DEPTH  12
#define SPF_MAX_TOTAL  200 /* stop walking a runaway include tree */

typedef struct lint {
	const tw_dns_zone_t *z;
	const tw_dns_lint_opts_t *o;
	tw_diags_t *errors, *warnings;
	const char *accounturi;
	/* DNS, for SPF includes outside the zone */
	ldns_resolver *res;
	bool res_tried;
	char res_err[160];
	struct dns_cache {
		char *name;
		uint16_t type;
		int status; /* 0 answer, 1 NXDOMAIN, 2 no data, -1 failure */
		char **txt;
		size_t *len;
		size_t n;
	} * cache;
	size_t ncache;
	bool nomem;
} lint_t;

/* ---- helpers -------------------------------------------------------- */

static void finding(lint_t *L, tw_diags_t *d, const tw_dns_rr_t *r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void finding(lint_t *L, tw_diags_t *d, const tw_dns_rr_t *r, const char *fmt, ...)
{
	char field[128], tn[24], msg[384];
	va_list ap;
	(void)L;
	tw_dns_type_name(r->type, tn, sizeof(tn));
	snprintf(field, sizeof(field), "%.100s %s", r->owner, tn);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tw_diag_add(d, r->file, r->line, field, "%s", msg);
}

static bool is_spf_txt(const tw_dns_rr_t *r)
{
	return r->type == LDNS_RR_TYPE_TXT && r->txt && tw_spf_is_spf(r->txt, r->txt_len);
}

/* name at or below the origin? (both canonical: lower case, trailing dot) */
static bool in_zone(const tw_dns_zone_t *z, const char *name)
{
	size_t n = strlen(name), o = strlen(z->origin);
	if (n < o || strcmp(name + n - o, z->origin) != 0)
		return false;
	return n == o || name[n - o - 1] == '.';
}

/* Canonical form of a domain text: lower case, trailing dot. */
static void canon(const char *s, char *buf, size_t size)
{
	size_t i = 0;
	for (; s[i] && i + 2 < size; i++)
		buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	if (i == 0 || buf[i - 1] != '.')
		buf[i++] = '.';
	buf[i] = '\0';
}

static bool name_has_type(const tw_dns_zone_t *z, const char *owner, uint16_t type)
{
	for (size_t i = 0; i < z->n; i++)
		if (z->v[i].type == type && strcmp(z->v[i].owner, owner) == 0)
			return true;
	return false;
}

static bool name_has_any(const tw_dns_zone_t *z, const char *owner)
{
	for (size_t i = 0; i < z->n; i++)
		if (strcmp(z->v[i].owner, owner) == 0)
			return true;
	return false;
}

/* Is owner at or below a delegation (NS not at the apex) or covered by a wildcard? */
static bool delegated_or_wild(const tw_dns_zone_t *z, const char *owner)
{
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->owner[0] == '*' && r->owner[1] == '.')
			return true;
		if (r->type != LDNS_RR_TYPE_NS || strcmp(r->owner, z->origin) == 0)
			continue;
		size_t n = strlen(owner), m = strlen(r->owner);
		if (n >= m && strcmp(owner + n - m, r->owner) == 0 &&
		    (n == m || owner[n - m - 1] == '.'))
			return true;
	}
	return false;
}

/* The target name of an MX's canonical rdata ("10 mx.example.com."), and its preference. */
static const char *mx_exchange(const tw_dns_rr_t *r, long *pref)
{
	char *end;
	*pref = strtol(r->rdata, &end, 10);
	while (*end == ' ')
		end++;
	return end;
}

/* MX exchange written as an address: "192.0.2.1" becomes 192.0.2.1.<origin>.
 * The address goes to buf. */
static bool exchange_is_ip(const tw_dns_zone_t *z, const char *ex, char *buf, size_t size)
{
	uint8_t a[16];
	size_t n = strlen(ex), o = strlen(z->origin);
	if (n > 1 && n < size) {
		memcpy(buf, ex, n - 1);
		buf[n - 1] = '\0';
		if (inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1)
			return true;
	}
	if (n > o + 1 && in_zone(z, ex) && n - o - 1 < size) {
		memcpy(buf, ex, n - o - 1);
		buf[n - o - 1] = '\0';
		if (inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1)
			return true;
	}
	return false;
}

/* ---- DNS (for SPF includes outside the zone) ------------------------- */

static ldns_resolver *resolver(lint_t *L)
{
	if (L->res_tried)
		return L->res;
	L->res_tried = true;
	const char *spec = L->o ? L->o->resolver : NULL;
	ldns_resolver *res = NULL;
	if (!spec) {
		if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK) {
			snprintf(L->res_err, sizeof(L->res_err), "cannot read /etc/resolv.conf");
			return NULL;
		}
	} else {
		char host[128];
		unsigned port = 53;
		const char *colon = strrchr(spec, ':');
		if (spec[0] == '[') {
			const char *rb = strchr(spec, ']');
			if (!rb || (size_t)(rb - spec - 1) >= sizeof(host))
				goto bad;
			memcpy(host, spec + 1, (size_t)(rb - spec - 1));
			host[rb - spec - 1] = '\0';
			if (rb[1] == ':')
				port = (unsigned)strtoul(rb + 2, NULL, 10);
			else if (rb[1])
				goto bad;
		} else if (colon && strchr(spec, ':') == colon) {
			if ((size_t)(colon - spec) >= sizeof(host))
				goto bad;
			memcpy(host, spec, (size_t)(colon - spec));
			host[colon - spec] = '\0';
			port = (unsigned)strtoul(colon + 1, NULL, 10);
		} else if (!tw_strlcpy(host, spec, sizeof(host))) {
			goto bad;
		}
		if (port == 0 || port > 65535)
			goto bad;
		uint8_t a[16];
		ldns_rdf *ns = NULL;
		if (inet_pton(AF_INET, host, a) == 1)
			ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, a);
		else if (inet_pton(AF_INET6, host, a) == 1)
			ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, a);
		if (!ns)
			goto bad;
		res = ldns_resolver_new();
		if (!res || ldns_resolver_push_nameserver(res, ns) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(ns);
			if (res)
				ldns_resolver_deep_free(res);
			snprintf(L->res_err, sizeof(L->res_err), "out of memory");
			return NULL;
		}
		ldns_rdf_deep_free(ns);
		ldns_resolver_set_port(res, (uint16_t)port);
	}
	ldns_resolver_set_recursive(res, true);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_retrans(res, 1);
	ldns_resolver_set_timeout(res, (struct timeval){.tv_sec = 2, .tv_usec = 0});
	ldns_resolver_set_dnssec(res, false);
	L->res = res;
	return res;
bad:
	snprintf(L->res_err, sizeof(L->res_err), "resolver must be ADDR[:PORT] or [ADDR6]:PORT");
	return NULL;
}

/* Looks up name/type once; the answer is cached. NULL when out of memory. */
static struct dns_cache *dns_get(lint_t *L, const char *name, uint16_t type)
{
	for (size_t i = 0; i < L->ncache; i++)
		if (L->cache[i].type == type && strcmp(L->cache[i].name, name) == 0)
			return &L->cache[i];
	struct dns_cache *nc = realloc(L->cache, (L->ncache + 1) * sizeof(*nc));
	if (!nc) {
		L->nomem = true;
		return NULL;
	}
	L->cache = nc;
	struct dns_cache *c = &L->cache[L->ncache];
	memset(c, 0, sizeof(*c));
	c->name = strdup(name);
	if (!c->name) {
		L->nomem = true;
		return NULL;
	}
	L->ncache++;
	c->type = type;
	c->status = -1;
	ldns_resolver *res = resolver(L);
	if (!res)
		return c;
	ldns_rdf *qn = ldns_dname_new_frm_str(name);
	if (!qn)
		return c;
	ldns_pkt *pkt = NULL;
	ldns_status st = ldns_resolver_query_status(&pkt, res, qn, type, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_rdf_deep_free(qn);
	if (st != LDNS_STATUS_OK || !pkt) {
		if (pkt)
			ldns_pkt_free(pkt);
		return c;
	}
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(pkt);
	if (rc == LDNS_RCODE_NXDOMAIN) {
		c->status = 1;
	} else if (rc == LDNS_RCODE_NOERROR) {
		ldns_rr_list *ans = ldns_pkt_rr_list_by_type(pkt, type, LDNS_SECTION_ANSWER);
		size_t n = ans ? ldns_rr_list_rr_count(ans) : 0;
		c->status = n ? 0 : 2;
		if (n && type == LDNS_RR_TYPE_TXT) {
			c->txt = calloc(n, sizeof(*c->txt));
			c->len = calloc(n, sizeof(*c->len));
			if (!c->txt || !c->len)
				L->nomem = true;
			for (size_t i = 0; c->txt && c->len && i < n; i++) {
				const ldns_rr *rr = ldns_rr_list_rr(ans, i);
				size_t tot = 0;
				for (size_t k = 0; k < ldns_rr_rd_count(rr); k++)
					tot += ldns_rdf_size(ldns_rr_rdf(rr, k));
				char *v = malloc(tot + 1);
				if (!v) {
					L->nomem = true;
					break;
				}
				size_t o = 0;
				for (size_t k = 0; k < ldns_rr_rd_count(rr); k++) {
					const ldns_rdf *f = ldns_rr_rdf(rr, k);
					const uint8_t *d = ldns_rdf_data(f);
					size_t sz = ldns_rdf_size(f);
					if (sz == 0)
						continue;
					size_t sl = d[0] < sz - 1 ? d[0] : sz - 1;
					memcpy(v + o, d + 1, sl);
					o += sl;
				}
				v[o] = '\0';
				c->txt[c->n] = v;
				c->len[c->n++] = o;
			}
		}
		if (ans)
			ldns_rr_list_deep_free(ans);
	}
	ldns_pkt_free(pkt);
	return c;
}

/* ---- SPF lookup counting --------------------------------------------- */

enum { SPF_FOUND = 0, SPF_NONE, SPF_NXDOMAIN, SPF_MANY, SPF_UNKNOWN, SPF_DNSFAIL };

typedef struct spf_walk {
	int lookups, voids;
	bool offline_skipped;
	char skipped[200]; /* first include not followed, for the message */
	char path[SPF_MAX_DEPTH][256];
	int depth;
	bool reported_loop;
} spf_walk_t;

/* The SPF record of name: from the zone when inside it, else from DNS. txt is
 * borrowed. */
static int spf_fetch(lint_t *L, const char *name, const char **txt, size_t *len)
{
	if (in_zone(L->z, name)) {
		int found = 0;
		for (size_t i = 0; i < L->z->n; i++) {
			const tw_dns_rr_t *r = &L->z->v[i];
			if (strcmp(r->owner, name) == 0 && is_spf_txt(r)) {
				*txt = r->txt;
				*len = r->txt_len;
				found++;
			}
		}
		if (found > 1)
			return SPF_MANY;
		if (found == 1)
			return SPF_FOUND;
		return name_has_any(L->z, name) ? SPF_NONE : SPF_NXDOMAIN;
	}
	if (L->o && L->o->offline)
		return SPF_UNKNOWN;
	struct dns_cache *c = dns_get(L, name, LDNS_RR_TYPE_TXT);
	if (!c || c->status < 0)
		return SPF_DNSFAIL;
	if (c->status == 1)
		return SPF_NXDOMAIN;
	int found = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (tw_spf_is_spf(c->txt[i], c->len[i])) {
			*txt = c->txt[i];
			*len = c->len[i];
			found++;
		}
	}
	return found > 1 ? SPF_MANY : found ? SPF_FOUND : SPF_NONE;
}

/* Does a name from an a:/mx: term resolve (void lookup check)? */
static void spf_void_check(lint_t *L, const tw_spf_term_t *t, spf_walk_t *w)
{
	char name[300];
	if (!t->domain || t->has_macro)
		return;
	canon(t->domain, name, sizeof(name));
	if (in_zone(L->z, name)) {
		bool any = t->kind == TW_SPF_MX
		                   ? name_has_type(L->z, name, LDNS_RR_TYPE_MX)
		                   : name_has_type(L->z, name, LDNS_RR_TYPE_A) ||
		                             name_has_type(L->z, name, LDNS_RR_TYPE_AAAA);
		if (!any && !delegated_or_wild(L->z, name))
			w->voids++;
		return;
	}
	if (L->o && L->o->offline)
		return;
	if (t->kind == TW_SPF_MX) {
		struct dns_cache *c = dns_get(L, name, LDNS_RR_TYPE_MX);
		if (c && (c->status == 1 || c->status == 2))
			w->voids++;
	} else {
		struct dns_cache *a = dns_get(L, name, LDNS_RR_TYPE_A);
		if (a && a->status == 1) {
			w->voids++;
		} else if (a && a->status == 2) {
			struct dns_cache *b = dns_get(L, name, LDNS_RR_TYPE_AAAA);
			if (b && (b->status == 1 || b->status == 2))
				w->voids++;
		}
	}
}

/*
 * Counts the DNS-querying terms of the record txt and, recursively, of the
 * records its includes and redirect lead to. Problems of records outside
 * the zone are reported against r (the zone record being checked).
 */
static void spf_walk(lint_t *L, const tw_dns_rr_t *r, const char *txt, size_t len, spf_walk_t *w)
{
	tw_spf_t s;
	tw_spf_parse(txt, len, &s, NULL, NULL);
	w->lookups += s.lookups;
	for (size_t i = 0; i < s.n && w->lookups <= SPF_MAX_TOTAL; i++) {
		const tw_spf_term_t *t = &s.terms[i];
		if (t->kind == TW_SPF_A || t->kind == TW_SPF_MX) {
			spf_void_check(L, t, w);
			continue;
		}
		if (t->kind != TW_SPF_INCLUDE && t->kind != TW_SPF_REDIRECT)
			continue;
		if (t->kind == TW_SPF_REDIRECT && s.all)
			continue; /* ignored when "all" is present (RFC 7208 6.1) */
		if (t->has_macro)
			continue; /* depends on the message: can't be followed here */
		char name[300];
		canon(t->domain, name, sizeof(name));
		const char *how = t->kind == TW_SPF_INCLUDE ? "include" : "redirect";
		for (int d = 0; d < w->depth; d++) {
			if (strcmp(w->path[d], name) == 0) {
				if (!w->reported_loop)
					finding(L, L->errors, r,
					        "SPF %s:%s loops back to a record already being "
					        "evaluated: a permerror for every message (RFC "
					        "7208 "
					        "4.6.4); break the loop",
					        how, t->domain);
				w->reported_loop = true;
				goto next;
			}
		}
		const char *ntxt = NULL;
		size_t nlen = 0;
		int st = spf_fetch(L, name, &ntxt, &nlen);
		switch (st) {
		case SPF_FOUND:
			if (w->depth >= SPF_MAX_DEPTH)
				break;
			if (!in_zone(L->z, name)) {
				tw_diags_t e = {0};
				tw_spf_t ns;
				if (tw_spf_parse(ntxt, nlen, &ns, &e, NULL) != 0 && e.n)
					finding(L, L->errors, r,
					        "the SPF record of %s:%s has a syntax error (%s: "
					        "%s), "
					        "which makes this SPF a permerror (RFC 7208 5.2); "
					        "ask "
					        "its owner or remove the %s",
					        how, t->domain, e.v[0].field, e.v[0].msg, how);
				tw_spf_release(&ns);
				tw_diags_release(&e);
			}
			tw_strlcpy(w->path[w->depth++], name, sizeof(w->path[0]));
			spf_walk(L, r, ntxt, nlen, w);
			w->depth--;
			break;
		case SPF_NXDOMAIN:
		case SPF_NONE:
			if (st == SPF_NXDOMAIN)
				w->voids++;
			/* in-zone names get this from their own check too, but only here
			 * do we know someone includes them */
			finding(L, L->errors, r,
			        "SPF %s:%s: %s has no SPF record, so evaluating this SPF is a "
			        "permerror for every message (RFC 7208 5.2, 6.1); publish one "
			        "there or remove the %s",
			        how, t->domain, name, how);
			break;
		case SPF_MANY:
			finding(L, L->errors, r,
			        "SPF %s:%s: %s has more than one SPF record, a permerror (RFC "
			        "7208 4.5)",
			        how, t->domain, name);
			break;
		case SPF_UNKNOWN:
			if (!w->offline_skipped)
				tw_strlcpy(w->skipped, t->domain, sizeof(w->skipped));
			w->offline_skipped = true;
			break;
		case SPF_DNSFAIL:
			finding(L, L->warnings, r,
			        "SPF %s:%s: could not look up its TXT record%s%s, so its lookups "
			        "were not counted",
			        how, t->domain, L->res_err[0] ? ": " : "", L->res_err);
			break;
		}
	next:;
	}
	tw_spf_release(&s);
}

/* ---- rules ---------------------------------------------------------- */

static void check_txt_strings(lint_t *L, const tw_dns_rr_t *r)
{
	if (!r->rr)
		return;
	size_t n = ldns_rr_rd_count(r->rr);
	for (size_t k = 0; k < n; k++) {
		const ldns_rdf *f = ldns_rr_rdf(r->rr, k);
		size_t sz = ldns_rdf_size(f);
		/* wire form: a length byte, then at most 255 bytes (RFC 1035 3.3.14) */
		if (sz > 256 || (sz > 0 && ldns_rdf_data(f)[0] != sz - 1)) {
			finding(L, L->errors, r,
			        "TXT string %zu is %zu bytes; a character-string holds at most 255 "
			        "(RFC 1035 3.3.14), so servers refuse or cut it; split the value "
			        "into strings of up to 255 bytes",
			        k + 1, sz ? sz - 1 : 0);
			return;
		}
	}
	/* "v=spf1" "ip4:..." joins to "v=spf1ip4:...": the strings are joined
	 * with nothing between them (RFC 7208 3.3). */
	if (n > 1 && r->txt_len > 6 && strncasecmp(r->txt, "v=spf1", 6) == 0 &&
	    !tw_spf_is_spf(r->txt, r->txt_len))
		finding(L, L->errors, r,
		        "TXT strings are joined with no space between them (RFC 7208 3.3), so "
		        "this reads as \"%.20s...\" and is not an SPF record; quote the whole "
		        "value or end each string with a space",
		        r->txt);
}

static void check_spf(lint_t *L)
{
	const tw_dns_zone_t *z = L->z;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->type == LDNS_RR_TYPE_SPF)
			finding(L, L->warnings, r,
			        "the SPF record type (99) is obsolete and verifiers ignore it (RFC "
			        "7208 3.1, 14.1); publish the value as TXT only");
		if (r->type == LDNS_RR_TYPE_TXT)
			check_txt_strings(L, r);
		if (!is_spf_txt(r))
			continue;
		/* duplicates: report each one after the first, naming the first */
		const tw_dns_rr_t *first = NULL;
		int count = 0;
		for (size_t j = 0; j < z->n; j++) {
			const tw_dns_rr_t *o = &z->v[j];
			if (is_spf_txt(o) && strcmp(o->owner, r->owner) == 0) {
				count++;
				if (!first)
					first = o;
			}
		}
		if (first != r) {
			finding(L, L->errors, r,
			        "%d SPF records at this name (first at line %d): RFC 7208 4.5: two "
			        "SPF records are a permerror: SPF fails for every message. Merge "
			        "them into one v=spf1 record; a provider that appends on update "
			        "(PUT) leaves the old one behind: delete it",
			        count, first->line);
		}
		tw_spf_t s;
		tw_diags_t e = {0}, w = {0};
		int rc = tw_spf_parse(r->txt, r->txt_len, &s, &e, &w);
		if (rc == TW_ENOMEM)
			L->nomem = true;
		for (size_t k = 0; k < e.n; k++)
			finding(L, L->errors, r,
			        "SPF term %s: %s; a syntax error is a permerror (RFC 7208 4.6): "
			        "SPF "
			        "fails for every message",
			        e.v[k].field[0] ? e.v[k].field : "(record)", e.v[k].msg);
		for (size_t k = 0; k < w.n; k++)
			finding(L, L->warnings, r, "SPF term %s: %s",
			        w.v[k].field[0] ? w.v[k].field : "(record)", w.v[k].msg);
		tw_diags_release(&e);
		tw_diags_release(&w);
		if (r->txt_len > 450)
			finding(L, L->warnings, r,
			        "SPF record is %zu bytes; keep it under 450 so the answer fits a "
			        "512-byte UDP response (RFC 7208 3.4)",
			        r->txt_len);
		/* lookup limit, over the whole include tree */
		spf_walk_t wk;
		memset(&wk, 0, sizeof(wk));
		tw_strlcpy(wk.path[0], r->owner, sizeof(wk.path[0]));
		wk.depth = 1;
		spf_walk(L, r, r->txt, r->txt_len, &wk);
		if (wk.lookups > SPF_LIMIT)
			finding(L, L->errors, r,
			        "SPF needs %d%s DNS lookups (include, a, mx, ptr, exists, "
			        "redirect, "
			        "counting nested includes), over the limit of 10: RFC 7208 4.6.4: "
			        "a "
			        "permerror, SPF fails for every message; replace includes with "
			        "ip4:/ip6: ranges or drop unused ones",
			        wk.lookups, wk.offline_skipped ? "+" : "");
		if (wk.offline_skipped)
			finding(L, L->warnings, r,
			        "offline: include:%s (and any other include outside the zone) was "
			        "counted as 1 lookup, its own lookups were not counted; %d counted "
			        "so far; run without --offline to follow it",
			        wk.skipped, wk.lookups);
		if (wk.voids > SPF_VOID_LIMIT)
			finding(L, L->warnings, r,
			        "SPF has %d void lookups (names with no records), over the limit "
			        "of "
			        "2: verifiers SHOULD return permerror (RFC 7208 4.6.4); remove "
			        "terms "
			        "naming domains that don't exist",
			        wk.voids);
		tw_spf_release(&s);
	}
}

static void check_cname(lint_t *L)
{
	const tw_dns_zone_t *z = L->z;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->type != LDNS_RR_TYPE_CNAME)
			continue;
		for (size_t j = 0; j < z->n; j++) {
			const tw_dns_rr_t *o = &z->v[j];
			if (j == i || strcmp(o->owner, r->owner) != 0)
				continue;
			/* DNSSEC records may sit beside a CNAME (RFC 4035 2.5) */
			if (o->type == LDNS_RR_TYPE_RRSIG || o->type == LDNS_RR_TYPE_NSEC ||
			    o->type == LDNS_RR_TYPE_NSEC3)
				continue;
			if (o->type == LDNS_RR_TYPE_CNAME && j < i)
				break; /* reported at the first CNAME */
			char tn[24];
			tw_dns_type_name(o->type, tn, sizeof(tn));
			finding(L, L->errors, r,
			        "a CNAME beside other data (%s at line %d): a name with a CNAME "
			        "can have no other records (RFC 1034 3.6.2, RFC 2181 10.1), "
			        "resolvers return the CNAME and hide the rest; move the other "
			        "records or replace the CNAME with A/AAAA",
			        tn, o->line);
			break;
		}
	}
}

static void check_mx(lint_t *L)
{
	const tw_dns_zone_t *z = L->z;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->type != LDNS_RR_TYPE_MX || !r->rdata)
			continue;
		long pref;
		const char *ex = mx_exchange(r, &pref);
		if (strcmp(ex, ".") == 0) {
			for (size_t j = 0; j < z->n; j++) {
				const tw_dns_rr_t *o = &z->v[j];
				if (j != i && o->type == LDNS_RR_TYPE_MX &&
				    strcmp(o->owner, r->owner) == 0) {
					finding(L, L->errors, r,
					        "null MX \"0 .\" beside another MX (line %d): a "
					        "domain with a null MX MUST NOT have other MX "
					        "records (RFC 7505 3.3); remove one",
					        o->line);
					break;
				}
			}
			if (pref != 0)
				finding(L, L->warnings, r,
				        "null MX with preference %ld; RFC 7505 3 defines it as \"0 "
				        ".\"",
				        pref);
			continue;
		}
		char ip[300];
		if (exchange_is_ip(z, ex, ip, sizeof(ip))) {
			finding(L, L->errors, r,
			        "MX exchange %s is an IP address (read as the name %s); an MX "
			        "names a host (RFC 1035 3.3.9, RFC 5321 5.1), senders look it up "
			        "as a name and fail; add an A/AAAA name such as mail.%s and point "
			        "the MX there",
			        ip, ex, z->origin);
			continue;
		}
		if (!in_zone(z, ex))
			continue;
		if (name_has_type(z, ex, LDNS_RR_TYPE_CNAME)) {
			finding(L, L->errors, r,
			        "MX exchange %s is a CNAME; an MX must point at a name with A/AAAA "
			        "records, not an alias (RFC 2181 10.3, RFC 5321 5.1), and some "
			        "senders refuse it; point the MX at the canonical name",
			        ex);
			continue;
		}
		if (!name_has_type(z, ex, LDNS_RR_TYPE_A) &&
		    !name_has_type(z, ex, LDNS_RR_TYPE_AAAA) && !delegated_or_wild(z, ex))
			finding(L, L->errors, r,
			        "MX exchange %s is in this zone but has no A or AAAA record, so "
			        "mail to %s can't be delivered (RFC 5321 5.1); add its address",
			        ex, r->owner);
	}
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static void check_edge_v6(lint_t *L)
{
	const tw_config_t *c = L->o ? L->o->edge : NULL;
	if (!c)
		return;
	bool v6 = false;
	for (size_t i = 0; i < c->n_listeners; i++) {
		const tw_cfg_listener_t *l = &c->listeners[i];
		for (size_t b = 0; b < l->n_binds; b++) {
			bool smtp = l->proto == TW_PROTO_SMTP || sa_port(&l->binds[b]) == 25;
			if (smtp && l->binds[b].ss_family == AF_INET6)
				v6 = true; /* "[::]:25" is dual stack and counts */
		}
	}
	if (v6)
		return;
	const tw_dns_zone_t *z = L->z;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->type != LDNS_RR_TYPE_AAAA)
			continue;
		/* a mail host: the exchange of an MX in this zone */
		bool mailhost = false;
		for (size_t j = 0; j < z->n && !mailhost; j++) {
			long pref;
			if (z->v[j].type == LDNS_RR_TYPE_MX && z->v[j].rdata &&
			    strcmp(mx_exchange(&z->v[j], &pref), r->owner) == 0)
				mailhost = true;
		}
		if (!mailhost)
			continue;
		finding(L, L->warnings, r,
		        "mail host %s has an AAAA record but no SMTP listener of the edge config "
		        "binds IPv6: senders try IPv6 first and some don't fall back, so mail is "
		        "deferred or lost (lesson 13); add an IPv6 bind (e.g. \"[::]:25\") or "
		        "remove the AAAA",
		        r->owner);
	}
}

/* "_dmarc.example.com." -> the domain part "example.com." */
static bool dmarc_owner(const char *owner, const char **dom)
{
	if (strncmp(owner, "_dmarc.", 7) != 0)
		return false;
	*dom = owner + 7;
	return true;
}

static void check_dmarc(lint_t *L)
{
	const tw_dns_zone_t *z = L->z;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		const char *dom;
		if (r->type != LDNS_RR_TYPE_TXT || !r->txt || !dmarc_owner(r->owner, &dom))
			continue;
		bool is = tw_dmarc_is_dmarc(r->txt, r->txt_len);
		/* A TXT that is not DMARC at all is ignored by receivers (RFC 7489
		 * 6.6.3); one that tries to be ("v=dmarc1", "p=reject; v=DMARC1") is
		 * worth an error. */
		if (!is && !strcasestr(r->txt, "dmarc") && !strstr(r->txt, "p="))
			continue;
		const tw_dns_rr_t *first = NULL;
		int count = 0;
		for (size_t j = 0; j < z->n; j++) {
			const tw_dns_rr_t *o = &z->v[j];
			if (o->type == LDNS_RR_TYPE_TXT && o->txt &&
			    strcmp(o->owner, r->owner) == 0 &&
			    tw_dmarc_is_dmarc(o->txt, o->txt_len)) {
				count++;
				if (!first)
					first = o;
			}
		}
		if (is && first != r) {
			finding(L, L->errors, r,
			        "%d DMARC records at this name (first at line %d): receivers then "
			        "apply no DMARC at all (RFC 7489 6.6.3); keep one",
			        count, first->line);
			continue;
		}
		tw_dmarc_t d;
		tw_diags_t e = {0}, w = {0};
		int rc = tw_dmarc_parse(r->txt, r->txt_len, &d, &e, &w);
		if (rc == TW_ENOMEM)
			L->nomem = true;
		for (size_t k = 0; k < e.n; k++)
			finding(L, L->errors, r, "DMARC%s%s: %s", e.v[k].field[0] ? " " : "",
			        e.v[k].field, e.v[k].msg);
		for (size_t k = 0; k < w.n; k++)
			finding(L, L->warnings, r, "DMARC%s%s: %s", w.v[k].field[0] ? " " : "",
			        w.v[k].field, w.v[k].msg);
		/* A report-authorization record (RFC 7489 7.1) has no policy. */
		bool authz = strstr(r->owner, "._report._dmarc.") != NULL, bad_p = false;
		for (size_t k = 0; k < e.n; k++)
			bad_p |= strcmp(e.v[k].field, "p") == 0;
		if (is && d.p < 0 && !authz && !bad_p) {
			bool org = strcmp(dom, z->origin) == 0;
			finding(L, org ? L->errors : L->warnings, r,
			        "DMARC record without p=: it is REQUIRED (RFC 7489 6.3)%s; add "
			        "p=none to monitor, or quarantine/reject",
			        org ? " at the organizational domain, receivers apply no policy "
			              "(or p=none when rua is valid, 6.6.3)"
			            : "");
		}
		tw_dmarc_release(&d);
		tw_diags_release(&e);
		tw_diags_release(&w);
	}
}

static void check_dkim(lint_t *L)
{
	const tw_dns_zone_t *z = L->z;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->type != LDNS_RR_TYPE_TXT || !r->txt)
			continue;
		/* <selector>._domainkey.<domain>: a label "_domainkey" below the first */
		const char *dk = strstr(r->owner, "._domainkey.");
		if (!dk || dk == r->owner)
			continue;
		const tw_dns_rr_t *first = NULL;
		int count = 0;
		for (size_t j = 0; j < z->n; j++) {
			const tw_dns_rr_t *o = &z->v[j];
			if (o->type == LDNS_RR_TYPE_TXT && strcmp(o->owner, r->owner) == 0) {
				count++;
				if (!first)
					first = o;
			}
		}
		if (first != r) {
			finding(L, L->errors, r,
			        "%d TXT records at this DKIM selector (first at line %d): which "
			        "key a verifier uses is undefined (RFC 6376 3.6.2.2); keep one",
			        count, first->line);
			continue;
		}
		tw_dkim_key_t k;
		tw_diags_t e = {0}, w = {0};
		int rc = tw_dkim_rec_parse(r->txt, r->txt_len, &k, &e, &w);
		if (rc == TW_ENOMEM)
			L->nomem = true;
		for (size_t m = 0; m < e.n; m++)
			finding(L, L->errors, r, "DKIM key%s%s: %s%s", e.v[m].field[0] ? " " : "",
			        e.v[m].field, e.v[m].msg,
			        strstr(e.v[m].msg, "fail")
			                ? ""
			                : "; signatures with this selector fail");
		for (size_t m = 0; m < w.n; m++)
			finding(L, L->warnings, r, "DKIM key%s%s: %s", w.v[m].field[0] ? " " : "",
			        w.v[m].field, w.v[m].msg);
		tw_dkim_rec_release(&k);
		tw_diags_release(&e);
		tw_diags_release(&w);
	}
}

/* CAA value "issuer; k=v; k=v": the issuer domain and whether accounturi=uri is among
 * the parameters (RFC 8659 4.2, RFC 8657 3). */
static void caa_parse(const uint8_t *v, size_t n, char *issuer, size_t isz, const char *uri,
                      bool *has_uri, bool *other_uri)
{
	size_t i = 0, o = 0;
	*has_uri = *other_uri = false;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (i < n && v[i] != ';' && v[i] != ' ' && v[i] != '\t') {
		if (o + 1 < isz)
			issuer[o++] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] + 32 : v[i]);
		i++;
	}
	issuer[o] = '\0';
	while (i < n) {
		while (i < n && (v[i] == ';' || v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t s = i;
		while (i < n && v[i] != ';')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s > 11 && strncasecmp((const char *)v + s, "accounturi=", 11) == 0) {
			size_t ul = e - s - 11;
			if (ul == strlen(uri) && memcmp(v + s + 11, uri, ul) == 0)
				*has_uri = true;
			else
				*other_uri = true;
		}
	}
}

/* Does the ACME account URI belong to issuer ("acme-v02.api.letsencrypt.org"
 * under "letsencrypt.org")? */
static bool uri_of_issuer(const char *uri, const char *issuer)
{
	const char *h = strstr(uri, "://");
	char host[256];
	size_t n = 0;
	if (!issuer[0])
		return false;
	h = h ? h + 3 : uri;
	while (h[n] && h[n] != '/' && h[n] != ':' && n + 1 < sizeof(host)) {
		host[n] = (h[n] >= 'A' && h[n] <= 'Z') ? (char)(h[n] + 32) : h[n];
		n++;
	}
	host[n] = '\0';
	size_t il = strlen(issuer);
	return n >= il && strcmp(host + n - il, issuer) == 0 &&
	       (n == il || host[n - il - 1] == '.');
}

static void check_caa(lint_t *L)
{
	const char *uri = L->accounturi;
	const tw_dns_zone_t *z = L->z;
	if (!uri || !uri[0])
		return;
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (r->type != LDNS_RR_TYPE_CAA || !r->rr || ldns_rr_rd_count(r->rr) != 3)
			continue;
		const ldns_rdf *tag = ldns_rr_rdf(r->rr, 1), *val = ldns_rr_rdf(r->rr, 2);
		const uint8_t *td = ldns_rdf_data(tag);
		size_t tl = ldns_rdf_size(tag);
		if (tl < 1 || td[0] != tl - 1)
			continue;
		bool issue = (tl - 1 == 5 && strncasecmp((const char *)td + 1, "issue", 5) == 0);
		bool wild = (tl - 1 == 9 && strncasecmp((const char *)td + 1, "issuewild", 9) == 0);
		if (!issue && !wild)
			continue;
		char issuer[256];
		bool has, other;
		caa_parse(ldns_rdf_data(val), ldns_rdf_size(val), issuer, sizeof(issuer), uri, &has,
		          &other);
		/* ";" (no CA may issue) and other CAs are the owner's business */
		if (!uri_of_issuer(uri, issuer) || has)
			continue;
		finding(L, L->warnings, r,
		        "CAA %s for %s does not pin accounturi=%.120s: any account at that CA can "
		        "get certificates for this name (RFC 8657 3); add \"; accounturi=...\" "
		        "to the value%s",
		        wild ? "issuewild" : "issue", issuer, uri,
		        other ? " (it pins a different account)" : "");
	}
}

int tw_dns_lint(const tw_dns_zone_t *z, const tw_dns_lint_opts_t *o, tw_diags_t *errors,
                tw_diags_t *warnings)
{
	lint_t L = {.z = z, .o = o, .errors = errors, .warnings = warnings};
	if (!z || !errors || !warnings)
		return TW_EINVAL;
	size_t before = errors->n;
	L.accounturi = o ? o->caa_accounturi : NULL;
	if (!L.accounturi && o && o->edge)
		L.accounturi = o->edge->dns.caa_accounturi;
	check_spf(&L);
	check_cname(&L);
	check_mx(&L);
	check_edge_v6(&L);
	check_dmarc(&L);
	check_dkim(&L);
	check_caa(&L);
	for (size_t i = 0; i < L.ncache; i++) {
		for (size_t k = 0; k < L.cache[i].n; k++)
			free(L.cache[i].txt[k]);
		free(L.cache[i].txt);
		free(L.cache[i].len);
		free(L.cache[i].name);
	}
	free(L.cache);
	if (L.res)
		ldns_resolver_deep_free(L.res);
	if (L.nomem)
		return TW_ENOMEM;
	return errors->n > before ? 1 : 0;
}
