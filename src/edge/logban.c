#include "util/tw.h"

#include "edge/logban.h"

#include "util/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>

#define PLACEHOLDER     "<ADDR>"
#define PLACEHOLDER_LEN (sizeof(PLACEHOLDER) - 1)
#define PATTERN_MAX     2048
/* Groups the user may open before <ADDR>: bounds the match array, which
 * lives on the stack so that matching allocates nothing. */
#define GROUPS_MAX 31
/* Candidates tried per line when an earlier one does not parse. */
#define TRIES_MAX 8

/*
 * What <ADDR> becomes: one group, optionally in brackets. The alternatives
 * are loose on purpose (inet_pton judges), but tight at the edges so that a
 * port after the address ("1.2.3.4:25") or a colon after it ("::1: ...")
 * is not swallowed: IPv4 is four dotted numbers, IPv6 ends in a hex digit,
 * in "::", or in a dotted IPv4 tail. No inner groups: the user's groups
 * after <ADDR> keep predictable numbers.
 */
#define RE_V4  "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}"
#define RE_HEX "[0-9A-Fa-f]"
#define RE_ADDR                                                                                    \
	"\\[?(" RE_V4 "|" RE_HEX "{0,4}:[0-9A-Fa-f:]*" RE_HEX "|[0-9A-Fa-f:]*::"                   \
	"|" RE_HEX "{0,4}:[0-9A-Fa-f:]*:" RE_V4 ")\\]?"

struct tw_logban {
	regex_t re;
	size_t group; /* the <ADDR> group's number */
	char *pattern;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return TW_EINVAL;
}

/* The end of the bracket expression that opens at s[i] == '[' (the index
 * just past its "]"), or strlen(s) when it is not closed. *has_addr is set
 * when the placeholder's text appears inside it. */
static size_t bracket_end(const char *s, size_t i, bool *has_addr)
{
	size_t n = strlen(s), j = i + 1;
	if (j < n && s[j] == '^')
		j++;
	if (j < n && s[j] == ']') /* a leading "]" is a member, not the end */
		j++;
	while (j < n && s[j] != ']') {
		if (strncmp(s + j, PLACEHOLDER, PLACEHOLDER_LEN) == 0)
			*has_addr = true;
		if (s[j] == '[' && j + 1 < n &&
		    (s[j + 1] == ':' || s[j + 1] == '=' || s[j + 1] == '.')) {
			/* [:alpha:], [=e=], [.x.]: their "]" does not close. */
			char close[3] = {s[j + 1], ']', '\0'};
			const char *e = strstr(s + j + 2, close);
			if (!e)
				return n;
			j = (size_t)(e - s) + 2;
			continue;
		}
		j++;
	}
	return j < n ? j + 1 : n;
}

/*
 * glibc's regcomp copies a repeated sub-expression for every "+" and every
 * count of "{n,m}", so stacked or nested repetitions ("a++++++++",
 * "((a{9}){9}){9}") grow exponentially and can exhaust memory while the
 * config loads; and copies of something that matches the empty string
 * ("(a*){4000}") give every copy an epsilon closure over all the others,
 * quadratic in time and memory; regexec's memory grows with the nodes
 * too. This estimates both the way regcomp builds them and says no before
 * it tries. The bounds keep regcomp within tens of milliseconds and
 * megabytes ("<ADDR>" alone is about 70 nodes; ".{0,500}" is 500 and
 * 250000 of closure) while leaving room for any pattern a log needs.
 */
#define COST_MAX    1500    /* NFA nodes */
#define CLOSURE_MAX 1000000 /* epsilon-closure work: sum of (nullable copies)^2 */

/* s[*i] == '{': an interval "{n}", "{n,}", "{,m}" or "{n,m}"? Then *i moves
 * past it, *copies is the copies regcomp makes (may be 0) and *min the
 * required ones. Otherwise false (regcomp then decides what "{" is). */
static bool repeat_factor(const char *s, size_t *i, uint64_t *copies, uint64_t *min)
{
	size_t j = *i + 1, nd = 0, md = 0;
	uint64_t n = 0, m = 0;
	while (s[j] >= '0' && s[j] <= '9' && nd < 6)
		n = n * 10 + (uint64_t)(s[j++] - '0'), nd++;
	bool comma = s[j] == ',';
	if (comma) {
		j++;
		while (s[j] >= '0' && s[j] <= '9' && md < 6)
			m = m * 10 + (uint64_t)(s[j++] - '0'), md++;
	}
	if (s[j] != '}' || (nd == 0 && md == 0))
		return false;
	*i = j + 1;
	*min = n;
	uint64_t f = comma ? (md ? m : n + 1) : n;
	*copies = f > n ? f : n;
	return true;
}

typedef struct frame {
	uint64_t size;        /* nodes so far in this group */
	uint64_t last;        /* nodes of the last atom (what a quantifier repeats) */
	bool last_nullable;   /* the last atom matches "" */
	bool prefix_nullable; /* so do all atoms before it in this alternative */
	bool any_nullable;    /* a finished alternative matches "" */
} frame_t;

static void frame_open(frame_t *f)
{
	*f = (frame_t){0, 0, true, true, false};
}

static void frame_atom(frame_t *f, uint64_t size, bool nullable)
{
	f->prefix_nullable = f->prefix_nullable && f->last_nullable;
	f->size += size;
	f->last = size;
	f->last_nullable = nullable;
}

static bool frame_nullable(const frame_t *f)
{
	return f->any_nullable || (f->prefix_nullable && f->last_nullable);
}

#define TOO_COMPLEX "pattern too complex: its repetitions expand too far"
#define EMPTY_LOOP                                                                                 \
	"unbounded repetition of a part that can match the empty string (like \"(a*)+\" or "       \
	"\"(x|)*\") is not supported"

/* NULL, or why regcomp must not see re. */
static const char *too_costly(const char *re)
{
	frame_t st[64];
	int depth = 0;
	uint64_t closure = 0;
	frame_open(&st[0]);
	for (size_t i = 0; re[i];) {
		frame_t *f = &st[depth];
		char c = re[i];
		if (c == '(') {
			if (++depth == (int)TW_ARRAY_LEN(st))
				return TOO_COMPLEX;
			frame_open(&st[depth]);
			i++;
			continue;
		}
		if (c == ')' && depth > 0) {
			bool nullable = frame_nullable(f);
			uint64_t size = f->size + 1;
			depth--;
			frame_atom(&st[depth], size, nullable);
			i++;
		} else if (c == '|') {
			f->any_nullable = frame_nullable(f);
			f->prefix_nullable = f->last_nullable = true;
			f->size++;
			f->last = 0;
			i++;
			continue;
		} else if (c == '*' || c == '?' || c == '+' || c == '{') {
			/* x{n,m} is n copies of x then m-n nested optional ones,
			 * which match "" whatever x is; x+ is xx*. */
			uint64_t n = f->last, copies, min;
			bool unbounded = c != '?';
			if (c == '{') {
				if (!repeat_factor(re, &i, &copies, &min)) { /* a literal "{" */
					frame_atom(f, 1, false);
					i++;
					continue;
				}
				unbounded = re[i - 2] == ','; /* "{n,}" */
			} else {
				copies = c == '+' ? 2 : 1;
				min = c == '+' ? 1 : 0;
				i++;
			}
			if (n == 0) { /* nothing to repeat: regcomp's to judge */
				frame_atom(f, 1, false);
				continue;
			}
			/* A loop whose body matches "" is an epsilon cycle: glibc
			 * recomputes closures around it, exponentially in what
			 * else is nullable nearby (found by fuzz_logban). */
			if (unbounded && f->last_nullable)
				return EMPTY_LOOP;
			uint64_t m = copies * n + 1;
			if (m > COST_MAX)
				return TOO_COMPLEX;
			uint64_t chain =
			        f->last_nullable ? m : (copies - (min < copies ? min : copies)) * n;
			if (copies > 1)
				closure += chain * chain;
			f->size = f->size - n + m;
			f->last = m;
			f->last_nullable = f->last_nullable || min == 0;
		} else {
			if (c == '\\')
				i += re[i + 1] ? 2 : 1;
			else if (c == '[') {
				bool unused = false;
				i = bracket_end(re, i, &unused);
			} else {
				i++;
			}
			/* Anchors match "" but are single nodes either way. */
			frame_atom(f, 1, c == '^' || c == '$');
		}
		if (st[depth].size > COST_MAX || closure > CLOSURE_MAX)
			return TOO_COMPLEX;
	}
	return NULL;
}

int tw_logban_compile(const char *pattern, tw_logban_t **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	if (!pattern || !pattern[0])
		return fail(err, errlen, "empty pattern: it needs exactly one <ADDR>");
	size_t plen = strlen(pattern);
	if (plen > PATTERN_MAX)
		return fail(err, errlen, "pattern too long: %zu bytes, at most %d", plen,
		            PATTERN_MAX);

	/* Find <ADDR> where it is syntax, and count the groups opened before
	 * it: that gives the number of the group it becomes. */
	size_t found = 0, at = 0, groups = 0, groups_before = 0;
	bool in_bracket = false;
	for (size_t i = 0; i < plen;) {
		char c = pattern[i];
		if (c == '\\') {
			/* glibc matches back-references by backtracking, which a
			 * crafted log line (a user name) can make exponential. */
			if (pattern[i + 1] >= '1' && pattern[i + 1] <= '9')
				return fail(err, errlen, "back-references are not supported: \\%c",
				            pattern[i + 1]);
			i += 2;
		} else if (c == '[') {
			i = bracket_end(pattern, i, &in_bracket);
		} else if (c == '(') {
			groups++;
			i++;
		} else if (strncmp(pattern + i, PLACEHOLDER, PLACEHOLDER_LEN) == 0) {
			if (found++ == 0) {
				at = i;
				groups_before = groups;
			}
			i += PLACEHOLDER_LEN;
		} else {
			i++;
		}
	}
	if (found == 0 && in_bracket)
		return fail(err, errlen, "<ADDR> cannot be inside a bracket expression");
	if (found == 0)
		return fail(err, errlen, "pattern needs exactly one <ADDR>: found none");
	if (found > 1)
		return fail(err, errlen, "pattern needs exactly one <ADDR>: found %zu", found);
	if (groups_before >= GROUPS_MAX)
		return fail(err, errlen, "too many groups before <ADDR>: %zu, at most %d",
		            groups_before, GROUPS_MAX - 1);

	size_t elen = plen - PLACEHOLDER_LEN + sizeof(RE_ADDR);
	char *expanded = malloc(elen);
	tw_logban_t *lb = calloc(1, sizeof(*lb));
	char *copy = strdup(pattern);
	if (!expanded || !lb || !copy) {
		free(expanded);
		free(lb);
		free(copy);
		return TW_ENOMEM;
	}
	snprintf(expanded, elen, "%.*s%s%s", (int)at, pattern, RE_ADDR,
	         pattern + at + PLACEHOLDER_LEN);

	const char *why = too_costly(expanded);
	if (why) {
		free(expanded);
		free(lb);
		free(copy);
		return fail(err, errlen, "%s", why);
	}
	int rc = regcomp(&lb->re, expanded, REG_EXTENDED);
	free(expanded);
	if (rc != 0) {
		char msg[160];
		regerror(rc, &lb->re, msg, sizeof(msg));
		msg[0] = (char)tolower((unsigned char)msg[0]);
		free(lb);
		free(copy);
		if (rc == REG_ESPACE)
			return TW_ENOMEM;
		return fail(err, errlen, "bad regular expression \"%s\": %s", pattern, msg);
	}
	lb->group = groups_before + 1;
	if (lb->re.re_nsub < lb->group) {
		/* Our count disagrees with regcomp's: never guess a group. */
		regfree(&lb->re);
		free(lb);
		free(copy);
		return fail(err, errlen, "cannot locate <ADDR> in \"%s\"", pattern);
	}
	lb->pattern = copy;
	*out = lb;
	return 0;
}

const char *tw_logban_pattern(const tw_logban_t *lb)
{
	return lb ? lb->pattern : NULL;
}

void tw_logban_free(tw_logban_t *lb)
{
	if (!lb)
		return;
	regfree(&lb->re);
	free(lb->pattern);
	free(lb);
}

static bool parse_ip(const char *s, size_t n, struct sockaddr_storage *out)
{
	char ip[INET6_ADDRSTRLEN + 1];
	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		tw_addr_unmap_v4(&ss);
	} else {
		return false;
	}
	if (out)
		*out = ss;
	return true;
}

bool tw_logban_match(const tw_logban_t *lb, const char *line, size_t len,
                     struct sockaddr_storage *addr_out)
{
	if (!lb || !line)
		return false;
	if (len && line[len - 1] == '\n')
		len--;
	if (len && line[len - 1] == '\r')
		len--;
	if (len > TW_LOGBAN_LINE_MAX || memchr(line, '\0', len))
		return false;
	char buf[TW_LOGBAN_LINE_MAX + 1];
	memcpy(buf, line, len);
	buf[len] = '\0';

	size_t start = 0;
	for (int tries = 0; tries < TRIES_MAX && start <= len; tries++) {
		regmatch_t m[GROUPS_MAX + 1];
		int eflags = start ? REG_NOTBOL : 0;
		if (regexec(&lb->re, buf + start, lb->group + 1, m, eflags) != 0)
			return false;
		const regmatch_t *g = &m[lb->group];
		if (g->rm_so >= 0 &&
		    parse_ip(buf + start + g->rm_so, (size_t)(g->rm_eo - g->rm_so), addr_out))
			return true;
		/* Not an address (or <ADDR> sat in an alternative that did not
		 * take part): look for the next candidate after it. */
		size_t next = (size_t)m[0].rm_so + 1;
		if (g->rm_so >= 0 && (size_t)g->rm_eo > next)
			next = (size_t)g->rm_eo;
		start += next;
	}
	return false;
}

size_t tw_linebuf_feed(tw_linebuf_t *b, const char *data, size_t len,
                       void (*on_line)(void *arg, const char *line, size_t len), void *arg)
{
	size_t delivered = 0;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t chunk = (size_t)((nl ? nl : end) - p);
		const char *next = nl ? nl + 1 : end;
		if (b->skipping) {
			if (nl)
				b->skipping = false;
			p = next;
			continue;
		}
		if (b->len + chunk > sizeof(b->buf)) {
			b->overlong++;
			b->len = 0;
			b->skipping = !nl;
			p = next;
			continue;
		}
		if (!nl) {
			memcpy(b->buf + b->len, p, chunk);
			b->len += chunk;
			break;
		}
		const char *line = p;
		size_t n = chunk;
		if (b->len) {
			memcpy(b->buf + b->len, p, chunk);
			line = b->buf;
			n = b->len + chunk;
			b->len = 0;
		}
		if (n && line[n - 1] == '\r')
			n--;
		if (n > TW_LOGBAN_LINE_MAX) {
			b->overlong++;
		} else {
			b->lines++;
			delivered++;
			if (on_line)
				on_line(arg, line, n);
		}
		p = next;
	}
	return delivered;
}

void tw_linebuf_reset(tw_linebuf_t *b)
{
	b->len = 0;
	b->skipping = false;
}
