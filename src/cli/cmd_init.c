/* cmd_init.c — `ccproxy init`: writes a commented config from the provider
 * catalog. Interactive in a terminal (plain numbered prompts, one answer per
 * line, so it works in any terminal and under tmux), or scripted with --yes
 * and flags. Either way the plan goes through config_gen.c, the file is
 * checked with the config loader, and the way to start is printed. */
#include "cli/cli.h"

#include "config/catalog.h"
#include "config/config_gen.h"
#include "core/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy init [--output FILE]\n"
          "       ccproxy init --yes --provider NAME [--provider NAME...] [--default P/M]\n"
          "                    [--background P/M] [--thinking P/M] [--long-context P/M]\n"
          "                    [--web-search P/M] [--image P/M] [--key-env NAME=VAR]\n"
          "                    [--no-pipelines] [--output FILE] [--force]\n"
          "\n"
          "Writes a commented config: the providers you pick from the catalog ('ccproxy\n"
          "providers'), the environment variable holding each key (the file says ${VAR},\n"
          "never the key), a route per stage and each provider's dialect pipeline. Then\n"
          "checks the file and prints how to start. In a terminal it asks (--provider\n"
          "then gives the proposed answer); --yes takes the answers from the flags and\n"
          "the catalog's proposals.\n"
          "\n"
          "  -y, --yes             do not ask (needs at least one --provider)\n"
          "  -p, --provider NAME   a catalog provider (repeatable; the first is the default)\n"
          "      --default, --background, --thinking, --long-context, --web-search,\n"
          "      --image P/M       the route of a stage: provider/model, or a provider alone\n"
          "                        for the client's model (default: the catalog's proposal)\n"
          "      --key-env NAME=VAR  the variable holding provider NAME's key\n"
          "      --no-pipelines    leave out the dialect pipelines\n"
          "  -o, --output FILE     where to write ('-': standard output; default:\n"
          "                        ~/.config/ccproxy/config.yaml, where ccproxy looks)\n"
          "  -f, --force           overwrite FILE if it exists\n"
          "\n"
          "Exit codes: 0 written and valid, 1 the written file has problems or could not\n"
          "be written, 2 bad usage.\n",
          out);
}

/* Terminal styling for prompts: only on a terminal, never with NO_COLOR
 * (https://no-color.org) or TERM=dumb. */
static bool use_color(void)
{
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !(nc && *nc) && !(term && !strcmp(term, "dumb"));
}

static bool g_color;

/* Asks and reads one line; an empty answer is def. Returns a string the
 * caller frees, or NULL at the end of input. */
static char *ask(const char *prompt, const char *def)
{
    if (g_color)
        printf("\033[1m%s\033[0m", prompt);
    else
        fputs(prompt, stdout);
    if (def && *def) printf(" [%s]", def);
    fputs(": ", stdout);
    fflush(stdout);
    char line[1024];
    if (!fgets(line, sizeof line, stdin)) return NULL;
    char *s = line;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return ccp_xstrdup(n ? s : def ? def : "");
}

static bool yes_no(const char *prompt, bool def, bool *eof)
{
    char *a = ask(prompt, def ? "Y/n" : "y/N");
    if (!a) {
        *eof = true;
        return def;
    }
    bool r = def;
    if (a[0] == 'y' || a[0] == 'Y') r = true;
    if (a[0] == 'n' || a[0] == 'N') r = false;
    free(a);
    return r;
}

static bool is_var_name(const char *s)
{
    if (!*s || isdigit((unsigned char)*s)) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return false;
    return true;
}

/* The strings a plan points to that are not in the catalog: answers read
 * from the terminal, freed together at the end. */
typedef struct owned {
    char *v[128];
    size_t n;
} owned;

static const char *keep(owned *o, char *s)
{
    if (o->n < sizeof o->v / sizeof o->v[0])
        o->v[o->n++] = s;
    else
        abort(); /* more answers than prompts exist */
    return s;
}

static void owned_free(owned *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i]);
}

static char *default_output(void)
{
    const char *home = getenv("HOME");
    if (!home || !*home) return ccp_xstrdup("ccproxy.yaml");
    size_t n = strlen(home) + sizeof "/.config/ccproxy/config.yaml";
    char *p = ccp_xmalloc(n);
    snprintf(p, n, "%s/.config/ccproxy/config.yaml", home);
    return p;
}

/* mkdir -p of path's parent directory. */
static void make_parent(const char *path)
{
    char *d = ccp_xstrdup(path);
    for (char *s = d + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        mkdir(d, 0755);
        *s = '/';
    }
    free(d);
}

static int add_provider(ccp_gen_plan *plan, const char *name, bool pipelines)
{
    const ccp_provider_info *p = ccp_catalog_find(name);
    if (!p) {
        fprintf(stderr, "ccproxy init: unknown provider '%s' (ccproxy providers lists them)\n",
                name);
        return -1;
    }
    if (plan->n == CCP_GEN_MAX_PROVIDERS) return -1;
    plan->providers[plan->n++] = (ccp_gen_provider){.info = p, .pipeline = pipelines};
    return 0;
}

/* The interactive questions. Returns 0 with the plan filled, or -1 at the
 * end of input. */
static int interview(ccp_gen_plan *plan, owned *o, char **output)
{
    bool eof = false;
    printf(
        "ccproxy init: writes a config for ccproxy. Press Enter to take the value in [brackets].\n"
        "\nProviders:\n");
    for (size_t i = 0; i < ccp_provider_catalog_n; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        const char *k = p->key_env ? getenv(p->key_env) : NULL;
        printf("  %2zu) %-16s %-26s %s%s\n", i + 1, p->name, p->title,
               p->key_env ? p->key_env : "no key (local)",
               p->key_env ? (k && *k ? " (set)" : "") : "");
    }
    /* Propose the providers given with --provider, else those whose key
     * is already in the environment. */
    char def[256] = "";
    for (size_t i = 0; i < ccp_provider_catalog_n && strlen(def) < 200; i++) {
        const ccp_provider_info *p = &ccp_provider_catalog[i];
        bool given = false;
        for (size_t j = 0; j < plan->n; j++)
            given |= plan->providers[j].info == p;
        const char *k = p->key_env ? getenv(p->key_env) : NULL;
        /* One proposal per variable: OPENAI_API_KEY serves both OpenAI
         * rows (chat and Responses); the first is the one proposed. */
        for (size_t j = 0; k && j < i; j++)
            if (ccp_provider_catalog[j].key_env &&
                !strcmp(ccp_provider_catalog[j].key_env, p->key_env))
                k = NULL;
        if (plan->n ? given : k && *k)
            snprintf(def + strlen(def), sizeof def - strlen(def), "%s%zu", *def ? " " : "", i + 1);
    }
    if (!*def) strcpy(def, "1");
    for (;;) {
        char *a = ask("Providers (numbers or names, separated by spaces)", def);
        if (!a) return -1;
        plan->n = 0;
        bool bad = false;
        for (char *t = strtok(a, " ,"); t && !bad; t = strtok(NULL, " ,")) {
            char *end;
            long n = strtol(t, &end, 10);
            const char *name = t;
            if (!*end) {
                if (n < 1 || (size_t)n > ccp_provider_catalog_n) {
                    printf("  no provider numbered %ld\n", n);
                    bad = true;
                    break;
                }
                name = ccp_provider_catalog[n - 1].name;
            }
            bool dup = false;
            for (size_t i = 0; i < plan->n; i++)
                dup |= !strcmp(plan->providers[i].info->name, name);
            if (!dup && add_provider(plan, name, true) != 0) bad = true;
        }
        free(a);
        if (!bad && plan->n) break;
    }

    printf("\nKeys: the config names the environment variable that holds each key.\n");
    for (size_t i = 0; i < plan->n; i++) {
        ccp_gen_provider *g = &plan->providers[i];
        if (!g->info->key_env) continue;
        char prompt[128];
        snprintf(prompt, sizeof prompt, "Variable holding the %s key", g->info->name);
        for (;;) {
            char *a = ask(prompt, g->info->key_env);
            if (!a) return -1;
            if (is_var_name(a)) {
                g->key_env = keep(o, a);
                break;
            }
            printf("  That is not a variable name.\n"); /* not echoed: it may be a key */
            if (yes_no("  Write it into the file as the key itself", false, &eof)) {
                g->raw_key = keep(o, a);
                break;
            }
            free(a);
            if (eof) return -1;
        }
        const char *v = g->key_env ? getenv(g->key_env) : NULL;
        if (g->key_env && !(v && *v))
            printf("  %s is not set now: export it before starting ccproxy.\n", g->key_env);
    }

    /* Every route the chosen providers offer, numbered. */
    const char *routes[64];
    char route_text[64][256];
    size_t nr = 0;
    for (size_t i = 0; i < plan->n && nr < 64; i++) {
        const ccp_provider_info *p = plan->providers[i].info;
        if (!p->models[0]) {
            snprintf(route_text[nr], 256, "%s", p->name);
            routes[nr] = route_text[nr];
            nr++;
        }
        for (size_t m = 0; p->models[m] && nr < 64; m++) {
            snprintf(route_text[nr], 256, "%s/%s", p->name, p->models[m]);
            routes[nr] = route_text[nr];
            nr++;
        }
    }
    char proposed[CCP_CAT_N_STAGES][256];
    ccp_gen_plan proposal = *plan;
    ccp_gen_propose(&proposal, proposed);
    printf("\nRoutes: a number below, or provider/model for a model not listed.\n");
    for (size_t r = 0; r < nr; r++)
        printf("  %2zu) %s%s\n", r + 1, routes[r],
               strchr(routes[r], '/') ? "" : " (the model the client asks for)");
    printf("   0) follow default (for the stages after it)\n");
    for (size_t s = 0; s < CCP_CAT_N_STAGES; s++) {
        const char *pr = proposal.stages[s];
        char d[24] = "0";
        for (size_t r = 0; pr && r < nr; r++)
            if (!strcmp(routes[r], pr)) snprintf(d, sizeof d, "%zu", r + 1);
        if (s == CCP_CAT_DEFAULT && !strcmp(d, "0")) strcpy(d, "1");
        char prompt[64];
        snprintf(prompt, sizeof prompt, "Route for %s", ccp_catalog_stage_names[s]);
        for (;;) {
            char *a = ask(prompt, d);
            if (!a) return -1;
            char *end;
            long n = strtol(a, &end, 10);
            if (!*end && n == 0 && s != CCP_CAT_DEFAULT) {
                plan->stages[s] = NULL;
                free(a);
                break;
            }
            if (!*end && n >= 1 && (size_t)n <= nr) {
                plan->stages[s] = keep(o, ccp_xstrdup(routes[n - 1]));
                free(a);
                break;
            }
            if (*end) {
                plan->stages[s] = keep(o, a);
                ccp_error err = {0};
                if (ccp_gen_validate(plan, &err) == 0) break;
                printf("  %s\n", err.msg);
                plan->stages[s] = NULL;
                continue;
            }
            printf("  choose 1-%zu%s\n", nr, s == CCP_CAT_DEFAULT ? "" : " or 0");
            free(a);
        }
    }

    bool any = false;
    for (size_t i = 0; i < plan->n; i++)
        any |= plan->providers[i].info->dialect != NULL;
    if (any)
        printf("\nDialect pipelines adapt requests where a provider differs from its format.\n");
    for (size_t i = 0; i < plan->n; i++) {
        ccp_gen_provider *g = &plan->providers[i];
        if (!g->info->dialect) continue;
        char prompt[160];
        snprintf(prompt, sizeof prompt, "Use the '%s' dialect for %s (recommended)",
                 g->info->dialect, g->info->name);
        g->pipeline = yes_no(prompt, true, &eof);
        if (eof) return -1;
    }

    printf("\n");
    char *a = ask("Write the config to", *output);
    if (!a) return -1;
    free(*output);
    *output = a;
    return 0;
}

/* Loads the written YAML (yaml, or the file name when yaml is NULL) the
 * way `check` does. A key variable unset now is
 * not an error of the file, so it is given a stand-in for the check only
 * (and the user told to export it). */
static int check_yaml(const ccp_gen_plan *plan, const char *name, const ccp_buf *yaml)
{
    for (size_t i = 0; i < plan->n; i++) {
        const ccp_gen_provider *g = &plan->providers[i];
        const char *var = g->raw_key ? NULL : g->key_env ? g->key_env : g->info->key_env;
        const char *v = var ? getenv(var) : NULL;
        if (var && !(v && *v)) {
            setenv(var, "unset-during-check", 1);
            fprintf(stderr, "note: %s is not set: export it before starting ccproxy\n", var);
        }
    }
    ccp_config *cfg = NULL;
    ccp_diags d = {0};
    int rc = yaml ? ccp_config_load_string(name, yaml->data, yaml->len, &cfg, &d)
                  : ccp_config_load_file(name, &cfg, &d);
    if (rc != 0) {
        ccp_diags_print(&d, stderr);
        fprintf(stderr, "ccproxy init: the written config has %zu problem%s\n", d.n,
                d.n == 1 ? "" : "s");
    } else {
        fprintf(stderr, "%s: ok, %zu provider%s, default route %s%s%s\n", name, cfg->n_providers,
                cfg->n_providers == 1 ? "" : "s", cfg->router_default.provider->name,
                cfg->router_default.model ? "/" : " (the client's model)",
                cfg->router_default.model ? cfg->router_default.model : "");
        ccp_config_unref(cfg);
    }
    ccp_diags_free(&d);
    return rc == 0 ? 0 : 1;
}

static int write_file(const char *path, const ccp_buf *yaml, bool force, bool secret)
{
    make_parent(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL) | O_CLOEXEC,
                  secret ? 0600 : 0644);
    if (fd < 0) {
        fprintf(stderr, "ccproxy init: cannot write %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (--force overwrites it)" : "");
        return 1;
    }
    size_t off = 0;
    while (off < yaml->len) {
        ssize_t n = write(fd, yaml->data + off, yaml->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fprintf(stderr, "ccproxy init: writing %s: %s\n", path, strerror(errno));
            close(fd);
            return 1;
        }
        off += (size_t)n;
    }
    return close(fd) == 0 ? 0 : 1;
}

int ccp_cmd_init(int argc, char **argv)
{
    enum { O_DEFAULT = 256, O_BACKGROUND, O_THINKING, O_LONG, O_WEB, O_IMAGE, O_KEYENV, O_NOPIPE };
    static const struct option opts[] = {
        {"yes", no_argument, NULL, 'y'},
        {"provider", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"default", required_argument, NULL, O_DEFAULT},
        {"background", required_argument, NULL, O_BACKGROUND},
        {"thinking", required_argument, NULL, O_THINKING},
        {"long-context", required_argument, NULL, O_LONG},
        {"web-search", required_argument, NULL, O_WEB},
        {"image", required_argument, NULL, O_IMAGE},
        {"key-env", required_argument, NULL, O_KEYENV},
        {"no-pipelines", no_argument, NULL, O_NOPIPE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ccp_gen_plan plan = {0};
    const char *key_envs[CCP_GEN_MAX_PROVIDERS];
    size_t n_key_envs = 0;
    bool yes = false, force = false, pipelines = true;
    char *output = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "yp:o:fh", opts, NULL)) != -1) {
        switch (ch) {
        case 'y':
            yes = true;
            break;
        case 'p':
            if (add_provider(&plan, optarg, true) != 0) {
                free(output);
                return 2;
            }
            break;
        case 'o':
            free(output);
            output = ccp_xstrdup(optarg);
            break;
        case 'f':
            force = true;
            break;
        case O_DEFAULT:
        case O_BACKGROUND:
        case O_THINKING:
        case O_LONG:
        case O_WEB:
        case O_IMAGE:
            plan.stages[ch - O_DEFAULT] = optarg;
            break;
        case O_KEYENV:
            if (n_key_envs < CCP_GEN_MAX_PROVIDERS) key_envs[n_key_envs++] = optarg;
            break;
        case O_NOPIPE:
            pipelines = false;
            break;
        case 'h':
            usage(stdout);
            free(output);
            return 0;
        default:
            usage(stderr);
            free(output);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ccproxy init: unexpected argument '%s'\n", argv[optind]);
        free(output);
        return 2;
    }
    if (!output) output = default_output();
    owned o = {0};
    int rc = 0;
    ccp_buf yaml = CCP_BUF_INIT;
    char proposed[CCP_CAT_N_STAGES][256];
    if (yes) {
        for (size_t i = 0; i < plan.n; i++)
            plan.providers[i].pipeline = pipelines;
        for (size_t k = 0; k < n_key_envs; k++) {
            const char *eq = strchr(key_envs[k], '=');
            bool found = false;
            for (size_t i = 0; eq && i < plan.n; i++) {
                const char *nm = plan.providers[i].info->name;
                if (strlen(nm) == (size_t)(eq - key_envs[k]) &&
                    !strncmp(nm, key_envs[k], (size_t)(eq - key_envs[k])) && is_var_name(eq + 1)) {
                    plan.providers[i].key_env = eq + 1;
                    found = true;
                }
            }
            if (!found) {
                fprintf(stderr,
                        "ccproxy init: --key-env '%s' must be NAME=VAR with NAME a --provider "
                        "and VAR a variable name\n",
                        key_envs[k]);
                rc = 2;
                goto out;
            }
        }
    } else {
        if (!isatty(STDIN_FILENO)) {
            fprintf(stderr, "ccproxy init: standard input is not a terminal: give --yes and "
                            "--provider NAME to write a config without questions\n");
            rc = 2;
            goto out;
        }
        g_color = use_color();
        if (interview(&plan, &o, &output) != 0) {
            fprintf(stderr, "\nccproxy init: input ended; nothing written\n");
            rc = 1;
            goto out;
        }
    }
    ccp_error err = {0};
    if (ccp_gen_validate(&plan, &err) != 0) {
        fprintf(stderr, "ccproxy init: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    ccp_gen_propose(&plan, proposed);
    ccp_gen_yaml(&plan, &yaml);
    bool to_stdout = !strcmp(output, "-");
    bool secret = false;
    for (size_t i = 0; i < plan.n; i++)
        secret |= plan.providers[i].raw_key != NULL;
    if (to_stdout) {
        fwrite(yaml.data, 1, yaml.len, stdout);
        rc = check_yaml(&plan, "<stdout>", &yaml);
        goto out;
    }
    if (!yes && !force && access(output, F_OK) == 0) {
        bool eof = false;
        char q[1100];
        snprintf(q, sizeof q, "%s exists. Overwrite it", output);
        force = yes_no(q, false, &eof);
        if (!force) {
            fprintf(stderr, "ccproxy init: nothing written\n");
            rc = 1;
            goto out;
        }
    }
    if (write_file(output, &yaml, force, secret) != 0) {
        rc = 1;
        goto out;
    }
    printf("Wrote %s\n", output);
    fflush(stdout);
    rc = check_yaml(&plan, output, NULL);
    if (rc == 0)
        printf("Start it:  ccproxy serve --config %s\n"
               "Then:      ANTHROPIC_BASE_URL=http://127.0.0.1:3456 claude\n",
               output);
out:
    ccp_buf_free(&yaml);
    owned_free(&o);
    free(output);
    return rc;
}
