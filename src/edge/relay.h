/*
 * relay.h - moving bytes between the client and the backend socket.
 *
 * splice(2) through a pipe per direction, so the bytes never enter user
 * space, once a direction carries bulk data; small exchanges (an SMTP
 * dialogue) go through a pooled buffer with recv/send, which costs fewer
 * system calls than splicing a few bytes twice. A direction holds a pipe only while bytes sit in it
 * (the peer was not writable); an idle connection holds none, they come from a per-worker pool. A
 * read/write fallback with a bounded buffer (16 KiB) is used when splice is unavailable or forced
 * (TAILWART_NO_SPLICE=1), and for the first bytes of a direction that is being observed (the
 * backend's first reply after a PROXY header, for the diagnosis in reply_diag.h).
 *
 * Half-close: EOF from the source is passed on as shutdown(SHUT_WR) on the
 * destination once everything read has been written. Memory per direction
 * is bounded by the pipe or the buffer. Worker-thread only, no locks.
 */
#ifndef TW_EDGE_RELAY_H
#define TW_EDGE_RELAY_H

#include "util/tw.h"

#include <stdatomic.h>

#define TW_RELAY_BUF  16384
#define TW_RELAY_PIPE 65536

typedef struct tw_relay_pool {
	int (*pipes)[2];
	size_t n_pipes, cap_pipes;
	void **bufs;
	size_t n_bufs, cap_bufs;
	/* Held by connections now; written by the worker, read by metrics. */
	atomic_size_t pipes_in_use, bufs_in_use;
	size_t pipes_open; /* pipes that exist, pooled or in use */
	bool no_splice;
} tw_relay_pool_t;

void tw_relay_pool_init(tw_relay_pool_t *p, bool no_splice);
void tw_relay_pool_release(tw_relay_pool_t *p);

typedef void (*tw_relay_observe_cb)(void *arg, const uint8_t *data, size_t len);

typedef struct tw_relay_dir {
	int pipe[2]; /* -1 when none held */
	size_t in_pipe;
	uint8_t *buf; /* fallback buffer, NULL when none held */
	size_t buf_off, buf_len;
	uint64_t bytes;      /* written to the destination */
	size_t observe_left; /* bytes still to show to `observe` */
	tw_relay_observe_cb observe;
	void *observe_arg;
	bool bulk; /* reads fill whole buffers: splice; else copy (see relay.c) */
	bool eof;  /* source said EOF */
	bool done; /* EOF passed on */
	bool want_read, want_write;
} tw_relay_dir_t;

void tw_relay_dir_init(tw_relay_dir_t *d);
/* Gives back what the direction holds (a pipe with bytes still in it is closed). */
void tw_relay_dir_release(tw_relay_dir_t *d, tw_relay_pool_t *p);

enum {
	TW_PUMP_WANT_READ = 1,  /* wait for the source to be readable */
	TW_PUMP_WANT_WRITE = 2, /* wait for the destination to be writable */
	TW_PUMP_DONE = 4,       /* EOF passed on; this direction is finished */
};

/*
 * Moves what can move now from src to dst without blocking. Returns a
 * TW_PUMP_* value, or -errno on a socket error; *moved is set when any byte
 * was read or written (for the idle timer). *src_err tells whether an error
 * came from the source (true) or the destination (false).
 */
int tw_relay_pump(tw_relay_dir_t *d, tw_relay_pool_t *p, int src, int dst, bool *moved,
                  bool *src_err);

/* Sends all of buf on a nonblocking socket now, or fails (-EAGAIN if it would block). */
int tw_send_all(int fd, const void *buf, size_t len);

#endif
