/* json.c — strict whole-input parsing and typed lookups over json-c. */
#include "core/json.h"

#include <pthread.h>
#include <string.h>

/* One tokener per thread, reset between parses: creating one allocates its
 * 128-level stack, which showed in the profile of small requests. Freed by
 * the key's destructor when the thread exits. */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_free(void *tok)
{
    json_tokener_free(tok);
}

static void tok_key_init(void)
{
    pthread_key_create(&tok_key, tok_free);
}

static json_tokener *thread_tokener(void)
{
    pthread_once(&tok_once, tok_key_init);
    json_tokener *tok = pthread_getspecific(tok_key);
    if (!tok) {
        tok = json_tokener_new_ex(CCP_JSON_MAX_DEPTH);
        if (!tok) return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        pthread_setspecific(tok_key, tok);
    }
    return tok;
}

json_object *ccp_json_parse(const char *data, size_t len, ccp_error *err)
{
    if (err) err->code = CCP_OK;
    /* json_tokener_parse_ex takes an int length; bodies are capped far below. */
    if (len > (size_t)INT32_MAX) {
        ccp_error_set(err, CCP_ELIMIT, "JSON input too large");
        return NULL;
    }
    json_tokener *tok = thread_tokener();
    if (!tok) {
        ccp_error_set(err, CCP_ENOMEM, "out of memory creating JSON parser");
        return NULL;
    }
    json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t off = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A number at the very end (the whole input "42") is only known
         * to be complete once something follows it: a space ends it. */
        obj = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
        off = len;
    }
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
    /* Drops what a failed parse left on the stack, ready for the next. */
    json_tokener_reset(tok);
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

json_object *ccp_json_strn(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}
