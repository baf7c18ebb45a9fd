/* http_client.h — the small blocking HTTP client the commands use to ask a
 * running ccproxy (GET /health, GET /status, POST /admin/reload, GET
 * /sessions/ID). libcurl's easy interface; local calls only. */
#ifndef CCP_CLI_HTTP_CLIENT_H
#define CCP_CLI_HTTP_CLIENT_H

#include "core/buf.h"

/* Sends method to url (a POST sends body, or "{}", as application/json)
 * and fills out with the answer's body and *status with its status.
 * Returns 0, or -1 when no answer came (refused, timed out). */
int ccp_cli_http(const char *method, const char *url, const char *body, long timeout_ms,
                 ccp_buf *out, long *status);

/* ccp_cli_http for an admin endpoint: sends admin_key (NULL: none) as
 * Authorization: Bearer, which a proxy with auth.admin_key asks for. */
int ccp_cli_http_admin(const char *method, const char *url, const char *body, long timeout_ms,
                       const char *admin_key, ccp_buf *out, long *status);

#endif
