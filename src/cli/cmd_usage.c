/* cmd_usage.c — `ccproxy usage`: requests, tokens and spend per day, key,
 * tenant, provider and model, from the state file's usage table (written by
 * a running proxy's state thread, teams/guard.c). */
#include "cli/cli.h"

#include "core/buf.h"
#include "teams/keystore.h"

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
          "\n"
          "  --since D   the last D days, today included (default 30d)\n",
          out);
}

static void json_str(ccp_buf *b, const char *s)
{
    ccp_buf_append_json_str(b, s ? s : "", s ? strlen(s) : 0);
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
    sqlite3 *db = ccp_cli_open_state(state, config, "usage");
    if (!db) return 1;
    time_t from = time(NULL) - (time_t)(since_s - 86400);
    struct tm tm;
    gmtime_r(&from, &tm);
    char day[16];
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db,
        "SELECT u.day, u.key_id, COALESCE(k.name, u.key_id), u.tenant, u.provider, u.model, "
        "SUM(u.requests), SUM(u.input_tokens), SUM(u.output_tokens), SUM(u.cache_read_tokens), "
        "SUM(u.cache_write_tokens), SUM(u.spend_usd), SUM(u.unpriced) "
        "FROM usage u LEFT JOIN keys k ON k.id = u.key_id "
        "WHERE u.day >= ?1 AND (?2 IS NULL OR u.key_id = ?2 OR k.name = ?2) "
        "AND (?3 IS NULL OR u.tenant = ?3) "
        "GROUP BY u.day, u.key_id, u.tenant, u.provider, u.model "
        "ORDER BY u.day, 3, u.provider, u.model",
        -1, &st, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "ccproxy usage: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, tenant, -1, SQLITE_STATIC);
    ccp_buf b = CCP_BUF_INIT;
    if (json)
        ccp_buf_appendc(&b, '[');
    else
        ccp_buf_printf(&b, "%-10s  %-16s  %-10s  %-12s  %-24s  %8s  %10s  %10s  %10s  %10s  %s\n",
                       "DAY", "KEY", "TENANT", "PROVIDER", "MODEL", "REQUESTS", "INPUT", "OUTPUT",
                       "CACHE_RD", "CACHE_WR", "SPEND");
    long long tot_req = 0, tot_unpriced = 0;
    double tot_spend = 0;
    bool first = true;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *cols[6];
        for (int i = 0; i < 6; i++)
            cols[i] = (const char *)sqlite3_column_text(st, i);
        long long v[5];
        for (int i = 0; i < 5; i++)
            v[i] = sqlite3_column_int64(st, 6 + i);
        double spend = sqlite3_column_double(st, 11);
        long long unpriced = sqlite3_column_int64(st, 12);
        tot_req += v[0];
        tot_unpriced += unpriced;
        tot_spend += spend;
        if (json) {
            if (!first) ccp_buf_appendc(&b, ',');
            ccp_buf_appends(&b, "{\"day\":");
            json_str(&b, cols[0]);
            ccp_buf_appends(&b, ",\"key_id\":");
            json_str(&b, cols[1]);
            ccp_buf_appends(&b, ",\"key\":");
            json_str(&b, cols[2]);
            ccp_buf_appends(&b, ",\"tenant\":");
            if (cols[3] && *cols[3])
                json_str(&b, cols[3]);
            else
                ccp_buf_appends(&b, "null");
            ccp_buf_appends(&b, ",\"provider\":");
            json_str(&b, cols[4]);
            ccp_buf_appends(&b, ",\"model\":");
            json_str(&b, cols[5]);
            ccp_buf_printf(&b,
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
            ccp_buf_printf(&b,
                           "%-10s  %-16.16s  %-10.10s  %-12.12s  %-24.24s  %8lld  %10lld  %10lld  "
                           "%10lld  %10lld  %s\n",
                           cols[0], cols[2], cols[3] && *cols[3] ? cols[3] : "-", cols[4], cols[5],
                           v[0], v[1], v[2], v[3], v[4], sp);
        }
        first = false;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (json) {
        ccp_buf_appends(&b, "]\n");
    } else {
        ccp_buf_printf(&b, "total: %lld requests, $%.4f", tot_req, tot_spend);
        if (tot_unpriced)
            ccp_buf_printf(&b,
                           " (%lld requests to models without a price: their tokens are counted, "
                           "their spend is not; add them to the pricing table)",
                           tot_unpriced);
        ccp_buf_appendc(&b, '\n');
    }
    fwrite(b.data, 1, b.len, stdout);
    ccp_buf_free(&b);
    return 0;
}
