#include "util/tw.h"

#include "store/store.h"
#include "store/store_int.h"
#include "util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <strings.h>
#include <time.h>

/*
 * The schema, one step per version. SQLite and PostgreSQL spell the same
 * tables; PostgreSQL also gets a statement trigger that NOTIFYs
 * tailwart_bans, so a write from anywhere (psql, another tool) wakes every
 * edge, not only writes made through this code.
 */
const struct tw__store_migration tw__store_migrations[] = {
        {
                1,
                "CREATE TABLE bans(\n"
                "  id INTEGER PRIMARY KEY,\n"
                "  net TEXT UNIQUE NOT NULL,\n"
                "  created INTEGER NOT NULL DEFAULT 0,\n"
                "  until INTEGER NOT NULL DEFAULT 0,\n"
                "  repeat INTEGER NOT NULL DEFAULT 1,\n"
                "  source TEXT NOT NULL DEFAULT '',\n"
                "  reason TEXT NOT NULL DEFAULT '');\n"
                "CREATE INDEX bans_until ON bans(until);\n"
                "CREATE TABLE audit(\n"
                "  id INTEGER PRIMARY KEY,\n"
                "  at INTEGER NOT NULL,\n"
                "  actor TEXT NOT NULL DEFAULT '',\n"
                "  action TEXT NOT NULL DEFAULT '',\n"
                "  detail TEXT NOT NULL DEFAULT '');\n",
                "CREATE TABLE bans(\n"
                "  id bigserial PRIMARY KEY,\n"
                "  net text UNIQUE NOT NULL,\n"
                "  created bigint NOT NULL DEFAULT 0,\n"
                "  until bigint NOT NULL DEFAULT 0,\n"
                "  repeat integer NOT NULL DEFAULT 1,\n"
                "  source text NOT NULL DEFAULT '',\n"
                "  reason text NOT NULL DEFAULT '');\n"
                "CREATE INDEX bans_until ON bans(until);\n"
                "CREATE TABLE audit(\n"
                "  id bigserial PRIMARY KEY,\n"
                "  at bigint NOT NULL,\n"
                "  actor text NOT NULL DEFAULT '',\n"
                "  action text NOT NULL DEFAULT '',\n"
                "  detail text NOT NULL DEFAULT '');\n"
                "CREATE FUNCTION tailwart_bans_notify() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN\n"
                "  PERFORM pg_notify('tailwart_bans', TG_OP);\n"
                "  RETURN NULL;\n"
                "END $$;\n"
                "CREATE TRIGGER bans_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON bans\n"
                "  FOR EACH STATEMENT EXECUTE FUNCTION tailwart_bans_notify();\n",
        },
};
const size_t tw__store_migrations_n = TW_ARRAY_LEN(tw__store_migrations);

/* ------------------------------------------------------------ helpers */

int tw__store_seterr(tw_store_t *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return rc;
}

void tw__store_fmt_errno(char *err, size_t errlen, const char *what, const char *where, int e)
{
	snprintf(err, errlen, "%s \"%s\": %s", what, where, strerror(e));
}

void tw__store_oneline(char *msg, size_t size)
{
	/* "\n" becomes "; ", two bytes for one: build a copy. */
	char tmp[TW__STORE_ERRLEN];
	size_t o = 0;
	for (const char *r = msg; *r && o + 1 < sizeof(tmp);) {
		if (*r == '\n' || *r == '\r') {
			while (*r == '\n' || *r == '\r' || *r == '\t' || *r == ' ')
				r++;
			if (*r && o && o + 3 < sizeof(tmp))
				tmp[o++] = ';', tmp[o++] = ' ';
			continue;
		}
		tmp[o++] = *r++;
	}
	while (o && (tmp[o - 1] == ' ' || tmp[o - 1] == ';'))
		o--;
	tmp[o] = '\0';
	tw_strlcpy(msg, tmp, size);
}

void tw__store_scrub(char *msg, size_t size, const char *secret)
{
	size_t sl = secret ? strlen(secret) : 0;
	if (!sl || !size)
		return;
	char *tmp = malloc(size);
	if (!tmp) {
		/* Can't rewrite safely: say nothing rather than leak. */
		tw_strlcpy(msg, "(message hidden: it may contain a password)", size);
		return;
	}
	bool quoted_only = sl < 4;
	size_t o = 0;
	const char *r = msg;
	while (*r && o + 1 < size) {
		bool hit = strncmp(r, secret, sl) == 0;
		if (hit && quoted_only)
			hit = r > msg && r[-1] == '"' && r[sl] == '"';
		if (hit) {
			for (const char *m = "***"; *m && o + 1 < size; m++)
				tmp[o++] = *m;
			r += sl;
		} else {
			tmp[o++] = *r++;
		}
	}
	tmp[o] = '\0';
	memcpy(msg, tmp, o + 1);
	free(tmp);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len;
	uint32_t cp;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void text_n(char *dst, size_t size, const char *src, size_t srclen)
{
	if (!size)
		return;
	size_t o = 0, i = 0;
	const unsigned char *p = (const unsigned char *)(src ? src : "");
	if (!src)
		srclen = 0;
	while (i < srclen && p[i]) {
		size_t l = utf8_len(p + i, srclen - i);
		if (l == 0) {
			if (o + 1 >= size)
				break;
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + l >= size)
			break;
		memcpy(dst + o, p + i, l);
		o += l;
		i += l;
	}
	dst[o] = '\0';
}

void tw__store_text(char *dst, size_t size, const char *src)
{
	text_n(dst, size, src, src ? strlen(src) : 0);
}

/* --------------------------------------------------------- redaction */

struct sbuf {
	char *p;
	size_t size, len;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && b->len + 1 < b->size; i++)
		b->p[b->len++] = s[i];
	b->p[b->len] = '\0';
}

static bool is_secret_key(const char *k, size_t n)
{
	return (n == 8 && strncasecmp(k, "password", 8) == 0) ||
	       (n == 11 && strncasecmp(k, "sslpassword", 11) == 0);
}

/* URL query: "a=1&password=x#f" -> "a=1&password=***#f". */
static void redact_query(struct sbuf *b, const char *q)
{
	while (*q) {
		size_t plen = strcspn(q, "&#");
		const char *eq = memchr(q, '=', plen);
		if (eq && is_secret_key(q, (size_t)(eq - q))) {
			sb_put(b, q, (size_t)(eq - q) + 1);
			sb_put(b, "***", 3);
		} else {
			sb_put(b, q, plen);
		}
		q += plen;
		if (*q == '#') {
			sb_put(b, q, strlen(q));
			return;
		}
		if (*q == '&')
			sb_put(b, q++, 1);
	}
}

/* key=value conninfo text: the value after password= up to a space. */
static void redact_kv(struct sbuf *b, const char *s)
{
	while (*s) {
		const char *hit = NULL;
		size_t klen = 0;
		for (const char *p = s; *p && !hit; p++) {
			if (p != s && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '?' && p[-1] != '&')
				continue;
			if (strncasecmp(p, "password=", 9) == 0)
				hit = p, klen = 9;
			else if (strncasecmp(p, "sslpassword=", 12) == 0)
				hit = p, klen = 12;
		}
		if (!hit) {
			sb_put(b, s, strlen(s));
			return;
		}
		sb_put(b, s, (size_t)(hit - s) + klen);
		sb_put(b, "***", 3);
		const char *v = hit + klen;
		if (*v == '\'') {
			for (v++; *v && *v != '\''; v++)
				if (*v == '\\' && v[1])
					v++;
			if (*v)
				v++;
		} else {
			v += strcspn(v, " \t&#");
		}
		s = v;
	}
}

static bool is_pg_url(const char *spec)
{
	return strncasecmp(spec, "postgresql://", 13) == 0 ||
	       strncasecmp(spec, "postgres://", 11) == 0;
}

void tw_store_redact(const char *spec, char *out, size_t size)
{
	if (!out || !size)
		return;
	struct sbuf b = {out, size, 0};
	out[0] = '\0';
	if (!spec)
		return;
	if (!is_pg_url(spec)) {
		redact_kv(&b, spec);
		return;
	}
	const char *rest = strstr(spec, "://") + 3;
	/* The userinfo ends at the last '@': a password written without
	 * percent-encoding may hold '/', '?' or '@', and hiding too much
	 * beats showing part of a password. */
	const char *at = strrchr(rest, '@');
	const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
	const char *tail = rest;
	if (colon) {
		sb_put(&b, spec, (size_t)(colon - spec) + 1);
		sb_put(&b, "***", 3);
		tail = at;
	} else {
		sb_put(&b, spec, (size_t)(rest - spec));
	}
	const char *q = strchr(tail, '?');
	if (!q) {
		sb_put(&b, tail, strlen(tail));
		return;
	}
	sb_put(&b, tail, (size_t)(q - tail) + 1);
	redact_query(&b, q + 1);
}

/* ---------------------------------------------------------- dispatch */

int tw_store_open(const char *spec, const char *owner, tw_store_t **out, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen)
		err = dummy, errlen = sizeof(dummy);
	err[0] = '\0';
	if (out)
		*out = NULL;
	if (!out || !spec || !spec[0]) {
		snprintf(err, errlen, "empty state: give a file path or a postgresql:// URL");
		return TW_EINVAL;
	}
	if (is_pg_url(spec))
		return tw__store_pg_open(spec, out, err, errlen);
	return tw__store_sqlite_open(spec, owner, out, err, errlen);
}

void tw_store_close(tw_store_t *s)
{
	if (s)
		s->ops->close(s);
}

const char *tw_store_kind(const tw_store_t *s)
{
	return s ? s->ops->kind : "";
}

const char *tw_store_error(const tw_store_t *s)
{
	return s ? s->err : "";
}

/* A fixed-size field must hold a NUL: the struct came from the caller. */
static bool terminated(const char *f, size_t size)
{
	return memchr(f, '\0', size) != NULL;
}

static int norm_net(tw_store_t *s, const char *net, char *out, size_t size)
{
	tw_cidr_t c;
	char e[256];
	if (!net)
		return tw__store_seterr(s, TW_EINVAL, "missing ban net");
	if (strnlen(net, 128) >= 128)
		return tw__store_seterr(s, TW_EINVAL, "ban net is too long");
	if (tw_cidr_parse(net, &c, e, sizeof(e)) != 0)
		return tw__store_seterr(s, TW_EINVAL, "bad ban net: %s", e);
	char ip[INET6_ADDRSTRLEN];
	if (!inet_ntop(c.family, c.addr, ip, sizeof(ip)))
		return tw__store_seterr(s, TW_EINVAL, "bad ban net \"%s\"", net);
	snprintf(out, size, "%s/%u", ip, c.prefix);
	return 0;
}

int tw_store_ban_put(tw_store_t *s, tw_store_ban_t *b)
{
	if (!s || !b)
		return TW_EINVAL;
	s->err[0] = '\0';
	if (!terminated(b->net, sizeof(b->net)) || !terminated(b->source, sizeof(b->source)) ||
	    !terminated(b->reason, sizeof(b->reason)))
		return tw__store_seterr(s, TW_EINVAL, "ban field without its terminating NUL");
	if (b->until < 0 || b->created < 0)
		return tw__store_seterr(s, TW_EINVAL, "negative time in the ban for \"%s\"",
		                        b->net);
	tw_store_ban_t c;
	memset(&c, 0, sizeof(c));
	int rc = norm_net(s, b->net, c.net, sizeof(c.net));
	if (rc)
		return rc;
	c.created = b->created;
	c.until = b->until;
	c.repeat = b->repeat;
	tw__store_text(c.source, sizeof(c.source), b->source);
	tw__store_text(c.reason, sizeof(c.reason), b->reason);
	rc = s->ops->ban_put(s, &c);
	if (rc == 0)
		*b = c;
	return rc;
}

int tw_store_ban_del(tw_store_t *s, const char *net)
{
	if (!s)
		return TW_EINVAL;
	s->err[0] = '\0';
	char n[64];
	int rc = norm_net(s, net, n, sizeof(n));
	return rc ? rc : s->ops->ban_del(s, n);
}

int tw_store_ban_get(tw_store_t *s, const char *net, tw_store_ban_t *out)
{
	if (!s || !out)
		return TW_EINVAL;
	s->err[0] = '\0';
	char n[64];
	int rc = norm_net(s, net, n, sizeof(n));
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	return s->ops->ban_get(s, n, out);
}

int tw_store_ban_list(tw_store_t *s, int64_t now, tw_store_ban_t **out, size_t *n)
{
	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!s || !out || !n)
		return TW_EINVAL;
	s->err[0] = '\0';
	return s->ops->ban_list(s, now, out, n);
}

int tw_store_ban_prune(tw_store_t *s, int64_t before)
{
	if (!s)
		return TW_EINVAL;
	s->err[0] = '\0';
	return s->ops->ban_prune(s, before);
}

int tw_store_audit_add(tw_store_t *s, const char *actor, const char *action, const char *detail)
{
	if (!s)
		return TW_EINVAL;
	s->err[0] = '\0';
	tw_store_audit_t a;
	memset(&a, 0, sizeof(a));
	a.at = (int64_t)time(NULL);
	tw__store_text(a.actor, sizeof(a.actor), actor);
	tw__store_text(a.action, sizeof(a.action), action);
	tw__store_text(a.detail, sizeof(a.detail), detail);
	if (!a.action[0])
		return tw__store_seterr(s, TW_EINVAL, "audit entry without an action");
	return s->ops->audit_add(s, &a);
}

int tw_store_audit_list(tw_store_t *s, size_t limit, tw_store_audit_t **out, size_t *n)
{
	if (out)
		*out = NULL;
	if (n)
		*n = 0;
	if (!s || !out || !n)
		return TW_EINVAL;
	s->err[0] = '\0';
	if (limit == 0)
		return 0;
	if (limit > INT32_MAX)
		limit = INT32_MAX;
	return s->ops->audit_list(s, limit, out, n);
}

int tw_store_poll_changes(tw_store_t *s, bool *changed)
{
	if (changed)
		*changed = false;
	if (!s || !changed)
		return TW_EINVAL;
	s->err[0] = '\0';
	return s->ops->poll_changes(s, changed);
}

int tw_store_fd(const tw_store_t *s)
{
	return s ? s->ops->fd(s) : -1;
}

int tw_store_ping(tw_store_t *s, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!s)
		return TW_EINVAL;
	s->err[0] = '\0';
	int rc = s->ops->ping(s);
	if (rc && err && errlen)
		tw_strlcpy(err, s->err, errlen);
	return rc;
}
