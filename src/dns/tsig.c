/*
 * tsig.c - TSIG keys for the rfc2136 provider: BIND key files, Knot's
 * `keymgr -t` YAML output, and the --tsig NAME:ALG:SECRET option.
 *
 * Accepted files:
 *   BIND (named.conf(5) key statement, also what `tsig-keygen` and
 *   `ddns-confgen` print):
 *       key "name" { algorithm hmac-sha256; secret "base64=="; };
 *   with comments // ..., # ... and C-style block comments.
 *   Knot (knot.conf(5) key section, what `keymgr -t name hmac-sha256` prints):
 *       key:
 *         - id: name
 *           algorithm: hmac-sha256
 *           secret: base64==
 * One key per file. Algorithms are the HMAC ones of RFC 8945 section 6;
 * hmac-md5 is accepted (old servers still use it) with a warning diag,
 * since that table says it MUST NOT be used.
 *
 * The secret never reaches a diag: messages name the line, column and what
 * was expected and echo no text from the file (a misplaced secret could be
 * any token).
 */
#include "util/tw.h"

#include "dns/provider.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TSIG_FILE_MAX (64 * 1024)

static const char *const algs[] = {
        "hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512",
};

/* The canonical short name for an algorithm as users write it, or NULL.
 * "hmac-md5.sig-alg.reg.int" is hmac-md5's name on the wire (RFC 8945 §6). */
static const char *alg_canon(const char *s, size_t len)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return NULL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[len - 1] == '.')
		buf[len - 1] = '\0';
	if (strcasecmp(buf, "hmac-md5.sig-alg.reg.int") == 0)
		return algs[0];
	for (size_t i = 0; i < TW_ARRAY_LEN(algs); i++)
		if (strcasecmp(buf, algs[i]) == 0)
			return algs[i];
	return NULL;
}

/* Checks base64 (RFC 4648 section 4, padded): returns the index of the first
 * bad character, or -1 if the text is valid and decodes to at least one byte.
 * *why gets a reason that does not quote the text. */
static long b64_check(const char *s, size_t len, const char **why)
{
	size_t i, pad = 0;

	if (len == 0) {
		*why = "is empty";
		return 0;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=') {
			pad++;
			if (pad > 2) {
				*why = "has more than two '=' padding characters";
				return (long)i;
			}
			continue;
		}
		if (pad) {
			*why = "has data after '=' padding";
			return (long)i;
		}
		if (!isalnum(c) && c != '+' && c != '/') {
			*why = "has a character that is not base64 (A-Z a-z 0-9 + / =)";
			return (long)i;
		}
	}
	if (len % 4 != 0) {
		*why = "has a length that is not a multiple of 4 (truncated?)";
		return (long)len;
	}
	if (len - pad < 2) {
		*why = "decodes to nothing";
		return 0;
	}
	return -1;
}

/* A key name: a domain name ldns accepts, at most 255 bytes on the wire. */
static bool name_ok(const char *s, size_t len, const char **why)
{
	char buf[256];
	ldns_rdf *r = NULL;

	if (len == 0) {
		*why = "is empty";
		return false;
	}
	if (len >= sizeof(buf) - 1) {
		*why = "is longer than a domain name can be";
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ';' || c == ':') {
			*why = "has a character a key name can't have (space, quote, ';', ':' "
			       "or a non-ASCII byte)";
			return false;
		}
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (ldns_str2rdf_dname(&r, buf) != LDNS_STATUS_OK) {
		*why = "is not a valid domain name (labels of 1-63 characters)";
		return false;
	}
	ldns_rdf_deep_free(r);
	return true;
}

/* ---- the parser state -------------------------------------------------- */

typedef struct kp {
	const char *file;
	const char *p, *end;
	int line;
	const char *bol; /* start of the current line, for columns */
	tw_diags_t *d;
	int errs;
	bool have_name, have_alg, have_secret;
	int key_line;
	tw_dns_tsig_t *k;
} kp_t;

__attribute__((format(printf, 3, 4))) static void kp_err(kp_t *s, int line, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tw_diag_add(s->d, s->file, line, "", "%s", msg);
	s->errs++;
}

static bool set_name(kp_t *s, int line, const char *v, size_t len)
{
	const char *why;

	if (s->have_name) {
		kp_err(s, line, "a second key: keep one key per file (the first is at line %d)",
		       s->key_line);
		return false;
	}
	if (!name_ok(v, len, &why)) {
		kp_err(s, line, "key name %s", why);
		return false;
	}
	memcpy(s->k->name, v, len);
	s->k->name[len] = '\0';
	s->have_name = true;
	s->key_line = line;
	return true;
}

static void set_alg(kp_t *s, int line, const char *v, size_t len)
{
	const char *a = alg_canon(v, len);

	if (!a) {
		kp_err(s, line,
		       "unknown algorithm: expected one of hmac-sha256, hmac-sha512, "
		       "hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5");
		return;
	}
	if (s->have_alg) {
		kp_err(s, line, "algorithm given twice");
		return;
	}
	tw_strlcpy(s->k->alg, a, sizeof(s->k->alg));
	s->have_alg = true;
	if (a == algs[0])
		tw_diag_add(s->d, s->file, line, "",
		            "warning: hmac-md5 is weak (RFC 8945 section 6: MUST NOT be used); "
		            "accepted, but move the key to hmac-sha256");
}

static void set_secret(kp_t *s, int line, const char *v, size_t len)
{
	const char *why = "";
	long bad;

	if (s->have_secret) {
		kp_err(s, line, "secret given twice");
		return;
	}
	if (len >= sizeof(s->k->secret)) {
		kp_err(s, line, "secret is longer than %zu characters", sizeof(s->k->secret) - 1);
		return;
	}
	bad = b64_check(v, len, &why);
	if (bad >= 0) {
		kp_err(s, line,
		       "secret is not valid base64: it %s (at its character %ld); copy it as "
		       "tsig-keygen "
		       "or keymgr -t printed it",
		       why, bad + 1);
		return;
	}
	memcpy(s->k->secret, v, len);
	s->k->secret[len] = '\0';
	s->have_secret = true;
}

/* ---- BIND syntax ------------------------------------------------------- */

enum { T_EOF, T_WORD, T_STR, T_LBRACE, T_RBRACE, T_SEMI, T_BAD };

typedef struct tok {
	int t;
	const char *v;
	size_t len;
	int line, col;
} tok_t;

static void next_tok(kp_t *s, tok_t *t)
{
	for (;;) {
		while (s->p < s->end &&
		       (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
			if (*s->p == '\n') {
				s->line++;
				s->bol = s->p + 1;
			}
			s->p++;
		}
		if (s->p >= s->end)
			break;
		if (*s->p == '#' || (*s->p == '/' && s->p + 1 < s->end && s->p[1] == '/')) {
			while (s->p < s->end && *s->p != '\n')
				s->p++;
			continue;
		}
		if (*s->p == '/' && s->p + 1 < s->end && s->p[1] == '*') {
			int start = s->line;
			s->p += 2;
			while (s->p + 1 < s->end && !(s->p[0] == '*' && s->p[1] == '/')) {
				if (*s->p == '\n') {
					s->line++;
					s->bol = s->p + 1;
				}
				s->p++;
			}
			if (s->p + 1 >= s->end) {
				kp_err(s, start, "comment opened with /* is never closed with */");
				s->p = s->end;
				break;
			}
			s->p += 2;
			continue;
		}
		break;
	}
	t->line = s->line;
	t->col = (int)(s->p - s->bol) + 1;
	t->v = s->p;
	t->len = 0;
	if (s->p >= s->end) {
		t->t = T_EOF;
		return;
	}
	switch (*s->p) {
	case '{':
		t->t = T_LBRACE;
		s->p++;
		return;
	case '}':
		t->t = T_RBRACE;
		s->p++;
		return;
	case ';':
		t->t = T_SEMI;
		s->p++;
		return;
	case '"': {
		const char *q = s->p + 1;
		while (q < s->end && *q != '"' && *q != '\n')
			q++;
		if (q >= s->end || *q != '"') {
			kp_err(s, t->line, "column %d: quoted string is not closed on its line",
			       t->col);
			t->t = T_BAD;
			s->p = q;
			return;
		}
		t->t = T_STR;
		t->v = s->p + 1;
		t->len = (size_t)(q - t->v);
		s->p = q + 1;
		return;
	}
	default: break;
	}
	const char *q = s->p;
	while (q < s->end && !strchr(" \t\r\n{};\"#", *q) &&
	       !(*q == '/' && q + 1 < s->end && (q[1] == '/' || q[1] == '*')))
		q++;
	if (q == s->p) { /* a lone '/' before something odd: one byte */
		q++;
	}
	t->t = T_WORD;
	t->len = (size_t)(q - s->p);
	s->p = q;
}

static bool word_is(const tok_t *t, const char *w)
{
	return t->t == T_WORD && t->len == strlen(w) && strncasecmp(t->v, w, t->len) == 0;
}

static const char *tok_desc(const tok_t *t)
{
	switch (t->t) {
	case T_EOF: return "the end of the file";
	case T_WORD: return "a word";
	case T_STR: return "a quoted string";
	case T_LBRACE: return "'{'";
	case T_RBRACE: return "'}'";
	case T_SEMI: return "';'";
	default: return "a bad token";
	}
}

/* Skips to just past the next ';' at this level (error recovery). */
static void skip_stmt(kp_t *s, tok_t *t)
{
	while (t->t != T_EOF && t->t != T_SEMI && t->t != T_RBRACE)
		next_tok(s, t);
}

static void parse_bind(kp_t *s)
{
	tok_t t;

	next_tok(s, &t);
	while (t.t != T_EOF) {
		if (!word_is(&t, "key")) {
			kp_err(s, t.line,
			       "column %d: expected a key statement (key \"name\" { ... };), "
			       "got %s",
			       t.col, tok_desc(&t));
			return;
		}
		int kline = t.line;
		next_tok(s, &t);
		if (t.t != T_WORD && t.t != T_STR) {
			kp_err(s, t.line, "column %d: expected the key name after 'key', got %s",
			       t.col, tok_desc(&t));
			return;
		}
		if (!set_name(s, t.line, t.v, t.len))
			return;
		next_tok(s, &t);
		if (t.t != T_LBRACE) {
			kp_err(s, t.line, "column %d: expected '{' after the key name, got %s",
			       t.col, tok_desc(&t));
			return;
		}
		next_tok(s, &t);
		while (t.t != T_RBRACE) {
			if (t.t == T_EOF) {
				kp_err(s, kline, "the key statement is not closed with '};'");
				return;
			}
			if (word_is(&t, "algorithm") || word_is(&t, "secret")) {
				bool is_secret = word_is(&t, "secret");
				int sl = t.line;
				next_tok(s, &t);
				if (t.t != T_WORD && t.t != T_STR) {
					kp_err(s, t.line,
					       "column %d: expected a value after '%s', got %s",
					       t.col, is_secret ? "secret" : "algorithm",
					       tok_desc(&t));
					skip_stmt(s, &t);
				} else {
					if (is_secret)
						set_secret(s, sl, t.v, t.len);
					else
						set_alg(s, sl, t.v, t.len);
					next_tok(s, &t);
				}
				if (t.t != T_SEMI) {
					kp_err(s, t.line,
					       "column %d: expected ';' after the %s, got %s",
					       t.col, is_secret ? "secret" : "algorithm",
					       tok_desc(&t));
					skip_stmt(s, &t);
				}
				if (t.t == T_SEMI)
					next_tok(s, &t);
				continue;
			}
			if (t.t == T_WORD) {
				kp_err(s, t.line,
				       "column %d: unknown statement in a key (expected algorithm "
				       "or secret)",
				       t.col);
			} else {
				kp_err(s, t.line, "column %d: expected algorithm or secret, got %s",
				       t.col, tok_desc(&t));
			}
			skip_stmt(s, &t);
			if (t.t == T_SEMI)
				next_tok(s, &t);
		}
		next_tok(s, &t);
		if (t.t != T_SEMI) {
			kp_err(s, t.line, "column %d: expected ';' after the key's '}', got %s",
			       t.col, tok_desc(&t));
			return;
		}
		next_tok(s, &t);
	}
}

/* ---- Knot YAML (the subset keymgr -t prints) ---------------------------- */

static void trim(const char **a, const char **b)
{
	while (*a < *b && (**a == ' ' || **a == '\t'))
		(*a)++;
	while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t' || (*b)[-1] == '\r'))
		(*b)--;
}

static void parse_knot(kp_t *s)
{
	bool in_key = false;

	while (s->p < s->end) {
		const char *a = s->p, *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
		const char *b = nl ? nl : s->end;
		int line = s->line;

		s->p = nl ? nl + 1 : s->end;
		s->line++;
		/* '#' starts a comment outside quotes; base64 has no '#'. */
		const char *h = memchr(a, '#', (size_t)(b - a));
		if (h)
			b = h;
		bool indented = a < b && (*a == ' ' || *a == '\t');
		trim(&a, &b);
		if (a == b)
			continue;
		if (!indented) {
			if ((size_t)(b - a) == 4 && memcmp(a, "key:", 4) == 0) {
				in_key = true;
				continue;
			}
			kp_err(s, line, "expected the 'key:' section (as keymgr -t prints it)");
			return;
		}
		if (!in_key) {
			kp_err(s, line, "expected the 'key:' section before this line");
			return;
		}
		if (*a == '-') {
			a++;
			trim(&a, &b);
		}
		const char *colon = memchr(a, ':', (size_t)(b - a));
		if (!colon) {
			kp_err(s, line, "expected 'id:', 'algorithm:' or 'secret:'");
			continue;
		}
		const char *ka = a, *kb = colon, *va = colon + 1, *vb = b;
		trim(&ka, &kb);
		trim(&va, &vb);
		if (vb - va >= 2 && (*va == '"' || *va == '\'') && vb[-1] == *va) {
			va++;
			vb--;
		}
		size_t kl = (size_t)(kb - ka), vl = (size_t)(vb - va);
		if (kl == 2 && memcmp(ka, "id", 2) == 0) {
			if (!set_name(s, line, va, vl))
				return;
		} else if (kl == 9 && memcmp(ka, "algorithm", 9) == 0) {
			set_alg(s, line, va, vl);
		} else if (kl == 6 && memcmp(ka, "secret", 6) == 0) {
			set_secret(s, line, va, vl);
		} else {
			kp_err(s, line, "unknown key field (expected id, algorithm, secret)");
		}
	}
}

/* ---- entry points -------------------------------------------------------- */

/* True if the first thing in the file (past comments and blank lines) is a
 * line starting "key:": Knot's YAML. BIND's statement is "key NAME {". */
static bool looks_knot(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *b = nl ? nl : end, *a = p;
		while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
			a++;
		if (a < b && *a != '#')
			return (size_t)(b - a) >= 4 && memcmp(a, "key:", 4) == 0;
		p = nl ? nl + 1 : end;
	}
	return false;
}

int tw_dns_tsig_parse(const char *name, const char *buf, size_t len, tw_dns_tsig_t *k,
                      tw_diags_t *d)
{
	kp_t s = {
	        .file = name ? name : "",
	        .p = buf,
	        .end = buf + len,
	        .line = 1,
	        .bol = buf,
	        .d = d,
	        .k = k,
	};

	memset(k, 0, sizeof(*k));
	if (memchr(buf, '\0', len)) {
		tw_diag_add(d, s.file, 0, "", "the key file has a NUL byte: not a text file");
		return TW_EINVAL;
	}
	if (looks_knot(buf, len))
		parse_knot(&s);
	else
		parse_bind(&s);
	if (s.errs == 0) {
		if (!s.have_name)
			kp_err(&s, s.line,
			       "no key in the file: expected key \"name\" { algorithm "
			       "hmac-sha256; secret \"...\"; };");
		else if (!s.have_alg)
			kp_err(&s, s.key_line,
			       "the key has no algorithm (e.g. algorithm hmac-sha256;)");
		else if (!s.have_secret)
			kp_err(&s, s.key_line, "the key has no secret");
	}
	if (s.errs) {
		explicit_bzero(k, sizeof(*k));
		return TW_EINVAL;
	}
	return 0;
}

int tw_dns_tsig_load(const char *path, tw_dns_tsig_t *k, tw_diags_t *d)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t n = 0;
	int fd, rc;

	memset(k, 0, sizeof(*k));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		tw_diag_add(d, path, 0, "", "cannot open the TSIG key file: %s", strerror(e));
		return -e;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		tw_diag_add(d, path, 0, "", "the TSIG key file is not a regular file");
		close(fd);
		return TW_EINVAL;
	}
	if (st.st_mode & 077) {
		tw_diag_add(d, path, 0, "",
		            "mode %04o lets group or others %s the TSIG key; run chmod 600 %s",
		            (unsigned)(st.st_mode & 07777),
		            (st.st_mode & 044) ? "read" : "write or run", path);
		close(fd);
		return TW_EINVAL;
	}
	if (st.st_size > TSIG_FILE_MAX) {
		tw_diag_add(d, path, 0, "", "the TSIG key file is over %d bytes: not a key file",
		            TSIG_FILE_MAX);
		close(fd);
		return TW_ETOOBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return TW_ENOMEM;
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	rc = tw_dns_tsig_parse(path, buf, n, k, d);
	explicit_bzero(buf, n);
	free(buf);
	return rc;
}

int tw_dns_tsig_parse_opt(const char *s, tw_dns_tsig_t *k, tw_diags_t *d)
{
	const char *f[3];
	size_t fl[3];
	int nf = 0;
	const char *p = s, *why;

	memset(k, 0, sizeof(*k));
	while (nf < 3) {
		const char *c = strchr(p, ':');
		f[nf] = p;
		if (!c || nf == 2) {
			fl[nf++] = strlen(p);
			break;
		}
		fl[nf++] = (size_t)(c - p);
		p = c + 1;
	}
	if (nf < 2) {
		tw_diag_add(d, "", 0, "--tsig",
		            "expected NAME:ALGORITHM:SECRET (e.g. "
		            "tw-key:hmac-sha256:base64...)");
		return TW_EINVAL;
	}
	const char *nm, *al = "hmac-sha256", *se;
	size_t nml, all = strlen(al), sel;
	if (nf == 2) { /* NAME:SECRET, hmac-sha256 as kdig -y does */
		nm = f[0], nml = fl[0], se = f[1], sel = fl[1];
	} else if (alg_canon(f[0], fl[0]) && !alg_canon(f[1], fl[1])) {
		/* ALG:NAME:SECRET, the order of nsupdate -y and kdig -y */
		al = f[0], all = fl[0], nm = f[1], nml = fl[1], se = f[2], sel = fl[2];
	} else {
		nm = f[0], nml = fl[0], al = f[1], all = fl[1], se = f[2], sel = fl[2];
	}
	if (memchr(se, ':', sel)) {
		tw_diag_add(d, "", 0, "--tsig",
		            "too many ':' fields: expected NAME:ALGORITHM:SECRET");
		return TW_EINVAL;
	}
	if (!name_ok(nm, nml, &why)) {
		tw_diag_add(d, "", 0, "--tsig", "key name %s", why);
		return TW_EINVAL;
	}
	memcpy(k->name, nm, nml);
	k->name[nml] = '\0';
	const char *a = alg_canon(al, all);
	if (!a) {
		tw_diag_add(d, "", 0, "--tsig",
		            "unknown algorithm: expected one of hmac-sha256, hmac-sha512, "
		            "hmac-sha384, hmac-sha224, hmac-sha1, hmac-md5");
		explicit_bzero(k, sizeof(*k));
		return TW_EINVAL;
	}
	tw_strlcpy(k->alg, a, sizeof(k->alg));
	if (sel >= sizeof(k->secret)) {
		tw_diag_add(d, "", 0, "--tsig", "secret is longer than %zu characters",
		            sizeof(k->secret) - 1);
		explicit_bzero(k, sizeof(*k));
		return TW_EINVAL;
	}
	long bad = b64_check(se, sel, &why);
	if (bad >= 0) {
		tw_diag_add(d, "", 0, "--tsig",
		            "secret is not valid base64: it %s (at its character %ld)", why,
		            bad + 1);
		explicit_bzero(k, sizeof(*k));
		return TW_EINVAL;
	}
	memcpy(k->secret, se, sel);
	k->secret[sel] = '\0';
	if (a == algs[0])
		tw_diag_add(d, "", 0, "--tsig",
		            "warning: hmac-md5 is weak (RFC 8945 section 6: MUST NOT be used); "
		            "accepted, but move the key to hmac-sha256");
	return 0;
}
