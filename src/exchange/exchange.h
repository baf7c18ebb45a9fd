/* exchange.h — one client request's way through the route's targets: how
 * an upstream attempt is prepared, and what a finished attempt means.
 *
 * The HTTP layer (http/messages.c) owns the connection, the upstream
 * transfer and the writer; everything it decides about attempts it asks
 * here, and `ccproxy explain` prepares its dry run with the same function,
 * so the two cannot drift. It also decides retries (retry.h: backoff and
 * the providers' wait hints), skips targets whose circuit breaker is open
 * and chooses each attempt's key (health.h), all within the request's
 * deadline. Nothing here knows HTTP. */
#ifndef CCP_EXCHANGE_EXCHANGE_H
#define CCP_EXCHANGE_EXCHANGE_H

#include "codec/codec.h"
#include "core/buf.h"
#include "core/error.h"
#include "exchange/health.h"
#include "pipeline/pipeline.h"
#include "router/route.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The state across attempts. The caller fills the inputs; prepare, judge
 * and next move it along. The counters are what logs and metrics read. */
typedef struct ccp_exchange {
    const ccp_route_choice *choice;    /* borrowed; its route has at least one target */
    json_object *request;              /* the client's request; owned (NULL once an
                                          attempt has taken it: see reload) */
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
    const char *tracestate; /* the caller's, passed on with its trace (W3C); NULL: none */
    size_t attempt;         /* index of the current target in choice->route */

    /* Rebuilds the client's request as the exchange got it (parsed again
     * from its text, with ccp_route_reapply), owned by the caller; NULL with
     * err on failure. When set, every attempt takes the tree and it is
     * freed as soon as the attempt is encoded, while it is still hot in the
     * cache, instead of being held through the upstream's answer; the rare
     * retry or fallback calls this for a new one. When NULL (`ccproxy
     * explain`), the tree is kept for the exchange's life and each attempt
     * shares or copies it. */
    json_object *(*reload)(void *ud, ccp_error *err);
    void *reload_ud;

    /* Reliability inputs; all optional (zero: off). */
    ccp_health *health;      /* breakers and key pools; NULL: neither (explain) */
    uint64_t deadline_ms;    /* on clock's scale: no retry or fallback starts that cannot
                                finish by then; 0: none */
    uint64_t (*clock)(void); /* monotonic ms; NULL: ccp_health_now_ms (tests inject one) */
    uint64_t rng;            /* the backoff's jitter state; 0 is seeded */

    /* What happened so far (read-only outside exchange.c): */
    unsigned retries;       /* tries beyond the first of a target, over all targets */
    unsigned fallbacks;     /* moves to a later target, skips included */
    unsigned skips;         /* targets passed over: breaker open, every key resting */
    unsigned tries;         /* backoff retries of the current target so far */
    bool has_hint;          /* hint_ms holds a wait hint */
    uint64_t hint_ms;       /* the last wait hint (the provider's, or a breaker's
                               cool-down): the client's retry-after when we give up */
    uint64_t last_delay_ms; /* the wait before the last retry */
    bool deadline_hit;      /* a retry or fallback was not made: it could not finish in time */
    ccp_buf skipped;        /* "name(breaker-open),name(keys-resting)"; owned */

    /* Private to exchange.c. */
    bool spent;         /* no further attempt may have the request: the last try took it,
                           or the client got something */
    bool have_next_key; /* the next attempt uses next_key (a key switch) */
    int next_key;
    bool admitted, probe; /* the breaker counts the current attempt (as a probe) */
    uint64_t started_ms;  /* of the current attempt */
} ccp_exchange;

/* One attempt, ready to send. Free with ccp_attempt_free. */
typedef struct ccp_attempt {
    ccp_target target;
    const ccp_codec *codec;
    const ccp_pipeline *rule_pipeline; /* the matched rule's, run first; may be NULL */
    const ccp_pipeline *pipeline;      /* the target's; may be NULL */
    ccp_outbound out;                  /* URL, headers and the sealed body */
    int key; /* index in target.provider->keys of the key sent; -1: the provider's api_key
                (or none) */
} ccp_attempt;

/* Where preparing an attempt failed, and what the client is told. */
typedef enum {
    CCP_PREP_PIPELINE,    /* a request hook failed: 500 api_error */
    CCP_PREP_ENCODE,      /* the request cannot be put in the format: 400 */
    CCP_PREP_OUTBOUND,    /* an outbound hook failed: 500 api_error */
    CCP_PREP_UNAVAILABLE, /* every remaining target was skipped: 503 overloaded_error
                             (breaker open) or 429 rate_limit_error (every key resting);
                             ex->hint_ms says when to come back */
} ccp_prep_step;

typedef struct ccp_prep_error {
    ccp_prep_step step;
    int status;
    const char *type; /* static Anthropic error type */
    ccp_error err;
} ccp_prep_error;

/* Prepares the attempt at ex->attempt, or at a later target when the
 * breaker of this one is open or all its keys rest (ex->attempt moves on,
 * the skip is noted in ex->skipped); with a key pool, chooses the key.
 * Then: the target's request (a copy of the client's while another
 * attempt may follow, so each starts from the client's own; with
 * ex->reload, the tree itself, rebuilt by reload when an earlier attempt
 * took it), the rule's
 * and the target's request hooks, the codec's encoding, the outbound hooks
 * on the body tree, and one serialization. Returns 0 and fills *a
 * (initialised here), or -1 with *e set. */
int ccp_exchange_prepare(ccp_exchange *ex, ccp_attempt *a, ccp_prep_error *e);

void ccp_attempt_free(ccp_attempt *a);

/* How an attempt ended, as far as the exchange cares. */
typedef struct ccp_attempt_end {
    int result;       /* 0: the answer arrived whole; else the transport's CCP_E* code */
    int status;       /* the upstream's HTTP status; 0 when none arrived */
    bool answered;    /* something of it already reached the client */
    int64_t hint_ms;  /* the head's wait hint (ccp_hint_from_head); -1: none */
    const char *body; /* the error body (for Gemini's RetryInfo); may be NULL */
    size_t body_len;
} ccp_attempt_end;

typedef enum {
    CCP_VERDICT_DONE,      /* a 2xx answer: deliver it */
    CCP_VERDICT_RETRY,     /* prepare the same target again after *delay_ms */
    CCP_VERDICT_FALL_BACK, /* try the route's next target (ccp_exchange_next) */
    CCP_VERDICT_FAIL,      /* give the client this attempt's error */
} ccp_verdict;

/* What attempt a's end means, with nothing of it sent to the client yet
 * and time left before the deadline:
 *   - a 429/401/403 with another healthy key: RETRY at once on that key
 *     (the one used rests for the wait hint, or is parked);
 *   - a connect error, a timeout, 408, 409, 429, 500, 502, 503, 504, 529,
 *     a broken stream: RETRY after the provider's wait hint (when at most
 *     retry.max_wait_ms) or the backoff, while retry.attempts allow and
 *     the wait plus the time this try took fits before the deadline;
 *   - then transport failures, 408, 429 and 5xx FALL_BACK to the next
 *     target; another 4xx would fail the same way elsewhere: FAIL.
 * Records the outcome in the provider's breaker. */
ccp_verdict ccp_exchange_judge(ccp_exchange *ex, const ccp_attempt *a, const ccp_attempt_end *end,
                               uint64_t *delay_ms);

/* Appends "; skipped=...; retries=N" (nothing when neither) to a route
 * description (x-ccproxy-route, the access log). */
void ccp_exchange_describe(const ccp_exchange *ex, ccp_buf *out);

/* True while a later target remains to fall back to. */
bool ccp_exchange_has_next(const ccp_exchange *ex);

/* Moves to the next target; false when none remains. */
bool ccp_exchange_next(ccp_exchange *ex);

/* Something reached the client: no retry or fallback can follow, so the
 * client's request is let go now rather than held for a long stream. */
void ccp_exchange_answered(ccp_exchange *ex);

/* Releases the request (the route choice is the caller's), and the
 * breaker's count of an attempt that never ended (the client left). */
void ccp_exchange_free(ccp_exchange *ex);

#endif
