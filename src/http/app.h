/* app.h — the cc-proxy application behind the HTTP server: the endpoint
 * table, per-worker state, and the handlers' shared helpers.
 *
 * The server (server.h) knows nothing of providers; it hands whole requests
 * to ccp_app_handle. The app holds the config snapshot and, per worker loop,
 * an upstream client. */
#ifndef CCP_HTTP_APP_H
#define CCP_HTTP_APP_H

#include "config/config.h"
#include "exchange/admit.h"
#include "exchange/health.h"
#include "http/server.h"
#include "obs/metrics.h"
#include "obs/otlp.h"
#include "obs/pstatus.h"
#include "teams/guard.h"
#include "obs/sessions.h"
#include "upstream/upstream.h"

#include <json-c/json.h>
#include <stdatomic.h>

typedef struct ccp_app {
    /* The snapshot in force; the app holds one reference. Swapped by a
     * reload (reload.c), so never read it bare: a worker reads w->config
     * (its own reference, refreshed at each request), any other thread
     * takes a reference with ccp_app_config. Guarded by config_lock. */
    ccp_config *config_now;
    uv_mutex_t config_lock;
    _Atomic unsigned config_gen; /* bumped by each swap; workers compare it */
    struct ccp_reload *reload;   /* reload state (reload.c); NULL until ccp_app_init */
    const char *host;            /* the address bound (server.host or --host), not owned */
    ccp_admit *admit;       /* per-provider concurrency counts, all workers; owned by the caller */
    ccp_metrics *metrics;   /* NULL when server.metrics is off; owned by the caller */
    const char *admin_host; /* the admin listener's address; NULL: none (not owned) */
    ccp_health *health;     /* providers' breakers and key pools, shared by the workers and
                               kept across config snapshots; owned by whoever made the app */
    /* Observability, shared by the workers; owned by whoever runs the
     * server (cmd_serve.c). Either may be NULL: no tracing, no status. */
    ccp_otlp *otlp;
    ccp_pstatus *pstatus;   /* per-provider results for /ready and /status */
    ccp_sessions *sessions; /* latest request per Claude Code session; NULL: off */
    uint64_t started_ms;    /* Unix epoch, for GET /status's uptime */
    ccp_guard *guard;       /* proxy keys and limits (auth.mode keys); NULL: none; owned by
                               whoever runs the server */
    /* HTTPS (server.tls), NULL for plain HTTP; owned by cmd_serve.c. A
     * reload renews its certificate with ccp_server_tls_reload. */
    struct ccp_tls_server *tls;
    /* Per-client-address limits (http/client_limit.h), NULL when neither
     * is set; owned by cmd_serve.c. /metrics reports its totals. */
    struct ccp_client_table *clients;
    _Atomic int workers;    /* worker loops running */
    _Atomic long in_flight; /* /v1/messages requests not yet finished */

    /* Debugging (src/debug/): the exchange capture (debug.capture); NULL:
     * off. Owned by whoever runs the server. */
    struct ccp_capture *capture;
    /* The live feed of finished requests (debug/events.h); NULL: off.
     * Owned by whoever runs the server. */
    struct ccp_events *events;
} ccp_app;

/* Per worker thread: created on the worker's loop by ccp_app_worker_start. */
typedef struct ccp_worker {
    ccp_app *app;
    /* This worker's reference to the config in force when its current
     * request began (ccp_app_worker_config): valid on this thread until
     * its next request starts. A request that outlives that takes its own
     * reference (messages.c). */
    ccp_config *config;
    unsigned config_gen;
    uv_loop_t *loop;
    ccp_upstream *upstream;
    ccp_admit_queue *admit;     /* this worker's attempts waiting for a provider slot */
    ccp_metrics_shard *metrics; /* this worker's counters; NULL when metrics are off */
    struct ccp_redis *redis;    /* state.redis's connection (teams/redis_store.h); NULL: none */
    struct ccp_plugin_health *plugin_health; /* the first worker's; NULL on the others */
    /* Requests being prepared or routed in libuv's thread pool (messages.c):
     * their completion runs on this loop and uses the worker, so a stop
     * that comes while any is queued is deferred (stop_pending) until the
     * last one is done (ccp_app_worker_job_done). */
    unsigned prep_jobs;
    bool stop_pending;
} ccp_worker;

/* Sets app's config (takes over the caller's reference to cfg) and its
 * reload state: path is the file it came from, NULL for the embedded
 * default; fixed_log_level/format say the command line overrode them, so
 * a reload leaves them alone. Pair with ccp_app_fini once no worker runs. */
void ccp_app_init(ccp_app *app, ccp_config *cfg, const char *path, bool fixed_log_level,
                  bool fixed_log_format);
void ccp_app_fini(ccp_app *app);

/* A new reference to the config in force, from any thread (release with
 * ccp_config_unref). */
ccp_config *ccp_app_config(ccp_app *app);

/* Reloads the config from its file (reload.c): a config with errors is
 * refused and the one in force keeps serving; otherwise the new snapshot
 * replaces it for the requests that start from now on, while those in
 * flight finish on theirs. Settings that need a restart are logged and
 * listed. Serialized: concurrent calls run one after the other. why says
 * who asked ("SIGHUP", "POST /admin/reload", "file changed"). When out is
 * non-NULL it gets the outcome as JSON (GET /admin/reload's body). Returns
 * 0 when the new config is in force, CCP_ECONFIG when it was refused. */
int ccp_app_reload(ccp_app *app, const char *why, ccp_buf *out);

/* Fills the server options' handler and worker hooks for app. */
void ccp_app_server_hooks(ccp_app *app, ccp_server_opts *opts);

/* The server's handler: dispatches by path and method. */
void ccp_app_handle(void *app, const ccp_request *req, ccp_response *res);

/* The /metrics families kept by the reliability and tracing modules (a
 * ccp_metrics_set_extra callback; appv is the ccp_app). */
void ccp_app_metrics_extra(ccp_buf *out, bool om, void *appv);

/* The endpoint handlers (endpoints.c, messages.c). */
/* A thread-pool job of w's (prep_jobs) completed; frees w when its stop
 * was waiting for it. Call last: w may be gone after. */
void ccp_app_worker_job_done(ccp_worker *w);

void ccp_app_messages(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_count_tokens(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_models(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_health(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_ready(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_root(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_status(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_metrics(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_admin_reload(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_admin_plugins(ccp_worker *w, const ccp_request *req, ccp_response *res);
/* /admin/keys (admin_keys.c): `ccproxy keys` for a running proxy. */
void ccp_app_admin_keys_list(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_admin_keys_create(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_admin_keys_item(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_app_session(ccp_worker *w, const ccp_request *req, ccp_response *res);

/* The warnings about the running configuration that stay true while it
 * runs (e.g. an open relay): fills out with up to cap static strings and
 * returns how many. Logged at start and listed by GET /status. */
size_t ccp_app_warnings(const ccp_app *app, const char **out, size_t cap);

/* Parses the request body as a JSON object; on failure sends the 400 and
 * returns NULL. The caller owns the result (json_object_put). */
json_object *ccp_app_parse_body(const ccp_request *req, ccp_response *res);

#endif
