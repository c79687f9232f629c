#include "util/tw.h"

#include "edge/logban.h"
#include "util/addr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define POSTFIX_PAT  "warning: unknown\\[<ADDR>\\]: SASL (LOGIN|PLAIN) authentication failed"
#define POSTFIX_ANY  "warning: [^[]*\\[<ADDR>\\]: SASL (LOGIN|PLAIN) authentication failed"
#define DOVECOT_PAT  "auth failed.*rip=<ADDR>"
#define STALWART_PAT "\"remoteIp\":\"<ADDR>\".*\"authentication failed\""

static const struct {
	const char *pattern;
	const char *line;
	const char *want; /* the address as tw_addr_format_ip prints it, or NULL */
	int family;
} match_cases[] = {
        /* Postfix */
        {POSTFIX_PAT,
         "Nov 27 07:23:19 mx postfix/smtpd[26901]: warning: unknown[203.0.113.9]: SASL LOGIN "
         "authentication failed: UGFzc3dvcmQ6",
         "203.0.113.9", AF_INET},
        {POSTFIX_PAT,
         "Nov 27 07:25:02 mx postfix/smtpd[26950]: warning: unknown[2001:db8::25]: SASL PLAIN "
         "authentication failed: authentication failure",
         "2001:db8::25", AF_INET6},
        {POSTFIX_PAT,
         "Nov 27 07:25:40 mx postfix/smtpd[26950]: warning: unknown[::ffff:198.51.100.4]: SASL "
         "LOGIN authentication failed: UGFzc3dvcmQ6",
         "198.51.100.4", AF_INET},
        {POSTFIX_PAT,
         "Nov 27 07:23:20 mx postfix/smtpd[26901]: disconnect from unknown[203.0.113.9] ehlo=1 "
         "auth=0/1 quit=1 commands=2/3",
         NULL, 0},
        {POSTFIX_PAT,
         "Nov 27 07:26:00 mx postfix/smtpd[26990]: warning: unknown[203.0.113.9]: SASL CRAM-MD5 "
         "authentication failed: bad protocol",
         NULL, 0},
        {POSTFIX_ANY,
         "Nov 27 07:27:13 mx postfix/smtpd[27001]: warning: host-4.example.net[198.51.100.44]: "
         "SASL PLAIN authentication failed: ",
         "198.51.100.44", AF_INET},
        /* Dovecot: the remote address, not the local one */
        {DOVECOT_PAT,
         "Nov 27 07:30:11 mx dovecot: imap-login: Disconnected: Connection closed (auth failed, "
         "3 attempts in 15 secs): user=<bob>, method=PLAIN, rip=2001:db8::7, lip=10.0.0.2, "
         "session=<abc>",
         "2001:db8::7", AF_INET6},
        {DOVECOT_PAT,
         "Nov 27 07:31:45 mx dovecot: pop3-login: Disconnected (auth failed, 1 attempts in 2 "
         "secs): user=<alice>, method=LOGIN, rip=198.51.100.23, lip=10.0.0.2, TLS, "
         "session=<x9Kz>",
         "198.51.100.23", AF_INET},
        {DOVECOT_PAT,
         "Nov 27 07:32:02 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 4 "
         "secs): user=<carol>, method=PLAIN, rip=::ffff:192.0.2.200, lip=::ffff:10.0.0.2, "
         "session=<q1>",
         "192.0.2.200", AF_INET},
        {DOVECOT_PAT,
         "Nov 27 07:33:00 mx dovecot: imap-login: Login: user=<bob>, method=PLAIN, "
         "rip=2001:db8::7, lip=10.0.0.2, mpid=4242, TLS, session=<ok>",
         NULL, 0},
        {DOVECOT_PAT,
         "Nov 27 07:34:00 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 "
         "secs): user=<eve>, method=PLAIN, rip=2001:db8::1:2:3:4:5:6:7:8, lip=10.0.0.2",
         NULL, 0}, /* nine groups: not an address */
        /* Stalwart (JSON lines) */
        {STALWART_PAT,
         "{\"timestamp\":\"2024-11-27T07:23:19Z\",\"level\":\"INFO\",\"event\":\"auth.failed\","
         "\"listenerId\":\"imaps\",\"localPort\":993,\"remoteIp\":\"203.0.113.77\","
         "\"remotePort\":51234,\"accountName\":\"bob@example.com\",\"details\":"
         "\"authentication failed\"}",
         "203.0.113.77", AF_INET},
        {STALWART_PAT,
         "{\"timestamp\":\"2024-11-27T07:24:01Z\",\"level\":\"INFO\",\"event\":\"auth.failed\","
         "\"remoteIp\":\"2001:db8:4::1\",\"remotePort\":40022,\"details\":"
         "\"authentication failed\"}",
         "2001:db8:4::1", AF_INET6},
        {STALWART_PAT,
         "{\"timestamp\":\"2024-11-27T07:24:05Z\",\"level\":\"INFO\",\"event\":\"auth.success\","
         "\"remoteIp\":\"203.0.113.77\",\"accountName\":\"bob@example.com\"}",
         NULL, 0},
        /* brackets, ports, trailing colons */
        {"connect from <ADDR>", "smtpd: connect from [2001:db8::99]:587", "2001:db8::99", AF_INET6},
        {"connect from <ADDR>", "smtpd: connect from [192.0.2.5]:25", "192.0.2.5", AF_INET},
        {"connect from <ADDR>", "smtpd: connect from 192.0.2.5:25", "192.0.2.5", AF_INET},
        {"client <ADDR>: rejected", "client 2001:db8::1: rejected", "2001:db8::1", AF_INET6},
        {"client <ADDR> gone", "client 2001:db8:: gone", "2001:db8::", AF_INET6},
        {"from <ADDR>$", "from ::1", "::1", AF_INET6},
        /* a time stamp looks like IPv6 but does not parse: the next candidate wins */
        {"<ADDR>.*auth failed", "07:23:19 client 203.0.113.5 auth failed", "203.0.113.5", AF_INET},
        /* not addresses */
        {"rip=<ADDR>", "rip=999.1.1.1", NULL, 0},
        {"rip=<ADDR>", "rip=1:2", NULL, 0},
        {"rip=<ADDR>", "rip=01.2.3.4", NULL, 0},
        {"rip=<ADDR>", "rip=fe80::1%eth0", "fe80::1", AF_INET6},
        {"rip=<ADDR>,", "rip=fe80::1%eth0,", NULL, 0},
        /* the group counting: groups, escaped and bracketed parentheses before <ADDR> */
        {"(foo|bar) x=<ADDR> (y)", "bar x=192.0.2.1 y", "192.0.2.1", AF_INET},
        {"((a)|(b))+ \\(rip <ADDR>\\)", "ab (rip 192.0.2.9)", "192.0.2.9", AF_INET},
        {"[(]rip=<ADDR>", "(rip=192.0.2.10", "192.0.2.10", AF_INET},
        {"[]()]x<ADDR>", ")x192.0.2.11", "192.0.2.11", AF_INET},
        {"[[:space:](]+ip=<ADDR>", "( ip=192.0.2.12", "192.0.2.12", AF_INET},
        {"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j) <ADDR>", "abcdefghij 192.0.2.13", "192.0.2.13", AF_INET},
        {"(nomatch <ADDR>|other)", "other", NULL, 0},
        {"^from <ADDR>", "x from 192.0.2.1", NULL, 0},
        {"x=.{0,500} <ADDR>", "x= 192.0.2.14 x", "192.0.2.14", AF_INET},
        {"(a+)* (b?c){1,} (d?){2,5}<ADDR>", "aa bcc 192.0.2.16", "192.0.2.16", AF_INET},
        /* found by fuzz_logban: "{,0}" ended the complexity check's scan one
         * byte past the pattern's end */
        {"x{,0}y{0}<ADDR>", "y192.0.2.17", "192.0.2.17", AF_INET},
        {"<ADDR>x{,0}", "192.0.2.18", "192.0.2.18", AF_INET},
        {"(a+)+ (b{2,20}){5} <ADDR>", "aaa bbbbbbbbbb 192.0.2.15", "192.0.2.15", AF_INET},
};

static void test_match(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(match_cases); i++) {
		tw_logban_t *lb;
		char err[256] = "";
		if (tw_logban_compile(match_cases[i].pattern, &lb, err, sizeof(err)) != 0)
			fail_msg("%s: %s", match_cases[i].pattern, err);
		assert_string_equal(tw_logban_pattern(lb), match_cases[i].pattern);
		struct sockaddr_storage ss;
		memset(&ss, 0xee, sizeof(ss));
		const char *line = match_cases[i].line;
		bool m = tw_logban_match(lb, line, strlen(line), &ss);
		if (!match_cases[i].want) {
			if (m)
				fail_msg("case %zu: %s matched %s", i, match_cases[i].pattern,
				         line);
		} else {
			if (!m)
				fail_msg("case %zu: %s did not match %s", i, match_cases[i].pattern,
				         line);
			char ip[64];
			tw_addr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip));
			assert_string_equal(ip, match_cases[i].want);
			assert_int_equal(ss.ss_family, match_cases[i].family);
			assert_int_equal(tw_addr_port((struct sockaddr *)&ss), 0);
			/* addr_out is optional. */
			assert_true(tw_logban_match(lb, line, strlen(line), NULL));
		}
		tw_logban_free(lb);
	}
}

static const struct {
	const char *pattern;
	const char *err; /* the whole message, or its start when ending in "..." */
} compile_bad[] = {
        {"", "empty pattern: it needs exactly one <ADDR>"},
        {"auth failed", "pattern needs exactly one <ADDR>: found none"},
        {"from <ADDR> to <ADDR>", "pattern needs exactly one <ADDR>: found 2"},
        {"<ADDR><ADDR><ADDR>", "pattern needs exactly one <ADDR>: found 3"},
        {"from [<ADDR>]", "<ADDR> cannot be inside a bracket expression"},
        {"from \\<ADDR>", "pattern needs exactly one <ADDR>: found none"},
        {"from <addr>", "pattern needs exactly one <ADDR>: found none"},
        {"(unclosed <ADDR>", "bad regular expression \"(unclosed <ADDR>\": unmatched ( or \\("},
        {"<ADDR>x{", "bad regular expression \"<ADDR>x{\": unmatched \\{"},
        {"x{2,1} <ADDR>", "bad regular expression \"x{2,1} <ADDR>\": ..."},
        {"<ADDR> [z-a]", "bad regular expression \"<ADDR> [z-a]\": ..."},
        {"(x)=<ADDR> \\1", "back-references are not supported: \\1"},
        {"a++++++++++++++++++++++++++++++ <ADDR>",
         "pattern too complex: its repetitions expand too far"},
        {"((a{99}){99}){99} <ADDR>", "pattern too complex: its repetitions expand too far"},
        {".{0,1000} <ADDR>", "pattern too complex: its repetitions expand too far"},
        {"[^ ]{1,2000} <ADDR>", "pattern too complex: its repetitions expand too far"},
        {"(a*){4000} <ADDR>", "pattern too complex: its repetitions expand too far"},
        {"(x|(a?b?){2}){500} <ADDR>", "pattern too complex: its repetitions expand too far"},
        {"a*++++++++++ <ADDR>", "unbounded repetition of a part that can match the empty string "
                                "(like \"(a*)+\" or \"(x|)*\") is not supported"},
        {"(x|(a*b?)+){500} <ADDR>", "unbounded repetition of a part that can match the empty "
                                    "string (like \"(a*)+\" or \"(x|)*\") is not supported"},
        {"<ADDR> (x|)*", "unbounded repetition of a part that can match the empty string (like "
                         "\"(a*)+\" or \"(x|)*\") is not supported"},
        {"<ADDR> (a?){2,}", "unbounded repetition of a part that can match the empty string (like "
                            "\"(a*)+\" or \"(x|)*\") is not supported"},
        /* found by fuzz_logban: minutes in regcomp before the check */
        {"<ADDR>((((j)?)?)?)?((((x)?)?)?)?+",
         "unbounded repetition of a part that can match the empty string (like \"(a*)+\" or "
         "\"(x|)*\") is not supported"},
        {"<ADDR>{99}{99}{99}", "pattern too complex: its repetitions expand too far"},
        {"(1)(2)(3)(4)(5)(6)(7)(8)(9)(10)(11)(12)(13)(14)(15)(16)(17)(18)(19)(20)(21)(22)(23)"
         "(24)(25)(26)(27)(28)(29)(30)(31) <ADDR>",
         "too many groups before <ADDR>: 31, at most 30"},
};

static void test_compile_errors(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(compile_bad); i++) {
		tw_logban_t *lb = (tw_logban_t *)&lb;
		char err[256] = "";
		assert_int_equal(tw_logban_compile(compile_bad[i].pattern, &lb, err, sizeof(err)),
		                 TW_EINVAL);
		assert_null(lb);
		const char *want = compile_bad[i].err;
		size_t wl = strlen(want);
		if (wl > 3 && strcmp(want + wl - 3, "...") == 0) {
			if (strncmp(err, want, wl - 3) != 0 || strlen(err) <= wl - 3)
				fail_msg("%s: want %s, got %s", compile_bad[i].pattern, want, err);
		} else if (strcmp(err, want) != 0) {
			fail_msg("%s: want %s, got %s", compile_bad[i].pattern, want, err);
		}
	}
	tw_logban_t *lb;
	char err[64];
	assert_int_equal(tw_logban_compile(NULL, &lb, err, sizeof(err)), TW_EINVAL);
	char big[3000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "<ADDR>", 6);
	assert_int_equal(tw_logban_compile(big, &lb, err, sizeof(err)), TW_EINVAL);
	assert_string_equal(err, "pattern too long: 2999 bytes, at most 2048");
	/* 30 groups before <ADDR> is the most. */
	assert_int_equal(
	        tw_logban_compile("(1)(2)(3)(4)(5)(6)(7)(8)(9)(10)(11)(12)(13)(14)(15)(16)(17)(18)"
	                          "(19)(20)(21)(22)(23)(24)(25)(26)(27)(28)(29)(30) x<ADDR>",
	                          &lb, err, sizeof(err)),
	        0);
	char line[200] = "123456789101112131415161718192021222324252627282930 x192.0.2.1";
	struct sockaddr_storage ss;
	assert_true(tw_logban_match(lb, line, strlen(line), &ss));
	tw_addr_format_ip((struct sockaddr *)&ss, line, sizeof(line));
	assert_string_equal(line, "192.0.2.1");
	tw_logban_free(lb);
	tw_logban_free(NULL);
}

static void test_line_bounds(void **state)
{
	tw_logban_t *lb;
	char err[256];
	assert_int_equal(tw_logban_compile("rip=<ADDR>", &lb, err, sizeof(err)), 0);
	static char line[TW_LOGBAN_LINE_MAX + 10];
	memset(line, 'x', sizeof(line));
	memcpy(line, "rip=192.0.2.1 ", 14);
	struct sockaddr_storage ss;
	/* Exactly the bound matches; one more byte does not. */
	assert_true(tw_logban_match(lb, line, TW_LOGBAN_LINE_MAX, &ss));
	assert_false(tw_logban_match(lb, line, TW_LOGBAN_LINE_MAX + 1, &ss));
	assert_false(tw_logban_match(lb, line, sizeof(line), &ss));
	/* The newline does not count. */
	line[TW_LOGBAN_LINE_MAX] = '\n';
	assert_true(tw_logban_match(lb, line, TW_LOGBAN_LINE_MAX + 1, &ss));
	line[TW_LOGBAN_LINE_MAX] = '\r';
	line[TW_LOGBAN_LINE_MAX + 1] = '\n';
	assert_true(tw_logban_match(lb, line, TW_LOGBAN_LINE_MAX + 2, &ss));
	/* Not NUL-terminated: only len bytes are read. */
	assert_true(tw_logban_match(lb, "rip=192.0.2.1999", 13, &ss));
	tw_addr_format_ip((struct sockaddr *)&ss, err, sizeof(err));
	assert_string_equal(err, "192.0.2.1");
	/* A NUL byte: never a match. */
	assert_false(tw_logban_match(lb, "rip=192.0.2.1\0x", 15, &ss));
	assert_false(tw_logban_match(lb, "", 0, &ss));
	assert_false(tw_logban_match(NULL, "rip=192.0.2.1", 13, &ss));
	tw_logban_free(lb);
}

/* ---- the line splitter ---- */

typedef struct lines {
	char text[8192];
	size_t n;
} lines_t;

static void on_line(void *arg, const char *line, size_t len)
{
	lines_t *l = arg;
	size_t used = strlen(l->text);
	snprintf(l->text + used, sizeof(l->text) - used, "%.*s|", (int)len, line);
	l->n++;
}

static const struct {
	const char *feeds[6]; /* fed in order */
	const char *want;     /* delivered lines, each followed by "|" */
	size_t partial;       /* bytes held afterwards */
} split_cases[] = {
        {{"one\ntwo\n"}, "one|two|", 0},
        {{"one\ntw", "o\nthr", "ee"}, "one|two|", 5},
        {{"one\ntw", "o\nthr", "ee", "\n"}, "one|two|three|", 0},
        {{"a\r\nb\r", "\nc\n"}, "a|b|c|", 0},
        {{"\n\n", "x\n"}, "||x|", 0},
        {{"", "", "a", "", "\n"}, "a|", 0},
        {{"no newline"}, "", 10},
};

static void test_linebuf_split(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(split_cases); i++) {
		tw_linebuf_t *b = calloc(1, sizeof(*b));
		lines_t l = {.text = ""};
		size_t delivered = 0;
		for (size_t k = 0; k < 6 && split_cases[i].feeds[k]; k++) {
			const char *f = split_cases[i].feeds[k];
			delivered += tw_linebuf_feed(b, f, strlen(f), on_line, &l);
		}
		assert_string_equal(l.text, split_cases[i].want);
		assert_int_equal(delivered, l.n);
		assert_int_equal(b->lines, l.n);
		assert_int_equal(b->len, split_cases[i].partial);
		assert_int_equal(b->overlong, 0);
		free(b);
	}
}

static void test_linebuf_byte_by_byte(void **state)
{
	const char *log =
	        "Nov 27 07:23:19 mx postfix/smtpd[26901]: warning: unknown[203.0.113.9]: SASL "
	        "LOGIN "
	        "authentication failed: UGFzc3dvcmQ6\n"
	        "Nov 27 07:23:20 mx postfix/smtpd[26901]: disconnect from unknown[203.0.113.9]\n"
	        "Nov 27 07:25:02 mx postfix/smtpd[26950]: warning: unknown[2001:db8::25]: SASL "
	        "PLAIN "
	        "authentication failed: authentication failure\n";
	lines_t whole = {.text = ""}, bytes = {.text = ""};
	tw_linebuf_t *b = calloc(1, sizeof(*b));
	assert_int_equal(tw_linebuf_feed(b, log, strlen(log), on_line, &whole), 3);
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < strlen(log); i++)
		tw_linebuf_feed(b, log + i, 1, on_line, &bytes);
	assert_string_equal(whole.text, bytes.text);
	assert_int_equal(bytes.n, 3);
	free(b);
}

static void test_linebuf_overlong(void **state)
{
	tw_linebuf_t *b = calloc(1, sizeof(*b));
	lines_t l = {.text = ""};
	static char big[TW_LOGBAN_LINE_MAX + 1];
	memset(big, 'y', sizeof(big));

	/* 4096 bytes in three feeds: delivered whole. */
	tw_linebuf_feed(b, big, 1000, on_line, &l);
	tw_linebuf_feed(b, big, 3000, on_line, &l);
	tw_linebuf_feed(b, big, 96, on_line, &l);
	assert_int_equal(tw_linebuf_feed(b, "\n", 1, on_line, &l), 1);
	assert_int_equal(strlen(l.text), TW_LOGBAN_LINE_MAX + 1);
	/* ... also with "\r\n". */
	memset(&l, 0, sizeof(l));
	tw_linebuf_feed(b, big, TW_LOGBAN_LINE_MAX, on_line, &l);
	assert_int_equal(tw_linebuf_feed(b, "\r\n", 2, on_line, &l), 1);
	assert_int_equal(strlen(l.text), TW_LOGBAN_LINE_MAX + 1);

	/* 4097 bytes, in one feed or several: dropped, counted, and the
	 * splitter is in step again at the next line. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(tw_linebuf_feed(b, big, sizeof(big), on_line, &l), 0);
	assert_int_equal(tw_linebuf_feed(b, "\nok\n", 4, on_line, &l), 1);
	assert_string_equal(l.text, "ok|");
	assert_int_equal(b->overlong, 1);

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < 20; i++)
		assert_int_equal(tw_linebuf_feed(b, big, 1000, on_line, &l), 0);
	assert_int_equal(b->overlong, 2);
	assert_int_equal(tw_linebuf_feed(b, "tail of it\nnext\nhalf", 20, on_line, &l), 1);
	assert_string_equal(l.text, "next|");
	assert_int_equal(b->len, 4);

	/* A long line ending exactly at a feed's end is found at the newline. */
	memset(&l, 0, sizeof(l));
	tw_linebuf_reset(b);
	assert_int_equal(b->len, 0);
	tw_linebuf_feed(b, big, sizeof(big), on_line, &l);
	assert_int_equal(tw_linebuf_feed(b, "\n", 1, on_line, &l), 0);
	assert_int_equal(b->overlong, 3);
	assert_int_equal(tw_linebuf_feed(b, "z\n", 2, on_line, &l), 1);
	assert_string_equal(l.text, "z|");

	/* Reset drops the unfinished line but keeps the counters. */
	uint64_t lines = b->lines;
	tw_linebuf_feed(b, "half a li", 9, on_line, &l);
	tw_linebuf_reset(b);
	tw_linebuf_feed(b, "new\n", 4, on_line, &l);
	assert_string_equal(l.text, "z|new|");
	assert_int_equal(b->lines, lines + 1);
	free(b);
}

typedef struct hits {
	const tw_logban_t *lb;
	char ips[512];
} hits_t;

static void match_line(void *arg, const char *line, size_t len)
{
	hits_t *h = arg;
	struct sockaddr_storage ss;
	if (!tw_logban_match(h->lb, line, len, &ss))
		return;
	char ip[64];
	tw_addr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip));
	size_t used = strlen(h->ips);
	snprintf(h->ips + used, sizeof(h->ips) - used, "%s ", ip);
}

static void test_tail_a_log(void **state)
{
	/* What the trigger does: a growing file read in arbitrary pieces. */
	const char *log =
	        "Nov 27 07:30:11 mx dovecot: imap-login: Disconnected: Connection closed (auth "
	        "failed, 3 attempts in 15 secs): user=<bob>, method=PLAIN, rip=2001:db8::7, "
	        "lip=10.0.0.2, session=<abc>\n"
	        "Nov 27 07:30:12 mx dovecot: imap-login: Login: user=<bob>, method=PLAIN, "
	        "rip=2001:db8::8, lip=10.0.0.2\n"
	        "Nov 27 07:31:45 mx dovecot: pop3-login: Disconnected (auth failed, 1 attempts in "
	        "2 "
	        "secs): user=<alice>, method=LOGIN, rip=198.51.100.23, lip=10.0.0.2, TLS\n"
	        "Nov 27 07:32:02 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in "
	        "4 "
	        "secs): user=<carol>, method=PLAIN, rip=::ffff:192.0.2.200, lip=10.0.0.2\n";
	tw_logban_t *lb;
	char err[256];
	assert_int_equal(tw_logban_compile(DOVECOT_PAT, &lb, err, sizeof(err)), 0);
	static const size_t piece[] = {1, 7, 64, 100, 4096};
	for (size_t p = 0; p < TW_ARRAY_LEN(piece); p++) {
		tw_linebuf_t *b = calloc(1, sizeof(*b));
		hits_t h = {.lb = lb, .ips = ""};
		size_t n = strlen(log);
		for (size_t off = 0; off < n; off += piece[p])
			tw_linebuf_feed(b, log + off, n - off < piece[p] ? n - off : piece[p],
			                match_line, &h);
		assert_string_equal(h.ips, "2001:db8::7 198.51.100.23 192.0.2.200 ");
		assert_int_equal(b->lines, 4);
		free(b);
	}
	tw_logban_free(lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match),
	        cmocka_unit_test(test_compile_errors),
	        cmocka_unit_test(test_line_bounds),
	        cmocka_unit_test(test_linebuf_split),
	        cmocka_unit_test(test_linebuf_byte_by_byte),
	        cmocka_unit_test(test_linebuf_overlong),
	        cmocka_unit_test(test_tail_a_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
