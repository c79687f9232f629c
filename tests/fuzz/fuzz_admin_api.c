#include "util/tw.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/admin_api.h"
#include "util/log.h"

/*
 * The admin API's router and request bodies: tw_admin_api_handle on a view
 * with the real pieces behind it, the mutable ones new for every input so
 * that an input always gets the same answer:
 *   - a route table from a small fixed config (built once);
 *   - a health scheduler on a private libuv loop that never runs (its
 *     timers are started, never fire), so no check ever dials;
 *   - a ban manager with no workers on that loop, over a SQLite store in
 *     /dev/shm/tw-fuzz-admin-PID (or /tmp/...), a new file per input.
 * After the handler, the scheduler and ban manager are freed and the loop
 * is run until nothing is left on it (handle closes, store jobs).
 *
 * Input: byte 0 picks the method (bits 0-2) and what the view lacks (bit 3:
 * no scheduler, bit 4: no ban list, bit 5: reload fails, bit 6: an IPv6
 * peer, bit 7: send the request three times); then the request target up
 * to the first '\n' ("PATH" or "PATH?QUERY"), then the body (not
 * NUL-terminated: its length is given).
 *
 * Checked: a status in 200..599; 405 only for methods the API doesn't
 * serve; a body whose length is what resp says, with no NUL in it; a JSON
 * content type always carries a body that parses; and with a ban list,
 * GET /api/v1/bans afterwards lists every ban in force.
 */

static const char cfg_text[] = "listeners:\n"
                               "  - name: smtp\n"
                               "    bind: [\"127.0.0.1:2525\"]\n"
                               "    protocol: smtp\n"
                               "    backend: mail\n"
                               "  - name: imaps\n"
                               "    bind: [\"[::1]:9993\"]\n"
                               "    protocol: imaps\n"
                               "    backend: mail\n"
                               "  - name: https\n"
                               "    bind: [\"127.0.0.1:8443\"]\n"
                               "    protocol: tls\n"
                               "    sni:\n"
                               "      \"mta-sts.example.com\": web\n"
                               "      \"*.example.com\": {backend: web, alpn: [h2]}\n"
                               "    default: web\n"
                               "backends:\n"
                               "  mail:\n"
                               "    servers:\n"
                               "      - \"mail1.internal:25\"\n"
                               "      - {address: \"[2001:db8::25]:25\", name: \"mail-2@v6\"}\n"
                               "    required: true\n"
                               "  web: {servers: [\"web.internal:443\"]}\n"
                               "bans:\n"
                               "  reports: {count: 3, window: 1m}\n";

static const char *const methods[8] = {"GET", "POST",  "DELETE",  "HEAD",
                                       "PUT", "PATCH", "OPTIONS", "get"};

static uv_loop_t g_loop;
static tw_routes_t *g_routes;
static char g_dir[64], g_db[96];

static void rm_db_in(const char *dir)
{
	static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
	char p[128];
	for (size_t i = 0; i < TW_ARRAY_LEN(ext); i++) {
		snprintf(p, sizeof(p), "%s/state.db%s", dir, ext[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			TW_BUG_ON(1);
	}
}

static void rm_db(void)
{
	rm_db_in(g_dir);
}

/* A crash ends the process without atexit: the next run removes the
 * directories of fuzzers that are gone (named by pid). */
static void sweep(const char *base)
{
	DIR *d = opendir(base);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid;
		char tail;
		if (sscanf(e->d_name, "tw-fuzz-admin-%d%c", &pid, &tail) != 1 || pid <= 0 ||
		    kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		char dir[128];
		snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
		rm_db_in(dir);
		rmdir(dir);
	}
	closedir(d);
}

static void teardown(void)
{
	if (!g_dir[0])
		return;
	rm_db();
	rmdir(g_dir);
	tw_routes_unref(g_routes);
	uv_run(&g_loop, UV_RUN_NOWAIT);
	uv_loop_close(&g_loop);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	TW_UNUSED(argc);
	TW_UNUSED(argv);
	tw_log_open("fuzz_admin_api", false, TW_LOG_ERR);
	TW_BUG_ON(uv_loop_init(&g_loop) != 0);
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load_string("fuzz.yaml", cfg_text, sizeof(cfg_text) - 1, &d);
	if (c)
		g_routes = tw_routes_build(c, 3, &d);
	if (!g_routes)
		tw_diags_print(&d, stderr);
	TW_BUG_ON(!g_routes);
	tw_diags_release(&d);
	/* tmpfs when there is one: creating a store and closing it (which
	 * checkpoints and fsyncs) costs more on a disk than the rest of the
	 * input. */
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	sweep(base);
	snprintf(g_dir, sizeof(g_dir), "%s/tw-fuzz-admin-%d", base, (int)getpid());
	TW_BUG_ON(mkdir(g_dir, 0700) != 0 && errno != EEXIST);
	rm_db();
	snprintf(g_db, sizeof(g_db), "%s/state.db", g_dir);
	atexit(teardown);
	return 0;
}

static int reload_ok(void *ctl, char *msg, size_t size)
{
	TW_UNUSED(ctl);
	TW_UNUSED(msg);
	TW_UNUSED(size);
	return 0;
}

static int reload_fail(void *ctl, char *msg, size_t size)
{
	TW_UNUSED(ctl);
	snprintf(msg, size, "fuzz.yaml:1: listeners: \"x\" is not a list");
	return TW_EINVAL;
}

static bool known_ctype(const char *ct)
{
	return !ct || strcmp(ct, "application/json") == 0 ||
	       strcmp(ct, "text/plain; version=0.0.4; charset=utf-8") == 0 ||
	       strcmp(ct, "text/html; charset=utf-8") == 0;
}

/* The common checks on any answer; returns the parsed JSON body (or NULL
 * when the answer isn't JSON), which the caller releases. */
static json_t *check_resp(const tw_admin_req_t *req, const tw_admin_resp_t *r)
{
	TW_BUG_ON(r->status < 200 || r->status > 599);
	bool served = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 ||
	              strcmp(req->method, "POST") == 0 || strcmp(req->method, "DELETE") == 0;
	/* Other methods get 405, but a path that doesn't split is 400 and the
	 * ban list in quick mode 503 whatever the method. */
	TW_BUG_ON(served ? r->status == 405
	                 : r->status != 405 && r->status != 400 && r->status != 503);
	TW_BUG_ON(!known_ctype(r->ctype));
	if (r->body) {
		size_t n = strlen(r->body);
		TW_BUG_ON(r->len && r->len != n);
	}
	if (!r->ctype || strcmp(r->ctype, "application/json") != 0)
		return NULL;
	/* A JSON answer always says something (json_pack fails on a string
	 * that isn't UTF-8, which would leave the client an empty body). */
	TW_BUG_ON(!r->body);
	json_error_t je;
	json_t *j = json_loads(r->body, 0, &je);
	TW_BUG_ON(!j);
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > TW_ADMIN_BODY_MAX)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t tlen = nl ? (size_t)(nl - data) : size;
	if (tlen > 8192)
		return 0;
	char *target = malloc(tlen + 1);
	TW_BUG_ON(!target);
	memcpy(target, data, tlen);
	target[tlen] = '\0';
	char *query = strchr(target, '?');
	if (query)
		*query++ = '\0';
	size_t blen = nl ? size - tlen - 1 : 0;
	uint8_t *body = NULL;
	if (nl) {
		body = malloc(blen ? blen : 1);
		TW_BUG_ON(!body);
		memcpy(body, nl + 1, blen);
	}

	tw_hsched_t *hs = NULL;
	if (!(flags & 0x08)) {
		hs = tw_hsched_new(&g_loop, NULL, NULL);
		tw_hsched_apply(hs, g_routes);
	}
	tw_banmgr_t *bans = NULL;
	if (!(flags & 0x10)) {
		tw_store_t *st = NULL;
		char err[256];
		if (tw_store_open(g_db, NULL, &st, err, sizeof(err)) != 0) {
			fprintf(stderr, "store: %s\n", err);
			TW_BUG_ON(1);
		}
		bans = tw_banmgr_new(&g_loop, g_routes->cfg, st, NULL, 0);
	}

	tw_edge_view_t v = {
	        .routes = g_routes,
	        .hs = hs,
	        .workers = NULL,
	        .n_workers = 0,
	        .generation = 3,
	        .reloads = 2,
	        .reload_failures = 1,
	        .started_at = 1700000000,
	        .reload = (flags & 0x20) ? reload_fail : reload_ok,
	        .ctl = NULL,
	        .bans = bans,
	};
	tw_admin_req_t req = {
	        .method = methods[flags & 7],
	        .path = target,
	        .query = query ? query : "",
	        .body = body,
	        .body_len = blen,
	};
	snprintf(req.peer, sizeof(req.peer), "%s",
	         (flags & 0x40) ? "[2001:db8::1]:40312" : "127.0.0.1:40312");

	/* Three times over with bit 7: three reports trip the reports rule, a
	 * second ban of a net repeats it, a second drain changes nothing. */
	for (int i = 0; i < ((flags & 0x80) ? 3 : 1); i++) {
		tw_admin_resp_t r = {0};
		tw_admin_api_handle(&v, &req, &r);
		json_decref(check_resp(&req, &r));
		free(r.body);
	}

	/* Whatever the request did to the ban list, the list shows all of it. */
	if (bans) {
		tw_store_ban_t *bl;
		size_t nb = tw_banmgr_list(bans, &bl);
		free(bl);
		tw_admin_req_t lr = {.method = "GET", .path = "/api/v1/bans", .query = ""};
		tw_admin_resp_t l = {0};
		tw_admin_api_handle(&v, &lr, &l);
		TW_BUG_ON(l.status != 200);
		json_t *j = check_resp(&lr, &l);
		json_t *arr = json_object_get(j, "bans");
		TW_BUG_ON(!json_is_array(arr) || json_array_size(arr) != nb);
		json_decref(j);
		free(l.body);
	}

	/* Nothing else is on the loop: running it to the end completes the
	 * handle closes and any store work the ban manager still has. */
	tw_banmgr_free(bans);
	tw_hsched_free(hs);
	uv_run(&g_loop, UV_RUN_DEFAULT);
	/* A new store for the next input, so that it starts without bans. */
	if (bans)
		rm_db();
	free(body);
	free(target);
	return 0;
}
