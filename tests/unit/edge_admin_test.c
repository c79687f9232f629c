/* Unit tests for edge/admin.h's pure helpers (path splitting, query lookup)
 * and edge/admin_api.h's router: status codes, content types and bodies,
 * in quick mode (no scheduler, no ban list) and with a real health
 * scheduler and ban manager on a private loop that runs only to free them. */
#include "util/tw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "edge/admin.h"
#include "edge/admin_api.h"
#include "util/log.h"

/* ------------------------------------------------------------ split_path */

typedef struct split_case {
	const char *path;
	size_t bufsz;
	int max;
	int want;         /* count, or -1 */
	const char *segs; /* the segments joined by '|' */
} split_case_t;

static const split_case_t split_cases[] = {
        {"/", 64, 8, 0, ""},
        {"/healthz", 64, 8, 1, "healthz"},
        {"/api/v1/backends/mail/servers/s1/drain", 64, 8, 7,
         "api|v1|backends|mail|servers|s1|drain"},
        {"/api/v1/bans/", 64, 8, 3, "api|v1|bans"}, /* one trailing slash */
        {"/api/v1/bans/2001:db8::/64", 64, 8, 5, "api|v1|bans|2001:db8::|64"},
        {"/m%C3%A9l/a%20b/%41%62", 64, 8, 3, "m\xc3\xa9l|a b|Ab"},
        {"/.../.a/a.", 64, 8, 3, "...|.a|a."},
        {"/a+b", 64, 8, 1, "a+b"}, /* '+' is not a space in a path */
        /* malformed */
        {"", 64, 8, -1, NULL},
        {"healthz", 64, 8, -1, NULL},
        {"//", 64, 8, -1, NULL},
        {"//a", 64, 8, -1, NULL},
        {"/a//b", 64, 8, -1, NULL},
        {"/a/b//", 64, 8, -1, NULL},
        {"/a/../b", 64, 8, -1, NULL},
        {"/a/./b", 64, 8, -1, NULL},
        {"/..", 64, 8, -1, NULL},
        {"/a/%2e%2E/b", 64, 8, -1, NULL}, /* ".." once decoded */
        {"/a/%2E", 64, 8, -1, NULL},
        {"/a%2Fb", 64, 8, -1, NULL}, /* an escaped '/' is not a separator */
        {"/a%2fb", 64, 8, -1, NULL},
        {"/a%zz", 64, 8, -1, NULL},
        {"/a%4", 64, 8, -1, NULL},
        {"/a%", 64, 8, -1, NULL},
        {"/a%%41", 64, 8, -1, NULL},
        {"/a%00b", 64, 8, -1, NULL},
        /* segment cap */
        {"/a/b/c", 64, 3, 3, "a|b|c"},
        {"/a/b/c", 64, 2, -1, NULL},
        {"/a/b/c/", 64, 3, 3, "a|b|c"},
        {"/", 64, 0, 0, ""},
        {"/a", 64, 0, -1, NULL},
        /* buffer: each segment takes its decoded length plus a NUL */
        {"/abc", 4, 8, 1, "abc"},
        {"/abc", 3, 8, -1, NULL},
        {"/a/b", 4, 8, 2, "a|b"},
        {"/a/b", 3, 8, -1, NULL},
        {"/%41%42", 3, 8, 1, "AB"},
        {"/%41%42", 2, 8, -1, NULL},
        {"/a", 0, 8, -1, NULL},
};

static void test_split_path(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(split_cases); i++) {
		const split_case_t *c = &split_cases[i];
		/* Exact size on the heap: a write past bufsz is an ASan error. */
		char *buf = malloc(c->bufsz ? c->bufsz : 1);
		const char *seg[16];
		assert_non_null(buf);
		int n = tw_admin_split_path(c->path, buf, c->bufsz, seg, c->max);
		if (n != c->want)
			fail_msg("split_path(\"%s\", %zu, %d): got %d, want %d", c->path, c->bufsz,
			         c->max, n, c->want);
		if (n > 0 || (n == 0 && c->want == 0)) {
			char joined[256] = "";
			size_t o = 0;
			for (int k = 0; k < n; k++)
				o += (size_t)snprintf(joined + o, sizeof(joined) - o, "%s%s",
				                      k ? "|" : "", seg[k]);
			if (strcmp(joined, c->segs) != 0)
				fail_msg("split_path(\"%s\"): got \"%s\", want \"%s\"", c->path,
				         joined, c->segs);
		}
		free(buf);
	}
	char buf[8];
	const char *seg[2];
	assert_int_equal(tw_admin_split_path(NULL, buf, sizeof(buf), seg, 2), -1);
}

/* ------------------------------------------------------------- query_get */

typedef struct query_case {
	const char *query, *key;
	size_t bufsz;
	const char *want; /* NULL: absent (or refused) */
} query_case_t;

static const query_case_t query_cases[] = {
        {"verbose", "verbose", 16, ""},
        {"a=1&verbose", "verbose", 16, ""},
        {"verbose&a=1", "a", 16, "1"},
        {"verbose=1", "verbose", 16, "1"},
        {"verbosex=1", "verbose", 16, NULL},
        {"xverbose", "verbose", 16, NULL},
        {"verbos", "verbose", 16, NULL},
        {"", "verbose", 16, NULL},
        {NULL, "verbose", 16, NULL},
        {"k=%41%42c", "k", 16, "ABc"},
        {"k=m%C3%A9l", "k", 16, "m\xc3\xa9l"},
        {"k=a+b", "k", 16, "a+b"},
        {"k=a%26b&c=d", "k", 16, "a&b"},
        {"k=1&k=2", "k", 16, "1"}, /* the first wins */
        {"a=1&&k=2", "k", 16, "2"},
        {"k=", "k", 16, ""},
        {"k=", "k", 1, ""},
        {"k=%4", "k", 16, NULL},
        {"k=%zz", "k", 16, NULL},
        {"k=%00", "k", 16, NULL},
        {"k=%", "k", 16, NULL},
        {"k=abcdef", "k", 7, "abcdef"},
        {"k=abcdef", "k", 6, NULL}, /* no room: refused, not cut short */
        {"k=%41%41%41", "k", 4, "AAA"},
};

static void test_query_get(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(query_cases); i++) {
		const query_case_t *c = &query_cases[i];
		char *buf = malloc(c->bufsz);
		assert_non_null(buf);
		const char *got = tw_admin_query_get(c->query, c->key, buf, c->bufsz);
		if (!c->want) {
			if (got)
				fail_msg("query_get(\"%s\", \"%s\"): got \"%s\", want none",
				         c->query, c->key, got);
		} else {
			if (!got)
				fail_msg("query_get(\"%s\", \"%s\"): got none, want \"%s\"",
				         c->query, c->key, c->want);
			if (got != buf || strcmp(got, c->want) != 0)
				fail_msg("query_get(\"%s\", \"%s\"): got \"%s\", want \"%s\"",
				         c->query, c->key, got, c->want);
		}
		free(buf);
	}
}

/* ------------------------------------------------------------- the router */

static const char cfg_text[] = "listeners:\n"
                               "  - name: smtp\n"
                               "    bind: [\"127.0.0.1:2525\"]\n"
                               "    protocol: smtp\n"
                               "    backend: mail\n"
                               "  - name: https\n"
                               "    bind: [\"127.0.0.1:8443\"]\n"
                               "    protocol: tls\n"
                               "    sni:\n"
                               "      \"*.example.com\": web\n"
                               "    default: web\n"
                               "backends:\n"
                               "  mail:\n"
                               "    servers:\n"
                               "      - \"mail1.internal:25\"\n"
                               "      - {address: \"[2001:db8::25]:25\", name: m2}\n"
                               "    required: true\n"
                               "  web: {servers: [\"web.internal:443\"]}\n"
                               "bans:\n"
                               "  reports: {count: 2, window: 1m}\n";

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_JSON "application/json"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"
#define CT_HTML "text/html; charset=utf-8"

typedef struct api_case {
	const char *method, *path, *query, *body;
	int status;
	const char *ctype; /* as the client sees it: NULL is CT_TEXT */
	const char *has;   /* a substring of the body, or NULL */
} api_case_t;

typedef struct fixture {
	uv_loop_t loop;
	tw_routes_t *routes;
	tw_hsched_t *hs;
	tw_banmgr_t *bans;
	char dir[64], db[96];
	int reloads_asked;
	bool reload_fails;
} fixture_t;

static int on_reload(void *ctl, char *msg, size_t size)
{
	fixture_t *f = ctl;
	f->reloads_asked++;
	if (f->reload_fails) {
		snprintf(msg, size, "t.yaml:3: listeners[0].bind: expected an address");
		return TW_EINVAL;
	}
	return 0;
}

static int setup(void **state)
{
	tw_log_open("edge_admin_test", false, TW_LOG_ERR);
	fixture_t *f = calloc(1, sizeof(*f));
	if (!f || uv_loop_init(&f->loop) != 0)
		return -1;
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load_string("t.yaml", cfg_text, strlen(cfg_text), &d);
	if (c)
		f->routes = tw_routes_build(c, 5, &d);
	tw_diags_print(&d, stderr);
	tw_diags_release(&d);
	if (!f->routes)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/tw-admin-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	tw_banmgr_free(f->bans);
	tw_hsched_free(f->hs);
	uv_run(&f->loop, UV_RUN_DEFAULT); /* closes, and store work still running */
	tw_routes_unref(f->routes);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	static const char *const ext[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < TW_ARRAY_LEN(ext); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s%s", f->db, ext[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The live pieces, for the tests that want them. */
static void go_live(fixture_t *f)
{
	f->hs = tw_hsched_new(&f->loop, NULL, NULL);
	tw_hsched_apply(f->hs, f->routes);
	tw_store_t *st = NULL;
	char err[256];
	if (tw_store_open(f->db, NULL, &st, err, sizeof(err)) != 0)
		fail_msg("store: %s", err);
	f->bans = tw_banmgr_new(&f->loop, f->routes->cfg, st, NULL, 0);
	assert_non_null(f->bans);
}

static tw_edge_view_t view(fixture_t *f)
{
	return (tw_edge_view_t){
	        .routes = f->routes,
	        .hs = f->hs,
	        .generation = 5,
	        .reloads = 4,
	        .reload_failures = 1,
	        .started_at = 1700000000,
	        .reload = on_reload,
	        .ctl = f,
	        .bans = f->bans,
	};
}

static void run_case(fixture_t *f, const api_case_t *c)
{
	tw_edge_view_t v = view(f);
	tw_admin_req_t req = {
	        .method = c->method,
	        .path = c->path,
	        .query = c->query ? c->query : "",
	        .body = (const uint8_t *)c->body,
	        .body_len = c->body ? strlen(c->body) : 0,
	        .peer = "127.0.0.1:40312",
	};
	tw_admin_resp_t r = {0};
	tw_admin_api_handle(&v, &req, &r);
	int status = r.status ? r.status : 200;
	const char *ct = r.ctype ? r.ctype : CT_TEXT;
	const char *body = r.body ? r.body : "";
	const char *want_ct = c->ctype ? c->ctype : CT_TEXT;
	/* The first problem, reported after the body is freed (cmocka's
	 * failure jumps out of this function). */
	char msg[2048] = "";
	json_error_t je;
	json_t *j = NULL;
	if (status != c->status)
		snprintf(msg, sizeof(msg), "status %d, want %d (body: %s)", status, c->status,
		         body);
	else if (strcmp(ct, want_ct) != 0)
		snprintf(msg, sizeof(msg), "content type \"%s\", want \"%s\"", ct, want_ct);
	else if (r.len && r.len != strlen(body))
		snprintf(msg, sizeof(msg), "len %zu but the body has %zu bytes", r.len,
		         strlen(body));
	else if (c->has && !strstr(body, c->has))
		snprintf(msg, sizeof(msg), "body lacks \"%s\": %s", c->has, body);
	else if (strcmp(ct, CT_JSON) == 0 && !(j = json_loads(body, 0, &je)))
		snprintf(msg, sizeof(msg), "JSON body doesn't parse (%s): %s", je.text, body);
	json_decref(j);
	free(r.body);
	if (msg[0])
		fail_msg("%s %s: %s", c->method, c->path, msg);
}

static void run_table(fixture_t *f, const api_case_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_case(f, &t[i]);
}

/* Quick mode: no scheduler yet (starting), no ban list. */
static const api_case_t quick_cases[] = {
        {"GET", "/healthz", NULL, NULL, 200, NULL, "ok\n"},
        {"HEAD", "/healthz", NULL, NULL, 200, NULL, NULL},
        {"GET", "/readyz", NULL, NULL, 503, NULL, "not ready: starting"},
        {"GET", "/readyz", "verbose", NULL, 503, CT_JSON, "\"reason\": \"starting\""},
        {"GET", "/readyz", "verbose", NULL, 503, CT_JSON, "none (quick mode)"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_ready 0\n"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_config_generation 5\n"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM,
         "tailwart_listener_connections_total{listener=\"smtp\"} 0\n"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_dial_seconds_bucket{le=\"+Inf\"}"},
        {"GET", "/", NULL, NULL, 200, CT_HTML, "<h1>tailwart edge</h1>"},
        {"GET", "/api/v1/routes", NULL, NULL, 200, CT_JSON, "\"generation\": 5"},
        {"GET", "/api/v1/routes", NULL, NULL, 200, CT_JSON, "\"*.example.com\": \"web\""},
        {"GET", "/api/v1/backends", NULL, NULL, 200, CT_JSON, "\"servers\": []"},
        {"GET", "/nope", NULL, NULL, 404, NULL, "not found"},
        {"GET", "/healthz/more", NULL, NULL, 404, NULL, NULL},
        {"GET", "/api/v2/routes", NULL, NULL, 404, NULL, NULL},
        {"POST", "/healthz", NULL, NULL, 404, NULL, NULL},
        {"DELETE", "/metrics", NULL, NULL, 404, NULL, NULL},
        {"PUT", "/healthz", NULL, NULL, 405, NULL, "method not allowed"},
        {"PATCH", "/api/v1/routes", NULL, NULL, 405, NULL, NULL},
        {"get", "/healthz", NULL, NULL, 405, NULL, NULL}, /* methods are case-sensitive */
        {"GET", "/a/../healthz", NULL, NULL, 400, NULL, "malformed path"},
        {"GET", "//healthz", NULL, NULL, 400, NULL, NULL},
        {"GET", "/he%zzalthz", NULL, NULL, 400, NULL, NULL},
        {"GET", "/%68ealthz", NULL, NULL, 200, NULL, "ok\n"},
        {"POST", "/api/v1/bans", NULL, "{\"net\": \"203.0.113.7\"}", 503, CT_JSON,
         "no ban list in quick mode"},
        {"POST", "/api/v1/bans", NULL, "not json", 503, CT_JSON, NULL},
        {"GET", "/api/v1/bans", NULL, NULL, 503, CT_JSON, NULL},
        {"DELETE", "/api/v1/bans/203.0.113.7", NULL, NULL, 503, CT_JSON, NULL},
        {"POST", "/api/v1/backends/mail/servers/mail1.internal:25/drain", NULL, NULL, 404, CT_JSON,
         "no server \\\"mail1.internal:25\\\" in backend \\\"mail\\\""},
        {"POST", "/api/v1/reload", NULL, NULL, 200, CT_JSON, "\"generation\": 6"},
};

static void test_api_quick(void **state)
{
	fixture_t *f = *state;
	run_table(f, quick_cases, TW_ARRAY_LEN(quick_cases));
	assert_int_equal(f->reloads_asked, 1);
	f->reload_fails = true;
	run_case(f, &(api_case_t){"POST", "/api/v1/reload", NULL, NULL, 422, CT_JSON,
	                          "listeners[0].bind: expected an address"});
	/* No reload action at all. */
	tw_edge_view_t v = view(f);
	v.reload = NULL;
	tw_admin_req_t req = {.method = "POST", .path = "/api/v1/reload", .query = ""};
	tw_admin_resp_t r = {0};
	tw_admin_api_handle(&v, &req, &r);
	assert_int_equal(r.status, 422);
	assert_non_null(strstr(r.body, "reload failed"));
	free(r.body);
}

/* POST /api/v1/reports in quick mode dereferences the missing ban list
 * (admin_api.c checks !v->bans for "bans" only). */
static void test_api_quick_reports(void **state)
{
	fixture_t *f = *state;
	run_case(f, &(api_case_t){"POST", "/api/v1/reports", NULL, "{\"address\": \"192.0.2.77\"}",
	                          503, CT_JSON, "no ban list in quick mode"});
}

/* The status page in quick mode prints why[] which nothing filled
 * (admin_api.c status_page: ready is false without a scheduler, and only
 * tw_hsched_ready writes why): stack garbage, not NUL-terminated for sure. */
static void test_status_page_starting(void **state)
{
	fixture_t *f = *state;
	run_case(f, &(api_case_t){"GET", "/", NULL, NULL, 200, CT_HTML,
	                          "<p id=\"readiness\">Not ready: starting</p>"});
}

#define E10  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E200 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10 E10

/* With the scheduler and a ban list; the cases run in order. */
static const api_case_t live_cases[] = {
        {"GET", "/readyz", NULL, NULL, 200, NULL, "ready\n"},
        {"GET", "/readyz", "verbose", NULL, 200, CT_JSON, "\"ready\": true"},
        {"GET", "/readyz", "verbose", NULL, 200, CT_JSON, "\"server\": \"m2\""},
        {"GET", "/readyz", "verbose", NULL, 200, CT_JSON, "\"status\": \"ok\""},
        {"GET", "/", NULL, NULL, 200, CT_HTML, "<p id=\"readiness\">Ready</p>"},
        {"GET", "/", NULL, NULL, 200, CT_HTML, "<td>mail</td><td>m2</td>"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_ready 1\n"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_bans 0\n"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_store_up 1\n"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM,
         "tailwart_server_up{backend=\"mail\",server=\"m2\"} 1\n"},
        {"GET", "/api/v1/backends", NULL, NULL, 200, CT_JSON, "\"server\": \"mail1.internal:25\""},
        /* drain and ready */
        {"POST", "/api/v1/backends/mail/servers/mail1.internal:25/drain", NULL, NULL, 200, CT_JSON,
         "\"drained\": true"},
        {"GET", "/readyz", NULL, NULL, 200, NULL, "ready\n"},
        {"POST", "/api/v1/backends/mail/servers/m2/drain", NULL, NULL, 200, CT_JSON, NULL},
        {"GET", "/readyz", NULL, NULL, 503, NULL, "not ready: backend mail"},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM,
         "tailwart_server_drained{backend=\"mail\",server=\"m2\"} 1\n"},
        {"POST", "/api/v1/backends/mail/servers/%6D2/ready", NULL, NULL, 200, CT_JSON,
         "\"drained\": false"},
        {"GET", "/readyz", NULL, NULL, 200, NULL, "ready\n"},
        {"POST", "/api/v1/backends/mail/servers/m3/drain", NULL, NULL, 404, CT_JSON,
         "no server \\\"m3\\\" in backend \\\"mail\\\""},
        {"POST", "/api/v1/backends/web/servers/m2/drain", NULL, NULL, 404, CT_JSON, NULL},
        {"POST", "/api/v1/backends/mail/servers/m2/undrain", NULL, NULL, 404, NULL, NULL},
        {"GET", "/api/v1/backends/mail/servers/m2/drain", NULL, NULL, 404, NULL, NULL},
        /* bans: bodies */
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"bans\": []"},
        {"POST", "/api/v1/bans", NULL, "{\"net\": ", 400, CT_JSON,
         "expected JSON {\\\"net\\\": \\\"ADDR[/LEN]\\\", \\\"reason\\\": \\\"...\\\", "
         "\\\"for\\\": \\\"1h\\\"}"},
        {"POST", "/api/v1/bans", NULL, NULL, 400, CT_JSON, "expected JSON {\\\"net\\\""},
        {"POST", "/api/v1/bans", NULL, "[\"203.0.113.7\"]", 400, CT_JSON, "expected JSON"},
        {"POST", "/api/v1/bans", NULL, "{\"address\": \"203.0.113.7\"}", 400, CT_JSON,
         "expected JSON {\\\"net\\\""},
        {"POST", "/api/v1/bans", NULL, "{\"net\": 7}", 400, CT_JSON, "expected JSON"},
        {"POST", "/api/v1/bans", NULL, "{\"net\": \"203.0.113.7\", \"for\": 3600}", 400, CT_JSON,
         "expected JSON"},
        {"POST", "/api/v1/bans", NULL, "{\"net\": \"203.0.113.7\", \"for\": \"30\"}", 400, CT_JSON,
         "missing unit"},
        {"POST", "/api/v1/bans", NULL, "{\"net\": \"203.0.113.300\"}", 400, CT_JSON, NULL},
        {"POST", "/api/v1/reports", NULL, "{\"net\": \"192.0.2.77\"}", 400, CT_JSON,
         "expected JSON {\\\"address\\\": \\\"ADDR[/LEN]\\\", \\\"reason\\\": \\\"...\\\"}"},
        {"POST", "/api/v1/reports", NULL, "{\"address\": \"192.0.2.0/24\"}", 400, CT_JSON,
         "a report names one address, not a network"},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"bans\": []"},
        /* bans: add, list, delete */
        {"POST", "/api/v1/bans", NULL,
         "{\"net\": \"203.0.113.7\", \"for\": \"1h\", \"reason\": \"spam run\"}", 201, CT_JSON,
         "\"ok\": true"},
        {"POST", "/api/v1/bans", NULL, "{\"net\": \"2001:db8::/64\"}", 201, CT_JSON, NULL},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"net\": \"203.0.113.7/32\""},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"reason\": \"spam run\""},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"net\": \"2001:db8::/64\""},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"reason\": \"manual\""},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_bans 2\n"},
        {"GET", "/", NULL, NULL, 200, CT_HTML, "<h2>Bans (2)</h2>"},
        {"GET", "/", NULL, NULL, 200, CT_HTML, "<td>spam run</td>"},
        {"DELETE", "/api/v1/bans/2001:db8::/64", NULL, NULL, 200, CT_JSON, "\"ok\": true"},
        {"DELETE", "/api/v1/bans/2001:db8::/64", NULL, NULL, 404, CT_JSON,
         "no ban for 2001:db8::/64"},
        {"DELETE", "/api/v1/bans/203.0.113.7", NULL, NULL, 200, CT_JSON, NULL},
        {"DELETE", "/api/v1/bans/not-an-address", NULL, NULL, 400, CT_JSON, NULL},
        {"DELETE", "/api/v1/bans", NULL, NULL, 404, NULL, NULL},
        {"DELETE", "/api/v1/bans/2001:db8::/64/x", NULL, NULL, 404, NULL, NULL},
        {"PUT", "/api/v1/bans", NULL, NULL, 405, NULL, NULL},
        {"GET", "/api/v1/reports", NULL, NULL, 404, NULL, NULL},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"bans\": []"},
        /* reports: the third within the window trips the rule (count 2) */
        {"POST", "/api/v1/reports", NULL, "{\"address\": \"192.0.2.77\", \"reason\": \"auth\"}",
         202, CT_JSON, "\"ok\": true"},
        {"POST", "/api/v1/reports", NULL, "{\"address\": \"192.0.2.77\"}", 202, CT_JSON, NULL},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"bans\": []"},
        {"POST", "/api/v1/reports", NULL, "{\"address\": \"192.0.2.77\"}", 202, CT_JSON, NULL},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"net\": \"192.0.2.77/32\""},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"source\": \"report\""},
        {"GET", "/metrics", NULL, NULL, 200, CT_PROM, "tailwart_auto_bans_total 1\n"},
};

static void test_api_live(void **state)
{
	fixture_t *f = *state;
	go_live(f);
	run_table(f, live_cases, TW_ARRAY_LEN(live_cases));
}

/* A reason cut to fit (255 bytes) inside a UTF-8 sequence: the ban is
 * still listed (jansson refuses a string that isn't UTF-8, and ban_json
 * would drop the entry). */
static const api_case_t reason_cases[] = {
        {"POST", "/api/v1/bans", NULL, "{\"net\": \"192.0.2.9\", \"reason\": \"" E200 "\"}", 201,
         CT_JSON, NULL},
        {"GET", "/api/v1/bans", NULL, NULL, 200, CT_JSON, "\"net\": \"192.0.2.9/32\""},
        {"GET", "/", NULL, NULL, 200, CT_HTML, "<td>192.0.2.9/32</td>"},
        {"DELETE", "/api/v1/bans/192.0.2.9", NULL, NULL, 200, CT_JSON, NULL},
};

static void test_api_ban_reason_cut(void **state)
{
	fixture_t *f = *state;
	go_live(f);
	run_table(f, reason_cases, TW_ARRAY_LEN(reason_cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_split_path),
	        cmocka_unit_test(test_query_get),
	        cmocka_unit_test_setup_teardown(test_api_quick, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_api_quick_reports, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_status_page_starting, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_api_live, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_api_ban_reason_cut, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
