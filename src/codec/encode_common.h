/* encode_common.h — what several encoders do alike, given one home here:
 * the text of Anthropic content, an image source as a URL, a tool_result's
 * text, a tool_use's arguments, the structured-output schema, and the
 * OpenAI-shaped tools block and error body that openai-chat and
 * openai-responses share. Only what is the same on every wire that uses it
 * lives here; each provider's own shapes stay in its codec file. */
#ifndef CCP_CODEC_ENCODE_COMMON_H
#define CCP_CODEC_ENCODE_COMMON_H

#include "codec/codec.h"
#include "core/buf.h"

#include <json-c/json.h>
#include <stdbool.h>

/* Claude Code's first system block carries a per-request hash under this
 * prefix; sent to another provider it defeats prefix caching. */
#define CCP_BILLING_PREFIX "x-anthropic-billing-header:"

/* True when s starts with CCP_BILLING_PREFIX. */
bool ccp_is_billing_text(const char *s);

/* Appends the text of an Anthropic content value (a string, or an array of
 * blocks of which the non-empty text ones count) to b, blocks separated by
 * sep (also after what b already holds); skips the billing block. The
 * whole string goes in, NUL bytes and all. content may be NULL. */
void ccp_append_text(ccp_buf *b, json_object *content, const char *sep);

/* The URL of an Anthropic image block's source: "data:<media_type>;base64,
 * <data>" for a base64 source, the URL itself for a url source. Appends it
 * to url and returns true, or returns false (url untouched) for any other
 * or incomplete source. */
bool ccp_image_url(json_object *blk, ccp_buf *url);

/* An encoder's own image part for an Anthropic image block: a new object,
 * or NULL when the block has no counterpart. */
typedef json_object *(*ccp_image_part_fn)(json_object *blk);

/* The text of a tool_result block, appended to b: "[tool error] " first
 * when is_error, then its text blocks joined by a blank line (or its string
 * content). Its image blocks go through image_part into the array images
 * (in order), for the user message that follows: most servers take text
 * only in a tool's answer. */
void ccp_tool_result_text(ccp_buf *b, json_object *blk, ccp_image_part_fn image_part,
                          json_object *images);

/* A tool_use block's input written out as a JSON string ("{}" without
 * one), as OpenAI's `arguments` take it. A new string. */
json_object *ccp_tool_arguments(json_object *blk);

/* Adds a tool's "name" and, when it has one, its "description" to dst,
 * both shared with the request by reference. */
void ccp_tool_add_name(json_object *dst, json_object *tool);

/* Adds src[from] to dst as to, shared by reference; nothing when src has
 * no such member. */
void ccp_json_copy_field(json_object *dst, const char *to, json_object *src, const char *from);

/* The schema of output_config.format when its type is json_schema (Claude
 * Code's title request asks for one), or NULL. Borrowed from req. */
json_object *ccp_output_schema(json_object *req);

/* What every encoder does first: ccp_request_check (unless the request is
 * known to pass it) and ccp_encode_model. 0 with *model a new string the
 * caller frees, or the error code with err set. */
int ccp_encode_begin(const ccp_encode_ctx *ctx, char **model, ccp_error *err);

/* The headers every encoder ends with: "accept: text/event-stream" when
 * the client asked for a stream, then the key and the provider's extra
 * headers (ccp_outbound_add_auth). */
void ccp_encode_end_headers(ccp_outbound *out, const ccp_encode_ctx *ctx);

/* ---- the OpenAI shapes openai-chat and openai-responses share ---------- */

/* Adds "tools" (map_tools(req.tools), when it keeps any), its
 * "tool_choice" (map_tool_choice(req.tool_choice), when not NULL) and
 * "parallel_tool_calls": false when the client disabled parallel calls.
 * Each map function returns a new value. */
void ccp_openai_add_tools(json_object *o, json_object *req,
                          json_object *(*map_tools)(json_object *),
                          json_object *(*map_tool_choice)(json_object *));

/* OpenAI's tool_choice string for an Anthropic tool_choice type: auto →
 * "auto", any → "required", none → "none" (static strings); NULL for
 * "tool", whose object differs between the two APIs, and anything else. */
const char *ccp_openai_tool_choice_mode(const char *type);

/* map_error for OpenAI's error bodies, {"error":{"message",...}} or
 * {"error":"..."}: the message (or an excerpt of the body) into msg, the
 * Anthropic type from the status. */
const char *ccp_openai_map_error(int status, const char *body, size_t len, ccp_buf *msg);

#endif
