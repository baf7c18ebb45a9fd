/* plugin.h — user transformers written in Lua 5.4 (docs/plugins.md).
 *
 * A plugin is a .lua file (or a folder with init.lua) that returns its
 * declaration: name, version, summary, options (the shape of a built-in
 * transformer's option table), formats and hooks (request, outbound,
 * event, route). The config loader loads every plugin named by
 * `plugins.load` or found in `plugins.dirs` into a ccp_plugin_set that the
 * config snapshot owns: a reload builds a new set from the files as they
 * are then, and the old one is freed with the old snapshot.
 *
 * A ccp_plugin starts with a ccp_transformer, so a pipeline step names a
 * plugin exactly as it names a built-in, and the pipeline runs its hooks
 * through the same table. Each hook call goes through ccp_plugin_call:
 * the plugin's breaker, then either a sandboxed Lua state of this thread
 * (isolation: inprocess, lua_sandbox.c) or a plugin-host process
 * (isolation: process, host.c), each under the plugin's caps. */
#ifndef CCP_PLUGIN_PLUGIN_H
#define CCP_PLUGIN_PLUGIN_H

#include "core/buf.h"
#include "core/error.h"
#include "core/headers.h"
#include "pipeline/pipeline.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    CCP_ISOLATION_PROCESS = 0, /* the default: plugin-host processes */
    CCP_ISOLATION_INPROCESS,
} ccp_isolation;

/* The caps of one plugin; 0 = the default (see ccp_plugin_limits_default). */
typedef struct ccp_plugin_limits {
    int64_t timeout_ms;   /* per call */
    int64_t memory_mb;    /* Lua heap (inprocess) or address space (process) */
    int64_t cpu_seconds;  /* process mode: RLIMIT_CPU of a host */
    int64_t instructions; /* Lua VM instructions per call; 0: no count (time only) */
} ccp_plugin_limits;

void ccp_plugin_limits_default(ccp_plugin_limits *l);

/* How a call failed: the "cause" named in logs, errors and metrics. */
typedef enum {
    CCP_PLUGIN_OK = 0,
    CCP_PLUGIN_ERROR,      /* a Lua error, or the hook returned an error */
    CCP_PLUGIN_TIMEOUT,    /* timeout_ms or the instruction budget */
    CCP_PLUGIN_MEMORY,     /* memory_mb */
    CCP_PLUGIN_BAD_RETURN, /* a value that is not what the hook must return */
    CCP_PLUGIN_CRASH,      /* the host process died (signal, seccomp, exit) */
    CCP_PLUGIN_OPEN,       /* the plugin's breaker is open */
} ccp_plugin_cause;

const char *ccp_plugin_cause_name(ccp_plugin_cause c);

/* The breaker: after `failures` failures within window_ms the plugin is
 * open for cooldown_ms (calls fail at once with CCP_PLUGIN_OPEN), then one
 * call is let through (half-open): success closes it, failure reopens. */
#define CCP_PLUGIN_BREAKER_FAILURES 5
#define CCP_PLUGIN_BREAKER_WINDOW_MS 60000
#define CCP_PLUGIN_BREAKER_COOLDOWN_MS 30000

typedef struct ccp_plugin_hosts ccp_plugin_hosts; /* host.c */

/* The upper bounds (seconds) of the call latency histogram's buckets. */
#define CCP_PLUGIN_LATENCY_BUCKETS 14
extern const double ccp_plugin_latency_bounds[CCP_PLUGIN_LATENCY_BUCKETS];
typedef struct ccp_plugin_vm ccp_plugin_vm; /* lua_sandbox.c */

typedef struct ccp_plugin {
    ccp_transformer t; /* first: a step's t points here (see ccp_plugin_of) */
    char *name, *version, *summary;
    char *path;   /* the file loaded (init.lua of a folder); owned */
    char *source; /* its text, as loaded: every Lua state runs this */
    size_t source_len;
    ccp_opt_spec *opts; /* terminated by name NULL; names, help, defaults owned */
    bool has_request, has_outbound, has_event, has_route;
    /* `reads`: the request's top-level members the request and route hooks
     * are given (the rest stay in the proxy: a process-isolated plugin that
     * reads `model` no longer has 150 KiB of tools and messages encoded,
     * sent and decoded per call). NULL: the whole request. Owned. */
    char **reads;
    size_t n_reads;
    ccp_isolation isolation;
    ccp_plugin_limits limits;
    bool skip_on_error;    /* the default of steps that do not say on_error */
    json_object *defaults; /* `options` of the plugins.load entry: step defaults; owned */

    /* Breaker (by mu). */
    pthread_mutex_t mu;
    unsigned failures;
    uint64_t window_start_ms, open_until_ms;
    bool half_open_probe; /* a half-open trial call is running */
    /* Failure thresholds (tests lower them). */
    unsigned breaker_failures;
    uint64_t breaker_window_ms, breaker_cooldown_ms;

    /* In-process: idle Lua states (by mu); each thread takes one, so there
     * are at most as many as threads calling at once. */
    ccp_plugin_vm **idle;
    size_t n_idle, cap_idle;

    ccp_plugin_hosts *hosts; /* process mode; created on first call */

    /* Figures for /metrics and GET /admin/plugins. */
    _Atomic uint64_t calls, errors, timeouts, kills, restarts;
    _Atomic uint64_t call_us; /* the time calls took, summed */
    /* Call latency: lat[i] counts calls that took at most
     * ccp_plugin_latency_bounds[i] seconds (not cumulative; the last
     * bucket is +Inf). */
    _Atomic uint64_t lat[CCP_PLUGIN_LATENCY_BUCKETS + 1];
    _Atomic uint64_t pings, unresponsive; /* idle-host health checks, and hosts they replaced */
} ccp_plugin;

/* What the request and route hooks of p are given for req: req itself (a
 * new reference) or, with `reads`, a new object holding references to the
 * members named (in req's order). The caller puts it. */
json_object *ccp_plugin_hook_arg(const ccp_plugin *p, json_object *req);

typedef struct ccp_plugin_set {
    ccp_plugin **v;
    size_t n;
} ccp_plugin_set;

/* The plugin behind a transformer, or NULL for a built-in. */
const ccp_plugin *ccp_plugin_of(const ccp_transformer *t);
const ccp_plugin *ccp_plugin_find(const ccp_plugin_set *set, const char *name);

/* Reads and declares the plugin at path (a .lua file or a folder with
 * init.lua): runs it once in a sandbox under lim and reads the returned
 * declaration. Returns the plugin (caller frees with ccp_plugin_free) or
 * NULL with err saying what is wrong. */
ccp_plugin *ccp_plugin_load(const char *path, ccp_isolation iso, const ccp_plugin_limits *lim,
                            ccp_error *err);
void ccp_plugin_free(ccp_plugin *p);
void ccp_plugin_set_free(ccp_plugin_set *set);

/* What a hook sees as ctx, set by the exchange around the hooks of one
 * attempt on this thread (and by `ccproxy plugin test`). All borrowed. */
typedef struct ccp_plugin_ctx {
    const char *request_id;
    const char *stage;
    const char *provider;
    const char *model;
    const ccp_header_view *headers;
    size_t n_headers;
} ccp_plugin_ctx;

/* Sets this thread's ctx (NULL clears it); returns the previous one. */
const ccp_plugin_ctx *ccp_plugin_ctx_set(const ccp_plugin_ctx *ctx);
/* This thread's ctx, or NULL. */
const ccp_plugin_ctx *ccp_plugin_ctx_get(void);

/* Calls hook ("request", "outbound", "event", "route") of p with arg and
 * the step's options; *result (owned by the caller; may be NULL, the
 * JSON null) is what the hook returned. Returns CCP_PLUGIN_OK, or the
 * cause with err naming the plugin and what happened. Counts the call in
 * the breaker and the figures. */
ccp_plugin_cause ccp_plugin_call(ccp_plugin *p, const char *hook, json_object *arg,
                                 json_object *opts, json_object **result, ccp_error *err);

/* The plugins as `ccproxy transformers` lists them: each with its
 * source path, isolation, hooks and options. */
void ccp_plugin_catalog_write(const ccp_plugin_set *set, ccp_buf *out);

/* True when a step of p calls a plugin host from its request or outbound
 * hook: preparing an attempt through p then waits on another process, so
 * the HTTP layer does it off its event loop. */
bool ccp_plugin_pipeline_blocks(const ccp_pipeline *p);
/* The shape check after request hooks (codec.h, ccp_request_check):
 * true when no step of p but plugins has a request hook. Then the exchange
 * marks the request before the hooks (ccp_plugin_request_mark: a new
 * object holding the top-level members, owned by the caller; NULL for a
 * request that is no object) and, after them, asks
 * ccp_plugin_request_still_checked: true when every top-level member the
 * hooks replaced, added or removed passes the check, so a request that
 * passed it before passes it still and the encoder need not walk it all
 * again. False: check it whole (and give the error that check gives). */
bool ccp_plugin_edits_only(const ccp_pipeline *p);
json_object *ccp_plugin_request_mark(json_object *req);
bool ccp_plugin_request_still_checked(json_object *before, json_object *req);
/* True when routing calls a plugin host (router.script in process mode). */
bool ccp_plugin_route_blocks(const ccp_config *cfg);

/* ---- asynchronous event hooks (events.c) --------------------------------
 * A process-isolated plugin's event hook waits on its host for each call.
 * On a server's loop its links are made asynchronous: emit queues a copy
 * of the event and returns 0 at once; libuv's thread pool calls the hook
 * (one job per link at a time, so the order holds) and the job's
 * completion, on loop, emits what the hook returned to the next link. The
 * owner of the chain then:
 *   - holds its producer back while ccp_plugin_events_held is above
 *     CCP_PLUGIN_EVENTS_HIGH, and lets it go on at CCP_PLUGIN_EVENTS_LOW
 *     or below (checked in settled);
 *   - ends the answer (message_stop's handling, the judge, usage) only
 *     once ccp_plugin_events_held is 0;
 *   - stops the producer when ccp_plugin_events_failed says a link failed
 *     under on_error: fail (its error event went on already), as the
 *     negative return of a synchronous emit would; later events are
 *     dropped (and emit returns that code).
 * Freeing the chain while a job runs is safe: the link is orphaned, its
 * job stops after the current call and the completion frees it (after
 * which neither settled nor anything downstream is called). In-process
 * links, and every link of a chain never made asynchronous (`ccproxy
 * plugin test`, replay), stay synchronous. */
#define CCP_PLUGIN_EVENTS_HIGH 256
#define CCP_PLUGIN_EVENTS_LOW 64
struct uv_loop_s;
typedef struct ccp_plugin_events_async {
    struct uv_loop_s *loop; /* where completions run (the chain's thread) */
    struct ccp_config *cfg; /* the chain's config: each link holds a reference */
    /* After each completion, on loop (not after the link was freed). */
    void (*settled)(void *ud);
    void *ud;
    /* Around each job (the owner keeps the loop's owner alive for the
     * completion); job_end is called last and may free job_ud. */
    void (*job_begin)(void *job_ud);
    void (*job_end)(void *job_ud);
    void *job_ud;
} ccp_plugin_events_async;
/* Makes ch's process-isolated plugin links asynchronous; returns how many. */
size_t ccp_plugin_events_make_async(ccp_event_chain *ch, const ccp_plugin_events_async *a);
/* Events ch's asynchronous links hold (queued, or with a host). */
size_t ccp_plugin_events_held(const ccp_event_chain *ch);
/* The code (and err) of a link of ch that failed under on_error: fail, or 0. */
int ccp_plugin_events_failed(const ccp_event_chain *ch, ccp_error *err);

/* Appends the Prometheus families of every plugin in set. */
void ccp_plugin_metrics(const ccp_plugin_set *set, ccp_buf *out, bool openmetrics);

/* The table `ccproxy plugins` prints and GET /admin/plugins answers
 * (report.c): {"plugins": [{name, version, path, isolation, limits,
 * on_error, hooks, breaker, figures}]}; figures are null when
 * with_figures is false (read from a config, not a running proxy).
 * Owned by the caller. */
json_object *ccp_plugin_report(const ccp_plugin_set *set, bool with_figures);
/* The breaker's state now: "closed", "open" or "half-open". */
const char *ccp_plugin_breaker_state(ccp_plugin *p, uint64_t now_ms);

/* ---- engines (lua_sandbox.c, host.c) ----------------------------------- */

/* One call of a hook in a Lua state under limits; what ccp_plugin_call and
 * the plugin host both run. ctx is a JSON object (request_id, ...,
 * options). */
ccp_plugin_cause ccp_plugin_vm_call(ccp_plugin_vm *vm, const char *hook, json_object *arg,
                                    json_object *ctx, const ccp_plugin_limits *lim,
                                    json_object **result, ccp_buf *msg);
/* A sandboxed state that has run the plugin's source; NULL with msg set. */
ccp_plugin_vm *ccp_plugin_vm_new(const char *chunkname, const char *src, size_t len,
                                 const ccp_plugin_limits *lim, ccp_buf *msg);
void ccp_plugin_vm_free(ccp_plugin_vm *vm);
/* The name its log lines carry (the plugin's; the chunk name until set). */
void ccp_plugin_vm_set_name(ccp_plugin_vm *vm, const char *name);
/* The declaration the plugin returned, as JSON (hooks as true); owned. */
json_object *ccp_plugin_vm_declaration(ccp_plugin_vm *vm);

/* Process mode (host.c). */
ccp_plugin_cause ccp_plugin_host_call(ccp_plugin *p, const char *hook, json_object *arg,
                                      json_object *ctx, json_object **result, ccp_buf *msg);
void ccp_plugin_hosts_free(ccp_plugin_hosts *h);
/* Health: pings each of p's hosts idle for at least idle_ms; one that does
 * not answer within pong_ms is killed and replaced. Blocks up to pong_ms
 * per host checked (run it off an event loop). Returns how many were
 * replaced. */
int ccp_plugin_hosts_ping(ccp_plugin *p, uint64_t idle_ms, uint64_t pong_ms);

/* The timer that runs the health check of every process-isolated plugin of
 * the config in force (health.c): every CCP_PLUGIN_PING_EVERY_MS on loop,
 * in libuv's thread pool, for hosts idle at least that long; no pong within
 * CCP_PLUGIN_PONG_MS and the host is replaced. get returns a new reference
 * to the config in force. Stop on the loop's thread; the memory goes once
 * a check in flight is done. */
#define CCP_PLUGIN_PING_EVERY_MS 5000
#define CCP_PLUGIN_PONG_MS 1000
struct uv_loop_s;
struct ccp_config;
typedef struct ccp_plugin_health ccp_plugin_health;
ccp_plugin_health *ccp_plugin_health_start(struct uv_loop_s *loop,
                                           struct ccp_config *(*get)(void *ud), void *ud);
void ccp_plugin_health_stop(ccp_plugin_health *h);
/* Starts a host for p (its source and caps set) and asks it for the
 * declaration; the host stays in the pool. NULL with msg on failure. */
json_object *ccp_plugin_host_declaration(ccp_plugin *p, ccp_buf *msg);
/* Live hosts and the sum of their resident memory, for /metrics. */
void ccp_plugin_host_figures(ccp_plugin *p, int *hosts, uint64_t *rss);
/* `ccproxy plugin-host`: the host's main loop on fd 3. */
int ccp_plugin_host_main(int argc, char **argv);

uint64_t ccp_plugin_now_ms(void);
/* Replaces each control character (a newline, say) of b, text that came
 * from a plugin, with its \xNN escape: a plugin's log line or error text
 * cannot start a forged line of the proxy's log. */
void ccp_plugin_text_clean(ccp_buf *b);

#endif
