/*
 * Tests for edge/health.h: the greeting judges as tables, rise/fall, and
 * whole checks on a real loop against loopback servers that run scripts in
 * threads (blocking sockets, poll() timeouts), so a test can prove what the
 * server saw and when: no byte before the final greeting line, the PROXY
 * header before the greeting, exactly "QUIT\r\n", a FIN and not a RST.
 */
#include "util/tw.h"

#include "edge/health.h"
#include "edge/proxy_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cmocka.h>

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

/* ---- greeting judges ---- */

struct gcase {
	tw_hc_type_t type;
	const char *in;
	tw_greet_t want;
	const char *why; /* exact text on FAIL */
	size_t at;       /* verdict decided at this length; 0: at the end */
};

#define OK   TW_GREET_OK
#define FAIL TW_GREET_FAIL
#define MORE TW_GREET_MORE

#define SIEVE_CAPS                                                                                 \
	"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto reject\"\r\n"           \
	"\"NOTIFY\" \"mailto\"\r\n\"SASL\" \"PLAIN\"\r\n\"STARTTLS\"\r\n\"VERSION\" \"1.0\"\r\n"

static const struct gcase greetings[] = {
        /* smtp, RFC 5321 4.2 */
        {TW_HC_SMTP, "220 mail.example.com ESMTP Postfix\r\n", OK, "", 0},
        {TW_HC_SMTP, "220\r\n", OK, "", 0},
        {TW_HC_SMTP, "220 bare lf\n", OK, "", 0},
        {TW_HC_SMTP, "220-mail.example.com ESMTP\r\n220-second\r\n220 last\r\n", OK, "", 0},
        {TW_HC_SMTP, "220-postscreen\r\n220 mail.example.com ESMTP\r\n", OK, "", 0},
        {TW_HC_SMTP, "220 ok\r\nEXTRA 500 bytes after\r\n", OK, "", 8},
        {TW_HC_SMTP, "421 4.3.2 Service not available\r\n", FAIL,
         "smtp greeting 421 4.3.2 Service not available", 0},
        {TW_HC_SMTP, "554 5.7.1 go away\r\n", FAIL, "smtp greeting 554 5.7.1 go away", 0},
        {TW_HC_SMTP, "421-busy\r\n421 try later\r\n", FAIL, "smtp greeting 421-busy", 10},
        {TW_HC_SMTP, "220-hello\r\n421 4.7.0 bye\r\n", FAIL, "smtp greeting 421 4.7.0 bye", 0},
        {TW_HC_SMTP, "220-hello\r\n521 5.5.1 Protocol error\r\n", FAIL,
         "smtp greeting 521 5.5.1 Protocol error", 0},
        {TW_HC_SMTP, "HTTP/1.1 400 Bad Request\r\n", FAIL,
         "not an smtp reply: \"HTTP/1.1 400 Bad Request\"", 0},
        {TW_HC_SMTP, "22\r\n", FAIL, "not an smtp reply: \"22\"", 0},
        {TW_HC_SMTP, "220x\r\n", FAIL, "not an smtp reply: \"220x\"", 0},
        {TW_HC_SMTP, "\r\n", FAIL, "not an smtp reply: \"\"", 0},
        {TW_HC_SMTP, "120 x\r\n", FAIL, "not an smtp reply: \"120 x\"", 0},
        {TW_HC_SMTP, "2a0 x\r\n", FAIL, "not an smtp reply: \"2a0 x\"", 0},
        {TW_HC_SMTP, "260 x\r\n", FAIL, "not an smtp reply: \"260 x\"", 0},
        {TW_HC_SMTP, "220-a\r\n220x\r\n", FAIL, "not an smtp reply: \"220x\"", 0},
        {TW_HC_SMTP, "421 a\x01\"b\\\r\n", FAIL, "smtp greeting 421 a\\x01\"b\\", 0},
        {TW_HC_SMTP, "\x16\x03\x01\x02\x05hello\n", FAIL,
         "not an smtp reply: \"\\x16\\x03\\x01\\x02\\x05hello\"", 0},
        /* imap */
        {TW_HC_IMAP, "* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready.\r\n", OK, "", 0},
        {TW_HC_IMAP, "* OK\r\n", OK, "", 0},
        {TW_HC_IMAP, "* ok lower case\n", OK, "", 0},
        {TW_HC_IMAP, "* PREAUTH IMAP4rev1 logged in\r\n", OK, "", 0},
        {TW_HC_IMAP, "* BYE Too many connections\r\n", FAIL,
         "imap greeting * BYE Too many connections", 0},
        {TW_HC_IMAP, "* OKAY\r\n", FAIL, "not an imap greeting: \"* OKAY\"", 0},
        {TW_HC_IMAP, "+OK pop3\r\n", FAIL, "not an imap greeting: \"+OK pop3\"", 0},
        {TW_HC_IMAP, "a OK\r\n", FAIL, "not an imap greeting: \"a OK\"", 0},
        {TW_HC_IMAP, "*\r\n", FAIL, "not an imap greeting: \"*\"", 0},
        /* pop3: RFC 1939 status indicators are upper case */
        {TW_HC_POP3, "+OK Dovecot ready.\r\n", OK, "", 0},
        {TW_HC_POP3, "+OK\r\n", OK, "", 0},
        {TW_HC_POP3, "-ERR [SYS/TEMP] busy\r\n", FAIL, "pop3 greeting -ERR [SYS/TEMP] busy", 0},
        {TW_HC_POP3, "+ok\r\n", FAIL, "not a pop3 greeting: \"+ok\"", 0},
        {TW_HC_POP3, "+OKAY\r\n", FAIL, "not a pop3 greeting: \"+OKAY\"", 0},
        {TW_HC_POP3, "* OK imap\r\n", FAIL, "not a pop3 greeting: \"* OK imap\"", 0},
        /* managesieve, RFC 5804 1.7 */
        {TW_HC_SIEVE, SIEVE_CAPS "OK \"Dovecot ready.\"\r\n", OK, "", 0},
        {TW_HC_SIEVE, "OK\r\n", OK, "", 0},
        {TW_HC_SIEVE, "\"a\\\"b\" \"c\\\\\"\nok\n", OK, "", 0},
        {TW_HC_SIEVE, "\"IMPLEMENTATION\" \"x\"\r\nNO \"busy\"\r\n", FAIL,
         "sieve greeting NO \"busy\"", 0},
        {TW_HC_SIEVE, "BYE \"shutting down\"\r\n", FAIL, "sieve greeting BYE \"shutting down\"", 0},
        {TW_HC_SIEVE, "\"IMPL\" x\r\n", FAIL, "not a managesieve greeting: \"\\x22IMPL\\x22 x\"",
         0},
        {TW_HC_SIEVE, "\"open\r\n", FAIL, "not a managesieve greeting: \"\\x22open\"", 0},
        {TW_HC_SIEVE, "\"a\" \"b\" \"c\"\r\n", FAIL,
         "not a managesieve greeting: \"\\x22a\\x22 \\x22b\\x22 \\x22c\\x22\"", 0},
        {TW_HC_SIEVE, "\"a\"  \"b\"\r\n", FAIL,
         "not a managesieve greeting: \"\\x22a\\x22  \\x22b\\x22\"", 0},
        {TW_HC_SIEVE, "\"a\\x\"\r\n", FAIL, "not a managesieve greeting: \"\\x22a\\x5cx\\x22\"", 0},
        {TW_HC_SIEVE, "OKAY\r\n", FAIL, "not a managesieve greeting: \"OKAY\"", 0},
        /* tcp and tls: nothing to judge */
        {TW_HC_TCP, "", OK, "", 0},
        {TW_HC_TCP, "anything\r\n", OK, "", 0},
        {TW_HC_TLS, "\x16\x03\x03", OK, "", 0},
};

/* The verdict is decided at `at` bytes: MORE before (any cut), the same
 * verdict and text at every length after. */
static void check_case(const struct gcase *c,
                       tw_greet_t (*fn)(tw_hc_type_t, const uint8_t *, size_t, char *, size_t))
{
	size_t len = strlen(c->in), at = c->at ? c->at : len;
	char why[256];

	for (size_t k = 0; k <= len; k++) {
		tw_greet_t v = fn(c->type, (const uint8_t *)c->in, k, why, sizeof(why));
		tw_greet_t want =
		        k < at && c->type != TW_HC_TCP && c->type != TW_HC_TLS ? MORE : c->want;

		if (v != want)
			fail_msg("%s %zu/%zu bytes of \"%s\": verdict %d, want %d (%s)",
			         tw_hc_type_name(c->type), k, len, c->in, v, want, why);
		if (v == FAIL)
			assert_string_equal(why, c->why);
		else
			assert_string_equal(why, "");
	}
}

static void test_greeting_table(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(greetings); i++)
		check_case(&greetings[i], tw_health_greeting);
}

static const struct gcase farewells[] = {
        {TW_HC_SMTP, "221 2.0.0 Bye\r\n", OK, "", 0},
        {TW_HC_SMTP, "221-a\r\n221 b\r\n", OK, "", 7},
        {TW_HC_SMTP, "250 ok\r\n", OK, "", 0},
        {TW_HC_SMTP, "500 5.5.2 Error: command not recognized\r\n221 2.0.0 Bye\r\n", FAIL,
         "smtp reply to QUIT 500 5.5.2 Error: command not recognized", 41},
        {TW_HC_SMTP, "Bye\r\n", FAIL, "not an smtp reply: \"Bye\"", 0},
        {TW_HC_IMAP, "* BYE Logging out\r\na OK Logout completed.\r\n", OK, "", 19},
        {TW_HC_IMAP, "a OK done\r\n", OK, "", 0},
        {TW_HC_IMAP, "* CAPABILITY IMAP4rev1\r\n* BYE\r\n", OK, "", 0},
        {TW_HC_IMAP, "PROXY BAD Error in IMAP command received by server.\r\n", FAIL,
         "imap reply to LOGOUT PROXY BAD Error in IMAP command received by server.", 0},
        {TW_HC_IMAP, "* BAD Empty command\r\n", FAIL, "imap reply to LOGOUT * BAD Empty command",
         0},
        {TW_HC_IMAP, "a NO\r\n", FAIL, "imap reply to LOGOUT a NO", 0},
        {TW_HC_POP3, "+OK Logging out.\r\n", OK, "", 0},
        {TW_HC_POP3, "-ERR Unknown command: PROXY\r\n", FAIL,
         "pop3 reply to QUIT -ERR Unknown command: PROXY", 0},
        {TW_HC_SIEVE, "OK \"Logout completed.\"\r\n", OK, "", 0},
        {TW_HC_SIEVE, "NO \"Unknown command.\"\r\n", FAIL,
         "sieve reply to LOGOUT NO \"Unknown command.\"", 0},
        {TW_HC_TCP, "", OK, "", 0},
};

static void test_farewell_table(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(farewells); i++)
		check_case(&farewells[i], tw_health_farewell);
}

static void test_greeting_bounds(void **state)
{
	uint8_t *b = malloc(6000);
	char why[128];
	size_t n = 0;

	TW_UNUSED(state);
	assert_non_null(b);
	/* Continuation lines up to 4096 bytes: still MORE; one byte more: FAIL. */
	while (n + 16 <= 4096) {
		memcpy(b + n, "220-xxxxxxxxxx\r\n", 16);
		n += 16;
	}
	memset(b + n, 'y', 6000 - n);
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 4096, why, sizeof(why)), MORE);
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 4097, why, sizeof(why)), FAIL);
	assert_string_equal(why, "smtp greeting not complete within 4096 bytes");
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 6000, why, sizeof(why)), FAIL);

	/* A final line ending exactly at byte 4096 counts. */
	memcpy(b + 4096 - 16, "220 xxxxxxxxxx\r\n", 16);
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 6000, why, sizeof(why)), OK);
	/* ...one byte later it does not. */
	memmove(b + 4096 - 15, b + 4096 - 16, 16);
	b[4096 - 16] = 'x';
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 4096, why, sizeof(why)), MORE);
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 4097, why, sizeof(why)), FAIL);

	/* One long line without LF, for every type that reads. */
	memset(b, 'a', 6000);
	for (int t = TW_HC_SMTP; t <= TW_HC_SIEVE; t++) {
		assert_int_equal(tw_health_greeting(t, b, 4096, why, sizeof(why)), MORE);
		assert_int_equal(tw_health_greeting(t, b, 4097, why, sizeof(why)), FAIL);
		assert_non_null(strstr(why, "not complete within 4096 bytes"));
		assert_int_equal(tw_health_farewell(t, b, 4097, why, sizeof(why)), FAIL);
		assert_non_null(strstr(why, "reply to the goodbye not complete"));
	}

	/* `why` is bounded, terminated, and may be NULL or tiny. */
	memset(b, 'z', 600);
	memcpy(b, "421 ", 4);
	b[600] = '\n';
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 601, why, sizeof(why)), FAIL);
	assert_true(strlen(why) < sizeof(why));
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 601, NULL, 0), FAIL);
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 601, why, 1), FAIL);
	assert_string_equal(why, "");
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 601, why, 9), FAIL);
	assert_string_equal(why, "smtp gre");
	/* A long line is quoted up to 120 bytes, then "...". */
	{
		char big[512];

		assert_int_equal(tw_health_greeting(TW_HC_SMTP, b, 601, big, sizeof(big)), FAIL);
		assert_int_equal(strlen(big), strlen("smtp greeting ") + 120 + 3);
		assert_string_equal(big + strlen(big) - 3, "...");
	}
	assert_int_equal(tw_health_greeting(TW_HC_SMTP, NULL, 0, why, sizeof(why)), MORE);
	free(b);
}

static void test_type_names(void **state)
{
	TW_UNUSED(state);
	for (int t = TW_HC_TCP; t <= TW_HC_TLS; t++)
		assert_int_equal(tw_hc_type_parse(tw_hc_type_name(t)), t);
	assert_int_equal(tw_hc_type_parse("SMTP"), TW_HC_SMTP);
	assert_int_equal(tw_hc_type_parse("http"), -1);
	assert_int_equal(tw_hc_type_parse(""), -1);
	assert_int_equal(tw_hc_type_parse(NULL), -1);
	assert_string_equal(tw_hc_type_name((tw_hc_type_t)42), "unknown");
	assert_string_equal(tw_health_goodbye(TW_HC_SMTP), "QUIT\r\n");
	assert_string_equal(tw_health_goodbye(TW_HC_IMAP), "a LOGOUT\r\n");
	assert_string_equal(tw_health_goodbye(TW_HC_POP3), "QUIT\r\n");
	assert_string_equal(tw_health_goodbye(TW_HC_SIEVE), "LOGOUT\r\n");
	assert_null(tw_health_goodbye(TW_HC_TCP));
	assert_null(tw_health_goodbye(TW_HC_TLS));
}

/* ---- rise / fall ---- */

struct hstep {
	bool ok;
	bool up, flipped;
	uint32_t ok_run, fail_run;
	const char *last_error;
};

static void run_hsteps(uint32_t rise, uint32_t fall, const struct hstep *s, size_t n)
{
	tw_hstate_t h;
	char why[32];

	memset(&h, 0, sizeof(h));
	assert_false(h.up);
	assert_false(h.checked);
	for (size_t i = 0; i < n; i++) {
		int64_t t = 1000 + (int64_t)i;
		int64_t before = h.changed_at;
		bool f;

		snprintf(why, sizeof(why), "e%zu", i);
		f = tw_hstate_update(&h, s[i].ok, why, rise, fall, t);
		if (f != s[i].flipped || h.up != s[i].up)
			fail_msg("rise %u fall %u step %zu: flipped %d up %d", rise, fall, i, f,
			         h.up);
		assert_true(h.checked);
		assert_int_equal(h.ok_run, s[i].ok_run);
		assert_int_equal(h.fail_run, s[i].fail_run);
		assert_string_equal(h.last_error, s[i].last_error);
		if (f || i == 0)
			assert_int_equal(h.changed_at, t);
		else
			assert_int_equal(h.changed_at, before);
	}
}

static void test_hstate(void **state)
{
	/* rise 2, fall 3, first verdict a failure: down at once, no flip. */
	static const struct hstep a[] = {
	        {false, false, false, 0, 1, "e0"},  {true, false, false, 1, 0, "e0"},
	        {false, false, false, 0, 1, "e2"},  {true, false, false, 1, 0, "e2"},
	        {true, true, true, 2, 0, ""},       {true, true, false, 3, 0, ""},
	        {false, true, false, 0, 1, "e6"},   {false, true, false, 0, 2, "e7"},
	        {true, true, false, 1, 0, "e7"},    {false, true, false, 0, 1, "e9"},
	        {false, true, false, 0, 2, "e10"},  {false, false, true, 0, 3, "e11"},
	        {false, false, false, 0, 4, "e12"},
	};
	/* First verdict a success: up at once, without waiting for rise. */
	static const struct hstep b[] = {
	        {true, true, true, 1, 0, ""},     {false, true, false, 0, 1, "e1"},
	        {false, true, false, 0, 2, "e2"}, {false, false, true, 0, 3, "e3"},
	        {true, false, false, 1, 0, "e3"}, {true, true, true, 2, 0, ""},
	};
	/* rise and fall 0 mean 1. */
	static const struct hstep c[] = {
	        {false, false, false, 0, 1, "e0"},
	        {true, true, true, 1, 0, ""},
	        {false, false, true, 0, 1, "e2"},
	};
	tw_hstate_t h;

	TW_UNUSED(state);
	run_hsteps(2, 3, a, TW_ARRAY_LEN(a));
	run_hsteps(2, 3, b, TW_ARRAY_LEN(b));
	run_hsteps(0, 0, c, TW_ARRAY_LEN(c));
	run_hsteps(1, 1, c, TW_ARRAY_LEN(c));

	/* why NULL or "", a long why truncated, counters saturate. */
	memset(&h, 0, sizeof(h));
	assert_false(tw_hstate_update(&h, false, NULL, 2, 3, 5));
	assert_string_equal(h.last_error, "check failed");
	assert_false(tw_hstate_update(&h, false, "", 2, 3, 5));
	assert_string_equal(h.last_error, "check failed");
	{
		char lng[400];

		memset(lng, 'w', sizeof(lng) - 1);
		lng[sizeof(lng) - 1] = '\0';
		tw_hstate_update(&h, false, lng, 2, 3, 5);
		assert_int_equal(strlen(h.last_error), sizeof(h.last_error) - 1);
	}
	h.fail_run = UINT32_MAX;
	tw_hstate_update(&h, false, "x", 2, 3, 6);
	assert_int_equal(h.fail_run, UINT32_MAX);
	h.ok_run = UINT32_MAX - 1;
	h.fail_run = 0;
	tw_hstate_update(&h, true, NULL, 2, 3, 6);
	assert_int_equal(h.ok_run, UINT32_MAX);
	tw_hstate_update(&h, true, NULL, 2, 3, 6);
	assert_int_equal(h.ok_run, UINT32_MAX);
	assert_true(h.up);
}

/* ---- scripted loopback servers ---- */

enum op {
	OP_END = 0,
	OP_SEND,    /* data */
	OP_SLEEP,   /* ms */
	OP_COLLECT, /* record what arrives for ms (stops at EOF) */
	OP_LINE,    /* record until LF, up to ms */
	OP_BYTES,   /* record n = data length bytes, up to ms */
	OP_EOF,     /* record until EOF or error, up to ms */
	OP_CLOSE,   /* close now */
	OP_RESET,   /* close with a RST (SO_LINGER 0) */
};

struct step {
	enum op op;
	const char *data;
	int ms;
};

#define MAX_STEPS 16

struct srv {
	int lfd;
	uint16_t port;
	pthread_t th;
	const struct step *steps;
	bool accepted;
	/* Per step: bytes recorded, and how it ended: 0 time or count reached,
	 * 1 EOF, or a positive errno. */
	char rec[MAX_STEPS][1024];
	size_t reclen[MAX_STEPS];
	int end[MAX_STEPS];
	uint64_t sent_at[MAX_STEPS]; /* ms, for OP_SEND */
};

static void srv_record(int fd, struct srv *s, int i, int ms, enum op op, size_t want)
{
	uint64_t until = now_ms() + (uint64_t)ms;

	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (op == OP_LINE && memchr(s->rec[i], '\n', s->reclen[i]))
			return;
		if (op == OP_BYTES && s->reclen[i] >= want)
			return;
		if (now >= until)
			return;
		if (poll(&p, 1, (int)(until - now)) <= 0)
			continue;
		n = recv(fd, s->rec[i] + s->reclen[i],
		         op == OP_BYTES ? want - s->reclen[i]
		                        : sizeof(s->rec[i]) - 1 - s->reclen[i],
		         MSG_DONTWAIT);
		if (n == 0) {
			s->end[i] = 1;
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			s->end[i] = errno;
			return;
		}
		s->reclen[i] += (size_t)n;
		if (s->reclen[i] >= sizeof(s->rec[i]) - 1)
			return;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p = {.fd = s->lfd, .events = POLLIN};
	int fd;

	if (poll(&p, 1, 5000) != 1)
		return NULL;
	fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	s->accepted = true;
	for (int i = 0; i < MAX_STEPS && s->steps[i].op != OP_END; i++) {
		const struct step *st = &s->steps[i];

		switch (st->op) {
		case OP_SEND:
			s->sent_at[i] = now_ms();
			(void)send(fd, st->data, strlen(st->data), MSG_NOSIGNAL);
			break;
		case OP_SLEEP: usleep((useconds_t)st->ms * 1000); break;
		case OP_COLLECT:
		case OP_LINE:
		case OP_BYTES:
			srv_record(fd, s, i, st->ms, st->op, st->data ? strlen(st->data) : 0);
			break;
		case OP_EOF: srv_record(fd, s, i, st->ms, st->op, 0); break;
		case OP_RESET: {
			struct linger l = {.l_onoff = 1, .l_linger = 0};

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
			/* fall through */
		case OP_CLOSE:
			close(fd);
			fd = -1;
			break;
		default: break;
		}
		if (fd < 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int listener(uint16_t *port, int backlog)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct srv *srv_start(const struct step *steps)
{
	struct srv *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->steps = steps;
	s->lfd = listener(&s->port, 8);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	return s;
}

static void srv_join(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static void srv_free(struct srv *s)
{
	free(s);
}

/* ---- running a check ---- */

struct res {
	int calls;
	int status;
	char why[1024];
	char addr[64];
	uint64_t latency;
	uint64_t at_ms; /* when the callback ran */
	bool cancel_in_cb;
	tw_hc_t *hc;
};

static void on_verdict(void *arg, int status, const char *why, const struct sockaddr *sa,
                       uint64_t latency_ms)
{
	struct res *r = arg;

	r->calls++;
	r->status = status;
	r->at_ms = now_ms();
	assert_non_null(why);
	tw_strlcpy(r->why, why, sizeof(r->why));
	r->addr[0] = '\0';
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(r->addr, sizeof(r->addr), "%s:%u", ip, ntohs(s4->sin_port));
	}
	r->latency = latency_ms;
	if (status == 0)
		assert_string_equal(why, "");
	else
		assert_true(why[0] != '\0');
	if (r->cancel_in_cb)
		tw_hc_cancel(r->hc); /* a no-op from inside the callback */
}

static void end_loop(uv_loop_t *loop, tw_resolver_t *r)
{
	tw_resolver_free(r);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
	assert_int_equal(tw_hc_live(), 0);
	assert_int_equal(tw_dial_live(), 0);
}

/* One check of 127.0.0.1:port run to the end (goodbye included). */
static void run_check(uint16_t port, const tw_hc_opts_t *o, struct res *res)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	uint64_t t0 = now_ms();

	memset(res, 0, sizeof(*res));
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_non_null(r);
	assert_int_equal(tw_hc_start(&loop, r, "127.0.0.1", port, o, on_verdict, res, &res->hc), 0);
	assert_non_null(res->hc);
	assert_int_equal(tw_hc_live(), 1);
	assert_int_equal(res->calls, 0); /* never synchronously */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	end_loop(&loop, r);
	assert_int_equal(res->calls, 1);
	res->at_ms -= t0;
}

static tw_hc_opts_t opts(tw_hc_type_t t, int proxy, uint64_t timeout_ms)
{
	tw_hc_opts_t o;

	memset(&o, 0, sizeof(o));
	o.type = t;
	o.proxy_version = proxy;
	o.timeout_ms = timeout_ms;
	return o;
}

static const uint8_t local_v2[16] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51,
                                     0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00};

/* Postscreen: "220-" at once, the rest 300 ms later. The check must not
 * speak before the last line, then say exactly QUIT, and end with a FIN. */
static void smtp_two_parts(int proxy)
{
	static const struct step steps[] = {
	        {OP_COLLECT, NULL, 150}, /* 0: what came before the greeting */
	        {OP_SEND, "220-mx.example.com ESMTP postscreen\r\n", 0},
	        {OP_COLLECT, NULL, 300}, /* 2: the pause */
	        {OP_SEND, "220 mx.example.com ESMTP Postfix\r\n", 0},
	        {OP_LINE, NULL, 1500}, /* 4: the goodbye */
	        {OP_SEND, "221 2.0.0 Bye\r\n", 0},
	        {OP_EOF, NULL, 1500}, /* 6: how the client left */
	        {OP_END, NULL, 0},
	};
	tw_hc_opts_t o = opts(TW_HC_SMTP, proxy, 3000);
	struct srv *s = srv_start(steps);
	struct res res;

	run_check(s->port, &o, &res);
	srv_join(s);
	assert_true(s->accepted);
	if (res.status != 0)
		fail_msg("proxy %d: status %d why %s", proxy, res.status, res.why);
	if (proxy == 2) {
		assert_int_equal(s->reclen[0], 16);
		assert_memory_equal(s->rec[0], local_v2, 16);
	} else if (proxy == 1) {
		assert_int_equal(s->reclen[0], 15);
		assert_memory_equal(s->rec[0], "PROXY UNKNOWN\r\n", 15);
	} else {
		assert_int_equal(s->reclen[0], 0);
	}
	assert_int_equal(s->reclen[2], 0); /* nothing during the pause */
	assert_int_equal(s->end[2], 0);
	assert_string_equal(s->rec[4], "QUIT\r\n");
	assert_int_equal(s->reclen[6], 0);
	assert_int_equal(s->end[6], 1); /* EOF, not ECONNRESET */
	assert_true(res.latency >= 450);
	assert_true(res.latency < 2500);
	{
		char want[32];

		snprintf(want, sizeof(want), "127.0.0.1:%u", s->port);
		assert_string_equal(res.addr, want);
	}
	srv_free(s);
}

static void test_smtp_multiline_pause(void **state)
{
	TW_UNUSED(state);
	smtp_two_parts(0);
}

static void test_smtp_multiline_pause_proxy_v2(void **state)
{
	TW_UNUSED(state);
	smtp_two_parts(2);
}

static void test_smtp_multiline_pause_proxy_v1(void **state)
{
	TW_UNUSED(state);
	smtp_two_parts(1);
}

/* A server that greets, reads one line, answers, then waits for EOF. */
struct mail_case {
	const char *name;
	tw_hc_type_t type;
	int proxy;
	const char *greeting;
	const char *reply; /* to the goodbye (or to the PROXY line) */
	int status;
	const char *why; /* substring */
	const char *goodbye;
};

static const struct mail_case mail_cases[] = {
        {"smtp ok", TW_HC_SMTP, 0, "220 mx ESMTP\r\n", "221 Bye\r\n", 0, "", "QUIT\r\n"},
        {"smtp 421", TW_HC_SMTP, 0, "421 4.3.2 Service not available\r\n", "221 Bye\r\n", TW_EPROTO,
         "smtp greeting 421 4.3.2 Service not available", "QUIT\r\n"},
        {"smtp 554 multi", TW_HC_SMTP, 0, "554-no\r\n554 5.7.1 not you\r\n", "221 Bye\r\n",
         TW_EPROTO, "smtp greeting 554-no", "QUIT\r\n"},
        {"smtp garbage", TW_HC_SMTP, 0, "SSH-2.0-OpenSSH_9.2\r\n", "", TW_EPROTO,
         "not an smtp reply: \"SSH-2.0-OpenSSH_9.2\"", "QUIT\r\n"},
        {"imap ok", TW_HC_IMAP, 0, "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n",
         "* BYE Logging out\r\na OK Logout completed.\r\n", 0, "", "a LOGOUT\r\n"},
        {"imap bye", TW_HC_IMAP, 0, "* BYE Too many connections\r\n", "", TW_EPROTO,
         "imap greeting * BYE Too many connections", "a LOGOUT\r\n"},
        {"pop3 ok", TW_HC_POP3, 0, "+OK Dovecot ready.\r\n", "+OK Logging out.\r\n", 0, "",
         "QUIT\r\n"},
        {"pop3 err", TW_HC_POP3, 0, "-ERR [SYS/TEMP] busy\r\n", "", TW_EPROTO,
         "pop3 greeting -ERR [SYS/TEMP] busy", "QUIT\r\n"},
        {"sieve ok", TW_HC_SIEVE, 0, SIEVE_CAPS "OK \"Dovecot ready.\"\r\n",
         "OK \"Logout completed.\"\r\n", 0, "", "LOGOUT\r\n"},
        {"sieve no", TW_HC_SIEVE, 0, "\"IMPLEMENTATION\" \"x\"\r\nNO \"maintenance\"\r\n", "",
         TW_EPROTO, "sieve greeting NO", "LOGOUT\r\n"},
        {"smtp ok proxy", TW_HC_SMTP, 2, "220 mx ESMTP\r\n", "221 Bye\r\n", 0, "", "QUIT\r\n"},
        {"imap ok proxy", TW_HC_IMAP, 2, "* OK ready\r\n",
         "* BYE Logging out\r\na OK Logout completed.\r\n", 0, "", "a LOGOUT\r\n"},
        {"pop3 ok proxy", TW_HC_POP3, 1, "+OK ready\r\n", "+OK bye\r\n", 0, "", "QUIT\r\n"},
        {"sieve ok proxy", TW_HC_SIEVE, 2, SIEVE_CAPS "OK \"ready\"\r\n", "OK \"bye\"\r\n", 0, "",
         "LOGOUT\r\n"},
        /* A server not set up for PROXY: greets, then answers the header. */
        {"smtp no proxy support", TW_HC_SMTP, 1, "220 mx ESMTP Postfix\r\n",
         "500 5.5.2 Error: command not recognized\r\n", TW_EPROTO, "smtpd_upstream_proxy_protocol",
         NULL},
        {"imap no proxy support", TW_HC_IMAP, 1, "* OK Dovecot ready.\r\n",
         "PROXY BAD Error in IMAP command received by server.\r\n", TW_EPROTO,
         "haproxy_trusted_networks", NULL},
        {"pop3 no proxy support", TW_HC_POP3, 2, "+OK Dovecot ready.\r\n",
         "-ERR Unknown command.\r\n", TW_EPROTO, "haproxy = yes", NULL},
};

static void test_mail_servers(void **state)
{
	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(mail_cases); i++) {
		const struct mail_case *c = &mail_cases[i];
		struct step steps[] = {
		        {OP_COLLECT, NULL, 80}, /* 0: the PROXY header, if any */
		        {OP_SEND, c->greeting, 0}, {OP_LINE, NULL, 1500}, /* 2 */
		        {OP_SEND, c->reply, 0},    {OP_EOF, NULL, 1500},  /* 4 */
		        {OP_END, NULL, 0},
		};
		tw_hc_opts_t o = opts(c->type, c->proxy, 3000);
		struct srv *s;
		struct res res;

		/* Without PROXY support the header is a command line: the
		 * server answers it right after its greeting. */
		if (c->proxy && c->status) {
			steps[0].op = OP_SLEEP;
			steps[2].op = OP_SLEEP;
			steps[2].ms = 50;
		}
		s = srv_start(steps);
		run_check(s->port, &o, &res);
		srv_join(s);
		if (res.status != c->status || !strstr(res.why, c->why))
			fail_msg("%s: status %d why \"%s\"", c->name, res.status, res.why);
		if (c->proxy && !c->status)
			assert_int_equal(s->reclen[0], c->proxy == 2 ? 16 : 15);
		if (c->goodbye)
			assert_string_equal(s->rec[2], c->goodbye);
		/* The client always leaves with a FIN. */
		if (s->end[4] != 1)
			fail_msg("%s: server saw end %d, recorded \"%s\"", c->name, s->end[4],
			         s->rec[4]);
		srv_free(s);
	}
}

static void test_refused(void **state)
{
	uint16_t port;
	int fd = listener(&port, -1); /* bound, not listening: refused */
	tw_hc_opts_t o = opts(TW_HC_SMTP, 2, 2000);
	struct res res;
	char want[64];

	TW_UNUSED(state);
	run_check(port, &o, &res);
	close(fd);
	assert_int_equal(res.status, -ECONNREFUSED);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%u: connection refused", port);
	assert_string_equal(res.why, want);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	assert_string_equal(res.addr, want);
}

/* Accepts (the kernel does) and never speaks. */
static void test_silent_timeout(void **state)
{
	static const struct step steps[] = {
	        {OP_EOF, NULL, 3000}, /* 0 */
	        {OP_END, NULL, 0},
	};
	struct srv *s = srv_start(steps);
	tw_hc_opts_t o = opts(TW_HC_IMAP, 0, 300);
	struct res res;
	char want[96];

	TW_UNUSED(state);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, -ETIMEDOUT);
	snprintf(want, sizeof(want), "no imap greeting from 127.0.0.1:%u within 300 ms", s->port);
	assert_string_equal(res.why, want);
	assert_true(res.latency >= 290 && res.latency < 800);
	assert_int_equal(s->reclen[0], 0); /* it never spoke first */
	assert_int_equal(s->end[0], 1);
	srv_free(s);
}

/* Postscreen stuck after "220-": the timeout quotes what it said. */
static void test_partial_greeting_timeout(void **state)
{
	static const struct step steps[] = {
	        {OP_SEND, "220-mx.example.com ESMTP\r\n", 0},
	        {OP_EOF, NULL, 3000}, /* 1 */
	        {OP_END, NULL, 0},
	};
	struct srv *s = srv_start(steps);
	tw_hc_opts_t o = opts(TW_HC_SMTP, 0, 300);
	struct res res;

	TW_UNUSED(state);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, -ETIMEDOUT);
	assert_non_null(strstr(res.why, "smtp greeting from 127.0.0.1:"));
	assert_non_null(strstr(res.why, "not complete after 300 ms: \"220-mx.example.com "
	                                "ESMTP\\x0d\\x0a\""));
	assert_int_equal(s->reclen[1], 0);
	assert_int_equal(s->end[1], 1);
	srv_free(s);
}

static void test_closed_before_greeting(void **state)
{
	static const struct step close_steps[] = {{OP_CLOSE, NULL, 0}, {OP_END, NULL, 0}};
	static const struct step reset_steps[] = {{OP_RESET, NULL, 0}, {OP_END, NULL, 0}};
	static const struct step mid_steps[] = {
	        {OP_SEND, "220-a\r\n", 0}, {OP_CLOSE, NULL, 0}, {OP_END, NULL, 0}};
	tw_hc_opts_t o = opts(TW_HC_SMTP, 0, 2000);
	struct srv *s;
	struct res res;

	TW_UNUSED(state);
	s = srv_start(close_steps);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, TW_EPROTO);
	assert_non_null(strstr(res.why, "closed the connection before its greeting"));
	srv_free(s);

	s = srv_start(mid_steps);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, TW_EPROTO);
	assert_non_null(strstr(res.why, "closed the connection in its greeting"));
	srv_free(s);

	s = srv_start(reset_steps);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, -ECONNRESET);
	assert_non_null(strstr(res.why, "connection reset by peer"));
	srv_free(s);

	/* After a PROXY header, a close is explained (reply_diag). */
	o.proxy_version = 2;
	s = srv_start(close_steps);
	run_check(s->port, &o, &res);
	srv_join(s);
	/* A close with the header unread is a RST (seen at the send or the
	 * read), or a FIN if the header came late. */
	if (res.status != TW_EPROTO && res.status != -ECONNRESET && res.status != -EPIPE)
		fail_msg("status %d why %s", res.status, res.why);
	assert_non_null(strstr(res.why, "right after the PROXY header"));
	srv_free(s);
}

static void test_tcp(void **state)
{
	static const struct step steps[] = {
	        {OP_EOF, NULL, 2000}, /* 0 */
	        {OP_END, NULL, 0},
	};
	struct srv *s = srv_start(steps);
	tw_hc_opts_t o = opts(TW_HC_TCP, 2, 2000);
	struct res res;

	TW_UNUSED(state);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, 0);
	assert_true(res.latency < 500);
	assert_int_equal(s->reclen[0], 16);
	assert_memory_equal(s->rec[0], local_v2, 16);
	assert_int_equal(s->end[0], 1);
	srv_free(s);

	/* o NULL: tcp with defaults. */
	s = srv_start(steps);
	{
		uv_loop_t loop;
		tw_resolver_t *r;

		memset(&res, 0, sizeof(res));
		assert_int_equal(uv_loop_init(&loop), 0);
		r = tw_resolver_new(&loop, 5000);
		assert_int_equal(
		        tw_hc_start(&loop, r, "127.0.0.1", s->port, NULL, on_verdict, &res, NULL),
		        0);
		assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
		end_loop(&loop, r);
	}
	srv_join(s);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, 0);
	assert_int_equal(s->reclen[0], 0);
	srv_free(s);
}

static void test_resolve_fail(void **state)
{
	tw_hc_opts_t o = opts(TW_HC_SMTP, 0, 2000);
	uv_loop_t loop;
	tw_resolver_t *r;
	struct res res;

	TW_UNUSED(state);
	memset(&res, 0, sizeof(res));
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_hc_start(&loop, r, "tw-test..invalid", 25, &o, on_verdict, &res, NULL),
	                 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(res.calls, 1);
	assert_true(res.status < 0);
	assert_non_null(strstr(res.why, "resolve tw-test..invalid: "));
	assert_string_equal(res.addr, "");
	/* Cached negative answer: the callback still comes later, not inside. */
	memset(&res, 0, sizeof(res));
	assert_int_equal(tw_hc_start(&loop, r, "tw-test..invalid", 25, &o, on_verdict, &res, NULL),
	                 0);
	assert_int_equal(res.calls, 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(res.calls, 1);
	assert_true(res.status < 0);
	end_loop(&loop, r);
}

static void test_bad_args(void **state)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	tw_hc_opts_t o = opts(TW_HC_SMTP, 0, 100);
	tw_hc_t *hc = (tw_hc_t *)&o;
	char lng[300];
	struct res res;

	TW_UNUSED(state);
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	memset(lng, 'a', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	assert_int_equal(tw_hc_start(NULL, r, "h", 1, &o, on_verdict, &res, &hc), TW_EINVAL);
	assert_null(hc);
	assert_int_equal(tw_hc_start(&loop, NULL, "h", 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	assert_int_equal(tw_hc_start(&loop, r, NULL, 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	assert_int_equal(tw_hc_start(&loop, r, "h", 1, &o, NULL, &res, NULL), TW_EINVAL);
	assert_int_equal(tw_hc_start(&loop, r, "", 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	assert_int_equal(tw_hc_start(&loop, r, lng, 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	/* 255 bytes: ours, but the resolver's limit is 254; nothing leaks. */
	lng[255] = '\0';
	hc = (tw_hc_t *)&o;
	assert_int_equal(tw_hc_start(&loop, r, lng, 1, &o, on_verdict, &res, &hc), TW_EINVAL);
	assert_null(hc);
	lng[255] = 'a';
	o.proxy_version = 3;
	assert_int_equal(tw_hc_start(&loop, r, "h", 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	o.proxy_version = 0;
	o.type = (tw_hc_type_t)6;
	assert_int_equal(tw_hc_start(&loop, r, "h", 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	o.type = TW_HC_TLS;
	o.sni = lng;
	assert_int_equal(tw_hc_start(&loop, r, "h", 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	o.sni = NULL;
	o.dial.interface = "an-interface-name-too-long";
	assert_int_equal(tw_hc_start(&loop, r, "h", 1, &o, on_verdict, &res, NULL), TW_EINVAL);
	tw_hc_cancel(NULL);
	end_loop(&loop, r);
}

/* ---- cancel at every stage ---- */

struct canceller {
	uv_timer_t t;
	tw_hc_t *hc;
};

static void do_cancel(uv_timer_t *t)
{
	struct canceller *c = t->data;

	tw_hc_cancel(c->hc);
	uv_close((uv_handle_t *)t, NULL);
}

/* Starts a check of host:port and cancels it after `after_ms` (or at
 * once when negative). No callback may follow. */
static void cancel_after(const char *host, uint16_t port, const tw_hc_opts_t *o, int after_ms)
{
	uv_loop_t loop;
	tw_resolver_t *r;
	struct res res;
	struct canceller c;

	memset(&res, 0, sizeof(res));
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_hc_start(&loop, r, host, port, o, on_verdict, &res, &c.hc), 0);
	if (after_ms < 0) {
		tw_hc_cancel(c.hc);
	} else {
		uv_timer_init(&loop, &c.t);
		c.t.data = &c;
		uv_timer_start(&c.t, do_cancel, (uint64_t)after_ms, 0);
	}
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(res.calls, 0);
	end_loop(&loop, r);
}

static int wait_writable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	return poll(&p, 1, ms);
}

static void test_cancel(void **state)
{
	static const struct step silent[] = {{OP_EOF, NULL, 3000}, {OP_END, NULL, 0}};
	tw_hc_opts_t o = opts(TW_HC_SMTP, 0, 2000);
	struct srv *s;

	TW_UNUSED(state);
	/* Resolving: "localhost" goes to getaddrinfo on the thread pool. */
	cancel_after("localhost", 25, &o, -1);
	/* Right after start with a literal: the dial is set up, not started. */
	cancel_after("127.0.0.1", 9, &o, -1);

	/* Reading the greeting of a server that never speaks. */
	s = srv_start(silent);
	cancel_after("127.0.0.1", s->port, &o, 100);
	srv_join(s);
	assert_int_equal(s->end[0], 1); /* a FIN */
	srv_free(s);

	/* In the TLS handshake (PROXY header sent, no ServerHello ever). */
	o = opts(TW_HC_TLS, 2, 2000);
	s = srv_start(silent);
	cancel_after("127.0.0.1", s->port, &o, 100);
	srv_join(s);
	assert_true(s->reclen[0] > 16); /* header + ClientHello */
	assert_memory_equal(s->rec[0], local_v2, 16);
	assert_int_equal((uint8_t)s->rec[0][16], 0x16);
	srv_free(s);

	/* Dialing: a listener whose accept queue is full swallows SYNs. */
	{
		uint16_t port;
		int lfd = listener(&port, 0), fds[2];
		struct sockaddr_in a = {.sin_family = AF_INET,
		                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		                        .sin_port = htons(port)};

		for (int i = 0; i < 2; i++) {
			fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			(void)connect(fds[i], (struct sockaddr *)&a, sizeof(a));
		}
		if (wait_writable(fds[0], 1000) == 1 && wait_writable(fds[1], 150) == 0) {
			struct res res;

			o = opts(TW_HC_SMTP, 0, 2000);
			cancel_after("127.0.0.1", port, &o, 100);
			/* ...and the same unanswered dial times out in time. */
			o.timeout_ms = 300;
			run_check(port, &o, &res);
			assert_int_equal(res.status, -ETIMEDOUT);
			assert_true(res.latency >= 290 && res.latency < 800);
			assert_non_null(strstr(res.why, "connect 127.0.0.1:"));
		} else {
			print_message("kernel does not drop SYNs on a full queue: dial cancel "
			              "skipped\n");
		}
		close(fds[0]);
		close(fds[1]);
		close(lfd);
	}
}

static void test_cancel_in_callback(void **state)
{
	static const struct step steps[] = {
	        {OP_SEND, "220 hi\r\n", 0},  {OP_LINE, NULL, 1500}, /* 1 */
	        {OP_SEND, "221 bye\r\n", 0}, {OP_EOF, NULL, 1500},  /* 3 */
	        {OP_END, NULL, 0},
	};
	struct srv *s = srv_start(steps);
	tw_hc_opts_t o = opts(TW_HC_SMTP, 0, 2000);
	uv_loop_t loop;
	tw_resolver_t *r;
	struct res res;

	TW_UNUSED(state);
	memset(&res, 0, sizeof(res));
	res.cancel_in_cb = true;
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	assert_int_equal(tw_hc_start(&loop, r, "127.0.0.1", s->port, &o, on_verdict, &res, &res.hc),
	                 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	end_loop(&loop, r);
	srv_join(s);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, 0);
	/* The goodbye still happened. */
	assert_string_equal(s->rec[1], "QUIT\r\n");
	assert_int_equal(s->end[3], 1);
	srv_free(s);
}

/* Several checks on one loop, sharing the resolver. */
static void test_many(void **state)
{
	static const struct step steps[] = {
	        {OP_SEND, "+OK hi\r\n", 0}, {OP_LINE, NULL, 1500}, {OP_SEND, "+OK bye\r\n", 0},
	        {OP_EOF, NULL, 1500},       {OP_END, NULL, 0},
	};
	struct srv *s[4];
	struct res res[4];
	tw_hc_opts_t o = opts(TW_HC_POP3, 0, 2000);
	uv_loop_t loop;
	tw_resolver_t *r;

	TW_UNUSED(state);
	memset(res, 0, sizeof(res));
	assert_int_equal(uv_loop_init(&loop), 0);
	r = tw_resolver_new(&loop, 5000);
	for (int i = 0; i < 4; i++) {
		s[i] = srv_start(steps);
		assert_int_equal(tw_hc_start(&loop, r, "127.0.0.1", s[i]->port, &o, on_verdict,
		                             &res[i], NULL),
		                 0);
	}
	assert_int_equal(tw_hc_live(), 4);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	end_loop(&loop, r);
	for (int i = 0; i < 4; i++) {
		srv_join(s[i]);
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].status, 0);
		assert_string_equal(s[i]->rec[1], "QUIT\r\n");
		srv_free(s[i]);
	}
}

/* ---- tls ---- */

struct tls_srv {
	int lfd;
	uint16_t port;
	pthread_t th;
	SSL_CTX *ctx;
	int proxy; /* expect this many header bytes first */
	uint8_t hdr[16];
	size_t hdrlen;
	bool handshake_ok;
	char sni[256];
	bool close_notify; /* the client's close_notify arrived */
	char err[256];
};

static SSL_CTX *server_ctx(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	SSL_CTX *ctx;

	assert_non_null(pkey);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, pkey), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)"mail.example.com", -1,
	                                            -1, 0),
	                 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
	ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, pkey), 1);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ctx;
}

static void *tls_main(void *arg)
{
	struct tls_srv *t = arg;
	struct pollfd p = {.fd = t->lfd, .events = POLLIN};
	struct timeval tv = {.tv_sec = 3};
	SSL *ssl;
	char buf[256];
	const char *sni;
	int fd, r;

	if (poll(&p, 1, 5000) != 1)
		return NULL;
	fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (t->hdrlen < (size_t)t->proxy) {
		ssize_t n = recv(fd, t->hdr + t->hdrlen, (size_t)t->proxy - t->hdrlen, 0);

		if (n <= 0)
			break;
		t->hdrlen += (size_t)n;
	}
	ssl = SSL_new(t->ctx);
	SSL_set_fd(ssl, fd);
	r = SSL_accept(ssl);
	if (r == 1) {
		t->handshake_ok = true;
		sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		if (sni)
			tw_strlcpy(t->sni, sni, sizeof(t->sni));
		r = SSL_read(ssl, buf, sizeof(buf));
		t->close_notify = r <= 0 && SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN;
		SSL_shutdown(ssl);
	} else {
		ERR_error_string_n(ERR_get_error(), t->err, sizeof(t->err));
	}
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return NULL;
}

static void tls_case(int proxy, const char *sni)
{
	struct tls_srv t;
	tw_hc_opts_t o = opts(TW_HC_TLS, proxy, 3000);
	struct res res;

	memset(&t, 0, sizeof(t));
	t.ctx = server_ctx();
	t.proxy = proxy == 2 ? 16 : proxy == 1 ? 15 : 0;
	t.lfd = listener(&t.port, 8);
	assert_int_equal(pthread_create(&t.th, NULL, tls_main, &t), 0);
	o.sni = sni;
	run_check(t.port, &o, &res);
	pthread_join(t.th, NULL);
	close(t.lfd);
	SSL_CTX_free(t.ctx);
	if (res.status != 0)
		fail_msg("tls proxy %d: %d %s (server: %s)", proxy, res.status, res.why, t.err);
	assert_true(t.handshake_ok);
	assert_string_equal(t.sni, sni && strcmp(sni, "127.0.0.1") != 0 ? sni : "");
	assert_true(t.close_notify);
	if (proxy == 2)
		assert_memory_equal(t.hdr, local_v2, 16);
	if (proxy == 1)
		assert_memory_equal(t.hdr, "PROXY UNKNOWN\r\n", 15);
}

static void test_tls_ok(void **state)
{
	TW_UNUSED(state);
	tls_case(0, "mail.example.com");
	tls_case(2, "autoconfig.example.com");
	tls_case(1, NULL);
	tls_case(0, "127.0.0.1"); /* an IP literal is not sent as SNI */
}

static void test_tls_plaintext(void **state)
{
	static const struct step steps[] = {
	        {OP_SEND, "220 mx ESMTP\r\n", 0},
	        {OP_EOF, NULL, 2000}, /* 1 */
	        {OP_END, NULL, 0},
	};
	static const struct step http[] = {
	        {OP_COLLECT, NULL, 100}, /* 0 */
	        {OP_SEND, "HTTP/1.1 400 Bad Request\r\n\r\n", 0},
	        {OP_CLOSE, NULL, 0},
	        {OP_END, NULL, 0},
	};
	tw_hc_opts_t o = opts(TW_HC_TLS, 0, 2000);
	struct srv *s = srv_start(steps);
	struct res res;

	TW_UNUSED(state);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, TW_EPROTO);
	assert_non_null(strstr(res.why, "tls handshake with 127.0.0.1:"));
	assert_non_null(strstr(res.why, "wrong version number"));
	assert_true(s->reclen[1] > 0);
	assert_int_equal((uint8_t)s->rec[1][0], 0x16); /* the ClientHello */
	srv_free(s);

	/* A web server without PROXY support answers the header with a 400. */
	o.proxy_version = 1;
	s = srv_start(http);
	run_check(s->port, &o, &res);
	srv_join(s);
	assert_int_equal(res.status, TW_EPROTO);
	assert_non_null(strstr(res.why, "backend does not expect a PROXY header"));
	srv_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_type_names),
	        cmocka_unit_test(test_greeting_table),
	        cmocka_unit_test(test_farewell_table),
	        cmocka_unit_test(test_greeting_bounds),
	        cmocka_unit_test(test_hstate),
	        cmocka_unit_test(test_smtp_multiline_pause),
	        cmocka_unit_test(test_smtp_multiline_pause_proxy_v2),
	        cmocka_unit_test(test_smtp_multiline_pause_proxy_v1),
	        cmocka_unit_test(test_mail_servers),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_silent_timeout),
	        cmocka_unit_test(test_partial_greeting_timeout),
	        cmocka_unit_test(test_closed_before_greeting),
	        cmocka_unit_test(test_tcp),
	        cmocka_unit_test(test_resolve_fail),
	        cmocka_unit_test(test_bad_args),
	        cmocka_unit_test(test_cancel),
	        cmocka_unit_test(test_cancel_in_callback),
	        cmocka_unit_test(test_many),
	        cmocka_unit_test(test_tls_ok),
	        cmocka_unit_test(test_tls_plaintext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
