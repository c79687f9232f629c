#include "util/tw.h"

#include "edge/dialer.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_STAGGER_MS 250

struct attempt {
	tw_dial_t *d;
	uv_poll_t poll;
	int fd;
	bool polling; /* poll handle initialised and not yet closed */
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

static void on_poll_close(uv_handle_t *h)
{
	struct attempt *a = h->data;

	handle_closed(a->d);
}

static const struct sockaddr *addr_of(tw_dial_t *d, const struct attempt *a)
{
	return (const struct sockaddr *)&d->addrs.addr[a - d->att];
}

/* Closing the poll handle first matters: uv_close() removes the fd from
 * epoll at once, so closing the fd after it cannot confuse libuv. */
static void attempt_close(tw_dial_t *d, struct attempt *a)
{
	if (a->polling) {
		uv_close((uv_handle_t *)&a->poll, on_poll_close);
		a->polling = false;
	}
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

	/*
	 * The fd is handed over as a plain fd, and the caller will watch it
	 * with its own uv_poll_t or uv_tcp_t. libuv refuses a second watcher
	 * on an fd it still tracks (UV_EEXIST), and uv_close() on a poll
	 * handle drops the fd from the loop and from epoll synchronously
	 * (uv__poll_stop + uv__platform_invalidate_fd), so the fd is free for
	 * a new watcher as soon as this returns; only the handle's memory
	 * waits for the close callback. That is why no dup() is needed.
	 */
	if (a->polling) {
		uv_poll_stop(&a->poll);
		uv_close((uv_handle_t *)&a->poll, on_poll_close);
		a->polling = false;
	}
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
		close(fd);
		return;
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

static void on_poll(uv_poll_t *h, int status, int events);
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
	err = uv_poll_init(d->loop, &a->poll, fd);
	if (err < 0) {
		close(fd);
		return err;
	}
	a->fd = fd;
	a->poll.data = a;
	a->polling = true;
	d->open_handles++;
	a->pending = true;
	d->pending++;
	err = uv_poll_start(&a->poll, UV_WRITABLE, on_poll);
	if (err < 0) {
		attempt_close(d, a);
		return err;
	}
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

static void on_poll(uv_poll_t *h, int status, int events)
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
	uv_timer_init(loop, &d->kick);
	uv_timer_init(loop, &d->deadline);
	d->kick.data = d;
	d->deadline.data = d;
	d->open_handles = 2;
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
