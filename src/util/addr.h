/*
 * addr.h - socket addresses as users write them, and as logs print them.
 *
 * Listen addresses: "0.0.0.0:25", "[::]:443", "127.0.0.1:2525", ":25" is an
 * error (say which family). Backend servers: "host:port", "[v6]:port",
 * "a.b.c.d:port": the host is kept as text and resolved at dial time.
 * CIDRs: "10.0.0.0/8", "fd7a:115c:a1e0::/48", a bare address is /32 or /128.
 */
#ifndef TW_UTIL_ADDR_H
#define TW_UTIL_ADDR_H

#include "util/tw.h"

#include <netinet/in.h>
#include <sys/socket.h>

/* A literal IP address and port, e.g. for bind. Returns 0 or TW_EINVAL + err.
 * A v4-mapped IPv6 address comes out as AF_INET. Port 0 is accepted (the
 * kernel picks one, as tests want); the config file rejects it itself. */
int tw_addr_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len_out, char *err,
			 size_t errlen);

/* "host:port" where host is a DNS name, IPv4 literal or [IPv6] literal.
 * host_out gets the host without brackets. Returns 0 or TW_EINVAL + err. */
int tw_addr_parse_hostport(const char *s, char *host_out, size_t host_size, uint16_t *port_out,
			   char *err, size_t errlen);

typedef struct tw_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;
} tw_cidr_t;

/* Host bits set is an error ("10.0.0.1/8 has host bits set: did you mean
 * 10.0.0.0/8?"). A v4-mapped network of /96 or longer comes out as AF_INET. */
int tw_cidr_parse(const char *s, tw_cidr_t *out, char *err, size_t errlen);
/* v4-mapped IPv6 addresses match IPv4 CIDRs; IPv6 CIDRs never match IPv4. */
bool tw_cidr_match(const tw_cidr_t *c, const struct sockaddr *sa);

/* "1.2.3.4:25" or "[::1]:25"; v4-mapped printed as IPv4. */
void tw_addr_format(const struct sockaddr *sa, char *buf, size_t size);
/* Address only, no port. */
void tw_addr_format_ip(const struct sockaddr *sa, char *buf, size_t size);
/* If sa is ::ffff:a.b.c.d, rewrite it in place as AF_INET. Returns true if changed. */
bool tw_addr_unmap_v4(struct sockaddr_storage *ss);
socklen_t tw_addr_len(const struct sockaddr *sa);
uint16_t tw_addr_port(const struct sockaddr *sa);

#endif
