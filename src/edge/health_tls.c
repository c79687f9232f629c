/*
 * health_tls.c - the TLS handshake of a `tls` health check (OpenSSL 3).
 *
 * Memory BIOs, not SSL_set_fd(): health.c owns the socket and does all
 * I/O with MSG_NOSIGNAL (OpenSSL's socket BIO would write(), and a server
 * that reset the connection would SIGPIPE a process that did not ignore
 * it), and it can send the PROXY header before the first TLS byte.
 *
 * No certificate verification: the check asks "does it answer TLS", the
 * edge never terminates TLS and trusts nothing it would learn here.
 */
#include "util/tw.h"

#include "edge/health.h"

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct tw__hc_tls {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
};

/* OpenSSL's reason for the most recent error, e.g. "wrong version number". */
static void ssl_errtext(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason)
		snprintf(err, errlen, "%s%s", what, reason);
	else if (e)
		snprintf(err, errlen, "%sopenssl error %lu", what, e);
	else
		snprintf(err, errlen, "%sunexpected end of stream", what);
	ERR_clear_error();
}

static bool is_ip_literal(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

tw__hc_tls_t *tw__hc_tls_new(const char *sni, char *err, size_t errlen)
{
	tw__hc_tls_t *t = calloc(1, sizeof(*t));
	SSL_CTX *ctx = NULL;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	t->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	if (!t->ssl)
		goto fail;
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->rbio || !t->wbio) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		goto fail;
	}
	/* An empty read BIO means "not yet", not end of stream. */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_connect_state(t->ssl);
	/* RFC 6066 3: literal IP addresses are not permitted in SNI. */
	if (sni && sni[0] && !is_ip_literal(sni) && !SSL_set_tlsext_host_name(t->ssl, sni))
		goto fail;
	return t;
fail:
	ssl_errtext("", err, errlen);
	SSL_free(t->ssl);
	free(t);
	return NULL;
}

void tw__hc_tls_free(tw__hc_tls_t *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

void tw__hc_tls_feed(tw__hc_tls_t *t, const uint8_t *p, size_t n)
{
	/* A memory BIO grows as needed; n is at most a socket read. */
	while (n > 0) {
		int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
		int w = BIO_write(t->rbio, p, chunk);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

int tw__hc_tls_handshake(tw__hc_tls_t *t, char *err, size_t errlen)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1)
		return 0;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 1;
	ssl_errtext("", err, errlen);
	return -1;
}

bool tw__hc_tls_pending(const tw__hc_tls_t *t)
{
	return t && BIO_ctrl_pending(t->wbio) > 0;
}

size_t tw__hc_tls_take(tw__hc_tls_t *t, uint8_t *out, size_t cap)
{
	int n = BIO_read(t->wbio, out, cap > INT32_MAX ? INT32_MAX : (int)cap);

	return n > 0 ? (size_t)n : 0;
}

void tw__hc_tls_close_notify(tw__hc_tls_t *t)
{
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
}
