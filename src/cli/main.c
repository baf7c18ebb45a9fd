/* main.c — the ccproxy command: dispatches to a subcommand. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* GnuTLS is in the process only as a dependency of Debian's libcurl (through
 * librtmp and libldap, for protocols ccproxy never enables; TLS is
 * OpenSSL's), yet its library constructor initialises it when it is loaded:
 * 0.6 MB of an idle proxy's memory. It skips that when
 * GNUTLS_NO_IMPLICIT_INIT is in the environment the process started with
 * (setting it later is too late, and libc's start-up resets the environment
 * to the original anyway). So `serve` adds it and executes itself again, from
 * the executable's .preinit_array: the libraries are mapped by then but none
 * of their constructors has run, and the pid stays the same. Measured cost:
 * about 3 ms of start-up. Skipped when the variable is already set (to
 * anything) and under valgrind, whose tools do not follow an exec of
 * /proc/self/exe. */
static void quiet_gnutls(int argc, char **argv, char **envp)
{
    static const char var[] = "GNUTLS_NO_IMPLICIT_INIT=";
    if (argc < 2 || strcmp(argv[1], "serve") != 0 || !envp) return;
    /* libc is not initialised yet (getenv and setenv do not see envp): the
     * environment is read and extended by hand. */
    size_t n = 0;
    for (; envp[n]; n++) {
        if (strncmp(envp[n], var, sizeof var - 1) == 0) return;
        if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0 && strstr(envp[n], "vgpreload")) return;
    }
    char **env = malloc((n + 2) * sizeof *env);
    if (!env) return;
    memcpy(env, envp, n * sizeof *env);
    env[n] = "GNUTLS_NO_IMPLICIT_INIT=1";
    env[n + 1] = NULL;
    execve("/proc/self/exe", argv, env);
    /* No /proc, or exec refused: go on with GnuTLS initialised. */
    free(env);
}
__attribute__((section(".preinit_array"),
               used)) static void (*const preinit_quiet_gnutls)(int, char **,
                                                                char **) = quiet_gnutls;

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
          "  version   print the version\n"
          "\n"
          "Run 'ccproxy <command> --help' for a command's options.\n",
          out);
}

int main(int argc, char **argv)
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
