/*
 * worker.h - one event loop per core carrying connections.
 *
 * A worker owns a libuv loop on its own thread, the polls on its share of
 * the listening sockets (one SO_REUSEPORT socket per address per worker),
 * and every connection it accepted, from accept to the close log line:
 *
 *   accept -> identity (peer, or the PROXY header of a trusted proxy)
 *          -> classify (tls: ClientHello -> SNI/ALPN; mail: nothing, dial now)
 *          -> route (table snapshot) -> resolve + dial (Happy Eyeballs)
 *          -> PROXY header to the backend in one send() -> relay -> close
 *
 * The control thread talks to a worker only through tw_worker_post_*()
 * (a mutex-guarded mailbox and a uv_async wake-up, off the data path).
 * Nothing on the data path takes a lock: the route table a connection uses
 * is the reference it took at accept.
 */
#ifndef TW_EDGE_WORKER_H
#define TW_EDGE_WORKER_H

#include "util/tw.h"

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "edge/relay.h"
#include "edge/resolver.h"
#include "edge/bans.h"
#include "edge/route.h"

typedef struct tw_worker tw_worker_t;

#define TW_END_REASONS  10
#define TW_DIAL_BUCKETS 12
typedef struct tw_conn tw_conn_t;

/* Counters read by the control thread (metrics, tests). */
typedef struct tw_worker_stats {
	atomic_uint_fast64_t accepted, closed, active;
	atomic_uint_fast64_t accept_paused; /* EMFILE/ENFILE pauses */
	atomic_uint_fast64_t over_maxconn;
	atomic_uint_fast64_t no_route, hello_fail, proxy_fail, dial_fail, tempfail;
	atomic_uint_fast64_t ends[TW_END_REASONS]; /* by tw_end_t */
	atomic_uint_fast64_t bytes_in, bytes_out;
	atomic_uint_fast64_t dial_fail_v4, dial_fail_v6;
	atomic_uint_fast64_t
	        dial_ms_bucket[TW_DIAL_BUCKETS]; /* histogram, see tw_dial_buckets_ms */
	atomic_uint_fast64_t dial_ms_sum, dial_count;
	atomic_uint_fast64_t banned, ban_events_dropped;
} tw_worker_stats_t;

/* Upper bounds (ms) of the dial latency histogram; the last bucket is +Inf. */
extern const uint64_t tw_dial_buckets_ms[TW_DIAL_BUCKETS - 1];
/* The close reasons, indexed like tw_worker_stats_t.ends. */
extern const char *const tw_end_names[TW_END_REASONS];

/* Shared by all workers: the global connection count for `maxconn`. */
extern atomic_uint_fast64_t tw_edge_active_conns;

tw_worker_t *tw_worker_new(int id, bool no_splice, uint64_t resolve_ttl_ms);
int tw_worker_start(tw_worker_t *w); /* starts the thread */

/*
 * Hands the worker a new route table (the worker takes the reference) and
 * the listening fds it must poll, each with its listener index in that
 * table. Fds the worker polled before and that are not in the list are
 * closed by the worker. Only the latest post matters if several pile up.
 */
void tw_worker_post_routes(tw_worker_t *w, tw_routes_t *routes, const int *fds, const int *lidx,
                           size_t n);
/* Hands the worker a new ban list (the worker takes the reference). */
void tw_worker_post_bans(tw_worker_t *w, tw_banset_t *bans);

/* A ban trigger event seen by a worker, for the control thread's tracker. */
typedef struct tw_ban_ev {
	uint8_t type; /* tw_ban_event_t */
	struct sockaddr_storage who;
} tw_ban_ev_t;

/* Takes up to max events the worker queued (control thread only; a
 * single-producer single-consumer ring, no lock). Returns how many. */
size_t tw_worker_take_events(tw_worker_t *w, tw_ban_ev_t *out, size_t max);

/* Stop accepting (closing the listening fds); connections carry on. */
void tw_worker_post_stop_accepting(tw_worker_t *w);
/* Close every connection now (end=shutdown), then end the loop. */
void tw_worker_post_shutdown(tw_worker_t *w);
void tw_worker_join(tw_worker_t *w); /* waits for the thread, frees the worker */

const tw_worker_stats_t *tw_worker_stats(const tw_worker_t *w);
uint64_t tw_worker_active(const tw_worker_t *w);
/* Relay pipes and buffers held by this worker's connections right now. */
void tw_worker_pool_in_use(const tw_worker_t *w, uint64_t *pipes, uint64_t *bufs);

#endif
