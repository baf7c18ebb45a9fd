/* otlp.h — the trace exporter: OTLP/HTTP with JSON encoding, from a
 * background thread.
 *
 * Requests hand finished spans to ccp_otlp_submit, which copies each into
 * a bounded queue under a mutex and returns: it never waits for the
 * network, and when the queue is full the span is dropped and counted.
 * One exporter thread, with its own libcurl easy handle (so its connection
 * to the collector is reused), takes batches off the queue, writes them as
 * an OTLP ExportTraceServiceRequest in JSON and POSTs them to
 * <endpoint>/v1/traces. ccp_otlp_free flushes what is queued (with a
 * deadline) and joins the thread.
 *
 * One exporter serves the process: `ccproxy serve` creates it when an
 * endpoint is configured and hands it to the app. */
#ifndef CCP_OBS_OTLP_H
#define CCP_OBS_OTLP_H

#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"
#include "obs/trace.h"

#include <stdbool.h>
#include <stdint.h>

/* What the exporter needs, resolved from the telemetry section and the
 * OpenTelemetry environment variables. */
typedef struct ccp_otlp_opts {
    char *url;          /* the full /v1/traces URL; NULL: tracing is off */
    char *service_name; /* owned */
    double sample_ratio;
    char **headers; /* "Name: value" lines, owned; may hold a secret */
    size_t n_headers;
    int max_queue;
} ccp_otlp_opts;

/* Fills o from t, each key the file left out taken from the environment:
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
 * OTEL_EXPORTER_OTLP_ENDPOINT (/v1/traces appended), OTEL_SERVICE_NAME,
 * OTEL_TRACES_SAMPLER_ARG, OTEL_EXPORTER_OTLP_HEADERS (name=value,...);
 * OTEL_SDK_DISABLED=true turns tracing off. Returns 0, or CCP_EINVAL with
 * err saying which value is wrong. Free with ccp_otlp_opts_free. */
int ccp_otlp_resolve(const ccp_telemetry_config *t, ccp_otlp_opts *o, ccp_error *err);
void ccp_otlp_opts_free(ccp_otlp_opts *o);

typedef struct ccp_otlp ccp_otlp;

/* Starts the exporter thread; takes over o's contents (o is zeroed).
 * Returns NULL when o->url is NULL (tracing off). */
ccp_otlp *ccp_otlp_new(ccp_otlp_opts *o);
/* Exports what is queued (giving up after a few seconds when the collector
 * does not answer: the rest is counted as dropped), stops the thread and
 * frees. NULL is fine. */
void ccp_otlp_free(ccp_otlp *x);

/* The sampling ratio for traces the proxy starts. */
double ccp_otlp_sample_ratio(const ccp_otlp *x);

/* Queues a copy of s for export; false (and counted) when the queue is
 * full. Safe from any thread. */
bool ccp_otlp_submit(ccp_otlp *x, const ccp_span *s);

/* Counters since start, for /metrics and GET /status. */
typedef struct ccp_otlp_stats {
    uint64_t exported;       /* spans the collector accepted */
    uint64_t dropped;        /* spans lost: queue full, or the collector failed */
    uint64_t failed_exports; /* POSTs that failed (transport error or non-2xx) */
} ccp_otlp_stats;
void ccp_otlp_stats_get(const ccp_otlp *x, ccp_otlp_stats *out);
/* The dropped count alone (0 for NULL): what a drop counter metric reads. */
uint64_t ccp_otlp_dropped(const ccp_otlp *x);

/* Appends the OTLP JSON ExportTraceServiceRequest of n spans, the i-th at
 * at(ud, i), to out. Exposed for the unit tests. */
void ccp_otlp_serialize(const ccp_span *(*at)(void *ud, size_t i), void *ud, size_t n,
                        const char *service_name, ccp_buf *out);

#endif
