/* openai_responses.h — the `openai-responses` wire format: OpenAI's
 * Responses API (POST /v1/responses), the only API of the gpt-5.x-codex
 * family, gpt-5-pro and o3-pro, also served by Azure OpenAI (/openai/v1)
 * and some OpenAI-compatible servers. The encoder maps an Anthropic request
 * onto it (openai_responses.c); the decoder turns its answer, the SSE event
 * stream or one response object, into canonical events
 * (openai_responses_decode.c). docs/openai-responses.md lists every
 * mapping.
 *
 * Stateless reasoning: requests say store: false and ask for
 * reasoning.encrypted_content. A reasoning item's id and encrypted content
 * travel in the Anthropic thinking block's signature,
 * "oai-rs:<id>:<encrypted_content>", so the next turn sends the item back
 * and tool loops keep the model's reasoning without server-side state. */
#ifndef CCP_CODEC_OPENAI_RESPONSES_H
#define CCP_CODEC_OPENAI_RESPONSES_H

#include "codec/codec.h"

extern const ccp_codec ccp_codec_openai_responses;

/* The marker a thinking signature made by this codec starts with. */
#define CCP_RESPONSES_SIG_MARK "oai-rs:"

/* Reasoning summaries asked for (reasoning.summary). */
typedef enum {
    CCP_RSUMMARY_AUTO,
    CCP_RSUMMARY_CONCISE,
    CCP_RSUMMARY_DETAILED,
    CCP_RSUMMARY_NONE, /* not asked for */
} ccp_responses_summary;

/* The provider options of an openai-responses provider
 * (ccp_provider.codec_opts), filled from the table in openai_responses.c. */
typedef struct ccp_openai_responses_opts {
    char *api_version;      /* Azure's ?api-version=; NULL or "": none */
    int reasoning_summary;  /* a ccp_responses_summary */
    bool store;             /* store: true (server-side state) instead of stateless */
    bool sampling;          /* send temperature and top_p (reasoning models refuse them) */
    bool safety_identifier; /* metadata.user_id → safety_identifier (else user) */
} ccp_openai_responses_opts;

ccp_decoder *ccp_responses_decoder_new(ccp_event_sink *sink, bool sse);
int ccp_responses_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err);
int ccp_responses_decoder_finish(ccp_decoder *d, ccp_error *err);
void ccp_responses_decoder_free(ccp_decoder *d);

/* The Anthropic error type for a Responses error code ("rate_limit_exceeded"
 * → "rate_limit_error", ...; static string). */
const char *ccp_responses_error_type(const char *code);

#endif
