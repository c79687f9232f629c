#include "util/tw.h"

#include <errno.h>
#include <netinet/in.h>
#include <systemd/sd-daemon.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "edge/sockets.h"
#include "util/addr.h"
#include "util/log.h"

int tw_listen_socket(const struct sockaddr *sa, socklen_t len, bool v6only, int backlog)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, v6 = v6only ? 1 : 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof(v6)) < 0)
		goto fail;
	if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}

void tw_lsocks_init(tw_lsocks_t *s, int n_workers)
{
	memset(s, 0, sizeof(*s));
	s->n_workers = n_workers;
	s->backlog = 1024;
	int n = sd_listen_fds(1);
	for (int i = 0; i < n && s->n_activated < (int)TW_ARRAY_LEN(s->activated_fds); i++)
		s->activated_fds[s->n_activated++] = SD_LISTEN_FDS_START + i;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static bool is_any(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &in6addr_any,
	              sizeof(struct in6_addr)) == 0;
}

/* [::]:P is v6-only when 0.0.0.0:P is configured as well. */
static bool wants_v6only(const tw_config_t *cfg, const struct sockaddr_storage *a)
{
	if (a->ss_family != AF_INET6 || !is_any(a))
		return false;
	uint16_t port = tw_addr_port((const struct sockaddr *)a);
	for (size_t i = 0; i < cfg->n_listeners; i++)
		for (size_t j = 0; j < cfg->listeners[i].n_binds; j++) {
			const struct sockaddr_storage *b = &cfg->listeners[i].binds[j];
			if (b->ss_family == AF_INET && is_any(b) &&
			    tw_addr_port((const struct sockaddr *)b) == port)
				return true;
		}
	return false;
}

static void make_key(char *key, size_t size, const struct sockaddr_storage *a, bool v6only)
{
	char buf[64];
	tw_addr_format((const struct sockaddr *)a, buf, sizeof(buf));
	snprintf(key, size, "%s%s", buf, v6only ? "/v6only" : "");
}

static int take_activated(tw_lsocks_t *s, const struct sockaddr_storage *a)
{
	for (int i = 0; i < s->n_activated; i++) {
		int fd = s->activated_fds[i];
		if (fd < 0)
			continue;
		struct sockaddr_storage got;
		socklen_t len = sizeof(got);
		if (getsockname(fd, (struct sockaddr *)&got, &len) == 0 && same_addr(&got, a)) {
			s->activated_fds[i] = -1;
			return fd;
		}
	}
	return -1;
}

static tw_lsock_t *open_lsock(tw_lsocks_t *s, const struct sockaddr_storage *a, socklen_t len,
                              bool v6only, const char *key, int *err)
{
	tw_lsock_t *l = calloc(1, sizeof(*l));
	if (!l) {
		*err = -ENOMEM;
		return NULL;
	}
	tw_strlcpy(l->key, key, sizeof(l->key));
	l->addr = *a;
	l->addr_len = len;
	l->v6only = v6only;
	for (int w = 0; w < TW_MAX_WORKERS; w++)
		l->fds[w] = -1;
	int afd = take_activated(s, a);
	if (afd >= 0) {
		int fl = 1;
		ioctl(afd, FIONBIO, &fl);
		l->activated = true;
		l->fds[0] = afd;
		for (int w = 1; w < s->n_workers; w++)
			l->fds[w] = fcntl(afd, F_DUPFD_CLOEXEC, 0);
		return l;
	}
	for (int w = 0; w < s->n_workers; w++) {
		int fd = tw_listen_socket((const struct sockaddr *)a, len, v6only, s->backlog);
		if (fd < 0) {
			*err = fd;
			for (int k = 0; k < w; k++)
				close(l->fds[k]);
			free(l);
			return NULL;
		}
		l->fds[w] = fd;
	}
	return l;
}

int tw_lsocks_sync(tw_lsocks_t *s, const tw_config_t *cfg, tw_lsock_t ***removed, size_t *n_removed,
                   tw_diags_t *diags)
{
	*removed = NULL;
	*n_removed = 0;
	size_t total = 0;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		total += cfg->listeners[i].n_binds;
	tw_lsock_t **next = calloc(total ? total : 1, sizeof(*next));
	bool *fresh = calloc(total ? total : 1, sizeof(*fresh));
	if (!next || !fresh) {
		free(next);
		free(fresh);
		return -ENOMEM;
	}
	for (size_t k = 0; k < s->n; k++)
		s->v[k]->mark = false;
	size_t n = 0;
	int rc = 0;
	const char *file = cfg->path ? cfg->path : "";
	for (size_t i = 0; i < cfg->n_listeners && rc == 0; i++) {
		const tw_cfg_listener_t *lc = &cfg->listeners[i];
		for (size_t j = 0; j < lc->n_binds; j++) {
			bool v6only = wants_v6only(cfg, &lc->binds[j]);
			char key[80];
			make_key(key, sizeof(key), &lc->binds[j], v6only);
			tw_lsock_t *found = NULL;
			for (size_t k = 0; k < s->n && !found; k++)
				if (!s->v[k]->mark && strcmp(s->v[k]->key, key) == 0)
					found = s->v[k];
			if (found) {
				found->mark = true;
				found->listener = (int)i;
				next[n++] = found;
				continue;
			}
			int err = 0;
			tw_lsock_t *l =
			        open_lsock(s, &lc->binds[j], lc->bind_lens[j], v6only, key, &err);
			if (!l) {
				tw_diag_add(diags, file, lc->line, "bind",
				            "listener \"%s\": cannot listen on %s: %s", lc->name,
				            lc->bind_texts[j], strerror(-err));
				rc = err;
				break;
			}
			l->mark = true;
			l->listener = (int)i;
			fresh[n] = true;
			next[n++] = l;
		}
	}
	if (rc) {
		for (size_t k = 0; k < n; k++)
			if (fresh[k]) {
				for (int w = 0; w < s->n_workers; w++)
					if (next[k]->fds[w] >= 0)
						close(next[k]->fds[w]);
				free(next[k]);
			}
		for (size_t k = 0; k < s->n; k++)
			s->v[k]->mark = false;
		free(next);
		free(fresh);
		return rc;
	}
	size_t nr = 0;
	tw_lsock_t **rm = calloc(s->n ? s->n : 1, sizeof(*rm));
	for (size_t k = 0; k < s->n; k++)
		if (!s->v[k]->mark && rm)
			rm[nr++] = s->v[k];
	free(s->v);
	s->v = next;
	s->n = n;
	*removed = rm;
	*n_removed = nr;
	free(fresh);
	return 0;
}

void tw_lsock_free(tw_lsock_t *l)
{
	free(l);
}

void tw_lsocks_release(tw_lsocks_t *s)
{
	for (size_t k = 0; k < s->n; k++) {
		for (int w = 0; w < s->n_workers; w++)
			if (s->v[k]->fds[w] >= 0)
				close(s->v[k]->fds[w]);
		free(s->v[k]);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
