/*
 * spf.h - parsing an SPF record (RFC 7208) into its terms.
 *
 * Syntax only: no DNS, no evaluation. The parser follows the ABNF of RFC
 * 7208 section 12 (terms, domain-spec, dual-cidr-length) and the macro
 * grammar of section 7.1; anything a verifier would answer with permerror
 * because of the text alone is an error diag. Things that are legal but
 * almost surely not what the publisher meant (terms after "all", a redirect
 * that "all" makes dead, ptr, %{p}) are warning diags. Diags carry no file
 * or line (the caller knows where the record came from); field names the
 * term ("a:foo-bar") and the message says what was expected.
 *
 * Shared by `tailwart dns lint`, `doctor` and friends.
 */
#ifndef TW_MAIL_SPF_H
#define TW_MAIL_SPF_H

#include "util/tw.h"

typedef enum tw_spf_qual {
	TW_SPF_PASS = 0, /* "+" or none */
	TW_SPF_FAIL,     /* "-" */
	TW_SPF_SOFTFAIL, /* "~" */
	TW_SPF_NEUTRAL,  /* "?" */
} tw_spf_qual_t;

typedef enum tw_spf_kind {
	/* mechanisms (RFC 7208 5) */
	TW_SPF_ALL = 0,
	TW_SPF_INCLUDE,
	TW_SPF_A,
	TW_SPF_MX,
	TW_SPF_PTR,
	TW_SPF_IP4,
	TW_SPF_IP6,
	TW_SPF_EXISTS,
	/* modifiers (RFC 7208 6) */
	TW_SPF_REDIRECT,
	TW_SPF_EXP,
	TW_SPF_UNKNOWN_MOD, /* name=value, ignored by verifiers (6) */
} tw_spf_kind_t;

typedef struct tw_spf_term {
	tw_spf_kind_t kind;
	tw_spf_qual_t qual; /* mechanisms only */
	char *text;         /* the term as written (without the qualifier), NUL-terminated */
	char *domain;       /* domain-spec as written, or NULL (a/mx/ptr: the current domain) */
	char *name;         /* unknown modifier: its name; else NULL */
	char *value;        /* unknown modifier: its macro-string; else NULL */
	uint8_t addr[16];   /* ip4 (first 4 bytes) / ip6, network order */
	int cidr4, cidr6;   /* prefix lengths; -1 when not given */
	bool has_macro;     /* domain-spec holds a macro-expand ("%{d}") */
	size_t offset;      /* byte offset of the term in the record */
} tw_spf_term_t;

typedef struct tw_spf {
	tw_spf_term_t *terms; /* in record order; on a syntax error, the terms that parsed */
	size_t n;
	int lookups; /* DNS-querying terms of this record alone (RFC 7208 4.6.4) */
	const tw_spf_term_t *redirect; /* or NULL */
	const tw_spf_term_t *exp;      /* or NULL */
	const tw_spf_term_t *all;      /* first "all" mechanism, or NULL */
} tw_spf_t;

/* "v=spf1" (any case) followed by a space or the end (RFC 7208 4.5). */
bool tw_spf_is_spf(const char *txt, size_t len);

/*
 * Parses txt (a TXT value, strings already concatenated; may hold any
 * byte). out is always initialised and must be released. Returns 0 when the
 * record has no syntax error, TW_EINVAL when it has (a permerror for every
 * verifier; each error is in errors), TW_ENOMEM. warnings may be NULL.
 */
int tw_spf_parse(const char *txt, size_t len, tw_spf_t *out, tw_diags_t *errors,
                 tw_diags_t *warnings);
void tw_spf_release(tw_spf_t *s);

/* True for include, a, mx, ptr, exists and redirect (RFC 7208 4.6.4). */
bool tw_spf_term_queries_dns(const tw_spf_term_t *t);

/* "include", "ip4", "redirect", ... */
const char *tw_spf_kind_name(tw_spf_kind_t k);

/*
 * Checks a macro-string or domain-spec against RFC 7208 7.1. exp_letters
 * allows c, r and t (only valid in explanation text). domain requires a
 * domain-end (a "." toplabel or a final macro-expand). Returns NULL when
 * valid, else a static message.
 */
const char *tw_spf_check_macro_string(const char *s, size_t len, bool exp_letters, bool domain,
                                      bool *has_macro);

#endif
