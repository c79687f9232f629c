#include "util/tw.h"

#include "edge/config.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static tw_config_t *load(const char *text, tw_diags_t *d)
{
	return tw_config_load_string("t.yaml", text, strlen(text), d);
}

static void print_diags(const tw_diags_t *d)
{
	tw_diags_print(d, stderr);
}

/* ---- the valid file with every key ---- */

static const char *ip_of(const struct sockaddr_storage *ss)
{
	static char buf[64];
	tw_addr_format((const struct sockaddr *)ss, buf, sizeof(buf));
	return buf;
}

static void test_full(void **state)
{
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load("tests/unit/configs/full.yaml", &d);
	print_diags(&d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->path, "tests/unit/configs/full.yaml");

	assert_int_equal(c->n_listeners, 2);
	const tw_cfg_listener_t *l = &c->listeners[0];
	assert_string_equal(l->name, "smtp");
	assert_int_equal(l->line, 4);
	assert_int_equal(l->n_binds, 2);
	assert_string_equal(ip_of(&l->binds[0]), "0.0.0.0:25");
	assert_string_equal(ip_of(&l->binds[1]), "[::]:25");
	assert_int_equal(l->bind_lens[0], sizeof(struct sockaddr_in));
	assert_int_equal(l->bind_lens[1], sizeof(struct sockaddr_in6));
	assert_string_equal(l->bind_texts[1], "[::]:25");
	assert_int_equal(l->proto, TW_PROTO_SMTP);
	assert_string_equal(l->backend, "mail");
	assert_int_equal(l->n_sni, 0);
	assert_int_equal(l->maxconn, 500);
	assert_int_equal(l->idle_timeout_ms, 120000);
	assert_int_equal(l->total_timeout_ms, 3600000);
	assert_int_equal(l->hello_timeout_ms, 5000); /* default */
	assert_int_equal(l->proxy_timeout_ms, 2000);
	assert_int_equal(tw_config_idle_ms(c, l), 120000);

	l = &c->listeners[1];
	assert_string_equal(l->name, "https");
	assert_int_equal(l->n_binds, 1);
	assert_string_equal(ip_of(&l->binds[0]), "127.0.0.1:8443"); /* unmapped */
	assert_string_equal(l->bind_texts[0], "[::ffff:127.0.0.1]:8443");
	assert_int_equal(l->proto, TW_PROTO_TLS);
	assert_string_equal(l->backend, "web"); /* from default: */
	assert_int_equal(l->n_sni, 2);
	assert_string_equal(l->sni[0].pattern, "mta-sts.example.com"); /* lower-cased */
	assert_string_equal(l->sni[0].backend, "web");
	assert_null(l->sni[0].alpn);
	assert_int_equal(l->sni[0].line, 17);
	assert_string_equal(l->sni[1].pattern, "*.example.com");
	assert_string_equal(l->sni[1].backend, "web");
	assert_non_null(l->sni[1].alpn);
	assert_string_equal(l->sni[1].alpn[0], "h2");
	assert_string_equal(l->sni[1].alpn[1], "http/1.1");
	assert_null(l->sni[1].alpn[2]);
	assert_int_equal(l->maxconn, 0);
	assert_int_equal(l->hello_timeout_ms, 7000);
	assert_int_equal(l->total_timeout_ms, 0);
	assert_int_equal(l->proxy_timeout_ms, 3000);
	assert_int_equal(tw_config_idle_ms(c, l), 4 * 60000); /* tcp_idle */

	assert_int_equal(c->n_backends, 2);
	const tw_cfg_backend_t *b = tw_config_backend(c, "mail");
	assert_ptr_equal(b, &c->backends[0]);
	assert_string_equal(b->name, "mail");
	assert_int_equal(b->line, 26);
	assert_int_equal(b->n_servers, 2);
	assert_string_equal(b->servers[0].name, "mail1.example.net:25");
	assert_string_equal(b->servers[0].host, "mail1.example.net");
	assert_int_equal(b->servers[0].port, 25);
	assert_false(b->servers[0].backup);
	assert_int_equal(b->servers[0].line, 28);
	assert_string_equal(b->servers[1].name, "second");
	assert_string_equal(b->servers[1].host, "2001:db8::25");
	assert_int_equal(b->servers[1].port, 2525);
	assert_true(b->servers[1].backup);
	assert_int_equal(b->proxy, TW_PROXY_V2);
	assert_false(b->tlv_authority);
	assert_false(b->tlv_alpn);
	assert_true(b->tlv_unique_id);
	assert_int_equal(b->balance, TW_BALANCE_ROUNDROBIN);
	assert_int_equal(b->connect_timeout_ms, 1500);
	assert_int_equal(b->source.ss_family, AF_INET);
	char ip[64];
	tw_addr_format_ip((const struct sockaddr *)&b->source, ip, sizeof(ip));
	assert_string_equal(ip, "192.0.2.1");
	assert_string_equal(b->interface, "wg0");

	b = tw_config_backend(c, "web");
	assert_non_null(b);
	assert_int_equal(b->proxy, TW_PROXY_V1);
	assert_true(b->tlv_authority); /* defaults */
	assert_true(b->tlv_alpn);
	assert_false(b->tlv_unique_id);
	assert_int_equal(b->balance, TW_BALANCE_FIRST);
	assert_int_equal(b->connect_timeout_ms, 0);
	assert_int_equal(b->source.ss_family, AF_UNSPEC);
	assert_null(b->interface);
	assert_null(tw_config_backend(c, "nope"));

	assert_true(c->allow_set);
	assert_int_equal(c->n_allow, 2);
	assert_int_equal(c->allow[1].family, AF_INET); /* v4-mapped network unmapped */
	assert_int_equal(c->allow[1].prefix, 16);
	assert_int_equal(c->n_trusted, 1);
	assert_int_equal(c->trusted_proxies[0].prefix, 24);
	assert_string_equal(c->admin_bind, "127.0.0.1:9999");
	assert_string_equal(c->admin_token, "0123456789abcdef0123");
	assert_string_equal(c->state, "/tmp/tw-state.db");
	assert_int_equal(c->workers, 4);
	assert_string_equal(c->user, "tailwart");
	assert_int_equal(c->connect_timeout_ms, 3000);
	assert_int_equal(c->smtp_idle_ms, 6 * 60000);
	assert_int_equal(c->imap_idle_ms, 31 * 60000);
	assert_int_equal(c->pop3_idle_ms, 11 * 60000);
	assert_int_equal(c->sieve_idle_ms, 29 * 60000);
	assert_int_equal(c->tcp_idle_ms, 4 * 60000);
	assert_int_equal(c->drain_ms, 0);
	assert_int_equal(c->resolve_cache_ms, 0);
	assert_int_equal(c->maxconn, 1234);
	assert_true(c->log_syslog);
	assert_int_equal(c->log_level, TW_LOG_DEBUG);
	tw_config_free(c);
	tw_diags_release(&d);
}

static void check_defaults(const tw_config_t *c)
{
	assert_string_equal(c->admin_bind, "127.0.0.1:9180");
	assert_null(c->admin_token);
	assert_string_equal(c->state, "/var/lib/tailwart/state.db");
	assert_int_equal(c->workers, 0);
	assert_null(c->user);
	assert_int_equal(c->connect_timeout_ms, 5000);
	assert_int_equal(c->smtp_idle_ms, 5 * 60000);
	assert_int_equal(c->imap_idle_ms, 30 * 60000);
	assert_int_equal(c->pop3_idle_ms, 10 * 60000);
	assert_int_equal(c->sieve_idle_ms, 30 * 60000);
	assert_int_equal(c->tcp_idle_ms, 5 * 60000);
	assert_int_equal(c->drain_ms, 30000);
	assert_int_equal(c->resolve_cache_ms, 5000);
	assert_int_equal(c->maxconn, 20000);
	assert_false(c->log_syslog);
	assert_int_equal(c->log_level, TW_LOG_INFO);
	assert_false(c->allow_set);
	assert_int_equal(c->n_allow, 4);
	assert_int_equal(c->n_trusted, 0);
	static const char *const want[] = {"127.0.0.1", "::1", "100.100.1.1",
	                                   "fd7a:115c:a1e0:1::1"};
	static const char *const not [] = {"128.0.0.1", "::2", "100.128.0.1", "fd7a:115c:a1e1::1"};
	for (size_t i = 0; i < 4; i++) {
		struct sockaddr_storage in, out;
		memset(&in, 0, sizeof(in));
		memset(&out, 0, sizeof(out));
		int fam = strchr(want[i], ':') ? AF_INET6 : AF_INET;
		in.ss_family = out.ss_family = (sa_family_t)fam;
		void *a = fam == AF_INET ? (void *)&((struct sockaddr_in *)&in)->sin_addr
		                         : (void *)&((struct sockaddr_in6 *)&in)->sin6_addr;
		void *b = fam == AF_INET ? (void *)&((struct sockaddr_in *)&out)->sin_addr
		                         : (void *)&((struct sockaddr_in6 *)&out)->sin6_addr;
		assert_int_equal(inet_pton(fam, want[i], a), 1);
		assert_int_equal(inet_pton(fam, not [i], b), 1);
		assert_true(tw_cidr_match(&c->allow[i], (struct sockaddr *)&in));
		assert_false(tw_cidr_match(&c->allow[i], (struct sockaddr *)&out));
	}
}

static void test_defaults(void **state)
{
	tw_config_t *c = tw_config_new_default();
	assert_non_null(c);
	assert_null(c->path);
	assert_int_equal(c->n_listeners, 0);
	assert_int_equal(c->n_backends, 0);
	check_defaults(c);
	tw_config_free(c);
	tw_config_free(NULL);

	tw_diags_t d = {0};
	c = tw_config_load("examples/minimal.yaml", &d);
	print_diags(&d);
	assert_non_null(c);
	check_defaults(c);
	const tw_cfg_listener_t *l = &c->listeners[0];
	assert_int_equal(l->hello_timeout_ms, 5000);
	assert_int_equal(l->proxy_timeout_ms, 3000);
	assert_int_equal(l->idle_timeout_ms, 0);
	assert_int_equal(l->total_timeout_ms, 0);
	assert_int_equal(l->maxconn, 0);
	tw_config_free(c);
	tw_diags_release(&d);
}

/* ---- one case per kind of error: file, line, field and message ---- */

#define L1                                                                                         \
	"listeners:\n"                                                                             \
	"  - name: smtp\n"                                                                         \
	"    bind: \"0.0.0.0:25\"\n"                                                               \
	"    protocol: smtp\n"                                                                     \
	"    backend: mail\n" /* lines 1-5 */
#define BK                                                                                         \
	"backends:\n"                                                                              \
	"  mail:\n"                                                                                \
	"    servers: [\"mail.example:25\"]\n" /* 3 lines */
#define LT                                                                                         \
	"listeners:\n"                                                                             \
	"  - name: web\n"                                                                          \
	"    bind: \"[::]:443\"\n"                                                                 \
	"    protocol: tls\n" /* lines 1-4 */

static const struct {
	const char *what, *yaml;
	int line;
	const char *field, *msg;
} errs[] = {
        {"unknown key, suggestion", L1 BK "lisener: 1\n", 9, "",
         "unknown key \"lisener\" (did you mean \"listeners\"?)"},
        {"unknown key, list", L1 BK "frobnicate: 1\n", 9, "",
         "unknown key \"frobnicate\": expected one of listeners, backends, allow, trusted_proxies, "
         "admin, state, workers, user, timeouts, resolve_cache, maxconn, log, bans, dns"},
        {"dns accounturi", L1 BK "dns: {caa_accounturi: \"http://ca.example/acct/1\"}\n", 9,
         "dns.caa_accounturi",
         "expected the ACME account URL (https://...), as RFC 8657 accounturi"},
        {"dns ignore", L1 BK "dns:\n  ignore: [\"www:A\", []]\n", 10, "dns.ignore[1]",
         "expected a NAME[:TYPE] pattern, got a list"},
        {"unknown nested key", L1 "    protocl: smtp\n" BK, 6, "listeners[0]",
         "unknown key \"protocl\" (did you mean \"protocol\"?)"},
        {"unknown backend key", L1 BK "    helth: smtp\n", 9, "backends.mail",
         "unknown key \"helth\" (did you mean \"health\"?)"},
        {"health type", L1 BK "    health: smpt\n", 9, "backends.mail.health",
         "expected one of tcp, smtp, imap, pop3, sieve, tls, got \"smpt\""},
        {"health mapping without type", L1 BK "    health: {interval: 5s}\n", 9,
         "backends.mail.health", "missing key \"type\": one of tcp, smtp, imap, pop3, sieve, tls"},
        {"health timeout over interval", L1 BK "    health: {type: smtp, interval: 1s, timeout: 2s}\n",
         9, "backends.mail.health", "timeout longer than interval: checks would overlap"},
        {"health rise", L1 BK "    health: {type: tcp, rise: 0}\n", 9, "backends.mail.health.rise",
         "0 is out of range: expected 1 to 100"},
        {"required not a bool", L1 BK "    required: yes\n", 9, "backends.mail.required",
         "expected true or false, got \"yes\""},
        {"sources", L1 "    sources: [\"10.0.0.1/8\"]\n" BK, 6, "listeners[0].sources[0]",
         "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?"},
        {"message with a newline", L1 "    messages: {tempfail: \"a\\r\\nb\"}\n" BK, 6,
         "listeners[0].messages.tempfail",
         "expected one line of at most 200 characters (the edge adds the line ending)"},
        {"admin off loopback without token", L1 BK "admin: {bind: \"0.0.0.0:9180\"}\n", 9,
         "admin.bind",
         "not a loopback address: set admin.token too (clients then send Authorization: Bearer "
         "TOKEN)"},
        {"ban rule incomplete", L1 BK "bans: {rate: {count: 5}}\n", 9, "bans.rate",
         "needs both count: and window: (e.g. {count: 30, window: 1m})"},
        {"ban window unit", L1 BK "bans: {rate: {count: 5, window: 60}}\n", 9, "bans.rate.window",
         "missing unit in \"60\": write 60s or 60ms"},
        {"log_ban without <ADDR>", L1 BK "bans: {log_ban: [{file: /var/log/mail.log, pattern: \"auth failed\"}]}\n",
         9, "bans.log_ban[0].pattern",
         "the pattern needs exactly one <ADDR> where the client's address stands"},
        {"duplicate key", L1 BK "state: a\nstate: b\n", 10, "",
         "duplicate key \"state\" (first at line 9)"},
        {"non-string key", L1 BK "[a]: b\n", 9, "", "expected a key name, got a list"},
        /* libfyaml 0.7.12 crashed on "? o:<tab>:" (fuzz_config); explicit keys are
         * refused before it sees them. */
        {"explicit key", L1 BK "? o:\t:\n", 9, "",
         "explicit keys (\"? \") are not supported: write key: value"},
        {"explicit key in a list", L1 BK "allow:\n  - ? o:\t:\n", 10, "",
         "explicit keys (\"? \") are not supported: write key: value"},
        /* libfyaml 0.7.12 looped forever on a "%" directive with bad UTF-8. */
        {"bad UTF-8", L1 BK "%l\xaa\n", 9, "", "not valid UTF-8: byte 0xaa at offset 139"},
        {"bad UTF-8 in a value", L1 BK "state: \"\xc3\x28\"\n", 9, "",
         "not valid UTF-8: byte 0xc3 at offset 145"},
        {"root not a mapping", "- a\n", 1, "",
         "expected a mapping of settings (listeners:, backends:, ...), got a list"},
        {"empty file", "", 1, "", "empty file: at least one listener is required"},
        {"comments only", "# nothing\n", 1, "", "empty file: at least one listener is required"},
        {"no listeners", BK, 1, "", "missing key \"listeners\": at least one is required"},
        {"empty listeners", "listeners: []\n" BK, 1, "listeners", "expected at least one listener"},
        {"listeners not a list", "listeners:\n  name: x\n" BK, 1, "listeners",
         "expected a list of listeners, got a mapping"},
        {"enum", L1 BK "    proxy_protocol: v3\n", 9, "backends.mail.proxy_protocol",
         "expected one of none, v1, v2, got \"v3\""},
        {"protocol",
         "listeners:\n  - name: smtp\n    bind: \"0.0.0.0:25\"\n    protocol: smpt\n"
         "    backend: mail\n" BK,
         4, "listeners[0].protocol",
         "expected one of smtp, submission, submissions, imap, imaps, pop3, pop3s, sieve, tls, "
         "tcp, "
         "got \"smpt\""},
        {"proxy tlv", L1 BK "    proxy_protocol: v2\n    proxy_tlvs: [alpn, sni]\n", 10,
         "backends.mail.proxy_tlvs[1]", "expected one of authority, alpn, unique_id, got \"sni\""},
        {"balance", L1 BK "    balance: random\n", 9, "backends.mail.balance",
         "expected one of first, roundrobin, got \"random\""},
        {"log level", L1 BK "log:\n  level: loud\n", 10, "log.level",
         "expected one of error, warn, info, debug, got \"loud\""},
        {"duration unit", L1 BK "timeouts:\n  connect: 30\n", 10, "timeouts.connect",
         "missing unit in \"30\": write 30s or 30ms"},
        {"duration zero", L1 BK "timeouts:\n  smtp_idle: 0\n", 10, "timeouts.smtp_idle",
         "expected a duration above zero, like 30s, got \"0\""},
        {"duration case", L1 BK "resolve_cache: 5S\n", 9, "resolve_cache",
         "unknown unit \"S\" in \"5S\": use ms, s, m, h or d"},
        {"duration listener", L1 "    timeouts:\n      idle: 1.5m\n" BK, 7,
         "listeners[0].timeouts.idle", "fractions are not supported in \"1.5m\": write 1m30s"},
        {"duration backend", L1 BK "    connect_timeout: 0\n", 9, "backends.mail.connect_timeout",
         "expected a duration above zero, like 30s, got \"0\""},
        {"bool", L1 BK "log:\n  syslog: yes\n", 10, "log.syslog",
         "expected true or false, got \"yes\""},
        {"bool number", L1 "backends:\n  mail:\n    servers: [{address: \"m:1\", backup: 1}]\n", 8,
         "backends.mail.servers[0].backup", "expected true or false, got \"1\""},
        {"integer junk", L1 BK "maxconn: 10k\n", 9, "maxconn",
         "expected a whole number from 1 to 10000000, got \"10k\""},
        {"integer sign", L1 "    maxconn: -1\n" BK, 6, "listeners[0].maxconn",
         "expected a whole number from 0 to 10000000, got \"-1\""},
        {"integer range", L1 BK "workers: 300\n", 9, "workers",
         "300 is out of range: expected 1 to 256"},
        {"workers zero", L1 BK "workers: 0\n", 9, "workers",
         "0 is out of range: expected 1 to 256"},
        {"workers word", L1 BK "workers: many\n", 9, "workers",
         "expected auto or a number from 1 to 256, got \"many\""},
        {"type mismatch", L1 BK "admin: 5\n", 9, "admin",
         "expected a mapping (bind:, token:), got \"5\""},
        {"type mismatch list", L1 BK "state: [a]\n", 9, "state", "expected a string, got a list"},
        {"null value", L1 BK "state:\n", 9, "state", "expected a string, got nothing"},
        {"tilde value", L1 BK "user: ~\n", 9, "user", "expected a string, got nothing"},
        {"empty string", L1 BK "user: \"\"\n", 9, "user", "expected a string, got an empty one"},
        {"NUL in string", L1 BK "state: \"a\\0b\"\n", 9, "state",
         "expected a string of 1 to 4096 characters without NUL bytes"},
        {"missing name",
         "listeners:\n  - bind: \"0.0.0.0:25\"\n    protocol: smtp\n"
         "    backend: mail\n" BK,
         2, "listeners[0]", "missing key \"name\""},
        {"missing protocol",
         "listeners:\n  - name: a\n    bind: \"0.0.0.0:25\"\n"
         "    backend: mail\n" BK,
         2, "listeners[0]",
         "missing key \"protocol\": one of smtp, submission, submissions, imap, imaps, pop3, "
         "pop3s, "
         "sieve, tls, tcp"},
        {"missing bind", "listeners:\n  - name: a\n    protocol: smtp\n    backend: mail\n" BK, 2,
         "listeners[0]", "missing key \"bind\": write bind: \"0.0.0.0:PORT\""},
        {"missing backend",
         "listeners:\n  - name: a\n    bind: \"0.0.0.0:25\"\n    protocol: imaps\n" BK, 2,
         "listeners[0]", "missing key \"backend\""},
        {"missing servers", L1 "backends:\n  mail:\n    proxy_protocol: v2\n", 7, "backends.mail",
         "missing key \"servers\": list at least one HOST:PORT"},
        {"missing address", L1 "backends:\n  mail:\n    servers:\n      - name: x\n", 9,
         "backends.mail.servers[0]", "missing key \"address\": write address: HOST:PORT"},
        {"bad name",
         "listeners:\n  - name: my smtp\n    bind: \"0.0.0.0:25\"\n    protocol: smtp\n"
         "    backend: mail\n" BK,
         2, "listeners[0].name",
         "expected a name of letters, digits and . _ - : @ (at most 63), got \"my smtp\""},
        {"bad backend name", L1 BK "  \"we/b\":\n    servers: [\"w:443\"]\n", 9, "backends",
         "expected a name of letters, digits and . _ - : @ (at most 63), got \"we/b\""},
        {"duplicate listener name",
         L1 "  - name: smtp\n    bind: \"0.0.0.0:26\"\n    protocol: smtp\n"
            "    backend: mail\n" BK,
         6, "listeners[1].name", "duplicate listener name \"smtp\" (first at line 2)"},
        {"duplicate backend name", L1 BK "  mail:\n    servers: [\"m2:25\"]\n", 9, "backends.mail",
         "duplicate backend name (first at line 7)"},
        {"duplicate server", L1 "backends:\n  mail:\n    servers: [\"m:25\", \"m:25\"]\n", 8,
         "backends.mail.servers[1]", "duplicate server \"m:25\" (first at line 8)"},
        {"bind across listeners",
         L1 "  - name: other\n    bind: [\"[::]:25\", \"0.0.0.0:25\"]\n"
            "    protocol: smtp\n    backend: mail\n" BK,
         7, "listeners[1].bind[1]",
         "\"0.0.0.0:25\" is already bound by listener \"smtp\" (line 2)"},
        {"bind twice",
         "listeners:\n  - name: a\n    bind: [\"0.0.0.0:25\", \"0.0.0.0:25\"]\n"
         "    protocol: smtp\n    backend: mail\n" BK,
         3, "listeners[0].bind[1]", "\"0.0.0.0:25\" is listed twice"},
        {"bind twice v4-mapped",
         "listeners:\n  - name: a\n    bind:\n      - \"1.2.3.4:25\"\n      - "
         "\"[::ffff:1.2.3.4]:25\"\n"
         "    protocol: smtp\n    backend: mail\n" BK,
         5, "listeners[0].bind[1]", "\"[::ffff:1.2.3.4]:25\" is listed twice"},
        {"bind address",
         "listeners:\n  - name: a\n    bind: \"localhost:25\"\n    protocol: smtp\n"
         "    backend: mail\n" BK,
         3, "listeners[0].bind",
         "\"localhost\" is not an IP address: a listen address is literal, like 127.0.0.1:25 or "
         "[::1]:25"},
        {"bind v6 brackets",
         "listeners:\n  - name: a\n    bind: [\"::443\"]\n    protocol: smtp\n"
         "    backend: mail\n" BK,
         3, "listeners[0].bind[0]",
         "IPv6 address in \"::443\" needs brackets: write [ADDRESS]:PORT"},
        {"bind port 0",
         "listeners:\n  - name: a\n    bind: \"0.0.0.0:0\"\n    protocol: smtp\n"
         "    backend: mail\n" BK,
         3, "listeners[0].bind", "port 0 is not allowed: give the port to listen on"},
        {"bind empty list",
         "listeners:\n  - name: a\n    bind: []\n    protocol: smtp\n"
         "    backend: mail\n" BK,
         3, "listeners[0].bind", "expected at least one address"},
        {"backend reference, suggestion",
         "listeners:\n  - name: a\n    bind: \"0.0.0.0:25\"\n"
         "    protocol: smtp\n    backend: mial\n" BK,
         5, "listeners[0].backend", "no backend named \"mial\" (did you mean \"mail\"?)"},
        {"backend reference",
         "listeners:\n  - name: a\n    bind: \"0.0.0.0:25\"\n"
         "    protocol: smtp\n    backend: zzz\n" BK,
         5, "listeners[0].backend", "no backend named \"zzz\": define it under backends:"},
        {"sni backend reference", LT "    sni:\n      a.example: nope\n" BK, 6,
         "listeners[0].sni[\"a.example\"]", "no backend named \"nope\": define it under backends:"},
        {"sni on smtp", L1 "    sni:\n      a.example: mail\n" BK, 6, "listeners[0].sni",
         "only for protocol tls: a smtp listener has no ClientHello to route by"},
        {"default on smtp", L1 "    default: mail\n" BK, 6, "listeners[0].default",
         "only for protocol tls: use backend:"},
        {"tls without route", LT BK, 2, "listeners[0]",
         "protocol tls needs sni: or default: to know where to route"},
        {"tls empty sni", LT "    sni: {}\n" BK, 2, "listeners[0]",
         "protocol tls needs sni: or default: to know where to route"},
        {"default and backend", LT "    backend: mail\n    default: mail\n" BK, 6,
         "listeners[0].default", "default: is another name for backend:, give only one of them"},
        {"sni pattern", LT "    sni:\n      \"mail.*.example\": mail\n" BK, 6,
         "listeners[0].sni[\"mail.*.example\"]",
         "expected a host name or a *.domain pattern (the \"*\" only as the whole first label)"},
        {"sni duplicate", LT "    sni:\n      A.example: mail\n      a.example: mail\n" BK, 7,
         "listeners[0].sni[\"a.example\"]", "duplicate pattern (first at line 6)"},
        {"sni entry key", LT "    sni:\n      a.example: {backend: mail, alpn: [h2], x: 1}\n" BK, 6,
         "listeners[0].sni[\"a.example\"]", "unknown key \"x\": expected one of backend, alpn"},
        {"sni entry backend", LT "    sni:\n      a.example: {alpn: [h2]}\n" BK, 6,
         "listeners[0].sni[\"a.example\"]", "missing key \"backend\""},
        {"sni routes, two plain", LT "    sni:\n      a.example: [mail, {backend: mail}]\n" BK, 6,
         "listeners[0].sni[\"a.example\"]",
         "more than one route without alpn: only the first would be used"},
        {"sni routes, empty", LT "    sni:\n      a.example: []\n" BK, 6,
         "listeners[0].sni[\"a.example\"]", "expected at least one backend"},
        {"sni routes, bad item",
         LT "    sni:\n      a.example:\n        - {backend: mail, alpn: [h2]}\n"
            "        - [mail]\n" BK,
         8, "listeners[0].sni[\"a.example\"][1]", "expected a name, got a list"},
        {"alpn empty", LT "    sni:\n      a.example: {backend: mail, alpn: []}\n" BK, 6,
         "listeners[0].sni[\"a.example\"].alpn", "expected at least one protocol id"},
        {"client_hello on smtp", L1 "    timeouts:\n      client_hello: 5s\n" BK, 7,
         "listeners[0].timeouts.client_hello",
         "only for protocol tls: mail protocols send no ClientHello"},
        {"proxy_tlvs without v2", L1 BK "    proxy_protocol: v1\n    proxy_tlvs: [alpn]\n", 10,
         "backends.mail.proxy_tlvs",
         "proxy_tlvs needs proxy_protocol: v2 (only PROXY v2 carries TLVs)"},
        {"empty servers", L1 "backends:\n  mail:\n    servers: []\n", 8, "backends.mail.servers",
         "expected 1 to 64 servers, got 0"},
        {"servers not a list", L1 "backends:\n  mail:\n    servers: \"m:25\"\n", 8,
         "backends.mail.servers",
         "expected a list of servers like [\"mail.example.com:25\"], got \"m:25\""},
        {"server address", L1 "backends:\n  mail:\n    servers: [\"mail.example\"]\n", 8,
         "backends.mail.servers[0]", "missing port in \"mail.example\": write mail.example:PORT"},
        {"server port 0", L1 "backends:\n  mail:\n    servers:\n      - address: \"m:0\"\n", 9,
         "backends.mail.servers[0].address",
         "bad port \"0\" in \"m:0\": expected a number from 1 to 65535"},
        {"source", L1 BK "    source: \"1.2.3.4:5\"\n", 9, "backends.mail.source",
         "expected an IP address (no port), got \"1.2.3.4:5\""},
        {"interface", L1 BK "    interface: a/b\n", 9, "backends.mail.interface",
         "expected a network interface name (at most 15 characters), got \"a/b\""},
        {"interface long", L1 BK "    interface: abcdefghijklmnop\n", 9, "backends.mail.interface",
         "expected a network interface name (at most 15 characters), got \"abcdefghijklmnop\""},
        {"cidr host bits", L1 BK "allow: [\"10.0.0.1/8\"]\n", 9, "allow[0]",
         "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?"},
        {"cidr trusted", L1 BK "trusted_proxies:\n  - 192.0.2.0/24\n  - 300.1.1.1\n", 11,
         "trusted_proxies[1]", "\"300.1.1.1\" is not an IP address or network"},
        {"cidr not a list", L1 BK "allow: 10.0.0.0/8\n", 9, "allow",
         "expected a list of addresses or networks like [\"10.0.0.0/8\"], got \"10.0.0.0/8\""},
        {"admin token", L1 BK "admin:\n  token: abc\n", 10, "admin.token",
         "too short: use at least 16 characters, e.g. from openssl rand -hex 16"},
        {"admin bind clash", L1 BK "admin:\n  bind: \"0.0.0.0:25\"\n  token: 0123456789abcdef\n", 10, "admin.bind",
         "\"0.0.0.0:25\" is already bound by listener \"smtp\" (line 2)"},
        {"admin bind", L1 BK "admin:\n  bind: \"localhost:9180\"\n", 10, "admin.bind",
         "\"localhost\" is not an IP address: a listen address is literal, like 127.0.0.1:25 or "
         "[::1]:25"},
        {"alias", L1 BK "state: &a x\nuser: *a\n", 10, "",
         "yaml aliases are not supported: write the value out"},
        {"tag", L1 BK "state: !!str x\n", 9, "",
         "yaml tags are not supported: remove the \"!\" tag"},
        {"two documents", L1 BK "---\nstate: x\n", 9, "",
         "more than one yaml document: put everything in one"},
};

static void test_errors(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(errs); i++) {
		tw_diags_t d = {0};
		tw_config_t *c = load(errs[i].yaml, &d);
		bool ok = !c && d.n == 1 && strcmp(d.v[0].file, "t.yaml") == 0 &&
		          d.v[0].line == errs[i].line && strcmp(d.v[0].field, errs[i].field) == 0 &&
		          strcmp(d.v[0].msg, errs[i].msg) == 0;
		if (!ok) {
			fprintf(stderr, "case \"%s\": want t.yaml:%d: [%s] [%s], got %zu:\n",
			        errs[i].what, errs[i].line, errs[i].field, errs[i].msg, d.n);
			for (size_t j = 0; j < d.n; j++)
				fprintf(stderr, "  %s:%d: [%s] [%s]\n", d.v[j].file, d.v[j].line,
				        d.v[j].field, d.v[j].msg);
			tw_config_free(c);
			tw_diags_release(&d);
			fail_msg("case \"%s\"", errs[i].what);
		}
		tw_diags_release(&d);
	}
}

/* The keys the health checks, bans and admission read. */
static void test_health_bans_keys(void **state)
{
	const char *y = L1 "    sources: [\"100.64.0.0/10\"]\n"
	                   "    messages: {tempfail: \"421 4.3.2 later\", banned: \"554 5.7.1 no\"}\n"
	                   "backends:\n"
	                   "  mail:\n"
	                   "    servers: [\"mail.example:25\"]\n"
	                   "    health: {type: smtp, interval: 3s, timeout: 1s, rise: 1, fall: 2}\n"
	                   "    required: true\n"
	                   "  db:\n"
	                   "    servers: [\"db.example:5432\"]\n"
	                   "    required: true\n"
	                   "bans:\n"
	                   "  time: 5m\n"
	                   "  max_time: 1d\n"
	                   "  ipv6_prefix: 56\n"
	                   "  rate: {count: 30, window: 1m}\n"
	                   "  log_ban:\n"
	                   "    - {file: /var/log/mail.log, pattern: \"authentication failed.*\\\\[<ADDR>\\\\]\"}\n";
	tw_diags_t d = {0};
	tw_config_t *c = load(y, &d);
	print_diags(&d);
	assert_non_null(c);
	const tw_cfg_listener_t *l = &c->listeners[0];
	assert_int_equal(l->n_sources, 1);
	assert_string_equal(l->msg_tempfail, "421 4.3.2 later");
	assert_string_equal(l->msg_banned, "554 5.7.1 no");
	const tw_cfg_backend_t *m = tw_config_backend(c, "mail"), *db = tw_config_backend(c, "db");
	assert_true(m->health.enabled);
	assert_int_equal(m->health.type, 1);
	assert_int_equal(m->health.interval_ms, 3000);
	assert_int_equal(m->health.timeout_ms, 1000);
	assert_int_equal(m->health.rise, 1);
	assert_int_equal(m->health.fall, 2);
	assert_true(m->required);
	assert_false(m->dependency);
	/* No listener routes to db: a dependency, checked with tcp by default. */
	assert_true(db->dependency);
	assert_true(db->required);
	assert_true(db->health.enabled);
	assert_int_equal(db->health.type, 0);
	assert_int_equal(c->bans.ban_ms, 300000);
	assert_int_equal(c->bans.max_ban_ms, 86400000);
	assert_int_equal(c->bans.v6_prefix, 56);
	assert_int_equal(c->bans.v4_prefix, 32);
	assert_true(c->bans.rate.enabled);
	assert_int_equal(c->bans.rate.count, 30);
	assert_false(c->bans.early_close.enabled);
	assert_int_equal(c->bans.n_log_ban, 1);
	assert_string_equal(c->bans.log_ban[0].file, "/var/log/mail.log");
	tw_config_free(c);
	tw_diags_release(&d);
}

static void test_syntax_error(void **state)
{
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load("tests/unit/configs/syntax.yaml", &d);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, "tests/unit/configs/syntax.yaml");
	assert_int_equal(d.v[0].line, 4);
	assert_string_equal(d.v[0].field, "");
	assert_true(strncmp(d.v[0].msg, "yaml syntax error: ", 19) == 0);
	char buf[512];
	tw_diag_format(&d.v[0], buf, sizeof(buf));
	assert_true(strncmp(buf, "tests/unit/configs/syntax.yaml:4: yaml syntax error: ", 53) == 0);
	tw_diags_release(&d);

	/* An unclosed flow list: reported, with a line, and nothing else. */
	c = load(L1 BK "timeouts:\n  connect: [5s\n", &d);
	assert_null(c);
	assert_int_equal(d.n, 1);
	assert_true(d.v[0].line >= 10);
	assert_true(strncmp(d.v[0].msg, "yaml syntax error: ", 19) == 0);
	tw_diags_release(&d);
}

static void test_many_errors(void **state)
{
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load("tests/unit/configs/many_errors.yaml", &d);
	assert_null(c);
	assert_int_equal(d.n, 3);
	/* In file order even though backends are read before listeners. */
	assert_int_equal(d.v[0].line, 5);
	assert_string_equal(d.v[0].field, "listeners[0].backend");
	assert_string_equal(d.v[0].msg, "no backend named \"mial\" (did you mean \"mail\"?)");
	assert_int_equal(d.v[1].line, 9);
	assert_string_equal(d.v[1].field, "backends.mail.proxy_protocol");
	assert_int_equal(d.v[2].line, 11);
	assert_string_equal(d.v[2].field, "timeouts.connect");
	for (size_t i = 0; i < d.n; i++)
		assert_string_equal(d.v[i].file, "tests/unit/configs/many_errors.yaml");
	tw_diags_release(&d);
}

static void test_too_many_errors(void **state)
{
	char *text = malloc(64 * 1024);
	size_t o = (size_t)snprintf(text, 64 * 1024, "%s%s", L1, BK);
	for (int i = 0; i < 150; i++)
		o += (size_t)snprintf(text + o, 64 * 1024 - o, "bogus%d: 1\n", i);
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load_string("t.yaml", text, o, &d);
	assert_null(c);
	assert_int_equal(d.n, 101);
	assert_string_equal(d.v[100].msg, "too many errors (150): fix these first");
	assert_int_equal(d.v[99].line, 108);
	free(text);
	tw_diags_release(&d);
}

static void test_server_limit(void **state)
{
	for (int n = TW_CFG_MAX_SERVERS; n <= TW_CFG_MAX_SERVERS + 1; n++) {
		char text[8192];
		size_t o = (size_t)snprintf(text, sizeof(text),
		                            "%sbackends:\n  mail:\n    servers:\n", L1);
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
			                      "      - \"m%d.example:25\"\n", i);
		tw_diags_t d = {0};
		tw_config_t *c = tw_config_load_string("t.yaml", text, o, &d);
		if (n == TW_CFG_MAX_SERVERS) {
			assert_non_null(c);
			assert_int_equal(c->backends[0].n_servers, TW_CFG_MAX_SERVERS);
		} else {
			assert_null(c);
			assert_int_equal(d.n, 1);
			assert_int_equal(d.v[0].line, 8);
			assert_string_equal(d.v[0].msg, "expected 1 to 64 servers, got 65");
		}
		tw_config_free(c);
		tw_diags_release(&d);
	}
}

/* A caller may collect diags from several places in one list. */
static void test_diags_appended(void **state)
{
	tw_diags_t d = {0};
	tw_diag_add(&d, "other", 1, "", "earlier problem");
	tw_config_t *c = load(L1 BK, &d);
	assert_non_null(c);
	assert_int_equal(d.n, 1);
	tw_config_free(c);
	c = load(L1 BK "maxconn: x\n", &d);
	assert_null(c);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.v[0].msg, "earlier problem");
	assert_string_equal(d.v[1].field, "maxconn");
	tw_diags_release(&d);
	/* No list at all is allowed too. */
	c = tw_config_load_string("t.yaml", "x: 1", 4, NULL);
	assert_null(c);
}

static void test_file_errors(void **state)
{
	tw_diags_t d = {0};
	assert_null(tw_config_load("tests/unit/configs/does-not-exist.yaml", &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].file, "tests/unit/configs/does-not-exist.yaml");
	assert_int_equal(d.v[0].line, 0);
	assert_string_equal(d.v[0].msg, "cannot open: No such file or directory");
	tw_diags_release(&d);
	assert_null(tw_config_load("tests/unit/configs", &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, "cannot read: Is a directory");
	tw_diags_release(&d);

	size_t big = (1u << 20) + 1;
	char *text = malloc(big);
	memset(text, ' ', big);
	assert_null(tw_config_load_string("t.yaml", text, big, &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, "file too large: the limit is 1048576 bytes");
	free(text);
	tw_diags_release(&d);
}

static void test_examples(void **state)
{
	glob_t g;
	assert_int_equal(glob("examples/*.yaml", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 2);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		tw_diags_t d = {0};
		tw_config_t *c = tw_config_load(g.gl_pathv[i], &d);
		if (!c || d.n) {
			print_diags(&d);
			fail_msg("%s does not load", g.gl_pathv[i]);
		}
		assert_true(c->n_listeners >= 1);
		tw_config_free(c);
		tw_diags_release(&d);
	}
	globfree(&g);

	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load("examples/tailwart.yaml", &d);
	assert_non_null(c);
	assert_int_equal(c->n_listeners, 7);
	static const struct {
		const char *name;
		tw_proto_t proto;
		uint16_t port;
	} want[] = {
	        {"smtp", TW_PROTO_SMTP, 25},
	        {"submissions", TW_PROTO_SUBMISSIONS, 465},
	        {"submission", TW_PROTO_SUBMISSION, 587},
	        {"imaps", TW_PROTO_IMAPS, 993},
	        {"pop3s", TW_PROTO_POP3S, 995},
	        {"sieve", TW_PROTO_SIEVE, 4190},
	        {"https", TW_PROTO_TLS, 443},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(want); i++) {
		const tw_cfg_listener_t *l = &c->listeners[i];
		assert_string_equal(l->name, want[i].name);
		assert_int_equal(l->proto, want[i].proto);
		assert_int_equal(l->n_binds, 2);
		assert_int_equal(l->binds[0].ss_family, AF_INET);
		assert_int_equal(l->binds[1].ss_family, AF_INET6);
		assert_int_equal(tw_addr_port((struct sockaddr *)&l->binds[0]), want[i].port);
		assert_int_equal(tw_addr_port((struct sockaddr *)&l->binds[1]), want[i].port);
		if (l->proto == TW_PROTO_TLS) {
			assert_int_equal(l->n_sni, 4);
			for (size_t j = 0; j < l->n_sni; j++) {
				const tw_cfg_backend_t *b = tw_config_backend(c, l->sni[j].backend);
				assert_non_null(b);
				assert_int_equal(b->proxy, TW_PROXY_NONE);
				assert_string_equal(b->servers[0].host, "stalwart.tail0000.ts.net");
				assert_int_equal(b->servers[0].port, 443);
			}
		} else {
			const tw_cfg_backend_t *b = tw_config_backend(c, l->backend);
			assert_non_null(b);
			assert_int_equal(b->proxy, TW_PROXY_V2);
			assert_string_equal(b->servers[0].host, "stalwart.tail0000.ts.net");
			assert_int_equal(b->servers[0].port, want[i].port);
		}
	}
	tw_config_free(c);
	tw_diags_release(&d);
}

/* One pattern may route by ALPN: a list of routes, config order kept. */
static void test_sni_routes(void **state)
{
	tw_diags_t d = {0};
	tw_config_t *c = load(LT "    default: mail\n"
	                         "    sni:\n"
	                         "      \"*.Example.com\":\n"
	                         "        - {backend: h2, alpn: [h2]}\n"
	                         "        - {backend: old, alpn: [\"http/1.1\", \"http/1.0\"]}\n"
	                         "        - mail\n"
	                         "      mail.example.com.: mail\n" BK
	                         "  h2: {servers: [\"h2.example:443\"]}\n"
	                         "  old: {servers: [\"old.example:443\"]}\n",
	                      &d);
	print_diags(&d);
	assert_non_null(c);
	const tw_cfg_listener_t *l = &c->listeners[0];
	assert_string_equal(l->backend, "mail");
	assert_int_equal(l->n_sni, 4);
	static const struct {
		const char *pattern, *backend, *alpn0;
		int line;
	} want[] = {
	        {"*.example.com", "h2", "h2", 8},
	        {"*.example.com", "old", "http/1.1", 9},
	        {"*.example.com", "mail", NULL, 10},
	        {"mail.example.com", "mail", NULL, 11},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(want); i++) {
		const tw_cfg_sni_t *s = &l->sni[i];
		assert_string_equal(s->pattern, want[i].pattern);
		assert_string_equal(s->backend, want[i].backend);
		assert_int_equal(s->line, want[i].line);
		if (want[i].alpn0)
			assert_string_equal(s->alpn[0], want[i].alpn0);
		else
			assert_null(s->alpn);
	}
	assert_string_equal(l->sni[1].alpn[1], "http/1.0");
	assert_null(l->sni[1].alpn[2]);
	tw_config_free(c);
	tw_diags_release(&d);
}

/* ---- protocols ---- */

static void test_protocols(void **state)
{
	static const struct {
		const char *name;
		tw_proto_t p;
		bool mail;
	} t[] = {
	        {"tcp", TW_PROTO_TCP, false},
	        {"smtp", TW_PROTO_SMTP, true},
	        {"submission", TW_PROTO_SUBMISSION, true},
	        {"submissions", TW_PROTO_SUBMISSIONS, true},
	        {"imap", TW_PROTO_IMAP, true},
	        {"imaps", TW_PROTO_IMAPS, true},
	        {"pop3", TW_PROTO_POP3, true},
	        {"pop3s", TW_PROTO_POP3S, true},
	        {"sieve", TW_PROTO_SIEVE, true},
	        {"tls", TW_PROTO_TLS, false},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(t); i++) {
		tw_proto_t p;
		assert_string_equal(tw_proto_name(t[i].p), t[i].name);
		assert_int_equal(tw_proto_is_mail(t[i].p), t[i].mail);
		assert_int_equal(tw_proto_parse(t[i].name, &p), 0);
		assert_int_equal(p, t[i].p);
	}
	tw_proto_t p;
	assert_int_equal(tw_proto_parse("SMTP", &p), TW_EINVAL);
	assert_int_equal(tw_proto_parse("https", &p), TW_EINVAL);
	assert_string_equal(tw_proto_name((tw_proto_t)99), "?");
	assert_false(tw_proto_is_mail((tw_proto_t)99));
}

static void test_idle_ms(void **state)
{
	tw_config_t *c = tw_config_new_default();
	c->smtp_idle_ms = 1;
	c->imap_idle_ms = 2;
	c->pop3_idle_ms = 3;
	c->sieve_idle_ms = 4;
	c->tcp_idle_ms = 5;
	static const struct {
		tw_proto_t p;
		uint64_t ms;
	} t[] = {
	        {TW_PROTO_SMTP, 1},  {TW_PROTO_SUBMISSION, 1}, {TW_PROTO_SUBMISSIONS, 1},
	        {TW_PROTO_IMAP, 2},  {TW_PROTO_IMAPS, 2},      {TW_PROTO_POP3, 3},
	        {TW_PROTO_POP3S, 3}, {TW_PROTO_SIEVE, 4},      {TW_PROTO_TLS, 5},
	        {TW_PROTO_TCP, 5},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(t); i++) {
		tw_cfg_listener_t l = {.proto = t[i].p};
		assert_int_equal(tw_config_idle_ms(c, &l), t[i].ms);
		l.idle_timeout_ms = 99;
		assert_int_equal(tw_config_idle_ms(c, &l), 99);
	}
	tw_config_free(c);
}

/* ---- quick mode ---- */

static void test_quick_smtp(void **state)
{
	tw_config_t *c = tw_config_new_default();
	tw_diags_t d = {0};
	int r = tw_config_quick(c, "0.0.0.0:25,[::]:25", "mail.example:2525", "v2", "smtp", NULL, 0,
	                        &d);
	print_diags(&d);
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	assert_null(c->path);
	assert_int_equal(c->n_listeners, 1);
	const tw_cfg_listener_t *l = &c->listeners[0];
	assert_string_equal(l->name, "quick");
	assert_int_equal(l->proto, TW_PROTO_SMTP);
	assert_int_equal(l->n_binds, 2);
	assert_string_equal(l->bind_texts[1], "[::]:25");
	assert_string_equal(l->backend, "mail.example:2525");
	assert_int_equal(l->hello_timeout_ms, 5000);
	assert_int_equal(l->proxy_timeout_ms, 3000);
	assert_int_equal(c->n_backends, 1);
	const tw_cfg_backend_t *b = tw_config_backend(c, "mail.example:2525");
	assert_non_null(b);
	assert_int_equal(b->proxy, TW_PROXY_V2);
	assert_true(b->tlv_authority);
	assert_true(b->tlv_alpn);
	assert_int_equal(b->n_servers, 1);
	assert_string_equal(b->servers[0].host, "mail.example");
	assert_int_equal(b->servers[0].port, 2525);
	check_defaults(c);

	/* A second quick listener would have the same name. */
	r = tw_config_quick(c, "0.0.0.0:26", "mail.example:25", NULL, NULL, NULL, 0, &d);
	assert_int_equal(r, TW_EINVAL);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].field, "--listen");
	assert_string_equal(d.v[0].msg, "a listener named \"quick\" already exists");
	assert_int_equal(c->n_listeners, 1);
	assert_int_equal(c->n_backends, 1);
	tw_config_free(c);
	tw_diags_release(&d);
}

static void test_quick_defaults_and_sni(void **state)
{
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_new_default();
	assert_int_equal(tw_config_quick(c, "127.0.0.1:0", "[::1]:8080", NULL, NULL, NULL, 0, &d),
	                 0);
	assert_int_equal(c->listeners[0].proto, TW_PROTO_TCP); /* no --sni, no --protocol */
	assert_int_equal(c->backends[0].proxy, TW_PROXY_NONE);
	assert_string_equal(c->backends[0].servers[0].host, "::1");
	tw_config_free(c);

	const char *sni[] = {"MTA-STS.example.com=web.example:443", "*.example.com=web.example:443",
	                     "imap.example.com=mail.example:993"};
	c = tw_config_new_default();
	assert_int_equal(tw_config_quick(c, "[::]:443", "web.example:443", "v1", NULL, sni, 3, &d),
	                 0);
	print_diags(&d);
	const tw_cfg_listener_t *l = &c->listeners[0];
	assert_int_equal(l->proto, TW_PROTO_TLS);
	assert_string_equal(l->backend, "web.example:443");
	assert_int_equal(l->n_sni, 3);
	assert_string_equal(l->sni[0].pattern, "mta-sts.example.com");
	assert_string_equal(l->sni[0].backend, "web.example:443");
	assert_string_equal(l->sni[2].backend, "mail.example:993");
	assert_int_equal(c->n_backends, 2); /* one per distinct target */
	assert_int_equal(tw_config_backend(c, "mail.example:993")->proxy, TW_PROXY_V1);
	tw_config_free(c);

	/* --sni without --to: no default route. */
	c = tw_config_new_default();
	assert_int_equal(tw_config_quick(c, "[::]:443", NULL, NULL, "tls", sni + 2, 1, &d), 0);
	assert_null(c->listeners[0].backend);
	assert_int_equal(c->n_backends, 1);
	tw_config_free(c);
	assert_int_equal(d.n, 0);
	tw_diags_release(&d);
}

static void test_quick_errors(void **state)
{
	static const char *const bad_sni[] = {"noequals"};
	static const char *const bad_pat[] = {"a b=web:443"};
	static const char *const bad_tgt[] = {"a.example=web"};
	static const char *const twice[] = {"a.example=w:1", "A.example=w:2"};
	static const struct {
		const char *listen, *to, *proxy, *proto;
		const char *const *sni;
		size_t n_sni;
		const char *field, *msg;
	} t[] = {
	        {NULL, "m:25", NULL, NULL, NULL, 0, "--listen",
	         "missing: give an address like 0.0.0.0:25 or [::]:443"},
	        {"", "m:25", NULL, NULL, NULL, 0, "--listen",
	         "missing: give an address like 0.0.0.0:25 or [::]:443"},
	        {"localhost:25", "m:25", NULL, NULL, NULL, 0, "--listen",
	         "\"localhost\" is not an IP address: a listen address is literal, like "
	         "127.0.0.1:25 "
	         "or [::1]:25"},
	        {"0.0.0.0:25,0.0.0.0:25", "m:25", NULL, NULL, NULL, 0, "--listen",
	         "\"0.0.0.0:25\" is listed twice"},
	        {"0.0.0.0:25", NULL, NULL, NULL, NULL, 0, "--to",
	         "missing: give the backend as HOST:PORT"},
	        {"0.0.0.0:25", "m", NULL, NULL, NULL, 0, "--to",
	         "missing port in \"m\": write m:PORT"},
	        {"0.0.0.0:25", "m:25", "v3", NULL, NULL, 0, "--proxy",
	         "expected one of none, v1, v2, got \"v3\""},
	        {"0.0.0.0:25", "m:25", NULL, "smtps", NULL, 0, "--protocol",
	         "expected one of smtp, submission, submissions, imap, imaps, pop3, pop3s, sieve, "
	         "tls, "
	         "tcp, got \"smtps\""},
	        {"0.0.0.0:443", "m:25", NULL, "smtp", bad_pat, 1, "--sni",
	         "only for protocol tls, not smtp"},
	        {"0.0.0.0:443", NULL, NULL, NULL, bad_sni, 1, "--sni",
	         "expected NAME=HOST:PORT, got \"noequals\""},
	        {"0.0.0.0:443", NULL, NULL, NULL, bad_pat, 1, "--sni",
	         "\"a b\" is not a host name or *.domain pattern"},
	        {"0.0.0.0:443", NULL, NULL, NULL, bad_tgt, 1, "--sni",
	         "missing port in \"web\": write web:PORT"},
	        {"0.0.0.0:443", NULL, NULL, NULL, twice, 2, "--sni",
	         "\"a.example\" is given twice"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(t); i++) {
		tw_config_t *c = tw_config_new_default();
		tw_diags_t d = {0};
		int r = tw_config_quick(c, t[i].listen, t[i].to, t[i].proxy, t[i].proto, t[i].sni,
		                        t[i].n_sni, &d);
		if (r != TW_EINVAL || d.n != 1 || strcmp(d.v[0].field, t[i].field) != 0 ||
		    strcmp(d.v[0].msg, t[i].msg) != 0) {
			print_diags(&d);
			fail_msg("case %zu: r=%d want %s: %s", i, r, t[i].field, t[i].msg);
		}
		assert_int_equal(d.v[0].line, 0);
		assert_int_equal(c->n_listeners, 0); /* c left as it was */
		assert_int_equal(c->n_backends, 0);
		tw_config_free(c);
		tw_diags_release(&d);
	}

	/* All problems are reported, not only the first. */
	tw_config_t *c = tw_config_new_default();
	tw_diags_t d = {0};
	assert_int_equal(tw_config_quick(c, "x", "y", "z", NULL, NULL, 0, &d), TW_EINVAL);
	assert_int_equal(d.n, 3);
	/* Without a list the result alone tells. */
	assert_int_equal(tw_config_quick(c, "x", "y", "z", NULL, NULL, 0, NULL), TW_EINVAL);
	assert_int_equal(tw_config_quick(c, "[::1]:1", "y:2", NULL, NULL, NULL, 0, NULL), 0);
	tw_config_free(c);
	tw_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_health_bans_keys),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_syntax_error),
	        cmocka_unit_test(test_many_errors),
	        cmocka_unit_test(test_too_many_errors),
	        cmocka_unit_test(test_server_limit),
	        cmocka_unit_test(test_diags_appended),
	        cmocka_unit_test(test_file_errors),
	        cmocka_unit_test(test_examples),
	        cmocka_unit_test(test_sni_routes),
	        cmocka_unit_test(test_protocols),
	        cmocka_unit_test(test_idle_ms),
	        cmocka_unit_test(test_quick_smtp),
	        cmocka_unit_test(test_quick_defaults_and_sni),
	        cmocka_unit_test(test_quick_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
