/*
 * zonefile.c - reading RFC 1035 master files into a zone (zone.h).
 *
 * Zone files (for docs/design.md):
 * - ldns parses each record; the file layer is ours (ldns 1.8 has no $INCLUDE): ';' comments
 *   outside quotes, '(' ')' joining lines, a quoted string ends on its line, a record reports
 *   the line it starts on, a blank first column means the previous owner.
 * - Origin: $ORIGIN or --domain; with both, the first $ORIGIN before any record must equal
 *   --domain. Owners outside the zone are errors. tw_dns_zone_load initialises the zone.
 * - TTL: the record's own, else the last $TTL (RFC 2308 §4), else with no $TTL the last TTL a
 *   record stated (RFC 1035 §5.1), else an error asking for $TTL. Only class IN.
 * - $INCLUDE file [origin]: relative to the including file's directory, 16 files deep at most,
 *   loops refused; the file starts with the includer's origin (or the given one) and TTLs, no
 *   previous owner, and its $ORIGIN/$TTL end with it. Errors give that file's name and lines.
 * - Identical records (owner, type, data; TTL aside) are an error naming both lines: a
 *   provider keeps one, so the zone read back would differ. Loading stops after 100 errors.
 */
#include "util/tw.h"

#include "dns/zone.h"
#include "util/sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <strings.h>
#include <sys/stat.h>

#define ZF_MAX_DEPTH  16
#define ZF_MAX_ERRORS 100
#define ZF_MAX_FILE   (64u << 20)  /* bytes per zone file */
#define ZF_MAX_ENTRY  (256u << 10) /* bytes per logical line */
#define ZF_MAX_TTL    2147483647u  /* RFC 2181 §8 */

typedef struct zf_ctx {
	tw_dns_zone_t *z;
	tw_diags_t *d;
	size_t d0;  /* diags present before this load */
	bool stop;  /* too many errors, or no origin */
	bool mem;   /* from memory: no $INCLUDE */
	bool one;   /* tw_dns_zone_add_text: exactly one record, no directives */
	int nrec;   /* records seen (for one) */
	bool fixed; /* every record is on fixed_line (add_text) */
	int fixed_line;
	unsigned flags;
	ldns_rdf *domain; /* --domain, or NULL */
	bool seen_record;
	bool origin_checked; /* the first $ORIGIN was compared with --domain */
	bool zone_ttl_set;
	char *stack[ZF_MAX_DEPTH + 1]; /* real paths of the files being read */
	int depth;
} zf_ctx_t;

/* What a file's directives change; an included file works on a copy. */
typedef struct zf_state {
	ldns_rdf *origin; /* current origin, owned; NULL before any */
	ldns_rdf *prev;   /* previous owner, owned */
	bool has_ttl;     /* $TTL seen */
	uint32_t ttl;
	bool has_last; /* a record stated a TTL */
	uint32_t last;
} zf_state_t;

static size_t nerrors(const zf_ctx_t *c)
{
	return c->d->n - c->d0;
}

__attribute__((format(printf, 5, 6))) static void zf_err(zf_ctx_t *c, const char *file, int line,
                                                         const char *field, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	if (c->stop)
		return;
	if (nerrors(c) >= ZF_MAX_ERRORS) {
		tw_diag_add(c->d, file, line, "", "too many errors: stopped after %d",
		            ZF_MAX_ERRORS);
		c->stop = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tw_diag_add(c->d, file, line, field, "%s", msg);
}

static void state_release(zf_state_t *st)
{
	ldns_rdf_deep_free(st->origin);
	ldns_rdf_deep_free(st->prev);
	memset(st, 0, sizeof(*st));
}

/* A domain name's text for messages: lower case, as ldns prints it. */
static void name_text(const ldns_rdf *rdf, char *buf, size_t size)
{
	char *s = rdf ? ldns_rdf2str(rdf) : NULL;
	tw_strlcpy(buf, s ? s : "?", size);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	free(s);
}

/* ---- logical lines ------------------------------------------------------ */

typedef struct zf_reader {
	const char *buf;
	size_t len, pos;
	int line; /* of buf[pos] */
} zf_reader_t;

/*
 * The next logical line into out (RFC 1035 §5.1): comments dropped,
 * parentheses turned into spaces and the lines they span joined, quoted
 * strings and backslash escapes kept as written. *start is its first line
 * and *blank whether it starts with a blank (owner = previous owner).
 * Malformed lines are reported and skipped. Returns false at the end.
 */
static bool next_entry(zf_ctx_t *c, const char *file, zf_reader_t *r, tw_sbuf_t *out, int *start,
                       bool *blank)
{
	while (!c->stop && r->pos < r->len) {
		const char *b = r->buf;
		int depth = 0;
		bool inq = false, bad = false, content = false;
		out->n = 0;
		if (out->s)
			out->s[0] = '\0';
		*start = r->line;
		*blank = b[r->pos] == ' ' || b[r->pos] == '\t';
		for (;;) {
			while (r->pos < r->len && b[r->pos] != '\n') {
				char ch = b[r->pos++];
				if (ch == '\0') {
					if (!bad)
						zf_err(c, file, r->line, "",
						       "a NUL byte in the text: expected a text "
						       "file");
					bad = true;
					continue;
				}
				if (!bad && out->n > ZF_MAX_ENTRY) {
					zf_err(c, file, *start, "",
					       "record longer than %u bytes: expected a shorter "
					       "record",
					       ZF_MAX_ENTRY);
					bad = true;
				}
				bool esc_next = ch == '\\' && r->pos < r->len &&
				                b[r->pos] != '\n' && b[r->pos] != '\0';
				if (inq) {
					if (ch == '"')
						inq = false;
				} else if (ch == '"') {
					inq = true;
				} else if (ch == ';') {
					while (r->pos < r->len && b[r->pos] != '\n')
						r->pos++;
					continue;
				} else if (ch == '(' || ch == ')') {
					if (ch == '(') {
						depth++;
					} else if (depth == 0) {
						if (!bad)
							zf_err(c, file, r->line, "",
							       "')' without a '(' before it");
						bad = true;
					} else {
						depth--;
					}
					ch = ' ';
				} else if (ch == '\r' || ch == '\f' || ch == '\v') {
					ch = ' ';
				}
				if (ch != ' ' && ch != '\t')
					content = true;
				if (!bad)
					tw_sbuf_addc(out, ch);
				if (esc_next) {
					if (!bad)
						tw_sbuf_addc(out, b[r->pos]);
					r->pos++;
				}
			}
			if (inq) {
				if (!bad)
					zf_err(c, file, *start, "",
					       "unterminated quoted string: expected a closing "
					       "'\"' "
					       "on line %d",
					       r->line);
				bad = true;
				inq = false;
			}
			bool at_end = r->pos >= r->len;
			if (!at_end) {
				r->pos++;
				r->line++;
			}
			if (depth > 0 && !at_end) {
				if (!bad)
					tw_sbuf_addc(out, ' ');
				continue;
			}
			if (depth > 0) {
				if (!bad)
					zf_err(c, file, *start, "",
					       "unterminated '(': no ')' before the end of the "
					       "file");
				bad = true;
			}
			break;
		}
		if (out->oom) {
			zf_err(c, file, *start, "", "out of memory");
			c->stop = true;
			return false;
		}
		if (bad || !content)
			continue;
		return true;
	}
	return false;
}

/* One whitespace-separated token of a logical line (quotes and escapes
 * kept); returns the position after it, *n = 0 at the end. */
static size_t next_tok(const char *s, size_t i, size_t *at, size_t *n)
{
	bool inq = false;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	*at = i;
	while (s[i] && (inq || (s[i] != ' ' && s[i] != '\t'))) {
		if (s[i] == '\\' && s[i + 1])
			i++;
		else if (s[i] == '"')
			inq = !inq;
		i++;
	}
	*n = i - *at;
	return i;
}

/* A directive's argument without quotes and escapes (a file name). */
static void unquote(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < size; i++) {
		if (s[i] == '"')
			continue;
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			if (i + 2 < n && isdigit((unsigned char)s[i]) &&
			    isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2])) {
				int v = (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 +
				        (s[i + 2] - '0');
				out[o++] = (char)(v > 255 ? '?' : v);
				i += 2;
				continue;
			}
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
}

/* ---- pieces ------------------------------------------------------------- */

/* Seconds, or BIND's units (1w2d3h4m5s), at most 2^31 - 1 (RFC 2181 §8). */
static bool parse_ttl(const char *s, size_t n, uint32_t *out)
{
	uint64_t total = 0, cur = 0;
	bool digits = false, units = false;
	for (size_t i = 0; i < n; i++) {
		if (isdigit((unsigned char)s[i])) {
			cur = cur * 10 + (uint64_t)(s[i] - '0');
			if (cur > ZF_MAX_TTL)
				return false;
			digits = true;
			continue;
		}
		uint64_t mult;
		switch (tolower((unsigned char)s[i])) {
		case 'w': mult = 604800; break;
		case 'd': mult = 86400; break;
		case 'h': mult = 3600; break;
		case 'm': mult = 60; break;
		case 's': mult = 1; break;
		default: return false;
		}
		if (!digits)
			return false;
		total += cur * mult;
		if (total > ZF_MAX_TTL)
			return false;
		cur = 0;
		digits = false;
		units = true;
	}
	if (!digits && !units)
		return false;
	total += cur;
	if (total > ZF_MAX_TTL)
		return false;
	*out = (uint32_t)total;
	return true;
}

/* A name token made absolute under origin ("@" is the origin). */
static ldns_rdf *parse_name(const char *tok, const ldns_rdf *origin, const char **why)
{
	if (strcmp(tok, "@") == 0) {
		if (!origin) {
			*why = "'@' needs an origin";
			return NULL;
		}
		return ldns_rdf_clone(origin);
	}
	ldns_rdf *n = ldns_dname_new_frm_str(tok);
	if (!n) {
		*why = "expected a domain name (labels of at most 63 bytes, 255 in all)";
		return NULL;
	}
	if (!ldns_dname_str_absolute(tok)) {
		if (!origin) {
			ldns_rdf_deep_free(n);
			*why = "a relative name needs an origin: end it with '.'";
			return NULL;
		}
		if (ldns_dname_cat(n, origin) != LDNS_STATUS_OK) {
			ldns_rdf_deep_free(n);
			*why = "the name is longer than 255 bytes once the origin is appended";
			return NULL;
		}
	}
	return n;
}

static char *read_file(const char *path, size_t *len, int *err)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	*err = 0;
	if (!f) {
		*err = errno;
		return NULL;
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		*err = EISDIR;
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 65536 * 2;
			char *p = realloc(buf, cap);
			if (!p) {
				*err = ENOMEM;
				break;
			}
			buf = p;
		}
		size_t got = fread(buf + n, 1, 65536, f);
		n += got;
		if (n > ZF_MAX_FILE) {
			*err = EFBIG;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				*err = EIO;
			break;
		}
	}
	fclose(f);
	if (*err) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- directives --------------------------------------------------------- */

static void process(zf_ctx_t *c, zf_state_t *st, const char *file, const char *buf, size_t len);

static void do_origin(zf_ctx_t *c, zf_state_t *st, const char *file, int line, const char *arg)
{
	const char *why = NULL;
	char want[300], got[300];
	ldns_rdf *n = parse_name(arg, st->origin, &why);
	if (!n) {
		char q[200];
		zf_err(c, file, line, "$ORIGIN", "bad origin %s: %s",
		       tw_quote(q, sizeof(q), arg, strlen(arg), 100), why);
		return;
	}
	name_text(n, got, sizeof(got));
	if (!c->z->origin) {
		/* The first $ORIGIN names the zone ($TTL may have come before). */
		uint32_t ttl = c->z->default_ttl;
		int rc = tw_dns_zone_init(c->z, got);
		c->z->default_ttl = ttl;
		if (rc != 0) {
			zf_err(c, file, line, "$ORIGIN", "bad origin %s", got);
			ldns_rdf_deep_free(n);
			return;
		}
		c->origin_checked = true;
	} else if (c->domain && !c->origin_checked && !c->seen_record) {
		c->origin_checked = true;
		if (ldns_dname_compare(n, c->domain) != 0) {
			name_text(c->domain, want, sizeof(want));
			zf_err(c, file, line, "$ORIGIN",
			       "$ORIGIN %s differs from the domain %s given on the command line: "
			       "expected the same zone (fix one of them)",
			       got, want);
			ldns_rdf_deep_free(n);
			return; /* keep reading under the given domain */
		}
	}
	ldns_rdf_deep_free(st->origin);
	st->origin = n;
}

static void do_include(zf_ctx_t *c, zf_state_t *st, const char *file, int line, const char *arg,
                       size_t arg_n, const char *origin_arg)
{
	char name[PATH_MAX], path[PATH_MAX + 1], q[300];
	if (c->mem) {
		zf_err(c, file, line, "$INCLUDE",
		       "$INCLUDE is not allowed here: the zone was not read from a file");
		return;
	}
	unquote(arg, arg_n, name, sizeof(name));
	if (!name[0]) {
		zf_err(c, file, line, "$INCLUDE", "missing file name: expected $INCLUDE <file>");
		return;
	}
	/* Relative to the including file's directory. */
	const char *slash = strrchr(file, '/');
	int n;
	if (name[0] == '/' || !slash)
		n = snprintf(path, sizeof(path), "%s", name);
	else
		n = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - file), file, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		zf_err(c, file, line, "$INCLUDE", "file name too long");
		return;
	}
	if (c->depth >= ZF_MAX_DEPTH) {
		zf_err(c, file, line, "$INCLUDE",
		       "includes nested more than %d files deep: expected fewer levels",
		       ZF_MAX_DEPTH);
		return;
	}
	zf_state_t child = {0};
	if (origin_arg) {
		const char *why = NULL;
		child.origin = parse_name(origin_arg, st->origin, &why);
		if (!child.origin) {
			zf_err(c, file, line, "$INCLUDE", "bad origin %s: %s",
			       tw_quote(q, sizeof(q), origin_arg, strlen(origin_arg), 100), why);
			return;
		}
	} else if (st->origin) {
		child.origin = ldns_rdf_clone(st->origin);
	}
	char *real = realpath(path, NULL);
	if (!real) {
		zf_err(c, file, line, "$INCLUDE", "cannot read %s: %s",
		       tw_quote(q, sizeof(q), path, strlen(path), 200), strerror(errno));
		state_release(&child);
		return;
	}
	for (int i = 0; i <= c->depth; i++) {
		if (c->stack[i] && strcmp(c->stack[i], real) == 0) {
			zf_err(c, file, line, "$INCLUDE",
			       "include loop: %s is already being read (it includes itself, "
			       "directly or through other files)",
			       tw_quote(q, sizeof(q), path, strlen(path), 200));
			free(real);
			state_release(&child);
			return;
		}
	}
	size_t len = 0;
	int err = 0;
	char *buf = read_file(path, &len, &err);
	if (!buf) {
		zf_err(c, file, line, "$INCLUDE", "cannot read %s: %s",
		       tw_quote(q, sizeof(q), path, strlen(path), 200),
		       err == EFBIG ? "larger than 64 MiB" : strerror(err));
		free(real);
		state_release(&child);
		return;
	}
	child.has_ttl = st->has_ttl;
	child.ttl = st->ttl;
	child.has_last = st->has_last;
	child.last = st->last;
	c->stack[++c->depth] = real;
	process(c, &child, path, buf, len);
	c->stack[c->depth--] = NULL;
	free(real);
	free(buf);
	state_release(&child);
}

static void do_directive(zf_ctx_t *c, zf_state_t *st, const char *file, int line, const char *e)
{
	size_t at[4], n[4], i = 0;
	int ntok = 0;
	char dir[32], a1[1100], a2[1100];
	while (ntok < 4) {
		i = next_tok(e, i, &at[ntok], &n[ntok]);
		if (n[ntok] == 0)
			break;
		ntok++;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)n[0], e + at[0]);
	if (c->one) {
		zf_err(c, file, line, dir, "expected a record, not a directive");
		return;
	}
	int nargs = ntok - 1;
	if (nargs >= 1)
		snprintf(a1, sizeof(a1), "%.*s", (int)n[1], e + at[1]);
	if (nargs >= 2)
		snprintf(a2, sizeof(a2), "%.*s", (int)n[2], e + at[2]);
	if (strcasecmp(dir, "$ORIGIN") == 0) {
		if (nargs != 1)
			zf_err(c, file, line, "$ORIGIN",
			       "expected one domain name: $ORIGIN example.com.");
		else
			do_origin(c, st, file, line, a1);
	} else if (strcasecmp(dir, "$TTL") == 0) {
		uint32_t ttl;
		char q[100];
		if (nargs != 1) {
			zf_err(c, file, line, "$TTL", "expected one TTL: $TTL 3600");
		} else if (!parse_ttl(a1, strlen(a1), &ttl)) {
			zf_err(c, file, line, "$TTL",
			       "bad TTL %s: expected seconds from 0 to 2147483647 (e.g. 3600) "
			       "or units like 1h30m",
			       tw_quote(q, sizeof(q), a1, strlen(a1), 40));
		} else {
			st->has_ttl = true;
			st->ttl = ttl;
			if (c->depth == 0 && !c->zone_ttl_set) {
				c->z->default_ttl = ttl;
				c->zone_ttl_set = true;
			}
		}
	} else if (strcasecmp(dir, "$INCLUDE") == 0) {
		if (nargs < 1 || nargs > 2)
			zf_err(c, file, line, "$INCLUDE",
			       "expected a file name and an optional origin: $INCLUDE file "
			       "[origin]");
		else
			do_include(c, st, file, line, e + at[1], n[1], nargs == 2 ? a2 : NULL);
	} else {
		char q[64];
		zf_err(c, file, line, "",
		       "unknown directive %s: expected $ORIGIN, $TTL or $INCLUDE",
		       tw_quote(q, sizeof(q), dir, strlen(dir), 20));
	}
}

/* ---- records ------------------------------------------------------------ */

static bool is_meta_type(uint16_t t)
{
	/* OPT and the query-only types (RFC 6895 §3.1) never appear in a zone. */
	return t == 0 || t == LDNS_RR_TYPE_OPT || (t >= 249 && t <= 255);
}

/* Whether a TXT's quoted strings include one over 255 bytes (RFC 1035
 * §3.3), to say so instead of ldns's generic rdata error. */
static bool txt_string_too_long(const char *s)
{
	bool inq = false;
	size_t n = 0;
	for (; *s; s++) {
		if (!inq) {
			if (*s == '"') {
				inq = true;
				n = 0;
			}
			continue;
		}
		if (*s == '"') {
			inq = false;
			continue;
		}
		if (*s == '\\' && s[1]) {
			s++;
			if (isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
			    isdigit((unsigned char)s[2]))
				s += 2;
		}
		if (++n > 255)
			return true;
	}
	return false;
}

/*
 * ldns 1.8.3 leaks memory when an IPSECKEY record (RFC 4025 §3.1) fails to
 * parse after its gateway, so its fields are checked first with ldns's own
 * field parsers and ldns only sees ones it will accept. NULL if fine.
 */
static const char *ipseckey_check(const char *rest)
{
	static const ldns_rdf_type gw[] = {LDNS_RDF_TYPE_NONE, LDNS_RDF_TYPE_A, LDNS_RDF_TYPE_AAAA,
	                                   LDNS_RDF_TYPE_DNAME};
	char f[6][512];
	size_t i = 0, at, n;
	int k;
	for (k = 0; k < 6; k++) {
		i = next_tok(rest, i, &at, &n);
		if (n == 0)
			break;
		if (n >= sizeof(f[k]))
			return "a field is too long";
		snprintf(f[k], sizeof(f[k]), "%.*s", (int)n, rest + at);
	}
	if (k != 5)
		return "expected precedence, gateway type, algorithm, gateway and one base64 key";
	for (int j = 0; j < 3; j++) {
		size_t len = strlen(f[j]);
		if (len == 0 || len > 3 || strspn(f[j], "0123456789") != len || atoi(f[j]) > 255)
			return "precedence, gateway type and algorithm are numbers from 0 to 255";
	}
	int t = atoi(f[1]);
	if (t > 3)
		return "the gateway type is 0 (none), 1 (IPv4), 2 (IPv6) or 3 (a name)";
	if (t == 0 && strcmp(f[3], ".") != 0)
		return "gateway type 0 needs \".\" as the gateway";
	ldns_rdf *r;
	if (t > 0) {
		r = ldns_rdf_new_frm_str(gw[t], f[3]);
		if (!r)
			return "the gateway does not match its type";
		ldns_rdf_deep_free(r);
	}
	r = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_B64, f[4]);
	if (!r)
		return "the public key is not base64";
	ldns_rdf_deep_free(r);
	return NULL;
}

/*
 * Whether a parsed record is whole and its canonical text (what is written
 * and compared) reads back to the same data. ldns accepts RFC 3597 generic
 * data that stops short of the type's fields ("MX \\# 0"), and a record that
 * would change on the way back must not be planned from. NULL if fine.
 */
static const char *readback_check(const tw_dns_rr_t *r, char *why, size_t size)
{
	const ldns_rr_descriptor *desc = ldns_rr_descript(r->type);
	if (desc && ldns_rr_descriptor_minimum(desc) > ldns_rr_rd_count(r->rr)) {
		snprintf(why, size, "incomplete data: %zu of at least %zu fields",
		         ldns_rr_rd_count(r->rr), ldns_rr_descriptor_minimum(desc));
		return why;
	}
	for (size_t i = 0; i < ldns_rr_rd_count(r->rr); i++)
		if (!ldns_rr_rdf(r->rr, i))
			return "incomplete data";
	if (r->txt) /* written by our own quoting, tested apart */
		return NULL;
	char tn[32];
	size_t sz = strlen(r->rdata) + 64;
	char *text = malloc(sz);
	if (!text)
		return NULL;
	snprintf(text, sz, ". 0 IN %s %s", tw_dns_type_name(r->type, tn, sizeof(tn)), r->rdata);
	ldns_rr *back = NULL;
	ldns_status st = ldns_rr_new_frm_str(&back, text, 0, NULL, NULL);
	free(text);
	bool same =
	        st == LDNS_STATUS_OK && back && ldns_rr_rd_count(back) == ldns_rr_rd_count(r->rr);
	for (size_t i = 0; same && i < ldns_rr_rd_count(back); i++) {
		const ldns_rdf *x = ldns_rr_rdf(back, i), *y = ldns_rr_rdf(r->rr, i);
		/* names were lower-cased in the text */
		if (x && ldns_rdf_get_type(x) == LDNS_RDF_TYPE_DNAME &&
		    ldns_rdf_get_type(y) == LDNS_RDF_TYPE_DNAME)
			same = ldns_dname_compare(x, y) == 0;
		else
			same = x && ldns_rdf_compare(x, y) == 0;
	}
	if (back)
		ldns_rr_free(back);
	if (!same) {
		snprintf(why, size,
		         "ldns does not read its own text of this record back the same (%s)",
		         r->rdata);
		return why;
	}
	return NULL;
}

static void do_record(zf_ctx_t *c, zf_state_t *st, const char *file, int line, bool blank,
                      const char *e)
{
	size_t at, n, i = 0;
	char q[200], field[400], owner_s[300], tok[1100], type_s[64];
	ldns_rdf *owner = NULL;
	const char *why = NULL;

	c->seen_record = true;
	c->nrec++;
	if (c->one && c->nrec > 1) {
		zf_err(c, file, line, "", "expected one record, found more");
		return;
	}
	if (!c->z->origin) {
		zf_err(c, file, line, "",
		       "no origin: add \"$ORIGIN example.com.\" before the first record or "
		       "pass --domain");
		c->stop = true;
		return;
	}
	if (blank) {
		if (!st->prev) {
			zf_err(c, file, line, "",
			       c->one ? "missing owner name: expected the record to start with a "
			                "name"
			              : "no owner: the line starts with a blank, which means the "
			                "previous record's name, and there is none in this file");
			return;
		}
		owner = ldns_rdf_clone(st->prev);
	} else {
		i = next_tok(e, i, &at, &n);
		snprintf(tok, sizeof(tok), "%.*s", (int)n, e + at);
		owner = n < sizeof(tok) ? parse_name(tok, st->origin, &why) : NULL;
		if (n >= sizeof(tok))
			why = "longer than a domain name can be";
		if (!owner) {
			zf_err(c, file, line, "", "bad owner name %s: %s",
			       tw_quote(q, sizeof(q), tok, strlen(tok), 100), why);
			return;
		}
		ldns_rdf_deep_free(st->prev);
		st->prev = ldns_rdf_clone(owner);
	}
	name_text(owner, owner_s, sizeof(owner_s));

	/* [TTL] [CLASS] TYPE in either order (RFC 1035 §5.1). */
	bool have_ttl = false, have_class = false;
	uint32_t ttl = 0;
	for (;;) {
		i = next_tok(e, i, &at, &n);
		snprintf(tok, sizeof(tok), "%.*s", (int)n, e + at);
		if (n == 0) {
			zf_err(c, file, line, owner_s,
			       "missing record type: expected e.g. A, MX or TXT");
			goto out;
		}
		if (n >= sizeof(tok)) {
			zf_err(c, file, line, owner_s,
			       "a %zu-byte word where a TTL, class or type was expected", n);
			goto out;
		}
		if (!have_ttl && isdigit((unsigned char)tok[0])) {
			if (!parse_ttl(tok, strlen(tok), &ttl)) {
				zf_err(c, file, line, owner_s,
				       "bad TTL %s: expected seconds from 0 to 2147483647 (e.g. "
				       "3600) "
				       "or units like 1h30m",
				       tw_quote(q, sizeof(q), tok, strlen(tok), 40));
				goto out;
			}
			have_ttl = true;
			continue;
		}
		/* "ANY" names a class and a type: taken as the type. */
		ldns_rr_class cls =
		        ldns_get_rr_type_by_name(tok) ? 0 : ldns_get_rr_class_by_name(tok);
		if (!have_class && cls != 0) {
			if (cls != LDNS_RR_CLASS_IN) {
				zf_err(c, file, line, owner_s,
				       "class %s is not supported: expected IN (or no class)",
				       tw_quote(q, sizeof(q), tok, strlen(tok), 20));
				goto out;
			}
			have_class = true;
			continue;
		}
		break;
	}
	uint16_t type = n < sizeof(type_s) ? ldns_get_rr_type_by_name(tok) : 0;
	if (type == 0) {
		zf_err(c, file, line, owner_s,
		       "unknown record type %s: expected a type like A, AAAA, MX, TXT or TYPEnnn",
		       tw_quote(q, sizeof(q), tok, strlen(tok), 40));
		goto out;
	}
	tw_dns_type_name(type, type_s, sizeof(type_s));
	snprintf(field, sizeof(field), "%s %s", owner_s, type_s);
	if (is_meta_type(type)) {
		zf_err(c, file, line, field, "%s is a query type, not a record type", type_s);
		goto out;
	}
	if (!tw_dns_type_managed(type)) {
		zf_err(c, file, line, field,
		       "tailwart dns doesn't manage %s records: it manages " TW_DNS_MANAGED_TYPES
		       "; leave %s out of the file (in the live zone it is left alone)",
		       type_s, type_s);
		goto out;
	}
	while (e[i] == ' ' || e[i] == '\t')
		i++;
	const char *rest = e + i;
	if (!*rest) {
		zf_err(c, file, line, field, "missing data: expected the %s record's value",
		       type_s);
		goto out;
	}

	if (type == LDNS_RR_TYPE_IPSECKEY && (why = ipseckey_check(rest)) != NULL) {
		zf_err(c, file, line, field, "bad IPSECKEY data: %s", why);
		goto out;
	}

	if (have_ttl) {
		st->has_last = true;
		st->last = ttl;
	} else if (st->has_ttl) {
		ttl = st->ttl;
	} else if (st->has_last) {
		ttl = st->last;
	} else {
		zf_err(c, file, line, field,
		       "no TTL: the record has none and there is no $TTL before it; add "
		       "\"$TTL 3600\" at the top or give the record a TTL");
		goto out;
	}

	/* ldns parses the data with the current origin for relative names; the
	 * owner, already resolved, is put in after. */
	size_t sz = strlen(rest) + 64;
	char *text = malloc(sz);
	if (!text) {
		zf_err(c, file, line, field, "out of memory");
		c->stop = true;
		goto out;
	}
	snprintf(text, sz, "@ %" PRIu32 " IN %s %s", ttl, type_s, rest);
	ldns_rr *rr = NULL;
	ldns_status s = ldns_rr_new_frm_str(&rr, text, 0, st->origin, NULL);
	free(text);
	if (s != LDNS_STATUS_OK || !rr) {
		char es[160];
		tw_strlcpy(es, ldns_get_errorstr_by_id(s) ? ldns_get_errorstr_by_id(s) : "error",
		           sizeof(es));
		es[0] = (char)tolower((unsigned char)es[0]);
		if ((type == LDNS_RR_TYPE_TXT || type == LDNS_RR_TYPE_SPF) &&
		    txt_string_too_long(rest))
			zf_err(c, file, line, field,
			       "a quoted string is longer than 255 bytes: split it into several "
			       "quoted strings (\"...\" \"...\")");
		else
			zf_err(c, file, line, field, "bad %s data %s: %s", type_s,
			       tw_quote(q, sizeof(q), rest, strlen(rest), 80), es);
		if (rr)
			ldns_rr_free(rr);
		goto out;
	}
	ldns_rdf_deep_free(ldns_rr_owner(rr));
	ldns_rr_set_owner(rr, owner);
	owner = NULL;
	size_t before = c->d->n;
	int rc = tw_dns_zone_add_rr(c->z, rr, file, line, c->flags, c->d);
	char why_buf[300];
	if (rc == 0 && (why = readback_check(&c->z->v[c->z->n - 1], why_buf, sizeof(why_buf)))) {
		tw_dns_rr_t *r = &c->z->v[--c->z->n];
		zf_err(c, file, line, field, "bad %s data: %s", type_s, why);
		free(r->owner);
		free(r->rdata);
		free(r->txt);
		ldns_rr_free(r->rr);
		rc = TW_EINVAL;
	}
	if (rc == TW_ENOMEM && c->d->n == before) {
		zf_err(c, file, line, field, "out of memory");
		c->stop = true;
	}
	if (rc != 0 && nerrors(c) > ZF_MAX_ERRORS && !c->stop) {
		/* add_rr's diag was one too many: say that we stopped instead. */
		c->d->n--;
		tw_diag_add(c->d, file, line, "", "too many errors: stopped after %d",
		            ZF_MAX_ERRORS);
		c->stop = true;
	}
out:
	ldns_rdf_deep_free(owner);
}

static void process(zf_ctx_t *c, zf_state_t *st, const char *file, const char *buf, size_t len)
{
	zf_reader_t r = {.buf = buf, .len = len, .line = c->fixed ? c->fixed_line : 1};
	tw_sbuf_t e = {0};
	int line;
	bool blank;
	while (!c->stop && next_entry(c, file, &r, &e, &line, &blank)) {
		if (c->fixed)
			line = c->fixed_line;
		if (!blank && e.s[0] == '$')
			do_directive(c, st, file, line, e.s);
		else
			do_record(c, st, file, line, blank, e.s);
	}
	free(e.s);
}

/* ---- whole loads -------------------------------------------------------- */

static int dup_cmp(const void *pa, const void *pb)
{
	const tw_dns_rr_t *a = *(const tw_dns_rr_t *const *)pa,
	                  *b = *(const tw_dns_rr_t *const *)pb;
	int r = strcmp(a->owner, b->owner);
	if (r)
		return r;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->txt && b->txt) {
		size_t n = a->txt_len < b->txt_len ? a->txt_len : b->txt_len;
		r = memcmp(a->txt, b->txt, n);
		if (r)
			return r;
		if (a->txt_len != b->txt_len)
			return a->txt_len < b->txt_len ? -1 : 1;
	} else {
		r = strcmp(a->rdata, b->rdata);
		if (r)
			return r;
	}
	return a < b ? -1 : a > b; /* load order: records are in z->v */
}

/* Identical records are an error naming both lines: a provider stores one,
 * so the zone read back would differ from the file. */
static void check_duplicates(zf_ctx_t *c)
{
	tw_dns_zone_t *z = c->z;
	if (z->n < 2)
		return;
	const tw_dns_rr_t **v = malloc(z->n * sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < z->n; i++)
		v[i] = &z->v[i];
	qsort(v, z->n, sizeof(*v), dup_cmp);
	size_t first = 0;
	for (size_t i = 1; i < z->n && !c->stop; i++) {
		if (!tw_dns_rr_same_data(v[first], v[i])) {
			first = i;
			continue;
		}
		char tn[32], field[300];
		snprintf(field, sizeof(field), "%s %s", v[i]->owner,
		         tw_dns_type_name(v[i]->type, tn, sizeof(tn)));
		zf_err(c, v[i]->file, v[i]->line, field,
		       "duplicate record: the same data is already at %s:%d; remove one (a "
		       "provider keeps one copy, so the zone read back would differ)",
		       v[first]->file ? v[first]->file : "?", v[first]->line);
	}
	free(v);
}

typedef struct zf_src {
	const char *name;
	const char *buf;
	size_t len;
} zf_src_t;

static int load_common(tw_dns_zone_t *z, const char *path, const zf_src_t *mem, const char *domain,
                       tw_diags_t *d)
{
	zf_ctx_t c = {.z = z, .d = d, .d0 = d->n, .mem = mem != NULL};
	zf_state_t st = {0};
	char q[300];
	memset(z, 0, sizeof(*z));
	z->default_ttl = 3600;
	if (domain) {
		if (tw_dns_zone_init(z, domain) != 0) {
			tw_diag_add(d, mem ? mem->name : path, 0, "--domain",
			            "bad domain %s: expected a name like example.com",
			            tw_quote(q, sizeof(q), domain, strlen(domain), 100));
			return TW_EINVAL;
		}
		c.domain = ldns_dname_new_frm_str(z->origin);
		st.origin = ldns_dname_new_frm_str(z->origin);
		if (!c.domain || !st.origin) {
			ldns_rdf_deep_free(c.domain);
			state_release(&st);
			return TW_ENOMEM;
		}
	}
	const char *file = mem ? mem->name : path;
	if (mem) {
		process(&c, &st, file, mem->buf, mem->len);
	} else {
		size_t len = 0;
		int err = 0;
		char *buf = read_file(path, &len, &err);
		if (!buf) {
			tw_diag_add(d, path, 0, "", "cannot read the zone file: %s",
			            err == EFBIG ? "larger than 64 MiB" : strerror(err));
		} else {
			c.stack[0] = realpath(path, NULL);
			process(&c, &st, file, buf, len);
			free(c.stack[0]);
			free(buf);
		}
	}
	if (!z->origin && !c.stop)
		tw_diag_add(d, file, 0, "",
		            "no origin: add \"$ORIGIN example.com.\" at the top of the file or "
		            "pass --domain");
	if (!c.stop)
		check_duplicates(&c);
	ldns_rdf_deep_free(c.domain);
	state_release(&st);
	return d->n > c.d0 ? TW_EINVAL : 0;
}

int tw_dns_zone_load(tw_dns_zone_t *z, const char *path, const char *domain, tw_diags_t *d)
{
	return load_common(z, path, NULL, domain, d);
}

int tw_dns_zone_load_mem(tw_dns_zone_t *z, const char *name, const char *buf, size_t len,
                         const char *domain, tw_diags_t *d)
{
	zf_src_t m = {.name = name ? name : "-", .buf = buf, .len = len};
	return load_common(z, NULL, &m, domain, d);
}

int tw_dns_zone_add_text(tw_dns_zone_t *z, const char *text, const char *file, int line,
                         unsigned flags, tw_diags_t *d)
{
	zf_ctx_t c = {.z = z,
	              .d = d,
	              .d0 = d->n,
	              .mem = true,
	              .one = true,
	              .flags = flags,
	              .fixed = true,
	              .fixed_line = line};
	zf_state_t st = {.has_ttl = true, .ttl = z->default_ttl};
	if (!z->origin || !text)
		return TW_EINVAL;
	st.origin = ldns_dname_new_frm_str(z->origin);
	if (!st.origin)
		return TW_ENOMEM;
	process(&c, &st, file, text, strlen(text));
	if (c.nrec == 0 && d->n == c.d0)
		tw_diag_add(d, file, line, "", "empty record: expected owner [TTL] [IN] type data");
	state_release(&st);
	return d->n > c.d0 ? TW_EINVAL : 0;
}
