#include "util/tw.h"

#include "util/duration.h"

#include <ctype.h>

static const struct unit {
	const char *name;
	uint64_t ms;
} units[] = {
        {"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}, {"ms", 1ULL},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return TW_EINVAL;
}

/* Index into units[] of the unit spelled s[0..n), or -1. */
static int unit_find(const char *s, size_t n)
{
	for (size_t i = 0; i < TW_ARRAY_LEN(units); i++)
		if (strlen(units[i].name) == n && memcmp(units[i].name, s, n) == 0)
			return (int)i;
	return -1;
}

/* "1.5h" has an exact whole-unit spelling ("1h30m"); find it so the error can
 * say what to write instead. Only for one number and one unit. */
static bool fraction_hint(const char *s, size_t len, char *out, size_t size)
{
	size_t i = 0;
	uint64_t whole = 0, frac = 0, scale = 1;
	while (i < len && isdigit((unsigned char)s[i]) && whole < 1000000000ULL)
		whole = whole * 10 + (uint64_t)(s[i++] - '0');
	if (i == len || s[i] != '.')
		return false;
	i++;
	while (i < len && isdigit((unsigned char)s[i]) && scale < 1000000000ULL) {
		frac = frac * 10 + (uint64_t)(s[i++] - '0');
		scale *= 10;
	}
	int u = unit_find(s + i, len - i);
	if (u < 0 || scale == 1 || (frac * units[u].ms) % scale != 0)
		return false;
	uint64_t ms = whole * units[u].ms + frac * units[u].ms / scale;
	if (ms > TW_DURATION_MAX_MS)
		return false;
	tw_duration_format(ms, out, size);
	return true;
}

int tw_duration_parse(const char *s, size_t len, uint64_t *ms_out, char *err, size_t errlen)
{
	char q[200];
	char hint[TW_DURATION_BUFSZ];
	tw_quote(q, sizeof(q), s, len, 40);
	if (len == 0)
		return fail(err, errlen, "empty duration: write a number and a unit, like 30s");
	if (len == 1 && s[0] == '0') {
		*ms_out = 0;
		return 0;
	}
	uint64_t total = 0;
	int last = -1; /* index of the previous unit, to demand largest first */
	bool order_ok = true, too_big = false;
	size_t i = 0;
	while (i < len) {
		size_t nstart = i;
		uint64_t n = 0;
		while (i < len && isdigit((unsigned char)s[i])) {
			unsigned d = (unsigned)(s[i] - '0');
			if (n > (UINT64_MAX - d) / 10)
				too_big = true;
			else
				n = n * 10 + d;
			i++;
		}
		if (i < len && s[i] == '.') {
			if (fraction_hint(s, len, hint, sizeof(hint)))
				return fail(err, errlen,
				            "fractions are not supported in %s: write %s", q, hint);
			return fail(
			        err, errlen,
			        "fractions are not supported in %s: use a smaller unit, like ms",
			        q);
		}
		if (i == len) {
			if (last < 0)
				return fail(err, errlen,
				            "missing unit in %s: write %.*ss or %.*sms", q,
				            (int)(i - nstart), s + nstart, (int)(i - nstart),
				            s + nstart);
			if (last + 1 < (int)TW_ARRAY_LEN(units))
				return fail(err, errlen, "missing unit in %s: write %.*s%s", q,
				            (int)len, s, units[last + 1].name);
			return fail(err, errlen, "missing unit after the last number in %s", q);
		}
		size_t ustart = i;
		while (i < len && isalpha((unsigned char)s[i]))
			i++;
		if (ustart == i) {
			unsigned char ch = (unsigned char)s[i];
			if (ch == ' ' || ch == '\t')
				return fail(
				        err, errlen,
				        "spaces are not allowed in %s: write the number and unit "
				        "together, like 30s",
				        q);
			if (isprint(ch))
				return fail(
				        err, errlen,
				        "unexpected \"%c\" in %s: write a number and a unit, like "
				        "30s",
				        ch, q);
			return fail(err, errlen, "unexpected byte 0x%02x in %s", ch, q);
		}
		int u = unit_find(s + ustart, i - ustart);
		if (u < 0) {
			char uq[64];
			tw_quote(uq, sizeof(uq), s + ustart, i - ustart, 40);
			return fail(err, errlen, "unknown unit %s in %s: use ms, s, m, h or d", uq,
			            q);
		}
		if (nstart == ustart)
			return fail(err, errlen, "missing number before \"%s\" in %s",
			            units[u].name, q);
		if (u <= last)
			order_ok = false;
		last = u;
		if (n > TW_DURATION_MAX_MS / units[u].ms)
			too_big = true;
		else
			total += n * units[u].ms;
		if (total > TW_DURATION_MAX_MS)
			too_big = true;
	}
	if (too_big)
		return fail(err, errlen, "duration %s is too large: the most is 36500d", q);
	if (!order_ok) {
		tw_duration_format(total, hint, sizeof(hint));
		return fail(
		        err, errlen,
		        "units out of order or repeated in %s: write the largest first, like %s", q,
		        hint);
	}
	*ms_out = total;
	return 0;
}

void tw_duration_format(uint64_t ms, char *buf, size_t size)
{
	if (size == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, size, "0");
		return;
	}
	size_t o = 0;
	for (size_t i = 0; i < TW_ARRAY_LEN(units) && ms; i++) {
		uint64_t n = ms / units[i].ms;
		if (n == 0)
			continue;
		ms %= units[i].ms;
		int w = snprintf(buf + o, size - o, "%llu%s", (unsigned long long)n, units[i].name);
		if (w < 0 || (size_t)w >= size - o) {
			buf[o] = '\0'; /* too small: whole parts only, never half a number */
			return;
		}
		o += (size_t)w;
	}
}
