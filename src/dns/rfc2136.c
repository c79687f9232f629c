/*
 * rfc2136.c - the "rfc2136" DNS provider: reads the live zone by zone
 * transfer and writes it with one RFC 2136 UPDATE per plan, TSIG-signed.
 *
 * Which standard each part follows:
 *   list      AXFR (RFC 5936): one query over TCP (section 4.1), the answer
 *             is every record of the zone between two copies of the SOA
 *             (section 2.2), in one or more messages.
 *   call      one UPDATE message (RFC 2136 section 2):
 *             - zone section: the origin, type SOA, class IN (2.3);
 *             - prerequisites: "RRset exists (value dependent)" for each
 *               live RRset the plan touches, class IN, TTL 0, every record
 *               (2.4.2); "RRset does not exist" for each RRset the plan
 *               creates, class NONE, TTL 0, no rdata (2.4.3);
 *             - update section: "delete an RR from an RRset", class NONE,
 *               TTL 0 (2.5.4), then "add to an RRset" (2.5.1).
 *             The server checks every prerequisite before touching the zone
 *             (3.2, rcodes in the table of 3.2.5) and applies the update
 *             section atomically (3.4, 3.7): any error rcode means nothing
 *             was applied. Only a lost answer leaves the outcome unknown.
 *   TSIG      RFC 8945: the request MAC (4.3.3), the answer's MAC over the
 *             request MAC (4.3.3, 5.3), later messages of a transfer over
 *             the prior MAC and the TSIG timers (5.3.1; unsigned messages
 *             in between are digested with the next signed one). The error
 *             field (5.3.2: BADSIG, BADKEY, BADTIME) says why a key was
 *             refused. We sign with OpenSSL's HMAC: ldns 1.8.3's
 *             ldns_pkt_tsig_sign knows no hmac-sha224 and misspells
 *             hmac-sha384, and all six algorithms of section 6 must work.
 *   transport TCP (RFC 1035 section 4.2.2: two-byte length prefix) for both:
 *             AXFR needs it and an UPDATE of a large plan may not fit UDP.
 *             The sockets and framing are wire.c's, shared with query.c.
 *
 * Secrets: the key's secret is decoded once at creation, never formatted
 * into a message or trace, and wiped at destroy.
 */
#include "util/tw.h"

#include "dns/provider.h"
#include "dns/rfc2136_int.h"
#include "dns/wire.h"

#include <errno.h>
#include <netdb.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TSIG_FUDGE 300 /* seconds; RFC 8945 section 10 recommends 300 */
#define MAX_MSG    65535

/* TSIG error codes (RFC 8945 section 3, IANA DNS RCODEs). */
enum { TSIG_BADSIG = 16, TSIG_BADKEY = 17, TSIG_BADTIME = 18, TSIG_BADTRUNC = 22 };

typedef tw_dns_rfc2136_rx_t rx_t;

typedef struct r2136 {
	tw_dns_provider_t base;
	char server[300]; /* as given, for messages */
	char host[256];
	char port[8];
	long timeout_ms;
	bool signed_;
	char key_name[256]; /* as the user wrote it, for messages */
	const char *alg;    /* "hmac-sha256" */
	const char *md;     /* OpenSSL digest name */
	uint8_t kname_wire[256], alg_wire[256];
	size_t kname_len, alg_len;
	uint8_t secret[384];
	size_t secret_len;
} r2136_t;

/* ---- small helpers -------------------------------------------------------- */

__attribute__((format(printf, 5, 6))) static int fail(tw_dns_err_t *e, int exit_code, int status,
                                                      bool maybe, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return TW_EPROTO;
	memset(e, 0, sizeof(*e));
	e->exit_code = exit_code;
	e->status = status;
	e->maybe_applied = maybe;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return TW_EPROTO;
}

__attribute__((format(printf, 2, 3))) static void trace(r2136_t *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!p->base.trace)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	p->base.trace(p->base.trace_ctx, line);
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static const char *rcode_name(unsigned rc)
{
	static const char *const n[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                "NXRRSET", "NOTAUTH", "NOTZONE"};
	switch (rc) {
	case TSIG_BADSIG: return "BADSIG";
	case TSIG_BADKEY: return "BADKEY";
	case TSIG_BADTIME: return "BADTIME";
	case TSIG_BADTRUNC: return "BADTRUNC";
	default: return rc < TW_ARRAY_LEN(n) ? n[rc] : "an unknown rcode";
	}
}

/* A name in canonical wire form (RFC 4034 section 6.2: lower case,
 * uncompressed), as TSIG digests it (RFC 8945 section 4.3.3). */
static bool name_wire(const char *name, uint8_t *out, size_t cap, size_t *len)
{
	ldns_rdf *r = NULL;

	if (ldns_str2rdf_dname(&r, name) != LDNS_STATUS_OK)
		return false;
	ldns_dname2canonical(r);
	if (ldns_rdf_size(r) > cap) {
		ldns_rdf_deep_free(r);
		return false;
	}
	memcpy(out, ldns_rdf_data(r), ldns_rdf_size(r));
	*len = ldns_rdf_size(r);
	ldns_rdf_deep_free(r);
	return true;
}

/* ---- TSIG (RFC 8945) --------------------------------------------------------- */

typedef tw_dns_buf_t buf_t;

static bool buf_put(buf_t *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t c = b->cap ? b->cap * 2 : 1024;
		while (c < b->n + n)
			c *= 2;
		uint8_t *v = realloc(b->v, c);
		if (!v)
			return false;
		b->v = v;
		b->cap = c;
	}
	memcpy(b->v + b->n, p, n);
	b->n += n;
	return true;
}

static bool buf_u16(buf_t *b, unsigned v)
{
	uint8_t x[2];
	put16(x, v);
	return buf_put(b, x, 2);
}

static void put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static bool hmac(const r2136_t *p, const buf_t *data, uint8_t *mac, size_t *maclen)
{
	size_t out = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, p->md, NULL, p->secret, p->secret_len, data->v, data->n,
	               mac, EVP_MAX_MD_SIZE, &out))
		return false;
	*maclen = out;
	return true;
}

/* The TSIG variables of RFC 8945 section 4.3.3 (timers_only: section 5.3.1). */
static bool tsig_vars(const r2136_t *p, buf_t *b, uint64_t t, unsigned fudge, unsigned error,
                      const uint8_t *other, size_t other_len, bool timers_only)
{
	uint8_t x[8];

	if (!timers_only) {
		if (!buf_put(b, p->kname_wire, p->kname_len) || !buf_u16(b, LDNS_RR_CLASS_ANY) ||
		    !buf_put(b, "\0\0\0\0", 4) || !buf_put(b, p->alg_wire, p->alg_len))
			return false;
	}
	put48(x, t);
	put16(x + 6, fudge);
	if (!buf_put(b, x, 8))
		return false;
	if (timers_only)
		return true;
	return buf_u16(b, error) && buf_u16(b, (unsigned)other_len) &&
	       (other_len == 0 || buf_put(b, other, other_len));
}

/*
 * Appends a TSIG RR to msg (RFC 8945 sections 4.2-4.3) and keeps its MAC
 * in rx->prior. A request's MAC covers the message and the TSIG variables;
 * an answer's also the prior MAC first (4.3.3) and, after the first answer,
 * the unsigned messages since with only the timers (5.3.1).
 */
static bool tsig_sign(const r2136_t *p, rx_t *rx, buf_t *msg, bool answer)
{
	buf_t d = {0};
	uint64_t t = (uint64_t)time(NULL);
	uint8_t fx[10], mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	bool ok, timers_only = answer && rx->first_done;

	if (!p->signed_ || msg->n < 12)
		return false;
	ok = true;
	if (answer) {
		ok = buf_u16(&d, (unsigned)rx->prior_len) && buf_put(&d, rx->prior, rx->prior_len);
		if (timers_only && rx->pending.n)
			ok = ok && buf_put(&d, rx->pending.v, rx->pending.n);
	}
	ok = ok && buf_put(&d, msg->v, msg->n) &&
	     tsig_vars(p, &d, t, TSIG_FUDGE, 0, NULL, 0, timers_only) && hmac(p, &d, mac, &maclen);
	free(d.v);
	if (!ok)
		return false;
	unsigned id = get16(msg->v);
	size_t rdlen = p->alg_len + 6 + 2 + 2 + maclen + 2 + 2 + 2;
	if (!buf_put(msg, p->kname_wire, p->kname_len) || !buf_u16(msg, LDNS_RR_TYPE_TSIG) ||
	    !buf_u16(msg, LDNS_RR_CLASS_ANY) || !buf_put(msg, "\0\0\0\0", 4) ||
	    !buf_u16(msg, (unsigned)rdlen) || !buf_put(msg, p->alg_wire, p->alg_len))
		return false;
	put48(fx, t);
	put16(fx + 6, TSIG_FUDGE);
	put16(fx + 8, (unsigned)maclen);
	if (!buf_put(msg, fx, 10) || !buf_put(msg, mac, maclen) || !buf_u16(msg, id) ||
	    !buf_u16(msg, 0) || !buf_u16(msg, 0))
		return false;
	put16(msg->v + 10, get16(msg->v + 10) + 1); /* ARCOUNT */
	memcpy(rx->prior, mac, maclen);
	rx->prior_len = maclen;
	if (answer) {
		rx->pending.n = 0;
		rx->unsigned_run = 0;
		rx->first_done = true;
	}
	return true;
}

bool tw_dns_rfc2136_sign(const tw_dns_provider_t *base, tw_dns_rfc2136_rx_t *rx, tw_dns_buf_t *msg,
                         bool answer)
{
	return tsig_sign((const r2136_t *)base, rx, msg, answer);
}

/* Skips a possibly compressed name; false if it runs past the end. */
static bool skip_name(const uint8_t *w, size_t n, size_t *pos)
{
	while (*pos < n) {
		uint8_t l = w[*pos];
		if ((l & 0xc0) == 0xc0) {
			*pos += 2;
			return *pos <= n;
		}
		if (l & 0xc0)
			return false;
		*pos += 1u + l;
		if (l == 0)
			return *pos <= n;
	}
	return false;
}

typedef struct tsig_rr {
	bool present;
	size_t off; /* where the TSIG RR starts: the digest covers wire[0, off) */
	ldns_rdf *name, *alg;
	uint64_t time;
	unsigned fudge, orig_id, error;
	const uint8_t *mac, *other;
	size_t mac_len, other_len;
} tsig_rr_t;

static void tsig_rr_free(tsig_rr_t *t)
{
	ldns_rdf_deep_free(t->name);
	ldns_rdf_deep_free(t->alg);
	memset(t, 0, sizeof(*t));
}

/* Finds the TSIG RR, which must be the last record of the message (RFC 8945
 * section 5.1). Returns false if the message is malformed. */
static bool tsig_find(const uint8_t *w, size_t n, tsig_rr_t *t)
{
	size_t pos = 12, last = 0;
	unsigned qd, rrs;

	memset(t, 0, sizeof(*t));
	if (n < 12)
		return false;
	qd = get16(w + 4);
	rrs = get16(w + 6) + get16(w + 8) + get16(w + 10);
	for (unsigned i = 0; i < qd; i++) {
		if (!skip_name(w, n, &pos) || pos + 4 > n)
			return false;
		pos += 4;
	}
	for (unsigned i = 0; i < rrs; i++) {
		last = pos;
		if (!skip_name(w, n, &pos) || pos + 10 > n)
			return false;
		unsigned type = get16(w + pos), rdlen = get16(w + pos + 8);
		pos += 10;
		if (pos + rdlen > n)
			return false;
		if (i == rrs - 1 && type == LDNS_RR_TYPE_TSIG && get16(w + 10) > 0) {
			size_t q = last, end = pos + rdlen;
			if (ldns_wire2dname(&t->name, w, n, &q) != LDNS_STATUS_OK)
				return false;
			q = pos;
			if (ldns_wire2dname(&t->alg, w, end, &q) != LDNS_STATUS_OK ||
			    q + 10 > end) {
				tsig_rr_free(t);
				return false;
			}
			t->time = 0;
			for (int k = 0; k < 6; k++)
				t->time = t->time << 8 | w[q + (size_t)k];
			t->fudge = get16(w + q + 6);
			t->mac_len = get16(w + q + 8);
			q += 10;
			if (q + t->mac_len + 6 > end) {
				tsig_rr_free(t);
				return false;
			}
			t->mac = w + q;
			q += t->mac_len;
			t->orig_id = get16(w + q);
			t->error = get16(w + q + 2);
			t->other_len = get16(w + q + 4);
			q += 6;
			if (q + t->other_len != end) {
				tsig_rr_free(t);
				return false;
			}
			t->other = w + q;
			t->present = true;
			t->off = last;
		}
		pos += rdlen;
	}
	return true;
}

void tw_dns_rfc2136_rx_release(tw_dns_rfc2136_rx_t *rx)
{
	free(rx->pending.v);
	memset(rx, 0, sizeof(*rx));
}

typedef tw_dns_tv_t tv_t;
#define TV_OK         TW_DNS_TV_OK
#define TV_UNSIGNED   TW_DNS_TV_UNSIGNED
#define TV_BAD        TW_DNS_TV_BAD
#define TV_TIME       TW_DNS_TV_TIME
#define TV_SERVER_ERR TW_DNS_TV_SERVER_ERR

/* Verifies one message of the answer. TV_SERVER_ERR: the server's TSIG error
 * field is set (its MAC is then empty, section 5.3.2): t->error says which. */
static tv_t tsig_verify(const r2136_t *p, rx_t *c, const uint8_t *w, size_t n, tsig_rr_t *t)
{
	buf_t d = {0};
	uint8_t mac[EVP_MAX_MD_SIZE], hdr[12];
	size_t maclen = 0;
	bool ok;

	if (!t->present) {
		/* Section 5.3.1: a multi-message answer may leave up to 99
		 * messages unsigned; they count in the next signed one. */
		if (!c->first_done || ++c->unsigned_run > 99)
			return TV_UNSIGNED;
		return buf_put(&c->pending, w, n) ? TV_OK : TV_BAD;
	}
	if (t->error)
		return TV_SERVER_ERR;
	uint8_t tn[256];
	size_t tnl;
	if (ldns_rdf_size(t->name) != p->kname_len || ldns_rdf_size(t->alg) != p->alg_len)
		return TV_BAD;
	memcpy(tn, ldns_rdf_data(t->name), p->kname_len);
	tnl = p->kname_len;
	ldns_rdf *ln = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, tnl, tn);
	ldns_rdf *la = ldns_rdf_clone(t->alg);
	if (!ln || !la) {
		ldns_rdf_deep_free(ln);
		ldns_rdf_deep_free(la);
		return TV_BAD;
	}
	ldns_dname2canonical(ln);
	ldns_dname2canonical(la);
	bool same = memcmp(ldns_rdf_data(ln), p->kname_wire, p->kname_len) == 0 &&
	            memcmp(ldns_rdf_data(la), p->alg_wire, p->alg_len) == 0;
	ldns_rdf_deep_free(ln);
	ldns_rdf_deep_free(la);
	if (!same)
		return TV_BAD;

	/* The message as it was before the TSIG RR was added: original ID,
	 * ARCOUNT one less (section 4.3.2). */
	memcpy(hdr, w, 12);
	put16(hdr, t->orig_id);
	put16(hdr + 10, get16(w + 10) - 1);
	ok = buf_u16(&d, (unsigned)c->prior_len) && buf_put(&d, c->prior, c->prior_len);
	if (c->first_done && c->pending.n)
		ok = ok && buf_put(&d, c->pending.v, c->pending.n);
	ok = ok && buf_put(&d, hdr, 12) && buf_put(&d, w + 12, t->off - 12) &&
	     tsig_vars(p, &d, t->time, t->fudge, t->error, t->other, t->other_len, c->first_done) &&
	     hmac(p, &d, mac, &maclen);
	free(d.v);
	if (!ok || maclen != t->mac_len || CRYPTO_memcmp(mac, t->mac, maclen) != 0)
		return TV_BAD;
	c->pending.n = 0;
	c->unsigned_run = 0;
	memcpy(c->prior, mac, maclen);
	c->prior_len = maclen;
	c->first_done = true;
	int64_t skew = (int64_t)time(NULL) - (int64_t)t->time;
	if (skew > (int64_t)t->fudge || -skew > (int64_t)t->fudge)
		return TV_TIME;
	return TV_OK;
}

/* ---- transport (TCP, RFC 1035 section 4.2.2; wire.c) -------------------------- */

typedef struct conn {
	int fd;
	char addr[80]; /* the address connected to, for traces */
} conn_t;

/* Connects to the server; 0, or fills err (exit 3) and returns < 0. */
static int conn_open(r2136_t *p, conn_t *c, tw_dns_err_t *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res, *ai;
	long deadline = tw_dns_wire_now_ms() + p->timeout_ms;
	int r, last_err = 0;
	bool timed_out = false;

	c->fd = -1;
	r = getaddrinfo(p->host, p->port, &hints, &res);
	if (r == EAI_ADDRFAMILY || r == EAI_NONAME) {
		hints.ai_flags = 0; /* loopback-only hosts: AI_ADDRCONFIG hides ::1 */
		r = getaddrinfo(p->host, p->port, &hints, &res);
	}
	if (r != 0)
		return fail(err, 3, 0, false, "cannot resolve the server %s: %s", p->server,
		            gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		/* each address within what is left of the one deadline */
		int fd = tw_dns_wire_tcp_connect(ai->ai_addr, ai->ai_addrlen, deadline);
		if (fd >= 0) {
			char h[64] = "?", s[8] = "?";
			getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof(h), s, sizeof(s),
			            NI_NUMERICHOST | NI_NUMERICSERV);
			snprintf(c->addr, sizeof(c->addr), strchr(h, ':') ? "[%s]:%s" : "%s:%s", h,
			         s);
			c->fd = fd;
			break;
		}
		if (fd == -ETIMEDOUT)
			timed_out = true;
		last_err = -fd;
	}
	freeaddrinfo(res);
	if (c->fd >= 0)
		return 0;
	if (timed_out)
		return fail(err, 3, 0, false, "no answer from %s in %ld s (TCP connect timed out)",
		            p->server, (p->timeout_ms + 999) / 1000);
	return fail(err, 3, 0, false, "cannot connect to %s over TCP: %s", p->server,
	            strerror(last_err > 0 && last_err < 4096 ? last_err : ECONNREFUSED));
}

/* The request's wire form, signed when there is a key. */
static int build_request(r2136_t *p, ldns_pkt *pkt, buf_t *out, rx_t *rx, tw_dns_err_t *err)
{
	uint8_t *w = NULL;
	size_t n = 0;

	if (ldns_pkt2wire(&w, pkt, &n) != LDNS_STATUS_OK || n > MAX_MSG - 1024)
		return fail(err, 2, 0, false, "the message for %s is too large for DNS (%zu bytes)",
		            p->base.origin, n);
	out->n = 0;
	bool ok = buf_put(out, w, n);
	free(w);
	if (!ok)
		return TW_ENOMEM;
	rx->prior_len = 0;
	if (p->signed_ && !tsig_sign(p, rx, out, false))
		return fail(err, 3, 0, false, "cannot sign the message with the TSIG key %s (%s)",
		            p->key_name, p->alg);
	return 0;
}

static uint16_t random_id(void)
{
	uint16_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = (uint16_t)(tw_dns_wire_now_ms() ^ getpid());
	return id;
}

/* ---- errors the server answers ----------------------------------------------- */

/* A message for a refused key (TSIG error or NOTAUTH to a signed request).
 * action: "transfer" or "update". */
static int key_refused(r2136_t *p, tw_dns_err_t *err, unsigned rcode, unsigned tsig_error,
                       const char *action)
{
	const char *acl =
	        strcmp(action, "update") == 0 ? "update-policy / allow-update" : "allow-transfer";
	if (tsig_error == 0 && rcode == LDNS_RCODE_NOTAUTH)
		/* Knot answers a zone it doesn't serve with an unsigned NOTAUTH. */
		return fail(
		        err, 3, 10000 + (int)rcode, false,
		        "%s answered NOTAUTH for %s without a TSIG error: it does not serve this "
		        "zone (check the zone name and the server's zones), or it refused the "
		        "key %s (Knot: acl with key: %s and action: %s; BIND: %s { key %s; })",
		        p->server, p->base.origin, p->key_name, p->key_name, action, acl,
		        p->key_name);
	if (tsig_error == TSIG_BADTIME)
		return fail(err, 1, 10000 + (int)rcode, false,
		            "%s refused the TSIG key %s (RCODE %s, TSIG BADTIME): this machine's "
		            "clock and the server's differ by more than %d s; fix the clock (NTP)",
		            p->server, p->key_name, rcode_name(rcode), TSIG_FUDGE);
	/* A refused transfer is the server's ACL (exit 3, issue 5); a refused
	 * update with a key that transfers fine is the key's rights (exit 1). */
	int acl_exit = strcmp(action, "transfer") == 0 ? 3 : 1;
	if (tsig_error == TSIG_BADKEY)
		/* Knot answers BADKEY both for a key it doesn't know and for a
		 * known key its ACL doesn't allow this action: say both. */
		return fail(err, acl_exit, 10000 + (int)rcode, false,
		            "the server refused the TSIG key %s (RCODE %s, TSIG BADKEY): the key "
		            "isn't configured there under this name and algorithm (%s), or the "
		            "zone's ACL doesn't allow it to %s (Knot: acl with key: %s and "
		            "action: %s; BIND: %s { key %s; })",
		            p->key_name, rcode_name(rcode), p->alg, action, p->key_name, action,
		            acl, p->key_name);
	if (tsig_error == TSIG_BADSIG || tsig_error == TSIG_BADTRUNC || rcode == LDNS_RCODE_NOTAUTH)
		return fail(err, 1, 10000 + (int)rcode, false,
		            "the server refused the TSIG key %s (RCODE %s%s%s): wrong secret or "
		            "algorithm (%s), or the key isn't configured there",
		            p->key_name, rcode_name(rcode), tsig_error ? ", TSIG " : "",
		            tsig_error ? rcode_name(tsig_error) : "", p->alg);
	/* A signed REFUSED (BIND): the key is fine, the ACL says no. */
	return fail(err, acl_exit, 10000 + (int)rcode, false,
	            "the server refused the TSIG key %s (RCODE %s): the zone's ACL doesn't "
	            "allow this key to %s (Knot: acl with key: %s and action: %s; BIND: %s "
	            "{ key %s; })",
	            p->key_name, rcode_name(rcode), action, p->key_name, action, acl, p->key_name);
}

/* ---- list: AXFR ------------------------------------------------------------ */

static bool is_dnssec_type(uint16_t t)
{
	switch (t) {
	case LDNS_RR_TYPE_RRSIG:
	case LDNS_RR_TYPE_NSEC:
	case LDNS_RR_TYPE_NSEC3:
	case LDNS_RR_TYPE_NSEC3PARAM:
	case LDNS_RR_TYPE_DNSKEY:
	case LDNS_RR_TYPE_CDS:
	case LDNS_RR_TYPE_CDNSKEY:
	case 65534: /* BIND's private signing-state records */ return true;
	default: return false;
	}
}

static int add_live(r2136_t *p, tw_dns_zone_t *out, ldns_rr *rr, tw_dns_err_t *err)
{
	uint16_t type = (uint16_t)ldns_rr_get_type(rr);
	unsigned flags = 0;
	const char *note = NULL;
	tw_diags_t d = {0};
	bool apex = false;
	ldns_rdf *origin = NULL;

	if (ldns_str2rdf_dname(&origin, p->base.origin) == LDNS_STATUS_OK) {
		apex = ldns_dname_compare(ldns_rr_owner(rr), origin) == 0;
		ldns_rdf_deep_free(origin);
	}
	if (type == LDNS_RR_TYPE_SOA) {
		note = "SOA (the server keeps it)";
	} else if (type == LDNS_RR_TYPE_NS && apex) {
		note = "apex NS (delegation; change at the registrar)";
	} else if (is_dnssec_type(type)) {
		note = "DNSSEC (signed by the server)";
	} else if (type == 63) { /* ZONEMD, RFC 8976 */
		note = "ZONEMD (computed by the server)";
	} else if (!tw_dns_type_managed(type)) {
		note = "a type tailwart dns doesn't manage";
	}
	if (note)
		flags |= TW_DNS_RR_UNMANAGED;
	size_t before = out->n;
	if (tw_dns_zone_add_rr(out, rr, NULL, 0, flags, &d) != 0) {
		char m[400] = "";
		if (d.n)
			tw_diag_format(&d.v[0], m, sizeof(m));
		tw_diags_release(&d);
		return fail(err, 3, 0, false,
		            "the transfer of %s from %s has a record tailwart can't "
		            "hold: %s",
		            p->base.origin, p->server, m);
	}
	tw_diags_release(&d);
	if (note && out->n > before)
		out->v[out->n - 1].note = note;
	return 0;
}

/* tsig_find, then tsig_verify when there is a key; false when malformed. */
static bool answer_tsig(const r2136_t *p, rx_t *rx, const uint8_t *w, size_t n, tv_t *tv,
                        unsigned *terr, size_t *off)
{
	tsig_rr_t t;

	if (!tsig_find(w, n, &t))
		return false;
	*tv = p->signed_ ? tsig_verify(p, rx, w, n, &t) : TV_OK;
	*terr = t.error;
	*off = t.present ? t.off : 0;
	tsig_rr_free(&t);
	return true;
}

int tw_dns_rfc2136_verify(const tw_dns_provider_t *base, tw_dns_rfc2136_rx_t *rx, const uint8_t *w,
                          size_t n, unsigned *tsig_error, size_t *tsig_off)
{
	tv_t tv = TV_OK;

	*tsig_error = 0;
	*tsig_off = 0;
	if (!answer_tsig((const r2136_t *)base, rx, w, n, &tv, tsig_error, tsig_off))
		return TW_EPROTO;
	return (int)tv;
}

int tw_dns_rfc2136_axfr_msg(tw_dns_provider_t *base, tw_dns_rfc2136_rx_t *rx, const uint8_t *w,
                            size_t n, tw_dns_zone_t *out, tw_dns_err_t *err)
{
	r2136_t *p = (r2136_t *)base;
	ldns_pkt *a = NULL;
	tv_t tv;
	unsigned terr;
	size_t off;
	int rc = 0;

	rx->msgs++;
	if (n < 12 || get16(w) != rx->id || !(w[2] & 0x80))
		return fail(err, 3, 0, false,
		            "%s answered the zone transfer with a message that "
		            "is not its answer (wrong ID)",
		            p->server);
	if (!answer_tsig(p, rx, w, n, &tv, &terr, &off))
		return fail(err, 3, 0, false, "%s sent a malformed message in the transfer of %s",
		            p->server, p->base.origin);
	unsigned rcode = w[3] & 0x0f;
	if (rcode != LDNS_RCODE_NOERROR || tv == TV_SERVER_ERR) {
		if (p->signed_ && (tv == TV_SERVER_ERR || rcode == LDNS_RCODE_NOTAUTH) &&
		    (terr == TSIG_BADSIG || terr == TSIG_BADKEY || terr == TSIG_BADTIME ||
		     (rcode == LDNS_RCODE_NOTAUTH && tv != TV_OK)))
			return key_refused(p, err, rcode, terr, "transfer");
		if (rcode == LDNS_RCODE_REFUSED || rcode == LDNS_RCODE_NOTAUTH) {
			if (p->signed_)
				return fail(err, 3, 10000 + (int)rcode, false,
				            "%s refused the zone transfer of %s (RCODE %s): "
				            "allow the key %s in the server's transfer ACL "
				            "(Knot: acl with key: %s and action: transfer; "
				            "BIND: allow-transfer { key %s; })",
				            p->server, p->base.origin, rcode_name(rcode),
				            p->key_name, p->key_name, p->key_name);
			return fail(err, 3, 10000 + (int)rcode, false,
			            "%s refused the zone transfer of %s (RCODE %s): "
			            "allow this address in the server's transfer ACL "
			            "(Knot: an acl with this address and action: "
			            "transfer; BIND: allow-transfer), or use a TSIG "
			            "key that the ACL allows",
			            p->server, p->base.origin, rcode_name(rcode));
		}
		return fail(err, 3, 10000 + (int)rcode, false,
		            "%s answered the zone transfer of %s with RCODE %s%s", p->server,
		            p->base.origin, rcode_name(rcode),
		            rcode == LDNS_RCODE_SERVFAIL
		                    ? ": the zone may not be loaded there (check "
		                      "the server's log)"
		            : rcode == LDNS_RCODE_NXDOMAIN ? ": the server does not serve this zone"
		                                           : "");
	}
	if (tv == TV_UNSIGNED || tv == TV_BAD)
		return fail(err, 3, 0, false,
		            "the transfer of %s from %s is %s: it can't be trusted", p->base.origin,
		            p->server,
		            tv == TV_UNSIGNED ? "not signed with the TSIG key"
		                              : "signed, but its TSIG signature does not verify");
	if (tv == TV_TIME)
		return fail(err, 1, 0, false,
		            "the clocks of this machine and %s differ by more than %d s: fix "
		            "the "
		            "clock (NTP), TSIG needs it",
		            p->server, TSIG_FUDGE);
	if (ldns_wire2pkt(&a, w, n) != LDNS_STATUS_OK)
		return fail(err, 3, 0, false,
		            "%s sent a message ldns can't parse in the transfer "
		            "of %s",
		            p->server, p->base.origin);
	ldns_rr_list *ans = ldns_pkt_answer(a);
	for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		ldns_rr *rr = ldns_rr_list_rr(ans, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
			if (++rx->soas == 2)
				break; /* the closing SOA (RFC 5936 section 2.2) */
		} else if (rx->soas == 0) {
			rc = fail(err, 3, 0, false,
			          "%s's transfer of %s does not start with "
			          "the SOA",
			          p->server, p->base.origin);
			goto out;
		}
		ldns_rr *cl = ldns_rr_clone(rr);
		if (!cl) {
			rc = TW_ENOMEM;
			goto out;
		}
		if ((rc = add_live(p, out, cl, err)) != 0)
			goto out;
		rx->records++;
	}
	if (ldns_rr_list_rr_count(ans) == 0 && rx->soas == 0)
		rc = fail(err, 3, 0, false, "%s sent an empty answer to the transfer of %s",
		          p->server, p->base.origin);
out:
	ldns_pkt_free(a);
	return rc;
}

static int rfc_list(tw_dns_provider_t *base, tw_dns_zone_t *out, tw_dns_err_t *err)
{
	r2136_t *p = (r2136_t *)base;
	conn_t c = {.fd = -1};
	buf_t req = {0};
	rx_t rx = {0};
	uint8_t *w = NULL;
	ldns_pkt *q = NULL;
	int rc = 0, io;
	size_t n = 0;

	rx.t0 = tw_dns_wire_now_ms();
	q = ldns_pkt_query_new(ldns_dname_new_frm_str(p->base.origin), LDNS_RR_TYPE_AXFR,
	                       LDNS_RR_CLASS_IN, 0);
	if (!q)
		return TW_ENOMEM;
	rx.id = random_id();
	ldns_pkt_set_id(q, rx.id);
	rc = build_request(p, q, &req, &rx, err);
	ldns_pkt_free(q);
	if (rc)
		goto out;
	trace(p, "rfc2136: AXFR %s from %s%s%s", p->base.origin, p->server,
	      p->signed_ ? " with TSIG key " : " unsigned", p->signed_ ? p->key_name : "");
	if ((rc = conn_open(p, &c, err)) != 0)
		goto out;
	long deadline = tw_dns_wire_now_ms() + p->timeout_ms;
	io = tw_dns_wire_send_msg(c.fd, req.v, req.n, deadline);
	w = malloc(MAX_MSG);
	if (!w) {
		rc = TW_ENOMEM;
		goto out;
	}
	while (io == 0 && rx.soas < 2) {
		/* Each message gets the full timeout: a big zone streams. */
		io = tw_dns_wire_recv_msg(c.fd, w, MAX_MSG, &n,
		                          tw_dns_wire_now_ms() + p->timeout_ms);
		if (io != 0)
			break;
		if ((rc = tw_dns_rfc2136_axfr_msg(base, &rx, w, n, out, err)) != 0)
			goto out;
	}
	if (rx.soas < 2) {
		if (io == -ETIMEDOUT)
			rc = fail(err, 3, 0, false,
			          "no answer from %s in %ld s (zone transfer of %s)", p->server,
			          (p->timeout_ms + 999) / 1000, p->base.origin);
		else
			rc = fail(
			        err, 3, 0, false,
			        "%s closed the connection during the transfer of %s (after %zu "
			        "messages): is the server allowed to transfer it (check its log)?",
			        p->server, p->base.origin, rx.msgs);
		goto out;
	}
	trace(p, "rfc2136: AXFR %s: %zu records in %zu messages, %ld ms", p->base.origin,
	      rx.records, rx.msgs, tw_dns_wire_now_ms() - rx.t0);
out:
	if (c.fd >= 0)
		close(c.fd);
	free(w);
	free(req.v);
	tw_dns_rfc2136_rx_release(&rx);
	return rc;
}

/* ---- call: UPDATE --------------------------------------------------------------- */

static int push(ldns_pkt *pkt, ldns_pkt_section sec, const tw_dns_rr_t *r, ldns_rr_class cls,
                bool keep_ttl, r2136_t *p, tw_dns_err_t *err)
{
	char b[300];

	if (!r->rr)
		return fail(err, 2, 0, false,
		            "the record %s has no DNS wire form: rfc2136 can't "
		            "send it",
		            tw_dns_rr_format(r, b, sizeof(b)));
	ldns_rr *rr = ldns_rr_clone(r->rr);
	if (!rr)
		return TW_ENOMEM;
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, keep_ttl ? r->ttl : 0);
	if (!ldns_pkt_push_rr(pkt, sec, rr)) {
		ldns_rr_free(rr);
		return TW_ENOMEM;
	}
	return 0;
}

/* Sent (or partly sent) and no answer: the server may have applied it. */
static int no_answer(r2136_t *p, tw_dns_err_t *err, bool timed_out)
{
	if (timed_out)
		return fail(err, 3, 0, true,
		            "no answer from %s in %ld s: the update may or may not have been "
		            "applied; run plan again to see the zone as it is",
		            p->server, (p->timeout_ms + 999) / 1000);
	return fail(err, 3, 0, true,
	            "%s closed the connection without an answer: the update may or may "
	            "not have been applied; run plan again to see the zone as it is",
	            p->server);
}

int tw_dns_rfc2136_update_answer(tw_dns_provider_t *base, tw_dns_rfc2136_rx_t *rx, const uint8_t *w,
                                 size_t n, tw_dns_err_t *err)
{
	r2136_t *p = (r2136_t *)base;
	tv_t tv;
	unsigned terr;
	size_t off;
	int rc = 0;

	/* not an answer to our request: as good as none */
	if (n < 12 || get16(w) != rx->id || !(w[2] & 0x80))
		return no_answer(p, err, false);
	if (!answer_tsig(p, rx, w, n, &tv, &terr, &off))
		return fail(err, 3, 0, true,
		            "%s answered with a malformed message: the update may or "
		            "may not have been applied; run plan again",
		            p->server);
	unsigned rcode = w[3] & 0x0f;
	trace(p, "rfc2136: answer %s%s%s in %ld ms", rcode_name(rcode), terr ? ", TSIG " : "",
	      terr ? rcode_name(terr) : "", tw_dns_wire_now_ms() - rx->t0);
	switch (rcode) {
	case LDNS_RCODE_NOERROR:
		if (tv == TV_SERVER_ERR || tv == TV_UNSIGNED || tv == TV_BAD)
			rc = fail(err, 3, 10000, true,
			          "%s answered NOERROR but the answer's TSIG signature %s: the "
			          "update "
			          "was probably applied; run plan again to check",
			          p->server, tv == TV_UNSIGNED ? "is missing" : "does not verify");
		break;
	case LDNS_RCODE_YXDOMAIN:
	case LDNS_RCODE_YXRRSET:
	case LDNS_RCODE_NXDOMAIN:
	case LDNS_RCODE_NXRRSET:
		/* RFC 2136 3.2.5: a prerequisite failed; 3.2: nothing was done. */
		rc = fail(err, 3, 10000 + (int)rcode, false,
		          "the zone changed since it was read (RCODE %s: prerequisite failed): "
		          "nothing was applied; run plan again",
		          rcode_name(rcode));
		break;
	case LDNS_RCODE_NOTAUTH:
	case LDNS_RCODE_REFUSED:
		if (p->signed_)
			rc = key_refused(p, err, rcode, terr, "update");
		else
			rc = fail(
			        err, 1, 10000 + (int)rcode, false,
			        "%s refused the unsigned update of %s (RCODE %s): give a TSIG key "
			        "that the zone's update ACL allows (Knot: acl with "
			        "action: update; BIND: update-policy); nothing was applied",
			        p->server, p->base.origin, rcode_name(rcode));
		break;
	case LDNS_RCODE_NOTZONE:
		rc = fail(err, 2, 10000 + (int)rcode, false,
		          "%s answered NOTZONE: it is not authoritative for %s, or a record is "
		          "outside it; nothing was applied",
		          p->server, p->base.origin);
		break;
	case LDNS_RCODE_FORMERR:
		rc = fail(err, 2, 10000 + (int)rcode, false,
		          "%s refused the update as malformed (FORMERR): a record may be invalid "
		          "for the server (see its log); nothing was applied",
		          p->server);
		break;
	case LDNS_RCODE_NOTIMPL:
		rc = fail(err, 3, 10000 + (int)rcode, false,
		          "%s does not implement dynamic updates (NOTIMP); nothing was applied",
		          p->server);
		break;
	default:
		rc = fail(err, 3, 10000 + (int)rcode, false,
		          "%s answered the update with RCODE %s; nothing was applied (RFC 2136 "
		          "section 3.7: an update is atomic); see the server's log",
		          p->server, rcode_name(rcode));
		break;
	}
	return rc;
}

static int rfc_call(tw_dns_provider_t *base, const tw_dns_zone_t *zone, const tw_dns_call_t *cl,
                    tw_dns_err_t *err)
{
	r2136_t *p = (r2136_t *)base;
	ldns_pkt *pkt = NULL;
	conn_t c = {.fd = -1};
	buf_t req = {0};
	rx_t rx = {0};
	uint8_t *w = NULL;
	size_t n = 0;
	int rc = 0;

	TW_UNUSED(zone);
	if (cl->kind != TW_DNS_CALL_UPDATE)
		return fail(err, 2, 0, false,
		            "rfc2136 makes only UPDATE calls (one atomic message "
		            "per plan): the plan asked for another kind");
	pkt = ldns_pkt_new();
	if (!pkt)
		return TW_ENOMEM;
	rx.id = random_id();
	ldns_pkt_set_id(pkt, rx.id);
	ldns_pkt_set_opcode(pkt, LDNS_PACKET_UPDATE);

	/* Zone section (2.3): ZNAME, ZTYPE SOA, ZCLASS IN. */
	ldns_rr *zq = ldns_rr_new();
	if (!zq) {
		rc = TW_ENOMEM;
		goto out;
	}
	ldns_rr_set_question(zq, true);
	ldns_rr_set_owner(zq, ldns_dname_new_frm_str(p->base.origin));
	ldns_rr_set_type(zq, LDNS_RR_TYPE_SOA);
	ldns_rr_set_class(zq, LDNS_RR_CLASS_IN);
	ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, zq);

	/* Prerequisites (2.4.2, 2.4.3) go in the answer section's place. */
	for (size_t i = 0; i < cl->npre; i++)
		if ((rc = push(pkt, LDNS_SECTION_ANSWER, cl->pre[i], LDNS_RR_CLASS_IN, false, p,
		               err)))
			goto out;
	for (size_t i = 0; i < cl->nabsent; i++) {
		ldns_rr *rr = ldns_rr_new();
		ldns_rdf *o = ldns_dname_new_frm_str(cl->absent[i].owner);
		if (!rr || !o) {
			ldns_rr_free(rr);
			ldns_rdf_deep_free(o);
			rc = fail(err, 2, 0, false, "the name %s is not a valid domain name",
			          cl->absent[i].owner);
			goto out;
		}
		ldns_rr_set_owner(rr, o);
		ldns_rr_set_type(rr, (ldns_rr_type)cl->absent[i].type);
		ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
		ldns_rr_set_ttl(rr, 0);
		ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
	}
	/* Update section (2.5.4 deletes, then 2.5.1 adds) in the authority's place. */
	for (size_t i = 0; i < cl->ndels; i++)
		if ((rc = push(pkt, LDNS_SECTION_AUTHORITY, cl->dels[i], LDNS_RR_CLASS_NONE, false,
		               p, err)))
			goto out;
	for (size_t i = 0; i < cl->n; i++)
		if ((rc = push(pkt, LDNS_SECTION_AUTHORITY, cl->rrs[i], LDNS_RR_CLASS_IN, true, p,
		               err)))
			goto out;

	if ((rc = build_request(p, pkt, &req, &rx, err)) != 0)
		goto out;
	trace(p,
	      "rfc2136: UPDATE %s at %s: %zu prerequisite records, %zu absent RRsets, %zu deletes, "
	      "%zu adds, %zu bytes%s%s",
	      p->base.origin, p->server, cl->npre, cl->nabsent, cl->ndels, cl->n, req.n,
	      p->signed_ ? ", TSIG key " : ", unsigned", p->signed_ ? p->key_name : "");
	if ((rc = conn_open(p, &c, err)) != 0)
		goto out;
	rx.t0 = tw_dns_wire_now_ms();
	long deadline = rx.t0 + p->timeout_ms;
	int io = tw_dns_wire_send_msg(c.fd, req.v, req.n, deadline);
	w = malloc(MAX_MSG);
	if (!w) {
		rc = TW_ENOMEM;
		goto out;
	}
	if (io == 0)
		io = tw_dns_wire_recv_msg(c.fd, w, MAX_MSG, &n, deadline);
	if (io != 0)
		rc = no_answer(p, err, io == -ETIMEDOUT);
	else
		rc = tw_dns_rfc2136_update_answer(base, &rx, w, n, err);
out:
	ldns_pkt_free(pkt);
	if (c.fd >= 0)
		close(c.fd);
	free(w);
	free(req.v);
	tw_dns_rfc2136_rx_release(&rx);
	return rc;
}

/* ---- provider ---------------------------------------------------------------- */

static bool rfc_can_write(const tw_dns_rr_t *r, const char *origin, char *why, size_t n)
{
	TW_UNUSED(origin);
	if (!r->rr) {
		snprintf(why, n, "a record without a DNS wire form can't be sent in an UPDATE");
		return false;
	}
	if (r->type == LDNS_RR_TYPE_SOA || is_dnssec_type(r->type)) {
		snprintf(why, n, "the server maintains %s records itself",
		         r->type == LDNS_RR_TYPE_SOA ? "SOA" : "DNSSEC");
		return false;
	}
	return true;
}

static void rfc_destroy(tw_dns_provider_t *base)
{
	r2136_t *p = (r2136_t *)base;
	explicit_bzero(p->secret, sizeof(p->secret));
	free(p);
}

static const tw_dns_provider_ops_t rfc_ops = {
        .name = "rfc2136",
        .sem =
                {
                        .append_by_value = false,
                        .one_update = true,
                        .data_nocase = false,
                        .ttl_min = 0,
                        .ttl_max = 0,
                        .max_batch = 0,
                        .can_write = rfc_can_write,
                },
        .list = rfc_list,
        .call = rfc_call,
        .nameservers = NULL,
        .destroy = rfc_destroy,
};

/* HOST, HOST:PORT, [V6], [V6]:PORT, or a bare IPv6 address (port 53). */
static bool parse_server(r2136_t *p, const char *s)
{
	const char *host = s, *port = NULL;
	size_t hl;

	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e)
			return false;
		host = s + 1;
		hl = (size_t)(e - host);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1] != '\0')
			return false;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':')) { /* bare IPv6 */
			hl = strlen(s);
		} else if (c) {
			hl = (size_t)(c - s);
			port = c + 1;
		} else {
			hl = strlen(s);
		}
	}
	if (hl == 0 || hl >= sizeof(p->host))
		return false;
	memcpy(p->host, host, hl);
	p->host[hl] = '\0';
	if (port) {
		char *end;
		long v = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || v < 1 || v > 65535)
			return false;
		snprintf(p->port, sizeof(p->port), "%ld", v);
	} else {
		tw_strlcpy(p->port, "53", sizeof(p->port));
	}
	for (const char *h = p->host; *h; h++)
		if ((unsigned char)*h <= ' ' || *h == '/' || *h == '[' || *h == ']')
			return false;
	return true;
}

static const struct {
	const char *alg, *wire, *md;
} alg_tab[] = {
        /* RFC 8945 section 6: the wire names; hmac-md5's is the old one. */
        {"hmac-md5", "hmac-md5.sig-alg.reg.int.", "MD5"}, {"hmac-sha1", "hmac-sha1.", "SHA1"},
        {"hmac-sha224", "hmac-sha224.", "SHA224"},        {"hmac-sha256", "hmac-sha256.", "SHA256"},
        {"hmac-sha384", "hmac-sha384.", "SHA384"},        {"hmac-sha512", "hmac-sha512.", "SHA512"},
};

int tw_dns_rfc2136_new(const char *origin, const tw_dns_rfc2136_opts_t *o, tw_dns_provider_t **out,
                       tw_dns_err_t *err)
{
	r2136_t *p;
	char name[256];

	*out = NULL;
	if (!o || !o->server || !*o->server)
		return fail(err, 2, 0, false, "rfc2136 needs a server (--server HOST[:PORT])");
	p = calloc(1, sizeof(*p));
	if (!p)
		return TW_ENOMEM;
	p->base.ops = &rfc_ops;
	/* The origin, canonical: lower case, absolute. */
	size_t ol = strlen(origin);
	if (ol == 0 || ol + 2 > sizeof(p->base.origin)) {
		free(p);
		return fail(err, 2, 0, false, "the zone name is empty or too long");
	}
	for (size_t i = 0; i < ol; i++)
		p->base.origin[i] =
		        (char)((origin[i] >= 'A' && origin[i] <= 'Z') ? origin[i] + 32 : origin[i]);
	if (ol == 1 && origin[0] == '.')
		p->base.origin[0] = '.';
	else if (p->base.origin[ol - 1] != '.')
		p->base.origin[ol] = '.';
	ldns_rdf *zr = NULL;
	if (ldns_str2rdf_dname(&zr, p->base.origin) != LDNS_STATUS_OK) {
		free(p);
		return fail(err, 2, 0, false, "the zone name %s is not a valid domain name",
		            origin);
	}
	ldns_rdf_deep_free(zr);
	tw_strlcpy(p->server, o->server, sizeof(p->server));
	if (!parse_server(p, o->server)) {
		free(p);
		return fail(err, 2, 0, false, "server %s: expected HOST, HOST:PORT or [IPv6]:PORT",
		            o->server);
	}
	p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	if (o->key) {
		const tw_dns_tsig_t *k = o->key;
		for (size_t i = 0; i < TW_ARRAY_LEN(alg_tab); i++)
			if (strcasecmp(k->alg, alg_tab[i].alg) == 0) {
				p->alg = alg_tab[i].alg;
				p->md = alg_tab[i].md;
				name_wire(alg_tab[i].wire, p->alg_wire, sizeof(p->alg_wire),
				          &p->alg_len);
			}
		tw_strlcpy(p->key_name, k->name, sizeof(p->key_name));
		snprintf(name, sizeof(name), "%s", k->name);
		if (!p->alg ||
		    !name_wire(name, p->kname_wire, sizeof(p->kname_wire), &p->kname_len)) {
			free(p);
			return fail(err, 2, 0, false,
			            "the TSIG key %s: unknown algorithm or bad name", k->name);
		}
		/* EVP_DecodeBlock counts padding as zero bytes: take them off. */
		size_t sl = strlen(k->secret), pad = 0;
		if (sl == 0 || sl % 4 != 0 || sl / 4 * 3 > sizeof(p->secret)) {
			rfc_destroy(&p->base);
			return fail(err, 2, 0, false, "the TSIG key %s: the secret is not base64",
			            k->name);
		}
		int dl = EVP_DecodeBlock(p->secret, (const unsigned char *)k->secret, (int)sl);
		while (pad < 2 && sl > pad && k->secret[sl - 1 - pad] == '=')
			pad++;
		if (dl < 0 || (size_t)dl < pad + 1) {
			rfc_destroy(&p->base);
			return fail(err, 2, 0, false, "the TSIG key %s: the secret is not base64",
			            k->name);
		}
		p->secret_len = (size_t)dl - pad;
		p->signed_ = true;
	}
	*out = &p->base;
	return 0;
}
