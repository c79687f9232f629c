#include "util/tw.h"

#include "edge/reply_diag.h"

#include <errno.h>
#include <setjmp.h>

#include <cmocka.h>

#define EOF_ (-1)
#define RST  ECONNRESET

#define IMAP_GREET                                                                                 \
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "     \
	"AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
#define SIEVE_GREET                                                                                \
	"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto reject envelope\"\r\n"  \
	"\"NOTIFY\" \"mailto\"\r\n\"SASL\" \"PLAIN\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\n"   \
	"OK \"Dovecot (Debian) ready.\"\r\n"

struct dcase {
	const char *name;
	tw_reply_proto_t proto;
	int version;
	const char *bytes;
	size_t len; /* 0: strlen(bytes) */
	int close_errno;
	/* {NULL}: tw_reply_diag must return NULL; else substrings, all
	 * required, or with a leading '!' forbidden. */
	const char *want[5];
};

#define POSTFIX                                                                                    \
	"smtpd_upstream_proxy_protocol = haproxy (smtpd) or postscreen_upstream_proxy_protocol = " \
	"haproxy (postscreen) in Postfix main.cf, or trusted proxy networks in Stalwart"
#define DOVECOT  "haproxy = yes on the inet_listener"
#define DOVECOT2 "haproxy_trusted_networks"
#define NOT_EXP  "backend does not expect a PROXY header"

static const struct dcase cases[] = {
        /* --- SMTP: Postfix smtpd reads the v1 line as a command --- */
        {"postfix greeting then 500",
         TW_REPLY_SMTP,
         1,
         "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n"
         "500 5.5.2 Error: command not recognized\r\n",
         0,
         0,
         {NOT_EXP " (it answered \"500 5.5.2 Error: command not recognized\"): set " POSTFIX,
          "!3.5"}},
        {"postfix error line only",
         TW_REPLY_SMTP,
         1,
         "500 5.5.2 Error: command not recognized\r\n",
         0,
         0,
         {NOT_EXP, POSTFIX}},
        {"postfix 502",
         TW_REPLY_SMTP,
         1,
         "502 5.5.2 Error: command not recognized\r\n",
         0,
         0,
         {NOT_EXP, "\"502 5.5.2"}},
        {"error line cut short",
         TW_REPLY_SMTP,
         1,
         "220 mx ESMTP\r\n500 5.5.2 Err",
         0,
         0,
         {"it answered \"500 5.5.2 Err\""}},
        /* v2: blank lines are bad syntax, and the signature's "QUIT\n" says bye. */
        {"postfix v2",
         TW_REPLY_SMTP,
         2,
         "220 mx ESMTP Postfix\r\n500 5.5.2 Error: bad syntax\r\n500 5.5.2 Error: bad syntax\r\n"
         "221 2.0.0 Bye\r\n",
         0,
         EOF_,
         {NOT_EXP, "\"500 5.5.2 Error: bad syntax\"", POSTFIX,
          "(Postfix before 3.5 reads PROXY v1 only)"}},
        {"221 after greeting",
         TW_REPLY_SMTP,
         2,
         "220 mx ESMTP\r\n221 2.0.0 Bye\r\n",
         0,
         EOF_,
         {"\"221 2.0.0 Bye\""}},
        {"postscreen drop in greeting",
         TW_REPLY_SMTP,
         1,
         "220-mx.example.com ESMTP Postfix\r\n521 5.5.1 Protocol error\r\n",
         0,
         EOF_,
         {"\"521 5.5.1 Protocol error\"", POSTFIX}},
        {"postscreen drop only",
         TW_REPLY_SMTP,
         1,
         "521 5.5.1 Protocol error\r\n",
         0,
         EOF_,
         {NOT_EXP}},
        {"postscreen enforce",
         TW_REPLY_SMTP,
         1,
         "220-mx.example.com ESMTP Postfix\r\n220 mx.example.com ESMTP Postfix\r\n"
         "550 5.5.1 Protocol error\r\n",
         0,
         0,
         {"\"550 5.5.1 Protocol error\""}},
        {"stalwart unknown command",
         TW_REPLY_SMTP,
         1,
         "220 mx.example.com Stalwart ESMTP at your service\r\n500 5.5.1 Invalid command.\r\n",
         0,
         0,
         {NOT_EXP, "Stalwart"}},
        {"greeting only",
         TW_REPLY_SMTP,
         1,
         "220 mx.example.com ESMTP Postfix (Debian/GNU)\r\n",
         0,
         0,
         {NULL}},
        {"multi-line greeting",
         TW_REPLY_SMTP,
         2,
         "220-mx.example.com ESMTP\r\n220 ready\r\n",
         0,
         0,
         {NULL}},
        {"postscreen greeting start",
         TW_REPLY_SMTP,
         1,
         "220-mx.example.com ESMTP Postfix\r\n",
         0,
         0,
         {NULL}},
        {"bare 220", TW_REPLY_SMTP, 1, "220\r\n", 0, 0, {NULL}},
        {"partial greeting", TW_REPLY_SMTP, 1, "22", 0, 0, {NULL}},
        {"refused 421", TW_REPLY_SMTP, 1, "421 4.3.2 Service not available\r\n", 0, EOF_, {NULL}},
        {"refused 554",
         TW_REPLY_SMTP,
         1,
         "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied\r\n",
         0,
         EOF_,
         {NULL}},
        {"not smtp", TW_REPLY_SMTP, 1, "\x00\x01\x02garbage\r\n", 10, 0, {NULL}},
        {"greeting then eof",
         TW_REPLY_SMTP,
         1,
         "220 mx ESMTP\r\n",
         0,
         EOF_,
         {"backend closed the connection after its greeting \"220 mx ESMTP\", right after the "
          "PROXY "
          "header",
          "Postfix:", "Dovecot:", "Stalwart:"}},
        {"greeting start then reset",
         TW_REPLY_SMTP,
         2,
         "220-mx ESMTP\r\n",
         0,
         RST,
         {"backend reset the connection after its greeting", "PROXY v1 only"}},
        {"nothing then eof",
         TW_REPLY_SMTP,
         1,
         "",
         0,
         EOF_,
         {"backend closed the connection right after the PROXY header: it may not accept PROXY "
          "protocol",
          "Postfix: smtpd_upstream_proxy_protocol = haproxy", "Dovecot: haproxy = yes",
          "Stalwart: server.proxy.trusted-networks"}},
        {"nothing then reset",
         TW_REPLY_SMTP,
         1,
         "",
         0,
         RST,
         {"backend reset the connection right after"}},
        {"nothing then other errno",
         TW_REPLY_SMTP,
         1,
         "",
         0,
         ETIMEDOUT,
         {"backend dropped the connection right after"}},
        {"nothing yet", TW_REPLY_SMTP, 1, "", 0, 0, {NULL}},
        {"control bytes escaped",
         TW_REPLY_SMTP,
         1,
         "220 mx\r\n500 \x1b[31mred\"q\\\r\n",
         0,
         0,
         {"\"500 \\x1b[31mred\\x22q\\x5c\""}},

        /* --- IMAP: Dovecot --- */
        {"dovecot greeting", TW_REPLY_IMAP, 1, IMAP_GREET, 0, 0, {NULL}},
        {"preauth", TW_REPLY_IMAP, 1, "* PREAUTH ready\r\n", 0, 0, {NULL}},
        {"lower case ok", TW_REPLY_IMAP, 1, "* ok ready\r\n", 0, 0, {NULL}},
        {"dovecot BAD",
         TW_REPLY_IMAP,
         1,
         IMAP_GREET
         "PROXY BAD Error in IMAP command TCP4: Unknown command (0.001 + 0.000 secs).\r\n",
         0,
         0,
         {NOT_EXP, "\"PROXY BAD Error in IMAP command TCP4", DOVECOT, DOVECOT2, "!" POSTFIX}},
        {"untagged BAD",
         TW_REPLY_IMAP,
         2,
         IMAP_GREET "* BAD Error in IMAP command received.\r\n",
         0,
         0,
         {NOT_EXP, DOVECOT, "!3.5"}},
        {"BAD only",
         TW_REPLY_IMAP,
         1,
         "PROXY BAD Error in IMAP command TCP4: Unknown command.\r\n",
         0,
         0,
         {NOT_EXP}},
        {"BYE too many invalid",
         TW_REPLY_IMAP,
         2,
         IMAP_GREET "* BYE Too many invalid IMAP commands.\r\n",
         0,
         EOF_,
         {"\"* BYE Too many invalid"}},
        {"BYE proxy",
         TW_REPLY_IMAP,
         1,
         "* BYE PROXY header from an untrusted host\r\n",
         0,
         EOF_,
         {NOT_EXP, DOVECOT2}},
        {"BYE trusted", TW_REPLY_IMAP, 1, "* BYE Client is not trusted\r\n", 0, EOF_, {NOT_EXP}},
        {"BYE refusal", TW_REPLY_IMAP, 1, "* BYE Too many connections\r\n", 0, EOF_, {NULL}},
        {"greeting then reset",
         TW_REPLY_IMAP,
         1,
         IMAP_GREET,
         0,
         RST,
         {"backend reset the connection after its greeting \"* OK [CAPABILITY",
          "haproxy_trusted_networks"}},
        {"imap nothing then eof",
         TW_REPLY_IMAP,
         1,
         "",
         0,
         EOF_,
         {"closed the connection right after"}},
        {"cut greeting", TW_REPLY_IMAP, 1, "* O", 0, 0, {NULL}},

        /* --- POP3 --- */
        {"pop3 greeting", TW_REPLY_POP3, 1, "+OK Dovecot (Debian) ready.\r\n", 0, 0, {NULL}},
        {"pop3 ERR",
         TW_REPLY_POP3,
         1,
         "+OK Dovecot ready.\r\n-ERR Unknown command: PROXY\r\n",
         0,
         0,
         {NOT_EXP, "\"-ERR Unknown command: PROXY\"", DOVECOT}},
        {"pop3 ERR only", TW_REPLY_POP3, 1, "-ERR Unknown command.\r\n", 0, 0, {NOT_EXP}},
        {"pop3 refusal",
         TW_REPLY_POP3,
         1,
         "-ERR [SYS/TEMP] Max connections reached\r\n",
         0,
         EOF_,
         {NULL}},
        {"pop3 greeting then eof",
         TW_REPLY_POP3,
         1,
         "+OK ready\r\n",
         0,
         EOF_,
         {"closed the connection after its greeting \"+OK ready\""}},

        /* --- ManageSieve --- */
        {"sieve greeting", TW_REPLY_SIEVE, 1, SIEVE_GREET, 0, 0, {NULL}},
        {"sieve capabilities so far",
         TW_REPLY_SIEVE,
         1,
         "\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n",
         0,
         0,
         {NULL}},
        {"sieve NO",
         TW_REPLY_SIEVE,
         1,
         SIEVE_GREET "NO \"Error in MANAGESIEVE command received by server.\"\r\n",
         0,
         0,
         {NOT_EXP, "\"NO \\x22Error in MANAGESIEVE", DOVECOT}},
        {"sieve BYE",
         TW_REPLY_SIEVE,
         2,
         SIEVE_GREET "BYE \"Too many invalid MANAGESIEVE commands.\"\r\n",
         0,
         EOF_,
         {NOT_EXP}},
        {"sieve NO only", TW_REPLY_SIEVE, 1, "NO \"Unknown command.\"\r\n", 0, 0, {NOT_EXP}},
        {"sieve BYE refusal",
         TW_REPLY_SIEVE,
         1,
         "BYE \"Server shutting down.\"\r\n",
         0,
         EOF_,
         {NULL}},
        {"sieve greeting then eof",
         TW_REPLY_SIEVE,
         1,
         SIEVE_GREET,
         0,
         EOF_,
         {"after its greeting \"\\x22IMPLEMENTATION\\x22"}},

        /* --- TLS and others: the backend waits for the client --- */
        {"tls alert",
         TW_REPLY_OTHER,
         2,
         "\x15\x03\x01\x00\x02\x02\x32",
         7,
         EOF_,
         {NOT_EXP " (it answered \"TLS alert\")", "Stalwart: server.proxy.trusted-networks"}},
        {"http 400",
         TW_REPLY_OTHER,
         1,
         "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
         0,
         EOF_,
         {"\"HTTP/1.1 400 Bad Request\""}},
        {"http 200", TW_REPLY_OTHER, 1, "HTTP/1.1 200 OK\r\n", 0, 0, {NULL}},
        {"tls server hello", TW_REPLY_OTHER, 1, "\x16\x03\x03\x00\x10", 5, 0, {NULL}},
        {"other eof",
         TW_REPLY_OTHER,
         2,
         "",
         0,
         EOF_,
         {"closed the connection right after", "!3.5"}},
};

static void test_cases(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(cases); i++) {
		const struct dcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->bytes);
		uint8_t *copy = malloc(len ? len : 1); /* ASan: exact bounds */
		char buf[1024];
		const char *r;

		assert_non_null(copy);
		memcpy(copy, c->bytes, len);
		memset(buf, 'X', sizeof(buf));
		r = tw_reply_diag(c->proto, c->version, copy, len, c->close_errno, buf,
		                  sizeof(buf));
		free(copy);
		if (!c->want[0]) {
			if (r)
				fail_msg("%s: want NULL, got \"%s\"", c->name, r);
			continue;
		}
		if (!r)
			fail_msg("%s: got NULL", c->name);
		assert_ptr_equal(r, buf);
		for (size_t k = 0; k < TW_ARRAY_LEN(c->want) && c->want[k]; k++) {
			const char *w = c->want[k];

			if (w[0] == '!' && strstr(r, w + 1))
				fail_msg("%s: \"%s\" has \"%s\"", c->name, r, w + 1);
			if (w[0] != '!' && !strstr(r, w))
				fail_msg("%s: \"%s\" lacks \"%s\"", c->name, r, w);
		}
		/* One line, printable, no full stop at the end. */
		for (const char *p = r; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				fail_msg("%s: control byte 0x%02x in \"%s\"", c->name, *p, r);
		assert_true(r[strlen(r) - 1] != '.');
	}
}

/* A small buffer gets a truncated, terminated line. */
static void test_truncation(void **state)
{
	static const char reply[] = "220 mx\r\n500 5.5.2 Error: command not recognized\r\n";
	char buf[16];
	const char *r;

	TW_UNUSED(state);
	r = tw_reply_diag(TW_REPLY_SMTP, 1, (const uint8_t *)reply, sizeof(reply) - 1, 0, buf,
	                  sizeof(buf));
	assert_ptr_equal(r, buf);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_string_equal(buf, "backend does no");

	r = tw_reply_diag(TW_REPLY_SMTP, 1, NULL, 0, EOF_, buf, 1);
	assert_ptr_equal(r, buf);
	assert_string_equal(buf, "");
}

/* A very long reply line is quoted cut short, and the fix still shows. */
static void test_long_line(void **state)
{
	uint8_t reply[4096];
	char buf[1024];
	const char *r;

	TW_UNUSED(state);
	memcpy(reply, "220 mx\r\n500 ", 12);
	memset(reply + 12, 'z', sizeof(reply) - 12);
	r = tw_reply_diag(TW_REPLY_SMTP, 1, reply, sizeof(reply), 0, buf, sizeof(buf));
	assert_non_null(r);
	assert_non_null(strstr(r, "zzz...\"): set smtpd_upstream_proxy_protocol"));
	assert_true(strlen(r) < 600);
}

/* Same inputs, same answer: nothing is remembered between calls. */
static void test_pure(void **state)
{
	static const char a[] = "220 mx\r\n500 5.5.2 Error: command not recognized\r\n";
	static const char b[] = "220 mx ESMTP\r\n";
	char b1[512], b2[512], b3[512];

	TW_UNUSED(state);
	assert_non_null(tw_reply_diag(TW_REPLY_SMTP, 1, (const uint8_t *)a, sizeof(a) - 1, 0, b1,
	                              sizeof(b1)));
	assert_null(tw_reply_diag(TW_REPLY_SMTP, 1, (const uint8_t *)b, sizeof(b) - 1, 0, b3,
	                          sizeof(b3)));
	assert_non_null(tw_reply_diag(TW_REPLY_SMTP, 1, (const uint8_t *)a, sizeof(a) - 1, 0, b2,
	                              sizeof(b2)));
	assert_string_equal(b1, b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),
	        cmocka_unit_test(test_truncation),
	        cmocka_unit_test(test_long_line),
	        cmocka_unit_test(test_pure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
