/* test_upstream.c — the libcurl client on a libuv loop, against a small
 * HTTP/1.1 server running on the same loop: connections are reused, a
 * connection the server closed while idle is replaced without a hang or an
 * error, parallel transfers all finish, and freeing the client with idle
 * connections leaves no handle or memory behind (ASan checks the latter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "upstream/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* ---- the server ------------------------------------------------------ */

typedef struct server {
    uv_tcp_t tcp;
    int port;
    int accepts;             /* connections accepted */
    int answered;            /* requests answered */
    bool close_after_answer; /* close each connection once it is answered */
    const char *answer;      /* NULL: ANSWER */
} server;

typedef struct sconn {
    uv_tcp_t tcp;
    server *srv;
    ccp_buf in; /* bytes of the request being read */
} sconn;

typedef struct swrite {
    uv_write_t req;
    sconn *c;
    bool close;
} swrite;

/* The mock server is on 127.0.0.1: a provider that names it by address. */
static const ccp_provider LOCAL = {.name = "local", .allow_internal = true};

static const char ANSWER[] = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             "content-length: 11\r\n\r\n{\"ok\":true}";

static void sconn_closed(uv_handle_t *h)
{
    sconn *c = h->data;
    ccp_buf_free(&c->in);
    free(c);
}

static void sconn_written(uv_write_t *req, int status)
{
    swrite *w = (swrite *)req;
    (void)status;
    if (w->close && !uv_is_closing((uv_handle_t *)&w->c->tcp))
        uv_close((uv_handle_t *)&w->c->tcp, sconn_closed);
    free(w);
}

static void sconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    *buf = uv_buf_init(ccp_xmalloc(suggested), (unsigned)suggested);
}

/* Answers every complete request (head plus content-length bytes) in c->in. */
static void sconn_answer(sconn *c)
{
    for (;;) {
        char *end = strstr(c->in.data ? c->in.data : "", "\r\n\r\n");
        if (!end) return;
        size_t head = (size_t)(end - c->in.data) + 4;
        const char *cl = strstr(c->in.data, "Content-Length: ");
        size_t body = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
        if (c->in.len < head + body) return;
        ccp_buf_consume(&c->in, head + body);
        c->srv->answered++;
        swrite *w = ccp_xcalloc(1, sizeof *w);
        w->c = c;
        w->close = c->srv->close_after_answer;
        const char *a = c->srv->answer ? c->srv->answer : ANSWER;
        uv_buf_t b = uv_buf_init((char *)a, (unsigned)strlen(a));
        uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, sconn_written);
        if (w->close) return;
    }
}

static void sconn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sconn *c = s->data;
    if (n > 0) {
        ccp_buf_append(&c->in, buf->base, (size_t)n);
        sconn_answer(c);
    } else if (n < 0 && !uv_is_closing((uv_handle_t *)s)) {
        uv_close((uv_handle_t *)s, sconn_closed);
    }
    free(buf->base);
}

static void server_accept(uv_stream_t *l, int status)
{
    server *srv = l->data;
    assert_int_equal(status, 0);
    sconn *c = ccp_xcalloc(1, sizeof *c);
    c->srv = srv;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    srv->accepts++;
    uv_read_start((uv_stream_t *)&c->tcp, sconn_alloc, sconn_read);
}

static void server_start(uv_loop_t *loop, server *srv)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &srv->tcp);
    srv->tcp.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->tcp, 64, server_accept), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&ss, &len);
    srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h)) return;
    /* Server connections own their sconn; the listener is on the stack. */
    uv_close(h, h->type == UV_TCP && h->data && h->data != arg ? sconn_closed : NULL);
}

/* ---- the client side ------------------------------------------------- */

typedef struct result {
    char err[600]; /* on_done's message */
    int status;
    int done;   /* on_done calls */
    int result; /* on_done's result */
    ccp_buf body;
    char hints[4][32]; /* the head's wait hints, "" when absent */
} result;

static void on_head(void *ud, int status, const char *ct, const ccp_upstream_hints *h)
{
    (void)ct;
    result *r = ud;
    r->status = status;
    const char *v[4] = {h->retry_after, h->retry_after_ms, h->reset_requests, h->reset_tokens};
    for (int i = 0; i < 4; i++)
        snprintf(r->hints[i], sizeof r->hints[i], "%s", v[i] ? v[i] : "");
}

static int on_data(void *ud, const char *data, size_t len)
{
    ccp_buf_append(&((result *)ud)->body, data, len);
    return 0;
}

static void on_done(void *ud, int res, const ccp_error *err)
{
    result *r = ud;
    snprintf(r->err, sizeof r->err, "%s", err ? err->msg : "");
    r->done++;
    r->result = res;
}

static const ccp_upstream_cb CB = {on_head, on_data, on_done, NULL};

typedef struct fixture {
    uv_loop_t loop;
    server srv;
    ccp_upstream *up;
    char url[64];
} fixture;

static int setup(void **state)
{
    fixture *f = ccp_xcalloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    server_start(&f->loop, &f->srv);
    ccp_upstream_config cfg = {.connect_timeout_ms = 5000,
                               .first_byte_timeout_ms = 5000,
                               .stream_idle_timeout_ms = 5000,
                               .total_timeout_ms = 10000};
    f->up = ccp_upstream_new(&f->loop, &cfg);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/v1/x", f->srv.port);
    *state = f;
    return 0;
}

/* Frees the client, closes the server, and checks the loop is left with
 * no handle at all: every socket watcher and timer was closed. */
static int teardown(void **state)
{
    fixture *f = *state;
    ccp_upstream_free(f->up);
    uv_close((uv_handle_t *)&f->srv.tcp, NULL);
    uv_walk(&f->loop, close_any, &f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void send_one(fixture *f, result *r)
{
    static const char body[] = "{\"model\":\"m\"}";
    char *headers[] = {"content-type: application/json"};
    ccp_upstream_send_opts o = {.method = "POST",
                                .provider = &LOCAL,
                                .url = f->url,
                                .headers = headers,
                                .n_headers = 1,
                                .body = body,
                                .body_len = sizeof body - 1};
    assert_non_null(ccp_upstream_send(f->up, &o, &CB, r));
}

/* Runs the loop until the n results are done (each within the timeouts). */
static void wait_done(fixture *f, result *rs, int n)
{
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++)
            done += rs[i].done;
        if (done == n) return;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

static void check_ok(result *r)
{
    assert_int_equal(r->done, 1);
    assert_int_equal(r->result, 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body.data, "{\"ok\":true}");
    ccp_buf_free(&r->body);
}

static void stop_timer(uv_timer_t *t)
{
    uv_timer_stop(t);
}

/* Lets the loop run for ms milliseconds (the server's closes arrive). */
static void settle(fixture *f, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    uv_timer_start(&t, stop_timer, ms, 0);
    while (uv_is_active((uv_handle_t *)&t))
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_sequential_requests_share_one_connection(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 20; i++) {
        result r = {0};
        send_one(f, &r);
        wait_done(f, &r, 1);
        check_ok(&r);
    }
    assert_int_equal(f->srv.answered, 20);
    assert_int_equal(f->srv.accepts, 1);
}

/* The server closes each connection after answering, without saying so:
 * the idle connection's watcher sees the close while no transfer uses it,
 * and the next request opens a new connection instead of failing. */
static void test_connection_closed_while_idle_is_replaced(void **state)
{
    fixture *f = *state;
    f->srv.close_after_answer = true;
    for (int i = 0; i < 6; i++) {
        result r = {0};
        send_one(f, &r);
        wait_done(f, &r, 1);
        check_ok(&r);
        if (i % 2 == 0) settle(f, 20); /* half the time the close is seen first */
    }
    assert_int_equal(f->srv.answered, 6);
    assert_int_equal(f->srv.accepts, 6);
}

/* A provider that does not allow internal addresses (its base_url names a
 * host, not an address) is refused at connect time: the server never sees
 * a connection, and the error says why. Redirects are not followed. */
static void test_internal_addresses_and_redirects_are_refused(void **state)
{
    fixture *f = *state;
    static const ccp_provider named = {.name = "named"};
    result r = {0};
    ccp_upstream_send_opts o = {.method = "POST", .url = f->url, .provider = &named};
    assert_non_null(ccp_upstream_send(f->up, &o, &CB, &r));
    wait_done(f, &r, 1);
    assert_int_equal(r.result, CCP_EUPSTREAM);
    assert_non_null(strstr(r.err, "refused to connect to 127.0.0.1, a loopback address"));
    assert_non_null(strstr(r.err, "'named'"));
    assert_int_equal(f->srv.accepts, 0);

    f->srv.answer = "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\n"
                    "content-length: 0\r\n\r\n";
    result r2 = {0};
    send_one(f, &r2);
    wait_done(f, &r2, 1);
    assert_int_equal(r2.result, 0);
    assert_int_equal(r2.status, 302);
    assert_int_equal(f->srv.answered, 1);
    ccp_buf_free(&r2.body);
}

static void test_parallel_requests_all_finish(void **state)
{
    fixture *f = *state;
    enum { N = 24 };
    for (int round = 0; round < 3; round++) {
        result rs[N] = {0};
        for (int i = 0; i < N; i++)
            send_one(f, &rs[i]);
        wait_done(f, rs, N);
        for (int i = 0; i < N; i++)
            check_ok(&rs[i]);
    }
    assert_int_equal(f->srv.answered, 3 * N);
    /* Later rounds reuse the first round's connections. */
    assert_true(f->srv.accepts <= N);
}

static void test_cancel_closes_the_connection(void **state)
{
    fixture *f = *state;
    result r = {0};
    send_one(f, &r);
    wait_done(f, &r, 1);
    check_ok(&r);
    /* A cancelled transfer's connection is not reused (the provider must see
     * the cancellation); the next request opens another. */
    result c = {0};
    ccp_upstream_req *req;
    static const char body[] = "{}";
    ccp_upstream_send_opts o = {
        .method = "POST", .url = f->url, .body = body, .body_len = 2, .provider = &LOCAL};
    req = ccp_upstream_send(f->up, &o, &CB, &c);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    ccp_upstream_cancel(req);
    assert_int_equal(c.done, 0);
    ccp_buf_free(&c.body);
    result r2 = {0};
    send_one(f, &r2);
    wait_done(f, &r2, 1);
    check_ok(&r2);
}

/* Work done on the loop's thread before a send (encoding a large request)
 * leaves the loop's clock behind; a timeout armed from it would fire early
 * (a 504 for an upstream that answered at once). The send reads the clock
 * afresh. */
static void test_send_arms_its_timers_from_the_current_time(void **state)
{
    fixture *f = *state;
    uint64_t before = uv_now(&f->loop);
    usleep(50 * 1000); /* the long work, with the loop not running */
    result r = {0};
    send_one(f, &r);
    assert_true(uv_now(&f->loop) >= before + 50);
    wait_done(f, &r, 1);
    check_ok(&r);
}

/* Every wait hint a provider sends reaches on_head, whatever the case of
 * its name. */
static void test_the_wait_hints_reach_on_head(void **state)
{
    fixture *f = *state;
    f->srv.answer = "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
                    "Retry-After: 7\r\nretry-after-ms: 7000\r\n"
                    "x-ratelimit-reset-requests: 1s\r\nX-RateLimit-Reset-Tokens:  6m0s \r\n"
                    "content-length: 2\r\n\r\n{}";
    result r = {0};
    send_one(f, &r);
    wait_done(f, &r, 1);
    assert_int_equal(r.status, 429);
    assert_string_equal(r.hints[0], "7");
    assert_string_equal(r.hints[1], "7000");
    assert_string_equal(r.hints[2], "1s");
    assert_string_equal(r.hints[3], "6m0s");
    ccp_buf_free(&r.body);
    /* And none on an answer without them. */
    f->srv.answer = NULL;
    result r2 = {0};
    send_one(f, &r2);
    wait_done(f, &r2, 1);
    for (int i = 0; i < 4; i++)
        assert_string_equal(r2.hints[i], "");
    ccp_buf_free(&r2.body);
}

int main(void)
{
    ccp_upstream_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequential_requests_share_one_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_closed_while_idle_is_replaced, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parallel_requests_all_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_internal_addresses_and_redirects_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_closes_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_arms_its_timers_from_the_current_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_wait_hints_reach_on_head, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ccp_upstream_global_cleanup();
    return rc;
}
