/*
 * resolver.h - backend names resolved at dial time, off the event loop.
 *
 * One resolver per worker loop (no locks). Lookups go through the system
 * resolver (getaddrinfo via uv_getaddrinfo on libuv's thread pool), so
 * /etc/hosts, nsswitch and a tailnet's MagicDNS all work, and an address
 * change is picked up once the cache entry expires (`ttl_ms`,
 * config resolve_cache, default 5 s). Concurrent lookups of one name share
 * one getaddrinfo. Results are ordered for Happy Eyeballs (RFC 8305 §4):
 * IPv6 first, then families interleaved, at most TW_RESOLVE_MAX addresses.
 * A literal address is returned at once without a lookup.
 */
#ifndef TW_EDGE_RESOLVER_H
#define TW_EDGE_RESOLVER_H

#include "util/tw.h"

#include <sys/socket.h>
#include <uv.h>

#define TW_RESOLVE_MAX 16

typedef struct tw_addrlist {
	struct sockaddr_storage addr[TW_RESOLVE_MAX];
	size_t n;
} tw_addrlist_t;

typedef struct tw_resolver tw_resolver_t;
typedef struct tw_resolve_req tw_resolve_req_t;

/* status 0 with list->n >= 1, or a negative error (TW_ENOTFOUND, UV_EAI_*)
 * with list->n == 0. `list` is never NULL and only valid during the callback;
 * every address carries the requested port. */
typedef void (*tw_resolve_cb)(void *arg, int status, const tw_addrlist_t *list);

tw_resolver_t *tw_resolver_new(uv_loop_t *loop, uint64_t ttl_ms);
/* Cancels pending requests (their callbacks are not called) and frees the
 * resolver once libuv has released its thread-pool work. NULL ok. */
void tw_resolver_free(tw_resolver_t *r);
void tw_resolver_set_ttl(tw_resolver_t *r, uint64_t ttl_ms);

/*
 * Resolves host:port. The callback may run synchronously (cache hit or a
 * literal) before this returns; *req_out is then set to NULL before the
 * call. Returns 0, or a negative error (TW_EINVAL for an empty or over-long
 * host, TW_ENOMEM, UV_E*; then cb is never called). *req_out (may be NULL)
 * lets the caller cancel. The cache is keyed by host alone (case-folded):
 * one lookup serves every port of a backend.
 */
int tw_resolve(tw_resolver_t *r, const char *host, uint16_t port, tw_resolve_cb cb, void *arg,
	       tw_resolve_req_t **req_out);
/* The callback will not be called. Safe until the callback has run. NULL ok. */
void tw_resolve_cancel(tw_resolve_req_t *req);

/* Drops the cached answer for host (any port), so the next tw_resolve()
 * asks again: for a caller whose dial to every cached address failed, as
 * when an ephemeral backend changed address (seed lesson 6). NULL ok. */
void tw_resolver_forget(tw_resolver_t *r, const char *host);

/* Number of getaddrinfo calls started so far (for tests and metrics). */
uint64_t tw_resolver_lookups(const tw_resolver_t *r);

/* Orders addresses for Happy Eyeballs in place: IPv6 first, then alternating,
 * order within a family kept, exact duplicates (address, port, scope) dropped. */
void tw_addrlist_interleave(tw_addrlist_t *l);

#endif
