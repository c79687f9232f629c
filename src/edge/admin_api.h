/*
 * admin_api.h - what the admin plane answers: /healthz, /readyz, /metrics,
 * /api/v1/..., and the HTML status page. Runs on the control loop (called
 * from the handler given to tw_admin_start), reading the control thread's
 * state and the workers' atomic counters.
 */
#ifndef TW_EDGE_ADMIN_API_H
#define TW_EDGE_ADMIN_API_H

#include "util/tw.h"

#include "edge/admin.h"
#include "edge/banmgr.h"
#include "edge/hsched.h"
#include "edge/route.h"
#include "edge/worker.h"

typedef struct tw_edge_view {
	tw_routes_t *routes;
	tw_hsched_t *hs;
	tw_worker_t **workers;
	int n_workers;
	uint64_t generation, reloads, reload_failures;
	int64_t started_at; /* unix seconds */
	/* Actions; return 0 or a negative error with msg set. */
	int (*reload)(void *ctl, char *msg, size_t size);
	void *ctl;
	tw_banmgr_t *bans; /* NULL in quick mode */
} tw_edge_view_t;

void tw_admin_api_handle(const tw_edge_view_t *v, const tw_admin_req_t *req, tw_admin_resp_t *resp);

#endif
