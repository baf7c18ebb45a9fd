/* config_teams.c — the `auth` and `state` sections: whether clients need a
 * proxy key, and where keys, usage and the audit record live (SQLite). src/teams/ enforces them;
 * docs/teams.md explains them. */
#include "config/config_internal.h"

#include <stddef.h>

static const char *const auth_modes[] = {"none", "keys", NULL}; /* ccp_auth_mode's order */

#define AUTH(f) offsetof(ccp_auth_config, f)
static const ccp_key auth_keys[] = {
    {.name = "mode",
     .type = CCP_KEY_ENUM,
     .offset = AUTH(mode),
     .def = "none",
     .choices = auth_modes,
     .help = "`keys`: every request needs a proxy key (`x-api-key` or `Authorization: Bearer`) "
             "made with `ccproxy keys create`; `none`: anyone who reaches the port may use it"},
    {.name = "allow_unauthenticated",
     .type = CCP_KEY_BOOL,
     .offset = AUTH(allow_unauthenticated),
     .def = "false",
     .help = "lets `mode: none` listen on a non-loopback address (ccproxy refuses to start "
             "otherwise): only behind a firewall or an authenticating gateway"},
};
const ccp_key_table ccp_cfg_auth_keys = CCP_KEYS("auth", auth_keys);

#define STATE(f) offsetof(ccp_state_config, f)
static const ccp_key state_keys[] = {
    {.name = "path",
     .type = CCP_KEY_STR,
     .offset = STATE(path),
     .min = 1,
     .doc_def = "`$XDG_STATE_HOME/ccproxy/state.db`, else `~/.local/state/ccproxy/state.db`",
     .help = "the SQLite file of proxy keys, usage and audit (WAL mode); the `keys`, `usage` and "
             "`audit` commands work on it directly"},
    {.name = "poll_ms",
     .type = CCP_KEY_MS,
     .offset = STATE(poll_ms),
     .def = "1000",
     .min = 10,
     .max = 60000,
     .help = "how often a running proxy looks for keys changed by `ccproxy keys` (SQLite's "
             "`data_version`: one cheap query)"},
    {.name = "flush_ms",
     .type = CCP_KEY_MS,
     .offset = STATE(flush_ms),
     .def = "200",
     .min = 1,
     .max = 60000,
     .help = "usage, last-used times and audit rows are written by a thread of their own, in one "
             "transaction per this many milliseconds, never on the request path"},
};
const ccp_key_table ccp_cfg_state_keys = CCP_KEYS("state", state_keys);
