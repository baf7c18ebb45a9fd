/* catalog.c — the built-in provider catalog (catalog.h): one row per
 * provider, and the writers that turn a row into config YAML, a text table,
 * JSON and docs/providers.md. Base URLs and formats were checked against each
 * provider's own documentation (the docs column); model names are proposals
 * that `ccproxy init` lets the user change. */
#include "config/catalog.h"

#include <string.h>

const char *const ccp_catalog_stage_names[CCP_CAT_N_STAGES] = {
    "default", "background", "thinking", "long_context", "web_search", "image",
};

/* The first five rows are the embedded default, in its order of preference
 * (config_default.c): a key found for an earlier one makes it the default
 * route. */
const ccp_provider_info ccp_provider_catalog[] = {
    {
        .name = "anthropic",
        .title = "Anthropic",
        .format = "anthropic",
        .base_url = "https://api.anthropic.com",
        .key_env = "ANTHROPIC_API_KEY",
        .docs = "https://docs.anthropic.com/en/api/messages",
        .note = "the client's model passes through unchanged",
        .in_default = true,
    },
    {
        .name = "openrouter",
        .title = "OpenRouter",
        .format = "anthropic",
        .base_url = "https://openrouter.ai/api",
        .auth = "bearer",
        .key_env = "OPENROUTER_API_KEY",
        .docs = "https://openrouter.ai/docs/api-reference/overview",
        .note = "its Anthropic-compatible endpoint; the client's model passes through",
        .in_default = true,
    },
    {
        .name = "deepseek",
        .title = "DeepSeek",
        .format = "anthropic",
        .base_url = "https://api.deepseek.com/anthropic",
        .key_env = "DEEPSEEK_API_KEY",
        .models = {"deepseek-chat", "deepseek-reasoner"},
        .stages = {"deepseek-chat", "deepseek-chat", "deepseek-reasoner", NULL, NULL, NULL},
        .dialect = "deepseek",
        .docs = "https://api-docs.deepseek.com/guides/anthropic_api",
        .note = "no image input",
        .in_default = true,
    },
    {
        .name = "openai",
        .title = "OpenAI",
        .format = "openai-chat",
        .base_url = "https://api.openai.com/v1",
        .key_env = "OPENAI_API_KEY",
        .models = {"gpt-5", "gpt-5-mini"},
        .stages = {"gpt-5", "gpt-5-mini", "gpt-5", NULL, NULL, "gpt-5"},
        .options = "max_tokens_field: max_completion_tokens\nreasoning: effort\n",
        .docs = "https://platform.openai.com/docs/api-reference/chat",
        .in_default = true,
    },
    {
        .name = "gemini",
        .title = "Google Gemini",
        .format = "gemini",
        .base_url = "https://generativelanguage.googleapis.com/v1beta",
        .key_env = "GEMINI_API_KEY",
        .models = {"gemini-2.5-pro", "gemini-2.5-flash"},
        .stages = {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-pro", NULL,
                   "gemini-2.5-pro"},
        .docs = "https://ai.google.dev/api/generate-content",
        .in_default = true,
    },
    {
        .name = "groq",
        .title = "Groq",
        .format = "openai-chat",
        .base_url = "https://api.groq.com/openai/v1",
        .key_env = "GROQ_API_KEY",
        .models = {"openai/gpt-oss-120b", "openai/gpt-oss-20b", "moonshotai/kimi-k2-instruct-0905"},
        .stages = {"openai/gpt-oss-120b", "openai/gpt-oss-20b", "openai/gpt-oss-120b", NULL, NULL,
                   NULL},
        .dialect = "groq",
        .docs = "https://console.groq.com/docs/openai",
    },
    {
        .name = "moonshot",
        .title = "Moonshot (Kimi)",
        .format = "anthropic",
        .base_url = "https://api.moonshot.ai/anthropic",
        .auth = "bearer",
        .key_env = "MOONSHOT_API_KEY",
        .models = {"kimi-k2-0905-preview", "kimi-k2-turbo-preview", "kimi-k2-thinking"},
        .stages = {"kimi-k2-0905-preview", "kimi-k2-turbo-preview", "kimi-k2-thinking", NULL, NULL,
                   NULL},
        .docs = "https://platform.moonshot.ai/docs/guide/agent-support",
        .note = "China: https://api.moonshot.cn/anthropic",
    },
    {
        .name = "zai",
        .title = "Zhipu / Z.ai (GLM)",
        .format = "anthropic",
        .base_url = "https://api.z.ai/api/anthropic",
        .auth = "bearer",
        .key_env = "ZAI_API_KEY",
        .models = {"glm-4.6", "glm-4.5-air"},
        .stages = {"glm-4.6", "glm-4.5-air", "glm-4.6", NULL, NULL, NULL},
        .docs = "https://docs.z.ai/scenario-example/develop-tools/claude",
        .note = "China (Zhipu): https://open.bigmodel.cn/api/anthropic",
    },
    {
        .name = "qwen",
        .title = "Qwen (Alibaba DashScope)",
        .format = "openai-chat",
        .base_url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        .key_env = "DASHSCOPE_API_KEY",
        .models = {"qwen3-coder-plus", "qwen-plus", "qwen-flash"},
        .stages = {"qwen3-coder-plus", "qwen-flash", "qwen-plus", NULL, NULL, NULL},
        .dialect = "qwen",
        .docs = "https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-"
                "dashscope",
        .note = "China: https://dashscope.aliyuncs.com/compatible-mode/v1",
    },
    {
        .name = "minimax",
        .title = "MiniMax",
        .format = "anthropic",
        .base_url = "https://api.minimax.io/anthropic",
        .key_env = "MINIMAX_API_KEY",
        .models = {"MiniMax-M2"},
        .stages = {"MiniMax-M2", "MiniMax-M2", "MiniMax-M2", NULL, NULL, NULL},
        .docs = "https://platform.minimax.io/docs/api-reference/text-anthropic-api",
        .note = "no image input; China: https://api.minimaxi.com/anthropic",
    },
    {
        .name = "together",
        .title = "Together AI",
        .format = "openai-chat",
        .base_url = "https://api.together.xyz/v1",
        .key_env = "TOGETHER_API_KEY",
        .models = {"Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "moonshotai/Kimi-K2-Instruct-0905",
                   "openai/gpt-oss-20b"},
        .stages = {"Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "openai/gpt-oss-20b", NULL, NULL,
                   NULL, NULL},
        .docs = "https://docs.together.ai/docs/openai-api-compatibility",
    },
    {
        .name = "fireworks",
        .title = "Fireworks AI",
        .format = "openai-chat",
        .base_url = "https://api.fireworks.ai/inference/v1",
        .key_env = "FIREWORKS_API_KEY",
        .models = {"accounts/fireworks/models/qwen3-coder-480b-a35b-instruct",
                   "accounts/fireworks/models/kimi-k2-instruct-0905",
                   "accounts/fireworks/models/gpt-oss-20b"},
        .stages = {"accounts/fireworks/models/qwen3-coder-480b-a35b-instruct",
                   "accounts/fireworks/models/gpt-oss-20b", NULL, NULL, NULL, NULL},
        .docs = "https://docs.fireworks.ai/tools-sdks/openai-compatibility",
    },
    {
        .name = "ollama",
        .title = "Ollama (local)",
        .format = "openai-chat",
        .base_url = "http://127.0.0.1:11434/v1",
        .auth = "none",
        .models = {"qwen2.5-coder:7b"},
        .stages = {"qwen2.5-coder:7b", "qwen2.5-coder:7b", NULL, NULL, NULL, NULL},
        .dialect = "ollama",
        .options = "top_k: true\n",
        .docs = "https://github.com/ollama/ollama/blob/main/docs/openai.md",
        .note = "give it a long context: OLLAMA_CONTEXT_LENGTH=32768",
    },
    {
        .name = "lmstudio",
        .title = "LM Studio (local)",
        .format = "openai-chat",
        .base_url = "http://127.0.0.1:1234/v1",
        .auth = "none",
        .models = {"qwen/qwen3-coder-30b"},
        .stages = {"qwen/qwen3-coder-30b", "qwen/qwen3-coder-30b", NULL, NULL, NULL, NULL},
        .options = "top_k: true\n",
        .docs = "https://lmstudio.ai/docs/api/openai-api",
    },
    {
        .name = "vllm",
        .title = "vLLM (local)",
        .format = "openai-chat",
        .base_url = "http://127.0.0.1:8000/v1",
        .auth = "none",
        .models = {"Qwen/Qwen3-Coder-30B-A3B-Instruct"},
        .stages = {"Qwen/Qwen3-Coder-30B-A3B-Instruct", "Qwen/Qwen3-Coder-30B-A3B-Instruct", NULL,
                   NULL, NULL, NULL},
        .options = "top_k: true\n",
        .docs = "https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
        .note = "started with --api-key: set auth: bearer and api_key",
    },
    {
        .name = "llamacpp",
        .title = "llama.cpp server (local)",
        .format = "openai-chat",
        .base_url = "http://127.0.0.1:8080/v1",
        .auth = "none",
        .models = {"local"},
        .stages = {"local", "local", NULL, NULL, NULL, NULL},
        .options = "top_k: true\n",
        .docs = "https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md",
        .note = "serves the one model it loaded, whatever name is asked",
    },
    {
        .name = "openai-responses",
        .title = "OpenAI Responses API",
        .format = "openai-responses",
        .base_url = "https://api.openai.com/v1",
        .key_env = "OPENAI_API_KEY",
        .models = {"gpt-5-codex", "gpt-5-mini"},
        .stages = {"gpt-5-codex", "gpt-5-mini", "gpt-5-codex", NULL, NULL, "gpt-5-codex"},
        .docs = "https://platform.openai.com/docs/api-reference/responses",
        .note = "the codex and pro models are served only by this API; reasoning kept across tool "
                "turns (docs/openai-responses.md)",
    },
    {
        .name = "azure-openai",
        .title = "Azure OpenAI Responses",
        .format = "openai-responses",
        .base_url = "https://RESOURCE.openai.azure.com/openai/v1",
        .auth = "api-key",
        .key_env = "AZURE_OPENAI_API_KEY",
        .docs = "https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/responses",
        .note = "put your resource's name in base_url; the model is your deployment's name",
    },
};

const size_t ccp_provider_catalog_n = sizeof ccp_provider_catalog / sizeof ccp_provider_catalog[0];

const ccp_provider_info *ccp_catalog_find(const char *name)
{
    for (size_t i = 0; i < ccp_provider_catalog_n; i++)
        if (!strcmp(ccp_provider_catalog[i].name, name)) return &ccp_provider_catalog[i];
    return NULL;
}

/* YAML: a plain scalar is fine for every value in the table except those
 * with a ':' followed by a space or a leading special character; the model
 * names hold ':' but never ": ", so quoting only when needed keeps the
 * generated files readable. */
void ccp_catalog_yaml_scalar(ccp_buf *out, const char *s)
{
    bool quote = !*s || strchr("!&*-?{}[]|>'\"%@`#,", s[0]) || strstr(s, ": ") || strstr(s, " #") ||
                 s[strlen(s) - 1] == ':';
    if (!quote) {
        ccp_buf_appends(out, s);
        return;
    }
    ccp_buf_appendc(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') ccp_buf_appendc(out, '\\');
        ccp_buf_appendc(out, *s);
    }
    ccp_buf_appendc(out, '"');
}

void ccp_catalog_provider_yaml(ccp_buf *out, const ccp_provider_info *p, const char *key_env,
                               const char *raw_key, bool comments, bool pipeline)
{
    ccp_catalog_provider_yaml_ex(out, p, key_env, raw_key, comments, pipeline, NULL);
}

void ccp_catalog_provider_yaml_ex(ccp_buf *out, const ccp_provider_info *p, const char *key_env,
                                  const char *raw_key, bool comments, bool pipeline,
                                  const char *const *extra_models)
{
    if (comments) ccp_buf_printf(out, "  # %s — %s\n", p->title, p->docs);
    if (comments && p->note) ccp_buf_printf(out, "  # %s\n", p->note);
    ccp_buf_printf(out, "  - name: %s\n    format: %s\n    base_url: %s\n", p->name, p->format,
                   p->base_url);
    if (p->auth) ccp_buf_printf(out, "    auth: %s\n", p->auth);
    if (!key_env) key_env = p->key_env;
    if (raw_key) {
        ccp_buf_appends(out, "    api_key: ");
        ccp_catalog_yaml_scalar(out, raw_key);
        ccp_buf_appendc(out, '\n');
    } else if (key_env && *key_env) {
        ccp_buf_printf(out, "    api_key: ${%s}\n", key_env);
    }
    if (p->models[0] || (extra_models && extra_models[0])) {
        ccp_buf_appends(out, "    models: [");
        size_t n = 0;
        for (size_t i = 0; p->models[i]; i++, n++) {
            if (n) ccp_buf_appends(out, ", ");
            ccp_catalog_yaml_scalar(out, p->models[i]);
        }
        for (size_t i = 0; extra_models && extra_models[i]; i++, n++) {
            if (n) ccp_buf_appends(out, ", ");
            ccp_catalog_yaml_scalar(out, extra_models[i]);
        }
        ccp_buf_appends(out, "]\n");
    }
    if (p->dialect && pipeline) ccp_buf_printf(out, "    pipeline: %s\n", p->name);
    for (const char *o = p->options; o && *o;) {
        const char *nl = strchr(o, '\n');
        size_t n = nl ? (size_t)(nl - o) : strlen(o);
        ccp_buf_printf(out, "    %.*s\n", (int)n, o);
        o += n + (nl != NULL);
    }
}

void ccp_catalog_pipeline_yaml(ccp_buf *out, const ccp_provider_info *p)
{
    if (p->dialect) ccp_buf_printf(out, "  %s:\n    - %s\n", p->name, p->dialect);
}

static const char *auth_of(const ccp_provider_info *p)
{
    if (p->auth) return p->auth;
    if (!strcmp(p->format, "openai-chat") || !strcmp(p->format, "openai-responses"))
        return "bearer";
    if (!strcmp(p->format, "gemini")) return "x-goog-api-key";
    return "x-api-key";
}

void ccp_catalog_write_text(ccp_buf *out)
{
    ccp_buf_printf(out, "%-16s %-16s %-20s %-55s %s\n", "NAME", "FORMAT", "KEY", "BASE URL",
                   "DEFAULT MODEL");
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        ccp_buf_printf(out, "%-16s %-16s %-20s %-55s %s\n", p->name, p->format,
                       p->key_env ? p->key_env : "(none)", p->base_url,
                       p->stages[CCP_CAT_DEFAULT] ? p->stages[CCP_CAT_DEFAULT]
                                                  : "(client's model)");
    }
}

static void json_str_or_null(ccp_buf *out, const char *s)
{
    if (s)
        ccp_buf_append_json_str(out, s, strlen(s));
    else
        ccp_buf_appends(out, "null");
}

void ccp_catalog_write_json(ccp_buf *out)
{
    ccp_buf_appends(out, "[");
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        ccp_buf_appends(out, i ? ",\n {" : "\n {");
        const char *k[] = {"name", "title",   "format", "base_url",
                           "auth", "key_env", "docs",   "note"};
        const char *v[] = {p->name,    p->title,   p->format, p->base_url,
                           auth_of(p), p->key_env, p->docs,   p->note};
        for (size_t j = 0; j < sizeof k / sizeof k[0]; j++) {
            ccp_buf_printf(out, "%s\"%s\": ", j ? ", " : "", k[j]);
            json_str_or_null(out, v[j]);
        }
        ccp_buf_appends(out, ", \"models\": [");
        for (size_t j = 0; p->models[j]; j++) {
            if (j) ccp_buf_appends(out, ", ");
            json_str_or_null(out, p->models[j]);
        }
        ccp_buf_appends(out, "], \"stages\": {");
        for (size_t j = 0; j < CCP_CAT_N_STAGES; j++) {
            ccp_buf_printf(out, "%s\"%s\": ", j ? ", " : "", ccp_catalog_stage_names[j]);
            json_str_or_null(out, p->stages[j]);
        }
        ccp_buf_appends(out, "}, \"pipeline\": [");
        if (p->dialect) json_str_or_null(out, p->dialect);
        ccp_buf_printf(out, "], \"in_default\": %s}", p->in_default ? "true" : "false");
    }
    ccp_buf_appends(out, "\n]\n");
}

void ccp_catalog_write_markdown(ccp_buf *out)
{
    ccp_buf_appends(
        out,
        "# Providers\n"
        "\n"
        "Generated by `ccproxy providers --markdown` from the catalog in `src/config/catalog.c`;\n"
        "do not edit by hand (a unit test fails when this file is stale).\n"
        "\n"
        "The catalog is what `ccproxy init` offers and what the embedded default config (used\n"
        "when no file is found) is built from. Every row can be written by hand as a\n"
        "`providers:` entry too: the YAML under each one is what `init` writes for it.\n"
        "Model names are proposals: any model the provider serves can be named in a route.\n"
        "\n"
        "| name | provider | format | auth | key variable | default model | pipeline |\n"
        "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        ccp_buf_printf(out, "| [`%s`](#%s) | %s | %s | %s | %s%s%s | %s%s%s | %s%s%s |\n", p->name,
                       p->name, p->title, p->format, auth_of(p), p->key_env ? "`" : "",
                       p->key_env ? p->key_env : "none", p->key_env ? "`" : "",
                       p->stages[0] ? "`" : "", p->stages[0] ? p->stages[0] : "the client's model",
                       p->stages[0] ? "`" : "", p->dialect ? "`" : "",
                       p->dialect ? p->dialect : "—", p->dialect ? "`" : "");
    }
    ccp_buf_appends(out, "\nThe embedded default configures, in this order, each of");
    for (size_t i = 0, n = 0; i < ccp_provider_catalog_n; i++)
        if (ccp_provider_catalog[i].in_default)
            ccp_buf_printf(out, "%s `%s`", n++ ? "," : "", ccp_provider_catalog[i].name);
    ccp_buf_appends(out, " whose key variable is set, and routes to the first one configured.\n");
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        ccp_buf_printf(out, "\n## %s\n\n%s. API documentation: <%s>.", p->name, p->title, p->docs);
        if (p->note) ccp_buf_printf(out, " Note: %s.", p->note);
        ccp_buf_appends(out, "\n\n| stage | proposed model |\n|---|---|\n");
        for (size_t j = 0; j < CCP_CAT_N_STAGES; j++) {
            if (!p->stages[j] && j != CCP_CAT_DEFAULT) continue;
            ccp_buf_printf(
                out, "| `%s` | %s%s%s |\n", ccp_catalog_stage_names[j], p->stages[j] ? "`" : "",
                p->stages[j] ? p->stages[j] : "the client's model", p->stages[j] ? "`" : "");
        }
        ccp_buf_appends(out, "\n```yaml\nproviders:\n");
        ccp_catalog_provider_yaml(out, p, NULL, NULL, false, true);
        if (p->dialect) {
            ccp_buf_appends(out, "pipelines:\n");
            ccp_catalog_pipeline_yaml(out, p);
        }
        ccp_buf_appends(out, "```\n");
    }
}
