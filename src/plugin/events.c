/* events.c — a plugin's event hook as a link of the response event chain.
 * Each canonical event goes to the hook as a table (the names are
 * Anthropic's stream event names, docs/plugins.md); what it returns (the
 * event edited in place, a new one, a list, or false to drop it) is
 * emitted to the next link.
 *
 * A link calls its hook synchronously (the event passes on before emit
 * returns) unless ccp_plugin_events_make_async made it asynchronous: what the
 * server does for process-isolated plugins, whose calls wait on a plugin
 * host. Then emit copies the event into the link's queue and returns at
 * once; a job in libuv's thread pool calls the hook for the queued events
 * in order (up to BATCH_MAX per job), and its completion, on the loop,
 * emits what the hook returned to the next link, then starts the next
 * job. One job per link at a time keeps the order. The owner learns of
 * each completion (settled) and asks how much is held (for backpressure,
 * and to let the answer end only once the chain is empty) and whether a
 * link failed under on_error: fail. A link freed while its job runs is
 * orphaned: the job stops after its current call and the completion
 * frees the link, emitting nothing. */
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "plugin/plugin.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

ccp_event_sink *ccp_plugin_events_new(const ccp_step *s, ccp_event_sink *next);
void ccp_plugin_events_free(ccp_event_sink *sink);

/* Events one job sends to the host at most: a job's results reach the
 * client together, so a long batch would hold the first back. */
#define BATCH_MAX 32

/* One event waiting for (or with) the host. */
typedef struct item {
    struct item *next;
    ccp_event ev;        /* a copy: its strings in str, raw a reference (loop only) */
    char *str;           /* owned */
    json_object *arg;    /* the event as the hook gets it, sharing nothing: the job's */
    json_object *result; /* what the hook returned (set by the job) */
} item;

typedef struct plugin_sink {
    ccp_event_sink base;
    ccp_event_sink *next;
    const ccp_step *step;
    bool failed; /* skip: after a failure the rest of the stream passes as is */
    /* The ctx when the chain was built (the request's id, stage, target),
     * copied: the answer outlives the code that set it. */
    ccp_plugin_ctx ctx;
    char *request_id, *stage, *provider, *model;

    /* Asynchronous mode (see the top of the file); all on the loop but
     * what the job writes (batch results, n_ok, cause, err). */
    bool async;
    ccp_plugin_events_async a;
    ccp_config *cfg;   /* a reference: an orphan's job still uses the plugin */
    json_object *opts; /* the step's options, copied (see raw_for) */
    item *queue, **queue_end;
    size_t n_queue, n_batch; /* events queued, and with the host */
    uv_work_t work;
    bool busy;              /* a job runs */
    item *batch;            /* its events, in order */
    size_t n_ok;            /* how many of batch the hook answered, in order */
    ccp_plugin_cause cause; /* of the call after those, or OK */
    ccp_error err;
    atomic_bool cancel; /* orphaned: the job stops after its current call */
    bool orphan;        /* freed while busy or inside the completion */
    int in_done;        /* inside the completion */
    int dead;           /* on_error: fail happened: CCP_E*; later events are dropped */
    ccp_error dead_err;
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

/* ev->raw for the hook: a reference, or (copy) a copy of its own. json-c
 * counts references without atomics, so a tree a job thread holds must
 * share nothing with the trees the loop goes on using. */
static json_object *raw_for(json_object *raw, bool copy)
{
    if (!copy) return json_object_get(raw);
    json_object *c = NULL;
    if (json_object_deep_copy(raw, &c, NULL) != 0) return NULL;
    return c;
}

/* The event as the hook sees it (owned by the caller); copy: see raw_for. */
static json_object *to_json(const ccp_event *ev, bool copy)
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
        if (ev->raw) json_object_object_add(o, "raw", raw_for(ev->raw, copy));
        break;
    case CCP_EV_BLOCK_DELTA:
        json_object_object_add(o, "index", json_object_new_int(ev->index));
        add_str(o, "kind", ccp_delta_kind_name(ev->delta_kind));
        json_object_object_add(o, "text", ccp_json_strn(ev->text ? ev->text : "", ev->text_len));
        if (ev->raw) json_object_object_add(o, "raw", raw_for(ev->raw, copy));
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
    /* What the writer would put where Anthropic has a block's index or an
     * object (a negative index, one past 32 bits that the cast would make
     * another block's, a content_block or delta that is a string) is no
     * event of an Anthropic stream. */
    int64_t index = ccp_json_get_int(o, "index", orig ? orig->index : 0);
    if (index < 0 || index > INT_MAX) return false;
    ev->index = (int)index;
    ev->raw = ccp_json_get(o, "raw");
    if (ev->raw && !json_object_is_type(ev->raw, json_type_object)) return false;
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

/* What the hook did with ev (the call ended with c, r its result, owned
 * here): the events it returned go to the next link, or the failure is
 * handled as on_error says. Returns what the next link returned, or
 * CCP_EINVAL when the answer must end (on_error: fail). */
static int handle(plugin_sink *ps, const ccp_event *ev, ccp_plugin_cause c, json_object *r,
                  const ccp_error *err)
{
    ccp_plugin *p = (ccp_plugin *)(uintptr_t)ps->step->t;
    if (c != CCP_PLUGIN_OK) {
        if (ps->step->skip_on_error) {
            ccp_log_warn("%s; skipped (on_error: skip) for the rest of this answer", err->msg);
            ps->failed = true;
            return ps->next->emit(ps->next, ev);
        }
        ccp_event e = {.type = CCP_EV_ERROR, .error_type = "api_error", .error_message = err->msg};
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
            ccp_log_warn("plugin '%s' event hook returned an event it cannot be (type, kind, text, "
                         "index, raw): dropped",
                         p->name);
            continue;
        }
        rc = ps->next->emit(ps->next, &out);
    }
    json_object_put(r);
    return rc;
}

/* ---- asynchronous mode ------------------------------------------------- */

static void dup_into(char **dst, const char *s, size_t n, char **at)
{
    if (!s) return;
    memcpy(*at, s, n);
    (*at)[n] = '\0';
    *dst = *at;
    *at += n + 1;
}

/* A queued copy of ev (owned by the caller; item_free). */
static item *item_new(const ccp_event *ev)
{
    item *it = ccp_xcalloc(1, sizeof *it);
    it->ev = *ev;
    const char *const src[] = {ev->message_id, ev->model,        ev->tool_id,
                               ev->tool_name,  ev->stop_reason,  ev->stop_sequence,
                               ev->error_type, ev->error_message};
    char **const dst[] = {(char **)&it->ev.message_id,  (char **)&it->ev.model,
                          (char **)&it->ev.tool_id,     (char **)&it->ev.tool_name,
                          (char **)&it->ev.stop_reason, (char **)&it->ev.stop_sequence,
                          (char **)&it->ev.error_type,  (char **)&it->ev.error_message};
    size_t n = ev->text ? ev->text_len + 1 : 0;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        if (src[i]) n += strlen(src[i]) + 1;
    char *at = it->str = n ? ccp_xmalloc(n) : NULL;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        if (src[i]) dup_into(dst[i], src[i], strlen(src[i]), &at);
    if (ev->text) dup_into((char **)&it->ev.text, ev->text, ev->text_len, &at);
    it->ev.raw = json_object_get(ev->raw);
    it->arg = to_json(ev, true);
    return it;
}

static void items_free(item *it)
{
    while (it) {
        item *next = it->next;
        json_object_put(it->arg);
        json_object_put(it->result);
        json_object_put(it->ev.raw);
        free(it->str);
        free(it);
        it = next;
    }
}

static void sink_free(plugin_sink *ps)
{
    items_free(ps->queue);
    json_object_put(ps->opts);
    if (ps->cfg) ccp_config_unref(ps->cfg);
    free(ps->request_id);
    free(ps->stage);
    free(ps->provider);
    free(ps->model);
    free(ps);
}

/* In the thread pool: the hook on each event of the batch, in order,
 * until one fails or the link is orphaned. */
static void job_work(uv_work_t *w)
{
    plugin_sink *ps = w->data;
    ccp_plugin *p = (ccp_plugin *)(uintptr_t)ps->step->t;
    const ccp_plugin_ctx *prev = ccp_plugin_ctx_set(&ps->ctx);
    ps->n_ok = 0;
    ps->cause = CCP_PLUGIN_OK;
    for (item *it = ps->batch; it && !atomic_load(&ps->cancel); it = it->next) {
        ps->err = (ccp_error){0};
        ccp_plugin_cause c = ccp_plugin_call(p, "event", it->arg, ps->opts, &it->result, &ps->err);
        if (c != CCP_PLUGIN_OK) {
            ps->cause = c;
            break;
        }
        ps->n_ok++;
    }
    ccp_plugin_ctx_set(prev);
}

static void job_done(uv_work_t *w, int status);

/* Sends the first BATCH_MAX queued events to the host. */
static void job_start(plugin_sink *ps)
{
    assert(!ps->busy && ps->queue);
    item **end = &ps->queue;
    for (size_t n = 0; *end && n < BATCH_MAX; n++)
        end = &(*end)->next;
    ps->batch = ps->queue;
    ps->queue = *end;
    *end = NULL;
    if (!ps->queue) ps->queue_end = &ps->queue;
    ps->n_batch = 0;
    for (item *it = ps->batch; it; it = it->next)
        ps->n_batch++;
    ps->n_queue -= ps->n_batch;
    ps->busy = true;
    ps->work.data = ps;
    ps->a.job_begin(ps->a.job_ud);
    int rc = uv_queue_work(ps->a.loop, &ps->work, job_work, job_done);
    assert(rc == 0); /* fails only without a work callback */
    (void)rc;
}

/* Emits queued events as they are (on_error: skip happened). */
static void flush_as_is(plugin_sink *ps)
{
    item *q = ps->queue;
    ps->queue = NULL;
    ps->queue_end = &ps->queue;
    ps->n_queue = 0;
    for (item *it = q; it && !ps->orphan; it = it->next)
        ps->next->emit(ps->next, &it->ev);
    items_free(q);
}

/* On the loop: the batch's answers go on, in order; then the next job. */
static void job_done(uv_work_t *w, int status)
{
    (void)status; /* never cancelled */
    plugin_sink *ps = w->data;
    void (*job_end)(void *) = ps->a.job_end;
    void *job_ud = ps->a.job_ud;
    item *batch = ps->batch;
    ps->batch = NULL;
    ps->n_batch = 0;
    ps->busy = false;
    ps->in_done++;
    size_t i = 0;
    for (item *it = batch; it; it = it->next, i++) {
        if (ps->orphan || ps->dead) continue;
        int rc = 0;
        if (ps->failed) { /* skip happened: the rest passes as is */
            rc = ps->next->emit(ps->next, &it->ev);
        } else if (i < ps->n_ok) {
            json_object *r = it->result;
            it->result = NULL;
            rc = handle(ps, &it->ev, CCP_PLUGIN_OK, r, NULL);
        } else if (ps->cause != CCP_PLUGIN_OK) {
            rc = handle(ps, &it->ev, ps->cause, NULL, &ps->err);
            if (rc) ps->dead_err = ps->err;
        }
        if (rc && !ps->dead) {
            ps->dead = rc;
            if (!ps->dead_err.msg[0]) /* a later link failed; its error event went on */
                ccp_error_set(&ps->dead_err, rc, "a later event hook failed");
        }
    }
    items_free(batch);
    if (!ps->orphan) {
        if (ps->dead) {
            items_free(ps->queue); /* what waits is dropped */
            ps->queue = NULL;
            ps->queue_end = &ps->queue;
            ps->n_queue = 0;
        } else if (ps->failed) {
            flush_as_is(ps);
        } else if (ps->queue) {
            job_start(ps);
        }
    }
    ps->in_done--;
    if (ps->orphan && !ps->busy)
        sink_free(ps);
    else
        ps->a.settled(ps->a.ud); /* last: may free ps */
    job_end(job_ud);             /* last: may free the worker */
}

static int emit_async(plugin_sink *ps, const ccp_event *ev)
{
    if (ps->dead) return ps->dead; /* as a synchronous link: the producer stops */
    if (ps->failed) {
        /* Set by a completion, which also emptied the queue and started
         * no job: nothing is ahead of ev. */
        assert(!ps->busy && !ps->queue);
        return ps->next->emit(ps->next, ev);
    }
    item *it = item_new(ev);
    *ps->queue_end = it;
    ps->queue_end = &it->next;
    ps->n_queue++;
    if (!ps->busy) job_start(ps);
    return 0;
}

static bool is_async_link(const ccp_event_chain *ch, size_t i)
{
    return ch->owners[i]->events == ccp_plugin_events_new && ((plugin_sink *)ch->sinks[i])->async;
}

size_t ccp_plugin_events_make_async(ccp_event_chain *ch, const ccp_plugin_events_async *a)
{
    size_t n = 0;
    for (size_t i = 0; i < ch->n; i++) {
        if (ch->owners[i]->events != ccp_plugin_events_new) continue;
        plugin_sink *ps = (plugin_sink *)ch->sinks[i];
        const ccp_plugin *p = ccp_plugin_of(ps->step->t);
        if (p->isolation != CCP_ISOLATION_PROCESS || ps->async) continue;
        ps->async = true;
        ps->a = *a;
        ps->cfg = ccp_config_ref(a->cfg);
        if (ps->step->opts && json_object_deep_copy(ps->step->opts, &ps->opts, NULL) != 0)
            ps->opts = NULL;
        if (!ps->opts) ps->opts = json_object_new_object();
        ps->queue_end = &ps->queue;
        n++;
    }
    return n;
}

size_t ccp_plugin_events_held(const ccp_event_chain *ch)
{
    size_t n = 0;
    for (size_t i = 0; i < ch->n; i++)
        if (is_async_link(ch, i)) {
            const plugin_sink *ps = (const plugin_sink *)ch->sinks[i];
            n += ps->n_queue + ps->n_batch;
        }
    return n;
}

int ccp_plugin_events_failed(const ccp_event_chain *ch, ccp_error *err)
{
    for (size_t i = 0; i < ch->n; i++) {
        if (!is_async_link(ch, i)) continue;
        plugin_sink *ps = (plugin_sink *)ch->sinks[i];
        if (ps->dead) {
            if (err) *err = ps->dead_err;
            return ps->dead;
        }
    }
    return 0;
}

/* ---- the link ---------------------------------------------------------- */

static int emit(ccp_event_sink *self, const ccp_event *ev)
{
    plugin_sink *ps = (plugin_sink *)self;
    if (ps->async) return emit_async(ps, ev);
    if (ps->failed) return ps->next->emit(ps->next, ev);
    ccp_plugin *p = (ccp_plugin *)(uintptr_t)ps->step->t;
    json_object *arg = to_json(ev, false), *r = NULL;
    ccp_error err = {0};
    const ccp_plugin_ctx *prev = ccp_plugin_ctx_set(&ps->ctx);
    ccp_plugin_cause c = ccp_plugin_call(p, "event", arg, ps->step->opts, &r, &err);
    ccp_plugin_ctx_set(prev);
    json_object_put(arg);
    if (c != CCP_PLUGIN_OK) json_object_put(r), r = NULL;
    return handle(ps, ev, c, r, &err);
}

ccp_event_sink *ccp_plugin_events_new(const ccp_step *s, ccp_event_sink *next)
{
    plugin_sink *ps = ccp_xcalloc(1, sizeof *ps); /* freed by ccp_plugin_events_free */
    ps->base.emit = emit;
    ps->next = next;
    ps->step = s;
    ps->queue_end = &ps->queue;
    atomic_init(&ps->cancel, false);
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
    if (ps->busy || ps->in_done) {
        /* The job (or its completion) still uses ps: it frees it. What
         * waits in the queue is dropped now. */
        ps->orphan = true;
        atomic_store(&ps->cancel, true);
        items_free(ps->queue);
        ps->queue = NULL;
        ps->queue_end = &ps->queue;
        ps->n_queue = 0;
        return;
    }
    sink_free(ps);
}
