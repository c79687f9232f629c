/* Quick mode's command line (`--listen`, `--to`, `--proxy`, `--protocol`,
 * `--sni NAME=HOST:PORT`): the input is split on NUL bytes into the option
 * values, the way argv reaches tw_config_quick(). What it accepts must
 * compile into a route table. */
#include "util/tw.h"

#include "edge/config.h"
#include "edge/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *part[12] = {0};
	size_t n = 0;
	part[n++] = buf;
	for (size_t i = 0; i < size && n < TW_ARRAY_LEN(part); i++)
		if (buf[i] == '\0')
			part[n++] = buf + i + 1;
	/* listen, to, proxy, protocol, then --sni values; empty means absent */
	const char *opt[4];
	for (size_t i = 0; i < 4; i++)
		opt[i] = i < n && part[i][0] ? part[i] : NULL;
	const char *sni[8];
	size_t n_sni = 0;
	for (size_t i = 4; i < n && n_sni < TW_ARRAY_LEN(sni); i++)
		sni[n_sni++] = part[i];
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_new_default();
	int rc = tw_config_quick(c, opt[0] ? opt[0] : "127.0.0.1:0", opt[1], opt[2], opt[3], sni,
	                         n_sni, &d);
	if (rc == 0) {
		TW_BUG_ON(d.n != 0);
		TW_BUG_ON(c->n_listeners != 1);
		tw_routes_t *r = tw_routes_build(c, 1, &d);
		/* quick mode's own output must be a valid table */
		TW_BUG_ON(r == NULL);
		tw_routes_unref(r);
	} else {
		TW_BUG_ON(d.n == 0);
		tw_config_free(c);
	}
	tw_diags_release(&d);
	free(buf);
	return 0;
}
