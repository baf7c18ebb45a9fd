/* fuzz_http.c — libFuzzer target for the HTTP request path: llhttp and its
 * glue in src/http/conn.c (header storage, Content-Length and chunked
 * bodies, the body limit, Expect: 100-continue, pipelining, keep-alive).
 *
 * No test seam in the server: the real one (ccp_server_run, one worker)
 * runs on a thread of this process on a loopback port, with small limits so
 * that inputs reach them, and a handler that reads every header and the body
 * and answers at once. Each input is sent on a new connection in two writes
 * (cut at a point chosen by its first byte), the write side is shut, and the
 * answer is read until the server closes. Whatever the bytes, the server
 * must answer well-formed HTTP and close: the oracle checks that every
 * answer starts with a status line, and that a malformed request gets
 * Anthropic's error JSON; ASan and UBSan watch the worker thread. */
#include "codec/anthropic_writer.h"
#include "fuzz.h"
#include "core/log.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int g_port;

static void handler(void *app, const ccp_request *req, ccp_response *res)
{
    /* Touch everything the parser stored, so that ASan sees any bad byte. */
    size_t sum = strlen(req->method) + strlen(req->path) + strlen(req->query);
    for (size_t i = 0; i < req->n_headers; i++)
        sum += strlen(req->headers[i].name) + strlen(req->headers[i].value);
    FUZZ_CHECK(req->body[req->body_len] == '\0', "the body is not NUL-terminated");
    char reply[64];
    int n = snprintf(reply, sizeof reply, "{\"n\":%zu,\"body\":%zu}", sum, req->body_len);
    ccp_res_send(res, 200, "application/json", reply, (size_t)n);
}

static void on_listening(void *app, const char *host, int port)
{
    atomic_store(&g_port, port);
}

static void *serve(void *arg)
{
    static const ccp_server_opts opts = {
        .host = "127.0.0.1",
        .port = 0,
        .workers = 1,
        .max_header_bytes = 2048,
        .max_body_bytes = 1024,
        .header_timeout_ms = 10000,
        .idle_timeout_ms = 10000,
        .drain_timeout_ms = 100,
        .handler = handler,
        .error_body = ccp_anthropic_error_json,
        .on_listening = on_listening,
    };
    ccp_error err = {0};
    if (ccp_server_run(&opts, &err) != 0) {
        fprintf(stderr, "fuzz_http: cannot start the server: %s\n", err.msg);
        abort();
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ccp_log_set_level(CCP_LOG_ERROR); /* no access log line per input */
    pthread_t t;
    if (pthread_create(&t, NULL, serve, NULL) != 0) abort();
    pthread_detach(t);
    while (atomic_load(&g_port) == 0)
        usleep(1000);
    return 0;
}

/* Waits until fd is ready for events; the server has 10 s to answer or
 * close, which no input should need. */
static void wait_for(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&p, 1, 10000);
    while (n < 0 && errno == EINTR);
    FUZZ_CHECK(n == 1, "the server neither answered nor closed in 10 s");
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the server closed early: fine, it answered */
        p += w;
        n -= (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *req = data + 1;
    size_t len = size - 1, k = fuzz_split(data[0], len);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) abort();
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Each connection from another loopback address (127.1.x.y): the
     * server closes first after an error or Connection: close and keeps a
     * TIME_WAIT per (client address, port) for a minute; at thousands of
     * inputs a second one address's 28,000 ports would not last. */
    static unsigned next;
    next++;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f010000u | (next & 0xffffu));
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) abort();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atomic_load(&g_port))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* libFuzzer's SIGALRM (its -timeout watchdog) interrupts blocking
     * calls: an interrupted connect goes on in the background, so wait for
     * it; poll, send and recv are simply retried. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        FUZZ_CHECK(errno == EINTR || errno == EINPROGRESS, "connect: %s", strerror(errno));
        wait_for(fd, POLLOUT);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        FUZZ_CHECK(soerr == 0, "connect: %s", strerror(soerr));
    }
    send_all(fd, req, k);
    send_all(fd, req + k, len - k);
    shutdown(fd, SHUT_WR);

    /* Read the answer until the server closes (EOF or reset); only its
     * start is kept for the checks. */
    static char buf[1 << 14], rest[1 << 14];
    size_t got = 0;
    for (;;) {
        wait_for(fd, POLLIN);
        ssize_t r = got < sizeof buf - 1 ? recv(fd, buf + got, sizeof buf - 1 - got, 0)
                                         : recv(fd, rest, sizeof rest, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (got < sizeof buf - 1) got += (size_t)r;
    }
    /* Closing with a reset leaves no TIME_WAIT on this side either. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    buf[got] = '\0';
    if (got >= 13) {
        FUZZ_CHECK(memcmp(buf, "HTTP/1.1 ", 9) == 0, "an answer without a status line: %.80s", buf);
        if (memcmp(buf, "HTTP/1.1 400 ", 13) == 0)
            FUZZ_CHECK(
                strstr(buf, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\"") !=
                    NULL,
                "a 400 without Anthropic's error body: %.300s", buf);
    }
    return 0;
}
