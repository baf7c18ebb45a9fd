/* redis_store.h — limits shared by several ccproxy instances through one
 * Redis (state.redis), one asynchronous hiredis connection per worker loop
 * (hiredis's libuv adapter), so a round trip never blocks a loop.
 *
 * Admission runs one Lua script (EVALSHA, EVAL when Redis does not know it
 * yet) that refills the buckets of the key and of its tenant by Redis's
 * own clock, checks their requests in flight, tokens and budgets, and
 * takes from all of them or from none — atomically, so two instances never
 * both take the last request. The end of a request gives the in-flight
 * counts back (DECR), reconciles the tpm buckets and adds the spend. */
#ifndef CCP_TEAMS_REDIS_STORE_H
#define CCP_TEAMS_REDIS_STORE_H

#include "core/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct ccp_redis ccp_redis;

/* Parses "redis://[[USER]:PASSWORD@]host[:port][/db]" (the credentials
 * skipped: see ccp_redis_url_userinfo); false when malformed. */
bool ccp_redis_parse_url(const char *url, char *host, size_t cap, int *port, int *db);

/* Splits "redis://[[USER]:PASSWORD@]rest" into user and password ("" when
 * absent) and "redis://rest" in plain. False when a part does not fit or
 * the user has no password. The caller wipes pass when done. */
bool ccp_redis_url_userinfo(const char *url, char *plain, size_t cap, char *user, size_t ucap,
                            char *pass, size_t pcap);

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
    bool tenant;       /* refused: by the tenant's limit; admitted: remaining is the tenant's */
    int64_t wait_ms;   /* refused: when to try again */
    int64_t remaining; /* admitted: requests left in the bucket; -1 when no rpm limit */
} ccp_redis_verdict;

typedef void (*ccp_redis_admit_cb)(void *ud, const ccp_redis_verdict *v);

/* A key's or a tenant's budget as Redis counts it: spend per period
 * ("2026-11-30" or "2026-11"), started from seed_usd (the state file's)
 * when Redis has no count for the period yet. */
typedef struct ccp_redis_budget {
    double usd, seed_usd; /* usd 0: no budget */
    char period[12];
    int64_t left_ms; /* until the period ends: the 429's wait */
} ccp_redis_budget;

/* The shared limits of one holder (a key or a tenant); 0: none. */
typedef struct ccp_redis_limits {
    const char *id; /* the key's id, or the tenant's name */
    int64_t rpm, concurrency, tpm;
    ccp_redis_budget budget;
} ccp_redis_limits;

/* A request's lease: the name its hold on the requests in flight of its
 * key and tenant has in Redis, unique across instances (a random prefix
 * per connection, then a count); what ccp_redis_release gives back. */
#define CCP_REDIS_LEASE_MAX 40
void ccp_redis_lease(ccp_redis *r, char out[CCP_REDIS_LEASE_MAX]);

/* Asks Redis, in one round trip, to admit one request of est_tokens under
 * key's limits and, unless tenant is NULL, its tenant's: nothing is taken
 * unless every limit of both allows it. A limit on requests in flight
 * holds lease (ccp_redis_lease) for at most an hour. cb runs once, on the
 * loop, possibly before this returns (when there is no connection). */
void ccp_redis_admit(ccp_redis *r, const ccp_redis_limits *key, const ccp_redis_limits *tenant,
                     int64_t est_tokens, const char *lease, ccp_redis_admit_cb cb, void *ud);

/* The end of a request, fire and forget, for the key id (tenant false) or
 * the tenant named id (tenant true). */

/* Adds a finished request's spend to id's count for period. */
void ccp_redis_spend(ccp_redis *r, const char *id, bool tenant, const char *period, double usd);

/* Reconciliation: gives back to id's tpm bucket the estimate minus what
 * the request used (back < 0 takes more). */
void ccp_redis_tokens_back(ccp_redis *r, const char *id, bool tenant, int64_t tpm, int64_t back);

/* Gives back id's request in flight held by lease (gone already: nothing). */
void ccp_redis_release(ccp_redis *r, const char *id, bool tenant, const char *lease);

/* Failures seen (unreachable, errors), all workers: for /metrics. */
uint64_t ccp_redis_failures(void);

#endif
