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
 */
#ifndef TW_EDGE_DIALER_H
#define TW_EDGE_DIALER_H

#include "util/tw.h"

#include <sys/socket.h>
#include <uv.h>

#include "edge/resolver.h"

typedef struct tw_dial_opts {
	uint64_t timeout_ms; /* overall; 0 means 5000 */
	uint64_t stagger_ms; /* 0 means 250 */
	const struct sockaddr_storage
	        *source; /* bound before connect to addresses of its family; NULL/AF_UNSPEC: none */
	const char *interface; /* SO_BINDTODEVICE, NULL: none */
	bool keepalive;
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
 * is freed right after this returns. The fd is no longer watched by the loop:
 * the caller may put its own uv_poll_t or uv_tcp_t on it at once. */
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
