/* config_reliability.c — a provider's reliability settings: `retry`,
 * `breaker` and `api_keys`.
 *
 * The rows here are the whole declaration of those keys (bounds, defaults,
 * help); the loader fills ccp_provider.retry / .breaker / .keys from them,
 * and the reference in docs/configuration.md is written from them. The
 * runtime that reads them lives in src/exchange/ (retry.c, breaker.c,
 * keypool.c). */
#include "config/config.h"

#include "config/config_internal.h"
#include "core/alloc.h"

#include <stddef.h>
#include <string.h>

static const char *const jitters[] = {"full", "none", NULL}; /* ccp_jitter's order */

#define RT(f) offsetof(ccp_retry_config, f)
static const ccp_key retry_keys[] = {
    {.name = "attempts",
     .type = CCP_KEY_INT,
     .offset = RT(attempts),
     .def = "3",
     .min = 1,
     .max = 20,
     .help = "tries of this provider per request, the first included (`1` = no retry). A retry "
             "follows a connect error, a timeout before the answer's head, `408`, `409`, `429`, "
             "`500`, `502`, `503`, `504`, `529`, or a stream that broke before anything reached "
             "the client; never once a byte has"},
    {.name = "base_ms",
     .type = CCP_KEY_MS,
     .offset = RT(base_ms),
     .def = "500",
     .min = 1,
     .max = MS_MAX,
     .help = "the ceiling of the first backoff; it doubles with each retry"},
    {.name = "max_ms",
     .type = CCP_KEY_MS,
     .offset = RT(max_ms),
     .def = "8000",
     .min = 1,
     .max = MS_MAX,
     .help = "the largest backoff ceiling"},
    {.name = "jitter",
     .type = CCP_KEY_ENUM,
     .offset = RT(jitter),
     .def = "full",
     .choices = jitters,
     .help = "`full`: each wait is drawn uniformly from 0 to the ceiling (so many clients do not "
             "retry in step); `none`: the ceiling itself"},
    {.name = "max_wait_ms",
     .type = CCP_KEY_MS,
     .offset = RT(max_wait_ms),
     .def = "60000",
     .max = MS_MAX,
     .help = "the longest wait a provider's hint (`retry-after`, `retry-after-ms`, "
             "`x-ratelimit-reset-*`, Gemini's `RetryInfo`) may ask for: a hint up to this is "
             "waited out instead of the backoff; a longer one ends the retries of this provider "
             "(the route's fallback serves, or the client gets the hint as `retry-after`)"},
};
const ccp_key_table ccp_cfg_retry_keys = CCP_KEYS("retry", retry_keys);

#define BR(f) offsetof(ccp_breaker_config, f)
static const ccp_key breaker_keys[] = {
    {.name = "failures",
     .type = CCP_KEY_INT,
     .offset = BR(failures),
     .def = "5",
     .max = 1000000,
     .help = "consecutive failed attempts (transport errors, timeouts, `5xx`, `529`) that open "
             "the breaker; `0` = not this way"},
    {.name = "failure_percent",
     .type = CCP_KEY_INT,
     .offset = BR(failure_percent),
     .def = "50",
     .max = 100,
     .help = "the share of failed attempts within `window_ms` that opens it, once `min_requests` "
             "were made; `0` = not this way"},
    {.name = "min_requests",
     .type = CCP_KEY_INT,
     .offset = BR(min_requests),
     .def = "20",
     .min = 1,
     .max = 1000000,
     .help = "attempts in the window before `failure_percent` counts"},
    {.name = "window_ms",
     .type = CCP_KEY_MS,
     .offset = BR(window_ms),
     .def = "60000",
     .min = 1,
     .max = MS_MAX,
     .help = "the window `failure_percent` is counted over (a fixed window, started afresh when "
             "it ends)"},
    {.name = "cooldown_ms",
     .type = CCP_KEY_MS,
     .offset = BR(cooldown_ms),
     .def = "30000",
     .min = 1,
     .max = MS_MAX,
     .help = "how long an open breaker skips the provider before letting probes through "
             "(half-open)"},
    {.name = "half_open_probes",
     .type = CCP_KEY_INT,
     .offset = BR(half_open_probes),
     .def = "1",
     .min = 1,
     .max = 1000,
     .help = "requests let through at once while half-open; one success closes the breaker, "
             "one failure opens it again"},
};
const ccp_key_table ccp_cfg_breaker_keys = CCP_KEYS("breaker", breaker_keys);

void ccp_cfg_reliability_defaults(ccp_provider *p)
{
    ccp_keys_defaults(&ccp_cfg_retry_keys, &p->retry);
    ccp_keys_defaults(&ccp_cfg_breaker_keys, &p->breaker);
}

void ccp_cfg_load_retry(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_cfg_load_keys(l, v, "providers.retry", &ccp_cfg_retry_keys, &((ccp_provider *)base)->retry);
}

void ccp_cfg_load_breaker(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_cfg_load_keys(l, v, "providers.breaker", &ccp_cfg_breaker_keys,
                      &((ccp_provider *)base)->breaker);
}

/* api_keys: a list of secrets, each interpolated; empty ones are dropped
 * (an unset ${VAR:-} leaves no key). Never quoted in diagnostics. */
void ccp_cfg_load_api_keys(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_provider *p = base;
    if (v->type != YAML_SEQUENCE_NODE) {
        DIAG(l, v,
             "providers.api_keys: expected a list of keys, e.g. [\"${KEY_1}\", "
             "\"${KEY_2}\"]");
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        char *key = ccp_cfg_interp(l, ccp_cfg_node(l, *it), "providers.api_keys", &l->unset);
        if (!key) continue;
        if (!*key || p->keys.n >= 64) {
            if (*key)
                DIAG(l, ccp_cfg_node(l, *it), "providers.api_keys: at most 64 keys per provider");
            free(key);
            continue;
        }
        p->keys.v = ccp_xrealloc(p->keys.v, (p->keys.n + 1) * sizeof *p->keys.v);
        p->keys.v[p->keys.n++] = key;
    }
}

void ccp_cfg_finish_keys(ccp_provider *p)
{
    /* api_key is the pool's first key; without it the first of api_keys
     * stands in, so code that sends one key (explain) still has one. The
     * pool owns every key, api_key only points at keys.v[0]: one copy of
     * each secret in memory, wiped in one place (ccp_provider_free). */
    if (p->api_key) {
        size_t at = p->keys.n;
        for (size_t i = 0; i < p->keys.n; i++)
            if (!strcmp(p->keys.v[i], p->api_key)) at = i; /* listed in both: kept once */
        if (at == p->keys.n) {
            p->keys.v = ccp_xrealloc(p->keys.v, (p->keys.n + 1) * sizeof *p->keys.v);
            p->keys.v[p->keys.n++] = p->api_key; /* the pool takes it over */
        } else {
            explicit_bzero(p->api_key, strlen(p->api_key));
            free(p->api_key);
        }
        char *first = p->keys.v[at];
        memmove(p->keys.v + 1, p->keys.v, at * sizeof *p->keys.v);
        p->keys.v[0] = first;
    }
    p->api_key = p->keys.n ? p->keys.v[0] : NULL;
}
