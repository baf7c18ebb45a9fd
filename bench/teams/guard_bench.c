/* guard_bench.c — what the teams guard adds to one request: the proxy-key
 * check and limits at admission (ccp_guard_admit: SHA-256 of the key, a
 * hash-table lookup, bucket sums under a mutex) and the release at the end
 * (ccp_guard_end: reconciliation and queueing the usage/audit row for the
 * state thread), with 1000 keys in the table. Prints ns per request; run it
 * under `valgrind --tool=callgrind` for instructions (docs/performance.md).
 *
 *   cmake --build build --target ccp-bench-guard && build/ccp-bench-guard [N] */
#include "teams/guard.h"
#include "teams/keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    char dir[] = "/tmp/ccp-bench-guard-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db;
    ccp_error err = {0};
    if (ccp_keystore_open(path, &db, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char secret[CCP_KEY_SECRET_MAX], plain[CCP_KEY_SECRET_MAX], limited[CCP_KEY_SECRET_MAX];
    ccp_keystore_exec(db, "BEGIN", &err);
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "k%d", i);
        ccp_keyrec k = {.name = name};
        if (i == 1) k.rpm = 1000000000, k.tpm = 1000000000000LL, k.concurrency = 1000000;
        /* create runs its own transaction: commit the batch around it */
        ccp_keystore_exec(db, "COMMIT", &err);
        if (ccp_keystore_create(db, &k, secret, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        ccp_keystore_exec(db, "BEGIN", &err);
        if (i == 0) memcpy(plain, secret, sizeof plain);
        if (i == 1) memcpy(limited, secret, sizeof limited);
    }
    ccp_keystore_exec(db, "COMMIT", &err);
    sqlite3_close(db);
    ccp_config cfg = {.state = {.path = path, .poll_ms = 1000, .flush_ms = 200}};
    ccp_guard *g;
    if (ccp_guard_new(&cfg, &g, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ccp_guard_usage u = {.request_id = "req_0123456789abcdef01234567",
                         .provider = "anthropic",
                         .model = "claude-sonnet-4-5",
                         .stage = "default",
                         .status = 200,
                         .input_tokens = 1200,
                         .output_tokens = 300,
                         .cache_read_tokens = 0,
                         .cache_write_tokens = 0,
                         .spend_usd = 0.0081,
                         .priced = true};
    const char *which[2] = {plain, limited};
    const char *label[2] = {"key without limits", "key with rpm, tpm, concurrency"};
    for (int w = 0; w < 2; w++) {
        size_t len = strlen(which[w]);
        int64_t admit = 0, end = 0, wall = ns();
        for (long i = 0; i < n; i++) {
            ccp_guard_ticket t;
            ccp_guard_verdict v;
            int64_t t0 = ns();
            ccp_guard_admit(g, &cfg, which[w], len, "claude-sonnet-4-5", 1200, i, NULL, &t, &v);
            int64_t t1 = ns();
            if (v.status) {
                fprintf(stderr, "refused: %s\n", v.message);
                return 1;
            }
            ccp_guard_end(g, &t, &u, i);
            int64_t t2 = ns();
            admit += t1 - t0;
            end += t2 - t1;
            /* Let the state thread write what a burst queued, as it would
             * between real requests (its writes are not on the request path,
             * but on a loaded two-core box they compete for the CPU). */
            if (i % 1000 == 999) ccp_guard_flush(g);
        }
        ccp_guard_flush(g);
        wall = ns() - wall;
        printf("%-32s admit %5.0f ns, end %5.0f ns per request; with the state thread's writes "
               "(usage, last-used, audit row) %6.1f us per request (%ld requests)\n",
               label[w], (double)admit / (double)n, (double)end / (double)n,
               (double)wall / (double)n / 1000.0, n);
    }
    ccp_guard_free(g);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) return 1;
    return 0;
}
