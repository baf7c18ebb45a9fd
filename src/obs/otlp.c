/* otlp.c — the OTLP/HTTP JSON trace exporter (see otlp.h).
 *
 * The queue is a ring of spans allocated once. Producers copy a span into
 * the slot after the last under the mutex. The exporter takes the first n
 * slots as they are, serializes them without holding the mutex (the slots
 * stay counted, so no producer writes over them), and only then gives them
 * back. */
#include "obs/otlp.h"
#include "obs/tracectx.h"

#include "core/alloc.h"
#include "core/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Spans per POST: a batch of 256 full spans is some 600 KB of JSON, well
 * under collectors' default 4 MiB request limit. */
#define BATCH 256
/* How long the exporter waits for a batch to fill before sending less. */
#define LINGER_MS 200
/* A POST's own limits; at shutdown the whole flush has FLUSH_DEADLINE_MS. */
#define CONNECT_TIMEOUT_MS 3000
#define POST_TIMEOUT_MS 10000
#define FLUSH_DEADLINE_MS 5000

struct ccp_otlp {
    ccp_otlp_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    ccp_span *ring; /* max_queue slots */
    size_t cap, head, count;
    bool stop;
    _Atomic uint64_t exported, dropped, failed;
    /* exporter thread only */
    CURL *curl;
    struct curl_slist *hdrs;
    ccp_buf body;
    bool failing; /* the last export failed: logged once, not per batch */
};

/* ---- options ------------------------------------------------------------ */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* In place: %XX to the byte (the W3C baggage encoding that
 * OTEL_EXPORTER_OTLP_HEADERS uses). */
static void percent_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '%' && r[1] && r[2]) {
            char hx[3] = {r[1], r[2], 0};
            char *end;
            long v = strtol(hx, &end, 16);
            if (!*end) {
                *w++ = (char)v;
                r += 2;
                continue;
            }
        }
        *w++ = *r;
    }
    *w = '\0';
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static void add_header(ccp_otlp_opts *o, const char *name, const char *value)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "%s: %s", name, value);
    o->headers = ccp_xrealloc(o->headers, (o->n_headers + 1) * sizeof *o->headers);
    o->headers[o->n_headers++] = ccp_buf_detach(&b, NULL);
}

/* OTEL_EXPORTER_OTLP_HEADERS: "name=value,name=value". */
static int env_headers(ccp_otlp_opts *o, const char *spec, ccp_error *err)
{
    char *copy = ccp_xstrdup(spec);
    int rc = 0;
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "OTEL_EXPORTER_OTLP_HEADERS: expected name=value pairs separated "
                               "by commas");
            break;
        }
        *eq = '\0';
        char *name = trim(item), *value = trim(eq + 1);
        percent_decode(value);
        if (!*name || strpbrk(name, ": \r\n") || strpbrk(value, "\r\n")) {
            rc = ccp_error_set(err, CCP_EINVAL,
                               "OTEL_EXPORTER_OTLP_HEADERS: a header name or value is malformed");
            break;
        }
        add_header(o, name, value);
    }
    /* The value may hold a token. */
    memset(copy, 0, strlen(spec));
    free(copy);
    return rc;
}

int ccp_otlp_resolve(const ccp_telemetry_config *t, ccp_otlp_opts *o, ccp_error *err)
{
    memset(o, 0, sizeof *o);
    o->max_queue = t->max_queue_spans > 0 ? t->max_queue_spans : 2048;
    const char *disabled = env("OTEL_SDK_DISABLED");
    if (disabled && !strcasecmp(disabled, "true")) return 0;

    const char *base = t->otlp_endpoint, *full = NULL;
    if (!base) {
        full = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        if (!full) base = env("OTEL_EXPORTER_OTLP_ENDPOINT");
    }
    if (!base && !full) return 0;
    const char *u = full ? full : base;
    if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
        return ccp_error_set(
            err, CCP_EINVAL,
            "%s: the OTLP endpoint must start with http:// or https:// (OTLP/HTTP, "
            "e.g. http://127.0.0.1:4318)",
            t->otlp_endpoint ? "telemetry.otlp_endpoint"
            : full           ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
                             : "OTEL_EXPORTER_OTLP_ENDPOINT");
    ccp_buf url = CCP_BUF_INIT;
    if (full) {
        ccp_buf_appends(&url, full);
    } else {
        size_t n = strlen(base);
        while (n && base[n - 1] == '/')
            n--;
        ccp_buf_append(&url, base, n);
        ccp_buf_appends(&url, "/v1/traces");
    }
    o->url = ccp_buf_detach(&url, NULL);

    const char *svc = t->service_name ? t->service_name : env("OTEL_SERVICE_NAME");
    o->service_name = ccp_xstrdup(svc ? svc : "ccproxy");

    o->sample_ratio = t->sample_ratio;
    if (o->sample_ratio < 0) {
        const char *arg = env("OTEL_TRACES_SAMPLER_ARG");
        o->sample_ratio = 1.0;
        if (arg) {
            char *end;
            double d = strtod(arg, &end);
            if (*end || !(d >= 0.0 && d <= 1.0)) {
                ccp_otlp_opts_free(o);
                return ccp_error_set(err, CCP_EINVAL,
                                     "OTEL_TRACES_SAMPLER_ARG: expected a number from 0 to 1, "
                                     "not '%.40s'",
                                     arg);
            }
            o->sample_ratio = d;
        }
    }

    if (t->n_headers) {
        for (size_t i = 0; i < t->n_headers; i++)
            add_header(o, t->headers[i].name, t->headers[i].value);
    } else if (env("OTEL_EXPORTER_OTLP_HEADERS") &&
               env_headers(o, env("OTEL_EXPORTER_OTLP_HEADERS"), err) != 0) {
        ccp_otlp_opts_free(o);
        return err->code;
    }
    return 0;
}

void ccp_otlp_opts_free(ccp_otlp_opts *o)
{
    free(o->url);
    free(o->service_name);
    for (size_t i = 0; i < o->n_headers; i++) {
        memset(o->headers[i], 0, strlen(o->headers[i]));
        free(o->headers[i]);
    }
    free(o->headers);
    memset(o, 0, sizeof *o);
}

/* ---- OTLP JSON ------------------------------------------------------------ */

/* The exporter writes every span of every traced request, so this is
 * written with direct appends: no printf, literals copied by their known
 * length. */
static void key_value_head(ccp_buf *out, const char *key)
{
    CCP_BUF_LIT(out, "{\"key\":");
    ccp_buf_append_json_str(out, key, strlen(key));
    CCP_BUF_LIT(out, ",\"value\":");
}

static void str_attr(ccp_buf *out, const char *key, const char *v)
{
    key_value_head(out, key);
    CCP_BUF_LIT(out, "{\"stringValue\":");
    ccp_buf_append_json_str(out, v, strlen(v));
    CCP_BUF_LIT(out, "}}");
}

/* An id as lowercase hex (n bytes). */
static void hex_id(ccp_buf *out, const uint8_t *id, int n)
{
    char hex[33];
    ccp_tracectx_hex(id, n, hex);
    ccp_buf_append(out, hex, (size_t)n * 2);
}

static void write_span(const ccp_span *s, ccp_buf *out)
{
    CCP_BUF_LIT(out, "{\"traceId\":\"");
    hex_id(out, s->trace_id, 16);
    CCP_BUF_LIT(out, "\",\"spanId\":\"");
    hex_id(out, s->span_id, 8);
    CCP_BUF_LIT(out, "\",");
    static const uint8_t zero[8];
    if (memcmp(s->parent_id, zero, 8)) {
        CCP_BUF_LIT(out, "\"parentSpanId\":\"");
        hex_id(out, s->parent_id, 8);
        CCP_BUF_LIT(out, "\",");
    }
    CCP_BUF_LIT(out, "\"name\":");
    ccp_buf_append_json_str(out, s->text + s->name_off, s->name_len);
    /* 64-bit integers are strings in OTLP JSON (ProtoJSON). */
    CCP_BUF_LIT(out, ",\"kind\":");
    ccp_buf_append_i64(out, s->kind);
    CCP_BUF_LIT(out, ",\"startTimeUnixNano\":\"");
    ccp_buf_append_u64(out, (unsigned long long)s->start_ns);
    CCP_BUF_LIT(out, "\",\"endTimeUnixNano\":\"");
    ccp_buf_append_u64(out, (unsigned long long)s->end_ns);
    CCP_BUF_LIT(out, "\",\"attributes\":[");
    for (size_t i = 0; i < s->n_attrs; i++) {
        const ccp_span_attr *a = &s->attrs[i];
        if (i) ccp_buf_appendc(out, ',');
        key_value_head(out, a->key);
        switch (a->type) {
        case CCP_ATTR_STR:
            CCP_BUF_LIT(out, "{\"stringValue\":");
            ccp_buf_append_json_str(out, s->text + a->off, a->len);
            ccp_buf_appendc(out, '}');
            break;
        case CCP_ATTR_INT:
            CCP_BUF_LIT(out, "{\"intValue\":\"");
            ccp_buf_append_i64(out, (long long)a->i);
            CCP_BUF_LIT(out, "\"}");
            break;
        case CCP_ATTR_BOOL:
            if (a->i)
                CCP_BUF_LIT(out, "{\"boolValue\":true}");
            else
                CCP_BUF_LIT(out, "{\"boolValue\":false}");
            break;
        case CCP_ATTR_STR_LIST1:
            CCP_BUF_LIT(out, "{\"arrayValue\":{\"values\":[{\"stringValue\":");
            ccp_buf_append_json_str(out, s->text + a->off, a->len);
            CCP_BUF_LIT(out, "}]}}");
            break;
        }
        ccp_buf_appendc(out, '}');
    }
    CCP_BUF_LIT(out, "],\"status\":{\"code\":");
    ccp_buf_append_i64(out, s->status);
    if (s->status_len) {
        CCP_BUF_LIT(out, ",\"message\":");
        ccp_buf_append_json_str(out, s->text + s->status_off, s->status_len);
    }
    CCP_BUF_LIT(out, "}}");
}

void ccp_otlp_serialize(const ccp_span *(*at)(void *ud, size_t i), void *ud, size_t n,
                        const char *service_name, ccp_buf *out)
{
    ccp_buf_appends(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    str_attr(out, "service.name", service_name);
    ccp_buf_appendc(out, ',');
    str_attr(out, "service.version", CCP_VERSION);
    ccp_buf_appendc(out, ',');
    str_attr(out, "telemetry.sdk.name", "ccproxy");
    ccp_buf_appends(out,
                    "]},\"scopeSpans\":[{\"scope\":{\"name\":\"ccproxy\",\"version\":\"" CCP_VERSION
                    "\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) ccp_buf_appendc(out, ',');
        write_span(at(ud, i), out);
    }
    ccp_buf_appends(out, "]}]}]}");
}

/* ---- the exporter thread -------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* POSTs out; true when the collector took it (2xx). */
static bool post(ccp_otlp *x, long timeout_ms)
{
    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, x->body.data);
    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body.len);
    curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    CURLcode rc = curl_easy_perform(x->curl);
    long code = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    bool ok = rc == CURLE_OK && code >= 200 && code < 300;
    if (!ok && !x->failing) {
        /* The URL is the operator's; its query may hold a key, so only the
         * outcome is logged, and only when it changes. */
        if (rc != CURLE_OK)
            ccp_log_warn("trace export failed: %s; spans are dropped until the collector "
                         "answers",
                         curl_easy_strerror(rc));
        else
            ccp_log_warn("trace export failed: the collector answered %ld; spans are dropped "
                         "until it accepts them",
                         code);
    } else if (ok && x->failing) {
        ccp_log_info("trace export works again");
    }
    x->failing = !ok;
    return ok;
}

static const ccp_span *ring_at(void *ud, size_t i)
{
    ccp_otlp *x = ud;
    return &x->ring[(x->head + i) % x->cap];
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *exporter_main(void *ud)
{
    ccp_otlp *x = ud;
    uint64_t flush_deadline = 0; /* set once stopping */
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (x->count == 0 && !x->stop)
            pthread_cond_wait(&x->cond, &x->mu);
        if (x->count < BATCH && x->count < x->cap && !x->stop) {
            /* Let a batch gather for a moment rather than POST every span. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += LINGER_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&x->cond, &x->mu, &ts);
        }
        size_t n = x->count < BATCH ? x->count : BATCH;
        bool stopping = x->stop;
        if (n == 0 && stopping) break;
        pthread_mutex_unlock(&x->mu);

        if (stopping && !flush_deadline) flush_deadline = mono_ms() + FLUSH_DEADLINE_MS;
        long timeout = POST_TIMEOUT_MS;
        bool give_up = false;
        if (flush_deadline) {
            uint64_t now = mono_ms();
            give_up = now >= flush_deadline;
            timeout = give_up ? 1 : (long)(flush_deadline - now);
        }
        bool ok = false;
        if (!give_up) {
            ccp_buf_reset(&x->body);
            ccp_otlp_serialize(ring_at, x, n, x->o.service_name, &x->body);
            ok = post(x, timeout);
        }
        if (ok)
            atomic_fetch_add(&x->exported, n);
        else
            atomic_fetch_add(&x->dropped, n);
        if (!ok && !give_up) atomic_fetch_add(&x->failed, 1);

        pthread_mutex_lock(&x->mu);
        x->head = (x->head + n) % x->cap;
        x->count -= n;
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

ccp_otlp *ccp_otlp_new(ccp_otlp_opts *o)
{
    if (!o->url) return NULL;
    ccp_otlp *x = ccp_xcalloc(1, sizeof *x);
    x->o = *o;
    memset(o, 0, sizeof *o);
    x->cap = (size_t)x->o.max_queue;
    x->ring = ccp_xmalloc(x->cap * sizeof *x->ring);
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cond, NULL);
    x->curl = curl_easy_init();
    if (!x->curl) abort(); /* out of memory: as ccp_xmalloc would */
    x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    for (size_t i = 0; i < x->o.n_headers; i++)
        x->hdrs = curl_slist_append(x->hdrs, x->o.headers[i]);
    /* Without Expect: libcurl would wait for a 100 Continue on big batches. */
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    curl_easy_setopt(x->curl, CURLOPT_URL, x->o.url);
    curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(x->curl, CURLOPT_USERAGENT, "ccproxy/" CCP_VERSION);
    curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (pthread_create(&x->thread, NULL, exporter_main, x) != 0) abort();
    return x;
}

void ccp_otlp_free(ccp_otlp *x)
{
    if (!x) return;
    pthread_mutex_lock(&x->mu);
    x->stop = true;
    pthread_cond_signal(&x->cond);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->thread, NULL);
    curl_easy_cleanup(x->curl);
    curl_slist_free_all(x->hdrs);
    ccp_buf_free(&x->body);
    free(x->ring);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cond);
    ccp_otlp_opts_free(&x->o);
    free(x);
}

double ccp_otlp_sample_ratio(const ccp_otlp *x)
{
    return x ? x->o.sample_ratio : 0.0;
}

bool ccp_otlp_submit(ccp_otlp *x, const ccp_span *s)
{
    pthread_mutex_lock(&x->mu);
    bool room = x->count < x->cap && !x->stop;
    if (room) {
        /* Only the used part of the text area is copied. */
        ccp_span *slot = &x->ring[(x->head + x->count) % x->cap];
        memcpy(slot, s, offsetof(ccp_span, text) + s->text_len);
        x->count++;
        /* The first span wakes the exporter; a full batch ends its wait. */
        if (x->count == 1 || x->count == BATCH || x->count == x->cap) pthread_cond_signal(&x->cond);
    }
    pthread_mutex_unlock(&x->mu);
    if (!room) atomic_fetch_add(&x->dropped, 1);
    return room;
}

void ccp_otlp_stats_get(const ccp_otlp *x, ccp_otlp_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!x) return;
    out->exported = atomic_load(&((ccp_otlp *)x)->exported);
    out->dropped = atomic_load(&((ccp_otlp *)x)->dropped);
    out->failed_exports = atomic_load(&((ccp_otlp *)x)->failed);
}

uint64_t ccp_otlp_dropped(const ccp_otlp *x)
{
    return x ? atomic_load(&((ccp_otlp *)x)->dropped) : 0;
}
