/* transform.h — the built-in transformers (one table each, beside its
 * code); the catalog in pipeline.c lists them. */
#ifndef CCP_TRANSFORM_TRANSFORM_H
#define CCP_TRANSFORM_TRANSFORM_H

#include "pipeline/pipeline.h"

/* helpers.c. Removes thinking and redacted_thinking blocks from every
 * message. */
void ccp_tf_drop_thinking_blocks(json_object *req);

/* helpers.c. A value of a step's config, to put into a request or body:
 * a copy (owned by the caller; NULL for NULL). Config values are shared
 * by every thread that runs the step and json-c counts references without
 * atomics, so a reference taken per request races with the other threads
 * until the value is freed under the config. */
json_object *ccp_tf_config_value(json_object *v);

/* helpers.c. For outbound hooks: lets fn edit the outbound body tree
 * (out->json; serialized once, after the last hook). CCP_EINVAL when the
 * body is not a JSON object. */
int ccp_tf_edit_body(ccp_outbound *out, ccp_error *err,
                     void (*fn)(const ccp_step *s, json_object *req, json_object *body),
                     const ccp_step *s, json_object *req);

extern const ccp_transformer ccp_tf_max_tokens;          /* request_basic.c */
extern const ccp_transformer ccp_tf_sampling;            /* request_basic.c */
extern const ccp_transformer ccp_tf_system_prompt;       /* request_basic.c */
extern const ccp_transformer ccp_tf_reasoning;           /* reasoning.c */
extern const ccp_transformer ccp_tf_strip_cache_control; /* strip.c */
extern const ccp_transformer ccp_tf_strip_thinking;      /* strip.c */
extern const ccp_transformer ccp_tf_schema_sanitize;     /* schema_sanitize.c */
extern const ccp_transformer ccp_tf_extra_body;          /* extra.c */
extern const ccp_transformer ccp_tf_extra_headers;       /* extra.c */
extern const ccp_transformer ccp_tf_tool_args_repair;    /* tool_args_repair.c */
extern const ccp_transformer ccp_tf_openrouter;          /* dialects.c */
extern const ccp_transformer ccp_tf_deepseek;            /* dialects.c */
extern const ccp_transformer ccp_tf_groq;                /* dialects.c */
extern const ccp_transformer ccp_tf_ollama;              /* dialects.c */
extern const ccp_transformer ccp_tf_qwen;                /* dialects.c */

#endif
