/*
 * fuzz_sni - tw_sni_name_normalize(), tw_sni_table_lookup() on a fixed
 * table, and tw_sni_table_add() of a fuzzed pattern into a fresh table.
 *
 * Input: byte 0 picks how many of the following bytes are the name; the rest
 * is the client's ALPN list. The whole input is also tried as a pattern.
 */
#include "util/tw.h"

#include "edge/sni.h"

static tw_sni_table_t *fixed;

static const char *const a_imap[] = {"imap", NULL};
static const char *const a_web[] = {"h2", "http/1.1", NULL};
static const char *const a_smtp[] = {"smtp", NULL};

static void build_fixed(void)
{
	static const struct {
		const char *p;
		const char *const *alpn;
	} e[] = {
	        {"mail.example.com", NULL},   {"*.example.com", NULL},
	        {"imap.example.com", a_imap}, {"imap.example.com", NULL},
	        {"web.example.com", a_web},   {"*.example.net", a_smtp},
	        {"*.a.example.com", NULL},    {"example.com", NULL},
	        {"_x.example.org", a_web},
	};
	char err[256];
	size_t i;

	fixed = tw_sni_table_new();
	TW_BUG_ON(fixed == NULL);
	for (i = 0; i < TW_ARRAY_LEN(e); i++)
		TW_BUG_ON(tw_sni_table_add(fixed, e[i].p, e[i].alpn, (int)i, err, sizeof(err)) !=
		          0);
	tw_sni_table_set_default(fixed, 100);
}

static void fuzz_normalize(const char *in, size_t len)
{
	char out[TW_SNI_NAME_MAX + 1], again[TW_SNI_NAME_MAX + 1];
	int rc, i;

	rc = tw_sni_name_normalize(in, len, out, sizeof(out));
	TW_BUG_ON(rc == TW_ETOOBIG || rc == 0); /* 254 bytes always suffice */
	if (rc < 0) {
		TW_BUG_ON(rc != TW_EINVAL || out[0] != '\0');
		return;
	}
	TW_BUG_ON(rc > TW_SNI_NAME_MAX || strlen(out) != (size_t)rc);
	for (i = 0; i < rc; i++)
		TW_BUG_ON(out[i] >= 'A' && out[i] <= 'Z');
	TW_BUG_ON(tw_sni_name_normalize(out, (size_t)rc, again, sizeof(again)) != rc);
	TW_BUG_ON(strcmp(out, again) != 0);
	/* a too small buffer is refused, not overrun */
	TW_BUG_ON(tw_sni_name_normalize(in, len, again, (size_t)rc) != TW_ETOOBIG);
}

static void fuzz_lookup(const char *name, size_t len, const uint8_t *alpn, size_t alen)
{
	char norm[TW_SNI_NAME_MAX + 1];
	int r, r2, n;

	r = tw_sni_table_lookup(fixed, name, len, alpn, alen);
	TW_BUG_ON(r != 100 && (r < 0 || r > 8));
	n = tw_sni_name_normalize(name, len, norm, sizeof(norm));
	if (n < 0) {
		TW_BUG_ON(r != 100);
		return;
	}
	/* the table sees only the normalized name */
	r2 = tw_sni_table_lookup(fixed, norm, (size_t)n, alpn, alen);
	TW_BUG_ON(r2 != r);
}

static void fuzz_add(const uint8_t *data, size_t size)
{
	tw_sni_table_t *t = tw_sni_table_new();
	char *pat = malloc(size + 1), probe[TW_SNI_NAME_MAX + 2], err[512];
	int rc, n;

	TW_BUG_ON(t == NULL || pat == NULL);
	memcpy(pat, data, size);
	pat[size] = '\0';
	rc = tw_sni_table_add(t, pat, NULL, 5, err, sizeof(err));
	TW_BUG_ON(rc != 0 && rc != TW_EINVAL);
	TW_BUG_ON((rc != 0) != (err[0] != '\0'));
	if (rc == 0) {
		TW_BUG_ON(tw_sni_table_add(t, pat, NULL, 6, err, sizeof(err)) != TW_EINVAL);
		if (strncmp(pat, "*.", 2) == 0) {
			n = snprintf(probe, sizeof(probe), "a%s", pat + 1);
			if (n > 0 && (size_t)n < sizeof(probe) &&
			    tw_sni_name_normalize(probe, (size_t)n, err, sizeof(err)) > 0)
				TW_BUG_ON(tw_sni_table_lookup(t, probe, (size_t)n, NULL, 0) != 5);
		} else {
			TW_BUG_ON(tw_sni_table_lookup(t, pat, strlen(pat), NULL, 0) != 5);
		}
	}
	tw_sni_table_free(t);
	free(pat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nlen;

	if (!fixed)
		build_fixed();
	fuzz_normalize((const char *)data, size);
	fuzz_add(data, size);
	if (size == 0)
		return 0;
	nlen = data[0];
	if (nlen > size - 1)
		nlen = size - 1;
	fuzz_lookup((const char *)data + 1, nlen, data + 1 + nlen, size - 1 - nlen);
	return 0;
}
