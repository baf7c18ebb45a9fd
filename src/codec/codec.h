/* codec.h — the contract of a provider wire format.
 *
 * A codec encodes the canonical request (an Anthropic Messages request as a
 * json-c document) into the provider's wire format, and decodes the provider's
 * answer (SSE stream or one JSON body) into canonical events. One codec per
 * file: anthropic.c, openai_chat.c, gemini.c, ... Each declares itself in one
 * ccp_codec table; ccp_codec_find looks codecs up by their config name. A codec
 * knows core/ and config/ types, nothing of http/. */
#ifndef CCP_CODEC_CODEC_H
#define CCP_CODEC_CODEC_H

#include "codec/events.h"
#include "config/config.h"
#include "config/keys.h"
#include "core/api_error.h"
#include "core/buf.h"
#include "core/headers.h"
#include "core/error.h"

#include <json-c/json.h>
#include <stdbool.h>

/* What to send upstream. All fields owned by the ccp_outbound; free with
 * ccp_outbound_free. The encoder leaves the body as a tree (json), the
 * outbound hooks edit that tree, and ccp_outbound_seal writes it out once,
 * after the last hook. */
typedef struct ccp_outbound {
    ccp_buf url;    /* absolute URL */
    char **headers; /* "Name: value" lines, each malloc'd */
    size_t n_headers;
    json_object *json; /* the body until sealed; a reference of its own */
    ccp_buf body;      /* the body as sent, once sealed */
} ccp_outbound;

void ccp_outbound_init(ccp_outbound *out);
void ccp_outbound_free(ccp_outbound *out);
/* Serializes out->json into out->body and drops the tree. */
void ccp_outbound_seal(ccp_outbound *out);
void ccp_outbound_add_header(ccp_outbound *out, const char *name, const char *value);
/* Adds key (NULL: the provider's api_key) in the provider's auth mode
 * (x-api-key, Authorization: Bearer, x-goog-api-key, api-key or none), then its
 * configured extra headers. */
void ccp_outbound_add_auth(ccp_outbound *out, const ccp_provider *p, const char *key);
/* For map_error when the body says nothing useful: "upstream answered HTTP
 * <status>: <the first 500 bytes of the body>". */
void ccp_error_body_excerpt(ccp_buf *msg, int status, const char *body, size_t len);
/* True for an Anthropic server tool (web search, code execution, ... : no
 * input_schema), which a provider of another format cannot run: logged as
 * dropped by `codec`. */
bool ccp_tool_is_server_tool(json_object *tool, const char *codec);
/* Tool-use ids for providers that give none (or none in Anthropic's shape):
 * "toolu_" and 24 letters and digits, as Anthropic makes them. Each decoder
 * seeds its own generator (xorshift; not for secrets) with ccp_tool_id_seed
 * and appends ids with ccp_tool_id_append. */
uint64_t ccp_tool_id_seed(const void *salt);
void ccp_tool_id_append(uint64_t *rng, ccp_buf *out);
/* Appends base_url and path with exactly one '/' between them. */
void ccp_outbound_set_url(ccp_outbound *out, const char *base_url, const char *path);

typedef struct ccp_encode_ctx {
    const ccp_provider *provider;
    const char *model;                 /* model to send; NULL keeps the request's own */
    json_object *request;              /* canonical request, owned by the caller; encode
                                          reads it and builds the body apart (it may share
                                          the request's subtrees, never edit them) */
    bool stream;                       /* the client asked for a stream */
    const ccp_header_view *in_headers; /* inbound client headers */
    size_t n_in_headers;
    /* The request is known to pass ccp_request_check: the client's was
     * validated on arrival and no request hook has edited it since. The
     * encoder then skips its own check (one walk less per request). */
    bool shape_checked;
    const char *api_key; /* the key this attempt sends (the exchange's key pool chose
                            it); NULL: the provider's api_key. A secret. */
} ccp_encode_ctx;

/* ---- what every encoder checks first (request_check.c) ---- */

/* The canonical request's shape: 0, or CCP_EINVAL with err naming the first
 * field of a wrong type ("messages.0.content: must be a string or an array
 * of content blocks"). Every field a codec, the router or a built-in
 * transformer reads is checked, so no code that reads the tree meets a type
 * it did not expect; fields nobody reads are left to the provider. Each
 * encoder calls it first. docs/configuration.md ("Request checks") lists
 * what it holds. */
int ccp_request_check(json_object *req, ccp_error *err);

/* ccp_request_check and what the Anthropic API requires besides, for a
 * client's /v1/messages request before it is routed: max_tokens (an integer
 * of at least 1), at least one message, a custom tool's input_schema,
 * tool_choice's and thinking's type among the API's values, tool_choice's
 * name for type tool, thinking's budget_tokens when enabled. The error
 * names the JSON path ("messages.3.content.0.tool_use_id: field
 * required"). Unknown fields pass. */
int ccp_request_validate(json_object *req, ccp_error *err);

#define CCP_MODEL_NAME_MAX 256

/* A model name as sent upstream: 1..CCP_MODEL_NAME_MAX bytes of letters,
 * digits and - . _ : / @ + (OpenRouter's vendor/model:free, Bedrock's
 * vendor.model-v1:0, Ollama's llama3:8b, Vertex's model@version), with no
 * empty, "." or ".." '/'-segment. 0, or CCP_EINVAL with err saying what is
 * wrong. */
int ccp_model_name_check(const char *model, ccp_error *err);

/* The model an encoder sends: ctx->model or the request's, its "[1m]"-style
 * suffix stripped, checked by ccp_model_name_check. A new string the caller
 * frees, or NULL with err set. */
char *ccp_encode_model(const ccp_encode_ctx *ctx, ccp_error *err);

/* Appends s as URL path segments: '/' kept between segments, every byte
 * other than letters, digits and - . _ ~ percent-encoded. For every path
 * segment built from request data. */
void ccp_url_append_path(ccp_buf *b, const char *s);

typedef struct ccp_decoder ccp_decoder; /* codec-private */

typedef struct ccp_codec {
    const char *name; /* config name: "anthropic", "openai-chat", "gemini" */
    ccp_format format;
    const char *summary;   /* one line for the configuration reference */
    ccp_auth default_auth; /* how the key is sent unless the provider says */
    /* The provider options this format takes (keys of a provider entry),
     * filled at config load into a struct of opts_size bytes that
     * ccp_provider.codec_opts points to; the codec reads it typed. */
    const ccp_key *opts;
    size_t n_opts;
    size_t opts_size;

    /* Fills out (initialised by the caller) with URL, headers and the body
     * tree (out->json). */
    int (*encode)(const ccp_encode_ctx *ctx, ccp_outbound *out, ccp_error *err);

    /* A decoder for one upstream 2xx answer. sse is true when the answer is
     * text/event-stream, false for one JSON body (which some providers send
     * even to streaming requests). Events go to sink, which must outlive the
     * decoder. Returns a decoder the caller frees with decoder_free. */
    ccp_decoder *(*decoder_new)(ccp_event_sink *sink, bool sse);
    /* Feeds the next bytes of the body, split anywhere. Returns 0, a sink's
     * error, or CCP_EUPSTREAM with err set when the upstream sent garbage. */
    int (*decoder_feed)(ccp_decoder *d, const char *data, size_t len, ccp_error *err);
    /* The body ended. Returns CCP_EUPSTREAM if it ended before the message
     * was complete (err says what was missing). */
    int (*decoder_finish)(ccp_decoder *d, ccp_error *err);
    void (*decoder_free)(ccp_decoder *d);

    /* Maps a non-2xx upstream answer to an Anthropic error type (static
     * string such as "rate_limit_error") and message (appended to msg). */
    const char *(*map_error)(int status, const char *body, size_t len, ccp_buf *msg);
} ccp_codec;

/* Every codec, in ccp_format order; NULL-terminated. */
extern const ccp_codec *const ccp_codecs[];
/* The codec for a format (every ccp_format has one). */
const ccp_codec *ccp_codec_for(ccp_format format);
/* The codec whose config name is name, or NULL. */
const ccp_codec *ccp_codec_find(const char *name);
/* "anthropic, openai-chat or gemini": the names, for messages. */
void ccp_codec_names(ccp_buf *out, const char *last_sep);

#endif
