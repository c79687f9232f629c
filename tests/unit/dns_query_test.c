/*
 * dns_query_test.c - src/dns/query.c against real Knot DNS servers started
 * here on loopback high ports: one RRSet queries (data, NODATA, NXDOMAIN,
 * long TXT over TCP, CNAME not followed, REFUSED, refused and silent
 * ports), verification with a lagging server that catches up during the
 * poll, and the authoritative server list through a Knot acting as the
 * resolver. The parent delegation needs port 53 and is covered by
 * tests/e2e/t_dns_query.sh.
 */
#include "util/tw.h"

#include "dns/query.h"
#include "dns/query_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

/* ---- helpers ---------------------------------------------------------- */

typedef struct knot {
	char dir[128];
	char conf[192];
	char addr[16];
	uint16_t port;
	pid_t pid;
} knot_t;

/* Servers still running when a test fails (cmocka longjmps out of it):
 * the teardown stops them. */
static knot_t *g_running[4];

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* A port free for both UDP and TCP on 127.0.0.1, outside the ephemeral range. */
static uint16_t free_port(void)
{
	unsigned seed = (unsigned)(getpid() ^ mono_ms());

	for (int tries = 0; tries < 200; tries++) {
		uint16_t p = (uint16_t)(20000 + rand_r(&seed) % 12000);
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(p)};
		int ok = 1;

		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		for (int t = 0; t < 2 && ok; t++) {
			int fd = socket(AF_INET, t ? SOCK_STREAM : SOCK_DGRAM, 0);

			if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
				ok = 0;
			if (fd >= 0)
				close(fd);
		}
		if (ok)
			return p;
	}
	fail_msg("no free port");
	return 0;
}

/* A UDP socket on 127.0.0.1 that never answers; *port gets its port. */
static int silent_udp(uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void server_init(tw_dns_server_t *s, const char *name, const char *addr, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	tw_strlcpy(s->name, name, sizeof(s->name));
	tw_strlcpy(s->addr, addr, sizeof(s->addr));
	s->port = port;
}

static void zone_path(const knot_t *k, const char *zone, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%szone", k->dir, zone);
}

/*
 * Starts knotd for the zones (name, text pairs, NULL-terminated) on
 * 127.0.0.1@PORT with everything under a fresh temp dir, and waits until it
 * answers an SOA query for the first zone. Skips the test without knotd.
 */
static void knot_start(knot_t *k, const char *const *zones)
{
	char path[256], conf[4096];
	size_t n;
	FILE *f;

	if (access("/usr/sbin/knotd", X_OK) != 0 && system("command -v knotd >/dev/null") != 0)
		skip();
	memset(k, 0, sizeof(*k));
	snprintf(k->dir, sizeof(k->dir), "/tmp/tw-dnsq-XXXXXX");
	if (!mkdtemp(k->dir))
		fail_msg("mkdtemp: %s", strerror(errno));
	tw_strlcpy(k->addr, "127.0.0.1", sizeof(k->addr));
	k->port = free_port();
	n = (size_t)snprintf(conf, sizeof(conf),
	                     "server:\n  listen: %s@%u\n  rundir: \"%s\"\n"
	                     "  pidfile: \"%s/knot.pid\"\n  udp-workers: 1\n  tcp-workers: 1\n"
	                     "  background-workers: 1\n"
	                     "database:\n  storage: \"%s\"\n"
	                     "log:\n  - target: stderr\n    any: info\n"
	                     "template:\n  - id: default\n    storage: \"%s\"\n"
	                     "    file: \"%%s.zone\"\n    zonefile-sync: -1\n"
	                     "    zonefile-load: whole\n    journal-content: none\n"
	                     "    semantic-checks: off\nzone:\n",
	                     k->addr, (unsigned)k->port, k->dir, k->dir, k->dir, k->dir);
	for (size_t i = 0; zones[i]; i += 2) {
		n += (size_t)snprintf(conf + n, sizeof(conf) - n, "  - domain: %s\n", zones[i]);
		zone_path(k, zones[i], path, sizeof(path));
		write_file(path, zones[i + 1]);
	}
	assert_true(n < sizeof(conf));
	snprintf(k->conf, sizeof(k->conf), "%s/knot.conf", k->dir);
	write_file(k->conf, conf);
	snprintf(path, sizeof(path), "%s/knot.log", k->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fflush(stdout);
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		dup2(fileno(f), 1);
		dup2(fileno(f), 2);
		execlp("knotd", "knotd", "-c", k->conf, (char *)NULL);
		_exit(127);
	}
	fclose(f);
	for (size_t i = 0; i < TW_ARRAY_LEN(g_running); i++)
		if (!g_running[i]) {
			g_running[i] = k;
			break;
		}

	tw_dns_server_t s;
	server_init(&s, k->addr, k->addr, k->port);
	for (long end = mono_ms() + 10000; mono_ms() < end;) {
		tw_dns_zone_t z;
		tw_dns_err_t err = {0};
		int st;

		assert_int_equal(tw_dns_zone_init(&z, zones[0]), 0);
		int rc = tw_dns_query_set(&s, zones[0], LDNS_RR_TYPE_SOA, 300, &z, &err);
		size_t got = z.n;
		tw_dns_zone_release(&z);
		if (rc == 0 && got == 1)
			return;
		if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
			k->pid = 0;
			break;
		}
		usleep(100 * 1000);
	}
	snprintf(conf, sizeof(conf), "tail -n 20 %s/knot.log >&2", k->dir);
	if (system(conf) != 0)
		fprintf(stderr, "(no log)\n");
	fail_msg("knotd did not answer for %s on %s@%u", zones[0], k->addr, (unsigned)k->port);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	TW_UNUSED(sb);
	TW_UNUSED(flag);
	TW_UNUSED(ftw);
	return remove(p);
}

static void knot_stop(knot_t *k)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(g_running); i++)
		if (g_running[i] == k)
			g_running[i] = NULL;
	if (k->pid > 0) {
		int st;

		kill(k->pid, SIGTERM);
		for (int i = 0; i < 50; i++) {
			if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
				k->pid = 0;
				break;
			}
			usleep(100 * 1000);
		}
		if (k->pid > 0) {
			kill(k->pid, SIGKILL);
			waitpid(k->pid, &st, 0);
		}
		k->pid = 0;
	}
	if (k->dir[0])
		nftw(k->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	k->dir[0] = '\0';
}

/* Queries one set; returns rc, the zone with the answer stays in *z. */
static int query(const knot_t *k, const char *owner, uint16_t type, tw_dns_zone_t *z,
                 tw_dns_err_t *err)
{
	tw_dns_server_t s;

	server_init(&s, "ns1.example.test.", k->addr, k->port);
	memset(err, 0, sizeof(*err));
	assert_int_equal(tw_dns_zone_init(z, "example.test."), 0);
	return tw_dns_query_set(&s, owner, type, 2000, z, err);
}

static const char zone_new[] = "$ORIGIN example.test.\n$TTL 300\n"
                               "@ SOA ns1 hostmaster 2 3600 600 86400 300\n"
                               "@ NS ns1\n@ NS ns2\n"
                               "ns1 A 127.0.0.2\nns2 A 127.0.0.3\n"
                               "@ TXT \"v=spf1 mx -all\"\n"
                               "www A 192.0.2.20\n"
                               "alias CNAME www\n";

static const char zone_old[] = "$ORIGIN example.test.\n$TTL 300\n"
                               "@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
                               "@ NS ns1\n@ NS ns2\n"
                               "ns1 A 127.0.0.2\nns2 A 127.0.0.3\n"
                               "@ TXT \"v=spf1 -all\"\n"
                               "www A 192.0.2.10\n"
                               "gone AAAA 2001:db8::1\n";

/* ---- tw_dns_query_set ------------------------------------------------- */

/* A resolver's NS answer, no socket: names with glue become servers, names
 * without glue come back to be looked up; none is
 * lost or NULL whatever the order of the records (fuzz_dns_answer found a
 * reordering slip here). */
static void test_ns_reply_glue(void **state)
{
	(void)state;
	static const char *const rrs[] = {
	        "example.test. 300 IN NS ns3.example.test.",
	        "example.test. 300 IN NS ns-bare.elsewhere.test.",
	        "example.test. 300 IN NS ns1.example.test.",
	        "example.test. 300 IN NS ns2-bare.elsewhere.test.",
	};
	static const char *const glue[] = {
	        "ns1.example.test. 300 IN A 127.0.0.11",
	        "ns3.example.test. 300 IN AAAA ::1",
	        "ns3.example.test. 300 IN A 127.0.0.13",
	};
	ldns_pkt *p = ldns_pkt_new();
	assert_non_null(p);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, LDNS_RCODE_NOERROR);
	for (size_t i = 0; i < TW_ARRAY_LEN(rrs); i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	for (size_t i = 0; i < TW_ARRAY_LEN(glue); i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, glue[i], 0, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL, rr);
	}
	ldns_rdf *zone = ldns_dname_new_frm_str("example.test.");
	tw_dns_servers_t out = {0};
	size_t cap = 0, nbare = 0;
	ldns_rdf **bare = NULL;
	tw_dns_err_t err = {0};
	assert_int_equal(tw_dns_query_ns_reply(p, zone, "example.test.", "test", &out, &cap, &bare,
	                                       &nbare, &err),
	                 0);
	/* Sorting is auth_servers' job; here every glued address, once. */
	static const char *const want[] = {"ns1.example.test. 127.0.0.11",
	                                   "ns3.example.test. 127.0.0.13", "ns3.example.test. ::1"};
	assert_int_equal(out.n, TW_ARRAY_LEN(want));
	for (size_t i = 0; i < TW_ARRAY_LEN(want); i++) {
		size_t hits = 0;
		char pair[400];
		for (size_t j = 0; j < out.n; j++) {
			snprintf(pair, sizeof(pair), "%s %s", out.v[j].name, out.v[j].addr);
			hits += strcmp(pair, want[i]) == 0;
		}
		if (hits != 1)
			fail_msg("%s found %zu times", want[i], hits);
	}
	assert_int_equal(nbare, 2);
	bool seen1 = false, seen2 = false;
	for (size_t i = 0; i < nbare; i++) {
		assert_non_null(bare[i]);
		char *t = ldns_rdf2str(bare[i]);
		seen1 |= strcmp(t, "ns-bare.elsewhere.test.") == 0;
		seen2 |= strcmp(t, "ns2-bare.elsewhere.test.") == 0;
		free(t);
		ldns_rdf_deep_free(bare[i]);
	}
	assert_true(seen1 && seen2);
	free(bare);
	tw_dns_servers_release(&out);
	ldns_rdf_deep_free(zone);
	ldns_pkt_free(p);
}

static void test_query_set(void **state)
{
	TW_UNUSED(state);
	char zt[4096], chunk[201], want[1601];
	size_t n;
	knot_t k;
	tw_dns_zone_t z;
	tw_dns_err_t err;

	/* 8 strings of 200 bytes: 1.6 kB of TXT, over the 1232-byte EDNS
	 * buffer, so the UDP answer is truncated and TCP gives the data. */
	memset(chunk, 0, sizeof(chunk));
	want[0] = '\0';
	n = (size_t)snprintf(zt, sizeof(zt), "%slong TXT (", zone_new);
	for (int i = 0; i < 8; i++) {
		memset(chunk, 'a' + i, 200);
		n += (size_t)snprintf(zt + n, sizeof(zt) - n, " \"%s\"", chunk);
		memcpy(want + i * 200, chunk, 200);
	}
	want[1600] = '\0';
	n += (size_t)snprintf(zt + n, sizeof(zt) - n, " )\n");
	assert_true(n < sizeof(zt));
	const char *zones[] = {"example.test.", zt, NULL};
	knot_start(&k, zones);

	/* existing RRSet */
	assert_int_equal(query(&k, "example.test.", LDNS_RR_TYPE_TXT, &z, &err), 0);
	assert_int_equal(z.n, 1);
	assert_string_equal(z.v[0].owner, "example.test.");
	assert_non_null(z.v[0].txt);
	assert_string_equal(z.v[0].txt, "v=spf1 mx -all");
	tw_dns_zone_release(&z);

	/* owner in any case, without the trailing dot */
	assert_int_equal(query(&k, "WWW.Example.Test", LDNS_RR_TYPE_A, &z, &err), 0);
	assert_int_equal(z.n, 1);
	assert_string_equal(z.v[0].rdata, "192.0.2.20");
	tw_dns_zone_release(&z);

	/* NODATA */
	assert_int_equal(query(&k, "www.example.test.", LDNS_RR_TYPE_AAAA, &z, &err), 0);
	assert_int_equal(z.n, 0);
	tw_dns_zone_release(&z);

	/* NXDOMAIN */
	assert_int_equal(query(&k, "nope.example.test.", LDNS_RR_TYPE_A, &z, &err), 0);
	assert_int_equal(z.n, 0);
	tw_dns_zone_release(&z);

	/* a CNAME is not followed: no A records at alias */
	assert_int_equal(query(&k, "alias.example.test.", LDNS_RR_TYPE_A, &z, &err), 0);
	assert_int_equal(z.n, 0);
	tw_dns_zone_release(&z);
	assert_int_equal(query(&k, "alias.example.test.", LDNS_RR_TYPE_CNAME, &z, &err), 0);
	assert_int_equal(z.n, 1);
	assert_string_equal(z.v[0].rdata, "www.example.test.");
	tw_dns_zone_release(&z);

	/* long TXT: several strings, one concatenated value, over TCP */
	assert_int_equal(query(&k, "long.example.test.", LDNS_RR_TYPE_TXT, &z, &err), 0);
	assert_int_equal(z.n, 1);
	assert_int_equal(z.v[0].txt_len, 1600);
	assert_memory_equal(z.v[0].txt, want, 1600);
	tw_dns_zone_release(&z);

	/* a zone the server does not serve: REFUSED, named, with the reason */
	{
		tw_dns_server_t s;

		server_init(&s, "ns1.example.test.", k.addr, k.port);
		memset(&err, 0, sizeof(err));
		assert_int_equal(tw_dns_zone_init(&z, "other.test."), 0);
		assert_true(tw_dns_query_set(&s, "other.test.", LDNS_RR_TYPE_TXT, 2000, &z, &err) <
		            0);
		assert_int_equal(z.n, 0);
		tw_dns_zone_release(&z);
		if (!strstr(err.msg, "REFUSED") || !strstr(err.msg, "not authoritative"))
			fail_msg("REFUSED message: %s", err.msg);
		assert_int_equal(err.status, 10000 + LDNS_RCODE_REFUSED);
		assert_int_equal(err.exit_code, 3);
	}
	knot_stop(&k);

	/* nothing listening any more: refused at once, not a timeout */
	long t0 = mono_ms();
	assert_int_equal(query(&k, "example.test.", LDNS_RR_TYPE_TXT, &z, &err), -ECONNREFUSED);
	tw_dns_zone_release(&z);
	assert_true(mono_ms() - t0 < 1000);
	assert_int_equal(err.exit_code, 3);
	if (!strstr(err.msg, "connection refused") || !strstr(err.msg, "ns1.example.test."))
		fail_msg("refused message: %s", err.msg);

	/* a server that never answers: the caller's timeout, then an error */
	{
		uint16_t port;
		int fd = silent_udp(&port);
		tw_dns_server_t s;

		server_init(&s, "127.0.0.1", "127.0.0.1", port);
		memset(&err, 0, sizeof(err));
		assert_int_equal(tw_dns_zone_init(&z, "example.test."), 0);
		t0 = mono_ms();
		assert_int_equal(
		        tw_dns_query_set(&s, "example.test.", LDNS_RR_TYPE_TXT, 400, &z, &err),
		        -ETIMEDOUT);
		long ms = mono_ms() - t0;
		tw_dns_zone_release(&z);
		close(fd);
		if (ms < 350 || ms > 1500)
			fail_msg("timed out after %ld ms, expected 400", ms);
		if (!strstr(err.msg, "timeout"))
			fail_msg("timeout message: %s", err.msg);
	}
}

/* ---- tw_dns_verify ---------------------------------------------------- */

static void expected_zone(tw_dns_zone_t *z)
{
	tw_diags_t d = {0};

	assert_int_equal(tw_dns_zone_init(z, "example.test."), 0);
	assert_int_equal(
	        tw_dns_zone_add_text(z, "@ 300 IN TXT \"v=spf1 \" \"mx -all\"", NULL, 0, 0, &d), 0);
	assert_int_equal(tw_dns_zone_add_text(z, "www 300 IN A 192.0.2.20", NULL, 0, 0, &d), 0);
	assert_int_equal(d.n, 0);
	tw_diags_release(&d);
}

static const tw_dns_rrset_key_t verify_sets[] = {
        {"example.test.", LDNS_RR_TYPE_TXT},
        {"www.example.test.", LDNS_RR_TYPE_A},
        {"gone.example.test.", LDNS_RR_TYPE_AAAA}, /* expected: none */
};

static void test_verify(void **state)
{
	TW_UNUSED(state);
	const char *znew[] = {"example.test.", zone_new, NULL};
	const char *zold[] = {"example.test.", zone_old, NULL};
	knot_t a, b;
	tw_dns_servers_t servers;
	tw_dns_server_t sv[2];
	tw_dns_verify_result_t res[2];
	tw_dns_zone_t want;
	char *out = NULL, label[128];
	size_t outlen = 0;
	FILE *progress;
	long t0, ms;
	int rc;

	knot_start(&a, znew);
	knot_start(&b, zold);
	server_init(&sv[0], "ns1.example.test.", a.addr, a.port);
	server_init(&sv[1], "ns2.example.test.", b.addr, b.port);
	servers.v = sv;
	servers.n = 2;
	expected_zone(&want);

	/* The laggard keeps the old data: 1 at the timeout, named, old value shown. */
	progress = open_memstream(&out, &outlen);
	assert_non_null(progress);
	t0 = mono_ms();
	rc = tw_dns_verify(&servers, &want, verify_sets, TW_ARRAY_LEN(verify_sets), 1500, 200,
	                   progress, res);
	ms = mono_ms() - t0;
	fclose(progress);
	assert_int_equal(rc, 1);
	assert_true(ms >= 1400 && ms < 4000);
	assert_ptr_equal(res[0].server, &sv[0]);
	assert_true(res[0].ok);
	assert_true(res[0].ms >= 0 && res[0].ms < 1000);
	assert_ptr_equal(res[1].server, &sv[1]);
	assert_false(res[1].ok);
	assert_int_equal(res[1].ms, -1);
	if (!strstr(res[1].detail,
	            "TXT example.test.: serves \"v=spf1 -all\", expected \"v=spf1 mx -all\""))
		fail_msg("laggard detail: %s", res[1].detail);
	snprintf(label, sizeof(label), "ns1.example.test. (127.0.0.1:%u): serves the new data (",
	         (unsigned)a.port);
	if (!strstr(out, label) || strstr(out, "ns2.example.test."))
		fail_msg("progress: %s", out);
	free(out);
	out = NULL;

	/* The laggard catches up while we poll: update its zone file and
	 * reload it from a child after 1.2 s. */
	fflush(stdout);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		char path[256];
		FILE *f;

		usleep(1200 * 1000);
		zone_path(&b, "example.test.", path, sizeof(path));
		f = fopen(path, "w");
		if (!f)
			_exit(126);
		fputs(zone_new, f);
		fclose(f);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execlp("knotc", "knotc", "-c", b.conf, "zone-reload", "example.test.",
		       (char *)NULL);
		_exit(127);
	}
	progress = open_memstream(&out, &outlen);
	assert_non_null(progress);
	rc = tw_dns_verify(&servers, &want, verify_sets, TW_ARRAY_LEN(verify_sets), 10000, 200,
	                   progress, res);
	fclose(progress);
	int st = 0;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (rc != 0)
		fail_msg("verify after reload: %d, ns2: %s", rc, res[1].detail);
	assert_true(res[0].ok && res[1].ok);
	assert_true(res[0].ms < 1000);
	if (res[1].ms < 1100 || res[1].ms > 5000)
		fail_msg("ns2 converged after %ld ms, expected just after 1.2 s", res[1].ms);
	/* one line per server, in the order they converged */
	char *l1 = strstr(out, "ns1.example.test."), *l2 = strstr(out, "ns2.example.test.");
	if (!l1 || !l2 || l2 < l1 || strstr(l2 + 1, "ns2.example.test."))
		fail_msg("progress: %s", out);
	free(out);

	tw_dns_zone_release(&want);
	knot_stop(&a);
	knot_stop(&b);
}

static void test_verify_dead(void **state)
{
	TW_UNUSED(state);
	const char *znew[] = {"example.test.", zone_new, NULL};
	tw_dns_servers_t servers;
	tw_dns_server_t sv[2];
	tw_dns_verify_result_t res[2];
	tw_dns_zone_t want, none;
	uint16_t port;
	knot_t a;
	int fd;

	knot_start(&a, znew);
	fd = silent_udp(&port);
	server_init(&sv[0], "ns1.example.test.", a.addr, a.port);
	server_init(&sv[1], "ns2.example.test.", "127.0.0.1", port);
	servers.v = sv;
	servers.n = 2;
	expected_zone(&want);
	assert_int_equal(tw_dns_verify(&servers, &want, verify_sets, TW_ARRAY_LEN(verify_sets),
	                               1000, 100, NULL, res),
	                 1);
	assert_true(res[0].ok);
	assert_false(res[1].ok);
	assert_string_equal(res[1].detail, "no answer: timeout");
	close(fd);

	/* Expected none, served one: the served value and "expected nothing". */
	assert_int_equal(tw_dns_zone_init(&none, "example.test."), 0);
	servers.n = 1;
	assert_int_equal(tw_dns_verify(&servers, &none, verify_sets, 1, 300, 100, NULL, res), 1);
	if (!strstr(res[0].detail,
	            "TXT example.test.: serves \"v=spf1 mx -all\", expected nothing"))
		fail_msg("detail: %s", res[0].detail);
	/* ... and the other way round: nothing served where records were expected */
	const tw_dns_rrset_key_t gone[] = {{"gone.example.test.", LDNS_RR_TYPE_AAAA}};
	tw_diags_t d = {0};
	assert_int_equal(
	        tw_dns_zone_add_text(&none, "gone 300 IN AAAA 2001:db8::1", NULL, 0, 0, &d), 0);
	tw_diags_release(&d);
	assert_int_equal(tw_dns_verify(&servers, &none, gone, 1, 300, 100, NULL, res), 1);
	if (!strstr(res[0].detail, "AAAA gone.example.test.: serves nothing, expected 2001:db8::1"))
		fail_msg("detail: %s", res[0].detail);

	tw_dns_zone_release(&none);
	tw_dns_zone_release(&want);
	knot_stop(&a);
}

/* ---- tw_dns_auth_servers ---------------------------------------------- */

static void test_auth_servers(void **state)
{
	TW_UNUSED(state);
	static const char ex[] = "$ORIGIN example.test.\n$TTL 300\n"
	                         "@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
	                         "@ NS ns2\n@ NS NS1\n@ NS ns3.other.test.\n"
	                         "ns1 A 127.0.0.2\nns2 AAAA ::1\nns2 A 127.0.0.3\n";
	static const char other[] = "$ORIGIN other.test.\n$TTL 300\n"
	                            "@ SOA ns3 hostmaster 1 3600 600 86400 300\n"
	                            "@ NS ns3\nns3 A 127.0.0.4\n";
	static const char nons[] = "$ORIGIN nons.test.\n$TTL 300\n"
	                           "@ SOA ns hostmaster 1 3600 600 86400 300\n"
	                           "@ TXT \"no NS here\"\n";
	const char *zones[] = {"example.test.", ex, "other.test.", other, "nons.test.", nons, NULL};
	static const struct {
		const char *name, *addr;
	} want[] = {
	        {"ns1.example.test.", "127.0.0.2"},
	        {"ns2.example.test.", "127.0.0.3"},
	        {"ns2.example.test.", "::1"},
	        {"ns3.other.test.", "127.0.0.4"}, /* no glue: asked the resolver for A/AAAA */
	};
	char resolver[64];
	tw_dns_servers_t s;
	tw_dns_err_t err = {0};
	knot_t k;
	long t0;

	knot_start(&k, zones);
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%u", (unsigned)k.port);

	if (tw_dns_auth_servers("Example.Test", resolver, &s, &err) != 0)
		fail_msg("auth_servers: %s", err.msg);
	assert_int_equal(s.n, TW_ARRAY_LEN(want));
	for (size_t i = 0; i < s.n; i++) {
		assert_string_equal(s.v[i].name, want[i].name);
		assert_string_equal(s.v[i].addr, want[i].addr);
		assert_int_equal(s.v[i].port, 53);
	}
	tw_dns_servers_release(&s);
	assert_null(s.v);

	/* The zone exists but has no NS set. */
	memset(&err, 0, sizeof(err));
	assert_true(tw_dns_auth_servers("nons.test.", resolver, &s, &err) < 0);
	assert_int_equal(err.exit_code, 3);
	char msg[200];
	snprintf(msg, sizeof(msg), "no NS records for nons.test. at resolver %s", resolver);
	if (!strstr(err.msg, msg))
		fail_msg("no NS: %s", err.msg);
	assert_null(s.v);

	/* The resolver refuses (not its zone): the rcode is named. */
	memset(&err, 0, sizeof(err));
	assert_true(tw_dns_auth_servers("elsewhere.test.", resolver, &s, &err) < 0);
	if (!strstr(err.msg, "REFUSED"))
		fail_msg("refused: %s", err.msg);

	/* Malformed resolver addresses are the user's input: exit code 2. */
	static const char *const bad[] = {"localhost", "127.0.0.1:", "127.0.0.1:70000",
	                                  "[::1",      "[::1]x",     "1.2.3.4.5"};
	for (size_t i = 0; i < TW_ARRAY_LEN(bad); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(tw_dns_auth_servers("example.test.", bad[i], &s, &err), TW_EINVAL);
		if (err.exit_code != 2 || !strstr(err.msg, "bad resolver address"))
			fail_msg("%s: %d %s", bad[i], err.exit_code, err.msg);
	}
	knot_stop(&k);

	/* Nothing listens there any more: at once, "cannot reach". */
	memset(&err, 0, sizeof(err));
	t0 = mono_ms();
	assert_true(tw_dns_auth_servers("example.test.", resolver, &s, &err) < 0);
	assert_true(mono_ms() - t0 < 1000);
	assert_int_equal(err.exit_code, 3);
	snprintf(msg, sizeof(msg), "cannot reach DNS resolver %s: connection refused", resolver);
	if (!strstr(err.msg, msg))
		fail_msg("unreachable: %s", err.msg);

	/* A resolver that never answers is reported within seconds (2 x 2 s). */
	uint16_t port;
	int fd = silent_udp(&port);
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%u", (unsigned)port);
	memset(&err, 0, sizeof(err));
	t0 = mono_ms();
	assert_int_equal(tw_dns_auth_servers("example.test.", resolver, &s, &err), -ETIMEDOUT);
	long ms = mono_ms() - t0;
	close(fd);
	if (ms < 3500 || ms > 6000)
		fail_msg("gave up after %ld ms, expected about 4 s", ms);
	snprintf(msg, sizeof(msg), "cannot reach DNS resolver %s: no answer within 2 s (2 tries)",
	         resolver);
	if (err.exit_code != 3 || !strstr(err.msg, msg))
		fail_msg("timeout: %s", err.msg);
}

static int teardown(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(g_running); i++)
		if (g_running[i])
			knot_stop(g_running[i]);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ns_reply_glue),
	        cmocka_unit_test_teardown(test_query_set, teardown),
	        cmocka_unit_test_teardown(test_verify, teardown),
	        cmocka_unit_test_teardown(test_verify_dead, teardown),
	        cmocka_unit_test_teardown(test_auth_servers, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
