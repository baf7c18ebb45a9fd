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
int ccp_cmd_keys(int argc, char **argv);
int ccp_cmd_audit(int argc, char **argv);
int ccp_cmd_usage(int argc, char **argv);

/* Opens the state file (teams/keystore.h) for the keys, usage and audit
 * commands: state (--state) if given, else the config's state.path, else
 * the XDG default. Prints why to stderr (as "ccproxy cmd: ...") and returns
 * NULL on failure; the caller closes it (sqlite3_close). */
struct sqlite3;
struct sqlite3 *ccp_cli_open_state(const char *state, const char *config, const char *cmd);
/* For usage and audit: a connection to the config's state.redis (the
 * config as ccp_cli_load_config finds it), or NULL when the config names
 * none; *failed: the config did not load or Redis is unreachable (said on
 * stderr as "ccproxy cmd: ..."). The caller frees it (redisFree).
 * state_redis.c. */
struct redisContext;
struct redisContext *ccp_cli_state_redis(const char *config, const char *cmd, bool *failed);
int ccp_cmd_plugin(int argc, char **argv);     /* cmd_plugin.c */
int ccp_cmd_plugins(int argc, char **argv);    /* cmd_plugins.c */
int ccp_cmd_providers(int argc, char **argv);  /* cmd_providers.c */
int ccp_cmd_init(int argc, char **argv);       /* cmd_init.c */
int ccp_cmd_import_ccr(int argc, char **argv); /* cmd_import_ccr.c */
int ccp_cmd_start(int argc, char **argv);
int ccp_cmd_stop(int argc, char **argv);
int ccp_cmd_restart(int argc, char **argv);
int ccp_cmd_status(int argc, char **argv);
int ccp_cmd_reload(int argc, char **argv);
int ccp_cmd_code(int argc, char **argv);
int ccp_cmd_env(int argc, char **argv);
int ccp_cmd_statusline(int argc, char **argv);
int ccp_cmd_completion(int argc, char **argv);

/* A row of the command table (dispatch.c). */
typedef struct ccp_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary; /* one line, for `ccproxy help` and the man page */
    /* What the shell completions offer, space-separated words: "--opt" (a
     * flag), "--opt=" (takes a value), "--opt=a|b" (takes one of those),
     * "--opt=@file" (takes a file name); a word without "--" is an
     * argument: "@file" a file name, "@a|b" one of those. */
    const char *options;
} ccp_command;

extern const ccp_command ccp_commands[];
extern const size_t ccp_n_commands;

/* Loads the config the way every subcommand does: --config path, else the
 * lookup order in config.h, else the embedded default. Prints diagnostics to
 * stderr on failure and returns NULL. The file used is the config's source
 * ("<embedded default>" when none). */
ccp_config *ccp_cli_load_config(const char *explicit_path);

/* The admin key a command sends to a running proxy's admin endpoints:
 * CCPROXY_ADMIN_KEY when set, else cfg's auth.admin_key (cfg may be NULL);
 * NULL when neither. Borrowed from the environment or from cfg. */
const char *ccp_cli_admin_key(const ccp_config *cfg);

/* Whether the config at path (NULL: the embedded default) has auth.mode
 * keys: 1 yes, 0 no, -1 it cannot be loaded (the problems printed). */
int ccp_cli_keys_mode(const char *path);

/* The proxy key `code` and `env` hand to Claude Code: given (--key), else
 * CCPROXY_API_KEY; NULL when neither. Borrowed. */
const char *ccp_cli_proxy_key(const char *given);

/* Prints, as cmd, the one-line hint for auth.mode keys without a key. */
void ccp_cli_proxy_key_hint(const char *cmd);

#endif
