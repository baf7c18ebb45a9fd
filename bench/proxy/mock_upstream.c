/* mock_upstream.c — the benchmark's OpenAI-format upstream. It must cost
 * as little as possible so that what the benchmark measures is the proxy in
 * front of it: one libuv loop, llhttp, keep-alive, precomputed answers.
 *
 *   ccp-bench-mock --port N [--events E] [--interval-ms MS]
 *
 * Any POST whose body contains "stream":true gets an SSE stream of E
 * chat.completion.chunk events (text deltas, then a finish chunk, a usage
 * chunk and [DONE]), MS milliseconds apart (0: all at once); any other
 * request gets one fixed chat.completion JSON answer. Prints "port N" on
 * stdout once listening (N is the bound port when --port is 0). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <llhttp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char JSON_BODY[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"gpt-bench\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Done. The test passes now.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":8,\"total_tokens\":1208}}";

static const char CHUNK[] =
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"token \"},"
    "\"finish_reason\":null}]}\n\n";
static const char TAIL[] =
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-bench\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"
    "\n\n"
    "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
    "\"model\":\"gpt-bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":1200,"
    "\"completion_tokens\":300,\"total_tokens\":1500}}\n\n"
    "data: [DONE]\n\n";

static int g_events = 300;
static int g_interval_ms = 0;
static char *g_json_response; /* whole response, built once */
static size_t g_json_response_len;
static char *g_chunk; /* one chunk of chunked encoding, built once */
static size_t g_chunk_len;
static char *g_tail; /* tail chunks + terminating 0-chunk */
static size_t g_tail_len;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    llhttp_t parser;
    llhttp_settings_t *settings;
    bool stream_req; /* the body asked for a stream */
    char match[16];  /* the body's last bytes, for "stream":true across reads */
    size_t match_len;
    int sent; /* events sent in the current stream */
    bool streaming;
    bool closing;
    int pending; /* handles still to close */
} conn;

static char *printf_alloc(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *printf_alloc(size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s) abort();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len = (size_t)n;
    return s;
}

static void on_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->pending == 0) free(c);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = true;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

typedef struct {
    uv_write_t req;
    conn *c;
} write_req;

static void on_written(uv_write_t *w, int status)
{
    write_req *wr = (write_req *)w;
    if (status < 0) conn_close(wr->c);
    free(wr);
}

/* Writes static bytes: try first, queue the rest (the data outlives the
 * write because it is built once for the process). */
static void send_static(conn *c, const char *data, size_t len)
{
    if (c->closing) return;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)len) return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n > 0) b = uv_buf_init((char *)data + n, (unsigned)(len - (size_t)n));
    write_req *wr = malloc(sizeof *wr);
    if (!wr) abort();
    wr->c = c;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(wr);
        conn_close(c);
    }
}

static void stream_step(uv_timer_t *t)
{
    conn *c = t->data;
    while (c->streaming && !c->closing) {
        if (c->sent < g_events) {
            send_static(c, g_chunk, g_chunk_len);
            c->sent++;
        } else {
            send_static(c, g_tail, g_tail_len);
            c->streaming = false;
            break;
        }
        if (g_interval_ms > 0) {
            uv_timer_start(&c->timer, stream_step, (uint64_t)g_interval_ms, 0);
            return;
        }
    }
}

static int on_message_begin(llhttp_t *p)
{
    conn *c = p->data;
    c->stream_req = false;
    c->match_len = 0;
    return 0;
}

/* Looks for "stream":true in the body, even across read boundaries: the
 * last few bytes of each piece are kept and searched with the next. */
static int on_body(llhttp_t *p, const char *at, size_t len)
{
    static const char needle[] = "\"stream\":true";
    const size_t nl = sizeof needle - 1;
    conn *c = p->data;
    if (c->stream_req) return 0;
    char join[32];
    size_t head = len < nl - 1 ? len : nl - 1;
    memcpy(join, c->match, c->match_len);
    memcpy(join + c->match_len, at, head);
    if (memmem(join, c->match_len + head, needle, nl) || memmem(at, len, needle, nl)) {
        c->stream_req = true;
        return 0;
    }
    size_t total = c->match_len + len, keep = total < nl - 1 ? total : nl - 1;
    if (len >= keep) {
        memcpy(c->match, at + len - keep, keep);
    } else {
        size_t old = keep - len;
        memmove(c->match, c->match + c->match_len - old, old);
        memcpy(c->match + old, at, len);
    }
    c->match_len = keep;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn *c = p->data;
    if (!c->stream_req) {
        send_static(c, g_json_response, g_json_response_len);
        return 0;
    }
    static const char head[] = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                               "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
    send_static(c, head, sizeof head - 1);
    c->streaming = true;
    c->sent = 0;
    stream_step(&c->timer);
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[256 * 1024]; /* one loop, one read at a time */
    (void)h, (void)suggested;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0) return;
    /* Benchmark clients never send a request while a stream runs on the
     * same connection, so there is no pipelining to honour. */
    if (llhttp_execute(&c->parser, buf->base, (size_t)n) != HPE_OK) conn_close(c);
}

static llhttp_settings_t g_settings;

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) return;
    conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->pending = 2;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &g_settings);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--events"))
            g_events = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--interval-ms"))
            g_interval_ms = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--port N] [--events E] [--interval-ms MS]\n", argv[0]);
            return 2;
        }
    }
    g_json_response = printf_alloc(&g_json_response_len,
                                   "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                   "content-length: %zu\r\n\r\n%s",
                                   sizeof JSON_BODY - 1, JSON_BODY);
    g_chunk = printf_alloc(&g_chunk_len, "%zx\r\n%s\r\n", sizeof CHUNK - 1, CHUNK);
    g_tail = printf_alloc(&g_tail_len, "%zx\r\n%s\r\n0\r\n\r\n", sizeof TAIL - 1, TAIL);

    llhttp_settings_init(&g_settings);
    g_settings.on_message_begin = on_message_begin;
    g_settings.on_body = on_body;
    g_settings.on_message_complete = on_message_complete;

    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc) {
        fprintf(stderr, "mock: listen on %d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &blen);
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);

    uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
