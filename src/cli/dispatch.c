/* dispatch.c — the ccproxy command line: picks the subcommand. Called by
 * main.c. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: ccproxy <command> [options]\n"
          "\n"
          "Lets Claude Code use any model provider: point ANTHROPIC_BASE_URL at it.\n"
          "\n"
          "commands:\n"
          "  serve     run the proxy in the foreground (default: 127.0.0.1:3456)\n"
          "  check     validate a config file and print every problem found\n"
          "  explain   show where a request would be routed and what would be sent\n"
          "  transformers  list the transformers pipelines can use, with their options\n"
          "  config-keys list every config key with its type, default and meaning\n"
          "  keys      make, list, revoke and rotate proxy keys (auth.mode: keys)\n"
          "  usage     requests, tokens and spend per key, tenant, provider, model, day\n"
          "  audit     verify or export the hash-chained audit record\n"
          "  version   print the version\n"
          "\n"
          "Run 'ccproxy <command> --help' for a command's options.\n",
          out);
}

int ccp_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) return ccp_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0) return ccp_cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0) return ccp_cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "transformers") == 0) return ccp_cmd_transformers(argc - 1, argv + 1);
    if (strcmp(cmd, "config-keys") == 0) return ccp_cmd_config_keys(argc - 1, argv + 1);
    if (strcmp(cmd, "keys") == 0) return ccp_cmd_keys(argc - 1, argv + 1);
    if (strcmp(cmd, "usage") == 0) return ccp_cmd_usage(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0) return ccp_cmd_audit(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return ccp_cmd_version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ccproxy: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
