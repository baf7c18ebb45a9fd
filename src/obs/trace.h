/* trace.h — spans as plain data, and the W3C trace context.
 *
 * A span here is a fixed-size struct with no pointers to anything that
 * outlives it: its attributes' strings live in the span's own text area
 * (cut when full), their keys are static strings. A request builds its
 * spans in place and hands a finished one to the exporter (obs/otlp.h) by
 * copying it into the exporter's queue; all serialization happens on the
 * exporter's thread. So the request path does no allocation and no JSON
 * for tracing.
 *
 * The traceparent parse and format below are this module's own minimal
 * version of W3C Trace Context (version 00): obs/tracectx.c (the log
 * correlation work) has another; they are to be unified. */
#ifndef CCP_OBS_TRACE_H
#define CCP_OBS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OTLP's SpanKind values. */
enum { CCP_SPAN_SERVER = 2, CCP_SPAN_CLIENT = 3 };
/* OTLP's Status.code values. */
enum { CCP_STATUS_UNSET = 0, CCP_STATUS_OK = 1, CCP_STATUS_ERROR = 2 };

typedef enum {
    CCP_ATTR_STR,
    CCP_ATTR_INT,
    CCP_ATTR_BOOL,
    CCP_ATTR_STR_LIST1, /* an array of one string (gen_ai.response.finish_reasons) */
} ccp_attr_type;

typedef struct ccp_span_attr {
    const char *key;   /* static */
    uint8_t type;      /* a ccp_attr_type */
    uint16_t off, len; /* STR, STR_LIST1: the value in the span's text */
    int64_t i;         /* INT, BOOL */
} ccp_span_attr;

#define CCP_SPAN_MAX_ATTRS 24
#define CCP_SPAN_TEXT 1536

typedef struct ccp_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_id[8]; /* all zero: a root span */
    uint8_t kind;         /* CCP_SPAN_SERVER or CCP_SPAN_CLIENT */
    uint8_t status;       /* CCP_STATUS_* */
    uint16_t n_attrs;
    uint16_t text_len;
    uint16_t name_off, name_len;     /* in text */
    uint16_t status_off, status_len; /* the status message, in text */
    uint64_t start_ns, end_ns;       /* Unix epoch nanoseconds */
    ccp_span_attr attrs[CCP_SPAN_MAX_ATTRS];
    char text[CCP_SPAN_TEXT];
} ccp_span;

/* An incoming trace context. */
/* Random ids from a per-thread generator seeded from the kernel; never
 * all zero. */
void ccp_trace_new_id(uint8_t *id, size_t len);

/* The sampling decision for a new root trace: true for the share ratio
 * of trace ids (as OpenTelemetry's TraceIdRatioBased, on the id's last 8
 * bytes), so all services sampling at one ratio agree. */
bool ccp_trace_sample(const uint8_t trace_id[16], double ratio);

/* Unix epoch time in nanoseconds. */
uint64_t ccp_trace_now_ns(void);

/* Starts a span (everything else zero): ids copied, name stored. */
void ccp_span_init(ccp_span *s, int kind, const char *name, const uint8_t trace_id[16],
                   const uint8_t parent_id[8]);
/* Attributes: the value is copied into the span's text (cut to what fits;
 * dropped when the table is full). Setting a key twice adds it twice:
 * callers set each once. */
void ccp_span_str(ccp_span *s, const char *key, const char *v);
void ccp_span_strn(ccp_span *s, const char *key, const char *v, size_t n);
void ccp_span_int(ccp_span *s, const char *key, int64_t v);
void ccp_span_bool(ccp_span *s, const char *key, bool v);
void ccp_span_str_list1(ccp_span *s, const char *key, const char *v);
/* Sets the status; msg (may be NULL) is kept for ERROR only. */
void ccp_span_status(ccp_span *s, int code, const char *msg);

#endif
