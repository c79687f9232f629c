/*
 * check.c - `tailwart edge --check [--probe]`.
 *
 * Validation is the loader's and the route builder's; the probe dials each
 * backend server once, the way traffic would (every resolved address, both
 * families), and, for a backend that expects PROXY, sends a v2 LOCAL header
 * (what health checks send: the server logs no client) and reads the
 * greeting, so a missing proxy setting on the server shows before mail does.
 */
#include "util/tw.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include "edge/edge.h"
#include "edge/proxy_proto.h"
#include "edge/reply_diag.h"
#include "edge/route.h"
#include "util/addr.h"

#define PROBE_CONNECT_MS 3000
#define PROBE_GREET_MS   2000

static int connect_timeout(const struct sockaddr *sa, socklen_t len, int ms)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n = poll(&p, 1, ms);
	if (n <= 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

static size_t read_some(int fd, uint8_t *buf, size_t cap, int ms, int *close_errno)
{
	size_t len = 0;
	*close_errno = 0;
	while (len < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, len ? 200 : ms) <= 0)
			break;
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n < 0) {
			*close_errno = errno;
			break;
		}
		if (n == 0) {
			if (!len)
				*close_errno = -1;
			break;
		}
		len += (size_t)n;
	}
	return len;
}

static tw_reply_proto_t probe_proto(const tw_routes_t *r, const char *backend)
{
	for (size_t i = 0; i < r->n_listeners; i++) {
		const tw_cfg_listener_t *l = r->listeners[i].cfg;
		if (!l->backend || strcmp(l->backend, backend) != 0)
			continue;
		switch (l->proto) {
		case TW_PROTO_SMTP:
		case TW_PROTO_SUBMISSION: return TW_REPLY_SMTP;
		case TW_PROTO_IMAP: return TW_REPLY_IMAP;
		case TW_PROTO_POP3: return TW_REPLY_POP3;
		case TW_PROTO_SIEVE: return TW_REPLY_SIEVE;
		default: break;
		}
	}
	return TW_REPLY_OTHER;
}

static int probe_server(const tw_routes_t *r, const tw_cfg_backend_t *b, const tw_cfg_server_t *s,
                        FILE *out)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", s->port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int gai = getaddrinfo(s->host, port, &hints, &res);
	if (gai != 0) {
		fprintf(out, "backend %s server %s: cannot resolve \"%s\": %s\n", b->name, s->name,
		        s->host, gai_strerror(gai));
		return 1;
	}
	bool any_ok = false, misconfigured = false;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char a[64];
		tw_addr_format(ai->ai_addr, a, sizeof(a));
		int fd = connect_timeout(ai->ai_addr, ai->ai_addrlen, PROBE_CONNECT_MS);
		if (fd < 0) {
			fprintf(out, "backend %s server %s: %s: %s\n", b->name, s->name, a,
			        strerror(-fd));
			continue;
		}
		any_ok = true;
		if (b->proxy == TW_PROXY_V2 || b->proxy == TW_PROXY_V1) {
			uint8_t hdr[64];
			int n = b->proxy == TW_PROXY_V2 ? tw_proxy_encode_local(hdr, sizeof(hdr))
			                                : (int)snprintf((char *)hdr, sizeof(hdr),
			                                                "PROXY UNKNOWN\r\n");
			if (n > 0 && send(fd, hdr, (size_t)n, MSG_NOSIGNAL) == n) {
				uint8_t buf[512];
				int ce = 0;
				size_t len = read_some(fd, buf, sizeof(buf), PROBE_GREET_MS, &ce);
				char diag[512];
				const char *dg =
				        tw_reply_diag(probe_proto(r, b->name), (int)b->proxy, buf,
				                      len, ce, diag, sizeof(diag));
				if (dg) {
					misconfigured = true;
					fprintf(out,
					        "backend %s server %s: %s: connected, but %s\n",
					        b->name, s->name, a, dg);
					close(fd);
					continue;
				}
			}
		}
		fprintf(out, "backend %s server %s: %s: ok\n", b->name, s->name, a);
		close(fd);
	}
	freeaddrinfo(res);
	return any_ok && !misconfigured ? 0 : 1;
}

int tw_edge_check(const char *path, tw_config_t *quick, bool probe, FILE *out)
{
	tw_diags_t d = {0};
	tw_config_t *cfg = quick ? quick : tw_config_load(path, &d);
	if (!cfg) {
		tw_diags_print(&d, out);
		tw_diags_release(&d);
		return 2;
	}
	tw_routes_t *r = tw_routes_build(cfg, 1, &d);
	if (!r) {
		tw_diags_print(&d, out);
		tw_diags_release(&d);
		return 2;
	}
	fprintf(out, "%s: ok (%zu listeners, %zu backends)\n", path ? path : "quick mode",
	        r->n_listeners, r->n_backends);
	int rc = 0;
	if (probe)
		for (size_t i = 0; i < r->n_backends; i++) {
			const tw_cfg_backend_t *b = r->backends[i].cfg;
			for (size_t j = 0; j < b->n_servers; j++)
				rc |= probe_server(r, b, &b->servers[j], out);
		}
	tw_routes_unref(r);
	return rc;
}
