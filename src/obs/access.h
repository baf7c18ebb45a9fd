/* access.h — what the access log (one line per request) and the request
 * metrics know about a finished request.
 *
 * The server fills what HTTP knows (id, method, path, status, bytes,
 * times); the handler fills a ccp_access (ccp_res_access) with what only
 * it knows (the route, the provider, the attempts, the tokens). When the
 * response is finished the server writes the line (ccp_access_log) and
 * hands the same record to the app (ccp_server_opts.request_done), which
 * counts it in the metrics. */
#ifndef CCP_OBS_ACCESS_H
#define CCP_OBS_ACCESS_H

#include "core/buf.h"
#include "obs/tracectx.h"

#include <stdbool.h>
#include <stdint.h>

/* Filled by the handler. Strings are borrowed: each must stay valid until
 * the response is finished (the handler's last ccp_res_* call), except
 * route, which the response owns (ccp_res_log_route). */
typedef struct ccp_access {
    const char *stage;          /* "default", "thinking", ...; NULL: not routed */
    const char *rule;           /* the router rule that matched, or NULL */
    char *route;                /* ccp_route_describe's text; owned by the response */
    const char *provider;       /* the provider that served (or failed last) */
    const char *model;          /* the model the client asked for */
    const char *upstream_model; /* the model asked of the provider */
    const char *fallback_from;  /* the provider of the attempt before the last, if any */
    const char *error_type;     /* the Anthropic error type the client got, if any */
    const char *stop_reason;    /* of the answer, if known */
    bool stream;                /* the client asked for SSE */
    bool has_stream;            /* stream is known (a /v1/messages request) */
    int attempts;               /* upstream attempts sent */
    int retries;                /* of those, repeats on the same target (0 until retries land) */
    int upstream_status;        /* the last attempt's HTTP status; 0 = none */
    int64_t upstream_ttfb_ns;   /* the last attempt's send to its head; -1 = none */
    int64_t upstream_wait_ns;   /* time spent waiting on providers, all attempts */
    uint64_t first_token_ns;    /* uv_hrtime() of the first token sent; 0 = none */
    bool in_flight;             /* counted in ccproxy_in_flight_requests (metrics.h) */
    /* Token counts the provider reported; -1 = not reported. */
    int64_t input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens;
} ccp_access;

/* Sets every field to "unknown". */
void ccp_access_init(ccp_access *a);

/* One finished request as the server saw it. */
typedef struct ccp_access_rec {
    const char *id;            /* request id */
    const char *method;        /* as sent (a client's) */
    const char *path;          /* without the query (a client's) */
    int status;                /* 0: the client left before the head */
    const char *client;        /* "address:port" of the peer, or NULL */
    const char *session_id;    /* x-claude-code-session-id (a client's), or NULL */
    const ccp_tracectx *trace; /* may be NULL */
    uint64_t start_ns;         /* uv_hrtime() when the head began */
    uint64_t head_ns;          /* when the response head went out; 0 = never */
    uint64_t end_ns;           /* when the response was finished */
    uint64_t bytes_in, bytes_out;
    bool client_gone; /* the client disconnected before the end */
    bool admin;       /* came through the admin listener */
    const ccp_access *info;
} ccp_access_rec;

/* Writes the access-log line for rec at info level, in the log format in
 * force (text as it always was, or one JSON object; docs/observability.md
 * lists the fields). Does nothing below info. */
void ccp_access_log(const ccp_access_rec *rec);

/* The pieces of the line, for tests: appends the text form or the JSON
 * fields (without braces, time or level) to out. */
void ccp_access_format_text(const ccp_access_rec *rec, ccp_buf *out);
void ccp_access_format_json(const ccp_access_rec *rec, ccp_buf *out);

/* Milliseconds of time spent in the proxy itself: the whole duration less
 * the wait on providers. */
double ccp_access_overhead_ms(const ccp_access_rec *rec);

#endif
