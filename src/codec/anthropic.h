/* anthropic.h — the `anthropic` wire format: Anthropic's Messages API and the
 * Anthropic-compatible endpoints of other providers (DeepSeek, OpenRouter,
 * Moonshot, Zhipu, MiniMax, ...). The canonical request already is one, so
 * encoding is a few edits; decoding turns Anthropic's stream or message into
 * canonical events. */
#ifndef CCP_CODEC_ANTHROPIC_H
#define CCP_CODEC_ANTHROPIC_H

#include "codec/codec.h"

extern const ccp_codec ccp_codec_anthropic;

/* Decoder entry points (anthropic_decode.c), exposed for the codec table. */
ccp_decoder *ccp_anthropic_decoder_new(ccp_event_sink *sink, bool sse);
int ccp_anthropic_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err);
int ccp_anthropic_decoder_finish(ccp_decoder *d, ccp_error *err);
void ccp_anthropic_decoder_free(ccp_decoder *d);

/* Turns one Anthropic message object (a non-streaming answer) into the
 * event sequence a stream of it would have produced. */
int ccp_anthropic_message_to_events(json_object *msg, ccp_event_sink *sink, ccp_error *err);

/* Reads a usage object; absent fields are -1. */
ccp_usage ccp_anthropic_usage(json_object *usage);

/* Removes a trailing "[...]" marker (Claude Code's "[1m]" long-context tag)
 * from a model name, in place. */
void ccp_model_strip_suffix(char *model);

#endif
