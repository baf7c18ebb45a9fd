/* reqtrace.c — the spans of one /v1/messages request (see reqtrace.h). */
#include "obs/reqtrace.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

/* What an attempt's answer said, noted by the tap. */
typedef struct answer {
    char model[128];
    char stop[32];
    int64_t input_tokens, output_tokens; /* -1: not reported */
} answer;

struct ccp_reqtrace {
    ccp_otlp *exp;
    ccp_span server;
    ccp_span client;
    bool client_open;
    ccp_event_sink tap; /* the tap's emit finds t from it (offsetof) */
    ccp_event_sink *next;
    answer cur;           /* the current attempt's */
    answer last;          /* the last attempt that ended with an answer */
    const char *provider; /* the last attempt's, borrowed from the config */
    size_t attempts;
    int status; /* answered to the client; 0: not yet */
    char error_type[48];
    char error_msg[256];
};

const char *ccp_reqtrace_system(ccp_format f)
{
    switch (f) {
    case CCP_FORMAT_ANTHROPIC:
        return "anthropic";
    case CCP_FORMAT_OPENAI_CHAT:
    case CCP_FORMAT_OPENAI_RESPONSES:
        return "openai";
    case CCP_FORMAT_GEMINI:
        return "gcp.gemini";
    }
    return "_OTHER";
}

/* snprintf(dst, cap, "%s", s) without printf: a span is filled on every
 * traced request. */
static void copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void answer_reset(answer *a)
{
    a->model[0] = a->stop[0] = '\0';
    a->input_tokens = a->output_tokens = -1;
}

ccp_reqtrace *ccp_reqtrace_begin(ccp_otlp *exp, const ccp_tracectx *ctx, const char *request_id,
                                 uint64_t start_hr_ns)
{
    if (!exp || !ctx) return NULL;
    if (ctx->has_parent) {
        /* Parent-based: the caller decided whether this trace is kept. */
        if (!(ctx->flags & 1)) return NULL;
    } else if (!ccp_trace_sample(ctx->trace_id, ccp_otlp_sample_ratio(exp))) {
        return NULL;
    }
    /* Owned by the request; freed in ccp_reqtrace_end. */
    ccp_reqtrace *t = ccp_xmalloc(sizeof *t);
    memset(t, 0, offsetof(ccp_reqtrace, server));
    t->exp = exp;
    ccp_span_init(&t->server, CCP_SPAN_SERVER, "POST /v1/messages", ctx->trace_id,
                  ctx->has_parent ? ctx->parent_span_id : NULL);
    memcpy(t->server.span_id, ctx->span_id, 8); /* the id the logs and the provider saw */
    uint64_t now = ccp_trace_now_ns(), hr = uv_hrtime();
    t->server.start_ns = now - (hr > start_hr_ns ? hr - start_hr_ns : 0);
    t->client_open = false;
    t->next = NULL;
    answer_reset(&t->cur);
    answer_reset(&t->last);
    t->provider = NULL;
    t->attempts = 0;
    t->status = 0;
    t->error_type[0] = t->error_msg[0] = '\0';
    ccp_span_str(&t->server, "http.request.method", "POST");
    ccp_span_str(&t->server, "url.path", "/v1/messages");
    ccp_span_str(&t->server, "gen_ai.operation.name", "chat");
    if (request_id) ccp_span_str(&t->server, "ccproxy.request_id", request_id);
    return t;
}

void ccp_reqtrace_route(ccp_reqtrace *t, const ccp_route_choice *choice, const char *client_model,
                        bool stream)
{
    if (!t) return;
    ccp_span_str(&t->server, "gen_ai.request.model", client_model);
    ccp_span_bool(&t->server, "ccproxy.stream", stream);
    ccp_span_str(&t->server, "ccproxy.stage", ccp_stage_name(choice->stage));
    ccp_buf b = CCP_BUF_INIT;
    ccp_route_describe(choice, NULL, client_model, &b);
    ccp_span_strn(&t->server, "ccproxy.route", b.data, b.len);
    ccp_buf_free(&b);
}

/* The answer's attributes, on either span. */
static void answer_attrs(ccp_span *s, const answer *a)
{
    if (a->model[0]) ccp_span_str(s, "gen_ai.response.model", a->model);
    if (a->input_tokens >= 0) ccp_span_int(s, "gen_ai.usage.input_tokens", a->input_tokens);
    if (a->output_tokens >= 0) ccp_span_int(s, "gen_ai.usage.output_tokens", a->output_tokens);
    if (a->stop[0]) ccp_span_str_list1(s, "gen_ai.response.finish_reasons", a->stop);
}

void ccp_reqtrace_attempt_begin(ccp_reqtrace *t, const ccp_target *target, const char *model,
                                size_t attempt)
{
    if (!t) return;
    if (t->client_open) ccp_reqtrace_attempt_end(t, CCP_ECANCELED, 0, "attempt abandoned");
    char name[160] = "chat ";
    const char *m = model ? model : "";
    size_t n = strnlen(m, 150);
    memcpy(name + 5, m, n);
    name[5 + n] = '\0';
    ccp_span *s = &t->client;
    ccp_span_init(s, CCP_SPAN_CLIENT, name, t->server.trace_id, t->server.span_id);
    s->start_ns = ccp_trace_now_ns();
    t->client_open = true;
    t->attempts = attempt + 1;
    t->provider = target->provider->name;
    answer_reset(&t->cur);
    ccp_span_str(s, "gen_ai.operation.name", "chat");
    ccp_span_str(s, "gen_ai.system", ccp_reqtrace_system(target->provider->format));
    ccp_span_str(s, "gen_ai.request.model", model);
    ccp_span_str(s, "ccproxy.provider", target->provider->name);
    ccp_span_int(s, "ccproxy.attempt", (int64_t)attempt + 1);
    ccp_span_bool(s, "ccproxy.fallback", attempt > 0);
}

static int tap_emit(ccp_event_sink *self, const ccp_event *ev)
{
    ccp_reqtrace *t = (ccp_reqtrace *)((char *)self - offsetof(ccp_reqtrace, tap));
    answer *a = &t->cur;
    if (ev->type == CCP_EV_MESSAGE_START || ev->type == CCP_EV_MESSAGE_DELTA) {
        if (ev->type == CCP_EV_MESSAGE_START && ev->model)
            copy_str(a->model, sizeof a->model, ev->model);
        if (ev->type == CCP_EV_MESSAGE_DELTA && ev->stop_reason)
            copy_str(a->stop, sizeof a->stop, ev->stop_reason);
        if (ev->usage.input_tokens >= 0) a->input_tokens = ev->usage.input_tokens;
        if (ev->usage.output_tokens >= 0) a->output_tokens = ev->usage.output_tokens;
    }
    return t->next->emit(t->next, ev);
}

ccp_event_sink *ccp_reqtrace_tap(ccp_reqtrace *t, ccp_event_sink *next)
{
    if (!t) return next;
    t->tap.emit = tap_emit;
    t->next = next;
    return &t->tap;
}

void ccp_reqtrace_attempt_end(ccp_reqtrace *t, int result, int status, const char *error)
{
    if (!t || !t->client_open) return;
    ccp_span *s = &t->client;
    t->client_open = false;
    if (status) ccp_span_int(s, "http.response.status_code", status);
    answer_attrs(s, &t->cur);
    if (t->cur.model[0] || t->cur.stop[0] || t->cur.output_tokens >= 0) t->last = t->cur;
    bool ok = result == 0 && status >= 200 && status < 300 && !error;
    if (!ok) {
        char type[32];
        if (status >= 400 || (status && result == 0))
            snprintf(type, sizeof type, "%d", status);
        else
            snprintf(type, sizeof type, "%s", result ? ccp_error_name(result) : "decode");
        ccp_span_str(s, "error.type", type);
    }
    ccp_span_status(s, ok ? CCP_STATUS_UNSET : CCP_STATUS_ERROR, error);
    s->end_ns = ccp_trace_now_ns();
    ccp_otlp_submit(t->exp, s);
}

void ccp_reqtrace_answer(ccp_reqtrace *t, int status, const char *error_type, const char *message)
{
    if (!t) return;
    t->status = status;
    copy_str(t->error_type, sizeof t->error_type, error_type ? error_type : "");
    copy_str(t->error_msg, sizeof t->error_msg, message ? message : "");
}

void ccp_reqtrace_end(ccp_reqtrace *t, bool client_gone)
{
    if (!t) return;
    if (t->client_open)
        ccp_reqtrace_attempt_end(t, CCP_ECANCELED, 0,
                                 client_gone ? "the client disconnected" : "attempt abandoned");
    ccp_span *s = &t->server;
    if (t->provider) ccp_span_str(s, "ccproxy.provider", t->provider);
    if (t->attempts) ccp_span_int(s, "ccproxy.attempts", (int64_t)t->attempts);
    ccp_span_bool(s, "ccproxy.fallback", t->attempts > 1);
    answer_attrs(s, &t->last);
    if (t->status) ccp_span_int(s, "http.response.status_code", t->status);
    if (client_gone) {
        ccp_span_bool(s, "ccproxy.client_disconnected", true);
        ccp_span_status(s, CCP_STATUS_ERROR, "the client disconnected");
    } else if (t->error_type[0]) {
        ccp_span_str(s, "error.type", t->error_type);
        /* HTTP server spans: a 4xx is the client's problem and leaves the
         * status unset; a 5xx, or an error inside a 200 stream, is ours. */
        if (t->status >= 500 || t->status < 400) ccp_span_status(s, CCP_STATUS_ERROR, t->error_msg);
    }
    s->end_ns = ccp_trace_now_ns();
    ccp_otlp_submit(t->exp, s);
    free(t);
}
