#include "util/tw.h"

#include "util/addr.h"

/* The three parsers on the same text (a C string: the callers pass YAML
 * scalars and argv), and the formatters on what parses. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[512], err[384], host[256], buf[128];
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	struct sockaddr_storage ss;
	socklen_t len;
	if (tw_addr_parse_listen(s, &ss, &len, err, sizeof(err)) == 0) {
		TW_BUG_ON(len != tw_addr_len((struct sockaddr *)&ss) || len == 0);
		tw_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
		/* What we print, we parse back to the same address. */
		struct sockaddr_storage again;
		TW_BUG_ON(tw_addr_parse_listen(buf, &again, &len, err, sizeof(err)) != 0);
		TW_BUG_ON(memcmp(&again, &ss, len) != 0);
		TW_BUG_ON(tw_addr_unmap_v4(&ss));
	} else {
		TW_BUG_ON(strlen(err) == 0);
	}

	uint16_t port;
	if (tw_addr_parse_hostport(s, host, sizeof(host), &port, err, sizeof(err)) == 0)
		TW_BUG_ON(port == 0 || strlen(host) == 0);
	else
		TW_BUG_ON(strlen(err) == 0);

	tw_cidr_t c;
	if (tw_cidr_parse(s, &c, err, sizeof(err)) == 0) {
		TW_BUG_ON(c.prefix > (c.family == AF_INET ? 32 : 128));
		struct sockaddr_storage probe;
		memset(&probe, 0, sizeof(probe));
		probe.ss_family = (sa_family_t)c.family;
		if (c.family == AF_INET)
			memcpy(&((struct sockaddr_in *)&probe)->sin_addr, c.addr, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&probe)->sin6_addr, c.addr, 16);
		/* A network contains its own base address. */
		TW_BUG_ON(!tw_cidr_match(&c, (struct sockaddr *)&probe));
	} else {
		TW_BUG_ON(strlen(err) == 0);
	}
	return 0;
}
