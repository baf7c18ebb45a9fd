/* request_basic.c — max-tokens, sampling and system-prompt: small edits of
 * the canonical request's top-level fields. */
#include "core/json.h"
#include "transform/transform.h"

#include <stddef.h>
#include <string.h>

/* ---- max-tokens -------------------------------------------------------- */

typedef struct max_tokens_conf {
    int64_t max, set;
} max_tokens_conf;

static int max_tokens(const ccp_step *s, json_object *req, ccp_error *err)
{
    const max_tokens_conf *c = s->conf;
    int64_t set = c->set, max = c->max;
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
    {"max", CCP_OPT_INT, NULL, "lower max_tokens to this when the request asks for more", NULL,
     offsetof(max_tokens_conf, max)},
    {"set", CCP_OPT_INT, NULL, "always send this max_tokens", NULL, offsetof(max_tokens_conf, set)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_max_tokens = {
    .name = "max-tokens",
    .summary = "Clamps or sets max_tokens (Claude Code asks for 64000; many models allow less), "
               "and keeps a thinking budget below it.",
    .opts = max_tokens_opts,
    .conf_size = sizeof(max_tokens_conf),
    .request = max_tokens,
};

/* ---- sampling ---------------------------------------------------------- */

typedef struct sampling_conf {
    json_object *temperature, *top_p; /* numbers as written */
    int64_t top_k;
    json_object *remove;
} sampling_conf;

static int sampling(const ccp_step *s, json_object *req, ccp_error *err)
{
    const sampling_conf *c = s->conf;
    if (c->temperature)
        json_object_object_add(req, "temperature", ccp_tf_config_value(c->temperature));
    if (c->top_p) json_object_object_add(req, "top_p", ccp_tf_config_value(c->top_p));
    if (c->top_k != CCP_OPT_UNSET)
        json_object_object_add(req, "top_k", json_object_new_int64(c->top_k));
    json_object *drop = c->remove;
    for (size_t i = 0; drop && i < json_object_array_length(drop); i++)
        json_object_object_del(req, json_object_get_string(json_object_array_get_idx(drop, i)));
    (void)err;
    return 0;
}

static const ccp_opt_spec sampling_opts[] = {
    {"temperature", CCP_OPT_NUMBER, NULL, "set temperature", NULL,
     offsetof(sampling_conf, temperature)},
    {"top_p", CCP_OPT_NUMBER, NULL, "set top_p", NULL, offsetof(sampling_conf, top_p)},
    {"top_k", CCP_OPT_INT, NULL, "set top_k", NULL, offsetof(sampling_conf, top_k)},
    {"remove", CCP_OPT_STRING_LIST, NULL, "request fields to remove (e.g. [top_k])", NULL,
     offsetof(sampling_conf, remove)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_sampling = {
    .name = "sampling",
    .summary = "Sets, overrides or removes temperature, top_p and top_k.",
    .opts = sampling_opts,
    .conf_size = sizeof(sampling_conf),
    .request = sampling,
};

/* ---- system-prompt ----------------------------------------------------- */

typedef struct system_prompt_conf {
    const char *mode, *text;
} system_prompt_conf;

static int system_prompt(const ccp_step *s, json_object *req, ccp_error *err)
{
    const system_prompt_conf *c = s->conf;
    const char *mode = c->mode, *text = c->text;
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
    {"mode", CCP_OPT_STRING, "\"append\"", "prepend, append or replace", sp_modes,
     offsetof(system_prompt_conf, mode)},
    {"text", CCP_OPT_STRING, NULL, "the text (required)", NULL, offsetof(system_prompt_conf, text)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_system_prompt = {
    .name = "system-prompt",
    .summary = "Prepends, appends or replaces system prompt text.",
    .opts = system_prompt_opts,
    .conf_size = sizeof(system_prompt_conf),
    .request = system_prompt,
};
