/* server.h — the HTTP/1.1 server: listeners, connections, requests, responses.
 *
 * Worker threads (default one per core) each run a libuv loop and listen on
 * the same port with SO_REUSEPORT, so the kernel spreads connections. llhttp
 * parses requests; the server enforces the limits (head size, body size, head
 * read time, idle time), answers Expect: 100-continue, handles keep-alive and
 * chunked request bodies, and gives each request an id. The application sees
 * only whole requests (head and body) through one handler callback, and
 * answers through a ccp_response, all on the worker's loop thread. */
#ifndef CCP_HTTP_SERVER_H
#define CCP_HTTP_SERVER_H

#include "core/buf.h"
#include "core/headers.h"
#include "core/error.h"
#include "obs/access.h"
#include "obs/tracectx.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ccp_request {
    const char *method;             /* "GET", "POST", ... */
    const char *path;               /* without the query string, e.g. "/v1/messages" */
    const char *query;              /* after '?', or "" */
    const ccp_header_view *headers; /* names lower-cased */
    size_t n_headers;
    const char *body; /* NUL-terminated after body_len */
    size_t body_len;
    const char *id;    /* "req_" + 24 hex digits; also sent as request-id */
    uint64_t start_ns; /* uv_hrtime() when the head began */
    /* The request's trace context: the incoming traceparent's trace, or a
     * new one; a span of its own (obs/tracectx.h). */
    const ccp_tracectx *trace;
    bool admin; /* it came through the admin listener */
} ccp_request;

/* The request's header value by lower-case name, or NULL. */
const char *ccp_request_header(const ccp_request *req, const char *name);

typedef struct ccp_response ccp_response;

/* Adds a response header (copied). Before send/start_stream only. */
void ccp_res_header(ccp_response *res, const char *name, const char *value);
/* Sends a whole response with Content-Length and finishes it. */
void ccp_res_send(ccp_response *res, int status, const char *content_type, const char *body,
                  size_t len);
/* Sends an Anthropic-format error body with the given status and finishes. */
void ccp_res_send_error(ccp_response *res, int status, const char *type, const char *message);
/* Starts a streamed response (chunked transfer encoding). */
void ccp_res_start_stream(ccp_response *res, int status, const char *content_type);
/* Writes and flushes the next piece of a streamed response. Returns 0, or
 * CCP_ECANCELED when the client has gone (the write is dropped). */
int ccp_res_write(ccp_response *res, const char *data, size_t len);
/* Finishes a streamed response. */
void ccp_res_end(ccp_response *res);
/* Registers fn to be called once if the client disconnects before the
 * response is finished; the handler must then cancel its work and still
 * finish the response (send/end become no-ops that release it). */
void ccp_res_on_abort(ccp_response *res, void (*fn)(void *ud), void *ud);
/* Backpressure for streamed responses: congested is true once more than
 * the connection's high-water mark (1 MiB) waits to reach a client that is
 * not reading; stop producing then (pause the upstream transfer). fn runs
 * once the client has read the backlog down to the low-water mark (256
 * KiB), from the connection's write path: resume the upstream there. */
bool ccp_res_congested(const ccp_response *res);
void ccp_res_on_drain(ccp_response *res, void (*fn)(void *ud), void *ud);
/* Shutdown: fn runs once if the server's drain deadline passes while the
 * response is in flight; the handler must cancel its work and end the
 * response at once with an error the client can retry (an SSE error event
 * once streaming began). The connection is closed soon after. */
void ccp_res_on_shutdown(ccp_response *res, void (*fn)(void *ud), void *ud);
/* The access-log and metrics fields the server cannot know, for the
 * handler to fill (obs/access.h says how long its strings must live). */
ccp_access *ccp_res_access(ccp_response *res);

/* A tap on what res sends (debug capture): fn sees every byte written to
 * the connection, in order, then once the finished response's record
 * (data NULL, rec set) just before res is freed. */
typedef void (*ccp_res_tap_fn)(void *ud, const char *data, size_t len,
                               const struct ccp_access_rec *rec);
void ccp_res_tap(ccp_response *res, ccp_res_tap_fn fn, void *ud);
/* Sets the access fields provider, upstream_model and stream. Borrowed. */
void ccp_res_log_info(ccp_response *res, const char *provider, const char *model, bool stream);
/* The route taken (see ccp_route_describe), for the access log; copied. */
void ccp_res_log_route(ccp_response *res, const char *route);
uv_loop_t *ccp_res_loop(ccp_response *res);
/* The port the server listens on (the one picked when 0 was asked). */
int ccp_res_listen_port(ccp_response *res);
/* The per-worker state returned by worker_start for this response's loop. */
void *ccp_res_worker_data(ccp_response *res);

/* Called on the worker's loop once the whole request is in. The request is
 * valid until the response is finished. Exactly one of ccp_res_send,
 * ccp_res_send_error or ccp_res_end must eventually be called. */
typedef void (*ccp_handler_fn)(void *app, const ccp_request *req, ccp_response *res);

typedef struct ccp_server_opts {
    const char *host;
    int port;
    int workers; /* 0 = one per core */
    size_t max_header_bytes;
    int max_headers; /* header fields per request head; 0 = no cap */
    size_t max_body_bytes;
    uint32_t header_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t body_timeout_ms; /* the whole body, from the end of the head; 0 = none */
    uint32_t drain_timeout_ms;
    uint32_t write_timeout_ms; /* a client that reads nothing this long is dropped; 0 = never */
    int max_connections;       /* open connections, all workers; 0 = no cap */
    int max_connections_per_client; /* for messages (clients enforces it) */
    ccp_handler_fn handler;
    void *app;
    /* Writes the body of an error the server answers by itself (a bad
     * request head, a limit, a timeout): the app's error format. */
    void (*error_body)(ccp_buf *out, const char *type, const char *message);
    /* Per worker thread, on its loop: returns worker data (e.g. its upstream
     * client) passed back through ccp_res_worker_data; stop releases it. */
    void *(*worker_start)(void *app, uv_loop_t *loop);
    void (*worker_stop)(void *app, void *worker_data);
    /* Called once all listeners are bound, before serving (may be NULL):
     * lets the caller print "listening on ..." with the real port. */
    void (*on_listening)(void *app, const char *host, int port);
    /* The admin listener (server.admin_listen): when admin_host is set, one
     * more worker thread serves it, and its requests carry admin = true.
     * on_admin_listening (may be NULL) runs before on_listening. */
    const char *admin_host;
    int admin_port; /* 0 = any free */
    void (*on_admin_listening)(void *app, const char *host, int port);
    /* HTTPS (server.tls): the context of the main listener, and of the
     * admin listener (the same one, or NULL for plain HTTP). Owned by the
     * caller, alive until ccp_server_run returns. */
    struct ccp_tls_server *tls, *admin_tls;
    /* Per-client-address limits of the main listener (client_limit.h):
     * max_connections_per_client and client_rate_limit; NULL: none. Owned
     * by the caller, alive until ccp_server_run returns. */
    struct ccp_client_table *clients;
    /* Called on the worker's loop as each response is finished, after the
     * access-log line (may be NULL): the app counts it in its metrics. */
    void (*request_done)(void *worker_data, const ccp_access_rec *rec);
    /* On the main thread's loop (each may be NULL): main_start runs once
     * before the workers start (the app may add handles, e.g. a file
     * watch), main_stop when the server stops (it must close them), and
     * on_sighup at each SIGHUP (the app reloads its config). */
    void (*main_start)(void *app, uv_loop_t *loop);
    void (*main_stop)(void *app);
    void (*on_sighup)(void *app);
} ccp_server_opts;

/* Binds, runs the workers, and blocks until SIGINT/SIGTERM: then stops
 * accepting, lets in-flight requests finish up to drain_timeout_ms, closes
 * everything and returns 0. Returns a CCP_E* code with err set if it could
 * not start (e.g. the port is taken). */
int ccp_server_run(const ccp_server_opts *opts, ccp_error *err);

/* Asks the running server to stop as SIGTERM would (for tests and tools);
 * does nothing if none is running. */
void ccp_server_request_stop(void);

#endif
