/* test_redis_push.c — the outbox against a real redis-server (skipped when
 * there is none): rows go to Redis once; a reply lost after Redis ran the
 * script leaves the rows in the outbox, and sending them again adds
 * nothing twice, even when more rows joined them meanwhile; two outboxes
 * (two instances' state files) pushing in turn make one audit chain that
 * verifies; rows wait while Redis is unreachable; a URL's password is
 * sent, never shown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/json.h"
#include "teams/keystore.h"
#include "teams/redis_audit.h"
#include "teams/redis_push.h"
#include "teams/redis_sync.h"
#include "teams/redis_usage.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t redis_pid;
static char url[64];
static char dir[64];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int start_redis(void **state)
{
    (void)state;
    if (access("/usr/bin/redis-server", X_OK) != 0) return 0;
    snprintf(dir, sizeof dir, "/tmp/ccp-test-push-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    int port = free_port();
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    redis_pid = fork();
    if (redis_pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        execl("/usr/bin/redis-server", "redis-server", "--port", ports, "--bind", "127.0.0.1",
              "--dir", dir, "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/5", port);
    for (int i = 0; i < 500; i++) { /* until it accepts connections */
        ccp_error err = {0};
        redisContext *c = ccp_redis_sync_connect(url, 1000, &err);
        if (c) {
            redisFree(c);
            return 0;
        }
        sleep_ms(20);
    }
    return -1;
}

static int stop_redis(void **state)
{
    (void)state;
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd)) { /* nothing more to do */
        }
    }
    return 0;
}

static sqlite3 *open_temp(char *path)
{
    strcpy(path, "/tmp/ccp-test-push-db-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    sqlite3 *db = NULL;
    ccp_error err = {0};
    assert_int_equal(ccp_keystore_open(path, &db, &err), 0);
    return db;
}

static void close_temp(sqlite3 *db, const char *path)
{
    sqlite3_close(db);
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static redisContext *conn(void)
{
    ccp_error err = {0};
    redisContext *c = ccp_redis_sync_connect(url, 2000, &err);
    assert_non_null(c);
    return c;
}

static void flushdb(void)
{
    redisContext *c = conn();
    freeReplyObject(redisCommand(c, "FLUSHDB"));
    redisFree(c);
}

/* Adds n request rows for key k, each of 10 input and 1 output token. */
static void add_rows(ccp_redis_push *p, sqlite3 *db, const char *k, int n)
{
    ccp_error err = {0};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 0; i < n; i++) {
        ccp_outbox_usage u = {day, k, "acme", "mock", "m:1", 10, 1, 0, 0, 0.5, false};
        char data[64];
        snprintf(data, sizeof data, "{\"key\":\"%s\",\"i\":%d}", k, i);
        assert_int_equal(ccp_redis_outbox_add(p, (int64_t)now * 1000, "request", data, &u, &err),
                         0);
    }
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

static int64_t outbox_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM redis_outbox", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* The requests and input tokens Redis counts for key k today. */
static void redis_totals(const char *k, int64_t *requests, int64_t *input, double *spend)
{
    redisContext *c = conn();
    ccp_usage_total *t;
    size_t n;
    ccp_error err = {0};
    assert_int_equal(ccp_redis_usage_read(c, time(NULL), &t, &n, &err), 0);
    *requests = *input = 0;
    *spend = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].key_id, k) != 0) continue;
        assert_string_equal(t[i].tenant, "acme");
        assert_string_equal(t[i].model, "m:1");
        *requests += t[i].requests;
        *input += t[i].input_tokens;
        *spend += t[i].spend_usd;
    }
    ccp_usage_totals_free(t, n);
    redisFree(c);
}

static void verify_stream(int64_t want_rows)
{
    redisContext *c = conn();
    int64_t rows = 0;
    ccp_error err = {0};
    int rc = ccp_redis_audit_verify(c, &rows, &err);
    if (rc) fail_msg("verify: %s", err.msg);
    assert_int_equal(rows, want_rows);
    redisFree(c);
}

/* Pushes until the outbox is empty: a connection dropped by a lost reply
 * is retried at most once a second. */
static int64_t push_all(ccp_redis_push *p, sqlite3 *db)
{
    int64_t pushed = 0;
    for (int i = 0; i < 300 && outbox_rows(db) > 0; i++) {
        pushed += ccp_redis_push_run(p);
        if (outbox_rows(db) > 0) sleep_ms(20);
    }
    assert_int_equal(outbox_rows(db), 0);
    return pushed;
}

static void rows_reach_redis_once(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    flushdb();
    char path[64];
    sqlite3 *db = open_temp(path);
    ccp_redis_push *p;
    ccp_error err = {0};
    assert_int_equal(ccp_redis_push_new(db, url, &p, &err), 0);
    add_rows(p, db, "key_a", 3);
    assert_int_equal(ccp_redis_push_run(p), 3);
    assert_int_equal(outbox_rows(db), 0);
    assert_int_equal(ccp_redis_push_run(p), 0); /* nothing twice */
    int64_t req, in;
    double spend;
    redis_totals("key_a", &req, &in, &spend);
    assert_int_equal(req, 3);
    assert_int_equal(in, 30);
    assert_true(spend > 1.49 && spend < 1.51);
    verify_stream(3);
    ccp_redis_push_free(p);
    close_temp(db, path);
}

static void a_lost_reply_then_a_retry_adds_nothing_twice(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    flushdb();
    char path[64];
    sqlite3 *db = open_temp(path);
    ccp_redis_push *p;
    ccp_error err = {0};
    assert_int_equal(ccp_redis_push_new(db, url, &p, &err), 0);
    add_rows(p, db, "key_b", 2);
    ccp_redis_push_lose_next_reply(p);
    assert_int_equal(ccp_redis_push_run(p), 0);
    assert_int_equal(outbox_rows(db), 2); /* still waiting ... */
    int64_t req, in;
    double spend;
    redis_totals("key_b", &req, &in, &spend);
    assert_int_equal(req, 2); /* ... though Redis has them */
    /* More rows join before the retry: the batch sent again is bigger. */
    add_rows(p, db, "key_b", 3);
    assert_int_equal(push_all(p, db), 5);
    redis_totals("key_b", &req, &in, &spend);
    assert_int_equal(req, 5);
    assert_int_equal(in, 50);
    verify_stream(5);
    /* The batch markers are gone once their rows are. */
    redisContext *c = conn();
    redisReply *r = redisCommand(c, "KEYS ccp:push:*");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    redisFree(c);
    ccp_redis_push_free(p);
    close_temp(db, path);
}

static void two_outboxes_pushing_in_turn_make_one_chain(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    flushdb();
    char pa[64], pb[64];
    sqlite3 *da = open_temp(pa), *db = open_temp(pb);
    ccp_redis_push *a, *b;
    ccp_error err = {0};
    assert_int_equal(ccp_redis_push_new(da, url, &a, &err), 0);
    assert_int_equal(ccp_redis_push_new(db, url, &b, &err), 0);
    /* Each one's idea of the head is stale at every turn but its first. */
    for (int round = 0; round < 4; round++) {
        add_rows(a, da, "key_a", 2 + round);
        add_rows(b, db, "key_b", 1 + round);
        assert_int_equal(ccp_redis_push_run(a), 2 + round);
        assert_int_equal(ccp_redis_push_run(b), 1 + round);
    }
    verify_stream(14 + 10);
    int64_t req, in;
    double spend;
    redis_totals("key_a", &req, &in, &spend);
    assert_int_equal(req, 14);
    redis_totals("key_b", &req, &in, &spend);
    assert_int_equal(req, 10);
    ccp_redis_push_free(a);
    ccp_redis_push_free(b);
    close_temp(da, pa);
    close_temp(db, pb);
}

static void rows_wait_while_redis_is_unreachable(void **state)
{
    (void)state;
    char path[64];
    sqlite3 *db = open_temp(path);
    ccp_redis_push *p;
    ccp_error err = {0};
    /* A port nothing listens on. */
    char nowhere[64];
    snprintf(nowhere, sizeof nowhere, "redis://127.0.0.1:%d", free_port());
    assert_int_equal(ccp_redis_push_new(db, nowhere, &p, &err), 0);
    add_rows(p, db, "key_c", 4);
    assert_int_equal(ccp_redis_push_run(p), 0);
    assert_int_equal(outbox_rows(db), 4);
    ccp_redis_push_free(p);
    /* A new process (a restart) finds them still waiting. */
    assert_int_equal(ccp_redis_push_new(db, nowhere, &p, &err), 0);
    assert_int_equal(outbox_rows(db), 4);
    ccp_redis_push_free(p);
    close_temp(db, path);
}

/* An admin row written by `ccproxy keys` (outside the state thread) goes
 * in the outbox once a proxy with state.redis made one, and so reaches
 * the stream; before that the file keeps it alone. */
static void admin_rows_reach_the_stream_through_the_outbox(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    flushdb();
    char path[64];
    sqlite3 *db = open_temp(path);
    ccp_error err = {0};
    ccp_keyrec k = {0};
    k.name = strdup("before");
    char secret[CCP_KEY_SECRET_MAX];
    assert_int_equal(ccp_keystore_create(db, &k, secret, &err), 0);
    ccp_keyrec_free(&k);
    ccp_redis_push *p;
    assert_int_equal(ccp_redis_push_new(db, url, &p, &err), 0);
    assert_int_equal(outbox_rows(db), 0);
    ccp_keyrec k2 = {0};
    k2.name = strdup("after");
    assert_int_equal(ccp_keystore_create(db, &k2, secret, &err), 0);
    assert_int_equal(ccp_keystore_revoke(db, "after", &err), 0);
    assert_int_equal(outbox_rows(db), 2);
    assert_int_equal(ccp_redis_push_run(p), 2);
    redisContext *c = conn();
    ccp_buf b = CCP_BUF_INIT;
    assert_int_equal(ccp_redis_audit_export(c, 0, &b, &err), 0);
    ccp_buf_appendc(&b, '\0');
    assert_non_null(strstr(b.data, "\"kind\":\"key.create\""));
    assert_non_null(strstr(b.data, "\"kind\":\"key.revoke\""));
    assert_non_null(strstr(b.data, "after"));
    assert_null(strstr(b.data, "before"));
    ccp_buf_free(&b);
    redisFree(c);
    verify_stream(2);
    ccp_keyrec_free(&k2);
    ccp_redis_push_free(p);
    close_temp(db, path);
}

/* The URL's password is sent as AUTH and never shown: here Redis has
 * none, so AUTH fails, and the error says so without the password. A
 * malformed URL is a config error. */
static void a_urls_password_is_sent_and_never_shown(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    ccp_error err = {0};
    char with[128];
    const char *port = strrchr(url, ':') + 1;
    snprintf(with, sizeof with, "redis://:hunter2-secret@127.0.0.1:%.*s", (int)strcspn(port, "/"),
             port);
    assert_null(ccp_redis_sync_connect(with, 1000, &err));
    assert_non_null(strstr(err.msg, "AUTH"));
    assert_null(strstr(err.msg, "hunter2"));
    /* With a password set, the URL's opens and SELECTs its database. */
    redisContext *c = conn();
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass hunter2-secret"));
    redisFree(c);
    char with_db[160];
    snprintf(with_db, sizeof with_db, "%s/5", with);
    c = ccp_redis_sync_connect(with_db, 1000, &err);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "CLIENT INFO");
    assert_non_null(strstr(r->str, " db=5 "));
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass %s", ""));
    redisFree(c);
    redisFree(conn()); /* no password again */
    assert_null(ccp_redis_sync_connect("redis://user@127.0.0.1", 1000, &err));
    assert_int_equal(err.code, CCP_ECONFIG);
    assert_null(ccp_redis_sync_connect("http://127.0.0.1", 1000, &err));
    assert_int_equal(err.code, CCP_ECONFIG);
}

/* A usage hash that is not what ccproxy writes (a field that is no count,
 * set by hand) fails the script before its first write: Redis does not
 * roll a failed script back, so a script failing half way would add the
 * batch's earlier rows again at every retry (once a second). The rows
 * wait; once the hash is mended they are added once. */
static void a_malformed_usage_hash_fails_the_batch_before_any_write(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    flushdb();
    char path[64];
    sqlite3 *db = open_temp(path);
    ccp_redis_push *p;
    ccp_error err = {0};
    assert_int_equal(ccp_redis_push_new(db, url, &p, &err), 0);
    add_rows(p, db, "key_d", 2);
    add_rows(p, db, "key_e", 2);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    redisContext *c = conn();
    freeReplyObject(
        redisCommand(c, "HSET ccp:usage:%s:key_e:acme:mock:m%%3A1 requests not-a-count", day));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ccp_redis_push_run(p), 0);
        sleep_ms(1100); /* past the reconnection's once a second */
    }
    assert_int_equal(outbox_rows(db), 4);
    redisReply *r = redisCommand(c, "HGET ccp:usage:%s:key_d:acme:mock:m%%3A1 requests", day);
    assert_int_equal(r->type, REDIS_REPLY_NIL); /* nothing of the batch applied */
    freeReplyObject(r);
    r = redisCommand(c, "XLEN ccp:audit");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "DEL ccp:usage:%s:key_e:acme:mock:m%%3A1", day));
    redisFree(c);
    assert_int_equal(push_all(p, db), 4);
    int64_t req, in;
    double spend;
    redis_totals("key_d", &req, &in, &spend);
    assert_int_equal(req, 2);
    redis_totals("key_e", &req, &in, &spend);
    assert_int_equal(req, 2);
    verify_stream(4);
    ccp_redis_push_free(p);
    close_temp(db, path);
}

/* The export is one JSON object a line even when someone wrote a stream
 * entry by hand whose data is no JSON (verify names it; export shows it). */
static void an_entry_written_by_hand_exports_as_json(void **state)
{
    (void)state;
    if (!redis_pid) skip();
    flushdb();
    redisContext *c = conn();
    freeReplyObject(redisCommand(c, "XADD ccp:audit * seq 1 time_ms 5 kind x data %s prev p hash h",
                                 "not json\"},\"forged\":{"));
    ccp_buf b = CCP_BUF_INIT;
    ccp_error err = {0};
    assert_int_equal(ccp_redis_audit_export(c, 0, &b, &err), 0);
    json_object *o = ccp_json_parse(b.data, b.len, &err);
    if (!o) fail_msg("not JSON: %.*s", (int)b.len, b.data);
    assert_string_equal(json_object_get_string(ccp_json_get(o, "data")),
                        "not json\"},\"forged\":{");
    assert_null(ccp_json_get(o, "forged"));
    json_object_put(o);
    ccp_buf_free(&b);
    redisFree(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_reach_redis_once),
        cmocka_unit_test(a_lost_reply_then_a_retry_adds_nothing_twice),
        cmocka_unit_test(two_outboxes_pushing_in_turn_make_one_chain),
        cmocka_unit_test(rows_wait_while_redis_is_unreachable),
        cmocka_unit_test(admin_rows_reach_the_stream_through_the_outbox),
        cmocka_unit_test(a_urls_password_is_sent_and_never_shown),
        cmocka_unit_test(a_malformed_usage_hash_fails_the_batch_before_any_write),
        cmocka_unit_test(an_entry_written_by_hand_exports_as_json),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
