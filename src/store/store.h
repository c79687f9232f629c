/*
 * store.h - the edge's state store: bans and the audit log.
 *
 * One interface, two implementations behind a function table: SQLite
 * (store_sqlite.c, a file, WAL) and PostgreSQL (store_pg.c, libpq), chosen
 * by the spec string: a path, or a "postgresql://" / "postgres://" URL.
 * Both carry the same versioned migrations (schema_version table); opening
 * a store migrates it forward and refuses a schema newer than it knows.
 *
 * Calls block (disk, network): the daemon calls them from its store thread,
 * the CLI directly; never from a worker loop. A store handle is used by one
 * thread at a time. Secrets: a URL's password never appears in errors or
 * logs (tw_store_redact()).
 */
#ifndef TW_STORE_STORE_H
#define TW_STORE_STORE_H

#include "util/tw.h"

typedef struct tw_store tw_store_t;

typedef struct tw_store_ban {
	int64_t id;
	char net[64];    /* CIDR text, normalized: "203.0.113.7/32", "2001:db8::/64" */
	int64_t created; /* unix seconds */
	int64_t until;   /* unix seconds; 0: never expires */
	int32_t repeat;  /* how many times this net was banned (1 first time) */
	char source[32]; /* manual | rate | early_close | tls_garbage | report | log */
	char reason[256];
} tw_store_ban_t;

typedef struct tw_store_audit {
	int64_t id;
	int64_t at;      /* unix seconds */
	char actor[64];  /* "cli:root", "api:127.0.0.1", "edge:auto" */
	char action[32]; /* "ban.add", "ban.del", "server.drain", ... */
	char detail[512];
} tw_store_audit_t;

/*
 * Opens (creating and migrating as needed). For SQLite, `owner` (may be
 * NULL) is a user name: when running as root, the database file and its
 * -wal/-shm files and the directory it creates are chowned to that user,
 * so the daemon that dropped to it can still write. Returns 0 or a negative
 * error with err set ("cannot open state \"/var/lib/x.db\": Permission denied").
 */
int tw_store_open(const char *spec, const char *owner, tw_store_t **out, char *err, size_t errlen);
void tw_store_close(tw_store_t *s);             /* NULL ok */
const char *tw_store_kind(const tw_store_t *s); /* "sqlite" | "postgresql" */

/* Adds or replaces the ban for b->net (same net: until, repeat, source,
 * reason and created are overwritten). id is set on return, and net
 * normalized ("203.0.113.7" -> "203.0.113.7/32"; host bits set: TW_EINVAL);
 * source and reason are stored as valid UTF-8 (bad bytes become '?'). */
int tw_store_ban_put(tw_store_t *s, tw_store_ban_t *b);
/* TW_ENOTFOUND when no ban has that net. */
int tw_store_ban_del(tw_store_t *s, const char *net);
/* The ban for net even if expired (for the repeat count), TW_ENOTFOUND if none. */
int tw_store_ban_get(tw_store_t *s, const char *net, tw_store_ban_t *out);
/* Bans in force at `now` (until == 0 or until > now), ordered by net;
 * *out is malloc'd (free()), may be NULL when *n == 0. */
int tw_store_ban_list(tw_store_t *s, int64_t now, tw_store_ban_t **out, size_t *n);
/* Removes bans that expired before `before` (the caller picks a time far
 * enough back that their repeat count no longer matters); returns how
 * many, or a negative error. */
int tw_store_ban_prune(tw_store_t *s, int64_t before);

int tw_store_audit_add(tw_store_t *s, const char *actor, const char *action, const char *detail);
/* The last `limit` entries, newest first; *out malloc'd. */
int tw_store_audit_list(tw_store_t *s, size_t limit, tw_store_audit_t **out, size_t *n);

/*
 * Change detection for the refresher: *changed is set when another
 * connection (another process, another edge) wrote since the last call.
 * SQLite: PRAGMA data_version. PostgreSQL: LISTEN tailwart_bans,
 * consumed from the socket (tw_store_fd) without blocking.
 */
int tw_store_poll_changes(tw_store_t *s, bool *changed);
/* PostgreSQL: the connection's socket (readable on NOTIFY), -1 while
 * disconnected; it changes on every reconnect, so take it again after a
 * ping succeeds. SQLite: -1 (poll). */
int tw_store_fd(const tw_store_t *s);
/* Cheap liveness check (SELECT 1); reconnects PostgreSQL if it was lost
 * (any other call but poll_changes does too), after which poll_changes
 * reports changed once. */
int tw_store_ping(tw_store_t *s, char *err, size_t errlen);

/* spec with any password replaced by "***", for logs. */
void tw_store_redact(const char *spec, char *out, size_t size);

/*
 * The text of the last failed call on s ("lost the connection to state
 * \"postgresql://edge:***@db/tw\" (store a ban): ..."); "" after a call
 * that succeeded. Owned by s, valid until its next call; never holds a
 * password. The codes: TW_EINVAL (bad net or argument), TW_ENOTFOUND,
 * TW_EPROTO (schema newer than this binary), -ENOTCONN (PostgreSQL
 * unreachable or the connection lost: the next call or ping reconnects),
 * -EBUSY (locked past the 5 s busy timeout, or a PostgreSQL lock conflict),
 * -EACCES, -EROFS, -ENOSPC, TW_ENOMEM, -EIO (any other database error).
 */
const char *tw_store_error(const tw_store_t *s);

#endif
