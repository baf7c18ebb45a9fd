/* conn.c — one client connection: reading, parsing with llhttp, limits and
 * timeouts, keep-alive and pipelining, and writing.
 *
 * A connection parses one request at a time. When a request is complete
 * the parser is paused and the handler runs; bytes that arrive meanwhile
 * (a pipelined request, or EOF telling us the client left) are kept in
 * `pending`, so a disconnect is noticed at once even mid-response. */
#include "http/http_internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static llhttp_settings_t settings;
static uv_once_t settings_once = UV_ONCE_INIT;

static conn *of_parser(llhttp_t *p)
{
    return p->data;
}

/* ---- timers --------------------------------------------------------- */

static void write_check(conn *c);

static void timer_cb(uv_timer_t *t)
{
    conn *c = t->data;
    /* While a response is written (or the last bytes before a close), the
     * timer watches the client reading (write_check). */
    if (c->state == C_HANDLER || c->close_after) {
        write_check(c);
        return;
    }
    switch (c->state) {
    case C_HEAD:
        ccp_conn_fail(c, 408, "invalid_request_error",
                      "the request head did not arrive in time (server.header_timeout_ms)");
        break;
    case C_BODY:
        if (c->body_deadline && uv_now(t->loop) >= c->body_deadline)
            ccp_conn_fail(c, 408, "invalid_request_error",
                          "the request body did not arrive in time (server.body_timeout_ms)");
        else
            ccp_conn_fail(c, 408, "invalid_request_error",
                          "the request body stalled (server.idle_timeout_ms)");
        break;
    case C_IDLE:
        ccp_conn_close(c);
        break;
    case C_HANDLER:
        break;
    }
}

static void arm(conn *c, uint32_t ms)
{
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* While the body arrives, the timer fires at the idle gap or the body
 * deadline, whichever comes first: each piece re-arms the gap, never the
 * deadline, so a body dribbled a byte at a time is still cut off. */
static void arm_body(conn *c)
{
    uint64_t ms = c->w->opts->idle_timeout_ms;
    if (c->body_deadline) {
        uint64_t now = uv_now(&c->w->loop);
        uint64_t left = c->body_deadline > now ? c->body_deadline - now : 0;
        if (left < ms) ms = left;
    }
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* ---- writing -------------------------------------------------------- */

typedef struct wreq {
    uv_write_t req;
    conn *c;
    size_t len;
    char *data; /* owned */
} wreq;

/* Backpressure: past HIGH_WATER bytes queued for the socket the response
 * is told to stop producing (its upstream transfer pauses), and once the
 * client has read the queue down to LOW_WATER it is told to go on. The gap
 * keeps a client reading at a steady pace from flipping the upstream
 * between paused and running on every write. So a client that stops reading
 * costs about HIGH_WATER plus one upstream chunk, whatever the length of
 * the answer. */
#define HIGH_WATER (1024 * 1024)
#define LOW_WATER (256 * 1024)

/* c->queued went down: tells the response once the queue is short again.
 * Called last by its callers: the response may run its upstream's work,
 * finish, and even close c (c's memory stays until its close callback). */
static void drained(conn *c)
{
    if (!c->congested || c->queued > LOW_WATER || c->closing) return;
    c->congested = false;
    if (c->res) ccp_response_drained(c->res);
}

static void write_cb(uv_write_t *req, int status)
{
    wreq *wr = (wreq *)req;
    conn *c = wr->c;
    c->queued -= wr->len;
    free(wr->data);
    free(wr);
    if (status < 0 && !c->closing) {
        ccp_conn_close(c);
        return;
    }
    if (c->close_after && c->queued == 0 && !c->closing) {
        ccp_conn_close(c);
        return;
    }
    drained(c);
}

static void unlist(conn *c)
{
    if (!c->flush_pprev) return;
    *c->flush_pprev = c->flush_next;
    if (c->flush_next) c->flush_next->flush_pprev = c->flush_pprev;
    c->flush_pprev = NULL;
    c->flush_next = NULL;
}

static void watch_writes(conn *c);

/* A connection keeps its output buffer between answers up to this size. */
#define OUT_KEEP (64 * 1024)

/* ---- TLS (server.tls; see tls_server.h) ----------------------------- */

/* Turns the plaintext gathered in c->out into the TLS records to send (with
 * whatever OpenSSL queued before them, and close_notify when these are the
 * last bytes before a close); c->queued then counts the bytes going to the
 * socket. Only flush_one calls it, which empties c->out every time, so no
 * byte is encrypted twice. Returns -1 if the plaintext could not be sent. */
static int tls_seal(conn *c)
{
    size_t plain = c->out.len;
    int rc = ccp_tls_conn_seal(c->tls, &c->out, c->close_after);
    c->queued = c->queued - plain + c->out.len;
    /* Closing, with nothing left to send (not even close_notify, as after
     * a failure): no write callback will close c, so the caller does. */
    if (c->close_after && c->queued == 0) return -1;
    return rc;
}

static void tls_read(conn *c, const char *data, size_t len);

/* ---- end of TLS ------------------------------------------------------- */

/* Hands c's gathered bytes to the socket. Returns -1 if libuv refused them
 * (the bytes are dropped); the caller closes c, never from inside a write. */
static int flush_one(conn *c)
{
    unlist(c);
    if (c->closing) return 0;
    if (c->tls && tls_seal(c) != 0) return -1;
    if (c->out.len == 0) return 0;
    size_t len = c->out.len;
    /* With nothing of ours in libuv's queue, write at once. The socket
     * almost always takes it all, and then no request is allocated and no
     * callback runs; through uv_write, libuv 1.44 also re-registers the
     * socket with epoll (an epoll_ctl) after every completed write. A
     * closing connection goes through uv_write: its callback closes it. */
    size_t done = 0;
    if (c->queued == len && !c->close_after) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n < 0 && n != UV_EAGAIN) {
            c->queued -= len;
            ccp_buf_reset(&c->out);
            return -1;
        }
        if (n > 0) done = (size_t)n;
        c->queued -= done;
        if (done == len) {
            if (c->out.cap > OUT_KEEP)
                ccp_buf_free(&c->out);
            else
                ccp_buf_reset(&c->out);
            drained(c);
            return 0;
        }
    }
    wreq *wr = ccp_xmalloc(sizeof *wr);
    wr->c = c;
    wr->data = ccp_buf_detach(&c->out, &wr->len);
    wr->len -= done;
    uv_buf_t b = uv_buf_init(wr->data + done, (unsigned)wr->len);
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
        c->queued -= wr->len;
        free(wr->data);
        free(wr);
        return -1;
    }
    c->handed += wr->len;
    watch_writes(c);
    return 0;
}

static void list(conn *c)
{
    if (c->flush_pprev) return;
    worker *w = c->w;
    c->flush_next = w->flush_list;
    if (c->flush_next) c->flush_next->flush_pprev = &c->flush_next;
    c->flush_pprev = &w->flush_list;
    w->flush_list = c;
}

/* ---- clients that stop reading (server.write_timeout_ms) ------------- */

/* Bytes of ours that have reached the socket: what was handed to uv_write
 * less what libuv still holds. libuv's queue shrinks with every partial
 * write, so this moves whenever the client reads anything at all, even
 * inside one large write. */
static uint64_t written(conn *c)
{
    return c->handed - uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

/* Bytes are waiting in libuv for c: if the timer is free (a response is in
 * flight, or the last bytes before a close), it checks on the client every
 * write_timeout_ms. */
static void watch_writes(conn *c)
{
    uint32_t ms = c->w->opts->write_timeout_ms;
    if (!ms || !(c->state == C_HANDLER || c->close_after)) return;
    if (uv_is_active((uv_handle_t *)&c->timer)) return;
    c->written_mark = written(c);
    uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* A whole period has passed: a client that took nothing of what waits for
 * it is dropped (closing aborts its response, which cancels the upstream
 * transfer); one that took something gets another period. */
static void write_check(conn *c)
{
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) return; /* all out */
    uint64_t now = written(c);
    if (now != c->written_mark) {
        c->written_mark = now;
        uv_timer_start(&c->timer, timer_cb, c->w->opts->write_timeout_ms, 0);
        return;
    }
    ccp_log_warn("%s: the client read nothing for %u ms with %zu bytes waiting for it; dropping "
                 "the connection (server.write_timeout_ms)",
                 c->res ? c->res->id : "connection", c->w->opts->write_timeout_ms,
                 uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp));
    ccp_conn_close(c);
}

/* Gathered bytes leave at once past this much: a burst of upstream events
 * (many in one read) then starts reaching the client before the whole
 * burst is decoded. */
#define FLUSH_AT (16 * 1024)

/* Flushes c now. Closing here would free the response under its writer,
 * so a refused write only marks c: the flush at the end of this loop turn
 * closes it. */
static int push(conn *c)
{
    if (flush_one(c) == 0) return 0;
    c->write_failed = true;
    list(c);
    return CCP_ECANCELED;
}

int ccp_conn_write(conn *c, const char *data, size_t len)
{
    if (c->closing || c->write_failed) return CCP_ECANCELED;
    if (len == 0) return 0;
    ccp_buf_append(&c->out, data, len);
    c->queued += len;
    list(c);
    int rc = c->out.len >= FLUSH_AT ? push(c) : 0;
    if (c->queued > HIGH_WATER) c->congested = true;
    return rc;
}

bool ccp_conn_congested(const conn *c)
{
    return c->congested;
}

int ccp_conn_push(conn *c)
{
    if (c->closing || c->write_failed) return CCP_ECANCELED;
    return push(c);
}

void ccp_worker_flush(worker *w)
{
    while (w->flush_list) {
        conn *c = w->flush_list;
        if (c->write_failed || flush_one(c) != 0) {
            unlist(c);
            ccp_conn_close(c);
        }
    }
}

void ccp_conn_fail(conn *c, int status, const char *type, const char *message)
{
    if (c->closing) return;
    char id[32];
    ccp_http_request_id(c->w, id);
    ccp_buf body = CCP_BUF_INIT, out = CCP_BUF_INIT;
    c->w->opts->error_body(&body, type, message);
    ccp_buf_printf(&out,
                   "HTTP/1.1 %d %s\r\nrequest-id: %s\r\ncontent-type: application/json\r\n"
                   "content-length: %zu\r\nconnection: close\r\n\r\n",
                   status, ccp_http_reason(status), id, body.len);
    ccp_buf_append(&out, body.data, body.len);
    ccp_log_info("%s - - %d %s", id, status, message);
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    c->close_after = true;
    ccp_conn_write(c, out.data, out.len);
    ccp_buf_free(&body);
    ccp_buf_free(&out);
}

/* ---- parsing -------------------------------------------------------- */

/* A kept-alive connection keeps its body buffer for the next request up to
 * this size; a larger one goes back to malloc rather than sit idle. */
#define BODY_KEEP (64 * 1024)

static void reset_request(conn *c)
{
    ccp_buf_reset(&c->url);
    ccp_buf_reset(&c->hbuf);
    if (c->body.cap > BODY_KEEP)
        ccp_buf_free(&c->body);
    else
        ccp_buf_reset(&c->body);
    c->n_hoffs = 0;
    c->in_value = false;
    c->head_bytes = 0;
    c->expect_continue = false;
    c->too_large = false;
}

static int head_grow(conn *c, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes > c->w->opts->max_header_bytes) {
        ccp_conn_fail(c, 431, "invalid_request_error",
                      "the request head is larger than server.max_header_bytes");
        return -1;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    conn *c = of_parser(p);
    reset_request(c);
    c->state = C_HEAD;
    c->start_ns = uv_hrtime();
    /* The head must be complete within header_timeout_ms of its first byte
     * (the timer is not re-armed by each byte: slow clients are cut off). */
    arm(c, c->w->opts->header_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    conn *c = of_parser(p);
    if (head_grow(c, len)) return -1;
    ccp_buf_append(&c->url, at, len);
    return 0;
}

static void push_off(conn *c)
{
    if (c->n_hoffs == c->cap_hoffs) {
        c->cap_hoffs = c->cap_hoffs ? c->cap_hoffs * 2 : 32;
        c->hoffs = ccp_xrealloc(c->hoffs, c->cap_hoffs * sizeof *c->hoffs);
    }
    c->hoffs[c->n_hoffs++] = c->hbuf.len;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn *c = of_parser(p);
    if (head_grow(c, len)) return -1;
    if (c->in_value || c->n_hoffs == 0) {
        int max = c->w->opts->max_headers;
        if (max > 0 && c->n_hoffs / 2 >= (size_t)max) {
            char msg[120];
            snprintf(msg, sizeof msg,
                     "the request head has more than %d header fields (server.max_headers)", max);
            ccp_conn_fail(c, 431, "invalid_request_error", msg);
            return -1;
        }
        if (c->n_hoffs) ccp_buf_appendc(&c->hbuf, '\0');
        push_off(c);
        c->in_value = false;
    }
    /* Names are stored lower-cased so lookups need no case folding. */
    size_t start = c->hbuf.len;
    ccp_buf_append(&c->hbuf, at, len);
    for (size_t i = start; i < c->hbuf.len; i++)
        if (c->hbuf.data[i] >= 'A' && c->hbuf.data[i] <= 'Z') c->hbuf.data[i] += 32;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn *c = of_parser(p);
    if (head_grow(c, len)) return -1;
    if (!c->in_value) {
        ccp_buf_appendc(&c->hbuf, '\0');
        push_off(c);
        c->in_value = true;
    }
    ccp_buf_append(&c->hbuf, at, len);
    return 0;
}

static const char *find_header(conn *c, const char *name)
{
    for (size_t i = 0; i + 1 < c->n_hoffs; i += 2)
        if (strcmp(c->hbuf.data + c->hoffs[i], name) == 0) return c->hbuf.data + c->hoffs[i + 1];
    return NULL;
}

static int on_headers_complete(llhttp_t *p)
{
    conn *c = of_parser(p);
    if (c->n_hoffs % 2) { /* a name without a value */
        ccp_buf_appendc(&c->hbuf, '\0');
        push_off(c);
    }
    ccp_buf_appendc(&c->hbuf, '\0');
    if (c->reject) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "ccproxy has server.max_connections (%d) connections open; try again shortly",
                 c->w->opts->max_connections);
        ccp_conn_fail(c, 503, "overloaded_error", msg);
        return -1;
    }
    c->state = C_BODY;
    uint32_t body_ms = c->w->opts->body_timeout_ms;
    c->body_deadline = body_ms ? uv_now(&c->w->loop) + body_ms : 0;
    arm_body(c);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->w->opts->max_body_bytes) {
        ccp_conn_fail(c, 413, "request_too_large",
                      "the request body is larger than server.max_body_bytes");
        return -1;
    }
    /* The whole body in one allocation, not a doubling chain of copies (a
     * 148 KiB body was copied 300 KiB on its way in). */
    if (p->flags & F_CONTENT_LENGTH) ccp_buf_reserve(&c->body, (size_t)p->content_length);
    const char *expect = find_header(c, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && p->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ccp_conn_write(c, cont, sizeof cont - 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn *c = of_parser(p);
    if (c->body.len + len > c->w->opts->max_body_bytes) {
        ccp_conn_fail(c, 413, "request_too_large",
                      "the request body is larger than server.max_body_bytes");
        return -1;
    }
    ccp_buf_append(&c->body, at, len);
    arm_body(c);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = of_parser(p);
    uv_timer_stop(&c->timer);
    c->state = C_HANDLER;
    c->keep_alive = llhttp_should_keep_alive(p);
    ccp_response *res = ccp_response_new(c);
    c->res = res;
    /* Pause: the rest of the buffer (a pipelined request) waits until this
     * response is done. */
    return HPE_PAUSED;
}

static void init_settings(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

/* ---- per-client limits (server.max_connections_per_client,
 * server.client_rate_limit; see client_limit.h) ------------------------ */

/* A new connection: true if its client may open one more. A refused one
 * is closed by the caller before anything is read; a burst of refusals is
 * logged once. */
static bool client_admit(conn *c)
{
    struct sockaddr_storage sa;
    int len = sizeof sa;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) != 0 ||
        !ccp_client_addr_of((struct sockaddr *)&sa, &c->client))
        return true; /* gone already, or not IP: nothing to count */
    worker *w = c->w;
    if (!ccp_client_conn_open(w->clients, &c->client)) {
        if (ccp_client_should_log(w->clients, uv_now(&w->loop))) {
            char who[64];
            ccp_client_addr_text(&c->client, who, sizeof who);
            ccp_log_warn("client %s has server.max_connections_per_client (%d) connections "
                         "open; closing its new ones (logged once per 10 s; counted in "
                         "ccproxy_client_connections_refused_total)",
                         who, w->opts->max_connections_per_client);
        }
        return false;
    }
    c->has_client = true;
    return true;
}

/* A whole request is in: true if its client's bucket had a token; else it
 * is answered 429 rate_limit_error with retry-after, as Anthropic does. */
static bool client_rate_ok(conn *c, ccp_response *res)
{
    /* Probes and scrapes (a load balancer's, Prometheus's) are not counted:
     * they cost nothing upstream, and refusing them would mark a healthy
     * proxy down. */
    const ccp_request *q = &res->req;
    if (!strcmp(q->method, "GET") &&
        (!strcmp(q->path, "/health") || !strcmp(q->path, "/ready") || !strcmp(q->path, "/metrics")))
        return true;
    uint32_t after = 1;
    if (ccp_client_rate_take(c->w->clients, &c->client, uv_now(&c->w->loop), &after)) return true;
    char value[16], msg[200];
    snprintf(value, sizeof value, "%u", after);
    snprintf(msg, sizeof msg,
             "this client is over ccproxy's request rate limit (server.client_rate_limit); retry "
             "after %u s",
             after);
    ccp_res_header(res, "retry-after", value);
    ccp_res_send_error(res, 429, "rate_limit_error", msg);
    return false;
}

/* Runs the parser over data; dispatches at most one request. */
static void parse(conn *c, const char *data, size_t len)
{
    if (len == 0 || c->closing) return;
    if (c->res) { /* a response is in flight: keep it for later */
        ccp_buf_append(&c->pending, data, len);
        return;
    }
    enum llhttp_errno err = llhttp_execute(&c->parser, data, len);
    if (err == HPE_OK) return;
    if (err == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        size_t used = pos ? (size_t)(pos - data) : len;
        if (used < len) ccp_buf_append(&c->pending, data + used, len - used);
        ccp_response *res = c->res;
        if (c->has_client && !client_rate_ok(c, res)) return; /* answered 429 */
        /* Run the handler last: it may finish the response synchronously,
         * which resumes parsing of what is pending. */
        const ccp_server_opts *o = c->w->opts;
        o->handler(o->app, &res->req, res);
        return;
    }
    if (c->closing || c->close_after) return; /* a callback already answered */
    char msg[200];
    snprintf(msg, sizeof msg, "malformed HTTP request: %s", llhttp_get_error_reason(&c->parser));
    ccp_conn_fail(c, 400, "invalid_request_error", msg);
}

void ccp_conn_response_done(conn *c, bool keep_alive)
{
    c->res = NULL;
    if (!keep_alive || c->w->stopping) {
        c->close_after = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (c->tls)
            list(c); /* close_notify goes first (tls_seal); the write's end closes c */
        else if (c->queued == 0)
            ccp_conn_close(c);
        return;
    }
    c->state = C_IDLE;
    arm(c, c->w->opts->idle_timeout_ms);
    llhttp_resume(&c->parser);
    if (c->pending.len) {
        /* Parse what was pipelined; take the bytes out first since parse
         * may append to pending again. */
        size_t n;
        char *data = ccp_buf_detach(&c->pending, &n);
        parse(c, data, n);
        free(data);
    }
}

/* ---- lifecycle ------------------------------------------------------ */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->w->read_slab, sizeof c->w->read_slab);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (n > 0) {
        if (!c->tls) c->bytes_in += (uint64_t)n; /* TLS counts what it decrypts */
        if (c->res && c->pending.len > c->w->opts->max_body_bytes + c->w->opts->max_header_bytes)
            uv_read_stop(s); /* a client flooding while we answer */
        else if (c->tls)
            tls_read(c, buf->base, (size_t)n);
        else
            parse(c, buf->base, (size_t)n);
    } else if (n < 0) {
        /* EOF or error: the client is gone (a response in flight is
         * aborted, which cancels its upstream work). */
        ccp_conn_close(c);
    }
}

static void close_cb(uv_handle_t *h)
{
    conn *c = h->data;
    worker *w = c->w;
    unlist(c);
    ccp_buf_free(&c->out);
    ccp_buf_free(&c->pending);
    ccp_buf_free(&c->url);
    ccp_buf_free(&c->hbuf);
    ccp_buf_free(&c->body);
    free(c->hoffs);
    ccp_tls_conn_free(c->tls);
    if (c->has_client) ccp_client_conn_close(w->clients, &c->client);
    free(c);
    atomic_fetch_sub(w->open_conns, 1);
    ccp_worker_conn_gone(w);
}

static void timer_close_cb(uv_handle_t *h)
{
    conn *c = h->data;
    uv_close((uv_handle_t *)&c->tcp, close_cb);
}

/* Debug: "connection fd 12 from 127.0.0.1:5555 opened" (the peer may be
 * unknown once it has reset the connection). */
static void log_conn(conn *c, const char *what)
{
    if (!ccp_log_enabled(CCP_LOG_DEBUG)) return;
    struct sockaddr_storage sa;
    int len = sizeof sa;
    char host[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0) {
        if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        } else if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        }
    }
    uv_os_fd_t fd = -1;
    uv_fileno((uv_handle_t *)&c->tcp, &fd);
    ccp_log_debug("connection fd %d from %s:%d %s", (int)fd, host, port, what);
}

const char *ccp_conn_peer(conn *c)
{
    if (c->peer[0]) return c->peer;
    struct sockaddr_storage sa;
    int len = sizeof sa;
    char host[48];
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) != 0) return NULL;
    if (sa.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
        snprintf(c->peer, sizeof c->peer, "[%s]:%d", host,
                 ntohs(((struct sockaddr_in6 *)&sa)->sin6_port));
    } else if (sa.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
        snprintf(c->peer, sizeof c->peer, "%s:%d", host,
                 ntohs(((struct sockaddr_in *)&sa)->sin_port));
    } else {
        return NULL;
    }
    return c->peer;
}

void ccp_conn_close(conn *c)
{
    if (c->closing) return;
    log_conn(c, "closed");
    c->closing = true;
    if (c->pprev) {
        *c->pprev = c->next;
        if (c->next) c->next->pprev = c->pprev;
        c->pprev = NULL;
    }
    ccp_response *res = c->res;
    c->res = NULL;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_close_cb);
    if (res) ccp_response_abort(res); /* may free res */
}

static void free_unaccepted(uv_handle_t *h)
{
    free(h->data);
}

void ccp_conn_accept(worker *w)
{
    uv_once(&settings_once, init_settings);
    conn *c = ccp_xcalloc(1, sizeof *c);
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept((uv_stream_t *)&w->listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, free_unaccepted);
        return;
    }
    if (w->clients && !client_admit(c)) {
        uv_close((uv_handle_t *)&c->tcp, free_unaccepted); /* over its client's cap */
        return;
    }
    if (w->tls && !(c->tls = ccp_tls_conn_new(w->tls))) {
        if (c->has_client) ccp_client_conn_close(w->clients, &c->client);
        uv_close((uv_handle_t *)&c->tcp, free_unaccepted); /* out of memory */
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    log_conn(c, "opened");
    uv_timer_init(&w->loop, &c->timer);
    c->timer.data = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->state = C_IDLE;
    c->first = true;
    c->next = w->conns;
    if (c->next) c->next->pprev = &c->next;
    c->pprev = &w->conns;
    w->conns = c;
    w->n_conns++;
    /* Past server.max_connections the connection is still accepted (else
     * it would wait in the kernel's backlog with no answer) and gets a 503
     * once its request head is in: read first, so closing does not reset
     * a connection whose request we left unread. */
    int open = atomic_fetch_add(w->open_conns, 1) + 1;
    int max = w->opts->max_connections;
    if (max > 0 && open > max) c->reject = true;
    /* A new connection must start its request within the header timeout. */
    arm(c, w->opts->header_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* ---- TLS reading (server.tls) ------------------------------------------ */

/* Bytes read from the socket go to OpenSSL; what it decrypts goes to the
 * parser exactly as a plain connection's bytes do; what it wants sent (the
 * handshake's records, an alert) leaves at this loop turn's flush. The
 * handshake is bounded by the header timeout armed at accept. */
static void tls_read(conn *c, const char *data, size_t len)
{
    ccp_tls_conn_feed(c->tls, data, len);
    /* The read slab was copied into OpenSSL: decrypt into it. */
    char *slab = c->w->read_slab;
    while (!c->closing && !c->close_after) {
        const char *why = NULL;
        int n = ccp_tls_conn_read(c->tls, slab, sizeof c->w->read_slab, &why);
        if (n > 0) {
            c->bytes_in += (uint64_t)n;
            parse(c, slab, (size_t)n);
            continue;
        }
        if (n == CCP_TLS_AGAIN) break;
        if (n == CCP_TLS_CLOSED) { /* close_notify: the client is gone, as at EOF */
            ccp_conn_close(c);
            return;
        }
        if (n == CCP_TLS_PLAIN) {
            /* The answer goes out unencrypted: the client reads it. */
            ccp_conn_fail(c, 400, "invalid_request_error",
                          "this port serves HTTPS (server.tls): use an https:// URL");
            return;
        }
        /* A failed handshake (no common version or cipher, garbage): the
         * alert OpenSSL queued leaves, then the connection closes. Internet
         * scanners do this all day, so debug level only. */
        if (ccp_log_enabled(CCP_LOG_DEBUG)) {
            const char *peer = ccp_conn_peer(c);
            ccp_log_debug("TLS handshake with %s failed: %s", peer ? peer : "?",
                          why ? why : "error");
        }
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->close_after = true;
        if (ccp_tls_conn_want_write(c->tls))
            list(c);
        else
            ccp_conn_close(c);
        return;
    }
    if (!c->closing && ccp_tls_conn_want_write(c->tls)) list(c);
}
