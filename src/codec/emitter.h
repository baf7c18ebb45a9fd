/* emitter.h — the scaffolding every decoder shares: one open block at a
 * time, block indexes handed out in order, message_start once, and the
 * message's end (close the open block, message_delta with the usage,
 * message_stop) once, or an error instead.
 *
 * A decoder reads its provider's wire format and drives an emitter, which
 * turns those calls into canonical events for its sink. Every event the
 * emitter sends is borrowed for the sink's emit call (events.h). */
#ifndef CCP_CODEC_EMITTER_H
#define CCP_CODEC_EMITTER_H

#include "codec/events.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_emitter {
    ccp_event_sink *sink;
    bool started;       /* message_start sent */
    bool finished;      /* message_stop sent */
    bool errored;       /* an error event sent: nothing follows it */
    bool counts_at_end; /* the provider reports token counts at the end only */
    int next_index;
    int open_index; /* -1: no block open */
    ccp_block_kind open_kind;
    ccp_usage usage; /* what the provider reported so far; sent with message_delta */
    uint64_t rng;    /* tool-use ids (ccp_emitter_tool_id) */
} ccp_emitter;

void ccp_emitter_init(ccp_emitter *e, ccp_event_sink *sink);

/* True once the message has ended or failed: decoders ignore what follows. */
static inline bool ccp_emitter_done(const ccp_emitter *e)
{
    return e->finished || e->errored;
}

/* Any event, as is (for what the scaffolding does not cover). */
int ccp_emitter_emit(ccp_emitter *e, const ccp_event *ev);

/* message_start, once. The message id is prefix and id when id is given
 * (the writer makes one otherwise). usage: the counts known at the start;
 * NULL when the provider reports them only at the end (then the start says
 * 0 and 0, and an output count still unknown at the end is sent as 0).
 * raw as in events.h. */
int ccp_emitter_start(ccp_emitter *e, const char *prefix, const char *id, const char *model,
                      const ccp_usage *usage, json_object *raw);

/* Closes the open block, if any. */
int ccp_emitter_close(ccp_emitter *e);

/* Closes the open block and opens the next: its index is the next one.
 * tool_id and tool_name for TOOL_USE; raw for OTHER (events.h). */
int ccp_emitter_open(ccp_emitter *e, ccp_block_kind kind, const char *tool_id,
                     const char *tool_name, json_object *raw);

/* The same for a BLOCK_START event the caller filled (kind, ids, text,
 * raw); the emitter sets its index. */
int ccp_emitter_open_ev(ccp_emitter *e, ccp_event *ev);

/* A delta of the open block. */
int ccp_emitter_delta(ccp_emitter *e, ccp_delta_kind kind, const char *s, size_t n);

/* Text or thinking: opens a block of that kind unless one is open, then
 * sends s as its delta. Empty text opens nothing. */
int ccp_emitter_text(ccp_emitter *e, ccp_block_kind kind, const char *s, size_t n);

/* An error event; the message ends with it. */
int ccp_emitter_error(ccp_emitter *e, const char *type, const char *message);

/* Ends the message, once: closes the open block, sends message_delta
 * (stop_reason, stop_sequence or NULL, the usage in e->usage) and
 * message_stop. Does nothing after an error. */
int ccp_emitter_finish(ccp_emitter *e, const char *stop_reason, const char *stop_sequence);

/* Appends a new tool-use id ("toolu_" and 24 letters and digits). */
void ccp_emitter_tool_id(ccp_emitter *e, ccp_buf *out);

#endif
