/*
 * dialer.c - Happy Eyeballs v2 (RFC 8305) connection attempts, and the fd
 * watcher set (tw_evset_t) the attempts and the worker's connections use.
 */
#include "util/tw.h"

#include "edge/dialer.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <unistd.h>

/* ---- the fd watcher set ---- */

/* Drops w's events fetched in the batch being dispatched (libuv does the same
 * in uv__platform_invalidate_fd): after a change of interest or a release they
 * are stale, and the watcher's memory may be freed before the batch is done. */
static void evset_forget(tw_evset_t *s, const tw_evw_t *w)
{
	for (int i = 0; i < s->n_batch; i++)
		if (s->batch[i].data.ptr == w)
			s->batch[i].data.ptr = NULL;
}

static void evset_on_poll(uv_poll_t *h, int status, int events)
{
	tw_evset_t *s = h->data;

	TW_UNUSED(status);
	TW_UNUSED(events);
	int n = epoll_wait(s->efd, s->batch, TW_EVSET_BATCH, 0);
	if (n <= 0)
		return; /* EINTR, or woken for nothing: level-triggered, it comes back */
	s->n_batch = n;
	for (int i = 0; i < s->n_batch; i++) {
		tw_evw_t *w = s->batch[i].data.ptr;
		if (!w)
			continue;
		/* As libuv's uv__io_poll and uv__poll_io: only events wanted, a
		 * bare hangup or error reports every event wanted, an error stops
		 * the watcher and is reported as UV_EBADF. */
		uint32_t ev = s->batch[i].events & (w->kmask | EPOLLERR | EPOLLHUP);
		if (ev == EPOLLERR || ev == EPOLLHUP)
			ev |= w->kmask & (EPOLLIN | EPOLLOUT);
		if (!ev || !w->cb)
			continue;
		if (ev & EPOLLERR) {
			tw_evw_cb cb = w->cb;
			tw_evw_release(w);
			cb(w, UV_EBADF, 0);
			continue;
		}
		int pev = 0;
		if (ev & EPOLLIN)
			pev |= UV_READABLE;
		if (ev & EPOLLOUT)
			pev |= UV_WRITABLE;
		w->cb(w, 0, pev);
	}
	s->n_batch = 0;
}

int tw_evset_init(tw_evset_t *s, uv_loop_t *loop)
{
	int err;

	s->n_batch = 0;
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (s->efd < 0)
		return -errno;
	err = uv_poll_init(loop, &s->poll, s->efd);
	if (err == 0) {
		s->poll.data = s;
		err = uv_poll_start(&s->poll, UV_READABLE, evset_on_poll);
		if (err < 0)
			uv_close((uv_handle_t *)&s->poll, NULL);
	}
	if (err < 0) {
		close(s->efd);
		s->efd = -1;
	}
	return err;
}

void tw_evset_close(tw_evset_t *s, uv_close_cb cb)
{
	/* uv_close() removes efd from the loop's epoll at once, so closing it
	 * right after cannot confuse libuv; fds still in it drop out with it. */
	if (!uv_is_closing((uv_handle_t *)&s->poll))
		uv_close((uv_handle_t *)&s->poll, cb);
	for (int i = 0; i < s->n_batch; i++)
		s->batch[i].data.ptr = NULL;
	if (s->efd >= 0)
		close(s->efd);
	s->efd = -1;
}

void tw_evw_init(tw_evw_t *w, tw_evset_t *s, int fd, void *data)
{
	*w = (tw_evw_t){.set = s, .fd = fd, .data = data};
}

void tw_evw_take(tw_evw_t *w, tw_evset_t *s, int fd, void *data)
{
	tw_evw_init(w, s, fd, data);
	w->kmask = EPOLLOUT;
	w->kstale = true;
}

int tw_evw_set(tw_evw_t *w, int events, tw_evw_cb cb)
{
	uint32_t k = 0;

	if (events & UV_READABLE)
		k |= EPOLLIN;
	if (events & UV_WRITABLE)
		k |= EPOLLOUT;
	w->cb = cb;
	if (k == w->kmask && !w->kstale) {
		w->want = events;
		return 0;
	}
	if (k == 0) {
		tw_evw_release(w);
		return 0;
	}
	struct epoll_event ev = {.events = k, .data.ptr = w};
	if (epoll_ctl(w->set->efd, w->kmask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	w->kmask = k;
	w->kstale = false;
	w->want = events;
	evset_forget(w->set, w);
	return 0;
}

void tw_evw_release(tw_evw_t *w)
{
	if (!w->set)
		return;
	if (w->kmask) {
		struct epoll_event ev = {0}; /* kernels before 2.6.9 want one */
		(void)epoll_ctl(w->set->efd, EPOLL_CTL_DEL, w->fd, &ev);
	}
	w->kmask = 0;
	w->kstale = false;
	w->want = 0;
	evset_forget(w->set, w);
}

/* ---- the dialer ---- */

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_STAGGER_MS 250

struct attempt {
	tw_dial_t *d;
	tw_evw_t w;
	int fd;
	bool pending; /* connect in progress */
};

struct tw_dial {
	uv_loop_t *loop;
	tw_addrlist_t addrs;
	struct sockaddr_storage source; /* AF_UNSPEC: none */
	char ifname[IFNAMSIZ];          /* "": none */
	bool keepalive;
	uint64_t timeout_ms, stagger_ms;
	tw_dial_fail_cb on_fail;
	tw_dial_cb cb;
	void *arg;
	/* kick starts the first attempt (so no callback runs inside
	 * tw_dial_start) and then the next one after each stagger. */
	uv_timer_t kick, deadline;
	tw_evset_t *set; /* where attempts are watched: opts.evset or &own */
	tw_evset_t own;
	struct attempt att[TW_RESOLVE_MAX]; /* one per address, never reused */
	size_t next;                        /* next address to try */
	size_t pending;                     /* attempts connecting */
	int last_err;                       /* positive errno */
	int open_handles;                   /* freed when 0 after done */
	bool done;                          /* ended: no more callbacks */
};

/* Per thread: each worker loop runs on its own thread, and the count is
 * only for leak checks, so it needs no atomics. */
static _Thread_local size_t live;

size_t tw_dial_live(void)
{
	return live;
}

static void handle_closed(tw_dial_t *d)
{
	if (--d->open_handles == 0 && d->done) {
		free(d);
		live--;
	}
}

static void on_timer_close(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void on_own_close(uv_handle_t *h)
{
	handle_closed((tw_dial_t *)((char *)h - offsetof(tw_dial_t, own.poll)));
}

static const struct sockaddr *addr_of(tw_dial_t *d, const struct attempt *a)
{
	return (const struct sockaddr *)&d->addrs.addr[a - d->att];
}

/* The watcher goes first: a DEL before the close, so nothing of the fd is
 * left in the set (the fd number may be reused at once). */
static void attempt_close(tw_dial_t *d, struct attempt *a)
{
	tw_evw_release(&a->w);
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
	}
	if (a->pending) {
		a->pending = false;
		d->pending--;
	}
}

/* Ends the dial: after this no callback but the caller's final one. */
static void finish(tw_dial_t *d)
{
	d->done = true;
	for (size_t i = 0; i < d->next; i++)
		attempt_close(d, &d->att[i]);
	if (d->set == &d->own)
		tw_evset_close(&d->own, on_own_close);
	uv_close((uv_handle_t *)&d->kick, on_timer_close);
	uv_close((uv_handle_t *)&d->deadline, on_timer_close);
}

static void finish_fail(tw_dial_t *d, int status)
{
	finish(d);
	d->cb(d->arg, status, -1, NULL);
}

static void win(tw_dial_t *d, struct attempt *a)
{
	int fd = a->fd;
	bool registered = a->w.kmask != 0; /* not when connect() succeeded at once */

	/*
	 * The fd is handed over as a plain fd. In the caller's set it stays
	 * registered (the caller takes the registration over with
	 * tw_evw_take(), and its first change of interest is the MOD it needs
	 * anyway): this watcher only stops receiving events. In the dial's own
	 * set, closing the set in finish() drops it: the fd is then watched by
	 * nothing, free for the caller's uv_poll_t.
	 */
	if (d->set != &d->own)
		evset_forget(d->set, &a->w);
	a->w.kmask = 0;
	a->w.kstale = false;
	a->fd = -1;
	if (a->pending) {
		a->pending = false;
		d->pending--;
	}
	/* Attempts still pending lost the race: a path that never answered
	 * (a silently dropping IPv6 route, say) is what the operator needs to
	 * see, so each is reported, as ECANCELED, before the success. */
	for (size_t i = 0; i < d->next && !d->done; i++)
		if (&d->att[i] != a && d->att[i].pending && d->on_fail)
			d->on_fail(d->arg, addr_of(d, &d->att[i]), ECANCELED);
	if (d->done) { /* on_fail cancelled the dial */
		if (registered && d->set != &d->own) {
			struct epoll_event ev = {0};
			(void)epoll_ctl(d->set->efd, EPOLL_CTL_DEL, fd, &ev);
		}
		close(fd);
		return;
	}
	if (!registered && d->set != &d->own) {
		/* Connected at once: registered now, so the hand-over is the same
		 * either way (tw_evw_take). No watcher: events are ignored until
		 * the caller's first change of interest names its own. */
		struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = NULL};
		if (epoll_ctl(d->set->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int err = errno;
			close(fd);
			finish_fail(d, -err);
			return;
		}
	}
	finish(d);
	d->cb(d->arg, 0, fd, addr_of(d, a));
}

static void report(tw_dial_t *d, struct attempt *a, int err)
{
	d->last_err = err;
	if (d->on_fail)
		d->on_fail(d->arg, addr_of(d, a), err);
}

static void on_poll(tw_evw_t *h, int status, int events);
static void on_kick(uv_timer_t *t);

static bool port_is_zero(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_port == 0;
	if (ss->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)ss)->sin6_port == 0;
	return false;
}

/* Returns 0 when the connect is in progress, 1 when it completed at
 * once, or -errno when this address failed synchronously. */
static int attempt_begin(tw_dial_t *d, struct attempt *a)
{
	const struct sockaddr_storage *ss = &d->addrs.addr[a - d->att];
	int fam = ss->ss_family, one = 1, fd, err;
	socklen_t len;

	a->d = d;
	a->fd = -1;
	if (fam == AF_INET)
		len = sizeof(struct sockaddr_in);
	else if (fam == AF_INET6)
		len = sizeof(struct sockaddr_in6);
	else
		return -EAFNOSUPPORT;
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (d->ifname[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, d->ifname,
	                               (socklen_t)strlen(d->ifname)) < 0)
		goto fail;
	if (d->keepalive && setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
		goto fail;
	if (d->source.ss_family == fam) {
		/* With a fixed source and port 0, let connect() pick the port
		 * per 4-tuple instead of bind() reserving one per socket, or a
		 * busy edge runs out of ephemeral ports. Best effort. */
		if (port_is_zero(&d->source))
			(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			                 sizeof(one));
		if (bind(fd, (const struct sockaddr *)&d->source, len) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)ss, len) == 0) {
		a->fd = fd;
		return 1;
	}
	/* EINTR on a nonblocking connect still leaves it in progress. */
	if (errno != EINPROGRESS && errno != EINTR)
		goto fail;
	tw_evw_init(&a->w, d->set, fd, a);
	err = tw_evw_set(&a->w, UV_WRITABLE, on_poll);
	if (err < 0) {
		close(fd);
		return err;
	}
	a->fd = fd;
	a->pending = true;
	d->pending++;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* Starts attempts until one is in progress (then arms the stagger) or
 * the list is used up (then fails the dial if nothing is pending). */
static void start_next(tw_dial_t *d)
{
	uv_timer_stop(&d->kick);
	while (d->next < d->addrs.n) {
		struct attempt *a = &d->att[d->next++];
		int r = attempt_begin(d, a);

		if (r == 1) {
			win(d, a);
			return;
		}
		if (r == 0) {
			uv_timer_start(&d->kick, on_kick, d->stagger_ms, 0);
			return;
		}
		report(d, a, -r);
		if (d->done)
			return;
	}
	if (d->pending == 0)
		finish_fail(d, -d->last_err);
}

static void on_kick(uv_timer_t *t)
{
	start_next(t->data);
}

static void on_poll(tw_evw_t *h, int status, int events)
{
	struct attempt *a = h->data;
	tw_dial_t *d = a->d;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(int);
	int err = 0;

	TW_UNUSED(events);
	if (d->done || !a->pending)
		return;
	/* libuv reports a socket error as UV_EBADF (POLLERR): the real
	 * reason is in SO_ERROR either way. */
	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0 && status < 0)
		err = -status;
	if (err == 0) {
		len = sizeof(peer);
		if (getpeername(a->fd, (struct sockaddr *)&peer, &len) == 0) {
			win(d, a);
			return;
		}
		if (errno == ENOTCONN)
			return; /* woken early; still connecting */
		err = errno;
	}
	/* Any failure ends this attempt, so the next starts now (RFC 8305
	 * §5): ECONNREFUSED, ENETUNREACH, EHOSTUNREACH arrive in
	 * microseconds and must not cost a stagger each. */
	attempt_close(d, a);
	report(d, a, err);
	if (!d->done)
		start_next(d);
}

static void on_deadline(uv_timer_t *t)
{
	tw_dial_t *d = t->data;

	for (size_t i = 0; i < d->next; i++) {
		struct attempt *a = &d->att[i];
		if (!a->pending)
			continue;
		attempt_close(d, a);
		report(d, a, ETIMEDOUT);
		if (d->done)
			return;
	}
	finish_fail(d, -ETIMEDOUT);
}

int tw_dial_start(uv_loop_t *loop, const tw_addrlist_t *addrs, const tw_dial_opts_t *opts,
                  tw_dial_fail_cb on_fail, tw_dial_cb cb, void *arg, tw_dial_t **out)
{
	tw_dial_t *d;

	if (out)
		*out = NULL;
	if (!loop || !addrs || !cb || addrs->n == 0 || addrs->n > TW_RESOLVE_MAX)
		return TW_EINVAL;
	if (opts && opts->interface && strlen(opts->interface) >= IFNAMSIZ)
		return TW_EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return TW_ENOMEM;
	d->loop = loop;
	memcpy(d->addrs.addr, addrs->addr, addrs->n * sizeof(addrs->addr[0]));
	d->addrs.n = addrs->n;
	d->source.ss_family = AF_UNSPEC;
	d->timeout_ms = DEFAULT_TIMEOUT_MS;
	d->stagger_ms = DEFAULT_STAGGER_MS;
	if (opts) {
		if (opts->timeout_ms)
			d->timeout_ms = opts->timeout_ms;
		if (opts->stagger_ms)
			d->stagger_ms = opts->stagger_ms;
		if (opts->source)
			d->source = *opts->source;
		if (opts->interface)
			tw_strlcpy(d->ifname, opts->interface, sizeof(d->ifname));
		d->keepalive = opts->keepalive;
	}
	d->on_fail = on_fail;
	d->cb = cb;
	d->arg = arg;
	d->last_err = ETIMEDOUT;
	if (opts && opts->evset) {
		d->set = opts->evset;
	} else {
		/* Out of fds or memory: a resource exhausted, as documented. */
		if (tw_evset_init(&d->own, loop) < 0) {
			free(d);
			return TW_ENOMEM;
		}
		d->set = &d->own;
	}
	uv_timer_init(loop, &d->kick);
	uv_timer_init(loop, &d->deadline);
	d->kick.data = d;
	d->deadline.data = d;
	d->open_handles = d->set == &d->own ? 3 : 2;
	uv_timer_start(&d->kick, on_kick, 0, 0);
	uv_timer_start(&d->deadline, on_deadline, d->timeout_ms, 0);
	live++;
	if (out)
		*out = d;
	return 0;
}

void tw_dial_cancel(tw_dial_t *d)
{
	/* done: cancelled already, or called from the final callback. */
	if (!d || d->done)
		return;
	finish(d);
}
