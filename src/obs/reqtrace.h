/* reqtrace.h — the spans of one /v1/messages request.
 *
 * One SERVER span for the request (a child of the client's traceparent
 * when it sent one) and one CLIENT span per upstream attempt, a child of
 * it, carrying the OpenTelemetry GenAI semantic conventions
 * (gen_ai.system, gen_ai.request.model, gen_ai.response.model,
 * gen_ai.usage.*, gen_ai.response.finish_reasons) and ccproxy's own
 * (ccproxy.stage, ccproxy.route, ccproxy.attempt, ccproxy.fallback).
 *
 * http/messages.c calls these at the points a request passes; each takes
 * NULL (a request not traced) and then does nothing, so an untraced
 * request costs one branch per call. A traced request owns one
 * ccp_reqtrace, allocated at begin and freed at end, in which both spans
 * are built in place; finished spans are copied to the exporter. */
#ifndef CCP_OBS_REQTRACE_H
#define CCP_OBS_REQTRACE_H

#include "codec/events.h"
#include "config/config.h"
#include "obs/otlp.h"
#include "obs/tracectx.h"
#include "router/route.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_reqtrace ccp_reqtrace;

/* Starts the request's trace, or returns NULL when exp is NULL or the
 * request is not sampled. ctx: the request's trace context (obs/tracectx.h:
 * the client's traceparent honoured, or a new trace); the server span
 * takes its ids, so the access log, the provider's traceparent and the
 * exported spans name the same trace and span. A client's traceparent
 * decides sampling; a new trace is sampled by the exporter's ratio.
 * start_hr_ns: uv_hrtime() when the request began. */
ccp_reqtrace *ccp_reqtrace_begin(ccp_otlp *exp, const ccp_tracectx *ctx, const char *request_id,
                                 uint64_t start_hr_ns);

/* The route chosen, for the server span. route_desc as ccp_route_describe
 * writes it. */
void ccp_reqtrace_route(ccp_reqtrace *t, const ccp_route_choice *choice, const char *client_model,
                        bool stream);

/* An attempt at target starts (index attempt along the route; a fallback
 * when attempt > 0). model: what is asked of the provider. */
void ccp_reqtrace_attempt_begin(ccp_reqtrace *t, const ccp_target *target, const char *model,
                                size_t attempt);

/* The sink the attempt's decoder feeds: it notes the response model, the
 * usage and the stop reason, and passes every event on to next. Returns
 * next itself when t is NULL. Lives as long as t. */
ccp_event_sink *ccp_reqtrace_tap(ccp_reqtrace *t, ccp_event_sink *next);

/* The attempt ended: result 0 or a CCP_E* code, status the upstream's
 * HTTP status (0: none), error what went wrong (NULL when it did not).
 * Finishes and queues the attempt's span. */
void ccp_reqtrace_attempt_end(ccp_reqtrace *t, int result, int status, const char *error);

/* What the client was answered: a status and, for an error, its type and
 * message. The last call before end wins. */
void ccp_reqtrace_answer(ccp_reqtrace *t, int status, const char *error_type, const char *message);

/* The request is over (client_gone: the client disconnected first):
 * finishes and queues the server span, and any attempt span still open,
 * and frees t. */
void ccp_reqtrace_end(ccp_reqtrace *t, bool client_gone);

/* gen_ai.system for a format: "anthropic", "openai", "gcp.gemini". */
const char *ccp_reqtrace_system(ccp_format f);

#endif
