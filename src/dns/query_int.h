/*
 * query_int.h - query.c's handling of the bytes of a reply, as functions
 * without a socket (internal to src/dns/; the fuzz target
 * tests/fuzz/fuzz_dns_answer.c and unit tests call them). query.c's own
 * lookups go through exactly these steps after the transport (wire.c).
 */
#ifndef TW_DNS_QUERY_INT_H
#define TW_DNS_QUERY_INT_H

#include "dns/query.h"

/*
 * A reply (resp) to query (our wire query, qlen bytes) for name/type: it
 * must be an answer to it (ID, QR), parse, and echo the question (RFC 5452
 * 9.1), unless it is an error rcode without a question (RFC 1035 allows
 * FORMERR/NOTIMP so). Returns 0 with *ans (ldns_pkt_free it), 1 when it is
 * truncated and came over UDP (tcp false: ask again over TCP, RFC 7766 5),
 * or TW_EPROTO with why ("malformed reply", "reply for a different
 * question").
 */
int tw_dns_query_reply(const uint8_t *query, size_t qlen, const uint8_t *resp, size_t rlen,
                       bool tcp, const ldns_rdf *name, ldns_rr_type type, ldns_pkt **ans, char *why,
                       size_t whysz);

/*
 * An authoritative server's reply for owner/type: NOERROR with AA=1 adds
 * the records of exactly that owner, type and class IN to out; NXDOMAIN
 * adds nothing; anything else fills err (exit 3, status 10000 + RCODE).
 * label and what name the server and the set in messages.
 */
int tw_dns_query_rrset(const ldns_pkt *p, const ldns_rdf *owner, uint16_t type, const char *label,
                       const char *what, tw_dns_zone_t *out, tw_dns_err_t *err);

/*
 * A resolver's reply for zone/NS (ztext: its text, rlabel: the resolver,
 * for messages): the NS names from the answer, or from a referral's
 * authority section; each name with A/AAAA glue in the additional section
 * goes into out (cap: its capacity), the names without any come back in
 * *bare (canonical, *nbare of them; free each with ldns_rdf_deep_free and
 * the array with free) for the caller to look up. On error err is filled
 * and nothing is returned in *bare.
 */
int tw_dns_query_ns_reply(const ldns_pkt *p, const ldns_rdf *zone, const char *ztext,
                          const char *rlabel, tw_dns_servers_t *out, size_t *cap, ldns_rdf ***bare,
                          size_t *nbare, tw_dns_err_t *err);

/*
 * A parent server's reply for zone/NS (RD=0): appends the delegation's NS
 * names (answer, else authority section; canonical, no duplicates) to
 * *names. 0 when the reply settles it (a delegation, or an authoritative
 * NODATA/NXDOMAIN: then *n stays 0), 1 when it does not (why says how),
 * < 0 out of memory.
 */
int tw_dns_query_delegation(const ldns_pkt *p, const ldns_rdf *zone, char ***names, size_t *n,
                            char *why, size_t whysz);

#endif
