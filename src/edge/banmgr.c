/*
 * banmgr.c - see banmgr.h. Control thread only.
 */
#include "util/tw.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edge/bans.h"
#include "edge/banmgr.h"
#include "edge/logban.h"
#include "util/cidr_trie.h"
#include "util/duration.h"
#include "util/log.h"

#define TICK_MS     250
#define POLL_EVERY  4  /* ticks between store change polls (1 s) */
#define RETRY_EVERY 20 /* ticks between reconnect tries (5 s) */
#define EV_BATCH    512

typedef struct tail {
	char *file;
	tw_logban_t *lb;
	int fd;
	ino_t ino;
	off_t off;
	tw_linebuf_t lines;
	struct tw_banmgr *m;
} tail_t;

typedef struct pending {
	tw_store_ban_t ban;
	bool automatic;
} pending_t;

struct tw_banmgr {
	uv_loop_t *loop;
	uv_timer_t tick;
	tw_worker_t **workers;
	int n_workers;
	char *spec, *owner;
	tw_store_t *store;
	char store_err[320];
	tw_store_ban_t *bans; /* in force, as last loaded or added */
	size_t n_bans;
	pending_t *pending; /* made while the store was away */
	size_t n_pending;
	struct job *jhead, *jtail; /* store jobs, run one at a time */
	bool busy, opening, store_down, closing, tick_closed;
	uint64_t job_started; /* loop time the running job began */
	tw_cidr_t *allow;
	size_t n_allow;
	tw_banset_t *allowset; /* allow only, for the tracker */
	tw_bantrack_t *track;
	tw_ban_policy_t policy;
	tail_t *tails;
	size_t n_tails;
	uint64_t ticks, auto_bans;
};

static int64_t now_unix(void)
{
	return (int64_t)time(NULL);
}

/*
 * Store calls run on libuv's thread pool, one at a time (a FIFO of jobs),
 * so a store that hangs (a frozen database) never stalls the control loop:
 * readiness, the admin plane and health checks go on, bans are enforced
 * from memory, and the jobs complete when the store answers.
 */
typedef enum jkind { J_OPEN, J_LIST, J_POLL, J_PUT, J_DEL } jkind_t;

typedef struct job {
	uv_work_t req;
	struct job *next;
	tw_banmgr_t *m;
	jkind_t kind;
	tw_store_ban_t ban; /* J_PUT (in: guess; out: as written) */
	bool automatic;     /* J_PUT: until follows the repeat count */
	char net[64];       /* J_DEL */
	char actor[96];
	int rc;
	bool changed;
	tw_store_t *opened; /* J_OPEN */
	tw_store_ban_t *list;
	size_t n;
	char err[256];
} job_t;

static void run_next(tw_banmgr_t *m);
static void job_done(tw_banmgr_t *m, job_t *j);

static void job_work(uv_work_t *req)
{
	job_t *j = req->data;
	tw_banmgr_t *m = j->m;
	tw_store_t *st = m->store;
	int64_t now = (int64_t)time(NULL);
	switch (j->kind) {
	case J_OPEN:
		j->rc = tw_store_open(m->spec, m->owner, &j->opened, j->err, sizeof(j->err));
		if (j->rc == 0)
			j->rc = tw_store_ban_list(j->opened, now, &j->list, &j->n);
		break;
	case J_LIST: j->rc = tw_store_ban_list(st, now, &j->list, &j->n); break;
	case J_POLL:
		j->rc = tw_store_poll_changes(st, &j->changed);
		if (j->rc < 0 || m->store_down) {
			/* Lost, or was: reconnect, and reload whatever we missed. */
			j->rc = tw_store_ping(st, j->err, sizeof(j->err));
			j->changed = true;
		}
		if (j->rc == 0 && j->changed)
			j->rc = tw_store_ban_list(st, now, &j->list, &j->n);
		break;
	case J_PUT: {
		/* The store knows the history: a repeat ban of the same net gets
		 * the next doubling even when the last one expired long ago. */
		tw_store_ban_t old;
		j->ban.repeat = tw_store_ban_get(st, j->ban.net, &old) == 0 ? old.repeat + 1 : 1;
		if (j->automatic)
			j->ban.until =
			        j->ban.created +
			        (int64_t)(tw_ban_duration_ms(&m->policy, j->ban.repeat) / 1000);
		j->rc = tw_store_ban_put(st, &j->ban);
		if (j->rc == 0) {
			char detail[400];
			snprintf(detail, sizeof(detail),
			         "net=%s until=%" PRId64 " repeat=%d source=%s reason=%s",
			         j->ban.net, j->ban.until, j->ban.repeat, j->ban.source,
			         j->ban.reason);
			tw_store_audit_add(st, j->actor, "ban.add", detail);
		}
		break;
	}
	case J_DEL:
		j->rc = tw_store_ban_del(st, j->net);
		if (j->rc == 0)
			tw_store_audit_add(st, j->actor, "ban.del", j->net);
		break;
	}
	if (j->rc < 0 && j->rc != TW_ENOTFOUND && !j->err[0])
		snprintf(j->err, sizeof(j->err), "%s", st ? tw_store_error(st) : "store not open");
}

static void job_after(uv_work_t *req, int status)
{
	job_t *j = req->data;
	tw_banmgr_t *m = j->m;
	TW_UNUSED(status);
	m->busy = false;
	if (m->closing) {
		if (j->opened)
			tw_store_close(j->opened);
		free(j->list);
		free(j);
		run_next(m);
		return;
	}
	job_done(m, j);
	free(j->list);
	free(j);
	run_next(m);
}

static void submit(tw_banmgr_t *m, job_t *j)
{
	j->m = m;
	j->req.data = j;
	if (m->jtail)
		m->jtail->next = j;
	else
		m->jhead = j;
	m->jtail = j;
	run_next(m);
}

static void finalize(tw_banmgr_t *m);

static void run_next(tw_banmgr_t *m)
{
	if (m->busy)
		return;
	job_t *j = m->jhead;
	if (m->closing) {
		/* Drop what is queued; free once nothing runs. */
		while (j) {
			job_t *n = j->next;
			free(j);
			j = n;
		}
		m->jhead = m->jtail = NULL;
		finalize(m);
		return;
	}
	if (!j)
		return;
	/* Without a store only opening makes sense. */
	if (!m->store && j->kind != J_OPEN) {
		m->jhead = j->next;
		if (!m->jhead)
			m->jtail = NULL;
		j->rc = -ENOTCONN;
		snprintf(j->err, sizeof(j->err), "store not open");
		job_done(m, j);
		free(j);
		run_next(m);
		return;
	}
	m->jhead = j->next;
	if (!m->jhead)
		m->jtail = NULL;
	m->busy = true;
	m->job_started = uv_now(m->loop);
	if (uv_queue_work(m->loop, &j->req, job_work, job_after) != 0) {
		m->busy = false;
		free(j);
	}
}

static job_t *new_job(jkind_t kind)
{
	job_t *j = tw_xcalloc(1, sizeof(*j));
	j->kind = kind;
	return j;
}

static void publish(tw_banmgr_t *m)
{
	int64_t now = now_unix();
	tw_ban_t *v = calloc(m->n_bans ? m->n_bans : 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; v && i < m->n_bans; i++) {
		const tw_store_ban_t *b = &m->bans[i];
		if (b->until && b->until <= now)
			continue;
		if (tw_cidr_parse(b->net, &v[n].net, NULL, 0) != 0)
			continue;
		v[n].until = b->until;
		v[n].repeat = b->repeat;
		tw_strlcpy(v[n].source, b->source, sizeof(v[n].source));
		tw_strlcpy(v[n].reason, b->reason, sizeof(v[n].reason));
		n++;
	}
	tw_banset_t *set = tw_banset_new(v, n, m->allow, m->n_allow);
	free(v);
	if (!set) {
		tw_log(TW_LOG_ERR, "event=bans_publish_failed error=\"out of memory\"");
		return;
	}
	for (int w = 0; w < m->n_workers; w++)
		tw_worker_post_bans(m->workers[w], tw_banset_ref(set));
	tw_banset_unref(set);
}

static void store_lost(tw_banmgr_t *m, const char *what, const char *err)
{
	char clean[200];
	snprintf(clean, sizeof(clean), "%s", err && *err ? err : "unknown error");
	for (char *p = clean; *p; p++)
		if (*p == '"' || *p == '\n')
			*p = '\'';
	snprintf(m->store_err, sizeof(m->store_err), "%s: %s", what, clean);
	if (!m->store_down)
		tw_log(TW_LOG_WARN, "event=store_error error=\"%s\" (bans stay in memory)",
		       m->store_err);
	m->store_down = true;
}

static void store_ok(tw_banmgr_t *m)
{
	if (m->store_down)
		tw_log(TW_LOG_INFO, "event=store_back");
	m->store_down = false;
	m->store_err[0] = '\0';
}

static void remember(tw_banmgr_t *m, const tw_store_ban_t *b)
{
	for (size_t i = 0; i < m->n_bans; i++)
		if (strcmp(m->bans[i].net, b->net) == 0) {
			m->bans[i] = *b;
			return;
		}
	tw_store_ban_t *nb = realloc(m->bans, (m->n_bans + 1) * sizeof(*nb));
	if (!nb)
		return;
	m->bans = nb;
	m->bans[m->n_bans++] = *b;
}

static void add_pending(tw_banmgr_t *m, const tw_store_ban_t *b, bool automatic)
{
	for (size_t i = 0; i < m->n_pending; i++)
		if (strcmp(m->pending[i].ban.net, b->net) == 0) {
			m->pending[i].ban = *b;
			m->pending[i].automatic = automatic;
			return;
		}
	pending_t *np = realloc(m->pending, (m->n_pending + 1) * sizeof(*np));
	if (!np)
		return;
	m->pending = np;
	m->pending[m->n_pending].ban = *b;
	m->pending[m->n_pending].automatic = automatic;
	m->n_pending++;
}

/* The store's list replaces ours; bans still waiting to be written stay. */
static void take_list(tw_banmgr_t *m, tw_store_ban_t *v, size_t n)
{
	free(m->bans);
	m->bans = v;
	m->n_bans = n;
	for (size_t i = 0; i < m->n_pending; i++)
		remember(m, &m->pending[i].ban);
	publish(m);
}

static void write_ban(tw_banmgr_t *m, const tw_store_ban_t *b, bool automatic, const char *actor)
{
	job_t *j = new_job(J_PUT);
	j->ban = *b;
	j->automatic = automatic;
	tw_strlcpy(j->actor, actor, sizeof(j->actor));
	submit(m, j);
}

static void job_done(tw_banmgr_t *m, job_t *j)
{
	switch (j->kind) {
	case J_OPEN: {
		char red[256];
		tw_store_redact(m->spec, red, sizeof(red));
		m->opening = false;
		if (j->rc < 0) {
			if (j->opened)
				tw_store_close(j->opened);
			store_lost(m, "opening the store", j->err);
			return;
		}
		m->store = j->opened;
		tw_log(TW_LOG_INFO, "event=store_open kind=%s state=%s", tw_store_kind(m->store),
		       red);
		store_ok(m);
		take_list(m, j->list, j->n);
		j->list = NULL;
		break;
	}
	case J_LIST:
	case J_POLL:
		if (j->rc < 0) {
			store_lost(m, j->kind == J_LIST ? "listing bans" : "polling for changes",
			           j->err);
			return;
		}
		store_ok(m);
		if (j->list) {
			take_list(m, j->list, j->n);
			j->list = NULL;
		}
		/* Back: write what was decided meanwhile. */
		while (m->n_pending) {
			pending_t p = m->pending[--m->n_pending];
			write_ban(m, &p.ban, p.automatic, "edge:catch-up");
		}
		break;
	case J_PUT:
		if (j->rc < 0) {
			store_lost(m, "writing a ban", j->err);
			add_pending(m, &j->ban, j->automatic);
			return;
		}
		store_ok(m);
		/* The store decided repeat and, for automatic bans, until. */
		remember(m, &j->ban);
		publish(m);
		break;
	case J_DEL:
		if (j->rc < 0 && j->rc != TW_ENOTFOUND) {
			store_lost(m, "deleting a ban", j->err);
			return;
		}
		break;
	}
}

static void open_store(tw_banmgr_t *m)
{
	if (m->opening)
		return;
	m->opening = true;
	submit(m, new_job(J_OPEN));
}

/* Enforces ban b now and has it written (or kept until the store is back). */
static int put_ban(tw_banmgr_t *m, tw_store_ban_t *b, bool automatic, const char *actor)
{
	remember(m, b);
	publish(m);
	if (m->store && !m->store_down)
		write_ban(m, b, automatic, actor);
	else
		add_pending(m, b, automatic);
	return 0;
}

/* Our best knowledge without asking the store (the write job asks it). */
static int32_t prev_repeat(tw_banmgr_t *m, const char *net)
{
	for (size_t i = 0; i < m->n_bans; i++)
		if (strcmp(m->bans[i].net, net) == 0)
			return m->bans[i].repeat;
	return 0;
}

static void handle_event(tw_banmgr_t *m, tw_ban_event_t type, const struct sockaddr *sa)
{
	tw_cidr_t net;
	char nettext[64];
	tw_bantrack_net(m->track, sa, &net);
	tw_cidr_format(&net, nettext, sizeof(nettext));
	tw_ban_t out;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	/* The store's repeat count only matters when a rule trips; the tracker
	 * asks for it up front, so look it up lazily: first without. */
	if (!tw_bantrack_event(m->track, m->allowset, type, sa, now_ms, now_unix(),
	                       prev_repeat(m, nettext), &out))
		return;
	tw_store_ban_t b = {0};
	tw_cidr_format(&out.net, b.net, sizeof(b.net));
	b.created = now_unix();
	b.until = out.until;
	b.repeat = out.repeat;
	tw_strlcpy(b.source, out.source, sizeof(b.source));
	tw_strlcpy(b.reason, out.reason, sizeof(b.reason));
	m->auto_bans++;
	tw_log(TW_LOG_WARN, "event=ban net=%s source=%s repeat=%d until=%" PRId64 " reason=\"%s\"",
	       b.net, b.source, b.repeat, b.until, b.reason);
	put_ban(m, &b, true, "edge:auto");
}

static void on_line(void *arg, const char *line, size_t len)
{
	tail_t *t = arg;
	struct sockaddr_storage ss;
	if (tw_logban_match(t->lb, line, len, &ss))
		handle_event(t->m, TW_BAN_EV_REPORT, (const struct sockaddr *)&ss);
}

/* Reads what the log file gained; follows rotation (new inode) and
 * truncation. Starts at the end: old lines are history, not attacks. */
static void poll_tail(tail_t *t)
{
	struct stat st;
	if (stat(t->file, &st) != 0)
		return;
	if (t->fd >= 0 && (st.st_ino != t->ino || st.st_size < t->off)) {
		close(t->fd);
		t->fd = -1;
		t->off = 0;
		tw_linebuf_reset(&t->lines);
	}
	if (t->fd < 0) {
		t->fd = open(t->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (t->fd < 0)
			return;
		t->ino = st.st_ino;
		if (t->off == 0 && t->m->ticks < 2)
			t->off = st.st_size;
	}
	char buf[16384];
	for (int i = 0; i < 64; i++) {
		ssize_t n = pread(t->fd, buf, sizeof(buf), t->off);
		if (n <= 0)
			break;
		t->off += n;
		tw_linebuf_feed(&t->lines, buf, (size_t)n, on_line, t);
	}
}

static void on_tick(uv_timer_t *h)
{
	tw_banmgr_t *m = h->data;
	m->ticks++;
	tw_ban_ev_t ev[EV_BATCH];
	for (int w = 0; w < m->n_workers; w++) {
		size_t n;
		while ((n = tw_worker_take_events(m->workers[w], ev, EV_BATCH)) > 0)
			for (size_t i = 0; i < n; i++)
				handle_event(m, (tw_ban_event_t)ev[i].type,
				             (const struct sockaddr *)&ev[i].who);
	}
	for (size_t i = 0; i < m->n_tails; i++)
		poll_tail(&m->tails[i]);
	if (!m->store) {
		if (m->ticks % RETRY_EVERY == 0)
			open_store(m);
	} else if (m->ticks % (m->store_down ? RETRY_EVERY / 4 : POLL_EVERY) == 0 && !m->busy &&
	           !m->jhead) {
		submit(m, new_job(J_POLL));
	}
	/* Expired bans leave the published set on their own (checked at
	 * lookup); republish now and then so the set doesn't keep them. */
	if (m->ticks % 240 == 0)
		publish(m);
}

static void configure_tails(tw_banmgr_t *m, const tw_config_t *cfg)
{
	for (size_t i = 0; i < m->n_tails; i++) {
		if (m->tails[i].fd >= 0)
			close(m->tails[i].fd);
		tw_logban_free(m->tails[i].lb);
		free(m->tails[i].file);
	}
	free(m->tails);
	m->tails = NULL;
	m->n_tails = 0;
	if (!cfg->bans.n_log_ban)
		return;
	m->tails = tw_xcalloc(cfg->bans.n_log_ban, sizeof(*m->tails));
	for (size_t i = 0; i < cfg->bans.n_log_ban; i++) {
		const tw_cfg_log_ban_t *c = &cfg->bans.log_ban[i];
		tail_t *t = &m->tails[m->n_tails];
		char err[256];
		if (tw_logban_compile(c->pattern, &t->lb, err, sizeof(err)) < 0) {
			tw_log(TW_LOG_ERR, "event=log_ban_error file=%s line=%d error=\"%s\"",
			       cfg->path ? cfg->path : "-", c->line, err);
			continue;
		}
		t->file = tw_xstrdup(c->file);
		t->fd = -1;
		t->m = m;
		m->n_tails++;
	}
}

void tw_banmgr_configure(tw_banmgr_t *m, const tw_config_t *cfg)
{
	tw_ban_policy_t p;
	tw_ban_policy_defaults(&p);
	const tw_cfg_ban_rule_t *r[4] = {&cfg->bans.rate, &cfg->bans.early_close,
	                                 &cfg->bans.tls_garbage, &cfg->bans.reports};
	for (int i = 0; i < 4; i++) {
		p.rules[i].enabled = r[i]->enabled;
		p.rules[i].count = r[i]->count;
		p.rules[i].window_ms = r[i]->window_ms;
	}
	p.ban_ms = cfg->bans.ban_ms;
	p.max_ban_ms = cfg->bans.max_ban_ms;
	p.v4_prefix = (uint8_t)cfg->bans.v4_prefix;
	p.v6_prefix = (uint8_t)cfg->bans.v6_prefix;
	m->policy = p;
	if (m->track)
		tw_bantrack_set_policy(m->track, &p);
	else
		m->track = tw_bantrack_new(&p);
	free(m->allow);
	m->n_allow = cfg->n_allow;
	m->allow = tw_xcalloc(cfg->n_allow ? cfg->n_allow : 1, sizeof(*m->allow));
	memcpy(m->allow, cfg->allow, cfg->n_allow * sizeof(*m->allow));
	tw_banset_unref(m->allowset);
	m->allowset = tw_banset_new(NULL, 0, m->allow, m->n_allow);
	configure_tails(m, cfg);
	publish(m);
}

tw_banmgr_t *tw_banmgr_new(uv_loop_t *loop, const tw_config_t *cfg, tw_store_t *store,
                           tw_worker_t **workers, int n_workers)
{
	tw_banmgr_t *m = tw_xcalloc(1, sizeof(*m));
	m->loop = loop;
	m->workers = workers;
	m->n_workers = n_workers;
	m->spec = tw_xstrdup(cfg->state ? cfg->state : "/var/lib/tailwart/state.db");
	m->owner = cfg->user ? tw_xstrdup(cfg->user) : NULL;
	tw_banmgr_configure(m, cfg);
	if (store) {
		char red[256];
		m->store = store;
		tw_store_redact(m->spec, red, sizeof(red));
		tw_log(TW_LOG_INFO, "event=store_open kind=%s state=%s", tw_store_kind(store), red);
		submit(m, new_job(J_LIST));
	} else {
		open_store(m);
	}
	uv_timer_init(loop, &m->tick);
	m->tick.data = m;
	uv_timer_start(&m->tick, on_tick, TICK_MS, TICK_MS);
	return m;
}

static void tick_closed(uv_handle_t *h)
{
	tw_banmgr_t *m = h->data;
	m->tick_closed = true;
	finalize(m);
}

/* Frees m once the timer is closed and no store job runs. */
static void finalize(tw_banmgr_t *m)
{
	if (!m->closing || !m->tick_closed || m->busy)
		return;
	tw_store_close(m->store);
	free(m->spec);
	free(m->owner);
	free(m);
}

void tw_banmgr_free(tw_banmgr_t *m)
{
	if (!m)
		return;
	configure_tails(m, &(tw_config_t){0});
	tw_bantrack_free(m->track);
	m->track = NULL;
	tw_banset_unref(m->allowset);
	m->allowset = NULL;
	free(m->bans);
	m->bans = NULL;
	free(m->pending);
	m->pending = NULL;
	free(m->allow);
	m->allow = NULL;
	m->closing = true;
	uv_close((uv_handle_t *)&m->tick, tick_closed);
	run_next(m);
}

/* A cut at a fixed size may split a UTF-8 sequence: drop the partial tail
 * (JSON and the store want valid text). */
static void utf8_trim(char *s)
{
	size_t n = strlen(s), i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

int tw_banmgr_add(tw_banmgr_t *m, const char *net, uint64_t for_ms, const char *reason,
                  const char *actor, char *err, size_t errlen)
{
	tw_cidr_t c;
	if (tw_cidr_parse(net, &c, err, errlen) < 0)
		return TW_EINVAL;
	tw_store_ban_t b = {0};
	tw_cidr_format(&c, b.net, sizeof(b.net));
	b.created = now_unix();
	b.until = for_ms ? b.created + (int64_t)((for_ms + 999) / 1000) : 0;
	b.repeat = prev_repeat(m, b.net) + 1;
	tw_strlcpy(b.source, "manual", sizeof(b.source));
	tw_strlcpy(b.reason, reason && *reason ? reason : "manual", sizeof(b.reason));
	utf8_trim(b.reason);
	return put_ban(m, &b, false, actor);
}

int tw_banmgr_del(tw_banmgr_t *m, const char *net, const char *actor, char *err, size_t errlen)
{
	tw_cidr_t c;
	char text[64];
	if (tw_cidr_parse(net, &c, err, errlen) < 0)
		return TW_EINVAL;
	tw_cidr_format(&c, text, sizeof(text));
	bool found = false;
	size_t k = 0;
	for (size_t i = 0; i < m->n_bans; i++) {
		if (strcmp(m->bans[i].net, text) == 0)
			found = true;
		else
			m->bans[k++] = m->bans[i];
	}
	m->n_bans = k;
	k = 0;
	for (size_t i = 0; i < m->n_pending; i++)
		if (strcmp(m->pending[i].ban.net, text) != 0)
			m->pending[k++] = m->pending[i];
	m->n_pending = k;
	/* The store may hold a ban we never loaded (written a moment ago by
	 * another edge): delete there too, without waiting for the answer. */
	job_t *j = new_job(J_DEL);
	tw_strlcpy(j->net, text, sizeof(j->net));
	tw_strlcpy(j->actor, actor, sizeof(j->actor));
	submit(m, j);
	publish(m);
	if (!found) {
		snprintf(err, errlen, "no ban for %s", text);
		return TW_ENOTFOUND;
	}
	return 0;
}

int tw_banmgr_report(tw_banmgr_t *m, const char *addr, const char *reason, char *err, size_t errlen)
{
	TW_UNUSED(reason);
	tw_cidr_t c;
	if (tw_cidr_parse(addr, &c, err, errlen) < 0)
		return TW_EINVAL;
	if ((c.family == AF_INET && c.prefix != 32) || (c.family == AF_INET6 && c.prefix != 128)) {
		snprintf(err, errlen, "a report names one address, not a network");
		return TW_EINVAL;
	}
	struct sockaddr_storage ss = {0};
	if (c.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, c.addr, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, c.addr, 16);
	}
	handle_event(m, TW_BAN_EV_REPORT, (const struct sockaddr *)&ss);
	return 0;
}

size_t tw_banmgr_list(const tw_banmgr_t *m, tw_store_ban_t **out)
{
	int64_t now = now_unix();
	*out = calloc(m->n_bans ? m->n_bans : 1, sizeof(**out));
	size_t n = 0;
	for (size_t i = 0; *out && i < m->n_bans; i++)
		if (!m->bans[i].until || m->bans[i].until > now)
			(*out)[n++] = m->bans[i];
	return n;
}

bool tw_banmgr_store_ok(const tw_banmgr_t *m, char *why, size_t size)
{
	bool ok = m->store && !m->store_down;
	uint64_t stuck = m->busy ? uv_now(m->loop) - m->job_started : 0;
	if (ok && stuck > 5000) {
		/* A call that doesn't come back (a frozen database) is as bad as
		 * one that fails; say so while it lasts. */
		if (why && size)
			snprintf(why, size, "not answering for %" PRIu64 " s", stuck / 1000);
		return false;
	}
	if (why && size)
		snprintf(why, size, "%s", ok ? "ok" : m->store_err[0] ? m->store_err : "not open");
	return ok;
}

uint64_t tw_banmgr_auto_bans(const tw_banmgr_t *m)
{
	return m->auto_bans;
}

size_t tw_banmgr_count(const tw_banmgr_t *m)
{
	return m->n_bans;
}
