/*
 * fuzz_dkim_rec.c - the DKIM key record parser and its base64 decoder on
 * any bytes: no crash or overread, errors exactly when it fails, a usable
 * key whenever it succeeds and the key is not revoked.
 */
#include "util/tw.h"

#include "mail/dkim_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data;
	tw_dkim_key_t k;
	tw_diags_t e = {0}, w = {0};
	int rc = tw_dkim_rec_parse(txt, size, &k, &e, &w);
	if (rc != TW_ENOMEM) {
		TW_BUG_ON((rc == 0) != (e.n == 0));
		if (rc == 0 && !k.revoked)
			TW_BUG_ON(!k.pkey || k.bits < (k.k == TW_DKIM_K_ED25519 ? 256 : 1024));
		if (rc == 0 && k.k == TW_DKIM_K_ED25519 && !k.revoked)
			TW_BUG_ON(k.key_len != 32);
	}
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);
	tw_diags_release(&w);
	/* base64 alone: never more than 3 bytes per 4 characters */
	uint8_t out[512];
	long n = tw_dkim_base64_decode(txt, size, out, sizeof(out));
	TW_BUG_ON(n > (long)(size / 4 * 3));
	return 0;
}
