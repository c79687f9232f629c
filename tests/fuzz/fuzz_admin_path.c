#include "util/tw.h"

#include "edge/admin.h"

/*
 * The admin plane's path router and query lookup on arbitrary bytes.
 * Input: a request target, "PATH" or "PATH?QUERY" (cut at the first NUL).
 *
 * Both functions are compared with a slow model written from admin.h, on
 * heap buffers of exact size (so ASan sees a write one past the end):
 *   - split_path: with room to spare it agrees with the model; with a
 *     tight buffer or a low segment cap it either agrees or says -1,
 *     exactly when the model's answer does not fit; segments are packed
 *     in buf in order, non-empty, never "/", "." or ".."; a path that splits
 *     re-joins (percent-encoding each segment) and splits the same again.
 *   - query_get: the model's value, or NULL when it has none.
 */

#define MAX_SEG 64

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Model decoder: s[0..n) into out (room for n + 1); false on a bad or
 * truncated escape or a decoded NUL. */
static bool model_decode(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '%') {
			if (n - i < 3 || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
				return false;
			ch = (unsigned char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
			i += 3;
		} else {
			i++;
		}
		if (ch == 0)
			return false;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

typedef struct model_split {
	int n;       /* -1: malformed */
	size_t need; /* bytes of buf the segments take, NULs included */
	char *seg[MAX_SEG];
	size_t more; /* segments past MAX_SEG (counted, not kept) */
} model_split_t;

static void model_split_free(model_split_t *m)
{
	for (int i = 0; i < m->n && i < MAX_SEG; i++)
		free(m->seg[i]);
}

/* Split on every '/', one leading '/' required, one trailing '/' allowed,
 * no empty segment elsewhere, each segment decoded and checked. */
static void model_split(const char *path, model_split_t *m)
{
	memset(m, 0, sizeof(*m));
	m->n = -1;
	if (path[0] != '/')
		return;
	size_t plen = strlen(path);
	const char *p = path + 1, *end = path + plen;
	int n = 0;
	size_t more = 0;
	while (p < end) {
		const char *e = memchr(p, '/', (size_t)(end - p));
		size_t len = e ? (size_t)(e - p) : (size_t)(end - p);
		if (len == 0)
			goto bad; /* "//"; a single trailing '/' ends the loop above */
		char *d = malloc(len + 1);
		size_t dl;
		TW_BUG_ON(!d);
		if (!model_decode(p, len, d, &dl) || strcmp(d, ".") == 0 || strcmp(d, "..") == 0 ||
		    memchr(d, '/', dl)) {
			free(d);
			goto bad;
		}
		m->need += dl + 1;
		if (n < MAX_SEG)
			m->seg[n++] = d;
		else {
			free(d);
			more++;
		}
		if (!e)
			break;
		p = e + 1;
	}
	m->n = n;
	m->more = more;
	return;
bad:
	for (int i = 0; i < n; i++)
		free(m->seg[i]);
	m->n = -1;
}

/* Runs the real split with bufsz/max and checks it against the model. */
static void check_split(const char *path, const model_split_t *m, size_t bufsz, int max)
{
	char *buf = malloc(bufsz ? bufsz : 1);
	const char **seg = calloc((size_t)max + 1, sizeof(*seg));
	TW_BUG_ON(!buf || !seg);
	int n = tw_admin_split_path(path, buf, bufsz, seg, max);
	TW_BUG_ON(n < -1 || n > max);
	bool fits = m->n >= 0 && !m->more && m->n <= max && m->need <= bufsz;
	if (!fits) {
		TW_BUG_ON(n != -1);
	} else {
		TW_BUG_ON(n != m->n);
		size_t used = 0;
		for (int i = 0; i < n; i++) {
			/* Packed in order, inside buf, as the model decoded them. */
			TW_BUG_ON(seg[i] != buf + used);
			size_t l = strlen(seg[i]);
			TW_BUG_ON(l == 0 || used + l + 1 > bufsz);
			TW_BUG_ON(strchr(seg[i], '/') != NULL);
			TW_BUG_ON(strcmp(seg[i], ".") == 0 || strcmp(seg[i], "..") == 0);
			TW_BUG_ON(strcmp(seg[i], m->seg[i]) != 0);
			used += l + 1;
		}
		TW_BUG_ON(used != m->need || used > strlen(path));
	}
	free(seg);
	free(buf);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* "/" + each segment percent-encoded, joined by "/"; malloc'd. */
static char *rejoin(char *const *seg, int n)
{
	size_t cap = 2;
	for (int i = 0; i < n; i++)
		cap += 3 * strlen(seg[i]) + 1;
	char *out = malloc(cap), *o = out;
	TW_BUG_ON(!out);
	*o++ = '/';
	for (int i = 0; i < n; i++) {
		if (i)
			*o++ = '/';
		for (const unsigned char *s = (const unsigned char *)seg[i]; *s; s++) {
			if (unreserved(*s))
				*o++ = (char)*s;
			else
				o += snprintf(o, 4, "%%%02X", *s);
		}
	}
	*o = '\0';
	return out;
}

/* The query part the model way: '&'-separated items, in order; an empty
 * query has none and a trailing '&' adds none. */
static const char *model_query(const char *q, const char *key, char *out, bool *bad)
{
	size_t kl = strlen(key);
	*bad = false;
	const char *p = q;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len == kl && memcmp(p, key, kl) == 0) {
			out[0] = '\0';
			return out;
		}
		if (len > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t dl;
			if (!model_decode(p + kl + 1, len - kl - 1, out, &dl)) {
				*bad = true;
				return NULL;
			}
			return out;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	return NULL;
}

static void check_query(const char *q, const char *key, size_t bufsz)
{
	size_t ql = strlen(q);
	char *want = malloc(ql + 1);
	char *buf = malloc(bufsz);
	TW_BUG_ON(!want || !buf);
	bool bad;
	const char *w = model_query(q, key, want, &bad);
	const char *got = tw_admin_query_get(q, key, buf, bufsz);
	if (!w) {
		TW_BUG_ON(got != NULL);
	} else if (strlen(w) + 1 > bufsz) {
		/* No room: refused, never cut short. */
		TW_BUG_ON(got != NULL);
	} else {
		TW_BUG_ON(got != buf);
		TW_BUG_ON(strcmp(got, w) != 0);
	}
	free(buf);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	TW_BUG_ON(!s);
	memcpy(s, data, size);
	s[size] = '\0';
	char *query = strchr(s, '?');
	if (query)
		*query++ = '\0';

	const char *path = s;
	model_split_t m;
	model_split(path, &m);
	size_t plen = strlen(path);

	/* As the API calls it, with room to spare, and tight. */
	check_split(path, &m, 512, 8);
	check_split(path, &m, plen + 1, MAX_SEG);
	if (m.n >= 0 && !m.more) {
		check_split(path, &m, m.need, m.n);
		if (m.need)
			check_split(path, &m, m.need - 1, m.n);
		if (m.n)
			check_split(path, &m, m.need, m.n - 1);
	}
	check_split(path, &m, size % 61, (int)(size % 7));

	/* What splits re-joins and splits the same. */
	if (m.n >= 0 && !m.more) {
		char *j = rejoin(m.seg, m.n);
		model_split_t m2;
		model_split(j, &m2);
		TW_BUG_ON(m2.n != m.n);
		for (int i = 0; i < m.n; i++)
			TW_BUG_ON(strcmp(m2.seg[i], m.seg[i]) != 0);
		check_split(j, &m2, strlen(j) + 1, MAX_SEG);
		model_split_free(&m2);
		free(j);
	}
	model_split_free(&m);

	/* The query (or the whole input as one) against a few keys: fixed
	 * ones, and the name of its first item. */
	const char *q = query ? query : s;
	char key[64];
	size_t kl = strcspn(q, "=&");
	if (kl >= sizeof(key))
		kl = sizeof(key) - 1;
	memcpy(key, q, kl);
	key[kl] = '\0';
	const char *keys[] = {"verbose", "a", "k", "", key};
	for (size_t i = 0; i < TW_ARRAY_LEN(keys); i++) {
		check_query(q, keys[i], strlen(q) + 1);
		check_query(q, keys[i], 1);
		check_query(q, keys[i], 1 + size % 13);
	}
	TW_BUG_ON(tw_admin_query_get(NULL, "verbose", key, sizeof(key)) != NULL);
	TW_BUG_ON(tw_admin_split_path(NULL, key, sizeof(key), keys, 1) != -1);
	free(s);
	return 0;
}
