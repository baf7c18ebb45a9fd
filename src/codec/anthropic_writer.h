/* anthropic_writer.h — canonical events to what the Anthropic API sends.
 *
 * Streaming: each event becomes one SSE frame ("event: NAME\ndata: JSON\n\n"),
 * handed to the write callback at once so the caller can flush it.
 * Non-streaming: events are accumulated into one Anthropic message object,
 * taken with ccp_anthropic_writer_message once MESSAGE_STOP has arrived. */
#ifndef CCP_CODEC_ANTHROPIC_WRITER_H
#define CCP_CODEC_ANTHROPIC_WRITER_H

#include "codec/events.h"
#include "core/buf.h"
#include "core/error.h"

#include <stdbool.h>

typedef struct ccp_anthropic_writer ccp_anthropic_writer;

/* write receives each complete SSE frame (streaming only; may be NULL when
 * not streaming). Returns a writer the caller frees with _free. */
ccp_anthropic_writer *
ccp_anthropic_writer_new(bool stream, void (*write)(void *ud, const char *data, size_t len),
                         void *ud);
void ccp_anthropic_writer_free(ccp_anthropic_writer *w);

/* Names model (copied; NULL: the upstream's own again) as the message's
 * model in message_start and in the non-streaming message, whatever the
 * upstream said. Call before the first event. */
void ccp_anthropic_writer_echo_model(ccp_anthropic_writer *w, const char *model);

/* The sink that feeds this writer; borrowed, lives as long as w. */
ccp_event_sink *ccp_anthropic_writer_sink(ccp_anthropic_writer *w);

/* True once MESSAGE_STOP was seen. */
bool ccp_anthropic_writer_done(const ccp_anthropic_writer *w);
/* True once any frame was written (streaming): after that an error can only be
 * reported as an SSE error event, no longer as an HTTP status. */
bool ccp_anthropic_writer_started(const ccp_anthropic_writer *w);
/* The stop_reason of the last MESSAGE_DELTA (owned by w), or NULL. */
const char *ccp_anthropic_writer_stop_reason(const ccp_anthropic_writer *w);
/* The token counts reported so far (message_start and message_delta
 * merged; -1 where none was), streaming or not. Owned by w. */
const ccp_usage *ccp_anthropic_writer_usage(const ccp_anthropic_writer *w);
/* The ERROR event received, if any: type and message are owned by w. */
bool ccp_anthropic_writer_error(const ccp_anthropic_writer *w, const char **type,
                                const char **message);

/* Non-streaming: serializes the accumulated message into out. Returns
 * CCP_EUPSTREAM if MESSAGE_STOP has not arrived. */
int ccp_anthropic_writer_message(ccp_anthropic_writer *w, ccp_buf *out, ccp_error *err);

/* Appends one Anthropic error body {"type":"error","error":{...}} to out;
 * used for HTTP error responses and (framed) for SSE error events. */
void ccp_anthropic_error_json(ccp_buf *out, const char *type, const char *message);

#endif
