/* extra.c — extra-body and extra-headers: provider-specific fields and
 * headers added to the outbound request. */
#include "core/json.h"
#include "transform/transform.h"

#include <string.h>

typedef struct extra_body_conf {
    json_object *body;
} extra_body_conf;

/* Top-level merge; a null value removes the field. */
static void merge_body(const ccp_step *s, json_object *req, json_object *body)
{
    const extra_body_conf *c = s->conf;
    (void)req;
    json_object_object_foreach(c->body, key, val)
    {
        if (!val)
            json_object_object_del(body, key);
        else
            json_object_object_add(body, key, ccp_tf_config_value(val));
    }
}

static int extra_body(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    if (!((const extra_body_conf *)s->conf)->body) return 0;
    return ccp_tf_edit_body(out, err, merge_body, s, req);
}

static const ccp_opt_spec extra_body_opts[] = {
    {"body", CCP_OPT_OBJECT, NULL,
     "fields merged into the provider's request body; null removes a field", NULL,
     offsetof(extra_body_conf, body)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_extra_body = {
    .name = "extra-body",
    .summary = "Merges provider-specific fields into the outbound request body (e.g. "
               "OpenRouter's provider preferences).",
    .opts = extra_body_opts,
    .conf_size = sizeof(extra_body_conf),
    .outbound = extra_body,
};

typedef struct extra_headers_conf {
    json_object *headers;
} extra_headers_conf;

static int extra_headers(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    (void)req;
    json_object *h = ((const extra_headers_conf *)s->conf)->headers;
    if (!h) return 0;
    json_object_object_foreach(h, name, val)
    {
        if (!json_object_is_type(val, json_type_string) || strpbrk(name, "\r\n:") ||
            strpbrk(json_object_get_string(val), "\r\n"))
            return ccp_error_set(err, CCP_EINVAL, "header '%s' needs a one-line string value",
                                 name);
        ccp_outbound_add_header(out, name, json_object_get_string(val));
    }
    return 0;
}

static const ccp_opt_spec extra_headers_opts[] = {
    {"headers", CCP_OPT_OBJECT, NULL, "header name to value, added to the outbound request", NULL,
     offsetof(extra_headers_conf, headers)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_extra_headers = {
    .name = "extra-headers",
    .summary = "Adds headers to the outbound request.",
    .opts = extra_headers_opts,
    .conf_size = sizeof(extra_headers_conf),
    .outbound = extra_headers,
};
