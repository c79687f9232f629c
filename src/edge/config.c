#include "util/tw.h"

#include "edge/config.h"
#include "util/duration.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <net/if.h>

#define CFG_MAX_BYTES  (1u << 20)
#define CFG_MAX_DEPTH  32
#define CFG_MAX_ERRORS 100
#define CFG_MAX_CONN   10000000u
#define CFG_MAX_STR    4096

static const char *const proto_names[] = {
        [TW_PROTO_TCP] = "tcp",
        [TW_PROTO_SMTP] = "smtp",
        [TW_PROTO_SUBMISSION] = "submission",
        [TW_PROTO_SUBMISSIONS] = "submissions",
        [TW_PROTO_IMAP] = "imap",
        [TW_PROTO_IMAPS] = "imaps",
        [TW_PROTO_POP3] = "pop3",
        [TW_PROTO_POP3S] = "pop3s",
        [TW_PROTO_SIEVE] = "sieve",
        [TW_PROTO_TLS] = "tls",
};
/* The order users read in messages. */
static const char *const proto_list = "smtp, submission, submissions, imap, imaps, pop3, pop3s, "
                                      "sieve, tls, tcp";

const char *tw_proto_name(tw_proto_t p)
{
	if ((unsigned)p < TW_ARRAY_LEN(proto_names))
		return proto_names[p];
	return "?";
}

bool tw_proto_is_mail(tw_proto_t p)
{
	return p != TW_PROTO_TLS && p != TW_PROTO_TCP && (unsigned)p < TW_ARRAY_LEN(proto_names);
}

int tw_proto_parse(const char *name, tw_proto_t *out)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(proto_names); i++)
		if (strcmp(name, proto_names[i]) == 0) {
			*out = (tw_proto_t)i;
			return 0;
		}
	return TW_EINVAL;
}

/* ---- the YAML tree: built from libfyaml events, which carry line marks --- */

enum ytype { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ytype type;
	int line;   /* 1-based; a value with no mark gets its key's line */
	bool null;  /* unquoted "", "~" or "null" */
	bool bad;   /* already reported (alias, tag): stay quiet about it */
	char *text; /* scalar, NUL-terminated copy */
	size_t len;
	struct ynode **kid; /* map: key, value, key, value, ... */
	size_t n, cap;
};

struct ctx {
	const char *file;
	tw_diags_t *d;
	tw_config_t *c;
	size_t nerr;
	bool oom, capped;
};

static void cerr(struct ctx *x, int line, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void cerr(struct ctx *x, int line, const char *field, const char *fmt, ...)
{
	if (++x->nerr > CFG_MAX_ERRORS) {
		x->capped = true;
		return;
	}
	char m[sizeof(((tw_diag_t *)0)->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	tw_diag_add(x->d, x->file, line, field, "%s", m);
}

/* User text in a message: quoted, escaped, cut short. */
static const char *qs(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;
	buf[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < size; i++) {
		if (i == 60) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
#define QS(buf, s) qs(buf, sizeof(buf), (s), strlen(s))

static char *xdup(struct ctx *x, const char *s)
{
	char *p = strdup(s);
	if (!p)
		x->oom = true;
	return p;
}

static void *xcalloc(struct ctx *x, size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		x->oom = true;
	return p;
}

static void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		ynode_free(n->kid[i]);
	free(n->kid);
	free(n->text);
	free(n);
}

static bool ynode_add(struct ynode *p, struct ynode *k)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct ynode **v = realloc(p->kid, cap * sizeof(*v));
		if (!v)
			return false;
		p->kid = v;
		p->cap = cap;
	}
	p->kid[p->n++] = k;
	return true;
}

static void fy_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
}

/* Offset of the first byte that is not well-formed UTF-8, or len. */
static size_t utf8_bad(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i], n = 9; /* continuation bytes that follow; 9: never valid */
		if (c < 0x80)
			n = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if ((c & 0xf0) == 0xe0)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		if (n == 9 || i + n >= len)
			return i;
		for (unsigned k = 1; k <= n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		/* overlong 3- and 4-byte forms, surrogates, above U+10FFFF */
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90))
			return i;
		i += n + 1;
	}
	return len;
}

/* Returns the root (NULL for an empty document); *ok false on a syntax error. */
static struct ynode *yaml_build(struct ctx *x, const char *text, size_t len, bool *ok)
{
	struct ynode *root = NULL, *stack[CFG_MAX_DEPTH];
	size_t depth = 0;
	int docs = 0;
	bool stop = false;
	*ok = false;
	/* libfyaml 0.7.12 loops forever on some invalid UTF-8 after a "%"
	 * directive, and a config is text anyway: check before parsing. */
	size_t bad = utf8_bad((const unsigned char *)text, len);
	if (bad < len) {
		int bl = 1;
		for (size_t i = 0; i < bad; i++)
			bl += text[i] == '\n';
		cerr(x, bl, "", "not valid UTF-8: byte 0x%02x at offset %zu",
		     (unsigned char)text[bad], bad);
		return NULL;
	}
	struct fy_diag_cfg dc;
	fy_diag_cfg_default(&dc);
	dc.fp = NULL;
	dc.output_fn = fy_sink;
	dc.colorize = false;
	struct fy_diag *diag = fy_diag_create(&dc);
	if (!diag) {
		x->oom = true;
		return NULL;
	}
	fy_diag_set_collect_errors(diag, true);
	struct fy_parse_cfg pc = {.flags = FYPCF_QUIET, .diag = diag};
	struct fy_parser *fyp = fy_parser_create(&pc);
	if (!fyp || fy_parser_set_string(fyp, text, len) != 0) {
		x->oom = true;
		goto out;
	}
	struct fy_event *ev;
	while (!stop && (ev = fy_parser_parse(fyp))) {
		const struct fy_mark *mk = fy_event_start_mark(ev);
		int line = mk ? mk->line + 1 : 0;
		enum fy_event_type t = ev->type;
		struct fy_token *tag = t == FYET_SCALAR           ? ev->scalar.tag
		                       : t == FYET_MAPPING_START  ? ev->mapping_start.tag
		                       : t == FYET_SEQUENCE_START ? ev->sequence_start.tag
		                                                  : NULL;
		if (t == FYET_DOCUMENT_START && ++docs > 1) {
			cerr(x, line, "", "more than one yaml document: put everything in one");
			stop = true;
		} else if (t == FYET_MAPPING_END || t == FYET_SEQUENCE_END) {
			depth--;
		} else if (t == FYET_SCALAR || t == FYET_ALIAS || t == FYET_MAPPING_START ||
		           t == FYET_SEQUENCE_START) {
			struct ynode *n = calloc(1, sizeof(*n));
			struct ynode *p = depth ? stack[depth - 1] : NULL;
			if (!n || (p && !ynode_add(p, n))) {
				free(n);
				x->oom = stop = true;
				fy_parser_event_free(fyp, ev);
				break;
			}
			if (!p)
				root = n;
			/* A mapping's value is reported at its key's line: that is where
			 * "sni:" was written, even when its value starts a line below. */
			bool is_value = p && p->type == Y_MAP && p->n % 2 == 0;
			n->line = is_value ? p->kid[p->n - 2]->line : line ? line : p ? p->line : 1;
			n->type = t == FYET_MAPPING_START    ? Y_MAP
			          : t == FYET_SEQUENCE_START ? Y_SEQ
			                                     : Y_SCALAR;
			if (t == FYET_ALIAS) {
				cerr(x, n->line, "",
				     "yaml aliases are not supported: write the value out");
				n->bad = true;
			} else if (tag) {
				cerr(x, n->line, "",
				     "yaml tags are not supported: remove the \"!\" tag");
				n->bad = true;
			}
			if (t == FYET_SCALAR || t == FYET_ALIAS) {
				size_t tl = 0;
				const char *tx = t == FYET_SCALAR
				                         ? fy_token_get_text(ev->scalar.value, &tl)
				                         : NULL;
				n->text = malloc(tl + 1);
				if (!n->text) {
					x->oom = stop = true;
				} else {
					if (tl)
						memcpy(n->text, tx, tl);
					n->text[tl] = '\0';
					n->len = tl;
				}
				bool plain = t == FYET_SCALAR &&
				             fy_token_scalar_style(ev->scalar.value) == FYSS_PLAIN;
				n->null =
				        t == FYET_ALIAS || (plain && n->text &&
				                            (tl == 0 || strcmp(n->text, "~") == 0 ||
				                             strcmp(n->text, "null") == 0 ||
				                             strcmp(n->text, "Null") == 0 ||
				                             strcmp(n->text, "NULL") == 0));
			} else if (depth == CFG_MAX_DEPTH) {
				cerr(x, line, "", "nesting too deep: the most is %d levels",
				     CFG_MAX_DEPTH);
				stop = true;
			} else {
				stack[depth++] = n;
			}
		}
		fy_parser_event_free(fyp, ev);
	}
	if (fy_parser_get_stream_error(fyp)) {
		void *it = NULL;
		struct fy_diag_error *e;
		size_t before = x->d->n;
		while ((e = fy_diag_errors_iterate(diag, &it))) {
			cerr(x, e->line > 0 ? e->line : 0, "", "yaml syntax error: %s",
			     e->msg ? e->msg : "invalid yaml");
			if (x->d->n > before && e->column > 0)
				x->d->v[x->d->n - 1].col = e->column;
		}
		if (x->d->n == before)
			cerr(x, 0, "", "yaml syntax error");
	} else if (!stop && !x->oom) {
		*ok = true;
	}
out:
	if (fyp)
		fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return root;
}

/* ---- typed reading of nodes ---- */

static void pkey(char *out, size_t size, const char *base, const char *key)
{
	size_t o = 0;
	if (base[0])
		o = (size_t)snprintf(out, size, "%s.", base);
	for (; *key && o + 1 < size; key++)
		out[o++] = (*key < 0x20 || *key == 0x7f) ? '?' : *key;
	out[o < size ? o : size - 1] = '\0';
}

/* base[i], or base[TEXT] when text is given; a cut path ends in "...". */
static void pidx(char *out, size_t size, const char *base, size_t i, const char *text)
{
	char num[24];
	int r = snprintf(num, sizeof(num), "%zu", i);
	r = snprintf(out, size, "%s[%s]", base, text ? text : r > 0 ? num : "?");
	if ((r < 0 || (size_t)r >= size) && size > 4)
		memcpy(out + size - 4, "...", 4);
}

static const char *kind(const struct ynode *n)
{
	return n->type == Y_MAP ? "a mapping" : n->type == Y_SEQ ? "a list" : "nothing";
}

static bool want(struct ctx *x, const struct ynode *n, enum ytype t, const char *path,
                 const char *what)
{
	char q[96];
	if (n->bad)
		return false;
	if (n->type == t && !(t == Y_SCALAR && n->null))
		return true;
	if (n->type == Y_SCALAR && !n->null)
		cerr(x, n->line, path, "expected %s, got %s", what,
		     qs(q, sizeof(q), n->text, n->len));
	else
		cerr(x, n->line, path, "expected %s, got %s", what, kind(n));
	return false;
}

/* Levenshtein plus adjacent swaps ("mial" is one step from "mail"). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	uint8_t m[33][33];
	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			size_t v = i == 0   ? j
			           : j == 0 ? i
			                    : m[i - 1][j - 1] + (size_t)(a[i - 1] != b[j - 1]);
			if (i && j && m[i - 1][j] + 1u < v)
				v = m[i - 1][j] + 1u;
			if (i && j && m[i][j - 1] + 1u < v)
				v = m[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    m[i - 2][j - 2] + 1u < v)
				v = m[i - 2][j - 2] + 1u;
			m[i][j] = (uint8_t)v;
		}
	return m[la][lb];
}

/* The closest of names[] to s, if close enough to be a likely typo. */
static const char *suggest(const char *s, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bd = SIZE_MAX, limit = (strlen(s) + 1) / 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = names[i] ? edit_distance(s, names[i]) : SIZE_MAX;
		if (d < bd) {
			bd = d;
			best = names[i];
		}
	}
	return bd <= limit && bd <= 3 ? best : NULL;
}

static void join(char *out, size_t size, const char *const *names, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", i ? ", " : "", names[i]);
}

/* Checks n is a mapping whose keys are all in keys[]; vals[i] gets the value
 * of keys[i] or NULL. */
static bool map_keys(struct ctx *x, const struct ynode *n, const char *path, const char *what,
                     const char *const *keys, size_t nk, const struct ynode **vals)
{
	char q[96], list[384];
	memset(vals, 0, nk * sizeof(*vals));
	if (!want(x, n, Y_MAP, path, what))
		return false;
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->kid[i];
		if (k->bad)
			continue;
		if (k->type != Y_SCALAR || k->null) {
			cerr(x, k->line, path, "expected a key name, got %s", kind(k));
			continue;
		}
		size_t j;
		for (j = 0; j < nk && strcmp(keys[j], k->text) != 0; j++)
			;
		if (j == nk) {
			const char *s = suggest(k->text, keys, nk);
			qs(q, sizeof(q), k->text, k->len);
			if (s) {
				cerr(x, k->line, path, "unknown key %s (did you mean \"%s\"?)", q,
				     s);
			} else {
				join(list, sizeof(list), keys, nk);
				cerr(x, k->line, path, "unknown key %s: expected one of %s", q,
				     list);
			}
		} else if (vals[j]) {
			cerr(x, k->line, path, "duplicate key \"%s\" (first at line %d)", keys[j],
			     vals[j]->line);
		} else {
			vals[j] = n->kid[i + 1];
		}
	}
	return true;
}

static bool get_str(struct ctx *x, const struct ynode *n, const char *path, char **out)
{
	if (!want(x, n, Y_SCALAR, path, "a string"))
		return false;
	if (n->len == 0) {
		cerr(x, n->line, path, "expected a string, got an empty one");
		return false;
	}
	if (n->len > CFG_MAX_STR || memchr(n->text, '\0', n->len)) {
		cerr(x, n->line, path, "expected a string of 1 to %d characters without NUL bytes",
		     CFG_MAX_STR);
		return false;
	}
	free(*out);
	*out = xdup(x, n->text);
	return *out != NULL;
}

/* Names end up in log lines and admin API paths: keep them plain. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 63 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789._-:@[]") == n;
}

static bool get_name(struct ctx *x, const struct ynode *n, const char *path, char **out)
{
	char q[96];
	if (!want(x, n, Y_SCALAR, path, "a name"))
		return false;
	if (!name_ok(n->text) || strlen(n->text) != n->len) {
		cerr(x, n->line, path,
		     "expected a name of letters, digits and . _ - : @ (at most 63), got %s",
		     qs(q, sizeof(q), n->text, n->len));
		return false;
	}
	free(*out);
	*out = xdup(x, n->text);
	return *out != NULL;
}

static bool get_bool(struct ctx *x, const struct ynode *n, const char *path, bool *out)
{
	char q[96];
	if (!want(x, n, Y_SCALAR, path, "true or false"))
		return false;
	if (strcmp(n->text, "true") != 0 && strcmp(n->text, "false") != 0) {
		cerr(x, n->line, path, "expected true or false, got %s",
		     qs(q, sizeof(q), n->text, n->len));
		return false;
	}
	*out = n->text[0] == 't';
	return true;
}

static bool get_uint(struct ctx *x, const struct ynode *n, const char *path, uint64_t min,
                     uint64_t max, uint64_t *out)
{
	char q[96];
	if (!want(x, n, Y_SCALAR, path, "a whole number"))
		return false;
	if (n->len == 0 || n->len > 19 || strspn(n->text, "0123456789") != n->len) {
		cerr(x, n->line, path, "expected a whole number from %llu to %llu, got %s",
		     (unsigned long long)min, (unsigned long long)max,
		     qs(q, sizeof(q), n->text, n->len));
		return false;
	}
	uint64_t v = strtoull(n->text, NULL, 10);
	if (v < min || v > max) {
		cerr(x, n->line, path, "%llu is out of range: expected %llu to %llu",
		     (unsigned long long)v, (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

static bool get_dur(struct ctx *x, const struct ynode *n, const char *path, bool zero_ok,
                    uint64_t *out)
{
	char e[256];
	uint64_t v;
	if (!want(x, n, Y_SCALAR, path, "a duration like 30s"))
		return false;
	if (tw_duration_parse(n->text, n->len, &v, e, sizeof(e)) < 0) {
		cerr(x, n->line, path, "%s", e);
		return false;
	}
	if (v == 0 && !zero_ok) {
		cerr(x, n->line, path, "expected a duration above zero, like 30s, got \"%s\"",
		     n->text);
		return false;
	}
	*out = v;
	return true;
}

static bool get_enum(struct ctx *x, const struct ynode *n, const char *path,
                     const char *const *names, size_t nn, int *out)
{
	char q[96], list[256];
	join(list, sizeof(list), names, nn);
	if (!want(x, n, Y_SCALAR, path, "a word"))
		return false;
	for (size_t i = 0; i < nn; i++)
		if (names[i] && strcmp(names[i], n->text) == 0) {
			*out = (int)i;
			return true;
		}
	cerr(x, n->line, path, "expected one of %s, got %s", list,
	     qs(q, sizeof(q), n->text, n->len));
	return false;
}

static bool get_listen(struct ctx *x, const struct ynode *n, const char *path,
                       struct sockaddr_storage *ss, socklen_t *sl)
{
	char e[384];
	if (!want(x, n, Y_SCALAR, path, "an address like 0.0.0.0:25"))
		return false;
	if (strlen(n->text) != n->len || tw_addr_parse_listen(n->text, ss, sl, e, sizeof(e)) < 0) {
		cerr(x, n->line, path, "%s", strlen(n->text) != n->len ? "NUL byte in address" : e);
		return false;
	}
	if (tw_addr_port((struct sockaddr *)ss) == 0) {
		cerr(x, n->line, path, "port 0 is not allowed: give the port to listen on");
		return false;
	}
	return true;
}

static bool sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* The listener among c's that already binds ss. Two sockets bound to the same
 * address with SO_REUSEPORT would silently split the connections, so this
 * must be caught here; 0.0.0.0:25 next to [::]:25 is fine (v6only). */
static const tw_cfg_listener_t *bind_owner(const tw_config_t *c, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < c->n_listeners; i++)
		for (size_t j = 0; j < c->listeners[i].n_binds; j++)
			if (sa_equal(&c->listeners[i].binds[j], ss))
				return &c->listeners[i];
	return NULL;
}

static void bind_clash(struct ctx *x, int line, const char *path, const char *text,
                       const tw_cfg_listener_t *owner, const tw_cfg_listener_t *self)
{
	char q[96];
	QS(q, text);
	if (owner == self)
		cerr(x, line, path, "%s is listed twice", q);
	else
		cerr(x, line, path, "%s is already bound by listener \"%s\" (line %d)", q,
		     owner->name ? owner->name : "?", owner->line);
}

static bool add_bind(struct ctx *x, tw_cfg_listener_t *l, const struct sockaddr_storage *ss,
                     socklen_t sl, const char *text)
{
	size_t i = l->n_binds;
	l->bind_texts[i] = xdup(x, text);
	if (!l->bind_texts[i])
		return false;
	l->binds[i] = *ss;
	l->bind_lens[i] = sl;
	l->n_binds++;
	return true;
}

static bool alloc_binds(struct ctx *x, tw_cfg_listener_t *l, size_t n)
{
	l->binds = xcalloc(x, n, sizeof(*l->binds));
	l->bind_lens = xcalloc(x, n, sizeof(*l->bind_lens));
	l->bind_texts = xcalloc(x, n, sizeof(*l->bind_texts));
	return l->binds && l->bind_lens && l->bind_texts;
}

static void backend_ref(struct ctx *x, const struct ynode *n, const char *path, const char *name)
{
	const char *names[64];
	size_t nn = 0;
	if (tw_config_backend(x->c, name))
		return;
	for (size_t i = 0; i < x->c->n_backends && nn < TW_ARRAY_LEN(names); i++)
		names[nn++] = x->c->backends[i].name;
	const char *s = suggest(name, names, nn);
	char q[96];
	QS(q, name);
	if (s)
		cerr(x, n->line, path, "no backend named %s (did you mean \"%s\"?)", q, s);
	else
		cerr(x, n->line, path, "no backend named %s: define it under backends:", q);
}

/* ---- sections ---- */

static const char *const proxy_names[] = {"none", "v1", "v2"};
static const char *const tlv_names[] = {"authority", "alpn", "unique_id"};
static const char *const balance_names[] = {"first", "roundrobin"};

static void parse_server(struct ctx *x, tw_cfg_backend_t *b, const struct ynode *n,
                         const char *path)
{
	static const char *const keys[] = {"address", "backup", "name"};
	const struct ynode *v[3];
	const struct ynode *addr = n;
	char host[256], e[384], p[160];
	uint16_t port;
	tw_cfg_server_t *s = &b->servers[b->n_servers++];
	s->line = n->line;
	if (n->type == Y_MAP) {
		if (!map_keys(x, n, path, "a server", keys, 3, v))
			return;
		if (v[1]) {
			pkey(p, sizeof(p), path, "backup");
			get_bool(x, v[1], p, &s->backup);
		}
		if (v[2]) {
			pkey(p, sizeof(p), path, "name");
			get_name(x, v[2], p, &s->name);
		}
		if (!v[0]) {
			cerr(x, n->line, path, "missing key \"address\": write address: HOST:PORT");
			return;
		}
		addr = v[0];
		pkey(p, sizeof(p), path, "address");
		path = p;
	}
	if (!want(x, addr, Y_SCALAR, path, "a server address like mail.example.com:25"))
		return;
	if (strlen(addr->text) != addr->len) {
		cerr(x, addr->line, path, "NUL byte in address");
		return;
	}
	if (tw_addr_parse_hostport(addr->text, host, sizeof(host), &port, e, sizeof(e)) < 0) {
		cerr(x, addr->line, path, "%s", e);
		return;
	}
	s->host = xdup(x, host);
	s->port = port;
	if (!s->name)
		s->name = xdup(x, addr->text);
	for (size_t i = 0; s->name && i + 1 < b->n_servers; i++)
		if (b->servers[i].name && strcmp(b->servers[i].name, s->name) == 0)
			cerr(x, n->line, path, "duplicate server \"%s\" (first at line %d)",
			     s->name, b->servers[i].line);
}

static void parse_backend(struct ctx *x, tw_cfg_backend_t *b, const struct ynode *n,
                          const char *path)
{
	static const char *const keys[] = {"servers",  "proxy_protocol",  "proxy_tlvs",
	                                   "balance",  "connect_timeout", "source",
	                                   "interface"};
	const struct ynode *v[7];
	char p[160], ip[INET6_ADDRSTRLEN + 1], q[96];
	int e;
	b->line = n->line;
	b->tlv_authority = b->tlv_alpn = true;
	if (!map_keys(x, n, path, "the backend's settings (servers: ...)", keys, 7, v))
		return;
	if (!v[0]) {
		cerr(x, n->line, path, "missing key \"servers\": list at least one HOST:PORT");
	} else if (want(x, v[0], Y_SEQ, (pkey(p, sizeof(p), path, "servers"), p),
	                "a list of servers like [\"mail.example.com:25\"]")) {
		if (v[0]->n == 0)
			cerr(x, v[0]->line, p, "expected at least one server");
		b->servers = xcalloc(x, v[0]->n, sizeof(*b->servers));
		for (size_t i = 0; b->servers && i < v[0]->n; i++) {
			char ip2[176];
			pidx(ip2, sizeof(ip2), p, i, NULL);
			parse_server(x, b, v[0]->kid[i], ip2);
		}
	}
	if (v[1] &&
	    get_enum(x, v[1], (pkey(p, sizeof(p), path, "proxy_protocol"), p), proxy_names, 3, &e))
		b->proxy = (tw_proxy_mode_t)e;
	if (v[2]) {
		pkey(p, sizeof(p), path, "proxy_tlvs");
		if (want(x, v[2], Y_SEQ, p, "a list of authority, alpn, unique_id")) {
			b->tlv_authority = b->tlv_alpn = false;
			for (size_t i = 0; i < v[2]->n; i++) {
				char ip2[176];
				pidx(ip2, sizeof(ip2), p, i, NULL);
				if (!get_enum(x, v[2]->kid[i], ip2, tlv_names, 3, &e))
					continue;
				*(e == 0   ? &b->tlv_authority
				  : e == 1 ? &b->tlv_alpn
				           : &b->tlv_unique_id) = true;
			}
			if (b->proxy != TW_PROXY_V2)
				cerr(x, v[2]->line, p,
				     "proxy_tlvs needs proxy_protocol: v2 (only PROXY v2 carries "
				     "TLVs)");
		}
	}
	if (v[3] &&
	    get_enum(x, v[3], (pkey(p, sizeof(p), path, "balance"), p), balance_names, 2, &e))
		b->balance = (tw_balance_t)e;
	if (v[4])
		get_dur(x, v[4], (pkey(p, sizeof(p), path, "connect_timeout"), p), false,
		        &b->connect_timeout_ms);
	if (v[5] &&
	    want(x, v[5], Y_SCALAR, (pkey(p, sizeof(p), path, "source"), p), "an IP address")) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->source;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->source;
		tw_strlcpy(ip, v[5]->text, sizeof(ip));
		if (v[5]->len < sizeof(ip) && inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
			sin->sin_family = AF_INET;
		else if (v[5]->len < sizeof(ip) && inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
			sin6->sin6_family = AF_INET6;
		else
			cerr(x, v[5]->line, p, "expected an IP address (no port), got %s",
			     qs(q, sizeof(q), v[5]->text, v[5]->len));
		tw_addr_unmap_v4(&b->source);
	}
	if (v[6] && get_str(x, v[6], (pkey(p, sizeof(p), path, "interface"), p), &b->interface)) {
		const char *s = b->interface;
		if (strlen(s) >= IFNAMSIZ || strpbrk(s, "/: \t") || !strcmp(s, ".") ||
		    !strcmp(s, ".."))
			cerr(x, v[6]->line, p,
			     "expected a network interface name (at most %d characters), got %s",
			     IFNAMSIZ - 1, QS(q, s));
	}
}

static void parse_backends(struct ctx *x, const struct ynode *n)
{
	tw_config_t *c = x->c;
	char p[160];
	if (!want(x, n, Y_MAP, "backends", "a mapping of backend names to their settings"))
		return;
	c->backends = xcalloc(x, n->n / 2, sizeof(*c->backends));
	for (size_t i = 0; c->backends && i + 1 < n->n; i += 2) {
		tw_cfg_backend_t *b = &c->backends[c->n_backends];
		if (!get_name(x, n->kid[i], "backends", &b->name))
			continue;
		c->n_backends++;
		pkey(p, sizeof(p), "backends", b->name);
		for (size_t j = 0; j + 1 < c->n_backends; j++)
			if (strcmp(c->backends[j].name, b->name) == 0)
				cerr(x, n->kid[i]->line, p,
				     "duplicate backend name (first at line %d)",
				     c->backends[j].line);
		parse_backend(x, b, n->kid[i + 1], p);
		b->line = n->kid[i]->line;
	}
}

/* "mail.example.com" or "*.example.com", lower-cased in place. */
static bool sni_pattern_ok(char *s)
{
	char *h = s;
	for (char *t = s; *t; t++)
		*t = (char)tolower((unsigned char)*t);
	if (h[0] == '*' && h[1] == '.')
		h += 2;
	size_t n = strlen(h), lab = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '.') {
			if (lab == 0 || i + 1 == n)
				return false;
			lab = 0;
		} else if (!(isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '_') ||
		           ++lab > 63) {
			return false;
		}
	}
	return true;
}

static void parse_sni(struct ctx *x, tw_cfg_listener_t *l, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"backend", "alpn"};
	const struct ynode *v[2];
	char p[200], p2[220], q[96];
	if (!want(x, n, Y_MAP, path, "a mapping of host name patterns to backends"))
		return;
	l->sni = xcalloc(x, n->n / 2, sizeof(*l->sni));
	for (size_t i = 0; l->sni && i + 1 < n->n; i += 2) {
		const struct ynode *k = n->kid[i], *val = n->kid[i + 1];
		tw_cfg_sni_t *s = &l->sni[l->n_sni];
		if (!want(x, k, Y_SCALAR, path, "a host name pattern like \"*.example.com\""))
			continue;
		pidx(p, sizeof(p), path, 0, qs(q, sizeof(q), k->text, k->len));
		s->line = k->line;
		if (!(s->pattern = xdup(x, k->text)))
			return;
		l->n_sni++;
		if (strlen(k->text) != k->len || !sni_pattern_ok(s->pattern)) {
			cerr(x, k->line, p,
			     "expected a host name or a *.domain pattern (the \"*\" only as the "
			     "whole first label)");
			continue;
		}
		for (size_t j = 0; j + 1 < l->n_sni; j++)
			if (strcmp(l->sni[j].pattern, s->pattern) == 0)
				cerr(x, k->line, p, "duplicate pattern (first at line %d)",
				     l->sni[j].line);
		const struct ynode *bn = val;
		const char *bpath = p;
		if (val->type == Y_MAP) {
			if (!map_keys(x, val, p, "a backend", keys, 2, v))
				continue;
			if (v[1] && want(x, v[1], Y_SEQ, (pkey(p2, sizeof(p2), p, "alpn"), p2),
			                 "a list of protocol ids like [h2, http/1.1]")) {
				if (v[1]->n == 0)
					cerr(x, v[1]->line, p2,
					     "expected at least one protocol id");
				s->alpn = xcalloc(x, v[1]->n + 1, sizeof(char *));
				for (size_t j = 0, m = 0; s->alpn && j < v[1]->n; j++) {
					char p3[240], *id = NULL;
					pidx(p3, sizeof(p3), p2, j, NULL);
					if (!get_str(x, v[1]->kid[j], p3, &id))
						continue;
					s->alpn[m++] = id; /* kept dense: the list ends at NULL */
					if (strlen(id) > 255)
						cerr(x, v[1]->kid[j]->line, p3,
						     "protocol id longer than 255 bytes");
				}
			}
			if (!v[0]) {
				cerr(x, val->line, p, "missing key \"backend\"");
				continue;
			}
			bn = v[0];
			pkey(p2, sizeof(p2), p, "backend");
			bpath = p2;
		}
		if (get_name(x, bn, bpath, &s->backend))
			backend_ref(x, bn, bpath, s->backend);
	}
}

static void parse_listener_timeouts(struct ctx *x, tw_cfg_listener_t *l, const struct ynode *n,
                                    const char *path, bool tls)
{
	static const char *const keys[] = {"idle", "total", "client_hello", "proxy_header"};
	const struct ynode *v[4];
	char p[160];
	if (!map_keys(x, n, path, "a mapping of timeouts", keys, 4, v))
		return;
	if (v[0])
		get_dur(x, v[0], (pkey(p, sizeof(p), path, "idle"), p), false, &l->idle_timeout_ms);
	if (v[1])
		get_dur(x, v[1], (pkey(p, sizeof(p), path, "total"), p), true,
		        &l->total_timeout_ms);
	if (v[2] &&
	    get_dur(x, v[2], (pkey(p, sizeof(p), path, "client_hello"), p), false,
	            &l->hello_timeout_ms) &&
	    !tls)
		cerr(x, v[2]->line, p, "only for protocol tls: mail protocols send no ClientHello");
	if (v[3])
		get_dur(x, v[3], (pkey(p, sizeof(p), path, "proxy_header"), p), false,
		        &l->proxy_timeout_ms);
}

static void parse_listener(struct ctx *x, tw_cfg_listener_t *l, const struct ynode *n,
                           const char *path)
{
	static const char *const keys[] = {"name", "bind",    "protocol", "backend",
	                                   "sni",  "default", "maxconn",  "timeouts"};
	const struct ynode *v[8];
	char p[160], p2[192];
	tw_config_t *c = x->c;
	l->line = n->line;
	l->hello_timeout_ms = 5000;
	l->proxy_timeout_ms = 3000;
	if (!map_keys(x, n, path, "a listener (name:, bind:, protocol:, backend:)", keys, 8, v))
		return;
	if (!v[0])
		cerr(x, n->line, path, "missing key \"name\"");
	else if (get_name(x, v[0], (pkey(p, sizeof(p), path, "name"), p), &l->name))
		for (size_t i = 0; i + 1 < c->n_listeners; i++)
			if (c->listeners[i].name && strcmp(c->listeners[i].name, l->name) == 0)
				cerr(x, v[0]->line, p,
				     "duplicate listener name \"%s\" (first at line %d)", l->name,
				     c->listeners[i].line);
	bool proto_ok = false;
	if (!v[2])
		cerr(x, n->line, path, "missing key \"protocol\": one of %s", proto_list);
	else if (want(x, v[2], Y_SCALAR, (pkey(p, sizeof(p), path, "protocol"), p), "a protocol")) {
		if (tw_proto_parse(v[2]->text, &l->proto) == 0 && strlen(v[2]->text) == v[2]->len)
			proto_ok = true;
		else
			cerr(x, v[2]->line, p, "expected one of %s, got %s", proto_list,
			     qs(p2, sizeof(p2), v[2]->text, v[2]->len));
	}
	bool tls = proto_ok && l->proto == TW_PROTO_TLS;
	const struct ynode *b = v[1];
	pkey(p, sizeof(p), path, "bind");
	if (!b) {
		cerr(x, n->line, path, "missing key \"bind\": write bind: \"0.0.0.0:PORT\"");
	} else if (b->type == Y_SCALAR && !b->null && !b->bad) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (alloc_binds(x, l, 1) && get_listen(x, b, p, &ss, &sl)) {
			const tw_cfg_listener_t *o = bind_owner(c, &ss);
			if (o)
				bind_clash(x, b->line, p, b->text, o, l);
			else
				add_bind(x, l, &ss, sl, b->text);
		}
	} else if (want(x, b, Y_SEQ, p, "an address or a list of addresses")) {
		if (b->n == 0)
			cerr(x, b->line, p, "expected at least one address");
		bool ok = alloc_binds(x, l, b->n);
		for (size_t i = 0; ok && i < b->n; i++) {
			struct sockaddr_storage ss;
			socklen_t sl;
			pidx(p2, sizeof(p2), p, i, NULL);
			if (!get_listen(x, b->kid[i], p2, &ss, &sl))
				continue;
			const tw_cfg_listener_t *o = bind_owner(c, &ss);
			if (o)
				bind_clash(x, b->kid[i]->line, p2, b->kid[i]->text, o, l);
			else
				add_bind(x, l, &ss, sl, b->kid[i]->text);
		}
	}
	if (v[3] && get_name(x, v[3], (pkey(p, sizeof(p), path, "backend"), p), &l->backend))
		backend_ref(x, v[3], p, l->backend);
	if (v[5]) {
		pkey(p, sizeof(p), path, "default");
		if (proto_ok && !tls)
			cerr(x, v[5]->line, p, "only for protocol tls: use backend:");
		else if (v[3])
			cerr(x, v[5]->line, p,
			     "default: is another name for backend:, give only one of them");
		else if (get_name(x, v[5], p, &l->backend))
			backend_ref(x, v[5], p, l->backend);
	}
	if (v[4]) {
		pkey(p, sizeof(p), path, "sni");
		if (proto_ok && !tls)
			cerr(x, v[4]->line, p,
			     "only for protocol tls: a %s listener has no ClientHello to route by",
			     tw_proto_name(l->proto));
		else
			parse_sni(x, l, v[4], p);
	}
	if (tls && !v[3] && !v[5] && (!v[4] || (v[4]->type == Y_MAP && v[4]->n == 0)))
		cerr(x, n->line, path,
		     "protocol tls needs sni: or default: to know where to route");
	else if (proto_ok && !tls && !v[3])
		cerr(x, n->line, path, "missing key \"backend\"");
	uint64_t u;
	if (v[6] &&
	    get_uint(x, v[6], (pkey(p, sizeof(p), path, "maxconn"), p), 0, CFG_MAX_CONN, &u))
		l->maxconn = (uint32_t)u;
	if (v[7])
		parse_listener_timeouts(x, l, v[7], (pkey(p, sizeof(p), path, "timeouts"), p),
		                        tls || !proto_ok);
}

static void parse_listeners(struct ctx *x, const struct ynode *n)
{
	tw_config_t *c = x->c;
	char p[64];
	if (!want(x, n, Y_SEQ, "listeners", "a list of listeners"))
		return;
	if (n->n == 0)
		cerr(x, n->line, "listeners", "expected at least one listener");
	c->listeners = xcalloc(x, n->n, sizeof(*c->listeners));
	for (size_t i = 0; c->listeners && i < n->n; i++) {
		c->n_listeners = i + 1;
		snprintf(p, sizeof(p), "listeners[%zu]", i);
		parse_listener(x, &c->listeners[i], n->kid[i], p);
	}
}

static void parse_cidrs(struct ctx *x, const struct ynode *n, const char *path, tw_cidr_t **out,
                        size_t *nout)
{
	char p[64], e[256];
	if (!want(x, n, Y_SEQ, path, "a list of addresses or networks like [\"10.0.0.0/8\"]"))
		return;
	free(*out);
	*nout = 0;
	*out = xcalloc(x, n->n, sizeof(**out));
	for (size_t i = 0; *out && i < n->n; i++) {
		pidx(p, sizeof(p), path, i, NULL);
		const struct ynode *k = n->kid[i];
		if (!want(x, k, Y_SCALAR, p, "an address or network like 10.0.0.0/8"))
			continue;
		if (strlen(k->text) != k->len ||
		    tw_cidr_parse(k->text, &(*out)[*nout], e, sizeof(e)) < 0)
			cerr(x, k->line, p, "%s",
			     strlen(k->text) != k->len ? "NUL byte in network" : e);
		else
			(*nout)++;
	}
}

static void parse_admin(struct ctx *x, const struct ynode *n)
{
	static const char *const keys[] = {"bind", "token"};
	const struct ynode *v[2];
	struct sockaddr_storage ss;
	socklen_t sl;
	if (!map_keys(x, n, "admin", "a mapping (bind:, token:)", keys, 2, v))
		return;
	if (v[0] && get_listen(x, v[0], "admin.bind", &ss, &sl) &&
	    get_str(x, v[0], "admin.bind", &x->c->admin_bind)) {
		const tw_cfg_listener_t *o = bind_owner(x->c, &ss);
		if (o)
			bind_clash(x, v[0]->line, "admin.bind", v[0]->text, o, NULL);
	}
	/* The token's text never goes into a message. */
	if (v[1] && get_str(x, v[1], "admin.token", &x->c->admin_token) &&
	    strlen(x->c->admin_token) < 16)
		cerr(x, v[1]->line, "admin.token",
		     "too short: use at least 16 characters, e.g. from openssl rand -hex 16");
}

static void parse_timeouts(struct ctx *x, const struct ynode *n)
{
	static const char *const keys[] = {"connect",    "smtp_idle", "imap_idle", "pop3_idle",
	                                   "sieve_idle", "tcp_idle",  "drain"};
	tw_config_t *c = x->c;
	uint64_t *dst[] = {
	        &c->connect_timeout_ms, &c->smtp_idle_ms, &c->imap_idle_ms, &c->pop3_idle_ms,
	        &c->sieve_idle_ms,      &c->tcp_idle_ms,  &c->drain_ms};
	const struct ynode *v[7];
	char p[64];
	if (!map_keys(x, n, "timeouts", "a mapping of timeouts", keys, 7, v))
		return;
	for (size_t i = 0; i < 7; i++)
		if (v[i])
			get_dur(x, v[i], (pkey(p, sizeof(p), "timeouts", keys[i]), p), i == 6,
			        dst[i]);
}

static void parse_log(struct ctx *x, const struct ynode *n)
{
	static const char *const keys[] = {"syslog", "level"};
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	static const int lv[] = {TW_LOG_ERR, TW_LOG_WARN, TW_LOG_INFO, TW_LOG_DEBUG};
	const struct ynode *v[2];
	int e;
	if (!map_keys(x, n, "log", "a mapping (syslog:, level:)", keys, 2, v))
		return;
	if (v[0])
		get_bool(x, v[0], "log.syslog", &x->c->log_syslog);
	if (v[1] && get_enum(x, v[1], "log.level", levels, 4, &e))
		x->c->log_level = lv[e];
}

static void parse_top(struct ctx *x, const struct ynode *root)
{
	static const char *const keys[] = {
	        "listeners", "backends", "allow",    "trusted_proxies", "admin",   "state",
	        "workers",   "user",     "timeouts", "resolve_cache",   "maxconn", "log"};
	const struct ynode *v[12];
	tw_config_t *c = x->c;
	uint64_t u;
	if (!root) {
		cerr(x, 1, "", "empty file: at least one listener is required");
		return;
	}
	if (!map_keys(x, root, "", "a mapping of settings (listeners:, backends:, ...)", keys, 12,
	              v))
		return;
	/* Backends first so that listeners can check the names they refer to. */
	if (v[1])
		parse_backends(x, v[1]);
	if (v[0])
		parse_listeners(x, v[0]);
	else
		cerr(x, root->line, "", "missing key \"listeners\": at least one is required");
	if (v[2]) {
		c->allow_set = true;
		parse_cidrs(x, v[2], "allow", &c->allow, &c->n_allow);
	}
	if (v[3])
		parse_cidrs(x, v[3], "trusted_proxies", &c->trusted_proxies, &c->n_trusted);
	if (v[4])
		parse_admin(x, v[4]);
	if (v[5])
		get_str(x, v[5], "state", &c->state);
	if (v[6] && want(x, v[6], Y_SCALAR, "workers", "auto or a number from 1 to 256")) {
		char q[96];
		if (strcmp(v[6]->text, "auto") == 0)
			c->workers = 0;
		else if (v[6]->len == 0 || strspn(v[6]->text, "0123456789") != v[6]->len)
			cerr(x, v[6]->line, "workers",
			     "expected auto or a number from 1 to 256, got %s",
			     qs(q, sizeof(q), v[6]->text, v[6]->len));
		else if (get_uint(x, v[6], "workers", 1, 256, &u))
			c->workers = (int)u;
	}
	if (v[7])
		get_str(x, v[7], "user", &c->user);
	if (v[8])
		parse_timeouts(x, v[8]);
	if (v[9])
		get_dur(x, v[9], "resolve_cache", true, &c->resolve_cache_ms);
	if (v[10] && get_uint(x, v[10], "maxconn", 1, CFG_MAX_CONN, &u))
		c->maxconn = (uint32_t)u;
	if (v[11])
		parse_log(x, v[11]);
}

/* Stable, by line, so the report reads top to bottom. */
static void sort_diags(tw_diags_t *d, size_t from)
{
	for (size_t i = from + 1; i < d->n; i++) {
		tw_diag_t t = d->v[i];
		size_t j = i;
		while (j > from && d->v[j - 1].line > t.line) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}

tw_config_t *tw_config_load_string(const char *name, const char *text, size_t len,
                                   tw_diags_t *diags)
{
	tw_diags_t local = {0};
	struct ctx x = {.file = name ? name : "", .d = diags ? diags : &local};
	size_t start = x.d->n;
	bool ok;
	if (len > CFG_MAX_BYTES) {
		cerr(&x, 0, "", "file too large: the limit is %u bytes", CFG_MAX_BYTES);
		tw_diags_release(&local);
		return NULL;
	}
	x.c = tw_config_new_default();
	if (!x.c) {
		x.oom = true;
	} else {
		struct ynode *root = yaml_build(&x, text, len, &ok);
		if (ok)
			parse_top(&x, root);
		ynode_free(root);
	}
	sort_diags(x.d, start);
	if (x.capped)
		tw_diag_add(x.d, x.file, 0, "", "too many errors (%zu): fix these first", x.nerr);
	if (x.oom)
		tw_diag_add(x.d, x.file, 0, "", "out of memory");
	tw_diags_release(&local);
	if (x.d->n > start || x.oom || x.nerr) {
		tw_config_free(x.c);
		return NULL;
	}
	return x.c;
}

tw_config_t *tw_config_load(const char *path, tw_diags_t *diags)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		tw_diag_add(diags, path, 0, "", "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *buf = malloc(CFG_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, CFG_MAX_BYTES + 1, f) : 0;
	int rerr = ferror(f) ? errno : 0;
	fclose(f);
	tw_config_t *c = NULL;
	if (!buf)
		tw_diag_add(diags, path, 0, "", "out of memory");
	else if (rerr)
		tw_diag_add(diags, path, 0, "", "cannot read: %s", strerror(rerr));
	else if (n > CFG_MAX_BYTES)
		tw_diag_add(diags, path, 0, "", "file too large: the limit is %u bytes",
		            CFG_MAX_BYTES);
	else if ((c = tw_config_load_string(path, buf, n, diags)) && !(c->path = strdup(path))) {
		tw_config_free(c);
		c = NULL;
		tw_diag_add(diags, path, 0, "", "out of memory");
	}
	free(buf);
	return c;
}

static const char *const default_allow[] = {"127.0.0.0/8", "::1/128", "100.64.0.0/10",
                                            "fd7a:115c:a1e0::/48"};

tw_config_t *tw_config_new_default(void)
{
	tw_config_t *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->admin_bind = strdup("127.0.0.1:9180");
	c->state = strdup("/var/lib/tailwart/state.db");
	c->allow = calloc(TW_ARRAY_LEN(default_allow), sizeof(*c->allow));
	if (!c->admin_bind || !c->state || !c->allow) {
		tw_config_free(c);
		return NULL;
	}
	for (size_t i = 0; i < TW_ARRAY_LEN(default_allow); i++)
		TW_BUG_ON(tw_cidr_parse(default_allow[i], &c->allow[c->n_allow++], NULL, 0) != 0);
	c->connect_timeout_ms = 5000;
	c->smtp_idle_ms = 5 * 60000;
	c->imap_idle_ms = 30 * 60000;
	c->pop3_idle_ms = 10 * 60000;
	c->sieve_idle_ms = 30 * 60000;
	c->tcp_idle_ms = 5 * 60000;
	c->drain_ms = 30000;
	c->resolve_cache_ms = 5000;
	c->maxconn = 20000;
	c->log_level = TW_LOG_INFO;
	return c;
}

static void listener_release(tw_cfg_listener_t *l)
{
	free(l->name);
	free(l->binds);
	free(l->bind_lens);
	for (size_t i = 0; i < l->n_binds; i++)
		free(l->bind_texts[i]);
	free(l->bind_texts);
	free(l->backend);
	for (size_t i = 0; i < l->n_sni; i++) {
		free(l->sni[i].pattern);
		free(l->sni[i].backend);
		for (char **a = l->sni[i].alpn; a && *a; a++)
			free(*a);
		free(l->sni[i].alpn);
	}
	free(l->sni);
}

static void backend_release(tw_cfg_backend_t *b)
{
	free(b->name);
	for (size_t i = 0; i < b->n_servers; i++) {
		free(b->servers[i].name);
		free(b->servers[i].host);
	}
	free(b->servers);
	free(b->interface);
}

void tw_config_free(tw_config_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_listeners; i++)
		listener_release(&c->listeners[i]);
	free(c->listeners);
	for (size_t i = 0; i < c->n_backends; i++)
		backend_release(&c->backends[i]);
	free(c->backends);
	free(c->allow);
	free(c->trusted_proxies);
	free(c->admin_bind);
	if (c->admin_token) {
		explicit_bzero(c->admin_token, strlen(c->admin_token));
		free(c->admin_token);
	}
	free(c->state);
	free(c->user);
	free(c->path);
	free(c);
}

uint64_t tw_config_idle_ms(const tw_config_t *c, const tw_cfg_listener_t *l)
{
	if (l->idle_timeout_ms)
		return l->idle_timeout_ms;
	switch (l->proto) {
	case TW_PROTO_SMTP:
	case TW_PROTO_SUBMISSION:
	case TW_PROTO_SUBMISSIONS: return c->smtp_idle_ms;
	case TW_PROTO_IMAP:
	case TW_PROTO_IMAPS: return c->imap_idle_ms;
	case TW_PROTO_POP3:
	case TW_PROTO_POP3S: return c->pop3_idle_ms;
	case TW_PROTO_SIEVE: return c->sieve_idle_ms;
	case TW_PROTO_TLS:
	case TW_PROTO_TCP:
	default: return c->tcp_idle_ms;
	}
}

const tw_cfg_backend_t *tw_config_backend(const tw_config_t *c, const char *name)
{
	for (size_t i = 0; i < c->n_backends; i++)
		if (c->backends[i].name && strcmp(c->backends[i].name, name) == 0)
			return &c->backends[i];
	return NULL;
}

/* ---- quick mode ---- */

/* Appends a backend named after target unless c has it; on failure c keeps
 * its old arrays. */
static int quick_backend(struct ctx *x, const char *target, tw_proxy_mode_t proxy)
{
	tw_config_t *c = x->c;
	char host[256], e[384];
	uint16_t port;
	if (tw_config_backend(c, target))
		return 0;
	if (tw_addr_parse_hostport(target, host, sizeof(host), &port, e, sizeof(e)) < 0)
		return TW_EINVAL; /* checked before */
	tw_cfg_backend_t *v = realloc(c->backends, (c->n_backends + 1) * sizeof(*v));
	if (!v)
		return TW_ENOMEM;
	c->backends = v;
	tw_cfg_backend_t *b = &v[c->n_backends];
	memset(b, 0, sizeof(*b));
	b->name = strdup(target);
	b->servers = calloc(1, sizeof(*b->servers));
	if (b->servers) {
		b->n_servers = 1;
		b->servers[0].name = strdup(target);
		b->servers[0].host = strdup(host);
		b->servers[0].port = port;
	}
	b->proxy = proxy;
	b->tlv_authority = b->tlv_alpn = true;
	if (!b->name || !b->servers || !b->servers[0].name || !b->servers[0].host) {
		backend_release(b);
		return TW_ENOMEM;
	}
	c->n_backends++;
	return 0;
}

int tw_config_quick(tw_config_t *c, const char *listen, const char *to, const char *proxy,
                    const char *proto, const char *const *sni, size_t n_sni, tw_diags_t *diags)
{
	struct ctx x = {.file = "", .d = diags, .c = c};
	size_t start = diags->n;
	char e[384], host[256], q[96];
	uint16_t port;
	tw_cfg_listener_t l = {
	        .name = strdup("quick"), .hello_timeout_ms = 5000, .proxy_timeout_ms = 3000};
	tw_proxy_mode_t pm = TW_PROXY_NONE;
	l.proto = n_sni ? TW_PROTO_TLS : TW_PROTO_TCP;
	if (proto && tw_proto_parse(proto, &l.proto) < 0)
		cerr(&x, 0, "--protocol", "expected one of %s, got %s", proto_list, QS(q, proto));
	if (proxy) {
		size_t i;
		for (i = 0; i < TW_ARRAY_LEN(proxy_names) && strcmp(proxy, proxy_names[i]); i++)
			;
		if (i == TW_ARRAY_LEN(proxy_names))
			cerr(&x, 0, "--proxy", "expected one of none, v1, v2, got %s",
			     QS(q, proxy));
		else
			pm = (tw_proxy_mode_t)i;
	}
	for (size_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].name && strcmp(c->listeners[i].name, "quick") == 0)
			cerr(&x, 0, "--listen", "a listener named \"quick\" already exists");
	if (!listen || !listen[0]) {
		cerr(&x, 0, "--listen", "missing: give an address like 0.0.0.0:25 or [::]:443");
	} else {
		char *dup = strdup(listen), *save = NULL;
		size_t n = 1;
		for (const char *p = listen; *p; p++)
			n += *p == ',';
		if (!dup || !alloc_binds(&x, &l, n))
			x.oom = true;
		for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !x.oom;
		     t = strtok_r(NULL, ",", &save)) {
			struct sockaddr_storage ss;
			socklen_t sl;
			if (tw_addr_parse_listen(t, &ss, &sl, e, sizeof(e)) < 0) {
				cerr(&x, 0, "--listen", "%s", e);
				continue;
			}
			const tw_cfg_listener_t *o = bind_owner(c, &ss);
			bool twice = false;
			for (size_t j = 0; j < l.n_binds && tw_addr_port((struct sockaddr *)&ss);
			     j++)
				twice |= sa_equal(&l.binds[j], &ss);
			if (o || twice)
				bind_clash(&x, 0, "--listen", t, twice ? &l : o, &l);
			else
				add_bind(&x, &l, &ss, sl, t);
		}
		free(dup);
	}
	bool tls = l.proto == TW_PROTO_TLS;
	if (to && tw_addr_parse_hostport(to, host, sizeof(host), &port, e, sizeof(e)) < 0)
		cerr(&x, 0, "--to", "%s", e);
	else if (!to && !(tls && n_sni))
		cerr(&x, 0, "--to", "missing: give the backend as HOST:PORT");
	if (n_sni && !tls)
		cerr(&x, 0, "--sni", "only for protocol tls, not %s", tw_proto_name(l.proto));
	l.sni = n_sni ? xcalloc(&x, n_sni, sizeof(*l.sni)) : NULL;
	for (size_t i = 0; l.sni && i < n_sni && tls; i++) {
		const char *eq = strchr(sni[i], '=');
		tw_cfg_sni_t *s = &l.sni[l.n_sni];
		if (!eq) {
			cerr(&x, 0, "--sni", "expected NAME=HOST:PORT, got %s", QS(q, sni[i]));
			continue;
		}
		s->pattern = strndup(sni[i], (size_t)(eq - sni[i]));
		s->backend = strdup(eq + 1);
		if (!s->pattern || !s->backend) {
			free(s->pattern);
			free(s->backend);
			x.oom = true;
			break;
		}
		l.n_sni++;
		if (!sni_pattern_ok(s->pattern))
			cerr(&x, 0, "--sni", "%s is not a host name or *.domain pattern",
			     QS(q, s->pattern));
		else if (tw_addr_parse_hostport(s->backend, host, sizeof(host), &port, e,
		                                sizeof(e)) < 0)
			cerr(&x, 0, "--sni", "%s", e);
		for (size_t j = 0; j + 1 < l.n_sni; j++)
			if (strcmp(l.sni[j].pattern, s->pattern) == 0)
				cerr(&x, 0, "--sni", "%s is given twice", QS(q, s->pattern));
	}
	if (!l.name)
		x.oom = true;
	/* Everything is checked: only now touch c, so a failure leaves it as it was
	 * (backends added before an out-of-memory failure are harmless extras). */
	tw_cfg_listener_t *nl = NULL;
	if (diags->n == start && !x.oom && !x.nerr) {
		int r = to ? quick_backend(&x, to, pm) : 0;
		for (size_t i = 0; r == 0 && i < l.n_sni; i++)
			r = quick_backend(&x, l.sni[i].backend, pm);
		if (r == 0 && to && !(l.backend = strdup(to)))
			r = TW_ENOMEM;
		if (r == 0)
			nl = realloc(c->listeners, (c->n_listeners + 1) * sizeof(*nl));
		if (!nl) {
			x.oom = true;
		} else {
			c->listeners = nl;
			c->listeners[c->n_listeners++] = l;
			return 0;
		}
	}
	if (x.oom)
		tw_diag_add(diags, "", 0, "", "out of memory");
	listener_release(&l);
	return TW_EINVAL;
}
