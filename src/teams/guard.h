/* guard.h — the proxy-key check and the per-key limits on the request
 * path, and the state thread that keeps them in step with the state file.
 *
 * Every key is held in memory (a hash table on the key's SHA-256), so
 * admitting a request is a hash, a lookup and a few bucket sums under one
 * mutex: microseconds, no I/O. What must reach the disk (last-used times,
 * usage, audit rows) is queued for the state thread, which writes it in one
 * transaction per state.flush_ms, and which every state.poll_ms looks at
 * SQLite's data_version to pick up keys that `ccproxy keys` changed (with
 * state.redis, at the keys' version in Redis instead: redis_keys.h). A
 * slow disk or Redis therefore slows that thread, never a stream. */
#ifndef CCP_TEAMS_GUARD_H
#define CCP_TEAMS_GUARD_H

#include "config/config.h"
#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ccp_guard ccp_guard;
typedef struct ccp_gkey ccp_gkey;
typedef struct ccp_gtenant ccp_gtenant;

/* Opens the state file named by cfg->state, loads the keys and starts the
 * state thread. *out is the caller's (ccp_guard_free). */
int ccp_guard_new(const ccp_config *cfg, ccp_guard **out, ccp_error *err);

/* After a reload: state.poll_ms and state.flush_ms of cfg take effect. */
void ccp_guard_set_timing(ccp_guard *g, const ccp_config *cfg);

/* Queues the audit row of a config event: action "reload" (config.reload)
 * or "load" (config.load), naming cfg's file and hash. Any thread. */
void ccp_guard_audit_config(ccp_guard *g, const ccp_config *cfg, const char *action);

/* Writes what is queued, stops the thread, closes the file. NULL is fine. */
void ccp_guard_free(ccp_guard *g);

/* A tenant's limits counted in Redis (state.redis) for one request, and
 * what Redis holds of it, to give back at the end. */
typedef struct ccp_guard_shared {
    int64_t rpm, concurrency, tpm; /* 0: none */
    double budget, seed;           /* budget 0: none; seed: the state file's spend */
    int budget_period;
    char period[12];
    int64_t left_ms;
    bool held;   /* a request in flight counted in Redis */
    bool tokens; /* est_tokens taken from Redis's tpm bucket */
    bool spend;  /* admitted by Redis: the spend goes there at the end */
} ccp_guard_shared;

/* An admitted request's hold on its key: its concurrency slot and its
 * token estimate, until ccp_guard_end. Zeroed: holds nothing. */
typedef struct ccp_guard_ticket {
    ccp_gkey *key;           /* NULL: nothing held */
    ccp_gtenant *tenant;     /* the key's tenant's counters, when it has limits; else NULL */
    const char *tenant_name; /* of a tenant in the config (lives as long as the guard) */
    int64_t tenant_caps[3];  /* its rpm, tpm, concurrency at admission */
    double tenant_budget;
    int tenant_period;
    int64_t est_tokens;
    /* The key's shared limits (state.redis) and whether Redis holds one of
     * its requests in flight, to give back at the end. */
    char key_id[24];
    int64_t shared_rpm, shared_concurrency, shared_tpm;
    bool shared_held;   /* a request in flight counted in Redis */
    bool shared_tokens; /* est_tokens taken from Redis's tpm bucket */
    /* The key's budget, counted in Redis: 0 none; its period ("2026-11"),
     * the spend to start from (the state file's) and the ms left. */
    double shared_budget, shared_seed;
    int shared_budget_period;
    char shared_period[12];
    char shared_lease[40]; /* the hold's name in Redis (ccp_redis_lease), key's and tenant's */
    int64_t shared_left_ms;
    bool shared_spend; /* admitted by Redis: the spend goes there at the end */
    bool refused;      /* refused after the local admission: audited as a refusal */
    char reason[200];  /* refused: why (the message the client got) */
    ccp_route view;    /* the route cut down to the tenant's providers; targets owned */
    int status;        /* the HTTP status the client got (set by the caller) */
    /* The tenant's shared limits (state.redis): checked and taken in the
     * same Redis script as the key's; tenant_name names it there. */
    ccp_guard_shared tenant_shared;
} ccp_guard_ticket;

/* What admission decided, and the limit headers to send either way. */
typedef struct ccp_guard_verdict {
    int status;       /* 0: admitted; else 401, 403 or 429 */
    const char *type; /* the Anthropic error type when refused */
    char message[256];
    int64_t retry_after_ms; /* 429: when to try again */
    /* anthropic-ratelimit-* values; limit 0: the key has no such limit */
    int64_t req_limit, req_remaining, req_reset_ms;
    int64_t tok_limit, tok_remaining, tok_reset_ms;
} ccp_guard_verdict;

/* Checks the key secret (len bytes; NULL: none sent) for model with an
 * input estimate of est_tokens at monotonic time now_ms, with the key's
 * tenant as cfg's tenants section says. Admitted: t holds the key's (and
 * its tenant's) slot. Refused: an audit row "request.refused" (metadata
 * and the reason; request_id may be NULL) is queued. */
void ccp_guard_admit(ccp_guard *g, const ccp_config *cfg, const char *secret, size_t len,
                     const char *model, int64_t est_tokens, int64_t now_ms, const char *request_id,
                     ccp_guard_ticket *t, ccp_guard_verdict *v);

/* Only checks that secret is a valid key (known, not revoked, not
 * expired), for the endpoints that use no limits (count_tokens, models);
 * v->status 0: valid. A refusal is audited as in ccp_guard_admit, with
 * endpoint as its path. */
void ccp_guard_check(ccp_guard *g, const char *secret, size_t len, const char *endpoint,
                     const char *request_id, ccp_guard_verdict *v);

/* What a finished request used, for reconciliation, usage and audit.
 * Token counts < 0: not reported. Strings are copied. */
typedef struct ccp_guard_usage {
    const char *request_id;
    const char *provider; /* NULL: none was reached */
    const char *model;    /* the model asked of the provider (or the client's) */
    const char *stage;
    int status;
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    bool refused;       /* refused after admission (shared limit, tenant route) */
    const char *reason; /* refused: why, for the audit row (no usage row is written) */
    double spend_usd;   /* from the pricing table */
    bool priced;        /* false: the model has no price; tokens are counted only */
} ccp_guard_usage;

/* Releases t's hold, reconciles its token estimate with u and queues the
 * usage and audit rows. Does nothing for an empty ticket. */
void ccp_guard_end(ccp_guard *g, ccp_guard_ticket *t, const ccp_guard_usage *u, int64_t now_ms);

/* Whether some key has a tokens-per-minute limit (the request's token
 * estimate is only worth making then). */
bool ccp_guard_needs_estimate(ccp_guard *g);

/* Has the state thread load the keys again now (from Redis with
 * state.redis, else from the state file) and waits until it has: after an
 * admin endpoint changed them (http/admin_keys.c), the proxy serves the
 * change at once rather than at the next state.poll_ms. Blocks: call it
 * off the worker loops. */
void ccp_guard_reload_keys(ccp_guard *g);

/* Waits until everything queued so far is written (tests, shutdown). */
void ccp_guard_flush(ccp_guard *g);

/* The tokens a request counts against tokens per minute: input, cache
 * writes and output (cache reads are not counted, as Anthropic does not
 * count them against its input limits). */
int64_t ccp_guard_counted_tokens(const ccp_guard_usage *u);

#endif
