/* cmd_audit.c — `ccproxy audit verify|export`: checks the audit record's
 * hash chain (teams/audit.h, or the Redis stream of teams/redis_audit.h
 * when the config has state.redis) and writes it out as JSON lines. */
#include "cli/cli.h"

#include "core/buf.h"
#include "teams/audit.h"
#include "teams/redis_audit.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy audit verify [--state FILE] [-c CONFIG]\n"
          "       ccproxy audit export [--since SEQ] [--state FILE] [-c CONFIG]\n"
          "\n"
          "verify  walks the hash chain of the audit record: exits 0 when every row is\n"
          "        intact, 1 naming the first row edited, deleted or replaced\n"
          "export  writes the rows (after SEQ) as JSON lines: seq, time_ms, kind, data, hash\n"
          "\n"
          "When the config has state.redis, both work on the audit stream every instance\n"
          "appends to (ccp:audit; export adds each entry's stream_id); else on the state\n"
          "file.\n",
          out);
}

/* verify or export on the stream every instance appends to
 * (teams/redis_audit.h). Frees c. */
static int from_redis(redisContext *c, const char *sub, long long since)
{
    ccp_error err = {0};
    int rc;
    if (!strcmp(sub, "verify")) {
        int64_t rows = 0;
        rc = ccp_redis_audit_verify(c, &rows, &err);
        if (rc == 0)
            printf("audit stream intact: %lld entries, hash chain verified\n", (long long)rows);
        else
            fprintf(stderr, "ccproxy audit verify: %s (%lld entries before it verified)\n", err.msg,
                    (long long)rows);
    } else {
        ccp_buf b = CCP_BUF_INIT;
        rc = ccp_redis_audit_export(c, since, &b, &err);
        if (rc == 0 && b.len) fwrite(b.data, 1, b.len, stdout);
        if (rc) fprintf(stderr, "ccproxy audit export: %s\n", err.msg);
        ccp_buf_free(&b);
    }
    redisFree(c);
    return rc ? 1 : 0;
}

int ccp_cmd_audit(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"since", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *state = NULL, *config = NULL;
    long long since = 0;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            state = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'S': {
            char *end;
            since = strtoll(optarg, &end, 10);
            if (!*optarg || *end || since < 0) {
                fprintf(stderr, "ccproxy audit: --since must be a row number >= 0\n");
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(sub, "verify") && strcmp(sub, "export")) {
        fprintf(stderr, "ccproxy audit: unknown subcommand '%s'\n\n", sub);
        usage(stderr);
        return 2;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "audit %s", sub);
    bool failed;
    redisContext *rc_redis = ccp_cli_state_redis(config, cmd, &failed);
    if (failed) return 1;
    if (rc_redis) return from_redis(rc_redis, sub, since);
    sqlite3 *db = ccp_cli_open_state(state, config, cmd);
    if (!db) return 1;
    ccp_error err = {0};
    int rc;
    if (!strcmp(sub, "verify")) {
        int64_t rows = 0;
        rc = ccp_audit_verify(db, &rows, &err);
        if (rc == 0)
            printf("audit record intact: %lld rows, hash chain verified\n", (long long)rows);
        else
            fprintf(stderr, "ccproxy audit verify: %s (%lld rows before it verified)\n", err.msg,
                    (long long)rows);
    } else {
        ccp_buf b = CCP_BUF_INIT;
        rc = ccp_audit_export(db, since, &b, &err);
        if (rc == 0 && b.len) fwrite(b.data, 1, b.len, stdout);
        if (rc) fprintf(stderr, "ccproxy audit export: %s\n", err.msg);
        ccp_buf_free(&b);
    }
    sqlite3_close(db);
    return rc ? 1 : 0;
}
