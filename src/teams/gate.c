/* gate.c — the guard's HTTP side (see gate.h): where the key is read,
 * how refusals look and which headers an admitted answer carries. */
#include "teams/gate.h"

#include "core/tokens.h"
#include "teams/keystore.h"
#include "teams/pricing.h"
#include "teams/redis_store.h"
#include "teams/tenant.h"
#include "guard/browser.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
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

_Static_assert(sizeof(((ccp_guard_ticket *)0)->shared_lease) >= CCP_REDIS_LEASE_MAX,
               "a ticket holds a lease");

/* An admission waiting for Redis. */
typedef struct pending_gate {
    ccp_worker *w;
    const ccp_request *req;
    ccp_response *res;
    json_object *body;
    ccp_guard_ticket t;
    ccp_teams_go go;
    bool aborted; /* the client left meanwhile */
} pending_gate;

static void pending_abort(void *ud)
{
    ((pending_gate *)ud)->aborted = true;
}

static void set_num(ccp_response *res, const char *name, int64_t v)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", (long long)v);
    ccp_res_header(res, name, n);
}

/* Redis admitted t: what it now holds, to give back at the end. */
static void held_in_redis(ccp_guard_ticket *t)
{
    t->shared_held = t->shared_concurrency > 0;
    t->shared_tokens = t->shared_tpm > 0;
    t->shared_spend = t->shared_budget > 0;
    ccp_guard_shared *ts = &t->tenant_shared;
    ts->held = ts->concurrency > 0;
    ts->tokens = ts->tpm > 0;
    ts->spend = ts->budget > 0;
}

/* Whether t's tenant has limits counted in Redis. */
static bool tenant_shares(const ccp_guard_ticket *t)
{
    const ccp_guard_shared *ts = &t->tenant_shared;
    return t->tenant_name && (ts->rpm > 0 || ts->concurrency > 0 || ts->tpm > 0 || ts->budget > 0);
}

/* The message of a refusal by Redis: the key's limit or its tenant's, as
 * the local guard words it. */
static void refusal_message(const ccp_guard_ticket *t, const ccp_redis_verdict *v, char *msg,
                            size_t cap)
{
    const ccp_guard_shared *ts = &t->tenant_shared;
    char who[96];
    if (v->tenant)
        snprintf(who, sizeof who, "tenant '%.60s'", t->tenant_name);
    else
        snprintf(who, sizeof who, "this proxy key");
    double budget = v->tenant ? ts->budget : t->shared_budget;
    int period = v->tenant ? ts->budget_period : t->shared_budget_period;
    if (v->budget)
        snprintf(msg, cap,
                 "%s has spent its budget of %.2f USD for this %s; it renews at the start of "
                 "the next %s (UTC)",
                 who, budget, ccp_period_name(period), ccp_period_name(period));
    else if (v->tokens)
        snprintf(msg, cap, "%s is over its rate limit of %lld tokens per minute", who,
                 (long long)(v->tenant ? ts->tpm : t->shared_tpm));
    else if (v->concurrency)
        snprintf(msg, cap,
                 "%s has %lld requests in flight, its concurrency limit: wait for one to finish",
                 who, (long long)(v->tenant ? ts->concurrency : t->shared_concurrency));
    else
        snprintf(msg, cap, "%s is over its rate limit of %lld requests per minute", who,
                 (long long)(v->tenant ? ts->rpm : t->shared_rpm));
}

static void on_redis(void *ud, const ccp_redis_verdict *v)
{
    pending_gate *p = ud;
    ccp_response *res = p->res;
    ccp_res_on_abort(res, NULL, NULL);
    bool open = p->w->config->state.redis_failure == CCP_REDIS_FAIL_OPEN;
    /* The requests-per-minute limit the verdict's figures are of. */
    int64_t rpm = v->tenant ? p->t.tenant_shared.rpm : p->t.shared_rpm;
    if (p->aborted) {
        p->t.status = 499;
        if (v->result == 0) held_in_redis(&p->t);
        ccp_teams_finish(p->w, &p->t);
        ccp_res_end(res);
    } else if (v->result == 0 || (v->result < 0 && open)) {
        if (v->result == 0) {
            held_in_redis(&p->t);
            if (v->remaining >= 0 && rpm > 0) {
                set_num(res, "anthropic-ratelimit-requests-limit", rpm);
                set_num(res, "anthropic-ratelimit-requests-remaining", v->remaining);
            }
        }
        p->go(p->w, p->req, res, p->body, &p->t);
        free(p);
        return;
    } else if (v->result > 0) {
        p->t.status = 429;
        p->t.refused = true;
        if (!v->concurrency && !v->tokens && !v->budget) {
            set_num(res, "anthropic-ratelimit-requests-limit", rpm);
            set_num(res, "anthropic-ratelimit-requests-remaining", 0);
            reset_header(res, "anthropic-ratelimit-requests-reset", v->wait_ms);
        }
        set_num(res, "retry-after", (v->wait_ms + 999) / 1000);
        char msg[200];
        refusal_message(&p->t, v, msg, sizeof msg);
        snprintf(p->t.reason, sizeof p->t.reason, "%s", msg);
        ccp_teams_finish(p->w, &p->t);
        ccp_res_access(res)->error_type = "rate_limit_error";
        ccp_res_send_error(res, 429, "rate_limit_error", msg);
    } else {
        p->t.status = 529;
        p->t.refused = true;
        snprintf(p->t.reason, sizeof p->t.reason, "state.redis unreachable (fail_closed)");
        ccp_teams_finish(p->w, &p->t);
        ccp_res_access(res)->error_type = "overloaded_error";
        ccp_res_send_error(res, 529, "overloaded_error",
                           "ccproxy cannot reach its shared state (state.redis) and refuses "
                           "requests until it can (state.redis_failure: fail_closed)");
    }
    json_object_put(p->body);
    free(p);
}

bool ccp_teams_admit(ccp_worker *w, const ccp_request *req, ccp_response *res, json_object *body,
                     ccp_guard_ticket *t, ccp_teams_go go)
{
    memset(t, 0, sizeof *t);
    ccp_guard *g = w->app->guard;
    if (!g) return true;
    size_t len;
    const char *key = client_key(req, &len);
    json_object *m = NULL;
    const char *model =
        json_object_object_get_ex(body, "model", &m) ? json_object_get_string(m) : "";
    const ccp_config *cfg = w->config;
    bool estimate = ccp_guard_needs_estimate(g);
    for (size_t i = 0; !estimate && i < cfg->n_tenants; i++)
        estimate = cfg->tenants[i].tpm > 0;
    int64_t est = estimate ? ccp_tokens_estimate_request(body) : 0;
    ccp_guard_verdict v;
    ccp_guard_admit(g, cfg, key, len, model, est, now_ms(), req->id, t, &v);
    limit_headers(res, &v);
    if (v.status == 0 && w->redis &&
        (t->shared_rpm > 0 || t->shared_concurrency > 0 || t->shared_tpm > 0 ||
         t->shared_budget > 0 || tenant_shares(t))) {
        /* The key's and its tenant's shared limits are Redis's to count,
         * in one script: the handler goes on when it answers (on_redis). */
        pending_gate *p = ccp_xcalloc(1, sizeof *p);
        *p = (pending_gate){w, req, res, body, *t, go, false};
        memset(t, 0, sizeof *t);
        ccp_redis_lease(w->redis, p->t.shared_lease);
        ccp_res_on_abort(res, pending_abort, p);
        ccp_redis_limits kl = {p->t.key_id,
                               p->t.shared_rpm,
                               p->t.shared_concurrency,
                               p->t.shared_tpm,
                               {p->t.shared_budget, p->t.shared_seed, "", p->t.shared_left_ms}};
        snprintf(kl.budget.period, sizeof kl.budget.period, "%s", p->t.shared_period);
        const ccp_guard_shared *ts = &p->t.tenant_shared;
        ccp_redis_limits tenant = {p->t.tenant_name,
                                   ts->rpm,
                                   ts->concurrency,
                                   ts->tpm,
                                   {ts->budget, ts->seed, "", ts->left_ms}};
        snprintf(tenant.budget.period, sizeof tenant.budget.period, "%s", ts->period);
        ccp_redis_admit(w->redis, &kl, tenant_shares(&p->t) ? &tenant : NULL, p->t.est_tokens,
                        p->t.shared_lease, on_redis, p);
        return false;
    }
    if (v.status == 0) return true;
    if (v.status == 429) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)((v.retry_after_ms + 999) / 1000));
        ccp_res_header(res, "retry-after", n);
    }
    ccp_res_access(res)->error_type = v.type;
    ccp_res_send_error(res, v.status, v.type, v.message);
    json_object_put(body);
    return false;
}

bool ccp_teams_check(ccp_worker *w, const ccp_request *req, ccp_response *res, const char *endpoint)
{
    ccp_guard *g = w->app->guard;
    if (!g) return true;
    size_t len;
    const char *key = client_key(req, &len);
    ccp_guard_verdict v;
    ccp_guard_check(g, key, len, endpoint, req->id, &v);
    if (v.status == 0) return true;
    ccp_res_access(res)->error_type = v.type;
    ccp_res_send_error(res, v.status, v.type, v.message);
    return false;
}

void ccp_teams_end(ccp_worker *w, ccp_guard_ticket *t, const ccp_access *acc,
                   const char *request_id)
{
    if (!t->key) return;
    ccp_guard_shared *ts = &t->tenant_shared;
    if (t->shared_held && w->redis) ccp_redis_release(w->redis, t->key_id, false, t->shared_lease);
    if (ts->held && w->redis) ccp_redis_release(w->redis, t->tenant_name, true, t->shared_lease);
    t->shared_held = ts->held = false;
    /* Reconciliation of the shared tpm buckets: the estimate back, what was
     * used taken (nothing used when the request ended without an account). */
    if ((t->shared_tokens || ts->tokens) && w->redis) {
        int64_t used = 0;
        if (acc) {
            ccp_guard_usage c = {.input_tokens = acc->input_tokens,
                                 .output_tokens = acc->output_tokens,
                                 .cache_write_tokens = acc->cache_creation_tokens};
            used = ccp_guard_counted_tokens(&c);
        }
        if (t->shared_tokens)
            ccp_redis_tokens_back(w->redis, t->key_id, false, t->shared_tpm, t->est_tokens - used);
        if (ts->tokens)
            ccp_redis_tokens_back(w->redis, t->tenant_name, true, ts->tpm, t->est_tokens - used);
    }
    t->shared_tokens = ts->tokens = false;
    if (!acc) {
        /* Released without an account (the request ended before one). */
        ccp_guard_usage none = {.status = t->status,
                                .refused = t->refused,
                                .reason = t->reason,
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
    const ccp_price *p = ccp_price_find(w->config, u.provider, u.model);
    if (p) {
        u.priced = true;
        u.spend_usd = ccp_price_cost(p, u.input_tokens, u.output_tokens, u.cache_read_tokens,
                                     u.cache_write_tokens);
    }
    if (t->shared_spend && w->redis && u.spend_usd > 0)
        ccp_redis_spend(w->redis, t->key_id, false, t->shared_period, u.spend_usd);
    if (ts->spend && w->redis && u.spend_usd > 0)
        ccp_redis_spend(w->redis, t->tenant_name, true, ts->period, u.spend_usd);
    t->shared_spend = ts->spend = false;
    ccp_guard_end(w->app->guard, t, &u, now_ms());
}

bool ccp_teams_route(ccp_worker *w, const ccp_config *cfg, ccp_guard_ticket *t,
                     ccp_route_choice *choice, ccp_response *res)
{
    (void)w;
    if (!t->key || !t->tenant_name || !choice->route) return true;
    const ccp_tenant *tc = ccp_tenant_find(cfg, t->tenant_name);
    if (!tc) return true;
    char msg[300];
    if (ccp_tenant_route(cfg, tc, choice, &t->view, NULL, msg, sizeof msg)) return true;
    t->status = 403;
    t->refused = true;
    snprintf(t->reason, sizeof t->reason, "%.190s", msg);
    ccp_res_access(res)->error_type = "permission_error";
    ccp_res_send_error(res, 403, "permission_error", msg);
    return false;
}

void ccp_teams_finish(ccp_worker *w, ccp_guard_ticket *t)
{
    ccp_teams_end(w, t, NULL, NULL);
    free(t->view.targets);
    t->view.targets = NULL;
    t->view.n = 0;
}

int ccp_teams_check_exposure(const ccp_config *cfg, const char *host, ccp_error *err)
{
    char rh[256];
    int rp, rdb;
    if (cfg->state.redis && !ccp_redis_parse_url(cfg->state.redis, rh, sizeof rh, &rp, &rdb))
        return ccp_error_set(err, CCP_ECONFIG,
                             "state.redis must be redis://host[:port][/db], e.g. "
                             "redis://127.0.0.1:6379/0");
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
