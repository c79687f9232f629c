/*
 * logban.h - the `log_ban` trigger: which client a line of the mail
 * server's log accuses.
 *
 * A pattern is a POSIX extended regular expression (regcomp, REG_EXTENDED)
 * with exactly one `<ADDR>` where the client's address stands, e.g. for
 * Postfix
 *     warning: unknown\[<ADDR>\]: SASL (LOGIN|PLAIN) authentication failed
 * `<ADDR>` becomes a group that matches an IPv4 or IPv6 address, also
 * written in brackets ("[2001:db8::1]") or as ::ffff:a.b.c.d. Back-references
 * are refused (glibc matches them by backtracking: a crafted user name in a
 * log line could stall the control thread), and so are repetitions that
 * regcomp would expand past a bound ("a++++++++", "((a{99}){99}){99}",
 * "(a*){4000}"): such patterns cost it seconds and gigabytes. The captured text must parse as an
 * address (inet_pton), else the line does not match; the leftmost candidate
 * that parses wins (a time stamp like 07:23:19 that looks like IPv6 is skipped;
 * at most 8 candidates are tried per line).
 *
 * tw_linebuf_t cuts a growing file's bytes into lines for the matcher. It
 * keeps an unfinished last line between feeds; lines longer than
 * TW_LOGBAN_LINE_MAX (not counting "\n" or "\r\n") are dropped and counted,
 * never cut into pieces.
 *
 * Both run on the control thread. A compiled pattern is immutable: matching
 * allocates nothing and may run from several threads at once.
 */
#ifndef TW_EDGE_LOGBAN_H
#define TW_EDGE_LOGBAN_H

#include "util/tw.h"

#include <sys/socket.h>

/* The longest line (without its newline) that is matched at all. */
#define TW_LOGBAN_LINE_MAX 4096

typedef struct tw_logban tw_logban_t;

/*
 * Compiles pattern. Returns 0 and *out (free with tw_logban_free), or
 * TW_EINVAL with err saying what is wrong: "pattern needs exactly one
 * <ADDR>: found none" / ": found 2", "<ADDR> cannot be inside a bracket
 * expression", "back-references are not supported: \\1", "pattern too
 * complex: ...", "bad regular expression ...: <regerror text>". TW_ENOMEM
 * when out of memory.
 */
int tw_logban_compile(const char *pattern, tw_logban_t **out, char *err, size_t errlen);

/*
 * Matches one line (len bytes, not necessarily NUL-terminated; a trailing
 * "\n" or "\r\n" is ignored). True when the pattern matches and its
 * <ADDR> parses: *addr_out (may be NULL) then holds the address, AF_INET
 * for IPv4 and ::ffff:a.b.c.d, AF_INET6 otherwise, port 0. A line longer
 * than TW_LOGBAN_LINE_MAX or holding a NUL byte never matches.
 */
bool tw_logban_match(const tw_logban_t *lb, const char *line, size_t len,
                     struct sockaddr_storage *addr_out);

/* The pattern as given. */
const char *tw_logban_pattern(const tw_logban_t *lb);

void tw_logban_free(tw_logban_t *lb); /* NULL ok */

/* All-zero is an empty buffer (tw_linebuf_t b = {0}). */
typedef struct tw_linebuf {
	char buf[TW_LOGBAN_LINE_MAX + 1]; /* + a "\r" before the newline */
	size_t len;                       /* bytes of the unfinished line held in buf */
	bool skipping;                    /* inside an overlong line: drop up to its newline */
	uint64_t lines;                   /* lines delivered so far */
	uint64_t overlong;                /* lines dropped for being longer than the bound */
} tw_linebuf_t;

/*
 * Feeds len bytes. Calls on_line(arg, line, n) for every complete line, in
 * order, without its "\n" (or "\r\n"); line is valid only during the call
 * and is not NUL-terminated. An unfinished last line is kept for the next
 * feed. Returns the number of lines delivered by this call.
 */
size_t tw_linebuf_feed(tw_linebuf_t *b, const char *data, size_t len,
                       void (*on_line)(void *arg, const char *line, size_t len), void *arg);

/* Forgets the unfinished line (the file was truncated or replaced);
 * keeps the counters. */
void tw_linebuf_reset(tw_linebuf_t *b);

#endif
