/* events.c — a plugin's event hook as a link of the response event chain.
 * Each canonical event goes to the hook as a table (the names are
 * Anthropic's stream event names, docs/plugins.md); what it returns (the
 * event edited in place, a new one, a list, or false to drop it) is
 * emitted to the next link. */
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "plugin/plugin.h"

#include <stdlib.h>
#include <string.h>

ccp_event_sink *ccp_plugin_events_new(const ccp_step *s, ccp_event_sink *next);
void ccp_plugin_events_free(ccp_event_sink *sink);

typedef struct plugin_sink {
    ccp_event_sink base;
    ccp_event_sink *next;
    const ccp_step *step;
    bool failed; /* skip: after a failure the rest of the stream passes as is */
    /* The ctx when the chain was built (the request's id, stage, target),
     * copied: the answer outlives the code that set it. */
    ccp_plugin_ctx ctx;
    char *request_id, *stage, *provider, *model;
} plugin_sink;

static char *dup_or_null(const char *s)
{
    return s ? ccp_xstrdup(s) : NULL;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    if (v) json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *usage_json(const ccp_usage *u)
{
    json_object *o = json_object_new_object();
    const int64_t v[] = {u->input_tokens, u->output_tokens, u->cache_creation_input_tokens,
                         u->cache_read_input_tokens};
    static const char *const names[] = {"input_tokens", "output_tokens",
                                        "cache_creation_input_tokens", "cache_read_input_tokens"};
    for (int i = 0; i < 4; i++)
        if (v[i] >= 0) json_object_object_add(o, names[i], json_object_new_int64(v[i]));
    return o;
}

static json_object *to_json(const ccp_event *ev)
{
    json_object *o = json_object_new_object();
    add_str(o, "type", ccp_event_type_name(ev->type));
    switch (ev->type) {
    case CCP_EV_MESSAGE_START:
        add_str(o, "id", ev->message_id);
        add_str(o, "model", ev->model);
        json_object_object_add(o, "usage", usage_json(&ev->usage));
        break;
    case CCP_EV_BLOCK_START:
        json_object_object_add(o, "index", json_object_new_int(ev->index));
        add_str(o, "kind", ccp_block_kind_name(ev->block_kind));
        add_str(o, "id", ev->tool_id);
        add_str(o, "name", ev->tool_name);
        if (ev->text) json_object_object_add(o, "data", ccp_json_strn(ev->text, ev->text_len));
        if (ev->raw) json_object_object_add(o, "raw", json_object_get(ev->raw));
        break;
    case CCP_EV_BLOCK_DELTA:
        json_object_object_add(o, "index", json_object_new_int(ev->index));
        add_str(o, "kind", ccp_delta_kind_name(ev->delta_kind));
        json_object_object_add(o, "text", ccp_json_strn(ev->text ? ev->text : "", ev->text_len));
        if (ev->raw) json_object_object_add(o, "raw", json_object_get(ev->raw));
        break;
    case CCP_EV_BLOCK_STOP:
        json_object_object_add(o, "index", json_object_new_int(ev->index));
        break;
    case CCP_EV_MESSAGE_DELTA:
        add_str(o, "stop_reason", ev->stop_reason);
        add_str(o, "stop_sequence", ev->stop_sequence);
        json_object_object_add(o, "usage", usage_json(&ev->usage));
        break;
    case CCP_EV_ERROR:
        add_str(o, "error_type", ev->error_type);
        add_str(o, "message", ev->error_message);
        break;
    default:
        break;
    }
    return o;
}

static int64_t usage_of(json_object *u, const char *k)
{
    json_object *v = ccp_json_get(u, k);
    return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

/* Fills ev from o (strings borrowed from o); false when o is no event. */
static bool from_json(json_object *o, const ccp_event *orig, ccp_event *ev)
{
    memset(ev, 0, sizeof *ev);
    const char *type = ccp_json_get_str(o, "type");
    int t = 0;
    while (t <= CCP_EV_ERROR && (!type || strcmp(type, ccp_event_type_name((ccp_event_type)t))))
        t++;
    if (t > CCP_EV_ERROR) return false;
    ev->type = (ccp_event_type)t;
    ev->index = (int)ccp_json_get_int(o, "index", orig ? orig->index : 0);
    ev->raw = ccp_json_get(o, "raw");
    json_object *u = ccp_json_get(o, "usage");
    ev->usage = (ccp_usage){usage_of(u, "input_tokens"), usage_of(u, "output_tokens"),
                            usage_of(u, "cache_creation_input_tokens"),
                            usage_of(u, "cache_read_input_tokens")};
    const char *kind = ccp_json_get_str(o, "kind");
    json_object *text = ccp_json_get(o, "text");
    switch (ev->type) {
    case CCP_EV_MESSAGE_START:
        ev->message_id = ccp_json_get_str(o, "id");
        ev->model = ccp_json_get_str(o, "model");
        /* The upstream's message object rides along unless replaced. */
        if (!ev->raw && orig && orig->type == CCP_EV_MESSAGE_START) ev->raw = orig->raw;
        break;
    case CCP_EV_BLOCK_START: {
        int k = 0;
        while (k <= CCP_BLOCK_OTHER && (!kind || strcmp(kind, ccp_block_kind_name(k))))
            k++;
        if (k > CCP_BLOCK_OTHER) return false;
        ev->block_kind = (ccp_block_kind)k;
        ev->tool_id = ccp_json_get_str(o, "id");
        ev->tool_name = ccp_json_get_str(o, "name");
        json_object *d = ccp_json_get(o, "data");
        if (d) {
            ev->text = json_object_get_string(d);
            ev->text_len = (size_t)json_object_get_string_len(d);
        }
        break;
    }
    case CCP_EV_BLOCK_DELTA: {
        int k = 0;
        while (k <= CCP_DELTA_OTHER && (!kind || strcmp(kind, ccp_delta_kind_name(k))))
            k++;
        if (k > CCP_DELTA_OTHER) return false;
        ev->delta_kind = (ccp_delta_kind)k;
        if (!json_object_is_type(text, json_type_string) && k != CCP_DELTA_OTHER) return false;
        ev->text = text ? json_object_get_string(text) : NULL;
        ev->text_len = text ? (size_t)json_object_get_string_len(text) : 0;
        break;
    }
    case CCP_EV_MESSAGE_DELTA:
        ev->stop_reason = ccp_json_get_str(o, "stop_reason");
        ev->stop_sequence = ccp_json_get_str(o, "stop_sequence");
        if (!ev->raw && orig && orig->type == CCP_EV_MESSAGE_DELTA) ev->raw = orig->raw;
        break;
    case CCP_EV_ERROR:
        ev->error_type = ccp_json_get_str(o, "error_type");
        ev->error_message = ccp_json_get_str(o, "message");
        if (!ev->error_type) ev->error_type = "api_error";
        break;
    default:
        break;
    }
    return true;
}

static int emit(ccp_event_sink *self, const ccp_event *ev)
{
    plugin_sink *ps = (plugin_sink *)self;
    if (ps->failed) return ps->next->emit(ps->next, ev);
    ccp_plugin *p = (ccp_plugin *)(uintptr_t)ps->step->t;
    json_object *arg = to_json(ev), *r = NULL;
    ccp_error err = {0};
    const ccp_plugin_ctx *prev = ccp_plugin_ctx_set(&ps->ctx);
    ccp_plugin_cause c = ccp_plugin_call(p, "event", arg, ps->step->opts, &r, &err);
    ccp_plugin_ctx_set(prev);
    json_object_put(arg);
    if (c != CCP_PLUGIN_OK) {
        if (ps->step->skip_on_error) {
            ccp_log_warn("%s; skipped (on_error: skip) for the rest of this answer", err.msg);
            ps->failed = true;
            return ps->next->emit(ps->next, ev);
        }
        ccp_event e = {.type = CCP_EV_ERROR, .error_type = "api_error", .error_message = err.msg};
        ps->next->emit(ps->next, &e);
        return CCP_EINVAL;
    }
    int rc = 0;
    if (json_object_is_type(r, json_type_object)) {
        json_object *one = r;
        r = json_object_new_array();
        json_object_array_add(r, one);
    }
    for (size_t i = 0; rc == 0 && i < ccp_json_arr_len(r); i++) {
        ccp_event out;
        if (!from_json(json_object_array_get_idx(r, i), ev, &out)) {
            ccp_log_warn("plugin '%s' event hook returned an event it cannot be (type, kind, "
                         "text): dropped",
                         p->name);
            continue;
        }
        rc = ps->next->emit(ps->next, &out);
    }
    json_object_put(r);
    return rc;
}

ccp_event_sink *ccp_plugin_events_new(const ccp_step *s, ccp_event_sink *next)
{
    plugin_sink *ps = ccp_xcalloc(1, sizeof *ps); /* freed by ccp_plugin_events_free */
    ps->base.emit = emit;
    ps->next = next;
    ps->step = s;
    const ccp_plugin_ctx *c = ccp_plugin_ctx_get();
    if (c) {
        ps->ctx.request_id = ps->request_id = dup_or_null(c->request_id);
        ps->ctx.stage = ps->stage = dup_or_null(c->stage);
        ps->ctx.provider = ps->provider = dup_or_null(c->provider);
        ps->ctx.model = ps->model = dup_or_null(c->model);
    }
    return &ps->base;
}

void ccp_plugin_events_free(ccp_event_sink *sink)
{
    plugin_sink *ps = (plugin_sink *)sink;
    free(ps->request_id);
    free(ps->stage);
    free(ps->provider);
    free(ps->model);
    free(ps);
}
