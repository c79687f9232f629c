/*
 * worker_int.h - what worker.c (loop, mailbox, accept) and conn.c (one
 * connection's life) share. Not for other modules.
 */
#ifndef TW_EDGE_WORKER_INT_H
#define TW_EDGE_WORKER_INT_H

#include "edge/worker.h"

#include <sys/socket.h>

#include "edge/dialer.h"

#define TW_EV_RING 4096

typedef struct tw_wlisten {
	uv_poll_t poll;
	tw_worker_t *w;
	int fd;
	int lidx; /* listener index in w->routes */
	bool active;
	struct tw_wlisten *next;
} tw_wlisten_t;

struct tw_worker {
	int id;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t wake;
	uv_timer_t accept_timer; /* resumes accepting after EMFILE */
	pthread_mutex_t mu;
	/* mailbox, guarded by mu */
	tw_routes_t *mb_routes;
	int *mb_fds, *mb_lidx;
	size_t mb_n;
	int mb_orphans[256]; /* fds of superseded posts, closed by the worker */
	size_t mb_n_orphans;
	bool mb_has_routes, mb_stop_accepting, mb_shutdown;
	tw_banset_t *mb_bans; /* guarded by mu */
	/* ban events, worker -> control: SPSC ring */
	tw_ban_ev_t ev_ring[TW_EV_RING];
	atomic_size_t ev_head, ev_tail;
	bool ban_events; /* any trigger that needs events is on */
	/* worker-thread state */
	tw_routes_t *routes;
	tw_banset_t *bans;
	tw_wlisten_t *listens;
	bool accepting_paused, stopping;
	tw_resolver_t *resolver;
	tw_relay_pool_t pool;
	tw_evset_t evset; /* the connections' and their dials' fd watchers */
	tw_conn_t *conns; /* doubly linked, for shutdown */
	uint32_t rr;      /* round-robin cursor */
	tw_worker_stats_t stats;
	bool no_splice;
};

typedef enum tw_conn_state {
	TW_C_PROXY_HDR, /* reading a trusted proxy's PROXY header */
	TW_C_HELLO,     /* reading the TLS ClientHello */
	TW_C_CONNECT,   /* resolving and dialing */
	TW_C_RELAY,
	TW_C_CLOSING,
} tw_conn_state_t;

typedef enum tw_end {
	TW_END_NONE = 0,
	TW_END_CLIENT_CLOSE,
	TW_END_BACKEND_CLOSE,
	TW_END_IDLE_TIMEOUT,
	TW_END_TOTAL_TIMEOUT,
	TW_END_DIAL_FAILED,
	TW_END_NO_BACKEND,
	TW_END_BANNED,
	TW_END_PROTO_ERROR,
	TW_END_SHUTDOWN,
} tw_end_t;

#define TW_INITIAL_MAX 16384 /* PROXY header + ClientHello, bounded */
#define TW_OBSERVE_MAX 512   /* backend bytes shown to the PROXY diagnosis */

struct tw_conn {
	tw_conn_t *prev, *next;
	tw_worker_t *w;
	uint64_t id;
	tw_routes_t *routes;
	const tw_rlistener_t *l;
	int backend; /* index, -1 until routed */
	int server;  /* index of the server being tried */
	int servers_tried;
	bool dialed_any; /* at least one server was tried */
	tw_conn_state_t state;
	tw_end_t end;
	int end_err;
	int cfd, bfd;
	/* One watcher per socket for its whole life (the backend's from the
	 * dialer's connect wait on): interest changes are one epoll_ctl each. */
	tw_evw_t cpoll, bpoll;
	uv_timer_t timer;
	int pending_closes;
	struct sockaddr_storage client; /* the identity */
	struct sockaddr_storage local;  /* where the client connected */
	struct sockaddr_storage baddr;  /* backend address used */
	uint8_t *ibuf;                  /* initial bytes (proxy header, hello); NULL when none */
	size_t ilen, ioff;
	/* TLS listeners only, from the ClientHello: one allocation holding the
	 * normalized name and the raw ALPN list (idle mail connections carry
	 * none of it). */
	char *sni;
	uint8_t *alpn;
	size_t sni_len, alpn_len;
	tw_resolve_req_t *rreq;
	tw_dial_t *dial;
	tw_relay_dir_t c2b, b2c;
	uint8_t *obs; /* backend's first bytes for the diagnosis */
	size_t obs_len;
	bool diag_done;
	bool diag_final;        /* the client spoke: judge what was seen, then stop */
	bool backend_spoke;     /* any byte from the backend (early_close trigger) */
	bool client_left_early; /* client EOF before the backend's first byte */
	uint64_t start_ms, last_ms, dial_start_ms;
	uint64_t phase_start_ms, timer_phase_ms; /* PROXY header / hello wait */
	bool client_eof_first, backend_eof_first;
};

void tw__conn_accept(tw_worker_t *w, int fd, const tw_rlistener_t *l,
                     const struct sockaddr_storage *peer);
/* Ends a connection (idempotent): logs the close line once all handles closed. */
void tw__conn_end(tw_conn_t *c, tw_end_t why, int err);
/* The protocol's temporary failure, sent best-effort on a fresh socket. */
void tw__tempfail(int fd, const tw_cfg_listener_t *l);
/* Queues a ban trigger event for the control thread (dropped when full). */
void tw__ban_event(tw_worker_t *w, tw_ban_event_t type, const struct sockaddr_storage *who);

#endif
