/* messages.c — POST /v1/messages: the HTTP side of the proxy path.
 *
 * parse → route → exchange (prepare an attempt) → upstream → codec.decode
 * → events → Anthropic writer → client. Which target is tried, how its
 * request is built and what a finished attempt means are the exchange's
 * (src/exchange/); this file owns the connection, the transfer and the
 * writer. One msg_ctx per request, freed exactly once in finish() when the
 * response is done or the client has gone. Streaming and non-streaming
 * share this one path: the writer either frames each event as SSE at once
 * or accumulates the message. */
#include "http/app.h"

#include "codec/anthropic_writer.h"
#include "codec/codec.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/log.h"
#include "exchange/exchange.h"
#include "obs/health.h"
#include "obs/reqtrace.h"
#include "pipeline/pipeline.h"
#include "router/route.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

/* Cap on an upstream error body we keep to build our error message. */
#define ERR_BODY_MAX (64 * 1024)

typedef struct msg_ctx {
    ccp_worker *w;
    ccp_response *res;
    ccp_config *cfg;         /* a reference held for the request's life */
    bool stream;             /* the client asked for SSE */
    const ccp_request *req;  /* the client's request (lives as long as res) */
    char *client_model;      /* owned */
    ccp_route_choice choice; /* owned */
    ccp_exchange ex;         /* the attempts along the route; owns the request tree */
    ccp_attempt a;           /* the current attempt: target, codec, outbound request */
    bool prepared;           /* a holds a prepared attempt */
    ccp_event_chain chain;   /* the pipeline's event hooks in front of the writer */
    ccp_upstream_req *up;    /* NULL once done or cancelled */
    uint64_t sent_ns;        /* when this attempt was sent (debug timings) */
    int status;              /* upstream HTTP status; 0 before the head */
    char *retry_after;       /* owned; NULL when absent */
    ccp_buf err_body;        /* the body of a non-2xx answer, capped */
    ccp_decoder *dec;
    bool whole_body;   /* a 2xx JSON answer: the decoder keeps it until the end */
    size_t body_bytes; /* of that answer so far, against upstream.max_response_bytes */
    ccp_anthropic_writer *wr;
    bool stream_started; /* a 200 and SSE headers went out */
    bool aborted;        /* the client disconnected */
    int in_upstream_cb;  /* >0 while inside an upstream callback */
    int fail_code;       /* set when we stopped the transfer ourselves */
    ccp_error fail;
    ccp_reqtrace *tr; /* the request's spans; NULL when not traced */
} msg_ctx;

static double ms_since(uint64_t ns)
{
    return (double)(uv_hrtime() - ns) / 1e6;
}

static void finish(msg_ctx *c)
{
    ccp_reqtrace_end(c->tr, c->aborted);
    atomic_fetch_sub(&c->w->app->in_flight, 1);
    if (c->up) ccp_upstream_cancel(c->up);
    if (c->dec) c->a.codec->decoder_free(c->dec);
    ccp_event_chain_free(&c->chain);
    if (c->wr) ccp_anthropic_writer_free(c->wr);
    if (c->prepared) ccp_attempt_free(&c->a);
    ccp_buf_free(&c->err_body);
    free(c->retry_after);
    ccp_exchange_free(&c->ex);
    free(c->client_model);
    ccp_route_choice_free(&c->choice);
    ccp_config_unref(c->cfg);
    free(c);
}

/* x-ccproxy-route: the stage, how the route was chosen, and the target
 * that served (or failed last). Set once, just before the head goes out. */
static void route_header(msg_ctx *c)
{
    if (!c->choice.route) return;
    ccp_buf b = CCP_BUF_INIT;
    ccp_route_describe(&c->choice, &c->a.target, c->client_model, &b);
    ccp_res_header(c->res, "x-ccproxy-route", b.data);
    ccp_res_log_route(c->res, b.data);
    ccp_buf_free(&b);
}

/* The writer's output, one SSE frame at a time: the first frame sends the
 * status line and headers, so that errors before any event can still be
 * answered with a real HTTP status. */
static void on_frame(void *ud, const char *data, size_t len)
{
    msg_ctx *c = ud;
    if (c->aborted) return;
    if (!c->stream_started) {
        route_header(c);
        ccp_res_header(c->res, "cache-control", "no-cache");
        ccp_res_start_stream(c->res, 200, "text/event-stream; charset=utf-8");
        c->stream_started = true;
        ccp_reqtrace_answer(c->tr, 200, NULL, NULL);
    }
    ccp_res_write(c->res, data, len);
}

/* Ends the exchange with an error: as an HTTP error if nothing was sent yet,
 * else as an SSE error event followed by the end of the stream. */
static void fail_and_finish(msg_ctx *c, int status, const char *type, const char *message)
{
    const char *prev_type = NULL, *prev_msg = NULL;
    ccp_reqtrace_answer(c->tr, c->stream_started ? 200 : status, type, message);
    if (c->stream_started) {
        /* An error the upstream already reported in-stream is not repeated. */
        if (!ccp_anthropic_writer_error(c->wr, &prev_type, &prev_msg)) {
            ccp_event ev = {.type = CCP_EV_ERROR, .error_type = type, .error_message = message};
            ccp_anthropic_writer_sink(c->wr)->emit(ccp_anthropic_writer_sink(c->wr), &ev);
        }
        ccp_res_end(c->res);
    } else {
        route_header(c);
        if (c->retry_after) ccp_res_header(c->res, "retry-after", c->retry_after);
        ccp_res_send_error(c->res, status, type, message);
    }
    finish(c);
}

static void start_attempt(msg_ctx *c);

/* Moves on to the route's next target (the exchange judged it worth it);
 * this attempt's decoder, writer and outbound request go. */
static void fall_back(msg_ctx *c, const char *why)
{
    const ccp_target *next = &c->choice.route->targets[c->ex.attempt + 1];
    ccp_log_warn("%s provider '%s' %s; falling back to '%s'", c->req->id,
                 c->a.target.provider->name, why, next->provider->name);
    if (c->dec) c->a.codec->decoder_free(c->dec);
    c->dec = NULL;
    ccp_event_chain_free(&c->chain);
    ccp_anthropic_writer_free(c->wr);
    c->wr = NULL;
    ccp_attempt_free(&c->a);
    c->prepared = false;
    ccp_buf_reset(&c->err_body);
    free(c->retry_after);
    c->retry_after = NULL;
    c->status = 0;
    c->fail_code = 0;
    ccp_exchange_next(&c->ex);
    start_attempt(c);
}

static void on_head(void *ud, int status, const char *content_type, const char *retry_after)
{
    msg_ctx *c = ud;
    c->status = status;
    ccp_log_debug("%s upstream %s answered %d (%s) after %.1fms", c->req->id,
                  c->a.target.provider->name, status,
                  content_type ? content_type : "no content-type", ms_since(c->sent_ns));
    if (retry_after) c->retry_after = ccp_xstrdup(retry_after);
    if (status >= 200 && status < 300) {
        bool sse = content_type && strstr(content_type, "text/event-stream");
        c->dec = c->a.codec->decoder_new(ccp_reqtrace_tap(c->tr, c->chain.head), sse);
        c->whole_body = !sse;
        c->body_bytes = 0;
    }
}

static int on_data(void *ud, const char *data, size_t len)
{
    msg_ctx *c = ud;
    if (c->aborted) return 1;
    if (!c->dec) {
        size_t room = ERR_BODY_MAX - c->err_body.len;
        ccp_buf_append(&c->err_body, data, len < room ? len : room);
        return 0;
    }
    /* A whole answer is kept in memory until it ends, so its size is capped
     * (a stream is passed on as it arrives; its events have their own cap,
     * CCP_SSE_MAX_EVENT). */
    size_t max = c->cfg->upstream.max_response_bytes;
    if (c->whole_body && (c->body_bytes += len) > max) {
        c->fail_code = ccp_error_set(&c->fail, CCP_ELIMIT,
                                     "the answer of upstream provider '%s' is larger than "
                                     "upstream.max_response_bytes (%zu bytes)",
                                     c->a.target.provider->name, max);
        return 1;
    }
    c->in_upstream_cb++;
    int rc = c->a.codec->decoder_feed(c->dec, data, len, &c->fail);
    c->in_upstream_cb--;
    if (rc != 0 && !c->aborted) c->fail_code = rc;
    if (rc == 0 && !c->aborted && ccp_res_congested(c->res)) {
        /* The client reads more slowly than the provider sends: hold the
         * provider back rather than queue its whole answer here. */
        ccp_log_debug("%s: the client is not keeping up; upstream paused", c->req->id);
        ccp_upstream_pause(c->up);
    }
    return rc != 0 || c->aborted;
}

/* The client read its backlog down: let the provider send again. Runs from
 * the connection's write path, outside the upstream's callbacks. */
static void on_drain(void *ud)
{
    msg_ctx *c = ud;
    if (c->up) ccp_upstream_resume(c->up);
}

static void complete_ok(msg_ctx *c)
{
    ccp_error err = {0};
    int rc = c->a.codec->decoder_finish(c->dec, &err);
    const char *etype = NULL, *emsg = NULL;
    bool upstream_error = ccp_anthropic_writer_error(c->wr, &etype, &emsg);
    const char *stop = ccp_anthropic_writer_stop_reason(c->wr);
    ccp_log_debug("%s decoder end: %s%s%s; stop_reason=%s", c->req->id,
                  rc                                 ? "error: "
                  : upstream_error                   ? "upstream error event: "
                  : ccp_anthropic_writer_done(c->wr) ? "message_stop"
                                                     : "no message_stop",
                  rc ? err.msg : "", !rc && upstream_error ? etype : "", stop ? stop : "none");
    if (c->stream) {
        if (rc != 0 && !upstream_error) {
            fail_and_finish(c, 502, "api_error", err.msg);
            return;
        }
        if (!c->stream_started) {
            /* Nothing at all was decoded: an empty 2xx body. */
            fail_and_finish(c, 502, "api_error", rc ? err.msg : "upstream sent an empty answer");
            return;
        }
        ccp_res_end(c->res);
        finish(c);
        return;
    }
    if (upstream_error) {
        fail_and_finish(c, ccp_error_status_for_type(etype), etype, emsg);
        return;
    }
    ccp_buf body = CCP_BUF_INIT;
    if (rc == 0) rc = ccp_anthropic_writer_message(c->wr, &body, &err);
    if (rc != 0) {
        ccp_buf_free(&body);
        fail_and_finish(c, 502, "api_error", err.msg);
        return;
    }
    route_header(c);
    ccp_reqtrace_answer(c->tr, 200, NULL, NULL);
    ccp_res_send(c->res, 200, "application/json", body.data, body.len);
    ccp_buf_free(&body);
    finish(c);
}

/* The attempt is over: its outcome goes to the provider's health and the
 * attempt's span. Not called when the client left first (not the
 * provider's doing; the span ends with the request). */
static void attempt_ended(msg_ctx *c, int result, const ccp_error *err)
{
    const char *why = NULL;
    char buf[64];
    const char *etype = NULL, *emsg = NULL;
    if (c->fail_code) {
        why = c->fail.msg;
        if (!result) result = c->fail_code;
    } else if (result != 0) {
        why = err ? err->msg : ccp_error_name(result);
    } else if (c->status < 200 || c->status >= 300) {
        snprintf(buf, sizeof buf, "answered HTTP %d", c->status);
        why = buf;
    } else if (c->wr && ccp_anthropic_writer_error(c->wr, &etype, &emsg)) {
        why = emsg; /* an error event inside a 2xx answer */
        result = CCP_EUPSTREAM;
    }
    ccp_health_record(c->w->app->health, c->a.target.provider->name, result, c->status, why);
    ccp_reqtrace_attempt_end(c->tr, result, c->status, why);
}

static void on_done(void *ud, int result, const ccp_error *err)
{
    msg_ctx *c = ud;
    c->up = NULL; /* the handle is invalid once on_done returns */
    ccp_log_debug(
        "%s upstream %s transfer ended: %s after %.1fms", c->req->id, c->a.target.provider->name,
        result == 0 ? "complete" : (err ? err->msg : ccp_error_name(result)), ms_since(c->sent_ns));
    if (c->aborted) {
        ccp_res_end(c->res);
        finish(c);
        return;
    }
    attempt_ended(c, result, err);
    if (c->fail_code) {
        ccp_log_debug("%s decoder stopped the transfer: %s", c->req->id, c->fail.msg);
        fail_and_finish(c, 502, "api_error", c->fail.msg);
        return;
    }
    ccp_attempt_end end = {.result = result, .status = c->status, .answered = c->stream_started};
    ccp_verdict v = ccp_exchange_judge(&c->ex, &end);
    const char *pname = c->a.target.provider->name;
    if (v == CCP_VERDICT_DONE) {
        complete_ok(c);
        return;
    }
    if (result != 0) {
        bool timeout = result == CCP_ETIMEOUT;
        if (v == CCP_VERDICT_FALL_BACK) {
            fall_back(c, timeout ? "timed out" : "failed");
            return;
        }
        char msg[700];
        snprintf(msg, sizeof msg, "upstream provider '%s' %s: %s", pname,
                 timeout ? "timed out" : "failed", err ? err->msg : ccp_error_name(result));
        fail_and_finish(c, timeout ? 504 : 502, timeout ? "timeout_error" : "api_error", msg);
        return;
    }
    if (v == CCP_VERDICT_FALL_BACK) {
        char why[64];
        snprintf(why, sizeof why, "answered %d", c->status);
        fall_back(c, why);
        return;
    }
    ccp_buf msg = CCP_BUF_INIT;
    const char *type = c->a.codec->map_error(c->status, c->err_body.data ? c->err_body.data : "",
                                             c->err_body.len, &msg);
    ccp_log_warn("upstream %s answered %d (%s)", pname, c->status, type);
    fail_and_finish(c, c->status, type, msg.data ? msg.data : "upstream error");
    ccp_buf_free(&msg);
}

static void on_abort(void *ud)
{
    msg_ctx *c = ud;
    c->aborted = true;
    ccp_log_debug("%s client went away: cancelling the upstream request", c->req->id);
    /* Inside a decoder callback the upstream callback returning will see the
     * flag and stop the transfer; the rest of the teardown happens there. */
    if (c->in_upstream_cb) return;
    if (c->up) {
        ccp_upstream_cancel(c->up);
        c->up = NULL;
    }
    ccp_res_end(c->res);
    finish(c);
}

static const ccp_upstream_cb upstream_cb = {on_head, on_data, on_done};

/* Checks the fields every provider needs; the upstream validates the rest. */
static const char *check_request(json_object *body)
{
    json_object *v = ccp_json_get(body, "model");
    if (!v) return "model: field required";
    if (!json_object_is_type(v, json_type_string)) return "model: must be a string";
    v = ccp_json_get(body, "messages");
    if (!v) return "messages: field required";
    if (!json_object_is_type(v, json_type_array)) return "messages: must be an array";
    v = ccp_json_get(body, "stream");
    if (v && !json_object_is_type(v, json_type_boolean)) return "stream: must be a boolean";
    return NULL;
}

static const char *header_of(void *ud, const char *name)
{
    return ccp_request_header(ud, name);
}

/* Debug: the route taken, with every target in order. */
static void log_route(msg_ctx *c)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_route_describe(&c->choice, NULL, c->client_model, &b);
    ccp_buf_appends(&b, "; targets=");
    for (size_t i = 0; i < c->choice.route->n; i++) {
        const ccp_target *t = &c->choice.route->targets[i];
        ccp_buf_printf(&b, "%s%s/%s", i ? "," : "", t->provider->name,
                       t->model ? t->model : c->client_model);
    }
    ccp_log_debug("%s route: %s; client model=%s", c->req->id, b.data, c->client_model);
    ccp_buf_free(&b);
}

/* Debug: what this attempt sends. The URL without user info or query
 * (keys may live there), header names without their values. */
static void log_attempt(msg_ctx *c)
{
    const ccp_provider *p = c->a.target.provider;
    ccp_buf u = CCP_BUF_INIT, h = CCP_BUF_INIT;
    ccp_log_url(&u, c->a.out.url.data);
    for (size_t i = 0; i < c->a.out.n_headers; i++) {
        const char *line = c->a.out.headers[i];
        ccp_buf_printf(&h, "%s%.*s", i ? "," : "", (int)strcspn(line, ":"), line);
    }
    ccp_log_debug("%s attempt %zu/%zu: provider=%s format=%s model=%s POST %s headers=%s "
                  "body=%zu bytes stream=%s",
                  c->req->id, c->ex.attempt + 1, c->choice.route->n, p->name,
                  ccp_format_name(p->format),
                  c->a.target.model ? c->a.target.model : c->client_model, u.data,
                  h.data ? h.data : "", c->a.out.body.len, c->stream ? "yes" : "no");
    ccp_buf_free(&u);
    ccp_buf_free(&h);
}

/* Prepares the attempt at the exchange's current target and sends it. */
static void start_attempt(msg_ctx *c)
{
    const ccp_target *t = &c->choice.route->targets[c->ex.attempt];
    ccp_res_log_info(c->res, t->provider->name, t->model ? t->model : c->client_model, c->stream);
    ccp_prep_error e;
    if (ccp_exchange_prepare(&c->ex, &c->a, &e) != 0) {
        c->a.target = *t; /* for the route header */
        fail_and_finish(c, e.status, e.type, e.err.msg);
        return;
    }
    c->prepared = true;
    c->wr = ccp_anthropic_writer_new(c->stream, c->stream ? on_frame : NULL, c);
    /* Claude Code drops the signed thinking of an answer from the history it
     * sends back when the answer names another model than it asked for, so
     * a routed model would lose its reasoning across tool calls. The served
     * model stays in x-ccproxy-route and the access log. */
    if (c->cfg->server.echo_model == CCP_ECHO_MODEL_CLIENT)
        ccp_anthropic_writer_echo_model(c->wr, c->client_model);
    ccp_event_chain_build(&c->chain, c->a.pipeline, ccp_anthropic_writer_sink(c->wr));
    ccp_event_chain_push(&c->chain, c->a.rule_pipeline);
    if (ccp_log_enabled(CCP_LOG_DEBUG)) log_attempt(c);
    ccp_reqtrace_attempt_begin(c->tr, &c->a.target,
                               c->a.target.model ? c->a.target.model : c->client_model,
                               c->ex.attempt);
    c->sent_ns = uv_hrtime();
    ccp_upstream_send_opts so = {
        .method = "POST",
        .url = c->a.out.url.data,
        .headers = c->a.out.headers,
        .n_headers = c->a.out.n_headers,
        .body = c->a.out.body.data,
        .body_len = c->a.out.body.len,
    };
    c->up = ccp_upstream_send(c->w->upstream, &so, &upstream_cb, c);
}

void ccp_app_messages(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    json_object *body = ccp_app_parse_body(req, res);
    if (!body) return;
    const char *bad = check_request(body);
    if (bad) {
        json_object_put(body);
        ccp_res_send_error(res, 400, "invalid_request_error", bad);
        return;
    }

    msg_ctx *c = ccp_xcalloc(1, sizeof *c);
    atomic_fetch_add(&w->app->in_flight, 1);
    c->tr = ccp_reqtrace_begin(w->app->otlp, ccp_request_header(req, "traceparent"), req->id,
                               req->start_ns);
    c->w = w;
    c->res = res;
    c->req = req;
    c->cfg = ccp_config_ref(w->app->config);
    c->stream = ccp_json_get_bool(body, "stream", false);
    c->client_model = ccp_xstrdup(ccp_json_get_str(body, "model"));
    c->ex = (ccp_exchange){
        .choice = &c->choice,
        .request = body,
        .client_model = c->client_model,
        .stream = c->stream,
        .in_headers = req->headers,
        .n_in_headers = req->n_headers,
    };

    ccp_error err = {0};
    int rc = ccp_route_pick(c->cfg, body, header_of, (void *)req, &c->choice, &err);
    if (rc != 0) {
        ccp_reqtrace_answer(c->tr, 400, "invalid_request_error", err.msg);
        ccp_res_send_error(res, 400, "invalid_request_error", err.msg);
        finish(c);
        return;
    }
    ccp_reqtrace_route(c->tr, &c->choice, c->client_model, c->stream);
    if (ccp_log_enabled(CCP_LOG_DEBUG)) log_route(c);
    ccp_res_on_abort(res, on_abort, c);
    ccp_res_on_drain(res, on_drain, c);
    start_attempt(c);
}
