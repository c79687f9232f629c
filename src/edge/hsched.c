/*
 * hsched.c - see hsched.h. Control thread only.
 */
#include "util/tw.h"

#include <errno.h>
#include <time.h>

#include "edge/hsched.h"
#include "util/addr.h"
#include "util/log.h"

typedef struct entry {
	char key[192]; /* "backend/server" */
	char host[256];
	uint16_t port;
	int bi, si; /* indexes in the current table */
	bool seen;  /* still in the current table (apply bookkeeping) */
	bool checked_type;
	bool drained;
	tw_hstate_t hs;
	uint64_t latency_ms, checks, failures;
	char addr[64];
	uv_timer_t timer;
	tw_hc_t *hc;
	struct tw_hsched *h;
	bool closing;
} entry_t;

struct tw_hsched {
	uv_loop_t *loop;
	tw_resolver_t *resolver;
	tw_routes_t *routes;
	entry_t **e;
	size_t n;
	void (*on_change)(void *arg);
	void *arg;
	uv_timer_t passive; /* reads the workers' dial-failure counters */
	int pending_closes;
	bool freeing;
	bool last_ready;
};

#define PASSIVE_TICK_MS 200

static int64_t now_unix(void)
{
	return (int64_t)time(NULL);
}

static tw_rserver_t *slot(tw_hsched_t *h, const entry_t *e)
{
	if (!h->routes || e->bi < 0 || (size_t)e->bi >= h->routes->n_backends)
		return NULL;
	const tw_rbackend_t *b = &h->routes->backends[e->bi];
	if (e->si < 0 || (size_t)e->si >= b->cfg->n_servers)
		return NULL;
	return &b->srv[e->si];
}

static void publish_flags(tw_hsched_t *h, entry_t *e)
{
	tw_rserver_t *s = slot(h, e);
	if (!s)
		return;
	atomic_store(&s->up, e->checked_type ? e->hs.up : true);
	atomic_store(&s->drained, e->drained);
}

static void changed(tw_hsched_t *h)
{
	if (h->on_change)
		h->on_change(h->arg);
}

static void schedule(entry_t *e, uint64_t ms);

static void on_verdict(void *arg, int status, const char *why, const struct sockaddr *addr,
                       uint64_t latency_ms)
{
	entry_t *e = arg;
	tw_hsched_t *h = e->h;
	e->hc = NULL;
	e->checks++;
	e->latency_ms = latency_ms;
	if (addr)
		tw_addr_format(addr, e->addr, sizeof(e->addr));
	if (status != 0)
		e->failures++;
	const tw_cfg_health_t *hc = &h->routes->backends[e->bi].cfg->health;
	bool flipped = tw_hstate_update(&e->hs, status == 0, status ? why : NULL, hc->rise,
	                                hc->fall, now_unix());
	if (flipped) {
		tw_log(e->hs.up ? TW_LOG_INFO : TW_LOG_WARN,
		       "event=health server=%s state=%s addr=%s%s%s%s", e->key,
		       e->hs.up ? "up" : "down", e->addr[0] ? e->addr : "-",
		       e->hs.up ? "" : " error=\"", e->hs.up ? "" : e->hs.last_error,
		       e->hs.up ? "" : "\"");
		publish_flags(h, e);
		changed(h);
	}
	schedule(e, hc->interval_ms);
}

static void on_timer(uv_timer_t *t)
{
	entry_t *e = t->data;
	tw_hsched_t *h = e->h;
	if (e->hc || !e->checked_type || h->freeing)
		return;
	const tw_cfg_backend_t *b = h->routes->backends[e->bi].cfg;
	tw_hc_opts_t o = {
	        .type = (tw_hc_type_t)b->health.type,
	        .proxy_version = (int)b->proxy,
	        .timeout_ms = b->health.timeout_ms,
	        .dial = {.source = b->source.ss_family ? &b->source : NULL,
	                 .interface = b->interface,
	                 .keepalive = false},
	};
	int rc = tw_hc_start(h->loop, h->resolver, e->host, e->port, &o, on_verdict, e, &e->hc);
	if (rc < 0) {
		e->hc = NULL;
		char why[96];
		snprintf(why, sizeof(why), "cannot start check: %s", tw_strerror(rc));
		on_verdict(e, rc, why, NULL, 0);
	}
}

/* Up to a tenth of the interval later, so a hundred servers' checks don't
 * leave in one burst every interval. */
static uint64_t jitter(uint64_t ms)
{
	return ms >= 10 ? ms + (uint64_t)random() % (ms / 10) : ms;
}

static void schedule(entry_t *e, uint64_t ms)
{
	if (!e->closing && !e->h->freeing)
		uv_timer_start(&e->timer, on_timer, jitter(ms), 0);
}

/* Dial failures seen by workers count as failed checks and trigger one now. */
static void on_passive(uv_timer_t *t)
{
	tw_hsched_t *h = t->data;
	for (size_t i = 0; i < h->n; i++) {
		entry_t *e = h->e[i];
		tw_rserver_t *s = slot(h, e);
		if (!s || !atomic_exchange(&s->dial_fails, 0))
			continue;
		if (!e->checked_type) {
			/* No active checks: nothing to confirm recovery with, so a
			 * dial failure doesn't take the server out. */
			continue;
		}
		if (!e->hc && e->hs.up)
			uv_timer_start(&e->timer, on_timer, 0, 0);
	}
	bool ready = tw_hsched_ready(h, NULL, 0);
	if (ready != h->last_ready) {
		h->last_ready = ready;
		changed(h);
	}
}

tw_hsched_t *tw_hsched_new(uv_loop_t *loop, void (*on_change)(void *arg), void *arg)
{
	tw_hsched_t *h = tw_xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->on_change = on_change;
	h->arg = arg;
	h->resolver = tw_resolver_new(loop, 0);
	uv_timer_init(loop, &h->passive);
	h->passive.data = h;
	uv_timer_start(&h->passive, on_passive, PASSIVE_TICK_MS, PASSIVE_TICK_MS);
	return h;
}

static void maybe_free(tw_hsched_t *h)
{
	if (h->freeing && h->pending_closes == 0) {
		free(h->e);
		tw_routes_unref(h->routes);
		free(h);
	}
}

static void entry_closed(uv_handle_t *hd)
{
	entry_t *e = hd->data;
	tw_hsched_t *h = e->h;
	free(e);
	h->pending_closes--;
	maybe_free(h);
}

static void entry_close(entry_t *e)
{
	e->closing = true;
	tw_hc_cancel(e->hc);
	e->hc = NULL;
	e->h->pending_closes++;
	uv_close((uv_handle_t *)&e->timer, entry_closed);
}

static void passive_closed(uv_handle_t *hd)
{
	tw_hsched_t *h = hd->data;
	h->pending_closes--;
	maybe_free(h);
}

void tw_hsched_free(tw_hsched_t *h)
{
	if (!h)
		return;
	h->freeing = true;
	for (size_t i = 0; i < h->n; i++)
		entry_close(h->e[i]);
	h->n = 0;
	tw_resolver_free(h->resolver);
	h->resolver = NULL;
	h->pending_closes++;
	uv_close((uv_handle_t *)&h->passive, passive_closed);
}

static entry_t *find(tw_hsched_t *h, const char *key)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->e[i]->key, key) == 0)
			return h->e[i];
	return NULL;
}

void tw_hsched_apply(tw_hsched_t *h, tw_routes_t *r)
{
	for (size_t i = 0; i < h->n; i++)
		h->e[i]->seen = false;
	size_t total = 0;
	for (size_t b = 0; b < r->n_backends; b++)
		total += r->backends[b].cfg->n_servers;
	entry_t **next = tw_xcalloc(total ? total : 1, sizeof(*next));
	size_t n = 0;
	tw_routes_t *old = h->routes;
	h->routes = tw_routes_ref(r);
	for (size_t b = 0; b < r->n_backends; b++) {
		const tw_cfg_backend_t *cb = r->backends[b].cfg;
		for (size_t s = 0; s < cb->n_servers; s++) {
			const tw_cfg_server_t *sv = &cb->servers[s];
			char key[192];
			snprintf(key, sizeof(key), "%s/%s", cb->name, sv->name);
			entry_t *e = find(h, key);
			/* Same name but another address or check: start over. */
			if (e && (strcmp(e->host, sv->host) != 0 || e->port != sv->port ||
			          e->checked_type != cb->health.enabled))
				e = NULL;
			bool fresh = !e;
			if (fresh) {
				e = tw_xcalloc(1, sizeof(*e));
				e->h = h;
				tw_strlcpy(e->key, key, sizeof(e->key));
				tw_strlcpy(e->host, sv->host, sizeof(e->host));
				e->port = sv->port;
				e->checked_type = cb->health.enabled;
				uv_timer_init(h->loop, &e->timer);
				e->timer.data = e;
			}
			e->seen = true;
			e->bi = (int)b;
			e->si = (int)s;
			next[n++] = e;
			publish_flags(h, e);
			if (e->checked_type &&
			    (fresh || (!e->hc && !uv_is_active((uv_handle_t *)&e->timer))))
				schedule(e, fresh ? (uint64_t)random() %
				                            (cb->health.interval_ms / 20 + 1)
				                  : cb->health.interval_ms);
		}
	}
	for (size_t i = 0; i < h->n; i++)
		if (!h->e[i]->seen)
			entry_close(h->e[i]);
	free(h->e);
	h->e = next;
	h->n = n;
	tw_routes_unref(old);
	h->last_ready = tw_hsched_ready(h, NULL, 0);
}

bool tw_hsched_ready(const tw_hsched_t *h, char *why, size_t size)
{
	if (!h->routes)
		return false;
	for (size_t b = 0; b < h->routes->n_backends; b++) {
		const tw_cfg_backend_t *cb = h->routes->backends[b].cfg;
		if (!cb->required)
			continue;
		bool any = false;
		const entry_t *last = NULL;
		for (size_t i = 0; i < h->n && !any; i++) {
			const entry_t *e = h->e[i];
			if (e->bi != (int)b)
				continue;
			last = e;
			any = (!e->checked_type || e->hs.up) && !e->drained;
		}
		if (!any) {
			if (why && size) {
				const char *err = last && last->hs.last_error[0]
				                          ? last->hs.last_error
				                  : last && last->drained     ? "drained"
				                  : last && !last->hs.checked ? "not checked yet"
				                                              : "down";
				snprintf(why, size, "backend %s: no healthy server (%s%s%s)",
				         cb->name, last ? last->key : "", last ? ": " : "", err);
			}
			return false;
		}
	}
	if (why && size)
		snprintf(why, size, "ready");
	return true;
}

int tw_hsched_drain(tw_hsched_t *h, const char *backend, const char *server, bool drain)
{
	char key[192];
	snprintf(key, sizeof(key), "%s/%s", backend, server);
	entry_t *e = find(h, key);
	if (!e)
		return TW_ENOTFOUND;
	if (e->drained != drain) {
		e->drained = drain;
		publish_flags(h, e);
		tw_log(TW_LOG_INFO, "event=%s server=%s", drain ? "drain" : "ready", e->key);
		changed(h);
	}
	return 0;
}

void tw_hsched_each(const tw_hsched_t *h, void (*fn)(void *arg, const tw_hsched_server_t *s),
                    void *arg)
{
	for (size_t i = 0; i < h->n; i++) {
		const entry_t *e = h->e[i];
		const tw_cfg_backend_t *cb = h->routes->backends[e->bi].cfg;
		tw_hsched_server_t s = {
		        .backend = cb->name,
		        .server = cb->servers[e->si].name,
		        .checked_type = e->checked_type,
		        .up = e->checked_type ? e->hs.up : true,
		        .drained = e->drained,
		        .required = cb->required,
		        .dependency = cb->dependency,
		        .changed_at = e->hs.changed_at,
		        .latency_ms = e->latency_ms,
		        .checks = e->checks,
		        .failures = e->failures,
		        .last_error = e->hs.last_error,
		};
		tw_strlcpy(s.addr, e->addr, sizeof(s.addr));
		fn(arg, &s);
	}
}
