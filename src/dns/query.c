/*
 * query.c - asking DNS directly, for `tailwart dns apply` and `dns check`:
 * a zone's authoritative servers (NS set and addresses via a resolver), the
 * delegation as the parent zone's own servers publish it, and polling every
 * authoritative server until it serves what a plan wrote.
 *
 * Verification asks the authoritative servers themselves with RD=0 and
 * insists on AA=1 answers: a recursive cache can serve stale data for up to
 * a TTL after a change (seed lesson 13, "always re-check at the
 * authoritative NS, not a cache").
 *
 * The transport is ours (wire.c: one connected UDP socket per query, TCP on
 * TC, RFC 1035 4.2.2 length prefix), ldns only builds and parses messages: ldns's
 * own resolver loop does not check that a reply's ID and question match the
 * query, counts timeouts in whole retries of whole seconds, and can sleep
 * `retrans` seconds between servers. A connected UDP socket also reports
 * ICMP port unreachable as ECONNREFUSED, so a server that is down is told
 * apart from one that does not answer.
 *
 * No global state: every call owns its sockets, packets and buffers.
 */
#include "util/tw.h"

#include "dns/query.h"
#include "dns/query_int.h"
#include "dns/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A resolver that does not answer is reported within seconds: 2 tries of
 * 2 s per resolver address. */
#define RESOLVER_TIMEOUT_MS 2000
#define RESOLVER_TRIES      2
#define RESOLVER_MAX        8
/* Per query to an authoritative server when the caller gives no timeout. */
#define DIRECT_TIMEOUT_MS 2000
/* EDNS0 buffer size recommended by DNS Flag Day 2020 (no IP fragmentation);
 * a larger answer comes back with TC=1 and is asked again over TCP. */
#define EDNS_UDP_SIZE 1232
/* The text of any domain name: 255 octets (RFC 1035 2.3.4), each at most
 * 4 characters as a \DDD escape (RFC 4343 2.1). */
#define NAME_TEXT_MAX 1024

/* ------------------------------------------------------------------ small helpers */

static const char *rcode_name(unsigned rc, char *buf, size_t size)
{
	/* RFC 1035 4.1.1, RFC 2136 2.2 */
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};

	if (rc < TW_ARRAY_LEN(names))
		return names[rc];
	snprintf(buf, size, "RCODE%u", rc);
	return buf;
}

/* Canonical text of a dname: lower case, absolute ("example.com."). */
static bool dname_text(const ldns_rdf *d, char *buf, size_t size)
{
	ldns_rdf *c = ldns_rdf_clone(d);
	char *s;
	bool ok;

	if (!c)
		return false;
	ldns_dname2canonical(c);
	s = ldns_rdf2str(c);
	ldns_rdf_deep_free(c);
	if (!s)
		return false;
	ok = tw_strlcpy(buf, s, size);
	free(s);
	return ok;
}

/* A domain name from user or caller text; NULL when it is not one. */
static ldns_rdf *dname_parse(const char *s)
{
	ldns_rdf *d = NULL;

	if (!s || !*s)
		return NULL;
	if (ldns_str2rdf_dname(&d, s) != LDNS_STATUS_OK)
		return NULL;
	ldns_dname2canonical(d);
	return d;
}

/* Formats into buf, cutting with "..." when it does not fit (messages only). */
__attribute__((format(printf, 3, 4))) static void fmt_cut(char *buf, size_t size, const char *fmt,
                                                          ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

static const char *type_text(uint16_t type, char *buf, size_t size)
{
	return tw_dns_type_name(type, buf, size);
}

/* ------------------------------------------------------------------ endpoints */

typedef struct endpoint {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[80]; /* "127.0.0.1", "127.0.0.1:5353", "[::1]:5353" */
} endpoint_t;

static bool endpoint_set(endpoint_t *ep, const char *addr, uint16_t port)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ep->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->sa;

	memset(ep, 0, sizeof(*ep));
	if (port == 0)
		return false;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		ep->len = sizeof(*in4);
		if (port == 53)
			snprintf(ep->text, sizeof(ep->text), "%s", addr);
		else
			snprintf(ep->text, sizeof(ep->text), "%s:%u", addr, (unsigned)port);
		return true;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		ep->len = sizeof(*in6);
		if (port == 53)
			snprintf(ep->text, sizeof(ep->text), "%s", addr);
		else
			snprintf(ep->text, sizeof(ep->text), "[%s]:%u", addr, (unsigned)port);
		return true;
	}
	return false;
}

/* "ns1.example.com. (192.0.2.1)", or just the address when it is the name. */
static const char *server_label(const tw_dns_server_t *s, char *buf, size_t size)
{
	endpoint_t ep;
	const char *a = s->addr;

	if (endpoint_set(&ep, s->addr, s->port))
		a = ep.text;
	if (!s->name[0] || strcmp(s->name, s->addr) == 0)
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s (%s)", s->name, a);
	return buf;
}

/* ------------------------------------------------------------------ transport */

/* One query/reply over TCP (RFC 1035 4.2.2 length prefix, wire.c); the
 * reply must answer the query (its ID, QR=1). *out is malloc'd. */
static int xfer_tcp(const endpoint_t *ep, const uint8_t *q, size_t qlen, long deadline,
                    uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int fd, rc;

	if (qlen > TW_DNS_WIRE_MAX)
		return TW_ETOOBIG;
	fd = tw_dns_wire_tcp_connect((const struct sockaddr *)&ep->sa, ep->len, deadline);
	if (fd < 0)
		return fd;
	rc = tw_dns_wire_send_msg(fd, q, qlen, deadline);
	if (rc < 0)
		goto out;
	buf = malloc(TW_DNS_WIRE_MAX);
	if (!buf) {
		rc = TW_ENOMEM;
		goto out;
	}
	rc = tw_dns_wire_recv_msg(fd, buf, TW_DNS_WIRE_MAX, &n, deadline);
	if (rc < 0)
		goto out;
	if (!tw_dns_wire_is_answer(buf, n, q)) {
		rc = TW_EPROTO;
		goto out;
	}
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static const char *xfer_why(int rc, long timeout_ms, char *buf, size_t size)
{
	switch (rc) {
	case -ETIMEDOUT: snprintf(buf, size, "timeout (%.1f s)", (double)timeout_ms / 1000); break;
	case -ECONNREFUSED: snprintf(buf, size, "connection refused"); break;
	case TW_EPROTO: snprintf(buf, size, "malformed reply"); break;
	default:
		snprintf(buf, size, "%s", rc < 0 && rc > -4096 ? strerror(-rc) : tw_strerror(rc));
		/* messages start in lower case ("network is unreachable") */
		if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
			buf[0] = (char)(buf[0] - 'A' + 'a');
	}
	return buf;
}

int tw_dns_query_reply(const uint8_t *query, size_t qlen, const uint8_t *resp, size_t rlen,
                       bool tcp, const ldns_rdf *name, ldns_rr_type type, ldns_pkt **ans, char *why,
                       size_t whysz)
{
	ldns_pkt *a = NULL;
	ldns_rr *qr;

	*ans = NULL;
	/* the transport already drops what is not an answer; a caller without
	 * one (the fuzz target) gets the same check here */
	if (qlen < 12 || !tw_dns_wire_is_answer(resp, rlen, query) ||
	    ldns_wire2pkt(&a, resp, rlen) != LDNS_STATUS_OK) {
		snprintf(why, whysz, "malformed reply");
		return TW_EPROTO;
	}
	if (ldns_pkt_tc(a) && !tcp) {
		ldns_pkt_free(a);
		return 1;
	}
	qr = ldns_rr_list_rr(ldns_pkt_question(a), 0);
	if (ldns_pkt_qdcount(a) != 1 || !qr || ldns_rr_get_type(qr) != type ||
	    ldns_dname_compare(ldns_rr_owner(qr), name) != 0) {
		/* RFC 1035 allows FORMERR/NOTIMP without the question; only
		 * a reply that names a different question is refused. */
		if (ldns_pkt_qdcount(a) == 0 && ldns_pkt_get_rcode(a) != LDNS_RCODE_NOERROR) {
			*ans = a;
			return 0;
		}
		ldns_pkt_free(a);
		snprintf(why, whysz, "reply for a different question");
		return TW_EPROTO;
	}
	*ans = a;
	return 0;
}

/*
 * Asks ep for name/type, RD as given, with EDNS0; on TC=1 again over TCP
 * (RFC 7766 5). The reply must echo our question (RFC 5452 9.1). Returns 0
 * with *ans, or a negative code with why filled in.
 */
static int ask(const endpoint_t *ep, const ldns_rdf *name, ldns_rr_type type, bool rd,
               long timeout_ms, ldns_pkt **ans, char *why, size_t whysz)
{
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL, *resp = NULL;
	size_t wlen = 0, rlen = 0;
	uint16_t id = 0;
	long deadline = tw_dns_wire_now_ms() + timeout_ms;
	bool tcp = false;
	int rc;

	*ans = NULL;
	q = ldns_pkt_query_new(ldns_rdf_clone(name), type, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
	if (!q) {
		snprintf(why, whysz, "out of memory");
		return TW_ENOMEM;
	}
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(tw_dns_wire_now_ms() ^ getpid());
	ldns_pkt_set_id(q, id);
	ldns_pkt_set_edns_udp_size(q, EDNS_UDP_SIZE);
	if (ldns_pkt2wire(&wire, q, &wlen) != LDNS_STATUS_OK) {
		ldns_pkt_free(q);
		snprintf(why, whysz, "cannot build the query");
		return TW_EINVAL;
	}
	for (;;) {
		rc = tcp ? xfer_tcp(ep, wire, wlen, deadline, &resp, &rlen)
		         : tw_dns_wire_udp_query((const struct sockaddr *)&ep->sa, ep->len, wire,
		                                 wlen, deadline, &resp, &rlen);
		if (rc < 0) {
			xfer_why(rc, timeout_ms, why, whysz);
			break;
		}
		rc = tw_dns_query_reply(wire, wlen, resp, rlen, tcp, name, type, ans, why, whysz);
		free(resp);
		resp = NULL;
		if (rc == 1) {
			tcp = true;
			continue;
		}
		break;
	}
	free(wire);
	ldns_pkt_free(q);
	return rc;
}

/* ------------------------------------------------------------------ resolver */

typedef struct resolver {
	endpoint_t ep[RESOLVER_MAX];
	size_t n;
	char label[200]; /* for messages: "127.0.0.1:5353", "127.0.0.53 (from /etc/resolv.conf)" */
} resolver_t;

static int resolver_open(const char *spec, resolver_t *r, tw_dns_err_t *err)
{
	char host[80];
	const char *colon;
	unsigned long port = 53;
	char *end;

	memset(r, 0, sizeof(*r));
	if (!spec) {
		ldns_resolver *lr = NULL;
		ldns_status st = ldns_resolver_new_frm_file(&lr, NULL);
		size_t i, k = 0;

		if (st != LDNS_STATUS_OK) {
			tw_dns_err_set(err, 3, "cannot read /etc/resolv.conf: %s",
			               ldns_get_errorstr_by_id(st));
			return TW_EINVAL;
		}
		for (i = 0; i < ldns_resolver_nameserver_count(lr) && r->n < RESOLVER_MAX; i++) {
			char *s = ldns_rdf2str(ldns_resolver_nameservers(lr)[i]);

			if (s && endpoint_set(&r->ep[r->n], s, ldns_resolver_port(lr))) {
				k += (size_t)snprintf(r->label + k,
				                      k < sizeof(r->label) ? sizeof(r->label) - k
				                                           : 0,
				                      "%s%s", r->n ? ", " : "", r->ep[r->n].text);
				r->n++;
			}
			free(s);
		}
		ldns_resolver_deep_free(lr);
		if (r->n == 0) {
			tw_dns_err_set(err, 3,
			               "/etc/resolv.conf lists no nameserver; give --resolver");
			return TW_EINVAL;
		}
		if (k < sizeof(r->label))
			snprintf(r->label + k, sizeof(r->label) - k, " (from /etc/resolv.conf)");
		return 0;
	}
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || (size_t)(close - spec - 1) >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		colon = close[1] == ':' ? close + 1 : NULL;
		if (!colon && close[1])
			goto bad;
	} else {
		colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		if ((colon ? (size_t)(colon - spec) : strlen(spec)) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s",
		         colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	}
	if (colon) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || !colon[1] || *end || port == 0 || port > 65535)
			goto bad;
	}
	if (!endpoint_set(&r->ep[0], host, (uint16_t)port))
		goto bad;
	r->n = 1;
	snprintf(r->label, sizeof(r->label), "%s", r->ep[0].text);
	return 0;
bad:
	tw_dns_err_set(
	        err, 2,
	        "bad resolver address \"%.80s\": expected a numeric ADDR[:PORT], or [IPv6]:PORT",
	        spec);
	return TW_EINVAL;
}

/* Asks the resolver (RD=1), each address RESOLVER_TRIES times. */
static int resolver_ask(const resolver_t *r, const ldns_rdf *name, ldns_rr_type type,
                        ldns_pkt **ans, tw_dns_err_t *err)
{
	char why[128] = "no address to ask";
	bool dead[RESOLVER_MAX] = {false};
	int t, rc = -ETIMEDOUT;
	size_t i;

	for (t = 0; t < RESOLVER_TRIES; t++) {
		for (i = 0; i < r->n; i++) {
			if (dead[i])
				continue;
			rc = ask(&r->ep[i], name, type, true, RESOLVER_TIMEOUT_MS, ans, why,
			         sizeof(why));
			if (rc == 0)
				return 0;
			if (rc == -ECONNREFUSED || rc == -ENETUNREACH || rc == -EHOSTUNREACH)
				dead[i] = true;
		}
	}
	if (rc == -ETIMEDOUT)
		snprintf(why, sizeof(why), "no answer within %d s (%d tries)",
		         RESOLVER_TIMEOUT_MS / 1000, RESOLVER_TRIES);
	tw_dns_err_set(err, 3, "cannot reach DNS resolver %s: %s", r->label, why);
	return rc;
}

/* ------------------------------------------------------------------ servers */

void tw_dns_servers_release(tw_dns_servers_t *s)
{
	if (!s)
		return;
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void tw_dns_names_free(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int server_cmp(const void *pa, const void *pb)
{
	const tw_dns_server_t *a = pa, *b = pb;
	endpoint_t ea, eb;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	endpoint_set(&ea, a->addr, 53);
	endpoint_set(&eb, b->addr, 53);
	if (ea.sa.ss_family != eb.sa.ss_family)
		return ea.sa.ss_family == AF_INET ? -1 : 1;
	if (ea.sa.ss_family == AF_INET)
		c = memcmp(&((struct sockaddr_in *)&ea.sa)->sin_addr,
		           &((struct sockaddr_in *)&eb.sa)->sin_addr, 4);
	else
		c = memcmp(&((struct sockaddr_in6 *)&ea.sa)->sin6_addr,
		           &((struct sockaddr_in6 *)&eb.sa)->sin6_addr, 16);
	return c ? c : (int)a->port - (int)b->port;
}

static int servers_push(tw_dns_servers_t *s, size_t *cap, const char *name, const ldns_rr *rr)
{
	tw_dns_server_t *v, n = {0};
	ldns_rdf *a = ldns_rr_rdf(rr, 0);
	char *txt;
	size_t i;

	if (!a)
		return 0;
	txt = ldns_rdf2str(a);
	if (!txt)
		return TW_ENOMEM;
	tw_strlcpy(n.name, name, sizeof(n.name));
	tw_strlcpy(n.addr, txt, sizeof(n.addr));
	n.port = 53;
	free(txt);
	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, n.name) == 0 && strcmp(s->v[i].addr, n.addr) == 0)
			return 0;
	if (s->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;

		v = realloc(s->v, nc * sizeof(*v));
		if (!v)
			return TW_ENOMEM;
		s->v = v;
		*cap = nc;
	}
	s->v[s->n++] = n;
	return 1;
}

/* Pushes the A/AAAA records of owner found in list; returns how many, or < 0. */
static int push_addrs(tw_dns_servers_t *s, size_t *cap, const char *name, const ldns_rdf *owner,
                      const ldns_rr_list *list)
{
	int got = 0, rc;
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA) ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		rc = servers_push(s, cap, name, rr);
		if (rc < 0)
			return rc;
		got++;
	}
	return got;
}

static int rcode_err(tw_dns_err_t *err, const ldns_pkt *p, const char *fmt_who, const char *what)
{
	char rb[16];
	unsigned rc = ldns_pkt_get_rcode(p);

	err->status = 10000 + (int)rc;
	return tw_dns_err_set(err, 3, "%s answered %s for %s", fmt_who,
	                      rcode_name(rc, rb, sizeof(rb)), what);
}

static bool has_ns(const ldns_rr_list *list, const ldns_rdf *owner)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			return true;
	}
	return false;
}

int tw_dns_query_ns_reply(const ldns_pkt *p, const ldns_rdf *zone, const char *ztext,
                          const char *rlabel, tw_dns_servers_t *out, size_t *cap, ldns_rdf ***bare,
                          size_t *nbare, tw_dns_err_t *err)
{
	const ldns_rr_list *sec;
	ldns_rdf **ns = NULL;
	size_t nns = 0, nb = 0, i, j;
	char name[NAME_TEXT_MAX], what[300];
	int rc;

	*bare = NULL;
	*nbare = 0;
	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN) {
		err->status = 10000 + LDNS_RCODE_NXDOMAIN;
		tw_dns_err_set(
		        err, 3,
		        "no NS records for %s at resolver %s: the name does not exist (NXDOMAIN)",
		        ztext, rlabel);
		return TW_ENOTFOUND;
	}
	if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR) {
		char who[240];

		snprintf(who, sizeof(who), "resolver %s", rlabel);
		snprintf(what, sizeof(what), "%s NS", ztext);
		rcode_err(err, p, who, what);
		return TW_EPROTO;
	}
	/* The NS set from the answer; from a resolver that is an authoritative
	 * server without recursion, the referral in the authority section. */
	sec = has_ns(ldns_pkt_answer(p), zone) ? ldns_pkt_answer(p) : ldns_pkt_authority(p);
	ns = calloc(ldns_rr_list_rr_count(sec) + 1, sizeof(*ns));
	if (!ns)
		return TW_ENOMEM;
	for (i = 0; i < ldns_rr_list_rr_count(sec); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(sec, i);
		ldns_rdf *t;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    ldns_dname_compare(ldns_rr_owner(rr), zone) != 0 || !ldns_rr_ns_nsdname(rr))
			continue;
		for (j = 0; j < nns; j++)
			if (ldns_dname_compare(ns[j], ldns_rr_ns_nsdname(rr)) == 0)
				break;
		if (j < nns)
			continue;
		t = ldns_rdf_clone(ldns_rr_ns_nsdname(rr));
		if (!t) {
			rc = TW_ENOMEM;
			goto out;
		}
		ldns_dname2canonical(t);
		ns[nns++] = t;
	}
	if (nns == 0) {
		tw_dns_err_set(err, 3, "no NS records for %s at resolver %s", ztext, rlabel);
		rc = TW_ENOTFOUND;
		goto out;
	}
	for (i = 0; i < nns; i++) {
		int got;

		if (!dname_text(ns[i], name, sizeof(name))) {
			rc = TW_ENOMEM;
			goto out;
		}
		/* Glue or in-zone addresses the answer already carries (RFC 1034 4.3.2). */
		got = push_addrs(out, cap, name, ns[i], ldns_pkt_additional(p));
		if (got < 0) {
			rc = got;
			goto out;
		}
		if (got == 0) {
			/* the names without glue gather at the front (a swap:
			 * every name stays in ns once) */
			ldns_rdf *t = ns[nb];

			ns[nb++] = ns[i];
			ns[i] = t;
		}
	}
	for (i = nb; i < nns; i++)
		ldns_rdf_deep_free(ns[i]);
	*bare = ns;
	*nbare = nb;
	return 0;
out:
	for (i = 0; i < nns; i++)
		ldns_rdf_deep_free(ns[i]);
	free(ns);
	return rc;
}

static int auth_servers(const ldns_rdf *zone, const char *ztext, const resolver_t *r,
                        tw_dns_servers_t *out, tw_dns_err_t *err)
{
	ldns_pkt *p = NULL, *pa = NULL;
	ldns_rdf **ns = NULL;
	size_t nns = 0, i, j, cap = 0;
	char name[NAME_TEXT_MAX];
	int rc;

	rc = resolver_ask(r, zone, LDNS_RR_TYPE_NS, &p, err);
	if (rc < 0)
		return rc;
	rc = tw_dns_query_ns_reply(p, zone, ztext, r->label, out, &cap, &ns, &nns, err);
	if (rc < 0)
		goto out;
	/* The nameservers without glue: their addresses from the resolver. */
	for (i = 0; i < nns; i++) {
		int got = 0;

		if (!dname_text(ns[i], name, sizeof(name))) {
			rc = TW_ENOMEM;
			goto out;
		}
		for (j = 0; j < 2; j++) {
			ldns_rr_type t = j ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
			int g;

			rc = resolver_ask(r, ns[i], t, &pa, err);
			if (rc < 0)
				goto out;
			g = push_addrs(out, &cap, name, ns[i], ldns_pkt_answer(pa));
			ldns_pkt_free(pa);
			pa = NULL;
			if (g < 0) {
				rc = g;
				goto out;
			}
			got += g;
		}
		if (got == 0) {
			tw_dns_err_set(
			        err, 3,
			        "nameserver %s (NS of %s) has no A or AAAA records at resolver %s",
			        name, ztext, r->label);
			rc = TW_ENOTFOUND;
			goto out;
		}
	}
	qsort(out->v, out->n, sizeof(*out->v), server_cmp);
	rc = 0;
out:
	for (i = 0; i < nns; i++)
		ldns_rdf_deep_free(ns[i]);
	free(ns);
	ldns_pkt_free(p);
	if (rc < 0)
		tw_dns_servers_release(out);
	return rc;
}

static int zone_arg(const char *zone, ldns_rdf **d, char *text, size_t size, tw_dns_err_t *err)
{
	*d = dname_parse(zone);
	if (!*d || !dname_text(*d, text, size)) {
		ldns_rdf_deep_free(*d);
		*d = NULL;
		tw_dns_err_set(err, 2, "bad zone name \"%.80s\": expected a domain name",
		               zone ? zone : "");
		return TW_EINVAL;
	}
	return 0;
}

int tw_dns_auth_servers(const char *zone, const char *resolver, tw_dns_servers_t *out,
                        tw_dns_err_t *err)
{
	resolver_t r;
	ldns_rdf *z;
	char zt[256];
	int rc;

	out->v = NULL;
	out->n = 0;
	rc = zone_arg(zone, &z, zt, sizeof(zt), err);
	if (rc < 0)
		return rc;
	rc = resolver_open(resolver, &r, err);
	if (rc == 0)
		rc = auth_servers(z, zt, &r, out, err);
	ldns_rdf_deep_free(z);
	return rc;
}

/* ------------------------------------------------------------------ parent delegation */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* NS names of owner in list, canonical, appended to *names (no duplicates). */
static int collect_ns(const ldns_rr_list *list, const ldns_rdf *owner, char ***names, size_t *n)
{
	size_t i, j;
	char buf[NAME_TEXT_MAX];

	for (i = 0; i < ldns_rr_list_rr_count(list); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(list, i);
		char **v;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_NS ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0 || !ldns_rr_ns_nsdname(rr))
			continue;
		if (!dname_text(ldns_rr_ns_nsdname(rr), buf, sizeof(buf)))
			return TW_ENOMEM;
		for (j = 0; j < *n; j++)
			if (strcmp((*names)[j], buf) == 0)
				break;
		if (j < *n)
			continue;
		v = realloc(*names, (*n + 1) * sizeof(*v));
		if (!v)
			return TW_ENOMEM;
		*names = v;
		v[*n] = strdup(buf);
		if (!v[*n])
			return TW_ENOMEM;
		(*n)++;
	}
	return 0;
}

int tw_dns_query_delegation(const ldns_pkt *p, const ldns_rdf *zone, char ***names, size_t *n,
                            char *why, size_t whysz)
{
	unsigned rcode = ldns_pkt_get_rcode(p);
	char rb[16];
	int rc;

	if (rcode == LDNS_RCODE_NOERROR) {
		rc = collect_ns(ldns_pkt_answer(p), zone, names, n);
		if (rc == 0 && *n == 0)
			rc = collect_ns(ldns_pkt_authority(p), zone, names, n);
		if (rc < 0)
			return rc;
	}
	/* A delegation, or the parent's authoritative word that there is none
	 * (NODATA / NXDOMAIN): n stays 0. */
	if (*n > 0 ||
	    (ldns_pkt_aa(p) && (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN)))
		return 0;
	snprintf(why, whysz, "%s",
	         rcode == LDNS_RCODE_NOERROR ? "no delegation in a non-authoritative reply"
	                                     : rcode_name(rcode, rb, sizeof(rb)));
	return 1;
}

int tw_dns_parent_ns(const char *zone, const char *resolver, char ***names, size_t *n,
                     tw_dns_err_t *err)
{
	tw_dns_servers_t srv = {0};
	resolver_t r;
	ldns_rdf *z = NULL, *parent = NULL, *up;
	ldns_pkt *p = NULL;
	char zt[256], pt[256], why[200] = "", label[400];
	size_t i;
	int rc;

	*names = NULL;
	*n = 0;
	rc = zone_arg(zone, &z, zt, sizeof(zt), err);
	if (rc < 0)
		return rc;
	if (ldns_dname_label_count(z) == 0) {
		tw_dns_err_set(err, 2, "the root zone has no parent");
		rc = TW_EINVAL;
		goto out;
	}
	rc = resolver_open(resolver, &r, err);
	if (rc < 0)
		goto out;
	/* The parent zone is the closest enclosing name with an NS set: a name
	 * between them without NS is no zone cut (RFC 1034 4.2.1). */
	parent = ldns_dname_left_chop(z);
	for (;;) {
		if (!parent) {
			rc = TW_ENOMEM;
			goto out;
		}
		if (ldns_dname_label_count(parent) == 0)
			break;
		rc = resolver_ask(&r, parent, LDNS_RR_TYPE_NS, &p, err);
		if (rc < 0)
			goto out;
		/* An NS answer, or (from a resolver that is an authoritative
		 * server without recursion) a referral whose NS owner is this
		 * very name: either way the name is a zone cut. */
		if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR &&
		    (has_ns(ldns_pkt_answer(p), parent) || has_ns(ldns_pkt_authority(p), parent)))
			break;
		ldns_pkt_free(p);
		p = NULL;
		up = ldns_dname_left_chop(parent);
		ldns_rdf_deep_free(parent);
		parent = up;
	}
	ldns_pkt_free(p);
	p = NULL;
	if (!dname_text(parent, pt, sizeof(pt))) {
		rc = TW_ENOMEM;
		goto out;
	}
	rc = auth_servers(parent, pt, &r, &srv, err);
	if (rc < 0)
		goto out;
	/* Ask the parent's servers themselves (RD=0): their referral is the
	 * delegation (RFC 1034 4.3.2 step 3b); a resolver's answer would be the
	 * child's NS set instead. The first server that answers wins. */
	for (i = 0; i < srv.n; i++) {
		endpoint_t ep;
		char w2[200], reason[48];

		server_label(&srv.v[i], label, sizeof(label));
		if (!endpoint_set(&ep, srv.v[i].addr, srv.v[i].port))
			continue;
		rc = ask(&ep, z, LDNS_RR_TYPE_NS, false, DIRECT_TIMEOUT_MS, &p, why, sizeof(why));
		if (rc < 0) {
			snprintf(w2, sizeof(w2), "%.150s: %s", label, why);
			tw_strlcpy(why, w2, sizeof(why));
			continue;
		}
		rc = tw_dns_query_delegation(p, z, names, n, reason, sizeof(reason));
		if (rc <= 0)
			goto out;
		snprintf(why, sizeof(why), "%.150s: %s", label, reason);
		ldns_pkt_free(p);
		p = NULL;
	}
	tw_dns_err_set(err, 3, "no server of the parent zone %s answered for %s NS (last: %s)", pt,
	               zt, why);
	rc = -ETIMEDOUT;
out:
	if (rc == 0 && *n > 1)
		qsort(*names, *n, sizeof(**names), name_cmp);
	else {
		tw_dns_names_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	ldns_pkt_free(p);
	ldns_rdf_deep_free(parent);
	ldns_rdf_deep_free(z);
	tw_dns_servers_release(&srv);
	return rc;
}

/* ------------------------------------------------------------------ one RRSet */

int tw_dns_query_rrset(const ldns_pkt *p, const ldns_rdf *owner, uint16_t type, const char *label,
                       const char *what, tw_dns_zone_t *out, tw_dns_err_t *err)
{
	unsigned rcode = ldns_pkt_get_rcode(p);
	size_t i;
	int rc;

	switch (rcode) {
	case LDNS_RCODE_NOERROR: break;
	case LDNS_RCODE_NXDOMAIN: return 0;
	case LDNS_RCODE_REFUSED:
		err->status = 10000 + (int)rcode;
		tw_dns_err_set(
		        err, 3,
		        "%s answered REFUSED for %s: the server is not authoritative for this "
		        "zone or refuses queries from us",
		        label, what);
		return TW_EPROTO;
	case LDNS_RCODE_SERVFAIL:
		err->status = 10000 + (int)rcode;
		tw_dns_err_set(
		        err, 3,
		        "%s answered SERVFAIL for %s: the server cannot serve the zone (e.g. it "
		        "failed to load or has expired)",
		        label, what);
		return TW_EPROTO;
	default: rcode_err(err, p, label, what); return TW_EPROTO;
	}
	/* Only an authoritative answer counts (RFC 1035 4.1.1 AA): without it
	 * this is a cache's copy or a referral away from the zone. */
	if (!ldns_pkt_aa(p)) {
		tw_dns_err_set(err, 3,
		               "%s is not authoritative for %s (its reply has no AA flag): it is a "
		               "cache, or the zone is not configured there",
		               label, what);
		return TW_EPROTO;
	}
	for (i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(p)); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
		tw_diags_t d = {0};
		ldns_rr *c;

		/* The asked owner and type only: a CNAME at the owner, and the
		 * records it leads to, are not this RRSet. */
		if (ldns_rr_get_type(rr) != type || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		c = ldns_rr_clone(rr);
		if (!c) {
			tw_dns_err_set(err, 3, "out of memory");
			return TW_ENOMEM;
		}
		rc = tw_dns_zone_add_rr(out, c, NULL, 0, 0, &d);
		if (rc < 0) {
			tw_dns_err_set(err, 3, "%s served a record for %s that cannot be used: %s",
			               label, what, d.n ? d.v[0].msg : tw_strerror(rc));
			tw_diags_release(&d);
			return rc;
		}
		tw_diags_release(&d);
	}
	return 0;
}

int tw_dns_query_set(const tw_dns_server_t *s, const char *owner, uint16_t type, long timeout_ms,
                     tw_dns_zone_t *out, tw_dns_err_t *err)
{
	char label[400], why[160], tb[24], ot[256], what[300];
	endpoint_t ep;
	ldns_rdf *o;
	ldns_pkt *p = NULL;
	int rc;

	if (!endpoint_set(&ep, s->addr, s->port)) {
		tw_dns_err_set(err, 2, "bad server address \"%.64s\" port %u", s->addr,
		               (unsigned)s->port);
		return TW_EINVAL;
	}
	server_label(s, label, sizeof(label));
	o = dname_parse(owner);
	if (!o || !dname_text(o, ot, sizeof(ot))) {
		ldns_rdf_deep_free(o);
		tw_dns_err_set(err, 2, "bad owner name \"%.80s\"", owner ? owner : "");
		return TW_EINVAL;
	}
	snprintf(what, sizeof(what), "%s %s", type_text(type, tb, sizeof(tb)), ot);
	if (timeout_ms <= 0)
		timeout_ms = DIRECT_TIMEOUT_MS;
	rc = ask(&ep, o, type, false, timeout_ms, &p, why, sizeof(why));
	if (rc < 0)
		tw_dns_err_set(err, 3, "no answer from %s for %s: %s", label, what, why);
	else
		rc = tw_dns_query_rrset(p, o, type, label, what, out, err);
	ldns_pkt_free(p);
	ldns_rdf_deep_free(o);
	return rc;
}

/* ------------------------------------------------------------------ verification */

static bool owner_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	/* canonical names end in '.'; tolerate a caller's key without it */
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static bool in_list(const tw_dns_rr_t *r, const tw_dns_rr_t *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tw_dns_rr_same_data(r, v[i]))
			return true;
	return false;
}

/* "\"a\", \"b\"" or "nothing" */
static void list_values(char *buf, size_t size, const tw_dns_rr_t *const *v, size_t n)
{
	size_t k = 0, i;

	if (n == 0) {
		snprintf(buf, size, "nothing");
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < n && k < size; i++)
		k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "",
		                      v[i]->rdata ? v[i]->rdata : "?");
}

/*
 * Asks s for every set; 0 when all match expected, 1 with detail on the
 * first mismatch or failure.
 */
static int check_server(const tw_dns_server_t *s, const tw_dns_zone_t *expected,
                        const tw_dns_rrset_key_t *sets, size_t nsets, long qtimeout, char *detail,
                        size_t dsize)
{
	const tw_dns_rr_t **want = NULL, **got = NULL;
	size_t k, i, nw, ng;
	int res = 0;

	if (expected->n) {
		want = calloc(expected->n, sizeof(*want));
		if (!want) {
			snprintf(detail, dsize, "out of memory");
			return 1;
		}
	}
	for (k = 0; k < nsets && res == 0; k++) {
		tw_dns_zone_t z;
		tw_dns_err_t err;
		char tb[24], sv[240], ev[240];
		int rc;

		memset(&err, 0, sizeof(err));
		nw = 0;
		for (i = 0; i < expected->n; i++)
			if (expected->v[i].type == sets[k].type &&
			    owner_eq(expected->v[i].owner, sets[k].owner))
				want[nw++] = &expected->v[i];
		if (tw_dns_zone_init(&z, expected->origin) < 0) {
			snprintf(detail, dsize, "out of memory");
			res = 1;
			break;
		}
		rc = tw_dns_query_set(s, sets[k].owner, sets[k].type, qtimeout, &z, &err);
		type_text(sets[k].type, tb, sizeof(tb));
		if (rc == -ETIMEDOUT) {
			snprintf(detail, dsize, "no answer: timeout");
			res = 1;
		} else if (rc < 0) {
			fmt_cut(detail, dsize, "%s %s: %s", tb, sets[k].owner, err.msg);
			res = 1;
		} else {
			ng = 0;
			free(got);
			got = z.n ? calloc(z.n, sizeof(*got)) : NULL;
			if (z.n && !got) {
				snprintf(detail, dsize, "out of memory");
				res = 1;
			}
			for (i = 0; got && i < z.n; i++)
				got[ng++] = &z.v[i];
			if (!res) {
				bool same = true;

				for (i = 0; i < nw && same; i++)
					same = in_list(want[i], got, ng);
				for (i = 0; i < ng && same; i++)
					same = in_list(got[i], want, nw);
				if (!same) {
					list_values(sv, sizeof(sv), got, ng);
					list_values(ev, sizeof(ev), want, nw);
					fmt_cut(detail, dsize, "%s %s: serves %s, expected %s", tb,
					        sets[k].owner, sv, ev);
					res = 1;
				}
			}
		}
		free(got);
		got = NULL;
		tw_dns_zone_release(&z);
	}
	free(want);
	return res;
}

int tw_dns_verify(const tw_dns_servers_t *servers, const tw_dns_zone_t *expected,
                  const tw_dns_rrset_key_t *sets, size_t nsets, long timeout_ms, long interval_ms,
                  FILE *progress, tw_dns_verify_result_t *results)
{
	long start = tw_dns_wire_now_ms(), deadline = start + (timeout_ms > 0 ? timeout_ms : 0),
	     left;
	size_t i, pending = servers->n;
	char label[400];

	for (i = 0; i < servers->n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		results[i].server = &servers->v[i];
		results[i].ms = -1;
		snprintf(results[i].detail, sizeof(results[i].detail), "not asked yet");
	}
	for (;;) {
		for (i = 0; i < servers->n; i++) {
			tw_dns_verify_result_t *res = &results[i];
			long qt;

			if (res->ok)
				continue;
			/* A query never waits past the deadline by much, yet gets
			 * enough time for one real round trip. */
			left = deadline - tw_dns_wire_now_ms();
			qt = left < DIRECT_TIMEOUT_MS ? left : DIRECT_TIMEOUT_MS;
			if (qt < 300)
				qt = 300;
			if (check_server(res->server, expected, sets, nsets, qt, res->detail,
			                 sizeof(res->detail)) == 0) {
				res->ok = true;
				res->ms = tw_dns_wire_now_ms() - start;
				res->detail[0] = '\0';
				pending--;
				if (progress) {
					fprintf(progress, "%s: serves the new data (%.1f s)\n",
					        server_label(res->server, label, sizeof(label)),
					        (double)res->ms / 1000);
					fflush(progress);
				}
			}
		}
		if (pending == 0)
			return 0;
		left = deadline - tw_dns_wire_now_ms();
		if (left <= 0)
			return 1;
		{
			long w = interval_ms > 0 ? interval_ms : 500;
			struct timespec ts;

			if (w > left)
				w = left;
			ts.tv_sec = w / 1000;
			ts.tv_nsec = (w % 1000) * 1000000;
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
	}
}
