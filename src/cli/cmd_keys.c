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
 * Instances on every host follow Redis within their state.poll_ms.
 *
 * With --url URL (or --running) the same subcommands go to a running
 * proxy's /admin/keys endpoints instead (http/admin_keys.c), for a proxy
 * whose state file this host cannot reach; the output is the same. The
 * change itself is teams/keyadmin.c's either way. */
#include "cli/cli.h"

#include "cli/http_client.h"
#include "cli/state.h"
#include "core/buf.h"
#include "core/json.h"
#include "teams/keyadmin.h"
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
          "       (each but push also with --url URL or --running: see below)\n"
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
          "  --expires D     e.g. 30d, 12h (default never)\n"
          "  --url URL       ask the proxy at URL (http://host:port, its admin listener\n"
          "                  when it has one) through its /admin/keys endpoints instead of\n"
          "                  opening the state store; the admin key sent is\n"
          "                  $CCPROXY_ADMIN_KEY, else auth.admin_key of the config\n"
          "  --running       the same, with the proxy `ccproxy start` runs for the config\n",
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

/* A key's JSON (ccp_keyadmin_json: the state file's or a proxy's answer)
 * printed as `keys show` prints it. */
static void print_key(json_object *o)
{
    const char *t = ccp_json_get_str(o, "tenant"), *m = ccp_json_get_str(o, "models");
    const char *e = ccp_json_get_str(o, "expires"), *u = ccp_json_get_str(o, "last_used");
    printf("id:          %s\nname:        %s\ntenant:      %s\nprefix:      %s...\n"
           "status:      %s\ncreated:     %s\nexpires:     %s\nlast used:   %s\n",
           ccp_json_get_str(o, "id"), ccp_json_get_str(o, "name"), t ? t : "-",
           ccp_json_get_str(o, "prefix"), ccp_json_get_str(o, "status"),
           ccp_json_get_str(o, "created"), e ? e : "never", u ? u : "never");
    static const char *const limits[] = {"rpm", "tpm", "concurrency"};
    for (size_t i = 0; i < 3; i++) {
        long long v = (long long)ccp_json_get_int(o, limits[i], 0);
        printf("%s:%*s", limits[i], (int)(12 - strlen(limits[i])), "");
        if (v)
            printf("%lld\n", v);
        else
            printf("no limit\n");
    }
    json_object *bo = ccp_json_get_obj(o, "budget");
    if (bo)
        printf("budget:      %.2f USD per %s\n", json_object_get_double(ccp_json_get(bo, "usd")),
               ccp_json_get_str(bo, "period"));
    else
        printf("budget:      none\n");
    printf("models:      %s\n", m ? m : "any");
}

/* Prints the keys of the JSON array a as `keys list` does. */
static void print_list(json_object *a)
{
    printf("%-20s  %-20s  %-12s  %-8s  %-11s  %s\n", "ID", "NAME", "TENANT", "STATUS", "PREFIX",
           "LIMITS");
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        json_object *o = json_object_array_get_idx(a, i);
        const char *t = ccp_json_get_str(o, "tenant");
        printf("%-20s  %-20s  %-12s  %-8s  %-11s  rpm=%lld tpm=%lld conc=%lld",
               ccp_json_get_str(o, "id"), ccp_json_get_str(o, "name"), t ? t : "-",
               ccp_json_get_str(o, "status"), ccp_json_get_str(o, "prefix"),
               (long long)ccp_json_get_int(o, "rpm", 0), (long long)ccp_json_get_int(o, "tpm", 0),
               (long long)ccp_json_get_int(o, "concurrency", 0));
        json_object *bo = ccp_json_get_obj(o, "budget");
        if (bo)
            printf(" budget=%.2fusd/%s", json_object_get_double(ccp_json_get(bo, "usd")),
                   ccp_json_get_str(bo, "period"));
        printf("\n");
    }
}

/* Prints the JSON text of a key or a list of keys (json: as it is; else as
 * a table or a key's lines), with the notes a made or rotated key gets. */
static int print_answer(const char *sub, const char *text, bool json)
{
    if (json) {
        printf("%s\n", text);
        return 0;
    }
    ccp_error err = {0};
    json_object *o = ccp_json_parse(text, strlen(text), &err);
    if (!o) {
        fprintf(stderr, "ccproxy keys %s: the answer is not JSON: %s\n", sub, err.msg);
        return 1;
    }
    const char *secret = ccp_json_get_str(o, "key");
    if (json_object_is_type(o, json_type_array)) {
        print_list(o);
    } else if (!strcmp(sub, "create")) {
        printf("%s\n", secret ? secret : "");
        fprintf(stderr,
                "made key %s (%s). The key above is shown only now: store it (clients send "
                "it as ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN).\n",
                ccp_json_get_str(o, "id"), ccp_json_get_str(o, "name"));
    } else if (!strcmp(sub, "rotate")) {
        printf("%s\n", secret ? secret : "");
        fprintf(stderr,
                "rotated key %s: the old key no longer works; the new one above is "
                "shown only now.\n",
                ccp_json_get_str(o, "name"));
    } else {
        print_key(o);
    }
    json_object_put(o);
    return 0;
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

/* keyadmin.c's notes and warnings: on stderr, as the command's own. */
static void note_stderr(const char *line)
{
    fprintf(stderr, "%s\n", line);
}

/* Percent-encodes an id or name for a URL path (malloc'd). */
static char *path_escape(const char *s)
{
    ccp_buf b = CCP_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            ccp_buf_appendc(&b, (char)*p);
        else
            ccp_buf_printf(&b, "%%%02X", *p);
    }
    return ccp_buf_detach(&b, NULL);
}

/* What `keys create` asks a proxy for: the flags as POST /admin/keys's
 * fields (budget and expires as given: the proxy parses them as the CLI
 * does). */
typedef struct remote_create {
    const char *name, *tenant, *budget, *models, *expires;
    int64_t rpm, tpm, concurrency;
} remote_create;

/* Runs sub through the /admin/keys endpoints of the proxy at base, with
 * admin_key (NULL: none). Returns the exit code. */
static int keys_remote(const char *base, const char *admin_key, const char *sub, const char *which,
                       const remote_create *c, bool json)
{
    ccp_buf url = CCP_BUF_INIT, body = CCP_BUF_INIT, out = CCP_BUF_INIT;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    ccp_buf_printf(&url, "%.*s/admin/keys", (int)blen, base);
    const char *method = "GET";
    if (which) {
        char *e = path_escape(which);
        ccp_buf_printf(&url, "/%s", e);
        free(e);
    }
    if (!strcmp(sub, "revoke") || !strcmp(sub, "rotate")) {
        method = "POST";
        ccp_buf_printf(&url, "/%s", sub);
    } else if (!strcmp(sub, "create")) {
        method = "POST";
        ccp_buf_appends(&body, "{\"name\":");
        ccp_buf_append_json_str(&body, c->name, strlen(c->name));
        const char *strs[][2] = {{"tenant", c->tenant},
                                 {"budget", c->budget},
                                 {"models", c->models},
                                 {"expires", c->expires}};
        for (size_t i = 0; i < 4; i++) {
            if (!strs[i][1]) continue;
            ccp_buf_printf(&body, ",\"%s\":", strs[i][0]);
            ccp_buf_append_json_str(&body, strs[i][1], strlen(strs[i][1]));
        }
        ccp_buf_printf(&body, ",\"rpm\":%lld,\"tpm\":%lld,\"concurrency\":%lld}", (long long)c->rpm,
                       (long long)c->tpm, (long long)c->concurrency);
    }
    long status = 0;
    int rc = 0;
    if (ccp_cli_http_admin(method, url.data, body.len ? body.data : NULL, 30000, admin_key, &out,
                           &status) != 0) {
        fprintf(stderr, "ccproxy keys %s: no answer from %s (is the proxy running there?)\n", sub,
                url.data);
        rc = 1;
    } else if (status / 100 != 2) {
        ccp_error err = {0};
        json_object *o = ccp_json_parse(out.data ? out.data : "", out.len, &err);
        json_object *eo = o ? ccp_json_get_obj(o, "error") : NULL;
        const char *msg = eo ? ccp_json_get_str(eo, "message") : NULL;
        fprintf(stderr, "ccproxy keys %s: %s answered %ld: %s\n", sub, url.data, status,
                msg ? msg : "(no message)");
        if (status == 401)
            fprintf(stderr,
                    "ccproxy keys %s: set CCPROXY_ADMIN_KEY (or auth.admin_key in the "
                    "config) to the proxy's admin key\n",
                    sub);
        if (o) json_object_put(o);
        rc = status == 400 || status == 404 ? 2 : 1;
    } else if (!strcmp(sub, "revoke")) {
        fprintf(stderr, "revoked key %s\n", which);
    } else if (!strcmp(sub, "list")) {
        /* {"data":[...]}: the list alone, as the state file's list prints. */
        ccp_error err = {0};
        json_object *o = ccp_json_parse(out.data, out.len, &err);
        json_object *a = o ? ccp_json_get_arr(o, "data") : NULL;
        if (!a) {
            fprintf(stderr, "ccproxy keys list: %s answered no list of keys\n", url.data);
            rc = 1;
        } else {
            rc = print_answer(sub,
                              json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE),
                              json);
        }
        if (o) json_object_put(o);
    } else {
        rc = print_answer(sub, out.data, json);
    }
    if (out.data) explicit_bzero(out.data, out.len); /* it may hold a secret */
    ccp_buf_free(&out);
    ccp_buf_free(&body);
    ccp_buf_free(&url);
    return rc;
}

/* The base URL of the proxy `ccproxy start` runs for config (its admin
 * listener when it has one), into url; false (said) when none runs. */
static bool running_url(const char *config, char *url, size_t cap)
{
    ccp_state st;
    if (ccp_state_init(&st, config, false) != 0) return false;
    ccp_state_info info;
    if (!ccp_state_running(&st, &info)) {
        fprintf(stderr, "ccproxy keys: no proxy runs for %s (ccproxy start; or pass --url)\n",
                st.config[0] ? st.config : "<embedded default>");
        return false;
    }
    snprintf(url, cap, "%s", info.admin_url[0] ? info.admin_url : info.url);
    return true;
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
        {"url", required_argument, NULL, 'U'},
        {"running", no_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ccp_keyrec k = {0};
    const char *state = NULL, *config = NULL, *redis_flag = NULL, *url = NULL;
    remote_create rc_flags = {0}; /* the flags as given, for --url */
    bool json = false, running = false;
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
            rc_flags.budget = optarg;
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
            rc_flags.expires = optarg;
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
        case 'U':
            url = optarg;
            break;
        case 'G':
            running = true;
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
    if (url || running) {
        if (is_push || state || redis_flag) {
            fprintf(stderr, "ccproxy keys %s: --url and --running ask a running proxy; %s\n", sub,
                    is_push ? "push works on the state store only"
                            : "--state and --redis name a store to open instead");
            return 2;
        }
        char base[400];
        if (!url) {
            if (!running_url(config, base, sizeof base)) return 3;
            url = base;
        }
        /* The admin key: $CCPROXY_ADMIN_KEY, else the config's. */
        ccp_config *cfg = NULL;
        if (!getenv("CCPROXY_ADMIN_KEY")) {
            char *cpath = ccp_config_find_path(config);
            if (cpath) cfg = ccp_cli_load_config(cpath);
            free(cpath);
        }
        rc_flags.name = k.name;
        rc_flags.tenant = k.tenant;
        rc_flags.models = k.models;
        rc_flags.rpm = k.rpm;
        rc_flags.tpm = k.tpm;
        rc_flags.concurrency = k.concurrency;
        int r = keys_remote(url, ccp_cli_admin_key(cfg), sub, is_create || is_list ? NULL : which,
                            &rc_flags, json);
        if (cfg) ccp_config_unref(cfg);
        return r;
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
            if (!is_push)
                rc = ccp_keyadmin_adopt(rk, db, note_stderr, &err); /* push does it below */
        } else if (!rc) {
            ccp_keyadmin_copy(rk, db, note_stderr); /* list and show read the copy */
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
        rc = ccp_keyadmin_push(rk, db, &added, note_stderr, &err);
        if (!rc) {
            ccp_keyadmin_copy(rk, db, note_stderr);
            fprintf(stderr, "copied %zu keys to state.redis\n", added);
        }
    } else if (is_create) {
        /* The answer is the key's JSON either way, printed as a proxy's
         * answer is (print_answer): one output for both. */
        rc = ccp_keyadmin_create(db, rk, &k, secret, note_stderr, &err);
        if (!rc) {
            ccp_keyadmin_json(&k, secret, &b);
            rc = print_answer(sub, b.data, json);
        }
    } else if (is_list) {
        ccp_keyrec *all;
        size_t n;
        rc = ccp_keystore_list(db, &all, &n, &err);
        if (!rc) {
            ccp_buf_appendc(&b, '[');
            for (size_t i = 0; i < n; i++) {
                if (i) ccp_buf_appendc(&b, ',');
                ccp_keyadmin_json(&all[i], NULL, &b);
            }
            ccp_buf_appendc(&b, ']');
            rc = print_answer(sub, b.data, json);
            for (size_t i = 0; i < n; i++)
                ccp_keyrec_free(&all[i]);
            free(all);
        }
    } else if (!strcmp(sub, "show")) {
        ccp_keyrec r = {0};
        rc = ccp_keystore_find(db, which, &r, &err);
        if (!rc) {
            ccp_keyadmin_json(&r, NULL, &b);
            rc = print_answer(sub, b.data, json);
        }
        ccp_keyrec_free(&r);
    } else if (!strcmp(sub, "revoke")) {
        rc = ccp_keyadmin_revoke(db, rk, which, note_stderr, &err);
        if (!rc) fprintf(stderr, "revoked key %s\n", which);
    } else {
        rc = ccp_keyadmin_rotate(db, rk, which, secret, note_stderr, &err);
        if (!rc) {
            ccp_keyrec r = {0};
            if ((rc = ccp_keystore_find(db, which, &r, &err)) == 0) {
                ccp_keyadmin_json(&r, secret, &b);
                rc = print_answer(sub, b.data, json);
            }
            ccp_keyrec_free(&r);
        }
    }
    explicit_bzero(secret, sizeof secret);
    if (b.data) explicit_bzero(b.data, b.len); /* it may hold a secret */
    ccp_buf_free(&b);
    ccp_rkeys_close(rk);
    if (redis_url) explicit_bzero(redis_url, strlen(redis_url)); /* a password */
    free(redis_url);
    sqlite3_close(db);
    if (rc) {
        fprintf(stderr, "ccproxy keys %s: %s\n", sub, err.msg);
        return rc == CCP_ENOTFOUND || rc == CCP_EINVAL ? 2 : 1;
    }
    return 0;
}
