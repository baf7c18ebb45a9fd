/* response.c — ccp_response: the request as the handler sees it, and the
 * ways to answer it (whole, or streamed with chunked encoding).
 *
 * A response owns a copy of its request, so it stays valid after the client
 * has gone; it is freed when the handler finishes it (send, send_error or
 * end), whichever happens first of that and the client leaving being
 * reported through the abort callback. */
#include "http/http_internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ccp_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 529:
        return "Overloaded";
    }
    return "Unknown";
}

void ccp_http_request_id(worker *w, char out[32])
{
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "req_", 4);
    for (int i = 0; i < 24; i++) {
        uint64_t x = w->rng;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        w->rng = x;
        out[4 + i] = hex[(x >> 32) & 15];
    }
    out[28] = '\0';
}

ccp_response *ccp_response_new(conn *c)
{
    ccp_response *r = ccp_xcalloc(1, sizeof *r);
    r->c = c;
    r->w = c->w;
    ccp_http_request_id(c->w, r->id);
    r->method = ccp_xstrdup(llhttp_method_name((llhttp_method_t)c->parser.method));
    const char *url = c->url.data ? c->url.data : "/";
    const char *q = strchr(url, '?');
    r->path = q ? ccp_xstrndup(url, (size_t)(q - url)) : ccp_xstrdup(url);
    r->query = ccp_xstrdup(q ? q + 1 : "");
    size_t nh = c->n_hoffs / 2;
    r->hstore = ccp_xmalloc(c->hbuf.len + 1);
    memcpy(r->hstore, c->hbuf.data ? c->hbuf.data : "", c->hbuf.len);
    r->hstore[c->hbuf.len] = '\0';
    r->headers = ccp_xcalloc(nh ? nh : 1, sizeof *r->headers);
    for (size_t i = 0; i < nh; i++) {
        r->headers[i].name = r->hstore + c->hoffs[2 * i];
        r->headers[i].value = r->hstore + c->hoffs[2 * i + 1];
    }
    size_t blen;
    r->body = ccp_buf_detach(&c->body, &blen);
    r->is_head = strcmp(r->method, "HEAD") == 0;
    r->keep_alive = c->keep_alive;
    r->http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    r->bytes_in = c->bytes_in;
    c->bytes_in = 0;
    ccp_access_init(&r->access);
    /* The peer address only serves the JSON access log: a getpeername per
     * connection is not spent otherwise. */
    if (ccp_log_get_format() == CCP_LOG_JSON && ccp_log_enabled(CCP_LOG_INFO)) {
        const char *peer = ccp_conn_peer(c);
        if (peer) {
            size_t n = strnlen(peer, sizeof r->client_buf - 1);
            memcpy(r->client_buf, peer, n);
            r->client_buf[n] = '\0';
            r->client = r->client_buf;
        }
    }
    r->req = (ccp_request){
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .headers = r->headers,
        .n_headers = nh,
        .body = r->body,
        .body_len = blen,
        .id = r->id,
        .start_ns = c->start_ns,
        .trace = &r->trace,
        .admin = c->w->admin,
    };
    /* The trace context comes before the handler so that every attempt,
     * log line and span of the request shares it. */
    ccp_tracectx_init(&r->trace, ccp_request_header(&r->req, "traceparent"), &c->w->rng);
    return r;
}

const char *ccp_request_header(const ccp_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0) return req->headers[i].value;
    return NULL;
}

static void response_free(ccp_response *r)
{
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->body);
    free(r->headers);
    free(r->hstore);
    ccp_buf_free(&r->extra);
    free(r->access.route);
    free(r);
}

/* One line per request (obs/access_log.c), then the app's count of it. */
static void access_log(ccp_response *r)
{
    ccp_access_rec rec = {
        .id = r->id,
        .method = r->method,
        .path = r->path,
        .status = r->status,
        .client = r->client,
        .session_id = ccp_request_header(&r->req, "x-claude-code-session-id"),
        .trace = &r->trace,
        .start_ns = r->req.start_ns,
        .head_ns = r->head_ns,
        .end_ns = uv_hrtime(),
        .bytes_in = r->bytes_in,
        .bytes_out = r->bytes_out,
        .client_gone = r->c == NULL,
        .admin = r->w->admin,
        .info = &r->access,
    };
    ccp_access_log(&rec);
    if (r->tap) r->tap(r->tap_ud, NULL, 0, &rec); /* debug capture: the end */
    if (r->w->opts->request_done && r->w->wdata) r->w->opts->request_done(r->w->wdata, &rec);
}

/* A large request's JSON trees are many small blocks; freed, glibc keeps
 * them in its arenas, so the memory of the largest request a process ever
 * served stayed with it (a 14 MB body: 346 MiB kept after the answer).
 * malloc_trim gives the free pages back (9.6 MiB after). It runs once the
 * worker has had no large request end for TRIM_DELAY_MS: trimming after
 * each one made back-to-back 1.2 MB requests 25 ms slower apiece, the
 * pages being faulted in again by the next. */
#define TRIM_AFTER_BYTES (1024 * 1024)
#define TRIM_DELAY_MS 1000

static void trim_cb(uv_timer_t *t)
{
    (void)t;
    malloc_trim(0);
}

/* Finishes r: logs it, hands the connection back, frees r. */
static void complete(ccp_response *r)
{
    if (r->finished) return;
    r->finished = true;
    access_log(r);
    conn *c = r->c;
    bool keep = r->keep_alive;
    if (r->req.body_len >= TRIM_AFTER_BYTES) uv_timer_start(&r->w->trim, trim_cb, TRIM_DELAY_MS, 0);
    response_free(r);
    if (c) ccp_conn_response_done(c, keep);
}

void ccp_response_abort(ccp_response *r)
{
    r->c = NULL;
    if (r->abort_fn) r->abort_fn(r->abort_ud); /* the handler ends r, freeing it */
}

void ccp_response_drained(ccp_response *r)
{
    if (r->drain_fn && !r->finished) r->drain_fn(r->drain_ud);
}

bool ccp_response_shutdown(ccp_response *r)
{
    if (!r->shutdown_fn || r->finished) return false;
    void (*fn)(void *) = r->shutdown_fn;
    r->shutdown_fn = NULL;
    fn(r->shutdown_ud); /* the handler ends r, freeing it */
    return true;
}

void ccp_res_on_shutdown(ccp_response *r, void (*fn)(void *ud), void *ud)
{
    r->shutdown_fn = fn;
    r->shutdown_ud = ud;
}

static void out(ccp_response *r, const char *data, size_t len)
{
    r->bytes_out += len;
    if (r->tap) r->tap(r->tap_ud, data, len, NULL); /* debug capture */
    if (r->c) ccp_conn_write(r->c, data, len);
}

static void write_head(ccp_response *r, int status, const char *content_type, long long length)
{
    ccp_buf h = CCP_BUF_INIT;
    r->status = status;
    if (r->c && r->c->w->stopping) r->keep_alive = false;
    /* Written without printf: once per response. */
    ccp_buf_reserve(&h, 256 + r->extra.len);
    CCP_BUF_LIT(&h, "HTTP/1.1 ");
    ccp_buf_append_i64(&h, status);
    ccp_buf_appendc(&h, ' ');
    ccp_buf_appends(&h, ccp_http_reason(status));
    CCP_BUF_LIT(&h, "\r\nrequest-id: ");
    ccp_buf_appends(&h, r->id);
    CCP_BUF_LIT(&h, "\r\n");
    if (content_type) {
        CCP_BUF_LIT(&h, "content-type: ");
        ccp_buf_appends(&h, content_type);
        CCP_BUF_LIT(&h, "\r\n");
    }
    if (length >= 0) {
        CCP_BUF_LIT(&h, "content-length: ");
        ccp_buf_append_i64(&h, length);
        CCP_BUF_LIT(&h, "\r\n");
    } else if (r->http10) {
        /* HTTP/1.0 has no chunked encoding: the stream ends with the
         * connection (RFC 9112 section 6.3). */
        r->close_delimited = true;
        r->keep_alive = false;
    } else {
        ccp_buf_appends(&h, "transfer-encoding: chunked\r\n");
    }
    if (!r->keep_alive) ccp_buf_appends(&h, "connection: close\r\n");
    if (r->extra.len) ccp_buf_append(&h, r->extra.data, r->extra.len);
    ccp_buf_appends(&h, "\r\n");
    out(r, h.data, h.len);
    ccp_buf_free(&h);
    r->head_sent = true;
    r->head_ns = uv_hrtime();
}

void ccp_res_header(ccp_response *r, const char *name, const char *value)
{
    if (r->head_sent) return;
    /* Header injection guard: values come partly from upstreams. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
    ccp_buf_appends(&r->extra, name);
    CCP_BUF_LIT(&r->extra, ": ");
    ccp_buf_appends(&r->extra, value);
    CCP_BUF_LIT(&r->extra, "\r\n");
}

void ccp_res_send(ccp_response *r, int status, const char *content_type, const char *body,
                  size_t len)
{
    if (r->finished) return;
    if (!r->head_sent) {
        write_head(r, status, content_type, (long long)len);
        if (!r->is_head && len) out(r, body, len);
    }
    complete(r);
}

void ccp_res_send_error(ccp_response *r, int status, const char *type, const char *message)
{
    ccp_buf b = CCP_BUF_INIT;
    r->w->opts->error_body(&b, type, message);
    ccp_res_send(r, status, "application/json", b.data, b.len);
    ccp_buf_free(&b);
}

void ccp_res_start_stream(ccp_response *r, int status, const char *content_type)
{
    if (r->head_sent || r->finished) return;
    r->streaming = true;
    write_head(r, status, content_type, -1);
}

int ccp_res_write(ccp_response *r, const char *data, size_t len)
{
    if (!r->c) return CCP_ECANCELED;
    if (!r->streaming || len == 0 || r->is_head) return 0;
    /* The connection gathers the pieces into one write. */
    if (r->close_delimited) {
        out(r, data, len);
    } else {
        /* The chunk size in hex, as "%zx\r\n" (one per SSE frame). */
        char head[24];
        size_t n = sizeof head;
        head[--n] = '\n';
        head[--n] = '\r';
        size_t v = len;
        do {
            head[--n] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v);
        out(r, head + n, sizeof head - n);
        out(r, data, len);
        out(r, "\r\n", 2);
    }
    /* The head and the first event leave at once: time to first byte is
     * what a streaming client feels. The rest is gathered per loop turn. */
    if (!r->pushed && r->c) {
        r->pushed = true;
        ccp_conn_push(r->c);
    }
    return r->c ? 0 : CCP_ECANCELED;
}

void ccp_res_end(ccp_response *r)
{
    if (r->finished) return;
    if (r->streaming && r->c && !r->is_head && !r->close_delimited) out(r, "0\r\n\r\n", 5);
    if (!r->head_sent) write_head(r, 200, NULL, 0);
    complete(r);
}

void ccp_res_on_abort(ccp_response *r, void (*fn)(void *ud), void *ud)
{
    r->abort_fn = fn;
    r->abort_ud = ud;
}

bool ccp_res_congested(const ccp_response *r)
{
    return r->c && ccp_conn_congested(r->c);
}

void ccp_res_on_drain(ccp_response *r, void (*fn)(void *ud), void *ud)
{
    r->drain_fn = fn;
    r->drain_ud = ud;
}

void ccp_res_tap(ccp_response *r, ccp_res_tap_fn fn, void *ud)
{
    r->tap = fn;
    r->tap_ud = ud;
}

ccp_access *ccp_res_access(ccp_response *r)
{
    return &r->access;
}

void ccp_res_log_info(ccp_response *r, const char *provider, const char *model, bool stream)
{
    r->access.provider = provider;
    r->access.upstream_model = model;
    r->access.stream = stream;
    r->access.has_stream = true;
}

void ccp_res_log_route(ccp_response *r, const char *route)
{
    free(r->access.route);
    r->access.route = route ? ccp_xstrdup(route) : NULL;
}

uv_loop_t *ccp_res_loop(ccp_response *r)
{
    return &r->w->loop;
}

int ccp_res_listen_port(ccp_response *r)
{
    return r->w->port;
}

void *ccp_res_worker_data(ccp_response *r)
{
    return r->w->wdata;
}
