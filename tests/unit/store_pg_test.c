/*
 * The PostgreSQL store against a real, private server: initdb into a temp
 * dir and started by tests/e2e/pg.sh on a unix socket only (no TCP, a
 * private socket dir, so no clash with anything). Skipped only when not
 * root (the server must run as "postgres") or no server is installed.
 * A guardian process stops the server if this test dies before teardown.
 */
#define TW_STORE_CASES_ONLY
#include "store_sqlite_test.c"

#include "util/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <glob.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>

#define PG_SH TW_SOURCE_ROOT "/tests/e2e/pg.sh"

static char g_dir[64];
static int g_port;
static char g_url[256];
static bool g_ready; /* server up: the cases run */
static int g_guard_fd = -1;
static pid_t g_guard_pid = -1;

static bool have_server(void)
{
	glob_t g;
	bool found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0;
	globfree(&g);
	return found;
}

static int pg_sh(const char *fn, const char *out)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "bash -c '. \"%s\" && %s \"%s\" %d' >%s", PG_SH, fn, g_dir,
	         g_port, out ? out : "/dev/null");
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int server_start(void)
{
	char out[128];
	snprintf(out, sizeof(out), "%s.url", g_dir);
	if (pg_sh("pg_start", out) != 0)
		return -1;
	FILE *f = fopen(out, "r");
	if (!f)
		return -1;
	bool got = fgets(g_url, sizeof(g_url), f) != NULL;
	fclose(f);
	unlink(out);
	g_url[strcspn(g_url, "\n")] = '\0';
	return got ? 0 : -1;
}

static int server_stop(void)
{
	return pg_sh("pg_stop", NULL);
}

static void cleanup_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "store_pg_test: could not remove %s\n", g_dir);
}

/* Waits for our end of a close-on-exec pipe to close (we exited, even by
 * a crash), then stops the server. */
static void start_guardian(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		signal(SIGINT, SIG_IGN);
		char c;
		while (read(p[0], &c, 1) != 0 && errno == EINTR)
			;
		server_stop();
		cleanup_dir();
		_exit(0);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	g_guard_fd = p[1];
	g_guard_pid = pid;
}

static int group_setup(void **state)
{
	if (geteuid() != 0 || !have_server())
		return 0; /* every case skips */
	tw_strlcpy(g_dir, "/tmp/tw-pg-test.XXXXXX", sizeof(g_dir));
	if (!mkdtemp(g_dir))
		return -1;
	/* The socket is private to g_dir: the port only names it. */
	g_port = 20000 + (int)(getpid() % 20000);
	start_guardian();
	if (server_start() != 0) {
		fprintf(stderr, "store_pg_test: cannot start PostgreSQL in %s\n", g_dir);
		return -1;
	}
	g_ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	if (!g_dir[0])
		return 0;
	int rc = server_stop();
	cleanup_dir();
	if (g_guard_fd >= 0) {
		close(g_guard_fd);
		waitpid(g_guard_pid, NULL, 0);
	}
	return rc == 0 ? 0 : -1;
}

static void quiet(void *arg, const char *msg)
{
}

/* Raw SQL beside the store, as another tool would write. */
static void pg_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect %s: %s", url, PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static tw_store_t *open_ok(const char *url)
{
	tw_store_t *s = NULL;
	char err[512] = "";
	int rc = tw_store_open(url, NULL, &s, err, sizeof(err));
	if (rc)
		fail_msg("open %s: rc=%d %s", url, rc, err);
	return s;
}

static void need_server(void)
{
	if (!g_ready)
		skip();
}

static void fresh(void)
{
	pg_exec(g_url, "DROP TABLE IF EXISTS bans, audit, schema_version;"
	               " DROP FUNCTION IF EXISTS tailwart_bans_notify()");
}

static void test_api(void **state)
{
	need_server();
	fresh();
	tw_store_t *s = open_ok(g_url);
	assert_string_equal(tw_store_kind(s), "postgresql");
	assert_true(tw_store_fd(s) >= 0);
	char err[256] = "x";
	assert_int_equal(tw_store_ping(s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	api_cases(s);
	tw_store_close(s);
}

static void test_changes(void **state)
{
	need_server();
	fresh();
	tw_store_t *a = open_ok(g_url), *b = open_ok(g_url);
	change_cases(a, b, 2000);
	/* The trigger notifies for writes made outside tailwart too. */
	bool changed = false;
	assert_int_equal(tw_store_poll_changes(a, &changed), 0);
	pg_exec(g_url, "UPDATE bans SET reason = 'by hand'");
	for (int t = 0; t < 200 && !changed; t++) {
		assert_int_equal(tw_store_poll_changes(a, &changed), 0);
		if (!changed)
			usleep(10000);
	}
	assert_true(changed);
	/* Audit writes are not ban changes. */
	assert_int_equal(tw_store_audit_add(b, "cli:root", "server.drain", "x"), 0);
	usleep(100000);
	assert_int_equal(tw_store_poll_changes(a, &changed), 0);
	assert_false(changed);
	tw_store_close(a);
	tw_store_close(b);
}

static void test_schema(void **state)
{
	need_server();
	fresh();
	tw_store_close(open_ok(g_url));
	pg_exec(g_url, "UPDATE schema_version SET version = 99");
	tw_store_t *s = NULL;
	char err[512], want[512], red[256];
	assert_int_equal(tw_store_open(g_url, NULL, &s, err, sizeof(err)), TW_EPROTO);
	assert_null(s);
	tw_store_redact(g_url, red, sizeof(red));
	snprintf(want, sizeof(want),
	         "state \"%s\" has schema version 99, newer than this tailwart knows (1): upgrade"
	         " tailwart",
	         red);
	assert_string_equal(err, want);
	pg_exec(g_url, "UPDATE schema_version SET version = 1");
	tw_store_close(open_ok(g_url));
}

/* Edges starting together on an empty database: the advisory lock lets
 * one migrate, the others wait and find it done. */
static void test_migrate_race(void **state)
{
	need_server();
	fresh();
	enum { N = 4 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			tw_store_t *s = NULL;
			char err[512];
			int rc = tw_store_open(g_url, NULL, &s, err, sizeof(err));
			if (rc)
				fprintf(stderr, "child %d: %s\n", i, err);
			tw_store_close(s);
			_exit(rc ? 1 : 0);
		}
	}
	for (int i = 0; i < N; i++) {
		int st = 0;
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("child %d failed to open a fresh database", i);
	}
	tw_store_t *s = open_ok(g_url);
	tw_store_ban_t b = {.net = "192.0.2.5", .repeat = 1};
	assert_int_equal(tw_store_ban_put(s, &b), 0);
	tw_store_close(s);
}

/* The server goes away and comes back: calls fail with a clear message,
 * ping reconnects, changes are reported, the data is still there. */
static void test_outage(void **state)
{
	need_server();
	fresh();
	tw_store_t *a = open_ok(g_url);
	tw_store_ban_t b = {.net = "198.51.100.7", .repeat = 3, .source = "manual"};
	assert_int_equal(tw_store_ban_put(a, &b), 0);
	bool changed = true;
	assert_int_equal(tw_store_poll_changes(a, &changed), 0);
	assert_false(changed);

	assert_int_equal(server_stop(), 0);
	char red[256], want[400];
	tw_store_redact(g_url, red, sizeof(red));
	tw_store_ban_t g;
	assert_int_equal(tw_store_ban_get(a, "198.51.100.7", &g), -ENOTCONN);
	snprintf(want, sizeof(want), "lost the connection to state \"%s\" (read a ban): ", red);
	if (strncmp(tw_store_error(a), want, strlen(want)) != 0)
		fail_msg("error \"%s\" doesn't start with \"%s\"", tw_store_error(a), want);
	assert_null(strchr(tw_store_error(a), '\n'));
	assert_int_equal(tw_store_poll_changes(a, &changed), -ENOTCONN);
	assert_non_null(strstr(tw_store_error(a), "not connected to state"));
	assert_int_equal(tw_store_ban_put(a, &b), -ENOTCONN);
	snprintf(want, sizeof(want), "cannot reconnect to state \"%s\": ", red);
	if (strncmp(tw_store_error(a), want, strlen(want)) != 0)
		fail_msg("error \"%s\" doesn't start with \"%s\"", tw_store_error(a), want);
	char err[512] = "";
	assert_int_equal(tw_store_ping(a, err, sizeof(err)), -ENOTCONN);
	assert_non_null(strstr(err, "cannot reconnect to state"));
	assert_int_equal(tw_store_fd(a), -1);

	assert_int_equal(server_start(), 0);
	assert_int_equal(tw_store_ping(a, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(tw_store_fd(a) >= 0);
	assert_int_equal(tw_store_poll_changes(a, &changed), 0);
	assert_true(changed);
	assert_int_equal(tw_store_poll_changes(a, &changed), 0);
	assert_false(changed);
	assert_int_equal(tw_store_ban_get(a, "198.51.100.7", &g), 0);
	assert_int_equal(g.repeat, 3);

	/* A restart the store didn't see: ping notices and reconnects at once. */
	assert_int_equal(server_stop(), 0);
	assert_int_equal(server_start(), 0);
	assert_int_equal(tw_store_ping(a, err, sizeof(err)), 0);
	assert_int_equal(tw_store_poll_changes(a, &changed), 0);
	assert_true(changed);
	/* And LISTEN was renewed on the new connection. */
	tw_store_t *b2 = open_ok(g_url);
	assert_int_equal(tw_store_ban_del(b2, "198.51.100.7"), 0);
	changed = false;
	for (int t = 0; t < 200 && !changed; t++) {
		assert_int_equal(tw_store_poll_changes(a, &changed), 0);
		if (!changed)
			usleep(10000);
	}
	assert_true(changed);
	tw_store_close(b2);
	tw_store_close(a);
}

/* Connection errors never show a password, even where libpq quotes it. */
static const struct {
	const char *url, *secret, *want;
} conn_err_cases[] = {
        {"postgresql://edge:hunter2hunter@/tw?host=/nonexistent-tw&port=5", "hunter2hunter",
         "cannot connect to state \"postgresql://edge:***@/tw?host=/nonexistent-tw&port=5\": "
         "connection to server on socket \"/nonexistent-tw/.s.PGSQL.5\" failed: No such file or "
         "directory; Is the server running locally and accepting connections on that socket?"},
        {"postgresql:///tw?host=/nonexistent-tw&password=hunter2hunter", "hunter2hunter",
         "cannot connect to state \"postgresql:///tw?host=/nonexistent-tw&password=***\": "},
        {"postgresql://edge:hun%zzter2@/tw", "hun%zzter2",
         "cannot connect to state \"postgresql://edge:***@/tw\": invalid percent-encoded token: "
         "\"***\""},
        {"postgresql://edge:hunter2@[::1/tw", "hunter2",
         "cannot connect to state \"postgresql://edge:***@[::1/tw\": end of string reached when "
         "looking for matching \"]\" in IPv6 host address in URI: "
         "\"postgresql://edge:***@[::1/tw\""},
        {"postgresql://edge:pw@/tw?host=/nonexistent-tw&bogus=1", "pw",
         "cannot connect to state \"postgresql://edge:***@/tw?host=/nonexistent-tw&bogus=1\": "
         "invalid URI query parameter: \"bogus\""},
        {"postgresql://edge:pw@/tw?host=/nonexistent-tw&password=a%00b", "a%00b", NULL},
};

static void test_conn_errors(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(conn_err_cases); i++) {
		tw_store_t *s = (tw_store_t *)1;
		char err[512] = "";
		int rc = tw_store_open(conn_err_cases[i].url, NULL, &s, err, sizeof(err));
		if (rc != -ENOTCONN || s)
			fail_msg("%s: rc=%d", conn_err_cases[i].url, rc);
		if (strstr(err, conn_err_cases[i].secret))
			fail_msg("%s: the password shows in \"%s\"", conn_err_cases[i].url, err);
		const char *w = conn_err_cases[i].want;
		if (w && strncmp(err, w, strlen(w)) != 0)
			fail_msg("%s:\n got \"%s\"\nwant \"%s\"", conn_err_cases[i].url, err, w);
		if (!w && !strstr(err, "***"))
			fail_msg("%s: \"%s\" not redacted", conn_err_cases[i].url, err);
	}
}

/* connect_timeout=5 unless the URL says otherwise: a server that never
 * answers must not hang the store thread for the kernel's TCP timeout. A
 * loopback socket that listens but never accepts is such a server. */
static void test_connect_timeout(void **state)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t len = sizeof(sin);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, len), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	static const struct {
		const char *query;
		uint64_t min_ms, max_ms;
	} cases[] = {
	        {"?connect_timeout=1", 900, 3500},
	        {"", 4500, 9000},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		char url[128], err[512];
		snprintf(url, sizeof(url), "postgresql://edge@127.0.0.1:%u/tw%s",
		         (unsigned)ntohs(sin.sin_port), cases[i].query);
		uint64_t t0 = tw_now_ms();
		tw_store_t *s = NULL;
		assert_int_equal(tw_store_open(url, NULL, &s, err, sizeof(err)), -ENOTCONN);
		uint64_t ms = tw_now_ms() - t0;
		if (ms < cases[i].min_ms || ms > cases[i].max_ms)
			fail_msg("%s: gave up after %llu ms: %s", url, (unsigned long long)ms, err);
		if (!strstr(err, "timeout"))
			fail_msg("%s: \"%s\" doesn't say timeout", url, err);
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_redact),          cmocka_unit_test(test_conn_errors),
	        cmocka_unit_test(test_connect_timeout), cmocka_unit_test(test_api),
	        cmocka_unit_test(test_changes),         cmocka_unit_test(test_schema),
	        cmocka_unit_test(test_migrate_race),    cmocka_unit_test(test_outage),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
