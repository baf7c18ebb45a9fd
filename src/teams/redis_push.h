/* redis_push.h — how the state thread gets usage and audit rows into
 * Redis (state.redis) exactly once, whatever fails on the way.
 *
 * The outbox: every row the state thread writes to the state file (in the
 * same transaction) is also put in the file's table redis_outbox — on
 * disk, so rows waiting for an unreachable Redis survive a restart. At
 * most CCP_REDIS_OUTBOX_MAX rows wait; beyond that, rows are kept in the
 * state file only (usage and audit tables) and the log says how many.
 *
 * The push, after each batch and every state.flush_ms while rows wait:
 * inside one SQLite write transaction (so instances sharing a state file
 * take turns), the oldest 500 rows go to Redis in one Lua script, which
 * adds their usage (redis_usage.h), appends their audit entries to the
 * stream if its head is still the one their hashes were computed from
 * (redis_audit.h), and sets a marker named by the first row's random uid
 * holding the number of rows applied — all or nothing. Then the rows are
 * deleted and the transaction commits. If the reply is lost, or the
 * process dies before the commit, the rows are sent again and the
 * script, finding the marker, applies nothing and says how many rows it
 * had applied, which are then deleted. The marker is deleted once the
 * rows are (it expires after 7 days anyway). */
#ifndef CCP_TEAMS_REDIS_PUSH_H
#define CCP_TEAMS_REDIS_PUSH_H

#include "core/error.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define CCP_REDIS_OUTBOX_MAX 1000000
#define CCP_REDIS_PUSH_ROWS 500

typedef struct ccp_redis_push ccp_redis_push;

/* Makes the outbox table in db (if missing) and prepares its insert; url
 * is state.redis. *out is the caller's (ccp_redis_push_free, before db is
 * closed). */
int ccp_redis_push_new(sqlite3 *db, const char *url, ccp_redis_push **out, ccp_error *err);
void ccp_redis_push_free(ccp_redis_push *p);

/* A finished request's usage, for the outbox. */
typedef struct ccp_outbox_usage {
    const char *day; /* "2026-12-01" (UTC) */
    const char *key_id, *tenant, *provider, *model;
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    double spend_usd;
    bool unpriced;
} ccp_outbox_usage;

/* Puts one audit row (and its usage; u NULL: none) in the outbox, inside
 * the caller's transaction. */
int ccp_redis_outbox_add(ccp_redis_push *p, int64_t time_ms, const char *kind, const char *data,
                         const ccp_outbox_usage *u, ccp_error *err);

/* Puts an audit row written outside the state thread (`ccproxy keys`,
 * a proxy's config.load: ccp_audit_append_in_tx) in the file's outbox, if
 * it has one — a proxy with state.redis made it — so that the next push
 * of any proxy on this file takes it to the stream. Inside the caller's
 * transaction; nothing when the file has no outbox. */
int ccp_redis_outbox_mirror(sqlite3 *db, int64_t time_ms, const char *kind, const char *data,
                            ccp_error *err);

/* Pushes what waits, CCP_REDIS_PUSH_ROWS rows a script, until the outbox
 * is empty or Redis fails (the rows then wait for the next call; the
 * connection is retried at most once a second). Returns the rows pushed. */
int64_t ccp_redis_push_run(ccp_redis_push *p);

/* Rows dropped because the outbox was full (since start). */
uint64_t ccp_redis_push_dropped(const ccp_redis_push *p);

/* Tests: the next script's reply is thrown away as if the connection had
 * failed after Redis ran it (the case the batch markers are for). */
void ccp_redis_push_lose_next_reply(ccp_redis_push *p);

#endif
