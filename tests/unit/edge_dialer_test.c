/*
 * Tests for edge/resolver.h and edge/dialer.h on a real loop with real
 * loopback sockets. Nothing leaves the machine: names come from /etc/hosts
 * or are malformed (glibc rejects them before building a query), and the
 * "silent" address is a local listener whose accept queue is full, so the
 * kernel drops further SYNs as an unresponsive host would.
 */
#include "util/tw.h"

#include "edge/dialer.h"
#include "edge/resolver.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* "1.2.3.4:25" or "[::1]:25" (port optional) into *ss; false if malformed. */
static bool sa_parse(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *p;
	unsigned port = 0;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (!p || (size_t)(p - s - 1) >= sizeof(host))
			return false;
		n = (size_t)(p - s - 1);
		memcpy(host, s + 1, n);
		host[n] = 0;
		p++;
	} else {
		p = strchr(s, ':');
		if (p && strchr(p + 1, ':'))
			p = NULL; /* a bare IPv6 address, no port */
		n = p ? (size_t)(p - s) : strlen(s);
		if (n >= sizeof(host))
			return false;
		memcpy(host, s, n);
		host[n] = 0;
		if (!p)
			p = s + n;
	}
	if (*p == ':')
		port = (unsigned)atoi(p + 1);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		return true;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		return true;
	}
	return false;
}

static void sa_format(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, size, "family%d", ss->ss_family);
	}
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* Open fds of this process, to prove nothing leaked. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A TCP socket bound to ip:0; listening with `backlog` if >= 0. Fills
 * *out with the bound address. Returns the fd or -1 (family unavailable). */
static int bound_socket(const char *ip, int backlog, struct sockaddr_storage *out)
{
	socklen_t len;
	int fd;

	assert_true(sa_parse(ip, out));
	fd = socket(out->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)out, sa_len(out)) < 0) {
		close(fd);
		return -1;
	}
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	len = sizeof(*out);
	assert_int_equal(getsockname(fd, (struct sockaddr *)out, &len), 0);
	return fd;
}

/* Waits up to ms for fd to become writable (a connect to finish). */
static bool wait_writable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	return poll(&p, 1, ms) == 1;
}

/*
 * A local address that swallows SYNs: a listener with backlog 0 whose
 * accept queue holds one never-accepted connection. Linux (and gVisor)
 * drop SYNs to a listener with a full accept queue, so a connect stays
 * pending as if the host were silent. fds[0..2] must be closed by the
 * caller. Returns false if this kernel does not behave so (test skipped).
 */
static bool make_blackhole(struct sockaddr_storage *addr, int fds[3])
{
	fds[0] = bound_socket("127.0.0.1", 0, addr);
	assert_true(fds[0] >= 0);
	for (int i = 1; i < 3; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		int r = connect(fds[i], (struct sockaddr *)addr, sa_len(addr));
		assert_true(r == 0 || errno == EINPROGRESS);
	}
	/* The first fills the queue; the second is the probe. */
	if (!wait_writable(fds[1], 1000) || wait_writable(fds[2], 150)) {
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		return false;
	}
	return true;
}

/* ---- resolver ---- */

struct rres {
	int calls;
	int status;
	tw_addrlist_t list;
	int order; /* value of *seq when called */
	int *seq;
	tw_resolver_t *free_me; /* freed from the callback */
	tw_resolver_t *r;       /* resolve again from a timer */
	bool sync;
};

static void on_resolved(void *arg, int status, const tw_addrlist_t *list)
{
	struct rres *x = arg;

	assert_non_null(list);
	x->calls++;
	x->status = status;
	x->list = *list;
	if (x->seq)
		x->order = ++*x->seq;
	if (status != 0)
		assert_int_equal(list->n, 0);
	else
		assert_true(list->n >= 1);
	if (x->free_me)
		tw_resolver_free(x->free_me);
}

static bool list_has(const tw_addrlist_t *l, const char *want)
{
	char buf[80];

	for (size_t i = 0; i < l->n; i++) {
		sa_format(&l->addr[i], buf, sizeof(buf));
		if (strcmp(buf, want) == 0)
			return true;
	}
	return false;
}

static void end_loop(uv_loop_t *loop)
{
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
	assert_int_equal(tw_dial_live(), 0);
}

static void test_resolve_literals(void **state)
{
	static const struct {
		const char *host;
		const char *want;
	} cases[] = {
	        {"192.0.2.7", "192.0.2.7:25"},
	        {"2001:DB8::1", "[2001:db8::1]:25"},
	        {"::ffff:10.0.0.1", "[::ffff:10.0.0.1]:25"},
	        {"fd7a:115c:a1e0::5", "[fd7a:115c:a1e0::5]:25"},
	};
	uv_loop_t loop;
	tw_resolver_t *r;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_non_null(r);
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		struct rres x = {0};
		tw_resolve_req_t *req = (void *)1;
		assert_int_equal(tw_resolve(r, cases[i].host, 25, on_resolved, &x, &req), 0);
		assert_int_equal(x.calls, 1); /* synchronous */
		assert_null(req);
		assert_int_equal(x.status, 0);
		assert_int_equal(x.list.n, 1);
		assert_true(list_has(&x.list, cases[i].want));
	}
	assert_int_equal(tw_resolver_lookups(r), 0);
	tw_resolver_free(r);
	end_loop(&loop);
}

static void test_resolve_bad_args(void **state)
{
	char longname[300];
	uv_loop_t loop;
	tw_resolver_t *r;
	struct rres x = {0};

	TW_UNUSED(state);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_resolve(r, "", 25, on_resolved, &x, NULL), TW_EINVAL);
	assert_int_equal(tw_resolve(r, longname, 25, on_resolved, &x, NULL), TW_EINVAL);
	assert_int_equal(tw_resolve(r, NULL, 25, on_resolved, &x, NULL), TW_EINVAL);
	assert_int_equal(tw_resolve(r, "localhost", 25, NULL, &x, NULL), TW_EINVAL);
	assert_int_equal(x.calls, 0);
	assert_int_equal(tw_resolver_lookups(r), 0);
	tw_resolver_free(r);
	tw_resolver_free(NULL);
	tw_resolve_cancel(NULL);
	end_loop(&loop);
}

static void test_resolve_localhost_and_cache(void **state)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	struct rres a = {0}, b = {0};
	tw_resolve_req_t *req = NULL;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 60000);
	assert_int_equal(tw_resolve(r, "localhost", 2525, on_resolved, &a, &req), 0);
	assert_non_null(req);
	assert_int_equal(a.calls, 0); /* a lookup is never answered synchronously */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, 0);
	assert_true(list_has(&a.list, "127.0.0.1:2525"));
	assert_int_equal(tw_resolver_lookups(r), 1);

	/* Cache hit: synchronous, same addresses with the new port, and the
	 * key is the case-folded host, shared by every port. */
	assert_int_equal(tw_resolve(r, "LocalHost", 993, on_resolved, &b, &req), 0);
	assert_null(req);
	assert_int_equal(b.calls, 1);
	assert_int_equal(tw_resolver_lookups(r), 1);
	assert_int_equal(b.list.n, a.list.n);
	for (size_t i = 0; i < a.list.n; i++) {
		sa_set_port(&a.list.addr[i], 993);
		assert_memory_equal(&a.list.addr[i], &b.list.addr[i], sizeof(a.list.addr[i]));
	}

	/* forget: the next request asks again; unknown names are ignored. */
	tw_resolver_forget(r, "LOCALHOST");
	tw_resolver_forget(r, "not-cached.example");
	tw_resolver_forget(r, "");
	tw_resolver_forget(NULL, "localhost");
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &b, &req), 0);
	assert_non_null(req);
	assert_int_equal(b.calls, 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(b.calls, 2);
	assert_int_equal(b.status, 0);
	assert_int_equal(tw_resolver_lookups(r), 2);
	tw_resolver_free(r);
	end_loop(&loop);
}

static void resolve_again(uv_timer_t *t)
{
	struct rres *x = t->data;

	assert_int_equal(tw_resolve(x->r, "localhost", 25, on_resolved, x, NULL), 0);
	x->sync = x->calls == 2;
	uv_close((uv_handle_t *)t, NULL);
}

static void test_resolve_expiry(void **state)
{
	uv_loop_t loop;
	uv_timer_t t;
	tw_resolver_t *r;
	struct rres x = {0};

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 30);
	x.r = r;
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &x, NULL), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.calls, 1);
	assert_int_equal(tw_resolver_lookups(r), 1);
	uv_timer_init(&loop, &t);
	t.data = &x;
	uv_timer_start(&t, resolve_again, 80, 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_false(x.sync);
	assert_int_equal(x.calls, 2);
	assert_int_equal(x.status, 0);
	assert_int_equal(tw_resolver_lookups(r), 2);

	/* set_ttl applies to what is already cached. */
	tw_resolver_set_ttl(r, 0);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &x, NULL), 0);
	assert_int_equal(x.calls, 2);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.calls, 3);
	assert_int_equal(tw_resolver_lookups(r), 3);
	tw_resolver_free(r);
	end_loop(&loop);
}

static void test_resolve_coalesce(void **state)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	int seq = 0;
	struct rres a = {.seq = &seq}, b = {.seq = &seq};

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &a, NULL), 0);
	assert_int_equal(tw_resolve(r, "localhost", 587, on_resolved, &b, NULL), 0);
	assert_int_equal(tw_resolver_lookups(r), 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(tw_resolver_lookups(r), 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.order, 1); /* answered in arrival order */
	assert_int_equal(b.order, 2);
	assert_true(list_has(&a.list, "127.0.0.1:25"));
	assert_true(list_has(&b.list, "127.0.0.1:587"));
	tw_resolver_free(r);
	end_loop(&loop);
}

static void test_resolve_cancel(void **state)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	struct rres a = {0}, b = {0}, c = {0};
	tw_resolve_req_t *ra, *rb;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &a, &ra), 0);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &b, &rb), 0);
	tw_resolve_cancel(ra);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 1);

	/* Cancelling every waiter still lets the answer fill the cache. */
	tw_resolver_set_ttl(r, 0);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &a, &ra), 0);
	tw_resolve_cancel(ra);
	tw_resolver_set_ttl(r, 60000);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(tw_resolver_lookups(r), 2);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &c, NULL), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(tw_resolver_lookups(r), 2);
	tw_resolver_free(r);
	end_loop(&loop);
}

static void test_resolve_free_in_flight(void **state)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	struct rres a = {0}, b = {0}, c = {0};

	TW_UNUSED(state);
	/* Freed before the lookup completes: no callback, no leak. */
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &a, NULL), 0);
	assert_int_equal(tw_resolve(r, "tw-test..invalid", 25, on_resolved, &b, NULL), 0);
	tw_resolver_free(r);
	end_loop(&loop);
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);

	/* Freed from the first of two coalesced callbacks. */
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	a.free_me = r;
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &a, NULL), 0);
	assert_int_equal(tw_resolve(r, "localhost", 25, on_resolved, &c, NULL), 0);
	end_loop(&loop);
	assert_int_equal(a.calls, 1);
	assert_int_equal(c.calls, 0);
}

static void close_timer(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, NULL);
}

static void test_resolve_negative(void **state)
{
	uv_loop_t loop;
	uv_timer_t t;
	tw_resolver_t *r;
	struct rres x = {0};
	uint64_t t0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 60000);
	/* An empty label: glibc fails it without sending a query. */
	assert_int_equal(tw_resolve(r, "tw-test..invalid", 25, on_resolved, &x, NULL), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.status, TW_ENOTFOUND);
	t0 = uv_now(&loop);
	assert_int_equal(tw_resolve(r, "tw-test..invalid", 25, on_resolved, &x, NULL), 0);
	assert_int_equal(x.calls, 2); /* negative answer cached for now */
	assert_int_equal(x.status, TW_ENOTFOUND);
	assert_int_equal(tw_resolver_lookups(r), 1);
	/* ... but at most 1 s, however long the ttl. */
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, close_timer, 1050, 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_true(uv_now(&loop) - t0 >= 1000);
	assert_int_equal(tw_resolve(r, "tw-test..invalid", 25, on_resolved, &x, NULL), 0);
	assert_int_equal(x.calls, 2);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.calls, 3);
	assert_int_equal(tw_resolver_lookups(r), 2);
	tw_resolver_free(r);
	end_loop(&loop);
}

static void test_resolve_many_names(void **state)
{
	/* Enough distinct names to grow and prune the table several times;
	 * all fail locally (empty label) and expire fast. */
	uv_loop_t loop;
	tw_resolver_t *r;
	struct rres x = {0};
	char name[64];

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%d..invalid", i);
		assert_int_equal(tw_resolve(r, name, 25, on_resolved, &x, NULL), 0);
		if (i % 10 == 9)
			assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	}
	assert_int_equal(x.calls, 100);
	assert_int_equal(tw_resolver_lookups(r), 100);
	tw_resolver_free(r);
	end_loop(&loop);
}

/* Addresses as "ip:port" / "[ip]:port", comma-separated. */
static void list_parse(const char *s, tw_addrlist_t *l)
{
	char buf[512], *save = NULL;

	l->n = 0;
	tw_strlcpy(buf, s, sizeof(buf));
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		assert_true(l->n < TW_RESOLVE_MAX);
		assert_true(sa_parse(tok, &l->addr[l->n]));
		l->n++;
	}
}

static void list_format(const tw_addrlist_t *l, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = 0;
	for (size_t i = 0; i < l->n && off < size; i++) {
		char one[80];
		sa_format(&l->addr[i], one, sizeof(one));
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "", one);
	}
}

static void test_interleave(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	        {"", ""},
	        {"1.1.1.1:1", "1.1.1.1:1"},
	        {"1.1.1.1:1,2.2.2.2:1,3.3.3.3:1", "1.1.1.1:1,2.2.2.2:1,3.3.3.3:1"},
	        {"[::2]:1,[::1]:1", "[::2]:1,[::1]:1"},
	        {"1.1.1.1:1,2.2.2.2:1,[::1]:1,[::2]:1", "[::1]:1,1.1.1.1:1,[::2]:1,2.2.2.2:1"},
	        {"1.1.1.1:1,2.2.2.2:1,3.3.3.3:1,[::1]:1", "[::1]:1,1.1.1.1:1,2.2.2.2:1,3.3.3.3:1"},
	        {"[::1]:1,[::2]:1,[::3]:1,1.1.1.1:1", "[::1]:1,1.1.1.1:1,[::2]:1,[::3]:1"},
	        /* duplicates dropped, first kept in place */
	        {"1.1.1.1:1,[::1]:1,1.1.1.1:1,[::1]:1", "[::1]:1,1.1.1.1:1"},
	        /* same address, other port: not a duplicate */
	        {"1.1.1.1:1,1.1.1.1:2", "1.1.1.1:1,1.1.1.1:2"},
	        {"[::1]:1,[::ffff:1.1.1.1]:1,1.1.1.1:1", "[::1]:1,1.1.1.1:1,[::ffff:1.1.1.1]:1"},
	        {"10.0.0.1:1,10.0.0.2:1,10.0.0.3:1,10.0.0.4:1,10.0.0.5:1,10.0.0.6:1,10.0.0.7:1,"
	         "10.0.0.8:1,[::1]:1,[::2]:1,[::3]:1,[::4]:1,[::5]:1,[::6]:1,[::7]:1,[::8]:1",
	         "[::1]:1,10.0.0.1:1,[::2]:1,10.0.0.2:1,[::3]:1,10.0.0.3:1,[::4]:1,10.0.0.4:1,"
	         "[::5]:1,10.0.0.5:1,[::6]:1,10.0.0.6:1,[::7]:1,10.0.0.7:1,[::8]:1,10.0.0.8:1"},
	};
	char got[1024];

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_addrlist_t l;
		list_parse(cases[i].in, &l);
		tw_addrlist_interleave(&l);
		list_format(&l, got, sizeof(got));
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, cases[i].want);
	}
	tw_addrlist_interleave(NULL);
}

/* ---- dialer ---- */

struct dres {
	int fails;
	int fail_err[TW_RESOLVE_MAX * 2];
	struct sockaddr_storage fail_addr[TW_RESOLVE_MAX * 2];
	int done;
	int status;
	int fd;
	struct sockaddr_storage addr;
	bool in_start;
	bool sync_cb;
	uint64_t t0, done_ms;
	tw_dial_t *cancel_on_fail;
};

static void on_fail(void *arg, const struct sockaddr *sa, int err)
{
	struct dres *x = arg;

	assert_int_equal(x->done, 0);
	assert_true(err > 0);
	assert_true((size_t)x->fails < TW_ARRAY_LEN(x->fail_err));
	x->fail_err[x->fails] = err;
	memcpy(&x->fail_addr[x->fails], sa,
	       sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                 : sizeof(struct sockaddr_in));
	x->fails++;
	if (x->cancel_on_fail)
		tw_dial_cancel(x->cancel_on_fail);
}

static void on_dialed(void *arg, int status, int fd, const struct sockaddr *sa)
{
	struct dres *x = arg;

	x->done++;
	x->status = status;
	x->fd = fd;
	x->sync_cb = x->in_start;
	x->done_ms = now_ms() - x->t0;
	if (status == 0) {
		assert_true(fd >= 0);
		assert_non_null(sa);
		memcpy(&x->addr, sa,
		       sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                                 : sizeof(struct sockaddr_in));
	} else {
		assert_true(status < 0);
		assert_int_equal(fd, -1);
	}
}

static tw_dial_t *dial(uv_loop_t *loop, const tw_addrlist_t *l, const tw_dial_opts_t *o,
                       struct dres *x)
{
	tw_dial_t *d = NULL;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	/* Timers count from the loop's cached time; outside a callback it is
	 * as old as the last iteration (or uv_loop_init). */
	uv_update_time(loop);
	x->t0 = now_ms();
	x->in_start = true;
	assert_int_equal(tw_dial_start(loop, l, o, on_fail, on_dialed, x, &d), 0);
	x->in_start = false;
	assert_non_null(d);
	assert_int_equal(x->done, 0);
	assert_int_equal(x->fails, 0); /* nothing reported from inside start */
	assert_int_equal(tw_dial_live(), 1);
	return d;
}

/* Accepts the pending connection on lfd; returns the peer address. */
static int accept_peer(int lfd, struct sockaddr_storage *peer)
{
	socklen_t len = sizeof(*peer);
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int fd;

	assert_int_equal(poll(&p, 1, 1000), 1);
	fd = accept(lfd, (struct sockaddr *)peer, &len);
	assert_true(fd >= 0);
	return fd;
}

struct handover {
	char byte;
	int calls;
};

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct handover *h = p->data;
	uv_os_fd_t fd;

	assert_int_equal(status, 0);
	assert_true(events & UV_READABLE);
	assert_int_equal(uv_fileno((uv_handle_t *)p, &fd), 0);
	assert_int_equal(read(fd, &h->byte, 1), 1);
	h->calls++;
	uv_close((uv_handle_t *)p, NULL);
}

static void test_dial_ok_and_handover(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage laddr, peer;
	tw_dial_opts_t o = {.keepalive = true};
	tw_addrlist_t l;
	struct dres x;
	struct handover h = {0};
	uv_poll_t p;
	int lfd, sfd, v = 0, fds0;
	socklen_t len = sizeof(v);

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	assert_true(lfd >= 0);
	l.n = 1;
	l.addr[0] = laddr;
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_false(x.sync_cb);
	assert_int_equal(x.status, 0);
	assert_int_equal(x.fails, 0);
	assert_memory_equal(&x.addr, &laddr, sizeof(struct sockaddr_in));
	assert_int_equal(tw_dial_live(), 0);

	/* The fd: nonblocking, close-on-exec, keepalive as asked. */
	assert_true(fcntl(x.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(x.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockopt(x.fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	assert_int_equal(v, 1);

	/* Hand-over: the loop no longer watches the fd, so the caller can. */
	sfd = accept_peer(lfd, &peer);
	assert_int_equal(write(sfd, "k", 1), 1);
	assert_int_equal(uv_poll_init(&loop, &p, x.fd), 0);
	p.data = &h;
	assert_int_equal(uv_poll_start(&p, UV_READABLE, on_readable), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.byte, 'k');
	close(x.fd);
	close(sfd);
	close(lfd);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_refused_v6_then_v4(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage laddr, raddr, peer;
	tw_dial_opts_t o = {.stagger_ms = 2000, .timeout_ms = 5000};
	tw_addrlist_t l;
	struct dres x;
	int lfd, rfd, sfd, fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	rfd = bound_socket("::1", -1, &raddr); /* bound, not listening: RST */
	if (rfd < 0) {
		assert_int_equal(uv_loop_close(&loop), 0);
		skip();
	}
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	l.n = 2;
	l.addr[0] = raddr;
	l.addr[1] = laddr;
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.status, 0);
	assert_int_equal(x.fails, 1);
	assert_int_equal(x.fail_err[0], ECONNREFUSED);
	assert_memory_equal(&x.fail_addr[0], &raddr, sizeof(struct sockaddr_in6));
	assert_memory_equal(&x.addr, &laddr, sizeof(struct sockaddr_in));
	/* A refusal moves on at once, not after the 2 s stagger. */
	assert_true(x.done_ms < 1000);
	sfd = accept_peer(lfd, &peer);
	close(sfd);
	close(x.fd);
	close(lfd);
	close(rfd);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_all_refused(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage a[3];
	tw_dial_opts_t o = {.stagger_ms = 2000};
	tw_addrlist_t l = {.n = 0};
	struct dres x;
	int fd[3], fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	fd[0] = bound_socket("127.0.0.1", -1, &a[0]);
	fd[1] = bound_socket("::1", -1, &a[1]);
	fd[2] = bound_socket("127.0.0.2", -1, &a[2]);
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0)
			l.addr[l.n++] = a[i];
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.status, -ECONNREFUSED);
	assert_int_equal(x.fd, -1);
	assert_int_equal(x.fails, (int)l.n);
	for (size_t i = 0; i < l.n; i++) {
		assert_int_equal(x.fail_err[i], ECONNREFUSED);
		assert_int_equal(x.fail_addr[i].ss_family, l.addr[i].ss_family);
		assert_int_equal(sa_port(&x.fail_addr[i]), sa_port(&l.addr[i]));
	}
	assert_true(x.done_ms < 1000);
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_sync_failures(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage laddr, peer;
	tw_dial_opts_t o = {.interface = "twnodev0"};
	tw_addrlist_t l;
	struct dres x;
	int lfd, sfd, fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	lfd = bound_socket("127.0.0.1", 16, &laddr);

	/* Every attempt fails inside connect's setup (no such device, or no
	 * permission): still reported from the loop, never from start. */
	list_parse("127.0.0.1:9,[::1]:9", &l);
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_false(x.sync_cb);
	assert_int_equal(x.fails, 2);
	assert_true(x.fail_err[0] == ENODEV || x.fail_err[0] == EPERM);
	assert_int_equal(x.status, -x.fail_err[1]);

	/* An unusable entry is a failed attempt; the next one is tried. */
	l.n = 2;
	memset(&l.addr[0], 0, sizeof(l.addr[0]));
	l.addr[1] = laddr;
	dial(&loop, &l, NULL, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.status, 0);
	assert_int_equal(x.fails, 1);
	assert_int_equal(x.fail_err[0], EAFNOSUPPORT);
	sfd = accept_peer(lfd, &peer);
	close(sfd);
	close(x.fd);
	close(lfd);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_stagger(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage bh, laddr, peer;
	tw_dial_opts_t o = {.stagger_ms = 150, .timeout_ms = 3000};
	tw_addrlist_t l;
	struct dres x;
	int bfd[3], lfd, sfd, fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	if (!make_blackhole(&bh, bfd)) {
		assert_int_equal(uv_loop_close(&loop), 0);
		skip();
	}
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	l.n = 2;
	l.addr[0] = bh;
	l.addr[1] = laddr;
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.status, 0);
	assert_memory_equal(&x.addr, &laddr, sizeof(struct sockaddr_in));
	/* The silent attempt lost the race: reported as ECANCELED before the
	 * success, so the log shows the path that never answered. */
	assert_int_equal(x.fails, 1);
	assert_int_equal(x.fail_err[0], ECANCELED);
	assert_memory_equal(&x.fail_addr[0], &bh, sizeof(struct sockaddr_in));
	assert_true(x.done_ms >= 140);
	assert_true(x.done_ms < 1000);
	sfd = accept_peer(lfd, &peer);
	close(sfd);
	close(x.fd);
	close(lfd);
	for (int i = 0; i < 3; i++)
		close(bfd[i]);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_timeout(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage bh;
	tw_dial_opts_t o = {.timeout_ms = 300, .stagger_ms = 100};
	tw_addrlist_t l;
	struct dres x;
	int bfd[3], fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	if (!make_blackhole(&bh, bfd)) {
		assert_int_equal(uv_loop_close(&loop), 0);
		skip();
	}
	l.n = 1;
	l.addr[0] = bh;
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.status, -ETIMEDOUT);
	assert_int_equal(x.fails, 1);
	assert_int_equal(x.fail_err[0], ETIMEDOUT);
	assert_true(x.done_ms >= 290);
	assert_true(x.done_ms < 1000);

	/* Two silent attempts, both started by the stagger, both reported. */
	l.n = 2;
	l.addr[1] = bh;
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.status, -ETIMEDOUT);
	assert_int_equal(x.fails, 2);
	assert_int_equal(x.fail_err[0], ETIMEDOUT);
	assert_int_equal(x.fail_err[1], ETIMEDOUT);
	for (int i = 0; i < 3; i++)
		close(bfd[i]);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void cancel_timer(uv_timer_t *t)
{
	tw_dial_cancel(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_dial_cancel(void **state)
{
	uv_loop_t loop;
	uv_timer_t t;
	struct sockaddr_storage bh, laddr, raddr;
	tw_dial_opts_t o = {.stagger_ms = 1000, .timeout_ms = 3000};
	tw_addrlist_t l;
	struct dres x;
	tw_dial_t *d;
	int bfd[3], lfd, rfd, fds0;
	bool have_bh;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	rfd = bound_socket("127.0.0.1", -1, &raddr);

	/* Before the loop ever ran. */
	l.n = 1;
	l.addr[0] = laddr;
	d = dial(&loop, &l, &o, &x);
	tw_dial_cancel(d);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.done + x.fails, 0);
	assert_int_equal(tw_dial_live(), 0);

	/* Mid-dial, with an attempt pending. */
	have_bh = make_blackhole(&bh, bfd);
	if (have_bh) {
		l.n = 2;
		l.addr[0] = bh;
		l.addr[1] = laddr;
		d = dial(&loop, &l, &o, &x);
		uv_timer_init(&loop, &t);
		t.data = d;
		uv_timer_start(&t, cancel_timer, 50, 0);
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
		assert_int_equal(x.done + x.fails, 0);
		assert_int_equal(tw_dial_live(), 0);
		for (int i = 0; i < 3; i++)
			close(bfd[i]);
	}

	/* From on_fail: no further callback. */
	l.n = 2;
	l.addr[0] = raddr;
	l.addr[1] = laddr;
	d = dial(&loop, &l, &o, &x);
	x.cancel_on_fail = d;
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.fails, 1);
	assert_int_equal(x.done, 0);
	assert_int_equal(tw_dial_live(), 0);

	close(lfd);
	close(rfd);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_source(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage laddr, src, peer;
	tw_dial_opts_t o = {.source = &src};
	tw_addrlist_t l;
	struct dres x;
	char buf[80];
	int lfd, sfd, fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	l.n = 1;
	l.addr[0] = laddr;

	assert_true(sa_parse("127.0.0.3", &src));
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.status, 0);
	sfd = accept_peer(lfd, &peer);
	sa_format(&peer, buf, sizeof(buf));
	assert_non_null(strstr(buf, "127.0.0.3:"));
	close(sfd);
	close(x.fd);

	/* A source of the other family is not applied. */
	assert_true(sa_parse("::1", &src));
	dial(&loop, &l, &o, &x);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x.status, 0);
	sfd = accept_peer(lfd, &peer);
	sa_format(&peer, buf, sizeof(buf));
	assert_non_null(strstr(buf, "127.0.0.1:"));
	close(sfd);
	close(x.fd);

	close(lfd);
	assert_int_equal(count_fds(), fds0);
	end_loop(&loop);
}

static void test_dial_bad_args(void **state)
{
	uv_loop_t loop;
	tw_addrlist_t l = {.n = 0};
	tw_dial_opts_t o = {.interface = "an-interface-name-too-long"};
	tw_dial_t *d = (void *)1;
	struct dres x = {0};

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(tw_dial_start(&loop, &l, NULL, on_fail, on_dialed, &x, &d), TW_EINVAL);
	assert_null(d);
	l.n = TW_RESOLVE_MAX + 1;
	assert_int_equal(tw_dial_start(&loop, &l, NULL, on_fail, on_dialed, &x, NULL), TW_EINVAL);
	list_parse("127.0.0.1:9", &l);
	assert_int_equal(tw_dial_start(&loop, &l, NULL, on_fail, NULL, &x, NULL), TW_EINVAL);
	assert_int_equal(tw_dial_start(&loop, &l, &o, on_fail, on_dialed, &x, NULL), TW_EINVAL);
	assert_int_equal(tw_dial_live(), 0);
	tw_dial_cancel(NULL);
	end_loop(&loop);
	assert_int_equal(x.done + x.fails, 0);
}

/* Resolver and dialer together, as the edge uses them. */
struct chain {
	uv_loop_t *loop;
	struct dres x;
};

static void chain_resolved(void *arg, int status, const tw_addrlist_t *list)
{
	struct chain *c = arg;

	assert_int_equal(status, 0);
	dial(c->loop, list, NULL, &c->x);
}

static void test_resolve_then_dial(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage laddr, peer;
	struct chain c = {.loop = &loop};
	tw_resolver_t *r;
	int lfd, sfd;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_resolve(r, "localhost", sa_port(&laddr), chain_resolved, &c, NULL), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(c.x.done, 1);
	/* /etc/hosts may list ::1 for localhost too, with nothing there. */
	assert_int_equal(c.x.status, 0);
	assert_int_equal(c.x.addr.ss_family, AF_INET);
	sfd = accept_peer(lfd, &peer);
	close(sfd);
	close(c.x.fd);
	close(lfd);
	tw_resolver_free(r);
	end_loop(&loop);
}

/* ---- the fd watcher set ---- */

/* The epoll events fd is registered for in s, from /proc/self/fdinfo (no
 * epoll_ctl, which would change the registration); -1 when not registered. */
static long reg_events(const tw_evset_t *s, int fd)
{
	char path[64], line[256];
	long ev = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", s->efd);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		int tfd;
		unsigned e;
		if (sscanf(line, "tfd: %d events: %x", &tfd, &e) == 2 && tfd == fd)
			ev = (long)(e & (EPOLLIN | EPOLLOUT));
	}
	fclose(f);
	return ev;
}

struct evres {
	tw_evset_t set;
	tw_evw_t w[2];
	int fds[2];
	int calls;
	int status[4], events[4];
	int who[4];
	unsigned iter[4];
	unsigned iterations;
	long reg_in_cb;
};

static void count_iteration(uv_check_t *h)
{
	struct evres *r = h->data;
	r->iterations++;
}

static void on_ev_once(tw_evw_t *w, int status, int events)
{
	struct evres *r = w->data;
	char b;

	assert_true(r->calls < 4);
	r->status[r->calls] = status;
	r->events[r->calls] = events;
	r->calls++;
	assert_int_equal(read(w->fd, &b, 1), 1);
	tw_evw_release(w);
	tw_evset_close(&r->set, NULL);
}

static void test_evset_interest(void **state)
{
	uv_loop_t loop;
	struct evres r = {0};
	int sv[2], fds0;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(tw_evset_init(&r.set, &loop), 0);
	tw_evw_init(&r.w[0], &r.set, sv[0], &r);
	assert_int_equal(reg_events(&r.set, sv[0]), -1);
	assert_int_equal(tw_evw_set(&r.w[0], UV_READABLE, on_ev_once), 0);
	assert_int_equal(reg_events(&r.set, sv[0]), EPOLLIN);
	assert_int_equal(tw_evw_set(&r.w[0], UV_READABLE | UV_WRITABLE, on_ev_once), 0);
	assert_int_equal(reg_events(&r.set, sv[0]), EPOLLIN | EPOLLOUT);
	assert_int_equal(tw_evw_set(&r.w[0], 0, on_ev_once), 0);
	assert_int_equal(reg_events(&r.set, sv[0]), -1);
	tw_evw_release(&r.w[0]); /* idempotent */
	assert_int_equal(tw_evw_set(&r.w[0], UV_READABLE, on_ev_once), 0);
	assert_int_equal(tw_evw_set(&r.w[0], UV_READABLE, on_ev_once), 0);
	assert_int_equal(reg_events(&r.set, sv[0]), EPOLLIN);
	/* Not writable-only: a readable socket must not be reported writable. */
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status[0], 0);
	assert_int_equal(r.events[0], UV_READABLE);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(count_fds(), fds0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The first callback releases and re-arms the other watcher, whose event was
 * fetched in the same batch: that event is stale (as after uv_poll_stop and
 * uv_poll_start) and must not be delivered; the fresh one comes in a later
 * loop iteration. */
static void on_ev_rearm(tw_evw_t *w, int status, int events)
{
	struct evres *r = w->data;
	int me = w == &r->w[0] ? 0 : 1;
	char b;

	assert_true(r->calls < 4);
	r->status[r->calls] = status;
	r->events[r->calls] = events;
	r->who[r->calls] = me;
	r->iter[r->calls] = r->iterations;
	r->calls++;
	assert_int_equal(read(w->fd, &b, 1), 1);
	tw_evw_release(w);
	if (r->calls == 1) {
		tw_evw_release(&r->w[!me]);
		assert_int_equal(tw_evw_set(&r->w[!me], UV_READABLE, on_ev_rearm), 0);
	} else {
		tw_evset_close(&r->set, NULL);
	}
}

static void test_evset_drops_stale_events(void **state)
{
	uv_loop_t loop;
	uv_check_t chk;
	struct evres r = {0};
	int a[2], b[2];

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, b), 0);
	assert_int_equal(tw_evset_init(&r.set, &loop), 0);
	uv_check_init(&loop, &chk);
	chk.data = &r;
	uv_check_start(&chk, count_iteration);
	uv_unref((uv_handle_t *)&chk);
	tw_evw_init(&r.w[0], &r.set, a[0], &r);
	tw_evw_init(&r.w[1], &r.set, b[0], &r);
	assert_int_equal(tw_evw_set(&r.w[0], UV_READABLE, on_ev_rearm), 0);
	assert_int_equal(tw_evw_set(&r.w[1], UV_READABLE, on_ev_rearm), 0);
	/* Both readable before the loop runs: one batch holds both events. */
	assert_int_equal(write(a[1], "a", 1), 1);
	assert_int_equal(write(b[1], "b", 1), 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 2);
	assert_int_not_equal(r.who[0], r.who[1]);
	assert_int_equal(r.events[1], UV_READABLE);
	assert_true(r.iter[1] > r.iter[0]);
	uv_close((uv_handle_t *)&chk, NULL);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A socket error is reported as libuv's uv_poll_t does (UV_EBADF), with the
 * watcher already stopped (no longer in the set). */
static void on_ev_err(tw_evw_t *w, int status, int events)
{
	struct evres *r = w->data;

	assert_true(r->calls < 4);
	r->status[r->calls] = status;
	r->events[r->calls] = events;
	r->calls++;
	r->reg_in_cb = reg_events(&r->set, w->fd);
	tw_evw_release(w);
	tw_evset_close(&r->set, NULL);
}

static void test_evset_error(void **state)
{
	uv_loop_t loop;
	struct evres r = {0};
	struct sockaddr_storage raddr;
	int rfd, fd, err = 0;
	socklen_t len = sizeof(err);

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	rfd = bound_socket("127.0.0.1", -1, &raddr); /* bound, not listening: RST */
	assert_true(rfd >= 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(tw_evset_init(&r.set, &loop), 0);
	tw_evw_init(&r.w[0], &r.set, fd, &r);
	assert_int_equal(tw_evw_set(&r.w[0], UV_WRITABLE, on_ev_err), 0);
	if (connect(fd, (struct sockaddr *)&raddr, sa_len(&raddr)) < 0)
		assert_true(errno == EINPROGRESS || errno == ECONNREFUSED);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status[0], UV_EBADF);
	assert_int_equal(r.events[0], 0);
	assert_int_equal(r.reg_in_cb, -1);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	assert_true(err == ECONNREFUSED || err == 0);
	close(fd);
	close(rfd);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* With opts.evset, the winner comes still registered (for writability) and
 * tw_evw_take() takes that registration over: the first change is a MOD, and
 * the new watcher gets the events. */
struct takeres {
	struct dres x; /* first: on_dialed gets the same pointer */
	struct evres r;
	long reg_at_cb;
};

static void on_dialed_take(void *arg, int status, int fd, const struct sockaddr *sa)
{
	struct takeres *t = arg;

	on_dialed(&t->x, status, fd, sa);
	assert_int_equal(status, 0);
	t->reg_at_cb = reg_events(&t->r.set, fd);
	tw_evw_take(&t->r.w[0], &t->r.set, fd, &t->r);
	assert_int_equal(tw_evw_set(&t->r.w[0], UV_READABLE, on_ev_once), 0);
}

static void test_dial_evset_handover(void **state)
{
	uv_loop_t loop;
	struct sockaddr_storage laddr, peer;
	struct takeres t;
	tw_dial_opts_t o = {.keepalive = true};
	tw_addrlist_t l;
	tw_dial_t *d = NULL;
	int lfd, sfd, fds0;

	TW_UNUSED(state);
	memset(&t, 0, sizeof(t));
	t.x.fd = -1;
	assert_int_equal(uv_loop_init(&loop), 0);
	fds0 = count_fds();
	assert_int_equal(tw_evset_init(&t.r.set, &loop), 0);
	o.evset = &t.r.set;
	lfd = bound_socket("127.0.0.1", 16, &laddr);
	assert_true(lfd >= 0);
	l.n = 1;
	l.addr[0] = laddr;
	assert_int_equal(tw_dial_start(&loop, &l, &o, on_fail, on_dialed_take, &t, &d), 0);
	/* The set's handle keeps the loop alive: run until the dial is done. */
	while (t.x.done == 0)
		assert_true(uv_run(&loop, UV_RUN_ONCE) != 0 || t.x.done);
	assert_int_equal(t.x.status, 0);
	assert_int_equal(t.reg_at_cb, EPOLLOUT);
	assert_int_equal(reg_events(&t.r.set, t.x.fd), EPOLLIN);
	sfd = accept_peer(lfd, &peer);
	assert_int_equal(write(sfd, "k", 1), 1);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* on_ev_once closes the set */
	assert_int_equal(t.r.calls, 1);
	assert_int_equal(t.r.status[0], 0);
	assert_int_equal(t.r.events[0], UV_READABLE);
	assert_int_equal(tw_dial_live(), 0);
	close(t.x.fd);
	close(sfd);
	close(lfd);
	assert_int_equal(count_fds(), fds0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_resolve_literals),
	        cmocka_unit_test(test_resolve_bad_args),
	        cmocka_unit_test(test_resolve_localhost_and_cache),
	        cmocka_unit_test(test_resolve_expiry),
	        cmocka_unit_test(test_resolve_coalesce),
	        cmocka_unit_test(test_resolve_cancel),
	        cmocka_unit_test(test_resolve_free_in_flight),
	        cmocka_unit_test(test_resolve_negative),
	        cmocka_unit_test(test_resolve_many_names),
	        cmocka_unit_test(test_interleave),
	        cmocka_unit_test(test_dial_ok_and_handover),
	        cmocka_unit_test(test_dial_refused_v6_then_v4),
	        cmocka_unit_test(test_dial_all_refused),
	        cmocka_unit_test(test_dial_sync_failures),
	        cmocka_unit_test(test_dial_stagger),
	        cmocka_unit_test(test_dial_timeout),
	        cmocka_unit_test(test_dial_cancel),
	        cmocka_unit_test(test_dial_source),
	        cmocka_unit_test(test_dial_bad_args),
	        cmocka_unit_test(test_resolve_then_dial),
	        cmocka_unit_test(test_evset_interest),
	        cmocka_unit_test(test_evset_drops_stale_events),
	        cmocka_unit_test(test_evset_error),
	        cmocka_unit_test(test_dial_evset_handover),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
