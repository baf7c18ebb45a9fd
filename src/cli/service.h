/* service.h — starting a background ccproxy, for `start`, `restart` and
 * `code` (cmd_service.c). */
#ifndef CCP_CLI_SERVICE_H
#define CCP_CLI_SERVICE_H

#include "cli/state.h"

#include <stdbool.h>

typedef struct ccp_service_opts {
    const char *config; /* --config; NULL: the usual lookup */
    const char *host;   /* serve's overrides; NULL / -1: the config's */
    int port;
    int workers;
    const char *log_level;
    int timeout_s; /* how long to wait for it to be ready */
} ccp_service_opts;

/* Starts `ccproxy serve` for st's config in the background (its own
 * session, output appended to st's log file) unless one runs already
 * (*was_running), and waits until it answers GET /health; fills info.
 * Returns 0, or 1 with the reason (and the daemon's log) on stderr. */
int ccp_service_start(const ccp_service_opts *o, const ccp_state *st, ccp_state_info *info,
                      bool *was_running);

/* Whether url's GET /health answers 200. */
bool ccp_service_healthy(const char *url);

#endif
