/* tenant.h — what a key's tenant (the `tenants` section) does to a
 * request's model and route: its model globs, its router overriding
 * router's stages, its providers cutting the route down. The server
 * (gate.c) and `ccproxy explain` both call these: one implementation. */
#ifndef CCP_TEAMS_TENANT_H
#define CCP_TEAMS_TENANT_H

#include "config/config.h"
#include "router/route.h"

#include <stdbool.h>
#include <stddef.h>

/* The tenant called name in cfg; NULL when none (or name is NULL). */
const ccp_tenant *ccp_tenant_find(const ccp_config *cfg, const char *name);

/* Whether model matches one of the comma-separated globs (a key's
 * models); NULL or empty globs: any. */
bool ccp_key_models_allow(const char *globs, const char *model);

/* Whether tc's model globs allow model (none: any). */
bool ccp_tenant_models_allow(const ccp_tenant *tc, const char *model);

/* After routing: c's route as tc makes it — tc's router in place of
 * router's stages (routes by tag, model, script or rule stand; *own, when
 * not NULL, says whether tc's router gave the route), then cut down to
 * tc's providers into view, which c then points at (view->targets is the
 * caller's to free; NULL when tc names no providers). Returns true, or
 * false when none of the route's providers is left: c's route is then the
 * uncut one and msg holds the 403 permission_error's message. */
bool ccp_tenant_route(const ccp_config *cfg, const ccp_tenant *tc, ccp_route_choice *c,
                      ccp_route *view, bool *own, char *msg, size_t cap);

#endif
