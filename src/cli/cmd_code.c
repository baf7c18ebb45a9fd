/* cmd_code.c — `ccproxy code [-- CLAUDE ARGS...]`: Claude Code through the
 * proxy. Starts a background proxy for the config unless one serves it,
 * then replaces itself with `claude`, ANTHROPIC_BASE_URL pointing at the
 * proxy: the arguments, the terminal, signals and the exit code are
 * Claude Code's own. The proxy keeps running afterwards for the next
 * session (`ccproxy stop` ends it). */
#include "cli/cli.h"
#include "cli/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy code [--config FILE] [--key KEY] [--timeout SECONDS] [--] [CLAUDE "
          "ARGS...]\n"
          "\n"
          "Runs Claude Code (`claude`, found on PATH) with ANTHROPIC_BASE_URL set to the\n"
          "proxy serving this config, first starting one in the background (as `ccproxy\n"
          "start` would) if none runs. Everything after the options, or after `--`, is\n"
          "passed to claude; its exit code is ccproxy's. When neither ANTHROPIC_API_KEY\n"
          "nor ANTHROPIC_AUTH_TOKEN is set, ANTHROPIC_AUTH_TOKEN is set to a placeholder so\n"
          "that Claude Code does not ask to log in (the proxy sends its providers' keys).\n"
          "When the config has auth.mode keys, the proxy key (--key, else CCPROXY_API_KEY)\n"
          "becomes ANTHROPIC_AUTH_TOKEN and ANTHROPIC_API_KEY is removed (the proxy reads\n"
          "x-api-key first, so a stale Anthropic key would shadow it).\n"
          "\n"
          "  --config FILE        the config (default: the lookup of `ccproxy serve`)\n"
          "  --key KEY            the proxy key, for auth.mode keys (`ccproxy keys create`)\n"
          "  --timeout S          how long to wait for a new proxy to be ready (default 10)\n"
          "  --help               this help (`ccproxy code -- --help`: claude's)\n"
          "\n"
          "Only these long options, before the first other word, are ccproxy's, so that\n"
          "claude's own (-c, -p, --model, ...) pass through as they are.\n"
          "\n"
          "exit: claude's exit code; 127 claude is not installed; 1 the proxy did not start;\n"
          "2 usage error, or auth.mode keys and no proxy key\n"
          "\n"
          "example: ccproxy code -- -p 'explain this repository'\n",
          out);
}

/* The first executable `name` on PATH, into out. */
static bool find_on_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        /* An empty entry means the current directory. */
        snprintf(out, cap, "%.*s/%s", (int)(n ? n : 1), n ? path : ".", name);
        if (access(out, X_OK) == 0) return true;
        path += n + (end ? 1 : 0);
    }
    return false;
}

/* Parses "--name VALUE" or "--name=VALUE" at argv[*i]; advances *i past
 * the value. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] != '\0' || *i + 1 >= argc) return NULL;
    return argv[++*i];
}

int ccp_cmd_code(int argc, char **argv)
{
    ccp_service_opts o = {.port = -1, .workers = -1, .timeout_s = 10};
    const char *proxy_key = NULL;
    /* Only long options, and only before the first word that is not one:
     * claude's own short ones (-c continue, -p print) must reach it. */
    int i = 1;
    for (; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--config"))) {
            o.config = v;
        } else if ((v = opt_value(argc, argv, &i, "--key"))) {
            proxy_key = v;
        } else if ((v = opt_value(argc, argv, &i, "--timeout"))) {
            char *end;
            long t = strtol(v, &end, 10);
            if (!*v || *end || t < 1 || t > 3600) {
                fprintf(stderr, "ccproxy code: --timeout must be 1..3600 seconds, not '%s'\n", v);
                return 2;
            }
            o.timeout_s = (int)t;
        } else if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--timeout") ||
                   !strcmp(argv[i], "--key")) {
            fprintf(stderr, "ccproxy code: %s needs a value\n", argv[i]);
            return 2;
        } else {
            break;
        }
    }
    char claude[4096];
    if (!find_on_path("claude", claude, sizeof claude)) {
        fputs("ccproxy code: `claude` (Claude Code) is not on PATH; install it with: npm install "
              "-g @anthropic-ai/claude-code\n",
              stderr);
        return 127;
    }
    ccp_state st;
    if (ccp_state_init(&st, o.config, false) != 0) return 1;
    int keyed = ccp_cli_keys_mode(st.config[0] ? st.config : NULL);
    if (keyed < 0) return 1;
    if (keyed && !(proxy_key = ccp_cli_proxy_key(proxy_key))) {
        ccp_cli_proxy_key_hint("ccproxy code");
        return 2;
    }
    ccp_state_info info;
    bool was = false;
    if (ccp_service_start(&o, &st, &info, &was) != 0) return 1;
    if (!was)
        fprintf(stderr,
                "ccproxy: started a proxy at %s (pid %ld, log %s; `ccproxy stop` ends it)\n",
                info.url, info.pid, st.log_path);
    setenv("ANTHROPIC_BASE_URL", info.url, 1);
    const char *key = getenv("ANTHROPIC_API_KEY"), *tok = getenv("ANTHROPIC_AUTH_TOKEN");
    if (keyed) {
        /* Claude Code sends ANTHROPIC_API_KEY as x-api-key, which the proxy
         * reads before Bearer: a stale Anthropic key would shadow ours. */
        unsetenv("ANTHROPIC_API_KEY");
        setenv("ANTHROPIC_AUTH_TOKEN", proxy_key, 1);
    } else if (!(key && *key) && !(tok && *tok))
        setenv("ANTHROPIC_AUTH_TOKEN", "ccproxy", 1);
    char **cargv = calloc((size_t)(argc - i) + 2, sizeof *cargv);
    if (!cargv) return 1;
    cargv[0] = "claude";
    int n = 1;
    for (; i < argc; i++)
        cargv[n++] = argv[i];
    cargv[n] = NULL;
    fflush(NULL);
    execv(claude, cargv);
    fprintf(stderr, "ccproxy code: cannot run %s: %s\n", claude, strerror(errno));
    free(cargv);
    return 126;
}
