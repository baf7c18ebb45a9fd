/* http_internal.h — what server.c, conn.c and response.c share. */
#ifndef CCP_HTTP_INTERNAL_H
#define CCP_HTTP_INTERNAL_H

#include "core/buf.h"
#include "http/server.h"
#include "obs/access.h"
#include "obs/tracectx.h"
#include "http/client_limit.h"
#include "http/tls_server.h"

#include <llhttp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

typedef struct conn conn;

typedef struct worker {
    const ccp_server_opts *opts;
    uv_loop_t loop;
    uv_tcp_t listener; /* over a dup of fd; closed while accepting is paused */
    /* Out of file descriptors, accept() fails at once and libuv calls back
     * again in the same loop turn, forever: the worker then stops
     * listening and retries from this timer (see pause_accepting). */
    uv_timer_t accept_retry;
    uint64_t retry_ms;         /* the next retry's delay; doubles up to a second */
    uint64_t emfile_logged_ms; /* when the last "out of descriptors" line went out */
    bool accept_paused;
    uv_async_t wake;  /* "stop": sent by the main thread */
    uv_timer_t drain; /* drain deadline while stopping */
    /* Writes are gathered per connection and flushed once per loop turn
     * (before the loop blocks, and after I/O callbacks): a response head
     * and body, or several SSE events from one upstream read, leave in
     * one syscall and one TCP segment. */
    uv_prepare_t flush_prepare;
    uv_check_t flush_check;
    conn *flush_list; /* connections with unflushed bytes */
    uv_timer_t trim;  /* returns free heap memory after large requests (response.c) */
    uv_thread_t thread;
    int fd;      /* the bound listening socket, owned (the listener holds a dup) */
    int port;    /* the port it listens on (the one picked when 0 was asked) */
    void *wdata; /* from opts->worker_start */
    conn *conns; /* live connections */
    size_t n_conns;
    _Atomic int *open_conns; /* every worker's connections, against opts->max_connections */
    bool drain_grace;        /* the drain deadline passed; the last bytes are leaving */
    bool stopping, finalized;
    bool admin;          /* serves the admin listener (server.admin_listen), not the main one */
    ccp_tls_server *tls; /* HTTPS on this listener (server.tls); NULL: plain HTTP */
    ccp_client_table *clients; /* per-client limits (main listener only); NULL: none */
    uint64_t rng;              /* request ids and trace ids */
    /* Every read of the worker's connections lands here: a read is parsed
     * (its bytes copied where they are kept) before the next one, and a
     * 64 KiB malloc per read also made glibc consolidate its free lists. */
    char read_slab[65536];
} worker;

typedef enum { C_IDLE, C_HEAD, C_BODY, C_HANDLER } conn_state;

struct conn {
    worker *w;
    uv_tcp_t tcp;
    llhttp_t parser;
    uv_timer_t timer;
    conn_state state;
    bool closing;      /* uv_close called */
    bool close_after;  /* close once queued writes are flushed */
    bool write_failed; /* libuv refused a write: closed at the next flush */
    bool keep_alive;
    bool first;                      /* no request seen yet on this connection */
    bool reject;                     /* over server.max_connections: answer 503 and close */
    uint64_t handed;                 /* bytes ever given to uv_write (for write_timeout_ms) */
    uint64_t written_mark;           /* of those, how many had reached the socket at the
                                        last write-timeout check */
    size_t queued;                   /* bytes written by the handler, not yet on the socket */
    bool congested;                  /* queued passed the high-water mark, not yet drained */
    ccp_buf out;                     /* bytes not yet handed to uv_write (see worker.flush_list) */
    conn *flush_next, **flush_pprev; /* in worker.flush_list while out is not empty */
    ccp_buf pending;                 /* bytes read while a response is in flight */
    /* the request being parsed */
    ccp_buf url;
    ccp_buf hbuf;  /* header names and values, NUL-separated */
    size_t *hoffs; /* offsets into hbuf: name, value, name, value... */
    size_t n_hoffs, cap_hoffs;
    bool in_value;
    ccp_buf body;
    size_t head_bytes;
    bool expect_continue;
    bool too_large;
    uint64_t start_ns;
    uint64_t body_deadline; /* uv_now() by which the body must be in; 0 = none */
    uint64_t bytes_in;
    ccp_tls_conn *tls;      /* the TLS session (server.tls), owned; NULL: plain HTTP */
    ccp_client_addr client; /* the peer's key in w->clients, when has_client */
    bool has_client;        /* counted in w->clients until closed */
    char peer[64];          /* "address:port", filled when first needed ("" until then) */
    ccp_response *res;      /* the response in flight, if any */
    conn *next, **pprev;
};

struct ccp_response {
    conn *c; /* NULL once the client is gone */
    worker *w;
    ccp_request req;
    /* request storage, owned */
    char *method, *path, *query, *body;
    ccp_header_view *headers;
    char *hstore;
    char id[32];
    ccp_buf extra; /* "name: value\r\n" lines set by the handler */
    bool head_sent, streaming, finished, is_head, keep_alive;
    bool pushed;          /* the first stream chunk went out at once */
    bool http10;          /* the client speaks HTTP/1.0: it knows no chunked encoding */
    bool close_delimited; /* a stream to an HTTP/1.0 client: its end is the close */
    void (*abort_fn)(void *ud);
    void *abort_ud;
    void (*drain_fn)(void *ud);
    void *drain_ud;
    void (*shutdown_fn)(void *ud);
    void *shutdown_ud;
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t head_ns;    /* uv_hrtime() when the head went out; 0 before */
    ccp_tracectx trace;  /* see obs/tracectx.h */
    const char *client;  /* the connection's peer (conn.peer), copied below */
    char client_buf[64]; /* owned copy: the connection may go first */
    ccp_access access;   /* filled by the handler (ccp_res_access) */
    ccp_res_tap_fn tap;  /* see ccp_res_tap; NULL: none */
    void *tap_ud;
};

/* conn.c */
void ccp_conn_accept(worker *w);
void ccp_conn_close(conn *c);
/* Queues bytes for the socket (copied; flushed this loop turn); returns 0
 * or CCP_ECANCELED. */
int ccp_conn_write(conn *c, const char *data, size_t len);
/* Hands c's gathered bytes to the socket now, not at the end of the loop
 * turn; returns 0 or CCP_ECANCELED. */
int ccp_conn_push(conn *c);
/* True from the moment more than the high-water mark is queued for the
 * socket until the client has read it down to the low-water mark; the
 * response in flight is then told through ccp_response_drained. */
bool ccp_conn_congested(const conn *c);
/* Hands every connection's gathered bytes to the socket. */
void ccp_worker_flush(worker *w);
/* The response in flight finished: log, then read the next request. */
void ccp_conn_response_done(conn *c, bool keep_alive);
/* Writes an Anthropic-format error with Connection: close and closes. */
void ccp_conn_fail(conn *c, int status, const char *type, const char *message);

/* response.c */
ccp_response *ccp_response_new(conn *c);
void ccp_response_abort(ccp_response *res);
/* The connection drained below its low-water mark: runs the handler's
 * drain callback (last thing; it may finish and free res). */
void ccp_response_drained(ccp_response *res);
/* The drain deadline passed while res is in flight: asks its handler to end
 * it with an error (true), or returns false when it registered no way to. */
bool ccp_response_shutdown(ccp_response *res);
const char *ccp_http_reason(int status);
void ccp_http_request_id(worker *w, char out[32]);

/* The peer's "address:port" (cached in c->peer), or NULL. */
const char *ccp_conn_peer(conn *c);

/* server.c */
void ccp_worker_conn_gone(worker *w);

#endif
