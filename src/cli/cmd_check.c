/* cmd_check.c — `ccproxy check`: validate a config, print every problem. */
#include "cli/cli.h"

#include "http/tls_server.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy check [--config FILE]\n"
          "\n"
          "Validates the config and prints every problem as file:line:col: error: message.\n"
          "Exits 0 when the config is valid, 1 otherwise.\n"
          "\n"
          "  -c, --config FILE   the config file (default: $CCPROXY_CONFIG, ./ccproxy.yaml,\n"
          "                      ~/.config/ccproxy/config.yaml, else the embedded default)\n",
          out);
}

int ccp_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    ccp_config *cfg = ccp_cli_load_config(config_path);
    if (!cfg) return 1;
    /* server.tls: the certificate and key are loaded as serve would, so a
     * renewed pair is checked before a reload or restart meets it. */
    if (cfg->server.tls.cert_file) {
        ccp_error err = {0};
        ccp_tls_server *ts = ccp_tls_server_new(&cfg->server.tls, &err);
        if (!ts) {
            fprintf(stderr, "%s: error: %s\n", cfg->source, err.msg);
            ccp_config_unref(cfg);
            return 1;
        }
        ccp_tls_server_free(ts);
    }
    printf("%s: ok, %zu provider%s", cfg->source, cfg->n_providers,
           cfg->n_providers == 1 ? "" : "s");
    if (cfg->has_default)
        printf(", default route %s/%s\n", cfg->router_default.provider->name,
               cfg->router_default.model ? cfg->router_default.model : "(client's model)");
    else
        printf(", no default route: /v1/messages will answer with an error until a provider "
               "is configured\n");
    ccp_config_unref(cfg);
    return 0;
}
