/*
 * provider.h - what the planner needs from a DNS provider: list the live
 * zone, make one call, and the provider's real semantics as data, so one
 * planner emits correct calls for each.
 *
 * Plans hold calls; a call names records by pointer into the plan's desired
 * and live zones. Providers never keep those pointers past the call.
 */
#ifndef TW_DNS_PROVIDER_H
#define TW_DNS_PROVIDER_H

#include "dns/zone.h"

/* Why a provider operation failed, for the user. Never holds a secret. */
typedef struct tw_dns_err {
	int exit_code;      /* 1 credentials refused, 2 input refused (e.g. 422), 3 unreachable/failing */
	int status;         /* HTTP status, or DNS RCODE + 10000 (0: none, e.g. no connection) */
	bool maybe_applied; /* a write whose outcome is unknown (timeout, 5xx, connection lost) */
	char code[96];      /* provider's error code, e.g. "application.unauthorized" */
	char op_id[40];     /* provider's operation id for support, e.g. spaceship-operation-id */
	char msg[768];      /* what failed and, when known, what to check; lower case start */
} tw_dns_err_t;

__attribute__((format(printf, 3, 4))) int tw_dns_err_set(tw_dns_err_t *e, int exit_code,
                                                         const char *fmt, ...);

/* The provider's semantics, as data the planner reads. */
typedef struct tw_dns_sem {
	/* Adding a record never replaces one: a record whose (owner, type, data)
	 * matches only gets its TTL updated, anything else is appended, so a value
	 * change is an add plus a delete of the old value (Spaceship). */
	bool append_by_value;
	/* The whole plan goes in one atomic message with per-RRSet
	 * prerequisites (RFC 2136 UPDATE). */
	bool one_update;
	/* Record data is matched case-insensitively, except TXT (Spaceship). */
	bool data_nocase;
	uint32_t ttl_min, ttl_max; /* 0, 0: any TTL */
	size_t max_batch;          /* records per call; 0: unbounded */
	/* NULL, or false with a reason for a record this provider can't write. */
	bool (*can_write)(const tw_dns_rr_t *r, const char *origin, char *why, size_t n);
} tw_dns_sem_t;

typedef enum {
	TW_DNS_CALL_DELETE, /* delete exactly these records */
	TW_DNS_CALL_PUT,    /* add these records (or update their TTL) */
	TW_DNS_CALL_UPDATE, /* one atomic update: prerequisites, deletes, adds */
} tw_dns_call_kind_t;

typedef struct tw_dns_rrset_key {
	const char *owner;
	uint16_t type;
} tw_dns_rrset_key_t;

typedef struct tw_dns_call {
	tw_dns_call_kind_t kind;
	const tw_dns_rr_t **rrs; /* DELETE/PUT: the records; UPDATE: the records to add */
	size_t n;
	/* UPDATE only: */
	const tw_dns_rr_t **dels; /* records to delete */
	size_t ndels;
	const tw_dns_rr_t **pre; /* "RRset exists (value dependent)": each touched live
	                            RRSet, all its records (RFC 2136 2.4.2) */
	size_t npre;
	tw_dns_rrset_key_t *absent; /* "RRset does not exist" (RFC 2136 2.4.3) */
	size_t nabsent;
	char why[160]; /* "delete old values of records unique at their name" */
} tw_dns_call_t;

typedef struct tw_dns_provider tw_dns_provider_t;

typedef struct tw_dns_provider_ops {
	const char *name; /* "spaceship", "rfc2136" */
	tw_dns_sem_t sem;
	/*
	 * The live zone: every record, those the provider owns (or that a zone
	 * file can't hold: SOA, apex NS, apex ALIAS) flagged TW_DNS_RR_UNMANAGED
	 * with a note. out is initialised by the caller with the origin.
	 */
	int (*list)(tw_dns_provider_t *p, tw_dns_zone_t *out, tw_dns_err_t *err);
	/* One call; 0 or negative with err filled in. */
	int (*call)(tw_dns_provider_t *p, const tw_dns_zone_t *zone, const tw_dns_call_t *c,
	            tw_dns_err_t *err);
	/*
	 * Nameserver names that must be in the parent's NS set for writes to
	 * matter (Spaceship's), or NULL: the zone's own apex NS records are used.
	 */
	const char *const *nameservers;
	void (*destroy)(tw_dns_provider_t *p);
} tw_dns_provider_ops_t;

struct tw_dns_provider {
	const tw_dns_provider_ops_t *ops;
	char origin[256]; /* canonical absolute zone name */
	/* Optional trace of calls for --verbose: one line per request, no secrets. */
	void (*trace)(void *ctx, const char *line);
	void *trace_ctx;
};

/* --- Spaceship (spaceship.c) ------------------------------------------- */

typedef struct tw_dns_spaceship_opts {
	const char *api_url; /* NULL: $SPACESHIP_API_URL or https://spaceship.dev/api/v1 */
	const char *key, *secret;
	long timeout_ms; /* per request; 0: 30 s */
	int max_retries; /* 429 retries; 0: 5 */
} tw_dns_spaceship_opts_t;

int tw_dns_spaceship_new(const char *origin, const tw_dns_spaceship_opts_t *o,
                         tw_dns_provider_t **out, tw_dns_err_t *err);

/*
 * Credentials: from a file of NAME=VALUE lines (SPACESHIP_API_KEY,
 * SPACESHIP_API_SECRET, or SPACESHIP_KEY / SPACESHIP_SECRET), refused if the
 * file is readable or writable by group or others; or, with path NULL, from
 * the environment. key and secret are malloc'd; problems are diags with file
 * and line (never the value).
 */
int tw_dns_creds_load(const char *path, char **key, char **secret, tw_diags_t *d);
int tw_dns_creds_parse(const char *name, const char *buf, size_t len, char **key, char **secret,
                       tw_diags_t *d);

/* --- RFC 2136 (rfc2136.c, tsig.c) ----------------------------------------- */

typedef struct tw_dns_tsig {
	char name[256];
	char alg[64];     /* "hmac-sha256" ... as in BIND's key syntax */
	char secret[512]; /* base64, as written */
} tw_dns_tsig_t;

/*
 * A BIND key file: key "name" { algorithm hmac-sha256; secret "base64"; };
 * Refused if readable by group or others. Diags never show the secret.
 */
int tw_dns_tsig_load(const char *path, tw_dns_tsig_t *k, tw_diags_t *d);
int tw_dns_tsig_parse(const char *name, const char *buf, size_t len, tw_dns_tsig_t *k,
                      tw_diags_t *d);
/* NAME:ALG:SECRET (the --tsig option). */
int tw_dns_tsig_parse_opt(const char *s, tw_dns_tsig_t *k, tw_diags_t *d);

typedef struct tw_dns_rfc2136_opts {
	const char *server;       /* HOST[:PORT], IPv6 as [addr]:port */
	const tw_dns_tsig_t *key; /* NULL: unsigned */
	long timeout_ms;          /* 0: 5 s */
} tw_dns_rfc2136_opts_t;

int tw_dns_rfc2136_new(const char *origin, const tw_dns_rfc2136_opts_t *o,
                       tw_dns_provider_t **out, tw_dns_err_t *err);

static inline void tw_dns_provider_destroy(tw_dns_provider_t *p)
{
	if (p)
		p->ops->destroy(p);
}

#endif
