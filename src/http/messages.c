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
#include "debug/capture.h"
#include "exchange/exchange.h"
#include "guard/secrets.h"
#include "obs/metrics.h"
#include "exchange/retry.h"
#include "obs/pstatus.h"
#include "obs/reqtrace.h"
#include "pipeline/pipeline.h"
#include "plugin/plugin.h"
#include "router/route.h"
#include "teams/gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    ccp_redact_sink redact;  /* in front of the chain: error events lose any key */
    ccp_admit_ticket ticket; /* the attempt's provider slot, or its place in the queue */
    ccp_upstream_req *up;    /* NULL once done or cancelled */
    uint64_t sent_ns;        /* when this attempt was sent */
    /* Where the time went (access log, metrics, Server-Timing): the
     * attempts' send-to-end spans added up, the time of that spent in our
     * own upstream callbacks (decoding, writing), and when the current
     * attempt's head came. */
    uint64_t up_span_ns, cb_ns, head_ns;
    ccp_access *acc;                           /* the response's access fields */
    char traceparent[CCP_TRACEPARENT_LEN + 1]; /* sent to the provider */
    bool stream_open;                          /* counted in ccproxy_open_streams */
    int status;                                /* upstream HTTP status; 0 before the head */
    int64_t hint_ms;                           /* the head's wait hint; -1 when none */
    uv_timer_t *retry_timer; /* the wait before a retry; owned here, closed in finish() */
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
    ccp_reqtrace *tr;       /* the request's spans; NULL when not traced */
    ccp_guard_ticket guard; /* the proxy key's hold (teams/gate.h); status set at the end */
    /* Preparing in libuv's thread pool (plugin hosts; see start_attempt):
     * the job, and a drain deadline that passed meanwhile. */
    struct prep_job *prep;
    bool shutdown_pending;
    /* The debug capture of this exchange (debug/capture.h), or NULL; the
     * response's tap hands it to the writer when the response ends. */
    ccp_capture_ex *cap;
    /* Process-isolated event hooks answer later (plugin/plugin.h): an end
     * of the transfer (END_DONE: on_done's judging) or of the decoding
     * (END_COMPLETE: complete_ok's rest) that came while they held events
     * waits here for plugins_settled. */
    enum { END_NONE, END_DONE, END_COMPLETE } end_wait;
    int end_result;
    bool end_has_err;
    ccp_error end_err;
} msg_ctx;

static double ms_since(uint64_t ns)
{
    return (double)(uv_hrtime() - ns) / 1e6;
}

/* Time waited on providers so far: every attempt's send-to-end span (the
 * current one up to now) less what our own callbacks took in between. */
static uint64_t upstream_wait(const msg_ctx *c, uint64_t now)
{
    uint64_t span = c->up_span_ns + (c->up ? now - c->sent_ns : 0);
    return span > c->cb_ns ? span - c->cb_ns : 0;
}

/* Fills the access fields known only at the end; called just before the
 * call that finishes the response (which logs and counts it). */
static void account(msg_ctx *c)
{
    c->acc->upstream_wait_ns = (int64_t)upstream_wait(c, uv_hrtime());
    c->acc->retries = (int)c->ex.retries;
    if (c->wr) {
        const ccp_usage *u = ccp_anthropic_writer_usage(c->wr);
        c->acc->input_tokens = u->input_tokens;
        c->acc->output_tokens = u->output_tokens;
        c->acc->cache_read_tokens = u->cache_read_input_tokens;
        c->acc->cache_creation_tokens = u->cache_creation_input_tokens;
        c->acc->stop_reason = ccp_anthropic_writer_stop_reason(c->wr);
    }
    /* teams: the key's slot back, its tokens reconciled, usage and audit. */
    if (!c->guard.status) c->guard.status = c->aborted ? 499 : 200;
    ccp_teams_end(c->w, &c->guard, c->acc, c->req->id);
}

/* The attempt in flight ended (outcome o): its time is added up and it is
 * counted in the metrics. */
static void attempt_counted(msg_ctx *c, ccp_attempt_outcome o)
{
    c->up_span_ns += uv_hrtime() - c->sent_ns;
    ccp_metrics_attempt(c->w->metrics, c->a.target.provider->name, o);
}

static void free_timer_cb(uv_handle_t *h)
{
    free(h);
}

static void finish(msg_ctx *c)
{
    /* teams: the key's slot back if account() did not give it (the
     * response, and with it req and acc, may be gone by now). */
    ccp_teams_finish(c->w, &c->guard);
    ccp_admit_leave(&c->ticket);
    if (c->stream_open) ccp_metrics_streams(c->w->metrics, -1);
    ccp_reqtrace_end(c->tr, c->aborted);
    atomic_fetch_sub(&c->w->app->in_flight, 1);
    if (c->up) ccp_upstream_cancel(c->up);
    if (c->retry_timer) {
        /* A pending retry dies with the request (the client left, or the
         * server drains); the handle is freed once the loop has closed it. */
        uv_timer_stop(c->retry_timer);
        uv_close((uv_handle_t *)c->retry_timer, free_timer_cb);
    }
    if (c->dec) c->a.codec->decoder_free(c->dec);
    ccp_event_chain_free(&c->chain);
    if (c->wr) ccp_anthropic_writer_free(c->wr);
    if (c->prepared) ccp_attempt_free(&c->a);
    ccp_buf_free(&c->err_body);
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
    /* Server-Timing: where the time before this head went. upstream is the
     * wait on providers, up to the head of the one streaming now; proxy is
     * the time spent in ccproxy itself. */
    uint64_t now = uv_hrtime();
    uint64_t wait = upstream_wait(c, now);
    uint64_t up = c->up && c->head_ns ? c->up_span_ns + (c->head_ns - c->sent_ns) : wait;
    uint64_t total = now - c->req->start_ns;
    ccp_buf b = CCP_BUF_INIT;
    CCP_BUF_LIT(&b, "proxy;dur=");
    ccp_buf_append_ms(&b, total > wait ? total - wait : 0, 1);
    CCP_BUF_LIT(&b, ", upstream;dur=");
    ccp_buf_append_ms(&b, up, 1);
    ccp_res_header(c->res, "server-timing", b.data);
    ccp_buf_reset(&b);
    ccp_route_describe(&c->choice, &c->a.target, c->client_model, &b);
    ccp_exchange_describe(&c->ex, &b);
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
        /* The tree of the client's request (10-20 KiB even for a short one)
         * is not held for the stream's life: nothing can be retried now. */
        ccp_exchange_answered(&c->ex);
        c->stream_open = true;
        ccp_metrics_streams(c->w->metrics, 1);
        ccp_reqtrace_answer(c->tr, 200, NULL, NULL);
    }
    /* Time to first token: the first content delta the client gets. */
    static const char delta[] = "event: content_block_delta";
    if (!c->acc->first_token_ns && len >= sizeof delta - 1 &&
        !memcmp(data, delta, sizeof delta - 1))
        c->acc->first_token_ns = uv_hrtime();
    ccp_res_write(c->res, data, len);
}

/* Ends the exchange with an error: as an HTTP error if nothing was sent yet,
 * else as an SSE error event followed by the end of the stream. */
static void fail_and_finish(msg_ctx *c, int status, const char *type, const char *message)
{
    /* A provider's error may quote the key it was sent (an "invalid key
     * sk-..." answer): every configured secret is cut out before the text
     * reaches the client, the trace or the log. */
    ccp_buf clean = CCP_BUF_INIT;
    ccp_buf_appends(&clean, message ? message : "");
    ccp_secrets_redact(c->cfg, &clean);
    message = clean.data;
    const char *prev_type = NULL, *prev_msg = NULL;
    c->acc->error_type = type;
    c->guard.status = c->stream_started ? 200 : status;
    account(c);
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
        if (c->ex.has_hint) {
            /* The wait the provider asked for (or a breaker's cool-down), so
             * the client backs off as long as it should. */
            char v[32];
            snprintf(v, sizeof v, "%llu", (unsigned long long)((c->ex.hint_ms + 999) / 1000));
            ccp_res_header(c->res, "retry-after", v);
            snprintf(v, sizeof v, "%llu", (unsigned long long)c->ex.hint_ms);
            ccp_res_header(c->res, "retry-after-ms", v);
        }
        ccp_res_send_error(c->res, status, type, message);
    }
    ccp_buf_free(&clean);
    finish(c);
}

static void start_attempt(msg_ctx *c);
static void admit_attempt(msg_ctx *c);
static void send_attempt(msg_ctx *c);

/* This attempt's decoder, writer and outbound request go, before another. */
static void reset_attempt(msg_ctx *c)
{
    if (c->dec) c->a.codec->decoder_free(c->dec);
    c->dec = NULL;
    ccp_event_chain_free(&c->chain);
    ccp_anthropic_writer_free(c->wr);
    c->wr = NULL;
    ccp_attempt_free(&c->a);
    c->prepared = false;
    ccp_admit_leave(&c->ticket);
    ccp_buf_reset(&c->err_body);
    c->head_ns = 0;
    c->hint_ms = -1;
    c->status = 0;
    c->fail_code = 0;
}

/* Moves on to the route's next target (the exchange judged it worth it). */
static void fall_back(msg_ctx *c, const char *why)
{
    const ccp_target *next = &c->choice.route->targets[c->ex.attempt + 1];
    ccp_log_warn("%s provider '%s' %s; falling back to '%s'", c->req->id,
                 c->a.target.provider->name, why, next->provider->name);
    ccp_metrics_fallback(c->w->metrics, c->a.target.provider->name, next->provider->name);
    c->acc->fallback_from = c->a.target.provider->name;
    reset_attempt(c);
    ccp_exchange_next(&c->ex);
    start_attempt(c);
}

static void retry_timer_cb(uv_timer_t *t)
{
    start_attempt(t->data);
}

/* Tries the same target again after delay_ms (the exchange judged it
 * worth it), on the worker's loop; a client that leaves meanwhile
 * cancels the timer (on_abort → finish). */
static void retry(msg_ctx *c, const char *why, uint64_t delay_ms)
{
    ccp_log_warn("%s provider '%s' %s; retry %u in %llu ms", c->req->id, c->a.target.provider->name,
                 why, c->ex.retries, (unsigned long long)delay_ms);
    ccp_metrics_retry(c->w->metrics);
    reset_attempt(c);
    if (!delay_ms) {
        start_attempt(c);
        return;
    }
    if (!c->retry_timer) {
        c->retry_timer = ccp_xmalloc(sizeof *c->retry_timer);
        uv_timer_init(c->w->loop, c->retry_timer);
        c->retry_timer->data = c;
    }
    uv_update_time(c->w->loop);
    uv_timer_start(c->retry_timer, retry_timer_cb, delay_ms, 0);
}

static void on_head(void *ud, int status, const char *content_type, const ccp_upstream_hints *h)
{
    msg_ctx *c = ud;
    c->status = status;
    c->head_ns = uv_hrtime();
    ccp_capture_upstream_head(c->cap, status);
    c->acc->upstream_status = status;
    c->acc->upstream_ttfb_ns = (int64_t)(c->head_ns - c->sent_ns);
    ccp_log_debug("%s upstream %s answered %d (%s) after %.1fms", c->req->id,
                  c->a.target.provider->name, status,
                  content_type ? content_type : "no content-type", ms_since(c->sent_ns));
    if (status < 200 || status >= 300)
        c->hint_ms = ccp_hint_from_head(status, h->retry_after, h->retry_after_ms,
                                        h->reset_requests, h->reset_tokens, time(NULL));
    if (status >= 200 && status < 300) {
        bool sse = content_type && strstr(content_type, "text/event-stream");
        /* An in-stream error may quote the key: redacted before anything
         * (trace, transformers, writer) sees it. */
        ccp_event_sink *first =
            ccp_redact_sink_init(&c->redact, c->cfg, ccp_reqtrace_tap(c->tr, c->chain.head));
        c->dec = c->a.codec->decoder_new(first, sse);
        c->whole_body = !sse;
        c->body_bytes = 0;
    }
}

static int on_data(void *ud, const char *data, size_t len)
{
    msg_ctx *c = ud;
    ccp_capture_upstream_data(c->cap, data, len);
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
    uint64_t t0 = uv_hrtime();
    int rc = c->a.codec->decoder_feed(c->dec, data, len, &c->fail);
    c->cb_ns += uv_hrtime() - t0;
    c->in_upstream_cb--;
    if (rc != 0 && !c->aborted) c->fail_code = rc;
    if (rc == 0 && !c->aborted && ccp_res_congested(c->res)) {
        /* The client reads more slowly than the provider sends: hold the
         * provider back rather than queue its whole answer here. */
        ccp_log_debug("%s: the client is not keeping up; upstream paused", c->req->id);
        ccp_upstream_pause(c->up);
    } else if (rc == 0 && !c->aborted &&
               ccp_plugin_events_held(&c->chain) > CCP_PLUGIN_EVENTS_HIGH) {
        /* The same for a plugin host slower than the provider (resumed in
         * plugins_settled). */
        ccp_log_debug("%s: the event plugins are not keeping up; upstream paused", c->req->id);
        ccp_upstream_pause(c->up);
    }
    return rc != 0 || c->aborted;
}

/* The client read its backlog down: let the provider send again. Runs from
 * the connection's write path, outside the upstream's callbacks. */
static void on_drain(void *ud)
{
    msg_ctx *c = ud;
    if (c->up && ccp_plugin_events_held(&c->chain) <= CCP_PLUGIN_EVENTS_LOW)
        ccp_upstream_resume(c->up);
}

static void complete_rest(msg_ctx *c, int rc, ccp_error *errp);

static void complete_ok(msg_ctx *c)
{
    ccp_error err = {0};
    int rc = c->a.codec->decoder_finish(c->dec, &err);
    if (ccp_plugin_events_held(&c->chain)) {
        /* The last events are still with a plugin host. */
        c->end_wait = END_COMPLETE;
        c->end_result = rc;
        c->end_err = err;
        return;
    }
    complete_rest(c, rc, &err);
}

/* The decoding is over and every event reached the writer. */
static void complete_rest(msg_ctx *c, int rc, ccp_error *errp)
{
    ccp_error err = *errp;
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
        account(c);
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
    c->acc->first_token_ns = uv_hrtime();
    account(c);
    route_header(c);
    ccp_reqtrace_answer(c->tr, 200, NULL, NULL);
    ccp_res_send(c->res, 200, "application/json", body.data, body.len);
    ccp_buf_free(&body);
    finish(c);
}

/* The attempt is over: its outcome goes to the provider's status and the
 * attempt's span. Not called when the client left first (not the
 * provider's doing; the span ends with the request). */
static void attempt_recorded(msg_ctx *c, int result, const ccp_error *err)
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
    ccp_buf clean = CCP_BUF_INIT; /* /status and traces get no echoed key either */
    if (why) {
        ccp_buf_appends(&clean, why);
        ccp_secrets_redact(c->cfg, &clean);
        why = clean.data;
    }
    ccp_pstatus_record(c->w->app->pstatus, c->a.target.provider->name, result, c->status, why);
    ccp_reqtrace_attempt_end(c->tr, result, c->status, why);
    ccp_buf_free(&clean);
}

static void judge(msg_ctx *c, int result, const ccp_error *err);

static void on_done(void *ud, int result, const ccp_error *err)
{
    msg_ctx *c = ud;
    c->up = NULL;                /* the handle is invalid once on_done returns */
    ccp_admit_leave(&c->ticket); /* the transfer is over: its slot frees */
    ccp_capture_upstream_end(c->cap, result, err ? err->msg : NULL);
    ccp_log_debug(
        "%s upstream %s transfer ended: %s after %.1fms", c->req->id, c->a.target.provider->name,
        result == 0 ? "complete" : (err ? err->msg : ccp_error_name(result)), ms_since(c->sent_ns));
    /* A transfer we stopped ourselves (a decoder error, a size cap) is
     * judged by what the provider answered, not by the stop. */
    attempt_counted(c, c->aborted     ? CCP_OUTCOME_CANCELLED
                       : c->fail_code ? ccp_metrics_outcome(0, c->status)
                                      : ccp_metrics_outcome(result, c->status));
    if (c->aborted) {
        account(c);
        ccp_res_end(c->res);
        finish(c);
        return;
    }
    if (ccp_plugin_events_held(&c->chain)) {
        /* Judged once the plugin hosts gave back what they hold: whether
         * the client got an answer yet depends on it. */
        c->end_wait = END_DONE;
        c->end_result = result;
        c->end_has_err = err != NULL;
        if (err) c->end_err = *err;
        return;
    }
    judge(c, result, err);
}

/* The transfer is over and every event reached the writer: done, retried,
 * fallen back or failed. */
static void judge(msg_ctx *c, int result, const ccp_error *err)
{
    attempt_recorded(c, result, err);
    if (c->fail_code) {
        ccp_log_debug("%s decoder stopped the transfer: %s", c->req->id, c->fail.msg);
        fail_and_finish(c, 502, "api_error", c->fail.msg);
        return;
    }
    ccp_attempt_end end = {
        .result = result,
        .status = c->status,
        .answered = c->stream_started,
        .hint_ms = c->hint_ms,
        .body = c->err_body.data,
        .body_len = c->err_body.len,
    };
    uint64_t delay = 0;
    ccp_verdict v = ccp_exchange_judge(&c->ex, &c->a, &end, &delay);
    const char *pname = c->a.target.provider->name;
    if (v == CCP_VERDICT_DONE) {
        complete_ok(c);
        return;
    }
    if (v == CCP_VERDICT_RETRY) {
        char why[64];
        if (result != 0)
            snprintf(why, sizeof why, "%s", result == CCP_ETIMEOUT ? "timed out" : "failed");
        else
            snprintf(why, sizeof why, "answered %d", c->status);
        retry(c, why, delay);
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
    if (c->status >= 300 && c->status < 400) {
        /* Redirects are not followed (upstream.h): a Location could point
         * anywhere, and passing a 3xx on would send the client there. */
        ccp_log_warn("upstream %s answered %d, a redirect: not followed", pname, c->status);
        char redirect[300];
        snprintf(redirect, sizeof redirect,
                 "upstream provider '%s' answered HTTP %d, a redirect, which ccproxy does not "
                 "follow; check its base_url",
                 pname, c->status);
        fail_and_finish(c, 502, "api_error", redirect);
        return;
    }
    const char *type = c->a.codec->map_error(c->status, c->err_body.data ? c->err_body.data : "",
                                             c->err_body.len, &msg);
    ccp_log_warn("upstream %s answered %d (%s)", pname, c->status, type);
    fail_and_finish(c, c->status, type, msg.data ? msg.data : "upstream error");
    ccp_buf_free(&msg);
}

/* ---- process-isolated event hooks (plugin/plugin.h) -------------------
 * Their links answer from libuv's thread pool: after each answer the
 * provider may send again (it was paused above CCP_PLUGIN_EVENTS_HIGH), a
 * link that failed under on_error: fail stops the transfer as a decoder
 * error would, and an end that waited for them goes on. */
static void plugins_settled(void *ud)
{
    msg_ctx *c = ud;
    ccp_error perr = {0};
    int failed = ccp_plugin_events_failed(&c->chain, &perr);
    if (c->up) {
        if (failed) {
            c->fail_code = failed;
            c->fail = perr;
            ccp_upstream_cancel(c->up); /* no callback runs after this: on_done is ours */
            on_done(c, failed, NULL);
        } else if (ccp_plugin_events_held(&c->chain) <= CCP_PLUGIN_EVENTS_LOW &&
                   !ccp_res_congested(c->res)) {
            ccp_upstream_resume(c->up);
        }
        return;
    }
    if (c->end_wait == END_NONE || ccp_plugin_events_held(&c->chain)) return;
    int end = c->end_wait;
    c->end_wait = END_NONE;
    if (end == END_DONE) {
        if (failed && !c->fail_code) {
            c->fail_code = failed;
            c->fail = perr;
        }
        judge(c, c->end_result, c->end_has_err ? &c->end_err : NULL);
    } else {
        complete_rest(c, c->end_result ? c->end_result : failed, &c->end_err);
    }
}

static void plugin_job_begin(void *w)
{
    ((ccp_worker *)w)->prep_jobs++; /* the completion uses the worker's loop */
}

static void plugin_job_end(void *w)
{
    ccp_app_worker_job_done(w);
}

static void on_abort(void *ud)
{
    msg_ctx *c = ud;
    c->aborted = true;
    if (c->prep) return; /* prep_done finishes, once the thread is done with c */
    ccp_log_debug("%s client went away: cancelling the upstream request", c->req->id);
    /* Inside a decoder callback the upstream callback returning will see the
     * flag and stop the transfer; the rest of the teardown happens there. */
    if (c->in_upstream_cb) return;
    if (c->up) {
        ccp_upstream_cancel(c->up);
        c->up = NULL;
        attempt_counted(c, CCP_OUTCOME_CANCELLED);
    }
    account(c);
    ccp_res_end(c->res);
    finish(c);
}

/* The server is stopping and its drain deadline passed: end with an error
 * the client retries (an SSE error event if the stream began, else a 529)
 * rather than let the connection be cut mid-answer. */
static void on_shutdown(void *ud)
{
    msg_ctx *c = ud;
    if (c->aborted) return;
    if (c->prep) {
        c->shutdown_pending = true; /* prep_done ends it */
        return;
    }
    ccp_log_debug("%s drain deadline passed: ending the answer with an error", c->req->id);
    if (c->up) {
        ccp_upstream_cancel(c->up);
        c->up = NULL;
    }
    fail_and_finish(c, 529, "overloaded_error", "ccproxy is shutting down");
}

static void on_header(void *ud, const char *line, size_t len)
{
    ccp_capture_upstream_header(((msg_ctx *)ud)->cap, line, len);
}

static const ccp_upstream_cb upstream_cb = {on_head, on_data, on_done, on_header};
/* The request's budget: upstream.total_timeout_ms, or the client's own
 * timeout (x-stainless-timeout, seconds) when shorter; 0 for none. */
static uint64_t deadline_ms(const ccp_config *cfg, const ccp_request *req)
{
    uint64_t budget = cfg->upstream.total_timeout_ms;
    int64_t client = ccp_client_timeout_ms(ccp_request_header(req, "x-stainless-timeout"));
    if (client > 0 && (!budget || (uint64_t)client < budget)) budget = (uint64_t)client;
    return budget ? ccp_health_now_ms() + budget : 0;
}

/* The exchange frees the request's tree once an attempt is encoded (while
 * it is hot in the cache) and asks for it again here for a retry or a
 * fallback: parsed from the body the connection keeps until the response
 * is done, with the router's edit re-applied. */
static json_object *reload_request(void *ud, ccp_error *err)
{
    msg_ctx *c = ud;
    json_object *body = ccp_json_parse(c->req->body, c->req->body_len, err);
    if (body) ccp_route_reapply(&c->choice, body);
    return body;
}

static const char *header_of(void *ud, const char *name)
{
    return ccp_request_header(ud, name);
}

/* Debug: the route taken, with every target in order. The client's model
 * name goes through ccp_log_field: a newline in it must not forge a line. */
static void log_route(msg_ctx *c)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_route_describe(&c->choice, NULL, c->client_model, &b);
    ccp_buf_appends(&b, "; targets=");
    for (size_t i = 0; i < c->choice.route->n; i++) {
        const ccp_target *t = &c->choice.route->targets[i];
        ccp_buf_printf(&b, "%s%s/", i ? "," : "", t->provider->name);
        ccp_log_field(&b, t->model ? t->model : c->client_model, 256);
    }
    ccp_buf_appends(&b, "; client model=");
    ccp_log_field(&b, c->client_model, 256);
    ccp_log_debug("%s route: %s", c->req->id, b.data);
    ccp_buf_free(&b);
}

/* Debug: what this attempt sends. The URL without user info or query
 * (keys may live there), header names without their values. */
static void log_attempt(msg_ctx *c)
{
    const ccp_provider *p = c->a.target.provider;
    ccp_buf u = CCP_BUF_INIT, h = CCP_BUF_INIT, m = CCP_BUF_INIT;
    ccp_log_url(&u, c->a.out.url.data);
    /* The model may be the client's own name: escaped like log_route's. */
    ccp_log_field(&m, c->a.target.model ? c->a.target.model : c->client_model, 256);
    for (size_t i = 0; i < c->a.out.n_headers; i++) {
        const char *line = c->a.out.headers[i];
        ccp_buf_printf(&h, "%s%.*s", i ? "," : "", (int)strcspn(line, ":"), line);
    }
    ccp_log_debug("%s attempt %zu/%zu: provider=%s format=%s model=%s POST %s headers=%s "
                  "body=%zu bytes stream=%s",
                  c->req->id, c->ex.attempt + 1, c->choice.route->n, p->name,
                  ccp_format_name(p->format), m.data, u.data, h.data ? h.data : "",
                  c->a.out.body.len, c->stream ? "yes" : "no");
    ccp_buf_free(&m);
    ccp_buf_free(&u);
    ccp_buf_free(&h);
}

/* The provider has no slot for this attempt: the next target if one
 * remains, else 529 overloaded_error (the type Anthropic's own overload
 * has, which Claude Code retries). Our own limit says nothing of the
 * provider's health, so neither its breaker nor its retries count it. */
static void overloaded(msg_ctx *c, const char *why)
{
    if (!c->stream_started && ccp_exchange_has_next(&c->ex)) {
        fall_back(c, why);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "provider '%s' %s", c->a.target.provider->name, why);
    ccp_log_warn("%s %s", c->req->id, msg);
    fail_and_finish(c, 529, "overloaded_error", msg);
}

static void admitted(void *ud, int result)
{
    msg_ctx *c = ud;
    if (result == 0) {
        send_attempt(c);
        return;
    }
    char why[160];
    snprintf(why, sizeof why,
             "is overloaded: no request slot freed within queue_timeout_ms (%u ms)",
             c->a.target.provider->queue_timeout_ms);
    overloaded(c, why);
}

/* May this attempt start now? At once, after a wait in the provider's
 * queue (admitted), or not at all. */
static void admit_attempt(msg_ctx *c)
{
    const ccp_provider *p = c->a.target.provider;
    int rc = ccp_admit_enter(c->w->admit, p, &c->ticket, admitted, c);
    if (rc == 0) {
        send_attempt(c);
    } else if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why,
                 "is overloaded: %d requests in flight (max_in_flight) and %d waiting (max_queue)",
                 p->max_in_flight, p->max_queue);
        overloaded(c, why);
    } else {
        ccp_log_debug("%s provider %s: all %d slots taken; waiting", c->req->id, p->name,
                      p->max_in_flight);
    }
}

/* ---- preparing off the loop (plugin hosts) ----------------------------
 * A process-isolated plugin's request and outbound hooks wait on its host
 * for up to their timeout_ms. Such attempts are prepared in libuv's thread
 * pool, and the worker's loop serves other requests meanwhile; while the
 * job runs, only prep_done touches c (on_abort and on_shutdown defer to
 * it). Everything else is prepared on the loop, as before. Routing by a
 * process-isolated router.script goes the same way (route). */
typedef struct prep_job {
    uv_work_t work;
    msg_ctx *c;
    bool route; /* the job routes (ccp_route_pick) rather than prepares */
    int rc;
    ccp_prep_error e;
    ccp_error rerr;
} prep_job;

static void attempt_prepared(msg_ctx *c, int rc, ccp_prep_error *e);
static void routed(msg_ctx *c, int rc, const ccp_error *err);
static const char *header_of(void *ud, const char *name);

static bool prepare_off_loop(const msg_ctx *c)
{
    if (ccp_plugin_pipeline_blocks(c->choice.pipeline)) return true;
    for (size_t i = c->ex.attempt; i < c->choice.route->n; i++)
        if (ccp_plugin_pipeline_blocks(
                ccp_route_target_pipeline(&c->choice.route->targets[i], c->client_model)))
            return true;
    return false;
}

static void prep_work(uv_work_t *w)
{
    prep_job *j = w->data;
    if (j->route)
        j->rc = ccp_route_pick(j->c->cfg, j->c->ex.request, header_of, (void *)j->c->req,
                               &j->c->choice, &j->rerr);
    else
        j->rc = ccp_exchange_prepare(&j->c->ex, &j->c->a, &j->e);
}

static void prep_ended(uv_work_t *w, int status);

/* The job is counted on the worker (prep_jobs) until its completion has
 * run: the connection may be gone by then (the server stopping), and the
 * worker must outlive the completion, which uses it. */
static void prep_done(uv_work_t *w, int status)
{
    ccp_worker *wk = ((prep_job *)w->data)->c->w;
    prep_ended(w, status);
    ccp_app_worker_job_done(wk); /* last: may free wk */
}

static void prep_ended(uv_work_t *w, int status)
{
    prep_job *j = w->data;
    msg_ctx *c = j->c;
    int rc = j->rc;
    bool route = j->route;
    ccp_prep_error e = j->e;
    ccp_error rerr = j->rerr;
    free(j);
    c->prep = NULL;
    (void)status;
    if (route && c->shutdown_pending && !c->aborted) {
        ccp_res_send_error(c->res, 529, "overloaded_error", "ccproxy is shutting down");
        finish(c);
        return;
    }
    if (c->aborted || c->shutdown_pending) {
        c->prepared = !route && rc == 0; /* finish() frees it */
        if (c->aborted) {
            account(c);
            ccp_res_end(c->res);
            finish(c);
        } else {
            fail_and_finish(c, 529, "overloaded_error", "ccproxy is shutting down");
        }
        return;
    }
    if (route)
        routed(c, rc, &rerr);
    else
        attempt_prepared(c, rc, &e);
}

/* Prepares the attempt at the exchange's current target and sends it. */
static void start_attempt(msg_ctx *c)
{
    if (prepare_off_loop(c)) {
        prep_job *j = ccp_xcalloc(1, sizeof *j); /* freed in prep_done */
        j->c = c;
        j->work.data = j;
        c->prep = j;
        if (uv_queue_work(ccp_res_loop(c->res), &j->work, prep_work, prep_done) == 0) {
            c->w->prep_jobs++;
            return;
        }
        c->prep = NULL;
        free(j);
    }
    ccp_prep_error e;
    int rc = ccp_exchange_prepare(&c->ex, &c->a, &e);
    attempt_prepared(c, rc, &e);
}

static void attempt_prepared(msg_ctx *c, int rc, ccp_prep_error *ep)
{
    ccp_prep_error e = *ep;
    /* The target tried: preparing may have skipped some (breaker open). */
    const ccp_target *t = &c->choice.route->targets[c->ex.attempt];
    ccp_res_log_info(c->res, t->provider->name, t->model ? t->model : c->client_model, c->stream);
    if (rc != 0) {
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
    /* Plugin event hooks keep this ctx (plugin/plugin.h) for the answer. */
    ccp_plugin_ctx pctx = {c->ex.request_id,
                           ccp_stage_name(c->choice.stage),
                           c->a.target.provider->name,
                           c->a.target.model,
                           NULL,
                           0};
    const ccp_plugin_ctx *prev_pctx = ccp_plugin_ctx_set(&pctx);
    ccp_event_chain_build(&c->chain, c->a.pipeline, ccp_anthropic_writer_sink(c->wr));
    ccp_event_chain_push(&c->chain, c->a.rule_pipeline);
    ccp_plugin_ctx_set(prev_pctx);
    ccp_plugin_events_async pa = {c->w->loop,     c->cfg, plugins_settled, c, plugin_job_begin,
                                  plugin_job_end, c->w};
    ccp_plugin_events_make_async(&c->chain, &pa);
    admit_attempt(c);
}

/* Sends the prepared attempt (its provider slot is held). */
static void send_attempt(msg_ctx *c)
{
    if (ccp_log_enabled(CCP_LOG_DEBUG)) log_attempt(c);
    ccp_reqtrace_attempt_begin(c->tr, &c->a.target,
                               c->a.target.model ? c->a.target.model : c->client_model,
                               c->ex.attempt);
    ccp_capture_attempt(c->cap, c->ex.attempt, c->a.target.provider->name,
                        ccp_format_name(c->a.target.provider->format),
                        c->a.target.model ? c->a.target.model : c->client_model, c->a.out.url.data,
                        c->a.out.headers, c->a.out.n_headers, c->a.out.body.data,
                        c->a.out.body.len);
    c->sent_ns = uv_hrtime();
    c->acc->attempts++;
    ccp_upstream_send_opts so = {
        .method = "POST",
        .url = c->a.out.url.data,
        .headers = c->a.out.headers,
        .n_headers = c->a.out.n_headers,
        .body = c->a.out.body.data,
        .body_len = c->a.out.body.len,
        .provider = c->a.target.provider,
    };
    if (c->ex.deadline_ms) {
        /* The transfer gets what remains of the request's deadline. */
        uint64_t now = ccp_health_now_ms();
        so.timeout_ms = c->ex.deadline_ms > now ? (uint32_t)(c->ex.deadline_ms - now) : 1;
    }
    c->up = ccp_upstream_send(c->w->upstream, &so, &upstream_cb, c);
}

static void messages_go(ccp_worker *w, const ccp_request *req, ccp_response *res, json_object *body,
                        const ccp_guard_ticket *guard);

void ccp_app_messages(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    json_object *body = ccp_app_parse_body(req, res);
    if (!body) return;
    /* Once, before routing: the router, the hooks and the codecs then read
     * a tree of the shape they expect, and the client learns which field
     * is wrong by its path. */
    ccp_error verr = {0};
    if (ccp_request_validate(body, &verr) != 0) {
        json_object_put(body);
        ccp_res_send_error(res, 400, "invalid_request_error", verr.msg);
        return;
    }
    /* teams: the proxy key, its model globs and its limits (answers 401,
     * 403 or 429 itself, or asks Redis and goes on in messages_go). */
    ccp_guard_ticket guard;
    if (!ccp_teams_admit(w, req, res, body, &guard, messages_go)) return;
    messages_go(w, req, res, body, &guard);
}

/* The rest of POST /v1/messages once the request is admitted. */
static void messages_go(ccp_worker *w, const ccp_request *req, ccp_response *res, json_object *body,
                        const ccp_guard_ticket *guard)
{

    msg_ctx *c = ccp_xcalloc(1, sizeof *c);
    atomic_fetch_add(&w->app->in_flight, 1);
    c->tr = ccp_reqtrace_begin(w->app->otlp, req->trace, req->id, req->start_ns);
    c->w = w;
    c->res = res;
    c->req = req;
    c->guard = *guard;
    c->cfg = ccp_config_ref(w->config);
    if ((c->cap = ccp_capture_begin(w->app->capture, req, c->cfg)))
        ccp_res_tap(res, ccp_capture_client, c->cap);
    c->stream = ccp_json_get_bool(body, "stream", false);
    c->client_model = ccp_xstrdup(ccp_json_get_str(body, "model"));
    c->ex = (ccp_exchange){
        .choice = &c->choice,
        .request = body,
        .client_model = c->client_model,
        .stream = c->stream,
        .in_headers = req->headers,
        .n_in_headers = req->n_headers,
        .validated = true,
        .reload = reload_request,
        .reload_ud = c,
        .request_id = req->id,
        .traceparent = c->traceparent,
        .tracestate = ccp_tracectx_state(req->trace, ccp_request_header(req, "tracestate")),
        .health = w->app->health,
        .deadline_ms = deadline_ms(c->cfg, req),
        .rng = uv_hrtime() ^ (uint64_t)(uintptr_t)c,
    };
    c->hint_ms = -1;
    ccp_tracectx_header(req->trace, c->traceparent);
    c->acc = ccp_res_access(res);
    c->acc->model = c->client_model;
    c->acc->stream = c->stream;
    c->acc->has_stream = true;

    if (ccp_plugin_route_blocks(c->cfg)) {
        /* The router's plugin runs in a host: routed off the loop (see
         * prep_job); a client leaving meanwhile is deferred to the job. */
        ccp_res_on_abort(res, on_abort, c);
        ccp_res_on_drain(res, on_drain, c);
        ccp_res_on_shutdown(res, on_shutdown, c);
        prep_job *j = ccp_xcalloc(1, sizeof *j); /* freed in prep_done */
        j->c = c;
        j->route = true;
        j->work.data = j;
        c->prep = j;
        if (uv_queue_work(ccp_res_loop(res), &j->work, prep_work, prep_done) == 0) {
            c->w->prep_jobs++;
            return;
        }
        c->prep = NULL;
        free(j);
    }
    ccp_error err = {0};
    int rc = ccp_route_pick(c->cfg, body, header_of, (void *)req, &c->choice, &err);
    routed(c, rc, &err);
}

/* After routing: the route's first attempt, or the client's 400. */
static void routed(msg_ctx *c, int rc, const ccp_error *errp)
{
    ccp_error err = *errp;
    ccp_response *res = c->res;
    if (rc != 0) {
        c->acc->error_type = "invalid_request_error";
        c->guard.status = 400;
        ccp_reqtrace_answer(c->tr, 400, "invalid_request_error", err.msg);
        ccp_res_send_error(res, 400, "invalid_request_error", err.msg);
        finish(c);
        return;
    }
    /* teams: the route cut down to the key's tenant's providers. */
    if (!ccp_teams_route(c->w, c->cfg, &c->guard, &c->choice, res)) {
        finish(c);
        return;
    }
    c->acc->stage = ccp_stage_name(c->choice.stage);
    c->acc->rule = c->choice.rule ? c->choice.rule->name : NULL;
    if (c->cap) {
        ccp_buf rb = CCP_BUF_INIT;
        ccp_route_describe(&c->choice, NULL, c->client_model, &rb);
        ccp_capture_route(c->cap, c->acc->stage, c->acc->rule, rb.data, c->client_model, c->stream);
        ccp_buf_free(&rb);
    }
    ccp_reqtrace_route(c->tr, &c->choice, c->client_model, c->stream);
    if (ccp_log_enabled(CCP_LOG_DEBUG)) log_route(c);
    ccp_res_on_abort(res, on_abort, c);
    ccp_res_on_drain(res, on_drain, c);
    ccp_res_on_shutdown(res, on_shutdown, c);
    start_attempt(c);
}
