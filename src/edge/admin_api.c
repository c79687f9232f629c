/*
 * admin_api.c - see admin_api.h.
 */
#include "util/tw.h"

#include <jansson.h>
#include <time.h>

#include "edge/admin_api.h"
#include "util/duration.h"

/* A growing text buffer for /metrics and the status page. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		b->s = realloc(b->s, cap);
		TW_BUG_ON(!b->s);
		b->cap = cap;
	}
}

/* Text for an HTML element or attribute. */
static void sb_html(sbuf_t *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': sb_printf(b, "&lt;"); break;
		case '>': sb_printf(b, "&gt;"); break;
		case '&': sb_printf(b, "&amp;"); break;
		case '"': sb_printf(b, "&quot;"); break;
		case '\'': sb_printf(b, "&#39;"); break;
		default: sb_printf(b, "%c", *s);
		}
	}
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static const char *lv(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	for (; s && *s && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

static uint64_t sum_stat(const tw_edge_view_t *v, size_t offset)
{
	uint64_t n = 0;
	for (int i = 0; i < v->n_workers; i++) {
		const char *st = (const char *)tw_worker_stats(v->workers[i]);
		n += atomic_load((const atomic_uint_fast64_t *)(st + offset));
	}
	return n;
}

#define SUM(field) sum_stat(v, offsetof(tw_worker_stats_t, field))

static void text(tw_admin_resp_t *r, int status, const char *msg)
{
	r->status = status;
	r->body = tw_xstrdup(msg);
}

static void json(tw_admin_resp_t *r, int status, json_t *j)
{
	r->status = status;
	/* json_pack refuses what isn't UTF-8 (a name from a path, say):
	 * answer that rather than an empty body. */
	r->body = j ? json_dumps(j, JSON_INDENT(2))
	            : tw_xstrdup("{\"error\": \"the answer holds text that is not UTF-8\"}");
	r->ctype = "application/json";
	json_decref(j);
	if (r->body) {
		size_t n = strlen(r->body);
		r->body = realloc(r->body, n + 2);
		r->body[n] = '\n';
		r->body[n + 1] = '\0';
	}
}

static void json_error(tw_admin_resp_t *r, int status, const char *msg)
{
	json(r, status, json_pack("{s:s}", "error", msg));
}

/* ---- servers ---- */

struct srv_acc {
	json_t *arr;
	sbuf_t *sb;
};

static void srv_json(void *arg, const tw_hsched_server_t *s)
{
	struct srv_acc *a = arg;
	json_array_append_new(
	        a->arr,
	        json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:s, s:s}", "backend",
	                  s->backend, "server", s->server, "state",
	                  !s->checked_type ? "unchecked"
	                  : s->up          ? "up"
	                                   : "down",
	                  "up", s->up, "drained", s->drained, "required", s->required, "dependency",
	                  s->dependency, "checks", (json_int_t)s->checks, "failures",
	                  (json_int_t)s->failures, "latency_ms", (json_int_t)s->latency_ms,
	                  "last_error", s->last_error, "address", s->addr));
}

static void srv_metrics(void *arg, const tw_hsched_server_t *s)
{
	struct srv_acc *a = arg;
	char b[128], sv[128];
	lv(s->backend, b, sizeof(b));
	lv(s->server, sv, sizeof(sv));
	sb_printf(a->sb, "tailwart_server_up{backend=\"%s\",server=\"%s\"} %d\n", b, sv, s->up);
	sb_printf(a->sb, "tailwart_server_drained{backend=\"%s\",server=\"%s\"} %d\n", b, sv,
	          s->drained);
	sb_printf(a->sb, "tailwart_health_checks_total{backend=\"%s\",server=\"%s\"} %" PRIu64 "\n",
	          b, sv, s->checks);
	sb_printf(a->sb,
	          "tailwart_health_check_failures_total{backend=\"%s\",server=\"%s\"} %" PRIu64
	          "\n",
	          b, sv, s->failures);
	sb_printf(a->sb, "tailwart_health_check_seconds{backend=\"%s\",server=\"%s\"} %.3f\n", b,
	          sv, (double)s->latency_ms / 1000.0);
}

static void srv_html(void *arg, const tw_hsched_server_t *s)
{
	struct srv_acc *a = arg;
	const char *state = !s->checked_type ? "unchecked" : s->up ? "up" : "down";
	sb_printf(a->sb, "<tr class=\"%s\"><td>", s->drained ? "drained" : state);
	sb_html(a->sb, s->backend);
	sb_printf(a->sb, "</td><td>");
	sb_html(a->sb, s->server);
	sb_printf(a->sb, "</td><td>%s%s</td><td>%s</td><td>", state, s->drained ? ", drained" : "",
	          s->required ? (s->dependency ? "required dependency" : "required")
	                      : (s->dependency ? "dependency" : ""));
	sb_html(a->sb, s->addr);
	sb_printf(a->sb, "</td><td>");
	sb_html(a->sb, s->last_error);
	sb_printf(a->sb, "</td></tr>\n");
}

/* ---- endpoints ---- */

static void readyz(const tw_edge_view_t *v, const tw_admin_req_t *req, tw_admin_resp_t *r)
{
	char why[256];
	bool ready = v->hs && tw_hsched_ready(v->hs, why, sizeof(why));
	if (!v->hs)
		snprintf(why, sizeof(why), "starting");
	if (strcmp(req->query, "verbose") != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s%s\n",
		         ready ? "ready" : "not ready: ", ready ? "" : why);
		text(r, ready ? 200 : 503, msg);
		return;
	}
	struct srv_acc a = {.arr = json_array()};
	if (v->hs)
		tw_hsched_each(v->hs, srv_json, &a);
	char sw[256] = "none (quick mode)";
	bool sok = v->bans && tw_banmgr_store_ok(v->bans, sw, sizeof(sw));
	/* The store is reported, not required: traffic never waits on it. */
	json(r, ready ? 200 : 503,
	     json_pack("{s:b, s:s, s:I, s:o, s:{s:b, s:s}}", "ready", ready, "reason",
	               ready ? "" : why, "generation", (json_int_t)v->generation, "servers", a.arr,
	               "store", "ok", sok, "status", sw));
}

static void metrics(const tw_edge_view_t *v, tw_admin_resp_t *r)
{
	sbuf_t b = {0};
	char l1[128];
	char why[8];
	sb_printf(&b,
	          "# HELP tailwart_ready 1 when every required backend has a healthy server\n"
	          "# TYPE tailwart_ready gauge\ntailwart_ready %d\n",
	          v->hs && tw_hsched_ready(v->hs, why, sizeof(why)));
	sb_printf(&b,
	          "# TYPE tailwart_config_generation gauge\ntailwart_config_generation %" PRIu64
	          "\n",
	          v->generation);
	sb_printf(&b, "# TYPE tailwart_reloads_total counter\ntailwart_reloads_total %" PRIu64 "\n",
	          v->reloads);
	sb_printf(&b,
	          "# TYPE tailwart_reload_failures_total counter\ntailwart_reload_failures_total "
	          "%" PRIu64 "\n",
	          v->reload_failures);
	sb_printf(&b, "# HELP tailwart_listener_connections_total connections accepted\n"
	              "# TYPE tailwart_listener_connections_total counter\n");
	for (size_t i = 0; i < v->routes->n_listeners; i++) {
		const tw_listener_stats_t *s = v->routes->listeners[i].stats;
		sb_printf(&b, "tailwart_listener_connections_total{listener=\"%s\"} %" PRIu64 "\n",
		          lv(s->name, l1, sizeof(l1)), (uint64_t)atomic_load(&s->accepted));
	}
	sb_printf(&b, "# TYPE tailwart_listener_connections_active gauge\n");
	for (size_t i = 0; i < v->routes->n_listeners; i++) {
		const tw_listener_stats_t *s = v->routes->listeners[i].stats;
		sb_printf(&b, "tailwart_listener_connections_active{listener=\"%s\"} %" PRIu64 "\n",
		          lv(s->name, l1, sizeof(l1)), (uint64_t)atomic_load(&s->active));
	}
	sb_printf(&b, "# HELP tailwart_listener_tempfail_total temporary failures sent (no healthy "
	              "server)\n# TYPE tailwart_listener_tempfail_total counter\n");
	for (size_t i = 0; i < v->routes->n_listeners; i++) {
		const tw_listener_stats_t *s = v->routes->listeners[i].stats;
		sb_printf(&b, "tailwart_listener_tempfail_total{listener=\"%s\"} %" PRIu64 "\n",
		          lv(s->name, l1, sizeof(l1)), (uint64_t)atomic_load(&s->tempfail));
		sb_printf(&b, "tailwart_listener_over_maxconn_total{listener=\"%s\"} %" PRIu64 "\n",
		          l1, (uint64_t)atomic_load(&s->over_maxconn));
	}
	sb_printf(&b, "# HELP tailwart_connections_closed_total closed connections by end reason\n"
	              "# TYPE tailwart_connections_closed_total counter\n");
	for (size_t e = 1; e < TW_END_REASONS; e++)
		sb_printf(&b, "tailwart_connections_closed_total{end=\"%s\"} %" PRIu64 "\n",
		          tw_end_names[e], SUM(ends[e]));
	sb_printf(&b,
	          "# TYPE tailwart_bytes_total counter\n"
	          "tailwart_bytes_total{direction=\"in\"} %" PRIu64 "\n"
	          "tailwart_bytes_total{direction=\"out\"} %" PRIu64 "\n",
	          SUM(bytes_in), SUM(bytes_out));
	sb_printf(&b,
	          "# TYPE tailwart_dial_failures_total counter\n"
	          "tailwart_dial_failures_total{family=\"ipv4\"} %" PRIu64 "\n"
	          "tailwart_dial_failures_total{family=\"ipv6\"} %" PRIu64 "\n",
	          SUM(dial_fail_v4), SUM(dial_fail_v6));
	sb_printf(&b, "# HELP tailwart_dial_seconds time to connect to a backend\n"
	              "# TYPE tailwart_dial_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t k = 0; k < TW_DIAL_BUCKETS; k++) {
		cum += SUM(dial_ms_bucket[k]);
		if (k < TW_DIAL_BUCKETS - 1)
			sb_printf(&b, "tailwart_dial_seconds_bucket{le=\"%.3f\"} %" PRIu64 "\n",
			          (double)tw_dial_buckets_ms[k] / 1000.0, cum);
		else
			sb_printf(&b, "tailwart_dial_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
			          cum);
	}
	sb_printf(&b, "tailwart_dial_seconds_sum %.3f\ntailwart_dial_seconds_count %" PRIu64 "\n",
	          (double)SUM(dial_ms_sum) / 1000.0, SUM(dial_count));
	uint64_t pipes = 0, bufs = 0;
	for (int i = 0; i < v->n_workers; i++) {
		uint64_t pp, bb;
		tw_worker_pool_in_use(v->workers[i], &pp, &bb);
		pipes += pp;
		bufs += bb;
	}
	sb_printf(&b,
	          "# HELP tailwart_relay_in_use relay pipes and buffers held by connections\n"
	          "# TYPE tailwart_relay_in_use gauge\n"
	          "tailwart_relay_in_use{kind=\"pipe\"} %" PRIu64 "\n"
	          "tailwart_relay_in_use{kind=\"buffer\"} %" PRIu64 "\n",
	          pipes, bufs);
	sb_printf(&b,
	          "# TYPE tailwart_accept_paused_total counter\ntailwart_accept_paused_total "
	          "%" PRIu64 "\n",
	          SUM(accept_paused));
	sb_printf(&b,
	          "# TYPE tailwart_hello_failures_total counter\ntailwart_hello_failures_total "
	          "%" PRIu64 "\n",
	          SUM(hello_fail));
	if (v->bans) {
		/* A count, not a copy of 10,000 bans per scrape. */
		size_t nb = tw_banmgr_count(v->bans);
		sb_printf(&b, "# TYPE tailwart_bans gauge\ntailwart_bans %zu\n", nb);
		sb_printf(
		        &b,
		        "# TYPE tailwart_auto_bans_total counter\ntailwart_auto_bans_total %" PRIu64
		        "\n",
		        tw_banmgr_auto_bans(v->bans));
		sb_printf(&b, "# TYPE tailwart_store_up gauge\ntailwart_store_up %d\n",
		          tw_banmgr_store_ok(v->bans, NULL, 0));
	}
	sb_printf(&b,
	          "# TYPE tailwart_banned_connections_total counter\n"
	          "tailwart_banned_connections_total %" PRIu64 "\n",
	          SUM(banned));
	sb_printf(&b, "# TYPE tailwart_server_up gauge\n");
	struct srv_acc a = {.sb = &b};
	if (v->hs)
		tw_hsched_each(v->hs, srv_metrics, &a);
	r->status = 200;
	r->body = b.s;
	r->len = b.len;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
}

static void status_page(const tw_edge_view_t *v, tw_admin_resp_t *r)
{
	sbuf_t b = {0};
	char why[256] = "starting";
	bool ready = v->hs && tw_hsched_ready(v->hs, why, sizeof(why));
	sb_printf(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	              "<title>tailwart edge</title><style>"
	              "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
	              "table{border-collapse:collapse;margin:1em 0}"
	              "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
	              ".up td:nth-child(3){color:#060}.down td:nth-child(3){color:#b00}"
	              ".drained td:nth-child(3){color:#a60}</style></head><body>\n");
	sb_printf(&b, "<h1>tailwart edge</h1>\n<p id=\"readiness\">%s",
	          ready ? "Ready" : "Not ready: ");
	if (!ready)
		sb_html(&b, why);
	sb_printf(&b,
	          "</p>\n<p>Configuration generation %" PRIu64 ", %" PRIu64
	          " reloads, %d workers.</p>\n",
	          v->generation, v->reloads, v->n_workers);
	sb_printf(
	        &b,
	        "<h2>Listeners</h2>\n<table id=\"listeners\"><tr><th>name</th><th>protocol</th>"
	        "<th>bind</th><th>active</th><th>accepted</th><th>temporary failures</th></tr>\n");
	for (size_t i = 0; i < v->routes->n_listeners; i++) {
		const tw_rlistener_t *l = &v->routes->listeners[i];
		sb_printf(&b, "<tr><td>");
		sb_html(&b, l->cfg->name);
		sb_printf(&b, "</td><td>%s</td><td>", tw_proto_name(l->cfg->proto));
		for (size_t j = 0; j < l->cfg->n_binds; j++) {
			sb_html(&b, l->cfg->bind_texts[j]);
			sb_printf(&b, "%s", j + 1 < l->cfg->n_binds ? " " : "");
		}
		sb_printf(&b,
		          "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
		          "</td></tr>\n",
		          (uint64_t)atomic_load(&l->stats->active),
		          (uint64_t)atomic_load(&l->stats->accepted),
		          (uint64_t)atomic_load(&l->stats->tempfail));
	}
	sb_printf(&b,
	          "</table>\n<h2>Backends</h2>\n<table id=\"servers\"><tr><th>backend</th>"
	          "<th>server</th><th>health</th><th>role</th><th>address</th><th>last error</th>"
	          "</tr>\n");
	struct srv_acc a = {.sb = &b};
	if (v->hs)
		tw_hsched_each(v->hs, srv_html, &a);
	if (v->bans) {
		tw_store_ban_t *bl;
		size_t nb = tw_banmgr_list(v->bans, &bl);
		sb_printf(&b,
		          "</table>\n<h2>Bans (%zu)</h2>\n<table id=\"bans\"><tr><th>network</th>"
		          "<th>until</th><th>source</th><th>reason</th></tr>\n",
		          nb);
		for (size_t i = nb > 50 ? nb - 50 : 0; i < nb; i++) {
			char until[32] = "forever";
			if (bl[i].until) {
				time_t t = (time_t)bl[i].until;
				struct tm tm;
				gmtime_r(&t, &tm);
				strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%SZ", &tm);
			}
			sb_printf(&b, "<tr><td>");
			sb_html(&b, bl[i].net);
			sb_printf(&b, "</td><td>%s</td><td>", until);
			sb_html(&b, bl[i].source);
			sb_printf(&b, "</td><td>");
			sb_html(&b, bl[i].reason);
			sb_printf(&b, "</td></tr>\n");
		}
		free(bl);
	}
	sb_printf(&b, "</table>\n<h2>Connections</h2>\n<table id=\"ends\"><tr><th>end</th>"
	              "<th>count</th></tr>\n");
	for (size_t e = 1; e < TW_END_REASONS; e++)
		sb_printf(&b, "<tr><td>%s</td><td>%" PRIu64 "</td></tr>\n", tw_end_names[e],
		          SUM(ends[e]));
	sb_printf(&b, "</table>\n</body></html>\n");
	r->status = 200;
	r->body = b.s;
	r->len = b.len;
	r->ctype = "text/html; charset=utf-8";
}

static void routes_json(const tw_edge_view_t *v, tw_admin_resp_t *r)
{
	json_t *ls = json_array();
	for (size_t i = 0; i < v->routes->n_listeners; i++) {
		const tw_rlistener_t *l = &v->routes->listeners[i];
		json_t *binds = json_array(), *sni = json_object();
		for (size_t j = 0; j < l->cfg->n_binds; j++)
			json_array_append_new(binds, json_string(l->cfg->bind_texts[j]));
		for (size_t j = 0; j < l->cfg->n_sni; j++)
			json_object_set_new(sni, l->cfg->sni[j].pattern,
			                    json_string(l->cfg->sni[j].backend));
		json_array_append_new(ls,
		                      json_pack("{s:s, s:s, s:o, s:s?, s:o}", "name", l->cfg->name,
		                                "protocol", tw_proto_name(l->cfg->proto), "bind",
		                                binds, "backend", l->cfg->backend, "sni", sni));
	}
	json(r, 200,
	     json_pack("{s:I, s:o}", "generation", (json_int_t)v->generation, "listeners", ls));
}

static json_t *ban_json(const tw_store_ban_t *b)
{
	return json_pack("{s:s, s:I, s:I, s:i, s:s, s:s}", "net", b->net, "created",
	                 (json_int_t)b->created, "until", (json_int_t)b->until, "repeat",
	                 (int)b->repeat, "source", b->source, "reason", b->reason);
}

static const char *actor(const tw_admin_req_t *req, char *buf, size_t size)
{
	snprintf(buf, size, "api:%s", req->peer);
	return buf;
}

/* GET/POST /api/v1/bans, DELETE /api/v1/bans/NET(/LEN), POST /api/v1/reports */
static bool bans_api(const tw_edge_view_t *v, const tw_admin_req_t *req, const char **seg, int n,
                     tw_admin_resp_t *r)
{
	bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0,
	     del = strcmp(req->method, "DELETE") == 0;
	char err[256] = "", who[96];
	if (!v->bans) {
		json_error(r, 503, "no ban list in quick mode");
		return true;
	}
	if (n == 3 && get && strcmp(seg[2], "bans") == 0) {
		tw_store_ban_t *b;
		size_t k = tw_banmgr_list(v->bans, &b);
		json_t *arr = json_array();
		for (size_t i = 0; i < k; i++)
			json_array_append_new(arr, ban_json(&b[i]));
		free(b);
		char why[256];
		bool ok = tw_banmgr_store_ok(v->bans, why, sizeof(why));
		json(r, 200,
		     json_pack("{s:o, s:{s:b, s:s}}", "bans", arr, "store", "ok", ok, "status",
		               why));
		return true;
	}
	if ((n == 3 && post && strcmp(seg[2], "bans") == 0) ||
	    (n == 3 && post && strcmp(seg[2], "reports") == 0)) {
		json_error_t je;
		json_t *in = json_loadb((const char *)req->body, req->body_len, 0, &je);
		const char *net = NULL, *reason = NULL, *dur = NULL;
		if (!in || json_unpack_ex(in, &je, 0, "{s:s, s?s, s?s}",
		                          strcmp(seg[2], "bans") == 0 ? "net" : "address", &net,
		                          "reason", &reason, "for", &dur) != 0) {
			snprintf(err, sizeof(err),
			         "expected JSON {\"%s\": \"ADDR[/LEN]\", "
			         "\"reason\": \"...\"%s}: %s",
			         strcmp(seg[2], "bans") == 0 ? "net" : "address",
			         strcmp(seg[2], "bans") == 0 ? ", \"for\": \"1h\"" : "", je.text);
			json_decref(in);
			json_error(r, 400, err);
			return true;
		}
		int rc;
		if (strcmp(seg[2], "reports") == 0) {
			rc = tw_banmgr_report(v->bans, net, reason, err, sizeof(err));
		} else {
			uint64_t ms = 0;
			if (dur && tw_duration_parse(dur, strlen(dur), &ms, err, sizeof(err)) < 0) {
				json_decref(in);
				json_error(r, 400, err);
				return true;
			}
			rc = tw_banmgr_add(v->bans, net, ms, reason, actor(req, who, sizeof(who)),
			                   err, sizeof(err));
		}
		json_decref(in);
		if (rc < 0)
			json_error(r, 400, err);
		else
			json(r, strcmp(seg[2], "bans") == 0 ? 201 : 202,
			     json_pack("{s:b}", "ok", 1));
		return true;
	}
	if ((n == 4 || n == 5) && del && strcmp(seg[2], "bans") == 0) {
		char net[96];
		snprintf(net, sizeof(net), "%s%s%s", seg[3], n == 5 ? "/" : "",
		         n == 5 ? seg[4] : "");
		int rc =
		        tw_banmgr_del(v->bans, net, actor(req, who, sizeof(who)), err, sizeof(err));
		if (rc < 0)
			json_error(r, rc == TW_ENOTFOUND ? 404 : 400, err);
		else
			json(r, 200, json_pack("{s:b}", "ok", 1));
		return true;
	}
	return false;
}

void tw_admin_api_handle(const tw_edge_view_t *v, const tw_admin_req_t *req, tw_admin_resp_t *r)
{
	char buf[512];
	const char *seg[8];
	int n = tw_admin_split_path(req->path, buf, sizeof(buf), seg, 8);
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	bool post = strcmp(req->method, "POST") == 0;
	if (n < 0) {
		text(r, 400, "malformed path\n");
		return;
	}
	if (n == 0 && get) {
		status_page(v, r);
		return;
	}
	if (n == 1 && get && strcmp(seg[0], "healthz") == 0) {
		text(r, 200, "ok\n");
		return;
	}
	if (n == 1 && get && strcmp(seg[0], "readyz") == 0) {
		readyz(v, req, r);
		return;
	}
	if (n == 1 && get && strcmp(seg[0], "metrics") == 0) {
		metrics(v, r);
		return;
	}
	if (n >= 2 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v1") == 0) {
		if (n == 3 && get && strcmp(seg[2], "routes") == 0) {
			routes_json(v, r);
			return;
		}
		if (n == 3 && get && strcmp(seg[2], "backends") == 0) {
			struct srv_acc a = {.arr = json_array()};
			if (v->hs)
				tw_hsched_each(v->hs, srv_json, &a);
			json(r, 200, json_pack("{s:o}", "servers", a.arr));
			return;
		}
		/* POST /api/v1/backends/B/servers/S/(drain|ready) */
		if (n == 7 && post && strcmp(seg[2], "backends") == 0 &&
		    strcmp(seg[4], "servers") == 0 &&
		    (strcmp(seg[6], "drain") == 0 || strcmp(seg[6], "ready") == 0)) {
			bool drain = strcmp(seg[6], "drain") == 0;
			if (!v->hs || tw_hsched_drain(v->hs, seg[3], seg[5], drain) < 0) {
				char msg[600];
				snprintf(msg, sizeof(msg), "no server \"%s\" in backend \"%s\"",
				         seg[5], seg[3]);
				json_error(r, 404, msg);
				return;
			}
			json(r, 200,
			     json_pack("{s:s, s:s, s:b}", "backend", seg[3], "server", seg[5],
			               "drained", drain));
			return;
		}
		if (n >= 3 && (strcmp(seg[2], "bans") == 0 || strcmp(seg[2], "reports") == 0) &&
		    bans_api(v, req, seg, n, r))
			return;
		if (n == 3 && post && strcmp(seg[2], "reload") == 0) {
			char msg[512] = "";
			int rc = v->reload ? v->reload(v->ctl, msg, sizeof(msg)) : -1;
			if (rc < 0)
				json_error(r, 422, msg[0] ? msg : "reload failed");
			else
				json(r, 200,
				     json_pack("{s:I}", "generation",
				               (json_int_t)v->generation + 1));
			return;
		}
	}
	if (get || post || strcmp(req->method, "DELETE") == 0)
		text(r, 404, "not found\n");
	else
		text(r, 405, "method not allowed\n");
}
