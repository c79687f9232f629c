/*
 * fuzz_spf.c - the SPF record parser on any bytes: no crash or overread,
 * and the parse result agrees with itself (errors exactly when it fails,
 * the lookup count is the count of DNS-querying terms, the modifier
 * pointers point into the terms).
 */
#include "util/tw.h"

#include "mail/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data;
	tw_spf_t s;
	tw_diags_t e = {0}, w = {0};
	int rc = tw_spf_parse(txt, size, &s, &e, &w);
	if (rc != TW_ENOMEM) {
		TW_BUG_ON((rc == 0) != (e.n == 0));
		TW_BUG_ON(!tw_spf_is_spf(txt, size) && rc == 0);
		int lookups = 0;
		for (size_t i = 0; i < s.n; i++) {
			const tw_spf_term_t *t = &s.terms[i];
			TW_BUG_ON(!t->text);
			TW_BUG_ON(t->offset >= size);
			TW_BUG_ON(t->cidr4 > 32 || t->cidr6 > 128);
			lookups += tw_spf_term_queries_dns(t);
		}
		TW_BUG_ON(lookups != s.lookups);
		TW_BUG_ON(s.redirect && (s.redirect < s.terms || s.redirect >= s.terms + s.n));
		TW_BUG_ON(s.exp && s.exp->kind != TW_SPF_EXP);
		TW_BUG_ON(s.all && s.all->kind != TW_SPF_ALL);
	}
	for (size_t i = 0; i < e.n; i++)
		TW_BUG_ON(e.v[i].msg[0] == '\0');
	tw_spf_release(&s);
	tw_diags_release(&e);
	tw_diags_release(&w);
	/* the macro checker alone, in its four modes */
	bool m;
	for (int k = 0; k < 4; k++)
		tw_spf_check_macro_string(txt, size, k & 1, k & 2, &m);
	return 0;
}
