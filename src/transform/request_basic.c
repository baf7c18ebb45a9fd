/* request_basic.c — max-tokens, sampling and system-prompt: small edits of
 * the canonical request's top-level fields. */
#include "core/json.h"
#include "transform/transform.h"

#include <string.h>

/* ---- max-tokens -------------------------------------------------------- */

static int max_tokens(const ccp_step *s, json_object *req, ccp_error *err)
{
    int64_t set = ccp_opt_int(s, "set", -1), max = ccp_opt_int(s, "max", -1);
    int64_t have = ccp_json_get_int(req, "max_tokens", -1);
    int64_t want = set > 0 ? set : (max > 0 && have > max ? max : have);
    if (want > 0 && want != have)
        json_object_object_add(req, "max_tokens", json_object_new_int64(want));
    /* Thinking must fit below max_tokens, or the provider refuses. */
    json_object *th = ccp_json_get_obj(req, "thinking");
    int64_t budget = ccp_json_get_int(th, "budget_tokens", -1);
    if (want > 0 && budget >= want)
        json_object_object_add(th, "budget_tokens",
                               json_object_new_int64(want > 1024 ? want - 1 : 1024));
    (void)err;
    return 0;
}

static const ccp_opt_spec max_tokens_opts[] = {
    {"max", CCP_OPT_INT, NULL, "lower max_tokens to this when the request asks for more", NULL},
    {"set", CCP_OPT_INT, NULL, "always send this max_tokens", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

const ccp_transformer ccp_tf_max_tokens = {
    .name = "max-tokens",
    .summary = "Clamps or sets max_tokens (Claude Code asks for 64000; many models allow less), "
               "and keeps a thinking budget below it.",
    .opts = max_tokens_opts,
    .request = max_tokens,
};

/* ---- sampling ---------------------------------------------------------- */

static int sampling(const ccp_step *s, json_object *req, ccp_error *err)
{
    static const char *const keys[] = {"temperature", "top_p", "top_k"};
    for (size_t i = 0; i < 3; i++) {
        json_object *v = ccp_opt(s, keys[i]);
        if (v) json_object_object_add(req, keys[i], json_object_get(v));
    }
    json_object *drop = ccp_opt(s, "remove");
    for (size_t i = 0; drop && i < json_object_array_length(drop); i++)
        json_object_object_del(req, json_object_get_string(json_object_array_get_idx(drop, i)));
    (void)err;
    return 0;
}

static const ccp_opt_spec sampling_opts[] = {
    {"temperature", CCP_OPT_NUMBER, NULL, "set temperature", NULL},
    {"top_p", CCP_OPT_NUMBER, NULL, "set top_p", NULL},
    {"top_k", CCP_OPT_INT, NULL, "set top_k", NULL},
    {"remove", CCP_OPT_STRING_LIST, NULL, "request fields to remove (e.g. [top_k])", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

const ccp_transformer ccp_tf_sampling = {
    .name = "sampling",
    .summary = "Sets, overrides or removes temperature, top_p and top_k.",
    .opts = sampling_opts,
    .request = sampling,
};

/* ---- system-prompt ----------------------------------------------------- */

static int system_prompt(const ccp_step *s, json_object *req, ccp_error *err)
{
    const char *mode = ccp_opt_str(s, "mode");
    const char *text = ccp_opt_str(s, "text");
    if (!text) return ccp_error_set(err, CCP_EINVAL, "option text is required");
    json_object *blk = json_object_new_object();
    json_object_object_add(blk, "type", json_object_new_string("text"));
    json_object_object_add(blk, "text", json_object_new_string(text));
    json_object *sys = ccp_json_get(req, "system");
    json_object *arr = json_object_new_array();
    bool prepend = !strcmp(mode, "prepend");
    if (prepend) json_object_array_add(arr, blk);
    if (strcmp(mode, "replace") != 0) {
        if (json_object_is_type(sys, json_type_string)) {
            json_object *b = json_object_new_object();
            json_object_object_add(b, "type", json_object_new_string("text"));
            json_object_object_add(b, "text", json_object_get(sys));
            json_object_array_add(arr, b);
        } else if (json_object_is_type(sys, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(sys); i++)
                json_object_array_add(arr, json_object_get(json_object_array_get_idx(sys, i)));
        }
    }
    if (!prepend) json_object_array_add(arr, blk);
    json_object_object_add(req, "system", arr);
    return 0;
}

static const char *const sp_modes[] = {"prepend", "append", "replace", NULL};
static const ccp_opt_spec system_prompt_opts[] = {
    {"mode", CCP_OPT_STRING, "\"append\"", "prepend, append or replace", sp_modes},
    {"text", CCP_OPT_STRING, NULL, "the text (required)", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

const ccp_transformer ccp_tf_system_prompt = {
    .name = "system-prompt",
    .summary = "Prepends, appends or replaces system prompt text.",
    .opts = system_prompt_opts,
    .request = system_prompt,
};
