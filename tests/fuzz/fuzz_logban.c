#include "util/tw.h"

#include "edge/logban.h"
#include "util/addr.h"

#include <arpa/inet.h>

/*
 * Input: the first line is a pattern, the rest log data. The data goes
 * through tw_linebuf_t in one feed and again in pieces whose sizes come
 * from the data; both must deliver the same lines, each within the bound,
 * and every match must be a real address in its unmapped form.
 * Patterns go to tw_logban_compile unfiltered: it must refuse those that
 * would make regcomp explode (stacked or nested repetitions) by itself.
 */

typedef struct seen {
	const tw_logban_t *lb;
	uint64_t hash;
	size_t lines, matches;
} seen_t;

static void on_line(void *arg, const char *line, size_t len)
{
	seen_t *s = arg;
	TW_BUG_ON(len > TW_LOGBAN_LINE_MAX);
	TW_BUG_ON(memchr(line, '\n', len) != NULL);
	for (size_t i = 0; i < len; i++)
		s->hash = (s->hash ^ (unsigned char)line[i]) * 0x100000001b3ULL;
	s->hash = (s->hash ^ 0x100) * 0x100000001b3ULL;
	s->lines++;
	if (!s->lb)
		return;
	struct sockaddr_storage ss;
	if (!tw_logban_match(s->lb, line, len, &ss))
		return;
	s->matches++;
	if (ss.ss_family == AF_INET6) {
		TW_BUG_ON(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
	} else {
		TW_BUG_ON(ss.ss_family != AF_INET);
	}
	TW_BUG_ON(tw_addr_port((struct sockaddr *)&ss) != 0);
	/* What we print parses back to the same address. */
	char ip[INET6_ADDRSTRLEN];
	uint8_t back[16];
	tw_addr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip));
	if (ss.ss_family == AF_INET)
		TW_BUG_ON(inet_pton(AF_INET, ip, back) != 1 ||
		          memcmp(back, &((struct sockaddr_in *)&ss)->sin_addr, 4) != 0);
	else
		TW_BUG_ON(inet_pton(AF_INET6, ip, back) != 1 ||
		          memcmp(back, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	const char *nl = memchr(d, '\n', size);
	size_t plen = nl ? (size_t)(nl - d) : size;
	if (plen > 256)
		return 0;
	char pattern[257];
	memcpy(pattern, d, plen);
	pattern[plen] = '\0';
	if (memchr(d, '\0', plen))
		return 0;

	tw_logban_t *lb = NULL;
	char err[384] = "";
	int r = tw_logban_compile(pattern, &lb, err, sizeof(err));
	if (r != 0) {
		TW_BUG_ON(r != TW_EINVAL && r != TW_ENOMEM);
		TW_BUG_ON(lb != NULL);
		TW_BUG_ON(r == TW_EINVAL && err[0] == '\0');
	} else {
		TW_BUG_ON(lb == NULL || strcmp(tw_logban_pattern(lb), pattern) != 0);
	}

	const char *log = nl ? nl + 1 : d + size;
	size_t len = (size_t)(d + size - log);

	/* One feed. */
	tw_linebuf_t *a = calloc(1, sizeof(*a));
	tw_linebuf_t *b = calloc(1, sizeof(*b));
	if (!a || !b)
		goto out;
	seen_t sa = {.lb = lb, .hash = 0xcbf29ce484222325ULL};
	size_t n = tw_linebuf_feed(a, log, len, on_line, &sa);
	TW_BUG_ON(n != sa.lines || a->lines != sa.lines);

	/* The same bytes in pieces: the same lines, the same matches. */
	seen_t sb = {.lb = lb, .hash = 0xcbf29ce484222325ULL};
	size_t off = 0, step = 1;
	while (off < len) {
		step = (step * 7 + (unsigned char)log[off]) % 97 + 1;
		size_t k = len - off < step ? len - off : step;
		tw_linebuf_feed(b, log + off, k, on_line, &sb);
		off += k;
	}
	TW_BUG_ON(sa.lines != sb.lines || sa.hash != sb.hash || sa.matches != sb.matches);
	TW_BUG_ON(a->overlong != b->overlong || a->len != b->len || a->skipping != b->skipping);

	/* The whole data as one line, too. */
	if (lb)
		tw_logban_match(lb, log, len, NULL);
out:
	free(a);
	free(b);
	tw_logban_free(lb);
	return 0;
}
