#include "util/tw.h"

#include "edge/config_int.h"

/* Appends a backend named after target unless c has it; on failure c keeps
 * its old arrays. */
static int quick_backend(struct tw__cfg_ctx *x, const char *target, tw_proxy_mode_t proxy)
{
	tw_config_t *c = x->c;
	char host[256], e[384];
	uint16_t port;
	if (tw_config_backend(c, target))
		return 0;
	if (tw_addr_parse_hostport(target, host, sizeof(host), &port, e, sizeof(e)) < 0)
		return TW_EINVAL; /* checked before */
	tw_cfg_backend_t *v = realloc(c->backends, (c->n_backends + 1) * sizeof(*v));
	if (!v)
		return TW_ENOMEM;
	c->backends = v;
	tw_cfg_backend_t *b = &v[c->n_backends];
	memset(b, 0, sizeof(*b));
	b->name = strdup(target);
	b->servers = calloc(1, sizeof(*b->servers));
	if (b->servers) {
		b->n_servers = 1;
		b->servers[0].name = strdup(target);
		b->servers[0].host = strdup(host);
		b->servers[0].port = port;
	}
	b->proxy = proxy;
	b->tlv_authority = b->tlv_alpn = true;
	if (!b->name || !b->servers || !b->servers[0].name || !b->servers[0].host) {
		tw__cfg_backend_release(b);
		return TW_ENOMEM;
	}
	c->n_backends++;
	return 0;
}

int tw_config_quick(tw_config_t *c, const char *listen, const char *to, const char *proxy,
                    const char *proto, const char *const *sni, size_t n_sni, tw_diags_t *diags)
{
	tw_diags_t local = {0};
	if (!diags)
		diags = &local;
	struct tw__cfg_ctx x = {.file = "", .d = diags, .c = c};
	size_t start = diags->n;
	char e[384], host[256], q[96];
	uint16_t port;
	tw_cfg_listener_t l = {
	        .name = strdup("quick"), .hello_timeout_ms = 5000, .proxy_timeout_ms = 3000};
	tw_proxy_mode_t pm = TW_PROXY_NONE;
	l.proto = n_sni ? TW_PROTO_TLS : TW_PROTO_TCP;
	if (proto && tw_proto_parse(proto, &l.proto) < 0)
		tw__cfg_err(&x, 0, "--protocol", "expected one of %s, got %s", tw__cfg_proto_list,
		            TW__CFG_QS(q, proto));
	if (proxy) {
		size_t i = 0;
		while (i < 3 && strcmp(proxy, tw__cfg_proxy_names[i]) != 0)
			i++;
		if (i == 3)
			tw__cfg_err(&x, 0, "--proxy", "expected one of none, v1, v2, got %s",
			            TW__CFG_QS(q, proxy));
		else
			pm = (tw_proxy_mode_t)i;
	}
	for (size_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].name && strcmp(c->listeners[i].name, "quick") == 0)
			tw__cfg_err(&x, 0, "--listen", "a listener named \"quick\" already exists");
	if (!listen || !listen[0]) {
		tw__cfg_err(&x, 0, "--listen",
		            "missing: give an address like 0.0.0.0:25 or [::]:443");
	} else {
		char *dup = strdup(listen), *save = NULL;
		size_t n = 1;
		for (const char *p = listen; *p; p++)
			n += *p == ',';
		if (!dup || !tw__cfg_alloc_binds(&x, &l, n))
			x.oom = true;
		for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !x.oom;
		     t = strtok_r(NULL, ",", &save)) {
			struct sockaddr_storage ss;
			socklen_t sl;
			if (tw_addr_parse_listen(t, &ss, &sl, e, sizeof(e)) < 0) {
				tw__cfg_err(&x, 0, "--listen", "%s", e);
				continue;
			}
			const tw_cfg_listener_t *o = tw__cfg_bind_owner(c, &ss);
			bool twice = false;
			for (size_t j = 0; j < l.n_binds && tw_addr_port((struct sockaddr *)&ss);
			     j++)
				twice |= tw__cfg_sa_equal(&l.binds[j], &ss);
			if (o || twice)
				tw__cfg_bind_clash(&x, 0, "--listen", t, twice ? &l : o, &l);
			else
				tw__cfg_add_bind(&x, &l, &ss, sl, t);
		}
		free(dup);
	}
	bool tls = l.proto == TW_PROTO_TLS;
	if (to && tw_addr_parse_hostport(to, host, sizeof(host), &port, e, sizeof(e)) < 0)
		tw__cfg_err(&x, 0, "--to", "%s", e);
	else if (!to && !(tls && n_sni))
		tw__cfg_err(&x, 0, "--to", "missing: give the backend as HOST:PORT");
	if (n_sni && !tls)
		tw__cfg_err(&x, 0, "--sni", "only for protocol tls, not %s",
		            tw_proto_name(l.proto));
	l.sni = n_sni ? tw__cfg_calloc(&x, n_sni, sizeof(*l.sni)) : NULL;
	for (size_t i = 0; l.sni && i < n_sni && tls; i++) {
		const char *eq = strchr(sni[i], '=');
		tw_cfg_sni_t *s = &l.sni[l.n_sni];
		if (!eq) {
			tw__cfg_err(&x, 0, "--sni", "expected NAME=HOST:PORT, got %s",
			            TW__CFG_QS(q, sni[i]));
			continue;
		}
		s->pattern = strndup(sni[i], (size_t)(eq - sni[i]));
		s->backend = strdup(eq + 1);
		if (!s->pattern || !s->backend) {
			free(s->pattern);
			free(s->backend);
			x.oom = true;
			break;
		}
		l.n_sni++;
		if (!tw__cfg_sni_pattern_ok(s->pattern))
			tw__cfg_err(&x, 0, "--sni", "%s is not a host name or *.domain pattern",
			            TW__CFG_QS(q, s->pattern));
		else if (tw_addr_parse_hostport(s->backend, host, sizeof(host), &port, e,
		                                sizeof(e)) < 0)
			tw__cfg_err(&x, 0, "--sni", "%s", e);
		for (size_t j = 0; j + 1 < l.n_sni; j++)
			if (strcmp(l.sni[j].pattern, s->pattern) == 0)
				tw__cfg_err(&x, 0, "--sni", "%s is given twice",
				            TW__CFG_QS(q, s->pattern));
	}
	if (!l.name)
		x.oom = true;
	/* Everything is checked: only now touch c, so a failure leaves it as it was
	 * (backends added before an out-of-memory failure are harmless extras). */
	tw_cfg_listener_t *nl = NULL;
	if (diags->n == start && !x.oom && !x.nerr) {
		int r = to ? quick_backend(&x, to, pm) : 0;
		for (size_t i = 0; r == 0 && i < l.n_sni; i++)
			r = quick_backend(&x, l.sni[i].backend, pm);
		if (r == 0 && to && !(l.backend = strdup(to)))
			r = TW_ENOMEM;
		if (r == 0)
			nl = realloc(c->listeners, (c->n_listeners + 1) * sizeof(*nl));
		if (!nl) {
			x.oom = true;
		} else {
			c->listeners = nl;
			c->listeners[c->n_listeners++] = l;
			tw_diags_release(&local);
			return 0;
		}
	}
	if (x.oom)
		tw_diag_add(diags, "", 0, "", "out of memory");
	tw__cfg_listener_release(&l);
	tw_diags_release(&local);
	return TW_EINVAL;
}
