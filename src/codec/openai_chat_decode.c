/* openai_chat_decode.c — OpenAI Chat Completions answers (streamed chunks
 * or one completion) → canonical events.
 *
 * Anthropic blocks never overlap, OpenAI deltas do: reasoning, text and
 * several tool calls may interleave by index. One block is open at a time;
 * a tool call that streams while another tool's block is open is buffered
 * and emitted, whole, once the earlier blocks have closed. The usage chunk
 * that follows the last choice is folded into message_delta, so the
 * message ends at [DONE] or at the end of the body, not at finish_reason.
 * A stream that ends with neither [DONE] nor a finish_reason was cut: an
 * error, not an end_turn. */
#include "codec/openai_chat.h"

#include "codec/body_in.h"
#include "codec/emitter.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/json_repair.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

typedef struct tool_slot {
    int oa_index; /* the call's index in OpenAI's stream */
    char *id, *name;
    ccp_buf args; /* arguments not yet emitted */
    bool started;
} tool_slot;

struct ccp_decoder {
    ccp_emitter em;
    ccp_body_in in;
    int open_tool; /* slot of the open tool block */
    tool_slot *tools;
    size_t n_tools;
    char *finish_reason;
    char *stop_sequence; /* the matched stop string, where the server names it */
};

const char *ccp_openai_stop_reason(const char *fr)
{
    if (!fr || !strcmp(fr, "stop")) return "end_turn";
    if (!strcmp(fr, "length")) return "max_tokens";
    if (!strcmp(fr, "tool_calls") || !strcmp(fr, "function_call")) return "tool_use";
    if (!strcmp(fr, "content_filter")) return "refusal";
    return "end_turn";
}

static int ensure_start(ccp_decoder *d, json_object *chunk)
{
    const char *oid = ccp_json_get_str(chunk, "id");
    return ccp_emitter_start(&d->em, "msg_", oid ? oid : "openai", ccp_json_get_str(chunk, "model"),
                             NULL, NULL);
}

static int open_tool(ccp_decoder *d, tool_slot *t)
{
    if (!t->id || !*t->id) {
        ccp_buf gen = CCP_BUF_INIT;
        ccp_emitter_tool_id(&d->em, &gen);
        free(t->id);
        t->id = ccp_buf_detach(&gen, NULL);
    }
    t->started = true;
    d->open_tool = (int)(t - d->tools);
    return ccp_emitter_open(&d->em, CCP_BLOCK_TOOL_USE, t->id, t->name, NULL);
}

static int text_like(ccp_decoder *d, ccp_block_kind kind, json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string)) return 0;
    return ccp_emitter_text(&d->em, kind, json_object_get_string(v),
                            (size_t)json_object_get_string_len(v));
}

static tool_slot *slot_for(ccp_decoder *d, int oa_index)
{
    for (size_t i = 0; i < d->n_tools; i++)
        if (d->tools[i].oa_index == oa_index) return &d->tools[i];
    d->tools = ccp_xrealloc(d->tools, (d->n_tools + 1) * sizeof *d->tools);
    tool_slot *t = &d->tools[d->n_tools++];
    memset(t, 0, sizeof *t);
    t->oa_index = oa_index;
    return t;
}

static bool tool_open(const ccp_decoder *d)
{
    return d->em.open_index >= 0 && d->em.open_kind == CCP_BLOCK_TOOL_USE;
}

/* Emits what a started tool has buffered. */
static int flush_args(ccp_decoder *d, tool_slot *t)
{
    if (!t->args.len) return 0;
    int rc = ccp_emitter_delta(&d->em, CCP_DELTA_PARTIAL_JSON, t->args.data, t->args.len);
    ccp_buf_reset(&t->args);
    return rc;
}

static int tool_delta(ccp_decoder *d, json_object *tc, int pos)
{
    int oa_index = (int)ccp_json_get_int(tc, "index", pos);
    tool_slot *t = slot_for(d, oa_index);
    const char *id = ccp_json_get_str(tc, "id");
    json_object *fn = ccp_json_get_obj(tc, "function");
    const char *name = ccp_json_get_str(fn, "name");
    json_object *args = ccp_json_get(fn, "arguments");
    if (id && *id && !t->id) t->id = ccp_xstrdup(id);
    if (name && *name && !t->name) t->name = ccp_xstrdup(name);
    if (args && json_object_is_type(args, json_type_string))
        ccp_buf_append(&t->args, json_object_get_string(args),
                       (size_t)json_object_get_string_len(args));
    int rc = 0;
    if (tool_open(d) && &d->tools[d->open_tool] == t) {
        rc = flush_args(d, t);
    } else if (!t->started && !tool_open(d) && t->name) {
        if (!(rc = open_tool(d, t))) rc = flush_args(d, t);
    } else if (t->started && !(tool_open(d) && &d->tools[d->open_tool] == t) && t->args.len) {
        /* More arguments for a call whose block already closed: they
         * cannot be placed any more. */
        ccp_log_warn("openai-chat: dropping late arguments of tool call %d", oa_index);
        ccp_buf_reset(&t->args);
    }
    return rc;
}

static void take_usage(ccp_decoder *d, json_object *u)
{
    if (!u || !json_object_is_type(u, json_type_object)) return;
    int64_t prompt = ccp_json_get_int(u, "prompt_tokens", -1);
    int64_t out = ccp_json_get_int(u, "completion_tokens", -1);
    int64_t cached =
        ccp_json_get_int(ccp_json_get_obj(u, "prompt_tokens_details"), "cached_tokens", 0);
    if (prompt >= 0) d->em.usage.input_tokens = prompt - cached;
    if (out >= 0) d->em.usage.output_tokens = out;
    if (prompt >= 0) d->em.usage.cache_read_input_tokens = cached;
}

static int upstream_error(ccp_decoder *d, json_object *e)
{
    const char *msg = ccp_json_get_str(e, "message");
    if (!msg && json_object_is_type(e, json_type_string)) msg = json_object_get_string(e);
    return ccp_emitter_error(&d->em, "api_error", msg ? msg : "upstream error");
}

/* Records a choice's finish_reason and, where the server reports which
 * stop string matched (vLLM: `stop_reason`, SGLang: `matched_stop`; plain
 * OpenAI does not), that string. */
static void take_finish(ccp_decoder *d, json_object *ch)
{
    const char *fr = ccp_json_get_str(ch, "finish_reason");
    if (!fr) return;
    free(d->finish_reason);
    d->finish_reason = ccp_xstrdup(fr);
    const char *ss = ccp_json_get_str(ch, "stop_reason");
    if (!ss) ss = ccp_json_get_str(ch, "matched_stop");
    free(d->stop_sequence);
    d->stop_sequence = ss && !strcmp(fr, "stop") ? ccp_xstrdup(ss) : NULL;
}

/* Closes every block (buffered tool calls last, in order) and the message. */
static int finalize(ccp_decoder *d)
{
    if (ccp_emitter_done(&d->em)) return 0;
    int rc = ccp_emitter_close(&d->em);
    bool any_tool = false;
    for (size_t i = 0; !rc && i < d->n_tools; i++) {
        tool_slot *t = &d->tools[i];
        any_tool = true;
        if (t->started) continue;
        if (!t->name) t->name = ccp_xstrdup("unknown_tool");
        if (!(rc = open_tool(d, t))) rc = flush_args(d, t);
        if (!rc) rc = ccp_emitter_close(&d->em);
    }
    if (rc) return rc;
    if (d->stop_sequence) return ccp_emitter_finish(&d->em, "stop_sequence", d->stop_sequence);
    return ccp_emitter_finish(&d->em,
                              d->finish_reason ? ccp_openai_stop_reason(d->finish_reason)
                              : any_tool       ? "tool_use"
                                               : "end_turn",
                              NULL);
}

/* One streamed chunk. */
static int on_chunk(ccp_decoder *d, json_object *c)
{
    json_object *e = ccp_json_get(c, "error");
    if (e) return upstream_error(d, e);
    int rc = ensure_start(d, c);
    if (rc) return rc;
    take_usage(d, ccp_json_get_obj(c, "usage"));
    /* Groq puts a stream's usage in x_groq on the last chunk. */
    take_usage(d, ccp_json_get_obj(ccp_json_get_obj(c, "x_groq"), "usage"));
    json_object *choices = ccp_json_get_arr(c, "choices");
    json_object *ch =
        choices && json_object_array_length(choices) ? json_object_array_get_idx(choices, 0) : NULL;
    if (!ch) return 0;
    json_object *dl = ccp_json_get_obj(ch, "delta");
    if (!dl) dl = ccp_json_get_obj(ch, "message"); /* some servers stream whole messages */
    json_object *r = ccp_json_get(dl, "reasoning_content");
    if (!r || !json_object_is_type(r, json_type_string)) r = ccp_json_get(dl, "reasoning");
    if ((rc = text_like(d, CCP_BLOCK_THINKING, r))) return rc;
    if ((rc = text_like(d, CCP_BLOCK_TEXT, ccp_json_get(dl, "content")))) return rc;
    json_object *tcs = ccp_json_get_arr(dl, "tool_calls");
    for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++)
        if ((rc = tool_delta(d, json_object_array_get_idx(tcs, i), (int)i))) return rc;
    take_finish(d, ch);
    return 0;
}

static int on_sse(void *ud, const char *event, const char *data, size_t len)
{
    ccp_decoder *d = ud;
    if (ccp_emitter_done(&d->em)) return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) return finalize(d);
    json_object *o;
    int rc = ccp_body_in_json(&d->in, data, len, &o);
    if (rc) return rc;
    rc = on_chunk(d, o);
    json_object_put(o);
    return rc;
}

ccp_decoder *ccp_openai_decoder_new(ccp_event_sink *sink, bool sse)
{
    ccp_decoder *d = ccp_xcalloc(1, sizeof *d);
    ccp_emitter_init(&d->em, sink);
    ccp_body_in_init(&d->in, sse, on_sse, d);
    return d;
}

int ccp_openai_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err)
{
    return ccp_body_in_feed(&d->in, data, len, err);
}

/* Arguments that must become a JSON object (see core/json_repair.h). */
static char *fix_arguments(const char *s, size_t n)
{
    ccp_repair how;
    char *out = ccp_json_repair_object(s, n, &how);
    if (how == CCP_REPAIR_CLOSED)
        ccp_log_warn("openai-chat: repaired tool arguments cut short");
    else if (how == CCP_REPAIR_WRAPPED)
        ccp_log_warn("openai-chat: tool arguments are not JSON; passing them as a string");
    return out;
}

/* A whole completion (non-streaming, or a streaming request answered with
 * JSON) → the events a stream of it would give. */
static int completion(ccp_decoder *d, json_object *c)
{
    int rc = ensure_start(d, c);
    if (rc) return rc;
    take_usage(d, ccp_json_get_obj(c, "usage"));
    json_object *choices = ccp_json_get_arr(c, "choices");
    json_object *ch =
        choices && json_object_array_length(choices) ? json_object_array_get_idx(choices, 0) : NULL;
    json_object *m = ccp_json_get_obj(ch, "message");
    json_object *r = ccp_json_get(m, "reasoning_content");
    if (!r || !json_object_is_type(r, json_type_string)) r = ccp_json_get(m, "reasoning");
    if ((rc = text_like(d, CCP_BLOCK_THINKING, r))) return rc;
    if ((rc = text_like(d, CCP_BLOCK_TEXT, ccp_json_get(m, "content")))) return rc;
    json_object *tcs = ccp_json_get_arr(m, "tool_calls");
    for (size_t i = 0; tcs && i < json_object_array_length(tcs); i++) {
        json_object *tc = json_object_array_get_idx(tcs, i);
        json_object *fn = ccp_json_get_obj(tc, "function");
        tool_slot *t = slot_for(d, (int)i);
        const char *id = ccp_json_get_str(tc, "id"), *name = ccp_json_get_str(fn, "name");
        t->id = id && *id ? ccp_xstrdup(id) : NULL;
        t->name = ccp_xstrdup(name ? name : "unknown_tool");
        json_object *a = ccp_json_get(fn, "arguments");
        const char *as =
            a && json_object_is_type(a, json_type_string) ? json_object_get_string(a) : "";
        char *fixed = a && json_object_is_type(a, json_type_object)
                          ? ccp_xstrdup(ccp_json_str(a, NULL))
                          : fix_arguments(as, strlen(as));
        ccp_buf_appends(&t->args, fixed);
        free(fixed);
        if (!(rc = open_tool(d, t))) rc = flush_args(d, t);
        if (rc) return rc;
    }
    take_finish(d, ch);
    return finalize(d);
}

int ccp_openai_decoder_finish(ccp_decoder *d, ccp_error *err)
{
    if (d->in.sse) {
        if (ccp_emitter_done(&d->em)) return 0;
        if (!d->em.started)
            return ccp_error_set(err, CCP_EUPSTREAM, "upstream stream ended before any chunk");
        /* No [DONE] (some servers never send it): a finish_reason still
         * says the answer is whole. Without either the stream was cut, and
         * ending it as end_turn would pass a truncated answer off as a
         * complete one. */
        if (!d->finish_reason)
            return ccp_error_set(err, CCP_EUPSTREAM,
                                 "upstream stream ended early: no finish_reason and no [DONE] "
                                 "(the answer was cut short)");
        return finalize(d);
    }
    json_object *o;
    int rc = ccp_body_in_whole(&d->in, &o, err);
    if (rc) return rc;
    rc = ccp_json_get(o, "error") ? upstream_error(d, ccp_json_get(o, "error")) : completion(d, o);
    json_object_put(o);
    return rc;
}

void ccp_openai_decoder_free(ccp_decoder *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_tools; i++) {
        free(d->tools[i].id);
        free(d->tools[i].name);
        ccp_buf_free(&d->tools[i].args);
    }
    free(d->tools);
    free(d->finish_reason);
    free(d->stop_sequence);
    ccp_body_in_free(&d->in);
    free(d);
}
