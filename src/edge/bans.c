#include "util/tw.h"

#include "edge/bans.h"

#include "util/duration.h"

const char *const tw_default_allow[] = {
        "127.0.0.0/8",         /* loopback */
        "::1/128",             /* loopback */
        "100.64.0.0/10",       /* the tailnet (CGNAT range Tailscale hands out) */
        "fd7a:115c:a1e0::/48", /* Tailscale's IPv6 ULA */
        NULL,
};

/* ---- the snapshot ---- */

struct tw_banset {
	atomic_uint refs;
	tw_cidr_trie_t *bans;  /* net -> tw_ban_t in v */
	tw_cidr_trie_t *allow; /* net -> &allow_mark */
	tw_ban_t *v;
	size_t n;
};

static char allow_mark;

/* Does a replace b for the same net? The one that lasts longer wins, so a
 * duplicate never shortens a ban. */
static bool lasts_longer(const tw_ban_t *a, const tw_ban_t *b)
{
	if (b->until == 0)
		return false;
	return a->until == 0 || a->until > b->until;
}

tw_banset_t *tw_banset_new(const tw_ban_t *bans, size_t n, const tw_cidr_t *allow, size_t n_allow)
{
	tw_banset_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->bans = tw_cidr_trie_new();
	s->allow = tw_cidr_trie_new();
	if (!s->bans || !s->allow)
		goto fail;
	if (n) {
		s->v = calloc(n, sizeof(*s->v));
		if (!s->v)
			goto fail;
		memcpy(s->v, bans, n * sizeof(*s->v));
		s->n = n;
	}
	for (size_t i = 0; i < n; i++) {
		tw_ban_t *b = &s->v[i];
		b->source[sizeof(b->source) - 1] = '\0';
		b->reason[sizeof(b->reason) - 1] = '\0';
		void *old = NULL;
		int r = tw_cidr_trie_insert(s->bans, &b->net, b, &old);
		if (r == TW_ENOMEM)
			goto fail;
		/* TW_EINVAL: not a network; the store never holds one, skip it. */
		if (r == 0 && old && !lasts_longer(b, old))
			tw_cidr_trie_insert(s->bans, &b->net, old, NULL);
	}
	for (size_t i = 0; i < n_allow; i++)
		if (tw_cidr_trie_insert(s->allow, &allow[i], &allow_mark, NULL) == TW_ENOMEM)
			goto fail;
	return s;
fail:
	tw_cidr_trie_free(s->bans, NULL);
	tw_cidr_trie_free(s->allow, NULL);
	free(s->v);
	free(s);
	return NULL;
}

tw_banset_t *tw_banset_ref(tw_banset_t *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void tw_banset_unref(tw_banset_t *s)
{
	if (!s)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	tw_cidr_trie_free(s->bans, NULL);
	tw_cidr_trie_free(s->allow, NULL);
	free(s->v);
	free(s);
}

static bool raw_addr(const struct sockaddr *sa, int *family, const uint8_t **addr)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		*addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		*family = AF_INET6;
		*addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		return true;
	}
	return false;
}

bool tw_banset_allowed(const tw_banset_t *s, const struct sockaddr *sa)
{
	int family;
	const uint8_t *addr;
	if (!s || !raw_addr(sa, &family, &addr))
		return false;
	return tw_cidr_trie_lookup_raw(s->allow, family, addr, NULL) != NULL;
}

static bool in_force(void *arg, const void *value)
{
	int64_t now = *(const int64_t *)arg;
	const tw_ban_t *b = value;
	return b->until == 0 || b->until > now;
}

const tw_ban_t *tw_banset_check(const tw_banset_t *s, const struct sockaddr *sa, int64_t now)
{
	int family;
	const uint8_t *addr;
	if (!s || !raw_addr(sa, &family, &addr))
		return NULL;
	if (tw_cidr_trie_lookup_raw(s->allow, family, addr, NULL))
		return NULL;
	/* Expiry is judged on the way down, so an expired /32 under a /24
	 * still in force leaves the /24 in charge. */
	return tw_cidr_trie_lookup_if(s->bans, family, addr, in_force, &now, NULL);
}

size_t tw_banset_count(const tw_banset_t *s)
{
	return s ? tw_cidr_trie_count(s->bans) : 0;
}

/* ---- durations ---- */

void tw_ban_policy_defaults(tw_ban_policy_t *p)
{
	memset(p, 0, sizeof(*p));
	p->ban_ms = 10 * 60 * 1000ULL;
	p->max_ban_ms = 7 * 86400 * 1000ULL;
	p->v6_prefix = 64;
	p->v4_prefix = 32;
}

uint64_t tw_ban_duration_ms(const tw_ban_policy_t *p, int32_t n)
{
	uint64_t cap = p->max_ban_ms && p->max_ban_ms < TW_DURATION_MAX_MS ? p->max_ban_ms
	                                                                   : TW_DURATION_MAX_MS;
	uint64_t d = p->ban_ms;
	unsigned shift = n > 1 ? (unsigned)(n - 1) : 0;
	if (d == 0)
		return 0;
	if (shift >= 64 || d > (cap >> shift))
		return cap;
	d <<= shift;
	return d < cap ? d : cap;
}

/* ---- the tracker ---- */

/*
 * Counting: one leaky bucket per rule and identity, kept as a debt in
 * units where an event adds window_ms and each millisecond drains `count`;
 * the rule trips when the debt passes count * window_ms, i.e. when more
 * than `count` events arrived faster than count per window. Two numbers per
 * rule, exact integer arithmetic, no log of timestamps. It never trips
 * where the literal rule ("more than count events within one window") would
 * not: more than count + count*L/window events in any span L means some
 * window-long piece of it holds more than count. It may trip a little later
 * than the literal rule for bursts spread over several windows.
 */
typedef struct counter {
	uint64_t debt;
	uint64_t at_ms;
} counter_t;

typedef struct ident {
	struct ident *prev, *next; /* LRU list, most recent first */
	tw_cidr_t net;
	counter_t c[4];
} ident_t;

struct tw_bantrack {
	tw_ban_policy_t p;
	tw_cidr_trie_t *idents; /* net -> ident_t */
	ident_t *head, *tail;
	size_t max_idents;
};

static void lru_unlink(tw_bantrack_t *t, ident_t *id)
{
	if (id->prev)
		id->prev->next = id->next;
	else
		t->head = id->next;
	if (id->next)
		id->next->prev = id->prev;
	else
		t->tail = id->prev;
	id->prev = id->next = NULL;
}

static void lru_push_front(tw_bantrack_t *t, ident_t *id)
{
	id->prev = NULL;
	id->next = t->head;
	if (t->head)
		t->head->prev = id;
	t->head = id;
	if (!t->tail)
		t->tail = id;
}

static void ident_drop(tw_bantrack_t *t, ident_t *id)
{
	lru_unlink(t, id);
	void *v = tw_cidr_trie_remove(t->idents, &id->net);
	TW_BUG_ON(v != id);
	free(id);
}

static void drop_all(tw_bantrack_t *t)
{
	while (t->tail)
		ident_drop(t, t->tail);
}

static void trim(tw_bantrack_t *t, size_t keep)
{
	while (tw_cidr_trie_count(t->idents) > keep && t->tail)
		ident_drop(t, t->tail);
}

tw_bantrack_t *tw_bantrack_new(const tw_ban_policy_t *p)
{
	tw_bantrack_t *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->idents = tw_cidr_trie_new();
	if (!t->idents) {
		free(t);
		return NULL;
	}
	if (p)
		t->p = *p;
	else
		tw_ban_policy_defaults(&t->p);
	t->max_idents = TW_BANTRACK_MAX_IDENTS;
	return t;
}

void tw_bantrack_free(tw_bantrack_t *t)
{
	if (!t)
		return;
	drop_all(t);
	tw_cidr_trie_free(t->idents, NULL);
	free(t);
}

void tw_bantrack_set_policy(tw_bantrack_t *t, const tw_ban_policy_t *p)
{
	tw_ban_policy_t defaults;
	if (!p) {
		tw_ban_policy_defaults(&defaults);
		p = &defaults;
	}
	if (p->v4_prefix != t->p.v4_prefix || p->v6_prefix != t->p.v6_prefix) {
		/* The identities themselves change shape. */
		drop_all(t);
	} else {
		/* A debt is in units of its rule's window: a changed rule starts
		 * from zero rather than be misread. */
		for (size_t r = 0; r < TW_ARRAY_LEN(p->rules); r++) {
			const tw_ban_rule_t *a = &p->rules[r], *b = &t->p.rules[r];
			if (a->enabled == b->enabled && a->count == b->count &&
			    a->window_ms == b->window_ms)
				continue;
			for (ident_t *id = t->head; id; id = id->next)
				memset(&id->c[r], 0, sizeof(id->c[r]));
		}
	}
	t->p = *p;
}

void tw_bantrack_set_limit(tw_bantrack_t *t, size_t max_idents)
{
	t->max_idents = max_idents ? max_idents : TW_BANTRACK_MAX_IDENTS;
	trim(t, t->max_idents);
}

size_t tw_bantrack_size(const tw_bantrack_t *t)
{
	return t ? tw_cidr_trie_count(t->idents) : 0;
}

void tw_bantrack_net(const tw_bantrack_t *t, const struct sockaddr *sa, tw_cidr_t *out)
{
	/* A v4-mapped address is an IPv4 client: it gets the IPv4 prefix. */
	bool v4 = sa && (sa->sa_family == AF_INET ||
	                 (sa->sa_family == AF_INET6 &&
	                  IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)));
	tw_cidr_from_addr(sa, v4 ? t->p.v4_prefix : t->p.v6_prefix, out);
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* Counts one event; true when the rule trips. */
static bool bucket_add(counter_t *c, const tw_ban_rule_t *rule, uint64_t now_ms)
{
	uint64_t elapsed = now_ms > c->at_ms ? now_ms - c->at_ms : 0;
	uint64_t drained = sat_mul(elapsed, rule->count);
	c->debt = c->debt > drained ? c->debt - drained : 0;
	c->debt = sat_add(c->debt, rule->window_ms);
	if (now_ms > c->at_ms)
		c->at_ms = now_ms;
	/* With an absurd count * window the limit saturates and never trips,
	 * which is what such a rule means in practice. */
	return c->debt > sat_mul(rule->count, rule->window_ms);
}

static const char *const ev_source[4] = {"rate", "early_close", "tls_garbage", "report"};
static const char *const ev_what[4] = {
        "connections",
        "connections closed before the backend's banner",
        "connections without a TLS ClientHello",
        "reports from the mail server",
};

bool tw_bantrack_event(tw_bantrack_t *t, const tw_banset_t *allow, tw_ban_event_t ev,
                       const struct sockaddr *sa, uint64_t now_ms, int64_t now_unix,
                       int32_t prev_repeat, tw_ban_t *out)
{
	if (!t || !sa || (unsigned)ev >= TW_ARRAY_LEN(t->p.rules))
		return false;
	const tw_ban_rule_t *rule = &t->p.rules[ev];
	if (!rule->enabled || rule->window_ms == 0)
		return false;
	if (allow && tw_banset_allowed(allow, sa))
		return false;
	tw_cidr_t net;
	tw_bantrack_net(t, sa, &net);
	if (net.family != AF_INET && net.family != AF_INET6)
		return false;

	ident_t *id = tw_cidr_trie_get(t->idents, &net);
	if (id) {
		lru_unlink(t, id);
	} else {
		trim(t, t->max_idents - 1);
		id = calloc(1, sizeof(*id));
		/* Out of memory: this event goes uncounted, nothing worse. */
		if (!id)
			return false;
		id->net = net;
		if (tw_cidr_trie_insert(t->idents, &net, id, NULL) != 0) {
			free(id);
			return false;
		}
	}
	lru_push_front(t, id);

	if (!bucket_add(&id->c[ev], rule, now_ms))
		return false;

	ident_drop(t, id);
	if (prev_repeat < 0)
		prev_repeat = 0;
	int32_t n = prev_repeat < INT32_MAX ? prev_repeat + 1 : INT32_MAX;
	uint64_t ms = tw_ban_duration_ms(&t->p, n);
	int64_t secs = (int64_t)((ms + 999) / 1000);
	char win[TW_DURATION_BUFSZ];
	tw_duration_format(rule->window_ms, win, sizeof(win));

	memset(out, 0, sizeof(*out));
	out->net = net;
	out->until = now_unix + (secs > 0 ? secs : 1);
	out->repeat = n;
	tw_strlcpy(out->source, ev_source[ev], sizeof(out->source));
	snprintf(out->reason, sizeof(out->reason), "%s: %" PRIu64 " %s in %s", ev_source[ev],
	         (uint64_t)rule->count + 1, ev_what[ev], win);
	return true;
}
