/* body_in.h — the two shapes an upstream answer's body comes in, for the
 * decoders: SSE, whose events go to a callback as they complete (split
 * anywhere), or one JSON document, kept whole for the decoder's finish. */
#ifndef CCP_CODEC_BODY_IN_H
#define CCP_CODEC_BODY_IN_H

#include "core/buf.h"
#include "core/error.h"
#include "core/json.h"
#include "core/sse.h"

#include <stdbool.h>

typedef struct ccp_body_in {
    bool sse;
    ccp_sse_reader reader;
    ccp_buf body;   /* JSON: the whole body so far */
    ccp_error *err; /* during a feed: where the event callback reports */
} ccp_body_in;

void ccp_body_in_init(ccp_body_in *in, bool sse, ccp_sse_event_fn fn, void *ud);
/* Feeds the next bytes; the callback's return code, or CCP_EUPSTREAM with
 * err set when one event is over the reader's limit. */
int ccp_body_in_feed(ccp_body_in *in, const char *data, size_t len, ccp_error *err);
void ccp_body_in_free(ccp_body_in *in);
/* Parses one event's data (or the whole body) as a JSON value into *out
 * (caller owns). On failure, sets the feed's error to "upstream sent a bad
 * chunk: ..." and returns CCP_EUPSTREAM; a bare null counts as a failure. */
int ccp_body_in_json(ccp_body_in *in, const char *data, size_t len, json_object **out);
/* For a decoder's finish on a JSON answer: parses the whole body kept so
 * far into *out (caller owns). On failure (an empty body or a bare null
 * too), sets err to "upstream sent a bad JSON answer: ..." and returns
 * CCP_EUPSTREAM. */
int ccp_body_in_whole(ccp_body_in *in, json_object **out, ccp_error *err);

#endif
