#include "util/tw.h"

#include <curl/curl.h>

#include "cli/admin_client.h"

typedef struct buf {
	char *s;
	size_t n;
} buf_t;

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
	buf_t *b = arg;
	size_t n = sz * nm;
	if (b->n + n > (1u << 20))
		return 0;
	char *s = realloc(b->s, b->n + n + 1);
	if (!s)
		return 0;
	memcpy(s + b->n, p, n);
	b->s = s;
	b->n += n;
	b->s[b->n] = '\0';
	return n;
}

int tw_admin_call(const tw_config_t *cfg, const char *method, const char *path, const char *json,
                  char **body, char *err, size_t errlen)
{
	const char *bind = cfg->admin_bind ? cfg->admin_bind : "127.0.0.1:9180";
	char host[128];
	tw_strlcpy(host, bind, sizeof(host));
	/* The edge listens on the wildcard? Ask it on loopback. */
	if (strncmp(host, "0.0.0.0:", 8) == 0)
		snprintf(host, sizeof(host), "127.0.0.1:%s", bind + 8);
	else if (strncmp(host, "[::]:", 5) == 0)
		snprintf(host, sizeof(host), "[::1]:%s", bind + 5);
	char url[512];
	snprintf(url, sizeof(url), "http://%s%s", host, path);
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot start libcurl");
		return -1;
	}
	buf_t b = {0};
	struct curl_slist *h = NULL;
	char auth[600];
	if (cfg->admin_token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->admin_token);
		h = curl_slist_append(h, auth);
		explicit_bzero(auth, sizeof(auth));
	}
	if (json)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 3L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	CURLcode rc = curl_easy_perform(c);
	long status = -1;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot reach the edge's admin plane at %s: %s", host,
		         curl_easy_strerror(rc));
		free(b.s);
		b.s = NULL;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (body)
		*body = b.s;
	else
		free(b.s);
	return (int)status;
}
