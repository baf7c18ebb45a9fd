/* openai_chat.c — Anthropic Messages request → OpenAI Chat Completions
 * request, and the codec table. Built as a new json-c document that shares
 * the request's subtrees (schemas, strings) by reference, not by copy. */
#include "codec/openai_chat.h"

#include "codec/anthropic.h"
#include "codec/encode_common.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static json_object *ref(json_object *o)
{
    return json_object_get(o);
}

static json_object *str(const char *s)
{
    return json_object_new_string(s);
}

static json_object *message(const char *role, json_object *content)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "role", str(role));
    if (content) json_object_object_add(m, "content", content);
    return m;
}

static json_object *text_part(json_object *text)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", str("text"));
    json_object_object_add(p, "text", ref(text));
    return p;
}

/* An Anthropic image block → an OpenAI image_url part, or NULL. */
static json_object *image_part(json_object *blk)
{
    ccp_buf url = CCP_BUF_INIT;
    if (!ccp_image_url(blk, &url)) return NULL;
    json_object *iu = json_object_new_object();
    json_object_object_add(iu, "url", json_object_new_string_len(url.data, (int)url.len));
    ccp_buf_free(&url);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", str("image_url"));
    json_object_object_add(p, "image_url", iu);
    return p;
}

/* The user parts collected from one Anthropic user message: as a plain
 * string when all are text (what every OpenAI-compatible server takes),
 * else as a parts array. NULL when empty. Consumes parts. */
static json_object *user_content(json_object *parts)
{
    size_t n = json_object_array_length(parts);
    if (n == 0) {
        json_object_put(parts);
        return NULL;
    }
    bool all_text = true;
    for (size_t i = 0; i < n && all_text; i++)
        all_text = !strcmp(ccp_json_get_str(json_object_array_get_idx(parts, i), "type"), "text");
    if (!all_text) return parts;
    ccp_buf b = CCP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (i) ccp_buf_appends(&b, "\n\n");
        json_object *t = ccp_json_get(json_object_array_get_idx(parts, i), "text");
        ccp_buf_append(&b, json_object_get_string(t), (size_t)json_object_get_string_len(t));
    }
    json_object_put(parts);
    json_object *s = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
    ccp_buf_free(&b);
    return s;
}

/* tool_result → a `tool` message; its images go to the user message that
 * follows (tool messages take text only on most servers). */
static json_object *tool_message(json_object *blk, json_object *user_parts)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_tool_result_text(&b, blk, image_part, user_parts);
    json_object *m = message("tool", json_object_new_string_len(b.data ? b.data : "", (int)b.len));
    ccp_buf_free(&b);
    json_object_object_add(m, "tool_call_id", ref(ccp_json_get(blk, "tool_use_id")));
    return m;
}

static void add_user(json_object *out, json_object *msg)
{
    json_object *content = ccp_json_get(msg, "content");
    if (json_object_is_type(content, json_type_string)) {
        if (json_object_get_string_len(content))
            json_object_array_add(out, message("user", ref(content)));
        return;
    }
    json_object *parts = json_object_new_array();
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(blk, "type");
        if (!type) continue;
        if (!strcmp(type, "tool_result")) {
            json_object_array_add(out, tool_message(blk, parts));
        } else if (!strcmp(type, "text")) {
            json_object *t = ccp_json_get(blk, "text");
            if (t && json_object_get_string_len(t)) json_object_array_add(parts, text_part(t));
        } else if (!strcmp(type, "image")) {
            json_object *img = image_part(blk);
            if (img) json_object_array_add(parts, img);
        }
    }
    json_object *c = user_content(parts);
    if (c) json_object_array_add(out, message("user", c));
}

static void add_assistant(json_object *out, json_object *msg, bool with_reasoning)
{
    json_object *content = ccp_json_get(msg, "content");
    ccp_buf text = CCP_BUF_INIT, reasoning = CCP_BUF_INIT;
    json_object *calls = NULL;
    if (content && json_object_is_type(content, json_type_string)) {
        ccp_append_text(&text, content, "");
    } else {
        for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
            json_object *blk = json_object_array_get_idx(content, i);
            const char *type = ccp_json_get_str(blk, "type");
            if (!type) continue;
            if (!strcmp(type, "text")) {
                json_object *t = ccp_json_get(blk, "text");
                if (t)
                    ccp_buf_append(&text, json_object_get_string(t),
                                   (size_t)json_object_get_string_len(t));
            } else if (!strcmp(type, "tool_use")) {
                json_object *fn = json_object_new_object();
                json_object_object_add(fn, "name", ref(ccp_json_get(blk, "name")));
                json_object_object_add(fn, "arguments", ccp_tool_arguments(blk));
                json_object *call = json_object_new_object();
                json_object_object_add(call, "id", ref(ccp_json_get(blk, "id")));
                json_object_object_add(call, "type", str("function"));
                json_object_object_add(call, "function", fn);
                if (!calls) calls = json_object_new_array();
                json_object_array_add(calls, call);
            } else if (!strcmp(type, "thinking") && with_reasoning) {
                json_object *t = ccp_json_get(blk, "thinking");
                if (t)
                    ccp_buf_append(&reasoning, json_object_get_string(t),
                                   (size_t)json_object_get_string_len(t));
            }
            /* Otherwise thinking and redacted_thinking are not sent back:
             * most providers reject reasoning in their input. */
        }
    }
    if (text.len || calls) {
        json_object *m = message(
            "assistant", text.len ? json_object_new_string_len(text.data, (int)text.len) : NULL);
        if (!text.len) json_object_object_add(m, "content", NULL);
        if (calls) json_object_object_add(m, "tool_calls", calls);
        if (reasoning.len)
            json_object_object_add(m, "reasoning_content",
                                   json_object_new_string_len(reasoning.data, (int)reasoning.len));
        json_object_array_add(out, m);
    }
    ccp_buf_free(&text);
    ccp_buf_free(&reasoning);
}

const char *ccp_openai_reasoning_effort(json_object *req)
{
    json_object *th = ccp_json_get_obj(req, "thinking");
    const char *type = ccp_json_get_str(th, "type");
    if (!type || !strcmp(type, "disabled")) return NULL;
    if (!strcmp(type, "enabled")) {
        int64_t budget = ccp_json_get_int(th, "budget_tokens", 0);
        return budget < 4096 ? "low" : budget < 16384 ? "medium" : "high";
    }
    /* adaptive: the request's effort setting, if any */
    const char *effort = ccp_json_get_str(ccp_json_get_obj(req, "output_config"), "effort");
    if (effort && (!strcmp(effort, "low") || !strcmp(effort, "medium"))) return effort;
    if (effort && (!strcmp(effort, "high") || !strcmp(effort, "max"))) return "high";
    return "medium";
}

static json_object *map_tools(json_object *tools)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < ccp_json_arr_len(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        if (ccp_tool_is_server_tool(t, "openai-chat")) continue;
        json_object *schema = ccp_json_get_obj(t, "input_schema");
        json_object *fn = json_object_new_object();
        ccp_tool_add_name(fn, t);
        json_object_object_add(fn, "parameters", ref(schema));
        json_object *w = json_object_new_object();
        json_object_object_add(w, "type", str("function"));
        json_object_object_add(w, "function", fn);
        json_object_array_add(out, w);
    }
    return out;
}

static json_object *map_tool_choice(json_object *tc)
{
    const char *type = ccp_json_get_str(tc, "type");
    if (!type) return NULL;
    const char *mode = ccp_openai_tool_choice_mode(type);
    if (mode) return str(mode);
    if (!strcmp(type, "tool")) {
        json_object *fn = json_object_new_object();
        json_object_object_add(fn, "name", ref(ccp_json_get(tc, "name")));
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", str("function"));
        json_object_object_add(o, "function", fn);
        return o;
    }
    return NULL;
}

static int encode(const ccp_encode_ctx *ctx, ccp_outbound *out, ccp_error *err)
{
    const ccp_provider *p = ctx->provider;
    const ccp_openai_chat_opts *opts = p->codec_opts;
    json_object *req = ctx->request;
    char *m;
    int rc = ccp_encode_begin(ctx, &m, err);
    if (rc) return rc;

    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", str(m));
    free(m);

    json_object *msgs = json_object_new_array();
    ccp_buf sys = CCP_BUF_INIT;
    ccp_append_text(&sys, ccp_json_get(req, "system"), "\n\n");
    if (sys.len)
        json_object_array_add(
            msgs, message("system", json_object_new_string_len(sys.data, (int)sys.len)));
    ccp_buf_free(&sys);
    json_object *in = ccp_json_get_arr(req, "messages");
    for (size_t i = 0; i < ccp_json_arr_len(in); i++) {
        json_object *msg = json_object_array_get_idx(in, i);
        const char *role = ccp_json_get_str(msg, "role");
        if (!role) continue;
        if (!strcmp(role, "user")) {
            add_user(msgs, msg);
        } else if (!strcmp(role, "assistant")) {
            add_assistant(msgs, msg, opts->reasoning_history);
        } else if (!strcmp(role, "system")) {
            /* A mid-conversation system message stays where it is. */
            ccp_buf b = CCP_BUF_INIT;
            ccp_append_text(&b, ccp_json_get(msg, "content"), "\n\n");
            if (b.len)
                json_object_array_add(
                    msgs, message("system", json_object_new_string_len(b.data, (int)b.len)));
            ccp_buf_free(&b);
        }
    }
    json_object_object_add(o, "messages", msgs);

    ccp_openai_add_tools(o, req, map_tools, map_tool_choice);
    ccp_json_copy_field(o, opts->max_tokens_field ? "max_completion_tokens" : "max_tokens", req,
                        "max_tokens");
    ccp_json_copy_field(o, "temperature", req, "temperature");
    ccp_json_copy_field(o, "top_p", req, "top_p");
    if (opts->top_k) ccp_json_copy_field(o, "top_k", req, "top_k");
    ccp_json_copy_field(o, "stop", req, "stop_sequences");
    ccp_json_copy_field(o, "user", ccp_json_get_obj(req, "metadata"), "user_id");
    if (opts->reasoning == CCP_REASONING_EFFORT) {
        const char *effort = ccp_openai_reasoning_effort(req);
        if (effort) json_object_object_add(o, "reasoning_effort", str(effort));
    }
    json_object *schema = ccp_output_schema(req);
    if (schema) {
        json_object *js = json_object_new_object();
        json_object_object_add(js, "name", str("output"));
        json_object_object_add(js, "schema", ref(schema));
        json_object *rf = json_object_new_object();
        json_object_object_add(rf, "type", str("json_schema"));
        json_object_object_add(rf, "json_schema", js);
        json_object_object_add(o, "response_format", rf);
    }
    if (ctx->stream) {
        json_object_object_add(o, "stream", json_object_new_boolean(1));
        json_object *so = json_object_new_object();
        json_object_object_add(so, "include_usage", json_object_new_boolean(1));
        json_object_object_add(o, "stream_options", so);
    }

    out->json = o;

    ccp_outbound_set_url(out, p->base_url, "/chat/completions");
    ccp_outbound_add_header(out, "content-type", "application/json");
    ccp_encode_end_headers(out, ctx);
    return 0;
}

static const char *const max_tokens_fields[] = {"max_tokens", "max_completion_tokens", NULL};
static const char *const reasonings[] = {"none", "effort", NULL};

#define OPT(f) offsetof(ccp_openai_chat_opts, f)
static const ccp_key opts_keys[] = {
    {.name = "max_tokens_field",
     .type = CCP_KEY_ENUM,
     .offset = OPT(max_tokens_field),
     .def = "max_tokens",
     .choices = max_tokens_fields,
     .help = "the field `max_tokens` is sent as (OpenAI's reasoning models need "
             "`max_completion_tokens`)"},
    {.name = "reasoning",
     .type = CCP_KEY_ENUM,
     .offset = OPT(reasoning),
     .def = "none",
     .choices = reasonings,
     .help = "`effort` maps Claude Code's `thinking` to `reasoning_effort` "
             "([how](openai-chat.md#thinking--reasoning_effort))"},
    {.name = "top_k",
     .type = CCP_KEY_BOOL,
     .offset = OPT(top_k),
     .def = "false",
     .help = "send `top_k` (OpenAI rejects it; vLLM, Ollama, llama.cpp take it)"},
    {.name = "reasoning_history",
     .type = CCP_KEY_BOOL,
     .offset = OPT(reasoning_history),
     .def = "false",
     .help = "send earlier thinking back as `reasoning_content`"},
};

const ccp_codec ccp_codec_openai_chat = {
    .name = "openai-chat",
    .format = CCP_FORMAT_OPENAI_CHAT,
    .summary = "OpenAI Chat Completions and the servers that copy it",
    .default_auth = CCP_AUTH_BEARER,
    .opts = opts_keys,
    .n_opts = sizeof opts_keys / sizeof opts_keys[0],
    .opts_size = sizeof(ccp_openai_chat_opts),
    .encode = encode,
    .decoder_new = ccp_openai_decoder_new,
    .decoder_feed = ccp_openai_decoder_feed,
    .decoder_finish = ccp_openai_decoder_finish,
    .decoder_free = ccp_openai_decoder_free,
    .map_error = ccp_openai_map_error,
};
