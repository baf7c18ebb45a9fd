/* exchange.c — preparing and judging upstream attempts (see exchange.h). */
#include "exchange/exchange.h"

#include "core/json.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

static bool last_attempt(const ccp_exchange *ex)
{
    return ex->attempt + 1 >= ex->choice->route->n;
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
}

int ccp_exchange_prepare(ccp_exchange *ex, ccp_attempt *a, ccp_prep_error *e)
{
    assert(ex->request && ex->attempt < ex->choice->route->n);
    memset(a, 0, sizeof *a);
    ccp_outbound_init(&a->out);
    a->target = ex->choice->route->targets[ex->attempt];
    a->codec = ccp_codec_for(a->target.provider->format);
    a->rule_pipeline = ex->choice->pipeline;
    a->pipeline = ccp_route_target_pipeline(&a->target, ex->client_model);

    /* Hooks and encoders edit the tree they get. While later targets
     * remain, that is a copy, so the next starts from the client's own
     * request; the last attempt takes the request itself. */
    json_object *req = NULL;
    if (last_attempt(ex)) {
        req = ex->request;
        ex->request = NULL;
    } else if (json_object_deep_copy(ex->request, &req, NULL) != 0) {
        ccp_error err;
        ccp_error_set(&err, CCP_ENOMEM, "out of memory copying the request");
        return prep_fail(e, CCP_PREP_PIPELINE, &err);
    }
    /* Request hooks see the model they are sending to (deepseek's caps
     * depend on it); the encoder would set it anyway. */
    if (a->target.model)
        json_object_object_add(req, "model", json_object_new_string(a->target.model));

    ccp_error err = {0};
    int rc = 0;
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
        .shape_checked = ex->validated && !ccp_pipeline_edits_request(a->rule_pipeline) &&
                         !ccp_pipeline_edits_request(a->pipeline),
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
    json_object_put(req);
    if (rc) ccp_attempt_free(a);
    return rc;
}

void ccp_attempt_free(ccp_attempt *a)
{
    ccp_outbound_free(&a->out);
}

ccp_verdict ccp_exchange_judge(const ccp_exchange *ex, const ccp_attempt_end *end)
{
    bool ok = end->result == 0 && end->status >= 200 && end->status < 300;
    if (ok) return CCP_VERDICT_DONE;
    /* Overload, server errors and a failed transport are worth another
     * provider; a 4xx other than 408/429 would fail the same way there. */
    bool worth_another =
        end->result != 0 || end->status == 408 || end->status == 429 || end->status >= 500;
    if (worth_another && !end->answered && ex->request && !last_attempt(ex))
        return CCP_VERDICT_FALL_BACK;
    return CCP_VERDICT_FAIL;
}

bool ccp_exchange_next(ccp_exchange *ex)
{
    if (!ex->request || last_attempt(ex)) return false;
    ex->attempt++;
    return true;
}

void ccp_exchange_free(ccp_exchange *ex)
{
    json_object_put(ex->request);
    ex->request = NULL;
}
