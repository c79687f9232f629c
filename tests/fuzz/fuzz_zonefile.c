/*
 * fuzz_zonefile.c - the zone file loader on arbitrary bytes, and a property
 * check: whatever loads is written back as a master file and that loads to
 * the same records (owner, type, data and TTL).
 */
#include "util/tw.h"

#include "dns/zone.h"

static void dump(const tw_diags_t *d, const char *text)
{
	tw_diags_print(d, stderr);
	fprintf(stderr, "--- written zone ---\n%s\n", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_dns_zone_t z, back;
	tw_diags_t d = {0};
	int rc = tw_dns_zone_load_mem(&z, "fuzz", (const char *)data, size, "example.com", &d);
	TW_BUG_ON(rc != 0 && d.n == 0);
	TW_BUG_ON(rc == 0 && d.n != 0);
	TW_BUG_ON(d.n > 101);
	for (size_t i = 0; i < d.n; i++)
		TW_BUG_ON(d.v[i].msg[0] == '\0');
	if (rc == 0) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		TW_BUG_ON(!f);
		TW_BUG_ON(tw_dns_zone_write(&z, f, "fuzz\nround trip") != 0);
		fclose(f);
		tw_diags_t d2 = {0};
		rc = tw_dns_zone_load_mem(&back, "written", buf, len, NULL, &d2);
		if (rc != 0 || back.n != z.n)
			dump(&d2, buf);
		TW_BUG_ON(rc != 0);
		TW_BUG_ON(back.n != z.n);
		TW_BUG_ON(strcmp(back.origin, z.origin) != 0);
		tw_dns_zone_sort(&z);
		tw_dns_zone_sort(&back);
		for (size_t i = 0; i < z.n; i++) {
			if (!tw_dns_rr_same_data(&z.v[i], &back.v[i]) ||
			    z.v[i].ttl != back.v[i].ttl) {
				char a[512], b[512];
				fprintf(stderr, "record %zu differs:\n  %s\n  %s\n", i,
				        tw_dns_rr_format(&z.v[i], a, sizeof(a)),
				        tw_dns_rr_format(&back.v[i], b, sizeof(b)));
				dump(&d2, buf);
				TW_BUG_ON(1);
			}
		}
		tw_diags_release(&d2);
		tw_dns_zone_release(&back);
		free(buf);
	}
	tw_dns_zone_release(&z);
	tw_diags_release(&d);
	return 0;
}
