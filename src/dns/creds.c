/*
 * creds.c - the Spaceship API key and secret, from a credentials file of
 * NAME=VALUE lines (the .env style people already keep them in) or from the
 * environment.
 *
 * A value never reaches a diag: messages name the variable and the line,
 * and the file's buffer is wiped after parsing.
 */
#include "util/tw.h"

#include "dns/provider.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CREDS_MAX_FILE (64 * 1024)

enum { V_NONE, V_API_KEY, V_KEY, V_API_SECRET, V_SECRET, V_N };

static const char *const var_names[V_N] = {
        [V_API_KEY] = "SPACESHIP_API_KEY",
        [V_KEY] = "SPACESHIP_KEY",
        [V_API_SECRET] = "SPACESHIP_API_SECRET",
        [V_SECRET] = "SPACESHIP_SECRET",
};

static int var_of(const char *s, size_t n)
{
	for (int v = 1; v < V_N; v++)
		if (strlen(var_names[v]) == n && !memcmp(var_names[v], s, n))
			return v;
	return V_NONE;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * One value: "quoted" (\" and \\ escapes), 'quoted' (literal) or bare (up
 * to a " #" comment, trailing blanks dropped). After a closing quote only
 * blanks or a # comment may follow. Returns a malloc'd copy or NULL with
 * *why set (a message without the value).
 */
static char *parse_value(const char *p, const char *end, const char **why)
{
	size_t cap = (size_t)(end - p) + 1, o = 0;
	char *v = malloc(cap);
	if (!v) {
		*why = "out of memory";
		return NULL;
	}
	if (p < end && (*p == '"' || *p == '\'')) {
		char q = *p++;
		bool closed = false;
		while (p < end) {
			char c = *p++;
			if (c == q) {
				closed = true;
				break;
			}
			if (q == '"' && c == '\\' && p < end && (*p == '"' || *p == '\\'))
				c = *p++;
			v[o++] = c;
		}
		if (!closed) {
			*why = "the quoted value has no closing quote";
			goto fail;
		}
		while (p < end && is_blank(*p))
			p++;
		if (p < end && *p != '#') {
			*why = "unexpected text after the closing quote";
			goto fail;
		}
	} else {
		const char *stop = p;
		while (stop < end && !(*stop == '#' && stop > p && is_blank(stop[-1])))
			stop++;
		while (stop > p && is_blank(stop[-1]))
			stop--;
		memcpy(v, p, (size_t)(stop - p));
		o = (size_t)(stop - p);
	}
	v[o] = '\0';
	for (size_t i = 0; i < o; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			*why = c == ' ' ? "the value has a space (keys and secrets have none)"
			                : "the value has a control character";
			goto fail;
		}
	}
	if (o == 0) {
		*why = "the value is empty";
		goto fail;
	}
	return v;
fail:
	explicit_bzero(v, cap);
	free(v);
	return NULL;
}

int tw_dns_creds_parse(const char *name, const char *buf, size_t len, char **key, char **secret,
                       tw_diags_t *d)
{
	char *val[V_N] = {0};
	size_t nd = d->n;
	const char *p = buf, *end = buf + len;
	int line = 0;
	bool bad_key = false, bad_secret = false;

	*key = *secret = NULL;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end, *next = eol ? eol + 1 : end;
		line++;
		if (le > p && le[-1] == '\r')
			le--;
		while (p < le && is_blank(*p))
			p++;
		if (p == le || *p == '#') {
			p = next;
			continue;
		}
		/* Shell-style "export NAME=VALUE". */
		if (le - p > 7 && !memcmp(p, "export", 6) && is_blank(p[6])) {
			p += 7;
			while (p < le && is_blank(*p))
				p++;
		}
		const char *n0 = p;
		while (p < le && (isalnum((unsigned char)*p) || *p == '_'))
			p++;
		size_t nl = (size_t)(p - n0);
		const char *eq = p;
		while (eq < le && is_blank(*eq))
			eq++;
		if (nl == 0 || isdigit((unsigned char)*n0) || eq == le || *eq != '=') {
			/* Don't echo the line: it may be a bare secret. */
			tw_diag_add(d, name, line, "", "expected NAME=VALUE");
			p = next;
			continue;
		}
		char vname[64];
		snprintf(vname, sizeof(vname), "%.*s", (int)(nl < 60 ? nl : 60), n0);
		int v = var_of(n0, nl);
		if (v == V_NONE) {
			tw_diag_add(d, name, line, vname,
			            "unknown name: expected SPACESHIP_API_KEY and "
			            "SPACESHIP_API_SECRET (or SPACESHIP_KEY and SPACESHIP_SECRET)");
			p = next;
			continue;
		}
		p = eq + 1;
		while (p < le && is_blank(*p))
			p++;
		const char *why = NULL;
		char *s = parse_value(p, le, &why);
		if (!s) {
			tw_diag_add(d, name, line, vname, "%s", why);
			if (v == V_API_KEY || v == V_KEY)
				bad_key = true;
			else
				bad_secret = true;
		} else {
			wipe_free(val[v]); /* a later line wins, as in a shell */
			val[v] = s;
		}
		p = next;
	}

	/* The SPACESHIP_API_* names win over the short ones. */
	char *k = val[V_API_KEY] ? val[V_API_KEY] : val[V_KEY];
	char *sec = val[V_API_SECRET] ? val[V_API_SECRET] : val[V_SECRET];
	if (!k && !bad_key)
		tw_diag_add(d, name, 0, "",
		            "no API key: expected SPACESHIP_API_KEY (or SPACESHIP_KEY)");
	if (!sec && !bad_secret)
		tw_diag_add(d, name, 0, "",
		            "no API secret: expected SPACESHIP_API_SECRET (or SPACESHIP_SECRET)");
	if (d->n != nd) {
		for (int i = 0; i < V_N; i++)
			wipe_free(val[i]);
		return TW_EINVAL;
	}
	for (int i = 0; i < V_N; i++)
		if (val[i] != k && val[i] != sec)
			wipe_free(val[i]);
	*key = k;
	*secret = sec;
	return 0;
}

static int creds_env(char **key, char **secret, tw_diags_t *d)
{
	const char *k = getenv("SPACESHIP_API_KEY"), *s = getenv("SPACESHIP_API_SECRET");
	if (!k || !*k)
		k = getenv("SPACESHIP_KEY");
	if (!s || !*s)
		s = getenv("SPACESHIP_SECRET");
	size_t nd = d->n;
	if (!k || !*k)
		tw_diag_add(d, "environment", 0, "",
		            "no API key: SPACESHIP_API_KEY (or SPACESHIP_KEY) is not set");
	if (!s || !*s)
		tw_diag_add(d, "environment", 0, "",
		            "no API secret: SPACESHIP_API_SECRET (or SPACESHIP_SECRET) is not set");
	if (d->n != nd)
		return TW_EINVAL;
	*key = strdup(k);
	*secret = strdup(s);
	if (!*key || !*secret) {
		wipe_free(*key);
		wipe_free(*secret);
		*key = *secret = NULL;
		return TW_ENOMEM;
	}
	return 0;
}

int tw_dns_creds_load(const char *path, char **key, char **secret, tw_diags_t *d)
{
	*key = *secret = NULL;
	if (!path)
		return creds_env(key, secret, d);

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return tw_diag_add(d, path, 0, "", "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return tw_diag_add(d, path, 0, "", "not a regular file");
	}
	/* A secret others can read (or rewrite) is not a secret. */
	if (st.st_mode & 0066) {
		close(fd);
		return tw_diag_add(
		        d, path, 0, "",
		        "mode %04o lets group or others read or write it; run chmod 600 %s",
		        (unsigned)(st.st_mode & 07777), path);
	}
	if (st.st_size > CREDS_MAX_FILE) {
		close(fd);
		return tw_diag_add(d, path, 0, "", "over %d bytes: not a credentials file",
		                   CREDS_MAX_FILE);
	}
	char *buf = malloc(CREDS_MAX_FILE + 1);
	if (!buf) {
		close(fd);
		return TW_ENOMEM;
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, CREDS_MAX_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			explicit_bzero(buf, n);
			free(buf);
			return tw_diag_add(d, path, 0, "", "cannot read: %s", strerror(e));
		}
		if (r == 0 || (n += (size_t)r) > CREDS_MAX_FILE)
			break;
	}
	close(fd);
	int rc;
	if (n > CREDS_MAX_FILE)
		rc = tw_diag_add(d, path, 0, "", "over %d bytes: not a credentials file",
		                 CREDS_MAX_FILE);
	else
		rc = tw_dns_creds_parse(path, buf, n, key, secret, d);
	explicit_bzero(buf, CREDS_MAX_FILE + 1);
	free(buf);
	return rc;
}
