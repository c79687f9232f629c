/*
 * sbuf.h - a growing NUL-terminated string for building text (record lines,
 * JSON-free messages). An allocation failure is sticky: later appends do
 * nothing and oom stays set, so a builder checks once at the end.
 * All-zero is an empty buffer; s is NULL until the first append.
 */
#ifndef TW_UTIL_SBUF_H
#define TW_UTIL_SBUF_H

#include "util/tw.h"

typedef struct tw_sbuf {
	char *s;
	size_t n, cap;
	bool oom;
} tw_sbuf_t;

void tw_sbuf_addn(tw_sbuf_t *b, const char *s, size_t n);
void tw_sbuf_add(tw_sbuf_t *b, const char *s);
void tw_sbuf_addc(tw_sbuf_t *b, char c);
__attribute__((format(printf, 2, 3))) void tw_sbuf_printf(tw_sbuf_t *b, const char *fmt, ...);
/* The text so far, "" when empty. */
const char *tw_sbuf_str(const tw_sbuf_t *b);
void tw_sbuf_release(tw_sbuf_t *b);

#endif
