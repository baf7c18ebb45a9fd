/* gate.h — the guard on the request path of POST /v1/messages: the one
 * call before routing (the key, its model globs and limits) and the one at
 * the end (reconciliation, usage, audit). messages.c calls both; with
 * auth.mode none they cost a NULL test. */
#ifndef CCP_TEAMS_GATE_H
#define CCP_TEAMS_GATE_H

#include "http/app.h"
#include "router/route.h"
#include "teams/guard.h"

/* What runs once a request is admitted: the rest of the handler, with the
 * body (owned) and the ticket (copied in). */
typedef void (*ccp_teams_go)(ccp_worker *w, const ccp_request *req, ccp_response *res,
                             json_object *body, const ccp_guard_ticket *t);

/* Admits req (its parsed body): returns true when admitted at once (the
 * limit headers are set on res, t holds the key's slot, the caller goes
 * on). Returns false when it answered (401, 403, 429 with retry-after and
 * anthropic-ratelimit-* headers; 529 when state.redis is unreachable and
 * fail_closed) or when Redis is asked first, in which case go runs when it
 * answers. Either way body is then the gate's. */
bool ccp_teams_admit(ccp_worker *w, const ccp_request *req, ccp_response *res, json_object *body,
                     ccp_guard_ticket *t, ccp_teams_go go);

/* For the endpoints that use a key but no limits (count_tokens, models):
 * returns true when the request may go on (auth.mode none, or a valid
 * key); else answers 401 authentication_error, as /v1/messages does, and
 * audits the refusal under endpoint. */
bool ccp_teams_check(ccp_worker *w, const ccp_request *req, ccp_response *res,
                     const char *endpoint);

/* The request ended with what acc says (t->status: the status the client
 * got): releases t. */
void ccp_teams_end(ccp_worker *w, ccp_guard_ticket *t, const ccp_access *acc,
                   const char *request_id);

/* After routing: cuts choice's route down to the providers the key's
 * tenant may use (t owns the copy, which choice then points at); answers
 * 403 permission_error and returns false when none is left. */
bool ccp_teams_route(ccp_worker *w, const ccp_config *cfg, ccp_guard_ticket *t,
                     ccp_route_choice *choice, ccp_response *res);

/* The request's context is going: releases what t still holds. */
void ccp_teams_finish(ccp_worker *w, ccp_guard_ticket *t);

/* Refuses mode none on a non-loopback host unless allowed; returns 0 or
 * CCP_ECONFIG with err saying why and how. */
int ccp_teams_check_exposure(const ccp_config *cfg, const char *host, ccp_error *err);

#endif
