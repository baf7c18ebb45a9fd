/* dispatch.c — the ccproxy command line: the command table, and picking
 * the subcommand. Called by main.c.
 *
 * The table is the one list of commands: `ccproxy help`, the shell
 * completions (cmd_completion.c) and the man page (scripts/gen-man.sh,
 * from `ccproxy help`) are written from it. */
#include "cli/cli.h"
#include "plugin/plugin.h"

#include <stdio.h>
#include <string.h>

/* One row per command: name, entry point, one line of help, and what the
 * shell completions offer after it (cli.h has the notation). */
const ccp_command ccp_commands[] = {
    {"serve", ccp_cmd_serve, "run the proxy in the foreground (default: 127.0.0.1:3456)",
     "--config=@file --host= --port= --workers= --log-level=error|warn|info|debug "
     "--log-format=text|json --capture=@dir --help"},
    {"start", ccp_cmd_start, "start the proxy in the background and print its address",
     "--config=@file --host= --port= --workers= --log-level=error|warn|info|debug --timeout= "
     "--json --help"},
    {"stop", ccp_cmd_stop, "stop the background proxy (it drains first)",
     "--config=@file --key= --timeout= --help"},
    {"restart", ccp_cmd_restart, "stop the background proxy and start it again",
     "--config=@file --host= --port= --workers= --log-level=error|warn|info|debug --timeout= "
     "--json --help"},
    {"status", ccp_cmd_status, "show the running proxy: address, uptime, providers' health",
     "--config=@file --json --help"},
    {"reload", ccp_cmd_reload, "make the running proxy read its config again",
     "--config=@file --json --help"},
    {"code", ccp_cmd_code, "run Claude Code through the proxy, starting one if needed",
     "--config=@file --key= --timeout= --help"},
    {"env", ccp_cmd_env, "print the shell lines that point Claude Code at the proxy",
     "--config=@file --key= --shell=sh|bash|zsh|fish --help"},
    {"statusline", ccp_cmd_statusline, "print a line for Claude Code's status bar",
     "--config=@file --url= --help"},
    {"check", ccp_cmd_check, "validate a config file and print every problem found",
     "--config=@file --help"},
    {"explain", ccp_cmd_explain, "show where a request would be routed and what would be sent",
     "--config=@file --header= --help @file"},
    {"replay", ccp_cmd_replay, "play a captured exchange again (offline, as a fixture, or live)",
     "--offline --fixture=@dir --name= --to= --config=@file --help @file"},
    {"tail", ccp_cmd_tail, "print one line per request of a running proxy as it happens",
     "--url= --provider= --status=4xx|5xx --json --count= --config=@file --help"},
    {"transformers", ccp_cmd_transformers,
     "list the transformers pipelines can use, with their options", "--markdown --help"},
    {"keys", ccp_cmd_keys, "make, list, show, revoke and rotate proxy keys (auth.mode: keys)",
     "@create|list|show|revoke|rotate|push --name= --tenant= --rpm= --tpm= --concurrency= "
     "--budget= --models= --expires= --json --state=@file --config=@file --redis= --url= "
     "--running --help"},
    {"usage", ccp_cmd_usage, "requests, tokens and spend per key, tenant, provider, model, day",
     "--key= --tenant= --since= --json --state=@file --config=@file --help"},
    {"audit", ccp_cmd_audit, "verify, export or archive the hash-chained audit record",
     "@verify|export|archive --since= --before= --out=@file --archive=@file --state=@file "
     "--config=@file --help"},
    {"config-keys", ccp_cmd_config_keys, "list every config key with its type, default and meaning",
     "--update-doc=@file --help"},
    {"plugin", ccp_cmd_plugin, "write a plugin template (new) or run a plugin's hooks (test)",
     "@new|test --isolation=process|inprocess --format=anthropic|openai-chat|gemini --with= "
     "--timeout-ms= --memory-mb= --dir= --help"},
    {"plugins", ccp_cmd_plugins,
     "list the plugins with their caps, breaker state and figures (from a running proxy)",
     "--config=@file --url= --json --help"},
    {"providers", ccp_cmd_providers, "the built-in provider catalog (--json)",
     "--json --markdown --help"},
    {"init", ccp_cmd_init, "write a config: pick providers, keys and models",
     "--yes --provider= --output=@file --force --default= --background= --thinking= "
     "--long-context= --web-search= --image= --key-env= --no-pipelines --help"},
    {"import-ccr", ccp_cmd_import_ccr, "convert a claude-code-router config.json",
     "--output=@file --force --help @file"},
    {"completion", ccp_cmd_completion, "print the shell completion script for bash, zsh or fish",
     "--help @bash|zsh|fish"},
    {"version", ccp_cmd_version, "print the version", "--help"},
};
const size_t ccp_n_commands = sizeof ccp_commands / sizeof ccp_commands[0];

static void usage(FILE *out)
{
    fputs("usage: ccproxy <command> [options]\n"
          "\n"
          "Lets Claude Code use any model provider: point ANTHROPIC_BASE_URL at it.\n"
          "Quick start: `ccproxy code` starts a proxy if none runs and runs Claude Code\n"
          "through it.\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < ccp_n_commands; i++)
        fprintf(out, "  %-12s  %s\n", ccp_commands[i].name, ccp_commands[i].summary);
    fputs("\n"
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
    /* Hidden (not in the table): a sandboxed plugin host, started by the
     * proxy itself (plugin/host.c). */
    if (strcmp(cmd, "plugin-host") == 0) return ccp_plugin_host_main(argc - 1, argv + 1);
    for (size_t i = 0; i < ccp_n_commands; i++)
        if (strcmp(cmd, ccp_commands[i].name) == 0) return ccp_commands[i].fn(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0) return ccp_cmd_version(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ccproxy: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
