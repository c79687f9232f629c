#include "util/tw.h"

#include <setjmp.h>
#include <cmocka.h>

#include "edge/sni.h"

/* ALPN lists in wire form, written as C strings of length-prefixed names. */
#define A_NONE ""
#define A_IMAP "\x04imap"
#define A_H2   "\x02h2"
#define A_H11  "\x08http/1.1"
#define A_ACME                                                                                     \
	"\x0a"                                                                                     \
	"acme-tls/1"
#define A_SMTP "\x04smtp"

static const char *const alpn_imap[] = {"imap", NULL};
static const char *const alpn_web[] = {"h2", "http/1.1", NULL};
static const char *const alpn_acme[] = {"acme-tls/1", NULL};
static const char *const alpn_smtp[] = {"smtp", NULL};
static const char *const alpn_h2[] = {"h2", NULL};
static const char *const alpn_empty[] = {NULL};

static const struct add_case {
	const char *pattern;
	const char *const *alpn;
	int route;
} base_entries[] = {
        {"mail.example.com", NULL, 1},
        {"*.example.com", NULL, 2},
        {"Example.COM.", NULL, 3},
        {"imap.example.com", alpn_imap, 4},
        {"imap.example.com", NULL, 5},
        {"web.example.com", alpn_web, 6},
        {"web.example.com", alpn_acme, 7},
        {"*.example.net", alpn_smtp, 8},
        {"*.example.net", alpn_empty, 9}, /* an empty list means any */
        {"only-alpn.example.org", alpn_h2, 10},
        {"*.example.org", NULL, 11},
        {"_mta-sts.example.com", NULL, 12},
        {"*.a.example.com", NULL, 13},
        {"xn--bcher-kva.example", NULL, 14},
        /* plain first, then ALPN: the ALPN match still wins */
        {"smtp.example.com", NULL, 15},
        {"smtp.example.com", alpn_smtp, 16},
};

static tw_sni_table_t *base_table(int def)
{
	tw_sni_table_t *t = tw_sni_table_new();
	char err[256];
	size_t i;

	assert_non_null(t);
	for (i = 0; i < TW_ARRAY_LEN(base_entries); i++) {
		const struct add_case *c = &base_entries[i];
		int rc = tw_sni_table_add(t, c->pattern, c->alpn, c->route, err, sizeof(err));

		if (rc != 0)
			fail_msg("add \"%s\": rc %d (%s)", c->pattern, rc, err);
		assert_string_equal(err, "");
	}
	tw_sni_table_set_default(t, def);
	return t;
}

static const struct lookup_case {
	const char *what;
	const char *name; /* NULL: no SNI */
	size_t len;       /* 0: strlen(name) */
	const char *alpn; /* wire list */
	int want;
} lookup_cases[] = {
        {"exact", "mail.example.com", 0, A_NONE, 1},
        {"exact, any case", "MAIL.Example.Com", 0, A_NONE, 1},
        {"exact, trailing dot", "mail.example.com.", 0, A_NONE, 1},
        {"two trailing dots invalid", "mail.example.com..", 0, A_NONE, 0},
        {"exact beats wildcard", "mail.example.com", 0, A_H2, 1},
        {"wildcard one label", "x.example.com", 0, A_NONE, 2},
        {"wildcard, upper case", "X.EXAMPLE.COM.", 0, A_NONE, 2},
        {"wildcard not two labels", "deep.x.example.com", 0, A_NONE, 0},
        {"wildcard not the bare domain", "example.net", 0, A_NONE, 0},
        {"nested wildcard", "b.a.example.com", 0, A_NONE, 13},
        {"nested wildcard not two labels", "c.b.a.example.com", 0, A_NONE, 0},
        {"a.example.com is *.example.com", "a.example.com", 0, A_NONE, 2},
        {"pattern with case and dot", "example.com", 0, A_NONE, 3},
        {"pattern with case and dot, name too", "EXAMPLE.com.", 0, A_NONE, 3},
        {"alpn entry beats plain", "imap.example.com", 0, A_IMAP, 4},
        {"alpn entry, offered second", "imap.example.com", 0, A_H2 A_IMAP, 4},
        {"alpn not offered: plain", "imap.example.com", 0, A_H2, 5},
        {"no alpn: plain", "imap.example.com", 0, A_NONE, 5},
        {"alpn entry added after plain", "smtp.example.com", 0, A_H2 A_SMTP, 16},
        {"plain added before alpn entry", "smtp.example.com", 0, A_H2, 15},
        {"alpn list, second protocol", "web.example.com", 0, A_H11, 6},
        {"alpn second entry", "web.example.com", 0, A_ACME, 7},
        {"both alpn entries match: first added", "web.example.com", 0, A_ACME A_H2, 6},
        {"alpn-only pattern unmatched falls to wildcard", "web.example.com", 0, A_SMTP, 2},
        {"alpn-only pattern, no alpn, falls to wildcard", "web.example.com", 0, A_NONE, 2},
        {"wildcard alpn", "mx.example.net", 0, A_SMTP, 8},
        {"wildcard plain", "mx.example.net", 0, A_H2, 9},
        {"wildcard, no alpn", "mx.example.net", 0, A_NONE, 9},
        {"exact alpn", "only-alpn.example.org", 0, A_H2, 10},
        {"exact alpn missing: wildcard", "only-alpn.example.org", 0, A_NONE, 11},
        {"exact alpn other: wildcard", "only-alpn.example.org", 0, A_IMAP, 11},
        {"malformed client alpn ignored", "only-alpn.example.org", 0, "\x05h2", 11},
        {"underscore", "_MTA-STS.example.com", 0, A_NONE, 12},
        {"punycode", "xn--bcher-kva.example", 0, A_NONE, 14},
        {"no sni", NULL, 0, A_NONE, 0},
        {"empty sni", "", 0, A_H2, 0},
        {"only a dot", ".", 0, A_NONE, 0},
        {"a star is not a name", "*.example.com", 0, A_NONE, 0},
        {"nul inside", "mail.example.com\0x", 18, A_NONE, 0},
        {"length bounds the name", "mail.example.comXYZ", 16, A_NONE, 1},
        {"utf-8 is not a host name",
         "b\xc3\xbc"
         "cher.example",
         0, A_NONE, 0},
        {"unknown", "other.test", 0, A_NONE, 0},
};

static void run_lookups(const tw_sni_table_t *t, int def)
{
	size_t i;

	for (i = 0; i < TW_ARRAY_LEN(lookup_cases); i++) {
		const struct lookup_case *c = &lookup_cases[i];
		size_t len = c->name ? (c->len ? c->len : strlen(c->name)) : 0;
		int want = c->want == 0 ? def : c->want;
		int got = tw_sni_table_lookup(t, c->name, len, (const uint8_t *)c->alpn,
		                              strlen(c->alpn));

		if (got != want)
			fail_msg("%s (\"%s\"): route %d, want %d", c->what, c->name ? c->name : "",
			         got, want);
	}
}

static void test_lookup(void **state)
{
	tw_sni_table_t *t = base_table(0);

	run_lookups(t, 0);
	/* a NULL alpn pointer is "none offered", whatever the length says */
	assert_int_equal(tw_sni_table_lookup(t, "imap.example.com", 16, NULL, 5), 5);
	tw_sni_table_free(t);
}

static void test_no_default(void **state)
{
	tw_sni_table_t *t = base_table(-1);

	run_lookups(t, -1);
	tw_sni_table_set_default(t, 7);
	assert_int_equal(tw_sni_table_lookup(t, NULL, 0, NULL, 0), 7);
	tw_sni_table_set_default(t, -1);
	assert_int_equal(tw_sni_table_lookup(t, NULL, 0, NULL, 0), -1);
	tw_sni_table_free(t);

	t = tw_sni_table_new();
	assert_non_null(t);
	assert_int_equal(tw_sni_table_lookup(t, "a.b", 3, NULL, 0), -1);
	assert_int_equal(tw_sni_table_lookup(t, NULL, 0, NULL, 0), -1);
	tw_sni_table_free(t);
	tw_sni_table_free(NULL);
}

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"

static const struct bad_case {
	const char *pattern;
	const char *const *alpn;
	int route;
	const char *err;
} bad_cases[] = {
        {"*foo.example", NULL, 1,
         "sni pattern \"*foo.example\": a wildcard must be a whole leftmost label "
         "(\"*.example.com\")"},
        {"foo.*.example", NULL, 1,
         "sni pattern \"foo.*.example\": a wildcard must be a whole leftmost label "
         "(\"*.example.com\")"},
        {"*.*.example", NULL, 1,
         "sni pattern \"*.*.example\": a wildcard must be a whole leftmost label "
         "(\"*.example.com\")"},
        {"f*.example", NULL, 1,
         "sni pattern \"f*.example\": a wildcard must be a whole leftmost label "
         "(\"*.example.com\")"},
        {"*", NULL, 1, "sni pattern \"*\": a wildcard needs a domain after it (\"*.example.com\")"},
        {"*.", NULL, 1,
         "sni pattern \"*.\": a wildcard needs a domain after it (\"*.example.com\")"},
        {"", NULL, 1, "sni pattern \"\": empty name"},
        {".", NULL, 1, "sni pattern \".\": empty name"},
        {"a..b", NULL, 1, "sni pattern \"a..b\": empty label"},
        {".a", NULL, 1, "sni pattern \".a\": empty label"},
        {"a.b..", NULL, 1, "sni pattern \"a.b..\": empty label"},
        {"*..example", NULL, 1, "sni pattern \"*..example\": empty label"},
        {L63 "x.example", NULL, 1,
         "sni pattern \"" L63 "x.example\": label longer than 63 characters"},
        {"ex!ample.com", NULL, 1,
         "sni pattern \"ex!ample.com\": character '!' not allowed (letters, digits, '-', '_')"},
        {"ex ample.com", NULL, 1,
         "sni pattern \"ex ample.com\": byte 0x20 not allowed (letters, digits, '-', '_')"},
        {"ex\x01.com", NULL, 1,
         "sni pattern \"ex\\x01.com\": byte 0x01 not allowed (letters, digits, '-', '_')"},
        {"a\"b.com", NULL, 1,
         "sni pattern \"a\\\"b.com\": character '\"' not allowed (letters, digits, '-', '_')"},
        {"mail.example.com", NULL, 1,
         "sni pattern \"mail.example.com\": duplicate of an earlier entry"},
        {"MAIL.example.com.", NULL, 9,
         "sni pattern \"MAIL.example.com.\": duplicate of an earlier entry"},
        {"*.EXAMPLE.com", NULL, 1, "sni pattern \"*.EXAMPLE.com\": duplicate of an earlier entry"},
        {"imap.example.com", alpn_imap, 1,
         "sni pattern \"imap.example.com\": alpn \"imap\" already routed by an earlier entry for "
         "the same name"},
        {"web.example.com", alpn_h2, 1,
         "sni pattern \"web.example.com\": alpn \"h2\" already routed by an earlier entry for the "
         "same name"},
        {"*.example.net", alpn_empty, 1,
         "sni pattern \"*.example.net\": duplicate of an earlier entry"},
        {"new.example.com", (const char *const[]){"h2", "", NULL}, 1,
         "sni pattern \"new.example.com\": alpn protocol 2 must be 1..255 bytes (is 0)"},
        {"new.example.com", NULL, -1, "sni pattern \"new.example.com\": route -1 is negative"},
};

static void test_bad_patterns(void **state)
{
	tw_sni_table_t *t = base_table(0);
	char err[512];
	size_t i;

	for (i = 0; i < TW_ARRAY_LEN(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		int rc = tw_sni_table_add(t, c->pattern, c->alpn, c->route, err, sizeof(err));

		if (rc != TW_EINVAL)
			fail_msg("\"%s\": rc %d, want TW_EINVAL", c->pattern, rc);
		if (strcmp(err, c->err) != 0)
			fail_msg("\"%s\": err\n  %s\nwant\n  %s", c->pattern, err, c->err);
	}
	/* failed adds left the table as it was */
	run_lookups(t, 0);
	assert_int_equal(tw_sni_table_lookup(t, "new.example.com", 15, NULL, 0), 2);
	/* err may be NULL when errlen is 0 */
	assert_int_equal(tw_sni_table_add(t, "*x", NULL, 1, NULL, 0), TW_EINVAL);
	tw_sni_table_free(t);
}

/* Limits: 63-byte labels, 253-byte names, 255-byte ALPN ids. */
static void test_limits(void **state)
{
	tw_sni_table_t *t = tw_sni_table_new();
	char name[300], err[512], want[600], proto[300];
	const char *alpn[2] = {proto, NULL};
	size_t i;

	assert_non_null(t);
	/* 4 labels of 63 + 3 dots = 255; trim to exactly 253 and 254 */
	snprintf(name, sizeof(name), "%s.%s.%s.%s", L63, L63, L63, L63);
	name[253] = '\0';
	assert_int_equal(tw_sni_table_add(t, name, NULL, 1, err, sizeof(err)), 0);
	assert_int_equal(tw_sni_table_lookup(t, name, 253, NULL, 0), 1);
	name[253] = '.';
	name[254] = '\0'; /* with the trailing dot: the same name */
	assert_int_equal(tw_sni_table_lookup(t, name, 254, NULL, 0), 1);
	snprintf(name, sizeof(name), "%s.%s.%s.%s", L63, L63, L63, L63);
	name[254] = '\0';
	assert_int_equal(tw_sni_table_add(t, name, NULL, 2, err, sizeof(err)), TW_EINVAL);
	snprintf(want, sizeof(want), "sni pattern \"%s\": name longer than 253 characters (254)",
	         name);
	assert_string_equal(err, want);
	assert_int_equal(tw_sni_table_lookup(t, name, 254, NULL, 0), -1);

	/* a wildcard counts its "*." */
	snprintf(name, sizeof(name), "*.%s.%s.%s.%s", L63, L63, L63, L63);
	name[253] = '\0';
	assert_int_equal(tw_sni_table_add(t, name, NULL, 3, err, sizeof(err)), 0);
	name[0] = 'a'; /* "a." + 251 = 253: the longest name the wildcard covers */
	assert_int_equal(tw_sni_table_lookup(t, name, 253, NULL, 0), 3);
	snprintf(name, sizeof(name), "*.%s.%s.%s.%s", L63, L63, L63, L63);
	name[254] = '\0';
	assert_int_equal(tw_sni_table_add(t, name, NULL, 3, err, sizeof(err)), TW_EINVAL);
	snprintf(want, sizeof(want), "sni pattern \"%s\": name longer than 253 characters", name);
	assert_string_equal(err, want);

	for (i = 0; i < 255; i++)
		proto[i] = (char)('a' + i % 26);
	proto[255] = '\0';
	assert_int_equal(tw_sni_table_add(t, "alpn.test", alpn, 4, err, sizeof(err)), 0);
	proto[255] = 'x';
	proto[256] = '\0';
	assert_int_equal(tw_sni_table_add(t, "alpn2.test", alpn, 5, err, sizeof(err)), TW_EINVAL);
	assert_string_equal(
	        err, "sni pattern \"alpn2.test\": alpn protocol 1 must be 1..255 bytes (is 256)");
	tw_sni_table_free(t);
}

static const struct norm_case {
	const char *in;
	size_t len; /* 0: strlen */
	size_t outsz;
	int rc;
	const char *out;
} norm_cases[] = {
        {"Mail.Example.COM.", 0, 256, 16, "mail.example.com"},
        {"a", 0, 256, 1, "a"},
        {"A_b-C.0-9", 0, 256, 9, "a_b-c.0-9"},
        {"abcdef", 3, 256, 3, "abc"},
        {"abc", 0, 4, 3, "abc"},
        {"abc.", 0, 4, 3, "abc"},
        {"abc", 0, 3, TW_ETOOBIG, ""},
        {"", 0, 256, TW_EINVAL, ""},
        {".", 0, 256, TW_EINVAL, ""},
        {"a..", 0, 256, TW_EINVAL, ""},
        {"..a", 0, 256, TW_EINVAL, ""},
        {"*.a", 0, 256, TW_EINVAL, ""},
        {"a b", 0, 256, TW_EINVAL, ""},
        {"a\0b", 3, 256, TW_EINVAL, ""},
        {"\xc3\xa9.fr", 0, 256, TW_EINVAL, ""},
        {L63 ".a", 0, 256, 65, L63 ".a"},
        {L63 "d.a", 0, 256, TW_EINVAL, ""},
};

static void test_normalize(void **state)
{
	char out[300];
	size_t i;

	for (i = 0; i < TW_ARRAY_LEN(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		int rc;

		memset(out, 'Z', sizeof(out));
		rc = tw_sni_name_normalize(c->in, len, out, c->outsz);
		if (rc != c->rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, c->in, rc, c->rc);
		if (strcmp(out, c->out) != 0)
			fail_msg("case %zu \"%s\": out \"%s\", want \"%s\"", i, c->in, out, c->out);
	}
}

/* Many entries added out of order: the sorted array finds each one. */
static void test_many(void **state)
{
	tw_sni_table_t *t = tw_sni_table_new();
	char name[64], err[256];
	int i, k;

	assert_non_null(t);
	for (i = 0; i < 500; i++) {
		k = (i * 7919) % 500; /* a permutation: 7919 is prime, coprime with 500 */
		snprintf(name, sizeof(name), "%sh%d.example", k % 2 ? "*." : "", k);
		assert_int_equal(tw_sni_table_add(t, name, NULL, k, err, sizeof(err)), 0);
	}
	tw_sni_table_set_default(t, 1000);
	for (k = 0; k < 500; k++) {
		snprintf(name, sizeof(name), "%sh%d.example", k % 2 ? "x." : "", k);
		assert_int_equal(tw_sni_table_lookup(t, name, strlen(name), NULL, 0), k);
		snprintf(name, sizeof(name), "%sh%d.example", k % 2 ? "" : "x.", k);
		assert_int_equal(tw_sni_table_lookup(t, name, strlen(name), NULL, 0), 1000);
	}
	tw_sni_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lookup),       cmocka_unit_test(test_no_default),
	        cmocka_unit_test(test_bad_patterns), cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_normalize),    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
