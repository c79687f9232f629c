/*
 * plan.h - from a desired zone and the live one to the provider calls that
 * make them equal, in an order that never leaves the live zone wrong in the
 * dangerous direction.
 *
 * The diff is by RRSet (owner + type). Within a set, records are matched by
 * data as the provider matches them (Spaceship: case-insensitive except
 * TXT), so a plan never deletes the record it just "added". Records the
 * provider owns, records matching an ignore pattern, and (without purge)
 * sets absent from the file are left alone and counted.
 *
 * Call order for append-by-value providers (Spaceship), per batch:
 *   1. DELETE old records that must be unique at their name (SPF, DMARC,
 *      CNAME): a moment with none is safer than a moment with two;
 *   2. PUT every new record and every TTL change;
 *   3. DELETE the other old records (address, MX, ...): added first, so
 *      there is never a moment with no address.
 * For one-update providers (RFC 2136) the whole plan is one UPDATE with
 * each touched RRSet's live records as value-dependent prerequisites.
 */
#ifndef TW_DNS_PLAN_H
#define TW_DNS_PLAN_H

#include "dns/provider.h"
#include "dns/zone.h"

#include <jansson.h>

typedef enum { TW_DNS_ADD = 1, TW_DNS_CHANGE, TW_DNS_DELETE } tw_dns_op_t;

typedef struct tw_dns_change {
	tw_dns_op_t op;
	const char *owner;
	uint16_t type;
	const tw_dns_rr_t **old; /* the live (managed) records of the set */
	size_t nold;
	const tw_dns_rr_t **want; /* the desired records of the set */
	size_t nwant;
	const tw_dns_rr_t **del; /* live records that go */
	size_t ndel;
	const tw_dns_rr_t **add; /* desired records to write (new, or a new TTL) */
	size_t nadd;
	size_t nttl; /* how many of add only change a TTL */
} tw_dns_change_t;

/* The default ignore pattern: certificates write these (DNS-01). */
#define TW_DNS_IGNORE_DEFAULT "_acme-challenge*:TXT"

typedef struct tw_dns_plan_opts {
	bool purge;                /* delete managed live sets the file doesn't have */
	const char *const *ignore; /* NAME[:TYPE] globs relative to the origin */
	size_t nignore;
	bool no_default_ignore; /* don't add TW_DNS_IGNORE_DEFAULT */
} tw_dns_plan_opts_t;

typedef struct tw_dns_plan {
	const tw_dns_zone_t *desired, *live; /* not owned */
	const tw_dns_provider_ops_t *ops;
	tw_dns_change_t *changes;
	size_t nchanges;
	tw_dns_call_t *calls;
	size_t ncalls;
	size_t n_left_alone;  /* live records in sets the file doesn't name (no purge) */
	size_t n_ignored;     /* live records matching an ignore pattern */
	size_t n_unmanaged;   /* live records the provider owns */
	tw_diags_t notes;     /* desired records skipped, with file:line and why */
	char live_digest[65]; /* sha256 of the managed live records, hex */
} tw_dns_plan_t;

/* Does the record match NAME[:TYPE] (glob, relative to the origin, "@" = apex)? */
bool tw_dns_ignore_match(const tw_dns_zone_t *z, const tw_dns_rr_t *r, const char *pattern);

/*
 * Plans; errors (records the provider can't write, TTLs out of bounds, a
 * desired set with records the provider would merge) are diags with the
 * record's file and line. Returns 0 or TW_EINVAL (then p is empty; releasing
 * it is harmless).
 */
int tw_dns_plan_make(tw_dns_plan_t *p, const tw_dns_zone_t *desired, const tw_dns_zone_t *live,
                     const tw_dns_provider_ops_t *ops, const tw_dns_plan_opts_t *o,
                     tw_diags_t *errs);
void tw_dns_plan_release(tw_dns_plan_t *p);

/* Same owner, type and data as this provider matches records (Spaceship:
 * case-insensitive except TXT); TTL not compared. */
bool tw_dns_same_data_as(const tw_dns_provider_ops_t *ops, const tw_dns_rr_t *a,
                         const tw_dns_rr_t *b);

/* Must this record be unique at its name (SPF TXT, DMARC TXT, CNAME)? */
bool tw_dns_rr_unique_kind(const tw_dns_zone_t *z, const tw_dns_rr_t *r);

/* sha256 hex of the managed records of z (canonical lines, sorted), ignore applied. */
void tw_dns_zone_digest(const tw_dns_zone_t *z, const tw_dns_plan_opts_t *o, char out[65]);

/* Human plan: each RRSet to add, change or delete, then the calls in order. */
void tw_dns_plan_print(const tw_dns_plan_t *p, FILE *out);
/* Records of a call, one per line, indented. */
void tw_dns_call_print(const tw_dns_plan_t *p, const tw_dns_call_t *c, FILE *out,
                       const char *indent);

/*
 * The plan as JSON (--json, and the PLANFILE of -o): origin, provider,
 * options, live digest, the desired records, the changes and the calls.
 */
json_t *tw_dns_plan_json(const tw_dns_plan_t *p, const tw_dns_plan_opts_t *o);

/*
 * Reads a PLANFILE back: the desired zone (z initialised by the function with
 * the plan's origin), the options it was made with (strings owned by the
 * caller-provided storage: free with tw_dns_planfile_release) and the live
 * digest. Every problem is a diag naming the file and the JSON field.
 */
typedef struct tw_dns_planfile {
	char provider[32];
	char live_digest[65];
	bool purge;
	char **ignore;
	size_t nignore;
} tw_dns_planfile_t;

int tw_dns_planfile_parse(const char *name, const char *buf, size_t len, tw_dns_zone_t *z,
                          tw_dns_planfile_t *pf, tw_diags_t *d);
void tw_dns_planfile_release(tw_dns_planfile_t *pf);

#endif
