/* metrics.h — Prometheus metrics: counters kept per worker, summed when
 * scraped.
 *
 * Each worker thread owns a shard and is the only one to write it, so
 * counting is a plain add on memory no other core writes: no lock, no
 * locked instruction, no allocation. The scrape (any thread) reads every
 * shard with relaxed atomic loads and adds them up; it may see a request
 * half-counted (its counter but not yet its histogram), never a torn
 * value. Label values are bounded: providers and models are those of the
 * config the registry was built from, and anything else folds into
 * `other`, so a client cannot grow the series by inventing model names.
 * docs/observability.md lists every metric. */
#ifndef CCP_OBS_METRICS_H
#define CCP_OBS_METRICS_H

#include "config/config.h"
#include "core/buf.h"
#include "obs/access.h"

#include <stdbool.h>

typedef struct ccp_metrics ccp_metrics;
typedef struct ccp_metrics_shard ccp_metrics_shard;

/* How an upstream attempt ended (ccproxy_upstream_attempts_total). */
typedef enum {
    CCP_OUTCOME_OK,            /* a 2xx head arrived */
    CCP_OUTCOME_HTTP_4XX,      /* a 4xx other than 429 */
    CCP_OUTCOME_HTTP_5XX,      /* a 5xx */
    CCP_OUTCOME_429,           /* rate limited */
    CCP_OUTCOME_TIMEOUT,       /* a connect, first-byte, idle or total timeout */
    CCP_OUTCOME_CONNECT_ERROR, /* any other transport failure before an answer */
    CCP_OUTCOME_CANCELLED,     /* the client left and the transfer was cancelled */
    CCP_OUTCOME_COUNT
} ccp_attempt_outcome;

/* The outcome for a transport result (0 or a CCP_E* code) and the HTTP
 * status that arrived (0 = none). */
ccp_attempt_outcome ccp_metrics_outcome(int result, int status);

/* The registry for a config: its label values and the shards. Free with
 * ccp_metrics_free once no worker runs. */
ccp_metrics *ccp_metrics_new(const ccp_config *cfg);
void ccp_metrics_free(ccp_metrics *m);

/* A new shard for the calling worker thread; owned by m. Thread-safe (a
 * mutex, taken once per worker at start). NULL when m is NULL. */
ccp_metrics_shard *ccp_metrics_shard_new(ccp_metrics *m);

/* The counting calls, from the shard's own thread only. Each accepts a
 * NULL shard (metrics off) and does nothing. */

/* A request reached the app (ccproxy_in_flight_requests + 1); sets
 * a->in_flight so that request_end takes it off again. */
void ccp_metrics_request_begin(ccp_metrics_shard *s, ccp_access *a);
/* A response was finished: requests, durations, tokens, disconnects. */
void ccp_metrics_request_end(ccp_metrics_shard *s, const ccp_access_rec *rec);
/* An upstream attempt ended. */
void ccp_metrics_attempt(ccp_metrics_shard *s, const char *provider, ccp_attempt_outcome o);
/* The exchange moved from provider `from` to provider `to`. */
void ccp_metrics_fallback(ccp_metrics_shard *s, const char *from, const char *to);
/* An attempt was repeated on the same target (for exchange/retry.c). */
void ccp_metrics_retry(ccp_metrics_shard *s);
/* A streamed answer started (+1) or ended (-1): ccproxy_open_streams. */
void ccp_metrics_streams(ccp_metrics_shard *s, int delta);

/* Writes every metric in the Prometheus text format (0.0.4), or in
 * OpenMetrics 1.0 when openmetrics (ending with "# EOF"). */
void ccp_metrics_write(ccp_metrics *m, ccp_buf *out, bool openmetrics);

/* Families that other modules keep (breakers, queues, the trace exporter)
 * are written by a callback ccp_metrics_write calls before the end; it
 * writes each family's head with ccp_metrics_family. */
void ccp_metrics_set_extra(ccp_metrics *m, void (*fn)(ccp_buf *out, bool om, void *ud), void *ud);
void ccp_metrics_family(ccp_buf *out, const char *name, const char *type, const char *help,
                        bool openmetrics);

/* The Content-Type of each format. */
#define CCP_METRICS_TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define CCP_METRICS_OPENMETRICS_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* True when an Accept header asks for OpenMetrics. */
bool ccp_metrics_wants_openmetrics(const char *accept);

#endif
