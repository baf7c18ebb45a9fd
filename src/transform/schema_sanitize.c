/* schema_sanitize.c — reduces tool JSON Schemas to the subset strict
 * providers accept. */
#include "core/json.h"
#include "transform/transform.h"

#include <string.h>

static bool listed(json_object *list, const char *key)
{
    for (size_t i = 0; i < json_object_array_length(list); i++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), key)) return true;
    return false;
}

/* Walks a schema: drops the listed keywords everywhere, but never a
 * property that happens to bear a keyword's name (under "properties"). */
static void sanitize(json_object *schema, json_object *drop, bool is_properties)
{
    if (json_object_is_type(schema, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(schema); i++)
            sanitize(json_object_array_get_idx(schema, i), drop, false);
        return;
    }
    if (!json_object_is_type(schema, json_type_object)) return;
    const char *dead[64];
    size_t n = 0;
    json_object_object_foreach(schema, key, val)
    {
        if (!is_properties && listed(drop, key) && n < 64) {
            dead[n++] = key;
            continue;
        }
        sanitize(val, drop, !is_properties && !strcmp(key, "properties"));
    }
    for (size_t i = 0; i < n; i++)
        json_object_object_del(schema, dead[i]);
}

typedef struct schema_conf {
    json_object *drop;
} schema_conf;

static int schema_sanitize(const ccp_step *s, json_object *req, ccp_error *err)
{
    json_object *drop = ((const schema_conf *)s->conf)->drop;
    json_object *tools = ccp_json_get_arr(req, "tools");
    for (size_t i = 0; drop && tools && i < json_object_array_length(tools); i++) {
        json_object *t = json_object_array_get_idx(tools, i);
        json_object *sc = ccp_json_get_obj(t, "input_schema");
        if (!sc) continue;
        /* The schema may be shared with another request's tree: edit a copy. */
        json_object *copy = NULL;
        if (json_object_deep_copy(sc, &copy, NULL) != 0) continue;
        sanitize(copy, drop, false);
        json_object_object_add(t, "input_schema", copy);
    }
    (void)err;
    return 0;
}

static const ccp_opt_spec schema_opts[] = {
    {"drop", CCP_OPT_STRING_LIST,
     "[\"$schema\",\"$id\",\"$comment\",\"additionalProperties\",\"default\",\"examples\","
     "\"format\",\"propertyNames\",\"exclusiveMinimum\",\"exclusiveMaximum\"]",
     "JSON Schema keywords removed at every level of every tool's input_schema", NULL,
     offsetof(schema_conf, drop)},
    {NULL, 0, NULL, NULL, NULL, 0},
};

const ccp_transformer ccp_tf_schema_sanitize = {
    .name = "schema-sanitize",
    .summary = "Removes JSON Schema keywords that strict providers reject from tool schemas "
               "(never a property that has such a name).",
    .opts = schema_opts,
    .conf_size = sizeof(schema_conf),
    .request = schema_sanitize,
};
