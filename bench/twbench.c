/*
 * twbench.c - load generator, backend and probes for bench/run.
 *
 * One binary, one job per subcommand; every job is bounded in time and talks
 * to loopback addresses only. Results are printed as key=value words on one
 * line so bench/run can keep them without parsing tables.
 *
 *   serve SMTP_PORT SINK_PORT     backend on 127.0.0.1: the SMTP port greets
 *                                 "220 ready", answers QUIT with "221 bye" and
 *                                 closes; the sink port discards what it gets
 *                                 and, at the client's EOF, answers the byte
 *                                 count and closes. Runs until SIGTERM.
 *   rate ADDR -c N -t SECS        N clients in a loop: connect, read 220, send
 *                                 QUIT, read 221 (latency stops here), read EOF
 *   bulk ADDR -s N -b BYTES -t SECS   N streams send BYTES each (or until SECS),
 *                                 half-close, check the sink's byte count
 *   idle ADDR -n N                open N connections, each reads the banner,
 *                                 print "ready ...", hold them until SIGTERM
 *   probe ADDR                    exit 0 once ADDR answers a 220 banner (2 s)
 *   snap [--pid PID]              RSS and fds of PID and its descendants, and
 *                                 kernel socket memory (slab, sockstat)
 *
 * rate and bulk take --watch PID: the CPU time (utime+stime) that PID and its
 * descendants used during the measured window is reported as proxy_cpu_s, and
 * the busy share of cores 0 and 1 (from /proc/stat) as core0/core1_busy. With
 * --backend PID too, coreN_foreign is the share of core N that went to none
 * of the benchmark's processes: other work that disturbed the measurement.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 512

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("twbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* "127.0.0.1:25", "[::1]:25"; loopback only, the benchmark never leaves the machine. */
static socklen_t parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof(host))
		die("bad address \"%s\"", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	long port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		die("bad port in \"%s\"", s);
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 2 || host[n - 1] != ']')
			die("bad address \"%s\"", s);
		host[n - 1] = 0;
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			die("bad address \"%s\"", s);
		if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			die("\"%s\" is not a loopback address", s);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		die("bad address \"%s\"", s);
	if ((ntohl(a->sin_addr.s_addr) >> 24) != 127)
		die("\"%s\" is not a loopback address", s);
	return sizeof(*a);
}

static int connect_nb(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static void ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
}

static void ep_mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0)
		die("epoll_ctl mod: %s", strerror(errno));
}

/* ---- CPU and memory probes ---- */

typedef struct pidset {
	int v[64];
	int n;
} pidset_t;

static void pidset_add(pidset_t *s, int pid)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == pid)
			return;
	if (s->n < (int)(sizeof(s->v) / sizeof(s->v[0])))
		s->v[s->n++] = pid;
}

/* Reads /proc/PID/stat; returns false when the process is gone. */
static bool read_stat(int pid, int *ppid, uint64_t *ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	p += 2;
	/* field 3 is state; we want 4 (ppid), 14 (utime), 15 (stime) */
	unsigned long long f[16] = {0};
	int k = 3;
	char *save = NULL;
	for (char *t = strtok_r(p, " ", &save); t && k <= 15; t = strtok_r(NULL, " ", &save), k++)
		f[k] = strtoull(t, NULL, 10);
	if (ppid)
		*ppid = (int)f[4];
	if (ticks)
		*ticks = f[14] + f[15];
	return true;
}

/* root and every process under it. */
static void collect_tree(int root, pidset_t *s)
{
	if (root <= 0)
		return;
	pidset_add(s, root);
	bool grew = true;
	while (grew) {
		grew = false;
		DIR *d = opendir("/proc");
		if (!d)
			return;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			int pid = atoi(e->d_name), ppid = 0;
			if (!read_stat(pid, &ppid, NULL))
				continue;
			bool have = false, parent = false;
			for (int i = 0; i < s->n; i++) {
				have |= s->v[i] == pid;
				parent |= s->v[i] == ppid;
			}
			if (parent && !have) {
				pidset_add(s, pid);
				grew = true;
			}
		}
		closedir(d);
	}
}

static uint64_t tree_ticks(const pidset_t *s)
{
	uint64_t sum = 0, t;
	for (int i = 0; i < s->n; i++)
		if (read_stat(s->v[i], NULL, &t))
			sum += t;
	return sum;
}

typedef struct cores {
	uint64_t busy[2], total[2];
} cores_t;

static void read_cores(cores_t *c)
{
	memset(c, 0, sizeof(*c));
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		int cpu;
		unsigned long long v[10] = {0};
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
		           &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5 ||
		    cpu < 0 || cpu > 1)
			continue;
		uint64_t tot = 0;
		for (int i = 0; i < 8; i++)
			tot += v[i];
		c->total[cpu] = tot;
		c->busy[cpu] = tot - v[3] - v[4]; /* minus idle and iowait */
	}
	fclose(f);
}

typedef struct watch {
	pidset_t pids, back;
	uint64_t ticks0, back0, self0;
	cores_t c0;
	bool on;
} watch_t;

static uint64_t self_ticks(void)
{
	uint64_t t = 0;
	read_stat(getpid(), NULL, &t);
	return t;
}

/*
 * Starts measuring: the proxy's tree (pid, may be 0) and, to tell how much
 * of each core went to work that is not ours, the backend's tree and this
 * process (both on core 0; the proxy is alone on core 1).
 */
static void watch_start(watch_t *w, int pid, int backend)
{
	memset(w, 0, sizeof(*w));
	collect_tree(backend, &w->back);
	w->back0 = tree_ticks(&w->back);
	w->self0 = self_ticks();
	if (pid > 0) {
		w->on = true;
		collect_tree(pid, &w->pids);
		w->ticks0 = tree_ticks(&w->pids);
	}
	read_cores(&w->c0);
}

static void watch_print(watch_t *w)
{
	cores_t c1;
	read_cores(&c1);
	uint64_t proxy = w->on ? tree_ticks(&w->pids) - w->ticks0 : 0;
	uint64_t ours[2] = {self_ticks() - w->self0 + tree_ticks(&w->back) - w->back0, proxy};
	for (int i = 0; i < 2; i++) {
		uint64_t tot = c1.total[i] - w->c0.total[i], busy = c1.busy[i] - w->c0.busy[i];
		double b = tot ? (double)busy / (double)tot : 0;
		/* busy time no process of the benchmark was charged for: other work
		 * on the machine (and a little interrupt-time network work) */
		double f = tot ? ((double)busy - (double)ours[i]) / (double)tot : 0;
		printf(" core%d_busy=%.3f core%d_foreign=%.3f", i, b, i, f < 0 ? 0 : f);
	}
	if (!w->on)
		return;
	bool alive = true;
	for (int i = 0; i < w->pids.n; i++)
		alive &= read_stat(w->pids.v[i], NULL, NULL);
	long hz = sysconf(_SC_CLK_TCK);
	printf(" proxy_cpu_s=%.2f proxy_alive=%d", (double)proxy / (double)(hz > 0 ? hz : 100),
	       alive);
}

/* ---- serve ---- */

enum { K_FREE, K_LSMTP, K_LSINK, K_SMTP, K_SINK };

typedef struct sconn {
	uint8_t kind;
	uint8_t len;
	char line[96];
	uint64_t bytes;
} sconn_t;

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void catch_term(void)
{
	struct sigaction sa = {.sa_handler = on_term};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0)
		die("listen on 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

static int cmd_serve(int argc, char **argv)
{
	if (argc != 4)
		die("usage: twbench serve SMTP_PORT SINK_PORT");
	catch_term();
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	size_t cap = r.rlim_cur > 1u << 20 ? 1u << 20 : (size_t)r.rlim_cur;
	sconn_t *c = calloc(cap, sizeof(*c));
	static char sinkbuf[1 << 20];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int ls = listen_on(atoi(argv[2])), lk = listen_on(atoi(argv[3]));
	c[ls].kind = K_LSMTP;
	c[lk].kind = K_LSINK;
	ep_add(ep, ls, EPOLLIN, (uint64_t)ls);
	ep_add(ep, lk, EPOLLIN, (uint64_t)lk);
	struct epoll_event ev[MAX_EVENTS];
	while (!g_stop) {
		int n = epoll_wait(ep, ev, MAX_EVENTS, 200);
		for (int i = 0; i < n; i++) {
			int fd = (int)ev[i].data.u64;
			sconn_t *s = &c[fd];
			if (s->kind == K_LSMTP || s->kind == K_LSINK) {
				for (;;) {
					int cfd = accept4(fd, NULL, NULL,
					                  SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (cfd < 0)
						break;
					if ((size_t)cfd >= cap) {
						close(cfd);
						continue;
					}
					sconn_t *t = &c[cfd];
					memset(t, 0, sizeof(*t));
					t->kind = s->kind == K_LSMTP ? K_SMTP : K_SINK;
					if (t->kind == K_SMTP) {
						int one = 1;
						setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
						           sizeof(one));
						if (send(cfd, "220 ready\r\n", 11, MSG_NOSIGNAL) !=
						    11) {
							close(cfd);
							t->kind = K_FREE;
							continue;
						}
					}
					ep_add(ep, cfd, EPOLLIN, (uint64_t)cfd);
				}
				continue;
			}
			if (s->kind == K_SINK) {
				/* MSG_TRUNC discards without copying: keeps core 0 for the client
				 */
				ssize_t r2 = recv(fd, sinkbuf, sizeof(sinkbuf), MSG_TRUNC);
				if (r2 > 0) {
					s->bytes += (uint64_t)r2;
					continue;
				}
				if (r2 < 0 && errno == EAGAIN)
					continue;
				if (r2 == 0) {
					char msg[32];
					int m = snprintf(msg, sizeof(msg), "%" PRIu64 "\n",
					                 s->bytes);
					ssize_t w = send(fd, msg, (size_t)m, MSG_NOSIGNAL);
					(void)w;
				}
				close(fd);
				s->kind = K_FREE;
				continue;
			}
			if (s->kind != K_SMTP)
				continue;
			ssize_t r2 = recv(fd, s->line + s->len, sizeof(s->line) - 1 - s->len, 0);
			if (r2 < 0 && errno == EAGAIN)
				continue;
			if (r2 <= 0) {
				close(fd);
				s->kind = K_FREE;
				continue;
			}
			s->len = (uint8_t)(s->len + r2);
			s->line[s->len] = 0;
			char *nl = strchr(s->line, '\n');
			if (!nl) {
				if (s->len >= sizeof(s->line) - 1)
					s->len = 0; /* an overlong line: drop it */
				continue;
			}
			bool quit = strncasecmp(s->line, "QUIT", 4) == 0;
			const char *ans = quit ? "221 bye\r\n" : "500 what\r\n";
			ssize_t w = send(fd, ans, strlen(ans), MSG_NOSIGNAL);
			(void)w;
			s->len = 0;
			if (quit) {
				close(fd);
				s->kind = K_FREE;
			}
		}
	}
	return 0;
}

/* ---- rate ---- */

enum { S_IDLE, S_220, S_221, S_EOF };

typedef struct rslot {
	int fd;
	int state;
	uint64_t t0;
	int len;
	char buf[64];
} rslot_t;

typedef struct rstats {
	uint32_t *lat;
	size_t n_lat, cap_lat;
	uint64_t done, errors, timeouts, refused, reset, early_eof, bad_reply;
} rstats_t;

static void lat_add(rstats_t *st, uint64_t us)
{
	if (st->n_lat == st->cap_lat) {
		st->cap_lat = st->cap_lat ? st->cap_lat * 2 : 65536;
		st->lat = realloc(st->lat, st->cap_lat * sizeof(*st->lat));
		if (!st->lat)
			die("out of memory");
	}
	st->lat[st->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t pct(const rstats_t *st, double p)
{
	if (!st->n_lat)
		return 0;
	size_t i = (size_t)(p * (double)(st->n_lat - 1) + 0.5);
	return st->lat[i];
}

static void rslot_close(int ep, rslot_t *s)
{
	if (s->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
	}
	s->fd = -1;
	s->state = S_IDLE;
}

static void rslot_fail(int ep, rslot_t *s, rstats_t *st, int err)
{
	st->errors++;
	if (err == ECONNREFUSED)
		st->refused++;
	else if (err == ECONNRESET || err == EPIPE)
		st->reset++;
	rslot_close(ep, s);
}

static void rslot_open(int ep, rslot_t *s, int idx, const struct sockaddr_storage *ss,
                       socklen_t len, rstats_t *st)
{
	s->t0 = now_us();
	s->len = 0;
	int fd = connect_nb(ss, len);
	if (fd < 0) {
		st->errors++;
		s->fd = -1;
		s->state = S_IDLE;
		return;
	}
	s->fd = fd;
	s->state = S_220;
	ep_add(ep, fd, EPOLLIN, (uint64_t)idx);
}

static int cmd_rate(int argc, char **argv)
{
	const char *addr = NULL;
	int conc = 64, watch_pid = 0, backend_pid = 0;
	double secs = 10;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			conc = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--watch") && i + 1 < argc)
			watch_pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			backend_pid = atoi(argv[++i]);
		else if (!addr)
			addr = argv[i];
		else
			die("usage: twbench rate ADDR [-c N] [-t SECS] [--watch PID] [--backend "
			    "PID]");
	}
	if (!addr || conc < 1 || conc > 10000 || secs <= 0 || secs > 300)
		die("usage: twbench rate ADDR [-c N] [-t SECS] [--watch PID] [--backend PID]");
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)secs + 30); /* a stuck run must not outlive the benchmark */
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(addr, &ss);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	rslot_t *slot = calloc((size_t)conc, sizeof(*slot));
	rstats_t st = {0};
	watch_t w;
	watch_start(&w, watch_pid, backend_pid);
	uint64_t start = now_us(), deadline = start + (uint64_t)(secs * 1e6),
	         drain_end = deadline + 3000000, per_conn_timeout = 5000000, last_scan = start;
	for (int i = 0; i < conc; i++)
		rslot_open(ep, &slot[i], i, &ss, sl, &st);
	struct epoll_event ev[MAX_EVENTS];
	uint64_t in_window = 0;
	for (;;) {
		uint64_t now = now_us();
		int open = 0;
		for (int i = 0; i < conc; i++)
			open += slot[i].fd >= 0;
		if (now >= deadline && open == 0)
			break;
		if (now >= drain_end)
			break;
		int n = epoll_wait(ep, ev, MAX_EVENTS, 20);
		now = now_us();
		for (int k = 0; k < n; k++) {
			int i = (int)ev[k].data.u64;
			rslot_t *s = &slot[i];
			if (s->fd < 0)
				continue;
			ssize_t r = recv(s->fd, s->buf + s->len,
			                 sizeof(s->buf) - 1 - (size_t)s->len, 0);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r < 0) {
				rslot_fail(ep, s, &st, errno);
			} else if (r == 0) {
				if (s->state == S_EOF) {
					st.done++;
					if (now <= deadline)
						in_window++;
					rslot_close(ep, s);
				} else {
					st.early_eof++;
					rslot_fail(ep, s, &st, 0);
				}
			} else if (s->state == S_EOF) {
				st.bad_reply++;
				rslot_fail(ep, s, &st, 0);
			} else {
				s->len += (int)r;
				s->buf[s->len] = 0;
				char *nl = strchr(s->buf, '\n');
				if (!nl) {
					if (s->len >= (int)sizeof(s->buf) - 1) {
						st.bad_reply++;
						rslot_fail(ep, s, &st, 0);
					}
					continue;
				}
				bool extra = nl[1] != 0;
				if (s->state == S_220) {
					if (strncmp(s->buf, "220", 3) || extra) {
						st.bad_reply++;
						rslot_fail(ep, s, &st, 0);
						continue;
					}
					s->len = 0;
					if (send(s->fd, "QUIT\r\n", 6, MSG_NOSIGNAL) != 6) {
						rslot_fail(ep, s, &st, errno);
						continue;
					}
					s->state = S_221;
				} else {
					if (strncmp(s->buf, "221", 3) || extra) {
						st.bad_reply++;
						rslot_fail(ep, s, &st, 0);
						continue;
					}
					if (now <= deadline)
						lat_add(&st, now - s->t0);
					s->state = S_EOF;
				}
			}
		}
		if (now - last_scan > 100000) {
			last_scan = now;
			for (int i = 0; i < conc; i++)
				if (slot[i].fd >= 0 && now - slot[i].t0 > per_conn_timeout) {
					st.timeouts++;
					rslot_fail(ep, &slot[i], &st, 0);
				}
		}
		if (now < deadline)
			for (int i = 0; i < conc; i++)
				if (slot[i].fd < 0)
					rslot_open(ep, &slot[i], i, &ss, sl, &st);
	}
	uint64_t stalled = 0;
	for (int i = 0; i < conc; i++)
		if (slot[i].fd >= 0) {
			stalled++;
			rslot_close(ep, &slot[i]);
		}
	double el = (double)(deadline - start) / 1e6;
	qsort(st.lat, st.n_lat, sizeof(*st.lat), cmp_u32);
	printf("conns=%" PRIu64 " secs=%.3f rate=%.1f p50_us=%u p90_us=%u p99_us=%u p999_us=%u "
	       "max_us=%u errors=%" PRIu64 " timeouts=%" PRIu64 " refused=%" PRIu64
	       " reset=%" PRIu64 " early_eof=%" PRIu64 " bad_reply=%" PRIu64 " stalled=%" PRIu64,
	       in_window, el, (double)in_window / el, pct(&st, 0.5), pct(&st, 0.9), pct(&st, 0.99),
	       pct(&st, 0.999), st.n_lat ? st.lat[st.n_lat - 1] : 0, st.errors, st.timeouts,
	       st.refused, st.reset, st.early_eof, st.bad_reply, stalled);
	watch_print(&w);
	putchar('\n');
	return 0;
}

/* ---- bulk ---- */

typedef struct bslot {
	int fd;
	int state; /* 0 sending, 1 waiting for the count, 2 done */
	uint64_t sent;
	uint64_t t_done;
	int len;
	char reply[64];
	bool verified;
} bslot_t;

static uint64_t parse_bytes(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (!strcasecmp(end, "k") || !strcasecmp(end, "KiB"))
		v *= 1024;
	else if (!strcasecmp(end, "m") || !strcasecmp(end, "MiB"))
		v *= 1024 * 1024;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "GiB"))
		v *= 1024.0 * 1024 * 1024;
	else if (*end)
		die("bad size \"%s\"", s);
	return (uint64_t)v;
}

static int cmd_bulk(int argc, char **argv)
{
	const char *addr = NULL;
	int streams = 4, watch_pid = 0, backend_pid = 0;
	uint64_t bytes = 2ull << 30;
	double secs = 10;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			streams = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-b") && i + 1 < argc)
			bytes = parse_bytes(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--watch") && i + 1 < argc)
			watch_pid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			backend_pid = atoi(argv[++i]);
		else if (!addr)
			addr = argv[i];
		else
			die("usage: twbench bulk ADDR [-s N] [-b BYTES] [-t SECS] [--watch PID] "
			    "[--backend PID]");
	}
	if (!addr || streams < 1 || streams > 256 || secs <= 0 || secs > 300)
		die("usage: twbench bulk ADDR [-s N] [-b BYTES] [-t SECS] [--watch PID] [--backend "
		    "PID]");
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)secs + 40);
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(addr, &ss);
	static char chunk[256 * 1024];
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)(i * 2654435761u >> 13);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	bslot_t *b = calloc((size_t)streams, sizeof(*b));
	watch_t w;
	watch_start(&w, watch_pid, backend_pid);
	uint64_t start = now_us(), deadline = start + (uint64_t)(secs * 1e6),
	         hard_end = deadline + 15000000;
	int left = streams, failed = 0;
	for (int i = 0; i < streams; i++) {
		b[i].fd = connect_nb(&ss, sl);
		if (b[i].fd < 0) {
			b[i].state = 2;
			failed++;
			left--;
			continue;
		}
		ep_add(ep, b[i].fd, EPOLLOUT | EPOLLIN, (uint64_t)i);
	}
	struct epoll_event ev[MAX_EVENTS];
	while (left > 0 && now_us() < hard_end) {
		int n = epoll_wait(ep, ev, MAX_EVENTS, 20);
		uint64_t now = now_us();
		for (int k = 0; k < n; k++) {
			bslot_t *s = &b[ev[k].data.u64];
			if (s->state == 2)
				continue;
			if (s->state == 0 && (ev[k].events & EPOLLOUT)) {
				for (int rounds = 0; rounds < 16 && s->sent < bytes; rounds++) {
					uint64_t want = bytes - s->sent;
					if (want > sizeof(chunk))
						want = sizeof(chunk);
					ssize_t r = send(s->fd, chunk, (size_t)want, MSG_NOSIGNAL);
					if (r < 0)
						break;
					s->sent += (uint64_t)r;
				}
			}
			if (s->state == 0 && (s->sent >= bytes || now >= deadline)) {
				shutdown(s->fd, SHUT_WR);
				ep_mod(ep, s->fd, EPOLLIN, ev[k].data.u64);
				s->state = 1;
			}
			if (ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				ssize_t r = recv(s->fd, s->reply + s->len,
				                 sizeof(s->reply) - 1 - (size_t)s->len, 0);
				if (r > 0) {
					s->len += (int)r;
					s->reply[s->len] = 0;
					if (s->len >= (int)sizeof(s->reply) - 1)
						r = -1;
				}
				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					s->verified = r == 0 && s->state == 1 && s->len > 0 &&
					              strtoull(s->reply, NULL, 10) == s->sent;
					if (!s->verified)
						failed++;
					s->state = 2;
					s->t_done = now;
					epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
					close(s->fd);
					left--;
				}
			}
		}
		if (now >= deadline) /* a stream whose socket never got writable again */
			for (int i = 0; i < streams; i++)
				if (b[i].state == 0) {
					shutdown(b[i].fd, SHUT_WR);
					ep_mod(ep, b[i].fd, EPOLLIN, (uint64_t)i);
					b[i].state = 1;
				}
	}
	uint64_t total = 0, last = start;
	int verified = 0, stalled = 0;
	for (int i = 0; i < streams; i++) {
		total += b[i].sent;
		verified += b[i].verified;
		if (b[i].state != 2) {
			stalled++;
			close(b[i].fd);
		} else if (b[i].t_done > last) {
			last = b[i].t_done;
		}
	}
	if (stalled)
		last = now_us();
	double el = (double)(last - start) / 1e6;
	printf("bytes=%" PRIu64 " secs=%.3f gbps=%.3f streams=%d verified=%d failed=%d stalled=%d",
	       total, el, (double)total / el / 1e9, streams, verified, failed, stalled);
	watch_print(&w);
	putchar('\n');
	return 0;
}

/* ---- idle ---- */

static int cmd_idle(int argc, char **argv)
{
	const char *addr = NULL;
	int want = 5000;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			want = atoi(argv[++i]);
		else if (!addr)
			addr = argv[i];
		else
			die("usage: twbench idle ADDR [-n N]");
	}
	if (!addr || want < 1 || want > 100000)
		die("usage: twbench idle ADDR [-n N]");
	raise_nofile();
	catch_term();
	alarm(600);
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(addr, &ss);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	rslot_t *slot = calloc((size_t)want, sizeof(*slot));
	for (int i = 0; i < want; i++)
		slot[i].fd = -1;
	int next = 0, pending = 0, ready = 0, errors = 0;
	const int max_pending = 200;
	uint64_t start = now_us(), give_up = start + 60000000;
	struct epoll_event ev[MAX_EVENTS];
	while (ready + errors < want && now_us() < give_up && !g_stop) {
		while (pending < max_pending && next < want) {
			rslot_t *s = &slot[next];
			s->fd = connect_nb(&ss, sl);
			if (s->fd < 0) {
				errors++;
			} else {
				s->state = S_220;
				ep_add(ep, s->fd, EPOLLIN, (uint64_t)next);
				pending++;
			}
			next++;
		}
		int n = epoll_wait(ep, ev, MAX_EVENTS, 100);
		for (int k = 0; k < n; k++) {
			rslot_t *s = &slot[ev[k].data.u64];
			if (s->fd < 0 || s->state != S_220)
				continue;
			ssize_t r = recv(s->fd, s->buf + s->len,
			                 sizeof(s->buf) - 1 - (size_t)s->len, 0);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r > 0) {
				s->len += (int)r;
				s->buf[s->len] = 0;
				if (!strchr(s->buf, '\n'))
					continue;
				if (!strncmp(s->buf, "220", 3)) {
					/* held from now on; nothing more is expected */
					epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
					s->state = S_EOF;
					ready++;
					pending--;
					continue;
				}
			}
			errors++;
			pending--;
			rslot_close(ep, s);
		}
	}
	printf("ready open=%d errors=%d secs=%.3f\n", ready, errors,
	       (double)(now_us() - start) / 1e6);
	fflush(stdout);
	while (!g_stop)
		pause();
	for (int i = 0; i < want; i++)
		if (slot[i].fd >= 0)
			close(slot[i].fd);
	return 0;
}

/* ---- probe, snap ---- */

static int cmd_probe(int argc, char **argv)
{
	if (argc != 3)
		die("usage: twbench probe ADDR");
	struct sockaddr_storage ss;
	socklen_t sl = parse_addr(argv[2], &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return 1;
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	bool ok = n >= 3 && !memcmp(buf, "220", 3);
	if (ok && send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL) == 6)
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
	close(fd);
	return ok ? 0 : 1;
}

static long status_kb(int pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long v = 0;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

static long count_fds(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Kernel memory that sockets, their files and epoll entries take: slab caches
 * named here (active objects times object size), and TCP's buffer memory
 * from /proc/net/sockstat. dentry is counted because every socket file has
 * one, though other work on the machine moves it too; inode caches of real
 * file systems are left out.
 */
static bool slab_counted(const char *name)
{
	static const char *const exact[] = {"dentry",
	                                    "TCP",
	                                    "TCPv6",
	                                    "sock_inode_cache",
	                                    "filp",
	                                    "eventpoll_epi",
	                                    "eventpoll_pwq",
	                                    "pipe_inode_info",
	                                    "skbuff_head_cache",
	                                    "skbuff_small_head",
	                                    "skbuff_fclone_cache"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(name, exact[i]))
			return true;
	return !strncmp(name, "kmalloc-", 8) || !strncmp(name, "kmalloc-cg-", 11);
}

static int cmd_snap(int argc, char **argv)
{
	int pid = 0;
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = atoi(argv[++i]);
	long rss = 0, fds = 0, threads = 0;
	if (pid > 0) {
		pidset_t s = {0};
		collect_tree(pid, &s);
		for (int i = 0; i < s.n; i++) {
			rss += status_kb(s.v[i], "VmRSS");
			fds += count_fds(s.v[i]);
			threads += status_kb(s.v[i], "Threads");
		}
	}
	uint64_t slab = 0;
	FILE *f = fopen("/proc/slabinfo", "r");
	if (f) {
		char line[512], name[128];
		unsigned long active, num, size;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%127s %lu %lu %lu", name, &active, &num, &size) == 4 &&
			    slab_counted(name))
				slab += (uint64_t)active * size;
		fclose(f);
	}
	long tcp_mem = 0, tcp_inuse = 0, sockets = 0;
	f = fopen("/proc/net/sockstat", "r");
	if (f) {
		char line[256];
		while (fgets(line, sizeof(line), f)) {
			char *p;
			if (!strncmp(line, "sockets: used ", 14))
				sockets = atol(line + 14);
			if (!strncmp(line, "TCP: ", 5)) {
				if ((p = strstr(line, "inuse ")))
					tcp_inuse = atol(p + 6);
				if ((p = strstr(line, " mem ")))
					tcp_mem = atol(p + 5);
			}
		}
		fclose(f);
	}
	printf("rss_kb=%ld fds=%ld threads=%ld slab_bytes=%" PRIu64
	       " tcp_mem_pages=%ld tcp_inuse=%ld sockets=%ld\n",
	       rss, fds, threads, slab, tcp_mem, tcp_inuse, sockets);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: twbench serve|rate|bulk|idle|probe|snap ...");
	raise_nofile();
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc, argv);
	if (!strcmp(argv[1], "rate"))
		return cmd_rate(argc, argv);
	if (!strcmp(argv[1], "bulk"))
		return cmd_bulk(argc, argv);
	if (!strcmp(argv[1], "idle"))
		return cmd_idle(argc, argv);
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc, argv);
	if (!strcmp(argv[1], "snap"))
		return cmd_snap(argc, argv);
	die("unknown command \"%s\"", argv[1]);
}
