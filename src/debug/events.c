/* events.c — the live feed of finished requests and the last hour's
 * per-minute numbers (see events.h). */
#include "debug/events.h"

#include "core/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MINUTES 60
#define RECENT 200

typedef struct bucket {
    int64_t minute; /* unix minutes; the bucket is stale when not the one asked for */
    uint64_t requests, errors;
    double latency_sum, latency_max, ttft_sum;
    uint64_t ttft_n;
    int64_t input_tokens, output_tokens;
} bucket;

struct ccp_events_sub {
    ccp_events *ev;
    uv_async_t *async; /* freed by its close callback */
    void (*ready)(void *ud);
    void *ud;
    char *q[CCP_EVENTS_QUEUE]; /* a ring of owned JSON texts, under ev->mu */
    size_t head, n;
    uint64_t dropped; /* since the last take, under ev->mu */
    ccp_events_sub *next;
};

struct ccp_events {
    uv_mutex_t mu;
    ccp_events_sub *subs;
    bucket b[MINUTES];
    char *recent[RECENT]; /* a ring of owned JSON texts */
    size_t recent_head, recent_n;
    _Atomic uint64_t dropped;
};

ccp_events *ccp_events_new(void)
{
    ccp_events *ev = ccp_xcalloc(1, sizeof *ev);
    uv_mutex_init(&ev->mu);
    return ev;
}

void ccp_events_free(ccp_events *ev)
{
    if (!ev) return;
    for (size_t i = 0; i < RECENT; i++)
        free(ev->recent[i]);
    uv_mutex_destroy(&ev->mu);
    free(ev);
}

uint64_t ccp_events_dropped(const ccp_events *ev)
{
    return ev ? atomic_load(&ev->dropped) : 0;
}

static double ms(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / 1e6 : 0.0;
}

static void str_field(ccp_buf *b, const char *name, const char *v)
{
    ccp_buf_printf(b, ",\"%s\":", name);
    if (v)
        ccp_buf_append_json_str(b, v, strlen(v));
    else
        ccp_buf_appends(b, "null");
}

void ccp_events_format(const ccp_access_rec *rec, int64_t unix_ms, ccp_buf *out)
{
    const ccp_access *a = rec->info;
    ccp_buf_appends(out, "{\"id\":");
    ccp_buf_append_json_str(out, rec->id, strlen(rec->id));
    ccp_buf_printf(out, ",\"time\":%lld", (long long)unix_ms);
    str_field(out, "method", rec->method);
    str_field(out, "path", rec->path);
    ccp_buf_printf(out, ",\"status\":%d", rec->status);
    str_field(out, "stage", a ? a->stage : NULL);
    str_field(out, "rule", a ? a->rule : NULL);
    str_field(out, "route", a ? a->route : NULL);
    str_field(out, "provider", a ? a->provider : NULL);
    str_field(out, "model", a ? a->model : NULL);
    str_field(out, "upstream_model", a ? a->upstream_model : NULL);
    str_field(out, "fallback_from", a ? a->fallback_from : NULL);
    str_field(out, "error_type", a ? a->error_type : NULL);
    str_field(out, "stop_reason", a ? a->stop_reason : NULL);
    if (a)
        ccp_buf_printf(out,
                       ",\"stream\":%s,\"attempts\":%d,\"retries\":%d,\"upstream_status\":%d,"
                       "\"input_tokens\":%lld,\"output_tokens\":%lld",
                       a->stream ? "true" : "false", a->attempts, a->retries, a->upstream_status,
                       (long long)a->input_tokens, (long long)a->output_tokens);
    if (a && a->first_token_ns)
        ccp_buf_printf(out, ",\"ttft_ms\":%.1f", ms(rec->start_ns, a->first_token_ns));
    else
        ccp_buf_appends(out, ",\"ttft_ms\":null");
    ccp_buf_printf(out, ",\"duration_ms\":%.1f,\"client_gone\":%s}", ms(rec->start_ns, rec->end_ns),
                   rec->client_gone ? "true" : "false");
}

static void count(ccp_events *ev, const ccp_access_rec *rec, int64_t unix_ms)
{
    int64_t minute = unix_ms / 60000;
    bucket *b = &ev->b[minute % MINUTES];
    if (b->minute != minute) *b = (bucket){.minute = minute};
    b->requests++;
    if (rec->status >= 400 || rec->status == 0) b->errors++;
    double d = ms(rec->start_ns, rec->end_ns);
    b->latency_sum += d;
    if (d > b->latency_max) b->latency_max = d;
    const ccp_access *a = rec->info;
    if (a && a->first_token_ns) {
        b->ttft_sum += ms(rec->start_ns, a->first_token_ns);
        b->ttft_n++;
    }
    if (a && a->input_tokens > 0) b->input_tokens += a->input_tokens;
    if (a && a->output_tokens > 0) b->output_tokens += a->output_tokens;
}

void ccp_events_publish(ccp_events *ev, const ccp_access_rec *rec)
{
    if (!ev || rec->admin) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    ccp_buf json = CCP_BUF_INIT;
    ccp_events_format(rec, now, &json);
    uv_mutex_lock(&ev->mu);
    count(ev, rec, now);
    size_t slot = (ev->recent_head + ev->recent_n) % RECENT;
    if (ev->recent_n == RECENT) {
        free(ev->recent[ev->recent_head]);
        ev->recent_head = (ev->recent_head + 1) % RECENT;
        slot = (ev->recent_head + RECENT - 1) % RECENT;
    } else {
        ev->recent_n++;
    }
    ev->recent[slot] = ccp_xstrdup(json.data);
    for (ccp_events_sub *s = ev->subs; s; s = s->next) {
        if (s->n == CCP_EVENTS_QUEUE) {
            s->dropped++;
            atomic_fetch_add(&ev->dropped, 1);
            continue;
        }
        s->q[(s->head + s->n++) % CCP_EVENTS_QUEUE] = ccp_xstrdup(json.data);
        uv_async_send(s->async); /* thread-safe; coalesces */
    }
    uv_mutex_unlock(&ev->mu);
    ccp_buf_free(&json);
}

static void async_cb(uv_async_t *a)
{
    ccp_events_sub *s = a->data;
    s->ready(s->ud);
}

ccp_events_sub *ccp_events_subscribe(ccp_events *ev, uv_loop_t *loop, void (*ready)(void *ud),
                                     void *ud)
{
    ccp_events_sub *s = ccp_xcalloc(1, sizeof *s);
    s->ev = ev;
    s->ready = ready;
    s->ud = ud;
    s->async = ccp_xmalloc(sizeof *s->async);
    uv_async_init(loop, s->async, async_cb);
    s->async->data = s;
    uv_mutex_lock(&ev->mu);
    s->next = ev->subs;
    ev->subs = s;
    uv_mutex_unlock(&ev->mu);
    return s;
}

size_t ccp_events_take(ccp_events_sub *s, ccp_buf *out)
{
    char *taken[CCP_EVENTS_QUEUE];
    uv_mutex_lock(&s->ev->mu);
    size_t n = s->n;
    uint64_t dropped = s->dropped;
    for (size_t i = 0; i < n; i++)
        taken[i] = s->q[(s->head + i) % CCP_EVENTS_QUEUE];
    s->head = (s->head + n) % CCP_EVENTS_QUEUE;
    s->n = 0;
    s->dropped = 0;
    uv_mutex_unlock(&s->ev->mu);
    if (dropped)
        ccp_buf_printf(out, "event: dropped\ndata: {\"dropped\":%llu}\n\n",
                       (unsigned long long)dropped);
    for (size_t i = 0; i < n; i++) {
        ccp_buf_printf(out, "event: request\ndata: %s\n\n", taken[i]);
        free(taken[i]);
    }
    return n;
}

static void close_cb(uv_handle_t *h)
{
    free(h);
}

void ccp_events_unsubscribe(ccp_events_sub *s)
{
    if (!s) return;
    ccp_events *ev = s->ev;
    uv_mutex_lock(&ev->mu);
    for (ccp_events_sub **p = &ev->subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    uv_mutex_unlock(&ev->mu);
    for (size_t i = 0; i < s->n; i++)
        free(s->q[(s->head + i) % CCP_EVENTS_QUEUE]);
    s->async->data = NULL;
    uv_close((uv_handle_t *)s->async, close_cb);
    free(s);
}

void ccp_events_stats(ccp_events *ev, int64_t unix_ms, ccp_buf *out)
{
    int64_t now_min = unix_ms / 60000;
    bucket copy[MINUTES];
    uv_mutex_lock(&ev->mu);
    memcpy(copy, ev->b, sizeof copy);
    uv_mutex_unlock(&ev->mu);
    ccp_buf_printf(out, "{\"now\":%lld,\"minutes\":[", (long long)unix_ms);
    for (int64_t m = now_min - MINUTES + 1; m <= now_min; m++) {
        bucket b = copy[((m % MINUTES) + MINUTES) % MINUTES];
        if (b.minute != m) b = (bucket){.minute = m};
        ccp_buf_printf(out,
                       "%s{\"t\":%lld,\"requests\":%llu,\"errors\":%llu,\"latency_ms_avg\":%.1f,"
                       "\"latency_ms_max\":%.1f,\"ttft_ms_avg\":%.1f,\"input_tokens\":%lld,"
                       "\"output_tokens\":%lld}",
                       m == now_min - MINUTES + 1 ? "" : ",", (long long)(m * 60000),
                       (unsigned long long)b.requests, (unsigned long long)b.errors,
                       b.requests ? b.latency_sum / (double)b.requests : 0.0, b.latency_max,
                       b.ttft_n ? b.ttft_sum / (double)b.ttft_n : 0.0, (long long)b.input_tokens,
                       (long long)b.output_tokens);
    }
    ccp_buf_appends(out, "]}");
}

void ccp_events_recent(ccp_events *ev, ccp_buf *out)
{
    ccp_buf_appends(out, "{\"requests\":[");
    uv_mutex_lock(&ev->mu);
    for (size_t i = 0; i < ev->recent_n; i++) {
        if (i) ccp_buf_appendc(out, ',');
        ccp_buf_appends(out, ev->recent[(ev->recent_head + i) % RECENT]);
    }
    uv_mutex_unlock(&ev->mu);
    ccp_buf_appends(out, "]}");
}
