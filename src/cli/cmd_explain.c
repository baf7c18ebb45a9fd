/* cmd_explain.c — `ccproxy explain`: where a request would go and exactly
 * what would be sent, without sending anything. It runs the server's own
 * router (ccp_route_pick) and attempt preparation (ccp_exchange_prepare:
 * pipelines, encoding, outbound hooks): no second implementation. With
 * --key or --tenant it applies what the server applies for a tenant's key
 * (teams/tenant.h): model globs, the tenant's router, its providers. */
#include "cli/cli.h"

#include "codec/codec.h"
#include "core/alloc.h"
#include "exchange/exchange.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/tokens.h"
#include "pipeline/pipeline.h"
#include "router/route.h"
#include "teams/keystore.h"
#include "teams/tenant.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_HEADERS 64

static void usage(FILE *out)
{
    fputs("usage: ccproxy explain [--config FILE] [--header 'Name: value']...\n"
          "                       [--key KEY | --tenant NAME] [--state FILE] REQUEST.json\n"
          "\n"
          "Prints the stage of an Anthropic Messages request, the rule that matched, the\n"
          "targets in order, and the exact request the first target would get (URL,\n"
          "headers with secrets masked, body). Sends nothing. REQUEST.json may be '-' for\n"
          "standard input.\n"
          "\n"
          "  -c, --config FILE   the config file (default lookup as for serve)\n"
          "  -H, --header H      a client request header, for rules that test headers\n"
          "  -k, --key KEY       as sent with this proxy key (its id, name or secret,\n"
          "                      looked up in the state file): its model globs, and its\n"
          "                      tenant's models, router and providers\n"
          "  -t, --tenant NAME   as sent with a key of tenant NAME (the config's tenants)\n"
          "      --state FILE    the state file for --key (default: state.path of the\n"
          "                      config, else the default location, as for `ccproxy keys`)\n",
          out);
}

static bool read_all(const char *path, ccp_buf *out)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return false;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ccp_buf_append(out, chunk, n);
    if (f != stdin) fclose(f);
    return true;
}

typedef struct {
    ccp_header_view *h;
    size_t n;
} header_list;

static const char *get_header(void *ud, const char *name)
{
    const header_list *l = ud;
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->h[i].name, name)) return l->h[i].value;
    return NULL;
}

/* Header names whose values are credentials: shown as their first word
 * (a scheme such as "Bearer") and asterisks. */
static bool is_secret(const char *name, size_t len)
{
    static const char *const words[] = {"key", "token", "auth", "secret", "cookie", "signature"};
    char lower[128];
    if (len >= sizeof lower) len = sizeof lower - 1;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    lower[len] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(lower, words[i])) return true;
    return false;
}

static void print_header(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || !is_secret(line, (size_t)(colon - line))) {
        printf("  %s\n", line);
        return;
    }
    const char *v = colon + 1;
    while (*v == ' ')
        v++;
    const char *sp = strchr(v, ' ');
    if (sp)
        printf("  %.*s %.*s****\n", (int)(colon - line + 1), line, (int)(sp - v + 1), v);
    else
        printf("  %.*s ****\n", (int)(colon - line + 1), line);
}

static void print_target(const ccp_target *t, const char *client_model)
{
    printf("%s/%s (%s)", t->provider->name, t->model ? t->model : client_model,
           ccp_format_name(t->provider->format));
}

/* The key --key names (its secret "ccp-...", its id or its name) from the
 * state file into *out (the caller's: ccp_keyrec_free). Returns 0, or -1
 * having said why on stderr. */
static int lookup_key(const char *which, const char *state, const char *config, ccp_keyrec *out)
{
    sqlite3 *db = ccp_cli_open_state(state, config, "explain");
    if (!db) return -1;
    ccp_error err = {0};
    int rc = -1;
    if (!strncmp(which, "ccp-", 4)) {
        /* A secret: only its hash is stored. */
        char hash[65];
        ccp_key_hash(which, strlen(which), hash);
        ccp_keyrec *recs = NULL;
        size_t n = 0;
        if (ccp_keystore_list(db, &recs, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (rc != 0 && !strcmp(recs[i].hash, hash)) {
                    *out = recs[i];
                    rc = 0;
                } else {
                    ccp_keyrec_free(&recs[i]);
                }
            }
            free(recs);
            if (rc)
                fprintf(stderr,
                        "ccproxy explain: no proxy key with this secret in the state file\n");
        } else {
            fprintf(stderr, "ccproxy explain: %s\n", err.msg);
        }
    } else if (ccp_keystore_find(db, which, out, &err) == 0) {
        rc = 0;
    } else {
        fprintf(stderr, "ccproxy explain: %s\n", err.msg);
    }
    sqlite3_close(db);
    return rc;
}

/* What the server would answer instead of routing: printed as the
 * explanation's last line. */
static void refused(int status, const char *type, const char *msg)
{
    printf("refused:   the server would answer %d %s: %s\n", status, type, msg);
}

int ccp_cmd_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"header", required_argument, NULL, 'H'},
        {"key", required_argument, NULL, 'k'},
        {"tenant", required_argument, NULL, 't'},
        {"state", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *key_arg = NULL, *tenant_arg = NULL, *state_path = NULL;
    ccp_keyrec key = {0};
    bool have_key = false;
    ccp_route view = {0}; /* the route cut down to the tenant's providers */
    ccp_header_view hv[MAX_HEADERS];
    char *hstore[MAX_HEADERS];
    header_list hl = {hv, 0};
    int ch, rc = 1;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:H:k:t:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'k':
            key_arg = optarg;
            break;
        case 't':
            tenant_arg = optarg;
            break;
        case 's':
            state_path = optarg;
            break;
        case 'H': {
            char *colon = strchr(optarg, ':');
            if (!colon || hl.n == MAX_HEADERS) {
                fprintf(stderr, "ccproxy explain: --header wants 'Name: value'\n");
                goto out;
            }
            char *h = ccp_xstrdup(optarg);
            h[colon - optarg] = '\0';
            char *v = h + (colon - optarg) + 1;
            while (*v == ' ')
                v++;
            hstore[hl.n] = h;
            hv[hl.n++] = (ccp_header_view){h, v};
            break;
        }
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        rc = 2;
        goto out;
    }
    if (key_arg && tenant_arg) {
        fprintf(stderr, "ccproxy explain: give --key or --tenant, not both (a key names its "
                        "tenant)\n");
        rc = 2;
        goto out;
    }
    const char *path = argv[optind];
    ccp_buf text = CCP_BUF_INIT;
    if (!read_all(path, &text)) {
        fprintf(stderr, "ccproxy explain: cannot read %s\n", path);
        goto out;
    }
    ccp_error err;
    json_object *req = ccp_json_parse(text.data ? text.data : "", text.len, &err);
    ccp_buf_free(&text);
    if (!req || !json_object_is_type(req, json_type_object)) {
        fprintf(stderr, "ccproxy explain: %s: %s\n", path,
                req ? "expected a JSON object (an Anthropic Messages request)" : err.msg);
        json_object_put(req);
        goto out;
    }
    /* The server refuses such a request before routing it; so does explain. */
    if (ccp_request_validate(req, &err) != 0) {
        fprintf(stderr, "ccproxy explain: %s: the server would answer 400: %s\n", path, err.msg);
        json_object_put(req);
        goto out;
    }
    ccp_config *cfg = ccp_cli_load_config(config_path);
    if (!cfg) {
        json_object_put(req);
        goto out;
    }
    char *client_model =
        ccp_xstrdup(ccp_json_get_str(req, "model") ? ccp_json_get_str(req, "model") : "(none)");
    /* The key and its tenant, checked as the guard checks them before
     * routing (teams/guard.c). */
    const ccp_tenant *tc = NULL;
    const char *refusal = NULL, *refusal_type = NULL;
    char why[300];
    if (key_arg) {
        if (lookup_key(key_arg, state_path, config_path, &key) != 0) goto early;
        have_key = true;
        if (key.tenant) tc = ccp_tenant_find(cfg, key.tenant);
        if (key.revoked)
            refusal = "this proxy key has been revoked";
        else if (key.expires && (int64_t)time(NULL) >= key.expires)
            refusal = "this proxy key has expired";
        if (refusal) refusal_type = "authentication_error";
    } else if (tenant_arg) {
        tc = ccp_tenant_find(cfg, tenant_arg);
        if (!tc) {
            fprintf(stderr, "ccproxy explain: %s has no tenant '%s'", cfg->source, tenant_arg);
            for (size_t i = 0; i < cfg->n_tenants; i++)
                fprintf(stderr, "%s%s", i ? ", " : " (it has: ", cfg->tenants[i].name);
            fprintf(stderr, "%s\n", cfg->n_tenants ? ")" : "");
            goto early;
        }
    }
    if (!refusal && have_key && !ccp_key_models_allow(key.models, client_model)) {
        snprintf(why, sizeof why, "this proxy key may not use model '%.150s'", client_model);
        refusal = why;
        refusal_type = "permission_error";
    } else if (!refusal && tc && !ccp_tenant_models_allow(tc, client_model)) {
        snprintf(why, sizeof why, "tenant '%.60s' may not use model '%.150s'", tc->name,
                 client_model);
        refusal = why;
        refusal_type = "permission_error";
    }
    printf("config:    %s\n", cfg->source);
    if (have_key)
        printf("key:       %s (%s)%s%s%s\n", key.name, key.id, key.tenant ? ", tenant '" : "",
               key.tenant ? key.tenant : "", key.tenant ? "'" : "");
    if (have_key && key.tenant && !tc)
        printf("tenant:    '%s' is not in the config: no tenant restrictions\n", key.tenant);
    if (tc) {
        printf("tenant:    %s (models:", tc->name);
        for (size_t i = 0; i < tc->models.n; i++)
            printf(" %s", tc->models.v[i]);
        printf("%s; providers:", tc->models.n ? "" : " any");
        for (size_t i = 0; i < tc->providers.n; i++)
            printf(" %s", tc->providers.v[i]);
        printf("%s)\n", tc->providers.n ? "" : " any");
    }
    if (refusal) {
        refused(refusal_type[0] == 'a' ? 401 : 403, refusal_type, refusal);
        goto early;
    }
    ccp_route_choice c;
    if (ccp_route_pick(cfg, req, get_header, &hl, &c, &err) != 0) {
        fprintf(stderr, "ccproxy explain: %s\n", err.msg);
        ccp_route_choice_free(&c);
        goto early;
    }
    /* The tenant's router in place of router's stages, and its providers. */
    bool tenant_ok = true, by_tenant = false;
    if (tc) tenant_ok = ccp_tenant_route(cfg, tc, &c, &view, &by_tenant, why, sizeof why);
    printf("stage:     %s (matches:", ccp_stage_name(c.stage));
    for (int s = 0; s < CCP_STAGE_COUNT; s++)
        if (c.stages & (1u << s)) printf(" %s", ccp_stage_name((ccp_stage)s));
    if (c.tokens < 0) c.tokens = ccp_tokens_estimate_request(req); /* not needed to route */
    printf("; estimated input tokens %lld)\n", (long long)c.tokens);
    switch (c.via) {
    case CCP_VIA_TAG:
        printf(
            "chosen by: the <ccproxy-model> tag in the system prompt (removed before sending)\n");
        break;
    case CCP_VIA_MODEL:
        printf("chosen by: the request's model '%s' (provider/model)\n", client_model);
        break;
    case CCP_VIA_RULE:
        printf("chosen by: rule '%s' (%s:%d:%d)\n", c.rule->name, cfg->source, c.rule->line,
               c.rule->col);
        break;
    case CCP_VIA_STAGE:
        if (by_tenant) {
            printf("chosen by: tenants.%s.router.%s\n", tc->name, ccp_stage_name(c.stage));
            break;
        }
        printf("chosen by: router.%s%s%s%s\n", ccp_stage_name(c.stage), c.rule ? " (rule '" : "",
               c.rule ? c.rule->name : "", c.rule ? "' set a pipeline)" : "");
        break;
    case CCP_VIA_DEFAULT:
        if (by_tenant) {
            printf("chosen by: tenants.%s.router.default\n", tc->name);
            break;
        }
        printf("chosen by: router.default%s\n",
               c.stage != CCP_STAGE_DEFAULT ? " (the stage has no route of its own)" : "");
        break;
    case CCP_VIA_SCRIPT:
        printf("chosen by: router.script (plugin '%s')\n", cfg->router.script);
        break;
    }
    for (size_t i = 0; i < c.route->n; i++) {
        printf(i ? "fallback:  " : "target:    ");
        print_target(&c.route->targets[i], client_model);
        printf("\n");
    }
    if (!tenant_ok) {
        refused(403, "permission_error", why);
        ccp_route_choice_free(&c);
        goto early;
    }
    const ccp_target *t = &c.route->targets[0];
    const ccp_pipeline *pls[2] = {c.pipeline, ccp_route_target_pipeline(t, client_model)};
    if (!pls[0] && !pls[1]) printf("pipeline:  (none)\n");
    for (int k = 0; k < 2; k++) {
        const ccp_pipeline *pl = pls[k];
        if (!pl) continue;
        printf("pipeline:  %s (%s)\n", pl->name, k ? "the provider's" : "the rule's, first");
        for (size_t i = 0; i < pl->n; i++) {
            const ccp_step *st = &pl->steps[i];
            printf("  %zu. %s %s%s (%s:%d:%d)\n", i + 1, st->t->name, ccp_json_str(st->opts, NULL),
                   st->skip_on_error ? " on_error: skip" : "", cfg->source, st->line, st->col);
        }
    }
    /* The server's own preparation of the first attempt: the same hooks,
     * encoding and serialization, without the sending. */
    ccp_exchange ex = {
        .choice = &c,
        .request = json_object_get(req),
        .client_model = client_model,
        .stream = ccp_json_get_bool(req, "stream", false),
        .in_headers = hv,
        .n_in_headers = hl.n,
        .validated = true,
    };
    ccp_attempt a;
    ccp_prep_error pe;
    if (ccp_exchange_prepare(&ex, &a, &pe) != 0) {
        if (pe.step == CCP_PREP_ENCODE)
            printf("\nthe request cannot be encoded for '%s': %s\n", t->provider->name, pe.err.msg);
        else
            printf("\nthe pipeline fails: %s\n", pe.err.msg);
    } else {
        printf("\noutbound request (headers with credentials masked):\n  POST %s\n",
               a.out.url.data);
        for (size_t i = 0; i < a.out.n_headers; i++)
            print_header(a.out.headers[i]);
        printf("\n%s\n", a.out.body.data ? a.out.body.data : "");
        ccp_attempt_free(&a);
        rc = 0;
    }
    ccp_exchange_free(&ex);
    ccp_route_choice_free(&c);
early:
    free(client_model);
    json_object_put(req);
    ccp_config_unref(cfg);
out:
    for (size_t i = 0; i < hl.n; i++)
        free(hstore[i]);
    free(view.targets);
    if (have_key) ccp_keyrec_free(&key);
    return rc;
}
