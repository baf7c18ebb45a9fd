/* json_repair.c — see json_repair.h. */
#include "core/json_repair.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"

#include <string.h>

char *ccp_json_repair_object(const char *s, size_t n, ccp_repair *how)
{
    ccp_error e;
    if (how) *how = CCP_REPAIR_NONE;
    if (n == 0) return ccp_xstrdup("{}");
    json_object *o = ccp_json_parse(s, n, &e);
    if (o && json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return ccp_xstrndup(s, n);
    }
    json_object_put(o);
    /* Only unambiguous repairs: what a stream cut short at the end lacks. */
    static const char *const tails[] = {"}", "\"}", "}}", "\"}}", "]}", "\"]}", "}]}", "\"}]}"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        ccp_buf b = CCP_BUF_INIT;
        ccp_buf_append(&b, s, n);
        ccp_buf_appends(&b, tails[i]);
        o = ccp_json_parse(b.data, b.len, &e);
        if (o && json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            if (how) *how = CCP_REPAIR_CLOSED;
            return ccp_buf_detach(&b, NULL);
        }
        json_object_put(o);
        ccp_buf_free(&b);
    }
    if (how) *how = CCP_REPAIR_WRAPPED;
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "{\"arguments\":");
    ccp_buf_append_json_str(&b, s, n);
    ccp_buf_appendc(&b, '}');
    return ccp_buf_detach(&b, NULL);
}
