/* sbuf.c - a growing string (sbuf.h). */
#include "util/sbuf.h"

void tw_sbuf_addn(tw_sbuf_t *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

void tw_sbuf_add(tw_sbuf_t *b, const char *s)
{
	tw_sbuf_addn(b, s, strlen(s));
}

void tw_sbuf_addc(tw_sbuf_t *b, char c)
{
	tw_sbuf_addn(b, &c, 1);
}

void tw_sbuf_printf(tw_sbuf_t *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		tw_sbuf_addn(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	tw_sbuf_addn(b, big, (size_t)n);
	free(big);
}

const char *tw_sbuf_str(const tw_sbuf_t *b)
{
	return b->s ? b->s : "";
}

void tw_sbuf_release(tw_sbuf_t *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}
