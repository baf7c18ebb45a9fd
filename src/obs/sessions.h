/* sessions.h — the latest request of each recent Claude Code session, for
 * `ccproxy statusline` (GET /sessions/ID).
 *
 * Claude Code sends x-claude-code-session-id on every request. When a
 * /v1/messages request finishes, its route, provider, model and token
 * counts are kept under that id, with the session's running totals. The
 * table is bounded: past its capacity the least recently updated session
 * is forgotten (LRU), so a client inventing ids cannot grow it. One mutex
 * guards it; it is taken once per finished request, for a few copies. */
#ifndef CCP_OBS_SESSIONS_H
#define CCP_OBS_SESSIONS_H

#include "core/buf.h"
#include "obs/access.h"

#include <stddef.h>

typedef struct ccp_sessions ccp_sessions;

/* A table for up to cap sessions (caller owns; ccp_sessions_free). NULL
 * when cap is 0 (the table is off); every function accepts NULL. */
ccp_sessions *ccp_sessions_new(size_t cap);
void ccp_sessions_free(ccp_sessions *s);

/* Records a finished request (any thread): ignored unless it is a
 * /v1/messages request that carries a session id. */
void ccp_sessions_record(ccp_sessions *s, const ccp_access_rec *rec);

/* Appends the session's JSON to out and returns true, or returns false
 * when the table does not know id. */
bool ccp_sessions_write_json(ccp_sessions *s, const char *id, ccp_buf *out);

#endif
