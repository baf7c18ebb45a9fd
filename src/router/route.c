/* route.c — target selection (see route.h). */
#include "router/route.h"

int ccp_route_pick(const ccp_config *cfg, json_object *req, ccp_target *out, ccp_error *err)
{
    (void)req;
    if (!cfg->has_default)
        return ccp_error_set(
            err, CCP_ENOTFOUND,
            "cc-proxy has no provider configured. Set one of ANTHROPIC_API_KEY, "
            "OPENROUTER_API_KEY, DEEPSEEK_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY in "
            "ccproxy's environment and restart it, or write a config file (./ccproxy.yaml or "
            "~/.config/ccproxy/config.yaml) with a provider and router.default; see "
            "docs/configuration.md");
    *out = cfg->router_default;
    return 0;
}
