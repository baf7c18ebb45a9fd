/* redis_store.c — shared limits in Redis over hiredis's async API on the
 * worker's libuv loop (see redis_store.h). */
#include "teams/redis_store.h"

#include "core/alloc.h"
#include "core/log.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Admits one request against one or two holders of limits: the key, then
 * (when it has shared limits) its tenant. Per holder h (from 0), KEYS[4h+1]
 * is its rpm bucket (a hash: level, at), KEYS[4h+2] its requests in
 * flight, KEYS[4h+3] its tpm bucket, KEYS[4h+4] its spend in the budget's
 * period; ARGV[1] is the request's token estimate, ARGV[2] its lease (a
 * name no other request has) and ARGV[6h+3..6h+8] the holder's rpm,
 * concurrency, tpm, budget (0: none), the spend to start from when Redis
 * has none (the state file's) and the ms left in the period.
 *
 * Requests in flight are a sorted set of leases scored by when each
 * lapses (LEASE_MS after its admission), not a counter: a release is
 * ZREM of the request's own lease, which a Redis emptied meanwhile or a
 * release sent twice cannot turn into a count below the truth; and a hold
 * whose release never comes (its instance died, or the admission's reply
 * was lost to a timeout after Redis ran it) lapses on its own, where a
 * counter's expiry was pushed back by every later admission of the key,
 * so a busy key lost that slot for good. The last KEYS entry is the
 * lease's tombstone (CANCEL): an admission whose answer the instance gave
 * up on, and cancelled, takes nothing even when Redis runs it after the
 * cancel (a stopped Redis resumed runs both connections' commands in no
 * set order). Returns {admitted, why (0 rpm, 1 concurrency, 2 tpm, 3
 * budget), wait_ms, remaining, holder}: refused, the holder that refused; admitted, the holder with
 * the fewest requests left (remaining -1: no rpm limit). Every holder is checked before anything is
 * taken, so nothing is taken unless every limit of both allows it. Redis's TIME is the one clock of
 * every instance. */
static const char SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local function finite(v)\n"
    "  local x = tonumber(v)\n"
    "  if x and x == x and x > -1e15 and x < 1e15 then return x end\n"
    "  return nil\n"
    "end\n"
    "local est = tonumber(ARGV[1])\n"
    "local lease = ARGV[2]\n"
    "local n = math.floor(#KEYS / 4)\n"
    "if redis.call('EXISTS', KEYS[#KEYS]) == 1 then return {0, 1, 1000, 0, 0} end\n"
    "local function level_of(k, cap)\n"
    "  local h = redis.call('HMGET', k, 'level', 'at')\n"
    "  local level, at = finite(h[1]) or cap, finite(h[2]) or now\n"
    "  if now > at then level = math.min(cap, level + (now - at) * cap / 60000) end\n"
    "  return level\n"
    "end\n"
    "local lv = {}\n"
    "for h = 0, n - 1 do\n"
    "  local k, a = h * 4, h * 6 + 2\n"
    "  local rpm, conc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])\n"
    "  local tpm, budget = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])\n"
    "  if conc > 0 then\n"
    "    local c = redis.call('ZCOUNT', KEYS[k + 2], '(' .. now, '+inf')\n"
    "    if c >= conc then return {0, 1, 1000, 0, h} end\n"
    "  end\n"
    "  if budget > 0 then\n"
    "    local s = tonumber(redis.call('GET', KEYS[k + 4]))\n"
    "    if not s then\n"
    "      s = tonumber(ARGV[a + 5])\n"
    "      redis.call('SET', KEYS[k + 4], ARGV[a + 5], 'PX', tonumber(ARGV[a + 6]) + 86400000)\n"
    "    end\n"
    "    if s >= budget then return {0, 3, tonumber(ARGV[a + 6]), 0, h} end\n"
    "  end\n"
    "  if rpm > 0 then\n"
    "    local l = level_of(KEYS[k + 1], rpm)\n"
    "    if l < 1 - 1e-9 then return {0, 0, math.ceil((1 - l) * 60000 / rpm), 0, h} end\n"
    "    lv[2 * h + 1] = l\n"
    "  end\n"
    "  if tpm > 0 then\n"
    "    local l = level_of(KEYS[k + 3], tpm)\n"
    "    local need = math.min(math.max(est, 1), tpm)\n"
    "    if l < need - 1e-9 then return {0, 2, math.ceil((need - l) * 60000 / tpm), 0, h} end\n"
    "    lv[2 * h + 2] = l\n"
    "  end\n"
    "end\n"
    "local remaining, who = -1, 0\n"
    "for h = 0, n - 1 do\n"
    "  local k, a = h * 4, h * 6 + 2\n"
    "  if tonumber(ARGV[a + 3]) > 0 then\n"
    "    redis.call('HSET', KEYS[k + 3], 'level', tostring(lv[2 * h + 2] - est), 'at', "
    "tostring(now))\n"
    "    redis.call('PEXPIRE', KEYS[k + 3], 120000)\n"
    "  end\n"
    "  if tonumber(ARGV[a + 1]) > 0 then\n"
    "    local l = lv[2 * h + 1] - 1\n"
    "    redis.call('HSET', KEYS[k + 1], 'level', tostring(l), 'at', tostring(now))\n"
    "    redis.call('PEXPIRE', KEYS[k + 1], 120000)\n"
    "    local r = math.floor(l + 1e-9)\n"
    "    if remaining < 0 or r < remaining then remaining, who = r, h end\n"
    "  end\n"
    "  if tonumber(ARGV[a + 2]) > 0 then\n"
    "    redis.call('ZREMRANGEBYSCORE', KEYS[k + 2], '-inf', now)\n"
    "    redis.call('ZADD', KEYS[k + 2], now + 3600000, lease)\n"
    "    redis.call('PEXPIRE', KEYS[k + 2], 3600000)\n"
    "  end\n"
    "end\n"
    "return {1, 0, 0, remaining, who}\n";

/* KEYS[1]: a tpm bucket; ARGV: tpm, tokens to give back (< 0: to take
 * more, when a request used more than its estimate). In both scripts a
 * bucket's level or time that is no finite number (written by hand: Lua's
 * tonumber takes "nan" and "inf") counts as none: a NaN level compared
 * false with everything and so let every request through, for as long as
 * the key stayed busy. */
static const char ADJUST[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local function finite(v)\n"
    "  local x = tonumber(v)\n"
    "  if x and x == x and x > -1e15 and x < 1e15 then return x end\n"
    "  return nil\n"
    "end\n"
    "local cap = tonumber(ARGV[1])\n"
    "local h = redis.call('HMGET', KEYS[1], 'level', 'at')\n"
    "local level, at = finite(h[1]) or cap, finite(h[2]) or now\n"
    "if now > at then level = level + (now - at) * cap / 60000 end\n"
    "level = math.min(cap, level + tonumber(ARGV[2]))\n"
    "redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))\n"
    "redis.call('PEXPIRE', KEYS[1], 120000)\n"
    "return 1\n";

/* Cancels an admission whose answer was lost (the connection dropped or
 * timed out after it was sent: Redis may have run it, or may still).
 * KEYS[1]: the lease's tombstone, then the sets of requests in flight it
 * may hold; ARGV[1]: the lease. An hour: a lease's own life. */
static const char CANCEL[] = "redis.call('SET', KEYS[1], '1', 'PX', 3600000)\n"
                             "for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end\n"
                             "return 1\n";

/* Cancels waiting for a connection: at most this many (past it, a lost
 * hold lapses on its own, within the hour). */
#define CANCELS_MAX 1024

static _Atomic uint64_t failures;

/* A Redis key name: "ccp:" + kind + what a holder's id or name makes it. */
#define RKEY_MAX 300

/* One admission to cancel (CANCEL), or one release (a ZREM, release
 * true) to send again until Redis has it: owned by the list it is on or
 * by the command carrying it. */
typedef struct cancel {
    struct cancel *next;
    bool release; /* a request's end: ZREM sets[0] lease, no tombstone */
    int n;        /* sets of requests in flight: 0 to 2 (a release: 1) */
    char sets[2][RKEY_MAX];
    char lease[CCP_REDIS_LEASE_MAX];
} cancel;

typedef struct ccp_redis ccp_redis;
static void drop(ccp_redis *r);

struct ccp_redis {
    uv_loop_t *loop;
    char host[256];
    int port, db;
    char user[128], pass[256]; /* from the URL; "" none (pass wiped at free) */
    redisAsyncContext *ac;     /* NULL: not connected */
    bool connected;            /* the connect callback said so */
    bool up;                   /* last state logged: true up, false down */
    uint64_t last_try_ms;
    char sha[41]; /* SHA-1 of SCRIPT, as EVALSHA wants it */
    /* Leases: this connection's random prefix, then a count (one loop's). */
    char lease_prefix[17];
    uint64_t leases;
    cancel *cancels; /* to send on the next connection */
    size_t n_cancels;
    /* Once a second: sends what waits in cancels even when this loop gets
     * no request (the other loops' requests may be the ones the held
     * slots refuse). Its own allocation: closed, not freed, with r. */
    uv_timer_t *tick;
};

/* One holder's part of an admission: its Redis keys and its ARGV. */
typedef struct holder_args {
    char keys[4][RKEY_MAX]; /* rpm, conc, tpm, spend */
    char rpm[24], conc[24], tpm[24], budget[32], seed[32], left_ms[24];
} holder_args;

/* One admission waiting for its reply. */
typedef struct pending_admit {
    ccp_redis *r;
    ccp_redis_admit_cb cb;
    void *ud;
    int n; /* holders: 1 the key, 2 the key and its tenant */
    holder_args h[2];
    char est[24];
    char lease[CCP_REDIS_LEASE_MAX];
    char tomb[RKEY_MAX]; /* the lease's tombstone */
    bool sent;           /* on a connection: Redis may run it */
    bool tried_eval;     /* NOSCRIPT was answered once: EVAL sent */
    uv_timer_t timer;    /* the reply's deadline; p is freed when it is closed */
} pending_admit;

/* How long an admission waits for Redis. hiredis 0.14 has no command
 * timeout, and its libuv adapter ignores a poll error, so a refused
 * connect or a Redis that stopped answering would leave the request
 * waiting for ever: at the deadline the connection is dropped, which
 * answers every command waiting on it as unreachable. */
#define REPLY_TIMEOUT_MS 1000

uint64_t ccp_redis_failures(void)
{
    return atomic_load(&failures);
}

bool ccp_redis_url_userinfo(const char *url, char *plain, size_t cap, char *user, size_t ucap,
                            char *pass, size_t pcap)
{
    user[0] = pass[0] = '\0';
    if (strncmp(url, "redis://", 8) != 0) return false;
    const char *auth = url + 8;
    size_t host_len = strcspn(auth, "/");
    const char *at = memchr(auth, '@', host_len);
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        if (!colon) return false; /* "user@" alone names no password */
        size_t ul = (size_t)(colon - auth), pl = (size_t)(at - colon - 1);
        if (ul >= ucap || pl >= pcap) return false;
        memcpy(user, auth, ul);
        user[ul] = '\0';
        memcpy(pass, colon + 1, pl);
        pass[pl] = '\0';
        auth = at + 1;
    }
    return (size_t)snprintf(plain, cap, "redis://%s", auth) < cap;
}

bool ccp_redis_parse_url(const char *url, char *host, size_t cap, int *port, int *db)
{
    if (strncmp(url, "redis://", 8) != 0) return false;
    const char *h = url + 8;
    /* [[USER]:PASSWORD@]: ccp_redis_url_userinfo's part. */
    const char *at = memchr(h, '@', strcspn(h, "/"));
    if (at) {
        if (!memchr(h, ':', (size_t)(at - h))) return false;
        h = at + 1;
    }
    const char *end = h + strcspn(h, ":/");
    if (end == h || (size_t)(end - h) >= cap) return false;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
    *port = 6379;
    *db = 0;
    if (*end == ':') {
        char *e;
        long p = strtol(end + 1, &e, 10);
        if (e == end + 1 || p < 1 || p > 65535) return false;
        *port = (int)p;
        end = e;
    }
    if (*end == '/') {
        char *e;
        long d = strtol(end + 1, &e, 10);
        if (e == end + 1 || *e || d < 0 || d > 1000) return false;
        *db = (int)d;
        end = e;
    }
    return *end == '\0';
}

static void failed(ccp_redis *r, const char *why)
{
    atomic_fetch_add(&failures, 1);
    if (r->up) {
        ccp_log_error("state.redis %s:%d unreachable: %s", r->host, r->port, why);
        r->up = false;
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ccp_redis *r = ac->data;
    if (status != REDIS_OK) {
        failed(r, ac->errstr[0] ? ac->errstr : "cannot connect");
        r->ac = NULL; /* hiredis frees the context after this callback */
        r->connected = false;
        return;
    }
    r->connected = true;
    if (!r->up) ccp_log_info("state.redis %s:%d connected", r->host, r->port);
    r->up = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ccp_redis *r = ac->data;
    if (!r) return;
    if (status != REDIS_OK) failed(r, ac->errstr[0] ? ac->errstr : "connection lost");
    r->ac = NULL;
    r->connected = false;
}

static void on_cancel_reply(redisAsyncContext *ac, void *replyv, void *ud);

/* The name of lease's tombstone (CANCEL). */
static void tombstone(char out[RKEY_MAX], const char *lease)
{
    snprintf(out, RKEY_MAX, "ccp:lease:cancelled:%s", lease);
}

/* Sends c on r->ac: back on the list if it cannot go, or if its reply is
 * lost (on_cancel_reply). ZREM and CANCEL may run twice: both are
 * idempotent. */
static void send_cancel(ccp_redis *r, cancel *c)
{
    if (c->release) {
        const char *a[] = {"ZREM", c->sets[0], c->lease};
        if (redisAsyncCommandArgv(r->ac, on_cancel_reply, c, 3, a, NULL) != REDIS_OK) {
            c->next = r->cancels;
            r->cancels = c;
            r->n_cancels++;
        }
        return;
    }
    {
        char tomb[RKEY_MAX], nk[12];
        tombstone(tomb, c->lease);
        snprintf(nk, sizeof nk, "%d", 1 + c->n);
        const char *a[6];
        int argc = 0;
        a[argc++] = "EVAL";
        a[argc++] = CANCEL;
        a[argc++] = nk;
        a[argc++] = tomb;
        for (int i = 0; i < c->n; i++)
            a[argc++] = c->sets[i];
        a[argc++] = c->lease;
        if (redisAsyncCommandArgv(r->ac, on_cancel_reply, c, argc, a, NULL) != REDIS_OK) {
            c->next = r->cancels; /* kept for the next connection */
            r->cancels = c;
            r->n_cancels++;
        }
    }
}

/* Queues every waiting cancel and release on r->ac (after AUTH and
 * SELECT). */
static void send_cancels(ccp_redis *r)
{
    cancel *c = r->cancels;
    r->cancels = NULL;
    r->n_cancels = 0;
    while (c) {
        cancel *next = c->next;
        send_cancel(r, c);
        c = next;
    }
}

static void on_cancel_reply(redisAsyncContext *ac, void *replyv, void *ud)
{
    cancel *c = ud;
    redisReply *reply = replyv;
    ccp_redis *r = ac->data;
    if (reply) { /* Redis answered (an error too: sending again would not help) */
        free(c);
        return;
    }
    if (!r || r->n_cancels >= CANCELS_MAX) {
        free(c);
        return;
    }
    c->next = r->cancels;
    r->cancels = c;
    r->n_cancels++;
}

static void connect_now(ccp_redis *r)
{
    r->last_try_ms = uv_now(r->loop);
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac || ac->err) {
        failed(r, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        failed(r, "cannot attach to the loop");
        redisAsyncFree(ac);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    /* Queued until the connection is up; hiredis sends commands in order,
     * so AUTH and SELECT precede every script. A refused AUTH fails the
     * scripts after it (NOAUTH): each is then a Redis failure, logged. */
    if (r->pass[0]) {
        const char *a[] = {"AUTH", r->user[0] ? r->user : r->pass, r->pass};
        redisAsyncCommandArgv(ac, NULL, NULL, r->user[0] ? 3 : 2, a, NULL);
    }
    if (r->db) redisAsyncCommand(ac, NULL, NULL, "SELECT %d", r->db);
    send_cancels(r);
}

static void on_tick(uv_timer_t *t);

static void free_handle(uv_handle_t *h)
{
    free(h);
}

ccp_redis *ccp_redis_new(uv_loop_t *loop, const char *url)
{
    ccp_redis *r = ccp_xcalloc(1, sizeof *r);
    r->loop = loop;
    r->up = true; /* so that a first failure is logged */
    char plain[512];
    if (!ccp_redis_url_userinfo(url, plain, sizeof plain, r->user, sizeof r->user, r->pass,
                                sizeof r->pass) ||
        !ccp_redis_parse_url(plain, r->host, sizeof r->host, &r->port, &r->db)) {
        snprintf(r->host, sizeof r->host, "invalid-url");
        r->port = 0;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(SCRIPT, strlen(SCRIPT), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < 20; i++)
        snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
    /* Leases of every instance and loop share a key's set: a random
     * prefix keeps them apart (a clock and pid could repeat across hosts). */
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t t = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)r;
        memcpy(rnd, &t, sizeof rnd);
    }
    for (unsigned i = 0; i < 8; i++)
        snprintf(r->lease_prefix + 2 * i, 3, "%02x", rnd[i]);
    r->tick = ccp_xcalloc(1, sizeof *r->tick); /* freed when closed */
    uv_timer_init(loop, r->tick);
    r->tick->data = r;
    uv_timer_start(r->tick, on_tick, 1000, 1000);
    uv_unref((uv_handle_t *)r->tick); /* never what keeps the loop running */
    connect_now(r);
    return r;
}

void ccp_redis_free(ccp_redis *r)
{
    if (!r) return;
    r->tick->data = NULL;
    uv_close((uv_handle_t *)r->tick, free_handle);
    /* Pending callbacks run now with a NULL reply (unreachable). */
    drop(r);
    while (r->cancels) {
        cancel *next = r->cancels->next;
        free(r->cancels);
        r->cancels = next;
    }
    explicit_bzero(r->pass, sizeof r->pass);
    free(r);
}

/* A connection to send on, reconnecting at most once a second. */
static redisAsyncContext *conn(ccp_redis *r)
{
    if (!r->ac && r->port && uv_now(r->loop) - r->last_try_ms >= 1000) connect_now(r);
    return r->ac;
}

static void send_admit(pending_admit *p);

static void on_tick(uv_timer_t *t)
{
    ccp_redis *r = t->data;
    if (!r || !r->cancels) return;
    if (!r->ac)
        conn(r); /* a new connection sends them first (at most once a second) */
    else if (r->connected)
        send_cancels(r);
}

static void free_pending(uv_handle_t *h)
{
    free(h->data);
}

/* Drops the connection: hiredis answers what waits on it with NULL. */
static void drop(ccp_redis *r)
{
    redisAsyncContext *ac = r->ac;
    if (!ac) return;
    r->ac = NULL;
    r->connected = false;
    redisAsyncFree(ac);
}

static void on_timeout(uv_timer_t *t)
{
    pending_admit *p = t->data;
    failed(p->r, "no answer within 1 s");
    drop(p->r);
}

/* The admission p was sent but its answer is lost: Redis may have taken
 * its lease, or may take it yet. Cancelled on the next connection. */
static void queue_cancel(pending_admit *p)
{
    ccp_redis *r = p->r;
    int n = 0;
    cancel *c = ccp_xcalloc(1, sizeof *c); /* r's list's, then its command's */
    for (int h = 0; h < p->n; h++)
        if (strcmp(p->h[h].conc, "0") != 0) snprintf(c->sets[n++], RKEY_MAX, "%s", p->h[h].keys[1]);
    if (!n || r->n_cancels >= CANCELS_MAX) {
        free(c); /* no lease taken; or too many: it lapses within the hour */
        return;
    }
    c->n = n;
    snprintf(c->lease, sizeof c->lease, "%s", p->lease);
    c->next = r->cancels;
    r->cancels = c;
    r->n_cancels++;
}

static void on_admit_reply(redisAsyncContext *ac, void *replyv, void *ud)
{
    pending_admit *p = ud;
    redisReply *reply = replyv;
    ccp_redis_verdict v = {.result = -1, .remaining = -1};
    if (reply && reply->type == REDIS_REPLY_ERROR && !p->tried_eval &&
        !strncmp(reply->str, "NOSCRIPT", 8)) {
        p->tried_eval = true;
        send_admit(p);
        return;
    }
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 5) {
        long long f[5];
        for (int i = 0; i < 5; i++)
            f[i] = reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : 0;
        v.result = f[0] ? 0 : 1;
        v.concurrency = f[1] == 1;
        v.tokens = f[1] == 2;
        v.budget = f[1] == 3;
        v.wait_ms = f[2];
        v.remaining = f[3];
        v.tenant = f[4] == 1;
    } else {
        failed(p->r, reply && reply->type == REDIS_REPLY_ERROR ? reply->str
                     : ac && ac->errstr[0]                     ? ac->errstr
                                                               : "no reply");
    }
    if (v.result < 0 && p->sent) queue_cancel(p);
    if (v.result >= 0 && !p->r->up) {
        ccp_log_info("state.redis %s:%d reachable again", p->r->host, p->r->port);
        p->r->up = true;
    }
    p->cb(p->ud, &v);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, free_pending);
}

static void send_admit(pending_admit *p)
{
    redisAsyncContext *ac = conn(p->r);
    /* EVALSHA sha numkeys keys... est, lease, then six arguments per
     * holder. */
    const char *argv[3 + 9 + 2 + 12];
    int argc = 0;
    argv[argc++] = p->tried_eval ? "EVAL" : "EVALSHA";
    argv[argc++] = p->tried_eval ? SCRIPT : p->r->sha;
    argv[argc++] = p->n == 2 ? "9" : "5";
    for (int h = 0; h < p->n; h++)
        for (int i = 0; i < 4; i++)
            argv[argc++] = p->h[h].keys[i];
    argv[argc++] = p->tomb;
    argv[argc++] = p->est;
    argv[argc++] = p->lease;
    for (int h = 0; h < p->n; h++) {
        argv[argc++] = p->h[h].rpm;
        argv[argc++] = p->h[h].conc;
        argv[argc++] = p->h[h].tpm;
        argv[argc++] = p->h[h].budget;
        argv[argc++] = p->h[h].seed;
        argv[argc++] = p->h[h].left_ms;
    }
    int rc = ac ? redisAsyncCommandArgv(ac, on_admit_reply, p, argc, argv, NULL) : REDIS_ERR;
    if (rc == REDIS_OK) p->sent = true;
    if (rc != REDIS_OK) {
        failed(p->r, "not connected");
        ccp_redis_verdict v = {.result = -1, .remaining = -1};
        p->cb(p->ud, &v);
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, free_pending);
    }
}

/* The name of holder id's counter what ("rpm", "conc", "tpm", "spend"): a
 * key's "ccp:rpm:ID", a tenant's "ccp:tenant:rpm:NAME" (a separate space,
 * so that no tenant name can share a key's counters). */
static void rkey(char out[RKEY_MAX], bool tenant, const char *what, const char *id)
{
    snprintf(out, RKEY_MAX, "ccp:%s%s:%.200s", tenant ? "tenant:" : "", what, id);
}

static void holder_fill(holder_args *h, bool tenant, const ccp_redis_limits *l)
{
    const ccp_redis_budget *b = l->budget.usd > 0 ? &l->budget : NULL;
    rkey(h->keys[0], tenant, "rpm", l->id);
    rkey(h->keys[1], tenant, "inflight", l->id);
    rkey(h->keys[2], tenant, "tpm", l->id);
    snprintf(h->keys[3], RKEY_MAX, "ccp:%sspend:%.200s:%s", tenant ? "tenant:" : "", l->id,
             b ? b->period : "-");
    snprintf(h->rpm, sizeof h->rpm, "%lld", (long long)l->rpm);
    snprintf(h->conc, sizeof h->conc, "%lld", (long long)l->concurrency);
    snprintf(h->tpm, sizeof h->tpm, "%lld", (long long)l->tpm);
    snprintf(h->budget, sizeof h->budget, "%.9f", b ? b->usd : 0.0);
    snprintf(h->seed, sizeof h->seed, "%.9f", b ? b->seed_usd : 0.0);
    snprintf(h->left_ms, sizeof h->left_ms, "%lld", (long long)(b ? b->left_ms : 0));
}

void ccp_redis_lease(ccp_redis *r, char out[CCP_REDIS_LEASE_MAX])
{
    snprintf(out, CCP_REDIS_LEASE_MAX, "%s%llx", r->lease_prefix, (unsigned long long)++r->leases);
}

void ccp_redis_admit(ccp_redis *r, const ccp_redis_limits *key, const ccp_redis_limits *tenant,
                     int64_t est_tokens, const char *lease, ccp_redis_admit_cb cb, void *ud)
{
    pending_admit *p = ccp_xcalloc(1, sizeof *p); /* freed when its timer is closed */
    p->r = r;
    p->cb = cb;
    p->ud = ud;
    p->n = tenant ? 2 : 1;
    holder_fill(&p->h[0], false, key);
    if (tenant) holder_fill(&p->h[1], true, tenant);
    snprintf(p->est, sizeof p->est, "%lld", (long long)est_tokens);
    snprintf(p->lease, sizeof p->lease, "%s", lease);
    tombstone(p->tomb, lease);
    uv_timer_init(r->loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, on_timeout, REPLY_TIMEOUT_MS, 0);
    send_admit(p);
}

void ccp_redis_release(ccp_redis *r, const char *key_id, bool tenant, const char *lease)
{
    /* Not fire and forget: a release lost with its connection (Redis
     * down, restarted with its data) would keep the key's slot held for
     * the lease's hour; it goes again on the next connection. */
    redisAsyncContext *ac = conn(r);
    if (!ac && r->n_cancels >= CANCELS_MAX) return; /* it lapses within the hour */
    cancel *c = ccp_xcalloc(1, sizeof *c);          /* r's list's, then its command's */
    c->release = true;
    c->n = 1;
    rkey(c->sets[0], tenant, "inflight", key_id);
    snprintf(c->lease, sizeof c->lease, "%s", lease);
    if (ac) {
        send_cancel(r, c);
        return;
    }
    c->next = r->cancels;
    r->cancels = c;
    r->n_cancels++;
}

void ccp_redis_spend(ccp_redis *r, const char *key_id, bool tenant, const char *period, double usd)
{
    redisAsyncContext *ac = conn(r);
    char v[32], k[RKEY_MAX];
    snprintf(v, sizeof v, "%.9f", usd);
    snprintf(k, sizeof k, "ccp:%sspend:%.200s:%s", tenant ? "tenant:" : "", key_id, period);
    if (ac) redisAsyncCommand(ac, NULL, NULL, "INCRBYFLOAT %s %s", k, v);
}

void ccp_redis_tokens_back(ccp_redis *r, const char *key_id, bool tenant, int64_t tpm, int64_t back)
{
    redisAsyncContext *ac = conn(r);
    char k[RKEY_MAX];
    rkey(k, tenant, "tpm", key_id);
    if (ac)
        redisAsyncCommand(ac, NULL, NULL, "EVAL %s 1 %s %lld %lld", ADJUST, k, (long long)tpm,
                          (long long)back);
}
