/* breaker.h — a provider's circuit breaker, as a state machine.
 *
 *   closed ──(N consecutive failures, or failure_percent of the attempts
 *             in the window once min_requests were made)──▶ open
 *   open ──(cooldown_ms later)──▶ half-open
 *   half-open: up to half_open_probes attempts at once are let through;
 *             the first to succeed closes it, the first to fail opens it
 *             again for another cool-down.
 *
 * No clock and no lock of its own: the caller passes the time (monotonic
 * milliseconds) and holds the lock (exchange/health.c), so the tests drive
 * it with a fake clock. A failure is what says the provider is unwell: a
 * transport error, a timeout, 5xx, 529. A 4xx (429 included: the key pool
 * handles rate limits) says it is alive. */
#ifndef CCP_EXCHANGE_BREAKER_H
#define CCP_EXCHANGE_BREAKER_H

#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CCP_BREAKER_CLOSED,
    CCP_BREAKER_OPEN,
    CCP_BREAKER_HALF_OPEN,
} ccp_breaker_state;

typedef enum {
    CCP_HEALTH_OK,      /* the provider answered (2xx, or a 4xx it meant) */
    CCP_HEALTH_FAIL,    /* it is unwell */
    CCP_HEALTH_NEUTRAL, /* the attempt was abandoned (the client left) */
} ccp_health_outcome;

typedef struct ccp_breaker {
    ccp_breaker_state state;
    uint32_t consecutive;   /* failures in a row */
    uint64_t window_start;  /* of the failure-percentage window */
    uint32_t window_total;  /* attempts ended in it */
    uint32_t window_failed; /* failures among them */
    uint64_t opened_at;     /* when it last opened */
    uint32_t probes;        /* half-open attempts in flight */
    uint32_t opened;        /* times it has opened (for logs and metrics) */
} ccp_breaker;

/* Whether an attempt may go to the provider now. Moves open → half-open
 * once the cool-down is over. *probe is set when the attempt is a
 * half-open probe: its outcome must be recorded (or recorded NEUTRAL when
 * abandoned) to free its slot. A disabled breaker (failures and
 * failure_percent both 0) always allows. */
bool ccp_breaker_allow(ccp_breaker *b, const ccp_breaker_config *c, uint64_t now, bool *probe);

/* Records how an allowed attempt ended. Returns true when this outcome
 * opened the breaker (for the log). */
bool ccp_breaker_record(ccp_breaker *b, const ccp_breaker_config *c, uint64_t now,
                        ccp_health_outcome o, bool probe);

/* Milliseconds until an open breaker lets probes through; 0 otherwise. */
uint64_t ccp_breaker_retry_in(const ccp_breaker *b, const ccp_breaker_config *c, uint64_t now);

const char *ccp_breaker_state_name(ccp_breaker_state s);

#endif
