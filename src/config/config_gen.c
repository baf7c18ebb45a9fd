/* config_gen.c — the YAML `ccproxy init` writes (config_gen.h): the chosen
 * catalog rows as providers, their dialect pipelines, and the router, with
 * comments that say where each piece is documented. */
#include "config/config_gen.h"

#include <stdio.h>
#include <string.h>

/* The provider part of a route: "p/m" → p, "p" → p. */
static bool route_provider_is(const char *route, const char *name)
{
    size_t n = strcspn(route, "/");
    return strlen(name) == n && !strncmp(route, name, n);
}

int ccp_gen_validate(const ccp_gen_plan *plan, ccp_error *err)
{
    if (plan->n == 0)
        return ccp_error_set(
            err, CCP_EINVAL,
            "no provider chosen: name at least one (ccproxy providers lists them)");
    for (size_t i = 0; i < plan->n; i++)
        for (size_t j = 0; j < i; j++)
            if (plan->providers[i].info == plan->providers[j].info)
                return ccp_error_set(err, CCP_EINVAL, "provider '%s' is chosen twice",
                                     plan->providers[i].info->name);
    for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
        const char *r = plan->stages[s];
        if (!r) continue;
        bool found = false;
        for (size_t i = 0; i < plan->n && !found; i++)
            found = route_provider_is(r, plan->providers[i].info->name);
        if (!found || r[strlen(r) - 1] == '/')
            return ccp_error_set(err, CCP_EINVAL,
                                 "the %s route '%s' does not name a chosen provider: write "
                                 "PROVIDER/MODEL with one of the providers given",
                                 ccp_catalog_stage_names[s], r);
    }
    return 0;
}

void ccp_gen_propose(ccp_gen_plan *plan, char route_buf[][256])
{
    for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
        if (plan->stages[s] || plan->n == 0) continue;
        /* default is the first provider's; other stages the first that
         * proposes one */
        for (size_t i = 0; i < (s == CCP_CAT_DEFAULT ? 1 : plan->n); i++) {
            const ccp_provider_info *p = plan->providers[i].info;
            if (p->stages[s]) {
                snprintf(route_buf[s], 256, "%s/%s", p->name, p->stages[s]);
                plan->stages[s] = route_buf[s];
                break;
            }
        }
        if (s == CCP_CAT_DEFAULT && !plan->stages[s])
            plan->stages[s] = plan->providers[0].info->name;
    }
    /* A stage that proposes what default already is says nothing. */
    for (size_t s = 1; s < CCP_CAT_N_STAGES; s++)
        if (plan->stages[s] && plan->stages[0] && !strcmp(plan->stages[s], plan->stages[0]))
            plan->stages[s] = NULL;
}

static const char *const stage_help[CCP_CAT_N_STAGES] = {
    "when nothing else applies",
    "Claude Code's small calls (titles, summaries: its haiku model)",
    "requests with thinking enabled",
    "requests above router.long_context_tokens (60000 by default)",
    "requests that offer the web search tool",
    "requests with an image in the latest user turn",
};

void ccp_gen_yaml(const ccp_gen_plan *plan, ccp_buf *out)
{
    ccp_buf_appends(out, "# ccproxy config, written by 'ccproxy init'.\n"
                         "# Check it:  ccproxy check --config THIS_FILE\n"
                         "# Start it:  ccproxy serve --config THIS_FILE\n"
                         "#   then:    ANTHROPIC_BASE_URL=http://127.0.0.1:3456 claude\n"
                         "# Every key: docs/configuration.md (or 'ccproxy config-keys').\n"
                         "\n"
                         "server:\n"
                         "  host: 127.0.0.1       # 0.0.0.0 exposes it to the network\n"
                         "  port: 3456\n"
                         "\n"
                         "# The providers (docs/providers.md). Keys come from the environment:\n"
                         "# ${VAR} is read when ccproxy starts, so no key is stored here.\n"
                         "providers:\n");
    bool any_pipeline = false;
    for (size_t i = 0; i < plan->n; i++) {
        const ccp_gen_provider *g = &plan->providers[i];
        if (i) ccp_buf_appendc(out, '\n');
        if (g->raw_key)
            ccp_buf_appends(out, "  # the key below was written as given: keep this "
                                 "file private (chmod 600)\n");
        /* Models a route names that the catalog row does not list. */
        const char *extra[CCP_CAT_N_STAGES + 1];
        char extra_buf[CCP_CAT_N_STAGES][256];
        size_t ne = 0;
        for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
            const char *r = plan->stages[s];
            if (!r || !route_provider_is(r, g->info->name) || !strchr(r, '/')) continue;
            const char *m = strchr(r, '/') + 1;
            bool listed = false;
            for (size_t k = 0; g->info->models[k]; k++)
                listed |= !strcmp(g->info->models[k], m);
            for (size_t k = 0; k < ne; k++)
                listed |= !strcmp(extra[k], m);
            if (listed) continue;
            snprintf(extra_buf[ne], sizeof extra_buf[ne], "%s", m);
            extra[ne] = extra_buf[ne];
            ne++;
        }
        extra[ne] = NULL;
        ccp_catalog_provider_yaml_ex(out, g->info, g->key_env, g->raw_key, true, g->pipeline,
                                     extra);
        any_pipeline |= g->pipeline && g->info->dialect;
    }
    if (any_pipeline) {
        ccp_buf_appends(out, "\n# Where a provider differs from its format, a dialect transformer\n"
                             "# adapts the request (docs/transformers.md). Add steps here, e.g.\n"
                             "# - use: max-tokens\n#   with: {max: 8192}\n"
                             "pipelines:\n");
        for (size_t i = 0; i < plan->n; i++)
            if (plan->providers[i].pipeline)
                ccp_catalog_pipeline_yaml(out, plan->providers[i].info);
    }
    ccp_buf_appends(out, "\n# Which provider and model serve each request (docs/routing.md). A\n"
                         "# route is provider/model, or a provider alone to keep the model the\n"
                         "# client asked for; a list of them adds fallbacks in order.\n"
                         "router:\n");
    for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
        if (!plan->stages[s]) {
            if (s != CCP_CAT_DEFAULT)
                ccp_buf_printf(out, "  # %s: follows default; %s\n", ccp_catalog_stage_names[s],
                               stage_help[s]);
            continue;
        }
        ccp_buf_printf(out, "  %s: ", ccp_catalog_stage_names[s]);
        ccp_catalog_yaml_scalar(out, plan->stages[s]);
        ccp_buf_printf(out, "   # %s\n", stage_help[s]);
    }
}
