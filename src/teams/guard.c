/* guard.c — proxy keys and per-key limits in memory, and the state thread
 * that writes usage and audit rows and reloads changed keys (see guard.h). */
#include "teams/guard.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "teams/audit.h"
#include "teams/keystore.h"
#include "teams/limits.h"
#include "teams/redis_push.h"
#include "teams/redis_keys.h"
#include "teams/tenant.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One key as the proxy holds it: its stored record and its live counters.
 * A gkey lives as long as the guard (a reload updates it in place, a key
 * gone from the file is marked revoked), so a ticket's pointer stays valid
 * whatever reloads happen during its request. */
/* The live counters of a key or a tenant: its buckets, its requests in
 * flight, and its spend in the budget's current period ("2026-11-30" or
 * "2026-11"), loaded from the usage table when first seen. */
typedef struct lstate {
    ccp_bucket rpm, tpm;
    int64_t in_flight;
    double spent;
    char period[12];
} lstate;

struct ccp_gkey {
    ccp_keyrec rec;
    lstate st;
    ccp_gkey *next;      /* in the guard's list */
    ccp_gkey *hash_next; /* in its hash table slot */
};

/* A tenant's live counters, shared by its keys; lives as long as the
 * guard (tickets point at it). */
struct ccp_gtenant {
    char *name;
    lstate st;
    ccp_gtenant *next;
};

/* A tenant's spend this day and month per the usage table. */
typedef struct tenant_spend {
    char *name;
    double day, month;
} tenant_spend;

/* A finished request's row, waiting for the state thread. */
typedef struct pending {
    struct pending *next;
    int64_t time_ms; /* Unix milliseconds */
    char key_id[24];
    char *tenant, *provider, *model, *stage, *request_id; /* owned */
    int status;
    int64_t in, out, cache_read, cache_write;
    double spend;
    bool priced;
    char *reason; /* owned; set: a refused request (audited, never in usage) */
    char *event;  /* owned; set: an admin fact (config.reload): audited with detail as is */
    char *detail; /* owned JSON object: the event's */
} pending;

struct ccp_guard {
    pthread_mutex_t mu; /* the keys, their counters and the table */
    ccp_gkey *keys;
    ccp_gkey **table; /* by the first hash digits; size a power of two */
    size_t table_size;
    /* The state thread's. */
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t qmu; /* queue, stop, written */
    pthread_cond_t qcond, qdone;
    pending *head, **tail;
    uint64_t queued, written;        /* rows queued and written, for flush */
    uint64_t reload_asked, reloaded; /* ccp_guard_reload_keys: asked, and done */
    bool stop;
    _Atomic uint32_t poll_ms, flush_ms; /* follow a reload (ccp_guard_set_timing) */
    int64_t data_version;
    _Atomic bool any_tpm; /* some key has a tpm limit */
    bool shared;          /* state.redis: keys' and tenants' limits are counted there */
    ccp_gtenant *tenants;
    tenant_spend *tenant_spend; /* read by load_keys; replaced under mu */
    size_t n_tenant_spend;
    ccp_redis_push *push; /* state.redis: usage and audit rows also go there; else NULL */
    /* Keys in Redis (redis_keys.h), followed by the state thread. */
    char *redis_url;        /* state.redis; NULL: keys live in the file alone */
    ccp_rkeys *rk;          /* the state thread's connection; NULL while down */
    int64_t redis_version;  /* of the records last loaded; 0: none */
    bool redis_keys;        /* Redis has been the keys' source: the file is its copy */
    bool redis_down;        /* logged as unreachable, not yet as back */
    int64_t redis_retry_at; /* monotonic ms: no connection attempt before */
};

static uint64_t slot_of(const char *hex)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = hex[i];
        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v;
}

/* Rebuilds the hash table from the list. Under mu. */
static void rebuild_table(ccp_guard *g)
{
    size_t n = 0;
    for (ccp_gkey *k = g->keys; k; k = k->next)
        n++;
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    free(g->table);
    g->table = ccp_xcalloc(size, sizeof *g->table);
    g->table_size = size;
    for (ccp_gkey *k = g->keys; k; k = k->next) {
        size_t i = slot_of(k->rec.hash) & (size - 1);
        k->hash_next = g->table[i];
        g->table[i] = k;
    }
}

/* The budget period holding Unix time t: "YYYY-MM-DD" or "YYYY-MM" (UTC),
 * and in *left_s the seconds until the next one begins. */
static void period_of(int period, time_t t, char out[12], int64_t *left_s)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 12, period == CCP_PERIOD_DAY ? "%Y-%m-%d" : "%Y-%m", &tm);
    if (!left_s) return;
    struct tm next = tm;
    next.tm_hour = next.tm_min = next.tm_sec = 0;
    if (period == CCP_PERIOD_DAY) {
        next.tm_mday++;
    } else {
        next.tm_mday = 1;
        next.tm_mon++;
    }
    *left_s = (int64_t)(timegm(&next) - t);
}

/* What the key has spent in its budget's current period, from the usage
 * table (rows whose day starts with the period). */
static double spent_in_file(sqlite3 *db, const ccp_keyrec *k, const char *period)
{
    sqlite3_stmt *st = NULL;
    double v = 0;
    char like[16];
    snprintf(like, sizeof like, "%s%%", period);
    if (sqlite3_prepare_v2(db, "SELECT TOTAL(spend_usd) FROM usage WHERE key_id = ? AND day LIKE ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, k->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, like, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Takes the keys read from the file into the live set; spent[i] is rec i's
 * spend in its period per the file (used for keys not yet held). Under mu. */
static void apply_keys(ccp_guard *g, ccp_keyrec *recs, const double *spent, char (*periods)[12],
                       size_t n)
{
    for (ccp_gkey *k = g->keys; k; k = k->next)
        k->rec.revoked = true; /* unless the file still has it */
    for (size_t i = 0; i < n; i++) {
        ccp_gkey *k = g->keys;
        while (k && strcmp(k->rec.id, recs[i].id) != 0)
            k = k->next;
        if (!k) {
            k = ccp_xcalloc(1, sizeof *k);
            k->next = g->keys;
            g->keys = k;
            k->st.spent = spent[i];
            memcpy(k->st.period, periods[i], sizeof k->st.period);
        } else {
            ccp_keyrec_free(&k->rec);
        }
        k->rec = recs[i]; /* takes the strings */
    }
    bool tpm = false;
    for (ccp_gkey *k = g->keys; k; k = k->next)
        tpm |= k->rec.tpm > 0 && !k->rec.revoked;
    atomic_store(&g->any_tpm, tpm);
    rebuild_table(g);
}

/* Takes recs (n records, malloc'd; all of it is taken) as the live set,
 * with each key's and tenant's spend as the state file says. */
static void take_keys(ccp_guard *g, ccp_keyrec *recs, size_t n)
{
    /* Read before taking the lock: the request path never waits on I/O. */
    double *spent = ccp_xcalloc(n ? n : 1, sizeof *spent);
    char(*periods)[12] = ccp_xcalloc(n ? n : 1, sizeof *periods);
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        if (!recs[i].budget_period) continue;
        period_of(recs[i].budget_period, now, periods[i], NULL);
        spent[i] = spent_in_file(g->db, &recs[i], periods[i]);
    }
    /* Tenants' spend this day and this month. */
    tenant_spend *ts = NULL;
    size_t nts = 0;
    char day[12], month[12];
    period_of(CCP_PERIOD_DAY, now, day, NULL);
    period_of(CCP_PERIOD_MONTH, now, month, NULL);
    sqlite3_stmt *st = NULL;
    char like[16];
    snprintf(like, sizeof like, "%s%%", month);
    if (sqlite3_prepare_v2(g->db,
                           "SELECT tenant, TOTAL(CASE WHEN day = ?1 THEN spend_usd END), "
                           "TOTAL(spend_usd) FROM usage WHERE day LIKE ?2 AND tenant != '' "
                           "GROUP BY tenant",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, like, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            ts = ccp_xrealloc(ts, (nts + 1) * sizeof *ts);
            ts[nts].name = ccp_xstrdup((const char *)sqlite3_column_text(st, 0));
            ts[nts].day = sqlite3_column_double(st, 1);
            ts[nts].month = sqlite3_column_double(st, 2);
            nts++;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_lock(&g->mu);
    apply_keys(g, recs, spent, periods, n);
    tenant_spend *old = g->tenant_spend;
    size_t nold = g->n_tenant_spend;
    g->tenant_spend = ts;
    g->n_tenant_spend = nts;
    pthread_mutex_unlock(&g->mu);
    for (size_t i = 0; i < nold; i++)
        free(old[i].name);
    free(old);
    free(spent);
    free(periods);
    free(recs);
}

static int load_keys(ccp_guard *g, ccp_error *err)
{
    ccp_keyrec *recs;
    size_t n;
    int rc = ccp_keystore_list(g->db, &recs, &n, err);
    if (rc) return rc;
    take_keys(g, recs, n);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Follows the key records in Redis: when their version has moved, copies
 * them into the state file (where a start without Redis finds them) and
 * takes them as the live set, as a data_version change does from the
 * file. A Redis that holds no keys yet leaves the file the source. Runs on
 * the state thread (and in ccp_guard_new before it starts), never on a
 * request's path. */
static void follow_redis_keys(ccp_guard *g)
{
    ccp_error err = {0};
    int64_t v = 0;
    int rc = 0;
    if (!g->rk) {
        /* Down: one connection attempt a second, as redis_store.c does. */
        if (mono_ms() < g->redis_retry_at) return;
        g->redis_retry_at = mono_ms() + 1000;
        rc = ccp_rkeys_open(g->redis_url, 500, &g->rk, &err);
    }
    if (!rc) rc = ccp_rkeys_version(g->rk, &v, &err);
    ccp_keyrec *recs = NULL;
    size_t n = 0;
    if (!rc && v && v != g->redis_version) rc = ccp_rkeys_list(g->rk, &recs, &n, &v, &err);
    if (rc) {
        if (!g->redis_down)
            ccp_log_error("proxy keys not followed in state.redis (serving those last loaded): %s",
                          err.msg);
        g->redis_down = true;
        ccp_rkeys_close(g->rk);
        g->rk = NULL;
        return;
    }
    if (g->redis_down) ccp_log_info("proxy keys followed in state.redis again");
    g->redis_down = false;
    if (!v) {
        if (g->redis_version)
            ccp_log_error("state.redis holds no proxy keys any more (was it flushed?): serving "
                          "those last loaded; `ccproxy keys push` copies a state file's keys back");
        g->redis_version = 0;
        return;
    }
    if (!recs && v == g->redis_version) return;
    ccp_error merr = {0};
    if (ccp_keystore_mirror(g->db, recs, n, &merr) != 0)
        ccp_log_error("proxy keys from state.redis not copied to the state file: %s", merr.msg);
    take_keys(g, recs, n);
    if (g->redis_keys)
        ccp_log_info("proxy keys reloaded from state.redis (version %lld)", (long long)v);
    g->redis_version = v;
    g->redis_keys = true;
}

static int64_t data_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void pending_free(pending *p)
{
    free(p->tenant);
    free(p->provider);
    free(p->model);
    free(p->stage);
    free(p->request_id);
    free(p->reason);
    free(p->event);
    free(p->detail);
    free(p);
}

static void json_str_or_null(ccp_buf *b, const char *s)
{
    if (s)
        ccp_buf_append_json_str(b, s, strlen(s));
    else
        ccp_buf_appends(b, "null");
}

/* A batch's statements, prepared once per transaction (preparing costs
 * more than running them). */
typedef struct writer {
    sqlite3 *db;
    sqlite3_stmt *usage, *touch;
    ccp_audit_batch audit;
    ccp_redis_push *push; /* NULL: no state.redis */
} writer;

static int writer_begin(writer *wr, sqlite3 *db, ccp_error *err)
{
    memset(wr, 0, sizeof *wr);
    wr->db = db;
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO usage(day, key_id, tenant, provider, model, requests, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, spend_usd, unpriced) "
            "VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11) "
            "ON CONFLICT(day, key_id, tenant, provider, model) DO UPDATE SET "
            "requests = requests + 1, input_tokens = input_tokens + ?6, "
            "output_tokens = output_tokens + ?7, cache_read_tokens = cache_read_tokens + ?8, "
            "cache_write_tokens = cache_write_tokens + ?9, spend_usd = spend_usd + ?10, "
            "unpriced = unpriced + ?11",
            -1, &wr->usage, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE keys SET last_used = ?2 WHERE id = ?1 AND last_used < ?2",
                           -1, &wr->touch, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "usage: %s", sqlite3_errmsg(db));
    return ccp_audit_batch_begin(&wr->audit, db, err);
}

static void writer_end(writer *wr)
{
    sqlite3_finalize(wr->usage);
    sqlite3_finalize(wr->touch);
    ccp_audit_batch_end(&wr->audit);
}

/* One finished request into usage, last_used and the audit chain, inside
 * the batch's transaction. */
static int write_row(writer *wr, const pending *p, ccp_error *err)
{
    if (p->event) {
        int rc = ccp_audit_batch_add(&wr->audit, p->time_ms, p->event, p->detail, err);
        if (!rc && wr->push)
            rc = ccp_redis_outbox_add(wr->push, p->time_ms, p->event, p->detail, NULL, err);
        return rc;
    }
    sqlite3 *db = wr->db;
    time_t secs = (time_t)(p->time_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    if (p->provider) {
        sqlite3_stmt *st = wr->usage;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, p->key_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->tenant ? p->tenant : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->provider, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, p->model ? p->model : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, p->in > 0 ? p->in : 0);
        sqlite3_bind_int64(st, 7, p->out > 0 ? p->out : 0);
        sqlite3_bind_int64(st, 8, p->cache_read > 0 ? p->cache_read : 0);
        sqlite3_bind_int64(st, 9, p->cache_write > 0 ? p->cache_write : 0);
        sqlite3_bind_double(st, 10, p->spend);
        sqlite3_bind_int(st, 11, p->priced ? 0 : 1);
        int s = sqlite3_step(st);
        sqlite3_clear_bindings(st);
        if (s != SQLITE_DONE) return ccp_error_set(err, CCP_EIO, "usage: %s", sqlite3_errmsg(db));
    }
    if (p->reason) {
        /* A refusal: who tried what and why (metadata only), no usage and
         * no last_used (the key was not used). */
        ccp_buf b = CCP_BUF_INIT;
        ccp_buf_appends(&b, "{\"request_id\":");
        json_str_or_null(&b, p->request_id);
        ccp_buf_appends(&b, ",\"key_id\":");
        json_str_or_null(&b, p->key_id[0] ? p->key_id : NULL);
        ccp_buf_appends(&b, ",\"tenant\":");
        json_str_or_null(&b, p->tenant);
        ccp_buf_appends(&b, ",\"endpoint\":");
        json_str_or_null(&b, p->stage);
        ccp_buf_appends(&b, ",\"model\":");
        json_str_or_null(&b, p->model);
        ccp_buf_printf(&b, ",\"status\":%d,\"reason\":", p->status);
        json_str_or_null(&b, p->reason);
        ccp_buf_appendc(&b, '}');
        int rc = ccp_audit_batch_add(&wr->audit, p->time_ms, "request.refused", b.data, err);
        if (!rc && wr->push)
            rc = ccp_redis_outbox_add(wr->push, p->time_ms, "request.refused", b.data, NULL, err);
        ccp_buf_free(&b);
        return rc;
    }
    sqlite3_reset(wr->touch);
    sqlite3_bind_text(wr->touch, 1, p->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(wr->touch, 2, p->time_ms / 1000);
    sqlite3_step(wr->touch);
    sqlite3_clear_bindings(wr->touch);
    /* Metadata only: never a prompt or an answer. */
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_appends(&b, "{\"request_id\":");
    json_str_or_null(&b, p->request_id);
    ccp_buf_printf(&b, ",\"key_id\":\"%s\",\"tenant\":", p->key_id);
    json_str_or_null(&b, p->tenant);
    ccp_buf_appends(&b, ",\"stage\":");
    json_str_or_null(&b, p->stage);
    ccp_buf_appends(&b, ",\"provider\":");
    json_str_or_null(&b, p->provider);
    ccp_buf_appends(&b, ",\"model\":");
    json_str_or_null(&b, p->model);
    ccp_buf_printf(&b,
                   ",\"status\":%d,\"input_tokens\":%lld,\"output_tokens\":%lld,"
                   "\"cache_read_tokens\":%lld,\"cache_write_tokens\":%lld,\"spend_usd\":",
                   p->status, (long long)p->in, (long long)p->out, (long long)p->cache_read,
                   (long long)p->cache_write);
    if (p->priced)
        ccp_buf_printf(&b, "%.9g}", p->spend);
    else
        ccp_buf_appends(&b, "null}");
    int rc = ccp_audit_batch_add(&wr->audit, p->time_ms, "request", b.data, err);
    if (!rc && wr->push) {
        /* The same row and usage for Redis (redis_push.h), in this
         * transaction: in the file and in the outbox, or in neither. */
        ccp_outbox_usage ou = {day,    p->key_id,     p->tenant,      p->provider, p->model,  p->in,
                               p->out, p->cache_read, p->cache_write, p->spend,    !p->priced};
        rc = ccp_redis_outbox_add(wr->push, p->time_ms, "request", b.data, p->provider ? &ou : NULL,
                                  err);
    }
    ccp_buf_free(&b);
    return rc;
}

/* Writes a batch in one transaction; on failure the rows are logged as
 * lost (the file is unwritable: nothing better can be done with them
 * without holding memory without bound). */
static void write_batch(ccp_guard *g, pending *batch, uint64_t n)
{
    ccp_error err = {0};
    writer wr = {0};
    int rc = ccp_keystore_exec(g->db, "BEGIN IMMEDIATE", &err);
    if (!rc) rc = writer_begin(&wr, g->db, &err);
    wr.push = g->push;
    for (pending *p = batch; !rc && p; p = p->next)
        rc = write_row(&wr, p, &err);
    writer_end(&wr);
    if (!rc) rc = ccp_keystore_exec(g->db, "COMMIT", &err);
    if (rc) {
        sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
        ccp_log_error("state file: %llu usage and audit rows not written: %s",
                      (unsigned long long)n, err.msg);
    }
    while (batch) {
        pending *next = batch->next;
        pending_free(batch);
        batch = next;
    }
}

static void deadline_in(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *state_thread(void *arg)
{
    ccp_guard *g = arg;
    int64_t next_poll = mono_ms() + g->poll_ms;
    pthread_mutex_lock(&g->qmu);
    for (;;) {
        struct timespec ts;
        deadline_in(&ts, g->flush_ms < g->poll_ms ? g->flush_ms : g->poll_ms);
        while (!g->stop && !g->head && g->reload_asked == g->reloaded) {
            if (pthread_cond_timedwait(&g->qcond, &g->qmu, &ts) == ETIMEDOUT) break;
        }
        /* An admin endpoint changed the keys (ccp_guard_reload_keys): poll
         * now, not at the next poll_ms. */
        uint64_t asked = g->reload_asked;
        bool reload = asked != g->reloaded;
        /* Let a burst gather into one transaction, unless stopping. */
        pending *batch = g->head;
        uint64_t n = g->queued - g->written;
        g->head = NULL;
        g->tail = &g->head;
        bool stop = g->stop;
        pthread_mutex_unlock(&g->qmu);
        if (batch) write_batch(g, batch, n);
        if (g->push) ccp_redis_push_run(g->push); /* what waits, after an outage too */
        if (reload || mono_ms() >= next_poll) {
            next_poll = mono_ms() + g->poll_ms;
            if (reload) g->redis_retry_at = 0; /* an admin waits: try Redis now */
            if (g->redis_url) follow_redis_keys(g);
            int64_t v = data_version(g->db);
            /* Once Redis is the keys' source, the file is its copy. */
            if (v != g->data_version && !g->redis_keys) {
                ccp_error err = {0};
                g->data_version = v;
                if (load_keys(g, &err) == 0)
                    ccp_log_info("proxy keys reloaded from the state file");
                else
                    ccp_log_error("proxy keys not reloaded: %s", err.msg);
            }
        }
        pthread_mutex_lock(&g->qmu);
        g->written += n;
        g->reloaded = asked;
        pthread_cond_broadcast(&g->qdone);
        if (stop && !g->head) break;
    }
    pthread_mutex_unlock(&g->qmu);
    return NULL;
}

static int64_t unix_ms(void);
static void enqueue(ccp_guard *g, pending *p);

/* The audit detail of a config event: which file, its hash. Caller frees. */
static char *config_detail(const ccp_config *cfg, const char *action)
{
    ccp_buf b = CCP_BUF_INIT;
    ccp_buf_printf(&b, "{\"action\":\"%s\",\"source\":", action);
    ccp_buf_append_json_str(&b, cfg->source ? cfg->source : "",
                            cfg->source ? strlen(cfg->source) : 0);
    ccp_buf_appends(&b, ",\"hash\":");
    ccp_buf_append_json_str(&b, cfg->source_hash, strlen(cfg->source_hash));
    ccp_buf_appendc(&b, '}');
    return ccp_buf_detach(&b, NULL);
}

void ccp_guard_set_timing(ccp_guard *g, const ccp_config *cfg)
{
    atomic_store(&g->poll_ms, cfg->state.poll_ms ? cfg->state.poll_ms : 1000);
    atomic_store(&g->flush_ms, cfg->state.flush_ms ? cfg->state.flush_ms : 200);
}

void ccp_guard_audit_config(ccp_guard *g, const ccp_config *cfg, const char *action)
{
    pending *p = ccp_xcalloc(1, sizeof *p); /* freed by the state thread */
    p->time_ms = unix_ms();
    p->event = ccp_xstrdup(strcmp(action, "reload") ? "config.load" : "config.reload");
    p->detail = config_detail(cfg, action);
    enqueue(g, p);
    pthread_cond_signal(&g->qcond);
}

int ccp_guard_new(const ccp_config *cfg, ccp_guard **out, ccp_error *err)
{
    *out = NULL;
    char *path = ccp_keystore_path(cfg->state.path);
    if (!path)
        return ccp_error_set(err, CCP_ECONFIG,
                             "no state file: set state.path (neither HOME nor XDG_STATE_HOME is "
                             "set)");
    ccp_guard *g = ccp_xcalloc(1, sizeof *g);
    int rc = ccp_keystore_open(path, &g->db, err);
    free(path);
    if (rc) {
        free(g);
        return rc;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->qmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->qcond, &ca);
    pthread_cond_init(&g->qdone, &ca);
    pthread_condattr_destroy(&ca);
    g->tail = &g->head;
    g->shared = cfg->state.redis != NULL;
    ccp_guard_set_timing(g, cfg);
    g->data_version = data_version(g->db);
    if ((rc = load_keys(g, err)) != 0) {
        ccp_guard_free(g);
        return rc;
    }
    if (cfg->state.redis && (rc = ccp_redis_push_new(g->db, cfg->state.redis, &g->push, err))) {
        ccp_guard_free(g);
        return rc;
    }
    if (cfg->state.redis) {
        g->redis_url = ccp_xstrdup(cfg->state.redis);
        follow_redis_keys(g); /* down: the file's keys serve until it is back */
    }
    /* The config a proxy runs with is an admin fact: audited (in Redis
     * too: the outbox made above takes it, ccp_redis_outbox_mirror). */
    char *detail = config_detail(cfg, "load");
    rc = ccp_audit_append(g->db, ccp_audit_now_ms(), "config.load", detail, err);
    free(detail);
    if (rc) {
        ccp_guard_free(g);
        return rc;
    }
    if (pthread_create(&g->thread, NULL, state_thread, g) != 0) {
        rc = ccp_error_set(err, CCP_EIO, "cannot start the state thread");
        ccp_guard_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void ccp_guard_flush(ccp_guard *g)
{
    pthread_mutex_lock(&g->qmu);
    uint64_t target = g->queued;
    pthread_cond_signal(&g->qcond);
    while (g->written < target)
        pthread_cond_wait(&g->qdone, &g->qmu);
    pthread_mutex_unlock(&g->qmu);
}

void ccp_guard_reload_keys(ccp_guard *g)
{
    pthread_mutex_lock(&g->qmu);
    uint64_t target = ++g->reload_asked;
    pthread_cond_signal(&g->qcond);
    while (g->reloaded < target && !g->stop)
        pthread_cond_wait(&g->qdone, &g->qmu);
    pthread_mutex_unlock(&g->qmu);
}

void ccp_guard_free(ccp_guard *g)
{
    if (!g) return;
    if (g->thread) {
        pthread_mutex_lock(&g->qmu);
        g->stop = true;
        pthread_cond_signal(&g->qcond);
        pthread_mutex_unlock(&g->qmu);
        pthread_join(g->thread, NULL);
    }
    while (g->head) {
        pending *next = g->head->next;
        pending_free(g->head);
        g->head = next;
    }
    while (g->keys) {
        ccp_gkey *next = g->keys->next;
        ccp_keyrec_free(&g->keys->rec);
        free(g->keys);
        g->keys = next;
    }
    while (g->tenants) {
        ccp_gtenant *next = g->tenants->next;
        free(g->tenants->name);
        free(g->tenants);
        g->tenants = next;
    }
    for (size_t i = 0; i < g->n_tenant_spend; i++)
        free(g->tenant_spend[i].name);
    free(g->tenant_spend);
    free(g->table);
    ccp_redis_push_free(g->push);
    ccp_rkeys_close(g->rk);
    if (g->redis_url) explicit_bzero(g->redis_url, strlen(g->redis_url)); /* a password */
    free(g->redis_url);
    sqlite3_close(g->db);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->qmu);
    pthread_cond_destroy(&g->qcond);
    pthread_cond_destroy(&g->qdone);
    free(g);
}

static void refuse(ccp_guard_verdict *v, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(ccp_guard_verdict *v, int status, const char *type, const char *fmt, ...)
{
    v->status = status;
    v->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
}

/* The limits of a key or a tenant, and its live counters. */
typedef struct caps {
    int64_t rpm, tpm, concurrency;
    double budget_usd;
    int budget_period;
} caps;

static caps key_caps(const ccp_gkey *k)
{
    return (caps){k->rec.rpm, k->rec.tpm, k->rec.concurrency, k->rec.budget_usd,
                  k->rec.budget_period};
}

static caps tenant_caps(const ccp_tenant *t)
{
    if (!t) return (caps){0};
    return (caps){t->rpm, t->tpm, t->concurrency, t->budget_usd, t->budget_period};
}

/* The header figures of s under c (buckets refilled), unless v already has
 * figures of a tighter holder. Under mu. */
static void limit_figures(const lstate *s, const caps *c, ccp_guard_verdict *v)
{
    if (c->rpm > 0 && (!v->req_limit || ccp_bucket_remaining(&s->rpm) < v->req_remaining)) {
        v->req_limit = c->rpm;
        v->req_remaining = ccp_bucket_remaining(&s->rpm);
        v->req_reset_ms = ccp_bucket_full_ms(&s->rpm, c->rpm);
    }
    if (c->tpm > 0 && (!v->tok_limit || ccp_bucket_remaining(&s->tpm) < v->tok_remaining)) {
        v->tok_limit = c->tpm;
        v->tok_remaining = ccp_bucket_remaining(&s->tpm);
        v->tok_reset_ms = ccp_bucket_full_ms(&s->tpm, c->tpm);
    }
}

/* Whether s (a key's or a tenant's, named who) is over a limit of c for a
 * request of est tokens; if so fills v (429). Under mu. */
static bool over_limit(lstate *s, const caps *c, const char *who, int64_t est, int64_t now_ms,
                       ccp_guard_verdict *v)
{
    if (c->rpm > 0) ccp_bucket_refill(&s->rpm, c->rpm, now_ms);
    if (c->tpm > 0) ccp_bucket_refill(&s->tpm, c->tpm, now_ms);
    if (c->concurrency > 0 && s->in_flight >= c->concurrency) {
        refuse(v, 429, "rate_limit_error",
               "%s has %lld requests in flight, its concurrency limit: wait for one to finish", who,
               (long long)c->concurrency);
        v->retry_after_ms = 1000;
        return true;
    }
    if (c->rpm > 0 && !ccp_bucket_allows(&s->rpm, c->rpm, 1)) {
        refuse(v, 429, "rate_limit_error", "%s is over its rate limit of %lld requests per minute",
               who, (long long)c->rpm);
        v->retry_after_ms = ccp_bucket_wait_ms(&s->rpm, c->rpm, 1);
        return true;
    }
    if (c->tpm > 0 && !ccp_bucket_allows(&s->tpm, c->tpm, est)) {
        refuse(v, 429, "rate_limit_error", "%s is over its rate limit of %lld tokens per minute",
               who, (long long)c->tpm);
        v->retry_after_ms = ccp_bucket_wait_ms(&s->tpm, c->tpm, est);
        return true;
    }
    if (c->budget_period && c->budget_usd > 0) {
        char period[12];
        int64_t left_s;
        period_of(c->budget_period, time(NULL), period, &left_s);
        if (strcmp(period, s->period) != 0) {
            memcpy(s->period, period, sizeof period); /* a new day or month */
            s->spent = 0;
        }
        if (s->spent >= c->budget_usd) {
            refuse(v, 429, "rate_limit_error",
                   "%s has spent its budget of %.2f USD for this %s; it renews at the start of "
                   "the next %s (UTC)",
                   who, c->budget_usd, ccp_period_name(c->budget_period),
                   ccp_period_name(c->budget_period));
            v->retry_after_ms = left_s * 1000;
            return true;
        }
    }
    return false;
}

static void take(lstate *s, const caps *c, int64_t est)
{
    if (c->rpm > 0) ccp_bucket_take(&s->rpm, 1);
    if (c->tpm > 0) ccp_bucket_take(&s->tpm, (double)est);
    s->in_flight++;
}

/* The request held by s ended: its slot back, its tokens reconciled (when
 * the provider reported any), its spend counted. Under mu. */
static void settle(lstate *s, const caps *c, int64_t est, const ccp_guard_usage *u, int64_t now_ms)
{
    s->in_flight--;
    if (c->tpm > 0 && (u->input_tokens >= 0 || u->output_tokens >= 0)) {
        ccp_bucket_refill(&s->tpm, c->tpm, now_ms);
        double diff = (double)est - (double)ccp_guard_counted_tokens(u);
        if (diff > 0)
            ccp_bucket_give(&s->tpm, c->tpm, diff);
        else
            ccp_bucket_take(&s->tpm, -diff);
    }
    if (u->spend_usd > 0 && c->budget_period) {
        char period[12];
        period_of(c->budget_period, time(NULL), period, NULL);
        if (strcmp(period, s->period) != 0) {
            memcpy(s->period, period, sizeof period);
            s->spent = 0;
        }
        s->spent += u->spend_usd;
    }
}

/* The live state of tenant name, made at its first request. Under mu. */
static ccp_gtenant *tenant_state(ccp_guard *g, const char *name, const ccp_tenant *tc)
{
    ccp_gtenant *t = g->tenants;
    while (t && strcmp(t->name, name) != 0)
        t = t->next;
    if (t) return t;
    t = ccp_xcalloc(1, sizeof *t);
    t->name = ccp_xstrdup(name);
    t->next = g->tenants;
    g->tenants = t;
    /* Its spend so far this period, as the state thread last read it. */
    if (tc->budget_period) {
        char period[12];
        period_of(tc->budget_period, time(NULL), period, NULL);
        for (size_t i = 0; i < g->n_tenant_spend; i++)
            if (!strcmp(g->tenant_spend[i].name, name)) {
                memcpy(t->st.period, period, sizeof period);
                t->st.spent = tc->budget_period == CCP_PERIOD_DAY ? g->tenant_spend[i].day
                                                                  : g->tenant_spend[i].month;
            }
    }
    return t;
}

/* With state.redis, a tenant's limits are counted in Redis (with the
 * key's, in one script): they move from c, which then counts only its
 * spend locally (the seed of Redis's count), to sh. Under mu. */
static void share_tenant(const ccp_gtenant *ts, caps *c, ccp_guard_shared *sh)
{
    sh->rpm = c->rpm;
    sh->concurrency = c->concurrency;
    sh->tpm = c->tpm;
    if (c->budget_period && c->budget_usd > 0) {
        int64_t left_s;
        period_of(c->budget_period, time(NULL), sh->period, &left_s);
        sh->budget = c->budget_usd;
        sh->budget_period = c->budget_period;
        sh->left_ms = left_s * 1000;
        sh->seed = strcmp(sh->period, ts->st.period) == 0 ? ts->st.spent : 0;
    }
    c->rpm = c->concurrency = c->tpm = 0;
    c->budget_usd = 0;
}

static char *dup_or_null(const char *s)
{
    return s ? ccp_xstrdup(s) : NULL;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void enqueue(ccp_guard *g, pending *p)
{
    pthread_mutex_lock(&g->qmu);
    *g->tail = p;
    g->tail = &p->next;
    g->queued++;
    pthread_mutex_unlock(&g->qmu);
}

/* Queues the audit row of a refused request (taken without g->mu: the
 * queue has its own lock). */
static void queue_refusal(ccp_guard *g, const char *key_id, const char *tenant,
                          const char *endpoint, const char *model, const char *request_id,
                          int status, const char *reason)
{
    pending *p = ccp_xcalloc(1, sizeof *p); /* freed by the state thread */
    p->time_ms = unix_ms();
    if (key_id) snprintf(p->key_id, sizeof p->key_id, "%s", key_id);
    p->tenant = dup_or_null(tenant);
    p->stage = dup_or_null(endpoint);
    p->model = dup_or_null(model);
    p->request_id = dup_or_null(request_id);
    p->status = status;
    p->reason = ccp_xstrdup(reason && *reason ? reason : "refused");
    enqueue(g, p);
}

/* Finds the key whose secret is secret/len, refusing (v) when there is
 * none, or it is revoked or expired. Called with g->mu held. */
static ccp_gkey *find_key(ccp_guard *g, const char *secret, size_t len, ccp_guard_verdict *v)
{
    if (!secret || !len) {
        refuse(v, 401, "authentication_error",
               "this ccproxy requires a proxy key: send it as x-api-key "
               "(ANTHROPIC_API_KEY) or Authorization: Bearer (ANTHROPIC_AUTH_TOKEN)");
        return NULL;
    }
    char hash[65];
    ccp_key_hash(secret, len, hash);
    ccp_gkey *k = g->table[slot_of(hash) & (g->table_size - 1)];
    while (k && strcmp(k->rec.hash, hash) != 0)
        k = k->hash_next;
    if (!k)
        refuse(v, 401, "authentication_error", "invalid proxy key");
    else if (k->rec.revoked)
        refuse(v, 401, "authentication_error", "this proxy key has been revoked");
    else if (k->rec.expires && (int64_t)time(NULL) >= k->rec.expires)
        refuse(v, 401, "authentication_error", "this proxy key has expired");
    return k;
}

void ccp_guard_check(ccp_guard *g, const char *secret, size_t len, const char *endpoint,
                     const char *request_id, ccp_guard_verdict *v)
{
    memset(v, 0, sizeof *v);
    char key_id[24] = "", *tenant = NULL;
    pthread_mutex_lock(&g->mu);
    ccp_gkey *k = find_key(g, secret, len, v);
    if (k && v->status) {
        snprintf(key_id, sizeof key_id, "%s", k->rec.id);
        tenant = dup_or_null(k->rec.tenant);
    }
    pthread_mutex_unlock(&g->mu);
    if (v->status)
        queue_refusal(g, key_id[0] ? key_id : NULL, tenant, endpoint, NULL, request_id, v->status,
                      v->message);
    free(tenant);
}

void ccp_guard_admit(ccp_guard *g, const ccp_config *cfg, const char *secret, size_t len,
                     const char *model, int64_t est_tokens, int64_t now_ms, const char *request_id,
                     ccp_guard_ticket *t, ccp_guard_verdict *v)
{
    memset(v, 0, sizeof *v);
    memset(t, 0, sizeof *t);
    pthread_mutex_lock(&g->mu);
    ccp_gkey *k = find_key(g, secret, len, v);
    const ccp_tenant *tc = k ? ccp_tenant_find(cfg, k->rec.tenant) : NULL;
    ccp_gtenant *ts = NULL;
    caps kc, tcap = tenant_caps(tc);
    char who[96];
    /* Who was refused, for the audit row written after the lock. */
    char key_id[24] = "", *tenant = NULL;
    if (k) {
        snprintf(key_id, sizeof key_id, "%s", k->rec.id);
        tenant = dup_or_null(k->rec.tenant);
    }
    if (v->status) goto out;
    if (!ccp_key_models_allow(k->rec.models, model)) {
        refuse(v, 403, "permission_error", "this proxy key may not use model '%.150s'", model);
        goto out;
    }
    if (tc && !ccp_tenant_models_allow(tc, model)) {
        refuse(v, 403, "permission_error", "tenant '%.60s' may not use model '%.150s'", tc->name,
               model);
        goto out;
    }
    kc = key_caps(k);
    t->shared_rpm = kc.rpm;
    t->shared_concurrency = kc.concurrency;
    t->shared_tpm = kc.tpm;
    snprintf(t->key_id, sizeof t->key_id, "%s", k->rec.id);
    if (g->shared && kc.budget_period && kc.budget_usd > 0) {
        int64_t left_s;
        period_of(kc.budget_period, time(NULL), t->shared_period, &left_s);
        t->shared_budget = kc.budget_usd;
        t->shared_budget_period = kc.budget_period;
        t->shared_left_ms = left_s * 1000;
        t->shared_seed = strcmp(t->shared_period, k->st.period) == 0 ? k->st.spent : 0;
        kc.budget_usd = 0;
    }
    if (g->shared) kc.rpm = kc.concurrency = kc.tpm = 0; /* counted in Redis (redis_store.h) */
    if (over_limit(&k->st, &kc, "this proxy key", est_tokens, now_ms, v)) {
        limit_figures(&k->st, &kc, v);
        goto out;
    }
    if (tc) {
        ts = tenant_state(g, tc->name, tc);
        if (g->shared) share_tenant(ts, &tcap, &t->tenant_shared);
        snprintf(who, sizeof who, "tenant '%.60s'", tc->name);
        if (over_limit(&ts->st, &tcap, who, est_tokens, now_ms, v)) {
            limit_figures(&ts->st, &tcap, v);
            goto out;
        }
    }
    take(&k->st, &kc, est_tokens);
    limit_figures(&k->st, &kc, v);
    if (ts) {
        take(&ts->st, &tcap, est_tokens);
        limit_figures(&ts->st, &tcap, v);
    }
    t->key = k;
    t->tenant = ts;
    t->tenant_name = ts ? ts->name : NULL;
    t->tenant_caps[0] = tcap.rpm;
    t->tenant_caps[1] = tcap.tpm;
    t->tenant_caps[2] = tcap.concurrency;
    t->tenant_budget = tcap.budget_usd;
    t->tenant_period = tcap.budget_period;
    t->est_tokens = est_tokens;
out:
    pthread_mutex_unlock(&g->mu);
    if (v->status)
        queue_refusal(g, key_id[0] ? key_id : NULL, tenant, "/v1/messages", model, request_id,
                      v->status, v->message);
    free(tenant);
}

bool ccp_guard_needs_estimate(ccp_guard *g)
{
    return atomic_load(&g->any_tpm);
}

int64_t ccp_guard_counted_tokens(const ccp_guard_usage *u)
{
    int64_t n = 0;
    if (u->input_tokens > 0) n += u->input_tokens;
    if (u->cache_write_tokens > 0) n += u->cache_write_tokens;
    if (u->output_tokens > 0) n += u->output_tokens;
    return n;
}

void ccp_guard_end(ccp_guard *g, ccp_guard_ticket *t, const ccp_guard_usage *u, int64_t now_ms)
{
    ccp_gkey *k = t->key;
    if (!k) return;
    t->key = NULL;
    pending *p = ccp_xcalloc(1, sizeof *p);
    pthread_mutex_lock(&g->mu);
    caps kc = key_caps(k);
    if (g->shared) kc.rpm = kc.concurrency = kc.tpm = 0;
    settle(&k->st, &kc, t->est_tokens, u, now_ms);
    if (t->tenant) {
        caps tc = {t->tenant_caps[0], t->tenant_caps[1], t->tenant_caps[2], t->tenant_budget,
                   t->tenant_period};
        settle(&t->tenant->st, &tc, t->est_tokens, u, now_ms);
    }
    snprintf(p->key_id, sizeof p->key_id, "%s", k->rec.id);
    p->tenant = dup_or_null(k->rec.tenant);
    pthread_mutex_unlock(&g->mu);
    if (u->refused) {
        /* Refused after admission (shared limit, tenant route): audited
         * as a refusal, no usage. */
        p->time_ms = unix_ms();
        p->stage = ccp_xstrdup("/v1/messages");
        p->model = dup_or_null(u->model);
        p->request_id = dup_or_null(u->request_id);
        p->status = u->status;
        p->reason = ccp_xstrdup(u->reason && *u->reason ? u->reason : "refused");
        enqueue(g, p);
        return;
    }
    p->time_ms = unix_ms();
    p->provider = dup_or_null(u->provider);
    p->model = dup_or_null(u->model);
    p->stage = dup_or_null(u->stage);
    p->request_id = dup_or_null(u->request_id);
    p->status = u->status;
    p->in = u->input_tokens;
    p->out = u->output_tokens;
    p->cache_read = u->cache_read_tokens;
    p->cache_write = u->cache_write_tokens;
    p->spend = u->spend_usd;
    p->priced = u->priced;
    enqueue(g, p);
}
