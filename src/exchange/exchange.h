/* exchange.h — one client request's way through the route's targets: how
 * an upstream attempt is prepared, and what a finished attempt means.
 *
 * The HTTP layer (http/messages.c) owns the connection, the upstream
 * transfer and the writer; everything it decides about attempts it asks
 * here, and `ccproxy explain` prepares its dry run with the same function,
 * so the two cannot drift. Retries, breakers and key pools belong here
 * too. Nothing here knows HTTP. */
#ifndef CCP_EXCHANGE_EXCHANGE_H
#define CCP_EXCHANGE_EXCHANGE_H

#include "codec/codec.h"
#include "core/error.h"
#include "pipeline/pipeline.h"
#include "router/route.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The state across attempts. The caller fills the inputs; prepare and
 * next move it along. */
typedef struct ccp_exchange {
    const ccp_route_choice *choice;    /* borrowed; its route has at least one target */
    json_object *request;              /* the client's request; owned (NULL once the last
                                          attempt has taken it) */
    const char *client_model;          /* borrowed */
    bool stream;                       /* the client asked for SSE */
    const ccp_header_view *in_headers; /* the client's headers, borrowed */
    size_t n_in_headers;
    bool validated; /* the request passed ccp_request_validate: encoders need not re-check it */
    /* Correlation sent to the provider with every attempt (borrowed; NULL
     * sends none, as `ccproxy explain` does): x-request-id and the W3C
     * traceparent naming the proxy's span as the parent. */
    const char *request_id;
    const char *traceparent;
    size_t attempt; /* index of the current target in choice->route */
    /* Attempts repeated on the same target after a failure; 0 until
     * retries land (exchange/retry.c). The access log and the metrics
     * read it. */
    size_t retries;
} ccp_exchange;

/* One attempt, ready to send. Free with ccp_attempt_free. */
typedef struct ccp_attempt {
    ccp_target target;
    const ccp_codec *codec;
    const ccp_pipeline *rule_pipeline; /* the matched rule's, run first; may be NULL */
    const ccp_pipeline *pipeline;      /* the target's; may be NULL */
    ccp_outbound out;                  /* URL, headers and the sealed body */
} ccp_attempt;

/* Where preparing an attempt failed, and what the client is told. */
typedef enum {
    CCP_PREP_PIPELINE, /* a request hook failed: 500 api_error */
    CCP_PREP_ENCODE,   /* the request cannot be put in the format: 400 */
    CCP_PREP_OUTBOUND, /* an outbound hook failed: 500 api_error */
} ccp_prep_step;

typedef struct ccp_prep_error {
    ccp_prep_step step;
    int status;
    const char *type; /* static Anthropic error type */
    ccp_error err;
} ccp_prep_error;

/* Prepares the attempt at ex->attempt: the target's request (a copy of the
 * client's while later targets remain, so each starts from the client's
 * own), the rule's and the target's request hooks, the codec's encoding,
 * the outbound hooks on the body tree, and one serialization. Returns 0
 * and fills *a (initialised here), or -1 with *e set. */
int ccp_exchange_prepare(ccp_exchange *ex, ccp_attempt *a, ccp_prep_error *e);

void ccp_attempt_free(ccp_attempt *a);

/* How an attempt ended, as far as the exchange cares. */
typedef struct ccp_attempt_end {
    int result;    /* 0: the answer arrived whole; else the transport's CCP_E* code */
    int status;    /* the upstream's HTTP status; 0 when none arrived */
    bool answered; /* something of it already reached the client */
} ccp_attempt_end;

typedef enum {
    CCP_VERDICT_DONE,      /* a 2xx answer: deliver it */
    CCP_VERDICT_FALL_BACK, /* try the route's next target (ccp_exchange_next) */
    CCP_VERDICT_FAIL,      /* give the client this attempt's error */
} ccp_verdict;

/* What a finished attempt means: transport failures, timeouts, 408, 429
 * and 5xx move on to the next target while one remains and nothing has
 * reached the client; another 4xx would fail the same way elsewhere. */
ccp_verdict ccp_exchange_judge(const ccp_exchange *ex, const ccp_attempt_end *end);

/* Moves to the next target; false when none remains. */
bool ccp_exchange_next(ccp_exchange *ex);

/* Releases the request (the route choice is the caller's). */
void ccp_exchange_free(ccp_exchange *ex);

#endif
