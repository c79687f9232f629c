#include "util/tw.h"

#include "edge/reply_diag.h"

#include <errno.h>

/* What to change, per backend family. Stalwart renamed the setting in its
 * web UI ("proxy trusted networks"); the TOML key of 0.15 and older is
 * server.proxy.trusted-networks, which both names make findable. */
#define FIX_SMTP                                                                                   \
	"set smtpd_upstream_proxy_protocol = haproxy (smtpd) or "                                  \
	"postscreen_upstream_proxy_protocol = haproxy (postscreen) in Postfix main.cf, or "        \
	"trusted proxy networks in Stalwart (server.proxy.trusted-networks)"
#define FIX_DOVECOT                                                                                \
	"set haproxy = yes on the inet_listener and add this host to haproxy_trusted_networks "    \
	"in Dovecot, or to trusted proxy networks in Stalwart (server.proxy.trusted-networks)"
#define FIX_ANY                                                                                    \
	"Postfix: smtpd_upstream_proxy_protocol = haproxy or "                                     \
	"postscreen_upstream_proxy_protocol = haproxy; Dovecot: haproxy = yes on the "             \
	"inet_listener and haproxy_trusted_networks; Stalwart: server.proxy.trusted-networks"
#define NOTE_V2 " (Postfix before 3.5 reads PROXY v1 only)"

struct line {
	const uint8_t *p;
	size_t n;
	bool complete; /* ended by LF; otherwise the bytes stopped mid-line */
};

enum verdict_kind {
	V_UNKNOWN, /* nothing conclusive */
	V_HIT,     /* the backend answered the header as if it were a command */
	V_REFUSED, /* the backend turned us away for its own reasons */
};

struct verdict {
	enum verdict_kind kind;
	struct line bad;   /* the line that shows it, for V_HIT */
	struct line greet; /* first line of a positive greeting */
	bool greeting;     /* a positive greeting started */
	bool greeted;      /* ... and is complete */
};

static bool next_line(const uint8_t *b, size_t len, size_t *pos, struct line *l)
{
	const uint8_t *s, *nl;
	size_t n;

	if (*pos >= len)
		return false;
	s = b + *pos;
	nl = memchr(s, '\n', len - *pos);
	n = nl ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl ? 1 : 0);
	l->complete = nl != NULL;
	if (n && s[n - 1] == '\r')
		n--;
	l->p = s;
	l->n = n;
	return true;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool ci_contains(const struct line *l, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= l->n; i++) {
		size_t j = 0;
		while (j < k && lower(l->p[i + j]) == needle[j])
			j++;
		if (j == k)
			return true;
	}
	return false;
}

/* The idx-th space-separated word of l equals w (case-insensitive) and is
 * complete: followed by a space, or by the end of a complete line. */
static bool word_is(const struct line *l, int idx, const char *w)
{
	size_t i = 0, k = strlen(w);

	for (int skip = 0; skip < idx; skip++) {
		while (i < l->n && l->p[i] != ' ')
			i++;
		if (i == l->n)
			return false;
		i++;
	}
	if (l->n - i < k)
		return false;
	for (size_t j = 0; j < k; j++)
		if (lower(l->p[i + j]) != lower((unsigned char)w[j]))
			return false;
	if (i + k == l->n)
		return l->complete;
	return l->p[i + k] == ' ';
}

static void hit(struct verdict *v, const struct line *l)
{
	v->kind = V_HIT;
	v->bad = *l;
}

/* "ddd" then ' ', '-' or the end of a complete line. */
static bool smtp_code(const struct line *l, int *code, char *sep)
{
	if (l->n < 3)
		return false;
	for (int i = 0; i < 3; i++)
		if (l->p[i] < '0' || l->p[i] > '9')
			return false;
	*code = (l->p[0] - '0') * 100 + (l->p[1] - '0') * 10 + (l->p[2] - '0');
	if (l->n == 3) {
		if (!l->complete)
			return false;
		*sep = ' ';
		return true;
	}
	*sep = (char)l->p[3];
	return *sep == ' ' || *sep == '-';
}

/* Syntax errors (500-504) and enhanced status 5.5.x (postscreen's
 * "521 5.5.1 Protocol error"): the server parsed our bytes as commands. */
static bool smtp_syntax_error(const struct line *l, int code)
{
	if (code >= 500 && code <= 504)
		return true;
	return code / 100 == 5 && l->n >= 8 && memcmp(l->p + 4, "5.5.", 4) == 0;
}

static void scan_smtp(const uint8_t *b, size_t len, struct verdict *v)
{
	size_t pos = 0;
	struct line l;
	int code;
	char sep;

	while (next_line(b, len, &pos, &l)) {
		if (!smtp_code(&l, &code, &sep))
			return;
		if (v->greeted) {
			/* We sent no command, so any reply answers the header. */
			hit(v, &l);
			return;
		}
		if (v->greeting) {
			/* postscreen sends "220-" first and may answer pregreet
			 * traffic with "521 5.5.1" before the greeting ends. */
			if (code != 220) {
				if (smtp_syntax_error(&l, code))
					hit(v, &l);
				return;
			}
			v->greeted = sep == ' ';
			continue;
		}
		if (code == 220) {
			v->greeting = true;
			v->greet = l;
			v->greeted = sep == ' ';
			continue;
		}
		if (smtp_syntax_error(&l, code))
			hit(v, &l);
		else
			v->kind = V_REFUSED;
		return;
	}
}

static bool mentions_proxy(const struct line *l)
{
	return ci_contains(l, "proxy") || ci_contains(l, "trusted");
}

static void scan_imap(const uint8_t *b, size_t len, struct verdict *v)
{
	size_t pos = 0;
	struct line l;

	while (next_line(b, len, &pos, &l)) {
		if (v->greeted) {
			if (word_is(&l, 1, "BAD") || word_is(&l, 1, "NO") ||
			    word_is(&l, 1, "BYE")) {
				hit(v, &l);
				return;
			}
			continue;
		}
		if (word_is(&l, 0, "*") && (word_is(&l, 1, "OK") || word_is(&l, 1, "PREAUTH"))) {
			v->greeting = v->greeted = true;
			v->greet = l;
			continue;
		}
		if (word_is(&l, 1, "BAD") || (word_is(&l, 1, "BYE") && mentions_proxy(&l)))
			hit(v, &l);
		else if (word_is(&l, 1, "BYE"))
			v->kind = V_REFUSED;
		return;
	}
}

static void scan_pop3(const uint8_t *b, size_t len, struct verdict *v)
{
	size_t pos = 0;
	struct line l;

	while (next_line(b, len, &pos, &l)) {
		if (v->greeted) {
			if (word_is(&l, 0, "-ERR")) {
				hit(v, &l);
				return;
			}
			continue;
		}
		if (word_is(&l, 0, "+OK")) {
			v->greeting = v->greeted = true;
			v->greet = l;
			continue;
		}
		if (word_is(&l, 0, "-ERR")) {
			if (mentions_proxy(&l) || ci_contains(&l, "command"))
				hit(v, &l);
			else
				v->kind = V_REFUSED;
		}
		return;
	}
}

/* RFC 5804: the greeting is capability lines ("IMPLEMENTATION" "...")
 * ended by an OK line. */
static void scan_sieve(const uint8_t *b, size_t len, struct verdict *v)
{
	size_t pos = 0;
	struct line l;

	while (next_line(b, len, &pos, &l)) {
		if (v->greeted) {
			if (word_is(&l, 0, "NO") || word_is(&l, 0, "BYE")) {
				hit(v, &l);
				return;
			}
			continue;
		}
		if (l.n > 0 && l.p[0] == '"') {
			if (!v->greeting)
				v->greet = l;
			v->greeting = true;
			continue;
		}
		if (word_is(&l, 0, "OK")) {
			if (!v->greeting)
				v->greet = l;
			v->greeting = v->greeted = true;
			continue;
		}
		if (word_is(&l, 0, "NO") || (word_is(&l, 0, "BYE") && mentions_proxy(&l)))
			hit(v, &l);
		else if (word_is(&l, 0, "BYE"))
			v->kind = V_REFUSED;
		return;
	}
}

/* The backend waits for the client (TLS): it only speaks first to complain. */
static void scan_other(const uint8_t *b, size_t len, struct verdict *v)
{
	size_t pos = 0;
	struct line l;

	if (len >= 2 && b[0] == 0x15 && b[1] == 0x03) {
		static const uint8_t alert[] = "TLS alert";

		v->kind = V_HIT;
		v->bad.p = alert;
		v->bad.n = sizeof(alert) - 1;
		return;
	}
	if (next_line(b, len, &pos, &l) && l.n >= 12 && memcmp(l.p, "HTTP/1.", 7) == 0 &&
	    memcmp(l.p + 8, " 400", 4) == 0)
		hit(v, &l);
}

static const char *closed_how(int close_errno)
{
	if (close_errno == -1)
		return "closed the connection";
	if (close_errno == ECONNRESET || close_errno == EPIPE)
		return "reset the connection";
	return "dropped the connection";
}

const char *tw_reply_diag(tw_reply_proto_t proto, int proxy_version, const uint8_t *first_bytes,
                          size_t len, int close_errno, char *buf, size_t size)
{
	struct verdict v = {0};
	const char *note = proto == TW_REPLY_SMTP && proxy_version == 2 ? NOTE_V2 : "";
	char q[96];

	TW_BUG_ON(!buf || size == 0);
	if (len && !first_bytes)
		len = 0;
	switch (proto) {
	case TW_REPLY_SMTP: scan_smtp(first_bytes, len, &v); break;
	case TW_REPLY_IMAP: scan_imap(first_bytes, len, &v); break;
	case TW_REPLY_POP3: scan_pop3(first_bytes, len, &v); break;
	case TW_REPLY_SIEVE: scan_sieve(first_bytes, len, &v); break;
	default: scan_other(first_bytes, len, &v); break;
	}

	if (v.kind == V_HIT) {
		const char *fix = proto == TW_REPLY_SMTP ? FIX_SMTP
		                  : proto == TW_REPLY_OTHER
		                          ? "enable PROXY protocol for this host (" FIX_ANY ")"
		                          : FIX_DOVECOT;

		snprintf(buf, size,
		         "backend does not expect a PROXY header (it answered \"%s\"): %s%s",
		         tw_escape(q, sizeof(q), v.bad.p, v.bad.n), fix, note);
		return buf;
	}
	if (v.kind == V_REFUSED || close_errno == 0)
		return NULL;
	if (len == 0) {
		snprintf(
		        buf, size,
		        "backend %s right after the PROXY header: it may not accept PROXY protocol "
		        "or not trust this host (" FIX_ANY ")%s",
		        closed_how(close_errno), note);
		return buf;
	}
	if (v.greeting) {
		snprintf(buf, size,
		         "backend %s after its greeting \"%s\", right after the PROXY header: it "
		         "may "
		         "not accept PROXY protocol or not trust this host (" FIX_ANY ")%s",
		         closed_how(close_errno), tw_escape(q, sizeof(q), v.greet.p, v.greet.n),
		         note);
		return buf;
	}
	return NULL;
}
