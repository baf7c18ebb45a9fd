/* pricing.h — what a request cost, from the `pricing` section (USD per
 * million tokens of each kind, per provider and model glob; the first
 * matching row wins). A model without a price counts its tokens only, and
 * `ccproxy usage` says so. */
#ifndef CCP_TEAMS_PRICING_H
#define CCP_TEAMS_PRICING_H

#include "config/config.h"

/* The price row for provider/model, or NULL when none is configured. */
const ccp_price *ccp_price_find(const ccp_config *c, const char *provider, const char *model);

/* USD for these token counts (negative counts: not reported, count 0). */
double ccp_price_cost(const ccp_price *p, int64_t input, int64_t output, int64_t cache_read,
                      int64_t cache_write);

#endif
