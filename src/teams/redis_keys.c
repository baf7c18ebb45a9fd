/* redis_keys.c — proxy key records in Redis over one blocking hiredis
 * connection (see redis_keys.h). */
#include "teams/redis_keys.h"

#include "core/alloc.h"
#include "core/log.h"
#include "teams/redis_store.h"
#include "teams/redis_sync.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ccp_rkeys {
    redisContext *c;
    char where[300]; /* "host:port", for messages */
};

/* Moves the version counter K and returns it. A counter that is not there
 * (a new or flushed Redis) starts from Redis's clock in microseconds, not
 * from 1: after a flush and a refill, counting from 1 could land on the
 * very version an instance last read, and the instance would miss every
 * change (the clock gives a value no instance has seen; 2^53 µs is 285
 * years, so a Lua number holds it exactly). Scripts may call TIME since
 * Redis 5 replicates their effects, not the script. */
#define BUMP(K)                                                                                    \
    "if redis.call('EXISTS', " K ") == 0 then\n"                                                   \
    "  local t = redis.call('TIME')\n"                                                             \
    "  redis.call('SET', " K ", tonumber(t[1]) * 1000000 + tonumber(t[2]))\n"                      \
    "end\n"                                                                                        \
    "return redis.call('INCR', " K ")\n"

/* Returns -4 unless every key named (KEYS[i] of type types[i], after
 * the Lua table T) is that type or absent, and the version counter V is
 * a count INCR can move: checked before the first write, since Redis does
 * not roll a failed script back (a WRONGTYPE half way through a create
 * would leave a key's name taken by a record no list shows). */
#define CHECK(T, V)                                                                                \
    "for i, t in ipairs(" T ") do\n"                                                               \
    "  local x = redis.call('TYPE', KEYS[i]).ok\n"                                                 \
    "  if x ~= 'none' and x ~= t then return -4 end\n"                                             \
    "end\n"                                                                                        \
    "local v0 = redis.call('GET', " V ")\n"                                                        \
    "if v0 and not (string.match(v0, '^%d+$') and #v0 < 19) then return -4 end\n"

/* KEYS: the key's hash, the hash index, the name index, the id set, the
 * version. ARGV: mode ("create" or "import"), id, name, secret hash,
 * created, then the record's field/value pairs. Returns the new version
 * (> 0), or 0 (the id is there: an import skips it), -1 (the name is
 * another key's), -2 (the hash is another key's), -4 (CHECK). */
static const char PUT[] =
    CHECK("{'hash', 'hash', 'hash', 'zset', 'string'}",
          "KEYS[5]") "local id, name, hash = ARGV[2], ARGV[3], ARGV[4]\n"
                     "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
                     "local other = redis.call('HGET', KEYS[3], name)\n"
                     "if other and other ~= id then return -1 end\n"
                     "other = redis.call('HGET', KEYS[2], hash)\n"
                     "if other and other ~= id then return -2 end\n"
                     "redis.call('HSET', KEYS[1], unpack(ARGV, 6))\n"
                     "redis.call('HSET', KEYS[2], hash, id)\n"
                     "redis.call('HSET', KEYS[3], name, id)\n"
                     "redis.call('ZADD', KEYS[4], ARGV[5], id)\n" BUMP("KEYS[5]");

/* KEYS: the key's hash, the hash index, the version. ARGV: "revoke" or
 * "rotate", id, and for rotate the new secret hash and prefix. Touches only
 * those fields, so a revoke and a rotation made at once by two admins both
 * hold (a whole-record write would let the later undo the earlier's
 * revoke). The old hash leaves the index. Returns the new version, -2
 * (the new hash is another key's), -3 (no such key), -4 (CHECK). */
static const char CHANGE[] =
    CHECK("{'hash', 'hash', 'string'}",
          "KEYS[3]") "if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end\n"
                     "if ARGV[1] == 'revoke' then\n"
                     "  redis.call('HSET', KEYS[1], 'revoked', '1')\n"
                     "else\n"
                     "  local other = redis.call('HGET', KEYS[2], ARGV[3])\n"
                     "  if other and other ~= ARGV[2] then return -2 end\n"
                     "  local old = redis.call('HGET', KEYS[1], 'hash')\n"
                     "  if old then redis.call('HDEL', KEYS[2], old) end\n"
                     "  redis.call('HSET', KEYS[1], 'hash', ARGV[3], 'prefix', ARGV[4])\n"
                     "  redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])\n"
                     "end\n" BUMP("KEYS[3]");

static void put_str(ccp_rkey_enc *e, const char *field, const char *value)
{
    assert(e->argc + 2 <= 2 * CCP_RKEY_FIELDS);
    e->argv[e->argc++] = field;
    e->argv[e->argc++] = value;
}

/* The number's text goes into the next of e->nums. */
static void put_int(ccp_rkey_enc *e, size_t *used, const char *field, int64_t v)
{
    assert(*used < sizeof e->nums / sizeof e->nums[0]);
    snprintf(e->nums[*used], sizeof e->nums[0], "%lld", (long long)v);
    put_str(e, field, e->nums[(*used)++]);
}

void ccp_rkey_encode(const ccp_keyrec *k, ccp_rkey_enc *e)
{
    size_t used = 0;
    e->argc = 0;
    put_str(e, "id", k->id);
    put_str(e, "hash", k->hash);
    put_str(e, "prefix", k->prefix);
    put_str(e, "name", k->name ? k->name : "");
    if (k->tenant) put_str(e, "tenant", k->tenant);
    if (k->models) put_str(e, "models", k->models);
    put_str(e, "revoked", k->revoked ? "1" : "0");
    put_int(e, &used, "created", k->created);
    put_int(e, &used, "expires", k->expires);
    put_int(e, &used, "rpm", k->rpm);
    put_int(e, &used, "tpm", k->tpm);
    put_int(e, &used, "concurrency", k->concurrency);
    put_int(e, &used, "budget_period", k->budget_period);
    /* %.17g: the budget comes back as the same double. */
    snprintf(e->nums[used], sizeof e->nums[0], "%.17g", k->budget_usd);
    put_str(e, "budget_usd", e->nums[used]);
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < 0) return false;
    *out = v;
    return true;
}

static bool is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return i == 64;
}

/* Copies v into dst (cap bytes); false when it is empty or does not fit. */
static bool copy_fixed(char *dst, size_t cap, const char *v)
{
    size_t len = strlen(v);
    if (!len || len >= cap) return false;
    memcpy(dst, v, len + 1);
    return true;
}

/* Sets *slot to a copy of v; false when the field came already. */
static bool dup_once(char **slot, const char *v)
{
    if (*slot) return false;
    *slot = ccp_xstrdup(v);
    return true;
}

int ccp_rkey_decode(const char *const *kv, size_t n, ccp_keyrec *out, ccp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *bad = NULL;
    for (size_t i = 0; i + 1 < n && !bad; i += 2) {
        const char *f = kv[i], *v = kv[i + 1];
        int64_t num = 0;
        bool ok = true;
        if (!strcmp(f, "id")) {
            ok = copy_fixed(out->id, sizeof out->id, v);
        } else if (!strcmp(f, "hash")) {
            ok = is_hex64(v) && copy_fixed(out->hash, sizeof out->hash, v);
        } else if (!strcmp(f, "prefix")) {
            ok = copy_fixed(out->prefix, sizeof out->prefix, v);
        } else if (!strcmp(f, "name")) {
            ok = *v && ccp_key_text_ok(v) && dup_once(&out->name, v);
        } else if (!strcmp(f, "tenant")) {
            ok = ccp_key_text_ok(v) && dup_once(&out->tenant, v);
        } else if (!strcmp(f, "models")) {
            ok = ccp_key_text_ok(v) && dup_once(&out->models, v);
        } else if (!strcmp(f, "revoked")) {
            ok = !strcmp(v, "0") || !strcmp(v, "1");
            out->revoked = v[0] == '1';
        } else if (!strcmp(f, "budget_usd")) {
            char *end;
            out->budget_usd = strtod(v, &end);
            ok = *v && !*end && out->budget_usd >= 0 && out->budget_usd <= 1e12; /* NaN fails */
        } else if (!strcmp(f, "budget_period")) {
            ok = parse_i64(v, &num) && num <= CCP_PERIOD_MONTH;
            out->budget_period = (int)num;
        } else {
            int64_t *slot = !strcmp(f, "created")       ? &out->created
                            : !strcmp(f, "expires")     ? &out->expires
                            : !strcmp(f, "rpm")         ? &out->rpm
                            : !strcmp(f, "tpm")         ? &out->tpm
                            : !strcmp(f, "concurrency") ? &out->concurrency
                                                        : NULL;
            ok = !slot || parse_i64(v, slot); /* no slot: a newer ccproxy's field */
        }
        if (!ok) bad = f;
    }
    if (!bad && !out->id[0]) bad = "id";
    if (!bad && !out->hash[0]) bad = "hash";
    if (!bad && !out->prefix[0]) bad = "prefix";
    if (!bad && !out->name) bad = "name";
    if (!bad) return 0;
    ccp_keyrec_free(out);
    return ccp_error_set(err, CCP_EINVAL, "key record %s: field '%s' is missing or malformed",
                         out->id[0] ? out->id : "(no id)", bad);
}

int ccp_rkeys_open(const char *url, int timeout_ms, ccp_rkeys **out, ccp_error *err)
{
    *out = NULL;
    /* One way to connect for every blocking use of state.redis (AUTH,
     * SELECT; the password never in a message): redis_sync.c's. */
    redisContext *c = ccp_redis_sync_connect(url, timeout_ms, err);
    if (!c) return err->code ? err->code : CCP_EIO;
    ccp_rkeys *r = ccp_xcalloc(1, sizeof *r); /* the caller's: ccp_rkeys_close */
    r->c = c;
    /* "host:port" for messages: from the URL without its credentials. */
    char plain[512], user[128], pass[256], host[256];
    int port = 0, db;
    if (ccp_redis_url_userinfo(url, plain, sizeof plain, user, sizeof user, pass, sizeof pass) &&
        ccp_redis_parse_url(plain, host, sizeof host, &port, &db))
        snprintf(r->where, sizeof r->where, "%s:%d", host, port);
    else
        snprintf(r->where, sizeof r->where, "(state.redis)");
    explicit_bzero(pass, sizeof pass);
    *out = r;
    return 0;
}

void ccp_rkeys_close(ccp_rkeys *r)
{
    if (!r) return;
    redisFree(r->c);
    free(r);
}

bool ccp_rkeys_broken(const ccp_rkeys *r)
{
    return r && r->c && r->c->err != 0;
}

/* The reply's failure as an error (and frees it); 0 when it is none. */
static int failed(ccp_rkeys *r, redisReply *rep, ccp_error *err)
{
    if (rep && rep->type != REDIS_REPLY_ERROR) return 0;
    int rc = ccp_error_set(err, CCP_EIO, "state.redis %s: %s", r->where,
                           rep               ? rep->str
                           : r->c->errstr[0] ? r->c->errstr
                                             : "no answer");
    if (rep) freeReplyObject(rep);
    return rc;
}

int ccp_rkeys_version(ccp_rkeys *r, int64_t *version, ccp_error *err)
{
    *version = 0;
    redisReply *rep = redisCommand(r->c, "GET ccp:keys:version");
    int rc = failed(r, rep, err);
    if (rc) return rc;
    if (rep->type == REDIS_REPLY_STRING && !parse_i64(rep->str, version))
        rc = ccp_error_set(err, CCP_EIO, "state.redis %s: ccp:keys:version is not a count",
                           r->where);
    freeReplyObject(rep);
    return rc;
}

/* The next reply of a pipeline; NULL (err set) when the connection
 * failed, after which it is of no further use. */
static redisReply *next_reply(ccp_rkeys *r, ccp_error *err)
{
    void *rep = NULL;
    if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
        ccp_error_set(err, CCP_EIO, "state.redis %s: %s", r->where,
                      r->c->errstr[0] ? r->c->errstr : "no answer");
        return NULL;
    }
    return rep;
}

/* The counter in a GET's reply (nil: 0); false when it is not a count. */
static bool version_of(const redisReply *rep, int64_t *v)
{
    *v = 0;
    if (rep->type == REDIS_REPLY_NIL) return true;
    return rep->type == REDIS_REPLY_STRING && parse_i64(rep->str, v);
}

static void free_recs(ccp_keyrec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&recs[i]);
    free(recs);
}

/* Adds the record in rep (HGETALL's answer) to out[*n]; one that does not
 * decode is skipped with a log line, an id without a record quietly. */
static void take_record(ccp_rkeys *r, const redisReply *h, ccp_keyrec *out, size_t *n)
{
    if (h->type != REDIS_REPLY_ARRAY || !h->elements) return;
    const char **kv = ccp_xcalloc(h->elements, sizeof *kv);
    bool strings = true;
    for (size_t j = 0; j < h->elements; j++) {
        strings &= h->element[j]->type == REDIS_REPLY_STRING;
        kv[j] = h->element[j]->str;
    }
    ccp_error e = {0};
    if (!strings || ccp_rkey_decode(kv, h->elements, &out[*n], &e) != 0)
        ccp_log_error("state.redis %s: a proxy key record is skipped: %s", r->where,
                      strings ? e.msg : "not a hash of strings");
    else
        (*n)++;
    free(kv);
}

/* One pipelined pass: the version, the ids, every record, the version
 * again. *stable: both versions agree, so no change came in between
 * (every change moves the counter in the same script as its records).
 * Plain commands rather than one script: each is microseconds, where a
 * script reading 1000 records held Redis (and every instance's
 * admissions) for 20-35 ms. */
static int read_pass(ccp_rkeys *r, ccp_keyrec **out, size_t *n, int64_t *version, bool *stable,
                     ccp_error *err)
{
    redisAppendCommand(r->c, "GET ccp:keys:version");
    redisAppendCommand(r->c, "ZRANGE ccp:keys 0 -1");
    redisReply *v1 = next_reply(r, err);
    redisReply *ids = v1 ? next_reply(r, err) : NULL;
    if (!ids) {
        if (v1) freeReplyObject(v1);
        return CCP_EIO;
    }
    int64_t before, after = -1;
    int rc = 0;
    if (!version_of(v1, &before) || ids->type != REDIS_REPLY_ARRAY)
        rc = ccp_error_set(err, CCP_EIO, "state.redis %s: unexpected answer to the key list",
                           r->where);
    freeReplyObject(v1);
    size_t asked = 0;
    for (size_t i = 0; !rc && i < ids->elements; i++) {
        const redisReply *id = ids->element[i];
        if (id->type != REDIS_REPLY_STRING) continue;
        redisAppendCommand(r->c, "HGETALL ccp:key:%b", id->str, (size_t)id->len);
        asked++;
    }
    freeReplyObject(ids);
    if (rc) return rc;
    redisAppendCommand(r->c, "GET ccp:keys:version");
    *out = ccp_xcalloc(asked + 1, sizeof **out); /* the caller's: free_recs */
    *n = 0;
    for (size_t i = 0; i < asked; i++) {
        redisReply *h = next_reply(r, err);
        if (!h) return CCP_EIO;
        take_record(r, h, *out, n);
        freeReplyObject(h);
    }
    redisReply *v2 = next_reply(r, err);
    if (!v2) return CCP_EIO;
    if (!version_of(v2, &after)) after = -1;
    freeReplyObject(v2);
    *version = before;
    *stable = before == after;
    return 0;
}

int ccp_rkeys_list(ccp_rkeys *r, ccp_keyrec **out, size_t *n, int64_t *version, ccp_error *err)
{
    /* A change between the two reads of the counter: read again (changes
     * are made by hand, so a few tries always find a quiet moment). */
    for (int attempt = 0; attempt < 5; attempt++) {
        *out = NULL;
        *n = 0;
        *version = 0;
        bool stable = false;
        int rc = read_pass(r, out, n, version, &stable, err);
        if (!rc && stable) return 0;
        free_recs(*out, *n);
        *out = NULL;
        *n = 0;
        if (rc) return rc;
    }
    return ccp_error_set(err, CCP_EIO,
                         "state.redis %s: the proxy keys kept changing while being read", r->where);
}

/* The error of a script that found a key of ours changed by hand (-4). */
static int mangled(ccp_rkeys *r, ccp_error *err)
{
    return ccp_error_set(err, CCP_EIO,
                         "state.redis %s: nothing written: one of ccp:key:ID, ccp:keys:hash, "
                         "ccp:keys:name, ccp:keys, ccp:keys:version is not what ccproxy writes "
                         "(changed by hand?) or the version is at its end: mend or delete it",
                         r->where);
}

int ccp_rkeys_put(ccp_rkeys *r, const ccp_keyrec *k, ccp_rkeys_mode mode, bool *added,
                  ccp_error *err)
{
    if (added) *added = false;
    ccp_rkey_enc e;
    ccp_rkey_encode(k, &e);
    char kkey[64], created[32];
    snprintf(kkey, sizeof kkey, "ccp:key:%s", k->id);
    snprintf(created, sizeof created, "%lld", (long long)k->created);
    const char *m = mode == CCP_RKEYS_CREATE ? "create" : "import";
    const char *argv[3 + 5 + 5 + 2 * CCP_RKEY_FIELDS];
    size_t argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = PUT;
    argv[argc++] = "5";
    argv[argc++] = kkey;
    argv[argc++] = "ccp:keys:hash";
    argv[argc++] = "ccp:keys:name";
    argv[argc++] = "ccp:keys";
    argv[argc++] = "ccp:keys:version";
    argv[argc++] = m;
    argv[argc++] = k->id;
    argv[argc++] = k->name ? k->name : "";
    argv[argc++] = k->hash;
    argv[argc++] = created;
    for (size_t i = 0; i < e.argc; i++)
        argv[argc++] = e.argv[i];
    redisReply *rep = redisCommandArgv(r->c, (int)argc, argv, NULL);
    int rc = failed(r, rep, err);
    if (rc) return rc;
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -100;
    freeReplyObject(rep);
    if (v > 0) {
        if (added) *added = true;
        return 0;
    }
    if (v == 0)
        return mode == CCP_RKEYS_IMPORT ? 0 : ccp_error_set(err, CCP_EIO, "key id %s taken", k->id);
    if (v == -1)
        return ccp_error_set(err, CCP_EINVAL,
                             "a key named '%s' exists already in state.redis: choose another "
                             "--name (or rotate that one: ccproxy keys rotate %s)",
                             k->name, k->name);
    if (v == -2)
        return ccp_error_set(err, CCP_EINVAL, "key %s: its secret is another key's in state.redis",
                             k->id);
    if (v == -4) return mangled(r, err);
    return ccp_error_set(err, CCP_EIO, "state.redis %s: unexpected answer to a key write",
                         r->where);
}

/* Runs CHANGE on key id; 0 or a CCP_E* code with err set. */
static int change(ccp_rkeys *r, const char *what, const char *id, const char *hash,
                  const char *prefix, ccp_error *err)
{
    char kkey[64];
    snprintf(kkey, sizeof kkey, "ccp:key:%s", id);
    const char *argv[] = {"EVAL",
                          CHANGE,
                          "3",
                          kkey,
                          "ccp:keys:hash",
                          "ccp:keys:version",
                          what,
                          id,
                          hash ? hash : "",
                          prefix ? prefix : ""};
    redisReply *rep = redisCommandArgv(r->c, (int)(sizeof argv / sizeof *argv), argv, NULL);
    int rc = failed(r, rep, err);
    if (rc) return rc;
    long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -100;
    freeReplyObject(rep);
    if (v > 0) return 0;
    if (v == -2)
        return ccp_error_set(err, CCP_EINVAL, "key %s: its new secret is another key's", id);
    if (v == -3) return ccp_error_set(err, CCP_ENOTFOUND, "key %s is not in state.redis", id);
    if (v == -4) return mangled(r, err);
    return ccp_error_set(err, CCP_EIO, "state.redis %s: unexpected answer to a key write",
                         r->where);
}

int ccp_rkeys_revoke(ccp_rkeys *r, const char *id, ccp_error *err)
{
    return change(r, "revoke", id, NULL, NULL, err);
}

int ccp_rkeys_rotate(ccp_rkeys *r, const char *id, const char *hash, const char *prefix,
                     ccp_error *err)
{
    return change(r, "rotate", id, hash, prefix, err);
}
