/* json.c — strict whole-input parsing and typed lookups over json-c. */
#include "core/json.h"

#include <string.h>

json_object *ccp_json_parse(const char *data, size_t len, ccp_error *err)
{
    if (err) err->code = CCP_OK;
    json_tokener *tok = json_tokener_new_ex(CCP_JSON_MAX_DEPTH);
    if (!tok) {
        ccp_error_set(err, CCP_ENOMEM, "out of memory creating JSON parser");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    /* json_tokener_parse_ex takes an int length; bodies are capped far below. */
    if (len > (size_t)INT32_MAX) {
        json_tokener_free(tok);
        ccp_error_set(err, CCP_ELIMIT, "JSON input too large");
        return NULL;
    }
    json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_success) {
        /* Only whitespace may follow the value. */
        while (off < len &&
               (data[off] == ' ' || data[off] == '\t' || data[off] == '\n' || data[off] == '\r'))
            off++;
        if (off != len) {
            json_object_put(obj);
            obj = NULL;
            ccp_error_set(err, CCP_EPARSE,
                          "invalid JSON at byte offset %zu: unexpected data after the value", off);
        }
    } else if (jerr == json_tokener_continue) {
        ccp_error_set(err, CCP_EPARSE, "invalid JSON at byte offset %zu: unexpected end of input",
                      len);
    } else {
        ccp_error_set(err, CCP_EPARSE, "invalid JSON at byte offset %zu: %s", off,
                      json_tokener_error_desc(jerr));
    }
    json_tokener_free(tok);
    return obj;
}

const char *ccp_json_str(json_object *obj, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len) *len = n;
    return s;
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

json_object *ccp_json_strn(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}
