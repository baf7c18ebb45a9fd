/* lib_jsonc.c — the lib_jsonc side of the JSON benchmark (see bench_main.c). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Built twice: plain, json-c's own tokenizer and serializer (as ccproxy used
 * them at first); with CCP_OWN, ccproxy's parser (src/core/json_parse.c) and
 * writer (ccp_json_write) around the same json-c objects. */
#ifdef CCP_OWN
#include "core/json.h"
static json_object *jc_parse(const char *s, size_t n)
{
    return ccp_json_parse(s, n, NULL);
}
static size_t jc_serialize(json_object *o)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_json_write(&b, o);
    size_t n = b.len;
    ccp_buf_free(&b);
    return n;
}
#else
static size_t jc_serialize(json_object *o)
{
    size_t len;
    json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                                      &len);
    return len;
}
static json_object *jc_parse(const char *s, size_t n)
{
    json_tokener *t = json_tokener_new_ex(128);
    json_tokener_set_flags(t, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(t, s, (int)n);
    if (json_tokener_get_error(t) != json_tokener_success) o = NULL;
    json_tokener_free(t);
    return o;
}
#endif

static json_object *jg(json_object *o, const char *k)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, k, &v);
    return v;
}

size_t bench_run(const char *s, size_t n)
{
    json_object *in = jc_parse(s, n);
    json_object *out = json_object_new_object();
    json_object_object_add(out, "model", json_object_get(jg(in, "model")));
    json_object_object_add(out, "max_tokens", json_object_get(jg(in, "max_tokens")));
    json_object_object_add(out, "stream", json_object_get(jg(in, "stream")));
    json_object *msgs = json_object_new_array();
    char *sys = NULL;
    size_t syslen = 0;
    json_object *sa = jg(in, "system");
    for (size_t i = 0; i < json_object_array_length(sa); i++) {
        const char *t = json_object_get_string(jg(json_object_array_get_idx(sa, i), "text"));
        size_t l = strlen(t);
        sys = realloc(sys, syslen + l + 2);
        memcpy(sys + syslen, t, l);
        syslen += l;
        sys[syslen++] = '\n';
        sys[syslen] = 0;
    }
    json_object *sm = json_object_new_object();
    json_object_object_add(sm, "role", json_object_new_string("system"));
    json_object_object_add(sm, "content", json_object_new_string_len(sys, (int)syslen));
    free(sys);
    json_object_array_add(msgs, sm);
    json_object *ma = jg(in, "messages");
    for (size_t i = 0; i < json_object_array_length(ma); i++) {
        json_object *m = json_object_array_get_idx(ma, i);
        const char *role = json_object_get_string(jg(m, "role"));
        json_object *content = jg(m, "content");
        json_object *am = NULL, *calls = NULL;
        for (size_t j = 0; j < json_object_array_length(content); j++) {
            json_object *b = json_object_array_get_idx(content, j);
            const char *type = json_object_get_string(jg(b, "type"));
            if (!strcmp(type, "tool_result")) {
                json_object *tm = json_object_new_object();
                json_object_object_add(tm, "role", json_object_new_string("tool"));
                json_object_object_add(tm, "tool_call_id", json_object_get(jg(b, "tool_use_id")));
                json_object *tc = jg(b, "content");
                json_object_object_add(
                    tm, "content", json_object_get(jg(json_object_array_get_idx(tc, 0), "text")));
                json_object_array_add(msgs, tm);
            } else if (!strcmp(type, "text")) {
                if (!am) {
                    am = json_object_new_object();
                    json_object_object_add(am, "role", json_object_new_string(role));
                    json_object_array_add(msgs, am);
                }
                json_object_object_add(am, "content", json_object_get(jg(b, "text")));
            } else if (!strcmp(type, "tool_use")) {
                if (!calls) {
                    calls = json_object_new_array();
                    json_object_object_add(am, "tool_calls", calls);
                }
                json_object *c = json_object_new_object(), *f = json_object_new_object();
                json_object_object_add(c, "id", json_object_get(jg(b, "id")));
                json_object_object_add(c, "type", json_object_new_string("function"));
                json_object_object_add(f, "name", json_object_get(jg(b, "name")));
                json_object_object_add(
                    f, "arguments",
                    json_object_new_string(json_object_to_json_string_ext(
                        jg(b, "input"), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
                json_object_object_add(c, "function", f);
                json_object_array_add(calls, c);
            }
        }
    }
    json_object_object_add(out, "messages", msgs);
    json_object *tools = json_object_new_array(), *ta = jg(in, "tools");
    for (size_t i = 0; i < json_object_array_length(ta); i++) {
        json_object *t = json_object_array_get_idx(ta, i);
        json_object *w = json_object_new_object(), *f = json_object_new_object();
        json_object_object_add(w, "type", json_object_new_string("function"));
        json_object_object_add(f, "name", json_object_get(jg(t, "name")));
        json_object_object_add(f, "description", json_object_get(jg(t, "description")));
        json_object_object_add(f, "parameters", json_object_get(jg(t, "input_schema")));
        json_object_object_add(w, "function", f);
        json_object_array_add(tools, w);
    }
    json_object_object_add(out, "tools", tools);
    size_t len = jc_serialize(out);
    json_object_put(out);
    json_object_put(in);
    return len;
}

const char *bench_roundtrip(const char *in)
{
    static char buf[4096];
    buf[0] = 0;

    json_object *o = jc_parse(in, strlen(in));
    if (!o) return NULL;
    size_t n;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    snprintf(buf, sizeof buf, "%.*s", (int)n, s);
    json_object_put(o);

    return buf;
}
