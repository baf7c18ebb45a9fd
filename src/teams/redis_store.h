/* redis_store.h — limits shared by several ccproxy instances through one
 * Redis (state.redis), one asynchronous hiredis connection per worker loop
 * (hiredis's libuv adapter), so a round trip never blocks a loop.
 *
 * Admission runs one Lua script (EVALSHA, EVAL when Redis does not know it
 * yet) that refills the key's requests-per-minute bucket by Redis's own
 * clock, checks its requests in flight, and takes one of each — atomically,
 * so two instances never both take the last request. The end of a request
 * gives its in-flight count back (DECR). */
#ifndef CCP_TEAMS_REDIS_STORE_H
#define CCP_TEAMS_REDIS_STORE_H

#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct ccp_redis ccp_redis;

/* Parses "redis://host[:port][/db]"; false when malformed. */
bool ccp_redis_parse_url(const char *url, char *host, size_t cap, int *port, int *db);

/* A connection for the worker whose loop is loop (connected lazily, and
 * again after a failure, at most once a second). Owned by the caller. */
ccp_redis *ccp_redis_new(uv_loop_t *loop, const char *url);

/* Closes the connection; pending admissions are answered as unreachable. */
void ccp_redis_free(ccp_redis *r);

/* What the script said. */
typedef struct ccp_redis_verdict {
    int result;        /* 0 admitted, 1 refused, -1 Redis unreachable or failed */
    bool concurrency;  /* refused for requests in flight */
    bool tokens;       /* refused for tokens per minute */
    bool budget;       /* refused for the budget (none of these: for rpm) */
    int64_t wait_ms;   /* refused: when to try again */
    int64_t remaining; /* admitted: requests left in the bucket; -1 when no rpm limit */
} ccp_redis_verdict;

typedef void (*ccp_redis_admit_cb)(void *ud, const ccp_redis_verdict *v);

/* A key's budget as Redis counts it: spend per period ("2026-11-30" or
 * "2026-11"), started from seed_usd (the state file's) when Redis has no
 * count for the period yet. */
typedef struct ccp_redis_budget {
    double usd, seed_usd;
    char period[12];
    int64_t left_ms; /* until the period ends: the 429's wait */
} ccp_redis_budget;

/* Asks Redis to admit one request of key_id under rpm, concurrency and
 * tpm (0: none) and budget b (NULL: none), taking est_tokens from the tpm
 * bucket. cb runs once, on the loop, possibly before this returns (when
 * there is no connection). */
void ccp_redis_admit(ccp_redis *r, const char *key_id, int64_t rpm, int64_t concurrency,
                     int64_t tpm, int64_t est_tokens, const ccp_redis_budget *b,
                     ccp_redis_admit_cb cb, void *ud);

/* Adds a finished request's spend to key_id's count for period. */
void ccp_redis_spend(ccp_redis *r, const char *key_id, const char *period, double usd);

/* Reconciliation at a request's end: gives back to key_id's tpm bucket
 * the estimate minus what it used (back < 0 takes more). Fire and forget. */
void ccp_redis_tokens_back(ccp_redis *r, const char *key_id, int64_t tpm, int64_t back);

/* Gives back key_id's request in flight (fire and forget). */
void ccp_redis_release(ccp_redis *r, const char *key_id);

/* Failures seen (unreachable, errors), all workers: for /metrics. */
uint64_t ccp_redis_failures(void);

#endif
