/* app.c — the endpoint table and per-worker state of the cc-proxy app. */
#include "http/app.h"

#include "codec/anthropic_writer.h"
#include "core/alloc.h"
#include "core/json.h"
#include "guard/browser.h"
#include "teams/redis_store.h"

#include <stdio.h>
#include <string.h>

static void *worker_start(void *appv, uv_loop_t *loop)
{
    ccp_app *app = appv;
    ccp_worker *w = ccp_xcalloc(1, sizeof *w);
    w->app = app;
    w->loop = loop;
    w->upstream = ccp_upstream_new(loop, &app->config->upstream);
    if (app->admit) w->admit = ccp_admit_queue_new(app->admit, loop);
    if (app->config->upstream.preconnect)
        for (size_t i = 0; i < app->config->n_providers; i++)
            ccp_upstream_preconnect(w->upstream, app->config->providers[i].base_url);
    w->metrics = ccp_metrics_shard_new(app->metrics);
    /* teams: shared limits in Redis, one connection per worker loop. */
    if (app->guard && app->config->state.redis)
        w->redis = ccp_redis_new(loop, app->config->state.redis);
    atomic_fetch_add(&app->workers, 1);
    return w;
}

/* Each finished response, on its worker: counted in the worker's shard. */
static void request_done(void *wv, const ccp_access_rec *rec)
{
    ccp_worker *w = wv;
    ccp_metrics_request_end(w->metrics, rec);
}

static void worker_stop(void *appv, void *wv)
{
    ccp_worker *w = wv;
    if (!w) return;
    atomic_fetch_sub(&w->app->workers, 1);
    ccp_redis_free(w->redis);
    ccp_upstream_free(w->upstream);
    ccp_admit_queue_free(w->admit);
    free(w);
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
};

/* Whether row i is served on the listener req came through. */
static bool served_here(const ccp_app *app, const ccp_request *req, size_t i)
{
    if (endpoints[i].fn == ccp_app_metrics && !app->metrics) return false;
    if (!app->admin_host) return true;
    return endpoints[i].admin == req->admin;
}

/* Refuses what a web page could send (see guard/browser.h); returns false
 * once it has answered. */
static bool browser_guard(const ccp_app *app, const ccp_request *req, ccp_response *res)
{
    const ccp_server_config *sc = &app->config->server;
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
    ccp_metrics_request_begin(w->metrics, ccp_res_access(res));
    if (!browser_guard(appv, req, res)) return;
    bool path_known = false;
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        if (strcmp(req->path, endpoints[i].path) != 0 || !served_here(app, req, i)) continue;
        path_known = true;
        if (strcmp(req->method, endpoints[i].method) == 0) {
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
            if (strcmp(req->path, endpoints[i].path) != 0 || !served_here(app, req, i)) continue;
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
    size_t max = (size_t)w->app->config->server.max_json_elements;
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
