#include "util/tw.h"

#include "util/cidr_trie.h"

#include <arpa/inet.h>

/*
 * A path-compressed binary trie per family. Every node stands for one
 * prefix (key, plen); a node either holds a value or is a branch node that
 * exists only because both of its children do. Along any path plen grows
 * strictly, so a path has at most 33 (IPv4) or 129 (IPv6) nodes and a lookup
 * compares each address bit at most once: O(prefix bits), whatever the
 * number of entries.
 *
 * Lookups only read, so any number of threads may look up concurrently in a
 * trie nobody changes.
 */

typedef struct node {
	struct node *child[2];
	void *value; /* NULL: a branch node */
	uint8_t key[16];
	uint8_t plen;
} node_t;

struct tw_cidr_trie {
	node_t *root[2]; /* [0] IPv4, [1] IPv6 */
	size_t count;
};

#define MAX_DEPTH 130 /* nodes on one path: plen 0..128, plus one */

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline unsigned bit_at(const uint8_t *a, unsigned i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* Bits [from, to) of a and b are equal. Bits before `from` are known equal
 * (the parent checked them), so only the bytes from from/8 on are read. */
static inline bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned from, unsigned to)
{
	unsigned first = from >> 3, full = to >> 3, rest = to & 7;
	if (full > first && memcmp(a + first, b + first, full - first) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return ((a[full] ^ b[full]) & mask) == 0;
}

/* The number of leading bits a and b share, at most limit. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned limit)
{
	unsigned n = 0;
	for (unsigned i = 0; n < limit; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x) {
			n += (unsigned)__builtin_clz((unsigned)x) - 24u;
			break;
		}
		n += 8;
	}
	return n < limit ? n : limit;
}

static void mask_key(uint8_t *key, unsigned plen, unsigned nbytes)
{
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned bit0 = i * 8;
		if (bit0 >= plen)
			key[i] = 0;
		else if (plen < bit0 + 8)
			key[i] &= (uint8_t)(0xff << (8 - (plen - bit0)));
	}
}

/* Checks and normalizes a network into (family index, masked key, plen). */
static bool norm_net(const tw_cidr_t *net, int *fam, uint8_t key[16], unsigned *plen)
{
	if (!net)
		return false;
	memset(key, 0, 16);
	if (net->family == AF_INET) {
		if (net->prefix > 32)
			return false;
		memcpy(key, net->addr, 4);
		*fam = 0;
		*plen = net->prefix;
	} else if (net->family == AF_INET6) {
		if (net->prefix > 128)
			return false;
		if (net->prefix >= 96 && memcmp(net->addr, v4mapped_prefix, 12) == 0) {
			memcpy(key, net->addr + 12, 4);
			*fam = 0;
			*plen = net->prefix - 96u;
		} else {
			memcpy(key, net->addr, 16);
			*fam = 1;
			*plen = net->prefix;
		}
	} else {
		return false;
	}
	mask_key(key, *plen, 16);
	return true;
}

static void to_cidr(int fam, const uint8_t *key, unsigned plen, tw_cidr_t *out)
{
	memset(out, 0, sizeof(*out));
	out->family = fam == 0 ? AF_INET : AF_INET6;
	memcpy(out->addr, key, fam == 0 ? 4 : 16);
	out->prefix = (uint8_t)plen;
}

tw_cidr_trie_t *tw_cidr_trie_new(void)
{
	return calloc(1, sizeof(tw_cidr_trie_t));
}

static void free_nodes(node_t *n, void (*free_value)(void *))
{
	/* Recursion depth is bounded by MAX_DEPTH. */
	if (!n)
		return;
	free_nodes(n->child[0], free_value);
	free_nodes(n->child[1], free_value);
	if (n->value && free_value)
		free_value(n->value);
	free(n);
}

void tw_cidr_trie_free(tw_cidr_trie_t *t, void (*free_value)(void *))
{
	if (!t)
		return;
	free_nodes(t->root[0], free_value);
	free_nodes(t->root[1], free_value);
	free(t);
}

static node_t *node_new(const uint8_t *key, unsigned plen, void *value)
{
	node_t *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	memcpy(n->key, key, 16);
	mask_key(n->key, plen, 16);
	n->plen = (uint8_t)plen;
	n->value = value;
	return n;
}

int tw_cidr_trie_insert(tw_cidr_trie_t *t, const tw_cidr_t *net, void *value, void **old)
{
	int fam;
	unsigned plen;
	uint8_t key[16];
	if (old)
		*old = NULL;
	if (!t || !value || !norm_net(net, &fam, key, &plen))
		return TW_EINVAL;

	node_t **pp = &t->root[fam];
	while (*pp) {
		node_t *n = *pp;
		unsigned lim = n->plen < plen ? n->plen : plen;
		unsigned common = common_bits(key, n->key, lim);
		if (common == n->plen) {
			if (n->plen == plen) {
				if (n->value) {
					if (old)
						*old = n->value;
				} else {
					t->count++;
				}
				n->value = value;
				return 0;
			}
			/* n's prefix contains net: go down. */
			pp = &n->child[bit_at(key, n->plen)];
			continue;
		}
		/* net and n diverge (or net contains n) at bit `common`. */
		node_t *leaf = node_new(key, plen, value);
		if (!leaf)
			return TW_ENOMEM;
		if (common == plen) {
			leaf->child[bit_at(n->key, plen)] = n;
			*pp = leaf;
		} else {
			node_t *branch = node_new(key, common, NULL);
			if (!branch) {
				free(leaf);
				return TW_ENOMEM;
			}
			unsigned b = bit_at(key, common);
			branch->child[b] = leaf;
			branch->child[!b] = n;
			*pp = branch;
		}
		t->count++;
		return 0;
	}
	node_t *leaf = node_new(key, plen, value);
	if (!leaf)
		return TW_ENOMEM;
	*pp = leaf;
	t->count++;
	return 0;
}

void *tw_cidr_trie_remove(tw_cidr_trie_t *t, const tw_cidr_t *net)
{
	int fam;
	unsigned plen;
	uint8_t key[16];
	if (!t || !norm_net(net, &fam, key, &plen))
		return NULL;

	/* path[i] is the link that points at the i-th node on the way down. */
	node_t **path[MAX_DEPTH];
	size_t depth = 0;
	node_t **pp = &t->root[fam];
	while (*pp) {
		node_t *n = *pp;
		if (n->plen > plen || !bits_equal(key, n->key, 0, n->plen))
			return NULL;
		path[depth++] = pp;
		if (n->plen == plen)
			break;
		pp = &n->child[bit_at(key, n->plen)];
	}
	if (!*pp || (*pp)->plen != plen || !(*pp)->value)
		return NULL;

	node_t *n = *pp;
	void *value = n->value;
	n->value = NULL;
	t->count--;

	/* Keep the trie compressed: a node without a value needs two children. */
	if (n->child[0] && n->child[1])
		return value;
	node_t *only = n->child[0] ? n->child[0] : n->child[1];
	*pp = only;
	free(n);
	if (only || depth < 2)
		return value;
	/* n was a leaf: its parent may now be a branch node with one child. */
	node_t **ppp = path[depth - 2];
	node_t *parent = *ppp;
	if (!parent->value) {
		*ppp = parent->child[0] ? parent->child[0] : parent->child[1];
		free(parent);
	}
	return value;
}

void *tw_cidr_trie_get(const tw_cidr_trie_t *t, const tw_cidr_t *net)
{
	int fam;
	unsigned plen;
	uint8_t key[16];
	if (!t || !norm_net(net, &fam, key, &plen))
		return NULL;
	const node_t *n = t->root[fam];
	while (n) {
		if (n->plen > plen || !bits_equal(key, n->key, 0, n->plen))
			return NULL;
		if (n->plen == plen)
			return n->value;
		n = n->child[bit_at(key, n->plen)];
	}
	return NULL;
}

/* Resolves (family, addr) to a trie root and the key bytes, unmapping
 * ::ffff:a.b.c.d so that it meets the IPv4 networks. */
static bool lookup_key(const tw_cidr_trie_t *t, int family, const uint8_t *addr, int *fam,
                       const uint8_t **key)
{
	if (!t || !addr)
		return false;
	if (family == AF_INET) {
		*fam = 0;
		*key = addr;
	} else if (family == AF_INET6) {
		if (memcmp(addr, v4mapped_prefix, 12) == 0) {
			*fam = 0;
			*key = addr + 12;
		} else {
			*fam = 1;
			*key = addr;
		}
	} else {
		return false;
	}
	return true;
}

void *tw_cidr_trie_lookup_if(const tw_cidr_trie_t *t, int family, const uint8_t *addr,
                             bool (*accept)(void *arg, const void *value), void *arg,
                             tw_cidr_t *matched)
{
	int fam;
	const uint8_t *key;
	if (!lookup_key(t, family, addr, &fam, &key))
		return NULL;
	/* An IPv4 key is only 4 bytes long; copy it so that masks and bit tests
	 * never read past the caller's buffer. */
	uint8_t k[16] = {0};
	memcpy(k, key, fam == 0 ? 4 : 16);
	unsigned maxbits = fam == 0 ? 32 : 128;

	const node_t *n = t->root[fam], *best = NULL;
	unsigned checked = 0;
	while (n) {
		if (!bits_equal(k, n->key, checked, n->plen))
			break;
		checked = n->plen;
		if (n->value && (!accept || accept(arg, n->value)))
			best = n;
		if (n->plen >= maxbits)
			break;
		n = n->child[bit_at(k, n->plen)];
	}
	if (!best)
		return NULL;
	if (matched)
		to_cidr(fam, best->key, best->plen, matched);
	return best->value;
}

void *tw_cidr_trie_lookup_raw(const tw_cidr_trie_t *t, int family, const uint8_t *addr,
                              tw_cidr_t *matched)
{
	return tw_cidr_trie_lookup_if(t, family, addr, NULL, NULL, matched);
}

void *tw_cidr_trie_lookup(const tw_cidr_trie_t *t, const struct sockaddr *sa, tw_cidr_t *matched)
{
	if (!sa)
		return NULL;
	if (sa->sa_family == AF_INET)
		return tw_cidr_trie_lookup_raw(
		        t, AF_INET, (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr,
		        matched);
	if (sa->sa_family == AF_INET6)
		return tw_cidr_trie_lookup_raw(
		        t, AF_INET6, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, matched);
	return NULL;
}

size_t tw_cidr_trie_count(const tw_cidr_trie_t *t)
{
	return t ? t->count : 0;
}

static int walk_nodes(const node_t *n, int fam,
                      int (*fn)(void *arg, const tw_cidr_t *net, void *value), void *arg)
{
	if (!n)
		return 0;
	if (n->value) {
		tw_cidr_t c;
		to_cidr(fam, n->key, n->plen, &c);
		int r = fn(arg, &c, n->value);
		if (r)
			return r;
	}
	int r = walk_nodes(n->child[0], fam, fn, arg);
	if (r)
		return r;
	return walk_nodes(n->child[1], fam, fn, arg);
}

int tw_cidr_trie_walk(const tw_cidr_trie_t *t,
                      int (*fn)(void *arg, const tw_cidr_t *net, void *value), void *arg)
{
	if (!t || !fn)
		return 0;
	int r = walk_nodes(t->root[0], 0, fn, arg);
	if (r)
		return r;
	return walk_nodes(t->root[1], 1, fn, arg);
}

void tw_cidr_format(const tw_cidr_t *c, char *buf, size_t size)
{
	if (!buf || size == 0)
		return;
	int fam;
	unsigned plen;
	uint8_t key[16];
	char ip[INET6_ADDRSTRLEN];
	if (!norm_net(c, &fam, key, &plen)) {
		snprintf(buf, size, "?");
		return;
	}
	inet_ntop(fam == 0 ? AF_INET : AF_INET6, key, ip, sizeof(ip));
	snprintf(buf, size, "%s/%u", ip, plen);
}

void tw_cidr_from_addr(const struct sockaddr *sa, uint8_t prefix, tw_cidr_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!sa)
		return;
	const uint8_t *a;
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		out->family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, v4mapped_prefix, 12) == 0) {
			a += 12;
			out->family = AF_INET;
		} else {
			out->family = AF_INET6;
		}
	} else {
		return;
	}
	unsigned max = out->family == AF_INET ? 32 : 128;
	unsigned plen = prefix > max ? max : prefix;
	memcpy(out->addr, a, max / 8);
	mask_key(out->addr, plen, 16);
	out->prefix = (uint8_t)plen;
}
