/* app.c — the endpoint table and per-worker state of the cc-proxy app. */
#include "http/app.h"

#include "codec/anthropic_writer.h"
#include "core/alloc.h"
#include "core/json.h"
#include "debug/admin.h"
#include "debug/events.h"
#include "guard/admin_key.h"
#include "guard/browser.h"
#include "teams/redis_store.h"
#include "http/reload.h"
#include "plugin/plugin.h"

#include <stdio.h>
#include <string.h>

void ccp_app_init(ccp_app *app, ccp_config *cfg, const char *path, bool fixed_log_level,
                  bool fixed_log_format)
{
    app->config_now = cfg;
    uv_mutex_init(&app->config_lock);
    atomic_store(&app->config_gen, 1);
    app->reload = ccp_reload_new(path, fixed_log_level, fixed_log_format);
}

void ccp_app_fini(ccp_app *app)
{
    ccp_reload_free(app->reload);
    app->reload = NULL;
    ccp_config_unref(app->config_now);
    app->config_now = NULL;
    uv_mutex_destroy(&app->config_lock);
}

/* The load and the reference count's increment happen under the lock that
 * the swap (reload.c) holds while it replaces the pointer: the swap drops
 * the old snapshot's reference only after unlocking, so a reader that
 * loaded the old pointer has already counted itself and the snapshot
 * cannot be freed under it. */
ccp_config *ccp_app_config(ccp_app *app)
{
    uv_mutex_lock(&app->config_lock);
    ccp_config *c = ccp_config_ref(app->config_now);
    uv_mutex_unlock(&app->config_lock);
    return c;
}

/* Brings w->config up to the snapshot in force. The common case (no
 * reload since this worker's last request) is one atomic load; the lock is
 * taken once per worker per reload. The worker's old reference is dropped
 * here, on its own thread, so nothing of this request can still be using
 * it bare; a request that outlives its handler took its own reference. */
static void worker_sync_config(ccp_worker *w)
{
    unsigned gen = atomic_load_explicit(&w->app->config_gen, memory_order_acquire);
    if (gen == w->config_gen) return;
    ccp_config *old = w->config;
    uv_mutex_lock(&w->app->config_lock);
    w->config = ccp_config_ref(w->app->config_now);
    w->config_gen = atomic_load(&w->app->config_gen);
    uv_mutex_unlock(&w->app->config_lock);
    ccp_upstream_set_config(w->upstream, &w->config->upstream);
    if (old) ccp_config_unref(old);
}

static ccp_config *config_of(void *app)
{
    return ccp_app_config(app);
}

static void *worker_start(void *appv, uv_loop_t *loop)
{
    ccp_app *app = appv;
    ccp_worker *w = ccp_xcalloc(1, sizeof *w);
    w->app = app;
    w->loop = loop;
    uv_mutex_lock(&app->config_lock);
    w->config = ccp_config_ref(app->config_now);
    w->config_gen = atomic_load(&app->config_gen);
    uv_mutex_unlock(&app->config_lock);
    w->upstream = ccp_upstream_new(loop, &w->config->upstream);
    if (app->admit) w->admit = ccp_admit_queue_new(app->admit, loop);
    if (w->config->upstream.preconnect)
        for (size_t i = 0; i < w->config->n_providers; i++)
            ccp_upstream_preconnect(w->upstream, &w->config->providers[i]);
    w->metrics = ccp_metrics_shard_new(app->metrics);
    /* teams: shared limits in Redis, one connection per worker loop. */
    if (app->guard && w->config->state.redis)
        w->redis = ccp_redis_new(loop, w->config->state.redis);
    /* The first worker's loop also runs the idle plugin hosts' health
     * check (plugin/health.c): one timer per process is enough. */
    if (atomic_fetch_add(&app->workers, 1) == 0)
        w->plugin_health = ccp_plugin_health_start(loop, config_of, app);
    return w;
}

/* Each finished response, on its worker: counted in the worker's shard. */
static void request_done(void *wv, const ccp_access_rec *rec)
{
    ccp_worker *w = wv;
    ccp_metrics_request_end(w->metrics, rec);
    ccp_events_publish(w->app->events, rec); /* /admin/events, /ui */
    ccp_sessions_record(w->app->sessions, rec);
}

static void worker_free(ccp_worker *w)
{
    atomic_fetch_sub(&w->app->workers, 1);
    ccp_redis_free(w->redis);
    ccp_plugin_health_stop(w->plugin_health);
    ccp_upstream_free(w->upstream);
    ccp_admit_queue_free(w->admit);
    ccp_config_unref(w->config);
    free(w);
}

/* The server stops the worker once its last connection is gone; a request
 * whose preparation still runs in the thread pool has lost its connection
 * but its completion (prep_done) still runs on this loop and uses w, so w
 * lives until then. The pending uv_work_t keeps the loop running. */
static void worker_stop(void *appv, void *wv)
{
    (void)appv;
    ccp_worker *w = wv;
    if (!w) return;
    if (w->prep_jobs > 0) {
        w->stop_pending = true;
        return;
    }
    worker_free(w);
}

void ccp_app_worker_job_done(ccp_worker *w)
{
    w->prep_jobs--;
    if (w->stop_pending && w->prep_jobs == 0) worker_free(w);
}

void ccp_app_server_hooks(ccp_app *app, ccp_server_opts *opts)
{
    opts->handler = ccp_app_handle;
    opts->app = app;
    opts->worker_start = worker_start;
    opts->worker_stop = worker_stop;
    opts->request_done = request_done;
    opts->error_body = ccp_anthropic_error_json;
}

typedef void (*endpoint_fn)(ccp_worker *w, const ccp_request *req, ccp_response *res);

/* One row per path; a path with more than one method has one row each.
 * An admin row is the operator's, not a client's: with server.admin_listen
 * set it is served on that listener only (and the admin listener serves
 * nothing else); without, on the main one. Add an admin endpoint here with
 * admin = true. */
static const struct {
    const char *method;
    const char *path;
    endpoint_fn fn;
    bool admin;
} endpoints[] = {
    {"POST", "/v1/messages", ccp_app_messages, false},
    {"POST", "/v1/messages/count_tokens", ccp_app_count_tokens, false},
    {"GET", "/v1/models", ccp_app_models, false},
    {"GET", "/health", ccp_app_health, false},
    {"GET", "/ready", ccp_app_ready, false},
    {"GET", "/status", ccp_app_status, false},
    {"GET", "/", ccp_app_root, false},
    /* Claude Code probes connectivity with HEAD / before its first request. */
    {"HEAD", "/", ccp_app_root, false},
    {"HEAD", "/health", ccp_app_health, false},
    {"GET", "/metrics", ccp_app_metrics, true},
    /* Debugging (src/debug/admin.h): the live feed, the dashboard. */
    {"GET", "/admin/events", ccp_debug_events, true},
    {"GET", "/admin/requests", ccp_debug_requests, true},
    {"GET", "/admin/stats", ccp_debug_stats, true},
    {"GET", "/admin/capture", ccp_debug_capture, true},
    /* GET /status for the dashboard, which is served by the admin listener. */
    {"GET", "/admin/status", ccp_app_status, true},
    {"GET", "/ui", ccp_debug_ui, true},
    {"POST", "/admin/reload", ccp_app_admin_reload, true},
    {"GET", "/admin/plugins", ccp_app_admin_plugins, true}, /* `ccproxy plugins` */
    /* `ccproxy keys --url`: proxy keys of a running proxy (admin_keys.c);
     * /admin/keys/ID and /admin/keys/ID/revoke|rotate. */
    {"GET", "/admin/keys", ccp_app_admin_keys_list, true},
    {"POST", "/admin/keys", ccp_app_admin_keys_create, true},
    {"GET", "/admin/keys/", ccp_app_admin_keys_item, true},
    {"POST", "/admin/keys/", ccp_app_admin_keys_item, true},
    /* A path ending in '/' is a prefix: /sessions/ID. A session's own
     * figures, for `ccproxy statusline` beside the client. */
    {"GET", "/sessions/", ccp_app_session, false},
};

/* Whether row i's path is req_path (or, for a row ending in '/', a prefix
 * of it with something after). */
static bool path_is(size_t i, const char *req_path)
{
    const char *p = endpoints[i].path;
    size_t n = strlen(p);
    if (n > 1 && p[n - 1] == '/') return !strncmp(req_path, p, n) && req_path[n] != '\0';
    return !strcmp(req_path, p);
}

/* Whether row i is served on the listener req came through. */
static bool served_here(const ccp_app *app, const ccp_request *req, size_t i)
{
    if (endpoints[i].fn == ccp_app_metrics && !app->metrics) return false;
    if (!app->admin_host) return true;
    return endpoints[i].admin == req->admin;
}

/* With auth.admin_key set, an admin row answers only a request that holds
 * it; returns false once it has answered 401. /ui is the exception: a
 * browser cannot send a header when it opens the page, and the page is a
 * static shell whose data comes from the admin rows, which do ask (the page
 * asks the operator for the key when they answer 401). */
static bool admin_key_guard(const ccp_worker *w, const ccp_request *req, size_t i,
                            ccp_response *res)
{
    const char *key = w->config->auth.admin_key;
    if (!endpoints[i].admin || !key || endpoints[i].fn == ccp_debug_ui) return true;
    if (ccp_admin_key_ok(key, ccp_request_header(req, "authorization"),
                         ccp_request_header(req, "x-api-key")))
        return true;
    ccp_res_header(res, "www-authenticate", "Bearer realm=\"ccproxy admin\"");
    ccp_res_send_error(res, 401, "authentication_error",
                       "this admin endpoint needs the admin key (auth.admin_key): send "
                       "Authorization: Bearer <key> or x-api-key: <key>");
    return false;
}

/* Refuses what a web page could send (see guard/browser.h); returns false
 * once it has answered. */
static bool browser_guard(const ccp_app *app, const ccp_request *req, ccp_response *res)
{
    ccp_worker *w = ccp_res_worker_data(res);
    const ccp_server_config *sc = &w->config->server;
    ccp_browser_policy p = {
        .bind_host = req->admin  ? app->admin_host
                     : app->host ? app->host
                                 : sc->host,
        .port = ccp_res_listen_port(res),
        .allowed_hosts = &sc->allowed_hosts,
        .allowed_origins = &sc->allowed_origins,
    };
    char msg[512];
    if (!ccp_browser_check_host(&p, ccp_request_header(req, "host"), msg, sizeof msg) ||
        !ccp_browser_check_origin(&p, ccp_request_header(req, "origin"),
                                  ccp_request_header(req, "sec-fetch-site"), msg, sizeof msg)) {
        ccp_res_send_error(res, 403, "permission_error", msg);
        return false;
    }
    return true;
}

void ccp_app_handle(void *appv, const ccp_request *req, ccp_response *res)
{
    ccp_worker *w = ccp_res_worker_data(res);
    const ccp_app *app = appv;
    worker_sync_config(w);
    ccp_metrics_request_begin(w->metrics, ccp_res_access(res));
    if (!browser_guard(appv, req, res)) return;
    bool path_known = false;
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        if (!path_is(i, req->path) || !served_here(app, req, i)) continue;
        path_known = true;
        if (strcmp(req->method, endpoints[i].method) == 0) {
            /* The admin key first: a caller without it learns nothing
             * more about the endpoint than that it needs the key. */
            if (!admin_key_guard(w, req, i, res)) return;
            /* A page may POST text/plain or a form without asking first
             * (no CORS preflight); JSON it cannot. */
            if (!strcmp(req->method, "POST") &&
                !ccp_browser_is_json(ccp_request_header(req, "content-type"))) {
                ccp_res_send_error(res, 415, "invalid_request_error",
                                   "the request body must be sent with Content-Type: "
                                   "application/json");
                return;
            }
            endpoints[i].fn(w, req, res);
            return;
        }
    }
    if (path_known) {
        ccp_buf allow = CCP_BUF_INIT;
        for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
            if (!path_is(i, req->path) || !served_here(app, req, i)) continue;
            if (allow.len) ccp_buf_appends(&allow, ", ");
            ccp_buf_appends(&allow, endpoints[i].method);
        }
        ccp_res_header(res, "allow", allow.data);
        char msg[256];
        snprintf(msg, sizeof msg, "method %s is not allowed on %s (allowed: %s)", req->method,
                 req->path, allow.data);
        ccp_buf_free(&allow);
        ccp_res_send_error(res, 405, "invalid_request_error", msg);
        return;
    }
    /* What a client may call, from the table: HEAD rows and the root
     * (a probe) are not worth naming. */
    ccp_buf msg = CCP_BUF_INIT;
    ccp_buf_printf(&msg, "no endpoint %s %.300s: %s serves ", req->method, req->path,
                   req->admin ? "the cc-proxy admin listener" : "cc-proxy");
    bool first = true;
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        if (!strcmp(endpoints[i].method, "HEAD") || !strcmp(endpoints[i].path, "/") ||
            !served_here(app, req, i))
            continue;
        ccp_buf_printf(&msg, "%s%s %s", first ? "" : ", ", endpoints[i].method, endpoints[i].path);
        first = false;
    }
    ccp_res_send_error(res, 404, "not_found_error", msg.data);
    ccp_buf_free(&msg);
}

json_object *ccp_app_parse_body(const ccp_request *req, ccp_response *res)
{
    ccp_error err = {0};
    ccp_worker *w = ccp_res_worker_data(res);
    size_t max = (size_t)w->config->server.max_json_elements;
    json_object *body = ccp_json_parse_max(req->body, req->body_len, max, &err);
    if (!body && err.code == CCP_ELIMIT) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the request body holds more than %zu JSON values (server.max_json_elements)",
                 max);
        ccp_res_send_error(res, 400, "invalid_request_error", msg);
        return NULL;
    }
    if (!body) {
        ccp_res_send_error(res, 400, "invalid_request_error",
                           err.code ? err.msg : "the request body must be a JSON object, not null");
        return NULL;
    }
    if (!json_object_is_type(body, json_type_object)) {
        json_object_put(body);
        ccp_res_send_error(res, 400, "invalid_request_error",
                           "the request body must be a JSON object");
        return NULL;
    }
    return body;
}
