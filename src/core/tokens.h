/* tokens.h — a fast local estimate of Claude's token count.
 *
 * An estimate, not the real tokenizer (which is not public for current
 * models): calibrated against Anthropic's published tokenizer on English,
 * code, JSON and Markdown samples (docs/count_tokens.md has the error per
 * sample). One pass over the bytes, no allocation. */
#ifndef CCP_CORE_TOKENS_H
#define CCP_CORE_TOKENS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Estimated tokens of a UTF-8 text. */
size_t ccp_tokens_estimate_text(const char *s, size_t len);

/* Estimated input tokens of an Anthropic Messages request: system, every
 * message's blocks (text, thinking, tool_use input, tool_result content,
 * images at a fixed cost), and tool definitions, plus small per-message and
 * per-tool overheads. */
int64_t ccp_tokens_estimate_request(json_object *req);

/* The fixed cost counted for one image (a 1092x1092 image, per Anthropic's
 * (width*height)/750 rule). */
#define CCP_TOKENS_PER_IMAGE 1590

#endif
