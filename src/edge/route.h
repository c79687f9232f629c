/*
 * route.h - the compiled route table: what the workers read.
 *
 * A configuration compiles into one immutable, reference-counted table.
 * Workers take a reference per connection (tw_routes_ref at accept) and keep
 * it until the connection closes, so a reload never changes the routes under
 * a connection in flight: an IMAP IDLE session keeps the table it started
 * with for hours. The control thread builds a new table, and publishes it;
 * the old one is freed with its last reference. References are atomic, the
 * table itself is never written after tw_routes_build() returns.
 *
 * Listening sockets are not in the table: the table names bind addresses and
 * the socket set (sockets.h) maps them to fds that survive reloads.
 */
#ifndef TW_EDGE_ROUTE_H
#define TW_EDGE_ROUTE_H

#include "util/tw.h"

#include <stdatomic.h>

#include "edge/config.h"
#include "edge/sni.h"

/*
 * The one mutable part of a table: each server's health and drain flags,
 * written by the control thread's health scheduler, read by workers with
 * relaxed atomic loads; and the passive-failure counter workers bump.
 */
typedef struct tw_rserver {
	atomic_bool up;                  /* true when the backend has no active checks */
	atomic_bool drained;             /* no new connections */
	atomic_uint_fast32_t dial_fails; /* since the scheduler last looked */
} tw_rserver_t;

typedef struct tw_rbackend {
	const tw_cfg_backend_t *cfg; /* points into the table's config */
	uint32_t index;
	tw_rserver_t *srv; /* cfg->n_servers entries */
} tw_rbackend_t;

/* A server may take a new connection now. */
static inline bool tw_rserver_usable(const tw_rserver_t *s)
{
	return atomic_load_explicit(&s->up, memory_order_relaxed) &&
	       !atomic_load_explicit(&s->drained, memory_order_relaxed);
}

/* Per listener name, kept across reloads (never freed): what maxconn
 * counts, and what metrics read. */
typedef struct tw_listener_stats {
	char name[64];
	atomic_uint_fast64_t active;
	atomic_uint_fast64_t accepted, tempfail, banned, over_maxconn;
} tw_listener_stats_t;

/* The stats slot for a listener name (control thread, at build). */
tw_listener_stats_t *tw_listener_stats_get(const char *name);

typedef struct tw_rlistener {
	const tw_cfg_listener_t *cfg;
	int backend;         /* default route: index into backends, or -1 */
	tw_sni_table_t *sni; /* tls listeners with sni entries, else NULL */
	uint64_t idle_ms;
	uint32_t index;
	tw_listener_stats_t *stats;
} tw_rlistener_t;

typedef struct tw_routes {
	atomic_uint refs;
	uint64_t generation;
	tw_config_t *cfg; /* owned */
	tw_rlistener_t *listeners;
	size_t n_listeners;
	tw_rbackend_t *backends;
	size_t n_backends;
} tw_routes_t;

/* Takes ownership of cfg (freed with the table, or at once on failure).
 * Returns NULL with diags on an error the config loader could not see
 * (an invalid SNI pattern, say). */
tw_routes_t *tw_routes_build(tw_config_t *cfg, uint64_t generation, tw_diags_t *diags);
tw_routes_t *tw_routes_ref(tw_routes_t *r);
void tw_routes_unref(tw_routes_t *r); /* NULL ok */

int tw_routes_backend_index(const tw_routes_t *r, const char *name);
/*
 * The backend for a connection on listener l: the SNI match (name may be
 * NULL when the hello had none), else the default. -1: no route.
 */
int tw_routes_pick(const tw_routes_t *r, const tw_rlistener_t *l, const char *sni, size_t sni_len,
                   const uint8_t *alpn, size_t alpn_len);

#endif
