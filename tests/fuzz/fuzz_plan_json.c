/* fuzz_plan_json.c - the PLANFILE reader (tw_dns_planfile_parse): a file a
 * user hands to `tailwart dns apply`. When it parses, the desired records
 * must survive a digest and a re-plan against an empty live zone. */
#include "dns/plan.h"

static const tw_dns_provider_ops_t ops = {.name = "fuzz", .sem = {.append_by_value = true}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_dns_zone_t z, live;
	tw_dns_planfile_t pf;
	tw_diags_t d = {0};
	if (tw_dns_planfile_parse("fuzz.plan", (const char *)data, size, &z, &pf, &d) == 0) {
		char dig[65];
		tw_dns_zone_digest(&z, NULL, dig);
		if (tw_dns_zone_init(&live, z.origin) == 0) {
			tw_dns_plan_t p;
			tw_diags_t e = {0};
			if (tw_dns_plan_make(&p, &z, &live, &ops, NULL, &e) == 0)
				tw_dns_plan_release(&p);
			tw_diags_release(&e);
			tw_dns_zone_release(&live);
		}
		tw_dns_planfile_release(&pf);
		tw_dns_zone_release(&z);
	}
	tw_diags_release(&d);
	return 0;
}
