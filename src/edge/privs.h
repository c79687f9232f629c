/*
 * privs.h - giving up root after the listening sockets are open.
 *
 * The process switches to `user` (its primary group and supplementary
 * groups) and keeps exactly one capability, CAP_NET_BIND_SERVICE, in its
 * permitted, effective, inheritable and ambient sets, so a reload can still
 * open port 25 or 443. Call it before any thread is started: capabilities
 * are per thread, and threads created later inherit the caller's.
 */
#ifndef TW_EDGE_PRIVS_H
#define TW_EDGE_PRIVS_H

#include "util/tw.h"

/* Returns 0 or -errno with err set ("user \"mail\" does not exist"). */
int tw_privs_drop(const char *user, char *err, size_t errlen);

#endif
