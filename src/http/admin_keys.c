/* admin_keys.c — the /admin/keys endpoints: `ccproxy keys` for a running
 * proxy whose state store the operator cannot reach (a container, another
 * host). Each change is teams/keyadmin.c's, as the CLI makes it (Redis
 * first with state.redis, the state file, the audit row); it runs in the
 * libuv thread pool, since SQLite and Redis block, on connections of its
 * own; then the guard's state thread reloads the keys before the answer
 * goes, so the proxy serves the change at once.
 *
 *   GET  /admin/keys              {"data":[key,...]}  (never a secret or hash)
 *   GET  /admin/keys/ID           key                 (ID: the id or the name)
 *   POST /admin/keys              201 key + "key": the secret, shown once
 *   POST /admin/keys/ID/revoke    key
 *   POST /admin/keys/ID/rotate    key + "key": the new secret, shown once */
#include "http/app.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "teams/keyadmin.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { OP_LIST, OP_SHOW, OP_CREATE, OP_REVOKE, OP_ROTATE } key_op;

typedef struct keys_job {
    uv_work_t work;
    ccp_worker *w;
    ccp_response *res;
    ccp_guard *guard;
    char *state_path, *redis_url; /* owned copies of the config's */
    key_op op;
    char *which;  /* owned; the id or name (decoded) */
    ccp_keyrec k; /* OP_CREATE's fields; owned */
    /* The answer, filled by the thread. */
    int status;
    const char *etype;
    bool redis_down; /* a change found state.redis unreachable: 503 */
    ccp_buf body;    /* JSON, or the error message */
} keys_job;

/* keyadmin.c's notes go to the proxy's log (as warnings: each is one). */
static void note_log(const char *line)
{
    ccp_log_warn("/admin/keys: %s", line);
}

/* Opens what the CLI opens: the state file, and Redis with state.redis
 * (adopting the file's keys before a first change, or copying Redis's keys
 * into the file before a read). */
static int open_stores(keys_job *j, sqlite3 **db, ccp_rkeys **rk, ccp_error *err)
{
    *db = NULL;
    *rk = NULL;
    char *path = ccp_keystore_path(j->state_path);
    if (!path) return ccp_error_set(err, CCP_ECONFIG, "no state file: set state.path");
    int rc = ccp_keystore_open(path, db, err);
    free(path);
    if (rc || !j->redis_url) return rc;
    bool writes = j->op == OP_CREATE || j->op == OP_REVOKE || j->op == OP_ROTATE;
    rc = ccp_rkeys_open(j->redis_url, 2000, rk, err);
    if (!rc && writes) return ccp_keyadmin_adopt(*rk, *db, note_log, err);
    if (!rc) {
        ccp_keyadmin_copy(*rk, *db, note_log);
        return 0;
    }
    if (!writes) {
        /* Reading: the file's copy, as the proxy serves it. */
        ccp_log_warn("GET /admin/keys: %s; answering with the state file's copy", err->msg);
        return 0;
    }
    /* A change made in one file only would be undone by the next follow of
     * Redis: refused, as `ccproxy keys` refuses it, and worth a retry. */
    j->redis_down = true;
    return rc;
}

static void run(uv_work_t *wk)
{
    keys_job *j = wk->data;
    sqlite3 *db;
    ccp_rkeys *rk;
    ccp_error err = {0};
    char secret[CCP_KEY_SECRET_MAX] = {0};
    int rc = open_stores(j, &db, &rk, &err);
    if (!rc) {
        switch (j->op) {
        case OP_LIST: {
            ccp_keyrec *all;
            size_t n;
            if ((rc = ccp_keystore_list(db, &all, &n, &err)) != 0) break;
            ccp_buf_appends(&j->body, "{\"data\":[");
            for (size_t i = 0; i < n; i++) {
                if (i) ccp_buf_appendc(&j->body, ',');
                ccp_keyadmin_json(&all[i], NULL, &j->body);
                ccp_keyrec_free(&all[i]);
            }
            free(all);
            ccp_buf_appends(&j->body, "]}");
            break;
        }
        case OP_CREATE:
            rc = ccp_keyadmin_create(db, rk, &j->k, secret, note_log, &err);
            if (!rc) ccp_keyadmin_json(&j->k, secret, &j->body);
            break;
        case OP_SHOW:
        case OP_REVOKE:
        case OP_ROTATE:
            if (j->op == OP_REVOKE) rc = ccp_keyadmin_revoke(db, rk, j->which, note_log, &err);
            if (j->op == OP_ROTATE)
                rc = ccp_keyadmin_rotate(db, rk, j->which, secret, note_log, &err);
            if (!rc) {
                ccp_keyrec r = {0};
                rc = ccp_keystore_find(db, j->which, &r, &err);
                if (!rc) ccp_keyadmin_json(&r, j->op == OP_ROTATE ? secret : NULL, &j->body);
                ccp_keyrec_free(&r);
            }
            break;
        }
    }
    explicit_bzero(secret, sizeof secret);
    /* Redis connected but then did not answer (stopped, overloaded, gone
     * mid-change): as unreachable as a refused connection, and as worth a
     * retry. */
    if (rc && rc != CCP_ENOTFOUND && rc != CCP_EINVAL && ccp_rkeys_broken(rk)) j->redis_down = true;
    ccp_rkeys_close(rk);
    if (db) sqlite3_close(db);
    /* The proxy serves its own change now, not at the next poll. */
    if (!rc && j->op != OP_LIST && j->op != OP_SHOW) ccp_guard_reload_keys(j->guard);
    if (rc) {
        ccp_buf_reset(&j->body);
        ccp_buf_appends(&j->body, err.msg);
        j->status = rc == CCP_ENOTFOUND ? 404 : rc == CCP_EINVAL ? 400 : j->redis_down ? 503 : 500;
        j->etype = rc == CCP_ENOTFOUND ? "not_found_error"
                   : rc == CCP_EINVAL  ? "invalid_request_error"
                                       : "api_error";
        if (j->status >= 500) ccp_log_error("/admin/keys: the key change failed: %s", err.msg);
    } else {
        j->status = j->op == OP_CREATE ? 201 : 200;
    }
}

static void job_free(keys_job *j)
{
    if (j->body.data) explicit_bzero(j->body.data, j->body.len); /* may hold a secret */
    ccp_buf_free(&j->body);
    ccp_keyrec_free(&j->k);
    free(j->which);
    free(j->state_path);
    if (j->redis_url) explicit_bzero(j->redis_url, strlen(j->redis_url)); /* a password */
    free(j->redis_url);
    free(j);
}

/* On the worker's loop: the answer (a send after the client went away only
 * releases the response). */
static void done(uv_work_t *wk, int status)
{
    keys_job *j = wk->data;
    ccp_worker *w = j->w;
    if (status != 0)
        ccp_res_send_error(j->res, 500, "api_error", "the key change was cancelled");
    else if (j->status / 100 == 2)
        ccp_res_send(j->res, j->status, "application/json", j->body.data, j->body.len);
    else
        ccp_res_send_error(j->res, j->status, j->etype, j->body.data);
    job_free(j);
    ccp_app_worker_job_done(w); /* last: may free w */
}

static void on_abort(void *ud)
{
    (void)ud; /* done() answers (a no-op now) once the thread is through */
}

/* Starts j in the thread pool; answers at once when proxy keys are off. */
static void start(ccp_worker *w, ccp_response *res, keys_job *j)
{
    j->w = w;
    j->res = res;
    j->guard = w->app->guard;
    j->state_path = w->config->state.path ? ccp_xstrdup(w->config->state.path) : NULL;
    j->redis_url = w->config->state.redis ? ccp_xstrdup(w->config->state.redis) : NULL;
    j->work.data = j;
    ccp_res_on_abort(res, on_abort, j);
    if (uv_queue_work(ccp_res_loop(res), &j->work, run, done) != 0) {
        ccp_res_send_error(res, 503, "overloaded_error", "cannot queue the key change");
        job_free(j);
        return;
    }
    w->prep_jobs++; /* the completion uses the worker's loop */
}

/* false (answered 404) when the proxy runs without proxy keys. */
static bool keys_on(ccp_worker *w, ccp_response *res)
{
    if (w->app->guard) return true;
    ccp_res_send_error(res, 404, "not_found_error",
                       "proxy keys are off: auth.mode is not keys (set auth.mode: keys and "
                       "restart the proxy to manage keys here)");
    return false;
}

/* Decodes %XX in s (len bytes); NULL when empty, malformed or decoding to
 * a NUL. malloc'd. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *path_decode(const char *s, size_t len)
{
    char *out = ccp_xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1, lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (lo < 0 || (hi | lo) == 0) {
                free(out);
                return NULL;
            }
            c = hi << 4 | lo;
            i += 2;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (n) return out;
    free(out);
    return NULL;
}

void ccp_app_admin_keys_list(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    (void)req;
    if (!keys_on(w, res)) return;
    keys_job *j = ccp_xcalloc(1, sizeof *j); /* freed in done() */
    j->op = OP_LIST;
    start(w, res, j);
}

void ccp_app_admin_keys_create(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    if (!keys_on(w, res)) return;
    json_object *body = ccp_app_parse_body(req, res);
    if (!body) return;
    keys_job *j = ccp_xcalloc(1, sizeof *j); /* freed in done() */
    j->op = OP_CREATE;
    const char *field;
    ccp_error err = {0};
    int rc = ccp_keyadmin_from_json(body, (int64_t)time(NULL), &j->k, &field, &err);
    json_object_put(body);
    if (rc) {
        ccp_res_send_error(res, 400, "invalid_request_error", err.msg);
        job_free(j);
        return;
    }
    start(w, res, j);
}

/* GET /admin/keys/ID, POST /admin/keys/ID/revoke|rotate. */
void ccp_app_admin_keys_item(ccp_worker *w, const ccp_request *req, ccp_response *res)
{
    if (!keys_on(w, res)) return;
    const char *rest = req->path + strlen("/admin/keys/");
    const char *slash = strchr(rest, '/');
    bool post = !strcmp(req->method, "POST");
    key_op op = OP_SHOW;
    if (post && slash && !strcmp(slash, "/revoke"))
        op = OP_REVOKE;
    else if (post && slash && !strcmp(slash, "/rotate"))
        op = OP_ROTATE;
    else if (post || slash) {
        ccp_res_send_error(res, 404, "not_found_error",
                           post ? "no such key action: POST /admin/keys/ID/revoke or "
                                  "/admin/keys/ID/rotate"
                                : "GET /admin/keys/ID shows one key (ID: its id or name)");
        return;
    }
    char *which = path_decode(rest, slash ? (size_t)(slash - rest) : strlen(rest));
    if (!which) {
        ccp_res_send_error(res, 400, "invalid_request_error",
                           "the key's id or name in the path is empty or badly percent-encoded");
        return;
    }
    keys_job *j = ccp_xcalloc(1, sizeof *j); /* freed in done() */
    j->op = op;
    j->which = which;
    start(w, res, j);
}
