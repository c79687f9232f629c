/*
 * conn.c - one connection's life on a worker: accept to close line.
 *
 * Every path ends in tw__conn_end(), which closes the libuv handles and,
 * once libuv has released them, the sockets, then logs exactly one close
 * line and frees the connection.
 */
#include "util/tw.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include "edge/proxy_proto.h"
#include "edge/reply_diag.h"
#include "edge/tls_hello.h"
#include "edge/worker_int.h"
#include "util/addr.h"
#include "util/log.h"

static atomic_uint_fast64_t next_conn_id = 1;

#define HELLO_DEFAULT_MS 5000
#define PROXY_DEFAULT_MS 3000

const char *const tw_end_names[TW_END_REASONS] = {
        "unknown",     "client_close", "backend_close", "idle_timeout", "total_timeout",
        "dial_failed", "no_backend",   "banned",        "proto_error",  "shutdown",
};

const uint64_t tw_dial_buckets_ms[TW_DIAL_BUCKETS - 1] = {1,   5,   10,   25,   50,  100,
                                                          250, 500, 1000, 2500, 5000};

static const char *end_name(tw_end_t e)
{
	return (unsigned)e < TW_END_REASONS ? tw_end_names[e] : "unknown";
}

/* Sends one line, best effort, on a socket about to be closed. */
static void send_line(int fd, const char *text)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", text);
	if (n > 0 && (size_t)n < sizeof(buf)) {
		ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		TW_UNUSED(w);
	}
}

/*
 * What a plaintext listener says before closing, per protocol: no healthy
 * server (the client retries later) and banned. Implicit-TLS listeners and
 * raw TCP have no entry: the edge holds no key, so it can only close.
 */
static const struct proto_lines {
	const char *tempfail, *banned;
} proto_lines[] = {
        [TW_PROTO_SMTP] = {"421 4.3.2 Service temporarily unavailable, try again later",
                           "554 5.7.1 Access denied"},
        [TW_PROTO_SUBMISSION] = {"421 4.3.2 Service temporarily unavailable, try again later",
                                 "554 5.7.1 Access denied"},
        [TW_PROTO_IMAP] = {"* BYE [UNAVAILABLE] Service temporarily unavailable, try again later",
                           "* BYE Access denied"},
        [TW_PROTO_POP3] = {"-ERR [SYS/TEMP] Service temporarily unavailable, try again later",
                           "-ERR Access denied"},
        [TW_PROTO_SIEVE] = {"BYE (TRYLATER) \"Service temporarily unavailable\"",
                            "BYE \"Access denied\""},
};

/* The listener's configured line, else the protocol's; none for TLS/TCP. */
static void say_and_close_line(int fd, const tw_cfg_listener_t *l, bool banned)
{
	if ((size_t)l->proto >= TW_ARRAY_LEN(proto_lines))
		return;
	const struct proto_lines *pl = &proto_lines[l->proto];
	const char *def = banned ? pl->banned : pl->tempfail;
	if (!def)
		return;
	const char *own = banned ? l->msg_banned : l->msg_tempfail;
	send_line(fd, own ? own : def);
}

void tw__tempfail(int fd, const tw_cfg_listener_t *l)
{
	say_and_close_line(fd, l, false);
}

static uint64_t loop_now(tw_conn_t *c)
{
	return uv_now(&c->w->loop);
}

/* ---- close ---- */

static void log_close(tw_conn_t *c)
{
	char client[64], baddr[64] = "-";
	tw_addr_format((const struct sockaddr *)&c->client, client, sizeof(client));
	if (c->baddr.ss_family)
		tw_addr_format((const struct sockaddr *)&c->baddr, baddr, sizeof(baddr));
	const char *route = "-";
	if (c->backend >= 0)
		route = c->routes->backends[c->backend].cfg->name;
	char sni[300] = "";
	if (c->sni_len)
		snprintf(sni, sizeof(sni), " sni=%s", c->sni);
	char err[64] = "";
	if (c->end_err > 0)
		snprintf(err, sizeof(err), " errno=%s", strerrorname_np(c->end_err));
	tw_log(TW_LOG_INFO,
	       "conn=%" PRIu64 " event=close listener=%s client=%s%s route=%s backend=%s "
	       "bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " dur_ms=%" PRIu64 " end=%s%s",
	       c->id, c->l->cfg->name, client, sni, route, baddr, c->c2b.bytes, c->b2c.bytes,
	       loop_now(c) - c->start_ms, end_name(c->end), err);
}

static void conn_free(tw_conn_t *c)
{
	tw_worker_t *w = c->w;
	log_close(c);
	/* Gone before the server said a word: a scanner or a pregreeting bot
	 * (mail protocols only: the server speaks first there). */
	if ((c->client_left_early || (c->end == TW_END_CLIENT_CLOSE && !c->backend_spoke)) &&
	    tw_proto_is_mail(c->l->cfg->proto) && c->routes->cfg->bans.early_close.enabled)
		tw__ban_event(w, TW_BAN_EV_EARLY_CLOSE, &c->client);
	if ((unsigned)c->end < TW_END_REASONS)
		atomic_fetch_add_explicit(&w->stats.ends[c->end], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->stats.bytes_in, c->c2b.bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->stats.bytes_out, c->b2c.bytes, memory_order_relaxed);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->bfd >= 0)
		close(c->bfd);
	tw_relay_dir_release(&c->c2b, &w->pool);
	tw_relay_dir_release(&c->b2c, &w->pool);
	free(c->ibuf);
	free(c->obs);
	free(c->sni); /* also holds alpn */
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	atomic_fetch_sub(&w->stats.active, 1);
	atomic_fetch_add(&w->stats.closed, 1);
	atomic_fetch_sub(&tw_edge_active_conns, 1);
	atomic_fetch_sub(&c->l->stats->active, 1);
	/* Last: this may free the table c->l points into. */
	tw_routes_unref(c->routes);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	tw_conn_t *c = h->data;
	if (--c->pending_closes == 0)
		conn_free(c);
}

void tw__conn_end(tw_conn_t *c, tw_end_t why, int err)
{
	if (c->state == TW_C_CLOSING)
		return;
	c->state = TW_C_CLOSING;
	c->end = why;
	c->end_err = err;
	if (c->rreq) {
		tw_resolve_cancel(c->rreq);
		c->rreq = NULL;
	}
	if (c->dial) {
		tw_dial_cancel(c->dial);
		c->dial = NULL;
	}
	/* Watchers go now (a DEL each, if still registered): no event after
	 * this; the sockets are closed once the timer is. */
	tw_evw_release(&c->cpoll);
	tw_evw_release(&c->bpoll);
	c->pending_closes = 1;
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* ---- relay ---- */

static void update_interest(tw_conn_t *c);
static void run_diag(tw_conn_t *c, int close_errno);

static void end_from_pump(tw_conn_t *c, bool c2b, int rc, bool src_err)
{
	/* A reset from the client side ends as client_close, from the backend
	 * as backend_close: the log says who went away. */
	bool client_side = c2b ? src_err : !src_err;
	tw__conn_end(c, client_side ? TW_END_CLIENT_CLOSE : TW_END_BACKEND_CLOSE, -rc);
}

static bool pump(tw_conn_t *c, bool c2b)
{
	tw_relay_dir_t *d = c2b ? &c->c2b : &c->b2c;
	bool moved = false, src_err = false;
	int rc = c2b ? tw_relay_pump(d, &c->w->pool, c->cfd, c->bfd, &moved, &src_err)
	             : tw_relay_pump(d, &c->w->pool, c->bfd, c->cfd, &moved, &src_err);
	if (moved) {
		c->last_ms = loop_now(c);
		if (!c2b)
			c->backend_spoke = true;
	}
	if (!c2b && !c->diag_done && c->b2c.observe)
		run_diag(c, rc < 0 ? -rc : (d->eof && c->obs_len == 0 ? -1 : 0));
	if (c2b && moved && !c->diag_done && c->b2c.observe) {
		/* From the client's first byte on, the backend's replies answer
		 * the client, not our header: judge what came before, then stop
		 * (a server answers the header before it reads the client's first
		 * command, which the client sends only after the greeting). */
		c->diag_final = true;
		run_diag(c, 0);
		c->diag_done = true;
		c->b2c.observe_left = 0;
	}
	if (rc < 0) {
		end_from_pump(c, c2b, rc, src_err);
		return false;
	}
	if (c2b && d->eof && !c->backend_spoke)
		c->client_left_early = true;
	if (d->eof && !c->client_eof_first && !c->backend_eof_first) {
		if (c2b)
			c->client_eof_first = true;
		else
			c->backend_eof_first = true;
	}
	if (c->c2b.done && c->b2c.done) {
		tw__conn_end(c, c->client_eof_first ? TW_END_CLIENT_CLOSE : TW_END_BACKEND_CLOSE,
		             0);
		return false;
	}
	return true;
}

static void on_relay_poll(tw_evw_t *h, int status, int events)
{
	tw_conn_t *c = h->data;
	if (c->state != TW_C_RELAY)
		return;
	bool is_client = h == &c->cpoll;
	if (status < 0) {
		tw__conn_end(c, is_client ? TW_END_CLIENT_CLOSE : TW_END_BACKEND_CLOSE, -status);
		return;
	}
	/* Readable on one side feeds the direction it is the source of;
	 * writable drains the direction it is the destination of. */
	if (events & (UV_READABLE | UV_DISCONNECT))
		if (!pump(c, is_client))
			return;
	if (events & UV_WRITABLE)
		if (!pump(c, !is_client))
			return;
	update_interest(c);
}

/* No system call unless the interest changed; false when the connection ended. */
static bool set_poll(tw_conn_t *c, tw_evw_t *p, int want)
{
	int rc = tw_evw_set(p, want, on_relay_poll);
	if (rc < 0) {
		tw__conn_end(c, p == &c->cpoll ? TW_END_CLIENT_CLOSE : TW_END_BACKEND_CLOSE, -rc);
		return false;
	}
	return true;
}

static void update_interest(tw_conn_t *c)
{
	int cw = 0, bw = 0;
	if (!c->c2b.done && c->c2b.want_read)
		cw |= UV_READABLE;
	if (!c->b2c.done && c->b2c.want_write)
		cw |= UV_WRITABLE;
	if (!c->b2c.done && c->b2c.want_read)
		bw |= UV_READABLE;
	if (!c->c2b.done && c->c2b.want_write)
		bw |= UV_WRITABLE;
	if (set_poll(c, &c->cpoll, cw))
		set_poll(c, &c->bpoll, bw);
}

static void on_observe(void *arg, const uint8_t *data, size_t len)
{
	tw_conn_t *c = arg;
	if (c->diag_done)
		return;
	if (!c->obs) {
		c->obs = malloc(TW_OBSERVE_MAX);
		if (!c->obs)
			return;
	}
	size_t room = TW_OBSERVE_MAX - c->obs_len;
	if (len > room)
		len = room;
	memcpy(c->obs + c->obs_len, data, len);
	c->obs_len += len;
}

static tw_reply_proto_t reply_proto(tw_proto_t p)
{
	switch (p) {
	case TW_PROTO_SMTP:
	case TW_PROTO_SUBMISSION: return TW_REPLY_SMTP;
	case TW_PROTO_IMAP: return TW_REPLY_IMAP;
	case TW_PROTO_POP3: return TW_REPLY_POP3;
	case TW_PROTO_SIEVE: return TW_REPLY_SIEVE;
	default: return TW_REPLY_OTHER;
	}
}

/* Runs the PROXY diagnosis on what the backend said first (or on how it
 * went away), at most once per connection, logged rate-limited. */
static void run_diag(tw_conn_t *c, int close_errno)
{
	const tw_cfg_backend_t *b = c->routes->backends[c->backend].cfg;
	if (c->diag_done || b->proxy == TW_PROXY_NONE)
		return;
	char buf[512];
	const char *d = tw_reply_diag(reply_proto(c->l->cfg->proto), (int)b->proxy, c->obs,
	                              c->obs_len, close_errno, buf, sizeof(buf));
	if (!d && close_errno == 0 && c->obs_len < TW_OBSERVE_MAX && !c->b2c.eof && !c->diag_final)
		return; /* nothing wrong yet; keep watching */
	c->diag_done = true;
	if (!d)
		return;
	static _Thread_local tw_ratelimit_t rl;
	uint32_t sup = 0;
	if (tw_ratelimit_ok(&rl, tw_now_ms(), 10000, &sup))
		tw_log(TW_LOG_WARN,
		       "conn=%" PRIu64 " event=backend_diag backend=%s msg=\"%s\" suppressed=%u",
		       c->id, b->name, d, sup);
}

static void start_relay(tw_conn_t *c)
{
	c->state = TW_C_RELAY;
	c->last_ms = loop_now(c);
	c->c2b.want_read = c->b2c.want_read = true;
	update_interest(c);
}

/* ---- connect ---- */

static void try_next_server(tw_conn_t *c);

static void on_dial_fail(void *arg, const struct sockaddr *addr, int err)
{
	tw_conn_t *c = arg;
	char a[64];
	tw_addr_format(addr, a, sizeof(a));
	atomic_fetch_add(&c->w->stats.dial_fail, 1);
	atomic_fetch_add(addr->sa_family == AF_INET6 ? &c->w->stats.dial_fail_v6
	                                             : &c->w->stats.dial_fail_v4,
	                 1);
	tw_log(TW_LOG_WARN,
	       "conn=%" PRIu64 " event=dial_fail backend=%s addr=%s family=%s errno=%s", c->id,
	       c->routes->backends[c->backend].cfg->name, a,
	       addr->sa_family == AF_INET6 ? "ipv6" : "ipv4", strerrorname_np(err));
}

static int send_greeting(tw_conn_t *c)
{
	const tw_cfg_backend_t *b = c->routes->backends[c->backend].cfg;
	if (b->proxy != TW_PROXY_NONE) {
		uint8_t hdr[536];
		tw_proxy_tlvs_t tlvs = {0};
		if (b->tlv_authority && c->sni_len) {
			tlvs.authority = c->sni;
			tlvs.authority_len = c->sni_len;
		}
		if (b->tlv_alpn && c->alpn_len) {
			/* The first protocol the client offered; the backend sees
			 * what the TLS server will most likely pick. */
			size_t off = 0;
			const uint8_t *name;
			size_t nlen;
			if (tw_alpn_next(c->alpn, c->alpn_len, &off, &name, &nlen)) {
				tlvs.alpn = name;
				tlvs.alpn_len = nlen;
			}
		}
		uint8_t uid[32];
		if (b->tlv_unique_id) {
			int n = snprintf((char *)uid, sizeof(uid), "tw-%016" PRIx64, c->id);
			tlvs.unique_id = uid;
			tlvs.unique_id_len = (size_t)n;
		}
		int n = tw_proxy_encode(hdr, sizeof(hdr), (int)b->proxy,
		                        (const struct sockaddr *)&c->client,
		                        (const struct sockaddr *)&c->local, &tlvs);
		if (n < 0)
			return n;
		/* One send() of at most 536 bytes on a fresh socket: the kernel
		 * takes it whole, so the backend reads it in one read. */
		int rc = tw_send_all(c->bfd, hdr, (size_t)n);
		if (rc < 0)
			return rc;
		c->b2c.observe_left = TW_OBSERVE_MAX;
		c->b2c.observe = on_observe;
		c->b2c.observe_arg = c;
	}
	if (c->ibuf && c->ilen > c->ioff) {
		/* Bytes read before routing (ClientHello, data after a trusted
		 * proxy's header) go first; what the socket won't take now is left
		 * to the relay's buffer. */
		size_t len = c->ilen - c->ioff;
		ssize_t n = send(c->bfd, c->ibuf + c->ioff, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN)
			return -errno;
		size_t sent = n > 0 ? (size_t)n : 0;
		c->c2b.bytes += sent;
		if (sent < len) {
			c->c2b.buf = malloc(TW_RELAY_BUF);
			if (!c->c2b.buf || len - sent > TW_RELAY_BUF)
				return -ENOMEM;
			atomic_fetch_add_explicit(&c->w->pool.bufs_in_use, 1, memory_order_relaxed);
			memcpy(c->c2b.buf, c->ibuf + c->ioff + sent, len - sent);
			c->c2b.buf_off = 0;
			c->c2b.buf_len = len - sent;
		}
	}
	free(c->ibuf);
	c->ibuf = NULL;
	return 0;
}

static void on_dialed(void *arg, int status, int fd, const struct sockaddr *addr)
{
	tw_conn_t *c = arg;
	c->dial = NULL;
	if (status < 0) {
		/* Passive check: the scheduler sees this and checks at once. */
		atomic_fetch_add_explicit(
		        &c->routes->backends[c->backend].srv[c->server].dial_fails, 1,
		        memory_order_relaxed);
		try_next_server(c);
		return;
	}
	c->bfd = fd;
	/* First: the socket comes still registered in the set (see dialer.h). */
	tw_evw_take(&c->bpoll, &c->w->evset, fd, c);
	memcpy(&c->baddr, addr, tw_addr_len(addr));
	uint64_t ms = loop_now(c) - c->dial_start_ms;
	size_t bk = 0;
	while (bk < TW_DIAL_BUCKETS - 1 && ms > tw_dial_buckets_ms[bk])
		bk++;
	atomic_fetch_add_explicit(&c->w->stats.dial_ms_bucket[bk], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->w->stats.dial_ms_sum, ms, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->w->stats.dial_count, 1, memory_order_relaxed);
	int rc = send_greeting(c);
	if (rc < 0) {
		tw__conn_end(c, TW_END_BACKEND_CLOSE, -rc);
		return;
	}
	start_relay(c);
}

static void on_resolved(void *arg, int status, const tw_addrlist_t *list)
{
	tw_conn_t *c = arg;
	c->rreq = NULL;
	const tw_cfg_backend_t *b = c->routes->backends[c->backend].cfg;
	if (status < 0 || list->n == 0) {
		tw_log(TW_LOG_WARN, "conn=%" PRIu64 " event=resolve_fail backend=%s host=%s err=%s",
		       c->id, b->name, b->servers[c->server].host,
		       status <= TW_EINVAL || status == 0 ? tw_strerror(status)
		                                          : uv_err_name(status));
		try_next_server(c);
		return;
	}
	tw_dial_opts_t o = {
	        .timeout_ms = b->connect_timeout_ms ? b->connect_timeout_ms
	                                            : c->routes->cfg->connect_timeout_ms,
	        .source = b->source.ss_family ? &b->source : NULL,
	        .interface = b->interface,
	        .keepalive = true,
	        .evset = &c->w->evset,
	};
	int rc = tw_dial_start(&c->w->loop, list, &o, on_dial_fail, on_dialed, c, &c->dial);
	if (rc < 0) {
		c->dial = NULL;
		try_next_server(c);
	}
}

/* Servers in order: balance first walks primaries then backups; roundrobin
 * starts the primaries at a per-worker cursor. */
static int server_order(tw_conn_t *c, int k)
{
	const tw_cfg_backend_t *b = c->routes->backends[c->backend].cfg;
	int n = (int)b->n_servers, np = 0;
	int prim[64], back[64], nb = 0;
	for (int i = 0; i < n && i < 64; i++) {
		if (b->servers[i].backup)
			back[nb++] = i;
		else
			prim[np++] = i;
	}
	if (k < np) {
		int start =
		        b->balance == TW_BALANCE_ROUNDROBIN ? (int)(c->w->rr % (uint32_t)np) : 0;
		return prim[(start + k) % np];
	}
	if (k - np < nb)
		return back[k - np];
	return -1;
}

static void try_next_server(tw_conn_t *c)
{
	if (c->state == TW_C_CLOSING)
		return;
	const tw_rbackend_t *rb = &c->routes->backends[c->backend];
	int s;
	/* Skip servers the health checks hold down or an operator drained. */
	do
		s = server_order(c, c->servers_tried++);
	while (s >= 0 && !tw_rserver_usable(&rb->srv[s]));
	if (s < 0) {
		/* Nothing (more) to try: the client's protocol's temporary failure,
		 * so a sender retries later and no mail is lost. */
		atomic_fetch_add(&c->w->stats.tempfail, 1);
		atomic_fetch_add(&c->l->stats->tempfail, 1);
		tw__tempfail(c->cfd, c->l->cfg);
		tw__conn_end(c, c->dialed_any ? TW_END_DIAL_FAILED : TW_END_NO_BACKEND, 0);
		return;
	}
	c->server = s;
	c->dialed_any = true;
	c->dial_start_ms = loop_now(c);
	const tw_cfg_server_t *sv = &rb->cfg->servers[s];
	int rc = tw_resolve(c->w->resolver, sv->host, sv->port, on_resolved, c, &c->rreq);
	if (rc < 0) {
		c->rreq = NULL;
		try_next_server(c);
	}
}

static void route_and_connect(tw_conn_t *c)
{
	c->backend = tw_routes_pick(c->routes, c->l, c->sni_len ? c->sni : NULL, c->sni_len,
	                            c->alpn, c->alpn_len);
	if (c->backend < 0) {
		atomic_fetch_add(&c->w->stats.no_route, 1);
		tw__conn_end(c, TW_END_NO_BACKEND, 0);
		return;
	}
	c->state = TW_C_CONNECT;
	/* No client events while connecting (a DEL only if it was watched:
	 * behind a PROXY header or for a ClientHello). */
	tw_evw_set(&c->cpoll, 0, NULL);
	if (c->routes->backends[c->backend].cfg->balance == TW_BALANCE_ROUNDROBIN)
		c->w->rr++;
	try_next_server(c);
}

/* ---- reading before routing ---- */

static void on_initial_poll(tw_evw_t *h, int status, int events);

static bool in_sources(const tw_cfg_listener_t *l, const struct sockaddr *sa);

/* The identity is fixed from here on: admission, then classify. */
static void after_proxy_header(tw_conn_t *c)
{
	const tw_config_t *cfg = c->routes->cfg;
	if (cfg->bans.rate.enabled)
		tw__ban_event(c->w, TW_BAN_EV_CONNECT, &c->client);
	if (c->w->bans) {
		const tw_ban_t *b = tw_banset_check(c->w->bans, (const struct sockaddr *)&c->client,
		                                    (int64_t)time(NULL));
		if (b) {
			/* One list, one identity, every listener: closed before any
			 * byte reaches a backend. */
			atomic_fetch_add(&c->w->stats.banned, 1);
			atomic_fetch_add(&c->l->stats->banned, 1);
			say_and_close_line(c->cfd, c->l->cfg, true);
			tw__conn_end(c, TW_END_BANNED, 0);
			return;
		}
	}
	if (c->l->cfg->n_sources && !in_sources(c->l->cfg, (const struct sockaddr *)&c->client)) {
		/* Who may connect at all to this listener (4190 from the tailnet
		 * only, say), judged by the one identity like everything else. */
		tw_log(TW_LOG_INFO, "conn=%" PRIu64 " event=refused why=sources", c->id);
		tw__conn_end(c, TW_END_BANNED, 0);
		return;
	}
	if (c->l->cfg->proto == TW_PROTO_TLS) {
		c->state = TW_C_HELLO;
		uint64_t t = c->l->cfg->hello_timeout_ms ? c->l->cfg->hello_timeout_ms
		                                         : HELLO_DEFAULT_MS;
		c->phase_start_ms = loop_now(c);
		c->timer_phase_ms = t;
		if (c->ilen > c->ioff) {
			on_initial_poll(&c->cpoll, 0, 0);
			return;
		}
		int rc = tw_evw_set(&c->cpoll, UV_READABLE, on_initial_poll);
		if (rc < 0)
			tw__conn_end(c, TW_END_CLIENT_CLOSE, -rc);
		return;
	}
	route_and_connect(c);
}

static void parse_initial(tw_conn_t *c)
{
	char err[160] = "";
	if (c->state == TW_C_PROXY_HDR) {
		tw_proxy_info_t pi;
		size_t used = 0;
		int rc = tw_proxy_parse(c->ibuf, c->ilen, 4096, &pi, &used, err, sizeof(err));
		if (rc == TW_EAGAIN)
			return;
		if (rc < 0) {
			char peer[64];
			tw_addr_format((const struct sockaddr *)&c->client, peer, sizeof(peer));
			tw_log(TW_LOG_WARN, "conn=%" PRIu64 " event=proxy_error peer=%s msg=\"%s\"",
			       c->id, peer, err);
			atomic_fetch_add(&c->w->stats.proxy_fail, 1);
			tw__conn_end(c, TW_END_PROTO_ERROR, 0);
			return;
		}
		if (!pi.local && pi.stream && (pi.family == AF_INET || pi.family == AF_INET6)) {
			c->client = pi.src;
			tw_addr_unmap_v4(&c->client);
		}
		c->ioff = used;
		after_proxy_header(c);
		return;
	}
	tw_client_hello_t ch;
	int rc = tw_tls_hello_parse(c->ibuf + c->ioff, c->ilen - c->ioff, TW_INITIAL_MAX - 4096,
	                            &ch, err, sizeof(err));
	if (rc == TW_EAGAIN)
		return;
	if (rc < 0) {
		atomic_fetch_add(&c->w->stats.hello_fail, 1);
		if (c->routes->cfg->bans.tls_garbage.enabled)
			tw__ban_event(c->w, TW_BAN_EV_TLS_GARBAGE, &c->client);
		tw_log(TW_LOG_INFO, "conn=%" PRIu64 " event=hello_error msg=\"%s\"", c->id, err);
		tw__conn_end(c, TW_END_PROTO_ERROR, 0);
		return;
	}
	if (ch.has_sni || ch.alpn_len) {
		char norm[256];
		const char *name = ch.sni;
		if (ch.has_sni &&
		    tw_sni_name_normalize(ch.sni, ch.sni_len, norm, sizeof(norm)) >= 0)
			name = norm;
		size_t nlen = ch.has_sni ? strlen(name) : 0;
		char *blk = malloc(nlen + 1 + ch.alpn_len);
		if (!blk) {
			tw__conn_end(c, TW_END_PROTO_ERROR, ENOMEM);
			return;
		}
		memcpy(blk, ch.has_sni ? name : "", nlen + 1);
		memcpy(blk + nlen + 1, ch.alpn, ch.alpn_len);
		c->sni = blk;
		c->sni_len = nlen;
		c->alpn = (uint8_t *)blk + nlen + 1;
		c->alpn_len = ch.alpn_len;
	}
	route_and_connect(c);
}

static void on_initial_poll(tw_evw_t *h, int status, int events)
{
	tw_conn_t *c = h->data;
	TW_UNUSED(events);
	if (status < 0) {
		tw__conn_end(c, TW_END_CLIENT_CLOSE, -status);
		return;
	}
	if (!c->ibuf) {
		c->ibuf = malloc(TW_INITIAL_MAX);
		if (!c->ibuf) {
			tw__conn_end(c, TW_END_PROTO_ERROR, ENOMEM);
			return;
		}
	}
	if (events) {
		if (c->ilen >= TW_INITIAL_MAX) {
			tw__conn_end(c, TW_END_PROTO_ERROR, 0);
			return;
		}
		/* A trusted proxy's header is read with no look-ahead past what
		 * the parser needs: bytes after it stay in ibuf as payload. */
		ssize_t n = recv(c->cfd, c->ibuf + c->ilen, TW_INITIAL_MAX - c->ilen, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			tw__conn_end(c, TW_END_CLIENT_CLOSE, errno);
			return;
		}
		if (n == 0) {
			tw__conn_end(c, TW_END_CLIENT_CLOSE, 0);
			return;
		}
		c->ilen += (size_t)n;
	}
	parse_initial(c);
}

/* ---- timers ---- */

static void on_timer(uv_timer_t *t)
{
	tw_conn_t *c = t->data;
	uint64_t now = loop_now(c);
	const tw_cfg_listener_t *lc = c->l->cfg;
	if (c->state == TW_C_PROXY_HDR || c->state == TW_C_HELLO) {
		if (now - c->phase_start_ms >= c->timer_phase_ms) {
			if (c->state == TW_C_HELLO)
				atomic_fetch_add(&c->w->stats.hello_fail, 1);
			else
				atomic_fetch_add(&c->w->stats.proxy_fail, 1);
			tw__conn_end(c, TW_END_PROTO_ERROR, ETIMEDOUT);
			return;
		}
	}
	if (lc->total_timeout_ms && now - c->start_ms >= lc->total_timeout_ms) {
		tw__conn_end(c, TW_END_TOTAL_TIMEOUT, 0);
		return;
	}
	if (c->state == TW_C_RELAY && c->l->idle_ms && now - c->last_ms >= c->l->idle_ms) {
		tw__conn_end(c, TW_END_IDLE_TIMEOUT, 0);
		return;
	}
}

/* ---- accept ---- */

static bool is_trusted(const tw_routes_t *r, const struct sockaddr *sa)
{
	for (size_t i = 0; i < r->cfg->n_trusted; i++)
		if (tw_cidr_match(&r->cfg->trusted_proxies[i], sa))
			return true;
	return false;
}

static bool in_sources(const tw_cfg_listener_t *l, const struct sockaddr *sa)
{
	for (size_t i = 0; i < l->n_sources; i++)
		if (tw_cidr_match(&l->sources[i], sa))
			return true;
	return false;
}

void tw__conn_accept(tw_worker_t *w, int fd, const tw_rlistener_t *l,
                     const struct sockaddr_storage *peer)
{
	const tw_config_t *cfg = w->routes->cfg;
	uint64_t active = atomic_fetch_add(&tw_edge_active_conns, 1) + 1;
	uint64_t lactive = atomic_fetch_add(&l->stats->active, 1) + 1;
	if ((cfg->maxconn && active > cfg->maxconn) ||
	    (l->cfg->maxconn && lactive > l->cfg->maxconn)) {
		atomic_fetch_sub(&tw_edge_active_conns, 1);
		atomic_fetch_sub(&l->stats->active, 1);
		atomic_fetch_add(&w->stats.over_maxconn, 1);
		atomic_fetch_add(&l->stats->over_maxconn, 1);
		tw__tempfail(fd, l->cfg);
		close(fd);
		return;
	}
	tw_conn_t *c = calloc(1, sizeof(*c));
	if (!c) {
		atomic_fetch_sub(&tw_edge_active_conns, 1);
		atomic_fetch_sub(&l->stats->active, 1);
		tw__tempfail(fd, l->cfg);
		close(fd);
		return;
	}
	c->w = w;
	c->id = atomic_fetch_add(&next_conn_id, 1);
	c->routes = tw_routes_ref(w->routes);
	c->l = l;
	c->backend = -1;
	c->cfd = fd;
	c->bfd = -1;
	tw_relay_dir_init(&c->c2b);
	tw_relay_dir_init(&c->b2c);
	c->client = *peer;
	tw_addr_unmap_v4(&c->client);
	socklen_t llen = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &llen);
	tw_addr_unmap_v4(&c->local);
	c->start_ms = c->last_ms = c->phase_start_ms = loop_now(c);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	atomic_fetch_add(&w->stats.accepted, 1);
	atomic_fetch_add(&l->stats->accepted, 1);
	atomic_fetch_add(&w->stats.active, 1);

	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	tw_evw_init(&c->cpoll, &w->evset, fd, c);
	uv_timer_init(&w->loop, &c->timer);
	c->timer.data = c;
	/* One periodic tick per connection checks phase, idle and total
	 * limits against timestamps: cheaper than re-arming on every read. */
	uint64_t tick = 1000;
	if (l->idle_ms && l->idle_ms < 10000)
		tick = l->idle_ms / 4 ? l->idle_ms / 4 : 1;
	uv_timer_start(&c->timer, on_timer, tick > 250 ? 250 : tick, tick);

	if (is_trusted(c->routes, (const struct sockaddr *)&c->client)) {
		/* Only a trusted upstream may name another client; from anyone
		 * else nothing is parsed and the peer address is the identity. */
		c->state = TW_C_PROXY_HDR;
		c->timer_phase_ms =
		        l->cfg->proxy_timeout_ms ? l->cfg->proxy_timeout_ms : PROXY_DEFAULT_MS;
		int rc = tw_evw_set(&c->cpoll, UV_READABLE, on_initial_poll);
		if (rc < 0)
			tw__conn_end(c, TW_END_CLIENT_CLOSE, -rc);
		return;
	}
	after_proxy_header(c);
}
