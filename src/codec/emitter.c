/* emitter.c — the decoders' shared scaffolding (see emitter.h). */
#include "codec/emitter.h"

#include "codec/codec.h"

#include <assert.h>

void ccp_emitter_init(ccp_emitter *e, ccp_event_sink *sink)
{
    *e = (ccp_emitter){.sink = sink, .open_index = -1, .usage = CCP_USAGE_UNKNOWN};
    e->rng = ccp_tool_id_seed(e);
}

int ccp_emitter_emit(ccp_emitter *e, const ccp_event *ev)
{
    return e->sink->emit(e->sink, ev);
}

int ccp_emitter_start(ccp_emitter *e, const char *prefix, const char *id, const char *model,
                      const ccp_usage *usage, json_object *raw)
{
    if (e->started) return 0;
    e->started = true;
    e->counts_at_end = !usage;
    ccp_buf mid = CCP_BUF_INIT;
    if (id) ccp_buf_printf(&mid, "%s%s", prefix ? prefix : "", id);
    ccp_event ev = {.type = CCP_EV_MESSAGE_START,
                    .message_id = mid.data,
                    .model = model,
                    .usage = usage ? *usage : (ccp_usage){0, 0, -1, -1},
                    .raw = raw};
    int rc = ccp_emitter_emit(e, &ev);
    ccp_buf_free(&mid);
    return rc;
}

int ccp_emitter_close(ccp_emitter *e)
{
    if (e->open_index < 0) return 0;
    ccp_event ev = {.type = CCP_EV_BLOCK_STOP, .index = e->open_index};
    e->open_index = -1;
    return ccp_emitter_emit(e, &ev);
}

int ccp_emitter_open_ev(ccp_emitter *e, ccp_event *ev)
{
    int rc = ccp_emitter_close(e);
    if (rc) return rc;
    /* Anthropic's blocks are numbered from 0 in the order they start, and
     * the writer and the client rely on it. */
    assert(e->started && e->next_index >= 0 && ev->type == CCP_EV_BLOCK_START);
    ev->index = e->open_index = e->next_index++;
    e->open_kind = ev->block_kind;
    return ccp_emitter_emit(e, ev);
}

int ccp_emitter_open(ccp_emitter *e, ccp_block_kind kind, const char *tool_id,
                     const char *tool_name, json_object *raw)
{
    ccp_event ev = {.type = CCP_EV_BLOCK_START,
                    .block_kind = kind,
                    .tool_id = tool_id,
                    .tool_name = tool_name,
                    .raw = raw};
    return ccp_emitter_open_ev(e, &ev);
}

int ccp_emitter_delta(ccp_emitter *e, ccp_delta_kind kind, const char *s, size_t n)
{
    assert(e->open_index >= 0);
    ccp_event ev = {.type = CCP_EV_BLOCK_DELTA,
                    .index = e->open_index,
                    .delta_kind = kind,
                    .text = s,
                    .text_len = n};
    return ccp_emitter_emit(e, &ev);
}

int ccp_emitter_text(ccp_emitter *e, ccp_block_kind kind, const char *s, size_t n)
{
    if (n == 0) return 0;
    if (e->open_index < 0 || e->open_kind != kind) {
        int rc = ccp_emitter_open(e, kind, NULL, NULL, NULL);
        if (rc) return rc;
    }
    return ccp_emitter_delta(e, kind == CCP_BLOCK_THINKING ? CCP_DELTA_THINKING : CCP_DELTA_TEXT, s,
                             n);
}

int ccp_emitter_error(ccp_emitter *e, const char *type, const char *message)
{
    e->errored = true;
    ccp_event ev = {.type = CCP_EV_ERROR, .error_type = type, .error_message = message};
    return ccp_emitter_emit(e, &ev);
}

int ccp_emitter_finish(ccp_emitter *e, const char *stop_reason, const char *stop_sequence)
{
    if (ccp_emitter_done(e)) return 0;
    e->finished = true;
    int rc = ccp_emitter_close(e);
    if (rc) return rc;
    ccp_event md = {.type = CCP_EV_MESSAGE_DELTA,
                    .stop_reason = stop_reason,
                    .stop_sequence = stop_sequence,
                    .usage = e->usage};
    if (e->counts_at_end && md.usage.output_tokens < 0) md.usage.output_tokens = 0;
    if ((rc = ccp_emitter_emit(e, &md))) return rc;
    ccp_event ms = {.type = CCP_EV_MESSAGE_STOP};
    return ccp_emitter_emit(e, &ms);
}

void ccp_emitter_tool_id(ccp_emitter *e, ccp_buf *out)
{
    ccp_tool_id_append(&e->rng, out);
}
