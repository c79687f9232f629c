/*
 * dns_tsig_test.c - TSIG key files (BIND and Knot syntax), the --tsig
 * option, the file-mode refusal, and that no diag ever shows the secret.
 */
#include "util/tw.h"

#include "dns/provider.h"

#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* A secret whose every 8-byte piece is distinctive, so a partial leak shows. */
#define SECRET "Zm9vYmFyQmF6UXV4U2VjcmV0VmFsdWVYWVo0MjQyNDI="

/* Fails if any diag's text holds the secret or an 8-byte piece of it. */
static void assert_no_secret(const tw_diags_t *d, const char *secret)
{
	size_t sl = strlen(secret);

	for (size_t i = 0; i < d->n; i++) {
		char line[1024];
		tw_diag_format(&d->v[i], line, sizeof(line));
		for (size_t off = 0; off + 8 <= sl; off++) {
			char piece[9];
			memcpy(piece, secret + off, 8);
			piece[8] = '\0';
			if (strstr(line, piece))
				fail_msg("diag shows part of the secret: %s", line);
		}
	}
}

static bool has_diag(const tw_diags_t *d, int line, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if ((line < 0 || d->v[i].line == line) && strstr(d->v[i].msg, needle))
			return true;
	return false;
}

static void dump(const tw_diags_t *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char line[1024];
		tw_diag_format(&d->v[i], line, sizeof(line));
		print_message("  diag: %s\n", line);
	}
}

static int parse(const char *text, tw_dns_tsig_t *k, tw_diags_t *d)
{
	return tw_dns_tsig_parse("key.conf", text, strlen(text), k, d);
}

/* ---- good files ----------------------------------------------------------- */

static void test_bind_tsig_keygen(void **state)
{
	(void)state;
	/* What `tsig-keygen -a hmac-sha256 tw-key` prints. */
	const char *f = "key \"tw-key\" {\n"
	                "\talgorithm hmac-sha256;\n"
	                "\tsecret \"" SECRET "\";\n"
	                "};\n";
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_int_equal(parse(f, &k, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(k.name, "tw-key");
	assert_string_equal(k.alg, "hmac-sha256");
	assert_string_equal(k.secret, SECRET);
	tw_diags_release(&d);
}

static void test_bind_comments_and_layout(void **state)
{
	(void)state;
	const char *f = "# a shell comment\n"
	                "// a C++ comment\n"
	                "/* a block\n   comment */ key upd.example.com. { /* inline */\n"
	                "  secret \"" SECRET "\"; // trailing\n"
	                "  algorithm HMAC-SHA512 ;   # upper case is fine\n"
	                "}\n"
	                ";\n";
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_int_equal(parse(f, &k, &d), 0);
	assert_string_equal(k.name, "upd.example.com.");
	assert_string_equal(k.alg, "hmac-sha512");
	assert_string_equal(k.secret, SECRET);
	tw_diags_release(&d);
}

static void test_every_algorithm(void **state)
{
	(void)state;
	static const char *const in[] = {"hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384",
	                                 "hmac-sha512"};
	for (size_t i = 0; i < TW_ARRAY_LEN(in); i++) {
		char f[512];
		tw_dns_tsig_t k;
		tw_diags_t d = {0};
		snprintf(f, sizeof(f), "key k { algorithm %s; secret \"%s\"; };", in[i], SECRET);
		assert_int_equal(parse(f, &k, &d), 0);
		assert_string_equal(k.alg, in[i]);
		assert_int_equal(d.n, 0);
		tw_diags_release(&d);
	}
}

static void test_md5_accepted_with_warning(void **state)
{
	(void)state;
	const char *f =
	        "key k {\n algorithm hmac-md5.sig-alg.reg.int;\n secret \"" SECRET "\";\n};";
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_int_equal(parse(f, &k, &d), 0);
	assert_string_equal(k.alg, "hmac-md5");
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 2);
	assert_non_null(strstr(d.v[0].msg, "warning: hmac-md5 is weak"));
	assert_no_secret(&d, SECRET);
	tw_diags_release(&d);
}

static void test_knot_keymgr_yaml(void **state)
{
	(void)state;
	/* What `keymgr -t tw-k hmac-sha384` prints. */
	const char *f = "# hmac-sha384:tw-k:" SECRET "\n"
	                "key:\n"
	                "  - id: tw-k\n"
	                "    algorithm: hmac-sha384\n"
	                "    secret: " SECRET "\n";
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_int_equal(parse(f, &k, &d), 0);
	assert_string_equal(k.name, "tw-k");
	assert_string_equal(k.alg, "hmac-sha384");
	assert_string_equal(k.secret, SECRET);
	tw_diags_release(&d);

	/* Quoted values, too. */
	const char *g = "key:\n  - id: \"q.example.\"\n    algorithm: 'hmac-sha1'\n"
	                "    secret: \"" SECRET "\"\n";
	assert_int_equal(parse(g, &k, &d), 0);
	assert_string_equal(k.name, "q.example.");
	assert_string_equal(k.alg, "hmac-sha1");
	tw_diags_release(&d);
}

/* ---- errors: each with its line, none showing the secret ------------------------ */

typedef struct bad_case {
	const char *text; /* %s is the secret */
	int line;
	const char *needle;
} bad_case_t;

static const bad_case_t bad[] = {
        {"key k {\n algorithm hmac-sha256;\n secret \"%s\"\n};\n", 4,
         "expected ';' after the secret"},
        {"key k {\n algorithm hmac-sha999;\n secret \"%s\";\n};\n", 2, "unknown algorithm"},
        {"key k {\n algorithm %s;\n secret \"%s\";\n};\n", 2, "unknown algorithm"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%s!!\";\n};\n", 3, "not valid base64"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%s\";\n secret \"%s\";\n};\n", 4,
         "secret given twice"},
        {"key k {\n algorithm hmac-sha256;\n};\n", 1, "has no secret"},
        {"key k {\n secret \"%s\";\n};\n", 1, "has no algorithm"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%s\";\n};\nkey j { };\n", 5, "a second key"},
        {"key k {\n algorithm hmac-sha256;\n %s;\n};\n", 3, "unknown statement"},
        {"key k {\n algorithm hmac-sha256;\n \"%s\";\n};\n", 3, "expected algorithm or secret"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%s;\n};\n", 3, "not closed"},
        {"key k {\n /* algorithm hmac-sha256;\n secret \"%s\";\n};\n", 2, "never closed"},
        {"options { secret \"%s\"; };\n", 1, "expected a key statement"},
        {"\n\nkey \"bad name\" {\n secret \"%s\";\n};\n", 3, "key name has a character"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%s\";\n}\n", 5, "expected ';' after the key"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%s\";\n", 1, "not closed with"},
        {"", 1, "no key in the file"},
        {"key k {\n algorithm hmac-sha256;\n secret \"%.13s\";\n};\n", 3, "not a multiple of 4"},
        {"key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: %s@\n", 4, "not valid base64"},
        {"key:\n  - id: k\n    algoritm: hmac-sha256\n    secret: %s\n", 3, "unknown key field"},
        {"key:\n  - id: k\n    secret: %s\n", 2, "has no algorithm"},
        {"key:\n  - id: k\n    %s\n", 3, "expected 'id:'"},
        {"key:\n  - id: k\nremote:\n  secret: %s\n", 3, "expected the 'key:' section"},
};

static void test_errors_have_lines_and_no_secret(void **state)
{
	(void)state;
	for (size_t i = 0; i < TW_ARRAY_LEN(bad); i++) {
		char f[1024];
		tw_dns_tsig_t k;
		tw_diags_t d = {0};
		snprintf(f, sizeof(f), bad[i].text, SECRET, SECRET);
		int rc = parse(f, &k, &d);
		if (rc != TW_EINVAL || !has_diag(&d, bad[i].line, bad[i].needle)) {
			dump(&d);
			fail_msg("case %zu: rc %d, wanted line %d \"%s\"", i, rc, bad[i].line,
			         bad[i].needle);
		}
		for (size_t j = 0; j < d.n; j++)
			assert_string_equal(d.v[j].file, "key.conf");
		assert_no_secret(&d, SECRET);
		/* A refused key leaves nothing behind. */
		assert_null(strstr(k.secret, "Zm9v"));
		tw_diags_release(&d);
	}
}

static void test_nul_byte(void **state)
{
	(void)state;
	const char f[] = "key k { algorithm hmac-sha256; secret \"" SECRET "\"; };\0garbage";
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_int_equal(tw_dns_tsig_parse("x", f, sizeof(f) - 1, &k, &d), TW_EINVAL);
	assert_true(has_diag(&d, -1, "NUL byte"));
	tw_diags_release(&d);
}

/* ---- files: mode and loading -------------------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load_modes(void **state)
{
	(void)state;
	char dir[] = "/tmp/tw-tsig-XXXXXX", path[128];
	const char *f = "key \"tw-key\" { algorithm hmac-sha256; secret \"" SECRET "\"; };\n";
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tsig.key", dir);

	write_file(path, f, 0600);
	assert_int_equal(tw_dns_tsig_load(path, &k, &d), 0);
	assert_string_equal(k.name, "tw-key");
	assert_string_equal(k.secret, SECRET);
	assert_int_equal(d.n, 0);

	write_file(path, f, 0400);
	assert_int_equal(tw_dns_tsig_load(path, &k, &d), 0);

	static const mode_t refused[] = {0644, 0640, 0604, 0620, 0602, 0660};
	for (size_t i = 0; i < TW_ARRAY_LEN(refused); i++) {
		char want[16];
		write_file(path, f, refused[i]);
		assert_int_equal(tw_dns_tsig_load(path, &k, &d), TW_EINVAL);
		assert_int_equal(d.n, 1);
		snprintf(want, sizeof(want), "mode %04o", (unsigned)refused[i]);
		assert_non_null(strstr(d.v[0].msg, want));
		assert_non_null(strstr(d.v[0].msg, "chmod 600"));
		assert_string_equal(d.v[0].file, path);
		assert_no_secret(&d, SECRET);
		assert_int_equal(k.secret[0], '\0');
		tw_diags_release(&d);
	}

	/* A broken file: the diag names the file and line. */
	write_file(path, "key k {\n algorithm hmac-sha256;\n secret \"" SECRET "\"\n};\n", 0600);
	assert_int_equal(tw_dns_tsig_load(path, &k, &d), TW_EINVAL);
	assert_true(has_diag(&d, 4, "expected ';'"));
	assert_string_equal(d.v[0].file, path);
	assert_no_secret(&d, SECRET);
	tw_diags_release(&d);

	unlink(path);
	assert_true(tw_dns_tsig_load(path, &k, &d) < 0);
	assert_true(has_diag(&d, -1, "cannot open"));
	tw_diags_release(&d);
	rmdir(dir);
}

/* ---- --tsig NAME:ALG:SECRET ----------------------------------------------------- */

static void test_opt(void **state)
{
	(void)state;
	tw_dns_tsig_t k;
	tw_diags_t d = {0};

	assert_int_equal(tw_dns_tsig_parse_opt("tw-key:hmac-sha256:" SECRET, &k, &d), 0);
	assert_string_equal(k.name, "tw-key");
	assert_string_equal(k.alg, "hmac-sha256");
	assert_string_equal(k.secret, SECRET);

	/* nsupdate -y / kdig -y order. */
	assert_int_equal(tw_dns_tsig_parse_opt("hmac-sha512:k.example.:" SECRET, &k, &d), 0);
	assert_string_equal(k.name, "k.example.");
	assert_string_equal(k.alg, "hmac-sha512");

	/* NAME:SECRET defaults to hmac-sha256, like kdig -y. */
	assert_int_equal(tw_dns_tsig_parse_opt("k2:" SECRET, &k, &d), 0);
	assert_string_equal(k.name, "k2");
	assert_string_equal(k.alg, "hmac-sha256");
	assert_int_equal(d.n, 0);

	static const char *const bad_opts[] = {
	        "only-a-name",
	        "k:hmac-sha999:" SECRET,
	        "k:hmac-sha256:" SECRET "x",
	        "k:hmac-sha256:" SECRET ":more",
	        "bad name:hmac-sha256:" SECRET,
	        "k:hmac-sha256:",
	        ":hmac-sha256:" SECRET,
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(bad_opts); i++) {
		int rc = tw_dns_tsig_parse_opt(bad_opts[i], &k, &d);
		if (rc != TW_EINVAL || d.n != 1) {
			dump(&d);
			fail_msg("opt case %zu: rc %d, %zu diags", i, rc, d.n);
		}
		assert_string_equal(d.v[0].field, "--tsig");
		assert_no_secret(&d, SECRET);
		tw_diags_release(&d);
	}

	assert_int_equal(tw_dns_tsig_parse_opt("k:hmac-md5:" SECRET, &k, &d), 0);
	assert_true(has_diag(&d, -1, "warning: hmac-md5"));
	tw_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_bind_tsig_keygen),
	        cmocka_unit_test(test_bind_comments_and_layout),
	        cmocka_unit_test(test_every_algorithm),
	        cmocka_unit_test(test_md5_accepted_with_warning),
	        cmocka_unit_test(test_knot_keymgr_yaml),
	        cmocka_unit_test(test_errors_have_lines_and_no_secret),
	        cmocka_unit_test(test_nul_byte),
	        cmocka_unit_test(test_load_modes),
	        cmocka_unit_test(test_opt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
