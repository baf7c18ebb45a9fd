/* gemini_schema.c — JSON Schema → the OpenAPI subset Gemini's
 * functionDeclarations accept (see gemini.h). An allowlist: a keyword not
 * handled below is dropped, so a new JSON Schema keyword never reaches
 * Gemini by accident. */
#include "codec/gemini.h"

#include "core/json.h"
#include "core/log.h"

#include <ctype.h>
#include <string.h>

#define MAX_REF_DEPTH 16
/* Each $ref is expanded inline, so a schema whose definitions refer to one
 * another several times over grows exponentially with the depth (8 refs
 * per level, 16 levels: 8^16 nodes, a request that never finishes). The
 * whole conversion stops expanding past this many schema nodes: far above
 * any real tool schema (Claude Code's largest has about 200). */
#define MAX_NODES 20000

typedef struct {
    json_object *root; /* for $ref */
    int depth;
    size_t nodes; /* schema nodes converted so far */
} walk;

static json_object *convert(walk *w, json_object *s);

static json_object *upper_type(const char *t)
{
    char buf[16];
    size_t n = strlen(t);
    if (n >= sizeof buf) n = sizeof buf - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)toupper((unsigned char)t[i]);
    buf[n] = '\0';
    return json_object_new_string(buf);
}

/* "#/$defs/Name" or "#/definitions/Name" in the root schema. */
static json_object *resolve(walk *w, const char *ref)
{
    const char *name = NULL;
    json_object *defs = NULL;
    if (!strncmp(ref, "#/$defs/", 8))
        name = ref + 8, defs = ccp_json_get_obj(w->root, "$defs");
    else if (!strncmp(ref, "#/definitions/", 14))
        name = ref + 14, defs = ccp_json_get_obj(w->root, "definitions");
    return name ? ccp_json_get_obj(defs, name) : NULL;
}

static bool format_ok(const char *type, const char *fmt)
{
    if (!type || !fmt) return false;
    if (!strcmp(type, "string")) return !strcmp(fmt, "enum") || !strcmp(fmt, "date-time");
    if (!strcmp(type, "number")) return !strcmp(fmt, "float") || !strcmp(fmt, "double");
    if (!strcmp(type, "integer")) return !strcmp(fmt, "int32") || !strcmp(fmt, "int64");
    return false;
}

static void copy_number(json_object *out, json_object *s, const char *key)
{
    json_object *v = ccp_json_get(s, key);
    if (v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        json_object_object_add(out, key, json_object_get(v));
}

static json_object *convert_list(walk *w, json_object *list)
{
    json_object *out = json_object_new_array();
    for (size_t i = 0;
         json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++)
        json_object_array_add(out, convert(w, json_object_array_get_idx(list, i)));
    return out;
}

static json_object *convert(walk *w, json_object *s)
{
    json_object *out = json_object_new_object();
    if (!json_object_is_type(s, json_type_object)) return out;
    if (++w->nodes > MAX_NODES) {
        if (w->nodes == MAX_NODES + 1)
            ccp_log_warn("gemini: a tool schema expands to more than %d nodes through its $refs; "
                         "the rest is sent as open objects",
                         MAX_NODES);
        json_object_object_add(out, "type", json_object_new_string("OBJECT"));
        return out;
    }
    const char *ref = ccp_json_get_str(s, "$ref");
    if (ref) {
        json_object *target = resolve(w, ref);
        if (!target || w->depth >= MAX_REF_DEPTH) {
            /* Unresolvable or recursive past the limit: an open object. */
            json_object_object_add(out, "type", json_object_new_string("OBJECT"));
            return out;
        }
        json_object_put(out);
        w->depth++;
        out = convert(w, target);
        w->depth--;
        return out;
    }
    /* allOf with one member is that member (a common generator idiom). */
    json_object *all = ccp_json_get_arr(s, "allOf");
    if (all && json_object_array_length(all) == 1) {
        json_object_put(out);
        return convert(w, json_object_array_get_idx(all, 0));
    }

    /* type: a name, or a list of names where "null" means nullable. */
    const char *type = NULL;
    json_object *t = ccp_json_get(s, "type");
    if (json_object_is_type(t, json_type_string)) {
        type = json_object_get_string(t);
    } else if (json_object_is_type(t, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(t); i++) {
            const char *n = json_object_get_string(json_object_array_get_idx(t, i));
            if (n && !strcmp(n, "null"))
                json_object_object_add(out, "nullable", json_object_new_boolean(1));
            else if (n && !type)
                type = n;
        }
    }
    if (type && strcmp(type, "null") != 0) json_object_object_add(out, "type", upper_type(type));
    const char *fmt = ccp_json_get_str(s, "format");
    if (format_ok(type, fmt)) json_object_object_add(out, "format", json_object_new_string(fmt));
    const char *desc = ccp_json_get_str(s, "description");
    if (desc) json_object_object_add(out, "description", json_object_new_string(desc));
    if (ccp_json_get_bool(s, "nullable", false))
        json_object_object_add(out, "nullable", json_object_new_boolean(1));

    /* enum: strings only; const is a one-value enum. */
    json_object *en = ccp_json_get_arr(s, "enum");
    json_object *cn = ccp_json_get(s, "const");
    if (!en && json_object_is_type(cn, json_type_string)) {
        json_object *e = json_object_new_array();
        json_object_array_add(e, json_object_get(cn));
        json_object_object_add(out, "enum", e);
        if (!type) json_object_object_add(out, "type", json_object_new_string("STRING"));
    } else if (en) {
        bool strings = true;
        for (size_t i = 0; i < json_object_array_length(en) && strings; i++)
            strings = json_object_is_type(json_object_array_get_idx(en, i), json_type_string);
        if (strings) json_object_object_add(out, "enum", json_object_get(en));
    }

    json_object *props = ccp_json_get_obj(s, "properties");
    if (props) {
        json_object *p = json_object_new_object();
        json_object_object_foreach(props, name, sub)
        {
            json_object_object_add(p, name, convert(w, sub));
        }
        json_object_object_add(out, "properties", p);
        /* required: only names that are properties (Gemini checks). */
        json_object *req = ccp_json_get_arr(s, "required");
        json_object *r = json_object_new_array();
        for (size_t i = 0; req && i < json_object_array_length(req); i++) {
            json_object *n = json_object_array_get_idx(req, i);
            if (json_object_is_type(n, json_type_string) &&
                ccp_json_get(props, json_object_get_string(n)))
                json_object_array_add(r, json_object_get(n));
        }
        if (json_object_array_length(r))
            json_object_object_add(out, "required", r);
        else
            json_object_put(r);
    }
    json_object *items = ccp_json_get(s, "items");
    if (json_object_is_type(items, json_type_object))
        json_object_object_add(out, "items", convert(w, items));
    json_object *any = ccp_json_get_arr(s, "anyOf");
    if (!any) any = ccp_json_get_arr(s, "oneOf");
    if (any) json_object_object_add(out, "anyOf", convert_list(w, any));
    copy_number(out, s, "minItems");
    copy_number(out, s, "maxItems");
    copy_number(out, s, "minimum");
    copy_number(out, s, "maximum");
    return out;
}

json_object *ccp_gemini_schema(json_object *schema)
{
    walk w = {.root = schema};
    return convert(&w, schema);
}
