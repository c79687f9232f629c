/*
 * mail_dkim_rec_test.c - the DKIM key record parser, with the key records of
 * RFC 6376 Appendix C and RFC 8463 Appendix A (tests/vectors/dkim/) and
 * generated keys of other sizes and forms.
 */
#include "util/tw.h"

#include "mail/dkim_rec.h"

#include <openssl/evp.h>
#include <setjmp.h>

#include <cmocka.h>

#define VEC "tests/vectors/dkim/"

static size_t slurp(const char *name, char *buf, size_t cap)
{
	char path[256];
	snprintf(path, sizeof(path), VEC "%s", name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n;
}

static bool has_diag(const tw_diags_t *d, const char *field, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].field, field) == 0 && strstr(d->v[i].msg, needle))
			return true;
	return false;
}

static void test_rfc8463_ed25519(void **state)
{
	(void)state;
	char rec[4096], hex[128];
	size_t n = slurp("rfc8463-brisbane-ed25519.txt", rec, sizeof(rec));
	slurp("rfc8463-ed25519-public.hex", hex, sizeof(hex));
	tw_dkim_key_t k;
	tw_diags_t e = {0}, w = {0};
	assert_int_equal(tw_dkim_rec_parse(rec, n, &k, &e, &w), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(w.n, 0);
	assert_true(k.has_v);
	assert_int_equal(k.k, TW_DKIM_K_ED25519);
	assert_int_equal(k.bits, 256);
	assert_int_equal(k.key_len, 32);
	assert_non_null(k.pkey);
	/* the loaded key is the RFC's public key, byte for byte */
	uint8_t raw[32];
	size_t rl = sizeof(raw);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k.pkey, raw, &rl), 1);
	char got[65];
	for (size_t i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", raw[i]);
	assert_string_equal(got, hex);
	tw_dkim_rec_release(&k);
}

static void test_rfc_rsa_1024(void **state)
{
	(void)state;
	const char *files[] = {"rfc8463-test-rsa.txt", "rfc6376-brisbane-rsa.txt"};
	for (size_t f = 0; f < TW_ARRAY_LEN(files); f++) {
		char rec[4096];
		size_t n = slurp(files[f], rec, sizeof(rec));
		tw_dkim_key_t k;
		tw_diags_t e = {0}, w = {0};
		assert_int_equal(tw_dkim_rec_parse(rec, n, &k, &e, &w), 0);
		assert_int_equal(e.n, 0);
		assert_int_equal(k.k, TW_DKIM_K_RSA);
		assert_string_equal(k.k_name, "rsa");
		assert_int_equal(k.bits, 1024);
		assert_non_null(k.pkey);
		/* 1024 works but is below the 2048 RFC 8301 asks signers for */
		assert_int_equal(w.n, 1);
		assert_true(has_diag(&w, "p", "1024 bits"));
		tw_dkim_rec_release(&k);
		tw_diags_release(&w);
	}
}

static void test_rsa_2048_and_512(void **state)
{
	(void)state;
	char rec[4096];
	size_t n = slurp("gen-rsa2048.txt", rec, sizeof(rec));
	tw_dkim_key_t k;
	tw_diags_t e = {0}, w = {0};
	assert_int_equal(tw_dkim_rec_parse(rec, n, &k, &e, &w), 0);
	assert_int_equal(k.bits, 2048);
	assert_int_equal(e.n + w.n, 0);
	tw_dkim_rec_release(&k);

	n = slurp("gen-rsa512.txt", rec, sizeof(rec));
	assert_int_equal(tw_dkim_rec_parse(rec, n, &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "p", "512 bits"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);
}

static void test_ed25519_spki_refused(void **state)
{
	(void)state;
	char rec[4096];
	size_t n = slurp("gen-ed25519-spki.txt", rec, sizeof(rec));
	tw_dkim_key_t k;
	tw_diags_t e = {0};
	assert_int_equal(tw_dkim_rec_parse(rec, n, &k, &e, NULL), TW_EINVAL);
	assert_true(has_diag(&e, "p", "SubjectPublicKeyInfo"));
	assert_null(k.pkey);
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);

	/* an RSA key labelled ed25519, and the RFC 8463 ed25519 key labelled rsa */
	n = slurp("gen-rsa2048.txt", rec, sizeof(rec));
	char *kk = strstr(rec, "k=rsa");
	assert_non_null(kk);
	char swapped[4096];
	snprintf(swapped, sizeof(swapped), "%.*sk=ed25519%s", (int)(kk - rec), rec, kk + 5);
	assert_int_equal(tw_dkim_rec_parse(swapped, strlen(swapped), &k, &e, NULL), TW_EINVAL);
	assert_true(has_diag(&e, "p", "expected the raw 32-byte"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);
	const char *r = "v=DKIM1; k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, NULL), TW_EINVAL);
	assert_true(has_diag(&e, "p", "RSA public key"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);
}

static void test_tags(void **state)
{
	(void)state;
	tw_dkim_key_t k;
	tw_diags_t e = {0}, w = {0};
	const char *r;

	r = "v=DKIM1; k=ed25519; p=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), 0);
	assert_true(k.revoked);
	assert_true(has_diag(&w, "p", "revoked"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&w);

	r = "k=rsa; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "v", "first tag"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);
	tw_diags_release(&w);

	r = "v=DKIM2; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "v", "DKIM1"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);

	r = "v=DKIM1; k=dsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "k", "unknown key type"));
	assert_int_equal(k.k, TW_DKIM_K_UNKNOWN);
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);

	r = "v=DKIM1; k=ed25519";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "p", "no p="));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);

	r = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo; p=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "", "twice"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);

	/* base64 broken: a missing pad character */
	r = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "p", "base64"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);

	/* FWS inside p=, h=, s=, t=, n= and a trailing ";" */
	r = "v=DKIM1 ; k = ed25519 ; h=sha256 ; s=email:* ; t=y:s ; n=hi there ; "
	    "p=11qYAYKxCrfVS/7TyWQH Og7hcvPapiMlrwIaaPcHURo= ;";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), 0);
	assert_int_equal(e.n, 0);
	assert_true(k.has_h && k.h_sha256 && !k.h_sha1);
	assert_true(k.s_email && k.t_testing && k.t_strict);
	assert_string_equal(k.notes, "hi there");
	assert_true(has_diag(&w, "t", "testing"));
	assert_non_null(k.pkey);
	tw_dkim_rec_release(&k);
	tw_diags_release(&w);

	r = "v=DKIM1; h=sha1; s=tlsrpt; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	assert_int_equal(tw_dkim_rec_parse(r, strlen(r), &k, &e, &w), TW_EINVAL);
	assert_true(has_diag(&e, "h", "sha256"));
	assert_true(has_diag(&e, "s", "not used for mail"));
	tw_dkim_rec_release(&k);
	tw_diags_release(&e);
	tw_diags_release(&w);
}

static void test_is_key_and_base64(void **state)
{
	(void)state;
	assert_true(tw_dkim_rec_is_key("v=DKIM1; p=", 11));
	assert_true(tw_dkim_rec_is_key("k=rsa; p=abc", 12));
	assert_false(tw_dkim_rec_is_key("v=spf1 -all", 11));
	assert_false(tw_dkim_rec_is_key("google-site-verification=x", 26));
	uint8_t out[16];
	assert_int_equal(tw_dkim_base64_decode("Zm9v", 4, out, sizeof(out)), 3);
	assert_memory_equal(out, "foo", 3);
	assert_int_equal(tw_dkim_base64_decode("Zm 8=", 5, out, sizeof(out)), 2);
	assert_int_equal(tw_dkim_base64_decode("Zm9=", 4, out, sizeof(out)), -1); /* bits */
	assert_int_equal(tw_dkim_base64_decode("Zg=a", 4, out, sizeof(out)), -1);
	assert_int_equal(tw_dkim_base64_decode("Zm9", 3, out, sizeof(out)), -1);
	assert_int_equal(tw_dkim_base64_decode("Zm9v", 4, out, 2), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc8463_ed25519),
	        cmocka_unit_test(test_rfc_rsa_1024),
	        cmocka_unit_test(test_rsa_2048_and_512),
	        cmocka_unit_test(test_ed25519_spki_refused),
	        cmocka_unit_test(test_tags),
	        cmocka_unit_test(test_is_key_and_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
