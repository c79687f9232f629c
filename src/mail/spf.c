/*
 * spf.c - the SPF record parser (RFC 7208 sections 4.6, 5, 6, 7.1 and the
 * collected ABNF of section 12). See spf.h for what is an error and what a
 * warning.
 */
#include "util/tw.h"

#include "mail/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#define SPF_MAX_TERMS 1024

static const char *const kind_names[] = {
        [TW_SPF_ALL] = "all",
        [TW_SPF_INCLUDE] = "include",
        [TW_SPF_A] = "a",
        [TW_SPF_MX] = "mx",
        [TW_SPF_PTR] = "ptr",
        [TW_SPF_IP4] = "ip4",
        [TW_SPF_IP6] = "ip6",
        [TW_SPF_EXISTS] = "exists",
        [TW_SPF_REDIRECT] = "redirect",
        [TW_SPF_EXP] = "exp",
        [TW_SPF_UNKNOWN_MOD] = "modifier",
};

const char *tw_spf_kind_name(tw_spf_kind_t k)
{
	if ((size_t)k < TW_ARRAY_LEN(kind_names) && kind_names[k])
		return kind_names[k];
	return "?";
}

bool tw_spf_term_queries_dns(const tw_spf_term_t *t)
{
	switch (t->kind) {
	case TW_SPF_INCLUDE:
	case TW_SPF_A:
	case TW_SPF_MX:
	case TW_SPF_PTR:
	case TW_SPF_EXISTS:
	case TW_SPF_REDIRECT: return true;
	default: return false;
	}
}

bool tw_spf_is_spf(const char *txt, size_t len)
{
	/* RFC 7208 4.5: "v=spf1" then SP or the end; "v=spf10" is not SPF. */
	if (!txt || len < 6 || strncasecmp(txt, "v=spf1", 6) != 0)
		return false;
	return len == 6 || txt[6] == ' ';
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )   (RFC 7208 12) */
static bool valid_toplabel(const char *s, size_t n)
{
	bool alpha = false, dash = false;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_alpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			dash = true;
		else if (!is_alnum((unsigned char)s[i]))
			return false;
	}
	if (!dash)
		return alpha;
	return is_alnum((unsigned char)s[0]) && is_alnum((unsigned char)s[n - 1]);
}

const char *tw_spf_check_macro_string(const char *s, size_t len, bool exp_letters, bool domain,
                                      bool *has_macro)
{
	size_t last_lit_start = 0; /* start of the literal tail after the last macro-expand */
	bool ends_with_macro = false;
	if (has_macro)
		*has_macro = false;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c != '%') {
			/* macro-literal = %x21-24 / %x26-7E */
			if (c < 0x21 || c > 0x7e)
				return "a byte outside visible ASCII";
			ends_with_macro = false;
			i++;
			continue;
		}
		if (i + 1 >= len)
			return "\"%\" at the end; a literal percent is \"%%\" (RFC 7208 7.1)";
		c = (unsigned char)s[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			i += 2;
		} else if (c == '{') {
			size_t j = i + 2;
			if (j >= len)
				return "unterminated macro \"%{\" (RFC 7208 7.1)";
			int l = tolower((unsigned char)s[j]);
			if (!strchr("slodiphcrtv", l) || l == 0)
				return "unknown macro letter; expected one of s l o d i p h v "
				       "(RFC 7208 7.1)";
			if (!exp_letters && strchr("crt", l))
				return "macro letters c, r and t are allowed only in explanation "
				       "text (RFC 7208 7.2)";
			j++;
			while (j < len && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j < len && (s[j] == 'r' || s[j] == 'R'))
				j++;
			while (j < len && strchr(".-+,/_=", s[j]) && s[j])
				j++;
			if (j >= len || s[j] != '}')
				return "malformed macro; expected %{letter[digits][r][delimiters]} "
				       "(RFC 7208 7.1)";
			i = j + 1;
			if (has_macro)
				*has_macro = true;
		} else {
			return "\"%\" not followed by {, %, _ or -; a literal percent is \"%%\" "
			       "(RFC 7208 7.1)";
		}
		ends_with_macro = true;
		last_lit_start = i;
	}
	if (!domain)
		return NULL;
	if (len == 0)
		return "empty domain-spec";
	if (ends_with_macro)
		return NULL;
	/* domain-end = "." toplabel [ "." ], in the literal tail */
	size_t end = len;
	if (end > last_lit_start && s[end - 1] == '.')
		end--;
	size_t dot = end;
	while (dot > last_lit_start && s[dot - 1] != '.')
		dot--;
	if (dot == last_lit_start || s[dot - 1] != '.')
		return "domain must end in \".\" and a top label, e.g. \"example.com\" "
		       "(RFC 7208 7.1 domain-end)";
	if (!valid_toplabel(s + dot, end - dot))
		return "invalid top label: letters, digits and inner hyphens, not all digits "
		       "(RFC 7208 7.1 toplabel)";
	return NULL;
}

/* "/" ( "0" / %x31-39 0*(maxdig-1)DIGIT ), value <= max. */
static int parse_cidr(const char *s, size_t n, int max, int maxdig)
{
	if (n == 0 || (int)n > maxdig)
		return -1;
	if (s[0] == '0' && n > 1)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Splits a trailing dual-cidr-length off s[0..*n): "/24", "//64", "/24//64". */
static const char *take_dual_cidr(const char *s, size_t *n, tw_spf_term_t *t)
{
	size_t len = *n;
	/* ip6: "//" digits at the end */
	size_t k = len;
	while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9')
		k--;
	if (k < len && k >= 2 && s[k - 1] == '/' && s[k - 2] == '/') {
		t->cidr6 = parse_cidr(s + k, len - k, 128, 3);
		if (t->cidr6 < 0)
			return "ip6 cidr length must be 0-128 without leading zeros (RFC 7208 5.6)";
		len = k - 2;
		k = len;
		while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9')
			k--;
	}
	if (k < len && k >= 1 && s[k - 1] == '/') {
		t->cidr4 = parse_cidr(s + k, len - k, 32, 2);
		if (t->cidr4 < 0)
			return "ip4 cidr length must be 0-32 without leading zeros (RFC 7208 5.6)";
		len = k - 1;
	}
	*n = len;
	return NULL;
}

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void term_free(tw_spf_term_t *t)
{
	free(t->text);
	free(t->domain);
	free(t->name);
	free(t->value);
}

void tw_spf_release(tw_spf_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		term_free(&s->terms[i]);
	free(s->terms);
	memset(s, 0, sizeof(*s));
}

static const char *parse_domain(tw_spf_term_t *t, const char *s, size_t n)
{
	const char *why = tw_spf_check_macro_string(s, n, false, true, &t->has_macro);
	if (why)
		return why;
	t->domain = dupn(s, n);
	return t->domain ? NULL : "out of memory";
}

/* Parses one mechanism (after its qualifier): s[0..n). Returns an error or NULL. */
static const char *parse_mechanism(tw_spf_term_t *t, const char *s, size_t n)
{
	size_t nl = 0;
	while (nl < n && s[nl] != ':' && s[nl] != '/')
		nl++;
	static const struct {
		const char *name;
		tw_spf_kind_t kind;
	} mechs[] = {
	        {"all", TW_SPF_ALL}, {"include", TW_SPF_INCLUDE}, {"a", TW_SPF_A},
	        {"mx", TW_SPF_MX},   {"ptr", TW_SPF_PTR},         {"ip4", TW_SPF_IP4},
	        {"ip6", TW_SPF_IP6}, {"exists", TW_SPF_EXISTS},
	};
	size_t m;
	for (m = 0; m < TW_ARRAY_LEN(mechs); m++)
		if (strlen(mechs[m].name) == nl && strncasecmp(s, mechs[m].name, nl) == 0)
			break;
	if (m == TW_ARRAY_LEN(mechs))
		return "unknown mechanism; expected all, include, a, mx, ptr, ip4, ip6, exists "
		       "or a name=value modifier (RFC 7208 5)";
	t->kind = mechs[m].kind;
	const char *rest = s + nl;
	size_t rn = n - nl;
	switch (t->kind) {
	case TW_SPF_ALL:
		if (rn)
			return "\"all\" takes no argument (RFC 7208 5.1)";
		return NULL;
	case TW_SPF_INCLUDE:
	case TW_SPF_EXISTS:
		if (rn == 0 || rest[0] != ':')
			return t->kind == TW_SPF_INCLUDE
			               ? "include needs \":domain\" (RFC 7208 5.2)"
			               : "exists needs \":domain\" (RFC 7208 5.7)";
		return parse_domain(t, rest + 1, rn - 1);
	case TW_SPF_PTR:
		if (rn == 0)
			return NULL;
		if (rest[0] != ':')
			return "ptr takes only \":domain\", no cidr length (RFC 7208 5.5)";
		return parse_domain(t, rest + 1, rn - 1);
	case TW_SPF_A:
	case TW_SPF_MX: {
		size_t dn = rn;
		const char *why = take_dual_cidr(rest, &dn, t);
		if (why)
			return why;
		if (dn == 0)
			return NULL;
		if (rest[0] != ':')
			return "expected \":domain\" or a cidr length such as \"/24\" or \"//64\" "
			       "(RFC 7208 5.3, 5.4)";
		return parse_domain(t, rest + 1, dn - 1);
	}
	case TW_SPF_IP4:
	case TW_SPF_IP6: {
		bool v6 = t->kind == TW_SPF_IP6;
		if (rn == 0 || rest[0] != ':')
			return v6 ? "ip6 needs \":address\" (RFC 7208 5.6)"
			          : "ip4 needs \":address\" (RFC 7208 5.6)";
		rest++;
		rn--;
		size_t an = rn;
		while (an > 0 && rest[an - 1] != '/')
			an--;
		if (an > 0) {
			int c = parse_cidr(rest + an, rn - an, v6 ? 128 : 32, v6 ? 3 : 2);
			if (c < 0)
				return v6 ? "ip6 cidr length must be 0-128 without leading zeros "
				            "(RFC 7208 5.6)"
				          : "ip4 cidr length must be 0-32 without leading zeros "
				            "(RFC 7208 5.6)";
			if (v6)
				t->cidr6 = c;
			else
				t->cidr4 = c;
			an--;
		} else {
			an = rn;
		}
		char buf[64];
		if (an == 0 || an >= sizeof(buf))
			return v6 ? "not an IPv6 address (RFC 7208 5.6)"
			          : "not an IPv4 dotted quad (RFC 7208 5.6)";
		memcpy(buf, rest, an);
		buf[an] = '\0';
		if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, t->addr) != 1)
			return v6 ? "not an IPv6 address (RFC 7208 5.6)"
			          : "not an IPv4 dotted quad (RFC 7208 5.6)";
		return NULL;
	}
	default: return "unknown mechanism";
	}
}

/* A modifier name: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) (RFC 7208 6). */
static bool valid_mod_name(const char *s, size_t n)
{
	if (n == 0 || !is_alpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static const char *parse_modifier(tw_spf_term_t *t, const char *s, size_t n, size_t eq)
{
	const char *v = s + eq + 1;
	size_t vn = n - eq - 1;
	if (eq == 8 && strncasecmp(s, "redirect", 8) == 0) {
		t->kind = TW_SPF_REDIRECT;
		return parse_domain(t, v, vn);
	}
	if (eq == 3 && strncasecmp(s, "exp", 3) == 0) {
		t->kind = TW_SPF_EXP;
		return parse_domain(t, v, vn);
	}
	t->kind = TW_SPF_UNKNOWN_MOD;
	if (!valid_mod_name(s, eq))
		return "invalid modifier name: a letter, then letters, digits, \"-\", \"_\" or "
		       "\".\" (RFC 7208 6)";
	const char *why = tw_spf_check_macro_string(v, vn, true, false, NULL);
	if (why)
		return why;
	t->name = dupn(s, eq);
	t->value = dupn(v, vn);
	return t->name && t->value ? NULL : "out of memory";
}

static void term_diag(tw_diags_t *d, const char *s, size_t n, const char *fmt, const char *why)
{
	char q[96];
	if (!d)
		return;
	tw_quote(q, sizeof(q), s, n, 60);
	tw_diag_add(d, NULL, 0, q, fmt, why);
}

int tw_spf_parse(const char *txt, size_t len, tw_spf_t *out, tw_diags_t *errors,
                 tw_diags_t *warnings)
{
	int rc = 0;
	memset(out, 0, sizeof(*out));
	if (!tw_spf_is_spf(txt, len)) {
		if (errors)
			tw_diag_add(errors, NULL, 0, "",
			            "record does not start with \"v=spf1\" and a space "
			            "(RFC 7208 4.5)");
		return TW_EINVAL;
	}
	size_t cap = 0;
	bool after_all_warned = false, seen_all = false;
	for (size_t i = 6; i < len;) {
		if (txt[i] == ' ') {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && txt[i] != ' ')
			i++;
		const char *s = txt + start;
		size_t n = i - start;
		if (out->n == SPF_MAX_TERMS) {
			if (errors)
				tw_diag_add(errors, NULL, 0, "", "more than %d terms",
				            SPF_MAX_TERMS);
			return TW_EINVAL;
		}
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			tw_spf_term_t *v = realloc(out->terms, nc * sizeof(*v));
			if (!v)
				return TW_ENOMEM;
			out->terms = v;
			cap = nc;
		}
		tw_spf_term_t t = {.cidr4 = -1, .cidr6 = -1, .offset = start};
		const char *why = NULL;
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)s[k];
			if (c < 0x21 || c > 0x7e) {
				why = "a byte outside visible ASCII; SPF records are ASCII "
				      "(RFC 7208 3, 4.6)";
				break;
			}
		}
		/* A modifier is name "=" before any ":" or "/" (RFC 7208 4.6.1). */
		size_t k = 0;
		while (k < n && s[k] != '=' && s[k] != ':' && s[k] != '/')
			k++;
		bool qualified = n > 0 && strchr("+-~?", s[0]);
		if (!why && k < n && s[k] == '=' && !qualified) {
			why = parse_modifier(&t, s, n, k);
		} else if (!why) {
			const char *m = s;
			size_t mn = n;
			if (qualified) {
				t.qual = s[0] == '+'   ? TW_SPF_PASS
				         : s[0] == '-' ? TW_SPF_FAIL
				         : s[0] == '~' ? TW_SPF_SOFTFAIL
				                       : TW_SPF_NEUTRAL;
				m++;
				mn--;
			}
			why = parse_mechanism(&t, m, mn);
		}
		if (why) {
			term_diag(errors, s, n, "%s", why);
			term_free(&t);
			rc = TW_EINVAL;
			continue;
		}
		const char *body = s;
		size_t bn = n;
		if (t.kind <= TW_SPF_EXISTS && n && strchr("+-~?", s[0])) {
			body++;
			bn--;
		}
		t.text = dupn(body, bn);
		if (!t.text) {
			term_free(&t);
			return TW_ENOMEM;
		}
		if (t.kind == TW_SPF_REDIRECT || t.kind == TW_SPF_EXP) {
			bool dup = false;
			for (size_t j = 0; j < out->n; j++)
				dup |= out->terms[j].kind == t.kind;
			if (dup) {
				term_diag(errors, s, n, "%s",
				          t.kind == TW_SPF_REDIRECT ? "redirect given twice; it "
				                                      "may appear once (RFC 7208 6)"
				                                    : "exp given twice; it may "
				                                      "appear once (RFC 7208 6)");
				term_free(&t);
				rc = TW_EINVAL;
				continue;
			}
		}
		if (t.kind <= TW_SPF_EXISTS && seen_all && !after_all_warned) {
			term_diag(warnings, s, n, "%s",
			          "mechanism after \"all\" is never evaluated (RFC 7208 5.1); put "
			          "\"all\" last");
			after_all_warned = true;
		}
		if (t.kind == TW_SPF_PTR)
			term_diag(
			        warnings, s, n, "%s",
			        "ptr is slow and unreliable and SHOULD NOT be used (RFC 7208 5.5); "
			        "list the addresses with ip4/ip6 or a instead");
		if (t.domain && strstr(t.domain, "%{p") != NULL)
			term_diag(warnings, s, n, "%s",
			          "the %{p} macro SHOULD NOT be used (RFC 7208 7.3)");
		if (t.kind == TW_SPF_UNKNOWN_MOD)
			term_diag(
			        warnings, s, n, "%s",
			        "unknown modifier, ignored by verifiers (RFC 7208 6); check for a "
			        "typo");
		if (tw_spf_term_queries_dns(&t))
			out->lookups++;
		if (t.kind == TW_SPF_ALL)
			seen_all = true;
		out->terms[out->n++] = t;
	}
	for (size_t j = 0; j < out->n; j++) {
		const tw_spf_term_t *t = &out->terms[j];
		if (t->kind == TW_SPF_REDIRECT)
			out->redirect = t;
		else if (t->kind == TW_SPF_EXP)
			out->exp = t;
		else if (t->kind == TW_SPF_ALL && !out->all)
			out->all = t;
	}
	if (out->redirect && out->all && warnings) {
		char q[96];
		tw_quote(q, sizeof(q), txt + out->redirect->offset, strlen(out->redirect->text),
		         60);
		tw_diag_add(warnings, NULL, 0, q,
		            "redirect is ignored because the record has \"all\" (RFC 7208 "
		            "6.1); remove one of them");
	}
	return rc;
}
