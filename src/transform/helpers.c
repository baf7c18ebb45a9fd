/* helpers.c — what several transformers share. */
#include "core/json.h"
#include "transform/transform.h"

#include <string.h>

void ccp_tf_drop_thinking_blocks(json_object *req)
{
    json_object *msgs = ccp_json_get(req, "messages");
    for (size_t i = 0; i < ccp_json_arr_len(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        json_object *c = ccp_json_get(m, "content");
        if (!json_object_is_type(c, json_type_array)) continue;
        json_object *kept = json_object_new_array();
        for (size_t j = 0; j < ccp_json_arr_len(c); j++) {
            json_object *b = json_object_array_get_idx(c, j);
            const char *t = ccp_json_get_str(b, "type");
            if (t && (!strcmp(t, "thinking") || !strcmp(t, "redacted_thinking"))) continue;
            json_object_array_add(kept, json_object_get(b));
        }
        json_object_object_add(m, "content", kept);
    }
}

int ccp_tf_edit_body(ccp_outbound *out, ccp_error *err,
                     void (*fn)(const ccp_step *s, json_object *req, json_object *body),
                     const ccp_step *s, json_object *req)
{
    if (!json_object_is_type(out->json, json_type_object))
        return ccp_error_set(err, CCP_EINVAL, "the outbound body is not a JSON object");
    fn(s, req, out->json);
    return 0;
}

json_object *ccp_tf_config_value(json_object *v)
{
    json_object *copy = NULL;
    if (v && json_object_deep_copy(v, &copy, NULL) != 0) return NULL;
    return copy;
}
