#include "util/tw.h"

#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The SQLite store: one connection, WAL, statements prepared once at open.
 * Writes run in BEGIN IMMEDIATE (the write lock is taken up front, so two
 * writers wait on busy_timeout instead of failing on a lock upgrade);
 * reads are single statements, each its own implicit transaction.
 */

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_PUT,
	ST_DEL,
	ST_GET,
	ST_LIST,
	ST_PRUNE,
	ST_AUDIT_ADD,
	ST_AUDIT_LIST,
	ST_DATA_VERSION,
	ST_PING,
	ST_N
};

#define BAN_COLS "id, net, created, until, repeat, source, reason"

static const char *const st_sql[ST_N] = {
        [ST_BEGIN] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_PUT] = ("INSERT INTO bans(net, created, until, repeat, source, reason)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(net) DO UPDATE SET"
                    " created = excluded.created, until = excluded.until,"
                    " repeat = excluded.repeat, source = excluded.source,"
                    " reason = excluded.reason RETURNING id"),
        [ST_DEL] = "DELETE FROM bans WHERE net = ?1",
        [ST_GET] = "SELECT " BAN_COLS " FROM bans WHERE net = ?1",
        [ST_LIST] = "SELECT " BAN_COLS " FROM bans WHERE until = 0 OR until > ?1 ORDER BY net",
        [ST_PRUNE] = "DELETE FROM bans WHERE until <> 0 AND until < ?1",
        [ST_AUDIT_ADD] = "INSERT INTO audit(at, actor, action, detail) VALUES(?1, ?2, ?3, ?4)",
        [ST_AUDIT_LIST] = ("SELECT id, at, actor, action, detail FROM audit"
                           " ORDER BY id DESC LIMIT ?1"),
        [ST_DATA_VERSION] = "PRAGMA data_version",
        [ST_PING] = "SELECT 1",
};

struct sq_store {
	struct tw_store base;
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	int64_t data_version;
};

static const struct tw_store_ops sq_ops;

static int map_rc(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: return -EROFS;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_NOMEM: return TW_ENOMEM;
	case SQLITE_PERM: return -EACCES;
	case SQLITE_CANTOPEN: {
		int e = db ? sqlite3_system_errno(db) : 0;
		return e > 0 ? -e : -EIO;
	}
	default: return -EIO;
	}
}

static int sq_fail(struct sq_store *q, int rc, const char *doing)
{
	return tw__store_seterr(&q->base, map_rc(q->db, rc), "cannot %s in state \"%s\": %s", doing,
	                        q->base.where, sqlite3_errmsg(q->db));
}

static int run(struct sq_store *q, int st, const char *doing)
{
	sqlite3_stmt *p = q->st[st];
	int rc = sqlite3_step(p);
	sqlite3_reset(p);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sq_fail(q, rc, doing);
	return 0;
}

static int begin(struct sq_store *q, const char *doing)
{
	return run(q, ST_BEGIN, doing);
}

static int commit(struct sq_store *q, const char *doing)
{
	int rc = run(q, ST_COMMIT, doing);
	if (rc && sqlite3_get_autocommit(q->db) == 0)
		run(q, ST_ROLLBACK, "roll back");
	return rc;
}

/* Ends a failed write; keeps the first error's text. */
static int rollback(struct sq_store *q, int rc)
{
	if (sqlite3_get_autocommit(q->db) == 0) {
		sqlite3_step(q->st[ST_ROLLBACK]);
		sqlite3_reset(q->st[ST_ROLLBACK]);
	}
	return rc;
}

static void bind_text(sqlite3_stmt *p, int i, const char *s)
{
	sqlite3_bind_text(p, i, s, -1, SQLITE_TRANSIENT);
}

static const char *col_text(sqlite3_stmt *p, int i)
{
	const unsigned char *t = sqlite3_column_text(p, i);
	return t ? (const char *)t : "";
}

static void read_ban(sqlite3_stmt *p, tw_store_ban_t *b)
{
	memset(b, 0, sizeof(*b));
	b->id = sqlite3_column_int64(p, 0);
	tw__store_text(b->net, sizeof(b->net), col_text(p, 1));
	b->created = sqlite3_column_int64(p, 2);
	b->until = sqlite3_column_int64(p, 3);
	b->repeat = sqlite3_column_int(p, 4);
	tw__store_text(b->source, sizeof(b->source), col_text(p, 5));
	tw__store_text(b->reason, sizeof(b->reason), col_text(p, 6));
}

/* ------------------------------------------------------------- ops */

static void sq_close(tw_store_t *s)
{
	struct sq_store *q = (struct sq_store *)s;
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q);
}

static int sq_ban_put(tw_store_t *s, tw_store_ban_t *b)
{
	struct sq_store *q = (struct sq_store *)s;
	int rc = begin(q, "store a ban");
	if (rc)
		return rc;
	sqlite3_stmt *p = q->st[ST_PUT];
	bind_text(p, 1, b->net);
	sqlite3_bind_int64(p, 2, b->created);
	sqlite3_bind_int64(p, 3, b->until);
	sqlite3_bind_int(p, 4, b->repeat);
	bind_text(p, 5, b->source);
	bind_text(p, 6, b->reason);
	int r = sqlite3_step(p);
	if (r == SQLITE_ROW)
		b->id = sqlite3_column_int64(p, 0);
	/* RETURNING: the row is written when the statement runs to its end. */
	while (r == SQLITE_ROW)
		r = sqlite3_step(p);
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	if (r != SQLITE_DONE)
		return rollback(q, sq_fail(q, r, "store a ban"));
	return commit(q, "store a ban");
}

static int sq_ban_del(tw_store_t *s, const char *net)
{
	struct sq_store *q = (struct sq_store *)s;
	int rc = begin(q, "delete a ban");
	if (rc)
		return rc;
	sqlite3_stmt *p = q->st[ST_DEL];
	bind_text(p, 1, net);
	int r = sqlite3_step(p);
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	if (r != SQLITE_DONE)
		return rollback(q, sq_fail(q, r, "delete a ban"));
	bool gone = sqlite3_changes(q->db) > 0;
	rc = commit(q, "delete a ban");
	if (rc)
		return rc;
	if (!gone)
		return tw__store_seterr(s, TW_ENOTFOUND, "no ban for \"%s\"", net);
	return 0;
}

static int sq_ban_get(tw_store_t *s, const char *net, tw_store_ban_t *out)
{
	struct sq_store *q = (struct sq_store *)s;
	sqlite3_stmt *p = q->st[ST_GET];
	bind_text(p, 1, net);
	int r = sqlite3_step(p);
	if (r == SQLITE_ROW)
		read_ban(p, out);
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	if (r == SQLITE_DONE)
		return tw__store_seterr(s, TW_ENOTFOUND, "no ban for \"%s\"", net);
	if (r != SQLITE_ROW)
		return sq_fail(q, r, "read a ban");
	return 0;
}

/* Steps p to its end, growing a malloc'd array of `sz`-byte rows. */
static int collect(struct sq_store *q, sqlite3_stmt *p, size_t sz,
                   void (*read)(sqlite3_stmt *, void *), void **out, size_t *n, const char *doing)
{
	char *v = NULL;
	size_t len = 0, cap = 0;
	int r;
	while ((r = sqlite3_step(p)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char *nv = realloc(v, ncap * sz);
			if (!nv) {
				r = SQLITE_NOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		read(p, v + len * sz);
		len++;
	}
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	if (r != SQLITE_DONE) {
		free(v);
		if (r == SQLITE_NOMEM)
			return tw__store_seterr(&q->base, TW_ENOMEM, "out of memory reading state");
		return sq_fail(q, r, doing);
	}
	*out = v;
	*n = len;
	return 0;
}

static void read_ban_v(sqlite3_stmt *p, void *row)
{
	read_ban(p, row);
}

static void read_audit_v(sqlite3_stmt *p, void *row)
{
	tw_store_audit_t *a = row;
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(p, 0);
	a->at = sqlite3_column_int64(p, 1);
	tw__store_text(a->actor, sizeof(a->actor), col_text(p, 2));
	tw__store_text(a->action, sizeof(a->action), col_text(p, 3));
	tw__store_text(a->detail, sizeof(a->detail), col_text(p, 4));
}

static int sq_ban_list(tw_store_t *s, int64_t now, tw_store_ban_t **out, size_t *n)
{
	struct sq_store *q = (struct sq_store *)s;
	sqlite3_stmt *p = q->st[ST_LIST];
	sqlite3_bind_int64(p, 1, now);
	return collect(q, p, sizeof(**out), read_ban_v, (void **)out, n, "list bans");
}

static int sq_ban_prune(tw_store_t *s, int64_t before)
{
	struct sq_store *q = (struct sq_store *)s;
	int rc = begin(q, "prune bans");
	if (rc)
		return rc;
	sqlite3_stmt *p = q->st[ST_PRUNE];
	sqlite3_bind_int64(p, 1, before);
	int r = sqlite3_step(p);
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	if (r != SQLITE_DONE)
		return rollback(q, sq_fail(q, r, "prune bans"));
	int gone = sqlite3_changes(q->db);
	rc = commit(q, "prune bans");
	return rc ? rc : gone;
}

static int sq_audit_add(tw_store_t *s, const tw_store_audit_t *a)
{
	struct sq_store *q = (struct sq_store *)s;
	int rc = begin(q, "add to the audit log");
	if (rc)
		return rc;
	sqlite3_stmt *p = q->st[ST_AUDIT_ADD];
	sqlite3_bind_int64(p, 1, a->at);
	bind_text(p, 2, a->actor);
	bind_text(p, 3, a->action);
	bind_text(p, 4, a->detail);
	int r = sqlite3_step(p);
	sqlite3_reset(p);
	sqlite3_clear_bindings(p);
	if (r != SQLITE_DONE)
		return rollback(q, sq_fail(q, r, "add to the audit log"));
	return commit(q, "add to the audit log");
}

static int sq_audit_list(tw_store_t *s, size_t limit, tw_store_audit_t **out, size_t *n)
{
	struct sq_store *q = (struct sq_store *)s;
	sqlite3_stmt *p = q->st[ST_AUDIT_LIST];
	sqlite3_bind_int64(p, 1, (sqlite3_int64)limit);
	return collect(q, p, sizeof(**out), read_audit_v, (void **)out, n, "read the audit log");
}

static int read_data_version(struct sq_store *q, int64_t *v)
{
	sqlite3_stmt *p = q->st[ST_DATA_VERSION];
	int r = sqlite3_step(p);
	if (r == SQLITE_ROW)
		*v = sqlite3_column_int64(p, 0);
	sqlite3_reset(p);
	if (r != SQLITE_ROW)
		return sq_fail(q, r, "read data_version");
	return 0;
}

static int sq_poll_changes(tw_store_t *s, bool *changed)
{
	struct sq_store *q = (struct sq_store *)s;
	int64_t v = 0;
	int rc = read_data_version(q, &v);
	if (rc)
		return rc;
	*changed = v != q->data_version;
	q->data_version = v;
	return 0;
}

static int sq_fd(const tw_store_t *s)
{
	return -1;
}

static int sq_ping(tw_store_t *s)
{
	return run((struct sq_store *)s, ST_PING, "ping");
}

static const struct tw_store_ops sq_ops = {
        .kind = "sqlite",
        .close = sq_close,
        .ban_put = sq_ban_put,
        .ban_del = sq_ban_del,
        .ban_get = sq_ban_get,
        .ban_list = sq_ban_list,
        .ban_prune = sq_ban_prune,
        .audit_add = sq_audit_add,
        .audit_list = sq_audit_list,
        .poll_changes = sq_poll_changes,
        .fd = sq_fd,
        .ping = sq_ping,
};

/* ------------------------------------------------------------ open */

/* Creates the missing directories above path (0750), chowning the ones it
 * made when uid != -1. */
static int make_parents(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char dir[4096];
	if (!tw_strlcpy(dir, path, sizeof(dir))) {
		snprintf(err, errlen, "state path \"%s\" is too long", path);
		return TW_EINVAL;
	}
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0)
		return 0;
	/* Walk down from the top, creating what is missing. */
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0750) == 0) {
			if (uid != (uid_t)-1 && lchown(dir, uid, gid) != 0) {
				int e = errno;
				tw__store_fmt_errno(err, errlen, "cannot chown state directory",
				                    dir, e);
				return -e;
			}
		} else if (errno != EEXIST) {
			int e = errno;
			tw__store_fmt_errno(err, errlen, "cannot create state directory", dir, e);
			return -e;
		}
		*p = c;
		if (!c)
			break;
	}
	return 0;
}

/* Creates the file 0640 if missing and, as root, hands it to uid. No
 * symlinks: root chowning a path the daemon user could swap for a link
 * would give that user any file on the system. */
static int prepare_file(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd >= 0) {
		if (fchmod(fd, 0640) != 0) {
			int e = errno;
			close(fd);
			tw__store_fmt_errno(err, errlen, "cannot set the mode of state", path, e);
			return -e;
		}
	} else if (errno == EEXIST) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		int e = errno;
		tw__store_fmt_errno(err, errlen, "cannot open state", path, e);
		return -e;
	}
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) != 0) {
		int e = errno;
		close(fd);
		tw__store_fmt_errno(err, errlen, "cannot chown state", path, e);
		return -e;
	}
	close(fd);
	return 0;
}

static int chown_side_files(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	static const char *const sfx[] = {"-wal", "-shm", "-journal"};
	char p[4200];
	for (size_t i = 0; i < TW_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		if (lchown(p, uid, gid) != 0 && errno != ENOENT) {
			int e = errno;
			tw__store_fmt_errno(err, errlen, "cannot chown state file", p, e);
			return -e;
		}
	}
	return 0;
}

static int exec_sql(struct sq_store *q, const char *sql, const char *doing)
{
	int r = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
	return r == SQLITE_OK ? 0 : sq_fail(q, r, doing);
}

static int schema_version(struct sq_store *q, int *v)
{
	sqlite3_stmt *p = NULL;
	*v = 0;
	int r = sqlite3_prepare_v2(q->db,
	                           "SELECT count(*) FROM sqlite_master"
	                           " WHERE type = 'table' AND name = 'schema_version'",
	                           -1, &p, NULL);
	if (r == SQLITE_OK && (r = sqlite3_step(p)) == SQLITE_ROW) {
		bool exists = sqlite3_column_int(p, 0) > 0;
		sqlite3_finalize(p);
		p = NULL;
		if (!exists)
			return 0;
		r = sqlite3_prepare_v2(q->db,
		                       "SELECT coalesce(max(version), 0) FROM schema_version", -1,
		                       &p, NULL);
		if (r == SQLITE_OK && (r = sqlite3_step(p)) == SQLITE_ROW)
			*v = sqlite3_column_int(p, 0), r = SQLITE_OK;
	} else if (r == SQLITE_ROW) {
		r = SQLITE_OK;
	}
	sqlite3_finalize(p);
	return r == SQLITE_OK ? 0 : sq_fail(q, r, "read the schema version");
}

static int too_new(struct sq_store *q, int v)
{
	return tw__store_seterr(&q->base, TW_EPROTO,
	                        "state \"%s\" has schema version %d, newer than this tailwart knows"
	                        " (%d): upgrade tailwart",
	                        q->base.where, v, TW__STORE_SCHEMA_VERSION);
}

static int migrate(struct sq_store *q)
{
	int v, rc = schema_version(q, &v);
	if (rc)
		return rc;
	if (v > TW__STORE_SCHEMA_VERSION)
		return too_new(q, v);
	if (v == TW__STORE_SCHEMA_VERSION)
		return 0;
	/* Read again under the write lock: another process may have migrated
	 * between our look and the lock. */
	if ((rc = exec_sql(q, "BEGIN IMMEDIATE", "migrate")) != 0)
		return rc;
	if ((rc = schema_version(q, &v)) != 0)
		goto fail;
	if (v > TW__STORE_SCHEMA_VERSION) {
		rc = too_new(q, v);
		goto fail;
	}
	rc = exec_sql(q, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
	              "migrate");
	for (size_t i = 0; !rc && i < tw__store_migrations_n; i++) {
		if (tw__store_migrations[i].version <= v)
			continue;
		char doing[64];
		snprintf(doing, sizeof(doing), "migrate to schema version %d",
		         tw__store_migrations[i].version);
		rc = exec_sql(q, tw__store_migrations[i].sqlite, doing);
	}
	if (!rc) {
		char sql[128];
		snprintf(sql, sizeof(sql),
		         "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
		         TW__STORE_SCHEMA_VERSION);
		rc = exec_sql(q, sql, "migrate");
	}
	if (!rc && (rc = exec_sql(q, "COMMIT", "migrate")) == 0)
		return 0;
fail:
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int setup(struct sq_store *q)
{
	sqlite3_busy_timeout(q->db, 5000);
	sqlite3_extended_result_codes(q->db, 1);
	/* Keep -wal and -shm after the last close: they stay owned by the
	 * daemon's user, who may not be allowed to create files in the
	 * directory. */
	int persist = 1;
	sqlite3_file_control(q->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);

	sqlite3_stmt *p = NULL;
	int r = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &p, NULL);
	if (r == SQLITE_OK && (r = sqlite3_step(p)) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(p, 0);
		bool wal = mode && strcmp(mode, "wal") == 0;
		sqlite3_finalize(p);
		if (!wal)
			return tw__store_seterr(&q->base, -EIO,
			                        "cannot switch state \"%s\" to WAL mode",
			                        q->base.where);
	} else {
		sqlite3_finalize(p);
		return sq_fail(q, r, "switch to WAL mode");
	}
	int rc = exec_sql(q, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "configure");
	if (!rc)
		rc = migrate(q);
	for (int i = 0; !rc && i < ST_N; i++) {
		r = sqlite3_prepare_v3(q->db, st_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
		                       NULL);
		if (r != SQLITE_OK)
			rc = sq_fail(q, r, "prepare a statement");
	}
	if (!rc)
		rc = read_data_version(q, &q->data_version);
	return rc;
}

int tw__store_sqlite_open(const char *path, const char *owner, tw_store_t **out, char *err,
                          size_t errlen)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (owner && owner[0] && geteuid() == 0) {
		struct passwd *pw = getpwnam(owner);
		if (!pw) {
			snprintf(err, errlen, "unknown user \"%s\" to own state \"%s\"", owner,
			         path);
			return TW_EINVAL;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	int rc = make_parents(path, uid, gid, err, errlen);
	if (!rc)
		rc = prepare_file(path, uid, gid, err, errlen);
	if (rc)
		return rc;

	struct sq_store *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, errlen, "out of memory opening state \"%s\"", path);
		return TW_ENOMEM;
	}
	q->base.ops = &sq_ops;
	tw_store_redact(path, q->base.where, sizeof(q->base.where));
	int r = sqlite3_open_v2(path, &q->db,
	                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
	                                SQLITE_OPEN_NOFOLLOW,
	                        NULL);
	if (r != SQLITE_OK) {
		rc = map_rc(q->db, r);
		snprintf(err, errlen, "cannot open state \"%s\": %s", path,
		         q->db ? sqlite3_errmsg(q->db) : "out of memory");
		sq_close(&q->base);
		return rc;
	}
	rc = setup(q);
	if (!rc && uid != (uid_t)-1)
		rc = chown_side_files(path, uid, gid, q->base.err, sizeof(q->base.err));
	if (rc) {
		snprintf(err, errlen, "%s", q->base.err);
		sq_close(&q->base);
		return rc;
	}
	*out = &q->base;
	return 0;
}
