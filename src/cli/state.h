/* state.h — where a running ccproxy leaves word of itself, so that other
 * ccproxy commands (start, stop, status, reload, code, env, statusline)
 * can find it.
 *
 * One set of files per config, in the XDG state directory
 * ($XDG_STATE_HOME/ccproxy, else ~/.local/state/ccproxy), named by a hash
 * of the config file's absolute path (the embedded default has a name of
 * its own):
 *   NAME.pid   the pid; `serve` holds an exclusive flock on it while it
 *              runs, so a stale file (a crash) is told from a live one
 *   NAME.json  {"pid","url","admin_url","config","log","started"}, written
 *              once the listeners are bound
 *   NAME.log   what `ccproxy start` redirects the daemon's stderr to */
#ifndef CCP_CLI_STATE_H
#define CCP_CLI_STATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ccp_state {
    char dir[PATH_MAX];
    char pid_path[PATH_MAX + 128];
    char json_path[PATH_MAX + 128];
    char log_path[PATH_MAX + 128];
    char config[PATH_MAX]; /* absolute path of the config, or "" for the embedded default */
    int lock_fd;           /* serve's locked pid file; -1 when not held */
} ccp_state;

/* What a running proxy published (NAME.json). */
typedef struct ccp_state_info {
    long pid;
    char url[300];       /* a URL a client on this machine can use */
    char admin_url[300]; /* "" when there is no admin listener */
    char config[PATH_MAX];
    uint64_t started_ms;
} ccp_state_info;

/* Fills st for the config the command would use: explicit_config (from
 * --config) or the usual lookup (config.h). Creates the directory. Returns
 * 0, or -1 with a message on stderr unless quiet (no HOME, cannot create
 * it). */
int ccp_state_init(ccp_state *st, const char *explicit_config, bool quiet);

/* Whether a proxy serving st's config runs now (its pid file is locked);
 * when it does and info is non-NULL, fills info from NAME.json (and
 * returns false if that is not there yet). */
bool ccp_state_running(const ccp_state *st, ccp_state_info *info);

/* For `serve`: takes the pid file's lock and writes the pid. Returns false
 * (and holds nothing) when another process holds it. */
bool ccp_state_claim(ccp_state *st);
/* For `serve`, once listening: writes NAME.json. host may be a wildcard
 * address (0.0.0.0, ::): the URL written names the loopback instead. */
void ccp_state_publish(ccp_state *st, const char *host, int port, const char *admin_host,
                       int admin_port);
/* For `serve`, at exit: removes the files it wrote and drops the lock. */
void ccp_state_release(ccp_state *st);

/* Unix time in milliseconds. */
uint64_t ccp_state_now_ms(void);

#endif
