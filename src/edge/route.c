#include "util/tw.h"

#include "edge/route.h"

#include <pthread.h>

#define MAX_LISTENER_STATS 1024
static tw_listener_stats_t listener_stats[MAX_LISTENER_STATS];
static size_t n_listener_stats;
static pthread_mutex_t listener_stats_mu = PTHREAD_MUTEX_INITIALIZER;
static tw_listener_stats_t overflow_stats;

tw_listener_stats_t *tw_listener_stats_get(const char *name)
{
	pthread_mutex_lock(&listener_stats_mu);
	tw_listener_stats_t *s = NULL;
	for (size_t i = 0; i < n_listener_stats && !s; i++)
		if (strcmp(listener_stats[i].name, name) == 0)
			s = &listener_stats[i];
	if (!s && n_listener_stats < MAX_LISTENER_STATS) {
		s = &listener_stats[n_listener_stats++];
		tw_strlcpy(s->name, name, sizeof(s->name));
	}
	pthread_mutex_unlock(&listener_stats_mu);
	return s ? s : &overflow_stats;
}

int tw_routes_backend_index(const tw_routes_t *r, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < r->n_backends; i++)
		if (strcmp(r->backends[i].cfg->name, name) == 0)
			return (int)i;
	return -1;
}

static void routes_free(tw_routes_t *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_listeners; i++)
		tw_sni_table_free(r->listeners[i].sni);
	free(r->listeners);
	for (size_t i = 0; r->backends && i < r->n_backends; i++)
		free(r->backends[i].srv);
	free(r->backends);
	tw_config_free(r->cfg);
	free(r);
}

tw_routes_t *tw_routes_build(tw_config_t *cfg, uint64_t generation, tw_diags_t *diags)
{
	tw_routes_t *r = calloc(1, sizeof(*r));
	if (!r) {
		tw_config_free(cfg);
		return NULL;
	}
	atomic_init(&r->refs, 1);
	r->generation = generation;
	r->cfg = cfg;
	r->n_backends = cfg->n_backends;
	r->backends = calloc(cfg->n_backends ? cfg->n_backends : 1, sizeof(*r->backends));
	r->n_listeners = cfg->n_listeners;
	r->listeners = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*r->listeners));
	if (!r->backends || !r->listeners)
		goto fail;
	for (size_t i = 0; i < cfg->n_backends; i++) {
		const tw_cfg_backend_t *b = &cfg->backends[i];
		r->backends[i].cfg = b;
		r->backends[i].index = (uint32_t)i;
		r->backends[i].srv = calloc(b->n_servers ? b->n_servers : 1, sizeof(tw_rserver_t));
		if (!r->backends[i].srv)
			goto fail;
		/* Without active checks a server is up until dialing says
		 * otherwise; with them it waits for its first verdict. */
		for (size_t j = 0; j < b->n_servers; j++)
			atomic_init(&r->backends[i].srv[j].up, !b->health.enabled);
	}
	const char *file = cfg->path ? cfg->path : "";
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const tw_cfg_listener_t *lc = &cfg->listeners[i];
		tw_rlistener_t *l = &r->listeners[i];
		l->cfg = lc;
		l->index = (uint32_t)i;
		l->idle_ms = tw_config_idle_ms(cfg, lc);
		l->stats = tw_listener_stats_get(lc->name);
		l->backend = tw_routes_backend_index(r, lc->backend);
		if (lc->backend && l->backend < 0)
			tw_diag_add(diags, file, lc->line, "backend", "no backend named \"%s\"",
			            lc->backend);
		if (lc->n_sni == 0)
			continue;
		l->sni = tw_sni_table_new();
		if (!l->sni)
			goto fail;
		if (l->backend >= 0)
			tw_sni_table_set_default(l->sni, l->backend);
		for (size_t j = 0; j < lc->n_sni; j++) {
			const tw_cfg_sni_t *s = &lc->sni[j];
			int b = tw_routes_backend_index(r, s->backend);
			char err[256] = "";
			if (b < 0) {
				tw_diag_add(diags, file, s->line, "sni", "no backend named \"%s\"",
				            s->backend);
				continue;
			}
			if (tw_sni_table_add(l->sni, s->pattern, (const char *const *)s->alpn, b,
			                     err, sizeof(err)) < 0)
				tw_diag_add(diags, file, s->line, "sni", "%s", err);
		}
	}
	if (diags && diags->n)
		goto fail;
	return r;
fail:
	routes_free(r);
	return NULL;
}

tw_routes_t *tw_routes_ref(tw_routes_t *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void tw_routes_unref(tw_routes_t *r)
{
	if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		routes_free(r);
}

int tw_routes_pick(const tw_routes_t *r, const tw_rlistener_t *l, const char *sni, size_t sni_len,
                   const uint8_t *alpn, size_t alpn_len)
{
	TW_UNUSED(r);
	if (l->sni)
		return tw_sni_table_lookup(l->sni, sni, sni ? sni_len : 0, alpn, alpn_len);
	return l->backend;
}
