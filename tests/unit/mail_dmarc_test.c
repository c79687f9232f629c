/*
 * mail_dmarc_test.c - the DMARC record parser: the RFC 7489 example records
 * and hand-made good and bad ones (tests/vectors/dmarc/records.txt), and the
 * parsed values.
 */
#include "util/tw.h"

#include "mail/dmarc.h"

#include <setjmp.h>

#include <cmocka.h>

#include "vector_lines.h"

#define VEC "tests/vectors/dmarc/records.txt"

static void test_vectors(void **state)
{
	(void)state;
	FILE *f = fopen(VEC, "r");
	assert_non_null(f);
	char line[1024];
	int cases = 0, bad = 0;
	char *name, *exp, *rec;
	while (vector_next(f, line, sizeof(line), &name, &exp, &rec)) {
		tw_dmarc_t d;
		tw_diags_t e = {0}, w = {0};
		int rc = tw_dmarc_parse(rec, strlen(rec), &d, &e, &w);
		bool ok = false;
		if (strcmp(exp, "ok") == 0)
			ok = rc == 0 && e.n == 0 && w.n == 0;
		else if (strcmp(exp, "error") == 0)
			ok = rc == TW_EINVAL && e.n > 0;
		else if (strcmp(exp, "warn") == 0)
			ok = rc == 0 && e.n == 0 && w.n > 0;
		else
			fail_msg("bad expectation %s", exp);
		if (!ok) {
			print_message("%s: expected %s, got rc %d, %zu errors, %zu warnings\n",
			              name, exp, rc, e.n, w.n);
			tw_diags_print(&e, stderr);
			tw_diags_print(&w, stderr);
			bad++;
		}
		cases++;
		tw_dmarc_release(&d);
		tw_diags_release(&e);
		tw_diags_release(&w);
	}
	fclose(f);
	assert_true(cases >= 25);
	assert_int_equal(bad, 0);
}

static void test_values(void **state)
{
	(void)state;
	tw_dmarc_t d;
	tw_diags_t e = {0};
	const char *r = "v=DMARC1; p=quarantine; "
	                "rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example."
	                "net!10m; pct=25";
	assert_int_equal(tw_dmarc_parse(r, strlen(r), &d, &e, NULL), 0);
	assert_int_equal(d.p, TW_DMARC_QUARANTINE);
	assert_int_equal(d.sp, -1);
	assert_int_equal(d.pct, 25);
	assert_int_equal(d.adkim, 'r');
	assert_int_equal(d.ri, 86400);
	assert_true(d.fo_0);
	assert_int_equal(d.n_rua, 2);
	assert_string_equal(d.rua[0].mailto, "dmarc-feedback@example.com");
	assert_int_equal(d.rua[0].max_size, 0);
	assert_string_equal(d.rua[1].uri, "mailto:tld-test@thirdparty.example.net");
	assert_int_equal(d.rua[1].max_size, 10ull * 1024 * 1024);
	assert_int_equal(d.n_ruf, 0);
	tw_dmarc_release(&d);

	r = "v=DMARC1;p=reject;sp=none;np=quarantine;adkim=s;aspf=s;fo=d:s;ri=3600;t=y";
	assert_int_equal(tw_dmarc_parse(r, strlen(r), &d, &e, NULL), 0);
	assert_int_equal(d.p, TW_DMARC_REJECT);
	assert_int_equal(d.sp, TW_DMARC_NONE);
	assert_int_equal(d.np, TW_DMARC_QUARANTINE);
	assert_int_equal(d.adkim, 's');
	assert_int_equal(d.aspf, 's');
	assert_false(d.fo_0);
	assert_true(d.fo_d && d.fo_s && !d.fo_1);
	assert_int_equal(d.ri, 3600);
	assert_true(d.testing);
	tw_dmarc_release(&d);

	/* no p=: not an error here (the caller knows if this is the org domain) */
	r = "v=DMARC1; rua=mailto:d@example.com";
	assert_int_equal(tw_dmarc_parse(r, strlen(r), &d, &e, NULL), 0);
	assert_int_equal(d.p, -1);
	tw_dmarc_release(&d);
	assert_int_equal(e.n, 0);
}

static void test_diag_fields(void **state)
{
	(void)state;
	tw_dmarc_t d;
	tw_diags_t e = {0};
	const char *r = "v=DMARC1; p=rejcet; rua=mailto:x@example.com; pct=50%";
	assert_int_equal(tw_dmarc_parse(r, strlen(r), &d, &e, NULL), TW_EINVAL);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.v[0].field, "p");
	assert_non_null(strstr(e.v[0].msg, "\"rejcet\""));
	assert_string_equal(e.v[1].field, "pct");
	assert_int_equal(d.p, -1);
	assert_int_equal(d.n_rua, 1);
	tw_dmarc_release(&d);
	tw_diags_release(&e);
}

static void test_is_dmarc(void **state)
{
	(void)state;
	assert_true(tw_dmarc_is_dmarc("v=DMARC1", 8));
	assert_true(tw_dmarc_is_dmarc("v = DMARC1 ; p=none", 19));
	assert_false(tw_dmarc_is_dmarc("v=DMARC10", 9));
	assert_false(tw_dmarc_is_dmarc("v=dmarc1", 8));
	assert_false(tw_dmarc_is_dmarc("p=none; v=DMARC1", 16));
	assert_false(tw_dmarc_is_dmarc("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_values),
	        cmocka_unit_test(test_diag_fields),
	        cmocka_unit_test(test_is_dmarc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
