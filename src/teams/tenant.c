/* tenant.c — a tenant's model globs and route (see tenant.h). */
#include "teams/tenant.h"

#include "core/alloc.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ccp_tenant *ccp_tenant_find(const ccp_config *cfg, const char *name)
{
    for (size_t i = 0; name && cfg && i < cfg->n_tenants; i++)
        if (!strcmp(cfg->tenants[i].name, name)) return &cfg->tenants[i];
    return NULL;
}

bool ccp_key_models_allow(const char *globs, const char *model)
{
    if (!globs || !*globs) return true;
    const char *p = globs;
    char one[256];
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            if (fnmatch(one, model ? model : "", 0) == 0) return true;
        }
        p += n;
        if (*p == ',') p++;
    }
    return false;
}

bool ccp_tenant_models_allow(const ccp_tenant *tc, const char *model)
{
    if (!tc->models.n) return true;
    for (size_t i = 0; i < tc->models.n; i++)
        if (!fnmatch(tc->models.v[i], model ? model : "", 0)) return true;
    return false;
}

bool ccp_tenant_route(const ccp_config *cfg, const ccp_tenant *tc, ccp_route_choice *c,
                      ccp_route *view, bool *own, char *msg, size_t cap)
{
    view->targets = NULL;
    view->n = 0;
    if (own) *own = false;
    if (!c->route) return true;
    ccp_route_overlay(cfg, tc->router, c); /* its own stage routes, if any */
    if (own) *own = c->route >= tc->router && c->route < tc->router + CCP_STAGE_COUNT;
    if (!tc->providers.n) return true;
    const ccp_route *r = c->route;
    view->targets = ccp_xcalloc(r->n ? r->n : 1, sizeof *view->targets); /* the caller's */
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < tc->providers.n; j++)
            if (!strcmp(r->targets[i].provider->name, tc->providers.v[j])) {
                view->targets[view->n++] = r->targets[i];
                break;
            }
    if (view->n) {
        c->route = view;
        return true;
    }
    snprintf(msg, cap,
             "tenant '%.60s' may not use provider '%.60s', the one this request is routed to",
             tc->name, r->n ? r->targets[0].provider->name : "?");
    return false;
}
