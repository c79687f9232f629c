#include "util/tw.h"

#include "util/addr.h"
#include "util/cidr_trie.h"

#include <arpa/inet.h>

/*
 * Input: lines of text. "NET" inserts (tw_cidr_parse syntax), "-NET"
 * removes, "?ADDR" looks an address up. Every lookup, and probes derived
 * from every network, are checked against a brute-force longest-prefix
 * search over what was inserted; the walk must list exactly the entries in
 * (family, address, length) order. At the end everything is removed and
 * the trie must be empty.
 */

#define MAX_ENTRIES 256

typedef struct entry {
	tw_cidr_t net;
	uintptr_t val;
	bool present;
} entry_t;

static entry_t ents[MAX_ENTRIES];
static size_t n_ents;

static bool same_net(const tw_cidr_t *a, const tw_cidr_t *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

static const entry_t *brute(const struct sockaddr_storage *probe)
{
	struct sockaddr_storage u = *probe;
	tw_addr_unmap_v4(&u);
	const entry_t *best = NULL;
	for (size_t i = 0; i < n_ents; i++) {
		if (!ents[i].present || ents[i].net.family != u.ss_family)
			continue;
		if (tw_cidr_match(&ents[i].net, (struct sockaddr *)&u) &&
		    (!best || ents[i].net.prefix > best->net.prefix))
			best = &ents[i];
	}
	return best;
}

static void check_probe(const tw_cidr_trie_t *t, const struct sockaddr_storage *ss)
{
	const entry_t *want = brute(ss);
	tw_cidr_t m;
	void *got = tw_cidr_trie_lookup(t, (const struct sockaddr *)ss, &m);
	if (!want) {
		TW_BUG_ON(got != NULL);
		return;
	}
	TW_BUG_ON(got != (void *)want->val);
	TW_BUG_ON(!same_net(&m, &want->net));
}

static void probe_addr(struct sockaddr_storage *ss, int family, const uint8_t *a)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
	}
}

/* The network's base, its last address, the addresses just outside, and
 * the IPv4 ones also as ::ffff:a.b.c.d. */
static void check_around(const tw_cidr_trie_t *t, const tw_cidr_t *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;
	uint8_t a[16];
	struct sockaddr_storage ss;
	for (int k = 0; k < 4; k++) {
		memcpy(a, c->addr, 16);
		if (k >= 1) /* last address: host bits set */
			for (unsigned b = c->prefix; b < bytes * 8; b++)
				a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		if (k >= 2 && c->prefix > 0) { /* flip the last network bit */
			unsigned b = c->prefix - 1u;
			a[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		}
		if (k == 3 && c->prefix < bytes * 8) /* a middle host */
			a[bytes - 1] ^= 0x5a;
		probe_addr(&ss, c->family, a);
		check_probe(t, &ss);
		if (c->family == AF_INET) {
			uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			memcpy(m + 12, a, 4);
			probe_addr(&ss, AF_INET6, m);
			check_probe(t, &ss);
		}
	}
}

typedef struct walk_state {
	const tw_cidr_t *prev;
	tw_cidr_t prev_copy;
	size_t seen;
} walk_state_t;

static int cmp_net(const tw_cidr_t *a, const tw_cidr_t *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	int r = memcmp(a->addr, b->addr, 16);
	if (r)
		return r;
	return (int)a->prefix - (int)b->prefix;
}

static int walk_fn(void *arg, const tw_cidr_t *net, void *value)
{
	walk_state_t *w = arg;
	if (w->prev)
		TW_BUG_ON(cmp_net(w->prev, net) >= 0);
	w->prev_copy = *net;
	w->prev = &w->prev_copy;
	w->seen++;
	size_t i = (uintptr_t)value - 1;
	TW_BUG_ON(i >= n_ents || !ents[i].present || !same_net(&ents[i].net, net));
	return 0;
}

static void check_walk(const tw_cidr_trie_t *t)
{
	walk_state_t w = {0};
	TW_BUG_ON(tw_cidr_trie_walk(t, walk_fn, &w) != 0);
	TW_BUG_ON(w.seen != tw_cidr_trie_count(t));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_cidr_trie_t *t = tw_cidr_trie_new();
	if (!t)
		return 0;
	n_ents = 0;
	size_t present = 0;
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char line[128], err[384];
		if (len > 0 && len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			char op = line[0];
			const char *text = (op == '-' || op == '?') ? line + 1 : line;
			tw_cidr_t c;
			if (tw_cidr_parse(text, &c, err, sizeof(err)) == 0) {
				size_t i;
				for (i = 0; i < n_ents; i++)
					if (same_net(&ents[i].net, &c))
						break;
				if (op == '-') {
					void *v = tw_cidr_trie_remove(t, &c);
					bool was = i < n_ents && ents[i].present;
					TW_BUG_ON(was ? v != (void *)ents[i].val : v != NULL);
					if (was) {
						ents[i].present = false;
						present--;
					}
				} else if (op == '?') {
					struct sockaddr_storage ss;
					probe_addr(&ss, c.family, c.addr);
					check_probe(t, &ss);
				} else if (i < n_ents || n_ents < MAX_ENTRIES) {
					uintptr_t v = i < n_ents ? ents[i].val : i + 1;
					void *old = NULL;
					TW_BUG_ON(tw_cidr_trie_insert(t, &c, (void *)v, &old) != 0);
					if (i < n_ents && ents[i].present) {
						TW_BUG_ON(old != (void *)v);
					} else {
						TW_BUG_ON(old != NULL);
						present++;
					}
					if (i == n_ents)
						ents[n_ents++] = (entry_t){c, v, true};
					ents[i].present = true;
				}
				TW_BUG_ON(tw_cidr_trie_count(t) != present);
			} else {
				TW_BUG_ON(err[0] == '\0');
			}
		}
		p = nl ? nl + 1 : end;
	}

	for (size_t i = 0; i < n_ents; i++) {
		check_around(t, &ents[i].net);
		TW_BUG_ON(tw_cidr_trie_get(t, &ents[i].net) !=
		          (ents[i].present ? (void *)ents[i].val : NULL));
		char buf[64], err[384];
		tw_cidr_t back;
		tw_cidr_format(&ents[i].net, buf, sizeof(buf));
		TW_BUG_ON(tw_cidr_parse(buf, &back, err, sizeof(err)) != 0);
		TW_BUG_ON(!same_net(&back, &ents[i].net));
	}
	check_walk(t);

	/* Remove everything: an empty trie that answers nothing. */
	for (size_t i = 0; i < n_ents; i++) {
		void *v = tw_cidr_trie_remove(t, &ents[i].net);
		TW_BUG_ON(v != (ents[i].present ? (void *)ents[i].val : NULL));
		ents[i].present = false;
	}
	TW_BUG_ON(tw_cidr_trie_count(t) != 0);
	for (size_t i = 0; i < n_ents; i++)
		check_around(t, &ents[i].net);
	check_walk(t);
	tw_cidr_trie_free(t, NULL);
	return 0;
}
