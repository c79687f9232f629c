#include "util/tw.h"

#include "edge/config_int.h"
#include "util/duration.h"

#include <libfyaml.h>

#define CFG_MAX_DEPTH  32
#define CFG_MAX_ERRORS 100
#define CFG_MAX_STR    4096

void tw__cfg_err(struct tw__cfg_ctx *x, int line, const char *field, const char *fmt, ...)
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

const char *tw__cfg_quote(char *buf, size_t size, const char *s, size_t len)
{
	return tw_quote(buf, size, s, len, 60);
}

char *tw__cfg_strdup(struct tw__cfg_ctx *x, const char *s)
{
	char *p = strdup(s);
	if (!p)
		x->oom = true;
	return p;
}

void *tw__cfg_calloc(struct tw__cfg_ctx *x, size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		x->oom = true;
	return p;
}

void tw__ynode_free(struct tw__ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		tw__ynode_free(n->kid[i]);
	free(n->kid);
	free(n->text);
	free(n);
}

static bool ynode_add(struct tw__ynode *p, struct tw__ynode *k)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		struct tw__ynode **v = realloc(p->kid, cap * sizeof(*v));
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

/* The line of the first block-context explicit key ("? key"), or 0. */
static int explicit_key_line(const char *s, size_t len)
{
	int line = 1;
	for (size_t i = 0; i < len; line++) {
		size_t j = i;
		for (;;) {
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j + 1 < len && s[j] == '-' && (s[j + 1] == ' ' || s[j + 1] == '\t'))
				j += 2;
			else
				break;
		}
		if (j < len && s[j] == '?' && (j + 1 == len || strchr(" \t\r\n", s[j + 1])))
			return line;
		const char *nl = memchr(s + i, '\n', len - i);
		i = nl ? (size_t)(nl - s) + 1 : len;
	}
	return 0;
}

struct tw__ynode *tw__yaml_build(struct tw__cfg_ctx *x, const char *text, size_t len, bool *ok)
{
	struct tw__ynode *root = NULL, *stack[CFG_MAX_DEPTH];
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
		tw__cfg_err(x, bl, "", "not valid UTF-8: byte 0x%02x at offset %zu",
		            (unsigned char)text[bad], bad);
		return NULL;
	}
	/* libfyaml 0.7.12 also crashes (NULL write in fy_parser_destroy) on
	 * some mappings under an explicit "? " key; a config needs none. */
	int ek = explicit_key_line(text, len);
	if (ek) {
		tw__cfg_err(x, ek, "",
		            "explicit keys (\"? \") are not supported: write key: value");
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
			tw__cfg_err(x, line, "",
			            "more than one yaml document: put everything in one");
			stop = true;
		} else if (t == FYET_MAPPING_END || t == FYET_SEQUENCE_END) {
			depth--;
		} else if (t == FYET_SCALAR || t == FYET_ALIAS || t == FYET_MAPPING_START ||
		           t == FYET_SEQUENCE_START) {
			struct tw__ynode *n = calloc(1, sizeof(*n));
			struct tw__ynode *p = depth ? stack[depth - 1] : NULL;
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
			bool is_value = p && p->type == TW__Y_MAP && p->n % 2 == 0;
			n->line = is_value ? p->kid[p->n - 2]->line : line ? line : p ? p->line : 1;
			n->type = t == FYET_MAPPING_START    ? TW__Y_MAP
			          : t == FYET_SEQUENCE_START ? TW__Y_SEQ
			                                     : TW__Y_SCALAR;
			if (t == FYET_ALIAS) {
				tw__cfg_err(x, n->line, "",
				            "yaml aliases are not supported: write the value out");
				n->bad = true;
			} else if (tag) {
				tw__cfg_err(x, n->line, "",
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
				tw__cfg_err(x, line, "", "nesting too deep: the most is %d levels",
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
			tw__cfg_err(x, e->line > 0 ? e->line : 0, "", "yaml syntax error: %s",
			            e->msg ? e->msg : "invalid yaml");
			if (x->d->n > before && e->column > 0)
				x->d->v[x->d->n - 1].col = e->column;
		}
		if (x->d->n == before)
			tw__cfg_err(x, 0, "", "yaml syntax error");
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

void tw__cfg_path_key(char *out, size_t size, const char *base, const char *key)
{
	size_t o = 0;
	if (base[0])
		o = (size_t)snprintf(out, size, "%s.", base);
	for (; *key && o + 1 < size; key++)
		out[o++] = (*key < 0x20 || *key == 0x7f) ? '?' : *key;
	out[o < size ? o : size - 1] = '\0';
}

/* base[i], or base[TEXT] when text is given; a cut path ends in "...". */
void tw__cfg_path_index(char *out, size_t size, const char *base, size_t i, const char *text)
{
	char num[24];
	int r = snprintf(num, sizeof(num), "%zu", i);
	r = snprintf(out, size, "%s[%s]", base, text ? text : r > 0 ? num : "?");
	if ((r < 0 || (size_t)r >= size) && size > 4)
		memcpy(out + size - 4, "...", 4);
}

static const char *kind(const struct tw__ynode *n)
{
	return n->type == TW__Y_MAP ? "a mapping" : n->type == TW__Y_SEQ ? "a list" : "nothing";
}

bool tw__cfg_want(struct tw__cfg_ctx *x, const struct tw__ynode *n, enum tw__ytype t,
                  const char *path, const char *what)
{
	char q[96];
	if (n->bad)
		return false;
	if (n->type == t && !(t == TW__Y_SCALAR && n->null))
		return true;
	if (n->type == TW__Y_SCALAR && !n->null)
		tw__cfg_err(x, n->line, path, "expected %s, got %s", what,
		            tw__cfg_quote(q, sizeof(q), n->text, n->len));
	else
		tw__cfg_err(x, n->line, path, "expected %s, got %s", what, kind(n));
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

/* At most a third of the word wrong, and never more than 3 edits. */
const char *tw__cfg_suggest(const char *s, const char *const *names, size_t n)
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
bool tw__cfg_map_keys(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                      const char *what, const char *const *keys, size_t nk,
                      const struct tw__ynode **vals)
{
	char q[96], list[384];
	memset(vals, 0, nk * sizeof(*vals));
	if (!tw__cfg_want(x, n, TW__Y_MAP, path, what))
		return false;
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct tw__ynode *k = n->kid[i];
		if (k->bad)
			continue;
		if (k->type != TW__Y_SCALAR || k->null) {
			tw__cfg_err(x, k->line, path, "expected a key name, got %s", kind(k));
			continue;
		}
		size_t j;
		for (j = 0; j < nk && strcmp(keys[j], k->text) != 0; j++)
			;
		if (j == nk) {
			const char *s = tw__cfg_suggest(k->text, keys, nk);
			tw__cfg_quote(q, sizeof(q), k->text, k->len);
			if (s) {
				tw__cfg_err(x, k->line, path,
				            "unknown key %s (did you mean \"%s\"?)", q, s);
			} else {
				join(list, sizeof(list), keys, nk);
				tw__cfg_err(x, k->line, path, "unknown key %s: expected one of %s",
				            q, list);
			}
		} else if (vals[j]) {
			tw__cfg_err(x, k->line, path, "duplicate key \"%s\" (first at line %d)",
			            keys[j], vals[j]->line);
		} else {
			vals[j] = n->kid[i + 1];
		}
	}
	return true;
}

bool tw__cfg_str(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, char **out)
{
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "a string"))
		return false;
	if (n->len == 0) {
		tw__cfg_err(x, n->line, path, "expected a string, got an empty one");
		return false;
	}
	if (n->len > CFG_MAX_STR || memchr(n->text, '\0', n->len)) {
		tw__cfg_err(x, n->line, path,
		            "expected a string of 1 to %d characters without NUL bytes",
		            CFG_MAX_STR);
		return false;
	}
	free(*out);
	*out = tw__cfg_strdup(x, n->text);
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

bool tw__cfg_name(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, char **out)
{
	char q[96];
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "a name"))
		return false;
	if (!name_ok(n->text) || strlen(n->text) != n->len) {
		tw__cfg_err(x, n->line, path,
		            "expected a name of letters, digits and . _ - : @ (at most 63), got %s",
		            tw__cfg_quote(q, sizeof(q), n->text, n->len));
		return false;
	}
	free(*out);
	*out = tw__cfg_strdup(x, n->text);
	return *out != NULL;
}

bool tw__cfg_bool(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, bool *out)
{
	char q[96];
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "true or false"))
		return false;
	if (strcmp(n->text, "true") != 0 && strcmp(n->text, "false") != 0) {
		tw__cfg_err(x, n->line, path, "expected true or false, got %s",
		            tw__cfg_quote(q, sizeof(q), n->text, n->len));
		return false;
	}
	*out = n->text[0] == 't';
	return true;
}

bool tw__cfg_uint(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, uint64_t min,
                  uint64_t max, uint64_t *out)
{
	char q[96];
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "a whole number"))
		return false;
	if (n->len == 0 || n->len > 19 || strspn(n->text, "0123456789") != n->len) {
		tw__cfg_err(x, n->line, path, "expected a whole number from %llu to %llu, got %s",
		            (unsigned long long)min, (unsigned long long)max,
		            tw__cfg_quote(q, sizeof(q), n->text, n->len));
		return false;
	}
	uint64_t v = strtoull(n->text, NULL, 10);
	if (v < min || v > max) {
		tw__cfg_err(x, n->line, path, "%llu is out of range: expected %llu to %llu",
		            (unsigned long long)v, (unsigned long long)min,
		            (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

bool tw__cfg_duration(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                      bool zero_ok, uint64_t *out)
{
	char e[256];
	uint64_t v;
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "a duration like 30s"))
		return false;
	if (tw_duration_parse(n->text, n->len, &v, e, sizeof(e)) < 0) {
		tw__cfg_err(x, n->line, path, "%s", e);
		return false;
	}
	if (v == 0 && !zero_ok) {
		tw__cfg_err(x, n->line, path,
		            "expected a duration above zero, like 30s, got \"%s\"", n->text);
		return false;
	}
	*out = v;
	return true;
}

bool tw__cfg_enum(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                  const char *const *names, size_t nn, int *out)
{
	char q[96], list[256];
	join(list, sizeof(list), names, nn);
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "a word"))
		return false;
	for (size_t i = 0; i < nn; i++)
		if (names[i] && strcmp(names[i], n->text) == 0) {
			*out = (int)i;
			return true;
		}
	tw__cfg_err(x, n->line, path, "expected one of %s, got %s", list,
	            tw__cfg_quote(q, sizeof(q), n->text, n->len));
	return false;
}

bool tw__cfg_listen(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                    struct sockaddr_storage *ss, socklen_t *sl)
{
	char e[384];
	if (!tw__cfg_want(x, n, TW__Y_SCALAR, path, "an address like 0.0.0.0:25"))
		return false;
	if (strlen(n->text) != n->len || tw_addr_parse_listen(n->text, ss, sl, e, sizeof(e)) < 0) {
		tw__cfg_err(x, n->line, path, "%s",
		            strlen(n->text) != n->len ? "NUL byte in address" : e);
		return false;
	}
	if (tw_addr_port((struct sockaddr *)ss) == 0) {
		tw__cfg_err(x, n->line, path, "port 0 is not allowed: give the port to listen on");
		return false;
	}
	return true;
}
