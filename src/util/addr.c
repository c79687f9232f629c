#include "util/tw.h"

#include "util/addr.h"

#include <arpa/inet.h>
#include <ctype.h>

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

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Decimal 0..65535 with no sign, space or junk. */
static bool port_parse(const char *s, uint16_t *out)
{
	if (!all_digits(s) || strlen(s) > 5)
		return false;
	unsigned long v = strtoul(s, NULL, 10);
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* Text of the address part and of the port part, split at the separating
 * colon; brackets are removed and reported through *bracketed. */
typedef struct split {
	char host[256];
	char port[16];
	bool bracketed, has_port, v6_unbracketed;
} split_t;

static int split_hostport(const char *s, split_t *sp, const char *q, char *err, size_t errlen)
{
	memset(sp, 0, sizeof(*sp));
	const char *portp = NULL;
	size_t hlen;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb)
			return fail(err, errlen, "missing \"]\" in %s", q);
		sp->bracketed = true;
		hlen = (size_t)(rb - s - 1);
		if (rb[1] == ':')
			portp = rb + 2;
		else if (rb[1] != '\0')
			return fail(err, errlen, "unexpected text after \"]\" in %s", q);
		s++;
	} else {
		const char *c = strrchr(s, ':');
		if (c && memchr(s, ':', (size_t)(c - s)))
			sp->v6_unbracketed = true;
		hlen = c ? (size_t)(c - s) : strlen(s);
		portp = c ? c + 1 : NULL;
	}
	if (hlen >= sizeof(sp->host))
		return fail(err, errlen, "address too long in %s", q);
	memcpy(sp->host, s, hlen);
	sp->host[hlen] = '\0';
	if (portp) {
		sp->has_port = true;
		if (strlen(portp) >= sizeof(sp->port))
			return fail(err, errlen,
			            "bad port in %s: expected a number from 1 to 65535", q);
		tw_strlcpy(sp->port, portp, sizeof(sp->port));
	}
	return 0;
}

static int port_check(const split_t *sp, const char *q, bool allow_zero, uint16_t *out, char *err,
                      size_t errlen)
{
	if (!sp->has_port || !sp->port[0])
		return fail(err, errlen, "missing port in %s: write %s%s%s:PORT", q,
		            sp->bracketed ? "[" : "", sp->host, sp->bracketed ? "]" : "");
	if (!port_parse(sp->port, out) || (*out == 0 && !allow_zero)) {
		char pq[64];
		tw_quote(pq, sizeof(pq), sp->port, strlen(sp->port), 64);
		return fail(err, errlen, "bad port %s in %s: expected a number from 1 to 65535", pq,
		            q);
	}
	return 0;
}

/* Messages common to both parsers for a host that looks like IPv6 but is
 * written without brackets. */
static int v6_needs_brackets(const split_t *sp, const char *q, char *err, size_t errlen)
{
	unsigned char buf[16];
	if (sp->has_port && all_digits(sp->port) && inet_pton(AF_INET6, sp->host, buf) == 1)
		return fail(err, errlen, "IPv6 address in %s needs brackets: write [%s]:%s", q,
		            sp->host, sp->port);
	return fail(err, errlen, "IPv6 address in %s needs brackets: write [ADDRESS]:PORT", q);
}

int tw_addr_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len_out, char *err,
                         size_t errlen)
{
	char q[300];
	split_t sp;
	tw_quote(q, sizeof(q), s, strlen(s), 64);
	if (!s[0])
		return fail(err, errlen,
		            "empty address: write IP:PORT, like 0.0.0.0:25 or [::]:25");
	if (all_digits(s) || (s[0] == ':' && all_digits(s + 1)))
		return fail(err, errlen,
		            "missing address in %s: write 0.0.0.0:%s for IPv4 or [::]:%s for IPv6",
		            q, s + (s[0] == ':'), s + (s[0] == ':'));
	if (split_hostport(s, &sp, q, err, errlen) < 0)
		return TW_EINVAL;
	if (sp.v6_unbracketed)
		return v6_needs_brackets(&sp, q, err, errlen);
	if (strchr(sp.host, '%'))
		return fail(err, errlen, "zone ids are not supported in %s", q);
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	if (sp.bracketed) {
		if (inet_pton(AF_INET6, sp.host, &sin6->sin6_addr) != 1) {
			if (inet_pton(AF_INET, sp.host, &sin->sin_addr) == 1)
				return fail(
				        err, errlen,
				        "only IPv6 addresses go in brackets in %s: write %s:PORT",
				        q, sp.host);
			char hq[300];
			tw_quote(hq, sizeof(hq), sp.host, strlen(sp.host), 64);
			return fail(err, errlen, "%s is not an IPv6 address", hq);
		}
		sin6->sin6_family = AF_INET6;
	} else if (inet_pton(AF_INET, sp.host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		char hq[300];
		tw_quote(hq, sizeof(hq), sp.host, strlen(sp.host), 64);
		if (!sp.host[0])
			return fail(err, errlen,
			            "missing address in %s: write 0.0.0.0%s for IPv4 or [::]%s for "
			            "IPv6",
			            q, s, s);
		if (strspn(sp.host, "0123456789.") == strlen(sp.host))
			return fail(err, errlen, "%s is not a valid IPv4 address", hq);
		return fail(err, errlen,
		            "%s is not an IP address: a listen address is literal, like "
		            "127.0.0.1:25 or [::1]:25",
		            hq);
	}
	uint16_t port;
	if (port_check(&sp, q, true, &port, err, errlen) < 0)
		return TW_EINVAL;
	if (sin->sin_family == AF_INET)
		sin->sin_port = htons(port);
	else
		sin6->sin6_port = htons(port);
	tw_addr_unmap_v4(out);
	if (len_out)
		*len_out = tw_addr_len((struct sockaddr *)out);
	return 0;
}

/* RFC 1123 host name; underscores allowed because private networks use them. */
static bool hostname_ok(const char *h)
{
	size_t n = strlen(h);
	if (n > 0 && h[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	size_t lab = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (ch == '.') {
			if (lab == 0 || h[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-' && ch != '_')
			return false;
		if (lab == 0 && ch == '-')
			return false;
		if (++lab > 63)
			return false;
	}
	return h[n - 1] != '-';
}

int tw_addr_parse_hostport(const char *s, char *host_out, size_t host_size, uint16_t *port_out,
                           char *err, size_t errlen)
{
	char q[300];
	split_t sp;
	tw_quote(q, sizeof(q), s, strlen(s), 64);
	if (!s[0])
		return fail(err, errlen,
		            "empty address: write HOST:PORT, like mail.example.com:25");
	if (split_hostport(s, &sp, q, err, errlen) < 0)
		return TW_EINVAL;
	if (sp.v6_unbracketed)
		return v6_needs_brackets(&sp, q, err, errlen);
	if (!sp.host[0])
		return fail(err, errlen, "missing host in %s: write HOST:PORT", q);
	if (strchr(sp.host, '%'))
		return fail(err, errlen, "zone ids are not supported in %s", q);
	char hq[300];
	tw_quote(hq, sizeof(hq), sp.host, strlen(sp.host), 64);
	unsigned char buf[16];
	if (sp.bracketed) {
		if (inet_pton(AF_INET6, sp.host, buf) != 1) {
			if (inet_pton(AF_INET, sp.host, buf) == 1 || hostname_ok(sp.host))
				return fail(
				        err, errlen,
				        "only IPv6 addresses go in brackets in %s: write %s:PORT",
				        q, sp.host);
			return fail(err, errlen, "%s is not an IPv6 address", hq);
		}
	} else if (strspn(sp.host, "0123456789.") == strlen(sp.host)) {
		if (inet_pton(AF_INET, sp.host, buf) != 1)
			return fail(err, errlen, "%s is not a valid IPv4 address", hq);
	} else if (!hostname_ok(sp.host)) {
		return fail(err, errlen,
		            "%s is not a valid host name: use letters, digits, \"-\" and \".\"",
		            hq);
	}
	uint16_t port;
	if (port_check(&sp, q, false, &port, err, errlen) < 0)
		return TW_EINVAL;
	if (!tw_strlcpy(host_out, sp.host, host_size))
		return fail(err, errlen, "host name too long in %s", q);
	*port_out = port;
	return 0;
}

static bool v4mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static void cidr_text(const tw_cidr_t *c, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->addr, ip, sizeof(ip));
	snprintf(buf, size, "%s/%u", ip, c->prefix);
}

int tw_cidr_parse(const char *s, tw_cidr_t *out, char *err, size_t errlen)
{
	char q[300], ip[INET6_ADDRSTRLEN + 8];
	tw_quote(q, sizeof(q), s, strlen(s), 64);
	if (!s[0])
		return fail(err, errlen, "empty network: write an address or ADDRESS/LENGTH");
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen >= sizeof(ip))
		return fail(err, errlen, "%s is not an IP address or network", q);
	memcpy(ip, s, alen);
	ip[alen] = '\0';
	tw_cidr_t c;
	memset(&c, 0, sizeof(c));
	if (inet_pton(AF_INET, ip, c.addr) == 1) {
		c.family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, c.addr) == 1) {
		c.family = AF_INET6;
	} else {
		char iq[100];
		tw_quote(iq, sizeof(iq), ip, strlen(ip), 64);
		if (ip[0] == '[')
			return fail(err, errlen, "no brackets in a network: write %s without them",
			            q);
		if (!slash)
			return fail(err, errlen, "%s is not an IP address or network", q);
		return fail(err, errlen, "%s is not an IP address in %s", iq, q);
	}
	unsigned max = c.family == AF_INET ? 32 : 128;
	unsigned prefix = max;
	if (slash) {
		const char *p = slash + 1;
		if (!all_digits(p) || strlen(p) > 3 || (prefix = (unsigned)atoi(p)) > max) {
			char pq[64];
			tw_quote(pq, sizeof(pq), p, strlen(p), 64);
			return fail(err, errlen,
			            "bad prefix length %s in %s: expected a number from 0 to %u",
			            pq, q, max);
		}
	}
	c.prefix = (uint8_t)prefix;
	/* The host-bits test is done on the address as written, so the
	 * suggestion is in the family the user wrote. */
	size_t nbytes = max / 8;
	bool host_bits = false;
	for (size_t i = 0; i < nbytes; i++) {
		unsigned bit0 = (unsigned)i * 8;
		uint8_t mask = bit0 >= prefix       ? 0
		               : prefix >= bit0 + 8 ? 0xff
		                                    : (uint8_t)(0xff << (8 - (prefix - bit0)));
		if (c.addr[i] & (uint8_t)~mask) {
			host_bits = true;
			c.addr[i] &= mask;
		}
	}
	if (host_bits) {
		char fixed[INET6_ADDRSTRLEN + 8];
		cidr_text(&c, fixed, sizeof(fixed));
		return fail(err, errlen, "%s has host bits set: did you mean %s?", s, fixed);
	}
	if (c.family == AF_INET6 && c.prefix >= 96 && v4mapped(c.addr)) {
		c.family = AF_INET;
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
		c.prefix = (uint8_t)(c.prefix - 96);
	}
	*out = c;
	return 0;
}

bool tw_cidr_match(const tw_cidr_t *c, const struct sockaddr *sa)
{
	const uint8_t *a;
	if (sa->sa_family == AF_INET && c->family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (c->family == AF_INET) {
			if (!v4mapped(a))
				return false;
			a += 12;
		}
	} else {
		return false;
	}
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (c->addr[full] & mask);
}

void tw_addr_format_ip(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (v4mapped(a))
			inet_ntop(AF_INET, a + 12, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, a, ip, sizeof(ip));
	}
	snprintf(buf, size, "%s", ip);
}

void tw_addr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	tw_addr_format_ip(sa, ip, sizeof(ip));
	bool brackets = sa->sa_family == AF_INET6 && strchr(ip, ':');
	snprintf(buf, size, "%s%s%s:%u", brackets ? "[" : "", ip, brackets ? "]" : "",
	         tw_addr_port(sa));
}

bool tw_addr_unmap_v4(struct sockaddr_storage *ss)
{
	if (ss->ss_family != AF_INET6)
		return false;
	struct sockaddr_in6 sin6;
	memcpy(&sin6, ss, sizeof(sin6));
	if (!v4mapped(sin6.sin6_addr.s6_addr))
		return false;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6.sin6_port;
	memcpy(&sin.sin_addr, sin6.sin6_addr.s6_addr + 12, 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	return true;
}

socklen_t tw_addr_len(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET: return sizeof(struct sockaddr_in);
	case AF_INET6: return sizeof(struct sockaddr_in6);
	default: return 0;
	}
}

uint16_t tw_addr_port(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET: return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	case AF_INET6: return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	default: return 0;
	}
}
