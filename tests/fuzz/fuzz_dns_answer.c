/*
 * fuzz_dns_answer.c - libFuzzer target: what query.c does with the bytes
 * of a reply (src/dns/query_int.h), without a socket: the answer check and
 * ldns parse (ID, QR, TC, the question echoed), then the authoritative
 * RRSet (rcode, AA, owner/type/class) and, for NS, the resolver's NS set
 * with glue and the parent's delegation.
 *
 * Input: one control byte (low 3 bits: the question, bit 3: over TCP),
 * then the reply. The query's ID is the reply's, so the fuzzer gets past
 * the ID check (the transport drops other IDs before this step).
 * Checks: a record taken is of the asked owner and type; an error has a
 * message; servers have an address; nothing leaks.
 */
#include "util/tw.h"

#include "dns/query_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *name;
	ldns_rr_type type;
} questions[] = {
        {"example.com.", LDNS_RR_TYPE_NS},
        {"example.com.", LDNS_RR_TYPE_A},
        {"example.com.", LDNS_RR_TYPE_TXT},
        {"www.example.com.", LDNS_RR_TYPE_AAAA},
        {"example.com.", LDNS_RR_TYPE_MX},
        {"com.", LDNS_RR_TYPE_NS},
        {".", LDNS_RR_TYPE_NS},
        {"_dmarc.example.com.", LDNS_RR_TYPE_TXT},
};

static void rrset(const ldns_pkt *p, const ldns_rdf *name, ldns_rr_type type)
{
	tw_dns_zone_t z;
	tw_dns_err_t err = {0};
	char own[256];
	char *s;

	TW_BUG_ON(tw_dns_zone_init(&z, "example.com.") != 0);
	s = ldns_rdf2str(name);
	TW_BUG_ON(!s);
	tw_strlcpy(own, s, sizeof(own));
	free(s);
	if (tw_dns_query_rrset(p, name, type, "fuzz", "the set", &z, &err) < 0)
		TW_BUG_ON(err.msg[0] == '\0');
	for (size_t i = 0; i < z.n; i++) {
		TW_BUG_ON(z.v[i].type != type);
		TW_BUG_ON(strcasecmp(z.v[i].owner, own) != 0);
	}
	tw_dns_zone_release(&z);
}

static void ns_sets(const ldns_pkt *p, const ldns_rdf *name)
{
	tw_dns_servers_t srv = {0};
	tw_dns_err_t err = {0};
	ldns_rdf **bare = NULL;
	size_t cap = 0, nbare = 0, n = 0;
	char **names = NULL, why[64];
	int rc;

	rc = tw_dns_query_ns_reply(p, name, "zone", "fuzz", &srv, &cap, &bare, &nbare, &err);
	if (rc < 0) {
		TW_BUG_ON(err.msg[0] == '\0');
		TW_BUG_ON(bare != NULL || nbare != 0);
	}
	for (size_t i = 0; i < srv.n; i++)
		TW_BUG_ON(srv.v[i].addr[0] == '\0' || srv.v[i].port != 53);
	for (size_t i = 0; i < nbare; i++) {
		TW_BUG_ON(bare[i] == NULL);
		ldns_rdf_deep_free(bare[i]);
	}
	free(bare);
	tw_dns_servers_release(&srv);

	rc = tw_dns_query_delegation(p, name, &names, &n, why, sizeof(why));
	TW_BUG_ON(rc == 1 && why[0] == '\0');
	for (size_t i = 0; i < n; i++)
		TW_BUG_ON(names[i][0] == '\0');
	tw_dns_names_free(names, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ldns_rdf *name = NULL;
	ldns_pkt *q, *a = NULL;
	uint8_t *wire = NULL;
	size_t wlen = 0;
	char why[160] = "";
	unsigned c;
	int rc;

	if (size < 1)
		return 0;
	c = data[0];
	data++;
	size--;
	TW_BUG_ON(ldns_str2rdf_dname(&name, questions[c & 7].name) != LDNS_STATUS_OK);
	q = ldns_pkt_query_new(ldns_rdf_clone(name), questions[c & 7].type, LDNS_RR_CLASS_IN, 0);
	TW_BUG_ON(!q);
	ldns_pkt_set_id(q, size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0);
	TW_BUG_ON(ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK);
	rc = tw_dns_query_reply(wire, wlen, data, size, c & 8, name, questions[c & 7].type, &a, why,
	                        sizeof(why));
	if (rc == 0) {
		TW_BUG_ON(!a);
		rrset(a, name, questions[c & 7].type);
		if (questions[c & 7].type == LDNS_RR_TYPE_NS)
			ns_sets(a, name);
	} else {
		TW_BUG_ON(a != NULL);
		TW_BUG_ON(rc < 0 && why[0] == '\0');
		TW_BUG_ON(rc == 1 && (c & 8));
	}
	ldns_pkt_free(a);
	free(wire);
	ldns_pkt_free(q);
	ldns_rdf_deep_free(name);
	return 0;
}
