/*
 * tw.h - the one header every tailwart file includes first.
 *
 * Error convention: functions return 0 or a negative TW_E* code; system
 * errors are -errno (so TW_E* codes live below -4096 to never collide).
 * Predicates return bool. TW_BUG_ON() marks states that can only be our
 * bug: always compiled in, it aborts with file and line.
 *
 * Parsers report problems through tw_diag_t: where (file, line, field) and
 * what was expected. A diag never holds a secret.
 */
#ifndef TW_TW_H
#define TW_TW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	TW_EINVAL = -5001,  /* malformed input */
	TW_EAGAIN = -5002,  /* need more bytes */
	TW_ETOOBIG = -5003, /* input over a bound */
	TW_ENOMEM = -5004,  /* allocation or pool exhausted */
	TW_ENOTFOUND = -5005,
	TW_EPROTO = -5006, /* peer spoke the wrong protocol */
};

const char *tw_strerror(int err);

#define TW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TW_UNUSED(x)    ((void)(x))

_Noreturn void tw__bug(const char *file, int line, const char *cond);
#define TW_BUG_ON(cond)                                                                            \
	do {                                                                                       \
		if (__builtin_expect(!!(cond), 0))                                                 \
			tw__bug(__FILE__, __LINE__, #cond);                                        \
	} while (0)

/* Boot and CLI code only: exits on failure. */
void *tw_xmalloc(size_t n);
void *tw_xcalloc(size_t n, size_t sz);
char *tw_xstrdup(const char *s);

/* Bounded string copy: always NUL-terminates, returns false if truncated. */
bool tw_strlcpy(char *dst, const char *src, size_t size);

/*
 * Untrusted text for a one-line message: printable ASCII stays, '"', '\\'
 * and every other byte become \xNN, so a log line stays one line and can't
 * be forged. tw_escape cuts with "..." to fit size; tw_quote puts the result
 * between double quotes and also cuts after max input bytes (0: no limit).
 * Both return buf.
 */
const char *tw_escape(char *buf, size_t size, const void *s, size_t len);
const char *tw_quote(char *buf, size_t size, const void *s, size_t len, size_t max);

/* One problem found in user or network input. */
typedef struct tw_diag {
	char file[256];  /* "" when not from a file */
	int line;        /* 1-based; 0 when unknown */
	int col;         /* 1-based; 0 when unknown */
	char field[128]; /* dotted path, e.g. "listeners[0].bind"; may be "" */
	char msg[384];   /* lower case, no full stop */
} tw_diag_t;

/* A growing list of diags; all-zero is a valid empty list. */
typedef struct tw_diags {
	tw_diag_t *v;
	size_t n, cap;
} tw_diags_t;

/* Appends a diag; returns TW_EINVAL so callers can `return tw_diag_add(...)`. */
__attribute__((format(printf, 5, 6))) int tw_diag_add(tw_diags_t *d, const char *file, int line,
                                                      const char *field, const char *fmt, ...);
void tw_diags_release(tw_diags_t *d);
/* "file:line: field: msg" (parts omitted when unknown) into buf. */
void tw_diag_format(const tw_diag_t *dg, char *buf, size_t size);
void tw_diags_print(const tw_diags_t *d, FILE *out);

#ifndef TW_ALLOW_BANNED
#pragma GCC poison strcpy strcat sprintf gets vsprintf
#endif

#endif
