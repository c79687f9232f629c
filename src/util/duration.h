/*
 * duration.h - durations written with units, as in the config file.
 *
 * "250ms", "5s", "5m", "1h", "2d", and sums like "1m30s". A bare number is
 * an error (which unit would it be?). "0" alone is allowed and means zero
 * (callers decide whether zero means "no limit"). Values are milliseconds.
 */
#ifndef TW_UTIL_DURATION_H
#define TW_UTIL_DURATION_H

#include "util/tw.h"

/* Parses s (len bytes, not necessarily NUL-terminated). Returns 0 or TW_EINVAL
 * with err set to what is wrong ("missing unit in \"30\": write 30s or 30ms"). */
int tw_duration_parse(const char *s, size_t len, uint64_t *ms_out, char *err, size_t errlen);

/* The largest duration accepted: 36500d (100 years), so that callers can add
 * a duration to a clock reading without overflow. */
#define TW_DURATION_MAX_MS (36500ULL * 86400000ULL)
/* Enough for any uint64_t formatted by tw_duration_format(). */
#define TW_DURATION_BUFSZ 32

/* Shortest exact form ("5m", "1m30s", "250ms", "0") into buf: units from the
 * largest down, zero parts left out (90000 is "1m30s", 1500 is "1s500ms"). */
void tw_duration_format(uint64_t ms, char *buf, size_t size);

#endif
