/*
 * dkim_rec.c - the DKIM key record parser (RFC 6376 3.2 tag-lists, 3.6.1
 * key record tags; RFC 8463 4.2 ed25519 keys; RFC 8301 3.2 key sizes).
 */
#include "util/tw.h"

#include "mail/dkim_rec.h"

#include <openssl/evp.h>
#include <strings.h>
#include <openssl/x509.h>

#define DKIM_MAX_KEY 8192 /* bytes of decoded p=; RSA-16384 SPKI is ~2.1 KiB */

static bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int b64v(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long tw_dkim_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t n = 0, chars = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (is_ws(c))
			continue;
		if (c == '=') {
			pad++;
			chars++;
			continue;
		}
		int v = b64v(c);
		if (v < 0 || pad)
			return -1; /* not base64, or data after padding */
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* Whole quanta only, at most "==", and no stray non-zero bits. */
	if (chars % 4 != 0 || pad > 2 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	if ((pad == 1 && bits != 2) || (pad == 2 && bits != 4) || (pad == 0 && bits != 0))
		return -1;
	return (long)n;
}

/* One tag=value of a tag-list: name and value with surrounding FWS trimmed. */
typedef struct tag {
	const char *name, *val;
	size_t nlen, vlen;
} tag_t;

/*
 * Splits s into tags (RFC 6376 3.2): tag-spec *( ";" tag-spec ) [ ";" ].
 * Returns the count, or -1 with *why set.
 */
static int split_tags(const char *s, size_t len, tag_t *tags, int max, const char **why)
{
	int n = 0;
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && s[end] != ';')
			end++;
		size_t a = i, b = end;
		while (a < b && is_ws((unsigned char)s[a]))
			a++;
		while (b > a && is_ws((unsigned char)s[b - 1]))
			b--;
		if (a == b) {
			/* only a final empty tag-spec (trailing ";") is allowed */
			if (end < len || n == 0) {
				*why = "empty tag between \";\" separators (RFC 6376 3.2)";
				return -1;
			}
			break;
		}
		size_t eq = a;
		while (eq < b && s[eq] != '=')
			eq++;
		if (eq == b) {
			*why = "tag without \"=\"; expected name=value (RFC 6376 3.2)";
			return -1;
		}
		size_t ne = eq;
		while (ne > a && is_ws((unsigned char)s[ne - 1]))
			ne--;
		size_t vs = eq + 1;
		while (vs < b && is_ws((unsigned char)s[vs]))
			vs++;
		/* tag-name = ALPHA *ALNUMPUNC */
		bool ok = ne > a && ((s[a] | 0x20) >= 'a' && (s[a] | 0x20) <= 'z');
		for (size_t k = a; ok && k < ne; k++) {
			char c = s[k];
			ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '_';
		}
		if (!ok) {
			*why = "invalid tag name; expected a letter then letters, digits or \"_\" "
			       "(RFC 6376 3.2)";
			return -1;
		}
		/* tag-value: VALCHAR = %x21-3A / %x3C-7E, with inner whitespace */
		for (size_t k = vs; k < b; k++) {
			unsigned char c = (unsigned char)s[k];
			if (!is_ws(c) && (c < 0x21 || c > 0x7e)) {
				*why = "a byte outside visible ASCII in a tag value (RFC 6376 3.2)";
				return -1;
			}
		}
		for (int k = 0; k < n; k++) {
			if (tags[k].nlen == ne - a && memcmp(tags[k].name, s + a, ne - a) == 0) {
				*why = "a tag appears twice, which makes the whole record invalid "
				       "(RFC 6376 3.2)";
				return -1;
			}
		}
		if (n == max) {
			*why = "too many tags";
			return -1;
		}
		tags[n++] = (tag_t){s + a, s + vs, ne - a, b - vs};
		i = end + 1;
	}
	return n;
}

static bool tag_is(const tag_t *t, const char *name)
{
	return t->nlen == strlen(name) && memcmp(t->name, name, t->nlen) == 0;
}

/* Does the colon-separated list v hold item (case-insensitive, FWS trimmed)? */
static bool list_has(const char *v, size_t n, const char *item)
{
	size_t i = 0, il = strlen(item);
	while (i <= n) {
		size_t e = i;
		while (e < n && v[e] != ':')
			e++;
		size_t a = i, b = e;
		while (a < b && is_ws((unsigned char)v[a]))
			a++;
		while (b > a && is_ws((unsigned char)v[b - 1]))
			b--;
		if (b - a == il && strncasecmp(v + a, item, il) == 0)
			return true;
		i = e + 1;
	}
	return false;
}

bool tw_dkim_rec_is_key(const char *txt, size_t len)
{
	tag_t tags[64];
	const char *why;
	int n = split_tags(txt, len, tags, (int)TW_ARRAY_LEN(tags), &why);
	if (n <= 0)
		return len >= 7 && strncmp(txt, "v=DKIM1", 7) == 0;
	for (int i = 0; i < n; i++)
		if (tag_is(&tags[i], "p") ||
		    (i == 0 && tag_is(&tags[i], "v") && tags[i].vlen == 5 &&
		     memcmp(tags[i].val, "DKIM1", 5) == 0))
			return true;
	return false;
}

void tw_dkim_rec_release(tw_dkim_key_t *k)
{
	if (!k)
		return;
	free(k->key);
	free(k->notes);
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

/* A finding without a place: the caller knows the record's file and line. */
#define add(d, field, ...) ((d) ? (void)tw_diag_add((d), NULL, 0, (field), __VA_ARGS__) : (void)0)

/* Loads the decoded p= as a key of type k; errors/warnings as diags. */
static int load_key(tw_dkim_key_t *out, tw_diags_t *errors, tw_diags_t *warnings)
{
	const unsigned char *p = out->key;
	if (out->k == TW_DKIM_K_ED25519) {
		/* RFC 8463 4.2: the bare 32-byte key, not an SPKI structure. */
		if (out->key_len != 32) {
			add(errors, "p",
			    "ed25519 key is %zu bytes, expected the raw 32-byte public key (RFC "
			    "8463 "
			    "4.2)%s",
			    out->key_len,
			    out->key_len == 44 ? "; this looks like the DER SubjectPublicKeyInfo: "
			                         "publish only its last 32 bytes"
			                       : "");
			return TW_EINVAL;
		}
		out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, 32);
		if (!out->pkey) {
			add(errors, "p", "not a valid ed25519 public key (RFC 8463 4.2)");
			return TW_EINVAL;
		}
		out->bits = 256;
		return 0;
	}
	/* rsa: DER SubjectPublicKeyInfo, as every signer publishes (RFC 6376 3.6.1). */
	out->pkey = d2i_PUBKEY(NULL, &p, (long)out->key_len);
	if (out->pkey && p != out->key + out->key_len) {
		add(errors, "p", "bytes after the public key's DER structure");
		return TW_EINVAL;
	}
	if (!out->pkey) {
		/* A bare PKCS#1 RSAPublicKey (RFC 3447 A.1.1) also appears in the wild. */
		p = out->key;
		out->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)out->key_len);
		if (!out->pkey || p != out->key + out->key_len) {
			add(errors, "p",
			    "p= does not decode to an RSA public key (DER SubjectPublicKeyInfo, "
			    "RFC 6376 3.6.1)");
			return TW_EINVAL;
		}
		add(warnings, "p",
		    "p= is a bare PKCS#1 RSAPublicKey; some verifiers accept only the "
		    "SubjectPublicKeyInfo form (openssl rsa -pubout)");
	}
	if (!EVP_PKEY_is_a(out->pkey, "RSA")) {
		add(errors, "p", "p= holds a %s key but k= says rsa (RFC 6376 3.6.1)",
		    EVP_PKEY_get0_type_name(out->pkey) ? EVP_PKEY_get0_type_name(out->pkey)
		                                       : "non-RSA");
		return TW_EINVAL;
	}
	out->bits = EVP_PKEY_get_bits(out->pkey);
	if (out->bits < 1024) {
		add(errors, "p",
		    "RSA key of %d bits: verifiers MUST NOT accept keys under 1024 bits (RFC 8301 "
		    "3.2), so every signature fails; publish a 2048-bit key",
		    out->bits);
		return TW_EINVAL;
	}
	if (out->bits < 2048)
		add(warnings, "p",
		    "RSA key of %d bits: signers SHOULD use at least 2048 (RFC 8301 3.2) and some "
		    "receivers distrust 1024; rotate to a 2048-bit key",
		    out->bits);
	return 0;
}

int tw_dkim_rec_parse(const char *txt, size_t len, tw_dkim_key_t *out, tw_diags_t *errors,
                      tw_diags_t *warnings)
{
	tag_t tags[64];
	const char *why = NULL;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	out->h_sha1 = out->h_sha256 = true;
	out->s_email = true;
	tw_strlcpy(out->k_name, "rsa", sizeof(out->k_name));
	int n = split_tags(txt, len, tags, (int)TW_ARRAY_LEN(tags), &why);
	if (n < 0) {
		add(errors, "", "%s", why);
		return TW_EINVAL;
	}
	const tag_t *p = NULL;
	for (int i = 0; i < n; i++) {
		const tag_t *t = &tags[i];
		char q[80];
		tw_quote(q, sizeof(q), t->val, t->vlen, 40);
		if (tag_is(t, "v")) {
			/* RFC 6376 3.6.1: if present, first, and exactly "DKIM1". */
			if (i != 0) {
				add(errors, "v",
				    "v= must be the first tag when present (RFC 6376 "
				    "3.6.1)");
				rc = TW_EINVAL;
			} else if (t->vlen != 5 || memcmp(t->val, "DKIM1", 5) != 0) {
				add(errors, "v",
				    "version %s: a key record with v= other than DKIM1 is "
				    "discarded "
				    "(RFC 6376 3.6.1)",
				    q);
				rc = TW_EINVAL;
			}
			out->has_v = true;
		} else if (tag_is(t, "k")) {
			if (t->vlen == 3 && strncasecmp(t->val, "rsa", 3) == 0) {
				out->k = TW_DKIM_K_RSA;
			} else if (t->vlen == 7 && strncasecmp(t->val, "ed25519", 7) == 0) {
				out->k = TW_DKIM_K_ED25519;
			} else {
				out->k = TW_DKIM_K_UNKNOWN;
				add(errors, "k",
				    "unknown key type %s; verifiers ignore the key (RFC 6376 "
				    "3.6.1). "
				    "Expected rsa or ed25519",
				    q);
				rc = TW_EINVAL;
			}
			snprintf(out->k_name, sizeof(out->k_name), "%.*s",
			         (int)(t->vlen < 31 ? t->vlen : 31), t->val);
		} else if (tag_is(t, "h")) {
			out->has_h = true;
			out->h_sha1 = list_has(t->val, t->vlen, "sha1");
			out->h_sha256 = list_has(t->val, t->vlen, "sha256");
			if (!out->h_sha256) {
				add(errors, "h",
				    "h=%s does not allow sha256; sha1 signatures MUST NOT be "
				    "accepted "
				    "(RFC 8301 3.1), so no signature can verify. Use h=sha256 or "
				    "drop "
				    "h=",
				    q);
				rc = TW_EINVAL;
			}
		} else if (tag_is(t, "s")) {
			out->s_email = list_has(t->val, t->vlen, "email") ||
			               list_has(t->val, t->vlen, "*");
			if (!out->s_email) {
				add(errors, "s",
				    "s=%s does not include email or *, so the key is not used for "
				    "mail "
				    "(RFC 6376 3.6.1)",
				    q);
				rc = TW_EINVAL;
			}
		} else if (tag_is(t, "t")) {
			out->t_testing = list_has(t->val, t->vlen, "y");
			out->t_strict = list_has(t->val, t->vlen, "s");
			if (out->t_testing)
				add(warnings, "t",
				    "t=y: the domain is testing DKIM and verifiers treat its mail "
				    "as "
				    "unsigned (RFC 6376 3.6.1); remove y once signing works");
		} else if (tag_is(t, "n")) {
			out->notes = malloc(t->vlen + 1);
			if (!out->notes)
				return TW_ENOMEM;
			memcpy(out->notes, t->val, t->vlen);
			out->notes[t->vlen] = '\0';
		} else if (tag_is(t, "p")) {
			p = t;
		}
		/* other tags: ignored (RFC 6376 3.6.1, "unrecognized tags MUST be ignored") */
	}
	if (!p) {
		add(errors, "p", "no p= tag; the public key is required (RFC 6376 3.6.1)");
		return TW_EINVAL;
	}
	if (p->vlen == 0) {
		out->revoked = true;
		add(warnings, "p",
		    "empty p=: the key is revoked and signatures with this selector fail (RFC 6376 "
		    "3.6.1); fine when retiring a selector, else publish the key");
		return rc;
	}
	out->key = malloc(DKIM_MAX_KEY);
	if (!out->key)
		return TW_ENOMEM;
	long kl = tw_dkim_base64_decode(p->val, p->vlen, out->key, DKIM_MAX_KEY);
	if (kl <= 0) {
		add(errors, "p", "p= is not valid base64 (RFC 6376 3.6.1, RFC 4648 4)");
		free(out->key);
		out->key = NULL;
		return TW_EINVAL;
	}
	out->key_len = (size_t)kl;
	if (out->k == TW_DKIM_K_UNKNOWN)
		return TW_EINVAL;
	int lrc = load_key(out, errors, warnings);
	return lrc ? lrc : rc;
}
