/* config.h — the typed configuration every runtime module reads.
 *
 * Loaded from YAML (config_load.c), validated with file:line:col diagnostics,
 * ${VAR} / ${VAR:-default} interpolated. The running server holds a
 * reference-counted, immutable snapshot, and each request takes its own
 * reference, so that a reload (http/reload.c) builds a new one and swaps it
 * while in-flight requests finish on the one they started with. Runtime code never sees YAML, only
 * these structs. */
#ifndef CCP_CONFIG_CONFIG_H
#define CCP_CONFIG_CONFIG_H

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CCP_FORMAT_ANTHROPIC,
    CCP_FORMAT_OPENAI_CHAT,
    CCP_FORMAT_GEMINI,
    CCP_FORMAT_OPENAI_RESPONSES,
} ccp_format;

typedef enum {
    CCP_AUTH_X_API_KEY, /* x-api-key: KEY (Anthropic's own) */
    CCP_AUTH_BEARER,    /* Authorization: Bearer KEY */
    CCP_AUTH_GOOG,      /* x-goog-api-key: KEY (Gemini's own) */
    CCP_AUTH_NONE,      /* no key sent (local servers) */
    CCP_AUTH_API_KEY,   /* api-key: KEY (Azure OpenAI's) */
} ccp_auth;

/* A named pipeline of transformers (pipeline/pipeline.h has its fields). */
typedef struct ccp_pipeline ccp_pipeline;

typedef struct ccp_model_pipeline {
    char *model;
    const ccp_pipeline *pipeline; /* points into ccp_config.pipelines */
} ccp_model_pipeline;

typedef struct ccp_kv {
    char *name;
    char *value;
} ccp_kv;

/* A list of strings, each owned. */
typedef struct ccp_strlist {
    char **v;
    size_t n;
} ccp_strlist;

void ccp_strlist_free(ccp_strlist *l);

/* How a provider's failed attempts are retried (config_reliability.c has
 * the table with bounds, defaults and help; exchange/retry.h uses it). */
typedef enum { CCP_JITTER_FULL = 0, CCP_JITTER_NONE } ccp_jitter;

typedef struct ccp_retry_config {
    int attempts;         /* tries of one target, the first included; 1 = no retry */
    uint32_t base_ms;     /* the first backoff's ceiling */
    uint32_t max_ms;      /* the largest backoff ceiling */
    uint32_t max_wait_ms; /* the longest provider wait hint ccproxy waits out */
    int jitter;           /* a ccp_jitter */
} ccp_retry_config;

/* A provider's circuit breaker (exchange/breaker.h). */
typedef struct ccp_breaker_config {
    int failures;         /* consecutive failures that open it; 0 = off */
    int failure_percent;  /* failures in window_ms that open it; 0 = off */
    int min_requests;     /* attempts in the window before the percentage counts */
    uint32_t window_ms;   /* the window of the percentage */
    uint32_t cooldown_ms; /* open → half-open */
    int half_open_probes; /* attempts let through at once while half-open */
} ccp_breaker_config;

/* A provider's TLS settings (the `tls` mapping; config_security.c has the
 * table). Verification is always on unless insecure_skip_verify. */
typedef enum { CCP_TLS_1_2 = 0, CCP_TLS_1_3 } ccp_tls_version;

typedef struct ccp_tls_config {
    char *ca_file;     /* PEM bundle that replaces the system CAs; NULL: system */
    int min_version;   /* a ccp_tls_version */
    char *pin_sha256;  /* "sha256//<base64>[;sha256//...]" for CURLOPT_PINNEDPUBLICKEY */
    char *client_cert; /* PEM client certificate (mTLS); NULL: none */
    char *client_key;  /* its PEM private key; NULL: in client_cert's file */
    bool insecure_skip_verify;
} ccp_tls_config;

typedef struct ccp_provider {
    char *name;
    ccp_format format;
    char *base_url; /* without trailing '/' */
    /* keys.v[0] (borrowed: the pool owns it); NULL when none. A secret:
     * never log it. */
    char *api_key;
    /* Every key, api_key first then api_keys; the one copy of each key in
     * the config, wiped when the snapshot is freed. Secrets: never log them
     * (name a key by its index). */
    ccp_strlist keys;
    ccp_retry_config retry;
    ccp_breaker_config breaker;
    ccp_auth auth;
    ccp_kv *headers; /* extra headers sent upstream, values interpolated */
    size_t n_headers;
    char **models; /* the models this provider serves, as named in config */
    size_t n_models;
    /* The format's own options (the codec's table, codec.h), in the codec's
     * struct; owned; NULL for a format without options. */
    void *codec_opts;
    /* the provider's default pipeline, and pipelines for some of its models */
    const ccp_pipeline *pipeline;
    ccp_model_pipeline *model_pipelines;
    size_t n_model_pipelines;
    /* The SSRF guard (config_security.c): local marks a provider on the
     * inside of the network; allow_internal (local, or a base_url naming an
     * IP literal or localhost) lets its connections reach loopback, private
     * and link-local addresses. */
    bool local;
    bool allow_internal;
    int base_url_line, base_url_col; /* where base_url is written, for diagnostics */
    ccp_tls_config tls;
    /* concurrency limits (exchange/admit.h); max_in_flight 0 = unlimited */
    int max_in_flight;
    int max_queue;
    uint32_t queue_timeout_ms;
} ccp_provider;

/* A routing target: a provider and the model to ask it for. model == NULL
 * means "keep the client's model" (config: `router.default: provider`). */
typedef struct ccp_target {
    const ccp_provider *provider; /* points into ccp_config.providers */
    const char *model;            /* borrowed from the config */
} ccp_target;

/* Claude Code's kinds of request, each of which may go to its own route. */
typedef enum {
    CCP_STAGE_DEFAULT,
    CCP_STAGE_BACKGROUND,   /* the small-model calls (titles, summaries): model matches a glob */
    CCP_STAGE_THINKING,     /* thinking enabled (or adaptive, when configured) */
    CCP_STAGE_PLANNING,     /* plan mode, from its system reminder */
    CCP_STAGE_LONG_CONTEXT, /* estimated input tokens above a threshold */
    CCP_STAGE_WEB_SEARCH,   /* a web search server tool is offered */
    CCP_STAGE_IMAGE,        /* an image in the latest user turn */
    CCP_STAGE_COUNT
} ccp_stage;

/* An ordered list of targets: the first serves, the rest are fallbacks
 * tried in order when it fails before answering. n == 0: not configured. */
typedef struct ccp_route {
    ccp_target *targets; /* owned array; target models owned by the config */
    size_t n;
} ccp_route;

/* A routing rule: every condition given must hold; the first rule that
 * matches picks the route. */
typedef struct ccp_rule {
    char *name;       /* from config, or "rule N" */
    char *model_glob; /* incoming model name; NULL = any */
    ccp_kv *headers;  /* request header name -> glob; all must match */
    size_t n_headers;
    int64_t tokens_above; /* estimated input tokens; -1 = no bound */
    int64_t tokens_below;
    char **tools; /* tool names that must all be offered */
    size_t n_tools;
    int stage;                    /* a ccp_stage the request must be in; -1 = any */
    ccp_route route;              /* n == 0: the rule only sets a pipeline */
    const ccp_pipeline *pipeline; /* run before the target's own; NULL = none */
    int line, col;                /* where it is written, for explain */
} ccp_rule;

typedef struct ccp_router_config {
    ccp_route stages[CCP_STAGE_COUNT]; /* stages[CCP_STAGE_DEFAULT] is router.default */
    ccp_rule *rules;
    size_t n_rules;
    /* The stage detectors' settings (their table is in config_router.c). */
    char *background_model;    /* glob on the model */
    bool adaptive_is_thinking; /* thinking.type adaptive counts as thinking */
    char *planning_marker;     /* text that marks plan mode */
    char *script;              /* router.script: a plugin with a route hook; NULL: none */
    const struct ccp_plugin *script_plugin; /* it, resolved at load (in cfg->plugins) */
    int64_t long_context_tokens;            /* estimate above which a request is long context */
    bool needs_tokens;                      /* some route or rule depends on the token estimate */
    char **owned;                           /* model strings the targets point to */
    size_t n_owned;
} ccp_router_config;

/* Which model name the client sees in an answer's `model` field. */
typedef enum {
    /* the model the client asked for: Claude Code keeps the signed thinking
     * of an answer in its history only when the answer names that model */
    CCP_ECHO_MODEL_CLIENT = 0,
    CCP_ECHO_MODEL_UPSTREAM, /* the model the provider says served */
} ccp_echo_model;

/* server.tls: HTTPS on the listener (config_inbound.c declares the keys;
 * http/tls_server.c serves it). */
typedef enum { CCP_TLS_MIN_1_2 = 0, CCP_TLS_MIN_1_3 } ccp_tls_min;
typedef struct ccp_server_tls_config {
    char *cert_file; /* PEM certificate chain; NULL: plain HTTP */
    char *key_file;  /* PEM private key */
    int min_version; /* a ccp_tls_min */
    bool admin;      /* the admin listener serves HTTPS too, with the same certificate */
} ccp_server_tls_config;

/* The `server` and `upstream` sections. What each field means, its bounds
 * and its default are in the section's table (config_load.c), the one
 * place they are written. */
typedef struct ccp_server_config {
    char *host;
    int port;
    int workers;
    size_t max_body_bytes;
    size_t max_header_bytes;
    int max_headers; /* header fields in one request head */
    int max_json_elements;
    uint32_t header_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t body_timeout_ms;
    uint32_t drain_timeout_ms;
    uint32_t write_timeout_ms;   /* a client that reads nothing this long is dropped */
    int max_connections;         /* open client connections, all workers; 0 = no cap */
    int log_level;               /* a ccp_log_level */
    int log_format;              /* a ccp_log_format */
    bool metrics;                /* GET /metrics is served */
    char *admin_listen;          /* "host:port" of the admin listener; NULL = none */
    int echo_model;              /* a ccp_echo_model */
    ccp_strlist allowed_hosts;   /* see guard/browser.h */
    ccp_strlist allowed_origins; /* see guard/browser.h */
    /* Inbound TLS and per-client limits (config_inbound.c). */
    ccp_server_tls_config tls;
    int max_connections_per_client; /* open connections per client address; 0 = no cap */
    int client_rate;                /* requests per client address per client_rate_ms; 0 = off */
    uint32_t client_rate_ms;        /* 1000 ("N/s") or 60000 ("N/m") */
    bool watch_config;              /* reload when the file changes (http/reload.c) */
    int session_table;              /* sessions kept for GET /sessions/ID; 0 = off */
} ccp_server_config;

typedef struct ccp_upstream_config {
    uint32_t connect_timeout_ms;
    uint32_t first_byte_timeout_ms;
    uint32_t stream_idle_timeout_ms;
    uint32_t total_timeout_ms; /* 0: unlimited */
    size_t max_response_bytes;
    bool preconnect; /* open a connection to each provider at start-up */
} ccp_upstream_config;

/* The `telemetry` section (its table is in config_telemetry.c). A key left
 * out stays unset here (NULL, or < 0) so that the OpenTelemetry
 * environment variables can supply it (obs/otlp.c resolves them). */
typedef struct ccp_telemetry_config {
    char *otlp_endpoint; /* base URL; /v1/traces is appended; NULL: unset */
    char *service_name;  /* NULL: unset */
    double sample_ratio; /* 0..1; < 0: unset */
    ccp_kv *headers;     /* sent to the collector (may hold a token: never logged) */
    size_t n_headers;
    int max_queue_spans; /* spans waiting for export; more are dropped and counted */
} ccp_telemetry_config;

/* The `auth` and `state` sections (their tables are in config_teams.c;
 * src/teams/ enforces them). */
typedef enum { CCP_AUTH_MODE_NONE = 0, CCP_AUTH_MODE_KEYS } ccp_auth_mode;
typedef enum { CCP_REDIS_FAIL_CLOSED = 0, CCP_REDIS_FAIL_OPEN } ccp_redis_failure;

typedef struct ccp_auth_config {
    int mode;                   /* a ccp_auth_mode */
    bool allow_unauthenticated; /* mode none on a non-loopback address is allowed */
    char *admin_key;            /* NULL: unset; else every admin endpoint asks for it (a secret:
                                 * redacted from output, wiped when the snapshot is freed) */
} ccp_auth_config;

typedef struct ccp_state_config {
    char *path;        /* the SQLite file; NULL = the XDG default (teams/keystore.h) */
    uint32_t poll_ms;  /* how often a running proxy looks for key changes */
    uint32_t flush_ms; /* how long usage and audit rows wait to be written together */
    char *redis;       /* redis://host:port/db; NULL = none */
    int redis_failure; /* a ccp_redis_failure */
} ccp_state_config;

/* One row of the `pricing` section: USD per million tokens of each kind for
 * a provider's models matching a glob. */
typedef struct ccp_price {
    char *provider;
    char *model; /* a glob */
    double input, output, cache_read, cache_write;
} ccp_price;

/* One entry of the `tenants` section (its table is in config_teams.c): a
 * group of proxy keys (a key names its tenant) with what they may use and
 * limits they share. Limits of 0: none. */
typedef struct ccp_tenant {
    char *name;
    ccp_strlist providers; /* provider names its keys may be routed to; empty: any */
    ccp_strlist models;    /* globs of the models its keys may ask for; empty: any */
    int64_t rpm, tpm, concurrency;
    char *budget;      /* as written ("500usd/month"); NULL: none */
    double budget_usd; /* parsed from budget */
    int budget_period; /* 0 none, 1 day, 2 month (teams/keystore.h's ccp_period) */
    /* tenants.NAME.router: its own route per stage, over router's (n == 0:
     * router's); targets owned, their models owned by cfg->router. */
    ccp_route router[CCP_STAGE_COUNT];
} ccp_tenant;
/* The `security` section (config_security.c has the table). */
typedef struct ccp_security_config {
    /* host patterns ("api.openai.com", "*.azure.com", "host:port") that
     * base_urls may name; empty: any the config names */
    ccp_strlist allowed_upstreams;
    bool protect_memory; /* serve mode is not dumpable (guard/secrets.h) */
} ccp_security_config;

/* The `debug` section (config_debug.c). */
typedef struct ccp_capture_config {
    char *dir;        /* NULL: no capture */
    double sample;    /* 0..1 */
    size_t max_bytes; /* per exchange's file (and its memory) */
    int max_files;    /* kept in dir */
} ccp_capture_config;

typedef struct ccp_debug_config {
    ccp_capture_config capture;
} ccp_debug_config;

typedef struct ccp_config {
    char *source; /* the file loaded, or "<embedded default>"; owned */
    /* "sha256:" and the hex digest of the bytes loaded, for GET /status:
     * tells which version of the file a running server holds. */
    char source_hash[72];
    ccp_server_config server;
    ccp_upstream_config upstream;
    ccp_telemetry_config telemetry;
    ccp_auth_config auth;
    ccp_state_config state;
    ccp_price *prices; /* in the file's order: the first match wins */
    size_t n_prices;
    ccp_tenant *tenants;
    size_t n_tenants;
    ccp_security_config security;
    ccp_debug_config debug;
    ccp_provider *providers;
    size_t n_providers;
    struct ccp_plugin_set *plugins; /* plugin/plugin.h; owned; loaded with the config */
    ccp_pipeline *pipelines;        /* owned array */
    size_t n_pipelines;
    bool has_default;          /* false when no provider is configured at all */
    ccp_target router_default; /* router.stages[DEFAULT].targets[0] */
    ccp_router_config router;
    _Atomic int refs;
} ccp_config;

/* One problem found in a config: where it is and what to do about it. */
typedef struct ccp_diag {
    char *file;
    int line;      /* 1-based; 0 when not tied to a place */
    int col;       /* 1-based */
    char *message; /* says what is wrong and the fix; never contains a secret */
} ccp_diag;

typedef struct ccp_diags {
    ccp_diag *items;
    size_t n;
} ccp_diags;

void ccp_diags_free(ccp_diags *d);
/* Prints "file:line:col: error: message" lines. */
void ccp_diags_print(const ccp_diags *d, FILE *out);

/* Loads and validates a YAML file. On success returns 0 and *out (refs = 1,
 * release with ccp_config_unref). On failure returns CCP_ECONFIG with every
 * problem found in diags (the caller frees diags either way). */
int ccp_config_load_file(const char *path, ccp_config **out, ccp_diags *diags);
/* Same from memory; name is used as the file name in diagnostics. */
int ccp_config_load_string(const char *name, const char *yaml, size_t len, ccp_config **out,
                           ccp_diags *diags);

/* The embedded default: one provider for each of ANTHROPIC_API_KEY,
 * OPENAI_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY, DEEPSEEK_API_KEY set in
 * the environment. With none set the config is valid with has_default false,
 * and /v1/messages answers with an error saying how to configure one. */
int ccp_config_load_default(ccp_config **out, ccp_diags *diags);

/* Finds the config file: explicit (from --config) if non-NULL, else
 * $CCPROXY_CONFIG, ./ccproxy.yaml, ~/.config/ccproxy/config.yaml. Returns a
 * malloc'd path, or NULL when none exists (use the embedded default). */
char *ccp_config_find_path(const char *explicit_path);

/* The reference of every key (config_reference.c), as `ccproxy config-keys`
 * prints it. */
void ccp_config_reference(ccp_buf *out);
/* Copies doc to out with each "<!-- keys: NAME -->" ... "<!-- /keys -->"
 * block's body replaced by the Markdown table NAME (top, server, upstream,
 * providers, formats, router, or a format's options). Returns 0, or
 * CCP_EINVAL with err set for a malformed or unknown block. */
int ccp_config_doc_update(const char *doc, ccp_buf *out, ccp_error *err);

ccp_config *ccp_config_ref(ccp_config *c);
/* Frees c whatever its count (for the loader's failure path). */
void ccp_config_destroy(ccp_config *c);
void ccp_config_unref(ccp_config *c);

const ccp_provider *ccp_config_provider(const ccp_config *c, const char *name);
const char *ccp_format_name(ccp_format f);
/* "default", "background", ... as written in config. */
const char *ccp_stage_name(ccp_stage s);

#endif
