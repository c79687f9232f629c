/*
 * wire.h - the one DNS transport of tailwart dns (internal to src/dns/):
 * deadlines on a monotonic clock, a UDP exchange on a connected socket, TCP
 * connect with a deadline and RFC 1035 section 4.2.2 length-prefixed
 * messages. query.c (lookups and verification) and rfc2136.c (AXFR and
 * UPDATE) both send and receive through it; ldns only builds and parses.
 *
 * Every function returns 0 (or a descriptor) or a negative code:
 * -ETIMEDOUT when the deadline passed, -ECONNRESET when the peer closed
 * the connection, TW_EPROTO for a message that is not a DNS message, or
 * another -errno from the socket. Deadlines are absolute, in the
 * milliseconds of tw_dns_wire_now_ms().
 */
#ifndef TW_DNS_WIRE_H
#define TW_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The largest DNS message: its TCP length prefix is 16 bits (RFC 1035 4.2.2). */
#define TW_DNS_WIRE_MAX 65535

/* Milliseconds on CLOCK_MONOTONIC: deadlines survive changes of the wall clock. */
long tw_dns_wire_now_ms(void);

/* Waits until fd is ready for ev (POLLIN, POLLOUT) or an error shows on it;
 * -ETIMEDOUT at the deadline. */
int tw_dns_wire_wait(int fd, short ev, long deadline);

/*
 * True when reply (n bytes) can be the answer to query: a whole header, the
 * query's ID and QR=1 (RFC 1035 4.1.1; RFC 5452 9.1 for why the ID).
 */
bool tw_dns_wire_is_answer(const uint8_t *reply, size_t n, const uint8_t *query);

/*
 * One query and its reply over UDP. The socket is connected, so only sa can
 * answer and an ICMP port unreachable comes back at once as -ECONNREFUSED
 * (a server that is down is told apart from one that does not answer).
 * Datagrams that are not an answer to query (tw_dns_wire_is_answer) are
 * dropped and we keep waiting. *out is malloc'd (free it), *outlen its size.
 */
int tw_dns_wire_udp_query(const struct sockaddr *sa, socklen_t salen, const uint8_t *query,
                          size_t qlen, long deadline, uint8_t **out, size_t *outlen);

/* A non-blocking TCP connection to sa (family from sa); the descriptor, or
 * < 0 (-ETIMEDOUT, or the connect error such as -ECONNREFUSED). */
int tw_dns_wire_tcp_connect(const struct sockaddr *sa, socklen_t salen, long deadline);

/* Sends msg with its two-byte length prefix (RFC 1035 4.2.2), in one write
 * (RFC 7766 8). TW_ETOOBIG above TW_DNS_WIRE_MAX. */
int tw_dns_wire_send_msg(int fd, const uint8_t *msg, size_t n, long deadline);

/*
 * Reads one length-prefixed message into buf (cap bytes; TW_DNS_WIRE_MAX
 * always fits). TW_EPROTO when the length is shorter than a DNS header,
 * TW_ETOOBIG when it is longer than cap (nothing of it is read then).
 */
int tw_dns_wire_recv_msg(int fd, uint8_t *buf, size_t cap, size_t *n, long deadline);

#endif
