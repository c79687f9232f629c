/*
 * fuzz_dns_tsig.c - libFuzzer target: what rfc2136.c does with a server's
 * answer bytes (src/dns/rfc2136_int.h): finding and verifying the TSIG
 * record (RFC 8945), the AXFR messages (ID, rcode, ldns parse, records into
 * a zone) and the UPDATE answer, with a fixed key.
 *
 * Input: one mode byte, then a stream of messages each after a two-byte
 * prefix as on TCP (RFC 1035 4.2.2); the prefix's top bit marks a message
 * to sign (mode 3), the other 15 bits are its length.
 *   mode 0, 1: the stream as an AXFR answer to a signed (0) / unsigned (1)
 *              provider; the request ID is the first message's.
 *   mode 2:    the rest, as one message, as the UPDATE answer (signed and
 *              unsigned provider).
 *   mode 3:    the messages signed as a server signs an answer (marked
 *              ones; the others left unsigned, RFC 8945 5.3.1), then
 *              verified in step: a TSIG record found where we appended it
 *              must verify. The signed stream also goes through the AXFR
 *              path, so ldns and the zone see messages that pass TSIG.
 * Every mode also verifies the raw messages: no crash, no leak.
 */
#include "util/tw.h"

#include "dns/provider.h"
#include "dns/rfc2136_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN   "example.com."
#define MAX_MSGS 64

static tw_dns_provider_t *g_signed, *g_unsigned;

/* The request's MAC the answers chain from (a fixed stand-in). */
static const uint8_t req_mac[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void setup(void)
{
	tw_dns_tsig_t k = {0};
	tw_dns_rfc2136_opts_t o = {.server = "127.0.0.1:1"};
	tw_dns_err_t err;

	if (g_signed)
		return;
	tw_strlcpy(k.name, "fuzz-key.", sizeof(k.name));
	tw_strlcpy(k.alg, "hmac-sha256", sizeof(k.alg));
	/* 32 bytes: "tailwart fuzz key, not a secret" */
	tw_strlcpy(k.secret, "dGFpbHdhcnQgZnV6eiBrZXksIG5vdCBhIHNlY3JldCE=", sizeof(k.secret));
	TW_BUG_ON(tw_dns_rfc2136_new(ORIGIN, &o, &g_unsigned, &err) != 0);
	o.key = &k;
	TW_BUG_ON(tw_dns_rfc2136_new(ORIGIN, &o, &g_signed, &err) != 0);
}

static void rx_start(tw_dns_rfc2136_rx_t *rx, uint16_t id)
{
	memset(rx, 0, sizeof(*rx));
	rx->id = id;
	memcpy(rx->prior, req_mac, sizeof(req_mac));
	rx->prior_len = sizeof(req_mac);
}

typedef struct msg {
	const uint8_t *v;
	size_t n;
	bool sign;
} msg_t;

static size_t split(const uint8_t *d, size_t size, msg_t *m)
{
	size_t k = 0;

	while (size >= 2 && k < MAX_MSGS) {
		size_t len = (size_t)(d[0] & 0x7f) << 8 | d[1];

		m[k].sign = d[0] & 0x80;
		d += 2;
		size -= 2;
		if (len > size)
			len = size;
		m[k].v = d;
		m[k].n = len;
		k++;
		d += len;
		size -= len;
	}
	return k;
}

static uint16_t first_id(const msg_t *m, size_t k)
{
	return k && m[0].n >= 2 ? (uint16_t)(m[0].v[0] << 8 | m[0].v[1]) : 0;
}

/* The messages as one AXFR answer: stops at the first error or the end. */
static void axfr(tw_dns_provider_t *p, const msg_t *m, size_t k, uint16_t id)
{
	tw_dns_rfc2136_rx_t rx;
	tw_dns_zone_t z;
	tw_dns_err_t err;

	TW_BUG_ON(tw_dns_zone_init(&z, ORIGIN) != 0);
	rx_start(&rx, id);
	for (size_t i = 0; i < k && rx.soas < 2; i++) {
		memset(&err, 0, sizeof(err));
		if (tw_dns_rfc2136_axfr_msg(p, &rx, m[i].v, m[i].n, &z, &err) != 0) {
			TW_BUG_ON(err.msg[0] == '\0' && err.exit_code != 0);
			break;
		}
	}
	tw_dns_rfc2136_rx_release(&rx);
	tw_dns_zone_release(&z);
}

static void raw_verify(const msg_t *m, size_t k, uint16_t id)
{
	tw_dns_rfc2136_rx_t rx;
	unsigned terr;
	size_t off;

	rx_start(&rx, id);
	for (size_t i = 0; i < k; i++) {
		int tv = tw_dns_rfc2136_verify(g_signed, &rx, m[i].v, m[i].n, &terr, &off);

		TW_BUG_ON(tv >= 0 && off > m[i].n);
	}
	tw_dns_rfc2136_rx_release(&rx);
}

/* Mode 3: sign as a server, verify in step. */
static void signed_stream(const msg_t *m, size_t k)
{
	tw_dns_rfc2136_rx_t signer, ver;
	tw_dns_buf_t out[MAX_MSGS];
	msg_t sm[MAX_MSGS];
	unsigned terr;
	size_t off;

	memset(out, 0, sizeof(out));
	rx_start(&signer, 0);
	rx_start(&ver, 0);
	for (size_t i = 0; i < k; i++) {
		tw_dns_buf_t *b = &out[i];
		int tv;

		b->cap = m[i].n + 512;
		b->v = malloc(b->cap);
		TW_BUG_ON(!b->v);
		memcpy(b->v, m[i].v, m[i].n);
		b->n = m[i].n;
		if (m[i].sign && m[i].n >= 12) {
			size_t orig = b->n;

			TW_BUG_ON(!tw_dns_rfc2136_sign(g_signed, &signer, b, true));
			tv = tw_dns_rfc2136_verify(g_signed, &ver, b->v, b->n, &terr, &off);
			/* our TSIG record found where we put it: it verifies */
			if (tv >= 0 && off == orig)
				TW_BUG_ON(tv != TW_DNS_TV_OK);
			/* the two keep the same chain only while every signed
			 * message is verified as signed: stop at the first that
			 * is not (found no TSIG, or another one, as the input
			 * does not parse exactly) */
			if (tv != TW_DNS_TV_OK || off != orig) {
				k = i + 1;
				break;
			}
		} else {
			tv = tw_dns_rfc2136_verify(g_signed, &ver, b->v, b->n, &terr, &off);
			/* an unsigned message after the first signed one counts
			 * in the next MAC (5.3.1): the signer digests it too */
			if (tv == TW_DNS_TV_OK && off == 0 && signer.first_done) {
				tw_dns_buf_t *pd = &signer.pending;

				if (pd->n + b->n > pd->cap) {
					pd->cap = (pd->n + b->n) * 2;
					pd->v = realloc(pd->v, pd->cap);
					TW_BUG_ON(!pd->v);
				}
				memcpy(pd->v + pd->n, b->v, b->n);
				pd->n += b->n;
				signer.unsigned_run++;
			} else if (tv != TW_DNS_TV_OK && tv != TW_DNS_TV_UNSIGNED) {
				k = i + 1;
				break;
			}
		}
	}
	for (size_t i = 0; i < k; i++) {
		sm[i].v = out[i].v;
		sm[i].n = out[i].n;
		sm[i].sign = false;
	}
	axfr(g_signed, sm, k, first_id(sm, k));
	for (size_t i = 0; i < k; i++)
		free(out[i].v);
	tw_dns_rfc2136_rx_release(&signer);
	tw_dns_rfc2136_rx_release(&ver);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msg_t m[MAX_MSGS];
	size_t k;

	setup();
	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
	case 1:
		k = split(data + 1, size - 1, m);
		raw_verify(m, k, first_id(m, k));
		axfr(data[0] & 1 ? g_unsigned : g_signed, m, k, first_id(m, k));
		break;
	case 2: {
		tw_dns_rfc2136_rx_t rx;
		tw_dns_err_t err;
		uint16_t id = size >= 3 ? (uint16_t)(data[1] << 8 | data[2]) : 0;

		m[0].v = data + 1;
		m[0].n = size - 1;
		raw_verify(m, 1, id);
		for (int s = 0; s < 2; s++) {
			rx_start(&rx, id);
			memset(&err, 0, sizeof(err));
			int rc = tw_dns_rfc2136_update_answer(s ? g_signed : g_unsigned, &rx,
			                                      m[0].v, m[0].n, &err);
			TW_BUG_ON(rc != 0 && err.msg[0] == '\0');
			tw_dns_rfc2136_rx_release(&rx);
		}
		break;
	}
	default:
		k = split(data + 1, size - 1, m);
		signed_stream(m, k);
		break;
	}
	return 0;
}
