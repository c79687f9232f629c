/*
 * reply_diag.h - tell from a backend's first reply that it did not expect
 * the PROXY header the edge just sent.
 *
 * A mail server that is not set up for PROXY protocol reads the header as
 * a command and answers an error after its greeting (Postfix smtpd:
 * "500 5.5.2 Error: command not recognized"; Dovecot: "PROXY BAD ..."), or
 * closes. The v2 signature even contains "QUIT\n", so an SMTP server may say
 * "221 Bye". The operator then sees clients fail with no hint; this module
 * turns those first bytes into one line naming the setting to change.
 *
 * Pure function of its inputs: no globals, no allocation, any thread.
 * The caller (the dialer or health check) sends the PROXY header and nothing
 * else, collects what the backend sends until the first reply after the
 * greeting, a close, or a short timeout, and calls tw_reply_diag() once.
 */
#ifndef TW_EDGE_REPLY_DIAG_H
#define TW_EDGE_REPLY_DIAG_H

#include "util/tw.h"

/*
 * What the backend speaks. Named TW_REPLY_* because config.h's tw_proto_t
 * already owns TW_PROTO_*: map SMTP/SUBMISSION to TW_REPLY_SMTP, IMAP,
 * POP3 and SIEVE to theirs, and implicit-TLS ports (465, 993, 995) and TLS
 * routes to TW_REPLY_OTHER (the backend waits for a ClientHello).
 */
typedef enum tw_reply_proto {
	TW_REPLY_SMTP,
	TW_REPLY_IMAP,
	TW_REPLY_POP3,
	TW_REPLY_SIEVE,
	TW_REPLY_OTHER,
} tw_reply_proto_t;

/*
 * Looks at the first bytes a backend sent after the edge's PROXY header.
 *
 * proxy_version: 1 or 2, the header that was sent (v2 to SMTP adds a note
 *   that Postfix before 3.5 reads v1 only).
 * first_bytes/len: what arrived (may be 0 bytes; lines may be cut short;
 *   binary is fine).
 * close_errno: how the read ended: 0 = still open (data arrived or the
 *   caller stopped waiting), -1 = clean EOF, ECONNRESET (or another errno)
 *   = the connection failed.
 * buf/size: where the diagnosis goes; buf must not be NULL, size > 0.
 *
 * Returns NULL when the reply looks fine (a normal greeting: "220",
 * "* OK", "+OK", ManageSieve capabilities and "OK"), or when there is
 * nothing to judge yet (0 bytes, still open) or the server refused for its
 * own reasons (e.g. "421" or "* BYE too many connections" greeting).
 * Otherwise returns buf holding one line (truncated to size, no newline,
 * the backend's words quoted and escaped) that names the missing setting:
 * Postfix smtpd_upstream_proxy_protocol / postscreen_upstream_proxy_protocol,
 * Dovecot haproxy = yes and haproxy_trusted_networks, Stalwart's proxy
 * trusted networks.
 */
const char *tw_reply_diag(tw_reply_proto_t proto, int proxy_version, const uint8_t *first_bytes,
                          size_t len, int close_errno, char *buf, size_t size);

#endif
