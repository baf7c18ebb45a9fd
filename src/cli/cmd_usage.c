/* cmd_usage.c — `ccproxy usage`: requests, tokens and spend per day, key,
 * tenant, provider and model, from the state file's usage table (written by
 * a running proxy's state thread, teams/guard.c), or, when the config has
 * state.redis, from the totals every instance adds there
 * (teams/redis_usage.h). */
#include "cli/cli.h"

#include "core/buf.h"
#include "core/alloc.h"
#include "teams/keystore.h"
#include "teams/redis_sync.h"
#include "teams/redis_usage.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy usage [--key ID|NAME] [--tenant T] [--since 7d] [--json]\n"
          "                     [--state FILE] [-c CONFIG]\n"
          "\n"
          "Requests, tokens (input, output, cache read, cache write) and spend per day\n"
          "(UTC), key, tenant, provider and model. Spend comes from the config's pricing\n"
          "table; requests to a model without a price are counted as 'unpriced'.\n"
          "When the config has state.redis, the totals of every instance sharing that\n"
          "Redis; else the state file's.\n"
          "\n"
          "  --since D   the last D days, today included (default 30d)\n",
          out);
}

static void json_str(ccp_buf *b, const char *s)
{
    ccp_buf_append_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* Rows are ccp_usage_total with key_id holding "ID\tNAME" (the key's
 * name, or its id when the state file does not know it). */
static ccp_usage_total *push_row(ccp_usage_total **rows, size_t *n)
{
    *rows = ccp_xrealloc(*rows, (*n + 1) * sizeof **rows);
    ccp_usage_total *u = &(*rows)[(*n)++];
    memset(u, 0, sizeof *u);
    return u;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return ccp_xstrdup(s ? (const char *)s : "");
}

/* The rows of the state file's usage table from day on, summed per day,
 * key, tenant, provider and model; key_id holds "ID\tNAME". */
static int from_file(sqlite3 *db, const char *day, const char *key, const char *tenant,
                     ccp_usage_total **rows, size_t *n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db,
            "SELECT u.day, u.key_id || char(9) || COALESCE(k.name, u.key_id), u.tenant, "
            "u.provider, u.model, SUM(u.requests), SUM(u.input_tokens), SUM(u.output_tokens), "
            "SUM(u.cache_read_tokens), SUM(u.cache_write_tokens), SUM(u.spend_usd), "
            "SUM(u.unpriced) "
            "FROM usage u LEFT JOIN keys k ON k.id = u.key_id "
            "WHERE u.day >= ?1 AND (?2 IS NULL OR u.key_id = ?2 OR k.name = ?2) "
            "AND (?3 IS NULL OR u.tenant = ?3) "
            "GROUP BY u.day, u.key_id, u.tenant, u.provider, u.model",
            -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "ccproxy usage: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, tenant, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        ccp_usage_total *u = push_row(rows, n);
        snprintf(u->day, sizeof u->day, "%s", (const char *)sqlite3_column_text(st, 0));
        u->key_id = dup_col(st, 1);
        u->tenant = dup_col(st, 2);
        u->provider = dup_col(st, 3);
        u->model = dup_col(st, 4);
        u->requests = sqlite3_column_int64(st, 5);
        u->input_tokens = sqlite3_column_int64(st, 6);
        u->output_tokens = sqlite3_column_int64(st, 7);
        u->cache_read_tokens = sqlite3_column_int64(st, 8);
        u->cache_write_tokens = sqlite3_column_int64(st, 9);
        u->spend_usd = sqlite3_column_double(st, 10);
        u->unpriced = sqlite3_column_int64(st, 11);
    }
    sqlite3_finalize(st);
    return 0;
}

/* The totals every instance added to Redis (teams/redis_usage.h), with
 * the keys' names from the state file; key_id holds "ID\tNAME". */
static int from_redis(redisContext *c, sqlite3 *db, time_t from, const char *key,
                      const char *tenant, ccp_usage_total **rows, size_t *n)
{
    ccp_error err = {0};
    if (ccp_redis_usage_read(c, from, rows, n, &err) != 0) {
        fprintf(stderr, "ccproxy usage: %s\n", err.msg);
        return -1;
    }
    ccp_keyrec *keys = NULL;
    size_t nkeys = 0;
    if (ccp_keystore_list(db, &keys, &nkeys, &err) != 0) nkeys = 0;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        ccp_usage_total *u = &(*rows)[i];
        const char *name = u->key_id;
        for (size_t k = 0; k < nkeys; k++)
            if (!strcmp(keys[k].id, u->key_id)) name = keys[k].name;
        bool keep = (!key || !strcmp(key, u->key_id) || !strcmp(key, name)) &&
                    (!tenant || !strcmp(tenant, u->tenant));
        if (keep) {
            ccp_buf b = CCP_BUF_INIT;
            ccp_buf_printf(&b, "%s\t%s", u->key_id, name);
            free(u->key_id);
            u->key_id = ccp_xstrdup(b.data);
            ccp_buf_free(&b);
            (*rows)[kept++] = *u;
        } else {
            free(u->key_id);
            free(u->tenant);
            free(u->provider);
            free(u->model);
        }
    }
    *n = kept;
    for (size_t k = 0; k < nkeys; k++)
        ccp_keyrec_free(&keys[k]);
    free(keys);
    return 0;
}

/* The key's name: after the tab in key_id. */
static const char *name_of(const ccp_usage_total *u)
{
    const char *t = strchr(u->key_id, '\t');
    return t ? t + 1 : u->key_id;
}

/* By day, key name, provider, model (what the table reader scans). */
static int row_order(const void *a, const void *b)
{
    const ccp_usage_total *x = a, *y = b;
    int c = strcmp(x->day, y->day);
    if (!c) c = strcmp(name_of(x), name_of(y));
    if (!c) c = strcmp(x->provider, y->provider);
    if (!c) c = strcmp(x->model, y->model);
    if (!c) c = strcmp(x->tenant, y->tenant);
    return c;
}

static void print_rows(ccp_buf *b, ccp_usage_total *rows, size_t n, bool json)
{
    qsort(rows, n, sizeof *rows, row_order);
    if (json)
        ccp_buf_appendc(b, '[');
    else
        ccp_buf_printf(b, "%-10s  %-16s  %-10s  %-12s  %-24s  %8s  %10s  %10s  %10s  %10s  %s\n",
                       "DAY", "KEY", "TENANT", "PROVIDER", "MODEL", "REQUESTS", "INPUT", "OUTPUT",
                       "CACHE_RD", "CACHE_WR", "SPEND");
    long long tot_req = 0, tot_unpriced = 0;
    double tot_spend = 0;
    for (size_t i = 0; i < n; i++) {
        const ccp_usage_total *u = &rows[i];
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)strcspn(u->key_id, "\t"), u->key_id);
        long long v[5] = {u->requests, u->input_tokens, u->output_tokens, u->cache_read_tokens,
                          u->cache_write_tokens};
        double spend = u->spend_usd;
        long long unpriced = u->unpriced;
        tot_req += v[0];
        tot_unpriced += unpriced;
        tot_spend += spend;
        if (json) {
            if (i) ccp_buf_appendc(b, ',');
            ccp_buf_appends(b, "{\"day\":");
            json_str(b, u->day);
            ccp_buf_appends(b, ",\"key_id\":");
            json_str(b, id);
            ccp_buf_appends(b, ",\"key\":");
            json_str(b, name_of(u));
            ccp_buf_appends(b, ",\"tenant\":");
            if (*u->tenant)
                json_str(b, u->tenant);
            else
                ccp_buf_appends(b, "null");
            ccp_buf_appends(b, ",\"provider\":");
            json_str(b, u->provider);
            ccp_buf_appends(b, ",\"model\":");
            json_str(b, u->model);
            ccp_buf_printf(b,
                           ",\"requests\":%lld,\"input_tokens\":%lld,\"output_tokens\":%lld,"
                           "\"cache_read_tokens\":%lld,\"cache_write_tokens\":%lld,"
                           "\"spend_usd\":%.9g,\"unpriced_requests\":%lld}",
                           v[0], v[1], v[2], v[3], v[4], spend, unpriced);
        } else {
            char sp[48];
            if (unpriced == v[0])
                snprintf(sp, sizeof sp, "unpriced");
            else if (unpriced)
                snprintf(sp, sizeof sp, "$%.4f + %lld unpriced", spend, unpriced);
            else
                snprintf(sp, sizeof sp, "$%.4f", spend);
            ccp_buf_printf(b,
                           "%-10s  %-16.16s  %-10.10s  %-12.12s  %-24.24s  %8lld  %10lld  %10lld  "
                           "%10lld  %10lld  %s\n",
                           u->day, name_of(u), *u->tenant ? u->tenant : "-", u->provider, u->model,
                           v[0], v[1], v[2], v[3], v[4], sp);
        }
    }
    if (json) {
        ccp_buf_appends(b, "]\n");
    } else {
        ccp_buf_printf(b, "total: %lld requests, $%.4f", tot_req, tot_spend);
        if (tot_unpriced)
            ccp_buf_printf(b,
                           " (%lld requests to models without a price: their tokens are counted, "
                           "their spend is not; add them to the pricing table)",
                           tot_unpriced);
        ccp_buf_appendc(b, '\n');
    }
}

int ccp_cmd_usage(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},   {"tenant", required_argument, NULL, 't'},
        {"since", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
        {"state", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *tenant = NULL, *state = NULL, *config = NULL;
    int64_t since_s = 30 * 86400;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            key = optarg;
            break;
        case 't':
            tenant = optarg;
            break;
        case 'S':
            if (ccp_parse_duration(optarg, &since_s) != 0 || since_s % 86400) {
                fprintf(stderr, "ccproxy usage: --since must be days, e.g. 7d, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j':
            json = true;
            break;
        case 's':
            state = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ccproxy usage: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    time_t from = time(NULL) - (time_t)(since_s - 86400);
    struct tm tm;
    gmtime_r(&from, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    bool failed;
    redisContext *rc_redis = ccp_cli_state_redis(config, "usage", &failed);
    if (failed) return 1;
    sqlite3 *db = ccp_cli_open_state(state, config, "usage");
    if (!db) {
        if (rc_redis) redisFree(rc_redis);
        return 1;
    }
    ccp_usage_total *rows = NULL;
    size_t n = 0;
    int rc = rc_redis ? from_redis(rc_redis, db, from, key, tenant, &rows, &n)
                      : from_file(db, day, key, tenant, &rows, &n);
    if (rc_redis) redisFree(rc_redis);
    sqlite3_close(db);
    if (rc) return 1;
    ccp_buf b = CCP_BUF_INIT;
    print_rows(&b, rows, n, json);
    ccp_usage_totals_free(rows, n);
    fwrite(b.data, 1, b.len, stdout);
    ccp_buf_free(&b);
    return 0;
}
