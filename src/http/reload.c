/* reload.c — hot reload: a new config snapshot replaces the one in force.
 *
 * ccp_app_reload loads the file again. A config with errors is refused
 * (each problem logged as file:line:col) and the one in force keeps
 * serving. Otherwise the reload hooks (the table below) may still refuse
 * it, the settings that only take effect at start are compared and logged
 * as "needs restart", and the new snapshot is swapped in under
 * app->config_lock: requests that start from then on use it, requests in
 * flight finish on the snapshot they hold a reference to, and the old one
 * is freed when the last of them ends (ccp_config_unref).
 *
 * Why a mutex and not a bare atomic pointer: a reader must load the
 * pointer and count its reference as one step, or a swap could drop the
 * last reference between the two and free the snapshot under it. The lock
 * makes that pair atomic against the swap. It is off the hot path: each
 * worker keeps a reference of its own and compares a generation counter
 * (one atomic load) at each request, taking the lock once per reload
 * (app.c, worker_sync_config) — the read side of an RCU, where the
 * worker's next request is its quiescent point.
 *
 * Triggers: SIGHUP (on the server's main loop), POST /admin/reload (on the
 * admin listener, or the main one without it), `ccproxy reload`, and with
 * server.watch_config a change to the file (inotify through uv_fs_event
 * on its directory, so an editor's write-and-rename is seen; debounced).
 * Reloads are serialized by r->lock. */
#include "http/reload.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "guard/secrets.h"
#include "http/app.h"
#include "http/tls_server.h"
#include "teams/gate.h"
#include "teams/guard.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Editors write a file in several steps (truncate, write, rename): the
 * reload waits this long after the last change it saw. */
#define WATCH_DEBOUNCE_MS 300

struct ccp_reload {
    char *path;       /* absolute; NULL: the embedded default */
    char *dir, *base; /* path's directory (watched) and file name */
    bool fixed_log_level, fixed_log_format;
    uv_mutex_t lock; /* one reload at a time */
    _Atomic unsigned count;
    /* The file watch, on the main loop (NULL loop: not watching). */
    uv_loop_t *loop;
    uv_fs_event_t watch;
    uv_timer_t debounce;
    ccp_app *app;
};

/* ---- the hooks: what else follows a reload ------------------------------
 *
 * Each row may refuse the new config (check: return non-zero with a reason
 * in why; the reload is then refused like a config with errors) and may
 * act once it is in force (apply, after the swap; prev is still alive).
 * Both run under r->lock, on whichever thread asked for the reload
 * (the main loop, or the admin worker), so they must not touch another
 * loop's handles: a part that lives on a worker loop should read the new
 * snapshot at its next request (as w->config does) or post to its loop.
 * Add a row here for a part built from the config at start (plugins,
 * inbound TLS certificates, proxy keys). */
typedef struct reload_hook {
    const char *name;
    int (*check)(ccp_app *app, const ccp_config *cur, const ccp_config *next, ccp_buf *why);
    void (*apply)(ccp_app *app, const ccp_config *prev, const ccp_config *next);
} reload_hook;

/* The log level and format follow the file unless the command line set
 * them. */
static void apply_log(ccp_app *app, const ccp_config *prev, const ccp_config *next)
{
    (void)prev;
    if (!app->reload->fixed_log_level) ccp_log_set_level((ccp_log_level)next->server.log_level);
    if (!app->reload->fixed_log_format) ccp_log_set_format((ccp_log_format)next->server.log_format);
}

/* HTTPS: a renewed certificate and key (same paths or new ones) serve new
 * connections; open ones keep theirs. Loaded in the check, so a pair that
 * does not load refuses the reload and the old certificate keeps serving.
 * Turning TLS on or off needs a restart (needs_restart says so). */
static int check_tls(ccp_app *app, const ccp_config *cur, const ccp_config *next, ccp_buf *why)
{
    (void)cur;
    if (!app->tls || !next->server.tls.cert_file) return 0;
    ccp_error err = {0};
    if (ccp_server_tls_reload(app->tls, &next->server.tls, &err) != 0) {
        ccp_buf_printf(why, "server.tls: %s", err.msg);
        return -1;
    }
    return 0;
}

/* insecure_skip_verify warns on every config that sets it, reloads too. */
static void apply_secrets(ccp_app *app, const ccp_config *prev, const ccp_config *next)
{
    (void)app;
    (void)prev;
    ccp_secrets_warn_insecure(next);
}

/* Proxy keys: the guard (state file, its thread, the key table) is made at
 * start, so a reload cannot turn keys on. A config that asks for them, or
 * that would not start on this address (auth.mode none on a non-loopback
 * host without allow_unauthenticated), is refused, loudly: the proxy must
 * never be less protected than its file says while the admin believes the
 * file is in force. Turning keys off waits for a restart (needs_restart),
 * which errs the safe way. Tenants, pricing, limits and
 * state.redis_failure are read from the snapshot at each request. */
static int check_teams(ccp_app *app, const ccp_config *cur, const ccp_config *next, ccp_buf *why)
{
    (void)cur;
    if (next->auth.mode == CCP_AUTH_MODE_KEYS && !app->guard) {
        ccp_buf_appends(why, "auth.mode: keys needs a restart to take effect (the proxy keys "
                             "and the state file are opened at start): run `ccproxy restart`");
        return -1;
    }
    ccp_error err = {0};
    if (app->host && ccp_teams_check_exposure(next, app->host, &err) != 0) {
        ccp_buf_appends(why, err.msg);
        return -1;
    }
    return 0;
}

/* The state thread's timing follows; the reload itself is audited. */
static void apply_teams(ccp_app *app, const ccp_config *prev, const ccp_config *next)
{
    (void)prev;
    if (!app->guard) return;
    ccp_guard_set_timing(app->guard, next);
    ccp_guard_audit_config(app->guard, next, "reload");
}

static const reload_hook hooks[] = {
    {"log", NULL, apply_log},
    {"secrets", NULL, apply_secrets},
    {"tls", check_tls, NULL},
    {"teams", check_teams, apply_teams},
};

/* ---- settings read once at start ---------------------------------------- */

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void note(ccp_buf *list, const char *what)
{
    if (list->len) ccp_buf_appends(list, ", ");
    ccp_buf_appends(list, what);
}

/* Appends to list the settings that differ between cur and next but only
 * take effect at start: the listeners and workers (the server copied them
 * into its options), the exporter, and the per-provider tables built from
 * the first config (a provider added later is served, but its concurrency
 * limit, its /status entry and its metrics labels wait for a restart). */
static void needs_restart(const ccp_config *cur, const ccp_config *next, ccp_buf *list)
{
    const ccp_server_config *a = &cur->server, *b = &next->server;
#define CMP(f)                                                                                     \
    if (a->f != b->f) note(list, "server." #f)
    if (!same_str(a->host, b->host)) note(list, "server.host");
    CMP(port);
    CMP(workers);
    if (!same_str(a->admin_listen, b->admin_listen)) note(list, "server.admin_listen");
    CMP(metrics);
    CMP(max_body_bytes);
    CMP(max_header_bytes);
    CMP(header_timeout_ms);
    CMP(idle_timeout_ms);
    CMP(body_timeout_ms);
    CMP(drain_timeout_ms);
    CMP(write_timeout_ms);
    CMP(max_connections);
    CMP(max_headers);
    CMP(max_connections_per_client);
    CMP(client_rate);
    CMP(client_rate_ms);
    if (!cur->server.tls.cert_file != !next->server.tls.cert_file ||
        cur->server.tls.admin != next->server.tls.admin)
        note(list, "server.tls (turning HTTPS on or off)");
    CMP(watch_config);
    CMP(session_table);
#undef CMP
    /* teams: the guard keeps the file and the Redis it opened at start;
     * keys off waits too (check_teams refuses keys on). */
    if (cur->auth.mode != next->auth.mode) note(list, "auth.mode");
    if (!same_str(cur->state.path, next->state.path)) note(list, "state.path");
    if (!same_str(cur->state.redis, next->state.redis)) note(list, "state.redis");
    /* The capture's writer thread and its files are made at start. */
    const ccp_capture_config *ca = &cur->debug.capture, *cb = &next->debug.capture;
    if (!same_str(ca->dir, cb->dir) || ca->sample != cb->sample || ca->max_bytes != cb->max_bytes ||
        ca->max_files != cb->max_files)
        note(list, "debug.capture");
    const ccp_telemetry_config *ta = &cur->telemetry, *tb = &next->telemetry;
    bool tel_same = same_str(ta->otlp_endpoint, tb->otlp_endpoint) &&
                    same_str(ta->service_name, tb->service_name) &&
                    ta->sample_ratio == tb->sample_ratio && ta->n_headers == tb->n_headers &&
                    ta->max_queue_spans == tb->max_queue_spans;
    for (size_t i = 0; tel_same && i < ta->n_headers; i++)
        tel_same = same_str(ta->headers[i].name, tb->headers[i].name) &&
                   same_str(ta->headers[i].value, tb->headers[i].value);
    if (!tel_same) note(list, "telemetry");
    for (size_t i = 0; i < next->n_providers; i++) {
        const ccp_provider *p = &next->providers[i];
        if (ccp_config_provider(cur, p->name)) continue;
        ccp_buf what = CCP_BUF_INIT;
        ccp_buf_printf(&what,
                       "providers.%s (new: its max_in_flight, /status entry and metrics "
                       "labels)",
                       p->name);
        note(list, what.data);
        ccp_buf_free(&what);
    }
}

/* ---- the reload --------------------------------------------------------- */

ccp_reload *ccp_reload_new(const char *path, bool fixed_log_level, bool fixed_log_format)
{
    ccp_reload *r = ccp_xcalloc(1, sizeof *r);
    if (path) {
        /* Absolute, so that a reload after a daemon's chdir("/") reads the
         * same file; symbolic links are kept, not resolved, so that a link
         * pointed at a new file (a deployment's config swap) is followed. */
        char cwd[PATH_MAX];
        if (path[0] != '/' && getcwd(cwd, sizeof cwd)) {
            ccp_buf b = CCP_BUF_INIT;
            ccp_buf_printf(&b, "%s/%s", cwd, path[0] == '.' && path[1] == '/' ? path + 2 : path);
            r->path = ccp_buf_detach(&b, NULL);
        } else {
            r->path = ccp_xstrdup(path);
        }
        char *slash = strrchr(r->path, '/');
        r->dir = slash ? ccp_xstrndup(r->path, slash == r->path ? 1 : (size_t)(slash - r->path))
                       : ccp_xstrdup(".");
        r->base = ccp_xstrdup(slash ? slash + 1 : r->path);
    }
    r->fixed_log_level = fixed_log_level;
    r->fixed_log_format = fixed_log_format;
    uv_mutex_init(&r->lock);
    return r;
}

void ccp_reload_free(ccp_reload *r)
{
    if (!r) return;
    uv_mutex_destroy(&r->lock);
    free(r->path);
    free(r->dir);
    free(r->base);
    free(r);
}

unsigned ccp_reload_count(const ccp_reload *r)
{
    return r ? atomic_load(&((ccp_reload *)r)->count) : 0;
}

static void json_str(ccp_buf *out, const char *s)
{
    ccp_buf_append_json_str(out, s, strlen(s));
}

/* Logs and reports a refused reload. */
static void refuse(ccp_reload *r, const char *why, const ccp_diags *d, const char *hook_name,
                   const char *hook_msg, ccp_buf *out)
{
    const char *file = r->path ? r->path : "the embedded default config";
    for (size_t i = 0; d && i < d->n; i++)
        ccp_log_error("%s:%d:%d: %s", d->items[i].file ? d->items[i].file : file, d->items[i].line,
                      d->items[i].col, d->items[i].message);
    if (hook_name) ccp_log_error("%s: %s", hook_name, hook_msg);
    size_t n = d ? d->n : 1;
    ccp_log_error("reload (%s) refused: %zu problem%s in %s; the config in force keeps serving",
                  why, n, n == 1 ? "" : "s", file);
    if (!out) return;
    ccp_buf msg = CCP_BUF_INIT;
    ccp_buf_printf(&msg,
                   "reload refused: %zu problem%s in %s; the config in force keeps serving (fix "
                   "the file and reload again; `ccproxy check` lists the problems)",
                   n, n == 1 ? "" : "s", file);
    ccp_buf_appends(out, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                         "\"message\":");
    json_str(out, msg.data);
    ccp_buf_free(&msg);
    ccp_buf_appends(out, "},\"reloaded\":false,\"errors\":[");
    for (size_t i = 0; d && i < d->n; i++) {
        if (i) ccp_buf_appendc(out, ',');
        ccp_buf_appends(out, "{\"file\":");
        json_str(out, d->items[i].file ? d->items[i].file : "");
        ccp_buf_printf(out, ",\"line\":%d,\"col\":%d,\"message\":", d->items[i].line,
                       d->items[i].col);
        json_str(out, d->items[i].message);
        ccp_buf_appendc(out, '}');
    }
    if (hook_name) {
        ccp_buf_appends(out, "{\"file\":\"\",\"line\":0,\"col\":0,\"message\":");
        ccp_buf msg2 = CCP_BUF_INIT;
        ccp_buf_printf(&msg2, "%s: %s", hook_name, hook_msg);
        json_str(out, msg2.data);
        ccp_buf_free(&msg2);
        ccp_buf_appendc(out, '}');
    }
    ccp_buf_appends(out, "]}");
}

int ccp_app_reload(ccp_app *app, const char *why, ccp_buf *out)
{
    ccp_reload *r = app->reload;
    uv_mutex_lock(&r->lock);
    ccp_diags d = {0};
    ccp_config *next = NULL;
    int rc =
        r->path ? ccp_config_load_file(r->path, &next, &d) : ccp_config_load_default(&next, &d);
    if (rc != 0) {
        refuse(r, why, &d, NULL, NULL, out);
        ccp_diags_free(&d);
        uv_mutex_unlock(&r->lock);
        return CCP_ECONFIG;
    }
    ccp_diags_free(&d);
    ccp_config *cur = ccp_app_config(app);
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
        ccp_buf msg = CCP_BUF_INIT;
        if (hooks[i].check && hooks[i].check(app, cur, next, &msg) != 0) {
            refuse(r, why, NULL, hooks[i].name, msg.len ? msg.data : "refused", out);
            ccp_buf_free(&msg);
            ccp_config_unref(next);
            ccp_config_unref(cur);
            uv_mutex_unlock(&r->lock);
            return CCP_ECONFIG;
        }
        ccp_buf_free(&msg);
    }
    ccp_buf restart = CCP_BUF_INIT;
    needs_restart(cur, next, &restart);
    bool unchanged = !strcmp(cur->source_hash, next->source_hash);

    uv_mutex_lock(&app->config_lock);
    ccp_config *old = app->config_now;
    app->config_now = next;
    atomic_fetch_add_explicit(&app->config_gen, 1, memory_order_release);
    uv_mutex_unlock(&app->config_lock);

    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++)
        if (hooks[i].apply) hooks[i].apply(app, cur, next);
    unsigned count = atomic_fetch_add(&r->count, 1) + 1;
    ccp_log_info("config reloaded (%s) from %s (%s%s)", why, next->source, next->source_hash,
                 unchanged ? ", unchanged" : "");
    if (restart.len)
        ccp_log_warn("config reload: needs restart to apply: %s (the rest is in force)",
                     restart.data);
    if (out) {
        ccp_buf_appends(out, "{\"reloaded\":true,\"config\":{\"source\":");
        json_str(out, next->source);
        ccp_buf_appends(out, ",\"hash\":");
        json_str(out, next->source_hash);
        ccp_buf_printf(out, "},\"unchanged\":%s,\"reloads\":%u,\"needs_restart\":",
                       unchanged ? "true" : "false", count);
        if (restart.len)
            json_str(out, restart.data);
        else
            ccp_buf_appends(out, "null");
        ccp_buf_appendc(out, '}');
    }
    ccp_buf_free(&restart);
    /* The swap's own reference to the old snapshot, and ours to it. */
    ccp_config_unref(old);
    ccp_config_unref(cur);
    uv_mutex_unlock(&r->lock);
    return 0;
}

void ccp_app_admin_reload(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)req;
    ccp_buf b = CCP_BUF_INIT;
    int rc = ccp_app_reload(w->app, "POST /admin/reload", &b);
    ccp_res_send(res, rc == 0 ? 200 : 422, "application/json", b.data, b.len);
    ccp_buf_free(&b);
}

/* ---- triggers on the main loop ----------------------------------------- */

void ccp_reload_on_sighup(void *appv)
{
    ccp_app_reload(appv, "SIGHUP", NULL);
}

static void debounce_fired(uv_timer_t *t)
{
    ccp_reload *r = t->data;
    ccp_app_reload(r->app, "file changed", NULL);
}

static void watch_cb(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    ccp_reload *r = h->data;
    if (status < 0) {
        ccp_log_warn("server.watch_config: watching %s failed: %s", r->dir, uv_strerror(status));
        return;
    }
    if (filename && strcmp(filename, r->base) != 0) return;
    uv_timer_start(&r->debounce, debounce_fired, WATCH_DEBOUNCE_MS, 0);
}

void ccp_reload_main_start(void *appv, uv_loop_t *loop)
{
    ccp_app *app = appv;
    ccp_reload *r = app->reload;
    ccp_config *cfg = ccp_app_config(app);
    bool watch = cfg->server.watch_config;
    ccp_config_unref(cfg);
    if (!watch) return;
    if (!r->path) {
        ccp_log_warn("server.watch_config: no config file to watch (the embedded default)");
        return;
    }
    r->app = app;
    uv_fs_event_init(loop, &r->watch);
    r->watch.data = r;
    uv_timer_init(loop, &r->debounce);
    r->debounce.data = r;
    /* The directory, not the file: an editor that writes a new file and
     * renames it over the old leaves a watch on the old inode blind. */
    int rc = uv_fs_event_start(&r->watch, watch_cb, r->dir, 0);
    if (rc != 0)
        ccp_log_warn("server.watch_config: cannot watch %s: %s", r->dir, uv_strerror(rc));
    else
        ccp_log_info("watching %s for changes (server.watch_config)", r->path);
    r->loop = loop;
}

void ccp_reload_main_stop(void *appv)
{
    ccp_reload *r = ((ccp_app *)appv)->reload;
    if (!r->loop) return;
    uv_close((uv_handle_t *)&r->watch, NULL);
    uv_close((uv_handle_t *)&r->debounce, NULL);
    r->loop = NULL;
}
