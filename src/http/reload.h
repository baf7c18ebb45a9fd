/* reload.h — hot reload of the configuration (reload.c).
 *
 * The entry point is ccp_app_reload (app.h). This header holds what the
 * server and the serve command wire in: the reload state an app owns and
 * the main-loop hooks (SIGHUP, the file watch of server.watch_config). */
#ifndef CCP_HTTP_RELOAD_H
#define CCP_HTTP_RELOAD_H

#include <stdbool.h>
#include <uv.h>

typedef struct ccp_reload ccp_reload;

/* The reload state: path is the config file (copied and made absolute;
 * NULL: the embedded default); fixed_* say the command line overrode the
 * log level/format, so a reload keeps them. Caller owns; free with
 * ccp_reload_free. */
ccp_reload *ccp_reload_new(const char *path, bool fixed_log_level, bool fixed_log_format);
void ccp_reload_free(ccp_reload *r);

/* Server hooks (ccp_server_opts), all on the server's main loop; app is the
 * ccp_app. main_start starts the file watch when server.watch_config is
 * on; main_stop closes it; on_sighup reloads. */
void ccp_reload_main_start(void *app, uv_loop_t *loop);
void ccp_reload_main_stop(void *app);
void ccp_reload_on_sighup(void *app);

/* Reloads completed since start (for GET /status). */
unsigned ccp_reload_count(const ccp_reload *r);

#endif
