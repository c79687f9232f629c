#include "util/tw.h"

#include "util/duration.h"

/* Parse, and for what parses: format and parse back to the same value. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t ms = 0, back = 0;
	char err[256], buf[TW_DURATION_BUFSZ];
	if (tw_duration_parse((const char *)data, size, &ms, err, sizeof(err)) != 0) {
		TW_BUG_ON(strlen(err) == 0);
		return 0;
	}
	TW_BUG_ON(ms > TW_DURATION_MAX_MS);
	tw_duration_format(ms, buf, sizeof(buf));
	TW_BUG_ON(tw_duration_parse(buf, strlen(buf), &back, err, sizeof(err)) != 0);
	TW_BUG_ON(back != ms);
	/* The formatter alone, on any 64-bit value, into a tight buffer. */
	if (size >= 8) {
		uint64_t v;
		memcpy(&v, data, sizeof(v));
		tw_duration_format(v, buf, sizeof(buf));
		TW_BUG_ON(strlen(buf) >= sizeof(buf));
		tw_duration_format(v, buf, 5);
	}
	return 0;
}
