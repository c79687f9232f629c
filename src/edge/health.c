#include "util/tw.h"

#include "edge/health.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/proxy_proto.h"
#include "edge/reply_diag.h"
#include "util/addr.h"

#define GREET_MAX          4096
#define DEFAULT_TIMEOUT_MS 2000
/* After the verdict: how long to wait for the answer to QUIT/LOGOUT (or
 * the server's close) so that neither side resets a connection with data
 * in flight. Not counted in timeout_ms: the caller already has its verdict. */
#define BYE_WAIT_MS 500
#define SNI_MAX     255
#define HOST_MAX    255
#define QUOTE_MAX   120         /* bytes of a server line quoted in `why` */
#define DRAIN_MAX   (64 * 1024) /* read and dropped before close() */
#define HC_WHY_SIZE 1024

/* ---- greeting judges (pure) ---- */

static const char *const type_names[] = {
        [TW_HC_TCP] = "tcp",   [TW_HC_SMTP] = "smtp",   [TW_HC_IMAP] = "imap",
        [TW_HC_POP3] = "pop3", [TW_HC_SIEVE] = "sieve", [TW_HC_TLS] = "tls",
};

const char *tw_hc_type_name(tw_hc_type_t t)
{
	if ((unsigned)t >= TW_ARRAY_LEN(type_names))
		return "unknown";
	return type_names[t];
}

int tw_hc_type_parse(const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < TW_ARRAY_LEN(type_names); i++)
		if (strcasecmp(s, type_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *tw_health_goodbye(tw_hc_type_t t)
{
	switch (t) {
	case TW_HC_SMTP: return "QUIT\r\n";
	case TW_HC_IMAP: return "a LOGOUT\r\n";
	case TW_HC_POP3: return "QUIT\r\n";
	case TW_HC_SIEVE: return "LOGOUT\r\n";
	default: return NULL;
	}
}

/* Bounded text into a caller buffer: never overflows, always terminated
 * (when cap > 0), silently cut at the end. */
struct wr {
	char *p;
	size_t cap, n;
};

static void wr_init(struct wr *w, char *p, size_t cap)
{
	w->p = p && cap ? p : NULL;
	w->cap = w->p ? cap : 0;
	w->n = 0;
	if (w->p)
		w->p[0] = '\0';
}

static void wr_ch(struct wr *w, char c)
{
	if (w->n + 1 < w->cap) {
		w->p[w->n++] = c;
		w->p[w->n] = '\0';
	}
}

static void wr_str(struct wr *w, const char *s)
{
	while (*s)
		wr_ch(w, *s++);
}

/* Server bytes, printable ASCII kept, the rest as \xHH (and, inside
 * quotes, the quote and backslash too), at most QUOTE_MAX source bytes. */
static void wr_esc(struct wr *w, const uint8_t *b, size_t n, bool quoted)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		if (i == QUOTE_MAX) {
			wr_str(w, "...");
			return;
		}
		if (c >= 0x20 && c < 0x7f && (!quoted || (c != '"' && c != '\\'))) {
			wr_ch(w, (char)c);
			continue;
		}
		wr_ch(w, '\\');
		wr_ch(w, 'x');
		wr_ch(w, hex[c >> 4]);
		wr_ch(w, hex[c & 15]);
	}
}

struct line {
	const uint8_t *p;
	size_t n;   /* without CR LF */
	size_t end; /* offset just after the LF */
};

/* Only complete lines are judged, so a verdict never depends on where the
 * bytes were cut: the same stream always gives the same verdict and text. */
static bool next_line(const uint8_t *b, size_t len, size_t *pos, struct line *l)
{
	const uint8_t *nl;

	if (*pos >= len)
		return false;
	nl = memchr(b + *pos, '\n', len - *pos);
	if (!nl)
		return false;
	l->p = b + *pos;
	l->n = (size_t)(nl - l->p);
	if (l->n && l->p[l->n - 1] == '\r')
		l->n--;
	*pos = (size_t)(nl - b) + 1;
	l->end = *pos;
	return true;
}

/* Word w at offset off, followed by a space or the end of the line. */
static bool word_at(const struct line *l, size_t off, const char *w, bool nocase)
{
	size_t k = strlen(w);

	if (off > l->n || l->n - off < k)
		return false;
	if (nocase ? strncasecmp((const char *)l->p + off, w, k) != 0
	           : memcmp(l->p + off, w, k) != 0)
		return false;
	return off + k == l->n || l->p[off + k] == ' ';
}

static tw_greet_t say(struct wr *w, const char *what, const struct line *l, bool quoted)
{
	wr_str(w, what);
	if (quoted)
		wr_str(w, ": \"");
	else
		wr_ch(w, ' ');
	wr_esc(w, l->p, l->n, quoted);
	if (quoted)
		wr_ch(w, '"');
	return TW_GREET_FAIL;
}

/* RFC 5321 4.2: three digits (2-5, 0-5, 0-9), then '-' (more lines), ' '
 * or nothing (last line). */
static bool smtp_line(const struct line *l, int *code, bool *last)
{
	const uint8_t *p = l->p;

	if (l->n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' || p[2] < '0' ||
	    p[2] > '9')
		return false;
	if (l->n == 3 || p[3] == ' ')
		*last = true;
	else if (p[3] == '-')
		*last = false;
	else
		return false;
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return true;
}

/* A reply that changes code mid-way is judged by the line that is not 220,
 * so "all lines share the code" needs no state across lines. */
static tw_greet_t smtp_greet(const struct line *l, struct wr *w)
{
	int code;
	bool last;

	if (!smtp_line(l, &code, &last))
		return say(w, "not an smtp reply", l, true);
	if (code != 220)
		return say(w, "smtp greeting", l, false);
	return last ? TW_GREET_OK : TW_GREET_MORE;
}

static tw_greet_t imap_greet(const struct line *l, struct wr *w)
{
	if (l->n >= 2 && l->p[0] == '*' && l->p[1] == ' ') {
		if (word_at(l, 2, "OK", true) || word_at(l, 2, "PREAUTH", true))
			return TW_GREET_OK;
		if (word_at(l, 2, "BYE", true))
			return say(w, "imap greeting", l, false);
	}
	return say(w, "not an imap greeting", l, true);
}

/* RFC 1939 3: the status indicators are upper case. */
static tw_greet_t pop3_greet(const struct line *l, struct wr *w)
{
	if (word_at(l, 0, "+OK", false))
		return TW_GREET_OK;
	if (word_at(l, 0, "-ERR", false))
		return say(w, "pop3 greeting", l, false);
	return say(w, "not a pop3 greeting", l, true);
}

/* RFC 5804 4: quoted = DQUOTE *(SAFE-CHAR / "\" QUOTED-SPECIALS) DQUOTE. */
static bool sieve_quoted(const struct line *l, size_t *i)
{
	if (*i >= l->n || l->p[*i] != '"')
		return false;
	for (size_t j = *i + 1; j < l->n; j++) {
		uint8_t c = l->p[j];

		if (c == '"') {
			*i = j + 1;
			return true;
		}
		if (c == '\\') {
			if (++j >= l->n || (l->p[j] != '"' && l->p[j] != '\\'))
				return false;
			continue;
		}
		if (c == 0 || c == '\r')
			return false;
	}
	return false;
}

/* RFC 5804 1.7: capability lines, each a quoted name and an optional
 * quoted value, then an OK response. Literals are not accepted: no
 * server sends them in its greeting. */
static tw_greet_t sieve_greet(const struct line *l, struct wr *w)
{
	size_t i = 0;

	if (l->n && l->p[0] == '"') {
		bool ok = sieve_quoted(l, &i);

		if (ok && i < l->n) {
			i++; /* the space before the value */
			ok = l->p[i - 1] == ' ' && sieve_quoted(l, &i) && i == l->n;
		}
		if (ok)
			return TW_GREET_MORE;
		return say(w, "not a managesieve greeting", l, true);
	}
	if (word_at(l, 0, "OK", true))
		return TW_GREET_OK;
	if (word_at(l, 0, "NO", true) || word_at(l, 0, "BYE", true))
		return say(w, "sieve greeting", l, false);
	return say(w, "not a managesieve greeting", l, true);
}

/*
 * The first reply after the greeting, to our QUIT/LOGOUT. Only read when a
 * PROXY header was sent: a server not set up for PROXY greets normally and
 * then answers the header as a command, so the reply that comes first is
 * its complaint about the header, not the answer to our goodbye.
 */
static tw_greet_t smtp_bye(const struct line *l, struct wr *w)
{
	int code;
	bool last;

	if (!smtp_line(l, &code, &last))
		return say(w, "not an smtp reply", l, true);
	/* 221 is the answer to QUIT; any 5xx answers a command we never sent.
	 * Other codes prove nothing either way. */
	if (code / 100 == 5)
		return say(w, "smtp reply to QUIT", l, false);
	return TW_GREET_OK;
}

static tw_greet_t imap_bye(const struct line *l, struct wr *w)
{
	if (l->n >= 2 && l->p[0] == '*' && l->p[1] == ' ') {
		if (word_at(l, 2, "BYE", true))
			return TW_GREET_OK;
		if (word_at(l, 2, "BAD", true) || word_at(l, 2, "NO", true))
			return say(w, "imap reply to LOGOUT", l, false);
		return TW_GREET_MORE; /* other untagged data */
	}
	if (word_at(l, 0, "a", false) && word_at(l, 2, "OK", true))
		return TW_GREET_OK;
	/* Tagged with another tag: the answer to a command we never sent. */
	return say(w, "imap reply to LOGOUT", l, false);
}

static tw_greet_t pop3_bye(const struct line *l, struct wr *w)
{
	if (word_at(l, 0, "+OK", false))
		return TW_GREET_OK;
	return say(w, "pop3 reply to QUIT", l, false);
}

static tw_greet_t sieve_bye(const struct line *l, struct wr *w)
{
	/* RFC 5804 2.3: "the server MUST reply with an OK response". */
	if (word_at(l, 0, "OK", true))
		return TW_GREET_OK;
	return say(w, "sieve reply to LOGOUT", l, false);
}

typedef tw_greet_t (*line_fn)(const struct line *l, struct wr *w);

static tw_greet_t scan(tw_hc_type_t t, bool bye, const uint8_t *buf, size_t len, size_t *end,
                       char *why, size_t whylen)
{
	static const line_fn greet_fns[] = {
	        [TW_HC_SMTP] = smtp_greet,
	        [TW_HC_IMAP] = imap_greet,
	        [TW_HC_POP3] = pop3_greet,
	        [TW_HC_SIEVE] = sieve_greet,
	};
	static const line_fn bye_fns[] = {
	        [TW_HC_SMTP] = smtp_bye,
	        [TW_HC_IMAP] = imap_bye,
	        [TW_HC_POP3] = pop3_bye,
	        [TW_HC_SIEVE] = sieve_bye,
	};
	size_t n = len > GREET_MAX ? GREET_MAX : len, pos = 0;
	struct line l;
	struct wr w;
	line_fn fn;

	wr_init(&w, why, whylen);
	*end = 0;
	if ((unsigned)t >= TW_ARRAY_LEN(greet_fns) || !greet_fns[t])
		return TW_GREET_OK; /* tcp, tls: nothing to read */
	if (!buf)
		n = len = 0;
	fn = bye ? bye_fns[t] : greet_fns[t];
	while (next_line(buf, n, &pos, &l)) {
		tw_greet_t v = fn(&l, &w);

		if (v != TW_GREET_MORE) {
			*end = l.end;
			if (v == TW_GREET_OK)
				wr_init(&w, why, whylen);
			return v;
		}
	}
	if (len > GREET_MAX) {
		wr_str(&w, tw_hc_type_name(t));
		wr_str(&w, bye ? " reply to the goodbye" : " greeting");
		wr_str(&w, " not complete within 4096 bytes");
		*end = len;
		return TW_GREET_FAIL;
	}
	return TW_GREET_MORE;
}

tw_greet_t tw_health_greeting(tw_hc_type_t t, const uint8_t *buf, size_t len, char *why,
                              size_t whylen)
{
	size_t end;

	return scan(t, false, buf, len, &end, why, whylen);
}

tw_greet_t tw_health_farewell(tw_hc_type_t t, const uint8_t *buf, size_t len, char *why,
                              size_t whylen)
{
	size_t end;

	return scan(t, true, buf, len, &end, why, whylen);
}

/* ---- rise / fall ---- */

bool tw_hstate_update(tw_hstate_t *s, bool ok, const char *why, uint32_t rise, uint32_t fall,
                      int64_t now_unix)
{
	bool was = s->up, first = !s->checked;

	rise = rise ? rise : 1;
	fall = fall ? fall : 1;
	s->checked = true;
	if (ok) {
		s->fail_run = 0;
		if (s->ok_run < UINT32_MAX)
			s->ok_run++;
		if (first || s->ok_run >= rise)
			s->up = true;
	} else {
		s->ok_run = 0;
		if (s->fail_run < UINT32_MAX)
			s->fail_run++;
		if (first || s->fail_run >= fall)
			s->up = false;
		tw_strlcpy(s->last_error, why && why[0] ? why : "check failed",
		           sizeof(s->last_error));
	}
	if (first || s->up != was)
		s->changed_at = now_unix;
	if (s->up && !was)
		s->last_error[0] = '\0';
	return s->up != was;
}

/* ---- the check ---- */

enum hc_state {
	S_RESOLVE, /* waiting for the resolver */
	S_DIAL,    /* waiting for the dialer */
	S_GREET,   /* reading the greeting (PROXY header sent first) */
	S_TLS,     /* TLS handshake, started once the PROXY header is out */
	S_AFTER,   /* greeting ok after a PROXY header, goodbye sent: first reply */
	S_BYE,     /* verdict given: waiting for the server to close */
	S_FAILING, /* failed before any I/O: callback on the next tick */
	S_DONE,    /* handles closing */
};

#define AT_MAX (HOST_MAX + 8)

struct tw_hc {
	uv_loop_t *loop;
	tw_resolve_req_t *req;
	tw_dial_t *dial;
	uv_timer_t timer; /* the deadline, then the goodbye wait */
	uv_poll_t poll;
	int fd;
	bool polling;
	bool reported; /* callback made or cancelled: no callback any more */
	bool eof;      /* the server closed its side (or the socket failed) */
	int rd_err;    /* positive errno when the socket failed */
	bool shut;     /* shutdown(SHUT_WR) once out[] is sent */
	enum hc_state st;
	int open_handles;

	tw_hc_type_t type;
	int proxy_version;
	uint64_t timeout_ms, deadline, bye_deadline; /* loop time, ms */
	uint64_t t0_ns;
	tw_dial_opts_t dopts;
	struct sockaddr_storage source;
	char ifname[IFNAMSIZ];
	char sni[SNI_MAX + 1];
	char host[HOST_MAX + 1];
	uint16_t port;
	struct sockaddr_storage addr; /* answered, or the last one tried */
	bool have_addr;
	tw_hc_cb cb;
	void *arg;
	int fail_status;
	char why[HC_WHY_SIZE];

	tw__hc_tls_t *tls;
	uint8_t out[4096]; /* PROXY header, goodbye, TLS records */
	size_t out_off, out_len;
	size_t greet_end;
	/* The greeting and the first reply after it; for tls the first bytes
	 * of the server's answer (for the PROXY diagnosis). */
	size_t len;
	uint8_t buf[2 * GREET_MAX + 2];
};

static _Thread_local size_t live;

size_t tw_hc_live(void)
{
	return live;
}

static void on_handle_close(uv_handle_t *h)
{
	tw_hc_t *hc = h->data;

	if (--hc->open_handles == 0 && hc->st == S_DONE) {
		free(hc);
		live--;
	}
}

/* libuv's texts are lower case and uv_strerror_r() allocates nothing. */
static void errtext(int err, char *buf, size_t size)
{
	if (err <= TW_EINVAL && err >= TW_EPROTO)
		tw_strlcpy(buf, tw_strerror(err), size);
	else
		uv_strerror_r(err, buf, size);
}

static const char *where(const tw_hc_t *hc, char *buf, size_t size)
{
	if (hc->have_addr)
		tw_addr_format((const struct sockaddr *)&hc->addr, buf, size);
	else
		snprintf(buf, size, "%s:%u", hc->host, hc->port);
	return buf;
}

__attribute__((format(printf, 2, 3))) static void set_why(tw_hc_t *hc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hc->why, sizeof(hc->why), fmt, ap);
	va_end(ap);
}

static void report(tw_hc_t *hc, int status)
{
	uint64_t ms = (uv_hrtime() - hc->t0_ns) / 1000000u;

	if (hc->reported)
		return;
	hc->reported = true;
	if (status == 0)
		hc->why[0] = '\0';
	hc->cb(hc->arg, status, hc->why, hc->have_addr ? (const struct sockaddr *)&hc->addr : NULL,
	       ms);
}

/* Nothing unread may be left in the socket at close(), or the kernel
 * answers with a RST instead of a FIN. */
static void drain(int fd)
{
	uint8_t tmp[4096];
	size_t total = 0;
	ssize_t n;

	while (total < DRAIN_MAX) {
		n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n > 0)
			total += (size_t)n;
		else if (!(n < 0 && errno == EINTR))
			break;
	}
}

static void teardown(tw_hc_t *hc)
{
	if (hc->st == S_DONE)
		return;
	hc->st = S_DONE;
	if (hc->req) {
		tw_resolve_cancel(hc->req);
		hc->req = NULL;
	}
	if (hc->dial) {
		tw_dial_cancel(hc->dial);
		hc->dial = NULL;
	}
	tw__hc_tls_free(hc->tls);
	hc->tls = NULL;
	/* uv_close() drops the fd from epoll at once, so close() may follow. */
	if (hc->polling) {
		uv_close((uv_handle_t *)&hc->poll, on_handle_close);
		hc->polling = false;
	}
	if (hc->fd >= 0) {
		drain(hc->fd);
		close(hc->fd);
		hc->fd = -1;
	}
	uv_close((uv_handle_t *)&hc->timer, on_handle_close);
}

static void fail(tw_hc_t *hc, int status)
{
	report(hc, status);
	teardown(hc);
}

static void on_timer(uv_timer_t *t);
static void on_poll(uv_poll_t *p, int status, int events);

/* A failure found where the callback must not run yet (inside tw_hc_start
 * or a synchronous resolver answer): reported from the next loop turn. */
static void fail_later(tw_hc_t *hc, int status)
{
	hc->st = S_FAILING;
	hc->fail_status = status;
	uv_timer_start(&hc->timer, on_timer, 0, 0);
}

static tw_reply_proto_t reply_proto(tw_hc_type_t t)
{
	switch (t) {
	case TW_HC_SMTP: return TW_REPLY_SMTP;
	case TW_HC_IMAP: return TW_REPLY_IMAP;
	case TW_HC_POP3: return TW_REPLY_POP3;
	case TW_HC_SIEVE: return TW_REPLY_SIEVE;
	default: return TW_REPLY_OTHER;
	}
}

/* After a PROXY header, what the server sent may show that it does not
 * expect one: that explanation then replaces the plain one. */
static void diag(tw_hc_t *hc, int close_errno)
{
	char d[HC_WHY_SIZE / 2], at[AT_MAX];

	if (hc->proxy_version && tw_reply_diag(reply_proto(hc->type), hc->proxy_version, hc->buf,
	                                       hc->len, close_errno, d, sizeof(d)))
		snprintf(hc->why, sizeof(hc->why), "%s: %s", where(hc, at, sizeof(at)), d);
}

/* How the read side ended, for reply_diag: -1 clean EOF, else the errno. */
static int close_how(const tw_hc_t *hc)
{
	return hc->rd_err ? hc->rd_err : -1;
}

static bool out_pending(const tw_hc_t *hc)
{
	return hc->out_off < hc->out_len || tw__hc_tls_pending(hc->tls);
}

static void out_add(tw_hc_t *hc, const void *p, size_t n)
{
	if (hc->out_off) {
		memmove(hc->out, hc->out + hc->out_off, hc->out_len - hc->out_off);
		hc->out_len -= hc->out_off;
		hc->out_off = 0;
	}
	TW_BUG_ON(n > sizeof(hc->out) - hc->out_len);
	memcpy(hc->out + hc->out_len, p, n);
	hc->out_len += n;
}

/* Returns 0 when everything is sent, 1 when the socket is full, or -errno. */
static int flush(tw_hc_t *hc)
{
	for (;;) {
		ssize_t n;

		if (hc->out_off == hc->out_len) {
			hc->out_off = hc->out_len = 0;
			if (!tw__hc_tls_pending(hc->tls))
				break;
			hc->out_len = tw__hc_tls_take(hc->tls, hc->out, sizeof(hc->out));
		}
		/* MSG_NOSIGNAL: a server that went away must not SIGPIPE us. */
		n = send(hc->fd, hc->out + hc->out_off, hc->out_len - hc->out_off,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		hc->out_off += (size_t)n;
	}
	if (hc->shut) {
		hc->shut = false;
		(void)shutdown(hc->fd, SHUT_WR);
	}
	return 0;
}

static void watch(tw_hc_t *hc)
{
	int ev = 0;

	if (hc->st == S_DONE || !hc->polling)
		return;
	if (!hc->eof)
		ev |= UV_READABLE;
	if (out_pending(hc) || hc->shut)
		ev |= UV_WRITABLE;
	if (ev)
		uv_poll_start(&hc->poll, ev, on_poll);
	else
		uv_poll_stop(&hc->poll);
}

/* The verdict is in: wait (bounded) for the server to answer the goodbye
 * and close first, so the connection ends with FINs and no RST. */
static void enter_bye(tw_hc_t *hc)
{
	uint64_t now = uv_now(hc->loop);

	hc->st = S_BYE;
	if (!hc->bye_deadline)
		hc->bye_deadline = now + BYE_WAIT_MS;
	if (hc->eof && !out_pending(hc)) {
		teardown(hc);
		return;
	}
	uv_timer_start(&hc->timer, on_timer, hc->bye_deadline > now ? hc->bye_deadline - now : 0,
	               0);
}

static void send_goodbye(tw_hc_t *hc)
{
	const char *g = tw_health_goodbye(hc->type);

	hc->bye_deadline = uv_now(hc->loop) + BYE_WAIT_MS;
	if (g && !hc->eof) {
		out_add(hc, g, strlen(g));
		(void)flush(hc); /* a failure shows as EOF or a reset next */
	}
}

static void judge_after(tw_hc_t *hc)
{
	char w[HC_WHY_SIZE];
	tw_greet_t v = tw_health_farewell(hc->type, hc->buf + hc->greet_end,
	                                  hc->len - hc->greet_end, w, sizeof(w));

	if (v == TW_GREET_MORE && !hc->eof)
		return;
	if (v == TW_GREET_FAIL) {
		tw_strlcpy(hc->why, w, sizeof(hc->why));
		diag(hc, 0);
		report(hc, TW_EPROTO);
	} else {
		/* A close (or reset) without an answer proves nothing. */
		report(hc, 0);
	}
	enter_bye(hc);
}

static void judge_greeting(tw_hc_t *hc)
{
	const char *name = tw_hc_type_name(hc->type);
	char w[HC_WHY_SIZE], at[AT_MAX], e[128];
	size_t end;
	tw_greet_t v = scan(hc->type, false, hc->buf, hc->len, &end, w, sizeof(w));

	if (v == TW_GREET_MORE) {
		if (!hc->eof)
			return;
		where(hc, at, sizeof(at));
		if (hc->rd_err) {
			errtext(-hc->rd_err, e, sizeof(e));
			set_why(hc, "read %s greeting from %s: %s", name, at, e);
		} else if (hc->len) {
			set_why(hc, "%s server %s closed the connection in its greeting", name, at);
		} else {
			set_why(hc, "%s server %s closed the connection before its greeting", name,
			        at);
		}
		diag(hc, close_how(hc));
		fail(hc, hc->rd_err ? -hc->rd_err : TW_EPROTO);
		return;
	}
	hc->greet_end = end;
	send_goodbye(hc); /* RFC 5321 3.1: even a server that greets 554 waits for QUIT */
	if (v == TW_GREET_FAIL) {
		tw_strlcpy(hc->why, w, sizeof(hc->why));
		diag(hc, 0);
		report(hc, TW_EPROTO);
		enter_bye(hc);
		return;
	}
	if (hc->proxy_version) {
		uint64_t now = uv_now(hc->loop), until = hc->bye_deadline;

		/* The verdict still comes within timeout_ms. */
		if (until > hc->deadline)
			until = hc->deadline;
		hc->st = S_AFTER;
		uv_timer_start(&hc->timer, on_timer, until > now ? until - now : 0, 0);
		judge_after(hc);
		return;
	}
	report(hc, 0);
	enter_bye(hc);
}

static void tls_step(tw_hc_t *hc)
{
	char err[256], at[AT_MAX], e[128];
	int r;

	if (!hc->tls) {
		/* The PROXY header goes out before the ClientHello. */
		if (out_pending(hc))
			return;
		hc->tls = tw__hc_tls_new(hc->sni[0] ? hc->sni : NULL, err, sizeof(err));
		if (!hc->tls) {
			set_why(hc, "tls: %s", err);
			fail(hc, TW_ENOMEM);
			return;
		}
		/* Bytes that came before the ClientHello (a plaintext greeting). */
		tw__hc_tls_feed(hc->tls, hc->buf, hc->len);
	}
	r = tw__hc_tls_handshake(hc->tls, err, sizeof(err));
	if (r == 0) {
		report(hc, 0);
		tw__hc_tls_close_notify(hc->tls);
		hc->shut = true;
		(void)flush(hc);
		enter_bye(hc);
		return;
	}
	if (r > 0 && !hc->eof) {
		(void)flush(hc);
		return;
	}
	where(hc, at, sizeof(at));
	if (r < 0) {
		set_why(hc, "tls handshake with %s: %s", at, err);
		(void)flush(hc); /* the alert, best effort */
	} else if (hc->rd_err) {
		errtext(-hc->rd_err, e, sizeof(e));
		set_why(hc, "tls handshake with %s: %s", at, e);
	} else {
		set_why(hc, "tls handshake with %s: server closed the connection", at);
	}
	diag(hc, hc->eof ? close_how(hc) : 0);
	fail(hc, hc->rd_err && r > 0 ? -hc->rd_err : TW_EPROTO);
}

/* Reads all that is there. A read error counts as the end of the stream
 * (rd_err says which): what came before it is still judged. */
static void read_in(tw_hc_t *hc)
{
	/* A server that floods (in S_BYE, where bytes are dropped) must not
	 * hold the loop: the rest waits for the next poll callback. */
	for (size_t total = 0; !hc->eof && total < DRAIN_MAX;) {
		uint8_t tmp[4096], *dst = tmp;
		size_t room = sizeof(tmp);
		bool keep = hc->st == S_GREET || hc->st == S_AFTER || (hc->st == S_TLS && !hc->tls);
		ssize_t n;

		if (keep) {
			dst = hc->buf + hc->len;
			room = sizeof(hc->buf) - hc->len;
			if (room == 0)
				return; /* the judges decide well before this */
		}
		n = recv(hc->fd, dst, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				hc->rd_err = errno;
				hc->eof = true;
			}
			return;
		}
		if (n == 0) {
			hc->eof = true;
			return;
		}
		total += (size_t)n;
		if (keep) {
			hc->len += (size_t)n;
		} else if (hc->st == S_TLS) {
			size_t k = sizeof(hc->buf) - hc->len;

			if (k > (size_t)n)
				k = (size_t)n;
			memcpy(hc->buf + hc->len, tmp, k);
			hc->len += k;
			tw__hc_tls_feed(hc->tls, tmp, (size_t)n);
		}
		/* S_BYE: dropped */
	}
}

static void step(tw_hc_t *hc)
{
	switch (hc->st) {
	case S_GREET: judge_greeting(hc); break;
	case S_TLS: tls_step(hc); break;
	case S_AFTER: judge_after(hc); break;
	case S_BYE:
		if (hc->eof && !out_pending(hc))
			teardown(hc);
		break;
	default: break;
	}
	watch(hc);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	tw_hc_t *hc = p->data;
	char at[AT_MAX], e[128];
	int r;

	TW_UNUSED(events);
	if (hc->st == S_DONE)
		return;
	if (status < 0) {
		int so_err = 0;
		socklen_t len = sizeof(so_err);

		/* POLLERR (libuv stopped the handle, status UV_EBADF): the
		 * reason is in SO_ERROR, which reading it clears, so a recv()
		 * after it may see a plain EOF. Data that came before the error
		 * still counts. */
		if (getsockopt(hc->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0)
			so_err = 0;
		read_in(hc);
		if (!hc->eof) {
			hc->eof = true;
			hc->rd_err = so_err ? so_err : -status;
		} else if (!hc->rd_err && so_err) {
			hc->rd_err = so_err;
		}
	} else {
		if (out_pending(hc) || hc->shut) {
			r = flush(hc);
			if (r < 0) {
				if (hc->st == S_BYE || hc->reported) {
					teardown(hc);
					return;
				}
				errtext(r, e, sizeof(e));
				set_why(hc, "send to %s: %s", where(hc, at, sizeof(at)), e);
				diag(hc, -r);
				fail(hc, r);
				return;
			}
		}
		read_in(hc);
	}
	step(hc);
}

static void on_timer(uv_timer_t *t)
{
	tw_hc_t *hc = t->data;
	const char *name = tw_hc_type_name(hc->type);
	char at[AT_MAX];
	struct wr w;

	switch (hc->st) {
	case S_FAILING: fail(hc, hc->fail_status); return;
	case S_RESOLVE:
		set_why(hc, "resolve %s: timed out after %" PRIu64 " ms", hc->host, hc->timeout_ms);
		fail(hc, -ETIMEDOUT);
		return;
	case S_DIAL:
		set_why(hc, "connect %s: timed out after %" PRIu64 " ms", where(hc, at, sizeof(at)),
		        hc->timeout_ms);
		fail(hc, -ETIMEDOUT);
		return;
	case S_GREET:
	case S_TLS:
		where(hc, at, sizeof(at));
		if (hc->type == TW_HC_TLS) {
			set_why(hc, "tls handshake with %s not complete after %" PRIu64 " ms", at,
			        hc->timeout_ms);
		} else if (hc->len == 0) {
			set_why(hc, "no %s greeting from %s within %" PRIu64 " ms", name, at,
			        hc->timeout_ms);
		} else {
			/* Postscreen stuck after "220-" shows here, with its words. */
			set_why(hc, "%s greeting from %s not complete after %" PRIu64 " ms: \"",
			        name, at, hc->timeout_ms);
			w.p = hc->why;
			w.cap = sizeof(hc->why);
			w.n = strlen(hc->why);
			wr_esc(&w, hc->buf, hc->len, true);
			wr_ch(&w, '"');
		}
		fail(hc, -ETIMEDOUT);
		return;
	case S_AFTER:
		report(hc, 0); /* no answer to the goodbye in time proves nothing */
		enter_bye(hc);
		return;
	case S_BYE: teardown(hc); return;
	default: return;
	}
}

static void keep_addr(tw_hc_t *hc, const struct sockaddr *sa)
{
	socklen_t len = sa ? tw_addr_len(sa) : 0;

	if (len && len <= sizeof(hc->addr)) {
		memset(&hc->addr, 0, sizeof(hc->addr));
		memcpy(&hc->addr, sa, len);
		hc->have_addr = true;
	}
}

static void on_dial_fail(void *arg, const struct sockaddr *sa, int err)
{
	TW_UNUSED(err);
	keep_addr(arg, sa);
}

static void on_dial(void *arg, int status, int fd, const struct sockaddr *sa)
{
	tw_hc_t *hc = arg;
	char at[AT_MAX], e[128];
	uint8_t hdr[TW_PROXY_V1_MAX_LEN];
	int r;

	hc->dial = NULL;
	if (status < 0) {
		errtext(status, e, sizeof(e));
		set_why(hc, "connect %s: %s", where(hc, at, sizeof(at)), e);
		fail(hc, status);
		return;
	}
	keep_addr(hc, sa);
	hc->fd = fd;
	r = uv_poll_init(hc->loop, &hc->poll, fd);
	if (r < 0) {
		errtext(r, e, sizeof(e));
		set_why(hc, "watch connection to %s: %s", where(hc, at, sizeof(at)), e);
		fail(hc, r);
		return;
	}
	hc->poll.data = hc;
	hc->polling = true;
	hc->open_handles++;

	/* One send, before anything else: the server reads the header whole. */
	if (hc->proxy_version == 2) {
		r = tw_proxy_encode_local(hdr, sizeof(hdr));
		TW_BUG_ON(r != 16);
		out_add(hc, hdr, (size_t)r);
	} else if (hc->proxy_version == 1) {
		out_add(hc, "PROXY UNKNOWN\r\n", 15);
	}
	r = flush(hc);
	if (r < 0) {
		errtext(r, e, sizeof(e));
		set_why(hc, "send PROXY header to %s: %s", where(hc, at, sizeof(at)), e);
		diag(hc, -r);
		fail(hc, r);
		return;
	}
	switch (hc->type) {
	case TW_HC_TCP:
		report(hc, 0);
		hc->shut = true;
		(void)flush(hc);
		enter_bye(hc);
		break;
	case TW_HC_TLS:
		hc->st = S_TLS;
		tls_step(hc);
		break;
	default: hc->st = S_GREET; break;
	}
	watch(hc);
}

static void on_resolved(void *arg, int status, const tw_addrlist_t *list)
{
	tw_hc_t *hc = arg;
	uint64_t now = uv_now(hc->loop);
	char e[128];
	int r;

	hc->req = NULL;
	if (status < 0) {
		errtext(status, e, sizeof(e));
		set_why(hc, "resolve %s: %s", hc->host, e);
		fail_later(hc, status);
		return;
	}
	keep_addr(hc, (const struct sockaddr *)&list->addr[0]);
	/* The dialer's own deadline is ours, so its ETIMEDOUT names the
	 * addresses it tried. */
	hc->dopts.timeout_ms = hc->deadline > now ? hc->deadline - now : 1;
	r = tw_dial_start(hc->loop, list, &hc->dopts, on_dial_fail, on_dial, hc, &hc->dial);
	if (r < 0) {
		errtext(r, e, sizeof(e));
		set_why(hc, "connect %s:%u: %s", hc->host, hc->port, e);
		fail_later(hc, r);
		return;
	}
	hc->st = S_DIAL;
}

int tw_hc_start(uv_loop_t *loop, tw_resolver_t *r, const char *host, uint16_t port,
                const tw_hc_opts_t *o, tw_hc_cb cb, void *arg, tw_hc_t **out)
{
	static const tw_hc_opts_t defaults = {.type = TW_HC_TCP};
	tw_hc_t *hc;
	size_t hl;
	int err;

	if (out)
		*out = NULL;
	if (!o)
		o = &defaults;
	if (!loop || !r || !host || !cb || (unsigned)o->type > TW_HC_TLS || o->proxy_version < 0 ||
	    o->proxy_version > 2)
		return TW_EINVAL;
	hl = strlen(host);
	if (hl == 0 || hl > HOST_MAX || (o->sni && strlen(o->sni) > SNI_MAX) ||
	    (o->dial.interface && strlen(o->dial.interface) >= IFNAMSIZ))
		return TW_EINVAL;
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return TW_ENOMEM;
	hc->loop = loop;
	hc->fd = -1;
	hc->type = o->type;
	hc->proxy_version = o->proxy_version;
	hc->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	hc->dopts = o->dial;
	if (o->dial.source) {
		hc->source = *o->dial.source;
		hc->dopts.source = &hc->source;
	}
	if (o->dial.interface) {
		tw_strlcpy(hc->ifname, o->dial.interface, sizeof(hc->ifname));
		hc->dopts.interface = hc->ifname;
	}
	if (o->sni)
		tw_strlcpy(hc->sni, o->sni, sizeof(hc->sni));
	memcpy(hc->host, host, hl + 1);
	hc->port = port;
	hc->cb = cb;
	hc->arg = arg;
	hc->t0_ns = uv_hrtime();
	uv_timer_init(loop, &hc->timer);
	hc->timer.data = hc;
	hc->open_handles = 1;
	live++;
	hc->deadline = uv_now(loop) + hc->timeout_ms;
	uv_timer_start(&hc->timer, on_timer, hc->timeout_ms, 0);
	hc->st = S_RESOLVE;
	/* A literal or a cached name answers inside this call: on_resolved
	 * then starts the dial (which never calls back synchronously) or
	 * defers the failure, so the caller's callback never runs in here. */
	err = tw_resolve(r, host, port, on_resolved, hc, &hc->req);
	if (err < 0) {
		hc->reported = true;
		teardown(hc);
		return err;
	}
	if (out)
		*out = hc;
	return 0;
}

void tw_hc_cancel(tw_hc_t *hc)
{
	if (!hc || hc->reported || hc->st == S_DONE)
		return;
	hc->reported = true;
	teardown(hc);
}
