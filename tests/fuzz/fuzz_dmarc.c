/*
 * fuzz_dmarc.c - the DMARC record parser on any bytes: no crash or
 * overread, errors exactly when it fails, and parsed values in range.
 */
#include "util/tw.h"

#include "mail/dmarc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data;
	tw_dmarc_t d;
	tw_diags_t e = {0}, w = {0};
	int rc = tw_dmarc_parse(txt, size, &d, &e, &w);
	if (rc != TW_ENOMEM) {
		TW_BUG_ON((rc == 0) != (e.n == 0));
		TW_BUG_ON(!tw_dmarc_is_dmarc(txt, size) && rc == 0);
		TW_BUG_ON(d.p < -1 || d.p > TW_DMARC_REJECT || d.sp < -1 || d.sp > TW_DMARC_REJECT);
		TW_BUG_ON(d.np < -1 || d.np > TW_DMARC_REJECT);
		TW_BUG_ON(d.pct < 0 || d.pct > 100);
		TW_BUG_ON(d.adkim != 'r' && d.adkim != 's');
		TW_BUG_ON(d.aspf != 'r' && d.aspf != 's');
		for (size_t i = 0; i < d.n_rua; i++)
			TW_BUG_ON(!d.rua[i].uri);
		for (size_t i = 0; i < d.n_ruf; i++)
			TW_BUG_ON(!d.ruf[i].uri ||
			          (d.ruf[i].mailto && !strchr(d.ruf[i].mailto, '@')));
	}
	tw_dmarc_release(&d);
	tw_diags_release(&e);
	tw_diags_release(&w);
	return 0;
}
