/* cli.h — the ccproxy subcommands. Each takes argv after the subcommand name
 * (argv[0] is the subcommand) and returns the process exit code. */
#ifndef CCP_CLI_CLI_H
#define CCP_CLI_CLI_H

#include "config/config.h"

/* The whole command line (argv[0] is the program): what `ccproxy` runs
 * (main.c). */
int ccp_cli_main(int argc, char **argv);

int ccp_cmd_serve(int argc, char **argv);
int ccp_cmd_check(int argc, char **argv);
int ccp_cmd_explain(int argc, char **argv);
int ccp_cmd_replay(int argc, char **argv);
int ccp_cmd_tail(int argc, char **argv);
int ccp_cmd_transformers(int argc, char **argv);
int ccp_cmd_config_keys(int argc, char **argv);
int ccp_cmd_version(int argc, char **argv);

/* Loads the config the way every subcommand does: --config path, else the
 * lookup order in config.h, else the embedded default. Prints diagnostics to
 * stderr on failure and returns NULL. The file used is the config's source
 * ("<embedded default>" when none). */
ccp_config *ccp_cli_load_config(const char *explicit_path);

#endif
