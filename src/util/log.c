#include "util/log.h"

#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool g_syslog;
static tw_log_level_t g_max = TW_LOG_INFO;

void tw_log_open(const char *ident, bool use_syslog, tw_log_level_t max_level)
{
	g_syslog = use_syslog;
	g_max = max_level;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static const char *lvl_name(tw_log_level_t l)
{
	switch (l) {
	case TW_LOG_ERR: return "error";
	case TW_LOG_WARN: return "warn";
	case TW_LOG_INFO: return "info";
	default: return "debug";
	}
}

void tw_log(tw_log_level_t lvl, const char *fmt, ...)
{
	if (lvl > g_max)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	if (g_syslog) {
		vsnprintf(line, sizeof(line), fmt, ap);
		syslog((int)lvl, "%s", line);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
		                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, lvl_name(lvl));
		int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
		if (len > sizeof(line) - 2)
			len = sizeof(line) - 2;
		line[len++] = '\n';
		ssize_t w = write(STDERR_FILENO, line, len);
		(void)w;
	}
	va_end(ap);
}

bool tw_ratelimit_ok(tw_ratelimit_t *rl, uint64_t now_ms, uint64_t interval_ms,
                     uint32_t *suppressed_out)
{
	if (rl->last_ms && now_ms - rl->last_ms < interval_ms) {
		rl->suppressed++;
		return false;
	}
	if (suppressed_out)
		*suppressed_out = rl->suppressed;
	rl->suppressed = 0;
	rl->last_ms = now_ms ? now_ms : 1;
	return true;
}

uint64_t tw_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
