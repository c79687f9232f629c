/*
 * apply.h - carrying out a plan against a provider so that nothing is lost
 * and every outcome is reported: a lock per zone, the live zone re-read
 * just before writing (providers without versions can't compare-and-set),
 * a snapshot before and after, the calls in the plan's order, a read-back,
 * and verification at every authoritative nameserver.
 */
#ifndef TW_DNS_APPLY_H
#define TW_DNS_APPLY_H

#include "dns/plan.h"
#include "dns/query.h"

#define TW_DNS_SNAPSHOT_DIR "/var/lib/tailwart/dns-snapshots"

/*
 * Writes z as DIR/DOMAIN-YYYYmmddTHHMMSSZ-WHEN.zone (mode 0600, DIR created
 * 0700), atomically (temporary file, fsync, rename, fsync of DIR) and reads
 * it back before returning its path. Never overwrites: a name taken gets a
 * -2, -3 ... suffix.
 */
int tw_dns_snapshot_write(const char *dir, const tw_dns_zone_t *z, const char *provider,
                          const char *when, char *path, size_t path_size, tw_dns_err_t *err);

/* An exclusive lock on DIR/.DOMAIN.lock (flock), held until the fd is closed. */
int tw_dns_lock(const char *dir, const char *origin, int *fd, tw_dns_err_t *err);

/*
 * Names where records that must be unique (SPF, DMARC, CNAME) aren't: one
 * diag per name. Returns how many.
 */
size_t tw_dns_find_duplicates(const tw_dns_zone_t *z, tw_diags_t *out);

typedef struct tw_dns_apply_opts {
	const tw_dns_plan_opts_t *plan; /* purge, ignore */
	const char *snapshots;          /* directory */
	const char *expect_digest;      /* the digest the shown plan (or PLANFILE) was made on */
	bool from_planfile;             /* wording of a stale-plan refusal */
	bool verify;
	const char *resolver;           /* NULL: /etc/resolv.conf */
	const char *const *nameservers; /* ADDR[:PORT] to ask instead of the NS set */
	size_t nnameservers;
	long verify_timeout_ms;
	long verify_interval_ms;
	FILE *out; /* progress and the report */
} tw_dns_apply_opts_t;

/*
 * Applies desired to the provider's zone. Returns the exit code: 0 written,
 * read back and verified; 1 written but a check failed (a nameserver still
 * serving old data at the timeout, or the plan was stale: nothing written);
 * 2 input refused by the provider; 3 a provider or DNS failure (the report
 * says exactly which calls were applied).
 */
int tw_dns_apply(tw_dns_provider_t *prov, const tw_dns_zone_t *desired,
                 const tw_dns_apply_opts_t *o);

/* Parses "ADDR[:PORT]", "[v6]:PORT" into a server (name = the text). */
int tw_dns_server_parse(const char *s, tw_dns_server_t *out);

#endif
