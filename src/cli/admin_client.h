/* admin_client.h - the CLI's calls to a running edge's admin plane (libcurl). */
#ifndef TW_CLI_ADMIN_CLIENT_H
#define TW_CLI_ADMIN_CLIENT_H

#include "util/tw.h"

#include "edge/config.h"

/*
 * method + path to the edge configured by cfg (admin.bind, admin.token).
 * Returns the HTTP status, or -1 when the edge can't be reached (err set).
 * *body (may be NULL) gets the malloc'd response body.
 */
int tw_admin_call(const tw_config_t *cfg, const char *method, const char *path, const char *json,
                  char **body, char *err, size_t errlen);

#endif
