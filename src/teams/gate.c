/* gate.c — the guard's HTTP side (see gate.h): where the key is read,
 * how refusals look and which headers an admitted answer carries. */
#include "teams/gate.h"

#include "core/tokens.h"
#include "teams/pricing.h"
#include "guard/browser.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

static int64_t now_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

/* The key as Claude Code sends it: x-api-key (ANTHROPIC_API_KEY), else
 * Authorization: Bearer (ANTHROPIC_AUTH_TOKEN). */
static const char *client_key(const ccp_request *req, size_t *len)
{
    const char *k = ccp_request_header(req, "x-api-key");
    if (k && *k) {
        *len = strlen(k);
        return k;
    }
    const char *a = ccp_request_header(req, "authorization");
    if (a && !strncasecmp(a, "Bearer ", 7)) {
        a += 7;
        while (*a == ' ')
            a++;
        *len = strlen(a);
        return *a ? a : NULL;
    }
    *len = 0;
    return NULL;
}

/* RFC 3339 time of ms from now, as Anthropic's reset headers say it. */
static void reset_header(ccp_response *res, const char *name, int64_t in_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t at = ts.tv_sec + (time_t)((in_ms + 999) / 1000);
    struct tm tm;
    gmtime_r(&at, &tm);
    char v[40];
    strftime(v, sizeof v, "%Y-%m-%dT%H:%M:%SZ", &tm);
    ccp_res_header(res, name, v);
}

static void limit_headers(ccp_response *res, const ccp_guard_verdict *v)
{
    char n[32];
    if (v->req_limit > 0) {
        snprintf(n, sizeof n, "%lld", (long long)v->req_limit);
        ccp_res_header(res, "anthropic-ratelimit-requests-limit", n);
        snprintf(n, sizeof n, "%lld", (long long)v->req_remaining);
        ccp_res_header(res, "anthropic-ratelimit-requests-remaining", n);
        reset_header(res, "anthropic-ratelimit-requests-reset", v->req_reset_ms);
    }
    if (v->tok_limit > 0) {
        snprintf(n, sizeof n, "%lld", (long long)v->tok_limit);
        ccp_res_header(res, "anthropic-ratelimit-tokens-limit", n);
        snprintf(n, sizeof n, "%lld", (long long)v->tok_remaining);
        ccp_res_header(res, "anthropic-ratelimit-tokens-remaining", n);
        reset_header(res, "anthropic-ratelimit-tokens-reset", v->tok_reset_ms);
    }
}

bool ccp_teams_admit(ccp_worker *w, const ccp_request *req, ccp_response *res, json_object *body,
                     ccp_guard_ticket *t)
{
    memset(t, 0, sizeof *t);
    ccp_guard *g = w->app->guard;
    if (!g) return true;
    size_t len;
    const char *key = client_key(req, &len);
    json_object *m = NULL;
    const char *model =
        json_object_object_get_ex(body, "model", &m) ? json_object_get_string(m) : "";
    int64_t est = ccp_guard_needs_estimate(g) ? ccp_tokens_estimate_request(body) : 0;
    ccp_guard_verdict v;
    ccp_guard_admit(g, key, len, model, est, now_ms(), t, &v);
    limit_headers(res, &v);
    if (v.status == 0) return true;
    if (v.status == 429) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)((v.retry_after_ms + 999) / 1000));
        ccp_res_header(res, "retry-after", n);
    }
    ccp_res_access(res)->error_type = v.type;
    ccp_res_send_error(res, v.status, v.type, v.message);
    return false;
}

void ccp_teams_end(ccp_worker *w, ccp_guard_ticket *t, const ccp_access *acc,
                   const char *request_id)
{
    if (!t->key) return;
    if (!acc) {
        /* Released without an account (the request ended before one). */
        ccp_guard_usage none = {.status = t->status,
                                .input_tokens = -1,
                                .output_tokens = -1,
                                .cache_read_tokens = -1,
                                .cache_write_tokens = -1};
        ccp_guard_end(w->app->guard, t, &none, now_ms());
        return;
    }
    ccp_guard_usage u = {
        .request_id = request_id,
        .provider = acc->provider,
        .model = acc->upstream_model ? acc->upstream_model : acc->model,
        .stage = acc->stage,
        .status = t->status,
        .input_tokens = acc->input_tokens,
        .output_tokens = acc->output_tokens,
        .cache_read_tokens = acc->cache_read_tokens,
        .cache_write_tokens = acc->cache_creation_tokens,
    };
    const ccp_price *p = ccp_price_find(w->app->config, u.provider, u.model);
    if (p) {
        u.priced = true;
        u.spend_usd = ccp_price_cost(p, u.input_tokens, u.output_tokens, u.cache_read_tokens,
                                     u.cache_write_tokens);
    }
    ccp_guard_end(w->app->guard, t, &u, now_ms());
}

int ccp_teams_check_exposure(const ccp_config *cfg, const char *host, ccp_error *err)
{
    if (cfg->auth.mode != CCP_AUTH_MODE_NONE || cfg->auth.allow_unauthenticated ||
        ccp_browser_host_is_loopback(host))
        return 0;
    return ccp_error_set(
        err, CCP_ECONFIG,
        "refusing to listen on %s with auth.mode none: anyone who can reach this address could "
        "spend the configured providers' keys. Either require proxy keys (auth.mode: keys, then "
        "ccproxy keys create --name NAME; see docs/teams.md), bind to 127.0.0.1 (server.host / "
        "--host), or, behind a firewall or an authenticating gateway, set "
        "auth.allow_unauthenticated: true",
        host);
}
