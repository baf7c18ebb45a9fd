/* health.h — what the proxy knows about each provider's health, for
 * GET /ready and GET /status.
 *
 * Every upstream attempt that ends records its outcome here (from
 * http/messages.c, on whichever worker ran it); the endpoints read it from
 * any worker. One table per process, created from the config's providers
 * and guarded by one mutex: a record is a few stores, done once per
 * attempt, so the lock is never contended long. */
#ifndef CCP_OBS_HEALTH_H
#define CCP_OBS_HEALTH_H

#include "config/config.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_health ccp_health;

/* A table with one entry per provider of cfg (names copied). Free with
 * ccp_health_free. */
ccp_health *ccp_health_new(const ccp_config *cfg);
void ccp_health_free(ccp_health *h);

/* Records how an attempt at provider ended: result 0 and a 2xx status is
 * a success; otherwise error (may be NULL) says what went wrong. A
 * provider not in the table (NULL h too) is ignored. Any thread. */
void ccp_health_record(ccp_health *h, const char *provider, int result, int status,
                       const char *error);

/* The state of provider's circuit breaker: "closed", "open" or
 * "half_open". HOOK: there are no breakers yet, so every provider is
 * "closed"; the breakers (src/exchange/) answer here when they land, and
 * /ready and /status follow. */
const char *ccp_health_breaker_state(const ccp_health *h, const char *provider);

/* True when some route of cfg (router.default, a stage's, a rule's) has a
 * target whose breaker is not open: some request could be served. False
 * when no provider is configured at all. */
bool ccp_health_can_serve(const ccp_health *h, const ccp_config *cfg);

/* Appends a JSON object keyed by provider name: for each, "configured",
 * "format", "breaker", "successes", "failures", and, once an attempt has
 * ended, "last_result" {ok, status, at} and "last_error" {message, at}
 * (times as RFC 3339 UTC). */
void ccp_health_write_json(const ccp_health *h, const ccp_config *cfg, ccp_buf *out);

#endif
