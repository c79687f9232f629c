/*
 * dns_spaceship_test.c - the Spaceship provider: item <-> record conversion
 * for every type, what can_write refuses, and the HTTP client (paging,
 * batching, bodies, error mapping, 429 retries, URL policy, no secret in any
 * message) against a tiny libmicrohttpd server serving canned answers.
 */
#include "util/tw.h"

#include "dns/provider.h"
#include "dns/spaceship.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <time.h>

#include <cmocka.h>

#define KEY    "KEY-abcdef0123456789"
#define SECRET "SEKRET-zyxwvu9876543210"
#define DOM    "example.com"

/* ---- conversion --------------------------------------------------------- */

/* Reads item (JSON text) into a fresh zone; returns the new record. */
static const tw_dns_rr_t *item_in(tw_dns_zone_t *z, const char *item)
{
	json_error_t je;
	json_t *j = json_loads(item, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s: %s", item, je.text);
	tw_dns_err_t err = {0};
	size_t before = z->n;
	int rc = tw_dns_spaceship_item_to_rr(z, j, 0, &err);
	json_decref(j);
	if (rc)
		fail_msg("item %s: %s", item, err.msg);
	assert_int_equal(z->n, before + 1);
	return &z->v[z->n - 1];
}

/* The item back, as JSON with sorted keys; caller frees. */
static char *item_out(const tw_dns_rr_t *r, bool ttl)
{
	char why[300] = "";
	json_t *o = tw_dns_spaceship_rr_to_item(r, DOM ".", ttl, why, sizeof(why));
	if (!o)
		fail_msg("rr_to_item refused: %s", why);
	char *s = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	return s;
}

static void assert_same_json(const char *got, const char *want)
{
	json_t *a = json_loads(got, 0, NULL), *b = json_loads(want, 0, NULL);
	assert_non_null(a);
	assert_non_null(b);
	if (!json_equal(a, b))
		fail_msg("JSON differs:\n got  %s\n want %s", got, want);
	json_decref(a);
	json_decref(b);
}

typedef struct rt_case {
	const char *item;  /* as the list sends it (without group) */
	const char *owner; /* canonical owner expected */
	const char *rdata; /* canonical rdata expected (NULL: don't check) */
} rt_case_t;

static const char tlsa_hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_roundtrip_every_type(void **state)
{
	char tlsa[400];
	snprintf(tlsa, sizeof(tlsa),
	         "{\"type\":\"TLSA\",\"name\":\"mx\",\"port\":\"_25\",\"protocol\":\"_tcp\","
	         "\"usage\":3,\"selector\":1,\"matching\":1,\"associationData\":\"%s\","
	         "\"ttl\":3600}",
	         tlsa_hex);
	const rt_case_t cases[] = {
	        {"{\"type\":\"A\",\"name\":\"www\",\"address\":\"192.0.2.1\",\"ttl\":300}",
	         "www.example.com.", "192.0.2.1"},
	        {"{\"type\":\"AAAA\",\"name\":\"@\",\"address\":\"2001:db8::1\",\"ttl\":60}",
	         "example.com.", "2001:db8::1"},
	        {"{\"type\":\"CNAME\",\"name\":\"shop\",\"cname\":\"shops.example.net\",\"ttl\":"
	         "600}",
	         "shop.example.com.", "shops.example.net."},
	        {"{\"type\":\"MX\",\"name\":\"@\",\"exchange\":\"mx.example.com\",\"preference\":"
	         "10,"
	         "\"ttl\":3600}",
	         "example.com.", "10 mx.example.com."},
	        {"{\"type\":\"TXT\",\"name\":\"_dmarc\",\"value\":\"v=DMARC1; "
	         "p=none\",\"ttl\":3600}",
	         "_dmarc.example.com.", "\"v=DMARC1; p=none\""},
	        {"{\"type\":\"CAA\",\"name\":\"@\",\"flag\":0,\"tag\":\"issue\","
	         "\"value\":\"letsencrypt.org\",\"ttl\":3600}",
	         "example.com.", NULL},
	        {"{\"type\":\"CAA\",\"name\":\"@\",\"flag\":128,\"tag\":\"iodef\","
	         "\"value\":\"mailto:ca@example.com\",\"ttl\":3600}",
	         "example.com.", NULL},
	        {"{\"type\":\"NS\",\"name\":\"sub\",\"nameserver\":\"ns1.example.net\",\"ttl\":"
	         "3600}",
	         "sub.example.com.", "ns1.example.net."},
	        {"{\"type\":\"PTR\",\"name\":\"1.2\",\"pointer\":\"host.example.com\",\"ttl\":"
	         "3600}",
	         "1.2.example.com.", "host.example.com."},
	        {"{\"type\":\"SRV\",\"name\":\"@\",\"service\":\"_submissions\",\"protocol\":\"_"
	         "tcp\","
	         "\"priority\":0,\"weight\":1,\"port\":465,\"target\":\"mail.example.com\","
	         "\"ttl\":3600}",
	         "_submissions._tcp.example.com.", "0 1 465 mail.example.com."},
	        {"{\"type\":\"SRV\",\"name\":\"eu\",\"service\":\"_sip\",\"protocol\":\"_udp\","
	         "\"priority\":10,\"weight\":20,\"port\":5060,\"target\":\"sip.example.org\","
	         "\"ttl\":120}",
	         "_sip._udp.eu.example.com.", "10 20 5060 sip.example.org."},
	        {tlsa, "_25._tcp.mx.example.com.", NULL},
	        {"{\"type\":\"HTTPS\",\"name\":\"@\",\"svcPriority\":1,\"targetName\":\".\","
	         "\"svcParams\":\"alpn=h2,h3\",\"ttl\":300}",
	         "example.com.", NULL},
	        {"{\"type\":\"HTTPS\",\"name\":\"api\",\"svcPriority\":1,"
	         "\"targetName\":\"svc.example.net\",\"svcParams\":\"alpn=h2\",\"port\":\"_8443\","
	         "\"scheme\":\"_https\",\"ttl\":300}",
	         "_8443._https.api.example.com.", NULL},
	        {"{\"type\":\"SVCB\",\"name\":\"_dns\",\"svcPriority\":0,"
	         "\"targetName\":\"dns.example.net\",\"svcParams\":\"\",\"ttl\":300}",
	         "_dns.example.com.", "0 dns.example.net."},
	};
	(void)state;
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_dns_zone_t z;
		assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
		const tw_dns_rr_t *r = item_in(&z, cases[i].item);
		if (strcmp(r->owner, cases[i].owner) != 0)
			fail_msg("case %zu owner %s, want %s", i, r->owner, cases[i].owner);
		if (cases[i].rdata && strcmp(r->rdata, cases[i].rdata) != 0)
			fail_msg("case %zu rdata %s, want %s", i, r->rdata, cases[i].rdata);
		assert_int_equal(r->flags & TW_DNS_RR_UNMANAGED,
		                 TW_DNS_RR_UNMANAGED); /* no group */
		char *out = item_out(r, true);
		assert_same_json(out, cases[i].item);
		free(out);
		tw_dns_zone_release(&z);
	}
}

/* A long TXT with quotes, a backslash and UTF-8: split into 255-byte
 * strings on the way in, the raw bytes again on the way out. */
static void test_txt_long_and_escapes(void **state)
{
	(void)state;
	char val[700];
	size_t n = 0;
	n += (size_t)snprintf(val + n, sizeof(val) - n,
	                      "v=DKIM1; k=rsa; n=\\\"q\\\" \\\\ caf\\u00e9 p=");
	while (n < 600)
		val[n++] = 'A';
	val[n] = '\0';
	char item[900];
	snprintf(item, sizeof(item),
	         "{\"type\":\"TXT\",\"name\":\"sel._domainkey\",\"value\":\"%s\",\"ttl\":3600,"
	         "\"group\":{\"type\":\"custom\"}}",
	         val);
	tw_dns_zone_t z;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	const tw_dns_rr_t *r = item_in(&z, item);
	assert_int_equal(r->flags & TW_DNS_RR_UNMANAGED, 0);
	assert_non_null(r->txt);
	assert_int_equal(strncmp(r->txt, "v=DKIM1; k=rsa; n=\"q\" \\ caf\xc3\xa9 p=AAA", 35), 0);
	/* 3 character-strings on the wire: 255 + 255 + the rest */
	assert_int_equal(ldns_rr_rd_count(r->rr), 3);
	assert_int_equal(ldns_rdf_size(ldns_rr_rdf(r->rr, 0)), 256);
	char *out = item_out(r, false);
	json_t *o = json_loads(out, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "value")), r->txt);
	assert_null(json_object_get(o, "ttl"));
	json_decref(o);
	free(out);
	tw_dns_zone_release(&z);
}

/* Records from a zone file -> the items the API documents (docs §7). */
static void test_record_to_item(void **state)
{
	(void)state;
	char tlsa_line[200], tlsa_item[300];
	snprintf(tlsa_line, sizeof(tlsa_line), "_25._tcp.mx 3600 IN TLSA 3 1 1 %s", tlsa_hex);
	for (char *p = strstr(tlsa_line, tlsa_hex); p && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	snprintf(tlsa_item, sizeof(tlsa_item),
	         "{\"type\":\"TLSA\",\"name\":\"mx\",\"port\":\"_25\",\"protocol\":\"_tcp\","
	         "\"usage\":3,\"selector\":1,\"matching\":1,\"associationData\":\"%s\"}",
	         tlsa_hex);
	const struct {
		const char *line, *item;
		bool ttl;
	} cases[] = {
	        {"_acme-challenge 60 IN TXT \"XKrxCPBs\"",
	         "{\"type\":\"TXT\",\"name\":\"_acme-challenge\",\"value\":\"XKrxCPBs\",\"ttl\":"
	         "60}",
	         true},
	        {"@ 3600 IN MX 10 MX.Example.COM.",
	         "{\"type\":\"MX\",\"name\":\"@\",\"exchange\":\"mx.example.com\",\"preference\":"
	         "10}",
	         false},
	        {"WWW 300 IN CNAME host.example.net.",
	         "{\"type\":\"CNAME\",\"name\":\"www\",\"cname\":\"host.example.net\"}", false},
	        {tlsa_line, tlsa_item, false},
	        {"@ 3600 IN CAA 0 ISSUE \"letsencrypt.org\"",
	         "{\"type\":\"CAA\",\"name\":\"@\",\"flag\":0,\"tag\":\"issue\","
	         "\"value\":\"letsencrypt.org\",\"ttl\":3600}",
	         true},
	        {"*._tcp.mx 300 IN TLSA 3 1 1 " /* port "*" (SPEC) */
	         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	         NULL, false},
	        {"*.dev 300 IN A 192.0.2.7",
	         "{\"type\":\"A\",\"name\":\"*.dev\",\"address\":\"192.0.2.7\"}", false},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_dns_zone_t z;
		tw_diags_t d = {0};
		assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
		if (tw_dns_zone_add_text(&z, cases[i].line, NULL, 0, 0, &d) != 0)
			fail_msg("zone refused %s: %s", cases[i].line, d.n ? d.v[0].msg : "");
		char *out = item_out(&z.v[0], cases[i].ttl);
		if (cases[i].item) {
			assert_same_json(out, cases[i].item);
		} else {
			json_t *o = json_loads(out, 0, NULL);
			assert_string_equal(json_string_value(json_object_get(o, "port")), "*");
			assert_string_equal(json_string_value(json_object_get(o, "name")), "mx");
			json_decref(o);
		}
		free(out);
		tw_diags_release(&d);
		tw_dns_zone_release(&z);
	}
}

/* TLSA "port" as the JSON number 25 (NC-SDK normalizeRecordPort). */
static void test_tlsa_numeric_port(void **state)
{
	(void)state;
	char item[400];
	snprintf(item, sizeof(item),
	         "{\"type\":\"TLSA\",\"name\":\"@\",\"port\":25,\"protocol\":\"_tcp\",\"usage\":3,"
	         "\"selector\":1,\"matching\":1,\"associationData\":\"%s\",\"ttl\":300,"
	         "\"group\":{\"type\":\"custom\"}}",
	         tlsa_hex);
	tw_dns_zone_t z;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	const tw_dns_rr_t *r = item_in(&z, item);
	assert_string_equal(r->owner, "_25._tcp.example.com.");
	char *out = item_out(r, false);
	json_t *o = json_loads(out, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "port")), "_25");
	assert_string_equal(json_string_value(json_object_get(o, "name")), "@");
	json_decref(o);
	free(out);
	tw_dns_zone_release(&z);
}

static void test_groups_alias_apex_ns(void **state)
{
	(void)state;
	const char *page =
	        "{\"items\":["
	        "{\"type\":\"A\",\"name\":\"@\",\"address\":\"192.0.2.1\",\"ttl\":300,"
	        "\"group\":{\"type\":\"product\"}},"
	        "{\"type\":\"A\",\"name\":\"ns1\",\"address\":\"192.0.2.2\",\"ttl\":300,"
	        "\"group\":{\"type\":\"personalNs\"}},"
	        "{\"type\":\"ALIAS\",\"name\":\"www\",\"aliasName\":\"lb.example.net\",\"ttl\":300,"
	        "\"group\":{\"type\":\"custom\"}},"
	        "{\"type\":\"NS\",\"name\":\"@\",\"nameserver\":\"launch1.spaceship.net\","
	        "\"ttl\":3600,\"group\":{\"type\":\"custom\"}},"
	        "{\"type\":\"a\",\"name\":\"Mail\",\"address\":\"192.0.2.3\","
	        "\"group\":{\"type\":\"custom\"}}"
	        "],\"total\":5}";
	tw_dns_zone_t z;
	tw_dns_err_t err = {0};
	size_t n;
	long long total;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_equal(tw_dns_spaceship_parse_page(&z, page, strlen(page), 0, &n, &total, &err),
	                 0);
	assert_int_equal(n, 5);
	assert_int_equal(total, 5);
	assert_int_equal(z.n, 5);
	assert_true(z.v[0].flags & TW_DNS_RR_UNMANAGED);
	assert_string_equal(z.v[0].note, "spaceship product record");
	assert_true(z.v[1].flags & TW_DNS_RR_UNMANAGED);
	assert_string_equal(z.v[1].note, "spaceship personal nameserver record");
	assert_null(z.v[2].rr);
	assert_true(z.v[2].flags & TW_DNS_RR_UNMANAGED);
	assert_string_equal(z.v[2].note, "ALIAS (spaceship only)");
	assert_string_equal(z.v[2].owner, "www.example.com.");
	assert_non_null(strstr(z.v[2].rdata, "lb.example.net."));
	assert_true(z.v[3].flags & TW_DNS_RR_UNMANAGED);
	assert_int_equal(z.v[4].flags & TW_DNS_RR_UNMANAGED, 0);
	assert_string_equal(z.v[4].owner, "mail.example.com.");
	assert_int_equal(z.v[4].ttl, 3600); /* absent ttl */
	char why[300];
	assert_false(tw_dns_spaceship_can_write(&z.v[2], DOM ".", why, sizeof(why)));
	assert_non_null(strstr(why, "ALIAS"));
	tw_dns_zone_release(&z);
}

/* Items the client must refuse, naming the index and field, never crash. */
static void test_bad_items(void **state)
{
	(void)state;
	const struct {
		const char *page, *want;
	} cases[] = {
	        {"{\"items\":[{\"type\":\"A\",\"name\":\"a\",\"address\":\"1.2.3.4\"},"
	         "{\"type\":\"A\",\"name\":\"b\"}],\"total\":2}",
	         "items[1].address: missing"},
	        {"{\"items\":[{\"type\":\"A\",\"name\":\"a b\",\"address\":\"1.2.3.4\"}]}",
	         "items[0].name"},
	        {"{\"items\":[{\"type\":\"MX\",\"name\":\"@\",\"exchange\":\"mx.example.com\","
	         "\"preference\":70000}]}",
	         "items[0].preference"},
	        {"{\"items\":[{\"type\":\"CNAME\",\"name\":\"x\",\"cname\":\"a\\nb IN A "
	         "1.2.3.4\"}]}",
	         "items[0].cname"},
	        {"{\"items\":[{\"type\":\"AAAA\",\"name\":\"x\",\"address\":\"1.2.3.4\"}]}",
	         "items[0].address: not an IPv6"},
	        {"{\"items\":[{\"type\":\"TLSA\",\"name\":\"x\",\"port\":\"_99999\","
	         "\"protocol\":\"_tcp\"}]}",
	         "items[0].port"},
	        {"{\"items\":[{\"type\":\"HTTPS\",\"name\":\"x\",\"svcPriority\":1,"
	         "\"targetName\":\".\",\"svcParams\":\"alpn=h2 ; x\"}]}",
	         "items[0].svcParams"},
	        {"{\"items\":[7]}", "items[0]: not an object"},
	        {"{\"items\":{}}", "\"items\" array"},
	        {"[1,2]", "\"items\" array"},
	        {"{\"items\":[], \"total\":\"x\"}", "total"},
	        {"not json", "isn't JSON"},
	        {"{\"items\":[{\"type\":\"A\",\"name\":\"a\",\"address\":\"1.2.3.4\","
	         "\"ttl\":-5}]}",
	         "items[0].ttl"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_dns_zone_t z;
		tw_dns_err_t err = {0};
		size_t n;
		long long total;
		assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
		int rc = tw_dns_spaceship_parse_page(&z, cases[i].page, strlen(cases[i].page), 0,
		                                     &n, &total, &err);
		assert_int_not_equal(rc, 0);
		assert_int_equal(err.exit_code, 3);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: %s (want %s)", i, err.msg, cases[i].want);
		tw_dns_zone_release(&z);
	}
}

static void test_can_write_refusals(void **state)
{
	(void)state;
	const struct {
		const char *line, *want;
	} cases[] = {
	        {"@ 300 IN SSHFP 4 2 "
	         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	         "can't hold SSHFP"},
	        {"@ 300 IN CAA 0 contactemail \"a@example.com\"", "issue, issuewild and iodef"},
	        {"@ 300 IN CAA 1 issue \"letsencrypt.org\"", "flags 0 and 128"},
	        {"@ 3600 IN NS ns1.example.net.", "registrar"},
	        {"sip 300 IN SRV 0 1 5060 sip.example.net.", "_service._proto"},
	        {"_sip.x 300 IN SRV 0 1 5060 sip.example.net.", "_service._proto"},
	        {"mx 300 IN TLSA 3 1 1 "
	         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	         "_port._proto"},
	        {"@ 300 IN MX 10 *.example.com.", "wildcard"},
	        {"@ 300 IN MX 0 .", "null MX"},
	        {"x 300 IN TXT \"\"", "1..65535"},
	        {"x 300 IN TXT \"\\255\\254\"", "UTF-8"},
	        {"_25._tcp 300 IN TLSA 3 1 1 abcd", "64..65535"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_dns_zone_t z;
		tw_diags_t d = {0};
		char why[300] = "";
		assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
		if (tw_dns_zone_add_text(&z, cases[i].line, NULL, 0, 0, &d) != 0)
			fail_msg("zone refused %s: %s", cases[i].line, d.n ? d.v[0].msg : "");
		assert_false(tw_dns_spaceship_can_write(&z.v[0], DOM ".", why, sizeof(why)));
		if (!strstr(why, cases[i].want))
			fail_msg("case %zu (%s): %s (want %s)", i, cases[i].line, why,
			         cases[i].want);
		tw_diags_release(&d);
		tw_dns_zone_release(&z);
	}
	/* The apex as a target is sent as its full name, not the literal "@"
	 * the API refuses, so these are writable (single-host mail). */
	static const char *const apex_ok[] = {"www 300 IN CNAME example.com.",
	                                      "@ 300 IN MX 10 example.com.",
	                                      "_sip._tcp 300 IN SRV 0 1 5060 example.com."};
	for (size_t i = 0; i < TW_ARRAY_LEN(apex_ok); i++) {
		tw_dns_zone_t z;
		tw_diags_t d = {0};
		char why[300] = "";
		assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
		assert_int_equal(tw_dns_zone_add_text(&z, apex_ok[i], NULL, 0, 0, &d), 0);
		if (!tw_dns_spaceship_can_write(&z.v[0], DOM ".", why, sizeof(why)))
			fail_msg("%s refused: %s", apex_ok[i], why);
		tw_dns_zone_release(&z);
	}
	/* a long TXT (as long as DNS allows: RDLENGTH <= 65535) is fine; a value
	 * over SPEC's 65535 bytes (only a record built by hand) is not */
	tw_dns_zone_t z;
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	size_t big = 64000;
	char *line = malloc(big * 2);
	size_t o = (size_t)snprintf(line, big * 2, "x 300 IN TXT ");
	for (size_t i = 0; i < big / 250; i++) {
		line[o++] = '"';
		memset(line + o, 'a', 250);
		o += 250;
		line[o++] = '"';
		line[o++] = ' ';
	}
	line[o] = '\0';
	assert_int_equal(tw_dns_zone_add_text(&z, line, NULL, 0, 0, &d), 0);
	assert_int_equal(z.v[0].txt_len, big);
	char why[300];
	assert_true(tw_dns_spaceship_can_write(&z.v[0], DOM ".", why, sizeof(why)));
	tw_dns_rr_t fake = z.v[0];
	char *txt = calloc(1, 70001);
	memset(txt, 'a', 70000);
	fake.txt = txt;
	fake.txt_len = 70000;
	assert_false(tw_dns_spaceship_can_write(&fake, DOM ".", why, sizeof(why)));
	assert_non_null(strstr(why, "1..65535"));
	free(txt);
	free(line);
	tw_diags_release(&d);
	tw_dns_zone_release(&z);
}

/* ---- a tiny Spaceship API --------------------------------------------- */

typedef struct req {
	char method[16];
	char url[256];
	char take[16], skip[16];
	char key[128], secret[128], ctype[64];
	char *body;
	size_t len;
} req_t;

typedef struct canned {
	int status;
	char body[2048];
	const char *hdr[6]; /* name, value pairs */
} canned_t;

typedef struct srv srv_t;
typedef void (*script_fn)(srv_t *s, const req_t *rq, int n, canned_t *out);

struct srv {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu;
	req_t reqs[16];
	int n; /* requests seen */
	script_fn script;
	int total;   /* for the paging script */
	int fail_at; /* batch index that fails */
};

static srv_t srv;

typedef struct conn {
	req_t rq;
} conn_t;

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
	srv_t *s = cls;
	conn_t *cn = *con_cls;
	(void)version;
	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		tw_strlcpy(cn->rq.method, method, sizeof(cn->rq.method));
		tw_strlcpy(cn->rq.url, url, sizeof(cn->rq.url));
		const char *v;
#define GETV(kind, name, dst)                                                                      \
	if ((v = MHD_lookup_connection_value(c, kind, name)))                                      \
		tw_strlcpy(dst, v, sizeof(dst));
		GETV(MHD_GET_ARGUMENT_KIND, "take", cn->rq.take);
		GETV(MHD_GET_ARGUMENT_KIND, "skip", cn->rq.skip);
		GETV(MHD_HEADER_KIND, "X-API-Key", cn->rq.key);
		GETV(MHD_HEADER_KIND, "X-API-Secret", cn->rq.secret);
		GETV(MHD_HEADER_KIND, "Content-Type", cn->rq.ctype);
#undef GETV
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size) {
		cn->rq.body = realloc(cn->rq.body, cn->rq.len + *upload_size + 1);
		memcpy(cn->rq.body + cn->rq.len, upload, *upload_size);
		cn->rq.len += *upload_size;
		cn->rq.body[cn->rq.len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	canned_t out = {.status = 204};
	pthread_mutex_lock(&s->mu);
	int n = s->n++;
	if (n < (int)TW_ARRAY_LEN(s->reqs)) {
		s->reqs[n] = cn->rq;
		cn->rq.body = NULL; /* moved */
	}
	pthread_mutex_unlock(&s->mu);
	s->script(s, n < (int)TW_ARRAY_LEN(s->reqs) ? &s->reqs[n] : &cn->rq, n, &out);
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(out.body), out.body, MHD_RESPMEM_MUST_COPY);
	for (int i = 0; i + 1 < 6 && out.hdr[i]; i += 2)
		MHD_add_response_header(r, out.hdr[i], out.hdr[i + 1]);
	if (out.body[0])
		MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)out.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	conn_t *cn = *con_cls;
	(void)cls, (void)c, (void)toe;
	if (cn) {
		free(cn->rq.body);
		free(cn);
	}
	*con_cls = NULL;
}

static void srv_start(script_fn script)
{
	for (int i = 0; i < srv.n && i < (int)TW_ARRAY_LEN(srv.reqs); i++)
		free(srv.reqs[i].body);
	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	srv.script = script;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
	                         on_req, &srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                         MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	assert_non_null(srv.d);
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(di);
	srv.port = di->port;
}

static void srv_stop(void)
{
	if (srv.d)
		MHD_stop_daemon(srv.d);
	srv.d = NULL;
}

static int teardown(void **state)
{
	(void)state;
	srv_stop();
	for (int i = 0; i < srv.n && i < (int)TW_ARRAY_LEN(srv.reqs); i++) {
		free(srv.reqs[i].body);
		srv.reqs[i].body = NULL;
	}
	srv.n = 0;
	return 0;
}

/* Collected trace lines. */
static char traces[64][600];
static int ntraces;

static void on_trace(void *ctx, const char *line)
{
	(void)ctx;
	if (ntraces < 64)
		tw_strlcpy(traces[ntraces++], line, sizeof(traces[0]));
}

static tw_dns_provider_t *provider(int max_retries)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/", srv.port);
	tw_dns_spaceship_opts_t o = {.api_url = url,
	                             .key = KEY,
	                             .secret = SECRET,
	                             .timeout_ms = 5000,
	                             .max_retries = max_retries};
	tw_dns_provider_t *p = NULL;
	tw_dns_err_t err;
	if (tw_dns_spaceship_new(DOM, &o, &p, &err) != 0)
		fail_msg("new: %s", err.msg);
	assert_string_equal(p->origin, "example.com.");
	ntraces = 0;
	p->trace = on_trace;
	return p;
}

static void assert_no_secret(const tw_dns_err_t *err)
{
	assert_null(strstr(err->msg, SECRET));
	assert_null(strstr(err->msg, KEY));
	assert_null(strstr(err->code, SECRET));
	for (int i = 0; i < ntraces; i++) {
		assert_null(strstr(traces[i], SECRET));
		assert_null(strstr(traces[i], KEY));
	}
}

static void assert_auth(const req_t *rq)
{
	assert_string_equal(rq->key, KEY);
	assert_string_equal(rq->secret, SECRET);
}

/* A zone of srv.total A records h0..hN, one page per take/skip. */
static void script_pages(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)n;
	int take = atoi(rq->take), skip = atoi(rq->skip);
	size_t o = 0;
	out->status = 200;
	o += (size_t)snprintf(out->body, sizeof(out->body), "{\"total\":%d,\"items\":[", s->total);
	/* bodies are small: emit at most 10 items per page, like a server with
	 * a smaller page size than asked; the client must keep paging. */
	int end = skip + (take < 10 ? take : 10);
	if (end > s->total)
		end = s->total;
	for (int i = skip; i < end; i++)
		o += (size_t)snprintf(
		        out->body + o, sizeof(out->body) - o,
		        "%s{\"type\":\"A\",\"name\":\"h%d\",\"address\":\"10.0.0.%d\","
		        "\"ttl\":300,\"group\":{\"type\":\"custom\"}}",
		        i > skip ? "," : "", i, i % 250);
	snprintf(out->body + o, sizeof(out->body) - o, "]}");
}

static void test_list_paging(void **state)
{
	(void)state;
	srv_start(script_pages);
	srv.total = 25;
	tw_dns_provider_t *p = provider(1);
	tw_dns_zone_t z;
	tw_dns_err_t err;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_equal(p->ops->list(p, &z, &err), 0);
	assert_int_equal(z.n, 25);
	assert_int_equal(srv.n, 3);
	const char *skips[] = {"0", "10", "20"};
	for (int i = 0; i < 3; i++) {
		assert_string_equal(srv.reqs[i].method, "GET");
		assert_string_equal(srv.reqs[i].url, "/api/v1/dns/records/example.com");
		assert_string_equal(srv.reqs[i].take, "500");
		assert_string_equal(srv.reqs[i].skip, skips[i]);
		assert_auth(&srv.reqs[i]);
	}
	assert_string_equal(z.v[24].owner, "h24.example.com.");
	/* the trace: one line per request, the documented shape */
	assert_int_equal(ntraces, 3);
	assert_int_equal(
	        strncmp(traces[0], "GET /dns/records/example.com?take=500&skip=0 -> 200 (", 53), 0);
	assert_non_null(strstr(traces[0], " ms)"));
	assert_no_secret(&err);
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
}

/* total says more than there is: an empty page ends the listing. */
static void test_list_stops_at_total(void **state)
{
	(void)state;
	srv_start(script_pages);
	srv.total = 5;
	tw_dns_provider_t *p = provider(1);
	tw_dns_zone_t z;
	tw_dns_err_t err;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_equal(p->ops->list(p, &z, &err), 0);
	assert_int_equal(z.n, 5);
	assert_int_equal(srv.n, 1); /* collected >= total after one page */
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
}

static void script_lying_total(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)s, (void)rq;
	out->status = 200;
	if (n == 0)
		snprintf(out->body, sizeof(out->body),
		         "{\"total\":900,\"items\":[{\"type\":\"TXT\",\"name\":\"@\","
		         "\"value\":\"v=spf1 -all\",\"group\":{\"type\":\"custom\"}}]}");
	else
		snprintf(out->body, sizeof(out->body), "{\"total\":900,\"items\":[]}");
}

static void test_list_stops_on_empty_page(void **state)
{
	(void)state;
	srv_start(script_lying_total);
	tw_dns_provider_t *p = provider(1);
	tw_dns_zone_t z;
	tw_dns_err_t err;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_equal(p->ops->list(p, &z, &err), 0);
	assert_int_equal(z.n, 1);
	assert_int_equal(srv.n, 2);
	assert_string_equal(srv.reqs[1].skip, "1");
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
}

static void script_bad_item(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)s, (void)rq, (void)n;
	out->status = 200;
	snprintf(out->body, sizeof(out->body),
	         "{\"total\":2,\"items\":[{\"type\":\"A\",\"name\":\"a\",\"address\":\"1.2.3.4\","
	         "\"group\":{\"type\":\"custom\"}},{\"type\":\"MX\",\"name\":\"@\","
	         "\"exchange\":\"mx.example.com\",\"group\":{\"type\":\"custom\"}}]}");
}

static void test_list_bad_item(void **state)
{
	(void)state;
	srv_start(script_bad_item);
	tw_dns_provider_t *p = provider(1);
	tw_dns_zone_t z;
	tw_dns_err_t err;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_not_equal(p->ops->list(p, &z, &err), 0);
	assert_int_equal(err.exit_code, 3);
	assert_non_null(strstr(err.msg, "items[1].preference"));
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
}

static void script_status(srv_t *s, const req_t *rq, int n, canned_t *out);
static int want_status;
static const char *want_body = "";
static const char *want_code = "application.unauthorized";

static void script_status(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)s, (void)rq, (void)n;
	out->status = want_status;
	snprintf(out->body, sizeof(out->body), "%s", want_body);
	out->hdr[0] = "spaceship-error-code";
	out->hdr[1] = want_code;
	out->hdr[2] = "spaceship-operation-id";
	out->hdr[3] = "ab12cd34ef56gh78";
}

static int list_with(int status, const char *body, const char *code, tw_dns_err_t *err)
{
	want_status = status;
	want_body = body;
	want_code = code;
	srv_start(script_status);
	tw_dns_provider_t *p = provider(1);
	tw_dns_zone_t z;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	int rc = p->ops->list(p, &z, err);
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);
	srv_stop();
	return rc;
}

static void test_error_mapping(void **state)
{
	(void)state;
	tw_dns_err_t err;

	assert_int_not_equal(
	        list_with(401, "{\"detail\":\"The user's request was not properly authorized.\"}",
	                  "application.unauthorized", &err),
	        0);
	assert_int_equal(err.exit_code, 1);
	assert_int_equal(err.status, 401);
	assert_string_equal(err.code, "application.unauthorized");
	assert_string_equal(err.op_id, "ab12cd34ef56gh78");
	assert_non_null(strstr(err.msg, "Spaceship refused the credentials (401 "
	                                "application.unauthorized): the key or secret is wrong"));
	assert_non_null(strstr(err.msg, "IP-restricted"));
	assert_no_secret(&err);

	assert_int_not_equal(list_with(403, "{\"detail\":\"nope\"}", "application.forbidden", &err),
	                     0);
	assert_int_equal(err.exit_code, 1);
	assert_non_null(strstr(err.msg, "dnsrecords:read/write"));

	assert_int_not_equal(
	        list_with(404, "{\"detail\":\"SOA record for domain example.com not found.\"}",
	                  "business.notFound", &err),
	        0);
	assert_int_equal(err.exit_code, 3);
	assert_non_null(strstr(err.msg, "no Spaceship-hosted zone"));

	assert_int_not_equal(list_with(500, "{\"detail\":\"boom\"}", "infrastructure.error", &err),
	                     0);
	assert_int_equal(err.exit_code, 3);
	assert_false(err.maybe_applied); /* a read */
	assert_non_null(strstr(err.msg, "boom"));

	/* a server that echoes the secret back: scrubbed */
	assert_int_not_equal(list_with(400, "{\"detail\":\"bad header " SECRET "\"}",
	                               "application.badRequest", &err),
	                     0);
	assert_int_equal(err.exit_code, 2);
	assert_non_null(strstr(err.msg, "bad header ***"));
	assert_no_secret(&err);
}

/* Records for calls. */
typedef struct recs {
	tw_dns_zone_t z;
	const tw_dns_rr_t **v;
	size_t n;
} recs_t;

static void recs_make(recs_t *r, size_t n)
{
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_zone_init(&r->z, DOM), 0);
	for (size_t i = 0; i < n; i++) {
		char line[128];
		snprintf(line, sizeof(line), "h%zu 300 IN TXT \"value %zu\"", i, i);
		assert_int_equal(tw_dns_zone_add_text(&r->z, line, NULL, 0, 0, &d), 0);
	}
	r->v = calloc(n, sizeof(*r->v));
	for (size_t i = 0; i < n; i++)
		r->v[i] = &r->z.v[i];
	r->n = n;
}

static void recs_free(recs_t *r)
{
	free(r->v);
	tw_dns_zone_release(&r->z);
}

static int call_with(tw_dns_provider_t *p, recs_t *r, tw_dns_call_kind_t kind, tw_dns_err_t *err)
{
	tw_dns_call_t c = {.kind = kind, .rrs = r->v, .n = r->n};
	return p->ops->call(p, &r->z, &c, err);
}

static void test_put_and_delete_bodies(void **state)
{
	(void)state;
	want_status = 204;
	want_body = "";
	srv_start(script_status);
	tw_dns_provider_t *p = provider(1);
	recs_t r;
	tw_dns_err_t err;
	recs_make(&r, 3);
	assert_int_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(call_with(p, &r, TW_DNS_CALL_DELETE, &err), 0);
	assert_int_equal(srv.n, 2);

	const req_t *put = &srv.reqs[0], *del = &srv.reqs[1];
	assert_string_equal(put->method, "PUT");
	assert_string_equal(put->url, "/api/v1/dns/records/example.com");
	assert_string_equal(put->ctype, "application/json");
	assert_auth(put);
	json_t *j = json_loads(put->body, 0, NULL);
	assert_true(json_is_object(j));
	assert_true(json_is_true(json_object_get(j, "force")));
	json_t *items = json_object_get(j, "items");
	assert_int_equal(json_array_size(items), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "value")),
	                    "value 1");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "ttl")), 300);
	json_decref(j);

	assert_string_equal(del->method, "DELETE");
	assert_string_equal(del->url, "/api/v1/dns/records/example.com");
	assert_string_equal(del->ctype, "application/json");
	assert_auth(del);
	j = json_loads(del->body, 0, NULL);
	assert_true(json_is_array(j)); /* a bare array: an object gets 422 */
	assert_int_equal(json_array_size(j), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *it = json_array_get(j, i);
		assert_null(json_object_get(it, "ttl"));
		assert_string_equal(json_string_value(json_object_get(it, "type")), "TXT");
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "name")), "h2");
	json_decref(j);
	assert_int_equal(ntraces, 2);
	assert_int_equal(strncmp(traces[0], "PUT /dns/records/example.com -> 204 (", 37), 0);
	assert_no_secret(&err);
	recs_free(&r);
	tw_dns_provider_destroy(p);
}

static void script_batches(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)rq;
	out->status = n == s->fail_at ? 500 : 204;
	if (out->status == 500) {
		snprintf(out->body, sizeof(out->body), "{\"detail\":\"internal\"}");
		out->hdr[0] = "spaceship-operation-id";
		out->hdr[1] = "op0000000000009z";
	}
}

static size_t body_items(const req_t *rq, bool put)
{
	json_t *j = json_loads(rq->body, 0, NULL);
	assert_non_null(j);
	size_t n = json_array_size(put ? json_object_get(j, "items") : j);
	json_decref(j);
	return n;
}

static void test_batching(void **state)
{
	(void)state;
	srv_start(script_batches);
	srv.fail_at = -1;
	tw_dns_provider_t *p = provider(1);
	recs_t r;
	tw_dns_err_t err;
	recs_make(&r, 1201);
	assert_int_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(srv.n, 3);
	assert_int_equal(body_items(&srv.reqs[0], true), 500);
	assert_int_equal(body_items(&srv.reqs[1], true), 500);
	assert_int_equal(body_items(&srv.reqs[2], true), 201);
	assert_int_equal(call_with(p, &r, TW_DNS_CALL_DELETE, &err), 0);
	assert_int_equal(srv.n, 6);
	assert_int_equal(body_items(&srv.reqs[3], false), 500);
	assert_int_equal(body_items(&srv.reqs[5], false), 201);
	tw_dns_provider_destroy(p);
	srv_stop();

	/* the second batch fails with a 5xx: progress and maybe_applied */
	srv_start(script_batches);
	srv.fail_at = 1;
	p = provider(1);
	assert_int_not_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(srv.n, 2); /* stopped after the failed batch */
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 500);
	assert_true(err.maybe_applied);
	assert_string_equal(err.op_id, "op0000000000009z");
	assert_non_null(strstr(err.msg, "batch 2 of 3"));
	assert_non_null(strstr(err.msg, "500 of 1201 records of this call were applied"));
	assert_no_secret(&err);
	recs_free(&r);
	tw_dns_provider_destroy(p);
}

static void script_429(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)s, (void)rq;
	if (n < s->fail_at) {
		out->status = 429;
		snprintf(out->body, sizeof(out->body), "{\"detail\":\"slow down\"}");
		out->hdr[0] = "Retry-After";
		out->hdr[1] = "1";
		out->hdr[2] = "spaceship-error-code";
		out->hdr[3] = "application.rateLimited";
	}
}

static void test_429_retry_after(void **state)
{
	(void)state;
	srv_start(script_429);
	srv.fail_at = 1; /* one 429, then 204 */
	tw_dns_provider_t *p = provider(3);
	recs_t r;
	tw_dns_err_t err;
	recs_make(&r, 2);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(srv.n, 2);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 950);
	assert_string_equal(srv.reqs[1].body, srv.reqs[0].body); /* the same request again */
	tw_dns_provider_destroy(p);
	srv_stop();

	/* always 429: give up after max_retries, exit 3, never "maybe applied" */
	srv_start(script_429);
	srv.fail_at = 100;
	p = provider(1);
	assert_int_not_equal(call_with(p, &r, TW_DNS_CALL_DELETE, &err), 0);
	assert_int_equal(srv.n, 2);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 429);
	assert_false(err.maybe_applied);
	assert_string_equal(err.code, "application.rateLimited");
	recs_free(&r);
	tw_dns_provider_destroy(p);
}

static void test_write_errors(void **state)
{
	(void)state;
	recs_t r;
	tw_dns_err_t err;
	recs_make(&r, 2);

	/* DELETE of a record that is gone: 404 is success (NC-SDK) */
	want_status = 404;
	want_body = "{\"detail\":\"Record not found.\"}";
	want_code = "business.notFound";
	srv_start(script_status);
	tw_dns_provider_t *p = provider(1);
	assert_int_equal(call_with(p, &r, TW_DNS_CALL_DELETE, &err), 0);
	tw_dns_provider_destroy(p);
	srv_stop();

	/* 5xx on a write: the outcome is unknown */
	want_status = 503;
	want_body = "{\"detail\":\"down\"}";
	want_code = "infrastructure.unavailable";
	srv_start(script_status);
	p = provider(1);
	assert_int_not_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 503);
	assert_true(err.maybe_applied);
	assert_null(strstr(err.msg, "batch")); /* one batch: no progress text */
	tw_dns_provider_destroy(p);
	srv_stop();

	/* 422: input refused, with data[].field/details */
	want_status = 422;
	want_body = "{\"detail\":\"Validation failed\",\"data\":[{\"field\":\"items[0].name\","
	            "\"details\":\"The domain name contains invalid characters\"}]}";
	want_code = "business.validation";
	srv_start(script_status);
	p = provider(1);
	assert_int_not_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(err.exit_code, 2);
	assert_false(err.maybe_applied);
	assert_non_null(
	        strstr(err.msg, "items[0].name: The domain name contains invalid characters"));
	assert_no_secret(&err);
	tw_dns_provider_destroy(p);
	srv_stop();

	/* a record the API can't hold: refused before anything is sent */
	srv_start(script_status);
	p = provider(1);
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_zone_add_text(&r.z, "@ 300 IN NS ns1.example.net.", NULL, 0, 0, &d),
	                 0);
	const tw_dns_rr_t *one[] = {&r.z.v[r.z.n - 1]};
	tw_dns_call_t c = {.kind = TW_DNS_CALL_PUT, .rrs = one, .n = 1};
	assert_int_not_equal(p->ops->call(p, &r.z, &c, &err), 0);
	assert_int_equal(err.exit_code, 2);
	assert_int_equal(srv.n, 0);
	assert_non_null(strstr(err.msg, "registrar"));
	tw_dns_provider_destroy(p);
	srv_stop();

	/* nothing listening: exit 3; a refused connection applied nothing */
	srv_start(script_status);
	uint16_t port = srv.port;
	srv_stop();
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1", port);
	tw_dns_spaceship_opts_t o = {.api_url = url, .key = KEY, .secret = SECRET};
	assert_int_equal(tw_dns_spaceship_new(DOM, &o, &p, &err), 0);
	assert_int_not_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 0);
	assert_false(err.maybe_applied);
	assert_no_secret(&err);
	tw_dns_provider_destroy(p);
	tw_diags_release(&d);
	recs_free(&r);
}

static void script_slow(srv_t *s, const req_t *rq, int n, canned_t *out)
{
	(void)s, (void)rq, (void)n;
	struct timespec ts = {.tv_sec = 1};
	nanosleep(&ts, NULL);
	out->status = 204;
}

/* A timeout: a write's outcome is unknown, a read's is just a failure. */
static void test_timeout(void **state)
{
	(void)state;
	srv_start(script_slow);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1", srv.port);
	tw_dns_spaceship_opts_t o = {
	        .api_url = url, .key = KEY, .secret = SECRET, .timeout_ms = 300};
	tw_dns_provider_t *p;
	tw_dns_err_t err;
	recs_t r;
	recs_make(&r, 1);
	assert_int_equal(tw_dns_spaceship_new(DOM, &o, &p, &err), 0);
	assert_int_not_equal(call_with(p, &r, TW_DNS_CALL_PUT, &err), 0);
	assert_int_equal(err.exit_code, 3);
	assert_int_equal(err.status, 0);
	assert_true(err.maybe_applied);
	assert_non_null(strstr(err.msg, "may or may not have been applied"));
	tw_dns_zone_t z;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_not_equal(p->ops->list(p, &z, &err), 0);
	assert_int_equal(err.exit_code, 3);
	assert_false(err.maybe_applied);
	tw_dns_zone_release(&z);
	recs_free(&r);
	tw_dns_provider_destroy(p);
}

static void test_new_and_url_policy(void **state)
{
	(void)state;
	tw_dns_provider_t *p = NULL;
	tw_dns_err_t err;
	const struct {
		const char *url;
		int rc_zero;
	} cases[] = {
	        {"http://127.0.0.1:8080/api/v1", 1},
	        {"http://127.9.9.9/api", 1},
	        {"http://[::1]:9/api", 1},
	        {"http://localhost:9/", 1},
	        {"https://spaceship.dev/api/v1", 1},
	        {"http://spaceship.dev/api/v1", 0},
	        {"http://10.0.0.1/api", 0},
	        {"ftp://127.0.0.1/", 0},
	        {"http://128.0.0.1/", 0},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		tw_dns_spaceship_opts_t o = {.api_url = cases[i].url, .key = KEY, .secret = SECRET};
		int rc = tw_dns_spaceship_new(DOM, &o, &p, &err);
		if ((rc == 0) != cases[i].rc_zero)
			fail_msg("%s: rc %d (%s)", cases[i].url, rc, err.msg);
		if (rc) {
			assert_int_equal(err.exit_code, 2);
			assert_null(p);
		}
		tw_dns_provider_destroy(p);
		p = NULL;
	}
	tw_dns_spaceship_opts_t o = {
	        .api_url = "http://example.net/", .key = KEY, .secret = SECRET};
	assert_int_not_equal(tw_dns_spaceship_new(DOM, &o, &p, &err), 0);
	assert_non_null(strstr(err.msg, "refusing plain http to a non-loopback API URL"));

	/* the ops */
	o.api_url = NULL;
	assert_int_equal(tw_dns_spaceship_new("Example.COM.", &o, &p, &err), 0);
	assert_string_equal(p->ops->name, "spaceship");
	assert_string_equal(p->origin, "example.com.");
	assert_true(p->ops->sem.append_by_value);
	assert_true(p->ops->sem.data_nocase);
	assert_false(p->ops->sem.one_update);
	assert_int_equal(p->ops->sem.ttl_min, 60);
	assert_int_equal(p->ops->sem.ttl_max, 3600);
	assert_int_equal(p->ops->sem.max_batch, 500);
	assert_string_equal(p->ops->nameservers[0], "launch1.spaceship.net.");
	assert_string_equal(p->ops->nameservers[1], "launch2.spaceship.net.");
	assert_null(p->ops->nameservers[2]);
	tw_dns_provider_destroy(p);

	/* missing credentials, or ones that would break a header */
	o.key = NULL;
	assert_int_not_equal(tw_dns_spaceship_new(DOM, &o, &p, &err), 0);
	assert_int_equal(err.exit_code, 1);
	o.key = "abc\r\nX-Evil: 1";
	assert_int_not_equal(tw_dns_spaceship_new(DOM, &o, &p, &err), 0);
	assert_int_equal(err.exit_code, 1);
	assert_null(strstr(err.msg, "Evil"));
	o.key = KEY;
	assert_int_not_equal(tw_dns_spaceship_new("bad name.com", &o, &p, &err), 0);

	/* $SPACESHIP_API_URL when no api_url is given */
	want_status = 200;
	want_body = "{\"items\":[],\"total\":0}";
	srv_start(script_status);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v9", srv.port);
	setenv("SPACESHIP_API_URL", url, 1);
	o.api_url = NULL;
	assert_int_equal(tw_dns_spaceship_new(DOM, &o, &p, &err), 0);
	unsetenv("SPACESHIP_API_URL");
	tw_dns_zone_t z;
	assert_int_equal(tw_dns_zone_init(&z, DOM), 0);
	assert_int_equal(p->ops->list(p, &z, &err), 0);
	assert_int_equal(srv.n, 1);
	assert_string_equal(srv.reqs[0].url, "/v9/dns/records/example.com");
	tw_dns_zone_release(&z);
	tw_dns_provider_destroy(p);

	/* UPDATE is not a Spaceship call */
	recs_t r;
	recs_make(&r, 1);
	p = provider(1);
	tw_dns_call_t c = {.kind = TW_DNS_CALL_UPDATE, .rrs = r.v, .n = 1};
	assert_int_not_equal(p->ops->call(p, &r.z, &c, &err), 0);
	assert_int_equal(err.exit_code, 2);
	recs_free(&r);
	tw_dns_provider_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_every_type),
	        cmocka_unit_test(test_txt_long_and_escapes),
	        cmocka_unit_test(test_record_to_item),
	        cmocka_unit_test(test_tlsa_numeric_port),
	        cmocka_unit_test(test_groups_alias_apex_ns),
	        cmocka_unit_test(test_bad_items),
	        cmocka_unit_test(test_can_write_refusals),
	        cmocka_unit_test_teardown(test_list_paging, teardown),
	        cmocka_unit_test_teardown(test_list_stops_at_total, teardown),
	        cmocka_unit_test_teardown(test_list_stops_on_empty_page, teardown),
	        cmocka_unit_test_teardown(test_list_bad_item, teardown),
	        cmocka_unit_test_teardown(test_error_mapping, teardown),
	        cmocka_unit_test_teardown(test_put_and_delete_bodies, teardown),
	        cmocka_unit_test_teardown(test_batching, teardown),
	        cmocka_unit_test_teardown(test_429_retry_after, teardown),
	        cmocka_unit_test_teardown(test_write_errors, teardown),
	        cmocka_unit_test_teardown(test_timeout, teardown),
	        cmocka_unit_test_teardown(test_new_and_url_policy, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
