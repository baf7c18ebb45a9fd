/* gemini_decode.c — Gemini answers (a stream of GenerateContentResponse
 * objects over SSE, or one of them as JSON) → canonical events.
 *
 * Parts arrive in order and never interleave: thought text, text, and whole
 * functionCalls. One block is open at a time; a part of another kind closes
 * it. A functionCall is a complete tool_use block at once (Gemini does not
 * stream arguments), its thoughtSignature carried in the id (gemini.h). The
 * message ends when the body ends: finishReason and usageMetadata may come
 * on the last chunk or before it. A stream that ends with no finishReason
 * was cut: an error, not an end_turn. */
#include "codec/gemini.h"

#include "codec/body_in.h"
#include "codec/emitter.h"
#include "core/alloc.h"
#include "core/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ccp_decoder {
    ccp_emitter em;
    ccp_body_in in;
    bool had_calls, saw_candidate;
    char *finish_reason;
};

const char *ccp_gemini_stop_reason(const char *fr, bool had_calls)
{
    if (!fr || !strcmp(fr, "STOP")) return had_calls ? "tool_use" : "end_turn";
    if (!strcmp(fr, "MAX_TOKENS")) return "max_tokens";
    static const char *const refused[] = {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (!strcmp(fr, refused[i])) return "refusal";
    return had_calls ? "tool_use" : "end_turn";
}

static int ensure_start(ccp_decoder *d, json_object *chunk)
{
    return ccp_emitter_start(&d->em, "msg_", ccp_json_get_str(chunk, "responseId"),
                             ccp_json_get_str(chunk, "modelVersion"), NULL, NULL);
}

/* toolu_ + 24 random characters, + _gs_ + the signature in base64url. */
static void tool_id(ccp_decoder *d, const char *sig, ccp_buf *out)
{
    ccp_emitter_tool_id(&d->em, out);
    if (!sig || !*sig) return;
    ccp_buf_appends(out, CCP_GEMINI_SIG_MARK);
    for (const char *p = sig; *p && *p != '='; p++)
        ccp_buf_appendc(out, *p == '+' ? '-' : *p == '/' ? '_' : *p);
}

static int part(ccp_decoder *d, json_object *p)
{
    int rc;
    json_object *fc = ccp_json_get_obj(p, "functionCall");
    if (fc) {
        ccp_buf id = CCP_BUF_INIT;
        tool_id(d, ccp_json_get_str(p, "thoughtSignature"), &id);
        const char *name = ccp_json_get_str(fc, "name");
        rc = ccp_emitter_open(&d->em, CCP_BLOCK_TOOL_USE, id.data, name ? name : "unknown_tool",
                              NULL);
        ccp_buf_free(&id);
        if (rc) return rc;
        d->had_calls = true;
        ccp_buf args = CCP_BUF_INIT;
        json_object *a = ccp_json_get_obj(fc, "args");
        if (a)
            ccp_json_write(&args, a);
        else
            ccp_buf_appends(&args, "{}");
        rc = ccp_emitter_delta(&d->em, CCP_DELTA_PARTIAL_JSON, args.data, args.len);
        ccp_buf_free(&args);
        return rc ? rc : ccp_emitter_close(&d->em);
    }
    json_object *t = ccp_json_get(p, "text");
    if (!json_object_is_type(t, json_type_string)) return 0;
    bool thought = ccp_json_get_bool(p, "thought", false);
    ccp_block_kind kind = thought ? CCP_BLOCK_THINKING : CCP_BLOCK_TEXT;
    if ((rc = ccp_emitter_text(&d->em, kind, json_object_get_string(t),
                               (size_t)json_object_get_string_len(t))))
        return rc;
    /* A signature ends a thought: it belongs to the thinking block open. */
    const char *sig = ccp_json_get_str(p, "thoughtSignature");
    if (thought && sig && d->em.open_index >= 0 && d->em.open_kind == CCP_BLOCK_THINKING)
        return ccp_emitter_delta(&d->em, CCP_DELTA_SIGNATURE, sig, strlen(sig));
    return 0;
}

static void take_usage(ccp_decoder *d, json_object *u)
{
    if (!u) return;
    int64_t prompt = ccp_json_get_int(u, "promptTokenCount", -1);
    int64_t cached = ccp_json_get_int(u, "cachedContentTokenCount", 0);
    int64_t cand = ccp_json_get_int(u, "candidatesTokenCount", 0);
    int64_t thoughts = ccp_json_get_int(u, "thoughtsTokenCount", 0);
    if (prompt >= 0) {
        d->em.usage.input_tokens = prompt - cached;
        d->em.usage.cache_read_input_tokens = cached;
    }
    d->em.usage.output_tokens = cand + thoughts;
}

static int chunk(ccp_decoder *d, json_object *c)
{
    if (ccp_emitter_done(&d->em)) return 0;
    json_object *e = ccp_json_get_obj(c, "error");
    if (e) {
        const char *m = ccp_json_get_str(e, "message");
        return ccp_emitter_error(&d->em, "api_error", m ? m : "upstream error");
    }
    json_object *cands = ccp_json_get_arr(c, "candidates");
    json_object *cand =
        cands && json_object_array_length(cands) ? json_object_array_get_idx(cands, 0) : NULL;
    const char *blocked = ccp_json_get_str(ccp_json_get_obj(c, "promptFeedback"), "blockReason");
    if (!cand && blocked) {
        char msg[200];
        snprintf(msg, sizeof msg, "Gemini blocked the prompt (%s); rephrase the request", blocked);
        return ccp_emitter_error(&d->em, "invalid_request_error", msg);
    }
    int rc = ensure_start(d, c);
    if (rc) return rc;
    if (cand) d->saw_candidate = true;
    take_usage(d, ccp_json_get_obj(c, "usageMetadata"));
    json_object *parts = ccp_json_get_arr(ccp_json_get_obj(cand, "content"), "parts");
    for (size_t i = 0; parts && i < json_object_array_length(parts); i++)
        if ((rc = part(d, json_object_array_get_idx(parts, i)))) return rc;
    const char *fr = ccp_json_get_str(cand, "finishReason");
    if (fr) {
        free(d->finish_reason);
        d->finish_reason = ccp_xstrdup(fr);
    }
    return 0;
}

static int finalize(ccp_decoder *d)
{
    return ccp_emitter_finish(&d->em, ccp_gemini_stop_reason(d->finish_reason, d->had_calls), NULL);
}

static int on_sse(void *ud, const char *event, const char *data, size_t len)
{
    ccp_decoder *d = ud;
    (void)event;
    if (ccp_emitter_done(&d->em)) return 0;
    json_object *o;
    int rc = ccp_body_in_json(&d->in, data, len, &o);
    if (rc) return rc;
    rc = chunk(d, o);
    json_object_put(o);
    return rc;
}

ccp_decoder *ccp_gemini_decoder_new(ccp_event_sink *sink, bool sse)
{
    ccp_decoder *d = ccp_xcalloc(1, sizeof *d);
    ccp_emitter_init(&d->em, sink);
    ccp_body_in_init(&d->in, sse, on_sse, d);
    return d;
}

int ccp_gemini_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err)
{
    return ccp_body_in_feed(&d->in, data, len, err);
}

int ccp_gemini_decoder_finish(ccp_decoder *d, ccp_error *err)
{
    if (d->in.sse) {
        if (ccp_emitter_done(&d->em)) return 0;
        if (!d->em.started)
            return ccp_error_set(err, CCP_EUPSTREAM, "upstream stream ended before any chunk");
        /* Gemini's last chunk carries a finishReason: without one the
         * stream was cut, and ending it as end_turn would pass a truncated
         * answer off as a complete one. */
        if (!d->finish_reason)
            return ccp_error_set(err, CCP_EUPSTREAM,
                                 "upstream stream ended early: no finishReason (the answer was "
                                 "cut short)");
        return finalize(d);
    }
    json_object *o;
    int rc = ccp_body_in_whole(&d->in, &o, err);
    if (rc) return rc;
    if (json_object_is_type(o, json_type_array)) {
        /* streamGenerateContent without alt=sse: a list of responses. */
        for (size_t i = 0; !rc && i < json_object_array_length(o); i++)
            rc = chunk(d, json_object_array_get_idx(o, i));
    } else {
        rc = chunk(d, o);
    }
    json_object_put(o);
    if (!rc && !d->em.errored && !d->saw_candidate)
        return ccp_error_set(err, CCP_EUPSTREAM, "upstream sent an answer with no candidate");
    return rc ? rc : finalize(d);
}

void ccp_gemini_decoder_free(ccp_decoder *d)
{
    if (!d) return;
    free(d->finish_reason);
    ccp_body_in_free(&d->in);
    free(d);
}
