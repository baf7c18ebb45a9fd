/* server.c — listeners, worker threads and graceful shutdown.
 *
 * The main thread binds one SO_REUSEPORT socket per worker (so a taken port
 * is reported before anything starts), then each worker thread runs its own
 * loop over its own socket and connections. SIGINT/SIGTERM (or
 * ccp_server_request_stop) wake the workers: they stop accepting, close
 * idle connections, let in-flight requests finish up to the drain timeout,
 * force-close the rest, release their app state and return. SIGHUP is
 * handed to the app (opts->on_sighup: it reloads its config; without the
 * hook it is logged and ignored). A worker that runs out of
 * file descriptors stops accepting until some free up (pause_accepting). */
#include "http/http_internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* The running server's stop signal, for ccp_server_request_stop. */
static _Atomic(uv_async_t *) g_stop;
/* When a worker last logged running out of descriptors (uv_now + 1, 0 =
 * never): the line is written once per burst, whichever worker hits it. */
static _Atomic uint64_t g_emfile_logged_ms;

static void finalize(worker *w);

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_connection(uv_stream_t *s, int status);

static void retry_accepting(uv_timer_t *t);

static void schedule_retry(worker *w)
{
    if (w->stopping) return;
    w->retry_ms = w->retry_ms ? w->retry_ms * 2 : 50;
    if (w->retry_ms > 1000) w->retry_ms = 1000;
    uv_timer_start(&w->accept_retry, retry_accepting, w->retry_ms, 0);
}

static void listener_closed(uv_handle_t *h)
{
    schedule_retry(h->data);
}

/* Starts w's listener over a fresh dup of its socket. On failure (e.g. no
 * descriptor free for the dup) it schedules the next try itself. */
static void start_listener(worker *w)
{
    int fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        schedule_retry(w);
        return;
    }
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, fd);
    if (rc != 0)
        close(fd); /* the handle did not take it */
    else
        rc = uv_listen((uv_stream_t *)&w->listener, 511, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&w->listener, listener_closed);
        return;
    }
    w->accept_paused = false;
    w->retry_ms = 0;
}

static void retry_accepting(uv_timer_t *t)
{
    worker *w = t->data;
    if (!w->stopping && w->accept_paused) start_listener(w);
}

/* Stops accepting until descriptors free up. The listening socket itself
 * stays open in w->fd, so the kernel keeps queueing connections in its
 * backlog and they are served once accepting resumes. Closing the handle
 * (over its dup) is what ends libuv's accept loop: it retries accept() as
 * long as the handle has a descriptor, and its own spare-descriptor trick
 * cannot help once another worker thread took the spare's slot. */
static void pause_accepting(worker *w, int status)
{
    if (w->accept_paused || w->stopping) return;
    w->accept_paused = true;
    /* One line per burst from all workers, not one per refused accept. */
    uint64_t now = uv_now(&w->loop) + 1, last = atomic_load(&g_emfile_logged_ms);
    /* Signed: another worker's loop time may be a little ahead of ours. */
    if ((!last || (int64_t)(now - last) >= 10000) &&
        atomic_compare_exchange_strong(&g_emfile_logged_ms, &last, now)) {
        struct rlimit rl = {0};
        getrlimit(RLIMIT_NOFILE, &rl);
        ccp_log_warn("cannot accept connections: %s (open-file limit %llu); pausing new "
                     "connections until some close (raise the limit with ulimit -n)",
                     uv_strerror(status), (unsigned long long)rl.rlim_cur);
    }
    uv_close((uv_handle_t *)&w->listener, listener_closed);
}

static void on_connection(uv_stream_t *s, int status)
{
    worker *w = s->data;
    if (w->stopping) return;
    if (status < 0) {
        pause_accepting(w, status);
        return;
    }
    ccp_conn_accept(w);
}

/* Raises the soft open-file limit to the hard one: each connection and each
 * upstream transfer holds a descriptor, and the soft default (often 1024)
 * is what a busy gateway runs out of first. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
    rlim_t want = rl.rlim_max;
    /* An unlimited or huge hard limit is capped: Linux refuses more than
     * fs.nr_open (1Mi by default). */
    if (want == RLIM_INFINITY || want > (1u << 20)) want = 1u << 20;
    if (want <= rl.rlim_cur) return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        ccp_log_debug("could not raise the open-file limit: %s", strerror(errno));
}

void ccp_worker_conn_gone(worker *w)
{
    w->n_conns--;
    if (w->stopping && w->n_conns == 0) finalize(w);
}

static void finalize(worker *w)
{
    if (w->finalized) return;
    w->finalized = true;
    if (w->opts->worker_stop) w->opts->worker_stop(w->opts->app, w->wdata);
    w->wdata = NULL;
    close_handle((uv_handle_t *)&w->drain);
    close_handle((uv_handle_t *)&w->trim);
    close_handle((uv_handle_t *)&w->accept_retry);
    close_handle((uv_handle_t *)&w->wake);
    close_handle((uv_handle_t *)&w->flush_prepare);
    close_handle((uv_handle_t *)&w->flush_check);
}

static void flush_prepare_cb(uv_prepare_t *h)
{
    ccp_worker_flush(h->data);
}

static void flush_check_cb(uv_check_t *h)
{
    ccp_worker_flush(h->data);
}

/* How long the last bytes (an error event) get to leave once the drain
 * deadline has passed, before every connection is closed regardless. */
#define DRAIN_GRACE_MS 1000

/* The drain deadline passed. A response whose handler can end it with an
 * error is asked to (a stream gets an SSE error event, so its client sees
 * a clean, retryable end rather than a cut connection), and its connection
 * closes once that is written; the rest close now. Whatever is still open
 * DRAIN_GRACE_MS later (a client not reading) is closed then. */
static void drain_expired(uv_timer_t *t)
{
    worker *w = t->data;
    if (w->drain_grace) {
        while (w->conns)
            ccp_conn_close(w->conns);
        return;
    }
    w->drain_grace = true;
    if (w->n_conns) ccp_log_warn("drain timeout: ending %zu connection(s) still busy", w->n_conns);
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        /* Ending the response closes c (the worker is stopping) or leaves
         * it flushing its last bytes; only c leaves the list. */
        if (!(c->res && ccp_response_shutdown(c->res)) && !c->close_after) ccp_conn_close(c);
    }
    if (w->conns) uv_timer_start(&w->drain, drain_expired, DRAIN_GRACE_MS, 0);
}

static void wake_cb(uv_async_t *a)
{
    worker *w = a->data;
    if (w->stopping) return;
    w->stopping = true;
    close_handle((uv_handle_t *)&w->listener);
    uv_timer_stop(&w->accept_retry);
    /* The socket itself goes too, so the kernel stops queueing connections
     * nobody will accept. */
    close(w->fd);
    w->fd = -1;
    /* Idle connections go now; busy ones close after their response. */
    for (conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (!c->res) ccp_conn_close(c);
    }
    /* The admin listener's open responses are event feeds (/admin/events,
     * the dashboard): nothing to drain, and they would hold the stop for
     * the whole drain_timeout_ms. They end now. */
    for (conn *c = w->conns, *next; w->admin && c; c = next) {
        next = c->next;
        if (c->res) ccp_response_shutdown(c->res);
    }
    if (w->n_conns == 0)
        finalize(w);
    else
        uv_timer_start(&w->drain, drain_expired, w->opts->drain_timeout_ms, 0);
}

static void worker_main(void *arg)
{
    worker *w = arg;
    if (w->opts->worker_start) w->wdata = w->opts->worker_start(w->opts->app, &w->loop);
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

/* Binds a listening socket for host:port; returns the fd or -errno. */
static int bind_socket(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    int family;
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)ss) == 0) {
        family = AF_INET;
    } else if (uv_ip6_addr(h, port, (struct sockaddr_in6 *)ss) == 0) {
        family = AF_INET6;
    } else {
        return -EINVAL;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)ss, len) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void on_signal(uv_signal_t *s, int signum)
{
    ccp_log_info("received %s: draining", signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_async_send(s->data);
}

typedef struct main_ctx {
    const ccp_server_opts *opts;
    worker *workers;
    int n;
    uv_signal_t sigint, sigterm, sighup;
    uv_async_t stop;
} main_ctx;

/* SIGHUP conventionally asks a daemon to reload; its default action would
 * kill the process, so it is always caught. */
static void on_sighup(uv_signal_t *s, int signum)
{
    (void)signum;
    main_ctx *m = s->data;
    if (m->opts->on_sighup) {
        ccp_log_info("received SIGHUP: reloading the config");
        m->opts->on_sighup(m->opts->app);
        return;
    }
    ccp_log_warn("received SIGHUP: this server has no reload; ignoring it");
}

static void stop_all(uv_async_t *a)
{
    main_ctx *m = a->data;
    if (m->opts->main_stop) m->opts->main_stop(m->opts->app);
    atomic_store(&g_stop, NULL);
    for (int i = 0; i < m->n; i++)
        uv_async_send(&m->workers[i].wake);
    close_handle((uv_handle_t *)&m->sigint);
    close_handle((uv_handle_t *)&m->sigterm);
    close_handle((uv_handle_t *)&m->sighup);
    close_handle((uv_handle_t *)&m->stop);
}

void ccp_server_request_stop(void)
{
    uv_async_t *a = atomic_load(&g_stop);
    if (a) uv_async_send(a);
}

int ccp_server_run(const ccp_server_opts *opts, ccp_error *err)
{
    assert(opts->handler && opts->error_body);
    int n = opts->workers > 0 ? opts->workers : (int)uv_available_parallelism();
    if (n < 1) n = 1;
    /* The admin listener is one more worker of its own, after the others:
     * a scrape or an admin call never waits behind proxied traffic, and
     * the admin port can stay private while the main one is exposed. */
    int n_all = n + (opts->admin_host ? 1 : 0);
    worker *ws = ccp_xcalloc((size_t)n_all, sizeof *ws);
    int port = opts->port, admin_port = opts->admin_port;
    if (opts->admin_host) {
        struct sockaddr_storage ss;
        int fd = bind_socket(opts->admin_host, admin_port, &ss);
        if (fd < 0) {
            free(ws);
            if (fd == -EINVAL)
                return ccp_error_set(err, CCP_EINVAL,
                                     "cannot listen on '%s': give a numeric IPv4 or IPv6 "
                                     "address (server.admin_listen)",
                                     opts->admin_host);
            return ccp_error_set(err, CCP_EIO, "cannot listen on %s:%d (server.admin_listen): %s",
                                 opts->admin_host, admin_port, strerror(-fd));
        }
        ws[n].fd = fd;
        ws[n].admin = true;
        admin_port = bound_port(fd);
    }
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        int fd = bind_socket(opts->host, port, &ss);
        if (fd < 0) {
            for (int j = 0; j < i; j++)
                close(ws[j].fd);
            if (opts->admin_host) close(ws[n].fd);
            free(ws);
            if (fd == -EINVAL)
                return ccp_error_set(err, CCP_EINVAL,
                                     "cannot listen on '%s': give a numeric IPv4 or IPv6 "
                                     "address (server.host / --host)",
                                     opts->host);
            return ccp_error_set(err, CCP_EIO, "cannot listen on %s:%d: %s", opts->host, port,
                                 strerror(-fd));
        }
        ws[i].fd = fd;
        if (port == 0) port = bound_port(fd); /* the others share the port the first got */
    }

    /* A client that disconnects must not kill the process: writes to its
     * socket fail with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile_limit();

    main_ctx m = {.opts = opts, .workers = ws, .n = n_all};
    _Atomic int open_conns = 0;
    uv_loop_t main_loop;
    uv_loop_init(&main_loop);
    uv_async_init(&main_loop, &m.stop, stop_all);
    m.stop.data = &m;
    uv_signal_init(&main_loop, &m.sigint);
    uv_signal_init(&main_loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m.stop;
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_init(&main_loop, &m.sighup);
    m.sighup.data = &m;
    uv_signal_start(&m.sighup, on_sighup, SIGHUP);
    atomic_store(&g_stop, &m.stop);
    if (opts->main_start) opts->main_start(opts->app, &main_loop);

    for (int i = 0; i < n_all; i++) {
        worker *w = &ws[i];
        w->opts = opts;
        w->open_conns = &open_conns;
        w->tls = w->admin ? opts->admin_tls : opts->tls;
        w->clients = w->admin ? NULL : opts->clients;
        uv_loop_init(&w->loop);
        w->port = w->admin ? admin_port : port;
        uv_timer_init(&w->loop, &w->accept_retry);
        w->accept_retry.data = w;
        w->accept_paused = true; /* until start_listener succeeds */
        start_listener(w);
        uv_async_init(&w->loop, &w->wake, wake_cb);
        w->wake.data = w;
        uv_timer_init(&w->loop, &w->drain);
        w->drain.data = w;
        uv_timer_init(&w->loop, &w->trim);
        w->trim.data = w;
        uv_prepare_init(&w->loop, &w->flush_prepare);
        w->flush_prepare.data = w;
        uv_prepare_start(&w->flush_prepare, flush_prepare_cb);
        uv_check_init(&w->loop, &w->flush_check);
        w->flush_check.data = w;
        uv_check_start(&w->flush_check, flush_check_cb);
        if (getrandom(&w->rng, sizeof w->rng, 0) != sizeof w->rng || w->rng == 0)
            w->rng = uv_hrtime() | 1;
    }
    for (int i = 0; i < n_all; i++)
        uv_thread_create(&ws[i].thread, worker_main, &ws[i]);
    if (opts->admin_host && opts->on_admin_listening)
        opts->on_admin_listening(opts->app, opts->admin_host, admin_port);
    if (opts->on_listening) opts->on_listening(opts->app, opts->host, port);

    uv_run(&main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < n_all; i++) {
        uv_thread_join(&ws[i].thread);
        if (uv_loop_close(&ws[i].loop) != 0) ccp_log_warn("worker %d: loop not fully closed", i);
    }
    uv_loop_close(&main_loop);
    free(ws);
    return 0;
}
