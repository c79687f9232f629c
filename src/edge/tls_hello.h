/*
 * tls_hello.h - find SNI and ALPN in a client's first TLS flight, without
 * terminating TLS.
 *
 * A TLS listener does not hold keys: it reads the ClientHello, routes on the
 * server name (and offered ALPN protocols) and then relays every byte, the
 * ones already read included, to the chosen backend. This module is the
 * reader. It is a pure function over a byte buffer: no allocation, no state,
 * no locks, so any worker thread may call it.
 *
 * How a caller uses it: append each socket read to one buffer (at most
 * max_len bytes), call tw_tls_hello_parse() on the whole buffer, and on
 * TW_EAGAIN read again. The parser starts over on every call; a ClientHello
 * is a few hundred bytes, so re-parsing is cheaper than keeping state.
 *
 * What it accepts (RFC 8446 sections 4.1.2, 5.1; RFC 5246 7.4.1.2):
 * - one handshake message of type client_hello carried in one or more
 *   records of content type 22 (handshake). The message may be fragmented
 *   over any number of records, each 1..16384 bytes, and its 4-byte header
 *   may itself be split. Records split over TCP segments are TW_EAGAIN.
 * - an SSLv2-compatible hello (first byte with the high bit set) is refused:
 *   it cannot carry extensions, so it cannot carry SNI.
 * - extensions are optional (a TLS 1.2 hello may have none). Unknown ones,
 *   GREASE ones (RFC 8701) included, are skipped. server_name (0),
 *   application_layer_protocol_negotiation (16) and supported_versions (43)
 *   are read and must not appear twice: a second copy could make us route on
 *   one name while the backend serves the other.
 * Bytes after the ClientHello (rest of its record, early data, a second
 * flight) are not looked at.
 */
#ifndef TW_EDGE_TLS_HELLO_H
#define TW_EDGE_TLS_HELLO_H

#include "util/tw.h"

/* Largest TLSPlaintext fragment (RFC 8446 5.1). */
#define TW_TLS_MAX_RECORD 16384

typedef struct tw_client_hello {
	/* true when a server_name extension with a host_name entry was sent. */
	bool has_sni;
	/* The host_name exactly as sent (no case folding, no dot stripping;
	 * tw_sni_name_normalize() does that), NUL-terminated. Guaranteed
	 * 1..255 bytes without NUL bytes when has_sni; "" otherwise. */
	char sni[256];
	size_t sni_len;
	/* The client's ALPN protocol_name_list as on the wire (each name one
	 * length byte then 1..255 bytes), with GREASE names (RFC 8701 0x?A?A
	 * two-byte ids) removed. alpn_len == 0 when no ALPN extension was sent.
	 * The whole extension is validated, but only whole names that fit into
	 * 256 bytes are kept; a longer list is cut after its last name that
	 * fits (no real client sends that much). Walk it with tw_alpn_next(). */
	uint8_t alpn[256];
	size_t alpn_len;
	/* The highest non-GREASE version in supported_versions (0x0304 for TLS
	 * 1.3) when that extension is present, else legacy_version (0x0303 for
	 * TLS 1.2). Informational: routing does not use it. */
	uint16_t version;
} tw_client_hello_t;

/*
 * Parses the ClientHello at the start of buf[0..len).
 *
 * max_len bounds the record bytes (5-byte record headers included) the
 * caller will ever buffer for the hello; the parser never needs a byte at or
 * beyond max_len and never reads at or beyond len.
 *
 * Returns:
 *   0           a complete ClientHello was parsed; *out is filled.
 *   TW_EAGAIN   buf is a valid prefix of a ClientHello; read more and call
 *               again with the longer buffer.
 *   TW_EINVAL   not a ClientHello, or a malformed one; err says what, e.g.
 *               "not a TLS handshake record (content type 0x17)",
 *               "sni name length overflows extension".
 *   TW_ETOOBIG  completing the hello needs more than max_len bytes (known
 *               as soon as the lengths read so far prove it, so a client
 *               announcing a 16 MB hello is refused after 9 bytes).
 * *out is zeroed first and is only meaningful when 0 is returned. err (may
 * be NULL when errlen is 0) gets a message for TW_EINVAL and TW_ETOOBIG and
 * "" otherwise.
 */
int tw_tls_hello_parse(const uint8_t *buf, size_t len, size_t max_len, tw_client_hello_t *out,
                       char *err, size_t errlen);

/*
 * Iterates an ALPN protocol_name_list (such as tw_client_hello_t.alpn).
 * Start with *off = 0; each call that returns true sets *name / *name_len to
 * the next protocol (not NUL-terminated, 1..255 bytes, pointing into list)
 * and advances *off. Returns false at the end of the list, and also when the
 * next entry is empty or runs past len (a malformed list ends there).
 */
bool tw_alpn_next(const uint8_t *list, size_t len, size_t *off, const uint8_t **name,
                  size_t *name_len);

#endif
