/* plugin.c — a plugin's declaration, its place among the transformers,
 * and each hook call: the breaker, the engine of its isolation mode, the
 * check of what the hook returned, the figures. */
#include "plugin/plugin.h"

#include "codec/codec.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "obs/metrics.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_SOURCE_BYTES (4u << 20)

const char *ccp_plugin_cause_name(ccp_plugin_cause c)
{
    switch (c) {
    case CCP_PLUGIN_OK:
        return "ok";
    case CCP_PLUGIN_ERROR:
        return "error";
    case CCP_PLUGIN_TIMEOUT:
        return "timeout";
    case CCP_PLUGIN_MEMORY:
        return "memory limit";
    case CCP_PLUGIN_BAD_RETURN:
        return "bad return value";
    case CCP_PLUGIN_CRASH:
        return "crash";
    case CCP_PLUGIN_OPEN:
        return "breaker open";
    }
    return "?";
}

static int plugin_request(const ccp_step *s, json_object *req, ccp_error *err);
static int plugin_outbound(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err);
ccp_event_sink *ccp_plugin_events_new(const ccp_step *s, ccp_event_sink *next); /* events.c */
void ccp_plugin_events_free(ccp_event_sink *sink);

const ccp_plugin *ccp_plugin_of(const ccp_transformer *t)
{
    /* Built-ins are the catalog's; any other transformer is a plugin's. */
    if (!t || ccp_transformer_find(t->name) == t) return NULL;
    return (const ccp_plugin *)t;
}

const ccp_plugin *ccp_plugin_find(const ccp_plugin_set *set, const char *name)
{
    for (size_t i = 0; set && name && i < set->n; i++)
        if (!strcmp(set->v[i]->name, name)) return set->v[i];
    return NULL;
}

/* ---- declaration ------------------------------------------------------- */

static char *read_file(const char *path, size_t *len, ccp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ccp_error_set(err, CCP_EIO, "cannot read it: %s", strerror(errno));
        return NULL;
    }
    ccp_buf b = CCP_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_SOURCE_BYTES)
        ccp_buf_append(&b, chunk, n);
    fclose(f);
    if (b.len > MAX_SOURCE_BYTES) {
        ccp_buf_free(&b);
        ccp_error_set(err, CCP_ELIMIT, "larger than %u MiB", MAX_SOURCE_BYTES >> 20);
        return NULL;
    }
    ccp_buf_append(&b, "", 1);
    *len = b.len - 1;
    return (char *)b.data;
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64 || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_'))
            return false;
    return true;
}

static const struct {
    const char *name;
    ccp_opt_type type;
} opt_types[] = {
    {"integer", CCP_OPT_INT},
    {"number", CCP_OPT_NUMBER},
    {"string", CCP_OPT_STRING},
    {"boolean", CCP_OPT_BOOL},
    {"mapping", CCP_OPT_OBJECT},
    {"object", CCP_OPT_OBJECT},
    {"string_list", CCP_OPT_STRING_LIST},
    {"list", CCP_OPT_STRING_LIST},
};

static bool value_fits(ccp_opt_type t, json_object *v, const char *const *choices)
{
    switch (t) {
    case CCP_OPT_INT:
        return json_object_is_type(v, json_type_int);
    case CCP_OPT_NUMBER:
        return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    case CCP_OPT_STRING:
        if (!json_object_is_type(v, json_type_string)) return false;
        for (const char *const *c = choices; c && *c; c++)
            if (!strcmp(*c, json_object_get_string(v))) return true;
        return !choices;
    case CCP_OPT_BOOL:
        return json_object_is_type(v, json_type_boolean);
    case CCP_OPT_OBJECT:
        return json_object_is_type(v, json_type_object);
    case CCP_OPT_STRING_LIST:
        if (!json_object_is_type(v, json_type_array)) return false;
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                return false;
        return true;
    }
    return false;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* options = { name = {type=, default=, choices=, help=}, ... } into p->opts,
 * sorted by name (Lua tables have no order). */
static int read_options(ccp_plugin *p, json_object *opts, ccp_error *err)
{
    size_t n = opts ? (size_t)json_object_object_length(opts) : 0;
    p->opts = ccp_xcalloc(n + 1, sizeof *p->opts);
    if (!n) return 0;
    const char **keys = ccp_xcalloc(n, sizeof *keys);
    size_t k = 0;
    json_object_object_foreach(opts, name, spec_unused)
    {
        (void)spec_unused;
        keys[k++] = name;
    }
    qsort(keys, n, sizeof *keys, by_key);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_object *spec = ccp_json_get(opts, keys[i]);
        ccp_opt_spec *o = &p->opts[i];
        o->name = ccp_xstrdup(keys[i]);
        const char *type = ccp_json_get_str(spec, "type");
        size_t t = 0;
        while (type && t < sizeof opt_types / sizeof opt_types[0] &&
               strcmp(type, opt_types[t].name))
            t++;
        if (!type || t == sizeof opt_types / sizeof opt_types[0]) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "option '%s': type is one of integer, number, string, boolean, "
                               "mapping, string_list",
                               keys[i]);
            break;
        }
        o->type = opt_types[t].type;
        const char *help = ccp_json_get_str(spec, "help");
        o->help = ccp_xstrdup(help ? help : "");
        json_object *choices = ccp_json_get_arr(spec, "choices");
        if (choices) {
            size_t nc = json_object_array_length(choices);
            const char **c = ccp_xcalloc(nc + 1, sizeof *c);
            for (size_t j = 0; j < nc; j++) {
                const char *s = json_object_get_string(json_object_array_get_idx(choices, j));
                c[j] = ccp_xstrdup(s ? s : "");
            }
            o->choices = (const char *const *)c;
        }
        json_object *def = ccp_json_get(spec, "default");
        if (def) {
            if (!value_fits(o->type, def, o->choices)) {
                rc = ccp_error_set(err, CCP_EINVAL, "option '%s': its default is not a %s", keys[i],
                                   ccp_opt_type_name(o->type));
                break;
            }
            o->def = ccp_xstrdup(json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN));
        }
    }
    free(keys);
    return rc;
}

static int read_declaration(ccp_plugin *p, json_object *d, ccp_error *err)
{
    const char *name = ccp_json_get_str(d, "name");
    if (!valid_name(name))
        return ccp_error_set(err, CCP_EINVAL,
                             "its declaration needs a `name` of lower-case letters, digits, '-' "
                             "and '_' (as pipelines will write it)");
    free(p->name);
    p->name = ccp_xstrdup(name);
    const char *v = ccp_json_get_str(d, "version"), *s = ccp_json_get_str(d, "summary");
    p->version = ccp_xstrdup(v ? v : "0");
    p->summary = ccp_xstrdup(s ? s : "(a plugin)");
    p->has_request = ccp_json_get_bool(d, "request", false);
    p->has_outbound = ccp_json_get_bool(d, "outbound", false);
    p->has_event = ccp_json_get_bool(d, "event", false);
    p->has_route = ccp_json_get_bool(d, "route", false);
    if (!p->has_request && !p->has_outbound && !p->has_event && !p->has_route)
        return ccp_error_set(err, CCP_EINVAL,
                             "it declares no hook: give it a request, outbound, event or route "
                             "function");
    json_object *fm = ccp_json_get(d, "formats");
    for (size_t i = 0; fm && i < ccp_json_arr_len(fm); i++) {
        const char *f = json_object_get_string(ccp_json_arr_at(fm, i));
        const ccp_codec *c = ccp_codec_find(f);
        if (!c) return ccp_error_set(err, CCP_EINVAL, "formats: unknown format '%s'", f ? f : "?");
        p->t.formats |= 1u << c->format;
    }
    if (fm && !json_object_is_type(fm, json_type_array))
        return ccp_error_set(err, CCP_EINVAL, "formats is a list of format names");
    json_object *rd = ccp_json_get(d, "reads");
    if (rd && (!json_object_is_type(rd, json_type_array) || !json_object_array_length(rd)))
        return ccp_error_set(err, CCP_EINVAL,
                             "reads is a list of the request's top-level members the hooks "
                             "read, e.g. reads = {\"model\", \"system\"} (leave it out for "
                             "the whole request)");
    for (size_t i = 0; rd && i < json_object_array_length(rd); i++) {
        json_object *e = json_object_array_get_idx(rd, i);
        if (!json_object_is_type(e, json_type_string) || !json_object_get_string_len(e))
            return ccp_error_set(err, CCP_EINVAL,
                                 "reads: entry %zu is not a member's name (a string such as "
                                 "\"messages\")",
                                 i + 1);
        p->reads = ccp_xrealloc(p->reads, (p->n_reads + 1) * sizeof *p->reads);
        p->reads[p->n_reads++] = ccp_xstrdup(json_object_get_string(e));
    }
    json_object *opts = ccp_json_get(d, "options");
    if (opts && !json_object_is_type(opts, json_type_object))
        return ccp_error_set(err, CCP_EINVAL,
                             "options is a table of name = {type=, default=, choices=, help=}");
    return read_options(p, opts, err);
}

ccp_plugin *ccp_plugin_load(const char *path, ccp_isolation iso, const ccp_plugin_limits *lim,
                            ccp_error *err)
{
    ccp_plugin *p = ccp_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->isolation = iso;
    p->limits = *lim;
    p->breaker_failures = CCP_PLUGIN_BREAKER_FAILURES;
    p->breaker_window_ms = CCP_PLUGIN_BREAKER_WINDOW_MS;
    p->breaker_cooldown_ms = CCP_PLUGIN_BREAKER_COOLDOWN_MS;
    struct stat st;
    ccp_buf file = CCP_BUF_INIT;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        ccp_buf_printf(&file, "%s/init.lua", path);
    else
        ccp_buf_appends(&file, path);
    p->path = (char *)file.data;
    p->source = read_file(p->path, &p->source_len, err);
    if (!p->source) goto fail;
    /* The top level runs once to give the declaration: in a host for
     * process isolation (plugin code never runs in the proxy's process),
     * else here in a sandboxed state; under the caps either way. */
    ccp_buf msg = CCP_BUF_INIT;
    json_object *d = NULL;
    p->name = ccp_xstrdup(p->path); /* for messages until the declaration names it */
    if (iso == CCP_ISOLATION_PROCESS) {
        d = ccp_plugin_host_declaration(p, &msg);
    } else {
        ccp_buf chunk = CCP_BUF_INIT;
        ccp_buf_printf(&chunk, "@%s", p->path);
        ccp_plugin_vm *vm = ccp_plugin_vm_new(chunk.data, p->source, p->source_len, lim, &msg);
        ccp_buf_free(&chunk);
        if (vm) d = ccp_plugin_vm_declaration(vm);
        ccp_plugin_vm_free(vm);
    }
    if (!d) {
        ccp_error_set(err, CCP_EINVAL, "%s", msg.data ? msg.data : "cannot read its declaration");
        ccp_buf_free(&msg);
        goto fail;
    }
    ccp_buf_free(&msg);
    int rc = read_declaration(p, d, err);
    json_object_put(d);
    if (rc) goto fail;
    p->t.name = p->name;
    p->t.summary = p->summary;
    p->t.opts = p->opts;
    p->t.request = p->has_request ? plugin_request : NULL;
    p->t.outbound = p->has_outbound ? plugin_outbound : NULL;
    p->t.events = p->has_event ? ccp_plugin_events_new : NULL;
    p->t.events_free = p->has_event ? ccp_plugin_events_free : NULL;
    return p;
fail:
    ccp_plugin_free(p);
    return NULL;
}

void ccp_plugin_free(ccp_plugin *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_idle; i++)
        ccp_plugin_vm_free(p->idle[i]);
    free(p->idle);
    ccp_plugin_hosts_free(p->hosts);
    for (ccp_opt_spec *o = p->opts; o && o->name; o++) {
        free((void *)o->name);
        free((void *)o->help);
        free((void *)o->def);
        for (const char *const *c = o->choices; c && *c; c++)
            free((void *)*c);
        free((void *)o->choices);
    }
    free(p->opts);
    for (size_t i = 0; i < p->n_reads; i++)
        free(p->reads[i]);
    free(p->reads);
    json_object_put(p->defaults);
    free(p->name);
    free(p->version);
    free(p->summary);
    free(p->path);
    free(p->source);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void ccp_plugin_set_free(ccp_plugin_set *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++)
        ccp_plugin_free(set->v[i]);
    free(set->v);
    free(set);
}

/* ---- ctx --------------------------------------------------------------- */

static _Thread_local const ccp_plugin_ctx *tl_ctx;

const ccp_plugin_ctx *ccp_plugin_ctx_get(void)
{
    return tl_ctx;
}

const ccp_plugin_ctx *ccp_plugin_ctx_set(const ccp_plugin_ctx *ctx)
{
    const ccp_plugin_ctx *old = tl_ctx;
    tl_ctx = ctx;
    return old;
}

/* Headers a plugin never sees the value of. */
static bool is_credential(const char *name)
{
    static const char *const names[] = {"authorization",
                                        "proxy-authorization",
                                        "x-api-key",
                                        "x-goog-api-key",
                                        "api-key",
                                        "cookie",
                                        NULL};
    for (const char *const *n = names; *n; n++)
        if (!strcasecmp(name, *n)) return true;
    return false;
}

#define MASK "***"

static json_object *ctx_json(json_object *opts)
{
    const ccp_plugin_ctx *c = tl_ctx;
    json_object *o = json_object_new_object();
    if (c) {
        if (c->request_id)
            json_object_object_add(o, "request_id", json_object_new_string(c->request_id));
        if (c->stage) json_object_object_add(o, "stage", json_object_new_string(c->stage));
        if (c->provider) json_object_object_add(o, "provider", json_object_new_string(c->provider));
        if (c->model) json_object_object_add(o, "model", json_object_new_string(c->model));
        json_object *h = json_object_new_object();
        for (size_t i = 0; i < c->n_headers; i++)
            json_object_object_add(h, c->headers[i].name,
                                   json_object_new_string(is_credential(c->headers[i].name)
                                                              ? MASK
                                                              : c->headers[i].value));
        json_object_object_add(o, "headers", h);
    }
    /* A copy, not a reference: opts is the config's, shared by every
     * thread that runs this step, and json-c counts references without
     * atomics. Taking and dropping a reference per call from the worker
     * loops and the thread pool at once lost counts until the options
     * were freed under the config: every later call wrote a broken ctx
     * (`"options":}`), which each plugin host refused as not JSON and
     * ended on -- the hosts that died one after another under a
     * 32-connection load. */
    json_object *copy = NULL;
    if (!opts || json_object_deep_copy(opts, &copy, NULL) != 0) copy = json_object_new_object();
    json_object_object_add(o, "options", copy);
    return o;
}

/* ---- the breaker ------------------------------------------------------- */

/* May a call go ahead? *probe is set for the half-open trial. */
static bool admit(ccp_plugin *p, uint64_t now, bool *probe, uint64_t *wait)
{
    bool ok = true;
    *probe = false;
    pthread_mutex_lock(&p->mu);
    if (p->open_until_ms) {
        if (now < p->open_until_ms) {
            ok = false;
            *wait = p->open_until_ms - now;
        } else if (p->half_open_probe) {
            ok = false; /* one trial at a time */
            *wait = 0;
        } else {
            p->half_open_probe = *probe = true;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return ok;
}

static void record(ccp_plugin *p, uint64_t now, bool ok, bool probe)
{
    pthread_mutex_lock(&p->mu);
    if (probe) p->half_open_probe = false;
    if (ok) {
        if (probe || p->open_until_ms) {
            p->open_until_ms = 0;
            ccp_log_info("plugin '%s': breaker closed, the trial call succeeded", p->name);
        }
        p->failures = 0;
    } else if (probe) {
        p->open_until_ms = now + p->breaker_cooldown_ms;
        ccp_log_warn("plugin '%s': trial call failed, breaker open again for %llu ms", p->name,
                     (unsigned long long)p->breaker_cooldown_ms);
    } else {
        /* now was read before the lock: another thread may have stored a
         * later window start, which is not an expired window. */
        if (!p->failures ||
            (now > p->window_start_ms && now - p->window_start_ms > p->breaker_window_ms)) {
            p->failures = 0;
            p->window_start_ms = now;
        }
        if (++p->failures >= p->breaker_failures && !p->open_until_ms) {
            p->open_until_ms = now + p->breaker_cooldown_ms;
            p->failures = 0;
            ccp_log_warn("plugin '%s': %u failures within %llu ms, breaker open for %llu ms",
                         p->name, p->breaker_failures, (unsigned long long)p->breaker_window_ms,
                         (unsigned long long)p->breaker_cooldown_ms);
        }
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- calls ------------------------------------------------------------- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static ccp_plugin_vm *take_vm(ccp_plugin *p, ccp_buf *msg)
{
    ccp_plugin_vm *vm = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->n_idle) vm = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->mu);
    if (vm) return vm;
    ccp_buf chunk = CCP_BUF_INIT;
    ccp_buf_printf(&chunk, "@%s", p->path);
    vm = ccp_plugin_vm_new(chunk.data, p->source, p->source_len, &p->limits, msg);
    ccp_buf_free(&chunk);
    if (vm) ccp_plugin_vm_set_name(vm, p->name);
    return vm;
}

static void give_vm(ccp_plugin *p, ccp_plugin_vm *vm)
{
    pthread_mutex_lock(&p->mu);
    if (p->n_idle == p->cap_idle) {
        p->cap_idle = p->cap_idle ? 2 * p->cap_idle : 4;
        p->idle = ccp_xrealloc(p->idle, p->cap_idle * sizeof *p->idle);
    }
    p->idle[p->n_idle++] = vm;
    pthread_mutex_unlock(&p->mu);
}

/* Is result what hook must return? NULL, or what is wrong. */
static const char *check_shape(const char *hook, json_object *r)
{
    if (!strcmp(hook, "request"))
        return json_object_is_type(r, json_type_object) ? NULL : "not a request table";
    if (!strcmp(hook, "outbound")) {
        if (!json_object_is_type(r, json_type_object)) return "not a table {url, headers, body}";
        if (!json_object_is_type(ccp_json_get(r, "url"), json_type_string)) return "no url string";
        json_object *h = ccp_json_get(r, "headers");
        if (!json_object_is_type(h, json_type_object)) return "no headers table";
        json_object_object_foreach(h, k, v)
        {
            const char *s = json_object_get_string(v);
            if (!json_object_is_type(v, json_type_string) || strpbrk(s, "\r\n") || !*k ||
                strpbrk(k, ":\r\n \t"))
                return "a header that is not a name = string value without line breaks";
        }
        return NULL;
    }
    if (!strcmp(hook, "event")) {
        if (json_object_is_type(r, json_type_boolean) && !json_object_get_boolean(r)) return NULL;
        if (json_object_is_type(r, json_type_object)) return NULL;
        if (!json_object_is_type(r, json_type_array))
            return "not an event, a list of events or false";
        for (size_t i = 0; i < json_object_array_length(r); i++)
            if (!json_object_is_type(json_object_array_get_idx(r, i), json_type_object))
                return "a list with something that is not an event";
        return NULL;
    }
    if (!strcmp(hook, "route"))
        return !r || json_object_is_type(r, json_type_string)
                   ? NULL
                   : "neither \"provider/model\" nor nil";
    return NULL;
}

ccp_plugin_cause ccp_plugin_call(ccp_plugin *p, const char *hook, json_object *arg,
                                 json_object *opts, json_object **result, ccp_error *err)
{
    *result = NULL;
    atomic_fetch_add(&p->calls, 1);
    uint64_t now = ccp_plugin_now_ms(), wait = 0;
    bool probe;
    if (!admit(p, now, &probe, &wait)) {
        atomic_fetch_add(&p->errors, 1);
        ccp_error_set(err, CCP_EUNSUPPORTED,
                      "plugin '%s': not called, its breaker is open after repeated failures "
                      "(tried again in %llu s)",
                      p->name, (unsigned long long)((wait + 999) / 1000));
        return CCP_PLUGIN_OPEN;
    }
    uint64_t start_us = now_us();
    json_object *ctx = ctx_json(opts);
    ccp_buf msg = CCP_BUF_INIT;
    ccp_plugin_cause c;
    if (p->isolation == CCP_ISOLATION_INPROCESS) {
        ccp_plugin_vm *vm = take_vm(p, &msg);
        if (!vm) {
            c = CCP_PLUGIN_ERROR;
        } else {
            c = ccp_plugin_vm_call(vm, hook, arg, ctx, &p->limits, result, &msg);
            /* After a cap was hit the state may be half-way through
             * anything: it is not reused. */
            if (c == CCP_PLUGIN_TIMEOUT || c == CCP_PLUGIN_MEMORY)
                ccp_plugin_vm_free(vm);
            else
                give_vm(p, vm);
        }
    } else {
        c = ccp_plugin_host_call(p, hook, arg, ctx, result, &msg);
    }
    json_object_put(ctx);
    const char *bad = c == CCP_PLUGIN_OK ? check_shape(hook, *result) : NULL;
    if (bad) {
        c = CCP_PLUGIN_BAD_RETURN;
        ccp_buf_printf(&msg, "the %s hook returned %s", hook, bad);
        json_object_put(*result);
        *result = NULL;
    }
    uint64_t took_us = now_us() - start_us;
    atomic_fetch_add(&p->call_us, took_us);
    size_t b = 0;
    while (b < CCP_PLUGIN_LATENCY_BUCKETS && (double)took_us / 1e6 > ccp_plugin_latency_bounds[b])
        b++;
    atomic_fetch_add(&p->lat[b], 1);
    record(p, ccp_plugin_now_ms(), c == CCP_PLUGIN_OK, probe);
    if (c != CCP_PLUGIN_OK) {
        atomic_fetch_add(&p->errors, 1);
        if (c == CCP_PLUGIN_TIMEOUT) atomic_fetch_add(&p->timeouts, 1);
        ccp_plugin_text_clean(&msg); /* the plugin's own words, logged by the callers */
        ccp_error_set(err, c == CCP_PLUGIN_TIMEOUT ? CCP_ETIMEOUT : CCP_EINVAL,
                      "plugin '%s' %s hook failed (%s): %s", p->name, hook,
                      ccp_plugin_cause_name(c), msg.data ? msg.data : "");
    }
    ccp_buf_free(&msg);
    return c;
}

/* ---- the transformer hooks --------------------------------------------- */

static ccp_plugin *plugin_of_step(const ccp_step *s)
{
    /* The plugin is the config's, shared by the threads: its mutable parts
     * (breaker, idle states, figures) are guarded or atomic. */
    return (ccp_plugin *)(uintptr_t)s->t;
}

static void replace_members(json_object *dst, json_object *src)
{
    struct lh_entry *e;
    while ((e = json_object_get_object(dst)->head))
        json_object_object_del(dst, (const char *)lh_entry_k(e));
    json_object_object_foreach(src, k, v)
    {
        json_object_object_add(dst, k, json_object_get(v));
    }
}

static bool reads_member(const ccp_plugin *p, const char *k)
{
    for (size_t i = 0; i < p->n_reads; i++)
        if (!strcmp(p->reads[i], k)) return true;
    return false;
}

json_object *ccp_plugin_hook_arg(const ccp_plugin *p, json_object *req)
{
    if (!p->reads || !json_object_is_type(req, json_type_object)) return json_object_get(req);
    /* In req's order, so a patch from the host keeps it. */
    json_object *a = json_object_new_object();
    json_object_object_foreach(req, k, v)
    {
        if (reads_member(p, k)) json_object_object_add(a, k, json_object_get(v));
    }
    return a;
}

/* Puts into req what the hook made of arg (its part of req): a member of
 * arg the result lacks is deleted, a member the result holds as another
 * object than arg's is set (added when new); the members the plugin does
 * not read stay as they are. */
static void merge_result(json_object *req, json_object *arg, json_object *r)
{
    json_object_object_foreach(arg, ka, va)
    {
        (void)va;
        if (!json_object_object_get_ex(r, ka, NULL)) json_object_object_del(req, ka);
    }
    json_object_object_foreach(r, k, v)
    {
        json_object *old = NULL;
        if (json_object_object_get_ex(arg, k, &old) && old == v) continue;
        json_object_object_add(req, k, json_object_get(v));
    }
}

static int plugin_request(const ccp_step *s, json_object *req, ccp_error *err)
{
    ccp_plugin *p = plugin_of_step(s);
    json_object *arg = ccp_plugin_hook_arg(p, req), *r;
    if (ccp_plugin_call(p, "request", arg, s->opts, &r, err) != CCP_PLUGIN_OK) {
        json_object_put(arg);
        return err->code;
    }
    /* Unchanged, the hook's result is arg itself (lua_conv.c shares it). */
    if (r != arg) {
        if (arg == req)
            replace_members(req, r);
        else
            merge_result(req, arg, r);
    }
    json_object_put(r);
    json_object_put(arg);
    return 0;
}

/* ---- the shape check after plugin request hooks ------------------------
 *
 * A request hook's result shares every member it did not touch with the
 * tree it was given (lua_conv.c in-process, the host's patch in process
 * mode), and no plugin path edits a shared subtree in place. So when only
 * plugins edited a request that passed the check, what may have left the
 * shape is the top-level members whose value is another object than
 * before: those alone are checked, not the whole 150 KiB request again
 * (that walk was most of what an in-process one-field edit added). */

bool ccp_plugin_edits_only(const ccp_pipeline *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (p->steps[i].t->request && !ccp_plugin_of(p->steps[i].t)) return false;
    return true;
}

json_object *ccp_plugin_request_mark(json_object *req)
{
    if (!json_object_is_type(req, json_type_object)) return NULL;
    json_object *o = json_object_new_object();
    json_object_object_foreach(req, k, v)
    {
        json_object_object_add(o, k, json_object_get(v));
    }
    return o;
}

bool ccp_plugin_request_still_checked(json_object *before, json_object *req)
{
    if (!before || !json_object_is_type(req, json_type_object)) return false;
    /* The check of each top-level member reads that member alone, so a
     * request of the changed members passes it exactly when the whole
     * does. model and messages are required: model (a string) goes in as
     * it is, messages left alone stand in as an empty list. */
    json_object *t = json_object_new_object();
    json_object_object_foreach(req, k, v)
    {
        json_object *old = NULL;
        bool same = json_object_object_get_ex(before, k, &old) && old == v;
        if (same && !strcmp(k, "messages"))
            json_object_object_add(t, k, json_object_new_array());
        else if (!same || !strcmp(k, "model"))
            json_object_object_add(t, k, json_object_get(v));
    }
    /* Members deleted are absent from t too: only the required ones
     * matter, and their absence fails the check as it would the whole. */
    ccp_error err = {0};
    bool ok = ccp_request_check(t, &err) == 0;
    json_object_put(t);
    return ok;
}

static const char *header_value(const ccp_outbound *out, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < out->n_headers; i++) {
        const char *h = out->headers[i];
        if (!strncasecmp(h, name, n) && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ')
                v++;
            *len = strlen(v);
            return v;
        }
    }
    return NULL;
}

/* Do URLs a and b name one origin (scheme, host, port)? False when either
 * does not parse. */
static bool same_origin(const char *a, const char *b)
{
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    CURLU *ua = curl_url(), *ub = curl_url();
    bool same = ua && ub && a && b && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
                curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;
    for (size_t i = 0; same && i < sizeof parts / sizeof parts[0]; i++) {
        char *va = NULL, *vb = NULL;
        same = curl_url_get(ua, parts[i], &va, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               curl_url_get(ub, parts[i], &vb, CURLU_DEFAULT_PORT) == CURLUE_OK &&
               !strcasecmp(va, vb);
        curl_free(va);
        curl_free(vb);
    }
    curl_url_cleanup(ua);
    curl_url_cleanup(ub);
    return same;
}

static int plugin_outbound(const ccp_step *s, json_object *req, ccp_outbound *out, ccp_error *err)
{
    (void)req;
    json_object *arg = json_object_new_object();
    json_object_object_add(arg, "url",
                           ccp_json_strn(out->url.data ? out->url.data : "", out->url.len));
    json_object *h = json_object_new_object();
    for (size_t i = 0; i < out->n_headers; i++) {
        const char *colon = strchr(out->headers[i], ':');
        if (!colon) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(colon - out->headers[i]), out->headers[i]);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        /* Credentials go out masked; a header left "***" gets its value
         * back below. */
        json_object_object_add(h, name, json_object_new_string(is_credential(name) ? MASK : v));
    }
    json_object_object_add(arg, "headers", h);
    json_object_object_add(arg, "body", json_object_get(out->json));
    json_object *r;
    ccp_plugin_cause c = ccp_plugin_call(plugin_of_step(s), "outbound", arg, s->opts, &r, err);
    json_object_put(arg);
    if (c != CCP_PLUGIN_OK) return err->code;
    const char *url = ccp_json_get_str(r, "url");
    /* The path and query are the plugin's to edit, the origin is not: the
     * key headers it left "***" get their values back below, and would go
     * with the request to any host it named (a plugin cannot add an
     * upstream, docs/security.md). */
    if (!same_origin(out->url.data, url)) {
        json_object_put(r);
        return ccp_error_set(err, CCP_EINVAL,
                             "plugin '%s' outbound hook failed (bad return value): its url names "
                             "another scheme, host or port than the provider's base_url (a "
                             "plugin cannot send a request elsewhere)",
                             plugin_of_step(s)->name);
    }
    ccp_outbound next;
    ccp_outbound_init(&next);
    ccp_buf_appends(&next.url, url);
    json_object_object_foreach(ccp_json_get(r, "headers"), k, v)
    {
        const char *val = json_object_get_string(v);
        size_t len = 0;
        const char *orig = !strcmp(val, MASK) ? header_value(out, k, &len) : NULL;
        ccp_buf line = CCP_BUF_INIT;
        if (orig)
            ccp_buf_printf(&line, "%.*s", (int)len, orig);
        else
            ccp_buf_appends(&line, val);
        ccp_outbound_add_header(&next, k, line.data ? line.data : "");
        ccp_buf_free(&line);
    }
    next.json = json_object_get(ccp_json_get(r, "body"));
    json_object_put(r);
    ccp_outbound_free(out);
    *out = next;
    return 0;
}

bool ccp_plugin_pipeline_blocks(const ccp_pipeline *p)
{
    for (size_t i = 0; p && i < p->n; i++) {
        const ccp_plugin *pl = ccp_plugin_of(p->steps[i].t);
        if (pl && pl->isolation == CCP_ISOLATION_PROCESS && (pl->has_request || pl->has_outbound))
            return true;
    }
    return false;
}

bool ccp_plugin_route_blocks(const ccp_config *cfg)
{
    const ccp_plugin *p = cfg->router.script_plugin;
    return p && p->isolation == CCP_ISOLATION_PROCESS;
}

/* ---- the catalog ------------------------------------------------------- */

void ccp_plugin_catalog_write(const ccp_plugin_set *set, ccp_buf *out)
{
    for (size_t i = 0; set && i < set->n; i++) {
        const ccp_plugin *p = set->v[i];
        ccp_buf_printf(out, "%s %s — %s (plugin)\n  source: %s\n  isolation: %s; hooks:%s%s%s%s\n",
                       p->name, p->version, p->summary, p->path,
                       p->isolation == CCP_ISOLATION_PROCESS ? "process" : "inprocess",
                       p->has_request ? " request" : "", p->has_outbound ? " outbound" : "",
                       p->has_event ? " event" : "", p->has_route ? " route" : "");
        for (const ccp_opt_spec *o = p->opts; o->name; o++)
            ccp_buf_printf(out, "  %-14s %-15s default %-10s %s\n", o->name,
                           ccp_opt_type_name(o->type), o->def ? o->def : "unset", o->help);
        ccp_buf_appends(out, "\n");
    }
}

/* ---- figures ----------------------------------------------------------- */

/* From 100 µs (an in-process edit) to 5 s (well past any sane timeout_ms). */
const double ccp_plugin_latency_bounds[CCP_PLUGIN_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

/* The histogram of one plugin's call latency, cumulative as Prometheus
 * wants it. */
static void write_latency(ccp_buf *out, ccp_plugin *p)
{
    uint64_t cum = 0;
    for (size_t b = 0; b <= CCP_PLUGIN_LATENCY_BUCKETS; b++) {
        cum += atomic_load(&p->lat[b]);
        if (b < CCP_PLUGIN_LATENCY_BUCKETS)
            ccp_buf_printf(
                out, "ccproxy_plugin_call_duration_seconds_bucket{plugin=\"%s\",le=\"%g\"} %llu\n",
                p->name, ccp_plugin_latency_bounds[b], (unsigned long long)cum);
        else
            ccp_buf_printf(
                out,
                "ccproxy_plugin_call_duration_seconds_bucket{plugin=\"%s\",le=\"+Inf\"} %llu\n",
                p->name, (unsigned long long)cum);
    }
    ccp_buf_printf(out, "ccproxy_plugin_call_duration_seconds_sum{plugin=\"%s\"} %.6f\n", p->name,
                   (double)atomic_load(&p->call_us) / 1e6);
    ccp_buf_printf(out, "ccproxy_plugin_call_duration_seconds_count{plugin=\"%s\"} %llu\n", p->name,
                   (unsigned long long)cum);
}

void ccp_plugin_metrics(const ccp_plugin_set *set, ccp_buf *out, bool om)
{
    /* The families are written even without plugins: what /metrics
     * offers does not depend on the config (docs/metrics.json). */
    static const char *const fam[][2] = {
        {"calls", "hook calls"},
        {"errors", "failed hook calls (any cause, breaker refusals included)"},
        {"timeouts", "hook calls stopped at timeout_ms or the instruction budget"},
        {"kills", "plugin hosts killed (deadline) or dead (crash, seccomp)"},
        {"restarts", "plugin hosts started again after one died"},
    };
    for (size_t f = 0; f < 5; f++) {
        char name[64], help[160];
        snprintf(name, sizeof name, "ccproxy_plugin_%s_total", fam[f][0]);
        snprintf(help, sizeof help, "Plugin %s.", fam[f][1]);
        ccp_metrics_family(out, name, "counter", help, om);
        for (size_t i = 0; set && i < set->n; i++) {
            ccp_plugin *p = set->v[i];
            uint64_t v = f == 0   ? atomic_load(&p->calls)
                         : f == 1 ? atomic_load(&p->errors)
                         : f == 2 ? atomic_load(&p->timeouts)
                         : f == 3 ? atomic_load(&p->kills)
                                  : atomic_load(&p->restarts);
            ccp_buf_printf(out, "ccproxy_plugin_%s_total{plugin=\"%s\"} %llu\n", fam[f][0], p->name,
                           (unsigned long long)v);
        }
    }
    ccp_metrics_family(out, "ccproxy_plugin_call_seconds_total", "counter",
                       "Time plugin hook calls took, summed (÷ calls: the mean latency).", om);
    for (size_t i = 0; set && i < set->n; i++)
        ccp_buf_printf(out, "ccproxy_plugin_call_seconds_total{plugin=\"%s\"} %.6f\n",
                       set->v[i]->name, (double)atomic_load(&set->v[i]->call_us) / 1e6);
    ccp_metrics_family(out, "ccproxy_plugin_call_duration_seconds", "histogram",
                       "Plugin hook call latency, breaker refusals excluded.", om);
    for (size_t i = 0; set && i < set->n; i++)
        write_latency(out, set->v[i]);
    ccp_buf hosts = CCP_BUF_INIT, rss = CCP_BUF_INIT;
    for (size_t i = 0; set && i < set->n; i++) {
        int n;
        uint64_t bytes;
        ccp_plugin_host_figures(set->v[i], &n, &bytes);
        ccp_buf_printf(&hosts, "ccproxy_plugin_hosts{plugin=\"%s\"} %d\n", set->v[i]->name, n);
        ccp_buf_printf(&rss, "ccproxy_plugin_host_resident_memory_bytes{plugin=\"%s\"} %llu\n",
                       set->v[i]->name, (unsigned long long)bytes);
    }
    ccp_metrics_family(out, "ccproxy_plugin_hosts", "gauge",
                       "Plugin-host processes running (process isolation).", om);
    if (hosts.len) ccp_buf_append(out, hosts.data, hosts.len);
    ccp_metrics_family(out, "ccproxy_plugin_host_resident_memory_bytes", "gauge",
                       "Resident memory of a plugin's hosts, summed.", om);
    if (rss.len) ccp_buf_append(out, rss.data, rss.len);
    ccp_buf_free(&hosts);
    ccp_buf_free(&rss);
}
