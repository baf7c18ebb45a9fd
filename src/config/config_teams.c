/* config_teams.c — the `auth` and `state` sections: whether clients need a
 * proxy key, and where keys, usage and the audit record live (SQLite). src/teams/ enforces them;
 * docs/teams.md explains them. */
#include "config/config_internal.h"

#include "core/alloc.h"
#include "teams/redis_store.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const redis_modes[] = {"fail_closed", "fail_open", NULL}; /* ccp_redis_failure */
static const char *const auth_modes[] = {"none", "keys", NULL}; /* ccp_auth_mode's order */

#define AUTH(f) offsetof(ccp_auth_config, f)
static const ccp_key auth_keys[] = {
    {.name = "mode",
     .type = CCP_KEY_ENUM,
     .offset = AUTH(mode),
     .def = "none",
     .choices = auth_modes,
     .help = "`keys`: every request needs a proxy key (`x-api-key` or `Authorization: Bearer`) "
             "made with `ccproxy keys create`; `none`: anyone who reaches the port may use it"},
    {.name = "allow_unauthenticated",
     .type = CCP_KEY_BOOL,
     .offset = AUTH(allow_unauthenticated),
     .def = "false",
     .help = "lets `mode: none` listen on a non-loopback address (ccproxy refuses to start "
             "otherwise): only behind a firewall or an authenticating gateway"},
    {.name = "admin_key",
     .type = CCP_KEY_STR,
     .offset = AUTH(admin_key),
     .min = 8,
     .doc_def = "none",
     .help = "a secret (use `${file:/path}` or `${VAR}`) that every admin endpoint (`/metrics`, "
             "`/admin/*`, the data of `/ui`) then asks for, as `Authorization: Bearer` or "
             "`x-api-key`; `ccproxy reload` and `ccproxy tail` send it (or "
             "`CCPROXY_ADMIN_KEY`)"},
};
const ccp_key_table ccp_cfg_auth_keys = CCP_KEYS("auth", auth_keys);

#define STATE(f) offsetof(ccp_state_config, f)
/* state.redis: a URL the state thread and the workers can use, judged at
 * load so `ccproxy check` finds it with its place. rediss:// is named: a
 * TLS Redis needs a tunnel, as Debian's hiredis 0.14 has no TLS. */
static bool valid_redis_url(const char *s, char *why, size_t why_len)
{
    char host[256];
    int port, db;
    if (!strncmp(s, "rediss://", 9)) {
        snprintf(why, why_len,
                 "TLS to Redis (rediss://) is not supported (Debian's hiredis has no TLS): reach "
                 "it through a local TLS tunnel (stunnel, spiped) and name that, e.g. "
                 "redis://127.0.0.1:6380/0");
        return false;
    }
    if (ccp_redis_parse_url(s, host, sizeof host, &port, &db)) return true;
    /* Not echoed: the text may hold a password. */
    snprintf(why, why_len,
             "expected redis://[[USER]:PASSWORD@]host[:port][/db] (db 0 to 1000), e.g. "
             "redis://127.0.0.1:6379/0");
    return false;
}

static const ccp_key state_keys[] = {
    {.name = "path",
     .type = CCP_KEY_STR,
     .offset = STATE(path),
     .min = 1,
     .doc_def = "`$XDG_STATE_HOME/ccproxy/state.db`, else `~/.local/state/ccproxy/state.db`",
     .help = "the SQLite file of proxy keys, usage and audit (WAL mode); the `keys`, `usage` and "
             "`audit` commands work on it directly"},
    {.name = "poll_ms",
     .type = CCP_KEY_MS,
     .offset = STATE(poll_ms),
     .def = "1000",
     .min = 10,
     .max = 60000,
     .help = "how often a running proxy looks for keys changed by `ccproxy keys` (SQLite's "
             "`data_version`, or with `state.redis` the keys' version counter in Redis: one "
             "cheap query, off the request path)"},
    {.name = "flush_ms",
     .type = CCP_KEY_MS,
     .offset = STATE(flush_ms),
     .def = "200",
     .min = 1,
     .max = 60000,
     .help = "usage, last-used times and audit rows are written by a thread of their own, in one "
             "transaction per this many milliseconds, never on the request path"},
    {.name = "redis",
     .type = CCP_KEY_STR,
     .offset = STATE(redis),
     .min = 1,
     .valid = valid_redis_url,
     .doc_def = "none",
     .help = "`redis://[[USER]:PASSWORD@]host[:port][/db]`: shared by every instance that "
             "names it: the proxy keys (each state file keeps a copy), the limits and budgets of "
             "every key and tenant (atomic Lua scripts), usage totals and the audit stream; the "
             "password is treated as a secret (never logged, redacted from output; "
             "`${file:...}` works here)"},
    {.name = "redis_failure",
     .type = CCP_KEY_ENUM,
     .offset = STATE(redis_failure),
     .def = "fail_closed",
     .choices = redis_modes,
     .help = "a request while Redis is unreachable: `fail_closed` refuses it (529 "
             "`overloaded_error`), `fail_open` admits it without the shared limits; either way "
             "a log line and `ccproxy_redis_failures_total`"},
};
const ccp_key_table ccp_cfg_state_keys = CCP_KEYS("state", state_keys);

/* ---- pricing ------------------------------------------------------------ */

static const char *const price_fields[] = {"input", "output", "cache_read", "cache_write"};

/* One model's prices: a mapping of the four kinds (each optional, 0 when
 * left out) to USD per million tokens. */
static void load_price(loader *l, yaml_node_t *v, const char *provider, const char *model)
{
    if (v->type != YAML_MAPPING_NODE) {
        DIAG(l, v,
             "pricing.%s.%s: expected a mapping of USD per million tokens, e.g. {input: 3, "
             "output: 15, cache_read: 0.3, cache_write: 3.75}",
             provider, model);
        return;
    }
    ccp_price p = {0};
    double *slots[] = {&p.input, &p.output, &p.cache_read, &p.cache_write};
    bool ok = true;
    for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *val = ccp_cfg_node(l, pr->value);
        const char *name = ccp_cfg_scalar(k);
        size_t i = 0;
        while (name && i < 4 && strcmp(name, price_fields[i]) != 0)
            i++;
        if (!name || i == 4) {
            ccp_cfg_unknown_key(l, k, "a pricing entry", price_fields, 4);
            ok = false;
            continue;
        }
        const char *s = ccp_cfg_scalar(val);
        char *end = NULL;
        double d = s ? strtod(s, &end) : -1;
        if (!s || !*s || *end || !(d >= 0 && d < 1e6)) {
            DIAG(l, val, "pricing.%s.%s.%s: expected USD per million tokens (a number >= 0)",
                 provider, model, name);
            ok = false;
            continue;
        }
        *slots[i] = d;
    }
    if (!ok) return;
    p.provider = ccp_xstrdup(provider);
    p.model = ccp_xstrdup(model);
    ccp_config *c = l->cfg;
    c->prices = ccp_xrealloc(c->prices, (c->n_prices + 1) * sizeof *c->prices);
    c->prices[c->n_prices++] = p;
}

void ccp_cfg_load_pricing(loader *l, yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map,
             "pricing: expected a mapping of provider name to models, e.g. pricing: {anthropic: "
             "{claude-sonnet-4-5: {input: 3, output: 15}}}");
        return;
    }
    for (yaml_node_pair_t *pp = map->data.mapping.pairs.start; pp < map->data.mapping.pairs.top;
         pp++) {
        yaml_node_t *pk = ccp_cfg_node(l, pp->key), *pv = ccp_cfg_node(l, pp->value);
        const char *provider = ccp_cfg_scalar(pk);
        if (!provider || pv->type != YAML_MAPPING_NODE) {
            DIAG(l, pk, "pricing: each provider maps model names (globs) to their prices");
            continue;
        }
        for (yaml_node_pair_t *mp = pv->data.mapping.pairs.start; mp < pv->data.mapping.pairs.top;
             mp++) {
            yaml_node_t *mk = ccp_cfg_node(l, mp->key);
            const char *model = ccp_cfg_scalar(mk);
            if (!model || !*model) {
                DIAG(l, mk, "pricing.%s: model names must be plain names or globs", provider);
                continue;
            }
            load_price(l, ccp_cfg_node(l, mp->value), provider, model);
        }
    }
}

void ccp_cfg_pricing_free(ccp_config *c)
{
    for (size_t i = 0; i < c->n_prices; i++) {
        free(c->prices[i].provider);
        free(c->prices[i].model);
    }
    free(c->prices);
    c->prices = NULL;
    c->n_prices = 0;
}

/* ---- tenants ------------------------------------------------------------ */

/* providers / models: a list of names (or globs) into the strlist at k's
 * offset. */
static void load_name_list(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_strlist *out = (ccp_strlist *)((char *)base + k->offset);
    if (v->type != YAML_SEQUENCE_NODE) {
        DIAG(l, v, "tenants.%s: expected a list, e.g. [%s]", k->name,
             strcmp(k->name, "models") ? "anthropic, openrouter" : "\"claude-*\"");
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = ccp_cfg_node(l, *it);
        const char *s = ccp_cfg_scalar(n);
        if (!s || !*s) {
            DIAG(l, n, "tenants.%s: each entry is a name", k->name);
            continue;
        }
        out->v = ccp_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = ccp_xstrdup(s);
    }
}

/* budget: "500usd/month" or "20usd/day", as `ccproxy keys create --budget`. */
static void load_budget(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_tenant *t = base;
    const char *s = ccp_cfg_scalar(v);
    char *end;
    double usd = s ? strtod(s, &end) : 0;
    int period = 0;
    if (s && end != s && usd > 0 && !strncasecmp(end, "usd", 3)) end += 3;
    if (s && end != s && usd > 0 && (!strcmp(end, "/day") || !strcmp(end, "/month")))
        period = !strcmp(end, "/day") ? 1 : 2;
    if (!period) {
        DIAG(l, v, "tenants.budget: expected an amount per day or month, e.g. 500usd/month");
        return;
    }
    free(t->budget);
    t->budget = ccp_xstrdup(s);
    t->budget_usd = usd;
    t->budget_period = period;
}

/* router: the tenant's own stage routes (config_router.c parses them). */
static void load_tenant_router(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_tenant *t = base;
    ccp_cfg_load_stage_routes(l, v, "tenants.router", t->router);
}

#define TEN(f) offsetof(ccp_tenant, f)
static const ccp_key tenant_keys[] = {
    {.name = "providers",
     .type = CCP_KEY_CUSTOM,
     .offset = TEN(providers),
     .load = load_name_list,
     .doc_type = "list of provider names",
     .doc_def = "any",
     .help = "the providers its keys' requests may go to: routes are cut down to these targets "
             "(403 `permission_error` when none is left)"},
    {.name = "models",
     .type = CCP_KEY_CUSTOM,
     .offset = TEN(models),
     .load = load_name_list,
     .doc_type = "list of globs",
     .doc_def = "any",
     .help = "the models its keys may ask for (403 `permission_error` for others)"},
    {.name = "rpm",
     .type = CCP_KEY_INT64,
     .offset = TEN(rpm),
     .def = "0",
     .max = 1000000000,
     .help = "requests per minute shared by all its keys; `0`: no limit"},
    {.name = "tpm",
     .type = CCP_KEY_INT64,
     .offset = TEN(tpm),
     .def = "0",
     .max = 1000000000000LL,
     .help = "tokens per minute shared by all its keys; `0`: no limit"},
    {.name = "concurrency",
     .type = CCP_KEY_INT64,
     .offset = TEN(concurrency),
     .def = "0",
     .max = 1000000,
     .help = "requests in flight at once, all its keys together; `0`: no limit"},
    {.name = "budget",
     .type = CCP_KEY_CUSTOM,
     .load = load_budget,
     .doc_type = "amount per period",
     .doc_def = "none",
     .help = "spend per day or month shared by all its keys, e.g. `500usd/month`"},
    {.name = "router",
     .type = CCP_KEY_CUSTOM,
     .load = load_tenant_router,
     .doc_type = "mapping of stage to route",
     .doc_def = "router's",
     .help = "its own routes for some stages (`default`, `background`, `thinking`, `planning`, "
             "`long_context`, `web_search`, `image`), used for its keys' requests instead of "
             "router's; stages it does not name keep router's. Rules, the subagent tag and "
             "`provider/model` requests still come first"},
};
const ccp_key_table ccp_cfg_tenant_keys = CCP_KEYS("tenants", tenant_keys);

void ccp_cfg_load_tenants(loader *l, yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "tenants: expected a mapping of tenant name to its settings");
        return;
    }
    ccp_config *c = l->cfg;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = ccp_cfg_node(l, p->key), *v = ccp_cfg_node(l, p->value);
        const char *name = ccp_cfg_scalar(k);
        if (!name || !*name) {
            DIAG(l, k, "tenants: each tenant is named by a plain name");
            continue;
        }
        c->tenants = ccp_xrealloc(c->tenants, (c->n_tenants + 1) * sizeof *c->tenants);
        ccp_tenant *t = &c->tenants[c->n_tenants++];
        memset(t, 0, sizeof *t);
        ccp_keys_defaults(&ccp_cfg_tenant_keys, t);
        t->name = ccp_xstrdup(name);
        if (v->type == YAML_MAPPING_NODE)
            ccp_cfg_load_keys(l, v, "tenants", &ccp_cfg_tenant_keys, t);
        else if (!(v->type == YAML_SCALAR_NODE && !*ccp_cfg_scalar(v)))
            DIAG(l, v,
                 "tenants.%s: expected a mapping (providers, models, rpm, tpm, "
                 "concurrency, budget, router)",
                 name);
    }
}

void ccp_cfg_tenants_free(ccp_config *c)
{
    for (size_t i = 0; i < c->n_tenants; i++) {
        ccp_tenant *t = &c->tenants[i];
        free(t->name);
        free(t->budget);
        ccp_strlist_free(&t->providers);
        ccp_strlist_free(&t->models);
        for (int s = 0; s < CCP_STAGE_COUNT; s++)
            free(t->router[s].targets);
    }
    free(c->tenants);
    c->tenants = NULL;
    c->n_tenants = 0;
}
