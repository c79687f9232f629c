#include "util/tw.h"

#include "edge/proxy_proto.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <sys/un.h>

#include <cmocka.h>

#define VEC_DIR "tests/vectors/proxy/"
#define ANY_LEN TW_PROXY_V2_MAX_LEN

/* ---- helpers ---------------------------------------------------------- */

static int hexnib(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a .hex vector (hex text, whitespace ignored) into buf; returns the
 * byte count. Fails the test if the file is missing or not hex. */
static size_t read_hex(const char *rel, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n = 0;
	int c, hi = -1;

	snprintf(path, sizeof(path), VEC_DIR "%s", rel);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	while ((c = fgetc(f)) != EOF) {
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		int v = hexnib(c);
		if (v < 0)
			fail_msg("%s: not hex: %c", path, c);
		if (hi < 0) {
			hi = v;
			continue;
		}
		assert_true(n < cap);
		buf[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	fclose(f);
	assert_int_equal(hi, -1);
	return n;
}

static void ip_text(const struct sockaddr_storage *ss, char *buf, size_t size, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s->sin_addr, buf, (socklen_t)size);
		*port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, buf, (socklen_t)size);
		*port = ntohs(s->sin6_port);
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *s = (const struct sockaddr_un *)ss;
		snprintf(buf, size, "%.*s", (int)sizeof(s->sun_path), s->sun_path);
		*port = 0;
	} else {
		snprintf(buf, size, "-");
		*port = 0;
	}
}

static void mk4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &s->sin_addr), 1);
}

static void mk6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &s->sin6_addr), 1);
}

static void mk(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	if (strchr(ip, ':'))
		mk6(ss, ip, port);
	else
		mk4(ss, ip, port);
}

/* ---- vectors ---------------------------------------------------------- */

struct vec {
	const char *file;
	int rc;
	size_t consumed; /* rc == 0 */
	int family;
	bool local, stream;
	const char *src, *dst; /* inet_ntop text, or UNIX path */
	uint16_t sport, dport;
	const char *authority, *alpn, *uid; /* uid as lowercase hex */
	bool crc, ssl;
	const char *err; /* substring of the error text (EINVAL) */
};

#define OK4(f, n, s, sp, d, dp)                                                                    \
	.file = f, .rc = 0, .consumed = n, .family = AF_INET, .stream = true, .src = s,            \
	.sport = sp, .dst = d, .dport = dp
#define OK6(f, n, s, sp, d, dp)                                                                    \
	.file = f, .rc = 0, .consumed = n, .family = AF_INET6, .stream = true, .src = s,           \
	.sport = sp, .dst = d, .dport = dp
#define LOCAL(f, n) .file = f, .rc = 0, .consumed = n, .family = AF_UNSPEC, .local = true
#define BAD(f, e)   .file = f, .rc = TW_EINVAL, .err = e
#define MORE(f)     .file = f, .rc = TW_EAGAIN

/* The built vectors use 192.0.2.1:56324 -> 198.51.100.2:443. */
#define OKDOC(f, n) OK4(f, n, "192.0.2.1", 56324, "198.51.100.2", 443)

static const struct vec vecs[] = {
        {OK4("v1/haproxy-2.6-send-proxy.hex", 44, "127.0.0.1", 49118, "127.0.0.1", 18111)},
        {OK4("v1/tcp4-max.hex", 56, "255.255.255.255", 65535, "255.255.255.255", 65535)},
        {OK4("v1/tcp4-spec-example.hex", 47, "192.168.0.1", 56324, "192.168.0.11", 443)},
        {OK6("v1/tcp6-doc.hex", 45, "2001:db8::1", 51234, "2001:db8::2", 25)},
        {OK6("v1/tcp6-max.hex", 104, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)},
        {LOCAL("v1/unknown-short.hex", 15)},
        {LOCAL("v1/unknown-worst-case.hex", 107)},

        {OK4("v2/haproxy-2.6-tcp4-crc32c-unique-id.hex", 46, "127.0.0.1", 42644, "127.0.0.1",
             18101),
         .crc = true, .uid = "7265712d30303031"},
        {LOCAL("v2/local-unspec.hex", 16)},
        {LOCAL("v2/local-with-ipv4-addr.hex", 28)},
        {LOCAL("v2/proxy-unspec.hex", 16)},
        {OKDOC("v2/tcp4.hex", 28)},
        {OKDOC("v2/tcp4-with-payload.hex", 28)},
        {OKDOC("v2/tcp4-tlv-alpn.hex", 33), .alpn = "h2"},
        {OKDOC("v2/tcp4-tlv-authority.hex", 47), .authority = "mail.example.com"},
        {OKDOC("v2/tcp4-tlv-crc32c.hex", 35), .crc = true},
        {OKDOC("v2/tcp4-tlv-custom-e0.hex", 39)},
        {OKDOC("v2/tcp4-tlv-noop.hex", 36)},
        {OKDOC("v2/tcp4-tlv-noop-empty.hex", 31)},
        {OKDOC("v2/tcp4-tlv-unique-id.hex", 47), .uid = "000102030405060708090a0b0c0d0e0f"},
        {OKDOC("v2/tcp4-tlv-ssl.hex", 90), .ssl = true},
        {OKDOC("v2/tcp4-tlv-ssl-client-cert.hex", 97), .ssl = true},
        {OKDOC("v2/tcp4-tlv-all.hex", 150), .alpn = "http/1.1", .authority = "www.example.org",
         .uid = "7265712d30303031", .ssl = true, .crc = true},
        {OK6("v2/tcp6.hex", 52, "2001:db8::1", 51234, "2001:db8::2", 25)},
        {OK6("v2/tcp6-tlv-alpn-authority-crc32c.hex", 83, "2001:db8::1", 51234, "2001:db8::2", 25),
         .alpn = "smtp", .authority = "mx.example.net", .crc = true},
        {.file = "v2/udp4.hex",
         .consumed = 28,
         .family = AF_INET,
         .src = "192.0.2.1",
         .sport = 5353,
         .dst = "198.51.100.2",
         .dport = 53},
        {.file = "v2/udp6.hex",
         .consumed = 52,
         .family = AF_INET6,
         .src = "2001:db8::1",
         .sport = 5353,
         .dst = "2001:db8::2",
         .dport = 53},
        {.file = "v2/unix-stream.hex",
         .consumed = 232,
         .family = AF_UNIX,
         .stream = true,
         .src = "/var/run/client.sock",
         .dst = "/var/run/server.sock"},
        {.file = "v2/unix-dgram.hex",
         .consumed = 232,
         .family = AF_UNIX,
         .src = "/tmp/a",
         .dst = "/tmp/b"},

        {BAD("malformed/mixed-v1-prefix-v2.hex", "v1 protocol empty")},
        {BAD("malformed/v1-bad-proto.hex", "v1 protocol \"TCP5\" unknown")},
        {BAD("malformed/v1-double-space.hex", "v1 source address empty")},
        {BAD("malformed/v1-leading-zero-port.hex", "v1 port \"01234\" has a leading zero")},
        {BAD("malformed/v1-lf-only.hex", "v1 line ends with a bare LF")},
        {BAD("malformed/v1-lowercase.hex", "not a PROXY header: starts with \"proxy TC\"")},
        {BAD("malformed/v1-no-crlf-108.hex", "v1 line has no CRLF within 107 bytes")},
        {BAD("malformed/v1-port-overflow.hex", "v1 port \"65536\" out of range")},
        {BAD("malformed/v1-tcp4-with-ipv6.hex",
             "v1 source address \"2001:db8::1\" is not a valid IPv4 address")},
        {BAD("malformed/v2-bad-command.hex", "v2 command 0x2 unknown")},
        {BAD("malformed/v2-bad-family.hex", "v2 address family 0x4 invalid")},
        {BAD("malformed/v2-bad-signature.hex", "v2 signature mismatch")},
        {BAD("malformed/v2-bad-signature-nul.hex", "v2 signature mismatch")},
        {BAD("malformed/v2-bad-transport.hex", "v2 transport protocol 0x3 invalid")},
        {BAD("malformed/v2-bad-version-1.hex", "v2 version 1 unsupported (want 2)")},
        {BAD("malformed/v2-bad-version-3.hex", "v2 version 3 unsupported (want 2)")},
        {BAD("malformed/v2-crc32c-mismatch.hex",
             "v2 CRC32C 0x20ec9548 does not match the header (computed 0x20ec9549)")},
        {BAD("malformed/v2-len-too-short-for-ipv4.hex",
             "v2 length 8 too short for the IPv4 address block (12 bytes)")},
        {BAD("malformed/v2-len-too-short-for-ipv6.hex",
             "v2 length 20 too short for the IPv6 address block (36 bytes)")},
        {BAD("malformed/v2-len-too-short-for-unix.hex",
             "v2 length 100 too short for the UNIX address block (216 bytes)")},
        {MORE("malformed/v2-length-exceeds-buffer-by-1.hex")},
        {MORE("malformed/v2-length-overflow.hex")},
        {BAD("malformed/v2-ssl-subtlv-overflow.hex",
             "v2 SSL sub-TLV 0x21 length 64 runs past the SSL TLV (7 bytes left)")},
        {BAD("malformed/v2-ssl-too-short.hex", "v2 SSL TLV of 2 bytes too short")},
        {BAD("malformed/v2-tlv-length-overflow.hex",
             "v2 TLV 0x02 length 32 runs past the header end (7 bytes left)")},
        {BAD("malformed/v2-tlv-truncated-2.hex", "v2 TLV truncated (2 of 3 header bytes)")},
        {BAD("malformed/v2-tlv-truncated-type-only.hex", "v2 TLV truncated (1 of 3 header bytes)")},
        {MORE("malformed/v2-truncated-address.hex")},
        {MORE("malformed/v2-truncated-header-10.hex")},
        {MORE("malformed/v2-truncated-header-15.hex")},
        {BAD("malformed/v2-unique-id-too-long.hex", "v2 UNIQUE_ID TLV length 129 over 128")},
};

static const struct vec *find_vec(const char *file)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(vecs); i++)
		if (strcmp(vecs[i].file, file) == 0)
			return &vecs[i];
	return NULL;
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * n] = '\0';
}

static void check_info(const struct vec *v, const tw_proxy_info_t *pi)
{
	char a[INET6_ADDRSTRLEN + 120], hex[2 * TW_PROXY_UNIQUE_ID_MAX + 1];
	uint16_t port;

	assert_int_equal(pi->family, v->family);
	assert_int_equal(pi->local, v->local);
	assert_int_equal(pi->stream, v->stream);
	if (v->local) {
		assert_int_equal(pi->src.ss_family, AF_UNSPEC);
		assert_int_equal(pi->dst.ss_family, AF_UNSPEC);
	} else {
		ip_text(&pi->src, a, sizeof(a), &port);
		assert_string_equal(a, v->src);
		assert_int_equal(port, v->sport);
		ip_text(&pi->dst, a, sizeof(a), &port);
		assert_string_equal(a, v->dst);
		assert_int_equal(port, v->dport);
	}
	assert_string_equal(pi->authority, v->authority ? v->authority : "");
	assert_int_equal(pi->authority_len, v->authority ? strlen(v->authority) : 0);
	assert_int_equal(pi->alpn_len, v->alpn ? strlen(v->alpn) : 0);
	if (v->alpn)
		assert_memory_equal(pi->alpn, v->alpn, pi->alpn_len);
	hex_of(pi->unique_id, pi->unique_id_len, hex);
	assert_string_equal(hex, v->uid ? v->uid : "");
	assert_int_equal(pi->crc32c_ok, v->crc);
	assert_int_equal(pi->ssl, v->ssl);
}

static void test_vectors(void **state)
{
	uint8_t buf[1024];
	tw_proxy_info_t pi;
	char err[256];
	size_t consumed;

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(vecs); i++) {
		const struct vec *v = &vecs[i];
		size_t n = read_hex(v->file, buf, sizeof(buf));
		int rc;

		err[0] = '\0';
		rc = tw_proxy_parse(buf, n, ANY_LEN, &pi, &consumed, err, sizeof(err));
		if (rc != v->rc)
			fail_msg("%s: rc %d (%s), want %d", v->file, rc, err, v->rc);
		if (rc == 0) {
			assert_int_equal(consumed, v->consumed);
			assert_int_equal(pi.version, v->file[1] == '1' ? 1 : 2);
			check_info(v, &pi);
		} else if (v->err && !strstr(err, v->err)) {
			fail_msg("%s: error \"%s\", want \"%s\"", v->file, err, v->err);
		}
	}
}

/* Every .hex file shipped must have an expectation above. */
static void test_vectors_all_listed(void **state)
{
	static const char *const dirs[] = {"v1", "v2", "malformed"};
	size_t seen = 0;

	TW_UNUSED(state);
	for (size_t d = 0; d < TW_ARRAY_LEN(dirs); d++) {
		char path[256];
		DIR *dir;
		struct dirent *de;

		snprintf(path, sizeof(path), VEC_DIR "%s", dirs[d]);
		dir = opendir(path);
		assert_non_null(dir);
		while ((de = readdir(dir))) {
			size_t l = strlen(de->d_name);
			char rel[300];

			if (l < 5 || strcmp(de->d_name + l - 4, ".hex") != 0)
				continue;
			snprintf(rel, sizeof(rel), "%s/%s", dirs[d], de->d_name);
			if (!find_vec(rel))
				fail_msg("vector %s has no expectation in the table", rel);
			seen++;
		}
		closedir(dir);
	}
	assert_int_equal(seen, TW_ARRAY_LEN(vecs));
}

/* The v1 .txt files hold the same bytes as their .hex twins. */
static void test_v1_txt_twins(void **state)
{
	static const char *const names[] = {"haproxy-2.6-send-proxy",
	                                    "tcp4-max",
	                                    "tcp4-spec-example",
	                                    "tcp6-doc",
	                                    "tcp6-max",
	                                    "unknown-short",
	                                    "unknown-worst-case"};

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(names); i++) {
		uint8_t hex[256], txt[256];
		char rel[128], path[256];
		size_t nh, nt;
		FILE *f;

		snprintf(rel, sizeof(rel), "v1/%s.hex", names[i]);
		nh = read_hex(rel, hex, sizeof(hex));
		snprintf(path, sizeof(path), VEC_DIR "v1/%s.txt", names[i]);
		f = fopen(path, "rb");
		assert_non_null(f);
		nt = fread(txt, 1, sizeof(txt), f);
		fclose(f);
		assert_int_equal(nt, nh);
		assert_memory_equal(txt, hex, nh);
	}
}

/* Each strict prefix of a valid header asks for more; never a success, and
 * never a read past len (ASan: the prefix lives in its own heap block). */
static void test_prefixes_need_more(void **state)
{
	uint8_t buf[1024];
	tw_proxy_info_t pi;
	size_t consumed;

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(vecs); i++) {
		const struct vec *v = &vecs[i];
		size_t n = read_hex(v->file, buf, sizeof(buf));

		for (size_t k = 0; k < n; k++) {
			uint8_t *p = malloc(k ? k : 1);
			int rc;

			assert_non_null(p);
			memcpy(p, buf, k);
			rc = tw_proxy_parse(p, k, ANY_LEN, &pi, &consumed, NULL, 0);
			free(p);
			if (v->rc == 0 && k < v->consumed && rc != TW_EAGAIN)
				fail_msg("%s: prefix %zu gives %d, want TW_EAGAIN", v->file, k, rc);
			if (v->rc != 0 && rc == 0)
				fail_msg("%s: prefix %zu accepted", v->file, k);
		}
	}
}

/* A need-more vector turns into a verdict once the missing bytes come. */
static void test_need_more_then(void **state)
{
	uint8_t buf[64];
	tw_proxy_info_t pi;
	size_t consumed, n;
	char err[256];

	TW_UNUSED(state);
	/* len=13 but 12 address bytes: one more byte is a stray TLV byte. */
	n = read_hex("malformed/v2-length-exceeds-buffer-by-1.hex", buf, sizeof(buf));
	buf[n++] = 0x04;
	assert_int_equal(tw_proxy_parse(buf, n, ANY_LEN, &pi, &consumed, err, sizeof(err)),
	                 TW_EINVAL);
	assert_non_null(strstr(err, "v2 TLV truncated (1 of 3 header bytes)"));

	/* len=65535: too big for a caller that reads at most 536 bytes. */
	n = read_hex("malformed/v2-length-overflow.hex", buf, sizeof(buf));
	assert_int_equal(
	        tw_proxy_parse(buf, n, TW_PROXY_SEND_CAP, &pi, &consumed, err, sizeof(err)),
	        TW_ETOOBIG);
	assert_string_equal(err, "v2 header of 65551 bytes over the 536-byte limit");

	/* The rest of a truncated address block completes the header. */
	n = read_hex("v2/tcp4.hex", buf, sizeof(buf));
	assert_int_equal(tw_proxy_parse(buf, 20, ANY_LEN, &pi, &consumed, NULL, 0), TW_EAGAIN);
	assert_int_equal(tw_proxy_parse(buf, n, ANY_LEN, &pi, &consumed, NULL, 0), 0);
	assert_int_equal(consumed, 28);
}

/* ---- hand-written cases ------------------------------------------------ */

struct textcase {
	const char *in;
	size_t max_len; /* 0: ANY_LEN */
	int rc;
	const char *want; /* error substring, or "src sport dst dport" for 0 */
};

static const struct textcase textcases[] = {
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, "1.2.3.4 1 5.6.7.8 2"},
        {"PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\nEHLO x\r\n", 0, 0, "0.0.0.0 0 10.0.0.1 0"},
        {"PROXY TCP6 ::1 :: 1 2\r\n", 0, 0, "::1 1 :: 2"},
        {"PROXY TCP6 0001:0db8::0002 ::1 1 2\r\n", 0, 0, "1:db8::2 1 ::1 2"},
        {"PROXY UNKNOWN\r\n", 0, 0, NULL},
        {"PROXY UNKNOWN \x01\xff garbage\r\n", 0, 0, NULL},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 0, TW_EINVAL,
         "v1 line has data after the destination port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 0, TW_EINVAL, "data after the destination port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 0, TW_EINVAL, "v1 line ends after the source port"},
        {"PROXY\r\n", 0, TW_EINVAL, "v1 line ends after the keyword"},
        {"PROXY TCP4\r\n", 0, TW_EINVAL, "v1 line ends after the protocol"},
        {"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, TW_EINVAL,
         "v1 keyword \"PROXYTCP4\" is not PROXY"},
        {"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", 0, TW_EINVAL, "v1 protocol \"tcp4\" unknown"},
        {"PROXY UNKNOWNX\r\n", 0, TW_EINVAL, "v1 protocol \"UNKNOWNX\" unknown"},
        {"PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n", 0, TW_EINVAL,
         "v1 source address \"::ffff:1.2.3.4\" is not a valid IPv6 address"},
        {"PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", 0, TW_EINVAL, "is not a valid IPv6 address"},
        {"PROXY TCP6 1::2::3 ::1 1 2\r\n", 0, TW_EINVAL, "is not a valid IPv6 address"},
        {"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", 0, TW_EINVAL,
         "v1 source address \"01.2.3.4\" is not a valid IPv4 address"},
        {"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", 0, TW_EINVAL, "not a valid IPv4 address"},
        {"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 0, TW_EINVAL, "not a valid IPv4 address"},
        {"PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n", 0, TW_EINVAL, "not a valid IPv4 address"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", 0, TW_EINVAL,
         "v1 source port \"+1\" is not a number"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999999999\r\n", 0, TW_EINVAL,
         "v1 port \"99999999999\" out of range"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", 0, TW_EINVAL, "v1 line has a CR not followed by LF"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 0, TW_EAGAIN, NULL},
        /* A bad prefix is rejected at once, without waiting for the CRLF. */
        {"PROXY  ", 0, TW_EINVAL, "v1 protocol empty"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 65536", 0, TW_EINVAL, "v1 port \"65536\" out of range"},
        {"PROXY TCP4 1.2.3.4 2001:", 0, TW_EINVAL, "not a valid IPv4 address"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 31, TW_ETOOBIG, "v1 line longer than the 31-byte"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, 0, "1.2.3.4 1 5.6.7.8 2"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 ", 20, TW_ETOOBIG, NULL},
        {"EHLO client.example.com\r\n", 0, TW_EINVAL,
         "not a PROXY header: starts with \"EHLO cli\""},
        {"\x16\x03\x01\x02", 0, TW_EINVAL,
         "not a PROXY header: starts with \"\\x16\\x03\\x01\\x02\""},
        {"P", 0, TW_EAGAIN, NULL},
        {"PROX", 0, TW_EAGAIN, NULL},
        {"PROXY TCP6 2001:db8::1 2001:db8::2 51234 2", 0, TW_EAGAIN, NULL},
};

static void test_text_cases(void **state)
{
	tw_proxy_info_t pi;
	size_t consumed;

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(textcases); i++) {
		const struct textcase *c = &textcases[i];
		char err[256] = "", got[200], a[64], b[64];
		uint16_t pa, pb;
		int rc = tw_proxy_parse((const uint8_t *)c->in, strlen(c->in),
		                        c->max_len ? c->max_len : ANY_LEN, &pi, &consumed, err,
		                        sizeof(err));

		if (rc != c->rc)
			fail_msg("case %zu %s: rc %d (%s), want %d", i, c->in, rc, err, c->rc);
		if (!c->want)
			continue;
		if (rc != 0) {
			if (!strstr(err, c->want))
				fail_msg("case %zu: error \"%s\", want \"%s\"", i, err, c->want);
			continue;
		}
		assert_int_equal(consumed, strchr(c->in, '\n') - c->in + 1);
		ip_text(&pi.src, a, sizeof(a), &pa);
		ip_text(&pi.dst, b, sizeof(b), &pb);
		snprintf(got, sizeof(got), "%s %u %s %u", a, pa, b, pb);
		assert_string_equal(got, c->want);
	}
}

/* v2 header built by hand: tcp4 192.0.2.1:56324 -> 198.51.100.2:443 plus tlv
 * bytes; fam overrides the family byte when non-zero. */
static size_t mkv2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *tlv, size_t tn)
{
	static const uint8_t head[] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
	                               0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 0xc0, 0x00, 0x02, 0x01,
	                               0xc6, 0x33, 0x64, 0x02, 0xdc, 0x04, 0x01, 0xbb};

	memcpy(out, head, sizeof(head));
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)((12 + tn) >> 8);
	out[15] = (uint8_t)(12 + tn);
	if (tn)
		memcpy(out + sizeof(head), tlv, tn);
	return sizeof(head) + tn;
}

static void test_v2_cases(void **state)
{
	static const struct {
		uint8_t ver_cmd, fam;
		const char *tlv; /* bytes, with its length below */
		size_t tn;
		int rc;
		const char *err;
	} cs[] = {
	        {0x21, 0x11, "\x02\x00\x01x\x02\x00\x01y", 8, TW_EINVAL,
	         "v2 AUTHORITY TLV repeated"},
	        {0x21, 0x11, "\x01\x00\x01x\x01\x00\x01y", 8, TW_EINVAL, "v2 ALPN TLV repeated"},
	        {0x21, 0x11, "\x02\x00\x03\x61\x00\x62", 6, TW_EINVAL,
	         "v2 AUTHORITY TLV contains a NUL byte"},
	        {0x21, 0x11, "\x03\x00\x03\x00\x00\x00", 6, TW_EINVAL,
	         "v2 CRC32C TLV length 3 (want 4)"},
	        {0x21, 0x11, "\x20\x00\x05\x01\x00\x00\x00\x00", 8, 0, NULL}, /* SSL, no sub-TLV */
	        {0x21, 0x11, "\x20\x00\x07\x01\x00\x00\x00\x00\x21\x00", 10, TW_EINVAL,
	         "v2 SSL sub-TLV truncated (2 of 3 header bytes)"},
	        {0x21, 0x11, "\x30\x00\x04\x62\x6c\x75\x65\xf7\x00\x00\xff\x00\x00", 13, 0, NULL},
	        {0x21, 0x10, "", 0, TW_EINVAL, "v2 family and transport byte 0x10 invalid"},
	        {0x21, 0x01, "", 0, TW_EINVAL, "v2 family and transport byte 0x01 invalid"},
	        {0x20, 0x41, "", 0, TW_EINVAL, "v2 address family 0x4 invalid"},
	        {0x20, 0x11, "\x05\x00\x02id", 5, 0, NULL}, /* LOCAL with TLVs: checked, kept */
	        {0x2f, 0x11, "", 0, TW_EINVAL, "v2 command 0xf unknown"},
	};
	uint8_t buf[128];
	tw_proxy_info_t pi;
	size_t consumed;

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(cs); i++) {
		char err[256] = "";
		size_t n =
		        mkv2(buf, cs[i].ver_cmd, cs[i].fam, (const uint8_t *)cs[i].tlv, cs[i].tn);
		int rc = tw_proxy_parse(buf, n, ANY_LEN, &pi, &consumed, err, sizeof(err));

		if (rc != cs[i].rc)
			fail_msg("case %zu: rc %d (%s), want %d", i, rc, err, cs[i].rc);
		if (cs[i].err && !strstr(err, cs[i].err))
			fail_msg("case %zu: error \"%s\", want \"%s\"", i, err, cs[i].err);
		if (rc == 0)
			assert_int_equal(consumed, n);
	}

	/* ALPN over 64 bytes and UNIQUE_ID of exactly 128. */
	uint8_t tlv[200];
	char err[256];
	tlv[0] = 0x01;
	tlv[1] = 0;
	tlv[2] = 65;
	memset(tlv + 3, 'a', 65);
	assert_int_equal(tw_proxy_parse(buf, mkv2(buf, 0x21, 0x11, tlv, 68), ANY_LEN, &pi,
	                                &consumed, err, sizeof(err)),
	                 TW_EINVAL);
	assert_string_equal(err, "v2 ALPN TLV length 65 over 64");
	tlv[0] = 0x05;
	tlv[2] = 128;
	memset(tlv + 3, 0xab, 128);
	uint8_t big[256];
	assert_int_equal(tw_proxy_parse(big, mkv2(big, 0x21, 0x11, tlv, 131), ANY_LEN, &pi,
	                                &consumed, err, sizeof(err)),
	                 0);
	assert_int_equal(pi.unique_id_len, 128);
	assert_int_equal(pi.unique_id[127], 0xab);

	/* LOCAL with TLVs: addresses ignored, TLVs still read. */
	assert_int_equal(tw_proxy_parse(buf,
	                                mkv2(buf, 0x20, 0x11, (const uint8_t *)"\x05\x00\x02id", 5),
	                                ANY_LEN, &pi, &consumed, NULL, 0),
	                 0);
	assert_true(pi.local);
	assert_int_equal(pi.family, AF_UNSPEC);
	assert_int_equal(pi.unique_id_len, 2);

	/* max_len just below and at the header length. */
	size_t n = mkv2(buf, 0x21, 0x11, NULL, 0);
	assert_int_equal(tw_proxy_parse(buf, n, n - 1, &pi, &consumed, NULL, 0), TW_ETOOBIG);
	assert_int_equal(tw_proxy_parse(buf, n, n, &pi, &consumed, NULL, 0), 0);

	/* err may be NULL, and a tiny err buffer is truncated, not overrun. */
	buf[13] = 0x41;
	assert_int_equal(tw_proxy_parse(buf, n, ANY_LEN, &pi, &consumed, NULL, 0), TW_EINVAL);
	char small[8];
	assert_int_equal(tw_proxy_parse(buf, n, ANY_LEN, &pi, &consumed, small, sizeof(small)),
	                 TW_EINVAL);
	assert_string_equal(small, "v2 addr");
}

/* ---- encode ------------------------------------------------------------ */

static void test_encode_matches_vectors(void **state)
{
	struct sockaddr_storage s, d;
	uint8_t want[256], got[600];
	size_t n;
	int r;

	TW_UNUSED(state);
	mk4(&s, "192.0.2.1", 56324);
	mk4(&d, "198.51.100.2", 443);
	n = read_hex("v2/tcp4.hex", want, sizeof(want));
	r = tw_proxy_encode(got, sizeof(got), 2, (struct sockaddr *)&s, (struct sockaddr *)&d,
	                    NULL);
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);

	tw_proxy_tlvs_t t = {.alpn = (const uint8_t *)"h2", .alpn_len = 2};
	n = read_hex("v2/tcp4-tlv-alpn.hex", want, sizeof(want));
	r = tw_proxy_encode(got, sizeof(got), 2, (struct sockaddr *)&s, (struct sockaddr *)&d, &t);
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);

	tw_proxy_tlvs_t t2 = {.authority = "mail.example.com", .authority_len = 16};
	n = read_hex("v2/tcp4-tlv-authority.hex", want, sizeof(want));
	r = tw_proxy_encode(got, sizeof(got), 2, (struct sockaddr *)&s, (struct sockaddr *)&d, &t2);
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);

	/* v1 ignores TLVs. */
	mk4(&s, "192.168.0.1", 56324);
	mk4(&d, "192.168.0.11", 443);
	n = read_hex("v1/tcp4-spec-example.hex", want, sizeof(want));
	r = tw_proxy_encode(got, sizeof(got), 1, (struct sockaddr *)&s, (struct sockaddr *)&d, &t2);
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);

	mk6(&s, "2001:db8::1", 51234);
	mk6(&d, "2001:db8::2", 25);
	n = read_hex("v2/tcp6.hex", want, sizeof(want));
	r = tw_proxy_encode(got, sizeof(got), 2, (struct sockaddr *)&s, (struct sockaddr *)&d,
	                    NULL);
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);
	n = read_hex("v1/tcp6-doc.hex", want, sizeof(want));
	r = tw_proxy_encode(got, sizeof(got), 1, (struct sockaddr *)&s, (struct sockaddr *)&d,
	                    NULL);
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);

	n = read_hex("v2/local-unspec.hex", want, sizeof(want));
	assert_int_equal(tw_proxy_encode_local(got, sizeof(got)), n);
	assert_memory_equal(got, want, n);
	assert_int_equal(tw_proxy_encode_local(got, 15), TW_ETOOBIG);
}

static void test_encode_v1_text(void **state)
{
	static const struct {
		const char *src, *dst;
		const char *line;
	} cs[] = {
	        {"::ffff:192.0.2.1", "::ffff:198.51.100.2",
	         "PROXY TCP4 192.0.2.1 198.51.100.2 1000 25\r\n"},
	        {"::ffff:192.0.2.1", "198.51.100.2",
	         "PROXY TCP4 192.0.2.1 198.51.100.2 1000 25\r\n"},
	        {"192.0.2.1", "2001:db8::2", "PROXY TCP6 ::ffff:c000:201 2001:db8::2 1000 25\r\n"},
	        {"2001:db8::1", "::ffff:198.51.100.2",
	         "PROXY TCP6 2001:db8::1 ::ffff:c633:6402 1000 25\r\n"},
	        {"::", "::1", "PROXY TCP6 :: ::1 1000 25\r\n"},
	        {"1::", "1:0:0:1:0:0:0:1", "PROXY TCP6 1:: 1:0:0:1::1 1000 25\r\n"},
	        {"1:0:1:0:1:0:1:0", "0:0:1:0:0:1:0:0",
	         "PROXY TCP6 1:0:1:0:1:0:1:0 ::1:0:0:1:0:0 1000 25\r\n"},
	        {"fe80::abcd:0:0:1",
	         "2001:DB8:0:0:1::", "PROXY TCP6 fe80::abcd:0:0:1 2001:db8:0:0:1:: 1000 25\r\n"},
	};
	uint8_t out[TW_PROXY_SEND_CAP];

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(cs); i++) {
		struct sockaddr_storage s, d;
		tw_proxy_info_t pi;
		size_t consumed;
		int r;

		mk(&s, cs[i].src, 1000);
		mk(&d, cs[i].dst, 25);
		r = tw_proxy_encode(out, sizeof(out), 1, (struct sockaddr *)&s,
		                    (struct sockaddr *)&d, NULL);
		assert_int_equal(r, strlen(cs[i].line));
		if (memcmp(out, cs[i].line, (size_t)r) != 0)
			fail_msg("case %zu: %.*s, want %s", i, r, out, cs[i].line);
		/* Our own parser, strict as it is, takes what we send. */
		assert_int_equal(tw_proxy_parse(out, (size_t)r, ANY_LEN, &pi, &consumed, NULL, 0),
		                 0);
		assert_int_equal(consumed, r);
	}
}

/* Encode then parse gives back the addresses (v4-mapped ones as IPv4). */
static void test_round_trip(void **state)
{
	static const struct {
		const char *src, *dst;
		int family;
		const char *psrc, *pdst;
	} cs[] = {
	        {"192.0.2.1", "198.51.100.2", AF_INET, "192.0.2.1", "198.51.100.2"},
	        {"2001:db8::1", "2001:db8::2", AF_INET6, "2001:db8::1", "2001:db8::2"},
	        {"::ffff:192.0.2.1", "::ffff:198.51.100.2", AF_INET, "192.0.2.1", "198.51.100.2"},
	        {"::ffff:192.0.2.1", "2001:db8::2", AF_INET6, "::ffff:192.0.2.1", "2001:db8::2"},
	        {"0.0.0.0", "255.255.255.255", AF_INET, "0.0.0.0", "255.255.255.255"},
	};
	static const uint16_t ports[][2] = {{0, 0}, {65535, 1}, {56324, 443}};
	static const uint8_t uid[] = {0, 1, 2, 3};
	tw_proxy_tlvs_t t = {.authority = "mx.example.net",
	                     .authority_len = 14,
	                     .alpn = (const uint8_t *)"smtp",
	                     .alpn_len = 4,
	                     .unique_id = uid,
	                     .unique_id_len = sizeof(uid)};

	TW_UNUSED(state);
	for (size_t i = 0; i < TW_ARRAY_LEN(cs); i++)
		for (size_t p = 0; p < TW_ARRAY_LEN(ports); p++)
			for (int ver = 1; ver <= 2; ver++) {
				struct sockaddr_storage s, d;
				uint8_t out[TW_PROXY_SEND_CAP];
				tw_proxy_info_t pi;
				size_t consumed;
				char a[64];
				uint16_t port;
				int r;

				mk(&s, cs[i].src, ports[p][0]);
				mk(&d, cs[i].dst, ports[p][1]);
				r = tw_proxy_encode(out, sizeof(out), ver, (struct sockaddr *)&s,
				                    (struct sockaddr *)&d, &t);
				assert_true(r > 0);
				assert_int_equal(tw_proxy_parse(out, (size_t)r, ANY_LEN, &pi,
				                                &consumed, NULL, 0),
				                 0);
				assert_int_equal(consumed, r);
				assert_int_equal(pi.version, ver);
				assert_int_equal(pi.family, cs[i].family);
				assert_true(pi.stream);
				assert_false(pi.local);
				ip_text(&pi.src, a, sizeof(a), &port);
				assert_string_equal(a, cs[i].psrc);
				assert_int_equal(port, ports[p][0]);
				ip_text(&pi.dst, a, sizeof(a), &port);
				assert_string_equal(a, cs[i].pdst);
				assert_int_equal(port, ports[p][1]);
				if (ver == 2) {
					assert_string_equal(pi.authority, "mx.example.net");
					assert_int_equal(pi.alpn_len, 4);
					assert_memory_equal(pi.alpn, "smtp", 4);
					assert_int_equal(pi.unique_id_len, 4);
					assert_memory_equal(pi.unique_id, uid, 4);
				} else {
					assert_int_equal(pi.authority_len, 0);
				}
				/* Encoding did not touch the caller's addresses. */
				struct sockaddr_storage s2;
				mk(&s2, cs[i].src, ports[p][0]);
				assert_memory_equal(&s, &s2, sizeof(s));
			}
}

/* Optional TLVs are dropped, unique_id first, then alpn, then authority. */
static void test_encode_cap(void **state)
{
	static uint8_t auth[TW_PROXY_AUTHORITY_MAX], alpn[TW_PROXY_ALPN_MAX],
	        uid[TW_PROXY_UNIQUE_ID_MAX];
	/* TLV sizes with their 3-byte headers: 258, 67, 131. */
	static const struct {
		bool v6;
		size_t cap;
		bool auth, alpn, uid;
		int rc;
	} cs[] = {
	        /* At the limits everything fits in Postfix's 536 bytes. */
	        {false, TW_PROXY_SEND_CAP, true, true, true, 0},
	        {true, TW_PROXY_SEND_CAP, true, true, true, 0},
	        {false, 28 + 258 + 67 + 131, true, true, true, 0},
	        {false, 28 + 258 + 67 + 130, true, true, false, 0},
	        /* uid goes first even though dropping alpn instead would fit it. */
	        {false, 28 + 258 + 131, true, true, false, 0},
	        {false, 28 + 258 + 67, true, true, false, 0},
	        {false, 28 + 258 + 66, true, false, false, 0},
	        {false, 28 + 257, false, false, false, 0},
	        {false, 28, false, false, false, 0},
	        {false, 27, false, false, false, TW_ETOOBIG},
	        {true, 52 + 258, true, false, false, 0},
	        {true, 51, false, false, false, TW_ETOOBIG},
	};
	tw_proxy_tlvs_t t = {.authority = (const char *)auth,
	                     .authority_len = sizeof(auth),
	                     .alpn = alpn,
	                     .alpn_len = sizeof(alpn),
	                     .unique_id = uid,
	                     .unique_id_len = sizeof(uid)};

	TW_UNUSED(state);
	memset(auth, 'a', sizeof(auth));
	memset(alpn, 'b', sizeof(alpn));
	memset(uid, 'c', sizeof(uid));
	for (size_t i = 0; i < TW_ARRAY_LEN(cs); i++) {
		struct sockaddr_storage s, d;
		uint8_t *out = malloc(cs[i].cap); /* ASan bounds = cap */
		tw_proxy_info_t pi;
		size_t consumed;
		int r;

		assert_non_null(out);
		mk(&s, cs[i].v6 ? "2001:db8::1" : "192.0.2.1", 1);
		mk(&d, cs[i].v6 ? "2001:db8::2" : "198.51.100.2", 2);
		r = tw_proxy_encode(out, cs[i].cap, 2, (struct sockaddr *)&s, (struct sockaddr *)&d,
		                    &t);
		if (cs[i].rc) {
			assert_int_equal(r, cs[i].rc);
			free(out);
			continue;
		}
		size_t want = (cs[i].v6 ? 52 : 28) + (cs[i].auth ? 3 + sizeof(auth) : 0) +
		              (cs[i].alpn ? 3 + sizeof(alpn) : 0) +
		              (cs[i].uid ? 3 + sizeof(uid) : 0);
		if (r < 0 || (size_t)r != want)
			fail_msg("case %zu: %d bytes, want %zu", i, r, want);
		assert_true((size_t)r <= cs[i].cap);
		assert_int_equal(tw_proxy_parse(out, (size_t)r, ANY_LEN, &pi, &consumed, NULL, 0),
		                 0);
		assert_int_equal(pi.authority_len, cs[i].auth ? sizeof(auth) : 0);
		assert_int_equal(pi.alpn_len, cs[i].alpn ? sizeof(alpn) : 0);
		assert_int_equal(pi.unique_id_len, cs[i].uid ? sizeof(uid) : 0);
		free(out);
	}
}

static void test_encode_errors(void **state)
{
	struct sockaddr_storage s, d;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	uint8_t out[TW_PROXY_SEND_CAP];
	char longname[300];

	TW_UNUSED(state);
	mk4(&s, "192.0.2.1", 1);
	mk4(&d, "198.51.100.2", 2);
	memset(longname, 'x', sizeof(longname));

	const tw_proxy_tlvs_t bad[] = {
	        {.authority = longname, .authority_len = TW_PROXY_AUTHORITY_MAX + 1},
	        {.authority = "a\0b", .authority_len = 3},
	        {.authority = NULL, .authority_len = 1},
	        {.alpn = (const uint8_t *)longname, .alpn_len = TW_PROXY_ALPN_MAX + 1},
	        {.alpn = NULL, .alpn_len = 2},
	        {.unique_id = (const uint8_t *)longname,
	         .unique_id_len = TW_PROXY_UNIQUE_ID_MAX + 1},
	        {.unique_id = NULL, .unique_id_len = 2},
	};
	for (size_t i = 0; i < TW_ARRAY_LEN(bad); i++)
		assert_int_equal(tw_proxy_encode(out, sizeof(out), 2, (struct sockaddr *)&s,
		                                 (struct sockaddr *)&d, &bad[i]),
		                 TW_EINVAL);
	assert_int_equal(tw_proxy_encode(out, sizeof(out), 3, (struct sockaddr *)&s,
	                                 (struct sockaddr *)&d, NULL),
	                 TW_EINVAL);
	assert_int_equal(tw_proxy_encode(out, sizeof(out), 0, (struct sockaddr *)&s,
	                                 (struct sockaddr *)&d, NULL),
	                 TW_EINVAL);
	assert_int_equal(tw_proxy_encode(out, sizeof(out), 2, (struct sockaddr *)&un,
	                                 (struct sockaddr *)&d, NULL),
	                 TW_EINVAL);
	assert_int_equal(tw_proxy_encode(out, sizeof(out), 1, (struct sockaddr *)&s, NULL, NULL),
	                 TW_EINVAL);
	/* v1 "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n" is 39 bytes. */
	assert_int_equal(
	        tw_proxy_encode(out, 38, 1, (struct sockaddr *)&s, (struct sockaddr *)&d, NULL),
	        TW_ETOOBIG);
	assert_int_equal(
	        tw_proxy_encode(out, 39, 1, (struct sockaddr *)&s, (struct sockaddr *)&d, NULL),
	        39);
	/* Exactly the limits are fine. */
	const tw_proxy_tlvs_t edge = {.authority = longname,
	                              .authority_len = TW_PROXY_AUTHORITY_MAX,
	                              .alpn = (const uint8_t *)longname,
	                              .alpn_len = TW_PROXY_ALPN_MAX,
	                              .unique_id = (const uint8_t *)longname,
	                              .unique_id_len = TW_PROXY_UNIQUE_ID_MAX};
	assert_int_equal(tw_proxy_encode(out, sizeof(out), 2, (struct sockaddr *)&s,
	                                 (struct sockaddr *)&d, &edge),
	                 28 + 258 + 67 + 131);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_vectors_all_listed),
	        cmocka_unit_test(test_v1_txt_twins),
	        cmocka_unit_test(test_prefixes_need_more),
	        cmocka_unit_test(test_need_more_then),
	        cmocka_unit_test(test_text_cases),
	        cmocka_unit_test(test_v2_cases),
	        cmocka_unit_test(test_encode_matches_vectors),
	        cmocka_unit_test(test_encode_v1_text),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_encode_cap),
	        cmocka_unit_test(test_encode_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
