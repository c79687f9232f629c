/*
 * dmarc.h - parsing a DMARC policy record, the TXT at _dmarc.<domain>
 * (RFC 7489 6.3 tags, 6.4 ABNF; np=, t= and psd= from DMARCbis, RFC 9989).
 *
 * Errors: the record is not DMARC (v=DMARC1 not first: receivers ignore it,
 * RFC 7489 6.6.3), a tag value receivers discard (bad p=, pct=, URI, ...),
 * a repeated tag. Warnings: unknown tags (ignored by receivers) and report
 * URIs receivers won't use. A missing p= is not reported here: it is
 * required only for the organizational domain's record (6.3), which the
 * caller knows; p is -1 then. Diags carry no file or line; field names
 * the tag.
 */
#ifndef TW_MAIL_DMARC_H
#define TW_MAIL_DMARC_H

#include "util/tw.h"

typedef enum tw_dmarc_policy {
	TW_DMARC_NONE = 0,
	TW_DMARC_QUARANTINE,
	TW_DMARC_REJECT,
} tw_dmarc_policy_t;

typedef struct tw_dmarc_uri {
	char *uri;         /* as written, without the !size suffix */
	char *mailto;      /* the address for mailto: URIs ("dmarc@example.com"), else NULL */
	uint64_t max_size; /* the !size limit in bytes, 0 when none */
} tw_dmarc_uri_t;

typedef struct tw_dmarc {
	int p, sp, np;    /* tw_dmarc_policy_t, or -1 when the tag is absent/invalid */
	char adkim, aspf; /* 'r' (default) or 's' */
	int pct;          /* 0-100, default 100 */
	tw_dmarc_uri_t *rua, *ruf;
	size_t n_rua, n_ruf;
	bool fo_0, fo_1, fo_d, fo_s; /* fo= options; default fo=0 */
	uint32_t ri;                 /* report interval, seconds; default 86400 */
	bool testing;                /* t=y (RFC 9989) */
} tw_dmarc_t;

/* Does txt start with the v=DMARC1 tag (RFC 7489 6.4: "v" *WSP "=" *WSP "DMARC1")? */
bool tw_dmarc_is_dmarc(const char *txt, size_t len);

/*
 * Parses a DMARC record (TXT strings concatenated). out is always
 * initialised, with the defaults, and must be released. Returns 0 or
 * TW_EINVAL (errors hold why), TW_ENOMEM. warnings may be NULL.
 */
int tw_dmarc_parse(const char *txt, size_t len, tw_dmarc_t *out, tw_diags_t *errors,
                   tw_diags_t *warnings);
void tw_dmarc_release(tw_dmarc_t *d);

const char *tw_dmarc_policy_name(int p);

#endif
