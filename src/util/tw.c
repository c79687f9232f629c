#define TW_ALLOW_BANNED
#include "util/tw.h"

#include <errno.h>

const char *tw_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case TW_EINVAL: return "malformed input";
	case TW_EAGAIN: return "incomplete input";
	case TW_ETOOBIG: return "input too large";
	case TW_ENOMEM: return "out of memory";
	case TW_ENOTFOUND: return "not found";
	case TW_EPROTO: return "protocol error";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "unknown error";
	}
}

void tw__bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "BUG at %s:%d: %s\n", file, line, cond);
	abort();
}

void *tw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "tailwart: out of memory\n");
		exit(3);
	}
	return p;
}

void *tw_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p) {
		fprintf(stderr, "tailwart: out of memory\n");
		exit(3);
	}
	return p;
}

char *tw_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = tw_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

bool tw_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size == 0)
		return n == 0;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

int tw_diag_add(tw_diags_t *d, const char *file, int line, const char *field, const char *fmt, ...)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		tw_diag_t *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return TW_EINVAL;
		d->v = v;
		d->cap = cap;
	}
	tw_diag_t *dg = &d->v[d->n++];
	memset(dg, 0, sizeof(*dg));
	tw_strlcpy(dg->file, file ? file : "", sizeof(dg->file));
	dg->line = line;
	tw_strlcpy(dg->field, field ? field : "", sizeof(dg->field));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dg->msg, sizeof(dg->msg), fmt, ap);
	va_end(ap);
	return TW_EINVAL;
}

void tw_diags_release(tw_diags_t *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

void tw_diag_format(const tw_diag_t *dg, char *buf, size_t size)
{
	char where[300] = "";
	if (dg->file[0] && dg->line > 0)
		snprintf(where, sizeof(where), "%s:%d: ", dg->file, dg->line);
	else if (dg->file[0])
		snprintf(where, sizeof(where), "%s: ", dg->file);
	snprintf(buf, size, "%s%s%s%s", where, dg->field, dg->field[0] ? ": " : "", dg->msg);
}

void tw_diags_print(const tw_diags_t *d, FILE *out)
{
	char buf[1024];
	for (size_t i = 0; i < d->n; i++) {
		tw_diag_format(&d->v[i], buf, sizeof(buf));
		fprintf(out, "%s\n", buf);
	}
}

const char *tw_escape(char *buf, size_t size, const void *s, size_t len)
{
	const uint8_t *p = s;
	size_t o = 0;
	if (size == 0)
		return buf;
	for (size_t i = 0; i < len; i++) {
		char tmp[5];
		size_t tn = 1;
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
			tmp[0] = (char)p[i];
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			tn = 4;
		}
		if (o + tn + 4 > size) {
			if (o + 4 <= size) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, tmp, tn);
		o += tn;
	}
	buf[o] = '\0';
	return buf;
}

const char *tw_quote(char *buf, size_t size, const void *s, size_t len, size_t max)
{
	const uint8_t *p = s;
	size_t o = 0;
	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < size; i++) {
		if (max && i == max) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (p[i] == '"' || p[i] == '\\' || p[i] < 0x20 || p[i] >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", p[i]);
		else
			buf[o++] = (char)p[i];
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
