/*
 * lint.h - `tailwart dns lint`: checks of a zone's mail and DNS records that
 * catch mistakes which silently break mail (two SPF records, an SPF over the
 * 10-lookup limit, a CNAME beside other data, an MX at a CNAME, a mail AAAA
 * the edge does not listen on, broken DMARC and DKIM records, CAA without
 * the ACME account pin).
 *
 * Each finding is a diag with the record's file and line, field
 * "<owner> <TYPE>" and a message that says what is wrong, why it matters
 * (with the RFC section) and what to do. The rules are listed in lint.c.
 */
#ifndef TW_DNS_LINT_H
#define TW_DNS_LINT_H

#include "dns/zone.h"
#include "util/tw.h"

struct tw_config;

typedef struct tw_dns_lint_opts {
	bool offline;         /* no DNS queries: includes outside the zone are not followed */
	const char *resolver; /* "ADDR[:PORT]" ("[v6]:port"), or NULL: /etc/resolv.conf */
	const struct tw_config *edge; /* the edge config (-c FILE), or NULL */
	const char *caa_accounturi;   /* the ACME account CAA must pin (RFC 8657), or NULL:
	                                 edge->dns.caa_accounturi when edge is given */
} tw_dns_lint_opts_t;

/*
 * Lints z. Findings go to errors (mail or resolution is broken) and warnings
 * (works, but fragile or not what was meant). Returns 0 when there are no
 * errors, 1 when there are, or a negative code on an internal failure
 * (TW_ENOMEM).
 */
int tw_dns_lint(const tw_dns_zone_t *z, const tw_dns_lint_opts_t *o, tw_diags_t *errors,
                tw_diags_t *warnings);

#endif
