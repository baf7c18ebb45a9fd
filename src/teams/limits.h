/* limits.h — the rate limiters: token buckets refilled continuously, the
 * way Anthropic describes its own limits, with the clock passed in (tests
 * drive it; the proxy passes the monotonic time).
 *
 * A bucket of capacity C (per minute) holds up to C and refills C/60000
 * per millisecond. Requests per minute take 1 per request; tokens per
 * minute take the estimated input at admission and are reconciled with
 * what the provider reports at the end, so a long answer's output drains
 * the bucket after the fact (it may go below zero: the next requests wait
 * until it has refilled). No allocation, no locks: the caller holds its
 * own. */
#ifndef CCP_TEAMS_LIMITS_H
#define CCP_TEAMS_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_bucket {
    double level;  /* what may be taken now; < 0 after reconciliation overdrew it */
    int64_t at_ms; /* when level was last brought up to date */
    bool started;  /* false: full at the first use */
} ccp_bucket;

/* Brings b up to now_ms with capacity cap per minute. */
void ccp_bucket_refill(ccp_bucket *b, int64_t cap, int64_t now_ms);

/* Whether n may be taken now (after a refill): the level must reach n, or
 * the whole capacity for an n larger than it (such a request would never
 * fit otherwise; it waits for a full bucket instead). */
bool ccp_bucket_allows(const ccp_bucket *b, int64_t cap, int64_t n);

/* Takes n (the level may go below zero). */
void ccp_bucket_take(ccp_bucket *b, double n);

/* Gives back n (an overestimate reconciled), capped at cap. */
void ccp_bucket_give(ccp_bucket *b, int64_t cap, double n);

/* Milliseconds until n may be taken (0: now). */
int64_t ccp_bucket_wait_ms(const ccp_bucket *b, int64_t cap, int64_t n);

/* Milliseconds until the bucket is full again. */
int64_t ccp_bucket_full_ms(const ccp_bucket *b, int64_t cap);

/* What remains, rounded down, never below 0. */
int64_t ccp_bucket_remaining(const ccp_bucket *b);

#endif
