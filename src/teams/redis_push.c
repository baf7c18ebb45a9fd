/* redis_push.c — the outbox of usage and audit rows for Redis and the
 * script that applies them exactly once (see redis_push.h). */
#include "teams/redis_push.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "teams/redis_audit.h"
#include "teams/redis_sync.h"
#include "teams/redis_usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* AUTOINCREMENT: an id is never used twice, even after the table was
 * emptied, so "the oldest rows" is always a prefix of what was sent. */
static const char OUTBOX_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS redis_outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    " kind TEXT NOT NULL, data TEXT NOT NULL, day TEXT, key_id TEXT, tenant TEXT,"
    " provider TEXT, model TEXT, input_tokens INTEGER, output_tokens INTEGER,"
    " cache_read_tokens INTEGER, cache_write_tokens INTEGER, spend_usd REAL,"
    " unpriced INTEGER)";

/* KEYS[1]: the batch's marker; KEYS[2]: the audit head; KEYS[3]: the
 * audit stream. ARGV[1]: rows in the batch; ARGV[2], ARGV[3]: the head
 * (seq, hash) the hashes were computed from; ARGV[4]: usage rows;
 * ARGV[5]: audit rows; ARGV[6]: the marker's ttl (ms); ARGV[7]: the usage
 * counters' ttl (ms); then 9 values per usage row (day, row name,
 * requests, input, output, cache read, cache write, spend, unpriced: a
 * batch's requests of one row summed) and 6
 * per audit row (seq, time_ms, kind, data, prev, hash). Replies {1, seq,
 * hash}: applied, the new head; {0, seq, hash}: the head moved, nothing
 * done; {2, n}: the batch was applied before, n rows of it. Everything is
 * checked before the first write, the type of every key written and the
 * fields HINCRBY and HINCRBYFLOAT add to included: a script that fails
 * half way would leave its writes (Redis does not roll scripts back), and
 * the retry a second later would add the batch's first rows again, and
 * again. A key that would fail is an error reply naming it. */
static const char ccp_redis_push_script[] =
    "local done = redis.call('GET', KEYS[1])\n"
    "if done then return {2, tonumber(done), ''} end\n"
    "local nu, na = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "if na > 0 then\n"
    "  local h = redis.call('HMGET', KEYS[2], 'seq', 'hash')\n"
    "  local seq = h[1] or '0'\n"
    "  local hash = h[2] or string.rep('0', 64)\n"
    "  if seq ~= ARGV[2] or hash ~= ARGV[3] then return {0, tonumber(seq), hash} end\n"
    "end\n"
    "local function is_a(k, types)\n"
    "  local t = redis.call('TYPE', k).ok\n"
    "  return t == 'none' or t == types\n"
    "end\n"
    "local function count_ok(v)\n"
    "  return not v or (string.match(v, '^%-?%d+$') ~= nil and #v < 19)\n"
    "end\n"
    "local function amount_ok(v)\n"
    "  local x = v and tonumber(v)\n"
    "  return not v or (x ~= nil and x == x and x < 1e300 and x > -1e300)\n"
    "end\n"
    "if na > 0 and not is_a(KEYS[3], 'stream') then\n"
    "  return redis.error_reply(KEYS[3] .. ' is not a stream: the rows wait until it is '\n"
    "                           .. 'mended or deleted')\n"
    "end\n"
    "local i = 8\n"
    "for r = 1, nu do\n"
    "  local set = 'ccp:usage:' .. ARGV[i]\n"
    "  local k = set .. ':' .. ARGV[i + 1]\n"
    "  local why = nil\n"
    "  if not is_a(set, 'set') then why = set .. ' is not a set'\n"
    "  elseif not is_a(k, 'hash') then why = k .. ' is not a hash'\n"
    "  else\n"
    "    local h = redis.call('HMGET', k, 'requests', 'input_tokens', 'output_tokens',\n"
    "                         'cache_read_tokens', 'cache_write_tokens', 'spend_usd', 'unpriced')\n"
    "    for f = 1, 7 do\n"
    "      if not (f == 6 and amount_ok(h[f]) or f ~= 6 and count_ok(h[f])) then\n"
    "        why = k .. ' has a field that is not a count'\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if why then\n"
    "    return redis.error_reply(why .. ': the rows wait until it is mended or deleted')\n"
    "  end\n"
    "  i = i + 9\n"
    "end\n"
    "local ttl = tonumber(ARGV[7])\n"
    "i = 8\n"
    "for r = 1, nu do\n"
    "  local set = 'ccp:usage:' .. ARGV[i]\n"
    "  local k = set .. ':' .. ARGV[i + 1]\n"
    "  redis.call('SADD', set, ARGV[i + 1])\n"
    "  redis.call('HINCRBY', k, 'requests', ARGV[i + 2])\n"
    "  redis.call('HINCRBY', k, 'input_tokens', ARGV[i + 3])\n"
    "  redis.call('HINCRBY', k, 'output_tokens', ARGV[i + 4])\n"
    "  redis.call('HINCRBY', k, 'cache_read_tokens', ARGV[i + 5])\n"
    "  redis.call('HINCRBY', k, 'cache_write_tokens', ARGV[i + 6])\n"
    "  redis.call('HINCRBYFLOAT', k, 'spend_usd', ARGV[i + 7])\n"
    "  redis.call('HINCRBY', k, 'unpriced', ARGV[i + 8])\n"
    "  redis.call('PEXPIRE', k, ttl)\n"
    "  redis.call('PEXPIRE', set, ttl)\n"
    "  i = i + 9\n"
    "end\n"
    "local seq, hash = ARGV[2], ARGV[3]\n"
    "for r = 1, na do\n"
    "  redis.call('XADD', KEYS[3], '*', 'seq', ARGV[i], 'time_ms', ARGV[i + 1], 'kind',\n"
    "             ARGV[i + 2], 'data', ARGV[i + 3], 'prev', ARGV[i + 4], 'hash', ARGV[i + 5])\n"
    "  seq, hash = ARGV[i], ARGV[i + 5]\n"
    "  i = i + 6\n"
    "end\n"
    "if na > 0 then redis.call('HSET', KEYS[2], 'seq', seq, 'hash', hash) end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[6])\n"
    "return {1, tonumber(seq), hash}\n";

#define MARKER_TTL_MS "604800000" /* 7 days */
#define CAS_TRIES 32              /* other instances appending between our tries */

static const char ZERO_HASH[] = "0000000000000000000000000000000000000000000000000000000000000000";

struct ccp_redis_push {
    sqlite3 *db;
    sqlite3_stmt *add;
    ccp_redis_sync *redis;
    char sha[41];
    /* The head as we last saw it: the guess the next hashes start from. */
    int64_t head_seq;
    char head_hash[65];
    int64_t waiting; /* rows in the outbox, as far as this process knows */
    uint64_t dropped;
    bool full_logged;
    bool lose_reply; /* tests: the next reply is lost after Redis ran the script */
    /* Redis refused a batch (an error reply: a key of ours mangled by
     * hand): said once until a batch goes through, tried again a second
     * later on the same connection, which is fine. */
    bool refused_logged;
    int64_t retry_at; /* monotonic ms: no push before */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t count_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM redis_outbox", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int ccp_redis_push_new(sqlite3 *db, const char *url, ccp_redis_push **out, ccp_error *err)
{
    *out = NULL;
    if (sqlite3_exec(db, OUTBOX_SCHEMA, NULL, NULL, NULL) != SQLITE_OK)
        return ccp_error_set(err, CCP_EIO, "state file: redis_outbox: %s", sqlite3_errmsg(db));
    ccp_redis_push *p = ccp_xcalloc(1, sizeof *p);
    p->db = db;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO redis_outbox(uid, time_ms, kind, data, day, key_id, "
                           "tenant, provider, model, input_tokens, output_tokens, "
                           "cache_read_tokens, cache_write_tokens, spend_usd, unpriced) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &p->add, NULL) != SQLITE_OK) {
        int rc = ccp_error_set(err, CCP_EIO, "state file: redis_outbox: %s", sqlite3_errmsg(db));
        free(p);
        return rc;
    }
    /* 2 s per command: the state thread waits at most that for a Redis
     * that stopped answering (the request path never waits on it). */
    p->redis = ccp_redis_sync_new(url, 2000);
    ccp_redis_script_sha(ccp_redis_push_script, p->sha);
    memcpy(p->head_hash, ZERO_HASH, sizeof p->head_hash);
    p->waiting = count_rows(db);
    *out = p;
    return 0;
}

void ccp_redis_push_free(ccp_redis_push *p)
{
    if (!p) return;
    sqlite3_finalize(p->add);
    ccp_redis_sync_free(p->redis);
    free(p);
}

void ccp_redis_push_lose_next_reply(ccp_redis_push *p)
{
    p->lose_reply = true;
}

uint64_t ccp_redis_push_dropped(const ccp_redis_push *p)
{
    return p->dropped;
}

/* A row's random id, 32 hex digits: names its batch's marker when it is
 * the batch's first. -1 when the system has no random bytes. */
static int new_uid(char uid[33])
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) return -1;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        uid[2 * i] = hex[rnd[i] >> 4];
        uid[2 * i + 1] = hex[rnd[i] & 15];
    }
    uid[32] = '\0';
    return 0;
}

int ccp_redis_outbox_mirror(sqlite3 *db, int64_t time_ms, const char *kind, const char *data,
                            ccp_error *err)
{
    sqlite3_stmt *st = NULL;
    bool have = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                           "'redis_outbox'",
                           -1, &st, NULL) == SQLITE_OK)
        have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!have) return 0;
    char uid[33];
    if (new_uid(uid))
        return ccp_error_set(err, CCP_EIO, "redis_outbox: no random bytes for a row id");
    st = NULL;
    int s = sqlite3_prepare_v2(
        db, "INSERT INTO redis_outbox(uid, time_ms, kind, data) VALUES (?,?,?,?)", -1, &st, NULL);
    if (s == SQLITE_OK) {
        sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, time_ms);
        sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, data, -1, SQLITE_STATIC);
        s = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    if (s != SQLITE_OK) return ccp_error_set(err, CCP_EIO, "redis_outbox: %s", sqlite3_errmsg(db));
    return 0;
}

int ccp_redis_outbox_add(ccp_redis_push *p, int64_t time_ms, const char *kind, const char *data,
                         const ccp_outbox_usage *u, ccp_error *err)
{
    if (p->waiting >= CCP_REDIS_OUTBOX_MAX) {
        p->dropped++;
        if (!p->full_logged)
            ccp_log_error("state.redis: %d usage and audit rows wait for Redis already; further "
                          "rows are kept in the state file only until it drains",
                          CCP_REDIS_OUTBOX_MAX);
        p->full_logged = true;
        return 0;
    }
    char uid[33];
    if (new_uid(uid))
        return ccp_error_set(err, CCP_EIO, "redis_outbox: no random bytes for a row id");
    sqlite3_stmt *st = p->add;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, time_ms);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, data, -1, SQLITE_STATIC);
    if (u) {
        sqlite3_bind_text(st, 5, u->day, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, u->key_id ? u->key_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, u->tenant ? u->tenant : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, u->provider ? u->provider : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, u->model ? u->model : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, u->input_tokens > 0 ? u->input_tokens : 0);
        sqlite3_bind_int64(st, 11, u->output_tokens > 0 ? u->output_tokens : 0);
        sqlite3_bind_int64(st, 12, u->cache_read_tokens > 0 ? u->cache_read_tokens : 0);
        sqlite3_bind_int64(st, 13, u->cache_write_tokens > 0 ? u->cache_write_tokens : 0);
        sqlite3_bind_double(st, 14, u->spend_usd);
        sqlite3_bind_int(st, 15, u->unpriced ? 1 : 0);
    }
    int s = sqlite3_step(st);
    sqlite3_clear_bindings(st);
    if (s != SQLITE_DONE)
        return ccp_error_set(err, CCP_EIO, "redis_outbox: %s", sqlite3_errmsg(p->db));
    p->waiting++;
    p->full_logged = false;
    return 0;
}

/* One batch read from the outbox: the columns, owned. */
typedef struct row {
    int64_t id, time_ms;
    char *uid, *kind, *data, *day, *key_id, *tenant, *provider, *model;
    int64_t in, out, cr, cw;
    double spend;
    int unpriced;
} row;

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? ccp_xstrdup((const char *)s) : NULL;
}

static size_t read_batch(sqlite3 *db, row *rows)
{
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, uid, time_ms, kind, data, day, key_id, tenant, provider, "
                           "model, input_tokens, output_tokens, cache_read_tokens, "
                           "cache_write_tokens, spend_usd, unpriced FROM redis_outbox ORDER BY id "
                           "LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int(st, 1, CCP_REDIS_PUSH_ROWS);
    while (n < CCP_REDIS_PUSH_ROWS && sqlite3_step(st) == SQLITE_ROW) {
        row *r = &rows[n++];
        r->id = sqlite3_column_int64(st, 0);
        r->uid = col_dup(st, 1);
        r->time_ms = sqlite3_column_int64(st, 2);
        r->kind = col_dup(st, 3);
        r->data = col_dup(st, 4);
        r->day = col_dup(st, 5);
        r->key_id = col_dup(st, 6);
        r->tenant = col_dup(st, 7);
        r->provider = col_dup(st, 8);
        r->model = col_dup(st, 9);
        r->in = sqlite3_column_int64(st, 10);
        r->out = sqlite3_column_int64(st, 11);
        r->cr = sqlite3_column_int64(st, 12);
        r->cw = sqlite3_column_int64(st, 13);
        r->spend = sqlite3_column_double(st, 14);
        r->unpriced = sqlite3_column_int(st, 15);
    }
    sqlite3_finalize(st);
    return n;
}

static void free_batch(row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[i];
        free(r->uid);
        free(r->kind);
        free(r->data);
        free(r->day);
        free(r->key_id);
        free(r->tenant);
        free(r->provider);
        free(r->model);
    }
}

/* The script's arguments, each a malloc'd string (args.v owns them). */
typedef struct args {
    char **v;
    size_t *len;
    size_t n, cap;
} args;

static void arg_add(args *a, const char *s)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = ccp_xrealloc(a->v, a->cap * sizeof *a->v);
        a->len = ccp_xrealloc(a->len, a->cap * sizeof *a->len);
    }
    a->v[a->n] = ccp_xstrdup(s ? s : "");
    a->len[a->n] = strlen(a->v[a->n]);
    a->n++;
}

static void arg_int(args *a, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    arg_add(a, s);
}

static void args_free(args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    free(a->len);
    memset(a, 0, sizeof *a);
}

/* One usage row of a batch: the batch's requests with the same day and
 * row name summed, so the script adds to each hash once (a batch is
 * mostly a few keys and models: this makes the script's usage part a few
 * commands instead of ten per request). */
typedef struct group {
    const char *day;
    char *name; /* owned */
    int64_t requests, in, out, cr, cw, unpriced;
    double spend;
} group;

static size_t group_usage(const row *rows, size_t n, group *g)
{
    size_t ng = 0;
    ccp_buf name = CCP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (!r->day) continue;
        name.len = 0;
        ccp_redis_usage_row(&name, r->key_id, r->tenant, r->provider, r->model);
        ccp_buf_appendc(&name, '\0');
        size_t j = 0;
        while (j < ng && (strcmp(g[j].day, r->day) != 0 || strcmp(g[j].name, name.data) != 0))
            j++;
        if (j == ng) {
            memset(&g[ng], 0, sizeof g[ng]);
            g[ng].day = r->day;
            g[ng].name = ccp_xstrdup(name.data);
            ng++;
        }
        g[j].requests++;
        g[j].in += r->in;
        g[j].out += r->out;
        g[j].cr += r->cr;
        g[j].cw += r->cw;
        g[j].unpriced += r->unpriced;
        g[j].spend += r->spend;
    }
    ccp_buf_free(&name);
    return ng;
}

/* The script's arguments for rows chained after the head we know. */
static void build_args(ccp_redis_push *p, const row *rows, size_t n, args *a)
{
    char marker[64];
    snprintf(marker, sizeof marker, "ccp:push:%s", rows[0].uid);
    group *g = ccp_xcalloc(n, sizeof *g);
    size_t ng = group_usage(rows, n, g);
    arg_add(a, "3");
    arg_add(a, marker);
    arg_add(a, CCP_REDIS_AUDIT_HEAD);
    arg_add(a, CCP_REDIS_AUDIT_STREAM);
    arg_int(a, (int64_t)n);
    arg_int(a, p->head_seq);
    arg_add(a, p->head_hash);
    arg_int(a, (int64_t)ng);
    arg_int(a, (int64_t)n);
    arg_add(a, MARKER_TTL_MS);
    arg_int(a, (int64_t)CCP_REDIS_USAGE_TTL_DAYS * 86400 * 1000);
    for (size_t i = 0; i < ng; i++) {
        arg_add(a, g[i].day);
        arg_add(a, g[i].name);
        arg_int(a, g[i].requests);
        arg_int(a, g[i].in);
        arg_int(a, g[i].out);
        arg_int(a, g[i].cr);
        arg_int(a, g[i].cw);
        char sp[48];
        snprintf(sp, sizeof sp, "%.12f", g[i].spend);
        arg_add(a, sp);
        arg_int(a, g[i].unpriced);
        free(g[i].name);
    }
    free(g);
    int64_t *t = ccp_xcalloc(n, sizeof *t);
    const char **kind = ccp_xcalloc(n, sizeof *kind), **data = ccp_xcalloc(n, sizeof *data);
    ccp_audit_link *links = ccp_xcalloc(n, sizeof *links);
    for (size_t i = 0; i < n; i++) {
        t[i] = rows[i].time_ms;
        kind[i] = rows[i].kind;
        data[i] = rows[i].data;
    }
    ccp_redis_audit_chain(p->head_seq, p->head_hash, n, t, kind, data, links);
    for (size_t i = 0; i < n; i++) {
        arg_int(a, links[i].seq);
        arg_int(a, t[i]);
        arg_add(a, kind[i]);
        arg_add(a, data[i]);
        arg_add(a, links[i].prev);
        arg_add(a, links[i].hash);
    }
    free(t);
    free(kind);
    free(data);
    free(links);
}

/* What the script answered. */
typedef enum { SENT_FAILED, SENT_APPLIED, SENT_MOVED, SENT_BEFORE } sent;

static sent send_batch(ccp_redis_push *p, redisContext *c, const row *rows, size_t n,
                       size_t *applied)
{
    args a = {0};
    build_args(p, rows, n, &a);
    redisReply *r = ccp_redis_sync_script(c, ccp_redis_push_script, p->sha, (int)a.n,
                                          (const char **)a.v, a.len);
    args_free(&a);
    sent s = SENT_FAILED;
    if (r && p->lose_reply) {
        p->lose_reply = false;
        freeReplyObject(r);
        r = NULL;
    }
    if (!r) {
        ccp_redis_sync_drop(p->redis,
                            c->errstr[0] ? c->errstr : "no reply to the usage and audit script");
        return SENT_FAILED;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER &&
        r->element[2]->type == REDIS_REPLY_STRING) {
        long long what = r->element[0]->integer, v = r->element[1]->integer;
        const char *h = r->element[2]->str;
        if (what == 2 && v >= 1 && (size_t)v <= n) {
            *applied = (size_t)v;
            s = SENT_BEFORE;
        } else if ((what == 0 || what == 1) && strlen(h) == 64) {
            p->head_seq = v;
            memcpy(p->head_hash, h, 65);
            *applied = n;
            s = what ? SENT_APPLIED : SENT_MOVED;
        }
    }
    if (s == SENT_FAILED) {
        /* An error reply (out of memory, a wrong type where our keys should
         * be): the connection is fine but the rows wait, and say why once. */
        if (!p->refused_logged)
            ccp_log_error("state.redis: usage and audit rows not pushed: %s",
                          r->type == REDIS_REPLY_ERROR ? r->str
                                                       : "unexpected reply to the usage and "
                                                         "audit script");
        p->refused_logged = true;
        p->retry_at = mono_ms() + 1000;
    } else if (s != SENT_MOVED && p->refused_logged) {
        ccp_log_info("state.redis: usage and audit rows pushed again");
        p->refused_logged = false;
    }
    freeReplyObject(r);
    return s;
}

int64_t ccp_redis_push_run(ccp_redis_push *p)
{
    int64_t pushed = 0;
    if (mono_ms() < p->retry_at) return 0;
    row *rows = ccp_xcalloc(CCP_REDIS_PUSH_ROWS, sizeof *rows);
    for (;;) {
        if (p->waiting <= 0 && (p->waiting = count_rows(p->db)) == 0) break;
        ccp_error err = {0};
        redisContext *c = ccp_redis_sync_get(p->redis, &err);
        if (!c) break;
        /* The write lock first: another instance sharing this file pushes
         * the same outbox, and must not send rows between our script and
         * our delete. */
        if (sqlite3_exec(p->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) break;
        size_t n = read_batch(p->db, rows), applied = 0;
        sent s = SENT_FAILED;
        for (int tries = 0; n && tries < CAS_TRIES; tries++) {
            s = send_batch(p, c, rows, n, &applied);
            if (s != SENT_MOVED) break;
            ccp_log_debug("state.redis: the audit stream's head moved to %lld (another instance "
                          "appended): %zu rows chained again",
                          (long long)p->head_seq, n);
        }
        bool ok = false;
        if (n && (s == SENT_APPLIED || s == SENT_BEFORE)) {
            char sql[96];
            snprintf(sql, sizeof sql, "DELETE FROM redis_outbox WHERE id <= %lld",
                     (long long)rows[applied - 1].id);
            ok = sqlite3_exec(p->db, sql, NULL, NULL, NULL) == SQLITE_OK;
        }
        ok = ok && sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        if (!ok) sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
        if (ok) {
            /* The rows are gone from every outbox: their marker is not
             * needed any more. */
            redisReply *r = redisCommand(c, "DEL ccp:push:%s", rows[0].uid);
            if (r) freeReplyObject(r);
            pushed += (int64_t)applied;
            p->waiting -= (int64_t)applied;
        }
        free_batch(rows, n);
        if (!ok || n == 0) {
            if (n == 0) p->waiting = 0;
            break;
        }
    }
    free(rows);
    return pushed;
}
