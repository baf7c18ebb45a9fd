/* json.c — strict whole-input parsing and typed lookups over json-c. */
#include "core/json.h"

#include <string.h>

const char *ccp_json_str(json_object *obj, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len) *len = n;
    return s;
}

void ccp_json_write(ccp_buf *b, json_object *obj)
{
    switch (json_object_get_type(obj)) {
    case json_type_null:
        ccp_buf_append(b, "null", 4);
        return;
    case json_type_boolean:
        if (json_object_get_boolean(obj))
            ccp_buf_append(b, "true", 4);
        else
            ccp_buf_append(b, "false", 5);
        return;
    case json_type_string:
        ccp_buf_append_json_str(b, json_object_get_string(obj),
                                (size_t)json_object_get_string_len(obj));
        return;
    case json_type_object: {
        ccp_buf_appendc(b, '{');
        bool first = true;
        json_object_object_foreach(obj, key, val)
        {
            if (!first) ccp_buf_appendc(b, ',');
            first = false;
            ccp_buf_append_json_str(b, key, strlen(key));
            ccp_buf_appendc(b, ':');
            ccp_json_write(b, val);
        }
        ccp_buf_appendc(b, '}');
        return;
    }
    case json_type_array: {
        ccp_buf_appendc(b, '[');
        size_t n = json_object_array_length(obj);
        for (size_t i = 0; i < n; i++) {
            if (i) ccp_buf_appendc(b, ',');
            ccp_json_write(b, json_object_array_get_idx(obj, i));
        }
        ccp_buf_appendc(b, ']');
        return;
    }
    case json_type_int:
    case json_type_double: {
        /* Numbers keep json-c's own text: a parsed double keeps the digits
         * it came with, and 64-bit integers (signed or not) stay exact. */
        size_t n = 0;
        const char *s = json_object_to_json_string_length(
            obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        ccp_buf_append(b, s, n);
        return;
    }
    }
}

json_object *ccp_json_get(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object)) return NULL;
    return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

const char *ccp_json_get_str(json_object *obj, const char *key)
{
    json_object *v = ccp_json_get(obj, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *ccp_json_get_obj(json_object *obj, const char *key)
{
    json_object *v = ccp_json_get(obj, key);
    return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

json_object *ccp_json_get_arr(json_object *obj, const char *key)
{
    json_object *v = ccp_json_get(obj, key);
    return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

int64_t ccp_json_get_int(json_object *obj, const char *key, int64_t fallback)
{
    json_object *v = ccp_json_get(obj, key);
    return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : fallback;
}

bool ccp_json_get_bool(json_object *obj, const char *key, bool fallback)
{
    json_object *v = ccp_json_get(obj, key);
    return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : fallback;
}

size_t ccp_json_arr_len(json_object *arr)
{
    return json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

json_object *ccp_json_arr_at(json_object *arr, size_t i)
{
    return i < ccp_json_arr_len(arr) ? json_object_array_get_idx(arr, i) : NULL;
}

json_object *ccp_json_strn(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}
