/*
 * query.h - asking DNS directly: a zone's authoritative servers, the
 * parent's delegation, and verification that every authoritative server
 * serves the data a plan wrote (never a recursive cache's view).
 */
#ifndef TW_DNS_QUERY_H
#define TW_DNS_QUERY_H

#include "dns/provider.h"
#include "dns/zone.h"

typedef struct tw_dns_server {
	char name[256]; /* nameserver name ("ns1.example.com."), or the address when given */
	char addr[64];  /* numeric address */
	uint16_t port;
} tw_dns_server_t;

typedef struct tw_dns_servers {
	tw_dns_server_t *v;
	size_t n;
} tw_dns_servers_t;

void tw_dns_servers_release(tw_dns_servers_t *s);

/*
 * resolver: "ADDR[:PORT]" ("[v6]:port" for IPv6) or NULL for /etc/resolv.conf.
 * The zone's authoritative servers: its NS set and each name's addresses
 * (A and AAAA), all through the resolver. err->exit_code 3 when DNS can't be
 * reached.
 */
int tw_dns_auth_servers(const char *zone, const char *resolver, tw_dns_servers_t *out,
                        tw_dns_err_t *err);

/*
 * The delegation as the parent zone publishes it: the NS names the
 * parent's own servers return for zone (referral or answer), found by asking
 * the resolver for the parent's NS set and then a parent server directly
 * (RD=0). names are canonical absolute, malloc'd.
 */
int tw_dns_parent_ns(const char *zone, const char *resolver, char ***names, size_t *n,
                     tw_dns_err_t *err);
void tw_dns_names_free(char **names, size_t n);

/* Asks one server directly (RD=0; UDP, TCP on truncation) for owner/type. */
int tw_dns_query_set(const tw_dns_server_t *s, const char *owner, uint16_t type,
                     long timeout_ms, tw_dns_zone_t *out, tw_dns_err_t *err);

typedef struct tw_dns_verify_result {
	const tw_dns_server_t *server;
	bool ok;            /* serves every expected RRSet */
	long ms;            /* when it first served all of them (ok), or -1 */
	char detail[512];   /* first mismatch seen last, e.g. "TXT example.com.: old value" */
} tw_dns_verify_result_t;

/*
 * Polls every server until each serves, for every RRSet in sets, exactly the
 * records of expected at that owner and type (none: NXDOMAIN or NODATA), or
 * timeout_ms passes. TTLs are not compared; TXT by concatenated value.
 * progress (may be NULL) gets a line per server when it converges.
 * results has servers->n entries. Returns 0 all ok, 1 some not by the timeout.
 */
int tw_dns_verify(const tw_dns_servers_t *servers, const tw_dns_zone_t *expected,
                  const tw_dns_rrset_key_t *sets, size_t nsets, long timeout_ms,
                  long interval_ms, FILE *progress, tw_dns_verify_result_t *results);

#endif
