#include "util/tw.h"

#include "edge/config_int.h"
#include "util/duration.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>

#define CFG_MAX_BYTES (1u << 20)
#define CFG_MAX_CONN  10000000u

static const char *const proto_names[] = {
        [TW_PROTO_TCP] = "tcp",
        [TW_PROTO_SMTP] = "smtp",
        [TW_PROTO_SUBMISSION] = "submission",
        [TW_PROTO_SUBMISSIONS] = "submissions",
        [TW_PROTO_IMAP] = "imap",
        [TW_PROTO_IMAPS] = "imaps",
        [TW_PROTO_POP3] = "pop3",
        [TW_PROTO_POP3S] = "pop3s",
        [TW_PROTO_SIEVE] = "sieve",
        [TW_PROTO_TLS] = "tls",
};
/* The order users read in messages. */
const char *const tw__cfg_proto_list = "smtp, submission, submissions, imap, imaps, pop3, pop3s, "
                                       "sieve, tls, tcp";

const char *tw_proto_name(tw_proto_t p)
{
	if ((unsigned)p < TW_ARRAY_LEN(proto_names))
		return proto_names[p];
	return "?";
}

bool tw_proto_is_mail(tw_proto_t p)
{
	return p != TW_PROTO_TLS && p != TW_PROTO_TCP && (unsigned)p < TW_ARRAY_LEN(proto_names);
}

int tw_proto_parse(const char *name, tw_proto_t *out)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(proto_names); i++)
		if (strcmp(name, proto_names[i]) == 0) {
			*out = (tw_proto_t)i;
			return 0;
		}
	return TW_EINVAL;
}

bool tw__cfg_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* The listener among c's that already binds ss. Two sockets bound to the same
 * address with SO_REUSEPORT would silently split the connections, so this
 * must be caught here; 0.0.0.0:25 next to [::]:25 is fine (v6only). */
const tw_cfg_listener_t *tw__cfg_bind_owner(const tw_config_t *c, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < c->n_listeners; i++)
		for (size_t j = 0; j < c->listeners[i].n_binds; j++)
			if (tw__cfg_sa_equal(&c->listeners[i].binds[j], ss))
				return &c->listeners[i];
	return NULL;
}

void tw__cfg_bind_clash(struct tw__cfg_ctx *x, int line, const char *path, const char *text,
                        const tw_cfg_listener_t *owner, const tw_cfg_listener_t *self)
{
	char q[96];
	TW__CFG_QS(q, text);
	if (owner == self)
		tw__cfg_err(x, line, path, "%s is listed twice", q);
	else
		tw__cfg_err(x, line, path, "%s is already bound by listener \"%s\" (line %d)", q,
		            owner->name ? owner->name : "?", owner->line);
}

bool tw__cfg_add_bind(struct tw__cfg_ctx *x, tw_cfg_listener_t *l,
                      const struct sockaddr_storage *ss, socklen_t sl, const char *text)
{
	size_t i = l->n_binds;
	l->bind_texts[i] = tw__cfg_strdup(x, text);
	if (!l->bind_texts[i])
		return false;
	l->binds[i] = *ss;
	l->bind_lens[i] = sl;
	l->n_binds++;
	return true;
}

bool tw__cfg_alloc_binds(struct tw__cfg_ctx *x, tw_cfg_listener_t *l, size_t n)
{
	l->binds = tw__cfg_calloc(x, n, sizeof(*l->binds));
	l->bind_lens = tw__cfg_calloc(x, n, sizeof(*l->bind_lens));
	l->bind_texts = tw__cfg_calloc(x, n, sizeof(*l->bind_texts));
	return l->binds && l->bind_lens && l->bind_texts;
}

static void backend_ref(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                        const char *name)
{
	const char *names[64];
	size_t nn = 0;
	if (tw_config_backend(x->c, name))
		return;
	for (size_t i = 0; i < x->c->n_backends && nn < TW_ARRAY_LEN(names); i++)
		names[nn++] = x->c->backends[i].name;
	const char *s = tw__cfg_suggest(name, names, nn);
	char q[96];
	TW__CFG_QS(q, name);
	if (s)
		tw__cfg_err(x, n->line, path, "no backend named %s (did you mean \"%s\"?)", q, s);
	else
		tw__cfg_err(x, n->line, path, "no backend named %s: define it under backends:", q);
}

/* ---- sections ---- */

const char *const tw__cfg_proxy_names[] = {"none", "v1", "v2"};
static const char *const tlv_names[] = {"authority", "alpn", "unique_id"};
static const char *const balance_names[] = {"first", "roundrobin"};

static void parse_server(struct tw__cfg_ctx *x, tw_cfg_backend_t *b, const struct tw__ynode *n,
                         const char *path)
{
	static const char *const keys[] = {"address", "backup", "name"};
	const struct tw__ynode *v[3];
	const struct tw__ynode *addr = n;
	char host[256], e[384], p[160];
	uint16_t port;
	tw_cfg_server_t *s = &b->servers[b->n_servers++];
	s->line = n->line;
	if (n->type == TW__Y_MAP) {
		if (!tw__cfg_map_keys(x, n, path, "a server", keys, 3, v))
			return;
		if (v[1]) {
			tw__cfg_path_key(p, sizeof(p), path, "backup");
			tw__cfg_bool(x, v[1], p, &s->backup);
		}
		if (v[2]) {
			tw__cfg_path_key(p, sizeof(p), path, "name");
			tw__cfg_name(x, v[2], p, &s->name);
		}
		if (!v[0]) {
			tw__cfg_err(x, n->line, path,
			            "missing key \"address\": write address: HOST:PORT");
			return;
		}
		addr = v[0];
		tw__cfg_path_key(p, sizeof(p), path, "address");
		path = p;
	}
	if (!tw__cfg_want(x, addr, TW__Y_SCALAR, path, "a server address like mail.example.com:25"))
		return;
	if (strlen(addr->text) != addr->len) {
		tw__cfg_err(x, addr->line, path, "NUL byte in address");
		return;
	}
	if (tw_addr_parse_hostport(addr->text, host, sizeof(host), &port, e, sizeof(e)) < 0) {
		tw__cfg_err(x, addr->line, path, "%s", e);
		return;
	}
	s->host = tw__cfg_strdup(x, host);
	s->port = port;
	if (!s->name)
		s->name = tw__cfg_strdup(x, addr->text);
	for (size_t i = 0; s->name && i + 1 < b->n_servers; i++)
		if (b->servers[i].name && strcmp(b->servers[i].name, s->name) == 0)
			tw__cfg_err(x, n->line, path, "duplicate server \"%s\" (first at line %d)",
			            s->name, b->servers[i].line);
}

static void parse_cidrs(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                        tw_cidr_t **out, size_t *nout);

static const char *const health_names[] = {"tcp", "smtp", "imap", "pop3", "sieve", "tls"};

/* `health: smtp` or `health: {type: smtp, interval: 5s, timeout: 2s, rise: 2, fall: 3}` */
static void parse_health(struct tw__cfg_ctx *x, tw_cfg_health_t *h, const struct tw__ynode *n,
                         const char *path)
{
	static const char *const keys[] = {"type", "interval", "timeout", "rise", "fall"};
	const struct tw__ynode *v[5];
	char p[192];
	int e;
	uint64_t u;
	h->line = n->line;
	h->interval_ms = 5000;
	h->timeout_ms = 2000;
	h->rise = 2;
	h->fall = 3;
	if (n->type == TW__Y_SCALAR) {
		if (tw__cfg_enum(x, n, path, health_names, 6, &e)) {
			h->enabled = true;
			h->type = e;
		}
		return;
	}
	if (!tw__cfg_map_keys(x, n, path,
	                      "a check type (tcp, smtp, imap, pop3, sieve, tls) or a mapping "
	                      "(type:, interval:, timeout:, rise:, fall:)",
	                      keys, 5, v))
		return;
	if (!v[0])
		tw__cfg_err(x, n->line, path,
		            "missing key \"type\": one of tcp, smtp, imap, pop3, "
		            "sieve, tls");
	else if (tw__cfg_enum(x, v[0], (tw__cfg_path_key(p, sizeof(p), path, "type"), p),
	                      health_names, 6, &e)) {
		h->enabled = true;
		h->type = e;
	}
	if (v[1])
		tw__cfg_duration(x, v[1], (tw__cfg_path_key(p, sizeof(p), path, "interval"), p),
		                 false, &h->interval_ms);
	if (v[2])
		tw__cfg_duration(x, v[2], (tw__cfg_path_key(p, sizeof(p), path, "timeout"), p),
		                 false, &h->timeout_ms);
	if (v[3] &&
	    tw__cfg_uint(x, v[3], (tw__cfg_path_key(p, sizeof(p), path, "rise"), p), 1, 100, &u))
		h->rise = (uint32_t)u;
	if (v[4] &&
	    tw__cfg_uint(x, v[4], (tw__cfg_path_key(p, sizeof(p), path, "fall"), p), 1, 100, &u))
		h->fall = (uint32_t)u;
	if (h->interval_ms && h->timeout_ms > h->interval_ms)
		tw__cfg_err(x, (v[2] ? v[2] : n)->line, path,
		            "timeout longer than interval: checks would overlap");
}

static void parse_backend(struct tw__cfg_ctx *x, tw_cfg_backend_t *b, const struct tw__ynode *n,
                          const char *path)
{
	static const char *const keys[] = {"servers",   "proxy_protocol",  "proxy_tlvs",
	                                   "balance",   "connect_timeout", "source",
	                                   "interface", "health",          "required"};
	const struct tw__ynode *v[9];
	char p[160], ip[INET6_ADDRSTRLEN + 1], q[96];
	int e;
	b->line = n->line;
	b->tlv_authority = b->tlv_alpn = true;
	if (!tw__cfg_map_keys(x, n, path, "the backend's settings (servers: ...)", keys, 9, v))
		return;
	if (v[7])
		parse_health(x, &b->health, v[7],
		             (tw__cfg_path_key(p, sizeof(p), path, "health"), p));
	if (v[8])
		tw__cfg_bool(x, v[8], (tw__cfg_path_key(p, sizeof(p), path, "required"), p),
		             &b->required);
	if (!v[0]) {
		tw__cfg_err(x, n->line, path,
		            "missing key \"servers\": list at least one HOST:PORT");
	} else if (tw__cfg_want(x, v[0], TW__Y_SEQ,
	                        (tw__cfg_path_key(p, sizeof(p), path, "servers"), p),
	                        "a list of servers like [\"mail.example.com:25\"]")) {
		if (v[0]->n == 0 || v[0]->n > TW_CFG_MAX_SERVERS)
			tw__cfg_err(x, v[0]->line, p, "expected 1 to %d servers, got %zu",
			            TW_CFG_MAX_SERVERS, v[0]->n);
		b->servers = tw__cfg_calloc(x, v[0]->n, sizeof(*b->servers));
		for (size_t i = 0; b->servers && i < v[0]->n; i++) {
			char ip2[176];
			tw__cfg_path_index(ip2, sizeof(ip2), p, i, NULL);
			parse_server(x, b, v[0]->kid[i], ip2);
		}
	}
	if (v[1] &&
	    tw__cfg_enum(x, v[1], (tw__cfg_path_key(p, sizeof(p), path, "proxy_protocol"), p),
	                 tw__cfg_proxy_names, 3, &e))
		b->proxy = (tw_proxy_mode_t)e;
	if (v[2]) {
		tw__cfg_path_key(p, sizeof(p), path, "proxy_tlvs");
		if (tw__cfg_want(x, v[2], TW__Y_SEQ, p, "a list of authority, alpn, unique_id")) {
			b->tlv_authority = b->tlv_alpn = false;
			for (size_t i = 0; i < v[2]->n; i++) {
				char ip2[176];
				tw__cfg_path_index(ip2, sizeof(ip2), p, i, NULL);
				if (!tw__cfg_enum(x, v[2]->kid[i], ip2, tlv_names, 3, &e))
					continue;
				bool *tlv[] = {&b->tlv_authority, &b->tlv_alpn, &b->tlv_unique_id};
				*tlv[e] = true;
			}
			if (b->proxy != TW_PROXY_V2)
				tw__cfg_err(x, v[2]->line, p,
				            "proxy_tlvs needs proxy_protocol: v2 "
				            "(only PROXY v2 carries TLVs)");
		}
	}
	if (v[3] && tw__cfg_enum(x, v[3], (tw__cfg_path_key(p, sizeof(p), path, "balance"), p),
	                         balance_names, 2, &e))
		b->balance = (tw_balance_t)e;
	if (v[4])
		tw__cfg_duration(x, v[4],
		                 (tw__cfg_path_key(p, sizeof(p), path, "connect_timeout"), p),
		                 false, &b->connect_timeout_ms);
	if (v[5] &&
	    tw__cfg_want(x, v[5], TW__Y_SCALAR, (tw__cfg_path_key(p, sizeof(p), path, "source"), p),
	                 "an IP address")) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&b->source;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->source;
		tw_strlcpy(ip, v[5]->text, sizeof(ip));
		if (v[5]->len < sizeof(ip) && inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
			sin->sin_family = AF_INET;
		else if (v[5]->len < sizeof(ip) && inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
			sin6->sin6_family = AF_INET6;
		else
			tw__cfg_err(x, v[5]->line, p, "expected an IP address (no port), got %s",
			            tw__cfg_quote(q, sizeof(q), v[5]->text, v[5]->len));
		tw_addr_unmap_v4(&b->source);
	}
	if (v[6] && tw__cfg_str(x, v[6], (tw__cfg_path_key(p, sizeof(p), path, "interface"), p),
	                        &b->interface)) {
		const char *s = b->interface;
		if (strlen(s) >= IFNAMSIZ || strpbrk(s, "/: \t") || !strcmp(s, ".") ||
		    !strcmp(s, ".."))
			tw__cfg_err(
			        x, v[6]->line, p,
			        "expected a network interface name (at most %d characters), got %s",
			        IFNAMSIZ - 1, TW__CFG_QS(q, s));
	}
}

static void parse_backends(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	tw_config_t *c = x->c;
	char p[160];
	if (!tw__cfg_want(x, n, TW__Y_MAP, "backends",
	                  "a mapping of backend names to their settings"))
		return;
	c->backends = tw__cfg_calloc(x, n->n / 2, sizeof(*c->backends));
	for (size_t i = 0; c->backends && i + 1 < n->n; i += 2) {
		tw_cfg_backend_t *b = &c->backends[c->n_backends];
		if (!tw__cfg_name(x, n->kid[i], "backends", &b->name))
			continue;
		c->n_backends++;
		tw__cfg_path_key(p, sizeof(p), "backends", b->name);
		for (size_t j = 0; j + 1 < c->n_backends; j++)
			if (strcmp(c->backends[j].name, b->name) == 0)
				tw__cfg_err(x, n->kid[i]->line, p,
				            "duplicate backend name (first at line %d)",
				            c->backends[j].line);
		parse_backend(x, b, n->kid[i + 1], p);
		b->line = n->kid[i]->line;
	}
}

bool tw__cfg_sni_pattern_ok(char *s)
{
	char *h = s;
	for (char *t = s; *t; t++)
		*t = (char)tolower((unsigned char)*t);
	if (h[0] == '*' && h[1] == '.')
		h += 2;
	size_t n = strlen(h), lab = 0;
	if (n > 1 && h[n - 1] == '.')
		h[--n] = '\0'; /* "example.com." is the same name */
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (h[i] == '.') {
			if (lab == 0 || i + 1 == n)
				return false;
			lab = 0;
		} else if (!(isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '_') ||
		           ++lab > 63) {
			return false;
		}
	}
	return true;
}

/* One route of a pattern: a backend name, or {backend: NAME, alpn: [...]}. */
static void parse_sni_route(struct tw__cfg_ctx *x, tw_cfg_sni_t *s, const struct tw__ynode *n,
                            const char *path)
{
	static const char *const keys[] = {"backend", "alpn"};
	const struct tw__ynode *v[2];
	char p[240], p3[256];
	if (n->type == TW__Y_MAP) {
		if (!tw__cfg_map_keys(x, n, path, "a backend", keys, 2, v))
			return;
		if (v[1] && tw__cfg_want(x, v[1], TW__Y_SEQ,
		                         (tw__cfg_path_key(p, sizeof(p), path, "alpn"), p),
		                         "a list of protocol ids like [h2, http/1.1]")) {
			if (v[1]->n == 0)
				tw__cfg_err(x, v[1]->line, p, "expected at least one protocol id");
			s->alpn = tw__cfg_calloc(x, v[1]->n + 1, sizeof(char *));
			for (size_t j = 0, m = 0; s->alpn && j < v[1]->n; j++) {
				char *id = NULL;
				tw__cfg_path_index(p3, sizeof(p3), p, j, NULL);
				if (!tw__cfg_str(x, v[1]->kid[j], p3, &id))
					continue;
				s->alpn[m++] = id; /* kept dense: the list ends at NULL */
				if (strlen(id) > 255)
					tw__cfg_err(x, v[1]->kid[j]->line, p3,
					            "protocol id longer than 255 bytes");
			}
		}
		if (!v[0]) {
			tw__cfg_err(x, n->line, path, "missing key \"backend\"");
			return;
		}
		n = v[0];
		tw__cfg_path_key(p, sizeof(p), path, "backend");
		path = p;
	}
	if (tw__cfg_name(x, n, path, &s->backend))
		backend_ref(x, n, path, s->backend);
}

/* pattern: route, or pattern: [route, route, ...] when routes differ by ALPN. */
static void parse_sni(struct tw__cfg_ctx *x, tw_cfg_listener_t *l, const struct tw__ynode *n,
                      const char *path)
{
	char p[200], p2[220], q[96];
	if (!tw__cfg_want(x, n, TW__Y_MAP, path, "a mapping of host name patterns to backends"))
		return;
	size_t total = 0;
	for (size_t i = 1; i < n->n; i += 2)
		total += n->kid[i]->type == TW__Y_SEQ ? n->kid[i]->n : 1;
	l->sni = tw__cfg_calloc(x, total, sizeof(*l->sni));
	for (size_t i = 0; l->sni && i + 1 < n->n; i += 2) {
		const struct tw__ynode *k = n->kid[i], *val = n->kid[i + 1];
		size_t first = l->n_sni, n_plain = 0;
		if (!tw__cfg_want(x, k, TW__Y_SCALAR, path,
		                  "a host name pattern like \"*.example.com\""))
			continue;
		tw__cfg_path_index(p, sizeof(p), path, 0,
		                   tw__cfg_quote(q, sizeof(q), k->text, k->len));
		char *pat = tw__cfg_strdup(x, k->text);
		if (!pat)
			return;
		bool ok = strlen(k->text) == k->len && tw__cfg_sni_pattern_ok(pat);
		if (!ok)
			tw__cfg_err(x, k->line, p,
			            "expected a host name or a *.domain pattern (the \"*\" only as "
			            "the whole first label)");
		for (size_t j = 0; ok && j < first; j++)
			if (strcmp(l->sni[j].pattern, pat) == 0) {
				tw__cfg_err(x, k->line, p, "duplicate pattern (first at line %d)",
				            l->sni[j].line);
				break;
			}
		bool list = val->type == TW__Y_SEQ;
		if (list && val->n == 0)
			tw__cfg_err(x, val->line, p, "expected at least one backend");
		for (size_t t = 0; t < (list ? val->n : 1); t++) {
			tw_cfg_sni_t *s = &l->sni[l->n_sni++];
			const struct tw__ynode *r = list ? val->kid[t] : val;
			s->line = list ? r->line : k->line;
			s->pattern = t == 0 ? pat : tw__cfg_strdup(x, pat);
			if (!s->pattern)
				return;
			if (list)
				tw__cfg_path_index(p2, sizeof(p2), p, t, NULL);
			parse_sni_route(x, s, r, list ? p2 : p);
			n_plain += s->alpn == NULL;
		}
		if (list && val->n == 0)
			free(pat);
		if (n_plain > 1)
			tw__cfg_err(
			        x, k->line, p,
			        "more than one route without alpn: only the first would be used");
	}
}

static void parse_listener_timeouts(struct tw__cfg_ctx *x, tw_cfg_listener_t *l,
                                    const struct tw__ynode *n, const char *path, bool tls)
{
	static const char *const keys[] = {"idle", "total", "client_hello", "proxy_header"};
	const struct tw__ynode *v[4];
	char p[160];
	if (!tw__cfg_map_keys(x, n, path, "a mapping of timeouts", keys, 4, v))
		return;
	if (v[0])
		tw__cfg_duration(x, v[0], (tw__cfg_path_key(p, sizeof(p), path, "idle"), p), false,
		                 &l->idle_timeout_ms);
	if (v[1])
		tw__cfg_duration(x, v[1], (tw__cfg_path_key(p, sizeof(p), path, "total"), p), true,
		                 &l->total_timeout_ms);
	if (v[2] &&
	    tw__cfg_duration(x, v[2], (tw__cfg_path_key(p, sizeof(p), path, "client_hello"), p),
	                     false, &l->hello_timeout_ms) &&
	    !tls)
		tw__cfg_err(x, v[2]->line, p,
		            "only for protocol tls: mail protocols send no ClientHello");
	if (v[3])
		tw__cfg_duration(x, v[3], (tw__cfg_path_key(p, sizeof(p), path, "proxy_header"), p),
		                 false, &l->proxy_timeout_ms);
}

static void parse_listener(struct tw__cfg_ctx *x, tw_cfg_listener_t *l, const struct tw__ynode *n,
                           const char *path)
{
	static const char *const keys[] = {"name",    "bind",    "protocol", "backend", "sni",
	                                   "default", "maxconn", "timeouts", "sources", "messages"};
	const struct tw__ynode *v[10];
	char p[160], p2[192];
	tw_config_t *c = x->c;
	l->line = n->line;
	l->hello_timeout_ms = 5000;
	l->proxy_timeout_ms = 3000;
	if (!tw__cfg_map_keys(x, n, path, "a listener (name:, bind:, protocol:, backend:)", keys,
	                      10, v))
		return;
	if (v[8])
		parse_cidrs(x, v[8], (tw__cfg_path_key(p, sizeof(p), path, "sources"), p),
		            &l->sources, &l->n_sources);
	if (v[9]) {
		static const char *const mkeys[] = {"tempfail", "banned"};
		const struct tw__ynode *m[2];
		char **dst[] = {&l->msg_tempfail, &l->msg_banned};
		tw__cfg_path_key(p, sizeof(p), path, "messages");
		if (tw__cfg_map_keys(x, v[9], p, "a mapping (tempfail:, banned:)", mkeys, 2, m))
			for (size_t i = 0; i < 2; i++) {
				char p3[192];
				tw__cfg_path_key(p3, sizeof(p3), p, mkeys[i]);
				if (m[i] && tw__cfg_str(x, m[i], p3, dst[i]) &&
				    (strpbrk(*dst[i], "\r\n") || strlen(*dst[i]) > 200))
					tw__cfg_err(x, m[i]->line, p3,
					            "expected one line of at most 200 characters "
					            "(the edge adds the line ending)");
			}
	}
	if (!v[0])
		tw__cfg_err(x, n->line, path, "missing key \"name\"");
	else if (tw__cfg_name(x, v[0], (tw__cfg_path_key(p, sizeof(p), path, "name"), p), &l->name))
		for (size_t i = 0; i + 1 < c->n_listeners; i++)
			if (c->listeners[i].name && strcmp(c->listeners[i].name, l->name) == 0)
				tw__cfg_err(x, v[0]->line, p,
				            "duplicate listener name \"%s\" (first at line %d)",
				            l->name, c->listeners[i].line);
	bool proto_ok = false;
	if (!v[2])
		tw__cfg_err(x, n->line, path, "missing key \"protocol\": one of %s",
		            tw__cfg_proto_list);
	else if (tw__cfg_want(x, v[2], TW__Y_SCALAR,
	                      (tw__cfg_path_key(p, sizeof(p), path, "protocol"), p),
	                      "a protocol")) {
		if (tw_proto_parse(v[2]->text, &l->proto) == 0 && strlen(v[2]->text) == v[2]->len)
			proto_ok = true;
		else
			tw__cfg_err(x, v[2]->line, p, "expected one of %s, got %s",
			            tw__cfg_proto_list,
			            tw__cfg_quote(p2, sizeof(p2), v[2]->text, v[2]->len));
	}
	bool tls = proto_ok && l->proto == TW_PROTO_TLS;
	const struct tw__ynode *b = v[1];
	tw__cfg_path_key(p, sizeof(p), path, "bind");
	if (!b) {
		tw__cfg_err(x, n->line, path, "missing key \"bind\": write bind: \"0.0.0.0:PORT\"");
	} else if (b->type == TW__Y_SCALAR && !b->null && !b->bad) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (tw__cfg_alloc_binds(x, l, 1) && tw__cfg_listen(x, b, p, &ss, &sl)) {
			const tw_cfg_listener_t *o = tw__cfg_bind_owner(c, &ss);
			if (o)
				tw__cfg_bind_clash(x, b->line, p, b->text, o, l);
			else
				tw__cfg_add_bind(x, l, &ss, sl, b->text);
		}
	} else if (tw__cfg_want(x, b, TW__Y_SEQ, p, "an address or a list of addresses")) {
		if (b->n == 0)
			tw__cfg_err(x, b->line, p, "expected at least one address");
		bool ok = tw__cfg_alloc_binds(x, l, b->n);
		for (size_t i = 0; ok && i < b->n; i++) {
			struct sockaddr_storage ss;
			socklen_t sl;
			tw__cfg_path_index(p2, sizeof(p2), p, i, NULL);
			if (!tw__cfg_listen(x, b->kid[i], p2, &ss, &sl))
				continue;
			const tw_cfg_listener_t *o = tw__cfg_bind_owner(c, &ss);
			if (o)
				tw__cfg_bind_clash(x, b->kid[i]->line, p2, b->kid[i]->text, o, l);
			else
				tw__cfg_add_bind(x, l, &ss, sl, b->kid[i]->text);
		}
	}
	if (v[3] && tw__cfg_name(x, v[3], (tw__cfg_path_key(p, sizeof(p), path, "backend"), p),
	                         &l->backend))
		backend_ref(x, v[3], p, l->backend);
	if (v[5]) {
		tw__cfg_path_key(p, sizeof(p), path, "default");
		if (proto_ok && !tls)
			tw__cfg_err(x, v[5]->line, p, "only for protocol tls: use backend:");
		else if (v[3])
			tw__cfg_err(x, v[5]->line, p,
			            "default: is another name for backend:, give only one of them");
		else if (tw__cfg_name(x, v[5], p, &l->backend))
			backend_ref(x, v[5], p, l->backend);
	}
	if (v[4]) {
		tw__cfg_path_key(p, sizeof(p), path, "sni");
		if (proto_ok && !tls)
			tw__cfg_err(x, v[4]->line, p,
			            "only for protocol tls: a %s listener has no ClientHello to "
			            "route by",
			            tw_proto_name(l->proto));
		else
			parse_sni(x, l, v[4], p);
	}
	if (tls && !v[3] && !v[5] && (!v[4] || (v[4]->type == TW__Y_MAP && v[4]->n == 0)))
		tw__cfg_err(x, n->line, path,
		            "protocol tls needs sni: or default: to know where to route");
	else if (proto_ok && !tls && !v[3])
		tw__cfg_err(x, n->line, path, "missing key \"backend\"");
	uint64_t u;
	if (v[6] && tw__cfg_uint(x, v[6], (tw__cfg_path_key(p, sizeof(p), path, "maxconn"), p), 0,
	                         CFG_MAX_CONN, &u))
		l->maxconn = (uint32_t)u;
	if (v[7])
		parse_listener_timeouts(x, l, v[7],
		                        (tw__cfg_path_key(p, sizeof(p), path, "timeouts"), p),
		                        tls || !proto_ok);
}

static void parse_listeners(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	tw_config_t *c = x->c;
	char p[64];
	if (!tw__cfg_want(x, n, TW__Y_SEQ, "listeners", "a list of listeners"))
		return;
	if (n->n == 0)
		tw__cfg_err(x, n->line, "listeners", "expected at least one listener");
	c->listeners = tw__cfg_calloc(x, n->n, sizeof(*c->listeners));
	for (size_t i = 0; c->listeners && i < n->n; i++) {
		c->n_listeners = i + 1;
		snprintf(p, sizeof(p), "listeners[%zu]", i);
		parse_listener(x, &c->listeners[i], n->kid[i], p);
	}
}

static void parse_cidrs(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                        tw_cidr_t **out, size_t *nout)
{
	char p[224], e[256];
	if (!tw__cfg_want(x, n, TW__Y_SEQ, path,
	                  "a list of addresses or networks like [\"10.0.0.0/8\"]"))
		return;
	free(*out);
	*nout = 0;
	*out = tw__cfg_calloc(x, n->n, sizeof(**out));
	for (size_t i = 0; *out && i < n->n; i++) {
		tw__cfg_path_index(p, sizeof(p), path, i, NULL);
		const struct tw__ynode *k = n->kid[i];
		if (!tw__cfg_want(x, k, TW__Y_SCALAR, p, "an address or network like 10.0.0.0/8"))
			continue;
		if (strlen(k->text) != k->len ||
		    tw_cidr_parse(k->text, &(*out)[*nout], e, sizeof(e)) < 0)
			tw__cfg_err(x, k->line, p, "%s",
			            strlen(k->text) != k->len ? "NUL byte in network" : e);
		else
			(*nout)++;
	}
}

static void parse_admin(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	static const char *const keys[] = {"bind", "token"};
	const struct tw__ynode *v[2];
	struct sockaddr_storage ss;
	socklen_t sl;
	if (!tw__cfg_map_keys(x, n, "admin", "a mapping (bind:, token:)", keys, 2, v))
		return;
	bool bind_ok = false;
	if (v[0] && tw__cfg_listen(x, v[0], "admin.bind", &ss, &sl) &&
	    tw__cfg_str(x, v[0], "admin.bind", &x->c->admin_bind)) {
		bind_ok = true;
		const tw_cfg_listener_t *o = tw__cfg_bind_owner(x->c, &ss);
		if (o)
			tw__cfg_bind_clash(x, v[0]->line, "admin.bind", v[0]->text, o, NULL);
	}
	/* The token's text never goes into a message. */
	if (v[1] && tw__cfg_str(x, v[1], "admin.token", &x->c->admin_token) &&
	    strlen(x->c->admin_token) < 16)
		tw__cfg_err(
		        x, v[1]->line, "admin.token",
		        "too short: use at least 16 characters, e.g. from openssl rand -hex 16");
	/* The admin plane can drain servers and lift bans: off loopback it
	 * must not be open to whoever reaches the port. */
	if (bind_ok && !x->c->admin_token) {
		bool loopback =
		        (ss.ss_family == AF_INET &&
		         (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127) ||
		        (ss.ss_family == AF_INET6 &&
		         IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr));
		if (!loopback)
			tw__cfg_err(
			        x, v[0]->line, "admin.bind",
			        "not a loopback address: set admin.token too (clients then send "
			        "Authorization: Bearer TOKEN)");
	}
}

static void parse_timeouts(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	static const char *const keys[] = {"connect",    "smtp_idle", "imap_idle", "pop3_idle",
	                                   "sieve_idle", "tcp_idle",  "drain"};
	tw_config_t *c = x->c;
	uint64_t *dst[] = {
	        &c->connect_timeout_ms, &c->smtp_idle_ms, &c->imap_idle_ms, &c->pop3_idle_ms,
	        &c->sieve_idle_ms,      &c->tcp_idle_ms,  &c->drain_ms};
	const struct tw__ynode *v[7];
	char p[64];
	if (!tw__cfg_map_keys(x, n, "timeouts", "a mapping of timeouts", keys, 7, v))
		return;
	for (size_t i = 0; i < 7; i++)
		if (v[i])
			tw__cfg_duration(x, v[i],
			                 (tw__cfg_path_key(p, sizeof(p), "timeouts", keys[i]), p),
			                 i == 6, dst[i]);
}

static void parse_log(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	static const char *const keys[] = {"syslog", "level"};
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	static const int lv[] = {TW_LOG_ERR, TW_LOG_WARN, TW_LOG_INFO, TW_LOG_DEBUG};
	const struct tw__ynode *v[2];
	int e;
	if (!tw__cfg_map_keys(x, n, "log", "a mapping (syslog:, level:)", keys, 2, v))
		return;
	if (v[0])
		tw__cfg_bool(x, v[0], "log.syslog", &x->c->log_syslog);
	if (v[1] && tw__cfg_enum(x, v[1], "log.level", levels, 4, &e))
		x->c->log_level = lv[e];
}

/* `count` events within `window` trigger a ban: {count: 30, window: 1m} */
static void parse_ban_rule(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                           tw_cfg_ban_rule_t *r)
{
	static const char *const keys[] = {"count", "window"};
	const struct tw__ynode *v[2];
	char p[96];
	uint64_t u;
	if (!tw__cfg_map_keys(x, n, path, "a mapping (count:, window:)", keys, 2, v))
		return;
	if (!v[0] || !v[1]) {
		tw__cfg_err(x, n->line, path,
		            "needs both count: and window: (e.g. {count: 30, "
		            "window: 1m})");
		return;
	}
	if (tw__cfg_uint(x, v[0], (tw__cfg_path_key(p, sizeof(p), path, "count"), p), 1, 1000000,
	                 &u) &&
	    tw__cfg_duration(x, v[1], (tw__cfg_path_key(p, sizeof(p), path, "window"), p), false,
	                     &r->window_ms)) {
		r->count = (uint32_t)u;
		r->enabled = true;
	}
}

static void parse_bans(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	static const char *const keys[] = {"time",        "max_time", "ipv4_prefix",
	                                   "ipv6_prefix", "rate",     "early_close",
	                                   "tls_garbage", "reports",  "log_ban"};
	const struct tw__ynode *v[9];
	tw_cfg_bans_t *b = &x->c->bans;
	char p[96];
	uint64_t u;
	if (!tw__cfg_map_keys(x, n, "bans", "a mapping of ban settings", keys, 9, v))
		return;
	if (v[0])
		tw__cfg_duration(x, v[0], "bans.time", false, &b->ban_ms);
	if (v[1])
		tw__cfg_duration(x, v[1], "bans.max_time", false, &b->max_ban_ms);
	if (v[2] && tw__cfg_uint(x, v[2], "bans.ipv4_prefix", 8, 32, &u))
		b->v4_prefix = (uint32_t)u;
	if (v[3] && tw__cfg_uint(x, v[3], "bans.ipv6_prefix", 16, 128, &u))
		b->v6_prefix = (uint32_t)u;
	tw_cfg_ban_rule_t *rules[] = {&b->rate, &b->early_close, &b->tls_garbage, &b->reports};
	for (size_t i = 0; i < 4; i++)
		if (v[4 + i])
			parse_ban_rule(x, v[4 + i],
			               (tw__cfg_path_key(p, sizeof(p), "bans", keys[4 + i]), p),
			               rules[i]);
	if (b->ban_ms > b->max_ban_ms)
		tw__cfg_err(x, (v[0] ? v[0] : n)->line, "bans.time", "longer than bans.max_time");
	if (v[8] && tw__cfg_want(x, v[8], TW__Y_SEQ, "bans.log_ban",
	                         "a list of {file: PATH, pattern: REGEX with <ADDR>}")) {
		b->log_ban = tw__cfg_calloc(x, v[8]->n, sizeof(*b->log_ban));
		for (size_t i = 0; b->log_ban && i < v[8]->n; i++) {
			static const char *const lkeys[] = {"file", "pattern"};
			const struct tw__ynode *lv[2];
			char ip[96], ip2[128];
			tw__cfg_path_index(ip, sizeof(ip), "bans.log_ban", i, NULL);
			if (!tw__cfg_map_keys(x, v[8]->kid[i], ip, "a mapping (file:, pattern:)",
			                      lkeys, 2, lv))
				continue;
			tw_cfg_log_ban_t *lb = &b->log_ban[b->n_log_ban++];
			lb->line = v[8]->kid[i]->line;
			if (!lv[0] || !lv[1]) {
				tw__cfg_err(x, lb->line, ip, "needs file: and pattern:");
				continue;
			}
			tw__cfg_str(x, lv[0], (tw__cfg_path_key(ip2, sizeof(ip2), ip, "file"), ip2),
			            &lb->file);
			if (tw__cfg_str(x, lv[1],
			                (tw__cfg_path_key(ip2, sizeof(ip2), ip, "pattern"), ip2),
			                &lb->pattern)) {
				const char *a = strstr(lb->pattern, "<ADDR>");
				if (!a || strstr(a + 1, "<ADDR>"))
					tw__cfg_err(
					        x, lv[1]->line, ip2,
					        "the pattern needs exactly one <ADDR> where the "
					        "client's address stands");
			}
		}
	}
}

/* `dns:` belongs to `tailwart dns`; the edge only checks its shape. */
static void parse_dns(struct tw__cfg_ctx *x, const struct tw__ynode *n)
{
	static const char *const keys[] = {"ignore", "caa_accounturi", "snapshots"};
	const struct tw__ynode *v[3];
	tw_cfg_dns_t *d = &x->c->dns;
	char p[96];
	if (!tw__cfg_map_keys(x, n, "dns", "a mapping (ignore:, caa_accounturi:, snapshots:)", keys,
	                      3, v))
		return;
	if (v[0] && tw__cfg_want(x, v[0], TW__Y_SEQ, "dns.ignore",
	                         "a list of NAME[:TYPE] patterns like [\"_mta-sts:TXT\"]")) {
		d->ignore = tw__cfg_calloc(x, v[0]->n, sizeof(*d->ignore));
		for (size_t i = 0; d->ignore && i < v[0]->n; i++) {
			tw__cfg_path_index(p, sizeof(p), "dns.ignore", i, NULL);
			const struct tw__ynode *k = v[0]->kid[i];
			if (!tw__cfg_want(x, k, TW__Y_SCALAR, p, "a NAME[:TYPE] pattern"))
				continue;
			if (k->len == 0 || strlen(k->text) != k->len)
				tw__cfg_err(x, k->line, p, "expected a NAME[:TYPE] pattern");
			else if (tw__cfg_str(x, k, p, &d->ignore[d->n_ignore]))
				d->n_ignore++;
		}
	}
	if (v[1] && tw__cfg_str(x, v[1], "dns.caa_accounturi", &d->caa_accounturi) &&
	    strncmp(d->caa_accounturi, "https://", 8) != 0)
		tw__cfg_err(x, v[1]->line, "dns.caa_accounturi",
		            "expected the ACME account URL (https://...), as RFC 8657 accounturi");
	if (v[2])
		tw__cfg_str(x, v[2], "dns.snapshots", &d->snapshots);
}

static void parse_top(struct tw__cfg_ctx *x, const struct tw__ynode *root)
{
	static const char *const keys[] = {
	        "listeners", "backends", "allow",    "trusted_proxies", "admin",   "state",
	        "workers",   "user",     "timeouts", "resolve_cache",   "maxconn", "log",
	        "bans",      "dns"};
	const struct tw__ynode *v[14];
	tw_config_t *c = x->c;
	uint64_t u;
	if (!root) {
		tw__cfg_err(x, 1, "", "empty file: at least one listener is required");
		return;
	}
	if (!tw__cfg_map_keys(x, root, "", "a mapping of settings (listeners:, backends:, ...)",
	                      keys, 14, v))
		return;
	if (v[12])
		parse_bans(x, v[12]);
	if (v[13])
		parse_dns(x, v[13]);
	/* Backends first so that listeners can check the names they refer to. */
	if (v[1])
		parse_backends(x, v[1]);
	if (v[0])
		parse_listeners(x, v[0]);
	else
		tw__cfg_err(x, root->line, "",
		            "missing key \"listeners\": at least one is required");
	if (v[2]) {
		c->allow_set = true;
		parse_cidrs(x, v[2], "allow", &c->allow, &c->n_allow);
	}
	if (v[3])
		parse_cidrs(x, v[3], "trusted_proxies", &c->trusted_proxies, &c->n_trusted);
	if (v[4])
		parse_admin(x, v[4]);
	if (v[5])
		tw__cfg_str(x, v[5], "state", &c->state);
	if (v[6] &&
	    tw__cfg_want(x, v[6], TW__Y_SCALAR, "workers", "auto or a number from 1 to 256")) {
		char q[96];
		if (strcmp(v[6]->text, "auto") == 0)
			c->workers = 0;
		else if (v[6]->len == 0 || strspn(v[6]->text, "0123456789") != v[6]->len)
			tw__cfg_err(x, v[6]->line, "workers",
			            "expected auto or a number from 1 to 256, got %s",
			            tw__cfg_quote(q, sizeof(q), v[6]->text, v[6]->len));
		else if (tw__cfg_uint(x, v[6], "workers", 1, 256, &u))
			c->workers = (int)u;
	}
	if (v[7])
		tw__cfg_str(x, v[7], "user", &c->user);
	if (v[8])
		parse_timeouts(x, v[8]);
	if (v[9])
		tw__cfg_duration(x, v[9], "resolve_cache", true, &c->resolve_cache_ms);
	if (v[10] && tw__cfg_uint(x, v[10], "maxconn", 1, CFG_MAX_CONN, &u))
		c->maxconn = (uint32_t)u;
	if (v[11])
		parse_log(x, v[11]);
}

/* Stable, by line, so the report reads top to bottom. */
static void sort_diags(tw_diags_t *d, size_t from)
{
	for (size_t i = from + 1; i < d->n; i++) {
		tw_diag_t t = d->v[i];
		size_t j = i;
		while (j > from && d->v[j - 1].line > t.line) {
			d->v[j] = d->v[j - 1];
			j--;
		}
		d->v[j] = t;
	}
}

/* A backend no listener routes to is a dependency (the database the mail
 * server needs, say): checked, never carrying traffic; tcp by default. */
void tw__cfg_mark_dependencies(tw_config_t *c)
{
	for (size_t i = 0; i < c->n_backends; i++) {
		tw_cfg_backend_t *b = &c->backends[i];
		bool used = false;
		for (size_t j = 0; j < c->n_listeners && !used; j++) {
			const tw_cfg_listener_t *l = &c->listeners[j];
			used = l->backend && b->name && strcmp(l->backend, b->name) == 0;
			for (size_t k = 0; k < l->n_sni && !used; k++)
				used = l->sni[k].backend && b->name &&
				       strcmp(l->sni[k].backend, b->name) == 0;
		}
		b->dependency = !used;
		if (b->dependency && !b->health.enabled) {
			b->health.enabled = true;
			b->health.type = 0;
			b->health.interval_ms = 5000;
			b->health.timeout_ms = 2000;
			b->health.rise = 2;
			b->health.fall = 3;
		}
	}
}

tw_config_t *tw_config_load_string(const char *name, const char *text, size_t len,
                                   tw_diags_t *diags)
{
	tw_diags_t local = {0};
	struct tw__cfg_ctx x = {.file = name ? name : "", .d = diags ? diags : &local};
	size_t start = x.d->n;
	bool ok;
	if (len > CFG_MAX_BYTES) {
		tw__cfg_err(&x, 0, "", "file too large: the limit is %u bytes", CFG_MAX_BYTES);
		tw_diags_release(&local);
		return NULL;
	}
	x.c = tw_config_new_default();
	if (!x.c) {
		x.oom = true;
	} else {
		struct tw__ynode *root = tw__yaml_build(&x, text, len, &ok);
		if (ok)
			parse_top(&x, root);
		tw__ynode_free(root);
		tw__cfg_mark_dependencies(x.c);
	}
	sort_diags(x.d, start);
	if (x.capped)
		tw_diag_add(x.d, x.file, 0, "", "too many errors (%zu): fix these first", x.nerr);
	if (x.oom)
		tw_diag_add(x.d, x.file, 0, "", "out of memory");
	tw_diags_release(&local);
	if (x.d->n > start || x.oom || x.nerr) {
		tw_config_free(x.c);
		return NULL;
	}
	return x.c;
}

tw_config_t *tw_config_load(const char *path, tw_diags_t *diags)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		tw_diag_add(diags, path, 0, "", "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *buf = malloc(CFG_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, CFG_MAX_BYTES + 1, f) : 0;
	int rerr = ferror(f) ? errno : 0;
	fclose(f);
	tw_config_t *c = NULL;
	if (!buf)
		tw_diag_add(diags, path, 0, "", "out of memory");
	else if (rerr)
		tw_diag_add(diags, path, 0, "", "cannot read: %s", strerror(rerr));
	else if (n > CFG_MAX_BYTES)
		tw_diag_add(diags, path, 0, "", "file too large: the limit is %u bytes",
		            CFG_MAX_BYTES);
	else if ((c = tw_config_load_string(path, buf, n, diags)) && !(c->path = strdup(path))) {
		tw_config_free(c);
		c = NULL;
		tw_diag_add(diags, path, 0, "", "out of memory");
	}
	free(buf);
	return c;
}

static const char *const default_allow[] = {"127.0.0.0/8", "::1/128", "100.64.0.0/10",
                                            "fd7a:115c:a1e0::/48"};

tw_config_t *tw_config_new_default(void)
{
	tw_config_t *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->admin_bind = strdup("127.0.0.1:9180");
	c->state = strdup("/var/lib/tailwart/state.db");
	c->allow = calloc(TW_ARRAY_LEN(default_allow), sizeof(*c->allow));
	if (!c->admin_bind || !c->state || !c->allow) {
		tw_config_free(c);
		return NULL;
	}
	for (size_t i = 0; i < TW_ARRAY_LEN(default_allow); i++)
		TW_BUG_ON(tw_cidr_parse(default_allow[i], &c->allow[c->n_allow++], NULL, 0) != 0);
	c->connect_timeout_ms = 5000;
	c->smtp_idle_ms = 5 * 60000;
	c->imap_idle_ms = 30 * 60000;
	c->pop3_idle_ms = 10 * 60000;
	c->sieve_idle_ms = 30 * 60000;
	c->tcp_idle_ms = 5 * 60000;
	c->drain_ms = 30000;
	c->resolve_cache_ms = 5000;
	c->maxconn = 20000;
	c->log_level = TW_LOG_INFO;
	c->bans.ban_ms = 10 * 60000;
	c->bans.max_ban_ms = 7 * 24 * 3600000ull;
	c->bans.v4_prefix = 32;
	c->bans.v6_prefix = 64;
	return c;
}

void tw__cfg_listener_release(tw_cfg_listener_t *l)
{
	free(l->name);
	free(l->binds);
	free(l->bind_lens);
	for (size_t i = 0; i < l->n_binds; i++)
		free(l->bind_texts[i]);
	free(l->bind_texts);
	free(l->backend);
	for (size_t i = 0; i < l->n_sni; i++) {
		free(l->sni[i].pattern);
		free(l->sni[i].backend);
		for (char **a = l->sni[i].alpn; a && *a; a++)
			free(*a);
		free(l->sni[i].alpn);
	}
	free(l->sni);
	free(l->sources);
	free(l->msg_tempfail);
	free(l->msg_banned);
}

void tw__cfg_backend_release(tw_cfg_backend_t *b)
{
	free(b->name);
	for (size_t i = 0; i < b->n_servers; i++) {
		free(b->servers[i].name);
		free(b->servers[i].host);
	}
	free(b->servers);
	free(b->interface);
}

void tw_config_free(tw_config_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_listeners; i++)
		tw__cfg_listener_release(&c->listeners[i]);
	free(c->listeners);
	for (size_t i = 0; i < c->n_backends; i++)
		tw__cfg_backend_release(&c->backends[i]);
	free(c->backends);
	free(c->allow);
	free(c->trusted_proxies);
	free(c->admin_bind);
	if (c->admin_token) {
		explicit_bzero(c->admin_token, strlen(c->admin_token));
		free(c->admin_token);
	}
	free(c->state);
	free(c->user);
	free(c->path);
	for (size_t i = 0; i < c->bans.n_log_ban; i++) {
		free(c->bans.log_ban[i].file);
		free(c->bans.log_ban[i].pattern);
	}
	free(c->bans.log_ban);
	for (size_t i = 0; i < c->dns.n_ignore; i++)
		free(c->dns.ignore[i]);
	free(c->dns.ignore);
	free(c->dns.caa_accounturi);
	free(c->dns.snapshots);
	free(c);
}

uint64_t tw_config_idle_ms(const tw_config_t *c, const tw_cfg_listener_t *l)
{
	if (l->idle_timeout_ms)
		return l->idle_timeout_ms;
	switch (l->proto) {
	case TW_PROTO_SMTP:
	case TW_PROTO_SUBMISSION:
	case TW_PROTO_SUBMISSIONS: return c->smtp_idle_ms;
	case TW_PROTO_IMAP:
	case TW_PROTO_IMAPS: return c->imap_idle_ms;
	case TW_PROTO_POP3:
	case TW_PROTO_POP3S: return c->pop3_idle_ms;
	case TW_PROTO_SIEVE: return c->sieve_idle_ms;
	case TW_PROTO_TLS:
	case TW_PROTO_TCP:
	default: return c->tcp_idle_ms;
	}
}

const tw_cfg_backend_t *tw_config_backend(const tw_config_t *c, const char *name)
{
	for (size_t i = 0; i < c->n_backends; i++)
		if (c->backends[i].name && strcmp(c->backends[i].name, name) == 0)
			return &c->backends[i];
	return NULL;
}
