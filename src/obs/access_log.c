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

/* The text line, as it has always been: tools parse it. */
void ccp_access_format_text(const ccp_access_rec *r, ccp_buf *b)
{
    const ccp_access *a = r->info;
    ccp_buf_printf(b, "%s ", r->id);
    ccp_log_field(b, r->method, LOG_FIELD_MAX);
    ccp_buf_appendc(b, ' ');
    ccp_log_field(b, r->path, LOG_FIELD_MAX);
    ccp_buf_printf(b, " %d provider=", r->status);
    ccp_log_field(b, a ? a->provider : NULL, LOG_FIELD_MAX);
    ccp_buf_appends(b, " model=");
    ccp_log_field(b, a ? a->upstream_model : NULL, LOG_FIELD_MAX);
    ccp_buf_printf(b, " stream=%s %.1fms in=%llu out=%llu%s", a && a->stream ? "yes" : "no",
                   ms(r->end_ns - r->start_ns), (unsigned long long)r->bytes_in,
                   (unsigned long long)r->bytes_out, r->client_gone ? " (client gone)" : "");
    if (a && a->route) {
        ccp_buf_appends(b, " route=");
        ccp_log_field(b, a->route, 2 * LOG_FIELD_MAX);
    }
}

static void jstr(ccp_buf *b, const char *name, const char *v, size_t max)
{
    ccp_buf_printf(b, ",\"%s\":", name);
    ccp_log_json_field(b, v, max);
}

static void jint(ccp_buf *b, const char *name, long long v, bool known)
{
    if (known)
        ccp_buf_printf(b, ",\"%s\":%lld", name, v);
    else
        ccp_buf_printf(b, ",\"%s\":null", name);
}

static void jms(ccp_buf *b, const char *name, double v, bool known)
{
    if (known)
        ccp_buf_printf(b, ",\"%s\":%.3f", name, v);
    else
        ccp_buf_printf(b, ",\"%s\":null", name);
}

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
    ccp_buf_appends(b, "\"msg\":\"request\"");
    jstr(b, "request_id", r->id, LOG_FIELD_MAX);
    jstr(b, "trace_id", t ? t->trace_hex : NULL, 64);
    jstr(b, "span_id", t ? t->span_hex : NULL, 64);
    jstr(b, "parent_span_id", t && t->has_parent ? t->parent_hex : NULL, 64);
    jstr(b, "session_id", r->session_id, LOG_FIELD_MAX);
    jstr(b, "method", r->method, LOG_FIELD_MAX);
    jstr(b, "path", r->path, LOG_FIELD_MAX);
    jint(b, "status", r->status, r->status != 0);
    jstr(b, "client", r->client, 64);
    jstr(b, "stage", a->stage, 64);
    jstr(b, "rule", a->rule, LOG_FIELD_MAX);
    jstr(b, "route", a->route, 2 * LOG_FIELD_MAX);
    jstr(b, "provider", a->provider, LOG_FIELD_MAX);
    jstr(b, "model", a->model, LOG_FIELD_MAX);
    jstr(b, "upstream_model", a->upstream_model, LOG_FIELD_MAX);
    if (a->has_stream)
        ccp_buf_printf(b, ",\"stream\":%s", a->stream ? "true" : "false");
    else
        ccp_buf_appends(b, ",\"stream\":null");
    ccp_buf_printf(b, ",\"attempts\":%d,\"retries\":%d", a->attempts, a->retries);
    jstr(b, "fallback_from", a->fallback_from, LOG_FIELD_MAX);
    jint(b, "upstream_status", a->upstream_status, a->upstream_status != 0);
    jstr(b, "error_type", a->error_type, 64);
    jms(b, "ttfb_ms", r->head_ns ? ms(r->head_ns - r->start_ns) : 0, r->head_ns != 0);
    jms(b, "upstream_ttfb_ms", a->upstream_ttfb_ns >= 0 ? ms((uint64_t)a->upstream_ttfb_ns) : 0,
        a->upstream_ttfb_ns >= 0);
    jms(b, "duration_ms", ms(r->end_ns - r->start_ns), true);
    jms(b, "overhead_ms", ccp_access_overhead_ms(r), true);
    ccp_buf_printf(b, ",\"bytes_in\":%llu,\"bytes_out\":%llu", (unsigned long long)r->bytes_in,
                   (unsigned long long)r->bytes_out);
    jint(b, "input_tokens", a->input_tokens, a->input_tokens >= 0);
    jint(b, "output_tokens", a->output_tokens, a->output_tokens >= 0);
    jint(b, "cache_read_tokens", a->cache_read_tokens, a->cache_read_tokens >= 0);
    jint(b, "cache_creation_tokens", a->cache_creation_tokens, a->cache_creation_tokens >= 0);
    jstr(b, "stop_reason", a->stop_reason, 64);
    ccp_buf_printf(b, ",\"client_gone\":%s", r->client_gone ? "true" : "false");
}

void ccp_access_log(const ccp_access_rec *r)
{
    if (!ccp_log_enabled(CCP_LOG_INFO)) return;
    ccp_buf b = CCP_BUF_INIT;
    if (ccp_log_get_format() == CCP_LOG_JSON) {
        ccp_access_format_json(r, &b);
        ccp_log_json_line(CCP_LOG_INFO, b.data, b.len);
    } else {
        ccp_access_format_text(r, &b);
        ccp_log_info("%s", b.data);
    }
    ccp_buf_free(&b);
}
