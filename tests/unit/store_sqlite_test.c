#include "util/tw.h"

#include "store/store.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/*
 * The API cases below run against any empty store; store_pg_test.c
 * includes this file with TW_STORE_CASES_ONLY defined to run them on
 * PostgreSQL too, so both backends are held to the same contract.
 */

#define NOW ((int64_t)1700000000)

static void expect_rc(tw_store_t *s, int got, int want, const char *what, const char *errpart)
{
	if (got != want)
		fail_msg("%s: rc=%d (%s) want %d; error: %s", what, got, tw_strerror(got), want,
		         tw_store_error(s));
	if (errpart && !strstr(tw_store_error(s), errpart))
		fail_msg("%s: error \"%s\" lacks \"%s\"", what, tw_store_error(s), errpart);
}

static tw_store_ban_t mkban(const char *net, int64_t until, int repeat, const char *source,
                            const char *reason)
{
	tw_store_ban_t b;
	memset(&b, 0, sizeof(b));
	tw_strlcpy(b.net, net, sizeof(b.net));
	b.created = NOW - 60;
	b.until = until;
	b.repeat = repeat;
	tw_strlcpy(b.source, source, sizeof(b.source));
	tw_strlcpy(b.reason, reason, sizeof(b.reason));
	return b;
}

/* What a put must do to its input: the net normalized, texts cleaned. */
static const struct {
	const char *net, *reason;
	int64_t until;
	int rc;
	const char *want_net, *want_reason, *errpart;
} put_cases[] = {
        {"203.0.113.7", "probe", NOW + 3600, 0, "203.0.113.7/32", "probe", NULL},
        {"2001:db8::/64", "forever", 0, 0, "2001:db8::/64", "forever", NULL},
        {"198.51.100.0/24", "old", NOW - 10, 0, "198.51.100.0/24", "old", NULL},
        {"10.0.0.0/8", "soon", NOW + 100, 0, "10.0.0.0/8", "soon", NULL},
        {"::ffff:192.0.2.1", "mapped", NOW + 50, 0, "192.0.2.1/32", "mapped", NULL},
        {"192.0.2.9/32", "bad \xff utf8 \xc3\xa9", NOW + 50, 0, "192.0.2.9/32",
         "bad ? utf8 \xc3\xa9", NULL},
        {"not-an-ip", "x", 0, TW_EINVAL, NULL, NULL, "bad ban net"},
        {"10.0.0.1/8", "x", 0, TW_EINVAL, NULL, NULL, "host bits"},
        {"", "x", 0, TW_EINVAL, NULL, NULL, "bad ban net"},
        {"10.0.0.0/8", "x", -5, TW_EINVAL, NULL, NULL, "negative time"},
};

/* Bans in force at a time, by net order (bytes, both backends). */
static const struct {
	int64_t at;
	const char *nets[8];
} list_cases[] = {
        {NOW, {"10.0.0.0/8", "192.0.2.1/32", "192.0.2.9/32", "2001:db8::/64", "203.0.113.7/32"}},
        {NOW + 60, {"10.0.0.0/8", "2001:db8::/64", "203.0.113.7/32"}},
        {NOW + 100, {"2001:db8::/64", "203.0.113.7/32"}},
        {NOW + 7200, {"2001:db8::/64"}},
        {NOW - 20,
         {"10.0.0.0/8", "192.0.2.1/32", "192.0.2.9/32", "198.51.100.0/24", "2001:db8::/64",
          "203.0.113.7/32"}},
};

static void check_list(tw_store_t *s, int64_t at, const char *const *nets)
{
	tw_store_ban_t *v = NULL;
	size_t n = 99;
	expect_rc(s, tw_store_ban_list(s, at, &v, &n), 0, "list", NULL);
	size_t want = 0;
	while (want < 8 && nets[want])
		want++;
	if (n != want)
		fail_msg("list at %" PRId64 ": %zu bans, want %zu", at, n, want);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].net, nets[i]) != 0)
			fail_msg("list at %" PRId64 " [%zu]: %s, want %s", at, i, v[i].net,
			         nets[i]);
	free(v);
}

static void api_cases(tw_store_t *s)
{
	int64_t first_id = 0;
	for (size_t i = 0; i < TW_ARRAY_LEN(put_cases); i++) {
		tw_store_ban_t b = mkban(put_cases[i].net, put_cases[i].until, 1, "manual",
		                         put_cases[i].reason);
		int rc = tw_store_ban_put(s, &b);
		expect_rc(s, rc, put_cases[i].rc, put_cases[i].net, put_cases[i].errpart);
		if (rc)
			continue;
		assert_true(b.id > 0);
		if (!first_id)
			first_id = b.id;
		assert_string_equal(b.net, put_cases[i].want_net);
		tw_store_ban_t g;
		expect_rc(s, tw_store_ban_get(s, put_cases[i].want_net, &g), 0, "get", NULL);
		assert_int_equal(g.id, b.id);
		assert_string_equal(g.net, put_cases[i].want_net);
		assert_string_equal(g.reason, put_cases[i].want_reason);
		assert_string_equal(g.source, "manual");
		assert_int_equal(g.until, put_cases[i].until);
		assert_int_equal(g.created, NOW - 60);
		assert_int_equal(g.repeat, 1);
	}
	for (size_t i = 0; i < TW_ARRAY_LEN(list_cases); i++)
		check_list(s, list_cases[i].at, list_cases[i].nets);

	/* An expired ban is still there for its repeat count. */
	tw_store_ban_t g;
	expect_rc(s, tw_store_ban_get(s, "198.51.100.0/24", &g), 0, "get expired", NULL);
	/* Upsert: same net (written differently), same row, new values. */
	tw_store_ban_t b = mkban("203.0.113.7/32", NOW + 7200, 2, "rate", "again");
	b.created = NOW;
	expect_rc(s, tw_store_ban_put(s, &b), 0, "upsert", NULL);
	assert_int_equal(b.id, first_id);
	expect_rc(s, tw_store_ban_get(s, "203.0.113.7", &g), 0, "get bare address", NULL);
	assert_int_equal(g.id, first_id);
	assert_int_equal(g.repeat, 2);
	assert_int_equal(g.until, NOW + 7200);
	assert_int_equal(g.created, NOW);
	assert_string_equal(g.source, "rate");
	assert_string_equal(g.reason, "again");

	expect_rc(s, tw_store_ban_get(s, "192.0.2.200", &g), TW_ENOTFOUND, "get missing",
	          "no ban for \"192.0.2.200/32\"");
	expect_rc(s, tw_store_ban_get(s, "nope", &g), TW_EINVAL, "get bad net", "bad ban net");

	/* Prune: only what expired before the cut; never the permanent. */
	expect_rc(s, tw_store_ban_prune(s, NOW), 1, "prune", NULL);
	expect_rc(s, tw_store_ban_get(s, "198.51.100.0/24", &g), TW_ENOTFOUND, "pruned", NULL);
	expect_rc(s, tw_store_ban_prune(s, NOW + 1000), 3, "prune more", NULL);
	expect_rc(s, tw_store_ban_prune(s, NOW + 1000), 0, "prune again", NULL);
	expect_rc(s, tw_store_ban_get(s, "2001:db8::/64", &g), 0, "permanent stays", NULL);

	expect_rc(s, tw_store_ban_del(s, "2001:db8::/64"), 0, "del", NULL);
	expect_rc(s, tw_store_ban_del(s, "2001:db8::/64"), TW_ENOTFOUND, "del again", "no ban");
	expect_rc(s, tw_store_ban_del(s, "2001:db8::1/64"), TW_EINVAL, "del bad", "host bits");
	check_list(s, NOW + 10, (const char *const[]){"203.0.113.7/32", NULL});
	expect_rc(s, tw_store_ban_del(s, "203.0.113.7"), 0, "del bare", NULL);
	tw_store_ban_t *v = (tw_store_ban_t *)1;
	size_t n = 5;
	expect_rc(s, tw_store_ban_list(s, 0, &v, &n), 0, "list empty", NULL);
	assert_int_equal(n, 0);
	assert_null(v);

	/* Audit: newest first, bounded, texts truncated on a character. */
	static const struct {
		const char *actor, *action, *detail;
	} audit[] = {
	        {"cli:root", "ban.add", "203.0.113.7/32 for 1h"},
	        {"api:127.0.0.1", "ban.del", "203.0.113.7/32"},
	        {"edge:auto", "server.drain", NULL},
	};
	time_t t0 = time(NULL);
	for (size_t i = 0; i < TW_ARRAY_LEN(audit); i++)
		expect_rc(s,
		          tw_store_audit_add(s, audit[i].actor, audit[i].action, audit[i].detail),
		          0, audit[i].action, NULL);
	expect_rc(s, tw_store_audit_add(s, "x", NULL, "y"), TW_EINVAL, "no action", "action");
	tw_store_audit_t *a = NULL;
	expect_rc(s, tw_store_audit_list(s, 2, &a, &n), 0, "audit list", NULL);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].action, "server.drain");
	assert_string_equal(a[0].detail, "");
	assert_string_equal(a[1].actor, "api:127.0.0.1");
	assert_true(a[0].id > a[1].id);
	assert_true(a[0].at >= t0 && a[0].at <= time(NULL));
	free(a);
	expect_rc(s, tw_store_audit_list(s, 0, &a, &n), 0, "audit none", NULL);
	assert_int_equal(n, 0);
	char longtxt[700];
	memset(longtxt, 'a', sizeof(longtxt));
	memcpy(longtxt + 509, "\xc3\xa9\xc3\xa9", 4); /* é straddling the 511-byte limit */
	longtxt[sizeof(longtxt) - 1] = '\0';
	expect_rc(s, tw_store_audit_add(s, "edge:auto", "ban.add", longtxt), 0, "long", NULL);
	expect_rc(s, tw_store_audit_list(s, 100, &a, &n), 0, "audit all", NULL);
	assert_int_equal(n, 4);
	assert_int_equal(strlen(a[0].detail), 511);
	assert_memory_equal(a[0].detail + 509, "\xc3\xa9", 2);
	assert_string_equal(a[3].action, "ban.add");
	free(a);
}

/* A write on `a` shows on `b` (within wait_ms) and not on `a` itself. */
static void change_cases(tw_store_t *a, tw_store_t *b, int wait_ms)
{
	bool changed = true;
	expect_rc(b, tw_store_poll_changes(b, &changed), 0, "poll b", NULL);
	expect_rc(a, tw_store_poll_changes(a, &changed), 0, "poll a", NULL);
	static const char *const nets[] = {"192.0.2.77", "192.0.2.78"};
	for (size_t i = 0; i < TW_ARRAY_LEN(nets); i++) {
		tw_store_ban_t ban = mkban(nets[i], 0, 1, "manual", "change test");
		expect_rc(a, tw_store_ban_put(a, &ban), 0, "put on a", NULL);
		changed = false;
		for (int t = 0; t <= wait_ms && !changed; t += 10) {
			expect_rc(b, tw_store_poll_changes(b, &changed), 0, "poll b", NULL);
			if (!changed)
				usleep(10000);
		}
		if (!changed)
			fail_msg("%s: b saw no change within %d ms", nets[i], wait_ms);
		expect_rc(b, tw_store_poll_changes(b, &changed), 0, "poll b again", NULL);
		assert_false(changed);
		expect_rc(a, tw_store_poll_changes(a, &changed), 0, "poll a", NULL);
		if (changed)
			fail_msg("%s: a reported its own write as a change", nets[i]);
		tw_store_ban_t g;
		expect_rc(b, tw_store_ban_get(b, nets[i], &g), 0, "b reads a's ban", NULL);
	}
	/* And the other way round. */
	expect_rc(b, tw_store_ban_del(b, "192.0.2.77"), 0, "del on b", NULL);
	changed = false;
	for (int t = 0; t <= wait_ms && !changed; t += 10) {
		expect_rc(a, tw_store_poll_changes(a, &changed), 0, "poll a", NULL);
		if (!changed)
			usleep(10000);
	}
	assert_true(changed);
}

/* What tw_store_redact() shows of a spec. */
static const struct {
	const char *in, *out;
} redact_cases[] = {
        {"/var/lib/tailwart/state.db", "/var/lib/tailwart/state.db"},
        {"state.db", "state.db"},
        {"postgresql://edge@db.example/tailwart", "postgresql://edge@db.example/tailwart"},
        {"postgresql://edge:s3cret@db.example:5432/tailwart",
         "postgresql://edge:***@db.example:5432/tailwart"},
        {"postgres://edge:s3cret@db/tw?sslmode=require",
         "postgres://edge:***@db/tw?sslmode=require"},
        {"POSTGRESQL://edge:pw@db/tw", "POSTGRESQL://edge:***@db/tw"},
        {"postgresql://edge:p%40ss@db/tw", "postgresql://edge:***@db/tw"},
        {"postgresql://edge:p@ss@db/tw", "postgresql://edge:***@db/tw"},
        {"postgresql://edge:pa/ss@db/tw", "postgresql://edge:***@db/tw"},
        {"postgresql://edge:@db/tw", "postgresql://edge:***@db/tw"},
        {"postgresql://db/tw?user=edge&password=s3cret&sslmode=require",
         "postgresql://db/tw?user=edge&password=***&sslmode=require"},
        {"postgresql://db/tw?password=s3cret", "postgresql://db/tw?password=***"},
        {"postgresql://db/tw?PassWord=s3cret#frag", "postgresql://db/tw?PassWord=***#frag"},
        {"postgresql://db/tw?sslpassword=k3y&user=x", "postgresql://db/tw?sslpassword=***&user=x"},
        {"postgresql://u:a@db/tw?password=b", "postgresql://u:***@db/tw?password=***"},
        {"postgresql:///tailwart?host=/tmp/s&port=5433&user=postgres",
         "postgresql:///tailwart?host=/tmp/s&port=5433&user=postgres"},
        {"host=db password=s3cret user=edge", "host=db password=*** user=edge"},
        {"host=db password='s3 cret' user=edge", "host=db password=*** user=edge"},
        {"", ""},
};

static void test_redact(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(redact_cases); i++) {
		char out[256];
		tw_store_redact(redact_cases[i].in, out, sizeof(out));
		if (strcmp(out, redact_cases[i].out) != 0)
			fail_msg("redact(%s) = %s, want %s", redact_cases[i].in, out,
			         redact_cases[i].out);
	}
	char small[12];
	tw_store_redact("postgresql://u:secretsecret@h/d", small, sizeof(small));
	assert_string_equal(small, "postgresql:");
	tw_store_redact(NULL, small, sizeof(small));
	assert_string_equal(small, "");
}

#ifndef TW_STORE_CASES_ONLY

#include "store/store_int.h"

/* The helpers every error message and stored text goes through. */
static void test_helpers(void **state)
{
	static const struct {
		const char *in, *out;
	} oneline[] = {
	        /* Bug: a lone "\n" became "; " in place, two bytes for one, so the
	         * writer overtook the reader and ran off the end of the buffer
	         * (a libpq error after a server stop crashed the store). */
	        {"a\nb\nc\nd", "a; b; c; d"},
	        {"connection failed\n\tIs the server running?\n",
	         "connection failed; Is the server running?"},
	        {"FATAL:  x\nserver closed\n\n", "FATAL:  x; server closed"},
	        {"\n\nlead", "lead"},
	        {"", ""},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(oneline); i++) {
		char buf[64];
		tw_strlcpy(buf, oneline[i].in, sizeof(buf));
		tw__store_oneline(buf, sizeof(buf));
		assert_string_equal(buf, oneline[i].out);
	}
	char many[TW__STORE_ERRLEN];
	memset(many, '\n', sizeof(many) - 2);
	many[0] = 'x';
	many[sizeof(many) - 2] = 'y';
	many[sizeof(many) - 1] = '\0';
	tw__store_oneline(many, sizeof(many));
	assert_string_equal(many, "x; y");

	static const struct {
		const char *in, *secret, *out;
	} scrub[] = {
	        {"bad token: \"hunter2\" in hunter2x", "hunter2", "bad token: \"***\" in ***x"},
	        {"host \"pw\" and pwd", "pw", "host \"***\" and pwd"},
	        {"nothing here", "secret", "nothing here"},
	        {"same", "", "same"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(scrub); i++) {
		char buf[64];
		tw_strlcpy(buf, scrub[i].in, sizeof(buf));
		tw__store_scrub(buf, sizeof(buf), scrub[i].secret);
		assert_string_equal(buf, scrub[i].out);
	}

	static const struct {
		const char *in;
		size_t size;
		const char *out;
	} text[] = {
	        {"plain", 16, "plain"},
	        {"caf\xc3\xa9", 16, "caf\xc3\xa9"},
	        {"caf\xc3\xa9", 5, "caf"}, /* never half a character */
	        {"\xff\xfe ok", 16, "?? ok"},
	        {"\xc0\xaf overlong", 16, "?? overlong"},
	        {"\xed\xa0\x80 surrogate", 16, "??? surrogate"},
	        {"\xe2\x82", 16, "??"}, /* cut short */
	        {NULL, 16, ""},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(text); i++) {
		char buf[16];
		tw__store_text(buf, text[i].size, text[i].in);
		assert_string_equal(buf, text[i].out);
	}
}

#include <sqlite3.h>
#include <pwd.h>
#include <sys/stat.h>

static char g_dir[64];

static int group_setup(void **state)
{
	tw_strlcpy(g_dir, "/tmp/tw-store-test.XXXXXX", sizeof(g_dir));
	return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", g_dir, name);
}

static tw_store_t *open_ok(const char *path, const char *owner)
{
	tw_store_t *s = NULL;
	char err[512] = "";
	int rc = tw_store_open(path, owner, &s, err, sizeof(err));
	if (rc)
		fail_msg("open %s: rc=%d %s", path, rc, err);
	return s;
}

static void test_api(void **state)
{
	char p[128];
	path_of(p, sizeof(p), "api.db");
	tw_store_t *s = open_ok(p, NULL);
	assert_string_equal(tw_store_kind(s), "sqlite");
	assert_int_equal(tw_store_fd(s), -1);
	char err[256] = "x";
	assert_int_equal(tw_store_ping(s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	api_cases(s);
	tw_store_close(s);

	/* Reopening finds the data and the schema where they were. */
	s = open_ok(p, NULL);
	tw_store_audit_t *a = NULL;
	size_t n = 0;
	assert_int_equal(tw_store_audit_list(s, 10, &a, &n), 0);
	assert_int_equal(n, 4);
	free(a);
	tw_store_close(s);
	tw_store_close(NULL);
}

static void test_changes(void **state)
{
	char p[128];
	path_of(p, sizeof(p), "changes.db");
	tw_store_t *a = open_ok(p, NULL), *b = open_ok(p, NULL);
	change_cases(a, b, 0);
	tw_store_close(a);
	tw_store_close(b);
}

static void sql(const char *path, const char *q)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *e = NULL;
	if (sqlite3_exec(db, q, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", q, e);
	sqlite3_close(db);
}

static void test_schema(void **state)
{
	char p[128], err[512];
	path_of(p, sizeof(p), "schema.db");
	tw_store_close(open_ok(p, NULL));
	sql(p, "UPDATE schema_version SET version = 99");
	tw_store_t *s = (tw_store_t *)1;
	assert_int_equal(tw_store_open(p, NULL, &s, err, sizeof(err)), TW_EPROTO);
	assert_null(s);
	char want[300];
	snprintf(want, sizeof(want),
	         "state \"%s\" has schema version 99, newer than this tailwart knows (1): upgrade"
	         " tailwart",
	         p);
	assert_string_equal(err, want);
	sql(p, "UPDATE schema_version SET version = 1");
	tw_store_close(open_ok(p, NULL));

	/* Opening a store twice at once migrates once. */
	path_of(p, sizeof(p), "twice.db");
	tw_store_t *a = open_ok(p, NULL), *b = open_ok(p, NULL);
	tw_store_ban_t ban = {.net = "192.0.2.1", .repeat = 1};
	assert_int_equal(tw_store_ban_put(b, &ban), 0);
	tw_store_close(a);
	tw_store_close(b);
}

static void test_open_errors(void **state)
{
	char p[128], q[160], err[512];
	tw_store_t *s = NULL;
	assert_int_equal(tw_store_open("", NULL, &s, err, sizeof(err)), TW_EINVAL);
	assert_string_equal(err, "empty state: give a file path or a postgresql:// URL");
	assert_int_equal(tw_store_open(NULL, NULL, &s, err, sizeof(err)), TW_EINVAL);

	path_of(p, sizeof(p), "plainfile");
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(q, sizeof(q), "%s/sub/state.db", p);
	assert_int_equal(tw_store_open(q, NULL, &s, err, sizeof(err)), -ENOTDIR);
	char want[300];
	snprintf(want, sizeof(want), "cannot create state directory \"%s/sub\": Not a directory",
	         p);
	assert_string_equal(err, want);

	path_of(p, sizeof(p), "notadb.db");
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("this is not a database, it is a text file long enough to have a header......\n", f);
	fclose(f);
	assert_int_not_equal(tw_store_open(p, NULL, &s, err, sizeof(err)), 0);
	assert_null(s);
	assert_non_null(strstr(err, "not a database"));

	path_of(p, sizeof(p), "link.db");
	path_of(q, sizeof(q), "api.db");
	assert_int_equal(symlink(q, p), 0);
	assert_int_equal(tw_store_open(p, NULL, &s, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "cannot open state"));

	/* A failing call leaves its text in tw_store_error(), a good one clears it. */
	path_of(p, sizeof(p), "err.db");
	s = open_ok(p, NULL);
	tw_store_ban_t g;
	assert_int_equal(tw_store_ban_get(s, "192.0.2.1", &g), TW_ENOTFOUND);
	assert_string_equal(tw_store_error(s), "no ban for \"192.0.2.1/32\"");
	assert_int_equal(tw_store_ping(s, NULL, 0), 0);
	assert_string_equal(tw_store_error(s), "");
	tw_store_close(s);
}

static void check_owner(const char *path, uid_t uid, mode_t mode)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	if (st.st_uid != uid)
		fail_msg("%s: owner %u, want %u", path, (unsigned)st.st_uid, (unsigned)uid);
	if (mode && (st.st_mode & 0777) != mode)
		fail_msg("%s: mode %o, want %o", path, (unsigned)(st.st_mode & 0777),
		         (unsigned)mode);
}

static void test_owner(void **state)
{
	if (geteuid() != 0)
		skip();
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		skip();
	uid_t nobody = pw->pw_uid;
	char d[128], p[160], side[200], err[512];
	path_of(d, sizeof(d), "owned");
	snprintf(p, sizeof(p), "%s/deeper/state.db", d);
	tw_store_t *s = open_ok(p, "nobody");
	check_owner(d, nobody, 0750);
	snprintf(side, sizeof(side), "%s/deeper", d);
	check_owner(side, nobody, 0750);
	check_owner(p, nobody, 0640);
	snprintf(side, sizeof(side), "%s-wal", p);
	check_owner(side, nobody, 0640);
	snprintf(side, sizeof(side), "%s-shm", p);
	check_owner(side, nobody, 0640);
	tw_store_ban_t ban = {.net = "192.0.2.1", .repeat = 1};
	assert_int_equal(tw_store_ban_put(s, &ban), 0);
	tw_store_close(s);
	/* The -wal and -shm are kept, still the owner's, after the close. */
	check_owner(side, nobody, 0640);

	/* A root-owned store handed over on the next open. */
	path_of(p, sizeof(p), "rootmade.db");
	tw_store_close(open_ok(p, NULL));
	check_owner(p, 0, 0640);
	s = open_ok(p, "nobody");
	check_owner(p, nobody, 0640);
	snprintf(side, sizeof(side), "%s-wal", p);
	check_owner(side, nobody, 0);
	tw_store_close(s);

	assert_int_equal(tw_store_open(p, "no-such-user-tw", &s, err, sizeof(err)), TW_EINVAL);
	char want[300];
	snprintf(want, sizeof(want), "unknown user \"no-such-user-tw\" to own state \"%s\"", p);
	assert_string_equal(err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_redact), cmocka_unit_test(test_helpers),
	        cmocka_unit_test(test_api),    cmocka_unit_test(test_changes),
	        cmocka_unit_test(test_schema), cmocka_unit_test(test_open_errors),
	        cmocka_unit_test(test_owner),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#endif
