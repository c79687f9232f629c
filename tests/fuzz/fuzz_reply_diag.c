/*
 * fuzz_reply_diag: tw_reply_diag() on arbitrary backend bytes.
 * Input: byte 0 picks the protocol (low 3 bits) and the PROXY version (bit
 * 3), byte 1 how the read ended and the output size; the rest is the reply.
 * The answer must be NULL or a printable line within the buffer, and the
 * same for the same input.
 */
#include "util/tw.h"

#include "edge/reply_diag.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int closes[] = {0, -1, ECONNRESET, ETIMEDOUT};
	char buf[600], again[600];
	size_t bufsize;
	const char *r, *r2;
	uint8_t *copy;

	if (size < 2)
		return 0;
	tw_reply_proto_t proto = (tw_reply_proto_t)((data[0] & 7) % 5);
	int version = data[0] & 8 ? 2 : 1;
	int close_errno = closes[data[1] & 3];
	bufsize = data[1] >> 2 == 0 ? sizeof(buf) : (size_t)(data[1] >> 2) * 9;
	size -= 2;
	/* Own heap copy so ASan catches a read one past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 2, size);

	memset(buf, 0x55, sizeof(buf));
	r = tw_reply_diag(proto, version, copy, size, close_errno, buf, bufsize);
	if (r) {
		size_t n = strnlen(buf, bufsize);

		TW_BUG_ON(r != buf);
		TW_BUG_ON(n >= bufsize);
		for (size_t i = 0; i < n; i++)
			TW_BUG_ON((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f);
		TW_BUG_ON(bufsize < sizeof(buf) && (unsigned char)buf[bufsize] != 0x55);
	}
	r2 = tw_reply_diag(proto, version, copy, size, close_errno, again, bufsize);
	TW_BUG_ON((r == NULL) != (r2 == NULL));
	TW_BUG_ON(r && strcmp(buf, again) != 0);
	free(copy);
	return 0;
}
