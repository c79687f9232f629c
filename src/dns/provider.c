/* provider.c - what every DNS provider shares: its error record. */
#include "dns/provider.h"

int tw_dns_err_set(tw_dns_err_t *e, int exit_code, const char *fmt, ...)
{
	va_list ap;
	e->exit_code = exit_code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return TW_EINVAL;
}
