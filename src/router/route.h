/* route.h — choosing where a request goes.
 *
 * For now one target: router.default. Routing stages, rules and fallbacks
 * (DESIGN.md: router) grow here; callers already go through this one entry. */
#ifndef CCP_ROUTER_ROUTE_H
#define CCP_ROUTER_ROUTE_H

#include "config/config.h"
#include "core/error.h"

#include <json-c/json.h>

/* Picks the target for the canonical request req under cfg. Returns 0 and
 * fills *out (borrowed from cfg), or CCP_ENOTFOUND with err saying how to
 * configure a provider. */
int ccp_route_pick(const ccp_config *cfg, json_object *req, ccp_target *out, ccp_error *err);

#endif
