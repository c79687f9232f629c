/*
 * admin.c - see admin.h.
 */
#include "util/tw.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <time.h>

#include "edge/admin.h"
#include "util/addr.h"
#include "util/log.h"

#define ANSWER_WAIT_S 10

/* One request handed to the control loop. It owns copies of everything
 * the handler reads, so an HTTP side that gave up waiting can't pull the
 * memory from under a handler still running. */
typedef struct call {
	struct call *next;
	tw_admin_req_t req;
	char *body, *path, *method;
	tw_admin_resp_t resp;
	bool done;
} call_t;

typedef struct conn_ctx {
	char *body;
	size_t len;
	bool too_big;
} conn_ctx_t;

struct tw_admin {
	struct MHD_Daemon *mhd;
	uv_loop_t *loop;
	uv_async_t async;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	call_t *head, *tail; /* guarded by mu */
	bool stopping;       /* guarded by mu */
	char *token;
	tw_admin_handler h;
	void *arg;
};

/* The path is percent-decoded once, by tw_admin_split_path, so an escaped
 * "/" stays part of its segment; libmicrohttpd must not decode it first. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	TW_UNUSED(cls);
	TW_UNUSED(c);
	return strlen(s);
}

static void call_free(call_t *c)
{
	free(c->body);
	free(c->path);
	free(c->method);
	free(c);
}

static bool token_ok(const tw_admin_t *a, const char *hdr)
{
	if (!a->token)
		return true;
	if (!hdr || strncmp(hdr, "Bearer ", 7) != 0)
		return false;
	const char *t = hdr + 7;
	size_t n = strlen(a->token), m = strlen(t);
	unsigned char diff = (unsigned char)(n != m);
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a->token[i] ^ (i < m ? t[i] : 0));
	return diff == 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *ctype, char *body,
                             size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
	                                                         body ? MHD_RESPMEM_MUST_FREE
	                                                              : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype ? ctype : "text/plain; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	tw_admin_t *a = cls;
	conn_ctx_t *cc = *con_cls;
	if (!cc) {
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		return MHD_YES;
	}
	if (*upload_size) {
		if (cc->len + *upload_size > TW_ADMIN_BODY_MAX) {
			cc->too_big = true;
		} else {
			char *b = realloc(cc->body, cc->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + cc->len, upload, *upload_size);
			cc->body = b;
			cc->len += *upload_size;
			cc->body[cc->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (cc->too_big)
		return reply(conn, 413, NULL, tw_xstrdup("request body too large\n"), 23);
	bool health = strcmp(url, "/healthz") == 0;
	if (!health &&
	    !token_ok(a, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization")))
		return reply(conn, 401, NULL, tw_xstrdup("missing or wrong bearer token\n"), 30);

	call_t *c = calloc(1, sizeof(*c));
	if (!c)
		return MHD_NO;
	c->method = tw_xstrdup(method);
	c->path = tw_xstrdup(url);
	c->req.method = c->method;
	c->req.path = c->path;
	/* MHD hands the URL without its query; the API reads one flag. */
	const char *val = NULL;
	size_t vlen = 0;
	c->req.query = MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "verbose", 7,
	                                             &val, &vlen) == MHD_YES
	                       ? "verbose"
	                       : "";
	if (cc->len) {
		c->body = tw_xmalloc(cc->len + 1);
		memcpy(c->body, cc->body, cc->len);
		c->body[cc->len] = '\0';
	}
	c->req.body = (const uint8_t *)c->body;
	c->req.body_len = cc->len;
	const union MHD_ConnectionInfo *ci =
	        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr)
		tw_addr_format(ci->client_addr, c->req.peer, sizeof(c->req.peer));
	TW_UNUSED(version);

	pthread_mutex_lock(&a->mu);
	if (a->stopping) {
		pthread_mutex_unlock(&a->mu);
		call_free(c);
		return reply(conn, 503, NULL, tw_xstrdup("stopping\n"), 9);
	}
	if (a->tail)
		a->tail->next = c;
	else
		a->head = c;
	a->tail = c;
	uv_async_send(&a->async);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ANSWER_WAIT_S;
	while (!c->done && !a->stopping)
		if (pthread_cond_timedwait(&a->cv, &a->mu, &dl) == ETIMEDOUT)
			break;
	bool done = c->done;
	if (!done) {
		/* Unlink: the control loop hasn't taken it. If it has (running
		 * now), it will see stopping/abandoned via done==false... the
		 * loop owns it once taken, so only unlink when still queued. */
		call_t **pp = &a->head;
		bool queued = false;
		while (*pp) {
			if (*pp == c) {
				*pp = c->next;
				queued = true;
				break;
			}
			pp = &(*pp)->next;
		}
		if (queued) {
			a->tail = NULL;
			for (call_t *x = a->head; x; x = x->next)
				a->tail = x;
			call_free(c);
		} else {
			c->done = true; /* abandoned: the loop frees it when done */
		}
		pthread_mutex_unlock(&a->mu);
		return reply(conn, 503, NULL, tw_xstrdup("control loop busy, try again\n"), 29);
	}
	pthread_mutex_unlock(&a->mu);
	tw_admin_resp_t r = c->resp;
	call_free(c);
	int status = r.status ? r.status : 200;
	size_t len = r.body ? (r.len ? r.len : strlen(r.body)) : 0;
	return reply(conn, status, r.ctype, r.body, len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	TW_UNUSED(cls);
	TW_UNUSED(conn);
	TW_UNUSED(toe);
	conn_ctx_t *cc = *con_cls;
	if (cc) {
		free(cc->body);
		free(cc);
		*con_cls = NULL;
	}
}

/* Control loop: answer every queued request. */
static void on_async(uv_async_t *h)
{
	tw_admin_t *a = h->data;
	for (;;) {
		pthread_mutex_lock(&a->mu);
		call_t *c = a->head;
		if (c) {
			a->head = c->next;
			if (!a->head)
				a->tail = NULL;
		}
		pthread_mutex_unlock(&a->mu);
		if (!c)
			return;
		tw_admin_resp_t r = {0};
		a->h(a->arg, &c->req, &r);
		pthread_mutex_lock(&a->mu);
		if (c->done) {
			/* The HTTP side gave up waiting. */
			free(r.body);
			call_free(c);
		} else {
			c->resp = r;
			c->done = true;
			pthread_cond_broadcast(&a->cv);
		}
		pthread_mutex_unlock(&a->mu);
	}
}

int tw_admin_start(uv_loop_t *ctl_loop, const char *bind, const char *token, tw_admin_handler h,
                   void *arg, tw_admin_t **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (tw_addr_parse_listen(bind, &ss, &len, err, errlen) < 0)
		return TW_EINVAL;
	tw_admin_t *a = tw_xcalloc(1, sizeof(*a));
	a->loop = ctl_loop;
	a->h = h;
	a->arg = arg;
	a->token = token ? tw_xstrdup(token) : NULL;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	uv_async_init(ctl_loop, &a->async, on_async);
	a->async.data = a;
	/* AUTO picks epoll/poll: select() would drop any admin connection whose
	 * fd is past 1023, i.e. as soon as the edge carries ~500 connections. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->mhd = MHD_start_daemon(
	        flags, tw_addr_port((struct sockaddr *)&ss), NULL, NULL, on_request, a,
	        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
	        on_completed, a, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)(128 * 1024), MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
	        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
	if (!a->mhd) {
		snprintf(err, errlen,
		         "cannot listen on admin.bind %s (in use, or not an address here)", bind);
		uv_close((uv_handle_t *)&a->async, NULL);
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		free(a->token);
		/* the async handle's memory must outlive its close: leak the
		 * struct on this boot-time failure path rather than race it */
		return -EADDRINUSE;
	}
	*out = a;
	return 0;
}

static void async_closed(uv_handle_t *h)
{
	tw_admin_t *a = h->data;
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}

void tw_admin_stop(tw_admin_t *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	MHD_stop_daemon(a->mhd); /* joins the HTTP thread */
	/* Requests still queued were answered 503 by their threads. */
	pthread_mutex_lock(&a->mu);
	call_t *c = a->head;
	a->head = a->tail = NULL;
	pthread_mutex_unlock(&a->mu);
	while (c) {
		call_t *n = c->next;
		call_free(c);
		c = n;
	}
	if (a->token) {
		explicit_bzero(a->token, strlen(a->token));
		free(a->token);
	}
	uv_close((uv_handle_t *)&a->async, async_closed);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out; false on a bad escape, NUL or overflow. */
static bool pct_decode(const char *s, size_t n, char *out, size_t outsz, size_t *outlen)
{
	size_t o = 0;
	if (outsz == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return false;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (ch == '\0' || o + 1 >= outsz)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

int tw_admin_split_path(const char *path, char *buf, size_t bufsz, const char **seg, int max)
{
	if (!path || path[0] != '/')
		return -1;
	int n = 0;
	size_t used = 0;
	const char *p = path + 1;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0) {
			if (!e)
				break; /* a trailing slash */
			return -1;
		}
		if (n == max || used >= bufsz)
			return -1;
		size_t dl;
		if (!pct_decode(p, len, buf + used, bufsz - used, &dl))
			return -1;
		if (strcmp(buf + used, ".") == 0 || strcmp(buf + used, "..") == 0 ||
		    strchr(buf + used, '/'))
			return -1;
		seg[n++] = buf + used;
		used += dl + 1;
		if (!e)
			break;
		p = e + 1;
	}
	return n;
}

const char *tw_admin_query_get(const char *query, const char *key, char *buf, size_t bufsz)
{
	if (!query)
		return NULL;
	size_t kl = strlen(key);
	const char *p = query;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len >= kl && strncmp(p, key, kl) == 0 && (len == kl || p[kl] == '=')) {
			size_t dl;
			if (len == kl) {
				if (!bufsz)
					return NULL;
				buf[0] = '\0';
				return buf;
			}
			if (!pct_decode(p + kl + 1, len - kl - 1, buf, bufsz, &dl))
				return NULL;
			return buf;
		}
		if (!amp)
			break;
		p = amp + 1;
	}
	return NULL;
}
