/*
 * banmgr.h - the ban list's owner, on the control loop.
 *
 * Keeps the bans in force in memory (the store's copy, plus what was added
 * while the store was away), publishes them to every worker as an
 * immutable tw_banset_t (bans.h), and keeps the store in step:
 *   - every second, asks the store whether another writer changed it
 *     (SQLite data_version, PostgreSQL NOTIFY), and reloads the list if so:
 *     a `tailwart ban add` or another edge's ban is enforced within ~1 s;
 *   - drains the workers' trigger events into the tracker and writes the
 *     bans it decides (doubling with each repeat of the same network);
 *   - tails the `log_ban` files and counts matching lines as reports.
 * The store going away never stops traffic: the in-memory list stays, bans
 * made meanwhile are written when it comes back, and its state is reported.
 * Store calls run on libuv's thread pool, one at a time, never on the
 * control loop or a worker: a frozen database delays writes, nothing else.
 */
#ifndef TW_EDGE_BANMGR_H
#define TW_EDGE_BANMGR_H

#include "util/tw.h"

#include <uv.h>

#include "edge/config.h"
#include "edge/worker.h"
#include "store/store.h"

typedef struct tw_banmgr tw_banmgr_t;

/* Takes over `store` (opened by the caller before dropping privileges, so
 * the files can be created and chowned to cfg->user), or opens cfg->state
 * itself when NULL. A store that can't be opened is logged and retried;
 * never fatal. */
tw_banmgr_t *tw_banmgr_new(uv_loop_t *loop, const tw_config_t *cfg, tw_store_t *store,
                           tw_worker_t **workers, int n_workers);
/* New policy and allow list from a reloaded config (state: restart only). */
void tw_banmgr_configure(tw_banmgr_t *m, const tw_config_t *cfg);
void tw_banmgr_free(tw_banmgr_t *m); /* NULL ok */

/* Manual ban of net ("203.0.113.7", "2001:db8::/64") for for_ms (0:
 * forever). actor names who did it in the audit log. */
int tw_banmgr_add(tw_banmgr_t *m, const char *net, uint64_t for_ms, const char *reason,
                  const char *actor, char *err, size_t errlen);
int tw_banmgr_del(tw_banmgr_t *m, const char *net, const char *actor, char *err, size_t errlen);
/* A report from the mail server (auth failure...): counts toward the
 * `reports` rule. */
int tw_banmgr_report(tw_banmgr_t *m, const char *addr, const char *reason, char *err,
                     size_t errlen);

/* The bans in force (a copy; free()). */
size_t tw_banmgr_list(const tw_banmgr_t *m, tw_store_ban_t **out);
/* Store state for /readyz detail and metrics: true when it answers. */
bool tw_banmgr_store_ok(const tw_banmgr_t *m, char *why, size_t size);
uint64_t tw_banmgr_auto_bans(const tw_banmgr_t *m);
/* How many bans are held (in force or expired since the last refresh): cheap, for metrics. */
size_t tw_banmgr_count(const tw_banmgr_t *m);

#endif
