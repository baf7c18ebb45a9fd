/* strip.c — strip-cache-control and strip-thinking: removing what a
 * provider does not take. */
#include "core/json.h"
#include "transform/transform.h"

#include <string.h>

static void strip_cc_blocks(json_object *blocks)
{
    for (size_t i = 0; i < ccp_json_arr_len(blocks); i++) {
        json_object *b = json_object_array_get_idx(blocks, i);
        if (!json_object_is_type(b, json_type_object)) continue;
        json_object_object_del(b, "cache_control");
        strip_cc_blocks(ccp_json_get(b, "content")); /* tool_result content */
    }
}

static int strip_cache_control(const ccp_step *s, json_object *req, ccp_error *err)
{
    strip_cc_blocks(ccp_json_get(req, "system"));
    strip_cc_blocks(ccp_json_get(req, "tools"));
    json_object *msgs = ccp_json_get(req, "messages");
    for (size_t i = 0; i < ccp_json_arr_len(msgs); i++)
        strip_cc_blocks(ccp_json_get(json_object_array_get_idx(msgs, i), "content"));
    (void)s, (void)err;
    return 0;
}

static const ccp_opt_spec no_opts[] = {{NULL, 0, NULL, NULL, NULL, 0}};

const ccp_transformer ccp_tf_strip_cache_control = {
    .name = "strip-cache-control",
    .summary = "Removes cache_control from system blocks, tools and messages (for Anthropic-"
               "format endpoints that reject it).",
    .opts = no_opts,
    .formats = 1u << CCP_FORMAT_ANTHROPIC, /* the other codecs drop it themselves */
    .request = strip_cache_control,
};

typedef struct strip_thinking_conf {
    bool request;
} strip_thinking_conf;

static int strip_thinking(const ccp_step *s, json_object *req, ccp_error *err)
{
    const strip_thinking_conf *c = s->conf;
    ccp_tf_drop_thinking_blocks(req);
    if (c->request) json_object_object_del(req, "thinking");
    (void)err;
    return 0;
}

static const ccp_opt_spec strip_thinking_opts[] = {
    {"request", CCP_OPT_BOOL, "false", "also remove the request's thinking setting", NULL,
     offsetof(strip_thinking_conf, request)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_strip_thinking = {
    .name = "strip-thinking",
    .summary = "Removes thinking and redacted_thinking blocks from the history (signatures from "
               "another provider are refused), and optionally the thinking setting.",
    .opts = strip_thinking_opts,
    .conf_size = sizeof(strip_thinking_conf),
    .request = strip_thinking,
};
