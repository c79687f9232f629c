/*
 * dkim_rec.h - parsing a DKIM public key record, the TXT at
 * <selector>._domainkey.<domain> (RFC 6376 3.6.1, tag-list syntax 3.2;
 * ed25519 keys RFC 8463 4.2; key sizes RFC 8301 3.2).
 *
 * The p= key is decoded and loaded with OpenSSL, so a record that parses
 * here holds a key a verifier can use. Errors are what makes verifiers
 * reject or ignore the key; warnings are weak or unusual but working
 * choices (RSA under 2048 bits, t=y, a revoked key). Diags carry no file or
 * line; field names the tag ("p", "k").
 */
#ifndef TW_MAIL_DKIM_REC_H
#define TW_MAIL_DKIM_REC_H

#include "util/tw.h"

#include <openssl/types.h>

typedef enum tw_dkim_keytype {
	TW_DKIM_K_RSA = 0, /* default when k= is absent */
	TW_DKIM_K_ED25519,
	TW_DKIM_K_UNKNOWN,
} tw_dkim_keytype_t;

typedef struct tw_dkim_key {
	bool has_v; /* v=DKIM1 given */
	tw_dkim_keytype_t k;
	char k_name[32]; /* the k= value as written ("rsa" when absent) */
	bool revoked;    /* p= empty (RFC 6376 3.6.1) */
	uint8_t *key;    /* decoded p= bytes (SPKI DER for rsa, raw 32 for ed25519) */
	size_t key_len;
	EVP_PKEY *pkey;        /* loaded key, or NULL (revoked, unknown type or invalid) */
	int bits;              /* RSA modulus bits, 256 for ed25519, 0 when no key */
	bool h_sha1, h_sha256; /* h= lists them; both true when h= is absent */
	bool has_h;
	bool s_email;   /* s= allows email ("email" or "*", or s= absent) */
	bool t_testing; /* t=y */
	bool t_strict;  /* t=s: i= must not be a subdomain of d= */
	char *notes;    /* n=, or NULL */
} tw_dkim_key_t;

/* Does txt look like a DKIM key record (has a p= tag or starts with v=DKIM1)? */
bool tw_dkim_rec_is_key(const char *txt, size_t len);

/*
 * Parses a key record (TXT strings concatenated). out is always initialised
 * and must be released. Returns 0 when a verifier can use the key (warnings
 * may still be given; a revoked key is 0 with revoked set), TW_EINVAL when the
 * record is invalid or the key unusable (errors say why), TW_ENOMEM.
 * warnings may be NULL.
 */
int tw_dkim_rec_parse(const char *txt, size_t len, tw_dkim_key_t *out, tw_diags_t *errors,
                      tw_diags_t *warnings);
void tw_dkim_rec_release(tw_dkim_key_t *k);

/*
 * Strict base64 (RFC 4648 4) with whitespace skipped, as in DKIM's p= and
 * b= (RFC 6376 2.4). Returns the decoded length, or -1 if malformed or over
 * cap.
 */
long tw_dkim_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap);

#endif
