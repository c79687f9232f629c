/*
 * dns_creds_test.c - the Spaceship credentials loader: NAME=VALUE parsing,
 * every error with its line, the file-mode refusal and the environment
 * fallback; no value ever in a diag.
 */
#include "util/tw.h"

#include "dns/provider.h"

#include <fcntl.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SECRET_V "s3cr3t-VALUE-xyz"

static int parse(const char *text, char **k, char **s, tw_diags_t *d)
{
	return tw_dns_creds_parse("creds.env", text, strlen(text), k, s, d);
}

static void assert_no_value(const tw_diags_t *d)
{
	char buf[1024];
	for (size_t i = 0; i < d->n; i++) {
		tw_diag_format(&d->v[i], buf, sizeof(buf));
		assert_null(strstr(buf, SECRET_V));
		assert_null(strstr(buf, "keyval"));
	}
}

static void test_parse_ok(void **state)
{
	(void)state;
	const struct {
		const char *text, *key, *secret;
	} cases[] = {
	        {"SPACESHIP_API_KEY=abc\nSPACESHIP_API_SECRET=def\n", "abc", "def"},
	        {"# comment\n\n  export SPACESHIP_API_KEY=\"q k\\\"x\"\r\n"
	         "SPACESHIP_API_SECRET='lit\\eral' # trailing\n",
	         NULL, NULL}, /* space in value: refused below */
	        {"export SPACESHIP_KEY=short1\nSPACESHIP_SECRET = short2 # c\n", "short1",
	         "short2"},
	        /* the API_ names win, whatever the order */
	        {"SPACESHIP_API_KEY=long1\nSPACESHIP_KEY=short1\nSPACESHIP_SECRET=short2\n"
	         "SPACESHIP_API_SECRET=long2",
	         "long1", "long2"},
	        {"SPACESHIP_API_KEY=\"a#b\"\nSPACESHIP_API_SECRET=c#d\n", "a#b", "c#d"},
	        {"SPACESHIP_API_KEY=one\nSPACESHIP_API_KEY=two\nSPACESHIP_API_SECRET='x\"y'\n",
	         "two", "x\"y"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		char *k = NULL, *s = NULL;
		tw_diags_t d = {0};
		int rc = parse(cases[i].text, &k, &s, &d);
		if (!cases[i].key) {
			assert_int_not_equal(rc, 0);
			assert_null(k);
			assert_null(s);
			tw_diags_release(&d);
			continue;
		}
		if (rc)
			fail_msg("case %zu: %s", i, d.n ? d.v[0].msg : "?");
		assert_string_equal(k, cases[i].key);
		assert_string_equal(s, cases[i].secret);
		free(k);
		free(s);
		tw_diags_release(&d);
	}
}

static void test_parse_errors(void **state)
{
	(void)state;
	const struct {
		const char *text;
		int line;
		const char *field, *want;
	} cases[] = {
	        {"SPACESHIP_API_KEY=keyval\n\nSPACESHIP_API_SECRET=" SECRET_V "\nFOO=bar\n", 4,
	         "FOO", "unknown name"},
	        {"SPACESHIP_API_KEY=keyval\n" SECRET_V "\n", 2, "", "expected NAME=VALUE"},
	        {"SPACESHIP_API_KEY=keyval\nSPACESHIP_API_SECRET=\"" SECRET_V "\n", 2,
	         "SPACESHIP_API_SECRET", "no closing quote"},
	        {"SPACESHIP_API_KEY=keyval\nSPACESHIP_API_SECRET=\"" SECRET_V "\" junk\n", 2,
	         "SPACESHIP_API_SECRET", "after the closing quote"},
	        {"SPACESHIP_API_KEY=\nSPACESHIP_API_SECRET=" SECRET_V "\n", 1, "SPACESHIP_API_KEY",
	         "empty"},
	        {"# only a secret\nSPACESHIP_API_SECRET=" SECRET_V "\n", 0, "", "no API key"},
	        {"SPACESHIP_API_KEY=keyval\n", 0, "", "no API secret"},
	        {"SPACESHIP_API_KEY=key\x01val\nSPACESHIP_API_SECRET=x\n", 1, "SPACESHIP_API_KEY",
	         "control character"},
	        {"SPACESHIP_API_KEY=keyval\n=" SECRET_V "\n", 2, "", "expected NAME=VALUE"},
	        {"SPACESHIP_API_KEY=keyval\n9X=" SECRET_V "\n", 2, "", "expected NAME=VALUE"},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		char *k = (char *)1, *s = (char *)1;
		tw_diags_t d = {0};
		assert_int_equal(parse(cases[i].text, &k, &s, &d), TW_EINVAL);
		assert_null(k);
		assert_null(s);
		assert_true(d.n >= 1);
		bool found = false;
		for (size_t j = 0; j < d.n; j++)
			found |= d.v[j].line == cases[i].line &&
			         !strcmp(d.v[j].field, cases[i].field) &&
			         strstr(d.v[j].msg, cases[i].want) &&
			         !strcmp(d.v[j].file, "creds.env");
		if (!found)
			fail_msg("case %zu: got %s:%d: %s: %s", i, d.v[0].file, d.v[0].line,
			         d.v[0].field, d.v[0].msg);
		assert_no_value(&d);
		tw_diags_release(&d);
	}
	/* a NUL byte in the buffer is a control character, not the end */
	const char nul[] = "SPACESHIP_API_KEY=ab\0cd\nSPACESHIP_API_SECRET=x\n";
	char *k, *s;
	tw_diags_t d = {0};
	assert_int_equal(tw_dns_creds_parse("n", nul, sizeof(nul) - 1, &k, &s, &d), TW_EINVAL);
	assert_int_equal(d.v[0].line, 1);
	tw_diags_release(&d);
}

static char tmpdir[64];

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_load_file_and_mode(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tw-creds-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	const char *text = "SPACESHIP_API_KEY=keyval\nSPACESHIP_API_SECRET=" SECRET_V "\n";
	char *k, *s;
	tw_diags_t d = {0};

	const char *p = write_file("ok.env", text, 0600);
	assert_int_equal(tw_dns_creds_load(p, &k, &s, &d), 0);
	assert_string_equal(k, "keyval");
	assert_string_equal(s, SECRET_V);
	free(k);
	free(s);
	p = write_file("ro.env", text, 0400);
	assert_int_equal(tw_dns_creds_load(p, &k, &s, &d), 0);
	free(k);
	free(s);
	assert_int_equal(d.n, 0);

	const mode_t bad[] = {0640, 0604, 0620, 0602, 0644, 0666};
	for (size_t i = 0; i < TW_ARRAY_LEN(bad); i++) {
		char want[64];
		p = write_file("bad.env", text, bad[i]);
		assert_int_equal(tw_dns_creds_load(p, &k, &s, &d), TW_EINVAL);
		assert_int_equal(d.n, 1);
		snprintf(want, sizeof(want), "mode %04o", (unsigned)bad[i]);
		assert_non_null(strstr(d.v[0].msg, want));
		assert_non_null(strstr(d.v[0].msg, "chmod 600 "));
		assert_non_null(strstr(d.v[0].msg, p));
		assert_string_equal(d.v[0].file, p);
		assert_no_value(&d);
		tw_diags_release(&d);
	}
	/* an error inside the file carries the path and line */
	p = write_file("typo.env", "SPACESHIP_API_KEY=keyval\nSPACESHIP_APISECRET=x\n", 0600);
	assert_int_equal(tw_dns_creds_load(p, &k, &s, &d), TW_EINVAL);
	assert_string_equal(d.v[0].file, p);
	assert_int_equal(d.v[0].line, 2);
	assert_string_equal(d.v[0].field, "SPACESHIP_APISECRET");
	tw_diags_release(&d);

	char missing[128];
	snprintf(missing, sizeof(missing), "%s/none.env", tmpdir);
	assert_int_equal(tw_dns_creds_load(missing, &k, &s, &d), TW_EINVAL);
	assert_non_null(strstr(d.v[0].msg, "cannot open"));
	tw_diags_release(&d);
	assert_int_equal(tw_dns_creds_load(tmpdir, &k, &s, &d), TW_EINVAL);
	tw_diags_release(&d);

	const char *names[] = {"ok.env", "ro.env", "bad.env", "typo.env"};
	for (size_t i = 0; i < TW_ARRAY_LEN(names); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

static void test_env(void **state)
{
	(void)state;
	char *k, *s;
	tw_diags_t d = {0};
	unsetenv("SPACESHIP_API_KEY");
	unsetenv("SPACESHIP_API_SECRET");
	unsetenv("SPACESHIP_KEY");
	unsetenv("SPACESHIP_SECRET");

	assert_int_equal(tw_dns_creds_load(NULL, &k, &s, &d), TW_EINVAL);
	assert_int_equal(d.n, 2);
	assert_non_null(strstr(d.v[0].msg, "SPACESHIP_API_KEY"));
	assert_non_null(strstr(d.v[1].msg, "SPACESHIP_API_SECRET"));
	tw_diags_release(&d);

	setenv("SPACESHIP_KEY", "shortk", 1);
	setenv("SPACESHIP_SECRET", "shorts", 1);
	assert_int_equal(tw_dns_creds_load(NULL, &k, &s, &d), 0);
	assert_string_equal(k, "shortk");
	assert_string_equal(s, "shorts");
	free(k);
	free(s);

	setenv("SPACESHIP_API_KEY", "longk", 1);
	assert_int_equal(tw_dns_creds_load(NULL, &k, &s, &d), 0);
	assert_string_equal(k, "longk"); /* API_ wins */
	assert_string_equal(s, "shorts");
	free(k);
	free(s);

	unsetenv("SPACESHIP_SECRET");
	assert_int_equal(tw_dns_creds_load(NULL, &k, &s, &d), TW_EINVAL);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].msg, "no API secret"));
	assert_null(strstr(d.v[0].msg, "longk"));
	tw_diags_release(&d);
	unsetenv("SPACESHIP_API_KEY");
	unsetenv("SPACESHIP_KEY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_ok),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_load_file_and_mode),
	        cmocka_unit_test(test_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
