/* state_redis.c — the Redis that `ccproxy usage` and `ccproxy audit` read
 * when the config shares state through one (state.redis): every
 * instance's usage and audit rows are there, not in one state file. */
#include "cli/cli.h"

#include "teams/redis_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

redisContext *ccp_cli_state_redis(const char *config, const char *cmd, bool *failed)
{
    *failed = false;
    char *cpath = ccp_config_find_path(config);
    if (!cpath) return NULL; /* the embedded default names no Redis */
    ccp_config *cfg = ccp_cli_load_config(cpath);
    free(cpath);
    if (!cfg) {
        *failed = true;
        return NULL;
    }
    redisContext *c = NULL;
    if (cfg->state.redis) {
        ccp_error err = {0};
        c = ccp_redis_sync_connect(cfg->state.redis, 5000, &err);
        if (!c) {
            fprintf(stderr, "ccproxy %s: %s\n", cmd, err.msg);
            *failed = true;
        }
    }
    ccp_config_unref(cfg);
    return c;
}
