#include "util/tw.h"

#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <libpq-fe.h>
#include <strings.h>

/*
 * The PostgreSQL store: one libpq connection, LISTENing on tailwart_bans.
 * Every statement is a single autocommitted statement sent with
 * PQexecParams (parameters out of band, no quoting), except the migration,
 * which runs in one transaction under an advisory lock. A trigger on bans
 * does the NOTIFY, in the writing transaction.
 *
 * A lost connection is noticed by the call that hits it (it fails with
 * -ENOTCONN). The next ping, or any call but poll_changes, reconnects with
 * PQreset, LISTENs again and remembers that notifications may have been
 * missed, so the next poll_changes says changed.
 */

#define CHANNEL "tailwart_bans"
/* "tailwart" in ASCII: the advisory lock serializing migrations. */
#define MIGRATE_LOCK "8386095522386014836"
#define BAN_COLS     "id, net, created, until, repeat, source, reason"

struct pg_store {
	struct tw_store base;
	PGconn *conn;
	int pid;     /* our backend, to skip our own notifications */
	bool missed; /* reconnected: report a change */
};

static const struct tw_store_ops pg_ops;

static void quiet(void *arg, const char *msg)
{
	/* NOTICEs ("relation exists, skipping") are not errors; libpq would
	 * print them on stderr. */
}

static void scrub_raw(char *out, size_t size, const char *from, size_t len)
{
	char pw[512];
	if (len && len < sizeof(pw)) {
		memcpy(pw, from, len);
		pw[len] = '\0';
		tw__store_scrub(out, size, pw);
	}
}

/*
 * The connection's error message, one line, without the password: libpq
 * quotes the whole URL in some parse errors and the undecodable password
 * alone in others. url may be NULL (reconnects: libpq parsed it already,
 * and PQpass() knows the password).
 */
static void conn_msg(PGconn *c, const char *url, char *out, size_t size)
{
	const char *m = c ? PQerrorMessage(c) : "out of memory";
	tw_strlcpy(out, m && m[0] ? m : "unknown error", size);
	tw__store_oneline(out, size);
	if (c && PQpass(c))
		tw__store_scrub(out, size, PQpass(c));
	if (!url || !url[0])
		return;
	char red[512];
	tw_store_redact(url, red, sizeof(red));
	char *hit = strstr(out, url);
	if (hit && strlen(out) - strlen(url) + strlen(red) < size) {
		char tail[TW__STORE_ERRLEN];
		tw_strlcpy(tail, hit + strlen(url), sizeof(tail));
		snprintf(hit, size - (size_t)(hit - out), "%s%s", red, tail);
	}
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if ((strcmp(o->keyword, "password") == 0 ||
		     strcmp(o->keyword, "sslpassword") == 0) &&
		    o->val)
			tw__store_scrub(out, size, o->val);
	PQconninfoFree(opts);
	/* The raw, still percent-encoded forms. */
	const char *rest = strstr(url, "://");
	const char *at = rest ? strrchr(rest + 3, '@') : NULL;
	const char *colon = at ? memchr(rest + 3, ':', (size_t)(at - rest - 3)) : NULL;
	if (colon)
		scrub_raw(out, size, colon + 1, (size_t)(at - colon - 1));
	for (const char *p = strchr(url, '?'); p && *p; p++) {
		if (p[-1] != '?' && p[-1] != '&')
			continue;
		size_t kl = strncasecmp(p, "password=", 9) == 0       ? 9
		            : strncasecmp(p, "sslpassword=", 12) == 0 ? 12
		                                                      : 0;
		if (kl)
			scrub_raw(out, size, p + kl, strcspn(p + kl, "&#"));
	}
}

static int lost(struct pg_store *p, const char *doing)
{
	char m[TW__STORE_ERRLEN];
	conn_msg(p->conn, NULL, m, sizeof(m));
	return tw__store_seterr(&p->base, -ENOTCONN, "lost the connection to state \"%s\" (%s): %s",
	                        p->base.where, doing, m);
}

static int sqlstate_rc(const char *st)
{
	if (!st)
		return -EIO;
	if (strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 || strcmp(st, "40001") == 0)
		return -EBUSY;
	if (strcmp(st, "42501") == 0)
		return -EACCES;
	if (strcmp(st, "53100") == 0)
		return -ENOSPC;
	if (strcmp(st, "25006") == 0)
		return -EROFS;
	if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0)
		return -ENOTCONN;
	return -EIO;
}

/*
 * Runs one statement. Returns the result (PQclear() it) when its status is
 * `want`, else NULL with the error set in p->base.err and *rc.
 */
static PGresult *exec(struct pg_store *p, const char *doing, ExecStatusType want, int *rc,
                      const char *sql, int nparams, const char *const *vals)
{
	PGresult *r = nparams ? PQexecParams(p->conn, sql, nparams, NULL, vals, NULL, NULL, 0)
	                      : PQexec(p->conn, sql);
	if (r && PQresultStatus(r) == want) {
		*rc = 0;
		return r;
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		PQclear(r);
		*rc = lost(p, doing);
		return NULL;
	}
	char m[TW__STORE_ERRLEN];
	const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	tw_strlcpy(m, prim ? prim : PQerrorMessage(p->conn), sizeof(m));
	tw__store_oneline(m, sizeof(m));
	*rc = tw__store_seterr(
	        &p->base, sqlstate_rc(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL),
	        "cannot %s in state \"%s\": %s", doing, p->base.where, m[0] ? m : "unknown error");
	PQclear(r);
	return NULL;
}

static int exec_cmd(struct pg_store *p, const char *doing, const char *sql)
{
	int rc;
	PGresult *r = exec(p, doing, PGRES_COMMAND_OK, &rc, sql, 0, NULL);
	PQclear(r);
	return rc;
}

static void drain_notifies(struct pg_store *p)
{
	PGnotify *n;
	while ((n = PQnotifies(p->conn)) != NULL)
		PQfreemem(n);
}

/* After every (re)connect: who we are, and LISTEN. */
static int after_connect(struct pg_store *p)
{
	PQsetNoticeProcessor(p->conn, quiet, NULL);
	p->pid = PQbackendPID(p->conn);
	int rc = exec_cmd(p, "listen for changes", "LISTEN " CHANNEL);
	drain_notifies(p);
	return rc;
}

static int reconnect(struct pg_store *p)
{
	PQreset(p->conn);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		char m[TW__STORE_ERRLEN];
		conn_msg(p->conn, NULL, m, sizeof(m));
		return tw__store_seterr(&p->base, -ENOTCONN, "cannot reconnect to state \"%s\": %s",
		                        p->base.where, m);
	}
	int rc = after_connect(p);
	if (rc == 0)
		p->missed = true;
	return rc;
}

static int ensure(struct pg_store *p)
{
	return PQstatus(p->conn) == CONNECTION_OK ? 0 : reconnect(p);
}

static void i64(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%" PRId64, v);
}

static int64_t col_i64(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void read_ban(PGresult *r, int row, tw_store_ban_t *b)
{
	memset(b, 0, sizeof(*b));
	b->id = col_i64(r, row, 0);
	tw__store_text(b->net, sizeof(b->net), PQgetvalue(r, row, 1));
	b->created = col_i64(r, row, 2);
	b->until = col_i64(r, row, 3);
	b->repeat = (int32_t)col_i64(r, row, 4);
	tw__store_text(b->source, sizeof(b->source), PQgetvalue(r, row, 5));
	tw__store_text(b->reason, sizeof(b->reason), PQgetvalue(r, row, 6));
}

/* ------------------------------------------------------------- ops */

static void pg_close(tw_store_t *s)
{
	struct pg_store *p = (struct pg_store *)s;
	PQfinish(p->conn);
	free(p);
}

static int pg_ban_put(tw_store_t *s, tw_store_ban_t *b)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	char created[24], until[24], repeat[24];
	i64(created, sizeof(created), b->created);
	i64(until, sizeof(until), b->until);
	i64(repeat, sizeof(repeat), b->repeat);
	const char *v[] = {b->net, created, until, repeat, b->source, b->reason};
	PGresult *r = exec(p, "store a ban", PGRES_TUPLES_OK, &rc,
	                   "INSERT INTO bans(net, created, until, repeat, source, reason)"
	                   " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (net) DO UPDATE SET"
	                   " created = EXCLUDED.created, until = EXCLUDED.until,"
	                   " repeat = EXCLUDED.repeat, source = EXCLUDED.source,"
	                   " reason = EXCLUDED.reason RETURNING id",
	                   6, v);
	if (!r)
		return rc;
	if (PQntuples(r) == 1)
		b->id = col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_ban_del(tw_store_t *s, const char *net)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	const char *v[] = {net};
	PGresult *r = exec(p, "delete a ban", PGRES_COMMAND_OK, &rc,
	                   "DELETE FROM bans WHERE net = $1", 1, v);
	if (!r)
		return rc;
	bool gone = atoi(PQcmdTuples(r)) > 0;
	PQclear(r);
	if (!gone)
		return tw__store_seterr(s, TW_ENOTFOUND, "no ban for \"%s\"", net);
	return 0;
}

static int pg_ban_get(tw_store_t *s, const char *net, tw_store_ban_t *out)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	const char *v[] = {net};
	PGresult *r = exec(p, "read a ban", PGRES_TUPLES_OK, &rc,
	                   "SELECT " BAN_COLS " FROM bans WHERE net = $1", 1, v);
	if (!r)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return tw__store_seterr(s, TW_ENOTFOUND, "no ban for \"%s\"", net);
	}
	read_ban(r, 0, out);
	PQclear(r);
	return 0;
}

static int pg_ban_list(tw_store_t *s, int64_t now, tw_store_ban_t **out, size_t *n)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	char t[24];
	i64(t, sizeof(t), now);
	const char *v[] = {t};
	/* COLLATE "C": byte order, as SQLite sorts, whatever the database's
	 * locale. */
	PGresult *r = exec(p, "list bans", PGRES_TUPLES_OK, &rc,
	                   "SELECT " BAN_COLS " FROM bans WHERE until = 0 OR until > $1"
	                   " ORDER BY net COLLATE \"C\"",
	                   1, v);
	if (!r)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0) {
		*out = calloc((size_t)rows, sizeof(**out));
		if (!*out) {
			PQclear(r);
			return tw__store_seterr(s, TW_ENOMEM, "out of memory listing bans");
		}
		for (int i = 0; i < rows; i++)
			read_ban(r, i, &(*out)[i]);
	}
	*n = (size_t)rows;
	PQclear(r);
	return 0;
}

static int pg_ban_prune(tw_store_t *s, int64_t before)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	char t[24];
	i64(t, sizeof(t), before);
	const char *v[] = {t};
	PGresult *r = exec(p, "prune bans", PGRES_COMMAND_OK, &rc,
	                   "DELETE FROM bans WHERE until <> 0 AND until < $1", 1, v);
	if (!r)
		return rc;
	int gone = atoi(PQcmdTuples(r));
	PQclear(r);
	return gone;
}

static int pg_audit_add(tw_store_t *s, const tw_store_audit_t *a)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	char at[24];
	i64(at, sizeof(at), a->at);
	const char *v[] = {at, a->actor, a->action, a->detail};
	PGresult *r =
	        exec(p, "add to the audit log", PGRES_COMMAND_OK, &rc,
	             "INSERT INTO audit(at, actor, action, detail) VALUES($1, $2, $3, $4)", 4, v);
	PQclear(r);
	return rc;
}

static int pg_audit_list(tw_store_t *s, size_t limit, tw_store_audit_t **out, size_t *n)
{
	struct pg_store *p = (struct pg_store *)s;
	int rc = ensure(p);
	if (rc)
		return rc;
	char l[24];
	i64(l, sizeof(l), (int64_t)limit);
	const char *v[] = {l};
	PGresult *r = exec(p, "read the audit log", PGRES_TUPLES_OK, &rc,
	                   "SELECT id, at, actor, action, detail FROM audit"
	                   " ORDER BY id DESC LIMIT $1",
	                   1, v);
	if (!r)
		return rc;
	int rows = PQntuples(r);
	if (rows > 0) {
		*out = calloc((size_t)rows, sizeof(**out));
		if (!*out) {
			PQclear(r);
			return tw__store_seterr(s, TW_ENOMEM,
			                        "out of memory reading the audit log");
		}
		for (int i = 0; i < rows; i++) {
			tw_store_audit_t *a = &(*out)[i];
			a->id = col_i64(r, i, 0);
			a->at = col_i64(r, i, 1);
			tw__store_text(a->actor, sizeof(a->actor), PQgetvalue(r, i, 2));
			tw__store_text(a->action, sizeof(a->action), PQgetvalue(r, i, 3));
			tw__store_text(a->detail, sizeof(a->detail), PQgetvalue(r, i, 4));
		}
	}
	*n = (size_t)rows;
	PQclear(r);
	return 0;
}

static int pg_poll_changes(tw_store_t *s, bool *changed)
{
	struct pg_store *p = (struct pg_store *)s;
	if (PQstatus(p->conn) != CONNECTION_OK)
		return tw__store_seterr(s, -ENOTCONN,
		                        "not connected to state \"%s\": waiting for a ping to"
		                        " reconnect",
		                        p->base.where);
	/* Reads only what the socket already holds: libpq's socket is
	 * non-blocking. */
	if (!PQconsumeInput(p->conn))
		return lost(p, "read notifications");
	bool any = p->missed;
	p->missed = false;
	PGnotify *n;
	while ((n = PQnotifies(p->conn)) != NULL) {
		if (n->be_pid != p->pid)
			any = true;
		PQfreemem(n);
	}
	*changed = any;
	return 0;
}

static int pg_fd(const tw_store_t *s)
{
	const struct pg_store *p = (const struct pg_store *)s;
	return PQsocket(p->conn);
}

static int ping_once(struct pg_store *p)
{
	int rc;
	PGresult *r = exec(p, "ping", PGRES_TUPLES_OK, &rc, "SELECT 1", 0, NULL);
	PQclear(r);
	return rc;
}

static int pg_ping(tw_store_t *s)
{
	struct pg_store *p = (struct pg_store *)s;
	bool was_ok = PQstatus(p->conn) == CONNECTION_OK;
	int rc = ensure(p);
	if (rc)
		return rc;
	rc = ping_once(p);
	/* A server restart shows only when the old connection is used: try
	 * a fresh one at once rather than at the next ping. */
	if (rc && was_ok && PQstatus(p->conn) != CONNECTION_OK) {
		rc = reconnect(p);
		if (!rc)
			rc = ping_once(p);
	}
	return rc;
}

static const struct tw_store_ops pg_ops = {
        .kind = "postgresql",
        .close = pg_close,
        .ban_put = pg_ban_put,
        .ban_del = pg_ban_del,
        .ban_get = pg_ban_get,
        .ban_list = pg_ban_list,
        .ban_prune = pg_ban_prune,
        .audit_add = pg_audit_add,
        .audit_list = pg_audit_list,
        .poll_changes = pg_poll_changes,
        .fd = pg_fd,
        .ping = pg_ping,
};

/* ------------------------------------------------------------ open */

static int read_version(struct pg_store *p, int *v)
{
	int rc;
	PGresult *r = exec(p, "read the schema version", PGRES_TUPLES_OK, &rc,
	                   "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL);
	if (!r)
		return rc;
	*v = (int)col_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/*
 * All in one transaction under a transaction-scoped advisory lock: two
 * edges starting together queue here, the second sees the first's
 * version. schema_version is created only when missing, so a role without
 * CREATE on the schema can open an already migrated database.
 */
static int migrate(struct pg_store *p)
{
	int rc = exec_cmd(p, "migrate", "BEGIN");
	if (rc)
		return rc;
	PGresult *r = exec(p, "take the migration lock", PGRES_TUPLES_OK, &rc,
	                   "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL);
	PQclear(r);
	if (rc)
		goto fail;
	r = exec(p, "read the schema version", PGRES_TUPLES_OK, &rc,
	         "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL);
	if (!r)
		goto fail;
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	int v = 0;
	if (!exists)
		rc = exec_cmd(p, "migrate",
		              "CREATE TABLE schema_version(version integer NOT NULL)");
	else
		rc = read_version(p, &v);
	if (rc)
		goto fail;
	if (v > TW__STORE_SCHEMA_VERSION) {
		rc = tw__store_seterr(&p->base, TW_EPROTO,
		                      "state \"%s\" has schema version %d, newer than this tailwart"
		                      " knows (%d): upgrade tailwart",
		                      p->base.where, v, TW__STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (v == TW__STORE_SCHEMA_VERSION)
		return exec_cmd(p, "migrate", "COMMIT");
	for (size_t i = 0; i < tw__store_migrations_n; i++) {
		if (tw__store_migrations[i].version <= v)
			continue;
		char doing[64];
		snprintf(doing, sizeof(doing), "migrate to schema version %d",
		         tw__store_migrations[i].version);
		if ((rc = exec_cmd(p, doing, tw__store_migrations[i].pg)) != 0)
			goto fail;
	}
	char sql[128];
	snprintf(sql, sizeof(sql),
	         "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
	         TW__STORE_SCHEMA_VERSION);
	if ((rc = exec_cmd(p, "migrate", sql)) != 0)
		goto fail;
	return exec_cmd(p, "migrate", "COMMIT");
fail:
	if (PQstatus(p->conn) == CONNECTION_OK)
		PQclear(PQexec(p->conn, "ROLLBACK"));
	return rc;
}

int tw__store_pg_open(const char *url, tw_store_t **out, char *err, size_t errlen)
{
	struct pg_store *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory opening state");
		return TW_ENOMEM;
	}
	p->base.ops = &pg_ops;
	tw_store_redact(url, p->base.where, sizeof(p->base.where));
	/*
	 * Earlier keywords are defaults the URL (expanded from dbname) may
	 * override. Keepalives and tcp_user_timeout: an idle LISTEN
	 * connection to a peer that vanished (a tailnet route gone) would
	 * otherwise look healthy for the kernel's ~15 minutes; with these
	 * the socket errors within about a minute and a ping reconnects.
	 */
	const char *const kw[] = {"connect_timeout",
	                          "keepalives_idle",
	                          "keepalives_interval",
	                          "keepalives_count",
	                          "tcp_user_timeout",
	                          "application_name",
	                          "dbname",
	                          NULL};
	const char *const val[] = {"5", "30", "10", "3", "60000", "tailwart", url, NULL};
	p->conn = PQconnectdbParams(kw, val, 1);
	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
		char m[TW__STORE_ERRLEN];
		conn_msg(p->conn, url, m, sizeof(m));
		snprintf(err, errlen, "cannot connect to state \"%s\": %s", p->base.where, m);
		pg_close(&p->base);
		return -ENOTCONN;
	}
	int rc = after_connect(p);
	if (!rc)
		rc = migrate(p);
	if (rc) {
		snprintf(err, errlen, "%s", p->base.err);
		pg_close(&p->base);
		return rc;
	}
	p->missed = false;
	*out = &p->base;
	return 0;
}
