#include "util/tw.h"

#include "util/addr.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const struct {
	const char *in;
	int family;
	const char *ip; /* as tw_addr_format_ip prints it */
	uint16_t port;
} listen_ok[] = {
        {"0.0.0.0:25", AF_INET, "0.0.0.0", 25},
        {"[::]:443", AF_INET6, "::", 443},
        {"127.0.0.1:2525", AF_INET, "127.0.0.1", 2525},
        {"[::1]:993", AF_INET6, "::1", 993},
        {"[2001:db8::1]:65535", AF_INET6, "2001:db8::1", 65535},
        {"[::ffff:10.1.2.3]:25", AF_INET, "10.1.2.3", 25}, /* unmapped */
        {"1.2.3.4:0", AF_INET, "1.2.3.4", 0},              /* kernel picks: tests */
};

static void test_listen_ok(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(listen_ok); i++) {
		struct sockaddr_storage ss;
		socklen_t len = 0;
		char err[256] = "", ip[64];
		int r = tw_addr_parse_listen(listen_ok[i].in, &ss, &len, err, sizeof(err));
		if (r != 0)
			fail_msg("%s: %s", listen_ok[i].in, err);
		assert_int_equal(ss.ss_family, listen_ok[i].family);
		assert_int_equal(len, listen_ok[i].family == AF_INET ? sizeof(struct sockaddr_in)
		                                                     : sizeof(struct sockaddr_in6));
		tw_addr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip));
		assert_string_equal(ip, listen_ok[i].ip);
		assert_int_equal(tw_addr_port((struct sockaddr *)&ss), listen_ok[i].port);
	}
}

static const struct {
	const char *in;
	const char *err;
} listen_bad[] = {
        {"", "empty address: write IP:PORT, like 0.0.0.0:25 or [::]:25"},
        {":25", "missing address in \":25\": write 0.0.0.0:25 for IPv4 or [::]:25 for IPv6"},
        {"25", "missing address in \"25\": write 0.0.0.0:25 for IPv4 or [::]:25 for IPv6"},
        {"0.0.0.0", "missing port in \"0.0.0.0\": write 0.0.0.0:PORT"},
        {"0.0.0.0:", "missing port in \"0.0.0.0:\": write 0.0.0.0:PORT"},
        {"[::]", "missing port in \"[::]\": write [::]:PORT"},
        {"[::]:", "missing port in \"[::]:\": write [::]:PORT"},
        {"::", "IPv6 address in \"::\" needs brackets: write [ADDRESS]:PORT"},
        {"::1:25", "IPv6 address in \"::1:25\" needs brackets: write [::1]:25"},
        {"2001:db8::1:443",
         "IPv6 address in \"2001:db8::1:443\" needs brackets: write [2001:db8::1]:443"},
        {"[::1", "missing \"]\" in \"[::1\""},
        {"[::1]25", "unexpected text after \"]\" in \"[::1]25\""},
        {"[1.2.3.4]:25",
         "only IPv6 addresses go in brackets in \"[1.2.3.4]:25\": write 1.2.3.4:PORT"},
        {"[zz]:25", "\"zz\" is not an IPv6 address"},
        {"[fe80::1%eth0]:25", "zone ids are not supported in \"[fe80::1%eth0]:25\""},
        {"localhost:25",
         "\"localhost\" is not an IP address: a listen address is literal, like 127.0.0.1:25 or "
         "[::1]:25"},
        {"1.2.3.256:25", "\"1.2.3.256\" is not a valid IPv4 address"},
        {"01.2.3.4:25", "\"01.2.3.4\" is not a valid IPv4 address"},
        {"1.2.3:25", "\"1.2.3\" is not a valid IPv4 address"},
        {"1.2.3.4:65536",
         "bad port \"65536\" in \"1.2.3.4:65536\": expected a number from 1 to 65535"},
        {"1.2.3.4:http",
         "bad port \"http\" in \"1.2.3.4:http\": expected a number from 1 to 65535"},
        {"1.2.3.4:+25", "bad port \"+25\" in \"1.2.3.4:+25\": expected a number from 1 to 65535"},
        {"1.2.3.4:25 ", "bad port \"25 \" in \"1.2.3.4:25 \": expected a number from 1 to 65535"},
        {" 1.2.3.4:25", "\" 1.2.3.4\" is not an IP address: a listen address is literal, like "
                        "127.0.0.1:25 or [::1]:25"},
        {"1.2.3.4:\x01",
         "bad port \"\\x01\" in \"1.2.3.4:\\x01\": expected a number from 1 to 65535"},
};

static void test_listen_bad(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(listen_bad); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char err[256] = "";
		int r = tw_addr_parse_listen(listen_bad[i].in, &ss, &len, err, sizeof(err));
		if (r != TW_EINVAL || strcmp(err, listen_bad[i].err) != 0)
			fail_msg("%s: r=%d err=[%s] want [%s]", listen_bad[i].in, r, err,
			         listen_bad[i].err);
	}
}

static const struct {
	const char *in, *host;
	uint16_t port;
} hp_ok[] = {
        {"stalwart.tail0000.ts.net:25", "stalwart.tail0000.ts.net", 25},
        {"mail:587", "mail", 587},
        {"10.0.0.1:25", "10.0.0.1", 25},
        {"[2001:db8::1]:993", "2001:db8::1", 993},
        {"[::ffff:1.2.3.4]:25", "::ffff:1.2.3.4", 25},
        {"a_b.example:1", "a_b.example", 1},
        {"host.example.:65535", "host.example.", 65535},
        {"xn--bcher-kva.example:443", "xn--bcher-kva.example", 443},
        {"1a.example:25", "1a.example", 25},
};

static void test_hostport_ok(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(hp_ok); i++) {
		char host[256] = "", err[256] = "";
		uint16_t port = 0;
		int r = tw_addr_parse_hostport(hp_ok[i].in, host, sizeof(host), &port, err,
		                               sizeof(err));
		if (r != 0)
			fail_msg("%s: %s", hp_ok[i].in, err);
		assert_string_equal(host, hp_ok[i].host);
		assert_int_equal(port, hp_ok[i].port);
	}
}

static const struct {
	const char *in, *err;
} hp_bad[] = {
        {"", "empty address: write HOST:PORT, like mail.example.com:25"},
        {"mail.example.com", "missing port in \"mail.example.com\": write mail.example.com:PORT"},
        {"[::1]", "missing port in \"[::1]\": write [::1]:PORT"},
        {":25", "missing host in \":25\": write HOST:PORT"},
        {"mail:0", "bad port \"0\" in \"mail:0\": expected a number from 1 to 65535"},
        {"mail:-1", "bad port \"-1\" in \"mail:-1\": expected a number from 1 to 65535"},
        {"::1:25", "IPv6 address in \"::1:25\" needs brackets: write [::1]:25"},
        {"1.2.3.256:25", "\"1.2.3.256\" is not a valid IPv4 address"},
        {"bad host:25",
         "\"bad host\" is not a valid host name: use letters, digits, \"-\" and \".\""},
        {"-bad.example:25",
         "\"-bad.example\" is not a valid host name: use letters, digits, \"-\" and \".\""},
        {"bad-.example:25",
         "\"bad-.example\" is not a valid host name: use letters, digits, \"-\" and \".\""},
        {"a..b:25", "\"a..b\" is not a valid host name: use letters, digits, \"-\" and \".\""},
        {"[mail.example]:25",
         "only IPv6 addresses go in brackets in \"[mail.example]:25\": write mail.example:PORT"},
        {"[1.2.3.4]:25",
         "only IPv6 addresses go in brackets in \"[1.2.3.4]:25\": write 1.2.3.4:PORT"},
        {"[fe80::1%eth0]:25", "zone ids are not supported in \"[fe80::1%eth0]:25\""},
        {"x@y:25", "\"x@y\" is not a valid host name: use letters, digits, \"-\" and \".\""},
};

static void test_hostport_bad(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(hp_bad); i++) {
		char host[256], err[256] = "";
		uint16_t port;
		int r = tw_addr_parse_hostport(hp_bad[i].in, host, sizeof(host), &port, err,
		                               sizeof(err));
		if (r != TW_EINVAL || strcmp(err, hp_bad[i].err) != 0)
			fail_msg("%s: r=%d err=[%s] want [%s]", hp_bad[i].in, r, err,
			         hp_bad[i].err);
	}
}

static void test_hostport_limits(void **state)
{
	char host[8], err[256];
	uint16_t port;
	/* 64-character label: one too many. */
	char lbl[100];
	memset(lbl, 'a', 64);
	memcpy(lbl + 64, ".x:25", 6);
	assert_int_equal(tw_addr_parse_hostport(lbl, host, sizeof(host), &port, err, sizeof(err)),
	                 TW_EINVAL);
	memset(lbl, 'a', 63);
	memcpy(lbl + 63, ".x:25", 6);
	char big[256];
	assert_int_equal(tw_addr_parse_hostport(lbl, big, sizeof(big), &port, err, sizeof(err)), 0);
	/* host_out too small for a valid name */
	assert_int_equal(tw_addr_parse_hostport("longer.example:25", host, sizeof(host), &port, err,
	                                        sizeof(err)),
	                 TW_EINVAL);
	assert_string_equal(err, "host name too long in \"longer.example:25\"");
}

static const struct {
	const char *in;
	int family;
	const char *net; /* inet_ntop of the stored address */
	unsigned prefix;
} cidr_ok[] = {
        {"10.0.0.0/8", AF_INET, "10.0.0.0", 8},
        {"127.0.0.0/8", AF_INET, "127.0.0.0", 8},
        {"100.64.0.0/10", AF_INET, "100.64.0.0", 10},
        {"1.2.3.4", AF_INET, "1.2.3.4", 32},
        {"0.0.0.0/0", AF_INET, "0.0.0.0", 0},
        {"::1/128", AF_INET6, "::1", 128},
        {"::1", AF_INET6, "::1", 128},
        {"fd7a:115c:a1e0::/48", AF_INET6, "fd7a:115c:a1e0::", 48},
        {"::/0", AF_INET6, "::", 0},
        {"::ffff:10.0.0.0/104", AF_INET, "10.0.0.0", 8},
        {"::ffff:1.2.3.4", AF_INET, "1.2.3.4", 32},
        {"::ffff:0:0/96", AF_INET, "0.0.0.0", 0}, /* all of v4-mapped: all of IPv4 */
        {"::/80", AF_INET6, "::", 80},            /* shorter than /96 stays IPv6 */
        {"192.168.1.0/24", AF_INET, "192.168.1.0", 24},
        {"10.0.0.0/08", AF_INET, "10.0.0.0", 8},
};

static void test_cidr_ok(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(cidr_ok); i++) {
		tw_cidr_t c;
		char err[256] = "", ip[64];
		int r = tw_cidr_parse(cidr_ok[i].in, &c, err, sizeof(err));
		if (r != 0)
			fail_msg("%s: %s", cidr_ok[i].in, err);
		assert_int_equal(c.family, cidr_ok[i].family);
		assert_int_equal(c.prefix, cidr_ok[i].prefix);
		inet_ntop(c.family, c.addr, ip, sizeof(ip));
		assert_string_equal(ip, cidr_ok[i].net);
	}
}

static const struct {
	const char *in, *err;
} cidr_bad[] = {
        {"", "empty network: write an address or ADDRESS/LENGTH"},
        {"10.0.0.1/8", "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?"},
        {"192.168.1.1/24", "192.168.1.1/24 has host bits set: did you mean 192.168.1.0/24?"},
        {"fd7a:115c:a1e0::1/48",
         "fd7a:115c:a1e0::1/48 has host bits set: did you mean fd7a:115c:a1e0::/48?"},
        {"10.0.0.0/33",
         "bad prefix length \"33\" in \"10.0.0.0/33\": expected a number from 0 to 32"},
        {"::/129", "bad prefix length \"129\" in \"::/129\": expected a number from 0 to 128"},
        {"10.0.0.0/", "bad prefix length \"\" in \"10.0.0.0/\": expected a number from 0 to 32"},
        {"10.0.0.0/x", "bad prefix length \"x\" in \"10.0.0.0/x\": expected a number from 0 to 32"},
        {"10.0.0.0/-1",
         "bad prefix length \"-1\" in \"10.0.0.0/-1\": expected a number from 0 to 32"},
        {"10.0.0.0/8/8",
         "bad prefix length \"8/8\" in \"10.0.0.0/8/8\": expected a number from 0 to 32"},
        {"x", "\"x\" is not an IP address or network"},
        {"10.0.0/8", "\"10.0.0\" is not an IP address in \"10.0.0/8\""},
        {"[::1]/128", "no brackets in a network: write \"[::1]/128\" without them"},
        {"mail.example", "\"mail.example\" is not an IP address or network"},
};

static void test_cidr_bad(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(cidr_bad); i++) {
		tw_cidr_t c;
		char err[256] = "";
		int r = tw_cidr_parse(cidr_bad[i].in, &c, err, sizeof(err));
		if (r != TW_EINVAL || strcmp(err, cidr_bad[i].err) != 0)
			fail_msg("%s: r=%d err=[%s] want [%s]", cidr_bad[i].in, r, err,
			         cidr_bad[i].err);
	}
}

static struct sockaddr_storage sa(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return ss;
}

static const struct {
	const char *cidr, *ip;
	bool match;
} matches[] = {
        {"10.0.0.0/8", "10.1.2.3", true},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"10.0.0.0/8", "::ffff:10.9.9.9", true}, /* v4-mapped client on a v6 socket */
        {"10.0.0.0/8", "::ffff:11.9.9.9", false},
        {"100.64.0.0/10", "100.127.255.255", true},
        {"100.64.0.0/10", "100.128.0.0", false},
        {"1.2.3.4", "1.2.3.4", true},
        {"1.2.3.4", "1.2.3.5", false},
        {"0.0.0.0/0", "203.0.113.9", true},
        {"0.0.0.0/0", "2001:db8::1", false},
        {"::/0", "2001:db8::1", true},
        {"::/0", "1.2.3.4", false}, /* IPv6 networks never match IPv4 clients */
        {"fd7a:115c:a1e0::/48", "fd7a:115c:a1e0:ab12::1", true},
        {"fd7a:115c:a1e0::/48", "fd7a:115c:a1e1::1", false},
        {"::1/128", "::1", true},
        {"::1/128", "::2", false},
        {"2001:db8::/33", "2001:db8:7fff::1", true},
        {"2001:db8::/33", "2001:db8:8000::1", false},
};

static void test_cidr_match(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(matches); i++) {
		tw_cidr_t c;
		assert_int_equal(tw_cidr_parse(matches[i].cidr, &c, NULL, 0), 0);
		struct sockaddr_storage ss = sa(matches[i].ip);
		if (tw_cidr_match(&c, (struct sockaddr *)&ss) != matches[i].match)
			fail_msg("%s vs %s: want %d", matches[i].cidr, matches[i].ip,
			         matches[i].match);
	}
	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	tw_cidr_t c;
	assert_int_equal(tw_cidr_parse("0.0.0.0/0", &c, NULL, 0), 0);
	assert_false(tw_cidr_match(&c, (struct sockaddr *)&un));
}

static void test_format(void **state)
{
	char buf[64];
	struct sockaddr_storage ss = sa("192.0.2.7");
	((struct sockaddr_in *)&ss)->sin_port = htons(25);
	tw_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7:25");
	tw_addr_format_ip((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.7");

	ss = sa("2001:db8::1");
	((struct sockaddr_in6 *)&ss)->sin6_port = htons(443);
	tw_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:443");
	assert_int_equal(tw_addr_port((struct sockaddr *)&ss), 443);
	assert_int_equal(tw_addr_len((struct sockaddr *)&ss), sizeof(struct sockaddr_in6));

	ss = sa("::ffff:198.51.100.1");
	((struct sockaddr_in6 *)&ss)->sin6_port = htons(993);
	tw_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.1:993");

	char tiny[5];
	tw_addr_format((struct sockaddr *)&ss, tiny, sizeof(tiny));
	assert_string_equal(tiny, "198.");

	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	tw_addr_format_ip((struct sockaddr *)&un, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	assert_int_equal(tw_addr_len((struct sockaddr *)&un), 0);
	assert_int_equal(tw_addr_port((struct sockaddr *)&un), 0);
}

static void test_unmap(void **state)
{
	struct sockaddr_storage ss = sa("::ffff:10.0.0.1");
	((struct sockaddr_in6 *)&ss)->sin6_port = htons(587);
	assert_true(tw_addr_unmap_v4(&ss));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(tw_addr_port((struct sockaddr *)&ss), 587);
	char buf[64];
	tw_addr_format((struct sockaddr *)&ss, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1:587");
	assert_false(tw_addr_unmap_v4(&ss)); /* already IPv4 */
	ss = sa("2001:db8::1");
	assert_false(tw_addr_unmap_v4(&ss));
	assert_int_equal(ss.ss_family, AF_INET6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_listen_ok),       cmocka_unit_test(test_listen_bad),
	        cmocka_unit_test(test_hostport_ok),     cmocka_unit_test(test_hostport_bad),
	        cmocka_unit_test(test_hostport_limits), cmocka_unit_test(test_cidr_ok),
	        cmocka_unit_test(test_cidr_bad),        cmocka_unit_test(test_cidr_match),
	        cmocka_unit_test(test_format),          cmocka_unit_test(test_unmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
