/* config_default.c — the embedded default config, used when no file is
 * found. It is YAML run through the same loader, so it cannot drift from
 * what a file may say; providers whose key variable is unset are left out,
 * and the router falls to the first provider present (in this order). */
#include "config/config.h"

#include "config/config_internal.h"
#include "core/error.h"

#include <string.h>

static const char default_yaml[] =
    "providers:\n"
    "  - name: anthropic\n"
    "    format: anthropic\n"
    "    base_url: https://api.anthropic.com\n"
    "    api_key: ${ANTHROPIC_API_KEY}\n"
    "  - name: openrouter\n"
    "    format: anthropic\n"
    "    base_url: https://openrouter.ai/api\n"
    "    auth: bearer\n"
    "    api_key: ${OPENROUTER_API_KEY}\n"
    "  - name: deepseek\n"
    "    format: anthropic\n"
    "    base_url: https://api.deepseek.com/anthropic\n"
    "    api_key: ${DEEPSEEK_API_KEY}\n"
    "    models: [deepseek-chat, deepseek-reasoner]\n"
    "  - name: openai\n"
    "    format: openai-chat\n"
    "    base_url: https://api.openai.com/v1\n"
    "    api_key: ${OPENAI_API_KEY}\n"
    "    max_tokens_field: max_completion_tokens\n"
    "    reasoning: effort\n"
    "    models: [gpt-5]\n"
    "  - name: gemini\n"
    "    format: gemini\n"
    "    base_url: https://generativelanguage.googleapis.com/v1beta\n"
    "    api_key: ${GEMINI_API_KEY}\n"
    "    models: [gemini-2.5-pro]\n";

int ccp_config_load_default(ccp_config **out, ccp_diags *diags)
{
    return ccp_config_load_yaml("<embedded default>", default_yaml, strlen(default_yaml), true, out,
                                diags);
}
