/*
 * mail_spf_test.c - the SPF record parser: the parse-level cases of the
 * RFC 7208 test suite (tests/vectors/spf/rfc7208-syntax.txt) and the parsed
 * structure and warnings.
 */
#include "util/tw.h"

#include "mail/spf.h"

#include <setjmp.h>

#include <cmocka.h>

#include "vector_lines.h"

#define VEC "tests/vectors/spf/rfc7208-syntax.txt"

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes \xNN in s into out; returns the byte count. */
static size_t unescape(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; s[i]; i++) {
		assert_true(n < cap);
		if (s[i] == '\\' && s[i + 1] == 'x' && hexv(s[i + 2]) >= 0 && hexv(s[i + 3]) >= 0) {
			out[n++] = (char)(hexv(s[i + 2]) << 4 | hexv(s[i + 3]));
			i += 3;
		} else {
			out[n++] = s[i];
		}
	}
	return n;
}

static void test_rfc7208_suite(void **state)
{
	(void)state;
	FILE *f = fopen(VEC, "r");
	assert_non_null(f);
	char line[1024];
	int cases = 0, bad = 0;
	char *name, *exp, *rec;
	while (vector_next(f, line, sizeof(line), &name, &exp, &rec)) {
		char buf[1024];
		size_t n = unescape(rec, buf, sizeof(buf));
		tw_spf_t s;
		tw_diags_t errs = {0};
		int rc = tw_spf_parse(buf, n, &s, &errs, NULL);
		bool ok = false;
		if (strcmp(exp, "permerror") == 0)
			ok = rc == TW_EINVAL && errs.n > 0;
		else if (strcmp(exp, "ok") == 0)
			ok = rc == 0 && errs.n == 0;
		else if (strncmp(exp, "lookups=", 8) == 0)
			ok = rc == 0 && s.lookups == atoi(exp + 8);
		else
			fail_msg("bad expectation %s", exp);
		if (!ok) {
			print_message("%s: expected %s, got rc %d lookups %d\n", name, exp, rc,
			              s.lookups);
			tw_diags_print(&errs, stderr);
			bad++;
		}
		cases++;
		tw_spf_release(&s);
		tw_diags_release(&errs);
	}
	fclose(f);
	assert_true(cases >= 100);
	assert_int_equal(bad, 0);
}

static void test_is_spf(void **state)
{
	(void)state;
	assert_true(tw_spf_is_spf("v=spf1", 6));
	assert_true(tw_spf_is_spf("V=SPF1 -all", 11));
	assert_false(tw_spf_is_spf("v=spf10", 7));
	assert_false(tw_spf_is_spf("v=spf1-all", 10));
	assert_false(tw_spf_is_spf(" v=spf1", 7));
	assert_false(tw_spf_is_spf("v=DMARC1; p=none", 16));
	assert_false(tw_spf_is_spf(NULL, 0));
}

static void test_terms(void **state)
{
	(void)state;
	const char *r = "v=spf1 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 a/24//64 mx:mx.%{d} "
	                "?include:_spf.example.net exists:%{i}.bl.example.org ptr "
	                "redirect=_spf.example.com exp=why.example.com";
	tw_spf_t s;
	tw_diags_t e = {0}, w = {0};
	assert_int_equal(tw_spf_parse(r, strlen(r), &s, &e, &w), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(s.n, 9);
	assert_int_equal(s.terms[0].kind, TW_SPF_IP4);
	assert_int_equal(s.terms[0].qual, TW_SPF_FAIL);
	assert_int_equal(s.terms[0].cidr4, 24);
	assert_int_equal(s.terms[0].addr[0], 192);
	assert_int_equal(s.terms[0].addr[2], 2);
	assert_string_equal(s.terms[0].text, "ip4:192.0.2.0/24");
	assert_int_equal(s.terms[1].kind, TW_SPF_IP6);
	assert_int_equal(s.terms[1].qual, TW_SPF_SOFTFAIL);
	assert_int_equal(s.terms[1].cidr6, 32);
	assert_int_equal(s.terms[1].addr[0], 0x20);
	assert_int_equal(s.terms[1].addr[3], 0xb8);
	assert_int_equal(s.terms[2].kind, TW_SPF_A);
	assert_int_equal(s.terms[2].qual, TW_SPF_PASS);
	assert_null(s.terms[2].domain);
	assert_int_equal(s.terms[2].cidr4, 24);
	assert_int_equal(s.terms[2].cidr6, 64);
	assert_int_equal(s.terms[3].kind, TW_SPF_MX);
	assert_string_equal(s.terms[3].domain, "mx.%{d}");
	assert_true(s.terms[3].has_macro);
	assert_int_equal(s.terms[3].cidr4, -1);
	assert_int_equal(s.terms[4].kind, TW_SPF_INCLUDE);
	assert_int_equal(s.terms[4].qual, TW_SPF_NEUTRAL);
	assert_string_equal(s.terms[4].domain, "_spf.example.net");
	assert_false(s.terms[4].has_macro);
	assert_int_equal(s.terms[5].kind, TW_SPF_EXISTS);
	assert_int_equal(s.terms[6].kind, TW_SPF_PTR);
	assert_non_null(s.redirect);
	assert_string_equal(s.redirect->domain, "_spf.example.com");
	assert_non_null(s.exp);
	assert_string_equal(s.exp->domain, "why.example.com");
	assert_null(s.all);
	/* a, mx, include, exists, ptr, redirect */
	assert_int_equal(s.lookups, 6);
	/* ptr SHOULD NOT be used */
	assert_int_equal(w.n, 1);
	assert_string_equal(w.v[0].field, "\"ptr\"");
	tw_spf_release(&s);
	tw_diags_release(&e);
	tw_diags_release(&w);
}

static void test_warnings(void **state)
{
	(void)state;
	const char *r = "v=spf1 mx -all a redirect=_spf.example.com";
	tw_spf_t s;
	tw_diags_t e = {0}, w = {0};
	assert_int_equal(tw_spf_parse(r, strlen(r), &s, &e, &w), 0);
	assert_int_equal(w.n, 2);
	assert_non_null(strstr(w.v[0].msg, "never evaluated"));
	assert_string_equal(w.v[0].field, "\"a\"");
	assert_non_null(strstr(w.v[1].msg, "redirect is ignored"));
	assert_non_null(s.all);
	assert_int_equal(s.all->qual, TW_SPF_FAIL);
	tw_spf_release(&s);
	tw_diags_release(&w);

	r = "v=spf1 foo=bar -all";
	assert_int_equal(tw_spf_parse(r, strlen(r), &s, &e, &w), 0);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.v[0].msg, "unknown modifier"));
	assert_int_equal(s.terms[0].kind, TW_SPF_UNKNOWN_MOD);
	assert_string_equal(s.terms[0].name, "foo");
	assert_string_equal(s.terms[0].value, "bar");
	tw_spf_release(&s);
	tw_diags_release(&w);
	assert_int_equal(e.n, 0);
}

static void test_errors_name_term(void **state)
{
	(void)state;
	const char *r = "v=spf1 include:_spf.google.com ipv4:192.0.2.1 ~all";
	tw_spf_t s;
	tw_diags_t e = {0};
	assert_int_equal(tw_spf_parse(r, strlen(r), &s, &e, NULL), TW_EINVAL);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].field, "\"ipv4:192.0.2.1\"");
	assert_non_null(strstr(e.v[0].msg, "unknown mechanism"));
	/* the terms that parsed are kept, so lookups can still be counted */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.lookups, 1);
	tw_spf_release(&s);
	tw_diags_release(&e);

	r = "v=spf2.0/pra -all";
	assert_int_equal(tw_spf_parse(r, strlen(r), &s, &e, NULL), TW_EINVAL);
	assert_int_equal(s.n, 0);
	tw_spf_release(&s);
	tw_diags_release(&e);
}

static void test_macro_check(void **state)
{
	(void)state;
	bool m;
	assert_null(tw_spf_check_macro_string("%{ir}.%{v}._spf.%{d2}", 21, false, true, &m));
	assert_true(m);
	assert_non_null(tw_spf_check_macro_string("%{c}.example.com", 16, false, true, &m));
	assert_null(tw_spf_check_macro_string("%{c}.at.%{r}", 12, true, false, &m));
	assert_non_null(tw_spf_check_macro_string("%{d", 3, false, true, &m));
	assert_non_null(tw_spf_check_macro_string("100%", 4, true, false, &m));
	assert_non_null(tw_spf_check_macro_string("", 0, false, true, &m));
	assert_null(tw_spf_check_macro_string("example.com.", 12, false, true, &m));
	assert_false(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc7208_suite),
	        cmocka_unit_test(test_is_spf),
	        cmocka_unit_test(test_terms),
	        cmocka_unit_test(test_warnings),
	        cmocka_unit_test(test_errors_name_term),
	        cmocka_unit_test(test_macro_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
