/*
 * zone.c - the zone model (see zone.h): adding records with their canonical
 * text, comparing, sorting in RFC 4034 canonical order, and writing a zone
 * back as a master file that tw_dns_zone_load reads to the same records.
 * The file reader itself is zonefile.c.
 */
#include "util/tw.h"

#include "dns/zone.h"
#include "util/sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

/* ---- small helpers ------------------------------------------------------ */

static void lower_ascii(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Whether s[i] is preceded by an odd number of backslashes (is escaped). */
static bool escaped_at(const char *s, size_t i)
{
	size_t k = 0;
	while (k < i && s[i - 1 - k] == '\\')
		k++;
	return k % 2 == 1;
}

/*
 * A domain name's text as ldns prints it, lower case, with '"' escaped:
 * ldns leaves '"' bare in names, but in a master file a bare '"' starts a
 * quoted string, so the written zone would not read back (RFC 1035 §5.1).
 */
static char *dname_text(const ldns_rdf *rdf)
{
	char *s = ldns_rdf2str(rdf);
	if (!s)
		return NULL;
	lower_ascii(s);
	if (!strchr(s, '"'))
		return s;
	tw_sbuf_t b = {0};
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '"' && !escaped_at(s, i))
			tw_sbuf_addc(&b, '\\');
		tw_sbuf_addc(&b, s[i]);
	}
	free(s);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* One TXT character-string's bytes, escaped for inside double quotes:
 * '"' and '\' with a backslash, bytes outside printable ASCII as \DDD
 * (RFC 1035 §5.1). */
static void txt_escape(tw_sbuf_t *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			tw_sbuf_addc(b, '\\');
			tw_sbuf_addc(b, (char)p[i]);
		} else if (p[i] < 0x20 || p[i] > 0x7e) {
			char tmp[8];
			snprintf(tmp, sizeof(tmp), "\\%03u", p[i]);
			tw_sbuf_add(b, tmp);
		} else {
			tw_sbuf_addc(b, (char)p[i]);
		}
	}
}

static bool is_txt_type(uint16_t t)
{
	return t == LDNS_RR_TYPE_TXT || t == LDNS_RR_TYPE_SPF;
}

static ldns_rdf *origin_rdf(const tw_dns_zone_t *z)
{
	return z->origin ? ldns_dname_new_frm_str(z->origin) : NULL;
}

static const char *intern_file(tw_dns_zone_t *z, const char *file)
{
	if (!file)
		return NULL;
	for (size_t i = 0; i < z->nfiles; i++)
		if (strcmp(z->files[i], file) == 0)
			return z->files[i];
	char **v = realloc(z->files, (z->nfiles + 1) * sizeof(*v));
	if (!v)
		return NULL;
	z->files = v;
	char *s = strdup(file);
	if (!s)
		return NULL;
	z->files[z->nfiles++] = s;
	return s;
}

static tw_dns_rr_t *push_rr(tw_dns_zone_t *z)
{
	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 16;
		tw_dns_rr_t *v = realloc(z->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		z->v = v;
		z->cap = cap;
	}
	tw_dns_rr_t *r = &z->v[z->n];
	memset(r, 0, sizeof(*r));
	return r;
}

/* ---- model -------------------------------------------------------------- */

int tw_dns_zone_init(tw_dns_zone_t *z, const char *origin)
{
	memset(z, 0, sizeof(*z));
	z->default_ttl = 3600;
	if (!origin || !*origin || strlen(origin) > 1024)
		return TW_EINVAL;
	char text[1100];
	if (ldns_dname_str_absolute(origin))
		snprintf(text, sizeof(text), "%s", origin);
	else
		snprintf(text, sizeof(text), "%s.", origin);
	ldns_rdf *rdf = ldns_dname_new_frm_str(text);
	if (!rdf)
		return TW_EINVAL;
	z->origin = dname_text(rdf);
	ldns_rdf_deep_free(rdf);
	return z->origin ? 0 : TW_ENOMEM;
}

void tw_dns_zone_release(tw_dns_zone_t *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n; i++) {
		tw_dns_rr_t *r = &z->v[i];
		free(r->owner);
		free(r->rdata);
		free(r->txt);
		if (r->rr)
			ldns_rr_free(r->rr);
	}
	free(z->v);
	for (size_t i = 0; i < z->nfiles; i++)
		free(z->files[i]);
	free(z->files);
	free(z->origin);
	memset(z, 0, sizeof(*z));
}

/* Fills r's canonical owner, rdata and txt from rr (see zone.h). */
static int canonicalise(tw_dns_rr_t *r, const ldns_rr *rr)
{
	tw_sbuf_t b = {0};
	r->owner = dname_text(ldns_rr_owner(rr));
	if (!r->owner)
		return TW_ENOMEM;
	if (is_txt_type(r->type)) {
		tw_sbuf_t t = {0};
		tw_sbuf_addn(&t, "", 0);
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			const uint8_t *d = ldns_rdf_data(f);
			size_t n = ldns_rdf_size(f);
			if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_STR && n >= 1) {
				size_t l = d[0] < n - 1 ? d[0] : n - 1;
				tw_sbuf_addn(&t, (const char *)d + 1, l);
			}
		}
		if (t.oom) {
			free(t.s);
			return TW_ENOMEM;
		}
		r->txt = t.s;
		r->txt_len = t.n;
		tw_sbuf_addc(&b, '"');
		txt_escape(&b, (const uint8_t *)t.s, t.n);
		tw_sbuf_addc(&b, '"');
	} else {
		for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
			const ldns_rdf *f = ldns_rr_rdf(rr, i);
			char *s = ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME ? dname_text(f)
			                                                      : ldns_rdf2str(f);
			if (!s) {
				free(b.s);
				return TW_ENOMEM;
			}
			/* ldns ends some fields (NSEC bitmaps, APL) with a blank. */
			size_t n = strlen(s);
			while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
				n--;
			if (i)
				tw_sbuf_addc(&b, ' ');
			tw_sbuf_addn(&b, s, n);
			free(s);
		}
		tw_sbuf_addn(&b, "", 0);
	}
	if (b.oom) {
		free(b.s);
		return TW_ENOMEM;
	}
	r->rdata = b.s;
	return 0;
}

int tw_dns_zone_add_rr(tw_dns_zone_t *z, ldns_rr *rr, const char *file, int line, unsigned flags,
                       tw_diags_t *d)
{
	char tn[32];
	if (!rr)
		return TW_EINVAL;
	ldns_rdf *origin = origin_rdf(z);
	if (!origin) {
		ldns_rr_free(rr);
		return tw_diag_add(d, file, line, "", "the zone has no origin");
	}
	tw_dns_type_name(ldns_rr_get_type(rr), tn, sizeof(tn));
	unsigned cls = (unsigned)ldns_rr_get_class(rr);
	if (cls != LDNS_RR_CLASS_IN) {
		ldns_rdf_deep_free(origin);
		ldns_rr_free(rr);
		return tw_diag_add(d, file, line, tn, "class %u is not supported: expected IN",
		                   cls);
	}
	/* ldns keeps names in wire form, where a name read without a final dot
	 * already ends in the root label: callers pass absolute names. */
	if (!ldns_rr_owner(rr)) {
		ldns_rdf_deep_free(origin);
		ldns_rr_free(rr);
		return tw_diag_add(d, file, line, tn, "the record has no owner name");
	}
	if (ldns_dname_compare(ldns_rr_owner(rr), origin) != 0 &&
	    !ldns_dname_is_subdomain(ldns_rr_owner(rr), origin)) {
		char *o = dname_text(ldns_rr_owner(rr));
		char field[160];
		snprintf(field, sizeof(field), "%s %s", o ? o : "?", tn);
		tw_diag_add(d, file, line, field,
		            "owner %s is outside the zone %s: expected a name ending in %s",
		            o ? o : "?", z->origin, z->origin);
		free(o);
		ldns_rdf_deep_free(origin);
		ldns_rr_free(rr);
		return TW_EINVAL;
	}
	ldns_rdf_deep_free(origin);

	tw_dns_rr_t *r = push_rr(z);
	if (!r) {
		ldns_rr_free(rr);
		return TW_ENOMEM;
	}
	r->type = ldns_rr_get_type(rr);
	r->ttl = ldns_rr_ttl(rr);
	r->flags = flags;
	r->line = line;
	r->file = intern_file(z, file);
	int rc = canonicalise(r, rr);
	if (rc != 0 || (file && !r->file)) {
		free(r->owner);
		free(r->rdata);
		free(r->txt);
		ldns_rr_free(rr);
		return rc ? rc : TW_ENOMEM;
	}
	r->rr = rr;
	z->n++;
	return 0;
}

int tw_dns_zone_add_opaque(tw_dns_zone_t *z, const char *owner, const char *type_name, uint32_t ttl,
                           const char *rdata, const char *note)
{
	if (!z->origin || !owner || !type_name)
		return TW_EINVAL;
	tw_sbuf_t o = {0}, rd = {0};
	/* The owner as the provider gave it: "@" and "" are the apex, a name
	 * without a trailing dot is relative to the origin. */
	if (!*owner || strcmp(owner, "@") == 0) {
		tw_sbuf_add(&o, z->origin);
	} else {
		tw_sbuf_add(&o, owner);
		size_t n = strlen(owner);
		if (owner[n - 1] != '.' || escaped_at(owner, n - 1)) {
			if (strcmp(z->origin, ".") != 0)
				tw_sbuf_addc(&o, '.');
			tw_sbuf_add(&o, z->origin);
		}
	}
	uint16_t type = ldns_get_rr_type_by_name(type_name);
	/* A type ldns doesn't know keeps its name at the head of rdata, with
	 * type 0, so messages and the written zone still show it. */
	if (type == 0) {
		tw_sbuf_add(&rd, type_name);
		if (rdata && *rdata)
			tw_sbuf_addc(&rd, ' ');
	}
	tw_sbuf_add(&rd, rdata ? rdata : "");
	tw_dns_rr_t *r = (o.oom || rd.oom) ? NULL : push_rr(z);
	if (!r) {
		free(o.s);
		free(rd.s);
		return TW_ENOMEM;
	}
	lower_ascii(o.s);
	r->owner = o.s;
	r->type = type;
	r->ttl = ttl;
	r->rdata = rd.s;
	r->flags = TW_DNS_RR_UNMANAGED;
	r->note = note;
	z->n++;
	return 0;
}

/* ---- names, types, comparison ------------------------------------------- */

const char *tw_dns_rel_name(const tw_dns_zone_t *z, const char *owner, char *buf, size_t size)
{
	const char *origin = z->origin ? z->origin : ".";
	size_t on = strlen(owner), gn = strlen(origin);
	if (strcasecmp(owner, origin) == 0) {
		tw_strlcpy(buf, "@", size);
		return buf;
	}
	if (strcmp(origin, ".") == 0) {
		/* Every name is under the root: drop the final dot. */
		if (on > 1 && owner[on - 1] == '.' && !escaped_at(owner, on - 1)) {
			snprintf(buf, size, "%.*s", (int)(on - 1), owner);
			return buf;
		}
	} else if (on > gn + 1 && strcasecmp(owner + on - gn, origin) == 0 &&
	           owner[on - gn - 1] == '.' && !escaped_at(owner, on - gn - 1)) {
		snprintf(buf, size, "%.*s", (int)(on - gn - 1), owner);
		return buf;
	}
	tw_strlcpy(buf, owner, size);
	return buf;
}

const char *tw_dns_type_name(uint16_t type, char *buf, size_t size)
{
	char *s = ldns_rr_type2str((ldns_rr_type)type);
	if (s) {
		tw_strlcpy(buf, s, size);
		free(s);
	} else {
		snprintf(buf, size, "TYPE%u", (unsigned)type);
	}
	return buf;
}

bool tw_dns_rr_same_set(const tw_dns_rr_t *a, const tw_dns_rr_t *b)
{
	return a->type == b->type && strcasecmp(a->owner, b->owner) == 0;
}

bool tw_dns_rr_same_data(const tw_dns_rr_t *a, const tw_dns_rr_t *b)
{
	if (!tw_dns_rr_same_set(a, b))
		return false;
	if (a->txt && b->txt)
		return a->txt_len == b->txt_len && memcmp(a->txt, b->txt, a->txt_len) == 0;
	return strcmp(a->rdata, b->rdata) == 0;
}

const char *tw_dns_rr_format(const tw_dns_rr_t *r, char *buf, size_t size)
{
	char tn[32];
	int n;
	if (size == 0)
		return buf;
	if (r->type == 0) /* opaque record: rdata starts with its type name */
		n = snprintf(buf, size, "%s %" PRIu32 " IN %s", r->owner, r->ttl, r->rdata);
	else
		n = snprintf(buf, size, "%s %" PRIu32 " IN %s %s", r->owner, r->ttl,
		             tw_dns_type_name(r->type, tn, sizeof(tn)), r->rdata);
	if (n >= 0 && (size_t)n >= size && size >= 4)
		memcpy(buf + size - 4, "...", 4);
	/* One message line: a record's text never holds a newline, but an opaque
	 * record's rdata comes from a provider. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return buf;
}

/* ---- sorting ------------------------------------------------------------ */

typedef struct sort_key {
	ldns_rdf *name; /* owner in wire form, NULL if it didn't parse */
	const tw_dns_rr_t *r;
	size_t idx;
} sort_key_t;

/* RFC 4034 §6.1 canonical name order (ldns_dname_compare lower-cases and
 * compares label by label from the right), then type, then data. */
static int key_cmp(const void *pa, const void *pb)
{
	const sort_key_t *a = pa, *b = pb;
	int c;
	if (a->name && b->name)
		c = ldns_dname_compare(a->name, b->name);
	else if (a->name || b->name) /* an owner ldns can't read goes last */
		c = a->name ? -1 : 1;
	else
		c = strcasecmp(a->r->owner, b->r->owner);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->r->type != b->r->type)
		return a->r->type < b->r->type ? -1 : 1;
	c = strcmp(a->r->rdata, b->r->rdata);
	if (c)
		return c < 0 ? -1 : 1;
	if (a->r->ttl != b->r->ttl)
		return a->r->ttl < b->r->ttl ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The zone's records in canonical order, as keys (free with free_keys). */
static sort_key_t *sorted_keys(const tw_dns_zone_t *z)
{
	sort_key_t *k = calloc(z->n ? z->n : 1, sizeof(*k));
	if (!k)
		return NULL;
	for (size_t i = 0; i < z->n; i++) {
		k[i].r = &z->v[i];
		k[i].idx = i;
		k[i].name = ldns_dname_new_frm_str(z->v[i].owner);
	}
	qsort(k, z->n, sizeof(*k), key_cmp);
	return k;
}

static void free_keys(sort_key_t *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ldns_rdf_deep_free(k[i].name);
	free(k);
}

void tw_dns_zone_sort(tw_dns_zone_t *z)
{
	if (z->n < 2)
		return;
	sort_key_t *k = sorted_keys(z);
	tw_dns_rr_t *v = k ? malloc(z->n * sizeof(*v)) : NULL;
	if (!v) {
		/* Out of memory: owner text order is still a total order. */
		free(k);
		return;
	}
	for (size_t i = 0; i < z->n; i++)
		v[i] = *k[i].r;
	memcpy(z->v, v, z->n * sizeof(*v));
	free(v);
	free_keys(k, z->n);
}

/* ---- writing ------------------------------------------------------------ */

/* The owner relative to the origin, escaped so that it reads back as the
 * same name at the start of a line: a leading '$' would be a directive and a
 * lone "@" the apex (RFC 1035 §5.1). */
static void put_owner(tw_sbuf_t *b, const tw_dns_zone_t *z, const char *owner)
{
	char rel[1100];
	tw_dns_rel_name(z, owner, rel, sizeof(rel));
	if (rel[0] == '$' || (rel[0] == '@' && strcmp(owner, z->origin) != 0))
		tw_sbuf_addc(b, '\\');
	tw_sbuf_add(b, rel);
}

/* TXT data as quoted strings of at most 255 bytes each (RFC 1035 §3.3). */
static void put_txt(tw_sbuf_t *b, const tw_dns_rr_t *r)
{
	size_t off = 0;
	do {
		size_t n = r->txt_len - off > 255 ? 255 : r->txt_len - off;
		if (off)
			tw_sbuf_addc(b, ' ');
		tw_sbuf_addc(b, '"');
		txt_escape(b, (const uint8_t *)r->txt + off, n);
		tw_sbuf_addc(b, '"');
		off += n;
	} while (off < r->txt_len);
}

static void put_record(tw_sbuf_t *b, const tw_dns_zone_t *z, const tw_dns_rr_t *r)
{
	char tmp[64];
	put_owner(b, z, r->owner);
	snprintf(tmp, sizeof(tmp), " %" PRIu32 " IN ", r->ttl);
	tw_sbuf_add(b, tmp);
	if (r->type != 0) {
		tw_sbuf_add(b, tw_dns_type_name(r->type, tmp, sizeof(tmp)));
		tw_sbuf_addc(b, ' ');
	}
	if (r->txt)
		put_txt(b, r);
	else
		tw_sbuf_add(b, r->rdata);
}

/* Text that goes after "; " on one comment line: no line breaks. */
static void put_comment_text(tw_sbuf_t *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tw_sbuf_addc(b, s[i] == '\n' || s[i] == '\r' ? ' ' : s[i]);
}

int tw_dns_zone_write(const tw_dns_zone_t *z, FILE *out, const char *header)
{
	tw_sbuf_t b = {0};
	if (!z->origin)
		return -EINVAL;
	for (const char *h = header; h && *h;) {
		const char *e = strchr(h, '\n');
		size_t n = e ? (size_t)(e - h) : strlen(h);
		tw_sbuf_add(&b, n ? "; " : ";");
		put_comment_text(&b, h, n);
		tw_sbuf_addc(&b, '\n');
		h = e ? e + 1 : h + n;
	}
	tw_sbuf_add(&b, "$ORIGIN ");
	tw_sbuf_add(&b, z->origin);
	tw_sbuf_addc(&b, '\n');
	sort_key_t *k = sorted_keys(z);
	if (!k) {
		free(b.s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = k[i].r;
		if (r->flags & TW_DNS_RR_UNMANAGED) {
			tw_sbuf_t line = {0};
			put_record(&line, z, r);
			tw_sbuf_add(&b, "; unmanaged");
			if (r->note) {
				tw_sbuf_add(&b, " (");
				put_comment_text(&b, r->note, strlen(r->note));
				tw_sbuf_addc(&b, ')');
			}
			tw_sbuf_add(&b, ": ");
			if (line.s)
				put_comment_text(&b, line.s, line.n);
			b.oom |= line.oom;
			free(line.s);
		} else {
			put_record(&b, z, r);
		}
		tw_sbuf_addc(&b, '\n');
	}
	free_keys(k, z->n);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	errno = 0;
	size_t w = fwrite(b.s, 1, b.n, out);
	free(b.s);
	if (w != b.n || fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

bool tw_dns_type_managed(uint16_t type)
{
	switch (type) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_DNAME:
	case LDNS_RR_TYPE_MX:
	case LDNS_RR_TYPE_TXT:
	case LDNS_RR_TYPE_SPF:
	case LDNS_RR_TYPE_SRV:
	case LDNS_RR_TYPE_CAA:
	case LDNS_RR_TYPE_TLSA:
	case LDNS_RR_TYPE_SMIMEA:
	case LDNS_RR_TYPE_OPENPGPKEY:
	case LDNS_RR_TYPE_SSHFP:
	case LDNS_RR_TYPE_NAPTR:
	case LDNS_RR_TYPE_URI:
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_HTTPS:
	case LDNS_RR_TYPE_SVCB:
	case LDNS_RR_TYPE_SOA: return true;
	default: return false;
	}
}
