/* pricing.c — request cost from the pricing table (see pricing.h). */
#include "teams/pricing.h"

#include <fnmatch.h>
#include <string.h>

const ccp_price *ccp_price_find(const ccp_config *c, const char *provider, const char *model)
{
    if (!provider || !model) return NULL;
    for (size_t i = 0; i < c->n_prices; i++)
        if (!strcmp(c->prices[i].provider, provider) && !fnmatch(c->prices[i].model, model, 0))
            return &c->prices[i];
    return NULL;
}

static double n(int64_t v)
{
    return v > 0 ? (double)v : 0.0;
}

double ccp_price_cost(const ccp_price *p, int64_t input, int64_t output, int64_t cache_read,
                      int64_t cache_write)
{
    return (n(input) * p->input + n(output) * p->output + n(cache_read) * p->cache_read +
            n(cache_write) * p->cache_write) /
           1e6;
}
