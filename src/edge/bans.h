/*
 * bans.h - the one ban list, as the workers see it, and the automatic
 * triggers that feed it.
 *
 * Every connection is judged once, at accept, by its one client identity
 * (the peer, or a trusted proxy's PROXY source) on every listener, so a
 * client banned for abusing SMTP is banned on IMAP too (seed lesson 3).
 *
 * tw_banset_t is an immutable snapshot: a CIDR trie of bans in force plus
 * the `allow` list (never banned, whatever the trigger). The control
 * thread builds a new snapshot whenever the store changes and publishes it;
 * workers read it without locks (acquire a reference, look up, release).
 *
 * tw_bantrack_t counts what the automatic triggers count, per identity, on
 * the control thread: connections per window, connections closed before the
 * backend's banner, TLS garbage, reports. It returns a ban decision; the
 * caller writes it to the store. Repeat bans double their duration up to a
 * cap. Automatic IPv6 bans cover the /64 (configurable).
 */
#ifndef TW_EDGE_BANS_H
#define TW_EDGE_BANS_H

#include "util/tw.h"

#include <stdatomic.h>

#include "util/addr.h"
#include "util/cidr_trie.h"

typedef struct tw_ban {
	tw_cidr_t net;
	int64_t until; /* unix seconds, 0: never */
	int32_t repeat;
	char source[32];
	char reason[128];
} tw_ban_t;

typedef struct tw_banset tw_banset_t;

/* The default allow list when `allow:` is absent. */
extern const char *const tw_default_allow[];

/* Builds a snapshot (copies bans and allow). Returns NULL on allocation failure.
 * Two bans of the same net: the one that lasts longer is kept. A ban whose
 * net is not a valid network is left out. Expired bans may be included:
 * expiry is judged at check time. */
tw_banset_t *tw_banset_new(const tw_ban_t *bans, size_t n, const tw_cidr_t *allow, size_t n_allow);
tw_banset_t *tw_banset_ref(tw_banset_t *s);
void tw_banset_unref(tw_banset_t *s); /* NULL ok */
/* The ban that applies to sa at `now`, or NULL (allowed addresses are never
 * banned; an expired ban does not apply). The longest prefix whose ban is in
 * force (until == 0 or until > now) wins: an expired /32 does not hide a /24
 * still in force. v4-mapped sa is judged as IPv4. Lock-free, no allocation;
 * the pointer lives as long as the snapshot. NULL s: NULL. */
const tw_ban_t *tw_banset_check(const tw_banset_t *s, const struct sockaddr *sa, int64_t now);
bool tw_banset_allowed(const tw_banset_t *s, const struct sockaddr *sa);
size_t tw_banset_count(const tw_banset_t *s);

typedef enum tw_ban_event {
	TW_BAN_EV_CONNECT,     /* a connection accepted */
	TW_BAN_EV_EARLY_CLOSE, /* client closed before the backend's first byte */
	TW_BAN_EV_TLS_GARBAGE, /* not a ClientHello on a tls listener */
	TW_BAN_EV_REPORT,      /* the mail server reported it (admin API, log_ban) */
} tw_ban_event_t;

typedef struct tw_ban_rule {
	bool enabled;
	uint32_t count;	    /* events ... */
	uint64_t window_ms; /* ... within this window trigger a ban */
} tw_ban_rule_t;

typedef struct tw_ban_policy {
	tw_ban_rule_t rules[4]; /* indexed by tw_ban_event_t; all off by default */
	uint64_t ban_ms;	/* first ban; default 10m */
	uint64_t max_ban_ms;	/* cap of the doubling; default 7d */
	uint8_t v6_prefix;	/* automatic IPv6 bans cover this prefix; default 64 */
	uint8_t v4_prefix;	/* default 32 */
} tw_ban_policy_t;

void tw_ban_policy_defaults(tw_ban_policy_t *p);

typedef struct tw_bantrack tw_bantrack_t;

/* p NULL: tw_ban_policy_defaults() (every rule off). NULL when out of memory. */
tw_bantrack_t *tw_bantrack_new(const tw_ban_policy_t *p);
void tw_bantrack_free(tw_bantrack_t *t); /* NULL ok */
void tw_bantrack_set_policy(tw_bantrack_t *t, const tw_ban_policy_t *p);
/*
 * Counting is a leaky bucket per rule and identity (two integers, no log of
 * timestamps): a rule trips when more than `count` events arrive faster
 * than `count` per `window_ms`, so a burst trips at event count+1 and a
 * steady count per window never does. It never trips where the literal
 * rule ("more than count within one window") would not. A rule with
 * window_ms 0 is off. Changing a rule with set_policy restarts its counts;
 * changing a prefix forgets every identity.
 *
 * Counts one event for identity sa at now_ms (monotonic). Returns true when
 * a rule trips: *out is filled with the net to ban (sa's /v4_prefix or
 * /v6_prefix), `until` computed from `prev_repeat` (the store's repeat count
 * for that net, 0 if never banned: ban_ms << prev_repeat, capped) and
 * now_unix (rounded up to whole seconds), repeat = prev_repeat + 1, source
 * ("rate", "early_close", "tls_garbage", "report", as the store names them)
 * and reason set ("rate: 31 connections in 1m" for count 30: the events
 * that tripped it). Allowed addresses never trip and are not tracked (pass
 * `allow`; NULL allows nobody). The tracker forgets an identity's counts
 * once it trips. Memory is bounded: at most `max_idents` identities
 * (TW_BANTRACK_MAX_IDENTS unless set_limit says otherwise) are tracked; a
 * new one evicts the one counted least recently. Lookups are O(prefix
 * bits), so a flood of distinct clients costs no more per event.
 */
bool tw_bantrack_event(tw_bantrack_t *t, const tw_banset_t *allow, tw_ban_event_t ev,
		       const struct sockaddr *sa, uint64_t now_ms, int64_t now_unix,
		       int32_t prev_repeat, tw_ban_t *out);
/* The net an event for sa would ban (for looking up prev_repeat first). */
void tw_bantrack_net(const tw_bantrack_t *t, const struct sockaddr *sa, tw_cidr_t *out);
size_t tw_bantrack_size(const tw_bantrack_t *t);
/* The default bound on tracked identities. */
#define TW_BANTRACK_MAX_IDENTS 65536
/* Changes the bound (0: the default), evicting the oldest down to it. */
void tw_bantrack_set_limit(tw_bantrack_t *t, size_t max_idents);

/* Duration of the n-th ban (n >= 1) under p: ban_ms << (n-1), capped. */
uint64_t tw_ban_duration_ms(const tw_ban_policy_t *p, int32_t n);

#endif
