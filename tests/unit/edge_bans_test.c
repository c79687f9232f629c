#include "util/tw.h"

#include "edge/bans.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define NOW ((int64_t)1700000000) /* unix seconds used as "now" */

static struct sockaddr_storage sa_store[8];
static size_t sa_next;

/* A sockaddr for ip; valid until 8 more calls. */
static const struct sockaddr *sa(const char *ip)
{
	struct sockaddr_storage *ss = &sa_store[sa_next++ % TW_ARRAY_LEN(sa_store)];
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
	} else {
		fail_msg("bad test address %s", ip);
	}
	return (const struct sockaddr *)ss;
}

static tw_cidr_t cidr(const char *s)
{
	tw_cidr_t c;
	char err[256];
	if (tw_cidr_parse(s, &c, err, sizeof(err)) != 0)
		fail_msg("bad test network %s: %s", s, err);
	return c;
}

static tw_ban_t ban(const char *net, int64_t until, const char *reason)
{
	tw_ban_t b;
	memset(&b, 0, sizeof(b));
	b.net = cidr(net);
	b.until = until;
	b.repeat = 1;
	tw_strlcpy(b.source, "manual", sizeof(b.source));
	tw_strlcpy(b.reason, reason, sizeof(b.reason));
	return b;
}

static tw_banset_t *default_allow_set(const tw_ban_t *bans, size_t n)
{
	tw_cidr_t allow[8];
	size_t na = 0;
	for (; tw_default_allow[na]; na++)
		allow[na] = cidr(tw_default_allow[na]);
	return tw_banset_new(bans, n, allow, na);
}

/* ---- the snapshot ---- */

static const struct {
	const char *ip;
	int64_t now;
	const char *want; /* reason of the ban that applies, or NULL */
} check_cases[] = {
        /* allow wins over any ban */
        {"127.0.0.1", NOW, NULL},
        {"::1", NOW, NULL},
        {"100.64.0.1", NOW, NULL},
        {"100.127.255.254", NOW, NULL},
        {"fd7a:115c:a1e0:1::5", NOW, NULL},
        {"::ffff:127.0.0.1", NOW, NULL}, /* v4-mapped loopback */
        /* longest prefix */
        {"203.0.113.9", NOW, "host"},
        {"203.0.113.10", NOW, "net24"},
        {"203.0.112.1", NOW, "net16"},
        {"::ffff:203.0.113.9", NOW, "host"}, /* v4-mapped is IPv4 */
        {"198.51.100.1", NOW, NULL},
        /* expiry: until > now is in force, until == now is over */
        {"192.0.2.1", NOW - 1, "soon"},
        {"192.0.2.1", NOW, NULL},
        {"192.0.2.1", NOW + 1, NULL},
        /* an expired longer ban leaves the shorter one in force */
        {"198.18.5.5", NOW, "forever18"},
        {"198.18.5.6", NOW, "forever18"},
        {"198.18.6.1", NOW, "forever18"},
        {"198.18.0.1", NOW + 1000000, "forever18"},
        {"198.18.5.5", NOW - 5000, "expired32"},
        /* IPv6 */
        {"2001:db8:1:2::1", NOW, "v6net64"},
        {"2001:db8:1:2:ffff::1", NOW, "v6net64"},
        {"2001:db8:1:3::1", NOW, NULL},
        {"2001:db8:bad::1", NOW, "v6forever"},
        {"2001:db8:bad::1", NOW + 100000000, "v6forever"},
        /* a ban inside an allowed network does not apply */
        {"100.64.1.1", NOW, NULL},
};

static tw_banset_t *check_set(void)
{
	tw_ban_t bans[] = {
	        ban("203.0.113.9/32", NOW + 600, "host"),
	        ban("203.0.113.0/24", NOW + 600, "net24"),
	        ban("203.0.0.0/16", NOW + 600, "net16"),
	        ban("192.0.2.0/24", NOW, "soon"),
	        ban("198.18.0.0/16", 0, "forever18"),
	        ban("198.18.5.0/24", NOW - 10, "expired24"),
	        ban("198.18.5.5/32", NOW - 1, "expired32"),
	        ban("2001:db8:1:2::/64", NOW + 600, "v6net64"),
	        ban("2001:db8:bad::/48", 0, "v6forever"),
	        ban("100.64.1.0/24", 0, "allowed anyway"),
	        ban("127.0.0.1/32", 0, "loopback"),
	};
	tw_banset_t *s = default_allow_set(bans, TW_ARRAY_LEN(bans));
	assert_non_null(s);
	assert_int_equal(tw_banset_count(s), TW_ARRAY_LEN(bans));
	return s;
}

static void test_check(void **state)
{
	tw_banset_t *s = check_set();
	for (size_t i = 0; i < TW_ARRAY_LEN(check_cases); i++) {
		const tw_ban_t *b = tw_banset_check(s, sa(check_cases[i].ip), check_cases[i].now);
		const char *got = b ? b->reason : NULL;
		const char *want = check_cases[i].want;
		if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
			fail_msg("%s at now%+" PRId64 ": want %s, got %s", check_cases[i].ip,
			         check_cases[i].now - NOW, want ? want : "(none)",
			         got ? got : "(none)");
	}
	tw_banset_unref(s);
}

static void test_allowed(void **state)
{
	static const struct {
		const char *ip;
		bool allowed;
	} cases[] = {
	        {"127.0.0.1", true},
	        {"127.255.255.255", true},
	        {"128.0.0.1", false},
	        {"::1", true},
	        {"::2", false},
	        {"100.64.0.0", true},
	        {"100.63.255.255", false},
	        {"100.128.0.0", false},
	        {"fd7a:115c:a1e0::1", true},
	        {"fd7a:115c:a1e1::1", false},
	        {"::ffff:100.100.1.1", true},
	        {"8.8.8.8", false},
	};
	tw_banset_t *s = default_allow_set(NULL, 0);
	assert_non_null(s);
	assert_int_equal(tw_banset_count(s), 0);
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++)
		if (tw_banset_allowed(s, sa(cases[i].ip)) != cases[i].allowed)
			fail_msg("%s: want allowed=%d", cases[i].ip, cases[i].allowed);
	tw_banset_unref(s);

	/* An empty allow list allows nobody, not even loopback. */
	tw_ban_t b = ban("127.0.0.0/8", 0, "lo");
	s = tw_banset_new(&b, 1, NULL, 0);
	assert_false(tw_banset_allowed(s, sa("127.0.0.1")));
	assert_non_null(tw_banset_check(s, sa("127.0.0.1"), NOW));
	tw_banset_unref(s);

	/* A NULL snapshot judges nobody. */
	assert_null(tw_banset_check(NULL, sa("1.2.3.4"), NOW));
	assert_false(tw_banset_allowed(NULL, sa("127.0.0.1")));
	tw_banset_unref(NULL);
}

static void test_copy_and_duplicates(void **state)
{
	tw_ban_t bans[] = {
	        ban("203.0.113.7/32", NOW + 100, "short"),
	        ban("203.0.113.7/32", NOW + 900, "long"),
	        ban("203.0.113.7/32", NOW + 500, "middle"),
	        ban("198.51.100.0/24", 0, "never ends"),
	        ban("198.51.100.0/24", NOW + 50, "ends"),
	};
	tw_banset_t *s = tw_banset_new(bans, TW_ARRAY_LEN(bans), NULL, 0);
	/* The snapshot is a copy: the caller's array may change. */
	memset(bans, 0, sizeof(bans));
	assert_int_equal(tw_banset_count(s), 2);
	const tw_ban_t *b = tw_banset_check(s, sa("203.0.113.7"), NOW);
	assert_non_null(b);
	assert_string_equal(b->reason, "long");
	assert_string_equal(b->source, "manual");
	assert_int_equal(b->until, NOW + 900);
	b = tw_banset_check(s, sa("198.51.100.99"), NOW + 1000);
	assert_non_null(b);
	assert_string_equal(b->reason, "never ends");
	tw_banset_unref(s);
}

static void test_refcount(void **state)
{
	tw_ban_t b = ban("203.0.113.0/24", 0, "x");
	tw_banset_t *s = tw_banset_new(&b, 1, NULL, 0);
	/* Two holders: the first release must not free it (ASan would see
	 * the use after free below). */
	assert_ptr_equal(tw_banset_ref(s), s);
	tw_banset_unref(s);
	assert_non_null(tw_banset_check(s, sa("203.0.113.1"), NOW));
	tw_banset_unref(s);
	assert_null(tw_banset_ref(NULL));
}

/* ---- durations ---- */

static void test_policy_defaults(void **state)
{
	tw_ban_policy_t p;
	memset(&p, 0xa5, sizeof(p));
	tw_ban_policy_defaults(&p);
	for (size_t i = 0; i < TW_ARRAY_LEN(p.rules); i++)
		assert_false(p.rules[i].enabled);
	assert_int_equal(p.ban_ms, 600000);
	assert_int_equal(p.max_ban_ms, 7 * 86400000ULL);
	assert_int_equal(p.v4_prefix, 32);
	assert_int_equal(p.v6_prefix, 64);
}

static void test_duration(void **state)
{
	tw_ban_policy_t p;
	tw_ban_policy_defaults(&p);
	p.max_ban_ms = 40 * 60000;
	static const struct {
		int32_t n;
		uint64_t want_ms;
	} cases[] = {
	        {1, 10 * 60000},   {2, 20 * 60000},         {3, 40 * 60000}, {4, 40 * 60000},
	        {100, 40 * 60000}, {INT32_MAX, 40 * 60000}, {0, 10 * 60000}, {-3, 10 * 60000},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++)
		if (tw_ban_duration_ms(&p, cases[i].n) != cases[i].want_ms)
			fail_msg("n=%d: want %" PRIu64 ", got %" PRIu64, cases[i].n,
			         cases[i].want_ms, tw_ban_duration_ms(&p, cases[i].n));
	/* The default cap is 7 days. */
	tw_ban_policy_defaults(&p);
	assert_int_equal(tw_ban_duration_ms(&p, 10), 10 * 60000ULL << 9);
	assert_int_equal(tw_ban_duration_ms(&p, 11), 7 * 86400000ULL);
}

/* ---- the tracker ---- */

static tw_ban_policy_t policy(tw_ban_event_t ev, uint32_t count, uint64_t window_ms)
{
	tw_ban_policy_t p;
	tw_ban_policy_defaults(&p);
	p.rules[ev] = (tw_ban_rule_t){true, count, window_ms};
	return p;
}

/* Sends n events at now_ms; returns the index (1-based) of the one that
 * tripped, or 0. */
static uint32_t events(tw_bantrack_t *t, const tw_banset_t *allow, tw_ban_event_t ev,
                       const char *ip, uint32_t n, uint64_t now_ms, tw_ban_t *out)
{
	for (uint32_t i = 1; i <= n; i++)
		if (tw_bantrack_event(t, allow, ev, sa(ip), now_ms, NOW, 0, out))
			return i;
	return 0;
}

static void test_rate_trips_at_count_plus_one(void **state)
{
	static const struct {
		uint32_t count;
		uint64_t window_ms;
		const char *reason;
	} cases[] = {
	        {30, 60000, "rate: 31 connections in 1m"},
	        {1, 1000, "rate: 2 connections in 1s"},
	        {0, 1000, "rate: 1 connections in 1s"},
	        {500, 90000, "rate: 501 connections in 1m30s"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, cases[i].count, cases[i].window_ms);
		tw_bantrack_t *t = tw_bantrack_new(&p);
		tw_ban_t b;
		/* All at once: the (count+1)-th trips, not one before. */
		assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "203.0.113.9",
		                        cases[i].count + 5, 1000, &b),
		                 cases[i].count + 1);
		assert_string_equal(b.reason, cases[i].reason);
		assert_string_equal(b.source, "rate");
		char net[64];
		tw_cidr_format(&b.net, net, sizeof(net));
		assert_string_equal(net, "203.0.113.9/32");
		assert_int_equal(b.until, NOW + 600);
		assert_int_equal(b.repeat, 1);
		/* Tripping forgets the identity. */
		assert_int_equal(tw_bantrack_size(t), 0);
		tw_bantrack_free(t);
	}
}

static void test_rate_window(void **state)
{
	tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, 30, 60000);
	tw_bantrack_t *t = tw_bantrack_new(&p);
	tw_ban_t b;
	uint64_t t0 = 5000000;
	/* count per window, evenly spread, never trips. */
	for (int w = 0; w < 5; w++)
		for (int i = 0; i < 30; i++)
			assert_false(tw_bantrack_event(t, NULL, TW_BAN_EV_CONNECT, sa("192.0.2.1"),
			                               t0 + (uint64_t)(w * 30 + i) * 2000, NOW, 0,
			                               &b));
	assert_int_equal(tw_bantrack_size(t), 1);

	/* A full burst, then a full window later another: the old one is gone. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.2", 30, t0, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.2", 30, t0 + 60000, &b), 0);
	/* ... but the window is full again now. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.2", 1, t0 + 60000, &b), 1);

	/* Half a window later, half the burst has drained. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.3", 30, t0, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.3", 20, t0 + 30000, &b), 16);
	tw_bantrack_free(t);
}

static void test_rules_are_separate(void **state)
{
	tw_ban_policy_t p = policy(TW_BAN_EV_EARLY_CLOSE, 3, 10000);
	p.rules[TW_BAN_EV_CONNECT] = (tw_ban_rule_t){true, 100, 10000};
	p.rules[TW_BAN_EV_TLS_GARBAGE] = (tw_ban_rule_t){true, 2, 10000};
	p.rules[TW_BAN_EV_REPORT] = (tw_ban_rule_t){true, 5, 600000};
	tw_bantrack_t *t = tw_bantrack_new(&p);
	tw_ban_t b;
	/* Connections do not count as early closes. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "198.51.100.1", 50, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_EARLY_CLOSE, "198.51.100.1", 10, 1000, &b), 4);
	assert_string_equal(b.source, "early_close");
	assert_string_equal(b.reason,
	                    "early_close: 4 connections closed before the backend's banner in 10s");
	assert_int_equal(events(t, NULL, TW_BAN_EV_TLS_GARBAGE, "198.51.100.2", 10, 1000, &b), 3);
	assert_string_equal(b.source, "tls_garbage");
	assert_string_equal(b.reason,
	                    "tls_garbage: 3 connections without a TLS ClientHello in 10s");
	assert_int_equal(events(t, NULL, TW_BAN_EV_REPORT, "198.51.100.3", 10, 1000, &b), 6);
	assert_string_equal(b.source, "report");
	assert_string_equal(b.reason, "report: 6 reports from the mail server in 10m");
	tw_bantrack_free(t);

	/* A disabled rule counts nothing and tracks nobody. */
	p = policy(TW_BAN_EV_CONNECT, 1, 1000);
	t = tw_bantrack_new(&p);
	assert_int_equal(events(t, NULL, TW_BAN_EV_EARLY_CLOSE, "198.51.100.4", 100, 1000, &b), 0);
	assert_int_equal(tw_bantrack_size(t), 0);
	assert_false(
	        tw_bantrack_event(t, NULL, (tw_ban_event_t)7, sa("198.51.100.4"), 1, NOW, 0, &b));
	tw_bantrack_free(t);

	/* No policy: defaults, all rules off. */
	t = tw_bantrack_new(NULL);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "198.51.100.4", 1000, 1000, &b), 0);
	tw_bantrack_free(t);
}

static void test_doubling(void **state)
{
	tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, 2, 60000);
	p.ban_ms = 10 * 60000;
	p.max_ban_ms = 40 * 60000;
	tw_bantrack_t *t = tw_bantrack_new(&p);
	static const struct {
		int32_t prev_repeat;
		int64_t want_secs;
		int32_t want_repeat;
	} cases[] = {{0, 600, 1}, {1, 1200, 2}, {2, 2400, 3}, {3, 2400, 4}, {30, 2400, 31}};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_ban_t b;
		bool tripped = false;
		for (int k = 0; k < 3; k++)
			tripped = tw_bantrack_event(t, NULL, TW_BAN_EV_CONNECT, sa("203.0.113.50"),
			                            1000, NOW, cases[i].prev_repeat, &b);
		assert_true(tripped);
		assert_int_equal(b.until - NOW, cases[i].want_secs);
		assert_int_equal(b.repeat, cases[i].want_repeat);
	}
	tw_bantrack_free(t);
}

static void test_v6_aggregation(void **state)
{
	tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, 3, 60000);
	tw_bantrack_t *t = tw_bantrack_new(&p);
	tw_ban_t b;
	/* Two hosts in one /64 share a count. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "2001:db8:1:2::1", 2, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "2001:db8:1:3::1", 3, 1000, &b), 0);
	assert_int_equal(tw_bantrack_size(t), 2);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "2001:db8:1:2:aaaa::9", 2, 1000, &b),
	                 2);
	char net[64];
	tw_cidr_format(&b.net, net, sizeof(net));
	assert_string_equal(net, "2001:db8:1:2::/64");

	/* v4-mapped and plain IPv4 are one client. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "::ffff:192.0.2.7", 3, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.7", 1, 1000, &b), 1);
	tw_cidr_format(&b.net, net, sizeof(net));
	assert_string_equal(net, "192.0.2.7/32");

	/* tw_bantrack_net follows the policy's prefixes. */
	tw_cidr_t c;
	tw_bantrack_net(t, sa("2001:db8:1:2:3:4:5:6"), &c);
	tw_cidr_format(&c, net, sizeof(net));
	assert_string_equal(net, "2001:db8:1:2::/64");
	p.v6_prefix = 48;
	p.v4_prefix = 24;
	tw_bantrack_set_policy(t, &p);
	assert_int_equal(tw_bantrack_size(t), 0); /* identities changed shape */
	tw_bantrack_net(t, sa("2001:db8:1:2:3:4:5:6"), &c);
	tw_cidr_format(&c, net, sizeof(net));
	assert_string_equal(net, "2001:db8:1::/48");
	tw_bantrack_net(t, sa("::ffff:192.0.2.7"), &c);
	tw_cidr_format(&c, net, sizeof(net));
	assert_string_equal(net, "192.0.2.0/24");
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.1", 2, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "192.0.2.200", 2, 1000, &b), 2);
	tw_cidr_format(&b.net, net, sizeof(net));
	assert_string_equal(net, "192.0.2.0/24");
	tw_bantrack_free(t);
}

static void test_allowed_never_trips(void **state)
{
	tw_banset_t *allow = default_allow_set(NULL, 0);
	tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, 1, 60000);
	p.rules[TW_BAN_EV_REPORT] = (tw_ban_rule_t){true, 0, 60000};
	tw_bantrack_t *t = tw_bantrack_new(&p);
	tw_ban_t b;
	static const char *const ips[] = {"100.100.1.1", "127.0.0.1", "::1", "fd7a:115c:a1e0::9",
	                                  "::ffff:100.64.0.1"};
	for (size_t i = 0; i < TW_ARRAY_LEN(ips); i++) {
		assert_int_equal(events(t, allow, TW_BAN_EV_CONNECT, ips[i], 1000, 1000, &b), 0);
		assert_int_equal(events(t, allow, TW_BAN_EV_REPORT, ips[i], 1000, 1000, &b), 0);
	}
	assert_int_equal(tw_bantrack_size(t), 0);
	/* The same tracker still bans others. */
	assert_int_equal(events(t, allow, TW_BAN_EV_CONNECT, "100.128.0.1", 5, 1000, &b), 2);
	tw_bantrack_free(t);
	tw_banset_unref(allow);
}

static void test_eviction(void **state)
{
	tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, 5, 60000);
	tw_bantrack_t *t = tw_bantrack_new(&p);
	tw_ban_t b;
	tw_bantrack_set_limit(t, 3);
	/* A at its limit; B, C fill the table; touching A keeps it young. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.1", 5, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.2", 5, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.3", 1, 1000, &b), 0);
	assert_int_equal(tw_bantrack_size(t), 3);
	/* D evicts the oldest, A. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.4", 1, 1000, &b), 0);
	assert_int_equal(tw_bantrack_size(t), 3);
	/* A starts again from zero... */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.1", 1, 1000, &b), 0);
	/* ... which evicted B, so B starts from zero too (and its return
	 * evicts C). */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.2", 5, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.0.0.2", 1, 1000, &b), 1);
	assert_int_equal(tw_bantrack_size(t), 2);

	/* The bound holds under a flood of distinct clients. */
	tw_bantrack_set_limit(t, 1000);
	char ip[64];
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:%x:%x::1", i / 256, i % 256);
		events(t, NULL, TW_BAN_EV_CONNECT, ip, 1, 2000, &b);
		assert_true(tw_bantrack_size(t) <= 1000);
	}
	assert_int_equal(tw_bantrack_size(t), 1000);
	tw_bantrack_set_limit(t, 10);
	assert_int_equal(tw_bantrack_size(t), 10);
	/* The ten kept are the newest: the last one is still counted. */
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, ip, 5, 2000, &b), 5);

	/* The default bound is 65536. */
	tw_bantrack_set_limit(t, 0);
	for (uint32_t i = 0; i < 70000; i++) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		sin.sin_addr.s_addr = htonl(0x0a000000u + i);
		tw_bantrack_event(t, NULL, TW_BAN_EV_CONNECT, (struct sockaddr *)&sin, 3000, NOW, 0,
		                  &b);
	}
	assert_int_equal(tw_bantrack_size(t), TW_BANTRACK_MAX_IDENTS);
	tw_bantrack_free(t);
}

static void test_policy_change_resets_rule(void **state)
{
	tw_ban_policy_t p = policy(TW_BAN_EV_CONNECT, 5, 60000);
	p.rules[TW_BAN_EV_REPORT] = (tw_ban_rule_t){true, 5, 60000};
	tw_bantrack_t *t = tw_bantrack_new(&p);
	tw_ban_t b;
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.9.9.9", 5, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_REPORT, "10.9.9.9", 5, 1000, &b), 0);
	/* Shrinking the connect window starts that rule over; reports keep
	 * their count. */
	p.rules[TW_BAN_EV_CONNECT].window_ms = 1000;
	tw_bantrack_set_policy(t, &p);
	assert_int_equal(events(t, NULL, TW_BAN_EV_CONNECT, "10.9.9.9", 5, 1000, &b), 0);
	assert_int_equal(events(t, NULL, TW_BAN_EV_REPORT, "10.9.9.9", 1, 1000, &b), 1);
	tw_bantrack_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_check),
	        cmocka_unit_test(test_allowed),
	        cmocka_unit_test(test_copy_and_duplicates),
	        cmocka_unit_test(test_refcount),
	        cmocka_unit_test(test_policy_defaults),
	        cmocka_unit_test(test_duration),
	        cmocka_unit_test(test_rate_trips_at_count_plus_one),
	        cmocka_unit_test(test_rate_window),
	        cmocka_unit_test(test_rules_are_separate),
	        cmocka_unit_test(test_doubling),
	        cmocka_unit_test(test_v6_aggregation),
	        cmocka_unit_test(test_allowed_never_trips),
	        cmocka_unit_test(test_eviction),
	        cmocka_unit_test(test_policy_change_resets_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
