/* health.h — what the process knows about each provider's health: its
 * circuit breaker and the state of its keys, shared by every worker
 * thread.
 *
 * Why a registry of its own and not state in the config: the config
 * snapshot is immutable and replaced whole on reload, but a provider that
 * was failing a second before a reload is failing still, and a key the
 * provider refused stays refused. So the app owns one ccp_health for the
 * life of the process (http/app.h), keyed by provider name; each entry has
 * its own mutex (attempts are few per second per provider, and each holds
 * it for a few comparisons), and the settings come from the request's own
 * config snapshot at each call. A provider whose key list changed (a
 * reload) gets a fresh key pool, found by a hash of its keys that is never
 * shown. */
#ifndef CCP_EXCHANGE_HEALTH_H
#define CCP_EXCHANGE_HEALTH_H

#include "config/config.h"
#include "exchange/breaker.h"
#include "exchange/keypool.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_health ccp_health;
typedef struct ccp_provider_health ccp_provider_health;

/* An empty registry (caller owns; ccp_health_free when no thread uses it). */
ccp_health *ccp_health_new(void);
void ccp_health_free(ccp_health *h);

/* The entry of provider p, made on first use; valid as long as h. */
ccp_provider_health *ccp_health_of(ccp_health *h, const ccp_provider *p);

/* The breaker (breaker.h), under the entry's lock. admit fills *retry_in
 * (ms until probes) when it refuses. record returns true when the outcome
 * opened the breaker. */
bool ccp_health_admit(ccp_provider_health *ph, const ccp_provider *p, uint64_t now, bool *probe,
                      uint64_t *retry_in);
bool ccp_health_record(ccp_provider_health *ph, const ccp_provider *p, uint64_t now,
                       ccp_health_outcome o, bool probe);
ccp_breaker ccp_health_breaker(ccp_provider_health *ph); /* a copy, for status and tests */

/* The key pool (keypool.h) of p's keys, under the entry's lock. */
ccp_key_pick ccp_health_pick_key(ccp_provider_health *ph, const ccp_provider *p, uint64_t now,
                                 int avoid);
void ccp_health_rest_key(ccp_provider_health *ph, const ccp_provider *p, size_t i, uint64_t until);
bool ccp_health_park_key(ccp_provider_health *ph, const ccp_provider *p, size_t i);

/* Monotonic milliseconds: the clock every caller of this module uses. */
uint64_t ccp_health_now_ms(void);

#endif
