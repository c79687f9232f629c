#include "util/tw.h"

#include <errno.h>
#include <unistd.h>

#include "edge/worker_int.h"
#include "util/addr.h"
#include "util/log.h"

atomic_uint_fast64_t tw_edge_active_conns;

#define ACCEPT_BATCH    64
#define ACCEPT_PAUSE_MS 100

static void on_listen(uv_poll_t *h, int status, int events);

tw_worker_t *tw_worker_new(int id, bool no_splice, uint64_t resolve_ttl_ms)
{
	tw_worker_t *w = tw_xcalloc(1, sizeof(*w));
	w->id = id;
	w->no_splice = no_splice;
	if (uv_loop_init(&w->loop) != 0) {
		free(w);
		return NULL;
	}
	if (tw_evset_init(&w->evset, &w->loop) < 0) {
		uv_loop_close(&w->loop);
		free(w);
		return NULL;
	}
	w->loop.data = w;
	pthread_mutex_init(&w->mu, NULL);
	tw_relay_pool_init(&w->pool, no_splice);
	w->resolver = tw_resolver_new(&w->loop, resolve_ttl_ms);
	uv_timer_init(&w->loop, &w->accept_timer);
	w->accept_timer.data = w;
	return w;
}

static void listens_set_active(tw_worker_t *w, bool on)
{
	for (tw_wlisten_t *wl = w->listens; wl; wl = wl->next) {
		if (on && !wl->active)
			uv_poll_start(&wl->poll, UV_READABLE, on_listen);
		else if (!on && wl->active)
			uv_poll_stop(&wl->poll);
		wl->active = on;
	}
}

static void on_accept_timer(uv_timer_t *t)
{
	tw_worker_t *w = t->data;
	w->accepting_paused = false;
	if (!w->stopping)
		listens_set_active(w, true);
}

static void wlisten_closed(uv_handle_t *h)
{
	tw_wlisten_t *wl = h->data;
	close(wl->fd);
	free(wl);
}

static void wlisten_close(tw_wlisten_t *wl)
{
	uv_close((uv_handle_t *)&wl->poll, wlisten_closed);
}

static void close_all_listens(tw_worker_t *w)
{
	tw_wlisten_t *wl = w->listens;
	w->listens = NULL;
	while (wl) {
		tw_wlisten_t *next = wl->next;
		wlisten_close(wl);
		wl = next;
	}
}

static void on_listen(uv_poll_t *h, int status, int events)
{
	tw_wlisten_t *wl = h->data;
	tw_worker_t *w = wl->w;
	TW_UNUSED(events);
	if (status < 0 || w->stopping || !w->routes)
		return;
	const tw_routes_t *r = w->routes;
	if (wl->lidx < 0 || (size_t)wl->lidx >= r->n_listeners)
		return;
	const tw_rlistener_t *l = &r->listeners[wl->lidx];
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(wl->fd, (struct sockaddr *)&peer, &len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: stop polling for a moment instead of
				 * spinning on a listener that stays readable. */
				atomic_fetch_add(&w->stats.accept_paused, 1);
				static tw_ratelimit_t rl;
				uint32_t sup = 0;
				if (tw_ratelimit_ok(&rl, tw_now_ms(), 5000, &sup))
					tw_log(TW_LOG_WARN,
					       "event=accept_paused worker=%d errno=%s "
					       "suppressed=%u",
					       w->id, strerrorname_np(errno), sup);
				if (!w->accepting_paused) {
					w->accepting_paused = true;
					listens_set_active(w, false);
					uv_timer_start(&w->accept_timer, on_accept_timer,
					               ACCEPT_PAUSE_MS, 0);
				}
			}
			return;
		}
		tw__conn_accept(w, fd, l, &peer);
	}
}

/* Applies a posted route table and listening-fd list. */
static void apply_routes(tw_worker_t *w, tw_routes_t *routes, int *fds, int *lidx, size_t n)
{
	tw_routes_t *old = w->routes;
	w->routes = routes;
	tw_resolver_set_ttl(w->resolver, routes->cfg->resolve_cache_ms);
	/* Keep polls on fds still wanted, close the others, add new ones. */
	tw_wlisten_t **pp = &w->listens;
	while (*pp) {
		tw_wlisten_t *wl = *pp;
		bool keep = false;
		for (size_t i = 0; i < n; i++)
			if (fds[i] == wl->fd) {
				wl->lidx = lidx[i];
				fds[i] = -1; /* seen */
				keep = true;
				break;
			}
		if (keep) {
			pp = &wl->next;
			continue;
		}
		*pp = wl->next;
		wlisten_close(wl);
	}
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		tw_wlisten_t *wl = tw_xcalloc(1, sizeof(*wl));
		wl->w = w;
		wl->fd = fds[i];
		wl->lidx = lidx[i];
		if (uv_poll_init(&w->loop, &wl->poll, wl->fd) != 0) {
			tw_log(TW_LOG_ERR, "event=listen_error worker=%d fd=%d", w->id, wl->fd);
			free(wl);
			continue;
		}
		wl->poll.data = wl;
		wl->next = w->listens;
		w->listens = wl;
		if (!w->accepting_paused && !w->stopping) {
			uv_poll_start(&wl->poll, UV_READABLE, on_listen);
			wl->active = true;
		}
	}
	tw_routes_unref(old);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
	TW_UNUSED(arg);
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void maybe_finish(tw_worker_t *w)
{
	if (w->stopping && !w->conns && !w->listens) {
		uv_timer_stop(&w->accept_timer);
	}
}

static void on_wake(uv_async_t *a)
{
	tw_worker_t *w = a->data;
	pthread_mutex_lock(&w->mu);
	bool has_routes = w->mb_has_routes, stop = w->mb_stop_accepting, shut = w->mb_shutdown;
	tw_routes_t *routes = w->mb_routes;
	int *fds = w->mb_fds, *lidx = w->mb_lidx;
	size_t n = w->mb_n;
	int orphans[TW_ARRAY_LEN(w->mb_orphans)];
	size_t n_orphans = w->mb_n_orphans;
	memcpy(orphans, w->mb_orphans, n_orphans * sizeof(int));
	w->mb_n_orphans = 0;
	tw_banset_t *bans = w->mb_bans;
	w->mb_bans = NULL;
	w->mb_has_routes = false;
	w->mb_routes = NULL;
	w->mb_fds = w->mb_lidx = NULL;
	w->mb_n = 0;
	pthread_mutex_unlock(&w->mu);

	for (size_t i = 0; i < n_orphans; i++) {
		bool polled = false;
		for (tw_wlisten_t *wl = w->listens; wl; wl = wl->next)
			polled |= wl->fd == orphans[i];
		bool wanted = false;
		for (size_t j = 0; has_routes && j < n; j++)
			wanted |= fds[j] == orphans[i];
		if (!polled && !wanted)
			close(orphans[i]);
	}
	if (bans) {
		tw_banset_unref(w->bans);
		w->bans = bans;
	}
	if (has_routes) {
		if (w->stopping) {
			tw_routes_unref(routes);
		} else {
			apply_routes(w, routes, fds, lidx, n);
		}
		free(fds);
		free(lidx);
	}
	if (stop && !w->stopping) {
		w->stopping = true;
		close_all_listens(w);
	}
	if (shut) {
		w->stopping = true;
		close_all_listens(w);
		tw_conn_t *c = w->conns;
		while (c) {
			tw_conn_t *next = c->next;
			tw__conn_end(c, TW_END_SHUTDOWN, 0);
			c = next;
		}
		tw_resolver_free(w->resolver);
		w->resolver = NULL;
		uv_walk(&w->loop, on_walk_close, NULL);
	}
	maybe_finish(w);
}

static void worker_main(void *arg)
{
	tw_worker_t *w = arg;
	uv_run(&w->loop, UV_RUN_DEFAULT);
	/* Everything is closed by now (shutdown walked the handles). */
	uv_run(&w->loop, UV_RUN_DEFAULT);
	tw_routes_unref(w->routes);
	w->routes = NULL;
	tw_banset_unref(w->bans);
	w->bans = NULL;
	tw_relay_pool_release(&w->pool);
	/* Its handle was closed by the shutdown walk; this closes the epoll fd. */
	tw_evset_close(&w->evset, NULL);
	int rc = uv_loop_close(&w->loop);
	if (rc != 0)
		tw_log(TW_LOG_WARN, "event=worker_exit worker=%d loop_close=%s", w->id,
		       uv_err_name(rc));
}

int tw_worker_start(tw_worker_t *w)
{
	uv_async_init(&w->loop, &w->wake, on_wake);
	w->wake.data = w;
	return uv_thread_create(&w->thread, worker_main, w);
}

void tw_worker_post_routes(tw_worker_t *w, tw_routes_t *routes, const int *fds, const int *lidx,
                           size_t n)
{
	int *f = tw_xcalloc(n ? n : 1, sizeof(int)), *l = tw_xcalloc(n ? n : 1, sizeof(int));
	memcpy(f, fds, n * sizeof(int));
	memcpy(l, lidx, n * sizeof(int));
	pthread_mutex_lock(&w->mu);
	if (w->mb_has_routes) {
		/* An unapplied older post: fds only it named were never polled
		 * by the worker unless an even older table had them; the worker
		 * sorts that out (it alone knows what it polls). */
		for (size_t i = 0; i < w->mb_n; i++) {
			bool again = false;
			for (size_t j = 0; j < n; j++)
				again |= fds[j] == w->mb_fds[i];
			if (!again && w->mb_n_orphans < TW_ARRAY_LEN(w->mb_orphans))
				w->mb_orphans[w->mb_n_orphans++] = w->mb_fds[i];
		}
		tw_routes_unref(w->mb_routes);
		free(w->mb_fds);
		free(w->mb_lidx);
	}
	w->mb_routes = routes;
	w->mb_fds = f;
	w->mb_lidx = l;
	w->mb_n = n;
	w->mb_has_routes = true;
	pthread_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

void tw_worker_post_bans(tw_worker_t *w, tw_banset_t *bans)
{
	pthread_mutex_lock(&w->mu);
	tw_banset_t *old = w->mb_bans;
	w->mb_bans = bans;
	pthread_mutex_unlock(&w->mu);
	tw_banset_unref(old);
	uv_async_send(&w->wake);
}

void tw__ban_event(tw_worker_t *w, tw_ban_event_t type, const struct sockaddr_storage *who)
{
	size_t head = atomic_load_explicit(&w->ev_head, memory_order_relaxed);
	size_t tail = atomic_load_explicit(&w->ev_tail, memory_order_acquire);
	if (head - tail >= TW_EV_RING) {
		atomic_fetch_add_explicit(&w->stats.ban_events_dropped, 1, memory_order_relaxed);
		return;
	}
	tw_ban_ev_t *e = &w->ev_ring[head % TW_EV_RING];
	e->type = (uint8_t)type;
	e->who = *who;
	atomic_store_explicit(&w->ev_head, head + 1, memory_order_release);
}

size_t tw_worker_take_events(tw_worker_t *w, tw_ban_ev_t *out, size_t max)
{
	size_t tail = atomic_load_explicit(&w->ev_tail, memory_order_relaxed);
	size_t head = atomic_load_explicit(&w->ev_head, memory_order_acquire);
	size_t n = 0;
	while (tail != head && n < max)
		out[n++] = w->ev_ring[tail++ % TW_EV_RING];
	atomic_store_explicit(&w->ev_tail, tail, memory_order_release);
	return n;
}

void tw_worker_post_stop_accepting(tw_worker_t *w)
{
	pthread_mutex_lock(&w->mu);
	w->mb_stop_accepting = true;
	pthread_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

void tw_worker_post_shutdown(tw_worker_t *w)
{
	pthread_mutex_lock(&w->mu);
	w->mb_shutdown = true;
	pthread_mutex_unlock(&w->mu);
	uv_async_send(&w->wake);
}

void tw_worker_join(tw_worker_t *w)
{
	uv_thread_join(&w->thread);
	pthread_mutex_destroy(&w->mu);
	if (w->mb_routes)
		tw_routes_unref(w->mb_routes);
	tw_banset_unref(w->mb_bans);
	free(w->mb_fds);
	free(w->mb_lidx);
	free(w);
}

const tw_worker_stats_t *tw_worker_stats(const tw_worker_t *w)
{
	return &w->stats;
}

uint64_t tw_worker_active(const tw_worker_t *w)
{
	return atomic_load(&w->stats.active);
}

void tw_worker_pool_in_use(const tw_worker_t *w, uint64_t *pipes, uint64_t *bufs)
{
	*pipes = atomic_load_explicit(&w->pool.pipes_in_use, memory_order_relaxed);
	*bufs = atomic_load_explicit(&w->pool.bufs_in_use, memory_order_relaxed);
}
