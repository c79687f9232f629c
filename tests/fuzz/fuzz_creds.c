/*
 * fuzz_creds.c - credentials file text: parse or refuse with diags, never
 * crash; a refusal always says why, a success always has both values, and
 * no diag ever holds a parsed value.
 */
#include "util/tw.h"

#include "dns/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *k = NULL, *s = NULL;
	tw_diags_t d = {0};
	int rc = tw_dns_creds_parse("fuzz.env", (const char *)data, size, &k, &s, &d);
	if (rc) {
		TW_BUG_ON(d.n == 0 || k || s);
	} else {
		TW_BUG_ON(!k || !s || !*k || !*s || d.n != 0);
		free(k);
		free(s);
	}
	tw_diags_release(&d);
	return 0;
}
