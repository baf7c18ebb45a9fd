/* config_telemetry.c — the `telemetry` section: where traces are exported
 * (OTLP/HTTP), how many requests are traced, and under which service name.
 *
 * A key the file leaves out stays unset in ccp_telemetry_config, so that
 * the standard OpenTelemetry environment variables can fill it at start
 * (obs/otlp.c, ccp_otlp_resolve): the file wins over the environment. */
#include "config/config_internal.h"

#include "core/alloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* sample_ratio: a number from 0 to 1 (the key tables have no fractional
 * type, so the row names this loader). */
static void load_sample_ratio(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_telemetry_config *t = base;
    char *s = ccp_cfg_interp(l, v, "telemetry.sample_ratio", NULL);
    if (!s) return;
    char *end;
    double d = strtod(s, &end);
    if (!*s || *end || !(d >= 0.0 && d <= 1.0))
        DIAG(l, v,
             "telemetry.sample_ratio: expected a number from 0 to 1 (the share of requests "
             "traced, e.g. 0.1), not '%s'",
             s);
    else
        t->sample_ratio = d;
    free(s);
}

/* headers: a mapping of header name to value sent with every export (a
 * collector's token, typically: values are interpolated, never logged). */
static void load_headers(loader *l, yaml_node_t *v, void *base, const ccp_key *k)
{
    ccp_telemetry_config *t = base;
    ccp_cfg_load_header_map(l, v, "telemetry.headers", NULL, &t->headers, &t->n_headers);
}

#define TEL(f) offsetof(ccp_telemetry_config, f)
static const ccp_key telemetry_keys[] = {
    {.name = "otlp_endpoint",
     .type = CCP_KEY_STR,
     .offset = TEL(otlp_endpoint),
     .min = 1,
     .doc_def = "`$OTEL_EXPORTER_OTLP_ENDPOINT`, else off",
     .help = "the OTLP/HTTP collector's base URL, e.g. `http://127.0.0.1:4318`; spans are POSTed "
             "as OTLP JSON to `/v1/traces` under it. Unset and no environment variable: no "
             "tracing, and no cost"},
    {.name = "service_name",
     .type = CCP_KEY_STR,
     .offset = TEL(service_name),
     .min = 1,
     .doc_def = "`$OTEL_SERVICE_NAME`, else `ccproxy`",
     .help = "the `service.name` resource attribute of every span"},
    {.name = "sample_ratio",
     .type = CCP_KEY_CUSTOM,
     .load = load_sample_ratio,
     .doc_type = "number 0–1",
     .doc_def = "`$OTEL_TRACES_SAMPLER_ARG`, else `1`",
     .help = "the share of requests traced when the client sent no `traceparent`; with one, its "
             "sampled flag decides (parent-based sampling)"},
    {.name = "headers",
     .type = CCP_KEY_CUSTOM,
     .load = load_headers,
     .doc_type = "map of string → string",
     .doc_def = "`$OTEL_EXPORTER_OTLP_HEADERS`",
     .help = "headers sent with every export, e.g. `Authorization: Bearer ${OTLP_TOKEN}`; "
             "values are never logged"},
    {.name = "max_queue_spans",
     .type = CCP_KEY_INT,
     .offset = TEL(max_queue_spans),
     .def = "2048",
     .min = 16,
     .max = 1 << 20,
     .help = "finished spans waiting for the exporter thread; when the collector is slow or "
             "down, more are dropped (and counted) rather than slow a request"},
};

const ccp_key_table ccp_cfg_telemetry_keys = CCP_KEYS("telemetry", telemetry_keys);

void ccp_cfg_telemetry_defaults(ccp_telemetry_config *t)
{
    ccp_keys_defaults(&ccp_cfg_telemetry_keys, t);
    t->sample_ratio = -1.0;
}

void ccp_cfg_telemetry_free(ccp_telemetry_config *t)
{
    ccp_keys_free(&ccp_cfg_telemetry_keys, t);
    for (size_t i = 0; i < t->n_headers; i++) {
        free(t->headers[i].name);
        /* A collector token does not linger in freed memory. */
        explicit_bzero(t->headers[i].value, strlen(t->headers[i].value));
        free(t->headers[i].value);
    }
    free(t->headers);
    t->headers = NULL;
    t->n_headers = 0;
}
