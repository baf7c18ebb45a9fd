/* endpoints.c — the small endpoints: root probe, health, readiness, status,
 * the model list and the token-count estimate. /v1/messages is messages.c.
 * /health is liveness and costs nothing; /ready and /status read the
 * per-provider health that the attempts record (obs/pstatus.h). */
#include "http/app.h"

#include "core/buf.h"
#include "core/json.h"
#include "core/tokens.h"
#include "guard/browser.h"
#include "teams/gate.h"
#include "teams/redis_store.h"
#include "http/client_limit.h"
#include "http/reload.h"
#include "plugin/plugin.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static void send_json(ccp_response *res, int status, ccp_buf *b)
{
    ccp_res_send(res, status, "application/json", b->data, b->len);
    ccp_buf_free(b);
}

void ccp_app_root(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"name\":\"cc-proxy\",\"version\":\"%s\"}", CCP_VERSION);
    send_json(res, 200, &b);
}

void ccp_app_health(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "{\"status\":\"ok\"}");
    send_json(res, 200, &b);
}

size_t ccp_app_warnings(const ccp_app *app, const char **out, size_t cap)
{
    size_t n = 0;
    /* app->host is the address bound; the config's only before the server runs. */
    ccp_config *cfg = ccp_app_config((ccp_app *)app);
    const char *host = app->host ? app->host : cfg->server.host;
    /* Without proxy keys whoever reaches a non-loopback port spends the
     * provider keys configured here (auth.allow_unauthenticated let it
     * start). */
    if (cfg->auth.mode == CCP_AUTH_MODE_NONE && !ccp_browser_host_is_loopback(host) && n < cap)
        out[n++] = "OPEN RELAY: ccproxy listens on a non-loopback address and has no proxy keys, "
                   "so anyone who can reach this port can use the configured providers at your "
                   "expense; bind to 127.0.0.1 (server.host / --host) unless a firewall or an "
                   "authenticating gateway in front restricts who can connect";
    /* Proxy keys say who may spend; the admin rows (metrics, the live feed
     * with its captured bodies, reload) would still answer anyone. */
    if (cfg->auth.mode == CCP_AUTH_MODE_KEYS && !cfg->auth.admin_key && !cfg->server.admin_listen &&
        n < cap)
        out[n++] = "ADMIN OPEN: auth.mode is keys but the admin endpoints (/metrics, /admin/*, "
                   "/ui) answer anyone on the main listener without a key; set auth.admin_key "
                   "(e.g. ${file:/path}) or move them to server.admin_listen";
    if (cfg) ccp_config_unref(cfg);
    return n;
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* What an operator wants to see at a glance (and what a future `ccproxy
 * status` prints): version, address, warnings, uptime, the config in force
 * and its hash, workers, requests in flight, each provider's health and
 * the trace exporter's counters. */
void ccp_app_status(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    ccp_app *app = w->app;
    const ccp_config *cfg = w->config;
    const char *host = app->host ? app->host : cfg->server.host;
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\",\"pid\":%ld,\"listen\":{\"host\":",
                   CCP_VERSION, (long)getpid());
    ccp_buf_append_json_str(&b, host, strlen(host));
    ccp_buf_printf(&b, ",\"port\":%d},\"warnings\":[", ccp_res_listen_port(res));
    const char *warn[8];
    size_t n = ccp_app_warnings(app, warn, 8);
    for (size_t i = 0; i < n; i++) {
        if (i) ccp_buf_appendc(&b, ',');
        ccp_buf_append_json_str(&b, warn[i], strlen(warn[i]));
    }
    uint64_t now = unix_ms();
    double uptime =
        app->started_ms && now > app->started_ms ? (double)(now - app->started_ms) / 1000.0 : 0.0;
    ccp_buf_printf(&b, "],\"uptime_seconds\":%.3f,\"config\":{\"source\":", uptime);
    ccp_buf_append_json_str(&b, cfg->source, strlen(cfg->source));
    ccp_buf_appends(&b, ",\"hash\":");
    ccp_buf_append_json_str(&b, cfg->source_hash, strlen(cfg->source_hash));
    ccp_buf_printf(&b, ",\"reloads\":%u", ccp_reload_count(app->reload));
    ccp_buf_printf(&b, "},\"workers\":%d,\"in_flight_requests\":%ld,\"ready\":%s,\"providers\":",
                   atomic_load(&app->workers), atomic_load(&app->in_flight),
                   ccp_pstatus_can_serve(app->pstatus, cfg) ? "true" : "false");
    ccp_pstatus_write_json(app->pstatus, cfg, &b);
    ccp_otlp_stats st;
    ccp_otlp_stats_get(app->otlp, &st);
    ccp_buf_printf(&b,
                   ",\"tracing\":{\"enabled\":%s,\"spans_exported\":%llu,\"spans_dropped\":%llu,"
                   "\"failed_exports\":%llu}}",
                   app->otlp ? "true" : "false", (unsigned long long)st.exported,
                   (unsigned long long)st.dropped, (unsigned long long)st.failed_exports);
    send_json(res, 200, &b);
}

/* The plugins of the config in force with their breakers and figures, for
 * `ccproxy plugins` (plugin/report.c). */
void ccp_app_admin_plugins(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)req;
    json_object *r = ccp_plugin_report(w->config->plugins, true);
    ccp_buf b = CCP_BUF_INIT;
    ccp_json_write(&b, r);
    json_object_put(r);
    send_json(res, 200, &b);
}

/* Ready means: some route can serve a request. A failing provider is still
 * tried (and fallbacks with it), so only a config with no provider, or
 * one whose every target's breaker is open, is not ready. The body says
 * what each provider last did, for the operator reading it. */
void ccp_app_ready(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    const ccp_config *cfg = w->config;
    ccp_buf b = CCP_BUF_INIT;
    bool ready = ccp_pstatus_can_serve(w->app->pstatus, cfg);
    if (ready)
        ccp_buf_appends(&b, "{\"status\":\"ready\"");
    else
        ccp_buf_printf(&b, "{\"status\":\"not_ready\",\"reason\":\"%s\"",
                       cfg->has_default ? "every provider's circuit breaker is open"
                                        : "no provider configured");
    ccp_buf_appends(&b, ",\"providers\":");
    ccp_pstatus_write_json(w->app->pstatus, cfg, &b);
    ccp_buf_appendc(&b, '}');
    send_json(res, ready ? 200 : 503, &b);
}

/* Anthropic's list format: {data:[{type,id,display_name,created_at}],
 * has_more, first_id, last_id}. Every configured model of every provider,
 * in config order. */
void ccp_app_models(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    if (!ccp_teams_check(w, req, res, "/v1/models")) return;
    const ccp_config *cfg = w->config;
    ccp_buf b = CCP_BUF_INIT;
    const char *first = NULL, *last = NULL;
    ccp_buf_appends(&b, "{\"data\":[");
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const ccp_provider *p = &cfg->providers[i];
        for (size_t j = 0; j < p->n_models; j++) {
            const char *m = p->models[j];
            if (first) ccp_buf_appendc(&b, ',');
            if (!first) first = m;
            last = m;
            ccp_buf_appends(&b, "{\"type\":\"model\",\"id\":");
            ccp_buf_append_json_str(&b, m, strlen(m));
            ccp_buf_appends(&b, ",\"display_name\":");
            ccp_buf tmp = CCP_BUF_INIT;
            ccp_buf_printf(&tmp, "%s (%s)", m, p->name);
            ccp_buf_append_json_str(&b, tmp.data, tmp.len);
            ccp_buf_free(&tmp);
            ccp_buf_appends(&b, ",\"created_at\":\"1970-01-01T00:00:00Z\"}");
        }
    }
    ccp_buf_appends(&b, "],\"has_more\":false,\"first_id\":");
    if (first)
        ccp_buf_append_json_str(&b, first, strlen(first));
    else
        ccp_buf_appends(&b, "null");
    ccp_buf_appends(&b, ",\"last_id\":");
    if (last)
        ccp_buf_append_json_str(&b, last, strlen(last));
    else
        ccp_buf_appends(&b, "null");
    ccp_buf_appendc(&b, '}');
    send_json(res, 200, &b);
}

/* An estimate (see docs/count_tokens.md): computed locally, never sent
 * upstream, so it costs nothing and works for every provider. */
void ccp_app_count_tokens(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    /* auth.mode keys: a valid proxy key, as Anthropic's API asks one. */
    if (!ccp_teams_check(w, req, res, "/v1/messages/count_tokens")) return;
    json_object *body = ccp_app_parse_body(req, res);
    if (!body) return;
    if (!ccp_json_get_arr(body, "messages")) {
        json_object_put(body);
        ccp_res_send_error(res, 400, "invalid_request_error",
                           "messages: field required (an array of messages)");
        return;
    }
    int64_t n = ccp_tokens_estimate_request(body);
    json_object_put(body);
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"input_tokens\":%lld}", (long long)n);
    send_json(res, 200, &b);
}

/* Prometheus scrapes: OpenMetrics when the scraper asks for it (Prometheus
 * does, first), else the classic text format. */
void ccp_app_metrics(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    bool om = ccp_metrics_wants_openmetrics(ccp_request_header(req, "accept"));
    ccp_buf b = CCP_BUF_INIT;
    ccp_metrics_write(w->app->metrics, &b, om);
    ccp_res_send(res, 200, om ? CCP_METRICS_OPENMETRICS_TYPE : CCP_METRICS_TEXT_TYPE, b.data,
                 b.len);
    ccp_buf_free(&b);
}

/* The families /metrics takes from the reliability and tracing modules:
 * each provider's breaker (0 closed, 1 half-open, 2 open), its transfers
 * under way and its admission queue, and the spans the exporter dropped. */
void ccp_app_metrics_extra(ccp_buf *b, bool om, void *appv)
{
    ccp_app *app = appv;
    /* Called from the scrape, which knows no worker: a reference of its own. */
    ccp_config *cfg = ccp_app_config(app);
    if (cfg->state.redis) {
        ccp_metrics_family(b, "ccproxy_redis_failures_total", "counter",
                           "Requests that found state.redis unreachable or failing.", om);
        ccp_buf_printf(b, "ccproxy_redis_failures_total %llu\n",
                       (unsigned long long)ccp_redis_failures());
    }
    ccp_metrics_family(b, "ccproxy_breaker_state", "gauge",
                       "A provider's circuit breaker: 0 closed, 1 half-open, 2 open.", om);
    for (size_t i = 0; i < cfg->n_providers; i++) {
        const ccp_provider *p = &cfg->providers[i];
        int v = 0;
        if (app->health) {
            ccp_breaker br = ccp_health_breaker(ccp_health_of(app->health, p));
            v = br.state == CCP_BREAKER_OPEN ? 2 : br.state == CCP_BREAKER_HALF_OPEN ? 1 : 0;
        }
        ccp_buf_printf(b, "ccproxy_breaker_state{provider=\"%s\"} %d\n", p->name, v);
    }
    ccp_metrics_family(b, "ccproxy_provider_in_flight", "gauge",
                       "Transfers to a provider under way now (max_in_flight counts these).", om);
    ccp_buf q = CCP_BUF_INIT;
    for (size_t i = 0; i < cfg->n_providers; i++) {
        int in_flight = 0, queued = 0;
        if (app->admit) ccp_admit_counts(app->admit, cfg->providers[i].name, &in_flight, &queued);
        ccp_buf_printf(b, "ccproxy_provider_in_flight{provider=\"%s\"} %d\n",
                       cfg->providers[i].name, in_flight);
        ccp_buf_printf(&q, "ccproxy_queue_depth{provider=\"%s\"} %d\n", cfg->providers[i].name,
                       queued);
    }
    ccp_metrics_family(b, "ccproxy_queue_depth", "gauge",
                       "Attempts waiting for a provider slot (max_queue bounds it).", om);
    if (q.len) ccp_buf_append(b, q.data, q.len);
    ccp_buf_free(&q);
    ccp_metrics_family(
        b, "ccproxy_trace_spans_dropped_total", "counter",
        "Spans the trace exporter dropped (its queue full, or the collector refusing them).", om);
    ccp_buf_printf(b, "ccproxy_trace_spans_dropped_total %llu\n",
                   (unsigned long long)(app->otlp ? ccp_otlp_dropped(app->otlp) : 0));
    /* The per-client limits (server.max_connections_per_client,
     * server.client_rate_limit). */
    ccp_metrics_family(b, "ccproxy_client_connections_refused_total", "counter",
                       "Connections closed at accept: their client address had "
                       "server.max_connections_per_client open.",
                       om);
    ccp_buf_printf(
        b, "ccproxy_client_connections_refused_total %llu\n",
        (unsigned long long)(app->clients ? ccp_client_refused_connections(app->clients) : 0));
    ccp_metrics_family(b, "ccproxy_client_rate_limited_total", "counter",
                       "Requests answered 429: their client address was over "
                       "server.client_rate_limit.",
                       om);
    ccp_buf_printf(
        b, "ccproxy_client_rate_limited_total %llu\n",
        (unsigned long long)(app->clients ? ccp_client_limited_requests(app->clients) : 0));
    ccp_plugin_metrics(cfg->plugins, b, om); /* plugin/plugin.h */
    ccp_config_unref(cfg);
}

/* GET /sessions/ID: the latest request of one Claude Code session and its
 * totals (obs/sessions.h), for `ccproxy statusline`. */
void ccp_app_session(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    const char *id = req->path + strlen("/sessions/");
    if (!w->app->sessions) {
        ccp_res_send_error(res, 404, "not_found_error",
                           "the session table is off (server.session_table: 0)");
        return;
    }
    ccp_buf b = CCP_BUF_INIT;
    if (!ccp_sessions_write_json(w->app->sessions, id, &b)) {
        ccp_buf_free(&b);
        ccp_res_send_error(res, 404, "not_found_error",
                           "no such session: it has sent no /v1/messages request to this proxy "
                           "yet, or it was the least recent of more than server.session_table");
        return;
    }
    send_json(res, 200, &b);
}
