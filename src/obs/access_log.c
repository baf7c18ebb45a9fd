/* access_log.c — the access-log line, as text or JSON (see access.h).
 *
 * Every value a client controls (method, path, models, session id, route)
 * goes through ccp_log_field or ccp_log_json_field, capped: a model name
 * holding a newline or a quote can forge neither a line nor a field. No
 * header value other than the session id is logged, so no key can be. */
#include "obs/access.h"

#include "core/log.h"

#include <string.h>

/* Client-controlled fields are capped at this many bytes in the log. */
#define LOG_FIELD_MAX 256

void ccp_access_init(ccp_access *a)
{
    memset(a, 0, sizeof *a);
    a->upstream_ttfb_ns = -1;
    a->input_tokens = a->output_tokens = -1;
    a->cache_read_tokens = a->cache_creation_tokens = -1;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

double ccp_access_overhead_ms(const ccp_access_rec *r)
{
    uint64_t dur = r->end_ns - r->start_ns;
    uint64_t wait =
        r->info && r->info->upstream_wait_ns > 0 ? (uint64_t)r->info->upstream_wait_ns : 0;
    return wait < dur ? ms(dur - wait) : 0.0;
}

static uint64_t overhead_ns(const ccp_access_rec *r)
{
    uint64_t dur = r->end_ns - r->start_ns;
    uint64_t wait =
        r->info && r->info->upstream_wait_ns > 0 ? (uint64_t)r->info->upstream_wait_ns : 0;
    return wait < dur ? dur - wait : 0;
}

/* The text line, as it has always been: tools parse it. */
void ccp_access_format_text(const ccp_access_rec *r, ccp_buf *b)
{
    const ccp_access *a = r->info;
    ccp_buf_appends(b, r->id);
    ccp_buf_appendc(b, ' ');
    ccp_log_field(b, r->method, LOG_FIELD_MAX);
    ccp_buf_appendc(b, ' ');
    ccp_log_field(b, r->path, LOG_FIELD_MAX);
    ccp_buf_appendc(b, ' ');
    ccp_buf_append_i64(b, r->status);
    CCP_BUF_LIT(b, " provider=");
    ccp_log_field(b, a ? a->provider : NULL, LOG_FIELD_MAX);
    CCP_BUF_LIT(b, " model=");
    ccp_log_field(b, a ? a->upstream_model : NULL, LOG_FIELD_MAX);
    if (a && a->stream)
        CCP_BUF_LIT(b, " stream=yes ");
    else
        CCP_BUF_LIT(b, " stream=no ");
    ccp_buf_append_ms(b, r->end_ns - r->start_ns, 1);
    CCP_BUF_LIT(b, "ms in=");
    ccp_buf_append_u64(b, r->bytes_in);
    CCP_BUF_LIT(b, " out=");
    ccp_buf_append_u64(b, r->bytes_out);
    if (r->client_gone) CCP_BUF_LIT(b, " (client gone)");
    if (a && a->route) {
        CCP_BUF_LIT(b, " route=");
        ccp_log_field(b, a->route, 2 * LOG_FIELD_MAX);
    }
}

/* The JSON fields, each `,"name":value`; the names are literals, so each
 * name with its quotes, colon and leading comma is one constant copy. */
#define JSTR(b, name, v, max)                                                                      \
    do {                                                                                           \
        CCP_BUF_LIT(b, ",\"" name "\":");                                                          \
        ccp_log_json_field(b, v, max);                                                             \
    } while (0)
#define JINT(b, name, v, known)                                                                    \
    do {                                                                                           \
        CCP_BUF_LIT(b, ",\"" name "\":");                                                          \
        if (known)                                                                                 \
            ccp_buf_append_i64(b, (long long)(v));                                                 \
        else                                                                                       \
            CCP_BUF_LIT(b, "null");                                                                \
    } while (0)
#define JMS(b, name, ns, known)                                                                    \
    do {                                                                                           \
        CCP_BUF_LIT(b, ",\"" name "\":");                                                          \
        if (known)                                                                                 \
            ccp_buf_append_ms(b, ns, 3);                                                           \
        else                                                                                       \
            CCP_BUF_LIT(b, "null");                                                                \
    } while (0)
#define JBOOL(b, name, v)                                                                          \
    do {                                                                                           \
        if (v)                                                                                     \
            CCP_BUF_LIT(b, ",\"" name "\":true");                                                  \
        else                                                                                       \
            CCP_BUF_LIT(b, ",\"" name "\":false");                                                 \
    } while (0)

/* Every field is always present (null when unknown), in this order, so a
 * log pipeline can rely on the shape. docs/observability.md lists them. */
void ccp_access_format_json(const ccp_access_rec *r, ccp_buf *b)
{
    static const ccp_access none = {.upstream_ttfb_ns = -1,
                                    .input_tokens = -1,
                                    .output_tokens = -1,
                                    .cache_read_tokens = -1,
                                    .cache_creation_tokens = -1};
    const ccp_access *a = r->info ? r->info : &none;
    const ccp_tracectx *t = r->trace;
    CCP_BUF_LIT(b, "\"msg\":\"request\"");
    JSTR(b, "request_id", r->id, LOG_FIELD_MAX);
    JSTR(b, "trace_id", t ? t->trace_hex : NULL, 64);
    JSTR(b, "span_id", t ? t->span_hex : NULL, 64);
    JSTR(b, "parent_span_id", t && t->has_parent ? t->parent_hex : NULL, 64);
    JSTR(b, "session_id", r->session_id, LOG_FIELD_MAX);
    JSTR(b, "method", r->method, LOG_FIELD_MAX);
    JSTR(b, "path", r->path, LOG_FIELD_MAX);
    JINT(b, "status", r->status, r->status != 0);
    JSTR(b, "client", r->client, 64);
    JSTR(b, "stage", a->stage, 64);
    JSTR(b, "rule", a->rule, LOG_FIELD_MAX);
    JSTR(b, "route", a->route, 2 * LOG_FIELD_MAX);
    JSTR(b, "provider", a->provider, LOG_FIELD_MAX);
    JSTR(b, "model", a->model, LOG_FIELD_MAX);
    JSTR(b, "upstream_model", a->upstream_model, LOG_FIELD_MAX);
    if (a->has_stream)
        JBOOL(b, "stream", a->stream);
    else
        CCP_BUF_LIT(b, ",\"stream\":null");
    JINT(b, "attempts", a->attempts, true);
    JINT(b, "retries", a->retries, true);
    JSTR(b, "fallback_from", a->fallback_from, LOG_FIELD_MAX);
    JINT(b, "upstream_status", a->upstream_status, a->upstream_status != 0);
    JSTR(b, "error_type", a->error_type, 64);
    JMS(b, "ttfb_ms", r->head_ns - r->start_ns, r->head_ns != 0);
    JMS(b, "upstream_ttfb_ms", (uint64_t)a->upstream_ttfb_ns, a->upstream_ttfb_ns >= 0);
    JMS(b, "duration_ms", r->end_ns - r->start_ns, true);
    JMS(b, "overhead_ms", overhead_ns(r), true);
    CCP_BUF_LIT(b, ",\"bytes_in\":");
    ccp_buf_append_u64(b, r->bytes_in);
    CCP_BUF_LIT(b, ",\"bytes_out\":");
    ccp_buf_append_u64(b, r->bytes_out);
    JINT(b, "input_tokens", a->input_tokens, a->input_tokens >= 0);
    JINT(b, "output_tokens", a->output_tokens, a->output_tokens >= 0);
    JINT(b, "cache_read_tokens", a->cache_read_tokens, a->cache_read_tokens >= 0);
    JINT(b, "cache_creation_tokens", a->cache_creation_tokens, a->cache_creation_tokens >= 0);
    JSTR(b, "stop_reason", a->stop_reason, 64);
    JBOOL(b, "client_gone", r->client_gone);
}

/* One buffer, sized once for a usual line, holds the whole line, head
 * included; one write(2) sends it. */
void ccp_access_log(const ccp_access_rec *r)
{
    if (!ccp_log_enabled(CCP_LOG_INFO)) return;
    ccp_log_format f = ccp_log_get_format();
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_reserve(&b, 1024);
    ccp_log_line_head(&b, f, CCP_LOG_INFO);
    if (f == CCP_LOG_JSON) {
        ccp_buf_appendc(&b, ',');
        ccp_access_format_json(r, &b);
    } else {
        ccp_access_format_text(r, &b);
    }
    ccp_log_line_write(&b, f);
    ccp_buf_free(&b);
}
