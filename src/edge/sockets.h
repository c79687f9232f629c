/*
 * sockets.h - the edge's listening sockets, kept across reloads.
 *
 * Owned by the control thread. Each bind address gets one socket per
 * worker, all with SO_REUSEPORT, so the kernel spreads connections over the
 * workers and no accept lock is needed (libuv 1.44 has no
 * UV_TCP_REUSEPORT, hence made by hand). A reload keeps the sockets of
 * addresses still configured (no connection attempt is refused during a
 * reload) and opens the new ones; removed addresses are closed by their
 * workers once they stop polling them.
 *
 * `[::]:P` alone is dual-stack; when `0.0.0.0:P` is bound too, the IPv6
 * socket is IPV6_V6ONLY (the key includes that flag).
 *
 * Socket activation: sockets passed by systemd (LISTEN_FDS) are adopted for
 * the addresses they are bound to; every worker polls the same socket then.
 */
#ifndef TW_EDGE_SOCKETS_H
#define TW_EDGE_SOCKETS_H

#include "util/tw.h"

#include <sys/socket.h>

#include "edge/config.h"

#define TW_MAX_WORKERS 256

typedef struct tw_lsock {
	char key[80]; /* "[::]:25/v6only", normalized */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool v6only;
	bool activated;          /* from systemd */
	int fds[TW_MAX_WORKERS]; /* per worker; -1 when handed back */
	int listener;            /* index into the current table's listeners */
	bool mark;
} tw_lsock_t;

typedef struct tw_lsocks {
	tw_lsock_t **v;
	size_t n;
	int n_workers;
	int backlog;
	int activated_fds[64]; /* from LISTEN_FDS, -1 once adopted */
	int n_activated;
} tw_lsocks_t;

/* Reads LISTEN_FDS/LISTEN_PID (sd_listen_fds) once at boot. */
void tw_lsocks_init(tw_lsocks_t *s, int n_workers);

/*
 * Makes the socket set match cfg's listeners: keeps existing sockets,
 * opens the new ones (all or nothing: on failure, the new ones are closed
 * and the set is as before; diags name the listener and address). On
 * success, *removed gets the sockets no longer wanted (the caller hands them
 * to the workers to stop and close; free with tw_lsock_free), and each
 * kept/new socket's `listener` is its listener's index in cfg.
 */
int tw_lsocks_sync(tw_lsocks_t *s, const tw_config_t *cfg, tw_lsock_t ***removed, size_t *n_removed,
                   tw_diags_t *diags);
/* Frees the struct only; fds are closed by the workers that owned them. */
void tw_lsock_free(tw_lsock_t *l);
void tw_lsocks_release(tw_lsocks_t *s); /* closes every fd */

/* Binds one listening socket (nonblocking, cloexec, SO_REUSEADDR+PORT). -errno. */
int tw_listen_socket(const struct sockaddr *sa, socklen_t len, bool v6only, int backlog);

#endif
