/*
 * store_int.h - what store.c (the dispatcher) and the backends share.
 *
 * A backend's handle starts with a struct tw_store (its `ops` and error
 * text), so store.c can dispatch through the table. store.c checks and
 * cleans the arguments (NULLs, nets normalized, text valid UTF-8 within the
 * field sizes of store.h) before calling a backend, so backends trust them.
 * A backend returns 0 / a count, or a negative error after filling
 * s->err with tw__store_seterr().
 */
#ifndef TW_STORE_STORE_INT_H
#define TW_STORE_STORE_INT_H

#include "util/tw.h"

#include "store/store.h"

#define TW__STORE_ERRLEN 512

struct tw_store_ops {
	const char *kind;
	void (*close)(tw_store_t *s);
	int (*ban_put)(tw_store_t *s, tw_store_ban_t *b);
	int (*ban_del)(tw_store_t *s, const char *net);
	int (*ban_get)(tw_store_t *s, const char *net, tw_store_ban_t *out);
	int (*ban_list)(tw_store_t *s, int64_t now, tw_store_ban_t **out, size_t *n);
	int (*ban_prune)(tw_store_t *s, int64_t before);
	int (*audit_add)(tw_store_t *s, const tw_store_audit_t *a);
	int (*audit_list)(tw_store_t *s, size_t limit, tw_store_audit_t **out, size_t *n);
	int (*poll_changes)(tw_store_t *s, bool *changed);
	int (*fd)(const tw_store_t *s);
	int (*ping)(tw_store_t *s);
};

struct tw_store {
	const struct tw_store_ops *ops;
	char where[256];            /* the redacted spec, for messages */
	char err[TW__STORE_ERRLEN]; /* the last error; "" after success */
};

/* One schema step for each dialect; applied in order, each in the same
 * transaction as the schema_version update. */
struct tw__store_migration {
	int version;
	const char *sqlite;
	const char *pg;
};
extern const struct tw__store_migration tw__store_migrations[];
extern const size_t tw__store_migrations_n;
#define TW__STORE_SCHEMA_VERSION 1

int tw__store_sqlite_open(const char *path, const char *owner, tw_store_t **out, char *err,
                          size_t errlen);
int tw__store_pg_open(const char *url, tw_store_t **out, char *err, size_t errlen);

/* Fills s->err (truncating) and returns rc, so `return tw__store_seterr(...)`. */
__attribute__((format(printf, 3, 4))) int tw__store_seterr(tw_store_t *s, int rc, const char *fmt,
                                                           ...);

/* Joins a multi-line driver message into one line ("a\n\tb\n" -> "a; b") in
 * place; msg holds size bytes (at most TW__STORE_ERRLEN are kept). */
void tw__store_oneline(char *msg, size_t size);

/* Replaces every occurrence of secret in msg (in place, bounded by size) by
 * "***". A secret shorter than 4 bytes is only replaced where it stands in
 * double quotes, so a one-letter password doesn't shred the message. */
void tw__store_scrub(char *msg, size_t size, const char *secret);

/* Copies src into dst (size bytes) as valid UTF-8: invalid bytes become
 * '?', and truncation never splits a character. NULL src gives "". */
void tw__store_text(char *dst, size_t size, const char *src);

/* "what \"where\": msg" from an errno value (no backend handle yet). */
void tw__store_fmt_errno(char *err, size_t errlen, const char *what, const char *where, int e);

#endif
