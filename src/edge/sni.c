#include "util/tw.h"

#include "edge/sni.h"
#include "edge/tls_hello.h"

typedef struct sni_entry {
	char name[TW_SNI_NAME_MAX + 1]; /* normalized; the domain for a wildcard */
	bool wildcard;
	uint8_t *alpn; /* wire-format protocol_name_list; NULL = any */
	size_t alpn_len;
	int route;
} sni_entry_t;

/* Sorted by (wildcard, name); entries with equal keys stay in add order. */
struct tw_sni_table {
	sni_entry_t *v;
	size_t n, cap;
	int def;
};

/* The reason a name is invalid, without the subject (callers add it). */
static int check_name(const char *in, size_t len, char *out, size_t outsz, char *why, size_t whylen)
{
	size_t i, label = 0;

	if (outsz > 0)
		out[0] = '\0';
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0) {
		snprintf(why, whylen, "empty name");
		return TW_EINVAL;
	}
	if (len > TW_SNI_NAME_MAX) {
		snprintf(why, whylen, "name longer than %d characters (%zu)", TW_SNI_NAME_MAX, len);
		return TW_EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0) {
				snprintf(why, whylen, "empty label");
				return TW_EINVAL;
			}
			label = 0;
			continue;
		}
		if (++label > TW_SNI_LABEL_MAX) {
			snprintf(why, whylen, "label longer than %d characters", TW_SNI_LABEL_MAX);
			return TW_EINVAL;
		}
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
			continue;
		if (c >= 'A' && c <= 'Z')
			continue;
		if (c > 0x20 && c < 0x7f)
			snprintf(why, whylen,
			         "character '%c' not allowed (letters, digits, '-', '_')", c);
		else
			snprintf(why, whylen, "byte 0x%02x not allowed (letters, digits, '-', '_')",
			         c);
		return TW_EINVAL;
	}
	/* The loop ended inside a label: "a." was stripped above, and "a.."
	 * reached here as "a." whose empty last label we refuse now. */
	if (label == 0) {
		snprintf(why, whylen, "empty label");
		return TW_EINVAL;
	}
	if (outsz < len + 1) {
		snprintf(why, whylen, "output buffer too small");
		return TW_ETOOBIG;
	}
	for (i = 0; i < len; i++) {
		char c = in[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
	return (int)len;
}

int tw_sni_name_normalize(const char *in, size_t len, char *out, size_t outsz)
{
	char why[96];

	return check_name(in, len, out, outsz, why, sizeof(why));
}

/* The pattern as the user wrote it, safe to print inside quotes. */
static void quote(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s && o + 8 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (*s)
		o += (size_t)snprintf(out + o, outsz - o, "...");
	out[o] = '\0';
}

static int cmp_key(const sni_entry_t *e, bool wildcard, const char *name)
{
	if (e->wildcard != wildcard)
		return e->wildcard ? 1 : -1;
	return strcmp(e->name, name);
}

/* First index whose key is >= the given key. */
static size_t search(const tw_sni_table_t *t, bool wildcard, const char *name)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(&t->v[mid], wildcard, name);

		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool list_has(const uint8_t *list, size_t len, const uint8_t *p, size_t plen)
{
	size_t off = 0, n;
	const uint8_t *name;

	while (tw_alpn_next(list, len, &off, &name, &n))
		if (n == plen && memcmp(name, p, n) == 0)
			return true;
	return false;
}

/* The first protocol of a that b also lists, or NULL. */
static const uint8_t *lists_share(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                                  size_t *plen)
{
	size_t off = 0;
	const uint8_t *name;

	while (tw_alpn_next(a, alen, &off, &name, plen))
		if (list_has(b, blen, name, *plen))
			return name;
	return NULL;
}

int tw_sni_table_add(tw_sni_table_t *t, const char *pattern, const char *const *alpn, int route,
                     char *err, size_t errlen)
{
	char q[300], why[96];
	const char *rest = pattern, *star;
	sni_entry_t e = {.route = route};
	size_t i, pos, nalpn = 0, plen;
	int rc;

	TW_BUG_ON(t == NULL || pattern == NULL);
	if (err && errlen > 0)
		err[0] = '\0';
	quote(pattern, q, sizeof(q));
	if (route < 0) {
		snprintf(err, errlen, "sni pattern \"%s\": route %d is negative", q, route);
		return TW_EINVAL;
	}
	if (strcmp(pattern, "*") == 0 || strcmp(pattern, "*.") == 0) {
		snprintf(err, errlen,
		         "sni pattern \"%s\": a wildcard needs a domain after it "
		         "(\"*.example.com\")",
		         q);
		return TW_EINVAL;
	}
	if (strncmp(pattern, "*.", 2) == 0) {
		e.wildcard = true;
		rest = pattern + 2;
	}
	star = strchr(rest, '*');
	if (star) {
		snprintf(err, errlen,
		         "sni pattern \"%s\": a wildcard must be a whole leftmost label "
		         "(\"*.example.com\")",
		         q);
		return TW_EINVAL;
	}
	rc = check_name(rest, strlen(rest), e.name, sizeof(e.name), why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "sni pattern \"%s\": %s", q, why);
		return TW_EINVAL;
	}
	if (e.wildcard && (size_t)rc + 2 > TW_SNI_NAME_MAX) {
		snprintf(err, errlen, "sni pattern \"%s\": name longer than %d characters", q,
		         TW_SNI_NAME_MAX);
		return TW_EINVAL;
	}

	for (; alpn && alpn[nalpn]; nalpn++) {
		plen = strlen(alpn[nalpn]);
		if (plen == 0 || plen > 255) {
			snprintf(err, errlen,
			         "sni pattern \"%s\": alpn protocol %zu must be 1..255 bytes (is "
			         "%zu)",
			         q, nalpn + 1, plen);
			return TW_EINVAL;
		}
		e.alpn_len += 1 + plen;
	}
	if (nalpn > 0) {
		e.alpn = malloc(e.alpn_len);
		if (!e.alpn)
			return TW_ENOMEM;
		for (i = 0, pos = 0; i < nalpn; i++) {
			plen = strlen(alpn[i]);
			e.alpn[pos] = (uint8_t)plen;
			memcpy(e.alpn + pos + 1, alpn[i], plen);
			pos += 1 + plen;
		}
	}

	pos = search(t, e.wildcard, e.name);
	for (i = pos; i < t->n && cmp_key(&t->v[i], e.wildcard, e.name) == 0; i++) {
		const sni_entry_t *o = &t->v[i];
		const uint8_t *p;
		char proto[256];

		if (!o->alpn && !e.alpn) {
			snprintf(err, errlen, "sni pattern \"%s\": duplicate of an earlier entry",
			         q);
			free(e.alpn);
			return TW_EINVAL;
		}
		if (!o->alpn || !e.alpn)
			continue;
		p = lists_share(e.alpn, e.alpn_len, o->alpn, o->alpn_len, &plen);
		if (p) {
			memcpy(proto, p, plen);
			proto[plen] = '\0';
			quote(proto, why, sizeof(why));
			snprintf(err, errlen,
			         "sni pattern \"%s\": alpn \"%s\" already routed by an earlier "
			         "entry "
			         "for the same name",
			         q, why);
			free(e.alpn);
			return TW_EINVAL;
		}
	}
	pos = i; /* after the equal keys: keeps add order within a pattern */

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		sni_entry_t *v = realloc(t->v, cap * sizeof(*v));

		if (!v) {
			free(e.alpn);
			return TW_ENOMEM;
		}
		t->v = v;
		t->cap = cap;
	}
	memmove(&t->v[pos + 1], &t->v[pos], (t->n - pos) * sizeof(*t->v));
	t->v[pos] = e;
	t->n++;
	return 0;
}

tw_sni_table_t *tw_sni_table_new(void)
{
	tw_sni_table_t *t = calloc(1, sizeof(*t));

	if (t)
		t->def = -1;
	return t;
}

void tw_sni_table_set_default(tw_sni_table_t *t, int route)
{
	t->def = route < 0 ? -1 : route;
}

/* The route of the best entry for one key, -1 when none of them matches. */
static int match_key(const tw_sni_table_t *t, bool wildcard, const char *name, const uint8_t *alpn,
                     size_t alpn_len)
{
	size_t i = search(t, wildcard, name);
	int plain = -1;

	for (; i < t->n && cmp_key(&t->v[i], wildcard, name) == 0; i++) {
		const sni_entry_t *e = &t->v[i];
		size_t plen;

		if (!e->alpn)
			plain = e->route;
		else if (alpn_len > 0 && lists_share(e->alpn, e->alpn_len, alpn, alpn_len, &plen))
			return e->route;
	}
	return plain;
}

int tw_sni_table_lookup(const tw_sni_table_t *t, const char *name, size_t name_len,
                        const uint8_t *alpn_list, size_t alpn_len)
{
	char norm[TW_SNI_NAME_MAX + 1];
	const char *dot;
	int n, r;

	if (!t)
		return -1;
	if (!name || name_len == 0)
		return t->def;
	if (!alpn_list)
		alpn_len = 0;
	n = tw_sni_name_normalize(name, name_len, norm, sizeof(norm));
	if (n < 0)
		return t->def;
	r = match_key(t, false, norm, alpn_list, alpn_len);
	if (r >= 0)
		return r;
	dot = memchr(norm, '.', (size_t)n);
	if (dot) {
		r = match_key(t, true, dot + 1, alpn_list, alpn_len);
		if (r >= 0)
			return r;
	}
	return t->def;
}

void tw_sni_table_free(tw_sni_table_t *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		free(t->v[i].alpn);
	free(t->v);
	free(t);
}
