/*
 * dialer.h - Happy Eyeballs v2 (RFC 8305) connection attempts on a worker loop.
 *
 * Given an ordered address list (see resolver.h), starts a nonblocking
 * connect to the first address, and to the next one either at once when an
 * attempt fails fast (ENETUNREACH, EHOSTUNREACH, ECONNREFUSED, EADDRNOTAVAIL,
 * any synchronous connect() error) or after `stagger_ms` (default 250 ms)
 * while earlier attempts are still pending. The first attempt to connect
 * wins; the others are closed. The whole dial ends after `timeout_ms`.
 * Every failed attempt is reported through on_fail (for the log and the
 * per-errno, per-family counters) before the final callback.
 *
 * The connected socket is handed over as a raw nonblocking fd with TCP
 * keepalive set when asked; the caller owns it. Runs on one loop, no locks.
 *
 * Also here, because the dialer and the connections share it: tw_evset_t, the
 * fd watchers of a worker (see below).
 */
#ifndef TW_EDGE_DIALER_H
#define TW_EDGE_DIALER_H

#include "util/tw.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <uv.h>

#include "edge/resolver.h"

/*
 * tw_evset_t: watchers for raw fds, in an epoll instance of our own that the
 * loop watches through one uv_poll_t. Why not a uv_poll_t per fd: libuv 1.44
 * costs 5 epoll_ctl calls per watched fd at best (uv_poll_init probes with an
 * ADD and a DEL; every uv_poll_start begins with a DEL, which fails with ENOENT
 * on a fresh handle, and never MODs; uv_poll_stop and uv_close each DEL), 18 per
 * proxied connection in all. Here a change of interest is one ADD, MOD or DEL,
 * and only when the registration changes: 5 per proxied SMTP exchange.
 *
 * Level-triggered, like uv_poll_t, and the callback gets what a uv_poll_t
 * callback would: status UV_EBADF on EPOLLERR (the watcher is stopped first,
 * as libuv does), else UV_READABLE/UV_WRITABLE among the events wanted (a bare
 * EPOLLHUP reports every event wanted). Events of a watcher already fetched in
 * the current batch are dropped when its interest changes or it is released,
 * as libuv drops them on uv_poll_start/uv_poll_stop. Worker-thread only.
 */
#define TW_EVSET_BATCH 128

typedef struct tw_evw tw_evw_t;
typedef void (*tw_evw_cb)(tw_evw_t *w, int status, int events);

typedef struct tw_evset {
	uv_poll_t poll; /* on efd, readable while any watched fd has events */
	int efd;
	int n_batch; /* events fetched and being dispatched; 0 outside dispatch */
	struct epoll_event batch[TW_EVSET_BATCH];
} tw_evset_t;

struct tw_evw {
	tw_evset_t *set;
	int fd;
	int want;       /* UV_READABLE | UV_WRITABLE, 0: none */
	uint32_t kmask; /* epoll events registered in the kernel, 0: not registered */
	bool kstale;    /* registered by another watcher (a dialer attempt): next change is a MOD */
	tw_evw_cb cb;
	void *data;
};

/* Creates the epoll instance and starts watching it on loop: 0 or -errno. */
int tw_evset_init(tw_evset_t *s, uv_loop_t *loop);
/* Closes the loop handle (unless closed already, by a uv_walk say; then cb is not
 * called) and the epoll fd at once. Release the watchers first. */
void tw_evset_close(tw_evset_t *s, uv_close_cb cb);

/* A watcher for fd, watching nothing yet (no system call). */
void tw_evw_init(tw_evw_t *w, tw_evset_t *s, int fd, void *data);
/* A watcher for a socket that tw_dial handed over with opts.evset == s: it is still
 * registered for writability, for the dial's watcher. Call it first thing in the dial's
 * final callback, and tw_evw_set() or tw_evw_release() before the loop polls again: the
 * first of these takes the registration over (a MOD or a DEL). */
void tw_evw_take(tw_evw_t *w, tw_evset_t *s, int fd, void *data);
/* Sets the events wanted and the callback: one epoll_ctl (ADD, MOD or, for 0, DEL) when
 * the registration changes, none otherwise. 0 or -errno (then nothing changed). */
int tw_evw_set(tw_evw_t *w, int events, tw_evw_cb cb);
/* Stops watching (a DEL when registered); before the fd is closed. Idempotent. */
void tw_evw_release(tw_evw_t *w);

typedef struct tw_dial_opts {
	uint64_t timeout_ms; /* overall; 0 means 5000 */
	uint64_t stagger_ms; /* 0 means 250 */
	const struct sockaddr_storage
	        *source; /* bound before connect to addresses of its family; NULL/AF_UNSPEC: none */
	const char *interface; /* SO_BINDTODEVICE, NULL: none */
	bool keepalive;
	/* Where attempts are watched. NULL: a set of the dial's own, closed when it ends.
	 * Given: the winning socket is handed over still registered in it, to be taken
	 * over with tw_evw_take() in the final callback (no epoll_ctl to hand over). */
	tw_evset_t *evset;
} tw_dial_opts_t;

typedef struct tw_dial tw_dial_t;

/* One attempt failed: err is a positive errno (ETIMEDOUT when cut by the
 * overall timeout). Attempts still pending when another one wins are
 * reported with ECANCELED just before the success: a path that never
 * answered (a silently dropping route) is what the operator must see.
 * `addr` is only valid during the call. May call tw_dial_cancel(). */
typedef void (*tw_dial_fail_cb)(void *arg, const struct sockaddr *addr, int err);
/* Done: status 0 and fd >= 0 connected to addr; or status -errno of the last
 * failure (-ETIMEDOUT if none finished) and fd -1, addr NULL. The tw_dial_t
 * is freed right after this returns. Without opts.evset the fd is watched by
 * nothing: the caller may put its own uv_poll_t or uv_tcp_t on it at once. With
 * opts.evset, the caller must tw_evw_take() it before returning (see above). */
typedef void (*tw_dial_cb)(void *arg, int status, int fd, const struct sockaddr *addr);

/*
 * Starts dialing. Returns 0 (then exactly one cb call follows, never
 * synchronously, unless tw_dial_cancel) or TW_EINVAL (no address, more than
 * TW_RESOLVE_MAX, no cb, interface name too long) / TW_ENOMEM, with no
 * callback. addrs and opts are copied; opts NULL means all defaults. The first connect() happens on
 * the next loop iteration, so on_fail never runs inside this call either; an entry of another
 * family than AF_INET/AF_INET6 is a failed attempt (EAFNOSUPPORT). A source with port 0 is bound
 * with IP_BIND_ADDRESS_NO_PORT, so it does not use up ephemeral ports.
 */
int tw_dial_start(uv_loop_t *loop, const tw_addrlist_t *addrs, const tw_dial_opts_t *opts,
                  tw_dial_fail_cb on_fail, tw_dial_cb cb, void *arg, tw_dial_t **out);
/* Stops all attempts and closes their sockets; no callback is called after it.
 * NULL ok; a no-op when called from the final callback. */
void tw_dial_cancel(tw_dial_t *d);

/* Number of tw_dial_t alive on this thread (for the fd/pool leak tests);
 * a finished dial counts until the loop has run its handles' close callbacks. */
size_t tw_dial_live(void);

#endif
