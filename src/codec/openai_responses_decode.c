/* openai_responses_decode.c — OpenAI Responses API answers (the SSE event
 * stream or one response object) → canonical events.
 *
 * Output items map to blocks one to one: a `reasoning` item to a thinking
 * block (its summary parts are the text, joined by a blank line, and its
 * id and encrypted content the signature, "oai-rs:<id>:<encrypted>", sent
 * when the item is done because the content in output_item.added may be
 * incomplete), a `message` item to a text block (opened with its first
 * text, so an empty message leaves no empty block), a `function_call` to
 * a tool_use block whose call_id is the tool id and whose arguments stream
 * as partial_json. Content that came as no delta is taken from the done
 * item, never twice. OpenAI streams items one after another; a delta for
 * an item no longer under way is dropped with a warning. The message ends
 * at response.completed / .incomplete (stop reason and usage from the
 * response object), fails at response.failed or `error`; a stream that
 * ends before any of them was cut. */
#include "codec/openai_responses.h"

#include "codec/body_in.h"
#include "codec/emitter.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/json_repair.h"
#include "core/log.h"

#include <string.h>

/* What the open output item is. */
typedef enum { ITEM_NONE, ITEM_REASONING, ITEM_MESSAGE, ITEM_CALL, ITEM_SKIPPED } item_type;

struct ccp_decoder {
    ccp_emitter em;
    ccp_body_in in;
    int64_t open_item; /* output_index of the item under way; -1: none */
    item_type open_type;
    int64_t last_item; /* the highest output_index seen so far */
    int summary_index; /* the open reasoning item's current summary part */
    bool streamed;     /* content of the open item came as deltas */
    bool any_call;     /* a function_call was seen: stop_reason tool_use */
    bool refused;      /* a refusal was seen: stop_reason refusal */
};

/* usage → e->usage: input without the cached part (Anthropic counts cache
 * reads apart), output as is (it includes the reasoning tokens, as
 * Anthropic's output_tokens include thinking). */
static void take_usage(ccp_decoder *d, json_object *u)
{
    if (!u || !json_object_is_type(u, json_type_object)) return;
    int64_t in = ccp_json_get_int(u, "input_tokens", -1);
    int64_t out = ccp_json_get_int(u, "output_tokens", -1);
    int64_t cached =
        ccp_json_get_int(ccp_json_get_obj(u, "input_tokens_details"), "cached_tokens", 0);
    if (in >= 0) {
        d->em.usage.input_tokens = in - cached;
        d->em.usage.cache_read_input_tokens = cached;
    }
    if (out >= 0) d->em.usage.output_tokens = out;
}

static int ensure_start(ccp_decoder *d, json_object *resp)
{
    const char *id = ccp_json_get_str(resp, "id");
    return ccp_emitter_start(&d->em, "msg_", id ? id : "openai", ccp_json_get_str(resp, "model"),
                             NULL, NULL);
}

/* An error object ({code, message} or {type, message}) → an error event. */
static int upstream_error(ccp_decoder *d, json_object *e)
{
    const char *msg = ccp_json_get_str(e, "message");
    if (!msg && json_object_is_type(e, json_type_string)) msg = json_object_get_string(e);
    const char *code = ccp_json_get_str(e, "code");
    if (!code) code = ccp_json_get_str(e, "type");
    if (d->em.errored) return 0;
    return ccp_emitter_error(&d->em, ccp_responses_error_type(code), msg ? msg : "upstream error");
}

/* Closes the open item's block, if any. */
static int close_item(ccp_decoder *d)
{
    d->open_item = -1;
    d->open_type = ITEM_NONE;
    return ccp_emitter_close(&d->em);
}

/* Starts item (output_index idx): a reasoning item's thinking block and a
 * call's tool_use block open now; a message's text block opens with its
 * first text, so an empty message gives no empty block. */
static int open_item(ccp_decoder *d, int64_t idx, json_object *item)
{
    const char *type = ccp_json_get_str(item, "type");
    int rc = close_item(d);
    if (rc) return rc;
    if (idx > d->last_item) d->last_item = idx;
    d->open_item = idx;
    d->summary_index = 0;
    d->streamed = false;
    if (type && !strcmp(type, "reasoning")) {
        d->open_type = ITEM_REASONING;
        return ccp_emitter_open(&d->em, CCP_BLOCK_THINKING, NULL, NULL, NULL);
    }
    if (type && !strcmp(type, "function_call")) {
        const char *call_id = ccp_json_get_str(item, "call_id");
        const char *name = ccp_json_get_str(item, "name");
        ccp_buf gen = CCP_BUF_INIT;
        if (!call_id || !*call_id) ccp_emitter_tool_id(&d->em, &gen);
        d->any_call = true;
        d->open_type = ITEM_CALL;
        rc = ccp_emitter_open(&d->em, CCP_BLOCK_TOOL_USE, gen.len ? gen.data : call_id,
                              name && *name ? name : "unknown_tool", NULL);
        ccp_buf_free(&gen);
        return rc;
    }
    if (type && !strcmp(type, "message")) {
        d->open_type = ITEM_MESSAGE;
        return 0;
    }
    /* web_search_call and other built-in tool items: nothing an Anthropic
     * client could run or show. */
    ccp_log_debug("openai-responses: skipping an output item of type %s", type ? type : "?");
    d->open_type = ITEM_SKIPPED;
    return 0;
}

/* True when an event belongs to the open item, of type t. */
static bool is_open(ccp_decoder *d, json_object *ev, item_type t)
{
    int64_t idx = ccp_json_get_int(ev, "output_index", d->open_item);
    if (d->open_item >= 0 && idx == d->open_item && d->open_type == t) return true;
    ccp_log_warn("openai-responses: dropping a delta of output item %lld, which is not under way",
                 (long long)idx);
    return false;
}

/* v (a JSON string) as a delta of the open block. */
static int delta(ccp_decoder *d, ccp_delta_kind kind, json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string) || !json_object_get_string_len(v)) return 0;
    return ccp_emitter_delta(&d->em, kind, json_object_get_string(v),
                             (size_t)json_object_get_string_len(v));
}

/* v (a JSON string) as message text: the text block opens with it. */
static int text(ccp_decoder *d, json_object *v)
{
    if (!v || !json_object_is_type(v, json_type_string)) return 0;
    return ccp_emitter_text(&d->em, CCP_BLOCK_TEXT, json_object_get_string(v),
                            (size_t)json_object_get_string_len(v));
}

/* Arguments that must become a JSON object (see core/json_repair.h). */
static int whole_args(ccp_decoder *d, json_object *a)
{
    const char *s = a && json_object_is_type(a, json_type_string) ? json_object_get_string(a) : "";
    ccp_repair how;
    char *fixed = ccp_json_repair_object(s, strlen(s), &how);
    if (how == CCP_REPAIR_CLOSED)
        ccp_log_warn("openai-responses: repaired tool arguments cut short");
    else if (how == CCP_REPAIR_WRAPPED)
        ccp_log_warn("openai-responses: tool arguments are not JSON; passing them as a string");
    int rc = ccp_emitter_delta(&d->em, CCP_DELTA_PARTIAL_JSON, fixed, strlen(fixed));
    free(fixed);
    return rc;
}

/* The signature of a reasoning item: "oai-rs:<id>:<encrypted_content>". */
static int signature(ccp_decoder *d, json_object *item)
{
    const char *id = ccp_json_get_str(item, "id");
    const char *enc = ccp_json_get_str(item, "encrypted_content");
    if (!id || !*id || strchr(id, ':')) return 0;
    ccp_buf sig = CCP_BUF_INIT;
    ccp_buf_printf(&sig, "%s%s:%s", CCP_RESPONSES_SIG_MARK, id, enc ? enc : "");
    int rc = ccp_emitter_delta(&d->em, CCP_DELTA_SIGNATURE, sig.data, sig.len);
    ccp_buf_free(&sig);
    return rc;
}

/* The content of the open item as the whole item gives it: summary parts
 * (or, without a summary, reasoning_text parts, as some compatible servers
 * send), message text and refusals, call arguments. */
static int item_content(ccp_decoder *d, json_object *item)
{
    int rc = 0;
    if (d->open_type == ITEM_REASONING) {
        json_object *parts = ccp_json_get_arr(item, "summary");
        if (!ccp_json_arr_len(parts)) parts = ccp_json_get_arr(item, "content");
        for (size_t i = 0; !rc && i < ccp_json_arr_len(parts); i++) {
            if (i) rc = ccp_emitter_delta(&d->em, CCP_DELTA_THINKING, "\n\n", 2);
            if (!rc)
                rc = delta(d, CCP_DELTA_THINKING,
                           ccp_json_get(json_object_array_get_idx(parts, i), "text"));
        }
    } else if (d->open_type == ITEM_MESSAGE) {
        json_object *parts = ccp_json_get_arr(item, "content");
        for (size_t i = 0; !rc && i < ccp_json_arr_len(parts); i++) {
            json_object *p = json_object_array_get_idx(parts, i);
            const char *pt = ccp_json_get_str(p, "type");
            if (pt && !strcmp(pt, "refusal")) {
                d->refused = true;
                rc = text(d, ccp_json_get(p, "refusal"));
            } else {
                rc = text(d, ccp_json_get(p, "text"));
            }
        }
    } else if (d->open_type == ITEM_CALL) {
        rc = whole_args(d, ccp_json_get(item, "arguments"));
    }
    return rc;
}

/* An item done (output_item.done, or one item of a whole response): what
 * its deltas did not already send, its signature, then its block closes. */
static int item_done(ccp_decoder *d, int64_t idx, json_object *item, bool streaming)
{
    int rc;
    if (streaming && idx == d->open_item) {
        /* Deltas may have said it all; a server that sends none gives the
         * content only here. */
        if (!d->streamed && (rc = item_content(d, item))) return rc;
    } else if (streaming && idx <= d->last_item) {
        ccp_log_debug("openai-responses: output item %lld done after the next began",
                      (long long)idx);
        return 0;
    } else {
        if ((rc = open_item(d, idx, item))) return rc;
        if ((rc = item_content(d, item))) return rc;
    }
    if (d->open_type == ITEM_REASONING && (rc = signature(d, item))) return rc;
    return close_item(d);
}

/* The end of the response: status → stop reason, usage. */
static int response_end(ccp_decoder *d, json_object *resp)
{
    if (ccp_emitter_done(&d->em)) return 0;
    int rc = ensure_start(d, resp);
    if (rc) return rc;
    take_usage(d, ccp_json_get_obj(resp, "usage"));
    const char *status = ccp_json_get_str(resp, "status");
    if (status && !strcmp(status, "failed")) {
        json_object *e = ccp_json_get_obj(resp, "error");
        return upstream_error(d, e ? e : resp);
    }
    if ((rc = close_item(d))) return rc;
    const char *reason = NULL;
    if (status && !strcmp(status, "incomplete")) {
        const char *why = ccp_json_get_str(ccp_json_get_obj(resp, "incomplete_details"), "reason");
        reason = why && !strcmp(why, "content_filter") ? "refusal" : "max_tokens";
    } else {
        reason = d->refused ? "refusal" : d->any_call ? "tool_use" : "end_turn";
    }
    return ccp_emitter_finish(&d->em, reason, NULL);
}

/* A whole response object → the events a stream of it would give. */
static int whole_response(ccp_decoder *d, json_object *resp)
{
    int rc = ensure_start(d, resp);
    json_object *items = ccp_json_get_arr(resp, "output");
    for (size_t i = 0; !rc && i < ccp_json_arr_len(items); i++)
        rc = item_done(d, (int64_t)i, json_object_array_get_idx(items, i), false);
    return rc ? rc : response_end(d, resp);
}

/* One streamed event. */
static int on_event(ccp_decoder *d, const char *type, json_object *ev)
{
    if (!strcmp(type, "error")) {
        json_object *e = ccp_json_get_obj(ev, "error");
        return upstream_error(d, e ? e : ev);
    }
    json_object *resp = ccp_json_get_obj(ev, "response");
    if (!strcmp(type, "response.completed") || !strcmp(type, "response.incomplete") ||
        !strcmp(type, "response.failed"))
        return response_end(d, resp);
    int rc = ensure_start(d, resp);
    if (rc) return rc;
    if (!strcmp(type, "response.output_item.added"))
        return open_item(d, ccp_json_get_int(ev, "output_index", d->last_item + 1),
                         ccp_json_get_obj(ev, "item"));
    if (!strcmp(type, "response.output_item.done"))
        return item_done(d, ccp_json_get_int(ev, "output_index", d->open_item),
                         ccp_json_get_obj(ev, "item"), true);
    if (!strcmp(type, "response.output_text.delta")) {
        if (!is_open(d, ev, ITEM_MESSAGE)) return 0;
        d->streamed = true;
        return text(d, ccp_json_get(ev, "delta"));
    }
    if (!strcmp(type, "response.refusal.delta")) {
        if (!is_open(d, ev, ITEM_MESSAGE)) return 0;
        d->streamed = d->refused = true;
        return text(d, ccp_json_get(ev, "delta"));
    }
    if (!strcmp(type, "response.reasoning_summary_text.delta")) {
        if (!is_open(d, ev, ITEM_REASONING)) return 0;
        int si = (int)ccp_json_get_int(ev, "summary_index", d->summary_index);
        if (si != d->summary_index) {
            /* a new summary part: a blank line between parts */
            d->summary_index = si;
            if ((rc = ccp_emitter_delta(&d->em, CCP_DELTA_THINKING, "\n\n", 2))) return rc;
        }
        d->streamed = true;
        return delta(d, CCP_DELTA_THINKING, ccp_json_get(ev, "delta"));
    }
    if (!strcmp(type, "response.reasoning_text.delta")) {
        /* raw reasoning, from compatible servers that show it */
        if (!is_open(d, ev, ITEM_REASONING)) return 0;
        d->streamed = true;
        return delta(d, CCP_DELTA_THINKING, ccp_json_get(ev, "delta"));
    }
    if (!strcmp(type, "response.function_call_arguments.delta")) {
        if (!is_open(d, ev, ITEM_CALL)) return 0;
        json_object *v = ccp_json_get(ev, "delta");
        if (v && json_object_get_string_len(v)) d->streamed = true;
        return delta(d, CCP_DELTA_PARTIAL_JSON, v);
    }
    if (!strcmp(type, "response.function_call_arguments.done")) {
        /* Arguments given only whole: send them now. */
        if (d->streamed || !is_open(d, ev, ITEM_CALL)) return 0;
        d->streamed = true;
        return whole_args(d, ccp_json_get(ev, "arguments"));
    }
    /* response.created, .in_progress, content_part.*, *.done of text and
     * summaries: nothing a delta did not already say. */
    return 0;
}

static int on_sse(void *ud, const char *event, const char *data, size_t len)
{
    ccp_decoder *d = ud;
    if (ccp_emitter_done(&d->em)) return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) return 0;
    json_object *o;
    int rc = ccp_body_in_json(&d->in, data, len, &o);
    if (rc) return rc;
    const char *type = ccp_json_get_str(o, "type");
    if (!type) type = event;
    if (type) rc = on_event(d, type, o);
    json_object_put(o);
    return rc;
}

ccp_decoder *ccp_responses_decoder_new(ccp_event_sink *sink, bool sse)
{
    ccp_decoder *d = ccp_xcalloc(1, sizeof *d);
    ccp_emitter_init(&d->em, sink);
    ccp_body_in_init(&d->in, sse, on_sse, d);
    d->open_item = d->last_item = -1;
    return d;
}

int ccp_responses_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err)
{
    return ccp_body_in_feed(&d->in, data, len, err);
}

int ccp_responses_decoder_finish(ccp_decoder *d, ccp_error *err)
{
    if (d->in.sse) {
        if (ccp_emitter_done(&d->em)) return 0;
        if (!d->em.started)
            return ccp_error_set(err, CCP_EUPSTREAM, "upstream stream ended before any event");
        /* Without response.completed the answer was cut: ending it as
         * end_turn would pass a truncated answer off as a whole one. */
        return ccp_error_set(err, CCP_EUPSTREAM,
                             "upstream stream ended early: no response.completed (the answer "
                             "was cut short)");
    }
    json_object *o;
    int rc = ccp_body_in_whole(&d->in, &o, err);
    if (rc) return rc;
    json_object *e = ccp_json_get(o, "error");
    rc = e && !json_object_is_type(e, json_type_null) && !ccp_json_get_str(o, "status")
             ? upstream_error(d, e)
             : whole_response(d, o);
    json_object_put(o);
    return rc;
}

void ccp_responses_decoder_free(ccp_decoder *d)
{
    if (!d) return;
    ccp_body_in_free(&d->in);
    free(d);
}
