/*
 * fuzz_tls_hello - tw_tls_hello_parse() on arbitrary bytes.
 *
 * Besides memory safety (ASan sees any read past the input, which libFuzzer
 * allocates at its exact size), it checks what the header promises about
 * *out, and that a parsed hello re-split into records of another size
 * parses to the same result (the fragmentation path must not change it).
 */
#include "util/tw.h"

#include "edge/tls_hello.h"

static void check_out(const tw_client_hello_t *h)
{
	size_t off = 0, n;
	const uint8_t *name;

	TW_BUG_ON(h->sni_len >= sizeof(h->sni));
	TW_BUG_ON(h->sni[h->sni_len] != '\0' || strlen(h->sni) != h->sni_len);
	TW_BUG_ON(h->has_sni != (h->sni_len > 0));
	TW_BUG_ON(h->alpn_len > sizeof(h->alpn));
	while (tw_alpn_next(h->alpn, h->alpn_len, &off, &name, &n))
		TW_BUG_ON(n == 2 && name[0] == name[1] && (name[0] & 0x0f) == 0x0a);
	TW_BUG_ON(off != h->alpn_len);
}

/* Joins the payloads of the leading complete handshake records. */
static size_t payloads(const uint8_t *d, size_t size, uint8_t *hs)
{
	size_t pos = 0, n = 0;

	while (pos + 5 <= size && d[pos] == 0x16) {
		size_t rl = (size_t)d[pos + 3] << 8 | d[pos + 4];

		if (rl > size - pos - 5)
			rl = size - pos - 5; /* the hello may end inside its record */
		memcpy(hs + n, d + pos + 5, rl);
		n += rl;
		pos += 5 + rl;
	}
	return n;
}

static void resplit(const uint8_t *data, size_t size, const tw_client_hello_t *want)
{
	size_t chunk = size % 61 + 1, hn, pos, o = 0;
	uint8_t *hs = malloc(size), *re;
	tw_client_hello_t got;
	char err[128];
	int rc;

	TW_BUG_ON(hs == NULL);
	hn = payloads(data, size, hs);
	re = malloc(hn + 5 * (hn / chunk + 1));
	TW_BUG_ON(re == NULL);
	for (pos = 0; pos < hn; pos += chunk) {
		size_t take = hn - pos < chunk ? hn - pos : chunk;

		memcpy(re + o, "\x16\x03\x03", 3);
		re[o + 3] = (uint8_t)(take >> 8);
		re[o + 4] = (uint8_t)take;
		memcpy(re + o + 5, hs + pos, take);
		o += 5 + take;
	}
	rc = tw_tls_hello_parse(re, o, SIZE_MAX, &got, err, sizeof(err));
	TW_BUG_ON(rc != 0);
	TW_BUG_ON(got.has_sni != want->has_sni || got.sni_len != want->sni_len ||
	          memcmp(got.sni, want->sni, sizeof(got.sni)) != 0);
	TW_BUG_ON(got.alpn_len != want->alpn_len ||
	          memcmp(got.alpn, want->alpn, got.alpn_len) != 0);
	TW_BUG_ON(got.version != want->version);
	free(re);
	free(hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_client_hello_t h;
	char err[128];
	int rc, rc2;

	rc = tw_tls_hello_parse(data, size, SIZE_MAX, &h, err, sizeof(err));
	TW_BUG_ON(rc != 0 && rc != TW_EAGAIN && rc != TW_EINVAL);
	TW_BUG_ON((rc == TW_EINVAL) != (err[0] != '\0'));
	if (rc == 0) {
		check_out(&h);
		resplit(data, size, &h);
	}

	/* A bound at the input's size: a hello that fits parses the same; one
	 * that does not is TW_ETOOBIG, never TW_EAGAIN. */
	rc2 = tw_tls_hello_parse(data, size, size, &h, err, sizeof(err));
	if (rc == 0)
		TW_BUG_ON(rc2 != 0);
	if (rc == TW_EINVAL)
		TW_BUG_ON(rc2 != rc && rc2 != TW_ETOOBIG);
	if (rc == TW_EAGAIN)
		TW_BUG_ON(rc2 != TW_ETOOBIG);

	/* A small bound, as a listener would set it. */
	rc2 = tw_tls_hello_parse(data, size, 512, &h, NULL, 0);
	if (rc2 == 0)
		check_out(&h);
	return 0;
}
