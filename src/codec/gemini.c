/* gemini.c — Anthropic Messages request → Gemini generateContent request,
 * and the codec table. */
#include "codec/gemini.h"

#include "codec/anthropic.h"
#include "codec/encode_common.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

static json_object *text_part(const char *s, size_t n)
{
    json_object *p = json_object_new_object();
    json_object_object_add(p, "text", json_object_new_string_len(s, (int)n));
    return p;
}

/* An image block → an inlineData part; a URL only as fileData for files
 * Gemini itself holds (it fetches nothing else). */
static json_object *image_part(json_object *blk, ccp_error *err)
{
    json_object *src = ccp_json_get_obj(blk, "source");
    const char *type = ccp_json_get_str(src, "type");
    json_object *p = json_object_new_object();
    if (type && !strcmp(type, "base64")) {
        json_object *d = json_object_new_object();
        const char *mt = ccp_json_get_str(src, "media_type");
        json_object_object_add(d, "mimeType", json_object_new_string(mt ? mt : "image/png"));
        json_object_object_add(d, "data", json_object_get(ccp_json_get(src, "data")));
        json_object_object_add(p, "inlineData", d);
        return p;
    }
    const char *url = ccp_json_get_str(src, "url");
    if (url && (!strncmp(url, "gs://", 5) ||
                !strncmp(url, "https://generativelanguage.googleapis.com/", 42))) {
        json_object *f = json_object_new_object();
        json_object_object_add(f, "fileUri", json_object_new_string(url));
        json_object_object_add(p, "fileData", f);
        return p;
    }
    json_object_put(p);
    ccp_error_set(err, CCP_EINVAL,
                  "an image given by URL (%.200s) cannot be sent to Gemini, which fetches no URLs; "
                  "send it as base64 (source.type: base64)",
                  url ? url : "?");
    return NULL;
}

/* The signature a tool_use id carries (see gemini.h), back in standard
 * base64; NULL when none. Caller frees. */
static char *signature_of(const char *id)
{
    const char *m = id ? strstr(id, CCP_GEMINI_SIG_MARK) : NULL;
    if (!m) return NULL;
    const char *s = m + sizeof CCP_GEMINI_SIG_MARK - 1;
    size_t n = strlen(s);
    char *out = ccp_xmalloc(n + 4);
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (n % 4)
        out[n++] = '=';
    out[n] = '\0';
    return out;
}

/* The function name of each tool_use id in the history, for the
 * functionResponse parts (Gemini matches results by name). */
static const char *name_for(json_object *msgs, const char *id)
{
    for (size_t i = 0; id && i < ccp_json_arr_len(msgs); i++) {
        json_object *c = ccp_json_get(json_object_array_get_idx(msgs, i), "content");
        for (size_t j = 0; j < ccp_json_arr_len(c); j++) {
            json_object *b = json_object_array_get_idx(c, j);
            const char *t = ccp_json_get_str(b, "type");
            const char *bid = ccp_json_get_str(b, "id");
            if (t && !strcmp(t, "tool_use") && bid && !strcmp(bid, id))
                return ccp_json_get_str(b, "name");
        }
    }
    return NULL;
}

static int add_tool_result(json_object *parts, json_object *msgs, json_object *blk, ccp_error *err)
{
    const char *id = ccp_json_get_str(blk, "tool_use_id");
    const char *name = name_for(msgs, id);
    if (!name)
        return ccp_error_set(err, CCP_EINVAL,
                             "tool_result %s answers no tool_use in the conversation; Gemini "
                             "needs the function's name",
                             id ? id : "(no tool_use_id)");
    ccp_buf text = CCP_BUF_INIT;
    json_object *content = ccp_json_get(blk, "content");
    ccp_append_text(&text, content, "\n\n");
    json_object *resp = json_object_new_object();
    json_object_object_add(resp, ccp_json_get_bool(blk, "is_error", false) ? "error" : "result",
                           json_object_new_string_len(text.data ? text.data : "", (int)text.len));
    ccp_buf_free(&text);
    json_object *fr = json_object_new_object();
    json_object_object_add(fr, "name", json_object_new_string(name));
    json_object_object_add(fr, "response", resp);
    json_object *p = json_object_new_object();
    json_object_object_add(p, "functionResponse", fr);
    json_object_array_add(parts, p);
    /* Images a tool returned (a screenshot) follow as parts of their own. */
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *c = json_object_array_get_idx(content, i);
        const char *t = ccp_json_get_str(c, "type");
        if (!t || strcmp(t, "image") != 0) continue;
        json_object *img = image_part(c, err);
        if (!img) return CCP_EINVAL;
        json_object_array_add(parts, img);
    }
    return 0;
}

static int content_parts(json_object *parts, json_object *msgs, json_object *msg, bool model,
                         ccp_error *err)
{
    json_object *content = ccp_json_get(msg, "content");
    if (json_object_is_type(content, json_type_string)) {
        if (json_object_get_string_len(content))
            json_object_array_add(parts, text_part(json_object_get_string(content),
                                                   (size_t)json_object_get_string_len(content)));
        return 0;
    }
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(blk, "type");
        if (!type) continue;
        if (!strcmp(type, "text")) {
            json_object *t = ccp_json_get(blk, "text");
            if (t && json_object_get_string_len(t))
                json_object_array_add(parts, text_part(json_object_get_string(t),
                                                       (size_t)json_object_get_string_len(t)));
        } else if (!strcmp(type, "image")) {
            json_object *img = image_part(blk, err);
            if (!img) return CCP_EINVAL;
            json_object_array_add(parts, img);
        } else if (!strcmp(type, "tool_result") && !model) {
            int rc = add_tool_result(parts, msgs, blk, err);
            if (rc) return rc;
        } else if (!strcmp(type, "tool_use") && model) {
            json_object *fc = json_object_new_object();
            json_object_object_add(fc, "name", json_object_get(ccp_json_get(blk, "name")));
            json_object *in = ccp_json_get_obj(blk, "input");
            json_object_object_add(fc, "args", in ? json_object_get(in) : json_object_new_object());
            json_object *p = json_object_new_object();
            json_object_object_add(p, "functionCall", fc);
            char *sig = signature_of(ccp_json_get_str(blk, "id"));
            if (sig) json_object_object_add(p, "thoughtSignature", json_object_new_string(sig));
            free(sig);
            json_object_array_add(parts, p);
        }
        /* thinking blocks stay out: Gemini takes its reasoning back only as
         * signatures, which travel in the tool_use ids. */
    }
    return 0;
}

static json_object *tools_of(json_object *tools)
{
    json_object *decls = json_object_new_array();
    for (size_t i = 0; i < ccp_json_arr_len(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        if (ccp_tool_is_server_tool(t, "gemini")) continue;
        json_object *schema = ccp_json_get_obj(t, "input_schema");
        json_object *d = json_object_new_object();
        ccp_tool_add_name(d, t);
        json_object *props = ccp_json_get_obj(schema, "properties");
        if (props && json_object_object_length(props))
            json_object_object_add(d, "parameters", ccp_gemini_schema(schema));
        json_object_array_add(decls, d);
    }
    if (!json_object_array_length(decls)) {
        json_object_put(decls);
        return NULL;
    }
    json_object *tool = json_object_new_object();
    json_object_object_add(tool, "functionDeclarations", decls);
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, tool);
    return arr;
}

static json_object *tool_config(json_object *tc)
{
    const char *type = ccp_json_get_str(tc, "type");
    if (!type) return NULL;
    json_object *f = json_object_new_object();
    const char *mode = !strcmp(type, "any") || !strcmp(type, "tool") ? "ANY"
                       : !strcmp(type, "none")                       ? "NONE"
                                                                     : "AUTO";
    json_object_object_add(f, "mode", json_object_new_string(mode));
    if (!strcmp(type, "tool") && ccp_json_get(tc, "name")) {
        json_object *names = json_object_new_array();
        json_object_array_add(names, json_object_get(ccp_json_get(tc, "name")));
        json_object_object_add(f, "allowedFunctionNames", names);
    }
    json_object *c = json_object_new_object();
    json_object_object_add(c, "functionCallingConfig", f);
    return c;
}

static json_object *generation_config(json_object *req)
{
    json_object *g = json_object_new_object();
    static const char *const map[][2] = {{"max_tokens", "maxOutputTokens"},
                                         {"temperature", "temperature"},
                                         {"top_p", "topP"},
                                         {"top_k", "topK"},
                                         {"stop_sequences", "stopSequences"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        ccp_json_copy_field(g, map[i][1], req, map[i][0]);
    json_object *th = ccp_json_get_obj(req, "thinking");
    const char *tt = ccp_json_get_str(th, "type");
    if (tt && strcmp(tt, "disabled") != 0) {
        json_object *tc = json_object_new_object();
        /* adaptive: Gemini's own dynamic budget (-1). */
        int64_t budget = !strcmp(tt, "enabled") ? ccp_json_get_int(th, "budget_tokens", -1) : -1;
        json_object_object_add(tc, "thinkingBudget", json_object_new_int64(budget));
        json_object_object_add(tc, "includeThoughts", json_object_new_boolean(1));
        json_object_object_add(g, "thinkingConfig", tc);
    }
    json_object *schema = ccp_output_schema(req);
    if (schema) {
        json_object_object_add(g, "responseMimeType", json_object_new_string("application/json"));
        json_object_object_add(g, "responseSchema", ccp_gemini_schema(schema));
    }
    return g;
}

/* ---- turns (see gemini.h) ---------------------------------------------- */

void ccp_gemini_turns_init(ccp_gemini_turns *t, json_object *contents)
{
    memset(t, 0, sizeof *t);
    t->contents = contents;
}

/* Sorts the parts of one message into the pending turn's function
 * responses and other parts, in order. */
static void sort_parts(ccp_gemini_turns *t, json_object *parts)
{
    if (!t->responses) t->responses = json_object_new_array();
    if (!t->others) t->others = json_object_new_array();
    for (size_t i = 0; i < ccp_json_arr_len(parts); i++) {
        json_object *part = json_object_array_get_idx(parts, i);
        bool response = ccp_json_get(part, "functionResponse") != NULL;
        json_object_array_add(response ? t->responses : t->others, json_object_get(part));
        t->part_adds++;
    }
}

void ccp_gemini_turns_flush(ccp_gemini_turns *t)
{
    if (!t->role) return;
    json_object *parts = t->first;
    if (!parts) {
        /* Function responses first, then the rest: each part moved once. */
        parts = t->responses;
        for (size_t i = 0; i < ccp_json_arr_len(t->others); i++) {
            json_object_array_add(parts, json_object_get(json_object_array_get_idx(t->others, i)));
            t->part_adds++;
        }
        json_object_put(t->others);
    }
    json_object *c = json_object_new_object();
    json_object_object_add(c, "role", json_object_new_string(t->role));
    json_object_object_add(c, "parts", parts);
    json_object_array_add(t->contents, c);
    t->role = NULL;
    t->first = t->responses = t->others = NULL;
}

void ccp_gemini_turns_add(ccp_gemini_turns *t, const char *role, json_object *parts)
{
    if (!t->role || strcmp(t->role, role) != 0) {
        ccp_gemini_turns_flush(t);
        t->role = role;
        t->first = parts; /* one message keeps its parts as they are */
        return;
    }
    if (t->first) {
        sort_parts(t, t->first);
        json_object_put(t->first);
        t->first = NULL;
    }
    sort_parts(t, parts);
    json_object_put(parts);
}

void ccp_gemini_turns_free(ccp_gemini_turns *t)
{
    json_object_put(t->first);
    json_object_put(t->responses);
    json_object_put(t->others);
    memset(t, 0, sizeof *t);
}

static int encode(const ccp_encode_ctx *ctx, ccp_outbound *out, ccp_error *err)
{
    const ccp_provider *p = ctx->provider;
    json_object *req = ctx->request;
    char *m;
    int rc = ccp_encode_begin(ctx, &m, err);
    if (rc) return rc;

    json_object *o = json_object_new_object();
    ccp_buf sys = CCP_BUF_INIT;
    ccp_append_text(&sys, ccp_json_get(req, "system"), "\n\n");
    if (sys.len) {
        json_object *si = json_object_new_object();
        json_object *parts = json_object_new_array();
        json_object_array_add(parts, text_part(sys.data, sys.len));
        json_object_object_add(si, "parts", parts);
        json_object_object_add(o, "systemInstruction", si);
    }
    ccp_buf_free(&sys);

    json_object *msgs = ccp_json_get_arr(req, "messages");
    json_object *contents = json_object_new_array();
    json_object_object_add(o, "contents", contents);
    ccp_gemini_turns turns;
    ccp_gemini_turns_init(&turns, contents);
    for (size_t i = 0; i < ccp_json_arr_len(msgs); i++) {
        json_object *msg = json_object_array_get_idx(msgs, i);
        const char *role = ccp_json_get_str(msg, "role");
        if (!role) continue;
        bool is_model = !strcmp(role, "assistant");
        json_object *parts = json_object_new_array();
        if (!strcmp(role, "system")) {
            /* Gemini has no system turn: the text goes in as a user turn, in
             * place, marked as what it is. */
            ccp_buf t = CCP_BUF_INIT, b = CCP_BUF_INIT;
            ccp_append_text(&t, ccp_json_get(msg, "content"), "\n\n");
            ccp_buf_appends(&b, "[system] ");
            if (t.len) ccp_buf_append(&b, t.data, t.len);
            json_object_array_add(parts, text_part(b.data, b.len));
            ccp_buf_free(&t);
            ccp_buf_free(&b);
        } else {
            rc = content_parts(parts, msgs, msg, is_model, err);
        }
        if (rc) {
            json_object_put(parts);
            ccp_gemini_turns_free(&turns);
            json_object_put(o);
            free(m);
            return rc;
        }
        if (!json_object_array_length(parts)) {
            json_object_put(parts);
            continue;
        }
        ccp_gemini_turns_add(&turns, is_model ? "model" : "user", parts);
    }
    ccp_gemini_turns_flush(&turns);

    json_object *tools = tools_of(ccp_json_get_arr(req, "tools"));
    if (tools) {
        json_object_object_add(o, "tools", tools);
        json_object *tc = tool_config(ccp_json_get_obj(req, "tool_choice"));
        if (tc) json_object_object_add(o, "toolConfig", tc);
    }
    json_object *g = generation_config(req);
    if (json_object_object_length(g))
        json_object_object_add(o, "generationConfig", g);
    else
        json_object_put(g);

    out->json = o;

    /* The model is request data in a URL path: checked (no ".." segment)
     * by ccp_encode_model and percent-encoded here, so that neither a path
     * nor a query nor a fragment can be slipped into the upstream URL. */
    ccp_buf path = CCP_BUF_INIT;
    ccp_buf_appends(&path, "/models/");
    ccp_url_append_path(&path, m);
    ccp_buf_appends(&path, ctx->stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    free(m);
    ccp_outbound_set_url(out, p->base_url, path.data);
    ccp_buf_free(&path);
    ccp_outbound_add_header(out, "content-type", "application/json");
    ccp_encode_end_headers(out, ctx);
    return 0;
}

/* Google's errors: {"error":{"code","message","status"}}. */
static const char *map_error(int status, const char *body, size_t len, ccp_buf *msg)
{
    json_object *o = ccp_json_parse(body, len, NULL);
    if (json_object_is_type(o, json_type_array)) {
        /* A streaming call may answer its error as a one-element list. */
        json_object *first = json_object_get(json_object_array_get_idx(o, 0));
        json_object_put(o);
        o = first;
    }
    json_object *e = ccp_json_get_obj(o, "error");
    const char *m = ccp_json_get_str(e, "message");
    const char *gs = ccp_json_get_str(e, "status");
    if (m) {
        ccp_buf_appends(msg, m);
    } else {
        ccp_error_body_excerpt(msg, status, body, len);
    }
    const char *type = ccp_error_type_for_status(status);
    if (gs && !strcmp(gs, "RESOURCE_EXHAUSTED"))
        type = "rate_limit_error";
    else if (gs && !strcmp(gs, "UNAVAILABLE"))
        type = "overloaded_error";
    json_object_put(o);
    return type;
}

const ccp_codec ccp_codec_gemini = {
    .name = "gemini",
    .format = CCP_FORMAT_GEMINI,
    .summary = "Google's Gemini API (generateContent)",
    .default_auth = CCP_AUTH_GOOG,
    .encode = encode,
    .decoder_new = ccp_gemini_decoder_new,
    .decoder_feed = ccp_gemini_decoder_feed,
    .decoder_finish = ccp_gemini_decoder_finish,
    .decoder_free = ccp_gemini_decoder_free,
    .map_error = map_error,
};
