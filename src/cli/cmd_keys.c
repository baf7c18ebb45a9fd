/* cmd_keys.c — `ccproxy keys`: make, list, show, revoke and rotate proxy
 * keys in the state file. Works on the file directly (SQLite, WAL), so it
 * needs no running proxy; a running one picks the change up within
 * state.poll_ms (teams/guard.c). The state file is found like the proxy
 * finds it: --state FILE, else state.path of the config, else the XDG
 * default.
 *
 * With state.redis (the config's, or --redis URL) the keys live in Redis
 * (teams/redis_keys.h): every change is written there first, then the
 * local file is made a copy of Redis's keys; list and show read that copy.
 * Instances on every host follow Redis within their state.poll_ms. */
#include "cli/cli.h"

#include "core/buf.h"
#include "teams/keystore.h"
#include "teams/redis_keys.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy keys create --name N [--tenant T] [--rpm N] [--tpm N]\n"
          "                           [--concurrency N] [--budget 50usd/month]\n"
          "                           [--models GLOB,...] [--expires 30d] [--json]\n"
          "       ccproxy keys list [--json]\n"
          "       ccproxy keys show ID|NAME [--json]\n"
          "       ccproxy keys revoke ID|NAME\n"
          "       ccproxy keys rotate ID|NAME [--json]\n"
          "       ccproxy keys push\n"
          "\n"
          "Proxy keys for auth.mode: keys. A key is printed once, when made or rotated;\n"
          "only its SHA-256 is stored. Clients send it as ANTHROPIC_API_KEY (x-api-key)\n"
          "or ANTHROPIC_AUTH_TOKEN (Authorization: Bearer).\n"
          "\n"
          "  --state FILE    the state file (default: state.path of the config, else\n"
          "                  $XDG_STATE_HOME/ccproxy/state.db or ~/.local/state/ccproxy/state.db)\n"
          "  -c, --config F  the config whose state.path (and state.redis) to use\n"
          "  --redis URL     keep the keys in this Redis (redis://host[:port][/db]), as\n"
          "                  state.redis of the config does; the state file gets a copy\n"
          "                  (push copies the file's keys there: see docs/teams.md)\n"
          "  --rpm N         requests per minute (0: no limit)\n"
          "  --tpm N         tokens per minute: input estimated at admission, reconciled\n"
          "                  with the provider's count (input + cache writes + output)\n"
          "  --concurrency N requests in flight at once\n"
          "  --budget B      spend per day or month, e.g. 50usd/month, 5usd/day\n"
          "  --models G,...  the models the key may ask for (globs; default any)\n"
          "  --expires D     e.g. 30d, 12h (default never)\n",
          out);
}

sqlite3 *ccp_cli_open_state(const char *state, const char *config, const char *cmd)
{
    char *path = NULL;
    if (state) {
        path = strdup(state);
    } else {
        /* The config's state.path, if the config names one; a config that
         * does not load is reported, not silently skipped. */
        char *cpath = ccp_config_find_path(config);
        if (cpath) {
            ccp_config *cfg = ccp_cli_load_config(cpath);
            free(cpath);
            if (!cfg) return NULL;
            path = ccp_keystore_path(cfg->state.path);
            ccp_config_unref(cfg);
        } else {
            path = ccp_keystore_path(NULL);
        }
    }
    if (!path) {
        fprintf(stderr, "ccproxy %s: no state file: pass --state FILE or set HOME\n", cmd);
        return NULL;
    }
    sqlite3 *db = NULL;
    ccp_error err = {0};
    if (ccp_keystore_open(path, &db, &err) != 0) fprintf(stderr, "ccproxy %s: %s\n", cmd, err.msg);
    free(path);
    return db;
}

static void time_text(int64_t t, char *out, size_t cap)
{
    if (!t) {
        snprintf(out, cap, "never");
        return;
    }
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *status_of(const ccp_keyrec *k)
{
    if (k->revoked) return "revoked";
    if (k->expires && (int64_t)time(NULL) >= k->expires) return "expired";
    return "active";
}

static void json_str(ccp_buf *b, const char *s)
{
    if (s)
        ccp_buf_append_json_str(b, s, strlen(s));
    else
        ccp_buf_appends(b, "null");
}

static void key_to_json(const ccp_keyrec *k, const char *secret, ccp_buf *b)
{
    char t[40];
    ccp_buf_printf(b, "{\"id\":\"%s\",\"name\":", k->id);
    json_str(b, k->name);
    ccp_buf_appends(b, ",\"tenant\":");
    json_str(b, k->tenant);
    ccp_buf_printf(b, ",\"prefix\":\"%s\",\"status\":\"%s\",\"created\":", k->prefix, status_of(k));
    time_text(k->created, t, sizeof t);
    json_str(b, t);
    ccp_buf_appends(b, ",\"expires\":");
    if (k->expires) {
        time_text(k->expires, t, sizeof t);
        json_str(b, t);
    } else {
        ccp_buf_appends(b, "null");
    }
    ccp_buf_appends(b, ",\"last_used\":");
    if (k->last_used) {
        time_text(k->last_used, t, sizeof t);
        json_str(b, t);
    } else {
        ccp_buf_appends(b, "null");
    }
    ccp_buf_printf(b,
                   ",\"rpm\":%lld,\"tpm\":%lld,\"concurrency\":%lld,\"budget\":", (long long)k->rpm,
                   (long long)k->tpm, (long long)k->concurrency);
    if (k->budget_period)
        ccp_buf_printf(b, "{\"usd\":%.6g,\"period\":\"%s\"}", k->budget_usd,
                       ccp_period_name(k->budget_period));
    else
        ccp_buf_appends(b, "null");
    ccp_buf_appends(b, ",\"models\":");
    json_str(b, k->models);
    if (secret) {
        ccp_buf_appends(b, ",\"key\":");
        json_str(b, secret);
    }
    ccp_buf_appendc(b, '}');
}

static void print_key(const ccp_keyrec *k)
{
    char c[40], e[40], u[40];
    time_text(k->created, c, sizeof c);
    time_text(k->expires, e, sizeof e);
    time_text(k->last_used, u, sizeof u);
    printf("id:          %s\nname:        %s\ntenant:      %s\nprefix:      %s...\n"
           "status:      %s\ncreated:     %s\nexpires:     %s\nlast used:   %s\n",
           k->id, k->name, k->tenant ? k->tenant : "-", k->prefix, status_of(k), c, e, u);
    printf("rpm:         %s", k->rpm ? "" : "no limit\n");
    if (k->rpm) printf("%lld\n", (long long)k->rpm);
    printf("tpm:         %s", k->tpm ? "" : "no limit\n");
    if (k->tpm) printf("%lld\n", (long long)k->tpm);
    printf("concurrency: %s", k->concurrency ? "" : "no limit\n");
    if (k->concurrency) printf("%lld\n", (long long)k->concurrency);
    if (k->budget_period)
        printf("budget:      %.2f USD per %s\n", k->budget_usd, ccp_period_name(k->budget_period));
    else
        printf("budget:      none\n");
    printf("models:      %s\n", k->models ? k->models : "any");
}

/* The Redis the keys live in: --redis, else the config's state.redis (the
 * config is read when -c names it or --state is not given, as for the
 * state file). malloc'd; NULL: none. */
static char *keys_redis(const char *flag, const char *state, const char *config)
{
    if (flag) return strdup(flag);
    if (state && !config) return NULL;
    char *cpath = ccp_config_find_path(config);
    if (!cpath) return NULL;
    ccp_config *cfg = ccp_cli_load_config(cpath); /* it loaded once already: no new message */
    free(cpath);
    char *url = cfg && cfg->state.redis ? strdup(cfg->state.redis) : NULL;
    if (cfg) ccp_config_unref(cfg);
    return url;
}

/* Makes the state file's keys a copy of Redis's (when Redis has any). A
 * failure is only a warning: Redis, written first, is the truth, and every
 * instance copies it into its own file. */
static void copy_to_file(ccp_rkeys *rk, sqlite3 *db)
{
    ccp_keyrec *all = NULL;
    size_t n = 0;
    int64_t v = 0;
    ccp_error err = {0};
    int rc = ccp_rkeys_list(rk, &all, &n, &v, &err);
    if (!rc && v) rc = ccp_keystore_mirror(db, all, n, &err);
    if (rc)
        fprintf(stderr, "ccproxy keys: warning: the state file is not a copy of state.redis: %s\n",
                err.msg);
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
}

/* Copies the file's keys that Redis lacks (by id) into Redis; *added says
 * how many. A name Redis gives another key is reported and skipped. */
static int push_file(ccp_rkeys *rk, sqlite3 *db, size_t *added, ccp_error *err)
{
    *added = 0;
    ccp_keyrec *all;
    size_t n;
    int rc = ccp_keystore_list(db, &all, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        bool put = false;
        ccp_error e = {0};
        int r = ccp_rkeys_put(rk, &all[i], CCP_RKEYS_IMPORT, &put, &e);
        if (r == CCP_EINVAL)
            fprintf(stderr, "ccproxy keys: %s (%s) not copied to state.redis: %s\n", all[i].id,
                    all[i].name, e.msg);
        else if (r)
            rc = ccp_error_set(err, r, "%s", e.msg);
        *added += put;
    }
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
    return rc;
}

/* Before the first change to a Redis that holds no keys yet, the state
 * file's keys go there: Redis becomes their source with its first key,
 * and the keys made before it must not stop working then. */
static int adopt_file(ccp_rkeys *rk, sqlite3 *db, ccp_error *err)
{
    int64_t v;
    int rc = ccp_rkeys_version(rk, &v, err);
    if (rc || v) return rc;
    size_t added;
    rc = push_file(rk, db, &added, err);
    if (!rc && added)
        fprintf(stderr, "copied the state file's %zu keys to state.redis (where keys live now)\n",
                added);
    return rc;
}

/* Revokes (secret NULL) or rotates the key of Redis whose id or name is
 * which, then copies Redis's keys into the file and audits the change. */
static int redis_change(ccp_rkeys *rk, sqlite3 *db, const char *which,
                        char secret[CCP_KEY_SECRET_MAX], ccp_error *err)
{
    ccp_keyrec *all;
    size_t n;
    int64_t v;
    int rc = ccp_rkeys_list(rk, &all, &n, &v, err);
    if (rc) return rc;
    ccp_keyrec *k = NULL;
    for (size_t i = 0; i < n && !k; i++)
        if (!strcmp(all[i].id, which) || !strcmp(all[i].name, which)) k = &all[i];
    if (!k)
        rc = ccp_error_set(err, CCP_ENOTFOUND,
                           "no key has the id or name '%s' in state.redis (ccproxy keys list "
                           "shows them)",
                           which);
    else if (!secret)
        rc = ccp_rkeys_revoke(rk, k->id, err);
    else if ((rc = ccp_keystore_mint(k, false, secret, err)) == 0)
        rc = ccp_rkeys_rotate(rk, k->id, k->hash, k->prefix, err);
    if (!rc) {
        copy_to_file(rk, db);
        ccp_error e = {0};
        if (ccp_keystore_audit_key(db, k, secret ? "rotate" : "revoke", &e) != 0)
            fprintf(stderr, "ccproxy keys: warning: not audited: %s\n", e.msg);
    }
    if (rc && secret) memset(secret, 0, CCP_KEY_SECRET_MAX);
    for (size_t i = 0; i < n; i++)
        ccp_keyrec_free(&all[i]);
    free(all);
    return rc;
}

/* Makes k in Redis (its secret in secret), then copies Redis's keys into
 * the file and audits it. */
static int redis_create(ccp_rkeys *rk, sqlite3 *db, ccp_keyrec *k, char secret[CCP_KEY_SECRET_MAX],
                        ccp_error *err)
{
    int rc = ccp_keystore_mint(k, true, secret, err);
    if (!rc) rc = ccp_rkeys_put(rk, k, CCP_RKEYS_CREATE, NULL, err);
    if (rc) {
        memset(secret, 0, CCP_KEY_SECRET_MAX);
        return rc;
    }
    copy_to_file(rk, db);
    ccp_error e = {0};
    if (ccp_keystore_audit_key(db, k, "create", &e) != 0)
        fprintf(stderr, "ccproxy keys: warning: not audited: %s\n", e.msg);
    return 0;
}

static int parse_limit(const char *opt, const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000000000LL) {
        fprintf(stderr, "ccproxy keys: %s must be a whole number >= 0, not '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int ccp_cmd_keys(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"tenant", required_argument, NULL, 't'},
        {"rpm", required_argument, NULL, 'r'},
        {"tpm", required_argument, NULL, 'T'},
        {"concurrency", required_argument, NULL, 'C'},
        {"budget", required_argument, NULL, 'b'},
        {"models", required_argument, NULL, 'm'},
        {"expires", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"state", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"redis", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ccp_keyrec k = {0};
    const char *state = NULL, *config = NULL, *redis_flag = NULL;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            k.name = optarg;
            break;
        case 't':
            k.tenant = optarg;
            break;
        case 'r':
            if (parse_limit("--rpm", optarg, &k.rpm)) return 2;
            break;
        case 'T':
            if (parse_limit("--tpm", optarg, &k.tpm)) return 2;
            break;
        case 'C':
            if (parse_limit("--concurrency", optarg, &k.concurrency)) return 2;
            break;
        case 'b':
            if (ccp_parse_budget(optarg, &k.budget_usd, &k.budget_period) != 0) {
                fprintf(stderr,
                        "ccproxy keys: --budget must be an amount per day or month, e.g. "
                        "50usd/month or 5usd/day, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'm':
            k.models = optarg;
            break;
        case 'e': {
            int64_t secs;
            if (ccp_parse_duration(optarg, &secs) != 0) {
                fprintf(stderr,
                        "ccproxy keys: --expires must be a duration such as 30d, 12h or 90m, "
                        "not '%s'\n",
                        optarg);
                return 2;
            }
            k.expires = (int64_t)time(NULL) + secs;
            break;
        }
        case 'j':
            json = true;
            break;
        case 's':
            state = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'R':
            redis_flag = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *which = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool is_create = !strcmp(sub, "create"), is_list = !strcmp(sub, "list");
    bool is_push = !strcmp(sub, "push");
    if (!is_create && !is_list && !is_push && strcmp(sub, "show") && strcmp(sub, "revoke") &&
        strcmp(sub, "rotate")) {
        fprintf(stderr, "ccproxy keys: unknown subcommand '%s'\n\n", sub);
        usage(stderr);
        return 2;
    }
    if (is_create && (!k.name || !*k.name)) {
        fprintf(stderr, "ccproxy keys create: --name is required (a name to tell the key by)\n");
        return 2;
    }
    if (!is_create && !is_list && !is_push && !which) {
        fprintf(stderr, "ccproxy keys %s: name the key (its id or name; ccproxy keys list)\n", sub);
        return 2;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "keys %s", sub);
    sqlite3 *db = ccp_cli_open_state(state, config, cmd);
    if (!db) return 1;
    ccp_error err = {0};
    ccp_buf b = CCP_BUF_INIT;
    int rc = 0;
    char secret[CCP_KEY_SECRET_MAX];
    char *redis_url = keys_redis(redis_flag, state, config);
    ccp_rkeys *rk = NULL;
    bool writes = is_create || is_push || !strcmp(sub, "revoke") || !strcmp(sub, "rotate");
    if (redis_url) {
        /* 2 s: a command run by hand may wait for a slow network a little. */
        rc = ccp_rkeys_open(redis_url, 2000, &rk, &err);
        if (!rc && writes) {
            if (!is_push) rc = adopt_file(rk, db, &err); /* push does it below */
        } else if (!rc) {
            copy_to_file(rk, db); /* list and show read the copy */
        } else if (!writes) {
            /* Reading: the file's copy, as an instance would serve it. */
            fprintf(stderr, "ccproxy %s: warning: %s; showing the state file's copy\n", cmd,
                    err.msg);
            rc = 0;
        }
    } else if (is_push) {
        rc = ccp_error_set(&err, CCP_EINVAL,
                           "no Redis to push to: pass --redis URL or a config with state.redis");
    }
    if (rc) {
        /* Reported below. */
    } else if (is_push) {
        size_t added;
        rc = push_file(rk, db, &added, &err);
        if (!rc) {
            copy_to_file(rk, db);
            fprintf(stderr, "copied %zu keys to state.redis\n", added);
        }
    } else if (is_create) {
        rc =
            rk ? redis_create(rk, db, &k, secret, &err) : ccp_keystore_create(db, &k, secret, &err);
        if (!rc && json) {
            key_to_json(&k, secret, &b);
            printf("%s\n", b.data);
        } else if (!rc) {
            printf("%s\n", secret);
            fprintf(stderr,
                    "made key %s (%s). The key above is shown only now: store it (clients send "
                    "it as ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN).\n",
                    k.id, k.name);
        }
        memset(secret, 0, sizeof secret);
    } else if (is_list) {
        ccp_keyrec *all;
        size_t n;
        rc = ccp_keystore_list(db, &all, &n, &err);
        if (!rc && json) {
            ccp_buf_appendc(&b, '[');
            for (size_t i = 0; i < n; i++) {
                if (i) ccp_buf_appendc(&b, ',');
                key_to_json(&all[i], NULL, &b);
            }
            ccp_buf_appendc(&b, ']');
            printf("%s\n", b.data);
        } else if (!rc) {
            printf("%-20s  %-20s  %-12s  %-8s  %-11s  %s\n", "ID", "NAME", "TENANT", "STATUS",
                   "PREFIX", "LIMITS");
            for (size_t i = 0; i < n; i++) {
                const ccp_keyrec *r = &all[i];
                printf("%-20s  %-20s  %-12s  %-8s  %-11s  rpm=%lld tpm=%lld conc=%lld", r->id,
                       r->name, r->tenant ? r->tenant : "-", status_of(r), r->prefix,
                       (long long)r->rpm, (long long)r->tpm, (long long)r->concurrency);
                if (r->budget_period)
                    printf(" budget=%.2fusd/%s", r->budget_usd, ccp_period_name(r->budget_period));
                printf("\n");
            }
        }
        if (!rc) {
            for (size_t i = 0; i < n; i++)
                ccp_keyrec_free(&all[i]);
            free(all);
        }
    } else if (!strcmp(sub, "show")) {
        ccp_keyrec r;
        rc = ccp_keystore_find(db, which, &r, &err);
        if (!rc && json) {
            key_to_json(&r, NULL, &b);
            printf("%s\n", b.data);
        } else if (!rc) {
            print_key(&r);
        }
        ccp_keyrec_free(&r);
    } else if (!strcmp(sub, "revoke")) {
        rc = rk ? redis_change(rk, db, which, NULL, &err) : ccp_keystore_revoke(db, which, &err);
        if (!rc) fprintf(stderr, "revoked key %s\n", which);
    } else {
        rc = rk ? redis_change(rk, db, which, secret, &err)
                : ccp_keystore_rotate(db, which, secret, &err);
        if (!rc && json) {
            ccp_keyrec r;
            if (ccp_keystore_find(db, which, &r, &err) == 0) {
                key_to_json(&r, secret, &b);
                printf("%s\n", b.data);
            }
            ccp_keyrec_free(&r);
        } else if (!rc) {
            printf("%s\n", secret);
            fprintf(stderr,
                    "rotated key %s: the old key no longer works; the new one above is "
                    "shown only now.\n",
                    which);
        }
        memset(secret, 0, sizeof secret);
    }
    ccp_buf_free(&b);
    ccp_rkeys_close(rk);
    free(redis_url);
    sqlite3_close(db);
    if (rc) {
        fprintf(stderr, "ccproxy keys %s: %s\n", sub, err.msg);
        return rc == CCP_ENOTFOUND || rc == CCP_EINVAL ? 2 : 1;
    }
    return 0;
}
