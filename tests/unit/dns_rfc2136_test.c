/*
 * dns_rfc2136_test.c - the rfc2136 provider against a real Knot DNS server.
 *
 * The group setup writes a private knot.conf into a mkdtemp dir (its own
 * rundir, database and zone files; listening on 127.0.0.1 and ::1 at a
 * free port), with fresh random TSIG secrets per run, starts knotd as a
 * child and waits until it answers; the teardown sends it SIGTERM.
 * Keys:
 *   tw-key.      hmac-sha256, may update and transfer example.test.
 *   tw-noxfr.    hmac-sha256, may update but not transfer
 *   k-<alg>.     one per algorithm, may transfer (checks our HMAC for each)
 * No key may transfer closed.test.
 * Tests run in order and use distinct names, so each sees a known zone.
 */
#include "util/tw.h"

#include "dns/provider.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <cmocka.h>

#define ORIGIN "example.test."

static const char *const algs[] = {"hmac-md5",    "hmac-sha1",   "hmac-sha224",
                                   "hmac-sha256", "hmac-sha384", "hmac-sha512"};

static struct {
	char dir[64];
	int port;
	pid_t pid;
	char server[64];
	tw_dns_tsig_t key, noxfr, wrong, unknown;
	tw_dns_tsig_t alg_keys[6];
} K;

/* ---- helpers ---------------------------------------------------------------- */

static void random_secret(char *out, size_t size)
{
	unsigned char raw[32];
	unsigned char b64[64];

	assert_int_equal(getrandom(raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
	int n = EVP_EncodeBlock(b64, raw, sizeof(raw));
	assert_true(n > 0 && (size_t)n < size);
	memcpy(out, b64, (size_t)n + 1);
}

static void make_key(tw_dns_tsig_t *k, const char *name, const char *alg)
{
	memset(k, 0, sizeof(*k));
	tw_strlcpy(k->name, name, sizeof(k->name));
	tw_strlcpy(k->alg, alg, sizeof(k->alg));
	random_secret(k->secret, sizeof(k->secret));
}

/* A port free on 127.0.0.1 and ::1 for both TCP and UDP, by the kernel's choice. */
static int free_port(void)
{
	for (int tries = 0; tries < 20; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(0x7f000001)};
		socklen_t l = sizeof(a);
		assert_true(fd >= 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
		close(fd);
		int port = ntohs(a.sin_port);
		int ok = 1;
		int types[] = {SOCK_DGRAM, SOCK_STREAM};
		for (int t = 0; t < 2 && ok; t++) {
			int u = socket(AF_INET6, types[t], 0);
			struct sockaddr_in6 b = {.sin6_family = AF_INET6,
			                         .sin6_port = htons((uint16_t)port)};
			b.sin6_addr = in6addr_loopback;
			ok = u >= 0 && bind(u, (struct sockaddr *)&b, sizeof(b)) == 0;
			if (u >= 0)
				close(u);
			int v = socket(AF_INET, types[t], 0);
			a.sin_port = htons((uint16_t)port);
			ok = ok && v >= 0 && bind(v, (struct sockaddr *)&a, sizeof(a)) == 0;
			if (v >= 0)
				close(v);
		}
		if (ok)
			return port;
	}
	fail_msg("no free port");
	return -1;
}

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* First line of a command's output, or "" . */
static void run_out(const char *cmd, char *out, size_t size)
{
	FILE *f = popen(cmd, "r");
	out[0] = '\0';
	assert_non_null(f);
	if (!fgets(out, (int)size, f))
		out[0] = '\0';
	pclose(f);
	out[strcspn(out, "\n")] = '\0';
}

static void write_zone(const char *origin)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/zones/%szone", K.dir, origin);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "$ORIGIN %s\n$TTL 300\n"
	        "@ SOA ns1 hostmaster 1 3600 900 604800 300\n"
	        "@ NS ns1\n@ NS ns2.example.net.\n"
	        "ns1 A 127.0.0.1\n"
	        "www 600 A 192.0.2.10\n"
	        "race A 192.0.2.30\n"
	        "@ TXT \"v=spf1 -all\"\n"
	        "sub NS ns.sub\nns.sub A 192.0.2.53\n",
	        origin);
	fclose(f);
}

static void key_conf(FILE *f, const tw_dns_tsig_t *k)
{
	fprintf(f, "  - id: %s\n    algorithm: %s\n    secret: %s\n", k->name, k->alg, k->secret);
}

static int knot_setup(void **state)
{
	char path[160], cmd[512];
	(void)state;

	if (run("command -v knotd >/dev/null") != 0) {
		print_message("knotd is not installed (apt-get install knot)\n");
		return -1;
	}
	snprintf(K.dir, sizeof(K.dir), "/tmp/tw-knot-XXXXXX");
	assert_non_null(mkdtemp(K.dir));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/run %s/db %s/zones", K.dir, K.dir, K.dir);
	assert_int_equal(run(cmd), 0);
	K.port = free_port();
	snprintf(K.server, sizeof(K.server), "127.0.0.1:%d", K.port);

	make_key(&K.key, "tw-key.", "hmac-sha256");
	make_key(&K.noxfr, "tw-noxfr.", "hmac-sha256");
	make_key(&K.unknown, "tw-unknown.", "hmac-sha256");
	K.wrong = K.key;
	random_secret(K.wrong.secret, sizeof(K.wrong.secret));
	for (size_t i = 0; i < TW_ARRAY_LEN(algs); i++) {
		char n[32];
		snprintf(n, sizeof(n), "k-%s.", algs[i]);
		make_key(&K.alg_keys[i], n, algs[i]);
	}
	write_zone(ORIGIN);
	write_zone("closed.test.");
	/* big.test.: a transfer of many messages (TSIG over each, RFC 8945 5.3.1). */
	snprintf(path, sizeof(path), "%s/zones/big.test.zone", K.dir);
	FILE *bz = fopen(path, "w");
	assert_non_null(bz);
	fprintf(bz, "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n"
	            "@ NS ns1\nns1 A 127.0.0.1\n");
	for (int i = 0; i < 3000; i++)
		fprintf(bz, "r%d TXT \"%0200d\"\n", i, i);
	fclose(bz);

	snprintf(path, sizeof(path), "%s/knot.conf", K.dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "server:\n  rundir: \"%s/run\"\n  listen: [ 127.0.0.1@%d, ::1@%d ]\n"
	        "database:\n  storage: \"%s/db\"\n"
	        "log:\n  - target: \"%s/knot.log\"\n    any: info\n"
	        "key:\n",
	        K.dir, K.port, K.port, K.dir, K.dir);
	key_conf(f, &K.key);
	key_conf(f, &K.noxfr);
	for (size_t i = 0; i < TW_ARRAY_LEN(algs); i++)
		key_conf(f, &K.alg_keys[i]);
	fprintf(f, "acl:\n  - id: rw\n    key: [tw-key.]\n    action: [update, transfer]\n"
	           "  - id: upd\n    key: [tw-noxfr.]\n    action: update\n"
	           "  - id: algs\n    key: [");
	for (size_t i = 0; i < TW_ARRAY_LEN(algs); i++)
		fprintf(f, "%sk-%s.", i ? ", " : "", algs[i]);
	fprintf(f,
	        "]\n    action: transfer\n"
	        "template:\n  - id: default\n    storage: \"%s/zones\"\n    file: \"%%s.zone\"\n"
	        "    zonefile-sync: -1\n    journal-content: changes\n"
	        "zone:\n  - domain: " ORIGIN "\n    acl: [rw, upd, algs]\n"
	        "  - domain: closed.test.\n    acl: [upd]\n"
	        "  - domain: big.test.\n    acl: [rw]\n",
	        K.dir);
	fclose(f);

	K.pid = fork();
	assert_true(K.pid >= 0);
	if (K.pid == 0) {
		char log[160];
		snprintf(log, sizeof(log), "%s/knotd.out", K.dir);
		if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
			_exit(126);
		execlp("knotd", "knotd", "-c", path, (char *)NULL);
		_exit(127);
	}
	/* Knot loads zones in the background: wait for the last one too. */
	snprintf(cmd, sizeof(cmd),
	         "for z in " ORIGIN " big.test.; do kdig +short +time=1 +retry=0 -p %d @127.0.0.1 "
	         "SOA $z 2>/dev/null | grep -q hostmaster || exit 1; done",
	         K.port);
	for (int i = 0; i < 100; i++) {
		if (run(cmd) == 0)
			return 0;
		if (waitpid(K.pid, NULL, WNOHANG) == K.pid) {
			K.pid = 0;
			break;
		}
		usleep(100000);
	}
	snprintf(cmd, sizeof(cmd), "tail -n 20 %s/knot.log %s/knotd.out >&2", K.dir, K.dir);
	run(cmd);
	fail_msg("knotd did not answer on %s", K.server);
	return -1;
}

static int knot_teardown(void **state)
{
	char cmd[128];
	(void)state;

	if (K.pid > 0) {
		kill(K.pid, SIGTERM);
		for (int i = 0; i < 50 && waitpid(K.pid, NULL, WNOHANG) == 0; i++)
			usleep(100000);
		kill(K.pid, SIGKILL);
		waitpid(K.pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", K.dir);
	run(cmd);
	return 0;
}

static tw_dns_provider_t *provider_for(const char *origin, const char *server,
                                       const tw_dns_tsig_t *key, long tmo)
{
	tw_dns_rfc2136_opts_t o = {.server = server, .key = key, .timeout_ms = tmo};
	tw_dns_provider_t *p = NULL;
	tw_dns_err_t err = {0};

	if (tw_dns_rfc2136_new(origin, &o, &p, &err) != 0)
		fail_msg("rfc2136_new: %s", err.msg);
	assert_string_equal(p->ops->name, "rfc2136");
	return p;
}

static tw_dns_provider_t *provider(const char *server, const tw_dns_tsig_t *key, long tmo)
{
	return provider_for(ORIGIN, server, key, tmo);
}

static int list(tw_dns_provider_t *p, tw_dns_zone_t *z, tw_dns_err_t *err)
{
	assert_int_equal(tw_dns_zone_init(z, ORIGIN), 0);
	memset(err, 0, sizeof(*err));
	return p->ops->list(p, z, err);
}

static const tw_dns_rr_t *find(const tw_dns_zone_t *z, const char *owner, uint16_t type,
                               const char *rdata)
{
	for (size_t i = 0; i < z->n; i++)
		if (strcmp(z->v[i].owner, owner) == 0 && z->v[i].type == type &&
		    (!rdata || strcmp(z->v[i].rdata, rdata) == 0))
			return &z->v[i];
	return NULL;
}

/* All live records of an RRset, for the "RRset exists" prerequisite. */
static size_t rrset(const tw_dns_zone_t *z, const char *owner, uint16_t type,
                    const tw_dns_rr_t **out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < z->n; i++)
		if (strcmp(z->v[i].owner, owner) == 0 && z->v[i].type == type && n < cap)
			out[n++] = &z->v[i];
	return n;
}

static void add_text(tw_dns_zone_t *z, const char *text)
{
	tw_diags_t d = {0};
	if (tw_dns_zone_add_text(z, text, NULL, 0, 0, &d) != 0)
		fail_msg("zone_add_text %s: %s", text, d.n ? d.v[0].msg : "?");
	tw_diags_release(&d);
}

static void kdig(const char *name, const char *type, char *out, size_t size)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "kdig +short -p %d @127.0.0.1 %s %s | sort | tr '\\n' ' '",
	         K.port, name, type);
	run_out(cmd, out, size);
}

/* No message may show any secret of this run. */
static void assert_no_secrets(const char *msg)
{
	const tw_dns_tsig_t *all[] = {&K.key, &K.noxfr, &K.wrong, &K.unknown};
	for (size_t i = 0; i < TW_ARRAY_LEN(all); i++)
		assert_null(strstr(msg, all[i]->secret));
	for (size_t i = 0; i < TW_ARRAY_LEN(algs); i++)
		assert_null(strstr(msg, K.alg_keys[i].secret));
}

/* ---- tests ------------------------------------------------------------------- */

static void test_semantics(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider(K.server, &K.key, 0);
	const tw_dns_sem_t *s = &p->ops->sem;

	assert_true(s->one_update);
	assert_false(s->append_by_value);
	assert_false(s->data_nocase);
	assert_int_equal(s->ttl_min, 0);
	assert_int_equal(s->ttl_max, 0);
	assert_int_equal(s->max_batch, 0);
	assert_null(p->ops->nameservers);
	assert_string_equal(p->origin, ORIGIN);
	tw_dns_provider_destroy(p);

	/* Server strings. */
	static const char *const good[] = {"127.0.0.1", "127.0.0.1:53",   "[::1]:5353",
	                                   "::1",       "localhost:1053", "ns1.example.net"};
	for (size_t i = 0; i < TW_ARRAY_LEN(good); i++) {
		tw_dns_rfc2136_opts_t o = {.server = good[i]};
		tw_dns_err_t err = {0};
		assert_int_equal(tw_dns_rfc2136_new("Example.TEST", &o, &p, &err), 0);
		assert_string_equal(p->origin, ORIGIN);
		tw_dns_provider_destroy(p);
	}
	static const char *const bad[] = {"",       "127.0.0.1:0", "127.0.0.1:65536", "[::1",
	                                  "[::1]x", "host:port",   "127.0.0.1:"};
	for (size_t i = 0; i < TW_ARRAY_LEN(bad); i++) {
		tw_dns_rfc2136_opts_t o = {.server = bad[i]};
		tw_dns_err_t err = {0};
		p = NULL;
		assert_true(tw_dns_rfc2136_new(ORIGIN, &o, &p, &err) < 0);
		assert_null(p);
		assert_int_equal(err.exit_code, 2);
	}
}

static void test_list_axfr(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider(K.server, &K.key, 0);
	tw_dns_zone_t z;
	tw_dns_err_t err;

	if (list(p, &z, &err) != 0)
		fail_msg("list: %s", err.msg);
	const tw_dns_rr_t *soa = find(&z, ORIGIN, LDNS_RR_TYPE_SOA, NULL);
	assert_non_null(soa);
	assert_true(soa->flags & TW_DNS_RR_UNMANAGED);
	assert_string_equal(soa->note, "SOA (the server keeps it)");
	const tw_dns_rr_t *ns = find(&z, ORIGIN, LDNS_RR_TYPE_NS, "ns2.example.net.");
	assert_non_null(ns);
	assert_true(ns->flags & TW_DNS_RR_UNMANAGED);
	assert_string_equal(ns->note, "apex NS (delegation; change at the registrar)");
	assert_non_null(find(&z, ORIGIN, LDNS_RR_TYPE_NS, "ns1.example.test."));
	/* A delegation below the apex is the user's to manage. */
	const tw_dns_rr_t *sub = find(&z, "sub.example.test.", LDNS_RR_TYPE_NS, NULL);
	assert_non_null(sub);
	assert_int_equal(sub->flags, 0);
	const tw_dns_rr_t *www = find(&z, "www.example.test.", LDNS_RR_TYPE_A, "192.0.2.10");
	assert_non_null(www);
	assert_int_equal(www->ttl, 600);
	assert_int_equal(www->flags, 0);
	assert_null(www->note);
	const tw_dns_rr_t *txt = find(&z, ORIGIN, LDNS_RR_TYPE_TXT, NULL);
	assert_non_null(txt);
	assert_string_equal(txt->txt, "v=spf1 -all");
	/* SOA once (not the closing copy), 2 NS, 5 others, glue for sub. */
	assert_int_equal(z.n, 1 + 2 + 1 + 1 + 1 + 1 + 1 + 1);
	tw_dns_zone_release(&z);

	/* Every TSIG algorithm: our HMAC must match Knot's for each. */
	for (size_t i = 0; i < TW_ARRAY_LEN(algs); i++) {
		tw_dns_provider_t *q = provider(K.server, &K.alg_keys[i], 0);
		if (list(q, &z, &err) != 0)
			fail_msg("list with %s: %s", algs[i], err.msg);
		assert_int_equal(z.n, 9);
		tw_dns_zone_release(&z);
		tw_dns_provider_destroy(q);
	}

	/* Over IPv6 and by name. */
	char s6[64], sn[64];
	snprintf(s6, sizeof(s6), "[::1]:%d", K.port);
	snprintf(sn, sizeof(sn), "localhost:%d", K.port);
	const char *servers[] = {s6, sn};
	for (size_t i = 0; i < 2; i++) {
		tw_dns_provider_t *q = provider(servers[i], &K.key, 0);
		if (list(q, &z, &err) != 0)
			fail_msg("list via %s: %s", servers[i], err.msg);
		assert_int_equal(z.n, 9);
		tw_dns_zone_release(&z);
		tw_dns_provider_destroy(q);
	}
	tw_dns_provider_destroy(p);
}

static void trace_count(void *ctx, const char *line)
{
	size_t msgs = 0;
	const char *m = strstr(line, " records in ");
	if (m && sscanf(m, " records in %zu messages", &msgs) == 1)
		*(size_t *)ctx = msgs;
}

/* A transfer of many messages: each is checked against the prior MAC. */
static void test_list_multi_message(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider_for("big.test.", K.server, &K.key, 0);
	tw_dns_zone_t z;
	tw_dns_err_t err = {0};
	size_t msgs = 0;

	p->trace = trace_count;
	p->trace_ctx = &msgs;
	assert_int_equal(tw_dns_zone_init(&z, "big.test."), 0);
	if (p->ops->list(p, &z, &err) != 0)
		fail_msg("list big.test.: %s", err.msg);
	assert_int_equal(z.n, 3 + 3000);
	assert_true(msgs > 5);
	const tw_dns_rr_t *last = NULL;
	for (size_t i = 0; i < z.n; i++)
		if (strcmp(z.v[i].owner, "r2999.big.test.") == 0)
			last = &z.v[i];
	assert_non_null(last);
	assert_int_equal(strlen(last->txt), 200);
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);

	/* A zone the server doesn't serve. */
	p = provider_for("nothere.test.", K.server, &K.key, 0);
	assert_int_equal(tw_dns_zone_init(&z, "nothere.test."), 0);
	assert_true(p->ops->list(p, &z, &err) < 0);
	print_message("  zone not served: %s\n", err.msg);
	assert_int_equal(err.exit_code, 3);
	assert_non_null(strstr(err.msg, "does not serve this zone"));
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);

	/* A wrong secret fails on the first message, not later. */
	p = provider_for("big.test.", K.server, &K.wrong, 0);
	assert_int_equal(tw_dns_zone_init(&z, "big.test."), 0);
	assert_true(p->ops->list(p, &z, &err) < 0);
	assert_int_equal(err.exit_code, 1);
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
}

static void test_update_applied(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider(K.server, &K.key, 0);
	tw_dns_zone_t live, want, again;
	tw_dns_err_t err;
	char out[256];

	if (list(p, &live, &err) != 0)
		fail_msg("list: %s", err.msg);
	assert_int_equal(tw_dns_zone_init(&want, ORIGIN), 0);
	add_text(&want, "www 900 IN A 192.0.2.20");
	add_text(&want, "www 900 IN A 192.0.2.21");
	add_text(&want, "_dmarc 300 IN TXT \"v=DMARC1; p=reject\"");

	const tw_dns_rr_t *pre[8], *dels[8], *adds[3] = {&want.v[0], &want.v[1], &want.v[2]};
	size_t npre = rrset(&live, "www.example.test.", LDNS_RR_TYPE_A, pre, 8);
	assert_int_equal(npre, 1);
	dels[0] = pre[0];
	tw_dns_rrset_key_t absent[1] = {{"_dmarc.example.test.", LDNS_RR_TYPE_TXT}};
	tw_dns_call_t c = {
	        .kind = TW_DNS_CALL_UPDATE,
	        .rrs = adds,
	        .n = 3,
	        .dels = dels,
	        .ndels = 1,
	        .pre = pre,
	        .npre = npre,
	        .absent = absent,
	        .nabsent = 1,
	};
	memset(&err, 0, sizeof(err));
	if (p->ops->call(p, &live, &c, &err) != 0)
		fail_msg("call: %s", err.msg);

	if (list(p, &again, &err) != 0)
		fail_msg("list: %s", err.msg);
	assert_null(find(&again, "www.example.test.", LDNS_RR_TYPE_A, "192.0.2.10"));
	const tw_dns_rr_t *n20 = find(&again, "www.example.test.", LDNS_RR_TYPE_A, "192.0.2.20");
	assert_non_null(n20);
	assert_int_equal(n20->ttl, 900);
	assert_non_null(find(&again, "www.example.test.", LDNS_RR_TYPE_A, "192.0.2.21"));
	const tw_dns_rr_t *dm = find(&again, "_dmarc.example.test.", LDNS_RR_TYPE_TXT, NULL);
	assert_non_null(dm);
	assert_string_equal(dm->txt, "v=DMARC1; p=reject");
	/* The SOA serial went up: the server keeps it. */
	const tw_dns_rr_t *s0 = find(&live, ORIGIN, LDNS_RR_TYPE_SOA, NULL);
	const tw_dns_rr_t *s1 = find(&again, ORIGIN, LDNS_RR_TYPE_SOA, NULL);
	assert_string_not_equal(s0->rdata, s1->rdata);

	/* And as any resolver sees it. */
	kdig("www." ORIGIN, "A", out, sizeof(out));
	assert_string_equal(out, "192.0.2.20 192.0.2.21 ");
	kdig("_dmarc." ORIGIN, "TXT", out, sizeof(out));
	assert_string_equal(out, "\"v=DMARC1; p=reject\" ");

	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
	tw_dns_zone_release(&again);
	tw_dns_provider_destroy(p);
}

/* Someone changes the zone between list and call: the prerequisites fail
 * and nothing of the call is applied. */
static void test_concurrent_change(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider(K.server, &K.key, 0);
	tw_dns_zone_t live, want;
	tw_dns_err_t err;
	char cmd[1024], out[256];

	if (list(p, &live, &err) != 0)
		fail_msg("list: %s", err.msg);

	/* The other writer: knsupdate with the same key adds a value to race. */
	snprintf(cmd, sizeof(cmd),
	         "printf 'server 127.0.0.1 %d\\nzone " ORIGIN "\\nupdate add race." ORIGIN
	         " 300 A 192.0.2.31\\nsend\\n' | knsupdate -y %s:%s:%s",
	         K.port, K.key.alg, K.key.name, K.key.secret);
	assert_int_equal(run(cmd), 0);
	kdig("race." ORIGIN, "A", out, sizeof(out));
	assert_string_equal(out, "192.0.2.30 192.0.2.31 ");

	assert_int_equal(tw_dns_zone_init(&want, ORIGIN), 0);
	add_text(&want, "race 300 IN A 192.0.2.40");
	add_text(&want, "fresh 300 IN A 192.0.2.41");
	const tw_dns_rr_t *pre[4], *adds[2] = {&want.v[0], &want.v[1]};
	size_t npre = rrset(&live, "race.example.test.", LDNS_RR_TYPE_A, pre, 4);
	assert_int_equal(npre, 1); /* as read: only .30 */
	tw_dns_rrset_key_t absent[1] = {{"fresh.example.test.", LDNS_RR_TYPE_A}};
	tw_dns_call_t c = {
	        .kind = TW_DNS_CALL_UPDATE,
	        .rrs = adds,
	        .n = 2,
	        .dels = pre,
	        .ndels = npre,
	        .pre = pre,
	        .npre = npre,
	        .absent = absent,
	        .nabsent = 1,
	};
	memset(&err, 0, sizeof(err));
	assert_true(p->ops->call(p, &live, &c, &err) < 0);
	print_message("  concurrent change: %s\n", err.msg);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 10000 + LDNS_RCODE_NXRRSET);
	assert_false(err.maybe_applied);
	assert_non_null(strstr(err.msg,
	                       "the zone changed since it was read (RCODE NXRRSET: "
	                       "prerequisite failed): nothing was applied; run plan again"));

	/* Nothing applied: not the delete, not either add. */
	kdig("race." ORIGIN, "A", out, sizeof(out));
	assert_string_equal(out, "192.0.2.30 192.0.2.31 ");
	kdig("fresh." ORIGIN, "A", out, sizeof(out));
	assert_string_equal(out, "");

	/* "RRset does not exist" fails too when the name was created meanwhile. */
	snprintf(cmd, sizeof(cmd),
	         "printf 'server 127.0.0.1 %d\\nzone " ORIGIN "\\nupdate add fresh." ORIGIN
	         " 300 A 192.0.2.99\\nsend\\n' | knsupdate -y %s:%s:%s",
	         K.port, K.key.alg, K.key.name, K.key.secret);
	assert_int_equal(run(cmd), 0);
	c.pre = NULL, c.npre = 0, c.dels = NULL, c.ndels = 0;
	c.rrs = &adds[1], c.n = 1;
	memset(&err, 0, sizeof(err));
	assert_true(p->ops->call(p, &live, &c, &err) < 0);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 10000 + LDNS_RCODE_YXRRSET);
	assert_non_null(strstr(err.msg, "the zone changed since it was read (RCODE YXRRSET"));
	kdig("fresh." ORIGIN, "A", out, sizeof(out));
	assert_string_equal(out, "192.0.2.99 ");

	tw_dns_zone_release(&live);
	tw_dns_zone_release(&want);
	tw_dns_provider_destroy(p);
}

static void test_wrong_secret(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider(K.server, &K.wrong, 0);
	tw_dns_zone_t z, want;
	tw_dns_err_t err;
	char out[256];

	assert_true(list(p, &z, &err) < 0);
	print_message("  wrong secret, list: %s\n", err.msg);
	assert_int_equal(err.exit_code, 1);
	assert_non_null(strstr(err.msg, "the server refused the TSIG key tw-key."));
	assert_non_null(strstr(err.msg, "wrong secret or algorithm"));
	assert_no_secrets(err.msg);
	tw_dns_zone_release(&z);

	assert_int_equal(tw_dns_zone_init(&want, ORIGIN), 0);
	add_text(&want, "nope 300 IN A 192.0.2.66");
	const tw_dns_rr_t *adds[1] = {&want.v[0]};
	tw_dns_call_t c = {.kind = TW_DNS_CALL_UPDATE, .rrs = adds, .n = 1};
	memset(&err, 0, sizeof(err));
	assert_true(p->ops->call(p, &want, &c, &err) < 0);
	print_message("  wrong secret, update: %s\n", err.msg);
	assert_int_equal(err.exit_code, 1);
	assert_false(err.maybe_applied);
	assert_int_equal(err.status, 10000 + LDNS_RCODE_NOTAUTH);
	assert_non_null(strstr(err.msg, "the server refused the TSIG key tw-key."));
	assert_no_secrets(err.msg);
	kdig("nope." ORIGIN, "A", out, sizeof(out));
	assert_string_equal(out, "");
	tw_dns_provider_destroy(p);

	/* A key the server doesn't know. */
	p = provider(K.server, &K.unknown, 0);
	assert_true(list(p, &z, &err) < 0);
	print_message("  unknown key: %s\n", err.msg);
	/* On a transfer Knot's BADKEY can also be the transfer ACL: exit 3. */
	assert_int_equal(err.exit_code, 3);
	assert_non_null(strstr(err.msg, "tw-unknown."));
	assert_non_null(strstr(err.msg, "BADKEY"));
	assert_no_secrets(err.msg);
	tw_dns_zone_release(&z);
	tw_dns_zone_release(&want);
	tw_dns_provider_destroy(p);
}

static void test_transfer_refused(void **state)
{
	(void)state;
	tw_dns_zone_t z;
	tw_dns_err_t err;

	/* Unsigned: the server's ACL doesn't allow this address. */
	tw_dns_provider_t *p = provider(K.server, NULL, 0);
	assert_true(list(p, &z, &err) < 0);
	print_message("  unsigned: %s\n", err.msg);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 10000 + LDNS_RCODE_NOTAUTH);
	assert_non_null(strstr(err.msg, K.server));
	assert_non_null(strstr(err.msg, "allow this address in the server's transfer ACL"));
	assert_non_null(strstr(err.msg, "action: transfer"));
	assert_non_null(strstr(err.msg, "allow-transfer"));
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);

	/* A key the server knows, allowed to update but not to transfer. */
	p = provider(K.server, &K.noxfr, 0);
	assert_true(list(p, &z, &err) < 0);
	print_message("  key without transfer: %s\n", err.msg);
	/* Knot answers BADKEY, unsigned, as for a key it doesn't know: the
	 * client can't tell the two apart; a refused transfer is exit 3 and
	 * the message names both causes. */
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 10000 + LDNS_RCODE_NOTAUTH);
	assert_non_null(strstr(err.msg, "tw-noxfr."));
	assert_non_null(strstr(err.msg, "action: transfer"));
	assert_non_null(strstr(err.msg, "allow-transfer"));
	assert_no_secrets(err.msg);
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
}

/* A server that accepts the connection and never answers. */
static void test_no_answer(void **state)
{
	(void)state;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t l = sizeof(a);
	char server[64];
	tw_dns_zone_t z, want;
	tw_dns_err_t err;

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(a.sin_port));

	tw_dns_provider_t *p = provider(server, &K.key, 1000);
	long t0 = (long)time(NULL);
	assert_true(list(p, &z, &err) < 0);
	assert_true((long)time(NULL) - t0 <= 3);
	assert_int_equal(err.exit_code, 3);
	char want_msg[128];
	snprintf(want_msg, sizeof(want_msg), "no answer from %s in 1 s", server);
	assert_non_null(strstr(err.msg, want_msg));
	tw_dns_zone_release(&z);

	/* An UPDATE sent and not answered may have been applied. */
	assert_int_equal(tw_dns_zone_init(&want, ORIGIN), 0);
	add_text(&want, "x 300 IN A 192.0.2.1");
	const tw_dns_rr_t *adds[1] = {&want.v[0]};
	tw_dns_call_t c = {.kind = TW_DNS_CALL_UPDATE, .rrs = adds, .n = 1};
	memset(&err, 0, sizeof(err));
	assert_true(p->ops->call(p, &want, &c, &err) < 0);
	assert_int_equal(err.exit_code, 3);
	assert_true(err.maybe_applied);
	assert_non_null(strstr(err.msg, want_msg));
	tw_dns_provider_destroy(p);
	close(fd);

	/* Nothing listening: refused before anything was sent. */
	p = provider(server, &K.key, 1000);
	memset(&err, 0, sizeof(err));
	assert_true(p->ops->call(p, &want, &c, &err) < 0);
	assert_int_equal(err.exit_code, 3);
	assert_false(err.maybe_applied);
	assert_non_null(strstr(err.msg, "cannot connect to"));
	tw_dns_zone_release(&want);
	tw_dns_provider_destroy(p);
}

static void test_other_call_kinds_refused(void **state)
{
	(void)state;
	tw_dns_provider_t *p = provider(K.server, &K.key, 0);
	tw_dns_zone_t want;
	tw_dns_err_t err = {0};

	assert_int_equal(tw_dns_zone_init(&want, ORIGIN), 0);
	add_text(&want, "y 300 IN A 192.0.2.1");
	const tw_dns_rr_t *adds[1] = {&want.v[0]};
	tw_dns_call_t c = {.kind = TW_DNS_CALL_PUT, .rrs = adds, .n = 1};
	assert_true(p->ops->call(p, &want, &c, &err) < 0);
	assert_int_equal(err.exit_code, 2);
	tw_dns_zone_release(&want);
	tw_dns_provider_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_semantics),
	        cmocka_unit_test(test_list_axfr),
	        cmocka_unit_test(test_list_multi_message),
	        cmocka_unit_test(test_update_applied),
	        cmocka_unit_test(test_concurrent_change),
	        cmocka_unit_test(test_wrong_secret),
	        cmocka_unit_test(test_transfer_refused),
	        cmocka_unit_test(test_no_answer),
	        cmocka_unit_test(test_other_call_kinds_refused),
	};
	return cmocka_run_group_tests(tests, knot_setup, knot_teardown);
}
