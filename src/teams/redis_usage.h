/* redis_usage.h — usage counters in Redis (state.redis), summed over every
 * instance. The layout, one day (UTC) at a time:
 *
 *   ccp:usage:DAY           a set of the day's row names
 *   ccp:usage:DAY:ROW       a hash of the row's counters: requests,
 *                           input_tokens, output_tokens, cache_read_tokens,
 *                           cache_write_tokens, spend_usd, unpriced
 *
 * where DAY is "2026-12-01" and ROW is "KEY_ID:TENANT:PROVIDER:MODEL",
 * each part escaped ('%' as %25, ':' as %3A; no tenant: empty), so a row
 * name always splits back into the parts it was made of. Both expire
 * CCP_REDIS_USAGE_TTL_DAYS after their last write.
 *
 * The state thread adds to them (redis_push.h, exactly once per request);
 * `ccproxy usage` reads them. */
#ifndef CCP_TEAMS_REDIS_USAGE_H
#define CCP_TEAMS_REDIS_USAGE_H

#include "core/buf.h"
#include "core/error.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CCP_REDIS_USAGE_TTL_DAYS 400

/* Appends the row name of (key_id, tenant, provider, model) to out; NULL
 * counts as empty. */
void ccp_redis_usage_row(ccp_buf *out, const char *key_id, const char *tenant, const char *provider,
                         const char *model);

/* Splits a row name into its four parts (malloc'd, the caller frees each).
 * False, and nothing allocated, when row is not a row name. */
bool ccp_redis_usage_split(const char *row, char *parts[4]);

/* One row's totals. */
typedef struct ccp_usage_total {
    char day[16];
    char *key_id, *tenant, *provider, *model; /* owned; tenant "" when none */
    int64_t requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens;
    int64_t unpriced;
    double spend_usd;
} ccp_usage_total;

/* Every row of the days from `from` (Unix time, any time of that UTC day)
 * to today. *out is the caller's (ccp_usage_totals_free). */
int ccp_redis_usage_read(redisContext *c, time_t from, ccp_usage_total **out, size_t *n,
                         ccp_error *err);

void ccp_usage_totals_free(ccp_usage_total *t, size_t n);

#endif
