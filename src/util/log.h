/*
 * log.h - one event per line, lowercase key=value, to stderr or syslog.
 *
 * Thread-safe (each line is one write). Never pass a secret.
 * tw_log_ratelimited() lets a message through at most once per `interval_ms`
 * per `slot` (a caller-owned timestamp), counting the ones it suppressed.
 */
#ifndef TW_UTIL_LOG_H
#define TW_UTIL_LOG_H

#include "util/tw.h"

typedef enum tw_log_level {
	TW_LOG_ERR = 3,
	TW_LOG_WARN = 4,
	TW_LOG_INFO = 6,
	TW_LOG_DEBUG = 7,
} tw_log_level_t;

void tw_log_open(const char *ident, bool use_syslog, tw_log_level_t max_level);
__attribute__((format(printf, 2, 3))) void tw_log(tw_log_level_t lvl, const char *fmt, ...);

typedef struct tw_ratelimit {
	uint64_t last_ms;
	uint32_t suppressed;
} tw_ratelimit_t;

/* True if the caller may log now; *suppressed_out gets how many were held back. */
bool tw_ratelimit_ok(tw_ratelimit_t *rl, uint64_t now_ms, uint64_t interval_ms,
                     uint32_t *suppressed_out);

uint64_t tw_now_ms(void); /* CLOCK_MONOTONIC */

#endif
