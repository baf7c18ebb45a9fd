/* route.h — choosing where a request goes.
 *
 * Precedence, first that applies wins:
 *   1. a subagent tag <ccproxy-model>provider/model</ccproxy-model> in the
 *      system prompt (removed from the request);
 *   2. a request model of the form provider/model or provider,model naming
 *      a configured provider (Claude Code's /model command);
 *   2b. router.script: a plugin's route hook, when it returns a target
 *      (plugin/plugin.h; nil, or a failure, goes on below);
 *   3. router.rules, in order (a rule with only a pipeline adds that
 *      pipeline and lets the steps below choose the route);
 *   4. the request's stage, when that stage has a route: long_context,
 *      web_search, image, background, planning, thinking (in that order of
 *      priority when several apply);
 *   5. router.default.
 * The server and `ccproxy explain` both call ccp_route_pick: one engine. */
#ifndef CCP_ROUTER_ROUTE_H
#define CCP_ROUTER_ROUTE_H

#include "config/config.h"
#include "core/buf.h"
#include "core/error.h"

#include <json-c/json.h>
#include <stdint.h>

/* Looks up a request header (case-insensitive); NULL when absent. */
typedef const char *(*ccp_header_get)(void *ud, const char *name);

typedef enum {
    CCP_VIA_TAG,     /* the subagent tag */
    CCP_VIA_MODEL,   /* provider/model in the request's model */
    CCP_VIA_RULE,    /* a router rule */
    CCP_VIA_STAGE,   /* the stage's route */
    CCP_VIA_DEFAULT, /* router.default */
    CCP_VIA_SCRIPT,  /* router.script: a plugin's route hook */
} ccp_route_via;

typedef struct ccp_route_choice {
    ccp_route_via via;
    ccp_stage stage;              /* the stage whose route was taken, else the detected one */
    unsigned stages;              /* every stage the request matches (bit per ccp_stage) */
    const ccp_rule *rule;         /* the rule that matched (via == CCP_VIA_RULE when it routed) */
    const ccp_pipeline *pipeline; /* the matched rule's pipeline, run before the target's */
    const ccp_route *route;       /* the targets in order; borrowed (config or below) */
    int64_t tokens;               /* estimated input tokens; -1 when not needed */
    /* An explicit choice (tag, model) is a route of its own: */
    ccp_target explicit_target;
    ccp_route explicit_route;
    char *explicit_model; /* owned */
} ccp_route_choice;

/* Classifies req: a bitmask of the stages it matches (bit 1 << stage;
 * CCP_STAGE_DEFAULT always set). *tokens_out is the token estimate if
 * already known, else -1: it is then made when the config needs it (a
 * long_context route, a rule on tokens) and stored back; it stays -1 when
 * not needed, and long_context is then not detected. */
unsigned ccp_route_stages(const ccp_router_config *rc, json_object *req, int64_t *tokens_out);

/* Picks the route for req (which it may edit: the subagent tag is removed).
 * hdr/ud look up request headers for rules (hdr may be NULL). Returns 0 and
 * fills *out (free with ccp_route_choice_free), or CCP_ENOTFOUND /
 * CCP_EINVAL with err saying what to fix. */
int ccp_route_pick(const ccp_config *cfg, json_object *req, ccp_header_get hdr, void *ud,
                   ccp_route_choice *out, ccp_error *err);
void ccp_route_choice_free(ccp_route_choice *c);

/* A tenant's router (tenants.NAME.router): when c was routed by stage or
 * by default (steps 4 and 5), picks again with over[s] (n == 0: none)
 * taking the place of router's stage s. Routes by tag, model, script or
 * rule stand. c then points into over or cfg, which must outlive it. */
void ccp_route_overlay(const ccp_config *cfg, const ccp_route *over, ccp_route_choice *c);

/* Makes req, a fresh parse of the request c was picked for, what the pick
 * left of that request (it removed the subagent tag): the exchange frees a
 * request's tree once an attempt is encoded and parses it again for a
 * retry or a fallback. */
void ccp_route_reapply(const ccp_route_choice *c, json_object *req);

/* "stage=thinking; via=rule; rule=NAME; target=provider/model" for the
 * x-ccproxy-route header and the log; served is the target that answered
 * (a fallback, perhaps). model NULL in a target: the client's model. Each
 * value is cut at 128 bytes and the whole at 512 (ending "..."), control
 * bytes become '?': it is sent as a header. Appends to out. */
void ccp_route_describe(const ccp_route_choice *c, const ccp_target *served,
                        const char *client_model, ccp_buf *out);

const char *ccp_route_via_name(ccp_route_via v);

/* The pipeline for a target: the provider's pipeline for the model it
 * sends (the client's when the target keeps it), else the provider's
 * default; NULL when none. */
const ccp_pipeline *ccp_route_target_pipeline(const ccp_target *t, const char *client_model);

#endif
