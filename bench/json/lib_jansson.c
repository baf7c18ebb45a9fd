/* lib_jansson.c — the lib_jansson side of the JSON benchmark (see bench_main.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- jansson ---------------------------------------------------------- */
size_t bench_run(const char *s, size_t n)
{
    json_error_t e;
    json_t *in = json_loadb(s, n, JSON_ALLOW_NUL, &e);
    json_t *out = json_object();
    json_object_set(out, "model", json_object_get(in, "model"));
    json_object_set(out, "max_tokens", json_object_get(in, "max_tokens"));
    json_object_set(out, "stream", json_object_get(in, "stream"));
    json_t *msgs = json_array();
    char *sys = NULL;
    size_t syslen = 0, i, j;
    json_t *b, *m;
    json_array_foreach(json_object_get(in, "system"), i, b)
    {
        const char *t = json_string_value(json_object_get(b, "text"));
        size_t l = strlen(t);
        sys = realloc(sys, syslen + l + 2);
        memcpy(sys + syslen, t, l);
        syslen += l;
        sys[syslen++] = '\n';
        sys[syslen] = 0;
    }
    json_array_append_new(msgs, json_pack("{s:s,s:s%}", "role", "system", "content", sys, syslen));
    free(sys);
    json_array_foreach(json_object_get(in, "messages"), i, m)
    {
        json_t *am = NULL, *calls = NULL;
        json_array_foreach(json_object_get(m, "content"), j, b)
        {
            const char *type = json_string_value(json_object_get(b, "type"));
            if (!strcmp(type, "tool_result")) {
                json_t *tm = json_object();
                json_object_set_new(tm, "role", json_string("tool"));
                json_object_set(tm, "tool_call_id", json_object_get(b, "tool_use_id"));
                json_object_set(
                    tm, "content",
                    json_object_get(json_array_get(json_object_get(b, "content"), 0), "text"));
                json_array_append_new(msgs, tm);
            } else if (!strcmp(type, "text")) {
                if (!am) {
                    am = json_object();
                    json_object_set(am, "role", json_object_get(m, "role"));
                    json_array_append_new(msgs, am);
                }
                json_object_set(am, "content", json_object_get(b, "text"));
            } else if (!strcmp(type, "tool_use")) {
                if (!calls) {
                    calls = json_array();
                    json_object_set_new(am, "tool_calls", calls);
                }
                char *args = json_dumps(json_object_get(b, "input"), JSON_COMPACT);
                json_t *f = json_object();
                json_object_set(f, "name", json_object_get(b, "name"));
                json_object_set_new(f, "arguments", json_string(args));
                free(args);
                json_t *c = json_object();
                json_object_set(c, "id", json_object_get(b, "id"));
                json_object_set_new(c, "type", json_string("function"));
                json_object_set_new(c, "function", f);
                json_array_append_new(calls, c);
            }
        }
    }
    json_object_set_new(out, "messages", msgs);
    json_t *tools = json_array(), *t;
    json_array_foreach(json_object_get(in, "tools"), i, t)
    {
        json_t *f = json_object();
        json_object_set(f, "name", json_object_get(t, "name"));
        json_object_set(f, "description", json_object_get(t, "description"));
        json_object_set(f, "parameters", json_object_get(t, "input_schema"));
        json_array_append_new(tools, json_pack("{s:s,s:o}", "type", "function", "function", f));
    }
    json_object_set_new(out, "tools", tools);
    char *o = json_dumps(out, JSON_COMPACT);
    size_t len = strlen(o);
    free(o);
    json_decref(out);
    json_decref(in);
    return len;
}

const char *bench_roundtrip(const char *in)
{
    static char buf[4096];
    buf[0] = 0;

    json_error_t e;
    json_t *o = json_loads(in, JSON_ALLOW_NUL | JSON_DECODE_ANY, &e);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", s);
    free(s);
    json_decref(o);

    return buf;
}
