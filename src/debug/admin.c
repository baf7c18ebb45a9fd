/* admin.c — the debugging endpoints of the admin listener (see admin.h).
 * They read what the events feed (events.c) and the capture
 * (capture_writer.c) keep; the dashboard's files come from ui_assets.c,
 * generated at build time from ui/ (cmake/embed.cmake). */
#include "debug/admin.h"

#include "core/alloc.h"
#include "debug/capture_internal.h"
#include "debug/events.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ui_assets.c (generated). */
extern const unsigned char ccp_ui_index_html[];
extern const size_t ccp_ui_index_html_len;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool have_events(ccp_worker *w, ccp_response *res)
{
    if (w->app->events) return true;
    ccp_res_send_error(res, 404, "not_found_error", "the events feed is off");
    return false;
}

/* ---- GET /admin/events ---- */

typedef struct feed {
    ccp_response *res;
    ccp_events_sub *sub;
    ccp_buf buf; /* reused for every write */
} feed;

/* Events are waiting (or the client read its backlog down). A client that
 * does not keep up is not written to: its queue fills and the feed drops
 * events for it (counted, and told to it), never blocking a worker. */
static void feed_ready(void *ud)
{
    feed *f = ud;
    if (ccp_res_congested(f->res)) return;
    ccp_buf_reset(&f->buf);
    ccp_events_take(f->sub, &f->buf);
    if (f->buf.len) ccp_res_write(f->res, f->buf.data, f->buf.len);
}

static void feed_end(void *ud)
{
    feed *f = ud;
    ccp_events_unsubscribe(f->sub);
    ccp_buf_free(&f->buf);
    ccp_response *res = f->res;
    free(f);
    ccp_res_end(res);
}

void ccp_debug_events(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)req;
    if (!have_events(w, res)) return;
    feed *f = ccp_xcalloc(1, sizeof *f);
    f->res = res;
    f->sub = ccp_events_subscribe(w->app->events, ccp_res_loop(res), feed_ready, f);
    ccp_res_on_abort(res, feed_end, f);
    ccp_res_on_shutdown(res, feed_end, f);
    ccp_res_on_drain(res, feed_ready, f);
    ccp_res_header(res, "cache-control", "no-cache");
    ccp_res_start_stream(res, 200, "text/event-stream; charset=utf-8");
    /* A first frame, so the client knows it is subscribed. */
    static const char hello[] = ": ccproxy events\n\n";
    ccp_res_write(res, hello, sizeof hello - 1);
}

/* ---- GET /admin/requests, /admin/stats ---- */

static void send_json(ccp_response *res, ccp_buf *b)
{
    ccp_res_header(res, "cache-control", "no-store");
    ccp_res_send(res, 200, "application/json", b->data, b->len);
    ccp_buf_free(b);
}

void ccp_debug_requests(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)req;
    if (!have_events(w, res)) return;
    ccp_buf b = CCP_BUF_INIT;
    ccp_events_recent(w->app->events, &b);
    send_json(res, &b);
}

void ccp_debug_stats(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)req;
    if (!have_events(w, res)) return;
    ccp_buf b = CCP_BUF_INIT;
    ccp_events_stats(w->app->events, now_ms(), &b);
    send_json(res, &b);
}

/* ---- GET /admin/capture?id= ---- */

/* The id from the query, if it looks like a request id (it becomes part
 * of a file-name match: nothing but [A-Za-z0-9_]). */
static bool query_id(const char *query, char *out, size_t cap)
{
    const char *p = strstr(query, "id=");
    if (!p || (p != query && p[-1] != '&')) return false;
    p += 3;
    size_t n = 0;
    while (p[n] && p[n] != '&' && n + 1 < cap) {
        char ch = p[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
        out[n] = ch;
        n++;
    }
    out[n] = '\0';
    return n >= 4;
}

void ccp_debug_capture(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    if (!w->app->capture) {
        ccp_res_send_error(res, 404, "not_found_error",
                           "capture is off: set debug.capture.dir or run serve --capture DIR");
        return;
    }
    char id[64];
    if (!query_id(req->query, id, sizeof id)) {
        ccp_res_send_error(res, 400, "invalid_request_error",
                           "GET /admin/capture?id=<request id>: the id is missing or not one");
        return;
    }
    const char *dir = ccp_capture_cfg(w->app->capture)->dir;
    char suffix[80];
    snprintf(suffix, sizeof suffix, "-%s.jsonl", id);
    DIR *d = opendir(dir);
    char *name = NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name), s = strlen(suffix);
        if (e->d_name[0] != '.' && n > s && !strcmp(e->d_name + n - s, suffix)) {
            name = ccp_xstrdup(e->d_name);
            break;
        }
    }
    if (d) closedir(d);
    ccp_buf path = CCP_BUF_INIT, body = CCP_BUF_INIT;
    FILE *f = NULL;
    if (name) {
        ccp_buf_printf(&path, "%s/%s", dir, name);
        f = fopen(path.data, "rb");
    }
    if (!f) {
        ccp_res_send_error(res, 404, "not_found_error",
                           "no capture of that request (not sampled, not yet written, or "
                           "rotated out)");
    } else {
        char chunk[8192];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            ccp_buf_append(&body, chunk, n);
        fclose(f);
        ccp_res_header(res, "cache-control", "no-store");
        ccp_res_send(res, 200, "application/x-ndjson", body.data ? body.data : "", body.len);
    }
    free(name);
    ccp_buf_free(&path);
    ccp_buf_free(&body);
}

/* ---- GET /ui ---- */

void ccp_debug_ui(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)w, (void)req;
    /* Everything is inline and nothing is fetched from elsewhere: the
     * policy says so to the browser too. */
    ccp_res_header(res, "content-security-policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                   "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                   "frame-ancestors 'none'");
    ccp_res_header(res, "x-content-type-options", "nosniff");
    ccp_res_header(res, "cache-control", "no-store");
    ccp_res_send(res, 200, "text/html; charset=utf-8", (const char *)ccp_ui_index_html,
                 ccp_ui_index_html_len);
}
