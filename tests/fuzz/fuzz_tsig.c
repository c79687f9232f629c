/*
 * fuzz_tsig.c - libFuzzer target: tw_dns_tsig_parse (BIND and Knot key
 * files) on arbitrary bytes. A parsed key must be NUL-terminated, have a
 * known algorithm, and no diag may hold the parsed secret.
 */
#include "util/tw.h"

#include "dns/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	int rc = tw_dns_tsig_parse("fuzz", (const char *)data, size, &k, &d);
	if (rc == 0) {
		TW_BUG_ON(memchr(k.name, '\0', sizeof(k.name)) == NULL);
		TW_BUG_ON(memchr(k.secret, '\0', sizeof(k.secret)) == NULL);
		TW_BUG_ON(k.name[0] == '\0' || k.secret[0] == '\0');
		TW_BUG_ON(strncmp(k.alg, "hmac-", 5) != 0);
		for (size_t i = 0; i < d.n; i++)
			TW_BUG_ON(strlen(k.secret) >= 8 && strstr(d.v[i].msg, k.secret) != NULL);
	} else {
		TW_BUG_ON(d.n == 0);
	}
	tw_diags_release(&d);
	return 0;
}
