#include "util/tw.h"

#include "util/addr.h"
#include "util/cidr_trie.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define VAL(i) ((void *)(uintptr_t)(i))

static void sa_of(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
	} else {
		fail_msg("bad test address %s", ip);
	}
}

static tw_cidr_t cidr(const char *s)
{
	tw_cidr_t c;
	char err[256];
	if (tw_cidr_parse(s, &c, err, sizeof(err)) != 0)
		fail_msg("bad test network %s: %s", s, err);
	return c;
}

static void insert_ok(tw_cidr_trie_t *t, const char *net, uintptr_t v)
{
	tw_cidr_t c = cidr(net);
	assert_int_equal(tw_cidr_trie_insert(t, &c, VAL(v), NULL), 0);
}

/* ---- fixed cases ---- */

static const char *const fixed_nets[] = {
        "0.0.0.0/0",       "10.0.0.0/8",          "10.1.0.0/16",
        "10.1.2.0/24",     "10.1.2.3/32",         "10.128.0.0/9",
        "192.0.2.0/24",    "192.0.2.128/25",      "::/0",
        "2001:db8::/32",   "2001:db8::/64",       "2001:db8:0:0:8000::/65",
        "2001:db8::7/128", "fd7a:115c:a1e0::/48",
};

static const struct {
	const char *ip;
	const char *want; /* the matched network, or NULL */
} fixed_lookups[] = {
        {"10.1.2.3", "10.1.2.3/32"},
        {"10.1.2.4", "10.1.2.0/24"},
        {"10.1.3.1", "10.1.0.0/16"},
        {"10.2.0.1", "10.0.0.0/8"},
        {"10.200.0.1", "10.128.0.0/9"},
        {"11.0.0.1", "0.0.0.0/0"},
        {"192.0.2.1", "192.0.2.0/24"},
        {"192.0.2.200", "192.0.2.128/25"},
        {"::ffff:10.1.2.3", "10.1.2.3/32"}, /* v4-mapped is IPv4 */
        {"::ffff:8.8.8.8", "0.0.0.0/0"},    /* ... and never meets ::/0 */
        {"2001:db8::7", "2001:db8::7/128"},
        {"2001:db8::8", "2001:db8::/64"},
        {"2001:db8::8000:0:0:1", "2001:db8:0:0:8000::/65"},
        {"2001:db8:1::1", "2001:db8::/32"},
        {"2001:db9::1", "::/0"},
        {"fd7a:115c:a1e0:ab12::1", "fd7a:115c:a1e0::/48"},
        {"::1", "::/0"},
};

static void test_fixed_lookups(void **state)
{
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	assert_non_null(t);
	for (size_t i = 0; i < TW_ARRAY_LEN(fixed_nets); i++)
		insert_ok(t, fixed_nets[i], i + 1);
	assert_int_equal(tw_cidr_trie_count(t), TW_ARRAY_LEN(fixed_nets));
	for (size_t i = 0; i < TW_ARRAY_LEN(fixed_lookups); i++) {
		struct sockaddr_storage ss;
		sa_of(fixed_lookups[i].ip, &ss);
		tw_cidr_t m;
		void *v = tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, &m);
		char got[64] = "(none)";
		if (v)
			tw_cidr_format(&m, got, sizeof(got));
		if (!fixed_lookups[i].want) {
			if (v)
				fail_msg("%s: want no match, got %s", fixed_lookups[i].ip, got);
			continue;
		}
		if (strcmp(got, fixed_lookups[i].want) != 0)
			fail_msg("%s: want %s, got %s", fixed_lookups[i].ip, fixed_lookups[i].want,
			         got);
		/* The value is the one inserted with that network. */
		tw_cidr_t w = cidr(fixed_lookups[i].want);
		assert_ptr_equal(v, tw_cidr_trie_get(t, &w));
	}
	tw_cidr_trie_free(t, NULL);
}

static void test_empty_and_bad(void **state)
{
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	struct sockaddr_storage ss;
	sa_of("1.2.3.4", &ss);
	assert_null(tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, NULL));
	assert_int_equal(tw_cidr_trie_count(t), 0);

	tw_cidr_t c = cidr("10.0.0.0/8");
	assert_int_equal(tw_cidr_trie_insert(t, &c, NULL, NULL), TW_EINVAL);
	tw_cidr_t bad = c;
	bad.prefix = 33;
	assert_int_equal(tw_cidr_trie_insert(t, &bad, VAL(1), NULL), TW_EINVAL);
	bad = c;
	bad.family = AF_UNIX;
	assert_int_equal(tw_cidr_trie_insert(t, &bad, VAL(1), NULL), TW_EINVAL);
	bad = cidr("::/0");
	bad.prefix = 129;
	assert_int_equal(tw_cidr_trie_insert(t, &bad, VAL(1), NULL), TW_EINVAL);
	assert_int_equal(tw_cidr_trie_count(t), 0);

	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	insert_ok(t, "0.0.0.0/0", 1);
	assert_null(tw_cidr_trie_lookup(t, (struct sockaddr *)&un, NULL));
	assert_null(tw_cidr_trie_lookup(t, NULL, NULL));
	tw_cidr_trie_free(t, NULL);
	tw_cidr_trie_free(NULL, NULL);
}

static void test_insert_replace_remove(void **state)
{
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	void *old = VAL(99);
	tw_cidr_t c = cidr("203.0.113.0/24");
	assert_int_equal(tw_cidr_trie_insert(t, &c, VAL(1), &old), 0);
	assert_null(old);
	assert_int_equal(tw_cidr_trie_insert(t, &c, VAL(2), &old), 0);
	assert_ptr_equal(old, VAL(1));
	assert_int_equal(tw_cidr_trie_count(t), 1);
	assert_ptr_equal(tw_cidr_trie_get(t, &c), VAL(2));

	/* Host bits are ignored: the key is the network. */
	tw_cidr_t host = c;
	host.addr[3] = 77;
	assert_ptr_equal(tw_cidr_trie_get(t, &host), VAL(2));

	/* A v4-mapped network is the IPv4 one. */
	tw_cidr_t mapped = {.family = AF_INET6, .prefix = 120};
	mapped.addr[10] = mapped.addr[11] = 0xff;
	mapped.addr[12] = 203, mapped.addr[13] = 0, mapped.addr[14] = 113;
	assert_ptr_equal(tw_cidr_trie_get(t, &mapped), VAL(2));

	insert_ok(t, "203.0.0.0/16", 3);
	insert_ok(t, "203.0.113.128/25", 4);
	insert_ok(t, "203.0.113.64/26", 5);
	assert_int_equal(tw_cidr_trie_count(t), 4);

	/* Removing a network in the middle keeps those around it. */
	assert_ptr_equal(tw_cidr_trie_remove(t, &c), VAL(2));
	assert_null(tw_cidr_trie_remove(t, &c));
	assert_null(tw_cidr_trie_get(t, &c));
	assert_int_equal(tw_cidr_trie_count(t), 3);
	struct sockaddr_storage ss;
	tw_cidr_t m;
	char buf[64];
	sa_of("203.0.113.1", &ss);
	assert_ptr_equal(tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, &m), VAL(3));
	tw_cidr_format(&m, buf, sizeof(buf));
	assert_string_equal(buf, "203.0.0.0/16");
	sa_of("203.0.113.200", &ss);
	assert_ptr_equal(tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, NULL), VAL(4));
	sa_of("203.0.113.70", &ss);
	assert_ptr_equal(tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, NULL), VAL(5));

	/* Absent networks: not there, a prefix of one, longer than one. */
	tw_cidr_t absent[] = {cidr("203.0.0.0/15"), cidr("203.0.112.0/23"),
	                      cidr("203.0.113.128/26"), cidr("2001:db8::/32")};
	for (size_t i = 0; i < TW_ARRAY_LEN(absent); i++) {
		assert_null(tw_cidr_trie_remove(t, &absent[i]));
		assert_null(tw_cidr_trie_get(t, &absent[i]));
	}
	assert_int_equal(tw_cidr_trie_count(t), 3);

	tw_cidr_t rest[] = {cidr("203.0.0.0/16"), cidr("203.0.113.128/25"),
	                    cidr("203.0.113.64/26")};
	for (size_t i = 0; i < TW_ARRAY_LEN(rest); i++)
		assert_non_null(tw_cidr_trie_remove(t, &rest[i]));
	assert_int_equal(tw_cidr_trie_count(t), 0);
	assert_null(tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, NULL));
	/* Emptied, it still works. */
	insert_ok(t, "0.0.0.0/0", 7);
	assert_ptr_equal(tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, NULL), VAL(7));
	tw_cidr_trie_free(t, NULL);
}

static int collect(void *arg, const tw_cidr_t *net, void *value)
{
	char *out = arg;
	char buf[64];
	tw_cidr_format(net, buf, sizeof(buf));
	size_t n = strlen(out);
	snprintf(out + n, 1024 - n, "%s%s", n ? " " : "", buf);
	return 0;
}

static int stop_at_3(void *arg, const tw_cidr_t *net, void *value)
{
	int *seen = arg;
	return ++*seen == 3 ? 42 : 0;
}

static void test_walk_order(void **state)
{
	static const char *const in[] = {
	        "2001:db8::/32", "10.1.0.0/16", "::/0",        "192.0.2.0/24",
	        "10.0.0.0/8",    "0.0.0.0/0",   "10.1.2.3/32", "2001:db8::1/128",
	        "fe80::/10",     "9.0.0.0/8",
	};
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	for (size_t i = 0; i < TW_ARRAY_LEN(in); i++)
		insert_ok(t, in[i], i + 1);
	char out[1024] = "";
	assert_int_equal(tw_cidr_trie_walk(t, collect, out), 0);
	assert_string_equal(out, "0.0.0.0/0 9.0.0.0/8 10.0.0.0/8 10.1.0.0/16 10.1.2.3/32 "
	                         "192.0.2.0/24 ::/0 2001:db8::/32 2001:db8::1/128 fe80::/10");
	int seen = 0;
	assert_int_equal(tw_cidr_trie_walk(t, stop_at_3, &seen), 42);
	assert_int_equal(seen, 3);
	tw_cidr_trie_free(t, NULL);
}

static int free_count;
static void count_free(void *v)
{
	free_count++;
	free(v);
}

static void test_free_values(void **state)
{
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	static const char *const in[] = {"10.0.0.0/8", "10.0.0.0/9", "::/0", "2001:db8::/48"};
	for (size_t i = 0; i < TW_ARRAY_LEN(in); i++) {
		tw_cidr_t c = cidr(in[i]);
		assert_int_equal(tw_cidr_trie_insert(t, &c, malloc(8), NULL), 0);
	}
	free_count = 0;
	tw_cidr_trie_free(t, count_free);
	assert_int_equal(free_count, 4);
}

/* ---- format and from_addr ---- */

static const struct {
	const char *ip;
	uint8_t prefix;
	const char *want;
} from_addr_cases[] = {
        {"203.0.113.9", 32, "203.0.113.9/32"},
        {"203.0.113.9", 24, "203.0.113.0/24"},
        {"203.0.113.9", 0, "0.0.0.0/0"},
        {"203.0.113.9", 64, "203.0.113.9/32"}, /* capped */
        {"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
        {"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
        {"2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"},
        {"2001:db8:1:2ff:3:4:5:6", 57, "2001:db8:1:280::/57"},
        {"::ffff:198.51.100.7", 32, "198.51.100.7/32"},
        {"::ffff:198.51.100.7", 24, "198.51.100.0/24"},
};

static void test_from_addr_format(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(from_addr_cases); i++) {
		struct sockaddr_storage ss;
		sa_of(from_addr_cases[i].ip, &ss);
		tw_cidr_t c;
		char buf[64];
		tw_cidr_from_addr((struct sockaddr *)&ss, from_addr_cases[i].prefix, &c);
		tw_cidr_format(&c, buf, sizeof(buf));
		if (strcmp(buf, from_addr_cases[i].want) != 0)
			fail_msg("%s/%u: want %s, got %s", from_addr_cases[i].ip,
			         from_addr_cases[i].prefix, from_addr_cases[i].want, buf);
		/* It is what the parser makes of the same text. */
		tw_cidr_t p = cidr(buf);
		assert_int_equal(p.family, c.family);
		assert_int_equal(p.prefix, c.prefix);
		assert_memory_equal(p.addr, c.addr, sizeof(p.addr));
	}
	/* Host bits set in a hand-made network are not printed. */
	tw_cidr_t c = cidr("10.0.0.0/8");
	c.addr[3] = 5;
	char buf[64];
	tw_cidr_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8");

	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	tw_cidr_from_addr((struct sockaddr *)&un, 8, &c);
	assert_int_equal(c.family, 0);
	assert_int_equal(c.prefix, 0);
}

/* ---- random sets against brute force ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

typedef struct entry {
	tw_cidr_t net;
	uintptr_t val;
	bool present;
} entry_t;

#define N_ENTRIES 600

/* Networks around a few bases so that they nest and share prefixes. */
static void random_net(tw_cidr_t *c, bool v6)
{
	static const uint8_t bases6[3][16] = {
	        {0x20, 0x01, 0x0d, 0xb8},
	        {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0},
	        {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0xff, 0xff},
	};
	memset(c, 0, sizeof(*c));
	if (!v6) {
		c->family = AF_INET;
		uint32_t a = (uint32_t)next_rand();
		a = (a & 0x0003ffffu) | ((uint32_t)(10 + next_rand() % 3) << 24);
		memcpy(c->addr, (uint8_t[]){a >> 24, a >> 16, a >> 8, a}, 4);
		c->prefix = (uint8_t)(next_rand() % 33);
	} else {
		c->family = AF_INET6;
		memcpy(c->addr, bases6[next_rand() % 3], 16);
		for (int i = 6; i < 16; i++)
			if (next_rand() % 3 == 0)
				c->addr[i] = (uint8_t)next_rand();
		c->prefix = (uint8_t)(next_rand() % 129);
	}
	/* Clear host bits the way the parser would. */
	char buf[64];
	tw_cidr_format(c, buf, sizeof(buf));
	*c = cidr(buf);
}

static void random_probe(struct sockaddr_storage *ss, const entry_t *e, size_t n)
{
	memset(ss, 0, sizeof(*ss));
	const tw_cidr_t *base = &e[next_rand() % n].net;
	uint8_t a[16];
	memcpy(a, base->addr, 16);
	/* Flip a few bits, mostly past the prefix, to land inside and beside. */
	unsigned bits = base->family == AF_INET ? 32 : 128;
	for (int k = (int)(next_rand() % 4); k > 0; k--) {
		unsigned b = (unsigned)(next_rand() % bits);
		a[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
	}
	if (base->family == AF_INET) {
		if (next_rand() % 4 == 0) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6->sin6_addr.s6_addr[12], a, 4);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, a, 4);
		}
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
	}
}

static const entry_t *brute(const entry_t *e, size_t n, const struct sockaddr_storage *probe)
{
	struct sockaddr_storage u = *probe;
	tw_addr_unmap_v4(&u);
	const entry_t *best = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].present || e[i].net.family != u.ss_family)
			continue;
		if (tw_cidr_match(&e[i].net, (struct sockaddr *)&u) &&
		    (!best || e[i].net.prefix > best->net.prefix))
			best = &e[i];
	}
	return best;
}

static void check_against_brute(const tw_cidr_trie_t *t, const entry_t *e, size_t n, int probes)
{
	for (int k = 0; k < probes; k++) {
		struct sockaddr_storage ss;
		random_probe(&ss, e, n);
		const entry_t *want = brute(e, n, &ss);
		tw_cidr_t m;
		void *got = tw_cidr_trie_lookup(t, (struct sockaddr *)&ss, &m);
		char ip[64];
		tw_addr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip));
		if (!want) {
			if (got)
				fail_msg("%s: want no match, got %" PRIuPTR, ip, (uintptr_t)got);
			continue;
		}
		if (got != VAL(want->val))
			fail_msg("%s: want %" PRIuPTR ", got %" PRIuPTR, ip, want->val,
			         (uintptr_t)got);
		assert_int_equal(m.family, want->net.family);
		assert_int_equal(m.prefix, want->net.prefix);
		assert_memory_equal(m.addr, want->net.addr, 16);
	}
}

static void test_random_vs_brute(void **state)
{
	for (int round = 0; round < 4; round++) {
		entry_t *e = calloc(N_ENTRIES, sizeof(*e));
		tw_cidr_trie_t *t = tw_cidr_trie_new();
		size_t n = 0, distinct = 0;
		for (int i = 0; i < N_ENTRIES; i++) {
			tw_cidr_t c;
			random_net(&c, next_rand() % 2);
			uintptr_t v = (uintptr_t)i + 1;
			void *old = NULL;
			assert_int_equal(tw_cidr_trie_insert(t, &c, VAL(v), &old), 0);
			/* Brute-force bookkeeping of replacement. */
			size_t j;
			for (j = 0; j < n; j++)
				if (e[j].net.family == c.family && e[j].net.prefix == c.prefix &&
				    memcmp(e[j].net.addr, c.addr, 16) == 0)
					break;
			if (j < n) {
				assert_ptr_equal(old, VAL(e[j].val));
				e[j].val = v;
			} else {
				assert_null(old);
				e[n++] = (entry_t){c, v, true};
				distinct++;
			}
		}
		assert_int_equal(tw_cidr_trie_count(t), distinct);
		check_against_brute(t, e, n, 3000);

		/* Remove a random half, then compare again. */
		for (size_t j = 0; j < n; j++) {
			if (next_rand() % 2)
				continue;
			assert_ptr_equal(tw_cidr_trie_remove(t, &e[j].net), VAL(e[j].val));
			e[j].present = false;
			distinct--;
		}
		assert_int_equal(tw_cidr_trie_count(t), distinct);
		check_against_brute(t, e, n, 3000);
		for (size_t j = 0; j < n; j++)
			assert_ptr_equal(tw_cidr_trie_get(t, &e[j].net),
			                 e[j].present ? VAL(e[j].val) : NULL);

		/* Remove the rest: an empty trie. */
		for (size_t j = 0; j < n; j++)
			if (e[j].present)
				assert_ptr_equal(tw_cidr_trie_remove(t, &e[j].net), VAL(e[j].val));
		assert_int_equal(tw_cidr_trie_count(t), 0);
		int calls = 0;
		assert_int_equal(tw_cidr_trie_walk(t, stop_at_3, &calls), 0);
		assert_int_equal(calls, 0);
		tw_cidr_trie_free(t, NULL);
		free(e);
	}
}

/* ---- lookup_if ---- */

static bool accept_even(void *arg, const void *value)
{
	int *calls = arg;
	(*calls)++;
	return ((uintptr_t)value % 2) == 0;
}

static void test_lookup_if(void **state)
{
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	insert_ok(t, "10.0.0.0/8", 2);
	insert_ok(t, "10.1.0.0/16", 3);
	insert_ok(t, "10.1.2.0/24", 5);
	uint8_t a[4] = {10, 1, 2, 3};
	int calls = 0;
	tw_cidr_t m;
	/* The two longer ones are rejected: the /8 applies. */
	assert_ptr_equal(tw_cidr_trie_lookup_if(t, AF_INET, a, accept_even, &calls, &m), VAL(2));
	assert_int_equal(m.prefix, 8);
	assert_int_equal(calls, 3);
	insert_ok(t, "10.1.2.0/25", 4);
	assert_ptr_equal(tw_cidr_trie_lookup_if(t, AF_INET, a, accept_even, &calls, &m), VAL(4));
	assert_int_equal(m.prefix, 25);
	assert_ptr_equal(tw_cidr_trie_lookup_raw(t, AF_INET, a, NULL), VAL(4));
	tw_cidr_trie_free(t, NULL);
}

/* ---- a ban-list-sized trie ---- */

static void test_20000(void **state)
{
	enum { N = 20000 };
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	for (uint32_t i = 0; i < N; i++) {
		/* Half single IPv4 hosts, half IPv6 /64s, spread like real bans. */
		tw_cidr_t c = {0};
		uint32_t h = (uint32_t)(i * 2654435761u);
		if (i % 2 == 0) {
			c.family = AF_INET;
			c.prefix = 32;
			memcpy(c.addr, (uint8_t[]){h >> 24, h >> 16, h >> 8, h}, 4);
		} else {
			c.family = AF_INET6;
			c.prefix = 64;
			c.addr[0] = 0x20, c.addr[1] = 0x01;
			memcpy(c.addr + 4, (uint8_t[]){h >> 24, h >> 16, h >> 8, h}, 4);
		}
		assert_int_equal(tw_cidr_trie_insert(t, &c, VAL(i + 1), NULL), 0);
	}
	assert_int_equal(tw_cidr_trie_count(t), N);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t h = (uint32_t)(i * 2654435761u);
		uint8_t a[16] = {0};
		int fam;
		if (i % 2 == 0) {
			fam = AF_INET;
			memcpy(a, (uint8_t[]){h >> 24, h >> 16, h >> 8, h}, 4);
		} else {
			fam = AF_INET6;
			a[0] = 0x20, a[1] = 0x01;
			memcpy(a + 4, (uint8_t[]){h >> 24, h >> 16, h >> 8, h}, 4);
			a[15] = (uint8_t)i; /* any host in the /64 */
		}
		assert_ptr_equal(tw_cidr_trie_lookup_raw(t, fam, a, NULL), VAL(i + 1));
	}
	/* An address nobody banned. */
	uint8_t miss[16] = {0x20, 0x02};
	assert_null(tw_cidr_trie_lookup_raw(t, AF_INET6, miss, NULL));
	tw_cidr_trie_free(t, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fixed_lookups),
	        cmocka_unit_test(test_empty_and_bad),
	        cmocka_unit_test(test_insert_replace_remove),
	        cmocka_unit_test(test_walk_order),
	        cmocka_unit_test(test_free_values),
	        cmocka_unit_test(test_from_addr_format),
	        cmocka_unit_test(test_random_vs_brute),
	        cmocka_unit_test(test_lookup_if),
	        cmocka_unit_test(test_20000),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
