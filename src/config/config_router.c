/* config_router.c — the `router` section: a route per stage, the stage
 * detectors' settings, and the rules. Loaded after every provider, since
 * targets name them. */
#include "config/config_internal.h"
#include "plugin/plugin.h"
#include "core/alloc.h"
#include "pipeline/pipeline.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stage_names[CCP_STAGE_COUNT] = {
    [CCP_STAGE_DEFAULT] = "default",
    [CCP_STAGE_BACKGROUND] = "background",
    [CCP_STAGE_THINKING] = "thinking",
    [CCP_STAGE_PLANNING] = "planning",
    [CCP_STAGE_LONG_CONTEXT] = "long_context",
    [CCP_STAGE_WEB_SEARCH] = "web_search",
    [CCP_STAGE_IMAGE] = "image",
};

const char *ccp_stage_name(ccp_stage s)
{
    return s >= 0 && s < CCP_STAGE_COUNT ? stage_names[s] : "?";
}

static int stage_of(const char *name)
{
    for (int i = 0; name && i < CCP_STAGE_COUNT; i++)
        if (!strcmp(stage_names[i], name)) return i;
    return -1;
}

static const char *own(ccp_router_config *r, char *s)
{
    r->owned = ccp_xrealloc(r->owned, (r->n_owned + 1) * sizeof *r->owned);
    r->owned[r->n_owned++] = s;
    return s;
}

/* "provider/model" or "provider" (keep the client's model) → a target.
 * Reports problems at v; returns false for them. */
static bool resolve_target(loader *l, yaml_node_t *v, const char *where, const char *target,
                           ccp_target *out)
{
    ccp_config *c = l->cfg;
    const char *slash = strchr(target, '/');
    size_t plen = slash ? (size_t)(slash - target) : strlen(target);
    char pname[128];
    if (plen == 0 || plen >= sizeof pname) {
        DIAG(l, v, "%s: write 'provider/model' or 'provider'", where);
        return false;
    }
    memcpy(pname, target, plen);
    pname[plen] = '\0';
    const ccp_provider *p = ccp_config_provider(c, pname);
    if (!p) {
        if (l->env_default || ccp_cfg_was_rejected(l, pname)) return false;
        ccp_buf names = CCP_BUF_INIT;
        for (size_t i = 0; i < c->n_providers; i++) {
            if (i) ccp_buf_appends(&names, ", ");
            ccp_buf_appends(&names, c->providers[i].name);
        }
        DIAG(l, v, "%s: no provider named '%s'; configured: %s", where, pname,
             names.data ? names.data : "(none)");
        ccp_buf_free(&names);
        return false;
    }
    const char *model = slash && slash[1] ? slash + 1 : NULL;
    if (model && p->n_models) {
        size_t i = 0;
        while (i < p->n_models && strcmp(p->models[i], model) != 0)
            i++;
        if (i == p->n_models) {
            ccp_buf names = CCP_BUF_INIT;
            for (size_t j = 0; j < p->n_models; j++) {
                if (j) ccp_buf_appends(&names, ", ");
                ccp_buf_appends(&names, p->models[j]);
            }
            DIAG(l, v,
                 "%s: provider '%s' lists no model '%s'; add it to its models or use one of: "
                 "%s",
                 where, pname, model, names.data);
            ccp_buf_free(&names);
            return false;
        }
    }
    out->provider = p;
    out->model = model ? own(&c->router, ccp_xstrdup(model)) : NULL;
    return true;
}

/* A route: one target, or a list of them (the first serves, the rest are
 * fallbacks in order). */
static bool load_route(loader *l, yaml_node_t *v, const char *where, ccp_route *out)
{
    yaml_node_t *single[1] = {v};
    yaml_node_t **items = single;
    size_t n = 1;
    yaml_node_t *list[64];
    if (v->type == YAML_SEQUENCE_NODE) {
        n = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top && n < 64; it++)
            list[n++] = ccp_cfg_node(l, *it);
        items = list;
        if (n == 0) {
            DIAG(l, v, "%s: an empty list; give at least one 'provider/model'", where);
            return false;
        }
    }
    ccp_route r = {ccp_xcalloc(n, sizeof *r.targets), 0};
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        char *t = ccp_cfg_interp(l, items[i], where, NULL);
        if (!t) {
            ok = false;
            continue;
        }
        if (resolve_target(l, items[i], where, t, &r.targets[r.n]))
            r.n++;
        else
            ok = false;
        free(t);
    }
    if (!ok || r.n == 0) {
        free(r.targets);
        return false;
    }
    *out = r;
    return true;
}

static const char *const when_keys[] = {"model",        "header", "tokens_above",
                                        "tokens_below", "tools",  "stage"};

static bool load_when(loader *l, yaml_node_t *map, ccp_rule *r)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "router.rules.when: expected a mapping of conditions (%s)",
             "model, header, tokens_above, tokens_below, tools, stage");
        return false;
    }
    bool ok = true;
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
        const char *key = ccp_cfg_scalar(k);
        const char *s = ccp_cfg_scalar(v);
        if (!key) continue;
        if (!strcmp(key, "model")) {
            if (!(r->model_glob = ccp_cfg_interp(l, v, "router.rules.when.model", NULL)))
                ok = false;
        } else if (!strcmp(key, "tokens_above") || !strcmp(key, "tokens_below")) {
            long long n;
            if (!s || !ccp_parse_ll(s, &n) || n < 0) {
                DIAG(l, v, "router.rules.when.%s: expected a number of tokens", key);
                ok = false;
            } else if (key[7] == 'a') {
                r->tokens_above = n;
            } else {
                r->tokens_below = n;
            }
        } else if (!strcmp(key, "stage")) {
            r->stage = stage_of(s);
            if (r->stage < 0) {
                DIAG(l, v,
                     "router.rules.when.stage: use one of default, background, thinking, "
                     "planning, long_context, web_search, image");
                ok = false;
            }
        } else if (!strcmp(key, "tools")) {
            if (v->type != YAML_SEQUENCE_NODE) {
                DIAG(l, v, "router.rules.when.tools: expected a list of tool names");
                ok = false;
                continue;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 it < v->data.sequence.items.top; it++) {
                const char *t = ccp_cfg_scalar(ccp_cfg_node(l, *it));
                if (!t) continue;
                r->tools = ccp_xrealloc(r->tools, (r->n_tools + 1) * sizeof *r->tools);
                r->tools[r->n_tools++] = ccp_xstrdup(t);
            }
        } else if (!strcmp(key, "header")) {
            if (v->type != YAML_MAPPING_NODE) {
                DIAG(l, v, "router.rules.when.header: expected a mapping of header name to glob");
                ok = false;
                continue;
            }
            for (yaml_node_pair_t *hp = v->data.mapping.pairs.start; hp < v->data.mapping.pairs.top;
                 hp++) {
                const char *hn = ccp_cfg_scalar(ccp_cfg_node(l, hp->key));
                char *hv =
                    ccp_cfg_interp(l, ccp_cfg_node(l, hp->value), "router.rules.when.header", NULL);
                if (!hn || !hv) {
                    free(hv);
                    ok = false;
                    continue;
                }
                r->headers = ccp_xrealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
                r->headers[r->n_headers++] = (ccp_kv){ccp_xstrdup(hn), hv};
            }
        } else {
            ccp_cfg_unknown_key(l, k, "router.rules.when", when_keys,
                                sizeof when_keys / sizeof when_keys[0]);
            ok = false;
        }
    }
    return ok;
}

static void rule_free(ccp_rule *r)
{
    free(r->name);
    free(r->model_glob);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    for (size_t i = 0; i < r->n_tools; i++)
        free(r->tools[i]);
    free(r->tools);
    free(r->route.targets);
}

static const char *const rule_keys[] = {"name", "when", "route", "pipeline"};

static void load_rules(loader *l, yaml_node_t *seq)
{
    ccp_router_config *rc = &l->cfg->router;
    if (seq->type != YAML_SEQUENCE_NODE) {
        DIAG(l, seq, "router.rules: expected a list of {name, when, route}");
        return;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *m = ccp_cfg_node(l, *it);
        if (m->type != YAML_MAPPING_NODE) {
            DIAG(l, m, "router.rules: each rule is a mapping with when and route");
            continue;
        }
        ccp_rule r = {.tokens_above = -1, .tokens_below = -1, .stage = -1};
        r.line = (int)m->start_mark.line + 1;
        r.col = (int)m->start_mark.column + 1;
        bool ok = true, has_route = false;
        for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
             pr++) {
            yaml_node_t *k = ccp_cfg_node(l, pr->key), *v = ccp_cfg_node(l, pr->value);
            const char *key = ccp_cfg_scalar(k);
            if (!key) continue;
            if (!strcmp(key, "name")) {
                free(r.name);
                r.name = ccp_cfg_interp(l, v, "router.rules.name", NULL);
            } else if (!strcmp(key, "when")) {
                ok = load_when(l, v, &r) && ok;
            } else if (!strcmp(key, "route")) {
                has_route = true;
                ok = load_route(l, v, "router.rules.route", &r.route) && ok;
            } else if (!strcmp(key, "pipeline")) {
                const char *pn = ccp_cfg_scalar(v);
                for (size_t i = 0; pn && i < l->cfg->n_pipelines; i++)
                    if (!strcmp(l->cfg->pipelines[i].name, pn)) r.pipeline = &l->cfg->pipelines[i];
                has_route = has_route || r.pipeline;
                if (!r.pipeline) {
                    DIAG(l, v,
                         "router.rules.pipeline: no pipeline named '%s'; declare it under "
                         "pipelines",
                         pn ? pn : "?");
                    ok = false;
                }
            } else {
                ccp_cfg_unknown_key(l, k, "router.rules", rule_keys, 4);
                ok = false;
            }
        }
        if (!has_route) {
            DIAG(l, m,
                 "router.rules: this rule has no route; add 'route: provider/model' (or "
                 "'pipeline: name')");
            ok = false;
        }
        if (!ok) {
            rule_free(&r);
            continue;
        }
        if (!r.name) {
            char name[32];
            snprintf(name, sizeof name, "rule %zu", rc->n_rules + 1);
            r.name = ccp_xstrdup(name);
        }
        rc->rules = ccp_xrealloc(rc->rules, (rc->n_rules + 1) * sizeof *rc->rules);
        rc->rules[rc->n_rules++] = r;
    }
}

static void load_stage_route(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_router_config *rc = base;
    char where[64];
    snprintf(where, sizeof where, "router.%s", k->name);
    load_route(l, v, where, &rc->stages[stage_of(k->name)]);
}

void ccp_cfg_load_stage_routes(loader *l, yaml_node_t *map, const char *where, ccp_route *stages)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "%s: expected a mapping of stage to route, e.g. default: provider/model",
             where);
        return;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = ccp_cfg_node(l, p->key), *v = ccp_cfg_node(l, p->value);
        int s = stage_of(ccp_cfg_scalar(k));
        char w[96];
        if (s < 0) {
            DIAG(l, k,
                 "%s: '%s' is not a stage; use default, background, thinking, planning, "
                 "long_context, web_search or image",
                 where, ccp_cfg_scalar(k) ? ccp_cfg_scalar(k) : "?");
            continue;
        }
        snprintf(w, sizeof w, "%s.%s", where, stage_names[s]);
        free(stages[s].targets);
        stages[s] = (ccp_route){0};
        load_route(l, v, w, &stages[s]);
    }
}

static void load_rules_key(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    load_rules(l, v);
}

#define STAGE_ROUTE(stage, text)                                                                   \
    {                                                                                              \
        .name = stage, .type = CCP_KEY_CUSTOM, .load = load_stage_route, .doc_type = "route",      \
        .doc_def = "`default`", .help = text                                                       \
    }
#define RC(f) offsetof(ccp_router_config, f)
static const ccp_key router_keys[] = {
    {.name = "default",
     .type = CCP_KEY_CUSTOM,
     .load = load_stage_route,
     .doc_type = "route",
     .doc_def = "the first provider, with its first model",
     .help = "the route when nothing else applies. A **route** is one target or a list of them "
             "(the first serves, the rest are fallbacks in order). A target is `provider/model` "
             "(the request's `model` is rewritten), or `provider` alone (the client's model is "
             "kept: what you want for Anthropic itself). The model part may contain `/` "
             "(`openrouter/anthropic/claude-sonnet-4.5`): the split is at the first `/`."},
    STAGE_ROUTE("background", "the route for the small-model calls (titles, summaries)"),
    STAGE_ROUTE("thinking", "the route for requests with thinking enabled"),
    STAGE_ROUTE("planning", "the route for requests in plan mode"),
    STAGE_ROUTE("long_context", "the route for requests above `long_context_tokens`"),
    STAGE_ROUTE("web_search", "the route for requests that offer the web search tool"),
    STAGE_ROUTE("image", "the route for requests with an image in the latest user turn"),
    {.name = "rules",
     .type = CCP_KEY_CUSTOM,
     .load = load_rules_key,
     .doc_type = "list",
     .help = "`{name, when, route, pipeline}` entries, tried in order before the stages "
             "([routing.md](routing.md))"},
    {.name = "script",
     .type = CCP_KEY_STR,
     .offset = RC(script),
     .min = 1,
     .help = "a plugin whose `route` hook picks a target (`provider/model`) or returns nil to "
             "let the rules and stages decide ([plugins.md](plugins.md), precedence in "
             "[routing.md](routing.md))"},
    {.name = "background_model",
     .type = CCP_KEY_STR,
     .offset = RC(background_model),
     .def = "*haiku*",
     .min = 1,
     .help = "glob on the request's model that marks the background stage"},
    {.name = "adaptive_is_thinking",
     .type = CCP_KEY_BOOL,
     .offset = RC(adaptive_is_thinking),
     .def = "false",
     .help = "`true`: `thinking: {type: adaptive}` (every Claude Code main turn) counts as the "
             "thinking stage"},
    {.name = "planning_marker",
     .type = CCP_KEY_STR,
     .offset = RC(planning_marker),
     .def = "Plan mode is active",
     .min = 1,
     .help = "text that marks plan mode in the latest user message"},
    {.name = "long_context_tokens",
     .type = CCP_KEY_INT64,
     .offset = RC(long_context_tokens),
     .def = "60000",
     .min = 1,
     .max = INT64_MAX,
     .help = "estimated input tokens above which a request is long context"},
};

const ccp_key_table ccp_cfg_router_keys = CCP_KEYS("router", router_keys);

void ccp_cfg_load_router(loader *l, yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE) {
        DIAG(l, map, "router: expected a mapping such as 'default: provider/model'");
        return;
    }
    ccp_cfg_load_keys(l, map, "router", &ccp_cfg_router_keys, &l->cfg->router);
}

void ccp_cfg_router_finish(loader *l)
{
    ccp_config *c = l->cfg;
    ccp_router_config *rc = &c->router;
    /* The estimate is a pass over the whole request: made only when a
     * long_context route or a rule needs it. */
    rc->needs_tokens = rc->stages[CCP_STAGE_LONG_CONTEXT].n > 0;
    for (size_t i = 0; i < c->n_tenants; i++)
        if (c->tenants[i].router[CCP_STAGE_LONG_CONTEXT].n) rc->needs_tokens = true;
    if (rc->script) {
        const ccp_plugin *p = ccp_plugin_find(c->plugins, rc->script);
        if (!p || !p->has_route)
            ccp_cfg_diag(l, 0, 0,
                         "router.script: %s '%s'; name a plugin (plugins.load or plugins.dirs) "
                         "that has a route hook",
                         p ? "no route hook in plugin" : "no plugin named", rc->script);
        rc->script_plugin = p;
    }
    for (size_t i = 0; i < rc->n_rules; i++)
        if (rc->rules[i].tokens_above >= 0 || rc->rules[i].tokens_below >= 0 ||
            rc->rules[i].stage == CCP_STAGE_LONG_CONTEXT)
            rc->needs_tokens = true;
    ccp_route *def = &rc->stages[CCP_STAGE_DEFAULT];
    /* Without router.default, the first provider with its first model (a
     * router.default that failed to resolve has been reported already). */
    if (def->n == 0 && c->n_providers > 0) {
        ccp_provider *p = &c->providers[0];
        def->targets = ccp_xcalloc(1, sizeof *def->targets);
        def->targets[0].provider = p;
        def->targets[0].model = p->n_models ? own(rc, ccp_xstrdup(p->models[0])) : NULL;
        def->n = 1;
    }
    c->has_default = def->n > 0;
    if (c->has_default) c->router_default = def->targets[0];
}

void ccp_router_config_free(ccp_router_config *r)
{
    for (int i = 0; i < CCP_STAGE_COUNT; i++)
        free(r->stages[i].targets);
    for (size_t i = 0; i < r->n_rules; i++)
        rule_free(&r->rules[i]);
    free(r->rules);
    ccp_keys_free(&ccp_cfg_router_keys, r);
    for (size_t i = 0; i < r->n_owned; i++)
        free(r->owned[i]);
    free(r->owned);
}
