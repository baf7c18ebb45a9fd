/* config_gen.h — writes a commented config YAML from a plan: providers taken
 * from the catalog (catalog.h), the variable holding each key, a route per
 * stage, and which dialect pipelines to use. What `ccproxy init` writes, in
 * interactive and scripted mode alike (config_gen.c). */
#ifndef CCP_CONFIG_CONFIG_GEN_H
#define CCP_CONFIG_CONFIG_GEN_H

#include "config/catalog.h"
#include "core/buf.h"
#include "core/error.h"

#define CCP_GEN_MAX_PROVIDERS 32

typedef struct ccp_gen_provider {
    const ccp_provider_info *info;
    const char *key_env; /* the variable holding the key; NULL: info->key_env */
    const char *raw_key; /* a literal key, written only when the user asked; else NULL */
    bool pipeline;       /* use the dialect pipeline (when info has one) */
} ccp_gen_provider;

typedef struct ccp_gen_plan {
    ccp_gen_provider providers[CCP_GEN_MAX_PROVIDERS];
    size_t n;
    /* A route per stage ("provider/model", or "provider" for the client's
     * model); NULL: the stage is not written (it follows `default`; for
     * default itself, the first provider with its first model). */
    const char *stages[CCP_CAT_N_STAGES];
} ccp_gen_plan;

/* Checks the plan: at least one provider, no provider twice, every stage
 * route naming a provider of the plan. CCP_EINVAL with a message saying
 * what to change. */
int ccp_gen_validate(const ccp_gen_plan *plan, ccp_error *err);

/* Fills unset stages with the catalog's proposals: for each stage, the
 * first provider of the plan that proposes a model for it; default always
 * gets one (the first provider, with its proposal or the client's model).
 * The strings point into the catalog or into buf slots the plan owns: routes
 * are built in route_buf (CCP_CAT_N_STAGES slots of 256 bytes). */
void ccp_gen_propose(ccp_gen_plan *plan, char route_buf[][256]);

/* Appends the commented YAML of plan to out. The plan must be valid. */
void ccp_gen_yaml(const ccp_gen_plan *plan, ccp_buf *out);

#endif
