/*
 * spaceship.c - the Spaceship (spaceship.com) DNS provider: list a zone's
 * records and PUT/DELETE records through the REST API, libcurl + jansson.
 *
 * Facts about the API come from docs/spaceship-api.md; tags there: SPEC is
 * Spaceship's OpenAPI document (docs.spaceship.dev), NC-SDK / NC-TF the
 * official Go SDK and Terraform provider by Namecheap.
 *
 * The key and secret only ever go into the two request headers: never into
 * a message, a trace line or libcurl's debug output (we set no debug
 * callback and never turn on CURLOPT_VERBOSE), and whatever the server
 * echoes back is scrubbed of them before it is shown.
 */
#include "util/tw.h"

#include "dns/spaceship.h"
#include "util/sbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <strings.h>
#include <time.h>

#define SS_DEFAULT_API   "https://spaceship.dev/api/v1" /* SPEC servers[0] + /v1 */
#define SS_DEFAULT_TTL   3600u                          /* SPEC: ttl is optional in list items */
#define SS_MAX_BODY      (64u << 20)                    /* 500 items of up to 64 KiB TXT each */
#define SS_RETRY_DEFAULT 30L  /* NC-TF: 30 s when 429 has no Retry-After */
#define SS_RETRY_MAX     600L /* NC-TF saw up to ~300 s */

/* ---- small helpers ----------------------------------------------------- */

static bool is_label_char(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '*';
}

/*
 * A name as the API spells it (SPEC hostNameValue): labels of letters,
 * digits, '-', '_' and '*', 1..63 bytes, no empty label, no dots at the
 * ends, at most 253 bytes. Anything else could not be a name the API sent
 * or takes, and must never reach a master-file line unchecked.
 */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return false;
	size_t lab = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			continue;
		}
		if (!is_label_char((unsigned char)s[i]) || ++lab > 63)
			return false;
	}
	return true;
}

/* A "_sip" / "_tcp" label: '_' then 1..62 letters, digits or '-'. */
static bool underscore_label_ok(const char *s, size_t len)
{
	if (len < 2 || len > 63 || s[0] != '_')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* "_25" -> 25; 0 when not "_" + 1..65535. */
static unsigned port_label(const char *s, size_t len)
{
	if (len < 2 || len > 6 || s[0] != '_')
		return 0;
	unsigned v = 0;
	for (size_t i = 1; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= 65535 ? v : 0;
}

static bool utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		size_t n;
		unsigned min;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, c &= 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Lower-case copy of the origin without its trailing dot ("example.com"). */
static void origin_domain(const char *origin, char *buf, size_t size)
{
	tw_strlcpy(buf, origin, size);
	size_t n = strlen(buf);
	if (n > 1 && buf[n - 1] == '.')
		buf[n - 1] = '\0';
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* ---- list: item -> record ----------------------------------------------- */

typedef struct conv {
	const json_t *item;
	size_t index;
	tw_dns_err_t *err;
} conv_t;

__attribute__((format(printf, 3, 4))) static int bad(conv_t *cv, const char *field, const char *fmt,
                                                     ...)
{
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	cv->err->status = 0;
	return tw_dns_err_set(cv->err, 3,
	                      "spaceship sent a record tailwart can't read: items[%zu]%s%s: %s",
	                      cv->index, field[0] ? "." : "", field, what);
}

/* A required string field; its bytes in *s, *len. */
static int get_str(conv_t *cv, const char *field, const char **s, size_t *len)
{
	const json_t *v = json_object_get(cv->item, field);
	if (!v)
		return bad(cv, field, "missing");
	if (!json_is_string(v))
		return bad(cv, field, "not a string");
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

static int get_uint(conv_t *cv, const char *field, unsigned max, unsigned *out)
{
	const json_t *v = json_object_get(cv->item, field);
	if (!v)
		return bad(cv, field, "missing");
	if (!json_is_integer(v))
		return bad(cv, field, "not an integer");
	json_int_t i = json_integer_value(v);
	if (i < 0 || i > (json_int_t)max)
		return bad(cv, field, "%" JSON_INTEGER_FORMAT " is out of range 0..%u", i, max);
	*out = (unsigned)i;
	return 0;
}

/* An absolute target the API sends without its trailing dot -> "name.". */
static int get_target(conv_t *cv, const char *field, const char *origin, tw_sbuf_t *out)
{
	const char *s;
	size_t len;
	int rc = get_str(cv, field, &s, &len);
	if (rc)
		return rc;
	if (len == 1 && s[0] == '@') {
		tw_sbuf_add(out, origin);
		return 0;
	}
	if (len > 1 && s[len - 1] == '.')
		len--; /* tolerate a trailing dot */
	if (!name_ok(s, len))
		return bad(cv, field, "not a host name");
	tw_sbuf_addn(out, s, len);
	tw_sbuf_add(out, ".");
	return 0;
}

/* A character-string run: quoted, '"' and '\\' escaped, other non-printable
 * bytes as \DDD (RFC 1035 5.1), cut into 255-byte strings (RFC 1035 3.3.14). */
static void add_quoted(tw_sbuf_t *b, const unsigned char *s, size_t len)
{
	size_t i = 0;
	do {
		size_t end = i + 255 < len ? i + 255 : len;
		if (i)
			tw_sbuf_add(b, " ");
		tw_sbuf_add(b, "\"");
		for (; i < end; i++) {
			if (s[i] == '"' || s[i] == '\\')
				tw_sbuf_printf(b, "\\%c", s[i]);
			else if (s[i] < 0x20 || s[i] >= 0x7f)
				tw_sbuf_printf(b, "\\%03u", s[i]);
			else
				tw_sbuf_addn(b, (const char *)&s[i], 1);
		}
		tw_sbuf_add(b, "\"");
	} while (i < len);
}

/* TLSA/HTTPS "port": "_25", "25", "*" or the JSON number 25 (NC-SDK
 * normalizeRecordPort: the API may echo the number). Out: "_25" or "*". */
static int get_port_label(conv_t *cv, const json_t *v, char *buf, size_t size)
{
	unsigned port = 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i >= 1 && i <= 65535)
			port = (unsigned)i;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = json_string_length(v);
		if (len == 1 && s[0] == '*') {
			tw_strlcpy(buf, "*", size);
			return 0;
		}
		char tmp[8];
		if (len >= 1 && len <= 5 && s[0] != '_') {
			snprintf(tmp, sizeof(tmp), "_%.*s", (int)len, s);
			port = port_label(tmp, len + 1);
		} else {
			port = port_label(s, len);
		}
	}
	if (!port)
		return bad(cv, "port", "expected \"_25\", 25 or \"*\"");
	snprintf(buf, size, "_%u", port);
	return 0;
}

/* SRV service/protocol, TLSA protocol, HTTPS scheme: one "_label". */
static int get_ulabel(conv_t *cv, const char *field, char *buf, size_t size)
{
	const char *s;
	size_t len;
	int rc = get_str(cv, field, &s, &len);
	if (rc)
		return rc;
	if (!underscore_label_ok(s, len))
		return bad(cv, field, "expected a label like \"_tcp\"");
	snprintf(buf, size, "%.*s", (int)len, s);
	return 0;
}

int tw_dns_spaceship_item_to_rr(tw_dns_zone_t *z, const json_t *item, size_t index,
                                tw_dns_err_t *err)
{
	conv_t cv = {item, index, err};
	const char *origin = z->origin;
	const char *s;
	size_t len;
	int rc;

	if (!json_is_object(item))
		return bad(&cv, "", "not an object");

	/* type: upper case in responses (NC-SDK RecordKey), checked to be a word. */
	char type[17];
	if ((rc = get_str(&cv, "type", &s, &len)))
		return rc;
	if (len == 0 || len >= sizeof(type))
		return bad(&cv, "type", "not a record type");
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]))
			return bad(&cv, "type", "not a record type");
		type[i] = (char)toupper((unsigned char)s[i]);
	}
	type[len] = '\0';

	const char *name;
	size_t name_len;
	if ((rc = get_str(&cv, "name", &name, &name_len)))
		return rc;
	bool apex = name_len == 1 && name[0] == '@';
	if (!apex && !name_ok(name, name_len))
		return bad(&cv, "name",
		           "not a record name (expected \"@\", \"www\", \"_dmarc\"...)");

	uint32_t ttl = SS_DEFAULT_TTL;
	const json_t *jt = json_object_get(item, "ttl");
	if (jt && !json_is_null(jt)) {
		if (!json_is_integer(jt) || json_integer_value(jt) < 0 ||
		    json_integer_value(jt) > 2147483647)
			return bad(&cv, "ttl", "expected an integer 0..2147483647");
		ttl = (uint32_t)json_integer_value(jt);
	}

	/* SPEC ResourceRecordsGroup: only "custom" records are the API's to
	 * manage; product and personalNs ones are shown, never planned (NC-SDK
	 * filterCustomDNSRecords keeps only custom, so does a missing group). */
	unsigned flags = 0;
	const char *note = NULL;
	const json_t *g = json_object_get(item, "group");
	const json_t *gt = json_is_object(g) ? json_object_get(g, "type") : NULL;
	if (g && !json_is_object(g))
		return bad(&cv, "group", "not an object");
	if (gt && !json_is_string(gt))
		return bad(&cv, "group.type", "not a string");
	const char *group = gt ? json_string_value(gt) : NULL;
	if (!group || strcmp(group, "custom") != 0) {
		flags |= TW_DNS_RR_UNMANAGED;
		if (group && strcmp(group, "personalNs") == 0)
			note = "spaceship personal nameserver record";
		else
			note = "spaceship product record";
	}

	/* Owner labels the API keeps in their own fields (SRV, TLSA, HTTPS). */
	char pre1[72] = "", pre2[72] = "";
	tw_sbuf_t rd = {0}, line = {0};
	unsigned a, b, c;
	const char *opaque_type = NULL;

	if (!strcmp(type, "A") || !strcmp(type, "AAAA")) {
		unsigned char addr[16];
		char tmp[64];
		if ((rc = get_str(&cv, "address", &s, &len)))
			goto out;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < 60 ? len : 60), s);
		if (len >= 60 || strlen(tmp) != len ||
		    inet_pton(type[1] ? AF_INET6 : AF_INET, tmp, addr) != 1) {
			rc = bad(&cv, "address", "not an IPv%s address", type[1] ? "6" : "4");
			goto out;
		}
		tw_sbuf_add(&rd, tmp);
	} else if (!strcmp(type, "CNAME")) {
		rc = get_target(&cv, "cname", origin, &rd);
	} else if (!strcmp(type, "NS")) {
		rc = get_target(&cv, "nameserver", origin, &rd);
		if (!rc && apex && !(flags & TW_DNS_RR_UNMANAGED)) {
			/* Delegation is set at the registrar, not by records. */
			flags |= TW_DNS_RR_UNMANAGED;
			note = "apex NS (delegation is set at the registrar)";
		}
	} else if (!strcmp(type, "PTR")) {
		rc = get_target(&cv, "pointer", origin, &rd);
	} else if (!strcmp(type, "MX")) {
		if (!(rc = get_uint(&cv, "preference", 65535, &a))) {
			tw_sbuf_printf(&rd, "%u ", a);
			rc = get_target(&cv, "exchange", origin, &rd);
		}
	} else if (!strcmp(type, "TXT")) {
		if (!(rc = get_str(&cv, "value", &s, &len)))
			add_quoted(&rd, (const unsigned char *)s, len);
	} else if (!strcmp(type, "CAA")) {
		if ((rc = get_uint(&cv, "flag", 255, &a)))
			goto out;
		if ((rc = get_str(&cv, "tag", &s, &len)))
			goto out;
		for (size_t i = 0; i < len; i++)
			if (!isalnum((unsigned char)s[i]))
				len = 0;
		if (len == 0 || len > 15) {
			rc = bad(&cv, "tag", "not a CAA tag (RFC 8659 4.1)");
			goto out;
		}
		/* Tags match case-insensitively (RFC 8659 4.1): lower case, as
		 * the write side sends them. */
		char tag[16];
		for (size_t i = 0; i < len; i++)
			tag[i] = (char)tolower((unsigned char)s[i]);
		tag[len] = '\0';
		tw_sbuf_printf(&rd, "%u %s ", a, tag);
		if ((rc = get_str(&cv, "value", &s, &len)))
			goto out;
		add_quoted(&rd, (const unsigned char *)s, len);
	} else if (!strcmp(type, "SRV")) {
		if ((rc = get_ulabel(&cv, "service", pre1, sizeof(pre1))) ||
		    (rc = get_ulabel(&cv, "protocol", pre2, sizeof(pre2))) ||
		    (rc = get_uint(&cv, "priority", 65535, &a)) ||
		    (rc = get_uint(&cv, "weight", 65535, &b)) ||
		    (rc = get_uint(&cv, "port", 65535, &c)))
			goto out;
		tw_sbuf_printf(&rd, "%u %u %u ", a, b, c);
		rc = get_target(&cv, "target", origin, &rd);
	} else if (!strcmp(type, "TLSA")) {
		const json_t *pv = json_object_get(item, "port");
		if (!pv) {
			rc = bad(&cv, "port", "missing");
			goto out;
		}
		if ((rc = get_port_label(&cv, pv, pre1, sizeof(pre1))) ||
		    (rc = get_ulabel(&cv, "protocol", pre2, sizeof(pre2))))
			goto out;
		unsigned m;
		if ((rc = get_uint(&cv, "usage", 255, &a)) ||
		    (rc = get_uint(&cv, "selector", 255, &b)) ||
		    (rc = get_uint(&cv, "matching", 255, &m)) ||
		    (rc = get_str(&cv, "associationData", &s, &len)))
			goto out;
		tw_sbuf_printf(&rd, "%u %u %u ", a, b, m);
		size_t hex = 0;
		for (size_t i = 0; i < len; i++) {
			if (s[i] == ' ')
				continue; /* SPEC allows single spaces */
			if (!isxdigit((unsigned char)s[i])) {
				rc = bad(&cv, "associationData", "not hex");
				goto out;
			}
			char ch = (char)tolower((unsigned char)s[i]);
			tw_sbuf_addn(&rd, &ch, 1);
			hex++;
		}
		if (hex == 0 || hex % 2) {
			rc = bad(&cv, "associationData", "expected an even number of hex digits");
			goto out;
		}
	} else if (!strcmp(type, "HTTPS") || !strcmp(type, "SVCB")) {
		if ((rc = get_uint(&cv, "svcPriority", 65535, &a)))
			goto out;
		tw_sbuf_printf(&rd, "%u ", a);
		const json_t *tn = json_object_get(item, "targetName");
		if (json_is_string(tn) &&
		    (!strcmp(json_string_value(tn), ".") || json_string_length(tn) == 0)) {
			tw_sbuf_add(&rd, ".");
		} else if ((rc = get_target(&cv, "targetName", origin, &rd))) {
			goto out;
		}
		const json_t *sp = json_object_get(item, "svcParams");
		if (sp && !json_is_null(sp)) {
			if (!json_is_string(sp)) {
				rc = bad(&cv, "svcParams", "not a string");
				goto out;
			}
			s = json_string_value(sp);
			len = json_string_length(sp);
			/* Presentation form (RFC 9460 2.1); no byte that could end the
			 * line, open a comment or a group in the master-file line. */
			for (size_t i = 0; i < len; i++) {
				unsigned char ch = (unsigned char)s[i];
				if (ch < 0x20 || ch >= 0x7f || ch == ';' || ch == '(' ||
				    ch == ')') {
					rc = bad(&cv, "svcParams", "unexpected byte 0x%02x", ch);
					goto out;
				}
			}
			if (len) {
				tw_sbuf_add(&rd, " ");
				tw_sbuf_addn(&rd, s, len);
			}
		}
		const json_t *pv = json_object_get(item, "port");
		const json_t *sc = json_object_get(item, "scheme");
		bool has_port = pv && !json_is_null(pv) &&
		                !(json_is_string(pv) && json_string_length(pv) == 0);
		bool has_scheme = sc && !json_is_null(sc) &&
		                  !(json_is_string(sc) && json_string_length(sc) == 0);
		if (has_port != has_scheme) {
			rc = bad(&cv, has_port ? "scheme" : "port", "missing while %s is set",
			         has_port ? "port" : "scheme");
			goto out;
		}
		if (has_port && ((rc = get_port_label(&cv, pv, pre1, sizeof(pre1))) ||
		                 (rc = get_ulabel(&cv, "scheme", pre2, sizeof(pre2)))))
			goto out;
		if (!strcmp(pre1, "*")) {
			rc = bad(&cv, "port", "expected \"_443\" or 443");
			goto out;
		}
	} else if (!strcmp(type, "ALIAS")) {
		/* Spaceship's own type; ldns has no form for it (zone.h opaque). */
		rc = get_target(&cv, "aliasName", origin, &rd);
		opaque_type = "ALIAS";
		note = "ALIAS (spaceship only)";
	} else {
		/* A type this client doesn't know (the API added one): show it,
		 * never plan it, rather than refuse to list the zone. */
		opaque_type = type;
		note = "record type tailwart does not know (spaceship only)";
	}
	if (rc)
		goto out;

	/* owner: [pre1.pre2.]name.origin, absolute so nothing is left to
	 * relative-name rules. */
	if (pre1[0])
		tw_sbuf_printf(&line, "%s.%s.", pre1, pre2);
	if (!apex) {
		tw_sbuf_addn(&line, name, name_len);
		tw_sbuf_add(&line, ".");
	}
	tw_sbuf_add(&line, origin);
	if (line.oom || rd.oom) {
		rc = tw_dns_err_set(err, 3, "out of memory reading the spaceship zone");
		goto out;
	}
	if (line.n > 255) {
		rc = bad(&cv, "name", "the owner name is longer than 255 bytes");
		goto out;
	}
	if (opaque_type) {
		rc = tw_dns_zone_add_opaque(z, line.s, opaque_type, ttl, rd.s ? rd.s : "", note);
		if (rc)
			rc = bad(&cv, "", "cannot hold the %s record (%s)", opaque_type,
			         tw_strerror(rc));
		goto out;
	}
	tw_sbuf_printf(&line, " %" PRIu32 " IN %s ", ttl, type);
	tw_sbuf_add(&line, rd.s ? rd.s : "");
	if (line.oom) {
		rc = tw_dns_err_set(err, 3, "out of memory reading the spaceship zone");
		goto out;
	}
	tw_diags_t d = {0};
	size_t before = z->n;
	rc = tw_dns_zone_add_text(z, line.s, NULL, 0, flags, &d);
	if (rc) {
		char m[300];
		tw_strlcpy(m, d.n ? d.v[0].msg : tw_strerror(rc), sizeof(m));
		rc = bad(&cv, "", "the %s record doesn't parse: %s", type, m);
	} else if (note && z->n > before) {
		z->v[z->n - 1].flags |= flags;
		z->v[z->n - 1].note = note;
	}
	tw_diags_release(&d);
out:
	free(rd.s);
	free(line.s);
	return rc;
}

int tw_dns_spaceship_parse_page(tw_dns_zone_t *z, const char *body, size_t len, size_t first_index,
                                size_t *nitems, long long *total, tw_dns_err_t *err)
{
	json_error_t je;
	*nitems = 0;
	*total = -1;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		char m[200];
		tw_escape(m, sizeof(m), je.text, strlen(je.text));
		return tw_dns_err_set(err, 3,
		                      "spaceship sent a record list that isn't JSON (line %d: %s)",
		                      je.line, m);
	}
	int rc = 0;
	const json_t *items = json_is_object(root) ? json_object_get(root, "items") : NULL;
	if (!json_is_array(items)) {
		rc = tw_dns_err_set(err, 3,
		                    "spaceship sent a record list without an \"items\" array");
		goto out;
	}
	const json_t *t = json_object_get(root, "total");
	if (t && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 0) {
			rc = tw_dns_err_set(err, 3,
			                    "spaceship sent a record list whose \"total\" is not a "
			                    "count");
			goto out;
		}
		*total = json_integer_value(t);
	}
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it)
	{
		if ((rc = tw_dns_spaceship_item_to_rr(z, it, first_index + i, err)))
			goto out;
	}
	*nitems = json_array_size(items);
out:
	json_decref(root);
	return rc;
}

/* ---- write: record -> item ---------------------------------------------- */

static const char *const ss_types[] = {"A",  "AAAA", "CNAME", "MX",   "TXT",   "CAA",
                                       "NS", "PTR",  "SRV",   "TLSA", "HTTPS", "SVCB"};

__attribute__((format(printf, 3, 4))) static json_t *no(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && n)
		vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return NULL;
}

static unsigned rdf_uint(const ldns_rdf *f)
{
	const uint8_t *p = ldns_rdf_data(f);
	switch (ldns_rdf_size(f)) {
	case 1: return p[0];
	case 2: return (unsigned)p[0] << 8 | p[1];
	case 4: return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
	default: return 0;
	}
}

/* A domain-name rdata field as the API takes it: absolute, lower case, no
 * trailing dot ("mx.example.com"); "" for the root. */
static bool rdf_name(const ldns_rdf *f, char *buf, size_t size)
{
	if (!f || ldns_rdf_get_type(f) != LDNS_RDF_TYPE_DNAME)
		return false;
	char *s = ldns_rdf2str(f);
	if (!s)
		return false;
	bool ok = tw_strlcpy(buf, s, size);
	free(s);
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '.')
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return ok && (n == 0 || name_ok(buf, n));
}

/* "the target is a wildcard": the API answers the literal "@" and "*" with
 * 422 (NC-SDK cname.go, NC-TF tests; docs §4 table). We send the apex as its
 * full name ("example.com"), which is not the literal "@", so an apex MX
 * target ("@ MX 10 example.com.", common for single-host mail) is allowed. */
static const char *bad_target(const char *t, const char *dom)
{
	TW_UNUSED(dom);
	if (t[0] == '*' && (t[1] == '\0' || t[1] == '.'))
		return "a wildcard";
	return NULL;
}

json_t *tw_dns_spaceship_rr_to_item(const tw_dns_rr_t *r, const char *origin, bool with_ttl,
                                    char *why, size_t n)
{
	char tname[32];
	tw_dns_type_name(r->type, tname, sizeof(tname));
	if (!r->rr) {
		/* An opaque record (zone.h): a type ldns doesn't know keeps its
		 * name at the head of rdata. */
		if (r->type == 0 && r->rdata)
			snprintf(tname, sizeof(tname), "%.*s", (int)strcspn(r->rdata, " "),
			         r->rdata);
		return no(why, n,
		          "spaceship's API can't write %s records from a zone file "
		          "(provider-only)",
		          tname);
	}
	bool known = false;
	for (size_t i = 0; i < TW_ARRAY_LEN(ss_types); i++)
		known |= !strcmp(tname, ss_types[i]);
	if (!known)
		return no(why, n,
		          "spaceship's API can't hold %s records (it takes A, AAAA, CNAME, MX, "
		          "TXT, CAA, NS, PTR, SRV, TLSA, HTTPS, SVCB)",
		          tname);

	/* Owner relative to the zone, split into the labels the API keeps
	 * apart: SRV _svc._proto, TLSA _port._proto, HTTPS/SVCB _port._scheme. */
	char dom[256], owner[256], rel[256];
	origin_domain(origin, dom, sizeof(dom));
	origin_domain(r->owner, owner, sizeof(owner));
	size_t ol = strlen(owner), dl = strlen(dom);
	if (!strcmp(owner, dom)) {
		tw_strlcpy(rel, "@", sizeof(rel));
	} else if (ol > dl + 1 && owner[ol - dl - 1] == '.' && !strcmp(owner + ol - dl, dom)) {
		snprintf(rel, sizeof(rel), "%.*s", (int)(ol - dl - 1), owner);
	} else {
		return no(why, n, "the owner is not in the zone %s", dom);
	}
	bool apex = !strcmp(rel, "@");
	if (!apex && !name_ok(rel, strlen(rel)))
		return no(why, n,
		          "spaceship's API takes names of letters, digits, '-', '_' and '*' only");

	const char *l1 = rel, *d1 = apex ? NULL : strchr(rel, '.');
	const char *l2 = d1 ? d1 + 1 : NULL, *d2 = l2 ? strchr(l2, '.') : NULL;
	size_t n1 = d1 ? (size_t)(d1 - l1) : strlen(l1);
	size_t n2 = l2 ? (d2 ? (size_t)(d2 - l2) : strlen(l2)) : 0;
	const char *rest = d2 ? d2 + 1 : "@";
	char lab1[72] = "", lab2[72] = "";
	if (!apex) {
		snprintf(lab1, sizeof(lab1), "%.*s", (int)n1, l1);
		if (l2)
			snprintf(lab2, sizeof(lab2), "%.*s", (int)n2, l2);
	}

	const ldns_rr *rr = r->rr;
	size_t nf = ldns_rr_rd_count(rr);
	json_t *o = json_object();
	if (!o)
		return no(why, n, "out of memory");
	json_object_set_new(o, "type", json_string(tname));
	const char *name = rel;
	char tgt[256];

#define NEED(k)                                                                                    \
	do {                                                                                       \
		if (nf < (k))                                                                      \
			goto malformed;                                                            \
	} while (0)

	switch (r->type) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA: {
		NEED(1);
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		if (!s)
			goto malformed;
		json_object_set_new(o, "address", json_string(s));
		free(s);
		break;
	}
	case LDNS_RR_TYPE_CNAME:
	case LDNS_RR_TYPE_NS:
	case LDNS_RR_TYPE_PTR: {
		NEED(1);
		if (!rdf_name(ldns_rr_rdf(rr, 0), tgt, sizeof(tgt)) || !tgt[0])
			goto badname;
		const char *bt = bad_target(tgt, dom);
		if (r->type == LDNS_RR_TYPE_NS && apex) {
			json_decref(o);
			return no(why, n,
			          "apex NS records are the delegation, set at the registrar "
			          "(Spaceship domain settings), not through DNS records");
		}
		if (r->type == LDNS_RR_TYPE_CNAME && bt) {
			json_decref(o);
			return no(why, n, "spaceship refuses (422) a CNAME whose target is %s", bt);
		}
		json_object_set_new(o,
		                    r->type == LDNS_RR_TYPE_CNAME ? "cname"
		                    : r->type == LDNS_RR_TYPE_NS  ? "nameserver"
		                                                  : "pointer",
		                    json_string(tgt));
		break;
	}
	case LDNS_RR_TYPE_MX: {
		NEED(2);
		if (!rdf_name(ldns_rr_rdf(rr, 1), tgt, sizeof(tgt)))
			goto badname;
		if (!tgt[0]) {
			json_decref(o);
			return no(why, n,
			          "spaceship's API can't hold a null MX (RFC 7505): the "
			          "exchange must be a host name");
		}
		const char *bt = bad_target(tgt, dom);
		if (bt) {
			json_decref(o);
			return no(why, n, "spaceship refuses (422) an MX whose exchange is %s", bt);
		}
		json_object_set_new(o, "exchange", json_string(tgt));
		json_object_set_new(o, "preference", json_integer(rdf_uint(ldns_rr_rdf(rr, 0))));
		break;
	}
	case LDNS_RR_TYPE_TXT: {
		/* SPEC: value 1..65535 bytes, sent unquoted (every provider sends
		 * the raw text); a JSON string, so it must be UTF-8. */
		const unsigned char *t = (const unsigned char *)r->txt;
		size_t tl = r->txt_len;
		if (!t)
			goto malformed;
		if (tl == 0 || tl > 65535) {
			json_decref(o);
			return no(why, n,
			          "spaceship takes TXT values of 1..65535 bytes, this one "
			          "has %zu",
			          tl);
		}
		bool blank = true;
		for (size_t i = 0; i < tl; i++)
			blank &= t[i] == ' ' || t[i] == '\t';
		if (blank) {
			json_decref(o);
			return no(why, n,
			          "spaceship refuses a TXT value that is only whitespace "
			          "(\"Value field is required\")");
		}
		if (!utf8_ok(t, tl)) {
			json_decref(o);
			return no(why, n,
			          "the TXT value is not UTF-8 text (or has a NUL byte); "
			          "spaceship's API takes it as a JSON string");
		}
		json_object_set_new(o, "value", json_stringn((const char *)t, tl));
		break;
	}
	case LDNS_RR_TYPE_CAA: {
		NEED(3);
		unsigned flag = rdf_uint(ldns_rr_rdf(rr, 0));
		const ldns_rdf *tf = ldns_rr_rdf(rr, 1), *vf = ldns_rr_rdf(rr, 2);
		/* ldns keeps the tag with its length byte, the value raw. */
		const uint8_t *tp = ldns_rdf_data(tf);
		size_t tsz = ldns_rdf_size(tf);
		if (tsz < 1 || (size_t)tp[0] + 1 != tsz)
			goto malformed;
		char tag[32];
		snprintf(tag, sizeof(tag), "%.*s", (int)tp[0], (const char *)tp + 1);
		for (char *p = tag; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (flag != 0 && flag != 128) {
			json_decref(o);
			return no(why, n, "spaceship takes CAA flags 0 and 128 only, not %u", flag);
		}
		if (strcmp(tag, "issue") && strcmp(tag, "issuewild") && strcmp(tag, "iodef")) {
			json_decref(o);
			return no(why, n,
			          "spaceship takes the CAA tags issue, issuewild and iodef "
			          "only, not %s",
			          tag);
		}
		const uint8_t *vp = ldns_rdf_data(vf);
		size_t vl = ldns_rdf_size(vf);
		bool printable = vl > 0 && vl <= 256;
		for (size_t i = 0; i < vl; i++)
			printable &= vp[i] >= 0x20 && vp[i] < 0x7f;
		if (!printable) {
			json_decref(o);
			return no(why, n,
			          "spaceship takes a CAA value of 1..256 printable ASCII "
			          "characters");
		}
		json_object_set_new(o, "flag", json_integer(flag));
		json_object_set_new(o, "tag", json_string(tag));
		json_object_set_new(o, "value", json_stringn((const char *)vp, vl));
		break;
	}
	case LDNS_RR_TYPE_SRV: {
		NEED(4);
		if (!underscore_label_ok(lab1, strlen(lab1)) ||
		    !underscore_label_ok(lab2, strlen(lab2))) {
			json_decref(o);
			return no(why, n,
			          "spaceship needs an SRV owner of the form "
			          "_service._proto.name (it stores service and protocol "
			          "apart)");
		}
		if (!rdf_name(ldns_rr_rdf(rr, 3), tgt, sizeof(tgt)))
			goto badname;
		if (!tgt[0]) {
			json_decref(o);
			return no(why, n, "spaceship's API can't hold an SRV target of \".\"");
		}
		const char *bt = bad_target(tgt, dom);
		if (bt) {
			json_decref(o);
			return no(why, n, "spaceship refuses (422) an SRV whose target is %s", bt);
		}
		name = rest;
		json_object_set_new(o, "service", json_string(lab1));
		json_object_set_new(o, "protocol", json_string(lab2));
		json_object_set_new(o, "priority", json_integer(rdf_uint(ldns_rr_rdf(rr, 0))));
		json_object_set_new(o, "weight", json_integer(rdf_uint(ldns_rr_rdf(rr, 1))));
		json_object_set_new(o, "port", json_integer(rdf_uint(ldns_rr_rdf(rr, 2))));
		json_object_set_new(o, "target", json_string(tgt));
		break;
	}
	case LDNS_RR_TYPE_TLSA: {
		NEED(4);
		bool star = !strcmp(lab1, "*");
		if ((!star && !port_label(lab1, strlen(lab1))) ||
		    !underscore_label_ok(lab2, strlen(lab2))) {
			json_decref(o);
			return no(why, n,
			          "spaceship needs a TLSA owner of the form _port._proto.name "
			          "(e.g. _25._tcp.mx; it stores port and protocol apart)");
		}
		char *hx = ldns_rdf2str(ldns_rr_rdf(rr, 3));
		if (!hx)
			goto malformed;
		for (char *p = hx; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		size_t hl = strlen(hx);
		if (hl < 64 || hl > 65535) {
			free(hx);
			json_decref(o);
			return no(why, n,
			          "spaceship takes TLSA data of 64..65535 hex digits, this "
			          "has %zu",
			          hl);
		}
		name = rest;
		json_object_set_new(o, "port", json_string(lab1));
		json_object_set_new(o, "protocol", json_string(lab2));
		json_object_set_new(o, "usage", json_integer(rdf_uint(ldns_rr_rdf(rr, 0))));
		json_object_set_new(o, "selector", json_integer(rdf_uint(ldns_rr_rdf(rr, 1))));
		json_object_set_new(o, "matching", json_integer(rdf_uint(ldns_rr_rdf(rr, 2))));
		json_object_set_new(o, "associationData", json_string(hx));
		free(hx);
		break;
	}
	case LDNS_RR_TYPE_HTTPS:
	case LDNS_RR_TYPE_SVCB: {
		NEED(2);
		if (!rdf_name(ldns_rr_rdf(rr, 1), tgt, sizeof(tgt)))
			goto badname;
		tw_sbuf_t params = {0};
		for (size_t i = 2; i < nf; i++) {
			char *s = ldns_rdf2str(ldns_rr_rdf(rr, i));
			if (!s) {
				free(params.s);
				goto malformed;
			}
			if (params.n)
				tw_sbuf_add(&params, " ");
			tw_sbuf_add(&params, s);
			free(s);
		}
		if (params.oom) {
			free(params.s);
			goto malformed;
		}
		/* RFC 9460 2.3 port prefix naming: _8443._https.api -> port, scheme. */
		if (port_label(lab1, strlen(lab1)) && underscore_label_ok(lab2, strlen(lab2))) {
			name = rest;
			json_object_set_new(o, "port", json_string(lab1));
			json_object_set_new(o, "scheme", json_string(lab2));
		}
		json_object_set_new(o, "svcPriority", json_integer(rdf_uint(ldns_rr_rdf(rr, 0))));
		json_object_set_new(o, "targetName", json_string(tgt[0] ? tgt : "."));
		json_object_set_new(o, "svcParams", json_string(params.s ? params.s : ""));
		free(params.s);
		break;
	}
	default: goto malformed;
	}
#undef NEED
	json_object_set_new(o, "name", json_string(name));
	if (with_ttl)
		json_object_set_new(o, "ttl", json_integer(r->ttl));
	if (json_object_size(o) < 3)
		goto malformed; /* a json_string that failed (not UTF-8) */
	return o;
badname:
	json_decref(o);
	return no(why, n,
	          "spaceship's API takes target names of letters, digits, '-', '_' and "
	          "'*' only");
malformed:
	json_decref(o);
	return no(why, n, "the %s record's data can't be turned into a spaceship item", tname);
}

bool tw_dns_spaceship_can_write(const tw_dns_rr_t *r, const char *origin, char *why, size_t n)
{
	json_t *o = tw_dns_spaceship_rr_to_item(r, origin, true, why, n);
	if (!o)
		return false;
	json_decref(o);
	return true;
}

/* ---- HTTP --------------------------------------------------------------- */

typedef struct ss {
	tw_dns_provider_t base;
	char *api; /* no trailing slash */
	char *key, *secret;
	char domain[256]; /* "example.com" */
	long timeout_ms;
	int max_retries;
	bool loopback;
	CURL *curl;
} ss_t;

typedef struct resp {
	long status;
	char *body;
	size_t len;
	bool too_big;
	char code[96];
	char op_id[40];
	long retry_after; /* -1: absent */
} resp_t;

static void resp_clear(resp_t *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *arg)
{
	resp_t *r = arg;
	size_t n = sz * nm;
	if (r->len + n > SS_MAX_BODY) {
		r->too_big = true;
		return 0;
	}
	char *s = realloc(r->body, r->len + n + 1);
	if (!s)
		return 0;
	memcpy(s + r->len, p, n);
	r->body = s;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* Copies a header value keeping only bytes in ok (a token), so a header
 * can't smuggle anything into a message. */
static void hdr_token(char *dst, size_t size, const char *v, size_t len, const char *ok)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < size; i++)
		if (isalnum((unsigned char)v[i]) || strchr(ok, v[i]))
			dst[o++] = v[i];
	dst[o] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t nm, void *arg)
{
	resp_t *r = arg;
	size_t n = sz * nm, len = n;
	while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (after a 100 Continue): forget the last one's. */
		r->code[0] = r->op_id[0] = '\0';
		r->retry_after = -1;
		return n;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return n;
	size_t nl = (size_t)(colon - p);
	const char *v = colon + 1;
	size_t vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 20 && !strncasecmp(p, "spaceship-error-code", nl)) {
		hdr_token(r->code, sizeof(r->code), v, vl, "._-");
	} else if (nl == 22 && !strncasecmp(p, "spaceship-operation-id", nl)) {
		hdr_token(r->op_id, sizeof(r->op_id), v, vl, "-_");
	} else if (nl == 11 && !strncasecmp(p, "retry-after", nl)) {
		/* NC-TF: integer seconds, never an HTTP date. */
		long s = 0;
		size_t i = 0;
		for (; i < vl && isdigit((unsigned char)v[i]) && s <= SS_RETRY_MAX; i++)
			s = s * 10 + (v[i] - '0');
		if (i == vl && vl > 0)
			r->retry_after = s > SS_RETRY_MAX ? SS_RETRY_MAX : s;
	}
	return n;
}

/* Replaces every copy of the key or secret in s by "***". */
static void scrub(const ss_t *s, char *buf)
{
	const char *sec[2] = {s->key, s->secret};
	for (int k = 0; k < 2; k++) {
		size_t sl = sec[k] ? strlen(sec[k]) : 0;
		if (sl < 3)
			continue;
		char *p;
		while ((p = strstr(buf, sec[k])) != NULL) {
			size_t rest = strlen(p + sl);
			memcpy(p, "***", 3);
			memmove(p + 3, p + sl, rest + 1);
		}
	}
}

static void trace(ss_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(ss_t *s, const char *fmt, ...)
{
	if (!s->base.trace)
		return;
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	scrub(s, line);
	s->base.trace(s->base.trace_ctx, line);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_s(long sec)
{
	struct timespec ts = {.tv_sec = sec, .tv_nsec = 0};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One HTTP exchange; path is relative to the API base ("/dns/records/..."). */
static CURLcode http_once(ss_t *s, const char *method, const char *path, const char *body,
                          resp_t *r, char *cerr)
{
	CURL *c = s->curl;
	char url[2048];
	snprintf(url, sizeof(url), "%s%s", s->api, path);
	resp_clear(r);
	curl_easy_reset(c);

	/* The only place the credentials go. */
	tw_sbuf_t hk = {0}, hs = {0};
	tw_sbuf_add(&hk, "X-API-Key: ");
	tw_sbuf_add(&hk, s->key);
	tw_sbuf_add(&hs, "X-API-Secret: ");
	tw_sbuf_add(&hs, s->secret);
	struct curl_slist *h = NULL, *t;
	const char *fixed[] = {"Accept: application/json",
	                       "Expect:", body ? "Content-Type: application/json" : NULL};
	bool ok = !hk.oom && !hs.oom;
	for (size_t i = 0; ok && i < TW_ARRAY_LEN(fixed); i++)
		if (fixed[i]) {
			ok = (t = curl_slist_append(h, fixed[i])) != NULL;
			h = ok ? t : h;
		}
	if (ok && (t = curl_slist_append(h, hk.s)))
		h = t;
	else
		ok = false;
	if (ok && (t = curl_slist_append(h, hs.s)))
		h = t;
	else
		ok = false;
	if (hk.s)
		explicit_bzero(hk.s, hk.n);
	if (hs.s)
		explicit_bzero(hs.s, hs.n);
	free(hk.s);
	free(hs.s);
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	if (!ok)
		goto out;

	curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* never carry the headers elsewhere */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                 s->timeout_ms < 10000 ? s->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tailwart/" TW_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	if (s->loopback)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);

	long t0 = now_ms();
	cerr[0] = '\0';
	rc = curl_easy_perform(c);
	long ms = now_ms() - t0;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		trace(s, "%s %s -> %ld (%ld ms)", method, path, r->status, ms);
	} else {
		trace(s, "%s %s -> failed: %s (%ld ms)", method, path,
		      cerr[0] ? cerr : curl_easy_strerror(rc), ms);
	}
out:
	/* Drop our copies of the header list (libcurl keeps none after reset). */
	for (t = h; t; t = t->next)
		explicit_bzero(t->data, strlen(t->data));
	curl_slist_free_all(h);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* cerr is the caller's stack */
	return rc;
}

/* "detail; field: details; ..." from a problem+json body, escaped. */
static void problem_text(const resp_t *r, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!r->body || !r->len)
		return;
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		tw_escape(buf, size, r->body, r->len < 200 ? r->len : 200);
		return;
	}
	tw_sbuf_t b = {0};
	const json_t *d = json_object_get(j, "detail");
	char tmp[300];
	if (json_is_string(d)) {
		tw_escape(tmp, sizeof(tmp), json_string_value(d), json_string_length(d));
		tw_sbuf_add(&b, tmp);
	}
	const json_t *data = json_object_get(j, "data");
	size_t i;
	const json_t *e;
	json_array_foreach(data, i, e)
	{
		const json_t *f = json_object_get(e, "field"), *ds = json_object_get(e, "details");
		if (i >= 8)
			break;
		tw_sbuf_add(&b, b.n ? "; " : "");
		if (json_is_string(f)) {
			tw_escape(tmp, sizeof(tmp), json_string_value(f), json_string_length(f));
			tw_sbuf_add(&b, tmp);
			tw_sbuf_add(&b, ": ");
		}
		if (json_is_string(ds)) {
			tw_escape(tmp, sizeof(tmp), json_string_value(ds), json_string_length(ds));
			tw_sbuf_add(&b, tmp);
		}
	}
	json_decref(j);
	tw_strlcpy(buf, b.s && !b.oom ? b.s : "", size);
	free(b.s);
}

static bool curl_not_sent(CURLcode rc)
{
	/* The request never left: nothing was applied. */
	return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
	       rc == CURLE_COULDNT_CONNECT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
	       rc == CURLE_URL_MALFORMAT || rc == CURLE_OUT_OF_MEMORY ||
	       rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION;
}

/*
 * A request with the 429 retries; 0 on success (2xx, or DELETE 404: already
 * gone, NC-SDK TestAccDNSRecord_DeleteAbsentIsNoop), else err filled in.
 * *r keeps the last response for the caller.
 */
static int exchange(ss_t *s, const char *method, const char *path, const char *body, resp_t *r,
                    tw_dns_err_t *err)
{
	bool write = strcmp(method, "GET") != 0;
	char cerr[CURL_ERROR_SIZE];
	char det[500];
	CURLcode rc;
	int attempt = 0;
	memset(err, 0, sizeof(*err));

	for (;;) {
		rc = http_once(s, method, path, body, r, cerr);
		if (rc != CURLE_OK || r->status != 429 || attempt >= s->max_retries)
			break;
		/* NC-TF: a 429 is refused before execution, so retrying a write is
		 * safe; honour Retry-After (SPEC), 30 s when it is missing. */
		long wait = r->retry_after >= 0 ? r->retry_after : SS_RETRY_DEFAULT;
		attempt++;
		sleep_s(wait);
	}

	if (rc != CURLE_OK) {
		err->status = 0;
		err->maybe_applied = write && (r->too_big || !curl_not_sent(rc));
		tw_dns_err_set(err, 3, "cannot reach spaceship (%s %s): %s%s", method, s->api,
		               r->too_big ? "the answer is over 64 MiB"
		               : cerr[0]  ? cerr
		                          : curl_easy_strerror(rc),
		               err->maybe_applied ? "; the change may or may not have been "
		                                    "applied: list the zone before retrying"
		                                  : "");
		scrub(s, err->msg);
		return TW_EPROTO;
	}
	long st = r->status;
	if ((st >= 200 && st < 300) || (st == 404 && !strcmp(method, "DELETE")))
		return 0;

	err->status = (int)st;
	tw_strlcpy(err->code, r->code, sizeof(err->code));
	tw_strlcpy(err->op_id, r->op_id, sizeof(err->op_id));
	problem_text(r, det, sizeof(det));
	char sc[120];
	snprintf(sc, sizeof(sc), "%ld%s%s", st, r->code[0] ? " " : "", r->code);

	if (st == 401) {
		tw_dns_err_set(err, 1,
		               "Spaceship refused the credentials (%s): the key or secret is "
		               "wrong, API access is disabled for the account (API Manager "
		               "toggle), or the key is IP-restricted and this address isn't "
		               "allowed",
		               sc);
	} else if (st == 403) {
		tw_dns_err_set(err, 1,
		               "Spaceship refused the request (%s): the key lacks the scope "
		               "dnsrecords:read/write (API Manager)",
		               sc);
	} else if (st == 404 && strstr(det, "SOA record")) {
		tw_dns_err_set(err, 3,
		               "domain %s has no Spaceship-hosted zone (%s: %s): add its DNS zone "
		               "in Spaceship or check the domain",
		               s->domain, sc, det);
	} else if (st == 422 || st == 400) {
		tw_dns_err_set(err, 2, "Spaceship rejected the %s (%s): %s",
		               write ? "records" : "request", sc, det[0] ? det : "no detail");
	} else if (st == 429) {
		tw_dns_err_set(err, 3,
		               "Spaceship kept rate-limiting (%s) after %d retries: the limit is "
		               "300 requests per 300 s; try again later",
		               sc, s->max_retries);
	} else if (st >= 500) {
		err->maybe_applied = write;
		tw_dns_err_set(err, 3, "Spaceship failed (%s %s): %s%s", sc, method,
		               det[0] ? det : "no detail",
		               write ? "; the change may or may not have been applied: list the "
		                       "zone before retrying"
		                     : "");
	} else {
		err->maybe_applied = write && st < 400;
		tw_dns_err_set(err, 3, "Spaceship answered %s to %s %s: %s", sc, method, path,
		               det[0] ? det : "no detail");
	}
	scrub(s, err->msg);
	return TW_EPROTO;
}

/* ---- provider ops ------------------------------------------------------- */

static int ss_list(tw_dns_provider_t *p, tw_dns_zone_t *out, tw_dns_err_t *err)
{
	ss_t *s = (ss_t *)p;
	resp_t r = {0};
	size_t got = 0;
	int rc = 0;
	/* SPEC: take (1..500) and skip are mandatory; page until we hold total
	 * or a page is empty (NC-SDK GetDNSRecords). */
	for (;;) {
		char path[400];
		snprintf(path, sizeof(path), "/dns/records/%s?take=%d&skip=%zu", s->domain,
		         TW_SPACESHIP_MAX_BATCH, got);
		if ((rc = exchange(s, "GET", path, NULL, &r, err)))
			break;
		size_t n;
		long long total;
		memset(err, 0, sizeof(*err));
		if ((rc = tw_dns_spaceship_parse_page(out, r.body ? r.body : "", r.len, got, &n,
		                                      &total, err))) {
			err->status = (int)r.status;
			tw_strlcpy(err->op_id, r.op_id, sizeof(err->op_id));
			scrub(s, err->msg);
			break;
		}
		got += n;
		if (n == 0 || (total >= 0 && got >= (unsigned long long)total) ||
		    (total < 0 && n < TW_SPACESHIP_MAX_BATCH))
			break;
		if (got > 10000000) {
			rc = tw_dns_err_set(err, 3, "spaceship keeps sending records (%zu so far)",
			                    got);
			break;
		}
	}
	resp_clear(&r);
	return rc;
}

static int ss_call(tw_dns_provider_t *p, const tw_dns_zone_t *zone, const tw_dns_call_t *c,
                   tw_dns_err_t *err)
{
	ss_t *s = (ss_t *)p;
	memset(err, 0, sizeof(*err));
	if (c->kind != TW_DNS_CALL_PUT && c->kind != TW_DNS_CALL_DELETE)
		return tw_dns_err_set(err, 2,
		                      "spaceship has no atomic update call; it takes PUT "
		                      "and DELETE of records only");
	if (c->n == 0)
		return 0;
	bool put = c->kind == TW_DNS_CALL_PUT;

	/* Every item first: a record the API can't take stops the call before
	 * anything is sent. */
	json_t **items = calloc(c->n, sizeof(*items));
	if (!items)
		return tw_dns_err_set(err, 3, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < c->n; i++) {
		char why[300], rec[300];
		items[i] = tw_dns_spaceship_rr_to_item(c->rrs[i], p->origin, put, why, sizeof(why));
		if (!items[i]) {
			tw_dns_rr_format(c->rrs[i], rec, sizeof(rec));
			rc = tw_dns_err_set(err, 2, "cannot %s %s: %s (nothing was sent)",
			                    put ? "write" : "delete", rec, why);
			goto out;
		}
	}

	/* SPEC: 1..500 items per request; batches are not atomic as a whole
	 * (NC-SDK 30d13bd), so a failure reports how far the call got. */
	char path[400];
	snprintf(path, sizeof(path), "/dns/records/%s", s->domain);
	size_t nb = (c->n + TW_SPACESHIP_MAX_BATCH - 1) / TW_SPACESHIP_MAX_BATCH;
	for (size_t b = 0; b < nb; b++) {
		size_t lo = b * TW_SPACESHIP_MAX_BATCH;
		size_t hi = lo + TW_SPACESHIP_MAX_BATCH < c->n ? lo + TW_SPACESHIP_MAX_BATCH : c->n;
		json_t *arr = json_array();
		for (size_t i = lo; arr && i < hi; i++)
			json_array_append(arr, items[i]);
		json_t *root = arr;
		if (put && arr) {
			/* force: NC-TF always sends it; SPEC: "force zone update". */
			root = json_pack("{s:b, s:o}", "force", 1, "items", arr);
		}
		char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
		json_decref(root);
		if (!body) {
			rc = tw_dns_err_set(err, 3, "out of memory");
			goto progress;
		}
		resp_t r = {0};
		rc = exchange(s, put ? "PUT" : "DELETE", path, body, &r, err);
		free(body);
		resp_clear(&r);
		if (rc)
			goto progress;
		continue;
	progress:
		if (nb > 1) {
			char m[sizeof(err->msg)];
			int k = snprintf(
			        m, sizeof(m),
			        "%s batch %zu of %zu (records %zu-%zu of %zu) failed, %zu of %zu "
			        "records of this call were applied before it: %s",
			        put ? "PUT" : "DELETE", b + 1, nb, lo + 1, hi, c->n, lo, c->n,
			        err->msg);
			if (k > 0)
				tw_strlcpy(err->msg, m, sizeof(err->msg));
		}
		goto out;
	}
out:
	for (size_t i = 0; i < c->n; i++)
		json_decref(items[i]);
	free(items);
	return rc;
}

static void ss_destroy(tw_dns_provider_t *p)
{
	ss_t *s = (ss_t *)p;
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->key) {
		explicit_bzero(s->key, strlen(s->key));
		free(s->key);
	}
	if (s->secret) {
		explicit_bzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s->api);
	free(s);
}

/* Spaceship's own nameservers (docs §6). */
static const char *const ss_nameservers[] = {"launch1.spaceship.net.", "launch2.spaceship.net.",
                                             NULL};

static const tw_dns_provider_ops_t ss_ops = {
        .name = "spaceship",
        .sem =
                {
                        .append_by_value = true, /* docs §2.2, seed lesson 14 */
                        .one_update = false,
                        .data_nocase = true, /* SPEC PUT/DELETE: case-insensitive but TXT */
                        .ttl_min = 60,       /* SPEC ttl 60..3600 */
                        .ttl_max = 3600,
                        .max_batch = TW_SPACESHIP_MAX_BATCH,
                        .can_write = tw_dns_spaceship_can_write,
                },
        .list = ss_list,
        .call = ss_call,
        .nameservers = ss_nameservers,
        .destroy = ss_destroy,
};

/* Plain http only to 127.0.0.0/8, ::1 or localhost (tests, fakes). */
static bool host_loopback(const char *host)
{
	unsigned char a[16];
	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	return false;
}

static int check_url(ss_t *s, const char *url, tw_dns_err_t *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = 0;
	if (!u)
		return tw_dns_err_set(err, 3, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = tw_dns_err_set(err, 2, "the Spaceship API URL is not a URL");
		goto out;
	}
	if (strchr(url, '?') || strchr(url, '#')) {
		rc = tw_dns_err_set(err, 2,
		                    "the Spaceship API URL must not have a query or "
		                    "fragment");
		goto out;
	}
	s->loopback = host_loopback(host);
	if (!strcasecmp(scheme, "http")) {
		if (!s->loopback)
			rc = tw_dns_err_set(err, 2,
			                    "refusing plain http to a non-loopback API URL "
			                    "(the key and secret would travel in clear); "
			                    "use https");
	} else if (strcasecmp(scheme, "https") != 0) {
		rc = tw_dns_err_set(err, 2,
		                    "the Spaceship API URL must be https:// (or http:// "
		                    "to a loopback address)");
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static bool cred_ok(const char *v)
{
	if (!v || !*v)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x21 || *p == 0x7f)
			return false; /* would break (or forge) a header line */
	return true;
}

int tw_dns_spaceship_new(const char *origin, const tw_dns_spaceship_opts_t *o,
                         tw_dns_provider_t **out, tw_dns_err_t *err)
{
	memset(err, 0, sizeof(*err));
	*out = NULL;
	if (!o->key || !*o->key || !o->secret || !*o->secret)
		return tw_dns_err_set(err, 1,
		                      "no Spaceship API %s: set SPACESHIP_API_KEY and "
		                      "SPACESHIP_API_SECRET (or a credentials file)",
		                      !o->key || !*o->key ? "key" : "secret");
	if (!cred_ok(o->key) || !cred_ok(o->secret))
		return tw_dns_err_set(err, 1,
		                      "the Spaceship API %s has spaces or control "
		                      "characters; copy it again from API Manager",
		                      cred_ok(o->key) ? "secret" : "key");

	ss_t *s = calloc(1, sizeof(*s));
	if (!s)
		return tw_dns_err_set(err, 3, "out of memory");
	s->base.ops = &ss_ops;
	origin_domain(origin ? origin : "", s->domain, sizeof(s->domain));
	size_t dl = strlen(s->domain);
	/* SPEC: domain 4..255, U-label or A-label; tailwart takes A-labels. */
	if (dl < 3 || !name_ok(s->domain, dl) || strchr(s->domain, '*') ||
	    !strchr(s->domain, '.')) {
		ss_destroy(&s->base);
		return tw_dns_err_set(err, 2,
		                      "the domain must be a registered domain name in "
		                      "A-label form (e.g. example.com)");
	}
	snprintf(s->base.origin, sizeof(s->base.origin), "%s.", s->domain);

	const char *api = o->api_url;
	if (!api || !*api)
		api = getenv("SPACESHIP_API_URL");
	if (!api || !*api)
		api = SS_DEFAULT_API;
	int rc = check_url(s, api, err);
	if (rc) {
		ss_destroy(&s->base);
		return rc;
	}
	s->api = strdup(api);
	s->key = strdup(o->key);
	s->secret = strdup(o->secret);
	s->curl = curl_easy_init();
	if (!s->api || !s->key || !s->secret || !s->curl) {
		ss_destroy(&s->base);
		return tw_dns_err_set(err, 3, "out of memory");
	}
	size_t al = strlen(s->api);
	while (al > 0 && s->api[al - 1] == '/')
		s->api[--al] = '\0';
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
	s->max_retries = o->max_retries > 0 ? o->max_retries : 5;
	*out = &s->base;
	return 0;
}
