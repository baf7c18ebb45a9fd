/* redis_sync.c — the blocking state.redis connection (see redis_sync.h). */
#include "teams/redis_sync.h"

#include "core/alloc.h"
#include "core/log.h"
#include "teams/redis_store.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

struct ccp_redis_sync {
    char *url;
    int timeout_ms;
    redisContext *c; /* NULL: not connected */
    int64_t last_try_ms;
    bool up; /* the last state logged */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs one command whose reply must not be an error; false (err set,
 * naming what, never the arguments) otherwise. */
static bool command_ok(redisContext *c, const char *what, ccp_error *err, int argc,
                       const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        ccp_error_set(err, CCP_EIO, "state.redis %s: %s", what,
                      r              ? r->str
                      : c->errstr[0] ? c->errstr
                                     : "no reply");
    if (r) freeReplyObject(r);
    return ok;
}

redisContext *ccp_redis_sync_connect(const char *url, int timeout_ms, ccp_error *err)
{
    char plain[512], user[128], pass[256], host[256];
    int port, db;
    if (!ccp_redis_url_userinfo(url, plain, sizeof plain, user, sizeof user, pass, sizeof pass) ||
        !ccp_redis_parse_url(plain, host, sizeof host, &port, &db)) {
        explicit_bzero(pass, sizeof pass);
        ccp_error_set(err, CCP_ECONFIG,
                      "state.redis: expected redis://[[USER]:PASSWORD@]host[:port][/db]");
        return NULL;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        explicit_bzero(pass, sizeof pass);
        ccp_error_set(err, CCP_EIO, "state.redis %s:%d unreachable: %s", host, port,
                      c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    bool ok = true;
    if (pass[0]) {
        /* AUTH PASSWORD, or AUTH USER PASSWORD (Redis 6 ACLs). */
        const char *a[] = {"AUTH", user[0] ? user : pass, pass};
        ok = command_ok(c, "AUTH", err, user[0] ? 3 : 2, a);
    }
    if (ok && db) {
        char n[16];
        snprintf(n, sizeof n, "%d", db);
        ok = command_ok(c, "SELECT", err, 2, (const char *[]){"SELECT", n});
    }
    explicit_bzero(pass, sizeof pass);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

ccp_redis_sync *ccp_redis_sync_new(const char *url, int timeout_ms)
{
    ccp_redis_sync *s = ccp_xcalloc(1, sizeof *s);
    s->url = ccp_xstrdup(url);
    s->timeout_ms = timeout_ms;
    s->last_try_ms = mono_ms() - 1000;
    s->up = true; /* so that a first failure is logged */
    return s;
}

void ccp_redis_sync_free(ccp_redis_sync *s)
{
    if (!s) return;
    if (s->c) redisFree(s->c);
    explicit_bzero(s->url, strlen(s->url)); /* a password */
    free(s->url);
    free(s);
}

redisContext *ccp_redis_sync_get(ccp_redis_sync *s, ccp_error *err)
{
    if (s->c) return s->c;
    if (mono_ms() - s->last_try_ms < 1000) {
        ccp_error_set(err, CCP_EIO, "state.redis unreachable (retried at most once a second)");
        return NULL;
    }
    s->last_try_ms = mono_ms();
    s->c = ccp_redis_sync_connect(s->url, s->timeout_ms, err);
    if (!s->c && s->up) {
        ccp_log_error("%s", err->msg);
        s->up = false;
    } else if (s->c && !s->up) {
        ccp_log_info("state.redis reachable again: pushing the waiting usage and audit rows");
        s->up = true;
    }
    return s->c;
}

void ccp_redis_sync_drop(ccp_redis_sync *s, const char *why)
{
    if (s->up) {
        ccp_log_error("state.redis: %s", why);
        s->up = false;
    }
    if (s->c) redisFree(s->c);
    s->c = NULL;
    s->last_try_ms = mono_ms();
}

void ccp_redis_script_sha(const char *script, char sha[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(script, strlen(script), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < 20; i++)
        snprintf(sha + 2 * i, 3, "%02x", md[i]);
}

redisReply *ccp_redis_sync_script(redisContext *c, const char *script, const char *sha, int argc,
                                  const char **argv, const size_t *lens)
{
    /* Room for the command and the script or its SHA before the args. */
    const char **a = ccp_xcalloc((size_t)argc + 2, sizeof *a);
    size_t *l = ccp_xcalloc((size_t)argc + 2, sizeof *l);
    memcpy(a + 2, argv, (size_t)argc * sizeof *a);
    memcpy(l + 2, lens, (size_t)argc * sizeof *l);
    a[0] = "EVALSHA";
    l[0] = 7;
    a[1] = sha;
    l[1] = 40;
    redisReply *r = redisCommandArgv(c, argc + 2, a, l);
    if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
        freeReplyObject(r);
        a[0] = "EVAL";
        l[0] = 4;
        a[1] = script;
        l[1] = strlen(script);
        r = redisCommandArgv(c, argc + 2, a, l);
    }
    free(a);
    free(l);
    return r;
}
