#include "util/tw.h"

#include "edge/proxy_proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

enum {
	PP2_TYPE_ALPN = 0x01,
	PP2_TYPE_AUTHORITY = 0x02,
	PP2_TYPE_CRC32C = 0x03,
	PP2_TYPE_NOOP = 0x04,
	PP2_TYPE_UNIQUE_ID = 0x05,
	PP2_TYPE_SSL = 0x20,
};

#define V2_HDR_LEN 16
#define V2_SSL_HDR 5 /* client (1) + verify (4) */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return TW_EINVAL;
}

static bool tok_eq(const uint8_t *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

static bool tok_prefix(const uint8_t *p, size_t n, const char *s)
{
	return n <= strlen(s) && memcmp(p, s, n) == 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Dotted quad, no leading zeros; partial accepts any prefix of one. */
static bool v4_text(const uint8_t *p, size_t n, bool partial, uint8_t a[4])
{
	unsigned part = 0, val = 0, digits = 0;

	if (n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (digits == 0 || part == 3)
				return false;
			a[part++] = (uint8_t)val;
			val = 0;
			digits = 0;
		} else if (p[i] >= '0' && p[i] <= '9') {
			if ((digits == 1 && val == 0) || digits == 3)
				return false;
			val = val * 10 + (p[i] - '0');
			digits++;
			if (val > 255)
				return false;
		} else {
			return false;
		}
	}
	if (partial)
		return true;
	if (part != 3 || digits == 0)
		return false;
	a[3] = (uint8_t)val;
	return true;
}

/* Colon-hex only: the spec describes groups of hex digits, and a dotted
 * tail is a different syntax some receivers reject. */
static bool v6_text(const uint8_t *p, size_t n, bool partial, uint8_t a[16])
{
	char tmp[40];
	struct in6_addr in6;

	if (n > 39)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] != ':' && hexval(p[i]) < 0)
			return false;
	if (partial)
		return true;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET6, tmp, &in6) != 1)
		return false;
	memcpy(a, &in6, 16);
	return true;
}

enum { PORT_OK, PORT_LEADING_ZERO, PORT_RANGE, PORT_SYNTAX };

static int port_text(const uint8_t *p, size_t n, bool partial, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0)
		return partial ? PORT_OK : PORT_SYNTAX;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return PORT_SYNTAX;
	if (n > 1 && p[0] == '0')
		return PORT_LEADING_ZERO;
	if (n > 5)
		return PORT_RANGE;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	if (v > 65535)
		return PORT_RANGE;
	*port = (uint16_t)v;
	return PORT_OK;
}

static void put_v4(struct sockaddr_storage *ss, const uint8_t a[4], uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, a, 4);
	sin->sin_port = htons(port);
}

static void put_v6(struct sockaddr_storage *ss, const uint8_t a[16], uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	memcpy(&sin6->sin6_addr, a, 16);
	sin6->sin6_port = htons(port);
}

static int bad_proto(const uint8_t *t, size_t tn, char *err, size_t errlen)
{
	char q[64];

	return bad(err, errlen, "v1 protocol \"%s\" unknown (want TCP4, TCP6 or UNKNOWN)",
	           tw_escape(q, sizeof(q), t, tn));
}

/*
 * Checks the fields of a v1 line (without CRLF). When !complete the line is
 * what arrived so far, and its last field may be cut short: it is checked
 * as a prefix. Returns 0 if the fields are valid (as far as they go).
 */
static int v1_fields(const uint8_t *line, size_t n, bool complete, tw_proxy_info_t *out, char *err,
                     size_t errlen)
{
	static const char *const names[6] = {"keyword",        "protocol",
	                                     "source address", "destination address",
	                                     "source port",    "destination port"};
	enum { P_NONE, P_TCP4, P_TCP6 } proto = P_NONE;
	uint8_t addr[2][16];
	uint16_t port[2] = {0, 0};
	size_t pos = 0;
	int f;
	char q[64];

	for (f = 0;; f++) {
		size_t s = pos;

		if (f == 6)
			return bad(err, errlen, "v1 line has data after the destination port");
		while (pos < n && line[pos] != ' ')
			pos++;
		const uint8_t *t = line + s;
		size_t tn = pos - s;
		bool partial = !complete && pos == n;
		bool more = pos < n;

		if (tn == 0 && !partial)
			return bad(err, errlen,
			           "v1 %s empty: fields take exactly one space between them",
			           names[f]);
		switch (f) {
		case 0:
			if (!(partial ? tok_prefix(t, tn, "PROXY") : tok_eq(t, tn, "PROXY")))
				return bad(err, errlen, "v1 keyword \"%s\" is not PROXY",
				           tw_escape(q, sizeof(q), t, tn));
			break;
		case 1:
			if (partial) {
				if (!tok_prefix(t, tn, "TCP4") && !tok_prefix(t, tn, "TCP6") &&
				    !tok_prefix(t, tn, "UNKNOWN"))
					return bad_proto(t, tn, err, errlen);
			} else if (tok_eq(t, tn, "TCP4")) {
				proto = P_TCP4;
			} else if (tok_eq(t, tn, "TCP6")) {
				proto = P_TCP6;
			} else if (tok_eq(t, tn, "UNKNOWN")) {
				/* The spec: ignore anything up to the CRLF. */
				out->local = true;
				out->family = AF_UNSPEC;
				return 0;
			} else {
				return bad_proto(t, tn, err, errlen);
			}
			break;
		case 2:
		case 3:
			if (proto == P_TCP4 && !v4_text(t, tn, partial, addr[f - 2]))
				return bad(err, errlen, "v1 %s \"%s\" is not a valid IPv4 address",
				           names[f], tw_escape(q, sizeof(q), t, tn));
			if (proto == P_TCP6 && !v6_text(t, tn, partial, addr[f - 2]))
				return bad(err, errlen, "v1 %s \"%s\" is not a valid IPv6 address",
				           names[f], tw_escape(q, sizeof(q), t, tn));
			break;
		default:
			switch (port_text(t, tn, partial, &port[f - 4])) {
			case PORT_OK: break;
			case PORT_LEADING_ZERO:
				return bad(err, errlen, "v1 port \"%s\" has a leading zero",
				           tw_escape(q, sizeof(q), t, tn));
			case PORT_RANGE:
				return bad(err, errlen, "v1 port \"%s\" out of range",
				           tw_escape(q, sizeof(q), t, tn));
			default:
				return bad(err, errlen, "v1 %s \"%s\" is not a number", names[f],
				           tw_escape(q, sizeof(q), t, tn));
			}
			break;
		}
		if (partial)
			return 0;
		if (!more)
			break;
		pos++;
	}
	if (f < 5)
		return bad(err, errlen, "v1 line ends after the %s", names[f]);
	out->family = proto == P_TCP4 ? AF_INET : AF_INET6;
	out->stream = true;
	if (proto == P_TCP4) {
		put_v4(&out->src, addr[0], port[0]);
		put_v4(&out->dst, addr[1], port[1]);
	} else {
		put_v6(&out->src, addr[0], port[0]);
		put_v6(&out->dst, addr[1], port[1]);
	}
	return 0;
}

static int parse_v1(const uint8_t *buf, size_t len, size_t max_len, tw_proxy_info_t *out,
                    size_t *consumed, char *err, size_t errlen)
{
	size_t limit = TW_PROXY_V1_MAX_LEN;
	size_t scan = len < limit ? len : limit;
	size_t i;
	bool complete = false;
	int r;

	out->version = 1;
	for (i = 0; i < scan; i++) {
		if (buf[i] == '\n')
			return bad(err, errlen, "v1 line ends with a bare LF (want CRLF)");
		if (buf[i] == '\r') {
			if (i + 2 > limit)
				break;
			if (i + 1 == len)
				break;
			if (buf[i + 1] != '\n')
				return bad(err, errlen, "v1 line has a CR not followed by LF");
			complete = true;
			break;
		}
	}
	if (!complete && (len >= limit || i + 2 > limit))
		return bad(err, errlen, "v1 line has no CRLF within %zu bytes", limit);
	r = v1_fields(buf, i, complete, out, err, errlen);
	if (r < 0)
		return r;
	if ((complete && i + 2 > max_len) || (!complete && len >= max_len)) {
		set_err(err, errlen, "v1 line longer than the %zu-byte limit", max_len);
		return TW_ETOOBIG;
	}
	if (!complete)
		return TW_EAGAIN;
	*consumed = i + 2;
	return 0;
}

static uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n)
{
	/* Bitwise is enough: headers are small and parsed once per connection. */
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *tlv_name(unsigned type)
{
	switch (type) {
	case PP2_TYPE_ALPN: return "ALPN";
	case PP2_TYPE_AUTHORITY: return "AUTHORITY";
	case PP2_TYPE_CRC32C: return "CRC32C";
	case PP2_TYPE_UNIQUE_ID: return "UNIQUE_ID";
	case PP2_TYPE_SSL: return "SSL";
	default: return "TLV";
	}
}

static int check_ssl(const uint8_t *v, size_t vlen, char *err, size_t errlen)
{
	size_t off = V2_SSL_HDR;

	if (vlen < V2_SSL_HDR)
		return bad(err, errlen, "v2 SSL TLV of %zu bytes too short (want at least %d)",
		           vlen, V2_SSL_HDR);
	while (off < vlen) {
		size_t left = vlen - off;

		if (left < 3)
			return bad(err, errlen, "v2 SSL sub-TLV truncated (%zu of 3 header bytes)",
			           left);
		size_t sl = be16(v + off + 1);
		if (sl > left - 3)
			return bad(
			        err, errlen,
			        "v2 SSL sub-TLV 0x%02x length %zu runs past the SSL TLV (%zu bytes "
			        "left)",
			        v[off], sl, left - 3);
		off += 3 + sl;
	}
	return 0;
}

static int parse_v2(const uint8_t *buf, size_t len, size_t max_len, tw_proxy_info_t *out,
                    size_t *consumed, char *err, size_t errlen)
{
	static const size_t addr_len[4] = {0, 12, 36, 216};
	static const char *const fam_name[4] = {"UNSPEC", "IPv4", "IPv6", "UNIX"};
	unsigned ver, cmd, fam, tr;
	size_t dlen, total, off, crc_off = 0;
	uint8_t seen[256] = {0};
	int r;

	out->version = 2;
	if (memcmp(buf, v2_sig, len < 12 ? len : 12) != 0)
		return bad(err, errlen, "not a PROXY header: v2 signature mismatch");
	if (len < 13)
		return TW_EAGAIN;
	ver = buf[12] >> 4;
	cmd = buf[12] & 0xf;
	if (ver != 2)
		return bad(err, errlen, "v2 version %u unsupported (want 2)", ver);
	if (cmd > 1)
		return bad(err, errlen, "v2 command 0x%x unknown (want LOCAL or PROXY)", cmd);
	if (len < 14)
		return TW_EAGAIN;
	fam = buf[13] >> 4;
	tr = buf[13] & 0xf;
	if (fam > 3)
		return bad(err, errlen, "v2 address family 0x%x invalid", fam);
	if (tr > 2)
		return bad(err, errlen, "v2 transport protocol 0x%x invalid", tr);
	if ((fam == 0) != (tr == 0))
		return bad(err, errlen,
		           "v2 family and transport byte 0x%02x invalid (UNSPEC goes with UNSPEC)",
		           buf[13]);
	if (len < V2_HDR_LEN)
		return TW_EAGAIN;
	dlen = be16(buf + 14);
	if (dlen < addr_len[fam])
		return bad(err, errlen,
		           "v2 length %zu too short for the %s address block (%zu bytes)", dlen,
		           fam_name[fam], addr_len[fam]);
	total = V2_HDR_LEN + dlen;
	if (total > max_len) {
		set_err(err, errlen, "v2 header of %zu bytes over the %zu-byte limit", total,
		        max_len);
		return TW_ETOOBIG;
	}
	if (len < total)
		return TW_EAGAIN;

	for (off = V2_HDR_LEN + addr_len[fam]; off < total;) {
		size_t left = total - off;

		if (left < 3)
			return bad(err, errlen, "v2 TLV truncated (%zu of 3 header bytes)", left);
		unsigned type = buf[off];
		size_t tl = be16(buf + off + 1);
		const uint8_t *v = buf + off + 3;

		if (tl > left - 3)
			return bad(err, errlen,
			           "v2 TLV 0x%02x length %zu runs past the header end (%zu bytes "
			           "left)",
			           type, tl, left - 3);
		switch (type) {
		case PP2_TYPE_ALPN:
		case PP2_TYPE_AUTHORITY:
		case PP2_TYPE_CRC32C:
		case PP2_TYPE_UNIQUE_ID:
		case PP2_TYPE_SSL:
			if (seen[type])
				return bad(err, errlen, "v2 %s TLV repeated", tlv_name(type));
			seen[type] = 1;
			break;
		default: break;
		}
		switch (type) {
		case PP2_TYPE_ALPN:
			if (tl > TW_PROXY_ALPN_MAX)
				return bad(err, errlen, "v2 ALPN TLV length %zu over %d", tl,
				           TW_PROXY_ALPN_MAX);
			memcpy(out->alpn, v, tl);
			out->alpn_len = (uint16_t)tl;
			break;
		case PP2_TYPE_AUTHORITY:
			if (tl > TW_PROXY_AUTHORITY_MAX)
				return bad(err, errlen, "v2 AUTHORITY TLV length %zu over %d", tl,
				           TW_PROXY_AUTHORITY_MAX);
			if (memchr(v, 0, tl))
				return bad(err, errlen, "v2 AUTHORITY TLV contains a NUL byte");
			memcpy(out->authority, v, tl);
			out->authority[tl] = '\0';
			out->authority_len = (uint16_t)tl;
			break;
		case PP2_TYPE_CRC32C:
			if (tl != 4)
				return bad(err, errlen, "v2 CRC32C TLV length %zu (want 4)", tl);
			crc_off = off + 3;
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (tl > TW_PROXY_UNIQUE_ID_MAX)
				return bad(err, errlen, "v2 UNIQUE_ID TLV length %zu over %d", tl,
				           TW_PROXY_UNIQUE_ID_MAX);
			memcpy(out->unique_id, v, tl);
			out->unique_id_len = (uint16_t)tl;
			break;
		case PP2_TYPE_SSL:
			r = check_ssl(v, tl, err, errlen);
			if (r < 0)
				return r;
			out->ssl = true;
			break;
		default: break; /* NOOP, NETNS, custom, experimental, future */
		}
		off += 3 + tl;
	}

	if (crc_off) {
		static const uint8_t zero[4] = {0, 0, 0, 0};
		uint32_t want = be32(buf + crc_off);
		uint32_t crc = 0xffffffffu;

		crc = crc32c_update(crc, buf, crc_off);
		crc = crc32c_update(crc, zero, 4);
		crc = crc32c_update(crc, buf + crc_off + 4, total - crc_off - 4);
		crc ^= 0xffffffffu;
		if (crc != want)
			return bad(err, errlen,
			           "v2 CRC32C 0x%08x does not match the header (computed 0x%08x)",
			           want, crc);
		out->crc32c_ok = true;
	}

	if (cmd == 0 || fam == 0) {
		/* LOCAL: the spec says to ignore the family and addresses;
		 * PROXY UNSPEC: the sender could not describe the client. */
		out->local = true;
		out->family = AF_UNSPEC;
	} else {
		const uint8_t *a = buf + V2_HDR_LEN;

		out->stream = tr == 1;
		switch (fam) {
		case 1:
			out->family = AF_INET;
			put_v4(&out->src, a, be16(a + 8));
			put_v4(&out->dst, a + 4, be16(a + 10));
			break;
		case 2:
			out->family = AF_INET6;
			put_v6(&out->src, a, be16(a + 32));
			put_v6(&out->dst, a + 16, be16(a + 34));
			break;
		default: {
			struct sockaddr_un *s = (struct sockaddr_un *)&out->src;
			struct sockaddr_un *d = (struct sockaddr_un *)&out->dst;

			_Static_assert(sizeof(s->sun_path) == 108, "sun_path is 108 bytes");
			out->family = AF_UNIX;
			s->sun_family = AF_UNIX;
			memcpy(s->sun_path, a, 108);
			d->sun_family = AF_UNIX;
			memcpy(d->sun_path, a + 108, 108);
			break;
		}
		}
	}
	*consumed = total;
	return 0;
}

int tw_proxy_parse(const uint8_t *buf, size_t len, size_t max_len, tw_proxy_info_t *out,
                   size_t *consumed, char *err, size_t errlen)
{
	char q[64];

	memset(out, 0, sizeof(*out));
	*consumed = 0;
	if (len == 0)
		return TW_EAGAIN;
	if (buf[0] == 'P')
		return parse_v1(buf, len, max_len, out, consumed, err, errlen);
	if (buf[0] == v2_sig[0])
		return parse_v2(buf, len, max_len, out, consumed, err, errlen);
	return bad(err, errlen, "not a PROXY header: starts with \"%s\"",
	           tw_escape(q, sizeof(q), buf, len < 8 ? len : 8));
}

/* One endpoint as it goes on the wire: IPv4 (4 bytes) or IPv6 (16). */
struct ep {
	int af;
	uint8_t a[16];
	uint16_t port;
};

static int ep_from(const struct sockaddr *sa, struct ep *e)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!sa)
		return TW_EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		e->af = AF_INET;
		memcpy(e->a, &sin->sin_addr, 4);
		e->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *a = (const uint8_t *)&sin6->sin6_addr;

		e->port = ntohs(sin6->sin6_port);
		if (memcmp(a, mapped, 12) == 0) {
			e->af = AF_INET;
			memcpy(e->a, a + 12, 4);
		} else {
			e->af = AF_INET6;
			memcpy(e->a, a, 16);
		}
		return 0;
	}
	return TW_EINVAL;
}

static void ep_to_v6(struct ep *e)
{
	if (e->af != AF_INET)
		return;
	memmove(e->a + 12, e->a, 4);
	memset(e->a, 0, 10);
	e->a[10] = 0xff;
	e->a[11] = 0xff;
	e->af = AF_INET6;
}

/* RFC 5952 text: longest run of two or more zero groups as "::", lower case,
 * no leading zeros, never a dotted tail. dst holds at least 40 bytes. */
static void fmt_v6(const uint8_t a[16], char *dst, size_t size)
{
	uint16_t g[8];
	int best = -1, bestlen = 0;
	size_t o = 0;

	for (int i = 0; i < 8; i++)
		g[i] = be16(a + 2 * i);
	for (int i = 0; i < 8;) {
		if (g[i] != 0) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
		i = j;
	}
	if (bestlen < 2) {
		best = -1;
		bestlen = 0;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			o += (size_t)snprintf(dst + o, size - o, "::");
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen)
			o += (size_t)snprintf(dst + o, size - o, ":");
		o += (size_t)snprintf(dst + o, size - o, "%x", g[i]);
	}
}

static void fmt_ip(const struct ep *e, char *dst, size_t size)
{
	if (e->af == AF_INET)
		snprintf(dst, size, "%u.%u.%u.%u", e->a[0], e->a[1], e->a[2], e->a[3]);
	else
		fmt_v6(e->a, dst, size);
}

static int encode_v1(uint8_t *out, size_t cap, const struct ep *s, const struct ep *d)
{
	char line[TW_PROXY_V1_MAX_LEN + 1], sa[48], da[48];
	int n;

	fmt_ip(s, sa, sizeof(sa));
	fmt_ip(d, da, sizeof(da));
	n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
	             s->af == AF_INET ? "TCP4" : "TCP6", sa, da, s->port, d->port);
	TW_BUG_ON(n < 0 || (size_t)n >= sizeof(line));
	if ((size_t)n > cap)
		return TW_ETOOBIG;
	memcpy(out, line, (size_t)n);
	return n;
}

static uint8_t *put_tlv(uint8_t *p, uint8_t type, const void *v, size_t n)
{
	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	memcpy(p + 3, v, n);
	return p + 3 + n;
}

static int encode_v2(uint8_t *out, size_t cap, const struct ep *s, const struct ep *d,
                     const tw_proxy_tlvs_t *t)
{
	size_t alen = s->af == AF_INET ? 4 : 16;
	size_t base = V2_HDR_LEN + 2 * alen + 4;
	size_t alpn = t ? t->alpn_len : 0;
	size_t auth = t ? t->authority_len : 0;
	size_t uid = t ? t->unique_id_len : 0;
	uint8_t *p;

	if (base > cap)
		return TW_ETOOBIG;
#define TLVSZ(n) ((n) ? 3 + (n) : 0)
	/* Drop order is least useful to a mail backend first. */
	if (base + TLVSZ(alpn) + TLVSZ(auth) + TLVSZ(uid) > cap)
		uid = 0;
	if (base + TLVSZ(alpn) + TLVSZ(auth) > cap)
		alpn = 0;
	if (base + TLVSZ(auth) > cap)
		auth = 0;
	size_t total = base + TLVSZ(alpn) + TLVSZ(auth) + TLVSZ(uid);
#undef TLVSZ

	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = 0x21; /* version 2, PROXY */
	out[13] = s->af == AF_INET ? 0x11 : 0x21;
	out[14] = (uint8_t)((total - V2_HDR_LEN) >> 8);
	out[15] = (uint8_t)(total - V2_HDR_LEN);
	p = out + V2_HDR_LEN;
	memcpy(p, s->a, alen);
	memcpy(p + alen, d->a, alen);
	p += 2 * alen;
	p[0] = (uint8_t)(s->port >> 8);
	p[1] = (uint8_t)s->port;
	p[2] = (uint8_t)(d->port >> 8);
	p[3] = (uint8_t)d->port;
	p += 4;
	if (alpn)
		p = put_tlv(p, PP2_TYPE_ALPN, t->alpn, alpn);
	if (auth)
		p = put_tlv(p, PP2_TYPE_AUTHORITY, t->authority, auth);
	if (uid)
		p = put_tlv(p, PP2_TYPE_UNIQUE_ID, t->unique_id, uid);
	TW_BUG_ON((size_t)(p - out) != total);
	return (int)total;
}

static bool tlvs_ok(const tw_proxy_tlvs_t *t)
{
	if (!t)
		return true;
	if ((t->authority_len && !t->authority) || (t->alpn_len && !t->alpn) ||
	    (t->unique_id_len && !t->unique_id))
		return false;
	if (t->authority_len > TW_PROXY_AUTHORITY_MAX || t->alpn_len > TW_PROXY_ALPN_MAX ||
	    t->unique_id_len > TW_PROXY_UNIQUE_ID_MAX)
		return false;
	if (t->authority_len && memchr(t->authority, 0, t->authority_len))
		return false;
	return true;
}

int tw_proxy_encode(uint8_t *out, size_t cap, int version, const struct sockaddr *src,
                    const struct sockaddr *dst, const tw_proxy_tlvs_t *tlvs)
{
	struct ep s, d;

	if ((version != 1 && version != 2) || !tlvs_ok(tlvs))
		return TW_EINVAL;
	if (ep_from(src, &s) < 0 || ep_from(dst, &d) < 0)
		return TW_EINVAL;
	if (s.af != d.af) {
		ep_to_v6(&s);
		ep_to_v6(&d);
	}
	if (version == 1)
		return encode_v1(out, cap, &s, &d);
	return encode_v2(out, cap, &s, &d, tlvs);
}

int tw_proxy_encode_local(uint8_t *out, size_t cap)
{
	if (cap < V2_HDR_LEN)
		return TW_ETOOBIG;
	memcpy(out, v2_sig, sizeof(v2_sig));
	out[12] = 0x20; /* version 2, LOCAL */
	out[13] = 0x00; /* UNSPEC, UNSPEC */
	out[14] = 0;
	out[15] = 0;
	return V2_HDR_LEN;
}
