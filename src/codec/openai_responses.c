/* openai_responses.c — Anthropic Messages request → OpenAI Responses API
 * request, and the codec table. Built as a new json-c document that shares
 * the request's subtrees (schemas, strings) by reference, not by copy.
 *
 * The conversation becomes a flat list of input items in the order of the
 * Anthropic blocks: a thinking block this codec signed becomes a
 * `reasoning` item, text becomes a `message`, tool_use a `function_call`,
 * tool_result a `function_call_output`. Keeping the block order puts each
 * reasoning item right before the call it led to, as OpenAI wants it. */
#include "codec/openai_responses.h"

#include "codec/encode_common.h"
#include "codec/openai_chat.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"

#include <openssl/evp.h>
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

static json_object *strn(const char *s, size_t n)
{
    return json_object_new_string_len(s ? s : "", (int)n);
}

/* {type: message, role, content: parts}; takes parts. */
static json_object *message(const char *role, json_object *parts)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type", str("message"));
    json_object_object_add(m, "role", str(role));
    json_object_object_add(m, "content", parts);
    return m;
}

static json_object *text_part(const char *type, json_object *text)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", str(type));
    json_object_object_add(p, "text", ref(text));
    return p;
}

/* An Anthropic image block → an input_image part, or NULL. */
static json_object *image_part(json_object *blk)
{
    ccp_buf url = CCP_BUF_INIT;
    if (!ccp_image_url(blk, &url)) return NULL;
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", str("input_image"));
    json_object_object_add(p, "image_url", strn(url.data, url.len));
    json_object_object_add(p, "detail", str("auto"));
    ccp_buf_free(&url);
    return p;
}

/* An Anthropic document block → an input_file part (base64 PDF) or an
 * input_text part (plain text source), or NULL for what has no
 * counterpart (logged). */
static json_object *document_part(json_object *blk)
{
    json_object *src = ccp_json_get_obj(blk, "source");
    const char *type = ccp_json_get_str(src, "type");
    const char *mt = ccp_json_get_str(src, "media_type");
    json_object *data = ccp_json_get(src, "data");
    if (type && !strcmp(type, "text") && data && json_object_is_type(data, json_type_string))
        return text_part("input_text", data);
    if (type && !strcmp(type, "base64") && mt && data &&
        json_object_is_type(data, json_type_string)) {
        ccp_buf url = CCP_BUF_INIT;
        ccp_buf_printf(&url, "data:%s;base64,%s", mt, json_object_get_string(data));
        const char *title = ccp_json_get_str(blk, "title");
        json_object *p = json_object_new_object();
        json_object_object_add(p, "type", str("input_file"));
        json_object_object_add(p, "filename", str(title ? title : "document.pdf"));
        json_object_object_add(p, "file_data", strn(url.data, url.len));
        ccp_buf_free(&url);
        return p;
    }
    ccp_log_info("openai-responses: dropping a document block of source type %s",
                 type ? type : "?");
    return NULL;
}

/* tool_result → a function_call_output item. Its text becomes the output
 * string; its images go to the user message that follows (img_parts), as
 * not every Responses server takes images in a tool output. */
static json_object *call_output(json_object *blk, json_object *img_parts)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_tool_result_text(&b, blk, image_part, img_parts);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", str("function_call_output"));
    json_object_object_add(o, "call_id", ref(ccp_json_get(blk, "tool_use_id")));
    json_object_object_add(o, "output", strn(b.data, b.len));
    ccp_buf_free(&b);
    return o;
}

static void add_user(json_object *out, json_object *msg)
{
    json_object *content = ccp_json_get(msg, "content");
    json_object *parts = json_object_new_array();
    if (json_object_is_type(content, json_type_string)) {
        if (json_object_get_string_len(content))
            json_object_array_add(parts, text_part("input_text", content));
    }
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(blk, "type");
        json_object *p = NULL;
        if (!type) continue;
        if (!strcmp(type, "tool_result")) {
            json_object_array_add(out, call_output(blk, parts));
        } else if (!strcmp(type, "text")) {
            json_object *t = ccp_json_get(blk, "text");
            if (t && json_object_get_string_len(t)) p = text_part("input_text", t);
        } else if (!strcmp(type, "image")) {
            p = image_part(blk);
        } else if (!strcmp(type, "document")) {
            p = document_part(blk);
        }
        if (p) json_object_array_add(parts, p);
    }
    if (json_object_array_length(parts))
        json_object_array_add(out, message("user", parts));
    else
        json_object_put(parts);
}

/* A reasoning item from a thinking block whose signature this codec made
 * ("oai-rs:<id>:<encrypted_content>"), or NULL for any other thinking
 * (another provider's, or Anthropic's), which OpenAI could not verify.
 * Without encrypted content the id refers to stored state, so such an
 * item goes only to a provider with store: true. */
static json_object *reasoning_item(json_object *blk, bool store)
{
    const char *sig = ccp_json_get_str(blk, "signature");
    size_t ml = sizeof CCP_RESPONSES_SIG_MARK - 1;
    if (!sig || strncmp(sig, CCP_RESPONSES_SIG_MARK, ml) != 0) return NULL;
    const char *id = sig + ml, *colon = strchr(id, ':');
    if (!colon || colon == id || (!colon[1] && !store)) return NULL;
    json_object *r = json_object_new_object();
    json_object_object_add(r, "type", str("reasoning"));
    json_object_object_add(r, "id", strn(id, (size_t)(colon - id)));
    json_object *summary = json_object_new_array();
    json_object *t = ccp_json_get(blk, "thinking");
    if (t && json_object_get_string_len(t))
        json_object_array_add(summary, text_part("summary_text", t));
    json_object_object_add(r, "summary", summary);
    if (colon[1]) json_object_object_add(r, "encrypted_content", str(colon + 1));
    return r;
}

/* Appends the assistant text gathered so far as one message item. */
static void flush_text(json_object *out, ccp_buf *text)
{
    if (!text->len) return;
    json_object *parts = json_object_new_array();
    json_object *p = json_object_new_object();
    json_object_object_add(p, "type", str("output_text"));
    json_object_object_add(p, "text", strn(text->data, text->len));
    json_object_array_add(parts, p);
    json_object_array_add(out, message("assistant", parts));
    ccp_buf_reset(text);
}

/* Moves the reasoning items waiting in pending to out: the item that
 * follows them is about to be added. */
static void flush_pending(json_object *out, json_object *pending)
{
    size_t n = json_object_array_length(pending);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(out, ref(json_object_array_get_idx(pending, i)));
    if (n) json_object_array_del_idx(pending, 0, n);
}

static void add_assistant(json_object *out, json_object *msg, bool store)
{
    json_object *content = ccp_json_get(msg, "content");
    ccp_buf text = CCP_BUF_INIT;
    /* OpenAI refuses a reasoning item that nothing follows, so each waits
     * for the next item of its message and is dropped if none comes. */
    json_object *pending = json_object_new_array();
    if (content && json_object_is_type(content, json_type_string))
        ccp_append_text(&text, content, "");
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(blk, "type");
        if (!type) continue;
        if (!strcmp(type, "text")) {
            json_object *t = ccp_json_get(blk, "text");
            if (t && json_object_get_string_len(t)) {
                flush_pending(out, pending); /* the text follows them */
                ccp_buf_append(&text, json_object_get_string(t),
                               (size_t)json_object_get_string_len(t));
            }
        } else if (!strcmp(type, "thinking")) {
            json_object *r = reasoning_item(blk, store);
            if (r) {
                flush_text(out, &text);
                json_object_array_add(pending, r);
            }
        } else if (!strcmp(type, "tool_use")) {
            flush_text(out, &text);
            json_object *call = json_object_new_object();
            json_object_object_add(call, "type", str("function_call"));
            json_object_object_add(call, "call_id", ref(ccp_json_get(blk, "id")));
            json_object_object_add(call, "name", ref(ccp_json_get(blk, "name")));
            json_object_object_add(call, "arguments", ccp_tool_arguments(blk));
            flush_pending(out, pending);
            json_object_array_add(out, call);
        }
        /* redacted_thinking and other providers' thinking are not sent:
         * OpenAI accepts only its own encrypted reasoning. */
    }
    flush_text(out, &text);
    if (json_object_array_length(pending))
        ccp_log_debug("openai-responses: dropping %zu reasoning item(s) nothing followed",
                      json_object_array_length(pending));
    json_object_put(pending);
    ccp_buf_free(&text);
}

/* Anthropic tools → flat function tools. strict is false unless the tool
 * asks for it: the Responses API makes function tools strict by default,
 * and strict mode refuses the optional properties of most tool schemas. */
static json_object *map_tools(json_object *tools)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0; i < ccp_json_arr_len(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        if (ccp_tool_is_server_tool(t, "openai-responses")) continue;
        json_object *fn = json_object_new_object();
        json_object_object_add(fn, "type", str("function"));
        ccp_tool_add_name(fn, t);
        json_object_object_add(fn, "parameters", ref(ccp_json_get_obj(t, "input_schema")));
        json_object_object_add(fn, "strict",
                               json_object_new_boolean(ccp_json_get_bool(t, "strict", false)));
        json_object_array_add(out, fn);
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
        json_object *o = json_object_new_object();
        json_object_object_add(o, "type", str("function"));
        json_object_object_add(o, "name", ref(ccp_json_get(tc, "name")));
        return o;
    }
    return NULL;
}

/* metadata.user_id as OpenAI takes it: at most 64 characters, so a longer
 * one (Claude Code's is) is sent as its SHA-256 in hex — stable per user,
 * which is all the field is for. A new string. */
static json_object *user_ident(const char *uid)
{
    size_t n = strlen(uid);
    if (n <= 64) return str(uid);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdl = 0;
    char hex[65];
    if (!EVP_Digest(uid, n, md, &mdl, EVP_sha256(), NULL) || mdl != 32) return NULL;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    hex[64] = '\0';
    return str(hex);
}

static const char *const summaries[] = {"auto", "concise", "detailed", "none", NULL};

static int encode(const ccp_encode_ctx *ctx, ccp_outbound *out, ccp_error *err)
{
    const ccp_provider *p = ctx->provider;
    const ccp_openai_responses_opts *opts = p->codec_opts;
    json_object *req = ctx->request;
    char *m;
    int rc = ccp_encode_begin(ctx, &m, err);
    if (rc) return rc;

    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", str(m));
    free(m);

    ccp_buf sys = CCP_BUF_INIT;
    ccp_append_text(&sys, ccp_json_get(req, "system"), "\n\n");
    if (sys.len) json_object_object_add(o, "instructions", strn(sys.data, sys.len));
    ccp_buf_free(&sys);

    json_object *input = json_object_new_array();
    json_object *in = ccp_json_get_arr(req, "messages");
    for (size_t i = 0; i < ccp_json_arr_len(in); i++) {
        json_object *msg = json_object_array_get_idx(in, i);
        const char *role = ccp_json_get_str(msg, "role");
        if (!role) continue;
        if (!strcmp(role, "user")) {
            add_user(input, msg);
        } else if (!strcmp(role, "assistant")) {
            add_assistant(input, msg, opts->store);
        } else if (!strcmp(role, "system")) {
            /* A mid-conversation system message stays where it is. */
            ccp_buf b = CCP_BUF_INIT;
            ccp_append_text(&b, ccp_json_get(msg, "content"), "\n\n");
            if (b.len) {
                json_object *parts = json_object_new_array();
                json_object *t = strn(b.data, b.len);
                json_object_array_add(parts, text_part("input_text", t));
                json_object_put(t);
                json_object_array_add(input, message("system", parts));
            }
            ccp_buf_free(&b);
        }
    }
    json_object_object_add(o, "input", input);

    ccp_openai_add_tools(o, req, map_tools, map_tool_choice);
    ccp_json_copy_field(o, "max_output_tokens", req, "max_tokens");
    if (opts->sampling) {
        ccp_json_copy_field(o, "temperature", req, "temperature");
        ccp_json_copy_field(o, "top_p", req, "top_p");
    }
    const char *effort = ccp_openai_reasoning_effort(req);
    if (effort) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "effort", str(effort));
        if (opts->reasoning_summary != CCP_RSUMMARY_NONE)
            json_object_object_add(r, "summary", str(summaries[opts->reasoning_summary]));
        json_object_object_add(o, "reasoning", r);
    }
    json_object *schema = ccp_output_schema(req);
    if (schema) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "type", str("json_schema"));
        json_object_object_add(f, "name", str("output"));
        json_object_object_add(f, "schema", ref(schema));
        json_object_object_add(f, "strict", json_object_new_boolean(0));
        json_object *text = json_object_new_object();
        json_object_object_add(text, "format", f);
        json_object_object_add(o, "text", text);
    }
    const char *uid = ccp_json_get_str(ccp_json_get_obj(req, "metadata"), "user_id");
    json_object *ident = uid && *uid ? user_ident(uid) : NULL;
    if (ident)
        json_object_object_add(o, opts->safety_identifier ? "safety_identifier" : "user", ident);
    /* Stateless unless configured otherwise: nothing kept at OpenAI, and
     * the reasoning comes back encrypted to be replayed next turn. */
    json_object_object_add(o, "store", json_object_new_boolean(opts->store));
    if (!opts->store) {
        json_object *inc = json_object_new_array();
        json_object_array_add(inc, str("reasoning.encrypted_content"));
        json_object_object_add(o, "include", inc);
    }
    if (ctx->stream) json_object_object_add(o, "stream", json_object_new_boolean(1));

    out->json = o;

    ccp_outbound_set_url(out, p->base_url, "/responses");
    if (opts->api_version && *opts->api_version) {
        ccp_buf_appends(&out->url, "?api-version=");
        ccp_url_append_path(&out->url, opts->api_version);
    }
    ccp_outbound_add_header(out, "content-type", "application/json");
    ccp_encode_end_headers(out, ctx);
    return 0;
}

const char *ccp_responses_error_type(const char *code)
{
    if (!code) return "api_error";
    if (!strcmp(code, "rate_limit_exceeded") || !strcmp(code, "insufficient_quota"))
        return "rate_limit_error";
    if (!strcmp(code, "server_is_overloaded") || !strcmp(code, "slow_down"))
        return "overloaded_error";
    if (!strcmp(code, "invalid_prompt") || !strcmp(code, "context_length_exceeded") ||
        !strcmp(code, "invalid_request_error") || !strncmp(code, "invalid_", 8))
        return "invalid_request_error";
    if (!strcmp(code, "invalid_api_key") || !strcmp(code, "authentication_error"))
        return "authentication_error";
    return "api_error";
}

#define OPT(f) offsetof(ccp_openai_responses_opts, f)
static const ccp_key opts_keys[] = {
    {.name = "api_version",
     .type = CCP_KEY_STR,
     .offset = OPT(api_version),
     .doc_def = "none",
     .help = "sent as `?api-version=` (Azure OpenAI's preview surface wants `preview`; its v1 "
             "API and OpenAI need none)"},
    {.name = "reasoning_summary",
     .type = CCP_KEY_ENUM,
     .offset = OPT(reasoning_summary),
     .def = "auto",
     .choices = summaries,
     .help = "the reasoning summary asked for when thinking is on; it becomes the thinking "
             "text (`none`: not asked for)"},
    {.name = "store",
     .type = CCP_KEY_BOOL,
     .offset = OPT(store),
     .def = "false",
     .help = "let OpenAI store responses (`store: true`); by default requests are stateless "
             "and the encrypted reasoning travels in the thinking block's signature"},
    {.name = "sampling",
     .type = CCP_KEY_BOOL,
     .offset = OPT(sampling),
     .def = "false",
     .help = "send `temperature` and `top_p` (OpenAI's reasoning models refuse them)"},
    {.name = "safety_identifier",
     .type = CCP_KEY_BOOL,
     .offset = OPT(safety_identifier),
     .def = "true",
     .help = "send `metadata.user_id` as `safety_identifier` (`false`: as the older `user`)"},
};

const ccp_codec ccp_codec_openai_responses = {
    .name = "openai-responses",
    .format = CCP_FORMAT_OPENAI_RESPONSES,
    .summary = "OpenAI's Responses API (and Azure OpenAI's), stateless, reasoning kept",
    .default_auth = CCP_AUTH_BEARER,
    .opts = opts_keys,
    .n_opts = sizeof opts_keys / sizeof opts_keys[0],
    .opts_size = sizeof(ccp_openai_responses_opts),
    .encode = encode,
    .decoder_new = ccp_responses_decoder_new,
    .decoder_feed = ccp_responses_decoder_feed,
    .decoder_finish = ccp_responses_decoder_finish,
    .decoder_free = ccp_responses_decoder_free,
    .map_error = ccp_openai_map_error,
};
