/*
 * health.h - active health checks of backend servers.
 *
 * A check dials the server the way traffic does (the resolver and the
 * Happy Eyeballs dialer), so a name that stops resolving or an address
 * family that breaks shows as unhealthy. Per type:
 *   tcp    the connection completes
 *   smtp   reads the whole greeting (multi-line "220-" included) then QUIT
 *   imap   "* OK" (or "* PREAUTH") then "a LOGOUT"
 *   pop3   "+OK" then "QUIT"
 *   sieve  the capability response up to its final OK, then LOGOUT
 *   tls    a TLS handshake completes (OpenSSL; no certificate verification:
 *          the edge doesn't terminate TLS, it only asks "does it answer TLS")
 * To a backend that expects PROXY, a check opens with a v2 LOCAL header
 * (the server logs no client and applies no per-client policy). Checks are
 * polite: they never speak before the full greeting (postscreen's pregreet
 * test), say goodbye with the protocol's QUIT/LOGOUT, and close.
 * After a PROXY header a mail check also reads the first reply after the
 * greeting (see tw_health_farewell): a server that greets but then answers
 * the header as a command is not healthy, and `why` names the setting.
 * After the verdict a check waits up to 500 ms for the server to answer
 * the goodbye and close first, and reads whatever is pending before its
 * own close(), so no side sees a reset (Postfix then logs "quit=1", not
 * "lost connection"; see seed lesson 3 on probing that re-arms bans).
 *
 * Runs on one libuv loop (the control thread's); the caller owns the
 * schedule (interval, rise/fall: tw_hstate_t).
 */
#ifndef TW_EDGE_HEALTH_H
#define TW_EDGE_HEALTH_H

#include "util/tw.h"

#include <uv.h>

#include "edge/dialer.h"
#include "edge/resolver.h"

typedef enum tw_hc_type {
	TW_HC_TCP = 0,
	TW_HC_SMTP,
	TW_HC_IMAP,
	TW_HC_POP3,
	TW_HC_SIEVE,
	TW_HC_TLS,
} tw_hc_type_t;

const char *tw_hc_type_name(tw_hc_type_t t);
/* "smtp" -> TW_HC_SMTP; returns -1 when unknown. */
int tw_hc_type_parse(const char *s);

typedef enum tw_greet {
	TW_GREET_MORE = 0, /* a valid prefix: read more */
	TW_GREET_OK,	   /* the server is ready */
	TW_GREET_FAIL,	   /* it answered, but not ready (421, * BYE, -ERR, NO) or garbage */
} tw_greet_t;

/*
 * Judges the bytes a server sent first (pure; fuzzed). `why` gets a short
 * reason on FAIL ("smtp greeting 421 4.3.2 ...", "not an smtp reply"),
 * truncated and with control characters escaped. Bounded: more than 4096
 * bytes without a complete greeting is FAIL.
 */
tw_greet_t tw_health_greeting(tw_hc_type_t t, const uint8_t *buf, size_t len, char *why,
			      size_t whylen);
/* What a check sends after a good greeting ("QUIT\r\n"...), or NULL. */
const char *tw_health_goodbye(tw_hc_type_t t);
/*
 * Judges the first reply after the greeting, once the goodbye was sent
 * (pure; fuzzed; same bounds and `why` rules). A check reads it only when
 * it sent a PROXY header: a server not set up for PROXY greets normally and
 * then answers the header as a command, so its first reply is a complaint
 * about the header instead of the answer to QUIT/LOGOUT. OK: smtp 221 (or
 * any non-5xx), imap "* BYE" or "a OK" (other untagged lines skipped), pop3
 * "+OK", sieve "OK". FAIL: smtp 5xx, imap BAD/NO or another tag, pop3
 * "-ERR", sieve anything else, or no reply syntax at all.
 */
tw_greet_t tw_health_farewell(tw_hc_type_t t, const uint8_t *buf, size_t len, char *why,
			      size_t whylen);

typedef struct tw_hc tw_hc_t;

typedef struct tw_hc_opts {
	tw_hc_type_t type;
	int proxy_version;   /* 0: none; 1 or 2: open with a LOCAL header (v1: "PROXY UNKNOWN") */
	uint64_t timeout_ms; /* whole check: resolve + dial + greeting; default 2000 */
	tw_dial_opts_t dial; /* source, interface... (timeout taken from timeout_ms) */
	const char *sni;     /* tls: server name to send, may be NULL */
} tw_hc_opts_t;

/* status 0: healthy (`why` is ""); else negative (-errno, TW_EPROTO for a
 * bad greeting, -ETIMEDOUT, a resolver error) with `why` set ("connect
 * 10.0.0.5:25: connection refused", "smtp greeting 421 ..."). `why` and
 * `addr` are valid during the call only. `addr` is the address that
 * answered or the last one tried (NULL when the name did not resolve).
 * latency_ms: from start to the verdict. */
typedef void (*tw_hc_cb)(void *arg, int status, const char *why, const struct sockaddr *addr,
			 uint64_t latency_ms);

/* Starts one check. Returns 0 (one callback follows, never synchronously)
 * or a negative error (no callback): TW_EINVAL (NULL loop, resolver, host
 * or cb, unknown type, proxy_version not 0-2, host empty or over 255
 * bytes, sni over 255 bytes, interface name too long), TW_ENOMEM, or what
 * tw_resolve() returned. o NULL: a tcp check with defaults. All of o is
 * copied. *out is the caller's until the callback returns; after it, the
 * check finishes its goodbye alone (at most 500 ms more) and frees itself,
 * still counted by tw_hc_live(): run the loop until it is done before
 * uv_loop_close(). The resolver must outlive the resolve step. */
int tw_hc_start(uv_loop_t *loop, tw_resolver_t *r, const char *host, uint16_t port,
		const tw_hc_opts_t *o, tw_hc_cb cb, void *arg, tw_hc_t **out);
/* No callback after this; closes everything at once (the server sees a
 * plain close). NULL ok; a no-op from inside the callback; never call it
 * after the callback returned. */
void tw_hc_cancel(tw_hc_t *hc);
size_t tw_hc_live(void); /* checks alive on this thread, for leak tests */

/* rise/fall bookkeeping for one server. All-zero: down, never checked. */
typedef struct tw_hstate {
	bool up;
	bool checked;	    /* at least one verdict */
	uint32_t ok_run;    /* consecutive successes */
	uint32_t fail_run;  /* consecutive failures */
	int64_t changed_at; /* unix seconds of the last transition */
	char last_error[160];
} tw_hstate_t;

/* Applies one verdict; returns true when up/down flipped. A server starts
 * down and needs `rise` successes; an up server needs `fall` failures to go
 * down (0 counts as 1). The first verdict ever decides at once (no waiting
 * `rise` checks at boot for a server that answers) and sets changed_at even
 * when it is a failure (down stays down: returns false). A failure copies
 * `why` (NULL or "": "check failed") into last_error, which is kept while
 * the server is down and cleared when it comes up. Run counters saturate. */
bool tw_hstate_update(tw_hstate_t *s, bool ok, const char *why, uint32_t rise, uint32_t fall,
		      int64_t now_unix);

/*
 * Internal to health.c and health_tls.c: the OpenSSL client of a `tls`
 * check over memory BIOs (health.c does the socket I/O). Not for callers.
 */
typedef struct tw__hc_tls tw__hc_tls_t;
/* sni may be NULL (none sent; an IP literal is not sent either). NULL +
 * err on failure. */
tw__hc_tls_t *tw__hc_tls_new(const char *sni, char *err, size_t errlen);
void tw__hc_tls_free(tw__hc_tls_t *t); /* NULL ok */
/* Bytes read from the server. */
void tw__hc_tls_feed(tw__hc_tls_t *t, const uint8_t *p, size_t n);
/* 0 done, 1 needs more bytes (send the pending ones), -1 failed + err. */
int tw__hc_tls_handshake(tw__hc_tls_t *t, char *err, size_t errlen);
bool tw__hc_tls_pending(const tw__hc_tls_t *t); /* bytes to send; NULL ok */
size_t tw__hc_tls_take(tw__hc_tls_t *t, uint8_t *out, size_t cap);
/* Queues close_notify (best effort). */
void tw__hc_tls_close_notify(tw__hc_tls_t *t);

#endif
