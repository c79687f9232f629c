/*
 * fuzz_health_greeting: tw_health_greeting() and tw_health_farewell().
 *
 * Input: byte 0 picks the judge (bit 7: farewell) and the type (% 6); the
 * rest is what the server sent. A check calls the judge again on the whole
 * buffer after every read, so the verdict must not depend on where the
 * reads cut the stream. The invariant asserted:
 *   - the first verdict that is not MORE, at any prefix, is the verdict of
 *     the whole input, with the very same `why` (so a decided verdict never
 *     changes or goes back to MORE as bytes arrive), and a MORE whole means
 *     MORE at every prefix;
 *   - more than 4096 bytes is never MORE; tcp and tls are always OK;
 *   - OK has an empty `why`, FAIL a non-empty one, printable ASCII only,
 *     terminated within whylen; a smaller buffer gets a prefix of it.
 * The prefixes are cut in chunks whose sizes come from a PRNG seeded with
 * a hash of the input, so every input replays the same way.
 */
#include "util/tw.h"

#include "edge/health.h"

typedef tw_greet_t (*judge_fn)(tw_hc_type_t, const uint8_t *, size_t, char *, size_t);

static uint32_t next(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

static void check_why(const char *why, size_t cap, tw_greet_t v)
{
	size_t n = strnlen(why, cap);

	TW_BUG_ON(n >= cap);
	TW_BUG_ON((v == TW_GREET_FAIL) != (n > 0));
	for (size_t i = 0; i < n; i++)
		TW_BUG_ON(why[i] < 0x20 || why[i] > 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char whole[1024], why[1024], small[40];
	judge_fn fn;
	tw_hc_type_t t;
	const uint8_t *in;
	size_t n, len = 0, wl;
	uint32_t seed = 2166136261u;
	tw_greet_t v;

	if (size < 1)
		return 0;
	fn = data[0] & 0x80 ? tw_health_farewell : tw_health_greeting;
	t = (tw_hc_type_t)((data[0] & 0x7f) % 6);
	in = data + 1;
	n = size - 1;

	v = fn(t, in, n, whole, sizeof(whole));
	check_why(whole, sizeof(whole), v);
	TW_BUG_ON(v != TW_GREET_MORE && v != TW_GREET_OK && v != TW_GREET_FAIL);
	if (t == TW_HC_TCP || t == TW_HC_TLS)
		TW_BUG_ON(v != TW_GREET_OK);
	if (n > 4096)
		TW_BUG_ON(v == TW_GREET_MORE);

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	seed |= 1;
	/* Reads of 1 byte up to a few KiB, mostly small: cuts land everywhere. */
	while (len < n) {
		uint32_t r = next(&seed);
		size_t chunk = 1 + (r & 0x100 ? r % 2048 : r % 16);
		tw_greet_t p;

		len = chunk > n - len ? n : len + chunk;
		p = fn(t, in, len, why, sizeof(why));
		check_why(why, sizeof(why), p);
		if (p != TW_GREET_MORE) {
			TW_BUG_ON(p != v);
			TW_BUG_ON(strcmp(why, whole) != 0);
		}
	}
	/* An empty stream is undecided for every type that reads. */
	if (t != TW_HC_TCP && t != TW_HC_TLS)
		TW_BUG_ON(fn(t, in, 0, why, sizeof(why)) != TW_GREET_MORE);

	/* A short buffer gets a prefix of the full text; NULL is fine. */
	wl = 1 + data[size - 1] % sizeof(small);
	TW_BUG_ON(fn(t, in, n, small, wl) != v);
	TW_BUG_ON(strnlen(small, wl) >= wl);
	TW_BUG_ON(strncmp(small, whole, strlen(small)) != 0);
	TW_BUG_ON(fn(t, in, n, NULL, 0) != v);
	return 0;
}
