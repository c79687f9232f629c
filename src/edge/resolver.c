#include "util/tw.h"

#include "edge/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

/*
 * A failed lookup is remembered at most this long: a backend that was just
 * (re)registered (an ephemeral tailnet node, seed lesson 6) must become
 * reachable within a second, while a burst of clients still costs one lookup.
 */
#define NEG_TTL_MAX_MS 1000
/* 253 octets of name plus an optional trailing dot. */
#define HOST_MAX 254
/* getaddrinfo may return more than TW_RESOLVE_MAX addresses; interleaving
 * before truncating keeps both families in the list. */
#define GATHER_MAX 64

struct lookup;

struct entry {
	char host[HOST_MAX + 1]; /* case-folded */
	uint32_t hash;
	bool have; /* status/list hold a finished lookup */
	int status;
	uint64_t fetched_ms;
	tw_addrlist_t list; /* ports are 0 */
	struct lookup *lk;  /* in flight, or NULL */
};

struct lookup {
	uv_getaddrinfo_t req;
	tw_resolver_t *r;
	struct entry *e;                  /* NULL once the resolver is being freed */
	tw_resolve_req_t *waiters, *tail; /* answered in arrival order */
};

struct tw_resolve_req {
	struct lookup *lk;
	tw_resolve_req_t *prev, *next;
	uint16_t port;
	tw_resolve_cb cb;
	void *arg;
};

struct tw_resolver {
	uv_loop_t *loop;
	uint64_t ttl_ms;
	uint64_t lookups;
	struct entry **slots; /* open addressing, linear probing, no deletes */
	size_t cap, used;
	size_t inflight; /* lookups not yet completed, including one delivering */
	bool dying;
};

static uint32_t hash_host(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Dedupes src[0..n) and writes it to out in RFC 8305 §4 order, at most
 * TW_RESOLVE_MAX entries. src and out must not overlap. */
static void order_into(const struct sockaddr_storage *src, size_t n, tw_addrlist_t *out)
{
	uint8_t v6[GATHER_MAX], v4[GATHER_MAX];
	size_t n6 = 0, n4 = 0;

	if (n > GATHER_MAX)
		n = GATHER_MAX;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = addr_equal(&src[i], &src[j]);
		if (dup)
			continue;
		/* Anything that is not IPv6 goes with IPv4: the dialer will
		 * report it as a failed attempt rather than lose it here. */
		if (src[i].ss_family == AF_INET6)
			v6[n6++] = (uint8_t)i;
		else
			v4[n4++] = (uint8_t)i;
	}
	out->n = 0;
	for (size_t k = 0; (k < n6 || k < n4) && out->n < TW_RESOLVE_MAX; k++) {
		if (k < n6)
			out->addr[out->n++] = src[v6[k]];
		if (k < n4 && out->n < TW_RESOLVE_MAX)
			out->addr[out->n++] = src[v4[k]];
	}
}

void tw_addrlist_interleave(tw_addrlist_t *l)
{
	tw_addrlist_t tmp;

	if (!l)
		return;
	if (l->n > TW_RESOLVE_MAX)
		l->n = TW_RESOLVE_MAX;
	memcpy(tmp.addr, l->addr, l->n * sizeof(l->addr[0]));
	order_into(tmp.addr, l->n, l);
}

static void set_port(tw_addrlist_t *l, uint16_t port)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->addr[i].ss_family == AF_INET)
			((struct sockaddr_in *)&l->addr[i])->sin_port = htons(port);
		else if (l->addr[i].ss_family == AF_INET6)
			((struct sockaddr_in6 *)&l->addr[i])->sin6_port = htons(port);
	}
}

static bool parse_literal(const char *host, uint16_t port, tw_addrlist_t *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr[0];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr[0];

	memset(&out->addr[0], 0, sizeof(out->addr[0]));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->n = 1;
		return true;
	}
	memset(&out->addr[0], 0, sizeof(out->addr[0]));
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->n = 1;
		return true;
	}
	/* Scoped ("fe80::1%eth0") and legacy ("127.1") forms go through
	 * getaddrinfo, which parses them without asking DNS. */
	return false;
}

/* Case-folds host into key[HOST_MAX + 1]; returns its length, 0 if empty
 * or too long. Folding is ASCII only: DNS compares names that way. */
static size_t fold_host(const char *host, char *key)
{
	size_t len = strnlen(host, HOST_MAX + 1);

	if (len == 0 || len > HOST_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = host[i];
		key[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	return len;
}

static bool entry_fresh(const tw_resolver_t *r, const struct entry *e, uint64_t now)
{
	uint64_t ttl = r->ttl_ms;

	if (!e->have)
		return false;
	if (e->status != 0 && ttl > NEG_TTL_MAX_MS)
		ttl = NEG_TTL_MAX_MS;
	return now - e->fetched_ms < ttl;
}

static struct entry **find_slot(struct entry **slots, size_t cap, const char *host, uint32_t h)
{
	size_t i = h & (cap - 1);

	while (slots[i] && !(slots[i]->hash == h && strcmp(slots[i]->host, host) == 0))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* Rebuilds the table, dropping expired idle entries, growing if still
 * half full. Entries live on the heap, so their addresses do not move. */
static int rebuild(tw_resolver_t *r, size_t need)
{
	uint64_t now = uv_now(r->loop);
	size_t keep = 0, cap = r->cap ? r->cap : 8;
	struct entry **slots;

	for (size_t i = 0; i < r->cap; i++) {
		struct entry *e = r->slots[i];
		if (e && (e->lk || entry_fresh(r, e, now)))
			keep++;
	}
	while ((keep + need) * 2 > cap)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return TW_ENOMEM;
	for (size_t i = 0; i < r->cap; i++) {
		struct entry *e = r->slots[i];
		if (!e)
			continue;
		if (e->lk || entry_fresh(r, e, now))
			*find_slot(slots, cap, e->host, e->hash) = e;
		else
			free(e);
	}
	free(r->slots);
	r->slots = slots;
	r->cap = cap;
	r->used = keep;
	return 0;
}

tw_resolver_t *tw_resolver_new(uv_loop_t *loop, uint64_t ttl_ms)
{
	tw_resolver_t *r;

	if (!loop)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->loop = loop;
	r->ttl_ms = ttl_ms;
	return r;
}

void tw_resolver_set_ttl(tw_resolver_t *r, uint64_t ttl_ms)
{
	if (r)
		r->ttl_ms = ttl_ms;
}

uint64_t tw_resolver_lookups(const tw_resolver_t *r)
{
	return r ? r->lookups : 0;
}

static void free_waiters(struct lookup *lk)
{
	while (lk->waiters) {
		tw_resolve_req_t *q = lk->waiters;
		lk->waiters = q->next;
		free(q);
	}
	lk->tail = NULL;
}

void tw_resolver_free(tw_resolver_t *r)
{
	if (!r)
		return;
	TW_BUG_ON(r->dying);
	r->dying = true;
	for (size_t i = 0; i < r->cap; i++) {
		struct entry *e = r->slots[i];
		if (!e)
			continue;
		if (e->lk) {
			/* libuv still owns the request: uv_cancel only succeeds
			 * while it waits for a pool thread; either way
			 * on_lookup runs once more and finishes the free. */
			free_waiters(e->lk);
			e->lk->e = NULL;
			uv_cancel((uv_req_t *)&e->lk->req);
		}
		free(e);
	}
	free(r->slots);
	r->slots = NULL;
	r->cap = r->used = 0;
	if (r->inflight == 0)
		free(r);
}

static int map_status(int status)
{
	switch (status) {
	case UV_EAI_NONAME:
#ifdef UV_EAI_NODATA
	case UV_EAI_NODATA:
#endif
		return TW_ENOTFOUND;
	default: return status;
	}
}

static void gather(struct addrinfo *res, struct entry *e)
{
	struct sockaddr_storage tmp[GATHER_MAX];
	size_t n = 0;

	for (struct addrinfo *ai = res; ai && n < GATHER_MAX; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (!ai->ai_addr || ai->ai_addrlen > sizeof(tmp[0]))
			continue;
		memset(&tmp[n], 0, sizeof(tmp[n]));
		memcpy(&tmp[n], ai->ai_addr, ai->ai_addrlen);
		n++;
	}
	order_into(tmp, n, &e->list);
	set_port(&e->list, 0);
}

static void on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct lookup *lk = req->data;
	tw_resolver_t *r = lk->r;
	struct entry *e = lk->e;
	tw_addrlist_t base, list;

	if (!e) {
		/* The resolver was freed while this was in flight. */
		uv_freeaddrinfo(res);
		free(lk);
		if (--r->inflight == 0 && r->dying)
			free(r);
		return;
	}
	e->lk = NULL;
	e->have = true;
	e->fetched_ms = uv_now(r->loop);
	e->list.n = 0;
	if (status == 0)
		gather(res, e);
	uv_freeaddrinfo(res);
	e->status = status != 0 ? map_status(status) : e->list.n ? 0 : TW_ENOTFOUND;
	if (e->status != 0)
		e->list.n = 0;
	status = e->status;
	/* A callback may resolve other names (the table may be rebuilt and
	 * this entry pruned when ttl is 0), cancel other waiters or free the
	 * resolver: deliver from a copy, and keep lk and r alive till the end. */
	base = e->list;
	while (lk->waiters && !r->dying) {
		tw_resolve_req_t *q = lk->waiters;
		lk->waiters = q->next;
		if (q->next)
			q->next->prev = NULL;
		else
			lk->tail = NULL;
		list = base;
		set_port(&list, q->port);
		tw_resolve_cb cb = q->cb;
		void *arg = q->arg;
		free(q);
		cb(arg, status, &list);
	}
	free_waiters(lk);
	free(lk);
	if (--r->inflight == 0 && r->dying)
		free(r);
}

static int start_lookup(tw_resolver_t *r, struct entry *e)
{
	struct lookup *lk = calloc(1, sizeof(*lk));
	struct addrinfo hints;
	int err;

	if (!lk)
		return TW_ENOMEM;
	/*
	 * No AI_ADDRCONFIG: always ask for both A and AAAA. AI_ADDRCONFIG
	 * guesses from the addresses configured, not from whether a route
	 * works: a netns with a ULA but no egress, or a host whose IPv6 works
	 * while the container's does not (seed lessons 8 and 9), still get
	 * AAAA, so it would not protect us; and its guess would be frozen in
	 * this cache for ttl_ms. Whether a family works is found out where it
	 * shows, in the dialer: per address, in microseconds (ENETUNREACH,
	 * EAFNOSUPPORT), reported per address, with an immediate move to the
	 * other family (RFC 8305).
	 */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = 0;
	lk->r = r;
	lk->e = e;
	lk->req.data = lk;
	err = uv_getaddrinfo(r->loop, &lk->req, on_lookup, e->host, NULL, &hints);
	if (err < 0) {
		free(lk);
		return err;
	}
	r->lookups++;
	r->inflight++;
	e->lk = lk;
	return 0;
}

int tw_resolve(tw_resolver_t *r, const char *host, uint16_t port, tw_resolve_cb cb, void *arg,
               tw_resolve_req_t **req_out)
{
	char key[HOST_MAX + 1];
	size_t len;
	uint32_t h;
	struct entry **slot, *e;
	tw_resolve_req_t *q;
	tw_addrlist_t list;
	int err;

	if (req_out)
		*req_out = NULL;
	if (!r || !host || !cb || r->dying)
		return TW_EINVAL;
	len = fold_host(host, key);
	if (len == 0)
		return TW_EINVAL;

	if (parse_literal(key, port, &list)) {
		cb(arg, 0, &list);
		return 0;
	}

	h = hash_host(key);
	e = NULL;
	if (r->cap) {
		slot = find_slot(r->slots, r->cap, key, h);
		e = *slot;
	}
	if (e && entry_fresh(r, e, uv_now(r->loop))) {
		list = e->list;
		set_port(&list, port);
		cb(arg, e->status, &list);
		return 0;
	}

	q = calloc(1, sizeof(*q));
	if (!q)
		return TW_ENOMEM;
	q->port = port;
	q->cb = cb;
	q->arg = arg;

	if (!e) {
		if ((r->used + 1) * 2 > r->cap) {
			err = rebuild(r, 1);
			if (err < 0)
				goto fail;
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			err = TW_ENOMEM;
			goto fail;
		}
		memcpy(e->host, key, len + 1);
		e->hash = h;
		err = start_lookup(r, e);
		if (err < 0) {
			free(e);
			goto fail;
		}
		*find_slot(r->slots, r->cap, key, h) = e;
		r->used++;
	} else if (!e->lk) {
		err = start_lookup(r, e);
		if (err < 0)
			goto fail;
	}

	q->lk = e->lk;
	q->prev = e->lk->tail;
	if (q->prev)
		q->prev->next = q;
	else
		e->lk->waiters = q;
	e->lk->tail = q;
	if (req_out)
		*req_out = q;
	return 0;
fail:
	free(q);
	return err;
}

void tw_resolve_cancel(tw_resolve_req_t *req)
{
	if (!req)
		return;
	/* The lookup keeps running: its answer still fills the cache. */
	if (req->prev)
		req->prev->next = req->next;
	else
		req->lk->waiters = req->next;
	if (req->next)
		req->next->prev = req->prev;
	else
		req->lk->tail = req->prev;
	free(req);
}

void tw_resolver_forget(tw_resolver_t *r, const char *host)
{
	char key[HOST_MAX + 1];
	struct entry *e;

	if (!r || !host || r->dying || r->cap == 0 || fold_host(host, key) == 0)
		return;
	e = *find_slot(r->slots, r->cap, key, hash_host(key));
	/* The entry stays until the next rebuild; a lookup in flight keeps
	 * going and its answer is used. */
	if (e)
		e->have = false;
}
