/*
 * zone.h - the zone model: the records of one zone, as the user's zone file
 * or a provider states them, grouped into RRSets (owner + type).
 *
 * Every record is held two ways: the ldns_rr it was parsed into (what RFC
 * 2136 sends) and a canonical text of its data (what plans, snapshots and
 * comparisons use). Canonical means:
 *   - owner: absolute, lower case, with the trailing dot ("mx.example.com.");
 *   - rdata: ldns's presentation of each rdata field, space separated, with
 *     domain names absolute and lower case;
 *   - TXT: the character-strings concatenated into one logical value (kept
 *     as bytes in txt/txt_len) and rdata is that value as one quoted string,
 *     so re-splitting a long DKIM key is no change.
 * TXT data is compared byte for byte (case-sensitive); everything else by
 * its canonical text.
 */
#ifndef TW_DNS_ZONE_H
#define TW_DNS_ZONE_H

#include "util/tw.h"

#include <ldns/ldns.h>

enum {
	TW_DNS_RR_UNMANAGED = 1u << 0, /* shown, never planned (provider-owned, SOA, apex NS) */
	TW_DNS_RR_IGNORED = 1u << 1,   /* matched an --ignore pattern */
};

typedef struct tw_dns_rr {
	char *owner;   /* canonical absolute owner */
	uint16_t type; /* LDNS_RR_TYPE_* */
	uint32_t ttl;
	char *rdata; /* canonical data text (see above) */
	char *txt;   /* TXT/SPF only: concatenated value, NUL-terminated; else NULL */
	size_t txt_len;
	ldns_rr *rr;      /* owned; NULL only for provider records ldns can't express */
	unsigned flags;   /* TW_DNS_RR_* */
	const char *note; /* why unmanaged ("spaceship product record"), static string */
	const char *file; /* interned in the zone; NULL when not from a file */
	int line;
} tw_dns_rr_t;

typedef struct tw_dns_zone {
	char *origin; /* canonical absolute ("example.com.") */
	uint32_t default_ttl;
	tw_dns_rr_t *v;
	size_t n, cap;
	char **files; /* interned file names */
	size_t nfiles;
} tw_dns_zone_t;

/* origin: "example.com" or "example.com." (any case). */
int tw_dns_zone_init(tw_dns_zone_t *z, const char *origin);
void tw_dns_zone_release(tw_dns_zone_t *z);

/*
 * Adds a record, taking ownership of rr (freed on error too). The owner
 * must be at or below the origin. file may be NULL; it is interned.
 * Returns 0 or TW_EINVAL with a diag.
 */
int tw_dns_zone_add_rr(tw_dns_zone_t *z, ldns_rr *rr, const char *file, int line, unsigned flags,
                       tw_diags_t *d);

/* Parses one record in master-file syntax (relative names are under the origin). */
int tw_dns_zone_add_text(tw_dns_zone_t *z, const char *text, const char *file, int line,
                         unsigned flags, tw_diags_t *d);

/* A record without an ldns form (e.g. a provider's ALIAS), shown only. */
int tw_dns_zone_add_opaque(tw_dns_zone_t *z, const char *owner, const char *type_name, uint32_t ttl,
                           const char *rdata, const char *note);

/*
 * Loads an RFC 1035 master file: $ORIGIN, $TTL and $INCLUDE (paths relative
 * to the including file, nesting bounded, loops refused), parentheses,
 * comments, quoted strings, blank owner = previous owner. domain is the
 * --domain option or NULL; if both it and $ORIGIN are given and differ, that
 * is an error. Every problem is a diag with the file and line it is on; all
 * of them are collected. Returns 0 or TW_EINVAL; either way the function
 * initialised z (don't init it before) and the caller releases it.
 */
int tw_dns_zone_load(tw_dns_zone_t *z, const char *path, const char *domain, tw_diags_t *d);
/* The same from memory (fuzzing, tests); $INCLUDE is refused. */
int tw_dns_zone_load_mem(tw_dns_zone_t *z, const char *name, const char *buf, size_t len,
                         const char *domain, tw_diags_t *d);

/* Canonical order: owner (RFC 4034 canonical name order), type, rdata. */
void tw_dns_zone_sort(tw_dns_zone_t *z);

/*
 * Writes the zone as a master file: a header comment (may be NULL, each line
 * prefixed "; "), $ORIGIN, records sorted with names relative to the origin,
 * TXT split into <= 255-byte strings. Unmanaged records are written as
 * comments: "; unmanaged (<note>): <record>". Returns 0 or -errno.
 */
int tw_dns_zone_write(const tw_dns_zone_t *z, FILE *out, const char *header);

/* "www" / "@" / "_dmarc" for an owner under the origin, into buf. */
const char *tw_dns_rel_name(const tw_dns_zone_t *z, const char *owner, char *buf, size_t size);

/*
 * The record types tailwart dns manages from a zone file: what a mail domain
 * publishes (A, AAAA, CNAME, DNAME, MX, TXT, SPF, SRV, CAA, TLSA, SMIMEA,
 * OPENPGPKEY, SSHFP, NAPTR, URI, NS, PTR, HTTPS, SVCB) and SOA (read, never
 * written). Other types are refused in files and shown as unmanaged when
 * listed: fewer of ldns's text parsers face user input (ldns 1.8.3 leaks on
 * some malformed CERT/IPSECKEY data), and no provider here writes them.
 */
bool tw_dns_type_managed(uint16_t type);
#define TW_DNS_MANAGED_TYPES                                                                       \
	"A, AAAA, CNAME, DNAME, MX, TXT, SPF, SRV, CAA, TLSA, SMIMEA, OPENPGPKEY, SSHFP, NAPTR, "  \
	"URI, NS, PTR, HTTPS, SVCB and SOA"

/* "TXT", "A", or "TYPE65280". */
const char *tw_dns_type_name(uint16_t type, char *buf, size_t size);

/* Same owner and type. */
bool tw_dns_rr_same_set(const tw_dns_rr_t *a, const tw_dns_rr_t *b);
/* Same owner, type and data (TTL not compared). */
bool tw_dns_rr_same_data(const tw_dns_rr_t *a, const tw_dns_rr_t *b);

/* One record as a master-file line (absolute owner), for messages. */
const char *tw_dns_rr_format(const tw_dns_rr_t *r, char *buf, size_t size);

#endif
