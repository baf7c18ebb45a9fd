/* cmd_env.c — `ccproxy env`: the shell lines that point Claude Code at the
 * proxy, for `eval "$(ccproxy env)"` (sh, bash, zsh) or `ccproxy env
 * --shell fish | source`. */
#include "cli/cli.h"
#include "cli/state.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy env [--config FILE] [--key KEY] [--shell sh|bash|zsh|fish]\n"
          "\n"
          "Prints the lines that point Claude Code at the proxy serving this config\n"
          "(or, when none runs, at the address the config would listen on):\n"
          "  eval \"$(ccproxy env)\"              # sh, bash, zsh\n"
          "  ccproxy env --shell fish | source  # fish\n"
          "It sets ANTHROPIC_BASE_URL, and ANTHROPIC_AUTH_TOKEN to a placeholder when\n"
          "neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set (so that Claude Code\n"
          "does not ask to log in; the proxy sends its providers' own keys).\n"
          "With auth.mode keys it sets ANTHROPIC_AUTH_TOKEN to the proxy key (--key, else\n"
          "CCPROXY_API_KEY) and unsets ANTHROPIC_API_KEY, which would shadow it.\n"
          "\n"
          "  -c, --config FILE    the config (default: the lookup of `ccproxy serve`)\n"
          "  -k, --key KEY        the proxy key, for auth.mode keys (`ccproxy keys create`)\n"
          "  -s, --shell S        sh (also bash, zsh) or fish; default: fish when $SHELL\n"
          "                       is fish, else sh\n"
          "\n"
          "exit: 0; 1 the config cannot be read; 2 usage error, or auth.mode keys and no\n"
          "proxy key\n",
          out);
}

/* Writes s single-quoted for sh and fish alike ('...' with ' as '\''
 * for sh, \' for fish). */
static void quoted(const char *s, bool fish)
{
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\'')
            fputs(fish ? "\\'" : "'\\''", stdout);
        else if (fish && *s == '\\')
            fputs("\\\\", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

static void line(const char *name, const char *value, bool fish)
{
    printf(fish ? "set -gx %s " : "export %s=", name);
    quoted(value, fish);
    putchar('\n');
}

int ccp_cmd_env(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"shell", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *shell = NULL, *proxy_key = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:s:k:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 's':
            shell = optarg;
            break;
        case 'k':
            proxy_key = optarg;
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
        fprintf(stderr, "ccproxy env: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!shell) {
        const char *sh = getenv("SHELL");
        const char *base = sh ? strrchr(sh, '/') : NULL;
        shell = base && !strcmp(base + 1, "fish") ? "fish" : "sh";
    }
    bool fish = !strcmp(shell, "fish");
    if (!fish && strcmp(shell, "sh") && strcmp(shell, "bash") && strcmp(shell, "zsh")) {
        fprintf(stderr, "ccproxy env: --shell must be sh, bash, zsh or fish, not '%s'\n", shell);
        return 2;
    }
    ccp_state st;
    ccp_state_info info;
    char url[300];
    bool have_state = ccp_state_init(&st, config, true) == 0;
    int keyed = ccp_cli_keys_mode(have_state ? (st.config[0] ? st.config : NULL) : config);
    if (keyed < 0) return 1;
    if (keyed && !(proxy_key = ccp_cli_proxy_key(proxy_key))) {
        ccp_cli_proxy_key_hint("ccproxy env");
        return 2;
    }
    if (have_state && ccp_state_running(&st, &info)) {
        snprintf(url, sizeof url, "%s", info.url);
    } else {
        /* Not running: where this config would listen. */
        ccp_config *cfg = ccp_cli_load_config(config);
        if (!cfg) return 1;
        const char *h = cfg->server.host;
        if (!strcmp(h, "0.0.0.0") || !strcmp(h, "localhost")) h = "127.0.0.1";
        if (!strcmp(h, "::")) h = "::1";
        snprintf(url, sizeof url, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h,
                 cfg->server.port);
        ccp_config_unref(cfg);
        fprintf(stderr, "# ccproxy is not running for this config: `ccproxy start` starts it\n");
    }
    line("ANTHROPIC_BASE_URL", url, fish);
    const char *key = getenv("ANTHROPIC_API_KEY"), *tok = getenv("ANTHROPIC_AUTH_TOKEN");
    if (keyed) {
        /* The proxy reads x-api-key (ANTHROPIC_API_KEY) before Bearer: a
         * stale Anthropic key would shadow the proxy key. */
        line("ANTHROPIC_AUTH_TOKEN", proxy_key, fish);
        puts(fish ? "set -e ANTHROPIC_API_KEY" : "unset ANTHROPIC_API_KEY");
    } else if (!(key && *key) && !(tok && *tok))
        line("ANTHROPIC_AUTH_TOKEN", "ccproxy", fish);
    return 0;
}
