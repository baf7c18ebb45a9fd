/* tracectx.h — W3C Trace Context for one request: the trace it belongs to,
 * the span the proxy opens for it, and the caller's span.
 *
 * An incoming `traceparent` header (https://www.w3.org/TR/trace-context/)
 * is honoured: its trace id is kept, its parent id becomes this request's
 * parent span, and a new span id is drawn. Without one (or with a malformed
 * one, which the spec says to ignore) a new trace starts, sampled. The
 * provider is sent `traceparent` naming this request's span as its parent,
 * so its spans hang below ours. The access log and the trace exporter read
 * the ids from here. */
#ifndef CCP_OBS_TRACECTX_H
#define CCP_OBS_TRACECTX_H

#include <stdbool.h>
#include <stdint.h>

/* A traceparent header value for version 00: 55 characters. */
#define CCP_TRACEPARENT_LEN 55

typedef struct ccp_tracectx {
    uint8_t trace_id[16];
    uint8_t span_id[8];        /* this request's span in the proxy */
    uint8_t parent_span_id[8]; /* the caller's span; all zero without a parent */
    uint8_t flags;             /* trace-flags; bit 0: sampled */
    bool has_parent;           /* an incoming traceparent was honoured */
    /* The same ids in lower-case hex, NUL-terminated, for logs and headers. */
    char trace_hex[33];
    char span_hex[17];
    char parent_hex[17]; /* "" without a parent */
} ccp_tracectx;

/* Parses a traceparent header value. Returns true and fills trace, parent
 * and flags when it is valid: version 00 exactly as the spec writes it, or
 * a later version (not ff) whose first four fields have that shape; an id
 * of all zeros is invalid. */
bool ccp_tracectx_parse(const char *value, uint8_t trace[16], uint8_t parent[8], uint8_t *flags);

/* Fills t for a request: from the incoming traceparent (may be NULL) when
 * valid, else a new trace. Ids are drawn from *rng (a non-zero xorshift64
 * state the caller owns, e.g. its worker's). */
void ccp_tracectx_init(ccp_tracectx *t, const char *traceparent, uint64_t *rng);

/* Writes the traceparent to send on: "00-<trace>-<span>-<flags>" with this
 * request's span as the parent (out holds CCP_TRACEPARENT_LEN + 1). */
void ccp_tracectx_header(const ccp_tracectx *t, char out[CCP_TRACEPARENT_LEN + 1]);

/* The vendor state to send on with the traceparent: the incoming
 * `tracestate` value when t continues the caller's trace and the value is
 * one the spec allows us to pass (at most 512 characters, printable ASCII,
 * which is what the spec asks an intermediary to propagate at least);
 * NULL otherwise (a new trace must not carry another trace's state). */
const char *ccp_tracectx_state(const ccp_tracectx *t, const char *tracestate);

/* Draws a new span id (e.g. for one upstream attempt) from *rng; never all
 * zeros. */
void ccp_tracectx_new_span(uint8_t span[8], uint64_t *rng);

/* Lower-case hex of n bytes into out (2n + 1 bytes with the NUL). */
void ccp_tracectx_hex(const uint8_t *bytes, int n, char *out);

#endif
