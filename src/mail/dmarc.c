/*
 * dmarc.c - the DMARC record parser (RFC 7489 6.3, 6.4; np/t/psd from RFC
 * 9989). See dmarc.h for what is an error and what a warning.
 */
#include "util/tw.h"

#include "mail/dmarc.h"

#include <strings.h>

static bool is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* A finding without a place: the caller knows the record's file and line. */
#define add(d, field, ...) ((d) ? (void)tw_diag_add((d), NULL, 0, (field), __VA_ARGS__) : (void)0)

const char *tw_dmarc_policy_name(int p)
{
	switch (p) {
	case TW_DMARC_NONE: return "none";
	case TW_DMARC_QUARANTINE: return "quarantine";
	case TW_DMARC_REJECT: return "reject";
	default: return "(unset)";
	}
}

bool tw_dmarc_is_dmarc(const char *txt, size_t len)
{
	size_t i = 0;
	if (!txt || len == 0 || (txt[0] != 'v' && txt[0] != 'V'))
		return false;
	i = 1;
	while (i < len && is_wsp((unsigned char)txt[i]))
		i++;
	if (i >= len || txt[i] != '=')
		return false;
	i++;
	while (i < len && is_wsp((unsigned char)txt[i]))
		i++;
	/* "DMARC1" is given as %x codes: case-sensitive (RFC 7489 6.4) */
	if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
		return false;
	i += 6;
	while (i < len && is_wsp((unsigned char)txt[i]))
		i++;
	return i == len || txt[i] == ';';
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static int policy(const char *v, size_t n)
{
	if (eq(v, n, "none"))
		return TW_DMARC_NONE;
	if (eq(v, n, "quarantine"))
		return TW_DMARC_QUARANTINE;
	if (eq(v, n, "reject"))
		return TW_DMARC_REJECT;
	return -1;
}

static bool parse_uint(const char *v, size_t n, size_t maxdig, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	if (n == 0 || n > maxdig)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* A host name with at least two labels. */
static bool domain_ok(const char *s, size_t n)
{
	size_t labels = 0, i = 0;
	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	while (i <= n) {
		size_t e = i;
		while (e < n && s[e] != '.')
			e++;
		if (!label_ok(s + i, e - i))
			return false;
		labels++;
		i = e + 1;
	}
	return labels >= 2;
}

/* The local part of a mailto: address: RFC 6068 wants specials %-encoded;
 * accept dot-atom text and %XX. */
static bool local_ok(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>@[\\]", c))
			return false;
	}
	return true;
}

/* Parses one dmarc-uri (RFC 7489 6.4): URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]. */
static int parse_uri(const char *v, size_t n, tw_dmarc_uri_t *u, const char *tag,
                     tw_diags_t *errors, tw_diags_t *warnings)
{
	char q[120];
	tw_quote(q, sizeof(q), v, n, 80);
	memset(u, 0, sizeof(*u));
	size_t un = n;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '!') {
			un = i;
			break;
		}
	if (un < n) {
		const char *sz = v + un + 1;
		size_t sn = n - un - 1;
		uint64_t mult = 1, x;
		if (sn && sz[sn - 1] && strchr("kmgtKMGT", sz[sn - 1])) {
			static const char units[] = "kmgt";
			const char *pos = strchr(units, sz[sn - 1] | 0x20);
			for (const char *c = units; c <= pos; c++)
				mult *= 1024;
			sn--;
		}
		if (!parse_uint(sz, sn, 12, UINT64_MAX / (1ull << 40), &x)) {
			add(errors, tag,
			    "%s: size limit after \"!\" must be digits with an optional k, m, g or "
			    "t (RFC 7489 6.4)",
			    q);
			return TW_EINVAL;
		}
		u->max_size = x * mult;
	}
	if (un == 0) {
		add(errors, tag, "empty URI; expected mailto:address (RFC 7489 6.4)");
		return TW_EINVAL;
	}
	for (size_t i = 0; i < un; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= 0x20 || c >= 0x7f) {
			add(errors, tag, "%s: URI with a space or non-ASCII byte (RFC 3986)", q);
			return TW_EINVAL;
		}
	}
	size_t colon = 0;
	while (colon < un && v[colon] != ':')
		colon++;
	if (colon == un || colon == 0) {
		add(errors, tag,
		    "%s is not a URI; write report addresses as mailto:dmarc@example.com "
		    "(RFC 7489 6.3)",
		    q);
		return TW_EINVAL;
	}
	u->uri = malloc(un + 1);
	if (!u->uri)
		return TW_ENOMEM;
	memcpy(u->uri, v, un);
	u->uri[un] = '\0';
	if (!eq(v, colon, "mailto")) {
		add(warnings, tag,
		    "%s: receivers send reports only to mailto: URIs (RFC 7489 6.3); use "
		    "mailto:",
		    q);
		return 0;
	}
	/* mailto:local@domain, optionally ?hfields; one address per URI here */
	const char *a = v + colon + 1;
	size_t an = un - colon - 1;
	for (size_t i = 0; i < an; i++)
		if (a[i] == '?') {
			an = i;
			break;
		}
	size_t at = an;
	for (size_t i = an; i > 0; i--)
		if (a[i - 1] == '@') {
			at = i - 1;
			break;
		}
	if (at == an || !local_ok(a, at) || !domain_ok(a + at + 1, an - at - 1)) {
		add(errors, tag,
		    "%s: not a mailto: address; expected mailto:local@domain.example (RFC 6068, "
		    "RFC 7489 6.3)",
		    q);
		return TW_EINVAL;
	}
	u->mailto = malloc(an + 1);
	if (!u->mailto)
		return TW_ENOMEM;
	memcpy(u->mailto, a, an);
	u->mailto[an] = '\0';
	return 0;
}

static int parse_uris(const char *v, size_t n, tw_dmarc_uri_t **out, size_t *nout, const char *tag,
                      tw_diags_t *errors, tw_diags_t *warnings)
{
	int rc = 0;
	size_t i = 0;
	while (i <= n) {
		size_t e = i;
		while (e < n && v[e] != ',')
			e++;
		size_t a = i, b = e;
		while (a < b && is_wsp((unsigned char)v[a]))
			a++;
		while (b > a && is_wsp((unsigned char)v[b - 1]))
			b--;
		if (*nout >= 64) {
			add(errors, tag, "more than 64 URIs");
			return TW_EINVAL;
		}
		tw_dmarc_uri_t *nv = realloc(*out, (*nout + 1) * sizeof(**out));
		if (!nv)
			return TW_ENOMEM;
		*out = nv;
		tw_dmarc_uri_t u;
		int r = parse_uri(v + a, b - a, &u, tag, errors, warnings);
		if (r == 0 && u.uri) {
			(*out)[(*nout)++] = u;
		} else {
			free(u.uri);
			free(u.mailto);
			if (r == TW_ENOMEM)
				return r;
			rc = r ? r : rc;
		}
		i = e + 1;
	}
	return rc;
}

void tw_dmarc_release(tw_dmarc_t *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_rua; i++) {
		free(d->rua[i].uri);
		free(d->rua[i].mailto);
	}
	for (size_t i = 0; i < d->n_ruf; i++) {
		free(d->ruf[i].uri);
		free(d->ruf[i].mailto);
	}
	free(d->rua);
	free(d->ruf);
	memset(d, 0, sizeof(*d));
}

/* Calls fn for each ":"-separated item of v, WSP trimmed; false if any is empty. */
static bool each_item(const char *v, size_t n, bool (*fn)(const char *, size_t, void *), void *arg)
{
	size_t i = 0;
	bool ok = true;
	while (i <= n) {
		size_t e = i;
		while (e < n && v[e] != ':')
			e++;
		size_t a = i, b = e;
		while (a < b && is_wsp((unsigned char)v[a]))
			a++;
		while (b > a && is_wsp((unsigned char)v[b - 1]))
			b--;
		if (a == b || !fn(v + a, b - a, arg))
			ok = false;
		i = e + 1;
	}
	return ok;
}

static bool fo_item(const char *s, size_t n, void *arg)
{
	tw_dmarc_t *d = arg;
	if (n != 1)
		return false;
	switch (s[0] | 0x20) {
	case '0': d->fo_0 = true; return true;
	case '1': d->fo_1 = true; return true;
	case 'd': d->fo_d = true; return true;
	case 's': d->fo_s = true; return true;
	default: return false;
	}
}

static bool rf_item(const char *s, size_t n, void *arg)
{
	(void)arg;
	return eq(s, n, "afrf");
}

int tw_dmarc_parse(const char *txt, size_t len, tw_dmarc_t *out, tw_diags_t *errors,
                   tw_diags_t *warnings)
{
	static const char *const known[] = {"v",   "p",   "sp", "np", "adkim", "aspf", "pct",
	                                    "rua", "ruf", "fo", "rf", "ri",    "t",    "psd"};
	bool seen[TW_ARRAY_LEN(known)] = {false};
	int rc = 0;
	memset(out, 0, sizeof(*out));
	out->p = out->sp = out->np = -1;
	out->adkim = out->aspf = 'r';
	out->pct = 100;
	out->ri = 86400;
	out->fo_0 = true;
	if (!tw_dmarc_is_dmarc(txt, len)) {
		add(errors, "v",
		    "record does not start with \"v=DMARC1\" (exact case), so receivers ignore it "
		    "(RFC 7489 6.4, 6.6.3)");
		return TW_EINVAL;
	}
	size_t i = 0, ntag = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && txt[e] != ';')
			e++;
		size_t a = i, b = e;
		i = e + 1;
		while (a < b && is_wsp((unsigned char)txt[a]))
			a++;
		while (b > a && is_wsp((unsigned char)txt[b - 1]))
			b--;
		if (a == b)
			continue; /* ";;" and a trailing ";" are harmless */
		ntag++;
		size_t q = a;
		while (q < b && txt[q] != '=')
			q++;
		char nq[64], vq[120];
		size_t ne = q;
		while (ne > a && is_wsp((unsigned char)txt[ne - 1]))
			ne--;
		tw_quote(nq, sizeof(nq), txt + a, ne - a, 20);
		if (q == b) {
			add(errors, "", "%s: expected tag=value (RFC 7489 6.4)", nq);
			rc = TW_EINVAL;
			continue;
		}
		const char *name = txt + a, *v = txt + q + 1;
		size_t nn = ne - a, vn = b - q - 1;
		while (vn && is_wsp((unsigned char)v[0])) {
			v++;
			vn--;
		}
		tw_quote(vq, sizeof(vq), v, vn, 80);
		size_t k;
		for (k = 0; k < TW_ARRAY_LEN(known); k++)
			if (eq(name, nn, known[k]))
				break;
		if (k == TW_ARRAY_LEN(known)) {
			add(warnings, "",
			    "unknown tag %s, ignored by receivers (RFC 7489 6.3); check for a typo",
			    nq);
			continue;
		}
		const char *tag = known[k];
		if (seen[k]) {
			add(errors, tag, "tag given twice; give each tag once");
			rc = TW_EINVAL;
			continue;
		}
		seen[k] = true;
		if (k == 0) {
			if (ntag != 1) {
				add(errors, "v", "v=DMARC1 must be the first tag (RFC 7489 6.4)");
				rc = TW_EINVAL;
			}
		} else if (!strcmp(tag, "p") || !strcmp(tag, "sp") || !strcmp(tag, "np")) {
			int p = policy(v, vn);
			if (p < 0) {
				add(errors, tag,
				    "%s is not a policy; expected none, quarantine or reject (RFC "
				    "7489 "
				    "6.3)",
				    vq);
				rc = TW_EINVAL;
			}
			if (tag[0] == 'p')
				out->p = p;
			else if (tag[0] == 's')
				out->sp = p;
			else
				out->np = p;
		} else if (!strcmp(tag, "adkim") || !strcmp(tag, "aspf")) {
			if (vn != 1 || ((v[0] | 0x20) != 'r' && (v[0] | 0x20) != 's')) {
				add(errors, tag,
				    "%s: expected r (relaxed) or s (strict) (RFC 7489 6.3)", vq);
				rc = TW_EINVAL;
			} else if (tag[1] == 'd') {
				out->adkim = (char)(v[0] | 0x20);
			} else {
				out->aspf = (char)(v[0] | 0x20);
			}
		} else if (!strcmp(tag, "pct")) {
			uint64_t x;
			if (!parse_uint(v, vn, 3, 100, &x)) {
				add(errors, tag, "%s: expected a whole number 0-100 (RFC 7489 6.3)",
				    vq);
				rc = TW_EINVAL;
			} else {
				out->pct = (int)x;
			}
		} else if (!strcmp(tag, "ri")) {
			uint64_t x;
			if (!parse_uint(v, vn, 10, UINT32_MAX, &x)) {
				add(errors, tag,
				    "%s: expected seconds as a 32-bit number (RFC 7489 6.3)", vq);
				rc = TW_EINVAL;
			} else {
				out->ri = (uint32_t)x;
			}
		} else if (!strcmp(tag, "fo")) {
			out->fo_0 = false;
			if (!each_item(v, vn, fo_item, out)) {
				add(errors, tag,
				    "%s: expected 0, 1, d or s separated by \":\" (RFC 7489 6.3)",
				    vq);
				out->fo_0 = true;
				rc = TW_EINVAL;
			}
		} else if (!strcmp(tag, "rf")) {
			if (!each_item(v, vn, rf_item, out)) {
				add(errors, tag,
				    "%s: the only report format is afrf (RFC 7489 6.3)", vq);
				rc = TW_EINVAL;
			}
		} else if (!strcmp(tag, "rua") || !strcmp(tag, "ruf")) {
			bool a_ = tag[2] == 'a';
			int r = parse_uris(v, vn, a_ ? &out->rua : &out->ruf,
			                   a_ ? &out->n_rua : &out->n_ruf, tag, errors, warnings);
			if (r == TW_ENOMEM)
				return r;
			if (r)
				rc = TW_EINVAL;
		} else if (!strcmp(tag, "t")) {
			if (eq(v, vn, "y")) {
				out->testing = true;
			} else if (!eq(v, vn, "n")) {
				add(errors, tag, "%s: expected y or n (RFC 9989)", vq);
				rc = TW_EINVAL;
			}
		} else if (!strcmp(tag, "psd")) {
			if (!eq(v, vn, "y") && !eq(v, vn, "n") && !eq(v, vn, "u")) {
				add(errors, tag, "%s: expected y, n or u (RFC 9989)", vq);
				rc = TW_EINVAL;
			}
		}
	}
	return rc;
}
