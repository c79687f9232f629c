/*
 * config.h - the edge's configuration file, loaded into typed structs.
 *
 * YAML (libfyaml, whose node marks carry line numbers). Every error is a
 * tw_diag_t naming file, line and field, saying what was expected; unknown
 * keys are errors; all errors of a file are collected, not just the first.
 * Durations are strings with units. Loading is done on the control thread;
 * the result is immutable once loaded and owned by the caller
 * (tw_config_free()). Later subsystems (dns:, certs:) add sections here.
 *
 * Top-level keys: listeners, backends, allow, trusted_proxies, admin, state,
 * workers, user, timeouts, resolve_cache, maxconn, log.
 */
#ifndef TW_EDGE_CONFIG_H
#define TW_EDGE_CONFIG_H

#include "util/addr.h"
#include "util/tw.h"

typedef enum tw_proto {
	TW_PROTO_TCP = 0,
	TW_PROTO_SMTP,	      /* port 25, plaintext first, server speaks first */
	TW_PROTO_SUBMISSION,  /* 587 */
	TW_PROTO_SUBMISSIONS, /* 465, implicit TLS, server speaks first after TLS */
	TW_PROTO_IMAP,	      /* 143 */
	TW_PROTO_IMAPS,	      /* 993 */
	TW_PROTO_POP3,	      /* 110 */
	TW_PROTO_POP3S,	      /* 995 */
	TW_PROTO_SIEVE,	      /* 4190 */
	TW_PROTO_TLS,	      /* routed by ClientHello SNI, e.g. 443 */
} tw_proto_t;

const char *tw_proto_name(tw_proto_t p);
/* The protocol named as in the config file ("smtp", "imaps", "tls", ...).
 * Returns 0 or TW_EINVAL. */
int tw_proto_parse(const char *name, tw_proto_t *out);
/* Mail protocols: the edge dials at accept and never waits for client bytes. */
bool tw_proto_is_mail(tw_proto_t p);

typedef enum tw_proxy_mode {
	TW_PROXY_NONE = 0,
	TW_PROXY_V1 = 1,
	TW_PROXY_V2 = 2,
} tw_proxy_mode_t;

typedef enum tw_balance {
	TW_BALANCE_FIRST = 0,
	TW_BALANCE_ROUNDROBIN,
} tw_balance_t;

typedef struct tw_cfg_server {
	char *name;    /* "host:port" unless given */
	char *host;    /* DNS name or literal, resolved at dial time */
	uint16_t port;
	bool backup;
	int line;
} tw_cfg_server_t;

/* Servers per backend, so a connection can keep its dial order in a
 * fixed-size array. */
#define TW_CFG_MAX_SERVERS 64

/* Active health checks of a backend's servers (edge/health.h). */
typedef struct tw_cfg_health {
	bool enabled;	      /* `health:` given */
	int type;	      /* tw_hc_type_t: 0 tcp, 1 smtp, 2 imap, 3 pop3, 4 sieve, 5 tls */
	uint64_t interval_ms; /* default 5s */
	uint64_t timeout_ms;  /* default 2s */
	uint32_t rise, fall;  /* default 2, 3 */
	int line;
} tw_cfg_health_t;

typedef struct tw_cfg_backend {
	char *name;
	tw_cfg_server_t *servers;
	size_t n_servers;
	tw_proxy_mode_t proxy;
	bool tlv_authority, tlv_alpn, tlv_unique_id; /* v2 TLVs; default authority+alpn */
	tw_balance_t balance;
	uint64_t connect_timeout_ms;	   /* 0: global timeouts.connect */
	struct sockaddr_storage source;	   /* family AF_UNSPEC when unset */
	char *interface;		   /* SO_BINDTODEVICE, NULL when unset */
	tw_cfg_health_t health;
	bool required;			   /* readiness waits for it */
	bool dependency;		   /* no listener routes to it: checked, never dialed */
	int line;
} tw_cfg_backend_t;

typedef struct tw_cfg_sni {
	char *pattern; /* "mail.example.com", "*.example.com" */
	char *backend;
	char **alpn; /* NULL-terminated, or NULL */
	int line;
} tw_cfg_sni_t;

typedef struct tw_cfg_listener {
	char *name;
	struct sockaddr_storage *binds;
	socklen_t *bind_lens;
	char **bind_texts; /* as written, for messages */
	size_t n_binds;
	tw_proto_t proto;
	char *backend; /* default route; for tls also `default:` */
	tw_cfg_sni_t *sni;
	size_t n_sni;
	uint32_t maxconn;	     /* 0: unlimited (global still applies) */
	uint64_t idle_timeout_ms;    /* 0: protocol default */
	uint64_t total_timeout_ms;   /* 0: no limit */
	uint64_t hello_timeout_ms;   /* tls: wait for the ClientHello; default 5s */
	uint64_t proxy_timeout_ms;   /* from trusted_proxies: wait for their header; default 3s */
	tw_cidr_t *sources;	     /* who may connect at all; NULL: anyone */
	size_t n_sources;
	char *msg_tempfail;	     /* messages.tempfail: replaces the protocol's text, or NULL */
	char *msg_banned;	     /* messages.banned, or NULL */
	int line;
} tw_cfg_listener_t;

/* `bans:` - the automatic triggers (all off by default) and ban lengths. */
typedef struct tw_cfg_ban_rule {
	bool enabled;
	uint32_t count;
	uint64_t window_ms;
} tw_cfg_ban_rule_t;

typedef struct tw_cfg_log_ban {
	char *file;
	char *pattern; /* POSIX ERE with one <ADDR> */
	int line;
} tw_cfg_log_ban_t;

typedef struct tw_cfg_bans {
	uint64_t ban_ms;     /* bans.time, default 10m */
	uint64_t max_ban_ms; /* bans.max_time, default 7d */
	uint32_t v4_prefix;  /* default 32 */
	uint32_t v6_prefix;  /* default 64 */
	tw_cfg_ban_rule_t rate, early_close, tls_garbage, reports;
	tw_cfg_log_ban_t *log_ban;
	size_t n_log_ban;
} tw_cfg_bans_t;

/* `dns:` - settings of `tailwart dns` kept beside the edge's (the edge ignores them). */
typedef struct tw_cfg_dns {
	char **ignore; /* NAME[:TYPE] globs relative to the origin, as --ignore */
	size_t n_ignore;
	char *caa_accounturi; /* the ACME account CAA records must pin (RFC 8657), or NULL */
	char *snapshots;      /* snapshot directory, or NULL for the default */
} tw_cfg_dns_t;

typedef struct tw_config {
	char *path; /* NULL in quick mode */
	tw_cfg_listener_t *listeners;
	size_t n_listeners;
	tw_cfg_backend_t *backends;
	size_t n_backends;
	tw_cidr_t *allow;
	size_t n_allow;
	bool allow_set; /* key present: replaces the default list */
	tw_cidr_t *trusted_proxies;
	size_t n_trusted;
	char *admin_bind;  /* default "127.0.0.1:9180" */
	char *admin_token; /* secret: never logged */
	char *state;	   /* default "/var/lib/tailwart/state.db" */
	int workers;	   /* 0: auto (one per core) */
	char *user;	   /* NULL: don't drop privileges */
	uint64_t connect_timeout_ms;   /* timeouts.connect, default 5s */
	uint64_t smtp_idle_ms;	       /* timeouts.smtp_idle, default 5m (RFC 5321 4.5.3.2) */
	uint64_t imap_idle_ms;	       /* timeouts.imap_idle, default 30m (RFC 9051 5.4) */
	uint64_t pop3_idle_ms;	       /* timeouts.pop3_idle, default 10m (RFC 1939 3) */
	uint64_t sieve_idle_ms;	       /* timeouts.sieve_idle, default 30m */
	uint64_t tcp_idle_ms;	       /* timeouts.tcp_idle (tls, tcp), default 5m */
	uint64_t drain_ms;	       /* timeouts.drain on SIGTERM, default 30s */
	uint64_t resolve_cache_ms;     /* default 5s */
	uint32_t maxconn;	       /* global; default 20000 */
	tw_cfg_bans_t bans;
	tw_cfg_dns_t dns;
	bool log_syslog;	       /* log.syslog, default false (stderr) */
	int log_level;		       /* log.level: error|warn|info|debug, as tw_log_level_t; default info */
} tw_config_t;

/* Loads and validates path. Returns NULL and fills diags on any error. */
tw_config_t *tw_config_load(const char *path, tw_diags_t *diags);
/* Same from a buffer; `name` is used as the file name in diags (c->path
 * stays NULL). At most 1 MiB; at most 100 diags, then "too many errors". */
tw_config_t *tw_config_load_string(const char *name, const char *text, size_t len,
				   tw_diags_t *diags);
/* A config with defaults and nothing else (quick mode builds on it). */
tw_config_t *tw_config_new_default(void);
void tw_config_free(tw_config_t *c);

/* Idle timeout that applies to a listener (its own or the protocol default). */
uint64_t tw_config_idle_ms(const tw_config_t *c, const tw_cfg_listener_t *l);
const tw_cfg_backend_t *tw_config_backend(const tw_config_t *c, const char *name);

/*
 * Quick mode: `--listen ADDR --to HOST:PORT [--proxy v1|v2] [--protocol P]
 * [--sni NAME=HOST:PORT ...]`. Builds a config with one listener (protocol P,
 * else tls when any --sni is given, else tcp), named "quick", and one backend
 * per distinct target (named after its HOST:PORT); --proxy applies to all.
 * --listen may be given as a comma-separated list of addresses. Returns 0 or TW_EINVAL with diags
 * whose field names the option ("--sni").
 * --listen accepts port 0 (tests). On error c has no new listener; backends
 * are only added once every option checked out.
 */
int tw_config_quick(tw_config_t *c, const char *listen, const char *to, const char *proxy,
		    const char *proto, const char *const *sni, size_t n_sni, tw_diags_t *diags);

#endif
