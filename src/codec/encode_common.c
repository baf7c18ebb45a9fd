/* encode_common.c — see encode_common.h. Everything here builds values
 * that share the request's subtrees by reference; nothing edits the
 * request. */
#include "codec/encode_common.h"

#include "core/json.h"

#include <string.h>

bool ccp_is_billing_text(const char *s)
{
    return strncmp(s, CCP_BILLING_PREFIX, sizeof CCP_BILLING_PREFIX - 1) == 0;
}

void ccp_append_text(ccp_buf *b, json_object *content, const char *sep)
{
    if (!content) return;
    if (json_object_is_type(content, json_type_string)) {
        ccp_buf_append(b, json_object_get_string(content),
                       (size_t)json_object_get_string_len(content));
        return;
    }
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *blk = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(blk, "type");
        json_object *t = ccp_json_get(blk, "text");
        if (!type || strcmp(type, "text") != 0 || !t) continue;
        const char *s = json_object_get_string(t);
        if (ccp_is_billing_text(s)) continue;
        if (!*s) continue;
        if (b->len) ccp_buf_appends(b, sep);
        ccp_buf_append(b, s, (size_t)json_object_get_string_len(t));
    }
}

bool ccp_image_url(json_object *blk, ccp_buf *url)
{
    json_object *src = ccp_json_get_obj(blk, "source");
    const char *type = ccp_json_get_str(src, "type");
    if (type && !strcmp(type, "base64")) {
        const char *mt = ccp_json_get_str(src, "media_type");
        const char *data = ccp_json_get_str(src, "data");
        if (!mt || !data) return false;
        ccp_buf_printf(url, "data:%s;base64,", mt);
        ccp_buf_appends(url, data);
        return true;
    }
    if (type && !strcmp(type, "url") && ccp_json_get_str(src, "url")) {
        ccp_buf_appends(url, ccp_json_get_str(src, "url"));
        return true;
    }
    return false;
}

void ccp_tool_result_text(ccp_buf *b, json_object *blk, ccp_image_part_fn image_part,
                          json_object *images)
{
    if (ccp_json_get_bool(blk, "is_error", false)) ccp_buf_appends(b, "[tool error] ");
    json_object *content = ccp_json_get(blk, "content");
    size_t prefix = b->len;
    if (!json_object_is_type(content, json_type_array)) {
        ccp_append_text(b, content, "\n\n");
        return;
    }
    for (size_t i = 0; i < ccp_json_arr_len(content); i++) {
        json_object *c = json_object_array_get_idx(content, i);
        const char *type = ccp_json_get_str(c, "type");
        if (type && !strcmp(type, "image")) {
            json_object *img = image_part(c);
            if (img) json_object_array_add(images, img);
        } else if (type && !strcmp(type, "text")) {
            json_object *t = ccp_json_get(c, "text");
            if (b->len > prefix) ccp_buf_appends(b, "\n\n");
            ccp_buf_append(b, json_object_get_string(t), (size_t)json_object_get_string_len(t));
        }
    }
}

json_object *ccp_tool_arguments(json_object *blk)
{
    json_object *input = ccp_json_get(blk, "input");
    ccp_buf args = CCP_BUF_INIT;
    if (input)
        ccp_json_write(&args, input);
    else
        ccp_buf_appends(&args, "{}");
    json_object *s = json_object_new_string_len(args.data, (int)args.len);
    ccp_buf_free(&args);
    return s;
}

void ccp_tool_add_name(json_object *dst, json_object *tool)
{
    json_object_object_add(dst, "name", json_object_get(ccp_json_get(tool, "name")));
    json_object *desc = ccp_json_get(tool, "description");
    if (desc) json_object_object_add(dst, "description", json_object_get(desc));
}

void ccp_json_copy_field(json_object *dst, const char *to, json_object *src, const char *from)
{
    json_object *v = ccp_json_get(src, from);
    if (v) json_object_object_add(dst, to, json_object_get(v));
}

json_object *ccp_output_schema(json_object *req)
{
    json_object *fmt = ccp_json_get_obj(ccp_json_get_obj(req, "output_config"), "format");
    const char *type = ccp_json_get_str(fmt, "type");
    if (!type || strcmp(type, "json_schema") != 0) return NULL;
    return ccp_json_get_obj(fmt, "schema");
}

int ccp_encode_begin(const ccp_encode_ctx *ctx, char **model, ccp_error *err)
{
    int rc = ctx->shape_checked ? 0 : ccp_request_check(ctx->request, err);
    if (rc) return rc;
    *model = ccp_encode_model(ctx, err);
    return *model ? 0 : CCP_EINVAL;
}

void ccp_encode_end_headers(ccp_outbound *out, const ccp_encode_ctx *ctx)
{
    if (ctx->stream) ccp_outbound_add_header(out, "accept", "text/event-stream");
    ccp_outbound_add_auth(out, ctx->provider, ctx->api_key);
}

void ccp_openai_add_tools(json_object *o, json_object *req,
                          json_object *(*map_tools)(json_object *),
                          json_object *(*map_tool_choice)(json_object *))
{
    json_object *tools = ccp_json_get_arr(req, "tools");
    if (!tools) return;
    json_object *t = map_tools(tools);
    if (!json_object_array_length(t)) {
        json_object_put(t);
        return;
    }
    json_object_object_add(o, "tools", t);
    json_object *choice = ccp_json_get_obj(req, "tool_choice");
    json_object *tc = map_tool_choice(choice);
    if (tc) json_object_object_add(o, "tool_choice", tc);
    if (ccp_json_get_bool(choice, "disable_parallel_tool_use", false))
        json_object_object_add(o, "parallel_tool_calls", json_object_new_boolean(0));
}

const char *ccp_openai_tool_choice_mode(const char *type)
{
    if (!strcmp(type, "auto")) return "auto";
    if (!strcmp(type, "any")) return "required";
    if (!strcmp(type, "none")) return "none";
    return NULL;
}

const char *ccp_openai_map_error(int status, const char *body, size_t len, ccp_buf *msg)
{
    json_object *o = ccp_json_parse(body, len, NULL);
    json_object *e = ccp_json_get(o, "error");
    const char *m = ccp_json_get_str(e, "message");
    if (!m && e && json_object_is_type(e, json_type_string)) m = json_object_get_string(e);
    if (m)
        ccp_buf_appends(msg, m);
    else
        ccp_error_body_excerpt(msg, status, body, len);
    json_object_put(o);
    return ccp_error_type_for_status(status);
}
