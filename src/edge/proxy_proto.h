/*
 * proxy_proto.h - PROXY protocol v1 (text) and v2 (binary): parse and encode.
 *
 * Spec: "The PROXY protocol, Versions 1 & 2" (haproxy doc/proxy-protocol.txt,
 * revision 2020/03/05). The edge parses headers from trusted upstreams on
 * accept and encodes one towards each backend after dialing.
 *
 * Pure functions on caller buffers: no allocation, no globals, any thread.
 * The parser never reads past `len` and owns nothing; tw_proxy_info_t is a
 * plain value (copies of the TLVs it keeps, no pointers into the input).
 *
 * Strictness (the spec says "any sequence which does not exactly match the
 * protocol must be discarded"):
 * - v1: "PROXY", single spaces, upper case keywords, CRLF within 107 bytes
 *   (a bare CR or LF is an error), TCP4 needs dotted-quad IPv4 without
 *   leading zeros, TCP6 needs colon-hex IPv6 (no dotted tail), ports 0-65535
 *   without leading zeros. "UNKNOWN" accepts anything up to the CRLF.
 * - v2: signature, version 2, command LOCAL or PROXY, family/transport one
 *   of 0x00 0x11 0x12 0x21 0x22 0x31 0x32, length at least the address
 *   block, TLVs inside the header, CRC32C verified when present, UNIQUE_ID
 *   at most 128 bytes, SSL TLV at least 5 bytes with sub-TLVs inside it.
 *   AUTHORITY (at most 255 bytes, no NUL), ALPN (at most 64 bytes),
 *   UNIQUE_ID, CRC32C and SSL may each appear once; a repeat is an error
 *   because the receiver could not tell which one the sender meant.
 *   Unknown, custom, NOOP and NETNS TLVs are skipped. LOCAL headers are
 *   checked the same way (HAProxy sends TLVs with LOCAL), then their
 *   addresses are ignored.
 */
#ifndef TW_EDGE_PROXY_PROTO_H
#define TW_EDGE_PROXY_PROTO_H

#include "util/tw.h"

#include <sys/socket.h>

#define TW_PROXY_V1_MAX_LEN    107          /* longest v1 line, CRLF included */
#define TW_PROXY_V2_MAX_LEN    (16 + 65535) /* largest v2 header */
#define TW_PROXY_SEND_CAP      536          /* what Postfix reads in one go; encode cap */
#define TW_PROXY_AUTHORITY_MAX 255
#define TW_PROXY_ALPN_MAX      64
#define TW_PROXY_UNIQUE_ID_MAX 128

typedef struct tw_proxy_info {
	int version; /* 1 or 2 */
	/* True for v2 LOCAL, v1 UNKNOWN and v2 PROXY with family UNSPEC: the
	 * header carries no client address, use the socket's real endpoints. */
	bool local;
	/* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when local. */
	int family;
	/* SOCK_STREAM transport (TCP, UNIX stream); false for DGRAM and UNSPEC.
	 * The edge only uses headers with stream && family AF_INET/AF_INET6. */
	bool stream;
	/* sockaddr_in / sockaddr_in6 / sockaddr_un (sun_path is the raw 108
	 * bytes, not necessarily NUL-terminated); ss_family AF_UNSPEC when local.
	 * IPv4-mapped IPv6 addresses are kept as sent (AF_INET6). */
	struct sockaddr_storage src, dst;
	/* v2 TLVs; lengths are 0 when absent. authority is NUL-terminated. */
	char authority[TW_PROXY_AUTHORITY_MAX + 1];
	uint16_t authority_len;
	uint8_t alpn[TW_PROXY_ALPN_MAX];
	uint16_t alpn_len;
	uint8_t unique_id[TW_PROXY_UNIQUE_ID_MAX];
	uint16_t unique_id_len;
	bool crc32c_ok; /* a CRC32C TLV was present and matched */
	bool ssl;       /* a well-formed PP2_TYPE_SSL TLV was present */
} tw_proxy_info_t;

/*
 * Parses one PROXY header (v1 or v2, told apart by the first byte) at the
 * start of buf[0..len).
 *
 * Returns:
 *   0           *out filled, *consumed = header length; bytes after it are
 *               payload that belongs to the application protocol.
 *   TW_EAGAIN   buf is a valid prefix of a header (len 0 included): read more
 *               and call again with the whole buffer.
 *   TW_ETOOBIG  the header would be longer than max_len (v2 declared length,
 *               or no v1 CRLF within max_len bytes when max_len < 107).
 *               Pass TW_PROXY_V2_MAX_LEN to accept anything the spec allows.
 *   TW_EINVAL   malformed; err gets one line naming the problem, e.g.
 *               `v1 port "65536" out of range`.
 * err may be NULL (errlen is then ignored); it is set on TW_EINVAL and
 * TW_ETOOBIG only. *out is zeroed first and only meaningful on 0.
 */
int tw_proxy_parse(const uint8_t *buf, size_t len, size_t max_len, tw_proxy_info_t *out,
                   size_t *consumed, char *err, size_t errlen);

/* Optional v2 TLVs to send. Pointers are borrowed for the call only. */
typedef struct tw_proxy_tlvs {
	const char *authority; /* e.g. the TLS SNI; at most 255 bytes, no NUL */
	size_t authority_len;
	const uint8_t *alpn; /* at most TW_PROXY_ALPN_MAX bytes */
	size_t alpn_len;
	const uint8_t *unique_id; /* at most TW_PROXY_UNIQUE_ID_MAX bytes */
	size_t unique_id_len;
} tw_proxy_tlvs_t;

/*
 * Writes a PROXY header (version 1 or 2, command PROXY, TCP) for a client
 * connection from src to dst (the address the client connected to) into
 * out[0..cap). Neither address is modified.
 *
 * Addresses: AF_INET or AF_INET6 only. IPv4-mapped IPv6 (::ffff:a.b.c.d) is
 * sent as plain IPv4 (v1 TCP4, v2 family AF_INET), because backends match
 * their trusted networks and logs against IPv4. If src and dst still differ
 * in family after that, both are sent as IPv6 (the IPv4 one v4-mapped): the
 * protocol has one family per header, and IPv6 can carry both.
 *
 * v1 ignores tlvs and writes IPv6 as colon-hex (RFC 5952 style, never a
 * dotted tail, which strict receivers reject). v2 writes ALPN, AUTHORITY and
 * UNIQUE_ID TLVs (those with a non-zero length) in type order, never SSL or
 * CRC32C. If they do not all fit in cap, optional TLVs are dropped, unique_id
 * first, then alpn, then authority, so the header still fits; pass
 * cap = TW_PROXY_SEND_CAP (536) so a receiver that reads the header in one
 * read of that size (Postfix) gets all of it.
 *
 * Returns the number of bytes written, TW_ETOOBIG if even the header without
 * TLVs does not fit in cap, TW_EINVAL for another version, an unsupported
 * family, or a TLV over its limit (or NUL in authority, or NULL with a
 * length): the caller is expected to have checked those.
 */
int tw_proxy_encode(uint8_t *out, size_t cap, int version, const struct sockaddr *src,
                    const struct sockaddr *dst, const tw_proxy_tlvs_t *tlvs);

/*
 * Writes the 16-byte v2 LOCAL header (family UNSPEC, no address, no TLV):
 * "this connection is the proxy's own", for health checks. Returns 16 or
 * TW_ETOOBIG if cap < 16.
 */
int tw_proxy_encode_local(uint8_t *out, size_t cap);

#endif
