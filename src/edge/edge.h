/*
 * edge.h - the edge daemon's control thread: boot, reload, stop.
 *
 * The control thread loads the configuration, opens the listening sockets
 * (sockets.h), drops privileges (privs.h), starts one worker per core and
 * publishes route tables to them. It reloads on SIGHUP and when the
 * configuration file changes (inotify on its directory, debounced, so an
 * editor's write-and-rename is seen): a new table is built and validated,
 * then swapped in; an invalid file leaves the running table in place and
 * the error is logged with file and line. Keys that need a restart
 * (workers, user, state, admin.bind) are refused on reload. SIGTERM stops
 * accepting, lets connections drain up to timeouts.drain, then closes the
 * rest with end=shutdown.
 */
#ifndef TW_EDGE_EDGE_H
#define TW_EDGE_EDGE_H

#include "util/tw.h"

#include "edge/config.h"

typedef struct tw_edge_opts {
	const char *config_path; /* NULL in quick mode */
	tw_config_t *quick;      /* quick mode config (taken over), or NULL */
	bool no_splice;          /* force the read/write relay */
} tw_edge_opts_t;

/* Runs until stopped. Returns a process exit code (0, 2 bad config, 3 cannot listen). */
int tw_edge_run(const tw_edge_opts_t *o);

/* `--check [--probe]`: 0 valid (and reachable), 1 a backend unreachable or
 * misconfigured (probe), 2 invalid. Reports on out. */
int tw_edge_check(const char *path, tw_config_t *quick, bool probe, FILE *out);

#endif
