/* admin.h — the debugging endpoints of the admin listener (rows of the
 * endpoint table in http/app.c, all with the admin flag):
 *
 *   GET /admin/events     SSE: one "request" event per finished request
 *   GET /admin/requests   the last requests (JSON), for a first screen
 *   GET /admin/stats      the last hour per minute (JSON)
 *   GET /admin/capture    ?id=req_...: that request's capture file (JSON lines)
 *   GET /ui               the dashboard (HTML/CSS/JS embedded at build time)
 */
#ifndef CCP_DEBUG_ADMIN_H
#define CCP_DEBUG_ADMIN_H

#include "http/app.h"

void ccp_debug_events(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_debug_requests(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_debug_stats(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_debug_capture(ccp_worker *w, const ccp_request *req, ccp_response *res);
void ccp_debug_ui(ccp_worker *w, const ccp_request *req, ccp_response *res);

#endif
