/* openai_chat.h — the `openai-chat` wire format: OpenAI Chat Completions and
 * the many providers that copy it (OpenRouter, DeepSeek, Groq, Together,
 * Fireworks, Ollama, vLLM, llama.cpp, LM Studio, ...). The encoder maps an
 * Anthropic request onto it (openai_chat.c); the decoder turns its answer,
 * streamed chunks or one completion, into canonical events
 * (openai_chat_decode.c). docs/openai-chat.md lists every mapping. */
#ifndef CCP_CODEC_OPENAI_CHAT_H
#define CCP_CODEC_OPENAI_CHAT_H

#include "codec/codec.h"

extern const ccp_codec ccp_codec_openai_chat;

/* How Anthropic's `thinking` is sent. */
typedef enum {
    CCP_REASONING_NONE,   /* not sent */
    CCP_REASONING_EFFORT, /* reasoning_effort: low|medium|high */
} ccp_reasoning;

/* The provider options of an openai-chat provider (ccp_provider.codec_opts),
 * filled from the table in openai_chat.c. */
typedef struct ccp_openai_chat_opts {
    int max_tokens_field;   /* 0: max_tokens, 1: max_completion_tokens */
    int reasoning;          /* a ccp_reasoning */
    bool top_k;             /* send top_k (most OpenAI-compatible servers reject it) */
    bool reasoning_history; /* send earlier thinking back as reasoning_content */
} ccp_openai_chat_opts;

ccp_decoder *ccp_openai_decoder_new(ccp_event_sink *sink, bool sse);
int ccp_openai_decoder_feed(ccp_decoder *d, const char *data, size_t len, ccp_error *err);
int ccp_openai_decoder_finish(ccp_decoder *d, ccp_error *err);
void ccp_openai_decoder_free(ccp_decoder *d);

/* The Anthropic stop_reason for an OpenAI finish_reason (static string). */
const char *ccp_openai_stop_reason(const char *finish_reason);

/* The reasoning effort for an Anthropic request's thinking settings, or
 * NULL when thinking is off: budget_tokens < 4096 → low, < 16384 → medium,
 * else high; adaptive thinking takes output_config.effort (max → high).
 * openai-chat's reasoning_effort and openai-responses' reasoning.effort. */
const char *ccp_openai_reasoning_effort(json_object *req);

#endif
