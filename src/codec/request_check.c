/* request_check.c — what every encoder checks before it reads a request:
 * the canonical request's shape, the model name it sends, and the URL path
 * segments it builds from request data.
 *
 * The shape check walks the request once and holds every field a codec, the
 * router or a built-in transformer reads to the JSON type the Anthropic
 * Messages API gives it. A field of another type is refused with a message
 * that names it ("messages.0.content: must be a string or an array of
 * content blocks") and becomes a 400 invalid_request_error. Without it a
 * codec that reads `content: 5` as an array would hit json-c's assertions
 * and abort the whole process, or quietly drop the message. Fields nobody
 * here reads are not checked: the provider judges those. Unknown content
 * block types pass (the codecs skip what they cannot send). */
#include "codec/codec.h"

#include "codec/anthropic.h"
#include "core/alloc.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type masks, one bit per json_type. */
#define T_NULL (1u << json_type_null)
#define T_BOOL (1u << json_type_boolean)
#define T_INT (1u << json_type_int)
#define T_DOUBLE (1u << json_type_double)
#define T_NUM (T_INT | T_DOUBLE)
#define T_STR (1u << json_type_string)
#define T_ARR (1u << json_type_array)
#define T_OBJ (1u << json_type_object)

#define OPTIONAL false
#define REQUIRED true

/* The walk: the path of the field being looked at ("messages.3.content"),
 * and where the first error goes. The path is kept as its segments (a key
 * or an index each) and written out only when a field fails: formatting it
 * at every step cost more than the rest of the walk (the walk visits every
 * content block of every message). */
#define PATH_MAX_LEN 255 /* a longer path is cut short (not overflowed) */
/* Each segment writes at least one byte and every one after the first a
 * '.' too, so segments past this many could only land beyond the cut. */
#define PATH_SEGS 128

typedef struct path_seg {
    const char *key; /* NULL: an array index */
    size_t idx;
} path_seg;

/* The request's own members, read in one pass: the check looks up some
 * twenty top-level keys, most of them absent, and json-c hashes the key of
 * every lookup; a request has a handful of members to compare instead. */
#define TOP_MAX 32

typedef struct walk {
    path_seg segs[PATH_SEGS];
    size_t depth;     /* may exceed PATH_SEGS on absurd depths; the rest is not kept */
    json_object *top; /* the request, when its members are in top_keys/top_vals */
    size_t n_top;
    const char *top_keys[TOP_MAX];
    json_object *top_vals[TOP_MAX];
    ccp_error *err;
    /* The client's request (ccp_request_validate): also what the Anthropic
     * API requires, though no code here would break without it. */
    bool strict;
} walk;

static size_t push(walk *w, const char *key, size_t idx)
{
    size_t was = w->depth;
    if (w->depth < PATH_SEGS) w->segs[w->depth] = (path_seg){key, idx};
    w->depth++;
    return was;
}

static void pop(walk *w, size_t was)
{
    w->depth = was;
}

/* Appends s to path (len so far), cut at PATH_MAX_LEN. */
static size_t path_add(char *path, size_t len, const char *s, size_t n)
{
    size_t room = PATH_MAX_LEN - len;
    if (n > room) n = room;
    memcpy(path + len, s, n);
    return len + n;
}

static int fail(walk *w, const char *what)
{
    char path[PATH_MAX_LEN + 1];
    size_t len = 0;
    size_t n = w->depth < PATH_SEGS ? w->depth : PATH_SEGS;
    for (size_t i = 0; i < n; i++) {
        if (len) len = path_add(path, len, ".", 1);
        if (w->segs[i].key) {
            len = path_add(path, len, w->segs[i].key, strlen(w->segs[i].key));
        } else {
            char num[24];
            int k = snprintf(num, sizeof num, "%zu", w->segs[i].idx);
            len = path_add(path, len, num, (size_t)k);
        }
    }
    path[len] = '\0';
    return ccp_error_set(w->err, CCP_EINVAL, "%s: %s", len ? path : "request", what);
}

/* obj[key], as ccp_json_get, from the request's members when obj is the
 * request. */
static json_object *get(const walk *w, json_object *obj, const char *key)
{
    if (obj && obj == w->top) {
        for (size_t i = 0; i < w->n_top; i++)
            if (!strcmp(w->top_keys[i], key)) return w->top_vals[i];
        return NULL;
    }
    return ccp_json_get(obj, key);
}

/* Reads the request's members into w (not when it has more than TOP_MAX:
 * then every lookup goes to json-c). */
static void read_top(walk *w, json_object *req)
{
    size_t n = 0;
    json_object_object_foreach(req, key, val)
    {
        if (n == TOP_MAX) return;
        w->top_keys[n] = key;
        w->top_vals[n++] = val;
    }
    w->n_top = n;
    w->top = req;
}

static bool has_type(json_object *v, unsigned mask)
{
    return (mask & (1u << json_object_get_type(v))) != 0;
}

/* obj[key] into *out. Absent or null is *out = NULL: fine when optional,
 * "field required" when required. Any other type than mask fails with
 * "must be <what>". */
static int field(walk *w, json_object *obj, const char *key, unsigned mask, bool required,
                 const char *what, json_object **out)
{
    json_object *v = get(w, obj, key);
    if (out) *out = v;
    if (!v && !required) return 0;
    int rc = 0;
    size_t was = push(w, key, 0);
    if (!v)
        rc = fail(w, "field required");
    else if (!has_type(v, mask))
        rc = fail(w, what);
    pop(w, was);
    return rc;
}

static int str_field(walk *w, json_object *obj, const char *key, bool required)
{
    return field(w, obj, key, T_STR, required, "must be a string", NULL);
}

static int content(walk *w, json_object *c);

/* An image's (or document's) source. */
static int source(walk *w, json_object *blk, bool required)
{
    json_object *src;
    int rc = field(w, blk, "source", T_OBJ, required, "must be an object", &src);
    if (rc || !src) return rc;
    size_t was = push(w, "source", 0);
    const char *type = NULL;
    if (!(rc = str_field(w, src, "type", REQUIRED))) type = ccp_json_get_str(src, "type");
    bool b64 = type && !strcmp(type, "base64"), url = type && !strcmp(type, "url");
    if (!rc) rc = str_field(w, src, "media_type", b64);
    if (!rc) rc = str_field(w, src, "data", b64);
    if (!rc) rc = str_field(w, src, "url", url);
    pop(w, was);
    return rc;
}

/* One content block: the fields of its type that some codec reads. */
static int block(walk *w, json_object *b)
{
    if (!json_object_is_type(b, json_type_object))
        return fail(w, "must be a content block (an object with a type)");
    int rc = str_field(w, b, "type", REQUIRED);
    if (rc) return rc;
    const char *type = ccp_json_get_str(b, "type");
    if (!strcmp(type, "text")) return str_field(w, b, "text", REQUIRED);
    if (!strcmp(type, "image")) return source(w, b, REQUIRED);
    if (!strcmp(type, "document")) return source(w, b, OPTIONAL);
    if (!strcmp(type, "tool_use")) {
        if ((rc = str_field(w, b, "id", REQUIRED)) || (rc = str_field(w, b, "name", REQUIRED)))
            return rc;
        return field(w, b, "input", T_OBJ, REQUIRED, "must be an object", NULL);
    }
    if (!strcmp(type, "tool_result")) {
        json_object *c;
        if ((rc = str_field(w, b, "tool_use_id", REQUIRED)) ||
            (rc = field(w, b, "is_error", T_BOOL, OPTIONAL, "must be a boolean", NULL)) ||
            (rc = field(w, b, "content", T_STR | T_ARR, OPTIONAL,
                        "must be a string or an array of content blocks", &c)))
            return rc;
        size_t was = push(w, "content", 0);
        rc = content(w, c);
        pop(w, was);
        return rc;
    }
    if (!strcmp(type, "thinking")) {
        if ((rc = str_field(w, b, "thinking", REQUIRED))) return rc;
        return str_field(w, b, "signature", OPTIONAL);
    }
    if (!strcmp(type, "redacted_thinking")) return str_field(w, b, "data", OPTIONAL);
    return 0;
}

/* The blocks of a content array (a string needs nothing more). */
static int content(walk *w, json_object *c)
{
    for (size_t i = 0; i < ccp_json_arr_len(c); i++) {
        size_t was = push(w, NULL, i);
        int rc = block(w, json_object_array_get_idx(c, i));
        pop(w, was);
        if (rc) return rc;
    }
    return 0;
}

static int message(walk *w, json_object *m)
{
    if (!json_object_is_type(m, json_type_object))
        return fail(w, "must be an object with role and content");
    int rc = str_field(w, m, "role", REQUIRED);
    if (rc) return rc;
    const char *role = ccp_json_get_str(m, "role");
    if (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 &&
        strcmp(role, "system") != 0) {
        size_t was = push(w, "role", 0);
        rc = fail(w, "must be \"user\" or \"assistant\"");
        pop(w, was);
        return rc;
    }
    json_object *c;
    if ((rc = field(w, m, "content", T_STR | T_ARR, REQUIRED,
                    "must be a string or an array of content blocks", &c)))
        return rc;
    size_t was = push(w, "content", 0);
    rc = content(w, c);
    pop(w, was);
    return rc;
}

/* Each element of obj[key] (an array, already checked) through fn. */
static int each(walk *w, json_object *arr, const char *key, int (*fn)(walk *, json_object *))
{
    size_t was = push(w, key, 0);
    int rc = 0;
    for (size_t i = 0; !rc && i < ccp_json_arr_len(arr); i++) {
        size_t at = push(w, NULL, i);
        rc = fn(w, json_object_array_get_idx(arr, i));
        pop(w, at);
    }
    pop(w, was);
    return rc;
}

static int tool(walk *w, json_object *t)
{
    if (!json_object_is_type(t, json_type_object)) return fail(w, "must be a tool object");
    /* A custom tool needs its name; a server tool (typed, no schema) may
     * have none (Anthropic's mcp_toolset names its server instead). */
    const char *type = ccp_json_get_str(t, "type");
    bool custom = ccp_json_get(t, "input_schema") || !ccp_json_get(t, "type") ||
                  (type && !strcmp(type, "custom"));
    int rc;
    if ((rc = str_field(w, t, "name", custom)) || (rc = str_field(w, t, "type", OPTIONAL)) ||
        (rc = str_field(w, t, "description", OPTIONAL)))
        return rc;
    /* A custom tool without a schema is one the model cannot be told how to
     * call; the API refuses it. */
    return field(w, t, "input_schema", T_OBJ, w->strict && custom,
                 "must be an object (a JSON Schema)", NULL);
}

/* s is one of the NULL-terminated choices. */
static bool one_of(const char *s, const char *const *choices)
{
    for (; *choices; choices++)
        if (!strcmp(s, *choices)) return true;
    return false;
}

/* obj.key (a string, already checked) is one of choices, else "must be
 * one of ...". */
static int choice(walk *w, json_object *obj, const char *key, const char *const *choices,
                  const char *what)
{
    const char *s = ccp_json_get_str(obj, key);
    if (!s || one_of(s, choices)) return 0;
    size_t was = push(w, key, 0);
    int rc = fail(w, what);
    pop(w, was);
    return rc;
}

static const char *const tool_choices[] = {"auto", "any", "tool", "none", NULL};
static const char *const thinking_types[] = {"enabled", "disabled", "adaptive", NULL};

/* What the API requires of tool_choice and thinking beyond their types. */
static int tool_choice_strict(walk *w, json_object *tc)
{
    int rc = choice(w, tc, "type", tool_choices, "must be \"auto\", \"any\", \"tool\" or \"none\"");
    const char *type = ccp_json_get_str(tc, "type");
    if (!rc && type && !strcmp(type, "tool")) rc = str_field(w, tc, "name", REQUIRED);
    return rc;
}

static int thinking_strict(walk *w, json_object *th)
{
    int rc =
        choice(w, th, "type", thinking_types, "must be \"enabled\", \"disabled\" or \"adaptive\"");
    const char *type = ccp_json_get_str(th, "type");
    if (!rc && type && !strcmp(type, "enabled"))
        rc = field(w, th, "budget_tokens", T_INT, REQUIRED, "must be an integer", NULL);
    return rc;
}

static int string_item(walk *w, json_object *s)
{
    return json_object_is_type(s, json_type_string) ? 0 : fail(w, "must be a string");
}

/* obj[key], an optional object, into *out. */
static int object_field(walk *w, json_object *req, const char *key, json_object **out)
{
    return field(w, req, key, T_OBJ, OPTIONAL, "must be an object", out);
}

static int check(json_object *req, ccp_error *err, bool strict)
{
    walk w; /* not zeroed whole: its arrays are written before they are read */
    w.depth = 0;
    w.top = NULL;
    w.n_top = 0;
    w.err = err;
    w.strict = strict;
    if (!json_object_is_type(req, json_type_object))
        return fail(&w, "must be a JSON object (an Anthropic Messages request)");
    read_top(&w, req);
    json_object *v;
    int rc;
    if ((rc = str_field(&w, req, "model", REQUIRED))) return rc;
    if ((rc = field(&w, req, "messages", T_ARR, REQUIRED, "must be an array", &v)) ||
        (rc = each(&w, v, "messages", message)))
        return rc;
    if (strict && ccp_json_arr_len(v) == 0) {
        size_t at = push(&w, "messages", 0);
        rc = fail(&w, "at least one message is required");
        pop(&w, at);
        return rc;
    }
    if ((rc = field(&w, req, "system", T_STR | T_ARR, OPTIONAL,
                    "must be a string or an array of text blocks", &v)))
        return rc;
    size_t was = push(&w, "system", 0);
    rc = content(&w, v);
    pop(&w, was);
    if (rc) return rc;
    if ((rc = field(&w, req, "max_tokens", T_INT, strict, "must be an integer", &v))) return rc;
    if (strict && json_object_get_int64(v) < 1) {
        size_t at = push(&w, "max_tokens", 0);
        rc = fail(&w, "must be at least 1");
        pop(&w, at);
        return rc;
    }
    if ((rc = field(&w, req, "temperature", T_NUM, OPTIONAL, "must be a number", NULL)) ||
        (rc = field(&w, req, "top_p", T_NUM, OPTIONAL, "must be a number", NULL)) ||
        (rc = field(&w, req, "top_k", T_INT, OPTIONAL, "must be an integer", NULL)) ||
        (rc = field(&w, req, "stream", T_BOOL, OPTIONAL, "must be a boolean", NULL)))
        return rc;
    if ((rc = field(&w, req, "stop_sequences", T_ARR, OPTIONAL, "must be an array of strings",
                    &v)) ||
        (rc = each(&w, v, "stop_sequences", string_item)))
        return rc;
    if ((rc = field(&w, req, "tools", T_ARR, OPTIONAL, "must be an array of tools", &v)) ||
        (rc = each(&w, v, "tools", tool)))
        return rc;

    if ((rc = object_field(&w, req, "tool_choice", &v))) return rc;
    was = push(&w, "tool_choice", 0);
    if (v && !(rc = str_field(&w, v, "type", REQUIRED)) &&
        !(rc = str_field(&w, v, "name", OPTIONAL)) &&
        !(rc = field(&w, v, "disable_parallel_tool_use", T_BOOL, OPTIONAL, "must be a boolean",
                     NULL)) &&
        strict)
        rc = tool_choice_strict(&w, v);
    pop(&w, was);
    if (rc) return rc;

    if ((rc = object_field(&w, req, "thinking", &v))) return rc;
    was = push(&w, "thinking", 0);
    if (v && !(rc = str_field(&w, v, "type", REQUIRED)) &&
        !(rc = field(&w, v, "budget_tokens", T_INT, OPTIONAL, "must be an integer", NULL)) &&
        strict)
        rc = thinking_strict(&w, v);
    pop(&w, was);
    if (rc) return rc;

    if ((rc = object_field(&w, req, "metadata", &v))) return rc;
    was = push(&w, "metadata", 0);
    if (v) rc = str_field(&w, v, "user_id", OPTIONAL);
    pop(&w, was);
    if (rc) return rc;

    if ((rc = object_field(&w, req, "output_config", &v))) return rc;
    was = push(&w, "output_config", 0);
    json_object *fmt = NULL;
    if (v && !(rc = str_field(&w, v, "effort", OPTIONAL))) rc = object_field(&w, v, "format", &fmt);
    if (!rc && fmt) {
        size_t at = push(&w, "format", 0);
        if (!(rc = str_field(&w, fmt, "type", REQUIRED)))
            rc = field(&w, fmt, "schema", T_OBJ, OPTIONAL, "must be an object (a JSON Schema)",
                       NULL);
        pop(&w, at);
    }
    pop(&w, was);
    return rc;
}

int ccp_request_check(json_object *req, ccp_error *err)
{
    return check(req, err, false);
}

int ccp_request_validate(json_object *req, ccp_error *err)
{
    return check(req, err, true);
}

/* ---- model names ------------------------------------------------------- */

static bool model_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-._:/@+", c) != NULL;
}

int ccp_model_name_check(const char *model, ccp_error *err)
{
    size_t n = strlen(model);
    if (n == 0) return ccp_error_set(err, CCP_EINVAL, "model: must not be empty");
    if (n > CCP_MODEL_NAME_MAX)
        return ccp_error_set(err, CCP_EINVAL, "model: longer than %d bytes",
                             (int)CCP_MODEL_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)model[i];
        if (model_char(c)) continue;
        if (c > 0x20 && c < 0x7f)
            return ccp_error_set(err, CCP_EINVAL,
                                 "model: '%c' is not allowed in a model name (letters, digits "
                                 "and - . _ : / @ + are)",
                                 c);
        return ccp_error_set(err, CCP_EINVAL,
                             "model: byte 0x%02x is not allowed in a model name (letters, digits "
                             "and - . _ : / @ + are)",
                             c);
    }
    /* '/' separates path segments where a model reaches a URL: an empty,
     * "." or ".." segment would climb out of the provider's model path. */
    if (model[0] == '/' || model[n - 1] == '/' || strstr(model, "//"))
        return ccp_error_set(err, CCP_EINVAL,
                             "model: an empty path segment (a leading, trailing or double '/') "
                             "is not allowed in a model name");
    for (const char *seg = model;; seg++) {
        size_t len = strcspn(seg, "/");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return ccp_error_set(err, CCP_EINVAL,
                                 "model: a '.' or '..' path segment is not allowed in a model "
                                 "name");
        seg += len;
        if (!*seg) break;
    }
    return 0;
}

char *ccp_encode_model(const ccp_encode_ctx *ctx, ccp_error *err)
{
    const char *model = ctx->model ? ctx->model : ccp_json_get_str(ctx->request, "model");
    if (!model) {
        ccp_error_set(err, CCP_EINVAL, "model: field required");
        return NULL;
    }
    char *m = ccp_xstrdup(model);
    ccp_model_strip_suffix(m);
    if (ccp_model_name_check(m, err) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

/* ---- URL paths --------------------------------------------------------- */

void ccp_url_append_path(ccp_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            ccp_buf_appendc(b, (char)c);
        } else {
            ccp_buf_appendc(b, '%');
            ccp_buf_appendc(b, hex[c >> 4]);
            ccp_buf_appendc(b, hex[c & 15]);
        }
    }
}
