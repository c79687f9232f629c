/*
 * cidr_trie.h - longest-prefix lookup of IPv4 and IPv6 networks.
 *
 * A binary (path-compressed where it pays) trie per family, built on the
 * control thread and then read concurrently by workers without locks as
 * long as nobody writes it: the ban list publishes a new trie instead of
 * changing a published one. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 * are looked up as IPv4. Values are opaque pointers owned by the caller.
 *
 * Insert, remove, get and lookup cost O(prefix bits) whatever the number of
 * entries (at most 33 or 129 nodes on a path); memory is under two 48-byte
 * nodes per entry.
 */
#ifndef TW_UTIL_CIDR_TRIE_H
#define TW_UTIL_CIDR_TRIE_H

#include "util/addr.h"
#include "util/tw.h"

typedef struct tw_cidr_trie tw_cidr_trie_t;

tw_cidr_trie_t *tw_cidr_trie_new(void);
/* Frees the trie; calls free_value (may be NULL) on every value. NULL ok. */
void tw_cidr_trie_free(tw_cidr_trie_t *t, void (*free_value)(void *));

/* Inserts net -> value. An existing identical prefix gets the new value and
 * *old (may be NULL) the previous one (*old is set to NULL otherwise).
 * Returns 0 or TW_ENOMEM/TW_EINVAL (family not AF_INET/AF_INET6, prefix too
 * long, value NULL: NULL is lookup's "no match"). Host bits of net are
 * ignored (the key is the network), and a v4-mapped IPv6 network of /96 or
 * longer is stored as the IPv4 network, as tw_cidr_parse() returns it; the
 * same holds for remove and get. */
int tw_cidr_trie_insert(tw_cidr_trie_t *t, const tw_cidr_t *net, void *value, void **old);
/* Removes exactly net; returns its value or NULL when absent. */
void *tw_cidr_trie_remove(tw_cidr_trie_t *t, const tw_cidr_t *net);
/* Exactly net, or NULL. */
void *tw_cidr_trie_get(const tw_cidr_trie_t *t, const tw_cidr_t *net);
/* The value of the longest prefix containing sa (AF_INET/AF_INET6), or
 * NULL; *matched (may be NULL) gets that prefix. No allocation. */
void *tw_cidr_trie_lookup(const tw_cidr_trie_t *t, const struct sockaddr *sa, tw_cidr_t *matched);
/* Same for a raw address (4 or 16 bytes). */
void *tw_cidr_trie_lookup_raw(const tw_cidr_trie_t *t, int family, const uint8_t *addr,
			      tw_cidr_t *matched);
/* Like lookup_raw, but only prefixes whose value accept(arg, value)
 * approves count: the longest approved one wins, so a longer prefix that is
 * rejected (an expired ban) does not hide a shorter approved one. accept is
 * called at most once per prefix on the path, shortest first. */
void *tw_cidr_trie_lookup_if(const tw_cidr_trie_t *t, int family, const uint8_t *addr,
			     bool (*accept)(void *arg, const void *value), void *arg,
			     tw_cidr_t *matched);
size_t tw_cidr_trie_count(const tw_cidr_trie_t *t);
/* Calls fn for every entry, in address order (IPv4 first; a network before
 * the longer networks inside it). Stops when fn returns non-zero and returns
 * that. fn must not change the trie. */
int tw_cidr_trie_walk(const tw_cidr_trie_t *t, int (*fn)(void *arg, const tw_cidr_t *net, void *value),
		      void *arg);

/* "203.0.113.0/24" / "2001:db8::/64", host bits cleared. */
void tw_cidr_format(const tw_cidr_t *c, char *buf, size_t size);
/* The network of prefix len containing sa (for "ban the /64"). A v4-mapped
 * sa is taken as IPv4; prefix is capped at the family's length. Another
 * family gives family 0 (AF_UNSPEC), prefix 0. */
void tw_cidr_from_addr(const struct sockaddr *sa, uint8_t prefix, tw_cidr_t *out);

#endif
