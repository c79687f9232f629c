/*
 * fuzz_proxy: tw_proxy_parse() on arbitrary bytes. On success the header's
 * addresses and TLVs are encoded again (v1 and v2) and parsed back; they
 * must survive the round trip. Any inconsistency aborts via TW_BUG_ON.
 */
#include "util/tw.h"

#include "edge/proxy_proto.h"

#include <netinet/in.h>

struct norm {
	int af;
	uint8_t a[16];
	uint16_t port;
};

/* v4-mapped IPv6 compares equal to IPv4: the encoder sends it as IPv4. */
static void normalize(const struct sockaddr_storage *ss, struct norm *n)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(n, 0, sizeof(*n));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		n->af = AF_INET;
		memcpy(n->a, &s->sin_addr, 4);
		n->port = s->sin_port;
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = (const uint8_t *)&s->sin6_addr;
		n->port = s->sin6_port;
		if (memcmp(a, mapped, 12) == 0) {
			n->af = AF_INET;
			memcpy(n->a, a + 12, 4);
		} else {
			n->af = AF_INET6;
			memcpy(n->a, a, 16);
		}
	}
}

static bool same_addr(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	struct norm a, b;

	normalize(x, &a);
	normalize(y, &b);
	return a.port == b.port && a.af == b.af && memcmp(a.a, b.a, 16) == 0;
}

static void check_err(const char *err)
{
	size_t n = strnlen(err, 256);

	TW_BUG_ON(n == 256);
	for (size_t i = 0; i < n; i++)
		TW_BUG_ON((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f);
}

static void round_trip(const tw_proxy_info_t *pi)
{
	tw_proxy_tlvs_t t = {
	        .authority = pi->authority,
	        .authority_len = pi->authority_len,
	        .alpn = pi->alpn,
	        .alpn_len = pi->alpn_len,
	        .unique_id = pi->unique_id,
	        .unique_id_len = pi->unique_id_len,
	};

	for (int ver = 1; ver <= 2; ver++) {
		uint8_t out[TW_PROXY_SEND_CAP];
		tw_proxy_info_t back;
		size_t consumed;
		char err[256] = "";
		int r = tw_proxy_encode(out, sizeof(out), ver, (const struct sockaddr *)&pi->src,
		                        (const struct sockaddr *)&pi->dst, &t);

		TW_BUG_ON(r <= 0 || (size_t)r > sizeof(out));
		r = tw_proxy_parse(out, (size_t)r, TW_PROXY_SEND_CAP, &back, &consumed, err,
		                   sizeof(err));
		if (r != 0)
			fprintf(stderr, "re-parse failed: %s\n", err);
		TW_BUG_ON(r != 0);
		TW_BUG_ON(back.local || !back.stream);
		TW_BUG_ON(!same_addr(&pi->src, &back.src) || !same_addr(&pi->dst, &back.dst));
		if (ver == 2) {
			/* At their limits all TLVs fit in 536 bytes: none dropped. */
			TW_BUG_ON(back.authority_len != pi->authority_len ||
			          memcmp(back.authority, pi->authority, pi->authority_len) != 0);
			TW_BUG_ON(back.alpn_len != pi->alpn_len ||
			          memcmp(back.alpn, pi->alpn, pi->alpn_len) != 0);
			TW_BUG_ON(back.unique_id_len != pi->unique_id_len ||
			          memcmp(back.unique_id, pi->unique_id, pi->unique_id_len) != 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_proxy_info_t pi, pi2;
	size_t consumed = 0, consumed2 = 0;
	char err[256] = "";
	int r, r2;

	r = tw_proxy_parse(data, size, TW_PROXY_V2_MAX_LEN, &pi, &consumed, err, sizeof(err));
	TW_BUG_ON(r != 0 && r != TW_EAGAIN && r != TW_EINVAL && r != TW_ETOOBIG);
	if (r == TW_EINVAL || r == TW_ETOOBIG)
		check_err(err);
	if (r != 0)
		return 0;
	TW_BUG_ON(consumed == 0 || consumed > size);

	/* The header alone parses the same; one byte less asks for more. */
	r2 = tw_proxy_parse(data, consumed, TW_PROXY_V2_MAX_LEN, &pi2, &consumed2, NULL, 0);
	TW_BUG_ON(r2 != 0 || consumed2 != consumed || memcmp(&pi, &pi2, sizeof(pi)) != 0);
	r2 = tw_proxy_parse(data, consumed - 1, TW_PROXY_V2_MAX_LEN, &pi2, &consumed2, NULL, 0);
	TW_BUG_ON(r2 != TW_EAGAIN);
	/* A tighter bound either accepts it the same or says it is too big. */
	r2 = tw_proxy_parse(data, size, TW_PROXY_SEND_CAP, &pi2, &consumed2, NULL, 0);
	TW_BUG_ON(consumed <= TW_PROXY_SEND_CAP ? r2 != 0 : r2 != TW_ETOOBIG);

	TW_BUG_ON(pi.version != 1 && pi.version != 2);
	TW_BUG_ON(pi.authority_len > TW_PROXY_AUTHORITY_MAX || pi.authority[pi.authority_len]);
	if (pi.local) {
		TW_BUG_ON(pi.family != AF_UNSPEC);
		return 0;
	}
	if (pi.family == AF_INET || pi.family == AF_INET6) {
		TW_BUG_ON(pi.src.ss_family != pi.family || pi.dst.ss_family != pi.family);
		round_trip(&pi);
	}
	return 0;
}
