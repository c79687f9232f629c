/*
 * dns_zone_test.c - the zone model and the master-file loader/writer:
 * directives, $INCLUDE (paths, per-file line numbers, loops, depth),
 * origin rules, each kind of bad line with its file:line, TXT
 * canonicalisation, write -> load round trips, canonical sort, names.
 */
#include "util/tw.h"

#include "dns/zone.h"

#include <errno.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- helpers ------------------------------------------------------------ */

typedef struct tmpdir {
	char dir[64];
	char files[40][256];
	int n;
} tmpdir_t;

static void td_init(tmpdir_t *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/tw-zone-test-XXXXXX");
	if (!mkdtemp(t->dir))
		fail_msg("mkdtemp: %s", strerror(errno));
}

/* Writes dir/rel (creating one level of subdirectory) and returns its path. */
static const char *td_write(tmpdir_t *t, const char *rel, const char *text)
{
	assert_true(t->n < 40);
	char *path = t->files[t->n++];
	const char *slash = strchr(rel, '/');
	if (slash) {
		char sub[256];
		snprintf(sub, sizeof(sub), "%s/%.*s", t->dir, (int)(slash - rel), rel);
		if (mkdir(sub, 0700) != 0 && errno != EEXIST)
			fail_msg("mkdir %s: %s", sub, strerror(errno));
	}
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s/%s", t->dir, rel);
	memcpy(path, tmp, sizeof(tmp));
	FILE *f = fopen(path, "w");
	if (!f)
		fail_msg("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	return path;
}

static void td_cleanup(tmpdir_t *t)
{
	for (int i = t->n - 1; i >= 0; i--) {
		unlink(t->files[i]);
		char *slash = strrchr(t->files[i], '/');
		*slash = '\0';
		if (strcmp(t->files[i], t->dir) != 0)
			rmdir(t->files[i]);
	}
	rmdir(t->dir);
}

static int load_text(tw_dns_zone_t *z, const char *text, const char *domain, tw_diags_t *d)
{
	return tw_dns_zone_load_mem(z, "t.zone", text, strlen(text), domain, d);
}

static void print_diags(const tw_diags_t *d)
{
	tw_diags_print(d, stderr);
}

/* The diag at file:line whose message contains sub; fails the test if none. */
static const tw_diag_t *want_diag(const tw_diags_t *d, const char *file, int line, const char *sub)
{
	for (size_t i = 0; i < d->n; i++) {
		const tw_diag_t *g = &d->v[i];
		if (strcmp(g->file, file) == 0 && g->line == line && strstr(g->msg, sub))
			return g;
	}
	print_diags(d);
	fail_msg("no diag %s:%d containing \"%s\"", file, line, sub);
	return NULL;
}

static const tw_dns_rr_t *find_rr(const tw_dns_zone_t *z, const char *owner, uint16_t type,
                                  const char *rdata)
{
	for (size_t i = 0; i < z->n; i++) {
		const tw_dns_rr_t *r = &z->v[i];
		if (strcmp(r->owner, owner) == 0 && r->type == type &&
		    (!rdata || strcmp(r->rdata, rdata) == 0))
			return r;
	}
	return NULL;
}

static const tw_dns_rr_t *need_rr(const tw_dns_zone_t *z, const char *owner, uint16_t type,
                                  const char *rdata)
{
	const tw_dns_rr_t *r = find_rr(z, owner, type, rdata);
	if (!r) {
		char buf[600];
		for (size_t i = 0; i < z->n; i++)
			fprintf(stderr, "  have: %s\n",
			        tw_dns_rr_format(&z->v[i], buf, sizeof(buf)));
		fail_msg("no record %s %u %s", owner, type, rdata ? rdata : "*");
	}
	return r;
}

static void load_ok(tw_dns_zone_t *z, const char *text, const char *domain)
{
	tw_diags_t d = {0};
	int rc = load_text(z, text, domain, &d);
	if (rc != 0)
		print_diags(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(d.n, 0);
	tw_diags_release(&d);
}

/* ---- directives and records --------------------------------------------- */

static void test_directives(void **state)
{
	tw_dns_zone_t z;
	load_ok(&z,
	        "; a comment line\n"
	        "$ORIGIN Example.COM.\n"
	        "$TTL 1h\n"
	        "@\tIN SOA ns1 hostmaster ( 2024010101 ; serial\n"
	        "\t\t7200 ; refresh\n"
	        "\t\t3600 1209600 300 )\n"
	        "\tNS ns1\n"
	        "www 300 A 192.0.2.1 ; trailing comment\n"
	        "    IN 600 AAAA 2001:db8::1\n"
	        "mail.example.com. MX 10 @\n"
	        "\n"
	        "   ; only a comment\n"
	        "$ORIGIN sub\n"
	        "host CNAME www.example.com.\n"
	        "$ttl 120\n"
	        "txt TXT \"a;b(c)\"\n",
	        NULL);
	assert_string_equal(z.origin, "example.com.");
	assert_int_equal(z.default_ttl, 3600);
	assert_int_equal(z.n, 8 - 1);

	const tw_dns_rr_t *soa = need_rr(&z, "example.com.", LDNS_RR_TYPE_SOA, NULL);
	assert_int_equal(soa->line, 4);
	assert_int_equal(soa->ttl, 3600);
	assert_string_equal(soa->rdata, "ns1.example.com. hostmaster.example.com. 2024010101 "
	                                "7200 3600 1209600 300");
	assert_non_null(soa->rr);
	assert_string_equal(soa->file, "t.zone");

	/* blank owner: the previous owner (the apex) */
	const tw_dns_rr_t *ns = need_rr(&z, "example.com.", LDNS_RR_TYPE_NS, "ns1.example.com.");
	assert_int_equal(ns->line, 7);
	assert_int_equal(ns->ttl, 3600);

	const tw_dns_rr_t *a = need_rr(&z, "www.example.com.", LDNS_RR_TYPE_A, "192.0.2.1");
	assert_int_equal(a->ttl, 300);
	assert_int_equal(a->line, 8);
	/* class before TTL, blank owner = www */
	const tw_dns_rr_t *aaaa = need_rr(&z, "www.example.com.", LDNS_RR_TYPE_AAAA, "2001:db8::1");
	assert_int_equal(aaaa->ttl, 600);
	assert_int_equal(aaaa->line, 9);
	need_rr(&z, "mail.example.com.", LDNS_RR_TYPE_MX, "10 example.com.");
	/* $ORIGIN relative to the current origin */
	const tw_dns_rr_t *cn =
	        need_rr(&z, "host.sub.example.com.", LDNS_RR_TYPE_CNAME, "www.example.com.");
	assert_int_equal(cn->line, 14);
	assert_int_equal(cn->ttl, 3600);
	const tw_dns_rr_t *t = need_rr(&z, "txt.sub.example.com.", LDNS_RR_TYPE_TXT, NULL);
	assert_string_equal(t->rdata, "\"a;b(c)\"");
	assert_int_equal(t->ttl, 120);
	assert_int_equal(t->line, 16);
	tw_dns_zone_release(&z);
}

static void test_ttl_defaults(void **state)
{
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	/* No $TTL: the last TTL stated on a record (RFC 1035 §5.1). */
	load_ok(&z,
	        "$ORIGIN example.com.\n"
	        "a 300 A 192.0.2.1\n"
	        "b A 192.0.2.2\n"
	        "c 60 A 192.0.2.3\n"
	        "d A 192.0.2.4\n"
	        "$TTL 900\n"
	        "e A 192.0.2.5\n"
	        "f 30 A 192.0.2.6\n"
	        "g A 192.0.2.7\n",
	        NULL);
	assert_int_equal(need_rr(&z, "b.example.com.", LDNS_RR_TYPE_A, NULL)->ttl, 300);
	assert_int_equal(need_rr(&z, "d.example.com.", LDNS_RR_TYPE_A, NULL)->ttl, 60);
	assert_int_equal(need_rr(&z, "e.example.com.", LDNS_RR_TYPE_A, NULL)->ttl, 900);
	/* with $TTL, an omitted TTL is $TTL, not the last one stated (RFC 2308 §4) */
	assert_int_equal(need_rr(&z, "g.example.com.", LDNS_RR_TYPE_A, NULL)->ttl, 900);
	assert_int_equal(z.default_ttl, 900);
	tw_dns_zone_release(&z);

	/* No TTL anywhere: an error that says what to add. */
	assert_int_equal(load_text(&z, "$ORIGIN example.com.\nwww A 192.0.2.1\n", NULL, &d),
	                 TW_EINVAL);
	assert_int_equal(d.n, 1);
	const tw_diag_t *g = want_diag(&d, "t.zone", 2, "no TTL");
	assert_non_null(strstr(g->msg, "$TTL"));
	assert_string_equal(g->field, "www.example.com. A");
	assert_int_equal(z.n, 0);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
}

static void test_origin_rules(void **state)
{
	tw_dns_zone_t z;
	tw_diags_t d = {0};

	/* --domain alone */
	load_ok(&z, "$TTL 60\nwww A 192.0.2.1\n@ MX 0 .\n", "Example.com");
	assert_string_equal(z.origin, "example.com.");
	need_rr(&z, "www.example.com.", LDNS_RR_TYPE_A, "192.0.2.1");
	need_rr(&z, "example.com.", LDNS_RR_TYPE_MX, "0 .");
	tw_dns_zone_release(&z);

	/* both, equal up to case and the final dot */
	load_ok(&z, "$ORIGIN EXAMPLE.com.\n$TTL 60\nwww A 192.0.2.1\n", "example.com");
	assert_int_equal(z.n, 1);
	tw_dns_zone_release(&z);

	/* both, different: the $ORIGIN line */
	assert_int_equal(load_text(&z, "$TTL 60\n\n$ORIGIN example.org.\nwww A 192.0.2.1\n",
	                           "example.com", &d),
	                 TW_EINVAL);
	const tw_diag_t *g = want_diag(&d, "t.zone", 3, "differs from the domain example.com.");
	assert_string_equal(g->field, "$ORIGIN");
	assert_int_equal(d.n, 1); /* the record is read under --domain, no more noise */
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* neither: a record */
	assert_int_equal(load_text(&z, "$TTL 60\nwww A 192.0.2.1\n", NULL, &d), TW_EINVAL);
	g = want_diag(&d, "t.zone", 2, "no origin");
	assert_non_null(strstr(g->msg, "$ORIGIN"));
	assert_non_null(strstr(g->msg, "--domain"));
	assert_int_equal(d.n, 1);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* neither, and no record */
	assert_int_equal(load_text(&z, "; empty\n", NULL, &d), TW_EINVAL);
	want_diag(&d, "t.zone", 0, "no origin");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* owners outside the origin */
	assert_int_equal(load_text(&z,
	                           "$ORIGIN example.com.\n$TTL 60\nwww A 192.0.2.1\n"
	                           "www.example.org. A 192.0.2.2\n"
	                           "$ORIGIN example.net.\nmail A 192.0.2.3\n",
	                           NULL, &d),
	                 TW_EINVAL);
	assert_int_equal(d.n, 2);
	g = want_diag(&d, "t.zone", 4, "outside the zone example.com.");
	assert_string_equal(g->field, "www.example.org. A");
	want_diag(&d, "t.zone", 6, "mail.example.net. is outside");
	assert_int_equal(z.n, 1);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* a bad --domain */
	assert_int_equal(load_text(&z, "", "exa..mple", &d), TW_EINVAL);
	g = want_diag(&d, "t.zone", 0, "bad domain");
	assert_string_equal(g->field, "--domain");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
}

static void test_bad_lines(void **state)
{
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	const char *text = "$ORIGIN example.com.\n"         /* 1 */
	                   "$TTL 300\n"                     /* 2 */
	                   "good A 192.0.2.1\n"             /* 3 */
	                   "a1 FOO 1 2 3\n"                 /* 4 unknown type */
	                   "a2 A 1.2.3\n"                   /* 5 bad rdata */
	                   "a3 TXT \"no end\n"              /* 6 unterminated quote */
	                   "a4 CH A 192.0.2.4\n"            /* 7 class */
	                   "a5 3x0 A 192.0.2.5\n"           /* 8 ttl */
	                   "$TTL abc\n"                     /* 9 $TTL */
	                   "a6 A 192.0.2.6 )\n"             /* 10 stray ) */
	                   "a7 MX 10\n"                     /* 11 missing field */
	                   "a8 A\n"                         /* 12 no data */
	                   "a9..x A 192.0.2.9\n"            /* 13 bad owner */
	                   "$GENERATE 1-2 h$ A 192.0.2.1\n" /* 14 unknown directive */
	                   "a10 A 192.0.2.10 192.0.2.11\n"  /* 15 extra field */
	                   "a11 ANY 192.0.2.1\n"            /* 16 meta type */
	                   "a12 99999999999 A 192.0.2.1\n"  /* 17 ttl too big */
	                   "good2 A 192.0.2.2\n"            /* 18 */
	                   "a13 MX ( 10\n"                  /* 19 unterminated ( */
	                   "   mail\n";
	assert_int_equal(load_text(&z, text, NULL, &d), TW_EINVAL);
	const tw_diag_t *g = want_diag(&d, "t.zone", 4, "unknown record type \"FOO\"");
	assert_string_equal(g->field, "a1.example.com.");
	g = want_diag(&d, "t.zone", 5, "bad A data \"1.2.3\"");
	assert_string_equal(g->field, "a2.example.com. A");
	assert_non_null(strstr(g->msg, "could not parse")); /* ldns's own words */
	want_diag(&d, "t.zone", 6, "unterminated quoted string");
	want_diag(&d, "t.zone", 7, "class \"CH\" is not supported");
	want_diag(&d, "t.zone", 8, "bad TTL \"3x0\"");
	g = want_diag(&d, "t.zone", 9, "bad TTL \"abc\"");
	assert_string_equal(g->field, "$TTL");
	want_diag(&d, "t.zone", 10, "')' without a '('");
	want_diag(&d, "t.zone", 11, "bad MX data");
	want_diag(&d, "t.zone", 12, "missing data");
	want_diag(&d, "t.zone", 13, "bad owner name \"a9..x\"");
	want_diag(&d, "t.zone", 14, "unknown directive \"$GENERATE\"");
	want_diag(&d, "t.zone", 15, "superfluous");
	want_diag(&d, "t.zone", 16, "query type");
	want_diag(&d, "t.zone", 17, "bad TTL");
	want_diag(&d, "t.zone", 19, "unterminated '('");
	assert_int_equal(d.n, 15);
	/* the good records are all there, nothing else */
	assert_int_equal(z.n, 2);
	need_rr(&z, "good.example.com.", LDNS_RR_TYPE_A, "192.0.2.1");
	need_rr(&z, "good2.example.com.", LDNS_RR_TYPE_A, "192.0.2.2");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* A quoted string over 255 bytes gets its own explanation. */
	char big[700];
	memset(big, 'k', sizeof(big));
	int n = snprintf(big, sizeof(big), "$ORIGIN example.com.\n$TTL 1\nx TXT \"");
	memset(big + n, 'k', 300);
	snprintf(big + n + 300, sizeof(big) - (size_t)n - 300, "\"\n");
	assert_int_equal(load_text(&z, big, NULL, &d), TW_EINVAL);
	want_diag(&d, "t.zone", 3, "longer than 255 bytes");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* A NUL byte */
	static const char nul[] = "$ORIGIN example.com.\n$TTL 1\nx A 192.0.2.1\0\ny A 192.0.2.2\n";
	assert_int_equal(tw_dns_zone_load_mem(&z, "t.zone", nul, sizeof(nul) - 1, NULL, &d),
	                 TW_EINVAL);
	want_diag(&d, "t.zone", 3, "NUL byte");
	assert_int_equal(d.n, 1);
	assert_int_equal(z.n, 1);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* RFC 3597 generic data that stops short of the type's fields */
	assert_int_equal(load_text(&z,
	                           "$ORIGIN example.com.\n$TTL 1\n"
	                           "a MX \\# 2 0001\n"
	                           "b A \\# 0\n"
	                           "c MX \\# 3 000a00\n",
	                           NULL, &d),
	                 TW_EINVAL);
	assert_int_equal(d.n, 2);
	want_diag(&d, "t.zone", 3, "incomplete data: 1 of at least 2 fields");
	want_diag(&d, "t.zone", 4, "incomplete data");
	need_rr(&z, "c.example.com.", LDNS_RR_TYPE_MX, "10 .");
	assert_int_equal(z.n, 1);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* Types outside the managed set are refused before ldns parses them
	 * (ldns 1.8.3 leaks on some malformed IPSECKEY and CERT data). */
	assert_int_equal(load_text(&z,
	                           "$ORIGIN example.com.\n$TTL 1\n"
	                           "a IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtu\n"
	                           "k CERT  0 0 PGPAQID\n"
	                           "m MX 10 mail\n",
	                           NULL, &d),
	                 TW_EINVAL);
	assert_int_equal(d.n, 2);
	want_diag(&d, "t.zone", 3, "doesn't manage IPSECKEY records");
	want_diag(&d, "t.zone", 4, "doesn't manage CERT records");
	need_rr(&z, "m.example.com.", LDNS_RR_TYPE_MX, "10 mail.example.com.");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
}

static void test_error_bound(void **state)
{
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	size_t cap = 200 * 32 + 64, o = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "$ORIGIN example.com.\n$TTL 1\n");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(text + o, cap - o, "h%d A 1.2.3\n", i);
	assert_int_equal(load_text(&z, text, NULL, &d), TW_EINVAL);
	assert_int_equal(d.n, 101);
	assert_non_null(strstr(d.v[100].msg, "too many errors"));
	assert_int_equal(d.v[99].line, 3 + 99);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* the same with errors found once a record is parsed (outside the zone) */
	o = (size_t)snprintf(text, cap, "$ORIGIN example.com.\n$TTL 1\n");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(text + o, cap - o, "h%d.org. A 192.0.2.1\n", i);
	assert_int_equal(load_text(&z, text, NULL, &d), TW_EINVAL);
	assert_int_equal(d.n, 101);
	assert_non_null(strstr(d.v[99].msg, "outside the zone"));
	assert_non_null(strstr(d.v[100].msg, "too many errors"));
	assert_int_equal(d.v[100].line, 3 + 100);
	free(text);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
}

static void test_duplicates(void **state)
{
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	assert_int_equal(load_text(&z,
	                           "$ORIGIN example.com.\n$TTL 60\n"
	                           "@ TXT \"v=spf1 \" \"-all\"\n"   /* 3 */
	                           "www A 192.0.2.1\n"              /* 4 */
	                           "@ 300 TXT \"v=spf1 -all\"\n"    /* 5: same data, other TTL */
	                           "WWW.example.com. A 192.0.2.1\n" /* 6 */
	                           "www A 192.0.2.2\n"              /* 7: not a duplicate */
	                           "@ TXT \"V=spf1 -all\"\n",       /* 8: TXT is case-sensitive */
	                           NULL, &d),
	                 TW_EINVAL);
	assert_int_equal(d.n, 2);
	const tw_diag_t *g = want_diag(&d, "t.zone", 5, "already at t.zone:3");
	assert_string_equal(g->field, "example.com. TXT");
	assert_non_null(strstr(g->msg, "duplicate record"));
	want_diag(&d, "t.zone", 6, "already at t.zone:4");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
}

/* ---- $INCLUDE ------------------------------------------------------------ */

static void test_include(void **state)
{
	tmpdir_t t;
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	char want[300];
	td_init(&t);
	td_write(&t, "sub/mail.inc",
	         "; included with origin mail.example.com.\n"
	         "@ A 192.0.2.25\n"
	         "$ORIGIN inner.example.com.\n" /* ends with this file */
	         "x A 192.0.2.26\n"
	         "$INCLUDE deeper.inc\n"); /* relative to sub/ */
	td_write(&t, "sub/deeper.inc", "deep TXT \"from deeper\"\n");
	td_write(&t, "dkim.inc", "$TTL 77\nsel._domainkey TXT \"v=DKIM1; k=rsa; p=abc\"\n");
	const char *main_path = td_write(&t, "main.zone",
	                                 "$ORIGIN example.com.\n"
	                                 "$TTL 300\n"
	                                 "www A 192.0.2.1\n"
	                                 "$INCLUDE sub/mail.inc mail ; comment\n"
	                                 "after A 192.0.2.2\n"
	                                 "$INCLUDE \"dkim.inc\"\n"
	                                 "after2 A 192.0.2.3\n");
	int rc = tw_dns_zone_load(&z, main_path, NULL, &d);
	if (rc)
		print_diags(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(z.n, 7);
	const tw_dns_rr_t *r = need_rr(&z, "mail.example.com.", LDNS_RR_TYPE_A, "192.0.2.25");
	snprintf(want, sizeof(want), "%s/sub/mail.inc", t.dir);
	assert_string_equal(r->file, want);
	assert_int_equal(r->line, 2);
	assert_int_equal(r->ttl, 300);
	r = need_rr(&z, "x.inner.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_int_equal(r->line, 4);
	/* the included file's $ORIGIN carries on into what it includes */
	r = need_rr(&z, "deep.inner.example.com.", LDNS_RR_TYPE_TXT, "\"from deeper\"");
	snprintf(want, sizeof(want), "%s/sub/deeper.inc", t.dir);
	assert_string_equal(r->file, want);
	assert_int_equal(r->line, 1);
	/* ...but not back into the including file */
	r = need_rr(&z, "after.example.com.", LDNS_RR_TYPE_A, NULL);
	assert_string_equal(r->file, main_path);
	assert_int_equal(r->line, 5);
	r = need_rr(&z, "sel._domainkey.example.com.", LDNS_RR_TYPE_TXT, NULL);
	assert_int_equal(r->ttl, 77);
	/* $TTL of an included file ends with it */
	assert_int_equal(need_rr(&z, "after2.example.com.", LDNS_RR_TYPE_A, NULL)->ttl, 300);
	assert_int_equal(z.default_ttl, 300);
	tw_dns_zone_release(&z);

	/* Errors in an included file: its own name and line numbers. */
	td_write(&t, "bad.inc", "ok A 192.0.2.1\n\n\nbroken A 1.2.3\n");
	main_path = td_write(&t, "main2.zone",
	                     "$ORIGIN example.com.\n$TTL 1\n$INCLUDE bad.inc\nalso A 1.2.3\n"
	                     "$INCLUDE nothere.inc\n$INCLUDE\n");
	assert_int_equal(tw_dns_zone_load(&z, main_path, NULL, &d), TW_EINVAL);
	snprintf(want, sizeof(want), "%s/bad.inc", t.dir);
	const tw_diag_t *g = want_diag(&d, want, 4, "bad A data");
	assert_string_equal(g->field, "broken.example.com. A");
	want_diag(&d, main_path, 4, "bad A data");
	g = want_diag(&d, main_path, 5, "cannot read");
	assert_string_equal(g->field, "$INCLUDE");
	assert_non_null(strstr(g->msg, "No such file"));
	g = want_diag(&d, main_path, 6, "expected a file name");
	assert_int_equal(d.n, 4);
	assert_int_equal(z.n, 1);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* Not from memory. */
	assert_int_equal(load_text(&z, "$ORIGIN example.com.\n$INCLUDE /etc/hostname\n", NULL, &d),
	                 TW_EINVAL);
	want_diag(&d, "t.zone", 2, "not allowed");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
	td_cleanup(&t);
}

static void test_include_loops(void **state)
{
	tmpdir_t t;
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	char want[300];
	td_init(&t);
	td_write(&t, "a.inc", "a A 192.0.2.1\n$INCLUDE b.inc\n");
	td_write(&t, "b.inc", "b A 192.0.2.2\n\n$INCLUDE a.inc\n");
	const char *main_path =
	        td_write(&t, "loop.zone", "$ORIGIN example.com.\n$TTL 1\n$INCLUDE a.inc\n");
	assert_int_equal(tw_dns_zone_load(&z, main_path, NULL, &d), TW_EINVAL);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want), "%s/b.inc", t.dir);
	const tw_diag_t *g = want_diag(&d, want, 3, "include loop");
	assert_string_equal(g->field, "$INCLUDE");
	assert_non_null(strstr(g->msg, "a.inc"));
	assert_int_equal(z.n, 2);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* A file including itself. */
	main_path = td_write(&t, "self.zone", "$ORIGIN example.com.\n$TTL 1\n$INCLUDE self.zone\n");
	assert_int_equal(tw_dns_zone_load(&z, main_path, NULL, &d), TW_EINVAL);
	want_diag(&d, main_path, 3, "include loop");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* A chain deeper than 16 files. */
	for (int i = 0; i < 20; i++) {
		char name[32], text[64];
		snprintf(name, sizeof(name), "c%d.inc", i);
		snprintf(text, sizeof(text), "c%d A 192.0.2.1\n$INCLUDE c%d.inc\n", i, i + 1);
		td_write(&t, name, text);
	}
	main_path = td_write(&t, "deep.zone", "$ORIGIN example.com.\n$TTL 1\n$INCLUDE c0.inc\n");
	assert_int_equal(tw_dns_zone_load(&z, main_path, NULL, &d), TW_EINVAL);
	assert_int_equal(d.n, 1);
	snprintf(want, sizeof(want), "%s/c15.inc", t.dir);
	want_diag(&d, want, 2, "more than 16 files deep");
	assert_int_equal(z.n, 16);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);

	/* The top file itself unreadable. */
	char none[128];
	snprintf(none, sizeof(none), "%s/none.zone", t.dir);
	assert_int_equal(tw_dns_zone_load(&z, none, "example.com", &d), TW_EINVAL);
	want_diag(&d, none, 0, "cannot read the zone file");
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
	td_cleanup(&t);
}

/* ---- TXT and canonical forms -------------------------------------------- */

static void test_txt_canonical(void **state)
{
	tw_dns_zone_t z;
	load_ok(&z,
	        "$ORIGIN example.com.\n$TTL 60\n"
	        "a TXT \"v=spf1 \" \"-all\"\n"
	        "b TXT \"v=spf1 -all\"\n"
	        "c TXT ( \"v=spf1\"\n \" -all\" )\n"
	        "d TXT \"q\\\"x\\\\y\\200z\\009\" \"\xc3\xa9\"\n"
	        "e TXT unquoted words\n"
	        "f SPF \"v=spf1 \" \"-all\"\n"
	        "g TXT \"\"\n",
	        NULL);
	const tw_dns_rr_t *a = need_rr(&z, "a.example.com.", LDNS_RR_TYPE_TXT, NULL);
	const tw_dns_rr_t *b = need_rr(&z, "b.example.com.", LDNS_RR_TYPE_TXT, NULL);
	const tw_dns_rr_t *c = need_rr(&z, "c.example.com.", LDNS_RR_TYPE_TXT, NULL);
	assert_string_equal(a->rdata, "\"v=spf1 -all\"");
	assert_string_equal(a->rdata, b->rdata);
	assert_string_equal(c->rdata, b->rdata);
	assert_int_equal(a->txt_len, 11);
	assert_memory_equal(a->txt, "v=spf1 -all", 12); /* NUL-terminated */
	assert_int_equal(c->line, 5);

	const tw_dns_rr_t *d = need_rr(&z, "d.example.com.", LDNS_RR_TYPE_TXT, NULL);
	assert_int_equal(d->txt_len, 10);
	assert_memory_equal(d->txt, "q\"x\\y\xc8z\t\xc3\xa9", 11);
	assert_string_equal(d->rdata, "\"q\\\"x\\\\y\\200z\\009\\195\\169\"");
	need_rr(&z, "e.example.com.", LDNS_RR_TYPE_TXT, "\"unquotedwords\"");
	const tw_dns_rr_t *f = need_rr(&z, "f.example.com.", LDNS_RR_TYPE_SPF, "\"v=spf1 -all\"");
	assert_non_null(f->txt);
	const tw_dns_rr_t *g = need_rr(&z, "g.example.com.", LDNS_RR_TYPE_TXT, "\"\"");
	assert_int_equal(g->txt_len, 0);
	assert_non_null(g->txt);

	/* same_data: owner, type and data; not the TTL */
	tw_dns_rr_t x = *a, y = *b;
	y.owner = a->owner;
	y.ttl = 999;
	assert_true(tw_dns_rr_same_data(&x, &y));
	assert_true(tw_dns_rr_same_set(&x, &y));
	assert_false(tw_dns_rr_same_data(a, b)); /* other owner */
	y.txt_len = 10;
	assert_false(tw_dns_rr_same_data(&x, &y));
	y = *f;
	y.owner = a->owner;
	assert_false(tw_dns_rr_same_set(&x, &y)); /* TXT vs SPF */
	tw_dns_zone_release(&z);

	/* Canonical owner and names in data: lower case, absolute. */
	load_ok(&z,
	        "$ORIGIN Example.Com.\n$TTL 60\n"
	        "WWW CNAME Target.Example.NET.\n"
	        "_Sip._TCP SRV 10 20 5060 SIP\n"
	        "* MX 10 Mail\n",
	        NULL);
	need_rr(&z, "www.example.com.", LDNS_RR_TYPE_CNAME, "target.example.net.");
	need_rr(&z, "_sip._tcp.example.com.", LDNS_RR_TYPE_SRV, "10 20 5060 sip.example.com.");
	need_rr(&z, "*.example.com.", LDNS_RR_TYPE_MX, "10 mail.example.com.");
	tw_dns_zone_release(&z);
}

/* ---- write -> load ------------------------------------------------------- */

static char *write_zone(const tw_dns_zone_t *z, const char *header, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	assert_non_null(f);
	assert_int_equal(tw_dns_zone_write(z, f, header), 0);
	fclose(f);
	return buf;
}

static void test_round_trip(void **state)
{
	tw_dns_zone_t z, back;
	tw_diags_t d = {0};
	char key[420 + 1];
	/* a 2048-bit RSA DKIM key is about 400 base64 characters */
	for (size_t i = 0; i < sizeof(key) - 1; i++)
		key[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i * 7 %
		                                                                            64];
	key[sizeof(key) - 1] = '\0';
	char text[4096];
	snprintf(text, sizeof(text),
	         "$ORIGIN example.com.\n$TTL 3600\n"
	         "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	         "@ NS ns1\n"
	         "@ MX 10 mail\n"
	         "@ MX 20 backup.example.net.\n"
	         "@ TXT \"v=spf1 mx -all\"\n"
	         "@ CAA 0 issue \"letsencrypt.org\"\n"
	         "@ CAA 128 iodef \"mailto:security@example.com\"\n"
	         "mail A 192.0.2.25\n"
	         "mail AAAA 2001:db8::25\n"
	         "_25._tcp.mail TLSA 3 1 1 "
	         "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
	         "_submission._tcp SRV 0 1 587 mail\n"
	         "_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:d@example.com\"\n"
	         "sel1._domainkey 300 TXT ( \"v=DKIM1; k=rsa; p=\" \"%.200s\"\n"
	         "\t\"%s\" )\n"
	         "odd TXT \"quote\\\" back\\\\slash \\255\\000 \xc3\xa9t\xc3\xa9\"\n"
	         "* A 192.0.2.80\n"
	         "under_score CNAME www\n"
	         "www A 192.0.2.80\n"
	         "empty TXT \"\"\n",
	         key, key + 200);
	load_ok(&z, text, NULL);
	assert_int_equal(z.n, 18);
	const tw_dns_rr_t *dk = need_rr(&z, "sel1._domainkey.example.com.", LDNS_RR_TYPE_TXT, NULL);
	assert_int_equal(dk->txt_len, strlen("v=DKIM1; k=rsa; p=") + strlen(key));
	/* A provider's record without an ldns form: a comment in the file. */
	assert_int_equal(tw_dns_zone_add_opaque(&z, "@", "ALIAS", 60, "lb.example.net.",
	                                        "spaceship product record"),
	                 0);

	size_t len = 0;
	char *out = write_zone(&z, "written by a test\nsecond line", &len);
	assert_non_null(strstr(out, "; written by a test\n; second line\n$ORIGIN example.com.\n"));
	assert_non_null(strstr(out, "\n@ 3600 IN MX 10 mail.example.com.\n"));
	assert_non_null(strstr(out, "\n_dmarc 3600 IN TXT \"v=DMARC1;"));
	assert_non_null(strstr(out, "\nunder_score 3600 IN CNAME www.example.com.\n"));
	assert_non_null(strstr(
	        out, "\n; unmanaged (spaceship product record): @ 60 IN ALIAS lb.example.net.\n"));
	/* the DKIM value split in strings of at most 255 bytes, on one line */
	const char *dl = strstr(out, "\nsel1._domainkey 300 IN TXT \"v=DKIM1; k=rsa; p=");
	assert_non_null(dl);
	const char *q1 = strchr(dl, '"');
	const char *q2 = strchr(q1 + 1, '"');
	assert_int_equal(q2 - q1 - 1, 255);
	assert_int_equal(q2[1], ' ');
	assert_int_equal(q2[2], '"');
	assert_null(memchr(dl + 1, '\n', (size_t)(q2 - dl)));

	int rc = tw_dns_zone_load_mem(&back, "written", out, len, NULL, &d);
	if (rc) {
		print_diags(&d);
		fprintf(stderr, "%s", out);
	}
	assert_int_equal(rc, 0);
	assert_string_equal(back.origin, z.origin);
	assert_int_equal(back.n, z.n - 1); /* the unmanaged one is a comment */
	for (size_t i = 0; i < z.n; i++) {
		const tw_dns_rr_t *r = &z.v[i];
		if (r->flags & TW_DNS_RR_UNMANAGED)
			continue;
		const tw_dns_rr_t *b = need_rr(&back, r->owner, r->type, r->rdata);
		assert_true(tw_dns_rr_same_data(r, b));
		assert_int_equal(r->ttl, b->ttl);
		if (r->txt) {
			assert_int_equal(r->txt_len, b->txt_len);
			assert_memory_equal(r->txt, b->txt, r->txt_len);
		}
	}
	/* Writing the loaded zone gives the same text (without the comment). */
	size_t len2 = 0;
	char *out2 = write_zone(&back, "written by a test\nsecond line", &len2);
	char *cm = strstr(out, "; unmanaged");
	char *eol = strchr(cm, '\n');
	memmove(cm, eol + 1, strlen(eol + 1) + 1);
	assert_string_equal(out2, out);
	assert_int_equal(len2, strlen(out));
	free(out);
	free(out2);
	tw_dns_zone_release(&back);
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
}

/* ---- sorting and names --------------------------------------------------- */

static void test_sort(void **state)
{
	tw_dns_zone_t z;
	/* RFC 4034 §6.1's example, shuffled, plus types and data at one name. */
	load_ok(&z,
	        "$ORIGIN example.\n$TTL 1\n"
	        "z A 192.0.2.1\n"
	        "\\200.z A 192.0.2.1\n"
	        "zABC.a.EXAMPLE. A 192.0.2.1\n"
	        "@ MX 10 b\n"
	        "*.z A 192.0.2.1\n"
	        "a A 192.0.2.1\n"
	        "@ A 192.0.2.2\n"
	        "Z.a A 192.0.2.1\n"
	        "\\001.z A 192.0.2.1\n"
	        "yljkjljk.a A 192.0.2.1\n"
	        "@ A 192.0.2.1\n"
	        "@ MX 5 c\n",
	        NULL);
	tw_dns_zone_sort(&z);
	static const char *const want[][2] = {
	        {"example.", "192.0.2.1"},     {"example.", "192.0.2.2"},
	        {"example.", "10 b.example."}, {"example.", "5 c.example."},
	        {"a.example.", NULL},          {"yljkjljk.a.example.", NULL},
	        {"z.a.example.", NULL},        {"zabc.a.example.", NULL},
	        {"z.example.", NULL},          {"\\001.z.example.", NULL},
	        {"*.z.example.", NULL},        {"\\200.z.example.", NULL},
	};
	assert_int_equal(z.n, TW_ARRAY_LEN(want));
	for (size_t i = 0; i < z.n; i++) {
		assert_string_equal(z.v[i].owner, want[i][0]);
		if (want[i][1])
			assert_string_equal(z.v[i].rdata, want[i][1]);
	}
	/* A before MX at the apex: type number order */
	assert_int_equal(z.v[1].type, LDNS_RR_TYPE_A);
	assert_int_equal(z.v[2].type, LDNS_RR_TYPE_MX);
	/* the records still own their ldns forms after the move */
	assert_non_null(z.v[11].rr);
	tw_dns_zone_release(&z);
}

static void test_names(void **state)
{
	tw_dns_zone_t z;
	char buf[300];
	assert_int_equal(tw_dns_zone_init(&z, "Example.COM"), 0);
	assert_string_equal(z.origin, "example.com.");
	assert_string_equal(tw_dns_rel_name(&z, "example.com.", buf, sizeof(buf)), "@");
	assert_string_equal(tw_dns_rel_name(&z, "www.example.com.", buf, sizeof(buf)), "www");
	assert_string_equal(tw_dns_rel_name(&z, "_dmarc.example.com.", buf, sizeof(buf)), "_dmarc");
	assert_string_equal(tw_dns_rel_name(&z, "a.b.example.com.", buf, sizeof(buf)), "a.b");
	assert_string_equal(tw_dns_rel_name(&z, "xexample.com.", buf, sizeof(buf)),
	                    "xexample.com.");
	assert_string_equal(tw_dns_rel_name(&z, "a\\.example.com.", buf, sizeof(buf)),
	                    "a\\.example.com.");
	assert_string_equal(tw_dns_rel_name(&z, "www.example.org.", buf, sizeof(buf)),
	                    "www.example.org.");

	assert_string_equal(tw_dns_type_name(LDNS_RR_TYPE_TXT, buf, sizeof(buf)), "TXT");
	assert_string_equal(tw_dns_type_name(LDNS_RR_TYPE_A, buf, sizeof(buf)), "A");
	assert_string_equal(tw_dns_type_name(65280, buf, sizeof(buf)), "TYPE65280");

	/* add_text with the zone's default TTL; format */
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_zone_add_text(&z, "www A 192.0.2.1", "api", 0, 0, &d), 0);
	assert_int_equal(tw_dns_zone_add_text(&z, "@ 300 IN MX 10 mail", NULL, 0, 0, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(z.n, 2);
	assert_int_equal(z.v[0].ttl, 3600);
	assert_string_equal(z.v[0].file, "api");
	assert_null(z.v[1].file);
	assert_string_equal(tw_dns_rr_format(&z.v[1], buf, sizeof(buf)),
	                    "example.com. 300 IN MX 10 mail.example.com.");
	char small[16];
	assert_string_equal(tw_dns_rr_format(&z.v[1], small, sizeof(small)), "example.com....");
	/* add_text refusals */
	assert_int_equal(tw_dns_zone_add_text(&z, "a A 192.0.2.1\nb A 192.0.2.2", "api", 7, 0, &d),
	                 TW_EINVAL);
	want_diag(&d, "api", 7, "expected one record");
	assert_int_equal(tw_dns_zone_add_text(&z, "$TTL 5", "api", 8, 0, &d), TW_EINVAL);
	want_diag(&d, "api", 8, "not a directive");
	assert_int_equal(tw_dns_zone_add_text(&z, "x.example.org. A 192.0.2.1", "api", 9, 0, &d),
	                 TW_EINVAL);
	want_diag(&d, "api", 9, "outside the zone");
	assert_int_equal(z.n, 3); /* "a" of the two-record text was added */
	tw_diags_release(&d);

	/* add_rr: outside the origin refused (rr freed), relative names made absolute */
	ldns_rr *rr = NULL;
	assert_int_equal(
	        ldns_rr_new_frm_str(&rr, "mail.example.net. 60 IN A 192.0.2.1", 0, NULL, NULL),
	        LDNS_STATUS_OK);
	assert_int_equal(tw_dns_zone_add_rr(&z, rr, NULL, 0, 0, &d), TW_EINVAL);
	want_diag(&d, "", 0, "outside the zone example.com.");
	rr = NULL;
	ldns_rdf *origin = ldns_dname_new_frm_str(z.origin);
	assert_int_equal(ldns_rr_new_frm_str(&rr, "x 60 IN CNAME y", 0, origin, NULL),
	                 LDNS_STATUS_OK);
	ldns_rdf_deep_free(origin);
	assert_int_equal(tw_dns_zone_add_rr(&z, rr, "f", 3, TW_DNS_RR_IGNORED, &d), 0);
	const tw_dns_rr_t *r = need_rr(&z, "x.example.com.", LDNS_RR_TYPE_CNAME, "y.example.com.");
	assert_int_equal(r->flags, TW_DNS_RR_IGNORED);
	assert_int_equal(r->line, 3);

	/* opaque: no ldns form, unmanaged with its note */
	assert_int_equal(tw_dns_zone_add_opaque(&z, "www", "TXT", 60, "\"hi\"", "provider"), 0);
	r = &z.v[z.n - 1];
	assert_null(r->rr);
	assert_string_equal(r->owner, "www.example.com.");
	assert_int_equal(r->type, LDNS_RR_TYPE_TXT);
	assert_int_equal(r->flags, TW_DNS_RR_UNMANAGED);
	assert_string_equal(r->note, "provider");
	assert_string_equal(tw_dns_rr_format(r, buf, sizeof(buf)),
	                    "www.example.com. 60 IN TXT \"hi\"");
	tw_diags_release(&d);
	tw_dns_zone_release(&z);

	assert_int_equal(tw_dns_zone_init(&z, "bad..name"), TW_EINVAL);
	tw_dns_zone_release(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_directives),    cmocka_unit_test(test_ttl_defaults),
	        cmocka_unit_test(test_origin_rules),  cmocka_unit_test(test_bad_lines),
	        cmocka_unit_test(test_error_bound),   cmocka_unit_test(test_duplicates),
	        cmocka_unit_test(test_include),       cmocka_unit_test(test_include_loops),
	        cmocka_unit_test(test_txt_canonical), cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_sort),          cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
