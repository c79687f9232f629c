/*
 * dns_lint_test.c - `tailwart dns lint`: each rule fires on a zone built for
 * it and stays quiet on a clean mail zone; findings carry the zone file's
 * name and line; SPF includes outside the zone are followed through a real
 * Knot DNS server started on a loopback port.
 */
#include "util/tw.h"

#include "dns/lint.h"
#include "edge/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define ACCT "https://acme-v02.api.letsencrypt.org/acme/acct/123456"

static char rsa2048[1024], rsa512[512], rsa1024[512];

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	while (n && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
}

static int setup_keys(void **state)
{
	(void)state;
	slurp("tests/vectors/dkim/gen-rsa2048.txt", rsa2048, sizeof(rsa2048));
	slurp("tests/vectors/dkim/gen-rsa512.txt", rsa512, sizeof(rsa512));
	slurp("tests/vectors/dkim/rfc8463-test-rsa.txt", rsa1024, sizeof(rsa1024));
	return 0;
}

/* A zone for example.com. from records in master-file syntax, line i+1 each. */
static void zone_of(tw_dns_zone_t *z, const char *const *recs)
{
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_zone_init(z, "example.com"), 0);
	z->default_ttl = 300;
	for (int i = 0; recs[i]; i++) {
		if (tw_dns_zone_add_text(z, recs[i], "t.zone", i + 1, 0, &d) != 0) {
			tw_diags_print(&d, stderr);
			fail_msg("record %d did not parse: %s", i + 1, recs[i]);
		}
	}
	tw_diags_release(&d);
}

typedef struct result {
	int rc;
	tw_diags_t e, w;
} result_t;

static void lint(const char *const *recs, const tw_dns_lint_opts_t *o, result_t *r)
{
	tw_dns_zone_t z;
	tw_dns_lint_opts_t off = {.offline = true};
	zone_of(&z, recs);
	memset(r, 0, sizeof(*r));
	r->rc = tw_dns_lint(&z, o ? o : &off, &r->e, &r->w);
	tw_dns_zone_release(&z);
}

static void result_release(result_t *r)
{
	tw_diags_release(&r->e);
	tw_diags_release(&r->w);
}

/* The diag of d whose field is field and message holds needle, or NULL. */
static const tw_diag_t *find(const tw_diags_t *d, const char *field, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if ((!field || strcmp(d->v[i].field, field) == 0) && strstr(d->v[i].msg, needle))
			return &d->v[i];
	return NULL;
}

static void dump(const result_t *r)
{
	print_message("errors:\n");
	tw_diags_print(&r->e, stderr);
	print_message("warnings:\n");
	tw_diags_print(&r->w, stderr);
}

#define EXPECT(r, list, field, needle)                                                             \
	do {                                                                                       \
		if (!find(&(r)->list, field, needle)) {                                            \
			dump(r);                                                                   \
			fail_msg("no " #list " %s: ...%s...", field ? field : "*", needle);        \
		}                                                                                  \
	} while (0)

/* ---- a clean zone --------------------------------------------------- */

static void test_clean_zone(void **state)
{
	(void)state;
	char dkim[1200];
	snprintf(dkim, sizeof(dkim), "s1._domainkey TXT \"%.255s\" \"%s\"", rsa2048,
	         strlen(rsa2048) > 255 ? rsa2048 + 255 : "");
	const char *recs[] = {
	        "@ SOA ns1 hostmaster 1 7200 3600 1209600 300",
	        "@ NS ns1",
	        "ns1 A 192.0.2.1",
	        "@ MX 10 mail",
	        "@ MX 20 mail2",
	        "mail A 192.0.2.10",
	        "mail AAAA 2001:db8::10",
	        "mail2 A 192.0.2.11",
	        "@ A 192.0.2.20",
	        "www CNAME @",
	        "@ TXT \"v=spf1 mx ip4:192.0.2.0/24 include:_spf.example.com -all\"",
	        "@ TXT \"google-site-verification=abc\"",
	        "_spf TXT \"v=spf1 ip6:2001:db8::/32 -all\"",
	        "_dmarc TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@example.com\"",
	        "ed._domainkey TXT \"v=DKIM1; k=ed25519; "
	        "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
	        dkim,
	        "@ CAA 0 issue \"letsencrypt.org; accounturi=" ACCT "\"",
	        "@ CAA 0 issuewild \";\"",
	        "@ CAA 0 iodef \"mailto:security@example.com\"",
	        NULL,
	};
	result_t r;
	tw_dns_lint_opts_t o = {.offline = true, .caa_accounturi = ACCT};
	lint(recs, &o, &r);
	if (r.e.n || r.w.n)
		dump(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.e.n, 0);
	assert_int_equal(r.w.n, 0);
	result_release(&r);
}

/* ---- SPF ------------------------------------------------------------ */

static void test_spf_duplicate(void **state)
{
	(void)state;
	/* lesson 14: a provider PUT appended instead of replacing */
	const char *recs[] = {
	        "@ TXT \"v=spf1 mx -all\"",
	        "@ TXT \"V=SPF1 mx include:waynehayes.com -all\"",
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	const tw_diag_t *g = find(&r.e, "example.com. TXT", "two SPF records are a permerror");
	assert_non_null(g);
	assert_string_equal(g->file, "t.zone");
	assert_int_equal(g->line, 2);
	assert_non_null(strstr(g->msg, "first at line 1"));
	result_release(&r);
}

static void test_spf_syntax(void **state)
{
	(void)state;
	const char *recs[] = {
	        "@ TXT \"v=spf1 ipv4:192.0.2.1 a:%{z}.example.com -all redirect=_spf.example.com\"",
	        "_spf TXT \"v=spf1 -all\"",
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	EXPECT(&r, e, "example.com. TXT", "\"ipv4:192.0.2.1\": unknown mechanism");
	EXPECT(&r, e, "example.com. TXT", "unknown macro letter");
	EXPECT(&r, e, "example.com. TXT", "permerror (RFC 7208 4.6)");
	EXPECT(&r, w, "example.com. TXT", "redirect is ignored");
	result_release(&r);

	const char *recs2[] = {"@ TXT \"v=spf1 -all mx\"", NULL};
	lint(recs2, NULL, &r);
	assert_int_equal(r.rc, 0);
	EXPECT(&r, w, "example.com. TXT", "never evaluated");
	result_release(&r);
}

static void test_spf_joined_strings(void **state)
{
	(void)state;
	const char *recs[] = {"@ TXT \"v=spf1\" \"ip4:192.0.2.1\" \"-all\"", NULL};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	EXPECT(&r, e, "example.com. TXT", "joined with no space");
	result_release(&r);
	/* split at a space: fine */
	const char *ok[] = {"@ TXT \"v=spf1 \" \"ip4:192.0.2.1 \" \"-all\"", NULL};
	lint(ok, NULL, &r);
	assert_int_equal(r.e.n + r.w.n, 0);
	result_release(&r);
}

static void test_spf_lookup_limit_in_zone(void **state)
{
	(void)state;
	const char *recs[] = {
	        "@ TXT \"v=spf1 include:_s1.example.com include:_s2.example.com -all\"",
	        "_s1 TXT \"v=spf1 a mx a mx a mx -all\"", /* 6 */
	        "_s1 A 192.0.2.1",
	        "_s1 MX 10 mail",
	        "_s2 TXT \"v=spf1 a mx a mx -all\"", /* 4 */
	        "_s2 A 192.0.2.2",
	        "_s2 MX 10 mail",
	        "mail A 192.0.2.3",
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	const tw_diag_t *g = find(&r.e, "example.com. TXT", "SPF needs 12 DNS lookups");
	if (!g)
		dump(&r);
	assert_non_null(g);
	assert_non_null(strstr(g->msg, "RFC 7208 4.6.4"));
	assert_int_equal(g->line, 1);
	/* the includes alone are within the limit */
	assert_null(find(&r.e, "_s1.example.com. TXT", "DNS lookups"));
	assert_null(find(&r.w, NULL, "offline"));
	result_release(&r);

	/* 10 is allowed */
	const char *ten[] = {"@ TXT \"v=spf1 a mx a mx a mx a mx a mx -all\"", "@ A 192.0.2.1",
	                     "@ MX 10 mail", "mail A 192.0.2.3", NULL};
	lint(ten, NULL, &r);
	assert_int_equal(r.e.n, 0);
	result_release(&r);
}

static void test_spf_include_problems(void **state)
{
	(void)state;
	const char *recs[] = {
	        "@ TXT \"v=spf1 include:_none.example.com include:_loop1.example.com -all\"",
	        "_none TXT \"not spf\"",
	        "_loop1 TXT \"v=spf1 include:_loop2.example.com -all\"",
	        "_loop2 TXT \"v=spf1 include:_loop1.example.com -all\"",
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	EXPECT(&r, e, "example.com. TXT",
	       "include:_none.example.com: _none.example.com. has no SPF");
	EXPECT(&r, e, "example.com. TXT", "loops back");
	EXPECT(&r, e, "_loop1.example.com. TXT", "loops back");
	result_release(&r);
}

static void test_spf_offline_include(void **state)
{
	(void)state;
	const char *recs[] = {"@ TXT \"v=spf1 include:_spf.google.com mx -all\"", "@ MX 10 mail",
	                      "mail A 192.0.2.3", NULL};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 0);
	const tw_diag_t *g = find(&r.w, "example.com. TXT", "offline: include:_spf.google.com");
	if (!g)
		dump(&r);
	assert_non_null(g);
	assert_non_null(strstr(g->msg, "its own lookups were not counted; 2 counted"));
	result_release(&r);
}

/* ---- TXT strings over 255 --------------------------------------------- */

static void test_txt_long_string(void **state)
{
	(void)state;
	tw_dns_zone_t z;
	tw_diags_t d = {0}, e = {0}, w = {0};
	assert_int_equal(tw_dns_zone_init(&z, "example.com"), 0);
	/* ldns refuses a >255 string in a zone line ... */
	char line[600];
	char big[301];
	memset(big, 'a', 300);
	big[300] = '\0';
	snprintf(line, sizeof(line), "big TXT \"%s\"", big);
	assert_int_not_equal(tw_dns_zone_add_text(&z, line, "t.zone", 1, 0, &d), 0);
	tw_diags_release(&d);
	/* ... but a record built from rdfs (a provider's one-string value) can hold one */
	ldns_rr *rr = ldns_rr_new();
	assert_non_null(rr);
	ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
	ldns_rr_set_owner(rr, ldns_dname_new_frm_str("big.example.com."));
	ldns_rr_set_ttl(rr, 300);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	uint8_t wire[301];
	wire[0] = 255; /* what a too-long string's length byte wraps to */
	memset(wire + 1, 'a', 300);
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, sizeof(wire), wire));
	int rc = tw_dns_zone_add_rr(&z, rr, "pull", 7, 0, &d);
	if (rc != 0) {
		/* the zone model may refuse it itself: then nothing reaches lint */
		tw_diags_print(&d, stderr);
		tw_diags_release(&d);
		tw_dns_zone_release(&z);
		skip();
	}
	assert_int_equal(tw_dns_lint(&z, &(tw_dns_lint_opts_t){.offline = true}, &e, &w), 1);
	assert_non_null(find(&e, "big.example.com. TXT", "at most 255"));
	assert_int_equal(e.v[0].line, 7);
	tw_diags_release(&e);
	tw_diags_release(&w);
	tw_dns_zone_release(&z);
}

/* ---- CNAME and MX ----------------------------------------------------- */

static void test_cname_and_mx(void **state)
{
	(void)state;
	const char *recs[] = {
	        "alias CNAME host",    /* 1 */
	        "alias TXT \"hello\"", /* 2 */
	        "host A 192.0.2.1",    /* 3 */
	        "@ MX 10 alias",       /* 4: MX at a CNAME */
	        "@ MX 20 192.0.2.25",  /* 5: IP literal */
	        "@ MX 30 noaddr",      /* 6: in zone, no A/AAAA */
	        "noaddr TXT \"x\"",    /* 7 */
	        "sub MX 0 .",          /* 8 */
	        "sub MX 10 host",      /* 9: beside null MX */
	        "nomail MX 0 .",       /* 10: fine */
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	const tw_diag_t *g = find(&r.e, "alias.example.com. CNAME", "CNAME beside other data");
	assert_non_null(g);
	assert_int_equal(g->line, 1);
	assert_non_null(strstr(g->msg, "RFC 1034 3.6.2"));
	EXPECT(&r, e, "example.com. MX", "alias.example.com. is a CNAME");
	EXPECT(&r, e, "example.com. MX", "RFC 2181 10.3");
	EXPECT(&r, e, "example.com. MX", "is an IP address");
	EXPECT(&r, e, "example.com. MX", "noaddr.example.com. is in this zone but has no A");
	g = find(&r.e, "sub.example.com. MX", "null MX");
	assert_non_null(g);
	assert_int_equal(g->line, 8);
	assert_null(find(&r.e, "nomail.example.com. MX", "null MX"));
	assert_int_equal(r.e.n, 5);
	result_release(&r);
}

/* ---- edge IPv6 -------------------------------------------------------- */

static tw_config_t *edge(const char *bind)
{
	char y[512];
	tw_diags_t d = {0};
	snprintf(y, sizeof(y),
	         "listeners:\n"
	         "  - name: smtp\n"
	         "    bind: \"%s\"\n"
	         "    protocol: smtp\n"
	         "    backend: mail\n"
	         "  - name: web\n"
	         "    bind: \"[::]:443\"\n"
	         "    protocol: tls\n"
	         "    backend: mail\n"
	         "backends:\n"
	         "  mail:\n"
	         "    servers: [\"192.0.2.99:25\"]\n",
	         bind);
	tw_config_t *c = tw_config_load_string("edge.yaml", y, strlen(y), &d);
	if (!c)
		tw_diags_print(&d, stderr);
	assert_non_null(c);
	tw_diags_release(&d);
	return c;
}

static void test_edge_v6(void **state)
{
	(void)state;
	const char *recs[] = {
	        "@ MX 10 mail",
	        "mail A 192.0.2.10",
	        "mail AAAA 2001:db8::10",
	        "@ AAAA 2001:db8::20", /* apex AAAA: not a mail host, safe (lesson 13) */
	        NULL,
	};
	result_t r;
	tw_config_t *c = edge("0.0.0.0:25");
	tw_dns_lint_opts_t o = {.offline = true, .edge = c};
	lint(recs, &o, &r);
	assert_int_equal(r.rc, 0);
	const tw_diag_t *g = find(&r.w, "mail.example.com. AAAA", "no SMTP listener");
	if (!g)
		dump(&r);
	assert_non_null(g);
	assert_int_equal(g->line, 3);
	assert_non_null(strstr(g->msg, "deferred or lost"));
	assert_int_equal(r.w.n, 1);
	result_release(&r);
	tw_config_free(c);

	const char *binds[] = {"[::]:25", "[2001:db8::10]:25"};
	for (size_t i = 0; i < TW_ARRAY_LEN(binds); i++) {
		c = edge(binds[i]);
		o.edge = c;
		lint(recs, &o, &r);
		assert_int_equal(r.w.n + r.e.n, 0);
		result_release(&r);
		tw_config_free(c);
	}
}

/* ---- DMARC -------------------------------------------------------------- */

static void test_dmarc(void **state)
{
	(void)state;
	const char *recs[] = {
	        "_dmarc TXT \"v=DMARC1; p=none\"",
	        "_dmarc TXT \"v=DMARC1; p=reject\"",
	        "_dmarc.sub TXT \"v=DMARC1; p=rejct; rua=dmarc@example.com\"",
	        "_dmarc.other TXT \"v=DMARC1; rua=mailto:d@example.com\"",
	        "_dmarc.lower TXT \"v=dmarc1; p=reject\"",
	        "example.net._report._dmarc TXT \"v=DMARC1\"",
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	const tw_diag_t *g = find(&r.e, "_dmarc.example.com. TXT", "2 DMARC records");
	assert_non_null(g);
	assert_int_equal(g->line, 2);
	EXPECT(&r, e, "_dmarc.sub.example.com. TXT", "DMARC p: \"rejct\" is not a policy");
	EXPECT(&r, e, "_dmarc.sub.example.com. TXT", "DMARC rua");
	EXPECT(&r, w, "_dmarc.other.example.com. TXT", "without p=");
	EXPECT(&r, e, "_dmarc.lower.example.com. TXT", "does not start with \"v=DMARC1\"");
	assert_null(find(&r.w, "example.net._report._dmarc.example.com. TXT", "p="));
	result_release(&r);

	const char *apex[] = {"_dmarc TXT \"v=DMARC1; rua=mailto:d@example.com\"", NULL};
	lint(apex, NULL, &r);
	assert_int_equal(r.rc, 1);
	EXPECT(&r, e, "_dmarc.example.com. TXT", "organizational domain");
	result_release(&r);
}

/* ---- DKIM --------------------------------------------------------------- */

static void test_dkim(void **state)
{
	(void)state;
	char weak[600], old[600];
	snprintf(weak, sizeof(weak), "weak._domainkey TXT \"%s\"", rsa512);
	snprintf(old, sizeof(old), "old._domainkey TXT \"%.200s\" \"%s\"", rsa1024, rsa1024 + 200);
	const char *recs[] = {
	        weak,
	        old,
	        "gone._domainkey TXT \"v=DKIM1; k=rsa; p=\"",
	        "two._domainkey TXT \"v=DKIM1; k=ed25519; "
	        "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
	        "two._domainkey TXT \"v=DKIM1; k=ed25519; p=\"",
	        "bad._domainkey TXT \"k=ed25519; v=DKIM1; "
	        "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
	        NULL,
	};
	result_t r;
	lint(recs, NULL, &r);
	assert_int_equal(r.rc, 1);
	EXPECT(&r, e, "weak._domainkey.example.com. TXT", "512 bits");
	EXPECT(&r, w, "old._domainkey.example.com. TXT", "1024 bits");
	EXPECT(&r, w, "gone._domainkey.example.com. TXT", "revoked");
	EXPECT(&r, e, "two._domainkey.example.com. TXT", "2 TXT records at this DKIM selector");
	EXPECT(&r, e, "bad._domainkey.example.com. TXT", "first tag");
	assert_null(find(&r.e, "old._domainkey.example.com. TXT", ""));
	result_release(&r);
}

/* ---- CAA ---------------------------------------------------------------- */

static void test_caa(void **state)
{
	(void)state;
	const char *recs[] = {
	        "@ CAA 0 issue \"letsencrypt.org\"",                          /* 1 */
	        "@ CAA 0 issuewild \"letsencrypt.org; accounturi=" ACCT "\"", /* 2 */
	        "@ CAA 0 issue \"pki.goog\"",                                 /* 3 */
	        "www CAA 0 issue \"letsencrypt.org; accounturi=" ACCT "9\"",  /* 4 */
	        "www CAA 0 issuewild \";\"",                                  /* 5 */
	        NULL,
	};
	result_t r;
	tw_dns_lint_opts_t o = {.offline = true, .caa_accounturi = ACCT};
	lint(recs, &o, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.w.n, 2);
	const tw_diag_t *g = find(&r.w, "example.com. CAA", "does not pin accounturi");
	assert_non_null(g);
	assert_int_equal(g->line, 1);
	g = find(&r.w, "www.example.com. CAA", "pins a different account");
	assert_non_null(g);
	assert_int_equal(g->line, 4);
	result_release(&r);
	/* without an account URI the rule is off */
	lint(recs, NULL, &r);
	assert_int_equal(r.w.n, 0);
	result_release(&r);
}

/* ---- file and line from a loaded zone file -------------------------- */

static void test_zone_file_lines(void **state)
{
	(void)state;
	char dir[] = "/tmp/tw-lint-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/example.com.zone", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("$ORIGIN example.com.\n"
	      "$TTL 300\n"
	      "@ IN MX 10 mail\n"
	      "mail IN A 192.0.2.10\n"
	      "; two SPF records, as a provider's append leaves them\n"
	      "@ IN TXT \"v=spf1 mx -all\"\n"
	      "@ IN TXT ( \"v=spf1 mx \"\n"
	      "           \"include:_spf.example.com -all\" )\n"
	      "_spf IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n",
	      f);
	fclose(f);
	tw_dns_zone_t z;
	tw_diags_t d = {0}, e = {0}, w = {0};
	memset(&z, 0, sizeof(z)); /* the loader initialises it */
	int rc = tw_dns_zone_load(&z, path, "example.com", &d);
	if (rc)
		tw_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(tw_dns_lint(&z, &(tw_dns_lint_opts_t){.offline = true}, &e, &w), 1);
	const tw_diag_t *g = find(&e, "example.com. TXT", "permerror");
	assert_non_null(g);
	assert_string_equal(g->file, path);
	assert_int_equal(g->line, 7);
	assert_non_null(strstr(g->msg, "first at line 6"));
	assert_int_equal(e.n, 1);
	tw_diags_release(&d);
	tw_diags_release(&e);
	tw_diags_release(&w);
	tw_dns_zone_release(&z);
	unlink(path);
	rmdir(dir);
}

/* ---- online: includes outside the zone, through Knot DNS --------------- */

static uint16_t free_port(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	close(s);
	return ntohs(a.sin_port);
}

typedef struct knot {
	pid_t pid;
	char dir[64];
	char addr[32];
} knot_t;

static bool knot_start(knot_t *k)
{
	char p[256];
	FILE *f;
	uint16_t port = free_port();
	snprintf(k->dir, sizeof(k->dir), "/tmp/tw-knot-XXXXXX");
	if (!mkdtemp(k->dir))
		return false;
	snprintf(k->addr, sizeof(k->addr), "127.0.0.1:%u", port);
	snprintf(p, sizeof(p), "%s/knot.conf", k->dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f,
	        "server:\n"
	        "    listen: 127.0.0.1@%u\n"
	        "    rundir: \"%s\"\n"
	        "database:\n"
	        "    storage: \"%s\"\n"
	        "log:\n"
	        "  - target: stderr\n"
	        "    any: error\n"
	        "template:\n"
	        "  - id: default\n"
	        "    storage: \"%s\"\n"
	        "    file: \"%%s.zone\"\n"
	        "zone:\n"
	        "  - domain: ext.test\n",
	        port, k->dir, k->dir, k->dir);
	fclose(f);
	snprintf(p, sizeof(p), "%s/ext.test.zone", k->dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("$ORIGIN ext.test.\n"
	      "$TTL 60\n"
	      "@ SOA ns hostmaster 1 3600 600 86400 60\n"
	      "@ NS ns\n"
	      "ns A 127.0.0.1\n"
	      "big TXT \"v=spf1 a mx a mx a mx a mx a -all\"\n"
	      "big A 192.0.2.1\n"
	      "big MX 10 ns\n"
	      "ok TXT \"v=spf1 ip4:192.0.2.0/24 include:deeper.ext.test -all\"\n"
	      "deeper TXT \"v=spf1 ip6:2001:db8::/32 -all\"\n"
	      "notspf TXT \"hello\"\n"
	      "broken TXT \"v=spf1 ip4:1.2.3 -all\"\n",
	      f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/knot.conf", k->dir);
	k->pid = fork();
	if (k->pid == 0) {
		execl("/usr/sbin/knotd", "knotd", "-c", p, (char *)NULL);
		_exit(127);
	}
	if (k->pid < 0)
		return false;
	/* ready when it answers the SOA; a fresh resolver each try, since ldns
	 * stops asking a server that refused once */
	ldns_rdf *q = ldns_dname_new_frm_str("ext.test.");
	bool up = false;
	for (int i = 0; i < 50 && !up; i++) {
		ldns_resolver *res = ldns_resolver_new();
		uint8_t lo[4] = {127, 0, 0, 1};
		ldns_rdf *ns = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, lo);
		ldns_resolver_push_nameserver(res, ns);
		ldns_rdf_deep_free(ns);
		ldns_resolver_set_port(res, port);
		ldns_resolver_set_retry(res, 1);
		ldns_resolver_set_timeout(res, (struct timeval){0, 200000});
		ldns_pkt *pkt = NULL;
		if (ldns_resolver_query_status(&pkt, res, q, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN,
		                               0) == LDNS_STATUS_OK &&
		    pkt && ldns_pkt_get_rcode(pkt) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(pkt))
			up = true;
		if (pkt)
			ldns_pkt_free(pkt);
		ldns_resolver_deep_free(res);
		if (!up)
			nanosleep(&(struct timespec){0, 100000000}, NULL);
		if (waitpid(k->pid, NULL, WNOHANG) == k->pid) {
			k->pid = 0;
			break;
		}
	}
	ldns_rdf_deep_free(q);
	return up;
}

static void knot_stop(knot_t *k)
{
	char cmd[128];
	if (k->pid > 0) {
		kill(k->pid, SIGTERM);
		waitpid(k->pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", k->dir);
	if (strncmp(k->dir, "/tmp/tw-knot-", 13) == 0 && system(cmd) != 0)
		print_message("could not remove %s\n", k->dir);
}

static void test_spf_online_knot(void **state)
{
	(void)state;
	if (access("/usr/sbin/knotd", X_OK) != 0)
		skip();
	knot_t k = {0};
	if (!knot_start(&k)) {
		knot_stop(&k);
		fail_msg("knotd did not start");
	}
	tw_dns_lint_opts_t o = {.offline = false, .resolver = k.addr};
	result_t r;

	/* nx and notspf have no SPF; three void names */
	const char *over[] = {
	        "@ TXT \"v=spf1 include:big.ext.test include:ok.ext.test ip4:192.0.2.1 -all\"",
	        "sub TXT \"v=spf1 include:nx.ext.test include:notspf.ext.test "
	        "a:gone1.ext.test a:gone2.ext.test -all\"",
	        "bad TXT \"v=spf1 include:broken.ext.test -all\"",
	        NULL,
	};
	lint(over, &o, &r);
	assert_int_equal(r.rc, 1);
	/* @: include 2 + ok's include 1 + big's 9 = 12 */
	EXPECT(&r, e, "example.com. TXT", "SPF needs 12 DNS lookups");
	EXPECT(&r, e, "sub.example.com. TXT", "include:nx.ext.test: nx.ext.test. has no SPF");
	EXPECT(&r, e, "sub.example.com. TXT", "include:notspf.ext.test: notspf.ext.test. has no");
	EXPECT(&r, w, "sub.example.com. TXT", "3 void lookups");
	EXPECT(&r, e, "bad.example.com. TXT", "include:broken.ext.test has a syntax error");
	assert_null(find(&r.w, NULL, "offline"));
	assert_null(find(&r.w, NULL, "could not look up"));
	result_release(&r);

	const char *ok[] = {"@ TXT \"v=spf1 include:ok.ext.test -all\"", NULL};
	lint(ok, &o, &r);
	if (r.e.n + r.w.n)
		dump(&r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.e.n + r.w.n, 0);
	result_release(&r);

	knot_stop(&k);

	/* the server gone: a warning, not a false "no SPF record" */
	lint(ok, &o, &r);
	EXPECT(&r, w, "example.com. TXT", "could not look up");
	assert_int_equal(r.e.n, 0);
	result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_clean_zone),
	        cmocka_unit_test(test_spf_duplicate),
	        cmocka_unit_test(test_spf_syntax),
	        cmocka_unit_test(test_spf_joined_strings),
	        cmocka_unit_test(test_spf_lookup_limit_in_zone),
	        cmocka_unit_test(test_spf_include_problems),
	        cmocka_unit_test(test_spf_offline_include),
	        cmocka_unit_test(test_txt_long_string),
	        cmocka_unit_test(test_cname_and_mx),
	        cmocka_unit_test(test_edge_v6),
	        cmocka_unit_test(test_dmarc),
	        cmocka_unit_test(test_dkim),
	        cmocka_unit_test(test_caa),
	        cmocka_unit_test(test_zone_file_lines),
	        cmocka_unit_test(test_spf_online_knot),
	};
	return cmocka_run_group_tests(tests, setup_keys, NULL);
}
