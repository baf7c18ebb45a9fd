/* upstream.c — libcurl's multi-socket API on a libuv loop.
 *
 * curl tells us which sockets to watch (sock_cb) and when to wake it
 * (timer_cb); libuv's poll handles and one timer do the watching, and every
 * readiness event goes back to curl_multi_socket_action. Each request has a
 * timer of its own for the two timeouts curl lacks: time to the response
 * head, and the idle gap between body chunks.
 *
 * A connection's watcher lives as long as its socket, not as long as one
 * transfer: curl drops a kept-alive socket from its watch list when each
 * transfer ends and asks for it again on the next, and a libuv poll handle
 * made, started, stopped and closed per transfer cost five epoll_ctl calls
 * per request (8% of the CPU of a small proxied request). Sockets curl
 * creates for connections are registered from its sockopt callback and
 * released from its close-socket callback; any other socket curl asks us to
 * watch (the threaded resolver's wake-up pair, closed without a callback)
 * gets a watcher for just as long as curl names it.
 *
 * Backpressure: when the client reads more slowly than the provider sends,
 * the receiver asks for a pause (ccp_upstream_pause). The next chunk curl
 * offers is refused with CURL_WRITEFUNC_PAUSE: curl keeps that one chunk
 * and stops reading the socket, so the provider's TCP window closes and
 * nothing piles up here. ccp_upstream_resume unpauses on a later loop turn
 * (curl_easy_pause re-delivers the kept chunk from inside the call, which
 * must not happen inside another callback of ours). */
#include "upstream/upstream.h"

#include "upstream/addrguard.h"
#include "upstream/tls.h"

#include "core/alloc.h"
#include "core/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Easy handles kept for reuse per worker: curl_easy_init was 6% of the
 * CPU time of a proxied request in the profile. */
#define CCP_UPSTREAM_SPARE_EASY 64

typedef struct sock_ctx sock_ctx;

struct ccp_upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    ccp_upstream_config cfg;
    ccp_upstream_req *reqs;               /* live requests, for free() */
    int in_curl;                          /* >0 while inside curl_multi_socket_action */
    CURL *spare[CCP_UPSTREAM_SPARE_EASY]; /* reset handles ready for reuse */
    size_t n_spare;
    bool deferred;         /* a cancel waits for curl to return */
    sock_ctx **conn_socks; /* owned: connection sockets' watchers, by fd */
    size_t n_conn_socks;   /* slots in conn_socks */
    /* What pooling achieves, for the debug log at the end: transfers
     * finished, and the connections they had to open (CURLINFO_NUM_CONNECTS). */
    unsigned long long transfers, connects;
    /* A proxy from the environment connects for us: the addresses curl
     * opens sockets to are the proxy's, not the providers'. */
    bool via_proxy;
};

/* Idle upstream connections kept per worker, across all providers. */
#define CCP_UPSTREAM_IDLE_CONNS 256

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    ccp_upstream *u;
    int events; /* UV_READABLE|UV_WRITABLE being watched, 0 when stopped */
    bool idle;  /* a connection socket (in conn_socks) no transfer is using */
};

struct ccp_upstream_req {
    ccp_upstream *u;
    CURL *easy;
    struct curl_slist *headers;
    ccp_upstream_cb cb;
    void *ud;
    uv_timer_t timer; /* first byte, then idle gap */
    bool head_done, cancelled, data_abort, detached;
    bool want_pause; /* refuse the next chunk: the receiver is congested */
    bool paused;     /* curl holds a refused chunk until resume */
    int in_cb;
    char *content_type;
    char *hint[4]; /* retry-after, retry-after-ms, x-ratelimit-reset-requests, -tokens */
    char errbuf[CURL_ERROR_SIZE];
    const ccp_provider *provider; /* borrowed; NULL: no provider settings */
    char refused[256];            /* why the SSRF guard refused a connect; "" when not */
    ccp_upstream_req *next, **pprev;
};

void ccp_upstream_global_init(void)
{
    ccp_tls_global_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ccp_upstream_global_cleanup(void)
{
    curl_global_cleanup();
}

static void check_multi_info(ccp_upstream *u);

static void socket_action(ccp_upstream *u, curl_socket_t fd, int flags)
{
    int running;
    u->in_curl++;
    curl_multi_socket_action(u->multi, fd, flags, &running);
    u->in_curl--;
    check_multi_info(u);
}

static void free_req_cb(uv_handle_t *h)
{
    ccp_upstream_req *r = h->data;
    free(r->content_type);
    for (size_t i = 0; i < 4; i++)
        free(r->hint[i]);
    free(r);
}

/* Takes r out of curl and the live list, and frees it (after its timer
 * closes). The connection of an unfinished transfer is closed by curl. */
static void release(ccp_upstream_req *r)
{
    if (r->detached) return;
    r->detached = true;
    curl_multi_remove_handle(r->u->multi, r->easy);
    if (r->u->n_spare < CCP_UPSTREAM_SPARE_EASY) {
        curl_easy_reset(r->easy); /* keeps its buffers, drops every option */
        r->u->spare[r->u->n_spare++] = r->easy;
    } else {
        curl_easy_cleanup(r->easy);
    }
    /* curl's copies of the outbound headers include the provider key. */
    for (struct curl_slist *h = r->headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(r->headers);
    if (r->pprev) {
        *r->pprev = r->next;
        if (r->next) r->next->pprev = r->pprev;
    }
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, free_req_cb);
}

static void finish(ccp_upstream_req *r, int result, const ccp_error *err)
{
    ccp_upstream_cb cb = r->cb;
    void *ud = r->ud;
    bool cancelled = r->cancelled;
    release(r);
    if (!cancelled) cb.on_done(ud, result, err);
}

static void check_multi_info(ccp_upstream *u)
{
    if (u->in_curl) return;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        ccp_upstream_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode res = msg->data.result;
        long nconn = 0;
        if (curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &nconn) == CURLE_OK)
            u->connects += (unsigned long long)nconn;
        u->transfers++;
        ccp_error err = {0};
        int code = 0;
        if (r->data_abort) {
            code = ccp_error_set(&err, CCP_ECANCELED, "transfer stopped by the receiver");
        } else if (res == CURLE_OPERATION_TIMEDOUT) {
            code = ccp_error_set(&err, CCP_ETIMEOUT, "%s (connect timeout %u ms, total %u ms)",
                                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(res),
                                 u->cfg.connect_timeout_ms, u->cfg.total_timeout_ms);
        } else if (res != CURLE_OK && r->refused[0]) {
            code = ccp_error_set(&err, CCP_EUPSTREAM, "%s", r->refused);
        } else if (res != CURLE_OK) {
            const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
            char *spelt = ccp_tls_error_text(why);
            code = ccp_error_set(&err, CCP_EUPSTREAM, "%s", spelt ? spelt : why);
            free(spelt);
        }
        finish(r, code, code ? &err : NULL);
    }
    /* Cancels made while curl was busy are carried out now. */
    if (u->deferred) {
        u->deferred = false;
        for (ccp_upstream_req *r = u->reqs, *next; r; r = next) {
            next = r->next;
            if (r->cancelled && !r->in_cb) release(r);
        }
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    sock_ctx *sc = h->data;
    if (sc->idle) {
        /* A kept-alive connection no transfer uses became readable: the
         * server closed it (or broke protocol). Stop watching so the loop
         * does not spin; curl finds it dead when it next tries to reuse it. */
        uv_poll_stop(&sc->poll);
        sc->events = 0;
        return;
    }
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    socket_action(sc->u, sc->fd, flags);
}

static void free_sock_cb(uv_handle_t *h)
{
    free(h->data);
}

/* Returns a new watcher for fd (owned by the caller until handed to
 * uv_close), or NULL if libuv refuses the socket. */
static sock_ctx *sock_new(ccp_upstream *u, curl_socket_t fd)
{
    sock_ctx *sc = ccp_xcalloc(1, sizeof *sc);
    sc->fd = fd;
    sc->u = u;
    if (uv_poll_init_socket(u->loop, &sc->poll, fd) != 0) {
        free(sc);
        return NULL;
    }
    sc->poll.data = sc;
    return sc;
}

static sock_ctx *conn_sock(ccp_upstream *u, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < u->n_conn_socks ? u->conn_socks[fd] : NULL;
}

/* Watches ev on sc. uv_poll_start always re-registers the descriptor
 * (epoll_ctl DEL then ADD), so an unchanged set is not passed on. */
static void sock_watch(sock_ctx *sc, int ev)
{
    if (ev == sc->events) return;
    sc->events = ev;
    if (ev)
        uv_poll_start(&sc->poll, ev, poll_cb);
    else
        uv_poll_stop(&sc->poll);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    ccp_upstream *u = userp;
    sock_ctx *sc = conn_sock(u, s);
    if (sc) {
        if (what == CURL_POLL_REMOVE) {
            /* Between transfers: keep watching for reads (the common case,
             * no system call); a writable socket would wake us at once. */
            sc->idle = true;
            if (sc->events != UV_READABLE) sock_watch(sc, 0);
            return 0;
        }
        sc->idle = false;
    } else {
        sc = socketp;
        if (what == CURL_POLL_REMOVE) {
            if (sc) {
                curl_multi_assign(u->multi, s, NULL);
                uv_close((uv_handle_t *)&sc->poll, free_sock_cb);
            }
            return 0;
        }
        if (!sc) {
            if (!(sc = sock_new(u, s))) return -1;
            curl_multi_assign(u->multi, s, sc);
        }
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    sock_watch(sc, ev);
    return 0;
}

/* curl made a socket for a connection: give it a watcher for its lifetime. */
static int sockopt_cb(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    ccp_upstream *u = ud;
    if (purpose != CURLSOCKTYPE_IPCXN || fd < 0) return CURL_SOCKOPT_OK;
    if ((size_t)fd >= u->n_conn_socks) {
        size_t n = u->n_conn_socks ? u->n_conn_socks : 64;
        while (n <= (size_t)fd)
            n *= 2;
        u->conn_socks = ccp_xrealloc(u->conn_socks, n * sizeof *u->conn_socks);
        memset(u->conn_socks + u->n_conn_socks, 0, (n - u->n_conn_socks) * sizeof *u->conn_socks);
        u->n_conn_socks = n;
    }
    sock_ctx *sc = sock_new(u, fd);
    if (!sc) return CURL_SOCKOPT_ERROR;
    u->conn_socks[fd] = sc;
    return CURL_SOCKOPT_OK;
}

/* curl is about to open a socket to a resolved address: the SSRF guard.
 * An internal address is refused (no socket: curl tries the host's next
 * address, then fails the transfer) unless the provider allows it. */
static curl_socket_t opensocket_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    ccp_upstream_req *r = ud;
    const char *kind = NULL;
    if (!r->u->via_proxy && !(r->provider && r->provider->allow_internal))
        kind = ccp_addr_internal(&a->addr);
    if (kind) {
        char addr[64];
        ccp_addr_text(&a->addr, addr, sizeof addr);
        const char *name = r->provider ? r->provider->name : "?";
        snprintf(r->refused, sizeof r->refused,
                 "refused to connect to %s, a %s address: provider '%s' names a host that is "
                 "not an IP address or localhost; set 'local: true' on it if it runs inside "
                 "your network",
                 addr, kind, name);
        ccp_log_warn("upstream %s: connection to %s refused: a %s address (SSRF guard)", name, addr,
                     kind);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The provider's TLS settings. Verification stays on unless the config
 * turns it off by its clearly named key (warned about at every start). */
static void tls_options(CURL *e, const ccp_provider *p)
{
    const ccp_tls_config *t = p ? &p->tls : NULL;
    long v = t && t->min_version == CCP_TLS_1_3 ? CURL_SSLVERSION_TLSv1_3 : CURL_SSLVERSION_TLSv1_2;
    curl_easy_setopt(e, CURLOPT_SSLVERSION, v);
    if (!t) return;
    if (t->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (t->pin_sha256) curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, t->pin_sha256);
    if (t->client_cert) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, t->client_cert);
        curl_easy_setopt(e, CURLOPT_SSLKEY, t->client_key ? t->client_key : t->client_cert);
    }
    if (t->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* curl closes a connection's socket (it has already said CURL_POLL_REMOVE):
 * the watcher goes first, so libuv never holds a closed descriptor. */
static int closesocket_cb(void *ud, curl_socket_t fd)
{
    ccp_upstream *u = ud;
    sock_ctx *sc = conn_sock(u, fd);
    if (sc) {
        u->conn_socks[fd] = NULL;
        uv_close((uv_handle_t *)&sc->poll, free_sock_cb);
    }
    return close(fd);
}

static void multi_timer_cb(uv_timer_t *t)
{
    socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_fn(CURLM *m, long timeout_ms, void *userp)
{
    ccp_upstream *u = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, multi_timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

void ccp_upstream_set_config(ccp_upstream *u, const ccp_upstream_config *cfg)
{
    u->cfg = *cfg;
}

ccp_upstream *ccp_upstream_new(uv_loop_t *loop, const ccp_upstream_config *cfg)
{
    ccp_upstream *u = ccp_xcalloc(1, sizeof *u);
    u->loop = loop;
    u->cfg = *cfg;
    static const char *const proxy_vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy",
                                             "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v) u->via_proxy = true;
    }
    u->multi = curl_multi_init();
    if (!u->multi) {
        ccp_log_error("curl_multi_init failed");
        abort();
    }
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    /* Keep idle connections for reuse. curl's default cache is sized from
     * the transfers in progress when one ends, so as load rises and falls it
     * closes connections that are soon opened again (measured: 45 connects
     * for the first 2,862 requests at 32 concurrent, against 32 with this). */
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, (long)CCP_UPSTREAM_IDLE_CONNS);
    return u;
}

static void free_upstream_cb(uv_handle_t *h)
{
    free(h->data);
}

void ccp_upstream_free(ccp_upstream *u)
{
    if (!u) return;
    ccp_log_debug("upstream: %llu transfer(s) needed %llu new connection(s)", u->transfers,
                  u->connects);
    while (u->reqs) {
        u->reqs->cancelled = true;
        release(u->reqs);
    }
    while (u->n_spare)
        curl_easy_cleanup(u->spare[--u->n_spare]);
    /* multi_cleanup tells sock_cb to drop each socket it still watches. */
    curl_multi_cleanup(u->multi);
    /* curl closed every connection socket through closesocket_cb; a
     * watcher still here would be a socket curl closed some other way. */
    for (size_t i = 0; i < u->n_conn_socks; i++)
        if (u->conn_socks[i]) uv_close((uv_handle_t *)&u->conn_socks[i]->poll, free_sock_cb);
    free(u->conn_socks);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, free_upstream_cb);
}

/* The idle-gap and first-byte timer fired. */
static void req_timer_cb(uv_timer_t *t)
{
    ccp_upstream_req *r = t->data;
    ccp_error err;
    if (r->head_done)
        ccp_error_set(&err, CCP_ETIMEOUT,
                      "no data from the upstream for %u ms (upstream.stream_idle_timeout_ms)",
                      r->u->cfg.stream_idle_timeout_ms);
    else
        ccp_error_set(&err, CCP_ETIMEOUT,
                      "no response head from the upstream within %u ms "
                      "(upstream.first_byte_timeout_ms)",
                      r->u->cfg.first_byte_timeout_ms);
    finish(r, CCP_ETIMEOUT, &err);
}

static char *header_value(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return NULL;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return ccp_xstrndup(v, (size_t)(end - v));
}

static size_t header_cb(char *line, size_t size, size_t n, void *ud)
{
    ccp_upstream_req *r = ud;
    size_t len = size * n;
    if (r->cancelled) return 0;
    if (r->head_done) return len; /* trailers */
    /* The raw line, for the debug capture. */
    if (r->cb.on_header) r->cb.on_header(r->ud, line, len);
    static const char *const hint_names[4] = {
        "retry-after", "retry-after-ms", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"};
    char *v;
    if ((v = header_value(line, len, "content-type"))) {
        free(r->content_type);
        r->content_type = v;
    } else {
        for (size_t i = 0; i < 4; i++)
            if ((v = header_value(line, len, hint_names[i]))) {
                free(r->hint[i]);
                r->hint[i] = v;
                break;
            }
    }
    if (!(len <= 2 && (line[0] == '\r' || line[0] == '\n'))) return len;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 100 && status < 200) {
        /* An interim head (100 Continue): the real one follows. */
        free(r->content_type);
        r->content_type = NULL;
        for (size_t i = 0; i < 4; i++) {
            free(r->hint[i]);
            r->hint[i] = NULL;
        }
        return len;
    }
    r->head_done = true;
    if (r->u->cfg.stream_idle_timeout_ms)
        uv_timer_start(&r->timer, req_timer_cb, r->u->cfg.stream_idle_timeout_ms, 0);
    r->in_cb++;
    ccp_upstream_hints hints = {r->hint[0], r->hint[1], r->hint[2], r->hint[3]};
    r->cb.on_head(r->ud, (int)status, r->content_type, &hints);
    r->in_cb--;
    return r->cancelled ? 0 : len;
}

static size_t write_cb(char *ptr, size_t size, size_t n, void *ud)
{
    ccp_upstream_req *r = ud;
    size_t len = size * n;
    if (r->cancelled || r->data_abort) return 0;
    if (r->want_pause) {
        /* curl keeps this chunk and offers it again after the resume. The
         * idle-gap timer stops: the silence is ours, not the provider's. */
        r->want_pause = false;
        r->paused = true;
        uv_timer_stop(&r->timer);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (r->u->cfg.stream_idle_timeout_ms)
        uv_timer_start(&r->timer, req_timer_cb, r->u->cfg.stream_idle_timeout_ms, 0);
    r->in_cb++;
    int rc = r->cb.on_data(r->ud, ptr, len);
    r->in_cb--;
    if (r->cancelled) return 0;
    if (rc) {
        r->data_abort = true;
        return 0;
    }
    return len;
}

ccp_upstream_req *ccp_upstream_send(ccp_upstream *u, const ccp_upstream_send_opts *o,
                                    const ccp_upstream_cb *cb, void *ud)
{
    ccp_upstream_req *r = ccp_xcalloc(1, sizeof *r);
    r->u = u;
    r->cb = *cb;
    r->ud = ud;
    uv_timer_init(u->loop, &r->timer);
    r->timer.data = r;
    for (size_t i = 0; i < o->n_headers; i++)
        r->headers = curl_slist_append(r->headers, o->headers[i]);
    /* No "Expect: 100-continue" round trip before the body. */
    r->headers = curl_slist_append(r->headers, "Expect:");

    CURL *e = r->easy = u->n_spare ? u->spare[--u->n_spare] : curl_easy_init();
    if (!e) {
        /* curl_easy_init fails only when memory does: the project's policy
         * for that is to stop (core/alloc.h). */
        fputs("ccproxy: out of memory (curl_easy_init)\n", stderr);
        abort();
    }
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    bool head = !strcmp(o->method, "HEAD");
    if (head)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* no body follows the head */
    else
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(o->method, "POST") ? o->method : NULL);
    if (o->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A provider's redirect is not followed (curl's default, set here so no
     * later change turns it on): a Location could point anywhere, with the
     * key in the request's headers. The 3xx reaches the exchange as it is. */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    r->provider = o->provider;
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
    tls_options(e, o->provider);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* No CURLOPT_PIPEWAIT: with it, a transfer that starts while another
     * to the same host is under way waits to learn whether that connection
     * can multiplex, and over HTTP/1.1 it is only woken when some transfer
     * ends, so concurrent long streams stalled until one finished. HTTP/2
     * connections are still shared once open (CURLPIPE_MULTIPLEX). */
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, u);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, u);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)u->cfg.connect_timeout_ms);
    uint32_t total = u->cfg.total_timeout_ms;
    if (o->timeout_ms && (!total || o->timeout_ms < total)) total = o->timeout_ms;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)total);
    /* The loop's clock was read when this loop turn began; the work since
     * (parsing and encoding a large request can take a while) is not in
     * it, and a timer armed from that stale time would fire early. */
    uv_update_time(u->loop);
    if (u->cfg.first_byte_timeout_ms)
        uv_timer_start(&r->timer, req_timer_cb,
                       (uint64_t)u->cfg.first_byte_timeout_ms + u->cfg.connect_timeout_ms, 0);

    r->next = u->reqs;
    if (r->next) r->next->pprev = &r->next;
    r->pprev = &u->reqs;
    u->reqs = r;
    /* curl starts the transfer from its timer callback, on a later loop
     * turn, so no callback runs before this returns. */
    curl_multi_add_handle(u->multi, e);
    return r;
}

void ccp_upstream_stats(const ccp_upstream *u, unsigned long long *transfers,
                        unsigned long long *connects)
{
    *transfers = u->transfers;
    *connects = u->connects;
}

static void pre_head(void *ud, int status, const char *ct, const ccp_upstream_hints *h)
{
    (void)ct, (void)h;
    ccp_log_debug("preconnect to %s: answered %d; connection kept", (const char *)ud, status);
}

static int pre_data(void *ud, const char *d, size_t n)
{
    (void)ud, (void)d, (void)n;
    return 0;
}

static void pre_done(void *ud, int result, const ccp_error *err)
{
    if (result)
        ccp_log_debug("preconnect to %s failed: %s", (const char *)ud,
                      err ? err->msg : ccp_error_name(result));
}

/* A HEAD of the base URL: the cheapest request every HTTP server answers,
 * and unlike CURLOPT_CONNECT_ONLY its connection goes back to the pool for
 * the next transfer to that host. p must outlive the transfer (the
 * config's providers do: the worker's upstream is freed first). */
void ccp_upstream_preconnect(ccp_upstream *u, const ccp_provider *p)
{
    static const ccp_upstream_cb cb = {pre_head, pre_data, pre_done, NULL};
    ccp_upstream_send_opts o = {.method = "HEAD", .url = p->base_url, .provider = p};
    ccp_upstream_send(u, &o, &cb, (void *)p->base_url);
}

void ccp_upstream_cancel(ccp_upstream_req *r)
{
    if (!r || r->cancelled) return;
    r->cancelled = true;
    /* Inside curl (its callbacks), the handle may not be removed: the
     * callback returns an error, and check_multi_info releases it. */
    if (r->in_cb || r->u->in_curl) {
        r->u->deferred = true;
        return;
    }
    release(r);
}

void ccp_upstream_pause(ccp_upstream_req *r)
{
    if (!r || r->cancelled || r->paused) return;
    r->want_pause = true;
}

/* The resume's loop turn: curl re-delivers the chunk it kept (on_data runs
 * from inside curl_easy_pause), then is kicked so it reads the socket again
 * and reports a transfer that ended meanwhile. */
static void resume_cb(uv_timer_t *t)
{
    ccp_upstream_req *r = t->data;
    ccp_upstream *u = r->u;
    if (r->cancelled || !r->paused) return;
    r->paused = false;
    if (u->cfg.stream_idle_timeout_ms)
        uv_timer_start(&r->timer, req_timer_cb, u->cfg.stream_idle_timeout_ms, 0);
    u->in_curl++;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
    u->in_curl--;
    socket_action(u, CURL_SOCKET_TIMEOUT, 0);
}

void ccp_upstream_resume(ccp_upstream_req *r)
{
    if (!r || r->cancelled) return;
    r->want_pause = false; /* asked for but not yet carried out: nothing to undo */
    if (!r->paused) return;
    /* While paused the request's timer is idle, so it carries the resume
     * to the next loop turn, out of whatever callback called us. */
    uv_timer_start(&r->timer, resume_cb, 0, 0);
}
