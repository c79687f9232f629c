#include "util/tw.h"

#include "util/duration.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const struct {
	const char *in;
	uint64_t ms;
} valid[] = {
        {"0", 0},
        {"0s", 0},
        {"0ms", 0},
        {"250ms", 250},
        {"5s", 5000},
        {"5m", 300000},
        {"1h", 3600000},
        {"2d", 172800000},
        {"1m30s", 90000},
        {"1h30m", 5400000},
        {"1d2h3m4s5ms", 93784005},
        {"1m0s", 60000},
        {"007s", 7000},
        {"36500d", TW_DURATION_MAX_MS},
        {"1000000ms", 1000000},
};

static void test_valid(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(valid); i++) {
		uint64_t ms = 12345;
		char err[256] = "";
		int r = tw_duration_parse(valid[i].in, strlen(valid[i].in), &ms, err, sizeof(err));
		if (r != 0 || ms != valid[i].ms)
			fail_msg("%s: r=%d ms=%llu err=%s", valid[i].in, r, (unsigned long long)ms,
			         err);
	}
}

static const struct {
	const char *in;
	const char *err;
} invalid[] = {
        {"", "empty duration: write a number and a unit, like 30s"},
        {"30", "missing unit in \"30\": write 30s or 30ms"},
        {"00", "missing unit in \"00\": write 00s or 00ms"},
        {"1m30", "missing unit in \"1m30\": write 1m30s"},
        {"1h5", "missing unit in \"1h5\": write 1h5m"},
        {"5ms3", "missing unit after the last number in \"5ms3\""},
        {"5S", "unknown unit \"S\" in \"5S\": use ms, s, m, h or d"},
        {"5M", "unknown unit \"M\" in \"5M\": use ms, s, m, h or d"},
        {"5sec", "unknown unit \"sec\" in \"5sec\": use ms, s, m, h or d"},
        {"5min", "unknown unit \"min\" in \"5min\": use ms, s, m, h or d"},
        {"5 s", "spaces are not allowed in \"5 s\": write the number and unit together, like 30s"},
        {" 5s", "spaces are not allowed in \" 5s\": write the number and unit together, like 30s"},
        {"5s ", "spaces are not allowed in \"5s \": write the number and unit together, like 30s"},
        {"-5s", "unexpected \"-\" in \"-5s\": write a number and a unit, like 30s"},
        {"+5s", "unexpected \"+\" in \"+5s\": write a number and a unit, like 30s"},
        {"5s,", "unexpected \",\" in \"5s,\": write a number and a unit, like 30s"},
        {"1.5s", "fractions are not supported in \"1.5s\": write 1s500ms"},
        {"1.5h", "fractions are not supported in \"1.5h\": write 1h30m"},
        {"0.25s", "fractions are not supported in \"0.25s\": write 250ms"},
        {"1.0001s", "fractions are not supported in \"1.0001s\": use a smaller unit, like ms"},
        {"1.5", "fractions are not supported in \"1.5\": use a smaller unit, like ms"},
        {"1m1.5s", "fractions are not supported in \"1m1.5s\": use a smaller unit, like ms"},
        {"s", "missing number before \"s\" in \"s\""},
        {"ms5s", "missing number before \"ms\" in \"ms5s\""},
        {"30s1m",
         "units out of order or repeated in \"30s1m\": write the largest first, like 1m30s"},
        {"1m1m", "units out of order or repeated in \"1m1m\": write the largest first, like 2m"},
        {"36501d", "duration \"36501d\" is too large: the most is 36500d"},
        {"36500d1ms", "duration \"36500d1ms\" is too large: the most is 36500d"},
        {"99999999999999999999999s",
         "duration \"99999999999999999999999s\" is too large: the most is 36500d"},
        {"5\x01s", "unexpected byte 0x01 in \"5\\x01s\""},
        {"5\"s", "unexpected \"\"\" in \"5\\x22s\": write a number and a unit, like 30s"},
};

static void test_invalid(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(invalid); i++) {
		uint64_t ms = 777;
		char err[256] = "";
		int r = tw_duration_parse(invalid[i].in, strlen(invalid[i].in), &ms, err,
		                          sizeof(err));
		if (r != TW_EINVAL || strcmp(err, invalid[i].err) != 0 || ms != 777)
			fail_msg("%s: r=%d err=[%s] want [%s]", invalid[i].in, r, err,
			         invalid[i].err);
	}
}

/* The input is a length, not a C string: bytes past len are not read. */
static void test_not_terminated(void **state)
{
	uint64_t ms = 0;
	char err[128];
	assert_int_equal(tw_duration_parse("5sX", 2, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(tw_duration_parse("1m30sXYZ", 5, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 90000);
	/* An embedded NUL is a bad byte, not the end. */
	assert_int_equal(tw_duration_parse("5\0s", 3, &ms, err, sizeof(err)), TW_EINVAL);
	assert_string_equal(err, "unexpected byte 0x00 in \"5\\x00s\"");
}

static void test_err_buffer(void **state)
{
	uint64_t ms;
	char small[8];
	assert_int_equal(tw_duration_parse("30", 2, &ms, small, sizeof(small)), TW_EINVAL);
	assert_string_equal(small, "missing");
	assert_int_equal(tw_duration_parse("30", 2, &ms, NULL, 0), TW_EINVAL);
	/* A long input is cut in the message, which stays bounded. */
	char big[300];
	memset(big, '7', sizeof(big));
	char err[256];
	assert_int_equal(tw_duration_parse(big, sizeof(big), &ms, err, sizeof(err)), TW_EINVAL);
	assert_non_null(strstr(err, "...\""));
}

static const struct {
	uint64_t ms;
	const char *out;
} formats[] = {
        {0, "0"},
        {1, "1ms"},
        {250, "250ms"},
        {1000, "1s"},
        {1500, "1s500ms"},
        {60000, "1m"},
        {90000, "1m30s"},
        {300000, "5m"},
        {3600000, "1h"},
        {5400000, "1h30m"},
        {86400000, "1d"},
        {93784005, "1d2h3m4s5ms"},
        {172800000, "2d"},
        {TW_DURATION_MAX_MS, "36500d"},
        {UINT64_MAX, "213503982334d14h25m51s615ms"},
};

static void test_format(void **state)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(formats); i++) {
		char buf[TW_DURATION_BUFSZ];
		tw_duration_format(formats[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, formats[i].out);
		if (formats[i].ms <= TW_DURATION_MAX_MS) {
			uint64_t back = 1;
			assert_int_equal(tw_duration_parse(buf, strlen(buf), &back, NULL, 0), 0);
			assert_int_equal(back, formats[i].ms);
		}
	}
}

static void test_format_small_buffer(void **state)
{
	char buf[6];
	memset(buf, 'x', sizeof(buf));
	tw_duration_format(93784005, buf, sizeof(buf));
	assert_true(memchr(buf, '\0', sizeof(buf)) != NULL);
	assert_string_equal(buf, "1d2h");
	tw_duration_format(5, buf, 0); /* must not write */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid),          cmocka_unit_test(test_invalid),
	        cmocka_unit_test(test_not_terminated), cmocka_unit_test(test_err_buffer),
	        cmocka_unit_test(test_format),         cmocka_unit_test(test_format_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
