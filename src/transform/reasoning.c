/* reasoning.c — the reasoning transformer: maps Claude Code's thinking
 * settings to what a provider accepts. */
#include "core/json.h"
#include "transform/transform.h"

#include <stddef.h>
#include <string.h>

typedef struct reasoning_conf {
    int64_t adaptive_budget, max_budget, min_budget;
    bool disable;
} reasoning_conf;

static int reasoning(const ccp_step *s, json_object *req, ccp_error *err)
{
    const reasoning_conf *c = s->conf;
    json_object *th = ccp_json_get_obj(req, "thinking");
    const char *type = ccp_json_get_str(th, "type");
    if (!type) return 0;
    if (c->disable) {
        json_object_object_del(req, "thinking");
        return 0;
    }
    int64_t adaptive = c->adaptive_budget;
    if (!strcmp(type, "adaptive") && adaptive > 0) {
        /* For endpoints that know only enabled/disabled. */
        json_object *n = json_object_new_object();
        json_object_object_add(n, "type", json_object_new_string("enabled"));
        json_object_object_add(n, "budget_tokens", json_object_new_int64(adaptive));
        json_object_object_add(req, "thinking", n);
        th = n;
        type = "enabled";
    }
    int64_t max = c->max_budget, min = c->min_budget;
    int64_t b = ccp_json_get_int(th, "budget_tokens", -1);
    if (!strcmp(type, "enabled") && b >= 0) {
        int64_t nb = max > 0 && b > max ? max : b;
        nb = min > 0 && nb < min ? min : nb;
        if (nb != b) json_object_object_add(th, "budget_tokens", json_object_new_int64(nb));
    }
    (void)err;
    return 0;
}

static const ccp_opt_spec reasoning_opts[] = {
    {"adaptive_budget", CCP_OPT_INT, NULL,
     "turn thinking {type: adaptive} into {type: enabled, budget_tokens: N}", NULL,
     offsetof(reasoning_conf, adaptive_budget)},
    {"max_budget", CCP_OPT_INT, NULL, "lower budget_tokens to this", NULL,
     offsetof(reasoning_conf, max_budget)},
    {"min_budget", CCP_OPT_INT, NULL, "raise budget_tokens to this", NULL,
     offsetof(reasoning_conf, min_budget)},
    {"disable", CCP_OPT_BOOL, "false", "remove thinking altogether", NULL,
     offsetof(reasoning_conf, disable)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_reasoning = {
    .name = "reasoning",
    .summary = "Maps thinking budgets to a provider's limits: adaptive to an explicit budget, "
               "budgets clamped, or thinking removed.",
    .opts = reasoning_opts,
    .conf_size = sizeof(reasoning_conf),
    .request = reasoning,
};
