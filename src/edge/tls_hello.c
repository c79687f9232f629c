#include "util/tw.h"

#include "edge/tls_hello.h"

enum {
	CT_HANDSHAKE = 22,
	HS_CLIENT_HELLO = 1,
	EXT_SERVER_NAME = 0,
	EXT_ALPN = 16,
	EXT_SUPPORTED_VERSIONS = 43,
	SNI_HOST_NAME = 0,
	REC_HDR = 5,
	HS_HDR = 4,
};

/*
 * Walks the handshake message through its records. Reads are strictly
 * sequential, so the reader only needs the current record; that is what lets
 * a hello fragmented into many records be parsed without copying it.
 * Every read has been checked against the message's own length fields
 * before it is issued, so `need` (handshake bytes the message still owes)
 * cannot underflow; the reader's only job is to find the bytes.
 */
typedef struct hs_reader {
	const uint8_t *buf;
	size_t len, max_len;
	size_t pos;      /* buffer offset of the next unread byte */
	size_t rec_left; /* handshake bytes left in the current record */
	size_t need;     /* handshake bytes still owed: 4 until the header is read */
	size_t off;      /* handshake bytes read, header included */
	unsigned nrec;   /* records opened so far */
	int rc;
	char *err;
	size_t errlen;
} hs_reader_t;

__attribute__((format(printf, 3, 4))) static bool fail(hs_reader_t *r, int rc, const char *fmt, ...)
{
	if (r->rc != 0)
		return false;
	r->rc = rc;
	if (r->err && r->errlen > 0 && fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err, r->errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool again(hs_reader_t *r)
{
	return fail(r, TW_EAGAIN, NULL);
}

/*
 * Fails with TW_ETOOBIG when the bytes the message still owes cannot fit
 * before max_len: the rest of the current record, plus at least one more
 * record header if the record cannot hold it all.
 */
static bool check_bound(hs_reader_t *r)
{
	size_t end;

	if (r->need <= r->rec_left)
		end = r->pos + r->need;
	else
		end = r->pos + r->rec_left + REC_HDR + (r->need - r->rec_left);
	if (end > r->max_len)
		return fail(r, TW_ETOOBIG, "client hello needs at least %zu bytes, limit is %zu",
		            end, r->max_len);
	return true;
}

static bool next_record(hs_reader_t *r)
{
	const uint8_t *h = r->buf + r->pos;
	size_t avail = r->len - r->pos;
	size_t rlen;

	if (avail >= 1 && h[0] != CT_HANDSHAKE) {
		if (r->nrec == 0 && (h[0] & 0x80))
			return fail(r, TW_EINVAL,
			            "not a TLS handshake record (SSLv2-compatible client hello)");
		if (r->nrec == 0)
			return fail(r, TW_EINVAL,
			            "not a TLS handshake record (content type 0x%02x)", h[0]);
		return fail(r, TW_EINVAL,
		            "record %u interrupts the client hello (content type 0x%02x)",
		            r->nrec + 1, h[0]);
	}
	if (avail >= 2 && h[1] != 3)
		return fail(r, TW_EINVAL, "not a TLS record (record version major 0x%02x)", h[1]);
	if (avail < REC_HDR)
		return again(r);
	rlen = (size_t)h[3] << 8 | h[4];
	/* RFC 8446 5.1: handshake records are never empty. */
	if (rlen == 0)
		return fail(r, TW_EINVAL, "empty handshake record %u", r->nrec + 1);
	if (rlen > TW_TLS_MAX_RECORD)
		return fail(r, TW_EINVAL, "record %u length %zu over %d", r->nrec + 1, rlen,
		            TW_TLS_MAX_RECORD);
	r->nrec++;
	r->pos += REC_HDR;
	r->rec_left = rlen;
	return check_bound(r);
}

/* Reads n handshake bytes into dst (or skips them when dst is NULL). */
static bool rd(hs_reader_t *r, uint8_t *dst, size_t n)
{
	TW_BUG_ON(n > r->need);
	while (n > 0) {
		size_t take;

		if (r->rec_left == 0 && !next_record(r))
			return false;
		take = n < r->rec_left ? n : r->rec_left;
		if (take > r->len - r->pos)
			take = r->len - r->pos;
		if (take == 0)
			return again(r);
		if (dst) {
			memcpy(dst, r->buf + r->pos, take);
			dst += take;
		}
		r->pos += take;
		r->rec_left -= take;
		r->need -= take;
		r->off += take;
		n -= take;
	}
	return true;
}

static bool rd_u8(hs_reader_t *r, unsigned *v)
{
	uint8_t b;

	if (!rd(r, &b, 1))
		return false;
	*v = b;
	return true;
}

static bool rd_u16(hs_reader_t *r, unsigned *v)
{
	uint8_t b[2];

	if (!rd(r, b, 2))
		return false;
	*v = (unsigned)b[0] << 8 | b[1];
	return true;
}

static bool is_grease16(unsigned v)
{
	/* RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA. */
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Bytes left before end, for the length checks that precede every read. */
static size_t left(const hs_reader_t *r, size_t end)
{
	return end - r->off;
}

static bool parse_sni(hs_reader_t *r, size_t elen, tw_client_hello_t *out)
{
	size_t end = r->off + elen;
	unsigned list_len, type, nlen;

	if (elen < 2)
		return fail(r, TW_EINVAL, "server_name extension too short (%zu bytes)", elen);
	if (!rd_u16(r, &list_len))
		return false;
	if (list_len != elen - 2)
		return fail(r, TW_EINVAL,
		            "server_name list length %u does not match its extension (%zu bytes)",
		            list_len, elen - 2);
	if (list_len == 0)
		return fail(r, TW_EINVAL, "empty server_name list");
	while (r->off < end) {
		if (left(r, end) < 3)
			return fail(r, TW_EINVAL, "truncated server_name entry");
		if (!rd_u8(r, &type) || !rd_u16(r, &nlen))
			return false;
		if (nlen > left(r, end))
			return fail(r, TW_EINVAL, "sni name length overflows extension");
		if (type != SNI_HOST_NAME) {
			/* RFC 6066 defines only host_name; others are skipped
			 * assuming the same 16-bit length, as deployed parsers do. */
			if (!rd(r, NULL, nlen))
				return false;
			continue;
		}
		if (out->has_sni)
			return fail(r, TW_EINVAL,
			            "more than one host_name in the server_name list");
		if (nlen == 0)
			return fail(r, TW_EINVAL, "empty sni name");
		if (nlen >= sizeof(out->sni))
			return fail(r, TW_EINVAL, "sni name too long (%u bytes, limit %zu)", nlen,
			            sizeof(out->sni) - 1);
		if (!rd(r, (uint8_t *)out->sni, nlen))
			return false;
		if (memchr(out->sni, '\0', nlen))
			return fail(r, TW_EINVAL, "sni name contains a nul byte");
		out->sni[nlen] = '\0';
		out->sni_len = nlen;
		out->has_sni = true;
	}
	return true;
}

static bool parse_alpn(hs_reader_t *r, size_t elen, tw_client_hello_t *out)
{
	size_t end = r->off + elen;
	unsigned list_len, plen;
	uint8_t name[255];
	bool full = false;

	if (elen < 2)
		return fail(r, TW_EINVAL, "alpn extension too short (%zu bytes)", elen);
	if (!rd_u16(r, &list_len))
		return false;
	if (list_len != elen - 2)
		return fail(r, TW_EINVAL,
		            "alpn list length %u does not match its extension (%zu bytes)",
		            list_len, elen - 2);
	if (list_len == 0)
		return fail(r, TW_EINVAL, "empty alpn list");
	while (r->off < end) {
		if (!rd_u8(r, &plen))
			return false;
		if (plen == 0)
			return fail(r, TW_EINVAL, "empty alpn protocol name");
		if (plen > left(r, end))
			return fail(r, TW_EINVAL, "alpn protocol name length overflows extension");
		if (!rd(r, name, plen))
			return false;
		if (plen == 2 && is_grease16((unsigned)name[0] << 8 | name[1]))
			continue;
		/* Keep the order the client gave: once a name does not fit,
		 * later ones are dropped too, even short ones. */
		if (full || out->alpn_len + 1 + plen > sizeof(out->alpn)) {
			full = true;
			continue;
		}
		out->alpn[out->alpn_len] = (uint8_t)plen;
		memcpy(out->alpn + out->alpn_len + 1, name, plen);
		out->alpn_len += 1 + plen;
	}
	return true;
}

static bool parse_versions(hs_reader_t *r, size_t elen, tw_client_hello_t *out)
{
	unsigned list_len, v, best = 0;

	if (elen < 1)
		return fail(r, TW_EINVAL, "supported_versions extension too short");
	if (!rd_u8(r, &list_len))
		return false;
	if (list_len != elen - 1 || list_len == 0 || list_len % 2 != 0)
		return fail(
		        r, TW_EINVAL,
		        "supported_versions list length %u invalid for its extension (%zu bytes)",
		        list_len, elen - 1);
	for (; list_len > 0; list_len -= 2) {
		if (!rd_u16(r, &v))
			return false;
		if (!is_grease16(v) && v > best)
			best = v;
	}
	if (best != 0)
		out->version = (uint16_t)best;
	return true;
}

static bool parse_extensions(hs_reader_t *r, size_t end, tw_client_hello_t *out)
{
	unsigned total, type, elen;
	bool seen_sni = false, seen_alpn = false, seen_ver = false;
	bool *seen;
	bool ok;

	if (left(r, end) < 2)
		return fail(r, TW_EINVAL, "truncated extensions length");
	if (!rd_u16(r, &total))
		return false;
	if (total != left(r, end))
		return fail(
		        r, TW_EINVAL,
		        "extensions length %u does not match the rest of the client hello (%zu)",
		        total, left(r, end));
	while (r->off < end) {
		if (left(r, end) < 4)
			return fail(r, TW_EINVAL, "truncated extension header");
		if (!rd_u16(r, &type) || !rd_u16(r, &elen))
			return false;
		if (elen > left(r, end))
			return fail(r, TW_EINVAL,
			            "extension 0x%04x length %u overflows the client hello", type,
			            elen);
		switch (type) {
		case EXT_SERVER_NAME: seen = &seen_sni; break;
		case EXT_ALPN: seen = &seen_alpn; break;
		case EXT_SUPPORTED_VERSIONS: seen = &seen_ver; break;
		default: seen = NULL; break;
		}
		if (seen == NULL) {
			if (!rd(r, NULL, elen))
				return false;
			continue;
		}
		if (*seen)
			return fail(r, TW_EINVAL, "duplicate extension 0x%04x", type);
		*seen = true;
		if (type == EXT_SERVER_NAME)
			ok = parse_sni(r, elen, out);
		else if (type == EXT_ALPN)
			ok = parse_alpn(r, elen, out);
		else
			ok = parse_versions(r, elen, out);
		if (!ok)
			return false;
	}
	return true;
}

static bool parse_hello(hs_reader_t *r, tw_client_hello_t *out)
{
	unsigned type, v, n;
	uint8_t l24[3];
	size_t hs_len, end;

	if (!check_bound(r))
		return false;
	if (!rd_u8(r, &type))
		return false;
	if (type != HS_CLIENT_HELLO)
		return fail(r, TW_EINVAL, "handshake message is not a client hello (type %u)",
		            type);
	if (!rd(r, l24, 3))
		return false;
	hs_len = (size_t)l24[0] << 16 | (size_t)l24[1] << 8 | l24[2];
	r->need = hs_len;
	if (!check_bound(r))
		return false;
	end = HS_HDR + hs_len;

	/* legacy_version(2) random(32) session_id<0..32> */
	if (left(r, end) < 2 + 32 + 1)
		return fail(r, TW_EINVAL, "client hello too short (%zu bytes)", hs_len);
	if (!rd_u16(r, &v))
		return false;
	if (v >> 8 != 3)
		return fail(r, TW_EINVAL, "unsupported client hello version 0x%04x", v);
	out->version = (uint16_t)v;
	if (!rd(r, NULL, 32) || !rd_u8(r, &n))
		return false;
	if (n > 32)
		return fail(r, TW_EINVAL, "session id longer than 32 bytes (%u)", n);
	if (left(r, end) < n + 2)
		return fail(r, TW_EINVAL, "session id overflows the client hello");
	if (!rd(r, NULL, n) || !rd_u16(r, &n))
		return false;
	if (n == 0 || n % 2 != 0)
		return fail(r, TW_EINVAL, "cipher suite list length %u invalid", n);
	if (left(r, end) < n + 1)
		return fail(r, TW_EINVAL, "cipher suite list overflows the client hello");
	if (!rd(r, NULL, n) || !rd_u8(r, &n))
		return false;
	if (n == 0)
		return fail(r, TW_EINVAL, "empty compression method list");
	if (left(r, end) < n)
		return fail(r, TW_EINVAL, "compression method list overflows the client hello");
	if (!rd(r, NULL, n))
		return false;
	/* A hello without extensions ends here (RFC 5246 7.4.1.2). */
	if (r->off == end)
		return true;
	return parse_extensions(r, end, out);
}

int tw_tls_hello_parse(const uint8_t *buf, size_t len, size_t max_len, tw_client_hello_t *out,
                       char *err, size_t errlen)
{
	hs_reader_t r = {
	        .buf = buf,
	        .len = len,
	        .max_len = max_len,
	        .need = HS_HDR,
	        .err = err,
	        .errlen = errlen,
	};

	memset(out, 0, sizeof(*out));
	if (err && errlen > 0)
		err[0] = '\0';
	if (parse_hello(&r, out))
		return 0;
	/* The bound checks make this unreachable with consistent lengths;
	 * it keeps the promise that TW_EAGAIN means more bytes can help. */
	if (r.rc == TW_EAGAIN && len >= max_len) {
		r.rc = 0;
		fail(&r, TW_ETOOBIG, "client hello not complete within %zu bytes", max_len);
	}
	return r.rc;
}

bool tw_alpn_next(const uint8_t *list, size_t len, size_t *off, const uint8_t **name,
                  size_t *name_len)
{
	size_t o = *off, n;

	if (o >= len)
		return false;
	n = list[o];
	if (n == 0 || n > len - o - 1)
		return false;
	*name = list + o + 1;
	*name_len = n;
	*off = o + 1 + n;
	return true;
}
