/* pstatus.h — what the proxy knows about each provider's health, for
 * GET /ready and GET /status.
 *
 * Every upstream attempt that ends records its outcome here (from
 * http/messages.c, on whichever worker ran it); the endpoints read it from
 * any worker. One table per process, created from the config's providers
 * and guarded by one mutex: a record is a few stores, done once per
 * attempt, so the lock is never contended long. */
#ifndef CCP_OBS_PSTATUS_H
#define CCP_OBS_PSTATUS_H

#include "config/config.h"
#include "core/buf.h"
#include "exchange/health.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_pstatus ccp_pstatus;

/* A table with one entry per provider of cfg (names copied); breakers is
 * the exchange's registry of circuit breakers (may be NULL: all closed),
 * borrowed for the table's life. Free with ccp_pstatus_free. */
ccp_pstatus *ccp_pstatus_new(const ccp_config *cfg, ccp_health *breakers);
void ccp_pstatus_free(ccp_pstatus *h);

/* Records how an attempt at provider ended: result 0 and a 2xx status is
 * a success; otherwise error (may be NULL) says what went wrong. A
 * provider not in the table (NULL h too) is ignored. Any thread. */
void ccp_pstatus_record(ccp_pstatus *h, const char *provider, int result, int status,
                        const char *error);

/* The state of p's circuit breaker (src/exchange/breaker.c): "closed",
 * "open" or "half_open". */
const char *ccp_pstatus_breaker_state(const ccp_pstatus *h, const ccp_provider *p);

/* True when some route of cfg (router.default, a stage's, a rule's) has a
 * target whose breaker is not open: some request could be served. False
 * when no provider is configured at all. */
bool ccp_pstatus_can_serve(const ccp_pstatus *h, const ccp_config *cfg);

/* Appends a JSON object keyed by provider name: for each, "configured",
 * "format", "breaker", "successes", "failures", and, once an attempt has
 * ended, "last_result" {ok, status, at} and "last_error" {message, at}
 * (times as RFC 3339 UTC). */
void ccp_pstatus_write_json(const ccp_pstatus *h, const ccp_config *cfg, ccp_buf *out);

#endif
