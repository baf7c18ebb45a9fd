/* endpoints.c — the small endpoints: root probe, health, readiness, the
 * model list and the token-count estimate. /v1/messages is messages.c. */
#include "http/app.h"

#include "core/buf.h"
#include "core/json.h"
#include "core/tokens.h"
#include "guard/browser.h"

#include <string.h>

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
    const char *host = app->host ? app->host : app->config->server.host;
    /* There are no proxy keys yet: whoever reaches a non-loopback port
     * spends the provider keys configured here. */
    if (!ccp_browser_host_is_loopback(host) && n < cap)
        out[n++] = "OPEN RELAY: ccproxy listens on a non-loopback address and has no proxy keys, "
                   "so anyone who can reach this port can use the configured providers at your "
                   "expense; bind to 127.0.0.1 (server.host / --host) unless a firewall or an "
                   "authenticating gateway in front restricts who can connect";
    return n;
}

/* What an operator wants to see at a glance: version, address, warnings. */
void ccp_app_status(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    const ccp_app *app = w->app;
    const char *host = app->host ? app->host : app->config->server.host;
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\",\"listen\":{\"host\":", CCP_VERSION);
    ccp_buf_append_json_str(&b, host, strlen(host));
    ccp_buf_printf(&b, ",\"port\":%d},\"warnings\":[", ccp_res_listen_port(res));
    const char *warn[8];
    size_t n = ccp_app_warnings(app, warn, 8);
    for (size_t i = 0; i < n; i++) {
        if (i) ccp_buf_appendc(&b, ',');
        ccp_buf_append_json_str(&b, warn[i], strlen(warn[i]));
    }
    ccp_buf_appends(&b, "]}");
    send_json(res, 200, &b);
}

/* Ready means: able to route a request somewhere. A server with no provider
 * configured is alive (health) but not ready. */
void ccp_app_ready(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    const ccp_config *cfg = w->app->config;
    ccp_buf b = CCP_BUF_INIT;
    if (cfg->has_default) {
        ccp_buf_printf(&b, "{\"status\":\"ready\",\"providers\":%zu}", cfg->n_providers);
        send_json(res, 200, &b);
    } else {
        ccp_buf_appends(&b, "{\"status\":\"not_ready\",\"reason\":\"no provider configured\"}");
        send_json(res, 503, &b);
    }
}

/* Anthropic's list format: {data:[{type,id,display_name,created_at}],
 * has_more, first_id, last_id}. Every configured model of every provider,
 * in config order. */
void ccp_app_models(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    const ccp_config *cfg = w->app->config;
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
