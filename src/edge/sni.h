/*
 * sni.h - route table of a TLS listener: server name (+ ALPN) to route.
 *
 * Built once by the config loader (control thread; allocates), then frozen
 * and owned by the route-table snapshot. Queried by every worker for every
 * TLS connection: tw_sni_table_lookup() takes a const table, allocates
 * nothing, takes no lock and writes nothing shared, so any number of threads
 * may query one table at once. Adding after the table is published is not
 * allowed (nothing would stop a reader from seeing a half-moved array).
 *
 * Matching rules:
 * - Names compare case-insensitively (ASCII); one trailing dot is dropped
 *   from patterns and names alike ("Mail.Example.COM." = "mail.example.com").
 * - A pattern is an exact name or "*.<domain>". The wildcard stands for
 *   exactly one whole, non-empty label: "*.d" matches "a.d" but neither
 *   "b.a.d" nor "d" (as in RFC 6125 6.4.3 certificate matching, so routing
 *   agrees with what the backend's certificate can cover).
 * - Precedence: an exact entry beats a wildcard entry beats the default.
 *   Within one pattern, an entry with an ALPN list matches only when the
 *   client offered one of its protocols, and such a match beats the
 *   pattern's entry without ALPN; if several ALPN entries of the pattern
 *   match, the one added first wins (config order = operator preference).
 *   A pattern whose entries all fail on ALPN does not match, and the search
 *   goes on to the wildcard level, then to the default.
 * - No SNI (name_len 0), or a name that is not a valid host name, goes to
 *   the default.
 *
 * Layout: one array sorted by (exact before wildcard, normalized name, order
 * of addition), searched with a binary search; a wildcard entry is stored
 * under its domain ("*.example.com" under "example.com"), so a name is
 * looked up at most twice: whole, then minus its first label. Chosen over a
 * hash because tables are small (tens of entries), built once, and a sorted
 * array needs no hash function or seed (nothing a client could aim collisions
 * at), keeps entries of one pattern next to each other in config order, and
 * is compact and cache-friendly; O(log n) compares of short strings is well
 * below the cost of the accept that precedes it.
 */
#ifndef TW_EDGE_SNI_H
#define TW_EDGE_SNI_H

#include "util/tw.h"

/* Longest host name, in presentation form without the trailing dot. */
#define TW_SNI_NAME_MAX  253
#define TW_SNI_LABEL_MAX 63

typedef struct tw_sni_table tw_sni_table_t;

/*
 * Normalizes a host name: lower-cases ASCII letters, drops one trailing dot
 * and validates what is left: 1..253 bytes, labels of 1..63 bytes separated
 * by single dots, only letters, digits, '-' and '_' (no '*': wildcards are a
 * pattern matter). in need not be NUL-terminated; len is its length.
 * Writes the result and a NUL into out (outsz >= 254 always suffices).
 * Returns the length of the result (> 0), TW_EINVAL when the name is not
 * valid, TW_ETOOBIG when out is too small (out then holds "").
 */
int tw_sni_name_normalize(const char *in, size_t len, char *out, size_t outsz);

/* An empty table with no default (lookups return -1). NULL when out of
 * memory. Free with tw_sni_table_free(). */
tw_sni_table_t *tw_sni_table_new(void);

/*
 * Adds pattern -> route. pattern is NUL-terminated, an exact name or
 * "*.<domain>". alpn is NULL or a NULL-terminated list of protocol ids
 * (1..255 bytes each, compared byte for byte); NULL or an empty list means
 * "whatever the client offers". route must be >= 0. The table copies what
 * it needs; the caller keeps its strings.
 * Returns 0; TW_EINVAL with err set (may be NULL when errlen is 0) when the
 * pattern or ALPN list is invalid or collides with an earlier entry, e.g.
 *   sni pattern "*foo.example": a wildcard must be a whole leftmost label ("*.example.com")
 *   sni pattern "Example.com.": duplicate of an earlier entry
 * Two entries of one pattern collide when neither has an ALPN list, or
 * when their lists share a protocol (the match would be ambiguous).
 * TW_ENOMEM when out of memory. On error the table is unchanged.
 */
int tw_sni_table_add(tw_sni_table_t *t, const char *pattern, const char *const *alpn, int route,
                     char *err, size_t errlen);

/* Route for connections that match no entry (or send no SNI); -1 (the
 * initial value) means none: such connections are closed. */
void tw_sni_table_set_default(tw_sni_table_t *t, int route);

/*
 * Finds the route for a client. name/name_len is the SNI as sent (need not
 * be NUL-terminated; NULL or 0 when none was sent). alpn_list/alpn_len is
 * the client's raw protocol_name_list (tw_client_hello_t.alpn; NULL/0 when
 * no ALPN was offered). Returns the route, or -1 when nothing matches and
 * there is no default. Thread-safe on a table no longer being added to.
 */
int tw_sni_table_lookup(const tw_sni_table_t *t, const char *name, size_t name_len,
                        const uint8_t *alpn_list, size_t alpn_len);

/* Frees the table and everything it owns; NULL is a no-op. */
void tw_sni_table_free(tw_sni_table_t *t);

#endif
