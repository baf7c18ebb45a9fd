/* cmd_common.c — what the subcommands share: loading the config. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>

ccp_config *ccp_cli_load_config(const char *explicit_path)
{
    ccp_diags diags = {0};
    ccp_config *cfg = NULL;
    char *path = ccp_config_find_path(explicit_path);
    int rc =
        path ? ccp_config_load_file(path, &cfg, &diags) : ccp_config_load_default(&cfg, &diags);
    if (rc != 0) {
        ccp_diags_print(&diags, stderr);
        fprintf(stderr, "ccproxy: %zu problem%s in %s\n", diags.n, diags.n == 1 ? "" : "s",
                path ? path : "the embedded default config");
        cfg = NULL;
    }
    ccp_diags_free(&diags);
    free(path);
    return cfg;
}

const char *ccp_cli_admin_key(const ccp_config *cfg)
{
    const char *env = getenv("CCPROXY_ADMIN_KEY");
    if (env && *env) return env;
    return cfg ? cfg->auth.admin_key : NULL;
}

int ccp_cli_keys_mode(const char *path)
{
    if (!path) return 0; /* the embedded default has no proxy keys */
    ccp_config *cfg = ccp_cli_load_config(path);
    if (!cfg) return -1;
    int keyed = cfg->auth.mode == CCP_AUTH_MODE_KEYS;
    ccp_config_unref(cfg);
    return keyed;
}

const char *ccp_cli_proxy_key(const char *given)
{
    if (given && *given) return given;
    const char *env = getenv("CCPROXY_API_KEY");
    return env && *env ? env : NULL;
}

void ccp_cli_proxy_key_hint(const char *cmd)
{
    fprintf(stderr,
            "%s: this proxy asks for a proxy key (auth.mode: keys): create one with `ccproxy "
            "keys create --name me` and pass it with --key KEY or CCPROXY_API_KEY\n",
            cmd);
}
