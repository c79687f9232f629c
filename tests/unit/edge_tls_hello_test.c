#include "util/tw.h"

#include <setjmp.h>
#include <cmocka.h>

#include "edge/tls_hello.h"

#define VEC_DIR TW_SOURCE_ROOT "/tests/vectors/tls/"
#define BIG     (1u << 20)

/* Hex with optional whitespace into out; returns the byte count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v = 0;

		if (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			fail_msg("bad hex character '%c'", *s);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			fail_msg("hex longer than %zu bytes", cap);
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		fail_msg("odd number of hex digits");
	return n;
}

static size_t load_vec(const char *file, uint8_t *out, size_t cap)
{
	char path[512], text[8192];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s%s", VEC_DIR, file);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return unhex(text, out, cap);
}

/* Joins the handshake fragments of a record stream. */
static size_t records_to_hs(const uint8_t *rec, size_t len, uint8_t *hs, size_t cap)
{
	size_t pos = 0, n = 0;

	while (pos + 5 <= len) {
		size_t rl = (size_t)rec[pos + 3] << 8 | rec[pos + 4];

		assert_int_equal(rec[pos], 0x16);
		assert_true(pos + 5 + rl <= len && n + rl <= cap);
		memcpy(hs + n, rec + pos + 5, rl);
		n += rl;
		pos += 5 + rl;
	}
	assert_int_equal(pos, len);
	return n;
}

/*
 * Wraps a handshake stream in records whose sizes cycle through sizes[]
 * (nsizes entries); returns the record stream length.
 */
static size_t hs_to_records(const uint8_t *hs, size_t n, const size_t *sizes, size_t nsizes,
                            uint8_t *out, size_t cap)
{
	size_t pos = 0, o = 0, k = 0;

	while (pos < n) {
		size_t take = sizes[k++ % nsizes];

		if (take > n - pos)
			take = n - pos;
		assert_true(o + 5 + take <= cap);
		out[o++] = 0x16;
		out[o++] = 0x03;
		out[o++] = 0x03;
		out[o++] = (uint8_t)(take >> 8);
		out[o++] = (uint8_t)take;
		memcpy(out + o, hs + pos, take);
		o += take;
		pos += take;
	}
	return o;
}

/* The ALPN list as "a,b,c" for comparing against the README's table. */
static void alpn_str(const uint8_t *list, size_t len, char *out, size_t cap)
{
	size_t off = 0, o = 0, n;
	const uint8_t *name;

	out[0] = '\0';
	while (tw_alpn_next(list, len, &off, &name, &n)) {
		assert_true(o + n + 2 < cap);
		if (o > 0)
			out[o++] = ',';
		memcpy(out + o, name, n);
		o += n;
		out[o] = '\0';
	}
	assert_int_equal(off, len);
}

#define LONG_SNI                                                                                   \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."                         \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."                         \
	"ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.example"

/* Expected values from tests/vectors/tls/README.md. */
static const struct vec_case {
	const char *file;
	int rc;
	const char *sni;  /* NULL: no SNI */
	const char *alpn; /* "" when none */
	uint16_t version;
	const char *err;
} vec_cases[] = {
        {"clienthello-tls13-sni.hex", 0, "mail.example.com", "", 0x0304, ""},
        {"clienthello-tls12-sni.hex", 0, "mail.example.com", "", 0x0303, ""},
        {"clienthello-tls12-no-sni.hex", 0, NULL, "", 0x0303, ""},
        {"clienthello-tls13-no-sni.hex", 0, NULL, "", 0x0304, ""},
        {"clienthello-default-sni-alpn.hex", 0, "smtp.example.org", "smtp,h2", 0x0304, ""},
        {"clienthello-tls13-sni-long.hex", 0, LONG_SNI, "", 0x0304, ""},
        {"constructed-clienthello-tls13-sni-grease.hex", 0, "mail.example.com", "", 0x0304, ""},
        {"constructed-clienthello-tls13-sni-fragmented.hex", 0, "mail.example.com", "", 0x0304, ""},
        {"malformed-clienthello-truncated-record.hex", TW_EAGAIN, NULL, "", 0, ""},
        {"malformed-clienthello-sni-name-length-overflow.hex", TW_EINVAL, NULL, "", 0,
         "sni name length overflows extension"},
        {"malformed-not-handshake-content-type.hex", TW_EINVAL, NULL, "", 0,
         "not a TLS handshake record (content type 0x17)"},
};

static void check_hello(const char *what, const tw_client_hello_t *h, const char *sni,
                        const char *alpn, uint16_t version)
{
	char got[512];

	if (h->has_sni != (sni != NULL))
		fail_msg("%s: has_sni %d", what, h->has_sni);
	if (sni) {
		if (strcmp(h->sni, sni) != 0 || h->sni_len != strlen(sni))
			fail_msg("%s: sni \"%s\" (%zu), want \"%s\"", what, h->sni, h->sni_len,
			         sni);
	} else if (h->sni[0] != '\0' || h->sni_len != 0) {
		fail_msg("%s: sni \"%s\" without has_sni", what, h->sni);
	}
	alpn_str(h->alpn, h->alpn_len, got, sizeof(got));
	if (strcmp(got, alpn) != 0)
		fail_msg("%s: alpn \"%s\", want \"%s\"", what, got, alpn);
	if (h->version != version)
		fail_msg("%s: version 0x%04x, want 0x%04x", what, h->version, version);
}

static void test_vectors(void **state)
{
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t i, n;
	int rc;

	for (i = 0; i < TW_ARRAY_LEN(vec_cases); i++) {
		const struct vec_case *c = &vec_cases[i];

		n = load_vec(c->file, buf, sizeof(buf));
		rc = tw_tls_hello_parse(buf, n, BIG, &h, err, sizeof(err));
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s), want %d", c->file, rc, err, c->rc);
		if (strcmp(err, c->err) != 0)
			fail_msg("%s: err \"%s\", want \"%s\"", c->file, err, c->err);
		if (rc == 0)
			check_hello(c->file, &h, c->sni, c->alpn, c->version);
	}
}

/* Every strict prefix of a complete hello is a valid prefix. */
static void test_prefixes(void **state)
{
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t i, k, n;
	int rc;

	for (i = 0; i < TW_ARRAY_LEN(vec_cases); i++) {
		const struct vec_case *c = &vec_cases[i];

		if (c->rc != 0 && c->rc != TW_EAGAIN)
			continue;
		n = load_vec(c->file, buf, sizeof(buf));
		for (k = 0; k < n; k++) {
			rc = tw_tls_hello_parse(buf, k, BIG, &h, err, sizeof(err));
			if (rc != TW_EAGAIN)
				fail_msg("%s: prefix %zu: rc %d (%s)", c->file, k, rc, err);
		}
		rc = tw_tls_hello_parse(buf, n, BIG, &h, err, sizeof(err));
		assert_int_equal(rc, c->rc);
	}
}

/* Garbage is refused from its first wrong byte on, not only when complete. */
static void test_prefix_garbage(void **state)
{
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t k, n;

	n = load_vec("malformed-not-handshake-content-type.hex", buf, sizeof(buf));
	for (k = 1; k <= n; k++)
		assert_int_equal(tw_tls_hello_parse(buf, k, BIG, &h, err, sizeof(err)), TW_EINVAL);
	/* The bad name length is in bytes 97..98; shorter prefixes are fine. */
	n = load_vec("malformed-clienthello-sni-name-length-overflow.hex", buf, sizeof(buf));
	for (k = 0; k < n; k++) {
		int rc = tw_tls_hello_parse(buf, k, BIG, &h, err, sizeof(err));

		assert_int_equal(rc, k < 99 ? TW_EAGAIN : TW_EINVAL);
	}
}

/* The same handshake re-split into records of many sizes parses the same. */
static void test_resplit(void **state)
{
	static const size_t splits[][4] = {
	        {1},
	        {2},
	        {3},
	        {4},
	        {5},
	        {7},
	        {13},
	        {40},
	        {64},
	        {100},
	        {255},
	        {16384},
	        /* header split unevenly, then a long tail */
	        {1, 2, 1, 300},
	        {3, 1, 5, 2},
	};
	static const size_t nsplits[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, 4};
	static uint8_t rec[8192], re[8 * 8192];
	uint8_t hs[4096];
	tw_client_hello_t want, got;
	char err[256], what[128];
	size_t i, s, k, n, hn, rn;
	int rc;

	for (i = 0; i < TW_ARRAY_LEN(vec_cases); i++) {
		const struct vec_case *c = &vec_cases[i];

		if (c->rc != 0)
			continue;
		n = load_vec(c->file, rec, sizeof(rec));
		assert_int_equal(tw_tls_hello_parse(rec, n, BIG, &want, err, sizeof(err)), 0);
		hn = records_to_hs(rec, n, hs, sizeof(hs));
		for (s = 0; s < TW_ARRAY_LEN(splits); s++) {
			rn = hs_to_records(hs, hn, splits[s], nsplits[s], re, sizeof(re));
			snprintf(what, sizeof(what), "%s split %zu", c->file, splits[s][0]);
			rc = tw_tls_hello_parse(re, rn, BIG, &got, err, sizeof(err));
			if (rc != 0)
				fail_msg("%s: rc %d (%s)", what, rc, err);
			check_hello(what, &got, c->sni, c->alpn, c->version);
			assert_memory_equal(want.alpn, got.alpn, want.alpn_len);
			/* every prefix, record headers included, waits */
			if (s < 3 || s >= 12) {
				for (k = 0; k < rn; k++) {
					rc = tw_tls_hello_parse(re, k, BIG, &got, err, sizeof(err));
					if (rc != TW_EAGAIN)
						fail_msg("%s: prefix %zu: rc %d (%s)", what, k, rc,
						         err);
				}
			}
		}
	}
}

static void test_too_big(void **state)
{
	static uint8_t re[8192];
	static const size_t one = 1;
	uint8_t buf[4096], hs[4096];
	tw_client_hello_t h;
	char err[256];
	size_t n, hn, rn;

	n = load_vec("clienthello-tls13-sni.hex", buf, sizeof(buf));
	assert_int_equal(n, 250);
	assert_int_equal(tw_tls_hello_parse(buf, n, 250, &h, err, sizeof(err)), 0);
	assert_int_equal(tw_tls_hello_parse(buf, n, 249, &h, err, sizeof(err)), TW_ETOOBIG);
	assert_string_equal(err, "client hello needs at least 250 bytes, limit is 249");
	/* Known from the handshake header, before the rest arrives; the record
	 * header alone does not tell, as a hello may end inside its record. */
	assert_int_equal(tw_tls_hello_parse(buf, 5, 200, &h, err, sizeof(err)), TW_EAGAIN);
	assert_int_equal(tw_tls_hello_parse(buf, 9, 200, &h, err, sizeof(err)), TW_ETOOBIG);
	assert_int_equal(tw_tls_hello_parse(buf, 0, 8, &h, err, sizeof(err)), TW_ETOOBIG);
	assert_int_equal(tw_tls_hello_parse(buf, 0, 0, &h, err, sizeof(err)), TW_ETOOBIG);
	/* A buffer longer than max_len does not let the parser look further. */
	assert_int_equal(tw_tls_hello_parse(buf, n, 100, &h, err, sizeof(err)), TW_ETOOBIG);

	/* 1-byte records: 245 handshake bytes cost 245 * 6 record bytes. */
	hn = records_to_hs(buf, n, hs, sizeof(hs));
	rn = hs_to_records(hs, hn, &one, 1, re, sizeof(re));
	assert_int_equal(rn, 245 * 6);
	assert_int_equal(tw_tls_hello_parse(re, rn, rn, &h, err, sizeof(err)), 0);
	assert_int_equal(tw_tls_hello_parse(re, rn, rn - 1, &h, err, sizeof(err)), TW_ETOOBIG);
	/* After the 4 header bytes (4 records) the length is known: 24 + 5 + 241. */
	assert_int_equal(tw_tls_hello_parse(re, 24, 269, &h, err, sizeof(err)), TW_ETOOBIG);
	assert_string_equal(err, "client hello needs at least 270 bytes, limit is 269");
	assert_int_equal(tw_tls_hello_parse(re, 24, 270, &h, err, sizeof(err)), TW_EAGAIN);

	/* A 16 MB hello claimed in the handshake header. */
	memcpy(buf, "\x16\x03\x01\x40\x00\x01\xff\xff\xff", 9);
	assert_int_equal(tw_tls_hello_parse(buf, 9, 65536, &h, err, sizeof(err)), TW_ETOOBIG);
}

/*
 * Hand-built hellos. Each case is a hex extension block appended to a fixed
 * TLS 1.2 hello head (version 0303, zero random, no session id, one cipher
 * suite, null compression); "-" means no extension block at all.
 */
static const struct built_case {
	const char *name;
	const char *exts;
	int rc;
	const char *err;
	const char *sni; /* for rc 0 */
	const char *alpn;
	uint16_t version;
} built_cases[] = {
        {"no extensions", "-", 0, "", NULL, "", 0x0303},
        {"empty extension block", "", 0, "", NULL, "", 0x0303},
        {"sni", "0000 0008 0006 00 0003 616263", 0, "", "abc", "", 0x0303},
        {"sni upper case kept as sent", "0000 0008 0006 00 0003 414263", 0, "", "ABc", "", 0x0303},
        {"sni after a non-host_name entry", "0000 000d 000b 05 0002 ffff 00 0003 616263", 0, "",
         "abc", "", 0x0303},
        {"grease extensions skipped", "0a0a 0000 0000 0008 0006 00 0003 616263 fafa 0001 00", 0, "",
         "abc", "", 0x0303},
        {"alpn", "0010 000a 0008 04 736d7470 02 6832", 0, "", NULL, "smtp,h2", 0x0303},
        {"alpn grease names dropped", "0010 0010 000e 02 0a0a 04 736d7470 02 fafa 02 6832", 0, "",
         NULL, "smtp,h2", 0x0303},
        {"alpn near-grease kept", "0010 0005 0003 02 0a1a", 0, "", NULL, "\x0a\x1a", 0x0303},
        {"supported_versions with grease", "002b 0007 06 7a7a 0304 0303", 0, "", NULL, "", 0x0304},
        {"supported_versions only grease", "002b 0003 02 7a7a", 0, "", NULL, "", 0x0303},
        {"sni with nul", "0000 0008 0006 00 0003 610062", TW_EINVAL, "sni name contains a nul byte",
         NULL, "", 0},
        {"sni empty name", "0000 0005 0003 00 0000", TW_EINVAL, "empty sni name", NULL, "", 0},
        {"sni two host_names", "0000 000c 000a 00 0002 6162 00 0002 6364", TW_EINVAL,
         "more than one host_name in the server_name list", NULL, "", 0},
        {"sni list length mismatch", "0000 0008 0005 00 0003 616263", TW_EINVAL,
         "server_name list length 5 does not match its extension (6 bytes)", NULL, "", 0},
        {"sni empty list", "0000 0002 0000", TW_EINVAL, "empty server_name list", NULL, "", 0},
        {"sni extension empty", "0000 0000", TW_EINVAL, "server_name extension too short (0 bytes)",
         NULL, "", 0},
        {"sni truncated entry", "0000 0004 0002 00 00", TW_EINVAL, "truncated server_name entry",
         NULL, "", 0},
        {"sni name overflows", "0000 0008 0006 00 0004 616263", TW_EINVAL,
         "sni name length overflows extension", NULL, "", 0},
        {"duplicate sni extension", "0000 0008 0006 00 0003 616263 0000 0008 0006 00 0003 646566",
         TW_EINVAL, "duplicate extension 0x0000", NULL, "", 0},
        {"duplicate alpn extension", "0010 0005 0003 02 6832 0010 0005 0003 02 6833", TW_EINVAL,
         "duplicate extension 0x0010", NULL, "", 0},
        {"alpn empty name", "0010 0006 0004 00 02 6832", TW_EINVAL, "empty alpn protocol name",
         NULL, "", 0},
        {"alpn name overflows", "0010 0005 0003 03 6832", TW_EINVAL,
         "alpn protocol name length overflows extension", NULL, "", 0},
        {"alpn empty list", "0010 0002 0000", TW_EINVAL, "empty alpn list", NULL, "", 0},
        {"alpn list length mismatch", "0010 0005 0004 02 6832", TW_EINVAL,
         "alpn list length 4 does not match its extension (3 bytes)", NULL, "", 0},
        {"supported_versions odd", "002b 0004 03 0304 03", TW_EINVAL,
         "supported_versions list length 3 invalid for its extension (3 bytes)", NULL, "", 0},
        {"extension overflows hello", "0010 0009 0003 02 6832", TW_EINVAL,
         "extension 0x0010 length 9 overflows the client hello", NULL, "", 0},
        {"truncated extension header", "0000 00", TW_EINVAL, "truncated extension header", NULL, "",
         0},
};

/* Head of a hello without the extension block; body length 41. */
#define HELLO_HEAD                                                                                 \
	"0303 0000000000000000000000000000000000000000000000000000000000000000 00 0002 1301 "      \
	"01 00"

static size_t build_hello(const char *exts, uint8_t *out, size_t cap)
{
	static uint8_t body[70000];
	size_t bn, en;

	bn = unhex(HELLO_HEAD, body, sizeof(body));
	if (strcmp(exts, "-") != 0) {
		en = unhex(exts, body + bn + 2, sizeof(body) - bn - 2);
		body[bn] = (uint8_t)(en >> 8);
		body[bn + 1] = (uint8_t)en;
		bn += 2 + en;
	}
	assert_true(bn + 9 <= cap && bn + 4 <= 0xffff);
	out[0] = 0x16;
	out[1] = 0x03;
	out[2] = 0x01;
	out[3] = (uint8_t)((bn + 4) >> 8);
	out[4] = (uint8_t)(bn + 4);
	out[5] = 0x01;
	out[6] = 0;
	out[7] = (uint8_t)(bn >> 8);
	out[8] = (uint8_t)bn;
	memcpy(out + 9, body, bn);
	return bn + 9;
}

static void test_built(void **state)
{
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t i, n;
	int rc;

	for (i = 0; i < TW_ARRAY_LEN(built_cases); i++) {
		const struct built_case *c = &built_cases[i];

		n = build_hello(c->exts, buf, sizeof(buf));
		rc = tw_tls_hello_parse(buf, n, BIG, &h, err, sizeof(err));
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s), want %d", c->name, rc, err, c->rc);
		if (strcmp(err, c->err) != 0)
			fail_msg("%s: err \"%s\", want \"%s\"", c->name, err, c->err);
		if (rc == 0)
			check_hello(c->name, &h, c->sni, c->alpn, c->version);
	}
}

/* Whole record streams, for what lies outside the extension block. */
static const struct raw_case {
	const char *name;
	const char *hex;
	int rc;
	const char *err;
} raw_cases[] = {
        {"empty input", "", TW_EAGAIN, ""},
        {"sslv2 hello", "802e0103010015000000100000", TW_EINVAL,
         "not a TLS handshake record (SSLv2-compatible client hello)"},
        {"sslv2 first byte only", "80", TW_EINVAL,
         "not a TLS handshake record (SSLv2-compatible client hello)"},
        {"http request", "474554202f20", TW_EINVAL,
         "not a TLS handshake record (content type 0x47)"},
        {"alert record", "15030300020228", TW_EINVAL,
         "not a TLS handshake record (content type 0x15)"},
        {"record version major 2", "160201", TW_EINVAL,
         "not a TLS record (record version major 0x02)"},
        {"empty record", "1603010000", TW_EINVAL, "empty handshake record 1"},
        {"record over 16384", "1603014001", TW_EINVAL, "record 1 length 16385 over 16384"},
        {"server hello", "1603010004 02000026", TW_EINVAL,
         "handshake message is not a client hello (type 2)"},
        {"second record not handshake", "1603010002 0100 1703030001 00", TW_EINVAL,
         "record 2 interrupts the client hello (content type 0x17)"},
        {"second record empty", "1603010002 0100 1603030000", TW_EINVAL,
         "empty handshake record 2"},
        {"hello too short", "1603010008 01000004 03030000", TW_EINVAL,
         "client hello too short (4 bytes)"},
        {"hello version 2.0",
         "160301002a 01000026 0200" /* then 36 zero bytes */
         "000000000000000000000000000000000000000000000000000000000000000000"
         "000000",
         TW_EINVAL, "unsupported client hello version 0x0200"},
        {"session id 33",
         "160301002a 01000026 0303"
         "0000000000000000000000000000000000000000000000000000000000000000 21 "
         "0000",
         TW_EINVAL, "session id longer than 32 bytes (33)"},
        {"session id overflows",
         "160301002a 01000026 0303"
         "0000000000000000000000000000000000000000000000000000000000000000 "
         "02 0000",
         TW_EINVAL, "session id overflows the client hello"},
        {"odd cipher list",
         "160301002e 0100002a 0303"
         "0000000000000000000000000000000000000000000000000000000000000000 00 "
         "0003 130113 01 00",
         TW_EINVAL, "cipher suite list length 3 invalid"},
        {"cipher list overflows",
         "160301002a 01000026 0303"
         "0000000000000000000000000000000000000000000000000000000000000000 "
         "00 0002 13",
         TW_EINVAL, "cipher suite list overflows the client hello"},
        {"no compression methods",
         "160301002c 01000028 0303"
         "0000000000000000000000000000000000000000000000000000000000000000 "
         "00 0002 1301 00 00",
         TW_EINVAL, "empty compression method list"},
        {"extensions length mismatch",
         "1603010030 0100002c 0303"
         "0000000000000000000000000000000000000000000000000000000000"
         "000000 00 0002 1301 01 00 0005 00",
         TW_EINVAL, "extensions length 5 does not match the rest of the client hello (1)"},
        {"truncated extensions length",
         "160301002e 0100002a 0303"
         "0000000000000000000000000000000000000000000000000000000000"
         "000000 00 0002 1301 01 00 00",
         TW_EINVAL, "truncated extensions length"},
        /* A complete hello followed by early data: the tail is not looked at. */
        {"trailing application data",
         "160301002d 01000029 0303"
         "0000000000000000000000000000000000000000000000000000000000"
         "000000 00 0002 1301 01 00 170303000100",
         0, ""},
        /* A hello ending inside its record: the rest of the record is ignored. */
        {"record longer than hello",
         "160301002f 01000029 0303"
         "0000000000000000000000000000000000000000000000000000000000"
         "000000 00 0002 1301 01 00 0e00",
         0, ""},
};

static void test_raw(void **state)
{
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t i, n;
	int rc;

	for (i = 0; i < TW_ARRAY_LEN(raw_cases); i++) {
		const struct raw_case *c = &raw_cases[i];

		n = unhex(c->hex, buf, sizeof(buf));
		rc = tw_tls_hello_parse(buf, n, BIG, &h, err, sizeof(err));
		if (rc != c->rc)
			fail_msg("%s: rc %d (%s), want %d", c->name, rc, err, c->rc);
		if (strcmp(err, c->err) != 0)
			fail_msg("%s: err \"%s\", want \"%s\"", c->name, err, c->err);
	}
	/* err may be NULL when errlen is 0 */
	n = unhex("1703030001 00", buf, sizeof(buf));
	assert_int_equal(tw_tls_hello_parse(buf, n, BIG, &h, NULL, 0), TW_EINVAL);
	/* a short err buffer is truncated, still NUL-terminated */
	assert_int_equal(tw_tls_hello_parse(buf, n, BIG, &h, err, 8), TW_EINVAL);
	assert_string_equal(err, "not a T");
}

/* Lengths at the limits, built in code because they are long. */
static void test_sni_lengths(void **state)
{
	char exts[2048], name[300];
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t nlen, i, o, n;
	int rc;

	for (nlen = 253; nlen <= 257; nlen++) {
		o = (size_t)snprintf(exts, sizeof(exts), "0000 %04zx %04zx 00 %04zx ", nlen + 5,
		                     nlen + 3, nlen);
		for (i = 0; i < nlen; i++) {
			name[i] = (char)('a' + i % 26);
			o += (size_t)snprintf(exts + o, sizeof(exts) - o, "%02x", name[i]);
		}
		name[nlen] = '\0';
		n = build_hello(exts, buf, sizeof(buf));
		rc = tw_tls_hello_parse(buf, n, BIG, &h, err, sizeof(err));
		if (nlen <= 255) {
			assert_int_equal(rc, 0);
			assert_true(h.has_sni);
			assert_int_equal(h.sni_len, nlen);
			assert_string_equal(h.sni, name);
		} else {
			assert_int_equal(rc, TW_EINVAL);
			snprintf(name, sizeof(name), "sni name too long (%zu bytes, limit 255)",
			         nlen);
			assert_string_equal(err, name);
		}
	}
}

/* An ALPN list longer than the 256-byte copy keeps whole leading names. */
static void test_alpn_overlong(void **state)
{
	char exts[4096];
	uint8_t buf[4096];
	tw_client_hello_t h;
	char err[256];
	size_t i, k, o, n, off = 0, nl;
	const uint8_t *name;
	/* 101 + 101 + 3 bytes fit; the fourth name does not, and the fifth,
	 * which would, is dropped too so the client's order stays intact. */
	static const size_t lens[] = {100, 100, 2, 100, 2};

	o = (size_t)snprintf(exts, sizeof(exts), "0010 %04x %04x ", 311, 309);
	for (i = 0; i < TW_ARRAY_LEN(lens); i++) {
		o += (size_t)snprintf(exts + o, sizeof(exts) - o, "%02zx", lens[i]);
		for (k = 0; k < lens[i]; k++)
			o += (size_t)snprintf(exts + o, sizeof(exts) - o, "%02x",
			                      (unsigned)('a' + i));
	}
	n = build_hello(exts, buf, sizeof(buf));
	assert_int_equal(tw_tls_hello_parse(buf, n, BIG, &h, err, sizeof(err)), 0);
	assert_int_equal(h.alpn_len, 101 + 101 + 3);
	for (i = 0; tw_alpn_next(h.alpn, h.alpn_len, &off, &name, &nl); i++) {
		assert_int_equal(nl, lens[i]);
		assert_int_equal(name[0], 'a' + i);
	}
	assert_int_equal(i, 3);
}

static void test_alpn_next(void **state)
{
	static const struct {
		const char *name;
		const char *hex;
		const char *want; /* names joined by ',' */
		size_t stop;      /* *off after the last true */
	} cases[] = {
	        {"empty", "", "", 0},
	        {"two", "02 6832 08 687474702f312e31", "h2,http/1.1", 12},
	        {"truncated last", "02 6832 05 6162", "h2", 3},
	        {"zero-length entry ends", "02 6832 00 02 6833", "h2", 3},
	        {"length byte only", "02", "", 0},
	};
	uint8_t buf[64];
	char got[128];
	size_t i, n, off, nl, o;
	const uint8_t *name;

	for (i = 0; i < TW_ARRAY_LEN(cases); i++) {
		n = unhex(cases[i].hex, buf, sizeof(buf));
		off = 0;
		o = 0;
		got[0] = '\0';
		while (tw_alpn_next(buf, n, &off, &name, &nl)) {
			assert_true(name >= buf && name + nl <= buf + n);
			o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%.*s", o ? "," : "",
			                      (int)nl, (const char *)name);
		}
		if (strcmp(got, cases[i].want) != 0 || off != cases[i].stop)
			fail_msg("%s: got \"%s\" stop %zu", cases[i].name, got, off);
		/* once false, stays false */
		assert_false(tw_alpn_next(buf, n, &off, &name, &nl));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_prefixes),
	        cmocka_unit_test(test_prefix_garbage),
	        cmocka_unit_test(test_resplit),
	        cmocka_unit_test(test_too_big),
	        cmocka_unit_test(test_built),
	        cmocka_unit_test(test_raw),
	        cmocka_unit_test(test_sni_lengths),
	        cmocka_unit_test(test_alpn_overlong),
	        cmocka_unit_test(test_alpn_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
