#include "util/tw.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/relay.h"

/* Passes through fairness: a busy direction yields to others after this. */
#define PUMP_ROUNDS 8
#define POOL_KEEP   256
/* Below this a splice round trip costs more than a copy. */
#define SMALL_READ 4096

void tw_relay_pool_init(tw_relay_pool_t *p, bool no_splice)
{
	memset(p, 0, sizeof(*p));
	p->no_splice = no_splice;
}

void tw_relay_pool_release(tw_relay_pool_t *p)
{
	for (size_t i = 0; i < p->n_pipes; i++) {
		close(p->pipes[i][0]);
		close(p->pipes[i][1]);
	}
	for (size_t i = 0; i < p->n_bufs; i++)
		free(p->bufs[i]);
	free(p->pipes);
	free(p->bufs);
	memset(p, 0, sizeof(*p));
}

static int pipe_get(tw_relay_pool_t *p, int out[2])
{
	if (p->n_pipes) {
		p->n_pipes--;
		out[0] = p->pipes[p->n_pipes][0];
		out[1] = p->pipes[p->n_pipes][1];
	} else {
		if (pipe2(out, O_NONBLOCK | O_CLOEXEC) < 0)
			return -errno;
		fcntl(out[1], F_SETPIPE_SZ, TW_RELAY_PIPE);
		p->pipes_open++;
	}
	atomic_fetch_add_explicit(&p->pipes_in_use, 1, memory_order_relaxed);
	return 0;
}

static void pipe_put(tw_relay_pool_t *p, int fds[2], bool clean)
{
	atomic_fetch_sub_explicit(&p->pipes_in_use, 1, memory_order_relaxed);
	if (clean && p->n_pipes < POOL_KEEP) {
		if (p->n_pipes == p->cap_pipes) {
			size_t cap = p->cap_pipes ? p->cap_pipes * 2 : 16;
			void *v = realloc(p->pipes, cap * sizeof(*p->pipes));
			if (!v)
				goto drop;
			p->pipes = v;
			p->cap_pipes = cap;
		}
		p->pipes[p->n_pipes][0] = fds[0];
		p->pipes[p->n_pipes][1] = fds[1];
		p->n_pipes++;
		fds[0] = fds[1] = -1;
		return;
	}
drop:
	close(fds[0]);
	close(fds[1]);
	p->pipes_open--;
	fds[0] = fds[1] = -1;
}

static uint8_t *buf_get(tw_relay_pool_t *p)
{
	void *b = p->n_bufs ? p->bufs[--p->n_bufs] : malloc(TW_RELAY_BUF);
	if (b)
		atomic_fetch_add_explicit(&p->bufs_in_use, 1, memory_order_relaxed);
	return b;
}

static void buf_put(tw_relay_pool_t *p, uint8_t *b)
{
	atomic_fetch_sub_explicit(&p->bufs_in_use, 1, memory_order_relaxed);
	if (p->n_bufs < POOL_KEEP) {
		if (p->n_bufs == p->cap_bufs) {
			size_t cap = p->cap_bufs ? p->cap_bufs * 2 : 16;
			void *v = realloc(p->bufs, cap * sizeof(*p->bufs));
			if (!v) {
				free(b);
				return;
			}
			p->bufs = v;
			p->cap_bufs = cap;
		}
		p->bufs[p->n_bufs++] = b;
		return;
	}
	free(b);
}

void tw_relay_dir_init(tw_relay_dir_t *d)
{
	memset(d, 0, sizeof(*d));
	d->pipe[0] = d->pipe[1] = -1;
}

void tw_relay_dir_release(tw_relay_dir_t *d, tw_relay_pool_t *p)
{
	if (d->pipe[0] >= 0)
		pipe_put(p, d->pipe, d->in_pipe == 0);
	if (d->buf) {
		buf_put(p, d->buf);
		d->buf = NULL;
	}
	d->in_pipe = 0;
	d->buf_off = d->buf_len = 0;
}

int tw_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int finish(tw_relay_dir_t *d, tw_relay_pool_t *p, int dst)
{
	tw_relay_dir_release(d, p);
	if (!d->done) {
		d->done = true;
		shutdown(dst, SHUT_WR);
	}
	d->want_read = d->want_write = false;
	return TW_PUMP_DONE;
}

/* The copy path: fallback, and observed bytes. */
static int pump_copy(tw_relay_dir_t *d, tw_relay_pool_t *p, int src, int dst, bool *moved,
                     bool *src_err)
{
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		while (d->buf && d->buf_off < d->buf_len) {
			ssize_t n = send(dst, d->buf + d->buf_off, d->buf_len - d->buf_off,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN) {
					d->want_write = true;
					d->want_read = false;
					return TW_PUMP_WANT_WRITE;
				}
				*src_err = false;
				return -errno;
			}
			d->buf_off += (size_t)n;
			d->bytes += (uint64_t)n;
			*moved = true;
		}
		if (d->buf) {
			buf_put(p, d->buf);
			d->buf = NULL;
			d->buf_off = d->buf_len = 0;
		}
		if (d->eof)
			return finish(d, p, dst);
		if (!p->no_splice && d->observe_left == 0 && d->bulk)
			return -EAGAIN; /* caller switches to splice */
		d->buf = buf_get(p);
		if (!d->buf)
			return -ENOMEM;
		size_t want = TW_RELAY_BUF;
		if (d->observe_left && !p->no_splice && d->observe_left < want)
			want = d->observe_left;
		ssize_t n = recv(src, d->buf, want, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				buf_put(p, d->buf);
				d->buf = NULL;
				d->want_read = true;
				d->want_write = false;
				return TW_PUMP_WANT_READ;
			}
			*src_err = true;
			return -errno;
		}
		if (n == 0) {
			d->eof = true;
			continue;
		}
		*moved = true;
		d->buf_len = (size_t)n;
		/* A full buffer says more is waiting: splice from the next read. */
		if ((size_t)n == TW_RELAY_BUF)
			d->bulk = true;
		if (d->observe_left) {
			size_t show = (size_t)n < d->observe_left ? (size_t)n : d->observe_left;
			d->observe_left -= show;
			if (d->observe)
				d->observe(d->observe_arg, d->buf, show);
		}
	}
	/* Yield; level-triggered polling brings us back. */
	if (d->buf && d->buf_off < d->buf_len) {
		d->want_write = true;
		d->want_read = false;
		return TW_PUMP_WANT_WRITE;
	}
	d->want_read = true;
	d->want_write = false;
	return TW_PUMP_WANT_READ;
}

int tw_relay_pump(tw_relay_dir_t *d, tw_relay_pool_t *p, int src, int dst, bool *moved,
                  bool *src_err)
{
	*moved = false;
	*src_err = false;
	if (d->done)
		return TW_PUMP_DONE;
	/* Bytes still in the pipe go first: copying new ones past them would
	 * reorder the stream (a spliced read turned the direction back to
	 * copy mode while its pipe was not yet drained). */
	if (d->in_pipe == 0 && (p->no_splice || d->observe_left || d->buf || !d->bulk)) {
		int rc = pump_copy(d, p, src, dst, moved, src_err);
		if (rc != -EAGAIN)
			return rc;
	}
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		while (d->in_pipe > 0) {
			ssize_t n = splice(d->pipe[0], NULL, dst, NULL, d->in_pipe,
			                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN) {
					d->want_write = true;
					d->want_read = false;
					return TW_PUMP_WANT_WRITE;
				}
				*src_err = false;
				return -errno;
			}
			d->in_pipe -= (size_t)n;
			d->bytes += (uint64_t)n;
			*moved = true;
		}
		if (d->eof)
			return finish(d, p, dst);
		if (d->pipe[0] < 0) {
			int rc = pipe_get(p, d->pipe);
			if (rc < 0)
				return rc;
		}
		ssize_t n = splice(src, NULL, d->pipe[1], NULL, TW_RELAY_PIPE,
		                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* An idle direction gives its pipe back. */
				pipe_put(p, d->pipe, true);
				d->want_read = true;
				d->want_write = false;
				return TW_PUMP_WANT_READ;
			}
			if (errno == EINVAL) {
				/* splice unsupported here: copy from now on */
				pipe_put(p, d->pipe, true);
				p->no_splice = true;
				return tw_relay_pump(d, p, src, dst, moved, src_err);
			}
			*src_err = true;
			return -errno;
		}
		if (n == 0) {
			d->eof = true;
			continue;
		}
		d->in_pipe = (size_t)n;
		*moved = true;
		/* Back to copying when the flow turns into small messages. */
		if ((size_t)n < SMALL_READ)
			d->bulk = false;
	}
	if (d->in_pipe) {
		d->want_write = true;
		d->want_read = false;
		return TW_PUMP_WANT_WRITE;
	}
	d->want_read = true;
	d->want_write = false;
	return TW_PUMP_WANT_READ;
}
