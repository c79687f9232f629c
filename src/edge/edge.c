#include "util/tw.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "edge/edge.h"
#include "edge/admin.h"
#include "edge/admin_api.h"
#include "edge/banmgr.h"
#include "edge/hsched.h"
#include "edge/privs.h"
#include "edge/route.h"
#include "edge/sockets.h"
#include "edge/worker.h"
#include "util/log.h"

#define RELOAD_DEBOUNCE_MS 200

typedef struct ctl {
	uv_loop_t *loop;
	const tw_edge_opts_t *o;
	char *path, *dir, *base;
	tw_routes_t *routes; /* the current table (one reference) */
	tw_hsched_t *hs;
	tw_admin_t *admin;
	tw_banmgr_t *bans;
	uint64_t reloads, reload_failures;
	int64_t started_at;
	bool notified_ready;
	char status[300];
	uint64_t generation;
	tw_lsocks_t lsocks;
	tw_worker_t **workers;
	int n_workers;
	uv_signal_t sighup, sigterm, sigint;
	uv_fs_event_t fsev;
	uv_timer_t debounce, drain;
	uint64_t drain_start;
	bool draining;
	int exit_code;
} ctl_t;

static int n_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (n > TW_MAX_WORKERS ? TW_MAX_WORKERS : (int)n);
}

/* Connections cost two descriptors each: take the hard limit the
 * administrator allows, and say when maxconn cannot be reached with it. */
static void raise_nofile(const tw_config_t *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	uint64_t need = (uint64_t)cfg->maxconn * 2 + 64;
	if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
		tw_log(TW_LOG_WARN,
		       "event=fd_limit nofile=%llu maxconn=%u needs=%" PRIu64
		       " (beyond it accepting pauses; raise LimitNOFILE or lower maxconn)",
		       (unsigned long long)rl.rlim_cur, cfg->maxconn, need);
}

static void log_diags(const char *event, const tw_diags_t *d)
{
	char buf[1024];
	for (size_t i = 0; i < d->n; i++) {
		tw_diag_format(&d->v[i], buf, sizeof(buf));
		tw_log(TW_LOG_ERR, "event=%s error=\"%s\"", event, buf);
	}
}

static void publish(ctl_t *c)
{
	int *fds = tw_xcalloc(c->lsocks.n ? c->lsocks.n : 1, sizeof(int));
	int *lidx = tw_xcalloc(c->lsocks.n ? c->lsocks.n : 1, sizeof(int));
	for (int w = 0; w < c->n_workers; w++) {
		size_t n = 0;
		for (size_t k = 0; k < c->lsocks.n; k++) {
			if (c->lsocks.v[k]->fds[w] < 0)
				continue;
			fds[n] = c->lsocks.v[k]->fds[w];
			lidx[n++] = c->lsocks.v[k]->listener;
		}
		tw_worker_post_routes(c->workers[w], tw_routes_ref(c->routes), fds, lidx, n);
	}
	free(fds);
	free(lidx);
}

static bool str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Keys only a restart can change; refused on reload. */
static const char *restart_key(const tw_config_t *old, const tw_config_t *nu)
{
	if (old->workers != nu->workers)
		return "workers";
	if (str_differs(old->user, nu->user))
		return "user";
	if (str_differs(old->state, nu->state))
		return "state";
	if (str_differs(old->admin_bind, nu->admin_bind))
		return "admin.bind";
	return NULL;
}

/* Builds the next table from cfg (taken over) and opens its sockets. */
static int install(ctl_t *c, tw_config_t *cfg, const char *event)
{
	tw_diags_t d = {0};
	tw_routes_t *r = tw_routes_build(cfg, c->generation + 1, &d);
	if (!r) {
		log_diags(event, &d);
		tw_diags_release(&d);
		return -1;
	}
	tw_lsock_t **removed;
	size_t n_removed;
	if (tw_lsocks_sync(&c->lsocks, r->cfg, &removed, &n_removed, &d) < 0) {
		log_diags(event, &d);
		tw_diags_release(&d);
		tw_routes_unref(r);
		return -1;
	}
	/* Workers close the removed fds once they see the new list. */
	for (size_t i = 0; i < n_removed; i++)
		tw_lsock_free(removed[i]);
	free(removed);
	/* Health flags go into the table before any worker sees it. */
	tw_hsched_apply(c->hs, r);
	tw_routes_unref(c->routes);
	c->routes = r;
	c->generation++;
	return 0;
}

/* Readiness changed, or a server went up, down or drained. */
static void on_health_change(void *arg)
{
	ctl_t *c = arg;
	char why[256];
	bool ready = tw_hsched_ready(c->hs, why, sizeof(why));
	char status[300];
	snprintf(status, sizeof(status), "%s, generation %" PRIu64, ready ? "ready" : why,
	         c->generation);
	if (strcmp(status, c->status) == 0)
		return;
	tw_strlcpy(c->status, status, sizeof(c->status));
	if (ready && !c->notified_ready) {
		/* Once: systemd's READY means "dependants may start now". */
		c->notified_ready = true;
		sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status, (int)getpid());
		tw_log(TW_LOG_INFO, "event=ready generation=%" PRIu64, c->generation);
	} else {
		sd_notifyf(0, "STATUS=%s", status);
		if (!ready)
			tw_log(TW_LOG_WARN, "event=not_ready why=\"%s\"", why);
	}
}

static int reload(ctl_t *c, const char *why, char *msg, size_t msgsz)
{
	if (!c->path || c->draining) {
		snprintf(msg, msgsz, "%s",
		         c->path ? "draining" : "quick mode has no file to reload");
		return -1;
	}
	tw_diags_t d = {0};
	tw_config_t *cfg = tw_config_load(c->path, &d);
	if (!cfg) {
		log_diags("reload_failed", &d);
		tw_log(TW_LOG_ERR, "event=reload_failed trigger=%s kept_generation=%" PRIu64, why,
		       c->generation);
		if (d.n)
			tw_diag_format(&d.v[0], msg, msgsz);
		tw_diags_release(&d);
		c->reload_failures++;
		return -1;
	}
	tw_diags_release(&d);
	const char *rk = restart_key(c->routes->cfg, cfg);
	if (rk) {
		snprintf(msg, msgsz, "%s: \"%s\" changed: this key needs a restart", c->path, rk);
		c->reload_failures++;
		tw_log(TW_LOG_ERR,
		       "event=reload_failed trigger=%s error=\"%s: \\\"%s\\\" changed: this key "
		       "needs a "
		       "restart\" kept_generation=%" PRIu64,
		       why, c->path, rk, c->generation);
		tw_config_free(cfg);
		return -1;
	}
	if (install(c, cfg, "reload_failed") < 0) {
		tw_log(TW_LOG_ERR, "event=reload_failed trigger=%s kept_generation=%" PRIu64, why,
		       c->generation);
		snprintf(msg, msgsz, "invalid configuration: see the log");
		c->reload_failures++;
		return -1;
	}
	c->reloads++;
	publish(c);
	if (c->bans)
		tw_banmgr_configure(c->bans, c->routes->cfg);
	tw_log(TW_LOG_INFO,
	       "event=reload trigger=%s generation=%" PRIu64 " listeners=%zu backends=%zu", why,
	       c->generation, c->routes->n_listeners, c->routes->n_backends);
	on_health_change(c);
	return 0;
}

static int api_reload(void *ctl, char *msg, size_t size)
{
	return reload(ctl, "api", msg, size);
}

static void on_admin(void *arg, const tw_admin_req_t *req, tw_admin_resp_t *resp)
{
	ctl_t *c = arg;
	tw_edge_view_t v = {
	        .routes = c->routes,
	        .hs = c->hs,
	        .workers = c->workers,
	        .n_workers = c->n_workers,
	        .generation = c->generation,
	        .reloads = c->reloads,
	        .reload_failures = c->reload_failures,
	        .started_at = c->started_at,
	        .reload = api_reload,
	        .ctl = c,
	        .bans = c->bans,
	};
	tw_admin_api_handle(&v, req, resp);
}

static void on_debounce(uv_timer_t *t)
{
	char msg[256];
	reload(t->data, "file", msg, sizeof(msg));
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	ctl_t *c = h->data;
	TW_UNUSED(events);
	if (status < 0 || !filename || strcmp(filename, c->base) != 0)
		return;
	uv_timer_start(&c->debounce, on_debounce, RELOAD_DEBOUNCE_MS, 0);
}

static uint64_t total_active(ctl_t *c)
{
	uint64_t n = 0;
	for (int w = 0; w < c->n_workers; w++)
		n += tw_worker_active(c->workers[w]);
	return n;
}

static void finish(ctl_t *c)
{
	tw_admin_stop(c->admin);
	c->admin = NULL;
	tw_banmgr_free(c->bans);
	c->bans = NULL;
	tw_hsched_free(c->hs);
	c->hs = NULL;
	for (int w = 0; w < c->n_workers; w++)
		tw_worker_post_shutdown(c->workers[w]);
	uv_stop(c->loop);
}

static void on_drain_tick(uv_timer_t *t)
{
	ctl_t *c = t->data;
	uint64_t left = total_active(c);
	if (left == 0 || uv_now(c->loop) - c->drain_start >= c->routes->cfg->drain_ms) {
		tw_log(TW_LOG_INFO, "event=stop draining_left=%" PRIu64, left);
		finish(c);
	}
}

static void on_signal(uv_signal_t *s, int signum)
{
	ctl_t *c = s->data;
	if (signum == SIGHUP) {
		char msg[256];
		reload(c, "sighup", msg, sizeof(msg));
		return;
	}
	if (c->draining) {
		finish(c); /* a second signal: stop now */
		return;
	}
	c->draining = true;
	sd_notify(0, "STOPPING=1\nSTATUS=draining");
	tw_log(TW_LOG_INFO, "event=draining signal=%s active=%" PRIu64, strsignal(signum),
	       total_active(c));
	for (int w = 0; w < c->n_workers; w++)
		tw_worker_post_stop_accepting(c->workers[w]);
	c->drain_start = uv_now(c->loop);
	uv_timer_start(&c->drain, on_drain_tick, 50, 100);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	TW_UNUSED(arg);
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int tw_edge_run(const tw_edge_opts_t *o)
{
	ctl_t c = {0};
	c.o = o;
	c.loop = uv_default_loop();
	tw_config_t *cfg = o->quick;
	tw_diags_t d = {0};
	if (o->config_path) {
		cfg = tw_config_load(o->config_path, &d);
		if (!cfg) {
			tw_diags_print(&d, stderr);
			tw_diags_release(&d);
			return 2;
		}
		c.path = realpath(o->config_path, NULL);
		if (!c.path)
			c.path = tw_xstrdup(o->config_path);
		char *a = tw_xstrdup(c.path), *b = tw_xstrdup(c.path);
		c.dir = tw_xstrdup(dirname(a));
		c.base = tw_xstrdup(basename(b));
		free(a);
		free(b);
	}
	tw_log_open("tailwart", cfg->log_syslog, (tw_log_level_t)cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(cfg);
	c.n_workers = cfg->workers > 0 ? cfg->workers : n_cpus();
	tw_lsocks_init(&c.lsocks, c.n_workers);
	c.hs = tw_hsched_new(c.loop, on_health_change, &c);
	if (install(&c, cfg, "start_failed") < 0) {
		fprintf(stderr, "tailwart: cannot start: see the errors above\n");
		tw_lsocks_release(&c.lsocks);
		return 3;
	}
	/* The store is opened while still root, so its files can be created
	 * and handed to `user:`; failing here is not fatal (bans stay in
	 * memory and the store is retried). */
	tw_store_t *store = NULL;
	if (c.path) {
		char err[256];
		if (tw_store_open(c.routes->cfg->state, c.routes->cfg->user, &store, err,
		                  sizeof(err)) < 0) {
			tw_log(TW_LOG_WARN, "event=store_error error=\"%s\" (retrying)", err);
			store = NULL;
		}
	}
	if (c.routes->cfg->user) {
		char err[256];
		if (tw_privs_drop(c.routes->cfg->user, err, sizeof(err)) < 0) {
			tw_log(TW_LOG_ERR, "event=start_failed error=\"%s\"", err);
			tw_routes_unref(c.routes);
			tw_lsocks_release(&c.lsocks);
			return 3;
		}
	}
	const char *ns = getenv("TAILWART_NO_SPLICE");
	bool no_splice = o->no_splice || (ns && *ns && strcmp(ns, "0") != 0);
	c.workers = tw_xcalloc((size_t)c.n_workers, sizeof(*c.workers));
	for (int w = 0; w < c.n_workers; w++) {
		c.workers[w] = tw_worker_new(w, no_splice, c.routes->cfg->resolve_cache_ms);
		if (!c.workers[w] || tw_worker_start(c.workers[w]) != 0) {
			tw_log(TW_LOG_ERR, "event=start_failed error=\"cannot start worker %d\"",
			       w);
			return 3;
		}
	}
	publish(&c);
	c.started_at = (int64_t)time(NULL);
	/* Bans need the store; quick mode keeps none. */
	if (c.path)
		c.bans = tw_banmgr_new(c.loop, c.routes->cfg, store, c.workers, c.n_workers);
	/* Quick mode is for trying things out: no admin plane. */
	if (c.path && c.routes->cfg->admin_bind && strcmp(c.routes->cfg->admin_bind, "none") != 0) {
		char err[256];
		if (tw_admin_start(c.loop, c.routes->cfg->admin_bind, c.routes->cfg->admin_token,
		                   on_admin, &c, &c.admin, err, sizeof(err)) < 0) {
			tw_log(TW_LOG_ERR, "event=start_failed error=\"%s\"", err);
			for (int w = 0; w < c.n_workers; w++)
				tw_worker_post_shutdown(c.workers[w]);
			for (int w = 0; w < c.n_workers; w++)
				tw_worker_join(c.workers[w]);
			return 3;
		}
	}

	uv_signal_init(c.loop, &c.sighup);
	uv_signal_init(c.loop, &c.sigterm);
	uv_signal_init(c.loop, &c.sigint);
	c.sighup.data = c.sigterm.data = c.sigint.data = &c;
	uv_signal_start(&c.sighup, on_signal, SIGHUP);
	uv_signal_start(&c.sigterm, on_signal, SIGTERM);
	uv_signal_start(&c.sigint, on_signal, SIGINT);
	uv_timer_init(c.loop, &c.debounce);
	uv_timer_init(c.loop, &c.drain);
	c.debounce.data = c.drain.data = &c;
	if (c.dir) {
		uv_fs_event_init(c.loop, &c.fsev);
		c.fsev.data = &c;
		if (uv_fs_event_start(&c.fsev, on_fs_event, c.dir, 0) != 0)
			tw_log(TW_LOG_WARN, "event=watch_failed dir=%s (reload with SIGHUP)",
			       c.dir);
	}
	tw_log(TW_LOG_INFO,
	       "event=start version=" TW_VERSION " workers=%d listeners=%zu pid=%d%s%s",
	       c.n_workers, c.routes->n_listeners, (int)getpid(), c.path ? " config=" : "",
	       c.path ? c.path : "");
	/* READY=1 waits for the required backends (seed lesson 1): listeners
	 * are open already, and answer with temporary failures meanwhile. */
	on_health_change(&c);

	uv_run(c.loop, UV_RUN_DEFAULT);

	for (int w = 0; w < c.n_workers; w++)
		tw_worker_join(c.workers[w]);
	free(c.workers);
	uv_walk(c.loop, close_walk, NULL);
	uv_run(c.loop, UV_RUN_DEFAULT);
	uv_loop_close(c.loop);
	tw_routes_unref(c.routes);
	/* Workers closed the fds they polled. */
	for (size_t k = 0; k < c.lsocks.n; k++)
		tw_lsock_free(c.lsocks.v[k]);
	free(c.lsocks.v);
	free(c.path);
	free(c.dir);
	free(c.base);
	tw_log(TW_LOG_INFO, "event=exit");
	return c.exit_code;
}
