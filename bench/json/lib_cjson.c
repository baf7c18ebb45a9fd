/* lib_cjson.c — the lib_cjson side of the JSON benchmark (see bench_main.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- cJSON ------------------------------------------------------------ */
static cJSON *cg(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

size_t bench_run(const char *s, size_t n)
{
    cJSON *in = cJSON_ParseWithLength(s, n);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(out, "model", cg(in, "model"));
    cJSON_AddItemReferenceToObject(out, "max_tokens", cg(in, "max_tokens"));
    cJSON_AddItemReferenceToObject(out, "stream", cg(in, "stream"));
    cJSON *msgs = cJSON_AddArrayToObject(out, "messages");
    char *sys = NULL;
    size_t syslen = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, cg(in, "system"))
    {
        const char *t = cg(b, "text")->valuestring;
        size_t l = strlen(t);
        sys = realloc(sys, syslen + l + 2);
        memcpy(sys + syslen, t, l);
        syslen += l;
        sys[syslen++] = '\n';
        sys[syslen] = 0;
    }
    cJSON *sm = cJSON_CreateObject();
    cJSON_AddStringToObject(sm, "role", "system");
    cJSON_AddStringToObject(sm, "content", sys);
    free(sys);
    cJSON_AddItemToArray(msgs, sm);
    const cJSON *m;
    cJSON_ArrayForEach(m, cg(in, "messages"))
    {
        cJSON *am = NULL, *calls = NULL;
        cJSON_ArrayForEach(b, cg(m, "content"))
        {
            const char *type = cg(b, "type")->valuestring;
            if (!strcmp(type, "tool_result")) {
                cJSON *tm = cJSON_CreateObject();
                cJSON_AddStringToObject(tm, "role", "tool");
                cJSON_AddItemReferenceToObject(tm, "tool_call_id", cg(b, "tool_use_id"));
                cJSON_AddItemReferenceToObject(tm, "content",
                                               cg(cJSON_GetArrayItem(cg(b, "content"), 0), "text"));
                cJSON_AddItemToArray(msgs, tm);
            } else if (!strcmp(type, "text")) {
                if (!am) {
                    am = cJSON_CreateObject();
                    cJSON_AddItemReferenceToObject(am, "role", cg(m, "role"));
                    cJSON_AddItemToArray(msgs, am);
                }
                cJSON_AddItemReferenceToObject(am, "content", cg(b, "text"));
            } else if (!strcmp(type, "tool_use")) {
                if (!calls) calls = cJSON_AddArrayToObject(am, "tool_calls");
                cJSON *c = cJSON_CreateObject(), *f = cJSON_CreateObject();
                cJSON_AddItemReferenceToObject(c, "id", cg(b, "id"));
                cJSON_AddStringToObject(c, "type", "function");
                cJSON_AddItemReferenceToObject(f, "name", cg(b, "name"));
                char *args = cJSON_PrintUnformatted(cg(b, "input"));
                cJSON_AddStringToObject(f, "arguments", args);
                free(args);
                cJSON_AddItemToObject(c, "function", f);
                cJSON_AddItemToArray(calls, c);
            }
        }
    }
    cJSON *tools = cJSON_AddArrayToObject(out, "tools");
    const cJSON *t;
    cJSON_ArrayForEach(t, cg(in, "tools"))
    {
        cJSON *w = cJSON_CreateObject(), *f = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "type", "function");
        cJSON_AddItemReferenceToObject(f, "name", cg(t, "name"));
        cJSON_AddItemReferenceToObject(f, "description", cg(t, "description"));
        cJSON_AddItemReferenceToObject(f, "parameters", cg(t, "input_schema"));
        cJSON_AddItemToObject(w, "function", f);
        cJSON_AddItemToArray(tools, w);
    }
    char *o = cJSON_PrintUnformatted(out);
    size_t len = strlen(o);
    free(o);
    cJSON_Delete(out);
    cJSON_Delete(in);
    return len;
}

const char *bench_roundtrip(const char *in)
{
    static char buf[4096];
    buf[0] = 0;

    cJSON *o = cJSON_Parse(in);
    if (!o) return NULL;
    char *s = cJSON_PrintUnformatted(o);
    snprintf(buf, sizeof buf, "%s", s);
    free(s);
    cJSON_Delete(o);

    return buf;
}
