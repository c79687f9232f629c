/*
 * wire.c - the DNS transport shared by query.c and rfc2136.c (see wire.h):
 * poll with a deadline, UDP on a connected socket, TCP connect with a
 * deadline and RFC 1035 section 4.2.2 length-prefixed messages.
 *
 * Sockets are non-blocking and every wait is a poll bounded by the
 * caller's deadline, so no call blocks past it (ldns's own resolver counts
 * timeouts in whole retries of whole seconds instead).
 */
#include "util/tw.h"

#include "dns/wire.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

long tw_dns_wire_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tw_dns_wire_wait(int fd, short ev, long deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	long left;
	int r;

	for (;;) {
		left = deadline - tw_dns_wire_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/* poll takes an int: wait in slices of at most a minute */
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

bool tw_dns_wire_is_answer(const uint8_t *reply, size_t n, const uint8_t *query)
{
	return n >= 12 && reply[0] == query[0] && reply[1] == query[1] && (reply[2] & 0x80);
}

int tw_dns_wire_udp_query(const struct sockaddr *sa, socklen_t salen, const uint8_t *query,
                          size_t qlen, long deadline, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	ssize_t n;
	int fd, rc;

	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, salen) < 0 || send(fd, query, qlen, 0) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	buf = malloc(TW_DNS_WIRE_MAX);
	if (!buf) {
		close(fd);
		return TW_ENOMEM;
	}
	for (;;) {
		rc = tw_dns_wire_wait(fd, POLLIN, deadline);
		if (rc < 0)
			break;
		/* an ICMP error queued on the connected socket fails this recv */
		n = recv(fd, buf, TW_DNS_WIRE_MAX, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (!tw_dns_wire_is_answer(buf, (size_t)n, query))
			continue;
		*out = buf;
		*outlen = (size_t)n;
		close(fd);
		return 0;
	}
	free(buf);
	close(fd);
	return rc;
}

int tw_dns_wire_tcp_connect(const struct sockaddr *sa, socklen_t salen, long deadline)
{
	socklen_t sl = sizeof(int);
	int fd, rc, soerr = 0;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, salen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto fail;
		}
		/* the outcome of a non-blocking connect is in SO_ERROR once the
		 * socket turns writable (connect(2)) */
		rc = tw_dns_wire_wait(fd, POLLOUT, deadline);
		if (rc < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			rc = soerr ? -soerr : -errno;
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return rc;
}

/* Sends or receives exactly len bytes before the deadline. */
static int io_all(int fd, uint8_t *p, size_t len, bool wr, long deadline)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = wr ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		rc = tw_dns_wire_wait(fd, wr ? POLLOUT : POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tw_dns_wire_send_msg(int fd, const uint8_t *msg, size_t n, long deadline)
{
	uint8_t *b;
	int rc;

	if (n > TW_DNS_WIRE_MAX)
		return TW_ETOOBIG;
	b = malloc(n + 2);
	if (!b)
		return TW_ENOMEM;
	b[0] = (uint8_t)(n >> 8);
	b[1] = (uint8_t)n;
	memcpy(b + 2, msg, n);
	rc = io_all(fd, b, n + 2, true, deadline);
	free(b);
	return rc;
}

int tw_dns_wire_recv_msg(int fd, uint8_t *buf, size_t cap, size_t *n, long deadline)
{
	uint8_t hdr[2];
	size_t len;
	int rc;

	*n = 0;
	rc = io_all(fd, hdr, 2, false, deadline);
	if (rc < 0)
		return rc;
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (len < 12)
		return TW_EPROTO;
	if (len > cap)
		return TW_ETOOBIG;
	rc = io_all(fd, buf, len, false, deadline);
	if (rc < 0)
		return rc;
	*n = len;
	return 0;
}
