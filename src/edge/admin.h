/*
 * admin.h - the admin plane's HTTP server (libmicrohttpd).
 *
 * libmicrohttpd runs the HTTP side on its own thread (request parsing,
 * limits, timeouts): that is a network parser we would otherwise write and
 * fuzz ourselves, and it keeps the admin plane off the workers. Each
 * complete request is handed to the control loop (a mutex-guarded queue and
 * a uv_async wake-up) and answered from there, so handlers see the control
 * thread's state without locks; the HTTP thread waits for the answer
 * (bounded). Nothing here touches the data path.
 *
 * Authentication: when a token is configured every request except
 * /healthz needs `Authorization: Bearer TOKEN` (compared in constant time);
 * a non-loopback bind without a token is refused by the config loader. The
 * token never appears in logs.
 */
#ifndef TW_EDGE_ADMIN_H
#define TW_EDGE_ADMIN_H

#include "util/tw.h"

#include <uv.h>

#define TW_ADMIN_BODY_MAX 65536

typedef struct tw_admin_req {
	const char *method; /* "GET", "POST", "DELETE" */
	const char *path;   /* without the query */
	const char *query;  /* raw query string or "" */
	const uint8_t *body;
	size_t body_len;
	char peer[64]; /* "127.0.0.1:40312" */
} tw_admin_req_t;

typedef struct tw_admin_resp {
	int status;        /* 200 when left 0 */
	char *body;        /* malloc'd, taken over; NULL: empty */
	size_t len;        /* 0: strlen(body) */
	const char *ctype; /* static; NULL: text/plain; charset=utf-8 */
} tw_admin_resp_t;

/* Runs on the control loop. Fills resp; must not block. */
typedef void (*tw_admin_handler)(void *arg, const tw_admin_req_t *req, tw_admin_resp_t *resp);

typedef struct tw_admin tw_admin_t;

/* bind: "127.0.0.1:9180" / "[::1]:9180". token may be NULL (copied). */
int tw_admin_start(uv_loop_t *ctl_loop, const char *bind, const char *token, tw_admin_handler h,
                   void *arg, tw_admin_t **out, char *err, size_t errlen);
/* Stops the HTTP thread (pending requests get 503). NULL ok. */
void tw_admin_stop(tw_admin_t *a);

/* Path routing (pure; fuzzed): splits "/api/v1/backends/mail/servers/s1/drain"
 * into at most max segments (percent-decoded, no empty ones, no "." or ".."),
 * into buf. Returns the count, or -1 for a malformed path. */
int tw_admin_split_path(const char *path, char *buf, size_t bufsz, const char **seg, int max);
/* The value of key in a query string ("a=1&verbose"), percent-decoded into
 * buf; a key without '=' has value "". Returns NULL when absent. */
const char *tw_admin_query_get(const char *query, const char *key, char *buf, size_t bufsz);

#endif
