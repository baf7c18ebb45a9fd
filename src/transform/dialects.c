/* dialects.c — where an OpenAI- or Anthropic-compatible provider differs
 * from the format: OpenRouter, DeepSeek, Groq, Ollama and Qwen/DashScope.
 * Each is one transformer; a provider's pipeline names the one it needs. */
#include "codec/openai_chat.h"
#include "core/json.h"
#include "transform/transform.h"

#include <stddef.h>
#include <string.h>

#define OPENAI (1u << CCP_FORMAT_OPENAI_CHAT)
#define ANTHROPIC (1u << CCP_FORMAT_ANTHROPIC)

static const char *thinking_type(json_object *req)
{
    return ccp_json_get_str(ccp_json_get_obj(req, "thinking"), "type");
}

static bool thinking_on(json_object *req)
{
    const char *t = thinking_type(req);
    return t && strcmp(t, "disabled") != 0;
}

/* ---- openrouter ---------------------------------------------------------- */

typedef struct openrouter_conf {
    bool reasoning;
    json_object *provider, *transforms;
} openrouter_conf;

static void openrouter_body(const ccp_step *s, json_object *req, json_object *body)
{
    const openrouter_conf *c = s->conf;
    /* OpenRouter's unified reasoning object instead of reasoning_effort. */
    const char *t = thinking_type(req);
    if (c->reasoning && t) {
        json_object *r = json_object_new_object();
        if (!strcmp(t, "enabled"))
            json_object_object_add(r, "max_tokens",
                                   json_object_new_int64(ccp_json_get_int(
                                       ccp_json_get_obj(req, "thinking"), "budget_tokens", 1024)));
        else if (!strcmp(t, "adaptive"))
            json_object_object_add(r, "effort",
                                   json_object_new_string(ccp_openai_reasoning_effort(req)));
        else
            json_object_object_add(r, "enabled", json_object_new_boolean(0));
        json_object_object_add(body, "reasoning", r);
        json_object_object_del(body, "reasoning_effort");
    }
    if (c->provider) json_object_object_add(body, "provider", ccp_tf_config_value(c->provider));
    if (c->transforms)
        json_object_object_add(body, "transforms", ccp_tf_config_value(c->transforms));
}

static int openrouter(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    return ccp_tf_edit_body(out, err, openrouter_body, s, req);
}

static const ccp_opt_spec openrouter_opts[] = {
    {"reasoning", CCP_OPT_BOOL, "true",
     "send thinking as OpenRouter's reasoning object (max_tokens, effort or enabled: false)", NULL,
     offsetof(openrouter_conf, reasoning)},
    {"provider", CCP_OPT_OBJECT, NULL,
     "provider routing preferences, sent as is (order, allow_fallbacks, only, ...)", NULL,
     offsetof(openrouter_conf, provider)},
    {"transforms", CCP_OPT_STRING_LIST, NULL, "OpenRouter transforms, e.g. [middle-out]", NULL,
     offsetof(openrouter_conf, transforms)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_openrouter = {
    .name = "openrouter",
    .conf_size = sizeof(openrouter_conf),
    .summary = "OpenRouter's OpenAI-format dialect: its reasoning object, provider preferences "
               "and transforms.",
    .opts = openrouter_opts,
    .formats = OPENAI,
    .outbound = openrouter,
};

/* ---- deepseek ------------------------------------------------------------ */

typedef struct deepseek_conf {
    int64_t max_tokens, max_tokens_reasoner;
} deepseek_conf;

static int deepseek(const ccp_step *s, json_object *req, ccp_error *err)
{
    const deepseek_conf *c = s->conf;
    const char *model = ccp_json_get_str(req, "model");
    bool reasoner = model && strstr(model, "reasoner");
    int64_t cap = reasoner ? c->max_tokens_reasoner : c->max_tokens;
    int64_t have = ccp_json_get_int(req, "max_tokens", -1);
    if (cap > 0 && have > cap)
        json_object_object_add(req, "max_tokens", json_object_new_int64(cap));
    if (reasoner) {
        /* The reasoner ignores sampling settings and refuses its own
         * reasoning sent back. */
        json_object_object_del(req, "temperature");
        json_object_object_del(req, "top_p");
        json_object_object_del(req, "top_k");
    }
    /* Thinking from another provider carries a signature DeepSeek cannot
     * check. */
    ccp_tf_drop_thinking_blocks(req);
    (void)err;
    return 0;
}

static const ccp_opt_spec deepseek_opts[] = {
    {"max_tokens", CCP_OPT_INT, "8192", "max_tokens cap for deepseek-chat", NULL,
     offsetof(deepseek_conf, max_tokens)},
    {"max_tokens_reasoner", CCP_OPT_INT, "65536", "max_tokens cap for deepseek-reasoner", NULL,
     offsetof(deepseek_conf, max_tokens_reasoner)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_deepseek = {
    .name = "deepseek",
    .summary = "DeepSeek: caps max_tokens per model, drops sampling settings for the reasoner "
               "and thinking blocks from the history.",
    .opts = deepseek_opts,
    .conf_size = sizeof(deepseek_conf),
    .formats = OPENAI | ANTHROPIC,
    .request = deepseek,
};

/* ---- groq ---------------------------------------------------------------- */

typedef struct groq_conf {
    const char *reasoning_format, *reasoning_effort;
} groq_conf;

static void groq_body(const ccp_step *s, json_object *req, json_object *body)
{
    const groq_conf *c = s->conf;
    const char *rf = c->reasoning_format;
    if (rf && thinking_on(req))
        json_object_object_add(body, "reasoning_format", json_object_new_string(rf));
    const char *re = c->reasoning_effort;
    if (re && !strcmp(re, "remove"))
        json_object_object_del(body, "reasoning_effort");
    else if (re && json_object_object_get_ex(body, "reasoning_effort", NULL))
        json_object_object_add(body, "reasoning_effort", json_object_new_string(re));
    /* Groq refuses these OpenAI fields outright. */
    static const char *const refused[] = {"logprobs", "logit_bias", "top_logprobs", "top_k"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        json_object_object_del(body, refused[i]);
}

static int groq(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    return ccp_tf_edit_body(out, err, groq_body, s, req);
}

static const char *const groq_formats[] = {"hidden", "raw", "parsed", NULL};
static const ccp_opt_spec groq_opts[] = {
    {"reasoning_format", CCP_OPT_STRING, NULL,
     "for reasoning models, when thinking is on: parsed returns reasoning as a thinking block",
     groq_formats, offsetof(groq_conf, reasoning_format)},
    {"reasoning_effort", CCP_OPT_STRING, NULL,
     "replace reasoning_effort with this value (e.g. default for Qwen3 on Groq), or remove it",
     NULL, offsetof(groq_conf, reasoning_effort)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_groq = {
    .name = "groq",
    .summary = "Groq: reasoning_format for its reasoning models, its reasoning_effort values, "
               "and no fields it refuses.",
    .opts = groq_opts,
    .conf_size = sizeof(groq_conf),
    .formats = OPENAI,
    .outbound = groq,
};

/* ---- ollama -------------------------------------------------------------- */

typedef struct ollama_conf {
    const char *reasoning;
} ollama_conf;

static void ollama_body(const ccp_step *s, json_object *req, json_object *body)
{
    const char *mode = ((const ollama_conf *)s->conf)->reasoning;
    json_object_object_del(body, "reasoning_effort");
    if (!strcmp(mode, "auto")) {
        const char *e = thinking_on(req) ? ccp_openai_reasoning_effort(req) : NULL;
        if (e) json_object_object_add(body, "reasoning_effort", json_object_new_string(e));
    } else if (strcmp(mode, "off") != 0) {
        json_object_object_add(body, "reasoning_effort", json_object_new_string(mode));
    }
    /* Ollama's OpenAI endpoint takes neither of these. */
    json_object_object_del(body, "parallel_tool_calls");
    json_object_object_del(body, "top_k");
}

static int ollama(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    return ccp_tf_edit_body(out, err, ollama_body, s, req);
}

static const char *const ollama_modes[] = {"auto", "off", "low", "medium", "high", NULL};
static const ccp_opt_spec ollama_opts[] = {
    {"reasoning", CCP_OPT_STRING, "\"auto\"",
     "auto: reasoning_effort from Claude Code's thinking; off: never; or a fixed effort",
     ollama_modes, offsetof(ollama_conf, reasoning)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_ollama = {
    .name = "ollama",
    .summary = "Ollama's OpenAI endpoint: thinking control through reasoning_effort, and no "
               "fields it does not take. (Its context length is set on the Ollama server: "
               "OLLAMA_CONTEXT_LENGTH.)",
    .opts = ollama_opts,
    .conf_size = sizeof(ollama_conf),
    .formats = OPENAI,
    .outbound = ollama,
};

/* ---- qwen (DashScope) ---------------------------------------------------- */

typedef struct qwen_conf {
    int64_t max_budget;
    bool non_stream_thinking;
} qwen_conf;

static void qwen_body(const ccp_step *s, json_object *req, json_object *body)
{
    const qwen_conf *c = s->conf;
    bool on = thinking_on(req);
    /* DashScope takes thinking in non-streaming calls only for some models. */
    if (!ccp_json_get_bool(body, "stream", false) && !c->non_stream_thinking) on = false;
    json_object_object_add(body, "enable_thinking", json_object_new_boolean(on));
    const char *t = thinking_type(req);
    if (on && t && !strcmp(t, "enabled")) {
        int64_t b = ccp_json_get_int(ccp_json_get_obj(req, "thinking"), "budget_tokens", 0);
        int64_t max = c->max_budget;
        if (max > 0 && b > max) b = max;
        if (b > 0) json_object_object_add(body, "thinking_budget", json_object_new_int64(b));
    }
    json_object_object_del(body, "reasoning_effort");
}

static int qwen(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    return ccp_tf_edit_body(out, err, qwen_body, s, req);
}

static const ccp_opt_spec qwen_opts[] = {
    {"max_budget", CCP_OPT_INT, NULL, "cap on thinking_budget", NULL,
     offsetof(qwen_conf, max_budget)},
    {"non_stream_thinking", CCP_OPT_BOOL, "false",
     "allow thinking in non-streaming calls (some Qwen models refuse it)", NULL,
     offsetof(qwen_conf, non_stream_thinking)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_qwen = {
    .name = "qwen",
    .summary = "Qwen on DashScope (OpenAI mode): thinking as enable_thinking and "
               "thinking_budget.",
    .opts = qwen_opts,
    .conf_size = sizeof(qwen_conf),
    .formats = OPENAI,
    .outbound = qwen,
};
