/* events.h — the canonical response: a stream of typed events that mirror the
 * Anthropic Messages stream (see DESIGN.md, "The canonical forms").
 *
 * A codec's decoder turns an upstream answer (an SSE stream or one JSON body)
 * into these; pipeline event hooks may edit them; the Anthropic writer turns
 * them into SSE for streaming clients or one JSON message otherwise. They are
 * C structs so that no event is parsed twice.
 *
 * Ownership: an event and everything it points to are borrowed for the
 * duration of one ccp_event_sink.emit call. A sink that needs to keep
 * anything copies it (or takes a json_object reference). */
#ifndef CCP_CODEC_EVENTS_H
#define CCP_CODEC_EVENTS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CCP_EV_MESSAGE_START,
    CCP_EV_BLOCK_START,
    CCP_EV_BLOCK_DELTA,
    CCP_EV_BLOCK_STOP,
    CCP_EV_MESSAGE_DELTA,
    CCP_EV_MESSAGE_STOP,
    CCP_EV_PING,
    CCP_EV_ERROR,
} ccp_event_type;

typedef enum {
    CCP_BLOCK_TEXT,
    CCP_BLOCK_THINKING,
    CCP_BLOCK_REDACTED_THINKING, /* data in ev.text */
    CCP_BLOCK_TOOL_USE,          /* tool_id, tool_name; input arrives as partial_json */
    CCP_BLOCK_OTHER,             /* any other block (server_tool_use, web_search_tool_result,
                                    ...): carried verbatim in ev.raw */
} ccp_block_kind;

typedef enum {
    CCP_DELTA_TEXT,
    CCP_DELTA_THINKING,
    CCP_DELTA_SIGNATURE,
    CCP_DELTA_PARTIAL_JSON,
    CCP_DELTA_OTHER, /* any other delta (citations_delta, ...): verbatim in ev.raw */
} ccp_delta_kind;

/* Token counts; a field is -1 when the upstream did not report it, so the
 * writer emits only what is known. */
typedef struct ccp_usage {
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_creation_input_tokens;
    int64_t cache_read_input_tokens;
} ccp_usage;

#define CCP_USAGE_UNKNOWN ((ccp_usage){-1, -1, -1, -1})

typedef struct ccp_event {
    ccp_event_type type;
    int index; /* content block index: BLOCK_START, BLOCK_DELTA, BLOCK_STOP */

    /* MESSAGE_START */
    const char *message_id; /* "msg_..."; the writer generates one if NULL */
    const char *model;

    /* BLOCK_START */
    ccp_block_kind block_kind;
    const char *tool_id;   /* TOOL_USE */
    const char *tool_name; /* TOOL_USE */

    /* BLOCK_DELTA */
    ccp_delta_kind delta_kind;

    /* BLOCK_DELTA text of any kind, REDACTED_THINKING data. Not NUL-terminated
     * necessarily: always use text_len. */
    const char *text;
    size_t text_len;

    /* MESSAGE_DELTA */
    const char *stop_reason;   /* "end_turn", "tool_use", ...; NULL = none */
    const char *stop_sequence; /* NULL = none */

    /* MESSAGE_START and MESSAGE_DELTA */
    ccp_usage usage;

    /* ERROR: Anthropic error type ("overloaded_error", "api_error", ...) */
    const char *error_type;
    const char *error_message;

    /* Optional verbatim JSON, borrowed:
     *   BLOCK_START with CCP_BLOCK_OTHER: the whole content_block object;
     *   BLOCK_DELTA with CCP_DELTA_OTHER: the whole delta object;
     *   MESSAGE_START: the upstream message object, so fields the struct does
     *     not model (container, ...) can be carried through; may be NULL;
     *   MESSAGE_DELTA: the upstream usage object (server_tool_use, ...);
     *     may be NULL. */
    json_object *raw;
} ccp_event;

/* Something that consumes events: the next transformer, or the writer.
 * emit returns 0, or a negative CCP_E* code to stop the producer. */
typedef struct ccp_event_sink ccp_event_sink;
struct ccp_event_sink {
    int (*emit)(ccp_event_sink *self, const ccp_event *ev);
};

/* Static names for logging and tests: "message_start", "text", "thinking", ... */
const char *ccp_event_type_name(ccp_event_type t);
const char *ccp_block_kind_name(ccp_block_kind k);
const char *ccp_delta_kind_name(ccp_delta_kind k);

#endif
