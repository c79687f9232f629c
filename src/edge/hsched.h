/*
 * hsched.h - the health-check scheduler and readiness, on the control loop.
 *
 * Keeps one entry per backend server (keyed "backend/server"), runs its
 * active check (health.h) every `interval`, applies rise/fall, and writes
 * the verdict into the published route table's per-server flags, which the
 * workers read with plain atomic loads (no lock on the data path). Workers
 * report dial failures by bumping a per-server atomic counter (passive
 * checks); the scheduler reads it, counts it as a failure and checks again
 * at once. A reload hands the scheduler the new table before it is
 * published: unchanged servers keep their state (health survives a
 * reload), new ones start unchecked.
 *
 * Readiness: every `required` backend (dependencies included) has at least
 * one server up and not drained. on_change is called whenever an up/down,
 * drain or readiness state changes (for sd_notify STATUS=, metrics).
 */
#ifndef TW_EDGE_HSCHED_H
#define TW_EDGE_HSCHED_H

#include "util/tw.h"

#include <uv.h>

#include "edge/health.h"
#include "edge/route.h"

typedef struct tw_hsched tw_hsched_t;

tw_hsched_t *tw_hsched_new(uv_loop_t *loop, void (*on_change)(void *arg), void *arg);
/* Cancels checks, closes timers; freed once libuv released them. NULL ok. */
void tw_hsched_free(tw_hsched_t *h);
/* Adopts table r (not yet published): sets its server flags from the
 * carried state, (re)starts checks. The scheduler keeps a reference. */
void tw_hsched_apply(tw_hsched_t *h, tw_routes_t *r);
/* True when ready; else why says what is missing ("backend db: no healthy
 * server (db/db.internal:5432: connection refused)"; no double quotes, so
 * it can stand in a key="value" log field). */
bool tw_hsched_ready(const tw_hsched_t *h, char *why, size_t size);
/* Drain (no new connections) or ready again. TW_ENOTFOUND if no such server. */
int tw_hsched_drain(tw_hsched_t *h, const char *backend, const char *server, bool drain);

typedef struct tw_hsched_server {
	const char *backend, *server; /* valid until the next apply */
	bool checked_type;            /* the backend has active checks */
	bool up, drained, required, dependency;
	int64_t changed_at;
	uint64_t latency_ms;
	uint64_t checks, failures;
	const char *last_error; /* "" when none */
	char addr[64];          /* last address that answered or was tried */
} tw_hsched_server_t;

/* Calls fn for each server, in config order. */
void tw_hsched_each(const tw_hsched_t *h, void (*fn)(void *arg, const tw_hsched_server_t *s),
                    void *arg);

#endif
