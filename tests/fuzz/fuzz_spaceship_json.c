/*
 * fuzz_spaceship_json.c - a GET /dns/records page from a hostile server:
 * the page parser must refuse or convert, never crash; and every record it
 * converts that the client would write must come back as the same record
 * when its item is read again (item <-> record round trip).
 */
#include "util/tw.h"

#include "dns/spaceship.h"

#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_dns_zone_t z, back;
	tw_dns_err_t err = {0};
	size_t n = 0;
	long long total = 0;
	if (tw_dns_zone_init(&z, "example.com") != 0)
		return 0;
	int rc = tw_dns_spaceship_parse_page(&z, (const char *)data, size, 1000, &n, &total, &err);
	if (rc) {
		TW_BUG_ON(err.exit_code != 3 || err.msg[0] == '\0');
		tw_dns_zone_release(&z);
		return 0;
	}
	TW_BUG_ON(z.n != n);
	for (size_t i = 0; i < z.n; i++) {
		char why[300];
		json_t *it = tw_dns_spaceship_rr_to_item(&z.v[i], z.origin, true, why, sizeof(why));
		if (!it) {
			TW_BUG_ON(why[0] == '\0');
			continue;
		}
		json_object_set_new(it, "group", json_pack("{s:s}", "type", "custom"));
		TW_BUG_ON(tw_dns_zone_init(&back, "example.com") != 0);
		tw_dns_err_t e2 = {0};
		TW_BUG_ON(tw_dns_spaceship_item_to_rr(&back, it, 0, &e2) != 0);
		TW_BUG_ON(back.n != 1);
		/* The same record as Spaceship matches them: case-insensitive data
		 * except TXT (SPEC PUT/DELETE), so the names are compared as such. */
		const tw_dns_rr_t *x = &back.v[0], *y = &z.v[i];
		TW_BUG_ON(strcmp(x->owner, y->owner) != 0 || x->type != y->type);
		if (x->txt)
			TW_BUG_ON(!tw_dns_rr_same_data(x, y));
		else
			TW_BUG_ON(strcasecmp(x->rdata, y->rdata) != 0);
		TW_BUG_ON(back.v[0].ttl != z.v[i].ttl);
		json_decref(it);
		tw_dns_zone_release(&back);
	}
	tw_dns_zone_release(&z);
	return 0;
}
