/* exchange.c — preparing and judging upstream attempts (see exchange.h). */
#include "exchange/exchange.h"

#include "core/json.h"
#include "core/log.h"
#include "exchange/retry.h"
#include "plugin/plugin.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

/* Another attempt can still have the client's request. */
static bool has_request(const ccp_exchange *ex)
{
    return !ex->spent && (ex->request || ex->reload);
}

static bool last_attempt(const ccp_exchange *ex)
{
    return ex->attempt + 1 >= ex->choice->route->n;
}

static uint64_t now_ms(const ccp_exchange *ex)
{
    return ex->clock ? ex->clock() : ccp_health_now_ms();
}

/* Tells the breaker how the current attempt ended, once. Returns true
 * when the provider's breaker is open now: no retry of it follows (the
 * client gets this attempt's own error rather than a skip). */
static bool settle(ccp_exchange *ex, const ccp_provider *p, ccp_health_outcome o)
{
    if (!ex->admitted) return false;
    ex->admitted = false;
    ccp_provider_health *ph = ccp_health_of(ex->health, p);
    if (ccp_health_record(ph, p, now_ms(ex), o, ex->probe))
        ccp_log_warn("provider '%s': circuit breaker opened for %u ms after failures", p->name,
                     p->breaker.cooldown_ms);
    return ccp_health_breaker(ph).state == CCP_BREAKER_OPEN;
}

/* No further attempt can follow this one: the last target, its last try,
 * and no other key to switch to. */
static bool final_try(const ccp_exchange *ex, const ccp_provider *p)
{
    return last_attempt(ex) && ex->tries + 1 >= (unsigned)p->retry.attempts && p->keys.n <= 1;
}

static void keep_hint(ccp_exchange *ex, uint64_t ms)
{
    ex->has_hint = true;
    ex->hint_ms = ms;
}

/* Passes over targets the breaker keeps closed to us or whose keys all
 * rest, and chooses the key; 0, or -1 with *e when none remains. */
static int select_target(ccp_exchange *ex, ccp_attempt *a, ccp_prep_error *e)
{
    for (;;) {
        const ccp_provider *p = ex->choice->route->targets[ex->attempt].provider;
        uint64_t now = now_ms(ex), wait = 0;
        const char *why = NULL;
        ex->started_ms = now;
        if (!ex->health) return 0; /* the provider's api_key, no breaker */
        ccp_provider_health *ph = ccp_health_of(ex->health, p);
        bool probe = false;
        if (!ccp_health_admit(ph, p, now, &probe, &wait)) {
            why = "breaker-open";
        } else {
            ex->admitted = true;
            ex->probe = probe;
            if (ex->have_next_key) {
                a->key = ex->next_key;
                ex->have_next_key = false;
            } else if (p->keys.n) {
                ccp_key_pick k = ccp_health_pick_key(ph, p, now, -1);
                /* A retry of this target has waited already (the hint, or
                 * the backoff): it takes the key that rests least rather
                 * than give up on the provider's own answer. */
                a->key = k.index < 0 && ex->tries > 0 ? k.resting : k.index;
                if (a->key < 0) {
                    why = "keys-resting";
                    wait = k.wait_ms;
                    settle(ex, p, CCP_HEALTH_NEUTRAL);
                }
            }
        }
        if (!why) return 0;
        ccp_buf_printf(&ex->skipped, "%s%s(%s)", ex->skipped.len ? "," : "", p->name, why);
        ex->skips++;
        if (!ex->has_hint || wait < ex->hint_ms) keep_hint(ex, wait);
        ccp_log_warn("provider '%s' skipped: %s for another %llu ms", p->name,
                     *why == 'b' ? "its circuit breaker is open" : "every key is rate-limited",
                     (unsigned long long)wait);
        if (!ccp_exchange_next(ex)) {
            bool breaker = *why == 'b';
            e->step = CCP_PREP_UNAVAILABLE;
            e->status = breaker ? 503 : 429;
            e->type = breaker ? "overloaded_error" : "rate_limit_error";
            ccp_error_set(&e->err, CCP_EUPSTREAM,
                          "no provider of the route is available: %s; retry in %llu s",
                          breaker ? "the circuit breaker of the last one is open after repeated "
                                    "failures"
                                  : "every key of the last one is rate-limited",
                          (unsigned long long)((wait + 999) / 1000));
            return -1;
        }
    }
}

static int prep_fail(ccp_prep_error *e, ccp_prep_step step, const ccp_error *err)
{
    e->step = step;
    e->status = step == CCP_PREP_ENCODE ? 400 : 500;
    e->type = step == CCP_PREP_ENCODE ? "invalid_request_error" : "api_error";
    e->err = *err;
    return -1;
}

/* True when out already carries a header of this name (a provider's
 * configured headers win over ours). */
static bool has_header(const ccp_outbound *out, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < out->n_headers; i++)
        if (strncasecmp(out->headers[i], name, n) == 0 && out->headers[i][n] == ':') return true;
    return false;
}

/* The request's correlation ids, so the provider's logs and traces can be
 * joined with ours. */
static void add_correlation(const ccp_exchange *ex, ccp_outbound *out)
{
    if (ex->request_id && !has_header(out, "x-request-id"))
        ccp_outbound_add_header(out, "x-request-id", ex->request_id);
    if (ex->traceparent && !has_header(out, "traceparent"))
        ccp_outbound_add_header(out, "traceparent", ex->traceparent);
    if (ex->traceparent && ex->tracestate && !has_header(out, "tracestate"))
        ccp_outbound_add_header(out, "tracestate", ex->tracestate);
}

int ccp_exchange_prepare(ccp_exchange *ex, ccp_attempt *a, ccp_prep_error *e)
{
    assert(has_request(ex) && ex->attempt < ex->choice->route->n);
    memset(a, 0, sizeof *a);
    ccp_outbound_init(&a->out);
    a->key = -1;
    if (select_target(ex, a, e) != 0) return -1;
    if (!ex->request) {
        /* An earlier attempt took the tree: a retry or a fallback. */
        ccp_error err = {0};
        ex->request = ex->reload(ex->reload_ud, &err);
        if (!ex->request) {
            settle(ex, ex->choice->route->targets[ex->attempt].provider, CCP_HEALTH_NEUTRAL);
            ccp_attempt_free(a);
            return prep_fail(e, CCP_PREP_PIPELINE, &err);
        }
    }
    a->target = ex->choice->route->targets[ex->attempt];
    a->codec = ccp_codec_for(a->target.provider->format);
    a->rule_pipeline = ex->choice->pipeline;
    a->pipeline = ccp_route_target_pipeline(&a->target, ex->client_model);

    /* Request hooks edit the tree they get; encoders never do (they build
     * the body apart, sharing subtrees), and outbound hooks edit only the
     * body's top level. So while another attempt may follow (a retry, a
     * key switch, a fallback) and a request hook will run, the attempt gets
     * a deep copy, and the next starts from the client's own request;
     * without request hooks it shares the client's tree; the final attempt
     * takes the request itself. The copy costs as much as a parse: most
     * attempts have no request hook and pay nothing. With a reload (the
     * server's way), every attempt takes the request itself and the tree
     * is freed right after encoding: freeing it hot costs a fraction of
     * freeing it cold after the answer, and only a retry or a fallback
     * pays for a new parse. */
    bool hooks =
        ccp_pipeline_edits_request(a->rule_pipeline) || ccp_pipeline_edits_request(a->pipeline);
    bool owned = true;
    json_object *req = NULL;
    bool last = final_try(ex, a->target.provider);
    if (last || ex->reload) {
        /* The last try, or a tree the next attempt can rebuild: freed below,
         * once encoded, while hot. */
        req = ex->request;
        ex->request = NULL;
        ex->spent = last;
    } else if (!hooks) {
        req = json_object_get(ex->request);
        owned = false;
    } else if (json_object_deep_copy(ex->request, &req, NULL) != 0) {
        ccp_error err;
        ccp_error_set(&err, CCP_ENOMEM, "out of memory copying the request");
        return prep_fail(e, CCP_PREP_PIPELINE, &err);
    }
    /* Request hooks see the model they are sending to (deepseek's caps
     * depend on it); the encoder sets it in the body anyway. */
    if (owned && a->target.model)
        json_object_object_add(req, "model", json_object_new_string(a->target.model));

    ccp_error err = {0};
    int rc = 0;
    /* What plugin hooks see as ctx, for the hooks of this attempt. */
    ccp_plugin_ctx pctx = {ex->request_id,           ccp_stage_name(ex->choice->stage),
                           a->target.provider->name, a->target.model,
                           ex->in_headers,           ex->n_in_headers};
    const ccp_plugin_ctx *prev_pctx = ccp_plugin_ctx_set(&pctx);
    /* When only plugins edit a validated request, only what they replaced
     * is checked again, not the whole tree (plugin.h). */
    json_object *before = ex->validated && hooks && ccp_plugin_edits_only(a->rule_pipeline) &&
                                  ccp_plugin_edits_only(a->pipeline)
                              ? ccp_plugin_request_mark(req)
                              : NULL;
    if (ccp_pipeline_run_request(a->rule_pipeline, req, &err) != 0 ||
        ccp_pipeline_run_request(a->pipeline, req, &err) != 0) {
        rc = prep_fail(e, CCP_PREP_PIPELINE, &err);
        goto out;
    }
    ccp_encode_ctx ectx = {
        .provider = a->target.provider,
        .model = a->target.model,
        .request = req,
        .stream = ex->stream,
        .in_headers = ex->in_headers,
        .n_in_headers = ex->n_in_headers,
        /* A hook may leave a shape the codec cannot read; the client's
         * own request was validated once on arrival. */
        .shape_checked = ex->validated && (!hooks || ccp_plugin_request_still_checked(before, req)),
        .api_key = a->key >= 0 ? a->target.provider->keys.v[a->key] : NULL,
    };
    if (a->codec->encode(&ectx, &a->out, &err) != 0) {
        rc = prep_fail(e, CCP_PREP_ENCODE, &err);
        goto out;
    }
    add_correlation(ex, &a->out);
    if (ccp_pipeline_run_outbound(a->rule_pipeline, req, &a->out, &err) != 0 ||
        ccp_pipeline_run_outbound(a->pipeline, req, &a->out, &err) != 0) {
        rc = prep_fail(e, CCP_PREP_OUTBOUND, &err);
        goto out;
    }
    ccp_outbound_seal(&a->out);
out:
    ccp_plugin_ctx_set(prev_pctx);
    json_object_put(before);
    json_object_put(req);
    if (rc) {
        settle(ex, a->target.provider, CCP_HEALTH_NEUTRAL);
        ccp_attempt_free(a);
    }
    return rc;
}

void ccp_attempt_free(ccp_attempt *a)
{
    ccp_outbound_free(&a->out);
}

/* A key-specific refusal: the key rests or is parked, and another key may
 * serve at once. Returns true (with ex->next_key set) to switch. */
static bool switch_key(ccp_exchange *ex, const ccp_attempt *a, const ccp_attempt_end *end,
                       int64_t hint, uint64_t now)
{
    const ccp_provider *p = a->target.provider;
    int st = end->status;
    if (!ex->health || a->key < 0 || !(st == 429 || st == 401 || st == 403)) return false;
    ccp_provider_health *ph = ccp_health_of(ex->health, p);
    if (st == 429) {
        /* Without a hint, a lone key does not rest: there is nothing to
         * rotate to, and the retry's backoff is the wait. */
        if (hint < 0 && p->keys.n <= 1) return false;
        uint64_t rest = hint >= 0 ? (uint64_t)hint : ccp_backoff_ceiling(&p->retry, ex->tries);
        ccp_health_rest_key(ph, p, (size_t)a->key, now + rest);
        ccp_log_debug("provider '%s': key #%d rate-limited; it rests %llu ms", p->name, a->key,
                      (unsigned long long)rest);
    } else if (ccp_health_park_key(ph, p, (size_t)a->key)) {
        /* By index only: the key itself is a secret. */
        ccp_log_warn("provider '%s': key #%d of %zu was refused (HTTP %d); it is parked until "
                     "restart",
                     p->name, a->key, p->keys.n, st);
    }
    ccp_key_pick k = ccp_health_pick_key(ph, p, now, a->key);
    if (k.index < 0 || !k.healthy || k.index == a->key) return false;
    ex->have_next_key = true;
    ex->next_key = k.index;
    return true;
}

ccp_verdict ccp_exchange_judge(ccp_exchange *ex, const ccp_attempt *a, const ccp_attempt_end *end,
                               uint64_t *delay_ms)
{
    *delay_ms = 0;
    const ccp_provider *p = a->target.provider;
    uint64_t now = now_ms(ex);
    bool ok = end->result == 0 && end->status >= 200 && end->status < 300;
    /* A 4xx is the provider answering; a broken transfer, a timeout or a
     * 5xx (529 included) is it being unwell. */
    bool unwell = end->result != 0 || end->status >= 500;
    bool open = p && settle(ex, p, ok || !unwell ? CCP_HEALTH_OK : CCP_HEALTH_FAIL);
    if (ok) return CCP_VERDICT_DONE;

    int64_t hint = end->hint_ms;
    if (hint < 0 && end->status == 429) hint = ccp_hint_google_body(end->body, end->body_len);
    if (hint >= 0) keep_hint(ex, (uint64_t)hint);
    bool in_time = !ex->deadline_ms || now < ex->deadline_ms;
    if (!in_time) ex->deadline_hit = true;
    bool again = !end->answered && has_request(ex) && in_time && p;

    if (again && switch_key(ex, a, end, hint, now)) {
        ex->retries++;
        return CCP_VERDICT_RETRY;
    }
    bool retryable = end->result != 0 || ccp_retry_status(end->status);
    if (again && retryable && !open && ex->tries + 1 < (unsigned)p->retry.attempts) {
        bool go = true;
        uint64_t d;
        if (hint >= 0) {
            /* A provider that asks for longer than we will wait is not
             * asked again; its hint goes to the client. */
            d = (uint64_t)hint;
            go = d <= p->retry.max_wait_ms;
        } else {
            d = ccp_backoff_delay(&p->retry, ex->tries, &ex->rng);
        }
        /* This try's duration is the best guess of the next one's: a
         * retry that cannot end before the deadline is not started. */
        if (go && ex->deadline_ms && now + d + (now - ex->started_ms) >= ex->deadline_ms) {
            go = false;
            ex->deadline_hit = true;
        }
        if (go) {
            ex->tries++;
            ex->retries++;
            ex->last_delay_ms = d;
            *delay_ms = d;
            return CCP_VERDICT_RETRY;
        }
    }
    /* Overload, server errors and a failed transport are worth another
     * provider; a 4xx other than 408/429 would fail the same way there. */
    bool worth_another =
        end->result != 0 || end->status == 408 || end->status == 429 || end->status >= 500;
    if (worth_another && !end->answered && has_request(ex) && in_time && !last_attempt(ex))
        return CCP_VERDICT_FALL_BACK;
    return CCP_VERDICT_FAIL;
}

void ccp_exchange_describe(const ccp_exchange *ex, ccp_buf *out)
{
    if (ex->skipped.len) ccp_buf_printf(out, "; skipped=%s", ex->skipped.data);
    if (ex->retries) ccp_buf_printf(out, "; retries=%u", ex->retries);
}

void ccp_exchange_answered(ccp_exchange *ex)
{
    json_object_put(ex->request);
    ex->request = NULL;
    ex->spent = true;
}

bool ccp_exchange_has_next(const ccp_exchange *ex)
{
    return has_request(ex) && !last_attempt(ex);
}

bool ccp_exchange_next(ccp_exchange *ex)
{
    if (!has_request(ex) || last_attempt(ex)) return false;
    ex->attempt++;
    ex->fallbacks++;
    ex->tries = 0;
    ex->have_next_key = false;
    return true;
}

void ccp_exchange_free(ccp_exchange *ex)
{
    if (ex->admitted)
        settle(ex, ex->choice->route->targets[ex->attempt].provider, CCP_HEALTH_NEUTRAL);
    json_object_put(ex->request);
    ex->request = NULL;
    ccp_buf_free(&ex->skipped);
}
