/* gemini.h — the `gemini` wire format: Google's Gemini API
 * (generateContent / streamGenerateContent?alt=sse). The encoder maps an
 * Anthropic request onto it (gemini.c, tool schemas by gemini_schema.c);
 * the decoder turns its answer into canonical events (gemini_decode.c).
 * docs/gemini.md lists every mapping.
 *
 * Thought signatures: Gemini puts a thoughtSignature on a functionCall part
 * and refuses the next turn unless it comes back on that part. Claude Code
 * keeps tool_use ids verbatim, so the signature travels inside the id:
 * toolu_<random>_gs_<signature in base64url>. */
#ifndef CCP_CODEC_GEMINI_H
#define CCP_CODEC_GEMINI_H

#include "codec/codec.h"

extern const ccp_codec ccp_codec_gemini;

ccp_decoder *ccp_gemini_decoder_new(ccp_event_sink *sink, bool sse);
int ccp_gemini_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err);
int ccp_gemini_decoder_finish(ccp_decoder *d, ccp_error *err);
void ccp_gemini_decoder_free(ccp_decoder *d);

/* The Anthropic stop_reason for a Gemini finishReason (static string);
 * had_calls: the turn ended in function calls. */
const char *ccp_gemini_stop_reason(const char *finish_reason, bool had_calls);

/* A JSON Schema (an Anthropic tool's input_schema) as the OpenAPI subset
 * Gemini accepts: a new object the caller owns. $ref to #/$defs or
 * #/definitions is resolved inline; keywords Gemini refuses are dropped. */
json_object *ccp_gemini_schema(json_object *schema);

/* Gemini's contents, built turn by turn. Gemini wants user and model turns
 * to alternate, so consecutive messages of one role (a mid-conversation
 * system message is sent as a user turn) become one turn; in a merged user
 * turn the functionResponse parts come first, so that they still directly
 * answer the model's function calls. A turn of one message keeps its parts
 * as they are. Linear: each part is added to an array at most twice however
 * long the run (20,000 consecutive user messages once took 11 s of CPU when
 * every merge copied every earlier part). */
typedef struct ccp_gemini_turns {
    json_object *contents;           /* where turns go; borrowed */
    const char *role;                /* the pending turn's role (static); NULL: none */
    json_object *first;              /* its parts while it has one message; owned */
    json_object *responses, *others; /* its parts once merged; owned */
    size_t part_adds;                /* parts added to arrays: the work, for tests */
} ccp_gemini_turns;

void ccp_gemini_turns_init(ccp_gemini_turns *t, json_object *contents);
/* Adds one message's parts (taken over) as a turn of role ("user" or
 * "model", a static string). */
void ccp_gemini_turns_add(ccp_gemini_turns *t, const char *role, json_object *parts);
/* Appends the pending turn, if any, to contents. */
void ccp_gemini_turns_flush(ccp_gemini_turns *t);
/* Releases a pending turn without appending it (on an error). */
void ccp_gemini_turns_free(ccp_gemini_turns *t);

/* The marker between a tool_use id and the signature it carries. */
#define CCP_GEMINI_SIG_MARK "_gs_"

#endif
