#include "util/tw.h"

/*
 * bans_health_lookup.c - the ban check of the accept path, alone: how long
 * tw_banset_check() takes for a client no ban covers, with no bans and with
 * the bench's ban list, and what the snapshot costs in memory. bench/bans_health
 * compiles it with the edge's own bans.c and cidr_trie.c (the end-to-end
 * connection rate cannot resolve a cost this small).
 *
 *   bans_health_lookup NETS_FILE ITERATIONS
 *
 * NETS_FILE: one CIDR a line (bans_health_util.py nets N). Prints one
 * key=value line per case (0 bans, then the file's).
 */
#include "edge/bans.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Times iters checks of one address against the snapshot. */
static void probe(const char *label, const tw_banset_t *set, const struct sockaddr *sa, long iters,
                  size_t n, size_t heap)
{
	int64_t t = (int64_t)time(NULL);
	size_t hits = 0;
	uint64_t t0 = now_ns();
	for (long i = 0; i < iters; i++)
		hits += tw_banset_check(set, sa, t) != NULL;
	uint64_t t1 = now_ns();
	printf("lookup bans=%zu client=%s ns=%.1f hits=%zu heap_bytes=%zu\n", n, label,
	       (double)(t1 - t0) / (double)iters, hits, heap);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bans_health_lookup NETS_FILE ITERATIONS\n");
		return 2;
	}
	long iters = atol(argv[2]);
	FILE *f = fopen(argv[1], "r");
	if (!f || iters <= 0) {
		fprintf(stderr, "bans_health_lookup: cannot read \"%s\"\n", argv[1]);
		return 2;
	}
	size_t cap = 1024, n = 0;
	tw_ban_t *v = calloc(cap, sizeof(*v));
	char line[128];
	while (v && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		if (n == cap) {
			tw_ban_t *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv)
				break;
			memset(nv + cap, 0, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		char err[128];
		if (tw_cidr_parse(line, &v[n].net, err, sizeof(err)) < 0) {
			fprintf(stderr, "bans_health_lookup: %s\n", err);
			return 2;
		}
		v[n].until = (int64_t)time(NULL) + 86400;
		v[n].repeat = 1;
		tw_strlcpy(v[n].source, "manual", sizeof(v[n].source));
		tw_strlcpy(v[n].reason, "bench", sizeof(v[n].reason));
		n++;
	}
	fclose(f);
	if (!v)
		return 2;

	struct sockaddr_in c4 = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &c4.sin_addr);
	struct sockaddr_in b4 = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.2", &b4.sin_addr); /* in the bench's list */
	struct sockaddr_in6 c6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "::1", &c6.sin6_addr);

	size_t counts[2] = {0, n};
	for (int k = 0; k < 2; k++) {
		struct mallinfo2 m0 = mallinfo2();
		/* allow: [] as in the bench config: every lookup goes to the ban trie */
		tw_banset_t *set = tw_banset_new(v, counts[k], NULL, 0);
		struct mallinfo2 m1 = mallinfo2();
		if (!set)
			return 2;
		size_t heap = (m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd);
		probe("127.0.0.1", set, (const struct sockaddr *)&c4, iters, counts[k], heap);
		probe("127.0.0.2", set, (const struct sockaddr *)&b4, iters, counts[k], heap);
		probe("::1", set, (const struct sockaddr *)&c6, iters, counts[k], heap);
		tw_banset_unref(set);
	}
	free(v);
	return 0;
}
