/* dns_plan_test.c - the planner: RRSet diff and call order per provider semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "dns/plan.h"

/* Spaceship's semantics as data (provider.h), without the HTTP client. */
static const tw_dns_provider_ops_t append_ops = {
        .name = "appendy",
        .sem = {.append_by_value = true,
                .data_nocase = true,
                .ttl_min = 60,
                .ttl_max = 3600,
                .max_batch = 500},
};
static const tw_dns_provider_ops_t update_ops = {
        .name = "updatey",
        .sem = {.one_update = true},
};

static void zone(tw_dns_zone_t *z, const char *const *lines)
{
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_zone_init(z, "example.com"), 0);
	for (int i = 0; lines[i]; i++)
		if (tw_dns_zone_add_text(z, lines[i], "t.zone", i + 1, 0, &d) < 0) {
			tw_diags_print(&d, stderr);
			fail_msg("bad test record %s", lines[i]);
		}
	tw_diags_release(&d);
}

/* "PUT:2" style summary of the calls, to compare in one assert. */
static const char *calls(const tw_dns_plan_t *p, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < p->ncalls; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s:%zu", i ? " " : "",
		                      p->calls[i].kind == TW_DNS_CALL_PUT      ? "PUT"
		                      : p->calls[i].kind == TW_DNS_CALL_DELETE ? "DEL"
		                                                               : "UPD",
		                      p->calls[i].n + p->calls[i].ndels);
	return buf;
}

static bool call_has(const tw_dns_call_t *c, const char *needle)
{
	for (size_t i = 0; i < c->n; i++)
		if (strstr(c->rrs[i]->rdata, needle))
			return true;
	return false;
}

static void test_spf_change_deletes_first(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	zone(&live, (const char *const[]){"@ 3600 TXT \"v=spf1 mx -all\"",
	                                  "@ 3600 TXT \"google-site-verification=x\"",
	                                  "@ 3600 A 192.0.2.1", NULL});
	zone(&want, (const char *const[]){"@ 3600 TXT \"v=spf1 mx include:x.example -all\"",
	                                  "@ 3600 TXT \"google-site-verification=x\"",
	                                  "@ 3600 A 192.0.2.1", NULL});
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	char b[256];
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), 0);
	assert_int_equal(p.nchanges, 1);
	assert_int_equal(p.changes[0].op, TW_DNS_CHANGE);
	assert_string_equal(calls(&p, b, sizeof(b)), "DEL:1 PUT:1");
	assert_true(call_has(&p.calls[0], "v=spf1 mx -all"));
	assert_true(call_has(&p.calls[1], "include:x.example"));
	tw_dns_plan_release(&p);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_address_change_adds_first(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	zone(&live, (const char *const[]){"www 300 A 192.0.2.1", "www 300 A 192.0.2.2",
	                                  "@ 300 MX 10 mx1", "x 300 CNAME a.example.net.", NULL});
	zone(&want, (const char *const[]){"www 300 A 192.0.2.1", "www 300 A 192.0.2.3",
	                                  "@ 300 MX 20 mx2", "x 300 CNAME b.example.net.", NULL});
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	char b[256];
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), 0);
	assert_int_equal(p.nchanges, 3);
	/* CNAME old goes first; A and MX olds only after their replacements. */
	assert_string_equal(calls(&p, b, sizeof(b)), "DEL:1 PUT:3 DEL:2");
	assert_true(call_has(&p.calls[0], "a.example.net."));
	assert_true(call_has(&p.calls[2], "192.0.2.2"));
	assert_true(call_has(&p.calls[2], "mx1.example.com."));
	assert_false(call_has(&p.calls[2], "192.0.2.1")); /* kept */
	tw_dns_plan_release(&p);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_ttl_only_and_case(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	zone(&live,
	     (const char *const[]){"www 300 A 192.0.2.1", "@ 300 CAA 0 issue \"letsencrypt.org\"",
	                           "k 300 TXT \"AbC\"", NULL});
	zone(&want,
	     (const char *const[]){"www 600 A 192.0.2.1", "@ 300 CAA 0 issue \"LetsEncrypt.org\"",
	                           "k 300 TXT \"abc\"", NULL});
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	char b[256];
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), 0);
	/* TTL: one PUT, no delete (the API updates TTL in place). CAA differs
	 * only in case: the same record to this provider. TXT case matters. */
	assert_int_equal(p.nchanges, 2);
	assert_string_equal(calls(&p, b, sizeof(b)), "PUT:2 DEL:1");
	size_t ttl = 0;
	for (size_t i = 0; i < p.nchanges; i++)
		ttl += p.changes[i].nttl;
	assert_int_equal(ttl, 1);
	tw_dns_plan_release(&p);

	/* A case-sensitive, replace-by-update provider sees three changes, and
	 * a TTL change there is delete + add. */
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &update_ops, NULL, &e), 0);
	assert_int_equal(p.nchanges, 3);
	assert_string_equal(calls(&p, b, sizeof(b)), "UPD:6");
	assert_int_equal(p.calls[0].npre, 3);
	assert_int_equal(p.calls[0].nabsent, 0);
	tw_dns_plan_release(&p);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_txt_resplit_is_no_change(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	zone(&live,
	     (const char *const[]){"s._domainkey 300 TXT \"v=DKIM1; k=rsa; p=AAAABBBB\"", NULL});
	zone(&want, (const char *const[]){"s._domainkey 300 TXT \"v=DKIM1; \" \"k=rsa; p=AAAA\" "
	                                  "\"BBBB\"",
	                                  NULL});
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), 0);
	assert_int_equal(p.nchanges, 0);
	assert_int_equal(p.ncalls, 0);
	tw_dns_plan_release(&p);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_purge_ignore_unmanaged(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	tw_diags_t d = {0};
	zone(&live, (const char *const[]){"www 300 A 192.0.2.1", "old 300 TXT \"x\"",
	                                  "_acme-challenge 60 TXT \"tok\"",
	                                  "_acme-challenge.sub 60 TXT \"tok2\"",
	                                  "keep 300 A 192.0.2.9", NULL});
	assert_int_equal(tw_dns_zone_add_text(&live, "parking 300 A 192.0.2.200", NULL, 0,
	                                      TW_DNS_RR_UNMANAGED, &d),
	                 0);
	zone(&want, (const char *const[]){"www 300 A 192.0.2.1", NULL});
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	char b[256];
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), 0);
	assert_int_equal(p.nchanges, 0);
	assert_int_equal(p.n_left_alone, 2);
	assert_int_equal(p.n_ignored, 2);
	assert_int_equal(p.n_unmanaged, 1);
	tw_dns_plan_release(&p);

	const char *ign[] = {"kee?:a"};
	tw_dns_plan_opts_t o = {.purge = true, .ignore = ign, .nignore = 1};
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, &o, &e), 0);
	assert_int_equal(p.nchanges, 1);
	assert_int_equal(p.changes[0].op, TW_DNS_DELETE);
	assert_string_equal(p.changes[0].owner, "old.example.com.");
	assert_string_equal(calls(&p, b, sizeof(b)), "DEL:1");
	assert_int_equal(p.n_ignored, 3);
	tw_dns_plan_release(&p);
	tw_diags_release(&d);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_plan_errors_name_the_line(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	zone(&live, (const char *const[]){NULL});
	zone(&want, (const char *const[]){"www 300 A 192.0.2.1", "@ 86400 MX 10 mx",
	                                  "@ 300 CAA 0 issue \"ca.example\"",
	                                  "@ 300 CAA 0 issue \"CA.example\"", NULL});
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), TW_EINVAL);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.v[0].line, 2);
	assert_non_null(strstr(e.v[0].msg, "60..3600"));
	assert_int_equal(e.v[1].line, 4);
	assert_non_null(strstr(e.v[1].msg, "line 3"));
	tw_dns_plan_release(&p);
	tw_diags_release(&e);
	/* The other provider has no TTL bound and compares case exactly. */
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &update_ops, NULL, &e), 0);
	assert_int_equal(p.ncalls, 1);
	assert_int_equal(p.calls[0].nabsent, 3);
	tw_dns_plan_release(&p);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_batches_split_between_rrsets(void **state)
{
	(void)state;
	tw_dns_zone_t live, want;
	tw_diags_t d = {0};
	zone(&live, (const char *const[]){NULL});
	zone(&want, (const char *const[]){NULL});
	char line[128];
	for (int i = 0; i < 1200; i++) {
		snprintf(line, sizeof(line), "h%d 300 A 192.0.%d.%d", i, i / 250, i % 250);
		assert_int_equal(tw_dns_zone_add_text(&want, line, NULL, 0, 0, &d), 0);
	}
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	char b[256];
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, NULL, &e), 0);
	assert_string_equal(calls(&p, b, sizeof(b)), "PUT:500 PUT:500 PUT:200");
	tw_dns_plan_release(&p);
	tw_diags_release(&d);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_planfile_round_trip(void **state)
{
	(void)state;
	tw_dns_zone_t live, want, back;
	char dkim[700];
	/* A value over 255 bytes must survive the plan file as split strings. */
	size_t o = (size_t)snprintf(dkim, sizeof(dkim), "k._domainkey 300 TXT \"v=DKIM1; p=");
	for (int i = 0; i < 400; i++) {
		if (i == 200)
			o += (size_t)snprintf(dkim + o, sizeof(dkim) - o, "\" \"");
		dkim[o++] = (char)('A' + i % 26);
	}
	snprintf(dkim + o, sizeof(dkim) - o, "\"");
	zone(&live, (const char *const[]){"www 300 A 192.0.2.1", NULL});
	zone(&want,
	     (const char *const[]){"www 300 A 192.0.2.2", "@ 300 TXT \"v=spf1 -all\"", dkim, NULL});
	tw_diags_t d = {0};
	tw_dns_plan_t p;
	tw_diags_t e = {0};
	const char *ign[] = {"vpn:A"};
	tw_dns_plan_opts_t opts = {.purge = true, .ignore = ign, .nignore = 1};
	assert_int_equal(tw_dns_plan_make(&p, &want, &live, &append_ops, &opts, &e), 0);
	json_t *j = tw_dns_plan_json(&p, &opts);
	char *text = json_dumps(j, 0);
	tw_dns_planfile_t pf;
	assert_int_equal(tw_dns_planfile_parse("p.json", text, strlen(text), &back, &pf, &d), 0);
	assert_string_equal(pf.provider, "appendy");
	assert_string_equal(pf.live_digest, p.live_digest);
	assert_true(pf.purge);
	assert_int_equal(pf.nignore, 1);
	assert_string_equal(pf.ignore[0], "vpn:A");
	assert_int_equal(back.n, want.n);
	char d1[65], d2[65];
	tw_dns_zone_digest(&want, NULL, d1);
	tw_dns_zone_digest(&back, NULL, d2);
	assert_string_equal(d1, d2);
	/* The digest follows the live zone. */
	tw_dns_zone_digest(&live, NULL, d1);
	assert_string_equal(d1, p.live_digest);
	assert_int_equal(tw_dns_zone_add_text(&live, "new 300 A 192.0.2.7", NULL, 0, 0, &d), 0);
	tw_dns_zone_digest(&live, NULL, d2);
	assert_string_not_equal(d1, d2);
	/* Broken plan files: named field. */
	tw_dns_zone_t z2;
	tw_dns_planfile_t pf2;
	tw_diags_t d3 = {0};
	assert_int_equal(tw_dns_planfile_parse("p.json", "{\"version\":1}", 13, &z2, &pf2, &d3),
	                 TW_EINVAL);
	assert_true(d3.n >= 1);
	assert_string_equal(d3.v[0].file, "p.json");
	tw_diags_release(&d3);
	assert_int_equal(tw_dns_planfile_parse("p.json", "[1", 2, &z2, &pf2, &d3), TW_EINVAL);
	assert_non_null(strstr(d3.v[0].msg, "invalid JSON"));
	tw_diags_release(&d3);
	free(text);
	json_decref(j);
	tw_dns_planfile_release(&pf);
	tw_dns_zone_release(&back);
	tw_dns_plan_release(&p);
	tw_diags_release(&d);
	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
}

static void test_ignore_match(void **state)
{
	(void)state;
	tw_dns_zone_t z;
	zone(&z, (const char *const[]){"@ 300 TXT \"a\"", "_acme-challenge.mail 60 TXT \"b\"",
	                               "www 300 A 192.0.2.1", NULL});
	assert_true(tw_dns_ignore_match(&z, &z.v[0], "@"));
	assert_true(tw_dns_ignore_match(&z, &z.v[0], "@:txt"));
	assert_false(tw_dns_ignore_match(&z, &z.v[0], "@:A"));
	assert_true(tw_dns_ignore_match(&z, &z.v[1], TW_DNS_IGNORE_DEFAULT));
	assert_true(tw_dns_ignore_match(&z, &z.v[2], "WWW.example.com."));
	assert_false(tw_dns_ignore_match(&z, &z.v[2], "www.example.net."));
	assert_true(tw_dns_ignore_match(&z, &z.v[2], "*"));
	tw_dns_zone_release(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spf_change_deletes_first),
	        cmocka_unit_test(test_address_change_adds_first),
	        cmocka_unit_test(test_ttl_only_and_case),
	        cmocka_unit_test(test_txt_resplit_is_no_change),
	        cmocka_unit_test(test_purge_ignore_unmanaged),
	        cmocka_unit_test(test_plan_errors_name_the_line),
	        cmocka_unit_test(test_batches_split_between_rrsets),
	        cmocka_unit_test(test_planfile_round_trip),
	        cmocka_unit_test(test_ignore_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
